//! Turns parsed statements into plans, resolving names against a [`Catalog`].

mod aggregate;
mod counted;
mod expr;
mod predicate;
mod scope;
mod select;
pub mod statement;
mod subquery;
mod types;

use std::cell::Cell;

use crate::catalog::Catalog;
use crate::error::QueryError;
use crate::segment::SegmentStore;

pub use counted::counted_keys_shape;
pub use select::{plan_query, PROFILE_ID};

/// How deeply subqueries and segment definitions may nest (guards against cycles).
const MAX_DEPTH: usize = 16;

/// Everything planning needs besides the statement.
pub struct PlanContext<'a> {
    /// Tables.
    pub catalog: &'a dyn Catalog,
    /// Segment definitions.
    pub segments: &'a dyn SegmentStore,
    /// The statement's clock (`now()`), microseconds since the epoch.
    pub now: i64,
    depth: Cell<usize>,
    next_id: Cell<usize>,
}

impl<'a> PlanContext<'a> {
    /// A context for one statement.
    #[must_use]
    pub fn new(catalog: &'a dyn Catalog, segments: &'a dyn SegmentStore, now: i64) -> Self {
        PlanContext {
            catalog,
            segments,
            now,
            depth: Cell::new(0),
            next_id: Cell::new(0),
        }
    }

    /// A fresh id for a filter node.
    pub(crate) fn next_id(&self) -> usize {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        id
    }

    /// Runs `f` one nesting level deeper, failing past [`MAX_DEPTH`].
    pub(crate) fn nested<T>(
        &self,
        what: &str,
        f: impl FnOnce() -> Result<T, QueryError>,
    ) -> Result<T, QueryError> {
        let depth = self.depth.get();
        if depth >= MAX_DEPTH {
            return Err(QueryError::plan(
                format!("{what} nests more than {MAX_DEPTH} levels deep (is a segment defined in terms of itself?)"),
                None,
            ));
        }
        self.depth.set(depth + 1);
        let result = f();
        self.depth.set(depth);
        result
    }
}
