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
use rustc_hash::FxHashMap;

/// Version byte at the start of every batch this build writes. Version 2 upserts name each
/// column by its index in a table of names at the batch's end: spelling names in every cell
/// made them about a third of the log. Version 1 batches (names spelled) are still read.
pub const BATCH_FORMAT_VERSION: u8 = 2;

/// The first batch format, whose upserts spell every column name.
const BATCH_FORMAT_SPELLED_NAMES: u8 = 1;

/// Bytes the size estimate allows for a batch's table of names.
const NAME_TABLE_ALLOWANCE: usize = 256;

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
        9 + self.identity.len() * IDENTITY_CHANGE_BYTES + mutations + NAME_TABLE_ALLOWANCE
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
        let names_at_field = w.len();
        w.u32(0);
        let count = self.identity.len() + self.mutations.len();
        w.u32(u32::try_from(count).expect("batch below 4 G mutations"));
        for change in &self.identity {
            encode_identity(&mut w, change);
        }
        let mut names = ColumnNames::default();
        for mutation in &self.mutations {
            encode_mutation(&mut w, mutation, &mut names);
        }
        let names_at = u32::try_from(w.len()).expect("batch below 4 GiB");
        w.set_u32_at(names_at_field, names_at);
        names.write(&mut w);
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
        let (mut r, names) = match r.u8()? {
            BATCH_FORMAT_SPELLED_NAMES => (r, None),
            BATCH_FORMAT_VERSION => {
                let names_at = r.u32()? as usize;
                // The table holds at least its count, after at least the mutation count.
                let table_fits = names_at
                    .checked_add(4)
                    .is_some_and(|end| end <= bytes.len());
                if names_at < r.position() + 4 || !table_fits {
                    return Err(WireError {
                        offset: 1,
                        reason: "name table offset outside the batch",
                    });
                }
                let names = if rows {
                    decode_names(bytes, names_at)?
                } else {
                    Vec::new()
                };
                // The mutations end where the table starts.
                let mutations = ByteReader::starting_at(&bytes[..names_at], r.position());
                (mutations, Some(names))
            }
            _ => {
                return Err(WireError {
                    offset: 0,
                    reason: "unknown batch format version",
                })
            }
        };
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
                kind => batch
                    .mutations
                    .push(decode_mutation(&mut r, kind, names.as_deref())?),
            }
        }
        if r.remaining() != 0 {
            return Err(r.error("trailing bytes after the last mutation"));
        }
        Ok(batch)
    }
}

/// About the number of bytes [`encode_mutation`] writes: exact, but for the column indexes,
/// taken as two bytes (they are one below 128 names).
fn mutation_encoded_len(mutation: &Mutation) -> usize {
    match mutation {
        Mutation::Upsert { values, .. } => {
            10 + values
                .iter()
                .map(|(_, value)| 2 + value_encoded_len(value))
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

fn encode_mutation<'a>(w: &mut ByteWriter, mutation: &'a Mutation, names: &mut ColumnNames<'a>) {
    match mutation {
        Mutation::Upsert { table, row, values } => {
            w.u8(KIND_UPSERT);
            w.u8(table.tag());
            w.u32(*row);
            w.u32(u32::try_from(values.len()).expect("below 4 G columns"));
            for (position, (name, value)) in values.iter().enumerate() {
                w.var_u32(names.index_of(*table, position, name));
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

/// Decodes one row mutation; `names` is the batch's table of names (`None` in a version 1
/// batch, whose cells spell their names).
fn decode_mutation(
    r: &mut ByteReader<'_>,
    kind: u8,
    names: Option<&[&str]>,
) -> Result<Mutation, WireError> {
    let table = TableKind::from_tag(r.u8()?).ok_or_else(|| r.error("unknown table tag"))?;
    let row = r.u32()?;
    match kind {
        KIND_UPSERT => {
            let count = r.u32()? as usize;
            // A cell takes at least its name (a 4-byte length, or a 1-byte index) and a tag.
            let least_cell = if names.is_some() { 2 } else { 5 };
            if count > r.remaining() / least_cell {
                return Err(r.error("column count exceeds the data"));
            }
            let mut values = Vec::with_capacity(count);
            for _ in 0..count {
                let name = match names {
                    None => r.str()?,
                    Some(names) => {
                        let at = r.position();
                        let index = r.var_u32()? as usize;
                        names.get(index).copied().ok_or(WireError {
                            offset: at,
                            reason: "column index past the batch's name table",
                        })?
                    }
                };
                values.push((ColumnName::Owned(name.to_owned()), r.value()?));
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

/// The column names of a batch being encoded, each with the index its cells write.
#[derive(Default)]
struct ColumnNames<'a> {
    indexes: FxHashMap<&'a str, u32>,
    names: Vec<&'a str>,
    /// Per table, the index each cell position named in the last upsert: rows of one kind
    /// list their columns in one order, so most cells are matched by one comparison.
    last_at_position: [Vec<u32>; 2],
}

impl<'a> ColumnNames<'a> {
    /// The index of `name`, the column at `position` of an upsert of `table`.
    fn index_of(&mut self, table: TableKind, position: usize, name: &'a str) -> u32 {
        let hints = &mut self.last_at_position[usize::from(table == TableKind::Events)];
        if let Some(&hinted) = hints.get(position) {
            if self.names[hinted as usize] == name {
                return hinted;
            }
        }
        let next = u32::try_from(self.names.len()).expect("below 4 G column names");
        let index = *self.indexes.entry(name).or_insert(next);
        if index == next {
            self.names.push(name);
        }
        match hints.get_mut(position) {
            Some(hint) => *hint = index,
            None => hints.push(index),
        }
        index
    }

    /// Writes the table of names: their count, then each name in index order.
    fn write(&self, w: &mut ByteWriter) {
        w.u32(u32::try_from(self.names.len()).expect("below 4 G column names"));
        for name in &self.names {
            w.str(name);
        }
    }
}

/// Reads the table of names of a version 2 batch, which starts at `names_at` and runs to the
/// end of `bytes`.
fn decode_names(bytes: &[u8], names_at: usize) -> Result<Vec<&str>, WireError> {
    let mut r = ByteReader::starting_at(bytes, names_at);
    let count = r.u32()? as usize;
    // Every name takes at least its 4-byte length: bounds the allocation.
    if count > r.remaining() / 4 {
        return Err(r.error("name count exceeds the data"));
    }
    let names = (0..count).map(|_| r.str()).collect::<Result<Vec<_>, _>>()?;
    if r.remaining() != 0 {
        return Err(r.error("trailing bytes after the name table"));
    }
    Ok(names)
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

    /// `rows` profiles upserted with the same three columns.
    fn repeated_columns(rows: u32) -> Batch {
        Batch {
            identity: Vec::new(),
            mutations: (0..rows)
                .map(|row| Mutation::Upsert {
                    table: TableKind::Profiles,
                    row,
                    values: vec![
                        ("email".into(), Value::String(format!("{row}@example.com"))),
                        ("lifetime_value".into(), Value::Float64(f64::from(row))),
                        ("plan".into(), Value::Null),
                    ],
                })
                .collect(),
        }
    }

    /// `batch` in the first format, whose cells spell their column names.
    fn spelled_names_encoding(batch: &Batch) -> Vec<u8> {
        let mut w = ByteWriter::new();
        w.u8(BATCH_FORMAT_SPELLED_NAMES);
        w.u32(u32::try_from(batch.identity.len() + batch.mutations.len()).unwrap());
        for change in &batch.identity {
            encode_identity(&mut w, change);
        }
        for mutation in &batch.mutations {
            match mutation {
                Mutation::Upsert { table, row, values } => {
                    w.u8(KIND_UPSERT);
                    w.u8(table.tag());
                    w.u32(*row);
                    w.u32(u32::try_from(values.len()).unwrap());
                    for (name, value) in values {
                        w.str(name);
                        w.value(value);
                    }
                }
                other => encode_mutation(&mut w, other, &mut ColumnNames::default()),
            }
        }
        w.into_bytes()
    }

    #[test]
    fn the_size_estimate_covers_the_encoding() {
        for rows in [sample(), repeated_columns(1), repeated_columns(1_000)] {
            let rows = Batch {
                identity: Vec::new(),
                mutations: rows.mutations,
            };
            let estimate = rows.encoded_len_estimate();
            let encoded = rows.encode().len();
            assert!(estimate >= encoded, "{estimate} < {encoded}");
            assert!(estimate <= encoded + 2 * NAME_TABLE_ALLOWANCE + rows.mutations.len() * 3);
        }
    }

    #[test]
    fn each_column_name_is_written_once_per_batch() {
        let batch = repeated_columns(1_000);
        let encoded = batch.encode();
        let count = |needle: &[u8]| {
            encoded
                .windows(needle.len())
                .filter(|w| *w == needle)
                .count()
        };
        assert_eq!(count(b"lifetime_value"), 1);
        assert_eq!(count(b"plan"), 1);
        assert!(encoded.len() * 10 < spelled_names_encoding(&batch).len() * 7);
        assert_eq!(Batch::decode(&encoded).unwrap(), batch);
    }

    #[test]
    fn batches_with_spelled_names_are_still_read() {
        for batch in [sample(), repeated_columns(50), Batch::default()] {
            let old = spelled_names_encoding(&batch);
            assert_eq!(Batch::decode(&old).unwrap(), batch);
            assert_eq!(Batch::decode_identity(&old).unwrap(), batch.identity);
            for len in 0..old.len() {
                assert!(Batch::decode(&old[..len]).is_err(), "cut at {len}");
            }
        }
    }

    #[test]
    fn a_column_index_past_the_name_table_is_an_error_naming_its_offset() {
        let batch = repeated_columns(1);
        let mut bytes = batch.encode();
        // version, table offset, count, then the upsert: kind, table, row, cell count.
        let first_index_at = 1 + 4 + 4 + 1 + 1 + 4 + 4;
        assert_eq!(bytes[first_index_at], 0);
        bytes[first_index_at] = 3;
        let error = Batch::decode(&bytes).unwrap_err();
        assert_eq!(error.offset, first_index_at);
        assert_eq!(error.reason, "column index past the batch's name table");
    }

    #[test]
    fn a_name_table_offset_outside_the_batch_is_an_error() {
        let mut bytes = repeated_columns(2).encode();
        for names_at in [0u32, 5, u32::try_from(bytes.len()).unwrap(), u32::MAX] {
            bytes[1..5].copy_from_slice(&names_at.to_le_bytes());
            assert!(Batch::decode(&bytes).is_err(), "{names_at}");
            assert!(Batch::decode_identity(&bytes).is_err(), "{names_at}");
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
    fn the_identity_head_decodes_without_the_rows() {
        let bytes = sample().encode();
        assert_eq!(Batch::decode_identity(&bytes).unwrap(), sample().identity);
        // The rows are not read: damage past the identity changes goes unseen.
        let rows_at = Batch {
            identity: sample().identity,
            mutations: Vec::new(),
        }
        .encode()
        .len()
            - 4; // the empty name table at its end
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
