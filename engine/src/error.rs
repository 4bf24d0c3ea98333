//! The engine's error type.

use crate::schema::TableKind;
use crate::value::TypeMismatch;
use std::path::PathBuf;

/// Everything that can go wrong in the engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An operating-system I/O call failed.
    #[error("{operation} {path}: {source}")]
    Io {
        /// What the engine was doing.
        operation: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A file's bytes fail a checksum or a structural check.
    #[error("{file} is corrupt at byte {offset}: {reason}")]
    Corrupt {
        /// The damaged file.
        file: PathBuf,
        /// Byte offset in the file where the damage was detected.
        offset: u64,
        /// What check failed.
        reason: String,
    },
    /// A file was written by a format version this build does not know.
    #[error("{file} has format version {found}; this build reads versions {oldest} to {newest}")]
    UnsupportedVersion {
        /// The file.
        file: PathBuf,
        /// Version found in the file.
        found: u16,
        /// Oldest version this build reads.
        oldest: u16,
        /// Newest version this build reads.
        newest: u16,
    },
    /// A value does not fit its column's type.
    #[error(transparent)]
    TypeMismatch(#[from] TypeMismatch),
    /// The write-ahead log failed.
    #[error(transparent)]
    Wal(#[from] crate::wal::WalError),
    /// A write addressed a row that was deleted (deletions are final).
    #[error("{table} row {row} was deleted and cannot be written again")]
    RowDeleted {
        /// The table.
        table: TableKind,
        /// The row id.
        row: u32,
    },
    /// A read named a column the table does not have.
    #[error("{table} has no column `{column}`")]
    UnknownColumn {
        /// The table.
        table: TableKind,
        /// The column asked for.
        column: String,
    },
    /// A predicate that the column's type cannot answer.
    #[error("cannot filter column `{column}` ({column_type}): {reason}")]
    UnsupportedPredicate {
        /// The column.
        column: String,
        /// Its type.
        column_type: crate::value::ColumnType,
        /// Why.
        reason: &'static str,
    },
    /// A column name is empty or too long to store.
    #[error("invalid column name {name:?}: {reason}")]
    InvalidColumnName {
        /// The name given.
        name: String,
        /// Why it is invalid.
        reason: &'static str,
    },
    /// Another process has the database open.
    #[error("{path} is in use by another process (its lock is held)")]
    Locked {
        /// The lock file.
        path: PathBuf,
    },
    /// The database directory holds no database and creation was not allowed.
    #[error("{path} holds no ProfileDB database")]
    NotFound {
        /// The directory.
        path: PathBuf,
    },
    /// The table ran out of 32-bit row ids.
    #[error("{table} is full: row ids are 32-bit")]
    RowIdsExhausted {
        /// The table.
        table: TableKind,
    },
    /// The database was closed, or an earlier failure left memory ahead of the log, so further
    /// writes are unsafe until it is reopened.
    #[error("the database is closed for writes: {reason}")]
    Closed {
        /// Why.
        reason: String,
    },
}

/// Result alias for engine operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Wraps an I/O error with what was being done and to which path.
    pub(crate) fn io(
        operation: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io {
            operation,
            path,
            source,
        }
    }

    /// A corruption error at `offset` of `file`.
    pub(crate) fn corrupt(
        file: impl Into<PathBuf>,
        offset: u64,
        reason: impl Into<String>,
    ) -> Error {
        Error::Corrupt {
            file: file.into(),
            offset,
            reason: reason.into(),
        }
    }
}
