//! Reading several memory layers as one: the merge that turns a run of layers into one
//! layer, and the view a flush writes a segment from without building that layer first.
//!
//! Both walk the layers' columns side by side (a k-way merge), so each cell is visited once
//! however many layers there are; merging them two at a time would copy the growing result
//! once per layer.

use super::{DeletedRows, MemColumn, MemLayer, MemTable, Run};
use crate::schema::TableKind;
use crate::value::Value;
use roaring::RoaringBitmap;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// The tables of several layers read as one table: where layers wrote the same cell, the
/// newest wins; a row deleted in any layer is gone from all of them.
#[derive(Debug)]
pub struct MergedTable<'a> {
    /// The layers' tables, oldest first.
    tables: Vec<&'a MemTable>,
    rows: RoaringBitmap,
    deleted: RoaringBitmap,
}

impl<'a> MergedTable<'a> {
    /// The tables of `layers` (oldest first) for `table`, read as one.
    #[must_use]
    pub fn new(layers: &'a [Arc<MemLayer>], table: TableKind) -> Self {
        let tables: Vec<&MemTable> = layers.iter().map(|layer| layer.table(table)).collect();
        let mut deleted = RoaringBitmap::new();
        let mut rows = RoaringBitmap::new();
        for table in &tables {
            deleted |= &table.deleted;
            rows |= &table.rows;
        }
        rows -= &deleted;
        MergedTable {
            tables,
            rows,
            deleted,
        }
    }

    /// Rows written (any column) in some layer and deleted in none.
    #[must_use]
    pub fn rows(&self) -> &RoaringBitmap {
        &self.rows
    }

    /// Rows deleted in some layer.
    #[must_use]
    pub fn deleted(&self) -> &RoaringBitmap {
        &self.deleted
    }

    /// Column `name` as the layers wrote it together, if any of them wrote it.
    #[must_use]
    pub fn column(&self, name: &str) -> Option<MergedColumn<'a, '_>> {
        let parts: Vec<&'a MemColumn> = self
            .tables
            .iter()
            .filter_map(|table| table.column(name))
            .collect();
        if parts.is_empty() {
            return None;
        }
        let mut present = RoaringBitmap::new();
        for part in &parts {
            present |= &part.present;
        }
        present -= &self.deleted;
        Some(MergedColumn {
            parts,
            present,
            deleted: &self.deleted,
        })
    }

    /// The one table the layers make, sharing the runs of cells that need no merging.
    fn into_table(self) -> MemTable {
        let names: BTreeSet<&str> = self
            .tables
            .iter()
            .flat_map(|table| table.columns.keys().map(String::as_str))
            .collect();
        let mut columns = BTreeMap::new();
        for name in names {
            if let Some(column) = self.column(name) {
                let column = column.into_column();
                if !column.is_empty() {
                    columns.insert(name.to_owned(), column);
                }
            }
        }
        MemTable {
            rows: self.rows,
            deleted: self.deleted,
            columns,
        }
    }
}

/// One column of a [`MergedTable`].
#[derive(Debug)]
pub struct MergedColumn<'a, 'table> {
    /// The column in each layer that wrote it, oldest first.
    parts: Vec<&'a MemColumn>,
    present: RoaringBitmap,
    deleted: &'table RoaringBitmap,
}

impl<'a> MergedColumn<'a, '_> {
    /// Rows with a value (a NULL written counts), deleted rows excluded.
    #[must_use]
    pub fn present(&self) -> &RoaringBitmap {
        &self.present
    }

    /// Every (row, value) pair of [`MergedColumn::present`], in row order.
    #[must_use]
    pub fn cells(&self) -> MergedCells<'a, '_> {
        MergedCells {
            cursors: self.parts.iter().map(|part| Cursor::new(part)).collect(),
            ascending: self.is_ascending(),
            deleted: DeletedRows::new(self.deleted),
        }
    }

    /// Whether each layer's cells all follow the older layers' cells (the usual case for
    /// appended events and new profiles): then no row was written twice, and the merged
    /// column is the layers' runs one after another.
    fn is_ascending(&self) -> bool {
        self.parts
            .windows(2)
            .all(|pair| pair[0].last_row() < pair[1].first_row())
    }

    fn into_column(self) -> MemColumn {
        if !self.is_ascending() {
            return self.copied_cells();
        }
        let mut runs = Vec::new();
        for part in &self.parts {
            if part.present.is_disjoint(self.deleted) {
                runs.extend(part.runs.iter().cloned());
                continue;
            }
            // Only the runs a deletion reaches are copied; the rest stay shared.
            for run in &part.runs {
                let (Some(&first), Some(&last)) = (run.rows.first(), run.rows.last()) else {
                    continue;
                };
                if self.deleted.range_cardinality(first..=last) == 0 {
                    runs.push(Arc::clone(run));
                } else if let Some(kept) = without_rows(run, self.deleted) {
                    runs.push(Arc::new(kept));
                }
            }
        }
        MemColumn {
            runs,
            present: self.present,
        }
    }

    /// The merged column built cell by cell, for layers that wrote the same rows.
    fn copied_cells(&self) -> MemColumn {
        let capacity = usize::try_from(self.present.len()).unwrap_or(0);
        let mut rows = Vec::with_capacity(capacity);
        let mut values = Vec::with_capacity(capacity);
        for (row, value) in self.cells() {
            rows.push(row);
            values.push(value.clone());
        }
        MemColumn::from_sorted(rows, values)
    }
}

/// `run` without the cells of `deleted` rows; `None` when none is left.
fn without_rows(run: &Run, deleted: &RoaringBitmap) -> Option<Run> {
    let (rows, values): (Vec<u32>, Vec<Value>) = run
        .rows
        .iter()
        .zip(&run.values)
        .filter(|(row, _)| !deleted.contains(**row))
        .map(|(row, value)| (*row, value.clone()))
        .unzip();
    (!rows.is_empty()).then_some(Run { rows, values })
}

/// The cells of a [`MergedColumn`], in row order: a k-way merge of its layers' cells.
#[derive(Debug)]
pub struct MergedCells<'a, 'table> {
    /// One cursor per layer, oldest first.
    cursors: Vec<Cursor<'a>>,
    /// Whether each layer's rows follow the older layers' rows: then the cells are simply
    /// the layers' cells one layer after another, with no rows to compare.
    ascending: bool,
    deleted: DeletedRows<'table>,
}

impl<'a> MergedCells<'a, '_> {
    /// The next cell in row order, deleted or not.
    fn next_written(&mut self) -> Option<(u32, &'a Value)> {
        if self.ascending {
            let cursor = self
                .cursors
                .iter_mut()
                .find(|cursor| cursor.row().is_some())?;
            return Some((cursor.row()?, cursor.take()?));
        }
        let row = self.cursors.iter().filter_map(Cursor::row).min()?;
        let mut newest = None;
        // Oldest first, so the last layer holding the row is the newest and wins.
        for cursor in &mut self.cursors {
            if cursor.row() == Some(row) {
                newest = cursor.take();
            }
        }
        newest.map(|value| (row, value))
    }
}

impl<'a> Iterator for MergedCells<'a, '_> {
    type Item = (u32, &'a Value);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let (row, value) = self.next_written()?;
            if !self.deleted.contains(row) {
                return Some((row, value));
            }
        }
    }
}

/// A position in one column's runs of cells.
#[derive(Debug)]
struct Cursor<'a> {
    runs: &'a [Arc<Run>],
    run: usize,
    cell: usize,
}

impl<'a> Cursor<'a> {
    fn new(column: &'a MemColumn) -> Self {
        Cursor {
            runs: &column.runs,
            run: 0,
            cell: 0,
        }
    }

    /// The row of the current cell; `None` once every cell was taken.
    fn row(&self) -> Option<u32> {
        self.runs.get(self.run)?.rows.get(self.cell).copied()
    }

    /// The current cell's value, moving on to the next cell.
    fn take(&mut self) -> Option<&'a Value> {
        let run = self.runs.get(self.run)?;
        let value = run.values.get(self.cell)?;
        self.cell += 1;
        if self.cell == run.rows.len() {
            self.run += 1;
            self.cell = 0;
        }
        Some(value)
    }
}

impl MemLayer {
    /// Combines `layers` (oldest first) into one layer a level above the highest of them;
    /// where several wrote a cell, the newest wins.
    #[must_use]
    pub fn merge_all(layers: &[Arc<MemLayer>]) -> MemLayer {
        let profiles = MergedTable::new(layers, TableKind::Profiles).into_table();
        let events = MergedTable::new(layers, TableKind::Events).into_table();
        MemLayer {
            profiles,
            events,
            approximate_bytes: layers.iter().map(|layer| layer.approximate_bytes).sum(),
            level: layers.iter().map(|layer| layer.level).max().unwrap_or(0) + 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memtable::MemLayerBuilder;
    use crate::mutation::Mutation;
    use std::collections::BTreeMap;

    /// What one layer does: upserts of (row, column, value) and deletes of rows.
    #[derive(Debug, Clone)]
    enum Step {
        Upsert(u32, usize, i64),
        Delete(u32),
    }

    const COLUMNS: [&str; 3] = ["a", "b", "c"];

    fn layer_of(steps: &[Step]) -> MemLayer {
        let mut builder = MemLayerBuilder::default();
        for step in steps {
            builder.apply(match *step {
                Step::Upsert(row, column, value) => Mutation::Upsert {
                    table: TableKind::Profiles,
                    row,
                    values: vec![(COLUMNS[column].into(), Value::Int64(value))],
                },
                Step::Delete(row) => Mutation::Delete {
                    table: TableKind::Profiles,
                    row,
                },
            });
        }
        builder.seal()
    }

    /// The cells of each column after every step of every layer, applied in order.
    fn reference(
        layers: &[Vec<Step>],
    ) -> (BTreeMap<&'static str, BTreeMap<u32, i64>>, RoaringBitmap) {
        let mut columns: BTreeMap<&str, BTreeMap<u32, i64>> = BTreeMap::new();
        let mut deleted = RoaringBitmap::new();
        for step in layers.iter().flatten() {
            match *step {
                Step::Upsert(row, column, value) => {
                    columns
                        .entry(COLUMNS[column])
                        .or_default()
                        .insert(row, value);
                }
                Step::Delete(row) => {
                    deleted.insert(row);
                }
            }
        }
        // A deleted row stays deleted: later writes to it are dropped too.
        for cells in columns.values_mut() {
            cells.retain(|row, _| !deleted.contains(*row));
        }
        columns.retain(|_, cells| !cells.is_empty());
        (columns, deleted)
    }

    fn cells_of(column: &MemColumn) -> BTreeMap<u32, i64> {
        column
            .iter()
            .map(|(row, value)| match value {
                Value::Int64(v) => (row, *v),
                other => panic!("unexpected value {other:?}"),
            })
            .collect()
    }

    fn step() -> impl proptest::strategy::Strategy<Value = Step> {
        use proptest::prelude::*;
        prop_oneof![
            8 => (0u32..60, 0usize..3, -5i64..5).prop_map(|(r, c, v)| Step::Upsert(r, c, v)),
            1 => (0u32..60).prop_map(Step::Delete),
        ]
    }

    /// Moves each layer's writes past the rows of the layers before it, as appended events
    /// are; deletions still reach any earlier row.
    fn in_row_order(layers: Vec<Vec<Step>>) -> Vec<Vec<Step>> {
        (0u32..)
            .zip(layers)
            .map(|(index, steps)| {
                steps
                    .into_iter()
                    .map(|step| match step {
                        Step::Upsert(row, column, value) => {
                            Step::Upsert(row + 60 * index, column, value)
                        }
                        Step::Delete(row) => Step::Delete(row * (index + 1)),
                    })
                    .collect()
            })
            .collect()
    }

    proptest::proptest! {
        /// Merging any run of layers, and reading them through a merged view, gives each
        /// cell the value of its newest write and drops every deleted row.
        #[test]
        fn merged_layers_read_like_their_writes_in_order(
            layers in proptest::collection::vec(proptest::collection::vec(step(), 0..30), 1..7),
            appended in proptest::bool::ANY,
        ) {
            let layers = if appended { in_row_order(layers) } else { layers };
            let sealed: Vec<Arc<MemLayer>> =
                layers.iter().map(|steps| Arc::new(layer_of(steps))).collect();
            let (expected, expected_deleted) = reference(&layers);
            let merged = MemLayer::merge_all(&sealed);
            let table = merged.table(TableKind::Profiles);
            proptest::prop_assert_eq!(table.deleted(), &expected_deleted);
            let written: BTreeMap<&str, BTreeMap<u32, i64>> =
                table.columns().map(|(name, column)| (name, cells_of(column))).collect();
            proptest::prop_assert_eq!(&written, &expected);
            for (name, column) in table.columns() {
                let present: RoaringBitmap = column.iter().map(|(row, _)| row).collect();
                proptest::prop_assert_eq!(column.present(), &present, "column {}", name);
            }
            let view = MergedTable::new(&sealed, TableKind::Profiles);
            proptest::prop_assert_eq!(view.rows(), table.rows());
            proptest::prop_assert_eq!(view.deleted(), table.deleted());
            for name in COLUMNS {
                let viewed = view.column(name).map(|column| {
                    let cells: BTreeMap<u32, i64> = column
                        .cells()
                        .map(|(row, value)| (row, if let Value::Int64(v) = value { *v } else { i64::MIN }))
                        .collect();
                    (column.present().clone(), cells)
                });
                let stored = table.column(name).map(|c| (c.present().clone(), cells_of(c)));
                // A column whose every cell was deleted is absent from the merged layer but
                // still named by the view, with nothing present.
                let viewed = viewed.filter(|(present, _)| !present.is_empty());
                proptest::prop_assert_eq!(viewed, stored, "column {}", name);
            }
            let levels = sealed.iter().map(|layer| layer.level()).max().unwrap_or(0);
            proptest::prop_assert_eq!(merged.level(), levels + 1);
        }
    }

    #[test]
    fn appended_columns_share_their_runs() {
        let older = Arc::new(layer_of(&[Step::Upsert(1, 0, 1), Step::Upsert(2, 0, 2)]));
        let newer = Arc::new(layer_of(&[Step::Upsert(3, 0, 3)]));
        let merged = MemLayer::merge_all(&[older.clone(), newer.clone()]);
        let column = merged.table(TableKind::Profiles).column("a").unwrap();
        let older_run = &older.table(TableKind::Profiles).column("a").unwrap().runs[0];
        assert!(Arc::ptr_eq(&column.runs[0], older_run));
        assert_eq!(column.get(3), Some(&Value::Int64(3)));
    }

    #[test]
    fn a_deletion_copies_only_the_runs_it_reaches() {
        let layers = [
            layer_of(&[Step::Upsert(1, 0, 1), Step::Upsert(2, 0, 2)]),
            layer_of(&[Step::Upsert(3, 0, 3), Step::Upsert(4, 0, 4)]),
            layer_of(&[Step::Upsert(5, 0, 5), Step::Delete(3)]),
        ]
        .map(Arc::new);
        let merged = MemLayer::merge_all(&layers);
        let column = merged.table(TableKind::Profiles).column("a").unwrap();
        let run_of = |layer: &MemLayer| {
            Arc::clone(&layer.table(TableKind::Profiles).column("a").unwrap().runs[0])
        };
        assert_eq!(column.runs.len(), 3);
        assert!(Arc::ptr_eq(&column.runs[0], &run_of(&layers[0])));
        assert!(!Arc::ptr_eq(&column.runs[1], &run_of(&layers[1])));
        assert!(Arc::ptr_eq(&column.runs[2], &run_of(&layers[2])));
        assert_eq!(column.runs[1].rows, vec![4]);
        assert_eq!(
            cells_of(column),
            BTreeMap::from([(1, 1), (2, 2), (4, 4), (5, 5)])
        );
    }
}
