//! Encoding and decoding of block payloads (everything after a block's 9-byte header).
//!
//! Decoders only check what a payload says about itself (lengths, tags, UTF-8, trailing
//! bytes); rules that span blocks (order, row ids, counts) live in the reader.

use crate::schema::{ColumnDef, TableKind};
use crate::value::{ColumnType, Value};
use crate::wire::{ByteReader, ByteWriter, WireError};

/// META block: who wrote the dump, and what restore needs before the rows arrive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    /// Name and version of the software that wrote the dump.
    pub creator: String,
    /// One more than the largest profile id any row of the dump mentions (profile row ids and
    /// the events' `profile_id` values); restore may use ids from here on as scratch rows.
    pub profile_id_bound: u64,
}

/// SCHEMA block: the columns of one table, in schema order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaBlock {
    /// The table.
    pub table: TableKind,
    /// Its columns, in the order the database lists them.
    pub columns: Vec<ColumnDef>,
}

/// END block: totals, so a dump cut at a block boundary is still detected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct End {
    /// Profile rows in the dump.
    pub profiles: u64,
    /// Event rows in the dump.
    pub events: u64,
    /// Blocks before the END block.
    pub blocks: u64,
    /// crc32 over the 9-byte headers of every block before END, in file order.
    pub chain_crc: u32,
}

/// Encodes a META payload.
#[must_use]
pub fn encode_meta(meta: &Meta) -> Vec<u8> {
    let mut w = ByteWriter::new();
    w.str(&meta.creator);
    w.u64(meta.profile_id_bound);
    w.into_bytes()
}

/// Decodes a META payload.
///
/// # Errors
/// Truncation, bad UTF-8 or trailing bytes.
pub fn decode_meta(payload: &[u8]) -> Result<Meta, WireError> {
    let mut r = ByteReader::new(payload);
    let creator = r.str()?.to_owned();
    let profile_id_bound = r.u64()?;
    finish(&r)?;
    Ok(Meta {
        creator,
        profile_id_bound,
    })
}

/// Encodes a SCHEMA payload.
///
/// # Panics
/// With 4 G columns or more, which no table has.
#[must_use]
pub fn encode_schema(table: TableKind, columns: &[ColumnDef]) -> Vec<u8> {
    let mut w = ByteWriter::new();
    w.u8(table.tag());
    w.u32(u32::try_from(columns.len()).expect("below 4 G columns"));
    for column in columns {
        w.str(&column.name);
        w.u8(column.column_type.tag());
    }
    w.into_bytes()
}

/// Decodes a SCHEMA payload.
///
/// # Errors
/// Unknown tags, truncation or trailing bytes.
pub fn decode_schema(payload: &[u8]) -> Result<SchemaBlock, WireError> {
    let mut r = ByteReader::new(payload);
    let table = TableKind::from_tag(r.u8()?).ok_or(WireError {
        offset: 0,
        reason: "unknown table tag",
    })?;
    let count = r.u32()? as usize;
    // Each column needs at least a 4-byte name length and a type tag: bounds the allocation.
    if count > r.remaining() / 5 {
        return Err(r.error("column count exceeds the block"));
    }
    let mut columns = Vec::with_capacity(count);
    for _ in 0..count {
        let name = r.str()?.to_owned();
        let tag_offset = r.position();
        let column_type = ColumnType::from_tag(r.u8()?).ok_or(WireError {
            offset: tag_offset,
            reason: "unknown column type tag",
        })?;
        columns.push(ColumnDef { name, column_type });
    }
    finish(&r)?;
    Ok(SchemaBlock { table, columns })
}

/// Encodes an END payload.
#[must_use]
pub fn encode_end(end: &End) -> Vec<u8> {
    let mut w = ByteWriter::new();
    w.u64(end.profiles);
    w.u64(end.events);
    w.u64(end.blocks);
    w.u32(end.chain_crc);
    w.into_bytes()
}

/// Decodes an END payload.
///
/// # Errors
/// Truncation or trailing bytes.
pub fn decode_end(payload: &[u8]) -> Result<End, WireError> {
    let mut r = ByteReader::new(payload);
    let end = End {
        profiles: r.u64()?,
        events: r.u64()?,
        blocks: r.u64()?,
        chain_crc: r.u32()?,
    };
    finish(&r)?;
    Ok(end)
}

/// Appends one row to a row block being built: the row id (profiles only), then one value
/// per schema column.
pub fn encode_row(w: &mut ByteWriter, row_id: Option<u32>, values: &[Value]) {
    if let Some(id) = row_id {
        w.u32(id);
    }
    for value in values {
        w.value(value);
    }
}

/// One decoded row: its id (profiles only) and one value per schema column.
pub type Row = (Option<u32>, Vec<Value>);

/// Decodes a PROFILES or EVENTS payload: a u32 row count, then the rows.
///
/// # Errors
/// Truncation, bad values, a zero or oversized row count, or trailing bytes.
pub fn decode_rows(
    payload: &[u8],
    with_ids: bool,
    columns: usize,
    max_rows: usize,
) -> Result<Vec<Row>, WireError> {
    let mut r = ByteReader::new(payload);
    let count = r.u32()? as usize;
    if count == 0 || count > max_rows {
        return Err(WireError {
            offset: 0,
            reason: "row count of the block is zero or above the per-block limit",
        });
    }
    let mut rows = Vec::with_capacity(count);
    for _ in 0..count {
        let id = if with_ids { Some(r.u32()?) } else { None };
        let mut values = Vec::with_capacity(columns.min(r.remaining()));
        for _ in 0..columns {
            values.push(r.value()?);
        }
        rows.push((id, values));
    }
    finish(&r)?;
    Ok(rows)
}

fn finish(r: &ByteReader<'_>) -> Result<(), WireError> {
    if r.remaining() == 0 {
        Ok(())
    } else {
        Err(r.error("trailing bytes after the block's content"))
    }
}
