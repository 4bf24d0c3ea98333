//! Why two identifiers are on the same profile: the chain of messages linking them.
//!
//! A message links every identifier it attached (the `ATTACHED` bits of its log entry). The
//! explanation is a shortest path between the two identifiers in the graph whose edges are
//! those links, found by breadth-first search over the messages of their profile. Ties are
//! broken by log order, so the answer is deterministic. The search scans the log: explain is
//! an operator tool, not a hot path.

use super::graph::IdentityGraph;
use super::log::{ATTACHED, NONE};
use super::types::{Identifier, LinkStep};
use std::collections::{HashMap, VecDeque};

impl IdentityGraph {
    /// The chain of links from `a` to `b`, or `None` when they are not on the same profile.
    ///
    /// `Some(vec![])` when `a` and `b` are the same identifier.
    #[must_use]
    pub fn explain(&self, a: &Identifier, b: &Identifier) -> Option<Vec<LinkStep>> {
        let (from, to) = (self.node_of(a)?, self.node_of(b)?);
        let profile = self.node_profile(from)?;
        if self.node_profile(to)? != profile {
            return None;
        }
        if from == to {
            return Some(Vec::new());
        }
        let links = self.links_of_profile(profile);
        let prev = bfs(&links, |k| self.attached(k), from, to);
        let mut steps = Vec::new();
        let mut cur = to;
        while cur != from {
            let &(p, k) = prev.get(&cur)?;
            steps.push(LinkStep {
                from: self.interner.identifier(p),
                to: self.interner.identifier(cur),
                message_id: self.log.message_id(k).to_owned(),
                timestamp_micros: self.log.entry(k).ts,
            });
            cur = p;
        }
        steps.reverse();
        Some(steps)
    }

    /// Nodes attached by log entry `k`.
    fn attached(&self, k: usize) -> impl Iterator<Item = u32> + '_ {
        self.log
            .refs(k)
            .iter()
            .filter(|r| *r & ATTACHED != 0)
            .map(|r| r & !ATTACHED)
    }

    /// Per node of `profile`: the log entries that link it to another identifier.
    fn links_of_profile(&self, profile: u32) -> HashMap<u32, Vec<usize>> {
        let mut by_node: HashMap<u32, Vec<usize>> = HashMap::new();
        for k in 0..self.log.len() {
            if self.log.entry(k).ignored || self.attached(k).nth(1).is_none() {
                continue;
            }
            let first = self.attached(k).next().unwrap_or(NONE);
            if self.node_profile(first) != Some(profile) {
                continue;
            }
            for node in self.attached(k) {
                by_node.entry(node).or_default().push(k);
            }
        }
        by_node
    }
}

/// Breadth-first search from `from` until `to`; returns each reached node's (previous node,
/// linking entry).
fn bfs<I: Iterator<Item = u32>>(
    links: &HashMap<u32, Vec<usize>>,
    attached: impl Fn(usize) -> I,
    from: u32,
    to: u32,
) -> HashMap<u32, (u32, usize)> {
    let mut prev: HashMap<u32, (u32, usize)> = HashMap::new();
    let mut queue = VecDeque::from([from]);
    while let Some(node) = queue.pop_front() {
        if node == to {
            break;
        }
        for &k in links.get(&node).map_or(&[][..], Vec::as_slice) {
            for next in attached(k) {
                if next != from && !prev.contains_key(&next) {
                    prev.insert(next, (node, k));
                    queue.push_back(next);
                }
            }
        }
    }
    prev
}
