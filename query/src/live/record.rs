//! The segment log's record payload (framed, checksummed and numbered by the engine's WAL).
//!
//! ```text
//! record  = version:u8 (=1) db_lsn:u64 clock:i64 first_sequence:u64 op_count:u32 op*
//! op      = 1 name:str sql:str                       define or replace a segment
//!         | 2 name:str                               drop a segment
//!         | 3 name:str at:i64 entered:bits exited:bits   membership changes
//! str     = len:u32 utf8-bytes        bits = len:u32 roaring-portable-bytes
//! ```
//! All integers little-endian. Change sequence numbers are implicit: the changes of a record
//! are numbered from `first_sequence` on, op by op, entered profiles (ascending) before exited
//! ones (ascending).

use profiledb_engine::wire::{ByteReader, ByteWriter};
use roaring::RoaringBitmap;

/// Format version of a record.
const VERSION: u8 = 1;
const OP_DEFINE: u8 = 1;
const OP_DROP: u8 = 2;
const OP_CHANGES: u8 = 3;

/// One change to the live segments' state.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Op {
    /// A segment is defined (or redefined) by `sql`.
    Define {
        /// Segment name.
        name: String,
        /// Defining SELECT.
        sql: String,
    },
    /// A segment is removed (its members' exits come in a `Changes` op before).
    Drop {
        /// Segment name.
        name: String,
    },
    /// Profiles entered and left a segment at `at`.
    Changes {
        /// Segment name.
        name: String,
        /// When, in microseconds since the epoch.
        at: i64,
        /// Profiles that entered.
        entered: RoaringBitmap,
        /// Profiles that left.
        exited: RoaringBitmap,
    },
}

/// One segment-log record: ops applied together, after database LSN `db_lsn`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Record {
    /// The database LSN the membership reflects.
    pub db_lsn: u64,
    /// The live clock after the record.
    pub clock: i64,
    /// Sequence number of the record's first change.
    pub first_sequence: u64,
    /// What changed.
    pub ops: Vec<Op>,
}

impl Record {
    /// The payload bytes.
    pub(crate) fn encode(&self) -> Result<Vec<u8>, String> {
        let mut w = ByteWriter::new();
        w.u8(VERSION);
        w.u64(self.db_lsn);
        w.i64(self.clock);
        w.u64(self.first_sequence);
        w.u32(u32::try_from(self.ops.len()).map_err(|_| "too many ops in one record")?);
        for op in &self.ops {
            encode_op(&mut w, op)?;
        }
        Ok(w.into_bytes())
    }

    /// Parses a payload; never panics on bad bytes.
    pub(crate) fn decode(bytes: &[u8]) -> Result<Record, String> {
        let mut r = ByteReader::new(bytes);
        let version = r.u8().map_err(|e| e.to_string())?;
        if version != VERSION {
            return Err(format!("unknown record version {version}"));
        }
        let db_lsn = r.u64().map_err(|e| e.to_string())?;
        let clock = r.i64().map_err(|e| e.to_string())?;
        let first_sequence = r.u64().map_err(|e| e.to_string())?;
        let count = r.u32().map_err(|e| e.to_string())?;
        let mut ops = Vec::new();
        for _ in 0..count {
            ops.push(decode_op(&mut r)?);
        }
        if r.remaining() != 0 {
            return Err(format!(
                "{} unexpected bytes after the last op",
                r.remaining()
            ));
        }
        Ok(Record {
            db_lsn,
            clock,
            first_sequence,
            ops,
        })
    }

    /// Number of changes the record carries.
    #[cfg(test)]
    pub(crate) fn change_count(&self) -> u64 {
        self.ops
            .iter()
            .map(|op| match op {
                Op::Changes {
                    entered, exited, ..
                } => entered.len() + exited.len(),
                _ => 0,
            })
            .sum()
    }
}

fn encode_op(w: &mut ByteWriter, op: &Op) -> Result<(), String> {
    match op {
        Op::Define { name, sql } => {
            w.u8(OP_DEFINE);
            w.str(name);
            w.str(sql);
        }
        Op::Drop { name } => {
            w.u8(OP_DROP);
            w.str(name);
        }
        Op::Changes {
            name,
            at,
            entered,
            exited,
        } => {
            w.u8(OP_CHANGES);
            w.str(name);
            w.i64(*at);
            w.bytes(&bitmap_bytes(entered)?);
            w.bytes(&bitmap_bytes(exited)?);
        }
    }
    Ok(())
}

fn decode_op(r: &mut ByteReader<'_>) -> Result<Op, String> {
    let text = |r: &mut ByteReader<'_>| r.str().map(str::to_owned).map_err(|e| e.to_string());
    match r.u8().map_err(|e| e.to_string())? {
        OP_DEFINE => Ok(Op::Define {
            name: text(r)?,
            sql: text(r)?,
        }),
        OP_DROP => Ok(Op::Drop { name: text(r)? }),
        OP_CHANGES => {
            let name = text(r)?;
            let at = r.i64().map_err(|e| e.to_string())?;
            let entered = read_bitmap(r)?;
            let exited = read_bitmap(r)?;
            Ok(Op::Changes {
                name,
                at,
                entered,
                exited,
            })
        }
        other => Err(format!("unknown op tag {other}")),
    }
}

fn bitmap_bytes(bitmap: &RoaringBitmap) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::with_capacity(bitmap.serialized_size());
    bitmap
        .serialize_into(&mut bytes)
        .map_err(|e| format!("cannot serialize bitmap: {e}"))?;
    Ok(bytes)
}

fn read_bitmap(r: &mut ByteReader<'_>) -> Result<RoaringBitmap, String> {
    let bytes = r.bytes().map_err(|e| e.to_string())?;
    // `deserialize_from` validates the portable format, so bad bytes are an error, not a panic.
    RoaringBitmap::deserialize_from(bytes).map_err(|e| format!("bad bitmap: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_reject_garbage() {
        let record = Record {
            db_lsn: 7,
            clock: -5,
            first_sequence: 11,
            ops: vec![
                Op::Define {
                    name: "vip".into(),
                    sql: "SELECT profile_id FROM profiles".into(),
                },
                Op::Changes {
                    name: "vip".into(),
                    at: 3,
                    entered: [1u32, 5, 900_000].into_iter().collect(),
                    exited: RoaringBitmap::new(),
                },
                Op::Drop { name: "old".into() },
            ],
        };
        let bytes = record.encode().unwrap();
        assert_eq!(Record::decode(&bytes).unwrap(), record);
        assert_eq!(record.change_count(), 3);
        for cut in 0..bytes.len() {
            assert!(Record::decode(&bytes[..cut]).is_err());
        }
        let mut flipped = bytes.clone();
        for i in 0..flipped.len() {
            flipped[i] ^= 0xff;
            let _ = Record::decode(&flipped);
            flipped[i] ^= 0xff;
        }
    }
}
