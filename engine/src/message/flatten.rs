//! JSON → [`Value`] conversion and dotted-key flattening of `traits` / `properties`.

use super::error::MessageError;
use super::fields::Object;
use crate::value::Value;
use serde_json::Value as Json;

/// Flattens `obj` into `out` with dotted keys: `{"address":{"city":"X"}}` → `address.city`.
///
/// Empty nested objects contribute nothing (there is no value to store).
pub(crate) fn flatten_into(
    prefix: &str,
    obj: &Object,
    out: &mut Vec<(String, Value)>,
) -> Result<(), MessageError> {
    for (key, json) in obj {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match json {
            Json::Object(inner) => flatten_into(&path, inner, out)?,
            other => {
                let value = to_value(&path, other)?;
                out.push((path, value));
            }
        }
    }
    Ok(())
}

/// Converts one non-object JSON value; `key` names it in errors.
pub(crate) fn to_value(key: &str, json: &Json) -> Result<Value, MessageError> {
    Ok(match json {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::Int64(i),
            // u64 beyond i64::MAX and every non-integer become floats.
            None => Value::Float64(n.as_f64().unwrap_or(f64::NAN)),
        },
        Json::String(s) => Value::String(s.clone()),
        Json::Array(items) => Value::StringList(string_list(key, items)?),
        Json::Object(_) => {
            return Err(MessageError::Invalid {
                field: key.to_owned(),
                reason: "nested objects must be flattened",
            })
        }
    })
}

/// An array of strings, or an error naming the key.
fn string_list(key: &str, items: &[Json]) -> Result<Vec<String>, MessageError> {
    items
        .iter()
        .map(|item| match item {
            Json::String(s) => Ok(s.clone()),
            _ => Err(MessageError::UnsupportedArray {
                key: key.to_owned(),
            }),
        })
        .collect()
}

/// Sorts by key and keeps, for each key, the entry that came last in `entries`.
///
/// Callers push lower-precedence entries first, so "last wins" is the precedence rule (root
/// `traits` over `context.traits`, and a literal dotted key over an equal nested path).
pub(crate) fn last_wins(mut entries: Vec<(String, Value)>) -> Vec<(String, Value)> {
    // Stable sort keeps the push order among equal keys.
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out: Vec<(String, Value)> = Vec::with_capacity(entries.len());
    for entry in entries {
        match out.last_mut() {
            Some(last) if last.0 == entry.0 => *last = entry,
            _ => out.push(entry),
        }
    }
    out
}
