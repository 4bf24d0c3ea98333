//! Changes to table data, as written into WAL records.
//!
//! One WAL record holds one [`Batch`]: the batch is applied whole or not at all, which is how
//! a profile merge or an erasure (several rows in two tables) stays atomic across a crash.

use crate::schema::TableKind;
use crate::value::Value;
use crate::wire::{ByteReader, ByteWriter, WireError};

/// Version byte at the start of every encoded batch.
pub const BATCH_FORMAT_VERSION: u8 = 1;

const KIND_UPSERT: u8 = 1;
const KIND_DELETE: u8 = 2;
const KIND_DEFINE_COLUMN: u8 = 5;

/// One change to one row.
#[derive(Debug, Clone, PartialEq)]
pub enum Mutation {
    /// Sets the named columns of a row (creating the row if new); other columns keep their values.
    Upsert {
        /// The table written.
        table: TableKind,
        /// The row id (profile id for profiles, event id for events).
        row: u32,
        /// Column values, already fitted to the schema.
        values: Vec<(String, Value)>,
    },
    /// Removes a row; its values are physically dropped by the next compaction.
    Delete {
        /// The table written.
        table: TableKind,
        /// The row id.
        row: u32,
    },
    /// Adds a column with a declared type before any value is written to it.
    DefineColumn {
        /// The table.
        table: TableKind,
        /// The column name.
        name: String,
        /// Its type.
        column_type: crate::value::ColumnType,
    },
}

impl Mutation {
    /// The table this mutation changes.
    #[must_use]
    pub fn table(&self) -> TableKind {
        match self {
            Mutation::Upsert { table, .. }
            | Mutation::Delete { table, .. }
            | Mutation::DefineColumn { table, .. } => *table,
        }
    }
}

/// Mutations committed together, atomically.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Batch {
    /// The mutations, applied in order.
    pub mutations: Vec<Mutation>,
}

impl Batch {
    /// Encodes the batch as a WAL payload.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut w = ByteWriter::new();
        w.u8(BATCH_FORMAT_VERSION);
        w.u32(u32::try_from(self.mutations.len()).expect("batch below 4 G mutations"));
        for mutation in &self.mutations {
            encode_mutation(&mut w, mutation);
        }
        w.into_bytes()
    }

    /// Decodes a WAL payload written by [`Batch::encode`].
    ///
    /// # Errors
    /// On an unknown version, kind or table, or truncated data.
    pub fn decode(bytes: &[u8]) -> Result<Batch, WireError> {
        let mut r = ByteReader::new(bytes);
        if r.u8()? != BATCH_FORMAT_VERSION {
            return Err(WireError {
                offset: 0,
                reason: "unknown batch format version",
            });
        }
        let count = r.u32()? as usize;
        // Every mutation takes at least 6 bytes: bounds the allocation on corrupt counts.
        if count > r.remaining() / 6 {
            return Err(r.error("mutation count exceeds the data"));
        }
        let mut mutations = Vec::with_capacity(count);
        for _ in 0..count {
            mutations.push(decode_mutation(&mut r)?);
        }
        if r.remaining() != 0 {
            return Err(r.error("trailing bytes after the last mutation"));
        }
        Ok(Batch { mutations })
    }
}

fn encode_mutation(w: &mut ByteWriter, mutation: &Mutation) {
    match mutation {
        Mutation::Upsert { table, row, values } => {
            w.u8(KIND_UPSERT);
            w.u8(table.tag());
            w.u32(*row);
            w.u32(u32::try_from(values.len()).expect("below 4 G columns"));
            for (name, value) in values {
                w.str(name);
                w.value(value);
            }
        }
        Mutation::Delete { table, row } => {
            w.u8(KIND_DELETE);
            w.u8(table.tag());
            w.u32(*row);
        }
        Mutation::DefineColumn {
            table,
            name,
            column_type,
        } => {
            w.u8(KIND_DEFINE_COLUMN);
            w.u8(table.tag());
            w.u32(0);
            w.str(name);
            w.u8(column_type.tag());
        }
    }
}

fn decode_mutation(r: &mut ByteReader<'_>) -> Result<Mutation, WireError> {
    let kind = r.u8()?;
    let table = TableKind::from_tag(r.u8()?).ok_or_else(|| r.error("unknown table tag"))?;
    let row = r.u32()?;
    match kind {
        KIND_UPSERT => {
            let count = r.u32()? as usize;
            if count > r.remaining() / 5 {
                return Err(r.error("column count exceeds the data"));
            }
            let mut values = Vec::with_capacity(count);
            for _ in 0..count {
                let name = r.str()?.to_owned();
                values.push((name, r.value()?));
            }
            Ok(Mutation::Upsert { table, row, values })
        }
        KIND_DELETE => Ok(Mutation::Delete { table, row }),
        KIND_DEFINE_COLUMN => {
            let name = r.str()?.to_owned();
            let column_type = crate::value::ColumnType::from_tag(r.u8()?)
                .ok_or_else(|| r.error("unknown column type tag"))?;
            Ok(Mutation::DefineColumn {
                table,
                name,
                column_type,
            })
        }
        _ => Err(r.error("unknown mutation kind")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Batch {
        Batch {
            mutations: vec![
                Mutation::Upsert {
                    table: TableKind::Profiles,
                    row: 7,
                    values: vec![
                        ("email".into(), Value::String("a@example.com".into())),
                        ("ltv".into(), Value::Float64(10.5)),
                        ("plan".into(), Value::Null),
                    ],
                },
                Mutation::Delete {
                    table: TableKind::Events,
                    row: u32::MAX,
                },
                Mutation::DefineColumn {
                    table: TableKind::Profiles,
                    name: "tags".into(),
                    column_type: crate::value::ColumnType::StringList,
                },
            ],
        }
    }

    #[test]
    fn batch_round_trips() {
        assert_eq!(Batch::decode(&sample().encode()).unwrap(), sample());
        assert_eq!(
            Batch::decode(&Batch::default().encode()).unwrap(),
            Batch::default()
        );
    }

    #[test]
    fn damaged_batches_are_rejected() {
        let bytes = sample().encode();
        for len in 0..bytes.len() {
            assert!(Batch::decode(&bytes[..len]).is_err());
        }
        let mut extra = bytes.clone();
        extra.push(0);
        assert!(Batch::decode(&extra).is_err());
        let mut bad_version = bytes;
        bad_version[0] = 9;
        assert!(Batch::decode(&bad_version).is_err());
    }
}
