//! Bounds-checked little-endian reads: the only way the reader touches chunk bytes.
//!
//! Every read takes the absolute offset of the slice inside the chunk so that a failure can be
//! reported at the byte where it happened.

use super::error::{corrupt, CodecError};

/// A sub-slice of a chunk together with its absolute offset inside the chunk.
#[derive(Clone, Copy)]
pub(crate) struct Section<'a> {
    /// The bytes of the section.
    pub bytes: &'a [u8],
    /// Absolute offset of `bytes[0]` inside the chunk.
    pub base: usize,
}

impl<'a> Section<'a> {
    /// Wraps `bytes`, which start at chunk offset `base`.
    pub fn new(bytes: &'a [u8], base: usize) -> Self {
        Section { bytes, base }
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// `len` bytes starting at `at` (relative), or `Corrupt` when they run past the end.
    pub fn slice(&self, at: usize, len: usize, what: &str) -> Result<Section<'a>, CodecError> {
        let end = at.checked_add(len);
        match end.and_then(|end| self.bytes.get(at..end)) {
            Some(bytes) => Ok(Section::new(bytes, self.base + at)),
            None => Err(corrupt(
                self.base + at.min(self.bytes.len()),
                format!(
                    "{what}: {len} bytes at {at} run past the end of a {}-byte section",
                    self.bytes.len()
                ),
            )),
        }
    }

    /// Everything from `at` (relative) to the end.
    pub fn rest(&self, at: usize, what: &str) -> Result<Section<'a>, CodecError> {
        let len = self.bytes.len().checked_sub(at).ok_or_else(|| {
            corrupt(
                self.base + self.bytes.len(),
                format!("{what}: offset {at} is past the end"),
            )
        })?;
        self.slice(at, len, what)
    }

    /// Fixed-size array at `at` (relative).
    pub fn array<const N: usize>(&self, at: usize, what: &str) -> Result<[u8; N], CodecError> {
        let s = self.slice(at, N, what)?;
        let mut out = [0u8; N];
        out.copy_from_slice(s.bytes);
        Ok(out)
    }

    /// Little-endian u8 at `at`.
    pub fn u8(&self, at: usize, what: &str) -> Result<u8, CodecError> {
        Ok(self.array::<1>(at, what)?[0])
    }

    /// Little-endian u16 at `at`.
    pub fn u16(&self, at: usize, what: &str) -> Result<u16, CodecError> {
        Ok(u16::from_le_bytes(self.array(at, what)?))
    }

    /// Little-endian u32 at `at`.
    pub fn u32(&self, at: usize, what: &str) -> Result<u32, CodecError> {
        Ok(u32::from_le_bytes(self.array(at, what)?))
    }

    /// Little-endian u32 at `at`, widened to usize.
    pub fn len32(&self, at: usize, what: &str) -> Result<usize, CodecError> {
        Ok(self.u32(at, what)? as usize)
    }

    /// Little-endian u64 at `at`.
    pub fn u64(&self, at: usize, what: &str) -> Result<u64, CodecError> {
        Ok(u64::from_le_bytes(self.array(at, what)?))
    }

    /// Little-endian i64 at `at`.
    pub fn i64(&self, at: usize, what: &str) -> Result<i64, CodecError> {
        Ok(i64::from_le_bytes(self.array(at, what)?))
    }

    /// A `Corrupt` error at relative offset `at`.
    pub fn error(&self, at: usize, reason: impl Into<String>) -> CodecError {
        corrupt(self.base + at, reason)
    }
}

/// Appends a little-endian u32; `value` must fit (callers bound it by the chunk limits).
pub(crate) fn put_u32(out: &mut Vec<u8>, value: usize) {
    let v = u32::try_from(value).unwrap_or(u32::MAX);
    out.extend_from_slice(&v.to_le_bytes());
}
