//! The demo's segments: created with `CREATE SEGMENT` through the SQL layer, then counted.

use crate::error::ToolError;
use profiledb::query::{self, Session, SnapshotCatalog, StatementOutcome};
use profiledb::{Database, Value};
use std::time::{Duration, Instant};

/// One segment of the tour.
pub(crate) struct SegmentSpec {
    pub name: &'static str,
    pub about: &'static str,
    pub sql: String,
}

/// One statement the demo ran, with its result and time.
pub(crate) struct Ran {
    pub sql: String,
    pub about: String,
    pub count: Option<i64>,
    pub elapsed: Duration,
}

/// Runs `sql` in `session` on a fresh snapshot.
pub(crate) fn run_sql(
    db: &Database,
    session: &mut Session,
    now: i64,
    sql: &str,
) -> Result<(StatementOutcome, Duration), ToolError> {
    let snapshot = db.snapshot();
    let catalog = SnapshotCatalog::new(&snapshot).with_now(now);
    let started = Instant::now();
    let outcome = query::execute(&catalog, session, sql).map_err(|source| ToolError::Query {
        statement_line: None,
        source,
    })?;
    Ok((outcome, started.elapsed()))
}

/// The single integer a `SELECT COUNT(*)` returned.
pub(crate) fn single_count(outcome: &StatementOutcome) -> Option<i64> {
    match outcome {
        StatementOutcome::Rows(result) => match result.rows.first()?.first()? {
            Value::Int64(n) => Some(*n),
            _ => None,
        },
        _ => None,
    }
}

/// Creates each segment, then counts its members; returns every statement run.
pub(crate) fn create_and_count(
    db: &Database,
    now: i64,
    specs: &[SegmentSpec],
) -> Result<Vec<Ran>, ToolError> {
    let mut session = Session::new();
    let mut ran = Vec::new();
    for spec in specs {
        let create = format!("CREATE OR REPLACE SEGMENT {} AS {}", spec.name, spec.sql);
        let (_, elapsed) = run_sql(db, &mut session, now, &create)?;
        ran.push(Ran {
            sql: create,
            about: spec.about.to_owned(),
            count: None,
            elapsed,
        });
        let count = format!("SELECT COUNT(*) FROM {}", spec.name);
        let (outcome, elapsed) = run_sql(db, &mut session, now, &count)?;
        ran.push(Ran {
            sql: count,
            about: format!("members of {}", spec.name),
            count: single_count(&outcome),
            elapsed,
        });
    }
    Ok(ran)
}
