//! Which identifiers a message carries.
//!
//! - `userId` → user_id; `anonymousId` → anonymous_id;
//! - alias `previousId` → user_id when that user id is already in the graph, otherwise
//!   anonymous_id (SDKs alias an anonymous or pre-login id to the new user id);
//! - traits `email` and `phone` (strings; a phone may also be an integer), except on `group`
//!   calls whose traits describe the group;
//! - `context.device.id` → device_id;
//! - each custom type: its trait key (not on `group`), and `context.externalIds` entries
//!   whose `type` equals its name; an external id typed with a built-in name (`email`,
//!   `user_id`, …) counts as that built-in; other external id types are ignored.
//!
//! Values are normalized; malformed or blocked ones are returned as [`Rejected`], duplicates
//! are dropped.

use super::config::IdentityConfig;
use super::graph::IdentityGraph;
use super::normalize::{RejectReason, Rejected};
use super::types::{Identifier, IdentifierType};
use crate::message::{Message, MessageKind};
use crate::value::Value;

impl IdentityGraph {
    /// The normalized identifiers of `msg` and the candidates that were rejected.
    #[must_use]
    pub fn identifiers_of(&self, msg: &Message) -> (Vec<Identifier>, Vec<Rejected>) {
        let previous_kind = msg
            .previous_id
            .as_deref()
            .map(|previous_id| self.previous_id_type(previous_id));
        extract(&self.config, msg, previous_kind)
    }

    /// user_id if `previous_id` is a known user id, else anonymous_id.
    fn previous_id_type(&self, previous_id: &str) -> IdentifierType {
        let as_user = Identifier::user_id(previous_id);
        if self.lookup(&as_user).is_some() {
            IdentifierType::UserId
        } else {
            IdentifierType::AnonymousId
        }
    }
}

impl IdentityConfig {
    /// What [`IdentityGraph::identifiers_of`] gives for `msg` under this configuration,
    /// worked out without the graph, so on any thread; `None` for a message with a
    /// `previousId`, whose type depends on the identifiers the graph already holds.
    #[must_use]
    pub fn identifiers_without_graph(
        &self,
        msg: &Message,
    ) -> Option<(Vec<Identifier>, Vec<Rejected>)> {
        msg.previous_id.is_none().then(|| extract(self, msg, None))
    }
}

/// The identifiers of `msg` under `config`, its `previousId` taken as `previous_kind`.
fn extract(
    config: &IdentityConfig,
    msg: &Message,
    previous_kind: Option<IdentifierType>,
) -> (Vec<Identifier>, Vec<Rejected>) {
    let mut out = Extracted {
        // Room for the usual user id, anonymous id, email and device id.
        ids: Vec::with_capacity(4),
        rejected: Vec::new(),
    };
    if let Some(v) = &msg.user_id {
        out.add(config, IdentifierType::UserId, v);
    }
    if let Some(v) = &msg.anonymous_id {
        out.add(config, IdentifierType::AnonymousId, v);
    }
    if let (Some(v), Some(kind)) = (&msg.previous_id, previous_kind) {
        out.add(config, kind, v);
    }
    if msg.kind != MessageKind::Group {
        out.trait_id(config, msg, "email", IdentifierType::Email);
        out.trait_id(config, msg, "phone", IdentifierType::Phone);
        for custom in &config.custom_types {
            let kind = IdentifierType::Custom(custom.name.clone());
            out.trait_id(config, msg, &custom.trait_key, kind);
        }
    }
    if let Some(v) = &msg.device_id {
        out.add(config, IdentifierType::DeviceId, v);
    }
    for (kind, v) in &msg.external_ids {
        let kind = IdentifierType::from_name(kind);
        if let IdentifierType::Custom(name) = &kind {
            if !config.is_custom(name) {
                continue;
            }
        }
        out.add(config, kind, v);
    }
    (out.ids, out.rejected)
}

/// Accumulates identifiers and rejections, without duplicates.
#[derive(Default)]
struct Extracted {
    ids: Vec<Identifier>,
    rejected: Vec<Rejected>,
}

impl Extracted {
    /// Normalizes and adds one candidate.
    fn add(&mut self, config: &IdentityConfig, kind: IdentifierType, raw: &str) {
        match config.normalize(kind, raw) {
            Ok(id) if !self.ids.contains(&id) => self.ids.push(id),
            Ok(_) => {}
            Err(r) => self.rejected.push(r),
        }
    }

    /// Adds the trait `key` as an identifier of `kind`.
    fn trait_id(
        &mut self,
        config: &IdentityConfig,
        msg: &Message,
        key: &str,
        kind: IdentifierType,
    ) {
        // Traits are sorted by key (see the message module).
        let Ok(i) = msg.traits.binary_search_by(|(k, _)| k.as_str().cmp(key)) else {
            return;
        };
        match &msg.traits[i].1 {
            Value::Null => {}
            Value::String(s) => self.add(config, kind, s),
            Value::Int64(n) => self.add(config, kind, &n.to_string()),
            other => self.rejected.push(Rejected {
                kind,
                value: format!("{other:?}"),
                reason: RejectReason::NotAString,
            }),
        }
    }
}
