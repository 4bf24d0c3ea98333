//! Turning a call's messages into one atomic batch: link records, events, trait upserts,
//! identifier columns, merges and computed traits.

use super::columns::{
    msg_column, ts_column, EventRow, Fitter, Prepared, IDENTITY_COLUMN, TS_PREFIX,
};
use super::error::MessageRejection;
use super::event_index::EventIndex;
use super::maintain::TraitWork;
use super::state::{message_key, KeySet, State, NO_ROW};
use crate::db::{BuiltBatch, WriteContext, WriteOp, EVENT_PROFILE_COLUMN};
use crate::error::Result;
use crate::identity::{
    Identifier, IdentityConfig, IdentityGraph, LinkOutcome, LinkRecord, Located, Merge, ProfileId,
    Rejected, ShownNode,
};
use crate::message::Message;
use crate::mutation::IdentityChange;
use crate::scan::{filter, Predicate};
use crate::schema::TableKind;
use crate::snapshot::Snapshot;
use crate::value::{ColumnType, Value};
use crate::WriteBatch;
use roaring::RoaringBitmap;
use rustc_hash::{FxHashMap, FxHashSet};
use std::borrow::Borrow;
use std::collections::BTreeMap;

/// What one `ingest` call did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IngestReport {
    /// Messages written.
    pub accepted: usize,
    /// Indices of messages skipped because their `messageId` was already ingested.
    pub duplicates: Vec<usize>,
    /// Messages rejected, with the reason; the rest of the call was kept.
    pub rejected: Vec<RejectedMessage>,
    /// Profiles created.
    pub profiles_created: usize,
    /// Profile merges performed.
    pub merges: usize,
    /// Links the identity limits refused.
    pub refused_links: usize,
    /// Identifier values dropped as malformed or blocked (the messages were kept).
    pub ignored_identifiers: usize,
    /// WAL sequence number of the call's last record (0 when nothing was written): once it
    /// is durable, the whole call is.
    pub lsn: u64,
    /// Profile rows whose attributes the call changed: written, merged into, or absorbed by
    /// a merge (and so deleted). Profiles that only gained events are listed too. Live
    /// segments re-evaluate exactly these.
    pub touched: RoaringBitmap,
}

/// One rejected message of an `ingest` call.
#[derive(Debug, Clone, PartialEq)]
pub struct RejectedMessage {
    /// Its position in the call's input.
    pub index: usize,
    /// Its `messageId`, when it had one.
    pub message_id: Option<String>,
    /// Why it was rejected.
    pub reason: MessageRejection,
}

/// A value with the (timestamp, message id) that set it: the trait merge rule keeps the
/// greatest pair.
#[derive(Debug, Clone)]
pub(crate) struct Candidate {
    pub value: Value,
    pub ts: i64,
    pub msg: String,
}

impl Candidate {
    fn beats(&self, ts: i64, msg: &str) -> bool {
        (self.ts, self.msg.as_str()) > (ts, msg)
    }
}

/// An accepted message on its way into the batch.
struct Accepted {
    timestamp_micros: i64,
    profile: ProfileId,
    prepared: Prepared,
}

/// One message to ingest: its position in the call's input, the message (owned when it
/// was parsed for this call, borrowed otherwise), its unfitted event row, and its
/// identifiers when they were extracted ahead (see [`Ahead`]).
pub(crate) type Incoming<M> = (usize, M, EventRow, Option<Extracted>);

/// A message's identifiers and the candidates rejected, as `IdentityGraph::identifiers_of`
/// gives them.
pub(crate) type Extracted = (Vec<Identifier>, Vec<Rejected>);

/// The identity configuration that incoming identifiers were extracted under, on the thread
/// that parsed them: the writer uses them only while it is still the graph's configuration.
pub(crate) type Ahead<'a> = Option<&'a IdentityConfig>;

/// Names that are identifier columns, not traits: built-in type names, custom type names
/// and their trait keys, and the `email`/`phone` trait keys.
pub(crate) fn identifier_columns(config: &IdentityConfig) -> FxHashSet<String> {
    let mut out: FxHashSet<String> = config
        .all_types()
        .iter()
        .map(|t| t.name().to_owned())
        .collect();
    for custom in &config.custom_types {
        out.insert(custom.name.clone());
        out.insert(custom.trait_key.clone());
    }
    out
}

/// Fewest (event, trait) pairs whose upkeep is worth a thread of its own; below this,
/// starting one costs more than it saves.
pub(crate) const MIN_DEFERRED_TRAIT_INPUTS: usize = 2_048;

/// Takes a call's trait upkeep, with the state (whose trait states it may take away until
/// the follow-up) and the write context; gives the work back if it cannot run it.
pub(crate) type SendTraits<'f> = &'f mut dyn FnMut(
    TraitWork,
    &mut State,
    &WriteContext<'_>,
) -> std::result::Result<(), TraitWork>;

/// Builds the batch of one call (run under the writer lock) from its messages and how many
/// are expected. They may still be arriving: a caller parsing on another thread streams them
/// in while this resolves. Each message goes to `spent` once resolved, so a caller can free
/// it where that is cheapest. A call with enough computed-trait upkeep hands it to
/// `send_traits` (if given), to run beside the rest of the write and be logged in a
/// follow-up batch; it gives the work back when it cannot take it. Otherwise the trait
/// values are in the batch.
pub(crate) fn build<M: Borrow<Message>>(
    ctx: &mut WriteContext<'_>,
    state: &mut State,
    events_index: &EventIndex,
    messages: (impl Iterator<Item = Incoming<M>>, usize, Ahead<'_>),
    spent: &mut dyn FnMut(M),
    report: &mut IngestReport,
    send_traits: Option<SendTraits<'_>>,
) -> Result<BuiltBatch<()>> {
    let resolved = resolve_all(ctx, state, messages, spent, report);
    let (accepted, identity, merges) = (resolved.accepted, resolved.identity, resolved.merges);
    let event_columns = resolved.event_columns;
    let mut plan = Plan::new(ctx.next_profile_row, ctx.deleted_profiles);
    let mut candidates: FxHashMap<(u32, String), Candidate> = FxHashMap::default();
    // Collected one entry per message, then sorted by row and deduplicated below: a row
    // is always reached as the same profile, so any duplicate can go.
    let mut touched: Vec<(u32, ProfileId)> = Vec::new();
    let absorbed = plan.absorb(state, ctx.graph, &merges);
    let absorbed_rows: RoaringBitmap = absorbed.iter().map(|(row, _)| *row).collect();
    let mut absorbed_traits = stored_traits_of_rows(ctx.snapshot, &absorbed_rows)?;
    // Rows whose trait states take in an absorbed profile's.
    let mut survivor_rows = Vec::with_capacity(absorbed.len());
    for (absorbed_row, survivor) in &absorbed {
        let row = plan.row_of(state, ctx.graph.canonical(*survivor));
        touched.push((row, ctx.graph.canonical(*survivor)));
        survivor_rows.push(row);
        for (key, candidate) in absorbed_traits.remove(absorbed_row).unwrap_or_default() {
            offer(&mut candidates, row, key, candidate);
        }
        merge_computed(state, *absorbed_row, row);
    }
    let mut events = Vec::with_capacity(accepted.len());
    // Each accepted message logged one link record, in the same order: its message id is
    // read there, and copied only for the traits it sets.
    debug_assert_eq!(
        accepted.len(),
        identity.len(),
        "one link record per message"
    );
    let message_ids = identity.iter().filter_map(|change| match change {
        IdentityChange::Link(record) => Some(record.message_id.as_str()),
        IdentityChange::Action(_) => None,
    });
    for (item, message_id) in accepted.into_iter().zip(message_ids) {
        let final_profile = ctx.graph.canonical(item.profile);
        let row = plan.row_of(state, final_profile);
        touched.push((row, final_profile));
        for (key, value) in item.prepared.traits {
            let candidate = Candidate {
                value,
                ts: item.timestamp_micros,
                msg: message_id.to_owned(),
            };
            offer(&mut candidates, row, key, candidate);
        }
        events.push((row, item.prepared.event));
    }
    touched.sort_unstable_by_key(|(row, _)| *row);
    touched.dedup_by_key(|(row, _)| *row);
    report.touched.extend(touched.iter().map(|(row, _)| *row));
    report.touched |= &absorbed_rows;
    // Trait upkeep needs only each event's row: it can start now, beside the rest.
    let mut work = resolved.trait_work;
    // Slots are positions among the accepted messages, which `events` keeps.
    work.assign_rows(|slot| events[slot as usize].0, survivor_rows);
    let work_here = match send_traits {
        Some(send) if work.len() >= MIN_DEFERRED_TRAIT_INPUTS => send(work, state, ctx).err(),
        _ => Some(work),
    };
    let mut fitter = Fitter::new(ctx.profiles_schema, ctx.events_schema);
    plan.write_new_rows();
    plan.write_traits(ctx.snapshot, candidates)?;
    let known = KnownIdentifiers {
        before: resolved.identifiers_before,
        first_new_row: ctx.next_profile_row,
        changed_profiles: resolved.changed_profiles,
    };
    plan.write_identifiers(ctx.snapshot, ctx.graph, &touched, &known, &mut fitter)?;
    if let Some(work) = work_here {
        let definitions = &state.definitions.traits;
        let now = state.definitions.clock;
        for (row, cells) in work.run(&mut state.computed, definitions, now, &mut fitter) {
            plan.batch.upsert_profile(row, cells);
        }
    }
    for (row, event) in events {
        plan.batch.append_fitted_event(row, event);
    }
    plan.batch.set_fitted_event_columns(event_columns);
    plan.move_absorbed(ctx.snapshot, events_index, &absorbed, state, ctx.graph)?;
    Ok(BuiltBatch {
        batch: plan.batch,
        identity,
        deleted_events: Vec::new(),
        value: (),
    })
}

/// What resolving a call's messages produced.
struct Resolved {
    accepted: Vec<Accepted>,
    identity: Vec<IdentityChange>,
    merges: Vec<Merge>,
    /// Identifier column values of the existing rows the call reaches, as of before the call.
    identifiers_before: FxHashMap<u32, Vec<ShownNode>>,
    /// Profiles whose identifier columns the call may have changed (see [`KnownIdentifiers`]).
    changed_profiles: FxHashSet<u32>,
    /// Events columns the accepted messages' fitted event rows add, in order.
    event_columns: Vec<(String, ColumnType)>,
    /// What the accepted events bring to computed traits, each event's row still to assign
    /// (its slot is its position among the accepted messages).
    trait_work: TraitWork,
}

/// Identifier columns whose stored values are known without reading them.
///
/// A profile row's identifier columns always hold [`identifier_values`] of its profile as of
/// the last write that touched it, so the values computed from the graph just before a call
/// are what the row stores. Knowing them saves reading those columns for every touched row,
/// which on a large database means decoding chunks all over the table on every call.
pub(crate) struct KnownIdentifiers {
    /// Values by row (as the graph's nodes), taken before the call changed the graph.
    pub before: FxHashMap<u32, Vec<ShownNode>>,
    /// Rows from here on were allocated by this call and store nothing yet.
    pub first_new_row: u32,
    /// Profiles whose identifier columns may differ from `before`: those that gained an
    /// identifier, merged, or saw an identifier other than the one their column shows. A
    /// message that only repeats a profile's shown identifiers can only raise their
    /// `last_seen`, so they stay the ones shown; rows of other profiles are left as they are.
    pub changed_profiles: FxHashSet<u32>,
}

impl KnownIdentifiers {
    /// Whether the identifier columns of `row` (holding `profile`) are known to be unchanged.
    fn unchanged(&self, row: u32, profile: ProfileId) -> bool {
        row < self.first_new_row
            && self.before.contains_key(&row)
            && !self.changed_profiles.contains(&profile.0)
    }
}

/// Notes the identifier columns of the existing profiles the `located` identifiers of a
/// message resolve to, before the graph changes them (only the first sighting in a call
/// counts). Returns the profile when every identifier already belongs to it and is the one
/// its column shows: resolving the message then leaves the profile's identifier columns as
/// they are.
fn remember_identifiers(
    graph: &IdentityGraph,
    state: &State,
    located: &[Located],
    before: &mut FxHashMap<u32, Vec<ShownNode>>,
) -> Option<ProfileId> {
    let mut owner: Option<ProfileId> = None;
    let mut shown = !located.is_empty();
    for place in located {
        let found = place
            .node
            .and_then(|node| Some((node, ProfileId(graph.node_profile(node)?))));
        let Some((node, profile)) = found else {
            shown = false;
            continue;
        };
        shown &= owner.is_none_or(|o| o == profile);
        owner = Some(profile);
        let Some(row) = state.row(profile.0) else {
            shown = false;
            continue;
        };
        let winners = before
            .entry(row)
            .or_insert_with(|| graph.shown_nodes(profile));
        shown &= winners.iter().any(|winner| winner.node == node);
    }
    owner.filter(|_| shown)
}

/// Dedups, validates and resolves every message, in order.
fn resolve_all<M: Borrow<Message>>(
    ctx: &mut WriteContext<'_>,
    state: &mut State,
    (messages, expected, ahead): (impl Iterator<Item = Incoming<M>>, usize, Ahead<'_>),
    spent: &mut dyn FnMut(M),
    report: &mut IngestReport,
) -> Resolved {
    let ahead_applies = ahead.is_some_and(|config| config == ctx.graph.config());
    let identifier_keys = identifier_columns(ctx.graph.config());
    let computed: FxHashSet<&str> = state
        .definitions
        .traits
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    let is_profile_trait = |k: &str| !identifier_keys.contains(k) && !computed.contains(k);
    let mut fitter = Fitter::new(ctx.profiles_schema, ctx.events_schema);
    let mut accepted = Vec::with_capacity(expected);
    let mut identity = Vec::with_capacity(expected);
    let mut merges = Vec::new();
    let mut identifiers_before = FxHashMap::default();
    let mut changed_profiles = FxHashSet::default();
    let mut in_call = KeySet::default();
    let mut located = Vec::new();
    let mut trait_work = TraitWork::default();
    for (index, message, event, extracted) in messages {
        let msg: &Message = message.borrow();
        let key = message_key(&msg.message_id);
        if state.dedup.contains(key) || !in_call.insert(key) {
            report.duplicates.push(index);
            spent(message);
            continue;
        }
        let prepared = match fitter.prepare(msg, event, &is_profile_trait) {
            Ok(prepared) => {
                let slot = u32::try_from(accepted.len()).unwrap_or(u32::MAX);
                trait_work.add_event(&state.definitions.traits, slot, &prepared.event);
                prepared
            }
            Err(reason) => {
                in_call.remove(&key);
                report.rejected.push(RejectedMessage {
                    index,
                    message_id: Some(msg.message_id.clone()),
                    reason,
                });
                spent(message);
                continue;
            }
        };
        let (ids, dropped) = match extracted {
            Some(extracted) if ahead_applies => extracted,
            _ => ctx.graph.identifiers_of(msg),
        };
        ctx.graph.locate(&ids, &mut located);
        let shown_on = remember_identifiers(ctx.graph, state, &located, &mut identifiers_before);
        let resolution =
            ctx.graph
                .resolve_located(&ids, &located, &msg.message_id, msg.timestamp_micros);
        let unchanged = shown_on == Some(resolution.profile)
            && !resolution.created
            && resolution.merged.is_empty()
            && resolution.refused.is_empty();
        if !unchanged {
            changed_profiles.insert(ctx.graph.canonical(resolution.profile).0);
            for merge in &resolution.merged {
                changed_profiles.insert(merge.survivor.0);
                changed_profiles.insert(merge.absorbed.0);
                changed_profiles.insert(ctx.graph.canonical(merge.survivor).0);
            }
        }
        report.ignored_identifiers += dropped.len();
        report.profiles_created += usize::from(resolution.created);
        report.merges += resolution.merged.len();
        report.refused_links += resolution.refused.len();
        report.accepted += 1;
        merges.extend(resolution.merged.iter().copied());
        identity.push(IdentityChange::Link(LinkRecord {
            message_id: msg.message_id.clone(),
            timestamp_micros: msg.timestamp_micros,
            identifiers: ids,
            outcome: LinkOutcome::of(&resolution),
        }));
        accepted.push(Accepted {
            timestamp_micros: msg.timestamp_micros,
            profile: resolution.profile,
            prepared,
        });
        state.dedup.insert(key);
        spent(message);
    }
    Resolved {
        accepted,
        identity,
        merges,
        identifiers_before,
        changed_profiles,
        event_columns: fitter.take_events_added(),
        trait_work,
    }
}

/// Keeps the better of two candidates for one (row, trait).
pub(crate) fn offer(
    candidates: &mut FxHashMap<(u32, String), Candidate>,
    row: u32,
    key: String,
    candidate: Candidate,
) {
    match candidates.entry((row, key)) {
        std::collections::hash_map::Entry::Occupied(mut slot) => {
            if candidate.beats(slot.get().ts, &slot.get().msg) {
                slot.insert(candidate);
            }
        }
        std::collections::hash_map::Entry::Vacant(slot) => {
            slot.insert(candidate);
        }
    }
}

/// The traits of a stored profile row with their `_ts`/`_msg` stamps.
pub(crate) fn stored_traits(snapshot: &Snapshot, row: u32) -> Result<Vec<(String, Candidate)>> {
    let rows: RoaringBitmap = std::iter::once(row).collect();
    Ok(stored_traits_of_rows(snapshot, &rows)?
        .remove(&row)
        .unwrap_or_default())
}

/// The traits of several stored profile rows with their `_ts`/`_msg` stamps, by row.
///
/// Reads column by column over all `rows` at once: a merge-heavy call absorbs thousands of
/// rows, and reading each row's cells separately would decode the same chunks again and again.
pub(crate) fn stored_traits_of_rows(
    snapshot: &Snapshot,
    rows: &RoaringBitmap,
) -> Result<FxHashMap<u32, Vec<(String, Candidate)>>> {
    let mut out: FxHashMap<u32, Vec<(String, Candidate)>> = FxHashMap::default();
    if rows.is_empty() {
        return Ok(out);
    }
    let keys: Vec<String> = snapshot
        .schema(TableKind::Profiles)
        .columns()
        .iter()
        .filter_map(|c| c.name.strip_prefix(TS_PREFIX).map(str::to_owned))
        .collect();
    for key in keys {
        let stamped: Vec<(u32, i64)> = rows
            .iter()
            .zip(fetch_or_null(snapshot, &ts_column(&key), rows)?)
            .filter_map(|(row, ts)| match ts {
                Value::Timestamp(ts) => Some((row, ts)),
                _ => None,
            })
            .collect();
        if stamped.is_empty() {
            continue;
        }
        let with_stamp: RoaringBitmap = stamped.iter().map(|(row, _)| *row).collect();
        let messages = fetch_or_null(snapshot, &msg_column(&key), &with_stamp)?;
        let values = fetch_or_null(snapshot, &key, &with_stamp)?;
        for (((row, ts), msg), value) in stamped.into_iter().zip(messages).zip(values) {
            let msg = match msg {
                Value::String(m) => m,
                _ => String::new(),
            };
            out.entry(row)
                .or_default()
                .push((key.clone(), Candidate { value, ts, msg }));
        }
    }
    Ok(out)
}

/// Moves the computed-trait states of an absorbed row into its survivor's row.
fn merge_computed(state: &mut State, absorbed_row: u32, row: u32) {
    let Some(taken) = state.computed.remove(absorbed_row) else {
        return;
    };
    let slots = state.slots_mut(row);
    for (mine, theirs) in slots.iter_mut().zip(&taken) {
        mine.state.merge(&theirs.state);
    }
}

/// The batch under construction and the rows it allocates.
pub(crate) struct Plan<'a> {
    pub batch: WriteBatch,
    /// Rows from here on are allocated by this plan and store nothing yet.
    first_new_row: u32,
    next_row: u32,
    deleted: &'a RoaringBitmap,
    new_rows: Vec<(u32, ProfileId)>,
}

impl<'a> Plan<'a> {
    pub fn new(next_row: u32, deleted: &'a RoaringBitmap) -> Self {
        Plan {
            batch: WriteBatch::new(),
            first_new_row: next_row,
            next_row,
            deleted,
            new_rows: Vec::new(),
        }
    }

    /// The live row of identity profile `p`, allocated (and mapped) when it has none.
    pub fn row_of(&mut self, state: &mut State, p: ProfileId) -> u32 {
        if let Some(row) = state.row(p.0) {
            if !self.deleted.contains(row) {
                return row;
            }
        }
        let row = self.next_row;
        self.next_row = self.next_row.saturating_add(1);
        state.set_row(p.0, row);
        self.new_rows.push((row, p));
        row
    }

    /// Unmaps absorbed profiles; returns (absorbed row, absorbing profile) for those with rows.
    pub fn absorb(
        &mut self,
        state: &mut State,
        graph: &IdentityGraph,
        merges: &[Merge],
    ) -> Vec<(u32, ProfileId)> {
        let mut out = Vec::new();
        for merge in merges {
            if let Some(row) = state.row(merge.absorbed.0) {
                state.set_row(merge.absorbed.0, NO_ROW);
                if !self.deleted.contains(row) {
                    out.push((row, graph.canonical(merge.survivor)));
                }
            }
        }
        out
    }

    /// Writes `_identity` on rows allocated by this call.
    pub fn write_new_rows(&mut self) {
        for (row, p) in std::mem::take(&mut self.new_rows) {
            self.batch.upsert_profile(
                row,
                vec![(IDENTITY_COLUMN.to_owned(), Value::Int64(i64::from(p.0)))],
            );
        }
    }

    /// Writes each winning trait that beats the value stored for its row.
    pub fn write_traits(
        &mut self,
        snapshot: &Snapshot,
        candidates: FxHashMap<(u32, String), Candidate>,
    ) -> Result<()> {
        let mut by_key: FxHashMap<String, Vec<(u32, Candidate)>> = FxHashMap::default();
        for ((row, key), candidate) in candidates {
            by_key.entry(key).or_default().push((row, candidate));
        }
        let mut cells = Vec::new();
        for (key, mut items) in by_key {
            items.sort_unstable_by_key(|(row, _)| *row);
            let stored = stored_stamps(snapshot, &key, &items, self.first_new_row)?;
            for ((row, candidate), stamp) in items.into_iter().zip(stored) {
                if stamp.is_some_and(|(ts, msg)| !candidate.beats(ts, &msg)) {
                    continue;
                }
                cells.push((row, ts_column(&key), Value::Timestamp(candidate.ts)));
                cells.push((row, msg_column(&key), Value::String(candidate.msg)));
                cells.push((row, key.clone(), candidate.value));
            }
        }
        self.upsert_by_row(cells);
        Ok(())
    }

    /// Upserts `cells` as one write per row, rows ascending, each row's cells in the order
    /// given. Sorting a list is much cheaper than a map of rows with a vector grown per row,
    /// and a call touches tens of thousands of rows.
    fn upsert_by_row(&mut self, mut cells: Vec<(u32, String, Value)>) {
        // Stable: a row's cells keep their order.
        cells.sort_by_key(|(row, _, _)| *row);
        let lengths: Vec<usize> = cells.chunk_by(|a, b| a.0 == b.0).map(<[_]>::len).collect();
        let mut cells = cells.into_iter();
        for length in lengths {
            let mut row = 0;
            let row_cells = cells
                .by_ref()
                .take(length)
                .map(|(cell_row, column, value)| {
                    row = cell_row;
                    (column, value)
                })
                .collect();
            self.batch.upsert_profile(row, row_cells);
        }
    }

    /// Sets each identifier column of the touched profiles to the value of that type seen
    /// last (greatest `last_seen`, then greatest value), where it changed. Stored values come
    /// from `known` where it has them and are read only for the other rows.
    pub fn write_identifiers(
        &mut self,
        snapshot: &Snapshot,
        graph: &IdentityGraph,
        touched: &[(u32, ProfileId)],
        known: &KnownIdentifiers,
        fitter: &mut Fitter<'_>,
    ) -> Result<()> {
        let mut wanted: BTreeMap<String, Vec<(u32, Value)>> = BTreeMap::new();
        let mut changed: Vec<(u32, String, Value)> = Vec::new();
        for &(row, profile) in touched {
            if known.unchanged(row, profile) {
                continue;
            }
            let stored = if row >= known.first_new_row {
                Some(&[][..])
            } else {
                known.before.get(&row).map(Vec::as_slice)
            };
            for shown in graph.shown_nodes(profile) {
                let (column, value) = graph.shown_column(shown);
                match stored {
                    Some(stored) => {
                        let old = stored.iter().find(|old| old.code == shown.code);
                        if old != Some(&shown) {
                            let value = Value::String(value.to_owned());
                            changed.push((row, column.to_owned(), value));
                        }
                    }
                    None => wanted
                        .entry(column.to_owned())
                        .or_default()
                        .push((row, Value::String(value.to_owned()))),
                }
            }
        }
        for (column, items) in wanted {
            let rows: RoaringBitmap = items.iter().map(|(r, _)| *r).collect();
            let stored = fetch_or_null(snapshot, &column, &rows)?;
            for ((row, value), old) in items.into_iter().zip(stored) {
                if value != old {
                    changed.push((row, column.clone(), value));
                }
            }
        }
        let fitted = changed
            .into_iter()
            .filter_map(|(row, column, value)| {
                let fitted = fitter.fit_derived(TableKind::Profiles, &column, value)?;
                Some((row, column, fitted))
            })
            .collect();
        self.upsert_by_row(fitted);
        Ok(())
    }

    /// Moves absorbed rows' events to their survivors and deletes the absorbed rows.
    pub fn move_absorbed(
        &mut self,
        snapshot: &Snapshot,
        events_index: &EventIndex,
        absorbed: &[(u32, ProfileId)],
        state: &mut State,
        graph: &IdentityGraph,
    ) -> Result<()> {
        if absorbed.is_empty() {
            return Ok(());
        }
        let owners: Vec<u32> = absorbed.iter().map(|(r, _)| *r).collect();
        let events = events_index.events_of_many(snapshot, &owners)?;
        for &(row, survivor) in absorbed {
            let to = self.row_of(state, graph.canonical(survivor));
            let rows = events.get(&row).cloned().unwrap_or_default();
            if !rows.is_empty() {
                self.batch.ops.push(WriteOp::MoveEvents { rows, to });
            }
            self.batch
                .ops
                .push(WriteOp::DeleteProfileRow { profile: row });
        }
        self.write_new_rows();
        Ok(())
    }
}

/// (column, value) of each identifier type the profile holds.
pub(crate) fn identifier_values(graph: &IdentityGraph, profile: ProfileId) -> Vec<(String, Value)> {
    graph
        .shown_identifiers(profile)
        .into_iter()
        .map(|(kind, value)| (kind.name().to_owned(), Value::String(value)))
        .collect()
}

/// Stored (`_ts`, `_msg`) of trait `key` for the rows of `items` (in their order); rows from
/// `first_new_row` on are new and store nothing, so they are not read.
///
/// The message id only breaks ties between equal timestamps, so `_msg` is read just for the
/// rows whose stored timestamp equals the candidate's: reading a string column at random rows
/// decodes whole chunks, which on a large table is most of an ingest call's work.
fn stored_stamps(
    snapshot: &Snapshot,
    key: &str,
    items: &[(u32, Candidate)],
    first_new_row: u32,
) -> Result<Vec<Option<(i64, String)>>> {
    let rows: RoaringBitmap = items
        .iter()
        .map(|(r, _)| *r)
        .filter(|&r| r < first_new_row)
        .collect();
    let stored_ts: FxHashMap<u32, i64> = rows
        .iter()
        .zip(fetch_or_null(snapshot, &ts_column(key), &rows)?)
        .filter_map(|(row, ts)| match ts {
            Value::Timestamp(ts) => Some((row, ts)),
            _ => None,
        })
        .collect();
    let ties: RoaringBitmap = items
        .iter()
        .filter(|(row, candidate)| stored_ts.get(row) == Some(&candidate.ts))
        .map(|(row, _)| *row)
        .collect();
    let tie_messages: FxHashMap<u32, String> = ties
        .iter()
        .zip(fetch_or_null(snapshot, &msg_column(key), &ties)?)
        .map(|(row, msg)| match msg {
            Value::String(m) => (row, m),
            _ => (row, String::new()),
        })
        .collect();
    Ok(items
        .iter()
        .map(|(row, _)| {
            let ts = *stored_ts.get(row)?;
            // A message id is only needed to break a tie; without one, any id loses or wins
            // by the timestamps alone.
            let msg = tie_messages.get(row).cloned().unwrap_or_default();
            Some((ts, msg))
        })
        .collect())
}

/// Values of a profiles column for `rows` in ascending row order (NULL when unknown column).
pub(crate) fn fetch_or_null(
    snapshot: &Snapshot,
    column: &str,
    rows: &RoaringBitmap,
) -> Result<Vec<Value>> {
    if snapshot
        .schema(TableKind::Profiles)
        .column(column)
        .is_none()
    {
        return Ok(vec![Value::Null; rows.len() as usize]);
    }
    snapshot.fetch(TableKind::Profiles, column, rows)
}

/// Event rows of each profile row in `owners`.
pub(crate) fn events_of_rows(
    snapshot: &Snapshot,
    owners: &[u32],
) -> Result<FxHashMap<u32, Vec<u32>>> {
    let mut out: FxHashMap<u32, Vec<u32>> = FxHashMap::default();
    if owners.is_empty()
        || snapshot
            .schema(TableKind::Events)
            .column(EVENT_PROFILE_COLUMN)
            .is_none()
    {
        return Ok(out);
    }
    let list = owners.iter().map(|r| Value::Int64(i64::from(*r))).collect();
    let (rows, _) = filter(
        snapshot,
        TableKind::Events,
        EVENT_PROFILE_COLUMN,
        &Predicate::InList(list),
    )?;
    let owner_values = snapshot.fetch(TableKind::Events, EVENT_PROFILE_COLUMN, &rows)?;
    for (row, owner) in rows.iter().zip(owner_values) {
        if let Value::Int64(p) = owner {
            if let Ok(p) = u32::try_from(p) {
                out.entry(p).or_default().push(row);
            }
        }
    }
    Ok(out)
}
