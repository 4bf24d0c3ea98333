//! Resolution at a scale where the identifier index grows many times (its speed is measured
//! by the identity bench and `examples/graph_probe.rs`, not here).

use super::*;

/// Identify messages each linking a fresh user id to a fresh anonymous id, then a second
/// message per user re-using both ids (the common "already known" path): every known pair
/// finds the profile its first message created, whatever the index moved in between.
#[test]
fn known_identifiers_find_their_profile_after_the_index_grew() {
    const USERS: usize = 200_000;
    let ids: Vec<[Identifier; 2]> = (0..USERS)
        .map(|i| {
            [
                Identifier::user_id(format!("user-{i}")),
                Identifier::anonymous_id(format!("anon-{i:08x}")),
            ]
        })
        .collect();
    let mut g = IdentityGraph::default();
    let first: Vec<Resolution> = ids
        .iter()
        .enumerate()
        .map(|(i, pair)| g.resolve(pair, "m", i as i64))
        .collect();
    assert!(first.iter().all(|r| r.created && r.merged.is_empty()));
    for (i, pair) in ids.iter().enumerate() {
        let again = g.resolve(pair, "m", (USERS + i) as i64);
        assert_eq!(again.profile, first[i].profile);
        assert!(!again.created && again.merged.is_empty() && again.refused.is_empty());
    }
    assert_eq!(g.profile_count(), USERS);
    assert_eq!(g.lookup(&ids[USERS / 2][1]), Some(first[USERS / 2].profile));
}
