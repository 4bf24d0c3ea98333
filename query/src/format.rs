//! Text renderings of values: SQL literals for EXPLAIN and a plain display form for results.

use profiledb_engine::value::Value;

use crate::temporal::format_timestamp;

/// A value as a SQL literal (`'it''s'`, `42`, `TIMESTAMP '…'`, `NULL`).
#[must_use]
pub fn sql_literal(value: &Value) -> String {
    match value {
        Value::Null => "NULL".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Int64(i) => i.to_string(),
        Value::Float64(f) => display_float(*f),
        Value::Timestamp(t) => format!("TIMESTAMP '{}'", format_timestamp(*t)),
        Value::String(s) => quote(s),
        Value::StringList(items) => {
            let items: Vec<String> = items.iter().map(|s| quote(s)).collect();
            format!("ARRAY[{}]", items.join(", "))
        }
    }
}

/// A value for display: strings unquoted, lists as `[a, b]`, timestamps as `YYYY-MM-DD HH:MM:SS`.
#[must_use]
pub fn display_value(value: &Value) -> String {
    match value {
        Value::Null => "NULL".to_owned(),
        Value::String(s) => s.clone(),
        Value::StringList(items) => format!("[{}]", items.join(", ")),
        Value::Timestamp(t) => format_timestamp(*t),
        other => sql_literal(other),
    }
}

/// Shortest round-trip float text, with PostgreSQL's spelling of the special values.
fn display_float(f: f64) -> String {
    if f.is_nan() {
        "NaN".to_owned()
    } else if f.is_infinite() {
        if f > 0.0 { "Infinity" } else { "-Infinity" }.to_owned()
    } else {
        format!("{f}")
    }
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}
