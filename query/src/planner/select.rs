//! Planning of a single-table SELECT: FROM, WHERE, GROUP BY/HAVING, projection, ORDER BY, LIMIT.

use std::cell::{Cell, RefCell};

use profiledb_engine::value::Value;
use sqlparser::ast::{
    self, Expr, Query, Select, SelectItem, SelectItemQualifiedWildcardKind, SetExpr, TableFactor,
};

use super::aggregate::AggState;
use super::expr::{expect_bool, ExprPlanner};
use super::scope::Scope;
use super::types::Typed;
use super::PlanContext;
use crate::error::{position_of, Position, QueryError};
use crate::parser::{normalize_ident, parse, Statement};
use crate::plan::{AggregatePlan, BoundTable, DualTable, ScalarExpr, SelectPlan, SortKey};
use crate::segment::SegmentTable;

/// The column whose value is the row id in `profiles` and in segments.
pub const PROFILE_ID: &str = "profile_id";

/// Plans a query; `outer` is the enclosing query's scope when this is a subquery.
pub fn plan_query<'a>(
    ctx: &PlanContext<'a>,
    query: &Query,
    outer: Option<Scope>,
) -> Result<SelectPlan<'a>, QueryError> {
    reject_query_clauses(query)?;
    let select = match query.body.as_ref() {
        SetExpr::Select(select) => select,
        other => {
            return Err(QueryError::unsupported(
                set_expr_name(other),
                position_of(query),
            ))
        }
    };
    reject_select_clauses(select)?;
    let (table, table_label, mut scope) = bind_table(ctx, select)?;
    scope.outer = outer.map(Box::new);
    let rows = table.source().row_count();
    let planner = ExprPlanner::new(&scope, ctx);
    let filter = select
        .selection
        .as_ref()
        .map(|e| planner.plan_filter(e, rows))
        .transpose()?;
    let items = expand_projection(&select.projection, &scope)?;
    let grouped = needs_aggregation(select, query, &items, &planner)?;
    let mut plan_parts = if grouped {
        plan_grouped(select, &items, &planner)?
    } else {
        let projection = items
            .iter()
            .map(|(e, _)| planner.plan(e))
            .collect::<Result<Vec<_>, _>>()?;
        Parts {
            projection,
            aggregate: None,
            having: None,
            agg_state: None,
        }
    };
    let order_by = plan_order_by(query, &items, &plan_parts, &planner)?;
    // ORDER BY may have introduced aggregates not in the select list.
    if let (Some(state), Some(aggregate)) = (&plan_parts.agg_state, &mut plan_parts.aggregate) {
        aggregate.aggregates = state
            .aggregates
            .borrow()
            .iter()
            .map(|(_, c)| c.clone())
            .collect();
    }
    let distinct = matches!(select.distinct, Some(ast::Distinct::Distinct));
    if distinct {
        check_distinct_order(&order_by, &plan_parts.projection, query)?;
    }
    let (limit, offset) = plan_limit(query, &planner)?;
    let output = items
        .iter()
        .zip(&plan_parts.projection)
        .map(|((_, name), t)| (name.clone(), t.ty))
        .collect();
    let projection = std::mem::take(&mut plan_parts.projection)
        .into_iter()
        .map(|t| t.expr)
        .collect();
    Ok(SelectPlan {
        table_label,
        table,
        row_id_column: scope.row_id_column.clone(),
        input_columns: scope.input_columns(),
        filter,
        aggregate: plan_parts.aggregate,
        having: plan_parts.having,
        projection,
        output,
        distinct,
        order_by,
        limit,
        offset,
    })
}

/// Projection and aggregation pieces, planned in input or grouped mode.
struct Parts {
    projection: Vec<Typed>,
    aggregate: Option<AggregatePlan>,
    having: Option<ScalarExpr>,
    agg_state: Option<AggState>,
}

/// Whether the query aggregates: GROUP BY, HAVING, or an aggregate call in the select list.
fn needs_aggregation(
    select: &Select,
    query: &Query,
    items: &[(Expr, String)],
    planner: &ExprPlanner<'_, '_>,
) -> Result<bool, QueryError> {
    if !group_exprs(select)?.is_empty() || select.having.is_some() {
        return Ok(true);
    }
    let found = Cell::new(false);
    let probe = ExprPlanner {
        probe: Some(&found),
        ..ExprPlanner::new(planner.scope, planner.ctx)
    };
    for (expr, _) in items {
        probe.plan(expr)?;
    }
    if let Some(ast::OrderBy {
        kind: ast::OrderByKind::Expressions(keys),
        ..
    }) = &query.order_by
    {
        for key in keys {
            // ORDER BY may name output aliases, unknown here: only aggregate detection matters.
            let _ = probe.plan(&key.expr);
        }
    }
    Ok(found.get())
}

fn group_exprs(select: &Select) -> Result<&[Expr], QueryError> {
    match &select.group_by {
        ast::GroupByExpr::Expressions(exprs, modifiers) if modifiers.is_empty() => Ok(exprs),
        _ => Err(QueryError::unsupported(
            "GROUP BY ALL / ROLLUP / CUBE / GROUPING SETS",
            None,
        )),
    }
}

fn plan_grouped(
    select: &Select,
    items: &[(Expr, String)],
    planner: &ExprPlanner<'_, '_>,
) -> Result<Parts, QueryError> {
    let mut group_ast = Vec::new();
    for g in group_exprs(select)? {
        group_ast.push(resolve_output_reference(g, items, planner.scope)?.clone());
    }
    let group_typed = group_ast
        .iter()
        .map(|g| planner.plan(g))
        .collect::<Result<Vec<_>, _>>()?;
    let state = AggState {
        group_ast,
        group_types: group_typed.iter().map(|t| t.ty).collect(),
        aggregates: RefCell::new(Vec::new()),
    };
    let grouped = ExprPlanner {
        agg: Some(&state),
        ..ExprPlanner::new(planner.scope, planner.ctx)
    };
    let projection = items
        .iter()
        .map(|(e, _)| grouped.plan(e))
        .collect::<Result<Vec<_>, _>>()?;
    let having = match &select.having {
        Some(h) => {
            let typed = grouped.plan(h)?;
            expect_bool(&typed, "HAVING", position_of(h))?;
            Some(typed.expr)
        }
        None => None,
    };
    Ok(Parts {
        projection,
        aggregate: None,
        having,
        agg_state: Some(state),
    }
    .finish_aggregate(group_typed))
}

impl Parts {
    /// Moves the aggregates collected so far into the aggregate plan (called again after ORDER BY).
    fn finish_aggregate(mut self, group_typed: Vec<Typed>) -> Self {
        let aggregates = self
            .agg_state
            .as_ref()
            .map(|s| {
                s.aggregates
                    .borrow()
                    .iter()
                    .map(|(_, c)| c.clone())
                    .collect()
            })
            .unwrap_or_default();
        self.aggregate = Some(AggregatePlan {
            group_by: group_typed.into_iter().map(|t| t.expr).collect(),
            aggregates,
        });
        self
    }
}

/// GROUP BY / ORDER BY items may name an output column by ordinal (`1`) or alias.
fn resolve_output_reference<'e>(
    expr: &'e Expr,
    items: &'e [(Expr, String)],
    scope: &Scope,
) -> Result<&'e Expr, QueryError> {
    match expr {
        Expr::Value(v) => match &v.value {
            ast::Value::Number(n, _) => {
                let index = n
                    .parse::<usize>()
                    .ok()
                    .filter(|i| (1..=items.len()).contains(i));
                index.map(|i| &items[i - 1].0).ok_or_else(|| {
                    QueryError::plan(
                        format!("position {n} is not in select list"),
                        position_of(expr),
                    )
                })
            }
            _ => Ok(expr),
        },
        Expr::Identifier(ident) if scope.lookup(std::slice::from_ref(ident)).is_none() => {
            let name = normalize_ident(ident);
            Ok(items
                .iter()
                .find(|(_, n)| *n == name)
                .map_or(expr, |(e, _)| e))
        }
        _ => Ok(expr),
    }
}

fn plan_order_by(
    query: &Query,
    items: &[(Expr, String)],
    parts: &Parts,
    planner: &ExprPlanner<'_, '_>,
) -> Result<Vec<SortKey>, QueryError> {
    let Some(order_by) = &query.order_by else {
        return Ok(Vec::new());
    };
    let ast::OrderByKind::Expressions(keys) = &order_by.kind else {
        return Err(QueryError::unsupported("ORDER BY ALL", position_of(query)));
    };
    let grouped = parts.agg_state.as_ref().map(|state| ExprPlanner {
        agg: Some(state),
        ..ExprPlanner::new(planner.scope, planner.ctx)
    });
    let active = grouped.as_ref().unwrap_or(planner);
    let mut out = Vec::with_capacity(keys.len());
    for key in keys {
        let descending = match key.options.sort {
            None | Some(ast::OrderBySort::Asc) => false,
            Some(ast::OrderBySort::Desc) => true,
            Some(_) => {
                return Err(QueryError::unsupported(
                    "ORDER BY … USING",
                    position_of(&key.expr),
                ))
            }
        };
        let expr = match output_index(&key.expr, items, planner.scope)? {
            Some(i) => parts
                .projection
                .get(i)
                .map(|t| t.expr.clone())
                .ok_or_else(|| QueryError::Internal("ordinal out of range".into()))?,
            None => active.plan(&key.expr)?.expr,
        };
        out.push(SortKey {
            expr,
            descending,
            nulls_first: key.options.nulls_first.unwrap_or(descending),
        });
    }
    Ok(out)
}

/// The select-list index an ORDER BY key names (ordinal, or output name taking precedence).
fn output_index(
    expr: &Expr,
    items: &[(Expr, String)],
    scope: &Scope,
) -> Result<Option<usize>, QueryError> {
    match expr {
        Expr::Value(v) => match &v.value {
            ast::Value::Number(n, _) => n
                .parse::<usize>()
                .ok()
                .filter(|i| (1..=items.len()).contains(i))
                .map(|i| Some(i - 1))
                .ok_or_else(|| {
                    QueryError::plan(
                        format!("ORDER BY position {n} is not in select list"),
                        position_of(expr),
                    )
                }),
            _ => Ok(None),
        },
        Expr::Identifier(ident) => {
            let name = normalize_ident(ident);
            let mut matches = items.iter().enumerate().filter(|(_, (_, n))| *n == name);
            match (matches.next(), matches.next()) {
                (Some((i, _)), None) => Ok(Some(i)),
                (Some(_), Some(_)) if scope.lookup(std::slice::from_ref(ident)).is_none() => {
                    Err(QueryError::plan(
                        format!("ORDER BY \"{name}\" is ambiguous"),
                        position_of(expr),
                    ))
                }
                _ => Ok(None),
            }
        }
        _ => Ok(None),
    }
}

fn check_distinct_order(
    order_by: &[SortKey],
    projection: &[Typed],
    query: &Query,
) -> Result<(), QueryError> {
    if order_by
        .iter()
        .all(|k| projection.iter().any(|p| p.expr == k.expr))
    {
        Ok(())
    } else {
        Err(QueryError::plan(
            "for SELECT DISTINCT, ORDER BY expressions must appear in select list",
            position_of(query),
        ))
    }
}

fn plan_limit(
    query: &Query,
    planner: &ExprPlanner<'_, '_>,
) -> Result<(Option<u64>, u64), QueryError> {
    match &query.limit_clause {
        None => Ok((None, 0)),
        Some(ast::LimitClause::LimitOffset {
            limit,
            offset,
            limit_by,
        }) if limit_by.is_empty() => {
            let limit = limit
                .as_ref()
                .map(|e| count_value(e, "LIMIT", planner))
                .transpose()?
                .flatten();
            let offset = offset
                .as_ref()
                .map(|o| count_value(&o.value, "OFFSET", planner))
                .transpose()?
                .flatten()
                .unwrap_or(0);
            Ok((limit, offset))
        }
        Some(_) => Err(QueryError::unsupported(
            "this LIMIT syntax",
            position_of(query),
        )),
    }
}

/// A constant non-negative LIMIT/OFFSET (`None` for NULL / ALL).
fn count_value(
    expr: &Expr,
    clause: &str,
    planner: &ExprPlanner<'_, '_>,
) -> Result<Option<u64>, QueryError> {
    let position = position_of(expr);
    let constant = ExprPlanner::new(&Scope::new(Vec::new(), Vec::new()), planner.ctx).plan(expr)?;
    match constant.constant() {
        Some(Value::Null) => Ok(None),
        Some(Value::Int64(n)) => u64::try_from(*n)
            .map(Some)
            .map_err(|_| QueryError::plan(format!("{clause} must not be negative"), position)),
        _ => Err(QueryError::plan(
            format!("argument of {clause} must be a constant integer"),
            position,
        )),
    }
}

/// Select-list items as (expression, output name); `*` expands to every column.
fn expand_projection(
    items: &[SelectItem],
    scope: &Scope,
) -> Result<Vec<(Expr, String)>, QueryError> {
    let mut out = Vec::new();
    for item in items {
        match item {
            SelectItem::UnnamedExpr(e) => out.push((e.clone(), output_name(e))),
            SelectItem::ExprWithAlias { expr, alias } => {
                out.push((expr.clone(), normalize_ident(alias)))
            }
            SelectItem::Wildcard(options) => {
                reject_wildcard_options(options)?;
                out.extend(all_columns(scope));
            }
            SelectItem::QualifiedWildcard(
                SelectItemQualifiedWildcardKind::ObjectName(name),
                options,
            ) => {
                reject_wildcard_options(options)?;
                let qualifier = name
                    .0
                    .last()
                    .and_then(|p| p.as_ident())
                    .map(normalize_ident)
                    .unwrap_or_default();
                if !scope.qualifiers.contains(&qualifier) {
                    return Err(QueryError::plan(
                        format!("missing FROM-clause entry for table \"{qualifier}\""),
                        position_of(item),
                    ));
                }
                out.extend(all_columns(scope));
            }
            other => {
                return Err(QueryError::unsupported(
                    format!("select item `{other}`"),
                    position_of(other),
                ))
            }
        }
    }
    if out.is_empty() {
        return Err(QueryError::unsupported("an empty select list", None));
    }
    Ok(out)
}

fn reject_wildcard_options(options: &ast::WildcardAdditionalOptions) -> Result<(), QueryError> {
    let plain = options.opt_ilike.is_none()
        && options.opt_exclude.is_none()
        && options.opt_except.is_none()
        && options.opt_replace.is_none()
        && options.opt_rename.is_none();
    if plain {
        Ok(())
    } else {
        Err(QueryError::unsupported(
            "wildcard options (EXCLUDE/EXCEPT/REPLACE/RENAME)",
            None,
        ))
    }
}

fn all_columns(scope: &Scope) -> impl Iterator<Item = (Expr, String)> + '_ {
    scope.columns.iter().map(|(name, _)| {
        (
            Expr::Identifier(ast::Ident::with_quote('"', name.clone())),
            name.clone(),
        )
    })
}

/// PostgreSQL's default output name for an unaliased expression.
fn output_name(expr: &Expr) -> String {
    match expr {
        Expr::Identifier(i) => normalize_ident(i),
        Expr::CompoundIdentifier(parts) => parts.last().map(normalize_ident).unwrap_or_default(),
        Expr::Function(f) => f
            .name
            .0
            .last()
            .and_then(|p| p.as_ident())
            .map(normalize_ident)
            .unwrap_or_default(),
        Expr::Cast { expr, .. } | Expr::Nested(expr) => match expr.as_ref() {
            e @ (Expr::Identifier(_) | Expr::CompoundIdentifier(_) | Expr::Function(_)) => {
                output_name(e)
            }
            _ => "?column?".to_owned(),
        },
        _ => "?column?".to_owned(),
    }
}

/// The FROM table: catalog table, segment, or nothing (one empty row).
fn bind_table<'a>(
    ctx: &PlanContext<'a>,
    select: &Select,
) -> Result<(BoundTable<'a>, String, Scope), QueryError> {
    let Some((name, alias, position)) = from_table(select)? else {
        return Ok((
            BoundTable::Dual(DualTable),
            "(no table)".to_owned(),
            Scope::new(Vec::new(), Vec::new()),
        ));
    };
    let scope = relation_scope(ctx, select)?;
    let label = alias.map_or_else(|| name.clone(), |a| format!("{name} AS {a}"));
    if let Some(table) = ctx.catalog.table(&name) {
        return Ok((BoundTable::Catalog(table), label, scope));
    }
    let profiles = ctx
        .catalog
        .table("profiles")
        .ok_or_else(|| QueryError::plan("segments need a profiles table", position))?;
    let members = materialize_segment(ctx, &name)?;
    Ok((
        BoundTable::Segment(SegmentTable::new(profiles, members)?),
        label,
        scope,
    ))
}

/// The scope (names, columns, row-id column) of a SELECT's FROM table, without reading data.
pub fn relation_scope(ctx: &PlanContext<'_>, select: &Select) -> Result<Scope, QueryError> {
    let Some((name, alias, position)) = from_table(select)? else {
        return Ok(Scope::new(Vec::new(), Vec::new()));
    };
    let is_segment = ctx.catalog.table(&name).is_none() && ctx.segments.get(&name).is_some();
    let source = if is_segment {
        ctx.catalog.table("profiles")
    } else {
        ctx.catalog.table(&name)
    };
    let Some(source) = source else {
        return Err(QueryError::plan(
            format!("relation \"{name}\" does not exist"),
            position,
        ));
    };
    let columns = source.columns();
    let qualifiers = vec![alias.unwrap_or_else(|| name.clone())];
    let mut scope = Scope::new(qualifiers, columns);
    if (is_segment || name == "profiles") && scope.columns.iter().any(|(n, _)| n == PROFILE_ID) {
        scope.row_id_column = Some(PROFILE_ID.to_owned());
    }
    Ok(scope)
}

/// Name, alias and position of a FROM table.
type FromTable = (String, Option<String>, Option<Position>);

/// Name, alias and position of the single FROM table, or `None` without FROM.
fn from_table(select: &Select) -> Result<Option<FromTable>, QueryError> {
    let table = match select.from.as_slice() {
        [] => return Ok(None),
        [one] if one.joins.is_empty() => one,
        [one, ..] => {
            return Err(QueryError::unsupported(
                "joins (FROM with several tables)",
                position_of(one),
            ))
        }
    };
    let position = position_of(&table.relation);
    let TableFactor::Table {
        name,
        alias,
        args: None,
        with_hints,
        version: None,
        partitions,
        ..
    } = &table.relation
    else {
        return Err(QueryError::unsupported(
            format!("FROM item `{}`", table.relation),
            position,
        ));
    };
    if !with_hints.is_empty() || !partitions.is_empty() {
        return Err(QueryError::unsupported(
            "table hints or partitions",
            position,
        ));
    }
    let [ast::ObjectNamePart::Identifier(ident)] = name.0.as_slice() else {
        return Err(QueryError::unsupported(
            format!("qualified table name {name}"),
            position,
        ));
    };
    let alias = match alias {
        Some(a) if !a.columns.is_empty() => {
            return Err(QueryError::unsupported(
                "column aliases on a table",
                position,
            ))
        }
        Some(a) => Some(normalize_ident(&a.name)),
        None => None,
    };
    Ok(Some((normalize_ident(ident), alias, position)))
}

/// Runs a segment's definition (or asks the store) for its member profile ids.
pub fn materialize_segment(
    ctx: &PlanContext<'_>,
    name: &str,
) -> Result<roaring::RoaringBitmap, QueryError> {
    if let Some(members) = ctx.segments.members(name) {
        return Ok(members);
    }
    let definition = ctx
        .segments
        .get(name)
        .ok_or_else(|| QueryError::plan(format!("relation \"{name}\" does not exist"), None))?;
    ctx.nested("segment definition", || {
        let Statement::Standard(statement) = parse(&definition.sql)? else {
            return Err(QueryError::Internal(format!(
                "segment {name} is not defined by a query"
            )));
        };
        let ast::Statement::Query(query) = *statement else {
            return Err(QueryError::Internal(format!(
                "segment {name} is not defined by a query"
            )));
        };
        let plan = plan_query(ctx, &query, None)?;
        crate::exec::profile_ids(&plan)
    })
}

fn reject_query_clauses(query: &Query) -> Result<(), QueryError> {
    let position = position_of(query);
    if query.with.is_some() {
        return Err(QueryError::unsupported(
            "WITH (common table expressions)",
            position,
        ));
    }
    if query.fetch.is_some()
        || !query.locks.is_empty()
        || query.for_clause.is_some()
        || query.settings.is_some()
        || query.format_clause.is_some()
        || !query.pipe_operators.is_empty()
    {
        return Err(QueryError::unsupported(
            "FETCH / FOR UPDATE / SETTINGS / FORMAT / pipe clauses",
            position,
        ));
    }
    Ok(())
}

fn reject_select_clauses(select: &Select) -> Result<(), QueryError> {
    let position = position_of(select);
    let unsupported = |what: &str| Err(QueryError::unsupported(what.to_owned(), position));
    if matches!(select.distinct, Some(ast::Distinct::On(_))) {
        return unsupported("DISTINCT ON");
    }
    if select.top.is_some()
        || select.into.is_some()
        || !select.lateral_views.is_empty()
        || select.prewhere.is_some()
    {
        return unsupported("TOP / INTO / LATERAL VIEW / PREWHERE");
    }
    if !select.connect_by.is_empty()
        || !select.cluster_by.is_empty()
        || !select.distribute_by.is_empty()
        || !select.sort_by.is_empty()
    {
        return unsupported("CONNECT BY / CLUSTER BY / DISTRIBUTE BY / SORT BY");
    }
    if !select.named_window.is_empty()
        || select.qualify.is_some()
        || select.value_table_mode.is_some()
        || select.exclude.is_some()
    {
        return unsupported("WINDOW / QUALIFY / value tables / EXCLUDE");
    }
    Ok(())
}

fn set_expr_name(set: &SetExpr) -> &'static str {
    match set {
        SetExpr::SetOperation { .. } => "UNION / INTERSECT / EXCEPT",
        SetExpr::Values(_) => "VALUES",
        SetExpr::Query(_) => "a parenthesized query as the whole statement",
        _ => "this kind of query",
    }
}
