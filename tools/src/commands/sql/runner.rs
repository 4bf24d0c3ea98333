//! Runs statements against a snapshot and writes their outcomes.

use crate::error::ToolError;
use crate::output::{value::rfc3339, write_result, ResultFormat};
use profiledb::query::live::LiveDatabase;
use profiledb::query::{self, QueryError, QueryResult, Session, SnapshotCatalog, StatementOutcome};
use std::io::{self, Write};
use std::time::{Duration, Instant};

/// Where a statement came from, to report errors at the right place of the input.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Origin {
    /// 1-based line of the input where the statement starts.
    pub line: u64,
    /// 1-based column of its first character.
    pub column: u64,
    /// Whether to name the statement's line in errors that carry no position of their own.
    pub in_script: bool,
}

impl Origin {
    /// A statement given as a whole (the command-line argument).
    pub(crate) const WHOLE: Origin = Origin {
        line: 1,
        column: 1,
        in_script: false,
    };
}

/// A SQL session over an open database: the pinned clock, live segments, output settings.
pub(crate) struct Runner<'d> {
    db: &'d LiveDatabase,
    session: Session,
    pub(crate) format: ResultFormat,
    pub(crate) timing: bool,
}

impl<'d> Runner<'d> {
    pub(crate) fn new(db: &'d LiveDatabase, format: ResultFormat) -> Self {
        Runner {
            db,
            session: db.session(),
            format,
            timing: false,
        }
    }

    /// Runs one statement and writes its outcome to `out`.
    pub(crate) fn run(
        &mut self,
        sql: &str,
        origin: Origin,
        out: &mut dyn Write,
    ) -> Result<(), ToolError> {
        let started = Instant::now();
        let outcome = self.execute(sql).map_err(|e| query_error(e, origin))?;
        let elapsed = started.elapsed();
        self.write_outcome(&outcome, out)
            .map_err(ToolError::io("write to stdout"))?;
        if self.timing {
            self.status(out, &format!("Time: {}", millis(elapsed)))
                .map_err(ToolError::io("write to stdout"))?;
        }
        out.flush().map_err(ToolError::io("write to stdout"))
    }

    /// Parses, plans and executes `sql` on a fresh snapshot.
    pub(crate) fn execute(&mut self, sql: &str) -> Result<StatementOutcome, QueryError> {
        // Segment statements go to the live segments: they persist and stay current.
        self.db.execute(&mut self.session, sql)
    }

    /// Every table with its columns and types, as a result (`\d`), optionally one table only.
    pub(crate) fn describe(&self, only: Option<&str>) -> QueryResult {
        use profiledb::query::Catalog;
        let snapshot = self.db.database().snapshot();
        let catalog = SnapshotCatalog::new(&snapshot);
        let text = profiledb::ColumnType::String;
        let mut result = QueryResult {
            columns: vec![
                ("table".into(), text),
                ("column".into(), text),
                ("type".into(), text),
            ],
            rows: Vec::new(),
        };
        for name in catalog.table_names() {
            if only.is_some_and(|o| o != name) {
                continue;
            }
            let Some(table) = catalog.table(&name) else {
                continue;
            };
            for (column, column_type) in table.columns() {
                result.rows.push(vec![
                    profiledb::Value::String(name.clone()),
                    profiledb::Value::String(column),
                    profiledb::Value::String(column_type.name().to_owned()),
                ]);
            }
        }
        result
    }

    /// Writes a result in the session's format.
    pub(crate) fn write_rows(&self, result: &QueryResult, out: &mut dyn Write) -> io::Result<()> {
        write_result(out, self.format, result)
    }

    fn write_outcome(&self, outcome: &StatementOutcome, out: &mut dyn Write) -> io::Result<()> {
        match outcome {
            StatementOutcome::Rows(result) => self.write_rows(result, out),
            StatementOutcome::SegmentCreated { name, replaced } => {
                let verb = if *replaced { "REPLACE" } else { "CREATE" };
                self.status(out, &format!("{verb} SEGMENT {name}"))
            }
            StatementOutcome::SegmentDropped { name, existed } => {
                let note = if *existed { "" } else { " (did not exist)" };
                self.status(out, &format!("DROP SEGMENT {name}{note}"))
            }
            StatementOutcome::NowSet(Some(now)) => {
                self.status(out, &format!("SET now = {}", rfc3339(*now)))
            }
            StatementOutcome::NowSet(None) => self.status(out, "SET now = DEFAULT"),
            StatementOutcome::TraitCreated { name, replaced } => {
                let verb = if *replaced { "REPLACE" } else { "CREATE" };
                self.status(out, &format!("{verb} TRAIT {name}"))
            }
            StatementOutcome::TraitDropped { name, existed } => {
                let note = if *existed { "" } else { " (did not exist)" };
                self.status(out, &format!("DROP TRAIT {name}{note}"))
            }
        }
    }

    /// A status line: with the results in table format, otherwise on stderr so CSV and JSON
    /// output stays machine-readable.
    pub(crate) fn status(&self, out: &mut dyn Write, text: &str) -> io::Result<()> {
        if self.format == ResultFormat::Table {
            writeln!(out, "{text}")
        } else {
            writeln!(io::stderr(), "{text}")
        }
    }
}

/// `12.345 ms`.
pub(crate) fn millis(elapsed: Duration) -> String {
    format!("{:.3} ms", elapsed.as_secs_f64() * 1000.0)
}

/// Moves positions relative to the statement to positions in the whole input.
fn query_error(error: QueryError, origin: Origin) -> ToolError {
    let mut has_position = true;
    let shifted = match error {
        QueryError::Parse {
            message,
            line,
            column,
        } if line > 0 => {
            let (line, column) = shift(origin, line, column);
            QueryError::Parse {
                message,
                line,
                column,
            }
        }
        QueryError::Plan {
            message,
            position: Some(p),
        } => {
            let (line, column) = shift(origin, p.line, p.column);
            QueryError::plan(message, Some(query::Position { line, column }))
        }
        QueryError::NotImplemented {
            construct,
            position: Some(p),
        } => {
            let (line, column) = shift(origin, p.line, p.column);
            QueryError::unsupported(construct, Some(query::Position { line, column }))
        }
        other => {
            has_position = false;
            other
        }
    };
    ToolError::Query {
        statement_line: (origin.in_script && !has_position).then_some(origin.line),
        source: shifted,
    }
}

fn shift(origin: Origin, line: u64, column: u64) -> (u64, u64) {
    if line == 1 {
        (origin.line, origin.column + column - 1)
    } else {
        (origin.line + line - 1, column)
    }
}
