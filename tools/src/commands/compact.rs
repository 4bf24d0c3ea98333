//! `profiledb compact`: one segment per table, deleted rows' bytes gone.

use super::{close, open_existing};
use crate::error::ToolError;
use crate::output::{human_bytes, Out};
use crate::Outcome;
use profiledb::engine::DatabaseStats;
use std::path::Path;

pub(crate) fn run(data: &Path) -> Result<Outcome, ToolError> {
    let db = open_existing(data)?;
    let before = db.stats().map_err(ToolError::engine("reading stats"))?;
    db.compact().map_err(ToolError::engine("compacting"))?;
    let after = db.stats().map_err(ToolError::engine("reading stats"))?;
    close(db)?;
    let mut out = Out::new();
    out.line(format!(
        "compacted {}: {} → {}",
        data.display(),
        describe(&before),
        describe(&after)
    ))?;
    out.finish()?;
    Ok(Outcome::Clean)
}

/// "N segments, X bytes" over both tables.
fn describe(stats: &DatabaseStats) -> String {
    let files: usize = stats.segments.iter().map(|(_, n, _)| n).sum();
    let bytes: u64 = stats.segments.iter().map(|(_, _, b)| b).sum();
    format!("{files} segment files, {}", human_bytes(bytes))
}
