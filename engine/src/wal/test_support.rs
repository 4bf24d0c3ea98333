//! Helpers shared by the WAL tests: temporary directories, a sync-counting storage, replay capture.

use super::{Lsn, RecoveryReport, Wal, WalError, WalOptions};
use crate::io::{FsStorage, Storage, WritableFile};
use bytes::Bytes;
use std::convert::Infallible;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A unique directory under the system temp dir, removed on drop.
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    /// A fresh, not yet created, directory path tagged with `name`.
    pub(crate) fn new(name: &str) -> TempDir {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = std::env::temp_dir().join(format!(
            "profiledb-wal-{name}-{}-{n}-{nanos}",
            std::process::id()
        ));
        TempDir(dir)
    }

    /// The directory.
    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The real file system, counting `sync_data` calls.
#[derive(Clone, Default)]
pub(crate) struct CountingStorage {
    syncs: Arc<AtomicU64>,
}

impl CountingStorage {
    /// `sync_data` calls so far, over all files.
    pub(crate) fn syncs(&self) -> u64 {
        self.syncs.load(Ordering::Relaxed)
    }
}

struct CountingFile {
    inner: Box<dyn WritableFile>,
    syncs: Arc<AtomicU64>,
}

impl WritableFile for CountingFile {
    fn append(&mut self, data: &[u8]) -> io::Result<()> {
        self.inner.append(data)
    }

    fn sync_data(&mut self) -> io::Result<()> {
        self.syncs.fetch_add(1, Ordering::Relaxed);
        self.inner.sync_data()
    }
}

impl CountingStorage {
    fn wrap(&self, inner: Box<dyn WritableFile>) -> Box<dyn WritableFile> {
        Box::new(CountingFile {
            inner,
            syncs: Arc::clone(&self.syncs),
        })
    }
}

impl Storage for CountingStorage {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        FsStorage.create_dir_all(dir)
    }
    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        FsStorage.list(dir)
    }
    fn create(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        Ok(self.wrap(FsStorage.create(path)?))
    }
    fn open_append(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        Ok(self.wrap(FsStorage.open_append(path)?))
    }
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        FsStorage.read(path)
    }
    fn map(&self, path: &Path) -> io::Result<Bytes> {
        FsStorage.map(path)
    }
    fn truncate(&self, path: &Path, len: u64) -> io::Result<()> {
        FsStorage.truncate(path, len)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        FsStorage.rename(from, to)
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        FsStorage.remove(path)
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        FsStorage.sync_dir(dir)
    }
    fn len(&self, path: &Path) -> io::Result<u64> {
        FsStorage.len(path)
    }
}

/// The real file system as a shared storage.
pub(crate) fn fs() -> Arc<dyn Storage> {
    Arc::new(FsStorage)
}

/// Options with the given sync mode, Strict recovery and `max_file_size`.
pub(crate) fn options(sync_mode: super::SyncMode, max_file_size: u64) -> WalOptions {
    WalOptions {
        sync_mode,
        max_file_size,
        ..WalOptions::default()
    }
}

/// Records delivered to the replay callback, in order.
pub(crate) type Replayed = Vec<(Lsn, Vec<u8>)>;

/// Opens the log, collecting replayed records.
pub(crate) fn open_collect(
    storage: Arc<dyn Storage>,
    dir: &Path,
    options: WalOptions,
    replay_after: Lsn,
) -> Result<(Wal, RecoveryReport, Replayed), WalError> {
    let mut seen = Vec::new();
    let (wal, report) = Wal::open(
        storage,
        dir,
        options,
        replay_after,
        replay_after,
        |lsn, payload| {
            seen.push((lsn, payload.to_vec()));
            Ok::<(), Infallible>(())
        },
    )?;
    Ok((wal, report, seen))
}

/// Deterministic payload for `lsn`, of varied sizes including 0 and 1 bytes.
pub(crate) fn payload(lsn: Lsn) -> Vec<u8> {
    let len = match lsn % 7 {
        0 => 0,
        1 => 1,
        2 => 17,
        3 => 120,
        4 => 64,
        5 => 5,
        _ => 1000 + (lsn as usize % 13),
    };
    (0..len).map(|i| (lsn as usize * 31 + i) as u8).collect()
}

/// Paths of the WAL files in `dir`, oldest first.
pub(crate) fn wal_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "log"));
    files.sort();
    files
}
