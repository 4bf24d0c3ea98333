//! Identity scenarios through the database.

use super::test_support::{all_rows, at, identify, ingest_ok, open, track, TempDir};
use super::{MessageRejection, ProfileView};
use crate::schema::TableKind;
use crate::value::Value;
use serde_json::json;

fn view(p: &super::Profiles, id: &str) -> ProfileView {
    p.profile(id, 100)
        .unwrap()
        .unwrap_or_else(|| panic!("no profile for {id}"))
}

fn event_ids(v: &ProfileView) -> Vec<String> {
    let mut ids: Vec<String> = v
        .events
        .iter()
        .filter_map(|e| e.iter().find(|(k, _)| k == "message_id"))
        .map(|(_, v)| match v {
            Value::String(s) => s.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    ids.sort();
    ids
}

fn trait_of(v: &ProfileView, name: &str) -> Option<Value> {
    v.traits
        .iter()
        .find(|t| t.name == name)
        .map(|t| t.value.clone())
}

#[test]
fn anonymous_browsing_then_login_merges_history() {
    let dir = TempDir::new("login");
    let p = open(&dir);
    ingest_ok(
        &p,
        &[
            track(
                "p1",
                ("anonymousId", "a1"),
                "Viewed",
                &at(0, 1),
                json!({"sku": "x"}),
            ),
            track(
                "p2",
                ("anonymousId", "a1"),
                "Viewed",
                &at(0, 2),
                json!({"sku": "y"}),
            ),
            track(
                "u1",
                ("userId", "u1"),
                "Order Completed",
                &at(0, 3),
                json!({"revenue": 9.5}),
            ),
        ],
    );
    assert_eq!(p.snapshot().row_count(TableKind::Profiles), 2);
    let report = ingest_ok(
        &p,
        &[identify(
            "login",
            &[("userId", "u1"), ("anonymousId", "a1")],
            &at(0, 4),
            json!({"name": "Ann"}),
        )],
    );
    assert_eq!(report.merges, 1);
    assert_eq!(p.snapshot().row_count(TableKind::Profiles), 1);
    let by_anon = view(&p, "anonymous_id:a1");
    let by_user = view(&p, "user_id:u1");
    assert_eq!(by_anon, by_user);
    assert_eq!(event_ids(&by_user), ["login", "p1", "p2", "u1"]);
    assert_eq!(
        trait_of(&by_user, "name"),
        Some(Value::String("Ann".into()))
    );
    // Every event row points at the one live profile.
    for (_, event) in all_rows(&p, TableKind::Events) {
        let owner = event
            .iter()
            .find(|(k, _)| k == "profile_id")
            .unwrap()
            .1
            .clone();
        assert_eq!(owner, Value::Int64(i64::from(by_user.profile_id)));
    }
}

#[test]
fn shared_tablet_used_by_a_second_user_does_not_collapse_profiles() {
    let dir = TempDir::new("tablet");
    let p = open(&dir);
    let report = ingest_ok(
        &p,
        &[
            identify(
                "d1",
                &[("userId", "u1"), ("anonymousId", "phone-1")],
                &at(0, 1),
                json!({}),
            ),
            identify(
                "d2",
                &[("userId", "u1"), ("anonymousId", "laptop-1")],
                &at(0, 2),
                json!({}),
            ),
            identify(
                "t1",
                &[("userId", "u1"), ("anonymousId", "tablet")],
                &at(0, 3),
                json!({}),
            ),
            identify(
                "t2",
                &[("userId", "u2"), ("anonymousId", "tablet")],
                &at(0, 4),
                json!({}),
            ),
            track("t3", ("userId", "u2"), "Played", &at(0, 5), json!({})),
        ],
    );
    assert!(report.refused_links >= 1);
    assert_eq!(p.snapshot().row_count(TableKind::Profiles), 2);
    let first = view(&p, "user_id:u1");
    let second = view(&p, "user_id:u2");
    assert_ne!(first.profile_id, second.profile_id);
    assert_eq!(
        view(&p, "anonymous_id:laptop-1").profile_id,
        first.profile_id
    );
    assert_eq!(view(&p, "anonymous_id:tablet").profile_id, first.profile_id);
    assert_eq!(event_ids(&second), ["t2", "t3"]);
}

#[test]
fn alias_links_previous_id_to_the_user() {
    let dir = TempDir::new("alias");
    let p = open(&dir);
    ingest_ok(
        &p,
        &[
            track("a", ("anonymousId", "anon-7"), "Viewed", &at(0, 1), json!({})),
            r#"{"type":"alias","messageId":"al","userId":"u7","previousId":"anon-7","timestamp":"2024-01-01T00:00:02Z"}"#.to_owned(),
            track("b", ("userId", "u7"), "Bought", &at(0, 3), json!({})),
        ],
    );
    assert_eq!(p.snapshot().row_count(TableKind::Profiles), 1);
    let v = view(&p, "user_id:u7");
    assert_eq!(event_ids(&v), ["a", "al", "b"]);
    assert!(v
        .identifiers
        .iter()
        .any(|i| i.kind == "anonymous_id" && i.value == "anon-7"));
}

#[test]
fn blocked_placeholder_email_does_not_merge() {
    let dir = TempDir::new("blocked");
    let p = open(&dir);
    let report = ingest_ok(
        &p,
        &[
            identify(
                "1",
                &[("userId", "u1")],
                &at(0, 1),
                json!({"email": "test@test.com"}),
            ),
            identify(
                "2",
                &[("userId", "u2")],
                &at(0, 2),
                json!({"email": "TEST@test.com"}),
            ),
        ],
    );
    assert_eq!(report.ignored_identifiers, 2);
    assert_eq!(p.snapshot().row_count(TableKind::Profiles), 2);
    assert!(p.profile("email:test@test.com", 1).unwrap().is_none());
    assert!(view(&p, "user_id:u1")
        .identifiers
        .iter()
        .all(|i| i.kind != "email"));
}

#[test]
fn email_case_variants_are_one_identifier() {
    let dir = TempDir::new("case");
    let p = open(&dir);
    ingest_ok(
        &p,
        &[
            identify(
                "1",
                &[("userId", "u1")],
                &at(0, 1),
                json!({"email": "Alice@Example.com"}),
            ),
            identify(
                "2",
                &[("anonymousId", "a9")],
                &at(0, 2),
                json!({"email": " alice@EXAMPLE.com "}),
            ),
        ],
    );
    assert_eq!(p.snapshot().row_count(TableKind::Profiles), 1);
    let v = view(&p, "email:ALICE@example.com");
    let emails: Vec<_> = v.identifiers.iter().filter(|i| i.kind == "email").collect();
    assert_eq!(emails.len(), 1);
    assert_eq!(emails[0].value, "alice@example.com");
    let snapshot = p.snapshot();
    assert_eq!(
        snapshot
            .get(TableKind::Profiles, v.profile_id, "email")
            .unwrap(),
        Value::String("alice@example.com".into())
    );
}

#[test]
fn late_older_identify_does_not_overwrite_newer_traits() {
    let dir = TempDir::new("late");
    let p = open(&dir);
    ingest_ok(
        &p,
        &[identify(
            "new",
            &[("userId", "u1")],
            &at(5, 0),
            json!({"plan": "pro", "seats": 10}),
        )],
    );
    ingest_ok(
        &p,
        &[identify(
            "old",
            &[("userId", "u1")],
            &at(1, 0),
            json!({"plan": "free", "city": "Oslo"}),
        )],
    );
    let v = view(&p, "user_id:u1");
    let plan = v.traits.iter().find(|t| t.name == "plan").unwrap();
    assert_eq!(plan.value, Value::String("pro".into()));
    assert_eq!(plan.set_by.as_deref(), Some("new"));
    assert_eq!(plan.set_at, Some((19_723 + 5) * super::DAY_MICROS));
    // A trait only the late message carries is still taken.
    assert_eq!(trait_of(&v, "city"), Some(Value::String("Oslo".into())));
    // Same rule across a merge: the absorbed profile's newer trait wins.
    ingest_ok(
        &p,
        &[
            identify(
                "anon",
                &[("anonymousId", "z")],
                &at(9, 0),
                json!({"plan": "enterprise"}),
            ),
            identify(
                "link",
                &[("userId", "u1"), ("anonymousId", "z")],
                &at(2, 0),
                json!({}),
            ),
        ],
    );
    assert_eq!(
        trait_of(&view(&p, "user_id:u1"), "plan"),
        Some(Value::String("enterprise".into()))
    );
}

#[test]
fn equal_timestamps_are_settled_by_the_greater_message_id_in_any_order() {
    for (first, second) in [("m-b", "m-a"), ("m-a", "m-b")] {
        let dir = TempDir::new("tie");
        let p = open(&dir);
        let plan_of = |id: &str| if id == "m-b" { "winner" } else { "loser" };
        let send = |id: &str| {
            ingest_ok(
                &p,
                &[identify(
                    id,
                    &[("userId", "u1")],
                    &at(3, 0),
                    json!({"plan": plan_of(id)}),
                )],
            )
        };
        send(first);
        // The first value is read back from a segment, not from memory.
        p.database().flush().unwrap();
        send(second);
        let v = view(&p, "user_id:u1");
        let plan = v.traits.iter().find(|t| t.name == "plan").unwrap();
        assert_eq!(
            plan.value,
            Value::String("winner".into()),
            "{first} then {second}"
        );
        assert_eq!(plan.set_by.as_deref(), Some("m-b"));
    }
}

#[test]
fn replaying_a_message_id_is_a_no_op() {
    let dir = TempDir::new("dedup");
    let p = open(&dir);
    let lines = [
        track("m1", ("userId", "u1"), "A", &at(0, 1), json!({"n": 1})),
        identify("m2", &[("userId", "u1")], &at(0, 2), json!({"plan": "a"})),
    ];
    ingest_ok(&p, &lines);
    let before = (
        all_rows(&p, TableKind::Profiles),
        all_rows(&p, TableKind::Events),
    );
    let report = ingest_ok(&p, &lines);
    assert_eq!(report.duplicates, [0, 1]);
    assert_eq!(report.accepted, 0);
    assert_eq!(report.lsn, 0);
    let within = ingest_ok(
        &p,
        &[
            lines[0].clone(),
            track("m3", ("userId", "u1"), "A", &at(0, 3), json!({})),
            track("m3", ("userId", "u1"), "A", &at(0, 3), json!({})),
        ],
    );
    assert_eq!(within.duplicates, [0, 2]);
    assert_eq!(within.accepted, 1);
    assert_eq!(before.0, all_rows(&p, TableKind::Profiles));
    assert_eq!(all_rows(&p, TableKind::Events).len(), before.1.len() + 1);
    // The window is rebuilt from the link log at open.
    drop(p);
    let p = open(&dir);
    assert_eq!(p.ingest_lines(&lines).unwrap().duplicates, [0, 1]);
}

#[test]
fn a_bad_message_is_rejected_with_a_reason_and_the_good_ones_kept() {
    let dir = TempDir::new("bad");
    let p = open(&dir);
    let report = p
        .ingest_lines(&[
            track("g1", ("userId", "u1"), "A", &at(0, 1), json!({"amount": 5})),
            "{not json".to_owned(),
            r#"{"type":"track","messageId":"x","userId":"u1","timestamp":"2024-01-01T00:00:00Z"}"#
                .to_owned(),
            track(
                "g2",
                ("userId", "u2"),
                "A",
                &at(0, 2),
                json!({"amount": "five"}),
            ),
            track("g3", ("userId", "u2"), "A", &at(0, 3), json!({"amount": 7})),
            identify("g4", &[("userId", "u2")], &at(0, 4), json!({"_ts.plan": 1})),
        ])
        .unwrap();
    let rejected: Vec<usize> = report.rejected.iter().map(|r| r.index).collect();
    assert_eq!(rejected, [1, 2, 3, 5]);
    assert!(matches!(
        report.rejected[0].reason,
        MessageRejection::Invalid(_)
    ));
    assert!(
        report.rejected[1].reason.to_string().contains("event"),
        "{}",
        report.rejected[1].reason
    );
    assert!(matches!(
        report.rejected[2].reason,
        MessageRejection::Type(_)
    ));
    assert_eq!(report.rejected[2].message_id.as_deref(), Some("g2"));
    assert!(matches!(
        report.rejected[3].reason,
        MessageRejection::Name { .. }
    ));
    assert_eq!(report.accepted, 2);
    assert_eq!(p.snapshot().row_count(TableKind::Events), 2);
    // A rejected message id was not consumed: fixed, it is accepted.
    let fixed = p
        .ingest_lines(&[track(
            "g2",
            ("userId", "u2"),
            "A",
            &at(0, 2),
            json!({"amount": 6}),
        )])
        .unwrap();
    assert_eq!(fixed.accepted, 1);
}

#[test]
fn profile_view_reports_consent_identifiers_and_latest_events() {
    let dir = TempDir::new("view");
    let p = open(&dir);
    ingest_ok(
        &p,
        &[
            identify(
                "i1",
                &[("userId", "42")],
                &at(0, 1),
                json!({"email": "bo@example.com", "name": "Bo", "consent": {"email": true}, "consent.sms": false}),
            ),
            track("e1", ("userId", "42"), "A", &at(0, 2), json!({"k": 1})),
            track("e2", ("userId", "42"), "B", &at(0, 3), json!({"k": 2})),
        ],
    );
    let v = p.profile("email:bo@example.com", 2).unwrap().unwrap();
    assert_eq!(v.events.len(), 2);
    assert!(v.events[0].contains(&("message_id".into(), Value::String("e2".into()))));
    let consent: Vec<&str> = v.consent.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(consent, ["consent.email", "consent.sms"]);
    assert_eq!(trait_of(&v, "name"), Some(Value::String("Bo".into())));
    assert!(v
        .identifiers
        .iter()
        .any(|i| i.kind == "user_id" && i.value == "42"));
    let json = v.to_json();
    assert_eq!(json["traits"][0]["set_by"], "i1");
    assert_eq!(
        json["identifiers"][0]["first_seen"],
        "2024-01-01T00:00:01.000000Z"
    );
    assert!(p.profile("nonsense", 1).is_err());
    assert!(p.profile("user_id:nobody", 1).unwrap().is_none());
}

#[test]
fn lines_messages_and_prepared_messages_ingest_alike() {
    let lines = vec![
        track(
            "t1",
            ("anonymousId", "a1"),
            "Viewed",
            &at(0, 1),
            json!({"sku": "x", "type": "reserved name", "price": 3}),
        ),
        identify(
            "i1",
            &[("userId", "u1"), ("anonymousId", "a1")],
            &at(0, 2),
            json!({"plan": "pro", "email": "U1@x.com"}),
        ),
        track(
            "t2",
            ("userId", "u1"),
            "Bought",
            &at(0, 3),
            json!({"sku": "y"}),
        ),
        track("t1", ("anonymousId", "a1"), "Viewed", &at(0, 1), json!({})),
        identify("i2", &[("userId", "u2")], &at(0, 4), json!({"plan": 7})),
    ];
    let messages: Vec<crate::message::Message> = lines
        .iter()
        .map(|l| crate::message::parse_message_line(l).unwrap())
        .collect();
    let dirs = [
        TempDir::new("alike-lines"),
        TempDir::new("alike-messages"),
        TempDir::new("alike-prepared"),
    ];
    let opened: Vec<super::Profiles> = dirs.iter().map(open).collect();
    let prepared = super::PreparedMessages::new(messages.clone());
    assert_eq!(prepared.len(), lines.len());
    let reports = [
        opened[0].ingest_lines(&lines).unwrap(),
        opened[1].ingest(&messages).unwrap(),
        opened[2].ingest_prepared(prepared).unwrap(),
    ];
    assert_eq!(reports[0].duplicates, vec![3]);
    for report in &reports[1..] {
        assert_eq!(report, &reports[0]);
    }
    for table in [TableKind::Profiles, TableKind::Events] {
        let first = all_rows(&opened[0], table);
        assert!(!first.is_empty());
        for other in &opened[1..] {
            assert_eq!(all_rows(other, table), first, "{table:?}");
        }
    }
}

/// Lines of a large call: identifies and tracks over 100 users, with bad JSON, a value that
/// does not fit its column and a replayed message id at known places.
fn large_call() -> Vec<String> {
    (0..1_500)
        .map(|i| match i {
            7 | 900 => "{not json".to_owned(),
            1_000 => track("m3", ("userId", "u3"), "A", &at(0, 3), json!({"n": 3})),
            1_100 => track("bad", ("userId", "u1"), "A", &at(1, 0), json!({"n": "x"})),
            _ if i % 5 == 0 => identify(
                &format!("m{i}"),
                &[
                    ("userId", &format!("u{}", i % 100)),
                    ("anonymousId", &format!("a{i}")),
                ],
                &at(0, i),
                json!({"email": format!("p{}@example.com", i % 100), "plan": format!("p{i}")}),
            ),
            _ => track(
                &format!("m{i}"),
                ("userId", &format!("u{}", i % 100)),
                "Viewed",
                &at(0, i),
                json!({"n": i}),
            ),
        })
        .collect()
}

#[test]
fn a_large_call_parsed_beside_the_writer_reports_and_stores_what_small_calls_do() {
    let lines = large_call();
    let (large_dir, small_dir) = (TempDir::new("large-call"), TempDir::new("small-calls"));
    let (large, small) = (open(&large_dir), open(&small_dir));
    let report = large.ingest_lines(&lines).unwrap();
    let rejected: Vec<usize> = report.rejected.iter().map(|r| r.index).collect();
    assert_eq!(rejected, [7, 900, 1_100]);
    assert!(matches!(
        report.rejected[0].reason,
        MessageRejection::Invalid(_)
    ));
    assert!(matches!(
        report.rejected[2].reason,
        MessageRejection::Type(_)
    ));
    assert_eq!(report.duplicates, [1_000]);
    assert_eq!(report.accepted, 1_496);
    for chunk in lines.chunks(50) {
        small.ingest_lines(chunk).unwrap();
    }
    for table in [TableKind::Profiles, TableKind::Events] {
        assert_eq!(
            all_rows(&large, table),
            all_rows(&small, table),
            "{table:?}"
        );
    }
    let latest = view(&large, "user_id:u95");
    assert_eq!(
        trait_of(&latest, "plan"),
        Some(Value::String("p1495".to_owned()))
    );
}
