//! Compiles a WHERE condition into a tree of bitmap operations whose leaves are storage filters.

use profiledb_engine::value::{ColumnType, Value};
use sqlparser::ast::{BinaryOperator, Expr, UnaryOperator};

use super::expr::{expect_bool, ExprPlanner};
use crate::error::{position_of, QueryError};
use crate::plan::{FilterKind, FilterNode, LeafUnknown, ScalarExpr, Truth};
use crate::predicate::{CompareOp, LeafPredicate};

impl<'a> ExprPlanner<'_, 'a> {
    /// Plans a WHERE condition over this scope's table (with `rows` live rows).
    pub fn plan_filter(&self, expr: &Expr, rows: u64) -> Result<FilterNode<'a>, QueryError> {
        let kind = match expr {
            Expr::Nested(inner) => return self.plan_filter(inner, rows),
            Expr::BinaryOp {
                left,
                op: op @ (BinaryOperator::And | BinaryOperator::Or),
                right,
            } => {
                let mut children = Vec::new();
                self.flatten(left, op, rows, &mut children)?;
                self.flatten(right, op, rows, &mut children)?;
                children.sort_by_key(|c| (cost_class(&c.kind), c.estimate));
                if *op == BinaryOperator::And {
                    FilterKind::And(children)
                } else {
                    FilterKind::Or(children)
                }
            }
            Expr::UnaryOp {
                op: UnaryOperator::Not,
                expr: inner,
            } => FilterKind::Not(Box::new(self.plan_filter(inner, rows)?)),
            Expr::InSubquery {
                expr: subject,
                subquery,
                negated,
            } => {
                let node = self.plan_in_subquery(subject, subquery, rows)?;
                return Ok(self.negate_if(node, *negated, rows));
            }
            Expr::Exists { subquery, negated } => {
                let node = self.plan_exists(subquery, rows)?;
                return Ok(self.negate_if(node, *negated, rows));
            }
            _ => {
                let typed = self.plan(expr)?;
                expect_bool(&typed, "WHERE", position_of(expr))?;
                return Ok(self.compile(typed.expr, rows));
            }
        };
        Ok(self.node(kind, rows))
    }

    fn flatten(
        &self,
        expr: &Expr,
        op: &BinaryOperator,
        rows: u64,
        out: &mut Vec<FilterNode<'a>>,
    ) -> Result<(), QueryError> {
        match expr {
            Expr::Nested(inner) => self.flatten(inner, op, rows, out),
            Expr::BinaryOp {
                left,
                op: inner_op,
                right,
            } if inner_op == op => {
                self.flatten(left, op, rows, out)?;
                self.flatten(right, op, rows, out)
            }
            other => {
                out.push(self.plan_filter(other, rows)?);
                Ok(())
            }
        }
    }

    fn negate_if(&self, node: FilterNode<'a>, negated: bool, rows: u64) -> FilterNode<'a> {
        if negated {
            self.node(FilterKind::Not(Box::new(node)), rows)
        } else {
            node
        }
    }

    /// Wraps a kind into a node with a fresh id and its estimate.
    pub(super) fn node(&self, kind: FilterKind<'a>, rows: u64) -> FilterNode<'a> {
        let estimate = estimate(&kind, rows);
        FilterNode {
            id: self.ctx.next_id(),
            estimate,
            kind,
        }
    }

    /// Turns a planned boolean expression into leaves where possible, a residual otherwise.
    fn compile(&self, expr: ScalarExpr, rows: u64) -> FilterNode<'a> {
        let kind = match expr {
            ScalarExpr::Literal(v) => FilterKind::Const(match v {
                Value::Bool(true) => Truth::True,
                Value::Bool(false) => Truth::False,
                _ => Truth::Unknown,
            }),
            ScalarExpr::And(l, r) => match self.between_leaf(&l, &r) {
                Some(kind) => kind,
                None => {
                    let mut children = vec![self.compile(*l, rows), self.compile(*r, rows)];
                    children.sort_by_key(|c| (cost_class(&c.kind), c.estimate));
                    FilterKind::And(children)
                }
            },
            ScalarExpr::Or(l, r) => {
                let mut children = vec![self.compile(*l, rows), self.compile(*r, rows)];
                children.sort_by_key(|c| (cost_class(&c.kind), c.estimate));
                FilterKind::Or(children)
            }
            ScalarExpr::Not(inner) => FilterKind::Not(Box::new(self.compile(*inner, rows))),
            other => self.leaf(&other, rows).unwrap_or_else(|| residual(other)),
        };
        self.node(kind, rows)
    }

    pub(super) fn column_name(&self, expr: &ScalarExpr) -> Option<(String, ColumnType)> {
        match expr {
            ScalarExpr::Column(slot) => self.scope.slot_column(*slot),
            _ => None,
        }
    }

    /// A storage leaf for `column <op> constant` shapes.
    fn leaf(&self, expr: &ScalarExpr, rows: u64) -> Option<FilterKind<'a>> {
        let leaf = |column: String, predicate| FilterKind::Leaf {
            column,
            predicate,
            unknown: LeafUnknown::ColumnNulls,
        };
        match expr {
            ScalarExpr::Column(_) => {
                let (column, _) = self.column_name(expr)?;
                Some(leaf(
                    column,
                    LeafPredicate::Compare(CompareOp::Eq, Value::Bool(true)),
                ))
            }
            ScalarExpr::Compare(op, l, r) => {
                let (column, ty, op, value) =
                    match (self.column_name(l), self.column_name(r), &**l, &**r) {
                        (Some((c, t)), _, _, ScalarExpr::Literal(v)) => (c, t, *op, v.clone()),
                        (_, Some((c, t)), ScalarExpr::Literal(v), _) => {
                            (c, t, op.flipped(), v.clone())
                        }
                        _ => return None,
                    };
                if value.is_null() {
                    return Some(FilterKind::Const(Truth::Unknown));
                }
                Some(leaf(column, compare_predicate(ty, op, value)?))
            }
            ScalarExpr::IsNull(inner, negated) => {
                let (column, _) = self.column_name(inner)?;
                Some(FilterKind::IsNull {
                    column,
                    negated: *negated,
                })
            }
            ScalarExpr::InList(subject, items, false) => {
                let (column, ty) = self.column_name(subject)?;
                let mut values = Vec::with_capacity(items.len());
                let mut saw_null = false;
                for item in items {
                    match item {
                        ScalarExpr::Literal(Value::Null) => saw_null = true,
                        ScalarExpr::Literal(v) => values.push(coerce_operand(ty, v.clone())?),
                        _ => return None,
                    }
                }
                if items.is_empty() {
                    return Some(FilterKind::Const(Truth::False));
                }
                let unknown = if saw_null {
                    LeafUnknown::AllOthers
                } else {
                    LeafUnknown::ColumnNulls
                };
                Some(FilterKind::Leaf {
                    column,
                    predicate: LeafPredicate::InList(values),
                    unknown,
                })
            }
            ScalarExpr::InList(subject, items, true) => {
                let positive = ScalarExpr::InList(subject.clone(), items.clone(), false);
                let node = self.node(self.leaf(&positive, rows)?, rows);
                Some(FilterKind::Not(Box::new(node)))
            }
            ScalarExpr::Like {
                expr,
                pattern,
                case_insensitive,
                negated: false,
            } => {
                let (column, _) = self.column_name(expr)?;
                let ScalarExpr::Literal(Value::String(p)) = &**pattern else {
                    return None;
                };
                Some(leaf(
                    column,
                    LeafPredicate::Like {
                        pattern: p.clone(),
                        case_insensitive: *case_insensitive,
                    },
                ))
            }
            ScalarExpr::Like {
                expr,
                pattern,
                case_insensitive,
                negated: true,
            } => {
                let positive = ScalarExpr::Like {
                    expr: expr.clone(),
                    pattern: pattern.clone(),
                    case_insensitive: *case_insensitive,
                    negated: false,
                };
                let node = self.node(self.leaf(&positive, rows)?, rows);
                Some(FilterKind::Not(Box::new(node)))
            }
            ScalarExpr::ListContains(list, item) => {
                let (column, _) = self.column_name(list)?;
                match &**item {
                    ScalarExpr::Literal(Value::Null) => Some(FilterKind::Const(Truth::Unknown)),
                    ScalarExpr::Literal(v) => {
                        Some(leaf(column, LeafPredicate::ListContains(v.clone())))
                    }
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// `col >= a AND col <= b` (what BETWEEN plans to) as one Between leaf.
    fn between_leaf(&self, l: &ScalarExpr, r: &ScalarExpr) -> Option<FilterKind<'a>> {
        let (
            ScalarExpr::Compare(CompareOp::GtEq, c1, lo),
            ScalarExpr::Compare(CompareOp::LtEq, c2, hi),
        ) = (l, r)
        else {
            return None;
        };
        let (ScalarExpr::Literal(lo), ScalarExpr::Literal(hi)) = (&**lo, &**hi) else {
            return None;
        };
        let (column, ty) = self.column_name(c1)?;
        if c1 != c2 || lo.is_null() || hi.is_null() || ty == ColumnType::StringList {
            return None;
        }
        let (lo, hi) = (
            coerce_operand(ty, lo.clone())?,
            coerce_operand(ty, hi.clone())?,
        );
        Some(FilterKind::Leaf {
            column,
            predicate: LeafPredicate::Between(lo, hi),
            unknown: LeafUnknown::ColumnNulls,
        })
    }
}

fn residual(expr: ScalarExpr) -> FilterKind<'static> {
    let mut slots = Vec::new();
    crate::exec::scalar::visit_slots(&expr, &mut |s| {
        if !slots.contains(&s) {
            slots.push(s);
        }
    });
    FilterKind::Residual { expr, slots }
}

use crate::cast::coerce_exact as coerce_operand;

/// The leaf for `column <op> value`, exact for integer columns compared with fractional floats.
fn compare_predicate(ty: ColumnType, op: CompareOp, value: Value) -> Option<LeafPredicate> {
    if let (ColumnType::Int64, Value::Float64(f)) = (ty, &value) {
        return Some(int_vs_float(op, *f));
    }
    Some(LeafPredicate::Compare(op, coerce_operand(ty, value)?))
}

/// `int_col <op> f` rewritten over integers: `> 2.5` is `>= 3`, `= 2.5` matches nothing, etc.
fn int_vs_float(op: CompareOp, f: f64) -> LeafPredicate {
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    let all = LeafPredicate::Between(Value::Int64(i64::MIN), Value::Int64(i64::MAX));
    let none = LeafPredicate::InList(Vec::new());
    let pick = |holds_below: bool| {
        if holds_below {
            all.clone()
        } else {
            none.clone()
        }
    };
    // NaN sorts above every number in PostgreSQL; so does anything beyond the i64 range.
    if f.is_nan() || f >= LIMIT {
        return pick(matches!(
            op,
            CompareOp::Lt | CompareOp::LtEq | CompareOp::NotEq
        ));
    }
    if f < -LIMIT {
        return pick(matches!(
            op,
            CompareOp::Gt | CompareOp::GtEq | CompareOp::NotEq
        ));
    }
    #[expect(clippy::cast_possible_truncation, reason = "range checked above")]
    let (floor, ceil) = (f.floor() as i64, f.ceil() as i64);
    if floor == ceil {
        return LeafPredicate::Compare(op, Value::Int64(floor));
    }
    match op {
        CompareOp::Eq => none,
        CompareOp::NotEq => all,
        CompareOp::Gt | CompareOp::GtEq => {
            LeafPredicate::Compare(CompareOp::GtEq, Value::Int64(ceil))
        }
        CompareOp::Lt | CompareOp::LtEq => {
            LeafPredicate::Compare(CompareOp::LtEq, Value::Int64(floor))
        }
    }
}

/// Evaluation order class. Constants first; then subqueries: they are computed whole, whatever
/// rows are still in play, so running them first costs nothing and their (often small) result
/// narrows what the storage leaves must look at; then leaves, combinations, and row-by-row
/// conditions last.
pub(super) fn cost_class(kind: &FilterKind<'_>) -> u8 {
    match kind {
        FilterKind::Const(_) => 0,
        FilterKind::Subquery { .. } | FilterKind::ExistsAny(_) => 1,
        FilterKind::Leaf { .. } | FilterKind::IsNull { .. } => 2,
        FilterKind::And(_) | FilterKind::Or(_) | FilterKind::Not(_) => 3,
        FilterKind::Residual { .. } => 4,
    }
}

/// Heuristic TRUE-row estimate (storage offers no statistics through the trait).
fn estimate(kind: &FilterKind<'_>, rows: u64) -> u64 {
    match kind {
        FilterKind::Const(Truth::True) => rows,
        FilterKind::Const(_) => 0,
        FilterKind::Leaf { predicate, .. } => match predicate {
            LeafPredicate::Compare(CompareOp::Eq, _) | LeafPredicate::ListContains(_) => rows / 10,
            LeafPredicate::Compare(CompareOp::NotEq, _) => rows * 9 / 10,
            LeafPredicate::Compare(..) | LeafPredicate::Between(..) => rows / 3,
            LeafPredicate::InList(items) => {
                (rows / 10).saturating_mul(items.len() as u64).min(rows)
            }
            LeafPredicate::Like { .. } => rows / 4,
        },
        FilterKind::IsNull { negated: false, .. } => rows / 10,
        FilterKind::IsNull { negated: true, .. } => rows * 9 / 10,
        FilterKind::And(children) => children.iter().map(|c| c.estimate).min().unwrap_or(rows),
        FilterKind::Or(children) => children
            .iter()
            .map(|c| c.estimate)
            .fold(0u64, u64::saturating_add)
            .min(rows),
        FilterKind::Not(child) => rows.saturating_sub(child.estimate),
        FilterKind::Subquery { .. } | FilterKind::ExistsAny(_) => rows / 4,
        FilterKind::Residual { .. } => rows / 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_column_against_fraction() {
        assert_eq!(
            int_vs_float(CompareOp::Gt, 2.5),
            LeafPredicate::Compare(CompareOp::GtEq, Value::Int64(3))
        );
        assert_eq!(
            int_vs_float(CompareOp::LtEq, -2.5),
            LeafPredicate::Compare(CompareOp::LtEq, Value::Int64(-3))
        );
        assert_eq!(
            int_vs_float(CompareOp::Eq, 2.5),
            LeafPredicate::InList(Vec::new())
        );
        assert_eq!(
            int_vs_float(CompareOp::Eq, 2.0),
            LeafPredicate::Compare(CompareOp::Eq, Value::Int64(2))
        );
        assert!(matches!(
            int_vs_float(CompareOp::Lt, f64::NAN),
            LeafPredicate::Between(..)
        ));
    }
}
