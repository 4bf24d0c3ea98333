//! Why a message was rejected: every variant names the field and the reason.

/// A message that cannot be ingested.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// The text is not JSON at all.
    #[error("invalid JSON at line {line}, column {column}: {reason}")]
    Json {
        /// 1-based line of the syntax error.
        line: usize,
        /// 1-based column of the syntax error.
        column: usize,
        /// What the JSON parser expected.
        reason: String,
    },
    /// The JSON is valid but is not an object.
    #[error("a message must be a JSON object")]
    NotAnObject,
    /// A required field is missing, `null` or empty.
    #[error("field `{field}` is required")]
    Missing {
        /// The field's name in the Tracking Spec.
        field: &'static str,
    },
    /// A field is present but has the wrong shape.
    #[error("field `{field}` {reason}")]
    Invalid {
        /// The field's path, dotted for nested fields (`context.device.id`).
        field: String,
        /// What was expected.
        reason: &'static str,
    },
    /// `type` is not one of the six Tracking Spec calls.
    #[error(
        "field `type`: unknown message type `{found}` (expected identify, track, page, screen, group or alias)"
    )]
    UnknownType {
        /// The value found.
        found: String,
    },
    /// A timestamp field is not a valid RFC 3339 date-time.
    #[error("field `{field}`: `{value}` is not a valid RFC 3339 timestamp: {reason}")]
    Timestamp {
        /// The timestamp field that failed.
        field: &'static str,
        /// The text found.
        value: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// None of `timestamp`, `originalTimestamp`, `receivedAt`, `sentAt` is present.
    #[error("field `timestamp` is required (`originalTimestamp`, `receivedAt` or `sentAt` are accepted instead)")]
    NoTimestamp,
    /// Neither `userId` nor `anonymousId` is present.
    #[error("a message must carry `userId` or `anonymousId`")]
    NoIdentity,
    /// An array holding something other than strings.
    #[error("field `{key}`: arrays must contain only strings")]
    UnsupportedArray {
        /// The flattened key of the array (`properties.items`).
        key: String,
    },
}
