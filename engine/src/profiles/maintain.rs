//! Incremental maintenance of computed traits and writing their values as profile columns.

use super::columns::Fitter;
use super::computed::{event_stamp, is_behavioural};
use super::state::State;
use crate::schema::TableKind;
use crate::WriteBatch;

/// Adds the call's events (row, values) to the computed-trait states; returns the rows whose
/// state changed, in event order (a row may repeat).
pub(crate) fn add_events(
    state: &mut State,
    events: &[(u32, super::columns::EventRow)],
) -> Vec<u32> {
    let mut changed = Vec::new();
    let count = state.definitions.traits.len();
    if count == 0 {
        return changed;
    }
    let now = state.definitions.clock;
    let definitions = state.definitions.traits.clone();
    for (row, event) in events {
        // The type, timestamp and message id are looked up once per event, not per trait.
        if !is_behavioural(event) {
            continue;
        }
        let Some(first) = definitions.iter().position(|d| d.filter_matches(event)) else {
            continue;
        };
        // A matching event gives the row its trait states, even without a timestamp to add.
        let slots = state.slots_mut(*row, count);
        let Some(stamp) = event_stamp(event) else {
            continue;
        };
        for (index, definition) in definitions.iter().enumerate().skip(first) {
            if index > first && !definition.filter_matches(event) {
                continue;
            }
            if slots[index]
                .state
                .add_matching(definition, event, stamp, now)
            {
                changed.push(*row);
            }
        }
    }
    changed
}

/// Upserts the computed-trait columns of `rows` whose value differs from the last written.
pub(crate) fn write_computed(
    state: &mut State,
    rows: impl IntoIterator<Item = u32>,
    batch: &mut WriteBatch,
    fitter: &mut Fitter<'_>,
) {
    let now = state.definitions.clock;
    let definitions = &state.definitions.traits;
    if definitions.is_empty() {
        return;
    }
    for row in rows {
        let Some(slots) = state.computed.get_mut(&row) else {
            continue;
        };
        let mut cells = Vec::new();
        for (slot, definition) in slots.iter_mut().zip(definitions) {
            let value = slot.state.value(definition, now);
            if value == slot.written {
                continue;
            }
            // A value of another type than the column's is left out (the column keeps the
            // last value that fitted); definitions are checked at creation to avoid this.
            if let Some(fitted) =
                fitter.fit_derived(TableKind::Profiles, &definition.name, value.clone())
            {
                cells.push((definition.name.clone(), fitted));
                slot.written = value;
            }
        }
        if !cells.is_empty() {
            batch.upsert_profile(row, cells);
        }
    }
}
