//! Measures raw ingest, flush and compaction speed on synthetic profiles.
#[path = "../benches/common/mod.rs"]
mod common;
use profiledb::{Database, Options, SyncMode};
use std::time::Instant;

fn main() {
    let n: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let dir = std::env::temp_dir().join("profiledb-ingest-probe");
    let _ = std::fs::remove_dir_all(&dir);
    let db = Database::open(
        &dir,
        Options {
            sync_mode: SyncMode::EveryMillis(10),
            flush_threshold_bytes: usize::MAX,
            compaction_trigger_segments: 0,
            ..Options::default()
        },
    )
    .unwrap();
    let mut rng = common::Rng::new(1);
    let t = Instant::now();
    let mut id = 0;
    while id < n {
        let count = 1000.min(n - id);
        db.write(&common::profile_batch(id, count, 10, &mut rng))
            .unwrap();
        id += count;
    }
    let ingest = t.elapsed();
    let t = Instant::now();
    db.flush().unwrap();
    let flush = t.elapsed();
    let t = Instant::now();
    db.compact().unwrap();
    let compact = t.elapsed();
    println!(
        "ingest {n} profiles x10: {:?} ({:.0}/s), flush {:?}, compact {:?}",
        ingest,
        f64::from(n) / ingest.as_secs_f64(),
        flush,
        compact
    );
    println!("{:?}", db.stats().unwrap());
}
