//! Copying into buffers kept from an earlier copy, for the graph copy and snapshot bytes a
//! flush makes each time (see `IdentityGraph::clone_from`).
//!
//! `Vec::clone_from` grows a buffer that is too small in place, and growing copies the old
//! contents to the new block before they are overwritten. Here a buffer that is too small is
//! replaced by a fresh one with half as much again to spare, so that the next copy of a
//! graph that grew a little still fits.

/// Copies `source` into `target`, reusing its buffer when it fits.
pub(crate) fn copy_slice<T: Clone>(target: &mut Vec<T>, source: &[T]) {
    if target.capacity() < source.len() {
        *target = Vec::with_capacity(with_room(source.len()));
    } else {
        target.clear();
    }
    target.extend_from_slice(source);
}

/// Copies `source` into `target`, reusing its buffer when it fits.
pub(crate) fn copy_str(target: &mut String, source: &str) {
    if target.capacity() < source.len() {
        *target = String::with_capacity(with_room(source.len()));
    } else {
        target.clear();
    }
    target.push_str(source);
}

/// Makes `target` empty with room for at least `needed` items, without copying what it held.
pub(crate) fn clear_with_room<T>(target: &mut Vec<T>, needed: usize) {
    if target.capacity() < needed {
        *target = Vec::with_capacity(with_room(needed));
    } else {
        target.clear();
    }
}

/// `needed` and half as much again.
fn with_room(needed: usize) -> usize {
    needed.saturating_add(needed / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_equal_the_source_whatever_the_buffer_held() {
        let mut target = vec![9u32; 10];
        copy_slice(&mut target, &[1, 2, 3]);
        assert_eq!(target, [1, 2, 3]);
        copy_slice(&mut target, &(0..100).collect::<Vec<u32>>());
        assert_eq!(target, (0..100).collect::<Vec<u32>>());
        assert!(target.capacity() >= 150, "room to spare after growing");
        let mut text = String::from("stale text");
        copy_str(&mut text, "new");
        assert_eq!(text, "new");
        copy_str(&mut text, &"x".repeat(64));
        assert_eq!(text, "x".repeat(64));
        let mut bytes = vec![7u8; 4];
        clear_with_room(&mut bytes, 1_000);
        assert!(bytes.is_empty() && bytes.capacity() >= 1_000);
    }
}
