//! The computed-trait states of every profile row, in a vector indexed by row.
//!
//! Profile rows are given out densely from zero, so a vector finds a row's states with one
//! memory access where a hash map needs two or three (its control bytes, its entry, then
//! the states). Trait upkeep looks up a row for every event it takes in.

use super::state::Slot;

/// Per profile row, one slot per computed trait (in the order of the definitions).
#[derive(Debug, Default)]
pub(crate) struct TraitStates {
    /// Indexed by row; empty for a row without states.
    by_row: Vec<Vec<Slot>>,
}

impl TraitStates {
    /// The slots of `row`, when it has any.
    pub fn get(&self, row: u32) -> Option<&Vec<Slot>> {
        self.by_row
            .get(index_of(row))
            .filter(|slots| !slots.is_empty())
    }

    /// The slots of `row` to change, when it has any.
    pub fn get_mut(&mut self, row: u32) -> Option<&mut Vec<Slot>> {
        self.by_row
            .get_mut(index_of(row))
            .filter(|slots| !slots.is_empty())
    }

    /// The slots of `row`, empty when it has none yet (for the caller to fill).
    pub fn entry(&mut self, row: u32) -> &mut Vec<Slot> {
        let index = index_of(row);
        if index >= self.by_row.len() {
            self.by_row.resize_with(index + 1, Vec::new);
        }
        &mut self.by_row[index]
    }

    /// Takes the slots of `row` away, when it has any.
    pub fn remove(&mut self, row: u32) -> Option<Vec<Slot>> {
        self.get_mut(row).map(std::mem::take)
    }

    /// Sets the slots of `row`.
    pub fn insert(&mut self, row: u32, slots: Vec<Slot>) {
        *self.entry(row) = slots;
    }

    /// The rows that have slots, ascending.
    pub fn rows(&self) -> Vec<u32> {
        self.iter().map(|(row, _)| row).collect()
    }

    /// Each row that has slots, with its slots, ascending.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &Vec<Slot>)> {
        self.by_row
            .iter()
            .enumerate()
            .filter(|(_, slots)| !slots.is_empty())
            .map(|(index, slots)| (row_of(index), slots))
    }

    /// Each row that has slots, with its slots to change, ascending.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (u32, &mut Vec<Slot>)> {
        self.by_row
            .iter_mut()
            .enumerate()
            .filter(|(_, slots)| !slots.is_empty())
            .map(|(index, slots)| (row_of(index), slots))
    }
}

fn index_of(row: u32) -> usize {
    usize::try_from(row).expect("a u32 row fits a usize")
}

fn row_of(index: usize) -> u32 {
    u32::try_from(index).expect("rows are u32")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profiles::computed::{Aggregate, ComputedTrait, TraitState};
    use crate::value::Value;

    fn slot() -> Slot {
        let definition = ComputedTrait {
            name: "orders".into(),
            aggregate: Aggregate::Count,
            event_filter: Vec::new(),
            window: None,
        };
        Slot {
            state: TraitState::new(&definition),
            written: Value::Int64(1),
        }
    }

    #[test]
    fn rows_without_slots_are_absent() {
        let mut states = TraitStates::default();
        states.insert(7, vec![slot()]);
        states.entry(3);
        assert!(states.get(3).is_none(), "an entry left empty is no state");
        assert!(states.get(100).is_none());
        assert_eq!(states.rows(), [7]);
        assert_eq!(states.remove(7).map(|slots| slots.len()), Some(1));
        assert!(states.get(7).is_none());
        assert!(states.remove(7).is_none());
        assert!(states.rows().is_empty());
    }

    #[test]
    fn rows_are_listed_ascending_whatever_the_order_of_insertion() {
        let mut states = TraitStates::default();
        for row in [9, 2, 5] {
            states.entry(row).push(slot());
        }
        assert_eq!(states.rows(), [2, 5, 9]);
        let changed: Vec<u32> = states.iter_mut().map(|(row, _)| row).collect();
        assert_eq!(changed, [2, 5, 9]);
    }
}
