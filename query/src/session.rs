//! Per-connection state: the pinned clock and the segment definitions.

use crate::segment::{MemorySegmentStore, SegmentStore};

/// State that outlives one statement.
pub struct Session {
    now: Option<i64>,
    segments: Box<dyn SegmentStore>,
}

impl Default for Session {
    fn default() -> Self {
        Session::new()
    }
}

impl Session {
    /// A session with the catalog's clock and an in-memory segment store.
    #[must_use]
    pub fn new() -> Self {
        Session::with_segment_store(Box::new(MemorySegmentStore::default()))
    }

    /// A session keeping segment definitions in `store`.
    #[must_use]
    pub fn with_segment_store(store: Box<dyn SegmentStore>) -> Self {
        Session {
            now: None,
            segments: store,
        }
    }

    /// The pinned clock (`SET now = …`), if any, in microseconds since the epoch.
    #[must_use]
    pub fn pinned_now(&self) -> Option<i64> {
        self.now
    }

    /// Pins (or with `None` unpins) the clock that `now()` and `CURRENT_DATE` read.
    pub fn set_now(&mut self, now: Option<i64>) {
        self.now = now;
    }

    /// The segment definitions.
    #[must_use]
    pub fn segments(&self) -> &dyn SegmentStore {
        self.segments.as_ref()
    }

    /// The segment definitions, for changes.
    pub fn segments_mut(&mut self) -> &mut dyn SegmentStore {
        self.segments.as_mut()
    }
}
