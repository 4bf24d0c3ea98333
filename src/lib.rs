//! ProfileDB: an embeddable, columnar customer-profile database.
//!
//! Ingest Segment-spec messages through [`Profiles`] (identity resolution, traits, computed
//! traits), or write rows directly through a [`Database`]; read consistent [`Snapshot`]s. The storage engine is re-exported as [`engine`], the SQL layer as [`query`].

pub use profiledb_engine as engine;
pub use profiledb_engine::{
    ColumnType, Database, DatabaseStats, Error, IngestReport, Options, ProfileView, Profiles,
    ProfilesError, ProfilesOptions, RecoveryMode, Result, Snapshot, SyncMode, TableKind, Value,
    WriteBatch, WriteReceipt,
};
pub use profiledb_query as query;

/// The README's examples, compiled and run as doctests so they cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
