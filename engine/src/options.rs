//! How a database is opened.

pub use crate::wal::{RecoveryMode, SyncMode};

/// Settings for [`crate::Database::open`].
#[derive(Debug, Clone)]
pub struct Options {
    /// When an acknowledged write is durable (see README, "Durability").
    pub sync_mode: SyncMode,
    /// What opening does with a damaged WAL.
    pub recovery_mode: RecoveryMode,
    /// Create the database when the directory holds none.
    pub create_if_missing: bool,
    /// Flush the in-memory head to a segment once it holds about this many bytes.
    pub flush_threshold_bytes: usize,
    /// Compact a table in the background once it has more segments than this (0: never),
    /// merging its newest run of segments of comparable total size.
    pub compaction_trigger_segments: usize,
    /// Run flushes and compactions at the lowest CPU priority (on Linux), so they take the
    /// time writers leave idle; a writer that gets far ahead flushes on its own time.
    pub low_priority_maintenance: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            sync_mode: SyncMode::EveryCommit,
            recovery_mode: RecoveryMode::Strict,
            create_if_missing: true,
            flush_threshold_bytes: 64 << 20,
            compaction_trigger_segments: 8,
            low_priority_maintenance: true,
        }
    }
}
