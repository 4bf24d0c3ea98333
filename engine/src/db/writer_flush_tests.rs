//! A writer far ahead of the background worker flushes on its own time: memory stays
//! bounded even when the worker never runs, and nothing written is lost.

use super::{Database, WRITER_FLUSH_FACTOR};
use crate::options::{Options, SyncMode};
use crate::profiles::test_support::TempDir;
use crate::schema::TableKind;
use crate::value::Value;
use crate::WriteBatch;

const THRESHOLD: usize = 32 << 10;

fn options() -> Options {
    Options {
        sync_mode: SyncMode::Never,
        flush_threshold_bytes: THRESHOLD,
        compaction_trigger_segments: 0,
        ..Options::default()
    }
}

/// One batch of `count` profiles from `first`, each with a note and one event.
fn batch(first: u32, count: u32) -> WriteBatch {
    let mut batch = WriteBatch::new();
    for profile in first..first + count {
        let note = format!("profile {profile} with a note long enough to fill memory");
        batch.upsert_profile(profile, vec![("note".into(), Value::String(note))]);
        batch.append_event(profile, vec![("amount".into(), Value::Int64(1))]);
    }
    batch
}

fn segment_count(db: &Database) -> usize {
    db.stats().unwrap().segments.iter().map(|s| s.1).sum()
}

#[test]
fn a_writer_flushes_itself_when_the_background_worker_falls_behind() {
    let dir = TempDir::new("writer-flush");
    let mut db = Database::open(dir.path(), options()).unwrap();
    // As if the worker never got a core.
    db.worker.take().unwrap().stop();
    let per_batch = 200;
    let mut largest = 0;
    for round in 0..100 {
        db.write(&batch(round * per_batch, per_batch)).unwrap();
        largest = largest.max(db.stats().unwrap().memory_bytes);
    }
    assert!(segment_count(&db) > 0, "the writer flushed");
    // One batch is far below a threshold: memory never passes the writer's limit by more.
    assert!(
        largest < THRESHOLD * (WRITER_FLUSH_FACTOR + 1),
        "memory reached {largest} bytes"
    );
    db.close().unwrap();

    let db = Database::open(dir.path(), options()).unwrap();
    let snapshot = db.snapshot();
    assert_eq!(snapshot.row_count(TableKind::Profiles), 100 * 200);
    assert_eq!(snapshot.row_count(TableKind::Events), 100 * 200);
    let row = snapshot.row(TableKind::Profiles, 12_345).unwrap().unwrap();
    assert!(row.contains(&(
        "note".into(),
        Value::String("profile 12345 with a note long enough to fill memory".into())
    )));
}

#[test]
fn below_the_writer_limit_flushes_are_left_to_the_background_worker() {
    let dir = TempDir::new("writer-flush-below");
    let mut db = Database::open(dir.path(), options()).unwrap();
    db.worker.take().unwrap().stop();
    // About two thresholds of memory: the worker was asked, the writer did not flush.
    for round in 0..1_000 {
        if db.stats().unwrap().memory_bytes >= 2 * THRESHOLD {
            break;
        }
        db.write(&batch(round * 50, 50)).unwrap();
    }
    assert!(db.stats().unwrap().memory_bytes >= 2 * THRESHOLD);
    assert_eq!(segment_count(&db), 0);
}
