//! The one error type of the chunk codec.

use crate::value::ColumnType;

/// Why a chunk could not be built or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// A value of another type was pushed into a chunk builder (callers coerce first).
    #[error("chunk holds {expected} values, but a {found} value was pushed")]
    WrongType {
        /// The chunk's column type.
        expected: ColumnType,
        /// The type of the value pushed.
        found: ColumnType,
    },
    /// The bytes are not a valid chunk; `offset` is the byte inside the chunk where it showed.
    #[error("corrupt chunk at byte {offset}: {reason}")]
    Corrupt {
        /// Byte offset inside the chunk where the problem was found.
        offset: usize,
        /// What was wrong.
        reason: String,
    },
    /// The chunk was written by a format version this build does not know.
    #[error("unsupported chunk format version {found}")]
    UnsupportedVersion {
        /// The version found in the header.
        found: u16,
    },
    /// More than [`MAX_CHUNK_ROWS`](super::MAX_CHUNK_ROWS) rows were pushed into one chunk.
    #[error("a chunk holds at most 65536 rows")]
    TooManyRows,
}

/// Shorthand for building a [`CodecError::Corrupt`].
pub(crate) fn corrupt(offset: usize, reason: impl Into<String>) -> CodecError {
    CodecError::Corrupt {
        offset,
        reason: reason.into(),
    }
}
