//! Zero-copy reading of one encoded chunk.
//!
//! `open` checks everything that is cheap and global (magic, version, crc32, header fields,
//! section table, null bitmap); each accessor then validates the structure of the part it
//! reads, so corrupt bytes surface as [`CodecError::Corrupt`] and never as a panic or as
//! silently wrong values.

use roaring::RoaringBitmap;

use super::bitmaps::{decode_bitmap, directory_count, directory_entry};
use super::encoding::Encoding;
use super::error::{corrupt, CodecError};
use super::int::{for_view, rle_view};
use super::kernels::{self, CompareOp};
use super::layout::{
    BLOCK_BODY_OFFSET, BLOCK_COMPRESSION_OFFSET, CRC_LEN, FORMAT_VERSION,
    GROUPED_DICTIONARY_VERSION, HEADER_CHUNK_LEN_OFFSET, HEADER_COLUMN_TYPE_OFFSET,
    HEADER_ENCODING_OFFSET, HEADER_LEN, HEADER_MAGIC_OFFSET, HEADER_NULL_COUNT_OFFSET,
    HEADER_ROWS_OFFSET, HEADER_SECTIONS_OFFSET, HEADER_VERSION_OFFSET, MAGIC,
    MAX_BITMAP_DICTIONARY, OLDEST_SUPPORTED_VERSION, SECTION_COUNT, SECTION_DICTIONARY,
    SECTION_ENTRY_LEN, SECTION_NULLS, SECTION_PAYLOAD, SECTION_VALUE_BITMAPS, SECTION_ZONE_MAP,
    ZONE_MAP_LEN, ZONE_MAX_OFFSET, ZONE_MIN_OFFSET,
};
use super::point::PointReader;
use super::strings::{block_count, decode_block, decode_dictionary, is_grouped};
use super::values::{ChunkValues, ZoneMap};
use super::wire::Section;
use super::MAX_CHUNK_ROWS;
use crate::value::ColumnType;

/// Zero-copy view of one encoded chunk.
#[derive(Debug, Clone)]
pub struct ChunkReader<'a> {
    bytes: &'a [u8],
    column_type: ColumnType,
    encoding: Encoding,
    rows: usize,
    nulls: RoaringBitmap,
    /// `(offset, length)` of every section, validated against the chunk bounds.
    sections: [(usize, usize); SECTION_COUNT],
}

impl<'a> ChunkReader<'a> {
    /// Opens `bytes`, which must be exactly one chunk: checks magic, version, length, crc32,
    /// header fields, section table and null bitmap.
    ///
    /// # Errors
    /// [`CodecError::UnsupportedVersion`] for an unknown format version, otherwise
    /// [`CodecError::Corrupt`] for anything malformed.
    pub fn open(bytes: &'a [u8]) -> Result<Self, CodecError> {
        Self::open_checked(bytes, true)
    }

    /// Like [`ChunkReader::open`], but trusts the crc32: for bytes whose checksum was already
    /// verified and that cannot have changed since (immutable, memory-mapped segment files
    /// verify each chunk once, on first use). Every structural check still runs.
    ///
    /// # Errors
    /// As [`ChunkReader::open`], except that a crc mismatch is not looked for.
    pub fn open_verified(bytes: &'a [u8]) -> Result<Self, CodecError> {
        Self::open_checked(bytes, false)
    }

    fn open_checked(bytes: &'a [u8], check_crc: bool) -> Result<Self, CodecError> {
        let chunk = Section::new(bytes, 0);
        if chunk.array::<4>(HEADER_MAGIC_OFFSET, "magic")? != MAGIC {
            return Err(corrupt(HEADER_MAGIC_OFFSET, "bad magic: not a chunk"));
        }
        let version = chunk.u16(HEADER_VERSION_OFFSET, "format version")?;
        if !(OLDEST_SUPPORTED_VERSION..=FORMAT_VERSION).contains(&version) {
            return Err(CodecError::UnsupportedVersion { found: version });
        }
        let chunk_len = chunk.len32(HEADER_CHUNK_LEN_OFFSET, "chunk length")?;
        if chunk_len != bytes.len() || chunk_len < HEADER_LEN + CRC_LEN {
            return Err(corrupt(
                HEADER_CHUNK_LEN_OFFSET,
                format!(
                    "header says {chunk_len} bytes, chunk is {} bytes",
                    bytes.len()
                ),
            ));
        }
        let crc_at = chunk_len - CRC_LEN;
        let stored_crc = chunk.u32(crc_at, "crc32")?;
        let covered = chunk.slice(0, crc_at, "crc32 coverage")?;
        if check_crc && crc32fast::hash(covered.bytes) != stored_crc {
            return Err(corrupt(crc_at, "crc32 mismatch"));
        }
        let type_tag = chunk.u8(HEADER_COLUMN_TYPE_OFFSET, "column type")?;
        let column_type = ColumnType::from_tag(type_tag).ok_or_else(|| {
            corrupt(
                HEADER_COLUMN_TYPE_OFFSET,
                format!("unknown column type tag {type_tag}"),
            )
        })?;
        let encoding_tag = chunk.u8(HEADER_ENCODING_OFFSET, "encoding")?;
        let encoding = Encoding::from_tag(encoding_tag)
            .filter(|e| e.fits(column_type))
            .ok_or_else(|| {
                corrupt(
                    HEADER_ENCODING_OFFSET,
                    format!("encoding tag {encoding_tag} is invalid for {column_type}"),
                )
            })?;
        let rows = chunk.len32(HEADER_ROWS_OFFSET, "rows")?;
        if rows > MAX_CHUNK_ROWS {
            return Err(corrupt(
                HEADER_ROWS_OFFSET,
                format!("{rows} rows exceed {MAX_CHUNK_ROWS}"),
            ));
        }
        let null_count = chunk.len32(HEADER_NULL_COUNT_OFFSET, "null count")?;
        if null_count > rows {
            return Err(corrupt(
                HEADER_NULL_COUNT_OFFSET,
                format!("{null_count} nulls in {rows} rows"),
            ));
        }
        let sections = read_section_table(chunk, crc_at)?;
        let mut reader = ChunkReader {
            bytes,
            column_type,
            encoding,
            rows,
            nulls: RoaringBitmap::new(),
            sections,
        };
        reader.nulls = reader.read_nulls(null_count)?;
        reader.check_section_presence(null_count)?;
        let dictionary = reader.section(SECTION_DICTIONARY);
        if version < GROUPED_DICTIONARY_VERSION && dictionary.len() != 0 && is_grouped(dictionary)?
        {
            return Err(dictionary.error(
                BLOCK_COMPRESSION_OFFSET,
                format!("grouped dictionary in a format {version} chunk"),
            ));
        }
        Ok(reader)
    }

    fn section(&self, index: usize) -> Section<'a> {
        let (offset, len) = self.sections.get(index).copied().unwrap_or((0, 0));
        // The table was bounds-checked in `open`; the fallback keeps this total anyway.
        Section::new(self.bytes.get(offset..offset + len).unwrap_or(&[]), offset)
    }

    fn read_nulls(&self, null_count: usize) -> Result<RoaringBitmap, CodecError> {
        let section = self.section(SECTION_NULLS);
        if section.len() == 0 {
            return if null_count == 0 {
                Ok(RoaringBitmap::new())
            } else {
                Err(corrupt(
                    HEADER_NULL_COUNT_OFFSET,
                    format!("{null_count} nulls but no null bitmap"),
                ))
            };
        }
        let nulls = decode_bitmap(section, self.rows)?;
        if nulls.len() != null_count as u64 || null_count == 0 {
            return Err(section.error(
                0,
                format!(
                    "null bitmap holds {} rows, header says {null_count}",
                    nulls.len()
                ),
            ));
        }
        Ok(nulls)
    }

    /// Checks that exactly the sections this column type and content need are present.
    fn check_section_presence(&self, null_count: usize) -> Result<(), CodecError> {
        let numeric = matches!(
            self.column_type,
            ColumnType::Int64 | ColumnType::Float64 | ColumnType::Timestamp
        );
        let stringy = matches!(
            self.column_type,
            ColumnType::String | ColumnType::StringList
        );
        let zone = self.section(SECTION_ZONE_MAP);
        let zone_len = if numeric && null_count < self.rows {
            ZONE_MAP_LEN
        } else {
            0
        };
        if zone.len() != zone_len {
            return Err(zone.error(
                0,
                format!("zone map is {} bytes, expected {zone_len}", zone.len()),
            ));
        }
        if let Some(ZoneMap::Int { min, max }) = self.zone_map() {
            if min > max {
                return Err(zone.error(0, format!("zone map min {min} > max {max}")));
            }
        }
        let dictionary = self.section(SECTION_DICTIONARY);
        if stringy == (dictionary.len() == 0) {
            return Err(dictionary.error(
                0,
                format!(
                    "dictionary section of {} bytes for {}",
                    dictionary.len(),
                    self.column_type
                ),
            ));
        }
        let expected_bitmaps = match self.column_type {
            ColumnType::Bool => Some(2),
            _ if stringy => Some(block_count(dictionary)?).filter(|&n| n <= MAX_BITMAP_DICTIONARY),
            _ => None,
        };
        let payload = self.section(SECTION_PAYLOAD);
        if self.encoding == Encoding::Bitmap && payload.len() != 0 {
            return Err(payload.error(0, "bool chunks have an empty payload"));
        }
        let bitmaps = self.section(SECTION_VALUE_BITMAPS);
        match expected_bitmaps {
            None if bitmaps.len() == 0 => Ok(()),
            Some(n) if bitmaps.len() != 0 && directory_count(bitmaps)? == n => Ok(()),
            _ => Err(bitmaps.error(
                0,
                format!("value bitmap directory does not fit {expected_bitmaps:?} bitmaps"),
            )),
        }
    }

    /// The column type stored in the header.
    #[must_use]
    pub fn column_type(&self) -> ColumnType {
        self.column_type
    }

    /// Number of rows, null rows included.
    #[must_use]
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The payload encoding.
    #[must_use]
    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// Size of the whole chunk in bytes.
    #[must_use]
    pub fn encoded_len(&self) -> usize {
        self.bytes.len()
    }

    /// Chunk-local positions of the null rows.
    ///
    /// # Errors
    /// Never in this version (the null bitmap is validated by `open`); kept fallible so a later
    /// version can read it lazily.
    pub fn null_rows(&self) -> Result<RoaringBitmap, CodecError> {
        Ok(self.nulls.clone())
    }

    /// Number of null rows.
    #[must_use]
    pub fn null_count(&self) -> usize {
        self.nulls.len() as usize
    }

    /// Min/max over non-null values; `None` when every row is null or the type is not numeric.
    #[must_use]
    pub fn zone_map(&self) -> Option<ZoneMap> {
        let zone = self.section(SECTION_ZONE_MAP);
        let min = zone.u64(ZONE_MIN_OFFSET, "zone min").ok()?;
        let max = zone.u64(ZONE_MAX_OFFSET, "zone max").ok()?;
        match self.column_type {
            ColumnType::Int64 | ColumnType::Timestamp => Some(ZoneMap::Int {
                min: min as i64,
                max: max as i64,
            }),
            ColumnType::Float64 => Some(ZoneMap::Float {
                min: f64::from_bits(min),
                max: f64::from_bits(max),
            }),
            _ => None,
        }
    }

    /// The sorted, unique dictionary of a String/StringList chunk; empty for other types.
    ///
    /// # Errors
    /// [`CodecError::Corrupt`] when the dictionary is malformed.
    pub fn dictionary(&self) -> Result<Vec<String>, CodecError> {
        let section = self.section(SECTION_DICTIONARY);
        if section.len() == 0 {
            return Ok(Vec::new());
        }
        let dictionary = decode_dictionary(section)?;
        if self.column_type == ColumnType::String
            && !self.nulls.is_empty()
            && dictionary.first().is_none_or(|s| !s.is_empty())
        {
            return Err(section.error(0, "chunk has nulls but \"\" is not dictionary code 0"));
        }
        Ok(dictionary)
    }

    /// Whether the chunk stores per-value bitmaps.
    #[must_use]
    pub fn has_value_bitmaps(&self) -> bool {
        self.section(SECTION_VALUE_BITMAPS).len() != 0
    }

    /// Rows whose value is (String, Bool) or contains (StringList) dictionary entry `code`;
    /// Bool uses code 0 for false and 1 for true. `None` when the chunk has no per-value
    /// bitmaps; an empty bitmap for a code past the end of the dictionary.
    ///
    /// # Errors
    /// [`CodecError::Corrupt`] when the bitmap is malformed or overlaps the null rows.
    pub fn value_bitmap(&self, code: u32) -> Result<Option<RoaringBitmap>, CodecError> {
        let section = self.section(SECTION_VALUE_BITMAPS);
        if section.len() == 0 {
            return Ok(None);
        }
        let Some(bitmap) = directory_entry(section, code as usize, self.rows)? else {
            return Ok(Some(RoaringBitmap::new()));
        };
        if !bitmap.is_disjoint(&self.nulls) {
            return Err(section.error(0, format!("value bitmap {code} contains null rows")));
        }
        Ok(Some(bitmap))
    }

    /// What reads of single positions need, built once per chunk and kept by the caller so
    /// later reads skip the checksum and decode nothing but the value (see [`PointReader`]).
    ///
    /// # Errors
    /// [`CodecError::Corrupt`] when the payload, dictionary or bitmaps are malformed.
    pub fn point_reader(&self) -> Result<PointReader, CodecError> {
        let trues = match self.encoding {
            Encoding::Bitmap => self.value_bitmap(1)?,
            _ => None,
        };
        PointReader::new(
            self.column_type,
            self.encoding,
            self.rows,
            self.nulls.clone(),
            self.section(SECTION_PAYLOAD),
            self.section(SECTION_DICTIONARY),
            trues,
        )
    }

    /// Decodes every row; null rows hold the placeholder described on [`ChunkValues`].
    ///
    /// # Errors
    /// [`CodecError::Corrupt`] when the payload, dictionary or bitmaps are malformed.
    pub fn decode(&self) -> Result<ChunkValues, CodecError> {
        Ok(match self.column_type {
            ColumnType::Bool => ChunkValues::Bool(self.decode_bools()?),
            ColumnType::Int64 => ChunkValues::Int64(self.decode_ints()?),
            ColumnType::Timestamp => ChunkValues::Timestamp(self.decode_ints()?),
            ColumnType::Float64 => ChunkValues::Float64(self.decode_floats()?),
            ColumnType::String => self.decode_strings()?,
            ColumnType::StringList => self.decode_lists()?,
        })
    }

    fn decode_bools(&self) -> Result<Vec<bool>, CodecError> {
        let section = self.section(SECTION_VALUE_BITMAPS);
        let falses = self.value_bitmap(0)?.unwrap_or_default();
        let trues = self.value_bitmap(1)?.unwrap_or_default();
        let total = falses.len() + trues.len() + self.nulls.len();
        if !falses.is_disjoint(&trues) || total != self.rows as u64 {
            return Err(section.error(0, "false, true and null rows do not partition the chunk"));
        }
        let mut values = vec![false; self.rows];
        for row in &trues {
            if let Some(v) = values.get_mut(row as usize) {
                *v = true;
            }
        }
        Ok(values)
    }

    /// The stored 64-bit values (ints, or float bits), with whatever the encoder put at null rows.
    fn decode_raw_64(&self) -> Result<Vec<i64>, CodecError> {
        let payload = self.section(SECTION_PAYLOAD);
        match self.encoding {
            Encoding::Rle => Ok(rle_view(payload, self.rows)?.decode(self.rows)),
            Encoding::Plain => {
                if payload.len() != self.rows * 8 {
                    return Err(payload.error(
                        0,
                        format!(
                            "plain payload is {} bytes for {} rows",
                            payload.len(),
                            self.rows
                        ),
                    ));
                }
                Ok(payload
                    .bytes
                    .chunks_exact(8)
                    .map(|c| c.try_into().map_or(0, i64::from_le_bytes))
                    .collect())
            }
            e => {
                let width = e
                    .for_width()
                    .ok_or_else(|| payload.error(0, format!("encoding {e} is not numeric")))?;
                Ok(for_view(payload, self.rows, width)?.decode(self.rows))
            }
        }
    }

    fn decode_ints(&self) -> Result<Vec<i64>, CodecError> {
        let mut values = self.decode_raw_64()?;
        self.zero_nulls(&mut values, 0);
        Ok(values)
    }

    fn decode_floats(&self) -> Result<Vec<f64>, CodecError> {
        let mut values: Vec<f64> = self
            .decode_raw_64()?
            .into_iter()
            .map(|b| f64::from_bits(b as u64))
            .collect();
        self.zero_nulls(&mut values, 0.0);
        Ok(values)
    }

    fn zero_nulls<T: Copy>(&self, values: &mut [T], zero: T) {
        for row in &self.nulls {
            if let Some(v) = values.get_mut(row as usize) {
                *v = zero;
            }
        }
    }

    fn decode_strings(&self) -> Result<ChunkValues, CodecError> {
        let dictionary = self.dictionary()?;
        let payload = self.section(SECTION_PAYLOAD);
        let mut codes: Vec<u32> = match self.encoding {
            Encoding::DictU8 if payload.len() == self.rows => {
                payload.bytes.iter().map(|&c| u32::from(c)).collect()
            }
            Encoding::DictU16 if payload.len() == self.rows * 2 => payload
                .bytes
                .chunks_exact(2)
                .map(|c| u32::from(c.try_into().map_or(0, u16::from_le_bytes)))
                .collect(),
            Encoding::DictRle => rle_view(payload, self.rows)?
                .decode(self.rows)
                .into_iter()
                .map(|c| u32::try_from(c).unwrap_or(u32::MAX))
                .collect(),
            e => {
                return Err(payload.error(
                    0,
                    format!(
                        "{e} payload of {} bytes for {} rows",
                        payload.len(),
                        self.rows
                    ),
                ))
            }
        };
        self.zero_nulls(&mut codes, 0);
        if let Some(row) = codes.iter().position(|&c| c as usize >= dictionary.len()) {
            return Err(payload.error(
                0,
                format!(
                    "row {row} has a code beyond {} dictionary entries",
                    dictionary.len()
                ),
            ));
        }
        Ok(ChunkValues::String { dictionary, codes })
    }

    fn decode_lists(&self) -> Result<ChunkValues, CodecError> {
        let dictionary = self.dictionary()?;
        let payload = self.section(SECTION_PAYLOAD);
        let width = match self.encoding {
            Encoding::ListU8 => 1,
            Encoding::ListU16 => 2,
            _ => 4,
        };
        let block = decode_block(payload)?;
        let raw = Section::new(&block.raw, payload.base + BLOCK_BODY_OFFSET);
        let expected = block
            .count
            .checked_mul(width)
            .and_then(|n| n.checked_add(self.rows * 4));
        if expected != Some(raw.len()) {
            return Err(payload.error(
                0,
                format!(
                    "list block of {} bytes for {} elements",
                    raw.len(),
                    block.count
                ),
            ));
        }
        let lens = raw.slice(0, self.rows * 4, "list lengths")?;
        let mut offsets = Vec::with_capacity(self.rows + 1);
        let mut total = 0usize;
        offsets.push(0u32);
        for (row, c) in lens.bytes.chunks_exact(4).enumerate() {
            let len = c.try_into().map_or(0, u32::from_le_bytes) as usize;
            if len != 0 && self.nulls.contains(row as u32) {
                return Err(lens.error(row * 4, format!("null row {row} has {len} elements")));
            }
            total = total.saturating_add(len);
            if total > block.count {
                return Err(lens.error(
                    row * 4,
                    format!("list lengths exceed {} elements", block.count),
                ));
            }
            offsets.push(u32::try_from(total).unwrap_or(u32::MAX));
        }
        if total != block.count {
            return Err(lens.error(
                0,
                format!("list lengths sum to {total}, block holds {}", block.count),
            ));
        }
        let code_bytes = raw.rest(self.rows * 4, "list codes")?;
        let codes: Vec<u32> = match width {
            1 => code_bytes.bytes.iter().map(|&c| u32::from(c)).collect(),
            2 => code_bytes
                .bytes
                .chunks_exact(2)
                .map(|c| u32::from(c.try_into().map_or(0, u16::from_le_bytes)))
                .collect(),
            _ => code_bytes
                .bytes
                .chunks_exact(4)
                .map(|c| c.try_into().map_or(0, u32::from_le_bytes))
                .collect(),
        };
        if let Some(i) = codes.iter().position(|&c| c as usize >= dictionary.len()) {
            return Err(code_bytes.error(
                i * width,
                format!(
                    "element code beyond {} dictionary entries",
                    dictionary.len()
                ),
            ));
        }
        Ok(ChunkValues::StringList {
            dictionary,
            offsets,
            codes,
        })
    }

    /// Rows whose non-null value satisfies `value op rhs`, computed on the encoded payload
    /// (FOR deltas are compared in their own lane width; RLE runs are compared once each).
    ///
    /// # Errors
    /// [`CodecError::WrongType`] for chunks that are not Int64/Timestamp, [`CodecError::Corrupt`]
    /// for a malformed payload.
    pub fn compare_int(&self, op: CompareOp, rhs: i64) -> Result<Vec<u64>, CodecError> {
        self.int_words(
            |value| op.holds(value, rhs),
            |view| super::scan::compare_for(view, self.rows, op, rhs),
        )
    }

    /// Rows whose non-null value satisfies `low <= value <= high`, in one pass over the encoded
    /// payload (see [`ChunkReader::compare_int`]).
    ///
    /// # Errors
    /// As [`ChunkReader::compare_int`].
    pub fn between_int(&self, low: i64, high: i64) -> Result<Vec<u64>, CodecError> {
        self.int_words(
            |value| low <= value && value <= high,
            |view| super::scan::between_for(view, self.rows, low, high),
        )
    }

    /// Rows of an Int64/Timestamp chunk that pass a test, without decoding: `holds` is asked
    /// once per RLE run, `scan_for` compares FOR deltas in their own lane width.
    fn int_words(
        &self,
        holds: impl Fn(i64) -> bool,
        scan_for: impl FnOnce(&super::int::ForView<'_>) -> Vec<u64>,
    ) -> Result<Vec<u64>, CodecError> {
        if !matches!(self.column_type, ColumnType::Int64 | ColumnType::Timestamp) {
            return Err(CodecError::WrongType {
                expected: self.column_type,
                found: ColumnType::Int64,
            });
        }
        let payload = self.section(SECTION_PAYLOAD);
        let mut words = match self.encoding {
            Encoding::Rle => {
                let runs = rle_view(payload, self.rows)?;
                let mut words = vec![0u64; self.rows.div_ceil(64)];
                for (value, start, end) in runs.runs() {
                    if holds(value) {
                        kernels::set_range(&mut words, start, end);
                    }
                }
                words
            }
            e => {
                let width = e
                    .for_width()
                    .ok_or_else(|| payload.error(0, format!("encoding {e} is not FOR")))?;
                scan_for(&for_view(payload, self.rows, width)?)
            }
        };
        kernels::clear_positions(&mut words, &self.nulls);
        Ok(words)
    }

    /// Full consistency check: decodes everything and cross-checks the zone map and every
    /// per-value bitmap against the decoded values. Meant for tools and tests, not hot paths.
    ///
    /// # Errors
    /// [`CodecError::Corrupt`] describing the first inconsistency.
    pub fn verify(&self) -> Result<(), CodecError> {
        let values = self.decode()?;
        let non_null = |row: &usize| !self.nulls.contains(*row as u32);
        let expected_zone = match &values {
            ChunkValues::Int64(v) | ChunkValues::Timestamp(v) => ZoneMap::of_ints(
                (0..v.len())
                    .filter(non_null)
                    .filter_map(|r| v.get(r).copied()),
            ),
            ChunkValues::Float64(v) => ZoneMap::of_floats(
                (0..v.len())
                    .filter(non_null)
                    .filter_map(|r| v.get(r).copied()),
            ),
            _ => None,
        };
        if !same_zone(expected_zone, self.zone_map()) {
            return Err(corrupt(
                self.sections[SECTION_ZONE_MAP].0,
                "zone map does not match the values",
            ));
        }
        if !self.has_value_bitmaps() {
            return Ok(());
        }
        let expected: Vec<RoaringBitmap> = match &values {
            ChunkValues::Bool(v) => (0..2u32)
                .map(|code| {
                    (0..v.len())
                        .filter(non_null)
                        .filter(|&r| v.get(r).map(|&b| u32::from(b)) == Some(code))
                        .map(|r| r as u32)
                        .collect()
                })
                .collect(),
            ChunkValues::String { dictionary, codes } => (0..dictionary.len())
                .map(|code| {
                    (0..codes.len())
                        .filter(non_null)
                        .filter(|&r| codes.get(r).map(|&c| c as usize) == Some(code))
                        .map(|r| r as u32)
                        .collect()
                })
                .collect(),
            ChunkValues::StringList {
                dictionary,
                offsets,
                codes,
            } => {
                let mut bitmaps = vec![RoaringBitmap::new(); dictionary.len()];
                for (row, pair) in offsets.windows(2).enumerate() {
                    let items = codes
                        .get(
                            *pair.first().unwrap_or(&0) as usize
                                ..*pair.get(1).unwrap_or(&0) as usize,
                        )
                        .unwrap_or(&[]);
                    for &c in items {
                        if let Some(b) = bitmaps.get_mut(c as usize) {
                            b.insert(row as u32);
                        }
                    }
                }
                bitmaps
            }
            _ => Vec::new(),
        };
        for (code, expected) in expected.iter().enumerate() {
            if self.value_bitmap(code as u32)?.as_ref() != Some(expected) {
                return Err(corrupt(
                    self.sections[SECTION_VALUE_BITMAPS].0,
                    format!("value bitmap {code} does not match the values"),
                ));
            }
        }
        Ok(())
    }
}

/// Reads the section table and checks that sections are contiguous, in order, and end at the crc.
fn read_section_table(
    chunk: Section<'_>,
    crc_at: usize,
) -> Result<[(usize, usize); SECTION_COUNT], CodecError> {
    let mut sections = [(0usize, 0usize); SECTION_COUNT];
    let mut expected = HEADER_LEN;
    for (i, slot) in sections.iter_mut().enumerate() {
        let entry = HEADER_SECTIONS_OFFSET + i * SECTION_ENTRY_LEN;
        let offset = chunk.len32(entry, "section offset")?;
        let len = chunk.len32(entry + 4, "section length")?;
        let end = offset
            .checked_add(len)
            .filter(|&end| offset == expected && end <= crc_at);
        let Some(end) = end else {
            return Err(corrupt(
                entry,
                format!("section {i} at {offset}+{len} is not at {expected} within {crc_at} bytes"),
            ));
        };
        *slot = (offset, len);
        expected = end;
    }
    if expected != crc_at {
        return Err(corrupt(
            HEADER_SECTIONS_OFFSET,
            format!("sections end at {expected}, crc is at {crc_at}"),
        ));
    }
    Ok(sections)
}

/// Zone map equality that treats NaN as equal to NaN.
fn same_zone(a: Option<ZoneMap>, b: Option<ZoneMap>) -> bool {
    match (a, b) {
        (Some(ZoneMap::Float { min: a0, max: a1 }), Some(ZoneMap::Float { min: b0, max: b1 })) => {
            let same = |x: f64, y: f64| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan());
            same(a0, b0) && same(a1, b1)
        }
        (a, b) => a == b,
    }
}
