//! The in-memory head of the database: recent writes not yet flushed to a segment.
//!
//! The writer appends mutations to a [`MemLayerBuilder`]. When a reader asks for a snapshot,
//! the builder is sealed into an immutable [`MemLayer`] that snapshots share by `Arc`, so
//! readers never hold a lock while they read. The database merges sealed layers a few at a
//! time ([`MemLayer::merge_all`]), so a stream of small seals keeps the layer count
//! logarithmic while each cell is copied only a few times before the flush.

use crate::mutation::{ColumnName, Mutation};
use crate::schema::TableKind;
use crate::value::Value;
use roaring::RoaringBitmap;
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;
use std::sync::Arc;

mod merge;

pub use merge::{MergedCells, MergedColumn, MergedTable};

/// Most cells a builder column reserves room for up front (about 2.5 MiB): enough for a large
/// call's share, without a once-busy column holding megabytes for a few cells.
const MAX_PRESIZED_CELLS: usize = 65_536;

/// Rough bytes of bookkeeping per stored cell besides the value itself.
const CELL_OVERHEAD_BYTES: usize = 48;

/// [`MemColumn::values_at`] searches a run when fewer than one in this many of its rows are
/// wanted, and walks it otherwise.
const BINARY_SEARCH_SHARE: u64 = 16;

/// The values one layer holds for one column, sorted by row, one value per row.
///
/// The cells live in runs shared by `Arc`: merging a layer whose rows all follow the older
/// layer's rows (the usual case for appended events and new profiles) concatenates the run
/// lists instead of copying every value.
#[derive(Debug, Clone, Default)]
pub struct MemColumn {
    runs: Vec<Arc<Run>>,
    present: RoaringBitmap,
}

/// Cells of consecutive, ascending rows.
#[derive(Debug, Default)]
struct Run {
    rows: Vec<u32>,
    values: Vec<Value>,
}

impl MemColumn {
    fn from_sorted(rows: Vec<u32>, values: Vec<Value>) -> Self {
        let present = sorted_rows_bitmap(&rows);
        let runs = if rows.is_empty() {
            Vec::new()
        } else {
            vec![Arc::new(Run { rows, values })]
        };
        MemColumn { runs, present }
    }

    /// Rows this layer writes for the column (a NULL written counts as present).
    #[must_use]
    pub fn present(&self) -> &RoaringBitmap {
        &self.present
    }

    /// The value written for `row`, if this layer wrote one.
    #[must_use]
    pub fn get(&self, row: u32) -> Option<&Value> {
        if !self.present.contains(row) {
            return None;
        }
        // Runs are ascending and disjoint: the run holding `row` is the last one starting
        // at or before it.
        let index = self
            .runs
            .partition_point(|run| run.rows.first().is_some_and(|&first| first <= row));
        let run = self.runs.get(index.checked_sub(1)?)?;
        run.rows
            .binary_search(&row)
            .ok()
            .and_then(|i| run.values.get(i))
    }

    /// The values of `wanted` rows this layer wrote, in row order, each with its row.
    ///
    /// Walks runs and wanted rows together, as both ascend: a run's wanted rows are found by
    /// one pass over the run when they are many, by binary search from the last one found when
    /// they are few, and no row costs a lookup in `present` or a search among the runs.
    #[must_use]
    pub fn values_at(&self, wanted: &RoaringBitmap) -> Vec<(u32, Value)> {
        let mut out = Vec::with_capacity(usize::try_from(wanted.len()).unwrap_or(0));
        for run in &self.runs {
            let (Some(&first), Some(&last)) = (run.rows.first(), run.rows.last()) else {
                continue;
            };
            let count = wanted.range_cardinality(first..=last);
            if count == 0 {
                continue;
            }
            let searched = count.saturating_mul(BINARY_SEARCH_SHARE) < run.rows.len() as u64;
            let mut from = 0;
            for row in wanted.range(first..=last) {
                let found = if searched {
                    run.rows[from..].binary_search(&row)
                } else {
                    let skipped = run.rows[from..].iter().take_while(|&&r| r < row).count();
                    match run.rows.get(from + skipped) {
                        Some(&r) if r == row => Ok(skipped),
                        _ => Err(skipped),
                    }
                };
                match found {
                    Ok(offset) => {
                        from += offset;
                        out.push((row, run.values[from].clone()));
                        from += 1;
                    }
                    Err(offset) => from += offset,
                }
            }
        }
        out
    }

    /// Every (row, value) pair, in row order.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &Value)> {
        self.runs
            .iter()
            .flat_map(|run| run.rows.iter().copied().zip(run.values.iter()))
    }

    /// Number of rows written.
    #[must_use]
    pub fn len(&self) -> usize {
        usize::try_from(self.present.len()).unwrap_or(usize::MAX)
    }

    /// Whether no row was written.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.present.is_empty()
    }

    fn first_row(&self) -> Option<u32> {
        self.present.min()
    }

    fn last_row(&self) -> Option<u32> {
        self.present.max()
    }
}

/// Widest span of rows, per row, that [`sorted_rows_bitmap`] sets as bits in a byte array
/// (then handed to roaring whole) rather than inserts one at a time.
const MAX_SPAN_PER_ROW_FOR_BYTES: usize = 32;

/// The bitmap of sorted, unique `rows`. Rows of appended events are usually consecutive,
/// and a range is far cheaper to add than its rows one by one. Rows that are close but not
/// consecutive (an events column most messages set) are set as bits of a byte array, which
/// roaring turns into containers in bulk; only widely spread rows are inserted one by one.
fn sorted_rows_bitmap(rows: &[u32]) -> RoaringBitmap {
    let (Some(&first), Some(&last)) = (rows.first(), rows.last()) else {
        return RoaringBitmap::new();
    };
    let mut bitmap = RoaringBitmap::new();
    if (last - first) as usize + 1 == rows.len() {
        bitmap.insert_range(first..=last);
        return bitmap;
    }
    // Roaring takes byte arrays that start at a multiple of 8.
    let base = first & !7;
    let span = (last - base) as usize + 1;
    if span > rows.len().saturating_mul(MAX_SPAN_PER_ROW_FOR_BYTES) {
        return RoaringBitmap::from_sorted_iter(rows.iter().copied())
            .expect("rows are sorted and unique");
    }
    let mut bytes = vec![0u8; span.div_ceil(8)];
    for &row in rows {
        let bit = (row - base) as usize;
        bytes[bit / 8] |= 1 << (bit % 8);
    }
    RoaringBitmap::from_lsb0_bytes(base, &bytes)
}

/// One table's part of a [`MemLayer`].
#[derive(Debug, Clone, Default)]
pub struct MemTable {
    rows: RoaringBitmap,
    deleted: RoaringBitmap,
    columns: BTreeMap<String, MemColumn>,
}

impl MemTable {
    /// Rows written (any column) in this layer.
    #[must_use]
    pub fn rows(&self) -> &RoaringBitmap {
        &self.rows
    }

    /// Rows deleted in this layer.
    #[must_use]
    pub fn deleted(&self) -> &RoaringBitmap {
        &self.deleted
    }

    /// The column called `name`, if this layer wrote it.
    #[must_use]
    pub fn column(&self, name: &str) -> Option<&MemColumn> {
        self.columns.get(name)
    }

    /// Every column this layer wrote.
    pub fn columns(&self) -> impl Iterator<Item = (&str, &MemColumn)> {
        self.columns.iter().map(|(k, v)| (k.as_str(), v))
    }
}

/// An immutable set of recent writes, shared by snapshots.
#[derive(Debug, Clone, Default)]
pub struct MemLayer {
    profiles: MemTable,
    events: MemTable,
    approximate_bytes: usize,
    /// 0 for a sealed builder; a merge makes a layer one above the highest it merged.
    level: u32,
}

impl MemLayer {
    /// The part of this layer for `table`.
    #[must_use]
    pub fn table(&self, table: TableKind) -> &MemTable {
        match table {
            TableKind::Profiles => &self.profiles,
            TableKind::Events => &self.events,
        }
    }

    /// Rough memory held, for deciding when to flush.
    #[must_use]
    pub fn approximate_bytes(&self) -> usize {
        self.approximate_bytes
    }

    /// How many rounds of merging made this layer (for merge scheduling).
    #[must_use]
    pub fn level(&self) -> u32 {
        self.level
    }
}

/// Collects mutations in arrival order until sealed into a [`MemLayer`].
#[derive(Debug, Default)]
pub struct MemLayerBuilder {
    tables: [BuilderTable; 2],
    approximate_bytes: usize,
}

#[derive(Debug, Default)]
struct BuilderTable {
    rows: RowSet,
    deleted: RoaringBitmap,
    /// Cells of each column, in order of the column's first write since the last seal.
    columns: Vec<(String, Vec<(u32, Value)>)>,
    /// Position in `columns` by name.
    index: FxHashMap<String, usize>,
    /// Position in `columns` of the column at each place of the last row written. Rows from
    /// one source list the same columns in the same order, so comparing the name found
    /// there usually spares hashing it.
    by_place: Vec<usize>,
    /// Cells each column held at the last seal: the next vectors start that large instead
    /// of growing (and copying) their way there.
    sizes_at_seal: FxHashMap<String, usize>,
}

fn table_index(table: TableKind) -> usize {
    match table {
        TableKind::Profiles => 0,
        TableKind::Events => 1,
    }
}

impl MemLayerBuilder {
    /// Records one mutation (already validated against the schema).
    pub fn apply(&mut self, mutation: Mutation) {
        let table = &mut self.tables[table_index(mutation.table())];
        match mutation {
            Mutation::Upsert { row, values, .. } => {
                table.rows.insert(row);
                for (place, (name, value)) in values.into_iter().enumerate() {
                    self.approximate_bytes += CELL_OVERHEAD_BYTES + value_heap_bytes(&value);
                    let column = table.column_at(place, name);
                    column.push((row, value));
                }
            }
            Mutation::Delete { row, .. } => {
                table.deleted.insert(row);
            }
            // Schema-only: the writer's schema records it; there is no cell to hold.
            Mutation::DefineColumn { .. } => {}
        }
    }

    /// Whether nothing was recorded since the last seal.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.tables
            .iter()
            .all(|t| t.rows.is_empty() && t.deleted.is_empty())
    }

    /// Rough memory held.
    #[must_use]
    pub fn approximate_bytes(&self) -> usize {
        self.approximate_bytes
    }

    /// Turns what was recorded into an immutable layer and empties the builder.
    pub fn seal(&mut self) -> MemLayer {
        let approximate_bytes = std::mem::take(&mut self.approximate_bytes);
        let [profiles, events] = &mut self.tables;
        let profiles = profiles.seal();
        let events = events.seal();
        MemLayer {
            profiles,
            events,
            approximate_bytes,
            level: 0,
        }
    }
}

impl BuilderTable {
    /// The cells of column `name`, written at `place` of the current row.
    fn column_at(&mut self, place: usize, name: ColumnName) -> &mut Vec<(u32, Value)> {
        let hinted = self
            .by_place
            .get(place)
            .copied()
            .filter(|&slot| self.columns.get(slot).is_some_and(|(n, _)| **n == *name));
        let slot = match hinted {
            Some(slot) => slot,
            None => {
                let slot = self.slot_of(name);
                if place < self.by_place.len() {
                    self.by_place[place] = slot;
                } else if place == self.by_place.len() {
                    self.by_place.push(slot);
                }
                slot
            }
        };
        &mut self.columns[slot].1
    }

    /// Position of column `name` in `columns`, added when new.
    fn slot_of(&mut self, name: ColumnName) -> usize {
        if let Some(&slot) = self.index.get(&*name) {
            return slot;
        }
        let expected = self
            .sizes_at_seal
            .get(&*name)
            .map_or(0, |&cells| cells.min(MAX_PRESIZED_CELLS));
        let name = name.into_owned();
        let slot = self.columns.len();
        self.index.insert(name.clone(), slot);
        self.columns.push((name, Vec::with_capacity(expected)));
        slot
    }

    /// Turns the recorded cells into a table and empties this one (keeping its size hints).
    fn seal(&mut self) -> MemTable {
        let deleted = std::mem::take(&mut self.deleted);
        let rows = std::mem::take(&mut self.rows).into_bitmap();
        self.index.clear();
        self.by_place.clear();
        let mut columns = BTreeMap::new();
        for (name, cells) in std::mem::take(&mut self.columns) {
            self.sizes_at_seal.insert(name.clone(), cells.len());
            let column = sort_last_wins(cells, &deleted);
            if !column.is_empty() {
                columns.insert(name, column);
            }
        }
        MemTable {
            rows: &rows - &deleted,
            deleted,
            columns,
        }
    }
}

/// Rows written since the last seal. Consecutive rows (appended events, new profiles) are
/// gathered into a run and enter the bitmap as one range, which costs far less than an
/// insert per row.
#[derive(Debug, Default)]
struct RowSet {
    bitmap: RoaringBitmap,
    /// The run being gathered: first and last row, inclusive.
    run: Option<(u32, u32)>,
}

impl RowSet {
    fn insert(&mut self, row: u32) {
        match &mut self.run {
            Some((_, last)) if last.checked_add(1) == Some(row) => *last = row,
            Some((first, last)) if (*first..=*last).contains(&row) => {}
            _ => {
                self.close_run();
                self.run = Some((row, row));
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.run.is_none() && self.bitmap.is_empty()
    }

    fn close_run(&mut self) {
        if let Some((first, last)) = self.run.take() {
            self.bitmap.insert_range(first..=last);
        }
    }

    fn into_bitmap(mut self) -> RoaringBitmap {
        self.close_run();
        self.bitmap
    }
}

/// Sorts cells by row; for a row written twice the later write wins.
fn sort_last_wins(mut cells: Vec<(u32, Value)>, deleted: &RoaringBitmap) -> MemColumn {
    // A stable sort keeps arrival order among equal rows, so the last of a run is the newest.
    cells.sort_by_key(|(row, _)| *row);
    let mut rows: Vec<u32> = Vec::with_capacity(cells.len());
    let mut values: Vec<Value> = Vec::with_capacity(cells.len());
    let deleted = DeletedRows::new(deleted);
    for (row, value) in cells {
        if deleted.contains(row) {
            continue;
        }
        if rows.last() == Some(&row) {
            if let Some(last) = values.last_mut() {
                *last = value;
            }
        } else {
            rows.push(row);
            values.push(value);
        }
    }
    MemColumn::from_sorted(rows, values)
}

/// Deleted rows, checked against their range first: deletions usually reach older rows
/// (events moved to another profile) than the cells checked, and a range check is far
/// cheaper than a bitmap lookup.
#[derive(Debug)]
struct DeletedRows<'a> {
    rows: &'a RoaringBitmap,
    /// Lowest and highest deleted row; `None` when none is.
    span: Option<(u32, u32)>,
}

impl<'a> DeletedRows<'a> {
    fn new(rows: &'a RoaringBitmap) -> Self {
        DeletedRows {
            rows,
            span: rows.min().zip(rows.max()),
        }
    }

    fn contains(&self, row: u32) -> bool {
        self.span
            .is_some_and(|(low, high)| (low..=high).contains(&row))
            && self.rows.contains(row)
    }
}

fn value_heap_bytes(value: &Value) -> usize {
    match value {
        Value::String(s) => s.len(),
        Value::StringList(list) => list.iter().map(|s| s.len() + 24).sum(),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upsert(row: u32, column: &str, value: Value) -> Mutation {
        Mutation::Upsert {
            table: TableKind::Profiles,
            row,
            values: vec![(column.to_owned().into(), value)],
        }
    }

    #[test]
    fn later_writes_win_within_a_layer_and_across_merges() {
        let mut builder = MemLayerBuilder::default();
        builder.apply(upsert(3, "plan", Value::String("free".into())));
        builder.apply(upsert(1, "plan", Value::String("pro".into())));
        builder.apply(upsert(3, "plan", Value::String("team".into())));
        let older = builder.seal();
        assert!(builder.is_empty());
        let column = older.table(TableKind::Profiles).column("plan").unwrap();
        assert_eq!(column.get(3), Some(&Value::String("team".into())));
        assert_eq!(column.len(), 2);

        builder.apply(upsert(1, "plan", Value::Null));
        builder.apply(Mutation::Delete {
            table: TableKind::Profiles,
            row: 3,
        });
        let newer = builder.seal();
        let merged = MemLayer::merge_all(&[Arc::new(older), Arc::new(newer)]);
        let table = merged.table(TableKind::Profiles);
        assert_eq!(table.column("plan").unwrap().get(1), Some(&Value::Null));
        assert_eq!(table.column("plan").unwrap().get(3), None);
        assert!(table.deleted().contains(3));
        assert!(!table.rows().contains(3));
    }

    proptest::proptest! {
        /// A bulk lookup over several runs gives, for every wanted row the layer wrote, the
        /// value a point lookup gives, in row order; wanted rows it did not write are left out.
        /// Dense and sparse wants take the walking and the searching paths.
        #[test]
        fn bulk_lookups_match_point_lookups(
            runs in proptest::collection::vec(proptest::collection::btree_set(0u32..2_000, 0..120), 1..5),
            wanted in proptest::collection::btree_set(0u32..10_000, 0..400),
        ) {
            let mut column = MemColumn::default();
            let mut base = 0;
            for rows in runs {
                // Each run lies past the one before, as runs do.
                let rows: Vec<u32> = rows.into_iter().map(|r| base + r).collect();
                base += 2_000;
                if rows.is_empty() {
                    continue;
                }
                let values = rows.iter().map(|&r| Value::Int64(i64::from(r) * 7)).collect();
                column.present.extend(rows.iter().copied());
                column.runs.push(Arc::new(Run { rows, values }));
            }
            let wanted: RoaringBitmap = wanted.into_iter().collect();
            let expected: Vec<(u32, Value)> = wanted
                .iter()
                .filter_map(|row| column.get(row).map(|v| (row, v.clone())))
                .collect();
            proptest::prop_assert_eq!(column.values_at(&wanted), expected);
        }

        /// However close or spread the rows, and wherever they sit (up to the largest row
        /// id), the bitmap holds exactly them.
        #[test]
        fn row_bitmaps_hold_exactly_their_rows(
            start in proptest::prop_oneof![0u32..100, (u32::MAX - 5_000)..=u32::MAX],
            gaps in proptest::collection::vec(proptest::prop_oneof![1u32..3, 1u32..40, 1u32..5_000], 0..300),
        ) {
            let mut rows = vec![start];
            for gap in gaps {
                match rows.last().and_then(|last| last.checked_add(gap)) {
                    Some(next) => rows.push(next),
                    None => break,
                }
            }
            let expected: RoaringBitmap = rows.iter().copied().collect();
            proptest::prop_assert_eq!(sorted_rows_bitmap(&rows), expected);
        }

        /// Runs of consecutive rows, repeats, rows going back and the largest row id all
        /// end up in a layer's rows exactly as inserted one by one.
        #[test]
        fn layer_rows_are_the_rows_written(
            steps in proptest::collection::vec((0u32..3, 0u32..40), 0..200),
            at_end in proptest::bool::ANY,
        ) {
            let mut builder = MemLayerBuilder::default();
            let mut expected = RoaringBitmap::new();
            let mut row = if at_end { u32::MAX - 50 } else { 0 };
            for (kind, delta) in steps {
                // Mostly the next row, sometimes a jump forward or back.
                row = match kind {
                    0 => row.saturating_add(1),
                    1 => row.saturating_add(delta),
                    _ => row.saturating_sub(delta),
                };
                builder.apply(upsert(row, "plan", Value::Int64(1)));
                expected.insert(row);
            }
            proptest::prop_assert_eq!(builder.is_empty(), expected.is_empty());
            let layer = builder.seal();
            proptest::prop_assert_eq!(layer.table(TableKind::Profiles).rows(), &expected);
        }
    }
}
