//! The durable list of computed-trait definitions and the trait clock.
//!
//! Stored as JSON in `computed-traits.json` in the database directory, replaced atomically
//! (temporary file, fsync, rename, directory fsync) before the change is acknowledged.

use super::computed::{Aggregate, ComputedTrait, Condition};
use super::error::{ProfilesError, ProfilesResult};
use crate::error::Error;
use crate::io::Storage;
use crate::scan::CompareOp;
use crate::value::Value;
use serde_json::{json, Value as Json};
use std::path::Path;

/// File name of the definitions file.
pub const DEFINITIONS_FILE: &str = "computed-traits.json";

/// Computed-trait definitions and the clock windowed traits are evaluated at.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Definitions {
    /// Clock (µs since the epoch) set by `advance_clock`; never moves back.
    pub clock: i64,
    /// Definitions, in creation order.
    pub traits: Vec<ComputedTrait>,
}

impl Definitions {
    /// Reads the file of `dir`, or empty definitions when there is none.
    ///
    /// # Errors
    /// I/O errors or a file that does not decode.
    pub fn load(storage: &dyn Storage, dir: &Path) -> ProfilesResult<Definitions> {
        let path = dir.join(DEFINITIONS_FILE);
        let bytes = match storage.read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Definitions::default()),
            Err(e) => return Err(Error::io("read computed traits", &path)(e).into()),
        };
        let json: Json = serde_json::from_slice(&bytes)
            .map_err(|e| ProfilesError::Definitions(e.to_string()))?;
        decode(&json).ok_or_else(|| ProfilesError::Definitions("unexpected structure".into()))
    }

    /// Replaces the file of `dir` atomically.
    ///
    /// # Errors
    /// I/O errors; the previous file then stays in force.
    pub fn store(&self, storage: &dyn Storage, dir: &Path) -> ProfilesResult<()> {
        let path = dir.join(DEFINITIONS_FILE);
        let temp = dir.join(format!("{DEFINITIONS_FILE}.tmp"));
        let bytes = serde_json::to_vec_pretty(&self.to_json()).unwrap_or_default();
        let mut file = storage
            .create(&temp)
            .map_err(Error::io("create computed traits", &temp))?;
        file.append(&bytes)
            .map_err(Error::io("write computed traits", &temp))?;
        file.sync_data()
            .map_err(Error::io("sync computed traits", &temp))?;
        drop(file);
        storage
            .rename(&temp, &path)
            .map_err(Error::io("rename computed traits", &temp))?;
        storage
            .sync_dir(dir)
            .map_err(Error::io("sync directory", dir))?;
        Ok(())
    }

    /// The JSON form stored in the file.
    #[must_use]
    pub fn to_json(&self) -> Json {
        json!({
            "version": 1,
            "clock": self.clock,
            "traits": self.traits.iter().map(trait_json).collect::<Vec<_>>(),
        })
    }
}

fn trait_json(t: &ComputedTrait) -> Json {
    json!({
        "name": t.name,
        "aggregate": t.aggregate.name(),
        "property": t.aggregate.property(),
        "filter": t.event_filter.iter().map(|c| json!({
            "column": c.column,
            "op": op_name(c.op),
            "value": value_json(&c.value),
        })).collect::<Vec<_>>(),
        "window_micros": t.window,
    })
}

fn decode(json: &Json) -> Option<Definitions> {
    if json.get("version")?.as_u64()? != 1 {
        return None;
    }
    let clock = json.get("clock")?.as_i64()?;
    let traits = json
        .get("traits")?
        .as_array()?
        .iter()
        .map(decode_trait)
        .collect::<Option<Vec<_>>>()?;
    Some(Definitions { clock, traits })
}

fn decode_trait(json: &Json) -> Option<ComputedTrait> {
    let aggregate = Aggregate::from_name(
        json.get("aggregate")?.as_str()?,
        json.get("property").and_then(Json::as_str),
    )?;
    let event_filter = json
        .get("filter")?
        .as_array()?
        .iter()
        .map(|c| {
            Some(Condition {
                column: c.get("column")?.as_str()?.to_owned(),
                op: op_from_name(c.get("op")?.as_str()?)?,
                value: value_from_json(c.get("value")?)?,
            })
        })
        .collect::<Option<Vec<_>>>()?;
    let window = match json.get("window_micros") {
        None | Some(Json::Null) => None,
        Some(w) => Some(w.as_i64()?),
    };
    Some(ComputedTrait {
        name: json.get("name")?.as_str()?.to_owned(),
        aggregate,
        event_filter,
        window,
    })
}

const OPS: [(CompareOp, &str); 6] = [
    (CompareOp::Eq, "="),
    (CompareOp::NotEq, "<>"),
    (CompareOp::Less, "<"),
    (CompareOp::LessOrEqual, "<="),
    (CompareOp::Greater, ">"),
    (CompareOp::GreaterOrEqual, ">="),
];

fn op_name(op: CompareOp) -> &'static str {
    OPS.iter().find(|(o, _)| *o == op).map_or("=", |(_, n)| n)
}

fn op_from_name(name: &str) -> Option<CompareOp> {
    OPS.iter().find(|(_, n)| *n == name).map(|(o, _)| *o)
}

/// A value as tagged JSON (`{"type": "int64", "value": 3}`), lossless for every type.
pub(crate) fn value_json(value: &Value) -> Json {
    let (tag, v) = match value {
        Value::Null => ("null", Json::Null),
        Value::Bool(b) => ("bool", json!(b)),
        Value::Int64(i) => ("int64", json!(i)),
        Value::Float64(f) => ("float64", json!(f.to_bits())),
        Value::Timestamp(t) => ("timestamp", json!(t)),
        Value::String(s) => ("string", json!(s)),
        Value::StringList(l) => ("string_list", json!(l)),
    };
    json!({"type": tag, "value": v})
}

fn value_from_json(json: &Json) -> Option<Value> {
    let v = json.get("value")?;
    Some(match json.get("type")?.as_str()? {
        "null" => Value::Null,
        "bool" => Value::Bool(v.as_bool()?),
        "int64" => Value::Int64(v.as_i64()?),
        "float64" => Value::Float64(f64::from_bits(v.as_u64()?)),
        "timestamp" => Value::Timestamp(v.as_i64()?),
        "string" => Value::String(v.as_str()?.to_owned()),
        "string_list" => Value::StringList(
            v.as_array()?
                .iter()
                .map(|s| s.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()?,
        ),
        _ => return None,
    })
}
