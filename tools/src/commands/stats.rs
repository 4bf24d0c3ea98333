//! `profiledb stats`: counts, files, and per-column storage of the segment files.
//!
//! The naive size a column is compared with is what a plain row layout would take: 1 byte
//! per bool, 8 per int64/float64/timestamp, 4 + length per string, 4 + Σ(4 + length) per
//! string list, nothing for NULLs.

use super::{close, open_existing};
use crate::error::ToolError;
use crate::output::{human_bytes, Out};
use crate::Outcome;
use profiledb::engine::codec::{ChunkReader, ChunkValues};
use profiledb::engine::{ColumnType, DatabaseStats, Snapshot, TableKind};
use std::collections::BTreeSet;
use std::path::Path;

/// Storage of one column across a table's segment files.
#[derive(Default)]
struct ColumnUsage {
    encodings: BTreeSet<&'static str>,
    stored: u64,
    naive: u64,
}

pub(crate) fn run(data: &Path) -> Result<Outcome, ToolError> {
    let db = open_existing(data)?;
    let stats = db.stats().map_err(ToolError::engine("reading stats"))?;
    let snapshot = db.snapshot();
    let mut out = Out::new();
    print_overview(&mut out, data, &stats)?;
    for table in TableKind::ALL {
        print_columns(&mut out, &snapshot, table)?;
    }
    out.finish()?;
    drop(snapshot);
    close(db)?;
    Ok(Outcome::Clean)
}

fn print_overview(out: &mut Out, data: &Path, stats: &DatabaseStats) -> Result<(), ToolError> {
    out.line(format!("database  {}", data.display()))?;
    out.line(format!("profiles  {}", stats.profiles))?;
    out.line(format!("events    {}", stats.events))?;
    out.line(format!("wal       {}", human_bytes(stats.wal_bytes)))?;
    out.line(format!(
        "memory    {} (not yet in segments)",
        human_bytes(stats.memory_bytes as u64)
    ))?;
    for (table, files, bytes) in &stats.segments {
        out.line(format!(
            "segments  {:<9} {files} files, {}",
            table.name(),
            human_bytes(*bytes)
        ))?;
    }
    Ok(())
}

fn print_columns(out: &mut Out, snapshot: &Snapshot, table: TableKind) -> Result<(), ToolError> {
    let columns = snapshot.schema(table).columns();
    out.line("")?;
    out.line(format!("{table} columns ({})", columns.len()))?;
    if columns.is_empty() {
        return Ok(());
    }
    out.line(format!(
        "  {:<24} {:<11} {:<24} {:>11} {:>11} {:>7}",
        "column", "type", "encodings", "stored", "naive", "ratio"
    ))?;
    for column in columns {
        let usage = column_usage(snapshot, table, &column.name)?;
        let (encodings, ratio) = if usage.encodings.is_empty() {
            ("(memory only)".to_owned(), "-".to_owned())
        } else {
            let names: Vec<_> = usage.encodings.iter().copied().collect();
            let ratio = if usage.stored == 0 {
                "-".to_owned()
            } else {
                format!("{:.2}x", usage.naive as f64 / usage.stored as f64)
            };
            (names.join(","), ratio)
        };
        out.line(format!(
            "  {:<24} {:<11} {:<24} {:>11} {:>11} {:>7}",
            column.name,
            column.column_type.name(),
            encodings,
            human_bytes(usage.stored),
            human_bytes(usage.naive),
            ratio
        ))?;
    }
    Ok(())
}

/// Sums the chunks of `column` over every segment of `table`.
fn column_usage(
    snapshot: &Snapshot,
    table: TableKind,
    column: &str,
) -> Result<ColumnUsage, ToolError> {
    let mut usage = ColumnUsage::default();
    for segment in snapshot.segments().iter().filter(|s| s.table() == table) {
        let Some(entry) = segment.column(column) else {
            continue;
        };
        for index in 0..entry.chunks.len() {
            let chunk = segment
                .chunk(entry, index)
                .map_err(ToolError::engine(format!("reading column `{column}`")))?;
            usage.encodings.insert(chunk.encoding().name());
            usage.stored += chunk.encoded_len() as u64;
            usage.naive += naive_bytes(&chunk).map_err(|e| ToolError::Engine {
                context: format!("decoding column `{column}` in {}", segment.path().display()),
                source: profiledb::Error::Corrupt {
                    file: segment.path().to_path_buf(),
                    offset: entry.chunks[index].offset,
                    reason: e.to_string(),
                },
            })?;
        }
    }
    Ok(usage)
}

/// Bytes the chunk's non-NULL values take in a plain row layout (see the module docs).
fn naive_bytes(chunk: &ChunkReader<'_>) -> Result<u64, profiledb::engine::codec::CodecError> {
    let values = (chunk.rows() - chunk.null_count()) as u64;
    let fixed = match chunk.column_type() {
        ColumnType::Bool => Some(1),
        ColumnType::Int64 | ColumnType::Float64 | ColumnType::Timestamp => Some(8),
        ColumnType::String | ColumnType::StringList => None,
    };
    if let Some(width) = fixed {
        return Ok(values * width);
    }
    let nulls = chunk.null_rows()?;
    let is_value = |row: usize| !u32::try_from(row).is_ok_and(|r| nulls.contains(r));
    let len_of = |dictionary: &[String], code: u32| {
        dictionary
            .get(code as usize)
            .map_or(0, |s| s.len() as u64 + 4)
    };
    Ok(match chunk.decode()? {
        ChunkValues::String { dictionary, codes } => codes
            .iter()
            .enumerate()
            .filter(|(row, _)| is_value(*row))
            .map(|(_, &code)| len_of(&dictionary, code))
            .sum(),
        ChunkValues::StringList {
            dictionary,
            offsets,
            codes,
        } => {
            let items: u64 = codes.iter().map(|&code| len_of(&dictionary, code)).sum();
            let rows = offsets.len().saturating_sub(1);
            items + 4 * (0..rows).filter(|&row| is_value(row)).count() as u64
        }
        _ => 0,
    })
}
