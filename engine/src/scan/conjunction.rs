//! Conjunctions over one segment, fused into one pass.
//!
//! When every condition of an AND reads the same (compacted) segment, the conditions are
//! evaluated chunk by chunk and ANDed while the chunk's bitset is in cache: equality/IN on an
//! indexed column is the OR of per-value bitsets, a numeric comparison is a vectorized compare
//! on the encoded integers or on the float sketch. Each input is read once, no intermediate
//! row set is built, and a `COUNT(*)` needs no result at all. Besides the final rows, the pass
//! counts the rows left after each condition, which is what `EXPLAIN ANALYZE` reports per leaf.

use super::cache::summary;
use super::chunk::{numeric_match, ChunkMatch};
use super::index::{index_accepts, indexable, value_index};
use super::matcher::Matcher;
use super::{matcher, FilterStats, Predicate};
use crate::codec::bitset_to_bitmap;
use crate::error::Result;
use crate::schema::TableKind;
use crate::segment::{Segment, SegmentColumn};
use crate::snapshot::{PartSource, Snapshot};
use roaring::RoaringBitmap;
use std::sync::Arc;

/// Values one condition may take before the fused pass stops paying (each is a bitset read).
const MAX_VALUES_PER_CONDITION: usize = 16;

/// Most threads one conjunction uses.
const MAX_THREADS: usize = 4;

/// Chunks (of 65,536 rows) each thread must have before a second one pays for its start;
/// `PROFILEDB_SCAN_CHUNKS_PER_THREAD` overrides it (tests use 1 to split small tables).
const MIN_CHUNKS_PER_THREAD: usize = 8;

fn min_chunks_per_thread() -> usize {
    static VALUE: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *VALUE.get_or_init(|| {
        std::env::var("PROFILEDB_SCAN_CHUNKS_PER_THREAD")
            .ok()
            .and_then(|v| v.parse().ok())
            .filter(|&n| n > 0)
            .unwrap_or(MIN_CHUNKS_PER_THREAD)
    })
}

/// What [`conjunction`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct Conjunction {
    /// `counts[i]`: rows of the domain satisfying conditions `0..=i`.
    pub counts: Vec<u64>,
    /// The rows satisfying every condition, when asked for.
    pub rows: Option<RoaringBitmap>,
    /// How each condition was answered.
    pub stats: Vec<FilterStats>,
}

/// One condition of a fused conjunction.
enum Term<'s> {
    /// Equality/IN on an indexed column: the OR of these per-value bitsets.
    Bitsets(Vec<Arc<Vec<u64>>>),
    /// A numeric comparison, evaluated chunk by chunk on the encoded lanes or the sketch.
    Scan {
        segment: &'s Segment,
        column: &'s SegmentColumn,
        matcher: Matcher,
    },
}

/// Rows of `domain` satisfying every `(column, predicate)` of `conditions`, in one fused pass:
/// chunk by chunk, each condition produces a bitset of the chunk's positions (per-value
/// bitsets for equality/IN on indexed columns, vectorized compares on encoded integers or float
/// sketches for comparisons) that is ANDed into the running result while it is in cache.
/// `None` when the conditions do not all fit that path (a column spread over several layers,
/// a domain that is not the whole segment, a condition without a fused form, …): the caller
/// then evaluates them one by one.
///
/// # Errors
/// An unknown column, a predicate the column's type cannot answer, or corruption.
pub fn conjunction(
    snapshot: &Snapshot,
    table: TableKind,
    conditions: &[(&str, &Predicate)],
    domain: &RoaringBitmap,
    want_rows: bool,
) -> Result<Option<Conjunction>> {
    if conditions.len() < 2 {
        return Ok(None);
    }
    let mut segment: Option<&Segment> = None;
    let mut terms: Vec<Term<'_>> = Vec::with_capacity(conditions.len());
    let mut stats = vec![FilterStats::default(); conditions.len()];
    for (i, (column, predicate)) in conditions.iter().enumerate() {
        let matcher = matcher(snapshot, table, column, predicate)?;
        let parts = snapshot.column_parts(table, column)?;
        let [part] = parts.as_slice() else {
            return Ok(None);
        };
        let PartSource::Segment {
            segment: here,
            column,
        } = part.source
        else {
            return Ok(None);
        };
        // Every stored value of the column counts (no newer layer, no deletion hides one).
        if part.visible.len() != column.present.len()
            || segment.is_some_and(|s| s.id() != here.id())
        {
            return Ok(None);
        }
        if segment.is_none() {
            // Whole chunks of consecutive rows, all in the domain: positions map to rows by an
            // offset and the bitsets need no mask.
            let rows = here.rows();
            let dense = match (rows.min(), rows.max()) {
                (Some(min), Some(max)) => u64::from(max - min) + 1 == rows.len(),
                _ => false,
            };
            if !dense || !domain.is_superset(rows) {
                return Ok(None);
            }
            segment = Some(here);
        }
        if indexable(&matcher) {
            let Some(index) = value_index(here, column)? else {
                return Ok(None);
            };
            let accepted = index.accepted(|i, value| index_accepts(&matcher, i, value));
            if accepted.len() > MAX_VALUES_PER_CONDITION {
                return Ok(None);
            }
            let mut bitsets = Vec::with_capacity(accepted.len());
            for value in accepted {
                match index.dense(value) {
                    Some(bits) => bitsets.push(bits),
                    None => return Ok(None),
                }
            }
            stats[i].segments_by_value_index = 1;
            terms.push(Term::Bitsets(bitsets));
        } else if matches!(matcher, Matcher::Int(_) | Matcher::Float(_)) {
            terms.push(Term::Scan {
                segment: here,
                column,
                matcher,
            });
        } else {
            return Ok(None);
        }
    }
    let Some(segment) = segment else {
        return Ok(None);
    };
    let first = segment.rows().min().unwrap_or(0);
    let total = usize::try_from(segment.rows().len()).unwrap_or(usize::MAX);
    let chunks = segment.chunk_count();
    // Large segments are split into contiguous chunk ranges evaluated on parallel threads; each
    // part's counts add up and its words follow the previous part's.
    // Only conditions that decode or compare chunks are worth a thread: ANDs of bitsets alone
    // run at memory speed on one core.
    let scans = terms.iter().any(|t| matches!(t, Term::Scan { .. }));
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .min(if scans { MAX_THREADS } else { 1 })
        .min(chunks / min_chunks_per_thread())
        .max(1);
    let ranges: Vec<std::ops::Range<usize>> = (0..threads)
        .map(|t| t * chunks / threads..(t + 1) * chunks / threads)
        .collect();
    let run = |range: std::ops::Range<usize>| {
        evaluate_chunks(segment, &terms, range, first, total, want_rows)
    };
    let parts: Vec<Result<Option<Part>>> = if ranges.len() == 1 {
        vec![run(0..chunks)]
    } else {
        std::thread::scope(|scope| {
            let (head, tail) = ranges.split_first().expect("at least one range");
            let handles: Vec<_> = tail
                .iter()
                .map(|range| {
                    let range = range.clone();
                    scope.spawn(move || run(range))
                })
                .collect();
            let mut parts = vec![run(head.clone())];
            for handle in handles {
                // A worker's panic is this thread's panic, as without threads.
                parts.push(
                    handle
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                );
            }
            parts
        })
    };
    let mut counts = vec![0u64; terms.len()];
    let mut out: Option<Vec<u64>> = want_rows.then(|| Vec::with_capacity(total.div_ceil(64)));
    for part in parts {
        let Some(part) = part? else {
            return Ok(None);
        };
        for (c, n) in counts.iter_mut().zip(&part.counts) {
            *c += n;
        }
        for (s, p) in stats.iter_mut().zip(&part.stats) {
            s.add(*p);
        }
        if let (Some(out), Some(words)) = (&mut out, part.words) {
            out.extend_from_slice(&words);
        }
    }
    let rows = out.map(|words| bitset_to_bitmap(&words, total, first));
    Ok(Some(Conjunction {
        counts,
        rows,
        stats,
    }))
}

/// What one range of chunks contributed.
struct Part {
    counts: Vec<u64>,
    stats: Vec<FilterStats>,
    words: Option<Vec<u64>>,
}

/// Evaluates `terms` over chunks `range` of `segment` (rows from `first`, `total` of them);
/// `None` when a chunk is not aligned on a 64-row word.
fn evaluate_chunks(
    segment: &Segment,
    terms: &[Term<'_>],
    range: std::ops::Range<usize>,
    first: u32,
    total: usize,
    want_rows: bool,
) -> Result<Option<Part>> {
    let mut counts = vec![0u64; terms.len()];
    let mut stats = vec![FilterStats::default(); terms.len()];
    let mut out: Option<Vec<u64>> = want_rows.then(Vec::new);
    let mut acc: Vec<u64> = Vec::new();
    let mut any: Vec<u64> = Vec::new();
    for index in range {
        let (start, next) = segment.chunk_row_bounds(index);
        let end = next.map_or(u64::from(first) + total as u64, u64::from);
        let rows = usize::try_from(end - u64::from(start)).unwrap_or(0);
        let offset = (start - first) as usize;
        if !offset.is_multiple_of(64) {
            return Ok(None);
        }
        let (w0, words) = (offset / 64, rows.div_ceil(64));
        acc.clear();
        acc.extend(crate::codec::kernels::all_set(rows));
        for (t, term) in terms.iter().enumerate() {
            match term {
                Term::Bitsets(bitsets) => match bitsets.as_slice() {
                    [] => acc.fill(0),
                    [only] => and_into(&mut acc, &only[w0..w0 + words]),
                    [head, rest @ ..] => {
                        any.clear();
                        any.extend_from_slice(&head[w0..w0 + words]);
                        for bits in rest {
                            or_into(&mut any, &bits[w0..w0 + words]);
                        }
                        and_into(&mut acc, &any);
                    }
                },
                Term::Scan {
                    segment,
                    column,
                    matcher,
                } => {
                    match numeric_match(segment, column, index, matcher, Some(&acc), &mut stats[t])?
                    {
                        Some(ChunkMatch::Words(bits)) => and_into(&mut acc, &bits),
                        Some(ChunkMatch::AllNonNull) => {
                            let nulls = &summary(segment, column, index)?.nulls;
                            crate::codec::kernels::clear_positions(&mut acc, nulls);
                        }
                        Some(ChunkMatch::Nothing) | None => acc.fill(0),
                    }
                }
            }
            let n = popcount(&acc);
            counts[t] += n;
            if n == 0 {
                // Nothing left in this chunk: later conditions cannot add rows.
                break;
            }
        }
        if let Some(out) = &mut out {
            out.extend_from_slice(&acc);
        }
    }
    Ok(Some(Part {
        counts,
        stats,
        words: out,
    }))
}

#[inline]
fn and_into(acc: &mut [u64], bits: &[u64]) {
    for (a, b) in acc.iter_mut().zip(bits) {
        *a &= b;
    }
}

#[inline]
fn or_into(acc: &mut [u64], bits: &[u64]) {
    for (a, b) in acc.iter_mut().zip(bits) {
        *a |= b;
    }
}

/// Set bits of `words`. Byte-wise SWAR sums (no popcount instruction needed) that the
/// compiler vectorizes: per word, bits are summed in 2-, 4- and 8-bit fields, and the byte
/// sums of up to 31 words are accumulated before being folded.
#[inline]
fn popcount(words: &[u64]) -> u64 {
    const M1: u64 = 0x5555_5555_5555_5555;
    const M2: u64 = 0x3333_3333_3333_3333;
    const M4: u64 = 0x0F0F_0F0F_0F0F_0F0F;
    let mut total = 0u64;
    for group in words.chunks(31) {
        let mut bytes = 0u64;
        for &w in group {
            let x = w - ((w >> 1) & M1);
            let x = (x & M2) + ((x >> 2) & M2);
            bytes += (x + (x >> 4)) & M4;
        }
        // Each byte holds at most 31 * 8 = 248: widen to 16-bit sums, then fold those four.
        let pairs = (bytes & 0x00FF_00FF_00FF_00FF) + ((bytes >> 8) & 0x00FF_00FF_00FF_00FF);
        total += pairs.wrapping_mul(0x0001_0001_0001_0001) >> 48;
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn popcount_matches_count_ones(words in prop::collection::vec(any::<u64>(), 0..200)) {
            let expected: u64 = words.iter().map(|w| u64::from(w.count_ones())).sum();
            prop_assert_eq!(popcount(&words), expected);
        }
    }
}
