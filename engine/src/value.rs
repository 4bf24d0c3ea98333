//! Column types and values: the data model every table shares.
//!
//! Coercion rule (applied when a written value's type differs from the column's type): a value is
//! converted only when no information is lost, otherwise the write fails with
//! [`TypeMismatch`] naming the column, the expected type and the type found.
//!
//! | column type  | accepted besides its own type                                         |
//! |--------------|-----------------------------------------------------------------------|
//! | `float64`    | `int64` whose magnitude is at most 2^53 (exactly representable)       |
//! | `int64`      | `float64` that is finite, integral and within the `i64` range         |
//! | `timestamp`  | (nothing: an integer has no unit, a string has no agreed format here) |
//! | `string_list`| `string` (becomes a one-element list)                                 |
//!
//! `NULL` is accepted by every column.

use std::fmt;

/// The type of a column; fixed when the column is first written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ColumnType {
    /// `true` / `false`.
    Bool,
    /// 64-bit signed integer.
    Int64,
    /// 64-bit IEEE float.
    Float64,
    /// Microseconds since the Unix epoch, UTC.
    Timestamp,
    /// UTF-8 string, dictionary-encoded on disk.
    String,
    /// List of UTF-8 strings (tags, interests, consented purposes …).
    StringList,
}

impl ColumnType {
    /// Every column type, in tag order.
    pub const ALL: [ColumnType; 6] = [
        ColumnType::Bool,
        ColumnType::Int64,
        ColumnType::Float64,
        ColumnType::Timestamp,
        ColumnType::String,
        ColumnType::StringList,
    ];

    /// The one-byte tag used for this type in every file format.
    #[must_use]
    pub fn tag(self) -> u8 {
        match self {
            ColumnType::Bool => 1,
            ColumnType::Int64 => 2,
            ColumnType::Float64 => 3,
            ColumnType::Timestamp => 4,
            ColumnType::String => 5,
            ColumnType::StringList => 6,
        }
    }

    /// The type for a tag read from a file, or `None` for an unknown tag.
    #[must_use]
    pub fn from_tag(tag: u8) -> Option<ColumnType> {
        ColumnType::ALL.into_iter().find(|t| t.tag() == tag)
    }

    /// The lower-case name used in messages and docs.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            ColumnType::Bool => "bool",
            ColumnType::Int64 => "int64",
            ColumnType::Float64 => "float64",
            ColumnType::Timestamp => "timestamp",
            ColumnType::String => "string",
            ColumnType::StringList => "string_list",
        }
    }
}

impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One cell value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Absent value.
    Null,
    /// A bool.
    Bool(bool),
    /// An int64.
    Int64(i64),
    /// A float64.
    Float64(f64),
    /// Microseconds since the Unix epoch, UTC.
    Timestamp(i64),
    /// A string.
    String(String),
    /// A list of strings.
    StringList(Vec<String>),
}

impl Value {
    /// The type of this value, `None` for `Null`.
    #[must_use]
    pub fn column_type(&self) -> Option<ColumnType> {
        match self {
            Value::Null => None,
            Value::Bool(_) => Some(ColumnType::Bool),
            Value::Int64(_) => Some(ColumnType::Int64),
            Value::Float64(_) => Some(ColumnType::Float64),
            Value::Timestamp(_) => Some(ColumnType::Timestamp),
            Value::String(_) => Some(ColumnType::String),
            Value::StringList(_) => Some(ColumnType::StringList),
        }
    }

    /// Whether this is `Null`.
    #[must_use]
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Converts this value to `target` following the lossless coercion rule of this module.
    ///
    /// # Errors
    /// [`TypeMismatch`] when the conversion would lose information.
    pub fn coerce_to(self, target: ColumnType, column: &str) -> Result<Value, TypeMismatch> {
        let found = match self.column_type() {
            None => return Ok(Value::Null),
            Some(found) if found == target => return Ok(self),
            Some(found) => found,
        };
        let converted = match (self, target) {
            (Value::Int64(i), ColumnType::Float64) if i.unsigned_abs() <= MAX_EXACT_FLOAT_INT =>
            {
                #[expect(clippy::cast_precision_loss, reason = "magnitude checked ≤ 2^53")]
                Some(Value::Float64(i as f64))
            }
            (Value::Float64(f), ColumnType::Int64) => float_to_int_exact(f).map(Value::Int64),
            (Value::String(s), ColumnType::StringList) => Some(Value::StringList(vec![s])),
            _ => None,
        };
        converted.ok_or_else(|| TypeMismatch {
            column: column.to_owned(),
            expected: target,
            found,
        })
    }
}

/// Largest integer magnitude a float64 represents exactly.
const MAX_EXACT_FLOAT_INT: u64 = 1 << 53;

fn float_to_int_exact(f: f64) -> Option<i64> {
    // 2^63 is exactly representable; anything at or beyond it does not fit an i64.
    const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;
    if f.is_finite() && f.fract() == 0.0 && (-TWO_POW_63..TWO_POW_63).contains(&f) {
        #[expect(
            clippy::cast_possible_truncation,
            reason = "integral and range-checked"
        )]
        Some(f as i64)
    } else {
        None
    }
}

/// A value whose type does not fit its column and cannot be converted without loss.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column `{column}` holds {expected} values, but the value written is {found}")]
pub struct TypeMismatch {
    /// The column written to.
    pub column: String,
    /// The column's type.
    pub expected: ColumnType,
    /// The type of the value written.
    pub found: ColumnType,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_widens_to_float_only_when_exact() {
        assert_eq!(
            Value::Int64(42).coerce_to(ColumnType::Float64, "c"),
            Ok(Value::Float64(42.0))
        );
        let too_big = Value::Int64((1 << 53) + 1).coerce_to(ColumnType::Float64, "ltv");
        assert_eq!(
            too_big.unwrap_err().to_string(),
            "column `ltv` holds float64 values, but the value written is int64"
        );
    }

    #[test]
    fn float_narrows_to_int_only_when_integral() {
        assert_eq!(
            Value::Float64(3.0).coerce_to(ColumnType::Int64, "c"),
            Ok(Value::Int64(3))
        );
        assert!(Value::Float64(3.5)
            .coerce_to(ColumnType::Int64, "c")
            .is_err());
        assert!(Value::Float64(f64::NAN)
            .coerce_to(ColumnType::Int64, "c")
            .is_err());
        assert!(Value::Float64(1e19)
            .coerce_to(ColumnType::Int64, "c")
            .is_err());
    }

    #[test]
    fn null_fits_every_type_and_string_becomes_list() {
        for t in ColumnType::ALL {
            assert_eq!(Value::Null.coerce_to(t, "c"), Ok(Value::Null));
        }
        assert_eq!(
            Value::String("vip".into()).coerce_to(ColumnType::StringList, "tags"),
            Ok(Value::StringList(vec!["vip".into()]))
        );
        assert!(Value::Bool(true)
            .coerce_to(ColumnType::String, "c")
            .is_err());
        assert!(Value::Int64(5)
            .coerce_to(ColumnType::Timestamp, "c")
            .is_err());
    }

    #[test]
    fn tags_round_trip() {
        for t in ColumnType::ALL {
            assert_eq!(ColumnType::from_tag(t.tag()), Some(t));
        }
        assert_eq!(ColumnType::from_tag(0), None);
        assert_eq!(ColumnType::from_tag(200), None);
    }
}
