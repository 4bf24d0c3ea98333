//! Immutable columnar segment files.
//!
//! A segment holds, for one table, the rows written since the previous flush (or, after
//! compaction, every live row), one run of checksummed chunks per column. Later segments
//! override earlier ones column by column: for each column, a row's value is the one in the
//! newest layer that sets it.

mod bulk;
mod file;
pub mod layout;
mod reader;
mod writer;

pub use bulk::SegmentBuilder;
pub use reader::{Segment, SegmentColumn};
pub use writer::{ChunkLocation, SegmentWriter};
