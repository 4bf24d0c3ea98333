//! ORDER BY: a stable multi-key sort with explicit NULL placement.

use std::cmp::Ordering;

use profiledb_engine::value::Value;

use crate::plan::SortKey;
use crate::predicate::compare_values;

/// Sorts `(output row, sort key values)` pairs by `keys` (stable: ties keep row-id order).
pub fn sort_rows(rows: &mut [(Vec<Value>, Vec<Value>)], keys: &[SortKey]) {
    rows.sort_by(|(_, a), (_, b)| compare_keys(a, b, keys));
}

fn compare_keys(a: &[Value], b: &[Value], keys: &[SortKey]) -> Ordering {
    for ((x, y), key) in a.iter().zip(b).zip(keys) {
        let ordering = match (x.is_null(), y.is_null()) {
            (true, true) => Ordering::Equal,
            (true, false) => null_side(key),
            (false, true) => null_side(key).reverse(),
            (false, false) => {
                let o = compare_values(x, y).unwrap_or(Ordering::Equal);
                if key.descending {
                    o.reverse()
                } else {
                    o
                }
            }
        };
        if ordering != Ordering::Equal {
            return ordering;
        }
    }
    Ordering::Equal
}

/// Where a NULL goes relative to a non-NULL value.
fn null_side(key: &SortKey) -> Ordering {
    if key.nulls_first {
        Ordering::Less
    } else {
        Ordering::Greater
    }
}
