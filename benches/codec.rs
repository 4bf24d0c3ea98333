//! Column-chunk scan throughput per integer encoding: decode-then-compare versus comparing on
//! the encoded bytes. Goal: a filtered int scan at ≥ 1 G values/s per core.

mod common;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use profiledb::engine::codec::{
    compare_i64, ChunkBuilder, ChunkReader, ChunkValues, CompareOp, MAX_CHUNK_ROWS,
};
use profiledb::{ColumnType, Value};

fn chunk_of(modulus: u64) -> Vec<u8> {
    let mut rng = common::Rng::new(5);
    let mut builder = ChunkBuilder::new(ColumnType::Int64);
    for _ in 0..MAX_CHUNK_ROWS {
        let value = (rng.next_u64() % modulus) as i64;
        builder.push(&Value::Int64(value)).expect("int fits");
    }
    builder.finish()
}

fn int_scans(c: &mut Criterion) {
    let mut group = c.benchmark_group("chunk_int_filter");
    group.throughput(Throughput::Elements(MAX_CHUNK_ROWS as u64));
    for (name, modulus) in [
        ("for8", 200u64),
        ("for16", 60_000),
        ("for32", 4_000_000_000),
        ("for64", u64::MAX),
    ] {
        let bytes = chunk_of(modulus);
        let rhs = (modulus / 2).min(i64::MAX as u64) as i64;
        group.bench_with_input(
            BenchmarkId::new("open_decode_compare", name),
            &bytes,
            |b, bytes| {
                b.iter(|| {
                    let reader = ChunkReader::open(bytes).expect("valid chunk");
                    let ChunkValues::Int64(values) = reader.decode().expect("decodes") else {
                        return 0;
                    };
                    compare_i64(&values, CompareOp::Less, rhs)
                        .iter()
                        .map(|w| w.count_ones())
                        .sum::<u32>()
                });
            },
        );
        group.bench_with_input(
            BenchmarkId::new("open_compare_encoded", name),
            &bytes,
            |b, bytes| {
                b.iter(|| {
                    let reader = ChunkReader::open(bytes).expect("valid chunk");
                    reader
                        .compare_int(CompareOp::Less, rhs)
                        .expect("compares")
                        .iter()
                        .map(|w| w.count_ones())
                        .sum::<u32>()
                });
            },
        );
    }
    group.finish();
}

criterion_group!(benches, int_scans);
criterion_main!(benches);
