//! `profiledb sql`: one statement, a script on stdin, or an interactive shell.

mod driver;
mod meta;
pub(crate) mod runner;
mod shell;
mod split;

use crate::error::ToolError;
use crate::output::ResultFormat;
use crate::Outcome;
use driver::{Driver, Flow};
use profiledb::query::live::LiveDatabase;
use profiledb::{Options, ProfilesOptions};
use runner::{Origin, Runner};
use std::io::{self, BufRead, BufWriter, IsTerminal, Write};
use std::path::Path;

pub(crate) fn run(
    data: &Path,
    statement: Option<&str>,
    format: ResultFormat,
) -> Result<Outcome, ToolError> {
    let db = open_live(data)?;
    let result = {
        let mut runner = Runner::new(&db, format);
        match statement {
            Some(sql) => run_argument(&mut runner, sql),
            None if io::stdin().is_terminal() => shell::run(&mut Driver::interactive(runner)),
            None => run_stdin(Driver::new(runner)),
        }
    };
    db.close().map_err(|source| ToolError::Query {
        statement_line: None,
        source: source.into(),
    })?;
    result.map(|()| Outcome::Clean)
}

/// Opens the existing database in `data` as a profiles database (so computed-trait statements
/// work) with its live segments; never creates one.
fn open_live(data: &Path) -> Result<LiveDatabase, ToolError> {
    let options = Options {
        create_if_missing: false,
        ..Options::default()
    };
    LiveDatabase::open_profiles(data, options, ProfilesOptions::default()).map_err(|source| {
        ToolError::Query {
            statement_line: None,
            source: source.into(),
        }
    })
}

/// Runs the statement(s) of the command-line argument.
fn run_argument(runner: &mut Runner<'_>, sql: &str) -> Result<(), ToolError> {
    let mut out = BufWriter::new(io::stdout().lock());
    if sql.trim_start().starts_with('\\') {
        meta::run(sql.trim(), runner, &mut out)?;
        return out.flush().map_err(ToolError::io("write to stdout"));
    }
    let parts = split::split(sql);
    if parts.complete.is_empty() && parts.rest.is_none() {
        return Err(ToolError::usage("the statement is empty"));
    }
    if parts.complete.len() + usize::from(parts.rest.is_some()) == 1 {
        // One statement: positions in errors are those of the argument itself.
        let text = parts.complete.first().map_or(sql, |p| p.text.as_str());
        return runner.run(text, Origin::WHOLE, &mut out);
    }
    for piece in parts.complete.iter().chain(&parts.rest) {
        let origin = Origin {
            line: piece.line,
            column: piece.column,
            in_script: true,
        };
        runner.run(&piece.text, origin, &mut out)?;
    }
    Ok(())
}

/// Runs statements read from stdin, stopping at the first error.
fn run_stdin(mut driver: Driver<'_>) -> Result<(), ToolError> {
    let mut out = BufWriter::new(io::stdout().lock());
    for line in io::stdin().lock().lines() {
        let line = line.map_err(ToolError::io("reading stdin"))?;
        if driver.feed(&line, &mut out)? == Flow::Quit {
            return out.flush().map_err(ToolError::io("write to stdout"));
        }
    }
    driver.finish(&mut out)?;
    out.flush().map_err(ToolError::io("write to stdout"))
}
