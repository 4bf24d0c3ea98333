//! Writes a snapshot as a dump: header, META, both schemas, rows in row-id order, END.
//!
//! Determinism is the point: the bytes depend only on the snapshot's live content (schemas in
//! schema order, profiles in id order, events in id order but without their ids), so dumping
//! a database restored from a dump reproduces that dump byte for byte.

use super::cells::{ColumnCells, ColumnSource};
use super::error::DumpError;
use super::format::{
    encode_block_header, encode_header, BLOCK_SOFT_LIMIT_BYTES, FORMAT_VERSION, HEADER_LEN,
    KIND_END, KIND_EVENTS, KIND_META, KIND_PROFILES, KIND_SCHEMA, ROWS_PER_BLOCK,
};
use super::payload::{self, End, Meta};
use super::DumpSummary;
use crate::schema::TableKind;
use crate::snapshot::Snapshot;
use crate::value::Value;
use crate::EVENT_PROFILE_COLUMN;
use roaring::RoaringBitmap;
use std::io::Write;

/// Name and version recorded in the META block.
const CREATOR: &str = concat!("profiledb-engine ", env!("CARGO_PKG_VERSION"));

/// At most this many cells are encoded per window, which bounds memory for wide tables.
const WINDOW_CELLS: u64 = 1 << 21;
/// Widest window: one segment chunk.
const MAX_WINDOW_ROWS: u32 = 65_536;
/// Narrowest window, however wide the table.
const MIN_WINDOW_ROWS: u32 = 1_024;

/// Writes a dump of `snapshot` to `out`.
///
/// # Errors
/// I/O errors of `out` ([`DumpError::Io`]) or corruption found while reading the snapshot
/// ([`DumpError::Engine`]).
pub fn write_dump(snapshot: &Snapshot, out: &mut dyn Write) -> Result<DumpSummary, DumpError> {
    let mut sink = BlockSink::new(out)?;
    let meta = Meta {
        creator: CREATOR.to_owned(),
        profile_id_bound: profile_id_bound(snapshot)?,
    };
    sink.block(KIND_META, &payload::encode_meta(&meta))?;
    for table in TableKind::ALL {
        let columns = snapshot.schema(table).columns();
        sink.block(KIND_SCHEMA, &payload::encode_schema(table, columns))?;
    }
    let profiles = write_rows(snapshot, TableKind::Profiles, &mut sink)?;
    let events = write_rows(snapshot, TableKind::Events, &mut sink)?;
    let end = End {
        profiles,
        events,
        blocks: sink.blocks,
        chain_crc: sink.chain.clone().finalize(),
    };
    sink.block(KIND_END, &payload::encode_end(&end))?;
    sink.out.flush()?;
    Ok(DumpSummary {
        format_version: FORMAT_VERSION,
        creator: meta.creator,
        profiles,
        events,
        profile_columns: snapshot.schema(TableKind::Profiles).columns().len(),
        event_columns: snapshot.schema(TableKind::Events).columns().len(),
        blocks: sink.blocks,
        bytes: sink.bytes,
    })
}

/// Frames blocks onto the output and keeps the running totals END needs.
struct BlockSink<'a> {
    out: &'a mut dyn Write,
    bytes: u64,
    blocks: u64,
    chain: crc32fast::Hasher,
}

impl<'a> BlockSink<'a> {
    fn new(out: &'a mut dyn Write) -> Result<Self, DumpError> {
        out.write_all(&encode_header(FORMAT_VERSION))?;
        Ok(BlockSink {
            out,
            bytes: HEADER_LEN as u64,
            blocks: 0,
            chain: crc32fast::Hasher::new(),
        })
    }

    fn block(&mut self, kind: u8, payload: &[u8]) -> Result<(), DumpError> {
        if u32::try_from(payload.len()).is_err() {
            // Only a single row of more than 4 GiB could get here.
            let reason = "a dump block would exceed 4 GiB (one row is too large to dump)";
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, reason).into());
        }
        let header = encode_block_header(kind, payload);
        self.out.write_all(&header)?;
        self.out.write_all(payload)?;
        self.chain.update(&header);
        self.blocks += 1;
        self.bytes += (header.len() + payload.len()) as u64;
        Ok(())
    }
}

/// One more than every profile id a row of the dump mentions (0 for an empty dump).
fn profile_id_bound(snapshot: &Snapshot) -> Result<u64, DumpError> {
    let mut bound = snapshot
        .live_rows(TableKind::Profiles)
        .max()
        .map_or(0, |id| u64::from(id) + 1);
    let events = snapshot.live_rows(TableKind::Events);
    if events.is_empty() {
        return Ok(bound);
    }
    for window in windows(events) {
        for value in snapshot.fetch(TableKind::Events, EVENT_PROFILE_COLUMN, &window)? {
            if let Value::Int64(owner) = value {
                let owner = u64::try_from(owner).unwrap_or(0);
                bound = bound.max(owner.saturating_add(1));
            }
        }
    }
    Ok(bound)
}

/// Splits `rows` into ascending windows of at most 65,536 rows.
fn windows(rows: &RoaringBitmap) -> impl Iterator<Item = RoaringBitmap> + '_ {
    let mut iter = rows.iter();
    std::iter::from_fn(move || {
        let window: RoaringBitmap = iter.by_ref().take(MAX_WINDOW_ROWS as usize).collect();
        (!window.is_empty()).then_some(window)
    })
}

/// Rows of the row-id ranges a table is dumped in: chunk-sized (segment chunks hold 65,536
/// rows, and a compacted table's chunk `k` holds rows `k * 65,536 ..`, so each chunk is
/// decoded once), narrower for wide tables so one window's cells stay bounded in memory.
fn window_span(columns: usize) -> u32 {
    let mut span = MAX_WINDOW_ROWS;
    while span > MIN_WINDOW_ROWS && u64::from(span) * columns as u64 > WINDOW_CELLS {
        span /= 2;
    }
    span
}

/// Writes every live row of `table` in row-id order; returns the number of rows.
fn write_rows(
    snapshot: &Snapshot,
    table: TableKind,
    sink: &mut BlockSink<'_>,
) -> Result<u64, DumpError> {
    let (kind, with_ids) = match table {
        TableKind::Profiles => (KIND_PROFILES, true),
        TableKind::Events => (KIND_EVENTS, false),
    };
    let columns = snapshot.schema(table).columns();
    let sources = columns
        .iter()
        .map(|column| ColumnSource::new(snapshot, table, &column.name))
        .collect::<Result<Vec<_>, _>>()?;
    let mut cells: Vec<ColumnCells> = columns.iter().map(|_| ColumnCells::default()).collect();
    let live = snapshot.live_rows(table);
    let (Some(lowest), Some(highest)) = (live.min(), live.max()) else {
        return Ok(0);
    };
    let span = window_span(columns.len());
    let mut block = RowBlock::new();
    let mut total = 0u64;
    let mut window = Vec::new();
    let mut start = u64::from(lowest - lowest % span);
    while start <= u64::from(highest) {
        let end = (start + u64::from(span)).min(1 << 32);
        let range =
            u32::try_from(start).unwrap_or(u32::MAX)..=u32::try_from(end - 1).unwrap_or(u32::MAX);
        start = end;
        let mut window_rows = RoaringBitmap::new();
        window_rows.insert_range(range.clone());
        window_rows &= live;
        if window_rows.is_empty() {
            continue;
        }
        window.clear();
        window.extend(window_rows.iter());
        for (source, column_cells) in sources.iter().zip(&mut cells) {
            source.fill(&window, &window_rows, column_cells)?;
        }
        for (index, &id) in window.iter().enumerate() {
            if with_ids {
                block.body.extend_from_slice(&id.to_le_bytes());
            }
            for column_cells in &cells {
                block.body.extend_from_slice(column_cells.cell(index));
            }
            block.rows += 1;
            total += 1;
            if block.rows == ROWS_PER_BLOCK || block.body_len() >= BLOCK_SOFT_LIMIT_BYTES {
                block.emit(kind, sink)?;
            }
        }
    }
    if block.rows > 0 {
        block.emit(kind, sink)?;
    }
    Ok(total)
}

/// A row block being filled: the payload with room for the row count at its start.
struct RowBlock {
    rows: usize,
    body: Vec<u8>,
}

/// Bytes of the row count that starts a row block's payload.
const COUNT_LEN: usize = 4;

impl RowBlock {
    fn new() -> Self {
        RowBlock {
            rows: 0,
            body: vec![0; COUNT_LEN],
        }
    }

    /// Bytes of the rows so far (the count excluded).
    fn body_len(&self) -> usize {
        self.body.len() - COUNT_LEN
    }

    fn emit(&mut self, kind: u8, sink: &mut BlockSink<'_>) -> Result<(), DumpError> {
        let count = u32::try_from(self.rows).expect("at most ROWS_PER_BLOCK rows");
        self.body[..COUNT_LEN].copy_from_slice(&count.to_le_bytes());
        sink.block(kind, &self.body)?;
        self.rows = 0;
        self.body.truncate(COUNT_LEN);
        Ok(())
    }
}
