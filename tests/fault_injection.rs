//! When the storage fails at any point (modelling a crash at that point: every later write,
//! sync, rename or removal fails), reopening on the real file system succeeds without a
//! corruption error, every write acknowledged before the failure is present, and no batch is
//! half-applied.

use crate::util::TempDir;
use profiledb::engine::io::{FaultPlan, FaultyStorage, FsStorage, Storage};
use profiledb::{Database, Options, SyncMode, TableKind, Value, WriteBatch};
use roaring::RoaringBitmap;
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

const TWIN: u32 = 1 << 20;

fn options() -> Options {
    Options {
        sync_mode: SyncMode::EveryCommit,
        compaction_trigger_segments: 0,
        ..Options::default()
    }
}

fn batch_for(n: u32) -> WriteBatch {
    let mut batch = WriteBatch::new();
    batch.upsert_profile(
        n,
        vec![
            ("seq".into(), Value::Int64(i64::from(n))),
            ("name".into(), Value::String(format!("batch-{n}"))),
        ],
    );
    batch.upsert_profile(
        n + TWIN,
        vec![("twin_of".into(), Value::Int64(i64::from(n)))],
    );
    batch.append_event(n, vec![("seq_e".into(), Value::Int64(i64::from(n)))]);
    batch
}

fn delete_batch(n: u32) -> WriteBatch {
    let mut batch = WriteBatch::new();
    batch.delete_profile(n).delete_profile(n + TWIN);
    batch
}

/// What the workload got acknowledged.
#[derive(Debug, Default)]
struct Acked {
    written: BTreeSet<u32>,
    /// Deletions attempted (an unacknowledged one may or may not have happened).
    delete_attempted: BTreeSet<u32>,
    deleted: BTreeSet<u32>,
}

/// Runs a fixed workload (writes, deletes, flushes, compactions, a reopen) until the first
/// failure, then a few more operations that must not be acknowledged wrongly.
fn workload(storage: &Arc<FaultyStorage<FsStorage>>, dir: &Path) -> Acked {
    let mut acked = Acked::default();
    let open =
        || Database::open_with_storage(Arc::clone(storage) as Arc<dyn Storage>, dir, options());
    let Ok(mut db) = open() else {
        return acked;
    };
    let mut errors = 0;
    for step in 0..30u32 {
        let result = match step % 9 {
            3 => db.flush(),
            5 if step > 9 => {
                acked.delete_attempted.insert(step - 9);
                db.write(&delete_batch(step - 9)).map(|_| {
                    acked.deleted.insert(step - 9);
                })
            }
            7 => db.compact(),
            8 if step == 17 => {
                let _ = db.close();
                match open() {
                    Ok(reopened) => {
                        db = reopened;
                        Ok(())
                    }
                    Err(_) => return acked,
                }
            }
            _ => db.write(&batch_for(step)).map(|_| {
                acked.written.insert(step);
            }),
        };
        if result.is_err() {
            errors += 1;
            if errors > 3 {
                break;
            }
        }
    }
    drop(db);
    acked
}

fn verify(dir: &Path, acked: &Acked, n: u64) {
    let db = Database::open(dir, options()).unwrap_or_else(|e| {
        panic!("FailAfter({n}): reopening on the real file system failed: {e}")
    });
    let snap = db.snapshot();
    let profiles = snap.live_rows(TableKind::Profiles).clone();
    let (lonely, orphan_twins) = crate::util::rows_without_twin(&profiles, TWIN);
    let main: RoaringBitmap = profiles.iter().filter(|&r| r < TWIN).collect();
    assert!(
        lonely.is_empty() && orphan_twins.is_empty(),
        "FailAfter({n}): half-applied batch: profiles without twin {lonely:?}, twins without profile {orphan_twins:?}"
    );
    let events = snap.live_rows(TableKind::Events).clone();
    let seqs: RoaringBitmap = snap
        .fetch(TableKind::Events, "seq_e", &events)
        .unwrap_or_default()
        .into_iter()
        .map(|v| match v {
            Value::Int64(s) => u32::try_from(s).unwrap(),
            other => panic!("event without seq_e: {other:?}"),
        })
        .collect();
    assert_eq!(seqs.len(), events.len(), "FailAfter({n}): duplicate events");
    assert_eq!(
        main, seqs,
        "FailAfter({n}): half-applied batch (profile without event)"
    );
    for row in &main {
        assert_eq!(
            snap.get(TableKind::Profiles, row, "name").unwrap(),
            Value::String(format!("batch-{row}")),
            "FailAfter({n})"
        );
        assert_eq!(
            snap.get(TableKind::Profiles, row + TWIN, "twin_of")
                .unwrap(),
            Value::Int64(i64::from(row)),
            "FailAfter({n})"
        );
    }
    for w in &acked.written {
        if !acked.delete_attempted.contains(w) {
            assert!(
                main.contains(*w),
                "FailAfter({n}): acknowledged batch {w} lost"
            );
        }
    }
    for d in &acked.deleted {
        assert!(
            !main.contains(*d),
            "FailAfter({n}): acknowledged deletion of {d} undone"
        );
    }
    drop(snap);
    // The recovered database accepts and keeps new writes.
    db.write(&batch_for(999)).unwrap();
    db.flush().unwrap();
    assert_eq!(
        db.snapshot().get(TableKind::Profiles, 999, "seq").unwrap(),
        Value::Int64(999)
    );
    db.close().unwrap();
}

#[test]
fn failing_storage_at_every_point_leaves_a_recoverable_database() {
    use std::sync::atomic::{AtomicU64, Ordering};
    // Fault points are independent runs: share them out over a few threads (they mostly wait
    // for fsync). `first_complete` is the smallest n whose run never reached its fault.
    let next = AtomicU64::new(0);
    let first_complete = AtomicU64::new(u64::MAX);
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= first_complete.load(Ordering::Relaxed) || n > 2_000 {
                    return;
                }
                let dir = TempDir::new("fault");
                let storage = Arc::new(FaultyStorage::new(FsStorage, FaultPlan::FailAfter(n)));
                let acked = workload(&storage, dir.path());
                let failed = storage.has_failed();
                verify(dir.path(), &acked, n);
                if !failed {
                    first_complete.fetch_min(n, Ordering::Relaxed);
                }
            });
        }
    });
    let complete = first_complete.load(Ordering::Relaxed);
    assert!(complete < u64::MAX, "the workload never completed");
    assert!(
        complete > 50,
        "the workload should need many storage operations, took {complete}"
    );
}
