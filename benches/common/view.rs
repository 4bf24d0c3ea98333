//! The profile-view dataset shared by `benches/identity.rs` and `examples/view_probe.rs`, so
//! the benchmark and the probe measure the same database.

use profiledb::{Options, Profiles, ProfilesOptions};
use std::time::Instant;

/// Profiles in the profile-view dataset (`PROFILEDB_VIEW_PROFILES`, default 10 M).
pub fn view_profiles() -> u32 {
    std::env::var("PROFILEDB_VIEW_PROFILES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000_000)
}

/// Mean events per profile in the profile-view dataset (`PROFILEDB_VIEW_EVENTS_PER_PROFILE`,
/// default 8: most customers of a store have a handful of visits, a few have hundreds).
pub fn view_events_per_profile() -> u32 {
    std::env::var("PROFILEDB_VIEW_EVENTS_PER_PROFILE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8)
}

/// Messages of the profile-view dataset, in calls of 10,000 lines: first one identify per
/// user (each user is one profile with an email, a plan and a consent), then
/// `users × events_per_user` behavioural messages of users picked at random — a sixth of the
/// users are heavy (they draw half of the events), so event counts range from 0 to hundreds.
struct ViewMessages {
    users: u64,
    next: u64,
    total: u64,
    rng: super::Rng,
}

impl ViewMessages {
    fn new(users: u32, events_per_user: u32) -> ViewMessages {
        let users = u64::from(users);
        ViewMessages {
            users,
            next: 0,
            total: users + users * u64::from(events_per_user),
            rng: super::Rng::new(17),
        }
    }

    fn line(&mut self, i: u64) -> String {
        let second = self.rng.below(90 * 86_400);
        let timestamp = format!(
            "2026-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            3 + second / (30 * 86_400),
            1 + second / 86_400 % 30,
            second / 3600 % 24,
            second / 60 % 60,
            second % 60
        );
        if i < self.users {
            let consent = !i.is_multiple_of(3);
            return format!(
                r#"{{"type":"identify","userId":"u{i}","anonymousId":"a{i}","traits":{{"email":"user{i}@example.com","plan":"free","name":"User {i}","consent":{{"email":{consent}}}}},"messageId":"m{i}","timestamp":"{timestamp}"}}"#
            );
        }
        let user = if self.rng.below(2) == 0 {
            self.rng.below(self.users.div_ceil(6))
        } else {
            self.rng.below(self.users)
        };
        match i % 10 {
            0 => format!(
                r#"{{"type":"identify","userId":"u{user}","traits":{{"plan":"pro","city":"c{}"}},"messageId":"m{i}","timestamp":"{timestamp}"}}"#,
                self.rng.below(500)
            ),
            1 | 2 => format!(
                r#"{{"type":"page","anonymousId":"a{user}","name":"Pricing","properties":{{"path":"/p{}"}},"messageId":"m{i}","timestamp":"{timestamp}"}}"#,
                self.rng.below(50)
            ),
            _ => format!(
                r#"{{"type":"track","userId":"u{user}","event":"Product Viewed","properties":{{"price":{}.5,"sku":"s{}"}},"messageId":"m{i}","timestamp":"{timestamp}"}}"#,
                self.rng.below(200),
                self.rng.below(1000)
            ),
        }
    }
}

impl Iterator for ViewMessages {
    type Item = Vec<String>;

    fn next(&mut self) -> Option<Vec<String>> {
        if self.next >= self.total {
            return None;
        }
        let end = (self.next + 10_000).min(self.total);
        let lines = (self.next..end).map(|i| self.line(i)).collect();
        self.next = end;
        Some(lines)
    }
}

/// The profile-view database, built once under `target/bench-data/` and reused. Segments are
/// flushed every 10 M messages and not compacted (compaction holds whole columns in memory),
/// so profile rows and events are spread over several segments, as in a live deployment.
pub fn view_dataset(users: u32, events_per_user: u32) -> std::path::PathBuf {
    let dir = super::dataset_root().join(format!("profiles-view-{users}u-{events_per_user}e"));
    if dir.join("READY").exists() {
        return dir;
    }
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!("building {} (one-time)…", dir.display());
    let start = Instant::now();
    // The default in-memory head: a 1 GB head makes every seal re-merge most of it.
    let options = Options {
        flush_threshold_bytes: Options::default().flush_threshold_bytes,
        ..super::bulk_options()
    };
    let profiles = Profiles::open(&dir, options, ProfilesOptions::default()).expect("open");
    for (call, lines) in ViewMessages::new(users, events_per_user).enumerate() {
        profiles.ingest_lines(&lines).expect("ingest");
        if (call + 1) % 1_000 == 0 {
            profiles.database().flush().expect("flush");
            eprintln!(
                "  {} M messages in {:.1?}",
                (call + 1) / 100,
                start.elapsed()
            );
        }
    }
    profiles.database().flush().expect("flush");
    profiles.close().expect("close");
    std::fs::write(dir.join("READY"), b"").expect("marker");
    eprintln!("  built in {:.1?}", start.elapsed());
    dir
}
