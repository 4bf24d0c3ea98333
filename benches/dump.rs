//! Logical dump and restore throughput, in dump-file bytes per second.
//!
//! Goal (2-core machine): `profiledb dump` and `profiledb restore` of a 10 M-profile,
//! 20-column database each at ≥ 100 MB/s. Restore is measured the way the command runs it:
//! one pass over the dump that verifies every block as it restores it into a fresh directory.
//! `PROFILEDB_BENCH_PROFILES` picks another size (e.g. 1000000 while iterating).

mod common;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use profiledb::engine::dump::{restore_dump, write_dump};
use profiledb::Database;
use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Large enough that the file system sees few, big writes and reads.
const IO_BUFFER_BYTES: usize = 8 << 20;

fn profiles() -> u32 {
    std::env::var("PROFILEDB_BENCH_PROFILES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000_000)
}

/// Dumps the database in `data` to `out`; returns the dump's size.
fn dump(data: &Path, out: &Path) -> u64 {
    let db = Database::open(data, common::bulk_options()).expect("open dataset");
    let file = File::create(out).expect("create dump");
    let mut writer = BufWriter::with_capacity(IO_BUFFER_BYTES, file);
    let summary = write_dump(&db.snapshot(), &mut writer).expect("dump");
    writer.flush().expect("flush dump");
    writer
        .into_inner()
        .expect("flush dump")
        .sync_all()
        .expect("sync dump");
    db.close().expect("close dataset");
    summary.bytes
}

/// Restores the dump into the fresh directory `target`, verifying it on the way.
fn restore(dump: &Path, target: &Path, bytes: u64) {
    let mut input = BufReader::with_capacity(IO_BUFFER_BYTES, File::open(dump).expect("open dump"));
    let restored = restore_dump(&mut input, target).expect("restore");
    assert_eq!(restored.bytes, bytes);
}

fn dump_and_restore(c: &mut Criterion) {
    let profiles = profiles();
    let data = common::profiles_dataset(profiles, 20);
    let dump_path: PathBuf = common::dataset_root().join(format!("profiles-{profiles}x20.pdump"));
    let bytes = dump(&data, &dump_path);
    eprintln!("dump of {profiles} profiles × 20 columns: {bytes} bytes");

    let mut group = c.benchmark_group("dump");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(bytes));
    group.bench_function(format!("dump_{profiles}_profiles_20_columns"), |b| {
        b.iter(|| dump(&data, &dump_path));
    });
    let target = common::dataset_root().join("scratch-restore");
    group.bench_function(format!("restore_{profiles}_profiles_20_columns"), |b| {
        b.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            for _ in 0..iterations {
                let _ = std::fs::remove_dir_all(&target);
                let start = Instant::now();
                restore(&dump_path, &target, bytes);
                total += start.elapsed();
            }
            total
        });
    });
    group.finish();
    let _ = std::fs::remove_dir_all(&target);
}

criterion_group!(benches, dump_and_restore);
criterion_main!(benches);
