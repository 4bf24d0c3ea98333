//! `profiledb restore`: restore the dump into a hidden scratch directory, then move that
//! directory into place, so the --data directory is either absent or a complete database.
//!
//! The dump is read once: the restore verifies every block as it decodes it, and the END block
//! (the chain checksum and totals) is checked before the scratch directory is moved into place.
//! A damaged or truncated dump therefore fails the restore, the scratch directory is removed,
//! and --data is left as it was; directories created to hold it are removed again.
//!
//! A restore killed by a signal leaves its scratch directory behind; the next restore into the
//! same --data directory removes it (its lock file tells a dead restore from a running one).

use crate::error::ToolError;
use crate::output::{human_bytes, Out};
use crate::Outcome;
use profiledb::engine::dump::{restore_dump, DumpError, DumpSummary};
use profiledb::engine::LOCK_FILE;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};

/// Large reads: the file system sees few, big requests.
const READ_BUFFER_BYTES: usize = 8 << 20;

pub(crate) fn run(data: &Path, input: &Path) -> Result<Outcome, ToolError> {
    ensure_free(data)?;
    remove_interrupted_restores(data)?;
    let mut dump = open_dump(input)?;
    let parent = parent_of(data);
    let created = missing_ancestors(&parent);
    fs::create_dir_all(&parent).map_err(ToolError::io(format!("creating {}", parent.display())))?;
    let temp = temp_sibling(data);
    let restored = restore_into(&temp, &mut dump, input).and_then(|summary| {
        move_into_place(&temp, data)?;
        Ok(summary)
    });
    if restored.is_err() {
        let _ = fs::remove_dir_all(&temp);
        for dir in created {
            // Only empty directories go: whatever else appeared there meanwhile stays.
            let _ = fs::remove_dir(dir);
        }
    }
    let summary = restored?;
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

/// Removes scratch directories of restores into `data` that were killed: their lock file is
/// free (a running restore holds it). Prints what it removed.
fn remove_interrupted_restores(data: &Path) -> Result<(), ToolError> {
    let parent = parent_of(data);
    let prefix = scratch_prefix(data);
    let entries = match fs::read_dir(&parent) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(ToolError::io(format!("reading {}", parent.display()))(e)),
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let is_scratch = name.to_str().is_some_and(|n| n.starts_with(&prefix));
        if !is_scratch || !entry.path().is_dir() || restore_is_running(&entry.path()) {
            continue;
        }
        let path = entry.path();
        fs::remove_dir_all(&path).map_err(ToolError::io(format!(
            "removing {}, left by an interrupted restore (remove it by hand)",
            path.display()
        )))?;
        // The notice is informational; a closed stderr must not fail the restore.
        let _ = writeln!(
            std::io::stderr(),
            "removed {}, left by an interrupted restore",
            path.display()
        );
    }
    Ok(())
}

/// Whether a restore still works in `scratch` (it holds the lock file there).
fn restore_is_running(scratch: &Path) -> bool {
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(scratch.join(LOCK_FILE));
    match lock.map(|file| file.try_lock()) {
        Ok(Ok(())) => false,
        Ok(Err(TryLockError::WouldBlock)) => true,
        // Unlockable means unknown: leave it alone rather than risk a running restore.
        Ok(Err(TryLockError::Error(_))) | Err(_) => true,
    }
}

fn open_dump(input: &Path) -> Result<BufReader<File>, ToolError> {
    File::open(input)
        .map(|file| BufReader::with_capacity(READ_BUFFER_BYTES, file))
        .map_err(ToolError::io(format!("opening {}", input.display())))
}

/// Restores `dump` (read from `input`) into `temp`, which is then a complete, synced database.
fn restore_into(
    temp: &Path,
    dump: &mut BufReader<File>,
    input: &Path,
) -> Result<DumpSummary, ToolError> {
    restore_dump(dump, temp).map_err(|error| {
        let refused = matches!(
            error,
            DumpError::Corrupt { .. }
                | DumpError::Truncated { .. }
                | DumpError::UnsupportedVersion { .. }
        );
        let context = if refused {
            format!("refusing to restore {}", input.display())
        } else {
            format!("restoring {}", input.display())
        };
        ToolError::dump(context)(error)
    })
}

/// The directories from `dir` up that do not exist yet, deepest first.
fn missing_ancestors(dir: &Path) -> Vec<PathBuf> {
    dir.ancestors()
        .take_while(|ancestor| !ancestor.as_os_str().is_empty() && !ancestor.exists())
        .map(Path::to_path_buf)
        .collect()
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

/// `.name.restoring-`: the start of the scratch directory names of restores into `data`.
fn scratch_prefix(data: &Path) -> String {
    let name = data.file_name().map_or_else(
        || "profiledb-data".into(),
        |n| n.to_string_lossy().into_owned(),
    );
    format!(".{name}.restoring-")
}

/// `parent/.name.restoring-PID`: hidden, and never mistaken for the finished database.
fn temp_sibling(data: &Path) -> PathBuf {
    parent_of(data).join(format!("{}{}", scratch_prefix(data), std::process::id()))
}
