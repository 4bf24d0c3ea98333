//! Splits and rule changes: rebuild the state by replaying the link log.
//!
//! `remove_link` marks a message's log entries as ignored, `block_value` adds an identifier
//! to the configuration's block list, `reapply_config` swaps the rules; all three then replay
//! the whole log from an empty state, so the result is exactly the graph that would exist had
//! the message never been ingested / the value always been blocked / the rules always been
//! these (normalization itself is not re-run: the log holds normalized values).
//!
//! Profile ids stay stable: the replay allocates fresh ids, which are then renamed to the
//! previous ones. Each replayed profile claims the previous ids its identifiers were first
//! attached to (for a profile without identifiers: the previous id of the message that
//! created it); claims are granted in ascending previous-id order, each previous id to the
//! oldest claimant. So the part holding the identifiers an old id started with keeps it, and
//! a part split off a merged profile gets back the id it had before the merge. Parts with no
//! claim get new ids after every id allocated so far. A previous id nobody claims resolves
//! to the profile now holding the identifiers it started with, or is retired (resolves to
//! itself, holds nothing) when none remain.

use super::config::IdentityConfig;
use super::error::IdentityError;
use super::graph::IdentityGraph;
use super::log::{ATTACHED, NONE};
use super::rules::{Rules, NO_SLOT};
use super::state::State;
use super::types::{Identifier, ProfileId, SplitReport};
use super::union_find::RETIRED;

impl IdentityGraph {
    /// Declares the links made by message `message_id` bad and rebuilds without them.
    pub fn remove_link(&mut self, message_id: &str) -> SplitReport {
        let mut newly = 0;
        for k in self.log.find(message_id) {
            let (_, entry) = self.log.refs_and_entry_mut(k);
            if !entry.ignored {
                entry.ignored = true;
                newly += 1;
            }
        }
        if newly == 0 {
            return SplitReport::default();
        }
        let mut report = self.rebuild(self.config.clone());
        report.messages_ignored = newly;
        report
    }

    /// Blocks one identifier value from now on and rebuilds as if it had always been blocked.
    pub fn block_value(&mut self, identifier: &Identifier) -> SplitReport {
        let normalized = match self
            .config
            .normalize(identifier.kind.clone(), &identifier.value)
        {
            Ok(id) => id,
            // Already blocked, or malformed so never an identifier: nothing to split.
            Err(_) => return SplitReport::default(),
        };
        let mut config = self.config.clone();
        config.blocked_identifiers.push(normalized);
        self.rebuild(config)
    }

    /// Applies new rules to the whole history.
    ///
    /// # Errors
    /// [`IdentityError::Config`] when `config` is inconsistent; the graph is unchanged.
    pub fn reapply_config(&mut self, config: IdentityConfig) -> Result<SplitReport, IdentityError> {
        config.validate()?;
        Ok(self.rebuild(config))
    }

    /// Replays the log under `config` and renames the result onto the previous ids.
    fn rebuild(&mut self, config: IdentityConfig) -> SplitReport {
        self.changes += 1;
        let old = std::mem::take(&mut self.state);
        let old_rec: Vec<u32> = (0..self.log.len())
            .map(|k| self.log.entry(k).profile)
            .collect();
        self.rules = Rules::new(&config, &self.interner);
        self.config = config;
        let replay = self.replay_all();
        let (rename, final_len) = assign_ids(&old, &replay, &old_rec, &self.rec_profiles());
        let state = renamed(&old, replay, &rename, final_len);
        for k in 0..self.log.len() {
            let (_, entry) = self.log.refs_and_entry_mut(k);
            if entry.profile != NONE {
                entry.profile = rename[entry.profile as usize];
            }
        }
        let report = self.diff(&old, &state, &old_rec);
        self.state = state;
        report
    }

    /// Every entry's recorded profile.
    fn rec_profiles(&self) -> Vec<u32> {
        (0..self.log.len())
            .map(|k| self.log.entry(k).profile)
            .collect()
    }

    /// A fresh state from every non-ignored entry; ignored entries get the profile of their
    /// most trusted identifier that still has one.
    fn replay_all(&mut self) -> State {
        let mut state = State::new(self.rules.stride());
        state.ensure_nodes(self.interner.len());
        for k in 0..self.log.len() {
            if !self.log.entry(k).ignored {
                state.apply(
                    &self.rules,
                    &self.interner,
                    &mut self.log,
                    k,
                    &mut self.scratch,
                );
            }
        }
        for k in 0..self.log.len() {
            if self.log.entry(k).ignored {
                let profile = self.best_profile(&state, k);
                let (refs, entry) = self.log.refs_and_entry_mut(k);
                refs.iter_mut().for_each(|r| *r &= !ATTACHED);
                entry.profile = profile;
            }
        }
        state
    }

    /// The profile of entry `k`'s most trusted usable identifier in `state`, or `NONE`.
    fn best_profile(&self, state: &State, k: usize) -> u32 {
        self.log
            .refs(k)
            .iter()
            .map(|r| r & !ATTACHED)
            .filter(|&n| {
                let code = self.interner.code(n);
                self.rules.slot(code) != NO_SLOT
                    && !self.rules.blocked[n as usize]
                    && state.origin[n as usize] != NONE
            })
            .min_by_key(|&n| self.rules.rank(self.interner.code(n)))
            .map_or(NONE, |n| state.uf.find(state.origin[n as usize]))
    }

    /// What changed between `old` and `new` (both in final ids).
    fn diff(&self, old: &State, new: &State, old_rec: &[u32]) -> SplitReport {
        let mut report = SplitReport::default();
        let mut touched = Vec::new();
        let root = |s: &State, p: u32| if p == NONE { NONE } else { s.uf.find(p) };
        for (k, &old_profile) in old_rec.iter().enumerate() {
            let before = root(old, old_profile);
            let after = root(new, self.log.entry(k).profile);
            if before == after || before == NONE {
                continue;
            }
            let id = self.log.message_id(k).to_owned();
            touched.extend([before, after]);
            if after == NONE {
                report.detached.push((id, ProfileId(before)));
            } else {
                report
                    .reassigned
                    .push((id, ProfileId(before), ProfileId(after)));
            }
        }
        for n in 0..self.interner.len() {
            let (b, a) = (root(old, old.origin[n]), root(new, new.origin[n]));
            if b != a {
                touched.extend([b, a]);
            }
        }
        let live = |s: &State, p: u32| s.uf.is_live_root(p);
        let bound = old.uf.len().max(new.uf.len());
        for p in (0..bound).filter_map(|p| u32::try_from(p).ok()) {
            match (live(old, p), live(new, p)) {
                (false, true) => report.created.push(ProfileId(p)),
                (true, false) => report.retired.push(ProfileId(p)),
                _ => {}
            }
        }
        touched.sort_unstable();
        touched.dedup();
        report.changed = touched
            .into_iter()
            .filter(|&p| p != NONE && live(old, p) && live(new, p))
            .map(ProfileId)
            .collect();
        report
    }
}

/// The final id of every replayed profile id, and the new id bound (see the module rules).
fn assign_ids(old: &State, replay: &State, old_rec: &[u32], new_rec: &[u32]) -> (Vec<u32>, usize) {
    let mut has_nodes = vec![false; replay.uf.len()];
    let mut claims: Vec<(u32, u32)> = Vec::new();
    for (&o, &r) in old.origin.iter().zip(&replay.origin) {
        if r != NONE {
            has_nodes[r as usize] = true;
            if o != NONE {
                claims.push((o, r));
            }
        }
    }
    for (&o, &r) in old_rec.iter().zip(new_rec) {
        if o != NONE && r != NONE && !has_nodes[r as usize] {
            claims.push((o, r));
        }
    }
    claims.sort_unstable();
    claims.dedup();
    let mut rename = vec![NONE; replay.uf.len()];
    let mut taken = vec![false; old.uf.len()];
    for (o, r) in claims {
        if rename[r as usize] == NONE && !taken[o as usize] {
            rename[r as usize] = o;
            taken[o as usize] = true;
        }
    }
    let mut next = old.uf.len();
    for slot in rename.iter_mut().filter(|s| **s == NONE) {
        *slot = u32::try_from(next).expect("profile id space exhausted");
        next += 1;
    }
    (rename, next)
}

/// `replay` with every profile id renamed through `rename`, plus aliases for unclaimed ids.
fn renamed(old: &State, replay: State, rename: &[u32], final_len: usize) -> State {
    let stride = replay.stride;
    let mut parent = vec![RETIRED; final_len];
    let mut counts = vec![0; final_len * stride];
    let mut head = vec![NONE; final_len];
    let mut tail = vec![NONE; final_len];
    for r in 0..replay.uf.len() {
        let r32 = r as u32;
        let f = rename[r] as usize;
        let root = replay.uf.find(r32);
        parent[f] = rename[root as usize];
        if root == r32 {
            counts[f * stride..(f + 1) * stride].copy_from_slice(replay.counts_of(r32));
            head[f] = replay.head[r];
            tail[f] = replay.tail[r];
        }
    }
    let mut claimed = vec![false; final_len];
    rename.iter().for_each(|&f| claimed[f as usize] = true);
    // Unclaimed previous ids follow the identifiers they started with.
    for (&o, &r) in old.origin.iter().zip(&replay.origin) {
        if o != NONE && r != NONE && !claimed[o as usize] && parent[o as usize] == RETIRED {
            parent[o as usize] = rename[replay.uf.find(r) as usize];
        }
    }
    let map = |p: ProfileId| ProfileId(rename[p.0 as usize]);
    let mut state = replay;
    state.uf.parent = parent;
    state.counts = counts;
    state.head = head;
    state.tail = tail;
    for o in &mut state.origin {
        if *o != NONE {
            *o = rename[*o as usize];
        }
    }
    for m in &mut state.merges {
        m.survivor = map(m.survivor);
        m.absorbed = map(m.absorbed);
    }
    for r in &mut state.refused {
        r.profile = map(r.profile);
        r.owner = r.owner.map(map);
    }
    state
}
