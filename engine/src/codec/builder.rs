//! Builds one chunk in memory and serializes it, choosing the smallest encoding.

use roaring::RoaringBitmap;

use super::bitmaps::{encode_bitmap, encode_directory};
use super::chunk_strings::{ChunkStrings, Dictionary};
use super::encoding::Encoding;
use super::error::CodecError;
use super::int::{count_runs, encode_for, encode_rle, for_len, for_parameters, rle_len};
use super::layout::{
    CRC_LEN, FORMAT_VERSION, GROUPED_DICTIONARY_VERSION, HEADER_CHUNK_LEN_OFFSET,
    HEADER_COLUMN_TYPE_OFFSET, HEADER_ENCODING_OFFSET, HEADER_LEN, HEADER_MAGIC_OFFSET,
    HEADER_NULL_COUNT_OFFSET, HEADER_ROWS_OFFSET, HEADER_SECTIONS_OFFSET, HEADER_VERSION_OFFSET,
    MAGIC, MAX_BITMAP_DICTIONARY, SECTION_COUNT, SECTION_DICTIONARY, SECTION_ENTRY_LEN,
    SECTION_NULLS, SECTION_PAYLOAD, SECTION_VALUE_BITMAPS, SECTION_ZONE_MAP,
};
use super::strings::{encode_block, encode_dictionary};
use super::values::ZoneMap;
use super::MAX_CHUNK_ROWS;
use crate::value::{ColumnType, Value};

/// Builds one chunk in memory: push rows, then [`finish`](ChunkBuilder::finish) to serialize.
#[derive(Debug, Clone)]
pub struct ChunkBuilder {
    column_type: ColumnType,
    is_null: Vec<bool>,
    data: Data,
}

/// Row data collected so far; null rows hold a placeholder that `finish` replaces, except in
/// string columns, which collect the strings of non-null rows only.
#[derive(Debug, Clone)]
enum Data {
    Bool(Vec<bool>),
    Int(Vec<i64>),
    Float(Vec<f64>),
    String(ChunkStrings),
    List {
        elements: ChunkStrings,
        lens: Vec<u32>,
    },
}

impl ChunkBuilder {
    /// An empty builder for a chunk of `column_type`.
    #[must_use]
    pub fn new(column_type: ColumnType) -> Self {
        let data = match column_type {
            ColumnType::Bool => Data::Bool(Vec::new()),
            ColumnType::Int64 | ColumnType::Timestamp => Data::Int(Vec::new()),
            ColumnType::Float64 => Data::Float(Vec::new()),
            ColumnType::String => Data::String(ChunkStrings::default()),
            ColumnType::StringList => Data::List {
                elements: ChunkStrings::default(),
                lens: Vec::new(),
            },
        };
        ChunkBuilder {
            column_type,
            is_null: Vec::new(),
            data,
        }
    }

    /// The column type of the chunk being built.
    #[must_use]
    pub fn column_type(&self) -> ColumnType {
        self.column_type
    }

    /// Appends a row; `Value::Null` makes a null row.
    ///
    /// # Errors
    /// [`CodecError::WrongType`] when the value's type is not the column type (nothing is
    /// appended), [`CodecError::TooManyRows`] when the chunk already holds [`MAX_CHUNK_ROWS`] rows.
    pub fn push(&mut self, value: &Value) -> Result<(), CodecError> {
        if self.len() >= MAX_CHUNK_ROWS {
            return Err(CodecError::TooManyRows);
        }
        let null = value.is_null();
        match (&mut self.data, value) {
            (Data::Bool(v), Value::Bool(b)) => v.push(*b),
            (Data::Bool(v), Value::Null) => v.push(false),
            (Data::Int(v), Value::Int64(i)) if self.column_type == ColumnType::Int64 => v.push(*i),
            (Data::Int(v), Value::Timestamp(i)) if self.column_type == ColumnType::Timestamp => {
                v.push(*i)
            }
            (Data::Int(v), Value::Null) => v.push(0),
            (Data::Float(v), Value::Float64(f)) => v.push(*f),
            (Data::Float(v), Value::Null) => v.push(0.0),
            (Data::String(strings), Value::String(s)) => strings.push(s),
            (Data::String(_), Value::Null) => {}
            (Data::List { elements, lens }, Value::StringList(items)) => {
                let len = u32::try_from(items.len()).map_err(|_| CodecError::TooManyRows)?;
                if elements.len().saturating_add(items.len()) > u32::MAX as usize {
                    return Err(CodecError::TooManyRows);
                }
                lens.push(len);
                for item in items {
                    elements.push(item);
                }
            }
            (Data::List { lens, .. }, Value::Null) => lens.push(0),
            (_, other) => {
                return Err(CodecError::WrongType {
                    expected: self.column_type,
                    found: other.column_type().unwrap_or(self.column_type),
                })
            }
        }
        self.is_null.push(null);
        Ok(())
    }

    /// Number of rows pushed.
    #[must_use]
    pub fn len(&self) -> usize {
        self.is_null.len()
    }

    /// Whether no row was pushed.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.is_null.is_empty()
    }

    /// Serializes the chunk: picks the encoding, computes zone map, null bitmap, per-value
    /// bitmaps and the trailing crc32. Deterministic: the same rows give the same bytes.
    #[must_use]
    pub fn finish(self) -> Vec<u8> {
        self.finish_as(FORMAT_VERSION)
    }

    /// Serializes the chunk in format `version` (`FORMAT_VERSION`, or 1 to write the chunks
    /// older builds wrote, so tests can check that they are still read).
    pub(crate) fn finish_as(self, version: u16) -> Vec<u8> {
        let grouped = version >= GROUPED_DICTIONARY_VERSION;
        let rows = self.len();
        let nulls: RoaringBitmap = self
            .is_null
            .iter()
            .enumerate()
            .filter(|(_, &n)| n)
            .filter_map(|(row, _)| u32::try_from(row).ok())
            .collect();
        let parts = match self.data {
            Data::Bool(values) => bool_parts(&values, &self.is_null),
            Data::Int(values) => int_parts(values, &self.is_null),
            Data::Float(values) => float_parts(values, &self.is_null),
            Data::String(strings) => string_parts(&strings, &self.is_null, grouped),
            Data::List { elements, lens } => list_parts(&elements, &lens, grouped),
        };
        assemble(self.column_type, rows, &nulls, parts, version)
    }
}

/// Everything but the header and null bitmap of a chunk.
struct Parts {
    encoding: Encoding,
    zone_map: Option<ZoneMap>,
    dictionary: Option<Vec<u8>>,
    bitmaps: Option<Vec<RoaringBitmap>>,
    payload: Vec<u8>,
}

/// Replaces the placeholder at null rows with the nearest preceding non-null value (the first
/// non-null value for leading nulls), which keeps FOR ranges tight and RLE runs long.
fn fill_nulls<T: Copy>(values: &mut [T], is_null: &[bool], zero: T) {
    let first = values
        .iter()
        .zip(is_null)
        .find(|(_, &null)| !null)
        .map_or(zero, |(v, _)| *v);
    let mut last = first;
    for (v, &null) in values.iter_mut().zip(is_null) {
        if null {
            *v = last;
        } else {
            last = *v;
        }
    }
}

fn bool_parts(values: &[bool], is_null: &[bool]) -> Parts {
    let mut bitmaps = vec![RoaringBitmap::new(), RoaringBitmap::new()];
    for (row, (&v, &null)) in values.iter().zip(is_null).enumerate() {
        if let (false, Some(bitmap), Ok(row)) =
            (null, bitmaps.get_mut(usize::from(v)), u32::try_from(row))
        {
            bitmap.insert(row);
        }
    }
    Parts {
        encoding: Encoding::Bitmap,
        zone_map: None,
        dictionary: None,
        bitmaps: Some(bitmaps),
        payload: Vec::new(),
    }
}

/// Encodes 64-bit values with FOR or RLE, whichever is smaller (FOR on ties: it scans faster).
fn encode_ints(values: &[i64], allow_for: bool) -> (Encoding, Vec<u8>) {
    let (reference, width) = for_parameters(values);
    let runs_len = rle_len(count_runs(values));
    let mut payload = Vec::new();
    if allow_for && for_len(values.len(), width) <= runs_len {
        encode_for(values, reference, width, &mut payload);
        (Encoding::for_with_width(width), payload)
    } else if !allow_for && values.len() * 8 <= runs_len {
        for v in values {
            payload.extend_from_slice(&v.to_le_bytes());
        }
        (Encoding::Plain, payload)
    } else {
        encode_rle(values, &mut payload);
        (Encoding::Rle, payload)
    }
}

fn int_parts(mut values: Vec<i64>, is_null: &[bool]) -> Parts {
    let zone_map = ZoneMap::of_ints(
        values
            .iter()
            .zip(is_null)
            .filter(|(_, &n)| !n)
            .map(|(v, _)| *v),
    );
    fill_nulls(&mut values, is_null, 0);
    let (encoding, payload) = encode_ints(&values, true);
    Parts {
        encoding,
        zone_map,
        dictionary: None,
        bitmaps: None,
        payload,
    }
}

fn float_parts(mut values: Vec<f64>, is_null: &[bool]) -> Parts {
    let zone_map = ZoneMap::of_floats(
        values
            .iter()
            .zip(is_null)
            .filter(|(_, &n)| !n)
            .map(|(v, _)| *v),
    );
    fill_nulls(&mut values, is_null, 0.0);
    // Runs compare bit patterns, so NaN payloads and -0.0 survive exactly.
    let bits: Vec<i64> = values.iter().map(|v| v.to_bits() as i64).collect();
    let (encoding, payload) = encode_ints(&bits, false);
    Parts {
        encoding,
        zone_map,
        dictionary: None,
        bitmaps: None,
        payload,
    }
}

fn string_parts(strings: &ChunkStrings, is_null: &[bool], grouped: bool) -> Parts {
    // Null rows decode to code 0, so "" (the smallest string) joins the dictionary when needed.
    let has_nulls = is_null.iter().any(|&n| n);
    let Dictionary {
        entries: dictionary,
        codes: string_codes,
    } = strings.dictionary(has_nulls.then_some(""));
    let mut string_codes = string_codes.into_iter();
    let mut codes: Vec<i64> = is_null
        .iter()
        .map(|&null| {
            if null {
                0
            } else {
                string_codes.next().map_or(0, i64::from)
            }
        })
        .collect();
    fill_nulls(&mut codes, is_null, 0);
    let bitmaps = (dictionary.len() <= MAX_BITMAP_DICTIONARY).then(|| {
        let mut bitmaps = vec![RoaringBitmap::new(); dictionary.len()];
        for (row, (&code, &null)) in codes.iter().zip(is_null).enumerate() {
            if let (false, Some(bitmap), Ok(row)) =
                (null, bitmaps.get_mut(code as usize), u32::try_from(row))
            {
                bitmap.insert(row);
            }
        }
        bitmaps
    });
    let width = if dictionary.len() <= 256 { 1 } else { 2 };
    let mut payload = Vec::new();
    let encoding = if codes.len() * width <= rle_len(count_runs(&codes)) {
        for &c in &codes {
            let bytes = (c as u64).to_le_bytes();
            payload.extend_from_slice(bytes.get(..width).unwrap_or(&bytes));
        }
        if width == 1 {
            Encoding::DictU8
        } else {
            Encoding::DictU16
        }
    } else {
        encode_rle(&codes, &mut payload);
        Encoding::DictRle
    };
    Parts {
        encoding,
        zone_map: None,
        dictionary: Some(dictionary_bytes(&dictionary, grouped)),
        bitmaps,
        payload,
    }
}

fn list_parts(elements: &ChunkStrings, lens: &[u32], grouped: bool) -> Parts {
    let Dictionary {
        entries: dictionary,
        codes,
    } = elements.dictionary(None);
    let bitmaps = (dictionary.len() <= MAX_BITMAP_DICTIONARY).then(|| {
        let mut bitmaps = vec![RoaringBitmap::new(); dictionary.len()];
        let mut start = 0usize;
        for (row, &len) in lens.iter().enumerate() {
            let end = start + len as usize;
            for &code in codes.get(start..end).unwrap_or(&[]) {
                if let (Some(bitmap), Ok(row)) =
                    (bitmaps.get_mut(code as usize), u32::try_from(row))
                {
                    // A repeated element inserts the same row again, which is a no-op.
                    bitmap.insert(row);
                }
            }
            start = end;
        }
        bitmaps
    });
    let (encoding, width) = match dictionary.len() {
        0..=0x100 => (Encoding::ListU8, 1),
        0x101..=0x1_0000 => (Encoding::ListU16, 2),
        _ => (Encoding::ListU32, 4),
    };
    let mut raw = Vec::with_capacity(lens.len() * 4 + codes.len() * width);
    for &len in lens {
        raw.extend_from_slice(&len.to_le_bytes());
    }
    for &c in &codes {
        let bytes = c.to_le_bytes();
        raw.extend_from_slice(bytes.get(..width).unwrap_or(&bytes));
    }
    let mut payload = Vec::new();
    encode_block(codes.len(), &raw, &mut payload);
    Parts {
        encoding,
        zone_map: None,
        dictionary: Some(dictionary_bytes(&dictionary, grouped)),
        bitmaps,
        payload,
    }
}

fn dictionary_bytes(dictionary: &[&str], grouped: bool) -> Vec<u8> {
    let mut out = Vec::new();
    encode_dictionary(dictionary, grouped, &mut out);
    out
}

fn zone_map_bytes(zone_map: ZoneMap) -> Vec<u8> {
    let (min, max) = match zone_map {
        ZoneMap::Int { min, max } => (min.to_le_bytes(), max.to_le_bytes()),
        ZoneMap::Float { min, max } => (min.to_bits().to_le_bytes(), max.to_bits().to_le_bytes()),
    };
    [min, max].concat()
}

/// Lays out header, sections and crc.
fn assemble(
    column_type: ColumnType,
    rows: usize,
    nulls: &RoaringBitmap,
    parts: Parts,
    version: u16,
) -> Vec<u8> {
    let mut sections: [Vec<u8>; SECTION_COUNT] = Default::default();
    if !nulls.is_empty() {
        encode_bitmap(nulls, &mut sections[SECTION_NULLS]);
    }
    if let Some(zone_map) = parts.zone_map {
        sections[SECTION_ZONE_MAP] = zone_map_bytes(zone_map);
    }
    if let Some(dictionary) = parts.dictionary {
        sections[SECTION_DICTIONARY] = dictionary;
    }
    if let Some(bitmaps) = parts.bitmaps {
        encode_directory(&bitmaps, &mut sections[SECTION_VALUE_BITMAPS]);
    }
    sections[SECTION_PAYLOAD] = parts.payload;

    let body_len: usize = sections.iter().map(Vec::len).sum();
    let chunk_len = HEADER_LEN + body_len + CRC_LEN;
    let mut out = vec![0u8; HEADER_LEN];
    let mut put = |at: usize, bytes: &[u8]| {
        if let Some(slot) = out.get_mut(at..at + bytes.len()) {
            slot.copy_from_slice(bytes);
        }
    };
    let u32_of = |n: usize| u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes();
    put(HEADER_MAGIC_OFFSET, &MAGIC);
    put(HEADER_VERSION_OFFSET, &version.to_le_bytes());
    put(HEADER_COLUMN_TYPE_OFFSET, &[column_type.tag()]);
    put(HEADER_ENCODING_OFFSET, &[parts.encoding.tag()]);
    put(HEADER_ROWS_OFFSET, &u32_of(rows));
    put(HEADER_NULL_COUNT_OFFSET, &u32_of(nulls.len() as usize));
    put(HEADER_CHUNK_LEN_OFFSET, &u32_of(chunk_len));
    let mut offset = HEADER_LEN;
    for (i, section) in sections.iter().enumerate() {
        let entry = HEADER_SECTIONS_OFFSET + i * SECTION_ENTRY_LEN;
        put(entry, &u32_of(offset));
        put(entry + 4, &u32_of(section.len()));
        offset += section.len();
    }
    out.reserve(body_len + CRC_LEN);
    for section in &sections {
        out.extend_from_slice(section);
    }
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}
