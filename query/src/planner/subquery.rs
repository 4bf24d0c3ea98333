//! `IN (subquery)` and `EXISTS (subquery)` conditions; correlated EXISTS is decorrelated into a
//! semi-join on the `inner = outer` equality.

use profiledb_engine::value::ColumnType;
use sqlparser::ast::{self, BinaryOperator, Expr, Query, SelectItem, SetExpr};

use super::aggregate::aggregate_func;
use super::expr::ExprPlanner;
use super::scope::Scope;
use super::select::{plan_query, relation_scope};
use super::types::comparable;
use crate::error::{position_of, QueryError};
use crate::plan::{FilterKind, FilterNode, SubqueryMode};

impl<'a> ExprPlanner<'_, 'a> {
    /// `subject IN (subquery)`; the subject must be a column of this table.
    pub(super) fn plan_in_subquery(
        &self,
        subject: &Expr,
        subquery: &Query,
        rows: u64,
    ) -> Result<FilterNode<'a>, QueryError> {
        let position = position_of(subject);
        let typed = self.plan(subject)?;
        let (column, column_type) = self.column_name(&typed.expr).ok_or_else(|| {
            QueryError::unsupported("IN (subquery) on an expression (use a column)", position)
        })?;
        let plan = self.ctx.nested("subquery", || {
            plan_query(self.ctx, subquery, Some(self.scope.snapshot()))
        })?;
        let out_type = match plan.output.as_slice() {
            [(_, ty)] => *ty,
            _ => {
                return Err(QueryError::plan(
                    "subquery has too many columns",
                    position_of(subquery),
                ))
            }
        };
        if let Some(t) = out_type {
            if !comparable(column_type, t) {
                return Err(QueryError::plan(
                    format!("operator does not exist: {column_type} = {t}"),
                    position,
                ));
            }
        }
        let is_row_id = self.scope.row_id_column.as_deref() == Some(column.as_str());
        let kind = FilterKind::Subquery {
            column,
            is_row_id,
            column_type,
            plan: Box::new(plan),
            mode: SubqueryMode::In,
        };
        Ok(self.node(kind, rows))
    }

    /// `EXISTS (subquery)`: a semi-join when correlated by one equality, a constant otherwise.
    pub(super) fn plan_exists(
        &self,
        subquery: &Query,
        rows: u64,
    ) -> Result<FilterNode<'a>, QueryError> {
        let position = position_of(subquery);
        let SetExpr::Select(select) = subquery.body.as_ref() else {
            return Err(QueryError::unsupported(
                "EXISTS over a set operation",
                position,
            ));
        };
        let inner = relation_scope(self.ctx, select)?;
        let conjuncts = split_and(select.selection.as_ref());
        let correlation = conjuncts
            .iter()
            .enumerate()
            .find_map(|(i, c)| self.correlation(c, &inner).map(|pair| (i, pair)));
        let Some((index, (inner_expr, outer_column, outer_type))) = correlation else {
            let plan = self.ctx.nested("subquery", || {
                plan_query(self.ctx, subquery, Some(self.scope.snapshot()))
            })?;
            return Ok(self.node(FilterKind::ExistsAny(Box::new(plan)), rows));
        };
        let rest: Vec<Expr> = conjuncts
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != index)
            .map(|(_, c)| (*c).clone())
            .collect();
        let rewritten = semi_join_query(subquery, select, inner_expr, rest)?;
        let plan = self.ctx.nested("subquery", || {
            plan_query(self.ctx, &rewritten, Some(self.scope.snapshot()))
        })?;
        let is_row_id = self.scope.row_id_column.as_deref() == Some(outer_column.as_str());
        let kind = FilterKind::Subquery {
            column: outer_column,
            is_row_id,
            column_type: outer_type,
            plan: Box::new(plan),
            mode: SubqueryMode::Exists,
        };
        Ok(self.node(kind, rows))
    }

    /// For `inner = outer` (either order), the inner expression and the outer column.
    fn correlation(&self, conjunct: &Expr, inner: &Scope) -> Option<(Expr, String, ColumnType)> {
        let Expr::BinaryOp {
            left,
            op: BinaryOperator::Eq,
            right,
        } = strip(conjunct)
        else {
            return None;
        };
        let side = |e: &Expr| -> Option<Vec<ast::Ident>> {
            match strip(e) {
                Expr::Identifier(i) => Some(vec![i.clone()]),
                Expr::CompoundIdentifier(parts) => Some(parts.clone()),
                _ => None,
            }
        };
        let (l, r) = (side(left)?, side(right)?);
        let outer_of = |parts: &[ast::Ident]| -> Option<(String, ColumnType)> {
            if inner.lookup(parts).is_some() {
                return None;
            }
            let index = self.scope.lookup(parts)?;
            self.scope.columns.get(index).cloned()
        };
        if inner.lookup(&l).is_some() {
            let (name, ty) = outer_of(&r)?;
            return Some(((**left).clone(), name, ty));
        }
        if inner.lookup(&r).is_some() {
            let (name, ty) = outer_of(&l)?;
            return Some(((**right).clone(), name, ty));
        }
        None
    }
}

fn strip(e: &Expr) -> &Expr {
    match e {
        Expr::Nested(inner) => strip(inner),
        other => other,
    }
}

/// The top-level AND-ed conditions of a WHERE clause.
fn split_and(expr: Option<&Expr>) -> Vec<&Expr> {
    let mut out = Vec::new();
    let mut stack: Vec<&Expr> = expr.into_iter().collect();
    while let Some(e) = stack.pop() {
        match strip(e) {
            Expr::BinaryOp {
                left,
                op: BinaryOperator::And,
                right,
            } => {
                stack.push(right);
                stack.push(left);
            }
            other => out.push(other),
        }
    }
    out
}

/// `SELECT inner FROM … WHERE rest [GROUP BY inner HAVING …]`: the rows whose `inner` value
/// makes the correlated EXISTS true.
fn semi_join_query(
    query: &Query,
    select: &ast::Select,
    inner: Expr,
    rest: Vec<Expr>,
) -> Result<Query, QueryError> {
    let position = position_of(query);
    if query.offset_present() {
        return Err(QueryError::unsupported(
            "OFFSET in a correlated EXISTS",
            position,
        ));
    }
    if !matches!(&select.group_by, ast::GroupByExpr::Expressions(g, m) if g.is_empty() && m.is_empty())
    {
        return Err(QueryError::unsupported(
            "GROUP BY in a correlated EXISTS",
            position,
        ));
    }
    let aggregates_in_list = select.projection.iter().any(|item| match item {
        SelectItem::UnnamedExpr(Expr::Function(f))
        | SelectItem::ExprWithAlias {
            expr: Expr::Function(f),
            ..
        } => aggregate_func(f).is_some(),
        _ => false,
    });
    if aggregates_in_list && select.having.is_none() {
        return Err(QueryError::unsupported(
            "aggregate without HAVING in a correlated EXISTS (it is always true)",
            position,
        ));
    }
    let mut new_select = select.clone();
    new_select.projection = vec![SelectItem::UnnamedExpr(inner.clone())];
    new_select.selection = rest.into_iter().reduce(|a, b| Expr::BinaryOp {
        left: Box::new(a),
        op: BinaryOperator::And,
        right: Box::new(b),
    });
    if select.having.is_some() {
        new_select.group_by = ast::GroupByExpr::Expressions(vec![inner], Vec::new());
    }
    let mut new_query = query.clone();
    new_query.body = Box::new(SetExpr::Select(Box::new(new_select)));
    new_query.order_by = None;
    new_query.limit_clause = None;
    Ok(new_query)
}

/// Whether a query has an OFFSET or a LIMIT that could drop every row.
trait OffsetPresent {
    fn offset_present(&self) -> bool;
}

impl OffsetPresent for Query {
    fn offset_present(&self) -> bool {
        match &self.limit_clause {
            Some(ast::LimitClause::LimitOffset { limit, offset, .. }) => {
                let limit_ok = match limit {
                    None => true,
                    Some(Expr::Value(v)) => {
                        matches!(&v.value, ast::Value::Number(n, _) if n.parse::<u64>().is_ok_and(|n| n >= 1))
                    }
                    Some(_) => false,
                };
                offset.is_some() || !limit_ok
            }
            Some(_) => true,
            None => false,
        }
    }
}
