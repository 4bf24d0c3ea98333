//! The database: one writer, many readers, durable through the WAL.
//!
//! Writes are validated and logged under the writer lock, applied to the in-memory head, and
//! then wait for durability outside the lock so one fsync serves many writers (group commit).
//! Readers take a [`Snapshot`]: a pointer to an immutable [`Version`] swapped in atomically.

mod background;
mod batch;
mod bulk;
#[cfg(test)]
mod bulk_tests;
mod compaction;
#[cfg(test)]
mod compaction_tests;
mod flush;
#[cfg(test)]
mod followup_tests;
mod identity_checkpoint;
mod open;
mod writer;
#[cfg(test)]
mod writer_flush_tests;

pub(crate) use batch::WriteOp;
pub use batch::{WriteBatch, WriteReceipt};
pub(crate) use bulk::schema_problem;
pub use bulk::{BulkLoadError, BulkLoader};
pub use open::{LOCK_FILE, WAL_DIR};
pub use writer::{EVENT_PROFILE_COLUMN, MAX_COLUMN_NAME_BYTES};

use crate::error::{Error, Result};
use crate::identity::IdentityGraph;
use crate::io::{LockGuard, Storage};
use crate::manifest::Manifest;
use crate::memtable::MemLayer;
use crate::mutation::IdentityChange;
use crate::options::Options;
use crate::scan::{filter, Predicate};
use crate::schema::TableKind;
use crate::schema::TableSchema;
use crate::snapshot::{Snapshot, Version};
use crate::value::Value;
use crate::wal::{RecoveryReport, Wal};
use background::Worker;
use parking_lot::{Mutex, RwLock};
use roaring::RoaringBitmap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use writer::WriterState;

/// Sealed memory layers merged at a time: when this many layers of one level end the list,
/// they become one layer a level up. Each cell is then copied about log4(seals) times before
/// the flush, and at most three layers wait at each level. (Merging whenever the newest layer
/// neared the size of the one before kept fewer layers, but copied each cell three to four
/// times as often during a bulk load.)
const LAYERS_PER_MERGE: usize = 4;

/// How many flush thresholds of memory writers may hold before one flushes on its own time
/// rather than wait for the background worker.
const WRITER_FLUSH_FACTOR: usize = 4;

/// Shared state behind a [`Database`] handle and its background worker.
pub(crate) struct Inner {
    storage: Arc<dyn Storage>,
    dir: PathBuf,
    options: Options,
    wal: Wal,
    writer: Mutex<WriterState>,
    current: RwLock<Arc<Version>>,
    unpublished: AtomicBool,
    maintenance: Mutex<Manifest>,
    background_error: Mutex<Option<Error>>,
    /// Set when a write failed after changing the identity graph in memory: memory then
    /// holds what the log does not, so no later write may build on it (reopening recovers
    /// the logged state).
    write_failure: Mutex<Option<String>>,
    doorbell: Arc<background::Doorbell>,
    recovery: RecoveryReport,
    _lock: LockGuard,
}

/// An open ProfileDB database.
pub struct Database {
    inner: Arc<Inner>,
    worker: Option<Worker>,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("dir", &self.inner.dir)
            .finish_non_exhaustive()
    }
}

/// Sizes and counts describing a database, for operators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseStats {
    /// Live profiles.
    pub profiles: u64,
    /// Live events.
    pub events: u64,
    /// Segment files per table: (table, count, total bytes).
    pub segments: Vec<(TableKind, usize, u64)>,
    /// Bytes of WAL files on disk.
    pub wal_bytes: u64,
    /// Approximate bytes held in the in-memory head.
    pub memory_bytes: usize,
}

impl Database {
    /// Opens (or creates, per `options`) the database in `dir` on the real file system.
    ///
    /// # Errors
    /// I/O errors, a held lock, damaged files (naming file and offset), or a missing database
    /// when `create_if_missing` is off.
    pub fn open(dir: impl AsRef<Path>, options: Options) -> Result<Database> {
        Database::open_with_storage(Arc::new(crate::io::FsStorage), dir, options)
    }

    /// Opens the database in `dir` through `storage` (used by tests to inject faults).
    ///
    /// # Errors
    /// As [`Database::open`].
    pub fn open_with_storage(
        storage: Arc<dyn Storage>,
        dir: impl AsRef<Path>,
        options: Options,
    ) -> Result<Database> {
        let inner = Arc::new(open::open(storage, dir.as_ref(), options)?);
        let worker = Worker::start(&inner);
        Ok(Database {
            inner,
            worker: Some(worker),
        })
    }

    /// What recovery found when the database was opened (torn WAL tail, salvaged records).
    #[must_use]
    pub fn recovery_report(&self) -> &RecoveryReport {
        &self.inner.recovery
    }

    /// The directory the database lives in.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Commits `batch` atomically; returns once it is as durable as the sync mode promises.
    ///
    /// # Errors
    /// Type mismatches, writes to deleted profiles, invalid column names (nothing of the batch
    /// is applied), or I/O errors (the database then refuses further writes).
    pub fn write(&self, batch: &WriteBatch) -> Result<WriteReceipt> {
        self.inner.write(batch)
    }

    /// Sets attributes of one profile (creating it if new).
    ///
    /// # Errors
    /// As [`Database::write`].
    pub fn upsert_profile(
        &self,
        profile: u32,
        attributes: Vec<(String, Value)>,
    ) -> Result<WriteReceipt> {
        let mut batch = WriteBatch::new();
        batch.upsert_profile(profile, attributes);
        self.write(&batch)
    }

    /// Appends one event of `profile`; returns the event's row id.
    ///
    /// # Errors
    /// As [`Database::write`].
    pub fn append_event(&self, profile: u32, attributes: Vec<(String, Value)>) -> Result<u32> {
        let mut batch = WriteBatch::new();
        batch.append_event(profile, attributes);
        let receipt = self.write(&batch)?;
        Ok(receipt.event_rows.first().copied().unwrap_or_default())
    }

    /// Erases a profile and its events; their bytes leave the files at the next compaction.
    ///
    /// # Errors
    /// As [`Database::write`].
    pub fn delete_profile(&self, profile: u32) -> Result<WriteReceipt> {
        let mut batch = WriteBatch::new();
        batch.delete_profile(profile);
        self.write(&batch)
    }

    /// Merges profile `absorbed` into `survivor`: the survivor keeps its values and takes the
    /// absorbed profile's values for attributes it lacks; the absorbed profile's events move
    /// to the survivor; the absorbed profile is then deleted. All in one atomic batch.
    /// Merging a profile into itself changes nothing.
    ///
    /// # Errors
    /// As [`Database::write`].
    pub fn merge_profiles(&self, survivor: u32, absorbed: u32) -> Result<WriteReceipt> {
        self.inner.merge_profiles(survivor, absorbed)
    }

    /// A consistent read view including every write acknowledged so far.
    #[must_use]
    pub fn snapshot(&self) -> Snapshot {
        self.inner.snapshot()
    }

    /// A profile id never used before in this database.
    #[must_use]
    pub fn next_profile_id(&self) -> u32 {
        self.inner.writer.lock().next_profile_row
    }

    /// Writes the in-memory head to segment files and drops WAL files it covers, except
    /// those kept for the identity graph until its next snapshot is due.
    ///
    /// # Errors
    /// I/O errors; the data stays in memory and in the WAL.
    pub fn flush(&self) -> Result<()> {
        flush::flush(&self.inner, flush::GraphSnapshot::WhenDue)
    }

    /// Flushes (writing the identity graph's snapshot if WAL is kept for it, so no WAL file
    /// outlives the call), then rewrites each table's segments into one, dropping deleted
    /// rows' bytes.
    ///
    /// # Errors
    /// I/O errors or corruption found in an input segment; the old segments stay in force.
    pub fn compact(&self) -> Result<()> {
        compaction::compact(&self.inner)
    }

    /// Counts and sizes for operators.
    ///
    /// # Errors
    /// I/O errors reading WAL sizes.
    pub fn stats(&self) -> Result<DatabaseStats> {
        self.inner.stats()
    }

    /// Makes everything acknowledged durable, stops background work and closes the database.
    ///
    /// # Errors
    /// An error from a background flush or compaction, or from the final WAL sync.
    pub fn close(mut self) -> Result<()> {
        if let Some(worker) = self.worker.take() {
            worker.stop();
        }
        self.inner.wal.sync()?;
        match self.inner.background_error.lock().take() {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}

/// What a batch builder sees under the writer lock (see [`Database::write_with`]).
pub(crate) struct WriteContext<'a> {
    /// The identity graph, to be changed by the builder alongside the batch it returns.
    pub graph: &'a mut IdentityGraph,
    /// Every write applied so far.
    pub snapshot: &'a Snapshot,
    /// Current profiles schema (the batch's values must fit it).
    pub profiles_schema: &'a TableSchema,
    /// Current events schema.
    pub events_schema: &'a TableSchema,
    /// The first profile row id never used.
    pub next_profile_row: u32,
    /// Deleted profile rows (they can never be written again).
    pub deleted_profiles: &'a RoaringBitmap,
}

/// What a batch builder returns (see [`Database::write_with`]).
pub(crate) struct BuiltBatch<T> {
    /// Row writes, validated like any batch.
    pub batch: WriteBatch,
    /// Identity changes logged ahead of the rows.
    pub identity: Vec<IdentityChange>,
    /// Event rows erased (by an operator split); appended after the batch's own mutations.
    pub deleted_events: Vec<u32>,
    /// Returned to the caller.
    pub value: T,
}

impl<T> BuiltBatch<T> {
    /// A build that writes nothing and returns `value`.
    pub fn nothing(value: T) -> Self {
        BuiltBatch {
            batch: WriteBatch::new(),
            identity: Vec::new(),
            deleted_events: Vec::new(),
            value,
        }
    }
}

impl Database {
    /// Builds a batch under the writer lock and commits it atomically with identity changes.
    ///
    /// `build` may change the identity graph; it must then return a batch that validates,
    /// because the graph change cannot be undone (the database reports the error and the
    /// in-memory graph stays ahead of the log until reopened).
    pub(crate) fn write_with<T>(
        &self,
        build: impl FnOnce(&mut WriteContext<'_>) -> Result<BuiltBatch<T>>,
    ) -> Result<(WriteReceipt, T)> {
        self.inner.write_with(
            build,
            |out, _| Ok(BuiltBatch::nothing(out)),
            SealBetween::No,
        )
    }

    /// [`Database::write_with`], then `followup` under the same writer lock: it receives what
    /// `build` returned once that batch is logged and applied, and its own batch is logged as
    /// a second WAL record. So work that `build` started on another thread can run while the
    /// first batch is logged and applied. No reader sees one batch without the other (both
    /// are applied before the next publish), but a crash between the two records keeps only
    /// the first: the second may hold only what the layer above rebuilds when it opens.
    /// `followup` sees the snapshot of before both batches.
    pub(crate) fn write_with_followup<T, U>(
        &self,
        build: impl FnOnce(&mut WriteContext<'_>) -> Result<BuiltBatch<T>>,
        followup: impl FnOnce(T, &mut WriteContext<'_>) -> Result<BuiltBatch<U>>,
    ) -> Result<(WriteReceipt, U)> {
        self.inner.write_with(build, followup, SealBetween::Yes)
    }

    /// Runs `f` on the identity graph under the writer lock.
    pub(crate) fn with_graph<T>(&self, f: impl FnOnce(&IdentityGraph) -> T) -> T {
        f(&self.inner.writer.lock().graph)
    }

    /// The storage the database writes through.
    pub(crate) fn storage(&self) -> &Arc<dyn Storage> {
        &self.inner.storage
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Some(worker) = self.worker.take() {
            worker.stop();
        }
        // Best effort: a caller who needs the error uses `close`.
        let _ = self.inner.wal.sync();
    }
}

impl Inner {
    /// The error that stops a write before it starts: a background failure (reported once)
    /// or an earlier write that left memory ahead of the log (reported until reopened).
    fn check_writable(&self) -> Result<()> {
        if let Some(error) = self.background_error.lock().take() {
            return Err(error);
        }
        self.check_no_failed_write()
    }

    /// [`Error::Closed`] once a write left memory ahead of the log: writes and flushes (which
    /// would store the graph's unlogged links in a snapshot) must wait for a reopen.
    pub(super) fn check_no_failed_write(&self) -> Result<()> {
        match &*self.write_failure.lock() {
            Some(reason) => Err(Error::Closed {
                reason: reason.clone(),
            }),
            None => Ok(()),
        }
    }

    fn write(&self, batch: &WriteBatch) -> Result<WriteReceipt> {
        self.check_writable()?;
        if batch.is_empty() {
            return Ok(WriteReceipt {
                lsn: 0,
                event_rows: Vec::new(),
            });
        }
        let (lsn, event_rows) = {
            let mut writer = self.writer.lock();
            let needs_reads = batch
                .ops
                .iter()
                .any(|op| matches!(op, batch::WriteOp::DeleteProfile { .. }));
            if needs_reads {
                self.publish_locked(&mut writer);
            }
            let mut events_of = |profile: u32| self.events_of_profile(profile);
            let prepared = writer.prepare(batch.clone(), &mut events_of)?;
            let lsn = writer.encode_for_log(&prepared.batch, |payload| self.wal.append(payload))?;
            let event_rows = prepared.event_rows;
            writer.apply_prepared(lsn, prepared.batch, prepared.new_columns);
            self.unpublished.store(true, Ordering::Release);
            (lsn, event_rows)
        };
        self.wal.wait_durable(lsn)?;
        self.request_flush_if_full();
        Ok(WriteReceipt { lsn, event_rows })
    }

    fn write_with<T, U>(
        &self,
        build: impl FnOnce(&mut WriteContext<'_>) -> Result<BuiltBatch<T>>,
        followup: impl FnOnce(T, &mut WriteContext<'_>) -> Result<BuiltBatch<U>>,
        seal_between: SealBetween,
    ) -> Result<(WriteReceipt, U)> {
        self.check_writable()?;
        let (receipt, out) = {
            let mut guard = self.writer.lock();
            self.publish_locked(&mut guard);
            let graph_changes = guard.graph.changes;
            let logged = self
                .build_and_log(&mut guard, build)
                .and_then(|(first, out)| {
                    let ahead = (seal_between == SealBetween::Yes).then(|| {
                        let published = self.current.read().mem_layers.clone();
                        layers_with_builder(&mut guard, published)
                    });
                    let second = self.build_and_log(&mut guard, |context| followup(out, context));
                    if let Some(ahead) = ahead {
                        // Published whether the follow-up worked or not: the first batch is
                        // logged and applied, and its rows are no longer in the builder.
                        self.publish_with(&mut guard, Some(ahead));
                    }
                    let (second, out) = second?;
                    Ok((WriteReceipt::combine(first, second), out))
                });
            if let Err(error) = &logged {
                if guard.graph.changes != graph_changes {
                    *self.write_failure.lock() = Some(format!(
                        "a write failed after changing the identity graph in memory ({error}); \
                         reopen the database to continue from its log"
                    ));
                }
            }
            match logged? {
                (Some(receipt), out) => (receipt, out),
                (None, out) => {
                    let nothing = WriteReceipt {
                        lsn: 0,
                        event_rows: Vec::new(),
                    };
                    return Ok((nothing, out));
                }
            }
        };
        self.wal.wait_durable(receipt.lsn)?;
        self.request_flush_if_full();
        Ok((receipt, out))
    }

    /// Runs `build` under the writer lock, then logs the batch and applies it to the memory
    /// layer; no receipt when the build wrote nothing.
    fn build_and_log<T>(
        &self,
        writer: &mut WriterState,
        build: impl FnOnce(&mut WriteContext<'_>) -> Result<BuiltBatch<T>>,
    ) -> Result<(Option<WriteReceipt>, T)> {
        let snapshot = Snapshot::new(self.current.read().clone());
        let mut context = WriteContext {
            graph: &mut writer.graph,
            snapshot: &snapshot,
            profiles_schema: &writer.profiles_schema,
            events_schema: &writer.events_schema,
            next_profile_row: writer.next_profile_row,
            deleted_profiles: &writer.deleted_profiles,
        };
        let built = build(&mut context)?;
        let out = built.value;
        if built.batch.is_empty() && built.identity.is_empty() && built.deleted_events.is_empty() {
            return Ok((None, out));
        }
        let mut events_of = |profile: u32| self.events_of_profile(profile);
        let prepared = writer.prepare(built.batch, &mut events_of)?;
        let mut mutations = prepared.batch;
        mutations.identity = built.identity;
        mutations
            .mutations
            .extend(built.deleted_events.into_iter().map(|row| {
                crate::mutation::Mutation::Delete {
                    table: TableKind::Events,
                    row,
                }
            }));
        let lsn = writer.encode_for_log(&mutations, |payload| self.wal.append(payload))?;
        writer.apply_prepared(lsn, mutations, prepared.new_columns);
        self.unpublished.store(true, Ordering::Release);
        let receipt = WriteReceipt {
            lsn,
            event_rows: prepared.event_rows,
        };
        Ok((Some(receipt), out))
    }

    /// Event rows of `profile` in the latest published version.
    fn events_of_profile(&self, profile: u32) -> Result<Vec<u32>> {
        let snapshot = Snapshot::new(self.current.read().clone());
        if snapshot
            .schema(TableKind::Events)
            .column(EVENT_PROFILE_COLUMN)
            .is_none()
        {
            return Ok(Vec::new());
        }
        let predicate =
            Predicate::Compare(crate::scan::CompareOp::Eq, Value::Int64(i64::from(profile)));
        let (rows, _) = filter(
            &snapshot,
            TableKind::Events,
            EVENT_PROFILE_COLUMN,
            &predicate,
        )?;
        Ok(rows.iter().collect())
    }

    fn merge_profiles(&self, survivor: u32, absorbed: u32) -> Result<WriteReceipt> {
        if survivor == absorbed {
            // Already one profile: nothing to move, and deleting "the absorbed" would erase it.
            return Ok(WriteReceipt {
                lsn: 0,
                event_rows: Vec::new(),
            });
        }
        let mut batch = WriteBatch::new();
        {
            let mut writer = self.writer.lock();
            self.publish_locked(&mut writer);
            let snapshot = Snapshot::new(self.current.read().clone());
            let kept = snapshot
                .row(TableKind::Profiles, survivor)?
                .unwrap_or_default();
            let taken = snapshot
                .row(TableKind::Profiles, absorbed)?
                .unwrap_or_default();
            let fills: Vec<(String, Value)> = taken
                .into_iter()
                .filter(|(name, _)| !kept.iter().any(|(k, _)| k == name))
                .collect();
            batch.upsert_profile(survivor, fills);
            drop(writer);
            let moved = self.events_of_profile(absorbed)?;
            batch.ops.push(batch::WriteOp::MoveEvents {
                rows: moved,
                to: survivor,
            });
            batch
                .ops
                .push(batch::WriteOp::DeleteProfileRow { profile: absorbed });
        }
        self.write(&batch)
    }

    fn snapshot(&self) -> Snapshot {
        if self.unpublished.load(Ordering::Acquire) {
            let mut writer = self.writer.lock();
            self.publish_locked(&mut writer);
        }
        Snapshot::new(self.current.read().clone())
    }

    /// Seals the writer's head into a memory layer and publishes a new version.
    /// Called with the writer lock held, so versions are swapped by one thread at a time.
    fn publish_locked(&self, writer: &mut WriterState) {
        self.publish_with(writer, None);
    }

    /// [`Self::publish_locked`], starting from `ahead` (the memory layers as
    /// [`layers_with_builder`] made them earlier under the same lock) when given, else from
    /// the published ones.
    fn publish_with(&self, writer: &mut WriterState, ahead: Option<Vec<Arc<MemLayer>>>) {
        if !self.unpublished.load(Ordering::Acquire) {
            return;
        }
        let current = self.current.read().clone();
        let mut next = (*current).clone();
        let base = ahead.unwrap_or_else(|| std::mem::take(&mut next.mem_layers));
        next.mem_layers = layers_with_builder(writer, base);
        if next.profiles_schema.columns().len() != writer.profiles_schema.columns().len() {
            next.profiles_schema = Arc::new(writer.profiles_schema.clone());
        }
        if next.events_schema.columns().len() != writer.events_schema.columns().len() {
            next.events_schema = Arc::new(writer.events_schema.clone());
        }
        next.last_lsn = writer.last_applied_lsn;
        *self.current.write() = Arc::new(next);
        // Cleared only once the new version is visible: a reader that sees the flag down must
        // also see every write acknowledged before it (writes cannot interleave: we hold the
        // writer lock).
        self.unpublished.store(false, Ordering::Release);
    }

    /// Replaces the published version; called with the writer lock held.
    fn swap_version(&self, change: impl FnOnce(&mut Version)) {
        let mut next = (**self.current.read()).clone();
        change(&mut next);
        *self.current.write() = Arc::new(next);
    }

    fn memory_bytes(&self) -> usize {
        let version = self.current.read().clone();
        let sealed: usize = version
            .mem_layers
            .iter()
            .map(|l| l.approximate_bytes())
            .sum();
        sealed + self.writer.lock().builder.approximate_bytes()
    }

    /// Asks the background worker for a flush once memory holds a flush's worth; once it
    /// holds [`WRITER_FLUSH_FACTOR`] times that, the worker is far behind (it runs at low
    /// priority, and writers may keep every core busy), and this writer flushes on its own
    /// time, which bounds memory (waiting first for a compaction in progress). The write is
    /// already durable, so a failed flush is reported like a background one: by the next
    /// write.
    fn request_flush_if_full(&self) {
        let held = self.memory_bytes();
        let threshold = self.options.flush_threshold_bytes;
        if held >= threshold.saturating_mul(WRITER_FLUSH_FACTOR) {
            if let Err(error) = flush::flush(self, flush::GraphSnapshot::WhenDue) {
                *self.background_error.lock() = Some(error);
            }
        } else if held >= threshold {
            background::notify(self);
        }
    }

    fn stats(&self) -> Result<DatabaseStats> {
        let snapshot = self.snapshot();
        let segments = TableKind::ALL
            .into_iter()
            .map(|table| {
                let of_table: Vec<_> = snapshot
                    .segments()
                    .iter()
                    .filter(|s| s.table() == table)
                    .collect();
                (
                    table,
                    of_table.len(),
                    of_table.iter().map(|s| s.file_len()).sum(),
                )
            })
            .collect();
        Ok(DatabaseStats {
            profiles: snapshot.row_count(TableKind::Profiles),
            events: snapshot.row_count(TableKind::Events),
            segments,
            wal_bytes: self.wal.size_on_disk()?,
            memory_bytes: self.memory_bytes(),
        })
    }
}

/// `layers` with the builder's rows sealed into one more layer (when it has any), merged
/// as the levels require.
fn layers_with_builder(
    writer: &mut WriterState,
    mut layers: Vec<Arc<MemLayer>>,
) -> Vec<Arc<MemLayer>> {
    if !writer.builder.is_empty() {
        layers.push(Arc::new(writer.builder.seal()));
        merge_full_levels(&mut layers);
    }
    layers
}

/// Whether a write with a follow-up seals its first batch's rows into a memory layer before
/// running the follow-up. The follow-up often waits for work on another thread (computed
/// traits); sealing then uses that wait for work the next publish would otherwise do. Both
/// batches are published together at the end of the write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SealBetween {
    /// Seal the first batch before the follow-up runs (writes whose follow-up waits).
    Yes,
    /// Leave the first batch in the builder (plain writes: the follow-up writes nothing).
    No,
}

fn merge_full_levels(layers: &mut Vec<Arc<MemLayer>>) {
    while let Some(start) = layers.len().checked_sub(LAYERS_PER_MERGE) {
        let tail = &layers[start..];
        if tail.iter().any(|layer| layer.level() != tail[0].level()) {
            break;
        }
        let merged = MemLayer::merge_all(tail);
        layers.truncate(start);
        layers.push(Arc::new(merged));
    }
}
