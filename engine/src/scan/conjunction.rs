//! Conjunctions of equality/IN conditions on indexed columns, fused into one pass.
//!
//! When every condition of an AND is answered by per-value bitmaps of the same segment, the
//! AND of ORs is computed word by word over plain bitsets of those values: each input is read
//! once, nothing intermediate is allocated, and a `COUNT(*)` needs no result at all. Besides
//! the final rows, the pass counts the rows left after each condition, which is what `EXPLAIN
//! ANALYZE` reports per leaf.

use super::index::{index_accepts, indexable, value_index};
use super::{matcher, FilterStats, Predicate};
use crate::codec::bitset_to_bitmap;
use crate::error::Result;
use crate::schema::TableKind;
use crate::snapshot::{PartSource, Snapshot};
use roaring::RoaringBitmap;
use std::sync::Arc;

/// Values one condition may take before the fused pass stops paying (each is a bitset read).
const MAX_VALUES_PER_CONDITION: usize = 16;

/// Words processed per step: the running AND stays in L1 while every input streams through.
const STEP: usize = 512;

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

/// Rows of `domain` satisfying every `(column, predicate)` of `conditions`, in one fused pass
/// over per-value bitsets; `None` when the conditions do not all fit that path (a column not
/// indexed, spread over several layers, a domain that is not the whole segment, …), and the
/// caller evaluates them one by one instead.
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
    let mut segment_id = None;
    let mut span = None;
    let mut terms: Vec<Vec<Arc<Vec<u64>>>> = Vec::with_capacity(conditions.len());
    for (column, predicate) in conditions {
        let matcher = matcher(snapshot, table, column, predicate)?;
        if !indexable(&matcher) {
            return Ok(None);
        }
        let parts = snapshot.column_parts(table, column)?;
        let [part] = parts.as_slice() else {
            return Ok(None);
        };
        let PartSource::Segment { segment, column } = part.source else {
            return Ok(None);
        };
        if part.visible.len() != segment.rows().len()
            || segment_id.is_some_and(|id| id != segment.id())
        {
            return Ok(None);
        }
        if segment_id.is_none() {
            // The domain must hold every row of the segment: the bitsets then need no mask.
            if !domain.is_superset(segment.rows()) {
                return Ok(None);
            }
            segment_id = Some(segment.id());
        }
        let Some(index) = value_index(segment, column)? else {
            return Ok(None);
        };
        if index.span.is_none() || span.is_some_and(|s| Some(s) != index.span) {
            return Ok(None);
        }
        span = index.span;
        let accepted = index.accepted(|i, value| index_accepts(&matcher, i, value));
        if accepted.len() > MAX_VALUES_PER_CONDITION {
            return Ok(None);
        }
        let mut bitsets = Vec::with_capacity(accepted.len());
        for i in accepted {
            match index.dense(i) {
                Some(bits) => bitsets.push(bits),
                None => return Ok(None),
            }
        }
        terms.push(bitsets);
    }
    let Some((first, words)) = span else {
        return Ok(None);
    };
    let terms: Vec<Vec<&[u64]>> = terms
        .iter()
        .map(|t| t.iter().map(|b| b.as_slice()).collect())
        .collect();
    let (counts, out) = fused(&terms, words, want_rows);
    let rows = out.map(|words| bitset_to_bitmap(&words, words.len() * 64, first));
    let stats = conditions
        .iter()
        .map(|_| FilterStats {
            segments_by_value_index: 1,
            ..FilterStats::default()
        })
        .collect();
    Ok(Some(Conjunction {
        counts,
        rows,
        stats,
    }))
}

/// The AND over `terms` of the OR of each term's bitsets (`words` words each): the number of
/// set bits after each term, and the final bitset when `want_rows`.
fn fused(terms: &[Vec<&[u64]>], words: usize, want_rows: bool) -> (Vec<u64>, Option<Vec<u64>>) {
    let mut counts = vec![0u64; terms.len()];
    let mut out = want_rows.then(|| Vec::with_capacity(words));
    let mut acc = [0u64; STEP];
    let mut any = [0u64; STEP];
    let mut start = 0;
    while start < words {
        let len = STEP.min(words - start);
        let acc = &mut acc[..len];
        acc.fill(u64::MAX);
        for (t, term) in terms.iter().enumerate() {
            match term.as_slice() {
                [] => acc.fill(0),
                [only] => and_into(acc, &only[start..start + len]),
                [head, rest @ ..] => {
                    let any = &mut any[..len];
                    any.copy_from_slice(&head[start..start + len]);
                    for bits in rest {
                        or_into(any, &bits[start..start + len]);
                    }
                    and_into(acc, any);
                }
            }
            let n = popcount(acc);
            counts[t] += n;
            if n == 0 {
                // Nothing left in this step: later terms cannot add rows.
                break;
            }
        }
        if let Some(out) = &mut out {
            out.extend_from_slice(acc);
        }
        start += len;
    }
    (counts, out)
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
        fn fused_matches_naive(
            sets in prop::collection::vec(prop::collection::vec(prop::collection::vec(any::<u64>(), 1200), 1..4), 1..5),
            want in any::<bool>(),
        ) {
            let words = 1200;
            let terms: Vec<Vec<&[u64]>> = sets.iter().map(|t| t.iter().map(|b| b.as_slice()).collect()).collect();
            let (counts, out) = fused(&terms, words, want);
            let mut acc = vec![u64::MAX; words];
            for (t, term) in sets.iter().enumerate() {
                for w in 0..words {
                    acc[w] &= term.iter().fold(0, |a, b| a | b[w]);
                }
                let expected: u64 = acc.iter().map(|w| u64::from(w.count_ones())).sum();
                prop_assert_eq!(counts[t], expected);
            }
            if want {
                prop_assert_eq!(out, Some(acc));
            } else {
                prop_assert_eq!(out, None);
            }
        }
    }
}
