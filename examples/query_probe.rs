//! Runs the benchmark queries in a loop and prints cold and median times, for profiling
//! (`perf record`) without criterion's sampling around it.
//!
//! `cargo run --release --example query_probe -- [NAMES|all] [ITERATIONS]`, where NAMES is a
//! comma-separated list of benchmark ids; `EXPLAIN=1` also prints `EXPLAIN ANALYZE` of each.
//! The dataset is the bench's (`PROFILEDB_BENCH_PROFILES`, `PROFILEDB_BENCH_EVENTS`).

#[path = "../benches/common/mod.rs"]
mod common;

use common::queries::{NOW_SQL, QUERIES};
use profiledb::query::{execute, Session, SnapshotCatalog, StatementOutcome};
use profiledb::Database;
use std::time::{Duration, Instant};

fn env_number<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let wanted = args.get(1).cloned().unwrap_or_else(|| "all".into());
    let iterations: usize = args.get(2).and_then(|v| v.parse().ok()).unwrap_or(50);
    let profiles = env_number("PROFILEDB_BENCH_PROFILES", 10_000_000u32);
    let events = env_number("PROFILEDB_BENCH_EVENTS", 100_000_000u64);
    let dir = common::cdp_dataset(profiles, 20, events);
    let started = Instant::now();
    let db = Database::open(&dir, common::bulk_options()).expect("open the dataset");
    eprintln!("open {:?}", started.elapsed());
    let snapshot = db.snapshot();
    let catalog = SnapshotCatalog::new(&snapshot);
    let mut session = Session::new();
    execute(&catalog, &mut session, &format!("SET now = '{NOW_SQL}'")).expect("set now");
    for (name, sql) in QUERIES {
        if wanted != "all" && !wanted.split(',').any(|w| w == name) {
            continue;
        }
        let mut times: Vec<Duration> = Vec::with_capacity(iterations.max(1));
        for _ in 0..iterations.max(1) {
            let started = Instant::now();
            let outcome = execute(&catalog, &mut session, sql).expect("query");
            times.push(started.elapsed());
            if times.len() == 1 {
                if let StatementOutcome::Rows(result) = &outcome {
                    eprintln!("{name}: cold {:?}, result {:?}", times[0], result.rows);
                }
            }
        }
        times.sort();
        eprintln!(
            "{name}: median {:?}, min {:?}",
            times[times.len() / 2],
            times[0]
        );
        if std::env::var("EXPLAIN").is_ok() {
            let explain = format!("EXPLAIN ANALYZE {sql}");
            if let StatementOutcome::Rows(result) =
                execute(&catalog, &mut session, &explain).expect("explain")
            {
                for row in result.rows {
                    eprintln!("  {row:?}");
                }
            }
        }
    }
}
