//! Identity and ingestion benchmarks.
//!
//! Goals (2-core machine): identity resolution ≥ 1 M identify messages/s through the graph alone
//! on one core (each message links a user id and an anonymous id: 20 M identifiers for 10 M
//! messages); end-to-end ingest of Segment-spec NDJSON (parse, resolve, WAL, apply, traits)
//! ≥ 200,000 messages/s; profile view by identifier p99 ≤ 1 ms on 10 M profiles.
//!
//! The profile-view database is built once under `target/bench-data/` (it takes a while);
//! `PROFILEDB_VIEW_PROFILES` and `PROFILEDB_VIEW_EVENTS_PER_PROFILE` choose a smaller one for
//! a quick run (defaults 10 M and 8).

mod common;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use profiledb::engine::identity::IdentityGraph;
use profiledb::engine::message::{parse_message, parse_message_line};
use profiledb::{Options, Profiles, ProfilesOptions, SyncMode};
use std::time::Instant;

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
                || common::identify_links(messages),
                |links| {
                    let mut graph = IdentityGraph::default();
                    for (i, (identifiers, message_id)) in links.iter().enumerate() {
                        graph.resolve(identifiers, message_id, i as i64);
                    }
                    // The graph and the messages go back to criterion, which frees them
                    // untimed: returning tens of millions of allocations to the system is
                    // not identity resolution.
                    (graph, links)
                },
                BatchSize::PerIteration,
            );
        },
    );
    group.finish();
}

fn end_to_end_ingest(c: &mut Criterion) {
    const MESSAGES: u32 = 200_000;
    let lines = common::ndjson_messages(MESSAGES);
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

/// Parsing alone, the part of ingest that runs beside the writer: read in one pass, and
/// through a `serde_json::Value` tree for comparison.
fn message_parsing(c: &mut Criterion) {
    const MESSAGES: u32 = 200_000;
    let lines = common::ndjson_messages(MESSAGES);
    let mut group = c.benchmark_group("parse_ndjson");
    group.sample_size(10);
    group.throughput(Throughput::Elements(u64::from(MESSAGES)));
    group.bench_function("one_pass", |b| {
        b.iter(|| {
            for line in &lines {
                std::hint::black_box(parse_message_line(line).expect("valid message"));
            }
        });
    });
    group.bench_function("through_json_tree", |b| {
        b.iter(|| {
            for line in &lines {
                let tree = serde_json::from_str(line).expect("valid JSON");
                std::hint::black_box(parse_message(&tree).expect("valid message"));
            }
        });
    });
    group.finish();
}

fn profile_view(c: &mut Criterion) {
    let users = common::view::view_profiles();
    let dir = common::view::view_dataset(users, common::view::view_events_per_profile());
    let profiles =
        Profiles::open(&dir, common::bulk_options(), ProfilesOptions::default()).expect("open");
    let snapshot = profiles.snapshot();
    let profile_count = snapshot.row_count(profiledb::TableKind::Profiles);
    let event_count = snapshot.row_count(profiledb::TableKind::Events);
    drop(snapshot);
    let mut rng = common::Rng::new(3);
    let lookup = |rng: &mut common::Rng| {
        let user = rng.below(u64::from(users));
        profiles
            .profile(&format!("user_id:u{user}"), 20)
            .expect("view")
    };
    // The first view builds the per-segment event indexes; it is reported apart because a
    // server pays it once after opening, not per request.
    let start = Instant::now();
    std::hint::black_box(lookup(&mut rng));
    eprintln!(
        "first profile view (builds event indexes): {:?}",
        start.elapsed()
    );
    let mut latencies = Vec::new();
    for _ in 0..2_000 {
        let start = Instant::now();
        let view = lookup(&mut rng);
        latencies.push(start.elapsed());
        std::hint::black_box(view);
    }
    latencies.sort();
    eprintln!(
        "profile view over {profile_count} profiles and {event_count} events: p50 {:?}, p99 {:?}",
        latencies[latencies.len() / 2],
        latencies[latencies.len() * 99 / 100]
    );
    let mut group = c.benchmark_group("profile_view");
    group.bench_function("by_user_id_latest_20_events", |b| {
        b.iter(|| lookup(&mut rng));
    });
    group.finish();
}

criterion_group!(
    benches,
    graph_resolution,
    end_to_end_ingest,
    message_parsing,
    profile_view
);
criterion_main!(benches);
