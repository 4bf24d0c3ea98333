//! The manifest: which segment files are live, how far the WAL is flushed, and the schemas.
//!
//! It is replaced atomically: written to `MANIFEST.tmp`, synced, renamed over `MANIFEST`, and
//! the directory synced. A crash at any step leaves either the old or the new manifest.

use crate::error::{Error, Result};
use crate::io::Storage;
use crate::schema::{TableKind, TableSchema};
use crate::value::ColumnType;
use crate::wire::{ByteReader, ByteWriter, WireError};
use std::path::Path;

/// File name of the manifest.
pub const MANIFEST_FILE: &str = "MANIFEST";
/// Temporary name the next manifest is written under.
pub const MANIFEST_TEMP_FILE: &str = "MANIFEST.tmp";
/// Magic bytes at offset 0.
pub const MAGIC: [u8; 8] = *b"PRFDBMAN";
/// Offset of the format version (u16).
pub const VERSION_OFFSET: usize = 8;
/// Offset of the body length (u32).
pub const BODY_LEN_OFFSET: usize = 12;
/// Offset of the body.
pub const BODY_OFFSET: usize = 16;
/// Format version this build writes: 2 added `identity_lsn`.
pub const FORMAT_VERSION: u16 = 2;
/// Oldest format version this build reads.
pub const OLDEST_SUPPORTED_VERSION: u16 = 1;

/// A live segment as the manifest lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentEntry {
    /// Segment id (its file name is derived from it).
    pub id: u64,
    /// The table it belongs to.
    pub table: TableKind,
}

/// The durable description of a database's files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    /// Every WAL record up to this sequence number is in the listed segments.
    pub flushed_lsn: u64,
    /// The id the next segment will get.
    pub next_segment_id: u64,
    /// The id the next appended event will get.
    pub next_event_row: u32,
    /// Live segments, oldest first.
    pub segments: Vec<SegmentEntry>,
    /// Column lists of the profiles table.
    pub profiles_schema: TableSchema,
    /// Column lists of the events table.
    pub events_schema: TableSchema,
    /// Name part of the live identity-graph snapshot file (`identity-<n:020>.snap`, the graph
    /// as of WAL record `n`); 0 = no snapshot (the empty graph).
    pub identity_snapshot: u64,
    /// The snapshot's graph is the graph as of this record: records from `identity_snapshot`
    /// to here changed nothing in it. Opening replays the identity changes of every later
    /// record, so the WAL is kept from here on even where `flushed_lsn` is past it. Never
    /// below `identity_snapshot` nor above `flushed_lsn`.
    pub identity_lsn: u64,
}

/// File name of the identity-graph snapshot numbered `n` (see [`Manifest::identity_snapshot`]).
#[must_use]
pub fn identity_snapshot_file(n: u64) -> String {
    format!("identity-{n:020}.snap")
}

/// The number of an identity-graph snapshot file name, if `name` is one.
#[must_use]
pub fn parse_identity_snapshot_file(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("identity-")?.strip_suffix(".snap")?;
    if digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit()) {
        digits.parse().ok()
    } else {
        None
    }
}

impl Manifest {
    /// The schema of `table`.
    #[must_use]
    pub fn schema(&self, table: TableKind) -> &TableSchema {
        match table {
            TableKind::Profiles => &self.profiles_schema,
            TableKind::Events => &self.events_schema,
        }
    }

    /// Encodes the manifest file.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut body = ByteWriter::new();
        body.u64(self.flushed_lsn);
        body.u64(self.next_segment_id);
        body.u32(self.next_event_row);
        body.u32(u32::try_from(self.segments.len()).expect("below 4 G segments"));
        for entry in &self.segments {
            body.u64(entry.id);
            body.u8(entry.table.tag());
        }
        for table in TableKind::ALL {
            encode_schema(&mut body, self.schema(table));
        }
        body.u64(self.identity_snapshot);
        body.u64(self.identity_lsn);
        let body = body.into_bytes();
        let mut w = ByteWriter::new();
        w.raw(&MAGIC);
        w.u16(FORMAT_VERSION);
        w.u16(0);
        w.u32(u32::try_from(body.len()).expect("manifest below 4 GiB"));
        w.raw(&body);
        let mut bytes = w.into_bytes();
        let crc = crc32fast::hash(&bytes);
        bytes.extend_from_slice(&crc.to_le_bytes());
        bytes
    }

    /// Decodes a manifest file's bytes (`file` names it in errors).
    ///
    /// # Errors
    /// [`Error::Corrupt`] or [`Error::UnsupportedVersion`].
    pub fn decode(file: &Path, bytes: &[u8]) -> Result<Manifest> {
        let corrupt = |offset: usize, reason: &str| Error::corrupt(file, offset as u64, reason);
        if bytes.len() < BODY_OFFSET + 4 {
            return Err(corrupt(0, "manifest is truncated"));
        }
        if bytes[..VERSION_OFFSET] != MAGIC {
            return Err(corrupt(0, "not a ProfileDB manifest (bad magic)"));
        }
        let crc_offset = bytes.len() - 4;
        let stored = u32::from_le_bytes(bytes[crc_offset..].try_into().expect("4 bytes"));
        if crc32fast::hash(&bytes[..crc_offset]) != stored {
            return Err(corrupt(crc_offset, "manifest checksum mismatch"));
        }
        let version = u16::from_le_bytes(
            bytes[VERSION_OFFSET..VERSION_OFFSET + 2]
                .try_into()
                .expect("2 bytes"),
        );
        if !(OLDEST_SUPPORTED_VERSION..=FORMAT_VERSION).contains(&version) {
            return Err(Error::UnsupportedVersion {
                file: file.to_path_buf(),
                found: version,
                oldest: OLDEST_SUPPORTED_VERSION,
                newest: FORMAT_VERSION,
            });
        }
        let body_len = u32::from_le_bytes(
            bytes[BODY_LEN_OFFSET..BODY_OFFSET]
                .try_into()
                .expect("4 bytes"),
        ) as usize;
        if BODY_OFFSET + body_len != crc_offset {
            return Err(corrupt(
                BODY_LEN_OFFSET,
                "manifest body length disagrees with the file size",
            ));
        }
        decode_body(&bytes[BODY_OFFSET..crc_offset], version)
            .map_err(|e| corrupt(BODY_OFFSET + e.offset, e.reason))
    }

    /// Reads the manifest of `dir`, or `None` when the directory has none.
    ///
    /// # Errors
    /// I/O errors or a damaged manifest.
    pub fn load(storage: &dyn Storage, dir: &Path) -> Result<Option<Manifest>> {
        let path = dir.join(MANIFEST_FILE);
        match storage.read(&path) {
            Ok(bytes) => Manifest::decode(&path, &bytes).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io("read manifest", path)(e)),
        }
    }

    /// Atomically replaces the manifest of `dir` with this one.
    ///
    /// # Errors
    /// I/O errors; the previous manifest then stays in force.
    pub fn store(&self, storage: &dyn Storage, dir: &Path) -> Result<()> {
        let temp = dir.join(MANIFEST_TEMP_FILE);
        let path = dir.join(MANIFEST_FILE);
        let mut file = storage
            .create(&temp)
            .map_err(Error::io("create manifest", &temp))?;
        file.append(&self.encode())
            .map_err(Error::io("write manifest", &temp))?;
        file.sync_data()
            .map_err(Error::io("sync manifest", &temp))?;
        drop(file);
        storage
            .rename(&temp, &path)
            .map_err(Error::io("rename manifest", &temp))?;
        storage
            .sync_dir(dir)
            .map_err(Error::io("sync directory", dir))
    }
}

fn encode_schema(w: &mut ByteWriter, schema: &TableSchema) {
    w.u32(u32::try_from(schema.columns().len()).expect("below 4 G columns"));
    for column in schema.columns() {
        w.str(&column.name);
        w.u8(column.column_type.tag());
    }
}

fn decode_body(body: &[u8], version: u16) -> Result<Manifest, WireError> {
    let mut r = ByteReader::new(body);
    let flushed_lsn = r.u64()?;
    let next_segment_id = r.u64()?;
    let next_event_row = r.u32()?;
    let count = r.u32()? as usize;
    if count > r.remaining() / 9 {
        return Err(r.error("segment count exceeds the manifest"));
    }
    let mut segments = Vec::with_capacity(count);
    for _ in 0..count {
        let id = r.u64()?;
        let table = TableKind::from_tag(r.u8()?).ok_or_else(|| r.error("unknown table tag"))?;
        segments.push(SegmentEntry { id, table });
    }
    let profiles_schema = decode_schema(&mut r)?;
    let events_schema = decode_schema(&mut r)?;
    let identity_snapshot = r.u64()?;
    // Version 1 wrote a snapshot at every flush, so its graph was always as of `flushed_lsn`.
    let identity_lsn = if version >= 2 { r.u64()? } else { flushed_lsn };
    if identity_lsn < identity_snapshot || identity_lsn > flushed_lsn {
        return Err(r.error("identity_lsn outside identity_snapshot..=flushed_lsn"));
    }
    if r.remaining() != 0 {
        return Err(r.error("trailing bytes in the manifest body"));
    }
    Ok(Manifest {
        flushed_lsn,
        next_segment_id,
        next_event_row,
        segments,
        profiles_schema,
        events_schema,
        identity_snapshot,
        identity_lsn,
    })
}

fn decode_schema(r: &mut ByteReader<'_>) -> Result<TableSchema, WireError> {
    let count = r.u32()? as usize;
    let mut schema = TableSchema::default();
    for _ in 0..count {
        let name = r.str()?.to_owned();
        let column_type =
            ColumnType::from_tag(r.u8()?).ok_or_else(|| r.error("unknown column type tag"))?;
        if schema.column(&name).is_some() {
            return Err(r.error("column listed twice"));
        }
        schema.add_column(&name, column_type);
    }
    Ok(schema)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Manifest {
        let mut manifest = Manifest {
            flushed_lsn: 42,
            next_segment_id: 7,
            next_event_row: 1000,
            segments: vec![
                SegmentEntry {
                    id: 3,
                    table: TableKind::Profiles,
                },
                SegmentEntry {
                    id: 6,
                    table: TableKind::Events,
                },
            ],
            identity_snapshot: 40,
            identity_lsn: 41,
            ..Manifest::default()
        };
        manifest
            .profiles_schema
            .add_column("email", ColumnType::String);
        manifest
            .events_schema
            .add_column("timestamp", ColumnType::Timestamp);
        manifest
    }

    #[test]
    fn manifest_round_trips() {
        let bytes = sample().encode();
        assert_eq!(Manifest::decode(Path::new("M"), &bytes).unwrap(), sample());
    }

    #[test]
    fn any_flipped_byte_or_truncation_is_detected() {
        let bytes = sample().encode();
        for i in 0..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[i] ^= 0x40;
            assert!(
                Manifest::decode(Path::new("M"), &damaged).is_err(),
                "flip at {i}"
            );
        }
        for len in 0..bytes.len() {
            assert!(Manifest::decode(Path::new("M"), &bytes[..len]).is_err());
        }
    }

    /// `manifest` encoded in format version 1, which ended the body at `identity_snapshot`.
    fn encode_version_1(manifest: &Manifest) -> Vec<u8> {
        let bytes = manifest.encode();
        let body_end = bytes.len() - 4 - 8;
        let mut old = bytes[..body_end].to_vec();
        old[VERSION_OFFSET..VERSION_OFFSET + 2].copy_from_slice(&1u16.to_le_bytes());
        let body_len = u32::try_from(body_end - BODY_OFFSET).unwrap();
        old[BODY_LEN_OFFSET..BODY_OFFSET].copy_from_slice(&body_len.to_le_bytes());
        let crc = crc32fast::hash(&old);
        old.extend_from_slice(&crc.to_le_bytes());
        old
    }

    #[test]
    fn a_version_1_manifest_reads_with_its_graph_as_of_the_flushed_lsn() {
        let mut written = sample();
        written.identity_snapshot = 42;
        let read = Manifest::decode(Path::new("M"), &encode_version_1(&written)).unwrap();
        assert_eq!(read.identity_lsn, 42);
        assert_eq!(read.identity_snapshot, 42);
        assert_eq!(read.segments, written.segments);
    }

    #[test]
    fn an_identity_lsn_outside_the_snapshot_and_the_flushed_lsn_is_corrupt() {
        for (snapshot, identity_lsn) in [(40, 39), (40, 43)] {
            let mut manifest = sample();
            manifest.identity_snapshot = snapshot;
            manifest.identity_lsn = identity_lsn;
            let error = Manifest::decode(Path::new("M"), &manifest.encode()).unwrap_err();
            assert!(error.to_string().contains("identity_lsn"), "{error}");
        }
    }
}
