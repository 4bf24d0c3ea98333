//! The public [`Wal`] handle: open (recovery + writer positioning), the append/commit API, file
//! maintenance and the `EveryMillis` background flusher.

use super::error::{io_err, WalError};
use super::group_commit::Core;
use super::log_file::{list_wal_files, LogFile};
use super::recovery::{recover, Tail};
use super::{Lsn, RecoveryReport, SyncMode, WalOptions};
use crate::io::Storage;
use std::error::Error;
use std::path::Path;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// An open write-ahead log. `Send + Sync`; share it by reference or in an `Arc`.
pub struct Wal {
    /// State shared with the background flusher.
    core: Arc<Core>,
    /// The `EveryMillis` flusher thread, until stopped.
    flusher: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Wal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wal")
            .field("dir", &self.core.dir)
            .field("sync_mode", &self.core.sync_mode)
            .field("last_lsn", &self.core.last_lsn())
            .field("durable_lsn", &self.core.durable_lsn())
            .finish()
    }
}

impl Wal {
    /// Opens (creating if needed) the log in `dir`, replays records with LSN > `replay_after` into `apply` in order, and positions the writer after the last good record.
    ///
    /// Records up to `held_through` are kept elsewhere (flushed to segments), so the writer
    /// never numbers a new record at or below it, even when the log ends before it.
    ///
    /// # Errors
    /// I/O errors, [`WalError::Corrupt`] (Strict mode), [`WalError::UnsupportedVersion`], and
    /// [`WalError::Apply`] wrapping the callback's error.
    pub fn open<E: Error + Send + Sync + 'static>(
        storage: Arc<dyn Storage>,
        dir: &Path,
        options: WalOptions,
        replay_after: Lsn,
        held_through: Lsn,
        mut apply: impl FnMut(Lsn, &[u8]) -> Result<(), E>,
    ) -> Result<(Wal, RecoveryReport), WalError> {
        let recovered = recover(
            storage.as_ref(),
            dir,
            options.recovery_mode,
            replay_after,
            &mut apply,
        )?;
        let mut report = recovered.report;
        let last_lsn = report.last_lsn.max(replay_after).max(held_through);
        report.last_lsn = last_lsn;
        let file = position_writer(storage.as_ref(), dir, recovered.tail, last_lsn)?;
        let core = Arc::new(Core::new(
            storage,
            dir.to_path_buf(),
            options.sync_mode,
            options.max_file_size,
            file,
            last_lsn,
        ));
        let flusher = spawn_flusher(&core, options.sync_mode)?;
        Ok((Wal { core, flusher }, report))
    }

    /// Appends one record to the in-memory buffer and returns its LSN; does not wait for durability.
    ///
    /// # Errors
    /// [`WalError::PayloadTooLarge`], [`WalError::Closed`] after an earlier I/O error, or the
    /// I/O error of an early write when the buffer is large.
    pub fn append(&self, payload: &[u8]) -> Result<Lsn, WalError> {
        self.core.append(payload)
    }

    /// Blocks until `lsn` is as durable as the sync mode promises (fsynced under `EveryCommit`; at once otherwise).
    ///
    /// # Errors
    /// The I/O error of the group commit that was to cover `lsn`, [`WalError::Closed`] after an
    /// earlier one, or [`WalError::LsnNotAppended`].
    pub fn wait_durable(&self, lsn: Lsn) -> Result<(), WalError> {
        match self.core.sync_mode {
            SyncMode::EveryCommit => self.core.wait_synced(lsn),
            SyncMode::EveryMillis(_) | SyncMode::Never => {
                let last_lsn = self.core.last_lsn();
                if lsn > last_lsn {
                    return Err(WalError::LsnNotAppended { lsn, last_lsn });
                }
                self.core.check_open()
            }
        }
    }

    /// Appends one record and waits until it is durable per the sync mode.
    ///
    /// # Errors
    /// As [`Wal::append`] and [`Wal::wait_durable`]; on error the record may or may not survive a crash.
    pub fn commit(&self, payload: &[u8]) -> Result<Lsn, WalError> {
        let lsn = self.append(payload)?;
        self.wait_durable(lsn)?;
        Ok(lsn)
    }

    /// Writes and fsyncs everything appended so far, whatever the sync mode.
    ///
    /// # Errors
    /// The I/O error, or [`WalError::Closed`] after an earlier one.
    pub fn sync(&self) -> Result<(), WalError> {
        self.core.sync_all()
    }

    /// Seals the current file (synced) and starts a new one whose first record will be `last_lsn()+1`.
    ///
    /// Does nothing beyond the sync when the current file holds no records yet.
    ///
    /// # Errors
    /// The I/O error, or [`WalError::Closed`] after an earlier one.
    pub fn rotate(&self) -> Result<(), WalError> {
        self.core.rotate()
    }

    /// Deletes every WAL file all of whose records have LSN ≤ `lsn`, oldest first, then syncs the directory; never the file being written.
    ///
    /// # Errors
    /// The I/O error; files deleted before it stay deleted, which recovery accepts.
    pub fn remove_through(&self, lsn: Lsn) -> Result<(), WalError> {
        let storage = self.core.storage.as_ref();
        let dir = &self.core.dir;
        let current_first = self.core.current_first_lsn();
        let files = list_wal_files(storage, dir)?;
        let mut removed = false;
        for pair in files.windows(2) {
            let [file, next] = pair else { break };
            // `file` holds exactly the LSNs first_lsn..next.first_lsn.
            let covered = next.first_lsn <= lsn.saturating_add(1);
            if !covered || file.first_lsn >= current_first {
                break;
            }
            storage
                .remove(&file.path)
                .map_err(io_err("remove", &file.path))?;
            removed = true;
        }
        if removed {
            storage.sync_dir(dir).map_err(io_err("sync_dir", dir))?;
        }
        Ok(())
    }

    /// The newest appended LSN (0 when the log has never held a record).
    pub fn last_lsn(&self) -> Lsn {
        self.core.last_lsn()
    }

    /// The newest LSN known to be fsynced.
    pub fn durable_lsn(&self) -> Lsn {
        self.core.durable_lsn()
    }

    /// Total bytes of WAL files on disk.
    ///
    /// # Errors
    /// The I/O error of listing the directory or reading a file's size.
    pub fn size_on_disk(&self) -> Result<u64, WalError> {
        let storage = self.core.storage.as_ref();
        let mut total = 0;
        for file in list_wal_files(storage, &self.core.dir)? {
            total += storage.len(&file.path).map_err(io_err("len", &file.path))?;
        }
        Ok(total)
    }

    /// Stops the background thread, then writes and fsyncs everything appended.
    ///
    /// # Errors
    /// The I/O error of the final sync, or [`WalError::Closed`] after an earlier one.
    pub fn close(mut self) -> Result<(), WalError> {
        self.stop_flusher();
        self.core.sync_all()
    }

    /// Signals the flusher to exit and joins it; a no-op when there is none.
    fn stop_flusher(&mut self) {
        if let Some(handle) = self.flusher.take() {
            self.core.request_shutdown();
            // A panicked flusher has nothing left to clean up; its error is not ours to raise.
            let _ = handle.join();
        }
    }
}

impl Drop for Wal {
    /// Stops the flusher and makes a best-effort final sync; errors are ignored (use `close` to see them).
    fn drop(&mut self) {
        self.stop_flusher();
        let _ = self.core.sync_all();
    }
}

/// Opens the file the writer continues: the recovered tail when it ends right at `last_lsn`,
/// otherwise a new file starting at `last_lsn + 1` (fresh log, or `replay_after` beyond the log).
fn position_writer(
    storage: &dyn Storage,
    dir: &Path,
    tail: Option<Tail>,
    last_lsn: Lsn,
) -> Result<LogFile, WalError> {
    match tail {
        Some(tail) if tail.next_lsn == last_lsn + 1 => {
            LogFile::reopen(storage, tail.path, tail.first_lsn, tail.len, last_lsn)
        }
        _ => LogFile::create(storage, dir, last_lsn + 1),
    }
}

/// Starts the background flusher for `EveryMillis`.
fn spawn_flusher(core: &Arc<Core>, mode: SyncMode) -> Result<Option<JoinHandle<()>>, WalError> {
    let SyncMode::EveryMillis(millis) = mode else {
        return Ok(None);
    };
    let interval = Duration::from_millis(u64::from(millis.max(1)));
    let core = Arc::clone(core);
    let handle = std::thread::Builder::new()
        .name("profiledb-wal-flusher".to_string())
        .spawn(move || core.run_flusher(interval))
        .map_err(io_err("spawn flusher thread", Path::new("")))?;
    Ok(Some(handle))
}
