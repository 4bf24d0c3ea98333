//! The error type of the tools, each with a hint of what the operator can do.

use profiledb::engine::dump::DumpError;
use profiledb::engine::ProfilesError;
use profiledb::query::QueryError;
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
    /// The profiles layer (ingestion, computed traits, profile view) failed.
    #[error("{context}: {source}")]
    Profiles {
        /// What the command was doing.
        context: String,
        /// The profiles error.
        #[source]
        source: ProfilesError,
    },
    /// The command line asks for something impossible (exit 2, like clap's usage errors).
    #[error("{message}")]
    Usage {
        /// What is wrong with the arguments.
        message: String,
    },
    /// A SQL statement failed to parse, plan or run.
    #[error("{}{source}", statement_line.map(|l| format!("statement at line {l}: ")).unwrap_or_default())]
    Query {
        /// 1-based line of the input where the statement starts, for scripts.
        statement_line: Option<u64>,
        /// The query error (it names the position within the text when known).
        #[source]
        source: QueryError,
    },
    /// No profile matches the identifier asked for.
    #[error("no profile found for {identifier}")]
    ProfileNotFound {
        /// The identifier as given.
        identifier: String,
    },
    /// The input of an import cannot be used at all (no header, unknown columns …).
    #[error("{context}: {message}")]
    BadInput {
        /// Which input.
        context: String,
        /// What is wrong with it.
        message: String,
    },
    /// The demo would overwrite a directory that is not an earlier demo database.
    #[error("{} is not empty and does not hold an earlier demo database", dir.display())]
    DemoTargetInUse {
        /// The --data directory.
        dir: PathBuf,
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

    /// Wraps a profiles-layer error with what was being done.
    pub(crate) fn profiles(context: impl Into<String>) -> impl FnOnce(ProfilesError) -> ToolError {
        let context = context.into();
        move |source| ToolError::Profiles { context, source }
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

    /// A usage error with `message`.
    pub(crate) fn usage(message: impl Into<String>) -> ToolError {
        ToolError::Usage {
            message: message.into(),
        }
    }

    /// The process exit code: 2 for usage errors, 1 for everything else.
    #[must_use]
    pub fn exit_code(&self) -> u8 {
        match self {
            ToolError::Usage { .. } => 2,
            _ => 1,
        }
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
            ToolError::Usage { .. } => Some("see `profiledb help` for the commands and their flags"),
            ToolError::Query { .. } => None,
            ToolError::Profiles { source, .. } => match source {
                ProfilesError::Engine(e) => engine_hint(e),
                _ => None,
            },
            ToolError::ProfileNotFound { .. } => Some(
                "identifiers look like `email:alice@example.com`, `user_id:42` or `profile_id:7`",
            ),
            ToolError::BadInput { .. } => None,
            ToolError::DemoTargetInUse { .. } => {
                Some("pass --data with a new directory, e.g. `profiledb --data ./demo demo`")
            }
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
