//! The error type of dump, verify and restore.

/// Why a dump could not be written, verified or restored.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DumpError {
    /// Reading or writing the dump stream failed.
    #[error("dump I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The dump's bytes fail a checksum or a structural check.
    #[error("the dump is corrupt at byte {offset}: {reason}")]
    Corrupt {
        /// Byte offset in the dump where the damage was detected.
        offset: u64,
        /// What check failed.
        reason: String,
    },
    /// The dump was written in a format version this build does not read.
    #[error("the dump has format version {found}; this build reads only version {supported}")]
    UnsupportedVersion {
        /// Version found in the file header.
        found: u16,
        /// The version this build reads.
        supported: u16,
    },
    /// The dump ends before its END block (cut short while copying or writing).
    #[error("the dump is truncated: it ends at byte {offset}, before its END block")]
    Truncated {
        /// Length of the data that was there.
        offset: u64,
    },
    /// Restore refuses a target directory that already holds something.
    #[error("restore needs an empty directory, but {reason}")]
    NotEmpty {
        /// What the directory already holds.
        reason: String,
    },
    /// Writing the restored database failed.
    #[error(transparent)]
    Load(#[from] crate::db::BulkLoadError),
    /// The engine failed while reading the snapshot or applying restored rows.
    #[error(transparent)]
    Engine(#[from] crate::error::Error),
}

impl DumpError {
    /// A [`DumpError::Corrupt`] at `offset`.
    pub(crate) fn corrupt(offset: u64, reason: impl Into<String>) -> DumpError {
        DumpError::Corrupt {
            offset,
            reason: reason.into(),
        }
    }
}
