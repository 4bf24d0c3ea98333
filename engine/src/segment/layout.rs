//! Byte layout of segment files; mirrors the "Segment files" section of `storage-format.md`.
//!
//! ```text
//! +--------------------+  offset 0
//! | header (32 bytes)  |
//! +--------------------+  HEADER_LEN
//! | column chunks ...  |  each a self-checking chunk (see codec)
//! +--------------------+  footer_offset
//! | footer body        |  bitmaps, column directory (crc in trailer)
//! +--------------------+  file_len - TRAILER_LEN
//! | trailer (32 bytes) |
//! +--------------------+  file_len
//! ```
//! All integers are little-endian.

/// Magic bytes at offset 0.
pub const HEADER_MAGIC: [u8; 8] = *b"PRFDBSEG";
/// Header: magic.
pub const HEADER_MAGIC_OFFSET: usize = 0;
/// Header: format version (u16).
pub const HEADER_VERSION_OFFSET: usize = 8;
/// Header: table tag (u8).
pub const HEADER_TABLE_OFFSET: usize = 10;
/// Header: segment id (u64).
pub const HEADER_SEGMENT_ID_OFFSET: usize = 16;
/// Header: crc32 of bytes `0..HEADER_CRC_OFFSET` (u32).
pub const HEADER_CRC_OFFSET: usize = 28;
/// Length of the header.
pub const HEADER_LEN: usize = 32;

/// Trailer: offset of the footer body (u64).
pub const TRAILER_FOOTER_OFFSET_OFFSET: usize = 0;
/// Trailer: length of the footer body (u64).
pub const TRAILER_FOOTER_LEN_OFFSET: usize = 8;
/// Trailer: crc32 of the footer body (u32).
pub const TRAILER_FOOTER_CRC_OFFSET: usize = 16;
/// Trailer: format version (u16), repeated so a reader can check it from the end.
pub const TRAILER_VERSION_OFFSET: usize = 20;
/// Trailer: reserved (u16), always zero.
pub const TRAILER_RESERVED_OFFSET: usize = 22;
/// Trailer: magic bytes.
pub const TRAILER_MAGIC_OFFSET: usize = 24;
/// Magic bytes ending the file.
pub const TRAILER_MAGIC: [u8; 8] = *b"PRFDBEND";
/// Length of the trailer.
pub const TRAILER_LEN: usize = 32;

/// The segment format version this build writes.
pub const FORMAT_VERSION: u16 = 1;
/// The oldest segment format version this build reads.
pub const OLDEST_SUPPORTED_VERSION: u16 = 1;

/// Rows per column chunk: one roaring container's worth, so a chunk maps to one bitmap key.
pub const ROWS_PER_CHUNK: usize = 65_536;

/// File name of segment `id`.
#[must_use]
pub fn file_name(id: u64) -> String {
    format!("seg-{id:010}.pdb")
}

/// Temporary name a segment is written under before it is sealed by rename.
#[must_use]
pub fn temp_file_name(id: u64) -> String {
    format!("seg-{id:010}.tmp")
}

/// The segment id in a sealed segment's file name.
#[must_use]
pub fn parse_file_name(name: &str) -> Option<u64> {
    name.strip_prefix("seg-")?
        .strip_suffix(".pdb")?
        .parse()
        .ok()
}
