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
use super::payload::{self, End, Meta, Row, SchemaBlock};
use super::DumpSummary;
use crate::schema::{ColumnDef, TableKind};
use crate::value::{ColumnType, Value};
use crate::wire::WireError;
use crate::{EVENT_PROFILE_COLUMN, MAX_COLUMN_NAME_BYTES};
use std::collections::HashSet;
use std::io::{ErrorKind, Read};

/// One validated block.
#[derive(Debug)]
pub enum Item {
    /// The META block.
    Meta(Meta),
    /// A SCHEMA block.
    Schema(SchemaBlock),
    /// A PROFILES block: `(profile id, values in schema order)`.
    Profiles(Vec<(u32, Vec<Value>)>),
    /// An EVENTS block: values in schema order (`profile_id` first).
    Events(Vec<Vec<Value>>),
    /// The END block; the summary of the whole dump.
    End(DumpSummary),
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

    /// Bytes consumed so far.
    #[must_use]
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The next block, validated against everything read before it.
    ///
    /// # Errors
    /// Any damage, truncation or I/O error; after the END block, trailing bytes.
    pub fn next_item(&mut self) -> Result<Item, DumpError> {
        if self.stage == Stage::Done {
            return Err(DumpError::corrupt(self.offset, "read past the END block"));
        }
        let start = self.offset;
        let mut header = [0u8; BLOCK_HEADER_LEN];
        self.fill(&mut header)?;
        let kind = header[BLOCK_KIND_OFFSET];
        let len = u32_at(&header, BLOCK_LEN_OFFSET);
        let crc = u32_at(&header, BLOCK_CRC_OFFSET);
        let payload = self.read_payload(len)?;
        if crc32fast::hash(&payload) != crc {
            return Err(DumpError::corrupt(
                start,
                format!("{} block checksum mismatch", kind_name(kind)),
            ));
        }
        let body = start + BLOCK_HEADER_LEN as u64;
        let item = self.decode(kind, &payload, start, body)?;
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
    ) -> Result<Item, DumpError> {
        let at = |e: WireError| DumpError::corrupt(body + e.offset as u64, e.reason);
        match (self.stage, kind) {
            (Stage::Meta, KIND_META) => {
                let meta = payload::decode_meta(payload).map_err(at)?;
                if meta.profile_id_bound > 1 << 32 {
                    return Err(DumpError::corrupt(body, "profile id bound exceeds 2^32"));
                }
                self.creator.clone_from(&meta.creator);
                self.meta = Some(meta.clone());
                self.stage = Stage::ProfilesSchema;
                Ok(Item::Meta(meta))
            }
            (Stage::ProfilesSchema | Stage::EventsSchema, KIND_SCHEMA) => {
                let schema = payload::decode_schema(payload).map_err(at)?;
                self.accept_schema(&schema, body)?;
                Ok(Item::Schema(schema))
            }
            (Stage::Profiles, KIND_PROFILES) => {
                let rows = self.decode_rows(payload, TableKind::Profiles, body)?;
                self.accept_profiles(rows, body).map(Item::Profiles)
            }
            (Stage::Profiles | Stage::Events, KIND_EVENTS) => {
                self.stage = Stage::Events;
                let rows = self.decode_rows(payload, TableKind::Events, body)?;
                self.accept_events(rows, body).map(Item::Events)
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

    fn decode_rows(
        &self,
        payload: &[u8],
        table: TableKind,
        body: u64,
    ) -> Result<Vec<Row>, DumpError> {
        let columns = self.schema(table).len();
        let with_ids = table == TableKind::Profiles;
        let rows = payload::decode_rows(payload, with_ids, columns, ROWS_PER_BLOCK)
            .map_err(|e| DumpError::corrupt(body + e.offset as u64, e.reason))?;
        for (_, values) in &rows {
            check_types(self.schema(table), values, body)?;
        }
        Ok(rows)
    }

    fn bound(&self) -> u64 {
        self.meta.as_ref().map_or(0, |m| m.profile_id_bound)
    }

    fn accept_profiles(
        &mut self,
        rows: Vec<Row>,
        body: u64,
    ) -> Result<Vec<(u32, Vec<Value>)>, DumpError> {
        let mut out = Vec::with_capacity(rows.len());
        for (id, values) in rows {
            let id = id.ok_or_else(|| DumpError::corrupt(body, "profile row without an id"))?;
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
            out.push((id, values));
        }
        self.profile_rows += out.len() as u64;
        Ok(out)
    }

    fn accept_events(&mut self, rows: Vec<Row>, body: u64) -> Result<Vec<Vec<Value>>, DumpError> {
        let mut out = Vec::with_capacity(rows.len());
        for (_, values) in rows {
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
            out.push(values);
        }
        self.event_rows += out.len() as u64;
        Ok(out)
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

    /// Reads a payload of `len` bytes, growing the buffer only as bytes actually arrive.
    fn read_payload(&mut self, len: u32) -> Result<Vec<u8>, DumpError> {
        let mut payload = Vec::new();
        let got = (&mut self.input)
            .take(u64::from(len))
            .read_to_end(&mut payload)?;
        self.offset += got as u64;
        if got < len as usize {
            return Err(DumpError::Truncated {
                offset: self.offset,
            });
        }
        Ok(payload)
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
    let mut seen = HashSet::new();
    for (index, column) in schema.columns.iter().enumerate() {
        let is_owner = schema.table == TableKind::Events && index == 0;
        let reason = if column.name.is_empty() || column.name.len() > MAX_COLUMN_NAME_BYTES {
            Some("a column name is empty or too long")
        } else if !seen.insert(column.name.as_str()) {
            Some("a column is listed twice")
        } else if is_owner
            && (column.name != EVENT_PROFILE_COLUMN || column.column_type != ColumnType::Int64)
        {
            Some("the events schema must start with the int64 column `profile_id`")
        } else if !is_owner && column.name == EVENT_PROFILE_COLUMN {
            Some("`profile_id` may only be the first events column")
        } else {
            None
        };
        if let Some(reason) = reason {
            return Err(DumpError::corrupt(
                body,
                format!("{reason} ({:?})", column.name),
            ));
        }
    }
    Ok(())
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
