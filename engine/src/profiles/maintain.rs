//! Incremental maintenance of computed traits and writing their values as profile columns.

use super::columns::Fitter;
use super::computed::{event_stamp, is_behavioural, ComputedTrait, TraitState};
use super::state::{Slot, State};
use super::trait_worker::TraitStates;
use crate::schema::TableKind;
use crate::value::Value;
use crate::WriteBatch;

/// Computed-trait values to upsert: per row, the changed (column, value) pairs.
pub(crate) type TraitUpserts = Vec<(u32, Vec<(String, Value)>)>;

/// The computed-trait upkeep of one call's events, lifted out of the event rows so that it
/// can run on another thread while the call's batch is logged and applied (see
/// [`Database::write_with_followup`](crate::db::Database::write_with_followup)).
#[derive(Debug, Default)]
pub(crate) struct TraitWork {
    /// One entry per (event, trait whose filter it passes), in event order.
    inputs: Vec<TraitInput>,
    /// Rows whose every trait value is checked afterwards, whether or not an event reached
    /// it: profiles that absorbed another in the call, whose states were folded together.
    recheck: Vec<u32>,
}

/// What one event brings to the computed traits of one row.
#[derive(Debug)]
struct TraitInput {
    /// The event's row; while the call is resolved, its slot (see [`TraitWork::add_event`]).
    row: u32,
    /// `None` when the event has no timestamp: it only gives the row its trait states.
    added: Option<AddedEvent>,
}

/// One event taken in by one trait.
#[derive(Debug)]
struct AddedEvent {
    /// Index of the trait among the definitions.
    definition: usize,
    timestamp: i64,
    /// Empty unless the aggregate orders by message id (`first`, `last`).
    message_id: String,
    /// The property the aggregate takes in, if the event has it.
    value: Option<Value>,
}

impl TraitWork {
    /// Adds what one event brings to the traits of `definitions`. `slot` stands for the
    /// event's row until [`TraitWork::assign_rows`]: the work is collected while a call is
    /// resolved, each event read once while it is still in cache, before merges settle
    /// which row each event ends on.
    pub fn add_event(
        &mut self,
        definitions: &[ComputedTrait],
        slot: u32,
        event: &super::columns::EventRow,
    ) {
        // The type, timestamp and message id are looked up once per event, not per trait.
        if definitions.is_empty() || !is_behavioural(event) {
            return;
        }
        let Some(first) = definitions.iter().position(|d| d.filter_matches(event)) else {
            return;
        };
        let Some((timestamp, message_id)) = event_stamp(event) else {
            self.inputs.push(TraitInput {
                row: slot,
                added: None,
            });
            return;
        };
        for (index, definition) in definitions.iter().enumerate().skip(first) {
            if index > first && !definition.filter_matches(event) {
                continue;
            }
            let message_id = if definition.uses_message_ids() {
                message_id.to_owned()
            } else {
                String::new()
            };
            self.inputs.push(TraitInput {
                row: slot,
                added: Some(AddedEvent {
                    definition: index,
                    timestamp,
                    message_id,
                    value: definition.input_of(event).cloned(),
                }),
            });
        }
    }

    /// Gives each input its event's row (`row_of` its slot), and names the rows whose every
    /// trait value is checked too (a merge changed their states).
    pub fn assign_rows(&mut self, row_of: impl Fn(u32) -> u32, recheck: Vec<u32>) {
        for input in &mut self.inputs {
            input.row = row_of(input.row);
        }
        self.recheck = recheck;
    }

    /// How many (event, trait) pairs there are to add.
    pub fn len(&self) -> usize {
        self.inputs.len()
    }

    /// Adds the events to the trait states in `computed`, then returns, per row whose
    /// values changed, the upsert of those values (fitted by `fitter`).
    ///
    /// Only the traits an event reached, and those of the `recheck` rows, are evaluated: the
    /// clock does not move during a call, so no other value can differ from the one written.
    /// Rows are taken one at a time, their events added and their values read while the
    /// row's states are still in cache.
    pub fn run(
        mut self,
        computed: &mut TraitStates,
        definitions: &[ComputedTrait],
        now: i64,
        fitter: &mut Fitter<'_>,
    ) -> TraitUpserts {
        // Stable: a row's events keep their order.
        self.inputs.sort_by_key(|input| input.row);
        self.recheck.sort_unstable();
        self.recheck.dedup();
        let mut inputs = self.inputs.into_iter().peekable();
        let mut recheck = self.recheck.into_iter().peekable();
        let mut upserts = Vec::new();
        loop {
            let row = match (inputs.peek(), recheck.peek()) {
                (Some(input), Some(&checked)) => input.row.min(checked),
                (Some(input), None) => input.row,
                (None, Some(&checked)) => checked,
                (None, None) => break,
            };
            let mut mask = match recheck.next_if_eq(&row) {
                Some(_) => TraitMask::ALL,
                None => TraitMask::NONE,
            };
            let slots = if inputs.peek().is_some_and(|input| input.row == row) {
                let slots = slots_of(computed, definitions, row);
                while let Some(input) = inputs.next_if(|input| input.row == row) {
                    mask = mask.union(add_input(slots, definitions, input, now));
                }
                slots
            } else if let Some(slots) = computed.get_mut(row) {
                slots
            } else {
                continue;
            };
            let cells = changed_cells(slots, definitions, now, mask, fitter);
            if !cells.is_empty() {
                upserts.push((row, cells));
            }
        }
        upserts
    }
}

/// Adds one event to the states of a row; the trait it reached, if it took the event in.
fn add_input(
    slots: &mut [Slot],
    definitions: &[ComputedTrait],
    input: TraitInput,
    now: i64,
) -> TraitMask {
    let Some(added) = input.added else {
        return TraitMask::NONE;
    };
    let taken = slots[added.definition].state.add_value(
        &definitions[added.definition],
        added.value.as_ref(),
        (added.timestamp, &added.message_id),
        now,
    );
    if taken {
        TraitMask::of(added.definition)
    } else {
        TraitMask::NONE
    }
}

/// Which of a row's computed traits to evaluate, one bit per definition. Definitions past
/// the 63rd share the last bit: they are evaluated together, which is only more work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TraitMask(u64);

impl TraitMask {
    /// Every trait.
    pub const ALL: TraitMask = TraitMask(u64::MAX);

    /// No trait.
    pub const NONE: TraitMask = TraitMask(0);

    /// The trait of index `definition`.
    fn of(definition: usize) -> TraitMask {
        TraitMask(1 << definition.min(63))
    }

    fn union(self, other: TraitMask) -> TraitMask {
        TraitMask(self.0 | other.0)
    }

    fn contains(self, definition: usize) -> bool {
        self.0 & TraitMask::of(definition).0 != 0
    }
}

/// The slots of `row`, one per definition, created empty when missing.
pub(crate) fn slots_of<'c>(
    computed: &'c mut TraitStates,
    definitions: &[ComputedTrait],
    row: u32,
) -> &'c mut Vec<Slot> {
    let slots = computed.get_or_insert_with(row, Vec::new);
    while slots.len() < definitions.len() {
        let definition = &definitions[slots.len()];
        slots.push(Slot {
            state: TraitState::new(definition),
            written: Value::Null,
        });
    }
    slots
}

/// Per row of `rows` whose trait values (those its mask names) differ from the last
/// written, the upsert of those values; each is then taken as written.
fn changed_values(
    computed: &mut TraitStates,
    definitions: &[ComputedTrait],
    now: i64,
    rows: impl IntoIterator<Item = u32>,
    fitter: &mut Fitter<'_>,
) -> TraitUpserts {
    let mut upserts = Vec::new();
    if definitions.is_empty() {
        return upserts;
    }
    for row in rows {
        let Some(slots) = computed.get_mut(row) else {
            continue;
        };
        let cells = changed_cells(slots, definitions, now, TraitMask::ALL, fitter);
        if !cells.is_empty() {
            upserts.push((row, cells));
        }
    }
    upserts
}

/// The (column, value) pairs of one row's traits named by `mask` whose value differs from
/// the last written; each is then taken as written.
fn changed_cells(
    slots: &mut [Slot],
    definitions: &[ComputedTrait],
    now: i64,
    mask: TraitMask,
    fitter: &mut Fitter<'_>,
) -> Vec<(String, Value)> {
    let mut cells = Vec::new();
    for (index, (slot, definition)) in slots.iter_mut().zip(definitions).enumerate() {
        if !mask.contains(index) {
            continue;
        }
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
    cells
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
    for (row, cells) in changed_values(&mut state.computed, definitions, now, rows, fitter) {
        batch.upsert_profile(row, cells);
    }
}

#[cfg(test)]
mod tests {
    use super::TraitMask;

    #[test]
    fn a_mask_names_its_traits_and_the_last_bit_covers_the_rest() {
        let mask = TraitMask::of(2).union(TraitMask::of(5));
        assert!(mask.contains(2) && mask.contains(5));
        assert!(!mask.contains(0) && !mask.contains(3) && !mask.contains(63));
        let far = TraitMask::of(70);
        assert!(far.contains(63) && far.contains(64) && far.contains(200));
        assert!(!far.contains(62));
        assert!((0..100).all(|index| TraitMask::ALL.contains(index)));
    }
}
