//! The identity graph across flushes that do not write its snapshot: the WAL is kept from the
//! graph's anchor, and opening replays the graph changes of records already in segments.

use super::test_support::{all_rows, at, identify, ingest_ok, open, TempDir};
use crate::db::WAL_DIR;
use crate::dump::check_database;
use crate::identity::{Identifier, IdentifierType};
use crate::io::FsStorage;
use crate::manifest::Manifest;
use crate::schema::TableKind;
use serde_json::json;

/// Identify messages `first..first + count`, each linking a user id to an email.
fn sign_ups(first: usize, count: usize) -> Vec<String> {
    (first..first + count)
        .map(|i| {
            identify(
                &format!("sign-up-{i}"),
                &[("userId", &format!("u{i}"))],
                &at(1, i as i64),
                json!({"email": format!("e{i}@example.com"), "plan": "free"}),
            )
        })
        .collect()
}

/// Identify messages that give users `0..count` an anonymous id each.
fn logins(count: usize) -> Vec<String> {
    (0..count)
        .map(|i| {
            identify(
                &format!("login-{i}"),
                &[
                    ("userId", &format!("u{i}")),
                    ("anonymousId", &format!("a{i}")),
                ],
                &at(2, i as i64),
                json!({"plan": "pro"}),
            )
        })
        .collect()
}

fn manifest(dir: &TempDir) -> Manifest {
    Manifest::load(&FsStorage, dir.path()).unwrap().unwrap()
}

fn anonymous(value: &str) -> Identifier {
    Identifier::new(IdentifierType::AnonymousId, value)
}

/// A database whose second flush kept the graph's first snapshot: the logins' graph changes
/// live only in the WAL, below `flushed_lsn`.
fn graph_anchored_below_the_flush(dir: &TempDir) -> super::Profiles {
    let profiles = open(dir);
    ingest_ok(&profiles, &sign_ups(0, 300));
    profiles.database().flush().unwrap();
    let first = manifest(dir);
    assert_eq!(first.identity_snapshot, first.flushed_lsn);
    assert_eq!(first.identity_lsn, first.flushed_lsn);
    ingest_ok(&profiles, &logins(5));
    profiles.database().flush().unwrap();
    let second = manifest(dir);
    assert!(second.flushed_lsn > first.flushed_lsn);
    assert_eq!(second.identity_snapshot, first.identity_snapshot);
    assert_eq!(second.identity_lsn, first.identity_lsn);
    profiles
}

#[test]
fn graph_changes_after_the_snapshot_are_replayed_from_the_kept_log() {
    let dir = TempDir::new("graph-anchor-replay");
    let profiles = graph_anchored_below_the_flush(&dir);
    let graph = profiles.with_graph(crate::identity::IdentityGraph::encode_snapshot);
    let rows = all_rows(&profiles, TableKind::Profiles);
    let user_3 = profiles.with_graph(|g| g.lookup(&anonymous("a3")));
    assert!(user_3.is_some());
    profiles.close().unwrap();
    let report = check_database(dir.path()).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);

    let profiles = open(&dir);
    assert_eq!(profiles.with_graph(|g| g.lookup(&anonymous("a3"))), user_3);
    assert_eq!(
        profiles.with_graph(crate::identity::IdentityGraph::encode_snapshot),
        graph
    );
    assert_eq!(all_rows(&profiles, TableKind::Profiles), rows);
    // Later logins resolve against the replayed graph: no new profile for a known user.
    let count = profiles.snapshot().live_rows(TableKind::Profiles).len();
    let again = identify("again", &[("anonymousId", "a3")], &at(3, 0), json!({}));
    ingest_ok(&profiles, &[again]);
    assert_eq!(
        profiles.snapshot().live_rows(TableKind::Profiles).len(),
        count
    );
    profiles.close().unwrap();
}

#[test]
fn once_the_kept_log_outweighs_the_snapshot_a_flush_writes_a_new_one() {
    let dir = TempDir::new("graph-anchor-moves");
    let profiles = graph_anchored_below_the_flush(&dir);
    let kept = manifest(&dir);
    // Many more records than the snapshot holds: the next flush re-anchors the graph.
    ingest_ok(&profiles, &sign_ups(300, 3_000));
    profiles.database().flush().unwrap();
    let moved = manifest(&dir);
    assert!(moved.identity_snapshot > kept.identity_snapshot);
    assert_eq!(moved.identity_snapshot, moved.flushed_lsn);
    assert_eq!(moved.identity_lsn, moved.flushed_lsn);
    let names = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.starts_with("identity-"))
        .collect::<Vec<_>>();
    assert_eq!(names.len(), 1, "the old snapshot is removed: {names:?}");
    profiles.close().unwrap();
}

#[test]
fn a_log_lost_below_the_flushed_records_moves_the_graph_anchor_at_open() {
    let dir = TempDir::new("graph-anchor-lost");
    let profiles = graph_anchored_below_the_flush(&dir);
    profiles.close().unwrap();
    let flushed = manifest(&dir).flushed_lsn;
    for entry in std::fs::read_dir(dir.path().join(WAL_DIR)).unwrap() {
        std::fs::remove_file(entry.unwrap().path()).unwrap();
    }
    let profiles = open(&dir);
    let anchored = manifest(&dir);
    assert_eq!(anchored.identity_snapshot, flushed);
    assert_eq!(anchored.identity_lsn, flushed);
    let late = identify(
        "late",
        &[("userId", "late")],
        &at(4, 0),
        json!({"plan": "pro"}),
    );
    ingest_ok(&profiles, &[late]);
    profiles.close().unwrap();
    // Numbering went on past the flushed records, and nothing before them is missing.
    let profiles = open(&dir);
    let user = Identifier::new(IdentifierType::UserId, "late");
    assert!(profiles.with_graph(|g| g.lookup(&user)).is_some());
    profiles.close().unwrap();
}

#[test]
fn flushes_of_a_database_without_identity_changes_keep_no_log_for_the_graph() {
    let dir = TempDir::new("graph-anchor-none");
    let db = crate::Database::open(dir.path(), super::test_support::fast_options()).unwrap();
    for round in 0..3u32 {
        let mut batch = crate::WriteBatch::new();
        batch.upsert_profile(
            round,
            vec![("plan".into(), crate::Value::String("pro".into()))],
        );
        db.write(&batch).unwrap();
        db.flush().unwrap();
        let flushed = manifest(&dir);
        assert_eq!(flushed.identity_snapshot, 0);
        assert_eq!(flushed.identity_lsn, flushed.flushed_lsn);
        let wal_files = std::fs::read_dir(dir.path().join(WAL_DIR)).unwrap().count();
        assert_eq!(
            wal_files, 1,
            "round {round}: only the file being written is left"
        );
    }
    db.close().unwrap();
}

#[test]
fn compaction_writes_the_graph_so_that_no_wal_file_outlives_it() {
    let dir = TempDir::new("graph-anchor-compact");
    let profiles = graph_anchored_below_the_flush(&dir);
    let graph = profiles.with_graph(crate::identity::IdentityGraph::encode_snapshot);
    // Everything is flushed already: compaction still writes the graph kept in the WAL.
    profiles.database().compact().unwrap();
    let compacted = manifest(&dir);
    assert_eq!(compacted.identity_snapshot, compacted.flushed_lsn);
    assert_eq!(compacted.identity_lsn, compacted.flushed_lsn);
    let wal_files = std::fs::read_dir(dir.path().join(WAL_DIR)).unwrap().count();
    assert_eq!(wal_files, 1, "only the file being written is left");
    profiles.close().unwrap();
    let profiles = open(&dir);
    assert_eq!(
        profiles.with_graph(crate::identity::IdentityGraph::encode_snapshot),
        graph
    );
    profiles.close().unwrap();
}
