//! A [`Storage`] that fails on command, for testing error and crash paths.
//!
//! Every mutating operation (create, append, sync, truncate, rename, remove, directory sync)
//! consumes one step of a countdown. When the countdown reaches zero the operation fails with an
//! I/O error, and so does every mutating operation after it: this models a disk that went away
//! (or a process that died) at that exact point. Reads keep working so the test can inspect what
//! was left behind.

use super::{LockGuard, Storage, WritableFile};
use bytes::Bytes;
use parking_lot::Mutex;
use std::io;
use std::path::Path;
use std::sync::Arc;

/// When a [`FaultyStorage`] starts failing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultPlan {
    /// Never fail.
    Never,
    /// Let this many mutating operations succeed, then fail all later ones.
    FailAfter(u64),
}

#[derive(Debug)]
struct Countdown {
    remaining: Option<u64>,
    failed: bool,
}

impl Countdown {
    fn step(&mut self, what: &str, path: &Path) -> io::Result<()> {
        if self.failed {
            return Err(injected(what, path));
        }
        match &mut self.remaining {
            None => Ok(()),
            Some(0) => {
                self.failed = true;
                Err(injected(what, path))
            }
            Some(n) => {
                *n -= 1;
                Ok(())
            }
        }
    }
}

fn injected(what: &str, path: &Path) -> io::Error {
    io::Error::other(format!("injected fault: {what} {}", path.display()))
}

/// Wraps another [`Storage`] and injects failures according to a [`FaultPlan`].
pub struct FaultyStorage<S> {
    inner: S,
    countdown: Arc<Mutex<Countdown>>,
}

impl<S: Storage> FaultyStorage<S> {
    /// Wraps `inner`, failing as `plan` says.
    pub fn new(inner: S, plan: FaultPlan) -> Self {
        let remaining = match plan {
            FaultPlan::Never => None,
            FaultPlan::FailAfter(n) => Some(n),
        };
        FaultyStorage {
            inner,
            countdown: Arc::new(Mutex::new(Countdown {
                remaining,
                failed: false,
            })),
        }
    }

    /// Whether a fault has been injected yet.
    pub fn has_failed(&self) -> bool {
        self.countdown.lock().failed
    }

    fn step(&self, what: &str, path: &Path) -> io::Result<()> {
        self.countdown.lock().step(what, path)
    }
}

struct FaultyFile {
    inner: Box<dyn WritableFile>,
    countdown: Arc<Mutex<Countdown>>,
    path: std::path::PathBuf,
}

impl WritableFile for FaultyFile {
    fn append(&mut self, data: &[u8]) -> io::Result<()> {
        self.countdown.lock().step("append", &self.path)?;
        self.inner.append(data)
    }

    fn sync_data(&mut self) -> io::Result<()> {
        self.countdown.lock().step("sync", &self.path)?;
        self.inner.sync_data()
    }
}

impl<S: Storage> Storage for FaultyStorage<S> {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        self.step("create_dir_all", dir)?;
        self.inner.create_dir_all(dir)
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        self.inner.list(dir)
    }

    fn create(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        self.step("create", path)?;
        let inner = self.inner.create(path)?;
        Ok(Box::new(FaultyFile {
            inner,
            countdown: Arc::clone(&self.countdown),
            path: path.to_path_buf(),
        }))
    }

    fn open_append(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        self.step("open_append", path)?;
        let inner = self.inner.open_append(path)?;
        Ok(Box::new(FaultyFile {
            inner,
            countdown: Arc::clone(&self.countdown),
            path: path.to_path_buf(),
        }))
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.inner.read(path)
    }

    fn map(&self, path: &Path) -> io::Result<Bytes> {
        self.inner.map(path)
    }

    fn truncate(&self, path: &Path, len: u64) -> io::Result<()> {
        self.step("truncate", path)?;
        self.inner.truncate(path, len)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.step("rename", from)?;
        self.inner.rename(from, to)
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        self.step("remove", path)?;
        self.inner.remove(path)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.step("sync_dir", dir)?;
        self.inner.sync_dir(dir)
    }

    fn len(&self, path: &Path) -> io::Result<u64> {
        self.inner.len(path)
    }

    fn lock(&self, path: &Path) -> io::Result<LockGuard> {
        self.inner.lock(path)
    }
}
