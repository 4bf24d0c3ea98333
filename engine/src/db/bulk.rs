//! Bulk loading: builds a new database directory straight from rows, bypassing the write path.
//!
//! The write path (WAL record, memory layer of [`Value`] cells, flush, compaction) is built for
//! many small durable writes; loading millions of rows through it costs several copies and an
//! fsync per batch. [`BulkLoader`] instead streams rows into one segment per table (see
//! [`SegmentBuilder`]) and writes the manifest naming them last, so the directory becomes a
//! database only once everything is on disk: a load that fails or is killed before
//! [`BulkLoader::finish`] leaves no manifest, hence nothing that opens as a database. Each file
//! is synced once, at the end. The result is what compaction would produce: one segment per
//! table, no WAL, no deleted rows.
//!
//! Used by dump restore; any importer that can present whole rows in ascending profile-id
//! order can use it too.

use crate::error::Error;
use crate::io::{FsStorage, LockGuard, Storage};
use crate::manifest::{Manifest, SegmentEntry};
use crate::schema::{ColumnDef, TableKind, TableSchema};
use crate::segment::SegmentBuilder;
use crate::value::{ColumnType, Value};
use crate::{EVENT_PROFILE_COLUMN, LOCK_FILE, MAX_COLUMN_NAME_BYTES};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why a bulk load was refused or failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BulkLoadError {
    /// Bulk loading only creates new databases.
    #[error("bulk loading needs an empty directory, but {} holds `{entry}`", dir.display())]
    NotEmpty {
        /// The target directory.
        dir: PathBuf,
        /// One entry found in it.
        entry: String,
    },
    /// A schema the engine could not have produced.
    #[error("invalid {table} schema: {reason} (column {column:?})")]
    InvalidSchema {
        /// The table.
        table: TableKind,
        /// The offending column.
        column: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A row that does not fit its table's schema or order.
    #[error("invalid {table} row: {reason}")]
    InvalidRow {
        /// The table.
        table: TableKind,
        /// What is wrong with the row.
        reason: String,
    },
    /// More events than event row ids (2^32).
    #[error("too many events for one database")]
    TooManyEvents,
    /// An I/O or engine error while writing the files.
    #[error(transparent)]
    Engine(#[from] Error),
}

/// Builds a new database in an empty directory from rows given in ascending order.
pub struct BulkLoader {
    storage: Arc<dyn Storage>,
    dir: PathBuf,
    profiles_schema: TableSchema,
    events_schema: TableSchema,
    profiles: Option<SegmentBuilder>,
    events: Option<SegmentBuilder>,
    next_segment_id: u64,
    next_event_row: u64,
    finished: bool,
    _lock: LockGuard,
}

impl std::fmt::Debug for BulkLoader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BulkLoader")
            .field("dir", &self.dir)
            .field("events", &self.next_event_row)
            .finish_non_exhaustive()
    }
}

impl BulkLoader {
    /// Starts loading a database with these schemas into `dir`, which must be empty or absent.
    /// The events schema is empty or starts with the int64 column `profile_id`.
    ///
    /// # Errors
    /// [`BulkLoadError::NotEmpty`], [`BulkLoadError::InvalidSchema`], or I/O errors.
    pub fn create(
        dir: &Path,
        profiles: &[ColumnDef],
        events: &[ColumnDef],
    ) -> Result<BulkLoader, BulkLoadError> {
        let storage: Arc<dyn Storage> = Arc::new(FsStorage);
        check_schema(TableKind::Profiles, profiles)?;
        check_schema(TableKind::Events, events)?;
        ensure_empty(dir)?;
        storage
            .create_dir_all(dir)
            .map_err(Error::io("create directory", dir))?;
        let lock_path = dir.join(LOCK_FILE);
        let lock = storage
            .lock(&lock_path)
            .map_err(Error::io("lock", &lock_path))?;
        Ok(BulkLoader {
            storage,
            dir: dir.to_path_buf(),
            profiles_schema: schema_of(profiles),
            events_schema: schema_of(events),
            profiles: None,
            events: None,
            next_segment_id: 0,
            next_event_row: 0,
            finished: false,
            _lock: lock,
        })
    }

    /// Adds profile `id` with one value (or NULL) per profiles column; ids must ascend.
    ///
    /// # Errors
    /// [`BulkLoadError::InvalidRow`] (nothing is added), or I/O errors.
    pub fn push_profile(&mut self, id: u32, values: &[Value]) -> Result<(), BulkLoadError> {
        let builder = self.builder(TableKind::Profiles)?;
        builder
            .push_row(id, values)
            .map_err(|e| invalid_row(TableKind::Profiles, e))
    }

    /// Appends an event with one value (or NULL) per events column, `profile_id` first;
    /// returns its row id (events are numbered from 0 in the order given).
    ///
    /// # Errors
    /// [`BulkLoadError::InvalidRow`] (nothing is added), [`BulkLoadError::TooManyEvents`], or
    /// I/O errors.
    pub fn push_event(&mut self, values: &[Value]) -> Result<u32, BulkLoadError> {
        let row = u32::try_from(self.next_event_row).map_err(|_| BulkLoadError::TooManyEvents)?;
        let owner_is_valid =
            matches!(values.first(), Some(Value::Int64(p)) if u32::try_from(*p).is_ok());
        if !owner_is_valid {
            return Err(BulkLoadError::InvalidRow {
                table: TableKind::Events,
                reason: format!("event {row} has no valid `{EVENT_PROFILE_COLUMN}`"),
            });
        }
        let builder = self.builder(TableKind::Events)?;
        builder
            .push_row(row, values)
            .map_err(|e| invalid_row(TableKind::Events, e))?;
        self.next_event_row += 1;
        Ok(row)
    }

    /// The segment builder of `table`, created on its first row.
    fn builder(&mut self, table: TableKind) -> Result<&mut SegmentBuilder, BulkLoadError> {
        let (slot, schema) = match table {
            TableKind::Profiles => (&mut self.profiles, &self.profiles_schema),
            TableKind::Events => (&mut self.events, &self.events_schema),
        };
        if slot.is_none() {
            let id = self.next_segment_id;
            self.next_segment_id += 1;
            *slot = Some(SegmentBuilder::create(
                Arc::clone(&self.storage),
                &self.dir,
                id,
                table,
                schema.columns(),
            )?);
        }
        Ok(slot.as_mut().expect("created just above"))
    }

    /// Writes the segments, then the manifest naming them, and syncs the directory: the
    /// directory is a complete database from this point on.
    ///
    /// # Errors
    /// I/O errors; the directory then holds no manifest and no finished segment.
    pub fn finish(mut self) -> Result<(), BulkLoadError> {
        let mut manifest = Manifest {
            next_segment_id: self.next_segment_id,
            next_event_row: u32::try_from(self.next_event_row).unwrap_or(u32::MAX),
            profiles_schema: self.profiles_schema.clone(),
            events_schema: self.events_schema.clone(),
            ..Manifest::default()
        };
        let mut written = Vec::new();
        for (table, builder) in [
            (TableKind::Profiles, self.profiles.take()),
            (TableKind::Events, self.events.take()),
        ] {
            if let Some(builder) = builder {
                let id = builder.id();
                let (path, _) = builder.finish(0)?;
                written.push(path);
                manifest.segments.push(SegmentEntry { id, table });
            }
        }
        let stored = manifest.store(self.storage.as_ref(), &self.dir);
        if let Err(error) = stored {
            for path in written {
                let _ = self.storage.remove(&path);
            }
            return Err(error.into());
        }
        self.finished = true;
        Ok(())
    }
}

impl Drop for BulkLoader {
    fn drop(&mut self) {
        if !self.finished {
            // Unfinished builders remove their own files; the lock file goes too, so the
            // directory is left as empty as it was found.
            self.profiles = None;
            self.events = None;
            let _ = self.storage.remove(&self.dir.join(LOCK_FILE));
        }
    }
}

fn invalid_row(table: TableKind, error: Error) -> BulkLoadError {
    match error {
        Error::Corrupt { reason, .. } => BulkLoadError::InvalidRow { table, reason },
        other => BulkLoadError::Engine(other),
    }
}

fn schema_of(columns: &[ColumnDef]) -> TableSchema {
    let mut schema = TableSchema::default();
    for column in columns {
        schema.add_column(&column.name, column.column_type);
    }
    schema
}

/// Refuses a directory holding anything (a missing directory is fine).
fn ensure_empty(dir: &Path) -> Result<(), BulkLoadError> {
    let mut entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io("list directory", dir)(e).into()),
    };
    match entries.next() {
        None => Ok(()),
        Some(entry) => {
            let entry = entry.map_err(Error::io("list directory", dir))?;
            Err(BulkLoadError::NotEmpty {
                dir: dir.to_path_buf(),
                entry: entry.file_name().to_string_lossy().into_owned(),
            })
        }
    }
}

/// Why `columns` could not be the schema of `table`, if they could not: the rules the write
/// path enforces as columns are added.
pub(crate) fn schema_problem(
    table: TableKind,
    columns: &[ColumnDef],
) -> Option<(usize, &'static str)> {
    let mut seen = HashSet::new();
    columns.iter().enumerate().find_map(|(index, column)| {
        let is_owner = table == TableKind::Events && index == 0;
        let reason = if column.name.is_empty() || column.name.len() > MAX_COLUMN_NAME_BYTES {
            "a column name is empty or too long"
        } else if !seen.insert(column.name.as_str()) {
            "a column is listed twice"
        } else if is_owner
            && (column.name != EVENT_PROFILE_COLUMN || column.column_type != ColumnType::Int64)
        {
            "the events schema must start with the int64 column `profile_id`"
        } else if !is_owner && column.name == EVENT_PROFILE_COLUMN {
            "`profile_id` may only be the first events column"
        } else {
            return None;
        };
        Some((index, reason))
    })
}

fn check_schema(table: TableKind, columns: &[ColumnDef]) -> Result<(), BulkLoadError> {
    match schema_problem(table, columns) {
        Some((index, reason)) => Err(BulkLoadError::InvalidSchema {
            table,
            column: columns[index].name.clone(),
            reason,
        }),
        None => Ok(()),
    }
}
