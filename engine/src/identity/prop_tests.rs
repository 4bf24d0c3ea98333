//! Property: with limits out of the way, the partition is the connected components of the
//! messages' identifier sets, whatever the order and snapshots in between.

use super::test_support::{build, partition};
use super::*;
use proptest::prelude::*;
use std::collections::HashMap;

/// A tiny reference union-find over identifiers.
fn reference(messages: &[(Vec<Identifier>, String)]) -> Vec<Vec<Identifier>> {
    let mut index: HashMap<Identifier, usize> = HashMap::new();
    let mut parent: Vec<usize> = Vec::new();
    fn find(parent: &mut [usize], x: usize) -> usize {
        let mut root = x;
        while parent[root] != root {
            root = parent[root];
        }
        root
    }
    for (ids, _) in messages {
        let mut first = None;
        for id in ids {
            let next = index.len();
            let i = *index.entry(id.clone()).or_insert(next);
            if i == parent.len() {
                parent.push(i);
            }
            match first {
                None => first = Some(i),
                Some(f) => {
                    let (a, b) = (find(&mut parent, f), find(&mut parent, i));
                    parent[b] = a;
                }
            }
        }
    }
    let mut groups: HashMap<usize, Vec<Identifier>> = HashMap::new();
    for (id, i) in &index {
        let root = find(&mut parent, *i);
        groups.entry(root).or_default().push(id.clone());
    }
    let mut out: Vec<Vec<Identifier>> = groups
        .into_values()
        .map(|mut g| {
            g.sort();
            g
        })
        .collect();
    out.sort();
    out
}

fn identifier() -> impl Strategy<Value = Identifier> {
    (0u8..4, 0u8..12).prop_map(|(t, v)| match t {
        0 => Identifier::user_id(format!("u{v}")),
        1 => Identifier::anonymous_id(format!("a{v}")),
        2 => Identifier::email(format!("e{v}@x.com")),
        _ => Identifier::device_id(format!("d{v}")),
    })
}

fn messages() -> impl Strategy<Value = Vec<(Vec<Identifier>, String)>> {
    prop::collection::vec(prop::collection::vec(identifier(), 1..4), 1..30).prop_map(|sets| {
        sets.into_iter()
            .enumerate()
            .map(|(i, ids)| (ids, format!("m{i}")))
            .collect()
    })
}

fn unlimited() -> IdentityConfig {
    IdentityConfig::default().with_all_limits(1_000_000)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn partition_is_order_independent_and_matches_reference(
        msgs in messages(),
        shuffled in Just(()).prop_perturb(|_, mut rng| rng.random::<u64>()),
        cut in 0usize..30,
    ) {
        let config = unlimited();
        let expected = reference(&msgs);
        let g = build(&config, &msgs);
        prop_assert_eq!(partition(&g), expected.clone());
        prop_assert_eq!(g.profile_count(), expected.len());

        // Another order.
        let mut order = msgs.clone();
        let mut seed = shuffled;
        for i in (1..order.len()).rev() {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            order.swap(i, (seed >> 33) as usize % (i + 1));
        }
        prop_assert_eq!(partition(&build(&config, &order)), expected.clone());

        // Snapshot and restore in the middle.
        let cut = cut % (msgs.len() + 1);
        let first = build(&config, &msgs[..cut]);
        let mut restored = decode_snapshot(&first.encode_snapshot()).unwrap();
        for (i, (ids, mid)) in msgs[cut..].iter().enumerate() {
            restored.resolve(ids, mid, (cut + i) as i64);
        }
        prop_assert_eq!(partition(&restored), expected);
        prop_assert_eq!(restored.encode_snapshot(), g.encode_snapshot());
    }

    /// With the default (binding) limits: removing a message equals never ingesting it, and
    /// replaying encoded records reproduces the graph.
    #[test]
    fn remove_link_equals_never_ingested(msgs in messages(), victim in 0usize..30) {
        let config = IdentityConfig::default().with_limit(IdentifierType::Email, 2).with_limit(IdentifierType::DeviceId, 2);
        let victim = victim % msgs.len();
        let mut g = build(&config, &msgs);
        let before = partition(&g);
        let mut without = msgs.clone();
        without.remove(victim);
        let expected = build(&config, &without);
        let report = g.remove_link(&msgs[victim].1);
        prop_assert_eq!(partition(&g), partition(&expected));
        prop_assert_eq!(g.profile_count(), expected.profile_count());
        prop_assert_eq!(g.refused_links().len(), expected.refused_links().len());
        if report == SplitReport::default() {
            prop_assert_eq!(partition(&g), before);
        }
        let restored = decode_snapshot(&g.encode_snapshot()).unwrap();
        prop_assert_eq!(partition(&restored), partition(&g));
    }

    #[test]
    fn replaying_encoded_records_reproduces_the_graph(msgs in messages()) {
        let config = IdentityConfig::default();
        let mut live = IdentityGraph::new(config.clone()).unwrap();
        let mut wal = Vec::new();
        for (i, (ids, mid)) in msgs.iter().enumerate() {
            let resolution = live.resolve(ids, mid, i as i64);
            wal.push(encode_record(&LinkRecord::new(mid, i as i64, ids, &resolution)));
        }
        let mut recovered = IdentityGraph::new(config).unwrap();
        for bytes in &wal {
            recovered.replay(&decode_record(bytes).unwrap()).unwrap();
        }
        prop_assert_eq!(recovered.encode_snapshot(), live.encode_snapshot());
    }
}
