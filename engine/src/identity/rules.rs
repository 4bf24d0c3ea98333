//! The configuration compiled into per-code and per-node tables for the hot path.

use super::config::IdentityConfig;
use super::interner::Interner;
use super::types::IdentifierType;

/// "Not an identifier under the current rules" (unconfigured type or limit 0).
pub(crate) const NO_SLOT: u16 = u16::MAX;

/// Compiled rules. A *slot* is a type's index in `IdentityConfig::all_types`, the column of
/// the per-profile count table.
#[derive(Debug, Clone, Default)]
pub(crate) struct Rules {
    /// Per type code: its slot, or `NO_SLOT`.
    slot_of_code: Vec<u16>,
    /// Per type code: its priority rank (0 = most trusted).
    rank_of_code: Vec<u16>,
    /// Per slot: the per-profile limit.
    pub(crate) limits: Vec<u32>,
    /// Per slot: the type.
    pub(crate) slot_types: Vec<IdentifierType>,
    /// Per node: whether its value is blocked.
    pub(crate) blocked: Vec<bool>,
}

impl Rules {
    /// Compiles `config` for every code and node already in `interner`.
    pub(crate) fn new(config: &IdentityConfig, interner: &Interner) -> Rules {
        let slot_types = config.all_types();
        let limits = slot_types.iter().map(|t| config.limit(t)).collect();
        let mut rules = Rules {
            slot_of_code: Vec::new(),
            rank_of_code: Vec::new(),
            limits,
            slot_types,
            blocked: Vec::with_capacity(interner.len()),
        };
        for code in 0..interner.type_count() {
            let code = u16::try_from(code).unwrap_or(u16::MAX);
            rules.register_code(config, code, interner.type_of_code(code));
        }
        for node in 0..interner.len() {
            let node = u32::try_from(node).unwrap_or(u32::MAX);
            let kind = interner.type_of_code(interner.code(node));
            rules
                .blocked
                .push(config.is_blocked(kind, interner.value(node)));
        }
        rules
    }

    /// Number of slots (the count table's stride).
    pub(crate) fn stride(&self) -> usize {
        self.slot_types.len()
    }

    /// Records the slot and rank of a type code the interner just registered.
    pub(crate) fn register_code(
        &mut self,
        config: &IdentityConfig,
        code: u16,
        kind: &IdentifierType,
    ) {
        if usize::from(code) < self.slot_of_code.len() {
            return;
        }
        let slot = self
            .slot_types
            .iter()
            .position(|t| t == kind)
            .filter(|&s| self.limits[s] > 0)
            .and_then(|s| u16::try_from(s).ok())
            .unwrap_or(NO_SLOT);
        let rank = u16::try_from(config.rank(kind)).unwrap_or(u16::MAX);
        self.slot_of_code.push(slot);
        self.rank_of_code.push(rank);
    }

    /// The slot of a type code.
    pub(crate) fn slot(&self, code: u16) -> u16 {
        self.slot_of_code
            .get(usize::from(code))
            .copied()
            .unwrap_or(NO_SLOT)
    }

    /// The priority rank of a type code.
    pub(crate) fn rank(&self, code: u16) -> u16 {
        self.rank_of_code
            .get(usize::from(code))
            .copied()
            .unwrap_or(u16::MAX)
    }
}
