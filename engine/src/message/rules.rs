//! The Tracking Spec rules (see the module docs of [`super`]) applied to the shapes read from
//! a message, in a fixed order, so that a message with several faults always reports the
//! same one.

use super::error::MessageError;
use super::shapes::{Context, ExternalIds, Node, Root, Scalar, Shaped, Tree};
use super::timestamp::parse_rfc3339;
use super::{Message, MessageKind};
use crate::value::Value;

impl Root<'_> {
    /// Validates the fields and makes the message.
    pub(super) fn into_message(self) -> Result<Message, MessageError> {
        let kind = kind(self.kind)?;
        let message_id = id_field(self.message_id, "messageId")?
            .ok_or(MessageError::Missing { field: "messageId" })?;
        let timestamp_micros = timestamp(self.times)?;
        let user_id = id_field(self.user_id, "userId")?;
        let anonymous_id = id_field(self.anonymous_id, "anonymousId")?;
        let mut context = object_field(self.context, "context")?;
        let properties = flattened(object_field(self.properties, "properties")?)?;
        let context_traits = context.as_mut().and_then(|c| c.traits.take());
        let traits = traits(kind, context_traits, self.traits)?;
        let mut message = Message {
            kind,
            message_id,
            timestamp_micros,
            user_id,
            anonymous_id,
            previous_id: None,
            event: None,
            group_id: None,
            traits,
            properties,
            context_ip: None,
            device_id: None,
            external_ids: Vec::new(),
        };
        if let Some(context) = context {
            context.read_into(&mut message)?;
        }
        KindFields {
            event: self.event,
            name: self.name,
            group_id: self.group_id,
            previous_id: self.previous_id,
        }
        .read_into(&mut message)?;
        check_identity(&message)?;
        Ok(message)
    }
}

/// The fields only some calls carry.
struct KindFields<'de> {
    event: Option<Scalar<'de>>,
    name: Option<Scalar<'de>>,
    group_id: Option<Scalar<'de>>,
    previous_id: Option<Scalar<'de>>,
}

impl KindFields<'_> {
    /// Reads the fields of `message`'s call, enforcing the ones it requires.
    fn read_into(self, message: &mut Message) -> Result<(), MessageError> {
        match message.kind {
            MessageKind::Track => {
                message.event = Some(
                    string_field(self.event, "event")?
                        .ok_or(MessageError::Missing { field: "event" })?,
                );
            }
            MessageKind::Page | MessageKind::Screen => {
                message.event = match string_field(self.name, "name")? {
                    Some(name) => Some(name),
                    None => property_name(&message.properties),
                };
            }
            MessageKind::Group => {
                message.group_id = Some(
                    id_field(self.group_id, "groupId")?
                        .ok_or(MessageError::Missing { field: "groupId" })?,
                );
            }
            MessageKind::Alias => {
                message.previous_id = Some(id_field(self.previous_id, "previousId")?.ok_or(
                    MessageError::Missing {
                        field: "previousId",
                    },
                )?);
            }
            MessageKind::Identify => {}
        }
        Ok(())
    }
}

impl Context<'_> {
    /// Reads `ip`, `device.id` and `externalIds` into `message`.
    fn read_into(self, message: &mut Message) -> Result<(), MessageError> {
        message.context_ip = string_field(self.ip, "context.ip")?;
        if let Some(device) = object_field(self.device, "context.device")? {
            message.device_id = id_field(device.id, "context.device.id")?;
        }
        message.external_ids = external_ids(self.external_ids)?;
        Ok(())
    }
}

/// Reads and recognises `type`.
fn kind(field: Option<Scalar<'_>>) -> Result<MessageKind, MessageError> {
    let name = string_field(field, "type")?.ok_or(MessageError::Missing { field: "type" })?;
    MessageKind::from_name(&name).ok_or(MessageError::UnknownType { found: name })
}

/// An identifier field: a string, or an integer taken as its digits.
///
/// Explicit `null`, a missing key and an empty (or all-blank) string all mean "absent": SDKs
/// send `"userId": null` and `""` for logged-out visitors.
fn id_field(field: Option<Scalar<'_>>, path: &str) -> Result<Option<String>, MessageError> {
    match field {
        None | Some(Scalar::Null) => Ok(None),
        Some(Scalar::Text(text)) if text.trim().is_empty() => Ok(None),
        Some(Scalar::Text(text)) => Ok(Some(text.into_owned())),
        Some(Scalar::Integer(digits)) => Ok(Some(digits)),
        Some(Scalar::Other) => Err(MessageError::Invalid {
            field: path.to_owned(),
            reason: "must be a string or an integer",
        }),
    }
}

/// An optional string field (`event`, `name`); `null` and `""` mean absent.
fn string_field(field: Option<Scalar<'_>>, path: &str) -> Result<Option<String>, MessageError> {
    match field {
        None | Some(Scalar::Null) => Ok(None),
        Some(Scalar::Text(text)) if text.is_empty() => Ok(None),
        Some(Scalar::Text(text)) => Ok(Some(text.into_owned())),
        Some(Scalar::Integer(_) | Scalar::Other) => Err(MessageError::Invalid {
            field: path.to_owned(),
            reason: "must be a string",
        }),
    }
}

/// An optional nested object (`context`, `traits`); `null` means absent.
fn object_field<T>(field: Option<Shaped<T>>, path: &str) -> Result<Option<T>, MessageError> {
    match field {
        None | Some(Shaped::Null) => Ok(None),
        Some(Shaped::Object(object)) => Ok(Some(object)),
        Some(Shaped::Other) => Err(MessageError::Invalid {
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
fn timestamp(times: [Option<Scalar<'_>>; 4]) -> Result<i64, MessageError> {
    const FIELDS: [&str; 4] = ["timestamp", "originalTimestamp", "receivedAt", "sentAt"];
    for (field, time) in FIELDS.into_iter().zip(times) {
        match time {
            None | Some(Scalar::Null) => {}
            Some(Scalar::Text(text)) => {
                return parse_rfc3339(&text).map_err(|reason| MessageError::Timestamp {
                    field,
                    value: text.into_owned(),
                    reason,
                });
            }
            Some(Scalar::Integer(_) | Scalar::Other) => {
                return Err(MessageError::Invalid {
                    field: field.to_owned(),
                    reason: "must be an RFC 3339 string",
                })
            }
        }
    }
    Err(MessageError::NoTimestamp)
}

/// Traits: for `group` the root `traits` (they describe the group); for every other call
/// `context.traits` merged with root `traits`, root winning per flattened key.
fn traits(
    kind: MessageKind,
    context_traits: Option<Shaped<Tree<'_>>>,
    root: Option<Shaped<Tree<'_>>>,
) -> Result<Vec<(String, Value)>, MessageError> {
    let mut out = Vec::new();
    if kind != MessageKind::Group {
        if let Some(tree) = object_field(context_traits, "context.traits")? {
            tree.flatten_into("", &mut out)?;
        }
    }
    // Pushed last so that root traits win in `last_wins`.
    if let Some(tree) = object_field(root, "traits")? {
        tree.flatten_into("", &mut out)?;
    }
    Ok(last_wins(out))
}

/// A whole object flattened with dotted keys, sorted by key.
fn flattened(tree: Option<Tree<'_>>) -> Result<Vec<(String, Value)>, MessageError> {
    let mut out = Vec::new();
    if let Some(tree) = tree {
        tree.flatten_into("", &mut out)?;
    }
    Ok(last_wins(out))
}

impl Tree<'_> {
    /// Pushes every leaf to `out` with dotted keys under `prefix` (`{"address":{"city":"X"}}`
    /// gives `address.city`), in key order level by level, as a sorted map would list them;
    /// of keys repeated in one object only the last counts. Empty nested objects contribute
    /// nothing (there is no value to store).
    fn flatten_into(
        mut self,
        prefix: &str,
        out: &mut Vec<(String, Value)>,
    ) -> Result<(), MessageError> {
        // Stable, so that among equal keys the last in the text stays last.
        self.0.sort_by(|a, b| a.0.cmp(&b.0));
        let mut entries = self.0.into_iter().peekable();
        while let Some((key, node)) = entries.next() {
            if entries.peek().is_some_and(|(next, _)| *next == key) {
                continue;
            }
            let path = if prefix.is_empty() {
                key.into_owned()
            } else {
                format!("{prefix}.{key}")
            };
            match node {
                Node::Leaf(value) => out.push((path, value)),
                Node::Nested(inner) => inner.flatten_into(&path, out)?,
                Node::BadArray => return Err(MessageError::UnsupportedArray { key: path }),
            }
        }
        Ok(())
    }
}

/// Sorts by key and keeps, for each key, the entry that came last in `entries`.
///
/// Callers push lower-precedence entries first, so "last wins" is the precedence rule (root
/// `traits` over `context.traits`, and a literal dotted key over an equal nested path).
fn last_wins(mut entries: Vec<(String, Value)>) -> Vec<(String, Value)> {
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

/// `context.externalIds`: `[{"id": …, "type": …, …}]` → `(type, id)` pairs in text order.
fn external_ids(field: Option<ExternalIds<'_>>) -> Result<Vec<(String, String)>, MessageError> {
    let list = match field {
        None | Some(ExternalIds::Null) => return Ok(Vec::new()),
        Some(ExternalIds::List(list)) => list,
        Some(ExternalIds::Other) => {
            return Err(MessageError::Invalid {
                field: "context.externalIds".to_owned(),
                reason: "must be an array",
            })
        }
    };
    let mut out = Vec::with_capacity(list.len());
    for (i, entry) in list.into_iter().enumerate() {
        let path = |leaf: &str| format!("context.externalIds[{i}]{leaf}");
        let Shaped::Object(entry) = entry else {
            return Err(MessageError::Invalid {
                field: path(""),
                reason: "must be an object with `id` and `type`",
            });
        };
        let id = id_field(entry.id, &path(".id"))?;
        let kind = string_field(entry.kind, &path(".type"))?;
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

/// `properties.name` as a page/screen name, when it is a string.
fn property_name(properties: &[(String, Value)]) -> Option<String> {
    properties.iter().find_map(|(k, v)| match v {
        Value::String(s) if k == "name" && !s.is_empty() => Some(s.clone()),
        _ => None,
    })
}

/// Enforces "userId or anonymousId" (and `userId` for `alias`).
fn check_identity(message: &Message) -> Result<(), MessageError> {
    if message.kind == MessageKind::Alias && message.user_id.is_none() {
        return Err(MessageError::Missing { field: "userId" });
    }
    if message.user_id.is_none() && message.anonymous_id.is_none() {
        return Err(MessageError::NoIdentity);
    }
    Ok(())
}
