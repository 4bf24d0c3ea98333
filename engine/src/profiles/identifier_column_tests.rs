//! The identifier columns of `profiles` always equal what the identity graph says: the most
//! recently seen value of each type. Ingestion trusts this to skip reading stored values, so
//! the property is checked against the graph after random streams of calls, flushes and
//! reopens (which move rows from memory into segments and back through the WAL).

use super::ingest::identifier_values;
use super::test_support::{at, identify, open, track, TempDir};
use crate::identity::ProfileId;
use crate::schema::TableKind;
use crate::value::Value;
use proptest::prelude::*;
use serde_json::json;

/// One step of a stream: a call of messages, or storage housekeeping between calls.
#[derive(Debug, Clone)]
enum Step {
    /// (user, anonymous id, email) triples sent in one call, as identify or track messages.
    Call(Vec<(u8, u8, u8, bool)>),
    Flush,
    Reopen,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => proptest::collection::vec((0u8..6, 0u8..10, 0u8..4, any::<bool>()), 1..8)
            .prop_map(Step::Call),
        1 => Just(Step::Flush),
        1 => Just(Step::Reopen),
    ]
}

fn call_lines(call: &[(u8, u8, u8, bool)], first_id: &mut u32) -> Vec<String> {
    call.iter()
        .map(|&(user, anonymous, email, is_identify)| {
            *first_id += 1;
            let id = format!("m{first_id}");
            let ts = at(i64::from(*first_id % 5), i64::from(*first_id));
            if is_identify {
                identify(
                    &id,
                    &[
                        ("userId", &format!("u{user}")),
                        ("anonymousId", &format!("a{anonymous}")),
                    ],
                    &ts,
                    json!({"email": format!("p{email}@example.com")}),
                )
            } else {
                track(
                    &id,
                    ("anonymousId", &format!("a{anonymous}")),
                    "Viewed",
                    &ts,
                    json!({}),
                )
            }
        })
        .collect()
}

fn assert_columns_match_graph(profiles: &super::Profiles) {
    let snapshot = profiles.snapshot();
    for row in snapshot.live_rows(TableKind::Profiles).iter() {
        let Value::Int64(identity) = snapshot
            .get(TableKind::Profiles, row, super::columns::IDENTITY_COLUMN)
            .unwrap()
        else {
            panic!("row {row} has no identity profile");
        };
        let wanted = profiles.with_graph(|graph| {
            let profile = graph.canonical(ProfileId(u32::try_from(identity).unwrap()));
            identifier_values(graph, profile)
        });
        for (column, value) in wanted {
            let stored = snapshot.get(TableKind::Profiles, row, &column).unwrap();
            assert_eq!(stored, value, "row {row}, column {column}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn identifier_columns_follow_the_graph(steps in proptest::collection::vec(step(), 1..14)) {
        let dir = TempDir::new("identifier-columns");
        let mut profiles = open(&dir);
        let mut message = 0;
        for step in &steps {
            match step {
                Step::Call(call) => {
                    let report = profiles.ingest_lines(&call_lines(call, &mut message)).unwrap();
                    prop_assert!(report.rejected.is_empty());
                }
                Step::Flush => profiles.database().flush().unwrap(),
                Step::Reopen => {
                    profiles.close().unwrap();
                    profiles = open(&dir);
                }
            }
            assert_columns_match_graph(&profiles);
        }
    }
}
