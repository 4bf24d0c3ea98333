//! Byte layout of dump files; `storage-format.md` ("Logical dumps") mirrors every constant here.
//!
//! ```text
//! +----------------------+  offset 0
//! | file header (16 B)   |  magic, format version, flags, crc32
//! +----------------------+  HEADER_LEN
//! | block                |  kind u8, payload length u32, payload crc32 u32, payload
//! | block ...            |  META, SCHEMA (profiles), SCHEMA (events), PROFILES*, EVENTS*
//! | END block            |  counts and a crc32 over every earlier block header
//! +----------------------+  end of file
//! ```
//! All integers are little-endian.

/// Magic bytes at offset 0.
pub const MAGIC: [u8; 8] = *b"PRFDBDMP";
/// File header: offset of the magic (8 bytes).
pub const HEADER_MAGIC_OFFSET: usize = 0;
/// File header: offset of the format version (u16).
pub const HEADER_VERSION_OFFSET: usize = 8;
/// File header: offset of the flags (u16, zero in version 1).
pub const HEADER_FLAGS_OFFSET: usize = 10;
/// File header: offset of the crc32 of bytes `0..HEADER_CRC_OFFSET` (u32).
pub const HEADER_CRC_OFFSET: usize = 12;
/// File header length; the first block starts here.
pub const HEADER_LEN: usize = 16;

/// The dump format version this build writes and the only one it reads.
pub const FORMAT_VERSION: u16 = 1;

/// Block header: offset of the block kind (u8).
pub const BLOCK_KIND_OFFSET: usize = 0;
/// Block header: offset of the payload length (u32).
pub const BLOCK_LEN_OFFSET: usize = 1;
/// Block header: offset of the crc32 of the payload (u32).
pub const BLOCK_CRC_OFFSET: usize = 5;
/// Block header length; the payload follows it.
pub const BLOCK_HEADER_LEN: usize = 9;

/// Block kind: creation info and restore hints (first block).
pub const KIND_META: u8 = 1;
/// Block kind: the columns of one table (one per table, profiles first).
pub const KIND_SCHEMA: u8 = 2;
/// Block kind: profile rows (row id + one value per column).
pub const KIND_PROFILES: u8 = 3;
/// Block kind: event rows (one value per column, no row id).
pub const KIND_EVENTS: u8 = 4;
/// Block kind: totals and the chain checksum (last block).
pub const KIND_END: u8 = 5;

/// Most rows one row block holds.
pub const ROWS_PER_BLOCK: usize = 4096;
/// A row block is closed early once its payload reaches this many bytes, so blocks (and the
/// write batches restore builds from them) stay far below the WAL's record limit.
pub const BLOCK_SOFT_LIMIT_BYTES: usize = 8 << 20;

/// The 16-byte file header for `version`.
#[must_use]
pub fn encode_header(version: u16) -> [u8; HEADER_LEN] {
    let mut header = [0u8; HEADER_LEN];
    header[HEADER_MAGIC_OFFSET..HEADER_VERSION_OFFSET].copy_from_slice(&MAGIC);
    header[HEADER_VERSION_OFFSET..HEADER_FLAGS_OFFSET].copy_from_slice(&version.to_le_bytes());
    header[HEADER_FLAGS_OFFSET..HEADER_CRC_OFFSET].copy_from_slice(&0u16.to_le_bytes());
    let crc = crc32fast::hash(&header[..HEADER_CRC_OFFSET]);
    header[HEADER_CRC_OFFSET..].copy_from_slice(&crc.to_le_bytes());
    header
}

/// The 9-byte header of a block of `kind` carrying `payload`.
///
/// # Panics
/// If `payload` is 4 GiB or longer; writers close blocks long before.
#[must_use]
pub fn encode_block_header(kind: u8, payload: &[u8]) -> [u8; BLOCK_HEADER_LEN] {
    let len = u32::try_from(payload.len()).expect("dump blocks stay below 4 GiB");
    let mut header = [0u8; BLOCK_HEADER_LEN];
    header[BLOCK_KIND_OFFSET] = kind;
    header[BLOCK_LEN_OFFSET..BLOCK_CRC_OFFSET].copy_from_slice(&len.to_le_bytes());
    header[BLOCK_CRC_OFFSET..].copy_from_slice(&crc32fast::hash(payload).to_le_bytes());
    header
}

/// Human-readable name of a block kind, for error messages.
#[must_use]
pub fn kind_name(kind: u8) -> &'static str {
    match kind {
        KIND_META => "META",
        KIND_SCHEMA => "SCHEMA",
        KIND_PROFILES => "PROFILES",
        KIND_EVENTS => "EVENTS",
        KIND_END => "END",
        _ => "unknown",
    }
}
