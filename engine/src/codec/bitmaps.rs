//! Roaring bitmaps inside a chunk: the null bitmap and the per-value bitmap directory.
//!
//! Bitmaps use the roaring portable serialization (`serialize_into` / `deserialize_from`), so
//! any roaring implementation can read them. Every bitmap read back is checked to hold only
//! positions below the chunk's row count.

use roaring::RoaringBitmap;

use super::error::CodecError;
use super::layout::{BITMAPS_COUNT_OFFSET, BITMAPS_ENDS_OFFSET};
use super::wire::{put_u32, Section};

/// Appends the portable serialization of `bitmap`, run-optimized first so long runs stay small.
pub(crate) fn encode_bitmap(bitmap: &RoaringBitmap, out: &mut Vec<u8>) {
    let mut bitmap = bitmap.clone();
    bitmap.optimize();
    // Writing into a Vec cannot fail.
    let _ = bitmap.serialize_into(&mut *out);
}

/// Reads one bitmap that must fill `section` exactly and hold only positions `< rows`.
pub(crate) fn decode_bitmap(
    section: Section<'_>,
    rows: usize,
) -> Result<RoaringBitmap, CodecError> {
    let mut reader = section.bytes;
    let bitmap = RoaringBitmap::deserialize_from(&mut reader)
        .map_err(|e| section.error(0, format!("bad roaring bitmap: {e}")))?;
    if !reader.is_empty() {
        let used = section.len() - reader.len();
        return Err(section.error(
            used,
            format!("{} trailing bytes after a roaring bitmap", reader.len()),
        ));
    }
    if bitmap.max().is_some_and(|max| max as usize >= rows) {
        return Err(section.error(0, format!("bitmap holds a position beyond {rows} rows")));
    }
    Ok(bitmap)
}

/// Appends the value bitmap directory: count, end offsets, then the serialized bitmaps.
pub(crate) fn encode_directory(bitmaps: &[RoaringBitmap], out: &mut Vec<u8>) {
    let mut data = Vec::new();
    let mut ends = Vec::with_capacity(bitmaps.len());
    for bitmap in bitmaps {
        encode_bitmap(bitmap, &mut data);
        ends.push(data.len());
    }
    put_u32(out, bitmaps.len());
    for end in ends {
        put_u32(out, end);
    }
    out.extend_from_slice(&data);
}

/// Number of bitmaps in a directory.
pub(crate) fn directory_count(section: Section<'_>) -> Result<usize, CodecError> {
    section.len32(BITMAPS_COUNT_OFFSET, "value bitmap count")
}

/// Reads bitmap `index` of a directory; `Ok(None)` when `index` is not below the count.
pub(crate) fn directory_entry(
    section: Section<'_>,
    index: usize,
    rows: usize,
) -> Result<Option<RoaringBitmap>, CodecError> {
    let count = directory_count(section)?;
    if index >= count {
        return Ok(None);
    }
    let ends_len = count
        .checked_mul(4)
        .ok_or_else(|| section.error(BITMAPS_COUNT_OFFSET, "value bitmap count overflows"))?;
    let data = section.rest(
        BITMAPS_ENDS_OFFSET
            .checked_add(ends_len)
            .ok_or_else(|| section.error(BITMAPS_COUNT_OFFSET, "value bitmap count overflows"))?,
        "value bitmap data",
    )?;
    let end_at = |i: usize| section.len32(BITMAPS_ENDS_OFFSET + i * 4, "value bitmap end");
    let start = if index == 0 { 0 } else { end_at(index - 1)? };
    let end = end_at(index)?;
    let last = end_at(count - 1)?;
    if last != data.len() {
        return Err(section.error(
            BITMAPS_ENDS_OFFSET,
            format!("bitmap data is {} bytes, ends say {last}", data.len()),
        ));
    }
    let len = end
        .checked_sub(start)
        .ok_or_else(|| section.error(BITMAPS_ENDS_OFFSET + index * 4, "bitmap ends decrease"))?;
    decode_bitmap(data.slice(start, len, "value bitmap")?, rows).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directory_round_trips() {
        let bitmaps: Vec<RoaringBitmap> = vec![
            (0..10).collect(),
            RoaringBitmap::new(),
            (100..60_000).collect(),
            [5u32, 9, 65_535].into_iter().collect(),
        ];
        let mut out = Vec::new();
        encode_directory(&bitmaps, &mut out);
        let section = Section::new(&out, 0);
        for (i, expected) in bitmaps.iter().enumerate() {
            assert_eq!(
                directory_entry(section, i, 65_536).unwrap().as_ref(),
                Some(expected)
            );
        }
        assert_eq!(directory_entry(section, 4, 65_536).unwrap(), None);
        // Position 65_535 is beyond a 1000-row chunk.
        assert!(directory_entry(section, 3, 1000).is_err());
    }
}
