//! Behavioural counts from per-day pre-aggregates: "which keys have how many rows with
//! `name_column = name` and `time_column` in a window" (e.g. which profiles completed an order
//! at least twice in the last 30 days) without re-reading every event on every query.
//!
//! For each immutable segment and each (name column, name, time column, key column) asked
//! about, a [`DailyCounts`] is built on first use and kept in the segment: for every UTC day,
//! the sorted keys of the segment's matching rows with their row counts. It describes the
//! segment's *stored* values. A query then combines, per key:
//!
//! - the pre-aggregated counts of every segment for the days lying wholly inside the window,
//! - minus the rows of those segments whose stored values no longer count, because the row was
//!   deleted or a newer layer overrides one of the three columns (merges move events between
//!   profiles by rewriting their key; those rows are read from the segment and subtracted),
//! - plus the rows answered by the ordinary scan: the parts of the window that cut a day (only
//!   the edge days are scanned, with zone maps pruning the rest), and every row whose current
//!   values do not all live in one segment (memory layers, overridden rows).
//!
//! The answer is exactly the scan's answer; `tests` and `query/tests` check this against the
//! scan path in every layer configuration.

use super::cache::summary;
use super::index::{filter_indexed, Found, Want};
use super::matcher::Matcher;
use super::{chunk, filter_within, CompareOp, Predicate};
use crate::codec::{ChunkValues, ZoneMap};
use crate::error::Result;
use crate::schema::TableKind;
use crate::segment::{Segment, SegmentColumn};
use crate::snapshot::{PartSource, Snapshot};
use crate::value::{ColumnType, Value};
use roaring::RoaringBitmap;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

/// Microseconds in a UTC day.
pub const DAY_MICROS: i64 = 86_400_000_000;

/// What to count: rows with `name_column = name` and `time_column` in `[from, until)`, grouped
/// by the integer `key_column`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DailyCountSpec {
    /// The grouping column (Int64, values must be u32 ids).
    pub key_column: String,
    /// The String column compared for equality.
    pub name_column: String,
    /// The value `name_column` must equal.
    pub name: String,
    /// The Timestamp column restricted to the window.
    pub time_column: String,
    /// Inclusive lower bound in µs since the epoch; `None` for no bound.
    pub from: Option<i64>,
    /// Exclusive upper bound in µs since the epoch; `None` for no bound.
    pub until: Option<i64>,
}

/// How [`count_by_key`] found its counts, for `EXPLAIN`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DailyCountStats {
    /// Segments whose pre-aggregate contributed whole days.
    pub segments: usize,
    /// (segment, day) lists merged.
    pub day_lists: usize,
    /// Pre-aggregates built by this call (the first query over a segment pays for it).
    pub built: usize,
    /// Stored rows subtracted because they were deleted or overridden since.
    pub stale_rows: u64,
    /// Matching rows found by scanning (window edges that cut a day, memory layers).
    pub scanned_rows: u64,
}

impl fmt::Display for DailyCountStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.segments == 0 {
            return write!(
                f,
                "counted by scan: {} rows (no pre-aggregated segment in the window)",
                self.scanned_rows
            );
        }
        write!(
            f,
            "per-day pre-aggregate: {} day lists from {} segment{}",
            self.day_lists,
            self.segments,
            if self.segments == 1 { "" } else { "s" }
        )?;
        if self.built > 0 {
            write!(f, " ({} built)", self.built)?;
        }
        if self.stale_rows > 0 {
            write!(f, ", {} overridden rows subtracted", self.stale_rows)?;
        }
        write!(f, ", scan: {} rows", self.scanned_rows)
    }
}

/// The cache key of a pre-aggregate inside a segment.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct DailyKey {
    key_column: String,
    name_column: String,
    name: String,
    time_column: String,
}

/// One segment's stored rows with `name_column = name`, counted per UTC day and key.
#[derive(Debug, Default)]
pub(crate) struct DailyCounts {
    /// Days (µs / [`DAY_MICROS`], rounded down) with at least one counted row, ascending.
    days: Vec<i64>,
    /// `offsets[i]..offsets[i + 1]` are day `days[i]`'s entries of `keys` / `counts`.
    offsets: Vec<usize>,
    /// Keys, ascending within each day.
    keys: Vec<u32>,
    /// Rows per (day, key).
    counts: Vec<u32>,
    /// Per day: rows whose stored key is NULL or not a u32 (the pre-aggregate cannot answer).
    bad: Vec<u32>,
    /// Every row counted above (and in `bad`): stored name matches, stored time is not NULL.
    rows: RoaringBitmap,
}

impl DailyCounts {
    /// Index range of `days` within `[first, end)`.
    fn day_range(&self, first: Option<i64>, end: Option<i64>) -> std::ops::Range<usize> {
        let lo = first.map_or(0, |d| self.days.partition_point(|&x| x < d));
        let hi = end.map_or(self.days.len(), |d| self.days.partition_point(|&x| x < d));
        lo..hi.max(lo)
    }
}

/// A stored row's day and key as a pre-aggregate sees it.
struct StoredRow {
    day: i64,
    /// `None` for a NULL key or one that is not a u32.
    key: Option<u32>,
}

/// The stored 64-bit integer values of `column` at `rows` (rows of `segment`, ascending),
/// `None` where the stored value is NULL. Chunks already decoded by queries are read from the
/// cache; others are decoded and dropped.
fn stored_ints(
    segment: &Segment,
    column: &SegmentColumn,
    rows: &RoaringBitmap,
) -> Result<Vec<Option<i64>>> {
    let mut out = Vec::with_capacity(usize::try_from(rows.len()).unwrap_or(0));
    for index in 0..segment.chunk_count() {
        let (first, next) = segment.chunk_row_bounds(index);
        let wanted: Vec<u32> = match next {
            Some(end) => rows.range(first..end).collect(),
            None => rows.range(first..).collect(),
        };
        if wanted.is_empty() {
            continue;
        }
        let decoded = segment.values_for_read(column, index)?;
        let (values, nulls) = &*decoded;
        let (ChunkValues::Int64(values) | ChunkValues::Timestamp(values)) = values else {
            out.extend(wanted.iter().map(|_| None));
            continue;
        };
        let map = chunk::chunk_rows(segment, index);
        for row in wanted {
            let value = map.position(row).and_then(|p| {
                let null = u32::try_from(p).map_or(true, |p| nulls.contains(p));
                if null {
                    None
                } else {
                    values.get(p).copied()
                }
            });
            out.push(value);
        }
    }
    Ok(out)
}

/// Day and key stored in `segment` for each of `rows` whose stored time is not NULL.
/// `rows` must be rows of the segment.
fn stored_rows(
    segment: &Segment,
    spec: &DailyKey,
    rows: &RoaringBitmap,
) -> Result<Vec<(u32, StoredRow)>> {
    let Some(time) = segment.column(&spec.time_column) else {
        return Ok(Vec::new());
    };
    let timed = rows & &time.present;
    let times = stored_ints(segment, time, &timed)?;
    let keys = match segment.column(&spec.key_column) {
        Some(key) => {
            // Rows the key column does not cover read as NULL.
            let keyed = &timed & &key.present;
            let mut values = stored_ints(segment, key, &keyed)?.into_iter();
            let mut keyed = keyed.iter().peekable();
            timed
                .iter()
                .map(|row| {
                    if keyed.next_if_eq(&row).is_some() {
                        values.next().flatten()
                    } else {
                        None
                    }
                })
                .collect()
        }
        None => vec![None; times.len()],
    };
    Ok(timed
        .iter()
        .zip(times)
        .zip(keys)
        .filter_map(|((row, time), key)| {
            Some((
                row,
                StoredRow {
                    day: time?.div_euclid(DAY_MICROS),
                    key: key.and_then(|k| u32::try_from(k).ok()),
                },
            ))
        })
        .collect())
}

/// The smallest and largest stored value of an integer column in `segment` (zone maps).
fn stored_range(segment: &Segment, column: &SegmentColumn) -> Result<Option<(i64, i64)>> {
    let mut range: Option<(i64, i64)> = None;
    for index in 0..segment.chunk_count() {
        if let Some(ZoneMap::Int { min, max }) = summary(segment, column, index)?.zone {
            range = Some(match range {
                None => (min, max),
                Some((lo, hi)) => (lo.min(min), hi.max(max)),
            });
        }
    }
    Ok(range)
}

fn build(segment: &Segment, spec: &DailyKey) -> Result<DailyCounts> {
    let Some(name_column) = segment.column(&spec.name_column) else {
        return Ok(DailyCounts::default());
    };
    let matcher = Matcher::new(
        &spec.name_column,
        name_column.column_type,
        &Predicate::Compare(CompareOp::Eq, Value::String(spec.name.clone())),
    )?;
    let named = match filter_indexed(segment, name_column, &matcher, Want::Rows)? {
        Some(Found::Rows(rows)) => rows,
        _ => chunk::filter_segment(segment, name_column, &matcher, segment.rows(), None)?.0,
    };
    let named = named & &name_column.present;
    let mut entries: Vec<(i64, u32)> = Vec::new();
    let mut bad: HashMap<i64, u32> = HashMap::new();
    let mut rows = RoaringBitmap::new();
    for (row, stored) in stored_rows(segment, spec, &named)? {
        rows.insert(row);
        match stored.key {
            Some(key) => entries.push((stored.day, key)),
            None => *bad.entry(stored.day).or_default() += 1,
        }
    }
    entries.sort_unstable();
    let mut days: Vec<i64> = entries.iter().map(|(d, _)| *d).collect();
    days.extend(bad.keys().copied());
    days.sort_unstable();
    days.dedup();
    let mut counts = DailyCounts {
        offsets: Vec::with_capacity(days.len() + 1),
        bad: days
            .iter()
            .map(|d| bad.get(d).copied().unwrap_or(0))
            .collect(),
        days,
        rows,
        ..DailyCounts::default()
    };
    let mut next = entries.into_iter().peekable();
    for &day in &counts.days {
        counts.offsets.push(counts.keys.len());
        while let Some((_, key)) = next.next_if(|(d, _)| *d == day) {
            if counts.keys.len() > *counts.offsets.last().unwrap_or(&0)
                && counts.keys.last() == Some(&key)
            {
                if let Some(c) = counts.counts.last_mut() {
                    *c += 1;
                }
            } else {
                counts.keys.push(key);
                counts.counts.push(1);
            }
        }
    }
    counts.offsets.push(counts.keys.len());
    counts.keys.shrink_to_fit();
    counts.counts.shrink_to_fit();
    Ok(counts)
}

/// The pre-aggregate of `segment` for `key`, from the segment's cache or built now (`true`).
fn daily_counts(segment: &Segment, key: &DailyKey) -> Result<(Arc<DailyCounts>, bool)> {
    if let Some(found) = segment.daily_cache().lock().get(key) {
        return Ok((Arc::clone(found), false));
    }
    let built = Arc::new(build(segment, key)?);
    let mut cache = segment.daily_cache().lock();
    let entry = cache.entry(key.clone()).or_insert(built);
    Ok((Arc::clone(entry), true))
}

/// Sorted (key, count) lists added (or subtracted) into the result.
struct Source<'a> {
    keys: &'a [u32],
    counts: &'a [u32],
    subtract: bool,
}

/// Keys whose total count is positive and passes `keep`, summing every source. `keep` is
/// asked once per distinct count.
///
/// Keys are taken 65,536 at a time (one high 16-bit block): every source's keys of the block
/// are added into a dense counter array that stays in cache, then the touched counters are
/// read back in key order and cleared.
fn merge(sources: &[Source<'_>], keep: &mut dyn FnMut(u64) -> bool) -> RoaringBitmap {
    const BLOCK: usize = 1 << 16;
    let mut cursors = vec![0usize; sources.len()];
    // Additions first, subtractions after, so a counter only leaves zero on an addition.
    let mut order: Vec<usize> = (0..sources.len()).collect();
    order.sort_by_key(|&i| sources[i].subtract);
    let mut counter = vec![0u32; BLOCK];
    // Bit i of word i / 64: counter i may be non-zero.
    let mut touched = vec![0u64; BLOCK / 64];
    // Verdicts of `keep` for small counts: 0 = not asked yet, 1 = no, 2 = yes.
    let mut verdicts = [0u8; 256];
    let mut out: Vec<u32> = Vec::new();
    loop {
        let block = sources
            .iter()
            .zip(&cursors)
            .filter_map(|(s, &c)| s.keys.get(c).map(|k| k >> 16))
            .min();
        let Some(block) = block else { break };
        for &i in &order {
            let source = &sources[i];
            let mut c = cursors[i];
            let keys = source.keys;
            let counts = source.counts;
            if source.subtract {
                while let (Some(&key), Some(&n)) = (keys.get(c), counts.get(c)) {
                    if key >> 16 != block {
                        break;
                    }
                    let low = (key & 0xFFFF) as usize;
                    counter[low] = counter[low].saturating_sub(n);
                    c += 1;
                }
            } else {
                while let (Some(&key), Some(&n)) = (keys.get(c), counts.get(c)) {
                    if key >> 16 != block {
                        break;
                    }
                    let low = (key & 0xFFFF) as usize;
                    counter[low] = counter[low].saturating_add(n);
                    touched[low / 64] |= 1 << (low % 64);
                    c += 1;
                }
            }
            cursors[i] = c;
        }
        for (w, word) in touched.iter_mut().enumerate() {
            let mut pending = std::mem::take(word);
            while pending != 0 {
                let bit = pending.trailing_zeros() as usize;
                pending &= pending - 1;
                let low = w * 64 + bit;
                let n = std::mem::take(&mut counter[low]);
                let passes = match verdicts.get_mut(n as usize) {
                    Some(0) if n == 0 => false,
                    Some(v) => {
                        if *v == 0 {
                            *v = 1 + u8::from(keep(u64::from(n)));
                        }
                        *v == 2
                    }
                    None => keep(u64::from(n)),
                };
                if passes {
                    out.push((block << 16) | low as u32);
                }
            }
        }
    }
    RoaringBitmap::from_sorted_iter(out).unwrap_or_default()
}

/// The visible rows of `column` per segment id (rows whose current value that segment holds).
fn visible_by_segment(
    snapshot: &Snapshot,
    table: TableKind,
    column: &str,
) -> Result<HashMap<u64, RoaringBitmap>> {
    let mut out = HashMap::new();
    for part in snapshot.column_parts(table, column)? {
        if let PartSource::Segment { segment, .. } = part.source {
            out.insert(segment.id(), part.visible);
        }
    }
    Ok(out)
}

/// A time predicate for `[from, until)`; `None` when the range is empty.
fn time_predicate(from: Option<i64>, until: Option<i64>) -> Option<Predicate> {
    let ts = Value::Timestamp;
    match (from, until) {
        (Some(a), Some(b)) if a >= b => None,
        (Some(a), Some(b)) => Some(Predicate::Between(ts(a), ts(b - 1))),
        (Some(a), None) => Some(Predicate::Compare(CompareOp::GreaterOrEqual, ts(a))),
        (None, Some(b)) => Some(Predicate::Compare(CompareOp::Less, ts(b))),
        (None, None) => Some(Predicate::Between(ts(i64::MIN), ts(i64::MAX))),
    }
}

/// Keys of `table` whose rows with `spec.name_column = spec.name` and `spec.time_column` in the
/// window number `n > 0` with `keep(n)` — the result of
/// `SELECT key FROM table WHERE name = … AND time >= … AND time < … GROUP BY key HAVING …`.
///
/// `None` when the pre-aggregate cannot answer exactly: a column is missing or has another
/// type, or a matching row's key is NULL or not a u32 id (callers then run the general query).
///
/// # Errors
/// Corruption found while reading.
pub fn count_by_key(
    snapshot: &Snapshot,
    table: TableKind,
    spec: &DailyCountSpec,
    keep: &mut dyn FnMut(u64) -> bool,
) -> Result<Option<(RoaringBitmap, DailyCountStats)>> {
    let schema = snapshot.schema(table);
    let types = (
        schema.column_type(&spec.key_column),
        schema.column_type(&spec.name_column),
        schema.column_type(&spec.time_column),
    );
    if types
        != (
            Some(ColumnType::Int64),
            Some(ColumnType::String),
            Some(ColumnType::Timestamp),
        )
    {
        return Ok(None);
    }
    let mut stats = DailyCountStats::default();
    let Some(window) = time_predicate(spec.from, spec.until) else {
        return Ok(Some((RoaringBitmap::new(), stats)));
    };
    let key = DailyKey {
        key_column: spec.key_column.clone(),
        name_column: spec.name_column.clone(),
        name: spec.name.clone(),
        time_column: spec.time_column.clone(),
    };
    // Whole days inside the window: [first_day, end_day).
    let first_day = spec
        .from
        .map(|f| f.div_euclid(DAY_MICROS) + i64::from(f.rem_euclid(DAY_MICROS) != 0));
    let end_day = spec.until.map(|u| u.div_euclid(DAY_MICROS));
    let whole_days = match (first_day, end_day) {
        (Some(a), Some(b)) => a < b,
        _ => true,
    };
    let visible_key = visible_by_segment(snapshot, table, &spec.key_column)?;
    let visible_name = visible_by_segment(snapshot, table, &spec.name_column)?;
    let visible_time = visible_by_segment(snapshot, table, &spec.time_column)?;
    // Rows whose three current values all live in one segment.
    let mut clean_all = RoaringBitmap::new();
    let mut pre_aggregates = Vec::new();
    for layer in snapshot.layers(table) {
        let crate::snapshot::Layer::Segment(segment) = layer else {
            continue;
        };
        let id = segment.id();
        let (Some(k), Some(n), Some(t)) = (
            visible_key.get(&id),
            visible_name.get(&id),
            visible_time.get(&id),
        ) else {
            continue;
        };
        let clean = &(k & n) & t;
        if clean.is_empty() {
            continue;
        }
        clean_all |= &clean;
        if !whole_days {
            continue;
        }
        // Segments whose stored times lie outside the whole days have nothing to add.
        let Some(time) = segment.column(&spec.time_column) else {
            continue;
        };
        let Some((lo, hi)) = stored_range(segment, time)? else {
            continue;
        };
        let (lo, hi) = (lo.div_euclid(DAY_MICROS), hi.div_euclid(DAY_MICROS));
        if first_day.is_some_and(|d| hi < d) || end_day.is_some_and(|d| lo >= d) {
            continue;
        }
        pre_aggregates.push((segment, clean));
    }
    let mut lists: Vec<(Arc<DailyCounts>, std::ops::Range<usize>)> = Vec::new();
    let mut stale: Vec<(u32, u32)> = Vec::new();
    let mut bad = 0u64;
    for (segment, clean) in pre_aggregates {
        let (counts, built) = daily_counts(segment, &key)?;
        stats.built += usize::from(built);
        let range = counts.day_range(first_day, end_day);
        if range.is_empty() {
            continue;
        }
        stats.segments += 1;
        stats.day_lists += range.len();
        bad += counts.bad[range.clone()]
            .iter()
            .map(|&b| u64::from(b))
            .sum::<u64>();
        // Stored rows counted above that no longer count as stored.
        let gone = &counts.rows - &clean;
        if !gone.is_empty() {
            let (lo, hi) = (counts.days[range.start], counts.days[range.end - 1]);
            for (_, row) in stored_rows(segment, &key, &gone)? {
                if row.day < lo || row.day > hi {
                    continue;
                }
                stats.stale_rows += 1;
                match row.key {
                    Some(k) => stale.push((k, 1)),
                    None => bad -= 1,
                }
            }
        }
        lists.push((counts, range));
    }
    if bad > 0 {
        return Ok(None);
    }
    // The scan's share: window edges of clean rows, the whole window for every other row.
    let live = snapshot.live_rows(table);
    let rest = live - &clean_all;
    let mut scan_domain = RoaringBitmap::new();
    if !rest.is_empty() {
        scan_domain |= filter_within(snapshot, table, &spec.time_column, &window, &rest)?.0;
    }
    if !clean_all.is_empty() {
        if whole_days {
            // Only the days the window cuts: [from, first whole day) and [end day, until).
            // A day start beyond the i64 range leaves that edge open on its far side.
            let ts = Value::Timestamp;
            let mut edges = Vec::new();
            if let (Some(from), Some(day)) = (spec.from, first_day) {
                match day.checked_mul(DAY_MICROS) {
                    Some(start) if start > from => {
                        edges.push(Predicate::Between(ts(from), ts(start - 1)));
                    }
                    Some(_) => {}
                    None => edges.push(Predicate::Compare(CompareOp::GreaterOrEqual, ts(from))),
                }
            }
            if let (Some(until), Some(day)) = (spec.until, end_day) {
                match day.checked_mul(DAY_MICROS) {
                    Some(start) if start < until => {
                        edges.push(Predicate::Between(ts(start), ts(until - 1)));
                    }
                    Some(_) => {}
                    None => edges.push(Predicate::Compare(CompareOp::Less, ts(until))),
                }
            }
            for edge in edges {
                scan_domain |=
                    filter_within(snapshot, table, &spec.time_column, &edge, &clean_all)?.0;
            }
        } else {
            scan_domain |=
                filter_within(snapshot, table, &spec.time_column, &window, &clean_all)?.0;
        }
    }
    let mut scanned: Vec<(u32, u32)> = Vec::new();
    if !scan_domain.is_empty() {
        let name = Predicate::Compare(CompareOp::Eq, Value::String(spec.name.clone()));
        let (rows, _) = filter_within(snapshot, table, &spec.name_column, &name, &scan_domain)?;
        stats.scanned_rows = rows.len();
        for value in snapshot.fetch_cached(table, &spec.key_column, &rows)? {
            match value {
                Value::Int64(k) => match u32::try_from(k) {
                    Ok(k) => scanned.push((k, 1)),
                    Err(_) => return Ok(None),
                },
                _ => return Ok(None),
            }
        }
    }
    scanned.sort_unstable();
    stale.sort_unstable();
    let (scan_keys, scan_counts): (Vec<u32>, Vec<u32>) = scanned.into_iter().unzip();
    let (stale_keys, stale_counts): (Vec<u32>, Vec<u32>) = stale.into_iter().unzip();
    let mut sources = Vec::new();
    for (counts, range) in &lists {
        for day in range.clone() {
            let (a, b) = (counts.offsets[day], counts.offsets[day + 1]);
            sources.push(Source {
                keys: &counts.keys[a..b],
                counts: &counts.counts[a..b],
                subtract: false,
            });
        }
    }
    sources.push(Source {
        keys: &scan_keys,
        counts: &scan_counts,
        subtract: false,
    });
    sources.push(Source {
        keys: &stale_keys,
        counts: &stale_counts,
        subtract: true,
    });
    Ok(Some((merge(&sources, keep), stats)))
}
