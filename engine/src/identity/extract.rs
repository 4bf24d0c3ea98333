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

use super::graph::IdentityGraph;
use super::normalize::{RejectReason, Rejected};
use super::types::{Identifier, IdentifierType};
use crate::message::{Message, MessageKind};
use crate::value::Value;

impl IdentityGraph {
    /// The normalized identifiers of `msg` and the candidates that were rejected.
    #[must_use]
    pub fn identifiers_of(&self, msg: &Message) -> (Vec<Identifier>, Vec<Rejected>) {
        let mut out = Extracted {
            // Room for the usual user id, anonymous id, email and device id.
            ids: Vec::with_capacity(4),
            rejected: Vec::new(),
        };
        if let Some(v) = &msg.user_id {
            out.add(self, IdentifierType::UserId, v);
        }
        if let Some(v) = &msg.anonymous_id {
            out.add(self, IdentifierType::AnonymousId, v);
        }
        if let Some(v) = &msg.previous_id {
            out.add(self, self.previous_id_type(v), v);
        }
        if msg.kind != MessageKind::Group {
            out.trait_id(self, msg, "email", IdentifierType::Email);
            out.trait_id(self, msg, "phone", IdentifierType::Phone);
            for custom in &self.config.custom_types {
                let kind = IdentifierType::Custom(custom.name.clone());
                out.trait_id(self, msg, &custom.trait_key, kind);
            }
        }
        if let Some(v) = &msg.device_id {
            out.add(self, IdentifierType::DeviceId, v);
        }
        for (kind, v) in &msg.external_ids {
            let kind = IdentifierType::from_name(kind);
            if let IdentifierType::Custom(name) = &kind {
                if !self.config.is_custom(name) {
                    continue;
                }
            }
            out.add(self, kind, v);
        }
        (out.ids, out.rejected)
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

/// Accumulates identifiers and rejections, without duplicates.
#[derive(Default)]
struct Extracted {
    ids: Vec<Identifier>,
    rejected: Vec<Rejected>,
}

impl Extracted {
    /// Normalizes and adds one candidate.
    fn add(&mut self, graph: &IdentityGraph, kind: IdentifierType, raw: &str) {
        match graph.config.normalize(kind, raw) {
            Ok(id) if !self.ids.contains(&id) => self.ids.push(id),
            Ok(_) => {}
            Err(r) => self.rejected.push(r),
        }
    }

    /// Adds the trait `key` as an identifier of `kind`.
    fn trait_id(&mut self, graph: &IdentityGraph, msg: &Message, key: &str, kind: IdentifierType) {
        // Traits are sorted by key (see the message module).
        let Ok(i) = msg.traits.binary_search_by(|(k, _)| k.as_str().cmp(key)) else {
            return;
        };
        match &msg.traits[i].1 {
            Value::Null => {}
            Value::String(s) => self.add(graph, kind, s),
            Value::Int64(n) => self.add(graph, kind, &n.to_string()),
            other => self.rejected.push(Rejected {
                kind,
                value: format!("{other:?}"),
                reason: RejectReason::NotAString,
            }),
        }
    }
}
