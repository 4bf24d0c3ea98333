//! The one door to the file system.
//!
//! Every byte the engine reads or writes goes through [`Storage`], so tests can swap the real
//! file system ([`FsStorage`]) for one that fails on command ([`FaultyStorage`]) and prove that
//! an I/O error at any point leaves the database recoverable.

mod fault;
mod fs;
mod mmap;

pub use fault::{FaultPlan, FaultyStorage};
pub use fs::FsStorage;

use bytes::Bytes;
use std::io;
use std::path::Path;

/// A file opened for writing: bytes are appended at the end.
pub trait WritableFile: Send {
    /// Appends all of `data`.
    ///
    /// # Errors
    /// The underlying I/O error.
    fn append(&mut self, data: &[u8]) -> io::Result<()>;

    /// Makes everything appended so far durable (`fdatasync`).
    ///
    /// # Errors
    /// The underlying I/O error; the data must then be treated as not durable.
    fn sync_data(&mut self) -> io::Result<()>;
}

/// File-system operations the engine needs, and no more.
pub trait Storage: Send + Sync + 'static {
    /// Creates `dir` and its parents if missing.
    ///
    /// # Errors
    /// The underlying I/O error.
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;

    /// Names of the regular files directly inside `dir`, sorted.
    ///
    /// # Errors
    /// The underlying I/O error.
    fn list(&self, dir: &Path) -> io::Result<Vec<String>>;

    /// Creates (or truncates) `path` for writing.
    ///
    /// # Errors
    /// The underlying I/O error.
    fn create(&self, path: &Path) -> io::Result<Box<dyn WritableFile>>;

    /// Opens an existing `path` for appending at its end.
    ///
    /// # Errors
    /// The underlying I/O error (`NotFound` when it does not exist).
    fn open_append(&self, path: &Path) -> io::Result<Box<dyn WritableFile>>;

    /// Reads the whole of `path` into memory.
    ///
    /// # Errors
    /// The underlying I/O error.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;

    /// A read-only view of the whole of `path`, memory-mapped where the backend can.
    /// The file must not change while the view lives (segment files are immutable).
    ///
    /// # Errors
    /// The underlying I/O error.
    fn map(&self, path: &Path) -> io::Result<Bytes>;

    /// Shortens `path` to `len` bytes and makes the new length durable.
    ///
    /// # Errors
    /// The underlying I/O error.
    fn truncate(&self, path: &Path, len: u64) -> io::Result<()>;

    /// Atomically replaces `to` with `from`.
    ///
    /// # Errors
    /// The underlying I/O error.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;

    /// Deletes `path`.
    ///
    /// # Errors
    /// The underlying I/O error.
    fn remove(&self, path: &Path) -> io::Result<()>;

    /// Makes the directory entries of `dir` (creations, renames, removals) durable.
    ///
    /// # Errors
    /// The underlying I/O error.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;

    /// Size of `path` in bytes.
    ///
    /// # Errors
    /// The underlying I/O error.
    fn len(&self, path: &Path) -> io::Result<u64>;

    /// Takes an exclusive advisory lock on `path` (created if missing), held until the
    /// returned guard is dropped. Fails with `WouldBlock` when another holder has it.
    /// Backends without processes to exclude (in-memory tests) need no lock.
    ///
    /// # Errors
    /// The underlying I/O error, `WouldBlock` when the lock is taken.
    fn lock(&self, path: &Path) -> io::Result<LockGuard> {
        let _ = path;
        Ok(LockGuard(Box::new(())))
    }
}

/// Holds a lock taken by [`Storage::lock`] until dropped.
pub struct LockGuard(pub Box<dyn Send + Sync>);

impl std::fmt::Debug for LockGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LockGuard")
    }
}
