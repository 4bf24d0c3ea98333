//! Files written by the engine decode, using only `storage-format.md` (offsets are constants
//! defined here, not imported), to exactly the data that was written and to the engine's own
//! view of them: MANIFEST, segment header/footer/trailer, a chunk of every column type, and
//! the WAL with its batch payloads.

use crate::util::{files_named, s, TempDir};
use profiledb::{Database, Options, SyncMode, TableKind, Value, WriteBatch};
use roaring::RoaringBitmap;
use std::collections::BTreeMap;
use std::path::Path;

// ---- Conventions ---------------------------------------------------------------------------

/// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320, init and final XOR 0xFFFFFFFF).
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

const TAG_NULL: u8 = 0;
const TAG_BOOL: u8 = 1;
const TAG_INT64: u8 = 2;
const TAG_FLOAT64: u8 = 3;
const TAG_TIMESTAMP: u8 = 4;
const TAG_STRING: u8 = 5;
const TAG_STRING_LIST: u8 = 6;
const TABLE_PROFILES: u8 = 1;
const TABLE_EVENTS: u8 = 2;

/// Little-endian cursor over a byte slice; panics (failing the test) on short data.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Cursor { bytes, at: 0 }
    }
    fn take(&mut self, n: usize) -> &'a [u8] {
        let out = &self.bytes[self.at..self.at + n];
        self.at += n;
        out
    }
    fn u8(&mut self) -> u8 {
        self.take(1)[0]
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.take(4).try_into().unwrap())
    }
    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.take(8).try_into().unwrap())
    }
    fn i64(&mut self) -> i64 {
        i64::from_le_bytes(self.take(8).try_into().unwrap())
    }
    fn str(&mut self) -> String {
        let len = self.u32() as usize;
        String::from_utf8(self.take(len).to_vec()).expect("utf-8")
    }
    fn bitmap(&mut self) -> RoaringBitmap {
        let len = self.u32() as usize;
        RoaringBitmap::deserialize_from(self.take(len)).expect("roaring bitmap")
    }
    fn value(&mut self) -> Value {
        match self.u8() {
            TAG_NULL => Value::Null,
            TAG_BOOL => Value::Bool(match self.u8() {
                0 => false,
                1 => true,
                b => panic!("bool byte {b}"),
            }),
            TAG_INT64 => Value::Int64(self.i64()),
            TAG_FLOAT64 => Value::Float64(f64::from_bits(self.u64())),
            TAG_TIMESTAMP => Value::Timestamp(self.i64()),
            TAG_STRING => Value::String(self.str()),
            TAG_STRING_LIST => {
                let n = self.u32();
                Value::StringList((0..n).map(|_| self.str()).collect())
            }
            tag => panic!("value tag {tag}"),
        }
    }
    /// LEB128: seven bits a byte, low bits first, high bit set on all but the last byte.
    fn var_u32(&mut self) -> u32 {
        let mut value = 0;
        for shift in (0..35).step_by(7) {
            let byte = self.u8();
            value |= u32::from(byte & 0x7F) << shift;
            if byte & 0x80 == 0 {
                return value;
            }
        }
        panic!("variable-length integer past 32 bits")
    }
    fn done(&self) -> bool {
        self.at == self.bytes.len()
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}
fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

// ---- The data written ----------------------------------------------------------------------

const ROWS: u32 = 20;
const WORDS: [&str; 4] = ["kiwi-Ω", "apple", "zebra", "mango"];

fn profile_cells(row: u32) -> Vec<(String, Value)> {
    vec![
        ("active".into(), Value::Bool(row.is_multiple_of(3))),
        // Nulls at rows 5 and 6; the rest spans < 256: a `for8` chunk.
        (
            "score".into(),
            if row == 5 || row == 6 {
                Value::Null
            } else {
                Value::Int64(1_000 + i64::from(row * 7 % 200))
            },
        ),
        ("ltv".into(), Value::Float64(f64::from(row) * 1.25 - 3.0)),
        (
            "seen".into(),
            Value::Timestamp(1_700_000_000_000_000 + i64::from(row) * 1_000_000_007),
        ),
        ("fruit".into(), s(WORDS[(row as usize * 3) % 4])),
        (
            "tags".into(),
            Value::StringList(
                (0..row % 3)
                    .map(|j| WORDS[(row + j) as usize % 4].to_owned())
                    .collect(),
            ),
        ),
    ]
}

fn build(dir: &Path) -> Vec<(String, Value)> {
    let options = Options {
        sync_mode: SyncMode::EveryCommit,
        compaction_trigger_segments: 0,
        ..Options::default()
    };
    let db = Database::open(dir, options).unwrap();
    let mut batch = WriteBatch::new();
    for row in 0..ROWS {
        batch.upsert_profile(row, profile_cells(row));
    }
    db.write(&batch).unwrap();
    db.flush().unwrap();
    // Only in the WAL: an upsert, an event, and an erasure.
    let wal_cells = vec![
        ("fruit".to_owned(), s("papaya")),
        ("ltv".to_owned(), Value::Float64(-0.0)),
        ("score".to_owned(), Value::Null),
        (
            "tags".to_owned(),
            Value::StringList(vec!["a".into(), "ü".into()]),
        ),
    ];
    db.upsert_profile(100, wal_cells.clone()).unwrap();
    db.append_event(100, vec![("page".into(), s("/home"))])
        .unwrap();
    db.delete_profile(3).unwrap();
    db.close().unwrap();
    wal_cells
}

// ---- Manifest ------------------------------------------------------------------------------

const MANIFEST_MAGIC: &[u8; 8] = b"PRFDBMAN";
const MANIFEST_VERSION_OFFSET: usize = 8;
const MANIFEST_RESERVED_OFFSET: usize = 10;
const MANIFEST_BODY_LEN_OFFSET: usize = 12;
const MANIFEST_BODY_OFFSET: usize = 16;

#[derive(Debug)]
struct ManifestView {
    flushed_lsn: u64,
    next_segment_id: u64,
    segments: Vec<(u64, u8)>,
    schemas: [Vec<(String, u8)>; 2],
}

fn decode_manifest(bytes: &[u8]) -> ManifestView {
    assert_eq!(&bytes[..8], MANIFEST_MAGIC);
    assert_eq!(
        u16::from_le_bytes(bytes[MANIFEST_VERSION_OFFSET..][..2].try_into().unwrap()),
        2
    );
    assert_eq!(
        &bytes[MANIFEST_RESERVED_OFFSET..MANIFEST_BODY_LEN_OFFSET],
        &[0, 0]
    );
    let body_len = u32_at(bytes, MANIFEST_BODY_LEN_OFFSET) as usize;
    assert_eq!(bytes.len(), MANIFEST_BODY_OFFSET + body_len + 4);
    let crc_at = MANIFEST_BODY_OFFSET + body_len;
    assert_eq!(
        u32_at(bytes, crc_at),
        crc32(&bytes[..crc_at]),
        "manifest crc"
    );
    let mut c = Cursor::new(&bytes[MANIFEST_BODY_OFFSET..crc_at]);
    let flushed_lsn = c.u64();
    let next_segment_id = c.u64();
    let _next_event_row = c.u32();
    let count = c.u32();
    let segments = (0..count).map(|_| (c.u64(), c.u8())).collect();
    let mut schema = || {
        let n = c.u32();
        (0..n).map(|_| (c.str(), c.u8())).collect::<Vec<_>>()
    };
    let schemas = [schema(), schema()];
    let identity_snapshot = c.u64();
    let identity_lsn = c.u64();
    assert!(identity_snapshot <= identity_lsn && identity_lsn <= flushed_lsn);
    assert!(c.done(), "manifest body fully consumed");
    ManifestView {
        flushed_lsn,
        next_segment_id,
        segments,
        schemas,
    }
}

// ---- Segments ------------------------------------------------------------------------------

const SEG_HEADER_MAGIC: &[u8; 8] = b"PRFDBSEG";
const SEG_HEADER_VERSION_OFFSET: usize = 8;
const SEG_HEADER_TABLE_OFFSET: usize = 10;
const SEG_HEADER_RESERVED1: std::ops::Range<usize> = 11..16;
const SEG_HEADER_ID_OFFSET: usize = 16;
const SEG_HEADER_RESERVED2: std::ops::Range<usize> = 24..28;
const SEG_HEADER_CRC_OFFSET: usize = 28;
const SEG_HEADER_LEN: usize = 32;
const TRAILER_LEN: usize = 32;
const TRAILER_FOOTER_OFFSET: usize = 0;
const TRAILER_FOOTER_LEN: usize = 8;
const TRAILER_FOOTER_CRC: usize = 16;
const TRAILER_VERSION: usize = 20;
const TRAILER_RESERVED: usize = 22;
const TRAILER_MAGIC_OFFSET: usize = 24;
const TRAILER_MAGIC: &[u8; 8] = b"PRFDBEND";
const ROWS_PER_CHUNK: u64 = 65_536;

#[derive(Debug)]
struct ColumnView {
    name: String,
    type_tag: u8,
    present: RoaringBitmap,
    chunks: Vec<(u64, u32)>,
}

#[derive(Debug)]
struct SegmentView {
    table: u8,
    id: u64,
    rows: RoaringBitmap,
    deleted: RoaringBitmap,
    max_lsn: u64,
    columns: Vec<ColumnView>,
}

fn decode_segment(name: &str, bytes: &[u8]) -> SegmentView {
    assert_eq!(&bytes[..8], SEG_HEADER_MAGIC);
    assert_eq!(
        u16::from_le_bytes(bytes[SEG_HEADER_VERSION_OFFSET..][..2].try_into().unwrap()),
        1
    );
    let table = bytes[SEG_HEADER_TABLE_OFFSET];
    assert!(bytes[SEG_HEADER_RESERVED1].iter().all(|b| *b == 0));
    assert!(bytes[SEG_HEADER_RESERVED2].iter().all(|b| *b == 0));
    let id = u64_at(bytes, SEG_HEADER_ID_OFFSET);
    assert_eq!(
        name,
        format!("seg-{id:010}.pdb"),
        "segment id matches the file name"
    );
    assert_eq!(
        u32_at(bytes, SEG_HEADER_CRC_OFFSET),
        crc32(&bytes[..SEG_HEADER_CRC_OFFSET])
    );

    let trailer_start = bytes.len() - TRAILER_LEN;
    let trailer = &bytes[trailer_start..];
    assert_eq!(&trailer[TRAILER_MAGIC_OFFSET..], TRAILER_MAGIC);
    assert_eq!(
        u16::from_le_bytes(trailer[TRAILER_VERSION..][..2].try_into().unwrap()),
        1
    );
    assert_eq!(&trailer[TRAILER_RESERVED..TRAILER_MAGIC_OFFSET], &[0, 0]);
    let footer_offset = u64_at(trailer, TRAILER_FOOTER_OFFSET) as usize;
    let footer_len = u64_at(trailer, TRAILER_FOOTER_LEN) as usize;
    assert_eq!(footer_offset + footer_len, trailer_start);
    let footer = &bytes[footer_offset..trailer_start];
    assert_eq!(
        u32_at(trailer, TRAILER_FOOTER_CRC),
        crc32(footer),
        "footer crc"
    );

    let mut c = Cursor::new(footer);
    let rows = c.bitmap();
    let deleted = c.bitmap();
    let max_lsn = c.u64();
    let count = c.u32();
    let mut columns = Vec::new();
    let mut extents = Vec::new();
    for _ in 0..count {
        let name = c.str();
        let type_tag = c.u8();
        let present = c.bitmap();
        let chunk_count = c.u32();
        let chunks: Vec<(u64, u32)> = (0..chunk_count).map(|_| (c.u64(), c.u32())).collect();
        assert!(present.is_subset(&rows), "present ⊆ rows");
        assert_eq!(u64::from(chunk_count), rows.len().div_ceil(ROWS_PER_CHUNK));
        for &(offset, len) in &chunks {
            assert!(
                offset >= SEG_HEADER_LEN as u64 && offset + u64::from(len) <= footer_offset as u64
            );
            extents.push((offset, offset + u64::from(len)));
        }
        columns.push(ColumnView {
            name,
            type_tag,
            present,
            chunks,
        });
    }
    assert!(c.done(), "footer fully consumed");
    extents.sort_unstable();
    assert!(
        extents.windows(2).all(|w| w[0].1 <= w[1].0),
        "chunks do not overlap"
    );
    SegmentView {
        table,
        id,
        rows,
        deleted,
        max_lsn,
        columns,
    }
}

// ---- Chunks --------------------------------------------------------------------------------

const CHUNK_MAGIC: &[u8; 4] = b"PDBC";
const CHUNK_VERSION_OFFSET: usize = 4;
const CHUNK_TYPE_OFFSET: usize = 6;
const CHUNK_ENCODING_OFFSET: usize = 7;
const CHUNK_ROWS_OFFSET: usize = 8;
const CHUNK_NULL_COUNT_OFFSET: usize = 12;
const CHUNK_LEN_OFFSET: usize = 16;
const CHUNK_SECTIONS_OFFSET: usize = 20;
const SECTION_ENTRY_LEN: usize = 8;
const CHUNK_HEADER_LEN: usize = 60;
const SECTION_NULLS: usize = 0;
const SECTION_ZONE_MAP: usize = 1;
const SECTION_DICTIONARY: usize = 2;
const SECTION_VALUE_BITMAPS: usize = 3;
const SECTION_PAYLOAD: usize = 4;
const BLOCK_BODY_OFFSET: usize = 9;
const BLOCK_COMPRESSION_OFFSET: usize = 8;
const COMPRESSION_NONE: u8 = 0;
const COMPRESSION_LZ4_GROUPS: u8 = 2;
const DICTIONARY_GROUP_ENTRIES: usize = 32;

const ENC_BITMAP: u8 = 1;
const ENC_FOR: [(u8, usize); 5] = [(2, 0), (3, 1), (4, 2), (5, 4), (6, 8)];
const ENC_RLE: u8 = 7;
const ENC_PLAIN: u8 = 8;
const ENC_DICT_U8: u8 = 9;
const ENC_DICT_U16: u8 = 10;
const ENC_DICT_RLE: u8 = 11;
const ENC_LIST: [(u8, usize); 3] = [(12, 1), (13, 2), (14, 4)];

struct Chunk<'a> {
    type_tag: u8,
    encoding: u8,
    rows: usize,
    nulls: RoaringBitmap,
    sections: [&'a [u8]; 5],
}

fn decode_chunk(bytes: &[u8]) -> Chunk<'_> {
    assert_eq!(&bytes[..4], CHUNK_MAGIC);
    let version = u16::from_le_bytes(bytes[CHUNK_VERSION_OFFSET..][..2].try_into().unwrap());
    assert!((1..=2).contains(&version), "chunk version {version}");
    let chunk_len = u32_at(bytes, CHUNK_LEN_OFFSET) as usize;
    assert_eq!(
        chunk_len,
        bytes.len(),
        "chunk_len is the chunk ref's length"
    );
    assert_eq!(
        u32_at(bytes, chunk_len - 4),
        crc32(&bytes[..chunk_len - 4]),
        "chunk crc"
    );
    let rows = u32_at(bytes, CHUNK_ROWS_OFFSET) as usize;
    let null_count = u32_at(bytes, CHUNK_NULL_COUNT_OFFSET) as u64;
    let mut sections = [&bytes[0..0]; 5];
    let mut expected_start = CHUNK_HEADER_LEN;
    for (i, section) in sections.iter_mut().enumerate() {
        let entry = CHUNK_SECTIONS_OFFSET + i * SECTION_ENTRY_LEN;
        let (offset, len) = (
            u32_at(bytes, entry) as usize,
            u32_at(bytes, entry + 4) as usize,
        );
        assert_eq!(offset, expected_start, "sections are back to back");
        *section = &bytes[offset..offset + len];
        expected_start = offset + len;
    }
    assert_eq!(
        expected_start,
        chunk_len - 4,
        "the last section ends at the crc"
    );
    let nulls = if sections[SECTION_NULLS].is_empty() {
        RoaringBitmap::new()
    } else {
        RoaringBitmap::deserialize_from(sections[SECTION_NULLS]).unwrap()
    };
    assert_eq!(nulls.len(), null_count);
    Chunk {
        type_tag: bytes[CHUNK_TYPE_OFFSET],
        encoding: bytes[CHUNK_ENCODING_OFFSET],
        rows,
        nulls,
        sections,
    }
}

const COMPRESSION_LZ4: u8 = 1;

/// Decodes one LZ4 block (the LZ4 block format: sequences of token, literals, offset, match).
fn lz4_block_decode(input: &[u8], raw_len: usize) -> Vec<u8> {
    let mut out: Vec<u8> = Vec::with_capacity(raw_len);
    let mut i = 0;
    let length = |i: &mut usize, mut n: usize| {
        if n == 15 {
            loop {
                let b = input[*i];
                *i += 1;
                n += b as usize;
                if b != 255 {
                    break;
                }
            }
        }
        n
    };
    loop {
        let token = input[i];
        i += 1;
        let literals = length(&mut i, (token >> 4) as usize);
        out.extend_from_slice(&input[i..i + literals]);
        i += literals;
        if i == input.len() {
            break;
        }
        let offset = u16::from_le_bytes([input[i], input[i + 1]]) as usize;
        i += 2;
        let match_len = length(&mut i, (token & 15) as usize) + 4;
        let start = out.len() - offset;
        for k in 0..match_len {
            out.push(out[start + k]);
        }
    }
    assert_eq!(out.len(), raw_len);
    out
}

/// `(count, raw body)` of a block.
fn decode_block(block: &[u8]) -> (u32, Vec<u8>) {
    let count = u32_at(block, 0);
    let raw_len = u32_at(block, 4) as usize;
    let body = &block[BLOCK_BODY_OFFSET..];
    match block[8] {
        COMPRESSION_NONE => {
            assert_eq!(body.len(), raw_len);
            (count, body.to_vec())
        }
        COMPRESSION_LZ4 => {
            assert!(body.len() < raw_len, "lz4 only when strictly smaller");
            (count, lz4_block_decode(body, raw_len))
        }
        c => panic!("compression {c}"),
    }
}

/// `(count, raw body)` of a grouped dictionary: each group's `len[n] | text` is split and the
/// parts joined back into the layout of a whole-block dictionary.
fn decode_groups(block: &[u8]) -> (u32, Vec<u8>) {
    let count = u32_at(block, 0);
    let raw_len = u32_at(block, 4) as usize;
    let body = &block[BLOCK_BODY_OFFSET..];
    let groups = u32_at(body, 0) as usize;
    assert_eq!(groups, (count as usize).div_ceil(DICTIONARY_GROUP_ENTRIES));
    let data = &body[4 + 8 * groups..];
    let (mut lengths, mut text) = (Vec::new(), Vec::new());
    let (mut lz4_start, mut raw_start) = (0, 0);
    for g in 0..groups {
        let lz4_end = u32_at(body, 4 + 8 * g) as usize;
        let raw_end = u32_at(body, 8 + 8 * g) as usize;
        let raw = lz4_block_decode(&data[lz4_start..lz4_end], raw_end - raw_start);
        let entries = (count as usize - g * DICTIONARY_GROUP_ENTRIES).min(DICTIONARY_GROUP_ENTRIES);
        lengths.extend_from_slice(&raw[..4 * entries]);
        text.extend_from_slice(&raw[4 * entries..]);
        (lz4_start, raw_start) = (lz4_end, raw_end);
    }
    assert_eq!(lz4_start, data.len());
    assert_eq!(raw_start, raw_len);
    lengths.extend_from_slice(&text);
    (count, lengths)
}

fn decode_dictionary(section: &[u8]) -> Vec<String> {
    let (count, raw) = if section[BLOCK_COMPRESSION_OFFSET] == COMPRESSION_LZ4_GROUPS {
        decode_groups(section)
    } else {
        decode_block(section)
    };
    let mut c = Cursor::new(&raw);
    let lens: Vec<usize> = (0..count).map(|_| c.u32() as usize).collect();
    let entries: Vec<String> = lens
        .iter()
        .map(|&l| String::from_utf8(c.take(l).to_vec()).unwrap())
        .collect();
    assert!(c.done());
    assert!(
        entries
            .windows(2)
            .all(|w| w[0].as_bytes() < w[1].as_bytes()),
        "sorted, unique"
    );
    entries
}

fn decode_bitmap_dir(section: &[u8]) -> Vec<RoaringBitmap> {
    let count = u32_at(section, 0) as usize;
    let data = &section[4 + 4 * count..];
    let mut start = 0;
    (0..count)
        .map(|i| {
            let end = u32_at(section, 4 + 4 * i) as usize;
            let bitmap = RoaringBitmap::deserialize_from(&data[start..end]).unwrap();
            start = end;
            bitmap
        })
        .collect()
}

fn decode_rle(payload: &[u8], rows: usize) -> Vec<u64> {
    let n = u32_at(payload, 0) as usize;
    assert_eq!(payload.len(), 4 + 12 * n);
    let mut out = Vec::new();
    for k in 0..n {
        let value = u64_at(payload, 4 + 8 * k);
        let end = u32_at(payload, 4 + 8 * n + 4 * k) as usize;
        out.extend(std::iter::repeat_n(value, end - out.len()));
    }
    assert_eq!(out.len(), rows);
    out
}

/// Decodes a chunk's values per "Column chunks" (NULL at null rows).
fn chunk_values(chunk: &Chunk<'_>) -> Vec<Value> {
    let payload = chunk.sections[SECTION_PAYLOAD];
    let raw: Vec<Value> = match chunk.type_tag {
        TAG_BOOL => {
            assert_eq!(chunk.encoding, ENC_BITMAP);
            let bitmaps = decode_bitmap_dir(chunk.sections[SECTION_VALUE_BITMAPS]);
            assert_eq!(bitmaps.len(), 2);
            assert_eq!(
                bitmaps[0].len() + bitmaps[1].len() + chunk.nulls.len(),
                chunk.rows as u64
            );
            (0..chunk.rows as u32)
                .map(|r| Value::Bool(bitmaps[1].contains(r)))
                .collect()
        }
        TAG_INT64 | TAG_TIMESTAMP => {
            let ints: Vec<i64> = if chunk.encoding == ENC_RLE {
                decode_rle(payload, chunk.rows)
                    .into_iter()
                    .map(|v| v as i64)
                    .collect()
            } else {
                let width = ENC_FOR
                    .iter()
                    .find(|(e, _)| *e == chunk.encoding)
                    .expect("FOR encoding")
                    .1;
                assert_eq!(payload.len(), 8 + chunk.rows * width);
                let reference = i64::from_le_bytes(payload[..8].try_into().unwrap());
                (0..chunk.rows)
                    .map(|i| {
                        let mut delta = [0u8; 8];
                        delta[..width]
                            .copy_from_slice(&payload[8 + i * width..8 + (i + 1) * width]);
                        reference.wrapping_add(u64::from_le_bytes(delta) as i64)
                    })
                    .collect()
            };
            let zone = chunk.sections[SECTION_ZONE_MAP];
            let live: Vec<i64> = (0..chunk.rows)
                .filter(|r| !chunk.nulls.contains(*r as u32))
                .map(|r| ints[r])
                .collect();
            assert_eq!(
                i64::from_le_bytes(zone[..8].try_into().unwrap()),
                *live.iter().min().unwrap(),
                "zone min"
            );
            assert_eq!(
                i64::from_le_bytes(zone[8..16].try_into().unwrap()),
                *live.iter().max().unwrap(),
                "zone max"
            );
            ints.into_iter()
                .map(|v| {
                    if chunk.type_tag == TAG_INT64 {
                        Value::Int64(v)
                    } else {
                        Value::Timestamp(v)
                    }
                })
                .collect()
        }
        TAG_FLOAT64 => {
            let bits = if chunk.encoding == ENC_RLE {
                decode_rle(payload, chunk.rows)
            } else {
                assert_eq!(chunk.encoding, ENC_PLAIN);
                (0..chunk.rows).map(|i| u64_at(payload, 8 * i)).collect()
            };
            bits.into_iter()
                .map(|b| Value::Float64(f64::from_bits(b)))
                .collect()
        }
        TAG_STRING => {
            let dictionary = decode_dictionary(chunk.sections[SECTION_DICTIONARY]);
            let codes: Vec<usize> = match chunk.encoding {
                ENC_DICT_U8 => payload.iter().map(|&c| c as usize).collect(),
                ENC_DICT_U16 => payload
                    .chunks(2)
                    .map(|c| u16::from_le_bytes([c[0], c[1]]) as usize)
                    .collect(),
                ENC_DICT_RLE => decode_rle(payload, chunk.rows)
                    .into_iter()
                    .map(|c| c as usize)
                    .collect(),
                e => panic!("string encoding {e}"),
            };
            if dictionary.len() <= 256 {
                let bitmaps = decode_bitmap_dir(chunk.sections[SECTION_VALUE_BITMAPS]);
                assert_eq!(bitmaps.len(), dictionary.len());
                for (code, bitmap) in bitmaps.iter().enumerate() {
                    for row in bitmap {
                        assert_eq!(codes[row as usize], code, "value bitmap agrees with codes");
                    }
                }
            }
            codes
                .into_iter()
                .map(|c| Value::String(dictionary[c].clone()))
                .collect()
        }
        TAG_STRING_LIST => {
            let dictionary = decode_dictionary(chunk.sections[SECTION_DICTIONARY]);
            let width = ENC_LIST
                .iter()
                .find(|(e, _)| *e == chunk.encoding)
                .expect("list encoding")
                .1;
            let (count, raw) = decode_block(payload);
            assert_eq!(raw.len(), 4 * chunk.rows + width * count as usize);
            let mut c = Cursor::new(&raw);
            let lens: Vec<usize> = (0..chunk.rows).map(|_| c.u32() as usize).collect();
            lens.into_iter()
                .map(|n| {
                    Value::StringList(
                        (0..n)
                            .map(|_| {
                                let mut code = [0u8; 4];
                                code[..width].copy_from_slice(c.take(width));
                                dictionary[u32::from_le_bytes(code) as usize].clone()
                            })
                            .collect(),
                    )
                })
                .collect()
        }
        t => panic!("column type {t}"),
    };
    assert_eq!(raw.len(), chunk.rows);
    raw.into_iter()
        .enumerate()
        .map(|(r, v)| {
            if chunk.nulls.contains(r as u32) {
                Value::Null
            } else {
                v
            }
        })
        .collect()
}

// ---- WAL -----------------------------------------------------------------------------------

const WAL_MAGIC: &[u8; 8] = b"PRFDBWAL";
const WAL_VERSION_OFFSET: usize = 8;
const WAL_FIRST_LSN_OFFSET: usize = 10;
const WAL_HEADER_CRC_OFFSET: usize = 18;
const WAL_HEADER_LEN: usize = 22;
const REC_LEN_OFFSET: usize = 0;
const REC_LSN_OFFSET: usize = 4;
const REC_HEADER_CRC_OFFSET: usize = 12;
const REC_CRC_OFFSET: usize = 16;
const REC_HEADER_LEN: usize = 20;

/// `(lsn, payload)` of every record of a WAL file.
fn decode_wal(name: &str, bytes: &[u8]) -> Vec<(u64, Vec<u8>)> {
    assert_eq!(&bytes[..8], WAL_MAGIC);
    assert_eq!(
        u16::from_le_bytes(bytes[WAL_VERSION_OFFSET..][..2].try_into().unwrap()),
        1
    );
    let first = u64_at(bytes, WAL_FIRST_LSN_OFFSET);
    assert_eq!(name, format!("wal-{first:020}.log"));
    assert_eq!(
        u32_at(bytes, WAL_HEADER_CRC_OFFSET),
        crc32(&bytes[..WAL_HEADER_CRC_OFFSET])
    );
    let mut records = Vec::new();
    let mut at = WAL_HEADER_LEN;
    while at < bytes.len() {
        let record = &bytes[at..];
        let len = u32_at(record, REC_LEN_OFFSET) as usize;
        let lsn = u64_at(record, REC_LSN_OFFSET);
        assert_eq!(lsn, first + records.len() as u64, "LSNs are consecutive");
        assert_eq!(
            u32_at(record, REC_HEADER_CRC_OFFSET),
            crc32(&record[..12]),
            "record header crc"
        );
        let payload = &record[REC_HEADER_LEN..REC_HEADER_LEN + len];
        let mut covered = record[..12].to_vec();
        covered.extend_from_slice(payload);
        assert_eq!(
            u32_at(record, REC_CRC_OFFSET),
            crc32(&covered),
            "record crc"
        );
        records.push((lsn, payload.to_vec()));
        at += REC_HEADER_LEN + len;
    }
    assert_eq!(at, bytes.len());
    records
}

#[derive(Debug, PartialEq)]
enum MutationView {
    Upsert(u8, u32, Vec<(String, Value)>),
    Delete(u8, u32),
}

fn decode_batch(payload: &[u8]) -> Vec<MutationView> {
    let mut c = Cursor::new(payload);
    assert_eq!(c.u8(), 2, "batch version");
    let names_at = c.u32() as usize;
    let mut table = Cursor::new(payload);
    table.at = names_at;
    let names: Vec<String> = (0..table.u32()).map(|_| table.str()).collect();
    assert!(table.done(), "the name table ends the batch");
    let mut c = Cursor::new(&payload[..names_at]);
    c.at = 5;
    let count = c.u32();
    let out = (0..count)
        .map(|_| {
            let kind = c.u8();
            let table = c.u8();
            let row = c.u32();
            match kind {
                1 => {
                    let n = c.u32();
                    let cells = (0..n)
                        .map(|_| (names[c.var_u32() as usize].clone(), c.value()))
                        .collect();
                    MutationView::Upsert(table, row, cells)
                }
                2 => MutationView::Delete(table, row),
                k => panic!("mutation kind {k}"),
            }
        })
        .collect();
    assert!(c.done(), "the mutations end where the name table starts");
    out
}

// ---- The test ------------------------------------------------------------------------------

#[test]
fn engine_files_decode_per_the_spec() {
    let dir = TempDir::new("spec-decode");
    let wal_cells = build(dir.path());

    // MANIFEST.
    let manifest = decode_manifest(&std::fs::read(dir.path().join("MANIFEST")).unwrap());
    let seg_files = files_named(dir.path(), "seg-", ".pdb");
    assert_eq!(manifest.segments.len(), 1, "{manifest:?}");
    assert_eq!(seg_files.len(), 1);
    assert_eq!(manifest.segments[0].1, TABLE_PROFILES);
    assert!(manifest.next_segment_id > manifest.segments[0].0);
    assert_eq!(manifest.flushed_lsn, 1, "the one batch before the flush");
    let profile_schema: BTreeMap<String, u8> = manifest.schemas[0].iter().cloned().collect();
    let expected_schema: BTreeMap<String, u8> = [
        ("active", TAG_BOOL),
        ("score", TAG_INT64),
        ("ltv", TAG_FLOAT64),
        ("seen", TAG_TIMESTAMP),
        ("fruit", TAG_STRING),
        ("tags", TAG_STRING_LIST),
    ]
    .into_iter()
    .map(|(n, t)| (n.to_owned(), t))
    .collect();
    assert_eq!(profile_schema, expected_schema);

    // Segment.
    let seg_name = seg_files[0]
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let seg_bytes = std::fs::read(&seg_files[0]).unwrap();
    let segment = decode_segment(&seg_name, &seg_bytes);
    assert_eq!(segment.id, manifest.segments[0].0);
    assert_eq!(segment.table, TABLE_PROFILES);
    assert_eq!(segment.rows, (0..ROWS).collect::<RoaringBitmap>());
    assert!(segment.deleted.is_empty());
    assert_eq!(segment.max_lsn, 1);
    assert_eq!(segment.columns.len(), 6);
    let mut types_seen = Vec::new();
    for column in &segment.columns {
        assert_eq!(Some(&column.type_tag), expected_schema.get(&column.name));
        assert_eq!(column.present, segment.rows, "every row set every column");
        let (offset, len) = column.chunks[0];
        let chunk = decode_chunk(&seg_bytes[offset as usize..(offset + u64::from(len)) as usize]);
        assert_eq!(chunk.type_tag, column.type_tag);
        assert_eq!(chunk.rows, ROWS as usize);
        if column.name == "score" {
            assert_eq!(chunk.encoding, 3, "values spanning < 256 are `for8`");
            assert_eq!(
                chunk.nulls,
                [5u32, 6].into_iter().collect::<RoaringBitmap>()
            );
        }
        if column.name == "fruit" {
            assert_eq!(
                decode_dictionary(chunk.sections[SECTION_DICTIONARY]),
                vec!["apple", "kiwi-Ω", "mango", "zebra"]
            );
        }
        let values = chunk_values(&chunk);
        for row in 0..ROWS {
            let written = profile_cells(row)
                .into_iter()
                .find(|(n, _)| *n == column.name)
                .unwrap()
                .1;
            assert!(
                crate::util::same_value(&values[row as usize], &written),
                "{} row {row}: decoded {:?}, written {written:?}",
                column.name,
                values[row as usize]
            );
        }
        types_seen.push(column.type_tag);
    }
    types_seen.sort_unstable();
    assert_eq!(
        types_seen,
        vec![1, 2, 3, 4, 5, 6],
        "a chunk of every column type was decoded"
    );

    // WAL: the records after the flush.
    let wal_files = files_named(&dir.path().join("wal"), "wal-", ".log");
    let mut records = Vec::new();
    for file in &wal_files {
        let name = file.file_name().unwrap().to_str().unwrap();
        records.extend(decode_wal(name, &std::fs::read(file).unwrap()));
    }
    let lsns: Vec<u64> = records.iter().map(|r| r.0).collect();
    assert_eq!(
        lsns,
        vec![2, 3, 4],
        "records after flushed_lsn, consecutive across files"
    );
    let batches: Vec<Vec<MutationView>> = records.iter().map(|(_, p)| decode_batch(p)).collect();
    assert_eq!(
        batches[0],
        vec![MutationView::Upsert(TABLE_PROFILES, 100, wal_cells)]
    );
    assert_eq!(
        batches[1],
        vec![MutationView::Upsert(
            TABLE_EVENTS,
            0,
            vec![
                ("profile_id".into(), Value::Int64(100)),
                ("page".into(), s("/home"))
            ]
        )]
    );
    assert_eq!(
        batches[2],
        vec![MutationView::Delete(TABLE_PROFILES, 3)],
        "profile 3 had no events"
    );

    // The engine's view of the same files agrees.
    let db = Database::open(dir.path(), Options::default()).unwrap();
    let snap = db.snapshot();
    let engine_segment = &snap.segments()[0];
    assert_eq!(engine_segment.id(), segment.id);
    assert_eq!(engine_segment.rows(), &segment.rows);
    assert_eq!(engine_segment.max_lsn(), segment.max_lsn);
    for column in &segment.columns {
        let engine_column = engine_segment.column(&column.name).unwrap();
        assert_eq!(engine_column.column_type.tag(), column.type_tag);
        assert_eq!(engine_column.present, column.present);
        let chunks: Vec<(u64, u32)> = engine_column
            .chunks
            .iter()
            .map(|c| (c.offset, c.len))
            .collect();
        assert_eq!(chunks, column.chunks);
    }
    let engine_schema: BTreeMap<String, u8> = snap
        .schema(TableKind::Profiles)
        .columns()
        .iter()
        .map(|c| (c.name.clone(), c.column_type.tag()))
        .collect();
    assert_eq!(engine_schema, profile_schema);
    assert_eq!(
        snap.get(TableKind::Profiles, 100, "fruit").unwrap(),
        s("papaya")
    );
    assert_eq!(snap.row(TableKind::Profiles, 3).unwrap(), None);
    drop(snap);
    db.close().unwrap();
}

/// A near-unique string column gets a grouped dictionary (chunk format 2), which the spec alone
/// decodes back to the written values.
#[test]
fn grouped_dictionary_decodes_per_the_spec() {
    let dir = TempDir::new("spec-decode-groups");
    let options = Options {
        compaction_trigger_segments: 0,
        ..Options::default()
    };
    let db = Database::open(dir.path(), options).unwrap();
    let note = |row: u32| format!("message-{:012}", u64::from(row) * 7_919 % 1_000_003);
    let mut batch = WriteBatch::new();
    for row in 0..3_000 {
        batch.upsert_profile(row, vec![("note".to_owned(), s(&note(row)))]);
    }
    db.write(&batch).unwrap();
    db.flush().unwrap();
    db.close().unwrap();
    let seg_files = files_named(dir.path(), "seg-", ".pdb");
    let seg_bytes = std::fs::read(&seg_files[0]).unwrap();
    let name = seg_files[0]
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let segment = decode_segment(&name, &seg_bytes);
    let column = segment.columns.iter().find(|c| c.name == "note").unwrap();
    let (offset, len) = column.chunks[0];
    let chunk = decode_chunk(&seg_bytes[offset as usize..(offset + u64::from(len)) as usize]);
    assert_eq!(
        chunk.sections[SECTION_DICTIONARY][BLOCK_COMPRESSION_OFFSET],
        COMPRESSION_LZ4_GROUPS
    );
    let values = chunk_values(&chunk);
    for row in 0..3_000 {
        assert_eq!(values[row as usize], s(&note(row)));
    }
}
