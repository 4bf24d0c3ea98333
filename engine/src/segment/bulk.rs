//! Builds a segment file from whole rows pushed in ascending row order.
//!
//! [`SegmentWriter`](super::SegmentWriter) takes one whole column at a time, which suits
//! flushes and compactions (their input is already columnar) but would make a row-oriented
//! input such as a dump hold the whole table in memory. This builder instead keeps one chunk
//! builder per column and, every 65,536 rows, appends the chunks of every column: the file
//! interleaves columns stripe by stripe, which the format allows because the footer records
//! each chunk's offset. Memory stays at one stripe whatever the table's size.
//!
//! The file is written under its temporary name and synced once by [`SegmentBuilder::finish`],
//! which renames it into place but leaves the directory sync to the caller (one directory
//! sync then covers every file of a bulk load). A builder dropped unfinished removes its file.

use super::file::SegmentFile;
use super::layout::ROWS_PER_CHUNK;
use super::writer::WrittenColumn;
use crate::codec::ChunkBuilder;
use crate::error::{Error, Result};
use crate::io::Storage;
use crate::schema::{ColumnDef, TableKind};
use crate::value::Value;
use roaring::RoaringBitmap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Streams a segment file to disk from rows, one stripe of chunks at a time.
pub struct SegmentBuilder {
    storage: Arc<dyn Storage>,
    file: SegmentFile,
    rows: RoaringBitmap,
    columns: Vec<WrittenColumn>,
    builders: Vec<ChunkBuilder>,
    /// The rows of the stripe being built; they become a bitmap on the helper thread, since
    /// building bitmaps from whole sorted runs is far cheaper than pushing single rows.
    stripe_rows: Vec<u32>,
    /// Per column: the stripe's rows with a value (they join the column's `present`).
    stripe_present: Vec<Vec<u32>>,
    last_row: Option<u32>,
    /// The last closed stripe, being encoded on a helper thread.
    encoding: Option<JoinHandle<EncodedStripe>>,
    finished: bool,
}

impl SegmentBuilder {
    /// Starts segment `id` of `table` in `dir` with `columns` (every pushed row gives one
    /// value per column, in this order).
    ///
    /// # Errors
    /// I/O errors creating the file.
    pub fn create(
        storage: Arc<dyn Storage>,
        dir: &Path,
        id: u64,
        table: TableKind,
        columns: &[ColumnDef],
    ) -> Result<Self> {
        let file = SegmentFile::create(storage.as_ref(), dir, id, table)?;
        Ok(SegmentBuilder {
            storage,
            file,
            rows: RoaringBitmap::new(),
            columns: columns
                .iter()
                .map(|c| WrittenColumn {
                    name: c.name.clone(),
                    column_type: c.column_type,
                    present: RoaringBitmap::new(),
                    chunks: Vec::new(),
                })
                .collect(),
            builders: columns
                .iter()
                .map(|c| ChunkBuilder::new(c.column_type))
                .collect(),
            stripe_rows: Vec::with_capacity(ROWS_PER_CHUNK),
            stripe_present: columns.iter().map(|_| Vec::new()).collect(),
            last_row: None,
            encoding: None,
            finished: false,
        })
    }

    /// Appends row `row` with one value per column, each NULL or of its column's type.
    ///
    /// # Errors
    /// [`Error::Corrupt`] (naming the file being built) for a row not above every earlier
    /// row, a wrong number of values or a value of the wrong type, in which case nothing is
    /// appended; I/O errors writing a finished stripe.
    pub fn push_row(&mut self, row: u32, values: &[Value]) -> Result<()> {
        if let Some(reason) = self.refusal(row, values) {
            return Err(corrupt(&self.file, reason));
        }
        let file = &self.file;
        for ((value, builder), present) in values
            .iter()
            .zip(&mut self.builders)
            .zip(&mut self.stripe_present)
        {
            builder
                .push(value)
                .map_err(|e| corrupt(file, e.to_string()))?;
            if !value.is_null() {
                present.push(row);
            }
        }
        self.stripe_rows.push(row);
        self.last_row = Some(row);
        if self.stripe_rows.len() == ROWS_PER_CHUNK {
            self.write_stripe()?;
        }
        Ok(())
    }

    /// Why `values` cannot be row `row`, if they cannot.
    fn refusal(&self, row: u32, values: &[Value]) -> Option<String> {
        if self.last_row.is_some_and(|last| row <= last) {
            return Some(format!("bulk row {row} is not above the previous row"));
        }
        if values.len() != self.columns.len() {
            return Some(format!(
                "bulk row {row} has {} values for {} columns",
                values.len(),
                self.columns.len()
            ));
        }
        let misfit = values.iter().zip(&self.columns).find(|(value, column)| {
            value
                .column_type()
                .is_some_and(|found| found != column.column_type)
        });
        misfit.map(|(_, column)| {
            format!(
                "bulk row {row} has a value of the wrong type for column `{}`",
                column.name
            )
        })
    }

    /// The id of the segment being built.
    #[must_use]
    pub fn id(&self) -> u64 {
        self.file.id()
    }

    /// Closes the stripe of rows pushed since the last one: its chunks are encoded on a helper
    /// thread while the caller produces the next stripe's rows (encoding a chunk costs about
    /// as much as decoding its rows from the input), and appended once that stripe is done.
    fn write_stripe(&mut self) -> Result<()> {
        let rows = std::mem::replace(&mut self.stripe_rows, Vec::with_capacity(ROWS_PER_CHUNK));
        let present: Vec<Vec<u32>> = self.stripe_present.iter_mut().map(std::mem::take).collect();
        let full: Vec<ChunkBuilder> = self
            .builders
            .iter_mut()
            .zip(&self.columns)
            .map(|(builder, column)| {
                std::mem::replace(builder, ChunkBuilder::new(column.column_type))
            })
            .collect();
        self.append_encoded()?;
        self.encoding = Some(std::thread::spawn(move || EncodedStripe {
            chunks: full.into_iter().map(ChunkBuilder::finish).collect(),
            rows: bitmap_of(&rows),
            present: present.iter().map(|rows| bitmap_of(rows)).collect(),
        }));
        Ok(())
    }

    /// Waits for the stripe being encoded, if any, appends its chunks in column order and
    /// adds its rows to the segment's bitmaps.
    fn append_encoded(&mut self) -> Result<()> {
        let Some(encoding) = self.encoding.take() else {
            return Ok(());
        };
        // Encoding cannot fail; a panic there is a bug and stays a panic here.
        let stripe = encoding
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        self.rows |= stripe.rows;
        for ((column, bytes), present) in self
            .columns
            .iter_mut()
            .zip(&stripe.chunks)
            .zip(stripe.present)
        {
            column.chunks.push(self.file.append_chunk(bytes)?);
            column.present |= present;
        }
        Ok(())
    }

    /// Writes the last stripe, footer and trailer, syncs the file and renames it to its final
    /// name. The caller syncs the directory. Returns the final path and the file's size.
    ///
    /// # Errors
    /// I/O errors; the temporary file is then removed.
    pub fn finish(mut self, max_lsn: u64) -> Result<(PathBuf, u64)> {
        if !self.stripe_rows.is_empty() {
            self.write_stripe()?;
        }
        self.append_encoded()?;
        let written = self.file.finish(
            self.storage.as_ref(),
            &mut self.rows,
            &mut RoaringBitmap::new(),
            max_lsn,
            &mut self.columns,
        )?;
        self.finished = true;
        Ok(written)
    }
}

/// What the helper thread makes of a closed stripe.
struct EncodedStripe {
    /// One encoded chunk per column.
    chunks: Vec<Vec<u8>>,
    /// The stripe's rows.
    rows: RoaringBitmap,
    /// Per column: the stripe's rows with a value.
    present: Vec<RoaringBitmap>,
}

/// The bitmap of `rows`, which ascend (checked as they were pushed).
fn bitmap_of(rows: &[u32]) -> RoaringBitmap {
    RoaringBitmap::from_sorted_iter(rows.iter().copied())
        .unwrap_or_else(|_| rows.iter().copied().collect())
}

/// A refused row, reported against the file being built.
fn corrupt(file: &SegmentFile, reason: String) -> Error {
    Error::corrupt(file.temp_path(), file.offset(), reason)
}

impl Drop for SegmentBuilder {
    fn drop(&mut self) {
        if !self.finished {
            // Best effort: a leftover temporary file is also removed at the next open.
            let _ = self.storage.remove(self.file.temp_path());
        }
    }
}
