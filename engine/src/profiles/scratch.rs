//! Computed traits recomputed from the stored events (at open, at trait creation, after a
//! split, and by tests checking the incremental values).

use super::columns::{MESSAGE_ID_COLUMN, TIMESTAMP_COLUMN, TYPE_COLUMN};
use super::computed::{ComputedTrait, TraitState};
use crate::db::EVENT_PROFILE_COLUMN;
use crate::error::Result;
use crate::schema::TableKind;
use crate::snapshot::Snapshot;
use crate::value::Value;
use roaring::RoaringBitmap;
use std::collections::HashMap;

/// The value of `definition` at clock `now` for every profile with a non-NULL value,
/// computed from the events of `snapshot` alone.
///
/// # Errors
/// Corruption found while reading.
pub fn recompute_from_scratch(
    definition: &ComputedTrait,
    snapshot: &Snapshot,
    now: i64,
) -> Result<HashMap<u32, Value>> {
    Ok(recompute_all(definition, snapshot, now)?
        .into_iter()
        .map(|(row, state)| (row, state.value(definition, now)))
        .filter(|(_, v)| !v.is_null())
        .collect())
}

/// The state of `definition` per profile over every live event.
pub(crate) fn recompute_all(
    definition: &ComputedTrait,
    snapshot: &Snapshot,
    now: i64,
) -> Result<HashMap<u32, TraitState>> {
    let rows = snapshot.live_rows(TableKind::Events).clone();
    recompute_rows(definition, snapshot, now, &rows)
}

/// The state of `definition` per profile over the event rows `rows`.
pub(crate) fn recompute_rows(
    definition: &ComputedTrait,
    snapshot: &Snapshot,
    now: i64,
    rows: &RoaringBitmap,
) -> Result<HashMap<u32, TraitState>> {
    let mut out = HashMap::new();
    let (names, columns) = fetch_columns(snapshot, definition, rows)?;
    let Some(owners) = columns.first() else {
        return Ok(out);
    };
    for i in 0..owners.len() {
        let Some(profile) = as_row(&owners[i]) else {
            continue;
        };
        let event: Vec<(String, Value)> = names
            .iter()
            .zip(&columns)
            .skip(1)
            .map(|(name, values)| (name.clone(), values[i].clone()))
            .collect();
        out.entry(profile)
            .or_insert_with(|| TraitState::new(definition))
            .add(definition, &event, now);
    }
    Ok(out)
}

fn as_row(value: &Value) -> Option<u32> {
    match value {
        Value::Int64(p) => u32::try_from(*p).ok(),
        _ => None,
    }
}

/// Names and values (aligned with `rows`) of the event columns `definition` needs; the first
/// column is `profile_id`. Columns the table lacks are left out (they read as NULL).
fn fetch_columns(
    snapshot: &Snapshot,
    definition: &ComputedTrait,
    rows: &RoaringBitmap,
) -> Result<(Vec<String>, Vec<Vec<Value>>)> {
    let mut names: Vec<String> = [
        EVENT_PROFILE_COLUMN,
        TYPE_COLUMN,
        TIMESTAMP_COLUMN,
        MESSAGE_ID_COLUMN,
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    for column in definition.columns() {
        if !names.contains(&column) {
            names.push(column);
        }
    }
    let schema = snapshot.schema(TableKind::Events);
    names.retain(|n| schema.column(n).is_some());
    if names.first().map(String::as_str) != Some(EVENT_PROFILE_COLUMN) {
        return Ok((Vec::new(), Vec::new()));
    }
    let columns = names
        .iter()
        .map(|n| snapshot.fetch(TableKind::Events, n, rows))
        .collect::<Result<Vec<_>>>()?;
    Ok((names, columns))
}
