//! Runs benchmark queries repeatedly for profiling (local tool, not committed).
#[path = "../benches/common/mod.rs"]
mod common;

use profiledb::query::{execute, Session, SnapshotCatalog, StatementOutcome};
use profiledb::Database;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let profiles: u32 = std::env::var("PROFILEDB_BENCH_PROFILES").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000_000);
    let events: u64 = std::env::var("PROFILEDB_BENCH_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000_000);
    let iters: usize = args.get(2).and_then(|v| v.parse().ok()).unwrap_or(50);
    let which = args.get(1).cloned().unwrap_or_else(|| "all".into());
    let dir = common::cdp_dataset(profiles, 20, events);
    let t = Instant::now();
    let db = Database::open(&dir, common::bulk_options()).expect("open");
    eprintln!("open {:?}", t.elapsed());
    let snapshot = db.snapshot();
    let catalog = SnapshotCatalog::new(&snapshot);
    let mut session = Session::new();
    execute(&catalog, &mut session, "SET now = '2026-06-01T00:00:00Z'").unwrap();
    let queries = [
        ("q1", "SELECT COUNT(*) FROM profiles WHERE country IN ('DE', 'AT', 'CH') AND plan = 'pro' AND email_opt_in = true"),
        ("q2", "SELECT COUNT(*) FROM profiles WHERE country = 'DE' AND age BETWEEN 25 AND 40 AND lifetime_value > 1000"),
        ("q3", "SELECT COUNT(*) FROM profiles WHERE country IN ('DE', 'AT', 'CH') AND plan = 'pro' AND profile_id IN (SELECT profile_id FROM events WHERE event = 'Order Completed' AND timestamp >= now() - INTERVAL '30 days' GROUP BY profile_id HAVING COUNT(*) >= 2)"),
        ("q4", "SELECT COUNT(*) FROM profiles WHERE country = 'DE'"),
        ("q5", "SELECT COUNT(*) FROM profiles WHERE age > 50"),
        ("q6", "SELECT COUNT(*) FROM profiles WHERE last_seen_at >= now() - INTERVAL '30 days'"),
        ("q7", "SELECT COUNT(*) FROM events WHERE event = 'Order Completed' AND timestamp >= now() - INTERVAL '30 days'"),
    ];
    for (name, sql) in queries {
        if which != "all" && !which.split(',').any(|w| w == name) {
            continue;
        }
        let mut times = Vec::new();
        let mut result = String::new();
        for i in 0..iters.max(1) {
            let t = Instant::now();
            let out = execute(&catalog, &mut session, sql).expect("query");
            let el = t.elapsed();
            if i == 0 {
                if let StatementOutcome::Rows(r) = &out {
                    result = format!("{:?}", r.rows);
                }
                eprintln!("{name} cold {el:?}");
            }
            times.push(el);
        }
        times.sort();
        eprintln!("{name}: median {:?} min {:?} result {result}", times[times.len() / 2], times[0]);
        if std::env::var("EXPLAIN").is_ok() {
            if let StatementOutcome::Rows(r) = execute(&catalog, &mut session, &format!("EXPLAIN ANALYZE {sql}")).expect("explain") {
                for row in r.rows { eprintln!("  {:?}", row); }
            }
        }
    }
}
