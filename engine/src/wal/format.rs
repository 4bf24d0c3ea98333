//! Byte layout of WAL files and record framing; `storage-format.md` ("Write-ahead log") mirrors every constant here.
//!
//! Decoding never panics and never allocates from an untrusted length: every read is a checked
//! slice of the buffer it was given.

use super::error::WalError;
use super::Lsn;

/// The eight bytes every WAL file starts with.
pub(crate) const FILE_MAGIC: [u8; 8] = *b"PRFDBWAL";
/// The only file format version this build reads and writes.
pub(crate) const FORMAT_VERSION: u16 = 1;

/// File header: offset of the magic (8 bytes).
pub(crate) const FILE_MAGIC_OFFSET: usize = 0;
/// File header: offset of the format version (u16).
pub(crate) const FILE_VERSION_OFFSET: usize = 8;
/// File header: offset of the LSN of the file's first record (u64).
pub(crate) const FILE_FIRST_LSN_OFFSET: usize = 10;
/// File header: offset of the crc32 of bytes `0..FILE_HEADER_CRC_OFFSET` (u32).
pub(crate) const FILE_HEADER_CRC_OFFSET: usize = 18;
/// File header length; the first record starts here.
pub(crate) const FILE_HEADER_LEN: usize = 22;

/// Record header: offset of the payload length (u32).
pub(crate) const REC_LEN_OFFSET: usize = 0;
/// Record header: offset of the record's LSN (u64).
pub(crate) const REC_LSN_OFFSET: usize = 4;
/// Record header: offset of the crc32 of bytes `0..REC_HEADER_CRC_OFFSET` (u32).
pub(crate) const REC_HEADER_CRC_OFFSET: usize = 12;
/// Record header: offset of the crc32 of bytes `0..REC_HEADER_CRC_OFFSET` followed by the payload (u32).
pub(crate) const REC_CRC_OFFSET: usize = 16;
/// Record header length; the payload follows it.
pub(crate) const RECORD_HEADER_LEN: usize = 20;

/// Largest payload one record may carry (64 MiB); bounds what a corrupt length can make us read.
pub const MAX_PAYLOAD_LEN: usize = 64 << 20;

/// Name of the WAL file whose first record is `first_lsn`.
pub(crate) fn file_name(first_lsn: Lsn) -> String {
    format!("wal-{first_lsn:020}.log")
}

/// The first LSN encoded in a WAL file name, or `None` for any other name.
pub(crate) fn parse_file_name(name: &str) -> Option<Lsn> {
    let digits = name.strip_prefix("wal-")?.strip_suffix(".log")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Reads a little-endian u16 at `at`, or `None` past the end.
fn read_u16(buf: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(buf.get(at..at + 2)?.try_into().ok()?))
}

/// Reads a little-endian u32 at `at`, or `None` past the end.
fn read_u32(buf: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(buf.get(at..at + 4)?.try_into().ok()?))
}

/// Reads a little-endian u64 at `at`, or `None` past the end.
fn read_u64(buf: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(buf.get(at..at + 8)?.try_into().ok()?))
}

/// The header that starts a WAL file whose first record is `first_lsn`.
pub(crate) fn encode_file_header(first_lsn: Lsn) -> [u8; FILE_HEADER_LEN] {
    let mut header = [0u8; FILE_HEADER_LEN];
    header[FILE_MAGIC_OFFSET..FILE_VERSION_OFFSET].copy_from_slice(&FILE_MAGIC);
    header[FILE_VERSION_OFFSET..FILE_FIRST_LSN_OFFSET]
        .copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    header[FILE_FIRST_LSN_OFFSET..FILE_HEADER_CRC_OFFSET].copy_from_slice(&first_lsn.to_le_bytes());
    let crc = crc32fast::hash(&header[..FILE_HEADER_CRC_OFFSET]);
    header[FILE_HEADER_CRC_OFFSET..].copy_from_slice(&crc.to_le_bytes());
    header
}

/// Why a file header could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HeaderError {
    /// Fewer than [`FILE_HEADER_LEN`] bytes.
    Short,
    /// The magic does not match.
    BadMagic,
    /// The magic matches but the version is unknown.
    UnsupportedVersion(u16),
    /// The header checksum does not match.
    BadChecksum,
}

/// Decodes a file header at the start of `buf`, returning the file's first LSN.
pub(crate) fn decode_file_header(buf: &[u8]) -> Result<Lsn, HeaderError> {
    let header = buf.get(..FILE_HEADER_LEN).ok_or(HeaderError::Short)?;
    if header.get(FILE_MAGIC_OFFSET..FILE_VERSION_OFFSET) != Some(&FILE_MAGIC[..]) {
        return Err(HeaderError::BadMagic);
    }
    let version = read_u16(header, FILE_VERSION_OFFSET).ok_or(HeaderError::Short)?;
    if version != FORMAT_VERSION {
        return Err(HeaderError::UnsupportedVersion(version));
    }
    let stored = read_u32(header, FILE_HEADER_CRC_OFFSET).ok_or(HeaderError::Short)?;
    let covered = header
        .get(..FILE_HEADER_CRC_OFFSET)
        .ok_or(HeaderError::Short)?;
    if crc32fast::hash(covered) != stored {
        return Err(HeaderError::BadChecksum);
    }
    read_u64(header, FILE_FIRST_LSN_OFFSET).ok_or(HeaderError::Short)
}

/// Appends the framed record `(lsn, payload)` to `out`.
///
/// # Errors
/// [`WalError::PayloadTooLarge`] when `payload` exceeds [`MAX_PAYLOAD_LEN`]; `out` is then unchanged.
pub(crate) fn encode_record(out: &mut Vec<u8>, lsn: Lsn, payload: &[u8]) -> Result<(), WalError> {
    let too_large = || WalError::PayloadTooLarge {
        len: payload.len(),
        max: MAX_PAYLOAD_LEN,
    };
    if payload.len() > MAX_PAYLOAD_LEN {
        return Err(too_large());
    }
    let len = u32::try_from(payload.len()).map_err(|_| too_large())?;
    let mut fields = [0u8; REC_HEADER_CRC_OFFSET];
    fields[REC_LEN_OFFSET..REC_LSN_OFFSET].copy_from_slice(&len.to_le_bytes());
    fields[REC_LSN_OFFSET..REC_HEADER_CRC_OFFSET].copy_from_slice(&lsn.to_le_bytes());
    let header_crc = crc32fast::hash(&fields);
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&fields);
    hasher.update(payload);
    let record_crc = hasher.finalize();
    out.reserve(RECORD_HEADER_LEN + payload.len());
    out.extend_from_slice(&fields);
    out.extend_from_slice(&header_crc.to_le_bytes());
    out.extend_from_slice(&record_crc.to_le_bytes());
    out.extend_from_slice(payload);
    Ok(())
}

/// A record decoded from a byte buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DecodedRecord<'a> {
    /// The record's LSN.
    pub lsn: Lsn,
    /// The payload, borrowed from the buffer.
    pub payload: &'a [u8],
    /// Header plus payload: where the next record starts.
    pub encoded_len: usize,
}

/// Why the bytes at some position are not a valid record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RecordError {
    /// Fewer bytes than a record header remain.
    ShortHeader,
    /// The header checksum fails, so its length and LSN cannot be trusted.
    BadHeaderChecksum,
    /// The (checksummed) header declares a payload longer than [`MAX_PAYLOAD_LEN`].
    LengthTooLarge(u32),
    /// The header is valid but the buffer ends before the payload does.
    ShortPayload {
        /// Header plus declared payload length.
        needed: u64,
    },
    /// Header and payload are present but the record checksum fails.
    BadChecksum {
        /// Header plus payload length.
        encoded_len: usize,
    },
}

impl RecordError {
    /// Human-readable description for error messages and reports.
    pub(crate) fn reason(&self, available: usize) -> String {
        match self {
            RecordError::ShortHeader => {
                format!("incomplete record header ({available} of {RECORD_HEADER_LEN} bytes)")
            }
            RecordError::BadHeaderChecksum => "record header checksum mismatch".to_string(),
            RecordError::LengthTooLarge(len) => {
                format!("record payload length {len} exceeds limit {MAX_PAYLOAD_LEN}")
            }
            RecordError::ShortPayload { needed } => {
                format!("incomplete record ({available} of {needed} bytes)")
            }
            RecordError::BadChecksum { .. } => "record checksum mismatch".to_string(),
        }
    }
}

/// Decodes the record at the start of `buf`.
pub(crate) fn decode_record(buf: &[u8]) -> Result<DecodedRecord<'_>, RecordError> {
    let header = buf
        .get(..RECORD_HEADER_LEN)
        .ok_or(RecordError::ShortHeader)?;
    let fields = header
        .get(..REC_HEADER_CRC_OFFSET)
        .ok_or(RecordError::ShortHeader)?;
    let header_crc = read_u32(header, REC_HEADER_CRC_OFFSET).ok_or(RecordError::ShortHeader)?;
    if crc32fast::hash(fields) != header_crc {
        return Err(RecordError::BadHeaderChecksum);
    }
    let len = read_u32(header, REC_LEN_OFFSET).ok_or(RecordError::ShortHeader)?;
    let lsn = read_u64(header, REC_LSN_OFFSET).ok_or(RecordError::ShortHeader)?;
    let record_crc = read_u32(header, REC_CRC_OFFSET).ok_or(RecordError::ShortHeader)?;
    let payload_len = usize::try_from(len).map_err(|_| RecordError::LengthTooLarge(len))?;
    if payload_len > MAX_PAYLOAD_LEN {
        return Err(RecordError::LengthTooLarge(len));
    }
    let encoded_len = RECORD_HEADER_LEN + payload_len;
    let payload = buf
        .get(RECORD_HEADER_LEN..encoded_len)
        .ok_or(RecordError::ShortPayload {
            needed: encoded_len as u64,
        })?;
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(fields);
    hasher.update(payload);
    if hasher.finalize() != record_crc {
        return Err(RecordError::BadChecksum { encoded_len });
    }
    Ok(DecodedRecord {
        lsn,
        payload,
        encoded_len,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn file_names_round_trip_and_reject_others() {
        assert_eq!(file_name(42), "wal-00000000000000000042.log");
        assert_eq!(parse_file_name(&file_name(42)), Some(42));
        assert_eq!(parse_file_name(&file_name(u64::MAX)), Some(u64::MAX));
        for bad in [
            "wal-42.log",
            "wal-0000000000000000004x.log",
            "x.log",
            "wal-00000000000000000042.tmp",
        ] {
            assert_eq!(parse_file_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn file_header_round_trips_and_detects_damage() {
        let header = encode_file_header(7);
        assert_eq!(decode_file_header(&header), Ok(7));
        assert_eq!(
            decode_file_header(&header[..FILE_HEADER_LEN - 1]),
            Err(HeaderError::Short)
        );
        for i in 0..FILE_HEADER_LEN {
            let mut bad = header;
            bad[i] ^= 0x10;
            assert!(decode_file_header(&bad).is_err(), "flip at {i}");
        }
    }

    #[test]
    fn all_zero_record_header_is_rejected() {
        assert_eq!(
            decode_record(&[0u8; 64]),
            Err(RecordError::BadHeaderChecksum)
        );
    }

    #[test]
    fn oversized_payload_is_refused() {
        let mut out = Vec::new();
        let big = vec![0u8; MAX_PAYLOAD_LEN + 1];
        assert!(matches!(
            encode_record(&mut out, 1, &big),
            Err(WalError::PayloadTooLarge { .. })
        ));
        assert!(out.is_empty());
    }

    proptest! {
        #[test]
        fn record_framing_round_trips(lsn in any::<u64>(), payload in proptest::collection::vec(any::<u8>(), 0..2048), tail in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut buf = Vec::new();
            encode_record(&mut buf, lsn, &payload).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(buf.len(), RECORD_HEADER_LEN + payload.len());
            let encoded_len = buf.len();
            buf.extend_from_slice(&tail);
            let rec = decode_record(&buf).map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
            prop_assert_eq!(rec.lsn, lsn);
            prop_assert_eq!(rec.payload, &payload[..]);
            prop_assert_eq!(rec.encoded_len, encoded_len);
        }

        #[test]
        fn truncated_record_is_incomplete(lsn in any::<u64>(), payload in proptest::collection::vec(any::<u8>(), 0..512), cut in any::<prop::sample::Index>()) {
            let mut buf = Vec::new();
            encode_record(&mut buf, lsn, &payload).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let keep = cut.index(buf.len());
            let err = decode_record(&buf[..keep]);
            prop_assert!(matches!(err, Err(RecordError::ShortHeader | RecordError::ShortPayload { .. })), "{:?}", err);
        }

        #[test]
        fn flipped_record_byte_never_decodes(lsn in any::<u64>(), payload in proptest::collection::vec(any::<u8>(), 0..512), at in any::<prop::sample::Index>(), bit in 0u8..8) {
            let mut buf = Vec::new();
            encode_record(&mut buf, lsn, &payload).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let i = at.index(buf.len());
            buf[i] ^= 1 << bit;
            prop_assert!(decode_record(&buf).is_err());
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = decode_record(&bytes);
            let _ = decode_file_header(&bytes);
        }
    }
}
