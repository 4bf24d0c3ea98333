//! A snapshot is a consistent view: readers running alongside a writer, flushes and
//! compactions never see part of a batch, and a snapshot keeps reading the same values after
//! the segments it reads were compacted away and unlinked.

use crate::util::{s, TempDir};
use profiledb::{Database, Options, SyncMode, TableKind, Value, WriteBatch};
use roaring::RoaringBitmap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const ACCOUNTS: u32 = 8;
const TOTAL: i64 = 8_000;

#[test]
fn readers_never_see_half_a_batch_during_flush_and_compaction() {
    let dir = TempDir::new("concurrency");
    let options = Options {
        sync_mode: SyncMode::Never,
        flush_threshold_bytes: 64 << 10,
        compaction_trigger_segments: 3,
        ..Options::default()
    };
    let db = Database::open(dir.path(), options).unwrap();
    let mut batch = WriteBatch::new();
    for a in 0..ACCOUNTS {
        batch.upsert_profile(
            a,
            vec![
                ("balance".into(), Value::Int64(TOTAL / i64::from(ACCOUNTS))),
                ("gen".into(), Value::Int64(0)),
                ("note".into(), s("gen-0")),
            ],
        );
    }
    db.write(&batch).unwrap();
    let rows: RoaringBitmap = (0..ACCOUNTS).collect();
    let stop = AtomicBool::new(false);
    let snapshots_checked = AtomicU64::new(0);
    let maintenance_runs = AtomicU64::new(0);
    let deadline = Instant::now() + Duration::from_millis(2500);
    std::thread::scope(|scope| {
        // Writer: each batch moves money between two accounts and stamps a new generation
        // into every account (and a string column, so dictionaries change too).
        scope.spawn(|| {
            // The writer keeps the balances itself: this test checks atomicity of what readers
            // see, not read-your-writes (see `engine_bugs` for that).
            let mut balances = vec![TOTAL / i64::from(ACCOUNTS); ACCOUNTS as usize];
            let mut generation = 0i64;
            while Instant::now() < deadline {
                generation += 1;
                let from = (generation as u32 * 7) % ACCOUNTS;
                let to = (generation as u32 * 3 + 1) % ACCOUNTS;
                let amount = generation % 50;
                let mut batch = WriteBatch::new();
                for a in 0..ACCOUNTS {
                    let mut cells = vec![
                        ("gen".into(), Value::Int64(generation)),
                        ("note".into(), s(&format!("gen-{generation}"))),
                    ];
                    if from != to && a == from {
                        balances[a as usize] -= amount;
                        cells.push(("balance".into(), Value::Int64(balances[a as usize])));
                    }
                    if from != to && a == to {
                        balances[a as usize] += amount;
                        cells.push(("balance".into(), Value::Int64(balances[a as usize])));
                    }
                    batch.upsert_profile(a, cells);
                }
                batch.append_event(from, vec![("gen".into(), Value::Int64(generation))]);
                db.write(&batch).unwrap();
            }
            stop.store(true, Ordering::Relaxed);
        });
        // Maintenance: explicit flushes and compactions on top of the background ones.
        scope.spawn(|| {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                if i.is_multiple_of(3) {
                    db.compact().unwrap();
                } else {
                    db.flush().unwrap();
                }
                maintenance_runs.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        for _ in 0..2 {
            scope.spawn(|| {
                let mut last_generation = 0;
                while !stop.load(Ordering::Relaxed) {
                    let snap = db.snapshot();
                    let generations = snap.fetch(TableKind::Profiles, "gen", &rows).unwrap();
                    let notes = snap.fetch(TableKind::Profiles, "note", &rows).unwrap();
                    let balances = snap.fetch(TableKind::Profiles, "balance", &rows).unwrap();
                    let Value::Int64(generation) = generations[0] else {
                        panic!("{generations:?}")
                    };
                    assert!(
                        generations.iter().all(|g| *g == Value::Int64(generation)),
                        "a snapshot saw part of a batch: {generations:?}"
                    );
                    assert!(
                        notes.iter().all(|n| *n == s(&format!("gen-{generation}"))),
                        "generation {generation}, notes {notes:?}"
                    );
                    let sum: i64 = balances
                        .iter()
                        .map(|b| match b {
                            Value::Int64(v) => *v,
                            other => panic!("{other:?}"),
                        })
                        .sum();
                    assert_eq!(sum, TOTAL, "generation {generation}: balances {balances:?}");
                    assert!(generation >= last_generation, "snapshots went back in time");
                    assert_eq!(
                        snap.row_count(TableKind::Events),
                        u64::try_from(generation).unwrap(),
                        "one event per committed batch"
                    );
                    last_generation = generation;
                    snapshots_checked.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    assert!(snapshots_checked.load(Ordering::Relaxed) > 50);
    let runs = maintenance_runs.load(Ordering::Relaxed);
    eprintln!(
        "{runs} flushes/compactions, {} snapshots checked",
        snapshots_checked.load(Ordering::Relaxed)
    );
    assert!(runs >= 3, "maintenance ran only {runs} times");
    db.close().unwrap();
}

#[test]
fn a_snapshot_outlives_the_segments_it_reads() {
    let dir = TempDir::new("concurrency-old-snapshot");
    let options = Options {
        sync_mode: SyncMode::Never,
        compaction_trigger_segments: 0,
        ..Options::default()
    };
    let db = Database::open(dir.path(), options).unwrap();
    let value = |row: u32, round: u32| s(&format!("r{row}-v{round}"));
    let rows: RoaringBitmap = (0..2000).collect();
    let write_round = |round: u32| {
        let mut batch = WriteBatch::new();
        for row in &rows {
            batch.upsert_profile(
                row,
                vec![
                    ("v".into(), value(row, round)),
                    ("n".into(), Value::Int64(i64::from(row + round))),
                ],
            );
        }
        db.write(&batch).unwrap();
    };
    write_round(0);
    db.flush().unwrap();
    write_round(1);
    db.flush().unwrap();
    let old = db.snapshot();
    let old_files: Vec<_> = old
        .segments()
        .iter()
        .map(|s| s.path().to_path_buf())
        .collect();
    assert_eq!(old_files.len(), 2);
    let before = old.fetch(TableKind::Profiles, "v", &rows).unwrap();
    // A snapshot that also pins an unflushed memory layer.
    write_round(2);
    let middle = db.snapshot();
    write_round(3);
    db.delete_profile(5).unwrap();
    db.compact().unwrap();
    db.flush().unwrap();
    for file in &old_files {
        assert!(
            !file.exists(),
            "compaction unlinks its inputs ({})",
            file.display()
        );
    }
    // The old snapshot still reads the unlinked (but mapped) files, unchanged.
    assert_eq!(old.fetch(TableKind::Profiles, "v", &rows).unwrap(), before);
    for row in [0u32, 5, 1999] {
        assert_eq!(
            old.get(TableKind::Profiles, row, "v").unwrap(),
            value(row, 1)
        );
        assert_eq!(
            old.get(TableKind::Profiles, row, "n").unwrap(),
            Value::Int64(i64::from(row + 1))
        );
        assert_eq!(
            middle.get(TableKind::Profiles, row, "v").unwrap(),
            value(row, 2)
        );
    }
    assert_eq!(old.row_count(TableKind::Profiles), 2000);
    assert_eq!(middle.row_count(TableKind::Profiles), 2000);
    let (found, _) = profiledb::engine::scan::filter(
        &old,
        TableKind::Profiles,
        "v",
        &profiledb::engine::scan::Predicate::Like {
            pattern: "%-v1".into(),
            case_insensitive: false,
        },
    )
    .unwrap();
    assert_eq!(found, rows);
    let now = db.snapshot();
    assert_eq!(now.row_count(TableKind::Profiles), 1999);
    assert_eq!(now.get(TableKind::Profiles, 7, "v").unwrap(), value(7, 3));
    drop((old, middle, now));
    db.close().unwrap();
}
