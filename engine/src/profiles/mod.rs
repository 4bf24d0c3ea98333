//! Profiles: ingestion of Tracking Spec messages into the database, with identity
//! resolution, the latest-timestamp trait rule, computed traits, operator splits and the
//! profile view.
//!
//! Rules and formats: `docs/profiles.md`.

mod admin;
mod columns;
mod computed;
mod definitions;
mod error;
mod event_index;
mod identities;
mod index_builder;
mod ingest;
mod maintain;
mod prepared;
mod scratch;
mod shared_parse;
mod split;
mod state;
mod trait_worker;
mod view;

#[cfg(test)]
mod ahead_tests;
#[cfg(test)]
mod cdnow_tests;
#[cfg(test)]
mod deferred_trait_tests;
#[cfg(test)]
mod graph_anchor_tests;
#[cfg(test)]
mod identifier_column_tests;
#[cfg(test)]
mod parse_beside_tests;
#[cfg(test)]
mod prop_tests;
#[cfg(test)]
mod scenario_tests;
#[cfg(test)]
mod split_tests;
#[cfg(test)]
pub(crate) mod test_support;
#[cfg(test)]
mod write_failure_tests;

pub use columns::{
    is_hidden_profile_column, msg_column, ts_column, EVENT_COLUMN, IDENTITY_COLUMN,
    MESSAGE_ID_COLUMN, MSG_PREFIX, PROPERTIES_PREFIX, RESERVED_EVENT_COLUMNS, TIMESTAMP_COLUMN,
    TRAITS_PREFIX, TS_PREFIX, TYPE_COLUMN,
};
pub use computed::{Aggregate, ComputedTrait, Condition, BEHAVIOURAL_TYPES, DAY_MICROS};
pub use definitions::{Definitions, DEFINITIONS_FILE};
pub use error::{MessageRejection, ProfilesError, ProfilesResult};
pub use identities::IdentityRow;
pub use ingest::{IngestReport, RejectedMessage};
pub use prepared::PreparedMessages;
pub use scratch::recompute_from_scratch;
pub use view::{format_timestamp, IdentifierView, ProfileView, TraitView, CONSENT_PREFIX};

use crate::db::{BuiltBatch, Database, WriteContext};
use crate::identity::{IdentityConfig, IdentityGraph};
use crate::message::{parse_message_line, Message, MessageError};
use crate::options::Options;
use crate::snapshot::Snapshot;
use parking_lot::Mutex;
use state::State;
use std::borrow::Borrow;
use std::path::Path;
use std::sync::Arc;

/// Below this many items, working on one thread is cheaper than starting others.
const PARALLEL_MIN_ITEMS: usize = 512;

/// Lines parsed as one unit of work, by the parsing thread or the writer.
const PARSE_CHUNK_LINES: usize = 256;

/// Chunks the parsing thread may finish ahead of the writer; enough to ride out its pauses.
const PARSE_CHUNKS_AHEAD: usize = 8;

/// A parsed message with its unfitted event row and, when extracted ahead, its identifiers.
///
/// The message is boxed: it is large, and it moves from the parsing thread through the
/// writer and back to be freed; moving a pointer spares the writer copying cold bytes.
type ParsedLine = (Box<Message>, columns::EventRow, Option<ingest::Extracted>);

/// Parses one line and makes its event row (while the message is still in cache), and its
/// identifiers under `ahead` when given.
fn parse_line(line: &str, ahead: ingest::Ahead<'_>) -> Result<ParsedLine, MessageError> {
    parse_message_line(line).map(|mut message| {
        let extracted = ahead.and_then(|config| config.identifiers_without_graph(&message));
        let event = columns::take_event_values(&mut message);
        (Box::new(message), event, extracted)
    })
}

/// The messages of a stream of parse results; lines that did not parse go to `unparsed`.
fn accept_parsed<'a>(
    parsed: impl Iterator<Item = (usize, Result<ParsedLine, MessageError>)> + 'a,
    unparsed: &'a mut Vec<RejectedMessage>,
) -> impl Iterator<Item = ingest::Incoming<Box<Message>>> + 'a {
    parsed.filter_map(move |(index, result)| match result {
        Ok((message, event, extracted)) => Some((index, message, event, extracted)),
        Err(error) => {
            unparsed.push(RejectedMessage {
                index,
                message_id: None,
                reason: error.into(),
            });
            None
        }
    })
}

/// The unfitted event row of each message, made before the writer lock is taken.
///
/// On the calling thread: making them on worker threads measured slower on two shared
/// cores (the writer then frees strings other threads allocated, and waits for the slowest
/// worker).
fn event_rows_of_all(messages: &[(usize, &Message)]) -> Vec<columns::EventRow> {
    messages
        .iter()
        .map(|(_, message)| columns::event_values(message))
        .collect()
}

/// Default number of recent message ids remembered for deduplication.
pub const DEFAULT_DEDUP_WINDOW: usize = 1_000_000;

/// Settings of the profiles layer.
#[derive(Debug, Clone)]
pub struct ProfilesOptions {
    /// How many of the most recent accepted message ids are deduplicated exactly.
    pub dedup_window: usize,
    /// Identity rules; when they differ from the stored graph's, they are re-applied to the
    /// whole history at open (a durable operator action).
    pub identity: Option<IdentityConfig>,
}

impl Default for ProfilesOptions {
    fn default() -> Self {
        ProfilesOptions {
            dedup_window: DEFAULT_DEDUP_WINDOW,
            identity: None,
        }
    }
}

/// A database used as a customer-profile store: messages in, profiles out.
pub struct Profiles {
    /// Stopped first when the handle is dropped or closed.
    index_builder: Option<index_builder::IndexBuilder>,
    db: Database,
    state: Mutex<State>,
    events: Arc<event_index::EventIndex>,
    /// Keeps computed traits beside large writes; started by the first write with traits
    /// to keep (taken under the state lock).
    trait_worker: Mutex<Option<trait_worker::TraitWorker>>,
    /// Whether a second core can take trait upkeep beside the writer.
    traits_beside_writes: bool,
}

impl std::fmt::Debug for Profiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Profiles")
            .field("db", &self.db)
            .finish_non_exhaustive()
    }
}

impl Profiles {
    /// Opens (or creates) the database in `dir` and rebuilds the profiles state.
    ///
    /// # Errors
    /// Engine errors, a corrupt definitions file, or an invalid identity configuration.
    pub fn open(
        dir: impl AsRef<Path>,
        options: Options,
        profiles: ProfilesOptions,
    ) -> ProfilesResult<Profiles> {
        Profiles::from_database(Database::open(dir, options)?, profiles)
    }

    /// Wraps an open database (every profile write should then go through this handle).
    ///
    /// # Errors
    /// As [`Profiles::open`].
    pub fn from_database(db: Database, options: ProfilesOptions) -> ProfilesResult<Profiles> {
        let definitions = Definitions::load(db.storage().as_ref(), db.dir())?;
        let snapshot = db.snapshot();
        let state = db.with_graph(|graph| {
            State::rebuild(&snapshot, graph, definitions, options.dedup_window)
        })?;
        drop(snapshot);
        let mut profiles = Profiles {
            index_builder: None,
            db,
            state: Mutex::new(state),
            events: Arc::new(event_index::EventIndex::default()),
            trait_worker: Mutex::new(None),
            traits_beside_writes: std::thread::available_parallelism()
                .is_ok_and(|threads| threads.get() > 1),
        };
        profiles.sync_computed()?;
        if let Some(config) = options.identity {
            if profiles.db.with_graph(|g| *g.config() != config) {
                profiles.reapply_config(config)?;
            }
        }
        profiles.index_builder = Some(index_builder::IndexBuilder::start(
            Arc::clone(&profiles.events),
            profiles.db.snapshot(),
        ));
        Ok(profiles)
    }

    /// The underlying database (for queries, flush, stats).
    #[must_use]
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// Closes the database, making everything acknowledged durable.
    ///
    /// # Errors
    /// As [`Database::close`].
    pub fn close(self) -> ProfilesResult<()> {
        let Profiles {
            index_builder, db, ..
        } = self;
        drop(index_builder);
        Ok(db.close()?)
    }

    /// A consistent read view.
    #[must_use]
    pub fn snapshot(&self) -> Snapshot {
        self.db.snapshot()
    }

    /// The identity configuration in force, for [`PreparedMessages::with_identifiers`].
    #[must_use]
    pub fn identity_config(&self) -> IdentityConfig {
        self.with_graph(|graph| graph.config().clone())
    }

    /// Runs `f` on the identity graph (explain, identifiers, merge history).
    pub fn with_graph<T>(&self, f: impl FnOnce(&IdentityGraph) -> T) -> T {
        self.db.with_graph(f)
    }

    /// Ingests validated messages in one atomic batch: duplicates are skipped, messages whose
    /// values do not fit their columns are rejected with the reason, the rest is written.
    ///
    /// # Errors
    /// Engine errors (nothing of the call is then acknowledged).
    pub fn ingest(&self, messages: &[Message]) -> ProfilesResult<IngestReport> {
        let indexed: Vec<(usize, &Message)> = messages.iter().enumerate().collect();
        self.ingest_indexed(&indexed, IngestReport::default())
    }

    /// Parses and ingests NDJSON message lines; lines that do not parse are rejected with
    /// their index and the parse error.
    ///
    /// Large calls are parsed on a second thread that streams messages to the writer while
    /// it resolves the ones already parsed, so parsing overlaps the write instead of
    /// preceding it. The call is still one atomic batch.
    ///
    /// # Errors
    /// As [`Profiles::ingest`].
    pub fn ingest_lines<S: AsRef<str> + Sync>(&self, lines: &[S]) -> ProfilesResult<IngestReport> {
        let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let mut unparsed = Vec::new();
        let mut report = if threads < 2 || lines.len() < PARALLEL_MIN_ITEMS {
            let parsed = lines
                .iter()
                .enumerate()
                .map(|(index, line)| (index, parse_line(line.as_ref(), None)));
            let messages = accept_parsed(parsed, &mut unparsed);
            let stream = (messages, lines.len(), None);
            self.ingest_stream(stream, &mut drop, IngestReport::default())?
        } else {
            self.ingest_lines_parsed_beside(lines, &mut unparsed)?
        };
        report.rejected.extend(unparsed);
        report.rejected.sort_by_key(|r| r.index);
        Ok(report)
    }

    /// The large-call path of [`Profiles::ingest_lines`]: a second thread parses `lines` in
    /// chunks ahead of the writer, which parses a chunk itself when that thread has not
    /// started it (see [`shared_parse`]); the second thread then frees the messages the
    /// writer hands back (freeing on the allocating thread is cheap, and the writer is the
    /// bottleneck). Lines that do not parse go to `unparsed`.
    fn ingest_lines_parsed_beside<S: AsRef<str> + Sync>(
        &self,
        lines: &[S],
        unparsed: &mut Vec<RejectedMessage>,
    ) -> ProfilesResult<IngestReport> {
        // The parsing thread also extracts identifiers, under the configuration of now; the
        // writer checks it is still in force before it uses them.
        let ahead = self.identity_config();
        let shared = shared_parse::SharedParse::new(lines, &ahead);
        std::thread::scope(|scope| {
            let (spent_sender, spent_receiver) = std::sync::mpsc::channel::<Vec<Box<Message>>>();
            let parser = &shared;
            scope.spawn(move || {
                parser.parse_ahead();
                spent_receiver.into_iter().for_each(drop);
            });
            let messages = accept_parsed(shared.in_order(), unparsed);
            let mut spent = Vec::with_capacity(PARSE_CHUNK_LINES);
            let mut give_back = |message: Box<Message>| {
                spent.push(message);
                if spent.len() == PARSE_CHUNK_LINES {
                    let full = std::mem::replace(&mut spent, Vec::with_capacity(PARSE_CHUNK_LINES));
                    // Only fails if the parsing thread panicked; the messages are then
                    // freed here.
                    let _ = spent_sender.send(full);
                }
            };
            let stream = (messages, lines.len(), Some(&ahead));
            let report = self.ingest_stream(stream, &mut give_back, IngestReport::default());
            let _ = spent_sender.send(spent);
            report
        })
    }

    /// Ingests messages made ready by [`PreparedMessages::new`] (on another thread, so the
    /// writer only resolves and applies them); otherwise as [`Profiles::ingest`].
    ///
    /// # Errors
    /// As [`Profiles::ingest`].
    pub fn ingest_prepared(&self, prepared: PreparedMessages) -> ProfilesResult<IngestReport> {
        self.ingest_prepared_returning(prepared)
            .map(|(report, _)| report)
    }

    /// As [`Profiles::ingest_prepared`], and hands the messages back once the call is done
    /// with them. Freeing memory another thread allocated is costly, so a caller that parses
    /// on its own thread sends them back there to be dropped.
    ///
    /// # Errors
    /// As [`Profiles::ingest`].
    pub fn ingest_prepared_returning(
        &self,
        prepared: PreparedMessages,
    ) -> ProfilesResult<(IngestReport, Vec<Message>)> {
        let (messages, events, identifiers) = prepared.into_parts();
        let (ahead, extracted) = match identifiers {
            Some((config, per_message)) => (Some(config), per_message),
            None => (None, Vec::new()),
        };
        let mut extracted = extracted.into_iter();
        // Borrowed, not moved: a message is large, and moving each one out and back costs
        // the writer more than reading it in place.
        let stream = messages
            .iter()
            .zip(events)
            .enumerate()
            .map(|(index, (message, event))| (index, message, event, extracted.next().flatten()));
        let report = self.ingest_stream(
            (stream, messages.len(), ahead.as_ref()),
            &mut drop,
            IngestReport::default(),
        )?;
        Ok((report, messages))
    }

    fn ingest_indexed(
        &self,
        messages: &[(usize, &Message)],
        report: IngestReport,
    ) -> ProfilesResult<IngestReport> {
        let events = event_rows_of_all(messages);
        let stream = messages
            .iter()
            .zip(events)
            .map(|(&(index, message), event)| (index, message, event, None));
        self.ingest_stream((stream, messages.len(), None), &mut |_| {}, report)
    }

    /// Ingests a stream of about `expected` messages with their unfitted event rows (and
    /// identifiers extracted ahead) as one batch; each message is handed to `spent` once
    /// resolved.
    fn ingest_stream<M: Borrow<Message>>(
        &self,
        (messages, expected, ahead): (
            impl Iterator<Item = ingest::Incoming<M>>,
            usize,
            ingest::Ahead<'_>,
        ),
        spent: &mut dyn FnMut(M),
        mut report: IngestReport,
    ) -> ProfilesResult<IngestReport> {
        let mut guard = self.state.lock();
        let mut worker_slot = self.trait_worker.lock();
        let beside = self.traits_beside_writes && !guard.definitions.traits.is_empty();
        if beside && worker_slot.is_none() {
            *worker_slot = trait_worker::TraitWorker::start().ok();
        }
        let report_so_far = &mut report;
        let state: &mut State = &mut guard;
        let worker = worker_slot.as_mut();
        // The first build hands the state and the worker on to the follow-up.
        let written = self.db.write_with_followup(
            move |ctx| {
                let mut worker = worker;
                let mut send =
                    |work, state: &mut State, ctx: &WriteContext<'_>| match worker.as_deref_mut() {
                        Some(worker) => send_trait_work(worker, work, state, ctx),
                        None => Err(work),
                    };
                let send_traits: Option<ingest::SendTraits<'_>> = beside.then_some(&mut send);
                ingest::build(
                    ctx,
                    state,
                    &self.events,
                    (messages, expected, ahead),
                    spent,
                    report_so_far,
                    send_traits,
                )
                .map(|built| BuiltBatch {
                    batch: built.batch,
                    identity: built.identity,
                    deleted_events: built.deleted_events,
                    value: (state, worker),
                })
            },
            |(state, worker), _| Ok(finish_trait_work(state, worker)),
        );
        // A write that failed before its follow-up still gets the trait states back.
        if let Some(worker) = worker_slot.as_mut().filter(|w| w.outstanding()) {
            guard.computed = worker.finish().states;
        }
        let (receipt, ()) = written?;
        report.lsn = receipt.lsn;
        Ok(report)
    }

    /// Writes computed-trait values that differ from the stored columns (after open).
    fn sync_computed(&self) -> ProfilesResult<()> {
        let mut state = self.state.lock();
        self.db.write_with(|ctx| {
            let mut batch = crate::WriteBatch::new();
            let mut fitter = columns::Fitter::new(ctx.profiles_schema, ctx.events_schema);
            let rows: Vec<u32> = state.computed.ids();
            maintain::write_computed(&mut state, rows, &mut batch, &mut fitter);
            Ok(BuiltBatch {
                batch,
                identity: Vec::new(),
                deleted_events: Vec::new(),
                value: (),
            })
        })?;
        Ok(())
    }

    /// The computed-trait definitions, in creation order.
    #[must_use]
    pub fn computed_traits(&self) -> Vec<ComputedTrait> {
        self.state.lock().definitions.traits.clone()
    }

    /// The clock windowed traits are evaluated at (µs since the epoch).
    #[must_use]
    pub fn clock(&self) -> i64 {
        self.state.lock().definitions.clock
    }
}

/// Hands `work` to the trait thread with the trait states, which it keeps until
/// [`TraitWorker::finish`](trait_worker::TraitWorker::finish); gives the work back (and the
/// states to `state`) if the thread is gone.
fn send_trait_work(
    worker: &mut trait_worker::TraitWorker,
    work: maintain::TraitWork,
    state: &mut State,
    context: &WriteContext<'_>,
) -> Result<(), maintain::TraitWork> {
    let job = trait_worker::TraitJob {
        work,
        states: std::mem::take(&mut state.computed),
        definitions: state.definitions.traits.clone(),
        now: state.definitions.clock,
        profiles_schema: context.profiles_schema.clone(),
        events_schema: context.events_schema.clone(),
    };
    worker.send(job).map_err(|job| {
        state.computed = job.states;
        job.work
    })
}

/// The follow-up batch of a write whose trait upkeep ran beside it: waits for the trait
/// thread (if it took the work), gives the states back to `state`, and upserts the values.
fn finish_trait_work(
    state: &mut State,
    worker: Option<&mut trait_worker::TraitWorker>,
) -> BuiltBatch<()> {
    let mut batch = crate::WriteBatch::new();
    if let Some(worker) = worker.filter(|w| w.outstanding()) {
        let done = worker.finish();
        state.computed = done.states;
        for (row, cells) in done.upserts {
            batch.upsert_profile(row, cells);
        }
    }
    BuiltBatch {
        batch,
        ..BuiltBatch::nothing(())
    }
}
