//! Deterministic synthetic data shared by the benchmarks.

#![allow(dead_code)]

use profiledb::{Value, WriteBatch};

/// A small, fast, deterministic pseudo-random generator (SplitMix64).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

pub const COUNTRIES: [&str; 12] = [
    "DE", "AT", "CH", "FR", "US", "GB", "NL", "ES", "IT", "PL", "SE", "BR",
];
pub const PLANS: [&str; 4] = ["free", "pro", "team", "enterprise"];
pub const CHANNELS: [&str; 6] = ["web", "ios", "android", "pos", "email", "call"];

/// 2026-06-01T00:00:00Z in microseconds.
pub const NOW_MICROS: i64 = 1_780_272_000_000_000;
const DAY_MICROS: i64 = 86_400_000_000;

/// The attributes of synthetic profile `id`: 20 columns of mixed types and cardinalities.
pub fn profile_attributes(id: u32, rng: &mut Rng, columns: usize) -> Vec<(String, Value)> {
    let mut all = vec![
        (
            "country".to_owned(),
            Value::String(COUNTRIES[rng.below(12) as usize].to_owned()),
        ),
        (
            "plan".to_owned(),
            Value::String(PLANS[rng.below(4) as usize].to_owned()),
        ),
        ("email_opt_in".to_owned(), Value::Bool(rng.below(3) != 0)),
        ("age".to_owned(), Value::Int64(18 + rng.below(60) as i64)),
        (
            "lifetime_value".to_owned(),
            Value::Float64((rng.below(500_000) as f64) / 100.0),
        ),
        ("order_count".to_owned(), Value::Int64(rng.below(40) as i64)),
        (
            "signup_at".to_owned(),
            Value::Timestamp(NOW_MICROS - rng.below(1_000) as i64 * DAY_MICROS),
        ),
        (
            "last_seen_at".to_owned(),
            Value::Timestamp(NOW_MICROS - rng.below(90) as i64 * DAY_MICROS),
        ),
        (
            "email".to_owned(),
            Value::String(format!("user{id}@example.com")),
        ),
        ("user_id".to_owned(), Value::String(format!("u{id:09}"))),
        (
            "channel".to_owned(),
            Value::String(CHANNELS[rng.below(6) as usize].to_owned()),
        ),
        (
            "city_code".to_owned(),
            Value::Int64(rng.below(2_000) as i64),
        ),
        (
            "score".to_owned(),
            Value::Float64(rng.below(1_000) as f64 / 10.0),
        ),
        ("vip".to_owned(), Value::Bool(rng.below(20) == 0)),
        (
            "language".to_owned(),
            Value::String(["de", "en", "fr", "es", "it"][rng.below(5) as usize].to_owned()),
        ),
        (
            "sessions_30d".to_owned(),
            Value::Int64(rng.below(100) as i64),
        ),
        (
            "cart_value".to_owned(),
            Value::Float64(rng.below(30_000) as f64 / 100.0),
        ),
        ("segment_hint".to_owned(), Value::Int64(rng.below(8) as i64)),
        (
            "birth_year".to_owned(),
            Value::Int64(1940 + rng.below(70) as i64),
        ),
        ("phone_verified".to_owned(), Value::Bool(rng.below(2) == 0)),
    ];
    all.truncate(columns);
    all
}

/// Upserts of profiles `first..first+count`, `columns` attributes each, as one batch.
pub fn profile_batch(first: u32, count: u32, columns: usize, rng: &mut Rng) -> WriteBatch {
    let mut batch = WriteBatch::new();
    for id in first..first + count {
        batch.upsert_profile(id, profile_attributes(id, rng, columns));
    }
    batch
}

/// Options for building benchmark datasets quickly: no fsync, large in-memory head.
pub fn bulk_options() -> profiledb::Options {
    profiledb::Options {
        sync_mode: profiledb::SyncMode::Never,
        flush_threshold_bytes: 1 << 30,
        compaction_trigger_segments: 0,
        ..profiledb::Options::default()
    }
}

/// Where cached benchmark datasets live (inside the build directory, never committed).
pub fn dataset_root() -> std::path::PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("bench-data")
}

/// A database of `profiles` synthetic profiles with `columns` attributes each, built once and
/// reused by later runs (a `READY` marker is written last).
pub fn profiles_dataset(profiles: u32, columns: usize) -> std::path::PathBuf {
    let dir = dataset_root().join(format!("profiles-{profiles}x{columns}"));
    if dir.join("READY").exists() {
        return dir;
    }
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!("building {} (one-time)…", dir.display());
    let db = profiledb::Database::open(&dir, bulk_options()).expect("open dataset");
    let mut rng = Rng::new(42);
    let mut id = 0;
    while id < profiles {
        let count = 10_000.min(profiles - id);
        db.write(&profile_batch(id, count, columns, &mut rng))
            .expect("write dataset");
        id += count;
        if id % 1_000_000 == 0 {
            db.flush().expect("flush dataset");
        }
    }
    db.compact().expect("compact dataset");
    db.close().expect("close dataset");
    std::fs::write(dir.join("READY"), b"").expect("marker");
    dir
}

/// Size in bytes of the same profiles written as CSV with a header (the usual interchange form).
pub fn csv_size(profiles: u32, columns: usize) -> u64 {
    let mut rng = Rng::new(42);
    let mut total = 0u64;
    for id in 0..profiles {
        let attributes = profile_attributes(id, &mut rng, columns);
        if id == 0 {
            total += attributes
                .iter()
                .map(|(n, _)| n.len() as u64 + 1)
                .sum::<u64>();
        }
        for (_, value) in &attributes {
            total += csv_field(value).len() as u64 + 1;
        }
    }
    total
}

fn csv_field(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Int64(i) => i.to_string(),
        Value::Float64(f) => f.to_string(),
        // RFC 3339 UTC, seconds precision: "2026-06-01T00:00:00Z".
        Value::Timestamp(_) => "2026-06-01T00:00:00Z".to_owned(),
        Value::String(s) => s.clone(),
        Value::StringList(items) => items.join(";"),
    }
}

/// Total size of the regular files under `dir`, recursively.
pub fn directory_size(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|entry| {
                    let path = entry.path();
                    if path.is_dir() {
                        directory_size(&path)
                    } else {
                        entry.metadata().map(|m| m.len()).unwrap_or(0)
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

/// Resident memory of this process in bytes (Linux), for "memory before the first query".
pub fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}
