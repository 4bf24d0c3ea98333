//! What recovery found and repaired.

use super::Lsn;
use std::path::PathBuf;

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

/// What [`super::Wal::open`] found and did.
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
