//! [`LiveDatabase`]: a database whose segments stay live, and the [`SegmentStore`] that makes
//! `CREATE SEGMENT`, `DROP SEGMENT`, `SHOW SEGMENTS` and `FROM segment` use them.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use profiledb_engine::io::{FsStorage, Storage};
use profiledb_engine::message::Message;
use profiledb_engine::wal::WalOptions;
use profiledb_engine::{
    ColumnType, Database, IngestReport, Options, Profiles, ProfilesError, ProfilesOptions,
    TableKind, Value, WriteBatch, WriteReceipt,
};
use roaring::RoaringBitmap;

use super::error::LiveError;
use super::explain::Explanation;
use super::feed::Change;
use super::manager::{LiveSegments, UpkeepReport};
use crate::engine_catalog::SnapshotCatalog;
use crate::error::QueryError;
use crate::result::StatementOutcome;
use crate::segment::{SegmentDefinition, SegmentStore};
use crate::session::Session;

/// A [`WriteBatch`] that also notes which profiles it touches (the engine's batch does not
/// say), so live segments re-evaluate exactly those.
#[derive(Debug, Clone, Default)]
pub struct LiveBatch {
    batch: WriteBatch,
    touched: RoaringBitmap,
}

impl LiveBatch {
    /// An empty batch.
    #[must_use]
    pub fn new() -> Self {
        LiveBatch::default()
    }

    /// See [`WriteBatch::upsert_profile`].
    pub fn upsert_profile(&mut self, profile: u32, attributes: Vec<(String, Value)>) -> &mut Self {
        self.batch.upsert_profile(profile, attributes);
        self.touched.insert(profile);
        self
    }

    /// See [`WriteBatch::append_event`].
    pub fn append_event(&mut self, profile: u32, attributes: Vec<(String, Value)>) -> &mut Self {
        self.batch.append_event(profile, attributes);
        self.touched.insert(profile);
        self
    }

    /// See [`WriteBatch::delete_profile`].
    pub fn delete_profile(&mut self, profile: u32) -> &mut Self {
        self.batch.delete_profile(profile);
        self.touched.insert(profile);
        self
    }

    /// See [`WriteBatch::define_column`] (touches no profile).
    pub fn define_column(
        &mut self,
        table: TableKind,
        name: &str,
        column_type: ColumnType,
    ) -> &mut Self {
        self.batch.define_column(table, name, column_type);
        self
    }

    /// The profiles the batch writes.
    #[must_use]
    pub fn touched(&self) -> &RoaringBitmap {
        &self.touched
    }

    /// The engine batch.
    #[must_use]
    pub fn batch(&self) -> &WriteBatch {
        &self.batch
    }

    /// Number of writes in the batch.
    #[must_use]
    pub fn len(&self) -> usize {
        self.batch.len()
    }

    /// Whether the batch holds no writes.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.batch.is_empty()
    }
}

/// Where the live clock comes from.
#[derive(Debug, Clone, Copy)]
enum ClockSource {
    System,
    Pinned(i64),
}

/// What a [`LiveDatabase`] reads and writes: a plain database, or a profiles database (which
/// owns one) when computed traits are wanted.
#[derive(Debug)]
pub(super) enum Store {
    /// Rows written directly.
    Plain(Database),
    /// Messages ingested with identity resolution and computed traits.
    Profiles(Box<Profiles>),
}

impl std::ops::Deref for Store {
    type Target = Database;

    fn deref(&self) -> &Database {
        match self {
            Store::Plain(db) => db,
            Store::Profiles(profiles) => profiles.database(),
        }
    }
}

/// A database plus its live segments: every write is followed by segment upkeep.
pub struct LiveDatabase {
    pub(super) db: Arc<Store>,
    pub(super) live: Arc<Mutex<LiveSegments>>,
    clock: Mutex<ClockSource>,
}

impl std::fmt::Debug for LiveDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveDatabase")
            .field("db", &self.db)
            .finish_non_exhaustive()
    }
}

pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave a half-applied change behind (changes are
    // applied after they are logged), so the data is still usable.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The system clock in microseconds since the epoch.
fn system_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

impl LiveDatabase {
    /// Opens the database in `dir` and its live segments (in `dir/segments`).
    ///
    /// # Errors
    /// As [`Database::open`] and [`LiveSegments::open`].
    pub fn open(dir: impl AsRef<Path>, options: Options) -> Result<LiveDatabase, LiveError> {
        LiveDatabase::open_with_storage(Arc::new(FsStorage), dir, options, None)
    }

    /// Opens with the clock pinned at `now` (or at the segment log's clock, if later), for
    /// simulations and tests; see [`LiveDatabase::advance_clock`].
    ///
    /// # Errors
    /// As [`LiveDatabase::open`].
    pub fn open_pinned(
        dir: impl AsRef<Path>,
        options: Options,
        now: i64,
    ) -> Result<LiveDatabase, LiveError> {
        LiveDatabase::open_with_storage(Arc::new(FsStorage), dir, options, Some(now))
    }

    /// Opens through `storage` (used by tests to inject faults); `pinned` as in
    /// [`LiveDatabase::open_pinned`], `None` follows the system clock.
    ///
    /// # Errors
    /// As [`LiveDatabase::open`].
    pub fn open_with_storage(
        storage: Arc<dyn Storage>,
        dir: impl AsRef<Path>,
        options: Options,
        pinned: Option<i64>,
    ) -> Result<LiveDatabase, LiveError> {
        let wal_options = wal_options(&options);
        let db = Database::open_with_storage(Arc::clone(&storage), dir.as_ref(), options)?;
        LiveDatabase::with_store(storage, Store::Plain(db), wal_options, pinned)
    }

    /// Opens the profiles database in `dir` with its live segments: besides everything
    /// [`LiveDatabase::open`] offers, `CREATE TRAIT`, `DROP TRAIT` and `SHOW TRAITS` work, and
    /// [`LiveDatabase::profiles`] ingests messages.
    ///
    /// # Errors
    /// As [`Profiles::open`] and [`LiveSegments::open`].
    pub fn open_profiles(
        dir: impl AsRef<Path>,
        options: Options,
        profiles: ProfilesOptions,
    ) -> Result<LiveDatabase, LiveError> {
        let wal_options = wal_options(&options);
        let profiles = Profiles::open(dir, options, profiles)?;
        LiveDatabase::with_store(
            Arc::new(FsStorage),
            Store::Profiles(Box::new(profiles)),
            wal_options,
            None,
        )
    }

    fn with_store(
        storage: Arc<dyn Storage>,
        store: Store,
        wal_options: WalOptions,
        pinned: Option<i64>,
    ) -> Result<LiveDatabase, LiveError> {
        let snapshot = store.snapshot();
        let start = pinned.unwrap_or_else(system_now);
        let live = LiveSegments::open(storage, store.dir(), wal_options, &snapshot, start)?;
        drop(snapshot);
        let clock = match pinned {
            Some(now) => ClockSource::Pinned(now.max(live.clock())),
            None => ClockSource::System,
        };
        Ok(LiveDatabase {
            db: Arc::new(store),
            live: Arc::new(Mutex::new(live)),
            clock: Mutex::new(clock),
        })
    }

    /// The profiles database, when opened with [`LiveDatabase::open_profiles`]. Messages
    /// ingested through it directly bypass segment upkeep until the database is opened again
    /// (which reconciles); [`LiveDatabase::ingest`] keeps segments current instead.
    #[must_use]
    pub fn profiles(&self) -> Option<&Profiles> {
        match &*self.db {
            Store::Profiles(profiles) => Some(&**profiles),
            Store::Plain(_) => None,
        }
    }

    /// The underlying database, for reads (writes made directly bypass segment upkeep).
    #[must_use]
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// The current time: the pinned clock, or the system clock.
    #[must_use]
    pub fn now(&self) -> i64 {
        match *lock(&self.clock) {
            ClockSource::System => system_now(),
            ClockSource::Pinned(at) => at,
        }
    }

    /// Pins the clock to `now` (never before the live clock) and processes the time edges
    /// passed on the way.
    ///
    /// # Errors
    /// As [`LiveSegments::advance_clock`].
    pub fn advance_clock(&self, now: i64) -> Result<UpkeepReport, LiveError> {
        let mut live = lock(&self.live);
        let now = now.max(live.clock());
        *lock(&self.clock) = ClockSource::Pinned(now);
        live.advance_clock(&self.db.snapshot(), now)
    }

    /// Follows the system clock again from now on.
    pub fn use_system_clock(&self) {
        *lock(&self.clock) = ClockSource::System;
    }

    /// Processes the time edges up to the current time.
    ///
    /// # Errors
    /// As [`LiveSegments::advance_clock`].
    pub fn tick(&self) -> Result<UpkeepReport, LiveError> {
        let now = self.now();
        lock(&self.live).advance_clock(&self.db.snapshot(), now)
    }

    /// Commits `batch` and brings every segment up to date for the profiles it touched.
    ///
    /// # Errors
    /// Database errors (nothing written, no upkeep) or upkeep errors (written; the next open
    /// reconciles).
    pub fn write(&self, batch: &LiveBatch) -> Result<(WriteReceipt, UpkeepReport), LiveError> {
        self.write_touching(&batch.batch, &batch.touched)
    }

    /// Commits an engine batch whose touched profiles the caller lists.
    ///
    /// # Errors
    /// As [`LiveDatabase::write`].
    pub fn write_touching(
        &self,
        batch: &WriteBatch,
        touched: &RoaringBitmap,
    ) -> Result<(WriteReceipt, UpkeepReport), LiveError> {
        self.write_then_upkeep(|db| Ok((db.write(batch)?, touched.clone())))
    }

    /// Ingests Segment-spec messages (see [`Profiles::ingest`]), then brings every segment up
    /// to date for the profiles they touched: those written, merged or absorbed.
    ///
    /// # Errors
    /// [`LiveError::NotProfiles`] for a database not opened with
    /// [`LiveDatabase::open_profiles`]; otherwise as [`Profiles::ingest`] (nothing written, no
    /// upkeep) or upkeep errors (written; the next open reconciles).
    pub fn ingest(&self, messages: &[Message]) -> Result<(IngestReport, UpkeepReport), LiveError> {
        self.ingest_with(|profiles| profiles.ingest(messages))
    }

    /// Parses and ingests NDJSON message lines (see [`Profiles::ingest_lines`]), then upkeep
    /// as [`LiveDatabase::ingest`].
    ///
    /// # Errors
    /// As [`LiveDatabase::ingest`].
    pub fn ingest_lines<S: AsRef<str> + Sync>(
        &self,
        lines: &[S],
    ) -> Result<(IngestReport, UpkeepReport), LiveError> {
        self.ingest_with(|profiles| profiles.ingest_lines(lines))
    }

    fn ingest_with(
        &self,
        ingest: impl FnOnce(&Profiles) -> Result<IngestReport, ProfilesError>,
    ) -> Result<(IngestReport, UpkeepReport), LiveError> {
        let Store::Profiles(profiles) = &*self.db else {
            return Err(LiveError::NotProfiles);
        };
        self.write_then_upkeep(|_| {
            let report = ingest(profiles)?;
            let touched = report.touched.clone();
            Ok((report, touched))
        })
    }

    /// Runs `write` under the segment lock, then upkeep of the profiles it reports touched.
    fn write_then_upkeep<T>(
        &self,
        write: impl FnOnce(&Database) -> Result<(T, RoaringBitmap), LiveError>,
    ) -> Result<(T, UpkeepReport), LiveError> {
        let mut live = lock(&self.live);
        let now = self.now();
        // Edges passed before the write are judged on the data before it.
        if live.next_edge().is_some_and(|edge| edge <= now) {
            live.advance_clock(&self.db.snapshot(), now)?;
        }
        let (written, touched) = write(&self.db)?;
        let report = live.on_write(&self.db.snapshot(), &touched, now)?;
        Ok((written, report))
    }

    /// Sets attributes of one profile, then upkeep.
    ///
    /// # Errors
    /// As [`LiveDatabase::write`].
    pub fn upsert_profile(
        &self,
        profile: u32,
        attributes: Vec<(String, Value)>,
    ) -> Result<UpkeepReport, LiveError> {
        let mut batch = LiveBatch::new();
        batch.upsert_profile(profile, attributes);
        Ok(self.write(&batch)?.1)
    }

    /// Appends one event of `profile`, then upkeep; returns the event's row id.
    ///
    /// # Errors
    /// As [`LiveDatabase::write`].
    pub fn append_event(
        &self,
        profile: u32,
        attributes: Vec<(String, Value)>,
    ) -> Result<u32, LiveError> {
        let mut batch = LiveBatch::new();
        batch.append_event(profile, attributes);
        let (receipt, _) = self.write(&batch)?;
        Ok(receipt.event_rows.first().copied().unwrap_or_default())
    }

    /// Erases a profile and its events, then upkeep (it leaves every segment).
    ///
    /// # Errors
    /// As [`LiveDatabase::write`].
    pub fn delete_profile(&self, profile: u32) -> Result<UpkeepReport, LiveError> {
        let mut batch = LiveBatch::new();
        batch.delete_profile(profile);
        Ok(self.write(&batch)?.1)
    }

    /// Merges `absorbed` into `survivor` (see [`Database::merge_profiles`]), then upkeep of
    /// both.
    ///
    /// # Errors
    /// As [`LiveDatabase::write`].
    pub fn merge_profiles(&self, survivor: u32, absorbed: u32) -> Result<UpkeepReport, LiveError> {
        let touched: RoaringBitmap = [survivor, absorbed].into_iter().collect();
        self.write_then_upkeep(|db| Ok((db.merge_profiles(survivor, absorbed)?, touched)))
            .map(|(_, report)| report)
    }

    /// Runs `read` with the live segments locked.
    pub fn with_live<R>(&self, read: impl FnOnce(&LiveSegments) -> R) -> R {
        read(&lock(&self.live))
    }

    /// Defines (or with `replace` redefines) a segment; returns whether it replaced one.
    ///
    /// # Errors
    /// As [`LiveSegments::define`].
    pub fn create_segment(&self, name: &str, sql: &str, replace: bool) -> Result<bool, LiveError> {
        lock(&self.live).define(&self.db.snapshot(), name, sql, replace)
    }

    /// Drops a segment; returns whether it existed.
    ///
    /// # Errors
    /// As [`LiveSegments::drop_segment`].
    pub fn drop_segment(&self, name: &str) -> Result<bool, LiveError> {
        lock(&self.live).drop_segment(name)
    }

    /// Stored members of a segment.
    #[must_use]
    pub fn members(&self, name: &str) -> Option<RoaringBitmap> {
        lock(&self.live).members(name).cloned()
    }

    /// See [`LiveSegments::changes_since`].
    #[must_use]
    pub fn changes_since(&self, cursor: u64, limit: usize) -> (Vec<Change>, u64) {
        lock(&self.live).changes_since(cursor, limit)
    }

    /// Why `profile` is or is not in `segment`, at the live clock.
    ///
    /// # Errors
    /// As [`LiveSegments::explain_membership`].
    pub fn explain_membership(
        &self,
        segment: &str,
        profile: u32,
    ) -> Result<Explanation, LiveError> {
        let live = lock(&self.live);
        live.explain_membership(&self.db.snapshot(), segment, profile, live.clock())
    }

    /// A session whose segment statements and `FROM segment` use the live segments.
    #[must_use]
    pub fn session(&self) -> Session {
        Session::with_segment_store(Box::new(LiveSegmentStore {
            db: Arc::clone(&self.db),
            live: Arc::clone(&self.live),
        }))
    }

    /// Processes due time edges, then runs one SQL statement on a fresh snapshot whose
    /// `now()` is the live clock.
    ///
    /// # Errors
    /// Upkeep, parse, plan or execution errors.
    pub fn execute(
        &self,
        session: &mut Session,
        sql: &str,
    ) -> Result<StatementOutcome, QueryError> {
        self.tick()?;
        let statement = crate::parse(sql)?;
        if let crate::Statement::Trait(statement) = &statement {
            return self.run_trait_statement(statement);
        }
        let now = lock(&self.live).clock();
        let snapshot = self.db.snapshot();
        let catalog = SnapshotCatalog::new(&snapshot).with_now(now);
        crate::planner::statement::run_statement(&catalog, session, &statement)
    }

    /// Records the database position in the segment log (so reopening needs no
    /// reconciliation) and closes the database when no session still shares it.
    ///
    /// # Errors
    /// Log or database errors.
    pub fn close(self) -> Result<(), LiveError> {
        lock(&self.live).checkpoint(&self.db.snapshot())?;
        match Arc::try_unwrap(self.db) {
            Ok(Store::Plain(db)) => db.close()?,
            Ok(Store::Profiles(profiles)) => (*profiles).close()?,
            Err(_) => {}
        }
        Ok(())
    }
}

/// The settings of the segment log, taken from the database's.
fn wal_options(options: &Options) -> WalOptions {
    WalOptions {
        sync_mode: options.sync_mode,
        recovery_mode: options.recovery_mode,
        ..WalOptions::default()
    }
}

/// The [`SegmentStore`] of a [`LiveDatabase`] session.
pub struct LiveSegmentStore {
    db: Arc<Store>,
    live: Arc<Mutex<LiveSegments>>,
}

impl SegmentStore for LiveSegmentStore {
    fn get(&self, name: &str) -> Option<SegmentDefinition> {
        lock(&self.live).definition(name)
    }

    fn list(&self) -> Vec<SegmentDefinition> {
        lock(&self.live).definitions()
    }

    fn put(&mut self, definition: SegmentDefinition) -> Result<(), QueryError> {
        // The statement already refused an existing name without OR REPLACE.
        let snapshot = self.db.snapshot();
        lock(&self.live).define(&snapshot, &definition.name, &definition.sql, true)?;
        Ok(())
    }

    fn remove(&mut self, name: &str) -> Result<bool, QueryError> {
        Ok(lock(&self.live).drop_segment(name)?)
    }

    fn members(&self, name: &str) -> Option<RoaringBitmap> {
        lock(&self.live).members(name).cloned()
    }
}
