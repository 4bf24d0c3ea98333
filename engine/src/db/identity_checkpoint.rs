//! When a flush writes a new identity-graph snapshot.
//!
//! A snapshot holds the whole graph, so writing one at every flush costs, over a growing
//! database, time and disk writes that grow with the square of its size: a graph of a few
//! million identifiers is rewritten whole for every few tens of megabytes of new data.
//! Instead the WAL is kept from the graph's anchor (`Manifest::identity_lsn`) and opening
//! replays the identity changes of the records after it. A flush writes a new snapshot only
//! once the WAL kept for the graph is [`WAL_PER_SNAPSHOT_BYTE`] times the snapshot's size, so
//! snapshot writes come to at most 1 / `WAL_PER_SNAPSHOT_BYTE` of the bytes written to the
//! WAL, and an open replays at most that many times the snapshot's size (plus one flush) of
//! WAL.

/// How many bytes of WAL may be kept for the graph per byte of its snapshot before a flush
/// writes a new snapshot.
pub(crate) const WAL_PER_SNAPSHOT_BYTE: u64 = 2;

/// What a flush does about the identity graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SnapshotPlan {
    /// No record since the anchor changed the graph: the anchor moves to the flush's LSN
    /// without writing anything.
    Unchanged,
    /// The graph changed, but the WAL kept for it is still small: the anchor stays.
    Keep,
    /// Write a snapshot as of the flush's LSN and move the anchor there.
    Write,
}

/// The writer's count of what was logged since the graph's anchor.
#[derive(Debug, Default)]
pub(crate) struct IdentityCheckpoint {
    /// WAL payload bytes logged or replayed since the database opened.
    logged_bytes: u64,
    /// How many of those records carried identity changes.
    identity_records: u64,
    /// The counters as they stood at the anchor.
    at_anchor: CheckpointMark,
    /// Bytes of the snapshot file in force; 0 when there is none.
    snapshot_len: u64,
}

/// The counters of an [`IdentityCheckpoint`] at one LSN.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CheckpointMark {
    logged_bytes: u64,
    identity_records: u64,
}

impl IdentityCheckpoint {
    /// Starts counting from an anchor whose snapshot file has `snapshot_len` bytes.
    pub(crate) fn new(snapshot_len: u64) -> Self {
        IdentityCheckpoint {
            snapshot_len,
            ..IdentityCheckpoint::default()
        }
    }

    /// Counts one record logged or replayed after the anchor.
    pub(crate) fn note_record(&mut self, payload_len: usize, changes_identity: bool) {
        self.logged_bytes += payload_len as u64;
        self.identity_records += u64::from(changes_identity);
    }

    /// The counters now, to hand to [`IdentityCheckpoint::anchored`] once a flush is stored.
    pub(crate) fn mark(&self) -> CheckpointMark {
        CheckpointMark {
            logged_bytes: self.logged_bytes,
            identity_records: self.identity_records,
        }
    }

    /// What a flush of everything logged so far should do.
    pub(crate) fn plan(&self) -> SnapshotPlan {
        if self.identity_records == self.at_anchor.identity_records {
            return SnapshotPlan::Unchanged;
        }
        let kept = self.logged_bytes - self.at_anchor.logged_bytes;
        if self.snapshot_len == 0 || kept >= WAL_PER_SNAPSHOT_BYTE * self.snapshot_len {
            SnapshotPlan::Write
        } else {
            SnapshotPlan::Keep
        }
    }

    /// What a flush that must leave no WAL behind for the graph should do.
    pub(crate) fn plan_now(&self) -> SnapshotPlan {
        match self.plan() {
            SnapshotPlan::Unchanged => SnapshotPlan::Unchanged,
            SnapshotPlan::Keep | SnapshotPlan::Write => SnapshotPlan::Write,
        }
    }

    /// Records that the manifest now anchors the graph at `mark`, with a new snapshot of
    /// `written` bytes, or with the old one when `None`.
    pub(crate) fn anchored(&mut self, mark: CheckpointMark, written: Option<u64>) {
        self.at_anchor = mark;
        if let Some(len) = written {
            self.snapshot_len = len;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_is_written_once_the_kept_wal_outweighs_it() {
        let mut checkpoint = IdentityCheckpoint::new(0);
        assert_eq!(checkpoint.plan(), SnapshotPlan::Unchanged);
        checkpoint.note_record(10, false);
        assert_eq!(checkpoint.plan(), SnapshotPlan::Unchanged);
        checkpoint.note_record(10, true);
        // No snapshot yet: the first change is written at once.
        assert_eq!(checkpoint.plan(), SnapshotPlan::Write);
        checkpoint.anchored(checkpoint.mark(), Some(100));
        assert_eq!(checkpoint.plan(), SnapshotPlan::Unchanged);
        checkpoint.note_record(150, true);
        assert_eq!(checkpoint.plan(), SnapshotPlan::Keep);
        checkpoint.note_record(49, false);
        assert_eq!(checkpoint.plan(), SnapshotPlan::Keep);
        checkpoint.note_record(1, false);
        assert_eq!(checkpoint.plan(), SnapshotPlan::Write);
    }

    #[test]
    fn an_unchanged_graph_moves_its_anchor_and_restarts_the_count() {
        let mut checkpoint = IdentityCheckpoint::new(100);
        checkpoint.note_record(500, false);
        assert_eq!(checkpoint.plan(), SnapshotPlan::Unchanged);
        checkpoint.anchored(checkpoint.mark(), None);
        checkpoint.note_record(150, true);
        // Only the 150 bytes since the anchor count, against the old snapshot's 100.
        assert_eq!(checkpoint.plan(), SnapshotPlan::Keep);
    }
}
