//! The strings of a chunk being built, and the sorted dictionary they become.
//!
//! Strings are kept back to back in one buffer as they arrive and deduplicated only when the
//! chunk is finished. Deduplicating on every push would cost a hash lookup (and, for a new
//! string, an allocation) on the thread producing the rows; finishing runs where encoding runs,
//! which for bulk loads is a helper thread. A chunk holds at most 65,536 rows, so keeping its
//! strings whole costs little memory.

use rustc_hash::FxBuildHasher;
use std::hash::BuildHasher;

/// Strings in arrival order, stored back to back.
#[derive(Debug, Clone, Default)]
pub(super) struct ChunkStrings {
    text: String,
    /// Where each string ends in `text`; it starts where the previous one ends.
    ends: Vec<usize>,
}

/// A chunk's dictionary: its distinct strings in ascending byte order, and for every collected
/// string (in arrival order) its code, the position of its value in `entries`.
#[derive(Debug)]
pub(super) struct Dictionary<'a> {
    pub(super) entries: Vec<&'a str>,
    pub(super) codes: Vec<u32>,
}

impl ChunkStrings {
    /// Appends `s`.
    pub(super) fn push(&mut self, s: &str) {
        self.text.push_str(s);
        self.ends.push(self.text.len());
    }

    /// Number of strings collected.
    pub(super) fn len(&self) -> usize {
        self.ends.len()
    }

    fn strings(&self) -> impl Iterator<Item = &str> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts
            .zip(&self.ends)
            .map(|(start, &end)| self.text.get(start..end).unwrap_or_default())
    }

    /// Deduplicates and sorts the strings into a dictionary; `extra` joins it even when no
    /// collected string equals it (null rows need a code too).
    pub(super) fn dictionary<'a>(&'a self, extra: Option<&'a str>) -> Dictionary<'a> {
        let mut index = DistinctIndex::default();
        let mut distinct: Vec<(&str, u32)> = Vec::new();
        let ids: Vec<u32> = self
            .strings()
            .map(|s| index.id_of(s, &mut distinct))
            .collect();
        if let Some(extra) = extra {
            index.id_of(extra, &mut distinct);
        }
        // Input that arrives sorted (ids, keys) keeps its order, which the sort detects in one
        // pass; a hash map's iteration order would have scrambled it.
        sort_by_text(&mut distinct);
        let mut code_of_id = vec![0u32; distinct.len()];
        for (code, &(_, id)) in (0u32..).zip(&distinct) {
            if let Some(slot) = code_of_id.get_mut(id as usize) {
                *slot = code;
            }
        }
        Dictionary {
            entries: distinct.into_iter().map(|(s, _)| s).collect(),
            codes: ids
                .iter()
                .map(|&id| code_of_id.get(id as usize).copied().unwrap_or(0))
                .collect(),
        }
    }
}

/// Sorts `(string, id)` pairs by string bytes.
///
/// Each string's first eight bytes, read as a big-endian integer (zero-padded), order the
/// strings as their bytes do wherever they differ, so most comparisons of a near-unique
/// column (ids, names) are one integer comparison instead of a `memcmp` call; only equal
/// prefixes compare the whole strings.
fn sort_by_text(distinct: &mut Vec<(&str, u32)>) {
    let mut keyed: Vec<(u64, &str, u32)> = distinct
        .iter()
        .map(|&(text, id)| (prefix_key(text), text, id))
        .collect();
    keyed.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1)));
    distinct.clear();
    distinct.extend(keyed.into_iter().map(|(_, text, id)| (text, id)));
}

/// The first eight bytes of `text` as a big-endian integer, zero-padded when shorter.
#[expect(
    clippy::big_endian_bytes,
    reason = "a sort key that must order as the bytes do; never stored"
)]
fn prefix_key(text: &str) -> u64 {
    let mut bytes = [0u8; 8];
    let head = &text.as_bytes()[..text.len().min(8)];
    bytes[..head.len()].copy_from_slice(head);
    u64::from_be_bytes(bytes)
}

/// Open-addressing hash index from string to its id (its position in the distinct list).
///
/// Each slot holds the upper 32 bits of the string's hash next to its id plus one (zero marks
/// an empty slot), so most mismatches are rejected without touching the string, and the table
/// can grow without hashing anything again.
#[derive(Default)]
struct DistinctIndex {
    slots: Vec<u64>,
    len: usize,
}

/// Slots of a fresh index: enough for low-cardinality columns without growing.
const INITIAL_SLOTS: usize = 64;

impl DistinctIndex {
    /// The id of `s`, appending it to `distinct` if it is new.
    fn id_of<'a>(&mut self, s: &'a str, distinct: &mut Vec<(&'a str, u32)>) -> u32 {
        if (self.len + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let fingerprint = FxBuildHasher.hash_one(s) >> 32;
        let mask = self.slots.len() - 1;
        let mut position = fingerprint as usize & mask;
        loop {
            let slot = self.slots.get(position).copied().unwrap_or(0);
            if slot == 0 {
                let id = u32::try_from(distinct.len()).unwrap_or(u32::MAX);
                distinct.push((s, id));
                if let Some(free) = self.slots.get_mut(position) {
                    *free = fingerprint << 32 | (u64::from(id) + 1);
                }
                self.len += 1;
                return id;
            }
            let id = (slot & u64::from(u32::MAX)) as u32 - 1;
            let same = slot >> 32 == fingerprint
                && distinct
                    .get(id as usize)
                    .is_some_and(|(known, _)| *known == s);
            if same {
                return id;
            }
            position = (position + 1) & mask;
        }
    }

    /// Doubles the table, placing every entry again by the fingerprint it keeps.
    fn grow(&mut self) {
        let capacity = (self.slots.len() * 2).max(INITIAL_SLOTS);
        let mask = capacity - 1;
        let mut slots = vec![0u64; capacity];
        for &slot in self.slots.iter().filter(|&&slot| slot != 0) {
            let mut position = (slot >> 32) as usize & mask;
            while slots.get(position).is_some_and(|&taken| taken != 0) {
                position = (position + 1) & mask;
            }
            if let Some(free) = slots.get_mut(position) {
                *free = slot;
            }
        }
        self.slots = slots;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    /// The dictionary computed the obvious way: a sorted set, then a binary search per string.
    fn naive(strings: &[String], extra: Option<&str>) -> (Vec<String>, Vec<u32>) {
        let mut set: BTreeSet<String> = strings.iter().cloned().collect();
        set.extend(extra.map(str::to_owned));
        let entries: Vec<String> = set.into_iter().collect();
        let codes = strings
            .iter()
            .map(|s| u32::try_from(entries.binary_search(s).unwrap()).unwrap())
            .collect();
        (entries, codes)
    }

    fn check(strings: &[String], extra: Option<&str>) {
        let mut collected = ChunkStrings::default();
        for s in strings {
            collected.push(s);
        }
        assert_eq!(collected.len(), strings.len());
        let dictionary = collected.dictionary(extra);
        let (entries, codes) = naive(strings, extra);
        assert_eq!(dictionary.entries, entries);
        assert_eq!(dictionary.codes, codes);
    }

    #[test]
    fn empty_collection_gives_an_empty_dictionary_or_just_the_extra() {
        check(&[], None);
        check(&[], Some(""));
    }

    #[test]
    fn extra_already_present_is_not_repeated() {
        let strings = ["b", "", "a", ""].map(str::to_owned);
        check(&strings, Some(""));
        check(&strings, Some("c"));
    }

    #[test]
    fn many_distinct_strings_grow_the_index() {
        // Far past the initial table, in an order that is neither sorted nor reversed.
        let strings: Vec<String> = (0..20_000u32)
            .map(|i| format!("k{}", i.wrapping_mul(7919) % 5_003))
            .collect();
        check(&strings, Some(""));
    }

    proptest! {
        #[test]
        fn matches_a_sorted_set(
            // NUL bytes and strings longer than the eight-byte sort prefix included.
            strings in prop::collection::vec("[a-c\u{0}\u{e9}\u{1F600}]{0,12}", 0..300),
            extra in prop::option::of("[a-c]{0,2}"),
        ) {
            check(&strings, extra.as_deref());
        }
    }
}
