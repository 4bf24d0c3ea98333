//! Little-endian byte writing and bounds-checked reading for records and snapshots.
//!
//! The reader never panics: every read checks the remaining length and reports a `Corrupt`
//! error naming what was being decoded.

use super::error::IdentityError;

/// Appends little-endian primitives and length-prefixed strings.
pub(crate) trait Put {
    /// Appends a `u8`.
    fn put_u8(&mut self, v: u8);
    /// Appends a little-endian `u16`.
    fn put_u16(&mut self, v: u16);
    /// Appends a little-endian `u32`.
    fn put_u32(&mut self, v: u32);
    /// Appends a little-endian `u64`.
    fn put_u64(&mut self, v: u64);
    /// Appends a little-endian `i64`.
    fn put_i64(&mut self, v: i64);
    /// Appends a `u32` byte length and the UTF-8 bytes.
    fn put_str(&mut self, s: &str);
    /// Appends a collection length as `u32`.
    fn put_len(&mut self, n: usize);
}

impl Put for Vec<u8> {
    fn put_u8(&mut self, v: u8) {
        self.push(v);
    }
    fn put_u16(&mut self, v: u16) {
        self.extend_from_slice(&v.to_le_bytes());
    }
    fn put_u32(&mut self, v: u32) {
        self.extend_from_slice(&v.to_le_bytes());
    }
    fn put_u64(&mut self, v: u64) {
        self.extend_from_slice(&v.to_le_bytes());
    }
    fn put_i64(&mut self, v: i64) {
        self.extend_from_slice(&v.to_le_bytes());
    }
    fn put_str(&mut self, s: &str) {
        self.put_len(s.len());
        self.extend_from_slice(s.as_bytes());
    }
    fn put_len(&mut self, n: usize) {
        self.put_u32(u32::try_from(n).expect("collections and strings under 4 GiB"));
    }
}

/// A cursor over untrusted bytes.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Reader<'a> {
    /// A reader over `buf`; `what` names the format in errors.
    pub(crate) fn new(buf: &'a [u8], what: &'static str) -> Reader<'a> {
        Reader { buf, pos: 0, what }
    }

    /// A `Corrupt` error for this format.
    pub(crate) fn corrupt(&self, reason: impl Into<String>) -> IdentityError {
        IdentityError::Corrupt {
            what: self.what,
            reason: reason.into(),
        }
    }

    /// Bytes not yet read.
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// The next `n` bytes.
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], IdentityError> {
        if n > self.remaining() {
            return Err(self.corrupt(format!(
                "truncated: needed {n} bytes at offset {}, {} left",
                self.pos,
                self.remaining()
            )));
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    /// The next `N` bytes as an array.
    fn array<const N: usize>(&mut self) -> Result<[u8; N], IdentityError> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    /// Reads a `u8`.
    pub(crate) fn u8(&mut self) -> Result<u8, IdentityError> {
        Ok(self.array::<1>()?[0])
    }
    /// Reads a little-endian `u16`.
    pub(crate) fn u16(&mut self) -> Result<u16, IdentityError> {
        Ok(u16::from_le_bytes(self.array()?))
    }
    /// Reads a little-endian `u32`.
    pub(crate) fn u32(&mut self) -> Result<u32, IdentityError> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    /// Reads a little-endian `u64`.
    pub(crate) fn u64(&mut self) -> Result<u64, IdentityError> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    /// Reads a little-endian `i64`.
    pub(crate) fn i64(&mut self) -> Result<i64, IdentityError> {
        Ok(i64::from_le_bytes(self.array()?))
    }

    /// Reads a `u32` count of items each at least `min_item_bytes` long, rejecting counts the
    /// remaining bytes cannot hold (so a flipped length never triggers a huge allocation).
    pub(crate) fn count(&mut self, min_item_bytes: usize) -> Result<usize, IdentityError> {
        let n = self.u32()? as usize;
        if n.saturating_mul(min_item_bytes.max(1)) > self.remaining() {
            return Err(self.corrupt(format!("count {n} exceeds the remaining bytes")));
        }
        Ok(n)
    }

    /// Reads a `u32`-length-prefixed UTF-8 string.
    pub(crate) fn str(&mut self) -> Result<&'a str, IdentityError> {
        let n = self.count(1)?;
        let bytes = self.take(n)?;
        std::str::from_utf8(bytes).map_err(|_| self.corrupt("string is not UTF-8"))
    }

    /// Fails unless every byte was consumed.
    pub(crate) fn finish(&self) -> Result<(), IdentityError> {
        if self.remaining() == 0 {
            Ok(())
        } else {
            Err(self.corrupt(format!("{} trailing bytes", self.remaining())))
        }
    }
}
