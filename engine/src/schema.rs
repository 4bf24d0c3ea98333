//! Tables and their evolving column lists.
//!
//! A table's schema grows on write: the first value written to an unknown column adds that
//! column with the value's type (older rows read it as NULL). Later values are coerced to that
//! type following the rule in [`crate::value`].

use crate::value::{ColumnType, TypeMismatch, Value};
use rustc_hash::FxHashMap;
use std::fmt;

/// The two tables of a ProfileDB database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TableKind {
    /// One row per profile; the row id is the profile id.
    Profiles,
    /// One row per behavioural event; rows are appended and never updated in place.
    Events,
}

impl TableKind {
    /// Both tables, in tag order.
    pub const ALL: [TableKind; 2] = [TableKind::Profiles, TableKind::Events];

    /// The one-byte tag used in files.
    #[must_use]
    pub fn tag(self) -> u8 {
        match self {
            TableKind::Profiles => 1,
            TableKind::Events => 2,
        }
    }

    /// The table for a tag read from a file.
    #[must_use]
    pub fn from_tag(tag: u8) -> Option<TableKind> {
        TableKind::ALL.into_iter().find(|t| t.tag() == tag)
    }

    /// The table's name as queries see it.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            TableKind::Profiles => "profiles",
            TableKind::Events => "events",
        }
    }
}

impl fmt::Display for TableKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One column: its name and type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnDef {
    /// Column name (traits of nested objects are flattened with dots, e.g. `address.city`).
    pub name: String,
    /// The type fixed by the first value written.
    pub column_type: ColumnType,
}

/// The ordered columns of one table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableSchema {
    columns: Vec<ColumnDef>,
    /// Looked up once per written cell: a non-keyed hasher is several times cheaper than
    /// SipHash on these short names.
    by_name: FxHashMap<String, usize>,
}

impl TableSchema {
    /// All columns, in the order they were added.
    #[must_use]
    pub fn columns(&self) -> &[ColumnDef] {
        &self.columns
    }

    /// The column called `name`.
    #[must_use]
    pub fn column(&self, name: &str) -> Option<&ColumnDef> {
        self.by_name.get(name).and_then(|&i| self.columns.get(i))
    }

    /// The type of column `name`.
    #[must_use]
    pub fn column_type(&self, name: &str) -> Option<ColumnType> {
        self.column(name).map(|c| c.column_type)
    }

    /// Adds a column if it is new; an existing column keeps its type.
    pub fn add_column(&mut self, name: &str, column_type: ColumnType) {
        if !self.by_name.contains_key(name) {
            self.by_name.insert(name.to_owned(), self.columns.len());
            self.columns.push(ColumnDef {
                name: name.to_owned(),
                column_type,
            });
        }
    }

    /// Fits `value` to column `name`: coerces it to the column's type, or reports the new
    /// column (and its type) that writing it would add. NULL into an unknown column adds nothing.
    ///
    /// # Errors
    /// [`TypeMismatch`] when the value cannot be coerced losslessly.
    pub fn fit(
        &self,
        name: &str,
        value: Value,
    ) -> Result<(Value, Option<ColumnType>), TypeMismatch> {
        match self.column_type(name) {
            Some(column_type) => Ok((value.coerce_to(column_type, name)?, None)),
            None => {
                let new_type = value.column_type();
                Ok((value, new_type))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_write_fixes_the_type_and_later_writes_coerce() {
        let mut schema = TableSchema::default();
        let (value, added) = schema.fit("ltv", Value::Float64(1.5)).unwrap();
        assert_eq!(added, Some(ColumnType::Float64));
        schema.add_column("ltv", added.unwrap());
        assert_eq!(value, Value::Float64(1.5));
        assert_eq!(
            schema.fit("ltv", Value::Int64(2)).unwrap(),
            (Value::Float64(2.0), None)
        );
        let err = schema.fit("ltv", Value::String("x".into())).unwrap_err();
        assert_eq!(err.column, "ltv");
        assert_eq!(err.found, ColumnType::String);
    }

    #[test]
    fn null_into_unknown_column_adds_nothing() {
        let schema = TableSchema::default();
        assert_eq!(schema.fit("x", Value::Null).unwrap(), (Value::Null, None));
    }
}
