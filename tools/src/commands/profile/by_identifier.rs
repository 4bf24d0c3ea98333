//! The profile view of the profiles layer (identifiers, traits with provenance, consent,
//! computed traits, latest events), for databases built by ingestion.

use super::by_row::ordered;
use crate::error::ToolError;
use profiledb::engine::profiles::{Profiles, IDENTITY_COLUMN};
use profiledb::{Snapshot, TableKind, Value};
use serde_json::Value as Json;

/// Identifier columns of a profile row, most trusted first: any one finds the profile.
const IDENTIFIER_COLUMNS: [&str; 5] = ["user_id", "email", "phone", "device_id", "anonymous_id"];

/// Whether the database was built by the profiles layer (its rows carry `_identity`).
pub(crate) fn is_ingested(snapshot: &Snapshot) -> bool {
    snapshot
        .schema(TableKind::Profiles)
        .column(IDENTITY_COLUMN)
        .is_some()
}

/// An identifier (`type:value`) held by profile row `id`, if it has one.
pub(crate) fn identifier_of_row(snapshot: &Snapshot, id: u32) -> Result<Option<String>, ToolError> {
    let read = ToolError::engine(format!("reading profile {id}"));
    let Some(values) = snapshot.row(TableKind::Profiles, id).map_err(read)? else {
        return Ok(None);
    };
    Ok(IDENTIFIER_COLUMNS.iter().find_map(|column| {
        values.iter().find_map(|(name, value)| match value {
            Value::String(v) if name == column => Some(format!("{column}:{v}")),
            _ => None,
        })
    }))
}

/// The view of the profile holding `identifier`, as pretty JSON; `None` if nobody holds it.
pub(crate) fn view_json(
    profiles: &Profiles,
    identifier: &str,
    events: usize,
) -> Result<Option<(u32, String)>, ToolError> {
    let view = profiles
        .profile(identifier, events)
        .map_err(ToolError::profiles(format!("looking up {identifier}")))?;
    Ok(view.map(|view| (view.profile_id, pretty(view.to_json()))))
}

/// The view's JSON with its sections in reading order.
fn pretty(json: Json) -> String {
    const ORDER: [&str; 7] = [
        "profile_id",
        "identity_profile",
        "identifiers",
        "traits",
        "consent",
        "computed_traits",
        "events",
    ];
    let Json::Object(mut object) = json else {
        return json.to_string();
    };
    let mut fields: Vec<(&str, Json)> = Vec::new();
    for key in ORDER {
        if let Some(value) = object.remove(key) {
            fields.push((key, value));
        }
    }
    let rest: Vec<(String, Json)> = object.into_iter().collect();
    let mut all: Vec<(&str, Json)> = fields;
    all.extend(rest.iter().map(|(k, v)| (k.as_str(), v.clone())));
    ordered(&all)
}
