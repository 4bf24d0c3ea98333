//! Runs SELECT plans: bitmap filtering, then fetch, aggregate, project, sort and limit.

pub mod aggregate;
pub mod explain;
pub mod filter;
pub mod key;
pub mod project;
pub mod scalar;
pub mod sort;

use std::collections::HashSet;

use profiledb_engine::value::{ColumnType, Value};
use roaring::RoaringBitmap;

use self::filter::{eval_filter, pre_aggregate_key, NodeStats, Stats};
use self::project::{fetch_rows, project_row};
use crate::error::QueryError;
use crate::plan::{AggFunc, ScalarExpr, SelectPlan};
use crate::result::QueryResult;

/// A subquery's result as a set: row ids straight from the filter, or computed values.
pub enum SubqueryRows {
    /// The subquery yields its table's row ids (= profile ids).
    RowIds(RoaringBitmap),
    /// The subquery's single output column.
    Values(Vec<Value>),
}

/// The rows a plan's WHERE selects.
pub fn selected_rows(
    plan: &SelectPlan<'_>,
    stats: &mut Stats,
) -> Result<RoaringBitmap, QueryError> {
    let all = plan.table.source().all_rows()?;
    match &plan.filter {
        Some(node) => Ok(eval_filter(node, plan, &all, false, stats)?.true_rows),
        None => Ok(all),
    }
}

/// Runs a plan to completion.
pub fn run_select(plan: &SelectPlan<'_>, stats: &mut Stats) -> Result<QueryResult, QueryError> {
    let mut pre_projection = match only_counts(plan, stats)? {
        Some(counts) => vec![counts],
        None => {
            let rows = selected_rows(plan, stats)?;
            match &plan.aggregate {
                Some(agg) => grouped_rows(plan, agg, &rows)?,
                None => {
                    let window = early_window(plan, &rows);
                    fetch_rows(
                        plan,
                        window.as_ref().unwrap_or(&rows),
                        &projection_slots(plan),
                    )?
                }
            }
        }
    };
    if let Some(having) = &plan.having {
        let mut kept = Vec::with_capacity(pre_projection.len());
        for row in pre_projection {
            if scalar::eval(having, &row)? == Value::Bool(true) {
                kept.push(row);
            }
        }
        pre_projection = kept;
    }
    let mut projected = pre_projection
        .iter()
        .map(|row| project_row(plan, row))
        .collect::<Result<Vec<_>, _>>()?;
    if plan.distinct {
        let mut seen = HashSet::new();
        projected.retain(|(out, _)| seen.insert(key::row_key(out)));
    }
    sort::sort_rows(&mut projected, &plan.order_by);
    let skip = if early_window_applies(plan) {
        0
    } else {
        usize::try_from(plan.offset).unwrap_or(usize::MAX)
    };
    let take = plan
        .limit
        .map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX));
    let rows = projected
        .into_iter()
        .skip(skip)
        .take(take)
        .map(|(out, _)| out)
        .collect();
    Ok(QueryResult {
        columns: output_columns(plan),
        rows,
    })
}

/// `SELECT COUNT(*) [, COUNT(*)…] FROM t WHERE …` (no GROUP BY): the one aggregated row,
/// counted without building the final row set where storage can count (see [`count_true`]).
fn only_counts(plan: &SelectPlan<'_>, stats: &mut Stats) -> Result<Option<Vec<Value>>, QueryError> {
    let Some(agg) = &plan.aggregate else {
        return Ok(None);
    };
    let counts_rows = agg
        .aggregates
        .iter()
        .all(|a| a.func == AggFunc::Count && a.arg.is_none() && !a.distinct);
    if !agg.group_by.is_empty() || !counts_rows {
        return Ok(None);
    }
    let all = plan.table.source().all_rows()?;
    let n = match &plan.filter {
        Some(node) => count_true(node, plan, &all, stats)?,
        None => all.len(),
    };
    let n = Value::Int64(i64::try_from(n).unwrap_or(i64::MAX));
    Ok(Some(vec![n; agg.aggregates.len()]))
}

/// The number of rows of `domain` where `node` is TRUE. The last condition of a conjunction
/// is counted rather than materialised: a leaf by storage (per-value indexes count with
/// `intersection_len`), a row-id subquery by intersecting its ids with the rows still in play.
fn count_true(
    node: &crate::plan::FilterNode<'_>,
    plan: &SelectPlan<'_>,
    domain: &RoaringBitmap,
    stats: &mut Stats,
) -> Result<u64, QueryError> {
    use crate::plan::FilterKind;
    if domain.is_empty() {
        return Ok(eval_filter(node, plan, domain, false, stats)?
            .true_rows
            .len());
    }
    let (n, access) = match &node.kind {
        FilterKind::Leaf {
            column, predicate, ..
        } => {
            let (n, path) = plan
                .table
                .source()
                .count_within(column, predicate, domain)?;
            (n, Some(path.to_string()))
        }
        FilterKind::And(children) if !children.is_empty() => {
            if let Some(rows) = filter::fused_leaves(node, children, plan, domain, false, stats)? {
                return Ok(rows.1);
            }
            let (last, first) = children.split_last().expect("not empty");
            let mut current: Option<RoaringBitmap> = None;
            for child in first {
                let open = current.as_ref().unwrap_or(domain);
                current = Some(eval_filter(child, plan, open, false, stats)?.true_rows);
            }
            (
                count_true(last, plan, current.as_ref().unwrap_or(domain), stats)?,
                None,
            )
        }
        FilterKind::Subquery {
            column,
            is_row_id,
            column_type,
            plan: sub,
            mode,
        } => match subquery_rows(sub, stats)? {
            SubqueryRows::RowIds(ids) if *is_row_id => (ids.intersection_len(domain), None),
            rows => {
                let outcome =
                    filter::semi_join(plan, column, *is_row_id, *column_type, rows, *mode, domain)?;
                (outcome.true_rows.len(), None)
            }
        },
        _ => {
            return Ok(eval_filter(node, plan, domain, false, stats)?
                .true_rows
                .len())
        }
    };
    stats.insert(
        node.id,
        NodeStats {
            true_rows: n,
            access,
        },
    );
    Ok(n)
}

/// Output names and types (an untyped NULL column is reported as string).
pub fn output_columns(plan: &SelectPlan<'_>) -> Vec<(String, ColumnType)> {
    plan.output
        .iter()
        .map(|(n, t)| (n.clone(), t.unwrap_or(ColumnType::String)))
        .collect()
}

/// Without ORDER BY, DISTINCT or aggregation, LIMIT/OFFSET pick rows before anything is fetched.
fn early_window_applies(plan: &SelectPlan<'_>) -> bool {
    plan.aggregate.is_none()
        && plan.order_by.is_empty()
        && !plan.distinct
        && (plan.limit.is_some() || plan.offset > 0)
}

fn early_window(plan: &SelectPlan<'_>, rows: &RoaringBitmap) -> Option<RoaringBitmap> {
    if !early_window_applies(plan) {
        return None;
    }
    let skip = usize::try_from(plan.offset).unwrap_or(usize::MAX);
    let take = plan
        .limit
        .map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX));
    Some(rows.iter().skip(skip).take(take).collect())
}

/// Slots read by projection and ORDER BY (not those only the WHERE residuals read).
fn projection_slots(plan: &SelectPlan<'_>) -> Vec<usize> {
    let mut slots = Vec::new();
    let mut add = |s: usize| {
        if !slots.contains(&s) {
            slots.push(s);
        }
    };
    plan.projection
        .iter()
        .for_each(|e| scalar::visit_slots(e, &mut add));
    plan.order_by
        .iter()
        .for_each(|k| scalar::visit_slots(&k.expr, &mut add));
    slots
}

fn grouped_rows(
    plan: &SelectPlan<'_>,
    agg: &crate::plan::AggregatePlan,
    rows: &RoaringBitmap,
) -> Result<Vec<Vec<Value>>, QueryError> {
    if let Some(counts) = counts_from_bitmaps(plan, agg, rows)? {
        return Ok(vec![counts]);
    }
    let mut slots = Vec::new();
    let mut add = |s: usize| {
        if !slots.contains(&s) {
            slots.push(s);
        }
    };
    agg.group_by
        .iter()
        .for_each(|e| scalar::visit_slots(e, &mut add));
    agg.aggregates
        .iter()
        .filter_map(|a| a.arg.as_ref())
        .for_each(|e| scalar::visit_slots(e, &mut add));
    let input = fetch_rows(plan, rows, &slots)?;
    aggregate::aggregate(agg, &input)
}

/// `COUNT(*)` / `COUNT(col)` without GROUP BY straight from bitmap cardinalities (no fetch).
fn counts_from_bitmaps(
    plan: &SelectPlan<'_>,
    agg: &crate::plan::AggregatePlan,
    rows: &RoaringBitmap,
) -> Result<Option<Vec<Value>>, QueryError> {
    if !agg.group_by.is_empty() {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(agg.aggregates.len());
    for call in &agg.aggregates {
        if call.func != AggFunc::Count || call.distinct {
            return Ok(None);
        }
        let nulls = match &call.arg {
            None => 0,
            Some(ScalarExpr::Column(slot)) => match plan.input_columns.get(*slot) {
                Some((name, _)) => plan.table.source().null_rows(name)?.intersection_len(rows),
                None => return Ok(None),
            },
            Some(_) => return Ok(None),
        };
        out.push(Value::Int64(
            i64::try_from(rows.len() - nulls).unwrap_or(i64::MAX),
        ));
    }
    Ok(Some(out))
}

/// A subquery's result set, taking the bitmap shortcut when it yields row ids.
pub fn subquery_rows(plan: &SelectPlan<'_>, stats: &mut Stats) -> Result<SubqueryRows, QueryError> {
    if plan.yields_row_ids() {
        return Ok(SubqueryRows::RowIds(selected_rows(plan, stats)?));
    }
    if let Some(ids) = pre_aggregated_ids(plan, stats)? {
        return Ok(SubqueryRows::RowIds(ids));
    }
    if let Some(ids) = counted_group_ids(plan, stats)? {
        return Ok(SubqueryRows::RowIds(ids));
    }
    let result = run_select(plan, stats)?;
    Ok(SubqueryRows::Values(
        result
            .rows
            .into_iter()
            .filter_map(|mut r| r.pop())
            .collect(),
    ))
}

/// The profile ids a segment definition selects (its `profile_id` output column).
pub fn profile_ids(plan: &SelectPlan<'_>) -> Result<RoaringBitmap, QueryError> {
    let mut stats = Stats::new();
    if plan.yields_row_ids() {
        return selected_rows(plan, &mut stats);
    }
    let index = plan
        .output
        .iter()
        .position(|(n, _)| n == crate::planner::PROFILE_ID)
        .ok_or_else(|| QueryError::plan("a segment query must return a profile_id column", None))?;
    let result = run_select(plan, &mut stats)?;
    Ok(result
        .rows
        .iter()
        .filter_map(|r| match r.get(index) {
            Some(Value::Int64(i)) => u32::try_from(*i).ok(),
            _ => None,
        })
        .collect())
}

/// The keys of a behavioural subquery (see [`crate::planner::counted_keys_shape`]) from the
/// table's per-day pre-aggregates, when storage has them; `None` sends the plan down the
/// general path. HAVING is evaluated once per distinct count.
fn pre_aggregated_ids(
    plan: &SelectPlan<'_>,
    stats: &mut Stats,
) -> Result<Option<RoaringBitmap>, QueryError> {
    let (Some(shape), Some(root)) = (crate::planner::counted_keys_shape(plan), &plan.filter) else {
        return Ok(None);
    };
    let counts = plan.aggregate.as_ref().map_or(0, |a| a.aggregates.len());
    let mut error = None;
    let mut memo: std::collections::HashMap<u64, bool> = std::collections::HashMap::new();
    let mut keep = |n: u64| -> bool {
        let Some(having) = &plan.having else {
            return true;
        };
        if let Some(&known) = memo.get(&n) {
            return known;
        }
        let mut row = vec![Value::Int64(i64::try_from(n).unwrap_or(i64::MAX)); 1 + counts];
        row[0] = Value::Null;
        let holds = match scalar::eval(having, &row) {
            Ok(value) => value == Value::Bool(true),
            Err(e) => {
                error.get_or_insert(e);
                false
            }
        };
        memo.insert(n, holds);
        holds
    };
    let found = plan.table.source().counted_keys(&shape, &mut keep)?;
    if let Some(e) = error {
        return Err(e);
    }
    let Some((ids, path)) = found else {
        return Ok(None);
    };
    stats.insert(
        pre_aggregate_key(root.id),
        NodeStats {
            true_rows: ids.len(),
            access: Some(path.to_string()),
        },
    );
    Ok(Some(ids))
}

/// `SELECT k FROM t WHERE … GROUP BY k HAVING <on COUNT(*)>` over an integer column whose
/// values are all valid ids, as a bitmap — the shape of behavioural segment conditions ("did X
/// at least n times"). Counting sorted u32 keys replaces per-row hashing of generic group keys,
/// and HAVING is evaluated once per distinct count rather than once per group when it does not
/// read the key. `None` when the plan has another shape or a key is NULL or out of range (the
/// general path then answers).
fn counted_group_ids(
    plan: &SelectPlan<'_>,
    stats: &mut Stats,
) -> Result<Option<RoaringBitmap>, QueryError> {
    let Some(agg) = &plan.aggregate else {
        return Ok(None);
    };
    let [ScalarExpr::Column(slot)] = agg.group_by.as_slice() else {
        return Ok(None);
    };
    let Some((column, ColumnType::Int64)) = plan.input_columns.get(*slot) else {
        return Ok(None);
    };
    let only_counts = agg
        .aggregates
        .iter()
        .all(|a| a.func == AggFunc::Count && a.arg.is_none() && !a.distinct);
    let projects_key = matches!(plan.projection.as_slice(), [ScalarExpr::Column(0)]);
    if !only_counts || !projects_key || plan.limit.is_some() || plan.offset > 0 {
        return Ok(None);
    }
    let rows = selected_rows(plan, stats)?;
    let mut keys = Vec::with_capacity(usize::try_from(rows.len()).unwrap_or(0));
    for value in plan.table.source().fetch(column, &rows)? {
        match value {
            Value::Int64(i) => match u32::try_from(i) {
                Ok(key) => keys.push(key),
                Err(_) => return Ok(None),
            },
            _ => return Ok(None),
        }
    }
    keys.sort_unstable();
    let mut reads_key = false;
    if let Some(having) = &plan.having {
        scalar::visit_slots(having, &mut |s| reads_key |= s == 0);
    }
    let mut memo: std::collections::HashMap<usize, bool> = std::collections::HashMap::new();
    let mut row = vec![Value::Null; 1 + agg.aggregates.len()];
    let mut passes = |key: u32, count: usize| -> Result<bool, QueryError> {
        let Some(having) = &plan.having else {
            return Ok(true);
        };
        if !reads_key {
            if let Some(&known) = memo.get(&count) {
                return Ok(known);
            }
        }
        row[0] = Value::Int64(i64::from(key));
        let count_value = Value::Int64(i64::try_from(count).unwrap_or(i64::MAX));
        for cell in row.iter_mut().skip(1) {
            *cell = count_value.clone();
        }
        let holds = scalar::eval(having, &row)? == Value::Bool(true);
        if !reads_key {
            memo.insert(count, holds);
        }
        Ok(holds)
    };
    let mut ids = Vec::new();
    let mut start = 0;
    while start < keys.len() {
        let key = keys[start];
        // Groups are short (a few events per profile): a linear walk beats a binary search
        // over the whole remaining slice, which misses the cache at every step.
        let end = start + keys[start..].iter().take_while(|&&k| k == key).count();
        if passes(key, end - start)? {
            ids.push(key);
        }
        start = end;
    }
    Ok(Some(
        RoaringBitmap::from_sorted_iter(ids).map_err(|e| QueryError::Internal(e.to_string()))?,
    ))
}
