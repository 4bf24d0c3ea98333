//! How one value is spelled in each output format.

use profiledb::query::format::display_value;
use profiledb::query::temporal::civil_from_days;
use profiledb::Value;
use serde_json::Value as Json;

const MICROS_PER_SECOND: i64 = 1_000_000;
const SECONDS_PER_DAY: i64 = 86_400;

/// A timestamp (µs since the epoch) as RFC 3339 UTC: `2026-06-01T00:00:00Z`, with a fraction
/// (trailing zeros trimmed) only when it is non-zero.
pub(crate) fn rfc3339(micros: i64) -> String {
    let seconds = micros.div_euclid(MICROS_PER_SECOND);
    let fraction = micros.rem_euclid(MICROS_PER_SECOND);
    let (year, month, day) = civil_from_days(seconds.div_euclid(SECONDS_PER_DAY));
    let in_day = seconds.rem_euclid(SECONDS_PER_DAY);
    let (hour, minute, second) = (in_day / 3600, in_day % 3600 / 60, in_day % 60);
    let mut text = format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}");
    if fraction != 0 {
        let digits = format!("{fraction:06}");
        text.push('.');
        text.push_str(digits.trim_end_matches('0'));
    }
    text.push('Z');
    text
}

/// A value as JSON: NULL → `null`, timestamps as RFC 3339 strings, lists as arrays; floats
/// JSON cannot hold (NaN, ±Infinity) as their SQL spelling in a string.
pub(crate) fn to_json(value: &Value) -> Json {
    match value {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int64(i) => Json::from(*i),
        Value::Float64(f) => serde_json::Number::from_f64(*f)
            .map_or_else(|| Json::String(display_value(value)), Json::Number),
        Value::Timestamp(t) => Json::String(rfc3339(*t)),
        Value::String(s) => Json::String(s.clone()),
        Value::StringList(items) => Json::Array(items.iter().cloned().map(Json::String).collect()),
    }
}

/// A value as a CSV field (before quoting): NULL → empty, timestamps as RFC 3339, lists as
/// JSON arrays.
pub(crate) fn csv_field(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::Timestamp(t) => rfc3339(*t),
        Value::StringList(_) => to_json(value).to_string(),
        Value::Float64(_) | Value::Int64(_) | Value::Bool(_) => display_value(value),
        Value::String(s) => s.clone(),
    }
}

/// A value as a table cell: the SQL layer's display form (`NULL`, `2026-06-01 00:00:00`, `[a, b]`).
pub(crate) fn table_cell(value: &Value) -> String {
    display_value(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_shows_a_fraction_only_when_non_zero() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_780_272_000_000_000), "2026-06-01T00:00:00Z");
        assert_eq!(rfc3339(1_500_000), "1970-01-01T00:00:01.5Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59.999999Z");
    }

    #[test]
    fn csv_and_json_spellings() {
        let list = Value::StringList(vec!["a".into(), "b\"c".into()]);
        assert_eq!(csv_field(&list), r#"["a","b\"c"]"#);
        assert_eq!(csv_field(&Value::Null), "");
        assert_eq!(
            to_json(&Value::Float64(f64::NAN)),
            Json::String("NaN".into())
        );
        assert_eq!(to_json(&Value::Int64(-3)), Json::from(-3));
    }
}
