//! Errors of the profiles layer.

use crate::identity::IdentityError;
use crate::message::MessageError;
use crate::value::TypeMismatch;

/// Why one message of an `ingest` call was rejected (the others are kept).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MessageRejection {
    /// The message text did not parse or validate.
    #[error(transparent)]
    Invalid(#[from] MessageError),
    /// A value does not fit the type its column already has.
    #[error(transparent)]
    Type(#[from] TypeMismatch),
    /// A trait or property name cannot be stored.
    #[error("invalid name `{name}`: {reason}")]
    Name {
        /// The offending key.
        name: String,
        /// Why.
        reason: &'static str,
    },
}

/// Why a profiles operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ProfilesError {
    /// The storage engine failed.
    #[error(transparent)]
    Engine(#[from] crate::error::Error),
    /// The identity graph refused an operation.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// A computed-trait definition is invalid.
    #[error("invalid computed trait `{name}`: {reason}")]
    InvalidTrait {
        /// The trait's name.
        name: String,
        /// Why.
        reason: String,
    },
    /// The computed-trait definitions file does not decode.
    #[error("corrupt computed-trait definitions file: {0}")]
    Definitions(String),
    /// An identifier string is not `type:value`.
    #[error("invalid identifier `{0}`: expected `type:value` (e.g. `email:alice@example.com`)")]
    BadIdentifier(String),
}

/// Result alias of the profiles layer.
pub type ProfilesResult<T> = Result<T, ProfilesError>;
