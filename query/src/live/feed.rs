//! The change feed: every entry into and exit from a segment, numbered from 1.

use std::collections::HashMap;

use roaring::RoaringBitmap;

/// One profile entering or leaving one segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Position in the feed (1, 2, …); a cursor is the last sequence a reader has seen.
    pub sequence: u64,
    /// The segment's name.
    pub segment: String,
    /// The profile.
    pub profile_id: u32,
    /// `true` for an entry, `false` for an exit.
    pub entered: bool,
    /// When the change happened, in microseconds since the epoch (live clock).
    pub at_micros: i64,
}

/// A compact feed entry (segment names are interned).
#[derive(Debug, Clone, Copy)]
struct Entry {
    segment: u32,
    profile: u32,
    entered: bool,
    at: i64,
}

/// The feed, held in memory; the segment log is its durable form.
#[derive(Debug, Default)]
pub(crate) struct Feed {
    names: Vec<String>,
    ids: HashMap<String, u32>,
    entries: Vec<Entry>,
}

impl Feed {
    /// Sequence number the next change gets.
    pub(crate) fn next_sequence(&self) -> u64 {
        self.entries.len() as u64 + 1
    }

    /// Appends the changes of one op: entries ascending, then exits ascending.
    pub(crate) fn push(
        &mut self,
        segment: &str,
        at: i64,
        entered: &RoaringBitmap,
        exited: &RoaringBitmap,
    ) {
        let id = self.intern(segment);
        let entries = entered.iter().map(|p| (p, true));
        let exits = exited.iter().map(|p| (p, false));
        self.entries
            .extend(entries.chain(exits).map(|(profile, entered)| Entry {
                segment: id,
                profile,
                entered,
                at,
            }));
    }

    fn intern(&mut self, segment: &str) -> u32 {
        if let Some(id) = self.ids.get(segment) {
            return *id;
        }
        let id = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        self.names.push(segment.to_owned());
        self.ids.insert(segment.to_owned(), id);
        id
    }

    /// Up to `limit` changes after `cursor`, and the cursor to continue from.
    pub(crate) fn since(&self, cursor: u64, limit: usize) -> (Vec<Change>, u64) {
        let start = usize::try_from(cursor).unwrap_or(usize::MAX);
        let tail = self.entries.get(start..).unwrap_or_default();
        let changes: Vec<Change> = tail
            .iter()
            .take(limit)
            .enumerate()
            .map(|(index, e)| Change {
                sequence: cursor + index as u64 + 1,
                segment: self
                    .names
                    .get(e.segment as usize)
                    .cloned()
                    .unwrap_or_default(),
                profile_id: e.profile,
                entered: e.entered,
                at_micros: e.at,
            })
            .collect();
        let next = changes.last().map_or(cursor, |c| c.sequence);
        (changes, next)
    }
}
