//! Reading individual Tracking Spec fields out of a JSON object.

use super::error::MessageError;
use super::timestamp::parse_rfc3339;
use serde_json::{Map, Value as Json};

/// The JSON object type `serde_json` parses into.
pub(crate) type Object = Map<String, Json>;

/// Reads an identifier field: a string, or an integer taken as its digits.
///
/// Explicit `null`, a missing key and an empty (or all-blank) string all mean "absent": SDKs
/// send `"userId": null` and `""` for logged-out visitors.
pub(crate) fn id_field(
    obj: &Object,
    key: &str,
    path: &str,
) -> Result<Option<String>, MessageError> {
    match obj.get(key) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Json::String(s)) => Ok(Some(s.clone())),
        Some(Json::Number(n)) if n.is_i64() || n.is_u64() => Ok(Some(n.to_string())),
        Some(_) => Err(MessageError::Invalid {
            field: path.to_owned(),
            reason: "must be a string or an integer",
        }),
    }
}

/// Reads an optional string field (`event`, `name`); `null` and `""` mean absent.
pub(crate) fn string_field(
    obj: &Object,
    key: &str,
    path: &str,
) -> Result<Option<String>, MessageError> {
    match obj.get(key) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(s)) if s.is_empty() => Ok(None),
        Some(Json::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(MessageError::Invalid {
            field: path.to_owned(),
            reason: "must be a string",
        }),
    }
}

/// Reads an optional nested object (`context`, `traits`); `null` means absent.
pub(crate) fn object_field<'a>(
    obj: &'a Object,
    key: &str,
    path: &str,
) -> Result<Option<&'a Object>, MessageError> {
    match obj.get(key) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::Object(inner)) => Ok(Some(inner)),
        Some(_) => Err(MessageError::Invalid {
            field: path.to_owned(),
            reason: "must be an object",
        }),
    }
}

/// The message time: the first present of `timestamp`, `originalTimestamp`, `receivedAt`,
/// `sentAt`.
///
/// A present but invalid field is an error rather than a reason to fall through: silently
/// using the server's clock would hide a broken SDK.
pub(crate) fn timestamp(obj: &Object) -> Result<i64, MessageError> {
    const FIELDS: [&str; 4] = ["timestamp", "originalTimestamp", "receivedAt", "sentAt"];
    for field in FIELDS {
        match obj.get(field) {
            None | Some(Json::Null) => {}
            Some(Json::String(text)) => {
                return parse_rfc3339(text).map_err(|reason| MessageError::Timestamp {
                    field,
                    value: text.clone(),
                    reason,
                });
            }
            Some(_) => {
                return Err(MessageError::Invalid {
                    field: field.to_owned(),
                    reason: "must be an RFC 3339 string",
                })
            }
        }
    }
    Err(MessageError::NoTimestamp)
}

/// Reads `context.externalIds`: `[{"id": …, "type": …, …}]` → `(type, id)` pairs.
pub(crate) fn external_ids(context: &Object) -> Result<Vec<(String, String)>, MessageError> {
    let list = match context.get("externalIds") {
        None | Some(Json::Null) => return Ok(Vec::new()),
        Some(Json::Array(list)) => list,
        Some(_) => {
            return Err(MessageError::Invalid {
                field: "context.externalIds".to_owned(),
                reason: "must be an array",
            })
        }
    };
    let mut out = Vec::with_capacity(list.len());
    for (i, entry) in list.iter().enumerate() {
        let path = |leaf: &str| format!("context.externalIds[{i}]{leaf}");
        let Json::Object(entry) = entry else {
            return Err(MessageError::Invalid {
                field: path(""),
                reason: "must be an object with `id` and `type`",
            });
        };
        let id = id_field(entry, "id", &path(".id"))?;
        let kind = string_field(entry, "type", &path(".type"))?;
        match (kind, id) {
            (Some(kind), Some(id)) => out.push((kind, id)),
            (None, _) => {
                return Err(MessageError::Invalid {
                    field: path(".type"),
                    reason: "is required",
                })
            }
            (_, None) => {
                return Err(MessageError::Invalid {
                    field: path(".id"),
                    reason: "is required",
                })
            }
        }
    }
    Ok(out)
}
