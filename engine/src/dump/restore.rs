//! Restores a dump into an empty database through the ordinary write path.
//!
//! Profile ids are kept. Events are appended in dump order, so they get dense ids from 0 in
//! the restored database (a dump never carries event ids; `profile_id` carries the link).
//!
//! Column order: a table's schema lists columns in the order values first arrived, so a
//! restore that only wrote the rows could order columns differently (a column whose first
//! rows were deleted, or a column only NULLs remain in). The [`ColumnOrder`] tracker spots
//! each such gap before it happens and closes it first: for profiles by writing placeholder
//! values to the row being restored and overwriting them with NULL in the same batch; for
//! events (which cannot be rewritten) with a placeholder event of a scratch profile that the
//! same batch deletes. Scratch profiles take ids from the META block's bound upwards, which no
//! row of the dump uses, so they are left as deleted profile ids in the restored database.

use super::error::DumpError;
use super::reader::{DumpReader, Item};
use super::DumpSummary;
use crate::db::{Database, WriteBatch};
use crate::error::Error;
use crate::schema::{ColumnDef, TableKind};
use crate::value::{ColumnType, Value};
use std::io::Read;
use std::ops::RangeInclusive;

/// Commit the batch being built once its estimated WAL payload reaches this size (the WAL
/// refuses records above 64 MiB).
const BATCH_BYTES: usize = 16 << 20;

/// Restores the dump read from `input` into `db`, which must be empty.
///
/// The dump is checked as it is read, but rows are written as they arrive: a dump damaged in
/// the middle leaves a partly restored database. Callers that must not see that either run
/// [`super::verify_dump`] first or restore into a scratch directory (the CLI does both).
///
/// # Errors
/// [`DumpError::NotEmpty`] before anything is written; otherwise any error of
/// [`super::verify_dump`], or an engine error while writing.
pub fn restore_dump(input: &mut dyn Read, db: &Database) -> Result<DumpSummary, DumpError> {
    ensure_empty(db)?;
    let mut reader = DumpReader::open(input)?;
    let mut restore = Restore::new(db);
    loop {
        match reader.next_item()? {
            Item::Meta(meta) => restore.scratch = meta.profile_id_bound,
            Item::Schema(schema) => restore.set_schema(schema.table, schema.columns),
            Item::Profiles(rows) => restore.profiles(rows)?,
            Item::Events(rows) => {
                restore.finish_profiles()?;
                restore.events(rows)?;
            }
            Item::End(summary) => {
                restore.finish_profiles()?;
                restore.finish_events()?;
                restore.commit()?;
                check_schemas(db, &reader)?;
                return Ok(summary);
            }
        }
    }
}

/// Refuses a database holding rows, deleted rows or columns.
fn ensure_empty(db: &Database) -> Result<(), DumpError> {
    let snapshot = db.snapshot();
    for table in TableKind::ALL {
        let reason = if !snapshot.live_rows(table).is_empty() {
            Some(format!(
                "its {table} table holds {} rows",
                snapshot.row_count(table)
            ))
        } else if !snapshot.deleted_rows(table).is_empty() {
            Some(format!("its {table} table holds deleted rows"))
        } else if !snapshot.schema(table).columns().is_empty() {
            Some(format!("its {table} table has columns"))
        } else {
            None
        };
        if let Some(reason) = reason {
            return Err(DumpError::NotEmpty { reason });
        }
    }
    Ok(())
}

/// The restored schemas must be the dump's, column for column; anything else is a bug here.
fn check_schemas(db: &Database, reader: &DumpReader<'_>) -> Result<(), DumpError> {
    let snapshot = db.snapshot();
    for table in TableKind::ALL {
        if snapshot.schema(table).columns() != reader.schema(table) {
            return Err(DumpError::corrupt(
                reader.offset(),
                format!("restoring produced a {table} schema different from the dump's"),
            ));
        }
    }
    Ok(())
}

/// How many leading columns of a table's dumped schema the restored database already has.
/// Because restore only ever adds columns in schema order, the restored schema is always a
/// prefix of the dumped one.
#[derive(Debug, Default)]
struct ColumnOrder {
    columns: Vec<ColumnDef>,
    established: usize,
}

impl ColumnOrder {
    /// The columns a row with non-NULL values at `set` adds, marking them established.
    fn admit(&mut self, set: impl Fn(usize) -> bool) -> Option<RangeInclusive<usize>> {
        let last = (self.established..self.columns.len())
            .rev()
            .find(|&i| set(i))?;
        let range = self.established..=last;
        self.established = last + 1;
        Some(range)
    }

    /// Every column not established yet, marking them established.
    fn rest(&mut self) -> Option<RangeInclusive<usize>> {
        let range = (self.established < self.columns.len())
            .then(|| self.established..=self.columns.len() - 1);
        self.established = self.columns.len();
        range
    }

    fn name(&self, index: usize) -> String {
        self.columns[index].name.clone()
    }
}

/// A value of `column_type` to hold a column's place until it is overwritten or deleted.
fn placeholder(column_type: ColumnType) -> Value {
    match column_type {
        ColumnType::Bool => Value::Bool(false),
        ColumnType::Int64 => Value::Int64(0),
        ColumnType::Float64 => Value::Float64(0.0),
        ColumnType::Timestamp => Value::Timestamp(0),
        ColumnType::String => Value::String(String::new()),
        ColumnType::StringList => Value::StringList(Vec::new()),
    }
}

/// Approximate WAL bytes of one attribute.
fn cell_bytes(name: &str, value: &Value) -> usize {
    let payload = match value {
        Value::String(s) => s.len() + 4,
        Value::StringList(list) => list.iter().map(|s| s.len() + 4).sum::<usize>() + 4,
        _ => 8,
    };
    name.len() + 5 + payload
}

/// Restore progress: the batch being built and the column-order trackers.
struct Restore<'d> {
    db: &'d Database,
    batch: WriteBatch,
    batch_bytes: usize,
    profiles: ColumnOrder,
    events: ColumnOrder,
    last_profile: Option<u32>,
    profiles_finished: bool,
    scratch: u64,
}

impl<'d> Restore<'d> {
    fn new(db: &'d Database) -> Self {
        Restore {
            db,
            batch: WriteBatch::new(),
            batch_bytes: 0,
            profiles: ColumnOrder::default(),
            events: ColumnOrder::default(),
            last_profile: None,
            profiles_finished: false,
            scratch: 0,
        }
    }

    fn set_schema(&mut self, table: TableKind, columns: Vec<ColumnDef>) {
        let order = ColumnOrder {
            columns,
            established: 0,
        };
        match table {
            TableKind::Profiles => self.profiles = order,
            TableKind::Events => self.events = order,
        }
    }

    fn commit(&mut self) -> Result<(), DumpError> {
        if !self.batch.is_empty() {
            self.db.write(&std::mem::take(&mut self.batch))?;
        }
        self.batch_bytes = 0;
        Ok(())
    }

    fn account(&mut self, bytes: usize) -> Result<(), DumpError> {
        self.batch_bytes += bytes + 16;
        if self.batch_bytes >= BATCH_BYTES {
            self.commit()?;
        }
        Ok(())
    }

    /// A profile id no row of the dump uses, for a placeholder row deleted right away.
    fn scratch_profile(&mut self) -> Result<u32, DumpError> {
        let id = u32::try_from(self.scratch).map_err(|_| {
            DumpError::Engine(Error::RowIdsExhausted {
                table: TableKind::Profiles,
            })
        })?;
        self.scratch += 1;
        Ok(id)
    }

    fn profiles(&mut self, rows: Vec<(u32, Vec<Value>)>) -> Result<(), DumpError> {
        for (id, values) in rows {
            let added = self.profiles.admit(|i| !values[i].is_null());
            let gaps: Vec<usize> = added
                .into_iter()
                .flatten()
                .filter(|&i| values[i].is_null())
                .collect();
            let mut bytes = 0;
            let mut attributes = Vec::with_capacity(values.len());
            for (index, value) in values.into_iter().enumerate() {
                let value = if gaps.contains(&index) {
                    placeholder(self.profiles.columns[index].column_type)
                } else if value.is_null() {
                    continue;
                } else {
                    value
                };
                let name = self.profiles.name(index);
                bytes += cell_bytes(&name, &value);
                attributes.push((name, value));
            }
            self.batch.upsert_profile(id, attributes);
            self.overwrite_with_null(id, &gaps);
            self.last_profile = Some(id);
            self.account(bytes)?;
        }
        Ok(())
    }

    /// Sets `columns` of profile `id` back to NULL (after placeholders established them).
    fn overwrite_with_null(&mut self, id: u32, columns: &[usize]) {
        if !columns.is_empty() {
            let nulls = columns
                .iter()
                .map(|&i| (self.profiles.name(i), Value::Null))
                .collect();
            self.batch.upsert_profile(id, nulls);
        }
    }

    /// Establishes the profile columns no restored row has set, once all profiles are in.
    fn finish_profiles(&mut self) -> Result<(), DumpError> {
        if std::mem::replace(&mut self.profiles_finished, true) {
            return Ok(());
        }
        let Some(rest) = self.profiles.rest() else {
            return Ok(());
        };
        let columns: Vec<usize> = rest.collect();
        let placeholders = columns
            .iter()
            .map(|&i| {
                (
                    self.profiles.name(i),
                    placeholder(self.profiles.columns[i].column_type),
                )
            })
            .collect();
        match self.last_profile {
            Some(id) => {
                self.batch.upsert_profile(id, placeholders);
                self.overwrite_with_null(id, &columns);
            }
            None => {
                let scratch = self.scratch_profile()?;
                self.batch.upsert_profile(scratch, placeholders);
                self.batch.delete_profile(scratch);
            }
        }
        self.account(0)
    }

    fn events(&mut self, rows: Vec<Vec<Value>>) -> Result<(), DumpError> {
        for values in rows {
            // `profile_id` (column 0) is set on every event by the engine itself.
            let added = self.events.admit(|i| i == 0 || !values[i].is_null());
            if let Some(range) = added.filter(|r| r.clone().any(|i| values[i].is_null())) {
                self.placeholder_event(range)?;
            }
            let mut values = values.into_iter();
            let owner = match values.next() {
                Some(Value::Int64(owner)) => u32::try_from(owner).ok(),
                _ => None,
            }
            .ok_or_else(|| DumpError::corrupt(0, "event without a valid profile_id"))?;
            let mut bytes = 0;
            let mut attributes = Vec::new();
            for (index, value) in values.enumerate() {
                if !value.is_null() {
                    let name = self.events.name(index + 1);
                    bytes += cell_bytes(&name, &value);
                    attributes.push((name, value));
                }
            }
            self.batch.append_event(owner, attributes);
            self.account(bytes)?;
        }
        Ok(())
    }

    /// Adds the event columns of `range` in order through an event of a scratch profile that
    /// the same batch deletes.
    fn placeholder_event(&mut self, range: RangeInclusive<usize>) -> Result<(), DumpError> {
        let scratch = self.scratch_profile()?;
        let attributes = range
            .filter(|&i| i != 0)
            .map(|i| {
                (
                    self.events.name(i),
                    placeholder(self.events.columns[i].column_type),
                )
            })
            .collect();
        self.batch.append_event(scratch, attributes);
        self.batch.delete_profile(scratch);
        self.account(0)
    }

    /// Establishes the event columns no restored event has set.
    fn finish_events(&mut self) -> Result<(), DumpError> {
        match self.events.rest() {
            Some(range) => self.placeholder_event(range),
            None => Ok(()),
        }
    }
}
