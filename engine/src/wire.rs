//! Little-endian byte writing and bounds-checked reading shared by the engine's file formats.
//!
//! Every decoder reads untrusted bytes through [`ByteReader`], which never panics and reports
//! the offset where the bytes stopped making sense.

use crate::value::{ColumnType, Value};

/// Why a byte sequence could not be decoded, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at byte {offset}: {reason}")]
pub struct WireError {
    /// Offset (from the start of the decoded buffer) where decoding failed.
    pub offset: usize,
    /// What was wrong.
    pub reason: &'static str,
}

/// Appends little-endian encodings to a byte vector.
#[derive(Debug, Default)]
pub struct ByteWriter {
    bytes: Vec<u8>,
}

impl ByteWriter {
    /// An empty writer.
    #[must_use]
    pub fn new() -> Self {
        ByteWriter::default()
    }

    /// A writer that appends to `bytes` (reuses its allocation).
    #[must_use]
    pub fn from_vec(bytes: Vec<u8>) -> Self {
        ByteWriter { bytes }
    }

    /// The bytes written so far.
    #[must_use]
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// Writes a u32 length prefix then what `write` appends, the prefix giving its length
    /// (for payloads encoded in place, without a vector of their own).
    ///
    /// # Panics
    /// If the payload reaches 4 GiB.
    pub fn length_prefixed(&mut self, write: impl FnOnce(&mut Vec<u8>)) {
        let prefix_at = self.bytes.len();
        self.u32(0);
        write(&mut self.bytes);
        let length = self.bytes.len() - prefix_at - 4;
        let length = u32::try_from(length).expect("payload below 4 GiB");
        self.bytes[prefix_at..prefix_at + 4].copy_from_slice(&length.to_le_bytes());
    }

    /// Number of bytes written so far.
    #[must_use]
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether nothing was written yet.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Writes one byte.
    pub fn u8(&mut self, v: u8) {
        self.bytes.push(v);
    }

    /// Writes a little-endian u16.
    pub fn u16(&mut self, v: u16) {
        self.bytes.extend_from_slice(&v.to_le_bytes());
    }

    /// Writes a little-endian u32.
    pub fn u32(&mut self, v: u32) {
        self.bytes.extend_from_slice(&v.to_le_bytes());
    }

    /// Writes a little-endian u64.
    pub fn u64(&mut self, v: u64) {
        self.bytes.extend_from_slice(&v.to_le_bytes());
    }

    /// Writes a little-endian i64.
    pub fn i64(&mut self, v: i64) {
        self.bytes.extend_from_slice(&v.to_le_bytes());
    }

    /// Overwrites the little-endian u32 written at offset `at` (a field whose value is
    /// known only once what follows it is written).
    ///
    /// # Panics
    /// If fewer than four bytes were written from `at`.
    pub fn set_u32_at(&mut self, at: usize, v: u32) {
        self.bytes[at..at + 4].copy_from_slice(&v.to_le_bytes());
    }

    /// Writes a u32 in LEB128: seven bits a byte, low bits first, the high bit set on every
    /// byte but the last; one byte below 128.
    pub fn var_u32(&mut self, mut v: u32) {
        while v >= 0x80 {
            self.u8(v.to_le_bytes()[0] | 0x80);
            v >>= 7;
        }
        self.u8(v.to_le_bytes()[0]);
    }

    /// Writes raw bytes.
    pub fn raw(&mut self, v: &[u8]) {
        self.bytes.extend_from_slice(v);
    }

    /// Writes a u32 length then the bytes.
    ///
    /// # Panics
    /// If `v` is 4 GiB or longer, which no caller produces (records are bounded far below).
    pub fn bytes(&mut self, v: &[u8]) {
        self.u32(u32::try_from(v.len()).expect("encoded field below 4 GiB"));
        self.raw(v);
    }

    /// Writes a length-prefixed UTF-8 string.
    pub fn str(&mut self, v: &str) {
        self.bytes(v.as_bytes());
    }

    /// Writes a value: its type tag (0 for NULL) then its payload.
    pub fn value(&mut self, v: &Value) {
        match v {
            Value::Null => self.u8(0),
            Value::Bool(b) => {
                self.u8(ColumnType::Bool.tag());
                self.u8(u8::from(*b));
            }
            Value::Int64(i) => {
                self.u8(ColumnType::Int64.tag());
                self.i64(*i);
            }
            Value::Float64(f) => {
                self.u8(ColumnType::Float64.tag());
                self.u64(f.to_bits());
            }
            Value::Timestamp(t) => {
                self.u8(ColumnType::Timestamp.tag());
                self.i64(*t);
            }
            Value::String(s) => {
                self.u8(ColumnType::String.tag());
                self.str(s);
            }
            Value::StringList(list) => {
                self.u8(ColumnType::StringList.tag());
                self.u32(u32::try_from(list.len()).expect("list below 4 G items"));
                for s in list {
                    self.str(s);
                }
            }
        }
    }
}

/// Reads little-endian encodings from a byte slice, with bounds checks.
#[derive(Debug, Clone)]
pub struct ByteReader<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl<'a> ByteReader<'a> {
    /// A reader at the start of `bytes`.
    #[must_use]
    pub fn new(bytes: &'a [u8]) -> Self {
        ByteReader { bytes, position: 0 }
    }

    /// A reader of `bytes` from offset `position`: errors name offsets from the start.
    #[must_use]
    pub fn starting_at(bytes: &'a [u8], position: usize) -> Self {
        ByteReader {
            bytes,
            position: position.min(bytes.len()),
        }
    }

    /// Current offset from the start.
    #[must_use]
    pub fn position(&self) -> usize {
        self.position
    }

    /// Bytes not read yet.
    #[must_use]
    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.position
    }

    /// An error at the current offset.
    #[must_use]
    pub fn error(&self, reason: &'static str) -> WireError {
        WireError {
            offset: self.position,
            reason,
        }
    }

    /// Takes the next `len` bytes.
    ///
    /// # Errors
    /// When fewer than `len` bytes remain.
    pub fn take(&mut self, len: usize) -> Result<&'a [u8], WireError> {
        let end = self
            .position
            .checked_add(len)
            .filter(|&end| end <= self.bytes.len())
            .ok_or_else(|| self.error("unexpected end of data"))?;
        let slice = &self.bytes[self.position..end];
        self.position = end;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    /// Reads one byte.
    ///
    /// # Errors
    /// At end of data.
    pub fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.array::<1>()?[0])
    }

    /// Reads a little-endian u16.
    ///
    /// # Errors
    /// At end of data.
    pub fn u16(&mut self) -> Result<u16, WireError> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    /// Reads a little-endian u32.
    ///
    /// # Errors
    /// At end of data.
    pub fn u32(&mut self) -> Result<u32, WireError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    /// Reads a little-endian u64.
    ///
    /// # Errors
    /// At end of data.
    pub fn u64(&mut self) -> Result<u64, WireError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// Reads a little-endian i64.
    ///
    /// # Errors
    /// At end of data.
    pub fn i64(&mut self) -> Result<i64, WireError> {
        Ok(i64::from_le_bytes(self.array()?))
    }

    /// Reads a u32 written by [`ByteWriter::var_u32`].
    ///
    /// # Errors
    /// At end of data, or when the encoding runs past 32 bits.
    pub fn var_u32(&mut self) -> Result<u32, WireError> {
        let start = self.position;
        let too_long = WireError {
            offset: start,
            reason: "variable-length integer exceeds 32 bits",
        };
        let mut value = 0u32;
        for shift in [0, 7, 14, 21, 28] {
            let byte = self.u8()?;
            let bits = u32::from(byte & 0x7F);
            if shift == 28 && bits > 0x0F {
                return Err(too_long);
            }
            value |= bits << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(too_long)
    }

    /// Reads a u32 length then that many bytes.
    ///
    /// # Errors
    /// When the length runs past the end.
    pub fn bytes(&mut self) -> Result<&'a [u8], WireError> {
        let len = self.u32()? as usize;
        self.take(len)
    }

    /// Reads a length-prefixed UTF-8 string.
    ///
    /// # Errors
    /// When the length runs past the end or the bytes are not UTF-8.
    pub fn str(&mut self) -> Result<&'a str, WireError> {
        let start = self.position;
        let raw = self.bytes()?;
        std::str::from_utf8(raw).map_err(|_| WireError {
            offset: start,
            reason: "string is not valid UTF-8",
        })
    }

    /// Reads a value written by [`ByteWriter::value`].
    ///
    /// # Errors
    /// On an unknown type tag, a bad bool byte, or truncation.
    pub fn value(&mut self) -> Result<Value, WireError> {
        let tag_offset = self.position;
        let tag = self.u8()?;
        if tag == 0 {
            return Ok(Value::Null);
        }
        let column_type = ColumnType::from_tag(tag).ok_or(WireError {
            offset: tag_offset,
            reason: "unknown value type tag",
        })?;
        Ok(match column_type {
            ColumnType::Bool => match self.u8()? {
                0 => Value::Bool(false),
                1 => Value::Bool(true),
                _ => return Err(self.error("bool byte is neither 0 nor 1")),
            },
            ColumnType::Int64 => Value::Int64(self.i64()?),
            ColumnType::Float64 => Value::Float64(f64::from_bits(self.u64()?)),
            ColumnType::Timestamp => Value::Timestamp(self.i64()?),
            ColumnType::String => Value::String(self.str()?.to_owned()),
            ColumnType::StringList => {
                let count = self.u32()? as usize;
                // Each item needs at least its 4-byte length: bounds the allocation.
                if count > self.remaining() / 4 {
                    return Err(self.error("list length exceeds the data"));
                }
                let mut list = Vec::with_capacity(count);
                for _ in 0..count {
                    list.push(self.str()?.to_owned());
                }
                Value::StringList(list)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_values() -> Vec<Value> {
        vec![
            Value::Null,
            Value::Bool(true),
            Value::Int64(i64::MIN),
            Value::Float64(-0.0),
            Value::Timestamp(1_700_000_000_000_000),
            Value::String("Zürich 東京".into()),
            Value::StringList(vec![String::new(), "vip".into()]),
        ]
    }

    #[test]
    fn values_round_trip() {
        let mut w = ByteWriter::new();
        for v in sample_values() {
            w.value(&v);
        }
        let bytes = w.into_bytes();
        let mut r = ByteReader::new(&bytes);
        for v in sample_values() {
            let got = r.value().unwrap();
            match (&v, &got) {
                (Value::Float64(a), Value::Float64(b)) => assert_eq!(a.to_bits(), b.to_bits()),
                _ => assert_eq!(v, got),
            }
        }
        assert_eq!(r.remaining(), 0);
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let mut w = ByteWriter::new();
        for v in sample_values() {
            w.value(&v);
        }
        let bytes = w.into_bytes();
        for len in 0..bytes.len() {
            let mut r = ByteReader::new(&bytes[..len]);
            let outcome: Result<Vec<Value>, _> = (0..7).map(|_| r.value()).collect();
            assert!(outcome.is_err(), "prefix of {len} bytes decoded");
        }
    }

    #[test]
    fn variable_length_integers_round_trip_in_as_few_bytes_as_their_bits_need() {
        let cases = [
            (0, 1),
            (127, 1),
            (128, 2),
            (16_383, 2),
            (16_384, 3),
            (1 << 28, 5),
            (u32::MAX, 5),
        ];
        for (value, len) in cases {
            let mut w = ByteWriter::new();
            w.var_u32(value);
            let bytes = w.into_bytes();
            assert_eq!(bytes.len(), len, "{value}");
            let mut r = ByteReader::new(&bytes);
            assert_eq!(r.var_u32(), Ok(value));
            assert_eq!(r.remaining(), 0);
            for cut in 0..len {
                assert!(ByteReader::new(&bytes[..cut]).var_u32().is_err());
            }
        }
    }

    #[test]
    fn variable_length_integers_past_32_bits_are_rejected() {
        for bytes in [
            &[0xFF, 0xFF, 0xFF, 0xFF, 0x10][..],
            &[0x80, 0x80, 0x80, 0x80, 0x80, 0x01][..],
        ] {
            let error = ByteReader::new(bytes).var_u32().unwrap_err();
            assert_eq!(error.offset, 0);
        }
    }
}
