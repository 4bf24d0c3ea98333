//! Planning of scalar expressions: name resolution, typing, literal coercion, constant folding.

use std::cell::Cell;

use profiledb_engine::value::{ColumnType, Value};
use sqlparser::ast::{
    self, BinaryOperator, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, UnaryOperator,
};

use super::aggregate::{aggregate_func, AggState};
use super::scope::{Resolved, Scope};
use super::types::{map_data_type, unify, ExprKind, Typed};
use super::PlanContext;
use crate::error::{position_of, Position, QueryError};
use crate::exec::scalar::eval;
use crate::like::{like_pattern_is_valid, normalize_escape};
use crate::plan::{ArithOp, ScalarExpr, ScalarFunc};
use crate::predicate::CompareOp;
use crate::temporal::{add_unit, date_trunc, parse_interval, Interval, MICROS_PER_DAY};

/// Plans expressions against one scope, either over input rows or (with `agg`) over grouped rows.
pub struct ExprPlanner<'p, 'a> {
    /// Visible columns.
    pub scope: &'p Scope,
    /// Statement context (clock).
    pub ctx: &'p PlanContext<'a>,
    /// Post-aggregation mode: group keys and aggregates.
    pub agg: Option<&'p AggState>,
    /// Probe mode: aggregates are allowed and only noted here (used to detect aggregation).
    pub probe: Option<&'p Cell<bool>>,
}

impl<'p, 'a> ExprPlanner<'p, 'a> {
    /// A planner over input rows.
    pub fn new(scope: &'p Scope, ctx: &'p PlanContext<'a>) -> Self {
        ExprPlanner {
            scope,
            ctx,
            agg: None,
            probe: None,
        }
    }

    /// The same scope in input-row mode (for aggregate arguments).
    pub fn input_planner(&self) -> ExprPlanner<'p, 'a> {
        ExprPlanner::new(self.scope, self.ctx)
    }

    /// Plans an expression.
    pub fn plan(&self, expr: &Expr) -> Result<Typed, QueryError> {
        if let Some(state) = self.agg {
            if let Some(slot) = state.group_slot(expr) {
                let ty = state.group_types.get(slot).copied().flatten();
                return Ok(Typed::plain(ScalarExpr::Column(slot), ty));
            }
        }
        let typed = self.plan_inner(expr)?;
        fold(typed)
    }

    fn plan_inner(&self, expr: &Expr) -> Result<Typed, QueryError> {
        let position = position_of(expr);
        match expr {
            Expr::Identifier(ident) => self.plan_column(std::slice::from_ref(ident), position),
            Expr::CompoundIdentifier(parts) => self.plan_column(parts, position),
            Expr::Value(v) => plan_value(&v.value, position),
            Expr::Nested(inner) => self.plan(inner),
            Expr::TypedString(ts) => {
                let text = string_of(&ts.value.value, position)?;
                self.plan_cast(Typed::literal(Value::String(text)), &ts.data_type, position)
            }
            Expr::Cast {
                expr,
                data_type,
                format: None,
                ..
            } => {
                let inner = self.plan(expr)?;
                self.plan_cast(inner, data_type, position)
            }
            Expr::Interval(interval) => plan_interval(interval, position),
            Expr::UnaryOp { op, expr } => self.plan_unary(*op, expr, position),
            Expr::BinaryOp { left, op, right } => self.plan_binary(left, op, right, position),
            Expr::IsNull(e) | Expr::IsNotNull(e) => {
                let inner = self.plan(e)?;
                let negated = matches!(expr, Expr::IsNotNull(_));
                Ok(Typed::plain(
                    ScalarExpr::IsNull(Box::new(inner.expr), negated),
                    Some(ColumnType::Bool),
                ))
            }
            Expr::InList {
                expr,
                list,
                negated,
            } => self.plan_in_list(expr, list, *negated, position),
            Expr::Between {
                expr,
                negated,
                low,
                high,
            } => self.plan_between(expr, *negated, low, high, position),
            Expr::Like {
                negated,
                any: false,
                expr,
                pattern,
                escape_char,
            } => self.plan_like(
                expr,
                pattern,
                escape_char.as_deref(),
                *negated,
                false,
                position,
            ),
            Expr::ILike {
                negated,
                any: false,
                expr,
                pattern,
                escape_char,
            } => self.plan_like(
                expr,
                pattern,
                escape_char.as_deref(),
                *negated,
                true,
                position,
            ),
            Expr::AnyOp {
                left,
                compare_op: BinaryOperator::Eq,
                right,
                ..
            } => {
                let item = self.plan(left)?;
                let list = self.plan(right)?;
                list_contains(list, item, position)
            }
            Expr::Function(function) => self.plan_function(expr, function, position),
            Expr::InSubquery { .. } | Expr::Exists { .. } | Expr::Subquery(_) => {
                Err(QueryError::unsupported(
                    "subquery here (subqueries are supported as WHERE conditions: IN / EXISTS)",
                    position,
                ))
            }
            other => Err(QueryError::unsupported(
                format!("expression `{}`", truncate(&other.to_string())),
                position,
            )),
        }
    }

    fn plan_column(
        &self,
        parts: &[ast::Ident],
        position: Option<Position>,
    ) -> Result<Typed, QueryError> {
        let index = match self.scope.resolve(parts)? {
            Resolved::Column(i) => i,
            Resolved::Outer(_) => {
                let name: Vec<&str> = parts.iter().map(|p| p.value.as_str()).collect();
                return Err(QueryError::unsupported(
                    format!(
                        "correlated reference to outer column \"{}\" (only `inner = outer` equalities in EXISTS are supported)",
                        name.join(".")
                    ),
                    position,
                ));
            }
        };
        if self.agg.is_some() {
            let name = self
                .scope
                .columns
                .get(index)
                .map(|(n, _)| n.clone())
                .unwrap_or_default();
            return Err(QueryError::plan(
                format!("column \"{name}\" must appear in the GROUP BY clause or be used in an aggregate function"),
                position,
            ));
        }
        let ty = self.scope.columns.get(index).map(|(_, t)| *t);
        Ok(Typed::plain(ScalarExpr::Column(self.scope.slot(index)), ty))
    }

    fn plan_cast(
        &self,
        inner: Typed,
        data_type: &ast::DataType,
        position: Option<Position>,
    ) -> Result<Typed, QueryError> {
        let (to, to_date) = map_data_type(data_type, position)?;
        let allowed = match (inner.ty, to) {
            (None, _) => true,
            (Some(from), to) if from == to => true,
            (Some(ColumnType::String), _) | (_, ColumnType::String) => to != ColumnType::StringList,
            (
                Some(ColumnType::Int64 | ColumnType::Float64),
                ColumnType::Int64 | ColumnType::Float64,
            ) => true,
            (Some(ColumnType::Int64), ColumnType::Bool)
            | (Some(ColumnType::Bool), ColumnType::Int64) => true,
            _ => false,
        };
        if !allowed {
            let from = inner.ty.map_or("unknown", ColumnType::name);
            return Err(QueryError::plan(
                format!("cannot cast type {from} to {to}"),
                position,
            ));
        }
        let expr = ScalarExpr::Cast {
            expr: Box::new(inner.expr),
            to,
            to_date,
        };
        let kind = if to_date {
            ExprKind::Date
        } else {
            ExprKind::Plain
        };
        Ok(Typed {
            expr,
            ty: Some(to),
            kind,
        })
    }

    fn plan_unary(
        &self,
        op: UnaryOperator,
        operand: &Expr,
        position: Option<Position>,
    ) -> Result<Typed, QueryError> {
        let inner = self.plan(operand)?;
        match op {
            UnaryOperator::Not => {
                expect_bool(&inner, "NOT", position)?;
                Ok(Typed::plain(
                    ScalarExpr::Not(Box::new(inner.expr)),
                    Some(ColumnType::Bool),
                ))
            }
            UnaryOperator::Minus => {
                if let ExprKind::Interval(iv) = inner.kind {
                    let negated = iv
                        .negated()
                        .ok_or_else(|| QueryError::exec("interval out of range"))?;
                    return Ok(interval_typed(negated));
                }
                expect_numeric(&inner, "-", position)?;
                Ok(Typed::plain(
                    ScalarExpr::Neg(Box::new(inner.expr)),
                    inner.ty,
                ))
            }
            UnaryOperator::Plus => {
                expect_numeric(&inner, "+", position)?;
                Ok(inner)
            }
            other => Err(QueryError::unsupported(
                format!("operator {other}"),
                position,
            )),
        }
    }

    fn plan_binary(
        &self,
        left: &Expr,
        op: &BinaryOperator,
        right: &Expr,
        position: Option<Position>,
    ) -> Result<Typed, QueryError> {
        let l = self.plan(left)?;
        let r = self.plan(right)?;
        match op {
            BinaryOperator::And | BinaryOperator::Or => {
                let name = if *op == BinaryOperator::And {
                    "AND"
                } else {
                    "OR"
                };
                expect_bool(&l, name, position)?;
                expect_bool(&r, name, position)?;
                let (a, b) = (Box::new(l.expr), Box::new(r.expr));
                let expr = if *op == BinaryOperator::And {
                    ScalarExpr::And(a, b)
                } else {
                    ScalarExpr::Or(a, b)
                };
                Ok(Typed::plain(expr, Some(ColumnType::Bool)))
            }
            BinaryOperator::StringConcat => {
                let (l, r) = (stringish(l), stringish(r));
                Ok(Typed::plain(
                    ScalarExpr::Func(ScalarFunc::Concat, vec![l.expr, r.expr]),
                    Some(ColumnType::String),
                ))
            }
            _ => {
                if let Some(cmp) = compare_op(op) {
                    return compare(l, cmp, r, position);
                }
                if let Some(arith) = arith_op(op) {
                    return arithmetic(l, arith, r, position);
                }
                Err(QueryError::unsupported(format!("operator {op}"), position))
            }
        }
    }

    fn plan_in_list(
        &self,
        expr: &Expr,
        list: &[Expr],
        negated: bool,
        position: Option<Position>,
    ) -> Result<Typed, QueryError> {
        let mut subject = self.plan(expr)?;
        let mut items = Vec::with_capacity(list.len());
        for item in list {
            let (s, i) = unify(subject, self.plan(item)?, "=", position)?;
            subject = s;
            items.push(i.expr);
        }
        let expr = ScalarExpr::InList(Box::new(subject.expr), items, negated);
        Ok(Typed::plain(expr, Some(ColumnType::Bool)))
    }

    fn plan_between(
        &self,
        expr: &Expr,
        negated: bool,
        low: &Expr,
        high: &Expr,
        position: Option<Position>,
    ) -> Result<Typed, QueryError> {
        let subject = self.plan(expr)?;
        let lower = compare(subject.clone(), CompareOp::GtEq, self.plan(low)?, position)?;
        let upper = compare(subject, CompareOp::LtEq, self.plan(high)?, position)?;
        let both = ScalarExpr::And(Box::new(lower.expr), Box::new(upper.expr));
        let expr = if negated {
            ScalarExpr::Not(Box::new(both))
        } else {
            both
        };
        Ok(Typed::plain(expr, Some(ColumnType::Bool)))
    }

    fn plan_like(
        &self,
        expr: &Expr,
        pattern: &Expr,
        escape: Option<&Expr>,
        negated: bool,
        case_insensitive: bool,
        position: Option<Position>,
    ) -> Result<Typed, QueryError> {
        let subject = self.plan(expr)?;
        let pattern = self.plan(pattern)?;
        for side in [&subject, &pattern] {
            if !matches!(side.ty, None | Some(ColumnType::String)) {
                let ty = side.ty.map_or("unknown", ColumnType::name);
                return Err(QueryError::plan(
                    format!("operator does not exist: {ty} ~~ string (LIKE needs strings)"),
                    position,
                ));
            }
        }
        let escape = match escape {
            None => Some('\\'),
            Some(e) => escape_char(&self.plan(e)?, position)?,
        };
        let pattern = match (pattern.constant(), escape) {
            (Some(Value::String(p)), escape) => {
                let normalized = match escape {
                    Some(c) => normalize_escape(p, Some(c)),
                    // ESCAPE '' disables escaping: make every backslash literal.
                    None => p.replace('\\', "\\\\"),
                };
                if !like_pattern_is_valid(&normalized) {
                    return Err(QueryError::exec(
                        "LIKE pattern must not end with escape character",
                    ));
                }
                ScalarExpr::Literal(Value::String(normalized))
            }
            (_, Some('\\')) => pattern.expr,
            _ => {
                return Err(QueryError::unsupported(
                    "a custom ESCAPE with a non-constant pattern",
                    position,
                ))
            }
        };
        let expr = ScalarExpr::Like {
            expr: Box::new(subject.expr),
            pattern: Box::new(pattern),
            case_insensitive,
            negated,
        };
        Ok(Typed::plain(expr, Some(ColumnType::Bool)))
    }

    fn plan_function(
        &self,
        call: &Expr,
        function: &ast::Function,
        position: Option<Position>,
    ) -> Result<Typed, QueryError> {
        if let Some(func) = aggregate_func(function) {
            if let Some(probe) = self.probe {
                probe.set(true);
                return Ok(Typed::plain(ScalarExpr::Literal(Value::Null), None));
            }
            return match self.agg {
                Some(state) => self.plan_aggregate(state, call, function, func),
                None => Err(QueryError::plan(
                    format!(
                        "aggregate function {}() is not allowed here",
                        function.name.to_string().to_lowercase()
                    ),
                    position,
                )),
            };
        }
        if function.filter.is_some() || function.over.is_some() {
            return Err(QueryError::unsupported(
                format!("FILTER/OVER on {}()", function.name),
                position,
            ));
        }
        let name = function.name.to_string().to_lowercase();
        let args = self.function_args(&function.args, &name, position)?;
        self.call_scalar(&name, args, position)
    }

    fn function_args(
        &self,
        args: &FunctionArguments,
        name: &str,
        position: Option<Position>,
    ) -> Result<Vec<Typed>, QueryError> {
        match args {
            FunctionArguments::None => Ok(Vec::new()),
            FunctionArguments::Subquery(_) => Err(QueryError::unsupported(
                format!("subquery argument to {name}()"),
                position,
            )),
            FunctionArguments::List(list) => {
                if list.duplicate_treatment.is_some() || !list.clauses.is_empty() {
                    return Err(QueryError::unsupported(
                        format!("DISTINCT or clauses in {name}()"),
                        position,
                    ));
                }
                list.args
                    .iter()
                    .map(|arg| match arg {
                        FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => self.plan(e),
                        _ => Err(QueryError::unsupported(
                            format!("this kind of argument to {name}()"),
                            position,
                        )),
                    })
                    .collect()
            }
        }
    }

    fn call_scalar(
        &self,
        name: &str,
        mut args: Vec<Typed>,
        position: Option<Position>,
    ) -> Result<Typed, QueryError> {
        let arity = |n: usize, args: &[Typed]| -> Result<(), QueryError> {
            if args.len() == n {
                Ok(())
            } else {
                Err(QueryError::plan(
                    format!(
                        "function {name}() takes {n} argument(s), got {}",
                        args.len()
                    ),
                    position,
                ))
            }
        };
        let now = self.ctx.now;
        match name {
            "now" | "current_timestamp" | "localtimestamp" | "transaction_timestamp" => {
                arity(0, &args)?;
                Ok(Typed::literal(Value::Timestamp(now)))
            }
            "current_date" => {
                arity(0, &args)?;
                Ok(Typed {
                    expr: ScalarExpr::Literal(Value::Timestamp(
                        now.div_euclid(MICROS_PER_DAY) * MICROS_PER_DAY,
                    )),
                    ty: Some(ColumnType::Timestamp),
                    kind: ExprKind::Date,
                })
            }
            "lower" | "upper" => {
                arity(1, &args)?;
                let arg = string_arg(args.remove(0), name, position)?;
                let func = if name == "lower" {
                    ScalarFunc::Lower
                } else {
                    ScalarFunc::Upper
                };
                Ok(Typed::plain(
                    ScalarExpr::Func(func, vec![arg.expr]),
                    Some(ColumnType::String),
                ))
            }
            "length" | "char_length" | "cardinality" => {
                arity(1, &args)?;
                let arg = args.remove(0);
                if !matches!(
                    arg.ty,
                    None | Some(ColumnType::String | ColumnType::StringList)
                ) {
                    return Err(type_error(name, &arg, position));
                }
                Ok(Typed::plain(
                    ScalarExpr::Func(ScalarFunc::Length, vec![arg.expr]),
                    Some(ColumnType::Int64),
                ))
            }
            "abs" => {
                arity(1, &args)?;
                let arg = args.remove(0);
                expect_numeric(&arg, "abs", position)?;
                Ok(Typed::plain(
                    ScalarExpr::Func(ScalarFunc::Abs, vec![arg.expr]),
                    arg.ty,
                ))
            }
            "coalesce" => coalesce(args, position),
            "date_trunc" => {
                arity(2, &args)?;
                let ts = args.remove(1);
                let unit =
                    match args[0].constant() {
                        Some(Value::String(u)) if date_trunc(u, 0).is_some() => u.to_lowercase(),
                        _ => return Err(QueryError::plan(
                            "date_trunc() needs a constant unit such as 'day', 'week' or 'month'",
                            position,
                        )),
                    };
                if !matches!(ts.ty, None | Some(ColumnType::Timestamp)) {
                    return Err(type_error(name, &ts, position));
                }
                Ok(Typed::plain(
                    ScalarExpr::Func(ScalarFunc::DateTrunc(unit), vec![ts.expr]),
                    Some(ColumnType::Timestamp),
                ))
            }
            "list_contains" | "array_contains" | "list_has" => {
                arity(2, &args)?;
                let item = args.remove(1);
                let list = args.remove(0);
                list_contains(list, item, position)
            }
            _ => Err(QueryError::plan(
                format!("function {name}() does not exist"),
                position,
            )),
        }
    }
}

/// Evaluates expressions without column references at plan time.
fn fold(typed: Typed) -> Result<Typed, QueryError> {
    if matches!(typed.expr, ScalarExpr::Literal(_)) || !is_constant(&typed.expr) {
        return Ok(typed);
    }
    let value = eval(&typed.expr, &[])?;
    Ok(Typed {
        expr: ScalarExpr::Literal(value),
        ..typed
    })
}

/// Whether an expression reads no column.
pub fn is_constant(expr: &ScalarExpr) -> bool {
    let mut constant = true;
    crate::exec::scalar::visit_slots(expr, &mut |_| constant = false);
    constant
}

fn plan_value(value: &ast::Value, position: Option<Position>) -> Result<Typed, QueryError> {
    match value {
        ast::Value::Number(text, _) => number_literal(text, position),
        ast::Value::Boolean(b) => Ok(Typed::literal(Value::Bool(*b))),
        ast::Value::Null => Ok(Typed::plain(ScalarExpr::Literal(Value::Null), None)),
        other => {
            let text = string_of(other, position)?;
            Ok(Typed {
                expr: ScalarExpr::Literal(Value::String(text)),
                ty: Some(ColumnType::String),
                kind: ExprKind::StringLiteral,
            })
        }
    }
}

fn number_literal(text: &str, position: Option<Position>) -> Result<Typed, QueryError> {
    if let Ok(i) = text.parse::<i64>() {
        return Ok(Typed::literal(Value::Int64(i)));
    }
    text.parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .map(|f| Typed::literal(Value::Float64(f)))
        .ok_or_else(|| QueryError::plan(format!("invalid number {text}"), position))
}

fn string_of(value: &ast::Value, position: Option<Position>) -> Result<String, QueryError> {
    match value {
        ast::Value::SingleQuotedString(s)
        | ast::Value::EscapedStringLiteral(s)
        | ast::Value::NationalStringLiteral(s)
        | ast::Value::UnicodeStringLiteral(s) => Ok(s.clone()),
        ast::Value::DollarQuotedString(d) => Ok(d.value.clone()),
        other => Err(QueryError::unsupported(
            format!("literal {other}"),
            position,
        )),
    }
}

fn plan_interval(
    interval: &ast::Interval,
    position: Option<Position>,
) -> Result<Typed, QueryError> {
    let text = match interval.value.as_ref() {
        Expr::Value(v) => match &v.value {
            ast::Value::Number(n, _) => n.clone(),
            other => string_of(other, position)?,
        },
        _ => return Err(QueryError::unsupported("non-constant INTERVAL", position)),
    };
    let parsed = match (&interval.leading_field, &interval.last_field) {
        (None, None) => parse_interval(&text),
        (Some(field), None) => {
            let mut iv = Interval::default();
            let unit = field.to_string().to_lowercase();
            text.trim()
                .parse::<i64>()
                .ok()
                .and_then(|n| add_unit(&mut iv, n, &unit))
                .map(|()| iv)
        }
        _ => None,
    };
    parsed.map(interval_typed).ok_or_else(|| {
        QueryError::plan(
            format!("invalid input syntax for type interval: \"{text}\""),
            position,
        )
    })
}

fn interval_typed(interval: Interval) -> Typed {
    Typed {
        expr: ScalarExpr::Literal(Value::Null),
        ty: None,
        kind: ExprKind::Interval(interval),
    }
}

fn compare_op(op: &BinaryOperator) -> Option<CompareOp> {
    Some(match op {
        BinaryOperator::Eq => CompareOp::Eq,
        BinaryOperator::NotEq => CompareOp::NotEq,
        BinaryOperator::Lt => CompareOp::Lt,
        BinaryOperator::LtEq => CompareOp::LtEq,
        BinaryOperator::Gt => CompareOp::Gt,
        BinaryOperator::GtEq => CompareOp::GtEq,
        _ => return None,
    })
}

fn arith_op(op: &BinaryOperator) -> Option<ArithOp> {
    Some(match op {
        BinaryOperator::Plus => ArithOp::Add,
        BinaryOperator::Minus => ArithOp::Sub,
        BinaryOperator::Multiply => ArithOp::Mul,
        BinaryOperator::Divide => ArithOp::Div,
        BinaryOperator::Modulo => ArithOp::Mod,
        _ => return None,
    })
}

/// A comparison, after making its operands comparable.
pub fn compare(
    l: Typed,
    op: CompareOp,
    r: Typed,
    position: Option<Position>,
) -> Result<Typed, QueryError> {
    if matches!(l.kind, ExprKind::Interval(_)) || matches!(r.kind, ExprKind::Interval(_)) {
        return Err(QueryError::unsupported(
            "comparing interval values",
            position,
        ));
    }
    let (l, r) = unify(l, r, op.symbol(), position)?;
    if l.ty == Some(ColumnType::StringList) && op != CompareOp::Eq && op != CompareOp::NotEq {
        return Err(QueryError::unsupported(
            "ordering comparison of lists",
            position,
        ));
    }
    let expr = ScalarExpr::Compare(op, Box::new(l.expr), Box::new(r.expr));
    fold(Typed::plain(expr, Some(ColumnType::Bool)))
}

fn arithmetic(
    l: Typed,
    op: ArithOp,
    r: Typed,
    position: Option<Position>,
) -> Result<Typed, QueryError> {
    match (l.kind, r.kind) {
        (ExprKind::Interval(_), ExprKind::Interval(_)) => {
            return Err(QueryError::unsupported("interval arithmetic", position))
        }
        (_, ExprKind::Interval(iv)) => return shift_by_interval(l, op, iv, position),
        (ExprKind::Interval(iv), _) if op == ArithOp::Add => {
            return shift_by_interval(r, op, iv, position)
        }
        (ExprKind::Date, _)
            if matches!(r.ty, Some(ColumnType::Int64))
                && matches!(op, ArithOp::Add | ArithOp::Sub) =>
        {
            return date_plus_days(l, op, r, position);
        }
        _ => {}
    }
    let numeric_literal = |t: Typed, other: &Typed| match (t.kind, other.ty) {
        (ExprKind::StringLiteral, Some(ty @ (ColumnType::Int64 | ColumnType::Float64))) => {
            super::types::coerce_literal(t, ty)
        }
        _ => Ok(t),
    };
    let l = numeric_literal(l, &r)?;
    let r = numeric_literal(r, &l)?;
    expect_numeric(&l, "arithmetic", position)?;
    expect_numeric(&r, "arithmetic", position)?;
    let ty = match (l.ty, r.ty) {
        (Some(ColumnType::Float64), _) | (_, Some(ColumnType::Float64)) => {
            Some(ColumnType::Float64)
        }
        (None, None) => None,
        _ => Some(ColumnType::Int64),
    };
    if op == ArithOp::Mod && ty == Some(ColumnType::Float64) {
        return Err(QueryError::plan(
            "operator does not exist: float64 % float64",
            position,
        ));
    }
    Ok(Typed::plain(
        ScalarExpr::Arith(op, Box::new(l.expr), Box::new(r.expr)),
        ty,
    ))
}

fn shift_by_interval(
    ts: Typed,
    op: ArithOp,
    interval: Interval,
    position: Option<Position>,
) -> Result<Typed, QueryError> {
    if !matches!(ts.ty, None | Some(ColumnType::Timestamp)) && ts.kind != ExprKind::StringLiteral {
        return Err(QueryError::plan(
            format!(
                "operator does not exist: {} {op:?} interval",
                ts.ty.map_or("unknown", ColumnType::name)
            ),
            position,
        ));
    }
    let ts = super::types::coerce_literal(ts, ColumnType::Timestamp)?;
    let interval = match op {
        ArithOp::Add => interval,
        ArithOp::Sub => interval
            .negated()
            .ok_or_else(|| QueryError::exec("interval out of range"))?,
        _ => {
            return Err(QueryError::plan(
                "only + and - apply to intervals",
                position,
            ))
        }
    };
    fold(Typed::plain(
        ScalarExpr::AddInterval(Box::new(ts.expr), interval),
        Some(ColumnType::Timestamp),
    ))
}

fn date_plus_days(
    date: Typed,
    op: ArithOp,
    days: Typed,
    position: Option<Position>,
) -> Result<Typed, QueryError> {
    let Some(Value::Int64(n)) = days.constant().cloned() else {
        return Err(QueryError::unsupported(
            "date ± non-constant integer",
            position,
        ));
    };
    let n = if op == ArithOp::Sub {
        n.checked_neg()
    } else {
        Some(n)
    };
    let interval = Interval {
        days: n.ok_or_else(|| QueryError::exec("date out of range"))?,
        ..Interval::default()
    };
    let shifted = fold(Typed::plain(
        ScalarExpr::AddInterval(Box::new(date.expr), interval),
        Some(ColumnType::Timestamp),
    ))?;
    Ok(Typed {
        kind: ExprKind::Date,
        ..shifted
    })
}

fn coalesce(args: Vec<Typed>, position: Option<Position>) -> Result<Typed, QueryError> {
    if args.is_empty() {
        return Err(QueryError::plan(
            "coalesce() needs at least one argument",
            position,
        ));
    }
    let ty = args
        .iter()
        .find(|a| a.kind != ExprKind::StringLiteral)
        .and_then(|a| a.ty)
        .or_else(|| args.iter().find_map(|a| a.ty));
    let mut exprs = Vec::with_capacity(args.len());
    for arg in args {
        let arg = match ty {
            Some(t) if arg.kind == ExprKind::StringLiteral => super::types::coerce_literal(arg, t)?,
            _ => arg,
        };
        if let (Some(a), Some(t)) = (arg.ty, ty) {
            if !super::types::comparable(a, t) {
                return Err(QueryError::plan(
                    format!("COALESCE types {t} and {a} cannot be matched"),
                    position,
                ));
            }
        }
        exprs.push(arg.expr);
    }
    Ok(Typed::plain(
        ScalarExpr::Func(ScalarFunc::Coalesce, exprs),
        ty,
    ))
}

fn list_contains(
    list: Typed,
    item: Typed,
    position: Option<Position>,
) -> Result<Typed, QueryError> {
    if !matches!(list.ty, None | Some(ColumnType::StringList)) {
        return Err(QueryError::plan(
            format!(
                "list membership needs a string_list, got {}",
                list.ty.map_or("unknown", ColumnType::name)
            ),
            position,
        ));
    }
    if !matches!(item.ty, None | Some(ColumnType::String)) {
        return Err(QueryError::plan(
            format!(
                "a string_list holds strings, not {}",
                item.ty.map_or("unknown", ColumnType::name)
            ),
            position,
        ));
    }
    Ok(Typed::plain(
        ScalarExpr::ListContains(Box::new(list.expr), Box::new(item.expr)),
        Some(ColumnType::Bool),
    ))
}

fn escape_char(escape: &Typed, position: Option<Position>) -> Result<Option<char>, QueryError> {
    match escape.constant() {
        Some(Value::String(s)) => {
            let mut chars = s.chars();
            match (chars.next(), chars.next()) {
                (None, _) => Ok(None),
                (Some(c), None) => Ok(Some(c)),
                _ => Err(QueryError::exec(
                    "invalid escape string: must be empty or one character",
                )),
            }
        }
        _ => Err(QueryError::unsupported("non-constant ESCAPE", position)),
    }
}

fn stringish(t: Typed) -> Typed {
    match t.ty {
        None | Some(ColumnType::String) => t,
        Some(_) => Typed::plain(
            ScalarExpr::Cast {
                expr: Box::new(t.expr),
                to: ColumnType::String,
                to_date: false,
            },
            Some(ColumnType::String),
        ),
    }
}

fn string_arg(arg: Typed, name: &str, position: Option<Position>) -> Result<Typed, QueryError> {
    if matches!(arg.ty, None | Some(ColumnType::String)) {
        Ok(arg)
    } else {
        Err(type_error(name, &arg, position))
    }
}

fn type_error(name: &str, arg: &Typed, position: Option<Position>) -> QueryError {
    QueryError::plan(
        format!(
            "function {name}({}) does not exist",
            arg.ty.map_or("unknown", ColumnType::name)
        ),
        position,
    )
}

/// Fails unless the expression is boolean (or an untyped NULL).
pub fn expect_bool(t: &Typed, context: &str, position: Option<Position>) -> Result<(), QueryError> {
    match t.ty {
        None | Some(ColumnType::Bool) if !matches!(t.kind, ExprKind::Interval(_)) => Ok(()),
        other => Err(QueryError::plan(
            format!(
                "argument of {context} must be type bool, not type {}",
                other.map_or("interval", ColumnType::name)
            ),
            position,
        )),
    }
}

fn expect_numeric(t: &Typed, context: &str, position: Option<Position>) -> Result<(), QueryError> {
    match t.ty {
        None | Some(ColumnType::Int64 | ColumnType::Float64)
            if !matches!(t.kind, ExprKind::Interval(_)) =>
        {
            Ok(())
        }
        other => Err(QueryError::plan(
            format!(
                "operator does not exist: {context} on {}",
                other.map_or("interval", ColumnType::name)
            ),
            position,
        )),
    }
}

fn truncate(text: &str) -> String {
    let mut out: String = text.chars().take(60).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out
}
