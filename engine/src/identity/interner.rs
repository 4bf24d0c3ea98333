//! Interning of identifiers: (type, value) → dense node id.
//!
//! Every identifier the graph has ever seen gets a node id, in first-seen order, so the rest
//! of the graph works on `u32`s. With tens of millions of identifiers the lookup dominates
//! resolution, and what costs is memory traffic, not hashing. So values live back to back in
//! one string (no allocation per identifier), and the lookup index is an open-addressing table
//! of bare node ids (4 bytes a slot) next to a per-node hash: a probe reads one slot, growing
//! the table never re-reads a value, and a message whose identifiers are all known allocates
//! nothing. Hashes are keyed per graph ([`RandomState`]), so crafted identifiers cannot force
//! collisions.

use super::log::ATTACHED;
use super::types::{Identifier, IdentifierType};
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;

/// Number of built-in type codes (0-4); custom codes follow in first-seen order.
pub(crate) const BUILTIN_CODES: u16 = 5;

/// An index slot holding no node.
const EMPTY: u32 = u32::MAX;
/// Slots of the smallest index.
const MIN_SLOTS: usize = 64;

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
    /// Per node: the hash of (type code, value).
    node_hash: Vec<u64>,
    /// Open-addressing index (linear probing, at most half full): node ids or `EMPTY`.
    slots: Vec<u32>,
    /// Keys the hashes of this graph.
    hasher: RandomState,
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
        let hash = self.hash(code, &id.value);
        self.find(code, &id.value, hash).ok()
    }

    /// The node of (`code`, `value`), creating it when new; returns (node, is_new).
    pub(crate) fn intern(&mut self, code: u16, value: &str) -> (u32, bool) {
        if self.value_end.len() * 2 >= self.slots.len() {
            self.grow();
        }
        let hash = self.hash(code, value);
        let slot = match self.find(code, value, hash) {
            Ok(node) => return (node, false),
            Err(slot) => slot,
        };
        let node = u32::try_from(self.value_end.len())
            .ok()
            .filter(|n| n & ATTACHED == 0)
            .expect("fewer than 2^31 identifiers");
        self.slots[slot] = node;
        self.text.push_str(value);
        self.value_end.push(self.text.len());
        self.node_code.push(code);
        self.node_hash.push(hash);
        (node, true)
    }

    fn hash(&self, code: u16, value: &str) -> u64 {
        self.hasher.hash_one((code, value))
    }

    /// The node of (`code`, `value`), or the empty slot where it would go.
    fn find(&self, code: u16, value: &str, hash: u64) -> Result<u32, usize> {
        if self.slots.is_empty() {
            return Err(0);
        }
        let mask = self.slots.len() - 1;
        // Truncation is the point: the low bits pick the first slot.
        let mut slot = hash as usize & mask;
        loop {
            let node = self.slots[slot];
            if node == EMPTY {
                return Err(slot);
            }
            let n = node as usize;
            if self.node_hash[n] == hash && self.node_code[n] == code && self.value(node) == value {
                return Ok(node);
            }
            slot = (slot + 1) & mask;
        }
    }

    /// Doubles the index and re-inserts every node by its stored hash.
    fn grow(&mut self) {
        let size = (self.slots.len() * 2).max(MIN_SLOTS);
        self.slots = vec![EMPTY; size];
        let mask = size - 1;
        for (node, &hash) in self.node_hash.iter().enumerate() {
            let mut slot = hash as usize & mask;
            while self.slots[slot] != EMPTY {
                slot = (slot + 1) & mask;
            }
            self.slots[slot] = u32::try_from(node).expect("node ids fit u32");
        }
    }

    /// Number of nodes.
    pub(crate) fn len(&self) -> usize {
        self.value_end.len()
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
}
