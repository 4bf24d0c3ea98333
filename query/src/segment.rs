//! Segments: named, stored `SELECT` definitions whose result is a set of profile rows.

use std::collections::BTreeMap;

use profiledb_engine::value::{ColumnType, Value};
use roaring::RoaringBitmap;

use crate::catalog::{AccessPath, TableSource};
use crate::error::QueryError;
use crate::predicate::LeafPredicate;

/// A stored segment definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentDefinition {
    /// The segment's name (lower case).
    pub name: String,
    /// The defining `SELECT`, as canonical SQL text.
    pub sql: String,
}

/// Where segment definitions live; the database implements it durably, tests use
/// [`MemorySegmentStore`].
pub trait SegmentStore {
    /// The definition called `name`, if any.
    fn get(&self, name: &str) -> Option<SegmentDefinition>;
    /// Every definition, ordered by name.
    fn list(&self) -> Vec<SegmentDefinition>;
    /// Stores a definition, replacing any with the same name.
    ///
    /// # Errors
    /// When the store cannot persist it.
    fn put(&mut self, definition: SegmentDefinition) -> Result<(), QueryError>;
    /// Removes a definition; returns whether it existed.
    ///
    /// # Errors
    /// When the store cannot persist the removal.
    fn remove(&mut self, name: &str) -> Result<bool, QueryError>;
    /// Already materialized membership, if the store keeps it; `None` makes the query layer
    /// run the definition.
    fn members(&self, _name: &str) -> Option<RoaringBitmap> {
        None
    }
}

/// Segment definitions kept in memory; membership is computed by running the definition.
#[derive(Debug, Clone, Default)]
pub struct MemorySegmentStore {
    definitions: BTreeMap<String, String>,
}

impl SegmentStore for MemorySegmentStore {
    fn get(&self, name: &str) -> Option<SegmentDefinition> {
        self.definitions.get(name).map(|sql| SegmentDefinition {
            name: name.to_owned(),
            sql: sql.clone(),
        })
    }

    fn list(&self) -> Vec<SegmentDefinition> {
        self.definitions
            .iter()
            .map(|(name, sql)| SegmentDefinition {
                name: name.clone(),
                sql: sql.clone(),
            })
            .collect()
    }

    fn put(&mut self, definition: SegmentDefinition) -> Result<(), QueryError> {
        self.definitions.insert(definition.name, definition.sql);
        Ok(())
    }

    fn remove(&mut self, name: &str) -> Result<bool, QueryError> {
        Ok(self.definitions.remove(name).is_some())
    }
}

/// The `profiles` table restricted to a segment's members: what `FROM segment` reads.
pub struct SegmentTable<'a> {
    base: &'a dyn TableSource,
    members: RoaringBitmap,
}

impl<'a> SegmentTable<'a> {
    /// Restricts `base` (the profiles table) to `members` (only rows that exist are kept).
    ///
    /// # Errors
    /// When the base table cannot list its rows.
    pub fn new(base: &'a dyn TableSource, members: RoaringBitmap) -> Result<Self, QueryError> {
        let members = members & base.all_rows()?;
        Ok(SegmentTable { base, members })
    }
}

impl TableSource for SegmentTable<'_> {
    fn columns(&self) -> Vec<(String, ColumnType)> {
        self.base.columns()
    }

    fn row_count(&self) -> u64 {
        self.members.len()
    }

    fn all_rows(&self) -> Result<RoaringBitmap, QueryError> {
        Ok(self.members.clone())
    }

    fn filter(
        &self,
        column: &str,
        predicate: &LeafPredicate,
    ) -> Result<(RoaringBitmap, AccessPath), QueryError> {
        let (rows, path) = self.base.filter(column, predicate)?;
        Ok((rows & &self.members, path))
    }

    fn null_rows(&self, column: &str) -> Result<RoaringBitmap, QueryError> {
        Ok(self.base.null_rows(column)? & &self.members)
    }

    fn fetch(&self, column: &str, rows: &RoaringBitmap) -> Result<Vec<Value>, QueryError> {
        self.base.fetch(column, &(rows & &self.members))
    }
}
