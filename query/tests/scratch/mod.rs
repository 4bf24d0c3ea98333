//! Scratch databases for the integration tests: a directory that is removed when dropped,
//! and the options test databases open with.

#![allow(dead_code)]

use profiledb_engine::{Options, SyncMode};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A fresh directory under the system temporary directory, removed when dropped.
pub struct ScratchDir(PathBuf);

impl ScratchDir {
    /// A new, empty directory name unique to this process and call.
    pub fn new(label: &str) -> ScratchDir {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!(
            "profiledb-query-{label}-{}-{n}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        ScratchDir(dir)
    }

    /// Where the database lives.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Options without fsync: these tests never crash the machine, and syncing only slows them.
pub fn unsynced() -> Options {
    Options {
        sync_mode: SyncMode::Never,
        ..Options::default()
    }
}

/// Unsynced options with background compaction off, for tests that place every segment
/// boundary themselves.
pub fn unsynced_manual_compaction() -> Options {
    Options {
        compaction_trigger_segments: 0,
        ..unsynced()
    }
}
