//! Turning chunk-local positions into global row ids.
//!
//! A chunk holds up to 65,536 consecutive positions of a segment. When the segment's rows at
//! those positions are consecutive ("dense") the mapping is an offset; compacted segments keep
//! their rows dense and chunk-aligned, so the common case is cheap.

use roaring::RoaringBitmap;

/// Roaring's portable format: cookie of a bitmap with run containers (low 16 bits).
const SERIAL_COOKIE_WITH_RUNS: u32 = 12_347;
/// Roaring's portable format: cookie of a bitmap without run containers.
const SERIAL_COOKIE_NO_RUNS: u32 = 12_346;

/// How the positions of one chunk map to rows.
#[derive(Debug, Clone)]
pub(crate) enum ChunkRows {
    /// Position `p` is row `start + p`.
    Dense { start: u32 },
    /// Position `p` is row `rows[p]`.
    Listed(Vec<u32>),
}

impl ChunkRows {
    /// The position of global `row` in the chunk, if the chunk holds it.
    pub(super) fn position(&self, row: u32) -> Option<usize> {
        match self {
            ChunkRows::Dense { start } => row.checked_sub(*start).map(|p| p as usize),
            ChunkRows::Listed(rows) => rows.binary_search(&row).ok(),
        }
    }

    /// Maps a bitset over positions (`len` valid bits) to a bitmap of rows.
    pub(super) fn bits_to_rows(&self, words: &[u64], len: usize) -> RoaringBitmap {
        match self {
            ChunkRows::Dense { start } => crate::codec::bitset_to_bitmap(words, len, *start),
            ChunkRows::Listed(rows) => {
                let set = set_bits(words, len).filter_map(|p| rows.get(p).copied());
                RoaringBitmap::from_sorted_iter(set).expect("rows are listed in ascending order")
            }
        }
    }

    /// Maps a bitmap of positions to a bitmap of rows.
    pub(super) fn positions_to_rows(&self, positions: &RoaringBitmap) -> RoaringBitmap {
        match self {
            ChunkRows::Dense { start } if start % 65_536 == 0 => rekey(
                positions,
                u16::try_from(start >> 16).expect("high 16 bits of a u32"),
            ),
            ChunkRows::Dense { start } => {
                let rows = positions.iter().filter_map(|p| p.checked_add(*start));
                RoaringBitmap::from_sorted_iter(rows).expect("offset keeps order")
            }
            ChunkRows::Listed(rows) => {
                let mapped = positions
                    .iter()
                    .filter_map(|p| rows.get(p as usize).copied());
                RoaringBitmap::from_sorted_iter(mapped).expect("rows are listed in ascending order")
            }
        }
    }
}

fn set_bits(words: &[u64], len: usize) -> impl Iterator<Item = usize> + '_ {
    words.iter().enumerate().flat_map(move |(w, &word)| {
        let mut remaining = word;
        std::iter::from_fn(move || {
            if remaining == 0 {
                return None;
            }
            let bit = remaining.trailing_zeros() as usize;
            remaining &= remaining - 1;
            Some(w * 64 + bit)
        })
        .filter(move |&p| p < len)
    })
}

/// Moves a bitmap whose values all lie in `0..65536` to `key << 16 ..`, without touching
/// its values one by one: the container is kept and only its key is rewritten in the
/// portable serialization (a documented, versioned format), then read back.
fn rekey(positions: &RoaringBitmap, key: u16) -> RoaringBitmap {
    if key == 0 || positions.is_empty() {
        return positions.clone();
    }
    if positions.max().is_some_and(|m| m > u32::from(u16::MAX)) {
        let rows = positions.iter().map(|p| (u32::from(key) << 16) | p);
        return RoaringBitmap::from_sorted_iter(rows).expect("order kept");
    }
    let mut bytes = Vec::with_capacity(positions.serialized_size());
    positions
        .serialize_into(&mut bytes)
        .expect("writing to a Vec cannot fail");
    let cookie = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    // One container: with runs, the key follows the cookie and a one-byte run flag set;
    // without runs, it follows the cookie and a u32 container count.
    let key_offset = if cookie & 0xFFFF == SERIAL_COOKIE_WITH_RUNS {
        5
    } else {
        debug_assert_eq!(cookie, SERIAL_COOKIE_NO_RUNS);
        8
    };
    bytes[key_offset..key_offset + 2].copy_from_slice(&key.to_le_bytes());
    RoaringBitmap::deserialize_from(&bytes[..]).expect("a re-keyed valid bitmap stays valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rekey_moves_every_kind_of_container() {
        let sparse: RoaringBitmap = [0u32, 7, 65_535].into_iter().collect();
        let mut runs = RoaringBitmap::new();
        runs.insert_range(10..40_000);
        runs.optimize();
        let dense: RoaringBitmap = (0..65_536u32).filter(|p| p % 3 == 0).collect();
        for positions in [sparse, runs, dense] {
            for key in [1u16, 152, u16::MAX] {
                let expected: RoaringBitmap = positions
                    .iter()
                    .map(|p| (u32::from(key) << 16) | p)
                    .collect();
                assert_eq!(rekey(&positions, key), expected);
            }
        }
    }

    #[test]
    fn listed_rows_map_positions_and_bits() {
        let rows = ChunkRows::Listed(vec![3, 9, 27, 81]);
        let positions: RoaringBitmap = [1u32, 3].into_iter().collect();
        assert_eq!(
            rows.positions_to_rows(&positions)
                .iter()
                .collect::<Vec<_>>(),
            vec![9, 81]
        );
        assert_eq!(
            rows.bits_to_rows(&[0b0101], 4).iter().collect::<Vec<_>>(),
            vec![3, 27]
        );
        let dense = ChunkRows::Dense { start: 100 };
        assert_eq!(
            dense.bits_to_rows(&[0b0110], 4).iter().collect::<Vec<_>>(),
            vec![101, 102]
        );
    }
}
