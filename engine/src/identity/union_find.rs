//! Profile ids as a union-find forest.
//!
//! Unlike textbook union-find, the root of a merged set is not chosen by rank: the survivor
//! is always the profile the caller names (the older one), because the root *is* the public
//! profile id. Path compression alone keeps finds short in practice.

/// Parent value of a retired profile id: nothing belongs to it any more (after a split).
pub(crate) const RETIRED: u32 = u32::MAX;

/// The forest: `parent[p] == p` for a live profile.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct UnionFind {
    pub(crate) parent: Vec<u32>,
}

impl UnionFind {
    /// A new live profile with the next id.
    pub(crate) fn create(&mut self) -> u32 {
        let id = u32::try_from(self.parent.len()).expect("fewer than 2^32-1 profiles");
        assert!(id != RETIRED, "profile id space exhausted");
        self.parent.push(id);
        id
    }

    /// Number of ids ever allocated.
    pub(crate) fn len(&self) -> usize {
        self.parent.len()
    }

    /// The root of `p` without modifying the forest; retired or unknown ids are their own root.
    pub(crate) fn find(&self, mut p: u32) -> u32 {
        loop {
            match self.parent.get(p as usize) {
                Some(&q) if q != p && q != RETIRED => p = q,
                _ => return p,
            }
        }
    }

    /// The root of `p`, pointing every id on the way directly at it.
    pub(crate) fn find_mut(&mut self, p: u32) -> u32 {
        let root = self.find(p);
        let mut cur = p;
        while cur != root {
            let next = self.parent[cur as usize];
            self.parent[cur as usize] = root;
            cur = next;
        }
        root
    }

    /// Makes root `absorbed` resolve to root `survivor`.
    pub(crate) fn absorb(&mut self, survivor: u32, absorbed: u32) {
        self.parent[absorbed as usize] = survivor;
    }

    /// Whether `p` is a live root.
    pub(crate) fn is_live_root(&self, p: u32) -> bool {
        self.parent.get(p as usize) == Some(&p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn survivor_is_the_named_root_and_paths_compress() {
        let mut uf = UnionFind::default();
        let ids: Vec<u32> = (0..4).map(|_| uf.create()).collect();
        uf.absorb(ids[2], ids[3]);
        uf.absorb(ids[1], ids[2]);
        uf.absorb(ids[0], ids[1]);
        assert_eq!(uf.find(3), 0);
        assert_eq!(uf.find_mut(3), 0);
        assert_eq!(uf.parent, vec![0, 0, 0, 0]);
        assert!(uf.is_live_root(0) && !uf.is_live_root(3));
    }
}
