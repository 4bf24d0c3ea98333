//! Evaluates a WHERE plan as bitmap algebra with three-valued logic.
//!
//! Every node yields the rows where it is TRUE and (only when an enclosing NOT needs it) the rows
//! where it is UNKNOWN; FALSE is everything else in the domain. Children of AND/OR are evaluated
//! only on the rows whose outcome is still open, so later (costlier) children see fewer rows.

use std::collections::HashMap;

use profiledb_engine::value::Value;
use roaring::RoaringBitmap;

use super::project::fetch_rows;
use super::scalar::eval;
use super::{run_select, subquery_rows, SubqueryRows};
use crate::cast::coerce_exact;
use crate::error::QueryError;
use crate::plan::{FilterKind, FilterNode, LeafUnknown, SelectPlan, SubqueryMode, Truth};
use crate::predicate::LeafPredicate;

/// What one node produced, for EXPLAIN ANALYZE.
#[derive(Debug, Clone, Default)]
pub struct NodeStats {
    /// Rows where the node was TRUE.
    pub true_rows: u64,
    /// Storage's access path, for leaves.
    pub access: Option<String>,
}

/// Statistics by node id.
pub type Stats = HashMap<usize, NodeStats>;

/// Where the statistics of a subquery answered from storage's pre-aggregates are kept: under
/// a key derived from its filter's root node id (node ids count up from 0, these down from
/// `usize::MAX`, so they never meet).
#[must_use]
pub fn pre_aggregate_key(filter_root: usize) -> usize {
    usize::MAX - filter_root
}

/// TRUE and UNKNOWN row sets of a node, both within the domain it was given.
pub struct Outcome {
    /// Rows where the condition is TRUE.
    pub true_rows: RoaringBitmap,
    /// Rows where it is UNKNOWN (empty when not requested).
    pub unknown: RoaringBitmap,
}

/// Evaluates `node` for the rows in `domain` of `plan`'s table.
pub fn eval_filter(
    node: &FilterNode<'_>,
    plan: &SelectPlan<'_>,
    domain: &RoaringBitmap,
    need_unknown: bool,
    stats: &mut Stats,
) -> Result<Outcome, QueryError> {
    let mut access = None;
    let outcome = if domain.is_empty() {
        Outcome {
            true_rows: RoaringBitmap::new(),
            unknown: RoaringBitmap::new(),
        }
    } else {
        match &node.kind {
            FilterKind::Const(truth) => constant(*truth, domain, need_unknown),
            FilterKind::Leaf {
                column,
                predicate,
                unknown,
            } => {
                let (outcome, path) =
                    leaf(plan, column, predicate, *unknown, domain, need_unknown)?;
                access = Some(path);
                outcome
            }
            FilterKind::IsNull { column, negated } => {
                let nulls = plan.table.source().null_rows(column)? & domain;
                let true_rows = if *negated { domain - &nulls } else { nulls };
                Outcome {
                    true_rows,
                    unknown: RoaringBitmap::new(),
                }
            }
            FilterKind::And(children) => and(children, plan, domain, need_unknown, stats)?,
            FilterKind::Or(children) => or(children, plan, domain, need_unknown, stats)?,
            FilterKind::Not(child) => {
                let inner = eval_filter(child, plan, domain, true, stats)?;
                Outcome {
                    true_rows: domain - &inner.true_rows - &inner.unknown,
                    unknown: inner.unknown,
                }
            }
            FilterKind::Subquery {
                column,
                is_row_id,
                column_type,
                plan: sub,
                mode,
            } => {
                let rows = subquery_rows(sub, stats)?;
                semi_join(plan, column, *is_row_id, *column_type, rows, *mode, domain)?
            }
            FilterKind::ExistsAny(sub) => {
                let found = !run_select(sub, stats)?.rows.is_empty();
                constant(
                    if found { Truth::True } else { Truth::False },
                    domain,
                    false,
                )
            }
            FilterKind::Residual { expr, slots } => {
                residual(plan, expr, slots, domain, need_unknown)?
            }
        }
    };
    stats.insert(
        node.id,
        NodeStats {
            true_rows: outcome.true_rows.len(),
            access,
        },
    );
    Ok(outcome)
}

fn constant(truth: Truth, domain: &RoaringBitmap, need_unknown: bool) -> Outcome {
    let empty = RoaringBitmap::new;
    match truth {
        Truth::True => Outcome {
            true_rows: domain.clone(),
            unknown: empty(),
        },
        Truth::False => Outcome {
            true_rows: empty(),
            unknown: empty(),
        },
        Truth::Unknown => Outcome {
            true_rows: empty(),
            unknown: if need_unknown {
                domain.clone()
            } else {
                empty()
            },
        },
    }
}

fn leaf(
    plan: &SelectPlan<'_>,
    column: &str,
    predicate: &LeafPredicate,
    unknown: LeafUnknown,
    domain: &RoaringBitmap,
    need_unknown: bool,
) -> Result<(Outcome, String), QueryError> {
    let source = plan.table.source();
    // Storage sees the domain: chunks without rows in play are skipped, sparse ones probed.
    let (true_rows, path) = source.filter_within(column, predicate, domain)?;
    let unknown = match (need_unknown, unknown) {
        (false, _) => RoaringBitmap::new(),
        (true, LeafUnknown::ColumnNulls) => source.null_rows(column)? & domain,
        (true, LeafUnknown::AllOthers) => domain - &true_rows,
    };
    Ok((Outcome { true_rows, unknown }, path.to_string()))
}

fn and(
    children: &[FilterNode<'_>],
    plan: &SelectPlan<'_>,
    domain: &RoaringBitmap,
    need_unknown: bool,
    stats: &mut Stats,
) -> Result<Outcome, QueryError> {
    if !need_unknown {
        if let Some((Some(rows), _)) = fused_leaves_inner(children, plan, domain, true, stats)? {
            return Ok(Outcome {
                true_rows: rows,
                unknown: RoaringBitmap::new(),
            });
        }
        // Only rows still TRUE are evaluated, and a child's TRUE rows lie within the domain it
        // was given: they are the new TRUE set as they are (no copy, no intersection).
        let mut current: Option<RoaringBitmap> = None;
        for child in children {
            let open = current.as_ref().unwrap_or(domain);
            current = Some(eval_filter(child, plan, open, false, stats)?.true_rows);
        }
        return Ok(Outcome {
            true_rows: current.unwrap_or_else(|| domain.clone()),
            unknown: RoaringBitmap::new(),
        });
    }
    let mut true_rows = domain.clone();
    let mut unknown = RoaringBitmap::new();
    for child in children {
        // Only rows that can still end TRUE or UNKNOWN are evaluated.
        let open = &true_rows | &unknown;
        let c = eval_filter(child, plan, &open, need_unknown, stats)?;
        let new_true = &true_rows & &c.true_rows;
        unknown = (open & (&c.true_rows | &c.unknown)) - &new_true;
        true_rows = new_true;
    }
    Ok(Outcome { true_rows, unknown })
}

/// An AND whose children are all storage leaves, evaluated by the source in one go when it
/// can (see [`crate::catalog::TableSource::conjunction`]): the final rows (when `want_rows`)
/// and their number, with every child's statistics recorded. `None` when the source declines.
pub(super) fn fused_leaves(
    node: &FilterNode<'_>,
    children: &[FilterNode<'_>],
    plan: &SelectPlan<'_>,
    domain: &RoaringBitmap,
    want_rows: bool,
    stats: &mut Stats,
) -> Result<Option<(Option<RoaringBitmap>, u64)>, QueryError> {
    let found = fused_leaves_inner(children, plan, domain, want_rows, stats)?;
    if let Some((_, n)) = &found {
        stats.insert(
            node.id,
            NodeStats {
                true_rows: *n,
                access: None,
            },
        );
    }
    Ok(found)
}

fn fused_leaves_inner(
    children: &[FilterNode<'_>],
    plan: &SelectPlan<'_>,
    domain: &RoaringBitmap,
    want_rows: bool,
    stats: &mut Stats,
) -> Result<Option<(Option<RoaringBitmap>, u64)>, QueryError> {
    let mut leaves = Vec::with_capacity(children.len());
    for child in children {
        match &child.kind {
            FilterKind::Leaf {
                column, predicate, ..
            } => leaves.push((column.as_str(), predicate)),
            _ => return Ok(None),
        }
    }
    if leaves.len() < 2 || domain.is_empty() {
        return Ok(None);
    }
    let Some(result) = plan
        .table
        .source()
        .conjunction(&leaves, domain, want_rows)?
    else {
        return Ok(None);
    };
    for (i, (child, &n)) in children.iter().zip(&result.counts).enumerate() {
        stats.insert(
            child.id,
            NodeStats {
                true_rows: n,
                access: result.access.get(i).map(ToString::to_string),
            },
        );
    }
    let n = result.counts.last().copied().unwrap_or(0);
    Ok(Some((result.rows, n)))
}

fn or(
    children: &[FilterNode<'_>],
    plan: &SelectPlan<'_>,
    domain: &RoaringBitmap,
    need_unknown: bool,
    stats: &mut Stats,
) -> Result<Outcome, QueryError> {
    let mut true_rows = RoaringBitmap::new();
    let mut unknown = RoaringBitmap::new();
    for child in children {
        let open = domain - &true_rows;
        let c = eval_filter(child, plan, &open, need_unknown, stats)?;
        true_rows |= &c.true_rows;
        if need_unknown {
            unknown = (unknown | c.unknown) - &true_rows;
        }
    }
    Ok(Outcome { true_rows, unknown })
}

/// `column IN (subquery)` / decorrelated EXISTS, from the subquery's value set.
pub(super) fn semi_join(
    plan: &SelectPlan<'_>,
    column: &str,
    is_row_id: bool,
    column_type: profiledb_engine::value::ColumnType,
    rows: SubqueryRows,
    mode: SubqueryMode,
    domain: &RoaringBitmap,
) -> Result<Outcome, QueryError> {
    let (values, has_null) = match rows {
        SubqueryRows::RowIds(ids) if is_row_id => {
            return Ok(Outcome {
                true_rows: ids & domain,
                unknown: RoaringBitmap::new(),
            });
        }
        SubqueryRows::RowIds(ids) => (
            ids.iter()
                .map(|i| Value::Int64(i64::from(i)))
                .collect::<Vec<_>>(),
            false,
        ),
        SubqueryRows::Values(values) => {
            let has_null = values.iter().any(Value::is_null);
            (
                values.into_iter().filter(|v| !v.is_null()).collect(),
                has_null,
            )
        }
    };
    let unknown_possible = mode == SubqueryMode::In && has_null;
    let true_rows = if values.is_empty() {
        RoaringBitmap::new()
    } else if is_row_id {
        values
            .iter()
            .filter_map(|v| match v {
                Value::Int64(i) => u32::try_from(*i).ok(),
                _ => None,
            })
            .collect::<RoaringBitmap>()
            & domain
    } else {
        let coerced = values
            .iter()
            .filter_map(|v| coerce_exact(column_type, v.clone()))
            .collect();
        plan.table
            .source()
            .filter(column, &LeafPredicate::InList(coerced))?
            .0
            & domain
    };
    let mut unknown = RoaringBitmap::new();
    if mode == SubqueryMode::In && !is_row_id && (!values.is_empty() || has_null) {
        unknown |= plan.table.source().null_rows(column)? & domain;
    }
    if unknown_possible {
        unknown |= domain - &true_rows;
    }
    Ok(Outcome { true_rows, unknown })
}

/// Row-by-row evaluation of an expression storage cannot evaluate.
fn residual(
    plan: &SelectPlan<'_>,
    expr: &crate::plan::ScalarExpr,
    slots: &[usize],
    domain: &RoaringBitmap,
    need_unknown: bool,
) -> Result<Outcome, QueryError> {
    let rows = fetch_rows(plan, domain, slots)?;
    let mut true_rows = RoaringBitmap::new();
    let mut unknown = RoaringBitmap::new();
    for (id, row) in domain.iter().zip(&rows) {
        match eval(expr, row)? {
            Value::Bool(true) => {
                true_rows.insert(id);
            }
            Value::Null if need_unknown => {
                unknown.insert(id);
            }
            _ => {}
        }
    }
    Ok(Outcome { true_rows, unknown })
}
