//! Evaluating a [`Matcher`] over the chunks of one segment column.
//!
//! Each chunk is first looked at through its cached [`ChunkSummary`] (zone map, dictionary,
//! per-value bitmaps already in global row ids), so skipped chunks and equality lookups never
//! touch the chunk's bytes. When the caller's domain leaves only a few rows of a chunk in play,
//! those rows are tested one by one on the cached decoded values instead of scanning all 65,536.

use super::cache::{summary, ChunkSummary};
use super::matcher::{FloatTest, IntTest, Matcher};
use super::rows::ChunkRows;
use super::sketch::{Sketch, Verdict, NAN_CODE};
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
/// As [`SPARSE_DOMAIN_RATIO_INT`], for dictionary codes without bitmaps.
const SPARSE_DOMAIN_RATIO: u64 = 16;
/// As [`SPARSE_DOMAIN_RATIO_INT`], for floats: their one-byte sketches stream 1/8 of the bytes
/// and decide all but ~1/128 of the rows, so a probe per row pays only when very few rows of
/// the chunk are in play.
const SPARSE_DOMAIN_RATIO_SKETCH: u64 = 512;
/// In a fused conjunction, probe a float chunk's sketch at the positions still in play rather
/// than comparing every code when fewer than 1 in this many positions are.
const SPARSE_MASK_RATIO: usize = 8;

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
            Matcher::Float(_) => SPARSE_DOMAIN_RATIO_SKETCH,
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
///
/// Positions are resolved first and then tested in a loop without branches between the
/// loads, so the processor keeps many cache misses in flight at once instead of waiting for
/// each probe in turn (probes into a decoded chunk miss the cache about once each).
fn probe(task: &ChunkTask<'_>, rows: &[u32], accepts: impl Fn(usize) -> bool) -> RoaringBitmap {
    let summary = task.summary;
    let positions: Vec<usize> = rows
        .iter()
        .map(|&row| {
            summary
                .map
                .position(row)
                .filter(|&p| p < summary.rows)
                .unwrap_or(usize::MAX)
        })
        .collect();
    let mut keep: Vec<bool> = positions
        .iter()
        .map(|&p| p != usize::MAX && accepts(p))
        .collect();
    if !summary.nulls.is_empty() {
        for (k, &p) in keep.iter_mut().zip(&positions) {
            if *k && summary.nulls.contains(u32::try_from(p).unwrap_or(u32::MAX)) {
                *k = false;
            }
        }
    }
    let matching = rows.iter().zip(keep).filter(|(_, k)| *k).map(|(&r, _)| r);
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

/// A numeric chunk's matching positions, before they become rows.
pub(super) enum ChunkMatch {
    /// No row matches.
    Nothing,
    /// Every non-NULL row matches.
    AllNonNull,
    /// A bitset over positions, NULL positions already cleared.
    Words(Vec<u64>),
}

/// What the zone map alone says of an integer chunk; `None` when values must be read.
fn int_zone(summary: &ChunkSummary, test: &IntTest) -> Option<ChunkMatch> {
    match summary.zone {
        None => Some(ChunkMatch::Nothing),
        Some(ZoneMap::Int { min, max }) if !test.may_match_range(min, max) => {
            Some(ChunkMatch::Nothing)
        }
        Some(ZoneMap::Int { min, max }) if test.matches_whole_range(min, max) => {
            Some(ChunkMatch::AllNonNull)
        }
        Some(_) => None,
    }
}

/// What the zone map alone says of a float chunk; `None` when values must be read.
fn float_zone(summary: &ChunkSummary, test: &FloatTest) -> Option<ChunkMatch> {
    match summary.zone {
        None => Some(ChunkMatch::Nothing),
        Some(ZoneMap::Float { min, max }) if !test.may_match_range(min, max) => {
            Some(ChunkMatch::Nothing)
        }
        Some(_) => None,
    }
}

/// Matching positions of an integer chunk, compared on the encoded bytes without widening.
fn int_words(task: &ChunkTask<'_>, test: &IntTest) -> Result<Vec<u64>> {
    let chunk = task.segment.chunk(task.column, task.index)?;
    let compare = |op, rhs| chunk.compare_int(op, rhs).map_err(codec_error(task));
    Ok(match test {
        IntTest::Compare(op, rhs) => compare(*op, *rhs)?,
        IntTest::Between(lo, hi) => chunk.between_int(*lo, *hi).map_err(codec_error(task))?,
        IntTest::In(items) => {
            let mut words = vec![0u64; task.summary.rows.div_ceil(64)];
            for item in items {
                let equal = compare(kernels::CompareOp::Eq, *item)?;
                words.iter_mut().zip(equal).for_each(|(w, e)| *w |= e);
            }
            words
        }
    })
}

/// Matching positions of a float chunk from its sketch; exact values are read only for the
/// codes the sketch cannot decide (usually one or two, plus NaN), and only at positions set in
/// `mask` when one is given (positions outside it may then be wrong: the caller drops them).
fn float_words(
    task: &ChunkTask<'_>,
    test: &FloatTest,
    values: &[f64],
    mask: Option<&[u64]>,
) -> Vec<u64> {
    let sketch = sketch(task, values);
    let verdicts = sketch.verdicts(test);
    if let Some(mask) = mask {
        let in_play: u32 = mask.iter().map(|w| w.count_ones()).sum();
        if (in_play as usize) * SPARSE_MASK_RATIO < task.summary.rows {
            return float_words_at(task, test, values, &sketch, &verdicts, mask);
        }
    }
    let all: Vec<u8> = (0..=u8::MAX)
        .filter(|&c| verdicts[usize::from(c)] == Verdict::All)
        .collect();
    let undecided: Vec<u8> = (0..=u8::MAX)
        .filter(|&c| verdicts[usize::from(c)] == Verdict::Maybe)
        .filter(|&c| c != NAN_CODE || sketch.has_nan)
        .collect();
    let (mut words, mut maybe) = match (as_range(&all), as_range(&undecided)) {
        (Some(a), Some(b)) => kernels::two_ranges_u8(&sketch.codes, a, b),
        _ => (
            codes_in(&sketch.codes, &all),
            codes_in(&sketch.codes, &undecided),
        ),
    };
    if let Some(mask) = mask {
        maybe.iter_mut().zip(mask).for_each(|(m, k)| *m &= k);
    }
    // Undecided rows are few (~1 in 128): their exact values are loaded in a loop without
    // branches, so the cache misses overlap.
    let mut undecided_at: Vec<usize> = Vec::new();
    for (w, &bits) in maybe.iter().enumerate() {
        let mut pending = bits;
        while pending != 0 {
            undecided_at.push(w * 64 + pending.trailing_zeros() as usize);
            pending &= pending - 1;
        }
    }
    let accepted: Vec<bool> = undecided_at
        .iter()
        .map(|&p| values.get(p).is_some_and(|&v| test.accepts(v)))
        .collect();
    for (&p, ok) in undecided_at.iter().zip(accepted) {
        if let Some(word) = words.get_mut(p / 64) {
            *word |= u64::from(ok) << (p % 64);
        }
    }
    kernels::clear_positions(&mut words, &task.summary.nulls);
    words
}

/// [`float_words`] when few positions are in play: the sketch is probed at the positions set in
/// `mask` only (rows outside it are left unset).
fn float_words_at(
    task: &ChunkTask<'_>,
    test: &FloatTest,
    values: &[f64],
    sketch: &Sketch,
    verdicts: &[Verdict; 256],
    mask: &[u64],
) -> Vec<u64> {
    let mut words = vec![0u64; mask.len()];
    let mut undecided_at: Vec<usize> = Vec::new();
    for (w, (&bits, word)) in mask.iter().zip(words.iter_mut()).enumerate() {
        let mut pending = bits;
        while pending != 0 {
            let bit = pending.trailing_zeros() as usize;
            pending &= pending - 1;
            let p = w * 64 + bit;
            match sketch.codes.get(p).map(|&c| verdicts[usize::from(c)]) {
                Some(Verdict::All) => *word |= 1 << bit,
                Some(Verdict::Maybe) => undecided_at.push(p),
                _ => {}
            }
        }
    }
    for p in undecided_at {
        if values.get(p).is_some_and(|&v| test.accepts(v)) {
            if let Some(word) = words.get_mut(p / 64) {
                *word |= 1 << (p % 64);
            }
        }
    }
    kernels::clear_positions(&mut words, &task.summary.nulls);
    words
}

/// Matching positions of numeric chunk `index` of `column`, for fused conjunctions: exact at
/// the positions set in `mask` (all positions without one); `None` for matchers that are not
/// numeric.
pub(super) fn numeric_match(
    segment: &Segment,
    column: &SegmentColumn,
    index: usize,
    matcher: &Matcher,
    mask: Option<&[u64]>,
    stats: &mut FilterStats,
) -> Result<Option<ChunkMatch>> {
    let summary = summary(segment, column, index)?;
    let task = ChunkTask {
        segment,
        column,
        index,
        summary: &summary,
        sparse: None,
    };
    Ok(Some(match matcher {
        Matcher::Int(test) => match int_zone(&summary, test) {
            Some(decided) => {
                stats.chunks_skipped += 1;
                decided
            }
            None => {
                stats.chunks_scanned += 1;
                ChunkMatch::Words(int_words(&task, test)?)
            }
        },
        Matcher::Float(test) => match float_zone(&summary, test) {
            Some(decided) => {
                stats.chunks_skipped += 1;
                decided
            }
            None => {
                stats.chunks_by_sketch += 1;
                let values = segment.cached_values(column, index)?;
                let ChunkValues::Float64(values) = &values.0 else {
                    return Ok(Some(ChunkMatch::Nothing));
                };
                ChunkMatch::Words(float_words(&task, test, values, mask))
            }
        },
        _ => return Ok(None),
    }))
}

/// The rows of a decided chunk.
fn match_rows(task: &ChunkTask<'_>, found: ChunkMatch) -> Option<RoaringBitmap> {
    match found {
        ChunkMatch::Nothing => None,
        ChunkMatch::AllNonNull => non_empty(task.summary.non_null_rows()),
        ChunkMatch::Words(words) => non_empty(bits_to_rows(task, words)),
    }
}

fn evaluate_int(
    task: &ChunkTask<'_>,
    test: &IntTest,
    stats: &mut FilterStats,
) -> Result<Option<RoaringBitmap>> {
    if let Some(decided) = int_zone(task.summary, test) {
        stats.chunks_skipped += 1;
        return Ok(match_rows(task, decided));
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
    Ok(match_rows(task, ChunkMatch::Words(int_words(task, test)?)))
}

fn evaluate_float(
    task: &ChunkTask<'_>,
    test: &FloatTest,
    stats: &mut FilterStats,
) -> Result<Option<RoaringBitmap>> {
    if let Some(decided) = float_zone(task.summary, test) {
        stats.chunks_skipped += 1;
        return Ok(match_rows(task, decided));
    }
    let values = task.segment.cached_values(task.column, task.index)?;
    let ChunkValues::Float64(values) = &values.0 else {
        return Ok(None);
    };
    if let Some(rows) = &task.sparse {
        stats.chunks_scanned += 1;
        return Ok(non_empty(probe(task, rows, |p| {
            values.get(p).is_some_and(|&v| test.accepts(v))
        })));
    }
    stats.chunks_by_sketch += 1;
    Ok(match_rows(
        task,
        ChunkMatch::Words(float_words(task, test, values, None)),
    ))
}

/// The chunk's sketch, built on first use and kept in the segment's cache.
fn sketch(task: &ChunkTask<'_>, values: &[f64]) -> std::sync::Arc<Sketch> {
    let slot = task.segment.chunk_cache(task.column, task.index);
    if let Some(built) = slot.and_then(|c| c.sketch.get()) {
        return std::sync::Arc::clone(built);
    }
    let built = std::sync::Arc::new(Sketch::build(values));
    if let Some(slot) = slot {
        let _ = slot.sketch.set(std::sync::Arc::clone(&built));
    }
    built
}

/// `codes` as one inclusive range (`(1, 0)`, an empty one, when there are none); `None` when
/// they are not consecutive.
fn as_range(codes: &[u8]) -> Option<(u8, u8)> {
    match (codes.first(), codes.last()) {
        (Some(&low), Some(&high)) => {
            (usize::from(high - low) + 1 == codes.len()).then_some((low, high))
        }
        _ => Some((1, 0)),
    }
}

/// Positions whose code is one of `codes`.
fn codes_in(values: &[u8], codes: &[u8]) -> Vec<u64> {
    match as_range(codes) {
        Some((low, high)) if low <= high => kernels::between_u8(values, low, high),
        Some(_) => vec![0; values.len().div_ceil(64)],
        None => {
            let mut table = [false; 256];
            for &code in codes {
                table[usize::from(code)] = true;
            }
            kernels::bytes_in_set(values, &table)
        }
    }
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
