//! Segment Tracking Spec messages: parsing and validation of `identify`, `track`, `page`,
//! `screen`, `group` and `alias` calls into a typed [`Message`].
//!
//! Rules (chosen to accept what real SDKs send and nothing ambiguous):
//! - `type` is required, matched case-insensitively.
//! - `messageId` is required (string or integer, not empty).
//! - Time: the first present of `timestamp`, `originalTimestamp`, `receivedAt`, `sentAt`, as
//!   RFC 3339 with any offset and 0–9 fraction digits, converted to UTC microseconds. A present
//!   but invalid timestamp is an error (it does not fall through to the next field).
//! - Ids (`userId`, `anonymousId`, `previousId`, `groupId`, `context.device.id`, external ids):
//!   strings, or integers taken as their decimal digits; `null` and `""` mean absent.
//! - Every message needs `userId` or `anonymousId`; `alias` needs `userId` and `previousId`;
//!   `track` needs `event`; `group` needs `groupId`.
//! - `event` holds the track event name, or the page/screen `name` (falling back to
//!   `properties.name`, where some SDKs put it).
//! - `traits`: for `group` the root `traits` (they describe the group); for every other call
//!   `context.traits` merged with root `traits`, root winning per flattened key.
//! - Nested objects flatten with dots; JSON maps to [`Value`] as bool → `Bool`, integer →
//!   `Int64`, other number → `Float64`, string → `String`, array of strings → `StringList`,
//!   `null` → `Null`; any other array is an error naming its key. Keys come out sorted.
//! - Unknown fields are ignored.

mod error;
mod fields;
mod flatten;
#[cfg(test)]
mod tests;
mod timestamp;

pub use error::MessageError;
pub use timestamp::parse_rfc3339;

use crate::value::Value;
use fields::{external_ids, id_field, object_field, string_field, timestamp, Object};
use flatten::{flatten_into, last_wins};
use serde_json::Value as Json;

/// The six Tracking Spec calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// Who the user is, with traits.
    Identify,
    /// An action the user performed.
    Track,
    /// A web page view.
    Page,
    /// A mobile screen view.
    Screen,
    /// Membership of the user in a group (account, company).
    Group,
    /// Links a previous id to a user id.
    Alias,
}

impl MessageKind {
    /// The lower-case name used in the `type` field.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            MessageKind::Identify => "identify",
            MessageKind::Track => "track",
            MessageKind::Page => "page",
            MessageKind::Screen => "screen",
            MessageKind::Group => "group",
            MessageKind::Alias => "alias",
        }
    }

    /// The kind for a `type` value, matched case-insensitively.
    #[must_use]
    pub fn from_name(name: &str) -> Option<MessageKind> {
        const ALL: [MessageKind; 6] = [
            MessageKind::Identify,
            MessageKind::Track,
            MessageKind::Page,
            MessageKind::Screen,
            MessageKind::Group,
            MessageKind::Alias,
        ];
        ALL.into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(name))
    }
}

/// One validated message.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// Which call this is.
    pub kind: MessageKind,
    /// The sender's unique id for the message (used for deduplication and audit).
    pub message_id: String,
    /// When it happened, microseconds since the Unix epoch, UTC.
    pub timestamp_micros: i64,
    /// The known user id, if any.
    pub user_id: Option<String>,
    /// The device/browser-scoped anonymous id, if any.
    pub anonymous_id: Option<String>,
    /// `alias` only: the id being linked to `user_id`.
    pub previous_id: Option<String>,
    /// Track event name, or page/screen name.
    pub event: Option<String>,
    /// `group` only: the group id.
    pub group_id: Option<String>,
    /// Traits, flattened with dots, sorted by key.
    pub traits: Vec<(String, Value)>,
    /// Properties, flattened with dots, sorted by key.
    pub properties: Vec<(String, Value)>,
    /// `context.ip`.
    pub context_ip: Option<String>,
    /// `context.device.id`.
    pub device_id: Option<String>,
    /// `context.externalIds` as `(type, id)` pairs, in message order.
    pub external_ids: Vec<(String, String)>,
}

/// Parses one message line of text (NDJSON, HTTP body).
///
/// # Errors
/// [`MessageError::Json`] for invalid JSON, otherwise as [`parse_message`].
pub fn parse_message_line(line: &str) -> Result<Message, MessageError> {
    let json: Json = serde_json::from_str(line).map_err(|e| MessageError::Json {
        line: e.line(),
        column: e.column(),
        reason: e.to_string(),
    })?;
    parse_message(&json)
}

/// Parses and validates one message.
///
/// # Errors
/// A [`MessageError`] naming the offending field and the reason.
pub fn parse_message(json: &Json) -> Result<Message, MessageError> {
    let obj = json.as_object().ok_or(MessageError::NotAnObject)?;
    let kind = kind(obj)?;
    let message_id = id_field(obj, "messageId", "messageId")?
        .ok_or(MessageError::Missing { field: "messageId" })?;
    let timestamp_micros = timestamp(obj)?;
    let user_id = id_field(obj, "userId", "userId")?;
    let anonymous_id = id_field(obj, "anonymousId", "anonymousId")?;
    let context = object_field(obj, "context", "context")?;
    let properties = properties(obj)?;
    let mut message = Message {
        kind,
        message_id,
        timestamp_micros,
        user_id,
        anonymous_id,
        previous_id: None,
        event: None,
        group_id: None,
        traits: traits(kind, obj, context)?,
        properties,
        context_ip: None,
        device_id: None,
        external_ids: Vec::new(),
    };
    if let Some(context) = context {
        read_context(context, &mut message)?;
    }
    read_kind_fields(obj, &mut message)?;
    check_identity(&message)?;
    Ok(message)
}

/// Reads and recognises `type`.
fn kind(obj: &Object) -> Result<MessageKind, MessageError> {
    let name = string_field(obj, "type", "type")?.ok_or(MessageError::Missing { field: "type" })?;
    MessageKind::from_name(&name).ok_or(MessageError::UnknownType { found: name })
}

/// Reads the fields that only some calls carry, enforcing the ones they require.
fn read_kind_fields(obj: &Object, message: &mut Message) -> Result<(), MessageError> {
    match message.kind {
        MessageKind::Track => {
            message.event = Some(
                string_field(obj, "event", "event")?
                    .ok_or(MessageError::Missing { field: "event" })?,
            );
        }
        MessageKind::Page | MessageKind::Screen => {
            message.event = match string_field(obj, "name", "name")? {
                Some(name) => Some(name),
                None => property_name(&message.properties),
            };
        }
        MessageKind::Group => {
            message.group_id = Some(
                id_field(obj, "groupId", "groupId")?
                    .ok_or(MessageError::Missing { field: "groupId" })?,
            );
        }
        MessageKind::Alias => {
            message.previous_id = Some(id_field(obj, "previousId", "previousId")?.ok_or(
                MessageError::Missing {
                    field: "previousId",
                },
            )?);
        }
        MessageKind::Identify => {}
    }
    Ok(())
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

/// Reads `context.ip`, `context.device.id` and `context.externalIds`.
fn read_context(context: &Object, message: &mut Message) -> Result<(), MessageError> {
    message.context_ip = string_field(context, "ip", "context.ip")?;
    if let Some(device) = object_field(context, "device", "context.device")? {
        message.device_id = id_field(device, "id", "context.device.id")?;
    }
    message.external_ids = external_ids(context)?;
    Ok(())
}

/// Flattened root `properties`.
fn properties(obj: &Object) -> Result<Vec<(String, Value)>, MessageError> {
    let mut out = Vec::new();
    if let Some(props) = object_field(obj, "properties", "properties")? {
        flatten_into("", props, &mut out)?;
    }
    Ok(last_wins(out))
}

/// Flattened traits: see the module rules for which sources apply to which call.
fn traits(
    kind: MessageKind,
    obj: &Object,
    context: Option<&Object>,
) -> Result<Vec<(String, Value)>, MessageError> {
    let mut out = Vec::new();
    if kind != MessageKind::Group {
        if let Some(ctx_traits) = context
            .map(|c| object_field(c, "traits", "context.traits"))
            .transpose()?
            .flatten()
        {
            flatten_into("", ctx_traits, &mut out)?;
        }
    }
    // Pushed last so that root traits win in `last_wins`.
    if let Some(root) = object_field(obj, "traits", "traits")? {
        flatten_into("", root, &mut out)?;
    }
    Ok(last_wins(out))
}
