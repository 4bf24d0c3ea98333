//! The single writer's state: the in-memory head, the latest schemas and id counters.
//!
//! Live writes and WAL replay go through the same [`WriterState::apply`], so a database
//! rebuilt from its log is the database that wrote it.

use super::batch::{WriteBatch, WriteOp};
use super::identity_checkpoint::IdentityCheckpoint;
use crate::error::{Error, Result};
use crate::identity::{IdentityError, IdentityGraph};
use crate::memtable::MemLayerBuilder;
use crate::mutation::{Batch, ColumnName, IdentityChange, Mutation};
use crate::schema::{TableKind, TableSchema};
use crate::value::{ColumnType, Value};
use roaring::RoaringBitmap;
use rustc_hash::FxHashMap;

/// Name of the events column holding the profile an event belongs to.
pub const EVENT_PROFILE_COLUMN: &str = "profile_id";

/// Longest column name accepted, in bytes.
pub const MAX_COLUMN_NAME_BYTES: usize = 1024;

/// Everything the writer owns; guarded by the writer lock.
#[derive(Debug, Default)]
pub(crate) struct WriterState {
    pub builder: MemLayerBuilder,
    pub profiles_schema: TableSchema,
    pub events_schema: TableSchema,
    pub next_event_row: u32,
    pub next_profile_row: u32,
    pub deleted_profiles: RoaringBitmap,
    pub last_applied_lsn: u64,
    /// The identity graph; changed together with the rows, under the same lock.
    pub graph: IdentityGraph,
    /// The buffer each batch is encoded into for the WAL, kept between writes (see
    /// [`WriterState::encode_for_log`]).
    pub wal_payload: Vec<u8>,
    /// What was logged since the graph's snapshot anchor (decides when a flush writes one).
    pub identity_checkpoint: IdentityCheckpoint,
}

/// Largest WAL payload buffer kept for the next write; a rare huge batch (a bulk load) does
/// not pin its memory for the life of the database.
const MAX_KEPT_PAYLOAD: usize = 16 << 20;

/// A validated batch, ready to be logged and applied.
pub(crate) struct PreparedBatch {
    /// The mutations to log and apply.
    pub batch: Batch,
    /// Ids given to the batch's appended events, in order.
    pub event_rows: Vec<u32>,
    /// Columns the batch adds, in the order they appear in it.
    pub new_columns: NewColumns,
}

/// Columns a batch adds to the schemas, looked up by name and kept in order of appearance.
///
/// Knowing them after validation spares applying the batch a schema lookup per cell.
#[derive(Debug, Default)]
pub(crate) struct NewColumns {
    /// By name, per table (profiles, events).
    by_name: [FxHashMap<String, ColumnType>; 2],
    order: Vec<(TableKind, String, ColumnType)>,
}

impl NewColumns {
    fn get(&self, table: TableKind, name: &str) -> Option<ColumnType> {
        if self.order.is_empty() {
            return None;
        }
        self.by_name[usize::from(table == TableKind::Events)]
            .get(name)
            .copied()
    }

    fn insert(&mut self, table: TableKind, name: &str, column_type: ColumnType) {
        self.by_name[usize::from(table == TableKind::Events)].insert(name.to_owned(), column_type);
        self.order.push((table, name.to_owned(), column_type));
    }
}

impl WriterState {
    /// Encodes `batch` for the WAL and hands the bytes to `log`. The buffer is reused across
    /// writes: a fresh multi-megabyte block per write would be faulted in page by page.
    pub fn encode_for_log<T>(&mut self, batch: &Batch, log: impl FnOnce(&[u8]) -> T) -> T {
        batch.encode_into(&mut self.wal_payload);
        let logged = log(&self.wal_payload);
        self.identity_checkpoint
            .note_record(self.wal_payload.len(), !batch.identity.is_empty());
        if self.wal_payload.capacity() > MAX_KEPT_PAYLOAD {
            self.wal_payload = Vec::new();
        }
        logged
    }

    pub fn schema(&self, table: TableKind) -> &TableSchema {
        match table {
            TableKind::Profiles => &self.profiles_schema,
            TableKind::Events => &self.events_schema,
        }
    }

    fn schema_mut(&mut self, table: TableKind) -> &mut TableSchema {
        match table {
            TableKind::Profiles => &mut self.profiles_schema,
            TableKind::Events => &mut self.events_schema,
        }
    }

    /// Validates `batch` and turns it into mutations, without changing any state. The batch is
    /// taken by value so its cells move into the mutations instead of being copied.
    /// `events_of` lists the event rows of a profile (needed to erase them).
    pub fn prepare(
        &self,
        batch: WriteBatch,
        events_of: &mut dyn FnMut(u32) -> Result<Vec<u32>>,
    ) -> Result<PreparedBatch> {
        let mut new_columns = NewColumns::default();
        let mut mutations = Vec::with_capacity(batch.ops.len());
        let mut event_rows = Vec::new();
        let mut next_event = self.next_event_row;
        let mut deleted_here = RoaringBitmap::new();
        let mut fitted_columns = Some(batch.fitted_event_columns);
        for op in batch.ops {
            match op {
                WriteOp::UpsertProfile {
                    profile,
                    attributes,
                } => {
                    self.require_live(profile, &deleted_here)?;
                    let mut values = attributes;
                    self.fit(TableKind::Profiles, &mut values, &mut new_columns)?;
                    mutations.push(Mutation::Upsert {
                        table: TableKind::Profiles,
                        row: profile,
                        values,
                    });
                }
                WriteOp::AppendEvent {
                    profile,
                    attributes,
                } => {
                    self.require_live(profile, &deleted_here)?;
                    self.note_profile_column(&mut new_columns);
                    let mut values = attributes;
                    self.fit(TableKind::Events, &mut values, &mut new_columns)?;
                    values.insert(0, profile_cell(profile));
                    let row = take_event_row(&mut next_event)?;
                    event_rows.push(row);
                    mutations.push(event_upsert(row, values));
                }
                WriteOp::AppendFittedEvent {
                    profile,
                    attributes,
                } => {
                    self.require_live(profile, &deleted_here)?;
                    self.note_profile_column(&mut new_columns);
                    // Their columns are new at the first fitted event, as replay will see them.
                    for (name, column_type) in fitted_columns.take().unwrap_or_default() {
                        self.note_fitted_column(&name, column_type, &mut new_columns);
                    }
                    let mut values = attributes;
                    match values.first_mut() {
                        Some(first) if first.0 == EVENT_PROFILE_COLUMN => {
                            *first = profile_cell(profile);
                        }
                        _ => values.insert(0, profile_cell(profile)),
                    }
                    let row = take_event_row(&mut next_event)?;
                    event_rows.push(row);
                    mutations.push(event_upsert(row, values));
                }
                WriteOp::DeleteProfile { profile } => {
                    for row in events_of(profile)? {
                        mutations.push(Mutation::Delete {
                            table: TableKind::Events,
                            row,
                        });
                    }
                    // Events appended earlier in this same batch are erased too.
                    let owner = Value::Int64(i64::from(profile));
                    let appended_here: Vec<u32> = mutations
                        .iter()
                        .filter_map(|m| match m {
                            Mutation::Upsert {
                                table: TableKind::Events,
                                row,
                                values,
                            } if values.first().map(|(_, v)| v) == Some(&owner) => Some(*row),
                            _ => None,
                        })
                        .collect();
                    for row in appended_here {
                        mutations.push(Mutation::Delete {
                            table: TableKind::Events,
                            row,
                        });
                    }
                    mutations.push(Mutation::Delete {
                        table: TableKind::Profiles,
                        row: profile,
                    });
                    deleted_here.insert(profile);
                }
                WriteOp::MoveEvents { rows, to } => {
                    self.require_live(to, &deleted_here)?;
                    if !rows.is_empty() {
                        self.note_profile_column(&mut new_columns);
                    }
                    for row in rows {
                        mutations.push(event_upsert(row, vec![profile_cell(to)]));
                    }
                }
                WriteOp::DefineColumn {
                    table,
                    name,
                    column_type,
                } => {
                    validate_column_name(&name)?;
                    let existing = self
                        .schema(table)
                        .column_type(&name)
                        .or_else(|| new_columns.get(table, &name));
                    match existing {
                        Some(found) if found != column_type => {
                            return Err(crate::value::TypeMismatch {
                                column: name,
                                expected: found,
                                found: column_type,
                            }
                            .into());
                        }
                        Some(_) => {}
                        None => {
                            new_columns.insert(table, &name, column_type);
                            mutations.push(Mutation::DefineColumn {
                                table,
                                name,
                                column_type,
                            });
                        }
                    }
                }
                WriteOp::DeleteProfileRow { profile } => {
                    mutations.push(Mutation::Delete {
                        table: TableKind::Profiles,
                        row: profile,
                    });
                    deleted_here.insert(profile);
                }
            }
        }
        Ok(PreparedBatch {
            batch: Batch {
                identity: Vec::new(),
                mutations,
            },
            event_rows,
            new_columns,
        })
    }

    /// Notes the events' `profile_id` column as new when this is the first event ever written.
    fn note_profile_column(&self, new_columns: &mut NewColumns) {
        let table = TableKind::Events;
        if self.events_schema.column(EVENT_PROFILE_COLUMN).is_none()
            && new_columns.get(table, EVENT_PROFILE_COLUMN).is_none()
        {
            new_columns.insert(table, EVENT_PROFILE_COLUMN, ColumnType::Int64);
        }
    }

    /// Notes an events column that fitted events add, unless it exists already.
    fn note_fitted_column(
        &self,
        name: &str,
        column_type: ColumnType,
        new_columns: &mut NewColumns,
    ) {
        let table = TableKind::Events;
        debug_assert!(validate_column_name(name).is_ok(), "fitted column {name}");
        if self.events_schema.column(name).is_none() && new_columns.get(table, name).is_none() {
            new_columns.insert(table, name, column_type);
        }
    }

    fn require_live(&self, profile: u32, deleted_here: &RoaringBitmap) -> Result<()> {
        if self.deleted_profiles.contains(profile) || deleted_here.contains(profile) {
            Err(Error::RowDeleted {
                table: TableKind::Profiles,
                row: profile,
            })
        } else {
            Ok(())
        }
    }

    /// Coerces each attribute, in place, to its column's type (the schema's, or one added
    /// earlier in the batch). In place, because a batch carries tens of thousands of rows and
    /// a second vector per row costs an allocation and a free each.
    fn fit(
        &self,
        table: TableKind,
        attributes: &mut [(ColumnName, Value)],
        new_columns: &mut NewColumns,
    ) -> Result<()> {
        let schema = self.schema(table);
        for (name, value) in attributes {
            validate_column_name(name)?;
            let unfitted = std::mem::replace(value, Value::Null);
            *value = match schema.column_type(name) {
                Some(column_type) => unfitted.coerce_to(column_type, name)?,
                // Only columns new to the schema need the batch-local lookup (and its key).
                None => match new_columns.get(table, name) {
                    Some(pending) => unfitted.coerce_to(pending, name)?,
                    None => {
                        if let Some(column_type) = unfitted.column_type() {
                            new_columns.insert(table, name, column_type);
                        }
                        unfitted
                    }
                },
            };
        }
        Ok(())
    }

    /// Applies a batch read back from the WAL: its identity changes first (the live path
    /// made them before logging), then its rows.
    pub fn replay(&mut self, lsn: u64, batch: Batch) -> Result<(), IdentityError> {
        self.replay_identity(&batch.identity)?;
        self.apply(lsn, batch);
        Ok(())
    }

    /// Applies identity changes read back from the WAL in order; alone, for records whose
    /// rows are already in segments but whose graph changes are past the snapshot.
    pub fn replay_identity(&mut self, changes: &[IdentityChange]) -> Result<(), IdentityError> {
        for change in changes {
            match change {
                IdentityChange::Link(record) => {
                    self.graph.replay(record)?;
                }
                IdentityChange::Action(action) => {
                    action.apply(&mut self.graph)?;
                }
            }
        }
        Ok(())
    }

    /// Applies a batch [`WriterState::prepare`] validated and the WAL logged at `lsn`: its
    /// new columns are known, so cells go to the head without schema lookups.
    pub fn apply_prepared(&mut self, lsn: u64, batch: Batch, new_columns: NewColumns) {
        for (table, name, column_type) in new_columns.order {
            self.schema_mut(table).add_column(&name, column_type);
        }
        for mutation in batch.mutations {
            match &mutation {
                Mutation::Upsert { table, row, .. } | Mutation::Delete { table, row } => {
                    self.note_row(*table, *row);
                    if *table == TableKind::Profiles && matches!(mutation, Mutation::Delete { .. })
                    {
                        self.deleted_profiles.insert(*row);
                    }
                }
                Mutation::DefineColumn { .. } => {}
            }
            self.builder.apply(mutation);
        }
        self.last_applied_lsn = self.last_applied_lsn.max(lsn);
    }

    /// Applies the row mutations of a batch read back from the WAL, logged at `lsn`.
    pub fn apply(&mut self, lsn: u64, batch: Batch) {
        for mutation in batch.mutations {
            match &mutation {
                Mutation::Upsert { table, row, values } => {
                    let schema = self.schema_mut(*table);
                    for (name, value) in values {
                        if let Some(column_type) = value.column_type() {
                            if schema.column(name).is_none() {
                                schema.add_column(name, column_type);
                            }
                        }
                    }
                    self.note_row(*table, *row);
                }
                Mutation::Delete { table, row } => {
                    self.note_row(*table, *row);
                    if *table == TableKind::Profiles {
                        self.deleted_profiles.insert(*row);
                    }
                }
                Mutation::DefineColumn {
                    table,
                    name,
                    column_type,
                } => {
                    self.schema_mut(*table).add_column(name, *column_type);
                }
            }
            self.builder.apply(mutation);
        }
        self.last_applied_lsn = self.last_applied_lsn.max(lsn);
    }

    fn note_row(&mut self, table: TableKind, row: u32) {
        let next = row.saturating_add(1);
        match table {
            TableKind::Profiles => self.next_profile_row = self.next_profile_row.max(next),
            TableKind::Events => self.next_event_row = self.next_event_row.max(next),
        }
    }
}

/// The `profile_id` cell that leads every event row.
fn profile_cell(profile: u32) -> (ColumnName, Value) {
    (
        ColumnName::Borrowed(EVENT_PROFILE_COLUMN),
        Value::Int64(i64::from(profile)),
    )
}

/// The mutation writing event `row`.
fn event_upsert(row: u32, values: Vec<(ColumnName, Value)>) -> Mutation {
    Mutation::Upsert {
        table: TableKind::Events,
        row,
        values,
    }
}

/// The next event row id, advancing the counter.
fn take_event_row(next_event: &mut u32) -> Result<u32> {
    let row = *next_event;
    *next_event = row.checked_add(1).ok_or(Error::RowIdsExhausted {
        table: TableKind::Events,
    })?;
    Ok(row)
}

fn validate_column_name(name: &str) -> Result<()> {
    let reason = if name.is_empty() {
        "column names cannot be empty"
    } else if name.len() > MAX_COLUMN_NAME_BYTES {
        "column names are limited to 1024 bytes"
    } else if name == EVENT_PROFILE_COLUMN {
        "`profile_id` is set by ProfileDB itself"
    } else {
        return Ok(());
    };
    Err(Error::InvalidColumnName {
        name: name.to_owned(),
        reason,
    })
}
