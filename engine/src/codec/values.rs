//! Decoded chunk contents and zone maps.

use roaring::RoaringBitmap;

use crate::value::{ColumnType, Value};

/// Min and max over the non-null values of a numeric chunk, for skipping chunks on predicates.
///
/// Float zone maps ignore NaN when ordering but set `max` to NaN when any value is NaN (both are
/// NaN when every value is): every comparison with NaN is false, so pruning written as "skip
/// when `max < rhs`" or "skip unless `min <= rhs <= max`" stays conservative.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ZoneMap {
    /// Int64 and Timestamp chunks.
    Int {
        /// Smallest non-null value.
        min: i64,
        /// Largest non-null value.
        max: i64,
    },
    /// Float64 chunks (see the type docs for NaN).
    Float {
        /// Smallest non-null, non-NaN value (`-0.0` orders below `0.0`).
        min: f64,
        /// Largest non-null value; NaN when any value is NaN.
        max: f64,
    },
}

impl ZoneMap {
    /// The zone map of `values` (non-null only), `None` when empty.
    pub(crate) fn of_ints(values: impl Iterator<Item = i64>) -> Option<ZoneMap> {
        let (min, max) = values.fold(None, |acc: Option<(i64, i64)>, v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })?;
        Some(ZoneMap::Int { min, max })
    }

    /// The zone map of `values` (non-null only), `None` when empty.
    pub(crate) fn of_floats(values: impl Iterator<Item = f64>) -> Option<ZoneMap> {
        let mut any = false;
        let mut any_nan = false;
        let mut range: Option<(f64, f64)> = None;
        for v in values {
            any = true;
            if v.is_nan() {
                any_nan = true;
                continue;
            }
            range = Some(match range {
                None => (v, v),
                Some((lo, hi)) => (
                    if v.total_cmp(&lo).is_lt() { v } else { lo },
                    if v.total_cmp(&hi).is_gt() { v } else { hi },
                ),
            });
        }
        if !any {
            return None;
        }
        let (min, max) = range.unwrap_or((f64::NAN, f64::NAN));
        Some(ZoneMap::Float {
            min,
            max: if any_nan { f64::NAN } else { max },
        })
    }
}

/// The decoded values of one chunk; null rows hold a placeholder (see each variant).
#[derive(Debug, Clone, PartialEq)]
pub enum ChunkValues {
    /// Bool rows; `false` at null rows.
    Bool(Vec<bool>),
    /// Int64 rows; `0` at null rows.
    Int64(Vec<i64>),
    /// Float64 rows; `0.0` at null rows.
    Float64(Vec<f64>),
    /// Timestamp rows (µs since the epoch); `0` at null rows.
    Timestamp(Vec<i64>),
    /// String rows as codes into a sorted, unique dictionary; null rows hold code 0, which is
    /// `""` (a chunk with nulls always has `""` in its dictionary).
    String {
        /// Sorted, unique strings.
        dictionary: Vec<String>,
        /// One code per row, each `< dictionary.len()`.
        codes: Vec<u32>,
    },
    /// String list rows: row `i` is `codes[offsets[i]..offsets[i + 1]]`; null rows are empty.
    StringList {
        /// Sorted, unique strings.
        dictionary: Vec<String>,
        /// `rows + 1` monotone offsets into `codes`, starting at 0.
        offsets: Vec<u32>,
        /// Element codes, each `< dictionary.len()`.
        codes: Vec<u32>,
    },
}

impl ChunkValues {
    /// The column type of these values.
    #[must_use]
    pub fn column_type(&self) -> ColumnType {
        match self {
            ChunkValues::Bool(_) => ColumnType::Bool,
            ChunkValues::Int64(_) => ColumnType::Int64,
            ChunkValues::Float64(_) => ColumnType::Float64,
            ChunkValues::Timestamp(_) => ColumnType::Timestamp,
            ChunkValues::String { .. } => ColumnType::String,
            ChunkValues::StringList { .. } => ColumnType::StringList,
        }
    }

    /// Number of rows.
    #[must_use]
    pub fn len(&self) -> usize {
        match self {
            ChunkValues::Bool(v) => v.len(),
            ChunkValues::Int64(v) | ChunkValues::Timestamp(v) => v.len(),
            ChunkValues::Float64(v) => v.len(),
            ChunkValues::String { codes, .. } => codes.len(),
            ChunkValues::StringList { offsets, .. } => offsets.len().saturating_sub(1),
        }
    }

    /// Whether there are no rows.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value of `row` as a [`Value`]; `Null` for rows in `nulls` and for rows out of range.
    #[must_use]
    pub fn value(&self, row: usize, nulls: &RoaringBitmap) -> Value {
        let is_null = u32::try_from(row).map_or(true, |r| nulls.contains(r));
        if is_null {
            return Value::Null;
        }
        self.non_null_value(row).unwrap_or(Value::Null)
    }

    fn non_null_value(&self, row: usize) -> Option<Value> {
        let string = |dictionary: &[String], code: &u32| dictionary.get(*code as usize).cloned();
        Some(match self {
            ChunkValues::Bool(v) => Value::Bool(*v.get(row)?),
            ChunkValues::Int64(v) => Value::Int64(*v.get(row)?),
            ChunkValues::Float64(v) => Value::Float64(*v.get(row)?),
            ChunkValues::Timestamp(v) => Value::Timestamp(*v.get(row)?),
            ChunkValues::String { dictionary, codes } => {
                Value::String(string(dictionary, codes.get(row)?)?)
            }
            ChunkValues::StringList {
                dictionary,
                offsets,
                codes,
            } => {
                let start = *offsets.get(row)? as usize;
                let end = *offsets.get(row + 1)? as usize;
                let items = codes.get(start..end)?;
                Value::StringList(
                    items
                        .iter()
                        .map(|c| string(dictionary, c))
                        .collect::<Option<_>>()?,
                )
            }
        })
    }
}
