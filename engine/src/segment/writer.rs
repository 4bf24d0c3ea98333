//! Writes a segment file: header, column chunks as they are produced, footer, trailer.
//!
//! The file is written under a temporary name, synced, then renamed into place and the
//! directory synced: a segment either exists whole under its final name or not at all.

use super::file::SegmentFile;
use super::layout::{
    FORMAT_VERSION, HEADER_CRC_OFFSET, HEADER_LEN, HEADER_MAGIC, ROWS_PER_CHUNK, TRAILER_LEN,
    TRAILER_MAGIC,
};
use crate::codec::ChunkBuilder;
use crate::error::{Error, Result};
use crate::io::Storage;
use crate::schema::TableKind;
use crate::value::{ColumnType, Value};
use crate::wire::ByteWriter;
use roaring::RoaringBitmap;
use std::path::{Path, PathBuf};

/// Where one chunk sits in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkLocation {
    /// Byte offset of the chunk in the file.
    pub offset: u64,
    /// Length of the chunk in bytes.
    pub len: u32,
}

/// A column's footer entry.
pub(super) struct WrittenColumn {
    pub(super) name: String,
    pub(super) column_type: ColumnType,
    pub(super) present: RoaringBitmap,
    pub(super) chunks: Vec<ChunkLocation>,
}

/// Streams one segment file to disk.
pub struct SegmentWriter<'a> {
    storage: &'a dyn Storage,
    dir: PathBuf,
    file: SegmentFile,
    rows: RoaringBitmap,
    deleted: RoaringBitmap,
    columns: Vec<WrittenColumn>,
}

impl<'a> SegmentWriter<'a> {
    /// Starts segment `id` of `table` in `dir`, holding `rows` (with data) and `deleted` rows.
    ///
    /// # Errors
    /// I/O errors creating the file.
    pub fn create(
        storage: &'a dyn Storage,
        dir: &Path,
        id: u64,
        table: TableKind,
        rows: RoaringBitmap,
        deleted: RoaringBitmap,
    ) -> Result<Self> {
        Ok(SegmentWriter {
            storage,
            dir: dir.to_path_buf(),
            file: SegmentFile::create(storage, dir, id, table)?,
            rows,
            deleted,
            columns: Vec::new(),
        })
    }

    /// The rows this segment holds, in the order column values must be given.
    #[must_use]
    pub fn rows(&self) -> &RoaringBitmap {
        &self.rows
    }

    /// Writes one column: one value per segment row, in row order (NULL where the row has
    /// none); `present` marks the rows this segment sets for the column.
    ///
    /// # Errors
    /// I/O errors, or a value whose type differs from `column_type`.
    pub fn write_column<V: std::borrow::Borrow<Value>>(
        &mut self,
        name: &str,
        column_type: ColumnType,
        present: RoaringBitmap,
        values: impl IntoIterator<Item = V>,
    ) -> Result<()> {
        let mut chunks = Vec::new();
        let mut builder = ChunkBuilder::new(column_type);
        let mut written: u64 = 0;
        for value in values {
            let value = value.borrow();
            // Values arrive fitted to the column; converting (and copying) is the rare case.
            let pushed = if value.column_type().is_some_and(|t| t != column_type) {
                builder.push(&value.clone().coerce_to(column_type, name)?)
            } else {
                builder.push(value)
            };
            pushed.map_err(|e| {
                Error::corrupt(self.file.temp_path(), self.file.offset(), e.to_string())
            })?;
            written += 1;
            if builder.len() == ROWS_PER_CHUNK {
                let full = std::mem::replace(&mut builder, ChunkBuilder::new(column_type));
                chunks.push(self.file.append_chunk(&full.finish())?);
            }
        }
        if !builder.is_empty() {
            chunks.push(self.file.append_chunk(&builder.finish())?);
        }
        assert_eq!(
            written,
            self.rows.len(),
            "column `{name}` must give one value per row"
        );
        self.columns.push(WrittenColumn {
            name: name.to_owned(),
            column_type,
            present,
            chunks,
        });
        Ok(())
    }

    /// Writes footer and trailer, syncs, and renames the file to its final name.
    /// Returns the final path and the file's size.
    ///
    /// # Errors
    /// I/O errors; the temporary file is then left for the next open to remove.
    pub fn finish(mut self, max_lsn: u64) -> Result<(PathBuf, u64)> {
        let (final_path, size) = self.file.finish(
            self.storage,
            &mut self.rows,
            &mut self.deleted,
            max_lsn,
            &mut self.columns,
        )?;
        self.storage
            .sync_dir(&self.dir)
            .map_err(Error::io("sync directory", &self.dir))?;
        Ok((final_path, size))
    }
}

/// The footer body: row bitmaps, the highest LSN, and the column directory.
pub(super) fn encode_footer(
    rows: &mut RoaringBitmap,
    deleted: &mut RoaringBitmap,
    max_lsn: u64,
    columns: &mut [WrittenColumn],
) -> Vec<u8> {
    let mut w = ByteWriter::new();
    w.bytes(&serialize_bitmap(rows));
    w.bytes(&serialize_bitmap(deleted));
    w.u64(max_lsn);
    w.u32(u32::try_from(columns.len()).expect("below 4 G columns"));
    for column in columns {
        w.str(&column.name);
        w.u8(column.column_type.tag());
        w.bytes(&serialize_bitmap(&mut column.present));
        w.u32(u32::try_from(column.chunks.len()).expect("below 4 G chunks"));
        for chunk in &column.chunks {
            w.u64(chunk.offset);
            w.u32(chunk.len);
        }
    }
    w.into_bytes()
}

/// Serializes a bitmap in the portable roaring format, run-optimized first.
pub(crate) fn serialize_bitmap(bitmap: &mut RoaringBitmap) -> Vec<u8> {
    bitmap.optimize();
    let mut out = Vec::with_capacity(bitmap.serialized_size());
    bitmap
        .serialize_into(&mut out)
        .expect("writing into a Vec cannot fail");
    out
}

/// The segment file header.
pub(super) fn encode_header(table: TableKind, id: u64) -> [u8; HEADER_LEN] {
    let mut w = ByteWriter::new();
    w.raw(&HEADER_MAGIC);
    w.u16(FORMAT_VERSION);
    w.u8(table.tag());
    w.u8(0);
    w.u32(0);
    w.u64(id);
    w.u32(0);
    debug_assert_eq!(w.len(), HEADER_CRC_OFFSET);
    let mut bytes = w.into_bytes();
    let crc = crc32fast::hash(&bytes);
    bytes.extend_from_slice(&crc.to_le_bytes());
    bytes.try_into().expect("header is HEADER_LEN bytes")
}

/// The segment file trailer pointing at the footer.
pub(super) fn encode_trailer(footer_offset: u64, footer: &[u8]) -> [u8; TRAILER_LEN] {
    let mut w = ByteWriter::new();
    w.u64(footer_offset);
    w.u64(footer.len() as u64);
    w.u32(crc32fast::hash(footer));
    w.u16(FORMAT_VERSION);
    w.u16(0);
    w.raw(&TRAILER_MAGIC);
    w.into_bytes()
        .try_into()
        .expect("trailer is TRAILER_LEN bytes")
}
