//! `profiledb restore`: verify the dump, restore it into a scratch directory, then move that
//! directory into place, so the --data directory is either absent or a complete database.

use crate::error::ToolError;
use crate::output::{human_bytes, Out};
use crate::Outcome;
use profiledb::engine::dump::{restore_dump, verify_dump, DumpSummary};
use profiledb::{Database, Options, SyncMode};
use std::fs::{self, File};
use std::io::BufReader;
use std::path::{Path, PathBuf};

pub(crate) fn run(data: &Path, input: &Path) -> Result<Outcome, ToolError> {
    ensure_free(data)?;
    let verified = verify_dump(&mut open_dump(input)?).map_err(ToolError::dump(format!(
        "refusing to restore {}",
        input.display()
    )))?;
    let parent = parent_of(data);
    fs::create_dir_all(&parent).map_err(ToolError::io(format!("creating {}", parent.display())))?;
    let temp = temp_sibling(data);
    let restored = restore_into(&temp, input).and_then(|summary| {
        move_into_place(&temp, data)?;
        Ok(summary)
    });
    if restored.is_err() {
        let _ = fs::remove_dir_all(&temp);
    }
    let summary = restored?;
    debug_assert_eq!(summary, verified);
    let mut out = Out::new();
    out.line(format!(
        "restored {} profiles and {} events from {} ({}) into {}",
        summary.profiles,
        summary.events,
        input.display(),
        human_bytes(summary.bytes),
        data.display()
    ))?;
    out.finish()?;
    Ok(Outcome::Clean)
}

/// The target must not exist, or be an empty directory.
fn ensure_free(data: &Path) -> Result<(), ToolError> {
    match fs::read_dir(data).map(|mut entries| entries.next().is_none()) {
        Ok(true) => Ok(()),
        Ok(false) => Err(ToolError::TargetNotEmpty {
            dir: data.to_path_buf(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(ToolError::io(format!("reading {}", data.display()))(e)),
    }
}

fn open_dump(input: &Path) -> Result<BufReader<File>, ToolError> {
    File::open(input)
        .map(BufReader::new)
        .map_err(ToolError::io(format!("opening {}", input.display())))
}

/// Restores into `temp` and leaves it compacted, flushed and closed.
fn restore_into(temp: &Path, input: &Path) -> Result<DumpSummary, ToolError> {
    // The WAL need not sync: the final flush and compaction write synced segments.
    let options = Options {
        sync_mode: SyncMode::Never,
        ..Options::default()
    };
    let db = Database::open(temp, options)
        .map_err(ToolError::engine(format!("creating {}", temp.display())))?;
    let summary = restore_dump(&mut open_dump(input)?, &db)
        .map_err(ToolError::dump(format!("restoring {}", input.display())))?;
    db.compact()
        .map_err(ToolError::engine("compacting the restored database"))?;
    db.close()
        .map_err(ToolError::engine("closing the restored database"))?;
    Ok(summary)
}

/// Renames `temp` to `data` (replacing an empty `data` directory) and syncs the parent.
fn move_into_place(temp: &Path, data: &Path) -> Result<(), ToolError> {
    if data.exists() {
        fs::remove_dir(data).map_err(ToolError::io(format!("replacing {}", data.display())))?;
    }
    fs::rename(temp, data).map_err(ToolError::io(format!(
        "moving the restored database to {}",
        data.display()
    )))?;
    let parent = parent_of(data);
    File::open(&parent)
        .and_then(|dir| dir.sync_all())
        .map_err(ToolError::io(format!("syncing {}", parent.display())))
}

fn parent_of(data: &Path) -> PathBuf {
    match data.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// `parent/.name.restoring-PID`: hidden, and never mistaken for the finished database.
fn temp_sibling(data: &Path) -> PathBuf {
    let name = data.file_name().map_or_else(
        || "profiledb-data".into(),
        |n| n.to_string_lossy().into_owned(),
    );
    parent_of(data).join(format!(".{name}.restoring-{}", std::process::id()))
}
