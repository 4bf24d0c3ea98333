//! EXPLAIN output: the plan tree, each leaf's access path, estimated and actual rows.

use super::filter::{pre_aggregate_key, Stats};
use crate::format::sql_literal;
use crate::plan::{
    AggFunc, AggregateCall, FilterKind, FilterNode, ScalarExpr, ScalarFunc, SelectPlan,
    SubqueryMode, Truth,
};

/// Renders a plan; with `stats` (EXPLAIN ANALYZE) actual row counts and access paths are shown.
#[must_use]
pub fn explain(
    plan: &SelectPlan<'_>,
    stats: Option<&Stats>,
    returned: Option<usize>,
) -> Vec<String> {
    let mut lines = Vec::new();
    select_lines(plan, stats, returned, 0, &mut lines);
    lines
}

fn select_lines(
    plan: &SelectPlan<'_>,
    stats: Option<&Stats>,
    returned: Option<usize>,
    depth: usize,
    out: &mut Vec<String>,
) {
    let pad = "  ".repeat(depth);
    let rows = plan.table.source().row_count();
    let returned = returned
        .map(|n| format!(", returned {n}"))
        .unwrap_or_default();
    out.push(format!(
        "{pad}Select from {} ({rows} rows{returned})",
        plan.table_label
    ));
    let input = |slot: usize| {
        plan.input_columns
            .get(slot)
            .map_or_else(|| format!("#{slot}"), |(n, _)| n.clone())
    };
    let post = |slot: usize| post_name(plan, slot, &input);
    let output: &dyn Fn(usize) -> String = if plan.aggregate.is_some() {
        &post
    } else {
        &input
    };
    let exprs: Vec<String> = plan
        .projection
        .iter()
        .zip(&plan.output)
        .map(|(e, (n, _))| format!("{} AS {n}", render(e, output)))
        .collect();
    out.push(format!("{pad}  Output: {}", exprs.join(", ")));
    if plan.distinct {
        out.push(format!("{pad}  Distinct"));
    }
    if plan.limit.is_some() || plan.offset > 0 {
        let limit = plan
            .limit
            .map_or_else(|| "ALL".to_owned(), |l| l.to_string());
        out.push(format!("{pad}  Limit {limit} Offset {}", plan.offset));
    }
    if !plan.order_by.is_empty() {
        let keys: Vec<String> = plan
            .order_by
            .iter()
            .map(|k| {
                let dir = if k.descending { "DESC" } else { "ASC" };
                let nulls = if k.nulls_first {
                    "NULLS FIRST"
                } else {
                    "NULLS LAST"
                };
                format!("{} {dir} {nulls}", render(&k.expr, output))
            })
            .collect();
        out.push(format!("{pad}  Sort: {}", keys.join(", ")));
    }
    if let Some(having) = &plan.having {
        out.push(format!("{pad}  Having: {}", render(having, output)));
    }
    if let Some(agg) = &plan.aggregate {
        let groups: Vec<String> = agg.group_by.iter().map(|g| render(g, &input)).collect();
        let calls: Vec<String> = agg
            .aggregates
            .iter()
            .map(|a| render_call(a, &input))
            .collect();
        out.push(format!(
            "{pad}  Aggregate: group by [{}] computing [{}]",
            groups.join(", "),
            calls.join(", ")
        ));
    }
    if let (Some(shape), Some(root)) = (crate::planner::counted_keys_shape(plan), &plan.filter) {
        let bound = |b: Option<i64>, open: &str| {
            b.map_or_else(
                || open.to_owned(),
                |t| sql_literal(&profiledb_engine::value::Value::Timestamp(t)),
            )
        };
        let access = match stats {
            None => "per-day pre-aggregate where storage has one, chosen at execution".to_owned(),
            Some(s) => s.get(&pre_aggregate_key(root.id)).map_or_else(
                || "not available: general plan".to_owned(),
                |n| {
                    format!(
                        "{}, {} keys",
                        n.access.as_deref().unwrap_or("storage"),
                        n.true_rows
                    )
                },
            ),
        };
        out.push(format!(
            "{pad}  Counted keys: {} where {} = {} and {} in [{}, {}) [{access}]",
            shape.key_column,
            shape.name_column,
            sql_literal(&profiledb_engine::value::Value::String(shape.name.clone())),
            shape.time_column,
            bound(shape.from, "-infinity"),
            bound(shape.until, "infinity"),
        ));
    }
    match &plan.filter {
        Some(node) => {
            out.push(format!("{pad}  Filter (bitmap plan):"));
            node_lines(node, plan, stats, depth + 2, out);
        }
        None => out.push(format!("{pad}  Filter: none (all rows)")),
    }
}

fn post_name(plan: &SelectPlan<'_>, slot: usize, input: &dyn Fn(usize) -> String) -> String {
    let Some(agg) = &plan.aggregate else {
        return format!("#{slot}");
    };
    if let Some(g) = agg.group_by.get(slot) {
        return render(g, input);
    }
    agg.aggregates
        .get(slot - agg.group_by.len())
        .map_or_else(|| format!("#{slot}"), |a| render_call(a, input))
}

fn node_lines(
    node: &FilterNode<'_>,
    plan: &SelectPlan<'_>,
    stats: Option<&Stats>,
    depth: usize,
    out: &mut Vec<String>,
) {
    let pad = "  ".repeat(depth);
    let input = |slot: usize| {
        plan.input_columns
            .get(slot)
            .map_or_else(|| format!("#{slot}"), |(n, _)| n.clone())
    };
    let node_stats = stats.and_then(|s| s.get(&node.id));
    let actual = match (stats, node_stats) {
        (Some(_), Some(s)) => format!(", actual={}", s.true_rows),
        (Some(_), None) => ", not evaluated".to_owned(),
        (None, _) => String::new(),
    };
    let counts = format!("(est={}{actual})", node.estimate);
    let line = match &node.kind {
        FilterKind::Const(t) => format!(
            "Constant {} {counts}",
            match t {
                Truth::True => "TRUE",
                Truth::False => "FALSE",
                Truth::Unknown => "NULL",
            }
        ),
        FilterKind::Leaf {
            column, predicate, ..
        } => {
            let access = node_stats
                .and_then(|s| s.access.clone())
                .unwrap_or_else(|| "access path chosen by storage at execution".to_owned());
            format!("Leaf {} [{access}] {counts}", predicate.describe(column))
        }
        FilterKind::IsNull { column, negated } => format!(
            "Null bitmap: {column} IS {}NULL {counts}",
            if *negated { "NOT " } else { "" }
        ),
        FilterKind::And(_) => format!("AND {counts}"),
        FilterKind::Or(_) => format!("OR {counts}"),
        FilterKind::Not(_) => format!("NOT {counts}"),
        FilterKind::Subquery {
            column,
            is_row_id,
            mode,
            ..
        } => {
            let how = if *is_row_id {
                "row-id bitmap"
            } else {
                "IN-list filter"
            };
            let what = match mode {
                SubqueryMode::In => "IN",
                SubqueryMode::Exists => "EXISTS (semi-join)",
            };
            format!("Subquery {column} {what} via {how} {counts}")
        }
        FilterKind::ExistsAny(_) => format!("EXISTS (uncorrelated) {counts}"),
        FilterKind::Residual { expr, .. } => {
            format!("Row-by-row: {} {counts}", render(expr, &input))
        }
    };
    out.push(format!("{pad}{line}"));
    match &node.kind {
        FilterKind::And(children) | FilterKind::Or(children) => children
            .iter()
            .for_each(|c| node_lines(c, plan, stats, depth + 1, out)),
        FilterKind::Not(child) => node_lines(child, plan, stats, depth + 1, out),
        FilterKind::Subquery { plan: sub, .. } | FilterKind::ExistsAny(sub) => {
            select_lines(sub, stats, None, depth + 1, out)
        }
        _ => {}
    }
}

fn render_call(call: &AggregateCall, input: &dyn Fn(usize) -> String) -> String {
    let name = match call.func {
        AggFunc::Count => "count",
        AggFunc::Sum => "sum",
        AggFunc::Avg => "avg",
        AggFunc::Min => "min",
        AggFunc::Max => "max",
    };
    let distinct = if call.distinct { "DISTINCT " } else { "" };
    let arg = call
        .arg
        .as_ref()
        .map_or_else(|| "*".to_owned(), |a| render(a, input));
    format!("{name}({distinct}{arg})")
}

/// SQL-like text of an expression, naming slots with `name`.
fn render(expr: &ScalarExpr, name: &dyn Fn(usize) -> String) -> String {
    let r = |e: &ScalarExpr| render(e, name);
    match expr {
        ScalarExpr::Column(slot) => name(*slot),
        ScalarExpr::Literal(v) => sql_literal(v),
        ScalarExpr::Compare(op, l, rr) => format!("({} {} {})", r(l), op.symbol(), r(rr)),
        ScalarExpr::Arith(op, l, rr) => {
            let sym = match op {
                crate::plan::ArithOp::Add => "+",
                crate::plan::ArithOp::Sub => "-",
                crate::plan::ArithOp::Mul => "*",
                crate::plan::ArithOp::Div => "/",
                crate::plan::ArithOp::Mod => "%",
            };
            format!("({} {sym} {})", r(l), r(rr))
        }
        ScalarExpr::Neg(e) => format!("-{}", r(e)),
        ScalarExpr::And(l, rr) => format!("({} AND {})", r(l), r(rr)),
        ScalarExpr::Or(l, rr) => format!("({} OR {})", r(l), r(rr)),
        ScalarExpr::Not(e) => format!("NOT {}", r(e)),
        ScalarExpr::IsNull(e, neg) => format!("{} IS {}NULL", r(e), if *neg { "NOT " } else { "" }),
        ScalarExpr::InList(e, items, neg) => {
            let items: Vec<String> = items.iter().map(r).collect();
            format!(
                "{} {}IN ({})",
                r(e),
                if *neg { "NOT " } else { "" },
                items.join(", ")
            )
        }
        ScalarExpr::Like {
            expr,
            pattern,
            case_insensitive,
            negated,
        } => {
            format!(
                "{} {}{} {}",
                r(expr),
                if *negated { "NOT " } else { "" },
                if *case_insensitive { "ILIKE" } else { "LIKE" },
                r(pattern)
            )
        }
        ScalarExpr::ListContains(l, i) => format!("list_contains({}, {})", r(l), r(i)),
        ScalarExpr::Cast { expr, to, to_date } => format!(
            "CAST({} AS {})",
            r(expr),
            if *to_date {
                "date".to_owned()
            } else {
                to.to_string()
            }
        ),
        ScalarExpr::AddInterval(e, iv) => format!(
            "({} + INTERVAL '{} months {} days {} us')",
            r(e),
            iv.months,
            iv.days,
            iv.micros
        ),
        ScalarExpr::Func(f, args) => {
            let args: Vec<String> = args.iter().map(r).collect();
            let fname = match f {
                ScalarFunc::Lower => "lower".to_owned(),
                ScalarFunc::Upper => "upper".to_owned(),
                ScalarFunc::Length => "length".to_owned(),
                ScalarFunc::Abs => "abs".to_owned(),
                ScalarFunc::Coalesce => "coalesce".to_owned(),
                ScalarFunc::DateTrunc(unit) => format!("date_trunc('{unit}', "),
                ScalarFunc::Concat => return args.join(" || "),
            };
            if fname.ends_with(", ") {
                format!("{fname}{})", args.join(", "))
            } else {
                format!("{fname}({})", args.join(", "))
            }
        }
    }
}
