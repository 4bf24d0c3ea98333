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
mod format;
mod group_commit;
mod log_file;
mod recovery;
mod writer;

#[cfg(test)]
mod recovery_tests;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;

pub use error::WalError;
pub use format::MAX_PAYLOAD_LEN;
pub use writer::Wal;

use std::path::PathBuf;

/// Log sequence number: the first record is 1 and each record is one more than the previous.
pub type Lsn = u64;

/// When appended records are made durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMode {
    /// fdatasync before a commit is acknowledged (group commit: one fsync covers every record appended before it).
    EveryCommit,
    /// A background thread writes and fdatasyncs buffered records every N ms (sooner past ~1 MiB); a crash loses at most the last N ms.
    EveryMillis(u32),
    /// Written to the OS page cache when the buffer fills, on rotate, sync and close; survives a process crash after the write, not power loss.
    Never,
}

/// What recovery does with bad bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecoveryMode {
    /// Truncate and report a torn tail at the end of the last file; any other bad record is an error naming file and offset.
    Strict,
    /// Like `Strict`, but at any bad record keep everything before it, drop the rest (truncate, delete later files) and report it.
    Salvage,
}

/// Configuration of a [`Wal`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalOptions {
    /// Durability promise for commits.
    pub sync_mode: SyncMode,
    /// What recovery does with bad bytes.
    pub recovery_mode: RecoveryMode,
    /// The current file is sealed and a new one started once it reaches this many bytes.
    pub max_file_size: u64,
}

impl Default for WalOptions {
    /// `EveryCommit`, `Strict`, 64 MiB files.
    fn default() -> Self {
        WalOptions {
            sync_mode: SyncMode::EveryCommit,
            recovery_mode: RecoveryMode::Strict,
            max_file_size: 64 << 20,
        }
    }
}

/// An incomplete final record (a write cut short by a crash) that recovery truncated away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    /// The file that was truncated (or deleted, when not even its header was whole).
    pub file: PathBuf,
    /// Offset of the first dropped byte (the start of the torn record).
    pub offset: u64,
    /// Bytes dropped.
    pub bytes_dropped: u64,
    /// What was wrong with the dropped bytes.
    pub reason: String,
}

/// Bytes that `RecoveryMode::Salvage` dropped because they were corrupt or followed corruption.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Corruption {
    /// The affected file.
    pub file: PathBuf,
    /// Offset of the first dropped byte (0 when the whole file was deleted).
    pub offset: u64,
    /// What was wrong.
    pub reason: String,
    /// Bytes dropped from this file.
    pub bytes_dropped: u64,
}

/// What [`Wal::open`] found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Records passed to the replay callback (those with LSN greater than `replay_after`).
    pub records_replayed: u64,
    /// LSN the writer continues after: the last valid record, or `replay_after` if that is higher.
    pub last_lsn: Lsn,
    /// The torn tail that was truncated, if any.
    pub torn_tail: Option<TornTail>,
    /// What Salvage mode dropped (empty in Strict mode).
    pub salvaged: Vec<Corruption>,
}
