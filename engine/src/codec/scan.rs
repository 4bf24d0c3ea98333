//! Predicates evaluated directly on FOR-encoded payloads, skipping the widening step.
//!
//! `value op rhs` with `value = reference + delta` is `delta op (rhs - reference)`. When that
//! shifted constant falls outside the lane range the answer is the same for every row; otherwise
//! the compare runs on the narrow lanes, which moves 1/8 to 1/2 of the bytes a decoded scan would.

use super::int::ForView;
use super::kernels::{
    all_set, between_u16_le, between_u32_le, between_u64_le, between_u8, compare_u16_le,
    compare_u32_le, compare_u64_le, compare_u8, CompareOp,
};

/// Bitset of rows (nulls included, their stored value is arbitrary) where `value op rhs`.
pub(crate) fn compare_for(view: &ForView<'_>, rows: usize, op: CompareOp, rhs: i64) -> Vec<u64> {
    let shifted = i128::from(rhs) - i128::from(view.reference);
    let lane_max = lane_max(view.width);
    let uniform = |matches: bool| {
        if matches {
            all_set(rows)
        } else {
            vec![0; rows.div_ceil(64)]
        }
    };
    if shifted < 0 {
        // Every value is above rhs.
        return uniform(matches!(
            op,
            CompareOp::NotEq | CompareOp::Greater | CompareOp::GreaterOrEqual
        ));
    }
    if shifted > lane_max {
        // Every value is below rhs.
        return uniform(matches!(
            op,
            CompareOp::NotEq | CompareOp::Less | CompareOp::LessOrEqual
        ));
    }
    // In range for the lane type, so the narrowing casts below are exact.
    match view.width {
        0 => uniform(op.holds(0, shifted)),
        1 => compare_u8(view.deltas, op, shifted as u8),
        2 => compare_u16_le(view.deltas, op, shifted as u16),
        4 => compare_u32_le(view.deltas, op, shifted as u32),
        _ => compare_u64_le(view.deltas, op, shifted as u64),
    }
}

/// Bitset of rows (nulls included) where `low <= value <= high`, in one pass over the lanes.
pub(crate) fn between_for(view: &ForView<'_>, rows: usize, low: i64, high: i64) -> Vec<u64> {
    let lane_max = lane_max(view.width);
    // Clamp the shifted bounds to the lane range; an empty intersection matches nothing.
    let lo = (i128::from(low) - i128::from(view.reference)).max(0);
    let hi = (i128::from(high) - i128::from(view.reference)).min(lane_max);
    if lo > hi {
        return vec![0; rows.div_ceil(64)];
    }
    // In range for the lane type, so the narrowing casts below are exact.
    match view.width {
        0 => all_set(rows),
        1 => between_u8(view.deltas, lo as u8, hi as u8),
        2 => between_u16_le(view.deltas, lo as u16, hi as u16),
        4 => between_u32_le(view.deltas, lo as u32, hi as u32),
        _ => between_u64_le(view.deltas, lo as u64, hi as u64),
    }
}

/// The largest delta a FOR lane of `width` bytes holds.
fn lane_max(width: usize) -> i128 {
    match width {
        0 => 0,
        1 => 0xFF,
        2 => 0xFFFF,
        4 => 0xFFFF_FFFF,
        _ => i128::from(u64::MAX),
    }
}
