//! Changes to table data, as written into WAL records.
//!
//! One WAL record holds one [`Batch`]: the batch is applied whole or not at all, which is how
//! a profile merge or an erasure (several rows in two tables) stays atomic across a crash.
//!
//! A batch may also carry identity-graph changes (kinds 3 and 4): they are encoded before the
//! row mutations, so replay applies them to the graph first, and a message's link record and
//! the rows it wrote commit together.

use crate::identity::{
    decode_record, decode_snapshot, encode_record_into, Identifier, IdentifierType, IdentityConfig,
    IdentityError, IdentityGraph, LinkRecord,
};
use crate::schema::TableKind;
use crate::value::Value;
use crate::wire::{ByteReader, ByteWriter, WireError};

/// Version byte at the start of every encoded batch.
pub const BATCH_FORMAT_VERSION: u8 = 1;

const KIND_UPSERT: u8 = 1;
const KIND_DELETE: u8 = 2;
const KIND_DEFINE_COLUMN: u8 = 5;
/// A link record (`identity::encode_record`), length-prefixed.
const KIND_LINK: u8 = 3;
/// An operator action on the identity graph, length-prefixed.
const KIND_IDENTITY_ACTION: u8 = 4;

const ACTION_REMOVE_LINK: u8 = 1;
const ACTION_BLOCK_VALUE: u8 = 2;
const ACTION_REAPPLY_CONFIG: u8 = 3;

/// An operator action on the identity graph, logged so replay redoes it in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityAction {
    /// `IdentityGraph::remove_link(message_id)`.
    RemoveLink(String),
    /// `IdentityGraph::block_value(identifier)`.
    BlockValue(Identifier),
    /// `IdentityGraph::reapply_config(config)`.
    ReapplyConfig(IdentityConfig),
}

impl IdentityAction {
    /// Applies the action to `graph` (used by WAL replay and by the live path alike).
    ///
    /// # Errors
    /// [`IdentityError::Config`] for an inconsistent configuration.
    pub fn apply(
        &self,
        graph: &mut IdentityGraph,
    ) -> Result<crate::identity::SplitReport, IdentityError> {
        match self {
            IdentityAction::RemoveLink(message_id) => Ok(graph.remove_link(message_id)),
            IdentityAction::BlockValue(identifier) => Ok(graph.block_value(identifier)),
            IdentityAction::ReapplyConfig(config) => graph.reapply_config(config.clone()),
        }
    }
}

/// A change to the identity graph carried by a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityChange {
    /// One resolved message (replayed with `IdentityGraph::replay`).
    Link(LinkRecord),
    /// An operator split or rule change.
    Action(IdentityAction),
}

/// A column name carried by a write.
///
/// Names ProfileDB fixes itself (`type`, `timestamp`, `profile_id`, …) are borrowed, so the
/// millions of event rows that carry them allocate and free nothing for their names; names
/// from user data are owned.
pub type ColumnName = std::borrow::Cow<'static, str>;

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
        values: Vec<(ColumnName, Value)>,
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
    /// Identity-graph changes, applied (on replay) before the row mutations, in order.
    pub identity: Vec<IdentityChange>,
    /// The mutations, applied in order.
    pub mutations: Vec<Mutation>,
}

impl Batch {
    /// About the encoded size: exact for row mutations, a typical size for identity changes.
    /// A batch of a large ingest call is tens of megabytes, which a growing vector would copy
    /// over and over.
    fn encoded_len_estimate(&self) -> usize {
        const IDENTITY_CHANGE_BYTES: usize = 96;
        let mutations: usize = self.mutations.iter().map(mutation_encoded_len).sum();
        5 + self.identity.len() * IDENTITY_CHANGE_BYTES + mutations
    }

    /// Encodes the batch as a WAL payload.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        self.encode_into(&mut bytes);
        bytes
    }

    /// [`Batch::encode`] into `out`, replacing its contents. A writer that keeps one buffer
    /// for every batch spares the allocator a fresh multi-megabyte block per large write,
    /// which it would fault in page by page.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.clear();
        out.reserve(self.encoded_len_estimate());
        let mut w = ByteWriter::from_vec(std::mem::take(out));
        w.u8(BATCH_FORMAT_VERSION);
        let count = self.identity.len() + self.mutations.len();
        w.u32(u32::try_from(count).expect("batch below 4 G mutations"));
        for change in &self.identity {
            encode_identity(&mut w, change);
        }
        for mutation in &self.mutations {
            encode_mutation(&mut w, mutation);
        }
        *out = w.into_bytes();
    }

    /// Decodes a WAL payload written by [`Batch::encode`].
    ///
    /// # Errors
    /// On an unknown version, kind or table, or truncated data.
    pub fn decode(bytes: &[u8]) -> Result<Batch, WireError> {
        Batch::decode_parts(bytes, true)
    }

    /// Decodes only the identity changes at the head of a WAL payload, for a record whose
    /// rows are already in segments: the rest of the payload, often most of it, is skipped.
    ///
    /// # Errors
    /// As [`Batch::decode`], for the part read.
    pub fn decode_identity(bytes: &[u8]) -> Result<Vec<IdentityChange>, WireError> {
        Ok(Batch::decode_parts(bytes, false)?.identity)
    }

    /// Decodes the identity changes, then the row mutations when `rows` is set.
    fn decode_parts(bytes: &[u8], rows: bool) -> Result<Batch, WireError> {
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
        let mut batch = Batch {
            identity: Vec::new(),
            mutations: Vec::with_capacity(count),
        };
        for _ in 0..count {
            match r.u8()? {
                kind @ (KIND_LINK | KIND_IDENTITY_ACTION) => {
                    if !batch.mutations.is_empty() {
                        return Err(r.error("identity change after a row mutation"));
                    }
                    batch.identity.push(decode_identity(&mut r, kind)?);
                }
                _ if !rows => return Ok(batch),
                kind => batch.mutations.push(decode_mutation(&mut r, kind)?),
            }
        }
        if r.remaining() != 0 {
            return Err(r.error("trailing bytes after the last mutation"));
        }
        Ok(batch)
    }
}

/// The exact number of bytes [`encode_mutation`] writes.
fn mutation_encoded_len(mutation: &Mutation) -> usize {
    match mutation {
        Mutation::Upsert { values, .. } => {
            10 + values
                .iter()
                .map(|(name, value)| 4 + name.len() + value_encoded_len(value))
                .sum::<usize>()
        }
        Mutation::Delete { .. } => 6,
        Mutation::DefineColumn { name, .. } => 11 + name.len(),
    }
}

/// The exact number of bytes `ByteWriter::value` writes.
fn value_encoded_len(value: &Value) -> usize {
    match value {
        Value::Null => 1,
        Value::Bool(_) => 2,
        Value::Int64(_) | Value::Float64(_) | Value::Timestamp(_) => 9,
        Value::String(s) => 5 + s.len(),
        Value::StringList(list) => 5 + list.iter().map(|s| 4 + s.len()).sum::<usize>(),
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

fn decode_mutation(r: &mut ByteReader<'_>, kind: u8) -> Result<Mutation, WireError> {
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
                let name = ColumnName::Owned(r.str()?.to_owned());
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

fn encode_identity(w: &mut ByteWriter, change: &IdentityChange) {
    match change {
        IdentityChange::Link(record) => {
            w.u8(KIND_LINK);
            w.length_prefixed(|out| encode_record_into(record, out));
        }
        IdentityChange::Action(action) => {
            w.u8(KIND_IDENTITY_ACTION);
            w.length_prefixed(|out| out.extend_from_slice(&encode_action(action)));
        }
    }
}

fn encode_action(action: &IdentityAction) -> Vec<u8> {
    let mut w = ByteWriter::new();
    match action {
        IdentityAction::RemoveLink(message_id) => {
            w.u8(ACTION_REMOVE_LINK);
            w.str(message_id);
        }
        IdentityAction::BlockValue(identifier) => {
            w.u8(ACTION_BLOCK_VALUE);
            w.str(identifier.kind.name());
            w.str(&identifier.value);
        }
        IdentityAction::ReapplyConfig(config) => {
            // The snapshot of an empty graph is the documented encoding of a configuration.
            let graph = IdentityGraph::new(config.clone()).expect("logged configs are valid");
            w.u8(ACTION_REAPPLY_CONFIG);
            w.raw(&graph.encode_snapshot());
        }
    }
    w.into_bytes()
}

fn decode_identity(r: &mut ByteReader<'_>, kind: u8) -> Result<IdentityChange, WireError> {
    let payload = r.bytes()?;
    if kind == KIND_LINK {
        let record = decode_record(payload).map_err(|_| r.error("corrupt link record"))?;
        return Ok(IdentityChange::Link(record));
    }
    let mut a = ByteReader::new(payload);
    let action = match a.u8()? {
        ACTION_REMOVE_LINK => IdentityAction::RemoveLink(a.str()?.to_owned()),
        ACTION_BLOCK_VALUE => {
            let kind = IdentifierType::from_name(a.str()?);
            IdentityAction::BlockValue(Identifier::new(kind, a.str()?))
        }
        ACTION_REAPPLY_CONFIG => {
            let graph = decode_snapshot(a.take(a.remaining())?)
                .map_err(|_| r.error("corrupt configuration in identity action"))?;
            IdentityAction::ReapplyConfig(graph.config().clone())
        }
        _ => return Err(r.error("unknown identity action")),
    };
    if a.remaining() != 0 {
        return Err(r.error("trailing bytes in identity action"));
    }
    Ok(IdentityChange::Action(action))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Batch {
        Batch {
            identity: vec![
                IdentityChange::Link(LinkRecord {
                    message_id: "m1".into(),
                    timestamp_micros: 5,
                    identifiers: vec![Identifier::user_id("u1")],
                    outcome: crate::identity::LinkOutcome {
                        profile: crate::identity::ProfileId(0),
                        created: true,
                        merged: Vec::new(),
                    },
                }),
                IdentityChange::Action(IdentityAction::RemoveLink("m1".into())),
                IdentityChange::Action(IdentityAction::BlockValue(Identifier::email("a@b.c"))),
                IdentityChange::Action(IdentityAction::ReapplyConfig(
                    IdentityConfig::default().with_custom_type("crm", "crm_id"),
                )),
            ],
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
    fn the_size_estimate_of_row_mutations_is_exact() {
        let rows = Batch {
            identity: Vec::new(),
            mutations: sample().mutations,
        };
        assert_eq!(rows.encoded_len_estimate(), rows.encode().len());
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
    fn the_identity_head_decodes_without_the_rows() {
        let bytes = sample().encode();
        assert_eq!(Batch::decode_identity(&bytes).unwrap(), sample().identity);
        // The rows are not read: damage past the identity changes goes unseen.
        let rows_at = Batch {
            identity: sample().identity,
            mutations: Vec::new(),
        }
        .encode()
        .len();
        let mut damaged = bytes.clone();
        damaged[rows_at + 1] ^= 0xFF;
        assert_eq!(Batch::decode_identity(&damaged).unwrap(), sample().identity);
        assert!(Batch::decode(&damaged).is_err());
        for len in 0..rows_at {
            assert!(
                Batch::decode_identity(&bytes[..len]).is_err(),
                "cut at {len}"
            );
        }
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
