//! The error type of the tools, each with a hint of what the operator can do.

use profiledb::engine::dump::DumpError;
use profiledb::Error as EngineError;
use std::io;
use std::path::PathBuf;

/// Why a `profiledb` command failed.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// The engine failed (opening, reading, writing, compacting).
    #[error("{context}: {source}")]
    Engine {
        /// What the command was doing.
        context: String,
        /// The engine error.
        #[source]
        source: EngineError,
    },
    /// Writing, verifying or restoring a dump failed.
    #[error("{context}: {source}")]
    Dump {
        /// What the command was doing.
        context: String,
        /// The dump error.
        #[source]
        source: DumpError,
    },
    /// A file operation of the tool itself failed.
    #[error("{context}: {source}")]
    Io {
        /// What the command was doing.
        context: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// Restore was pointed at a directory that already holds something.
    #[error("{} is not empty; restore only writes into an empty or non-existent directory", dir.display())]
    TargetNotEmpty {
        /// The --data directory.
        dir: PathBuf,
    },
}

impl ToolError {
    /// Wraps an engine error with what was being done.
    pub(crate) fn engine(context: impl Into<String>) -> impl FnOnce(EngineError) -> ToolError {
        let context = context.into();
        move |source| ToolError::Engine { context, source }
    }

    /// Wraps a dump error with what was being done.
    pub(crate) fn dump(context: impl Into<String>) -> impl FnOnce(DumpError) -> ToolError {
        let context = context.into();
        move |source| ToolError::Dump { context, source }
    }

    /// Wraps an I/O error with what was being done.
    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(io::Error) -> ToolError {
        let context = context.into();
        move |source| ToolError::Io { context, source }
    }

    /// Whether the error is stdout closed by its reader (`profiledb dump | head`).
    #[must_use]
    pub fn is_broken_pipe(&self) -> bool {
        let io_error = match self {
            ToolError::Io { source, .. }
            | ToolError::Dump {
                source: DumpError::Io(source),
                ..
            } => Some(source),
            _ => None,
        };
        io_error.is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    }

    /// What the operator can do about it, when there is something to suggest.
    #[must_use]
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            ToolError::Engine { source, .. } => engine_hint(source),
            ToolError::Dump { source, .. } => dump_hint(source),
            ToolError::Io { .. } => Some("check the path and its permissions"),
            ToolError::TargetNotEmpty { .. } => {
                Some("pass --data with a new directory, e.g. `profiledb --data ./restored restore --in FILE`")
            }
        }
    }
}

fn engine_hint(error: &EngineError) -> Option<&'static str> {
    match error {
        EngineError::NotFound { .. } => {
            Some("point --data (or PROFILEDB_DATA) at a database directory")
        }
        EngineError::Locked { .. } => Some("another process has the database open; stop it first"),
        EngineError::Corrupt { .. } | EngineError::Wal(_) => {
            Some("run `profiledb check` for a full report of the damage")
        }
        EngineError::UnsupportedVersion { .. } => Some("use a newer profiledb build"),
        _ => None,
    }
}

fn dump_hint(error: &DumpError) -> Option<&'static str> {
    match error {
        DumpError::Corrupt { .. } | DumpError::Truncated { .. } => Some(
            "the dump file is damaged or incomplete; use another copy or dump the source again",
        ),
        DumpError::UnsupportedVersion { .. } => {
            Some("restore with the profiledb build that wrote the dump, or a newer one")
        }
        DumpError::NotEmpty { .. } => Some("restore into a new, empty --data directory"),
        DumpError::Engine(source) => engine_hint(source),
        _ => None,
    }
}
