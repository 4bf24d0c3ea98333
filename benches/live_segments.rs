//! Live segment upkeep: the cost, per ingested profile update, of keeping 10 segments current.
//!
//! Goal: ≤ 5 µs of upkeep per profile update with batched writes (batches of 1000), on a
//! database of 100k profiles and 300k events. Only `LiveSegments::on_write` is timed; the
//! database write and snapshot are not.

mod common;

use common::{Rng, COUNTRIES, NOW_MICROS, PLANS};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use profiledb::engine::io::FsStorage;
use profiledb::engine::wal::WalOptions;
use profiledb::query::LiveSegments;
use profiledb::{Database, Options, SyncMode, Value, WriteBatch};
use roaring::RoaringBitmap;
use std::sync::Arc;
use std::time::{Duration, Instant};

const PROFILES: u32 = 100_000;
const EVENTS_PER_PROFILE: u32 = 3;
const BATCH: u32 = 1_000;
const DAY: i64 = 86_400_000_000;

const SEGMENTS: [(&str, &str); 10] = [
    ("de", "SELECT profile_id FROM profiles WHERE country = 'DE'"),
    ("pro_adults", "SELECT profile_id FROM profiles WHERE plan = 'pro' AND age >= 30"),
    ("young_or_free", "SELECT profile_id FROM profiles WHERE age < 25 OR plan = 'free'"),
    ("opted_in", "SELECT profile_id FROM profiles WHERE email_opt_in AND country IN ('FR', 'DE', 'AT')"),
    ("high_value", "SELECT profile_id FROM profiles WHERE lifetime_value > 2500.0"),
    ("buyers_30d", "SELECT profile_id FROM profiles WHERE profile_id IN (SELECT profile_id FROM events WHERE type = 'order' AND ts >= now() - INTERVAL '30 days' GROUP BY profile_id HAVING count(*) >= 2)"),
    ("active_7d", "SELECT profile_id FROM events WHERE ts >= now() - INTERVAL '7 days'"),
    ("never_ordered", "SELECT profile_id FROM profiles WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.profile_id = profiles.profile_id AND e.type = 'order')"),
    ("de_buyers", "SELECT profile_id FROM buyers_30d WHERE country = 'DE'"),
    ("buyers_400d", "SELECT profile_id FROM profiles WHERE profile_id IN (SELECT profile_id FROM events WHERE type = 'order' AND ts >= now() - INTERVAL '400 days')"),
];

fn attributes(rng: &mut Rng) -> Vec<(String, Value)> {
    vec![
        (
            "country".to_owned(),
            Value::String(COUNTRIES[rng.below(12) as usize].to_owned()),
        ),
        (
            "plan".to_owned(),
            Value::String(PLANS[rng.below(4) as usize].to_owned()),
        ),
        ("age".to_owned(), Value::Int64(18 + rng.below(60) as i64)),
        ("email_opt_in".to_owned(), Value::Bool(rng.below(2) == 0)),
        (
            "lifetime_value".to_owned(),
            Value::Float64(rng.below(500_000) as f64 / 100.0),
        ),
    ]
}

fn load(db: &Database, rng: &mut Rng) {
    for start in (0..PROFILES).step_by(10_000) {
        let mut batch = WriteBatch::new();
        for id in start..start + 10_000 {
            batch.upsert_profile(id, attributes(rng));
            for _ in 0..EVENTS_PER_PROFILE {
                let kind = if rng.below(3) == 0 { "order" } else { "view" };
                let ts = NOW_MICROS - rng.below(60) as i64 * DAY - rng.below(DAY as u64) as i64;
                batch.append_event(
                    id,
                    vec![
                        ("type".to_owned(), Value::String(kind.to_owned())),
                        ("ts".to_owned(), Value::Timestamp(ts)),
                    ],
                );
            }
        }
        db.write(&batch).expect("load");
    }
    db.flush().expect("flush");
}

fn upkeep(c: &mut Criterion) {
    let dir = common::dataset_root().join("scratch-live-segments");
    let _ = std::fs::remove_dir_all(&dir);
    let options = Options {
        sync_mode: SyncMode::Never,
        ..Options::default()
    };
    let db = Database::open(&dir, options).expect("open");
    let mut rng = Rng::new(11);
    load(&db, &mut rng);
    let wal_options = WalOptions {
        sync_mode: SyncMode::Never,
        ..WalOptions::default()
    };
    let mut live = LiveSegments::open(
        Arc::new(FsStorage),
        &dir,
        wal_options,
        &db.snapshot(),
        NOW_MICROS,
    )
    .expect("open live");
    for (name, sql) in SEGMENTS {
        live.define(&db.snapshot(), name, sql, false)
            .expect("define");
    }
    let mut group = c.benchmark_group("live_segments");
    group.throughput(Throughput::Elements(u64::from(BATCH)));
    group.sample_size(20);
    let mut now = NOW_MICROS;
    group.bench_function("upkeep_10_segments_per_1000_profile_updates", |b| {
        b.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            for _ in 0..iterations {
                let mut batch = WriteBatch::new();
                let mut touched = RoaringBitmap::new();
                for _ in 0..BATCH {
                    let id = rng.below(u64::from(PROFILES)) as u32;
                    batch.upsert_profile(id, attributes(&mut rng));
                    touched.insert(id);
                }
                db.write(&batch).expect("write");
                let snapshot = db.snapshot();
                now += 1_000_000;
                let started = Instant::now();
                live.on_write(&snapshot, &touched, now).expect("upkeep");
                total += started.elapsed();
            }
            total
        });
    });
    group.finish();
    drop(live);
    drop(db);
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, upkeep);
criterion_main!(benches);
