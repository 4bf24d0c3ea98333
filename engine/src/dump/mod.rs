//! Logical dumps of a database (like `pg_dump`), and an offline integrity check.
//!
//! A dump is one streaming, versioned, self-describing file: a file header, then checksummed
//! blocks (creation info, the schema of each table, profile rows, event rows) and an END block
//! whose totals and chain checksum make truncation detectable. `storage-format.md` ("Logical dumps") gives the byte
//! layout; [`format`] holds every offset as a named constant.
//!
//! - [`write_dump`] writes a [`Snapshot`](crate::Snapshot) deterministically: the same live
//!   content always gives the same bytes, so dump → restore → dump is byte-identical.
//! - [`verify_dump`] checks a dump completely without writing anything.
//! - [`restore_dump`] loads a dump into an empty [`Database`](crate::Database).
//! - [`check_database`] verifies a database directory's files read-only.

mod cells;
pub mod check;
mod error;
pub mod format;
mod payload;
mod reader;
mod restore;
mod writer;

#[cfg(test)]
mod check_tests;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;

pub use check::{check_database, check_database_with_storage, CheckReport, Problem};
pub use error::DumpError;
pub use restore::restore_dump;
pub use writer::write_dump;

use reader::{DiscardRows, DumpReader, Item};
use std::io::Read;

/// What a dump holds, as written, verified or restored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpSummary {
    /// The dump format version.
    pub format_version: u16,
    /// Name and version of the software that wrote the dump.
    pub creator: String,
    /// Profile rows.
    pub profiles: u64,
    /// Event rows.
    pub events: u64,
    /// Columns of the profiles table.
    pub profile_columns: usize,
    /// Columns of the events table (`profile_id` included).
    pub event_columns: usize,
    /// Blocks, the END block included.
    pub blocks: u64,
    /// Size of the dump in bytes.
    pub bytes: u64,
}

/// Reads a whole dump and checks every checksum, count and structural rule restore relies
/// on, without writing anything.
///
/// # Errors
/// [`DumpError::Corrupt`] with the byte offset of the damage, [`DumpError::Truncated`],
/// [`DumpError::UnsupportedVersion`] or I/O errors.
pub fn verify_dump(input: &mut dyn Read) -> Result<DumpSummary, DumpError> {
    let mut reader = DumpReader::open(input)?;
    loop {
        if let Item::End(summary) = reader.next_item(&mut DiscardRows)? {
            return Ok(summary);
        }
    }
}
