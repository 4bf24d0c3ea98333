//! Identity rules: per-type limits, type priority, blocked values, phone country code and
//! custom identifier types.

use super::error::IdentityError;
use super::types::{Identifier, IdentifierType};

/// Limit for custom types that do not set one: custom ids are usually keys of another system
/// of record (CRM id, loyalty account), so like `user_id` one per profile.
pub const DEFAULT_CUSTOM_LIMIT: u32 = 1;

/// A custom identifier type: read from trait `trait_key` and from `context.externalIds`
/// entries whose `type` equals `name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomIdType {
    /// The type's name (must not be a built-in name).
    pub name: String,
    /// The (flattened) trait key holding the value.
    pub trait_key: String,
}

/// The rules the graph applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityConfig {
    /// Maximum distinct values per profile, per type. Types not listed use their default
    /// (user_id 1, email 5, phone 5, anonymous_id 100, device_id 20, custom
    /// [`DEFAULT_CUSTOM_LIMIT`]). A limit of 0 disables the type.
    pub limits: Vec<(IdentifierType, u32)>,
    /// Types from most to least trusted; unlisted types rank after, built-ins before customs.
    pub priority: Vec<IdentifierType>,
    /// Values that never identify anyone, compared case-insensitively after normalization.
    pub blocked_values: Vec<String>,
    /// Email local parts (before `@`) that never identify anyone (`noreply@…`).
    pub blocked_email_local_parts: Vec<String>,
    /// Individual identifiers blocked by an operator (exact, normalized).
    pub blocked_identifiers: Vec<Identifier>,
    /// Country calling code prefixed to national phone numbers (digits only).
    pub default_country_code: String,
    /// Custom identifier types.
    pub custom_types: Vec<CustomIdType>,
}

impl Default for IdentityConfig {
    fn default() -> Self {
        IdentityConfig {
            limits: Vec::new(),
            priority: vec![
                IdentifierType::UserId,
                IdentifierType::Email,
                IdentifierType::Phone,
                IdentifierType::DeviceId,
                IdentifierType::AnonymousId,
            ],
            blocked_values: DEFAULT_BLOCKED_VALUES
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            blocked_email_local_parts: DEFAULT_BLOCKED_LOCAL_PARTS
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            blocked_identifiers: Vec::new(),
            default_country_code: "1".to_owned(),
            custom_types: Vec::new(),
        }
    }
}

/// Placeholders SDKs and forms send when they have no real value; a profile keyed on one of
/// them would collapse unrelated people. The all-zero UUID is what iOS returns for the
/// advertising id when tracking is limited.
pub const DEFAULT_BLOCKED_VALUES: &[&str] = &[
    "",
    "null",
    "nil",
    "none",
    "undefined",
    "unknown",
    "n/a",
    "na",
    "0",
    "-1",
    "anonymous",
    "guest",
    "test",
    "[object object]",
    "00000000-0000-0000-0000-000000000000",
    "test@test.com",
    "test@example.com",
    "example@example.com",
    "email@example.com",
    "user@example.com",
];

/// Shared mailbox local parts: many people give them, none of them owns them.
pub const DEFAULT_BLOCKED_LOCAL_PARTS: &[&str] = &[
    "noreply",
    "no-reply",
    "donotreply",
    "do-not-reply",
    "no_reply",
];

impl IdentityConfig {
    /// The per-profile limit of `kind`.
    #[must_use]
    pub fn limit(&self, kind: &IdentifierType) -> u32 {
        if let Some((_, n)) = self.limits.iter().rev().find(|(t, _)| t == kind) {
            return *n;
        }
        match kind {
            IdentifierType::UserId => 1,
            IdentifierType::Email | IdentifierType::Phone => 5,
            IdentifierType::AnonymousId => 100,
            IdentifierType::DeviceId => 20,
            IdentifierType::Custom(name) if self.is_custom(name) => DEFAULT_CUSTOM_LIMIT,
            // An unconfigured custom type is not an identifier.
            IdentifierType::Custom(_) => 0,
        }
    }

    /// Whether `name` is a configured custom type.
    #[must_use]
    pub fn is_custom(&self, name: &str) -> bool {
        self.custom_types.iter().any(|c| c.name == name)
    }

    /// Every type this configuration knows: the built-ins, then customs in order.
    #[must_use]
    pub fn all_types(&self) -> Vec<IdentifierType> {
        let mut all = IdentifierType::BUILTIN.to_vec();
        all.extend(
            self.custom_types
                .iter()
                .map(|c| IdentifierType::Custom(c.name.clone())),
        );
        all
    }

    /// Rank of `kind` in the priority order (0 = most trusted).
    #[must_use]
    pub fn rank(&self, kind: &IdentifierType) -> usize {
        if let Some(i) = self.priority.iter().position(|t| t == kind) {
            return i;
        }
        let all = self.all_types();
        self.priority.len() + all.iter().position(|t| t == kind).unwrap_or(all.len())
    }

    /// Sets the limit of `kind`.
    #[must_use]
    pub fn with_limit(mut self, kind: IdentifierType, limit: u32) -> Self {
        self.limits.push((kind, limit));
        self
    }

    /// Sets every known type's limit to `limit`.
    #[must_use]
    pub fn with_all_limits(mut self, limit: u32) -> Self {
        for kind in self.all_types() {
            self.limits.push((kind, limit));
        }
        self
    }

    /// Adds a custom identifier type read from trait `trait_key`.
    #[must_use]
    pub fn with_custom_type(mut self, name: &str, trait_key: &str) -> Self {
        self.custom_types.push(CustomIdType {
            name: name.to_owned(),
            trait_key: trait_key.to_owned(),
        });
        self
    }

    /// Checks that the configuration is consistent.
    ///
    /// # Errors
    /// [`IdentityError::Config`] naming the problem.
    pub fn validate(&self) -> Result<(), IdentityError> {
        let bad = |m: String| Err(IdentityError::Config(m));
        let cc = &self.default_country_code;
        if cc.is_empty() || cc.len() > 3 || !cc.bytes().all(|b| b.is_ascii_digit()) {
            return bad(format!("default_country_code `{cc}` must be 1-3 digits"));
        }
        for (i, c) in self.custom_types.iter().enumerate() {
            if c.name.is_empty() || IdentifierType::from_name(&c.name).builtin_code().is_some() {
                return bad(format!(
                    "custom type name `{}` is empty or built-in",
                    c.name
                ));
            }
            if self.custom_types[..i].iter().any(|o| o.name == c.name) {
                return bad(format!("custom type `{}` is declared twice", c.name));
            }
        }
        for (i, t) in self.priority.iter().enumerate() {
            if let IdentifierType::Custom(name) = t {
                if !self.is_custom(name) {
                    return bad(format!("priority names unknown type `{name}`"));
                }
            }
            if self.priority[..i].contains(t) {
                return bad(format!("priority lists `{t}` twice"));
            }
        }
        for (t, _) in &self.limits {
            if let IdentifierType::Custom(name) = t {
                if !self.is_custom(name) {
                    return bad(format!("limit set for unknown type `{name}`"));
                }
            }
        }
        Ok(())
    }
}
