//! Frame-of-reference (FOR) and run-length (RLE) coding of 64-bit values.
//!
//! FOR stores the minimum as a reference and every value as an unsigned delta of 0, 1, 2, 4 or 8
//! bytes. Byte-multiple widths keep decoding a plain widening loop that the compiler vectorizes;
//! bit packing would save space but cost far more per value than memory bandwidth does here.
//! RLE stores runs of equal 8-byte values and wins when runs are long (sorted or constant data).
//! Floats reuse RLE on their bit patterns.

use super::error::CodecError;
use super::layout::{
    FOR_DELTAS_OFFSET, FOR_REFERENCE_OFFSET, RLE_RUN_COUNT_OFFSET, RLE_VALUES_OFFSET,
};
use super::wire::{put_u32, Section};

/// Bytes per run in an RLE payload: one 8-byte value and one u32 run end.
const RLE_RUN_LEN: usize = 12;

/// The FOR reference (minimum) and delta width in bytes for `values`.
pub(crate) fn for_parameters(values: &[i64]) -> (i64, usize) {
    let (Some(&min), Some(&max)) = (values.iter().min(), values.iter().max()) else {
        return (0, 0);
    };
    // The difference of two i64 always fits a u64 when computed with wrapping arithmetic.
    let range = max.wrapping_sub(min) as u64;
    let width = match range {
        0 => 0,
        1..=0xFF => 1,
        0x100..=0xFFFF => 2,
        0x1_0000..=0xFFFF_FFFF => 4,
        _ => 8,
    };
    (min, width)
}

/// Encoded size of a FOR payload.
pub(crate) fn for_len(rows: usize, width: usize) -> usize {
    FOR_DELTAS_OFFSET + rows * width
}

/// Number of runs of equal consecutive values.
pub(crate) fn count_runs(values: &[i64]) -> usize {
    if values.is_empty() {
        return 0;
    }
    1 + values.windows(2).filter(|w| w.first() != w.get(1)).count()
}

/// Encoded size of an RLE payload with `runs` runs.
pub(crate) fn rle_len(runs: usize) -> usize {
    RLE_VALUES_OFFSET + runs * RLE_RUN_LEN
}

/// Appends the FOR payload of `values`.
pub(crate) fn encode_for(values: &[i64], reference: i64, width: usize, out: &mut Vec<u8>) {
    out.extend_from_slice(&reference.to_le_bytes());
    out.reserve(values.len() * width);
    for &v in values {
        let delta = v.wrapping_sub(reference) as u64;
        let bytes = delta.to_le_bytes();
        out.extend_from_slice(bytes.get(..width).unwrap_or(&bytes));
    }
}

/// Appends the RLE payload of `values`.
pub(crate) fn encode_rle(values: &[i64], out: &mut Vec<u8>) {
    let mut runs: Vec<(i64, usize)> = Vec::new();
    for (row, &v) in values.iter().enumerate() {
        match runs.last_mut() {
            Some((last, end)) if *last == v => *end = row + 1,
            _ => runs.push((v, row + 1)),
        }
    }
    put_u32(out, runs.len());
    for (v, _) in &runs {
        out.extend_from_slice(&v.to_le_bytes());
    }
    for &(_, end) in &runs {
        put_u32(out, end);
    }
}

/// A validated view of a FOR payload.
pub(crate) struct ForView<'a> {
    /// The reference added to every delta.
    pub reference: i64,
    /// Bytes per delta.
    pub width: usize,
    /// The packed deltas, exactly `rows * width` bytes.
    pub deltas: &'a [u8],
}

/// Checks the shape of a FOR payload of `rows` values of `width` bytes.
pub(crate) fn for_view<'a>(
    payload: Section<'a>,
    rows: usize,
    width: usize,
) -> Result<ForView<'a>, CodecError> {
    let reference = payload.i64(FOR_REFERENCE_OFFSET, "FOR reference")?;
    if payload.len() != for_len(rows, width) {
        return Err(payload.error(
            0,
            format!(
                "FOR payload is {} bytes, expected {} for {rows} rows of {width} bytes",
                payload.len(),
                for_len(rows, width)
            ),
        ));
    }
    let deltas = payload.rest(FOR_DELTAS_OFFSET, "FOR deltas")?.bytes;
    Ok(ForView {
        reference,
        width,
        deltas,
    })
}

impl ForView<'_> {
    /// Widens the deltas back into values; `rows` is the chunk's row count.
    pub fn decode(&self, rows: usize) -> Vec<i64> {
        let r = self.reference;
        match self.width {
            0 => vec![r; rows],
            1 => self
                .deltas
                .iter()
                .map(|&d| r.wrapping_add(i64::from(d)))
                .collect(),
            2 => self
                .deltas
                .chunks_exact(2)
                .map(|c| r.wrapping_add(i64::from(c.try_into().map_or(0, u16::from_le_bytes))))
                .collect(),
            4 => self
                .deltas
                .chunks_exact(4)
                .map(|c| r.wrapping_add(i64::from(c.try_into().map_or(0, u32::from_le_bytes))))
                .collect(),
            _ => self
                .deltas
                .chunks_exact(8)
                .map(|c| r.wrapping_add(c.try_into().map_or(0, u64::from_le_bytes) as i64))
                .collect(),
        }
    }
}

/// A validated view of an RLE payload: run ends strictly increase and the last equals `rows`.
pub(crate) struct RleView {
    /// Value of each run.
    pub values: Vec<i64>,
    /// Exclusive end row of each run.
    pub ends: Vec<u32>,
}

/// Parses and validates an RLE payload of `rows` values.
pub(crate) fn rle_view(payload: Section<'_>, rows: usize) -> Result<RleView, CodecError> {
    let runs = payload.len32(RLE_RUN_COUNT_OFFSET, "RLE run count")?;
    if runs > rows {
        return Err(payload.error(RLE_RUN_COUNT_OFFSET, format!("{runs} runs for {rows} rows")));
    }
    if payload.len() != rle_len(runs) {
        return Err(payload.error(
            0,
            format!(
                "RLE payload is {} bytes, expected {}",
                payload.len(),
                rle_len(runs)
            ),
        ));
    }
    let values_part = payload.slice(RLE_VALUES_OFFSET, runs * 8, "RLE values")?;
    let ends_at = RLE_VALUES_OFFSET + runs * 8;
    let ends_part = payload.rest(ends_at, "RLE run ends")?;
    let values: Vec<i64> = values_part
        .bytes
        .chunks_exact(8)
        .map(|c| c.try_into().map_or(0, i64::from_le_bytes))
        .collect();
    let ends: Vec<u32> = ends_part
        .bytes
        .chunks_exact(4)
        .map(|c| c.try_into().map_or(0, u32::from_le_bytes))
        .collect();
    let mut previous = 0usize;
    for (i, &end) in ends.iter().enumerate() {
        let end = end as usize;
        if end <= previous || end > rows {
            return Err(payload.error(
                ends_at + i * 4,
                format!("run end {end} after {previous} is not increasing within {rows} rows"),
            ));
        }
        previous = end;
    }
    if previous != rows {
        return Err(payload.error(ends_at, format!("runs cover {previous} of {rows} rows")));
    }
    Ok(RleView { values, ends })
}

impl RleView {
    /// Iterates `(value, start, end)` of every run.
    pub fn runs(&self) -> impl Iterator<Item = (i64, usize, usize)> + '_ {
        let starts = std::iter::once(0).chain(self.ends.iter().map(|&e| e as usize));
        self.values
            .iter()
            .zip(starts)
            .zip(self.ends.iter())
            .map(|((&v, s), &e)| (v, s, e as usize))
    }

    /// Expands the runs into one value per row.
    pub fn decode(&self, rows: usize) -> Vec<i64> {
        let mut out = Vec::with_capacity(rows);
        for (value, start, end) in self.runs() {
            out.resize(out.len() + (end - start), value);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip_for(values: &[i64]) -> Vec<i64> {
        let (reference, width) = for_parameters(values);
        let mut out = Vec::new();
        encode_for(values, reference, width, &mut out);
        assert_eq!(out.len(), for_len(values.len(), width));
        for_view(Section::new(&out, 0), values.len(), width)
            .unwrap()
            .decode(values.len())
    }

    fn round_trip_rle(values: &[i64]) -> Vec<i64> {
        let mut out = Vec::new();
        encode_rle(values, &mut out);
        assert_eq!(out.len(), rle_len(count_runs(values)));
        rle_view(Section::new(&out, 0), values.len())
            .unwrap()
            .decode(values.len())
    }

    #[test]
    fn widths_follow_the_range() {
        assert_eq!(for_parameters(&[5, 5]), (5, 0));
        assert_eq!(for_parameters(&[-1, 254]), (-1, 1));
        assert_eq!(for_parameters(&[0, 256]), (0, 2));
        assert_eq!(for_parameters(&[0, 65_536]), (0, 4));
        assert_eq!(for_parameters(&[i64::MIN, i64::MAX]), (i64::MIN, 8));
        assert_eq!(for_parameters(&[]), (0, 0));
    }

    #[test]
    fn extremes_round_trip() {
        let values = [i64::MIN, i64::MAX, 0, -1, 1];
        assert_eq!(round_trip_for(&values), values);
        assert_eq!(round_trip_rle(&values), values);
        assert_eq!(round_trip_rle(&[]), Vec::<i64>::new());
        assert_eq!(round_trip_rle(&[7, 7, 7, 8]), vec![7, 7, 7, 8]);
    }

    #[test]
    fn rle_rejects_bad_runs() {
        let mut out = Vec::new();
        encode_rle(&[1, 1, 2], &mut out);
        assert!(rle_view(Section::new(&out, 0), 4).is_err());
        assert!(rle_view(Section::new(&out, 0), 2).is_err());
        // Make the first run end 0: not increasing.
        let ends_at = RLE_VALUES_OFFSET + 2 * 8;
        out[ends_at..ends_at + 4].copy_from_slice(&0u32.to_le_bytes());
        assert!(rle_view(Section::new(&out, 0), 3).is_err());
    }
}
