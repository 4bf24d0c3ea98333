//! Tests of splits, blocking and rule changes.

use super::test_support::{build, partition};
use super::*;

fn a(v: &str) -> Identifier {
    Identifier::anonymous_id(v)
}

fn msgs(list: &[(&[Identifier], &str)]) -> Vec<(Vec<Identifier>, String)> {
    list.iter()
        .map(|(ids, m)| (ids.to_vec(), (*m).to_owned()))
        .collect()
}

#[test]
fn removing_a_link_separates_the_two_people_as_if_never_ingested() {
    let d1 = Identifier::device_id("d1");
    let e2 = Identifier::email("e2@x.com");
    let all = msgs(&[
        (&[a("a1"), d1.clone()], "m1"),
        (&[e2.clone(), a("a2")], "m2"),
        (&[a("a1"), a("a2")], "bad"),
        (&[a("a2"), Identifier::device_id("d9")], "m4"),
    ]);
    let config = IdentityConfig::default();
    let mut g = build(&config, &all);
    assert_eq!(g.profile_count(), 1);
    assert_eq!(g.explain(&d1, &e2).unwrap().len(), 3);

    let report = g.remove_link("bad");
    let without: Vec<_> = all.iter().filter(|(_, m)| m != "bad").cloned().collect();
    let expected = build(&config, &without);
    assert_eq!(partition(&g), partition(&expected));
    assert_eq!(g.profile_count(), 2);
    assert_eq!(g.explain(&d1, &e2), None);
    // The oldest part keeps id 0; the part split off gets back the id it had before the merge.
    assert_eq!(g.lookup(&d1), Some(ProfileId(0)));
    assert_eq!(g.lookup(&e2), Some(ProfileId(1)));
    assert_eq!(report.messages_ignored, 1);
    assert_eq!(
        report.reassigned,
        vec![
            ("m2".to_owned(), ProfileId(0), ProfileId(1)),
            ("m4".to_owned(), ProfileId(0), ProfileId(1)),
        ]
    );
    assert_eq!(report.created, vec![ProfileId(1)]);
    assert_eq!(report.changed, vec![ProfileId(0)]);
    assert!(g.merge_history().is_empty());
    assert_eq!(g.message_profiles("bad"), vec![Some(ProfileId(0))]);
    // Removing again is a no-op.
    assert_eq!(g.remove_link("bad"), SplitReport::default());
    // Snapshots keep the removal.
    let restored = decode_snapshot(&g.encode_snapshot()).unwrap();
    assert_eq!(partition(&restored), partition(&g));
}

#[test]
fn removing_a_link_can_let_a_refused_merge_happen() {
    let all = msgs(&[
        (&[Identifier::user_id("u1"), a("x")], "m1"),
        (&[Identifier::user_id("u2"), a("y")], "bad"),
        (&[a("y"), a("x")], "m3"),
    ]);
    let config = IdentityConfig::default();
    let mut g = build(&config, &all);
    assert_eq!(g.refused_links().len(), 1);
    g.remove_link("bad");
    let expected = build(
        &config,
        &msgs(&[
            (&[Identifier::user_id("u1"), a("x")], "m1"),
            (&[a("y"), a("x")], "m3"),
        ]),
    );
    assert_eq!(partition(&g), partition(&expected));
    assert!(g.refused_links().is_empty());
    assert_eq!(g.lookup(&Identifier::user_id("u2")), None);
    assert_eq!(g.profile_count(), 1);
}

#[test]
fn blocking_a_value_splits_what_it_joined() {
    let shared = Identifier::email("family@x.com");
    let all = msgs(&[
        (&[a("a1"), shared.clone()], "m1"),
        (&[a("a2"), shared.clone()], "m2"),
    ]);
    let mut g = build(&IdentityConfig::default(), &all);
    assert_eq!(g.profile_count(), 1);
    let report = g.block_value(&Identifier::email("Family@X.com"));
    let mut blocked = IdentityConfig::default();
    blocked.blocked_identifiers.push(shared.clone());
    assert_eq!(partition(&g), partition(&build(&blocked, &all)));
    assert_eq!(g.profile_count(), 2);
    assert_eq!(g.lookup(&shared), None);
    assert_eq!(
        report.reassigned,
        vec![("m2".to_owned(), ProfileId(0), ProfileId(1))]
    );
    assert_eq!(g.config().blocked_identifiers, vec![shared]);
}

#[test]
fn reapplying_looser_limits_merges_and_ids_stay_stable() {
    let all = msgs(&[
        (
            &[Identifier::user_id("u1"), Identifier::device_id("tablet")],
            "m1",
        ),
        (
            &[Identifier::user_id("u2"), Identifier::device_id("phone")],
            "m2",
        ),
        (
            &[Identifier::user_id("u2"), Identifier::device_id("tablet")],
            "m3",
        ),
    ]);
    let mut g = build(&IdentityConfig::default(), &all);
    assert_eq!(g.profile_count(), 2);
    let looser = IdentityConfig::default().with_limit(IdentifierType::UserId, 2);
    let report = g.reapply_config(looser.clone()).unwrap();
    assert_eq!(partition(&g), partition(&build(&looser, &all)));
    assert_eq!(g.profile_count(), 1);
    assert_eq!(g.canonical(ProfileId(1)), ProfileId(0));
    assert_eq!(report.retired, vec![ProfileId(1)]);
    // And back: the split-off part gets its old id again.
    g.reapply_config(IdentityConfig::default()).unwrap();
    assert_eq!(g.lookup(&Identifier::user_id("u2")), Some(ProfileId(1)));
    assert_eq!(g.lookup(&Identifier::user_id("u1")), Some(ProfileId(0)));
    assert!(g
        .reapply_config(IdentityConfig::default().with_custom_type("email", "x"))
        .is_err());
}

#[test]
fn rebuild_without_changes_is_the_identity() {
    let all = msgs(&[
        (&[a("a1")], "m1"),
        (&[a("a2")], "m2"),
        (&[Identifier::user_id("u"), a("a2"), a("a1")], "m3"),
        (&[Identifier::anonymous_id("null")], "m4"),
    ]);
    let mut g = build(&IdentityConfig::default(), &all);
    let before = g.encode_snapshot();
    let report = g.reapply_config(IdentityConfig::default()).unwrap();
    assert_eq!(report, SplitReport::default());
    assert_eq!(g.encode_snapshot(), before);
}

#[test]
fn removing_the_only_message_of_a_profile_detaches_and_retires_it() {
    let all = msgs(&[(&[a("a1")], "m1"), (&[a("a2")], "m2")]);
    let mut g = build(&IdentityConfig::default(), &all);
    let report = g.remove_link("m1");
    assert_eq!(report.detached, vec![("m1".to_owned(), ProfileId(0))]);
    assert_eq!(report.retired, vec![ProfileId(0)]);
    assert_eq!(g.lookup(&a("a1")), None);
    assert_eq!(g.lookup(&a("a2")), Some(ProfileId(1)));
    assert_eq!(g.canonical(ProfileId(0)), ProfileId(0));
    assert!(g.identifiers_of_profile(ProfileId(0)).is_empty());
    assert_eq!(g.message_profiles("m1"), vec![None]);
    assert_eq!(g.profile_count(), 1);
    // New profiles continue after every id allocated so far.
    assert_eq!(g.resolve(&[a("a3")], "m3", 9).profile, ProfileId(2));
}
