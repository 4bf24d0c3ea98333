//! Consistent read views.
//!
//! A [`Snapshot`] pins one [`Version`]: a list of immutable layers (segment files, then sealed
//! memory layers, oldest first) and the schemas. Nothing in a version ever changes, so a reader
//! needs no lock while it reads, and flushes or compactions that publish a newer version do not
//! disturb it.
//!
//! Resolution rule: for each column, a row's value is the one in the newest layer that sets
//! that column for that row; a row deleted in any layer is gone from every column.

use crate::error::{Error, Result};
use crate::memtable::{MemColumn, MemLayer, MemTable};
use crate::schema::{TableKind, TableSchema};
use crate::segment::{Segment, SegmentColumn};
use crate::value::Value;
use roaring::RoaringBitmap;
use std::sync::{Arc, OnceLock};

/// An immutable state of the database that snapshots share.
#[derive(Debug, Clone, Default)]
pub(crate) struct Version {
    /// Segment files, oldest first (both tables).
    pub segments: Vec<Arc<Segment>>,
    /// Memory layers being written to a segment by a flush; newer than every segment.
    pub flushing: Vec<Arc<MemLayer>>,
    /// Sealed memory layers, oldest first; newer than every flushing layer.
    pub mem_layers: Vec<Arc<MemLayer>>,
    /// Column lists of the profiles table.
    pub profiles_schema: Arc<TableSchema>,
    /// Column lists of the events table.
    pub events_schema: Arc<TableSchema>,
    /// Highest WAL sequence number whose effects the version holds.
    pub last_lsn: u64,
}

/// One layer of a table, as a read sees it.
#[derive(Debug, Clone, Copy)]
pub enum Layer<'s> {
    /// A segment file.
    Segment(&'s Segment),
    /// A sealed memory layer.
    Memory(&'s MemTable),
}

impl Layer<'_> {
    /// Rows the layer holds data for.
    #[must_use]
    pub fn rows(&self) -> &RoaringBitmap {
        match self {
            Layer::Segment(segment) => segment.rows(),
            Layer::Memory(table) => table.rows(),
        }
    }

    /// Rows the layer deletes.
    #[must_use]
    pub fn deleted(&self) -> &RoaringBitmap {
        match self {
            Layer::Segment(segment) => segment.deleted(),
            Layer::Memory(table) => table.deleted(),
        }
    }

    fn present(&self, column: &str) -> Option<&RoaringBitmap> {
        match self {
            Layer::Segment(segment) => segment.column(column).map(|c| &c.present),
            Layer::Memory(table) => table.column(column).map(MemColumn::present),
        }
    }
}

/// Where the values of one [`ColumnPart`] are stored.
#[derive(Debug, Clone, Copy)]
pub enum PartSource<'s> {
    /// A column of a segment file.
    Segment {
        /// The segment.
        segment: &'s Segment,
        /// The column's directory entry.
        column: &'s SegmentColumn,
    },
    /// A column of a memory layer.
    Memory(&'s MemColumn),
}

/// The rows of one column whose current value lives in one layer.
#[derive(Debug, Clone)]
pub struct ColumnPart<'s> {
    /// Live rows whose current value for the column is in this layer.
    pub visible: RoaringBitmap,
    /// Where the values are.
    pub source: PartSource<'s>,
}

#[derive(Debug)]
struct TableRows {
    live: RoaringBitmap,
    deleted: RoaringBitmap,
}

/// A consistent, read-only view of the whole database at one moment.
#[derive(Debug)]
pub struct Snapshot {
    version: Arc<Version>,
    rows: [OnceLock<TableRows>; 2],
}

fn slot(table: TableKind) -> usize {
    match table {
        TableKind::Profiles => 0,
        TableKind::Events => 1,
    }
}

impl Snapshot {
    pub(crate) fn new(version: Arc<Version>) -> Snapshot {
        Snapshot {
            version,
            rows: [OnceLock::new(), OnceLock::new()],
        }
    }

    /// Highest WAL sequence number whose effects this snapshot sees.
    #[must_use]
    pub fn last_lsn(&self) -> u64 {
        self.version.last_lsn
    }

    /// The columns of `table`.
    #[must_use]
    pub fn schema(&self, table: TableKind) -> &TableSchema {
        match table {
            TableKind::Profiles => &self.version.profiles_schema,
            TableKind::Events => &self.version.events_schema,
        }
    }

    /// The layers of `table`, oldest first.
    #[must_use]
    pub fn layers(&self, table: TableKind) -> Vec<Layer<'_>> {
        let segments = self
            .version
            .segments
            .iter()
            .filter(|s| s.table() == table)
            .map(|s| Layer::Segment(s));
        let memory = self
            .version
            .flushing
            .iter()
            .chain(&self.version.mem_layers)
            .map(|m| Layer::Memory(m.table(table)));
        segments.chain(memory).collect()
    }

    /// Segment files of every table, oldest first.
    #[must_use]
    pub fn segments(&self) -> &[Arc<Segment>] {
        &self.version.segments
    }

    fn table_rows(&self, table: TableKind) -> &TableRows {
        self.rows[slot(table)].get_or_init(|| {
            let layers = self.layers(table);
            let mut deleted = RoaringBitmap::new();
            let mut all = RoaringBitmap::new();
            for layer in &layers {
                deleted |= layer.deleted();
                all |= layer.rows();
            }
            TableRows {
                live: all - &deleted,
                deleted,
            }
        })
    }

    /// Rows of `table` that exist (written and not deleted).
    #[must_use]
    pub fn live_rows(&self, table: TableKind) -> &RoaringBitmap {
        &self.table_rows(table).live
    }

    /// Rows of `table` that were deleted.
    #[must_use]
    pub fn deleted_rows(&self, table: TableKind) -> &RoaringBitmap {
        &self.table_rows(table).deleted
    }

    /// Number of live rows of `table`.
    #[must_use]
    pub fn row_count(&self, table: TableKind) -> u64 {
        self.live_rows(table).len()
    }

    /// The parts of `column`, newest first: each live row with a value for the column appears
    /// in exactly one part. Rows in no part read as NULL.
    ///
    /// # Errors
    /// [`Error::UnknownColumn`].
    pub fn column_parts(&self, table: TableKind, column: &str) -> Result<Vec<ColumnPart<'_>>> {
        self.require_column(table, column)?;
        let deleted = self.deleted_rows(table);
        let layers = self.layers(table);
        let presents: Vec<Option<&RoaringBitmap>> =
            layers.iter().map(|layer| layer.present(column)).collect();
        let span = |rows: &RoaringBitmap| Some((rows.min()?, rows.max()?));
        let spans: Vec<Option<(u32, u32)>> = presents.iter().map(|p| p.and_then(&span)).collect();
        let deleted_span = span(deleted);
        let mut parts = Vec::new();
        for (index, layer) in layers.iter().enumerate().rev() {
            let (Some(present), Some((low, high))) = (presents[index], spans[index]) else {
                continue;
            };
            // Only newer layers (and deletions) whose row range meets this layer's can hide
            // its values; appended rows (events) usually meet none, so nothing is computed.
            let meets =
                |other: Option<(u32, u32)>| other.is_some_and(|(a, b)| a <= high && b >= low);
            let mut visible: Option<RoaringBitmap> = None;
            if meets(deleted_span) {
                visible = Some(present - deleted);
            }
            for newer in index + 1..layers.len() {
                if let (true, Some(hidden)) = (meets(spans[newer]), presents[newer]) {
                    let current = visible.get_or_insert_with(|| present.clone());
                    *current -= hidden;
                }
            }
            let visible = visible.unwrap_or_else(|| present.clone());
            if visible.is_empty() {
                continue;
            }
            let source = match *layer {
                Layer::Segment(segment) => PartSource::Segment {
                    segment,
                    column: segment.column(column).expect("present implies the column"),
                },
                Layer::Memory(table) => {
                    PartSource::Memory(table.column(column).expect("present implies the column"))
                }
            };
            parts.push(ColumnPart { visible, source });
        }
        Ok(parts)
    }

    fn require_column(&self, table: TableKind, column: &str) -> Result<()> {
        if self.schema(table).column(column).is_some() {
            Ok(())
        } else {
            Err(Error::UnknownColumn {
                table,
                column: column.to_owned(),
            })
        }
    }

    /// The current value of one cell (NULL when the row has none or does not exist).
    ///
    /// # Errors
    /// [`Error::UnknownColumn`], or corruption found while decoding.
    pub fn get(&self, table: TableKind, row: u32, column: &str) -> Result<Value> {
        let mut rows = RoaringBitmap::new();
        rows.insert(row);
        Ok(self
            .fetch(table, column, &rows)?
            .pop()
            .unwrap_or(Value::Null))
    }

    /// Values of `column` for `rows`, in ascending row order (NULL for rows without one).
    ///
    /// # Errors
    /// [`Error::UnknownColumn`], or corruption found while decoding.
    pub fn fetch(
        &self,
        table: TableKind,
        column: &str,
        rows: &RoaringBitmap,
    ) -> Result<Vec<Value>> {
        self.fetch_with(table, column, rows, false)
    }

    /// Like [`Snapshot::fetch`], but keeps the decoded chunks in the segments' caches, so the
    /// next query reading them skips checksums and decoding. For queries; bulk readers (dumps,
    /// compaction) use [`Snapshot::fetch`] so they do not pin whole tables in memory.
    ///
    /// # Errors
    /// [`Error::UnknownColumn`], or corruption found while decoding.
    pub fn fetch_cached(
        &self,
        table: TableKind,
        column: &str,
        rows: &RoaringBitmap,
    ) -> Result<Vec<Value>> {
        self.fetch_with(table, column, rows, true)
    }

    fn fetch_with(
        &self,
        table: TableKind,
        column: &str,
        rows: &RoaringBitmap,
        cache: bool,
    ) -> Result<Vec<Value>> {
        self.require_column(table, column)?;
        // Visibility is resolved for the wanted rows only, newest layer first: a row is read
        // from the newest layer that sets the column. Unlike `column_parts`, the cost follows
        // the number of rows asked for, not the size of the layers (point and small fetches).
        let mut remaining = rows - self.deleted_rows(table);
        let mut pieces: Vec<Vec<(u32, Value)>> = Vec::new();
        for layer in self.layers(table).iter().rev() {
            if remaining.is_empty() {
                break;
            }
            let Some(present) = layer.present(column) else {
                continue;
            };
            let wanted = &remaining & present;
            if wanted.is_empty() {
                continue;
            }
            remaining -= &wanted;
            match *layer {
                Layer::Segment(segment) => {
                    let column = segment.column(column).expect("present implies the column");
                    pieces.push(if cache {
                        segment.read_values_cached(column, &wanted)?
                    } else {
                        segment.read_values(column, &wanted)?
                    });
                }
                Layer::Memory(memory) => {
                    let memory = memory.column(column).expect("present implies the column");
                    pieces.push(memory.values_at(&wanted));
                }
            }
        }
        Ok(place_in_row_order(rows, pieces))
    }

    /// Whether `row` of `table` exists, checked against each layer (no table-wide bitmaps are
    /// built, so it is cheap on a fresh snapshot of a large table).
    #[must_use]
    pub fn is_live(&self, table: TableKind, row: u32) -> bool {
        let layers = self.layers(table);
        layers.iter().any(|l| l.rows().contains(row))
            && !layers.iter().any(|l| l.deleted().contains(row))
    }

    /// Point read of one cell: the newest layer that sets `column` for `row` is found by
    /// bitmap lookups and only that value is read (see [`Segment::value_at`]). NULL when the
    /// row has no value or does not exist.
    ///
    /// # Errors
    /// [`Error::UnknownColumn`], or corruption found while reading.
    pub fn read_cell(&self, table: TableKind, row: u32, column: &str) -> Result<Value> {
        self.require_column(table, column)?;
        match self.layers_holding(table, row) {
            Some(holding) => read_newest(&holding, row, column),
            None => Ok(Value::Null),
        }
    }

    /// The layers (oldest first) holding live `row`, `None` when the row is not live. A layer
    /// sets columns only for rows it holds, so point reads look up columns in these few layers
    /// instead of in each of the (possibly hundreds of) layers of the table.
    fn layers_holding(&self, table: TableKind, row: u32) -> Option<Vec<Layer<'_>>> {
        let layers = self.layers(table);
        if layers.iter().any(|l| l.deleted().contains(row)) {
            return None;
        }
        let holding: Vec<Layer<'_>> = layers
            .into_iter()
            .filter(|l| l.rows().contains(row))
            .collect();
        (!holding.is_empty()).then_some(holding)
    }

    /// Point read of one row: like [`Snapshot::row`], every non-NULL value in schema order
    /// (`None` if the row is not live), but each value is read alone instead of through a
    /// column scan, so the cost does not grow with the table.
    ///
    /// # Errors
    /// Corruption found while reading.
    pub fn read_row(&self, table: TableKind, row: u32) -> Result<Option<Vec<(String, Value)>>> {
        self.read_row_columns(table, row, |_| true)
    }

    /// Like [`Snapshot::read_row`], for the columns whose name `wanted` accepts only (callers
    /// that show part of a row skip reading the rest).
    ///
    /// # Errors
    /// Corruption found while reading.
    pub fn read_row_columns(
        &self,
        table: TableKind,
        row: u32,
        wanted: impl Fn(&str) -> bool,
    ) -> Result<Option<Vec<(String, Value)>>> {
        let Some(holding) = self.layers_holding(table, row) else {
            return Ok(None);
        };
        let mut values = Vec::new();
        for column in self.schema(table).columns() {
            if !wanted(&column.name) {
                continue;
            }
            let value = read_newest(&holding, row, &column.name)?;
            if !value.is_null() {
                values.push((column.name.clone(), value));
            }
        }
        Ok(Some(values))
    }

    /// Every non-NULL column value of one live row, in schema order; `None` if the row is not live.
    ///
    /// # Errors
    /// Corruption found while decoding.
    pub fn row(&self, table: TableKind, row: u32) -> Result<Option<Vec<(String, Value)>>> {
        if !self.live_rows(table).contains(row) {
            return Ok(None);
        }
        let mut values = Vec::new();
        for column in self.schema(table).columns() {
            let value = self.get(table, row, &column.name)?;
            if !value.is_null() {
                values.push((column.name.clone(), value));
            }
        }
        Ok(Some(values))
    }
}

/// The value of `column` at live `row` in the newest of `layers` (oldest first) that sets it.
fn read_newest(layers: &[Layer<'_>], row: u32, column: &str) -> Result<Value> {
    for layer in layers.iter().rev() {
        match layer {
            Layer::Segment(segment) => {
                if let Some(found) = segment.column(column).filter(|c| c.present.contains(row)) {
                    return segment.value_at(found, row);
                }
            }
            Layer::Memory(table) => {
                if let Some(value) = table.column(column).and_then(|c| c.get(row)) {
                    return Ok(value.clone());
                }
            }
        }
    }
    Ok(Value::Null)
}

/// The values of `rows` in row order, NULL where no piece has one. Each piece holds disjoint
/// rows of `rows` in ascending order, one piece per layer that had some.
///
/// Pieces of event columns usually cover one row range each, so laid end to end they are in
/// order already. Profile columns interleave: a profile's newest value sits in whichever
/// layer last wrote it. Each value is then put at its row's position, found by a binary search
/// over the rows, rather than sorting all (row, value) pairs: values are large to move.
fn place_in_row_order(rows: &RoaringBitmap, mut pieces: Vec<Vec<(u32, Value)>>) -> Vec<Value> {
    pieces.sort_by_key(|piece| piece.first().map(|(row, _)| *row));
    let in_order = pieces
        .windows(2)
        .all(|pair| pair[0].last().map(|(row, _)| *row) < pair[1].first().map(|(row, _)| *row));
    if in_order {
        let mut found = pieces.into_iter().flatten().peekable();
        return rows
            .iter()
            .map(|row| match found.peek() {
                Some((r, _)) if *r == row => found.next().map_or(Value::Null, |(_, v)| v),
                _ => Value::Null,
            })
            .collect();
    }
    let order: Vec<u32> = rows.iter().collect();
    let mut out = vec![Value::Null; order.len()];
    for piece in pieces {
        let mut from = 0;
        for (row, value) in piece {
            let at = from + order[from..].partition_point(|&r| r < row);
            // Pieces hold only wanted rows; a row that is not one is skipped, never misplaced.
            if order.get(at) == Some(&row) {
                out[at] = value;
                from = at + 1;
            } else {
                from = at;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::place_in_row_order;
    use crate::options::{Options, SyncMode};
    use crate::schema::TableKind;
    use crate::segment::layout::ROWS_PER_CHUNK;
    use crate::value::Value;
    use crate::{Database, WriteBatch};
    use proptest::prelude::*;
    use roaring::RoaringBitmap;

    /// Rows of a flushed segment whose chunks have gaps (every third row written) read back
    /// their own values, whether a fetch wants a few rows of a chunk (found by rank) or most
    /// of them (found in the chunk's row list), cached or not.
    #[test]
    fn fetches_from_chunks_with_gaps_return_each_rows_value() {
        let dir = std::env::temp_dir().join(format!("profiledb-gapped-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let options = Options {
            sync_mode: SyncMode::Never,
            ..Options::default()
        };
        let db = Database::open(&dir, options).expect("open");
        let written: Vec<u32> = (0..3 * (ROWS_PER_CHUNK * 5 / 2) as u32)
            .step_by(3)
            .collect();
        for rows in written.chunks(10_000) {
            let mut batch = WriteBatch::new();
            for &row in rows {
                batch.upsert_profile(row, vec![("n".to_owned(), Value::Int64(i64::from(row)))]);
            }
            db.write(&batch).expect("write");
        }
        db.flush().expect("flush");
        let snapshot = db.snapshot();
        let few: RoaringBitmap = written.iter().copied().step_by(977).chain([1, 2]).collect();
        let many: RoaringBitmap = written.iter().copied().skip(ROWS_PER_CHUNK / 2).collect();
        for wanted in [&few, &many] {
            let expected: Vec<Value> = wanted
                .iter()
                .map(|row| match row % 3 {
                    0 => Value::Int64(i64::from(row)),
                    _ => Value::Null,
                })
                .collect();
            let fetched = snapshot
                .fetch(TableKind::Profiles, "n", wanted)
                .expect("fetch");
            assert_eq!(fetched, expected);
            let cached = snapshot
                .fetch_cached(TableKind::Profiles, "n", wanted)
                .expect("fetch");
            assert_eq!(cached, expected);
        }
        drop(snapshot);
        db.close().expect("close");
        let _ = std::fs::remove_dir_all(&dir);
    }

    proptest! {
        /// Whatever layer each value came from, and whether the layers interleave or not,
        /// every wanted row gets its own value, and rows no layer had are NULL.
        #[test]
        fn fetched_values_follow_the_wanted_rows(
            cells in proptest::collection::btree_map(0u32..5_000, (0usize..4, any::<bool>()), 0..300),
            ranged in any::<bool>(),
        ) {
            let rows: RoaringBitmap = cells.keys().copied().collect();
            let mut pieces: Vec<Vec<(u32, Value)>> = vec![Vec::new(); 4];
            for (index, (&row, &(layer, has_value))) in cells.iter().enumerate() {
                // Ranged: each layer holds one run of rows, as event segments do.
                let layer = if ranged { index * 4 / cells.len() } else { layer };
                if has_value {
                    pieces[layer].push((row, Value::Int64(i64::from(row))));
                }
            }
            pieces.retain(|piece| !piece.is_empty());
            pieces.reverse();
            let expected: Vec<Value> = cells
                .values()
                .zip(cells.keys())
                .map(|(&(_, has_value), &row)| {
                    if has_value { Value::Int64(i64::from(row)) } else { Value::Null }
                })
                .collect();
            prop_assert_eq!(place_in_row_order(&rows, pieces), expected);
        }
    }
}
