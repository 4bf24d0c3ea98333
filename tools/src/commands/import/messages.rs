//! Importing NDJSON Tracking Spec messages through the profiles layer: identity resolution,
//! traits and computed traits, one `ingest` call per batch of lines.

use super::input::Input;
use super::progress::Progress;
use super::rejects::Rejects;
use super::summary::{self, Counts};
use super::{import_options, Settings};
use crate::error::ToolError;
use crate::Outcome;
use profiledb::engine::identity::IdentityConfig;
use profiledb::engine::message::{parse_message_line, Message};
use profiledb::engine::profiles::{PreparedMessages, Profiles, ProfilesOptions};
use std::io::BufRead;
use std::path::Path;
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};
use std::time::Instant;

/// A line that is not UTF-8, with its line number and its text made readable.
struct Line {
    number: u64,
    text: String,
}

/// What [`Lines::next`] read: a line's number and text, or a line that is not UTF-8.
enum ReadLine<'a> {
    Text(u64, &'a str),
    NotUtf8(Line),
}

/// The lines of one batch, back to back in one buffer: one allocation per batch instead of
/// one per line, and nothing per line for the writer to free.
#[derive(Default)]
struct LineBatch {
    text: String,
    /// Each line's number, and where it ends in `text` (it starts where the previous one ends).
    lines: Vec<(u64, usize)>,
}

impl LineBatch {
    fn with_capacity(lines: usize, text_bytes: usize) -> LineBatch {
        LineBatch {
            text: String::with_capacity(text_bytes),
            lines: Vec::with_capacity(lines),
        }
    }

    fn push(&mut self, number: u64, text: &str) {
        self.text.push_str(text);
        self.lines.push((number, self.text.len()));
    }

    fn len(&self) -> usize {
        self.lines.len()
    }

    fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// The number and text of the line at `index`.
    fn get(&self, index: usize) -> Option<(u64, &str)> {
        let &(number, end) = self.lines.get(index)?;
        let start = index
            .checked_sub(1)
            .and_then(|previous| self.lines.get(previous))
            .map_or(0, |&(_, end)| end);
        Some((number, self.text.get(start..end)?))
    }

    /// Every line's number and text, in order.
    fn iter(&self) -> impl Iterator<Item = (u64, &str)> {
        (0..self.len()).filter_map(|index| self.get(index))
    }
}

/// Reads non-blank lines; a line that is not UTF-8 is rejected on the spot.
struct Lines {
    input: Box<dyn BufRead>,
    name: String,
    next_number: u64,
    buffer: Vec<u8>,
}

impl Lines {
    fn new(input: &Input) -> Result<Lines, ToolError> {
        Ok(Lines {
            input: input.open()?,
            name: input.name(),
            next_number: 1,
            buffer: Vec::new(),
        })
    }

    /// The next line, or `None` at the end.
    fn next(&mut self) -> Result<Option<ReadLine<'_>>, ToolError> {
        let number = loop {
            self.buffer.clear();
            // The error's context is formatted only on failure: per line, it cost as much as
            // reading the line.
            let read = self
                .input
                .read_until(b'\n', &mut self.buffer)
                .map_err(|error| ToolError::io(format!("reading {}", self.name))(error))?;
            if read == 0 {
                return Ok(None);
            }
            let number = self.next_number;
            self.next_number += 1;
            if !trim_newline(&self.buffer)
                .iter()
                .all(u8::is_ascii_whitespace)
            {
                break number;
            }
        };
        let bytes = trim_newline(&self.buffer);
        Ok(Some(match std::str::from_utf8(bytes) {
            Ok(text) => ReadLine::Text(number, text),
            Err(_) => ReadLine::NotUtf8(Line {
                number,
                text: String::from_utf8_lossy(bytes).into_owned(),
            }),
        }))
    }
}

fn trim_newline(bytes: &[u8]) -> &[u8] {
    let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    bytes.strip_suffix(b"\r").unwrap_or(bytes)
}

const NOT_UTF8: &str = "the line is not valid UTF-8";

pub(crate) fn run(data: &Path, input: Input, settings: &Settings) -> Result<Outcome, ToolError> {
    let started = Instant::now();
    let input = if settings.strict {
        input.into_rereadable()?
    } else {
        input
    };
    let mut rejects = Rejects::new(settings.rejects.clone());
    if settings.strict {
        let counts = validate(&input, &mut rejects)?;
        if rejects.count() > 0 {
            rejects.finish()?;
            summary::print(counts, &rejects, started.elapsed(), true)?;
            return Ok(Outcome::ProblemsFound);
        }
    }
    let profiles = Profiles::open(data, import_options(true), ProfilesOptions::default()).map_err(
        ToolError::profiles(format!("cannot open the database in {}", data.display())),
    )?;
    let counts = ingest_all(&profiles, &input, &mut rejects, settings);
    let closed = profiles
        .database()
        .flush()
        .map_err(ToolError::engine("flushing the imported messages"))
        .and_then(|()| {
            profiles
                .close()
                .map_err(ToolError::profiles("closing the database"))
        });
    let counts = counts?;
    closed?;
    rejects.finish()?;
    summary::print(counts, &rejects, started.elapsed(), false)?;
    Ok(if rejects.count() > 0 {
        Outcome::ProblemsFound
    } else {
        Outcome::Clean
    })
}

/// `--strict`: checks every line against the Tracking Spec without writing.
fn validate(input: &Input, rejects: &mut Rejects) -> Result<Counts, ToolError> {
    let mut lines = Lines::new(input)?;
    let mut counts = Counts::default();
    while let Some(line) = lines.next()? {
        counts.read += 1;
        match line {
            ReadLine::NotUtf8(line) => rejects.reject(line.number, &line.text, NOT_UTF8)?,
            ReadLine::Text(number, text) => {
                if let Err(error) = parse_message_line(text) {
                    rejects.reject(number, text, &error.to_string())?;
                }
            }
        }
    }
    Ok(counts)
}

/// A batch of lines, parsed off the writing thread.
struct ParsedBatch {
    /// Every line of the batch, for the reject file.
    lines: LineBatch,
    /// The messages that parsed, with their event rows made on the reading thread.
    prepared: PreparedMessages,
    /// The index in `lines` of each message of `prepared`.
    line_of: Vec<usize>,
    /// Lines that did not parse: index in `lines` and the reason.
    unparsed: Vec<(usize, String)>,
    /// Lines that are not UTF-8.
    not_utf8: Vec<Line>,
}

impl ParsedBatch {
    fn parse(lines: LineBatch, not_utf8: Vec<Line>, identity: &IdentityConfig) -> ParsedBatch {
        let mut messages: Vec<Message> = Vec::with_capacity(lines.len());
        let mut line_of = Vec::with_capacity(lines.len());
        let mut unparsed = Vec::new();
        for (index, (_, text)) in lines.iter().enumerate() {
            match parse_message_line(text) {
                Ok(message) => {
                    messages.push(message);
                    line_of.push(index);
                }
                Err(error) => unparsed.push((index, error.to_string())),
            }
        }
        ParsedBatch {
            lines,
            prepared: PreparedMessages::with_identifiers(messages, identity),
            line_of,
            unparsed,
            not_utf8,
        }
    }
}

/// Batches parsed ahead of the writer; two in flight keep both cores busy without
/// buffering much of the input.
const BATCHES_IN_FLIGHT: usize = 2;

/// Ingests the lines in batches of `--batch-size`. Reading, decompressing, parsing and making
/// event rows run on a second thread, so they overlap with the writer instead of taking turns
/// with it; the messages go back to that thread to be freed where they were allocated.
fn ingest_all(
    profiles: &Profiles,
    input: &Input,
    rejects: &mut Rejects,
    settings: &Settings,
) -> Result<Counts, ToolError> {
    let progress = Progress::new("ingesting");
    let mut counts = Counts::default();
    let (sender, receiver) = sync_channel::<Result<ParsedBatch, ToolError>>(BATCHES_IN_FLIGHT);
    let (spent_sender, spent_receiver) = channel::<Vec<Message>>();
    let identity = profiles.identity_config();
    std::thread::scope(|scope| {
        scope.spawn(move || {
            read_batches(
                input,
                settings.batch_size,
                &identity,
                &sender,
                &spent_receiver,
            );
            drop(sender);
            spent_receiver.into_iter().for_each(drop);
        });
        // Owned here so that leaving early, on an error, also releases the reading thread.
        let spent_sender = spent_sender;
        for batch in receiver {
            ingest_batch(profiles, batch?, &mut counts, rejects, &spent_sender)?;
            progress.set(counts.imported);
        }
        Ok::<(), ToolError>(())
    })?;
    progress.finish();
    Ok(counts)
}

/// Reads and parses the input batch by batch (extracting identifiers under `identity`) until
/// it ends, the writer hangs up, or reading fails (the error is the last item sent).
/// Messages the writer sent back are freed between batches.
fn read_batches(
    input: &Input,
    batch_size: usize,
    identity: &IdentityConfig,
    sender: &SyncSender<Result<ParsedBatch, ToolError>>,
    spent: &Receiver<Vec<Message>>,
) {
    let mut lines = match Lines::new(input) {
        Ok(lines) => lines,
        Err(error) => {
            let _ = sender.send(Err(error));
            return;
        }
    };
    let mut batch = LineBatch::with_capacity(batch_size, 0);
    let mut not_utf8 = Vec::new();
    loop {
        let next = match lines.next() {
            Ok(next) => next,
            Err(error) => {
                let _ = sender.send(Err(error));
                return;
            }
        };
        let done = next.is_none();
        match next {
            Some(ReadLine::Text(number, text)) => batch.push(number, text),
            Some(ReadLine::NotUtf8(line)) => not_utf8.push(line),
            None => {}
        }
        if batch.len() >= batch_size || (done && !(batch.is_empty() && not_utf8.is_empty())) {
            spent.try_iter().for_each(drop);
            // Batches of one input are alike: room for as much text as the last one held
            // spares growing the buffer line by line.
            let next_batch = LineBatch::with_capacity(batch_size, batch.text.len());
            let full = std::mem::replace(&mut batch, next_batch);
            let parsed = ParsedBatch::parse(full, std::mem::take(&mut not_utf8), identity);
            if sender.send(Ok(parsed)).is_err() {
                return;
            }
        }
        if done {
            return;
        }
    }
}

fn ingest_batch(
    profiles: &Profiles,
    batch: ParsedBatch,
    counts: &mut Counts,
    rejects: &mut Rejects,
    spent_sender: &Sender<Vec<Message>>,
) -> Result<(), ToolError> {
    let line_of = batch.line_of;
    let (report, spent) = profiles
        .ingest_prepared_returning(batch.prepared)
        .map_err(ToolError::profiles("ingesting messages"))?;
    // If the reading thread is gone, the messages are simply freed here.
    let _ = spent_sender.send(spent);
    counts.read += (batch.lines.len() + batch.not_utf8.len()) as u64;
    counts.imported += report.accepted as u64;
    counts.duplicates += report.duplicates.len() as u64;
    let mut refused: Vec<(u64, &str, String)> = Vec::new();
    for line in &batch.not_utf8 {
        refused.push((line.number, &line.text, NOT_UTF8.to_owned()));
    }
    for (index, reason) in batch.unparsed {
        if let Some((number, text)) = batch.lines.get(index) {
            refused.push((number, text, reason));
        }
    }
    for rejected in &report.rejected {
        if let Some((number, text)) = line_of
            .get(rejected.index)
            .and_then(|&i| batch.lines.get(i))
        {
            refused.push((number, text, rejected.reason.to_string()));
        }
    }
    refused.sort_by_key(|(number, _, _)| *number);
    for (number, text, reason) in refused {
        rejects.reject(number, text, &reason)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::LineBatch;

    #[test]
    fn line_batch_gives_back_each_line_with_its_number() {
        let lines = [(1, "{\"a\":1}"), (3, ""), (4, "é"), (9, "{}")];
        let mut batch = LineBatch::with_capacity(2, 0);
        for (number, text) in lines {
            batch.push(number, text);
        }
        assert_eq!(batch.len(), lines.len());
        assert_eq!(batch.iter().collect::<Vec<_>>(), lines);
        assert_eq!(batch.get(2), Some((4, "é")));
        assert_eq!(batch.get(4), None);
        assert!(LineBatch::default().is_empty());
    }
}
