//! Interning of identifiers: (type, value) → dense node id.
//!
//! Every identifier the graph has ever seen gets a node id, in first-seen order, so the rest
//! of the graph works on `u32`s. Values are stored once (`Arc<str>` shared by the lookup map and
//! the node table) and looked up by `&str`, so a message whose identifiers are all known
//! allocates nothing here.

use super::log::ATTACHED;
use super::types::{Identifier, IdentifierType};
use std::collections::HashMap;
use std::sync::Arc;

/// Number of built-in type codes (0-4); custom codes follow in first-seen order.
pub(crate) const BUILTIN_CODES: u16 = 5;

/// The identifier intern table.
#[derive(Debug, Clone, Default)]
pub(crate) struct Interner {
    /// Type name per code; codes 0-4 are the built-ins in [`IdentifierType::BUILTIN`] order.
    types: Vec<IdentifierType>,
    /// Per type code: value → node id.
    maps: Vec<HashMap<Arc<str>, u32>>,
    /// Per node: its type code.
    node_code: Vec<u16>,
    /// Per node: its value.
    node_value: Vec<Arc<str>>,
}

impl Interner {
    /// An empty table knowing the built-in types.
    pub(crate) fn new() -> Interner {
        let mut interner = Interner::default();
        for t in IdentifierType::BUILTIN {
            interner.types.push(t);
            interner.maps.push(HashMap::new());
        }
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
        self.maps.push(HashMap::new());
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
        self.maps[usize::from(code)].get(id.value.as_str()).copied()
    }

    /// The node of (`code`, `value`), creating it when new; returns (node, is_new).
    pub(crate) fn intern(&mut self, code: u16, value: &str) -> (u32, bool) {
        let map = &mut self.maps[usize::from(code)];
        if let Some(&node) = map.get(value) {
            return (node, false);
        }
        let node = u32::try_from(self.node_code.len())
            .ok()
            .filter(|n| n & ATTACHED == 0)
            .expect("fewer than 2^31 identifiers");
        let shared: Arc<str> = Arc::from(value);
        map.insert(Arc::clone(&shared), node);
        self.node_code.push(code);
        self.node_value.push(shared);
        (node, true)
    }

    /// Number of nodes.
    pub(crate) fn len(&self) -> usize {
        self.node_code.len()
    }

    /// The type code of `node`.
    pub(crate) fn code(&self, node: u32) -> u16 {
        self.node_code[node as usize]
    }

    /// The value of `node`.
    pub(crate) fn value(&self, node: u32) -> &str {
        &self.node_value[node as usize]
    }

    /// The identifier of `node`.
    pub(crate) fn identifier(&self, node: u32) -> Identifier {
        Identifier {
            kind: self.type_of_code(self.code(node)).clone(),
            value: self.value(node).to_owned(),
        }
    }
}
