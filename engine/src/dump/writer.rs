//! Writes a snapshot as a dump: header, META, both schemas, rows in row-id order, END.
//!
//! Determinism is the point: the bytes depend only on the snapshot's live content (schemas in
//! schema order, profiles in id order, events in id order but without their ids), so dumping
//! a database restored from a dump reproduces that dump byte for byte.

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
use crate::wire::ByteWriter;
use crate::EVENT_PROFILE_COLUMN;
use roaring::RoaringBitmap;
use std::io::Write;

/// Name and version recorded in the META block.
const CREATOR: &str = concat!("profiledb-engine ", env!("CARGO_PKG_VERSION"));

/// Roughly how many cells one fetch window decodes: segment chunks hold 65,536 rows, so wide
/// windows avoid decoding a chunk once per block, while this cap bounds memory for wide tables.
const WINDOW_CELLS: usize = 1 << 20;

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
    for window in windows(events, 1) {
        for value in snapshot.fetch(TableKind::Events, EVENT_PROFILE_COLUMN, &window)? {
            if let Value::Int64(owner) = value {
                let owner = u64::try_from(owner).unwrap_or(0);
                bound = bound.max(owner.saturating_add(1));
            }
        }
    }
    Ok(bound)
}

/// Splits `rows` into ascending windows sized for `columns` columns.
fn windows(rows: &RoaringBitmap, columns: usize) -> impl Iterator<Item = RoaringBitmap> + '_ {
    let size = (WINDOW_CELLS / columns.max(1)).clamp(ROWS_PER_BLOCK, 65_536);
    let mut iter = rows.iter();
    std::iter::from_fn(move || {
        let window: RoaringBitmap = iter.by_ref().take(size).collect();
        (!window.is_empty()).then_some(window)
    })
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
    let mut block = RowBlock::default();
    let mut total = 0u64;
    for window in windows(snapshot.live_rows(table), columns.len()) {
        let mut fetched = Vec::with_capacity(columns.len());
        for column in columns {
            fetched.push(snapshot.fetch(table, &column.name, &window)?.into_iter());
        }
        let mut row = Vec::with_capacity(columns.len());
        for id in &window {
            row.clear();
            row.extend(fetched.iter_mut().map(|c| c.next().unwrap_or(Value::Null)));
            payload::encode_row(&mut block.body, with_ids.then_some(id), &row);
            block.rows += 1;
            total += 1;
            if block.rows == ROWS_PER_BLOCK || block.body.len() >= BLOCK_SOFT_LIMIT_BYTES {
                block.emit(kind, sink)?;
            }
        }
    }
    if block.rows > 0 {
        block.emit(kind, sink)?;
    }
    Ok(total)
}

/// A row block being filled.
#[derive(Default)]
struct RowBlock {
    rows: usize,
    body: ByteWriter,
}

impl RowBlock {
    fn emit(&mut self, kind: u8, sink: &mut BlockSink<'_>) -> Result<(), DumpError> {
        let body = std::mem::take(&mut self.body).into_bytes();
        let mut payload = Vec::with_capacity(4 + body.len());
        let count = u32::try_from(self.rows).expect("at most ROWS_PER_BLOCK rows");
        payload.extend_from_slice(&count.to_le_bytes());
        payload.extend_from_slice(&body);
        self.rows = 0;
        sink.block(kind, &payload)
    }
}
