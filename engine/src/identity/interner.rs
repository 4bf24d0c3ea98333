//! Interning of identifiers: (type, value) → dense node id.
//!
//! Every identifier the graph has ever seen gets a node id, in first-seen order, so the rest
//! of the graph works on `u32`s. With tens of millions of identifiers the lookup dominates
//! resolution, and what costs is memory traffic, not hashing. So values live back to back in
//! one string (no allocation per identifier), and the lookup index is an open-addressing table
//! whose 8-byte slots hold a node id *and* the top 32 bits of its hash: a probe reads one
//! cache line of the index and touches a node's value only when those 32 bits match, so
//! interning an unseen identifier costs a single random memory access.
//!
//! The home slot of a hash is its top bits, so the table is ordered by hash: doubling it moves
//! each slot to about twice its position, a sequential pass that never re-reads a value or
//! recomputes a hash. Hashes are keyed per graph ([`RandomState`]), so crafted identifiers
//! cannot force collisions.

use super::log::ATTACHED;
use super::types::{Identifier, IdentifierType};
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;

/// Number of built-in type codes (0-4); custom codes follow in first-seen order.
pub(crate) const BUILTIN_CODES: u16 = 5;

/// An index slot holding no node.
const EMPTY: u64 = 0;
/// Log2 of the slots of the smallest index.
const MIN_SLOT_BITS: u32 = 6;

/// The identifier intern table.
#[derive(Debug, Clone, Default)]
pub(crate) struct Interner {
    /// Type name per code; codes 0-4 are the built-ins in [`IdentifierType::BUILTIN`] order.
    types: Vec<IdentifierType>,
    /// Every node's value, back to back in node order.
    text: String,
    /// Per node: the end of its value in `text`.
    value_end: Vec<usize>,
    /// Per node: its type code.
    node_code: Vec<u16>,
    /// Open-addressing index (linear probing, at most three quarters full — a probe past the
    /// home slot compares tags in the same cache line, so fuller is cheaper than bigger):
    /// [`slot_of`] values or
    /// `EMPTY`; its length is a power of two.
    slots: Vec<u64>,
    /// Log2 of `slots.len()` (0 while the index is unallocated).
    slot_bits: u32,
    /// Keys the hashes of this graph.
    hasher: RandomState,
}

/// The slot contents for `node` whose hash has top 32 bits `tag` (node + 1, so that no
/// node's slot is `EMPTY`).
fn slot_of(tag: u32, node: u32) -> u64 {
    (u64::from(tag) << 32) | u64::from(node + 1)
}

/// The top 32 bits of the hash a slot stores.
fn tag_of(slot: u64) -> u32 {
    // Truncation is the point: the high half of the slot is the tag.
    (slot >> 32) as u32
}

/// The node a non-empty slot stores.
fn node_of(slot: u64) -> u32 {
    // Truncation is the point: the low half of the slot is node + 1.
    (slot as u32) - 1
}

impl Interner {
    /// An empty table knowing the built-in types.
    pub(crate) fn new() -> Interner {
        let mut interner = Interner::default();
        interner.types.extend(IdentifierType::BUILTIN);
        interner
    }

    /// The code of `kind`, if it was ever seen.
    pub(crate) fn code_of(&self, kind: &IdentifierType) -> Option<u16> {
        if let Some(code) = kind.builtin_code() {
            return Some(code);
        }
        let pos = self.types[BUILTIN_CODES as usize..]
            .iter()
            .position(|t| t == kind)?;
        u16::try_from(pos).ok().map(|p| p + BUILTIN_CODES)
    }

    /// The code of `kind`, registering it when new; `None` once 65 535 types exist (no
    /// configuration has that many, so such identifiers are ignored rather than logged).
    pub(crate) fn code_or_insert(&mut self, kind: &IdentifierType) -> Option<u16> {
        if let Some(code) = self.code_of(kind) {
            return Some(code);
        }
        let code = u16::try_from(self.types.len())
            .ok()
            .filter(|&c| c != u16::MAX)?;
        self.types.push(kind.clone());
        Some(code)
    }

    /// The type with `code`.
    pub(crate) fn type_of_code(&self, code: u16) -> &IdentifierType {
        &self.types[usize::from(code)]
    }

    /// Number of registered type codes.
    pub(crate) fn type_count(&self) -> usize {
        self.types.len()
    }

    /// The node of an identifier, if seen.
    pub(crate) fn get(&self, id: &Identifier) -> Option<u32> {
        let code = self.code_of(&id.kind)?;
        let tag = self.tag(code, &id.value);
        self.find(code, &id.value, tag).ok()
    }

    /// The node of (`code`, `value`), creating it when new; returns (node, is_new).
    pub(crate) fn intern(&mut self, code: u16, value: &str) -> (u32, bool) {
        self.reserve(1);
        let tag = self.tag(code, value);
        self.intern_tagged(code, value, tag)
    }

    /// Grows the index so that `additional` more nodes fit without growing again.
    pub(crate) fn reserve(&mut self, additional: usize) {
        while (self.value_end.len() + additional) * 4 > self.slots.len() * 3 {
            self.grow();
        }
    }

    /// Reads the home slots of `tags` ahead of interning their identifiers. The reads do not
    /// depend on each other, so the processor overlaps their cache misses; interning the
    /// identifiers one by one would wait for each miss in turn.
    pub(crate) fn warm(&self, tags: impl Iterator<Item = u32>) {
        if self.slots.is_empty() {
            return;
        }
        let loaded = tags.fold(0, |acc, tag| acc ^ self.slots[self.home(tag)]);
        std::hint::black_box(loaded);
    }

    /// [`Interner::intern`] for a value whose [`Interner::tag`] is known; the index must have
    /// room for one more node ([`Interner::reserve`]).
    pub(crate) fn intern_tagged(&mut self, code: u16, value: &str, tag: u32) -> (u32, bool) {
        let slot = match self.find(code, value, tag) {
            Ok(node) => return (node, false),
            Err(slot) => slot,
        };
        let node = u32::try_from(self.value_end.len())
            .ok()
            .filter(|n| n & ATTACHED == 0)
            .expect("fewer than 2^31 identifiers");
        self.slots[slot] = slot_of(tag, node);
        self.text.push_str(value);
        self.value_end.push(self.text.len());
        self.node_code.push(code);
        (node, true)
    }

    /// The top 32 bits of the keyed hash of (`code`, `value`): all the index keeps of it.
    pub(crate) fn tag(&self, code: u16, value: &str) -> u32 {
        // Truncation is the point: the top bits are the tag.
        (self.hasher.hash_one((code, value)) >> 32) as u32
    }

    /// The home slot of `tag`: its top `slot_bits` bits.
    fn home(&self, tag: u32) -> usize {
        // `slot_bits` is at least 1 once the index exists; the index never exceeds 2^32 slots.
        (tag >> (32 - self.slot_bits)) as usize
    }

    /// The node of (`code`, `value`), or the empty slot where it would go.
    pub(crate) fn find(&self, code: u16, value: &str, tag: u32) -> Result<u32, usize> {
        if self.slots.is_empty() {
            return Err(0);
        }
        let mask = self.slots.len() - 1;
        let mut slot = self.home(tag);
        loop {
            let entry = self.slots[slot];
            if entry == EMPTY {
                return Err(slot);
            }
            if tag_of(entry) == tag {
                let node = node_of(entry);
                if self.node_code[node as usize] == code && self.value(node) == value {
                    return Ok(node);
                }
            }
            slot = (slot + 1) & mask;
        }
    }

    /// Doubles the index, moving every slot by the tag it holds.
    fn grow(&mut self) {
        let bits = (self.slot_bits + 1).max(MIN_SLOT_BITS);
        assert!(
            bits <= 32,
            "the identifier index holds fewer than 2^31 nodes"
        );
        // Written out rather than allocated zeroed: the move below reads a slot before writing
        // it, and reading a never-written page maps the shared zero page only for the write
        // to fault a second time.
        let cleared = std::iter::repeat_n(EMPTY, 1 << bits).collect();
        let old = std::mem::replace(&mut self.slots, cleared);
        self.slot_bits = bits;
        let mask = self.slots.len() - 1;
        for entry in old.into_iter().filter(|&e| e != EMPTY) {
            let mut slot = self.home(tag_of(entry));
            while self.slots[slot] != EMPTY {
                slot = (slot + 1) & mask;
            }
            self.slots[slot] = entry;
        }
    }

    /// Number of nodes.
    pub(crate) fn len(&self) -> usize {
        self.value_end.len()
    }

    /// Bytes of all node values together.
    pub(crate) fn text_len(&self) -> usize {
        self.text.len()
    }

    /// The type code of `node`.
    pub(crate) fn code(&self, node: u32) -> u16 {
        self.node_code[node as usize]
    }

    /// The value of `node`.
    pub(crate) fn value(&self, node: u32) -> &str {
        let n = node as usize;
        let start = if n == 0 { 0 } else { self.value_end[n - 1] };
        &self.text[start..self.value_end[n]]
    }

    /// The identifier of `node`.
    pub(crate) fn identifier(&self, node: u32) -> Identifier {
        Identifier {
            kind: self.type_of_code(self.code(node)).clone(),
            value: self.value(node).to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Nodes are dense and first-seen ordered; equal values of different types stay apart;
    /// every node is found again after the index grew many times.
    #[test]
    fn nodes_survive_growth_and_types_stay_apart() {
        let mut interner = Interner::new();
        let user = IdentifierType::UserId.builtin_code().unwrap();
        let email = IdentifierType::Email.builtin_code().unwrap();
        for i in 0..10_000u32 {
            assert_eq!(interner.intern(user, &format!("v{i}")), (2 * i, true));
            assert_eq!(interner.intern(email, &format!("v{i}")), (2 * i + 1, true));
        }
        assert_eq!(interner.intern(user, ""), (20_000, true));
        for i in (0..10_000u32).step_by(97) {
            assert_eq!(interner.intern(user, &format!("v{i}")), (2 * i, false));
            let found = interner.get(&Identifier::new(IdentifierType::Email, format!("v{i}")));
            assert_eq!(found, Some(2 * i + 1));
            assert_eq!(interner.value(2 * i + 1), format!("v{i}"));
            assert_eq!(interner.code(2 * i + 1), email);
        }
        assert_eq!(interner.get(&Identifier::user_id("")), Some(20_000));
        assert_eq!(interner.get(&Identifier::user_id("v10000")), None);
        assert_eq!(interner.len(), 20_001);
    }

    /// Identifiers whose hashes share the 32 bits the index keeps stay apart: a tag match
    /// only leads to comparing the values, across growth too.
    #[test]
    fn equal_tags_are_told_apart_by_value() {
        let mut interner = Interner::new();
        let user = IdentifierType::UserId.builtin_code().unwrap();
        let email = IdentifierType::Email.builtin_code().unwrap();
        let tag = 0x8000_0001;
        for is_new in [true, false] {
            for i in 0..100u32 {
                interner.reserve(2);
                let value = format!("v{i}");
                assert_eq!(interner.intern_tagged(user, &value, tag), (2 * i, is_new));
                assert_eq!(
                    interner.intern_tagged(email, &value, tag),
                    (2 * i + 1, is_new)
                );
            }
        }
        interner.reserve(1);
        assert_eq!(interner.intern_tagged(user, "v100", tag), (200, true));
    }
}
