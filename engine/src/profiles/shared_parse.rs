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
use std::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering::SeqCst};

/// One chunk's parse results, each with its line's index in the call.
type ParsedChunk = Vec<(usize, Result<ParsedLine, MessageError>)>;

/// The lines of one call, shared by the parsing thread and the writer.
///
/// The threads hand chunks over through per-chunk slots and counters, without a common
/// lock: waking a thread that waits for a lock can take the waker's core for a moment, and
/// the writer would pay it at every chunk. A thread sleeps only when it must wait for the
/// other, and raises its flag first so the other knows to wake it.
pub(crate) struct SharedParse<'a, S> {
    lines: &'a [S],
    ahead: &'a IdentityConfig,
    chunks: usize,
    /// The first chunk neither thread has claimed.
    unclaimed: AtomicUsize,
    /// Every chunk below this one has been taken by the writer.
    taken: AtomicUsize,
    /// Per chunk, the parsing thread's results until the writer takes them.
    slots: Vec<Mutex<Option<ParsedChunk>>>,
    /// The parsing thread sleeps until the writer catches up.
    parser_waiting: AtomicBool,
    /// The writer sleeps until the parsing thread finishes a chunk it claimed.
    writer_waiting: AtomicBool,
    /// The writer takes no more chunks (it finished or failed).
    writer_done: AtomicBool,
    /// The parsing thread stopped; a chunk it claimed and did not finish never will be.
    parser_gone: AtomicBool,
    /// Held only to go to sleep and to wake a sleeper.
    sleep: Mutex<()>,
    wake: Condvar,
}

/// Chunks a waiting parsing thread lets the writer take before it resumes, so that it is
/// woken once per half window, not once per chunk.
const RESUME_AFTER_CHUNKS: usize = PARSE_CHUNKS_AHEAD / 2;

impl<'a, S: AsRef<str>> SharedParse<'a, S> {
    /// `lines` to parse, extracting identifiers under `ahead`.
    pub(crate) fn new(lines: &'a [S], ahead: &'a IdentityConfig) -> Self {
        let chunks = lines.len().div_ceil(PARSE_CHUNK_LINES);
        SharedParse {
            lines,
            ahead,
            chunks,
            unclaimed: AtomicUsize::new(0),
            taken: AtomicUsize::new(0),
            slots: (0..chunks).map(|_| Mutex::new(None)).collect(),
            parser_waiting: AtomicBool::new(false),
            writer_waiting: AtomicBool::new(false),
            writer_done: AtomicBool::new(false),
            parser_gone: AtomicBool::new(false),
            sleep: Mutex::new(()),
            wake: Condvar::new(),
        }
    }

    /// The parsing thread's work: claims and parses chunks until none is left or the writer
    /// is done, staying at most [`PARSE_CHUNKS_AHEAD`] chunks ahead of the writer.
    pub(crate) fn parse_ahead(&self) {
        let _gone = ParserGone(self);
        while self.wait_for_room() {
            let chunk = self.unclaimed.fetch_add(1, SeqCst);
            if chunk >= self.chunks {
                return;
            }
            let parsed = self.parse(chunk);
            *self.slots[chunk].lock() = Some(parsed);
            // Either the writer sees the chunk, or this thread sees that it sleeps.
            fence(SeqCst);
            if self.writer_waiting.load(SeqCst) {
                self.wake_the_other();
            }
        }
    }

    /// Waits while the parsing thread is far enough ahead; false once it should stop.
    fn wait_for_room(&self) -> bool {
        if self.unclaimed.load(SeqCst) < self.taken.load(SeqCst) + PARSE_CHUNKS_AHEAD {
            return !self.writer_done.load(SeqCst);
        }
        let mut asleep = self.sleep.lock();
        self.parser_waiting.store(true, SeqCst);
        let go_on = loop {
            if self.writer_done.load(SeqCst) {
                break false;
            }
            let claimed = self.unclaimed.load(SeqCst);
            if claimed >= self.chunks || claimed <= self.taken.load(SeqCst) + RESUME_AFTER_CHUNKS {
                break true;
            }
            self.wake.wait(&mut asleep);
        };
        self.parser_waiting.store(false, SeqCst);
        go_on
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
            .compare_exchange(chunk, chunk + 1, SeqCst, SeqCst)
            .is_ok();
        let parsed = if claimed_here {
            self.parse(chunk)
        } else {
            self.wait_for(chunk)
        };
        self.taken.store(chunk + 1, SeqCst);
        if self.parser_waiting.load(SeqCst)
            && self.unclaimed.load(SeqCst) <= chunk + 1 + RESUME_AFTER_CHUNKS
        {
            self.wake_the_other();
        }
        parsed
    }

    /// The results of a chunk the parsing thread claimed, once it has finished them; parsed
    /// here if that thread stopped first.
    fn wait_for(&self, chunk: usize) -> ParsedChunk {
        if let Some(parsed) = self.slots[chunk].lock().take() {
            return parsed;
        }
        let mut asleep = self.sleep.lock();
        self.writer_waiting.store(true, SeqCst);
        let finished = loop {
            if let Some(parsed) = self.slots[chunk].lock().take() {
                break Some(parsed);
            }
            if self.parser_gone.load(SeqCst) {
                break None;
            }
            self.wake.wait(&mut asleep);
        };
        self.writer_waiting.store(false, SeqCst);
        drop(asleep);
        finished.unwrap_or_else(|| self.parse(chunk))
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

    /// Wakes the other thread. The sleeper holds `sleep` from raising its flag until it
    /// sleeps, so taking it here ensures the wakeup does not come before the sleep.
    fn wake_the_other(&self) {
        let _asleep = self.sleep.lock();
        self.wake.notify_all();
    }

    fn mark(&self, flag: &AtomicBool) {
        flag.store(true, SeqCst);
        self.wake_the_other();
    }
}

/// Tells the writer the parsing thread stopped, however it stopped (a panic included), so
/// the writer never waits for a chunk that will not come.
struct ParserGone<'s, 'a, S: AsRef<str>>(&'s SharedParse<'a, S>);

impl<S: AsRef<str>> Drop for ParserGone<'_, '_, S> {
    fn drop(&mut self) {
        self.0.mark(&self.0.parser_gone);
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
        self.shared.mark(&self.shared.writer_done);
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
    fn racing_threads_hand_over_every_chunk_once_in_order() {
        let config = IdentityConfig::default();
        let lines = lines(12 * PARSE_CHUNK_LINES + 7);
        for _ in 0..100 {
            let shared = SharedParse::new(&lines, &config);
            let items: Vec<_> = std::thread::scope(|scope| {
                scope.spawn(|| shared.parse_ahead());
                shared.in_order().collect()
            });
            assert_eq!(indices_and_failures(&items), expected(lines.len()));
        }
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
            shared.unclaimed.store(1, SeqCst);
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
            assert!(shared.unclaimed.load(SeqCst) < 40);
        });
    }
}
