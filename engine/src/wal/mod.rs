//! The write-ahead log: every mutation is a durable record before it is acknowledged.
//!
//! Records are opaque payloads numbered by consecutive [`Lsn`]s starting at 1. They are framed
//! with a checksummed header and appended to files `wal-{first_lsn:020}.log`; the byte layout,
//! the recovery rules and the crash analysis are in `spec/wal.md`.
//!
//! Durability follows [`SyncMode`]. Under [`SyncMode::EveryCommit`], concurrent committers share
//! one `fdatasync` (group commit): appends go to an in-memory buffer, and whichever committer
//! holds the I/O lock writes the whole buffer and syncs it once for everybody queued behind it.
//!
//! After any write or sync error the WAL is poisoned: the on-disk tail is unknown, so it refuses
//! every later write with [`WalError::Closed`] instead of acknowledging something it cannot vouch
//! for. Reopening runs recovery, which restores a consistent log.

mod error;
pub(crate) mod format;
mod group_commit;
mod log_file;
mod options;
mod recovery;
mod report;
mod writer;

#[cfg(test)]
mod recovery_tests;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;

pub use error::WalError;
pub use format::MAX_PAYLOAD_LEN;
pub use options::{RecoveryMode, SyncMode, WalOptions};
pub use report::{Corruption, RecoveryReport, TornTail};
pub use writer::Wal;

/// Log sequence number: the first record is 1 and each record is one more than the previous.
pub type Lsn = u64;
