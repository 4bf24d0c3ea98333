//! Time edges: when, without any write, a profile's membership could next change.
//!
//! For a condition `column <op> now() + c`, a row whose value is `v` changes truth only when
//! the clock reaches `v - c` or `v - c + 1` (the two sides of the boundary, which covers every
//! operator). A profile's next edge is the earliest such instant after the clock over all its
//! rows and all the segment's time conditions: re-evaluating it then (and scheduling its next
//! edge again) keeps the segment exact for any window length, touching only profiles whose
//! rows actually cross a window edge.

use std::collections::BTreeSet;

use profiledb_engine::{TableKind, Value};
use roaring::RoaringBitmap;

use super::analysis::TimeLeaf;
use super::hash::IdMap;
use super::restrict::RestrictedCatalog;
use crate::error::QueryError;

/// Pending time edges of one segment: profile → next instant it must be re-evaluated.
#[derive(Debug, Default)]
pub(crate) struct Schedule {
    due: BTreeSet<(i64, u32)>,
    next_of: IdMap<u32, i64>,
}

impl Schedule {
    /// Sets (or with `None` clears) the next edge of `profile`.
    pub(crate) fn set(&mut self, profile: u32, next: Option<i64>) {
        // Most re-evaluations leave a profile's edge where it was: skip the tree updates.
        if self.next_of.get(&profile) == next.as_ref() {
            return;
        }
        if let Some(old) = self.next_of.remove(&profile) {
            self.due.remove(&(old, profile));
        }
        if let Some(at) = next {
            self.next_of.insert(profile, at);
            self.due.insert((at, profile));
        }
    }

    /// The earliest pending edge.
    pub(crate) fn first(&self) -> Option<i64> {
        self.due.first().map(|(at, _)| *at)
    }

    /// Removes and returns the profiles whose edge is at or before `at`.
    pub(crate) fn take_due(&mut self, at: i64) -> RoaringBitmap {
        let mut profiles = RoaringBitmap::new();
        while let Some(&(edge, profile)) = self.due.first() {
            if edge > at {
                break;
            }
            self.due.pop_first();
            self.next_of.remove(&profile);
            profiles.insert(profile);
        }
        profiles
    }

    /// Number of profiles with a pending edge.
    pub(crate) fn len(&self) -> usize {
        self.next_of.len()
    }
}

/// The next edge after `now` of each profile of `only` that `catalog` shows, over the
/// segment's time conditions; profiles without one map to `None`.
pub(crate) fn next_edges(
    leaves: &[TimeLeaf],
    catalog: &RestrictedCatalog<'_>,
    only: &RoaringBitmap,
    now: i64,
) -> Result<IdMap<u32, Option<i64>>, QueryError> {
    let profiles = catalog.restricted(TableKind::Profiles).rows() & only;
    let mut next: IdMap<u32, Option<i64>> = profiles.iter().map(|p| (p, None)).collect();
    for leaf in leaves {
        let table = catalog.restricted(leaf.table);
        let values = table.column(&leaf.column)?;
        let owners = match leaf.table {
            TableKind::Profiles => None,
            TableKind::Events => Some(table.column(profiledb_engine::EVENT_PROFILE_COLUMN)?),
        };
        for (index, (row, value)) in table.rows().iter().zip(values.iter()).enumerate() {
            let owner = match &owners {
                None => Some(row),
                Some(owners) => owners.get(index).and_then(owner_of),
            };
            let (Some(owner), Some(edge)) = (owner, row_edge(value, &leaf.offsets, now)) else {
                continue;
            };
            if let Some(slot) = next.get_mut(&owner) {
                *slot = Some(slot.map_or(edge, |e| e.min(edge)));
            }
        }
    }
    Ok(next)
}

fn owner_of(value: &Value) -> Option<u32> {
    match value {
        Value::Int64(id) => u32::try_from(*id).ok(),
        _ => None,
    }
}

/// The earliest instant after `now` at which a row holding `value` may change truth.
fn row_edge(value: &Value, offsets: &[i64], now: i64) -> Option<i64> {
    let Value::Timestamp(v) = value else {
        return None;
    };
    offsets
        .iter()
        .filter_map(|c| v.checked_sub(*c))
        .flat_map(|boundary| [Some(boundary), boundary.checked_add(1)])
        .flatten()
        .filter(|edge| *edge > now)
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_orders_and_replaces_edges() {
        let mut s = Schedule::default();
        s.set(1, Some(10));
        s.set(2, Some(5));
        s.set(1, Some(3));
        assert_eq!(s.first(), Some(3));
        assert_eq!(s.take_due(5).iter().collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(s.len(), 0);
        s.set(3, Some(1));
        s.set(3, None);
        assert_eq!(s.first(), None);
    }

    #[test]
    fn row_edges_straddle_the_boundary() {
        let day = 86_400_000_000;
        // ts >= now - 30 days: the row ages out when now passes ts + 30 days.
        let edge = row_edge(&Value::Timestamp(0), &[-30 * day], 0);
        assert_eq!(edge, Some(30 * day));
        assert_eq!(
            row_edge(&Value::Timestamp(0), &[-30 * day], 30 * day),
            Some(30 * day + 1)
        );
        assert_eq!(row_edge(&Value::Timestamp(0), &[-30 * day], 31 * day), None);
        assert_eq!(row_edge(&Value::Null, &[0], 0), None);
    }
}
