//! Reading one dictionary entry by code, for point reads.
//!
//! A point read needs one entry, so nothing here decodes the whole dictionary into strings or
//! checks its order (scans and `ChunkReader::verify` do; the chunk's crc32 already guards the
//! bytes): an uncompressed dictionary is read in place, a single lz4 block (format 1) is
//! decompressed once and kept, and a grouped dictionary (format 2) decompresses the one group
//! holding the entry on each read. Each entry read is checked as UTF-8.

use super::dictionary_groups::{text_at, Groups};
use super::error::{corrupt, CodecError};
use super::layout::{BLOCK_BODY_OFFSET, BLOCK_COMPRESSION_OFFSET, COMPRESSION_NONE};
use super::strings::{decode_block, is_grouped};
use super::wire::Section;
use std::borrow::Cow;

/// Entries between two remembered text offsets of an [`EntryIndex`].
const INDEX_STRIDE: usize = 64;

/// The text offset of every [`INDEX_STRIDE`]th entry of an uncompressed dictionary body, so
/// that finding an entry adds at most `INDEX_STRIDE - 1` lengths.
#[derive(Debug, Clone)]
pub(crate) struct EntryIndex {
    count: usize,
    starts: Vec<u32>,
}

impl EntryIndex {
    /// Indexes `raw` (`len[count]:u32 | text`), checking that the lengths add up to its size.
    fn build(raw: Section<'_>, count: usize) -> Result<EntryIndex, CodecError> {
        let lengths_len = count
            .checked_mul(4)
            .filter(|&n| n <= raw.len())
            .ok_or_else(|| {
                raw.error(0, format!("{count} entries cannot fit {} bytes", raw.len()))
            })?;
        let lengths = raw.slice(0, lengths_len, "dictionary lengths")?;
        let mut starts = Vec::with_capacity(count.div_ceil(INDEX_STRIDE));
        let mut at = lengths_len;
        for (i, length) in lengths.bytes.chunks_exact(4).enumerate() {
            if i % INDEX_STRIDE == 0 {
                starts.push(u32::try_from(at).map_err(|_| raw.error(0, "dictionary too long"))?);
            }
            at += length.try_into().map_or(0, u32::from_le_bytes) as usize;
        }
        if at != raw.len() {
            return Err(raw.error(
                0,
                format!(
                    "entry lengths add up to {at} bytes, the dictionary has {}",
                    raw.len()
                ),
            ));
        }
        Ok(EntryIndex { count, starts })
    }

    /// Entry `code` of `raw`, the body this index was built from.
    fn entry<'r>(&self, raw: Section<'r>, code: usize) -> Result<&'r str, CodecError> {
        if code >= self.count {
            return Err(beyond(code, self.count));
        }
        let first = code - code % INDEX_STRIDE;
        let mut start = self
            .starts
            .get(code / INDEX_STRIDE)
            .copied()
            .ok_or_else(|| beyond(code, self.count))? as usize;
        for i in first..code {
            start += raw.len32(i * 4, "dictionary entry length")?;
        }
        text_at(raw, start, raw.len32(code * 4, "dictionary entry length")?)
    }
}

fn beyond(code: usize, count: usize) -> CodecError {
    corrupt(0, format!("code {code} beyond {count} dictionary entries"))
}

/// How a point reader finds dictionary entries (see the module docs).
#[derive(Debug, Clone, Default)]
pub(crate) enum DictionaryLookup {
    /// Not a string chunk.
    #[default]
    Absent,
    /// Stored uncompressed: read in the chunk, at `body` (offset of the body in the chunk).
    InPlace {
        body: usize,
        len: usize,
        index: EntryIndex,
    },
    /// One lz4 block, decompressed once; `base` is the body's offset, for error reports.
    Decompressed {
        raw: Vec<u8>,
        base: usize,
        index: EntryIndex,
    },
    /// Groups of lz4 blocks in the dictionary section at `section..section + len`.
    Grouped {
        section: usize,
        len: usize,
        groups: Groups,
    },
}

impl DictionaryLookup {
    /// Prepares reads of the dictionary `section` (a section of the chunk, so its `base` is
    /// its offset in the chunk).
    pub(crate) fn new(section: Section<'_>) -> Result<DictionaryLookup, CodecError> {
        if is_grouped(section)? {
            return Ok(DictionaryLookup::Grouped {
                section: section.base,
                len: section.len(),
                groups: Groups::open(section)?,
            });
        }
        let stored_raw =
            section.u8(BLOCK_COMPRESSION_OFFSET, "dictionary compression")? == COMPRESSION_NONE;
        let block = decode_block(section)?;
        let base = section.base + BLOCK_BODY_OFFSET;
        let index = EntryIndex::build(Section::new(&block.raw, base), block.count)?;
        Ok(match block.raw {
            Cow::Borrowed(body) if stored_raw => DictionaryLookup::InPlace {
                body: base,
                len: body.len(),
                index,
            },
            raw => DictionaryLookup::Decompressed {
                raw: raw.into_owned(),
                base,
                index,
            },
        })
    }

    /// Entry `code`; `chunk` must be the bytes of the chunk the lookup was built from.
    pub(crate) fn entry(&self, chunk: &[u8], code: usize) -> Result<String, CodecError> {
        let in_chunk = |at: usize, len: usize| {
            at.checked_add(len)
                .and_then(|end| chunk.get(at..end))
                .map(|bytes| Section::new(bytes, at))
                .ok_or_else(|| corrupt(at, "dictionary lies past the end of the chunk"))
        };
        Ok(match self {
            DictionaryLookup::Absent => return Err(corrupt(0, "chunk has no dictionary")),
            DictionaryLookup::InPlace { body, len, index } => {
                index.entry(in_chunk(*body, *len)?, code)?.to_owned()
            }
            DictionaryLookup::Decompressed { raw, base, index } => {
                index.entry(Section::new(raw, *base), code)?.to_owned()
            }
            DictionaryLookup::Grouped {
                section,
                len,
                groups,
            } => {
                let mut raw = Vec::new();
                groups
                    .entry(in_chunk(*section, *len)?, code, &mut raw)?
                    .to_owned()
            }
        })
    }

    /// Approximate heap bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        match self {
            DictionaryLookup::Absent | DictionaryLookup::Grouped { .. } => 0,
            DictionaryLookup::InPlace { index, .. } => index.starts.capacity() * 4,
            DictionaryLookup::Decompressed { raw, index, .. } => {
                raw.capacity() + index.starts.capacity() * 4
            }
        }
    }
}
