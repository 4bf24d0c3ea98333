//! Offline, read-only integrity check of a database directory.
//!
//! Unlike opening the database, checking takes no lock, replays nothing and repairs nothing:
//! it reads every file through [`Storage`] and reports each problem with the file and, where
//! known, the byte offset. It verifies the manifest checksum; every listed segment's header,
//! footer and every chunk of every column (checksum and full structural decode); that chunk
//! row counts add up and chunks tile the data area; every WAL file's header, record framing,
//! checksums, LSN sequence and batch encoding; and that no unexpected files are present.

mod segments;
mod wal;

use crate::db::{LOCK_FILE, WAL_DIR};
use crate::error::Error;
use crate::io::{FsStorage, Storage};
use crate::manifest::{Manifest, MANIFEST_FILE};
use crate::segment::layout;
use std::collections::HashSet;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

/// One problem found by [`check_database`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file (or directory) the problem is in.
    pub file: PathBuf,
    /// Byte offset of the damage in `file`, when it is known.
    pub offset: Option<u64>,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.offset {
            Some(offset) => write!(
                f,
                "{} at byte {offset}: {}",
                self.file.display(),
                self.message
            ),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

/// Everything [`check_database`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// Problems, in the order they were found (empty when healthy).
    pub problems: Vec<Problem>,
    /// Files read.
    pub files_checked: u64,
    /// Bytes read.
    pub bytes_checked: u64,
}

impl CheckReport {
    /// Whether no problem was found.
    #[must_use]
    pub fn is_healthy(&self) -> bool {
        self.problems.is_empty()
    }

    fn problem(
        &mut self,
        file: impl Into<PathBuf>,
        offset: Option<u64>,
        message: impl Into<String>,
    ) {
        self.problems.push(Problem {
            file: file.into(),
            offset,
            message: message.into(),
        });
    }

    /// Records an engine error as a problem of `file`, keeping the offset it names.
    fn engine_error(&mut self, file: &Path, error: Error) {
        match error {
            Error::Corrupt {
                file,
                offset,
                reason,
            } => self.problem(file, Some(offset), reason),
            other => self.problem(file, None, other.to_string()),
        }
    }

    fn read(&mut self, bytes: u64) {
        self.files_checked += 1;
        self.bytes_checked += bytes;
    }
}

/// Checks the database in `dir` on the real file system, read-only.
///
/// # Errors
/// [`Error::NotFound`] when `dir` holds no database, I/O errors listing it. Damage is not an
/// error: it is reported in the [`CheckReport`].
pub fn check_database(dir: &Path) -> Result<CheckReport, Error> {
    check_database_with_storage(&FsStorage, dir)
}

/// Checks the database in `dir` through `storage`, read-only.
///
/// # Errors
/// As [`check_database`].
pub fn check_database_with_storage(
    storage: &dyn Storage,
    dir: &Path,
) -> Result<CheckReport, Error> {
    let names = storage.list(dir).map_err(|e| match e.kind() {
        ErrorKind::NotFound => Error::NotFound {
            path: dir.to_path_buf(),
        },
        _ => Error::Io {
            operation: "list directory",
            path: dir.to_path_buf(),
            source: e,
        },
    })?;
    let wal_dir = dir.join(WAL_DIR);
    let has_wal = storage.list(&wal_dir).is_ok();
    let looks_like_db = has_wal || names.iter().any(|n| layout::parse_file_name(n).is_some());
    if !names.iter().any(|n| n == MANIFEST_FILE) && !looks_like_db {
        return Err(Error::NotFound {
            path: dir.to_path_buf(),
        });
    }
    let mut report = CheckReport::default();
    let manifest = load_manifest(storage, dir, &names, &mut report);
    let listed = check_segments(storage, dir, &names, manifest.as_ref(), &mut report);
    flag_unexpected(dir, &names, &listed, &mut report);
    if has_wal {
        wal::check_wal(
            storage,
            &wal_dir,
            manifest.as_ref().map(|m| m.identity_lsn),
            &mut report,
        );
    } else {
        report.problem(&wal_dir, None, "the WAL directory is missing");
    }
    Ok(report)
}

/// Reads and decodes the manifest; a damaged or missing one becomes a problem.
fn load_manifest(
    storage: &dyn Storage,
    dir: &Path,
    names: &[String],
    report: &mut CheckReport,
) -> Option<Manifest> {
    let path = dir.join(MANIFEST_FILE);
    if !names.iter().any(|n| n == MANIFEST_FILE) {
        report.problem(&path, None, "the manifest is missing");
        return None;
    }
    let bytes = match storage.read(&path) {
        Ok(bytes) => bytes,
        Err(e) => {
            report.problem(&path, None, format!("cannot read: {e}"));
            return None;
        }
    };
    report.read(bytes.len() as u64);
    match Manifest::decode(&path, &bytes) {
        Ok(manifest) => Some(manifest),
        Err(e) => {
            report.engine_error(&path, e);
            None
        }
    }
}

/// Checks the manifest's segments (or, without a manifest, every segment file present);
/// returns the names of the files checked.
fn check_segments(
    storage: &dyn Storage,
    dir: &Path,
    names: &[String],
    manifest: Option<&Manifest>,
    report: &mut CheckReport,
) -> HashSet<String> {
    let mut listed = HashSet::new();
    match manifest {
        Some(manifest) => {
            for entry in &manifest.segments {
                let name = layout::file_name(entry.id);
                segments::check_segment(storage, &dir.join(&name), Some((entry, manifest)), report);
                listed.insert(name);
            }
            if manifest.identity_snapshot != 0 {
                let name = crate::manifest::identity_snapshot_file(manifest.identity_snapshot);
                check_identity_snapshot(storage, &dir.join(&name), report);
                listed.insert(name);
            }
        }
        None => {
            for name in names
                .iter()
                .filter(|n| layout::parse_file_name(n).is_some())
            {
                segments::check_segment(storage, &dir.join(name), None, report);
                listed.insert(name.clone());
            }
        }
    }
    listed
}

/// Decodes the identity-graph snapshot the manifest names (checksum and every invariant).
fn check_identity_snapshot(storage: &dyn Storage, path: &Path, report: &mut CheckReport) {
    match storage.read(path) {
        Ok(bytes) => {
            report.read(bytes.len() as u64);
            if let Err(e) = crate::identity::decode_snapshot(&bytes) {
                report.problem(
                    path,
                    None,
                    format!("identity snapshot does not decode: {e}"),
                );
            }
        }
        Err(e) => report.problem(
            path,
            None,
            format!("identity snapshot named by the manifest cannot be read: {e}"),
        ),
    }
}

/// Reports files a healthy database directory does not hold.
fn flag_unexpected(
    dir: &Path,
    names: &[String],
    listed: &HashSet<String>,
    report: &mut CheckReport,
) {
    for name in names {
        if name == MANIFEST_FILE
            || name == LOCK_FILE
            || name == crate::profiles::DEFINITIONS_FILE
            || listed.contains(name)
        {
            continue;
        }
        let message = if name.ends_with(".tmp") {
            "unexpected temporary file, left by an interrupted flush, compaction or manifest \
             update (the next open removes it)"
        } else if layout::parse_file_name(name).is_some() {
            "segment file not listed in the manifest (the next open removes it)"
        } else {
            "unexpected file in the database directory"
        };
        report.problem(dir.join(name), None, message);
    }
}
