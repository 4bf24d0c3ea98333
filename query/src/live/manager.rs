//! [`LiveSegments`]: segment definitions, their materialized membership kept current as writes
//! arrive and as the clock moves, and the durable change feed.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;

use profiledb_engine::io::Storage;
use profiledb_engine::wal::{Wal, WalOptions};
use profiledb_engine::{Snapshot, TableKind};
use roaring::RoaringBitmap;
use sqlparser::ast;

use super::analysis::{analyze, parse_definition, ClockUse};
use super::error::LiveError;
use super::feed::{Change, Feed};
use super::record::{Op, Record};
use super::restrict::{EventIndex, RestrictedCatalog};
use super::schedule::{next_edges, Schedule};
use super::split::{worth_splitting, Evaluated, SplitRound};
use crate::catalog::Catalog;
use crate::engine_catalog::SnapshotCatalog;
use crate::error::QueryError;
use crate::planner::{plan_query, PlanContext};
use crate::segment::{SegmentDefinition, SegmentStore};

/// Subdirectory of the database directory holding the segment log.
pub const SEGMENT_LOG_DIR: &str = "segments";

/// One live segment.
pub(crate) struct SegmentState {
    pub(crate) sql: String,
    pub(crate) query: ast::Query,
    pub(crate) depends_on: BTreeSet<String>,
    pub(crate) local: bool,
    pub(crate) clock: ClockUse,
    pub(crate) members: RoaringBitmap,
    schedule: Schedule,
}

/// What one upkeep call did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpkeepReport {
    /// Profile evaluations made by restricted (incremental) re-evaluation.
    pub profiles_evaluated: u64,
    /// Segments re-evaluated over the whole database (non-local definitions).
    pub full_evaluations: u64,
    /// Distinct time-edge instants processed.
    pub edge_rounds: u64,
    /// Entries recorded.
    pub entered: u64,
    /// Exits recorded.
    pub exited: u64,
}

/// Segments kept live: definitions, membership bitmaps, time edges and the change feed.
///
/// Not thread-safe by itself; [`super::LiveDatabase`] wraps it in a mutex.
pub struct LiveSegments {
    wal: Wal,
    segments: BTreeMap<String, SegmentState>,
    /// Segment names, each after the segments it reads.
    order: Vec<String>,
    index: EventIndex,
    feed: Feed,
    clock: i64,
    db_lsn: u64,
    /// Set when the log failed: memory is then ahead of the log and must not be trusted.
    poisoned: Option<String>,
}

/// One pass over the segments at one instant.
struct Round {
    at: i64,
    /// Profiles written (write rounds) or with a due edge in any segment (edge rounds).
    base: RoaringBitmap,
    /// Per segment, the profiles whose edge is due (edge rounds).
    due: HashMap<String, RoaringBitmap>,
    /// A write happened: non-local segments are re-run and `base` is re-evaluated everywhere.
    write: bool,
    /// The clock moved: segments with opaque clock use are re-run.
    clock_moved: bool,
}

/// Membership as it was replayed from the log.
#[derive(Default)]
struct Replay {
    definitions: BTreeMap<String, (String, RoaringBitmap)>,
    feed: Feed,
    clock: Option<i64>,
    db_lsn: u64,
}

impl Replay {
    fn apply(&mut self, lsn: u64, bytes: &[u8]) -> Result<(), LiveError> {
        let corrupt = |reason: String| LiveError::Corrupt { lsn, reason };
        let record = Record::decode(bytes).map_err(corrupt)?;
        if record.first_sequence != self.feed.next_sequence() {
            return Err(corrupt(format!(
                "changes start at {} but the feed is at {}",
                record.first_sequence,
                self.feed.next_sequence()
            )));
        }
        for op in &record.ops {
            match op {
                Op::Define { name, sql } => {
                    let entry = self.definitions.entry(name.clone()).or_default();
                    entry.0.clone_from(sql);
                }
                Op::Drop { name } => {
                    self.definitions.remove(name);
                }
                Op::Changes {
                    name,
                    at,
                    entered,
                    exited,
                } => {
                    let (_, members) = self
                        .definitions
                        .get_mut(name)
                        .ok_or_else(|| corrupt(format!("changes of unknown segment {name}")))?;
                    *members |= entered;
                    *members -= exited;
                    self.feed.push(name, *at, entered, exited);
                }
            }
        }
        self.clock = Some(record.clock);
        self.db_lsn = record.db_lsn;
        Ok(())
    }
}

/// The live segments as a read-only [`SegmentStore`], for planning definitions.
pub(crate) struct StoreView<'a>(pub(crate) &'a BTreeMap<String, SegmentState>);

impl SegmentStore for StoreView<'_> {
    fn get(&self, name: &str) -> Option<SegmentDefinition> {
        self.0.get(name).map(|s| SegmentDefinition {
            name: name.to_owned(),
            sql: s.sql.clone(),
        })
    }

    fn list(&self) -> Vec<SegmentDefinition> {
        self.0
            .iter()
            .map(|(name, s)| SegmentDefinition {
                name: name.clone(),
                sql: s.sql.clone(),
            })
            .collect()
    }

    fn put(&mut self, _definition: SegmentDefinition) -> Result<(), QueryError> {
        Err(QueryError::Internal(
            "segments are read-only while planning".into(),
        ))
    }

    fn remove(&mut self, _name: &str) -> Result<bool, QueryError> {
        Err(QueryError::Internal(
            "segments are read-only while planning".into(),
        ))
    }

    fn members(&self, name: &str) -> Option<RoaringBitmap> {
        self.0.get(name).map(|s| s.members.clone())
    }
}

/// Runs a definition against `catalog` at `at`; the profile ids it selects.
pub(crate) fn evaluate(
    catalog: &dyn Catalog,
    segments: &BTreeMap<String, SegmentState>,
    query: &ast::Query,
    at: i64,
) -> Result<RoaringBitmap, LiveError> {
    let view = StoreView(segments);
    let ctx = PlanContext::new(catalog, &view, at);
    let plan = plan_query(&ctx, query, None)?;
    Ok(crate::exec::profile_ids(&plan)?)
}

impl LiveSegments {
    /// Opens (creating if needed) the segment log under `db_dir`, rebuilds definitions,
    /// membership and feed from it, and reconciles with `snapshot` when the database moved on
    /// without the log (a crash between a write and its upkeep). `now` is the clock of a new
    /// log; an existing log resumes at its recorded clock (call [`Self::advance_clock`] next).
    ///
    /// # Errors
    /// Log I/O or corruption, or a stored definition that no longer plans.
    pub fn open(
        storage: Arc<dyn Storage>,
        db_dir: &Path,
        options: WalOptions,
        snapshot: &Snapshot,
        now: i64,
    ) -> Result<LiveSegments, LiveError> {
        let mut replay = Replay::default();
        let (wal, _report) = Wal::open(
            storage,
            &db_dir.join(SEGMENT_LOG_DIR),
            options,
            0,
            0,
            |lsn, bytes| replay.apply(lsn, bytes),
        )?;
        let mut live = LiveSegments {
            wal,
            segments: BTreeMap::new(),
            order: Vec::new(),
            index: EventIndex::build(snapshot)?,
            feed: std::mem::take(&mut replay.feed),
            clock: replay.clock.unwrap_or(now),
            db_lsn: replay.db_lsn,
            poisoned: None,
        };
        live.install(snapshot, replay.definitions)?;
        if live.db_lsn != snapshot.last_lsn() {
            live.reconcile(snapshot)?;
        }
        Ok(live)
    }

    /// Rebuilds segment states from replayed definitions and membership.
    fn install(
        &mut self,
        snapshot: &Snapshot,
        definitions: BTreeMap<String, (String, RoaringBitmap)>,
    ) -> Result<(), LiveError> {
        for (name, (sql, members)) in definitions {
            let query = parse_definition(&sql)?;
            let state = SegmentState {
                sql,
                query,
                depends_on: BTreeSet::new(),
                local: false,
                clock: ClockUse::Opaque,
                members,
                schedule: Schedule::default(),
            };
            self.segments.insert(name, state);
        }
        let catalog = SnapshotCatalog::new(snapshot).with_now(self.clock);
        let names: Vec<String> = self.segments.keys().cloned().collect();
        for name in names {
            let Some(sql) = self.segments.get(&name).map(|s| s.sql.clone()) else {
                continue;
            };
            let analysis = analyze(
                &name,
                &sql,
                &catalog,
                &StoreView(&self.segments),
                self.clock,
            )?;
            if let Some(state) = self.segments.get_mut(&name) {
                state.query = analysis.query;
                state.depends_on = analysis.depends_on;
                state.local = analysis.local;
                state.clock = analysis.clock;
            }
        }
        self.order = topo_order(&self.segments)?;
        for name in &self.order {
            rebuild_schedule(&mut self.segments, &self.index, snapshot, name, self.clock)?;
        }
        Ok(())
    }

    /// Re-runs every definition over the whole database and records the differences.
    fn reconcile(&mut self, snapshot: &Snapshot) -> Result<(), LiveError> {
        let mut ops = Vec::new();
        for name in &self.order {
            refresh_full(
                &mut self.segments,
                &self.index,
                snapshot,
                name,
                self.clock,
                &mut ops,
            )?;
        }
        self.db_lsn = snapshot.last_lsn();
        self.commit(ops)
    }

    /// Fails when an earlier log failure left memory ahead of the log.
    fn check_usable(&self) -> Result<(), LiveError> {
        match &self.poisoned {
            Some(reason) => Err(LiveError::Corrupt {
                lsn: self.wal.last_lsn(),
                reason: format!("an earlier segment-log write failed ({reason}); reopen"),
            }),
            None => Ok(()),
        }
    }

    /// Defines segment `name` by `sql` (replacing it when `replace`), materializes its
    /// membership and records both; returns whether it replaced an existing definition.
    ///
    /// # Errors
    /// Invalid or cyclic definitions, name clashes, query or log failures.
    pub fn define(
        &mut self,
        snapshot: &Snapshot,
        name: &str,
        sql: &str,
        replace: bool,
    ) -> Result<bool, LiveError> {
        self.check_usable()?;
        if name == "profiles" || name == "events" {
            return Err(LiveError::NameIsTable(name.to_owned()));
        }
        let existed = self.segments.contains_key(name);
        if existed && !replace {
            return Err(LiveError::SegmentExists(name.to_owned()));
        }
        self.index.catch_up(snapshot, &mut RoaringBitmap::new())?;
        let catalog = SnapshotCatalog::new(snapshot).with_now(self.clock);
        let analysis = analyze(name, sql, &catalog, &StoreView(&self.segments), self.clock)?;
        let cyclic = analysis.depends_on.contains(name)
            || self
                .dependents(name)
                .iter()
                .any(|d| analysis.depends_on.contains(d));
        if cyclic {
            return Err(LiveError::Cycle(name.to_owned()));
        }
        let old = self.segments.remove(name);
        let state = SegmentState {
            sql: sql.to_owned(),
            query: analysis.query,
            depends_on: analysis.depends_on,
            local: analysis.local,
            clock: analysis.clock,
            members: old.as_ref().map(|s| s.members.clone()).unwrap_or_default(),
            schedule: Schedule::default(),
        };
        self.segments.insert(name.to_owned(), state);
        let mut ops = vec![Op::Define {
            name: name.to_owned(),
            sql: sql.to_owned(),
        }];
        let result = self.after_define(snapshot, name, &mut ops);
        if let Err(error) = result {
            // Nothing was logged: put the old state back.
            self.segments.remove(name);
            if let Some(old) = old {
                self.segments.insert(name.to_owned(), old);
            }
            self.order = topo_order(&self.segments)?;
            return Err(error);
        }
        self.commit(ops)?;
        Ok(existed)
    }

    /// Materializes a new definition and refreshes the segments reading it.
    fn after_define(
        &mut self,
        snapshot: &Snapshot,
        name: &str,
        ops: &mut Vec<Op>,
    ) -> Result<(), LiveError> {
        self.order = topo_order(&self.segments)?;
        let (segments, index, clock) = (&mut self.segments, &self.index, self.clock);
        refresh_full(segments, index, snapshot, name, clock, ops)?;
        for dependent in self.dependents(name) {
            refresh_full(
                &mut self.segments,
                &self.index,
                snapshot,
                &dependent,
                clock,
                ops,
            )?;
        }
        Ok(())
    }

    /// Removes segment `name`, recording its members' exits; returns whether it existed.
    ///
    /// # Errors
    /// [`LiveError::InUse`] when another segment reads it; log failures.
    pub fn drop_segment(&mut self, name: &str) -> Result<bool, LiveError> {
        self.check_usable()?;
        let Some(state) = self.segments.get(name) else {
            return Ok(false);
        };
        if let Some(user) = self.dependents(name).into_iter().next() {
            return Err(LiveError::InUse {
                segment: name.to_owned(),
                used_by: user,
            });
        }
        let ops = vec![
            Op::Changes {
                name: name.to_owned(),
                at: self.clock,
                entered: RoaringBitmap::new(),
                exited: state.members.clone(),
            },
            Op::Drop {
                name: name.to_owned(),
            },
        ];
        self.commit(ops)?;
        self.segments.remove(name);
        self.order.retain(|n| n != name);
        Ok(true)
    }

    /// Segments that read `name`, directly or through others, in evaluation order.
    fn dependents(&self, name: &str) -> Vec<String> {
        let mut reached: BTreeSet<&str> = BTreeSet::from([name]);
        let mut out = Vec::new();
        for candidate in &self.order {
            let Some(state) = self.segments.get(candidate) else {
                continue;
            };
            if candidate != name
                && state
                    .depends_on
                    .iter()
                    .any(|d| reached.contains(d.as_str()))
            {
                reached.insert(candidate);
                out.push(candidate.clone());
            }
        }
        out
    }

    /// Brings membership up to date after a write that touched `touched` profiles (callers
    /// must include every profile whose row or events the write changed: upserted, deleted,
    /// both sides of a merge; profiles of newly appended events are found automatically).
    /// Time edges up to `now` are processed first, each at its own instant.
    ///
    /// # Errors
    /// Query, engine or log failures.
    pub fn on_write(
        &mut self,
        snapshot: &Snapshot,
        touched: &RoaringBitmap,
        now: i64,
    ) -> Result<UpkeepReport, LiveError> {
        self.upkeep(snapshot, Some(touched), now)
    }

    /// Moves the live clock to `now` (it never moves back): profiles whose qualifying rows
    /// cross a window edge on the way are re-evaluated at that edge's instant.
    ///
    /// # Errors
    /// Query, engine or log failures.
    pub fn advance_clock(
        &mut self,
        snapshot: &Snapshot,
        now: i64,
    ) -> Result<UpkeepReport, LiveError> {
        self.upkeep(snapshot, None, now)
    }

    fn upkeep(
        &mut self,
        snapshot: &Snapshot,
        touched: Option<&RoaringBitmap>,
        now: i64,
    ) -> Result<UpkeepReport, LiveError> {
        self.check_usable()?;
        let now = now.max(self.clock);
        let write = touched.is_some();
        let mut touched = touched.cloned().unwrap_or_default();
        self.index.catch_up(snapshot, &mut touched)?;
        let mut report = UpkeepReport::default();
        let mut ops = Vec::new();
        while let Some(at) = self.next_edge().filter(|edge| *edge <= now) {
            let due: HashMap<String, RoaringBitmap> = self
                .segments
                .iter_mut()
                .map(|(name, s)| (name.clone(), s.schedule.take_due(at)))
                .filter(|(_, due)| !due.is_empty())
                .collect();
            let base = due.values().fold(RoaringBitmap::new(), |acc, d| acc | d);
            let round = Round {
                at,
                base,
                due,
                write: false,
                clock_moved: false,
            };
            self.round(snapshot, &round, &mut ops, &mut report)?;
            report.edge_rounds += 1;
        }
        let round = Round {
            at: now,
            base: touched,
            due: HashMap::new(),
            write,
            clock_moved: now > self.clock,
        };
        self.round(snapshot, &round, &mut ops, &mut report)?;
        for op in &ops {
            if let Op::Changes {
                entered, exited, ..
            } = op
            {
                report.entered += entered.len();
                report.exited += exited.len();
            }
        }
        self.clock = now;
        self.db_lsn = snapshot.last_lsn();
        self.commit(ops)?;
        Ok(report)
    }

    /// The earliest pending time edge of any segment.
    #[must_use]
    pub fn next_edge(&self) -> Option<i64> {
        self.segments
            .values()
            .filter_map(|s| s.schedule.first())
            .min()
    }

    /// Re-evaluates what `round` requires of each segment, in dependency order.
    fn round(
        &mut self,
        snapshot: &Snapshot,
        round: &Round,
        ops: &mut Vec<Op>,
        report: &mut UpkeepReport,
    ) -> Result<(), LiveError> {
        let full = SnapshotCatalog::new(snapshot).with_now(round.at);
        let mut shared: Option<RestrictedCatalog<'_>> = None;
        let mut changed: HashMap<String, RoaringBitmap> = HashMap::new();
        let mut ahead = self.evaluate_ahead(snapshot, round)?;
        for name in self.order.clone() {
            let Some(state) = self.segments.get(&name) else {
                continue;
            };
            let upstream = state
                .depends_on
                .iter()
                .filter_map(|d| changed.get(d))
                .fold(RoaringBitmap::new(), |acc, c| acc | c);
            let moved = if needs_full(state, round, &upstream) {
                report.full_evaluations += 1;
                refresh_full(
                    &mut self.segments,
                    &self.index,
                    snapshot,
                    &name,
                    round.at,
                    ops,
                )?
            } else {
                let mut set = upstream;
                if round.write {
                    set |= &round.base;
                }
                if let Some(due) = round.due.get(&name) {
                    set |= due;
                }
                if set.is_empty() {
                    continue;
                }
                report.profiles_evaluated += set.len();
                if let Some(evaluated) = ahead.remove(&name) {
                    apply_evaluation(&mut self.segments, &name, evaluated, &set, round.at, ops)
                } else if set.is_subset(&round.base) {
                    if shared.is_none() {
                        shared = Some(RestrictedCatalog::new(
                            &full,
                            snapshot,
                            &self.index,
                            &round.base,
                            round.at,
                        )?);
                    }
                    let Some(catalog) = shared.as_ref() else {
                        continue;
                    };
                    refresh_partial(&mut self.segments, &name, catalog, &set, round.at, ops)?
                } else {
                    let catalog =
                        RestrictedCatalog::new(&full, snapshot, &self.index, &set, round.at)?;
                    refresh_partial(&mut self.segments, &name, &catalog, &set, round.at, ops)?
                }
            };
            changed.insert(name, moved);
        }
        Ok(())
    }

    /// In a write round over many profiles, evaluates the segments that read no other segment
    /// with the profiles split across two threads (see [`super::split`]); [`Self::round`]
    /// takes these findings instead of evaluating those segments itself.
    fn evaluate_ahead(
        &self,
        snapshot: &Snapshot,
        round: &Round,
    ) -> Result<HashMap<String, Evaluated>, LiveError> {
        if !round.write || !worth_splitting(&round.base) {
            return Ok(HashMap::new());
        }
        let no_upstream = RoaringBitmap::new();
        let independent: Vec<&str> = self
            .order
            .iter()
            .filter(|name| {
                self.segments.get(name.as_str()).is_some_and(|state| {
                    state.depends_on.is_empty()
                        && !needs_full(state, round, &no_upstream)
                        && !round.due.contains_key(name.as_str())
                })
            })
            .map(String::as_str)
            .collect();
        if independent.is_empty() {
            return Ok(HashMap::new());
        }
        let split = SplitRound {
            segments: &self.segments,
            names: &independent,
            snapshot,
            index: &self.index,
            at: round.at,
        };
        split.evaluate(&round.base)
    }

    /// Logs `ops` as one record, then publishes their changes to the feed.
    fn commit(&mut self, ops: Vec<Op>) -> Result<(), LiveError> {
        let ops: Vec<Op> = ops.into_iter().filter(|op| !is_empty_change(op)).collect();
        if ops.is_empty() {
            return Ok(());
        }
        self.log(ops)
    }

    fn log(&mut self, ops: Vec<Op>) -> Result<(), LiveError> {
        let record = Record {
            db_lsn: self.db_lsn,
            clock: self.clock,
            first_sequence: self.feed.next_sequence(),
            ops,
        };
        let bytes = record.encode().map_err(|reason| LiveError::Corrupt {
            lsn: self.wal.last_lsn() + 1,
            reason,
        })?;
        if let Err(error) = self.wal.commit(&bytes) {
            self.poisoned = Some(error.to_string());
            return Err(error.into());
        }
        for op in &record.ops {
            if let Op::Changes {
                name,
                at,
                entered,
                exited,
            } = op
            {
                self.feed.push(name, *at, entered, exited);
            }
        }
        Ok(())
    }

    /// Up to `limit` changes after `cursor` (0 = from the start) and the cursor to continue
    /// from (unchanged when there is nothing new).
    #[must_use]
    pub fn changes_since(&self, cursor: u64, limit: usize) -> (Vec<Change>, u64) {
        self.feed.since(cursor, limit)
    }

    /// Sequence number of the newest change (0 when none).
    #[must_use]
    pub fn last_sequence(&self) -> u64 {
        self.feed.next_sequence() - 1
    }

    /// The stored members of segment `name`.
    #[must_use]
    pub fn members(&self, name: &str) -> Option<&RoaringBitmap> {
        self.segments.get(name).map(|s| &s.members)
    }

    /// Every definition, ordered by name.
    #[must_use]
    pub fn definitions(&self) -> Vec<SegmentDefinition> {
        StoreView(&self.segments).list()
    }

    /// The definition of `name`.
    #[must_use]
    pub fn definition(&self, name: &str) -> Option<SegmentDefinition> {
        StoreView(&self.segments).get(name)
    }

    /// Whether `name` is re-evaluated per touched profile (`true`) or in full (`false`).
    #[must_use]
    pub fn is_incremental(&self, name: &str) -> Option<bool> {
        self.segments.get(name).map(|s| s.local)
    }

    /// Number of profiles of `name` with a pending time edge.
    #[must_use]
    pub fn pending_edges(&self, name: &str) -> Option<usize> {
        self.segments.get(name).map(|s| s.schedule.len())
    }

    /// The live clock: the instant membership reflects, in microseconds since the epoch.
    #[must_use]
    pub fn clock(&self) -> i64 {
        self.clock
    }

    /// A read-only [`SegmentStore`] over the stored membership (for planning queries).
    #[must_use]
    pub fn store(&self) -> impl SegmentStore + '_ {
        StoreView(&self.segments)
    }

    pub(crate) fn state(&self, name: &str) -> Option<&SegmentState> {
        self.segments.get(name)
    }

    pub(crate) fn segment_states(&self) -> &BTreeMap<String, SegmentState> {
        &self.segments
    }

    pub(crate) fn event_index(&self) -> &EventIndex {
        &self.index
    }

    /// Records the database position and clock and syncs the log, so that opening at this
    /// database state needs no reconciliation.
    ///
    /// # Errors
    /// Log I/O failures.
    pub fn checkpoint(&mut self, snapshot: &Snapshot) -> Result<(), LiveError> {
        self.check_usable()?;
        self.db_lsn = snapshot.last_lsn();
        self.log(Vec::new())?;
        self.wal.sync()?;
        Ok(())
    }

    /// [`Self::checkpoint`], then closes the log.
    ///
    /// # Errors
    /// Log I/O failures.
    pub fn close(mut self, snapshot: &Snapshot) -> Result<(), LiveError> {
        self.checkpoint(snapshot)?;
        self.wal.close()?;
        Ok(())
    }
}

/// Re-runs segment `name` over the whole database at `at`; returns the profiles that moved.
fn refresh_full(
    segments: &mut BTreeMap<String, SegmentState>,
    index: &EventIndex,
    snapshot: &Snapshot,
    name: &str,
    at: i64,
    ops: &mut Vec<Op>,
) -> Result<RoaringBitmap, LiveError> {
    let catalog = SnapshotCatalog::new(snapshot).with_now(at);
    let Some(state) = segments.get(name) else {
        return Ok(RoaringBitmap::new());
    };
    let members = evaluate(&catalog, segments, &state.query, at)?;
    let moved = record_changes(segments, name, &members, None, at, ops);
    rebuild_schedule(segments, index, snapshot, name, at)?;
    Ok(moved)
}

/// Recomputes every pending edge of segment `name` from the whole database, as of `at`.
fn rebuild_schedule(
    segments: &mut BTreeMap<String, SegmentState>,
    index: &EventIndex,
    snapshot: &Snapshot,
    name: &str,
    at: i64,
) -> Result<(), LiveError> {
    let Some(state) = segments.get_mut(name) else {
        return Ok(());
    };
    state.schedule = Schedule::default();
    let ClockUse::Edges(leaves) = &state.clock else {
        return Ok(());
    };
    if !state.local {
        return Ok(());
    }
    let full = SnapshotCatalog::new(snapshot).with_now(at);
    let everyone = snapshot.live_rows(TableKind::Profiles).clone();
    let catalog = RestrictedCatalog::new(&full, snapshot, index, &everyone, at)?;
    for (profile, edge) in next_edges(leaves, &catalog, &everyone, at)? {
        state.schedule.set(profile, edge);
    }
    Ok(())
}

fn is_empty_change(op: &Op) -> bool {
    matches!(op, Op::Changes { entered, exited, .. } if entered.is_empty() && exited.is_empty())
}

/// Whether the round must re-run this segment over everything.
fn needs_full(state: &SegmentState, round: &Round, upstream: &RoaringBitmap) -> bool {
    let clock_dependent = state.clock != ClockUse::None;
    if !state.local {
        return round.write || !upstream.is_empty() || (round.clock_moved && clock_dependent);
    }
    round.clock_moved && state.clock == ClockUse::Opaque
}

/// Re-evaluates segment `name` for the profiles `set` (all covered by `catalog`).
fn refresh_partial(
    segments: &mut BTreeMap<String, SegmentState>,
    name: &str,
    catalog: &RestrictedCatalog<'_>,
    set: &RoaringBitmap,
    at: i64,
    ops: &mut Vec<Op>,
) -> Result<RoaringBitmap, LiveError> {
    let Some(state) = segments.get(name) else {
        return Ok(RoaringBitmap::new());
    };
    let evaluated = evaluate_restricted(segments, state, catalog, set, at)?;
    Ok(apply_evaluation(segments, name, evaluated, set, at, ops))
}

/// Which of `set` (all covered by `catalog`) belong to the segment of `state`, and their
/// next time edges when it schedules them.
pub(crate) fn evaluate_restricted(
    segments: &BTreeMap<String, SegmentState>,
    state: &SegmentState,
    catalog: &RestrictedCatalog<'_>,
    set: &RoaringBitmap,
    at: i64,
) -> Result<Evaluated, LiveError> {
    let selected = evaluate(catalog, segments, &state.query, at)? & set;
    let edges = match &state.clock {
        ClockUse::Edges(leaves) => Some(next_edges(leaves, catalog, set, at)?),
        _ => None,
    };
    Ok(Evaluated { selected, edges })
}

/// Makes what a restricted evaluation of `set` found the membership and schedule of `name`
/// within `set`; returns the profiles that moved.
fn apply_evaluation(
    segments: &mut BTreeMap<String, SegmentState>,
    name: &str,
    evaluated: Evaluated,
    set: &RoaringBitmap,
    at: i64,
    ops: &mut Vec<Op>,
) -> RoaringBitmap {
    let moved = record_changes(segments, name, &evaluated.selected, Some(set), at, ops);
    if let (Some(edges), Some(state)) = (evaluated.edges, segments.get_mut(name)) {
        for profile in set {
            state
                .schedule
                .set(profile, edges.get(&profile).copied().flatten());
        }
    }
    moved
}

/// Makes `selected` the membership of `name` within `scope` (everywhere when `None`), and
/// queues the entries and exits; returns the profiles that moved.
fn record_changes(
    segments: &mut BTreeMap<String, SegmentState>,
    name: &str,
    selected: &RoaringBitmap,
    scope: Option<&RoaringBitmap>,
    at: i64,
    ops: &mut Vec<Op>,
) -> RoaringBitmap {
    let Some(state) = segments.get_mut(name) else {
        return RoaringBitmap::new();
    };
    let old = match scope {
        Some(scope) => &state.members & scope,
        None => state.members.clone(),
    };
    let entered = selected - &old;
    let exited = old - selected;
    state.members |= &entered;
    state.members -= &exited;
    let moved = &entered | &exited;
    if !moved.is_empty() {
        ops.push(Op::Changes {
            name: name.to_owned(),
            at,
            entered,
            exited,
        });
    }
    moved
}

/// Segment names ordered so that each comes after the segments it reads.
fn topo_order(segments: &BTreeMap<String, SegmentState>) -> Result<Vec<String>, LiveError> {
    let mut order = Vec::with_capacity(segments.len());
    let mut done: BTreeSet<&str> = BTreeSet::new();
    let mut in_progress: BTreeSet<&str> = BTreeSet::new();
    for name in segments.keys() {
        visit(segments, name, &mut done, &mut in_progress, &mut order)?;
    }
    Ok(order)
}

fn visit<'a>(
    segments: &'a BTreeMap<String, SegmentState>,
    name: &'a str,
    done: &mut BTreeSet<&'a str>,
    in_progress: &mut BTreeSet<&'a str>,
    order: &mut Vec<String>,
) -> Result<(), LiveError> {
    if done.contains(name) {
        return Ok(());
    }
    if !in_progress.insert(name) {
        return Err(LiveError::Cycle(name.to_owned()));
    }
    if let Some(state) = segments.get(name) {
        for dependency in &state.depends_on {
            visit(segments, dependency, done, in_progress, order)?;
        }
    }
    in_progress.remove(name);
    done.insert(name);
    order.push(name.to_owned());
    Ok(())
}
