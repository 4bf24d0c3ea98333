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

use common::queries::{NOW_SQL, QUERIES};
use criterion::{criterion_group, criterion_main, Criterion};
use profiledb::query::{execute, Session, SnapshotCatalog, StatementOutcome, Value};
use profiledb::Database;

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
