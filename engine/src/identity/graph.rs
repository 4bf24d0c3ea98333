//! The identity graph: typed identifiers linked into profiles.

use super::config::IdentityConfig;
use super::error::IdentityError;
use super::interner::Interner;
use super::log::{LinkLog, LinkOutcome, LinkRecord, NONE};
use super::resolve::{Located, Scratch};
use super::rules::Rules;
use super::state::State;
use super::types::{
    Identifier, IdentifierRecord, IdentifierType, MergeEvent, ProfileId, RefusedLink, Resolution,
};

/// The identifier a profile shows for one type, as its interned node (see
/// [`IdentityGraph::shown_nodes`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ShownNode {
    /// The identifier type's code.
    pub code: u16,
    /// The identifier's node.
    pub node: u32,
}

/// Profiles built from the identifiers messages carry together.
///
/// The graph owns its link log; the state (profiles, merges, refusals) is a deterministic
/// function of the configuration and the log, so replaying the same log into an empty graph
/// gives the same profile ids, merges and refusals.
#[derive(Debug, Clone)]
pub struct IdentityGraph {
    pub(crate) config: IdentityConfig,
    pub(crate) interner: Interner,
    pub(crate) rules: Rules,
    pub(crate) log: LinkLog,
    pub(crate) state: State,
    pub(crate) scratch: Scratch,
    /// Counts the calls that changed the graph in memory since it was made or loaded; the
    /// database compares it around a failed write to know whether memory and log differ.
    pub(crate) changes: u64,
}

impl Default for IdentityGraph {
    fn default() -> Self {
        IdentityGraph::new(IdentityConfig::default()).expect("the default configuration is valid")
    }
}

impl IdentityGraph {
    /// An empty graph applying `config`.
    ///
    /// # Errors
    /// [`IdentityError::Config`] when the configuration is inconsistent.
    pub fn new(config: IdentityConfig) -> Result<IdentityGraph, IdentityError> {
        config.validate()?;
        let interner = Interner::new();
        let rules = Rules::new(&config, &interner);
        let state = State::new(rules.stride());
        Ok(IdentityGraph {
            config,
            interner,
            rules,
            log: LinkLog::default(),
            state,
            scratch: Scratch::default(),
            changes: 0,
        })
    }

    /// The rules in force.
    #[must_use]
    pub fn config(&self) -> &IdentityConfig {
        &self.config
    }

    /// Links the identifiers one message carried; appends the message to the link log.
    ///
    /// Identifiers should be normalized (as produced by `identifiers_of` or
    /// `IdentityConfig::normalize`); blocked ones and unconfigured types are logged but ignored.
    pub fn resolve(
        &mut self,
        identifiers: &[Identifier],
        message_id: &str,
        timestamp_micros: i64,
    ) -> Resolution {
        let mut located = std::mem::take(&mut self.scratch.located);
        self.locate(identifiers, &mut located);
        let resolution = self.resolve_located(identifiers, &located, message_id, timestamp_micros);
        self.scratch.located = located;
        resolution
    }

    /// Finds each of `identifiers` in the graph, into `located`: its type code and index tag,
    /// and its node when it was seen before. Pass the result to
    /// [`IdentityGraph::resolve_located`] with no change to the graph in between.
    pub(crate) fn locate(&mut self, identifiers: &[Identifier], located: &mut Vec<Located>) {
        located.clear();
        located.extend(identifiers.iter().map(|id| Located {
            key: self.key(id),
            node: None,
        }));
        self.interner.warm(
            located
                .iter()
                .filter_map(|place| place.key)
                .map(|(_, tag)| tag),
        );
        for (id, place) in identifiers.iter().zip(located.iter_mut()) {
            if let Some((code, tag)) = place.key {
                place.node = self.interner.find(code, &id.value, tag).ok();
            }
        }
    }

    /// [`IdentityGraph::resolve`] for identifiers that [`IdentityGraph::locate`] just found
    /// (into `located`), so a caller that looked at their nodes first does not pay for the
    /// lookups twice.
    pub(crate) fn resolve_located(
        &mut self,
        identifiers: &[Identifier],
        located: &[Located],
        message_id: &str,
        timestamp_micros: i64,
    ) -> Resolution {
        debug_assert_eq!(identifiers.len(), located.len());
        self.changes += 1;
        self.interner.reserve(identifiers.len());
        let mut nodes = std::mem::take(&mut self.scratch.nodes);
        nodes.clear();
        for (id, place) in identifiers.iter().zip(located) {
            match *place {
                Located {
                    key: Some(_),
                    node: Some(node),
                } => nodes.push(node),
                // Interning looks again: an identifier repeated in the message was created
                // by its first occurrence.
                Located {
                    key: Some((code, tag)),
                    node: None,
                } => nodes.push(self.intern(id, code, tag)),
                Located { key: None, .. } => {}
            }
        }
        let k = self
            .log
            .push(message_id, timestamp_micros, nodes.iter().copied());
        self.scratch.nodes = nodes;
        let applied = self.state.apply(
            &self.rules,
            &self.interner,
            &mut self.log,
            k,
            &mut self.scratch,
        );
        applied.resolution(&self.state)
    }

    /// Re-applies a logged record (WAL recovery) and checks the outcome matches the log.
    ///
    /// # Errors
    /// [`IdentityError::Divergence`] when the graph computes a different outcome — the
    /// record was produced from a different history or configuration. The record has been
    /// applied nonetheless.
    pub fn replay(&mut self, record: &LinkRecord) -> Result<Resolution, IdentityError> {
        let resolution = self.resolve(
            &record.identifiers,
            &record.message_id,
            record.timestamp_micros,
        );
        let computed = LinkOutcome::of(&resolution);
        if computed != record.outcome {
            return Err(IdentityError::Divergence {
                message_id: record.message_id.clone(),
                logged: format!("{:?}", record.outcome),
                computed: format!("{computed:?}"),
            });
        }
        Ok(resolution)
    }

    /// The type code and index tag of `id`; `None` when its type cannot get a code.
    fn key(&mut self, id: &Identifier) -> Option<(u16, u32)> {
        let code = self.interner.code_or_insert(&id.kind)?;
        self.rules.register_code(&self.config, code, &id.kind);
        Some((code, self.interner.tag(code, &id.value)))
    }

    /// The node of `id` (with its [`IdentityGraph::key`]), created when new, with the
    /// per-node tables grown to match.
    fn intern(&mut self, id: &Identifier, code: u16, tag: u32) -> u32 {
        let (node, is_new) = self.interner.intern_tagged(code, &id.value, tag);
        if is_new {
            self.rules
                .blocked
                .push(self.config.is_blocked(&id.kind, &id.value));
            self.state.ensure_nodes(self.interner.len());
        }
        node
    }

    /// The live profile `profile` resolves to (itself when live; the survivor when absorbed).
    #[must_use]
    pub fn canonical(&self, profile: ProfileId) -> ProfileId {
        ProfileId(self.state.uf.find(profile.0))
    }

    /// The profile holding `identifier` (normalized first), if any.
    #[must_use]
    pub fn lookup(&self, identifier: &Identifier) -> Option<ProfileId> {
        self.node_profile(self.node_of(identifier)?).map(ProfileId)
    }

    /// The node of `identifier` after normalization, if it was ever seen.
    pub(crate) fn node_of(&self, identifier: &Identifier) -> Option<u32> {
        if let Some(node) = self.interner.get(identifier) {
            return Some(node);
        }
        let normalized = self
            .config
            .normalize(identifier.kind.clone(), &identifier.value)
            .ok()?;
        self.interner.get(&normalized)
    }

    /// The live profile of an attached node.
    pub(crate) fn node_profile(&self, node: u32) -> Option<u32> {
        match self.state.origin.get(node as usize) {
            Some(&origin) if origin != NONE => Some(self.state.uf.find(origin)),
            _ => None,
        }
    }

    /// The identifiers of `profile` (canonicalized), in first-attached order.
    #[must_use]
    pub fn identifiers_of_profile(&self, profile: ProfileId) -> Vec<IdentifierRecord> {
        let root = self.state.uf.find(profile.0);
        if !self.state.uf.is_live_root(root) {
            return Vec::new();
        }
        let mut nodes = self.state.nodes_of(root);
        nodes.sort_unstable();
        nodes
            .into_iter()
            .map(|n| IdentifierRecord {
                identifier: self.interner.identifier(n),
                first_seen: self.state.first_seen[n as usize],
                last_seen: self.state.last_seen[n as usize],
            })
            .collect()
    }

    /// The identifier each type of `profile` shows in its identifier column: the one seen
    /// last (greatest `last_seen`, then greatest value), ordered by type name.
    #[must_use]
    pub fn shown_identifiers(&self, profile: ProfileId) -> Vec<(IdentifierType, String)> {
        let mut out: Vec<(IdentifierType, String)> = self
            .shown_nodes(profile)
            .into_iter()
            .map(|shown| {
                let kind = self.interner.type_of_code(shown.code).clone();
                (kind, self.interner.value(shown.node).to_owned())
            })
            .collect();
        out.sort_unstable_by(|a, b| a.0.name().cmp(b.0.name()));
        out
    }

    /// As [`IdentityGraph::shown_identifiers`], as interned nodes in no particular order.
    ///
    /// Walks the profile's identifier list in place and copies nothing, because ingestion
    /// asks this for every profile a call touches; nodes compare as their identifiers do.
    #[must_use]
    pub(crate) fn shown_nodes(&self, profile: ProfileId) -> Vec<ShownNode> {
        let root = self.state.uf.find(profile.0);
        if !self.state.uf.is_live_root(root) {
            return Vec::new();
        }
        // (type code, last seen, node) of the best identifier of each type so far. Room for
        // the usual user id, anonymous id, email and device id. Values are read only to break
        // a tie on last seen: a profile rarely has two of one type, and each read is likely a
        // cache miss.
        let mut best: Vec<(u16, i64, u32)> = Vec::with_capacity(4);
        let mut node = self.state.head.get(root as usize).copied().unwrap_or(NONE);
        while node != NONE {
            let code = self.interner.code(node);
            let last_seen = self.state.last_seen[node as usize];
            match best.iter_mut().find(|(c, _, _)| *c == code) {
                Some(current) => {
                    let later = match current.1.cmp(&last_seen) {
                        std::cmp::Ordering::Less => true,
                        std::cmp::Ordering::Greater => false,
                        std::cmp::Ordering::Equal => {
                            self.interner.value(current.2) < self.interner.value(node)
                        }
                    };
                    if later {
                        *current = (code, last_seen, node);
                    }
                }
                None => best.push((code, last_seen, node)),
            }
            node = self.state.next[node as usize];
        }
        best.into_iter()
            .map(|(code, _, node)| ShownNode { code, node })
            .collect()
    }

    /// The identifier column and value that `shown` stands for.
    #[must_use]
    pub(crate) fn shown_column(&self, shown: ShownNode) -> (&str, &str) {
        let kind = self.interner.type_of_code(shown.code);
        (kind.name(), self.interner.value(shown.node))
    }

    /// Number of live profiles.
    #[must_use]
    pub fn profile_count(&self) -> usize {
        self.state.live
    }

    /// Number of profile ids ever allocated (live, absorbed or retired).
    #[must_use]
    pub fn profile_id_bound(&self) -> u32 {
        u32::try_from(self.state.uf.len()).unwrap_or(u32::MAX)
    }

    /// Every merge, in the order the log caused them.
    #[must_use]
    pub fn merge_history(&self) -> &[MergeEvent] {
        &self.state.merges
    }

    /// Every link the limits refused, in log order.
    #[must_use]
    pub fn refused_links(&self) -> &[RefusedLink] {
        &self.state.refused
    }

    /// Number of messages in the link log (including ignored ones).
    #[must_use]
    pub fn log_len(&self) -> usize {
        self.log.len()
    }

    /// The current profile of every message with id `message_id` (`None` for one whose
    /// links were removed and whose identifiers belong to no profile).
    #[must_use]
    pub fn message_profiles(&self, message_id: &str) -> Vec<Option<ProfileId>> {
        self.log
            .find(message_id)
            .into_iter()
            .map(|k| match self.log.entry(k).profile {
                NONE => None,
                p => Some(self.canonical(ProfileId(p))),
            })
            .collect()
    }
}
