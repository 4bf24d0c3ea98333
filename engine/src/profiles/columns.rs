//! Column names and the conversion of one message into fitted event and trait values.
//!
//! Every accepted message becomes one event row (identify and alias included, so an operator
//! split can rebuild traits from the events). Identify traits are also candidates for the
//! profile's trait columns, under the latest-timestamp rule (see `docs/profiles.md`).

use super::error::MessageRejection;
use crate::db::{EVENT_PROFILE_COLUMN, MAX_COLUMN_NAME_BYTES};
use crate::message::{Message, MessageKind};
use crate::mutation::ColumnName;
use crate::schema::{TableKind, TableSchema};
use crate::value::{ColumnType, Value};
use rustc_hash::{FxHashMap, FxHashSet};

/// Profiles column holding the identity-graph profile id the row belongs to.
pub const IDENTITY_COLUMN: &str = "_identity";
/// Prefix of the hidden profiles column holding when a trait was last set (Timestamp).
pub const TS_PREFIX: &str = "_ts.";
/// Prefix of the hidden profiles column holding which message last set a trait (String).
pub const MSG_PREFIX: &str = "_msg.";
/// Prefix of identify/group traits stored on event rows.
pub const TRAITS_PREFIX: &str = "traits.";
/// Prefix given to a property whose name collides with a reserved event column.
pub const PROPERTIES_PREFIX: &str = "properties.";

/// Event column: the call type (`track`, `identify`, …).
pub const TYPE_COLUMN: &str = "type";
/// Event column: track event name or page/screen name.
pub const EVENT_COLUMN: &str = "event";
/// Event column: the message timestamp (Timestamp).
pub const TIMESTAMP_COLUMN: &str = "timestamp";
/// Event column: the message id.
pub const MESSAGE_ID_COLUMN: &str = "message_id";

/// Event columns set by ProfileDB itself; properties with these names get [`PROPERTIES_PREFIX`].
pub const RESERVED_EVENT_COLUMNS: [&str; 9] = [
    TYPE_COLUMN,
    EVENT_COLUMN,
    TIMESTAMP_COLUMN,
    MESSAGE_ID_COLUMN,
    "user_id",
    "anonymous_id",
    "group_id",
    "previous_id",
    EVENT_PROFILE_COLUMN,
];

/// The `_ts.` column of trait `key`.
#[must_use]
pub fn ts_column(key: &str) -> String {
    format!("{TS_PREFIX}{key}")
}

/// The `_msg.` column of trait `key`.
#[must_use]
pub fn msg_column(key: &str) -> String {
    format!("{MSG_PREFIX}{key}")
}

/// Whether `name` is one of the hidden bookkeeping columns of the profiles table.
#[must_use]
pub fn is_hidden_profile_column(name: &str) -> bool {
    name == IDENTITY_COLUMN || name.starts_with(TS_PREFIX) || name.starts_with(MSG_PREFIX)
}

/// A message's event row: column names and values, in the order the row lists them. The
/// first cell is `profile_id`, NULL until the writer knows the profile.
pub(crate) type EventRow = Vec<(ColumnName, Value)>;

/// A message turned into column values, fitted to the schemas.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    /// The event row (without `profile_id`).
    pub event: EventRow,
    /// Identify traits that compete for the profile's trait columns.
    pub traits: Vec<(String, Value)>,
}

/// Number of [`MessageKind`]s.
const MESSAGE_KINDS: usize = 6;

/// The place of `kind` among the [`MessageKind`]s.
fn kind_slot(kind: MessageKind) -> usize {
    match kind {
        MessageKind::Identify => 0,
        MessageKind::Track => 1,
        MessageKind::Page => 2,
        MessageKind::Screen => 3,
        MessageKind::Group => 4,
        MessageKind::Alias => 5,
    }
}

/// Fits values to the schemas as the write will, remembering columns added earlier in the
/// same call, so a message that would fail the batch is rejected alone.
pub(crate) struct Fitter<'a> {
    profiles: &'a TableSchema,
    events: &'a TableSchema,
    /// Columns added by earlier messages of the call: profiles, events.
    pending: [FxHashMap<String, ColumnType>; 2],
    /// The events columns of `pending`, in the order they were added.
    events_added: Vec<(String, ColumnType)>,
    /// Identify trait keys an accepted message of the call already set: the key passed its
    /// checks and its `_ts.` and `_msg.` columns exist, so only its value needs fitting.
    traits_in_place: FxHashSet<String>,
    /// The known events column last seen at each place of an event row, per message kind:
    /// messages of one kind from one source list the same columns in the same order, so
    /// comparing names spares hashing. (One list for all kinds missed at every switch
    /// between, say, page views and tracked events.)
    event_places: [Vec<(String, ColumnType)>; MESSAGE_KINDS],
}

impl<'a> Fitter<'a> {
    /// A fitter over the current schemas.
    pub fn new(profiles: &'a TableSchema, events: &'a TableSchema) -> Self {
        Fitter {
            profiles,
            events,
            pending: [FxHashMap::default(), FxHashMap::default()],
            events_added: Vec::new(),
            traits_in_place: FxHashSet::default(),
            event_places: Default::default(),
        }
    }

    fn column_type(&self, table: TableKind, name: &str) -> Option<ColumnType> {
        let (schema, pending) = match table {
            TableKind::Profiles => (self.profiles, &self.pending[0]),
            TableKind::Events => (self.events, &self.pending[1]),
        };
        schema
            .column_type(name)
            .or_else(|| pending.get(name).copied())
    }

    /// The type of events column `name` when it exists (in the schema, or added by an
    /// earlier message of the call), remembering it as the column at `place`.
    fn known_event_column(
        &mut self,
        kind: MessageKind,
        place: usize,
        name: &str,
    ) -> Option<ColumnType> {
        let places = &self.event_places[kind_slot(kind)];
        if let Some((hinted, column_type)) = places.get(place) {
            if hinted == name {
                return Some(*column_type);
            }
        }
        let column_type = self.column_type(TableKind::Events, name)?;
        let places = &mut self.event_places[kind_slot(kind)];
        if let Some(entry) = places.get_mut(place) {
            // Events of one kind still vary (other properties, other names): reuse the
            // name's buffer rather than allocate a new one.
            entry.0.clear();
            entry.0.push_str(name);
            entry.1 = column_type;
        } else if place == places.len() {
            places.push((name.to_owned(), column_type));
        }
        Some(column_type)
    }

    /// Fits one value; a column it would add is noted in `added`.
    fn fit(
        &self,
        table: TableKind,
        name: &str,
        value: Value,
        added: &mut Vec<(TableKind, String, ColumnType)>,
    ) -> Result<Value, MessageRejection> {
        check_name(name)?;
        let known = self.column_type(table, name).or_else(|| {
            added
                .iter()
                .find(|(t, n, _)| *t == table && n == name)
                .map(|(_, _, c)| *c)
        });
        match known {
            Some(column_type) => Ok(value.coerce_to(column_type, name)?),
            None => {
                if let Some(column_type) = value.column_type() {
                    added.push((table, name.to_owned(), column_type));
                }
                Ok(value)
            }
        }
    }

    /// Fits the `_ts.` and `_msg.` columns of trait `key`.
    fn fit_trait_bookkeeping(
        &self,
        key: &str,
        added: &mut Vec<(TableKind, String, ColumnType)>,
    ) -> Result<(), MessageRejection> {
        self.fit(
            TableKind::Profiles,
            &ts_column(key),
            Value::Timestamp(0),
            added,
        )?;
        self.fit(
            TableKind::Profiles,
            &msg_column(key),
            Value::String(String::new()),
            added,
        )?;
        Ok(())
    }

    /// Fits a value the caller computed (not from a message); `None` if it does not fit.
    pub fn fit_derived(&mut self, table: TableKind, name: &str, value: Value) -> Option<Value> {
        let mut added = Vec::new();
        let fitted = self.fit(table, name, value, &mut added).ok()?;
        self.commit(added);
        Some(fitted)
    }

    fn commit(&mut self, added: Vec<(TableKind, String, ColumnType)>) {
        for (table, name, column_type) in added {
            if table == TableKind::Events {
                self.events_added.push((name.clone(), column_type));
            }
            let slot = usize::from(table == TableKind::Events);
            self.pending[slot].insert(name, column_type);
        }
    }

    /// The events columns fitted values added, in order: what a batch of fitted events
    /// declares (see [`crate::WriteBatch`]).
    pub fn take_events_added(&mut self) -> Vec<(String, ColumnType)> {
        std::mem::take(&mut self.events_added)
    }

    /// Fits `msg`, whose unfitted event row [`event_values`] made; `is_profile_trait` says
    /// which identify traits go to the profile (identifier keys and computed-trait names do
    /// not).
    pub fn prepare(
        &mut self,
        msg: &Message,
        mut event: EventRow,
        is_profile_trait: &dyn Fn(&str) -> bool,
    ) -> Result<Prepared, MessageRejection> {
        let mut added = Vec::new();
        for (place, (name, value)) in event.iter_mut().enumerate() {
            let unfitted = std::mem::replace(value, Value::Null);
            *value = match self.known_event_column(msg.kind, place, name) {
                Some(column_type) => unfitted.coerce_to(column_type, name)?,
                None => self.fit(TableKind::Events, name, unfitted, &mut added)?,
            };
        }
        let mut traits = Vec::new();
        let mut new_trait_keys = Vec::new();
        if msg.kind == MessageKind::Identify {
            for (key, value) in &msg.traits {
                // NULL never clears a trait: an event row cannot tell "set to null" from
                // "absent", and splits rebuild traits from event rows.
                if value.is_null() || !is_profile_trait(key) {
                    continue;
                }
                let in_place = self.traits_in_place.contains(key.as_str());
                if !in_place {
                    check_trait_key(key)?;
                }
                let fitted = self.fit(TableKind::Profiles, key, value.clone(), &mut added)?;
                if !in_place {
                    self.fit_trait_bookkeeping(key, &mut added)?;
                    new_trait_keys.push(key.clone());
                }
                traits.push((key.clone(), fitted));
            }
        }
        self.commit(added);
        self.traits_in_place.extend(new_trait_keys);
        Ok(Prepared { event, traits })
    }
}

/// The event row of a message, before fitting. It needs no schema, so callers make it
/// before taking the writer lock, on as many threads as help.
pub(crate) fn event_values(msg: &Message) -> EventRow {
    event_row(msg, msg.properties.iter().cloned())
}

/// Like [`event_values`], but moves the properties into the row instead of copying them:
/// nothing after the event row reads them, and copying every property of every message is
/// a large part of making the rows.
pub(crate) fn take_event_values(msg: &mut Message) -> EventRow {
    let properties = std::mem::take(&mut msg.properties);
    event_row(msg, properties.into_iter())
}

/// The event row of `msg` with `properties` as its properties.
fn event_row(
    msg: &Message,
    properties: impl ExactSizeIterator<Item = (String, Value)>,
) -> EventRow {
    let mut out = Vec::with_capacity(7 + properties.len() + msg.traits.len());
    let text = |s: &str| Value::String(s.to_owned());
    // The writer fills in the profile; reserving its place spares shifting every cell.
    out.push((EVENT_PROFILE_COLUMN.into(), Value::Null));
    out.push((TYPE_COLUMN.into(), text(msg.kind.name())));
    if let Some(event) = &msg.event {
        out.push((EVENT_COLUMN.into(), text(event)));
    }
    out.push((
        TIMESTAMP_COLUMN.into(),
        Value::Timestamp(msg.timestamp_micros),
    ));
    out.push((MESSAGE_ID_COLUMN.into(), text(&msg.message_id)));
    let ids = [
        ("user_id", &msg.user_id),
        ("anonymous_id", &msg.anonymous_id),
        ("group_id", &msg.group_id),
        ("previous_id", &msg.previous_id),
    ];
    for (name, id) in ids {
        if let Some(id) = id {
            out.push((name.into(), text(id)));
        }
    }
    for (key, value) in properties {
        let name = if RESERVED_EVENT_COLUMNS.contains(&key.as_str()) {
            format!("{PROPERTIES_PREFIX}{key}")
        } else {
            key
        };
        out.push((name.into(), value));
    }
    if matches!(msg.kind, MessageKind::Identify | MessageKind::Group) {
        for (key, value) in &msg.traits {
            out.push((format!("{TRAITS_PREFIX}{key}").into(), value.clone()));
        }
    }
    out
}

fn check_name(name: &str) -> Result<(), MessageRejection> {
    let reason = if name.is_empty() {
        "column names cannot be empty"
    } else if name.len() > MAX_COLUMN_NAME_BYTES {
        "column names are limited to 1024 bytes"
    } else {
        return Ok(());
    };
    Err(MessageRejection::Name {
        name: name.to_owned(),
        reason,
    })
}

fn check_trait_key(key: &str) -> Result<(), MessageRejection> {
    if is_hidden_profile_column(key) || key == EVENT_PROFILE_COLUMN {
        return Err(MessageRejection::Name {
            name: key.to_owned(),
            reason: "trait names `profile_id`, `_identity`, `_ts.*` and `_msg.*` are reserved",
        });
    }
    // The bookkeeping columns must fit too: `_ts.` + key within the name limit.
    check_name(&msg_column(key))
}
