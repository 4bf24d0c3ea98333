//! Leaf predicates: the only conditions storage is asked to evaluate, and their exact meaning.
//!
//! A storage implementation must return the rows for which [`LeafPredicate::matches`] is true on
//! the row's (non-NULL) value; this module is the reference for that meaning.

use std::cmp::Ordering;

use profiledb_engine::value::Value;

use crate::like::like_match;

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    /// `=`
    Eq,
    /// `<>`
    NotEq,
    /// `<`
    Lt,
    /// `<=`
    LtEq,
    /// `>`
    Gt,
    /// `>=`
    GtEq,
}

impl CompareOp {
    /// The SQL spelling.
    #[must_use]
    pub fn symbol(self) -> &'static str {
        match self {
            CompareOp::Eq => "=",
            CompareOp::NotEq => "<>",
            CompareOp::Lt => "<",
            CompareOp::LtEq => "<=",
            CompareOp::Gt => ">",
            CompareOp::GtEq => ">=",
        }
    }

    /// The operator with its operands swapped (`a < b` ⇔ `b > a`).
    #[must_use]
    pub fn flipped(self) -> CompareOp {
        match self {
            CompareOp::Lt => CompareOp::Gt,
            CompareOp::LtEq => CompareOp::GtEq,
            CompareOp::Gt => CompareOp::Lt,
            CompareOp::GtEq => CompareOp::LtEq,
            other => other,
        }
    }

    /// Whether an ordering between the left and right operand satisfies this operator.
    #[must_use]
    pub fn holds(self, ordering: Ordering) -> bool {
        match self {
            CompareOp::Eq => ordering == Ordering::Equal,
            CompareOp::NotEq => ordering != Ordering::Equal,
            CompareOp::Lt => ordering == Ordering::Less,
            CompareOp::LtEq => ordering != Ordering::Greater,
            CompareOp::Gt => ordering == Ordering::Greater,
            CompareOp::GtEq => ordering != Ordering::Less,
        }
    }
}

/// A condition on one column's non-NULL value; operands already have the column's type.
#[derive(Debug, Clone, PartialEq)]
pub enum LeafPredicate {
    /// `value <op> operand`.
    Compare(CompareOp, Value),
    /// `low <= value <= high` (inclusive, like SQL `BETWEEN`).
    Between(Value, Value),
    /// `value` equals one of the (non-NULL) operands.
    InList(Vec<Value>),
    /// SQL `LIKE` / `ILIKE`; `\` escapes `%`, `_` and itself in `pattern`.
    Like {
        /// The pattern, with `\` as escape character.
        pattern: String,
        /// `ILIKE`: compare case-insensitively (Unicode lower case).
        case_insensitive: bool,
    },
    /// A `string_list` value contains this string.
    ListContains(Value),
}

impl LeafPredicate {
    /// Whether a non-NULL `value` satisfies this predicate (NULL never does).
    #[must_use]
    pub fn matches(&self, value: &Value) -> bool {
        if value.is_null() {
            return false;
        }
        match self {
            LeafPredicate::Compare(op, operand) => {
                compare_values(value, operand).is_some_and(|o| op.holds(o))
            }
            LeafPredicate::Between(low, high) => {
                compare_values(value, low).is_some_and(|o| o != Ordering::Less)
                    && compare_values(value, high).is_some_and(|o| o != Ordering::Greater)
            }
            LeafPredicate::InList(list) => list
                .iter()
                .any(|item| compare_values(value, item) == Some(Ordering::Equal)),
            LeafPredicate::Like {
                pattern,
                case_insensitive,
            } => match value {
                Value::String(s) => like_match(pattern, s, *case_insensitive),
                _ => false,
            },
            LeafPredicate::ListContains(needle) => match (value, needle) {
                (Value::StringList(items), Value::String(n)) => items.iter().any(|i| i == n),
                _ => false,
            },
        }
    }

    /// A short SQL-like rendering for EXPLAIN, with `column` as the subject.
    #[must_use]
    pub fn describe(&self, column: &str) -> String {
        use crate::format::sql_literal;
        match self {
            LeafPredicate::Compare(op, v) => format!("{column} {} {}", op.symbol(), sql_literal(v)),
            LeafPredicate::Between(l, h) => {
                format!("{column} BETWEEN {} AND {}", sql_literal(l), sql_literal(h))
            }
            LeafPredicate::InList(items) => {
                let items: Vec<String> = items.iter().map(sql_literal).collect();
                format!("{column} IN ({})", items.join(", "))
            }
            LeafPredicate::Like {
                pattern,
                case_insensitive,
            } => {
                let op = if *case_insensitive { "ILIKE" } else { "LIKE" };
                format!(
                    "{column} {op} {}",
                    sql_literal(&Value::String(pattern.clone()))
                )
            }
            LeafPredicate::ListContains(v) => {
                format!("list_contains({column}, {})", sql_literal(v))
            }
        }
    }
}

/// SQL ordering of two non-NULL values of comparable types; `None` when either is NULL or the
/// types are not comparable.
///
/// Integers and floats compare numerically and exactly; floats follow PostgreSQL in treating NaN
/// as equal to itself and greater than every other number; strings compare bytewise (C collation).
#[must_use]
pub fn compare_values(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        (Value::Int64(x), Value::Int64(y)) => Some(x.cmp(y)),
        (Value::Timestamp(x), Value::Timestamp(y)) => Some(x.cmp(y)),
        (Value::Float64(x), Value::Float64(y)) => Some(compare_floats(*x, *y)),
        (Value::Int64(x), Value::Float64(y)) => Some(compare_int_float(*x, *y)),
        (Value::Float64(x), Value::Int64(y)) => Some(compare_int_float(*y, *x).reverse()),
        (Value::String(x), Value::String(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
        (Value::StringList(x), Value::StringList(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

/// Float ordering with PostgreSQL's NaN rule (NaN = NaN, NaN > everything else; -0 = +0).
#[must_use]
pub fn compare_floats(x: f64, y: f64) -> Ordering {
    match (x.is_nan(), y.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
    }
}

/// Exact comparison of an integer with a float (no rounding of large integers).
fn compare_int_float(i: i64, f: f64) -> Ordering {
    if f.is_nan() {
        return Ordering::Less;
    }
    // 2^63 as f64 is exact; every i64 is below it and at or above its negation.
    const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;
    if f >= TWO_POW_63 {
        return Ordering::Less;
    }
    if f < -TWO_POW_63 {
        return Ordering::Greater;
    }
    let floor = f.floor();
    #[expect(clippy::cast_possible_truncation, reason = "range checked above")]
    let floor_int = floor as i64;
    match i.cmp(&floor_int) {
        Ordering::Equal if f > floor => Ordering::Less,
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_float_comparison_is_exact() {
        assert_eq!(compare_int_float(3, 2.5), Ordering::Greater);
        assert_eq!(compare_int_float(2, 2.5), Ordering::Less);
        assert_eq!(compare_int_float(-3, -2.5), Ordering::Less);
        assert_eq!(compare_int_float(i64::MAX, 9.3e18), Ordering::Less);
        assert_eq!(compare_int_float(5, f64::NAN), Ordering::Less);
        assert_eq!(compare_int_float(5, 5.0), Ordering::Equal);
    }

    #[test]
    fn leaf_matches_never_null() {
        let p = LeafPredicate::Compare(CompareOp::NotEq, Value::Int64(1));
        assert!(!p.matches(&Value::Null));
        assert!(p.matches(&Value::Int64(2)));
    }
}
