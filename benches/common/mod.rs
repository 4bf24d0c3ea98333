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
