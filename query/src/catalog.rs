//! What the planner and executor see of storage.

use std::fmt;

use profiledb_engine::value::{ColumnType, Value};
use roaring::RoaringBitmap;

use crate::error::QueryError;
use crate::predicate::LeafPredicate;

/// The tables a query can name. Row ids are u32; for `profiles` the row id IS the `profile_id`.
pub trait Catalog {
    /// The table called `name` (exact, lower-case names), if any.
    fn table(&self, name: &str) -> Option<&dyn TableSource>;
    /// Names of every table, for error messages and `SHOW`.
    fn table_names(&self) -> Vec<String>;
    /// The default clock, in microseconds since the epoch (sessions can pin it with `SET now`).
    fn now_micros(&self) -> i64;
}

/// One table's columns, row set and predicate evaluation.
pub trait TableSource {
    /// Every column with its type, in display order (for `profiles`, `profile_id` included).
    fn columns(&self) -> Vec<(String, ColumnType)>;
    /// Number of live rows.
    fn row_count(&self) -> u64;
    /// Ids of every live row.
    fn all_rows(&self) -> Result<RoaringBitmap, QueryError>;
    /// Rows whose value in `column` is NOT NULL and satisfies `predicate` (see
    /// [`LeafPredicate::matches`]), plus how they were found, for EXPLAIN.
    fn filter(
        &self,
        column: &str,
        predicate: &LeafPredicate,
    ) -> Result<(RoaringBitmap, AccessPath), QueryError>;
    /// The rows of `domain` that [`TableSource::filter`] returns. Sources that can skip work
    /// for rows outside the domain (a conjunction's later predicates see only the rows still in
    /// play) override this; the default filters everything and intersects.
    fn filter_within(
        &self,
        column: &str,
        predicate: &LeafPredicate,
        domain: &RoaringBitmap,
    ) -> Result<(RoaringBitmap, AccessPath), QueryError> {
        let (rows, path) = self.filter(column, predicate)?;
        Ok((rows & domain, path))
    }
    /// Rows whose value in `column` is NULL.
    fn null_rows(&self, column: &str) -> Result<RoaringBitmap, QueryError>;
    /// Values of `column` for `rows`, in ascending row order.
    fn fetch(&self, column: &str, rows: &RoaringBitmap) -> Result<Vec<Value>, QueryError>;
}

/// How storage found the rows of a leaf predicate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessPath {
    /// Looked up in a per-value bitmap index.
    ValueBitmap,
    /// Pruned blocks with min/max zone maps, then scanned the rest.
    ZoneMapScan,
    /// Evaluated on every value.
    Scan,
    /// Anything else, described in words.
    Other(String),
}

impl fmt::Display for AccessPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccessPath::ValueBitmap => f.write_str("value bitmap"),
            AccessPath::ZoneMapScan => f.write_str("zone map + scan"),
            AccessPath::Scan => f.write_str("scan"),
            AccessPath::Other(text) => f.write_str(text),
        }
    }
}
