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
//! - A key repeated within one object keeps its last value.
//! - Unknown fields are ignored.

mod error;
mod rules;
mod shapes;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod text_and_tree_tests;
mod timestamp;

pub use error::MessageError;
pub use timestamp::parse_rfc3339;

use crate::value::Value;
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
/// The text is read in one pass, straight into the fields the rules look at (no JSON tree
/// is built); the result is the same as [`parse_message`] on the parsed tree.
///
/// # Errors
/// [`MessageError::Json`] for invalid JSON, otherwise as [`parse_message`].
pub fn parse_message_line(line: &str) -> Result<Message, MessageError> {
    let mut text = serde_json::Deserializer::from_str(line);
    let root = shapes::read_root(&mut text)
        .and_then(|root| text.end().map(|()| root))
        .map_err(json_error)?;
    message_of(root)
}

/// Parses and validates one message.
///
/// # Errors
/// A [`MessageError`] naming the offending field and the reason.
pub fn parse_message(json: &Json) -> Result<Message, MessageError> {
    // Reading a tree into the shapes cannot fail: every value has a shape.
    message_of(shapes::read_root(json).map_err(json_error)?)
}

/// The message of a root value, which must be an object.
fn message_of(root: shapes::Shaped<shapes::Root<'_>>) -> Result<Message, MessageError> {
    match root {
        shapes::Shaped::Object(root) => root.into_message(),
        shapes::Shaped::Null | shapes::Shaped::Other => Err(MessageError::NotAnObject),
    }
}

/// A JSON syntax error, with its position.
fn json_error(error: serde_json::Error) -> MessageError {
    MessageError::Json {
        line: error.line(),
        column: error.column(),
        reason: error.to_string(),
    }
}
