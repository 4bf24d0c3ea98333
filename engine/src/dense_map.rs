//! A map from `u32` ids to values, for ids handed out densely from zero (profile rows).
//!
//! Most ids index a vector: one memory access per lookup, where a hash map needs two or
//! three (its control bytes, its entry, then the value), and ingest looks ids up for every
//! event. An id far past the ids seen so far (a caller that numbers profiles sparsely) goes
//! to an ordered map instead, so one large id cannot make the vector huge; once the vector
//! grows to cover it, it moves into the vector.

use std::collections::BTreeMap;

/// The vector may always grow to this many ids, whatever the ids seen.
const DENSE_FLOOR: usize = 1 << 16;

/// Values by `u32` id; iteration is in ascending id order.
#[derive(Debug, Clone)]
pub struct DenseMap<V> {
    /// Indexed by id.
    dense: Vec<Option<V>>,
    /// Ids too far past the vector's end when first inserted; every key is at least
    /// `dense.len()`.
    sparse: BTreeMap<u32, V>,
}

impl<V> Default for DenseMap<V> {
    fn default() -> Self {
        DenseMap {
            dense: Vec::new(),
            sparse: BTreeMap::new(),
        }
    }
}

impl<V> DenseMap<V> {
    /// The value of `id`, if any.
    #[must_use]
    pub fn get(&self, id: u32) -> Option<&V> {
        match self.dense.get(index_of(id)) {
            Some(slot) => slot.as_ref(),
            None => self.sparse.get(&id),
        }
    }

    /// The value of `id` to change, if any.
    pub fn get_mut(&mut self, id: u32) -> Option<&mut V> {
        match self.dense.get_mut(index_of(id)) {
            Some(slot) => slot.as_mut(),
            None => self.sparse.get_mut(&id),
        }
    }

    /// The value of `id`, made by `make` when it has none.
    pub fn get_or_insert_with(&mut self, id: u32, make: impl FnOnce() -> V) -> &mut V {
        let index = index_of(id);
        if index >= self.dense.len() {
            let room = (self.dense.len() * 2).max(DENSE_FLOOR);
            if index >= room {
                return self.sparse.entry(id).or_insert_with(make);
            }
            self.dense.resize_with(index + 1, || None);
            self.absorb_sparse();
        }
        self.dense[index].get_or_insert_with(make)
    }

    /// Sets the value of `id`, returning the one it replaces.
    pub fn insert(&mut self, id: u32, value: V) -> Option<V> {
        let mut value = Some(value);
        let slot = self.get_or_insert_with(id, || value.take().expect("taken once"));
        value.map(|value| std::mem::replace(slot, value))
    }

    /// Takes the value of `id` away, if any.
    pub fn remove(&mut self, id: u32) -> Option<V> {
        match self.dense.get_mut(index_of(id)) {
            Some(slot) => slot.take(),
            None => self.sparse.remove(&id),
        }
    }

    /// Each id with its value, ascending.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &V)> {
        let dense = self.dense.iter().enumerate();
        dense
            .filter_map(|(index, slot)| Some((id_of(index), slot.as_ref()?)))
            .chain(self.sparse.iter().map(|(&id, value)| (id, value)))
    }

    /// Each id with its value to change, ascending.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (u32, &mut V)> {
        let dense = self.dense.iter_mut().enumerate();
        dense
            .filter_map(|(index, slot)| Some((id_of(index), slot.as_mut()?)))
            .chain(self.sparse.iter_mut().map(|(&id, value)| (id, value)))
    }

    /// The ids that have a value, ascending.
    #[must_use]
    pub fn ids(&self) -> Vec<u32> {
        self.iter().map(|(id, _)| id).collect()
    }

    /// Moves the sparse entries the vector now covers into it.
    fn absorb_sparse(&mut self) {
        let Ok(end) = u32::try_from(self.dense.len()) else {
            return;
        };
        if self
            .sparse
            .first_key_value()
            .is_none_or(|(&first, _)| first >= end)
        {
            return;
        }
        let beyond = self.sparse.split_off(&end);
        for (id, value) in std::mem::replace(&mut self.sparse, beyond) {
            self.dense[index_of(id)] = Some(value);
        }
    }
}

fn index_of(id: u32) -> usize {
    usize::try_from(id).expect("a u32 id fits a usize")
}

fn id_of(index: usize) -> u32 {
    u32::try_from(index).expect("the vector holds u32 ids only")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_and_far_ids_keep_their_values() {
        let mut map = DenseMap::default();
        for (id, value) in [(0, 1), (7, 2), (u32::MAX, 3), (3_000_000, 5)] {
            assert_eq!(map.insert(id, value), None);
        }
        assert_eq!(map.insert(7, 4), Some(2));
        assert_eq!(map.get(7), Some(&4));
        assert_eq!(map.get(u32::MAX), Some(&3));
        assert_eq!(map.get(3_000_000), Some(&5));
        assert_eq!(map.get(8), None);
        assert!(
            map.dense.len() <= DENSE_FLOOR,
            "far ids stay out of the vector"
        );
        assert_eq!(map.ids(), [0, 7, 3_000_000, u32::MAX]);
        assert_eq!(map.remove(u32::MAX), Some(3));
        assert_eq!(map.get(u32::MAX), None);
        assert_eq!(map.remove(0), Some(1));
        assert_eq!(map.remove(0), None);
        *map.get_or_insert_with(0, || 0) += 9;
        assert_eq!(map.get(0), Some(&9));
        for (_, value) in map.iter_mut() {
            *value += 1;
        }
        let all: Vec<(u32, i32)> = map.iter().map(|(id, value)| (id, *value)).collect();
        assert_eq!(all, [(0, 10), (7, 5), (3_000_000, 6)]);
    }

    #[test]
    fn a_sparse_id_moves_to_the_vector_once_the_vector_reaches_it() {
        let mut map = DenseMap::default();
        let far = u32::try_from(DENSE_FLOOR * 3).unwrap();
        map.insert(far, vec![1]);
        assert!(map.sparse.contains_key(&far));
        // Ids inserted in order grow the vector past the far id.
        for id in 0..=far + 1 {
            map.get_or_insert_with(id, Vec::new).push(2);
        }
        assert!(map.sparse.is_empty());
        assert_eq!(map.get(far), Some(&vec![1, 2]));
        assert_eq!(map.ids().len(), index_of(far) + 2);
    }
}
