//! Times end-to-end NDJSON ingestion of synthetic Segment-spec messages (for profiling).
use profiledb::{Options, Profiles, ProfilesOptions, SyncMode};
use std::time::Instant;

fn lines(messages: u64) -> Vec<String> {
    let mut state = 11u64;
    let mut next = |bound: u64| {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % bound
    };
    (0..messages)
        .map(|i| {
            let user = next((messages / 5).max(1));
            let day = 1 + next(28);
            match i % 10 {
                0 => format!(
                    r#"{{"type":"identify","userId":"u{user}","anonymousId":"a{user}","traits":{{"email":"user{user}@example.com","plan":"pro"}},"messageId":"m{i}","timestamp":"2026-05-{day:02}T10:00:00Z"}}"#
                ),
                1 | 2 => format!(
                    r#"{{"type":"page","anonymousId":"a{user}","name":"Pricing","messageId":"m{i}","timestamp":"2026-05-{day:02}T10:00:00Z"}}"#
                ),
                _ => format!(
                    r#"{{"type":"track","userId":"u{user}","event":"Product Viewed","properties":{{"price":{}.5,"sku":"s{}"}},"messageId":"m{i}","timestamp":"2026-05-{day:02}T10:00:00Z"}}"#,
                    next(200),
                    next(1000)
                ),
            }
        })
        .collect()
}

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200_000);
    let dir = std::env::temp_dir().join("profiledb-ndjson-probe");
    let _ = std::fs::remove_dir_all(&dir);
    let all = lines(n);
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
        n as f64 / took.as_secs_f64()
    );
    profiles.close().expect("close");
}
