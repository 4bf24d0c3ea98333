//! Grouped dictionaries (chunk format 2): the sorted entries are cut into groups of
//! [`DICTIONARY_GROUP_ENTRIES`], and each group is its own lz4 block, found through a table of
//! end offsets.
//!
//! A near-unique string column (names, message ids) holds up to 65,536 distinct entries per
//! chunk, about a megabyte of text. Stored as one lz4 block, the first point read of such a
//! chunk decompresses all of it to return one entry; with groups it decompresses a couple of
//! kilobytes. Scans still decode every group, back to back, at lz4 speed.
//!
//! Body (after the block header `count | raw_len | compression`):
//! `group_count:u32 | (lz4_end:u32, raw_end:u32)[group_count] | lz4 groups`; the uncompressed
//! form of a group is `len[n]:u32 | text`, like a whole-block dictionary of its entries.

use super::error::CodecError;
use super::layout::{
    BLOCK_BODY_OFFSET, BLOCK_COUNT_OFFSET, BLOCK_RAW_LEN_OFFSET, DICTIONARY_GROUP_ENTRIES,
    GROUPS_COUNT_OFFSET, GROUPS_TABLE_OFFSET, GROUP_ENTRY_LEN, LZ4_MAX_RATIO,
};
use super::wire::{put_u32, Section};

/// The grouped body of sorted, unique `entries` (everything after the block header).
pub(crate) fn encode_groups(entries: &[&str]) -> Vec<u8> {
    let group_count = entries.len().div_ceil(DICTIONARY_GROUP_ENTRIES);
    let mut table = Vec::with_capacity(GROUPS_TABLE_OFFSET + group_count * GROUP_ENTRY_LEN);
    put_u32(&mut table, group_count);
    let mut data = Vec::new();
    let mut raw = Vec::new();
    // Groups are small: a zeroed output buffer per group would cost more than compressing it,
    // so one is made and reused.
    let mut compressed = Vec::new();
    let mut raw_end = 0;
    for group in entries.chunks(DICTIONARY_GROUP_ENTRIES) {
        raw.clear();
        for entry in group {
            put_u32(&mut raw, entry.len());
        }
        for entry in group {
            raw.extend_from_slice(entry.as_bytes());
        }
        compressed.resize(lz4_flex::block::get_maximum_output_size(raw.len()), 0);
        let written = lz4_flex::block::compress_into(&raw, &mut compressed)
            .expect("the output buffer has the maximum compressed size");
        data.extend_from_slice(&compressed[..written]);
        raw_end += raw.len();
        put_u32(&mut table, data.len());
        put_u32(&mut table, raw_end);
    }
    table.extend_from_slice(&data);
    table
}

/// Where the groups of one grouped dictionary are, checked against the section's bounds; the
/// offsets are relative to the dictionary section, whose bytes each call is handed again (the
/// point reader keeps this, not the bytes, which live in the memory-mapped segment).
#[derive(Debug, Clone)]
pub(crate) struct Groups {
    /// Entries in the whole dictionary.
    count: usize,
    /// Number of groups.
    group_count: usize,
    /// Offset of the group table.
    table: usize,
    /// Offset of the first group's lz4 bytes.
    data: usize,
}

impl Groups {
    /// Reads the header and group table of the grouped dictionary `section` and checks their
    /// shape: one group per [`DICTIONARY_GROUP_ENTRIES`] entries, and the last group ending
    /// exactly at the end of the section and at the declared uncompressed length.
    pub(crate) fn open(section: Section<'_>) -> Result<Groups, CodecError> {
        let count = section.len32(BLOCK_COUNT_OFFSET, "dictionary entry count")?;
        let raw_len = section.len32(BLOCK_RAW_LEN_OFFSET, "dictionary raw length")?;
        let body = section.rest(BLOCK_BODY_OFFSET, "dictionary groups")?;
        let group_count = body.len32(GROUPS_COUNT_OFFSET, "dictionary group count")?;
        if group_count != count.div_ceil(DICTIONARY_GROUP_ENTRIES) {
            return Err(body.error(
                GROUPS_COUNT_OFFSET,
                format!("{group_count} groups cannot hold {count} entries"),
            ));
        }
        let table_len = group_count
            .checked_mul(GROUP_ENTRY_LEN)
            .ok_or_else(|| body.error(GROUPS_COUNT_OFFSET, "group table overflows"))?;
        body.slice(GROUPS_TABLE_OFFSET, table_len, "dictionary group table")?;
        let groups = Groups {
            count,
            group_count,
            table: BLOCK_BODY_OFFSET + GROUPS_TABLE_OFFSET,
            data: BLOCK_BODY_OFFSET + GROUPS_TABLE_OFFSET + table_len,
        };
        let (lz4_end, raw_end) = match group_count.checked_sub(1) {
            Some(last) => groups.ends(section, last)?,
            None => (0, 0),
        };
        if groups.data + lz4_end != section.len() || raw_end != raw_len {
            return Err(section.error(
                BLOCK_RAW_LEN_OFFSET,
                format!(
                    "groups end at {lz4_end} lz4 and {raw_end} raw bytes, \
                     the dictionary has {} and {raw_len}",
                    section.len().saturating_sub(groups.data)
                ),
            ));
        }
        Ok(groups)
    }

    /// Entries in the whole dictionary.
    pub(crate) fn count(&self) -> usize {
        self.count
    }

    /// Number of groups.
    pub(crate) fn group_count(&self) -> usize {
        self.group_count
    }

    /// `(lz4 end, raw end)` of group `index`, relative to the first group.
    fn ends(&self, section: Section<'_>, index: usize) -> Result<(usize, usize), CodecError> {
        let at = self.table + index * GROUP_ENTRY_LEN;
        Ok((
            section.len32(at, "group lz4 end")?,
            section.len32(at + 4, "group raw end")?,
        ))
    }

    /// Decompresses group `index` of `section` (the dictionary section these groups were
    /// opened from) into `raw`; returns the group's entry count and the section holding its
    /// uncompressed bytes, which reports errors at the offset of the group's lz4 bytes.
    pub(crate) fn decompress<'r>(
        &self,
        section: Section<'_>,
        index: usize,
        raw: &'r mut Vec<u8>,
    ) -> Result<(usize, Section<'r>), CodecError> {
        let (lz4_start, raw_start) = match index.checked_sub(1) {
            Some(previous) => self.ends(section, previous)?,
            None => (0, 0),
        };
        let (lz4_end, raw_end) = self.ends(section, index)?;
        let entry_at = self.table + index * GROUP_ENTRY_LEN;
        let lz4_len = lz4_end
            .checked_sub(lz4_start)
            .ok_or_else(|| section.error(entry_at, "group lz4 ends go backwards"))?;
        let raw_len = raw_end
            .checked_sub(raw_start)
            .ok_or_else(|| section.error(entry_at + 4, "group raw ends go backwards"))?;
        let lz4 = section.slice(self.data + lz4_start, lz4_len, "dictionary group")?;
        // Bound the allocation by what lz4 can possibly expand the stored bytes to.
        if raw_len > lz4_len.saturating_mul(LZ4_MAX_RATIO) {
            return Err(section.error(
                entry_at + 4,
                format!("group of {raw_len} raw bytes impossible for {lz4_len} lz4 bytes"),
            ));
        }
        raw.clear();
        raw.resize(raw_len, 0);
        match lz4_flex::block::decompress_into(lz4.bytes, raw) {
            Ok(n) if n == raw_len => {}
            Ok(n) => return Err(lz4.error(0, format!("group holds {n} bytes, expected {raw_len}"))),
            Err(e) => return Err(lz4.error(0, format!("lz4: {e}"))),
        }
        let entries = (self.count - index * DICTIONARY_GROUP_ENTRIES).min(DICTIONARY_GROUP_ENTRIES);
        Ok((entries, Section::new(raw, lz4.base)))
    }

    /// Entry `code` of the dictionary, decompressing only its group into `raw`.
    pub(crate) fn entry<'r>(
        &self,
        section: Section<'_>,
        code: usize,
        raw: &'r mut Vec<u8>,
    ) -> Result<&'r str, CodecError> {
        if code >= self.count {
            return Err(section.error(
                BLOCK_COUNT_OFFSET,
                format!("code {code} beyond {} dictionary entries", self.count),
            ));
        }
        let (entries, group) = self.decompress(section, code / DICTIONARY_GROUP_ENTRIES, raw)?;
        entry_in_block(group, entries, code % DICTIONARY_GROUP_ENTRIES)
    }
}

/// Entry `index` of an uncompressed dictionary body `len[count]:u32 | text`, found by adding
/// the lengths before it; the entry alone is checked as UTF-8.
pub(crate) fn entry_in_block(
    raw: Section<'_>,
    count: usize,
    index: usize,
) -> Result<&str, CodecError> {
    let lengths = raw.slice(0, count * 4, "dictionary lengths")?;
    let length_at = |i: usize| lengths.len32(i * 4, "dictionary entry length");
    let mut start = count * 4;
    for i in 0..index {
        start += length_at(i)?;
    }
    text_at(raw, start, length_at(index)?)
}

/// The `len` bytes at `start` of `raw`, checked as UTF-8.
pub(crate) fn text_at(raw: Section<'_>, start: usize, len: usize) -> Result<&str, CodecError> {
    let text = raw.slice(start, len, "dictionary entry")?;
    std::str::from_utf8(text.bytes).map_err(|e| {
        raw.error(
            start + e.valid_up_to(),
            format!("dictionary entry is not UTF-8: {e}"),
        )
    })
}
