//! Operator splits and rule changes, applied to the graph and to the rows in one batch.
//!
//! The graph action is logged (WAL kind 4) together with the row changes it implies: events
//! move to the profile their message belongs to now, the removed message's event is erased,
//! traits, identifier columns and computed traits of every affected profile are rebuilt from
//! its events, and profiles that are no longer live lose their row.

use super::columns::{Fitter, MESSAGE_ID_COLUMN, TIMESTAMP_COLUMN, TRAITS_PREFIX, TYPE_COLUMN};
use super::error::ProfilesResult;
use super::ingest::{
    events_of_rows, fetch_or_null, identifier_columns, identifier_values, offer, stored_traits,
    Candidate, Plan,
};
use super::scratch::recompute_rows;
use super::state::{Slot, State, NO_ROW};
use super::Profiles;
use crate::db::{BuiltBatch, WriteContext, WriteOp};
use crate::error::Result;
use crate::identity::{Identifier, IdentityConfig, IdentityError, ProfileId, SplitReport};
use crate::mutation::{IdentityAction, IdentityChange};
use crate::schema::TableKind;
use crate::value::Value;
use roaring::RoaringBitmap;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

impl Profiles {
    /// Declares message `message_id`'s links wrong: the graph is rebuilt without them, and
    /// the profiles as if the message had never been ingested (its event is erased).
    /// Durable on return.
    ///
    /// # Errors
    /// Engine errors.
    pub fn remove_link(&self, message_id: &str) -> ProfilesResult<SplitReport> {
        self.operator(IdentityAction::RemoveLink(message_id.to_owned()))
    }

    /// Blocks one identifier value as if it had always been blocked. Durable on return.
    ///
    /// # Errors
    /// Engine errors.
    pub fn block_value(&self, identifier: &Identifier) -> ProfilesResult<SplitReport> {
        self.operator(IdentityAction::BlockValue(identifier.clone()))
    }

    /// Applies new identity rules to the whole history. Durable on return.
    ///
    /// # Errors
    /// [`IdentityError::Config`] for inconsistent rules; engine errors.
    pub fn reapply_config(&self, config: IdentityConfig) -> ProfilesResult<SplitReport> {
        config.validate()?;
        self.operator(IdentityAction::ReapplyConfig(config))
    }

    fn operator(&self, action: IdentityAction) -> ProfilesResult<SplitReport> {
        let mut state = self.state.lock();
        let (_, outcome) = self.db.write_with(|ctx| {
            let report = match action.apply(ctx.graph) {
                Ok(report) => report,
                Err(error) => return Ok(failed(error)),
            };
            let removed: HashSet<String> = match &action {
                IdentityAction::RemoveLink(id) if report.messages_ignored > 0 => {
                    HashSet::from([id.clone()])
                }
                _ => HashSet::new(),
            };
            let mut built = rebuild(ctx, &mut state, &report, &removed)?;
            built.identity.push(IdentityChange::Action(action.clone()));
            Ok(BuiltBatch {
                batch: built.batch,
                identity: built.identity,
                deleted_events: built.deleted_events,
                value: Ok(report),
            })
        })?;
        Ok(outcome?)
    }
}

fn failed(error: IdentityError) -> BuiltBatch<Result<SplitReport, IdentityError>> {
    BuiltBatch {
        batch: crate::WriteBatch::new(),
        identity: Vec::new(),
        deleted_events: Vec::new(),
        value: Err(error),
    }
}

/// Rows changes after the graph was split or re-ruled.
fn rebuild(
    ctx: &mut WriteContext<'_>,
    state: &mut State,
    report: &SplitReport,
    removed: &HashSet<String>,
) -> Result<BuiltBatch<()>> {
    let affected = affected_profiles(report);
    let old_rows: BTreeMap<u32, u32> = affected
        .iter()
        .filter_map(|p| state.row(p.0).map(|r| (r, p.0)))
        .filter(|(r, _)| !ctx.deleted_profiles.contains(*r))
        .collect();
    let owners: Vec<u32> = old_rows.keys().copied().collect();
    let events = events_of_rows(ctx.snapshot, &owners)?;
    let all_events: RoaringBitmap = events.values().flatten().copied().collect();
    let message_ids = ctx
        .snapshot
        .fetch(TableKind::Events, MESSAGE_ID_COLUMN, &all_events)?;
    let message_of: HashMap<u32, String> = all_events
        .iter()
        .zip(message_ids)
        .filter_map(|(row, v)| match v {
            Value::String(m) => Some((row, m)),
            _ => None,
        })
        .collect();
    let reassigned: HashMap<&str, ProfileId> = report
        .reassigned
        .iter()
        .map(|(m, _, after)| (m.as_str(), *after))
        .collect();
    let detached: HashSet<&str> = report.detached.iter().map(|(m, _)| m.as_str()).collect();

    let mut plan = Plan::new(ctx.next_profile_row, ctx.deleted_profiles);
    // Retired profiles lose their row; their events all move (per the report).
    let mut dead_rows = Vec::new();
    for p in &report.retired {
        if let Some(row) = state.row(p.0) {
            state.set_row(p.0, NO_ROW);
            state.computed.remove(row);
            dead_rows.push(row);
        }
    }
    let mut deleted_events = Vec::new();
    let mut owner_of: BTreeMap<u32, u32> = BTreeMap::new();
    let mut moves: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    for (&old_owner, rows) in &events {
        for &event in rows {
            let message = message_of.get(&event).map_or("", String::as_str);
            if removed.contains(message) || detached.contains(message) {
                deleted_events.push(event);
                continue;
            }
            let owner = match reassigned.get(message) {
                Some(after) => plan.row_of(state, ctx.graph.canonical(*after)),
                None if dead_rows.contains(&old_owner) => {
                    // Not reported as reassigned, yet its profile is gone: follow the old id.
                    let old = ProfileId(old_rows[&old_owner]);
                    let now = ctx.graph.canonical(old);
                    if report.retired.contains(&now) {
                        deleted_events.push(event);
                        continue;
                    }
                    plan.row_of(state, now)
                }
                None => old_owner,
            };
            if owner != old_owner {
                moves.entry(owner).or_default().push(event);
            }
            owner_of.insert(event, owner);
        }
    }
    // Every live affected profile gets a row, even one left without events.
    let mut live: BTreeMap<u32, ProfileId> = BTreeMap::new();
    for p in &affected {
        let canonical = ctx.graph.canonical(*p);
        if canonical == *p && !report.retired.contains(p) {
            let row = plan.row_of(state, canonical);
            live.insert(row, canonical);
        }
    }
    plan.write_new_rows();
    let mut fitter = Fitter::new(ctx.profiles_schema, ctx.events_schema);
    rebuild_traits(ctx, state, &mut plan, &owner_of, &live, &mut fitter)?;
    rebuild_identifiers(ctx, &mut plan, &live, &mut fitter)?;
    rebuild_computed(ctx, state, &mut plan, &owner_of, &live, &mut fitter)?;
    for (to, rows) in moves {
        plan.batch.ops.push(WriteOp::MoveEvents { rows, to });
    }
    for row in dead_rows {
        if !live.contains_key(&row) {
            plan.batch
                .ops
                .push(WriteOp::DeleteProfileRow { profile: row });
        }
    }
    plan.write_new_rows();
    Ok(BuiltBatch {
        batch: plan.batch,
        identity: Vec::new(),
        deleted_events,
        value: (),
    })
}

/// Every profile id the report mentions.
fn affected_profiles(report: &SplitReport) -> BTreeSet<ProfileId> {
    let mut out = BTreeSet::new();
    for (_, before, after) in &report.reassigned {
        out.insert(*before);
        out.insert(*after);
    }
    out.extend(report.detached.iter().map(|(_, before)| *before));
    out.extend(report.created.iter().copied());
    out.extend(report.changed.iter().copied());
    out.extend(report.retired.iter().copied());
    out
}

/// Recomputes the traits of the live rows from their identify events.
fn rebuild_traits(
    ctx: &WriteContext<'_>,
    state: &State,
    plan: &mut Plan<'_>,
    owner_of: &BTreeMap<u32, u32>,
    live: &BTreeMap<u32, ProfileId>,
    fitter: &mut Fitter<'_>,
) -> Result<()> {
    let identifier_keys = identifier_columns(ctx.graph.config());
    let computed: HashSet<&str> = state
        .definitions
        .traits
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    let events: RoaringBitmap = owner_of.keys().copied().collect();
    let fetch = |column: &str| ctx.snapshot.fetch(TableKind::Events, column, &events);
    let kinds = fetch(TYPE_COLUMN)?;
    let stamps = fetch(TIMESTAMP_COLUMN)?;
    let messages = fetch(MESSAGE_ID_COLUMN)?;
    let mut candidates = rustc_hash::FxHashMap::default();
    let trait_columns: Vec<String> = ctx
        .events_schema
        .columns()
        .iter()
        .map(|c| c.name.clone())
        .filter(|n| n.starts_with(TRAITS_PREFIX))
        .collect();
    for column in trait_columns {
        let key = &column[TRAITS_PREFIX.len()..];
        if identifier_keys.contains(key) || computed.contains(key) {
            continue;
        }
        let values = fetch(&column)?;
        for (i, event) in events.iter().enumerate() {
            let (Value::String(kind), Value::Timestamp(ts), Value::String(msg)) =
                (&kinds[i], &stamps[i], &messages[i])
            else {
                continue;
            };
            if kind != "identify" || values[i].is_null() {
                continue;
            }
            let Some(&owner) = owner_of.get(&event) else {
                continue;
            };
            let Some(value) = fitter.fit_derived(TableKind::Profiles, key, values[i].clone())
            else {
                continue;
            };
            let candidate = Candidate {
                value,
                ts: *ts,
                msg: msg.clone(),
            };
            offer(&mut candidates, owner, key.to_owned(), candidate);
        }
    }
    for &row in live.keys() {
        let mut cells = Vec::new();
        let old: Vec<String> = stored_traits(ctx.snapshot, row)?
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        for key in &old {
            if !candidates.contains_key(&(row, key.clone())) {
                cells.push((key.clone(), Value::Null));
                cells.push((super::columns::ts_column(key), Value::Null));
                cells.push((super::columns::msg_column(key), Value::Null));
            }
        }
        if !cells.is_empty() {
            plan.batch.upsert_profile(row, cells);
        }
    }
    let mut per_row: BTreeMap<u32, Vec<(String, Value)>> = BTreeMap::new();
    for ((row, key), candidate) in candidates {
        if !live.contains_key(&row) {
            continue;
        }
        let cells = per_row.entry(row).or_default();
        cells.push((
            super::columns::ts_column(&key),
            Value::Timestamp(candidate.ts),
        ));
        cells.push((
            super::columns::msg_column(&key),
            Value::String(candidate.msg),
        ));
        cells.push((key, candidate.value));
    }
    for (row, cells) in per_row {
        plan.batch.upsert_profile(row, cells);
    }
    Ok(())
}

/// Rewrites every identifier column of the live rows from the graph (NULL for types gone).
fn rebuild_identifiers(
    ctx: &WriteContext<'_>,
    plan: &mut Plan<'_>,
    live: &BTreeMap<u32, ProfileId>,
    fitter: &mut Fitter<'_>,
) -> Result<()> {
    let columns = identifier_columns(ctx.graph.config());
    for (&row, &profile) in live {
        let wanted = identifier_values(ctx.graph, profile);
        let mut cells = Vec::new();
        for column in &columns {
            let value = wanted
                .iter()
                .find(|(c, _)| c == column)
                .map_or(Value::Null, |(_, v)| v.clone());
            let old = fetch_or_null(ctx.snapshot, column, &RoaringBitmap::from_iter([row]))?;
            if old.first() == Some(&value) {
                continue;
            }
            if let Some(fitted) = fitter.fit_derived(TableKind::Profiles, column, value) {
                cells.push((column.clone(), fitted));
            }
        }
        if !cells.is_empty() {
            plan.batch.upsert_profile(row, cells);
        }
    }
    Ok(())
}

/// Recomputes the computed traits of the live rows from their (reassigned) events.
fn rebuild_computed(
    ctx: &WriteContext<'_>,
    state: &mut State,
    plan: &mut Plan<'_>,
    owner_of: &BTreeMap<u32, u32>,
    live: &BTreeMap<u32, ProfileId>,
    fitter: &mut Fitter<'_>,
) -> Result<()> {
    let definitions = state.definitions.traits.clone();
    if definitions.is_empty() {
        return Ok(());
    }
    let now = state.definitions.clock;
    let mut events_of: BTreeMap<u32, RoaringBitmap> = BTreeMap::new();
    for (&event, &owner) in owner_of {
        events_of.entry(owner).or_default().insert(event);
    }
    for &row in live.keys() {
        let rows = events_of.remove(&row).unwrap_or_default();
        let written: Vec<Value> = state
            .computed
            .get(row)
            .map(|slots| slots.iter().map(|s| s.written.clone()).collect())
            .unwrap_or_default();
        let mut slots = Vec::with_capacity(definitions.len());
        for (i, definition) in definitions.iter().enumerate() {
            let mut total = super::computed::TraitState::new(definition);
            for part in recompute_rows(definition, ctx.snapshot, now, &rows)?.values() {
                total.merge(part);
            }
            slots.push(Slot {
                state: total,
                written: written.get(i).cloned().unwrap_or(Value::Null),
            });
        }
        state.computed.insert(row, slots);
    }
    super::maintain::write_computed(state, live.keys().copied(), &mut plan.batch, fitter);
    Ok(())
}
