//! Helpers shared by the identity tests.

use super::*;

/// Every live profile's identifier set, sorted: the partition, independent of profile ids.
pub(crate) fn partition(g: &IdentityGraph) -> Vec<Vec<Identifier>> {
    let mut out = Vec::new();
    for p in 0..g.profile_id_bound() {
        let p = ProfileId(p);
        if g.canonical(p) != p {
            continue;
        }
        let mut ids: Vec<Identifier> = g
            .identifiers_of_profile(p)
            .into_iter()
            .map(|r| r.identifier)
            .collect();
        if !ids.is_empty() {
            ids.sort();
            out.push(ids);
        }
    }
    out.sort();
    out
}

/// A graph fed `messages` (identifiers, message id) in order at increasing timestamps.
pub(crate) fn build(
    config: &IdentityConfig,
    messages: &[(Vec<Identifier>, String)],
) -> IdentityGraph {
    let mut g = IdentityGraph::new(config.clone()).unwrap();
    for (i, (ids, mid)) in messages.iter().enumerate() {
        g.resolve(ids, mid, i as i64);
    }
    g
}
