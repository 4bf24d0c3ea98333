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
    /// the events' `profile_id` values); every such id is below it.
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

/// Reads the row count that starts a PROFILES or EVENTS payload.
///
/// # Errors
/// Truncation, or a count of zero or above `max_rows`.
pub fn read_row_count(r: &mut ByteReader<'_>, max_rows: usize) -> Result<usize, WireError> {
    let count = r.u32()? as usize;
    if count == 0 || count > max_rows {
        return Err(WireError {
            offset: 0,
            reason: "row count of the block is zero or above the per-block limit",
        });
    }
    Ok(count)
}

/// Reads one value written by [`ByteWriter::value`] into `slot`, reusing the string and list
/// buffers `slot` already holds: restoring millions of rows then allocates almost nothing.
///
/// # Errors
/// An unknown type tag, a bad bool byte, bad UTF-8 or truncation.
pub fn read_value_into(r: &mut ByteReader<'_>, slot: &mut Value) -> Result<(), WireError> {
    let tag_offset = r.position();
    let tag = r.u8()?;
    if tag == 0 {
        *slot = Value::Null;
        return Ok(());
    }
    let column_type = ColumnType::from_tag(tag).ok_or(WireError {
        offset: tag_offset,
        reason: "unknown value type tag",
    })?;
    match column_type {
        ColumnType::Bool => {
            *slot = match r.u8()? {
                0 => Value::Bool(false),
                1 => Value::Bool(true),
                _ => return Err(r.error("bool byte is neither 0 nor 1")),
            }
        }
        ColumnType::Int64 => *slot = Value::Int64(r.i64()?),
        ColumnType::Float64 => *slot = Value::Float64(f64::from_bits(r.u64()?)),
        ColumnType::Timestamp => *slot = Value::Timestamp(r.i64()?),
        ColumnType::String => {
            let text = r.str()?;
            match slot {
                Value::String(buffer) => {
                    buffer.clear();
                    buffer.push_str(text);
                }
                _ => *slot = Value::String(text.to_owned()),
            }
        }
        ColumnType::StringList => read_list_into(r, slot)?,
    }
    Ok(())
}

fn read_list_into(r: &mut ByteReader<'_>, slot: &mut Value) -> Result<(), WireError> {
    let count = r.u32()? as usize;
    // Each item needs at least its 4-byte length: bounds the allocation.
    if count > r.remaining() / 4 {
        return Err(r.error("list length exceeds the data"));
    }
    if !matches!(slot, Value::StringList(_)) {
        *slot = Value::StringList(Vec::with_capacity(count));
    }
    let Value::StringList(items) = slot else {
        unreachable!("the slot was made a list just above");
    };
    items.truncate(count);
    for index in 0..count {
        let text = r.str()?;
        match items.get_mut(index) {
            Some(item) => {
                item.clear();
                item.push_str(text);
            }
            None => items.push(text.to_owned()),
        }
    }
    Ok(())
}

/// Checks that nothing follows the decoded content of a payload.
///
/// # Errors
/// When bytes remain.
pub fn finish(r: &ByteReader<'_>) -> Result<(), WireError> {
    if r.remaining() == 0 {
        Ok(())
    } else {
        Err(r.error("trailing bytes after the block's content"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ByteWriter;

    fn encoded(values: &[Value]) -> Vec<u8> {
        let mut w = ByteWriter::new();
        for value in values {
            w.value(value);
        }
        w.into_bytes()
    }

    fn samples() -> Vec<Value> {
        vec![
            Value::StringList(vec!["long enough to reuse".into(), "b".into()]),
            Value::String("Zürich 東京".into()),
            Value::Null,
            Value::Bool(true),
            Value::Int64(i64::MIN),
            Value::Float64(-0.0),
            Value::Timestamp(1_700_000_000_000_000),
            Value::String(String::new()),
            Value::StringList(vec!["x".into()]),
            Value::StringList(Vec::new()),
        ]
    }

    /// Reading into reused slots gives what `ByteReader::value` gives, whatever a slot held.
    #[test]
    fn reading_into_slots_matches_the_plain_decoder() {
        let values = samples();
        let bytes = encoded(&values);
        let mut slot = Value::Null;
        let mut plain = ByteReader::new(&bytes);
        let mut reused = ByteReader::new(&bytes);
        for _ in &values {
            read_value_into(&mut reused, &mut slot).unwrap();
            assert_eq!(format!("{slot:?}"), format!("{:?}", plain.value().unwrap()));
        }
        assert_eq!(reused.remaining(), 0);
    }

    #[test]
    fn every_truncation_and_bad_tag_is_an_error() {
        let values = samples();
        let bytes = encoded(&values);
        for len in 0..bytes.len() {
            let mut r = ByteReader::new(&bytes[..len]);
            let mut slot = Value::String("stale".into());
            let outcome: Result<Vec<()>, _> = values
                .iter()
                .map(|_| read_value_into(&mut r, &mut slot))
                .collect();
            assert!(outcome.is_err(), "prefix of {len} bytes decoded");
        }
        let mut slot = Value::Null;
        assert!(read_value_into(&mut ByteReader::new(&[9]), &mut slot).is_err());
        assert!(read_value_into(&mut ByteReader::new(&[1, 2]), &mut slot).is_err());
    }
}
