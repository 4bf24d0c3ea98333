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
    /// How many rows [`TableSource::filter_within`] would return. Sources that can count
    /// without building the rows (per-value indexes) override this; `COUNT(*)` asks it for
    /// the last condition of a conjunction.
    fn count_within(
        &self,
        column: &str,
        predicate: &LeafPredicate,
        domain: &RoaringBitmap,
    ) -> Result<(u64, AccessPath), QueryError> {
        let (rows, path) = self.filter_within(column, predicate, domain)?;
        Ok((rows.len(), path))
    }
    /// Evaluates a conjunction of leaves in one go when the source can do better than leaf
    /// by leaf (e.g. one fused pass over per-value bitsets): for each leaf, the rows of
    /// `domain` satisfying it and every leaf before it; the final rows when `want_rows`; and
    /// how they were found. `None` (the default) evaluates the leaves one by one.
    fn conjunction(
        &self,
        leaves: &[(&str, &LeafPredicate)],
        domain: &RoaringBitmap,
        want_rows: bool,
    ) -> Result<Option<ConjunctionResult>, QueryError> {
        let _ = (leaves, domain, want_rows);
        Ok(None)
    }
    /// Rows whose value in `column` is NULL.
    fn null_rows(&self, column: &str) -> Result<RoaringBitmap, QueryError>;
    /// The keys of a [`CountedKeys`] query whose row count `n` (> 0) satisfies `keep(n)`, from
    /// storage's pre-aggregates, with how they were found. `None` when the source cannot answer
    /// the shape exactly (the general plan then runs); the default never answers.
    fn counted_keys(
        &self,
        shape: &CountedKeys,
        keep: &mut dyn FnMut(u64) -> bool,
    ) -> Result<Option<(RoaringBitmap, AccessPath)>, QueryError> {
        let _ = (shape, keep);
        Ok(None)
    }
    /// Values of `column` for `rows`, in ascending row order.
    fn fetch(&self, column: &str, rows: &RoaringBitmap) -> Result<Vec<Value>, QueryError>;
}

/// What [`TableSource::conjunction`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct ConjunctionResult {
    /// `counts[i]`: rows of the domain satisfying leaves `0..=i`.
    pub counts: Vec<u64>,
    /// The rows satisfying every leaf, when asked for.
    pub rows: Option<RoaringBitmap>,
    /// How each leaf was evaluated.
    pub access: Vec<AccessPath>,
}

/// `SELECT key FROM t WHERE name_column = 'name' AND time_column >= from AND time_column <
/// until GROUP BY key HAVING <condition on COUNT(*)>`: the shape of behavioural conditions
/// ("completed an order at least twice in the last 30 days"), which storage may answer from
/// per-day pre-aggregates instead of reading every matching row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountedKeys {
    /// The grouping column (an integer id).
    pub key_column: String,
    /// The string column compared for equality.
    pub name_column: String,
    /// The value it must equal.
    pub name: String,
    /// The timestamp column bounding the window.
    pub time_column: String,
    /// Inclusive lower bound, µs since the epoch (`None`: unbounded).
    pub from: Option<i64>,
    /// Exclusive upper bound, µs since the epoch (`None`: unbounded).
    pub until: Option<i64>,
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
