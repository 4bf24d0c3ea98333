//! Evaluating a [`Matcher`] over the chunks of one segment column.

use super::matcher::{FloatTest, IntTest, Matcher};
use super::rows::ChunkRows;
use super::FilterStats;
use crate::codec::{kernels, ChunkReader, ChunkValues, ZoneMap};
use crate::error::Result;
use crate::segment::{Segment, SegmentColumn};
use roaring::RoaringBitmap;

/// Use per-value bitmaps only when few dictionary entries match; past that a scan of the
/// codes is cheaper than OR-ing many bitmaps.
const MAX_BITMAPS_TO_UNION: usize = 32;

/// What one chunk contributed, in chunk-local positions.
enum Outcome {
    /// No position matches.
    Nothing,
    /// Every non-NULL position matches.
    AllNonNull,
    /// These positions match (NULLs already excluded).
    Positions(RoaringBitmap),
    /// A bitset of matching positions; NULL placeholders may be set and must be removed.
    Bits(Vec<u64>),
    /// A bitset of matching positions with NULLs already excluded.
    NonNullBits(Vec<u64>),
}

pub(super) fn filter_segment(
    segment: &Segment,
    column: &SegmentColumn,
    matcher: &Matcher,
    visible: &RoaringBitmap,
) -> Result<(RoaringBitmap, FilterStats)> {
    let mut result = RoaringBitmap::new();
    let mut stats = FilterStats::default();
    for index in 0..segment.chunk_count() {
        if !chunk_has_visible_rows(segment, index, visible) {
            continue;
        }
        let chunk = segment.chunk(column, index)?;
        let fail = |e: crate::codec::CodecError| {
            segment.chunk_error(&column.chunks[index], &column.name, &e)
        };
        let outcome = evaluate(&chunk, matcher, &mut stats).map_err(fail)?;
        let rows = chunk_rows(segment, index);
        let found = match outcome {
            Outcome::Nothing => continue,
            Outcome::AllNonNull => {
                let all: RoaringBitmap = (0..u32::try_from(chunk.rows()).unwrap_or(0)).collect();
                rows.positions_to_rows(&(all - chunk.null_rows().map_err(fail)?))
            }
            Outcome::Positions(positions) => rows.positions_to_rows(&positions),
            Outcome::Bits(mut words) => {
                clear_nulls(&mut words, &chunk.null_rows().map_err(fail)?);
                rows.bits_to_rows(&words, chunk.rows())
            }
            Outcome::NonNullBits(words) => rows.bits_to_rows(&words, chunk.rows()),
        };
        result |= found & visible;
    }
    Ok((result, stats))
}

/// Global rows whose value is a stored NULL in this segment column.
pub(super) fn segment_nulls(segment: &Segment, column: &SegmentColumn) -> Result<RoaringBitmap> {
    let mut result = RoaringBitmap::new();
    for index in 0..segment.chunk_count() {
        let chunk = segment.chunk(column, index)?;
        let nulls = chunk
            .null_rows()
            .map_err(|e| segment.chunk_error(&column.chunks[index], &column.name, &e))?;
        result |= chunk_rows(segment, index).positions_to_rows(&nulls);
    }
    Ok(result)
}

fn chunk_rows(segment: &Segment, index: usize) -> ChunkRows {
    match segment.chunk_dense_start(index) {
        Some(start) => ChunkRows::Dense { start },
        None => ChunkRows::Listed(segment.chunk_rows(index)),
    }
}

fn chunk_has_visible_rows(segment: &Segment, index: usize, visible: &RoaringBitmap) -> bool {
    let (first, next) = segment.chunk_row_bounds(index);
    match next {
        Some(next) => visible.range_cardinality(first..next) > 0,
        None => visible.range_cardinality(first..) > 0,
    }
}

fn clear_nulls(words: &mut [u64], nulls: &RoaringBitmap) {
    for position in nulls {
        if let Some(word) = words.get_mut(position as usize / 64) {
            *word &= !(1u64 << (position % 64));
        }
    }
}

fn evaluate(
    chunk: &ChunkReader<'_>,
    matcher: &Matcher,
    stats: &mut FilterStats,
) -> Result<Outcome, crate::codec::CodecError> {
    match matcher {
        Matcher::Int(test) => evaluate_int(chunk, test, stats),
        Matcher::Float(test) => evaluate_float(chunk, test, stats),
        Matcher::Bool {
            accept_false,
            accept_true,
        } => {
            let accepted = [*accept_false, *accept_true];
            evaluate_codes(chunk, &accepted, stats)
        }
        Matcher::Text(test) => {
            let dictionary = chunk.dictionary()?;
            let accepted: Vec<bool> = dictionary.iter().map(|entry| test.accepts(entry)).collect();
            evaluate_codes(chunk, &accepted, stats)
        }
        Matcher::ListContains(wanted) => evaluate_list(chunk, wanted, stats),
    }
}

fn evaluate_int(
    chunk: &ChunkReader<'_>,
    test: &IntTest,
    stats: &mut FilterStats,
) -> Result<Outcome, crate::codec::CodecError> {
    match chunk.zone_map() {
        None => {
            stats.chunks_skipped += 1;
            return Ok(Outcome::Nothing);
        }
        Some(ZoneMap::Int { min, max }) => {
            if !test.may_match_range(min, max) {
                stats.chunks_skipped += 1;
                return Ok(Outcome::Nothing);
            }
            if test.matches_whole_range(min, max) {
                stats.chunks_skipped += 1;
                return Ok(Outcome::AllNonNull);
            }
        }
        Some(ZoneMap::Float { .. }) => {}
    }
    stats.chunks_scanned += 1;
    if let IntTest::Compare(op, rhs) = test {
        // Compares on the encoded bytes without widening; null rows are already excluded.
        return Ok(Outcome::NonNullBits(chunk.compare_int(*op, *rhs)?));
    }
    let values = match chunk.decode()? {
        ChunkValues::Int64(values) | ChunkValues::Timestamp(values) => values,
        _ => return Ok(Outcome::Nothing),
    };
    Ok(Outcome::Bits(match test {
        IntTest::Compare(op, rhs) => kernels::compare_i64(&values, *op, *rhs),
        IntTest::Between(lo, hi) => kernels::between_i64(&values, *lo, *hi),
        IntTest::In(items) => any_of(
            items
                .iter()
                .map(|v| kernels::compare_i64(&values, kernels::CompareOp::Eq, *v)),
            values.len(),
        ),
    }))
}

fn evaluate_float(
    chunk: &ChunkReader<'_>,
    test: &FloatTest,
    stats: &mut FilterStats,
) -> Result<Outcome, crate::codec::CodecError> {
    match chunk.zone_map() {
        None => {
            stats.chunks_skipped += 1;
            return Ok(Outcome::Nothing);
        }
        Some(ZoneMap::Float { min, max }) if !test.may_match_range(min, max) => {
            stats.chunks_skipped += 1;
            return Ok(Outcome::Nothing);
        }
        Some(_) => {}
    }
    stats.chunks_scanned += 1;
    let ChunkValues::Float64(values) = chunk.decode()? else {
        return Ok(Outcome::Nothing);
    };
    Ok(Outcome::Bits(match test {
        FloatTest::Compare(op, rhs) => kernels::compare_f64(&values, *op, *rhs),
        FloatTest::Between(lo, hi) => kernels::between_f64(&values, *lo, *hi),
        FloatTest::In(items) => any_of(
            items
                .iter()
                .map(|v| kernels::compare_f64(&values, kernels::CompareOp::Eq, *v)),
            values.len(),
        ),
    }))
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
    chunk: &ChunkReader<'_>,
    accepted: &[bool],
    stats: &mut FilterStats,
) -> Result<Outcome, crate::codec::CodecError> {
    let matching_codes: Vec<u32> = accepted
        .iter()
        .enumerate()
        .filter(|(_, ok)| **ok)
        .filter_map(|(code, _)| u32::try_from(code).ok())
        .collect();
    if matching_codes.is_empty() {
        stats.chunks_skipped += 1;
        return Ok(Outcome::Nothing);
    }
    if chunk.has_value_bitmaps() && matching_codes.len() <= MAX_BITMAPS_TO_UNION {
        if let Some(positions) = union_value_bitmaps(chunk, &matching_codes)? {
            stats.chunks_by_value_bitmap += 1;
            return Ok(Outcome::Positions(positions));
        }
    }
    stats.chunks_scanned += 1;
    match chunk.decode()? {
        ChunkValues::String { codes, .. } => {
            Ok(Outcome::Bits(kernels::codes_in_set(&codes, accepted)))
        }
        ChunkValues::Bool(values) => {
            let codes: Vec<u32> = values.iter().map(|b| u32::from(*b)).collect();
            Ok(Outcome::Bits(kernels::codes_in_set(&codes, accepted)))
        }
        _ => Ok(Outcome::Nothing),
    }
}

fn union_value_bitmaps(
    chunk: &ChunkReader<'_>,
    codes: &[u32],
) -> Result<Option<RoaringBitmap>, crate::codec::CodecError> {
    let mut positions = RoaringBitmap::new();
    for &code in codes {
        match chunk.value_bitmap(code)? {
            Some(bitmap) => positions |= bitmap,
            None => return Ok(None),
        }
    }
    Ok(Some(positions))
}

fn evaluate_list(
    chunk: &ChunkReader<'_>,
    wanted: &str,
    stats: &mut FilterStats,
) -> Result<Outcome, crate::codec::CodecError> {
    let dictionary = chunk.dictionary()?;
    let Ok(code) = dictionary.binary_search_by(|entry| entry.as_str().cmp(wanted)) else {
        stats.chunks_skipped += 1;
        return Ok(Outcome::Nothing);
    };
    let code = u32::try_from(code).unwrap_or(u32::MAX);
    if chunk.has_value_bitmaps() {
        if let Some(positions) = chunk.value_bitmap(code)? {
            stats.chunks_by_value_bitmap += 1;
            return Ok(Outcome::Positions(positions));
        }
    }
    stats.chunks_scanned += 1;
    let ChunkValues::StringList { offsets, codes, .. } = chunk.decode()? else {
        return Ok(Outcome::Nothing);
    };
    let mut words = vec![0u64; chunk.rows().div_ceil(64)];
    for (row, bounds) in offsets.windows(2).enumerate() {
        let items = codes
            .get(bounds[0] as usize..bounds[1] as usize)
            .unwrap_or(&[]);
        if items.contains(&code) {
            words[row / 64] |= 1 << (row % 64);
        }
    }
    Ok(Outcome::Bits(words))
}
