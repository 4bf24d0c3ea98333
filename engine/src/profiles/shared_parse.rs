//! A call's lines parsed in chunks by a second thread while the writer resolves them, with
//! the writer parsing the next chunk itself whenever that thread has not started it.
//!
//! On two shared cores the parsing thread is often off the CPU: flushes, the WAL and trait
//! upkeep take turns on the other core. A writer that waited for it would sit idle with
//! work in reach. Instead both threads claim chunks from one counter, and the writer takes
//! them in order: the parsing thread's when it finished them, its own otherwise.

use super::{parse_line, ParsedLine, PARSE_CHUNKS_AHEAD, PARSE_CHUNK_LINES};
use crate::identity::IdentityConfig;
use crate::message::MessageError;
use parking_lot::{Condvar, Mutex};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

/// One chunk's parse results, each with its line's index in the call.
type ParsedChunk = Vec<(usize, Result<ParsedLine, MessageError>)>;

/// The lines of one call, shared by the parsing thread and the writer.
pub(crate) struct SharedParse<'a, S> {
    lines: &'a [S],
    ahead: &'a IdentityConfig,
    chunks: usize,
    /// The first chunk neither thread has claimed.
    unclaimed: AtomicUsize,
    handover: Mutex<Handover>,
    /// Signalled whenever `handover` changes.
    changed: Condvar,
}

/// What the two threads hand each other.
#[derive(Default)]
struct Handover {
    /// Chunks the parsing thread finished and the writer has not taken yet.
    ready: BTreeMap<usize, ParsedChunk>,
    /// Every chunk below this one has been taken by the writer.
    taken: usize,
    /// The writer stopped taking chunks (it finished or failed).
    writer_done: bool,
    /// The parsing thread stopped; a chunk it claimed and did not finish never will be.
    parser_gone: bool,
    /// The parsing thread waits for the writer to catch up.
    parser_waiting: bool,
    /// The writer waits for a chunk the parsing thread is parsing.
    writer_waiting: bool,
}

/// Chunks a waiting parsing thread lets the writer take before it resumes. Each wakeup can
/// take the writer's core for a moment, so the parsing thread resumes once per half window,
/// not once per chunk.
const RESUME_AFTER_CHUNKS: usize = PARSE_CHUNKS_AHEAD / 2;

impl<'a, S: AsRef<str>> SharedParse<'a, S> {
    /// `lines` to parse, extracting identifiers under `ahead`.
    pub(crate) fn new(lines: &'a [S], ahead: &'a IdentityConfig) -> Self {
        SharedParse {
            lines,
            ahead,
            chunks: lines.len().div_ceil(PARSE_CHUNK_LINES),
            unclaimed: AtomicUsize::new(0),
            handover: Mutex::new(Handover::default()),
            changed: Condvar::new(),
        }
    }

    /// The parsing thread's work: claims and parses chunks until none is left or the writer
    /// is done, staying at most [`PARSE_CHUNKS_AHEAD`] chunks ahead of the writer.
    pub(crate) fn parse_ahead(&self) {
        let _gone = ParserGone(self);
        while self.wait_for_room() {
            let chunk = self.unclaimed.fetch_add(1, Ordering::AcqRel);
            if chunk >= self.chunks {
                return;
            }
            let parsed = self.parse(chunk);
            let mut handover = self.handover.lock();
            handover.ready.insert(chunk, parsed);
            if handover.writer_waiting {
                self.changed.notify_all();
            }
        }
    }

    /// Waits while the parsing thread is far enough ahead; false once it should stop.
    fn wait_for_room(&self) -> bool {
        let mut handover = self.handover.lock();
        let claimed = self.unclaimed.load(Ordering::Acquire);
        if claimed < handover.taken + PARSE_CHUNKS_AHEAD {
            return !handover.writer_done;
        }
        loop {
            let claimed = self.unclaimed.load(Ordering::Acquire);
            if handover.writer_done || claimed >= self.chunks {
                handover.parser_waiting = false;
                return !handover.writer_done;
            }
            if claimed <= handover.taken + RESUME_AFTER_CHUNKS {
                handover.parser_waiting = false;
                return true;
            }
            handover.parser_waiting = true;
            self.changed.wait(&mut handover);
        }
    }

    /// The parse results of every line, in order, for the writer.
    pub(crate) fn in_order(&self) -> InOrder<'_, 'a, S> {
        InOrder {
            shared: self,
            next_chunk: 0,
            current: Vec::new().into_iter(),
        }
    }

    /// Chunk `chunk`, which the writer needs now: parsed here if the parsing thread has not
    /// claimed it (or claimed it and stopped), else waited for.
    fn take(&self, chunk: usize) -> ParsedChunk {
        let claimed_here = self
            .unclaimed
            .compare_exchange(chunk, chunk + 1, Ordering::AcqRel, Ordering::Acquire)
            .is_ok();
        let parsed = if claimed_here {
            self.parse(chunk)
        } else {
            let mut handover = self.handover.lock();
            loop {
                if let Some(parsed) = handover.ready.remove(&chunk) {
                    handover.writer_waiting = false;
                    break parsed;
                }
                if handover.parser_gone {
                    handover.writer_waiting = false;
                    drop(handover);
                    break self.parse(chunk);
                }
                handover.writer_waiting = true;
                self.changed.wait(&mut handover);
            }
        };
        let mut handover = self.handover.lock();
        handover.taken = chunk + 1;
        let claimed = self.unclaimed.load(Ordering::Acquire);
        if handover.parser_waiting && claimed <= handover.taken + RESUME_AFTER_CHUNKS {
            self.changed.notify_all();
        }
        parsed
    }

    fn parse(&self, chunk: usize) -> ParsedChunk {
        let first = chunk * PARSE_CHUNK_LINES;
        let end = (first + PARSE_CHUNK_LINES).min(self.lines.len());
        (first..end)
            .map(|index| {
                let line = self.lines[index].as_ref();
                (index, parse_line(line, Some(self.ahead)))
            })
            .collect()
    }

    fn mark(&self, note: impl FnOnce(&mut Handover)) {
        note(&mut self.handover.lock());
        self.changed.notify_all();
    }
}

/// Tells the writer the parsing thread stopped, however it stopped (a panic included), so
/// the writer never waits for a chunk that will not come.
struct ParserGone<'s, 'a, S: AsRef<str>>(&'s SharedParse<'a, S>);

impl<S: AsRef<str>> Drop for ParserGone<'_, '_, S> {
    fn drop(&mut self) {
        self.0.mark(|handover| handover.parser_gone = true);
    }
}

/// The writer's view: every line's parse result, in line order.
pub(crate) struct InOrder<'s, 'a, S: AsRef<str>> {
    shared: &'s SharedParse<'a, S>,
    next_chunk: usize,
    current: std::vec::IntoIter<(usize, Result<ParsedLine, MessageError>)>,
}

impl<S: AsRef<str>> Iterator for InOrder<'_, '_, S> {
    type Item = (usize, Result<ParsedLine, MessageError>);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(item) = self.current.next() {
                return Some(item);
            }
            if self.next_chunk >= self.shared.chunks {
                return None;
            }
            self.current = self.shared.take(self.next_chunk).into_iter();
            self.next_chunk += 1;
        }
    }
}

impl<S: AsRef<str>> Drop for InOrder<'_, '_, S> {
    fn drop(&mut self) {
        // Finished or failed, the writer takes nothing more: the parsing thread may stop.
        self.shared.mark(|handover| handover.writer_done = true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(n: usize) -> Vec<String> {
        (0..n)
            .map(|i| {
                if i % 97 == 5 {
                    "{not json".to_owned()
                } else {
                    format!(
                        r#"{{"type":"track","userId":"u{i}","event":"E","messageId":"m{i}","timestamp":"2026-01-01T00:00:00Z"}}"#
                    )
                }
            })
            .collect()
    }

    fn indices_and_failures(
        items: &[(usize, Result<ParsedLine, MessageError>)],
    ) -> Vec<(usize, bool)> {
        items
            .iter()
            .map(|(index, result)| (*index, result.is_ok()))
            .collect()
    }

    fn expected(n: usize) -> Vec<(usize, bool)> {
        (0..n).map(|i| (i, i % 97 != 5)).collect()
    }

    #[test]
    fn the_writer_gets_every_line_in_order_whoever_parsed_it() {
        let config = IdentityConfig::default();
        for n in [0, 1, PARSE_CHUNK_LINES, 20 * PARSE_CHUNK_LINES + 3] {
            let lines = lines(n);
            // With a parsing thread racing the writer.
            let shared = SharedParse::new(&lines, &config);
            let items: Vec<_> = std::thread::scope(|scope| {
                scope.spawn(|| shared.parse_ahead());
                shared.in_order().collect()
            });
            assert_eq!(
                indices_and_failures(&items),
                expected(n),
                "{n} lines, two threads"
            );
            // With no parsing thread at all: the writer parses every chunk.
            let alone = SharedParse::new(&lines, &config);
            let items: Vec<_> = alone.in_order().collect();
            assert_eq!(
                indices_and_failures(&items),
                expected(n),
                "{n} lines, writer alone"
            );
        }
    }

    /// Runs `work` on a thread of its own and fails if it panics or is still running after a
    /// minute: a broken handover shows as a hang, which must fail rather than block the run.
    fn finishes(work: impl FnOnce() + Send + 'static) {
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            work();
            let _ = done.send(());
        });
        finished
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("finished without panicking or hanging");
    }

    #[test]
    fn a_parsing_thread_that_stops_early_leaves_its_chunk_to_the_writer() {
        finishes(|| {
            let config = IdentityConfig::default();
            let lines = lines(5 * PARSE_CHUNK_LINES);
            let shared = SharedParse::new(&lines, &config);
            // The parsing thread claimed chunk 0 and went away without finishing it.
            shared.unclaimed.store(1, Ordering::Release);
            drop(ParserGone(&shared));
            let items: Vec<_> = shared.in_order().collect();
            assert_eq!(indices_and_failures(&items), expected(lines.len()));
        });
    }

    #[test]
    fn the_parsing_thread_stops_when_the_writer_gives_up() {
        finishes(|| {
            let config = IdentityConfig::default();
            let lines = lines(40 * PARSE_CHUNK_LINES);
            let shared = SharedParse::new(&lines, &config);
            std::thread::scope(|scope| {
                let parser = scope.spawn(|| shared.parse_ahead());
                let mut writer = shared.in_order();
                assert!(writer.next().is_some());
                drop(writer);
                parser.join().expect("the parsing thread returns");
            });
            assert!(shared.unclaimed.load(Ordering::Acquire) < 40);
        });
    }
}
