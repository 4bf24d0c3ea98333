//! The engine's snapshots as a [`Catalog`]: how SQL sees stored profiles and events.
//!
//! `profiles` gets a synthetic `profile_id` column (its row id); `events` stores `profile_id`
//! as an ordinary column. Leaf predicates go to the engine's scan, which picks per-value bitmaps,
//! zone maps or vectorized scans chunk by chunk and reports which it used.

use crate::catalog::{AccessPath, Catalog, ConjunctionResult, CountedKeys, TableSource};
use crate::error::QueryError;
use crate::predicate::{CompareOp, LeafPredicate};
use profiledb_engine::scan::{self, Predicate};
use profiledb_engine::{ColumnType, Snapshot, TableKind, Value};
use roaring::RoaringBitmap;
use std::collections::BTreeMap;

/// Name of the synthetic row-id column of `profiles`.
pub const PROFILE_ID: &str = "profile_id";

/// Columns whose names start with this are engine bookkeeping, not shown to queries.
pub const HIDDEN_COLUMN_PREFIX: char = '_';

/// A snapshot seen as SQL tables, plus any extra tables supplied by the caller.
pub struct SnapshotCatalog<'s> {
    profiles: EngineTable<'s>,
    events: EngineTable<'s>,
    extra: BTreeMap<String, Box<dyn TableSource + 's>>,
    now_micros: i64,
}

impl<'s> SnapshotCatalog<'s> {
    /// Tables `profiles` and `events` of `snapshot`; `now()` is the system clock.
    #[must_use]
    pub fn new(snapshot: &'s Snapshot) -> Self {
        SnapshotCatalog {
            profiles: EngineTable {
                snapshot,
                table: TableKind::Profiles,
            },
            events: EngineTable {
                snapshot,
                table: TableKind::Events,
            },
            extra: BTreeMap::new(),
            now_micros: system_now_micros(),
        }
    }

    /// Uses `now_micros` as the default clock.
    #[must_use]
    pub fn with_now(mut self, now_micros: i64) -> Self {
        self.now_micros = now_micros;
        self
    }

    /// Adds (or replaces) a table served by another source, e.g. `identities`.
    #[must_use]
    pub fn with_table(mut self, name: &str, table: Box<dyn TableSource + 's>) -> Self {
        self.extra.insert(name.to_owned(), table);
        self
    }
}

fn system_now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

impl Catalog for SnapshotCatalog<'_> {
    fn table(&self, name: &str) -> Option<&dyn TableSource> {
        match name {
            "profiles" => Some(&self.profiles),
            "events" => Some(&self.events),
            _ => self.extra.get(name).map(|t| t.as_ref() as &dyn TableSource),
        }
    }

    fn table_names(&self) -> Vec<String> {
        let mut names = vec!["profiles".to_owned(), "events".to_owned()];
        names.extend(self.extra.keys().cloned());
        names
    }

    fn now_micros(&self) -> i64 {
        self.now_micros
    }
}

/// One engine table behind the [`TableSource`] trait.
struct EngineTable<'s> {
    snapshot: &'s Snapshot,
    table: TableKind,
}

impl EngineTable<'_> {
    fn is_row_id(&self, column: &str) -> bool {
        self.table == TableKind::Profiles && column == PROFILE_ID
    }
}

fn engine_error(error: profiledb_engine::Error) -> QueryError {
    QueryError::Execution(error.to_string())
}

fn engine_predicate(predicate: &LeafPredicate) -> Predicate {
    match predicate {
        LeafPredicate::Compare(op, value) => Predicate::Compare(engine_op(*op), value.clone()),
        LeafPredicate::Between(low, high) => Predicate::Between(low.clone(), high.clone()),
        LeafPredicate::InList(values) => Predicate::InList(values.clone()),
        LeafPredicate::Like {
            pattern,
            case_insensitive,
        } => Predicate::Like {
            pattern: pattern.clone(),
            case_insensitive: *case_insensitive,
        },
        LeafPredicate::ListContains(value) => Predicate::ListContains(value.clone()),
    }
}

fn engine_op(op: CompareOp) -> scan::CompareOp {
    match op {
        CompareOp::Eq => scan::CompareOp::Eq,
        CompareOp::NotEq => scan::CompareOp::NotEq,
        CompareOp::Lt => scan::CompareOp::Less,
        CompareOp::LtEq => scan::CompareOp::LessOrEqual,
        CompareOp::Gt => scan::CompareOp::Greater,
        CompareOp::GtEq => scan::CompareOp::GreaterOrEqual,
    }
}

impl TableSource for EngineTable<'_> {
    fn columns(&self) -> Vec<(String, ColumnType)> {
        let stored = self
            .snapshot
            .schema(self.table)
            .columns()
            .iter()
            .filter(|c| !c.name.starts_with(HIDDEN_COLUMN_PREFIX))
            .map(|c| (c.name.clone(), c.column_type));
        match self.table {
            TableKind::Profiles => std::iter::once((PROFILE_ID.to_owned(), ColumnType::Int64))
                .chain(stored)
                .collect(),
            TableKind::Events => {
                // The link to the profile leads, whatever order columns were first written in.
                let (mut first, rest): (Vec<_>, Vec<_>) =
                    stored.partition(|(name, _)| name == PROFILE_ID);
                first.extend(rest);
                first
            }
        }
    }

    fn row_count(&self) -> u64 {
        self.snapshot.row_count(self.table)
    }

    fn all_rows(&self) -> Result<RoaringBitmap, QueryError> {
        Ok(self.snapshot.live_rows(self.table).clone())
    }

    fn filter(
        &self,
        column: &str,
        predicate: &LeafPredicate,
    ) -> Result<(RoaringBitmap, AccessPath), QueryError> {
        if self.is_row_id(column) {
            let live = self.snapshot.live_rows(self.table);
            let matching = live
                .iter()
                .filter(|&row| predicate.matches(&Value::Int64(i64::from(row))));
            let rows = RoaringBitmap::from_sorted_iter(matching)
                .map_err(|e| QueryError::Internal(e.to_string()))?;
            return Ok((rows, AccessPath::Other("row ids".to_owned())));
        }
        let (rows, stats) = scan::filter(
            self.snapshot,
            self.table,
            column,
            &engine_predicate(predicate),
        )
        .map_err(engine_error)?;
        Ok((rows, AccessPath::Other(stats.to_string())))
    }

    fn filter_within(
        &self,
        column: &str,
        predicate: &LeafPredicate,
        domain: &RoaringBitmap,
    ) -> Result<(RoaringBitmap, AccessPath), QueryError> {
        if self.is_row_id(column) {
            let matching = domain
                .iter()
                .filter(|&row| predicate.matches(&Value::Int64(i64::from(row))));
            let rows = RoaringBitmap::from_sorted_iter(matching)
                .map_err(|e| QueryError::Internal(e.to_string()))?;
            return Ok((
                rows & self.snapshot.live_rows(self.table),
                AccessPath::Other("row ids".to_owned()),
            ));
        }
        let (rows, stats) = scan::filter_within(
            self.snapshot,
            self.table,
            column,
            &engine_predicate(predicate),
            domain,
        )
        .map_err(engine_error)?;
        Ok((rows, AccessPath::Other(stats.to_string())))
    }

    fn count_within(
        &self,
        column: &str,
        predicate: &LeafPredicate,
        domain: &RoaringBitmap,
    ) -> Result<(u64, AccessPath), QueryError> {
        if self.is_row_id(column) {
            let (rows, path) = self.filter_within(column, predicate, domain)?;
            return Ok((rows.len(), path));
        }
        let (count, stats) = scan::count_within(
            self.snapshot,
            self.table,
            column,
            &engine_predicate(predicate),
            domain,
        )
        .map_err(engine_error)?;
        Ok((count, AccessPath::Other(stats.to_string())))
    }

    fn conjunction(
        &self,
        leaves: &[(&str, &LeafPredicate)],
        domain: &RoaringBitmap,
        want_rows: bool,
    ) -> Result<Option<ConjunctionResult>, QueryError> {
        if leaves.iter().any(|(column, _)| self.is_row_id(column)) {
            return Ok(None);
        }
        let predicates: Vec<Predicate> = leaves.iter().map(|(_, p)| engine_predicate(p)).collect();
        let conditions: Vec<(&str, &Predicate)> = leaves
            .iter()
            .zip(&predicates)
            .map(|((column, _), p)| (*column, p))
            .collect();
        let found = scan::conjunction(self.snapshot, self.table, &conditions, domain, want_rows)
            .map_err(engine_error)?;
        Ok(found.map(|c| ConjunctionResult {
            counts: c.counts,
            rows: c.rows,
            access: c
                .stats
                .iter()
                .map(|s| AccessPath::Other(format!("fused AND: {s}")))
                .collect(),
        }))
    }

    fn null_rows(&self, column: &str) -> Result<RoaringBitmap, QueryError> {
        if self.is_row_id(column) {
            return Ok(RoaringBitmap::new());
        }
        scan::null_rows(self.snapshot, self.table, column).map_err(engine_error)
    }

    fn counted_keys(
        &self,
        shape: &CountedKeys,
        keep: &mut dyn FnMut(u64) -> bool,
    ) -> Result<Option<(RoaringBitmap, AccessPath)>, QueryError> {
        let spec = scan::DailyCountSpec {
            key_column: shape.key_column.clone(),
            name_column: shape.name_column.clone(),
            name: shape.name.clone(),
            time_column: shape.time_column.clone(),
            from: shape.from,
            until: shape.until,
        };
        let found =
            scan::count_by_key(self.snapshot, self.table, &spec, keep).map_err(engine_error)?;
        Ok(found.map(|(keys, stats)| (keys, AccessPath::Other(stats.to_string()))))
    }

    fn fetch(&self, column: &str, rows: &RoaringBitmap) -> Result<Vec<Value>, QueryError> {
        if self.is_row_id(column) {
            return Ok(rows
                .iter()
                .map(|row| Value::Int64(i64::from(row)))
                .collect());
        }
        // Queries keep what they decode: the next query over the same chunks is then a
        // memory read (see `Snapshot::fetch_cached`).
        self.snapshot
            .fetch_cached(self.table, column, rows)
            .map_err(engine_error)
    }
}

/// The `identities` table (`profile_id`, `type`, `value`, `first_seen`, `last_seen`) of a
/// profiles database, for [`SnapshotCatalog::with_table`].
///
/// # Errors
/// Only if the identity graph yields a row that does not fit the table (an internal bug).
pub fn identities_table(
    profiles: &profiledb_engine::Profiles,
) -> Result<crate::MemTable, QueryError> {
    let mut table = crate::MemTable::new(vec![
        (PROFILE_ID.to_owned(), ColumnType::Int64),
        ("type".to_owned(), ColumnType::String),
        ("value".to_owned(), ColumnType::String),
        ("first_seen".to_owned(), ColumnType::Timestamp),
        ("last_seen".to_owned(), ColumnType::Timestamp),
    ]);
    for row in profiles.identities() {
        table.push_row(vec![
            Value::Int64(i64::from(row.profile_id)),
            Value::String(row.kind),
            Value::String(row.value),
            Value::Timestamp(row.first_seen),
            Value::Timestamp(row.last_seen),
        ])?;
    }
    Ok(table)
}
