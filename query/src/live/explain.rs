//! Why a profile is or is not in a segment: each condition of the definition's WHERE tree
//! (and of its subqueries) with the profile's values and whether the condition held.
//!
//! Every condition is judged by running it, restricted to the profile, through the same planner
//! and executor as the segment itself, so the explanation cannot disagree with membership.

use std::collections::BTreeMap;

use profiledb_engine::{Snapshot, Value};
use roaring::RoaringBitmap;
use sqlparser::ast::{self, BinaryOperator, Expr, SetExpr, UnaryOperator};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::tokenizer::{Token, Tokenizer};

use super::analysis::parse_definition;
use super::error::LiveError;
use super::manager::{LiveSegments, SegmentState, StoreView};
use super::restrict::RestrictedCatalog;
use crate::catalog::Catalog;
use crate::engine_catalog::SnapshotCatalog;
use crate::error::QueryError;
use crate::exec::filter::Stats;
use crate::exec::run_select;
use crate::format::sql_literal;
use crate::planner::{plan_query, PlanContext, PROFILE_ID};

/// Why a profile is or is not a member of a segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    /// The segment.
    pub segment: String,
    /// The profile.
    pub profile_id: u32,
    /// Whether the profile is a stored member.
    pub member: bool,
    /// The definition's conditions, depth-first (subconditions follow their parent).
    pub conditions: Vec<ConditionResult>,
}

/// One condition of a definition, judged for one profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionResult {
    /// Nesting depth: 0 for the WHERE clause's top condition.
    pub depth: usize,
    /// The condition as SQL.
    pub text: String,
    /// What the profile has: its column values, or for conditions on events how many of its
    /// events satisfy the condition, or the aggregates a HAVING tests.
    pub value_seen: Option<String>,
    /// Whether the condition held: `None` is SQL's UNKNOWN (or could not be judged).
    pub held: Option<bool>,
}

/// What one condition is evaluated against.
struct Context<'a> {
    catalog: &'a dyn Catalog,
    segments: &'a BTreeMap<String, SegmentState>,
    now: i64,
    profile: u32,
}

impl LiveSegments {
    /// Explains why `profile` is (or is not) in `segment`, judging each condition at `now`.
    ///
    /// # Errors
    /// [`LiveError::UnknownSegment`], or engine failures reading the profile.
    pub fn explain_membership(
        &self,
        snapshot: &Snapshot,
        segment: &str,
        profile: u32,
        now: i64,
    ) -> Result<Explanation, LiveError> {
        let state = self
            .state(segment)
            .ok_or_else(|| LiveError::UnknownSegment(segment.to_owned()))?;
        let full = SnapshotCatalog::new(snapshot).with_now(now);
        let only: RoaringBitmap = std::iter::once(profile).collect();
        // A local definition only needs the profile's own rows; others need everything.
        let restricted = if state.local {
            Some(RestrictedCatalog::new(
                &full,
                snapshot,
                self.event_index(),
                &only,
                now,
            )?)
        } else {
            None
        };
        let catalog: &dyn Catalog = match &restricted {
            Some(r) => r,
            None => &full,
        };
        let ctx = Context {
            catalog,
            segments: self.segment_states(),
            now,
            profile,
        };
        let mut conditions = Vec::new();
        if let SetExpr::Select(select) = state.query.body.as_ref() {
            explain_select(&ctx, &state.query, select, 0, &mut conditions);
        }
        Ok(Explanation {
            segment: segment.to_owned(),
            profile_id: profile,
            member: state.members.contains(profile),
            conditions,
        })
    }
}

/// The conditions of one SELECT: its WHERE tree, then its HAVING.
fn explain_select(
    ctx: &Context<'_>,
    query: &ast::Query,
    select: &ast::Select,
    depth: usize,
    out: &mut Vec<ConditionResult>,
) {
    let Some(from) = select.from.first() else {
        return;
    };
    let from = from.to_string();
    let per_profile = is_profile_table(&from, ctx);
    if let Some(selection) = &select.selection {
        explain_expr(ctx, &from, per_profile, selection, depth, out);
    }
    if let Some(having) = &select.having {
        let value_seen = aggregates_seen(ctx, &from, select, having);
        let held = run_rows(ctx, &restricted_query(ctx, query, select)).map(|rows| rows > 0);
        out.push(ConditionResult {
            depth,
            text: format!("HAVING {having}"),
            value_seen,
            held: held.ok(),
        });
    }
}

/// Whether `from` reads profiles (one row per profile) rather than events.
fn is_profile_table(from: &str, ctx: &Context<'_>) -> bool {
    let name = from.split_whitespace().next().unwrap_or_default();
    name != "events" && (name == "profiles" || ctx.segments.contains_key(name))
}

fn strip(expr: &Expr) -> &Expr {
    match expr {
        Expr::Nested(inner) => strip(inner),
        other => other,
    }
}

/// The operands of a chain of the same AND/OR operator.
fn flatten<'e>(expr: &'e Expr, op: &BinaryOperator, out: &mut Vec<&'e Expr>) {
    match strip(expr) {
        Expr::BinaryOp { left, op: o, right } if o == op => {
            flatten(left, op, out);
            flatten(right, op, out);
        }
        other => out.push(other),
    }
}

fn explain_expr(
    ctx: &Context<'_>,
    from: &str,
    per_profile: bool,
    expr: &Expr,
    depth: usize,
    out: &mut Vec<ConditionResult>,
) {
    let expr = strip(expr);
    let (held, counts) = judge(ctx, from, per_profile, expr);
    let children: Vec<&Expr> = match expr {
        Expr::BinaryOp {
            op: op @ (BinaryOperator::And | BinaryOperator::Or),
            ..
        } => {
            let mut parts = Vec::new();
            flatten(expr, op, &mut parts);
            parts
        }
        Expr::UnaryOp {
            op: UnaryOperator::Not,
            expr: inner,
        } => vec![inner.as_ref()],
        _ => Vec::new(),
    };
    let value_seen = if !children.is_empty() {
        None
    } else if let Some(subquery) = subquery_of(expr) {
        subquery_seen(ctx, subquery)
    } else if per_profile {
        profile_values(ctx, &expr.to_string())
    } else {
        counts
    };
    let text = match expr {
        Expr::BinaryOp {
            op: BinaryOperator::And,
            ..
        } => "AND".to_owned(),
        Expr::BinaryOp {
            op: BinaryOperator::Or,
            ..
        } => "OR".to_owned(),
        Expr::UnaryOp {
            op: UnaryOperator::Not,
            ..
        } => "NOT".to_owned(),
        other => other.to_string(),
    };
    out.push(ConditionResult {
        depth,
        text,
        value_seen,
        held,
    });
    for child in children {
        explain_expr(ctx, from, per_profile, child, depth + 1, out);
    }
    if let Some(subquery) = subquery_of(expr) {
        if let SetExpr::Select(select) = subquery.body.as_ref() {
            explain_select(ctx, subquery, select, depth + 1, out);
        }
    }
}

fn subquery_of(expr: &Expr) -> Option<&ast::Query> {
    match expr {
        Expr::InSubquery { subquery, .. } | Expr::Exists { subquery, .. } => Some(subquery),
        _ => None,
    }
}

/// Whether `expr` held for the profile (or, over events, for any of its events), and for
/// events how many of them satisfied it.
fn judge(
    ctx: &Context<'_>,
    from: &str,
    per_profile: bool,
    expr: &Expr,
) -> (Option<bool>, Option<String>) {
    let count = |condition: String| {
        let sql = format!(
            "SELECT count(*) FROM {from} WHERE {PROFILE_ID} = {} AND {condition}",
            ctx.profile
        );
        run_count(ctx, &sql).ok()
    };
    let true_rows = count(format!("({expr})"));
    let false_rows = count(format!("NOT ({expr})"));
    if per_profile {
        let held = match (true_rows, false_rows) {
            (Some(t), _) if t > 0 => Some(true),
            (_, Some(f)) if f > 0 => Some(false),
            _ => None,
        };
        return (held, None);
    }
    let all = count("TRUE".to_owned());
    let seen = match (true_rows, all) {
        (Some(t), Some(n)) => Some(format!("{t} of {n} rows")),
        _ => None,
    };
    (true_rows.map(|t| t > 0), seen)
}

/// `column = value` for each profile column the condition names.
fn profile_values(ctx: &Context<'_>, text: &str) -> Option<String> {
    let table = ctx.catalog.table("profiles")?;
    let columns: Vec<String> = table.columns().into_iter().map(|(n, _)| n).collect();
    let dialect = PostgreSqlDialect {};
    let tokens = Tokenizer::new(&dialect, text).tokenize().ok()?;
    let mut named: Vec<String> = Vec::new();
    for token in tokens {
        let Token::Word(word) = token else { continue };
        let name = if word.quote_style.is_some() {
            word.value
        } else {
            word.value.to_lowercase()
        };
        if columns.contains(&name) && !named.contains(&name) {
            named.push(name);
        }
    }
    if named.is_empty() {
        return None;
    }
    let only: RoaringBitmap = std::iter::once(ctx.profile).collect();
    let parts: Vec<String> = named
        .iter()
        .map(|column| {
            let value = table
                .fetch(column, &only)
                .ok()
                .and_then(|mut v| v.pop())
                .unwrap_or(Value::Null);
            format!("{column} = {}", sql_literal(&value))
        })
        .collect();
    Some(parts.join(", "))
}

/// For `IN (subquery)` / `EXISTS`: what the subquery finds for the profile.
fn subquery_seen(ctx: &Context<'_>, subquery: &ast::Query) -> Option<String> {
    let SetExpr::Select(select) = subquery.body.as_ref() else {
        return None;
    };
    let from = select.from.first()?.to_string();
    if let Some(having) = &select.having {
        return aggregates_seen(ctx, &from, select, having);
    }
    let condition = select
        .selection
        .as_ref()
        .map_or_else(|| "TRUE".to_owned(), |w| format!("({w})"));
    let sql = format!(
        "SELECT count(*) FROM {from} WHERE {PROFILE_ID} = {} AND {condition}",
        ctx.profile
    );
    let rows = run_count(ctx, &sql).ok()?;
    let table = from.split_whitespace().next().unwrap_or_default();
    Some(format!("{rows} matching rows in {table}"))
}

/// The aggregates a HAVING tests, computed over the profile's rows: `count(*) = 2`.
fn aggregates_seen(
    ctx: &Context<'_>,
    from: &str,
    select: &ast::Select,
    having: &Expr,
) -> Option<String> {
    let mut calls = Vec::new();
    collect_functions(having, &mut calls);
    if calls.is_empty() {
        return None;
    }
    let condition = select
        .selection
        .as_ref()
        .map_or_else(|| "TRUE".to_owned(), |w| format!("({w})"));
    let list: Vec<String> = calls.iter().map(ToString::to_string).collect();
    let sql = format!(
        "SELECT {} FROM {from} WHERE {PROFILE_ID} = {} AND {condition}",
        list.join(", "),
        ctx.profile
    );
    let row = run(ctx, &sql).ok()?.into_iter().next()?;
    let parts: Vec<String> = list
        .iter()
        .zip(row)
        .map(|(call, value)| format!("{call} = {}", sql_literal(&value)))
        .collect();
    Some(parts.join(", "))
}

/// Function calls (aggregates) in a HAVING expression, outermost first.
fn collect_functions<'e>(expr: &'e Expr, out: &mut Vec<&'e Expr>) {
    match expr {
        Expr::Function(_) => out.push(expr),
        Expr::BinaryOp { left, right, .. } => {
            collect_functions(left, out);
            collect_functions(right, out);
        }
        Expr::UnaryOp { expr, .. } | Expr::Nested(expr) | Expr::Cast { expr, .. } => {
            collect_functions(expr, out);
        }
        Expr::Between {
            expr, low, high, ..
        } => {
            collect_functions(expr, out);
            collect_functions(low, out);
            collect_functions(high, out);
        }
        _ => {}
    }
}

/// `query` (whose body is `select`) with its WHERE narrowed to the profile's rows.
fn restricted_query(ctx: &Context<'_>, query: &ast::Query, select: &ast::Select) -> String {
    let mut narrowed = select.clone();
    narrowed.selection = None;
    let mut text = ast::Query {
        body: Box::new(SetExpr::Select(Box::new(narrowed))),
        ..query.clone()
    }
    .to_string();
    let condition = select
        .selection
        .as_ref()
        .map_or_else(|| "TRUE".to_owned(), |w| format!("({w})"));
    // Splice the WHERE in right after the FROM clause, before GROUP BY/HAVING/ORDER BY.
    let from = select
        .from
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let needle = format!("FROM {from}");
    if let Some(at) = text.find(&needle) {
        let end = at + needle.len();
        text.insert_str(
            end,
            &format!(" WHERE {PROFILE_ID} = {} AND {condition}", ctx.profile),
        );
    }
    text
}

/// Runs `sql` in the explanation's context.
fn run(ctx: &Context<'_>, sql: &str) -> Result<Vec<Vec<Value>>, QueryError> {
    let query = parse_definition(sql)?;
    let view = StoreView(ctx.segments);
    let plan_ctx = PlanContext::new(ctx.catalog, &view, ctx.now);
    let plan = plan_query(&plan_ctx, &query, None)?;
    Ok(run_select(&plan, &mut Stats::new())?.rows)
}

fn run_count(ctx: &Context<'_>, sql: &str) -> Result<i64, QueryError> {
    match run(ctx, sql)?.first().and_then(|r| r.first()) {
        Some(Value::Int64(n)) => Ok(*n),
        _ => Err(QueryError::Internal("count(*) returned no number".into())),
    }
}

fn run_rows(ctx: &Context<'_>, sql: &str) -> Result<usize, QueryError> {
    Ok(run(ctx, sql)?.len())
}
