//! Importing NDJSON Tracking Spec messages through the profiles layer: identity resolution,
//! traits and computed traits, one `ingest` call per batch of lines.

use super::input::Input;
use super::progress::Progress;
use super::rejects::Rejects;
use super::summary::{self, Counts};
use super::{import_options, Settings};
use crate::error::ToolError;
use crate::Outcome;
use profiledb::engine::message::parse_message_line;
use profiledb::engine::profiles::{Profiles, ProfilesOptions};
use std::io::BufRead;
use std::path::Path;
use std::time::Instant;

/// One message line with its line number.
struct Line {
    number: u64,
    text: String,
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

    /// The next line, or `Err(line)` for one that is not UTF-8; `None` at the end.
    fn next(&mut self) -> Result<Option<Result<Line, Line>>, ToolError> {
        loop {
            self.buffer.clear();
            let read = self
                .input
                .read_until(b'\n', &mut self.buffer)
                .map_err(ToolError::io(format!("reading {}", self.name)))?;
            if read == 0 {
                return Ok(None);
            }
            let number = self.next_number;
            self.next_number += 1;
            let bytes = trim_newline(&self.buffer);
            if bytes.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            return Ok(Some(match std::str::from_utf8(bytes) {
                Ok(text) => Ok(Line {
                    number,
                    text: text.to_owned(),
                }),
                Err(_) => Err(Line {
                    number,
                    text: String::from_utf8_lossy(bytes).into_owned(),
                }),
            }));
        }
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
            Err(line) => rejects.reject(line.number, &line.text, NOT_UTF8)?,
            Ok(line) => {
                if let Err(error) = parse_message_line(&line.text) {
                    rejects.reject(line.number, &line.text, &error.to_string())?;
                }
            }
        }
    }
    Ok(counts)
}

/// Ingests the lines in batches of `--batch-size`.
fn ingest_all(
    profiles: &Profiles,
    input: &Input,
    rejects: &mut Rejects,
    settings: &Settings,
) -> Result<Counts, ToolError> {
    let progress = Progress::new("ingesting");
    let mut lines = Lines::new(input)?;
    let mut counts = Counts::default();
    let mut batch: Vec<Line> = Vec::with_capacity(settings.batch_size);
    loop {
        let next = lines.next()?;
        let done = next.is_none();
        match next {
            Some(Ok(line)) => batch.push(line),
            Some(Err(line)) => {
                counts.read += 1;
                rejects.reject(line.number, &line.text, NOT_UTF8)?;
            }
            None => {}
        }
        if batch.len() >= settings.batch_size || (done && !batch.is_empty()) {
            ingest_batch(profiles, &batch, &mut counts, rejects)?;
            batch.clear();
            progress.set(counts.imported);
        }
        if done {
            break;
        }
    }
    progress.finish();
    Ok(counts)
}

fn ingest_batch(
    profiles: &Profiles,
    batch: &[Line],
    counts: &mut Counts,
    rejects: &mut Rejects,
) -> Result<(), ToolError> {
    let texts: Vec<&str> = batch.iter().map(|l| l.text.as_str()).collect();
    let report = profiles
        .ingest_lines(&texts)
        .map_err(ToolError::profiles("ingesting messages"))?;
    counts.read += batch.len() as u64;
    counts.imported += report.accepted as u64;
    counts.duplicates += report.duplicates.len() as u64;
    for rejected in &report.rejected {
        if let Some(line) = batch.get(rejected.index) {
            rejects.reject(line.number, &line.text, &rejected.reason.to_string())?;
        }
    }
    Ok(())
}
