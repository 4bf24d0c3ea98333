//! The background worker: flushes a full in-memory head and compacts tables with many
//! segments, so writers never do that work on their own time.

use super::compaction::{compact_table, segment_count, Inputs};
use super::flush::{flush, GraphSnapshot};
use super::Inner;
use crate::error::Result;
use crate::schema::TableKind;
use parking_lot::{Condvar, Mutex};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;

#[derive(Debug, Default)]
struct Signal {
    requested: bool,
    stop: bool,
}

/// Wakes the worker when there is work, or tells it to stop.
#[derive(Debug, Default)]
pub(crate) struct Doorbell {
    signal: Mutex<Signal>,
    wake: Condvar,
}

impl Doorbell {
    fn ring(&self, stop: bool) {
        let mut signal = self.signal.lock();
        signal.requested = true;
        signal.stop |= stop;
        self.wake.notify_one();
    }

    /// Waits for a ring; returns false when asked to stop.
    fn wait(&self) -> bool {
        let mut signal = self.signal.lock();
        while !signal.requested {
            self.wake.wait(&mut signal);
        }
        signal.requested = false;
        !signal.stop
    }
}

/// Asks the worker of `inner` to flush (and compact if needed) soon.
pub(super) fn notify(inner: &Inner) {
    inner.doorbell.ring(false);
}

/// Handle to the running worker thread.
pub(super) struct Worker {
    doorbell: Arc<Doorbell>,
    thread: Option<JoinHandle<()>>,
}

impl Worker {
    pub(super) fn start(inner: &Arc<Inner>) -> Worker {
        let doorbell = Arc::clone(&inner.doorbell);
        let weak = Arc::downgrade(inner);
        let ring = Arc::clone(&doorbell);
        let thread = std::thread::Builder::new()
            .name("profiledb-maintenance".into())
            .spawn(move || run(&weak, &ring))
            .ok();
        Worker { doorbell, thread }
    }

    /// Stops the worker and waits for the task it is running to finish.
    pub(super) fn stop(mut self) {
        self.doorbell.ring(true);
        if let Some(thread) = self.thread.take() {
            // A panic in the worker already poisoned nothing we rely on; nothing to report here.
            let _ = thread.join();
        }
    }
}

fn run(inner: &Weak<Inner>, doorbell: &Doorbell) {
    while doorbell.wait() {
        let Some(inner) = inner.upgrade() else {
            return;
        };
        if let Err(error) = maintain(&inner) {
            *inner.background_error.lock() = Some(error);
        }
    }
}

fn maintain(inner: &Inner) -> Result<()> {
    if inner.memory_bytes() >= inner.options.flush_threshold_bytes {
        flush(inner, GraphSnapshot::WhenDue)?;
    }
    let trigger = inner.options.compaction_trigger_segments;
    if trigger > 0 {
        for table in TableKind::ALL {
            if segment_count(inner, table) > trigger {
                compact_table(inner, table, Inputs::NewestRun)?;
            }
        }
    }
    Ok(())
}
