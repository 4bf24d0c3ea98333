//! Parsing NDJSON lines on a second thread, beside the writer that resolves and applies them.
//!
//! The thread is long-lived. A thread started per call hands its allocator heap back when
//! it ends (mimalloc collects every page and returns the memory to the system), and the
//! next call's thread faults all of it in again. At calls of 10,000 lines that teardown
//! alone took 3 % of the process's CPU.

use super::columns::{self, EventRow};
use super::ingest::{self, RejectedMessage};
use crate::identity::IdentityConfig;
use crate::message::{parse_message_line, Message, MessageError};
use std::sync::mpsc::{channel, Receiver, Sender, SyncSender};
use std::thread::JoinHandle;

/// Lines parsed per message sent from the parsing thread to the writer.
pub(crate) const PARSE_CHUNK_LINES: usize = 256;

/// Parsed chunks that may wait for the writer; enough to ride out its pauses.
pub(crate) const PARSE_CHUNKS_AHEAD: usize = 8;

/// A parsed message with its unfitted event row and, when extracted ahead, its identifiers.
///
/// The message is boxed: it is moved through the chunk, the writer's stream and back to the
/// parsing thread, and a pointer moves at a fraction of the cost of its 280 bytes.
pub(crate) type ParsedLine = (Box<Message>, EventRow, Option<ingest::Extracted>);

/// Messages the writer is done with, sent back to the parsing thread to be freed there.
pub(crate) type SpentChunk = Vec<Box<Message>>;

/// One chunk of parse results, each with its line's index in the call.
pub(crate) type ParsedChunk = Vec<(usize, Result<ParsedLine, MessageError>)>;

/// Parses one line and makes its event row (while the message is still in cache), and its
/// identifiers under `ahead` when given.
pub(crate) fn parse_line(line: &str, ahead: ingest::Ahead<'_>) -> Result<ParsedLine, MessageError> {
    parse_message_line(line).map(|mut message| {
        let extracted = ahead.and_then(|config| config.identifiers_without_graph(&message));
        let event = columns::take_event_values(&mut message);
        (Box::new(message), event, extracted)
    })
}

/// Parses `lines` in chunks (extracting identifiers under `ahead`), sending each, until done
/// or until the writer hangs up (it failed; its error is reported by the call).
pub(crate) fn parse_in_chunks<'l>(
    lines: impl Iterator<Item = &'l str>,
    ahead: &IdentityConfig,
    sender: &SyncSender<ParsedChunk>,
) {
    let mut chunk = Vec::with_capacity(PARSE_CHUNK_LINES);
    for (index, line) in lines.enumerate() {
        chunk.push((index, parse_line(line, Some(ahead))));
        if chunk.len() == PARSE_CHUNK_LINES {
            let full = std::mem::replace(&mut chunk, Vec::with_capacity(PARSE_CHUNK_LINES));
            if sender.send(full).is_err() {
                return;
            }
        }
    }
    if !chunk.is_empty() {
        let _ = sender.send(chunk);
    }
}

/// The messages of a stream of parse results; lines that did not parse go to `unparsed`.
pub(crate) fn accept_parsed<'a>(
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

/// The parse results arriving on `receiver`, which must number `expected`.
///
/// # Panics
/// When the results stop short: the parsing thread panicked. The panic is raised on the
/// writer before it logs anything, as if the parsing had run on its own thread.
pub(crate) fn all_parsed(
    receiver: Receiver<ParsedChunk>,
    expected: usize,
) -> impl Iterator<Item = (usize, Result<ParsedLine, MessageError>)> {
    let mut received = 0;
    let mut chunks = receiver.into_iter();
    std::iter::from_fn(move || {
        let next = chunks.next();
        match &next {
            Some(chunk) => received += chunk.len(),
            None => assert_eq!(
                received, expected,
                "the parsing thread stopped before the last line"
            ),
        }
        next
    })
    .flatten()
}

/// A copy of a call's lines that the long-lived thread can own: their text end to end, and
/// where each ends. One allocation, and copying it costs far less than parsing it.
pub(crate) struct LineCopy {
    text: String,
    ends: Vec<usize>,
}

impl LineCopy {
    /// Copies `lines`.
    pub fn of<S: AsRef<str>>(lines: &[S]) -> LineCopy {
        let total = lines.iter().map(|line| line.as_ref().len()).sum();
        let mut text = String::with_capacity(total);
        let mut ends = Vec::with_capacity(lines.len());
        for line in lines {
            text.push_str(line.as_ref());
            ends.push(text.len());
        }
        LineCopy { text, ends }
    }

    /// The lines, in order.
    pub fn lines(&self) -> impl Iterator<Item = &str> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts
            .zip(self.ends.iter().copied())
            .map(|(start, end)| &self.text[start..end])
    }
}

/// One call's parsing, with everything it needs moved in.
pub(crate) struct ParseJob {
    /// The lines to parse.
    pub lines: LineCopy,
    /// The identity configuration identifiers are extracted under.
    pub ahead: IdentityConfig,
    /// Where the parsed chunks go.
    pub parsed: SyncSender<ParsedChunk>,
    /// Messages the writer is done with, to be freed on the thread that allocated them
    /// (freeing there is the allocator's fast path).
    pub spent: Receiver<SpentChunk>,
}

/// The parsing thread. One job runs at a time: a job ends only when its writer hangs up the
/// spent-message channel, so the caller must hold this handle (not merely have sent the
/// job) until its write is done, or a second writer could wait on a thread busy with the
/// first.
pub(crate) struct ParseWorker {
    jobs: Option<Sender<ParseJob>>,
    thread: Option<JoinHandle<()>>,
}

impl ParseWorker {
    /// Starts the thread.
    pub fn start() -> std::io::Result<ParseWorker> {
        let (jobs, job_receiver) = channel::<ParseJob>();
        let thread = std::thread::Builder::new()
            .name("profiledb-parse".to_owned())
            .spawn(move || {
                for job in job_receiver {
                    parse_in_chunks(job.lines.lines(), &job.ahead, &job.parsed);
                    drop(job.parsed);
                    job.spent.into_iter().for_each(drop);
                }
            })?;
        Ok(ParseWorker {
            jobs: Some(jobs),
            thread: Some(thread),
        })
    }

    /// Hands `job` to the thread. If the thread is gone, the job comes back.
    #[allow(clippy::result_large_err)]
    pub fn send(&self, job: ParseJob) -> Result<(), ParseJob> {
        match &self.jobs {
            Some(jobs) => jobs.send(job).map_err(|error| error.0),
            None => Err(job),
        }
    }
}

impl Drop for ParseWorker {
    fn drop(&mut self) {
        // Closing the job channel ends the thread's loop.
        self.jobs = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A sender of spent messages in chunks of [`PARSE_CHUNK_LINES`], so the parsing thread
/// frees them while the writer goes on.
pub(crate) struct SpentMessages {
    sender: Sender<SpentChunk>,
    pending: SpentChunk,
}

impl SpentMessages {
    /// Sends spent messages to `sender`.
    pub fn new(sender: Sender<SpentChunk>) -> SpentMessages {
        SpentMessages {
            sender,
            pending: Vec::with_capacity(PARSE_CHUNK_LINES),
        }
    }

    /// Takes one message the writer is done with.
    pub fn give_back(&mut self, message: Box<Message>) {
        self.pending.push(message);
        if self.pending.len() == PARSE_CHUNK_LINES {
            let full = std::mem::replace(&mut self.pending, Vec::with_capacity(PARSE_CHUNK_LINES));
            // Only fails if the parsing thread is gone; the messages are then freed here.
            let _ = self.sender.send(full);
        }
    }
}

impl Drop for SpentMessages {
    fn drop(&mut self) {
        let _ = self.sender.send(std::mem::take(&mut self.pending));
    }
}
