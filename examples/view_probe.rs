//! Opens the profile-view benchmark dataset and prints the first-view time and the latency
//! percentiles of random profile views: quicker than criterion, and a steady loop to profile
//! (`perf record -e cpu-clock --call-graph dwarf`).
//!
//! `cargo run --release --example view_probe -- [LOOKUPS] [DIR]` (default 20,000); the dataset is
//! the bench's (`PROFILEDB_VIEW_PROFILES`, `PROFILEDB_VIEW_EVENTS_PER_PROFILE`), built on first
//! use, or a copy of it in DIR (for example one that `profiledb compact` rewrote).

#[path = "../benches/common/mod.rs"]
mod common;

use profiledb::{Profiles, ProfilesOptions, TableKind};
use std::time::{Duration, Instant};

fn main() {
    let lookups: usize = std::env::args()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let users = common::view::view_profiles();
    let dir = match std::env::args().nth(2) {
        Some(dir) => std::path::PathBuf::from(dir),
        None => common::view::view_dataset(users, common::view::view_events_per_profile()),
    };
    let start = Instant::now();
    let profiles =
        Profiles::open(&dir, common::bulk_options(), ProfilesOptions::default()).expect("open");
    let opened = start.elapsed();
    let snapshot = profiles.snapshot();
    let profile_count = snapshot.row_count(TableKind::Profiles);
    let event_count = snapshot.row_count(TableKind::Events);
    let segments = snapshot.segments().len();
    drop(snapshot);
    let mut rng = common::Rng::new(3);
    let mut lookup = || {
        let user = rng.below(u64::from(users));
        let start = Instant::now();
        let view = profiles
            .profile(&format!("user_id:u{user}"), 20)
            .expect("view");
        let elapsed = start.elapsed();
        std::hint::black_box(view);
        elapsed
    };
    let first = lookup();
    let mut latencies: Vec<Duration> = (0..lookups).map(|_| lookup()).collect();
    latencies.sort();
    let percentile =
        |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    let mean = latencies.iter().sum::<Duration>() / latencies.len() as u32;
    println!("{profile_count} profiles, {event_count} events, {segments} segments");
    println!("open {opened:?}, first view {first:?}");
    println!(
        "{lookups} views: mean {mean:?}, p50 {:?}, p99 {:?}, p99.9 {:?}, max {:?}",
        percentile(0.5),
        percentile(0.99),
        percentile(0.999),
        latencies[latencies.len() - 1]
    );
}
