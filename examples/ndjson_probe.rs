//! Times end-to-end NDJSON ingestion of synthetic Segment-spec messages (for profiling).
//!
//! `ndjson_probe [N]` ingests N messages in calls of 10,000; `ndjson_probe N --write FILE`
//! only writes the same N lines to FILE (input for `profiledb import`).
#[path = "../benches/common/mod.rs"]
mod common;

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
    let profiles = Profiles::open(&dir, options, ProfilesOptions::default()).expect("open");
    let start = Instant::now();
    let cpu_before = thread_cpu_seconds();
    for chunk in all.chunks(10_000) {
        profiles.ingest_lines(chunk).expect("ingest");
    }
    let took = start.elapsed();
    let writer_cpu = thread_cpu_seconds()
        .zip(cpu_before)
        .map(|(after, before)| after - before);
    println!(
        "ingested {n} messages in {took:?}: {:.0}/s; calling thread CPU {}",
        f64::from(n) / took.as_secs_f64(),
        writer_cpu.map_or_else(|| "unknown".to_owned(), |s| format!("{s:.2} s"))
    );
    profiles.close().expect("close");
}

/// CPU time (user + system) of the calling thread, from `/proc/thread-self/stat` (Linux
/// only): the writer's own cost, apart from the threads that parse and flush.
fn thread_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // Linux reports these in USER_HZ, which is 100 on every architecture it exports.
    Some(ticks / 100.0)
}
