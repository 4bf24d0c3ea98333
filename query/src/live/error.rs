//! Typed errors of live segments.

use profiledb_engine::wal::WalError;

use crate::error::QueryError;

/// Everything that can go wrong while keeping segments live.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LiveError {
    /// The definition could not be parsed, planned or executed.
    #[error(transparent)]
    Query(#[from] QueryError),
    /// The storage engine failed (reading a snapshot, writing the database).
    #[error(transparent)]
    Engine(#[from] profiledb_engine::Error),
    /// The profiles layer failed (opening, computed-trait definitions).
    #[error(transparent)]
    Profiles(#[from] profiledb_engine::ProfilesError),
    /// The segment change log failed.
    #[error("segment log: {0}")]
    Log(#[from] WalError),
    /// A segment log record is not valid.
    #[error("segment log record {lsn} is corrupt: {reason}")]
    Corrupt {
        /// Sequence number of the bad record in the segment log.
        lsn: u64,
        /// What was wrong.
        reason: String,
    },
    /// No segment has this name.
    #[error("segment \"{0}\" does not exist")]
    UnknownSegment(String),
    /// A segment with this name exists and replacing it was not asked for.
    #[error("segment \"{0}\" already exists")]
    SegmentExists(String),
    /// The name belongs to a table.
    #[error("\"{0}\" is a table; a segment needs another name")]
    NameIsTable(String),
    /// Other segments are defined in terms of this one.
    #[error("segment \"{segment}\" is used by segment \"{used_by}\"; drop that first")]
    InUse {
        /// The segment that was to be dropped or redefined.
        segment: String,
        /// A segment that reads it.
        used_by: String,
    },
    /// The definition would make segments depend on themselves.
    #[error("segment \"{0}\" would depend on itself")]
    Cycle(String),
    /// The definition does not return profile ids.
    #[error("segment \"{0}\" must return a profile_id column (SELECT profile_id FROM …)")]
    NoProfileId(String),
    /// Messages can only be ingested into a database opened with
    /// [`LiveDatabase::open_profiles`](super::LiveDatabase::open_profiles).
    #[error(
        "this database takes rows, not messages: open it as a profiles database to ingest messages"
    )]
    NotProfiles,
}

impl From<LiveError> for QueryError {
    fn from(error: LiveError) -> Self {
        match error {
            LiveError::Query(inner) => inner,
            other => QueryError::Execution(other.to_string()),
        }
    }
}
