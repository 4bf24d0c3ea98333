//! In-memory state derived from the database: the identity-profile → row map, the recent
//! message ids, and the computed-trait states. Rebuilt at open from the tables and the
//! identity graph's link log, so it needs no file of its own.

use super::columns::IDENTITY_COLUMN;
use super::computed::{ComputedTrait, TraitState};
use super::definitions::Definitions;
use super::scratch::recompute_all;
use super::trait_worker::TraitStates;
use crate::error::Result;
use crate::identity::IdentityGraph;
use crate::schema::TableKind;
use crate::snapshot::Snapshot;
use crate::value::Value;
use std::collections::{HashSet, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

/// "No row" in [`State::rows`].
pub(crate) const NO_ROW: u32 = u32::MAX;

/// Hasher for keys that are already uniformly distributed hashes: folds them, no mixing.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct FoldHasher(u64);

impl Hasher for FoldHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 ^= u64::from_le_bytes(word);
        }
    }

    fn write_u128(&mut self, value: u128) {
        #[expect(clippy::cast_possible_truncation, reason = "folding the halves")]
        let folded = (value as u64) ^ ((value >> 64) as u64);
        self.0 ^= folded;
    }
}

/// A set of message-id keys (see [`message_key`]).
pub(crate) type KeySet = HashSet<u128, BuildHasherDefault<FoldHasher>>;

/// A 128-bit key of a message id: two FNV-1a passes with different offsets (collisions
/// among a window of millions of ids are negligible, about 2^-88).
pub(crate) fn message_key(message_id: &str) -> u128 {
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut a: u64 = 0xcbf2_9ce4_8422_2325;
    let mut b: u64 = 0x6c62_272e_07bb_0142;
    for &byte in message_id.as_bytes() {
        a = (a ^ u64::from(byte)).wrapping_mul(PRIME);
        b = (b ^ u64::from(byte)).wrapping_mul(PRIME).rotate_left(29);
    }
    // Final avalanche so that ids differing in the last byte spread over the table.
    let mix = |mut x: u64| {
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^ (x >> 33)
    };
    (u128::from(mix(a)) << 64) | u128::from(mix(b ^ a.rotate_left(17)))
}

/// The most message ids a window reserves room for when it is made.
const MAX_RESERVED_IDS: usize = 1 << 22;

/// The last `capacity` accepted message ids, as 128-bit keys.
#[derive(Debug, Default)]
pub(crate) struct Dedup {
    capacity: usize,
    set: KeySet,
    order: VecDeque<u128>,
}

impl Dedup {
    /// An empty window of `capacity` ids, with room for all of them: a window that grew
    /// as it filled would rehash every id and fault in fresh pages at each doubling. Pages
    /// are only touched as ids arrive.
    pub fn new(capacity: usize) -> Dedup {
        // One more: an insert adds before it evicts. A window set far larger than usual
        // grows as it fills instead of reserving its whole size at once.
        let room = capacity.saturating_add(1).min(MAX_RESERVED_IDS);
        Dedup {
            capacity,
            set: KeySet::with_capacity_and_hasher(room, BuildHasherDefault::default()),
            order: VecDeque::with_capacity(room),
        }
    }

    /// Whether the message with key `key` is in the window.
    pub fn contains(&self, key: u128) -> bool {
        self.set.contains(&key)
    }

    /// Adds a message key, evicting the oldest when full.
    pub fn insert(&mut self, key: u128) {
        if self.capacity == 0 {
            return;
        }
        if !self.set.insert(key) {
            return;
        }
        self.order.push_back(key);
        if self.order.len() > self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
    }
}

/// One computed trait of one profile: its state and the value last written to the column.
#[derive(Debug, Clone)]
pub(crate) struct Slot {
    pub state: TraitState,
    pub written: Value,
}

/// Everything the profiles layer keeps in memory.
#[derive(Debug, Default)]
pub(crate) struct State {
    /// Profiles row of each identity-graph profile id (`NO_ROW`: none yet or dead).
    pub rows: Vec<u32>,
    /// Recently accepted message ids.
    pub dedup: Dedup,
    /// Computed-trait definitions and the clock.
    pub definitions: Definitions,
    /// Per profiles row: one slot per computed trait (same order as the definitions).
    pub computed: TraitStates,
}

impl State {
    /// Rebuilds the state from a snapshot and the graph.
    pub fn rebuild(
        snapshot: &Snapshot,
        graph: &IdentityGraph,
        definitions: Definitions,
        dedup_window: usize,
    ) -> Result<State> {
        let mut state = State {
            dedup: Dedup::new(dedup_window),
            definitions,
            ..State::default()
        };
        let log = &graph.log;
        for k in log.len().saturating_sub(dedup_window)..log.len() {
            state.dedup.insert(message_key(log.message_id(k)));
        }
        state.rows = identity_rows(snapshot)?;
        let traits = state.definitions.traits.clone();
        let now = state.definitions.clock;
        for (index, definition) in traits.iter().enumerate() {
            state.load_trait(snapshot, index, definition, now)?;
        }
        Ok(state)
    }

    /// Computes trait `index` from scratch into every profile's slot; `written` is what the
    /// column holds now (so a later sync writes only differences).
    pub fn load_trait(
        &mut self,
        snapshot: &Snapshot,
        index: usize,
        definition: &ComputedTrait,
        now: i64,
    ) -> Result<()> {
        let states = recompute_all(definition, snapshot, now)?;
        let written = column_values(snapshot, &definition.name)?;
        for (row, state) in states {
            let slots = self.slots_mut(row);
            slots[index].state = state;
        }
        for (row, value) in written {
            let slots = self.slots_mut(row);
            slots[index].written = value;
        }
        Ok(())
    }

    /// The slots of `row`, created empty when missing.
    pub fn slots_mut(&mut self, row: u32) -> &mut Vec<Slot> {
        super::maintain::slots_of(&mut self.computed, &self.definitions.traits, row)
    }

    /// The row of identity profile `p`, if it has a live one.
    pub fn row(&self, p: u32) -> Option<u32> {
        self.rows.get(p as usize).copied().filter(|&r| r != NO_ROW)
    }

    /// Records that identity profile `p` lives in `row` (or nowhere, with `NO_ROW`).
    pub fn set_row(&mut self, p: u32, row: u32) {
        let index = p as usize;
        if self.rows.len() <= index {
            self.rows.resize(index + 1, NO_ROW);
        }
        self.rows[index] = row;
    }
}

/// The identity profile → row map, from the `_identity` column of live profiles.
fn identity_rows(snapshot: &Snapshot) -> Result<Vec<u32>> {
    let mut rows = Vec::new();
    for (row, value) in column_values(snapshot, IDENTITY_COLUMN)? {
        if let Value::Int64(p) = value {
            if let Ok(p) = usize::try_from(p) {
                if rows.len() <= p {
                    rows.resize(p + 1, NO_ROW);
                }
                rows[p] = row;
            }
        }
    }
    Ok(rows)
}

/// Non-NULL values of a profiles column for every live row (empty if the column is unknown).
pub(crate) fn column_values(snapshot: &Snapshot, column: &str) -> Result<Vec<(u32, Value)>> {
    if snapshot
        .schema(TableKind::Profiles)
        .column(column)
        .is_none()
    {
        return Ok(Vec::new());
    }
    let rows = snapshot.live_rows(TableKind::Profiles);
    let values = snapshot.fetch(TableKind::Profiles, column, rows)?;
    Ok(rows
        .iter()
        .zip(values)
        .filter(|(_, v)| !v.is_null())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The window remembers exactly the last `capacity` ids.
    #[test]
    fn the_dedup_window_keeps_the_last_ids_and_forgets_older_ones() {
        for capacity in [0, 1, 3, 1_000] {
            let mut window = Dedup::new(capacity);
            let ids = capacity.min(10) + 3;
            for id in 0..ids {
                window.insert(message_key(&format!("m{id}")));
                // A repeat is no new entry: it must not push an older id out.
                window.insert(message_key(&format!("m{id}")));
            }
            for id in 0..ids {
                let kept = id + capacity >= ids;
                let key = message_key(&format!("m{id}"));
                assert_eq!(window.contains(key), kept, "capacity {capacity}, id {id}");
            }
        }
    }
}
