//! Messages made ready for ingestion away from the writer.
//!
//! Turning a message into its event row needs no schema and no lock, and extracting its
//! identifiers needs only the identity configuration, so a caller with a thread to spare (the
//! import command's reader) does both there and the writer thread only resolves identities
//! and applies the batch.

use super::columns::{take_event_values, EventRow};
use super::ingest::Extracted;
use crate::identity::IdentityConfig;
use crate::message::Message;

/// Parsed messages with their unfitted event rows, for [`super::Profiles::ingest_prepared`].
#[derive(Debug, Clone, Default)]
pub struct PreparedMessages {
    messages: Vec<Message>,
    events: Vec<EventRow>,
    /// Each message's identifiers, and the configuration they were extracted under.
    identifiers: Option<ExtractedAhead>,
}

/// Identifiers extracted on the preparing thread, used only while `config` is still in force.
#[derive(Debug, Clone)]
struct ExtractedAhead {
    config: IdentityConfig,
    per_message: Vec<Option<Extracted>>,
}

/// What [`PreparedMessages::into_parts`] gives: messages, event rows, and the identifiers
/// extracted ahead with their configuration.
pub(crate) type PreparedParts = (
    Vec<Message>,
    Vec<EventRow>,
    Option<(IdentityConfig, Vec<Option<Extracted>>)>,
);

impl PreparedMessages {
    /// Makes the event row of each message (on the calling thread). The properties move
    /// into the event rows, so [`PreparedMessages::messages`] shows them empty.
    #[must_use]
    pub fn new(mut messages: Vec<Message>) -> PreparedMessages {
        let events = messages.iter_mut().map(take_event_values).collect();
        PreparedMessages {
            messages,
            events,
            identifiers: None,
        }
    }

    /// As [`PreparedMessages::new`], and also extracts each message's identifiers under
    /// `config` (take it from [`super::Profiles::identity_config`]). The writer uses them
    /// only if `config` is still the database's identity configuration when the messages
    /// are ingested; otherwise it extracts them again, so a stale `config` costs time, never
    /// correctness.
    #[must_use]
    pub fn with_identifiers(messages: Vec<Message>, config: &IdentityConfig) -> PreparedMessages {
        let per_message = messages
            .iter()
            .map(|message| config.identifiers_without_graph(message))
            .collect();
        PreparedMessages {
            identifiers: Some(ExtractedAhead {
                config: config.clone(),
                per_message,
            }),
            ..PreparedMessages::new(messages)
        }
    }

    /// The messages, in input order (report indices refer to this order).
    #[must_use]
    pub fn messages(&self) -> &[Message] {
        &self.messages
    }

    /// Number of messages.
    #[must_use]
    pub fn len(&self) -> usize {
        self.messages.len()
    }

    /// Whether there are no messages.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// The messages, their event rows, and the identifiers extracted ahead.
    pub(crate) fn into_parts(self) -> PreparedParts {
        let identifiers = self
            .identifiers
            .map(|ahead| (ahead.config, ahead.per_message));
        (self.messages, self.events, identifiers)
    }
}
