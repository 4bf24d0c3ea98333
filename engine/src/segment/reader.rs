//! Opens a segment file: maps it, checks header, trailer and footer, and hands out chunks.
//!
//! Opening reads only the header, trailer and footer; column data stays on disk until a
//! query touches it. Each chunk carries its own checksum, verified when it is opened.

use super::layout::{
    FORMAT_VERSION, HEADER_CRC_OFFSET, HEADER_LEN, HEADER_MAGIC, HEADER_MAGIC_OFFSET,
    HEADER_SEGMENT_ID_OFFSET, HEADER_TABLE_OFFSET, HEADER_VERSION_OFFSET, OLDEST_SUPPORTED_VERSION,
    ROWS_PER_CHUNK, TRAILER_FOOTER_CRC_OFFSET, TRAILER_FOOTER_LEN_OFFSET,
    TRAILER_FOOTER_OFFSET_OFFSET, TRAILER_LEN, TRAILER_MAGIC, TRAILER_MAGIC_OFFSET,
    TRAILER_RESERVED_OFFSET, TRAILER_VERSION_OFFSET,
};
use super::writer::ChunkLocation;
use crate::codec::{ChunkReader, ChunkValues, PointReader};
use crate::error::{Error, Result};
use crate::io::Storage;
use crate::schema::TableKind;
use crate::value::ColumnType;
use crate::wire::{ByteReader, WireError};
use bytes::Bytes;
use roaring::RoaringBitmap;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// How `read_values_with` finds a row's position in a chunk.
enum RowPositions {
    /// The chunk's rows are consecutive: position = row - first row.
    Dense,
    /// By rank in the segment's rows, for a few rows of a chunk with gaps.
    Ranked,
    /// By search in the chunk's rows, listed once, for many rows of a chunk with gaps.
    Listed(Vec<u32>),
}

/// Rows of a chunk with gaps are found by rank when fewer than one in this many are wanted.
const RANK_LOOKUP_SHARE: u64 = 8;

/// Most rows of one chunk read point by point instead of decoding the chunk (ingestion reads
/// the stamps of a few scattered rows in many chunks).
const SPARSE_READ_ROWS: u64 = 4_096;

/// A sparse read wants at most one row in this many of the chunk's rows.
const SPARSE_READ_SHARE: u64 = 8;

/// One column's directory entry in a segment.
#[derive(Debug, Clone)]
pub struct SegmentColumn {
    /// Column name.
    pub name: String,
    /// Column type.
    pub column_type: ColumnType,
    /// Rows whose value this segment sets (a stored NULL counts).
    pub present: RoaringBitmap,
    /// The column's chunks, in row order.
    pub chunks: Vec<ChunkLocation>,
}

/// In-memory forms of one column chunk, built on first use by a query and kept for the life of
/// the segment (segments never change, so the cache never goes stale and every snapshot that
/// holds the segment shares it). Opening a chunk verifies its crc32 over every byte, which for
/// wide columns costs as much as the scan itself; the cache pays that once.
#[derive(Default)]
pub(crate) struct ChunkCache {
    /// Zone map, nulls, dictionary and per-value bitmaps (see `scan::cache`).
    pub(crate) summary: OnceLock<Arc<crate::scan::ChunkSummary>>,
    /// Every decoded value, with the chunk's null positions.
    pub(crate) values: OnceLock<Arc<(ChunkValues, RoaringBitmap)>>,
    /// Set once the chunk's crc32 has been verified: the file is immutable, so later opens
    /// (queries comparing on the encoded bytes) skip the checksum pass.
    pub(crate) verified: OnceLock<()>,
    /// One order-preserving byte per row of a float chunk (see `scan::sketch`).
    pub(crate) sketch: OnceLock<Arc<crate::scan::Sketch>>,
    /// What single-value reads need (payload layout, nulls, compact dictionary).
    pub(crate) points: OnceLock<Arc<PointReader>>,
}

/// The caches of every chunk of every column, in directory order.
#[derive(Default)]
struct SegmentCache {
    columns: Vec<Vec<ChunkCache>>,
    /// Segment-wide per-value bitmaps of each column (see `scan::index`); `None` inside
    /// once it is known that the column has none.
    indexes: Vec<OnceLock<Option<Arc<crate::scan::ValueIndex>>>>,
    /// Per-day pre-aggregates built by behavioural queries (see `scan::daily`).
    daily: parking_lot::Mutex<HashMap<crate::scan::DailyKey, Arc<crate::scan::DailyCounts>>>,
    /// For each 65,536-row block holding rows (its `row >> 16`), the number of segment rows
    /// before it, built on the first point read (see [`Segment::position_of`]).
    block_ranks: OnceLock<Vec<(u32, u64)>>,
}

impl std::fmt::Debug for SegmentCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let built = self
            .columns
            .iter()
            .flatten()
            .filter(|c| {
                c.summary.get().is_some() || c.values.get().is_some() || c.points.get().is_some()
            })
            .count();
        write!(f, "SegmentCache {{ chunks built: {built} }}")
    }
}

/// An open, immutable segment file.
#[derive(Debug)]
pub struct Segment {
    id: u64,
    table: TableKind,
    path: PathBuf,
    bytes: Bytes,
    rows: RoaringBitmap,
    deleted: RoaringBitmap,
    max_lsn: u64,
    columns: Vec<SegmentColumn>,
    by_name: HashMap<String, usize>,
    /// First row of each chunk: chunk `k` holds the rows from `chunk_first_rows[k]` up to
    /// the next entry.
    chunk_first_rows: Vec<u32>,
    /// Lazily built in-memory forms of chunks touched by queries.
    cache: SegmentCache,
}

impl Segment {
    /// Maps and validates the segment at `path`.
    ///
    /// # Errors
    /// I/O errors, [`Error::Corrupt`] naming the file and offset, or
    /// [`Error::UnsupportedVersion`].
    pub fn open(storage: &dyn Storage, path: &Path) -> Result<Segment> {
        let bytes = storage.map(path).map_err(Error::io("map segment", path))?;
        Segment::from_bytes(path, bytes)
    }

    /// Validates a segment held in `bytes` (as read from `path`).
    ///
    /// # Errors
    /// As [`Segment::open`].
    pub fn from_bytes(path: &Path, bytes: Bytes) -> Result<Segment> {
        let corrupt = |offset: usize, reason: &str| Error::corrupt(path, offset as u64, reason);
        if bytes.len() < HEADER_LEN + TRAILER_LEN {
            return Err(corrupt(
                0,
                "file is shorter than a segment header and trailer",
            ));
        }
        let (table, id) = parse_header(path, &bytes)?;
        let trailer_start = bytes.len() - TRAILER_LEN;
        let footer = parse_trailer(path, &bytes, trailer_start)?;
        let mut segment = parse_footer(path, &bytes, footer)?;
        segment.id = id;
        segment.table = table;
        segment.bytes = bytes;
        segment.validate(footer.start)?;
        segment.chunk_first_rows = chunk_first_rows(&segment.rows);
        segment.cache = SegmentCache {
            columns: segment
                .columns
                .iter()
                .map(|c| c.chunks.iter().map(|_| ChunkCache::default()).collect())
                .collect(),
            indexes: segment.columns.iter().map(|_| OnceLock::new()).collect(),
            daily: parking_lot::Mutex::default(),
            block_ranks: OnceLock::new(),
        };
        Ok(segment)
    }

    fn validate(&self, footer_start: usize) -> Result<()> {
        let expected_chunks = self.rows.len().div_ceil(ROWS_PER_CHUNK as u64);
        for column in &self.columns {
            if column.chunks.len() as u64 != expected_chunks {
                return Err(Error::corrupt(
                    &self.path,
                    footer_start as u64,
                    format!(
                        "column `{}` has {} chunks, expected {expected_chunks}",
                        column.name,
                        column.chunks.len()
                    ),
                ));
            }
            if !column.present.is_subset(&self.rows) {
                return Err(Error::corrupt(
                    &self.path,
                    footer_start as u64,
                    format!(
                        "column `{}` marks rows the segment does not hold",
                        column.name
                    ),
                ));
            }
            for chunk in &column.chunks {
                let end = chunk.offset.checked_add(u64::from(chunk.len));
                if chunk.offset < HEADER_LEN as u64
                    || end.is_none_or(|end| end > footer_start as u64)
                {
                    return Err(Error::corrupt(
                        &self.path,
                        footer_start as u64,
                        format!(
                            "column `{}` points at a chunk outside the data area",
                            column.name
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The segment's id.
    #[must_use]
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The table the segment belongs to.
    #[must_use]
    pub fn table(&self) -> TableKind {
        self.table
    }

    /// The file the segment was read from.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Size of the file in bytes.
    #[must_use]
    pub fn file_len(&self) -> u64 {
        self.bytes.len() as u64
    }

    /// Rows holding data in this segment; the i-th row is at position i of every column.
    #[must_use]
    pub fn rows(&self) -> &RoaringBitmap {
        &self.rows
    }

    /// Rows deleted by the writes this segment holds.
    #[must_use]
    pub fn deleted(&self) -> &RoaringBitmap {
        &self.deleted
    }

    /// Highest WAL sequence number whose effects this segment holds.
    #[must_use]
    pub fn max_lsn(&self) -> u64 {
        self.max_lsn
    }

    /// Every column of the segment.
    #[must_use]
    pub fn columns(&self) -> &[SegmentColumn] {
        &self.columns
    }

    /// The column called `name`.
    #[must_use]
    pub fn column(&self, name: &str) -> Option<&SegmentColumn> {
        self.by_name.get(name).and_then(|&i| self.columns.get(i))
    }

    /// Opens chunk `index` of `column`, verifying its checksum.
    ///
    /// # Errors
    /// [`Error::Corrupt`] with the file offset of the damage.
    pub fn chunk<'s>(&'s self, column: &SegmentColumn, index: usize) -> Result<ChunkReader<'s>> {
        let location = column.chunks.get(index).ok_or_else(|| {
            Error::corrupt(
                &self.path,
                0,
                format!("column `{}` has no chunk {index}", column.name),
            )
        })?;
        let start = usize::try_from(location.offset).unwrap_or(usize::MAX);
        let bytes = start
            .checked_add(location.len as usize)
            .and_then(|end| self.bytes.get(start..end))
            .ok_or_else(|| {
                Error::corrupt(&self.path, location.offset, "chunk lies outside the file")
            })?;
        let slot = self.chunk_cache(column, index);
        let verified = slot.is_some_and(|c| c.verified.get().is_some());
        let opened = if verified {
            ChunkReader::open_verified(bytes)
        } else {
            ChunkReader::open(bytes)
        };
        let chunk = opened.map_err(|e| self.chunk_error(location, &column.name, &e))?;
        if let Some(slot) = slot {
            let _ = slot.verified.set(());
        }
        if chunk.column_type() != column.column_type {
            return Err(Error::corrupt(
                &self.path,
                location.offset,
                format!("chunk of column `{}` has the wrong type", column.name),
            ));
        }
        Ok(chunk)
    }

    /// Describes a codec failure inside a chunk of this segment, with the file offset.
    pub(crate) fn chunk_error(
        &self,
        location: &ChunkLocation,
        column: &str,
        error: &crate::codec::CodecError,
    ) -> Error {
        let inner = match error {
            crate::codec::CodecError::Corrupt { offset, .. } => *offset as u64,
            _ => 0,
        };
        Error::corrupt(
            &self.path,
            location.offset + inner,
            format!("column `{column}`: {error}"),
        )
    }

    /// The global rows held at positions `chunk * ROWS_PER_CHUNK ..` of chunk `chunk`.
    #[must_use]
    pub fn chunk_rows(&self, chunk: usize) -> Vec<u32> {
        let first_position = chunk * ROWS_PER_CHUNK;
        let Some(first_row) = u32::try_from(first_position)
            .ok()
            .and_then(|p| self.rows.select(p))
        else {
            return Vec::new();
        };
        self.rows.range(first_row..).take(ROWS_PER_CHUNK).collect()
    }

    /// When the rows of chunk `chunk` are consecutive, the row at its position 0.
    #[must_use]
    pub fn chunk_dense_start(&self, chunk: usize) -> Option<u32> {
        let first = u32::try_from(chunk * ROWS_PER_CHUNK).ok()?;
        let rows_in_chunk = (self.rows.len() - u64::from(first)).min(ROWS_PER_CHUNK as u64);
        let start = self.rows.select(first)?;
        let end = self
            .rows
            .select(first + u32::try_from(rows_in_chunk).ok()? - 1)?;
        (u64::from(end - start) + 1 == rows_in_chunk).then_some(start)
    }

    /// First row of chunk `index`, and the first row of the next chunk (None for the last).
    #[must_use]
    pub fn chunk_row_bounds(&self, index: usize) -> (u32, Option<u32>) {
        let first = self
            .chunk_first_rows
            .get(index)
            .copied()
            .unwrap_or(u32::MAX);
        (first, self.chunk_first_rows.get(index + 1).copied())
    }

    /// Number of chunks each column has.
    #[must_use]
    pub fn chunk_count(&self) -> usize {
        self.chunk_first_rows.len()
    }

    /// The cache slot of chunk `index` of `column`.
    pub(crate) fn chunk_cache(&self, column: &SegmentColumn, index: usize) -> Option<&ChunkCache> {
        let slot = *self.by_name.get(&column.name)?;
        self.cache.columns.get(slot)?.get(index)
    }

    /// The cache slot of the segment-wide value index of `column`.
    pub(crate) fn column_index_slot(
        &self,
        column: &SegmentColumn,
    ) -> Option<&OnceLock<Option<Arc<crate::scan::ValueIndex>>>> {
        let slot = *self.by_name.get(&column.name)?;
        self.cache.indexes.get(slot)
    }

    /// The per-day pre-aggregates built so far.
    pub(crate) fn daily_cache(
        &self,
    ) -> &parking_lot::Mutex<HashMap<crate::scan::DailyKey, Arc<crate::scan::DailyCounts>>> {
        &self.cache.daily
    }

    /// The decoded values (and null positions) of chunk `index` of `column`, decoded once and
    /// then served from the segment's cache.
    ///
    /// # Errors
    /// Corruption found while opening or decoding the chunk.
    pub(crate) fn cached_values(
        &self,
        column: &SegmentColumn,
        index: usize,
    ) -> Result<Arc<(ChunkValues, RoaringBitmap)>> {
        let slot = self.chunk_cache(column, index);
        if let Some(values) = slot.and_then(|c| c.values.get()) {
            return Ok(Arc::clone(values));
        }
        let decoded = Arc::new(self.decode_chunk(column, index)?);
        if let Some(slot) = slot {
            // A concurrent reader may have won the race; both decoded the same bytes.
            let _ = slot.values.set(Arc::clone(&decoded));
        }
        Ok(decoded)
    }

    /// The decoded values of chunk `index` of `column`: from the cache when a query already
    /// decoded them, otherwise decoded now and not kept (for one-off readers).
    ///
    /// # Errors
    /// Corruption found while opening or decoding the chunk.
    pub(crate) fn values_for_read(
        &self,
        column: &SegmentColumn,
        index: usize,
    ) -> Result<Arc<(ChunkValues, RoaringBitmap)>> {
        match self.chunk_cache(column, index).and_then(|c| c.values.get()) {
            Some(values) => Ok(Arc::clone(values)),
            None => Ok(Arc::new(self.decode_chunk(column, index)?)),
        }
    }

    fn decode_chunk(
        &self,
        column: &SegmentColumn,
        index: usize,
    ) -> Result<(ChunkValues, RoaringBitmap)> {
        let chunk = self.chunk(column, index)?;
        let location = &column.chunks[index];
        let decoded = chunk
            .decode()
            .map_err(|e| self.chunk_error(location, &column.name, &e))?;
        let nulls = chunk
            .null_rows()
            .map_err(|e| self.chunk_error(location, &column.name, &e))?;
        Ok((decoded, nulls))
    }

    /// Values of `column` at `rows` (which must all be rows of this segment), in row order.
    /// Chunks already decoded by queries are read from the cache; others are decoded and
    /// dropped (bulk readers such as compaction must not fill the cache).
    ///
    /// # Errors
    /// Corruption found while decoding.
    pub fn read_values(
        &self,
        column: &SegmentColumn,
        rows: &RoaringBitmap,
    ) -> Result<Vec<(u32, crate::value::Value)>> {
        self.read_values_with(column, rows, false)
    }

    /// Like [`Segment::read_values`], but keeps every decoded chunk in the segment's cache so
    /// later queries skip the checksum and the decoding.
    ///
    /// # Errors
    /// Corruption found while decoding.
    pub fn read_values_cached(
        &self,
        column: &SegmentColumn,
        rows: &RoaringBitmap,
    ) -> Result<Vec<(u32, crate::value::Value)>> {
        self.read_values_with(column, rows, true)
    }

    fn read_values_with(
        &self,
        column: &SegmentColumn,
        rows: &RoaringBitmap,
        fill_cache: bool,
    ) -> Result<Vec<(u32, crate::value::Value)>> {
        let mut out = Vec::with_capacity(usize::try_from(rows.len()).unwrap_or(0));
        for (chunk_index, &first_row) in self.chunk_first_rows.iter().enumerate() {
            let next_first = self.chunk_first_rows.get(chunk_index + 1).copied();
            let (wanted, count) = match next_first {
                Some(end) => (
                    rows.range(first_row..end),
                    rows.range_cardinality(first_row..end),
                ),
                None => (rows.range(first_row..), rows.range_cardinality(first_row..)),
            };
            if count == 0 {
                continue;
            }
            let cached = self
                .chunk_cache(column, chunk_index)
                .and_then(|c| c.values.get())
                .cloned();
            if cached.is_none() && !fill_cache && self.is_sparse(first_row, next_first, count) {
                self.read_sparse(column, chunk_index, wanted, &mut out)?;
                continue;
            }
            let decoded = match cached {
                Some(values) => values,
                None if fill_cache => self.cached_values(column, chunk_index)?,
                None => Arc::new(self.decode_chunk(column, chunk_index)?),
            };
            let (decoded, nulls) = &*decoded;
            let location = &column.chunks[chunk_index];
            let chunk_start = chunk_index * ROWS_PER_CHUNK;
            // A chunk whose rows have gaps maps a row to its position by rank. Listing the
            // chunk's rows once is cheaper only when most of them are wanted.
            let chunk_rows = match self.chunk_dense_start(chunk_index) {
                Some(_) => RowPositions::Dense,
                None if count.saturating_mul(RANK_LOOKUP_SHARE) < decoded.len() as u64 => {
                    RowPositions::Ranked
                }
                None => RowPositions::Listed(self.chunk_rows(chunk_index)),
            };
            for row in wanted {
                let position = match &chunk_rows {
                    RowPositions::Dense => Some((row - first_row) as usize),
                    RowPositions::Ranked => self
                        .position_of(row)
                        .and_then(|position| position.checked_sub(chunk_start)),
                    RowPositions::Listed(list) => list.binary_search(&row).ok(),
                };
                let position = position.filter(|&p| p < decoded.len()).ok_or_else(|| {
                    Error::corrupt(
                        &self.path,
                        location.offset,
                        format!("row {row} missing from column `{}`", column.name),
                    )
                })?;
                out.push((row, decoded.value(position, nulls)));
            }
        }
        Ok(out)
    }

    /// The value of `column` at `row` (NULL when the segment holds no such row), read without
    /// decoding the chunk: the chunk's checksum is verified once, on its first point read, and
    /// what the reads need is kept in the segment's cache. Chunks already decoded by queries
    /// are read from their decoded values; list chunks are decoded whole and cached.
    ///
    /// # Errors
    /// Corruption found while opening the chunk or reading the value.
    pub fn value_at(&self, column: &SegmentColumn, row: u32) -> Result<crate::value::Value> {
        let Some(position) = self.position_of(row) else {
            return Ok(crate::value::Value::Null);
        };
        let (index, local) = (position / ROWS_PER_CHUNK, position % ROWS_PER_CHUNK);
        self.point_value(column, index, local)
    }

    /// Whether reading `count` rows of the chunk starting at `first_row` (and ending before
    /// `next_first`) is cheaper point by point than by decoding the chunk: few rows, and a
    /// small part of the chunk (bulk readers of small chunks keep decoding them whole).
    fn is_sparse(&self, first_row: u32, next_first: Option<u32>, count: u64) -> bool {
        if count > SPARSE_READ_ROWS {
            return false;
        }
        let chunk_rows = match next_first {
            Some(end) => self.rows.range_cardinality(first_row..end),
            None => self.rows.range_cardinality(first_row..),
        };
        count.saturating_mul(SPARSE_READ_SHARE) <= chunk_rows
    }

    /// Values of `column` at `rows` of chunk `index`, read one by one with the chunk's point
    /// reader and appended to `out`: for a few rows this is much cheaper than decoding the
    /// whole chunk, which ingestion would otherwise do for every chunk its scattered rows hit.
    fn read_sparse(
        &self,
        column: &SegmentColumn,
        index: usize,
        rows: impl Iterator<Item = u32>,
        out: &mut Vec<(u32, crate::value::Value)>,
    ) -> Result<()> {
        for row in rows {
            let local = self
                .position_of(row)
                .filter(|position| position / ROWS_PER_CHUNK == index)
                .map(|position| position % ROWS_PER_CHUNK)
                .ok_or_else(|| {
                    Error::corrupt(
                        &self.path,
                        column.chunks[index].offset,
                        format!("row {row} missing from column `{}`", column.name),
                    )
                })?;
            out.push((row, self.point_value(column, index, local)?));
        }
        Ok(())
    }

    /// The value at chunk-local position `local` of chunk `index`, through the chunk's
    /// decoded values when cached, otherwise its (cached) point reader.
    fn point_value(
        &self,
        column: &SegmentColumn,
        index: usize,
        local: usize,
    ) -> Result<crate::value::Value> {
        let slot = self.chunk_cache(column, index);
        if let Some(decoded) = slot.and_then(|c| c.values.get()) {
            return Ok(decoded.0.value(local, &decoded.1));
        }
        let points = match slot.and_then(|c| c.points.get()) {
            Some(points) => Arc::clone(points),
            None => {
                let chunk = self.chunk(column, index)?;
                let points = chunk
                    .point_reader()
                    .map_err(|e| self.chunk_error(&column.chunks[index], &column.name, &e))?;
                let points = Arc::new(points);
                if let Some(slot) = slot {
                    // A concurrent reader may have won the race; both read the same bytes.
                    let _ = slot.points.set(Arc::clone(&points));
                }
                points
            }
        };
        if points.needs_full_decode() {
            let decoded = self.cached_values(column, index)?;
            return Ok(decoded.0.value(local, &decoded.1));
        }
        let location = &column.chunks[index];
        let bytes = self.chunk_bytes(location)?;
        points
            .value_at(bytes, local)
            .map_err(|e| self.chunk_error(location, &column.name, &e))
    }

    /// The bytes of one chunk (unverified: callers verified them when they first opened it).
    fn chunk_bytes(&self, location: &ChunkLocation) -> Result<&[u8]> {
        let start = usize::try_from(location.offset).unwrap_or(usize::MAX);
        start
            .checked_add(location.len as usize)
            .and_then(|end| self.bytes.get(start..end))
            .ok_or_else(|| {
                Error::corrupt(&self.path, location.offset, "chunk lies outside the file")
            })
    }

    /// Position of `row` in this segment's columns.
    #[must_use]
    pub fn position_of(&self, row: u32) -> Option<usize> {
        if !self.rows.contains(row) {
            return None;
        }
        // `RoaringBitmap::rank` adds up the length of every block before the row's, which on
        // a segment of millions of rows costs more than the rest of a point read; the counts
        // before each block are added up once instead.
        let ranks = self
            .cache
            .block_ranks
            .get_or_init(|| block_ranks(&self.rows));
        position_in(&self.rows, ranks, row)
    }
}

fn parse_header(path: &Path, bytes: &[u8]) -> Result<(TableKind, u64)> {
    let header = bytes
        .get(..HEADER_LEN)
        .ok_or_else(|| Error::corrupt(path, 0, "truncated header"))?;
    let mut r = ByteReader::new(header);
    let at = |offset: usize, reason: &str| Error::corrupt(path, offset as u64, reason);
    if r.take(HEADER_MAGIC.len()).map_err(|e| wire(path, 0, &e))? != HEADER_MAGIC {
        return Err(at(
            HEADER_MAGIC_OFFSET,
            "not a ProfileDB segment (bad magic)",
        ));
    }
    let stored_crc = u32::from_le_bytes(
        header[HEADER_CRC_OFFSET..HEADER_LEN]
            .try_into()
            .expect("4 bytes"),
    );
    if crc32fast::hash(&header[..HEADER_CRC_OFFSET]) != stored_crc {
        return Err(at(HEADER_CRC_OFFSET, "header checksum mismatch"));
    }
    let version = r.u16().map_err(|e| wire(path, 0, &e))?;
    check_version(path, version)?;
    let table_tag = header[HEADER_TABLE_OFFSET];
    let table = TableKind::from_tag(table_tag)
        .ok_or_else(|| at(HEADER_TABLE_OFFSET, "unknown table tag"))?;
    let id = u64::from_le_bytes(
        header[HEADER_SEGMENT_ID_OFFSET..HEADER_SEGMENT_ID_OFFSET + 8]
            .try_into()
            .expect("8 bytes"),
    );
    let _ = HEADER_VERSION_OFFSET;
    Ok((table, id))
}

fn check_version(path: &Path, found: u16) -> Result<()> {
    if (OLDEST_SUPPORTED_VERSION..=FORMAT_VERSION).contains(&found) {
        Ok(())
    } else {
        Err(Error::UnsupportedVersion {
            file: path.to_path_buf(),
            found,
            oldest: OLDEST_SUPPORTED_VERSION,
            newest: FORMAT_VERSION,
        })
    }
}

#[derive(Debug, Clone, Copy)]
struct FooterRange {
    start: usize,
    end: usize,
    crc: u32,
}

fn parse_trailer(path: &Path, bytes: &[u8], trailer_start: usize) -> Result<FooterRange> {
    let trailer = &bytes[trailer_start..];
    let at =
        |offset: usize, reason: &str| Error::corrupt(path, (trailer_start + offset) as u64, reason);
    let field = |offset: usize, len: usize| &trailer[offset..offset + len];
    if field(TRAILER_MAGIC_OFFSET, 8) != TRAILER_MAGIC {
        return Err(at(
            TRAILER_MAGIC_OFFSET,
            "segment trailer magic missing (truncated or overwritten file)",
        ));
    }
    let version = u16::from_le_bytes(
        field(TRAILER_VERSION_OFFSET, 2)
            .try_into()
            .expect("2 bytes"),
    );
    check_version(path, version)?;
    // No checksum covers the trailer, so every field of it is checked, reserved bytes included.
    if field(TRAILER_RESERVED_OFFSET, 2) != [0, 0] {
        return Err(at(
            TRAILER_RESERVED_OFFSET,
            "segment trailer reserved bytes are not zero",
        ));
    }
    let offset = u64::from_le_bytes(
        field(TRAILER_FOOTER_OFFSET_OFFSET, 8)
            .try_into()
            .expect("8 bytes"),
    );
    let len = u64::from_le_bytes(
        field(TRAILER_FOOTER_LEN_OFFSET, 8)
            .try_into()
            .expect("8 bytes"),
    );
    let crc = u32::from_le_bytes(
        field(TRAILER_FOOTER_CRC_OFFSET, 4)
            .try_into()
            .expect("4 bytes"),
    );
    let start = usize::try_from(offset).unwrap_or(usize::MAX);
    let end = usize::try_from(len)
        .ok()
        .and_then(|len| start.checked_add(len));
    match end {
        Some(end) if start >= HEADER_LEN && end == trailer_start => {
            Ok(FooterRange { start, end, crc })
        }
        _ => Err(at(
            TRAILER_FOOTER_OFFSET_OFFSET,
            "footer location is outside the file",
        )),
    }
}

fn parse_footer(path: &Path, bytes: &[u8], range: FooterRange) -> Result<Segment> {
    let body = &bytes[range.start..range.end];
    if crc32fast::hash(body) != range.crc {
        return Err(Error::corrupt(
            path,
            range.start as u64,
            "footer checksum mismatch",
        ));
    }
    let fail = |e: WireError| wire(path, range.start, &e);
    let mut r = ByteReader::new(body);
    let rows = read_bitmap(&mut r).map_err(fail)?;
    let deleted = read_bitmap(&mut r).map_err(fail)?;
    let max_lsn = r.u64().map_err(fail)?;
    let count = r.u32().map_err(fail)? as usize;
    let mut columns = Vec::with_capacity(count.min(r.remaining()));
    let mut by_name = HashMap::new();
    for _ in 0..count {
        let column = read_column(&mut r).map_err(fail)?;
        if by_name.insert(column.name.clone(), columns.len()).is_some() {
            return Err(Error::corrupt(
                path,
                range.start as u64,
                format!("column `{}` listed twice", column.name),
            ));
        }
        columns.push(column);
    }
    if r.remaining() != 0 {
        return Err(fail(r.error("trailing bytes after the column directory")));
    }
    Ok(Segment {
        id: 0,
        table: TableKind::Profiles,
        path: path.to_path_buf(),
        bytes: Bytes::new(),
        rows,
        deleted,
        max_lsn,
        columns,
        by_name,
        chunk_first_rows: Vec::new(),
        cache: SegmentCache::default(),
    })
}

/// `(row >> 16, rows before that block)` for every 65,536-row block holding rows, ascending.
fn block_ranks(rows: &RoaringBitmap) -> Vec<(u32, u64)> {
    let (Some(min), Some(max)) = (rows.min(), rows.max()) else {
        return Vec::new();
    };
    let mut ranks = Vec::new();
    let mut before = 0;
    for block in min >> 16..=max >> 16 {
        let held = rows.range_cardinality((block << 16)..=(block << 16 | 0xFFFF));
        if held > 0 {
            ranks.push((block, before));
            before += held;
        }
    }
    ranks
}

/// Position of `row` (which `rows` holds) among `rows`, given `block_ranks(rows)`.
fn position_in(rows: &RoaringBitmap, ranks: &[(u32, u64)], row: u32) -> Option<usize> {
    let block = row >> 16;
    let index = ranks.binary_search_by_key(&block, |&(b, _)| b).ok()?;
    let before = ranks.get(index)?.1;
    let within = rows.range_cardinality((block << 16)..=row);
    usize::try_from((before + within).checked_sub(1)?).ok()
}

fn chunk_first_rows(rows: &RoaringBitmap) -> Vec<u32> {
    (0..rows.len())
        .step_by(ROWS_PER_CHUNK)
        .filter_map(|position| u32::try_from(position).ok().and_then(|p| rows.select(p)))
        .collect()
}

fn read_column(r: &mut ByteReader<'_>) -> Result<SegmentColumn, WireError> {
    let name = r.str()?.to_owned();
    let column_type =
        ColumnType::from_tag(r.u8()?).ok_or_else(|| r.error("unknown column type tag"))?;
    let present = read_bitmap(r)?;
    let count = r.u32()? as usize;
    if count > r.remaining() / 12 {
        return Err(r.error("chunk count exceeds the footer"));
    }
    let mut chunks = Vec::with_capacity(count);
    for _ in 0..count {
        let offset = r.u64()?;
        let len = r.u32()?;
        chunks.push(ChunkLocation { offset, len });
    }
    Ok(SegmentColumn {
        name,
        column_type,
        present,
        chunks,
    })
}

/// Reads a length-prefixed portable roaring bitmap.
pub(crate) fn read_bitmap(r: &mut ByteReader<'_>) -> Result<RoaringBitmap, WireError> {
    let start = r.position();
    let raw = r.bytes()?;
    RoaringBitmap::deserialize_from(raw).map_err(|_| WireError {
        offset: start,
        reason: "invalid roaring bitmap",
    })
}

fn wire(path: &Path, base: usize, error: &WireError) -> Error {
    Error::corrupt(path, (base + error.offset) as u64, error.reason)
}

#[cfg(test)]
mod position_tests {
    use super::{block_ranks, position_in};
    use roaring::RoaringBitmap;

    #[test]
    fn positions_from_block_ranks_equal_rank() {
        let mut rows: RoaringBitmap = (0..200_000).step_by(3).collect();
        rows.insert_range(1_000_000..1_070_000);
        rows.extend([u32::MAX - 1, u32::MAX]);
        rows.optimize();
        let ranks = block_ranks(&rows);
        for row in rows.iter().step_by(101).chain([0, u32::MAX]) {
            assert_eq!(
                position_in(&rows, &ranks, row),
                Some(rows.rank(row) as usize - 1),
                "row {row}"
            );
        }
        assert!(block_ranks(&RoaringBitmap::new()).is_empty());
    }
}
