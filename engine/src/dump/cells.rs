//! Encodes one column of a window of rows straight into dump cell bytes.
//!
//! Dumping is a transpose: segments store columns, a dump stores rows. Going through
//! [`Value`]s would allocate a `String` per string cell and clone every value; instead each
//! column of a window is encoded once into an arena, and a row is then assembled by copying
//! one byte range per column. String columns encode each dictionary entry of a chunk once and
//! let every row using it point at that range.
//!
//! Cells use exactly the encoding of [`ByteWriter::value`](crate::wire::ByteWriter::value):
//! a type tag (0 for NULL), then the payload.

use super::error::DumpError;
use crate::codec::ChunkValues;
use crate::schema::TableKind;
use crate::segment::{Segment, SegmentColumn};
use crate::snapshot::{ColumnPart, PartSource, Snapshot};
use crate::value::{ColumnType, Value};
use crate::wire::ByteWriter;
use roaring::RoaringBitmap;
use std::ops::Range;
use std::sync::Arc;

/// The encoded cells of one column for the rows of one window.
#[derive(Debug, Default)]
pub(super) struct ColumnCells {
    /// Encoded values; byte 0 is a NULL cell shared by every row without a value.
    arena: Vec<u8>,
    /// The byte range of each window row's cell in `arena`.
    slots: Vec<Range<usize>>,
}

/// The range of the shared NULL cell.
const NULL_CELL: Range<usize> = 0..1;

impl ColumnCells {
    /// Empties the cells for a window of `rows` rows, all NULL.
    fn reset(&mut self, rows: usize) {
        self.arena.clear();
        self.arena.push(0);
        self.slots.clear();
        self.slots.resize(rows, NULL_CELL);
    }

    /// The encoded cell of window row `index`.
    pub(super) fn cell(&self, index: usize) -> &[u8] {
        &self.arena[self.slots[index].clone()]
    }

    fn put_value(&mut self, index: usize, value: &Value) {
        let mut writer = ByteWriter::new();
        writer.value(value);
        let start = self.arena.len();
        self.arena.extend_from_slice(&writer.into_bytes());
        self.slots[index] = start..self.arena.len();
    }
}

/// Where each window row's value of one column lives: the column's parts, computed once per
/// dump so each window only intersects them with its own row range.
pub(super) struct ColumnSource<'s> {
    parts: Vec<ColumnPart<'s>>,
}

impl<'s> ColumnSource<'s> {
    /// The parts of `column` of `table` in `snapshot`.
    pub(super) fn new(
        snapshot: &'s Snapshot,
        table: TableKind,
        column: &str,
    ) -> Result<Self, DumpError> {
        Ok(ColumnSource {
            parts: snapshot.column_parts(table, column)?,
        })
    }

    /// Encodes the column's values for `window` (ascending live rows, also given as the
    /// bitmap `window_rows`) into `cells`.
    pub(super) fn fill(
        &self,
        window: &[u32],
        window_rows: &RoaringBitmap,
        cells: &mut ColumnCells,
    ) -> Result<(), DumpError> {
        cells.reset(window.len());
        for part in &self.parts {
            let wanted = window_rows & &part.visible;
            if wanted.is_empty() {
                continue;
            }
            match part.source {
                PartSource::Segment { segment, column } => {
                    fill_from_segment(segment, column, &wanted, window, cells)?;
                }
                PartSource::Memory(memory) => {
                    let mut positions = Positions::new(window);
                    for row in &wanted {
                        if let Some(value) = memory.get(row) {
                            cells.put_value(positions.index_of(row), value);
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// Finds the window index of ascending rows by walking the window once.
struct Positions<'w> {
    window: &'w [u32],
    next: usize,
}

impl<'w> Positions<'w> {
    fn new(window: &'w [u32]) -> Self {
        Positions { window, next: 0 }
    }

    /// The index of `row`, which must be in the window and above every row asked before.
    fn index_of(&mut self, row: u32) -> usize {
        // Rows usually follow each other in the window; search only when some were skipped.
        if self.window.get(self.next) != Some(&row) {
            self.next += self.window[self.next..].partition_point(|&r| r < row);
        }
        self.next += 1;
        self.next - 1
    }
}

fn fill_from_segment(
    segment: &Segment,
    column: &SegmentColumn,
    wanted: &RoaringBitmap,
    window: &[u32],
    cells: &mut ColumnCells,
) -> Result<(), DumpError> {
    let (Some(lowest), Some(highest)) = (wanted.min(), wanted.max()) else {
        return Ok(());
    };
    let mut positions = Positions::new(window);
    for index in 0..segment.chunk_count() {
        let (first, next) = segment.chunk_row_bounds(index);
        if next.is_some_and(|next| next <= lowest) {
            continue;
        }
        if first > highest {
            break;
        }
        let rows = match next {
            Some(end) => wanted.range(first..end),
            None => wanted.range(first..),
        };
        let mut rows = rows.peekable();
        if rows.peek().is_none() {
            continue;
        }
        let chunk = ChunkCells::decode(segment, column, index)?;
        let dense_start = segment.chunk_dense_start(index);
        let chunk_rows = match dense_start {
            Some(_) => Vec::new(),
            None => segment.chunk_rows(index),
        };
        let mut encoder = chunk.encoder(cells);
        for row in rows {
            let position = match dense_start {
                Some(start) => Some((row - start) as usize),
                None => chunk_rows.binary_search(&row).ok(),
            };
            let position = position
                .filter(|&p| p < chunk.values().len())
                .ok_or_else(|| {
                    let reason = format!("row {row} missing from column `{}`", column.name);
                    crate::error::Error::corrupt(segment.path(), 0, reason)
                })?;
            let slot = encoder.encode(cells, position);
            cells.slots[positions.index_of(row)] = slot;
        }
    }
    Ok(())
}

/// One decoded chunk with its null positions.
struct ChunkCells {
    decoded: Arc<(ChunkValues, RoaringBitmap)>,
}

impl ChunkCells {
    /// Decodes chunk `index` of `column` (from the segment's cache when a query already did;
    /// otherwise without filling the cache, so a dump does not pin the whole table in memory).
    fn decode(
        segment: &Segment,
        column: &SegmentColumn,
        index: usize,
    ) -> Result<ChunkCells, DumpError> {
        if let Some(cached) = segment
            .chunk_cache(column, index)
            .and_then(|cache| cache.values.get())
        {
            return Ok(ChunkCells {
                decoded: Arc::clone(cached),
            });
        }
        let chunk = segment.chunk(column, index)?;
        let location = &column.chunks[index];
        let failed = |e| segment.chunk_error(location, &column.name, &e);
        let values = chunk.decode().map_err(failed)?;
        let nulls = chunk.null_rows().map_err(failed)?;
        Ok(ChunkCells {
            decoded: Arc::new((values, nulls)),
        })
    }

    fn values(&self) -> &ChunkValues {
        &self.decoded.0
    }

    fn nulls(&self) -> &RoaringBitmap {
        &self.decoded.1
    }

    /// An encoder writing this chunk's cells into `cells`' arena.
    fn encoder(&self, cells: &mut ColumnCells) -> ChunkEncoder<'_> {
        let dictionary = match self.values() {
            ChunkValues::String { dictionary, .. } => dictionary
                .iter()
                .map(|entry| {
                    let start = cells.arena.len();
                    cells.arena.push(ColumnType::String.tag());
                    push_str(&mut cells.arena, entry);
                    start..cells.arena.len()
                })
                .collect(),
            _ => Vec::new(),
        };
        ChunkEncoder {
            chunk: self,
            dictionary,
        }
    }
}

/// Encodes the cells of one chunk; string cells point at pre-encoded dictionary entries.
struct ChunkEncoder<'c> {
    chunk: &'c ChunkCells,
    dictionary: Vec<Range<usize>>,
}

impl ChunkEncoder<'_> {
    /// The range in `cells`' arena of the cell at chunk `position` (in bounds).
    fn encode(&mut self, cells: &mut ColumnCells, position: usize) -> Range<usize> {
        let chunk = self.chunk;
        let nulls = chunk.nulls();
        if !nulls.is_empty() && nulls.contains(position as u32) {
            return NULL_CELL;
        }
        let arena = &mut cells.arena;
        let start = arena.len();
        match chunk.values() {
            ChunkValues::Bool(values) => {
                arena.extend_from_slice(&[ColumnType::Bool.tag(), u8::from(values[position])]);
            }
            ChunkValues::Int64(values) => push_fixed(arena, ColumnType::Int64, values[position]),
            ChunkValues::Timestamp(values) => {
                push_fixed(arena, ColumnType::Timestamp, values[position]);
            }
            ChunkValues::Float64(values) => {
                arena.push(ColumnType::Float64.tag());
                arena.extend_from_slice(&values[position].to_bits().to_le_bytes());
            }
            ChunkValues::String { codes, .. } => {
                return self
                    .dictionary
                    .get(codes[position] as usize)
                    .cloned()
                    .unwrap_or(NULL_CELL);
            }
            ChunkValues::StringList {
                dictionary,
                offsets,
                codes,
            } => {
                let items = &codes[offsets[position] as usize..offsets[position + 1] as usize];
                arena.push(ColumnType::StringList.tag());
                let count = u32::try_from(items.len()).expect("a list of one chunk row");
                arena.extend_from_slice(&count.to_le_bytes());
                for &code in items {
                    push_str(
                        arena,
                        dictionary.get(code as usize).map_or("", String::as_str),
                    );
                }
            }
        }
        start..arena.len()
    }
}

fn push_fixed(arena: &mut Vec<u8>, column_type: ColumnType, value: i64) {
    arena.push(column_type.tag());
    arena.extend_from_slice(&value.to_le_bytes());
}

/// A u32 length, then the bytes (string lengths are bounded by the chunk that held them).
fn push_str(arena: &mut Vec<u8>, text: &str) {
    let len = u32::try_from(text.len()).expect("a string of one chunk stays below 4 GiB");
    arena.extend_from_slice(&len.to_le_bytes());
    arena.extend_from_slice(text.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{ChunkBuilder, ChunkReader};

    /// Every cell the encoder writes is byte for byte what `ByteWriter::value` writes.
    #[test]
    fn cells_match_the_value_encoding() {
        let columns: Vec<(ColumnType, Vec<Value>)> = vec![
            (
                ColumnType::Bool,
                vec![Value::Bool(true), Value::Null, Value::Bool(false)],
            ),
            (
                ColumnType::Int64,
                vec![Value::Int64(i64::MIN), Value::Null, Value::Int64(7)],
            ),
            (
                ColumnType::Timestamp,
                vec![Value::Null, Value::Timestamp(-5), Value::Timestamp(1 << 50)],
            ),
            (
                ColumnType::Float64,
                vec![Value::Float64(-0.0), Value::Float64(f64::NAN), Value::Null],
            ),
            (
                ColumnType::String,
                vec![
                    Value::String("Zürich".into()),
                    Value::Null,
                    Value::String(String::new()),
                ],
            ),
            (
                ColumnType::StringList,
                vec![
                    Value::StringList(vec!["b".into(), "a".into(), "b".into()]),
                    Value::Null,
                    Value::StringList(Vec::new()),
                ],
            ),
        ];
        for (column_type, values) in columns {
            let mut builder = ChunkBuilder::new(column_type);
            for value in &values {
                builder.push(value).unwrap();
            }
            let bytes = builder.finish();
            let reader = ChunkReader::open(&bytes).unwrap();
            let chunk = ChunkCells {
                decoded: Arc::new((reader.decode().unwrap(), reader.null_rows().unwrap())),
            };
            let mut cells = ColumnCells::default();
            cells.reset(values.len());
            let mut encoder = chunk.encoder(&mut cells);
            for (position, value) in values.iter().enumerate() {
                cells.slots[position] = encoder.encode(&mut cells, position);
                let mut expected = ByteWriter::new();
                expected.value(value);
                assert_eq!(
                    cells.cell(position),
                    expected.into_bytes().as_slice(),
                    "{column_type} {value:?}"
                );
            }
        }
    }
}
