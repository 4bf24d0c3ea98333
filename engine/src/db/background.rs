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
        let low_priority = inner.options.low_priority_maintenance;
        let thread = std::thread::Builder::new()
            .name("profiledb-maintenance".into())
            .spawn(move || {
                if low_priority {
                    yield_to_writers();
                }
                run(&weak, &ring);
            })
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

/// Gives the calling thread the lowest CPU priority. Writers then rarely wait for a core
/// while a flush runs; a flush that falls far behind is done by the writer itself
/// (`Inner::request_flush_if_full`), so memory stays bounded.
#[cfg(target_os = "linux")]
fn yield_to_writers() {
    // On Linux the nice value belongs to one thread, named by its thread id.
    let thread = rustix::thread::gettid();
    // Best effort: a worker left at normal priority only competes harder for a core.
    let _ = rustix::process::setpriority_process(Some(thread), LOWEST_PRIORITY);
}

/// Elsewhere the nice value is shared by the whole process: left as it is.
#[cfg(not(target_os = "linux"))]
fn yield_to_writers() {}

/// The nice value of the lowest CPU priority.
#[cfg(target_os = "linux")]
const LOWEST_PRIORITY: i32 = 19;

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

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use crate::profiles::test_support::TempDir;
    use crate::{Database, Options};

    /// The nice values of this process's maintenance threads, read from `/proc`.
    fn maintenance_nice_values() -> Vec<i32> {
        let mut values = Vec::new();
        for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
            let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
                continue;
            };
            // `pid (name) state …`: the name may hold spaces, so fields count from the `)`.
            let Some((head, fields)) = stat.rsplit_once(')') else {
                continue;
            };
            if head.ends_with("(profiledb-maint") {
                let nice = fields.split_whitespace().nth(16).unwrap();
                values.push(nice.parse().unwrap());
            }
        }
        values
    }

    #[test]
    fn the_maintenance_thread_runs_at_the_lowest_priority() {
        let dir = TempDir::new("maintenance-priority");
        let db = Database::open(dir.path(), Options::default()).unwrap();
        // The thread lowers its own priority as it starts.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !maintenance_nice_values().contains(&super::LOWEST_PRIORITY) {
            assert!(
                std::time::Instant::now() < deadline,
                "no low-priority worker"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        db.close().unwrap();
    }
}
