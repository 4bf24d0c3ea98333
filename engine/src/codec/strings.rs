//! String dictionaries and the optionally lz4-compressed blocks that hold them (and list data).
//!
//! A block is `count u32 | raw_len u32 | compression u8 | body`. lz4 is used only when it makes
//! the body strictly smaller: tiny dictionaries are stored raw so reading them costs nothing.
//! Large dictionaries of format 2 chunks are stored in groups (see `dictionary_groups`).

use std::borrow::Cow;

use super::dictionary_groups::{encode_groups, Groups};
use super::error::CodecError;
use super::layout::{
    BLOCK_BODY_OFFSET, BLOCK_COMPRESSION_OFFSET, BLOCK_COUNT_OFFSET, BLOCK_RAW_LEN_OFFSET,
    COMPRESSION_LZ4, COMPRESSION_LZ4_GROUPS, COMPRESSION_NONE, DICTIONARY_GROUPS_MIN_RAW,
    DICTIONARY_GROUP_ENTRIES, LZ4_MAX_RATIO,
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

/// Appends the dictionary block of `entries` (sorted, unique). With `grouped` (format 2
/// chunks), a dictionary of at least `DICTIONARY_GROUPS_MIN_RAW` bytes is stored in lz4
/// groups, or uncompressed when the groups would not be smaller: both can be read one entry
/// at a time.
pub(crate) fn encode_dictionary(entries: &[&str], grouped: bool, out: &mut Vec<u8>) {
    let text_len: usize = entries.iter().map(|s| s.len()).sum();
    let mut raw = Vec::with_capacity(entries.len() * 4 + text_len);
    for s in entries {
        put_u32(&mut raw, s.len());
    }
    for s in entries {
        raw.extend_from_slice(s.as_bytes());
    }
    if grouped && raw.len() >= DICTIONARY_GROUPS_MIN_RAW && entries.len() > DICTIONARY_GROUP_ENTRIES
    {
        let body = encode_groups(entries);
        put_u32(out, entries.len());
        put_u32(out, raw.len());
        if body.len() < raw.len() {
            out.push(COMPRESSION_LZ4_GROUPS);
            out.extend_from_slice(&body);
        } else {
            out.push(COMPRESSION_NONE);
            out.extend_from_slice(&raw);
        }
        return;
    }
    encode_block(entries.len(), &raw, out);
}

/// Whether a dictionary block is stored in groups (its compression tag), without decoding it.
pub(crate) fn is_grouped(section: Section<'_>) -> Result<bool, CodecError> {
    Ok(section.u8(BLOCK_COMPRESSION_OFFSET, "dictionary compression")? == COMPRESSION_LZ4_GROUPS)
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

/// Decodes a dictionary block and hands each entry, with the number of entries, to `entry` in
/// order, after checking that it is UTF-8 and greater than the one before.
fn walk_dictionary(
    section: Section<'_>,
    mut entry: impl FnMut(&str, usize),
) -> Result<(), CodecError> {
    if is_grouped(section)? {
        let groups = Groups::open(section)?;
        let count = groups.count();
        let mut raw = Vec::new();
        let mut last: Option<String> = None;
        for index in 0..groups.group_count() {
            let (entries, group) = groups.decompress(section, index, &mut raw)?;
            let group_last = walk_body(group, entries, last.as_deref(), |e| entry(e, count))?;
            last = group_last.map(str::to_owned);
        }
        return Ok(());
    }
    let block = decode_block(section)?;
    let raw = Section::new(&block.raw, section.base + BLOCK_BODY_OFFSET);
    walk_body(raw, block.count, None, |e| entry(e, block.count))?;
    Ok(())
}

/// Walks the uncompressed dictionary body `raw` (`len[count]:u32 | text`), handing each entry
/// to `entry` after checking that it is UTF-8 and greater than the one before (the first one
/// is compared with `before`, the last entry of the body before); returns the last entry.
fn walk_body<'r>(
    raw: Section<'r>,
    count: usize,
    before: Option<&str>,
    mut entry: impl FnMut(&str),
) -> Result<Option<&'r str>, CodecError> {
    let mut previous = before;
    let lengths_len = count
        .checked_mul(4)
        .filter(|&n| n <= raw.len())
        .ok_or_else(|| raw.error(0, format!("{count} entries cannot fit {} bytes", raw.len())))?;
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
    let mut last = None;
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
        entry(current);
        previous = Some(current);
        last = Some(current);
        at += len;
    }
    if at != raw.len() {
        return Err(raw.error(
            at,
            format!("{} trailing bytes after the dictionary", raw.len() - at),
        ));
    }
    Ok(last)
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
            encode_dictionary(entries, false, &mut out);
            let decoded = decode_dictionary(Section::new(&out, 0)).unwrap();
            assert_eq!(decoded, entries);
        }
        let mut out = Vec::new();
        encode_dictionary(&long_refs, false, &mut out);
        assert_eq!(out[BLOCK_COMPRESSION_OFFSET], COMPRESSION_LZ4);
    }

    #[test]
    fn unsorted_dictionary_is_rejected() {
        let mut out = Vec::new();
        encode_dictionary(&["b", "a"], false, &mut out);
        assert!(decode_dictionary(Section::new(&out, 0)).is_err());
        let mut out = Vec::new();
        encode_dictionary(&["a", "a"], false, &mut out);
        assert!(decode_dictionary(Section::new(&out, 0)).is_err());
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
