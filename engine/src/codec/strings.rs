//! String dictionaries and the optionally lz4-compressed blocks that hold them (and list data).
//!
//! A block is `count u32 | raw_len u32 | compression u8 | body`. lz4 is used only when it makes
//! the body strictly smaller: tiny dictionaries are stored raw so reading them costs nothing.

use std::borrow::Cow;

use super::error::CodecError;
use super::layout::{
    BLOCK_BODY_OFFSET, BLOCK_COMPRESSION_OFFSET, BLOCK_COUNT_OFFSET, BLOCK_RAW_LEN_OFFSET,
    COMPRESSION_LZ4, COMPRESSION_NONE, LZ4_MAX_RATIO,
};
use super::wire::{put_u32, Section};

/// Appends a block holding `count` items whose uncompressed body is `raw`.
pub(crate) fn encode_block(count: usize, raw: &[u8], out: &mut Vec<u8>) {
    put_u32(out, count);
    put_u32(out, raw.len());
    let compressed = lz4_flex::block::compress(raw);
    if compressed.len() < raw.len() {
        out.push(COMPRESSION_LZ4);
        out.extend_from_slice(&compressed);
    } else {
        out.push(COMPRESSION_NONE);
        out.extend_from_slice(raw);
    }
}

/// A decoded block: its item count and uncompressed body.
pub(crate) struct Block<'a> {
    /// Number of items the block declares.
    pub count: usize,
    /// The uncompressed body.
    pub raw: Cow<'a, [u8]>,
}

/// Reads the item count of a block without decompressing it.
pub(crate) fn block_count(section: Section<'_>) -> Result<usize, CodecError> {
    section.len32(BLOCK_COUNT_OFFSET, "block item count")
}

/// Reads and, if needed, decompresses a block; the body must be exactly `raw_len` bytes.
pub(crate) fn decode_block(section: Section<'_>) -> Result<Block<'_>, CodecError> {
    let count = block_count(section)?;
    let raw_len = section.len32(BLOCK_RAW_LEN_OFFSET, "block raw length")?;
    let compression = section.u8(BLOCK_COMPRESSION_OFFSET, "block compression")?;
    let body = section.rest(BLOCK_BODY_OFFSET, "block body")?;
    let raw = match compression {
        COMPRESSION_NONE if body.len() == raw_len => Cow::Borrowed(body.bytes),
        COMPRESSION_NONE => {
            return Err(section.error(
                BLOCK_RAW_LEN_OFFSET,
                format!("raw length {raw_len} but body is {} bytes", body.len()),
            ))
        }
        COMPRESSION_LZ4 => {
            // Bound the allocation by what lz4 can possibly expand the stored bytes to.
            if raw_len > body.len().saturating_mul(LZ4_MAX_RATIO) {
                return Err(section.error(
                    BLOCK_RAW_LEN_OFFSET,
                    format!(
                        "raw length {raw_len} impossible for {} lz4 bytes",
                        body.len()
                    ),
                ));
            }
            let mut raw = vec![0u8; raw_len];
            match lz4_flex::block::decompress_into(body.bytes, &mut raw) {
                Ok(n) if n == raw_len => Cow::Owned(raw),
                Ok(n) => {
                    return Err(section.error(
                        BLOCK_BODY_OFFSET,
                        format!("lz4 body holds {n} bytes, expected {raw_len}"),
                    ))
                }
                Err(e) => return Err(section.error(BLOCK_BODY_OFFSET, format!("lz4: {e}"))),
            }
        }
        other => {
            return Err(section.error(
                BLOCK_COMPRESSION_OFFSET,
                format!("unknown compression {other}"),
            ))
        }
    };
    Ok(Block { count, raw })
}

/// Appends the dictionary block of `entries` (sorted, unique).
pub(crate) fn encode_dictionary(entries: &[&str], out: &mut Vec<u8>) {
    let text_len: usize = entries.iter().map(|s| s.len()).sum();
    let mut raw = Vec::with_capacity(entries.len() * 4 + text_len);
    for s in entries {
        put_u32(&mut raw, s.len());
    }
    for s in entries {
        raw.extend_from_slice(s.as_bytes());
    }
    encode_block(entries.len(), &raw, out);
}

/// Decodes a dictionary block and checks that entries are UTF-8, sorted and unique.
pub(crate) fn decode_dictionary(section: Section<'_>) -> Result<Vec<String>, CodecError> {
    let mut entries: Vec<String> = Vec::new();
    walk_dictionary(section, |entry, count| {
        if entries.capacity() == 0 {
            entries.reserve_exact(count);
        }
        entries.push(entry.to_owned());
    })?;
    Ok(entries)
}

/// A dictionary block as one text buffer (every entry, concatenated) and each entry's end
/// offset in it, checked like [`decode_dictionary`]. One allocation for the text instead of
/// one per entry: near-unique columns (emails, message ids) hold 65,536 entries per chunk, and
/// point reads open such chunks cold.
pub(crate) fn decode_dictionary_text(
    section: Section<'_>,
) -> Result<(String, Vec<u32>), CodecError> {
    let mut text = String::new();
    let mut ends: Vec<u32> = Vec::new();
    let mut too_long = false;
    walk_dictionary(section, |entry, count| {
        if ends.capacity() == 0 {
            ends.reserve_exact(count);
        }
        text.push_str(entry);
        match u32::try_from(text.len()) {
            Ok(end) => ends.push(end),
            Err(_) => too_long = true,
        }
    })?;
    if too_long {
        return Err(section.error(BLOCK_RAW_LEN_OFFSET, "dictionary text exceeds 4 GiB"));
    }
    Ok((text, ends))
}

/// Decodes a dictionary block and hands each entry, with the number of entries, to `entry` in
/// order, after checking that it is UTF-8 and greater than the one before.
fn walk_dictionary(
    section: Section<'_>,
    mut entry: impl FnMut(&str, usize),
) -> Result<(), CodecError> {
    let block = decode_block(section)?;
    let raw = Section::new(&block.raw, section.base + BLOCK_BODY_OFFSET);
    let lengths_len = block
        .count
        .checked_mul(4)
        .filter(|&n| n <= raw.len())
        .ok_or_else(|| {
            section.error(
                BLOCK_COUNT_OFFSET,
                format!("{} entries cannot fit {} bytes", block.count, raw.len()),
            )
        })?;
    let lengths = raw.slice(0, lengths_len, "dictionary lengths")?;
    // The text is checked as UTF-8 once (a vectorized pass); each entry must then start and
    // end on a character boundary, which `str::get` checks.
    let all_text = raw.slice(lengths_len, raw.len() - lengths_len, "dictionary text")?;
    let all_text = std::str::from_utf8(all_text.bytes).map_err(|e| {
        raw.error(
            lengths_len + e.valid_up_to(),
            format!("dictionary entry is not UTF-8: {e}"),
        )
    })?;
    let mut at = lengths_len;
    let mut previous: Option<&str> = None;
    for chunk in lengths.bytes.chunks_exact(4) {
        let len = chunk.try_into().map_or(0, u32::from_le_bytes) as usize;
        let start = at - lengths_len;
        let current = start
            .checked_add(len)
            .and_then(|end| all_text.get(start..end))
            .ok_or_else(|| {
                raw.error(
                    at,
                    format!("dictionary entry of {len} bytes is truncated or splits a character"),
                )
            })?;
        if previous.is_some_and(|prev| prev >= current) {
            return Err(raw.error(at, "dictionary is not sorted and unique"));
        }
        entry(current, block.count);
        previous = Some(current);
        at += len;
    }
    if at != raw.len() {
        return Err(raw.error(
            at,
            format!("{} trailing bytes after the dictionary", raw.len() - at),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dictionary_round_trips_raw_and_compressed() {
        let small = ["", "a", "é"];
        let long: Vec<String> = (0..500)
            .map(|i| format!("customer-segment-{i:05}"))
            .collect();
        let long_refs: Vec<&str> = long.iter().map(String::as_str).collect();
        for entries in [&small[..], &long_refs[..], &[][..]] {
            let mut out = Vec::new();
            encode_dictionary(entries, &mut out);
            let decoded = decode_dictionary(Section::new(&out, 0)).unwrap();
            assert_eq!(decoded, entries);
            let (text, ends) = decode_dictionary_text(Section::new(&out, 0)).unwrap();
            assert_eq!(text, entries.concat());
            let mut start = 0;
            for (entry, end) in entries.iter().zip(&ends) {
                assert_eq!(&text[start..*end as usize], *entry);
                start = *end as usize;
            }
            assert_eq!(ends.len(), entries.len());
        }
        let mut out = Vec::new();
        encode_dictionary(&long_refs, &mut out);
        assert_eq!(out[BLOCK_COMPRESSION_OFFSET], COMPRESSION_LZ4);
    }

    #[test]
    fn unsorted_dictionary_is_rejected() {
        let mut out = Vec::new();
        encode_dictionary(&["b", "a"], &mut out);
        assert!(decode_dictionary(Section::new(&out, 0)).is_err());
        let mut out = Vec::new();
        encode_dictionary(&["a", "a"], &mut out);
        assert!(decode_dictionary(Section::new(&out, 0)).is_err());
        assert!(decode_dictionary_text(Section::new(&out, 0)).is_err());
    }

    #[test]
    fn absurd_raw_length_is_rejected_before_allocating() {
        let mut out = Vec::new();
        encode_block(1, &[0u8; 4096], &mut out);
        out[BLOCK_RAW_LEN_OFFSET..BLOCK_RAW_LEN_OFFSET + 4]
            .copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode_block(Section::new(&out, 0)).is_err());
    }
}
