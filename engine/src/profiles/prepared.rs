//! Messages made ready for ingestion away from the writer.
//!
//! Turning a message into its event row needs no schema and no lock, so a caller with a
//! thread to spare (the import command's reader) does it there and the writer thread only
//! resolves identities and applies the batch.

use super::columns::take_event_values;
use crate::message::Message;
use crate::value::Value;

/// Parsed messages with their unfitted event rows, for [`super::Profiles::ingest_prepared`].
#[derive(Debug, Clone, Default)]
pub struct PreparedMessages {
    messages: Vec<Message>,
    events: Vec<Vec<(String, Value)>>,
}

impl PreparedMessages {
    /// Makes the event row of each message (on the calling thread). The properties move
    /// into the event rows, so [`PreparedMessages::messages`] shows them empty.
    #[must_use]
    pub fn new(mut messages: Vec<Message>) -> PreparedMessages {
        let events = messages.iter_mut().map(take_event_values).collect();
        PreparedMessages { messages, events }
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

    /// The messages and their event rows.
    pub(crate) fn into_parts(self) -> (Vec<Message>, Vec<Vec<(String, Value)>>) {
        (self.messages, self.events)
    }
}
