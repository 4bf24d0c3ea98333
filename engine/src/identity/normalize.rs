//! Normalization and blocking of identifier values.
//!
//! - every type: trim surrounding whitespace;
//! - email: lower-case; valid only with exactly one `@`, a non-empty local part and domain,
//!   and no whitespace inside;
//! - phone: see [`normalize_phone`];
//! - others: kept as sent (ids are case-sensitive);
//! - blocked (after normalization): a value in `blocked_values` (case-insensitive), an email
//!   whose local part is in `blocked_email_local_parts`, or an exact `blocked_identifiers`
//!   entry.

use super::config::IdentityConfig;
use super::types::{Identifier, IdentifierType};

/// Why a candidate identifier was not used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RejectReason {
    /// The value is malformed for its type.
    Invalid(&'static str),
    /// The value is on a block list.
    Blocked,
    /// The field held something other than a string or integer.
    NotAString,
}

/// A candidate identifier that was not used, with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// The type it would have had.
    pub kind: IdentifierType,
    /// The value as sent.
    pub value: String,
    /// Why it was not used.
    pub reason: RejectReason,
}

impl IdentityConfig {
    /// Normalizes `raw` as an identifier of `kind`, or says why it is not one.
    ///
    /// # Errors
    /// [`Rejected`] when the value is malformed or blocked.
    pub fn normalize(&self, kind: IdentifierType, raw: &str) -> Result<Identifier, Rejected> {
        let trimmed = raw.trim();
        let value = match kind {
            IdentifierType::Email => normalize_email(trimmed),
            IdentifierType::Phone => normalize_phone(trimmed, &self.default_country_code),
            _ => Ok(trimmed.to_owned()),
        };
        let value = match value {
            Ok(v) => v,
            Err(reason) => {
                return Err(Rejected {
                    kind,
                    value: raw.to_owned(),
                    reason: RejectReason::Invalid(reason),
                })
            }
        };
        if self.is_blocked(&kind, &value) {
            return Err(Rejected {
                kind,
                value: raw.to_owned(),
                reason: RejectReason::Blocked,
            });
        }
        Ok(Identifier { kind, value })
    }

    /// Whether the normalized `value` of `kind` is blocked.
    #[must_use]
    pub fn is_blocked(&self, kind: &IdentifierType, value: &str) -> bool {
        if self
            .blocked_values
            .iter()
            .any(|b| b.eq_ignore_ascii_case(value))
        {
            return true;
        }
        if *kind == IdentifierType::Email {
            let local = value.split('@').next().unwrap_or("");
            if self
                .blocked_email_local_parts
                .iter()
                .any(|b| b.eq_ignore_ascii_case(local))
            {
                return true;
            }
        }
        self.blocked_identifiers
            .iter()
            .any(|b| b.kind == *kind && b.value == value)
    }
}

/// Lower-cases and checks an email address.
fn normalize_email(value: &str) -> Result<String, &'static str> {
    let mut parts = value.split('@');
    let (local, domain) = (parts.next().unwrap_or(""), parts.next());
    let Some(domain) = domain else {
        return Err("an email needs an `@`");
    };
    if parts.next().is_some() {
        return Err("an email has exactly one `@`");
    }
    if local.is_empty() || domain.is_empty() {
        return Err("an email needs text on both sides of `@`");
    }
    if value.chars().any(char::is_whitespace) {
        return Err("an email has no whitespace");
    }
    Ok(value.to_lowercase())
}

/// Shortest and longest accepted phone numbers, in digits including the country code
/// (E.164 allows at most 15).
const PHONE_DIGITS: std::ops::RangeInclusive<usize> = 7..=15;

/// Normalizes a phone number to `+` followed by the country code and number.
///
/// Allowed characters: digits, spaces, `-`, `.`, `(`, `)`, `/` and one leading `+`; anything
/// else (letters, `ext`) makes the value invalid. Then, on the digits `d`:
/// 1. a leading `+` means `d` is international already;
/// 2. a leading `00` (the ITU international prefix) is replaced by `+`;
/// 3. 11 or more digits starting with the default country code already carry it (the common
///    `1-555-123-4567` form);
/// 4. otherwise the number is national: one leading trunk `0` is dropped and the default
///    country code is prefixed.
///
/// The result must have 7 to 15 digits.
pub fn normalize_phone(value: &str, country_code: &str) -> Result<String, &'static str> {
    let (international, rest) = match value.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, value),
    };
    let mut digits = String::with_capacity(rest.len() + country_code.len() + 1);
    for c in rest.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '.' | '(' | ')' | '/' => {}
            _ => return Err("a phone number holds only digits, spaces, `-`, `.`, `(`, `)`, `/` and a leading `+`"),
        }
    }
    let full = if international {
        digits
    } else if let Some(stripped) = digits.strip_prefix("00") {
        stripped.to_owned()
    } else if digits.len() >= 11 && digits.starts_with(country_code) {
        digits
    } else {
        let national = digits.strip_prefix('0').unwrap_or(&digits);
        format!("{country_code}{national}")
    };
    if !PHONE_DIGITS.contains(&full.len()) {
        return Err("a phone number has 7 to 15 digits including the country code");
    }
    Ok(format!("+{full}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_variants_normalize_to_one() {
        let c = IdentityConfig::default();
        let a = c
            .normalize(IdentifierType::Email, " Jane.Doe@Example.COM ")
            .unwrap();
        let b = c
            .normalize(IdentifierType::Email, "jane.doe@example.com")
            .unwrap();
        assert_eq!(a, b);
        assert_eq!(a.value, "jane.doe@example.com");
        for bad in ["jane", "a@b@c", "@x.com", "x@", "a b@c.d"] {
            let r = c.normalize(IdentifierType::Email, bad).unwrap_err();
            assert!(matches!(r.reason, RejectReason::Invalid(_)), "{bad}");
        }
    }

    #[test]
    fn phone_formats_normalize_to_one() {
        let c = IdentityConfig::default();
        for raw in [
            "(555) 123-4567",
            "555.123.4567",
            "+1 555 123 4567",
            "1-555-123-4567",
            "001 555 123 4567",
            "15551234567",
        ] {
            assert_eq!(
                c.normalize(IdentifierType::Phone, raw).unwrap().value,
                "+15551234567",
                "{raw}"
            );
        }
        assert_eq!(
            normalize_phone("020 7946 0958", "44").unwrap(),
            "+442079460958"
        );
        assert_eq!(
            normalize_phone("+44 20 7946 0958", "1").unwrap(),
            "+442079460958"
        );
        assert!(normalize_phone("555-1234 ext 5", "1").is_err());
        assert!(normalize_phone("12", "1").is_err());
        assert!(normalize_phone("+1234567890123456", "1").is_err());
    }

    #[test]
    fn placeholders_are_blocked_after_normalization() {
        let c = IdentityConfig::default();
        for (kind, raw) in [
            (IdentifierType::Email, " TEST@test.com"),
            (IdentifierType::Email, "NoReply@shop.com"),
            (IdentifierType::UserId, "undefined"),
            (IdentifierType::UserId, " NULL "),
            (IdentifierType::AnonymousId, "0"),
            (
                IdentifierType::DeviceId,
                "00000000-0000-0000-0000-000000000000",
            ),
        ] {
            assert_eq!(
                c.normalize(kind, raw).unwrap_err().reason,
                RejectReason::Blocked,
                "{raw}"
            );
        }
        assert!(c.normalize(IdentifierType::UserId, "u-1").is_ok());
    }

    #[test]
    fn ids_keep_case_but_are_trimmed() {
        let c = IdentityConfig::default();
        assert_eq!(
            c.normalize(IdentifierType::UserId, " AbC ").unwrap().value,
            "AbC"
        );
    }
}
