//! Row-at-a-time evaluation of scalar expressions with SQL NULL semantics.

use profiledb_engine::value::Value;

use crate::cast::cast_value;
use crate::error::QueryError;
use crate::like::like_match;
use crate::plan::{ArithOp, ScalarExpr, ScalarFunc};
use crate::predicate::compare_values;
use crate::temporal::{add_interval, date_trunc};

/// Evaluates `expr` on `row` (booleans are `Bool` or `Null` for UNKNOWN).
///
/// # Errors
/// Division by zero, overflow, invalid casts.
pub fn eval(expr: &ScalarExpr, row: &[Value]) -> Result<Value, QueryError> {
    match expr {
        ScalarExpr::Column(slot) => row
            .get(*slot)
            .cloned()
            .ok_or_else(|| QueryError::Internal(format!("slot {slot} missing from row"))),
        ScalarExpr::Literal(v) => Ok(v.clone()),
        ScalarExpr::Compare(op, l, r) => {
            let (l, r) = (eval(l, row)?, eval(r, row)?);
            if l.is_null() || r.is_null() {
                return Ok(Value::Null);
            }
            let ordering = compare_values(&l, &r)
                .ok_or_else(|| QueryError::Internal(format!("cannot compare {l:?} with {r:?}")))?;
            Ok(Value::Bool(op.holds(ordering)))
        }
        ScalarExpr::Arith(op, l, r) => arith(*op, &eval(l, row)?, &eval(r, row)?),
        ScalarExpr::Neg(e) => match eval(e, row)? {
            Value::Int64(i) => i.checked_neg().map(Value::Int64).ok_or_else(out_of_range),
            Value::Float64(f) => Ok(Value::Float64(-f)),
            other => null_or_type_error(other, "-"),
        },
        ScalarExpr::And(l, r) => Ok(and(truth(&eval(l, row)?), || Ok(truth(&eval(r, row)?)))?),
        ScalarExpr::Or(l, r) => Ok(or(truth(&eval(l, row)?), || Ok(truth(&eval(r, row)?)))?),
        ScalarExpr::Not(e) => Ok(match truth(&eval(e, row)?) {
            Some(b) => Value::Bool(!b),
            None => Value::Null,
        }),
        ScalarExpr::IsNull(e, negated) => Ok(Value::Bool(eval(e, row)?.is_null() != *negated)),
        ScalarExpr::InList(e, list, negated) => in_list(e, list, *negated, row),
        ScalarExpr::Like {
            expr,
            pattern,
            case_insensitive,
            negated,
        } => match (eval(expr, row)?, eval(pattern, row)?) {
            (Value::String(s), Value::String(p)) => Ok(Value::Bool(
                like_match(&p, &s, *case_insensitive) != *negated,
            )),
            _ => Ok(Value::Null),
        },
        ScalarExpr::ListContains(list, item) => match (eval(list, row)?, eval(item, row)?) {
            (Value::StringList(items), Value::String(needle)) => {
                Ok(Value::Bool(items.contains(&needle)))
            }
            _ => Ok(Value::Null),
        },
        ScalarExpr::Cast { expr, to, to_date } => cast_value(&eval(expr, row)?, *to, *to_date),
        ScalarExpr::AddInterval(e, interval) => match eval(e, row)? {
            Value::Timestamp(t) => add_interval(t, *interval)
                .map(Value::Timestamp)
                .ok_or_else(|| QueryError::exec("timestamp out of range")),
            other => null_or_type_error(other, "+ interval"),
        },
        ScalarExpr::Func(func, args) => call(func, args, row),
    }
}

/// Calls `f` with every slot the expression reads.
pub fn visit_slots(expr: &ScalarExpr, f: &mut impl FnMut(usize)) {
    match expr {
        ScalarExpr::Column(slot) => f(*slot),
        ScalarExpr::Literal(_) => {}
        ScalarExpr::Compare(_, l, r)
        | ScalarExpr::Arith(_, l, r)
        | ScalarExpr::And(l, r)
        | ScalarExpr::Or(l, r)
        | ScalarExpr::ListContains(l, r) => {
            visit_slots(l, f);
            visit_slots(r, f);
        }
        ScalarExpr::Like { expr, pattern, .. } => {
            visit_slots(expr, f);
            visit_slots(pattern, f);
        }
        ScalarExpr::Neg(e)
        | ScalarExpr::Not(e)
        | ScalarExpr::IsNull(e, _)
        | ScalarExpr::Cast { expr: e, .. }
        | ScalarExpr::AddInterval(e, _) => visit_slots(e, f),
        ScalarExpr::InList(e, list, _) => {
            visit_slots(e, f);
            list.iter().for_each(|i| visit_slots(i, f));
        }
        ScalarExpr::Func(_, args) => args.iter().for_each(|a| visit_slots(a, f)),
    }
}

/// SQL truth of a boolean value (`None` = UNKNOWN).
#[must_use]
pub fn truth(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        _ => None,
    }
}

fn to_value(t: Option<bool>) -> Value {
    t.map_or(Value::Null, Value::Bool)
}

fn and(
    l: Option<bool>,
    r: impl FnOnce() -> Result<Option<bool>, QueryError>,
) -> Result<Value, QueryError> {
    if l == Some(false) {
        return Ok(Value::Bool(false));
    }
    let r = r()?;
    Ok(to_value(match (l, r) {
        (_, Some(false)) => Some(false),
        (Some(true), Some(true)) => Some(true),
        _ => None,
    }))
}

fn or(
    l: Option<bool>,
    r: impl FnOnce() -> Result<Option<bool>, QueryError>,
) -> Result<Value, QueryError> {
    if l == Some(true) {
        return Ok(Value::Bool(true));
    }
    let r = r()?;
    Ok(to_value(match (l, r) {
        (_, Some(true)) => Some(true),
        (Some(false), Some(false)) => Some(false),
        _ => None,
    }))
}

fn in_list(
    e: &ScalarExpr,
    list: &[ScalarExpr],
    negated: bool,
    row: &[Value],
) -> Result<Value, QueryError> {
    let subject = eval(e, row)?;
    if list.is_empty() {
        return Ok(Value::Bool(negated));
    }
    if subject.is_null() {
        return Ok(Value::Null);
    }
    let mut saw_null = false;
    for item in list {
        let item = eval(item, row)?;
        if item.is_null() {
            saw_null = true;
        } else if compare_values(&subject, &item) == Some(std::cmp::Ordering::Equal) {
            return Ok(Value::Bool(!negated));
        }
    }
    Ok(if saw_null {
        Value::Null
    } else {
        Value::Bool(negated)
    })
}

fn out_of_range() -> QueryError {
    QueryError::exec("bigint out of range")
}

fn null_or_type_error(v: Value, op: &str) -> Result<Value, QueryError> {
    if v.is_null() {
        Ok(Value::Null)
    } else {
        Err(QueryError::Internal(format!(
            "operator {op} applied to {v:?}"
        )))
    }
}

fn arith(op: ArithOp, l: &Value, r: &Value) -> Result<Value, QueryError> {
    match (l, r) {
        (Value::Null, _) | (_, Value::Null) => Ok(Value::Null),
        (Value::Int64(a), Value::Int64(b)) => int_arith(op, *a, *b).map(Value::Int64),
        (a, b) => {
            let (Some(x), Some(y)) = (as_f64(a), as_f64(b)) else {
                return Err(QueryError::Internal(format!(
                    "arithmetic on {a:?} and {b:?}"
                )));
            };
            float_arith(op, x, y).map(Value::Float64)
        }
    }
}

fn int_arith(op: ArithOp, a: i64, b: i64) -> Result<i64, QueryError> {
    if matches!(op, ArithOp::Div | ArithOp::Mod) && b == 0 {
        return Err(QueryError::exec("division by zero"));
    }
    let result = match op {
        ArithOp::Add => a.checked_add(b),
        ArithOp::Sub => a.checked_sub(b),
        ArithOp::Mul => a.checked_mul(b),
        ArithOp::Div => a.checked_div(b),
        // i64::MIN % -1 is mathematically 0; checked_rem reports it as overflow.
        ArithOp::Mod => Some(a.checked_rem(b).unwrap_or(0)),
    };
    result.ok_or_else(out_of_range)
}

fn float_arith(op: ArithOp, a: f64, b: f64) -> Result<f64, QueryError> {
    let result = match op {
        ArithOp::Add => a + b,
        ArithOp::Sub => a - b,
        ArithOp::Mul => a * b,
        ArithOp::Div if b == 0.0 => return Err(QueryError::exec("division by zero")),
        ArithOp::Div => a / b,
        ArithOp::Mod => {
            return Err(QueryError::exec(
                "operator does not exist: float64 % float64",
            ))
        }
    };
    if result.is_infinite() && a.is_finite() && b.is_finite() {
        return Err(QueryError::exec("value out of range: overflow"));
    }
    Ok(result)
}

fn as_f64(v: &Value) -> Option<f64> {
    match v {
        #[expect(
            clippy::cast_precision_loss,
            reason = "mixed int/float arithmetic is float arithmetic"
        )]
        Value::Int64(i) => Some(*i as f64),
        Value::Float64(f) => Some(*f),
        _ => None,
    }
}

fn call(func: &ScalarFunc, args: &[ScalarExpr], row: &[Value]) -> Result<Value, QueryError> {
    if *func == ScalarFunc::Coalesce {
        for arg in args {
            let v = eval(arg, row)?;
            if !v.is_null() {
                return Ok(v);
            }
        }
        return Ok(Value::Null);
    }
    let values = args
        .iter()
        .map(|a| eval(a, row))
        .collect::<Result<Vec<_>, _>>()?;
    if values.iter().any(Value::is_null) {
        return Ok(Value::Null);
    }
    match (func, values.as_slice()) {
        (ScalarFunc::Lower, [Value::String(s)]) => Ok(Value::String(s.to_lowercase())),
        (ScalarFunc::Upper, [Value::String(s)]) => Ok(Value::String(s.to_uppercase())),
        (ScalarFunc::Length, [Value::String(s)]) => Ok(Value::Int64(
            i64::try_from(s.chars().count()).unwrap_or(i64::MAX),
        )),
        (ScalarFunc::Length, [Value::StringList(l)]) => {
            Ok(Value::Int64(i64::try_from(l.len()).unwrap_or(i64::MAX)))
        }
        (ScalarFunc::Abs, [Value::Int64(i)]) => {
            i.checked_abs().map(Value::Int64).ok_or_else(out_of_range)
        }
        (ScalarFunc::Abs, [Value::Float64(f)]) => Ok(Value::Float64(f.abs())),
        (ScalarFunc::DateTrunc(unit), [Value::Timestamp(t)]) => date_trunc(unit, *t)
            .map(Value::Timestamp)
            .ok_or_else(|| QueryError::exec("timestamp out of range")),
        (ScalarFunc::Concat, [Value::String(a), Value::String(b)]) => {
            Ok(Value::String(format!("{a}{b}")))
        }
        (func, values) => Err(QueryError::Internal(format!(
            "{func:?} applied to {values:?}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::predicate::CompareOp;

    fn lit(v: Value) -> Box<ScalarExpr> {
        Box::new(ScalarExpr::Literal(v))
    }

    #[test]
    fn three_valued_logic() {
        let unknown = ScalarExpr::Compare(CompareOp::Eq, lit(Value::Null), lit(Value::Int64(1)));
        let f = ScalarExpr::Literal(Value::Bool(false));
        let and = ScalarExpr::And(Box::new(unknown.clone()), Box::new(f.clone()));
        assert_eq!(eval(&and, &[]).unwrap(), Value::Bool(false));
        let or = ScalarExpr::Or(Box::new(unknown.clone()), Box::new(f));
        assert_eq!(eval(&or, &[]).unwrap(), Value::Null);
        let not = ScalarExpr::Not(Box::new(unknown));
        assert_eq!(eval(&not, &[]).unwrap(), Value::Null);
    }

    #[test]
    fn arithmetic_errors_are_typed() {
        let div = ScalarExpr::Arith(ArithOp::Div, lit(Value::Int64(1)), lit(Value::Int64(0)));
        assert!(matches!(eval(&div, &[]), Err(QueryError::Execution(_))));
        let over = ScalarExpr::Arith(
            ArithOp::Mul,
            lit(Value::Int64(i64::MAX)),
            lit(Value::Int64(2)),
        );
        assert!(matches!(eval(&over, &[]), Err(QueryError::Execution(_))));
        let div = ScalarExpr::Arith(ArithOp::Div, lit(Value::Int64(-7)), lit(Value::Int64(2)));
        assert_eq!(eval(&div, &[]).unwrap(), Value::Int64(-3));
    }
}
