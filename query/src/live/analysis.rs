//! What a segment definition depends on: which segments it reads, whether a profile's
//! membership depends only on that profile's own rows ("local", so it can be re-evaluated for
//! just the profiles a write touched), and how it depends on the clock.

use std::cell::RefCell;
use std::collections::BTreeSet;

use profiledb_engine::{TableKind, Value};
use roaring::RoaringBitmap;
use sqlparser::ast;
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::tokenizer::{Token, Tokenizer};

use super::error::LiveError;
use crate::catalog::Catalog;
use crate::error::QueryError;
use crate::parser::{parse, Statement};
use crate::plan::{BoundTable, FilterKind, FilterNode, ScalarExpr, SelectPlan};
use crate::planner::{plan_query, PlanContext, PROFILE_ID};
use crate::predicate::LeafPredicate;
use crate::segment::{SegmentDefinition, SegmentStore};

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// Clock offsets at which a definition is planned to see how its conditions move with `now()`.
/// Odd amounts (not whole days, crossing month ends, years apart) so that anything but
/// `now() ± fixed interval` shows up as a mismatch.
const PROBE_OFFSETS: [i64; 5] = [
    0,
    37 * MICROS_PER_DAY + 11_833_456_789,
    -(3 * 365 + 123) * MICROS_PER_DAY - 2_345_678_901,
    410 * MICROS_PER_DAY + 47_000_000_123,
    40 * 365 * MICROS_PER_DAY + 61_000_000_007,
];

/// Words that read the clock.
const CLOCK_WORDS: [&str; 7] = [
    "now",
    "current_timestamp",
    "current_date",
    "current_time",
    "localtimestamp",
    "localtime",
    "transaction_timestamp",
];

/// A condition `column <op> now() + offset` on timestamps: its truth for a row whose value is
/// `v` can change only as the clock passes `v - offset`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TimeLeaf {
    /// The table whose column is compared (segments read as profiles).
    pub table: TableKind,
    /// The compared column.
    pub column: String,
    /// Offsets `c` of the `now() + c` operands (one per moving end).
    pub offsets: Vec<i64>,
}

/// How a definition depends on the clock.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ClockUse {
    /// Not at all.
    None,
    /// Only through [`TimeLeaf`] conditions: membership changes only at computable edges.
    Edges(Vec<TimeLeaf>),
    /// In a way whose edges are not computed: re-evaluated in full when the clock moves.
    Opaque,
}

/// The result of analysing a definition.
pub(crate) struct Analysis {
    /// The parsed defining query.
    pub query: ast::Query,
    /// Segments the definition reads.
    pub depends_on: BTreeSet<String>,
    /// Whether a profile's membership depends only on its own profile row and events.
    pub local: bool,
    /// How the definition depends on the clock.
    pub clock: ClockUse,
}

/// Parses a stored definition's SQL into its query.
pub(crate) fn parse_definition(sql: &str) -> Result<ast::Query, QueryError> {
    match parse(sql)? {
        Statement::Standard(statement) => match *statement {
            ast::Statement::Query(query) => Ok(*query),
            _ => Err(QueryError::plan("a segment is defined by a SELECT", None)),
        },
        _ => Err(QueryError::plan("a segment is defined by a SELECT", None)),
    }
}

/// Analyses `sql` as the definition of segment `name`, planning it against `catalog`.
pub(crate) fn analyze(
    name: &str,
    sql: &str,
    catalog: &dyn Catalog,
    segments: &dyn SegmentStore,
    now: i64,
) -> Result<Analysis, LiveError> {
    let query = parse_definition(sql)?;
    let recorder = Recorder {
        inner: segments,
        seen: RefCell::new(BTreeSet::new()),
    };
    let ctx = PlanContext::new(catalog, &recorder, now);
    let plan = plan_query(&ctx, &query, None)?;
    if !returns_profile_ids(&plan) {
        return Err(LiveError::NoProfileId(name.to_owned()));
    }
    let local = is_local(&plan, true);
    drop(plan);
    let clock = if mentions_clock(sql) {
        clock_use(&query, catalog, segments, now)
    } else {
        ClockUse::None
    };
    Ok(Analysis {
        query,
        depends_on: recorder.seen.into_inner(),
        local,
        clock,
    })
}

/// Whether the plan outputs a `profile_id` column of type int64.
fn returns_profile_ids(plan: &SelectPlan<'_>) -> bool {
    plan.output
        .iter()
        .any(|(n, t)| n == PROFILE_ID && matches!(t, Some(profiledb_engine::ColumnType::Int64)))
}

/// Notes every segment the planner asks about, to learn a definition's dependencies.
struct Recorder<'a> {
    inner: &'a dyn SegmentStore,
    seen: RefCell<BTreeSet<String>>,
}

impl SegmentStore for Recorder<'_> {
    fn get(&self, name: &str) -> Option<SegmentDefinition> {
        let found = self.inner.get(name);
        if found.is_some() {
            self.seen.borrow_mut().insert(name.to_owned());
        }
        found
    }

    fn list(&self) -> Vec<SegmentDefinition> {
        self.inner.list()
    }

    fn put(&mut self, _definition: SegmentDefinition) -> Result<(), QueryError> {
        Err(QueryError::Internal(
            "segments are read-only while planning".into(),
        ))
    }

    fn remove(&mut self, _name: &str) -> Result<bool, QueryError> {
        Err(QueryError::Internal(
            "segments are read-only while planning".into(),
        ))
    }

    fn members(&self, name: &str) -> Option<RoaringBitmap> {
        let found = self.inner.members(name);
        if found.is_some() {
            self.seen.borrow_mut().insert(name.to_owned());
        }
        found
    }
}

/// The table a plan reads, as far as locality is concerned (segments are profiles).
pub(crate) fn plan_table(plan: &SelectPlan<'_>) -> Option<TableKind> {
    match &plan.table {
        BoundTable::Segment(_) => Some(TableKind::Profiles),
        BoundTable::Dual(_) => None,
        BoundTable::Catalog(_) => match plan.table_label.split(" AS ").next().unwrap_or_default() {
            "profiles" => Some(TableKind::Profiles),
            "events" => Some(TableKind::Events),
            _ => None,
        },
    }
}

/// Whether slot `slot` of the plan's input is the `profile_id` column.
fn is_profile_id_slot(plan: &SelectPlan<'_>, slot: usize) -> bool {
    plan.input_columns
        .get(slot)
        .is_some_and(|(name, _)| name == PROFILE_ID)
}

/// Whether the plan's `profile_id` output (or single output, for a subquery) is the row's own
/// `profile_id` column.
fn outputs_own_profile_id(plan: &SelectPlan<'_>, top: bool) -> bool {
    let index = if top {
        plan.output.iter().position(|(n, _)| n == PROFILE_ID)
    } else if plan.projection.len() == 1 {
        Some(0)
    } else {
        None
    };
    let Some(index) = index else { return false };
    match (plan.projection.get(index), &plan.aggregate) {
        (Some(ScalarExpr::Column(slot)), None) => is_profile_id_slot(plan, *slot),
        // After GROUP BY profile_id, slot 0 of the grouped row is the group key.
        (Some(ScalarExpr::Column(0)), Some(_)) => true,
        _ => false,
    }
}

/// Whether each profile's membership (or, for a subquery, presence in the result) depends only
/// on that profile's own rows, so evaluating over a subset of profiles gives their exact answer.
fn is_local(plan: &SelectPlan<'_>, top: bool) -> bool {
    if plan_table(plan).is_none() || plan.limit.is_some() || plan.offset > 0 {
        return false;
    }
    if let Some(aggregate) = &plan.aggregate {
        let by_profile = matches!(aggregate.group_by.as_slice(),
            [ScalarExpr::Column(slot)] if is_profile_id_slot(plan, *slot));
        if !by_profile {
            return false;
        }
    }
    outputs_own_profile_id(plan, top) && plan.filter.as_ref().is_none_or(|f| filter_is_local(f))
}

fn filter_is_local(node: &FilterNode<'_>) -> bool {
    match &node.kind {
        FilterKind::Const(_)
        | FilterKind::Leaf { .. }
        | FilterKind::IsNull { .. }
        | FilterKind::Residual { .. } => true,
        FilterKind::And(children) | FilterKind::Or(children) => {
            children.iter().all(filter_is_local)
        }
        FilterKind::Not(child) => filter_is_local(child),
        FilterKind::Subquery { column, plan, .. } => column == PROFILE_ID && is_local(plan, false),
        FilterKind::ExistsAny(_) => false,
    }
}

/// Whether `sql` contains a word that reads the clock (outside string literals).
pub(crate) fn mentions_clock(sql: &str) -> bool {
    let dialect = PostgreSqlDialect {};
    let Ok(tokens) = Tokenizer::new(&dialect, sql).tokenize() else {
        // Unparseable text never reaches here; assume the worst.
        return true;
    };
    tokens.iter().any(|token| {
        matches!(token, Token::Word(w) if w.quote_style.is_none()
            && CLOCK_WORDS.iter().any(|c| w.value.eq_ignore_ascii_case(c)))
    })
}

/// One node of a plan, flattened for comparing plans made at different clocks.
#[derive(Debug, Clone, PartialEq)]
enum Shape {
    /// A storage leaf on a table's column.
    Leaf {
        table: Option<TableKind>,
        column: String,
        predicate: LeafPredicate,
    },
    /// Anything else, by its full description.
    Other(String),
}

/// Plans the definition at several clocks and finds conditions moving with the clock.
fn clock_use(
    query: &ast::Query,
    catalog: &dyn Catalog,
    segments: &dyn SegmentStore,
    now: i64,
) -> ClockUse {
    let mut probes = Vec::with_capacity(PROBE_OFFSETS.len());
    for offset in PROBE_OFFSETS {
        let Some(at) = now.checked_add(offset) else {
            return ClockUse::Opaque;
        };
        let ctx = PlanContext::new(catalog, segments, at);
        let Ok(plan) = plan_query(&ctx, query, None) else {
            return ClockUse::Opaque;
        };
        let mut shapes = Vec::new();
        plan_shapes(&plan, &mut shapes);
        probes.push((at, shapes));
    }
    let Some(((first_at, first), rest)) = probes.split_first() else {
        return ClockUse::Opaque;
    };
    if rest.iter().any(|(_, s)| s.len() != first.len()) {
        return ClockUse::Opaque;
    }
    let mut leaves = Vec::new();
    for (index, shape) in first.iter().enumerate() {
        let others: Vec<(i64, &Shape)> = rest.iter().map(|(at, s)| (*at, &s[index])).collect();
        if others.iter().all(|(_, s)| *s == shape) {
            continue;
        }
        match linear_leaf(*first_at, shape, &others) {
            Some(leaf) => leaves.push(leaf),
            None => return ClockUse::Opaque,
        }
    }
    if leaves.is_empty() {
        // The clock is mentioned but moves nothing we can track precisely.
        ClockUse::Opaque
    } else {
        ClockUse::Edges(leaves)
    }
}

/// The leaf as `column <op> now() + c` if it moves exactly with the clock at every probe.
fn linear_leaf(at: i64, shape: &Shape, others: &[(i64, &Shape)]) -> Option<TimeLeaf> {
    let Shape::Leaf {
        table: Some(table),
        column,
        predicate,
    } = shape
    else {
        return None;
    };
    let operands = leaf_operands(predicate)?;
    let mut offsets = Vec::new();
    for (position, operand) in operands.iter().enumerate() {
        let moving = others.iter().any(|(_, other)| {
            leaf_operands_of(other).and_then(|o| o.get(position).cloned()) != Some(operand.clone())
        });
        if !moving {
            continue;
        }
        let Value::Timestamp(base) = operand else {
            return None;
        };
        let offset = base.checked_sub(at)?;
        for (other_at, other) in others {
            let Shape::Leaf {
                table: t,
                column: c,
                predicate: p,
            } = other
            else {
                return None;
            };
            if t.as_ref() != Some(table) || c != column || !same_kind(p, predicate) {
                return None;
            }
            let ops = leaf_operands(p)?;
            let Some(Value::Timestamp(moved)) = ops.get(position) else {
                return None;
            };
            if moved.checked_sub(*other_at) != Some(offset) {
                return None;
            }
        }
        offsets.push(offset);
    }
    Some(TimeLeaf {
        table: *table,
        column: column.clone(),
        offsets,
    })
}

fn leaf_operands_of(shape: &Shape) -> Option<Vec<Value>> {
    match shape {
        Shape::Leaf { predicate, .. } => leaf_operands(predicate),
        Shape::Other(_) => None,
    }
}

/// The operands of a comparison or range leaf (others cannot move with the clock precisely).
fn leaf_operands(predicate: &LeafPredicate) -> Option<Vec<Value>> {
    match predicate {
        LeafPredicate::Compare(_, v) => Some(vec![v.clone()]),
        LeafPredicate::Between(low, high) => Some(vec![low.clone(), high.clone()]),
        _ => None,
    }
}

fn same_kind(a: &LeafPredicate, b: &LeafPredicate) -> bool {
    match (a, b) {
        (LeafPredicate::Compare(x, _), LeafPredicate::Compare(y, _)) => x == y,
        (LeafPredicate::Between(..), LeafPredicate::Between(..)) => true,
        _ => false,
    }
}

fn plan_shapes(plan: &SelectPlan<'_>, out: &mut Vec<Shape>) {
    out.push(Shape::Other(format!(
        "select {} {:?} {:?} {:?} {:?} {:?} {} {}",
        plan.table_label,
        plan.input_columns,
        plan.projection,
        plan.aggregate,
        plan.having,
        plan.limit,
        plan.offset,
        plan.distinct
    )));
    if let Some(filter) = &plan.filter {
        node_shapes(filter, plan_table(plan), out);
    }
}

fn node_shapes(node: &FilterNode<'_>, table: Option<TableKind>, out: &mut Vec<Shape>) {
    match &node.kind {
        FilterKind::Leaf {
            column, predicate, ..
        } => out.push(Shape::Leaf {
            table,
            column: column.clone(),
            predicate: predicate.clone(),
        }),
        FilterKind::Const(truth) => out.push(Shape::Other(format!("const {truth:?}"))),
        FilterKind::IsNull { column, negated } => {
            out.push(Shape::Other(format!("null {column} {negated}")));
        }
        FilterKind::And(children) | FilterKind::Or(children) => {
            let kind = if matches!(node.kind, FilterKind::And(_)) {
                "and"
            } else {
                "or"
            };
            out.push(Shape::Other(format!("{kind} {}", children.len())));
            children.iter().for_each(|c| node_shapes(c, table, out));
        }
        FilterKind::Not(child) => {
            out.push(Shape::Other("not".into()));
            node_shapes(child, table, out);
        }
        FilterKind::Subquery {
            column, plan, mode, ..
        } => {
            out.push(Shape::Other(format!("subquery {column} {mode:?}")));
            plan_shapes(plan, out);
        }
        FilterKind::ExistsAny(plan) => {
            out.push(Shape::Other("exists".into()));
            plan_shapes(plan, out);
        }
        FilterKind::Residual { expr, slots } => {
            out.push(Shape::Other(format!("residual {expr:?} {slots:?}")));
        }
    }
}
