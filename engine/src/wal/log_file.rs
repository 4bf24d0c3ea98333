//! The WAL file currently being written, and the directory listing of all WAL files.

use super::error::{io_err, WalError};
use super::format::{encode_file_header, file_name, parse_file_name, FILE_HEADER_LEN};
use super::Lsn;
use crate::io::{Storage, WritableFile};
use std::path::{Path, PathBuf};

/// A WAL file found in the log directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WalFile {
    /// First LSN according to the file name.
    pub first_lsn: Lsn,
    /// Full path.
    pub path: PathBuf,
}

/// Every WAL file in `dir`, oldest first. Files with other names are ignored.
pub(crate) fn list_wal_files(storage: &dyn Storage, dir: &Path) -> Result<Vec<WalFile>, WalError> {
    let names = storage.list(dir).map_err(io_err("list", dir))?;
    let mut files: Vec<WalFile> = names
        .iter()
        .filter_map(|name| {
            parse_file_name(name).map(|first_lsn| WalFile {
                first_lsn,
                path: dir.join(name),
            })
        })
        .collect();
    files.sort_by_key(|f| f.first_lsn);
    Ok(files)
}

/// The open file records are appended to. Owned by whoever holds the I/O lock.
pub(crate) struct LogFile {
    /// Append handle.
    file: Box<dyn WritableFile>,
    /// Where it lives (for error messages).
    pub path: PathBuf,
    /// LSN of the first record this file holds (or will hold).
    pub first_lsn: Lsn,
    /// Bytes in the file, header included.
    pub size: u64,
    /// Highest LSN handed to the OS (written, not necessarily synced).
    pub written_lsn: Lsn,
    /// An empty buffer kept for swapping with the append buffer, so steady state does not allocate.
    pub spare: Vec<u8>,
}

impl LogFile {
    /// Creates `wal-{first_lsn}.log` in `dir`, writes and syncs its header, and syncs the directory
    /// so the file cannot vanish once records in it have been acknowledged.
    pub(crate) fn create(
        storage: &dyn Storage,
        dir: &Path,
        first_lsn: Lsn,
    ) -> Result<LogFile, WalError> {
        let path = dir.join(file_name(first_lsn));
        let mut file = storage.create(&path).map_err(io_err("create", &path))?;
        file.append(&encode_file_header(first_lsn))
            .map_err(io_err("append header", &path))?;
        file.sync_data()
            .map_err(io_err("sync_data header", &path))?;
        storage.sync_dir(dir).map_err(io_err("sync_dir", dir))?;
        Ok(LogFile {
            file,
            path,
            first_lsn,
            size: FILE_HEADER_LEN as u64,
            written_lsn: first_lsn.saturating_sub(1),
            spare: Vec::new(),
        })
    }

    /// Reopens a recovered file of `size` valid bytes for appending after `written_lsn`, and syncs
    /// it so everything recovery replayed counts as durable.
    pub(crate) fn reopen(
        storage: &dyn Storage,
        path: PathBuf,
        first_lsn: Lsn,
        size: u64,
        written_lsn: Lsn,
    ) -> Result<LogFile, WalError> {
        let mut file = storage
            .open_append(&path)
            .map_err(io_err("open_append", &path))?;
        file.sync_data().map_err(io_err("sync_data", &path))?;
        Ok(LogFile {
            file,
            path,
            first_lsn,
            size,
            written_lsn,
            spare: Vec::new(),
        })
    }

    /// Appends `bytes` holding whole records through `through_lsn`.
    pub(crate) fn write(&mut self, bytes: &[u8], through_lsn: Lsn) -> Result<(), WalError> {
        self.file
            .append(bytes)
            .map_err(io_err("append", &self.path))?;
        self.size += bytes.len() as u64;
        self.written_lsn = through_lsn;
        Ok(())
    }

    /// `fdatasync`s the file.
    pub(crate) fn sync(&mut self) -> Result<(), WalError> {
        self.file
            .sync_data()
            .map_err(io_err("sync_data", &self.path))
    }

    /// Whether any record has been written to this file.
    pub(crate) fn has_records(&self) -> bool {
        self.written_lsn >= self.first_lsn
    }
}
