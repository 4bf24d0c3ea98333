//! Restricted re-evaluation split across two threads by profile.
//!
//! Whether a profile belongs to a local segment depends on that profile's own rows alone, so
//! the profiles of a write can be cut in two and each half evaluated on its own thread, each
//! with its own restricted catalog. Only segments that read no other segment qualify: the
//! others need the membership their upstream segments take in the same round. Upkeep runs
//! after the write, when the threads that parsed and computed traits are idle, so on a
//! machine with two cores the second half is close to free.

use std::collections::{BTreeMap, HashMap};

use profiledb_engine::Snapshot;
use roaring::RoaringBitmap;

use super::error::LiveError;
use super::hash::IdMap;
use super::manager::{evaluate_restricted, SegmentState};
use super::restrict::{EventIndex, RestrictedCatalog};
use crate::engine_catalog::SnapshotCatalog;

/// Fewest profiles worth splitting: below it, starting a thread costs more than it saves.
pub(crate) const SPLIT_MIN_PROFILES: u64 = 4096;

/// What a restricted evaluation found for one segment.
#[derive(Debug, Default)]
pub(crate) struct Evaluated {
    /// The evaluated profiles that belong to the segment.
    pub(crate) selected: RoaringBitmap,
    /// Each evaluated profile's next time edge, for segments that schedule edges.
    pub(crate) edges: Option<IdMap<u32, Option<i64>>>,
}

impl Evaluated {
    /// Takes in the findings for another, disjoint set of profiles.
    fn absorb(&mut self, other: Evaluated) {
        self.selected |= other.selected;
        match (&mut self.edges, other.edges) {
            (Some(mine), Some(theirs)) => mine.extend(theirs),
            (mine @ None, theirs) => *mine = theirs,
            (Some(_), None) => {}
        }
    }
}

/// Whether splitting is worth it for a round over `profiles`.
pub(crate) fn worth_splitting(profiles: &RoaringBitmap) -> bool {
    profiles.len() >= SPLIT_MIN_PROFILES
        && std::thread::available_parallelism().is_ok_and(|threads| threads.get() >= 2)
}

/// What a split round evaluates: the segments named (which read no other segment), over a
/// snapshot and its event index, at one instant.
pub(crate) struct SplitRound<'a> {
    /// Every live segment (the definitions are read from here).
    pub(crate) segments: &'a BTreeMap<String, SegmentState>,
    /// The segments to evaluate.
    pub(crate) names: &'a [&'a str],
    /// The database as of the write.
    pub(crate) snapshot: &'a Snapshot,
    /// Which event rows belong to which profile, caught up with `snapshot`.
    pub(crate) index: &'a EventIndex,
    /// The instant of the round (µs since the epoch).
    pub(crate) at: i64,
}

impl SplitRound<'_> {
    /// Evaluates each segment for `profiles`, half of the profiles on a second thread.
    pub(crate) fn evaluate(
        &self,
        profiles: &RoaringBitmap,
    ) -> Result<HashMap<String, Evaluated>, LiveError> {
        let (lower, upper) = halves(profiles);
        let (mine, theirs) = std::thread::scope(|scope| {
            let other = scope.spawn(|| self.evaluate_half(&upper));
            let mine = self.evaluate_half(&lower);
            let theirs = other
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (mine, theirs)
        });
        let mut found = mine?;
        for (name, evaluated) in theirs? {
            found.entry(name).or_default().absorb(evaluated);
        }
        Ok(found)
    }

    /// Evaluates each segment for `profiles` through one restricted catalog.
    fn evaluate_half(
        &self,
        profiles: &RoaringBitmap,
    ) -> Result<HashMap<String, Evaluated>, LiveError> {
        let full = SnapshotCatalog::new(self.snapshot).with_now(self.at);
        let catalog = RestrictedCatalog::new(&full, self.snapshot, self.index, profiles, self.at)?;
        let mut found = HashMap::with_capacity(self.names.len());
        for &name in self.names {
            if let Some(state) = self.segments.get(name) {
                let evaluated =
                    evaluate_restricted(self.segments, state, &catalog, profiles, self.at)?;
                found.insert(name.to_owned(), evaluated);
            }
        }
        Ok(found)
    }
}

/// `profiles` cut in two of nearly equal size, the lower ids first. Each half is a
/// contiguous range of ids, which keeps each thread's reads close together.
fn halves(profiles: &RoaringBitmap) -> (RoaringBitmap, RoaringBitmap) {
    let Some(middle) = profiles.select(u32::try_from(profiles.len() / 2).unwrap_or(u32::MAX))
    else {
        return (profiles.clone(), RoaringBitmap::new());
    };
    let mut lower = profiles.clone();
    lower.remove_range(middle..);
    let upper = profiles - &lower;
    (lower, upper)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halves_cover_the_profiles_once_and_evenly() {
        let profiles: RoaringBitmap = (0..10_001).map(|i| i * 3).collect();
        let (lower, upper) = halves(&profiles);
        assert_eq!(&lower | &upper, profiles);
        assert!(lower.is_disjoint(&upper));
        assert!(lower.max() < upper.min());
        assert_eq!(lower.len(), 5_000);
        assert_eq!(upper.len(), 5_001);
        let (one, none) = halves(&RoaringBitmap::from_iter([7]));
        assert_eq!((one.len(), none.len()), (0, 1));
    }
}
