//! The read-only check: healthy databases pass; a flipped byte in a chunk, a footer, the
//! manifest or a WAL record is reported with its file and offset.

use super::check::{check_database, CheckReport};
use super::test_support::{fill_rich, open, TempDir};
use crate::io::FsStorage;
use crate::segment::layout::{TRAILER_FOOTER_OFFSET_OFFSET, TRAILER_LEN};
use crate::segment::Segment;
use std::path::{Path, PathBuf};

/// A closed database with segments and unflushed WAL records.
fn healthy(label: &str) -> TempDir {
    let dir = TempDir::new(label);
    let db = open(dir.path());
    fill_rich(&db);
    db.close().unwrap();
    dir
}

fn flip(path: &Path, offset: u64) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[usize::try_from(offset).unwrap()] ^= 0x20;
    std::fs::write(path, bytes).unwrap();
}

fn first_segment(dir: &Path) -> PathBuf {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pdb"))
        .collect();
    names.sort();
    names.remove(0)
}

fn wal_file(dir: &Path) -> PathBuf {
    let mut names: Vec<_> = std::fs::read_dir(dir.join("wal"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    names.pop().unwrap()
}

/// The report must name `file` with an offset inside `range`.
fn assert_names(report: &CheckReport, file: &Path, range: std::ops::Range<u64>) {
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.file == file && p.offset.is_some_and(|o| range.contains(&o))),
        "expected a problem in {} within {range:?}, got {:#?}",
        file.display(),
        report.problems
    );
}

#[test]
fn healthy_database_has_no_problems() {
    let dir = healthy("healthy");
    let report = check_database(dir.path()).unwrap();
    assert!(report.is_healthy(), "{:#?}", report.problems);
    assert!(
        report.files_checked >= 4,
        "manifest, segments and a WAL file"
    );
    assert!(report.bytes_checked > 0);
}

#[test]
fn check_does_not_modify_or_lock() {
    let dir = healthy("readonly");
    let db = open(dir.path());
    let report = check_database(dir.path()).unwrap();
    assert!(report.is_healthy(), "{:#?}", report.problems);
    drop(db);
}

#[test]
fn flipped_chunk_byte_names_file_and_offset() {
    let dir = healthy("chunk");
    let path = first_segment(dir.path());
    let segment = Segment::open(&FsStorage, &path).unwrap();
    let chunk = segment.columns()[0].chunks[0];
    drop(segment);
    let target = chunk.offset + u64::from(chunk.len) / 2;
    flip(&path, target);
    let report = check_database(dir.path()).unwrap();
    assert_names(
        &report,
        &path,
        chunk.offset..chunk.offset + u64::from(chunk.len),
    );
}

#[test]
fn flipped_footer_byte_names_file_and_offset() {
    let dir = healthy("footer");
    let path = first_segment(dir.path());
    let bytes = std::fs::read(&path).unwrap();
    let at = bytes.len() - TRAILER_LEN + TRAILER_FOOTER_OFFSET_OFFSET;
    let footer = u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
    flip(&path, footer + 3);
    let report = check_database(dir.path()).unwrap();
    assert_names(&report, &path, footer..bytes.len() as u64);
}

#[test]
fn flipped_manifest_byte_names_file_and_offset() {
    let dir = healthy("manifest");
    let path = dir.path().join("MANIFEST");
    flip(&path, 20);
    let report = check_database(dir.path()).unwrap();
    assert_names(&report, &path, 0..std::fs::metadata(&path).unwrap().len());
}

#[test]
fn flipped_wal_record_names_file_and_offset() {
    let dir = healthy("wal");
    let path = wal_file(dir.path());
    let len = std::fs::metadata(&path).unwrap().len();
    assert!(len > 22 + 20, "the WAL holds a record");
    // Inside the first record's payload: header (22) + record header (20) + 2.
    flip(&path, 44);
    let report = check_database(dir.path()).unwrap();
    assert_names(&report, &path, 22..23);
}

#[test]
fn unexpected_and_missing_files_are_reported() {
    let dir = healthy("files");
    std::fs::write(dir.path().join("stray.txt"), b"x").unwrap();
    let segment = first_segment(dir.path());
    std::fs::remove_file(&segment).unwrap();
    let report = check_database(dir.path()).unwrap();
    let files: Vec<_> = report.problems.iter().map(|p| p.file.clone()).collect();
    assert!(files.contains(&dir.path().join("stray.txt")), "{files:?}");
    assert!(files.contains(&segment), "{files:?}");
}

#[test]
fn a_directory_without_a_database_is_an_error() {
    let dir = TempDir::new("nodb");
    assert!(check_database(dir.path()).is_err());
    std::fs::create_dir_all(dir.path()).unwrap();
    assert!(check_database(dir.path()).is_err());
}

/// A database written by ingestion (identity snapshot, computed-trait definitions) is healthy,
/// and a damaged identity snapshot is reported.
#[test]
fn ingested_database_passes_and_a_damaged_identity_snapshot_is_found() {
    use crate::profiles::{Aggregate, ComputedTrait, Profiles, ProfilesOptions};
    let dir = TempDir::new("check-ingested");
    let options = crate::Options {
        sync_mode: crate::SyncMode::Never,
        ..crate::Options::default()
    };
    let profiles = Profiles::open(dir.path(), options, ProfilesOptions::default()).unwrap();
    profiles
        .create_trait(ComputedTrait {
            name: "orders".into(),
            aggregate: Aggregate::Count,
            event_filter: Vec::new(),
            window: None,
        })
        .unwrap();
    profiles
        .ingest_lines(&[
            r#"{"type":"identify","userId":"u1","anonymousId":"a1","traits":{"email":"a@example.com"},"messageId":"m1","timestamp":"2026-01-01T00:00:00Z"}"#,
            r#"{"type":"track","userId":"u1","event":"Order Completed","messageId":"m2","timestamp":"2026-01-02T00:00:00Z"}"#,
        ])
        .unwrap();
    profiles.database().flush().unwrap();
    profiles.close().unwrap();
    let report = check_database(dir.path()).unwrap();
    assert!(report.is_healthy(), "{:?}", report.problems);

    let snapshot = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "snap"))
        .expect("a flush writes the identity snapshot");
    flip(&snapshot, 30);
    let report = check_database(dir.path()).unwrap();
    assert!(
        report.problems.iter().any(|p| p.file == snapshot),
        "{:?}",
        report.problems
    );
}
