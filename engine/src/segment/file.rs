//! A segment file being written: header first, then chunks as they are produced, then footer
//! and trailer, then one sync and the rename to its final name.
//!
//! Shared by the column-at-a-time [`SegmentWriter`](super::SegmentWriter) and the
//! row-at-a-time [`SegmentBuilder`](super::SegmentBuilder), which differ only in how they
//! produce chunks.

use super::layout::{file_name, temp_file_name, HEADER_LEN};
use super::writer::{encode_footer, encode_header, encode_trailer, ChunkLocation, WrittenColumn};
use crate::error::{Error, Result};
use crate::io::{Storage, WritableFile};
use crate::schema::TableKind;
use roaring::RoaringBitmap;
use std::path::{Path, PathBuf};

/// An open segment file under its temporary name, and where the next byte goes.
pub(super) struct SegmentFile {
    file: Box<dyn WritableFile>,
    dir: PathBuf,
    id: u64,
    temp_path: PathBuf,
    offset: u64,
}

impl SegmentFile {
    /// Creates the temporary file of segment `id` of `table` in `dir` and writes its header.
    pub(super) fn create(
        storage: &dyn Storage,
        dir: &Path,
        id: u64,
        table: TableKind,
    ) -> Result<Self> {
        let temp_path = dir.join(temp_file_name(id));
        let mut file = storage
            .create(&temp_path)
            .map_err(Error::io("create segment", &temp_path))?;
        file.append(&encode_header(table, id))
            .map_err(Error::io("write segment", &temp_path))?;
        Ok(SegmentFile {
            file,
            dir: dir.to_path_buf(),
            id,
            temp_path,
            offset: HEADER_LEN as u64,
        })
    }

    /// The segment's id.
    pub(super) fn id(&self) -> u64 {
        self.id
    }

    /// The file's temporary path, which errors name until it is renamed.
    pub(super) fn temp_path(&self) -> &Path {
        &self.temp_path
    }

    /// Bytes written so far.
    pub(super) fn offset(&self) -> u64 {
        self.offset
    }

    /// Appends one encoded chunk and returns where it went.
    pub(super) fn append_chunk(&mut self, bytes: &[u8]) -> Result<ChunkLocation> {
        let location = ChunkLocation {
            offset: self.offset,
            len: u32::try_from(bytes.len()).expect("a chunk of 65,536 rows stays below 4 GiB"),
        };
        self.append(bytes)?;
        Ok(location)
    }

    fn append(&mut self, bytes: &[u8]) -> Result<()> {
        self.file
            .append(bytes)
            .map_err(Error::io("write segment", &self.temp_path))?;
        self.offset += bytes.len() as u64;
        Ok(())
    }

    /// Writes footer and trailer, syncs the file and renames it to its final name; the caller
    /// syncs the directory. Returns the final path and the file's size.
    pub(super) fn finish(
        &mut self,
        storage: &dyn Storage,
        rows: &mut RoaringBitmap,
        deleted: &mut RoaringBitmap,
        max_lsn: u64,
        columns: &mut [WrittenColumn],
    ) -> Result<(PathBuf, u64)> {
        let footer_offset = self.offset;
        let footer = encode_footer(rows, deleted, max_lsn, columns);
        self.append(&footer)?;
        self.append(&encode_trailer(footer_offset, &footer))?;
        self.file
            .sync_data()
            .map_err(Error::io("sync segment", &self.temp_path))?;
        let final_path = self.dir.join(file_name(self.id));
        storage
            .rename(&self.temp_path, &final_path)
            .map_err(Error::io("rename segment", &self.temp_path))?;
        Ok((final_path, self.offset))
    }
}
