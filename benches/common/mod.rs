//! Deterministic synthetic data shared by the benchmarks.

#![allow(dead_code)]

pub mod queries;
pub mod view;

// Benchmarks measure ProfileDB as the `profiledb` command ships it: with mimalloc, whose
// per-thread free lists suit the engine's many short-lived allocations (glibc malloc
// costs ingest about a third of its throughput).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    write_profiles(&db, profiles, columns);
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

/// Event names with their weights (per mille): a skewed mix where page views dominate and
/// `Order Completed` is a few percent, as in typical e-commerce tracking plans.
pub const EVENT_NAMES: [(&str, u64); 10] = [
    ("Page Viewed", 350),
    ("Product Viewed", 200),
    ("Email Opened", 100),
    ("Product Added", 90),
    ("Order Completed", 60),
    ("Signed In", 60),
    ("Search Performed", 50),
    ("Email Clicked", 40),
    ("Checkout Started", 30),
    ("Subscription Renewed", 20),
];

/// Events are spread over this many days before [`NOW_MICROS`].
pub const EVENT_SPAN_DAYS: i64 = 365;

/// Events flushed into one segment while building: a whole number of 65,536-row chunks, so
/// every chunk starts at a multiple of 65,536 (the layout compaction would produce too).
pub const EVENTS_PER_SEGMENT: u64 = 32 * 65_536;

/// One synthetic event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The profile it belongs to.
    pub profile: u32,
    /// Index into [`EVENT_NAMES`].
    pub name: usize,
    /// Microseconds since the epoch.
    pub timestamp: i64,
    /// Set on `Order Completed` only.
    pub revenue: Option<f64>,
}

/// The deterministic stream of `total` events over `profiles` profiles, in append (= roughly
/// time) order: event `i` happens at `i / total` of the span, give or take an hour, so
/// timestamps grow with the row id like in real ingestion. 30 % of the events belong to the
/// "heavy" 5 % of profiles (ids ≡ 7 mod 20), the rest are spread uniformly.
pub struct EventStream {
    rng: Rng,
    next: u64,
    total: u64,
    profiles: u32,
}

impl EventStream {
    pub fn new(profiles: u32, total: u64) -> EventStream {
        EventStream {
            rng: Rng::new(4242),
            next: 0,
            total,
            profiles,
        }
    }
}

impl Iterator for EventStream {
    type Item = Event;

    fn next(&mut self) -> Option<Event> {
        if self.next >= self.total {
            return None;
        }
        let i = self.next;
        self.next += 1;
        let rng = &mut self.rng;
        let heavy_slots = u64::from(self.profiles / 20);
        let profile = if rng.below(10) < 3 && heavy_slots > 0 {
            rng.below(heavy_slots) * 20 + 7
        } else {
            rng.below(u64::from(self.profiles))
        };
        let mut pick = rng.below(1000);
        let mut name = 0;
        for (index, (_, weight)) in EVENT_NAMES.iter().enumerate() {
            if pick < *weight {
                name = index;
                break;
            }
            pick -= weight;
        }
        let span = EVENT_SPAN_DAYS * DAY_MICROS;
        let base =
            NOW_MICROS - span + (i128::from(span) * i128::from(i) / i128::from(self.total)) as i64;
        let jitter = rng.below(7_200_000_000) as i64 - 3_600_000_000;
        let timestamp = (base + jitter).min(NOW_MICROS - 1);
        let revenue =
            (EVENT_NAMES[name].0 == "Order Completed").then(|| rng.below(50_000) as f64 / 100.0);
        Some(Event {
            profile: profile as u32,
            name,
            timestamp,
            revenue,
        })
    }
}

/// The attributes an [`Event`] is written with (`profile_id` is added by the engine).
pub fn event_attributes(event: &Event) -> Vec<(String, Value)> {
    let mut attributes = vec![
        (
            "event".to_owned(),
            Value::String(EVENT_NAMES[event.name].0.to_owned()),
        ),
        ("timestamp".to_owned(), Value::Timestamp(event.timestamp)),
    ];
    if let Some(revenue) = event.revenue {
        attributes.push(("revenue".to_owned(), Value::Float64(revenue)));
    }
    attributes
}

/// Writes profiles `0..profiles` (`columns` attributes each) through the public API, flushing
/// every million profiles so the in-memory head stays small.
pub fn write_profiles(db: &profiledb::Database, profiles: u32, columns: usize) {
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
}

/// A customer-data database: `profiles` profiles with `columns` attributes each, compacted,
/// plus `events` events from [`EventStream`], built once under `target/bench-data/` and reused.
///
/// Events are flushed every [`EVENTS_PER_SEGMENT`] rows and not compacted: compaction
/// materialises a whole column as values in memory, which for 100 M events needs several GB;
/// real deployments would see many event segments too.
pub fn cdp_dataset(profiles: u32, columns: usize, events: u64) -> std::path::PathBuf {
    let dir = dataset_root().join(format!("cdp-{profiles}x{columns}-{events}e"));
    if dir.join("READY").exists() {
        return dir;
    }
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!("building {} (one-time)…", dir.display());
    let start = std::time::Instant::now();
    let db = profiledb::Database::open(&dir, bulk_options()).expect("open dataset");
    write_profiles(&db, profiles, columns);
    db.compact().expect("compact dataset");
    eprintln!(
        "  profiles written and compacted in {:.1?}",
        start.elapsed()
    );
    let events_start = std::time::Instant::now();
    let mut batch = WriteBatch::new();
    for (i, event) in EventStream::new(profiles, events).enumerate() {
        batch.append_event(event.profile, event_attributes(&event));
        let written = i as u64 + 1;
        if batch.len() == 8_192 || written == events {
            db.write(&batch).expect("write events");
            batch = WriteBatch::new();
        }
        if written.is_multiple_of(EVENTS_PER_SEGMENT) {
            db.flush().expect("flush events");
        }
        if written.is_multiple_of(10_000_000) {
            eprintln!("  {written} events in {:.1?}", events_start.elapsed());
        }
    }
    db.flush().expect("flush events");
    eprintln!(
        "  {events} events written in {:.1?}; dataset built in {:.1?}",
        events_start.elapsed(),
        start.elapsed()
    );
    db.close().expect("close dataset");
    std::fs::write(dir.join("READY"), b"").expect("marker");
    dir
}

/// `messages` Segment-spec NDJSON lines over `messages / 5` users: a tenth identify calls
/// (user id, anonymous id, email and plan traits), a fifth page views by anonymous id, the
/// rest `Product Viewed` tracks with a price and a SKU, spread over May 2026.
pub fn ndjson_messages(messages: u32) -> Vec<String> {
    let mut rng = Rng::new(11);
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

/// Identify messages for the identity graph: user `i` first browses anonymously, then logs
/// in, so each message links a user id and an anonymous id (two new identifiers).
pub fn identify_links(
    messages: u32,
) -> Vec<(Vec<profiledb::engine::identity::Identifier>, String)> {
    use profiledb::engine::identity::Identifier;
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
