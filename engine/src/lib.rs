//! ProfileDB's storage engine.
//!
//! Profiles and events live in columnar, checksummed, memory-mapped segment files behind a
//! write-ahead log. The engine knows tables, columns, rows and bitmaps; it knows nothing of SQL.
//! See `storage-format.md` at the repository root for the byte-level contract of every file.

#![deny(unsafe_code)]

pub mod codec;
pub mod identity;
pub mod io;
pub mod message;
pub mod value;
pub mod wal;

pub use value::{ColumnType, TypeMismatch, Value};
