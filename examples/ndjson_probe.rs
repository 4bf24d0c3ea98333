//! Times end-to-end NDJSON ingestion of synthetic Segment-spec messages (for profiling).
#[path = "../benches/common/mod.rs"]
mod common;

use profiledb::{Options, Profiles, ProfilesOptions, SyncMode};
use std::time::Instant;

fn main() {
    let n: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200_000);
    let dir = std::env::temp_dir().join("profiledb-ndjson-probe");
    let _ = std::fs::remove_dir_all(&dir);
    let all = common::ndjson_messages(n);
    let options = Options {
        sync_mode: SyncMode::EveryMillis(10),
        ..Options::default()
    };
    let profiles = Profiles::open(&dir, options, ProfilesOptions::default()).expect("open");
    let start = Instant::now();
    for chunk in all.chunks(10_000) {
        profiles.ingest_lines(chunk).expect("ingest");
    }
    let took = start.elapsed();
    println!(
        "ingested {n} messages in {took:?}: {:.0}/s",
        f64::from(n) / took.as_secs_f64()
    );
    profiles.close().expect("close");
}
