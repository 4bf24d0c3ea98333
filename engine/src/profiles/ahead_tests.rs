//! Identifiers extracted on the parsing thread: the same as the graph's, and used only
//! while the configuration they were extracted under is still the graph's, for both
//! `ingest_lines` and prepared messages.

use super::columns::take_event_values;
use super::test_support::{at, identify, line, open, TempDir};
use super::IngestReport;
use crate::identity::{Identifier, IdentityGraph};
use crate::message::parse_message_line;
use serde_json::json;

#[test]
fn identifiers_extracted_ahead_equal_the_graphs() {
    let graph = IdentityGraph::default();
    let lines = [
        identify(
            "i1",
            &[("userId", " U1 "), ("anonymousId", "a1")],
            &at(0, 0),
            json!({"email": "Ann@Example.com", "phone": 5_551_234, "plan": "pro"}),
        ),
        identify(
            "i2",
            &[("userId", "null")],
            &at(0, 1),
            json!({"email": "test@test.com"}),
        ),
        line(
            json!({"type": "track", "messageId": "t1", "event": "E", "timestamp": at(0, 2),
            "anonymousId": "a2", "context": {"device": {"id": "d1"},
            "externalIds": [{"id": "x1", "type": "email"}, {"id": "c1", "type": "crm"}]}}),
        ),
        line(
            json!({"type": "group", "messageId": "g1", "groupId": "acme", "timestamp": at(0, 3),
            "userId": "u2", "traits": {"email": "group@example.com"}}),
        ),
    ];
    for text in &lines {
        let message = parse_message_line(text).unwrap();
        let ahead = graph.config().identifiers_without_graph(&message);
        assert_eq!(ahead, Some(graph.identifiers_of(&message)), "{text}");
    }
    let alias = line(
        json!({"type": "alias", "messageId": "al", "timestamp": at(0, 4),
        "userId": "u3", "previousId": "a3"}),
    );
    let message = parse_message_line(&alias).unwrap();
    assert_eq!(graph.config().identifiers_without_graph(&message), None);
}

#[test]
fn extracted_identifiers_are_used_only_under_their_configuration() {
    let dir = TempDir::new("ahead");
    let profiles = open(&dir);
    let in_force = profiles.with_graph(|graph| graph.config().clone());
    let mut outdated = in_force.clone();
    outdated
        .blocked_identifiers
        .push(Identifier::user_id("someone-else"));
    // A message whose identifiers, as if extracted ahead, name another user.
    let ingest = |id: &str, user: &str, stand_in: &str, config| {
        let text = identify(id, &[("userId", user)], &at(0, 0), json!({}));
        let mut message = parse_message_line(&text).unwrap();
        let event = take_event_values(&mut message);
        let extracted = (vec![Identifier::user_id(stand_in)], Vec::new());
        let stream = std::iter::once((0, message, event, Some(extracted)));
        profiles
            .ingest_stream(
                (stream, 1, Some(config)),
                &mut drop,
                IngestReport::default(),
            )
            .unwrap();
    };
    ingest("m1", "u1", "stand-in-1", &outdated);
    ingest("m2", "u2", "stand-in-2", &in_force);
    profiles.with_graph(|graph| {
        assert!(
            graph.lookup(&Identifier::user_id("u1")).is_some(),
            "re-extracted"
        );
        assert_eq!(graph.lookup(&Identifier::user_id("stand-in-1")), None);
        assert!(
            graph.lookup(&Identifier::user_id("stand-in-2")).is_some(),
            "used"
        );
    });
    profiles.close().unwrap();
}

/// `count` identify messages whose user ids, anonymous ids and emails repeat with the given
/// periods, so that they link and merge profiles in overlapping ways.
fn linked_identifies(count: u32, [users, anonymous, emails]: [u32; 3]) -> Vec<String> {
    (0..count)
        .map(|i| {
            let user = format!("u{}", i % users);
            let anonymous_id = format!("a{}", i % anonymous);
            let ids = [("userId", user.as_str()), ("anonymousId", &anonymous_id)];
            let traits = json!({"email": format!("P{}@Example.com", i % emails), "n": i});
            identify(&format!("m{i}"), &ids, &at(0, i64::from(i)), traits)
        })
        .collect()
}

#[test]
fn a_large_call_parsed_beside_the_writer_ingests_like_small_calls() {
    // Large enough for the parsing thread (and identifiers extracted ahead), against calls
    // small enough to be parsed on the writer.
    let lines = linked_identifies(1_200, [97, 131, 89]);
    let large_dir = TempDir::new("ahead-large");
    let small_dir = TempDir::new("ahead-small");
    let large = open(&large_dir);
    let small = open(&small_dir);
    super::test_support::ingest_ok(&large, &lines);
    for chunk in lines.chunks(100) {
        super::test_support::ingest_ok(&small, chunk);
    }
    for table in crate::schema::TableKind::ALL {
        assert_eq!(
            super::test_support::all_rows(&large, table),
            super::test_support::all_rows(&small, table),
            "{table:?}"
        );
    }
    large.close().unwrap();
    small.close().unwrap();
}

#[test]
fn prepared_messages_with_identifiers_ingest_like_plain_ones() {
    let lines = linked_identifies(300, [41, 67, 29]);
    let messages: Vec<_> = lines
        .iter()
        .map(|text| parse_message_line(text).unwrap())
        .collect();
    let plain_dir = TempDir::new("prepared-plain");
    let ahead_dir = TempDir::new("prepared-ahead");
    let stale_dir = TempDir::new("prepared-stale");
    let plain = open(&plain_dir);
    let ahead = open(&ahead_dir);
    let stale = open(&stale_dir);
    // An outdated configuration that blocks a user id the database accepts: if its
    // extractions were used, that user's links would be missing.
    let mut outdated = stale.identity_config();
    outdated.blocked_identifiers.push(Identifier::user_id("u7"));
    let reports = [
        plain.ingest_prepared(super::PreparedMessages::new(messages.clone())),
        ahead.ingest_prepared(super::PreparedMessages::with_identifiers(
            messages.clone(),
            &ahead.identity_config(),
        )),
        stale.ingest_prepared(super::PreparedMessages::with_identifiers(
            messages, &outdated,
        )),
    ]
    .map(Result::unwrap);
    assert_eq!(
        reports[0],
        IngestReport {
            lsn: reports[0].lsn,
            ..reports[1].clone()
        }
    );
    assert_eq!(
        reports[0],
        IngestReport {
            lsn: reports[0].lsn,
            ..reports[2].clone()
        }
    );
    for other in [&ahead, &stale] {
        for table in crate::schema::TableKind::ALL {
            assert_eq!(
                super::test_support::all_rows(&plain, table),
                super::test_support::all_rows(other, table),
                "{table:?}"
            );
        }
    }
    stale.with_graph(|graph| assert!(graph.lookup(&Identifier::user_id("u7")).is_some()));
    for profiles in [plain, ahead, stale] {
        profiles.close().unwrap();
    }
}
