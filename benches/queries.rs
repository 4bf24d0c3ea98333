//! SQL segment queries on a customer-data dataset: 10 M profiles × 20 columns and 100 M events.
//!
//! Goals (2-core machine): `COUNT(*)` with 3 equality/IN predicates ≤ 1 ms, with 3 mixed
//! equality/range predicates ≤ 10 ms, and a behavioural condition ("ordered at least twice in
//! the last 30 days") with 2 trait predicates ≤ 20 ms; each ≥ 10× faster than DuckDB on the
//! same data (`benches/duckdb_compare.py`). The dataset is built once under
//! `target/bench-data/` (see `common::cdp_dataset`). `PROFILEDB_BENCH_PROFILES` and
//! `PROFILEDB_BENCH_EVENTS` choose a smaller dataset for a quick run (defaults 10 M and 100 M).
//!
//! The SQL and the result counts are written to `target/criterion/queries/queries.json` so the
//! DuckDB comparison runs exactly the same statements and can check that the answers agree.

mod common;

use criterion::{criterion_group, criterion_main, Criterion};
use profiledb::query::{execute, Session, SnapshotCatalog, StatementOutcome, Value};
use profiledb::Database;

/// `SET now` value pinned for every query (= `common::NOW_MICROS`).
pub const NOW_SQL: &str = "2026-06-01T00:00:00Z";

/// The benchmarked statements: (criterion id, SQL).
pub const QUERIES: [(&str, &str); 7] = [
    (
        "eq_in_3_predicates",
        "SELECT COUNT(*) FROM profiles WHERE country IN ('DE', 'AT', 'CH') AND plan = 'pro' \
         AND email_opt_in = true",
    ),
    (
        "mixed_eq_range_3_predicates",
        "SELECT COUNT(*) FROM profiles WHERE country = 'DE' AND age BETWEEN 25 AND 40 \
         AND lifetime_value > 1000",
    ),
    (
        "behavioural_ordered_2x_30d_and_2_traits",
        "SELECT COUNT(*) FROM profiles WHERE country IN ('DE', 'AT', 'CH') AND plan = 'pro' \
         AND profile_id IN (SELECT profile_id FROM events WHERE event = 'Order Completed' \
         AND timestamp >= now() - INTERVAL '30 days' GROUP BY profile_id HAVING COUNT(*) >= 2)",
    ),
    (
        "single_eq_country",
        "SELECT COUNT(*) FROM profiles WHERE country = 'DE'",
    ),
    (
        "single_range_age",
        "SELECT COUNT(*) FROM profiles WHERE age > 50",
    ),
    (
        "single_range_last_seen",
        "SELECT COUNT(*) FROM profiles WHERE last_seen_at >= now() - INTERVAL '30 days'",
    ),
    (
        "events_orders_30d",
        "SELECT COUNT(*) FROM events WHERE event = 'Order Completed' \
         AND timestamp >= now() - INTERVAL '30 days'",
    ),
];

fn events() -> u64 {
    std::env::var("PROFILEDB_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000_000)
}

fn profiles() -> u32 {
    std::env::var("PROFILEDB_BENCH_PROFILES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000_000)
}

fn count(catalog: &SnapshotCatalog<'_>, session: &mut Session, sql: &str) -> i64 {
    match execute(catalog, session, sql).expect("query") {
        StatementOutcome::Rows(result) => match result.rows.first().and_then(|r| r.first()) {
            Some(Value::Int64(n)) => *n,
            other => panic!("unexpected result {other:?}"),
        },
        other => panic!("unexpected outcome {other:?}"),
    }
}

fn queries(c: &mut Criterion) {
    let (profiles, events) = (profiles(), events());
    let dir = common::cdp_dataset(profiles, 20, events);
    let db = Database::open(&dir, common::bulk_options()).expect("open");
    let snapshot = db.snapshot();
    let catalog = SnapshotCatalog::new(&snapshot);
    let mut session = Session::new();
    execute(&catalog, &mut session, &format!("SET now = '{NOW_SQL}'")).expect("set now");

    let mut manifest = Vec::new();
    for (name, sql) in QUERIES {
        let n = count(&catalog, &mut session, sql);
        eprintln!("{name}: {n} rows");
        manifest.push(format!(
            "{{\"name\": \"{name}\", \"sql\": \"{}\", \"count\": {n}}}",
            sql.replace('\\', "\\\\").replace('"', "\\\"")
        ));
    }
    let out = common::dataset_root()
        .parent()
        .map(|target| target.join("criterion").join("queries"))
        .expect("target directory");
    std::fs::create_dir_all(&out).expect("criterion directory");
    std::fs::write(
        out.join("queries.json"),
        format!(
            "{{\"now\": \"{NOW_SQL}\", \"profiles\": {profiles}, \"events\": {events}, \
             \"queries\": [\n  {}\n]}}\n",
            manifest.join(",\n  ")
        ),
    )
    .expect("write queries.json");

    let mut group = c.benchmark_group("queries");
    for (name, sql) in QUERIES {
        group.bench_function(name, |b| b.iter(|| count(&catalog, &mut session, sql)));
    }
    group.finish();
}

criterion_group!(benches, queries);
criterion_main!(benches);
