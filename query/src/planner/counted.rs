//! Recognises behavioural subqueries that storage can answer from per-day pre-aggregates:
//! `SELECT key FROM t WHERE name = 'X' AND time >= A [AND time < B] GROUP BY key HAVING
//! <COUNT(*) condition>` (and the same without GROUP BY, as a decorrelated EXISTS yields).

use profiledb_engine::value::{ColumnType, Value};

use crate::catalog::CountedKeys;
use crate::plan::{AggFunc, FilterKind, FilterNode, ScalarExpr, SelectPlan};
use crate::predicate::{CompareOp, LeafPredicate};

/// The counted-keys shape of `plan`, if it has one.
///
/// The plan must project exactly its one grouping column (an integer column), compute only
/// `COUNT(*)` with a HAVING (if any) that reads nothing but the counts, have no LIMIT/OFFSET,
/// and filter with an AND of one string equality and one or more bounds on one timestamp
/// column. Without aggregation, a plan projecting an integer column under the same filter is
/// the set of keys with a count of at least one.
#[must_use]
pub fn counted_keys_shape(plan: &SelectPlan<'_>) -> Option<CountedKeys> {
    if plan.limit.is_some() || plan.offset > 0 {
        return None;
    }
    let key_column = match &plan.aggregate {
        Some(agg) => {
            let [ScalarExpr::Column(slot)] = agg.group_by.as_slice() else {
                return None;
            };
            let only_counts = agg
                .aggregates
                .iter()
                .all(|a| a.func == AggFunc::Count && a.arg.is_none() && !a.distinct);
            if !only_counts || !matches!(plan.projection.as_slice(), [ScalarExpr::Column(0)]) {
                return None;
            }
            if let Some(having) = &plan.having {
                let mut reads_key = false;
                crate::exec::scalar::visit_slots(having, &mut |s| reads_key |= s == 0);
                if reads_key {
                    return None;
                }
            }
            plan.input_columns.get(*slot)?
        }
        None => {
            let [ScalarExpr::Column(slot)] = plan.projection.as_slice() else {
                return None;
            };
            if plan.having.is_some() {
                return None;
            }
            plan.input_columns.get(*slot)?
        }
    };
    if key_column.1 != ColumnType::Int64 {
        return None;
    }
    let columns = plan.table.source().columns();
    let type_of = |name: &str| columns.iter().find(|(n, _)| n == name).map(|(_, t)| *t);
    if type_of(&key_column.0) != Some(ColumnType::Int64) {
        return None;
    }
    let leaves = conjunct_leaves(plan.filter.as_ref()?)?;
    let mut name: Option<(String, String)> = None;
    let mut time: Option<String> = None;
    let (mut from, mut until): (Option<i64>, Option<i64>) = (None, None);
    for (column, predicate) in leaves {
        match (type_of(column)?, predicate) {
            (ColumnType::String, LeafPredicate::Compare(CompareOp::Eq, Value::String(v))) => {
                if name.is_some() {
                    return None;
                }
                name = Some((column.to_owned(), v.clone()));
            }
            (ColumnType::String, LeafPredicate::InList(items)) => match items.as_slice() {
                [Value::String(v)] if name.is_none() => {
                    name = Some((column.to_owned(), v.clone()));
                }
                _ => return None,
            },
            (ColumnType::Timestamp, predicate) => {
                if time.as_deref().is_some_and(|t| t != column) {
                    return None;
                }
                time = Some(column.to_owned());
                let (lo, hi) = time_bounds(predicate)?;
                if let Some(lo) = lo {
                    from = Some(from.map_or(lo, |f| f.max(lo)));
                }
                if let Some(hi) = hi {
                    until = Some(until.map_or(hi, |u| u.min(hi)));
                }
            }
            _ => return None,
        }
    }
    let (name_column, name) = name?;
    Some(CountedKeys {
        key_column: key_column.0.clone(),
        name_column,
        name,
        time_column: time?,
        from,
        until,
    })
}

/// The leaves of an AND of leaves (or a single leaf).
fn conjunct_leaves<'n>(node: &'n FilterNode<'_>) -> Option<Vec<(&'n str, &'n LeafPredicate)>> {
    match &node.kind {
        FilterKind::Leaf {
            column, predicate, ..
        } => Some(vec![(column.as_str(), predicate)]),
        FilterKind::And(children) => {
            let mut out = Vec::new();
            for child in children {
                out.extend(conjunct_leaves(child)?);
            }
            Some(out)
        }
        _ => None,
    }
}

/// `[from, until)` of a timestamp leaf (`None` bounds are open); `None` for other predicates.
/// An empty window comes out as `from >= until`.
fn time_bounds(predicate: &LeafPredicate) -> Option<(Option<i64>, Option<i64>)> {
    let ts = |v: &Value| match v {
        Value::Timestamp(t) => Some(*t),
        _ => None,
    };
    // `x <= MAX` has no upper bound; `x > MAX` matches nothing (an empty window).
    let after = |t: i64| t.checked_add(1);
    Some(match predicate {
        LeafPredicate::Compare(op, v) => {
            let t = ts(v)?;
            match op {
                CompareOp::GtEq => (Some(t), None),
                CompareOp::Gt => match after(t) {
                    Some(a) => (Some(a), None),
                    None => (Some(i64::MAX), Some(i64::MAX)),
                },
                CompareOp::Lt => (None, Some(t)),
                CompareOp::LtEq => (None, after(t)),
                CompareOp::Eq => match after(t) {
                    Some(b) => (Some(t), Some(b)),
                    None => (Some(t), None),
                },
                CompareOp::NotEq => return None,
            }
        }
        LeafPredicate::Between(lo, hi) => (Some(ts(lo)?), after(ts(hi)?)),
        _ => return None,
    })
}
