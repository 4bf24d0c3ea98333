//! Evaluating a [`Matcher`] over the chunks of one segment column.
//!
//! Each chunk is first looked at through its cached [`ChunkSummary`] (zone map, dictionary,
//! per-value bitmaps already in global row ids), so skipped chunks and equality lookups never
//! touch the chunk's bytes. When the caller's domain leaves only a few rows of a chunk in play,
//! those rows are tested one by one on the cached decoded values instead of scanning all 65,536.

use super::cache::{summary, ChunkSummary};
use super::matcher::{FloatTest, IntTest, Matcher};
use super::rows::ChunkRows;
use super::FilterStats;
use crate::codec::{kernels, ChunkValues, ZoneMap};
use crate::error::Result;
use crate::segment::{Segment, SegmentColumn};
use roaring::RoaringBitmap;

/// Use per-value bitmaps only when few dictionary entries match; past that a scan of the
/// codes is cheaper than OR-ing many bitmaps.
const MAX_BITMAPS_TO_UNION: usize = 32;

/// Test rows one by one on the cached decoded values when fewer than 1 in this many rows of
/// a chunk are in the domain. Probes into 8-byte values miss the cache about once each (~15 ns
/// measured), while a vectorized pass streams the whole chunk; integers compare on the encoded
/// narrow lanes (1/8 of the bytes), so they stay vectorized much longer than floats.
const SPARSE_DOMAIN_RATIO_INT: u64 = 64;
/// As [`SPARSE_DOMAIN_RATIO_INT`], for floats and dictionary codes without bitmaps.
const SPARSE_DOMAIN_RATIO: u64 = 16;

/// One chunk being evaluated: where it is and which rows are in play.
struct ChunkTask<'a> {
    segment: &'a Segment,
    column: &'a SegmentColumn,
    index: usize,
    summary: &'a ChunkSummary,
    /// The rows to test one by one, when the domain is sparse in this chunk.
    sparse: Option<Vec<u32>>,
}

pub(super) fn filter_segment(
    segment: &Segment,
    column: &SegmentColumn,
    matcher: &Matcher,
    visible: &RoaringBitmap,
    domain: Option<&RoaringBitmap>,
) -> Result<(RoaringBitmap, FilterStats)> {
    let mut result = RoaringBitmap::new();
    let mut stats = FilterStats::default();
    for index in 0..segment.chunk_count() {
        let (first, next) = segment.chunk_row_bounds(index);
        let visible_here = range_cardinality(visible, first, next);
        if visible_here == 0 {
            continue;
        }
        let in_domain = domain.map(|d| range_cardinality(d, first, next));
        if in_domain == Some(0) {
            continue;
        }
        let summary = summary(segment, column, index)?;
        let ratio = match matcher {
            Matcher::Int(_) => SPARSE_DOMAIN_RATIO_INT,
            _ => SPARSE_DOMAIN_RATIO,
        };
        let sparse = match (domain, in_domain) {
            (Some(d), Some(n)) if n * ratio < summary.rows as u64 => Some(match next {
                Some(end) => d.range(first..end).collect(),
                None => d.range(first..).collect(),
            }),
            _ => None,
        };
        let task = ChunkTask {
            segment,
            column,
            index,
            summary: &summary,
            sparse,
        };
        let Some(found) = evaluate(&task, matcher, &mut stats)? else {
            continue;
        };
        // Most chunks are wholly visible (one compacted layer): no intersection needed.
        if visible_here == summary.rows as u64 {
            result |= found;
        } else {
            result |= found & visible;
        }
    }
    Ok((result, stats))
}

/// Global rows whose value is a stored NULL in this segment column.
pub(super) fn segment_nulls(segment: &Segment, column: &SegmentColumn) -> Result<RoaringBitmap> {
    let mut result = RoaringBitmap::new();
    for index in 0..segment.chunk_count() {
        result |= &summary(segment, column, index)?.null_rows;
    }
    Ok(result)
}

pub(super) fn chunk_rows(segment: &Segment, index: usize) -> ChunkRows {
    match segment.chunk_dense_start(index) {
        Some(start) => ChunkRows::Dense { start },
        None => ChunkRows::Listed(segment.chunk_rows(index)),
    }
}

fn range_cardinality(bitmap: &RoaringBitmap, first: u32, next: Option<u32>) -> u64 {
    match next {
        Some(next) => bitmap.range_cardinality(first..next),
        None => bitmap.range_cardinality(first..),
    }
}

fn codec_error<'t>(
    task: &'t ChunkTask<'_>,
) -> impl Fn(crate::codec::CodecError) -> crate::error::Error + 't {
    move |e| {
        task.segment
            .chunk_error(&task.column.chunks[task.index], &task.column.name, &e)
    }
}

/// Matching global rows of the chunk (NULLs excluded), `None` when nothing matches.
fn evaluate(
    task: &ChunkTask<'_>,
    matcher: &Matcher,
    stats: &mut FilterStats,
) -> Result<Option<RoaringBitmap>> {
    match matcher {
        Matcher::Int(test) => evaluate_int(task, test, stats),
        Matcher::Float(test) => evaluate_float(task, test, stats),
        Matcher::Bool {
            accept_false,
            accept_true,
        } => evaluate_codes(task, &[*accept_false, *accept_true], stats),
        Matcher::Text(test) => {
            let accepted: Vec<bool> = task
                .summary
                .dictionary
                .iter()
                .map(|entry| test.accepts(entry))
                .collect();
            evaluate_codes(task, &accepted, stats)
        }
        Matcher::ListContains(wanted) => evaluate_list(task, wanted, stats),
    }
}

/// Tests the sparse domain rows one by one with `accepts(position)`.
fn probe(task: &ChunkTask<'_>, rows: &[u32], accepts: impl Fn(usize) -> bool) -> RoaringBitmap {
    let summary = task.summary;
    let matching = rows.iter().copied().filter(|&row| {
        summary.map.position(row).is_some_and(|p| {
            p < summary.rows
                && !summary.nulls.contains(u32::try_from(p).unwrap_or(u32::MAX))
                && accepts(p)
        })
    });
    RoaringBitmap::from_sorted_iter(matching).unwrap_or_default()
}

fn non_empty(rows: RoaringBitmap) -> Option<RoaringBitmap> {
    (!rows.is_empty()).then_some(rows)
}

/// Rows of a bitset over positions whose NULL placeholders may be set.
fn bits_to_rows(task: &ChunkTask<'_>, mut words: Vec<u64>) -> RoaringBitmap {
    kernels::clear_positions(&mut words, &task.summary.nulls);
    task.summary.map.bits_to_rows(&words, task.summary.rows)
}

fn evaluate_int(
    task: &ChunkTask<'_>,
    test: &IntTest,
    stats: &mut FilterStats,
) -> Result<Option<RoaringBitmap>> {
    match task.summary.zone {
        None => {
            stats.chunks_skipped += 1;
            return Ok(None);
        }
        Some(ZoneMap::Int { min, max }) => {
            if !test.may_match_range(min, max) {
                stats.chunks_skipped += 1;
                return Ok(None);
            }
            if test.matches_whole_range(min, max) {
                stats.chunks_skipped += 1;
                return Ok(non_empty(task.summary.non_null_rows()));
            }
        }
        Some(ZoneMap::Float { .. }) => {}
    }
    stats.chunks_scanned += 1;
    if let Some(rows) = &task.sparse {
        let values = task.segment.cached_values(task.column, task.index)?;
        let (ChunkValues::Int64(values) | ChunkValues::Timestamp(values)) = &values.0 else {
            return Ok(None);
        };
        return Ok(non_empty(probe(task, rows, |p| {
            values.get(p).is_some_and(|&v| test.accepts(v))
        })));
    }
    // Compares on the encoded bytes without widening; null rows are already excluded.
    let chunk = task.segment.chunk(task.column, task.index)?;
    let compare = |op, rhs| chunk.compare_int(op, rhs).map_err(codec_error(task));
    let words = match test {
        IntTest::Compare(op, rhs) => compare(*op, *rhs)?,
        IntTest::Between(lo, hi) => {
            let mut words = compare(kernels::CompareOp::GreaterOrEqual, *lo)?;
            let upper = compare(kernels::CompareOp::LessOrEqual, *hi)?;
            words.iter_mut().zip(upper).for_each(|(w, u)| *w &= u);
            words
        }
        IntTest::In(items) => {
            let mut words = vec![0u64; task.summary.rows.div_ceil(64)];
            for item in items {
                let equal = compare(kernels::CompareOp::Eq, *item)?;
                words.iter_mut().zip(equal).for_each(|(w, e)| *w |= e);
            }
            words
        }
    };
    Ok(non_empty(
        task.summary.map.bits_to_rows(&words, task.summary.rows),
    ))
}

fn evaluate_float(
    task: &ChunkTask<'_>,
    test: &FloatTest,
    stats: &mut FilterStats,
) -> Result<Option<RoaringBitmap>> {
    match task.summary.zone {
        None => {
            stats.chunks_skipped += 1;
            return Ok(None);
        }
        Some(ZoneMap::Float { min, max }) if !test.may_match_range(min, max) => {
            stats.chunks_skipped += 1;
            return Ok(None);
        }
        Some(_) => {}
    }
    stats.chunks_scanned += 1;
    let values = task.segment.cached_values(task.column, task.index)?;
    let ChunkValues::Float64(values) = &values.0 else {
        return Ok(None);
    };
    if let Some(rows) = &task.sparse {
        return Ok(non_empty(probe(task, rows, |p| {
            values.get(p).is_some_and(|&v| test.accepts(v))
        })));
    }
    let words = match test {
        FloatTest::Compare(op, rhs) => kernels::compare_f64(values, *op, *rhs),
        FloatTest::Between(lo, hi) => kernels::between_f64(values, *lo, *hi),
        FloatTest::In(items) => any_of(
            items
                .iter()
                .map(|v| kernels::compare_f64(values, kernels::CompareOp::Eq, *v)),
            values.len(),
        ),
    };
    Ok(non_empty(bits_to_rows(task, words)))
}

fn any_of(bitsets: impl Iterator<Item = Vec<u64>>, len: usize) -> Vec<u64> {
    let mut out = vec![0u64; len.div_ceil(64)];
    for bits in bitsets {
        for (o, b) in out.iter_mut().zip(bits) {
            *o |= b;
        }
    }
    out
}

/// Dictionary-coded (and bool) chunks: `accepted[code]` says which codes match.
fn evaluate_codes(
    task: &ChunkTask<'_>,
    accepted: &[bool],
    stats: &mut FilterStats,
) -> Result<Option<RoaringBitmap>> {
    let matching_codes: Vec<usize> = accepted
        .iter()
        .enumerate()
        .filter(|(_, ok)| **ok)
        .map(|(code, _)| code)
        .collect();
    if matching_codes.is_empty() {
        stats.chunks_skipped += 1;
        return Ok(None);
    }
    if let Some(bitmaps) = &task.summary.value_bitmaps {
        if matching_codes.len() <= MAX_BITMAPS_TO_UNION {
            stats.chunks_by_value_bitmap += 1;
            let mut rows = RoaringBitmap::new();
            for code in matching_codes {
                if let Some(bitmap) = bitmaps.get(code) {
                    rows |= bitmap;
                }
            }
            return Ok(non_empty(rows));
        }
    }
    stats.chunks_scanned += 1;
    let values = task.segment.cached_values(task.column, task.index)?;
    let accepts = |code: u32| accepted.get(code as usize).copied().unwrap_or(false);
    match &values.0 {
        ChunkValues::String { codes, .. } => Ok(non_empty(match &task.sparse {
            Some(rows) => probe(task, rows, |p| codes.get(p).is_some_and(|&c| accepts(c))),
            None => bits_to_rows(task, kernels::codes_in_set(codes, accepted)),
        })),
        ChunkValues::Bool(values) => Ok(non_empty(match &task.sparse {
            Some(rows) => probe(task, rows, |p| {
                values.get(p).is_some_and(|&b| accepts(u32::from(b)))
            }),
            None => {
                let codes: Vec<u32> = values.iter().map(|b| u32::from(*b)).collect();
                bits_to_rows(task, kernels::codes_in_set(&codes, accepted))
            }
        })),
        _ => Ok(None),
    }
}

fn evaluate_list(
    task: &ChunkTask<'_>,
    wanted: &str,
    stats: &mut FilterStats,
) -> Result<Option<RoaringBitmap>> {
    let Ok(code) = task
        .summary
        .dictionary
        .binary_search_by(|entry| entry.as_str().cmp(wanted))
    else {
        stats.chunks_skipped += 1;
        return Ok(None);
    };
    if let Some(bitmap) = task
        .summary
        .value_bitmaps
        .as_ref()
        .and_then(|b| b.get(code))
    {
        stats.chunks_by_value_bitmap += 1;
        return Ok(non_empty(bitmap.clone()));
    }
    stats.chunks_scanned += 1;
    let code = u32::try_from(code).unwrap_or(u32::MAX);
    let values = task.segment.cached_values(task.column, task.index)?;
    let ChunkValues::StringList { offsets, codes, .. } = &values.0 else {
        return Ok(None);
    };
    let contains = |row: usize| {
        let start = offsets.get(row).copied().unwrap_or(0) as usize;
        let end = offsets.get(row + 1).copied().unwrap_or(0) as usize;
        codes
            .get(start..end)
            .is_some_and(|items| items.contains(&code))
    };
    if let Some(rows) = &task.sparse {
        return Ok(non_empty(probe(task, rows, contains)));
    }
    let rows = task.summary.rows;
    let mut words = vec![0u64; rows.div_ceil(64)];
    for row in (0..rows).filter(|&r| contains(r)) {
        words[row / 64] |= 1 << (row % 64);
    }
    Ok(non_empty(bits_to_rows(task, words)))
}
