//! Times end-to-end NDJSON ingestion of synthetic Segment-spec messages (for profiling).
//!
//! `ndjson_probe [N]` ingests N messages in calls of 10,000 through a [`LiveDatabase`] with
//! computed traits and live segments defined, so each call also maintains them. The first
//! call is not timed: it gives the columns their types, which the definitions need.
//! `--bare` ingests through [`Profiles`] alone, with nothing defined; `PROBE_SKIP=TEXT` in
//! the environment leaves out the definitions containing TEXT, to see what each costs.
//! `ndjson_probe N --write FILE` only writes the same N lines to FILE (input for `profiledb
//! import`).
#[path = "../benches/common/mod.rs"]
mod common;

use profiledb::query::LiveDatabase;
use profiledb::{Options, Profiles, ProfilesOptions, SyncMode};
use std::io::Write;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: u32 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(200_000);
    let all = common::ndjson_messages(n);
    if let Some(path) = args
        .iter()
        .position(|a| a == "--write")
        .and_then(|i| args.get(i + 1))
    {
        let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
        for line in &all {
            writeln!(out, "{line}").expect("write");
        }
        out.flush().expect("flush");
        println!("wrote {n} messages to {path}");
        return;
    }
    let dir = std::env::temp_dir().join("profiledb-ndjson-probe");
    let _ = std::fs::remove_dir_all(&dir);
    let options = Options {
        sync_mode: SyncMode::EveryMillis(10),
        ..Options::default()
    };
    let (first, rest) = all.split_at(all.len().min(CALL_MESSAGES));
    let bare = args.iter().any(|a| a == "--bare");
    let start_cpu = thread_cpu_seconds();
    let start_waits = thread_waits();
    let start_process_cpu = process_cpu_seconds();
    let (took, cpu_after, process_cpu_after) = if bare {
        let profiles = Profiles::open(&dir, options, ProfilesOptions::default()).expect("open");
        profiles.ingest_lines(first).expect("ingest");
        let start = Instant::now();
        for chunk in rest.chunks(CALL_MESSAGES) {
            profiles.ingest_lines(chunk).expect("ingest");
        }
        let timed = (start.elapsed(), thread_cpu_seconds(), process_cpu_seconds());
        profiles.close().expect("close");
        timed
    } else {
        let db =
            LiveDatabase::open_profiles(&dir, options, ProfilesOptions::default()).expect("open");
        db.ingest_lines(first).expect("ingest");
        let mut session = db.session();
        let skip = std::env::var("PROBE_SKIP").unwrap_or_default();
        for statement in DEFINITIONS
            .iter()
            .filter(|s| skip.is_empty() || !s.contains(skip.as_str()))
        {
            db.execute(&mut session, statement).expect(statement);
        }
        let start = Instant::now();
        let mut changes = 0;
        for chunk in rest.chunks(CALL_MESSAGES) {
            let (_, upkeep) = db.ingest_lines(chunk).expect("ingest");
            changes += upkeep.entered + upkeep.exited;
        }
        let timed = (start.elapsed(), thread_cpu_seconds(), process_cpu_seconds());
        if let (Some(before), Some(after)) = (start_waits, thread_waits()) {
            println!(
                "calling thread: {:.2} s ready but waiting for a CPU, over {} timeslices",
                (after.0 - before.0) as f64 / 1e9,
                after.1 - before.1
            );
        }
        let sizes: Vec<String> = SEGMENT_NAMES
            .iter()
            .map(|name| format!("{name} {}", db.members(name).map_or(0, |m| m.len())))
            .collect();
        println!(
            "segments: {}; {changes} membership changes",
            sizes.join(", ")
        );
        db.close().expect("close");
        timed
    };
    let timed_messages = rest.len();
    let seconds = |after: Option<f64>, before: Option<f64>| {
        after
            .zip(before)
            .map_or_else(|| "unknown".to_owned(), |(a, b)| format!("{:.2} s", a - b))
    };
    println!(
        "ingested {timed_messages} messages{} in {took:?}: {:.0}/s; calling thread CPU {}; \
         process CPU {}",
        if bare {
            " (bare)"
        } else {
            " (traits and segments)"
        },
        timed_messages as f64 / took.as_secs_f64(),
        seconds(cpu_after, start_cpu),
        seconds(process_cpu_after, start_process_cpu)
    );
}

/// Messages per ingest call.
const CALL_MESSAGES: usize = 10_000;

/// Computed traits and live segments kept current by every timed call.
const DEFINITIONS: [&str; 7] = [
    "CREATE TRAIT views AS count(*) FROM events WHERE event = 'Product Viewed'",
    "CREATE TRAIT viewed_value AS sum(price) FROM events WHERE event = 'Product Viewed' \
     WITHIN INTERVAL '365 days'",
    "CREATE TRAIT last_page AS last(event) FROM events WHERE type = 'page'",
    "CREATE SEGMENT pros AS SELECT profile_id FROM profiles WHERE plan = 'pro'",
    "CREATE SEGMENT frequent_viewers AS SELECT profile_id FROM profiles WHERE views >= 5",
    "CREATE SEGMENT big_browsers AS SELECT profile_id FROM profiles \
     WHERE viewed_value > 500 AND plan = 'pro'",
    "CREATE SEGMENT pricing_readers AS SELECT profile_id FROM profiles WHERE profile_id IN \
     (SELECT profile_id FROM events WHERE type = 'page' AND event = 'Pricing')",
];

/// Names of the segments in [`DEFINITIONS`].
const SEGMENT_NAMES: [&str; 4] = [
    "pros",
    "frequent_viewers",
    "big_browsers",
    "pricing_readers",
];

/// CPU time (user + system) of the calling thread, from `/proc/thread-self/stat` (Linux
/// only): the writer's own cost, apart from the threads that parse and flush.
fn thread_cpu_seconds() -> Option<f64> {
    cpu_seconds("/proc/thread-self/stat")
}

/// Nanoseconds the calling thread spent runnable but not running, and how many timeslices
/// it ran, from `/proc/thread-self/schedstat` (Linux only).
fn thread_waits() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let fields: Vec<u64> = stat
        .split_whitespace()
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    Some((*fields.get(1)?, *fields.get(2)?))
}

/// CPU time (user + system) of the whole process, all threads, from `/proc/self/stat`.
fn process_cpu_seconds() -> Option<f64> {
    cpu_seconds("/proc/self/stat")
}

/// utime + stime of a `/proc` stat file, in seconds.
fn cpu_seconds(path: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(path).ok()?;
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // Linux reports these in USER_HZ, which is 100 on every architecture it exports.
    Some(ticks / 100.0)
}
