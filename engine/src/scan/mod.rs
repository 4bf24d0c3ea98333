//! Predicate evaluation over one column: the leaves of every query plan.
//!
//! For each chunk the cheapest access path is taken: the zone map rules out (or in) whole
//! chunks, per-value bitmaps answer equality and membership on low-cardinality columns, and
//! otherwise a vectorized compare loop over the decoded chunk emits a bitset. Results are
//! bitmaps of global row ids, already restricted to the rows whose current value lives in
//! the scanned layer, so parts of different layers simply OR together.

mod cache;
mod chunk;
mod conjunction;
mod daily;
mod index;
mod matcher;
mod rows;
mod sketch;

pub(crate) use cache::ChunkSummary;
pub use conjunction::{conjunction, Conjunction};
pub use daily::{count_by_key, DailyCountSpec, DailyCountStats, DAY_MICROS};
pub(crate) use daily::{DailyCounts, DailyKey};
pub(crate) use index::ValueIndex;
pub(crate) use sketch::Sketch;

pub use crate::codec::CompareOp;
pub use matcher::like_matches;

use crate::error::Result;
use crate::schema::TableKind;
use crate::snapshot::{ColumnPart, PartSource, Snapshot};
use crate::value::Value;
use index::{filter_indexed, Found, Want};
use matcher::Matcher;
use roaring::RoaringBitmap;
use std::fmt;

/// A condition on one column's non-NULL values. NULL never satisfies a predicate.
#[derive(Debug, Clone, PartialEq)]
pub enum Predicate {
    /// `column <op> value`.
    Compare(CompareOp, Value),
    /// `column BETWEEN low AND high` (inclusive).
    Between(Value, Value),
    /// `column IN (values)`.
    InList(Vec<Value>),
    /// `column LIKE pattern` with `%` and `_` wildcards and `\` escaping.
    Like {
        /// The pattern.
        pattern: String,
        /// ILIKE instead of LIKE.
        case_insensitive: bool,
    },
    /// A list column contains the value.
    ListContains(Value),
}

/// How a filter found its rows, for `EXPLAIN`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FilterStats {
    /// Chunks ruled out (or wholly accepted) by their zone map or dictionary alone.
    pub chunks_skipped: usize,
    /// Chunks answered from per-value bitmaps.
    pub chunks_by_value_bitmap: usize,
    /// Segments answered from their segment-wide per-value bitmaps.
    pub segments_by_value_index: usize,
    /// Chunks decoded and scanned.
    pub chunks_scanned: usize,
    /// Float chunks answered from their one-byte sketches (exact values read only where the
    /// sketch cannot decide).
    pub chunks_by_sketch: usize,
    /// Rows of in-memory layers checked one by one.
    pub memory_rows: u64,
}

impl FilterStats {
    fn add(&mut self, other: FilterStats) {
        self.chunks_skipped += other.chunks_skipped;
        self.chunks_by_value_bitmap += other.chunks_by_value_bitmap;
        self.segments_by_value_index += other.segments_by_value_index;
        self.chunks_scanned += other.chunks_scanned;
        self.chunks_by_sketch += other.chunks_by_sketch;
        self.memory_rows += other.memory_rows;
    }
}

impl fmt::Display for FilterStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if self.segments_by_value_index > 0 {
            parts.push(format!(
                "value index: {} segment{}",
                self.segments_by_value_index,
                if self.segments_by_value_index == 1 {
                    ""
                } else {
                    "s"
                }
            ));
        }
        if self.chunks_by_value_bitmap > 0 {
            parts.push(format!(
                "value bitmaps: {} chunks",
                self.chunks_by_value_bitmap
            ));
        }
        if self.chunks_skipped > 0 {
            parts.push(format!(
                "zone map/dictionary: {} chunks skipped",
                self.chunks_skipped
            ));
        }
        if self.chunks_by_sketch > 0 {
            parts.push(format!("sketch scan: {} chunks", self.chunks_by_sketch));
        }
        if self.chunks_scanned > 0 {
            parts.push(format!("vectorized scan: {} chunks", self.chunks_scanned));
        }
        if self.memory_rows > 0 {
            parts.push(format!("memory: {} rows", self.memory_rows));
        }
        if parts.is_empty() {
            parts.push("no data".to_owned());
        }
        f.write_str(&parts.join(", "))
    }
}

/// Live rows of `table` whose current `column` value satisfies `predicate`.
///
/// # Errors
/// An unknown column, a predicate the column's type cannot answer, or corruption.
pub fn filter(
    snapshot: &Snapshot,
    table: TableKind,
    column: &str,
    predicate: &Predicate,
) -> Result<(RoaringBitmap, FilterStats)> {
    filter_impl(snapshot, table, column, predicate, None)
}

/// The rows of `domain` that [`filter`] would return: chunks without domain rows are not
/// looked at, and where the domain is sparse only its rows are tested. Conjunctions use this
/// to make later predicates cost what the rows still in play cost, not what the table costs.
///
/// # Errors
/// As [`filter`].
pub fn filter_within(
    snapshot: &Snapshot,
    table: TableKind,
    column: &str,
    predicate: &Predicate,
    domain: &RoaringBitmap,
) -> Result<(RoaringBitmap, FilterStats)> {
    filter_impl(snapshot, table, column, predicate, Some(domain))
}

/// The number of rows [`filter_within`] would return, without building them where an index
/// can count (a `COUNT(*)` needs no more).
///
/// # Errors
/// As [`filter`].
pub fn count_within(
    snapshot: &Snapshot,
    table: TableKind,
    column: &str,
    predicate: &Predicate,
    domain: &RoaringBitmap,
) -> Result<(u64, FilterStats)> {
    let matcher = matcher(snapshot, table, column, predicate)?;
    let mut count = 0;
    let mut stats = FilterStats::default();
    for part in snapshot.column_parts(table, column)? {
        if let PartSource::Segment { segment, column } = part.source {
            let whole = part.visible.len() == column.present.len();
            let restricted;
            let domain_here = if whole {
                domain
            } else {
                restricted = domain & &part.visible;
                &restricted
            };
            if let Some(Found::Count(n)) =
                filter_indexed(segment, column, &matcher, Want::CountIn(domain_here))?
            {
                stats.segments_by_value_index += 1;
                count += n;
                continue;
            }
        }
        let (rows, part_stats) = filter_part(&part, &matcher, Some(domain))?;
        stats.add(part_stats);
        count += rows.len();
    }
    Ok((count, stats))
}

fn matcher(
    snapshot: &Snapshot,
    table: TableKind,
    column: &str,
    predicate: &Predicate,
) -> Result<Matcher> {
    let column_type = snapshot.schema(table).column_type(column).ok_or_else(|| {
        crate::error::Error::UnknownColumn {
            table,
            column: column.to_owned(),
        }
    })?;
    Matcher::new(column, column_type, predicate)
}

fn filter_impl(
    snapshot: &Snapshot,
    table: TableKind,
    column: &str,
    predicate: &Predicate,
    domain: Option<&RoaringBitmap>,
) -> Result<(RoaringBitmap, FilterStats)> {
    let matcher = matcher(snapshot, table, column, predicate)?;
    let mut result = RoaringBitmap::new();
    let mut stats = FilterStats::default();
    for part in snapshot.column_parts(table, column)? {
        let (found, part_stats) = filter_part(&part, &matcher, domain)?;
        stats.add(part_stats);
        if result.is_empty() {
            result = found;
        } else {
            result |= found;
        }
    }
    Ok((result, stats))
}

/// The rows of one column part matching `matcher` (within `domain` when given).
fn filter_part(
    part: &ColumnPart<'_>,
    matcher: &Matcher,
    domain: Option<&RoaringBitmap>,
) -> Result<(RoaringBitmap, FilterStats)> {
    let mut stats = FilterStats::default();
    let rows = match part.source {
        PartSource::Segment { segment, column } => {
            // Most parts are a whole segment: no intersection with the visible rows needed.
            let whole = part.visible.len() == column.present.len();
            let want = match domain {
                Some(domain) => Want::RowsIn(domain),
                None => Want::Rows,
            };
            if let Some(Found::Rows(rows)) = filter_indexed(segment, column, matcher, want)? {
                stats.segments_by_value_index += 1;
                if whole {
                    rows
                } else {
                    rows & &part.visible
                }
            } else {
                let (rows, part_stats) =
                    chunk::filter_segment(segment, column, matcher, &part.visible, domain)?;
                stats.add(part_stats);
                match domain {
                    // Domain first: its (often sparse) containers probe the result's.
                    Some(domain) => domain & &rows,
                    None => rows,
                }
            }
        }
        PartSource::Memory(memory) => {
            let candidates = match domain {
                Some(domain) => &part.visible & domain,
                None => part.visible.clone(),
            };
            stats.memory_rows += candidates.len();
            let matching = candidates
                .iter()
                .filter(|&row| memory.get(row).is_some_and(|v| matcher.matches_value(v)));
            RoaringBitmap::from_sorted_iter(matching).expect("visible rows iterate in order")
        }
    };
    Ok((rows, stats))
}

/// Live rows of `table` whose `column` is NULL (never written counts as NULL).
///
/// # Errors
/// An unknown column or corruption.
pub fn null_rows(snapshot: &Snapshot, table: TableKind, column: &str) -> Result<RoaringBitmap> {
    let mut with_value = RoaringBitmap::new();
    for part in snapshot.column_parts(table, column)? {
        let stored_nulls = match part.source {
            PartSource::Segment { segment, column } => chunk::segment_nulls(segment, column)?,
            PartSource::Memory(memory) => {
                let nulls = part
                    .visible
                    .iter()
                    .filter(|&row| memory.get(row).is_none_or(Value::is_null));
                RoaringBitmap::from_sorted_iter(nulls).expect("visible rows iterate in order")
            }
        };
        with_value |= &part.visible - &stored_nulls;
    }
    Ok(snapshot.live_rows(table) - &with_value)
}
