//! On-disk encoding of one column chunk (at most [`MAX_CHUNK_ROWS`] rows), its reader, and the
//! scan kernels that evaluate predicates over decoded or still-encoded values.
//!
//! The byte-level contract is `storage-format.md` ("Column chunks"); every offset in it has a constant in [`layout`].
//! Design choices driven by this hardware: memory streams at ~14 GB/s per core and crc32 at
//! 10–18 GB/s, but lz4 decodes at only 1.3–3 GB/s. So numbers and dictionary codes are stored
//! with byte-aligned frame-of-reference or run-length encoding (whichever is smaller), which
//! decode in vectorized widening loops or can be scanned in place; lz4 is reserved for string
//! dictionaries and list data, where it pays for itself.
//!
//! Writing: [`ChunkBuilder`] → `Vec<u8>`. Reading: [`ChunkReader::open`] verifies the crc32 and
//! structure, then hands out zero-copy views, decoded [`ChunkValues`], bitmaps and zone maps.

mod bitmaps;
mod builder;
mod chunk_strings;
mod dictionary_groups;
mod dictionary_lookup;
mod encoding;
mod error;
mod int;
pub mod kernels;
pub mod layout;
mod point;
mod reader;
mod scan;
mod strings;
mod values;
mod wire;

#[cfg(test)]
mod grouped_tests;
#[cfg(test)]
mod tests;

pub use builder::ChunkBuilder;
pub use encoding::Encoding;
pub use error::CodecError;
pub use kernels::{
    between_f64, between_i64, bitset_to_bitmap, codes_in_set, compare_f64, compare_i64, CompareOp,
};
pub use point::PointReader;
pub use reader::ChunkReader;
pub use values::{ChunkValues, ZoneMap};

/// Most rows one chunk may hold (so chunk-local row positions fit a u16 container of roaring).
pub const MAX_CHUNK_ROWS: usize = 65_536;
