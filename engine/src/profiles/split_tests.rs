//! Operator splits and persistence through the database.

use super::test_support::{all_rows, at, identify, ingest_ok, open, track, TempDir};
use super::{Aggregate, ComputedTrait, Condition, ProfileView, Profiles};
use crate::scan::CompareOp;
use crate::schema::TableKind;
use crate::value::Value;
use serde_json::json;

fn purchases() -> ComputedTrait {
    ComputedTrait {
        name: "purchases".into(),
        aggregate: Aggregate::Count,
        event_filter: vec![Condition {
            column: "event".into(),
            op: CompareOp::Eq,
            value: Value::String("Bought".into()),
        }],
        window: None,
    }
}

/// Alice (user id, email) and Bob (anonymous) with a bad link between them in the middle.
fn history(with_link: bool) -> Vec<String> {
    let mut lines = vec![
        identify(
            "a1",
            &[("userId", "alice")],
            &at(0, 1),
            json!({"email": "a@x.io", "name": "Alice", "plan": "free"}),
        ),
        track(
            "a2",
            ("userId", "alice"),
            "Bought",
            &at(0, 2),
            json!({"price": 3}),
        ),
        identify(
            "b1",
            &[("anonymousId", "bob-device")],
            &at(0, 3),
            json!({"name": "Bob", "city": "Rome"}),
        ),
        track(
            "b2",
            ("anonymousId", "bob-device"),
            "Bought",
            &at(0, 4),
            json!({"price": 5}),
        ),
    ];
    if with_link {
        lines.push(identify(
            "link",
            &[("anonymousId", "bob-device")],
            &at(0, 5),
            json!({"email": "a@x.io"}),
        ));
    }
    lines.extend([
        track(
            "b3",
            ("anonymousId", "bob-device"),
            "Bought",
            &at(0, 6),
            json!({"price": 7}),
        ),
        identify(
            "a3",
            &[("userId", "alice")],
            &at(0, 7),
            json!({"plan": "pro"}),
        ),
        identify(
            "b4",
            &[("anonymousId", "bob-device")],
            &at(0, 8),
            json!({"name": "Robert"}),
        ),
    ]);
    lines
}

fn build(dir: &TempDir, with_link: bool) -> Profiles {
    let p = open(dir);
    p.create_trait(purchases()).unwrap();
    for chunk in history(with_link).chunks(3) {
        ingest_ok(&p, chunk);
    }
    p
}

/// The parts of a view that do not depend on row or profile ids.
fn essence(v: &ProfileView) -> impl PartialEq + std::fmt::Debug {
    let mut events: Vec<Vec<(String, Value)>> = v
        .events
        .iter()
        .map(|e| {
            e.iter()
                .filter(|(k, _)| k != "profile_id")
                .cloned()
                .collect()
        })
        .collect();
    events.sort_by_key(|e| format!("{e:?}"));
    (
        v.identifiers.clone(),
        v.traits.clone(),
        v.computed.clone(),
        events,
    )
}

#[test]
fn remove_link_splits_as_if_the_link_was_never_ingested() {
    let linked_dir = TempDir::new("split-linked");
    let clean_dir = TempDir::new("split-clean");
    let linked = build(&linked_dir, true);
    let clean = build(&clean_dir, false);
    let alice = linked.profile("user_id:alice", 100).unwrap().unwrap();
    let bob = linked
        .profile("anonymous_id:bob-device", 100)
        .unwrap()
        .unwrap();
    assert_eq!(alice.profile_id, bob.profile_id, "the link merged them");
    assert_eq!(linked.snapshot().row_count(TableKind::Profiles), 1);

    let report = linked.remove_link("link").unwrap();
    assert_eq!(report.messages_ignored, 1);
    assert_eq!(linked.snapshot().row_count(TableKind::Profiles), 2);
    for who in ["user_id:alice", "anonymous_id:bob-device", "email:a@x.io"] {
        let split = linked.profile(who, 100).unwrap().unwrap();
        let expected = clean.profile(who, 100).unwrap().unwrap();
        assert_eq!(essence(&split), essence(&expected), "{who}");
    }
    let bob = linked
        .profile("anonymous_id:bob-device", 100)
        .unwrap()
        .unwrap();
    assert_eq!(bob.computed, [("purchases".to_owned(), Value::Int64(2))]);
    assert_eq!(
        linked.snapshot().row_count(TableKind::Events),
        clean.snapshot().row_count(TableKind::Events)
    );
    // Durable: the action and the row changes survive a reopen, and new messages follow it.
    drop(linked);
    let linked = open(&linked_dir);
    for who in ["user_id:alice", "anonymous_id:bob-device"] {
        let split = linked.profile(who, 100).unwrap().unwrap();
        let expected = clean.profile(who, 100).unwrap().unwrap();
        assert_eq!(essence(&split), essence(&expected), "{who} after reopen");
    }
    let more = [track(
        "b9",
        ("anonymousId", "bob-device"),
        "Bought",
        &at(1, 0),
        json!({}),
    )];
    ingest_ok(&linked, &more);
    ingest_ok(&clean, &more);
    let a = linked
        .profile("anonymous_id:bob-device", 100)
        .unwrap()
        .unwrap();
    let b = clean
        .profile("anonymous_id:bob-device", 100)
        .unwrap()
        .unwrap();
    assert_eq!(essence(&a), essence(&b));
}

#[test]
fn block_value_splits_profiles_joined_by_that_value() {
    let dir = TempDir::new("block");
    let p = build(&dir, true);
    let report = p
        .block_value(&crate::identity::Identifier::email("a@x.io"))
        .unwrap();
    assert!(!report.retired.is_empty() || !report.created.is_empty() || !report.changed.is_empty());
    let alice = p.profile("user_id:alice", 100).unwrap().unwrap();
    let bob = p.profile("anonymous_id:bob-device", 100).unwrap().unwrap();
    assert_ne!(alice.profile_id, bob.profile_id);
    assert!(alice.identifiers.iter().all(|i| i.kind != "email"));
    let snapshot = p.snapshot();
    assert_eq!(
        snapshot
            .get(TableKind::Profiles, alice.profile_id, "email")
            .unwrap(),
        Value::Null
    );
}

fn graph_bytes(p: &Profiles) -> Vec<u8> {
    p.with_graph(crate::identity::IdentityGraph::encode_snapshot)
}

fn state_of(p: &Profiles) -> impl PartialEq + std::fmt::Debug {
    (
        graph_bytes(p),
        all_rows(p, TableKind::Profiles),
        all_rows(p, TableKind::Events),
    )
}

#[test]
fn reopen_replays_the_wal_into_the_same_graph_and_profiles() {
    let dir = TempDir::new("reopen");
    let p = build(&dir, true);
    let before = state_of(&p);
    drop(p);
    let p = open(&dir);
    assert_eq!(state_of(&p), before);
    assert!(p.profile("email:a@x.io", 10).unwrap().is_some());
}

#[test]
fn flush_then_more_ingest_then_reopen_gives_the_same_state() {
    let dir = TempDir::new("flush");
    let p = build(&dir, true);
    p.database().flush().unwrap();
    let snaps: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("identity-") && n.ends_with(".snap"))
        .collect();
    assert_eq!(
        snaps.len(),
        1,
        "one graph snapshot referenced by the manifest"
    );
    ingest_ok(
        &p,
        &[
            identify(
                "c1",
                &[("userId", "carol"), ("anonymousId", "bob-device")],
                &at(2, 0),
                json!({"name": "Carol"}),
            ),
            track("c2", ("userId", "carol"), "Bought", &at(2, 1), json!({})),
        ],
    );
    p.remove_link("link").unwrap();
    let before = state_of(&p);
    drop(p);
    let p = open(&dir);
    assert_eq!(state_of(&p), before);
    // A second flush replaces the snapshot; the old one is deleted.
    ingest_ok(
        &p,
        &[track(
            "c3",
            ("userId", "carol"),
            "Bought",
            &at(2, 2),
            json!({}),
        )],
    );
    p.database().flush().unwrap();
    let before = state_of(&p);
    drop(p);
    let p = open(&dir);
    assert_eq!(state_of(&p), before);
    let snaps = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("identity-"))
        .count();
    assert_eq!(snaps, 1);
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn a_crash_image_taken_while_open_recovers_every_acknowledged_batch() {
    let dir = TempDir::new("crash");
    let options = crate::options::Options {
        sync_mode: crate::options::SyncMode::EveryCommit,
        ..crate::options::Options::default()
    };
    let p = Profiles::open(
        dir.path(),
        options.clone(),
        super::ProfilesOptions::default(),
    )
    .unwrap();
    p.create_trait(purchases()).unwrap();
    let lines = history(true);
    ingest_ok(&p, &lines[..4]);
    p.database().flush().unwrap();
    ingest_ok(&p, &lines[4..]);
    p.remove_link("link").unwrap();
    let expected = state_of(&p);
    // Every acknowledged batch was fsynced: a copy of the files now is what a crash leaves.
    let image = TempDir::new("crash-image");
    copy_dir(dir.path(), image.path());
    let recovered =
        Profiles::open(image.path(), options, super::ProfilesOptions::default()).unwrap();
    assert_eq!(state_of(&recovered), expected);
    assert_eq!(recovered.computed_traits(), [purchases()]);
}

#[test]
fn a_damaged_identity_snapshot_fails_open_naming_the_file() {
    let dir = TempDir::new("bad-snap");
    let p = build(&dir, true);
    p.database().flush().unwrap();
    drop(p);
    let snap = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(Result::ok)
        .find(|e| e.file_name().to_string_lossy().starts_with("identity-"))
        .unwrap()
        .path();
    let mut bytes = std::fs::read(&snap).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    std::fs::write(&snap, bytes).unwrap();
    let error = Profiles::open(
        dir.path(),
        super::test_support::fast_options(),
        super::ProfilesOptions::default(),
    )
    .unwrap_err();
    assert!(error.to_string().contains("identity-"), "{error}");
}

#[test]
fn reapply_config_is_durable_and_splits_by_the_new_limits() {
    let dir = TempDir::new("reapply");
    let p = build(&dir, true);
    assert_eq!(p.snapshot().row_count(TableKind::Profiles), 1);
    let config = crate::identity::IdentityConfig::default()
        .with_limit(crate::identity::IdentifierType::Email, 0);
    p.reapply_config(config.clone()).unwrap();
    assert_eq!(p.snapshot().row_count(TableKind::Profiles), 2);
    let before = state_of(&p);
    drop(p);
    let p = open(&dir);
    assert_eq!(state_of(&p), before);
    assert_eq!(p.with_graph(|g| g.config().clone()), config);
}
