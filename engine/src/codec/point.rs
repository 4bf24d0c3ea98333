//! Reading one value of a chunk without decoding the rest of it.
//!
//! A [`PointReader`] is built once from a verified [`ChunkReader`](super::ChunkReader) and
//! kept by the segment: it remembers where the payload is, the null positions and, for strings,
//! how to find one dictionary entry without decoding the others (`dictionary_lookup`). A read
//! then costs a few byte loads: FOR deltas and dictionary codes sit at `position × width`, RLE
//! runs are found by binary search. List chunks keep their element codes in an lz4 block, so
//! they are not point-readable: callers decode them whole (and cache the result).

use roaring::RoaringBitmap;

use super::dictionary_lookup::DictionaryLookup;
use super::encoding::Encoding;
use super::error::{corrupt, CodecError};
use super::int::rle_view;
use super::layout::FOR_DELTAS_OFFSET;
use super::wire::Section;
use crate::value::{ColumnType, Value};

/// How a point read finds the stored 64-bit value or dictionary code at a position.
#[derive(Debug, Clone)]
enum Lanes {
    /// Reference plus a `width`-byte delta at `start + position × width` of the chunk.
    For {
        start: usize,
        reference: i64,
        width: usize,
    },
    /// A raw 8-byte value at `start + position × 8` of the chunk.
    Plain { start: usize },
    /// A `width`-byte code at `start + position × width` of the chunk.
    Codes { start: usize, width: usize },
    /// Runs of equal values (or codes): run `i` ends (exclusive) at `ends[i]`.
    Runs { values: Vec<i64>, ends: Vec<u32> },
    /// Bool chunks: the positions holding `true`.
    Trues(RoaringBitmap),
    /// List chunks: the payload must be decoded whole.
    Undecodable,
}

/// What one chunk needs to answer reads of single positions (see the module docs).
#[derive(Debug, Clone)]
pub struct PointReader {
    column_type: ColumnType,
    rows: usize,
    nulls: RoaringBitmap,
    lanes: Lanes,
    dictionary: DictionaryLookup,
}

impl PointReader {
    /// Builds the reader from the parts of a verified chunk; `payload` is the payload section.
    pub(crate) fn new(
        column_type: ColumnType,
        encoding: Encoding,
        rows: usize,
        nulls: RoaringBitmap,
        payload: Section<'_>,
        dictionary: Section<'_>,
        trues: Option<RoaringBitmap>,
    ) -> Result<PointReader, CodecError> {
        let sized = |width: usize, extra: usize| {
            if payload.len() == extra + rows * width {
                Ok(())
            } else {
                Err(payload.error(
                    0,
                    format!(
                        "{encoding} payload is {} bytes for {rows} rows",
                        payload.len()
                    ),
                ))
            }
        };
        let lanes = match encoding {
            Encoding::Bitmap => Lanes::Trues(trues.unwrap_or_default()),
            Encoding::Rle | Encoding::DictRle => {
                let runs = rle_view(payload, rows)?;
                Lanes::Runs {
                    values: runs.values,
                    ends: runs.ends,
                }
            }
            Encoding::Plain => {
                sized(8, 0)?;
                Lanes::Plain {
                    start: payload.base,
                }
            }
            Encoding::DictU8 | Encoding::DictU16 => {
                let width = if encoding == Encoding::DictU8 { 1 } else { 2 };
                sized(width, 0)?;
                Lanes::Codes {
                    start: payload.base,
                    width,
                }
            }
            Encoding::ListU8 | Encoding::ListU16 | Encoding::ListU32 => Lanes::Undecodable,
            e => {
                let width = e
                    .for_width()
                    .ok_or_else(|| payload.error(0, format!("encoding {e} is not numeric")))?;
                sized(width, FOR_DELTAS_OFFSET)?;
                Lanes::For {
                    start: payload.base + FOR_DELTAS_OFFSET,
                    reference: payload.i64(0, "FOR reference")?,
                    width,
                }
            }
        };
        let dictionary = if column_type == ColumnType::String {
            DictionaryLookup::new(dictionary)?
        } else {
            DictionaryLookup::Absent
        };
        Ok(PointReader {
            column_type,
            rows,
            nulls,
            lanes,
            dictionary,
        })
    }

    /// Whether the chunk must be decoded whole to read a value (list chunks).
    #[must_use]
    pub fn needs_full_decode(&self) -> bool {
        matches!(self.lanes, Lanes::Undecodable)
    }

    /// Approximate heap bytes the reader holds (dictionary, nulls, runs).
    #[must_use]
    pub fn heap_bytes(&self) -> usize {
        let lanes = match &self.lanes {
            Lanes::Runs { values, ends } => values.capacity() * 8 + ends.capacity() * 4,
            Lanes::Trues(trues) => trues.serialized_size(),
            _ => 0,
        };
        self.dictionary.heap_bytes() + self.nulls.serialized_size() + lanes
    }

    /// The value at chunk-local `position`; `chunk` must be the bytes the reader was built from.
    ///
    /// # Errors
    /// [`CodecError::Corrupt`] for a position past the chunk, a code past the dictionary, or
    /// a list chunk (see [`PointReader::needs_full_decode`]).
    pub fn value_at(&self, chunk: &[u8], position: usize) -> Result<Value, CodecError> {
        if position >= self.rows {
            return Err(corrupt(
                0,
                format!("position {position} is past the chunk's {} rows", self.rows),
            ));
        }
        if self
            .nulls
            .contains(u32::try_from(position).unwrap_or(u32::MAX))
        {
            return Ok(Value::Null);
        }
        let raw = match &self.lanes {
            Lanes::Trues(trues) => {
                return Ok(Value::Bool(
                    trues.contains(u32::try_from(position).unwrap_or(u32::MAX)),
                ))
            }
            Lanes::Undecodable => return Err(corrupt(0, "list chunks cannot be read by position")),
            Lanes::For {
                start,
                reference,
                width,
            } => reference.wrapping_add(read_lane(chunk, start + position * width, *width)? as i64),
            Lanes::Plain { start } => read_lane(chunk, start + position * 8, 8)? as i64,
            Lanes::Codes { start, width } => {
                read_lane(chunk, start + position * width, *width)? as i64
            }
            Lanes::Runs { values, ends } => {
                let run = ends.partition_point(|&end| end as usize <= position);
                *values
                    .get(run)
                    .ok_or_else(|| corrupt(0, "RLE runs end before the position"))?
            }
        };
        Ok(match self.column_type {
            ColumnType::Int64 => Value::Int64(raw),
            ColumnType::Timestamp => Value::Timestamp(raw),
            ColumnType::Float64 => Value::Float64(f64::from_bits(raw as u64)),
            ColumnType::String => {
                let code = usize::try_from(raw).unwrap_or(usize::MAX);
                Value::String(self.dictionary.entry(chunk, code)?)
            }
            ColumnType::Bool | ColumnType::StringList => {
                return Err(corrupt(0, "chunk type does not match its encoding"))
            }
        })
    }
}

/// The little-endian unsigned integer of `width` bytes at `at`.
fn read_lane(chunk: &[u8], at: usize, width: usize) -> Result<u64, CodecError> {
    let bytes = at
        .checked_add(width)
        .and_then(|end| chunk.get(at..end))
        .ok_or_else(|| corrupt(at, "value lies past the end of the chunk"))?;
    let mut wide = [0u8; 8];
    wide.get_mut(..width)
        .ok_or_else(|| corrupt(at, "lane wider than 8 bytes"))?
        .copy_from_slice(bytes);
    Ok(u64::from_le_bytes(wide))
}

#[cfg(test)]
mod tests {
    use super::super::{ChunkBuilder, ChunkReader};
    use super::*;
    use std::collections::HashSet;

    /// Builds a chunk of `values`, then checks that every position reads the value a full
    /// decode gives; returns the encoding used so callers can check they covered it.
    fn point_reads_match_decode(column_type: ColumnType, values: &[Value]) -> Encoding {
        let mut builder = ChunkBuilder::new(column_type);
        for value in values {
            builder.push(value).unwrap();
        }
        let bytes = builder.finish();
        let chunk = ChunkReader::open(&bytes).unwrap();
        let decoded = chunk.decode().unwrap();
        let nulls = chunk.null_rows().unwrap();
        let points = chunk.point_reader().unwrap();
        if points.needs_full_decode() {
            return chunk.encoding();
        }
        for (position, expected) in values.iter().enumerate() {
            let read = points.value_at(&bytes, position).unwrap();
            assert_eq!(
                &read,
                expected,
                "position {position} of {}",
                chunk.encoding()
            );
            assert_eq!(read, decoded.value(position, &nulls));
        }
        assert!(points.value_at(&bytes, values.len()).is_err());
        chunk.encoding()
    }

    fn with_nulls(values: impl Iterator<Item = Value>) -> Vec<Value> {
        values
            .enumerate()
            .map(|(i, v)| if i % 7 == 3 { Value::Null } else { v })
            .collect()
    }

    #[test]
    fn every_encoding_reads_single_values() {
        let mut seen = HashSet::new();
        let ints: [(i64, i64); 5] = [
            (0, 5),
            (3, 200),
            (7, 60_000),
            (11, 4_000_000_000),
            (13, 1 << 62),
        ];
        for (seed, spread) in ints {
            let values = with_nulls(
                (0..3_000)
                    .map(|i| Value::Int64(if i % 2 == 0 { 0 } else { spread } - seed + i % 3)),
            );
            seen.insert(point_reads_match_decode(ColumnType::Int64, &values));
        }
        let constant = vec![Value::Int64(42); 500];
        seen.insert(point_reads_match_decode(ColumnType::Int64, &constant));
        let sorted: Vec<Value> = (0..5_000)
            .map(|i| Value::Timestamp(i / 1_000 * 1_000_000_007))
            .collect();
        seen.insert(point_reads_match_decode(ColumnType::Timestamp, &sorted));
        let floats = with_nulls((0..2_000).map(|i| Value::Float64(f64::from(i) * 1.37 - 50.0)));
        seen.insert(point_reads_match_decode(ColumnType::Float64, &floats));
        let runs: Vec<Value> = (0..2_000)
            .map(|i| Value::Float64(f64::from(i / 500)))
            .collect();
        seen.insert(point_reads_match_decode(ColumnType::Float64, &runs));
        let few = with_nulls((0..3_000).map(|i| Value::String(format!("plan-{}", i % 5))));
        seen.insert(point_reads_match_decode(ColumnType::String, &few));
        let many = with_nulls((0..3_000).map(|i| Value::String(format!("m{}", i * 31 % 2_999))));
        seen.insert(point_reads_match_decode(ColumnType::String, &many));
        let grouped: Vec<Value> = (0..3_000)
            .map(|i| Value::String(format!("g{}", i / 1_000)))
            .collect();
        seen.insert(point_reads_match_decode(ColumnType::String, &grouped));
        let bools = with_nulls((0..1_000).map(|i| Value::Bool(i % 3 == 0)));
        seen.insert(point_reads_match_decode(ColumnType::Bool, &bools));
        let lists = vec![Value::StringList(vec!["a".into()]); 10];
        assert!(matches!(
            point_reads_match_decode(ColumnType::StringList, &lists),
            Encoding::ListU8 | Encoding::ListU16 | Encoding::ListU32
        ));
        for wanted in [
            Encoding::For0,
            Encoding::For8,
            Encoding::For16,
            Encoding::For32,
            Encoding::For64,
            Encoding::Rle,
            Encoding::DictU8,
            Encoding::DictU16,
            Encoding::DictRle,
            Encoding::Bitmap,
        ] {
            assert!(seen.contains(&wanted), "{wanted} not covered: {seen:?}");
        }
    }

    #[test]
    fn truncated_bytes_are_an_error_not_a_panic() {
        let mut builder = ChunkBuilder::new(ColumnType::Int64);
        for i in 0..100 {
            builder.push(&Value::Int64(i * 1_000)).unwrap();
        }
        let bytes = builder.finish();
        let points = ChunkReader::open(&bytes).unwrap().point_reader().unwrap();
        assert!(points.value_at(&bytes[..30], 99).is_err());
        assert!(points.value_at(&[], 0).is_err());
    }
}
