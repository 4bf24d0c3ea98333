//! Streaming, validating reader of dump files: everything `verify_dump` checks and
//! `restore_dump` relies on.
//!
//! The reader hands out one block at a time, so memory stays bounded by one block whatever the
//! dump's size; it never allocates from an untrusted length (payloads are read incrementally,
//! so a damaged length runs into the end of the file, not into a huge allocation).

use super::error::DumpError;
use super::format::{
    kind_name, BLOCK_CRC_OFFSET, BLOCK_HEADER_LEN, BLOCK_KIND_OFFSET, BLOCK_LEN_OFFSET,
    FORMAT_VERSION, HEADER_CRC_OFFSET, HEADER_FLAGS_OFFSET, HEADER_LEN, HEADER_MAGIC_OFFSET,
    HEADER_VERSION_OFFSET, KIND_END, KIND_EVENTS, KIND_META, KIND_PROFILES, KIND_SCHEMA, MAGIC,
    ROWS_PER_BLOCK,
};
use super::payload::{self, End, Meta, SchemaBlock};
use super::DumpSummary;
use crate::db::schema_problem;
use crate::schema::{ColumnDef, TableKind};
use crate::value::Value;
use crate::wire::{ByteReader, WireError};
use std::io::{ErrorKind, Read};

/// One validated block.
#[derive(Debug)]
pub enum Item {
    /// The META block.
    Meta,
    /// A SCHEMA block.
    Schema(SchemaBlock),
    /// A PROFILES block, whose rows went to the [`RowSink`].
    Profiles,
    /// An EVENTS block, whose rows went to the [`RowSink`].
    Events,
    /// The END block; the summary of the whole dump.
    End(DumpSummary),
}

/// Receives the rows of row blocks, one at a time, each validated before it is handed over.
///
/// The values live in buffers the reader reuses for the next row; a sink copies what it keeps.
pub trait RowSink {
    /// A profile row: its id and one value per profiles column.
    ///
    /// # Errors
    /// Whatever the sink fails with; reading stops there.
    fn profile(&mut self, id: u32, values: &[Value]) -> Result<(), DumpError>;

    /// An event row: one value per events column (`profile_id` first).
    ///
    /// # Errors
    /// Whatever the sink fails with; reading stops there.
    fn event(&mut self, values: &[Value]) -> Result<(), DumpError>;
}

/// A sink that only lets the reader validate the rows.
pub struct DiscardRows;

impl RowSink for DiscardRows {
    fn profile(&mut self, _id: u32, _values: &[Value]) -> Result<(), DumpError> {
        Ok(())
    }

    fn event(&mut self, _values: &[Value]) -> Result<(), DumpError> {
        Ok(())
    }
}

/// Where the reader is in the fixed block order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Meta,
    ProfilesSchema,
    EventsSchema,
    Profiles,
    Events,
    Done,
}

/// Reads and validates a dump stream block by block.
pub struct DumpReader<'a> {
    input: &'a mut dyn Read,
    offset: u64,
    stage: Stage,
    chain: crc32fast::Hasher,
    blocks: u64,
    meta: Option<Meta>,
    profiles: Vec<ColumnDef>,
    events: Vec<ColumnDef>,
    profile_rows: u64,
    event_rows: u64,
    last_profile: Option<u32>,
    creator: String,
    /// The payload being decoded; kept to reuse its allocation.
    payload: Vec<u8>,
    /// The row being decoded; kept to reuse its string buffers.
    row: Vec<Value>,
}

impl<'a> DumpReader<'a> {
    /// Reads and checks the file header.
    ///
    /// # Errors
    /// [`DumpError::Corrupt`] for a bad magic or checksum, [`DumpError::UnsupportedVersion`],
    /// [`DumpError::Truncated`], or I/O errors.
    pub fn open(input: &'a mut dyn Read) -> Result<Self, DumpError> {
        let mut reader = DumpReader {
            input,
            offset: 0,
            stage: Stage::Meta,
            chain: crc32fast::Hasher::new(),
            blocks: 0,
            meta: None,
            profiles: Vec::new(),
            events: Vec::new(),
            profile_rows: 0,
            event_rows: 0,
            last_profile: None,
            creator: String::new(),
            payload: Vec::new(),
            row: Vec::new(),
        };
        let mut header = [0u8; HEADER_LEN];
        reader.fill(&mut header)?;
        check_header(&header)?;
        Ok(reader)
    }

    /// The schema of `table` (empty until its SCHEMA block was read).
    #[must_use]
    pub fn schema(&self, table: TableKind) -> &[ColumnDef] {
        match table {
            TableKind::Profiles => &self.profiles,
            TableKind::Events => &self.events,
        }
    }

    /// The next block, validated against everything read before it; the rows of a row
    /// block go to `sink`.
    ///
    /// # Errors
    /// Any damage, truncation or I/O error; after the END block, trailing bytes; or an
    /// error of `sink`.
    pub fn next_item(&mut self, sink: &mut dyn RowSink) -> Result<Item, DumpError> {
        if self.stage == Stage::Done {
            return Err(DumpError::corrupt(self.offset, "read past the END block"));
        }
        let start = self.offset;
        let mut header = [0u8; BLOCK_HEADER_LEN];
        self.fill(&mut header)?;
        let kind = header[BLOCK_KIND_OFFSET];
        let len = u32_at(&header, BLOCK_LEN_OFFSET);
        let crc = u32_at(&header, BLOCK_CRC_OFFSET);
        let mut payload = std::mem::take(&mut self.payload);
        self.read_payload(len, &mut payload)?;
        if crc32fast::hash(&payload) != crc {
            return Err(DumpError::corrupt(
                start,
                format!("{} block checksum mismatch", kind_name(kind)),
            ));
        }
        let body = start + BLOCK_HEADER_LEN as u64;
        let item = self.decode(kind, &payload, start, body, sink);
        self.payload = payload;
        let item = item?;
        if kind != KIND_END {
            self.chain.update(&header);
            self.blocks += 1;
        }
        Ok(item)
    }

    fn decode(
        &mut self,
        kind: u8,
        payload: &[u8],
        start: u64,
        body: u64,
        sink: &mut dyn RowSink,
    ) -> Result<Item, DumpError> {
        let at = |e: WireError| DumpError::corrupt(body + e.offset as u64, e.reason);
        match (self.stage, kind) {
            (Stage::Meta, KIND_META) => {
                let meta = payload::decode_meta(payload).map_err(at)?;
                if meta.profile_id_bound > 1 << 32 {
                    return Err(DumpError::corrupt(body, "profile id bound exceeds 2^32"));
                }
                self.creator.clone_from(&meta.creator);
                self.meta = Some(meta);
                self.stage = Stage::ProfilesSchema;
                Ok(Item::Meta)
            }
            (Stage::ProfilesSchema | Stage::EventsSchema, KIND_SCHEMA) => {
                let schema = payload::decode_schema(payload).map_err(at)?;
                self.accept_schema(&schema, body)?;
                Ok(Item::Schema(schema))
            }
            (Stage::Profiles, KIND_PROFILES) => {
                self.decode_rows(payload, TableKind::Profiles, body, sink)?;
                Ok(Item::Profiles)
            }
            (Stage::Profiles | Stage::Events, KIND_EVENTS) => {
                self.stage = Stage::Events;
                self.decode_rows(payload, TableKind::Events, body, sink)?;
                Ok(Item::Events)
            }
            (Stage::Profiles | Stage::Events, KIND_END) => {
                let end = payload::decode_end(payload).map_err(at)?;
                self.accept_end(&end, body)?;
                self.stage = Stage::Done;
                self.expect_eof()?;
                Ok(Item::End(self.summary()))
            }
            (stage, kind) => Err(DumpError::corrupt(
                start,
                format!(
                    "unexpected {} block (kind {kind}) where {} was expected",
                    kind_name(kind),
                    expected(stage)
                ),
            )),
        }
    }

    fn accept_schema(&mut self, schema: &SchemaBlock, body: u64) -> Result<(), DumpError> {
        let expected_table = if self.stage == Stage::ProfilesSchema {
            TableKind::Profiles
        } else {
            TableKind::Events
        };
        if schema.table != expected_table {
            return Err(DumpError::corrupt(
                body,
                format!(
                    "SCHEMA block for {} where {expected_table} was expected",
                    schema.table
                ),
            ));
        }
        check_columns(schema, body)?;
        match expected_table {
            TableKind::Profiles => {
                self.profiles.clone_from(&schema.columns);
                self.stage = Stage::EventsSchema;
            }
            TableKind::Events => {
                self.events.clone_from(&schema.columns);
                self.stage = Stage::Profiles;
            }
        }
        Ok(())
    }

    /// Decodes, validates and hands over the rows of a PROFILES or EVENTS payload.
    fn decode_rows(
        &mut self,
        payload: &[u8],
        table: TableKind,
        body: u64,
        sink: &mut dyn RowSink,
    ) -> Result<(), DumpError> {
        let at = |e: WireError| DumpError::corrupt(body + e.offset as u64, e.reason);
        let mut r = ByteReader::new(payload);
        let count = payload::read_row_count(&mut r, ROWS_PER_BLOCK).map_err(at)?;
        let mut row = std::mem::take(&mut self.row);
        row.resize(self.schema(table).len(), Value::Null);
        let outcome = (0..count).try_for_each(|_| {
            let id = match table {
                TableKind::Profiles => Some(r.u32().map_err(at)?),
                TableKind::Events => None,
            };
            for slot in &mut row {
                payload::read_value_into(&mut r, slot).map_err(at)?;
            }
            check_types(self.schema(table), &row, body)?;
            match id {
                Some(id) => {
                    self.accept_profile(id, body)?;
                    sink.profile(id, &row)
                }
                None => {
                    self.accept_event(&row, body)?;
                    sink.event(&row)
                }
            }
        });
        self.row = row;
        outcome?;
        payload::finish(&r).map_err(at)
    }

    fn bound(&self) -> u64 {
        self.meta.as_ref().map_or(0, |m| m.profile_id_bound)
    }

    fn accept_profile(&mut self, id: u32, body: u64) -> Result<(), DumpError> {
        if self.last_profile.is_some_and(|last| id <= last) {
            return Err(DumpError::corrupt(
                body,
                "profile ids are not strictly increasing",
            ));
        }
        if u64::from(id) >= self.bound() {
            return Err(DumpError::corrupt(
                body,
                "profile id at or above the META bound",
            ));
        }
        self.last_profile = Some(id);
        self.profile_rows += 1;
        Ok(())
    }

    fn accept_event(&mut self, values: &[Value], body: u64) -> Result<(), DumpError> {
        let owner = match values.first() {
            Some(Value::Int64(p)) => u64::try_from(*p).ok(),
            _ => None,
        };
        if owner.is_none_or(|p| p >= self.bound()) {
            return Err(DumpError::corrupt(
                body,
                "event without a valid profile_id (missing, negative or above the META bound)",
            ));
        }
        self.event_rows += 1;
        Ok(())
    }

    fn accept_end(&mut self, end: &End, body: u64) -> Result<(), DumpError> {
        let chain = self.chain.clone().finalize();
        let problem = if end.profiles != self.profile_rows {
            Some(format!(
                "END counts {} profiles, the dump holds {}",
                end.profiles, self.profile_rows
            ))
        } else if end.events != self.event_rows {
            Some(format!(
                "END counts {} events, the dump holds {}",
                end.events, self.event_rows
            ))
        } else if end.blocks != self.blocks {
            Some(format!(
                "END counts {} blocks, the dump holds {}",
                end.blocks, self.blocks
            ))
        } else if end.chain_crc != chain {
            Some("END chain checksum does not match the block headers".to_owned())
        } else {
            None
        };
        problem.map_or(Ok(()), |reason| Err(DumpError::corrupt(body, reason)))
    }

    fn summary(&self) -> DumpSummary {
        DumpSummary {
            format_version: FORMAT_VERSION,
            creator: self.creator.clone(),
            profiles: self.profile_rows,
            events: self.event_rows,
            profile_columns: self.profiles.len(),
            event_columns: self.events.len(),
            blocks: self.blocks + 1,
            bytes: self.offset,
        }
    }

    /// Reads exactly `buf.len()` bytes, or reports where the data ended.
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), DumpError> {
        let mut got = 0;
        while got < buf.len() {
            match self.input.read(&mut buf[got..]) {
                Ok(0) => {
                    return Err(DumpError::Truncated {
                        offset: self.offset + got as u64,
                    })
                }
                Ok(n) => got += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        self.offset += got as u64;
        Ok(())
    }

    /// Reads a payload of `len` bytes into `payload`, growing it only as bytes actually
    /// arrive (a damaged length runs into the end of the file, not into a huge allocation).
    fn read_payload(&mut self, len: u32, payload: &mut Vec<u8>) -> Result<(), DumpError> {
        payload.clear();
        let got = (&mut self.input)
            .take(u64::from(len))
            .read_to_end(payload)?;
        self.offset += got as u64;
        if got < len as usize {
            return Err(DumpError::Truncated {
                offset: self.offset,
            });
        }
        Ok(())
    }

    fn expect_eof(&mut self) -> Result<(), DumpError> {
        let mut probe = [0u8; 1];
        loop {
            match self.input.read(&mut probe) {
                Ok(0) => return Ok(()),
                Ok(_) => {
                    return Err(DumpError::corrupt(
                        self.offset,
                        "trailing bytes after the END block",
                    ))
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
}

fn expected(stage: Stage) -> &'static str {
    match stage {
        Stage::Meta => "META",
        Stage::ProfilesSchema | Stage::EventsSchema => "SCHEMA",
        Stage::Profiles => "PROFILES, EVENTS or END",
        Stage::Events => "EVENTS or END",
        Stage::Done => "end of file",
    }
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    let mut raw = [0u8; 4];
    raw.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(raw)
}

fn check_header(header: &[u8; HEADER_LEN]) -> Result<(), DumpError> {
    if header[HEADER_MAGIC_OFFSET..HEADER_VERSION_OFFSET] != MAGIC {
        return Err(DumpError::corrupt(0, "not a ProfileDB dump (bad magic)"));
    }
    let version = u16::from_le_bytes([
        header[HEADER_VERSION_OFFSET],
        header[HEADER_VERSION_OFFSET + 1],
    ]);
    if version != FORMAT_VERSION {
        return Err(DumpError::UnsupportedVersion {
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    if crc32fast::hash(&header[..HEADER_CRC_OFFSET]) != u32_at(header, HEADER_CRC_OFFSET) {
        return Err(DumpError::corrupt(
            HEADER_CRC_OFFSET as u64,
            "file header checksum mismatch",
        ));
    }
    if header[HEADER_FLAGS_OFFSET..HEADER_CRC_OFFSET] != [0, 0] {
        return Err(DumpError::corrupt(
            HEADER_FLAGS_OFFSET as u64,
            "unknown header flags",
        ));
    }
    Ok(())
}

/// Column names must be ones the engine accepts, so restore cannot fail half-way on them.
fn check_columns(schema: &SchemaBlock, body: u64) -> Result<(), DumpError> {
    match schema_problem(schema.table, &schema.columns) {
        Some((index, reason)) => Err(DumpError::corrupt(
            body,
            format!("{reason} ({:?})", schema.columns[index].name),
        )),
        None => Ok(()),
    }
}

fn check_types(columns: &[ColumnDef], values: &[Value], body: u64) -> Result<(), DumpError> {
    for (column, value) in columns.iter().zip(values) {
        if value.column_type().is_some_and(|t| t != column.column_type) {
            return Err(DumpError::corrupt(
                body,
                format!(
                    "a value of column `{}` is not {}",
                    column.name, column.column_type
                ),
            ));
        }
    }
    Ok(())
}
