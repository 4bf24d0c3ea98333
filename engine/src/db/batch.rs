//! A group of writes committed atomically.

use crate::mutation::ColumnName;
use crate::value::Value;

/// One requested write, before validation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum WriteOp {
    UpsertProfile {
        profile: u32,
        attributes: Vec<(ColumnName, Value)>,
    },
    AppendEvent {
        profile: u32,
        attributes: Vec<(ColumnName, Value)>,
    },
    /// An event whose values the caller already fitted to the schema; the columns it adds
    /// are listed in [`WriteBatch::fitted_event_columns`].
    AppendFittedEvent {
        profile: u32,
        attributes: Vec<(ColumnName, Value)>,
    },
    DeleteProfile {
        profile: u32,
    },
    /// Re-points events to another profile (used by merges).
    MoveEvents {
        rows: Vec<u32>,
        to: u32,
    },
    /// Deletes a profile row but not its events (used by merges, after moving them).
    DeleteProfileRow {
        profile: u32,
    },
    /// Declares a column's type before any value is written to it.
    DefineColumn {
        table: crate::schema::TableKind,
        name: String,
        column_type: crate::value::ColumnType,
    },
}

/// Writes that commit together: all are applied, or none (one WAL record, one fsync).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WriteBatch {
    pub(crate) ops: Vec<WriteOp>,
    /// Events columns the batch's fitted events add, in order of first appearance.
    pub(crate) fitted_event_columns: Vec<(String, crate::value::ColumnType)>,
}

impl WriteBatch {
    /// An empty batch.
    #[must_use]
    pub fn new() -> Self {
        WriteBatch::default()
    }

    /// Sets attributes of a profile (creating it if new); other attributes keep their values.
    pub fn upsert_profile(&mut self, profile: u32, attributes: Vec<(String, Value)>) -> &mut Self {
        self.ops.push(WriteOp::UpsertProfile {
            profile,
            attributes: owned_names(attributes),
        });
        self
    }

    /// Appends an event of `profile` with the given attributes.
    pub fn append_event(&mut self, profile: u32, attributes: Vec<(String, Value)>) -> &mut Self {
        self.ops.push(WriteOp::AppendEvent {
            profile,
            attributes: owned_names(attributes),
        });
        self
    }

    /// Appends an event whose values were fitted to the events schema under the writer
    /// lock; the columns such events add must be passed to the batch with
    /// [`WriteBatch::set_fitted_event_columns`]. Saves checking every value twice. A first
    /// value named `profile_id` is a reserved place, set to `profile` where it stands.
    pub(crate) fn append_fitted_event(
        &mut self,
        profile: u32,
        attributes: Vec<(ColumnName, Value)>,
    ) {
        self.ops.push(WriteOp::AppendFittedEvent {
            profile,
            attributes,
        });
    }

    /// Records the events columns the batch's fitted events add, in order of first
    /// appearance among them.
    pub(crate) fn set_fitted_event_columns(
        &mut self,
        columns: Vec<(String, crate::value::ColumnType)>,
    ) {
        self.fitted_event_columns = columns;
    }

    /// Erases a profile and all its events (physically gone after the next compaction).
    pub fn delete_profile(&mut self, profile: u32) -> &mut Self {
        self.ops.push(WriteOp::DeleteProfile { profile });
        self
    }

    /// Declares a column of `table` with `column_type` (a no-op if it exists with that type).
    pub fn define_column(
        &mut self,
        table: crate::schema::TableKind,
        name: &str,
        column_type: crate::value::ColumnType,
    ) -> &mut Self {
        self.ops.push(WriteOp::DefineColumn {
            table,
            name: name.to_owned(),
            column_type,
        });
        self
    }

    /// Number of writes in the batch.
    #[must_use]
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether the batch holds no writes.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

/// What a committed batch did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteReceipt {
    /// WAL sequence number of the batch (0 for an empty batch).
    pub lsn: u64,
    /// Ids given to the batch's appended events, in order.
    pub event_rows: Vec<u32>,
}

impl WriteReceipt {
    /// The receipt of two batches committed one after the other (either may have written
    /// nothing): the later LSN, and the event rows of both in order.
    pub(crate) fn combine(
        first: Option<WriteReceipt>,
        second: Option<WriteReceipt>,
    ) -> Option<WriteReceipt> {
        match (first, second) {
            (Some(mut first), Some(second)) => {
                first.lsn = second.lsn;
                first.event_rows.extend(second.event_rows);
                Some(first)
            }
            (first, second) => first.or(second),
        }
    }
}

/// The attributes with their names as [`ColumnName`]s. The two pair types have the same
/// layout, so the vector is converted in place.
fn owned_names(attributes: Vec<(String, Value)>) -> Vec<(ColumnName, Value)> {
    attributes
        .into_iter()
        .map(|(name, value)| (ColumnName::Owned(name), value))
        .collect()
}
