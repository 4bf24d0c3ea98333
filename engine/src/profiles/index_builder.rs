//! Builds the event index of every event segment in a background thread after opening, so a
//! server's first profile views do not wait for all of it (on ten million profiles that is
//! seconds of work).

use super::event_index::EventIndex;
use crate::snapshot::Snapshot;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// The background build; dropping it stops the build between two segments and waits for it.
#[derive(Debug)]
pub(crate) struct IndexBuilder {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl IndexBuilder {
    /// Starts building `events` for the event segments of `snapshot`. If no thread can be
    /// started, views build what they need themselves, as they would without this.
    pub(crate) fn start(events: Arc<EventIndex>, snapshot: Snapshot) -> IndexBuilder {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("profiledb-event-index".to_owned())
            .spawn(move || events.build_all(&snapshot, &flag))
            .ok();
        IndexBuilder { stop, thread }
    }
}

impl Drop for IndexBuilder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            // A panic in the builder thread only means the views build the index themselves.
            let _ = thread.join();
        }
    }
}
