//! Damaged files are detected, reported with the file and an offset, and never crash the
//! process or return wrong data; a torn WAL tail is repaired, and Salvage mode keeps the
//! intact prefix of a damaged WAL.

use crate::util::{copy_dir, files_named, flip_byte, s, TempDir};
use profiledb::engine::wal::WalError;
use profiledb::{Database, Error, Options, RecoveryMode, SyncMode, TableKind, Value};
use roaring::RoaringBitmap;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const FLUSHED: u32 = 50;
const IN_WAL: u32 = 10;

fn options() -> Options {
    Options {
        sync_mode: SyncMode::Never,
        compaction_trigger_segments: 0,
        ..Options::default()
    }
}

fn profile(row: u32) -> Vec<(String, Value)> {
    vec![
        ("n".into(), Value::Int64(i64::from(row) * 10)),
        ("name".into(), s(&format!("name-{row}"))),
        ("ltv".into(), Value::Float64(f64::from(row) + 0.5)),
    ]
}

/// A database with `FLUSHED` profiles (and events) in segments and `IN_WAL` more profiles,
/// one WAL record each, only in the WAL.
fn build(dir: &Path) {
    let db = Database::open(dir, options()).unwrap();
    for row in 0..FLUSHED {
        db.upsert_profile(row, profile(row)).unwrap();
        db.append_event(row, vec![("kind".into(), s("signup"))])
            .unwrap();
    }
    db.flush().unwrap();
    for row in FLUSHED..FLUSHED + IN_WAL {
        db.upsert_profile(row, profile(row)).unwrap();
    }
    db.close().unwrap();
}

/// Checks that `rows` read exactly as written.
fn check_profiles(db: &Database, rows: impl IntoIterator<Item = u32>) -> Result<(), Error> {
    let snap = db.snapshot();
    for row in rows {
        for (column, value) in profile(row) {
            let got = snap.get(TableKind::Profiles, row, &column)?;
            assert_eq!(got, value, "row {row} column {column}");
        }
    }
    Ok(())
}

fn wal_files(dir: &Path) -> Vec<PathBuf> {
    files_named(&dir.join("wal"), "wal-", ".log")
}

fn segment_files(dir: &Path) -> Vec<PathBuf> {
    files_named(dir, "seg-", ".pdb")
}

/// Offsets of the records of a WAL file (header 22 bytes, record = 20 + payload length).
fn wal_records(path: &Path) -> Vec<(usize, usize)> {
    let bytes = std::fs::read(path).unwrap();
    let mut out = Vec::new();
    let mut at = 22;
    while at + 20 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        out.push((at, 20 + len));
        at += 20 + len;
    }
    out
}

/// The file holding the profiles segment, and that segment's engine view of column `name`.
fn profiles_segment(dir: &Path) -> (PathBuf, u64, u32, u64) {
    let db = Database::open(dir, options()).unwrap();
    let snap = db.snapshot();
    let segment = snap
        .segments()
        .iter()
        .find(|s| s.table() == TableKind::Profiles)
        .unwrap();
    let chunk = segment.column("name").unwrap().chunks[0];
    let out = (
        segment.path().to_path_buf(),
        chunk.offset,
        chunk.len,
        segment.file_len(),
    );
    drop(snap);
    db.close().unwrap();
    out
}

#[track_caller]
fn expect_corrupt(result: Result<Database, Error>, file: &Path, range: std::ops::Range<u64>) {
    match result {
        Err(Error::Corrupt {
            file: f,
            offset,
            reason,
        }) => {
            assert_eq!(f, file, "error names the damaged file ({reason})");
            assert!(
                range.contains(&offset),
                "offset {offset} not in {range:?} ({reason})"
            );
            let message = Error::Corrupt {
                file: f,
                offset,
                reason,
            }
            .to_string();
            assert!(message.contains(&offset.to_string()), "{message}");
        }
        Err(other) => panic!("expected Corrupt naming {}, got {other}", file.display()),
        Ok(_) => panic!("damage in {} went unnoticed", file.display()),
    }
}

#[test]
fn torn_wal_tail_is_truncated_and_reported() {
    let base = TempDir::new("corrupt-base-torn");
    build(base.path());
    let last_wal = wal_files(base.path()).pop().unwrap();
    let records = wal_records(&last_wal);
    assert_eq!(records.len(), IN_WAL as usize);
    let last_record_len = records.last().unwrap().1;
    for cut in 1..=last_record_len.min(40) {
        let dir = TempDir::new("corrupt-torn");
        copy_dir(base.path(), dir.path());
        let wal = dir.path().join("wal").join(last_wal.file_name().unwrap());
        let len = std::fs::metadata(&wal).unwrap().len();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&wal)
            .unwrap()
            .set_len(len - cut as u64)
            .unwrap();
        let db = Database::open(dir.path(), options())
            .unwrap_or_else(|e| panic!("cut {cut}: open failed: {e}"));
        let torn = db
            .recovery_report()
            .torn_tail
            .clone()
            .expect("torn tail reported");
        assert_eq!(torn.file, wal, "cut {cut}");
        assert_eq!(torn.offset, records.last().unwrap().0 as u64, "cut {cut}");
        check_profiles(&db, 0..FLUSHED + IN_WAL - 1).unwrap();
        let snap = db.snapshot();
        assert_eq!(
            snap.row(TableKind::Profiles, FLUSHED + IN_WAL - 1).unwrap(),
            None
        );
        assert_eq!(snap.row_count(TableKind::Events), u64::from(FLUSHED));
        drop(snap);
        // The repaired log takes new writes, and they survive another reopen.
        db.upsert_profile(500, profile(500)).unwrap();
        db.close().unwrap();
        let db = Database::open(dir.path(), options()).unwrap();
        assert!(db.recovery_report().torn_tail.is_none());
        check_profiles(&db, (0..FLUSHED + IN_WAL - 1).chain([500])).unwrap();
        db.close().unwrap();
    }
}

#[test]
fn flipped_bytes_in_each_kind_of_file_are_reported_with_file_and_offset() {
    let base = TempDir::new("corrupt-base-flip");
    build(base.path());
    let (seg_path, chunk_offset, chunk_len, seg_len) = profiles_segment(base.path());
    let seg_name = seg_path.file_name().unwrap().to_owned();
    let seg_bytes = std::fs::read(&seg_path).unwrap();
    let footer_offset =
        u64::from_le_bytes(seg_bytes[seg_bytes.len() - 32..][..8].try_into().unwrap());

    let fresh = |label: &str| {
        let dir = TempDir::new(label);
        copy_dir(base.path(), dir.path());
        dir
    };

    // MANIFEST.
    let dir = fresh("corrupt-manifest");
    let manifest = dir.path().join("MANIFEST");
    flip_byte(&manifest, 20, 0x01);
    let len = std::fs::metadata(&manifest).unwrap().len();
    expect_corrupt(Database::open(dir.path(), options()), &manifest, 0..len);

    // Segment header, footer and trailer: detected at open.
    for (_part, offset, range) in [
        ("header", 17u64, 0..32u64),
        ("footer", footer_offset + 3, footer_offset..seg_len),
        ("trailer", seg_len - 32 + 9, footer_offset..seg_len),
    ] {
        let dir = fresh("corrupt-seg");
        let path = dir.path().join(&seg_name);
        flip_byte(&path, offset as usize, 0x04);
        let result = Database::open(dir.path(), options());
        expect_corrupt(result, &path, range);
    }

    // A chunk: open succeeds (column data is read lazily); reading the column fails.
    let dir = fresh("corrupt-chunk");
    let path = dir.path().join(&seg_name);
    flip_byte(
        &path,
        (chunk_offset + u64::from(chunk_len) / 2) as usize,
        0x20,
    );
    let db = Database::open(dir.path(), options()).expect("chunks are not read at open");
    let snap = db.snapshot();
    let live = snap.live_rows(TableKind::Profiles).clone();
    match snap.fetch(TableKind::Profiles, "name", &live) {
        Err(Error::Corrupt {
            file,
            offset,
            reason,
        }) => {
            assert_eq!(file, path, "{reason}");
            assert!(
                (chunk_offset..chunk_offset + u64::from(chunk_len)).contains(&offset),
                "offset {offset} outside chunk at {chunk_offset} ({reason})"
            );
        }
        other => panic!("damaged chunk read as {other:?}"),
    }
    // Other columns of the same segment still read.
    assert_eq!(
        snap.get(TableKind::Profiles, 3, "n").unwrap(),
        Value::Int64(30)
    );
    drop(snap);
    drop(db);

    // A WAL record in the middle of the last file.
    let dir = fresh("corrupt-wal");
    let wal = wal_files(dir.path()).pop().unwrap();
    let records = wal_records(&wal);
    let (at, len) = records[3];
    flip_byte(&wal, at + len - 2, 0x01);
    match Database::open(dir.path(), options()) {
        Err(Error::Wal(WalError::Corrupt {
            file,
            offset,
            reason,
        })) => {
            assert_eq!(file, wal, "{reason}");
            assert_eq!(offset, at as u64, "{reason}");
        }
        Err(other) => panic!("expected WAL corruption, got {other}"),
        Ok(_) => panic!("corrupt WAL record went unnoticed"),
    }
    // Its header too.
    let dir = fresh("corrupt-wal-header");
    let wal = wal_files(dir.path()).pop().unwrap();
    flip_byte(&wal, records[2].0 + 1, 0x01);
    assert!(matches!(
        Database::open(dir.path(), options()),
        Err(Error::Wal(WalError::Corrupt { .. }))
    ));
}

#[test]
fn truncated_segment_is_a_clear_error() {
    let base = TempDir::new("corrupt-base-trunc");
    build(base.path());
    let seg = segment_files(base.path())[0]
        .file_name()
        .unwrap()
        .to_owned();
    let full = std::fs::metadata(base.path().join(&seg)).unwrap().len();
    for keep in [0, 10, 40, full / 2, full - 33, full - 1] {
        let dir = TempDir::new("corrupt-trunc");
        copy_dir(base.path(), dir.path());
        let path = dir.path().join(&seg);
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(keep)
            .unwrap();
        match Database::open(dir.path(), options()) {
            Err(Error::Corrupt { file, reason, .. }) => assert_eq!(file, path, "{reason}"),
            Err(other) => panic!("keep {keep}: expected Corrupt, got {other}"),
            Ok(_) => panic!("keep {keep}: truncated segment went unnoticed"),
        }
    }
    // A segment the manifest lists but that is gone is an error too, not an empty table.
    let dir = TempDir::new("corrupt-missing");
    copy_dir(base.path(), dir.path());
    std::fs::remove_file(dir.path().join(&seg)).unwrap();
    assert!(Database::open(dir.path(), options()).is_err());
}

#[test]
fn salvage_mode_keeps_the_prefix_of_a_corrupt_wal() {
    let base = TempDir::new("corrupt-base-salvage");
    build(base.path());
    let dir = TempDir::new("corrupt-salvage");
    copy_dir(base.path(), dir.path());
    let wal = wal_files(dir.path()).pop().unwrap();
    let records = wal_records(&wal);
    let (at, _) = records[4];
    flip_byte(&wal, at + 21, 0x80);
    assert!(
        Database::open(dir.path(), options()).is_err(),
        "Strict refuses"
    );
    let salvage = Options {
        recovery_mode: RecoveryMode::Salvage,
        ..options()
    };
    let db = Database::open(dir.path(), salvage.clone()).unwrap();
    let report = db.recovery_report().clone();
    assert!(!report.salvaged.is_empty(), "{report:?}");
    assert_eq!(report.salvaged[0].file, wal);
    assert_eq!(report.salvaged[0].offset, at as u64);
    // Segment data and the four records before the damage are kept; the rest is dropped.
    check_profiles(&db, 0..FLUSHED + 4).unwrap();
    let snap = db.snapshot();
    for row in FLUSHED + 4..FLUSHED + IN_WAL {
        assert_eq!(
            snap.row(TableKind::Profiles, row).unwrap(),
            None,
            "row {row}"
        );
    }
    drop(snap);
    db.upsert_profile(700, profile(700)).unwrap();
    db.close().unwrap();
    // After salvage the database is clean: Strict opens it.
    let db = Database::open(dir.path(), options()).unwrap();
    check_profiles(&db, (0..FLUSHED + 4).chain([700])).unwrap();
    db.close().unwrap();
}

/// What a full read of the sweep database returns.
type Contents = (RoaringBitmap, BTreeMap<String, Vec<Value>>);

fn read_everything(dir: &Path) -> Result<Contents, Error> {
    let db = Database::open(dir, options())?;
    let snap = db.snapshot();
    let live = snap.live_rows(TableKind::Profiles).clone();
    let mut columns = BTreeMap::new();
    for column in snap.schema(TableKind::Profiles).columns() {
        columns.insert(
            column.name.clone(),
            snap.fetch(TableKind::Profiles, &column.name, &live)?,
        );
    }
    Ok((live, columns))
}

fn same_contents(a: &Contents, b: &Contents) -> bool {
    a.0 == b.0
        && a.1.len() == b.1.len()
        && a.1.iter().all(|(k, va)| {
            b.1.get(k).is_some_and(|vb| {
                va.len() == vb.len()
                    && va
                        .iter()
                        .zip(vb)
                        .all(|(x, y)| crate::util::same_value(x, y))
            })
        })
}

/// Builds the small database of the sweep: one profiles segment with every column type.
pub(crate) fn build_sweep_db(dir: &Path) {
    let db = Database::open(dir, options()).unwrap();
    for row in 0..12u32 {
        db.upsert_profile(
            row * 3,
            vec![
                ("b".into(), Value::Bool(row % 2 == 0)),
                (
                    "i".into(),
                    if row == 4 {
                        Value::Null
                    } else {
                        Value::Int64(i64::from(row) * 1000 - 7)
                    },
                ),
                ("f".into(), Value::Float64(f64::from(row) / 3.0)),
                (
                    "t".into(),
                    Value::Timestamp(1_700_000_000_000_000 + i64::from(row)),
                ),
                ("s".into(), s(["alpha", "beta", "gamma"][row as usize % 3])),
                ("l".into(), Value::StringList(vec![format!("x{}", row % 4)])),
            ],
        )
        .unwrap();
    }
    db.flush().unwrap();
    db.close().unwrap();
}

/// Flips every byte of a small segment (in a copy of the database each time). Every flip must
/// produce an error or the correct data: never a panic, never wrong data. Returns the offsets
/// whose flip went unnoticed (no reader interprets them), and the segment's length.
pub(crate) fn sweep_segment() -> (Vec<usize>, usize) {
    let base = TempDir::new("sweep-base");
    build_sweep_db(base.path());
    let expected = read_everything(base.path()).unwrap();
    let seg = segment_files(base.path());
    assert_eq!(seg.len(), 1);
    let seg_name = seg[0].file_name().unwrap().to_owned();
    let len = std::fs::metadata(&seg[0]).unwrap().len() as usize;
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = std::sync::Mutex::new((Vec::new(), Vec::new()));
    std::thread::scope(|scope| {
        for _ in 0..3 {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= len {
                    return;
                }
                let dir = TempDir::new("sweep");
                copy_dir(base.path(), dir.path());
                flip_byte(&dir.path().join(&seg_name), i, 1 << (i % 8));
                let outcome = std::panic::catch_unwind(|| read_everything(dir.path()));
                let mut results = results.lock().unwrap();
                match outcome {
                    Err(_) => results.1.push(format!("byte {i}: panic")),
                    Ok(Err(_)) => {}
                    Ok(Ok(contents)) if same_contents(&contents, &expected) => results.0.push(i),
                    Ok(Ok(_)) => results.1.push(format!("byte {i}: wrong data returned")),
                }
            });
        }
    });
    let (mut unnoticed, failures) = results.into_inner().unwrap();
    assert!(failures.is_empty(), "segment of {len} bytes: {failures:?}");
    unnoticed.sort_unstable();
    (unnoticed, len)
}

#[test]
fn flipping_any_byte_of_a_segment_never_panics_nor_returns_wrong_data() {
    let (unnoticed, len) = sweep_segment();
    // The only bytes no reader checks are the trailer's reserved bytes 22..24 (reported in
    // `engine_bugs::segment_trailer_reserved_bytes_are_checked`); any other unnoticed flip fails.
    let trailer_reserved = len - 10..len - 8;
    assert!(
        unnoticed.iter().all(|i| trailer_reserved.contains(i)),
        "flips that went unnoticed in a segment of {len} bytes: {unnoticed:?}"
    );
}
