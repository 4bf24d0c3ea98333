//! Tables restricted to a few profiles: how a segment is re-evaluated for just the profiles a
//! write touched, without scanning the rest of the database.
//!
//! Each restricted table answers every leaf predicate by fetching the column for its rows once
//! (cached for the round, shared by all segments) and testing [`LeafPredicate::matches`], which
//! is cheap when the rows are few and never touches other rows.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::{Mutex, MutexGuard, PoisonError};

use profiledb_engine::{ColumnType, Snapshot, TableKind, Value, EVENT_PROFILE_COLUMN};
use roaring::RoaringBitmap;

use super::error::LiveError;
use crate::catalog::{AccessPath, Catalog, TableSource};
use crate::error::QueryError;
use crate::predicate::LeafPredicate;
use profiledb_engine::dense_map::DenseMap;

/// Which event rows belong to which profile, kept current as writes arrive.
///
/// Built once from the events' `profile_id` column, then caught up incrementally: event rows
/// are allocated in increasing order, so rows above the watermark are new; merges and deletes
/// are found by re-reading the owner of the touched profiles' indexed rows.
#[derive(Debug, Default)]
pub(crate) struct EventIndex {
    by_profile: DenseMap<Vec<u32>>,
    /// Highest event row indexed so far.
    watermark: Option<u32>,
    /// What leaf predicates said of event rows in earlier rounds.
    verdicts: EventVerdicts,
}

/// Most leaf predicates [`EventVerdicts`] remembers; past this it starts over. A predicate on
/// the clock reads as a new one at every instant, so without a bound those would pile up.
const MAX_REMEMBERED_LEAVES: usize = 64;

/// The event rows each leaf predicate was tested on, and those it matched, kept from round to
/// round. An event's values never change once written (a merge re-points only its
/// `profile_id`, which is never remembered) and row ids are never reused, so a verdict holds
/// for as long as the row exists. A round then tests only the events it has not seen: the new
/// ones. Without this, a segment reading events re-tests every event of every touched profile
/// at every write, a cost that grows with each profile's history.
///
/// Shared by the threads of a split round (see `super::split`): the lock is held only to read
/// and to record verdicts, never while testing rows.
#[derive(Debug, Default)]
struct EventVerdicts {
    /// Per (column, predicate as written out): rows tested, rows matched.
    by_leaf: Mutex<HashMap<(String, String), (RoaringBitmap, RoaringBitmap)>>,
}

impl EventVerdicts {
    /// The rows of `rows` that `predicate` on `column` matches; `test` is called on the rows
    /// never tested before and returns those of them that match.
    fn matching(
        &self,
        column: &str,
        predicate: &LeafPredicate,
        rows: &RoaringBitmap,
        test: impl FnOnce(&RoaringBitmap) -> Result<RoaringBitmap, QueryError>,
    ) -> Result<RoaringBitmap, QueryError> {
        let key = (column.to_owned(), format!("{predicate:?}"));
        // What is known is taken out under the lock: another thread may start the memory
        // over while this one tests, and the answer must not depend on it.
        let (known, untested) = match self.lock().get(&key) {
            Some((tested, matched)) => (matched & rows, rows - tested),
            None => (RoaringBitmap::new(), rows.clone()),
        };
        if untested.is_empty() {
            return Ok(known);
        }
        let newly = test(&untested)?;
        let mut by_leaf = self.lock();
        if by_leaf.len() >= MAX_REMEMBERED_LEAVES && !by_leaf.contains_key(&key) {
            by_leaf.clear();
        }
        let (tested, matched) = by_leaf.entry(key).or_default();
        *matched |= &newly;
        *tested |= untested;
        Ok(known | newly)
    }

    /// The remembered verdicts. They are only a cache of what rows say, so a thread that
    /// panicked while holding the lock left nothing wrong in them, only something unfinished.
    fn lock(&self) -> MutexGuard<'_, HashMap<(String, String), (RoaringBitmap, RoaringBitmap)>> {
        self.by_leaf.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl EventIndex {
    /// Indexes every live event of `snapshot`.
    pub(crate) fn build(snapshot: &Snapshot) -> Result<Self, LiveError> {
        let mut index = EventIndex::default();
        index.add_new_rows(snapshot, &mut RoaringBitmap::new())?;
        Ok(index)
    }

    /// Indexes events appended since the last call and re-files the events of `touched`
    /// profiles (moved by merges, gone with deletes); profiles gaining events join `touched`.
    pub(crate) fn catch_up(
        &mut self,
        snapshot: &Snapshot,
        touched: &mut RoaringBitmap,
    ) -> Result<(), LiveError> {
        self.add_new_rows(snapshot, touched)?;
        // Events never change owner or disappear while their profile lives: merges move the
        // events of the absorbed profile, which is deleted, and deletes take the events along.
        // So only touched profiles that are gone need their rows re-read.
        let gone = &*touched - snapshot.live_rows(TableKind::Profiles);
        if !gone.is_empty() {
            // Rows are re-filed straight to their current owner, which is live.
            for gained in self.verify(snapshot, &gone)? {
                touched.insert(gained);
            }
        }
        Ok(())
    }

    /// Event rows of `profiles`, with each row's owner, ascending by row.
    pub(crate) fn events_of(&self, profiles: &RoaringBitmap) -> (RoaringBitmap, Vec<Value>) {
        // Row in the high half, owner in the low: sorting plain integers orders by row, and
        // each profile's list is an ascending run, which the stable sort merges.
        let mut pairs: Vec<u64> = Vec::new();
        for profile in profiles {
            if let Some(rows) = self.by_profile.get(profile) {
                pairs.extend(
                    rows.iter()
                        .map(|&row| (u64::from(row) << 32) | u64::from(profile)),
                );
            }
        }
        pairs.sort();
        let row_of = |pair: &u64| (pair >> 32) as u32;
        // Each row has one owner, so the sorted rows are distinct: appended, not inserted.
        let rows = RoaringBitmap::from_sorted_iter(pairs.iter().map(row_of))
            .unwrap_or_else(|_| pairs.iter().map(row_of).collect());
        let owners = pairs
            .into_iter()
            .map(|pair| Value::Int64(i64::from(pair as u32)))
            .collect();
        (rows, owners)
    }

    fn has_events(snapshot: &Snapshot) -> bool {
        snapshot
            .schema(TableKind::Events)
            .column(EVENT_PROFILE_COLUMN)
            .is_some()
    }

    fn add_new_rows(
        &mut self,
        snapshot: &Snapshot,
        touched: &mut RoaringBitmap,
    ) -> Result<(), LiveError> {
        if !Self::has_events(snapshot) {
            return Ok(());
        }
        let start = match self.watermark {
            None => 0,
            Some(u32::MAX) => return Ok(()),
            Some(w) => w + 1,
        };
        let live = snapshot.live_rows(TableKind::Events);
        let new: RoaringBitmap = live.range(start..).collect();
        let Some(max) = new.max() else {
            return Ok(());
        };
        let owners = snapshot.fetch(TableKind::Events, EVENT_PROFILE_COLUMN, &new)?;
        for (row, owner) in new.iter().zip(owners) {
            if let Some(owner) = owner_id(&owner) {
                self.by_profile
                    .get_or_insert_with(owner, Vec::new)
                    .push(row);
                touched.insert(owner);
            }
        }
        self.watermark = Some(max);
        Ok(())
    }

    /// Drops dead rows of `profiles` and moves re-owned rows; returns the profiles that gained.
    fn verify(
        &mut self,
        snapshot: &Snapshot,
        profiles: &RoaringBitmap,
    ) -> Result<Vec<u32>, LiveError> {
        if !Self::has_events(snapshot) {
            return Ok(Vec::new());
        }
        let (rows, _) = self.events_of(profiles);
        let live = snapshot.live_rows(TableKind::Events);
        let alive = &rows & live;
        let owners = snapshot.fetch(TableKind::Events, EVENT_PROFILE_COLUMN, &alive)?;
        let owner_of: HashMap<u32, Option<u32>> =
            alive.iter().zip(owners.iter().map(owner_id)).collect();
        let mut gained = Vec::new();
        for profile in profiles {
            let Some(list) = self.by_profile.remove(profile) else {
                continue;
            };
            let mut kept = Vec::with_capacity(list.len());
            for row in list {
                match owner_of.get(&row).copied().flatten() {
                    Some(owner) if owner == profile => kept.push(row),
                    Some(owner) => {
                        self.by_profile
                            .get_or_insert_with(owner, Vec::new)
                            .push(row);
                        gained.push(owner);
                    }
                    None => {}
                }
            }
            if !kept.is_empty() {
                self.by_profile.insert(profile, kept);
            }
        }
        Ok(gained)
    }
}

/// The rows of `rows` whose value (`values` holds one per row, in row order) `keep` accepts.
fn matching_rows(
    rows: &RoaringBitmap,
    values: &[Value],
    keep: impl Fn(&Value) -> bool,
) -> Result<RoaringBitmap, QueryError> {
    let matching = rows
        .iter()
        .zip(values)
        .filter(|(_, v)| keep(v))
        .map(|(row, _)| row);
    RoaringBitmap::from_sorted_iter(matching).map_err(|e| QueryError::Internal(e.to_string()))
}

/// A profile id stored in an events' `profile_id` cell.
fn owner_id(value: &Value) -> Option<u32> {
    match value {
        Value::Int64(id) => u32::try_from(*id).ok(),
        _ => None,
    }
}

/// A table seen through a fixed set of its rows.
pub(crate) struct RestrictedTable<'s> {
    base: &'s dyn TableSource,
    rows: RoaringBitmap,
    /// Column values for `rows`, in row order, fetched once per round.
    cache: RefCell<HashMap<String, Rc<Vec<Value>>>>,
    /// For the events table: verdicts remembered from earlier rounds.
    verdicts: Option<&'s EventVerdicts>,
}

impl<'s> RestrictedTable<'s> {
    /// `base` restricted to `rows` (which must be live rows of `base`).
    pub(crate) fn new(base: &'s dyn TableSource, rows: RoaringBitmap) -> Self {
        RestrictedTable {
            base,
            rows,
            cache: RefCell::new(HashMap::new()),
            verdicts: None,
        }
    }

    /// Supplies known values of `column` (aligned with the rows) so they need not be fetched.
    pub(crate) fn seed(&self, column: &str, values: Vec<Value>) {
        if values.len() as u64 == self.rows.len() {
            self.cache
                .borrow_mut()
                .insert(column.to_owned(), Rc::new(values));
        }
    }

    /// The rows this table shows.
    pub(crate) fn rows(&self) -> &RoaringBitmap {
        &self.rows
    }

    /// Values of `column` for every row, in row order.
    pub(crate) fn column(&self, column: &str) -> Result<Rc<Vec<Value>>, QueryError> {
        if let Some(values) = self.cache.borrow().get(column) {
            return Ok(Rc::clone(values));
        }
        let values = Rc::new(self.base.fetch(column, &self.rows)?);
        self.cache
            .borrow_mut()
            .insert(column.to_owned(), Rc::clone(&values));
        Ok(values)
    }

    fn rows_where(
        &self,
        column: &str,
        keep: impl Fn(&Value) -> bool,
    ) -> Result<RoaringBitmap, QueryError> {
        matching_rows(&self.rows, &self.column(column)?, keep)
    }
}

impl TableSource for RestrictedTable<'_> {
    fn columns(&self) -> Vec<(String, ColumnType)> {
        self.base.columns()
    }

    fn row_count(&self) -> u64 {
        self.rows.len()
    }

    fn all_rows(&self) -> Result<RoaringBitmap, QueryError> {
        Ok(self.rows.clone())
    }

    fn filter(
        &self,
        column: &str,
        predicate: &LeafPredicate,
    ) -> Result<(RoaringBitmap, AccessPath), QueryError> {
        let path = AccessPath::Other(format!("live: {} rows checked", self.rows.len()));
        if let Some(verdicts) = self.verdicts.filter(|_| column != EVENT_PROFILE_COLUMN) {
            // The untested rows are the newest events: the engine's scan tests them in place,
            // without copying their values out.
            let rows = verdicts.matching(column, predicate, &self.rows, |untested| {
                let (matching, _) = self.base.filter_within(column, predicate, untested)?;
                Ok(matching)
            })?;
            return Ok((rows, path));
        }
        let rows = self.rows_where(column, |v| predicate.matches(v))?;
        Ok((rows, path))
    }

    fn null_rows(&self, column: &str) -> Result<RoaringBitmap, QueryError> {
        self.rows_where(column, Value::is_null)
    }

    fn fetch(&self, column: &str, rows: &RoaringBitmap) -> Result<Vec<Value>, QueryError> {
        let values = self.column(column)?;
        if *rows == self.rows {
            return Ok(values.as_ref().clone());
        }
        // Walk both ascending sequences; rows outside the restriction read as NULL.
        let mut mine = self.rows.iter().zip(values.iter()).peekable();
        let mut out = Vec::with_capacity(usize::try_from(rows.len()).unwrap_or(0));
        for row in rows {
            while mine.next_if(|(r, _)| *r < row).is_some() {}
            match mine.peek() {
                Some((r, v)) if *r == row => out.push((*v).clone()),
                _ => out.push(Value::Null),
            }
        }
        Ok(out)
    }
}

/// `profiles` and `events` restricted to a set of profiles and their events.
pub(crate) struct RestrictedCatalog<'s> {
    profiles: RestrictedTable<'s>,
    events: RestrictedTable<'s>,
    now: i64,
}

impl<'s> RestrictedCatalog<'s> {
    /// The profiles of `profiles` that are live in `full`, and their events per `index`.
    pub(crate) fn new(
        full: &'s dyn Catalog,
        snapshot: &Snapshot,
        index: &'s EventIndex,
        profiles: &RoaringBitmap,
        now: i64,
    ) -> Result<Self, LiveError> {
        let missing = |name: &str| QueryError::Internal(format!("catalog has no {name} table"));
        let profile_table = full.table("profiles").ok_or_else(|| missing("profiles"))?;
        let event_table = full.table("events").ok_or_else(|| missing("events"))?;
        let live_profiles = profiles & snapshot.live_rows(TableKind::Profiles);
        let (event_rows, owners) = index.events_of(&live_profiles);
        let mut events = RestrictedTable::new(event_table, event_rows);
        events.verdicts = Some(&index.verdicts);
        if EventIndex::has_events(snapshot) {
            events.seed(EVENT_PROFILE_COLUMN, owners);
        }
        Ok(RestrictedCatalog {
            profiles: RestrictedTable::new(profile_table, live_profiles),
            events,
            now,
        })
    }

    /// The restricted table of `kind`.
    pub(crate) fn restricted(&self, kind: TableKind) -> &RestrictedTable<'s> {
        match kind {
            TableKind::Profiles => &self.profiles,
            TableKind::Events => &self.events,
        }
    }
}

impl Catalog for RestrictedCatalog<'_> {
    fn table(&self, name: &str) -> Option<&dyn TableSource> {
        match name {
            "profiles" => Some(&self.profiles),
            "events" => Some(&self.events),
            _ => None,
        }
    }

    fn table_names(&self) -> Vec<String> {
        vec!["profiles".to_owned(), "events".to_owned()]
    }

    fn now_micros(&self) -> i64 {
        self.now
    }
}
