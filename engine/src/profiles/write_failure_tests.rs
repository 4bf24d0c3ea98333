//! A write that fails after it changed the identity graph in memory must not let later
//! writes or flushes build on links the log never received: they are refused until the
//! database is reopened, and reopening recovers exactly the logged state.

use super::test_support::{at, identify, ingest_ok, open, TempDir};
use crate::db::BuiltBatch;
use crate::error::{Error, Result};
use crate::identity::{Identifier, IdentifierType};
use serde_json::json;

fn user(value: &str) -> Identifier {
    Identifier::user_id(value)
}

fn anonymous(value: &str) -> Identifier {
    Identifier::new(IdentifierType::AnonymousId, value)
}

/// The error a failing build returns, as a read of a damaged file would.
fn injected() -> Error {
    Error::Corrupt {
        file: "injected".into(),
        offset: 0,
        reason: "a read failed while the batch was built".to_owned(),
    }
}

#[test]
fn failed_write_that_changed_the_graph_refuses_writes_until_reopened() {
    let dir = TempDir::new("write-failure");
    let profiles = open(&dir);
    ingest_ok(
        &profiles,
        &[identify(
            "m1",
            &[("userId", "u1"), ("anonymousId", "a1")],
            &at(0, 0),
            json!({}),
        )],
    );
    let failed = profiles.db.write_with(|ctx| -> Result<BuiltBatch<()>> {
        ctx.graph.resolve(&[user("u2"), anonymous("a2")], "m2", 2);
        Err(injected())
    });
    assert!(matches!(failed, Err(Error::Corrupt { .. })));

    let later = profiles.ingest_lines(&[identify("m3", &[("userId", "u3")], &at(0, 3), json!({}))]);
    let message = later.expect_err("writes are refused").to_string();
    assert!(message.contains("reopen"), "{message}");
    // A flush would store the graph, failed links included, as a snapshot.
    assert!(matches!(profiles.db.flush(), Err(Error::Closed { .. })));
    profiles.close().unwrap();

    let profiles = open(&dir);
    profiles.with_graph(|graph| {
        assert!(graph.lookup(&user("u1")).is_some(), "the logged link stays");
        assert_eq!(graph.lookup(&user("u2")), None, "the failed link is gone");
        assert_eq!(graph.lookup(&anonymous("a2")), None);
    });
    ingest_ok(
        &profiles,
        &[identify("m3", &[("userId", "u3")], &at(0, 3), json!({}))],
    );
    profiles.close().unwrap();
}

#[test]
fn failed_write_that_changed_nothing_leaves_writes_open() {
    let dir = TempDir::new("write-failure-clean");
    let profiles = open(&dir);
    let failed = profiles
        .db
        .write_with(|_| -> Result<BuiltBatch<()>> { Err(injected()) });
    assert!(failed.is_err());
    ingest_ok(
        &profiles,
        &[identify("m1", &[("userId", "u1")], &at(0, 0), json!({}))],
    );
    profiles.with_graph(|graph| assert!(graph.lookup(&user("u1")).is_some()));
    profiles.close().unwrap();
}
