//! Logical plan types: what the planner produces and the executor runs.

use profiledb_engine::value::{ColumnType, Value};

use crate::catalog::TableSource;
use crate::predicate::{CompareOp, LeafPredicate};
use crate::segment::SegmentTable;
use crate::temporal::Interval;

/// The table a SELECT reads.
pub enum BoundTable<'a> {
    /// A catalog table.
    Catalog(&'a dyn TableSource),
    /// A segment: profiles restricted to its members.
    Segment(SegmentTable<'a>),
    /// No `FROM`: one row without columns.
    Dual(DualTable),
}

impl BoundTable<'_> {
    /// The table as a storage source.
    #[must_use]
    pub fn source(&self) -> &dyn TableSource {
        match self {
            BoundTable::Catalog(t) => *t,
            BoundTable::Segment(t) => t,
            BoundTable::Dual(t) => t,
        }
    }
}

/// The one-row, zero-column table behind a `SELECT` without `FROM`.
pub struct DualTable;

impl TableSource for DualTable {
    fn columns(&self) -> Vec<(String, ColumnType)> {
        Vec::new()
    }
    fn row_count(&self) -> u64 {
        1
    }
    fn all_rows(&self) -> Result<roaring::RoaringBitmap, crate::QueryError> {
        Ok(std::iter::once(0u32).collect())
    }
    fn filter(
        &self,
        column: &str,
        _predicate: &LeafPredicate,
    ) -> Result<(roaring::RoaringBitmap, crate::catalog::AccessPath), crate::QueryError> {
        Err(crate::QueryError::Internal(format!(
            "no column `{column}` without FROM"
        )))
    }
    fn null_rows(&self, column: &str) -> Result<roaring::RoaringBitmap, crate::QueryError> {
        Err(crate::QueryError::Internal(format!(
            "no column `{column}` without FROM"
        )))
    }
    fn fetch(
        &self,
        column: &str,
        _rows: &roaring::RoaringBitmap,
    ) -> Result<Vec<Value>, crate::QueryError> {
        Err(crate::QueryError::Internal(format!(
            "no column `{column}` without FROM"
        )))
    }
}

/// Arithmetic operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArithOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/` (integer division truncates, like PostgreSQL)
    Div,
    /// `%`
    Mod,
}

/// Built-in scalar functions.
#[derive(Debug, Clone, PartialEq)]
pub enum ScalarFunc {
    /// `lower(s)`
    Lower,
    /// `upper(s)`
    Upper,
    /// `length(s)` in characters, or number of elements of a list.
    Length,
    /// `abs(x)`
    Abs,
    /// `coalesce(a, b, …)`
    Coalesce,
    /// `date_trunc('unit', ts)` with the unit fixed at plan time.
    DateTrunc(String),
    /// `a || b` on strings.
    Concat,
}

/// A typed scalar expression over a row whose slots are the plan's input columns (or, after
/// aggregation, the group keys followed by the aggregate results).
#[derive(Debug, Clone, PartialEq)]
pub enum ScalarExpr {
    /// The value in this slot of the row.
    Column(usize),
    /// A constant.
    Literal(Value),
    /// A comparison (NULL if either side is NULL).
    Compare(CompareOp, Box<ScalarExpr>, Box<ScalarExpr>),
    /// Arithmetic.
    Arith(ArithOp, Box<ScalarExpr>, Box<ScalarExpr>),
    /// Unary minus.
    Neg(Box<ScalarExpr>),
    /// Three-valued AND.
    And(Box<ScalarExpr>, Box<ScalarExpr>),
    /// Three-valued OR.
    Or(Box<ScalarExpr>, Box<ScalarExpr>),
    /// Three-valued NOT.
    Not(Box<ScalarExpr>),
    /// `IS [NOT] NULL`.
    IsNull(Box<ScalarExpr>, bool),
    /// `[NOT] IN (list)`.
    InList(Box<ScalarExpr>, Vec<ScalarExpr>, bool),
    /// `[NOT] LIKE/ILIKE pattern` (pattern uses `\` as escape).
    Like {
        /// Subject.
        expr: Box<ScalarExpr>,
        /// Pattern.
        pattern: Box<ScalarExpr>,
        /// `ILIKE`.
        case_insensitive: bool,
        /// `NOT LIKE`.
        negated: bool,
    },
    /// The list contains the item.
    ListContains(Box<ScalarExpr>, Box<ScalarExpr>),
    /// `CAST(expr AS type)`; `to_date` truncates timestamps to midnight.
    Cast {
        /// Operand.
        expr: Box<ScalarExpr>,
        /// Target type.
        to: ColumnType,
        /// Cast to DATE (timestamp at midnight).
        to_date: bool,
    },
    /// `timestamp + interval`.
    AddInterval(Box<ScalarExpr>, Interval),
    /// A built-in function call.
    Func(ScalarFunc, Vec<ScalarExpr>),
}

/// SQL three-valued truth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Truth {
    /// TRUE
    True,
    /// FALSE
    False,
    /// UNKNOWN (NULL)
    Unknown,
}

/// Which rows a leaf is UNKNOWN for (besides being TRUE for the storage result).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeafUnknown {
    /// Rows where the column is NULL (the usual case).
    ColumnNulls,
    /// Every row that is not TRUE (`x IN (…, NULL)`).
    AllOthers,
}

/// How a subquery's result relates to the outer row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubqueryMode {
    /// `column IN (subquery)`: NULLs make the answer UNKNOWN.
    In,
    /// Decorrelated `EXISTS`: never UNKNOWN.
    Exists,
}

/// One node of a WHERE plan; evaluation yields the TRUE and UNKNOWN row sets.
pub struct FilterNode<'a> {
    /// Unique id, keys the statistics EXPLAIN ANALYZE prints.
    pub id: usize,
    /// Estimated TRUE rows.
    pub estimate: u64,
    /// What to evaluate.
    pub kind: FilterKind<'a>,
}

/// The kinds of WHERE-plan nodes.
pub enum FilterKind<'a> {
    /// Same truth for every row.
    Const(Truth),
    /// A storage-evaluated predicate on one column.
    Leaf {
        /// Column name.
        column: String,
        /// The predicate, operands coerced to the column type.
        predicate: LeafPredicate,
        /// Where the leaf is UNKNOWN.
        unknown: LeafUnknown,
    },
    /// `column IS [NOT] NULL`.
    IsNull {
        /// Column name.
        column: String,
        /// `IS NOT NULL`.
        negated: bool,
    },
    /// Conjunction, children in evaluation order (cheapest first).
    And(Vec<FilterNode<'a>>),
    /// Disjunction, children in evaluation order.
    Or(Vec<FilterNode<'a>>),
    /// Negation.
    Not(Box<FilterNode<'a>>),
    /// `column IN (subquery)` or a decorrelated `EXISTS`.
    Subquery {
        /// Outer column compared with the subquery's single output column.
        column: String,
        /// Whether the outer column is the row id (`profile_id` of profiles/segments).
        is_row_id: bool,
        /// Outer column type, for coercing the subquery's values.
        column_type: ColumnType,
        /// The subquery.
        plan: Box<SelectPlan<'a>>,
        /// `IN` or `EXISTS` semantics.
        mode: SubqueryMode,
    },
    /// Uncorrelated `EXISTS (subquery)`: TRUE everywhere iff it returns a row.
    ExistsAny(Box<SelectPlan<'a>>),
    /// A boolean expression evaluated row by row on the rows still in play.
    Residual {
        /// The expression (slots = the plan's input columns).
        expr: ScalarExpr,
        /// Slots the expression reads (fetched for the rows evaluated).
        slots: Vec<usize>,
    },
}

/// An aggregate function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggFunc {
    /// `COUNT(*)` (no argument) or `COUNT(x)`.
    Count,
    /// `SUM(x)`
    Sum,
    /// `AVG(x)`
    Avg,
    /// `MIN(x)`
    Min,
    /// `MAX(x)`
    Max,
}

/// One aggregate computed per group.
#[derive(Debug, Clone, PartialEq)]
pub struct AggregateCall {
    /// The function.
    pub func: AggFunc,
    /// Argument over the input row; `None` for `COUNT(*)`.
    pub arg: Option<ScalarExpr>,
    /// `DISTINCT` given.
    pub distinct: bool,
    /// Result type.
    pub output_type: ColumnType,
    /// Argument type (for SUM's integer/float choice).
    pub arg_type: Option<ColumnType>,
}

/// GROUP BY and aggregates; the row after it is group keys then aggregate results.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AggregatePlan {
    /// Group keys over the input row.
    pub group_by: Vec<ScalarExpr>,
    /// Aggregates.
    pub aggregates: Vec<AggregateCall>,
}

/// One ORDER BY key, over the row before projection.
#[derive(Debug, Clone, PartialEq)]
pub struct SortKey {
    /// Sort expression.
    pub expr: ScalarExpr,
    /// Descending.
    pub descending: bool,
    /// NULLs sort first.
    pub nulls_first: bool,
}

/// A planned single-table SELECT.
pub struct SelectPlan<'a> {
    /// Table name or alias, for EXPLAIN.
    pub table_label: String,
    /// The source.
    pub table: BoundTable<'a>,
    /// Name of the row-id column, for tables whose row id is `profile_id`.
    pub row_id_column: Option<String>,
    /// Input columns fetched for projection, grouping and sorting (slot order).
    pub input_columns: Vec<(String, ColumnType)>,
    /// WHERE plan.
    pub filter: Option<FilterNode<'a>>,
    /// GROUP BY / aggregates.
    pub aggregate: Option<AggregatePlan>,
    /// HAVING, over the aggregated row.
    pub having: Option<ScalarExpr>,
    /// Output expressions.
    pub projection: Vec<ScalarExpr>,
    /// Output names and types (`None`: untyped NULL, reported as string).
    pub output: Vec<(String, Option<ColumnType>)>,
    /// `SELECT DISTINCT`.
    pub distinct: bool,
    /// ORDER BY keys.
    pub order_by: Vec<SortKey>,
    /// LIMIT.
    pub limit: Option<u64>,
    /// OFFSET.
    pub offset: u64,
}

impl SelectPlan<'_> {
    /// Whether the result is exactly the filtered row ids (so a subquery can use the bitmap).
    #[must_use]
    pub fn yields_row_ids(&self) -> bool {
        let Some(row_id) = &self.row_id_column else {
            return false;
        };
        let projects_row_id = match self.projection.as_slice() {
            [ScalarExpr::Column(slot)] => self
                .input_columns
                .get(*slot)
                .is_some_and(|(n, _)| n == row_id),
            _ => false,
        };
        projects_row_id && self.aggregate.is_none() && self.limit.is_none() && self.offset == 0
    }
}
