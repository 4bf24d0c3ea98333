//! A long-lived thread that keeps computed traits up to date beside the writer.
//!
//! Long-lived because trait states hold strings (the `first`/`last` values and their message
//! ids) that later calls replace: freed by the thread that allocated them, they take the
//! allocator's fast path. A thread per call would leave every such string to a dead
//! thread's heap, and each replacement to the allocator's slow cross-thread path.

use super::columns::Fitter;
use super::computed::ComputedTrait;
use super::maintain::{TraitUpserts, TraitWork};
use crate::schema::TableSchema;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::thread::JoinHandle;

use super::state::Slot;
use crate::dense_map::DenseMap;

/// The computed-trait states of every profile row: one slot per trait, in the order of
/// the definitions.
pub(crate) type TraitStates = DenseMap<Vec<Slot>>;

/// One call's trait upkeep, with everything it needs moved in.
pub(crate) struct TraitJob {
    /// What the call's events bring.
    pub work: TraitWork,
    /// The states, handed back in [`TraitDone`].
    pub states: TraitStates,
    /// The trait definitions, in order.
    pub definitions: Vec<ComputedTrait>,
    /// The trait clock.
    pub now: i64,
    /// The schemas the values are fitted to (trait columns are only written by trait upkeep,
    /// so the batch the job runs beside cannot change their types).
    pub profiles_schema: TableSchema,
    /// See `profiles_schema`.
    pub events_schema: TableSchema,
}

/// A finished [`TraitJob`].
pub(crate) struct TraitDone {
    /// The states, updated.
    pub states: TraitStates,
    /// The trait values that changed, to upsert.
    pub upserts: TraitUpserts,
}

/// The thread and its two channels; at most one job is out at a time.
pub(crate) struct TraitWorker {
    jobs: Option<Sender<TraitJob>>,
    done: Receiver<TraitDone>,
    thread: Option<JoinHandle<()>>,
    /// Whether a job was sent and its result not yet taken.
    outstanding: bool,
}

impl TraitWorker {
    /// Starts the thread.
    pub fn start() -> std::io::Result<TraitWorker> {
        let (jobs, job_receiver) = channel::<TraitJob>();
        let (done_sender, done) = channel();
        let thread = std::thread::Builder::new()
            .name("profiledb-traits".to_owned())
            .spawn(move || {
                for mut job in job_receiver {
                    let mut fitter = Fitter::new(&job.profiles_schema, &job.events_schema);
                    let upserts =
                        job.work
                            .run(&mut job.states, &job.definitions, job.now, &mut fitter);
                    let finished = TraitDone {
                        states: job.states,
                        upserts,
                    };
                    if done_sender.send(finished).is_err() {
                        break;
                    }
                }
            })?;
        Ok(TraitWorker {
            jobs: Some(jobs),
            done,
            thread: Some(thread),
            outstanding: false,
        })
    }

    /// Hands `job` to the thread. If the thread is gone, the job comes back.
    #[allow(clippy::result_large_err)]
    pub fn send(&mut self, job: TraitJob) -> Result<(), TraitJob> {
        debug_assert!(!self.outstanding, "one job at a time");
        let Some(jobs) = &self.jobs else {
            return Err(job);
        };
        jobs.send(job).map_err(|error| error.0)?;
        self.outstanding = true;
        Ok(())
    }

    /// Whether a job's result is still to be taken with [`TraitWorker::finish`].
    pub fn outstanding(&self) -> bool {
        self.outstanding
    }

    /// Waits for the job sent last. A panic on the thread is resumed here, as if the work
    /// had run on the calling thread.
    pub fn finish(&mut self) -> TraitDone {
        debug_assert!(self.outstanding, "a job was sent");
        self.outstanding = false;
        match self.done.recv() {
            Ok(done) => done,
            Err(_) => {
                self.jobs = None;
                // The thread only stops early by panicking: it keeps going while both
                // channels are open, and this handle holds them.
                let payload = match self.thread.take().map(JoinHandle::join) {
                    Some(Err(payload)) => payload,
                    _ => Box::new("the computed-trait thread stopped"),
                };
                std::panic::resume_unwind(payload)
            }
        }
    }
}

impl Drop for TraitWorker {
    fn drop(&mut self) {
        // Closing the job channel ends the thread's loop.
        self.jobs = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
