//! Writes converted rows in batches; a batch is acknowledged when `Database::write` returns.

use super::plan::{Row, RowKind};
use super::progress::Progress;
use super::rejects::Rejects;
use crate::error::ToolError;
use profiledb::{ColumnType, Database, Error as EngineError, TableKind, WriteBatch};
use roaring::RoaringBitmap;

/// A row waiting for its batch.
struct Pending {
    line: u64,
    text: String,
    profile: u32,
    row: Row,
}

/// Batches rows of one table into `Database::write` calls.
pub(crate) struct BatchWriter<'d> {
    db: &'d Database,
    kind: RowKind,
    batch_size: usize,
    pending: Vec<Pending>,
    next_id: u32,
    deleted: RoaringBitmap,
    imported: u64,
}

impl<'d> BatchWriter<'d> {
    pub(crate) fn new(db: &'d Database, kind: RowKind, batch_size: usize) -> Self {
        BatchWriter {
            db,
            kind,
            batch_size: batch_size.max(1),
            pending: Vec::new(),
            next_id: db.next_profile_id(),
            deleted: db.snapshot().deleted_rows(TableKind::Profiles).clone(),
            imported: 0,
        }
    }

    /// Rows acknowledged so far.
    pub(crate) fn imported(&self) -> u64 {
        self.imported
    }

    /// Declares the attribute columns with their types before any row is written, so a column
    /// whose first values are empty still gets the type of the data.
    pub(crate) fn define_columns<'c>(
        &self,
        columns: impl Iterator<Item = (&'c str, ColumnType)>,
    ) -> Result<(), ToolError> {
        let table = match self.kind {
            RowKind::Profiles => TableKind::Profiles,
            RowKind::Events => TableKind::Events,
        };
        let mut batch = WriteBatch::new();
        for (name, column_type) in columns {
            batch.define_column(table, name, column_type);
        }
        self.db
            .write(&batch)
            .map(drop)
            .map_err(ToolError::engine("defining the columns"))
    }

    /// Queues a row, writing a batch when enough are queued.
    pub(crate) fn push(
        &mut self,
        line: u64,
        text: &str,
        row: Row,
        rejects: &mut Rejects,
        progress: &Progress,
    ) -> Result<(), ToolError> {
        if let Err(reason) = check_profile(&self.deleted, &row) {
            return rejects.reject(line, text, &reason);
        }
        let profile = row.key.unwrap_or_else(|| {
            let id = self.next_id;
            self.next_id = self.next_id.saturating_add(1);
            id
        });
        self.pending.push(Pending {
            line,
            text: text.to_owned(),
            profile,
            row,
        });
        if self.pending.len() >= self.batch_size {
            self.flush(rejects)?;
            progress.set(self.imported);
        }
        Ok(())
    }

    /// Writes the queued rows as one batch. If the engine refuses the batch because of a row
    /// (a type or id it will not take), each row is retried alone and only the refused ones
    /// are rejected.
    pub(crate) fn flush(&mut self, rejects: &mut Rejects) -> Result<(), ToolError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending);
        let mut batch = WriteBatch::new();
        for p in &pending {
            self.add(&mut batch, p);
        }
        match self.db.write(&batch) {
            Ok(_) => {
                self.imported += pending.len() as u64;
                Ok(())
            }
            Err(error) if is_row_error(&error) => self.write_one_by_one(&pending, rejects),
            Err(error) => Err(ToolError::engine("writing a batch")(error)),
        }
    }

    fn add(&self, batch: &mut WriteBatch, pending: &Pending) {
        let attributes = pending.row.attributes.clone();
        match self.kind {
            RowKind::Profiles => batch.upsert_profile(pending.profile, attributes),
            RowKind::Events => batch.append_event(pending.profile, attributes),
        };
    }

    fn write_one_by_one(
        &mut self,
        pending: &[Pending],
        rejects: &mut Rejects,
    ) -> Result<(), ToolError> {
        for p in pending {
            let mut batch = WriteBatch::new();
            self.add(&mut batch, p);
            match self.db.write(&batch) {
                Ok(_) => self.imported += 1,
                Err(error) if is_row_error(&error) => {
                    rejects.reject(p.line, &p.text, &error.to_string())?
                }
                Err(error) => return Err(ToolError::engine("writing a row")(error)),
            }
        }
        Ok(())
    }
}

/// A deleted profile cannot be written again (nor get events).
pub(crate) fn check_profile(deleted: &RoaringBitmap, row: &Row) -> Result<(), String> {
    match row.key {
        Some(id) if deleted.contains(id) => Err(format!(
            "profile {id} was deleted and cannot be written again"
        )),
        _ => Ok(()),
    }
}

/// Errors caused by the content of a row, not by the database.
fn is_row_error(error: &EngineError) -> bool {
    matches!(
        error,
        EngineError::TypeMismatch(_)
            | EngineError::RowDeleted { .. }
            | EngineError::InvalidColumnName { .. }
    )
}
