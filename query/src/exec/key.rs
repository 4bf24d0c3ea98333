//! Hashable, totally ordered stand-ins for values, for grouping and DISTINCT.

use profiledb_engine::value::Value;

/// A value usable as a hash key: floats by bits (with -0 = +0 and one NaN, as SQL groups them).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KeyValue {
    /// NULL (all NULLs group together).
    Null,
    /// Bool.
    Bool(bool),
    /// Int64.
    Int(i64),
    /// Float64 bits, normalized.
    Float(u64),
    /// Timestamp.
    Timestamp(i64),
    /// String.
    Str(String),
    /// String list.
    List(Vec<String>),
}

impl From<&Value> for KeyValue {
    fn from(v: &Value) -> Self {
        match v {
            Value::Null => KeyValue::Null,
            Value::Bool(b) => KeyValue::Bool(*b),
            Value::Int64(i) => KeyValue::Int(*i),
            Value::Float64(f) => KeyValue::Float(normalize_float(*f)),
            Value::Timestamp(t) => KeyValue::Timestamp(*t),
            Value::String(s) => KeyValue::Str(s.clone()),
            Value::StringList(l) => KeyValue::List(l.clone()),
        }
    }
}

fn normalize_float(f: f64) -> u64 {
    if f.is_nan() {
        f64::NAN.to_bits()
    } else if f == 0.0 {
        0.0f64.to_bits()
    } else {
        f.to_bits()
    }
}

/// The key of a whole row.
#[must_use]
pub fn row_key(values: &[Value]) -> Vec<KeyValue> {
    values.iter().map(KeyValue::from).collect()
}
