//! Scan kernels: predicates over value slices producing bitsets of matching positions.
//!
//! A bitset is a `Vec<u64>` where bit `i % 64` of word `i / 64` is position `i`; bits past the
//! input length are zero. Every kernel dispatches on the operator once, then runs a branch-free
//! loop over blocks of 64 values that builds one word per block, which the compiler turns into
//! vector compares and mask extraction.

use roaring::RoaringBitmap;

/// A comparison between a column value and a constant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    /// `value = rhs`
    Eq,
    /// `value <> rhs`
    NotEq,
    /// `value < rhs`
    Less,
    /// `value <= rhs`
    LessOrEqual,
    /// `value > rhs`
    Greater,
    /// `value >= rhs`
    GreaterOrEqual,
}

impl CompareOp {
    /// Whether `value op rhs` holds for one pair of values.
    #[must_use]
    pub fn holds<T: PartialOrd>(self, value: T, rhs: T) -> bool {
        match self {
            CompareOp::Eq => value == rhs,
            CompareOp::NotEq => value != rhs,
            CompareOp::Less => value < rhs,
            CompareOp::LessOrEqual => value <= rhs,
            CompareOp::Greater => value > rhs,
            CompareOp::GreaterOrEqual => value >= rhs,
        }
    }
}

/// Packs 64 flags (each 0 or 1) into one word, flag `i` at bit `i`.
///
/// Eight flags at a time are gathered with one multiply: byte `k` of `x` (0 or 1) lands on bit
/// `56 + k` of `x * 0x0102_0408_1020_4080`, and no partial products collide.
#[inline(always)]
fn flags_to_word(flags: &[u8; 64]) -> u64 {
    let mut word = 0u64;
    for (j, eight) in flags.chunks_exact(8).enumerate() {
        let x = u64::from_le_bytes(eight.try_into().unwrap_or([0; 8]));
        word |= (x.wrapping_mul(0x0102_0408_1020_4080) >> 56) << (8 * j);
    }
    word
}

/// Bitset word of a partial block (fewer than 64 values), one value at a time.
#[inline(always)]
fn tail_word<T: Copy>(tail: &[T], pred: impl Fn(T) -> bool) -> u64 {
    tail.iter()
        .enumerate()
        .fold(0u64, |word, (i, &v)| word | (u64::from(pred(v)) << i))
}

/// Applies `pred` to every value, 64 values per output word: the compare loop writes one flag
/// byte per value (vectorizes for every lane width), then `flags_to_word` packs them.
#[inline(always)]
fn pack<T: Copy>(values: &[T], pred: impl Fn(T) -> bool) -> Vec<u64> {
    let mut out = Vec::with_capacity(values.len().div_ceil(64));
    let blocks = values.chunks_exact(64);
    let tail = blocks.remainder();
    let mut flags = [0u8; 64];
    for block in blocks {
        for (f, &v) in flags.iter_mut().zip(block) {
            *f = u8::from(pred(v));
        }
        out.push(flags_to_word(&flags));
    }
    if !tail.is_empty() {
        out.push(tail_word(tail, pred));
    }
    out
}

/// Like [`pack`], but builds each byte of the word directly from eight values; faster for
/// 64-bit lanes on baseline x86-64, where 64-bit vector compares are emulated.
#[inline(always)]
fn pack_wide<T: Copy>(values: &[T], pred: impl Fn(T) -> bool) -> Vec<u64> {
    let mut out = Vec::with_capacity(values.len().div_ceil(64));
    let blocks = values.chunks_exact(64);
    let tail = blocks.remainder();
    for block in blocks {
        let mut word = 0u64;
        for (j, eight) in block.chunks_exact(8).enumerate() {
            let mut byte = 0u8;
            for (k, &v) in eight.iter().enumerate() {
                byte |= u8::from(pred(v)) << k;
            }
            word |= u64::from(byte) << (8 * j);
        }
        out.push(word);
    }
    if !tail.is_empty() {
        out.push(tail_word(tail, pred));
    }
    out
}

/// Generates a compare kernel for one lane type: the `match` is outside the hot loop.
macro_rules! compare_kernel {
    ($pack:ident, $values:expr, $op:expr, $rhs:expr) => {{
        let rhs = $rhs;
        match $op {
            CompareOp::Eq => $pack($values, |v| v == rhs),
            CompareOp::NotEq => $pack($values, |v| v != rhs),
            CompareOp::Less => $pack($values, |v| v < rhs),
            CompareOp::LessOrEqual => $pack($values, |v| v <= rhs),
            CompareOp::Greater => $pack($values, |v| v > rhs),
            CompareOp::GreaterOrEqual => $pack($values, |v| v >= rhs),
        }
    }};
}

/// Positions where `values[i] op rhs`.
#[must_use]
pub fn compare_i64(values: &[i64], op: CompareOp, rhs: i64) -> Vec<u64> {
    compare_kernel!(pack_wide, values, op, rhs)
}

/// Positions where `low <= values[i] <= high`.
#[must_use]
pub fn between_i64(values: &[i64], low: i64, high: i64) -> Vec<u64> {
    // One unsigned compare per value: v - low (wrapping) <= high - low iff low <= v <= high.
    if low > high {
        return vec![0; values.len().div_ceil(64)];
    }
    let span = high.wrapping_sub(low) as u64;
    pack(values, |v| (v.wrapping_sub(low) as u64) <= span)
}

/// Positions where `values[i] op rhs` under IEEE rules: NaN matches only `NotEq`.
#[must_use]
pub fn compare_f64(values: &[f64], op: CompareOp, rhs: f64) -> Vec<u64> {
    compare_kernel!(pack, values, op, rhs)
}

/// Positions where `low <= values[i] <= high` (IEEE: NaN never matches).
#[must_use]
pub fn between_f64(values: &[f64], low: f64, high: f64) -> Vec<u64> {
    pack(values, |v| (v >= low) & (v <= high))
}

/// Positions where `values[i] op rhs` for u8 lanes (FOR-encoded deltas).
#[must_use]
pub(crate) fn compare_u8(values: &[u8], op: CompareOp, rhs: u8) -> Vec<u64> {
    compare_kernel!(pack, values, op, rhs)
}

/// Applies `pred` to every little-endian lane of `W` bytes, 64 lanes per output word.
#[inline(always)]
fn pack_lanes<const W: usize>(bytes: &[u8], pred: impl Fn([u8; W]) -> bool) -> Vec<u64> {
    let lane = |c: &[u8]| <[u8; W]>::try_from(c).unwrap_or([0; W]);
    let mut out = Vec::with_capacity((bytes.len() / W).div_ceil(64));
    let blocks = bytes.chunks_exact(64 * W);
    let tail = blocks.remainder();
    let mut flags = [0u8; 64];
    for block in blocks {
        for (f, c) in flags.iter_mut().zip(block.chunks_exact(W)) {
            *f = u8::from(pred(lane(c)));
        }
        out.push(flags_to_word(&flags));
    }
    if tail.len() >= W {
        let word = tail
            .chunks_exact(W)
            .enumerate()
            .fold(0u64, |word, (i, c)| word | (u64::from(pred(lane(c))) << i));
        out.push(word);
    }
    out
}

/// Generates a compare over little-endian lanes of one unsigned type.
macro_rules! compare_lanes {
    ($bytes:expr, $op:expr, $rhs:expr, $t:ty) => {{
        let rhs: $t = $rhs;
        const W: usize = std::mem::size_of::<$t>();
        let get = <$t>::from_le_bytes;
        match $op {
            CompareOp::Eq => pack_lanes::<W>($bytes, |c| get(c) == rhs),
            CompareOp::NotEq => pack_lanes::<W>($bytes, |c| get(c) != rhs),
            CompareOp::Less => pack_lanes::<W>($bytes, |c| get(c) < rhs),
            CompareOp::LessOrEqual => pack_lanes::<W>($bytes, |c| get(c) <= rhs),
            CompareOp::Greater => pack_lanes::<W>($bytes, |c| get(c) > rhs),
            CompareOp::GreaterOrEqual => pack_lanes::<W>($bytes, |c| get(c) >= rhs),
        }
    }};
}

/// Positions where `low <= values[i] <= high` for u8 lanes (one wrapping compare per lane).
#[must_use]
pub(crate) fn between_u8(values: &[u8], low: u8, high: u8) -> Vec<u64> {
    if low > high {
        return vec![0; values.len().div_ceil(64)];
    }
    let span = high - low;
    pack(values, |v| v.wrapping_sub(low) <= span)
}

/// Generates a one-pass `low <= lane <= high` over little-endian lanes of one unsigned type.
macro_rules! between_lanes {
    ($bytes:expr, $low:expr, $high:expr, $t:ty) => {{
        let (low, high): ($t, $t) = ($low, $high);
        const W: usize = std::mem::size_of::<$t>();
        if low > high {
            vec![0; ($bytes.len() / W).div_ceil(64)]
        } else {
            let span = high - low;
            pack_lanes::<W>($bytes, |c| <$t>::from_le_bytes(c).wrapping_sub(low) <= span)
        }
    }};
}

/// Positions where `low <= lane <= high` for little-endian u16 lanes.
#[must_use]
pub(crate) fn between_u16_le(bytes: &[u8], low: u16, high: u16) -> Vec<u64> {
    between_lanes!(bytes, low, high, u16)
}

/// Positions where `low <= lane <= high` for little-endian u32 lanes.
#[must_use]
pub(crate) fn between_u32_le(bytes: &[u8], low: u32, high: u32) -> Vec<u64> {
    between_lanes!(bytes, low, high, u32)
}

/// Positions where `low <= lane <= high` for little-endian u64 lanes.
#[must_use]
pub(crate) fn between_u64_le(bytes: &[u8], low: u64, high: u64) -> Vec<u64> {
    between_lanes!(bytes, low, high, u64)
}

/// Positions where the little-endian u16 lane `i` of `bytes` satisfies `lane op rhs`.
#[must_use]
pub(crate) fn compare_u16_le(bytes: &[u8], op: CompareOp, rhs: u16) -> Vec<u64> {
    compare_lanes!(bytes, op, rhs, u16)
}

/// Positions where the little-endian u32 lane `i` of `bytes` satisfies `lane op rhs`.
#[must_use]
pub(crate) fn compare_u32_le(bytes: &[u8], op: CompareOp, rhs: u32) -> Vec<u64> {
    compare_lanes!(bytes, op, rhs, u32)
}

/// Positions where the little-endian u64 lane `i` of `bytes` satisfies `lane op rhs`.
#[must_use]
pub(crate) fn compare_u64_le(bytes: &[u8], op: CompareOp, rhs: u64) -> Vec<u64> {
    compare_lanes!(bytes, op, rhs, u64)
}

/// Two bitsets in one pass over `values`: positions in `first` and in `second` (inclusive byte
/// ranges; an empty range is given as `low > high`).
#[must_use]
pub(crate) fn two_ranges_u8(
    values: &[u8],
    first: (u8, u8),
    second: (u8, u8),
) -> (Vec<u64>, Vec<u64>) {
    let words = values.len().div_ceil(64);
    let mut a = Vec::with_capacity(words);
    let mut b = Vec::with_capacity(words);
    // An empty range becomes one no byte satisfies: span 0 around a value compared against an
    // impossible offset is avoided by a flag instead.
    let (a_on, b_on) = (first.0 <= first.1, second.0 <= second.1);
    let (a_low, a_span) = (first.0, first.1.wrapping_sub(first.0));
    let (b_low, b_span) = (second.0, second.1.wrapping_sub(second.0));
    let blocks = values.chunks_exact(64);
    let tail = blocks.remainder();
    let mut fa = [0u8; 64];
    let mut fb = [0u8; 64];
    for block in blocks {
        for ((x, y), &v) in fa.iter_mut().zip(fb.iter_mut()).zip(block) {
            *x = u8::from(a_on & (v.wrapping_sub(a_low) <= a_span));
            *y = u8::from(b_on & (v.wrapping_sub(b_low) <= b_span));
        }
        a.push(flags_to_word(&fa));
        b.push(flags_to_word(&fb));
    }
    if !tail.is_empty() {
        a.push(tail_word(tail, |v| {
            a_on & (v.wrapping_sub(a_low) <= a_span)
        }));
        b.push(tail_word(tail, |v| {
            b_on & (v.wrapping_sub(b_low) <= b_span)
        }));
    }
    (a, b)
}

/// Positions whose byte is accepted: `accepted[byte]`.
#[must_use]
pub(crate) fn bytes_in_set(values: &[u8], accepted: &[bool; 256]) -> Vec<u64> {
    pack(values, |v| accepted[usize::from(v)])
}

/// Positions whose code is accepted: `accepted[code]`, false for codes out of range.
#[must_use]
pub fn codes_in_set(codes: &[u32], accepted: &[bool]) -> Vec<u64> {
    let Some(last) = accepted.len().checked_sub(1) else {
        return vec![0; codes.len().div_ceil(64)];
    };
    // Clamp instead of branching; the clamped lookup is masked off by the range test.
    pack(codes, |c| {
        let c = c as usize;
        (c <= last) & accepted.get(c.min(last)).copied().unwrap_or(false)
    })
}

/// A bitset of `len` positions with every position set.
#[must_use]
pub fn all_set(len: usize) -> Vec<u64> {
    let mut words = vec![u64::MAX; len.div_ceil(64)];
    clear_tail(&mut words, len);
    words
}

/// Zeroes the bits at positions `>= len`.
pub(crate) fn clear_tail(words: &mut [u64], len: usize) {
    let full = len / 64;
    if let Some(last) = words.get_mut(full) {
        let bits = len % 64;
        *last &= if bits == 0 {
            0
        } else {
            u64::MAX >> (64 - bits)
        };
    }
    for w in words.iter_mut().skip(full + 1) {
        *w = 0;
    }
}

/// Sets positions `start..end` (clamped to the bitset).
pub(crate) fn set_range(words: &mut [u64], start: usize, end: usize) {
    let end = end.min(words.len() * 64);
    let mut p = start;
    while p < end {
        let bit = p % 64;
        let take = (64 - bit).min(end - p);
        let mask = if take == 64 {
            u64::MAX
        } else {
            ((1u64 << take) - 1) << bit
        };
        if let Some(w) = words.get_mut(p / 64) {
            *w |= mask;
        }
        p += take;
    }
}

/// Clears every position in `rows` from the bitset.
pub(crate) fn clear_positions(words: &mut [u64], rows: &RoaringBitmap) {
    for r in rows {
        if let Some(w) = words.get_mut(r as usize / 64) {
            *w &= !(1u64 << (r % 64));
        }
    }
}

/// The positions `< len` set in `words`, shifted by `offset` (positions past `u32::MAX` are dropped).
#[must_use]
pub fn bitset_to_bitmap(words: &[u64], len: usize, offset: u32) -> RoaringBitmap {
    let used = words.get(..len.div_ceil(64)).unwrap_or(words);
    let mut bytes: Vec<u8> = used.iter().flat_map(|w| w.to_le_bytes()).collect();
    // Drop bits past `len`, then trailing zero bytes so the bitmap's range stays tight.
    if !len.is_multiple_of(64) && used.len() == len.div_ceil(64) {
        let bits = len % 8;
        let keep = len.div_ceil(8);
        bytes.truncate(keep);
        if bits != 0 {
            if let Some(b) = bytes.last_mut() {
                *b &= (1u8 << bits) - 1;
            }
        }
    }
    while bytes.last() == Some(&0) {
        bytes.pop();
    }
    if bytes.is_empty() {
        return RoaringBitmap::new();
    }
    let fits = u32::try_from(bytes.len() * 8 - 1)
        .ok()
        .and_then(|span| offset.checked_add(span))
        .is_some();
    if fits {
        return RoaringBitmap::from_lsb0_bytes(offset, &bytes);
    }
    // Rare: the range crosses u32::MAX; insert one by one and drop what does not fit.
    let mut bitmap = RoaringBitmap::new();
    for (i, byte) in bytes.iter().enumerate() {
        for bit in 0..8 {
            if byte & (1 << bit) != 0 {
                if let Some(p) = u32::try_from(i * 8 + bit)
                    .ok()
                    .and_then(|p| offset.checked_add(p))
                {
                    bitmap.insert(p);
                }
            }
        }
    }
    bitmap
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const OPS: [CompareOp; 6] = [
        CompareOp::Eq,
        CompareOp::NotEq,
        CompareOp::Less,
        CompareOp::LessOrEqual,
        CompareOp::Greater,
        CompareOp::GreaterOrEqual,
    ];

    fn naive<T: Copy>(values: &[T], pred: impl Fn(T) -> bool) -> Vec<u64> {
        let mut words = vec![0u64; values.len().div_ceil(64)];
        for (i, &v) in values.iter().enumerate() {
            if pred(v) {
                words[i / 64] |= 1 << (i % 64);
            }
        }
        words
    }

    fn holds<T: PartialOrd>(op: CompareOp, a: T, b: T) -> bool {
        match op {
            CompareOp::Eq => a == b,
            CompareOp::NotEq => a != b,
            CompareOp::Less => a < b,
            CompareOp::LessOrEqual => a <= b,
            CompareOp::Greater => a > b,
            CompareOp::GreaterOrEqual => a >= b,
        }
    }

    fn float_strategy() -> impl Strategy<Value = f64> {
        prop_oneof![
            any::<f64>(),
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(-0.0),
            Just(0.0),
            (-3i32..3).prop_map(f64::from),
        ]
    }

    proptest! {
        #[test]
        fn int_kernels_match_naive(values in prop::collection::vec(-5i64..5, 0..300), rhs in -6i64..6, low in -6i64..6, high in -6i64..6) {
            for op in OPS {
                prop_assert_eq!(compare_i64(&values, op, rhs), naive(&values, |v| holds(op, v, rhs)));
            }
            prop_assert_eq!(between_i64(&values, low, high), naive(&values, |v| low <= v && v <= high));
        }

        #[test]
        fn int_kernels_match_naive_at_extremes(values in prop::collection::vec(any::<i64>(), 0..200), rhs in any::<i64>(), low in any::<i64>(), high in any::<i64>()) {
            for op in OPS {
                prop_assert_eq!(compare_i64(&values, op, rhs), naive(&values, |v| holds(op, v, rhs)));
            }
            prop_assert_eq!(between_i64(&values, low, high), naive(&values, |v| low <= v && v <= high));
            prop_assert_eq!(between_i64(&values, i64::MIN, i64::MAX), all_set(values.len()));
        }

        #[test]
        fn float_kernels_match_naive(values in prop::collection::vec(float_strategy(), 0..200), rhs in float_strategy(), low in float_strategy(), high in float_strategy()) {
            for op in OPS {
                prop_assert_eq!(compare_f64(&values, op, rhs), naive(&values, |v| holds(op, v, rhs)));
            }
            prop_assert_eq!(between_f64(&values, low, high), naive(&values, |v| low <= v && v <= high));
        }

        #[test]
        fn byte_lane_kernels_match_naive(
            values in prop::collection::vec(any::<u8>(), 0..300),
            a in any::<u8>(), b in any::<u8>(), c in any::<u8>(), d in any::<u8>(),
            accepted in prop::collection::vec(any::<bool>(), 256),
        ) {
            prop_assert_eq!(between_u8(&values, a, b), naive(&values, |v| a <= v && v <= b));
            let (x, y) = two_ranges_u8(&values, (a, b), (c, d));
            prop_assert_eq!(x, naive(&values, |v| a <= v && v <= b));
            prop_assert_eq!(y, naive(&values, |v| c <= v && v <= d));
            let table: [bool; 256] = accepted.try_into().unwrap_or([false; 256]);
            prop_assert_eq!(bytes_in_set(&values, &table), naive(&values, |v| table[usize::from(v)]));
        }

        #[test]
        fn wide_lane_between_matches_naive(
            values in prop::collection::vec(any::<u64>(), 0..200),
            a in any::<u64>(), b in any::<u64>(),
        ) {
            let bytes = |w: usize| -> Vec<u8> {
                values.iter().flat_map(|v| v.to_le_bytes()[..w].to_vec()).collect()
            };
            let narrow = |w: usize, v: u64| v & (u64::MAX >> (64 - 8 * w));
            for w in [2usize, 4, 8] {
                let (lo, hi) = (narrow(w, a), narrow(w, b));
                let lanes: Vec<u64> = values.iter().map(|&v| narrow(w, v)).collect();
                let expected = naive(&lanes, |v| lo <= v && v <= hi);
                let got = match w {
                    2 => between_u16_le(&bytes(2), lo as u16, hi as u16),
                    4 => between_u32_le(&bytes(4), lo as u32, hi as u32),
                    _ => between_u64_le(&bytes(8), lo, hi),
                };
                prop_assert_eq!(got, expected, "width {}", w);
            }
        }

        #[test]
        fn codes_in_set_matches_naive(codes in prop::collection::vec(0u32..20, 0..300), accepted in prop::collection::vec(any::<bool>(), 0..16)) {
            let expected = naive(&codes, |c| accepted.get(c as usize).copied().unwrap_or(false));
            prop_assert_eq!(codes_in_set(&codes, &accepted), expected);
        }

        #[test]
        fn bitset_to_bitmap_matches_naive(words in prop::collection::vec(any::<u64>(), 0..20), cut in 0usize..64, offset in prop_oneof![0u32..1000, Just(u32::MAX - 100), Just(u32::MAX)]) {
            let len = (words.len() * 64).saturating_sub(cut);
            let expected: RoaringBitmap = (0..len)
                .filter(|&p| words[p / 64] & (1 << (p % 64)) != 0)
                .filter_map(|p| offset.checked_add(u32::try_from(p).ok()?))
                .collect();
            prop_assert_eq!(bitset_to_bitmap(&words, len, offset), expected);
        }
    }

    #[test]
    fn nan_matches_only_not_equal() {
        let values = [f64::NAN, 1.0];
        assert_eq!(compare_f64(&values, CompareOp::NotEq, f64::NAN), vec![0b11]);
        assert_eq!(compare_f64(&values, CompareOp::Eq, f64::NAN), vec![0]);
        assert_eq!(
            compare_f64(&values, CompareOp::GreaterOrEqual, 0.0),
            vec![0b10]
        );
        assert_eq!(compare_f64(&[-0.0], CompareOp::Eq, 0.0), vec![1]);
    }

    #[test]
    fn ranges_and_tails() {
        let mut words = vec![0u64; 3];
        set_range(&mut words, 3, 130);
        let set: Vec<usize> = (0..192)
            .filter(|&p| words[p / 64] & (1 << (p % 64)) != 0)
            .collect();
        assert_eq!(set, (3..130).collect::<Vec<_>>());
        clear_tail(&mut words, 70);
        assert_eq!(words[2], 0);
        assert_eq!(words[1], 0b11_1111);
        assert_eq!(all_set(65), vec![u64::MAX, 1]);
    }
}
