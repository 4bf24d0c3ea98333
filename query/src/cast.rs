//! Value conversions performed by `CAST` and by coercing quoted literals to a column's type.

use profiledb_engine::value::{ColumnType, Value};

use crate::error::QueryError;
use crate::format::display_value;
use crate::temporal::{date_trunc, parse_timestamp};

/// Converts `value` to `to` (to midnight when `to_date`), following PostgreSQL's cast rules.
///
/// # Errors
/// When the text is not valid input for the type or the cast does not exist.
pub fn cast_value(value: &Value, to: ColumnType, to_date: bool) -> Result<Value, QueryError> {
    let out = match (value, to) {
        (Value::Null, _) => return Ok(Value::Null),
        (Value::String(s), ColumnType::String) => Value::String(s.clone()),
        (v, ColumnType::String) => Value::String(display_value(v)),
        (Value::Int64(i), ColumnType::Int64) => Value::Int64(*i),
        (Value::Float64(f), ColumnType::Int64) => Value::Int64(float_to_int(*f)?),
        (Value::Bool(b), ColumnType::Int64) => Value::Int64(i64::from(*b)),
        (Value::String(s), ColumnType::Int64) => {
            Value::Int64(s.trim().parse().map_err(|_| invalid_input("bigint", s))?)
        }
        (Value::Float64(f), ColumnType::Float64) => Value::Float64(*f),
        #[expect(
            clippy::cast_precision_loss,
            reason = "PostgreSQL's int8 → float8 cast rounds too"
        )]
        (Value::Int64(i), ColumnType::Float64) => Value::Float64(*i as f64),
        (Value::String(s), ColumnType::Float64) => Value::Float64(parse_float(s)?),
        (Value::Timestamp(t), ColumnType::Timestamp) => Value::Timestamp(*t),
        (Value::String(s), ColumnType::Timestamp) => {
            Value::Timestamp(parse_timestamp(s).ok_or_else(|| invalid_input("timestamp", s))?)
        }
        (Value::Bool(b), ColumnType::Bool) => Value::Bool(*b),
        (Value::Int64(i), ColumnType::Bool) => Value::Bool(*i != 0),
        (Value::String(s), ColumnType::Bool) => Value::Bool(parse_bool(s)?),
        (Value::StringList(l), ColumnType::StringList) => Value::StringList(l.clone()),
        (v, to) => {
            let from = v.column_type().map_or("unknown", ColumnType::name);
            return Err(QueryError::plan(
                format!("cannot cast type {from} to {to}"),
                None,
            ));
        }
    };
    match (out, to_date) {
        (Value::Timestamp(t), true) => date_trunc("day", t)
            .map(Value::Timestamp)
            .ok_or_else(|| QueryError::exec("date out of range")),
        (out, _) => Ok(out),
    }
}

/// `value` as a value of type `ty` when that loses nothing (int ↔ float); `None` otherwise.
#[must_use]
pub fn coerce_exact(ty: ColumnType, value: Value) -> Option<Value> {
    match (ty, value) {
        (ColumnType::Float64, Value::Int64(i)) =>
        {
            #[expect(
                clippy::cast_precision_loss,
                reason = "PostgreSQL compares float8 with int8 as float8"
            )]
            Some(Value::Float64(i as f64))
        }
        (ColumnType::Int64, Value::Float64(f)) => {
            if f.fract() != 0.0 || f.abs() >= 9.2e18 {
                return None;
            }
            #[expect(clippy::cast_possible_truncation, reason = "integral and in range")]
            Some(Value::Int64(f as i64))
        }
        (ty, v) if v.column_type() == Some(ty) => Some(v),
        _ => None,
    }
}

fn invalid_input(ty: &str, text: &str) -> QueryError {
    QueryError::exec(format!("invalid input syntax for type {ty}: \"{text}\""))
}

/// Float → bigint rounds half to even (like PostgreSQL's `rint`) and range-checks.
fn float_to_int(f: f64) -> Result<i64, QueryError> {
    const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;
    let r = f.round_ties_even();
    if r.is_finite() && (-TWO_POW_63..TWO_POW_63).contains(&r) {
        #[expect(
            clippy::cast_possible_truncation,
            reason = "integral and range-checked"
        )]
        Ok(r as i64)
    } else {
        Err(QueryError::exec("bigint out of range"))
    }
}

fn parse_float(s: &str) -> Result<f64, QueryError> {
    let t = s.trim();
    match t.to_ascii_lowercase().as_str() {
        "nan" => Ok(f64::NAN),
        "infinity" | "inf" | "+infinity" => Ok(f64::INFINITY),
        "-infinity" | "-inf" => Ok(f64::NEG_INFINITY),
        lower
            if lower
                .chars()
                .all(|c| c.is_ascii_digit() || "+-.e".contains(c))
                && !lower.is_empty() =>
        {
            t.parse().map_err(|_| invalid_input("double precision", s))
        }
        _ => Err(invalid_input("double precision", s)),
    }
}

fn parse_bool(s: &str) -> Result<bool, QueryError> {
    match s.trim().to_ascii_lowercase().as_str() {
        "t" | "true" | "y" | "yes" | "on" | "1" => Ok(true),
        "f" | "false" | "n" | "no" | "off" | "0" => Ok(false),
        _ => Err(invalid_input("boolean", s)),
    }
}
