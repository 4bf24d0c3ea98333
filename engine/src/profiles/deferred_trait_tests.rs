//! Calls with much computed-trait upkeep run it on a thread beside the write and log the
//! trait values as a second WAL record. The values must equal a recomputation, and a crash
//! that loses that second record must be repaired when the database next opens.

use super::prop_tests::{check, definitions};
use super::state::column_values;
use super::test_support::{at, identify, ingest_ok, open, track, TempDir};
use super::DAY_MICROS;
use crate::mutation::{Batch, Mutation};
use crate::schema::TableKind;
use crate::wal::format::{decode_record, FILE_HEADER_LEN};
use serde_json::json;
use std::path::{Path, PathBuf};

/// Tracked events per call: with most definitions matching every event, far more (event,
/// trait) pairs than it takes to move trait upkeep to its own thread (the crash test checks
/// that the call's last WAL record holds the trait values alone).
const EVENTS_PER_CALL: usize = 600;

/// One call's messages: tracks by 40 users and 40 anonymous visitors, and logins linking
/// them differently from call to call (merges, and refused links).
fn call(round: usize) -> Vec<String> {
    let mut lines = Vec::new();
    for i in 0..EVENTS_PER_CALL {
        let person = i % 40;
        let (field, id) = if i % 3 == 0 {
            ("userId", format!("u{person}"))
        } else {
            ("anonymousId", format!("a{person}"))
        };
        let day = i64::try_from(i % 30).expect("small");
        let second = i64::try_from(i % 60).expect("small");
        lines.push(track(
            &format!("r{round}-t{i}"),
            (field, &id),
            ["A", "B", "C"][i % 3],
            &at(day, second),
            json!({"amount": i % 97, "cat": format!("c{}", i % 5)}),
        ));
        if i % 50 == 0 {
            lines.push(identify(
                &format!("r{round}-l{i}"),
                &[
                    ("userId", &format!("u{person}")),
                    ("anonymousId", &format!("a{}", (person + round) % 40)),
                ],
                &at(day, second),
                json!({}),
            ));
        }
    }
    lines
}

fn open_with_traits(dir: &TempDir) -> super::Profiles {
    let profiles = open(dir);
    for definition in definitions() {
        profiles.create_trait(definition).unwrap();
    }
    profiles.advance_clock((19_723 + 31) * DAY_MICROS).unwrap();
    profiles
}

#[test]
fn traits_kept_beside_the_write_equal_a_recomputation() {
    let dir = TempDir::new("deferred-traits");
    let profiles = open_with_traits(&dir);
    for round in 0..3 {
        ingest_ok(&profiles, &call(round));
        check(&profiles);
    }
    drop(profiles);
    check(&open(&dir));
}

/// The WAL file of `dir` and the offset where its last record starts.
fn last_record(dir: &Path) -> (PathBuf, usize) {
    let wal_dir = dir.join("wal");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&wal_dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    let file = files.pop().expect("a WAL file");
    let bytes = std::fs::read(&file).unwrap();
    let mut offset = FILE_HEADER_LEN;
    let mut last = None;
    while let Ok(record) = decode_record(&bytes[offset..]) {
        last = Some((offset, Batch::decode(record.payload).unwrap()));
        offset += record.encoded_len;
    }
    let (start, batch) = last.expect("a record");
    // The record holds the trait values alone: upserts of computed-trait columns.
    let names: Vec<String> = definitions().into_iter().map(|d| d.name).collect();
    assert!(!batch.mutations.is_empty());
    for mutation in &batch.mutations {
        let Mutation::Upsert { table, values, .. } = mutation else {
            panic!("not an upsert: {mutation:?}");
        };
        assert_eq!(*table, TableKind::Profiles);
        assert!(values
            .iter()
            .all(|(name, _)| names.iter().any(|n| n == name)));
    }
    (file, start)
}

#[test]
fn trait_values_lost_in_a_crash_are_rebuilt_at_open() {
    let dir = TempDir::new("deferred-traits-crash");
    let profiles = open_with_traits(&dir);
    ingest_ok(&profiles, &call(0));
    let snapshot = profiles.snapshot();
    let events = snapshot.live_rows(TableKind::Events).len();
    let expected: Vec<_> = definitions()
        .iter()
        .map(|d| column_values(&snapshot, &d.name).unwrap())
        .collect();
    // Dropped without closing: the call stays in the WAL, not in segments.
    drop(snapshot);
    drop(profiles);
    // A crash after the call's rows reached the log, before its trait values did.
    let (file, start) = last_record(dir.path());
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&file, &bytes[..start]).unwrap();
    let reopened = open(&dir);
    let snapshot = reopened.snapshot();
    assert_eq!(snapshot.live_rows(TableKind::Events).len(), events);
    check(&reopened);
    let rebuilt: Vec<_> = definitions()
        .iter()
        .map(|d| column_values(&snapshot, &d.name).unwrap())
        .collect();
    assert_eq!(rebuilt, expected);
}

/// The storage starts failing at every point of a call whose trait upkeep runs beside it,
/// under a syncing mode: the call fails or succeeds whole, the database handle is dropped
/// without panic or hang, and the reopened database holds the call entirely or not at all
/// (entirely when it was acknowledged), with trait values equal to a recomputation.
#[test]
fn a_storage_failure_during_a_call_with_traits_beside_it_keeps_the_call_whole() {
    use crate::io::{FaultPlan, FaultyStorage, FsStorage};
    use std::sync::Arc;
    let lines = call(0);
    // Every accepted message is an event row, logins included.
    let messages = lines.len() as u64;
    let mut failed_calls = 0;
    let mut whole_calls = 0;
    for steps in 0..400 {
        let dir = TempDir::new("deferred-traits-fault");
        let storage = Arc::new(FaultyStorage::new(FsStorage, FaultPlan::FailAfter(steps)));
        let opened = crate::Database::open_with_storage(
            Arc::clone(&storage) as Arc<dyn crate::io::Storage>,
            dir.path(),
            crate::Options {
                sync_mode: crate::SyncMode::EveryCommit,
                ..crate::Options::default()
            },
        )
        .map_err(super::ProfilesError::from)
        .and_then(|db| super::Profiles::from_database(db, super::ProfilesOptions::default()));
        let Ok(profiles) = opened else { continue };
        let set_up = definitions()
            .into_iter()
            .try_for_each(|definition| profiles.create_trait(definition))
            .and_then(|()| profiles.advance_clock((19_723 + 31) * DAY_MICROS));
        if set_up.is_err() || storage.has_failed() {
            continue;
        }
        let result = profiles.ingest_lines(&lines);
        let failed_during_call = storage.has_failed();
        // Closing may fail on the dead storage; the handle must still go away cleanly.
        let _ = profiles.close();
        let reopened = open(&dir);
        let events = reopened.snapshot().live_rows(TableKind::Events).len();
        match result {
            Ok(report) => {
                assert!(report.rejected.is_empty(), "steps {steps}");
                assert_eq!(
                    events, messages,
                    "steps {steps}: an acknowledged call is whole"
                );
            }
            Err(_) => assert!(
                events == 0 || events == messages,
                "steps {steps}: a failed call is all there or not at all ({events} events)"
            ),
        }
        check(&reopened);
        if !failed_during_call {
            whole_calls += 1;
            break;
        }
        failed_calls += 1;
    }
    assert!(failed_calls > 0, "some step failed inside the call");
    assert_eq!(whole_calls, 1, "the sweep reached a call with no failure");
}
