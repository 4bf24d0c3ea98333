//! A predicate checked against one column type, ready to test values or dictionary entries.

use super::{CompareOp, Predicate};
use crate::error::{Error, Result};
use crate::value::{ColumnType, Value};

/// Integer (and timestamp) tests.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum IntTest {
    Compare(CompareOp, i64),
    Between(i64, i64),
    In(Vec<i64>),
}

/// Float tests.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FloatTest {
    Compare(CompareOp, f64),
    Between(f64, f64),
    In(Vec<f64>),
}

/// String tests, evaluated once per dictionary entry.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TextTest {
    Compare(CompareOp, String),
    Between(String, String),
    In(Vec<String>),
    Like {
        pattern: String,
        case_insensitive: bool,
    },
}

/// A predicate specialised to the column's type.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Matcher {
    Int(IntTest),
    Float(FloatTest),
    Bool {
        accept_false: bool,
        accept_true: bool,
    },
    Text(TextTest),
    ListContains(String),
}

fn unsupported(column: &str, column_type: ColumnType, reason: &'static str) -> Error {
    Error::UnsupportedPredicate {
        column: column.to_owned(),
        column_type,
        reason,
    }
}

fn as_int(value: &Value) -> Option<i64> {
    match value {
        Value::Int64(v) | Value::Timestamp(v) => Some(*v),
        _ => None,
    }
}

fn as_float(value: &Value) -> Option<f64> {
    match value {
        Value::Float64(v) => Some(*v),
        #[expect(
            clippy::cast_precision_loss,
            reason = "the query layer compares ints with floats as floats"
        )]
        Value::Int64(v) => Some(*v as f64),
        _ => None,
    }
}

fn as_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

fn as_bool(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        _ => None,
    }
}

/// Converts every non-NULL item of an IN list; NULL items can never match and are dropped.
fn list<T>(values: &[Value], convert: impl Fn(&Value) -> Option<T>) -> Option<Vec<T>> {
    values
        .iter()
        .filter(|v| !v.is_null())
        .map(convert)
        .collect()
}

impl Matcher {
    /// Specialises `predicate` for a column of `column_type`.
    pub(crate) fn new(
        column: &str,
        column_type: ColumnType,
        predicate: &Predicate,
    ) -> Result<Matcher> {
        let wrong = || {
            unsupported(
                column,
                column_type,
                "the value's type does not match the column",
            )
        };
        let matcher = match column_type {
            ColumnType::Int64 | ColumnType::Timestamp => Matcher::Int(match predicate {
                Predicate::Compare(op, v) => IntTest::Compare(*op, as_int(v).ok_or_else(wrong)?),
                Predicate::Between(lo, hi) => {
                    IntTest::Between(as_int(lo).ok_or_else(wrong)?, as_int(hi).ok_or_else(wrong)?)
                }
                Predicate::InList(values) => IntTest::In(list(values, as_int).ok_or_else(wrong)?),
                _ => {
                    return Err(unsupported(
                        column,
                        column_type,
                        "only comparisons, BETWEEN and IN apply to numbers",
                    ))
                }
            }),
            ColumnType::Float64 => Matcher::Float(match predicate {
                Predicate::Compare(op, v) => {
                    FloatTest::Compare(*op, as_float(v).ok_or_else(wrong)?)
                }
                Predicate::Between(lo, hi) => FloatTest::Between(
                    as_float(lo).ok_or_else(wrong)?,
                    as_float(hi).ok_or_else(wrong)?,
                ),
                Predicate::InList(values) => {
                    FloatTest::In(list(values, as_float).ok_or_else(wrong)?)
                }
                _ => {
                    return Err(unsupported(
                        column,
                        column_type,
                        "only comparisons, BETWEEN and IN apply to numbers",
                    ))
                }
            }),
            ColumnType::Bool => bool_matcher(predicate)
                .ok_or_else(|| unsupported(column, column_type, "booleans support =, <> and IN"))?,
            ColumnType::String => Matcher::Text(match predicate {
                Predicate::Compare(op, v) => TextTest::Compare(*op, as_text(v).ok_or_else(wrong)?),
                Predicate::Between(lo, hi) => TextTest::Between(
                    as_text(lo).ok_or_else(wrong)?,
                    as_text(hi).ok_or_else(wrong)?,
                ),
                Predicate::InList(values) => {
                    let mut items = list(values, as_text).ok_or_else(wrong)?;
                    items.sort();
                    items.dedup();
                    TextTest::In(items)
                }
                Predicate::Like {
                    pattern,
                    case_insensitive,
                } => TextTest::Like {
                    pattern: if *case_insensitive {
                        pattern.to_lowercase()
                    } else {
                        pattern.clone()
                    },
                    case_insensitive: *case_insensitive,
                },
                Predicate::ListContains(_) => {
                    return Err(unsupported(
                        column,
                        column_type,
                        "list membership needs a list column",
                    ))
                }
            }),
            ColumnType::StringList => match predicate {
                Predicate::ListContains(v) => Matcher::ListContains(as_text(v).ok_or_else(wrong)?),
                _ => {
                    return Err(unsupported(
                        column,
                        column_type,
                        "list columns support only membership tests",
                    ))
                }
            },
        };
        Ok(matcher)
    }

    /// Whether a stored value satisfies the predicate (NULL never does).
    pub(crate) fn matches_value(&self, value: &Value) -> bool {
        match (self, value) {
            (Matcher::Int(test), Value::Int64(v) | Value::Timestamp(v)) => test.accepts(*v),
            (Matcher::Float(test), Value::Float64(v)) => test.accepts(*v),
            (
                Matcher::Bool {
                    accept_false,
                    accept_true,
                },
                Value::Bool(b),
            ) => {
                if *b {
                    *accept_true
                } else {
                    *accept_false
                }
            }
            (Matcher::Text(test), Value::String(s)) => test.accepts(s),
            (Matcher::ListContains(wanted), Value::StringList(items)) => {
                items.iter().any(|i| i == wanted)
            }
            _ => false,
        }
    }
}

fn bool_matcher(predicate: &Predicate) -> Option<Matcher> {
    let (accept_false, accept_true) = match predicate {
        Predicate::Compare(CompareOp::Eq, v) => {
            let b = as_bool(v)?;
            (!b, b)
        }
        Predicate::Compare(CompareOp::NotEq, v) => {
            let b = as_bool(v)?;
            (b, !b)
        }
        Predicate::InList(values) => {
            let items = list(values, as_bool)?;
            (items.contains(&false), items.contains(&true))
        }
        _ => return None,
    };
    Some(Matcher::Bool {
        accept_false,
        accept_true,
    })
}

impl IntTest {
    pub(crate) fn accepts(&self, v: i64) -> bool {
        match self {
            IntTest::Compare(op, rhs) => op.holds(v, *rhs),
            IntTest::Between(lo, hi) => *lo <= v && v <= *hi,
            IntTest::In(items) => items.contains(&v),
        }
    }

    /// Whether any value in `[min, max]` could satisfy the test.
    pub(crate) fn may_match_range(&self, min: i64, max: i64) -> bool {
        match self {
            IntTest::Compare(op, rhs) => match op {
                CompareOp::Eq => min <= *rhs && *rhs <= max,
                CompareOp::NotEq => !(min == max && min == *rhs),
                CompareOp::Less => min < *rhs,
                CompareOp::LessOrEqual => min <= *rhs,
                CompareOp::Greater => max > *rhs,
                CompareOp::GreaterOrEqual => max >= *rhs,
            },
            IntTest::Between(lo, hi) => max >= *lo && min <= *hi && lo <= hi,
            IntTest::In(items) => items.iter().any(|v| min <= *v && *v <= max),
        }
    }

    /// Whether every value in `[min, max]` satisfies the test.
    pub(crate) fn matches_whole_range(&self, min: i64, max: i64) -> bool {
        match self {
            IntTest::Compare(op, rhs) => match op {
                CompareOp::Eq => min == max && min == *rhs,
                CompareOp::NotEq => max < *rhs || min > *rhs,
                CompareOp::Less => max < *rhs,
                CompareOp::LessOrEqual => max <= *rhs,
                CompareOp::Greater => min > *rhs,
                CompareOp::GreaterOrEqual => min >= *rhs,
            },
            IntTest::Between(lo, hi) => *lo <= min && max <= *hi,
            IntTest::In(items) => min == max && items.contains(&min),
        }
    }
}

impl FloatTest {
    pub(crate) fn accepts(&self, v: f64) -> bool {
        match self {
            FloatTest::Compare(op, rhs) => op.holds(v, *rhs),
            FloatTest::Between(lo, hi) => *lo <= v && v <= *hi,
            FloatTest::In(items) => items.contains(&v),
        }
    }

    /// Whether any value in `[min, max]` could satisfy the test (NaN bounds: assume yes).
    pub(crate) fn may_match_range(&self, min: f64, max: f64) -> bool {
        if min.is_nan() || max.is_nan() {
            return true;
        }
        match self {
            FloatTest::Compare(op, rhs) => match op {
                CompareOp::Eq => min <= *rhs && *rhs <= max,
                CompareOp::NotEq => true,
                CompareOp::Less => min < *rhs,
                CompareOp::LessOrEqual => min <= *rhs,
                CompareOp::Greater => max > *rhs,
                CompareOp::GreaterOrEqual => max >= *rhs,
            },
            FloatTest::Between(lo, hi) => max >= *lo && min <= *hi,
            FloatTest::In(items) => items.iter().any(|v| min <= *v && *v <= max),
        }
    }
}

impl TextTest {
    /// Whether a string satisfies the test.
    pub(crate) fn accepts(&self, s: &str) -> bool {
        match self {
            TextTest::Compare(op, rhs) => op.holds(s, rhs.as_str()),
            TextTest::Between(lo, hi) => lo.as_str() <= s && s <= hi.as_str(),
            TextTest::In(items) => items.binary_search_by(|i| i.as_str().cmp(s)).is_ok(),
            TextTest::Like {
                pattern,
                case_insensitive,
            } => {
                if *case_insensitive {
                    like_matches(pattern, &s.to_lowercase())
                } else {
                    like_matches(pattern, s)
                }
            }
        }
    }
}

/// SQL `LIKE`: `%` matches any run of characters, `_` exactly one, `\` escapes the next.
#[must_use]
pub fn like_matches(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0usize, 0usize);
    // Where to resume after the last `%`: (pattern position after it, text position).
    let mut resume: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some('%') => {
                resume = Some((p + 1, t));
                p += 1;
                continue;
            }
            Some('_') => {
                p += 1;
                t += 1;
                continue;
            }
            Some('\\') if pattern.get(p + 1) == text.get(t) && p + 1 < pattern.len() => {
                p += 2;
                t += 1;
                continue;
            }
            Some(c) if *c != '\\' && Some(c) == text.get(t) => {
                p += 1;
                t += 1;
                continue;
            }
            _ => {}
        }
        match resume {
            Some((after, from)) => {
                p = after;
                t = from + 1;
                resume = Some((after, from + 1));
            }
            None => return false,
        }
    }
    pattern[p..].iter().all(|c| *c == '%')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_handles_wildcards_and_escapes() {
        assert!(like_matches("%@example.com", "ann@example.com"));
        assert!(!like_matches("%@example.com", "ann@example.org"));
        assert!(like_matches("a_c", "abc"));
        assert!(!like_matches("a_c", "ac"));
        assert!(like_matches("%", ""));
        assert!(like_matches("", ""));
        assert!(!like_matches("", "x"));
        assert!(like_matches("100\\%", "100%"));
        assert!(!like_matches("100\\%", "1000"));
        assert!(like_matches("%a%b%", "xxaxxbxx"));
        assert!(like_matches("Zü%", "Zürich"));
        assert!(!like_matches("a%b", "ab c"));
    }

    #[test]
    fn int_zone_logic_is_exact() {
        let gt = IntTest::Compare(CompareOp::Greater, 10);
        assert!(!gt.may_match_range(0, 10));
        assert!(gt.may_match_range(0, 11));
        assert!(gt.matches_whole_range(11, 20));
        let between = IntTest::Between(5, 7);
        assert!(!between.may_match_range(8, 9));
        assert!(between.matches_whole_range(5, 7));
        assert!(!IntTest::Between(7, 5).may_match_range(0, 10));
    }
}
