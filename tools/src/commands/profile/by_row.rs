//! A profile row and its latest events as JSON, read straight from a snapshot.

use crate::error::ToolError;
use crate::output::value::to_json;
use profiledb::engine::scan::{filter, CompareOp, Predicate};
use profiledb::engine::EVENT_PROFILE_COLUMN;
use profiledb::query::engine_catalog::HIDDEN_COLUMN_PREFIX;
use profiledb::{Snapshot, TableKind, Value};
use serde_json::{Map, Value as Json};

/// `{"profile_id": N, "attributes": {…}, "events": [latest first]}`, pretty-printed.
pub(crate) fn profile_json(
    snapshot: &Snapshot,
    id: u32,
    events: usize,
) -> Result<String, ToolError> {
    let read = |e| ToolError::engine(format!("reading profile {id}"))(e);
    let row = snapshot
        .row(TableKind::Profiles, id)
        .map_err(read)?
        .ok_or_else(|| ToolError::ProfileNotFound {
            identifier: format!("profile_id:{id}"),
        })?;
    let latest = latest_events(snapshot, id, events).map_err(read)?;
    let event_count = latest.1;
    let mut event_list = Vec::with_capacity(latest.0.len());
    for event_row in latest.0 {
        let values = snapshot
            .row(TableKind::Events, event_row)
            .map_err(read)?
            .unwrap_or_default();
        let mut object = attributes(values);
        object.insert("event_row".to_owned(), Json::from(event_row));
        event_list.push(Json::Object(object));
    }
    Ok(ordered(&[
        ("profile_id", Json::from(id)),
        ("attributes", Json::Object(attributes(row))),
        ("event_count", Json::from(event_count)),
        ("latest_events", Json::Array(event_list)),
    ]))
}

/// Visible, non-NULL attributes as a JSON object (the profile link left out).
fn attributes(values: Vec<(String, Value)>) -> Map<String, Json> {
    values
        .into_iter()
        .filter(|(name, _)| !name.starts_with(HIDDEN_COLUMN_PREFIX) && name != EVENT_PROFILE_COLUMN)
        .map(|(name, value)| (name, to_json(&value)))
        .collect()
}

/// The last `limit` event rows of `profile` (newest first) and how many it has.
fn latest_events(
    snapshot: &Snapshot,
    profile: u32,
    limit: usize,
) -> profiledb::Result<(Vec<u32>, u64)> {
    if snapshot
        .schema(TableKind::Events)
        .column(EVENT_PROFILE_COLUMN)
        .is_none()
    {
        return Ok((Vec::new(), 0));
    }
    let predicate = Predicate::Compare(CompareOp::Eq, Value::Int64(i64::from(profile)));
    let (rows, _) = filter(
        snapshot,
        TableKind::Events,
        EVENT_PROFILE_COLUMN,
        &predicate,
    )?;
    let latest = rows.iter().rev().take(limit).collect();
    Ok((latest, rows.len()))
}

/// A pretty-printed JSON object whose keys keep the given order.
pub(crate) fn ordered(fields: &[(&str, Json)]) -> String {
    let mut text = String::from("{\n");
    for (index, (key, value)) in fields.iter().enumerate() {
        let pretty = serde_json::to_string_pretty(value).unwrap_or_else(|_| "null".to_owned());
        let indented = pretty.replace('\n', "\n  ");
        let comma = if index + 1 < fields.len() { "," } else { "" };
        text.push_str(&format!(
            "  {}: {indented}{comma}\n",
            Json::String((*key).to_owned())
        ));
    }
    text.push('}');
    text
}
