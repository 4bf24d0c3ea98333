//! How a [`super::Wal`] syncs and recovers.

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

/// Configuration of a [`super::Wal`].
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
