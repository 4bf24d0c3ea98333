//! Identifier and profile types shared by the whole identity module.

use std::fmt;

/// The kind of an identifier; custom kinds are named in the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IdentifierType {
    /// The customer's own user id (`userId`).
    UserId,
    /// A browser/device-scoped id (`anonymousId`).
    AnonymousId,
    /// An email address (trait `email`), lower-cased.
    Email,
    /// A phone number (trait `phone`), as `+` and digits.
    Phone,
    /// A device id (`context.device.id`).
    DeviceId,
    /// A configured custom type (trait key or `context.externalIds` type).
    Custom(String),
}

impl IdentifierType {
    /// The five built-in types, in code order (their position is their code in every file).
    pub const BUILTIN: [IdentifierType; 5] = [
        IdentifierType::UserId,
        IdentifierType::AnonymousId,
        IdentifierType::Email,
        IdentifierType::Phone,
        IdentifierType::DeviceId,
    ];

    /// The snake_case name used in configuration, files and `context.externalIds`.
    #[must_use]
    pub fn name(&self) -> &str {
        match self {
            IdentifierType::UserId => "user_id",
            IdentifierType::AnonymousId => "anonymous_id",
            IdentifierType::Email => "email",
            IdentifierType::Phone => "phone",
            IdentifierType::DeviceId => "device_id",
            IdentifierType::Custom(name) => name,
        }
    }

    /// The type named `name`: a built-in when the name is one, otherwise custom.
    #[must_use]
    pub fn from_name(name: &str) -> IdentifierType {
        IdentifierType::BUILTIN
            .into_iter()
            .find(|t| t.name() == name)
            .unwrap_or_else(|| IdentifierType::Custom(name.to_owned()))
    }

    /// The code of a built-in type (0-4), `None` for custom types.
    #[must_use]
    pub fn builtin_code(&self) -> Option<u16> {
        match self {
            IdentifierType::UserId => Some(0),
            IdentifierType::AnonymousId => Some(1),
            IdentifierType::Email => Some(2),
            IdentifierType::Phone => Some(3),
            IdentifierType::DeviceId => Some(4),
            IdentifierType::Custom(_) => None,
        }
    }
}

impl fmt::Display for IdentifierType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A typed identifier value (normalized when produced by this module).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Identifier {
    /// Its type.
    pub kind: IdentifierType,
    /// Its value.
    pub value: String,
}

impl Identifier {
    /// An identifier of `kind` with `value`, taken as given (see `IdentityConfig::normalize`).
    pub fn new(kind: IdentifierType, value: impl Into<String>) -> Identifier {
        Identifier {
            kind,
            value: value.into(),
        }
    }

    /// A `user_id` identifier.
    pub fn user_id(value: impl Into<String>) -> Identifier {
        Identifier::new(IdentifierType::UserId, value)
    }

    /// An `anonymous_id` identifier.
    pub fn anonymous_id(value: impl Into<String>) -> Identifier {
        Identifier::new(IdentifierType::AnonymousId, value)
    }

    /// An `email` identifier.
    pub fn email(value: impl Into<String>) -> Identifier {
        Identifier::new(IdentifierType::Email, value)
    }

    /// A `phone` identifier.
    pub fn phone(value: impl Into<String>) -> Identifier {
        Identifier::new(IdentifierType::Phone, value)
    }

    /// A `device_id` identifier.
    pub fn device_id(value: impl Into<String>) -> Identifier {
        Identifier::new(IdentifierType::DeviceId, value)
    }
}

impl fmt::Display for Identifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind, self.value)
    }
}

/// A profile: a dense id, also the profile's row slot and its user-visible `profile_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProfileId(pub u32);

impl fmt::Display for ProfileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// One identifier of a profile with the first and last time a message attached it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentifierRecord {
    /// The identifier.
    pub identifier: Identifier,
    /// Earliest timestamp (µs) of a message that attached it.
    pub first_seen: i64,
    /// Latest timestamp (µs) of a message that attached it.
    pub last_seen: i64,
}

/// Two profiles merged by one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Merge {
    /// The profile that lives on (the smaller id).
    pub survivor: ProfileId,
    /// The profile that now resolves to `survivor`.
    pub absorbed: ProfileId,
}

/// A merge as kept in the merge history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeEvent {
    /// The profile that lives on.
    pub survivor: ProfileId,
    /// The profile that now resolves to `survivor`.
    pub absorbed: ProfileId,
    /// The message that linked them.
    pub message_id: String,
    /// That message's timestamp (µs).
    pub timestamp_micros: i64,
}

/// A link a message asked for but the per-type limits refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedLink {
    /// The message that carried the link.
    pub message_id: String,
    /// That message's timestamp (µs).
    pub timestamp_micros: i64,
    /// The identifier that was not attached to the message's profile.
    pub identifier: Identifier,
    /// The profile that owned `identifier` at the time (`None`: it was new).
    pub owner: Option<ProfileId>,
    /// The profile the message was attached to.
    pub profile: ProfileId,
    /// The type whose limit the link would have exceeded.
    pub limit_type: IdentifierType,
    /// That type's limit.
    pub limit: u32,
}

/// What one message did to the graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    /// The profile the message belongs to.
    pub profile: ProfileId,
    /// Whether that profile was created by this message.
    pub created: bool,
    /// Profiles merged by this message, survivor first, absorbed in ascending id order.
    pub merged: Vec<Merge>,
    /// Links this message asked for but the limits refused.
    pub refused: Vec<RefusedLink>,
}

/// One link of an explanation: `from` and `to` appeared together on message `message_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkStep {
    /// The identifier the step starts from.
    pub from: Identifier,
    /// The identifier it reaches.
    pub to: Identifier,
    /// The message that linked them.
    pub message_id: String,
    /// That message's timestamp (µs).
    pub timestamp_micros: i64,
}

/// What a split or rule change did, so the database can rebuild traits and events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SplitReport {
    /// Messages whose profile changed: (message id, profile before, profile after).
    pub reassigned: Vec<(String, ProfileId, ProfileId)>,
    /// Messages that now belong to no profile: (message id, profile before).
    pub detached: Vec<(String, ProfileId)>,
    /// Profiles live now that were not live before.
    pub created: Vec<ProfileId>,
    /// Profiles live before and after whose identifiers or messages changed.
    pub changed: Vec<ProfileId>,
    /// Profiles live before that are no longer live.
    pub retired: Vec<ProfileId>,
    /// Log entries newly marked as ignored by this operation.
    pub messages_ignored: usize,
}
