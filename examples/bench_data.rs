//! Builds the cached benchmark dataset of `benches/queries.rs` and, with `--csv DIR`, writes the
//! same synthetic data as CSV for other systems (`benches/duckdb_compare.py` loads it into
//! DuckDB).
//!
//! Usage: `cargo run --release --example bench_data -- [--profiles N] [--events N] [--csv DIR]`
//! (defaults: 10 M profiles × 20 columns, 100 M events).

#[path = "../benches/common/mod.rs"]
mod common;

use common::{profile_attributes, EventStream, Rng, EVENT_NAMES};
use profiledb::Value;
use std::io::Write;
use std::path::{Path, PathBuf};

fn main() -> std::io::Result<()> {
    let mut profiles: u32 = 10_000_000;
    let mut events: u64 = 100_000_000;
    let mut csv: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next();
        match (arg.as_str(), value) {
            ("--profiles", Some(v)) => profiles = v.parse().unwrap_or(profiles),
            ("--events", Some(v)) => events = v.parse().unwrap_or(events),
            ("--csv", Some(v)) => csv = Some(PathBuf::from(v)),
            _ => {
                eprintln!("usage: bench_data [--profiles N] [--events N] [--csv DIR]");
                std::process::exit(2);
            }
        }
    }
    match csv {
        Some(dir) => write_csv(&dir, profiles, events),
        None => {
            let dir = common::cdp_dataset(profiles, 20, events);
            println!("{}", dir.display());
            Ok(())
        }
    }
}

/// `profiles.csv` and `events.csv` (with headers) under `dir`; timestamps are microseconds since
/// the epoch, a missing revenue is an empty field (NULL). Written to temporary names and
/// renamed last, so a complete pair of files means a complete export.
fn write_csv(dir: &Path, profiles: u32, events: u64) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let start = std::time::Instant::now();
    let tmp = dir.join("profiles.csv.tmp");
    {
        let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&tmp)?);
        let mut rng = Rng::new(42);
        for id in 0..profiles {
            let attributes = profile_attributes(id, &mut rng, 20);
            if id == 0 {
                let names: Vec<&str> = attributes.iter().map(|(n, _)| n.as_str()).collect();
                writeln!(out, "profile_id,{}", names.join(","))?;
            }
            write!(out, "{id}")?;
            for (_, value) in &attributes {
                out.write_all(b",")?;
                write_field(&mut out, value)?;
            }
            out.write_all(b"\n")?;
        }
        out.flush()?;
    }
    std::fs::rename(&tmp, dir.join("profiles.csv"))?;
    eprintln!("profiles.csv written in {:.1?}", start.elapsed());
    let tmp = dir.join("events.csv.tmp");
    {
        let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&tmp)?);
        writeln!(out, "profile_id,event,timestamp,revenue")?;
        for event in EventStream::new(profiles, events) {
            write!(
                out,
                "{},{},{},",
                event.profile, EVENT_NAMES[event.name].0, event.timestamp
            )?;
            if let Some(revenue) = event.revenue {
                write!(out, "{revenue}")?;
            }
            out.write_all(b"\n")?;
        }
        out.flush()?;
    }
    std::fs::rename(&tmp, dir.join("events.csv"))?;
    eprintln!("events.csv written in {:.1?}", start.elapsed());
    Ok(())
}

fn write_field(out: &mut impl Write, value: &Value) -> std::io::Result<()> {
    match value {
        Value::Null => Ok(()),
        Value::Bool(b) => write!(out, "{b}"),
        Value::Int64(i) | Value::Timestamp(i) => write!(out, "{i}"),
        Value::Float64(f) => write!(out, "{f}"),
        Value::String(s) => out.write_all(s.as_bytes()),
        Value::StringList(items) => out.write_all(items.join(";").as_bytes()),
    }
}
