//! Storage engine benchmarks: ingest, group-commit latency, filtered scans, open time, size.
//!
//! Goals (2-core machine): ≥ 500k upserts/s of 10 attributes with `EveryMillis`; commit p50 ≤ 1 ms
//! under 8 writers with `EveryCommit`; ≥ 1 G int values/s per core for a filtered scan; open of
//! 10 M profiles × 20 columns ≤ 100 ms with ≤ 50 MB resident; on-disk size ≤ 40 % of CSV.
//! Large datasets are built once under `target/bench-data/` and reused.

mod common;

use common::{profile_batch, Rng};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use profiledb::engine::scan::{filter, CompareOp, Predicate};
use profiledb::{Database, Options, SyncMode, TableKind, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn fresh_dir(label: &str) -> std::path::PathBuf {
    let dir = common::dataset_root().join(format!("scratch-{label}"));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn ingest(c: &mut Criterion) {
    const PROFILES: u32 = 100_000;
    let mut group = c.benchmark_group("ingest");
    group.throughput(Throughput::Elements(u64::from(PROFILES)));
    group.sample_size(10);
    group.bench_function("upserts_10_attributes_every_10ms_batches_of_1000", |b| {
        b.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            for _ in 0..iterations {
                let dir = fresh_dir("ingest");
                let options = Options {
                    sync_mode: SyncMode::EveryMillis(10),
                    ..Options::default()
                };
                let db = Database::open(&dir, options).expect("open");
                let mut rng = Rng::new(7);
                let batches: Vec<_> = (0..PROFILES / 1000)
                    .map(|i| profile_batch(i * 1000, 1000, 10, &mut rng))
                    .collect();
                let start = Instant::now();
                for batch in &batches {
                    db.write(batch).expect("write");
                }
                total += start.elapsed();
                db.close().expect("close");
            }
            total
        });
    });
    group.finish();
}

fn commit_latency(c: &mut Criterion) {
    const WRITERS: usize = 8;
    let dir = fresh_dir("commit");
    let db = Arc::new(Database::open(&dir, Options::default()).expect("open"));
    let mut group = c.benchmark_group("commit_latency");
    group.sample_size(10);
    // Each iteration is one commit; the reported time is the mean latency a writer sees while
    // 8 writers commit concurrently (each commit is one profile upsert, fsynced by group commit).
    group.bench_function("every_commit_8_concurrent_writers", |b| {
        b.iter_custom(|iterations| {
            let per_writer = iterations.div_ceil(WRITERS as u64);
            let handles: Vec<_> = (0..WRITERS)
                .map(|w| {
                    let db = Arc::clone(&db);
                    std::thread::spawn(move || {
                        let mut latencies = Vec::with_capacity(per_writer as usize);
                        for i in 0..per_writer {
                            let profile = u32::try_from(i).unwrap_or(0) * WRITERS as u32 + w as u32;
                            let start = Instant::now();
                            db.upsert_profile(
                                profile,
                                vec![("score".into(), Value::Int64(i as i64))],
                            )
                            .expect("commit");
                            latencies.push(start.elapsed());
                        }
                        latencies
                    })
                })
                .collect();
            let mut all: Vec<Duration> = handles
                .into_iter()
                .flat_map(|h| h.join().expect("writer"))
                .collect();
            all.sort();
            if let (Some(p50), Some(p99)) = (all.get(all.len() / 2), all.get(all.len() * 99 / 100))
            {
                eprintln!("commits {}: p50 {:?}, p99 {:?}", all.len(), p50, p99);
            }
            all.iter().sum::<Duration>() / WRITERS as u32 * WRITERS as u32
                / u32::try_from(all.len().max(1)).unwrap_or(1)
                * u32::try_from(iterations).unwrap_or(1)
        });
    });
    group.finish();
}

fn scans(c: &mut Criterion) {
    let dir = common::profiles_dataset(10_000_000, 20);
    let db = Database::open(&dir, common::bulk_options()).expect("open");
    let snapshot = db.snapshot();
    let rows = snapshot.row_count(TableKind::Profiles);
    let mut group = c.benchmark_group("scan_10m");
    group.throughput(Throughput::Elements(rows));
    let predicates = [
        (
            "int_range_age_gt_50",
            "age",
            Predicate::Compare(CompareOp::Greater, Value::Int64(50)),
        ),
        (
            "int_between_city",
            "city_code",
            Predicate::Between(Value::Int64(100), Value::Int64(900)),
        ),
        (
            "float_ltv_gt_1000",
            "lifetime_value",
            Predicate::Compare(CompareOp::Greater, Value::Float64(1000.0)),
        ),
        (
            "string_eq_country",
            "country",
            Predicate::Compare(CompareOp::Eq, Value::String("DE".into())),
        ),
        (
            "timestamp_last_seen_30d",
            "last_seen_at",
            Predicate::Compare(
                CompareOp::GreaterOrEqual,
                Value::Timestamp(common::NOW_MICROS - 30 * 86_400_000_000),
            ),
        ),
    ];
    for (name, column, predicate) in &predicates {
        group.bench_with_input(
            BenchmarkId::new("filter", name),
            predicate,
            |b, predicate| {
                b.iter(|| {
                    filter(&snapshot, TableKind::Profiles, column, predicate)
                        .expect("filter")
                        .0
                        .len()
                });
            },
        );
    }
    group.finish();
}

fn open_and_size(c: &mut Criterion) {
    let dir = common::profiles_dataset(10_000_000, 20);
    let on_disk = common::directory_size(&dir);
    let csv = common::csv_size(10_000_000, 20);
    eprintln!(
        "on-disk {on_disk} bytes vs CSV {csv} bytes: {:.1} %",
        on_disk as f64 * 100.0 / csv as f64
    );
    let before = common::resident_bytes().unwrap_or(0);
    {
        let db = Database::open(&dir, common::bulk_options()).expect("open");
        let after = common::resident_bytes().unwrap_or(0);
        eprintln!(
            "resident memory growth at open: {} MB",
            after.saturating_sub(before) >> 20
        );
        db.close().expect("close");
    }
    let mut group = c.benchmark_group("open");
    group.sample_size(20);
    group.bench_function("10m_profiles_20_columns", |b| {
        b.iter(|| {
            let db = Database::open(&dir, common::bulk_options()).expect("open");
            let count = db.snapshot().row_count(TableKind::Profiles);
            db.close().expect("close");
            count
        });
    });
    group.finish();
}

criterion_group!(benches, ingest, commit_latency, scans, open_and_size);
criterion_main!(benches);
