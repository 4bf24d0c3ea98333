//! Segment-wide per-value bitmaps: the chunk bitmaps of a low-cardinality column merged into
//! one bitmap of global rows per distinct value, built on first use and kept in the segment.
//!
//! With them an equality or IN leaf over a whole segment is one bitmap (or a union of a few),
//! instead of a union over every chunk's bitmaps on every query.

use super::cache::summary;
use super::matcher::Matcher;
use crate::error::Result;
use crate::segment::{Segment, SegmentColumn};
use crate::value::ColumnType;
use roaring::RoaringBitmap;
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

/// Distinct values across the segment above which no index is built: past this the index
/// costs more memory than it saves (each chunk alone stores bitmaps for ≤ 256 values).
const MAX_INDEXED_VALUES: usize = 4_096;

/// Global rows of each distinct non-NULL value of one segment column.
#[derive(Debug)]
pub(crate) struct ValueIndex {
    /// The distinct values in ascending order (strings), or `["false", "true"]` for bools.
    pub(crate) values: Vec<String>,
    /// `bitmaps[i]`: the segment's rows whose value is `values[i]`.
    pub(crate) bitmaps: Vec<RoaringBitmap>,
    /// The same rows as plain bitsets over `span`, built per value on first use by fused
    /// conjunctions (see `scan::conjunction`).
    dense: Vec<OnceLock<Arc<Vec<u64>>>>,
    /// First row and number of 64-bit words of the dense bitsets; `None` when the segment's
    /// rows are too scattered for bitsets over their range to pay.
    pub(crate) span: Option<(u32, usize)>,
}

impl ValueIndex {
    fn new(values: Vec<String>, bitmaps: Vec<RoaringBitmap>, rows: &RoaringBitmap) -> ValueIndex {
        let span = match (rows.min(), rows.max()) {
            (Some(min), Some(max)) if u64::from(max - min) < 2 * rows.len() + 65_536 => {
                Some((min, ((max - min) as usize + 1).div_ceil(64)))
            }
            _ => None,
        };
        ValueIndex {
            dense: values.iter().map(|_| OnceLock::new()).collect(),
            values,
            bitmaps,
            span,
        }
    }

    /// Positions of the values `accepts` (called once per distinct value) takes.
    pub(crate) fn accepted(&self, accepts: impl Fn(usize, &str) -> bool) -> Vec<usize> {
        self.values
            .iter()
            .enumerate()
            .filter(|(i, v)| accepts(*i, v))
            .map(|(i, _)| i)
            .collect()
    }

    /// The bitmaps of the values `accepts` takes.
    fn picked(&self, accepts: impl Fn(usize, &str) -> bool) -> Vec<&RoaringBitmap> {
        self.accepted(accepts)
            .into_iter()
            .filter_map(|i| self.bitmaps.get(i))
            .collect()
    }

    /// Value `i`'s rows as a bitset over `span` (bit `r - first` for row `r`).
    pub(crate) fn dense(&self, i: usize) -> Option<Arc<Vec<u64>>> {
        let (first, words) = self.span?;
        let slot = self.dense.get(i)?;
        let bits = slot.get_or_init(|| {
            let mut bits = vec![0u64; words];
            for row in self.bitmaps.get(i).into_iter().flatten() {
                let p = (row - first) as usize;
                if let Some(w) = bits.get_mut(p / 64) {
                    *w |= 1 << (p % 64);
                }
            }
            Arc::new(bits)
        });
        Some(Arc::clone(bits))
    }

    /// Rows whose value `accepts` takes, restricted to `domain` when given.
    pub(crate) fn matching(
        &self,
        accepts: impl Fn(usize, &str) -> bool,
        domain: Option<&RoaringBitmap>,
    ) -> RoaringBitmap {
        let mut picked = self.picked(accepts);
        // Largest first: the others merge into its containers.
        picked.sort_by_key(|b| std::cmp::Reverse(b.len()));
        let Some((first, rest)) = picked.split_first() else {
            return RoaringBitmap::new();
        };
        match domain {
            None => {
                let mut out = (*first).clone();
                for b in rest {
                    out |= *b;
                }
                out
            }
            // Intersect each value's rows with the domain first: nothing is copied whole.
            Some(domain) => {
                let mut out = *first & domain;
                for b in rest {
                    out |= *b & domain;
                }
                out
            }
        }
    }

    /// Number of rows of `domain` whose value `accepts` takes; nothing is materialised (values
    /// are disjoint, so the per-value counts add up).
    pub(crate) fn count(
        &self,
        accepts: impl Fn(usize, &str) -> bool,
        domain: &RoaringBitmap,
    ) -> u64 {
        self.picked(accepts)
            .iter()
            .map(|b| b.intersection_len(domain))
            .sum()
    }
}

/// The value index of `column` in `segment`, when every chunk stores per-value bitmaps
/// (String and Bool columns of low cardinality); built once and cached in the segment.
pub(crate) fn value_index(
    segment: &Segment,
    column: &SegmentColumn,
) -> Result<Option<Arc<ValueIndex>>> {
    if !matches!(column.column_type, ColumnType::String | ColumnType::Bool) {
        return Ok(None);
    }
    let Some(slot) = segment.column_index_slot(column) else {
        return Ok(None);
    };
    if let Some(built) = slot.get() {
        return Ok(built.clone());
    }
    let built = build(segment, column)?.map(Arc::new);
    // A concurrent reader may have built it too; both are the same.
    let _ = slot.set(built.clone());
    Ok(built)
}

fn build(segment: &Segment, column: &SegmentColumn) -> Result<Option<ValueIndex>> {
    let mut by_value: BTreeMap<String, Vec<RoaringBitmap>> = BTreeMap::new();
    for index in 0..segment.chunk_count() {
        let summary = summary(segment, column, index)?;
        let Some(bitmaps) = &summary.value_bitmaps else {
            return Ok(None);
        };
        for (code, bitmap) in bitmaps.iter().enumerate() {
            if bitmap.is_empty() {
                continue;
            }
            let value = match column.column_type {
                ColumnType::Bool => if code == 0 { "false" } else { "true" }.to_owned(),
                _ => match summary.dictionary.get(code) {
                    Some(v) => v.clone(),
                    None => continue,
                },
            };
            by_value.entry(value).or_default().push(bitmap.clone());
            if by_value.len() > MAX_INDEXED_VALUES {
                return Ok(None);
            }
        }
    }
    let mut values = Vec::with_capacity(by_value.len());
    let mut bitmaps = Vec::with_capacity(by_value.len());
    for (value, parts) in by_value {
        // Chunks hold disjoint, ascending row ranges: appending containers in order is a
        // cheap union.
        let mut merged = RoaringBitmap::new();
        for part in parts {
            merged |= part;
        }
        merged.optimize();
        values.push(value);
        bitmaps.push(merged);
    }
    if column.column_type == ColumnType::Bool {
        // Keep the false/true positions fixed even when one of them never occurs.
        let mut fixed = vec![RoaringBitmap::new(), RoaringBitmap::new()];
        for (value, bitmap) in values.iter().zip(bitmaps) {
            fixed[usize::from(value == "true")] = bitmap;
        }
        return Ok(Some(ValueIndex::new(
            vec!["false".to_owned(), "true".to_owned()],
            fixed,
            segment.rows(),
        )));
    }
    Ok(Some(ValueIndex::new(values, bitmaps, segment.rows())))
}

/// How an indexed filter is asked: all matching rows, those in a domain, or their number.
pub(super) enum Want<'d> {
    /// Every matching row of the segment.
    Rows,
    /// The matching rows within the domain.
    RowsIn(&'d RoaringBitmap),
    /// The number of matching rows within the domain.
    CountIn(&'d RoaringBitmap),
}

/// What [`filter_indexed`] found.
pub(super) enum Found {
    /// Matching rows.
    Rows(RoaringBitmap),
    /// Number of matching rows.
    Count(u64),
}

/// The segment's rows (NULLs excluded) matching `matcher` from the value index, or their
/// count; `None` when the column has no index or the matcher is not answered by one.
pub(super) fn filter_indexed(
    segment: &Segment,
    column: &SegmentColumn,
    matcher: &Matcher,
    want: Want<'_>,
) -> Result<Option<Found>> {
    if !indexable(matcher) {
        return Ok(None);
    }
    let Some(index) = value_index(segment, column)? else {
        return Ok(None);
    };
    let accepts = |i: usize, value: &str| index_accepts(matcher, i, value);
    Ok(Some(match want {
        Want::Rows => Found::Rows(index.matching(accepts, None)),
        Want::RowsIn(domain) => Found::Rows(index.matching(accepts, Some(domain))),
        Want::CountIn(domain) => Found::Count(index.count(accepts, domain)),
    }))
}

/// Whether a value index can answer `matcher`.
pub(super) fn indexable(matcher: &Matcher) -> bool {
    matches!(matcher, Matcher::Text(_) | Matcher::Bool { .. })
}

/// Whether `matcher` takes distinct value `i` (`value`) of an index.
pub(super) fn index_accepts(matcher: &Matcher, i: usize, value: &str) -> bool {
    match matcher {
        Matcher::Text(test) => test.accepts(value),
        Matcher::Bool {
            accept_false,
            accept_true,
        } => {
            if i == 0 {
                *accept_false
            } else {
                *accept_true
            }
        }
        _ => false,
    }
}
