//! The closing report of an import.

use super::rejects::Rejects;
use crate::error::ToolError;
use crate::output::Out;
use std::time::Duration;

/// Counts of one import.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Counts {
    /// Data rows (or message lines) read.
    pub read: u64,
    /// Rows written (acknowledged by the database).
    pub imported: u64,
    /// Rows skipped as already seen (messages with a known id).
    pub duplicates: u64,
}

/// Prints `read N rows: M imported, K rejected … in T (R rows/s)` and the first rejects.
pub(crate) fn print(
    counts: Counts,
    rejects: &Rejects,
    elapsed: Duration,
    strict_failed: bool,
) -> Result<(), ToolError> {
    let mut out = Out::new();
    let seconds = elapsed.as_secs_f64();
    let rate = if seconds > 0.0 {
        counts.read as f64 / seconds
    } else {
        0.0
    };
    let duplicates = if counts.duplicates > 0 {
        format!(", {} duplicates skipped", counts.duplicates)
    } else {
        String::new()
    };
    out.line(format!(
        "read {} rows: {} imported, {} rejected{duplicates} in {seconds:.2} s ({rate:.0} rows/s)",
        counts.read,
        counts.imported,
        rejects.count()
    ))?;
    for entry in rejects.shown() {
        out.line(format!("  rejected {entry}"))?;
    }
    if rejects.count() > 0 {
        out.line(format!(
            "rejected rows and reasons are in {}",
            rejects.path().display()
        ))?;
    }
    if strict_failed {
        out.line("--strict: nothing was imported because some rows are bad")?;
    }
    out.finish()
}
