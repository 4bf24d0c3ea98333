//! Event rows per profile, for the live event index.
//!
//! Profiles are numbered densely from zero by the profiles layer, so most ids index a vector:
//! one memory access per lookup, where a hash map needs two or three, and the index is
//! looked up for every new event of every write. An id far past the ids seen so far (a
//! database whose caller numbers profiles sparsely) goes to a hash map instead, so one
//! large id cannot make the vector huge.

use std::collections::BTreeMap;

/// The dense part grows to at least this many ids whatever the ids seen.
const DENSE_FLOOR: usize = 1 << 16;

/// Event rows of each profile, ascending within a profile as rows are appended in order.
#[derive(Debug, Default)]
pub(crate) struct RowsByProfile {
    /// Indexed by profile id.
    dense: Vec<Vec<u32>>,
    /// Profiles whose id was too far past the dense part when first filed; ordered, so
    /// those the vector comes to cover move to it in one split.
    sparse: BTreeMap<u32, Vec<u32>>,
}

impl RowsByProfile {
    /// The rows of `profile`, when it has any.
    pub fn get(&self, profile: u32) -> Option<&Vec<u32>> {
        let rows = match self.dense.get(index_of(profile)) {
            Some(rows) => rows,
            None => self.sparse.get(&profile)?,
        };
        (!rows.is_empty()).then_some(rows)
    }

    /// Files `row` under `profile`.
    pub fn push(&mut self, profile: u32, row: u32) {
        self.rows_mut(profile).push(row);
    }

    /// Takes the rows of `profile` away, when it has any.
    pub fn remove(&mut self, profile: u32) -> Option<Vec<u32>> {
        let rows = match self.dense.get_mut(index_of(profile)) {
            Some(rows) => std::mem::take(rows),
            None => self.sparse.remove(&profile)?,
        };
        (!rows.is_empty()).then_some(rows)
    }

    /// Sets the rows of `profile`.
    pub fn insert(&mut self, profile: u32, rows: Vec<u32>) {
        *self.rows_mut(profile) = rows;
    }

    fn rows_mut(&mut self, profile: u32) -> &mut Vec<u32> {
        let index = index_of(profile);
        if index >= self.dense.len() {
            let room = (self.dense.len() * 2).max(DENSE_FLOOR);
            if index >= room {
                return self.sparse.entry(profile).or_default();
            }
            // Ids filed sparsely while below the new length move to the vector.
            self.dense.resize_with(index + 1, Vec::new);
            self.absorb_sparse();
        }
        &mut self.dense[index]
    }

    /// Moves sparse entries the vector now covers into it.
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
        for (profile, rows) in std::mem::replace(&mut self.sparse, beyond) {
            self.dense[index_of(profile)] = rows;
        }
    }
}

fn index_of(profile: u32) -> usize {
    usize::try_from(profile).expect("a u32 id fits a usize")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_and_far_ids_keep_their_rows() {
        let mut index = RowsByProfile::default();
        for (profile, row) in [(0, 1), (7, 2), (u32::MAX, 3), (7, 4), (3_000_000, 5)] {
            index.push(profile, row);
        }
        assert_eq!(index.get(7), Some(&vec![2, 4]));
        assert_eq!(index.get(u32::MAX), Some(&vec![3]));
        assert_eq!(index.get(3_000_000), Some(&vec![5]));
        assert_eq!(index.get(8), None);
        assert!(
            index.dense.len() <= DENSE_FLOOR,
            "far ids stay out of the vector"
        );
        assert_eq!(index.remove(u32::MAX), Some(vec![3]));
        assert_eq!(index.get(u32::MAX), None);
        assert_eq!(index.remove(0), Some(vec![1]));
        assert_eq!(index.remove(0), None);
        index.insert(0, vec![9]);
        assert_eq!(index.get(0), Some(&vec![9]));
    }

    #[test]
    fn a_sparse_id_moves_to_the_vector_once_the_vector_reaches_it() {
        let mut index = RowsByProfile::default();
        let far = u32::try_from(DENSE_FLOOR * 3).unwrap();
        index.push(far, 1);
        assert!(index.sparse.contains_key(&far));
        // Ids filed in order grow the vector past the far id.
        for profile in 0..=far + 1 {
            index.push(profile, 2);
        }
        assert!(index.sparse.is_empty());
        assert_eq!(index.get(far), Some(&vec![1, 2]));
    }
}
