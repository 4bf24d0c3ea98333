//! The derived graph state: profiles, their identifiers and per-type counts.
//!
//! Everything here can be rebuilt from the link log; it is kept as flat vectors indexed by
//! profile id or node id so that resolving a message touches a handful of cache lines.

use super::log::NONE;
use super::types::{MergeEvent, RefusedLink};
use super::union_find::UnionFind;

/// Profiles and the identifiers attached to them.
#[derive(Debug, Clone, Default)]
pub(crate) struct State {
    /// Profile ids; roots are live profiles.
    pub(crate) uf: UnionFind,
    /// Slots per profile in `counts`.
    pub(crate) stride: usize,
    /// Per root profile and slot: number of attached identifiers of that type.
    pub(crate) counts: Vec<u32>,
    /// Per root profile: first node of its identifier list (`NONE` when empty).
    pub(crate) head: Vec<u32>,
    /// Per root profile: last node of its identifier list.
    pub(crate) tail: Vec<u32>,
    /// Per node: the profile it was first attached to (`NONE`: not attached); resolve with
    /// `uf.find` — kept raw because splits use it to give parts their earlier ids back.
    pub(crate) origin: Vec<u32>,
    /// Per node: next node in its profile's list.
    pub(crate) next: Vec<u32>,
    /// Per node: earliest attaching message timestamp.
    pub(crate) first_seen: Vec<i64>,
    /// Per node: latest attaching message timestamp.
    pub(crate) last_seen: Vec<i64>,
    /// Number of live profiles.
    pub(crate) live: usize,
    /// Merge history, in log order.
    pub(crate) merges: Vec<MergeEvent>,
    /// Refused links, in log order.
    pub(crate) refused: Vec<RefusedLink>,
}

impl State {
    /// An empty state with `stride` count slots per profile.
    pub(crate) fn new(stride: usize) -> State {
        State {
            stride,
            ..State::default()
        }
    }

    /// Grows the per-node tables to `nodes` entries.
    pub(crate) fn ensure_nodes(&mut self, nodes: usize) {
        if self.origin.len() < nodes {
            self.origin.resize(nodes, NONE);
            self.next.resize(nodes, NONE);
            self.first_seen.resize(nodes, i64::MAX);
            self.last_seen.resize(nodes, i64::MIN);
        }
    }

    /// Allocates the next profile id, live and empty.
    pub(crate) fn create_profile(&mut self) -> u32 {
        let p = self.uf.create();
        self.counts.resize(self.counts.len() + self.stride, 0);
        self.head.push(NONE);
        self.tail.push(NONE);
        self.live += 1;
        p
    }

    /// The count row of root `p`.
    pub(crate) fn counts_of(&self, p: u32) -> &[u32] {
        let start = p as usize * self.stride;
        &self.counts[start..start + self.stride]
    }

    /// Merges root `absorbed` into root `survivor`: ids, counts and identifier lists.
    pub(crate) fn absorb(&mut self, survivor: u32, absorbed: u32) {
        self.uf.absorb(survivor, absorbed);
        let (s, a) = (
            survivor as usize * self.stride,
            absorbed as usize * self.stride,
        );
        for i in 0..self.stride {
            self.counts[s + i] += std::mem::take(&mut self.counts[a + i]);
        }
        let (ah, at) = (self.head[absorbed as usize], self.tail[absorbed as usize]);
        if ah != NONE {
            match self.tail[survivor as usize] {
                NONE => self.head[survivor as usize] = ah,
                st => self.next[st as usize] = ah,
            }
            self.tail[survivor as usize] = at;
        }
        self.head[absorbed as usize] = NONE;
        self.tail[absorbed as usize] = NONE;
        self.live -= 1;
    }

    /// Attaches unattached `node` (count slot `slot`) to root `p`, seen at `ts`.
    pub(crate) fn attach(&mut self, node: u32, p: u32, slot: usize, ts: i64) {
        let n = node as usize;
        self.origin[n] = p;
        self.next[n] = NONE;
        match self.tail[p as usize] {
            NONE => self.head[p as usize] = node,
            t => self.next[t as usize] = node,
        }
        self.tail[p as usize] = node;
        self.counts[p as usize * self.stride + slot] += 1;
        self.touch(node, ts);
    }

    /// Records that a message at `ts` attached `node`.
    pub(crate) fn touch(&mut self, node: u32, ts: i64) {
        let n = node as usize;
        self.first_seen[n] = self.first_seen[n].min(ts);
        self.last_seen[n] = self.last_seen[n].max(ts);
    }

    /// Nodes attached to root `p`, in list order.
    pub(crate) fn nodes_of(&self, p: u32) -> Vec<u32> {
        let mut out = Vec::new();
        let mut cur = self.head.get(p as usize).copied().unwrap_or(NONE);
        while cur != NONE {
            out.push(cur);
            cur = self.next[cur as usize];
        }
        out
    }
}
