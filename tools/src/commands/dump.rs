//! `profiledb dump`: a logical dump to stdout or, atomically, to a file.

use super::{close, open_existing};
use crate::error::ToolError;
use crate::output::human_bytes;
use crate::Outcome;
use profiledb::engine::dump::{write_dump, DumpSummary};
use profiledb::Database;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// Large writes: the dump is produced far faster than small writes could carry it.
const WRITE_BUFFER_BYTES: usize = 8 << 20;

pub(crate) fn run(data: &Path, out: Option<&Path>) -> Result<Outcome, ToolError> {
    let db = open_existing(data)?;
    let summary = match out {
        Some(path) => dump_to_file(&db, path)?,
        None => dump_to_stdout(&db)?,
    };
    close(db)?;
    // stdout may be the dump itself, so the summary goes to stderr (ignored if closed).
    let _ = writeln!(
        io::stderr(),
        "dumped {} profiles and {} events ({})",
        summary.profiles,
        summary.events,
        human_bytes(summary.bytes)
    );
    Ok(Outcome::Clean)
}

fn dump_to_stdout(db: &Database) -> Result<DumpSummary, ToolError> {
    let mut stdout = BufWriter::with_capacity(WRITE_BUFFER_BYTES, io::stdout().lock());
    let summary =
        write_dump(&db.snapshot(), &mut stdout).map_err(ToolError::dump("writing the dump"))?;
    stdout.flush().map_err(ToolError::io("write to stdout"))?;
    Ok(summary)
}

/// Writes to a temporary sibling and renames it into place, so `path` never holds a partial dump.
fn dump_to_file(db: &Database, path: &Path) -> Result<DumpSummary, ToolError> {
    let temp = temp_sibling(path);
    let result = write_file(db, &temp).and_then(|summary| {
        std::fs::rename(&temp, path).map_err(ToolError::io(format!(
            "renaming the dump to {}",
            path.display()
        )))?;
        Ok(summary)
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

fn write_file(db: &Database, temp: &Path) -> Result<DumpSummary, ToolError> {
    let context = format!("writing {}", temp.display());
    let file = File::create(temp).map_err(ToolError::io(context.clone()))?;
    let mut writer = BufWriter::with_capacity(WRITE_BUFFER_BYTES, file);
    let summary =
        write_dump(&db.snapshot(), &mut writer).map_err(ToolError::dump(context.clone()))?;
    let file = writer.into_inner().map_err(|e| ToolError::Io {
        context: context.clone(),
        source: e.into_error(),
    })?;
    file.sync_all().map_err(ToolError::io(context))?;
    Ok(summary)
}

/// `dir/.name.partial-PID` next to `path`.
fn temp_sibling(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map_or_else(|| "dump".into(), |n| n.to_string_lossy().into_owned());
    path.with_file_name(format!(".{name}.partial-{}", std::process::id()))
}
