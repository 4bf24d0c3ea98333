//! Column types of CSV text: parsing a field as a type, and inferring the narrowest type that
//! fits every non-empty value of a column.

use profiledb::engine::message::parse_rfc3339;
use profiledb::{ColumnType, Value};

/// Parses `text` as a value of `column_type`; the empty field is NULL.
///
/// # Errors
/// Why the text is not a value of the type.
pub(crate) fn parse_as(text: &str, column_type: ColumnType) -> Result<Value, String> {
    if text.is_empty() {
        return Ok(Value::Null);
    }
    let parsed = match column_type {
        ColumnType::Bool => parse_bool(text).map(Value::Bool),
        ColumnType::Int64 => text.parse().ok().map(Value::Int64),
        ColumnType::Float64 => parse_float(text).map(Value::Float64),
        ColumnType::Timestamp => parse_rfc3339(text).ok().map(Value::Timestamp),
        ColumnType::String => Some(Value::String(text.to_owned())),
        ColumnType::StringList => serde_json::from_str(text).ok().map(Value::StringList),
    };
    parsed.ok_or_else(|| {
        let expected = match column_type {
            ColumnType::Bool => "a bool (true or false)",
            ColumnType::Int64 => "an int64",
            ColumnType::Float64 => "a float64",
            ColumnType::Timestamp => "an RFC 3339 timestamp",
            ColumnType::StringList => "a string_list (a JSON array of strings)",
            ColumnType::String => "a string",
        };
        format!("`{}` is not {expected}", shorten(text))
    })
}

fn parse_bool(text: &str) -> Option<bool> {
    if text.eq_ignore_ascii_case("true") {
        Some(true)
    } else if text.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// Decimal numbers only: `NaN`, `inf` and the like stay text.
fn parse_float(text: &str) -> Option<f64> {
    let numeric = text.bytes().any(|b| b.is_ascii_digit())
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E'));
    numeric.then(|| text.parse().ok()).flatten()
}

/// At most 60 characters of a value, for messages.
fn shorten(text: &str) -> String {
    const MAX: usize = 60;
    if text.chars().count() <= MAX {
        text.to_owned()
    } else {
        format!("{}…", text.chars().take(MAX).collect::<String>())
    }
}

/// The types a column's values so far all fit, narrowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Inference {
    int: bool,
    float: bool,
    boolean: bool,
    timestamp: bool,
    list: bool,
    seen: bool,
}

impl Default for Inference {
    fn default() -> Self {
        Inference {
            int: true,
            float: true,
            boolean: true,
            timestamp: true,
            list: true,
            seen: false,
        }
    }
}

impl Inference {
    /// Narrows the candidates by one field's text (empty fields are NULL and fit anything).
    pub(crate) fn observe(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        self.seen = true;
        // `02139` is a code (zip, phone), not a number: it would lose its zero.
        let number = !has_leading_zero(text);
        self.int = self.int && number && text.parse::<i64>().is_ok();
        self.float = self.float && number && parse_float(text).is_some();
        self.boolean = self.boolean && parse_bool(text).is_some();
        self.timestamp = self.timestamp && parse_rfc3339(text).is_ok();
        self.list =
            self.list && text.starts_with('[') && serde_json::from_str::<Vec<String>>(text).is_ok();
    }

    /// The narrowest type that fits every value seen (`string` when no value was seen).
    pub(crate) fn column_type(&self) -> ColumnType {
        match *self {
            Inference { seen: false, .. } => ColumnType::String,
            Inference { int: true, .. } => ColumnType::Int64,
            Inference { float: true, .. } => ColumnType::Float64,
            Inference { boolean: true, .. } => ColumnType::Bool,
            Inference {
                timestamp: true, ..
            } => ColumnType::Timestamp,
            Inference { list: true, .. } => ColumnType::StringList,
            _ => ColumnType::String,
        }
    }
}

/// `0` followed by another digit, after an optional sign.
fn has_leading_zero(text: &str) -> bool {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text).as_bytes();
    digits.len() > 1 && digits[0] == b'0' && digits[1].is_ascii_digit()
}

/// Parses a type name as `profiledb stats` and `\d` print it.
pub(crate) fn type_from_name(name: &str) -> Option<ColumnType> {
    const ALL: [ColumnType; 6] = [
        ColumnType::Bool,
        ColumnType::Int64,
        ColumnType::Float64,
        ColumnType::Timestamp,
        ColumnType::String,
        ColumnType::StringList,
    ];
    ALL.into_iter()
        .find(|t| t.name().eq_ignore_ascii_case(name.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn infer(values: &[&str]) -> ColumnType {
        let mut inference = Inference::default();
        values.iter().for_each(|v| inference.observe(v));
        inference.column_type()
    }

    #[test]
    fn narrowest_type_that_fits_every_value() {
        assert_eq!(infer(&["1", "", "-7"]), ColumnType::Int64);
        assert_eq!(infer(&["1", "2.5", "1e3"]), ColumnType::Float64);
        assert_eq!(infer(&["true", "FALSE"]), ColumnType::Bool);
        assert_eq!(
            infer(&["2026-06-01T00:00:00Z", "2026-06-01T10:00:00+02:00"]),
            ColumnType::Timestamp
        );
        assert_eq!(infer(&["[\"a\"]", "[]"]), ColumnType::StringList);
        assert_eq!(infer(&["1", "x"]), ColumnType::String);
        assert_eq!(infer(&["NaN", "inf"]), ColumnType::String);
        assert_eq!(infer(&["", ""]), ColumnType::String);
        assert_eq!(infer(&["02139", "10001"]), ColumnType::String);
        assert_eq!(infer(&["0", "0.5", "-0.25"]), ColumnType::Float64);
    }

    #[test]
    fn parse_errors_name_the_value_and_the_type() {
        assert_eq!(parse_as("", ColumnType::Int64), Ok(Value::Null));
        assert_eq!(
            parse_as("12", ColumnType::Float64),
            Ok(Value::Float64(12.0))
        );
        let error = parse_as("abc", ColumnType::Int64).unwrap_err();
        assert_eq!(error, "`abc` is not an int64");
        assert_eq!(type_from_name("String_List"), Some(ColumnType::StringList));
    }
}
