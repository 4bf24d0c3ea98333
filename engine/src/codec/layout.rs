//! Byte offsets and tags of the chunk format (format version 2), mirrored in `storage-format.md` ("Column chunks").
//!
//! Every multi-byte integer is little-endian. Offsets named `HEADER_*` are absolute offsets
//! inside the chunk; the others are relative to the start of the part they describe.

/// First four bytes of every chunk.
pub const MAGIC: [u8; 4] = *b"PDBC";
/// The format version this build writes (version 2 added grouped dictionaries).
pub const FORMAT_VERSION: u16 = 2;
/// The oldest format version this build reads.
pub const OLDEST_SUPPORTED_VERSION: u16 = 1;
/// The first format version whose dictionaries may use [`COMPRESSION_LZ4_GROUPS`].
pub const GROUPED_DICTIONARY_VERSION: u16 = 2;

/// Offset of the 4-byte magic.
pub const HEADER_MAGIC_OFFSET: usize = 0;
/// Offset of the u16 format version.
pub const HEADER_VERSION_OFFSET: usize = 4;
/// Offset of the u8 column type tag (`ColumnType::tag`).
pub const HEADER_COLUMN_TYPE_OFFSET: usize = 6;
/// Offset of the u8 encoding tag (`Encoding::tag`).
pub const HEADER_ENCODING_OFFSET: usize = 7;
/// Offset of the u32 row count.
pub const HEADER_ROWS_OFFSET: usize = 8;
/// Offset of the u32 null row count.
pub const HEADER_NULL_COUNT_OFFSET: usize = 12;
/// Offset of the u32 total chunk length in bytes, trailing crc included.
pub const HEADER_CHUNK_LEN_OFFSET: usize = 16;
/// Offset of the section table: `SECTION_COUNT` entries of (u32 offset, u32 length).
pub const HEADER_SECTIONS_OFFSET: usize = 20;
/// Bytes per section table entry.
pub const SECTION_ENTRY_LEN: usize = 8;
/// Number of sections, in file order.
pub const SECTION_COUNT: usize = 5;
/// Header length; the first section starts here.
pub const HEADER_LEN: usize = HEADER_SECTIONS_OFFSET + SECTION_COUNT * SECTION_ENTRY_LEN;
/// Length of the trailing crc32 (IEEE, `crc32fast`) over every preceding byte of the chunk.
pub const CRC_LEN: usize = 4;

/// Section index: null bitmap (roaring portable serialization; empty when no nulls).
pub const SECTION_NULLS: usize = 0;
/// Section index: zone map (16 bytes for numeric chunks with a non-null value, else empty).
pub const SECTION_ZONE_MAP: usize = 1;
/// Section index: string dictionary (String/StringList chunks only, else empty).
pub const SECTION_DICTIONARY: usize = 2;
/// Section index: per-value bitmap directory (empty when the chunk has none).
pub const SECTION_VALUE_BITMAPS: usize = 3;
/// Section index: encoded values.
pub const SECTION_PAYLOAD: usize = 4;

/// Zone map: offset of the min (i64, or f64 bits as u64).
pub const ZONE_MIN_OFFSET: usize = 0;
/// Zone map: offset of the max (i64, or f64 bits as u64).
pub const ZONE_MAX_OFFSET: usize = 8;
/// Zone map section length when present.
pub const ZONE_MAP_LEN: usize = 16;

/// Dictionary / list block: offset of the u32 item count (entries or list elements).
pub const BLOCK_COUNT_OFFSET: usize = 0;
/// Dictionary / list block: offset of the u32 uncompressed body length.
pub const BLOCK_RAW_LEN_OFFSET: usize = 4;
/// Dictionary / list block: offset of the u8 compression tag.
pub const BLOCK_COMPRESSION_OFFSET: usize = 8;
/// Dictionary / list block: offset of the (possibly compressed) body.
pub const BLOCK_BODY_OFFSET: usize = 9;
/// Compression tag: body stored as is.
pub const COMPRESSION_NONE: u8 = 0;
/// Compression tag: body is one lz4 block (lz4_flex `compress`, no size prefix).
pub const COMPRESSION_LZ4: u8 = 1;
/// Compression tag (dictionaries of format 2 chunks only): the entries are stored in groups of
/// [`DICTIONARY_GROUP_ENTRIES`], each its own lz4 block, so reading one entry decompresses
/// one small group instead of the whole dictionary.
pub const COMPRESSION_LZ4_GROUPS: u8 = 2;
/// Grouped dictionary body: offset of the u32 group count.
pub const GROUPS_COUNT_OFFSET: usize = 0;
/// Grouped dictionary body: offset of the group table, one entry per group.
pub const GROUPS_TABLE_OFFSET: usize = 4;
/// Bytes per group table entry: u32 end of the group's lz4 bytes (relative to the first
/// group), then u32 end of its uncompressed bytes (relative to the first group's).
pub const GROUP_ENTRY_LEN: usize = 8;
/// Entries per group (the last group holds the rest).
pub const DICTIONARY_GROUP_ENTRIES: usize = 32;
/// Dictionaries whose uncompressed body is smaller than this are written as one block: decoding
/// them whole costs about as much as one group.
pub const DICTIONARY_GROUPS_MIN_RAW: usize = 16 * 1024;
/// Upper bound of the lz4 expansion ratio, used to reject absurd uncompressed lengths.
pub const LZ4_MAX_RATIO: usize = 256;

/// Value bitmap directory: offset of the u32 bitmap count.
pub const BITMAPS_COUNT_OFFSET: usize = 0;
/// Value bitmap directory: offset of the u32 end offsets (one per bitmap) of the data area.
pub const BITMAPS_ENDS_OFFSET: usize = 4;
/// Largest dictionary that still gets per-value bitmaps.
pub const MAX_BITMAP_DICTIONARY: usize = 256;

/// FOR payload: offset of the i64 reference (the minimum stored value).
pub const FOR_REFERENCE_OFFSET: usize = 0;
/// FOR payload: offset of the packed deltas.
pub const FOR_DELTAS_OFFSET: usize = 8;

/// RLE payload: offset of the u32 run count `n`; then `n` 8-byte values, then `n` u32 run ends.
pub const RLE_RUN_COUNT_OFFSET: usize = 0;
/// RLE payload: offset of the run values.
pub const RLE_VALUES_OFFSET: usize = 4;
