//! Identity and ingestion benchmarks.
//!
//! Goals (2-core machine): identity resolution ≥ 1 M identify messages/s through the graph alone
//! on one core (each message links a user id and an anonymous id: 20 M identifiers for 10 M
//! messages); end-to-end ingest of Segment-spec NDJSON (parse, resolve, WAL, apply, traits)
//! ≥ 200,000 messages/s; profile view by identifier p99 ≤ 1 ms.

mod common;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use profiledb::engine::identity::{Identifier, IdentityGraph};
use profiledb::{Options, Profiles, ProfilesOptions, SyncMode};
use std::time::Instant;

/// Identify messages: user `i` first browses anonymously, then logs in (two identifiers).
fn identify_links(messages: u32) -> Vec<(Vec<Identifier>, String)> {
    (0..messages)
        .map(|i| {
            let identifiers = vec![
                Identifier::user_id(format!("u{i}")),
                Identifier::anonymous_id(format!("a{i}")),
            ];
            (identifiers, format!("m{i}"))
        })
        .collect()
}

/// Identify messages resolved per graph benchmark run: the goal is stated for 10 M messages
/// (20 M identifiers, so the lookup tables are far larger than the CPU caches);
/// `PROFILEDB_BENCH_IDENTIFY_MESSAGES` picks another size (e.g. 1000000 while iterating).
fn identify_messages() -> u32 {
    std::env::var("PROFILEDB_BENCH_IDENTIFY_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000_000)
}

fn graph_resolution(c: &mut Criterion) {
    let messages = identify_messages();
    let mut group = c.benchmark_group("identity_graph");
    group.sample_size(10);
    group.throughput(Throughput::Elements(u64::from(messages)));
    group.bench_function(
        format!("resolve_{messages}_identify_messages_2_identifiers"),
        |b| {
            b.iter_batched(
                || identify_links(messages),
                |links| {
                    let mut graph = IdentityGraph::default();
                    for (i, (identifiers, message_id)) in links.iter().enumerate() {
                        graph.resolve(identifiers, message_id, i as i64);
                    }
                    // The messages go back to criterion, which frees them untimed: freeing
                    // tens of millions of input strings is not identity resolution.
                    (graph.profile_count(), links)
                },
                BatchSize::PerIteration,
            );
        },
    );
    group.finish();
}

fn ndjson_lines(messages: u32) -> Vec<String> {
    let mut rng = common::Rng::new(11);
    (0..messages)
        .map(|i| {
            let user = rng.below(u64::from(messages / 5).max(1));
            let day = 1 + rng.below(28);
            match i % 10 {
                0 => format!(
                    r#"{{"type":"identify","userId":"u{user}","anonymousId":"a{user}","traits":{{"email":"user{user}@example.com","plan":"pro"}},"messageId":"m{i}","timestamp":"2026-05-{day:02}T10:00:00Z"}}"#
                ),
                1 | 2 => format!(
                    r#"{{"type":"page","anonymousId":"a{user}","name":"Pricing","messageId":"m{i}","timestamp":"2026-05-{day:02}T10:00:00Z"}}"#
                ),
                _ => format!(
                    r#"{{"type":"track","userId":"u{user}","event":"Product Viewed","properties":{{"price":{}.5,"sku":"s{}"}},"messageId":"m{i}","timestamp":"2026-05-{day:02}T10:00:00Z"}}"#,
                    rng.below(200),
                    rng.below(1000)
                ),
            }
        })
        .collect()
}

fn end_to_end_ingest(c: &mut Criterion) {
    const MESSAGES: u32 = 200_000;
    let lines = ndjson_lines(MESSAGES);
    let mut group = c.benchmark_group("ingest_ndjson");
    group.sample_size(10);
    group.throughput(Throughput::Elements(u64::from(MESSAGES)));
    group.bench_function("messages_every_10ms_calls_of_10000", |b| {
        b.iter_custom(|iterations| {
            let mut total = std::time::Duration::ZERO;
            for _ in 0..iterations {
                let dir = common::dataset_root().join("scratch-ingest-ndjson");
                let _ = std::fs::remove_dir_all(&dir);
                let options = Options {
                    sync_mode: SyncMode::EveryMillis(10),
                    ..Options::default()
                };
                let profiles =
                    Profiles::open(&dir, options, ProfilesOptions::default()).expect("open");
                let start = Instant::now();
                for chunk in lines.chunks(10_000) {
                    profiles.ingest_lines(chunk).expect("ingest");
                }
                total += start.elapsed();
                profiles.close().expect("close");
            }
            total
        });
    });
    group.finish();
}

fn profile_view(c: &mut Criterion) {
    const MESSAGES: u32 = 500_000;
    let dir = common::dataset_root().join(format!("profiles-view-{MESSAGES}"));
    if !dir.join("READY").exists() {
        let _ = std::fs::remove_dir_all(&dir);
        let profiles =
            Profiles::open(&dir, common::bulk_options(), ProfilesOptions::default()).expect("open");
        for chunk in ndjson_lines(MESSAGES).chunks(10_000) {
            profiles.ingest_lines(chunk).expect("ingest");
        }
        profiles.database().compact().expect("compact");
        profiles.close().expect("close");
        std::fs::write(dir.join("READY"), b"").expect("marker");
    }
    let profiles =
        Profiles::open(&dir, common::bulk_options(), ProfilesOptions::default()).expect("open");
    let users = u64::from(MESSAGES / 5);
    let mut rng = common::Rng::new(3);
    let mut latencies = Vec::new();
    for _ in 0..2_000 {
        let user = rng.below(users);
        let start = Instant::now();
        let view = profiles
            .profile(&format!("user_id:u{user}"), 20)
            .expect("view");
        latencies.push(start.elapsed());
        std::hint::black_box(view);
    }
    latencies.sort();
    eprintln!(
        "profile view over {} profiles: p50 {:?}, p99 {:?}",
        profiles
            .snapshot()
            .row_count(profiledb::TableKind::Profiles),
        latencies[latencies.len() / 2],
        latencies[latencies.len() * 99 / 100]
    );
    let mut group = c.benchmark_group("profile_view");
    group.bench_function("by_user_id_latest_20_events", |b| {
        b.iter(|| {
            let user = rng.below(users);
            profiles
                .profile(&format!("user_id:u{user}"), 20)
                .expect("view")
        });
    });
    group.finish();
}

criterion_group!(benches, graph_resolution, end_to_end_ingest, profile_view);
criterion_main!(benches);
