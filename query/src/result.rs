//! What a statement returns.

use profiledb_engine::value::{ColumnType, Value};

/// Rows returned by a query, with the name and type of each column.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QueryResult {
    /// Output column names and types.
    pub columns: Vec<(String, ColumnType)>,
    /// Output rows, each as wide as `columns`.
    pub rows: Vec<Vec<Value>>,
}

/// The outcome of one statement.
#[derive(Debug, Clone, PartialEq)]
pub enum StatementOutcome {
    /// A query (or `EXPLAIN`, `SHOW SEGMENTS`) returned rows.
    Rows(QueryResult),
    /// `CREATE [OR REPLACE] SEGMENT` stored a definition.
    SegmentCreated {
        /// The segment's name.
        name: String,
        /// Whether an existing definition was replaced.
        replaced: bool,
    },
    /// `DROP SEGMENT` removed (or, with `IF EXISTS`, did not find) a definition.
    SegmentDropped {
        /// The segment's name.
        name: String,
        /// Whether it existed.
        existed: bool,
    },
    /// `SET now` pinned (`Some`) or unpinned (`None`) the session clock.
    NowSet(Option<i64>),
    /// `CREATE [OR REPLACE] TRAIT` defined a computed trait and computed it for every profile.
    TraitCreated {
        /// The trait's name (also its `profiles` column).
        name: String,
        /// Whether an existing trait was replaced.
        replaced: bool,
    },
    /// `DROP TRAIT` removed (or, with `IF EXISTS`, did not find) a computed trait.
    TraitDropped {
        /// The trait's name.
        name: String,
        /// Whether it existed.
        existed: bool,
    },
}
