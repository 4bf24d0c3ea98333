//! A process killed with SIGKILL at a random moment (mid-commit, mid-flush, mid-compaction,
//! mid-recovery) loses no acknowledged batch and leaves no batch half-applied.
//!
//! `harness = false`: `main` is the parent unless `PROFILEDB_CRASH_CHILD` is set. The parent
//! spawns this same executable as the child, which commits batches derived from a sequence
//! number from several threads (group commit) with `SyncMode::EveryCommit`, printing each
//! number once its commit is acknowledged, while another thread flushes and compacts. The
//! parent kills the child after a random delay, reopens the database and checks it, and repeats
//! on the same directory.

#[path = "util.rs"]
#[allow(
    dead_code,
    reason = "the crash binary uses only part of the shared test helpers"
)]
mod util;

#[path = "crash_support.rs"]
mod crash_support;

use crash_support::{
    crash_options, keep_failed_database, run_child, seeded_random, CHILD_ENV, DIR_ENV, START_ENV,
};

use profiledb::{Database, Options, TableKind, Value, WriteBatch};
use roaring::RoaringBitmap;
use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Profile `n + TWIN` is written in the same batch as profile `n`.
const TWIN: u32 = 1 << 30;
const ROUNDS: u32 = 30;
const WRITERS: usize = 4;
/// Sequence numbers of round `r` start at `r * ROUND_STRIDE`.
const ROUND_STRIDE: u32 = 1_000_000;

fn child_options() -> Options {
    crash_options(128 << 10, 3)
}

fn batch_for(n: u32) -> WriteBatch {
    let mut batch = WriteBatch::new();
    batch.upsert_profile(
        n,
        vec![
            ("seq".into(), Value::Int64(i64::from(n))),
            ("name".into(), Value::String(format!("batch-{n}"))),
            ("sq".into(), Value::Float64(f64::from(n) * f64::from(n))),
            (
                "tags".into(),
                Value::StringList(vec![format!("t{n}"), "all".into()]),
            ),
        ],
    );
    batch.upsert_profile(
        n + TWIN,
        vec![("twin_of".into(), Value::Int64(i64::from(n)))],
    );
    batch.append_event(
        n,
        vec![
            ("seq_e".into(), Value::Int64(i64::from(n))),
            ("what".into(), Value::String(format!("e-{n}"))),
        ],
    );
    batch
}

fn child() -> ExitCode {
    let dir = PathBuf::from(std::env::var(DIR_ENV).expect("dir"));
    let start: u32 = std::env::var(START_ENV)
        .expect("start")
        .parse()
        .expect("number");
    let db = match Database::open(&dir, child_options()) {
        Ok(db) => db,
        Err(e) => {
            eprintln!("child: open failed: {e}");
            return ExitCode::from(3);
        }
    };
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "ready").unwrap();
        out.flush().unwrap();
    }
    let next = AtomicU32::new(start);
    let stop = AtomicBool::new(false);
    let deadline = Instant::now() + Duration::from_secs(10);
    std::thread::scope(|scope| {
        for _ in 0..WRITERS {
            scope.spawn(|| {
                while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if let Err(e) = db.write(&batch_for(n)) {
                        eprintln!("child: write {n} failed: {e}");
                        std::process::exit(4);
                    }
                    let mut out = std::io::stdout().lock();
                    writeln!(out, "ack {n}").unwrap();
                    out.flush().unwrap();
                }
            });
        }
        scope.spawn(|| {
            let mut tick = 0u32;
            while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(15 + u64::from(tick % 4) * 10));
                tick += 1;
                let result = if tick.is_multiple_of(3) {
                    db.compact()
                } else {
                    db.flush()
                };
                if let Err(e) = result {
                    eprintln!("child: maintenance failed: {e}");
                    std::process::exit(5);
                }
            }
            stop.store(true, Ordering::Relaxed);
        });
    });
    ExitCode::SUCCESS
}

/// Reopens the database and checks every batch is whole and every acknowledged one present.
fn verify(dir: &Path, acked: &BTreeSet<u32>) -> Result<(u64, u64), String> {
    let db = Database::open(dir, child_options()).map_err(|e| format!("reopen failed: {e}"))?;
    let snap = db.snapshot();
    let profiles = snap.live_rows(TableKind::Profiles).clone();
    let (lonely, orphan_twins) = util::rows_without_twin(&profiles, TWIN);
    if !lonely.is_empty() || !orphan_twins.is_empty() {
        return Err(format!(
            "half-applied batch: profiles without twin {:?}, twins without profile {:?}",
            lonely.iter().take(5).collect::<Vec<_>>(),
            orphan_twins.iter().take(5).collect::<Vec<_>>()
        ));
    }
    let main: RoaringBitmap = profiles.iter().filter(|&r| r < TWIN).collect();
    let err = |e: profiledb::Error| format!("read failed: {e}");
    let columns = ["seq", "name", "sq", "tags"];
    let mut values = Vec::new();
    for column in columns {
        values.push(
            snap.fetch(TableKind::Profiles, column, &main)
                .map_err(err)?,
        );
    }
    for (i, n) in main.iter().enumerate() {
        let expected = [
            Value::Int64(i64::from(n)),
            Value::String(format!("batch-{n}")),
            Value::Float64(f64::from(n) * f64::from(n)),
            Value::StringList(vec![format!("t{n}"), "all".into()]),
        ];
        for (c, want) in expected.iter().enumerate() {
            if &values[c][i] != want {
                return Err(format!(
                    "profile {n}.{}: {:?}, expected {want:?}",
                    columns[c], values[c][i]
                ));
            }
        }
    }
    let twin_rows: RoaringBitmap = main.iter().map(|n| n + TWIN).collect();
    let twin_values = snap
        .fetch(TableKind::Profiles, "twin_of", &twin_rows)
        .map_err(err)?;
    for (n, value) in main.iter().zip(twin_values) {
        if value != Value::Int64(i64::from(n)) {
            return Err(format!("twin of {n}: {value:?}"));
        }
    }
    let events = snap.live_rows(TableKind::Events).clone();
    let mut event_seqs = RoaringBitmap::new();
    if !events.is_empty() {
        let seq = snap
            .fetch(TableKind::Events, "seq_e", &events)
            .map_err(err)?;
        let what = snap
            .fetch(TableKind::Events, "what", &events)
            .map_err(err)?;
        let owner = snap
            .fetch(TableKind::Events, "profile_id", &events)
            .map_err(err)?;
        for i in 0..seq.len() {
            let Value::Int64(n) = seq[i] else {
                return Err(format!("event without seq_e: {:?}", seq[i]));
            };
            let n = u32::try_from(n).map_err(|e| e.to_string())?;
            if owner[i] != Value::Int64(i64::from(n)) || what[i] != Value::String(format!("e-{n}"))
            {
                return Err(format!(
                    "event of batch {n} is wrong: {:?} {:?}",
                    owner[i], what[i]
                ));
            }
            if !event_seqs.insert(n) {
                return Err(format!("batch {n} has two events"));
            }
        }
    }
    if event_seqs != main {
        return Err(format!(
            "half-applied batch: profiles without event {:?}, events without profile {:?}",
            (&main - &event_seqs).iter().take(5).collect::<Vec<_>>(),
            (&event_seqs - &main).iter().take(5).collect::<Vec<_>>()
        ));
    }
    let missing: Vec<u32> = acked
        .iter()
        .copied()
        .filter(|n| !main.contains(*n))
        .take(10)
        .collect();
    if !missing.is_empty() {
        return Err(format!("acknowledged batches lost: {missing:?}"));
    }
    let unacked_present = main.len() - acked.len() as u64;
    let present = main.len();
    drop(snap);
    db.close().map_err(|e| format!("close failed: {e}"))?;
    Ok((present, unacked_present))
}

fn parent() -> ExitCode {
    let exe = std::env::current_exe().expect("current exe");
    let dir = std::env::temp_dir().join(format!("profiledb-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create dir");
    // Deterministic per run of the binary, different across rounds.
    let mut random = seeded_random(
        std::env::var("PROFILEDB_CRASH_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0x5eed),
    );
    let started = Instant::now();
    let mut acked = BTreeSet::new();
    let (mut passed, mut failed) = (0u32, 0u32);
    for round in 0..ROUNDS {
        // Every fifth round kills the child while it is still opening (recovering).
        let before_ready = round % 5 == 4;
        let delay = if before_ready {
            Duration::from_millis(random(40))
        } else {
            Duration::from_millis(20 + random(400))
        };
        let outcome =
            run_child(&exe, &dir, round * ROUND_STRIDE, delay, before_ready).and_then(|new| {
                let count = new.len();
                acked.extend(new);
                verify(&dir, &acked).map(|stats| (count, stats))
            });
        match outcome {
            Ok((count, (present, unacked))) => {
                passed += 1;
                println!(
                    "round {round}: killed after {delay:?}, {count} new acks, {present} batches present ({unacked} never acknowledged), ok"
                );
            }
            Err(message) => {
                failed += 1;
                println!("round {round}: FAILED: {message}");
                keep_failed_database(&dir, "profiledb-crash", round);
                break;
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!("crash test took {:?}", started.elapsed());
    println!("{passed} passed, {failed} failed");
    if failed == 0 && passed == ROUNDS {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn main() -> ExitCode {
    if std::env::var_os(CHILD_ENV).is_some() {
        child()
    } else {
        parent()
    }
}
