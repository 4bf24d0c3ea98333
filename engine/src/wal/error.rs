//! Errors returned by the write-ahead log.

use super::Lsn;
use std::error::Error;
use std::io;
use std::path::{Path, PathBuf};

/// Everything that can go wrong while opening, writing or maintaining the WAL.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WalError {
    /// An I/O operation on a WAL file or directory failed.
    #[error("WAL I/O error during {op} on {}: {source}", path.display())]
    Io {
        /// The operation that failed (`append`, `sync_data`, `truncate`, ...).
        op: &'static str,
        /// The file or directory it was applied to.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A WAL file holds bytes that are not a valid record, header or LSN sequence.
    #[error("corrupt WAL file {} at offset {offset}: {reason}", file.display())]
    Corrupt {
        /// The damaged file.
        file: PathBuf,
        /// Byte offset of the first bad byte range (a file or record header).
        offset: u64,
        /// What was wrong.
        reason: String,
    },
    /// A WAL file was written by a format version this build does not understand.
    #[error("WAL file {} has unsupported format version {found}", file.display())]
    UnsupportedVersion {
        /// The file.
        file: PathBuf,
        /// The version found in its header.
        found: u16,
    },
    /// The replay callback given to `Wal::open` failed.
    #[error("applying a replayed WAL record failed: {0}")]
    Apply(#[source] Box<dyn Error + Send + Sync>),
    /// An earlier write or sync failed, so the on-disk tail is unknown and the WAL accepts nothing more.
    #[error("the WAL refuses writes after an earlier I/O error; reopen the database to recover")]
    Closed,
    /// A payload exceeded the framing limit.
    #[error("WAL payload of {len} bytes exceeds the limit of {max} bytes")]
    PayloadTooLarge {
        /// Size of the rejected payload.
        len: usize,
        /// The limit ([`super::MAX_PAYLOAD_LEN`]).
        max: usize,
    },
    /// `wait_durable` was asked about an LSN that has not been appended yet.
    #[error("LSN {lsn} has not been appended (last LSN is {last_lsn})")]
    LsnNotAppended {
        /// The LSN asked about.
        lsn: Lsn,
        /// The newest appended LSN.
        last_lsn: Lsn,
    },
}

/// Builds a closure mapping an `io::Error` on `path` during `op` to [`WalError::Io`].
pub(crate) fn io_err<'a>(
    op: &'static str,
    path: &'a Path,
) -> impl FnOnce(io::Error) -> WalError + 'a {
    move |source| WalError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}
