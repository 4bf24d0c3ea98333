//! ProfileDB query layer: standard SQL compiled to bitmap algebra over the engine.
//!
//! A statement is parsed ([`parser`]), planned against a [`Catalog`] ([`planner`]) into a
//! [`plan::SelectPlan`] whose WHERE clause is a tree of bitmap operations over
//! [`TableSource::filter`] leaves, and executed ([`exec`]): rows are fetched only for the
//! selected rows and only for the columns the output needs.
//!
//! Supported SQL (PostgreSQL semantics, UTC clock, C collation):
//! single-table `SELECT [DISTINCT]` with `*`, expressions and aliases; `COUNT(*)`,
//! `COUNT([DISTINCT] x)`, `SUM`, `AVG`, `MIN`, `MAX`; `GROUP BY` (expressions, aliases,
//! ordinals), `HAVING`, `ORDER BY … [ASC|DESC] [NULLS FIRST|LAST]`, `LIMIT`/`OFFSET`;
//! comparisons, `BETWEEN`, `[NOT] IN (list)`, `IS [NOT] NULL`, `[NOT] LIKE/ILIKE [ESCAPE]`,
//! `AND/OR/NOT` with three-valued logic, arithmetic, `||`, `now()`, `CURRENT_DATE`,
//! `CURRENT_TIMESTAMP`, `INTERVAL '…'`, `DATE '…'`, `TIMESTAMP '…'`, `'…'::type`,
//! `CAST(… AS …)`, `date_trunc`, `lower`, `upper`, `length`, `abs`, `coalesce`; list membership
//! with `'vip' = ANY(tags)` or `list_contains(tags, 'vip')`; `[NOT] IN (subquery)`,
//! `[NOT] EXISTS (subquery)` correlated by one `inner = outer` equality; segments
//! (`CREATE [OR REPLACE] SEGMENT`, `DROP SEGMENT`, `SHOW SEGMENTS`, `FROM segment`);
//! computed traits (`CREATE [OR REPLACE] TRAIT`, `DROP TRAIT`, `SHOW TRAITS`; run by a
//! [`LiveDatabase`] opened on profiles, see [`traits`]);
//! `EXPLAIN [ANALYZE]`; `SET now = '…'` / `SET now = DEFAULT`.
//!
//! Dates are timestamps at midnight UTC (`CAST(ts AS DATE)` yields a timestamp column).

pub mod cast;
pub mod catalog;
pub mod engine_catalog;
pub mod error;
pub mod exec;
pub mod format;
pub mod like;
pub mod live;
pub mod memtable;
pub mod parser;
pub mod plan;
pub mod planner;
pub mod predicate;
pub mod result;
pub mod segment;
pub mod session;
pub mod temporal;
pub mod traits;

pub use catalog::{AccessPath, Catalog, TableSource};
pub use engine_catalog::{identities_table, SnapshotCatalog};
pub use error::{Position, QueryError};
pub use live::{
    Change, ConditionResult, Explanation, LiveBatch, LiveDatabase, LiveError, LiveSegmentStore,
    LiveSegments, UpkeepReport,
};
pub use memtable::{MemCatalog, MemTable};
pub use parser::{parse, Statement};
pub use predicate::{CompareOp, LeafPredicate};
pub use profiledb_engine::value::{ColumnType, Value};
pub use result::{QueryResult, StatementOutcome};
pub use segment::{MemorySegmentStore, SegmentDefinition, SegmentStore};
pub use session::Session;
pub use sqlparser;
pub use traits::TraitStatement;

/// Parses, plans and executes one SQL statement.
///
/// # Errors
/// [`QueryError`] naming what went wrong and, where known, where in the SQL text.
pub fn execute(
    catalog: &dyn Catalog,
    session: &mut Session,
    sql: &str,
) -> Result<StatementOutcome, QueryError> {
    let statement = parse(sql)?;
    planner::statement::run_statement(catalog, session, &statement)
}
