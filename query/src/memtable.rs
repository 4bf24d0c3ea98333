//! An in-memory table and catalog: the reference implementation of the storage traits, used by
//! tests and examples.

use std::collections::BTreeMap;

use profiledb_engine::value::{ColumnType, Value};
use roaring::RoaringBitmap;

use crate::catalog::{AccessPath, Catalog, TableSource};
use crate::error::QueryError;
use crate::predicate::LeafPredicate;

/// A column-major in-memory table; row id = insertion index.
#[derive(Debug, Clone, Default)]
pub struct MemTable {
    columns: Vec<(String, ColumnType)>,
    data: Vec<Vec<Value>>,
    rows: u32,
}

impl MemTable {
    /// An empty table with these columns.
    #[must_use]
    pub fn new(columns: Vec<(String, ColumnType)>) -> Self {
        let data = vec![Vec::new(); columns.len()];
        MemTable {
            columns,
            data,
            rows: 0,
        }
    }

    /// Appends a row, coercing each value to its column's type.
    ///
    /// # Errors
    /// When the row has the wrong width, a value does not fit its column, or the table is full.
    pub fn push_row(&mut self, row: Vec<Value>) -> Result<u32, QueryError> {
        if row.len() != self.columns.len() {
            return Err(QueryError::exec(format!(
                "row has {} values, table has {} columns",
                row.len(),
                self.columns.len()
            )));
        }
        let id = self.rows;
        let coerced: Vec<Value> = row
            .into_iter()
            .zip(&self.columns)
            .map(|(v, (name, ty))| v.coerce_to(*ty, name))
            .collect::<Result<_, _>>()
            .map_err(|e| QueryError::exec(e.to_string()))?;
        self.rows = self
            .rows
            .checked_add(1)
            .ok_or_else(|| QueryError::exec("table is full"))?;
        for (column, value) in self.data.iter_mut().zip(coerced) {
            column.push(value);
        }
        Ok(id)
    }

    fn column(&self, name: &str) -> Result<&[Value], QueryError> {
        self.columns
            .iter()
            .position(|(n, _)| n == name)
            .and_then(|i| self.data.get(i))
            .map(Vec::as_slice)
            .ok_or_else(|| QueryError::exec(format!("no column `{name}` in table")))
    }

    fn rows_where(
        &self,
        name: &str,
        keep: impl Fn(&Value) -> bool,
    ) -> Result<RoaringBitmap, QueryError> {
        let column = self.column(name)?;
        Ok((0u32..)
            .zip(column)
            .filter(|(_, v)| keep(v))
            .map(|(i, _)| i)
            .collect())
    }
}

impl TableSource for MemTable {
    fn columns(&self) -> Vec<(String, ColumnType)> {
        self.columns.clone()
    }

    fn row_count(&self) -> u64 {
        u64::from(self.rows)
    }

    fn all_rows(&self) -> Result<RoaringBitmap, QueryError> {
        Ok((0..self.rows).collect())
    }

    fn filter(
        &self,
        column: &str,
        predicate: &LeafPredicate,
    ) -> Result<(RoaringBitmap, AccessPath), QueryError> {
        Ok((
            self.rows_where(column, |v| predicate.matches(v))?,
            AccessPath::Scan,
        ))
    }

    fn null_rows(&self, column: &str) -> Result<RoaringBitmap, QueryError> {
        self.rows_where(column, Value::is_null)
    }

    fn fetch(&self, column: &str, rows: &RoaringBitmap) -> Result<Vec<Value>, QueryError> {
        let data = self.column(column)?;
        rows.iter()
            .map(|r| {
                usize::try_from(r)
                    .ok()
                    .and_then(|i| data.get(i))
                    .cloned()
                    .ok_or_else(|| QueryError::exec(format!("row {r} does not exist")))
            })
            .collect()
    }
}

/// A catalog of named [`MemTable`]s with a fixed clock.
#[derive(Debug, Clone, Default)]
pub struct MemCatalog {
    tables: BTreeMap<String, MemTable>,
    now: i64,
}

impl MemCatalog {
    /// An empty catalog whose clock reads `now_micros`.
    #[must_use]
    pub fn new(now_micros: i64) -> Self {
        MemCatalog {
            tables: BTreeMap::new(),
            now: now_micros,
        }
    }

    /// Adds or replaces a table.
    pub fn insert(&mut self, name: &str, table: MemTable) {
        self.tables.insert(name.to_owned(), table);
    }
}

impl Catalog for MemCatalog {
    fn table(&self, name: &str) -> Option<&dyn TableSource> {
        self.tables.get(name).map(|t| t as &dyn TableSource)
    }

    fn table_names(&self) -> Vec<String> {
        self.tables.keys().cloned().collect()
    }

    fn now_micros(&self) -> i64 {
        self.now
    }
}
