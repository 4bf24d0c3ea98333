//! The profile view: everything known about one person, found by any identifier.

use super::columns::{msg_column, ts_column, MSG_PREFIX, TIMESTAMP_COLUMN, TS_PREFIX};
use super::error::{ProfilesError, ProfilesResult};
use super::ingest::identifier_columns;
use super::Profiles;
use crate::identity::{Identifier, IdentifierType, ProfileId};
use crate::schema::TableKind;
use crate::value::Value;
use serde_json::{json, Map, Value as Json};

/// Prefix (after flattening) of the traits reported as consent: a `consent` object in the
/// traits (`{"consent": {"email": true}}`) and dotted keys (`consent.email`) both land here.
pub const CONSENT_PREFIX: &str = "consent.";

/// One identifier of a profile.
#[derive(Debug, Clone, PartialEq)]
pub struct IdentifierView {
    /// Type name (`email`, `user_id`, custom).
    pub kind: String,
    /// Normalized value.
    pub value: String,
    /// Earliest message timestamp that carried it (µs).
    pub first_seen: i64,
    /// Latest message timestamp that carried it (µs).
    pub last_seen: i64,
}

/// One trait with when and by which message it was last set.
#[derive(Debug, Clone, PartialEq)]
pub struct TraitView {
    /// Trait name (flattened with dots).
    pub name: String,
    /// Current value.
    pub value: Value,
    /// Timestamp of the message that set it (µs).
    pub set_at: Option<i64>,
    /// Id of the message that set it.
    pub set_by: Option<String>,
}

/// A whole profile.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileView {
    /// The profile's row id (the `profile_id` queries see).
    pub profile_id: u32,
    /// The identity graph's id of the profile.
    pub identity_profile: u32,
    /// Every identifier, in first-attached order.
    pub identifiers: Vec<IdentifierView>,
    /// Traits set by identify calls (consent traits excluded), by name.
    pub traits: Vec<TraitView>,
    /// Consent traits (`consent.*`), by name.
    pub consent: Vec<TraitView>,
    /// Computed traits with a value, by name.
    pub computed: Vec<(String, Value)>,
    /// The latest events (by timestamp, newest first), each as its non-NULL columns.
    pub events: Vec<Vec<(String, Value)>>,
}

impl Profiles {
    /// The profile holding `identifier` (`type:value`, e.g. `email:alice@example.com`,
    /// `user_id:42`), with its latest `latest_events` events; `None` if nobody has it.
    ///
    /// # Errors
    /// [`ProfilesError::BadIdentifier`] when the text is not `type:value`; read errors.
    pub fn profile(
        &self,
        identifier: &str,
        latest_events: usize,
    ) -> ProfilesResult<Option<ProfileView>> {
        let identifier = parse_identifier(identifier)?;
        let state = self.state.lock();
        let snapshot = self.db.snapshot();
        let found = self.db.with_graph(|g| {
            let profile = g.canonical(g.lookup(&identifier)?);
            let identifiers = g
                .identifiers_of_profile(profile)
                .into_iter()
                .map(|r| IdentifierView {
                    kind: r.identifier.kind.name().to_owned(),
                    value: r.identifier.value,
                    first_seen: r.first_seen,
                    last_seen: r.last_seen,
                })
                .collect::<Vec<_>>();
            Some((profile, identifiers, identifier_columns(g.config())))
        });
        let Some((ProfileId(profile), identifiers, id_columns)) = found else {
            return Ok(None);
        };
        let Some(row) = state.row(profile) else {
            return Ok(None);
        };
        let computed_names: Vec<&str> = state
            .definitions
            .traits
            .iter()
            .map(|t| t.name.as_str())
            .collect();
        // Only the columns the view shows are read: computed traits, and traits stamped by
        // messages (with their stamps) that are not identifiers (those come from the graph).
        let schema = snapshot.schema(TableKind::Profiles);
        let shown_trait =
            |name: &str| !id_columns.contains(name) && schema.column(&ts_column(name)).is_some();
        let wanted = |name: &str| {
            let stamp_of = name
                .strip_prefix(TS_PREFIX)
                .or_else(|| name.strip_prefix(MSG_PREFIX));
            computed_names.contains(&name)
                || match stamp_of {
                    Some(base) => shown_trait(base),
                    None => shown_trait(name),
                }
        };
        let values = snapshot
            .read_row_columns(TableKind::Profiles, row, wanted)?
            .unwrap_or_default();
        let lookup = |name: &str| values.iter().find(|(n, _)| n == name).map(|(_, v)| v);
        let mut view = ProfileView {
            profile_id: row,
            identity_profile: profile,
            identifiers,
            traits: Vec::new(),
            consent: Vec::new(),
            computed: Vec::new(),
            events: Vec::new(),
        };
        for (name, value) in &values {
            if computed_names.contains(&name.as_str()) {
                view.computed.push((name.clone(), value.clone()));
                continue;
            }
            let stamped = lookup(&ts_column(name)).is_some();
            if !stamped || name.starts_with(TS_PREFIX) || id_columns.contains(name) {
                continue;
            }
            let item = TraitView {
                name: name.clone(),
                value: value.clone(),
                set_at: match lookup(&ts_column(name)) {
                    Some(Value::Timestamp(t)) => Some(*t),
                    _ => None,
                },
                set_by: match lookup(&msg_column(name)) {
                    Some(Value::String(m)) => Some(m.clone()),
                    _ => None,
                },
            };
            if name.starts_with(CONSENT_PREFIX) {
                view.consent.push(item);
            } else {
                view.traits.push(item);
            }
        }
        drop(state);
        view.traits.sort_by(|a, b| a.name.cmp(&b.name));
        view.consent.sort_by(|a, b| a.name.cmp(&b.name));
        view.computed.sort_by(|a, b| a.0.cmp(&b.0));
        let event_rows = self.events.events_of(&snapshot, row)?;
        view.events = newest_events(&snapshot, &event_rows, latest_events)?;
        Ok(Some(view))
    }
}

fn parse_identifier(text: &str) -> ProfilesResult<Identifier> {
    match text.split_once(':') {
        Some((kind, value)) if !kind.is_empty() && !value.is_empty() => Ok(Identifier::new(
            IdentifierType::from_name(kind.trim()),
            value,
        )),
        _ => Err(ProfilesError::BadIdentifier(text.to_owned())),
    }
}

/// Above this many events, timestamps are fetched by one column read instead of one point
/// read per event.
const POINT_READ_MAX_EVENTS: usize = 2_048;

/// The `n` newest of the event `rows` (by timestamp, then row), newest first, each as its
/// non-NULL columns.
fn newest_events(
    snapshot: &crate::Snapshot,
    rows: &[u32],
    n: usize,
) -> crate::Result<Vec<Vec<(String, Value)>>> {
    if n == 0 || rows.is_empty() {
        return Ok(Vec::new());
    }
    let stamps = if rows.len() > POINT_READ_MAX_EVENTS {
        let bitmap: roaring::RoaringBitmap = rows.iter().copied().collect();
        snapshot.fetch(TableKind::Events, TIMESTAMP_COLUMN, &bitmap)?
    } else {
        rows.iter()
            .map(|&r| snapshot.read_cell(TableKind::Events, r, TIMESTAMP_COLUMN))
            .collect::<crate::Result<Vec<_>>>()?
    };
    let mut order: Vec<(i64, u32)> = rows
        .iter()
        .zip(stamps)
        .map(|(&r, t)| match t {
            Value::Timestamp(t) => (t, r),
            _ => (i64::MIN, r),
        })
        .collect();
    let n = n.min(order.len());
    order.select_nth_unstable_by(n - 1, |a, b| b.cmp(a));
    order.truncate(n);
    order.sort_unstable_by(|a, b| b.cmp(a));
    order
        .into_iter()
        .map(|(_, r)| Ok(snapshot.read_row(TableKind::Events, r)?.unwrap_or_default()))
        .collect()
}

impl ProfileView {
    /// The view as JSON (timestamps as RFC 3339 UTC strings).
    #[must_use]
    pub fn to_json(&self) -> Json {
        let traits = |items: &[TraitView]| {
            items
                .iter()
                .map(|t| {
                    json!({
                        "name": t.name,
                        "value": plain_json(&t.value),
                        "set_at": t.set_at.map(format_timestamp),
                        "set_by": t.set_by,
                    })
                })
                .collect::<Vec<_>>()
        };
        let object = |cells: &[(String, Value)]| {
            cells
                .iter()
                .map(|(k, v)| (k.clone(), plain_json(v)))
                .collect::<Map<String, Json>>()
        };
        json!({
            "profile_id": self.profile_id,
            "identity_profile": self.identity_profile,
            "identifiers": self.identifiers.iter().map(|i| json!({
                "type": i.kind,
                "value": i.value,
                "first_seen": format_timestamp(i.first_seen),
                "last_seen": format_timestamp(i.last_seen),
            })).collect::<Vec<_>>(),
            "traits": traits(&self.traits),
            "consent": traits(&self.consent),
            "computed_traits": object(&self.computed),
            "events": self.events.iter().map(|e| Json::Object(object(e))).collect::<Vec<_>>(),
        })
    }
}

/// A value as plain JSON (timestamps as RFC 3339 strings).
fn plain_json(value: &Value) -> Json {
    match value {
        Value::Null => Json::Null,
        Value::Bool(b) => json!(b),
        Value::Int64(i) => json!(i),
        Value::Float64(f) => json!(f),
        Value::Timestamp(t) => json!(format_timestamp(*t)),
        Value::String(s) => json!(s),
        Value::StringList(l) => json!(l),
    }
}

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ` for µs since the epoch (proleptic Gregorian, UTC).
#[must_use]
pub fn format_timestamp(micros: i64) -> String {
    let days = micros.div_euclid(super::computed::DAY_MICROS);
    let in_day = micros.rem_euclid(super::computed::DAY_MICROS);
    let (y, m, d) = civil_from_days(days);
    let secs = in_day / 1_000_000;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:06}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        in_day % 1_000_000
    )
}

/// (year, month, day) of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}
