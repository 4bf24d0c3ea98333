//! Applying one log entry to the state: the linking, merging and limit rules.
//!
//! The message's usable identifiers (configured type, not blocked, deduplicated) are taken in
//! priority order (type rank, then position in the message). A *group* starts empty and each
//! identifier in turn joins it if the group still fits every per-type limit afterwards:
//! an unseen identifier adds one to its type, a seen one brings its whole profile. An
//! identifier that does not fit is refused (not attached, recorded with the limit it would
//! break). So the most trusted identifier always wins, and a merge never produces a profile
//! over its limits. Then:
//! - no profile in the group → a new profile (even with no identifiers at all, so the
//!   message still has a row);
//! - otherwise the smallest (oldest) profile id survives and absorbs the others, in
//!   ascending id order;
//! - unseen identifiers in the group attach to the survivor.

use super::interner::Interner;
use super::log::{LinkLog, ATTACHED, NONE};
use super::rules::{Rules, NO_SLOT};
use super::state::State;
use super::types::{Merge, MergeEvent, ProfileId, RefusedLink, Resolution};

/// Reusable buffers so that resolving a message does not allocate.
#[derive(Debug, Clone, Default)]
pub(crate) struct Scratch {
    /// (rank, position in message, node) of usable identifiers.
    order: Vec<(u16, u32, u32)>,
    /// Root profiles in the group.
    group: Vec<u32>,
    /// Per-slot counts of the group.
    group_counts: Vec<u32>,
    /// Unseen nodes joining the group (with their slot).
    new_nodes: Vec<(u32, usize)>,
    /// Seen nodes whose profile is in the group.
    existing: Vec<u32>,
    /// Positions in the message of identifiers that are attached.
    attached_pos: Vec<u32>,
    /// Refused (node, owner root or NONE, slot).
    refusals: Vec<(u32, u32, usize)>,
    /// Node ids of the message being interned.
    pub(crate) nodes: Vec<u32>,
    /// Each identifier of the message being resolved, located.
    pub(crate) located: Vec<Located>,
}

/// One identifier of a message as [`super::IdentityGraph::locate`] found it, for the caller
/// and for the resolution that follows, so that neither looks it up again.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Located {
    /// Its type code and index tag; `None` when its type cannot get a code.
    pub key: Option<(u16, u32)>,
    /// Its node, when it was already seen.
    pub node: Option<u32>,
}

impl Scratch {
    /// Empties every buffer and sizes the count row for `stride` slots.
    fn reset(&mut self, stride: usize) {
        self.order.clear();
        self.group.clear();
        self.group_counts.clear();
        self.group_counts.resize(stride, 0);
        self.new_nodes.clear();
        self.existing.clear();
        self.attached_pos.clear();
        self.refusals.clear();
    }
}

/// What applying an entry did, as positions into the state's history tables.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Applied {
    /// The message's profile.
    pub(crate) profile: u32,
    /// Whether it was created.
    pub(crate) created: bool,
    /// First index in `State::merges` added by this entry.
    pub(crate) merges_from: usize,
    /// First index in `State::refused` added by this entry.
    pub(crate) refused_from: usize,
}

impl Applied {
    /// The public resolution, copied out of the history tables.
    pub(crate) fn resolution(&self, state: &State) -> Resolution {
        Resolution {
            profile: ProfileId(self.profile),
            created: self.created,
            merged: state.merges[self.merges_from..]
                .iter()
                .map(|m| Merge {
                    survivor: m.survivor,
                    absorbed: m.absorbed,
                })
                .collect(),
            refused: state.refused[self.refused_from..].to_vec(),
        }
    }
}

impl State {
    /// Applies log entry `k`: links its identifiers, records its profile and attachment bits.
    pub(crate) fn apply(
        &mut self,
        rules: &Rules,
        interner: &Interner,
        log: &mut LinkLog,
        k: usize,
        s: &mut Scratch,
    ) -> Applied {
        s.reset(rules.stride());
        let ts = log.entry(k).ts;
        self.collect_usable(rules, interner, log.refs(k), s);
        for i in 0..s.order.len() {
            let (_, pos, node) = s.order[i];
            let slot = usize::from(rules.slot(interner.code(node)));
            self.consider(rules, node, pos, slot, s);
        }
        let (profile, created) = self.form_group(s);
        let merges_from = self.merges.len();
        let refused_from = self.refused.len();
        if s.group.len() > 1 || !s.refusals.is_empty() {
            self.record_history(rules, interner, log.message_id(k), ts, profile, s);
        }
        for &(node, slot) in &s.new_nodes {
            self.attach(node, profile, slot, ts);
        }
        for &node in &s.existing {
            self.touch(node, ts);
        }
        let (refs, entry) = log.refs_and_entry_mut(k);
        for r in refs.iter_mut() {
            *r &= !ATTACHED;
        }
        for &pos in &s.attached_pos {
            refs[pos as usize] |= ATTACHED;
        }
        entry.profile = profile;
        Applied {
            profile,
            created,
            merges_from,
            refused_from,
        }
    }

    /// Fills `s.order` with the usable identifiers of the message, most trusted first.
    fn collect_usable(&self, rules: &Rules, interner: &Interner, refs: &[u32], s: &mut Scratch) {
        for (pos, r) in refs.iter().enumerate() {
            let node = r & !ATTACHED;
            let code = interner.code(node);
            if rules.slot(code) == NO_SLOT || rules.blocked[node as usize] {
                continue;
            }
            if s.order.iter().any(|o| o.2 == node) {
                continue;
            }
            let pos = u32::try_from(pos).unwrap_or(u32::MAX);
            s.order.push((rules.rank(code), pos, node));
        }
        s.order.sort_unstable();
    }

    /// Lets `node` join the group if the group still fits the limits, else records a refusal.
    fn consider(&mut self, rules: &Rules, node: u32, pos: u32, slot: usize, s: &mut Scratch) {
        let origin = self.origin[node as usize];
        if origin == NONE {
            if s.group_counts[slot] < rules.limits[slot] {
                s.group_counts[slot] += 1;
                s.new_nodes.push((node, slot));
                s.attached_pos.push(pos);
            } else {
                s.refusals.push((node, NONE, slot));
            }
            return;
        }
        let q = self.uf.find_mut(origin);
        if s.group.contains(&q) {
            s.existing.push(node);
            s.attached_pos.push(pos);
            return;
        }
        match self.first_excess(rules, q, &s.group_counts) {
            None => {
                for (g, c) in s.group_counts.iter_mut().zip(self.counts_of(q)) {
                    *g += c;
                }
                s.group.push(q);
                s.existing.push(node);
                s.attached_pos.push(pos);
            }
            Some(slot) => s.refusals.push((node, q, slot)),
        }
    }

    /// The first slot whose limit the group would exceed by taking in profile `q`.
    fn first_excess(&self, rules: &Rules, q: u32, group_counts: &[u32]) -> Option<usize> {
        let counts = self.counts_of(q);
        (0..counts.len()).find(|&i| {
            u64::from(group_counts[i]) + u64::from(counts[i]) > u64::from(rules.limits[i])
        })
    }

    /// Merges the group into its oldest profile (or creates one); returns (profile, created).
    fn form_group(&mut self, s: &mut Scratch) -> (u32, bool) {
        if s.group.is_empty() {
            return (self.create_profile(), true);
        }
        s.group.sort_unstable();
        let survivor = s.group[0];
        for &absorbed in &s.group[1..] {
            self.absorb(survivor, absorbed);
        }
        (survivor, false)
    }

    /// Appends this message's merges and refusals to the history tables.
    fn record_history(
        &mut self,
        rules: &Rules,
        interner: &Interner,
        message_id: &str,
        ts: i64,
        profile: u32,
        s: &Scratch,
    ) {
        for &absorbed in s.group.iter().skip(1) {
            self.merges.push(MergeEvent {
                survivor: ProfileId(profile),
                absorbed: ProfileId(absorbed),
                message_id: message_id.to_owned(),
                timestamp_micros: ts,
            });
        }
        for &(node, owner, slot) in &s.refusals {
            self.refused.push(RefusedLink {
                message_id: message_id.to_owned(),
                timestamp_micros: ts,
                identifier: interner.identifier(node),
                owner: (owner != NONE).then_some(ProfileId(owner)),
                profile: ProfileId(profile),
                limit_type: rules.slot_types[slot].clone(),
                limit: rules.limits[slot],
            });
        }
    }
}
