//! The shared writer core: an in-memory append buffer plus group commit.
//!
//! Appenders encode records into `State::buffer` under a short lock. A committer whose record
//! is not yet durable becomes the group-commit leader if there is none (`State::leader_active`):
//! it takes the I/O lock (`Core::io`), swaps the whole buffer out, writes it with one `append`
//! and covers it with one `fdatasync`, without holding the state lock, so appends continue
//! meanwhile. Committers arriving during that sync wait on `Core::synced`; when the leader is done
//! they all wake at once, those covered return, and one of the rest leads the next group with
//! everything appended meanwhile. So one fsync covers every record appended before it.
//!
//! Lock order: `io` before `state`; nothing takes `io` while holding `state`.

use super::error::WalError;
use super::format::encode_record;
use super::log_file::LogFile;
use super::{Lsn, SyncMode};
use crate::io::Storage;
use parking_lot::{Condvar, Mutex, MutexGuard};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Buffered bytes above which the buffer is written out early (and `EveryMillis` syncs early).
pub(crate) const FLUSH_THRESHOLD: usize = 1 << 20;
/// Buffered bytes above which appenders wait for the write themselves (back-pressure).
const MAX_BUFFERED: usize = 64 << 20;

/// State guarded by the state lock.
struct State {
    /// Encoded records not yet handed to the file, in LSN order.
    buffer: Vec<u8>,
    /// LSN the next append receives.
    next_lsn: Lsn,
    /// Set after a failed write or sync: the on-disk tail is unknown, so nothing more is accepted.
    poisoned: bool,
    /// Set when the background flusher must exit.
    shutdown: bool,
    /// A committer is leading a group commit; others wait on `Core::synced` instead of queueing
    /// on the I/O lock one by one.
    leader_active: bool,
}

/// Everything the `Wal` handle and its background thread share.
pub(crate) struct Core {
    /// All file I/O goes through here.
    pub storage: Arc<dyn Storage>,
    /// The log directory.
    pub dir: PathBuf,
    /// Durability promise for commits.
    pub sync_mode: SyncMode,
    /// Size after which the current file is sealed and a new one started.
    max_file_size: u64,
    /// Append buffer and flags.
    state: Mutex<State>,
    /// The current file; holding this lock makes the holder the I/O leader.
    io: Mutex<LogFile>,
    /// Wakes the background flusher (paired with `state`).
    wake_flusher: Condvar,
    /// Wakes followers when a group-commit leader finishes (paired with `state`).
    synced: Condvar,
    /// Newest appended LSN (readable without locks).
    last_lsn: AtomicU64,
    /// Newest LSN known to be fsynced.
    durable_lsn: AtomicU64,
    /// First LSN of the file being written; `remove_through` never deletes it or anything newer.
    current_first_lsn: AtomicU64,
}

impl Core {
    /// A core writing into `file`, whose records end at `last_lsn`, all of them durable.
    pub(crate) fn new(
        storage: Arc<dyn Storage>,
        dir: PathBuf,
        sync_mode: SyncMode,
        max_file_size: u64,
        file: LogFile,
        last_lsn: Lsn,
    ) -> Core {
        let current_first = file.first_lsn;
        Core {
            storage,
            dir,
            sync_mode,
            max_file_size,
            state: Mutex::new(State {
                buffer: Vec::new(),
                next_lsn: last_lsn + 1,
                poisoned: false,
                shutdown: false,
                leader_active: false,
            }),
            io: Mutex::new(file),
            wake_flusher: Condvar::new(),
            synced: Condvar::new(),
            last_lsn: AtomicU64::new(last_lsn),
            durable_lsn: AtomicU64::new(last_lsn),
            current_first_lsn: AtomicU64::new(current_first),
        }
    }

    /// Newest appended LSN.
    pub(crate) fn last_lsn(&self) -> Lsn {
        self.last_lsn.load(Ordering::Acquire)
    }

    /// Newest fsynced LSN.
    pub(crate) fn durable_lsn(&self) -> Lsn {
        self.durable_lsn.load(Ordering::Acquire)
    }

    /// First LSN of the file being written.
    pub(crate) fn current_first_lsn(&self) -> Lsn {
        self.current_first_lsn.load(Ordering::Acquire)
    }

    /// Encodes `payload` into the buffer under the next LSN.
    pub(crate) fn append(&self, payload: &[u8]) -> Result<Lsn, WalError> {
        let (lsn, buffered) = {
            let mut st = self.state.lock();
            if st.poisoned {
                return Err(WalError::Closed);
            }
            let lsn = st.next_lsn;
            encode_record(&mut st.buffer, lsn, payload)?;
            st.next_lsn += 1;
            self.last_lsn.store(lsn, Ordering::Release);
            (lsn, st.buffer.len())
        };
        if buffered >= FLUSH_THRESHOLD {
            self.on_buffer_full(buffered)?;
        }
        Ok(lsn)
    }

    /// Gets a large buffer onto disk without making a cheap append wait, unless memory is at stake.
    fn on_buffer_full(&self, buffered: usize) -> Result<(), WalError> {
        if buffered >= MAX_BUFFERED {
            let mut io = self.io.lock();
            return self.write_out(&mut io, false);
        }
        if let SyncMode::EveryMillis(_) = self.sync_mode {
            self.wake_flusher.notify_one();
            return Ok(());
        }
        match self.io.try_lock() {
            Some(mut io) => self.write_out(&mut io, false),
            None => Ok(()),
        }
    }

    /// Fails with [`WalError::Closed`] once the writer is poisoned.
    pub(crate) fn check_open(&self) -> Result<(), WalError> {
        if self.state.lock().poisoned {
            Err(WalError::Closed)
        } else {
            Ok(())
        }
    }

    /// Blocks until `lsn` is fsynced: follows the active group-commit leader, or becomes the
    /// leader when there is none and `lsn` is still not durable.
    pub(crate) fn wait_synced(&self, lsn: Lsn) -> Result<(), WalError> {
        if self.durable_lsn() >= lsn {
            return Ok(());
        }
        let last_lsn = self.last_lsn();
        if lsn > last_lsn {
            return Err(WalError::LsnNotAppended { lsn, last_lsn });
        }
        {
            let mut st = self.state.lock();
            loop {
                if self.durable_lsn() >= lsn {
                    return Ok(());
                }
                if st.poisoned {
                    return Err(WalError::Closed);
                }
                if !st.leader_active {
                    st.leader_active = true;
                    break;
                }
                self.synced.wait(&mut st);
            }
        }
        let result = {
            let mut io = self.io.lock();
            self.write_out(&mut io, true)
        };
        self.state.lock().leader_active = false;
        self.synced.notify_all();
        result
    }

    /// Writes and fsyncs everything appended so far.
    pub(crate) fn sync_all(&self) -> Result<(), WalError> {
        let mut io = self.io.lock();
        self.write_out(&mut io, true)
    }

    /// Writes and fsyncs everything, then starts a new file if the current one has records.
    pub(crate) fn rotate(&self) -> Result<(), WalError> {
        let mut io = self.io.lock();
        self.write_out(&mut io, true)?;
        self.roll(&mut io)
    }

    /// Hands the whole buffer to the file (and fsyncs when `sync`), then rotates if the file is full.
    fn write_out(&self, io: &mut MutexGuard<'_, LogFile>, sync: bool) -> Result<(), WalError> {
        let (mut batch, through) = {
            let mut st = self.state.lock();
            if st.poisoned {
                return Err(WalError::Closed);
            }
            let spare = std::mem::take(&mut io.spare);
            (std::mem::replace(&mut st.buffer, spare), st.next_lsn - 1)
        };
        let result = self.write_batch(io, &batch, through, sync);
        batch.clear();
        io.spare = batch;
        self.poison_on_err(result)?;
        if io.size >= self.max_file_size {
            self.roll(io)?;
        }
        Ok(())
    }

    /// Writes `batch` (records through `through`) and optionally fsyncs.
    fn write_batch(
        &self,
        io: &mut LogFile,
        batch: &[u8],
        through: Lsn,
        sync: bool,
    ) -> Result<(), WalError> {
        if !batch.is_empty() {
            io.write(batch, through)?;
        }
        if sync {
            self.sync_file(io)?;
        }
        Ok(())
    }

    /// fsyncs the current file if it holds records not yet durable.
    fn sync_file(&self, io: &mut LogFile) -> Result<(), WalError> {
        if self.durable_lsn() < io.written_lsn {
            io.sync()?;
            self.durable_lsn.store(io.written_lsn, Ordering::Release);
        }
        Ok(())
    }

    /// Seals the current file (fsynced) and starts the next one, unless the current one is empty.
    ///
    /// The old file is synced before the new one exists, so recovery may assume every file but the
    /// last is complete.
    fn roll(&self, io: &mut LogFile) -> Result<(), WalError> {
        if !io.has_records() {
            return Ok(());
        }
        let result = self
            .sync_file(io)
            .and_then(|()| LogFile::create(self.storage.as_ref(), &self.dir, io.written_lsn + 1));
        let mut next = self.poison_on_err(result)?;
        next.spare = std::mem::take(&mut io.spare);
        *io = next;
        self.current_first_lsn
            .store(io.first_lsn, Ordering::Release);
        Ok(())
    }

    /// Poisons the writer if `result` is an error (the on-disk tail is then unknown).
    fn poison_on_err<T>(&self, result: Result<T, WalError>) -> Result<T, WalError> {
        if result.is_err() {
            self.state.lock().poisoned = true;
        }
        result
    }

    /// Body of the `EveryMillis` background thread: write + fsync every `interval` or when the
    /// buffer grows past [`FLUSH_THRESHOLD`], until shutdown or the first error.
    pub(crate) fn run_flusher(&self, interval: Duration) {
        loop {
            {
                let mut st = self.state.lock();
                if !st.shutdown && st.buffer.len() < FLUSH_THRESHOLD {
                    self.wake_flusher.wait_for(&mut st, interval);
                }
                if st.shutdown {
                    return;
                }
            }
            let mut io = self.io.lock();
            if self.write_out(&mut io, true).is_err() {
                return;
            }
        }
    }

    /// Tells the background flusher to exit.
    pub(crate) fn request_shutdown(&self) {
        self.state.lock().shutdown = true;
        self.wake_flusher.notify_all();
    }
}
