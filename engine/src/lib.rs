//! ProfileDB's storage engine.
//!
//! Profiles and events live in columnar, checksummed, memory-mapped segment files behind a
//! write-ahead log. The engine knows tables, columns, rows and bitmaps; it knows nothing of SQL.
//! See `storage-format.md` at the repository root for the byte-level contract of every file.

#![deny(unsafe_code)]

pub mod codec;
mod db;
pub mod dense_map;
pub mod dump;
pub mod error;
pub mod identity;
pub mod io;
pub mod manifest;
pub mod memtable;
pub mod message;
pub mod mutation;
pub mod options;
pub mod profiles;
pub mod scan;
pub mod schema;
pub mod segment;
pub mod snapshot;
pub mod value;
pub mod wal;
pub mod wire;

pub use db::{
    BulkLoadError, BulkLoader, Database, DatabaseStats, WriteBatch, WriteReceipt,
    EVENT_PROFILE_COLUMN, LOCK_FILE, MAX_COLUMN_NAME_BYTES, WAL_DIR,
};
pub use error::{Error, Result};
pub use options::{Options, RecoveryMode, SyncMode};
pub use profiles::{
    IdentityRow, IngestReport, ProfileView, Profiles, ProfilesError, ProfilesOptions,
};
pub use schema::{ColumnDef, TableKind, TableSchema};
pub use snapshot::Snapshot;
pub use value::{ColumnType, TypeMismatch, Value};
