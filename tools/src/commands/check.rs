//! `profiledb check`: read-only verification of every file.

use crate::error::ToolError;
use crate::output::{human_bytes, Out};
use crate::Outcome;
use profiledb::engine::dump::check_database;
use std::path::Path;

pub(crate) fn run(data: &Path) -> Result<Outcome, ToolError> {
    let report = check_database(data).map_err(ToolError::engine(format!(
        "cannot check {}",
        data.display()
    )))?;
    let mut out = Out::new();
    for problem in &report.problems {
        out.line(format!("problem: {problem}"))?;
    }
    let verdict = if report.is_healthy() {
        "healthy".to_owned()
    } else {
        format!("{} problem(s) found", report.problems.len())
    };
    out.line(format!(
        "checked {} files ({}): {verdict}",
        report.files_checked,
        human_bytes(report.bytes_checked)
    ))?;
    out.finish()?;
    Ok(if report.is_healthy() {
        Outcome::Clean
    } else {
        Outcome::ProblemsFound
    })
}
