//! End-to-end tests of the `profiledb` binary: each runs the real executable on a database
//! built through the library API.

use profiledb::{Database, Options, TableKind, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

/// Serializes the tests. A database's lock is an `flock` on its LOCK file; while one test
/// thread forks a child, the child briefly shares every open descriptor of the test process,
/// so a database another thread has just closed can still look locked to the binary that
/// thread starts next. One test at a time removes that window.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(label: &str) -> TempDir {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("profiledb-cli-{label}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn s(v: &str) -> Value {
    Value::String(v.to_owned())
}

/// A database with two flushed segments per table, deletions and unflushed writes.
fn build_db(dir: &Path, profiles: u32) {
    let db = Database::open(dir, Options::default()).unwrap();
    let mut batch = profiledb::WriteBatch::new();
    for p in 0..profiles {
        batch.upsert_profile(
            p,
            vec![
                ("plan".into(), s(if p % 3 == 0 { "pro" } else { "free" })),
                ("ltv".into(), Value::Float64(f64::from(p) / 4.0)),
                ("vip".into(), Value::Bool(p % 7 == 0)),
                (
                    "tags".into(),
                    Value::StringList(vec!["a".into(), "Zürich".into()]),
                ),
            ],
        );
        batch.append_event(
            p,
            vec![
                ("kind".into(), s("signup")),
                ("at".into(), Value::Timestamp(i64::from(p))),
            ],
        );
    }
    db.write(&batch).unwrap();
    db.flush().unwrap();
    db.upsert_profile(
        1,
        vec![
            ("plan".into(), s("team")),
            ("score".into(), Value::Int64(-3)),
        ],
    )
    .unwrap();
    db.delete_profile(2).unwrap();
    db.flush().unwrap();
    db.append_event(1, vec![("kind".into(), s("upgrade"))])
        .unwrap();
    db.close().unwrap();
}

fn profiledb(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_profiledb"))
        .arg("--data")
        .arg(data)
        .args(args)
        .env_remove("PROFILEDB_DATA")
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Every live row of both tables, floats by bits, for comparing two databases.
fn contents(dir: &Path) -> Vec<String> {
    let db = Database::open(dir, Options::default()).unwrap();
    let snap = db.snapshot();
    let mut out = Vec::new();
    for table in [TableKind::Profiles, TableKind::Events] {
        let columns = snap.schema(table).columns().to_vec();
        out.push(format!("{columns:?}"));
        for (index, row) in snap.live_rows(table).iter().enumerate() {
            let id = if table == TableKind::Profiles {
                row
            } else {
                index as u32
            };
            let values: Vec<String> = columns
                .iter()
                .map(|c| match snap.get(table, row, &c.name).unwrap() {
                    Value::Float64(f) => format!("f{:x}", f.to_bits()),
                    other => format!("{other:?}"),
                })
                .collect();
            out.push(format!("{id} {values:?}"));
        }
    }
    out
}

fn first_segment(dir: &Path) -> PathBuf {
    let mut segments: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pdb"))
        .collect();
    segments.sort();
    segments.remove(0)
}

/// Nothing named after `data` (the target or a scratch sibling) exists.
fn nothing_left(data: &Path) -> bool {
    let name = data.file_name().unwrap().to_string_lossy().into_owned();
    !data.exists()
        && std::fs::read_dir(data.parent().unwrap())
            .unwrap()
            .all(|e| !e.unwrap().file_name().to_string_lossy().contains(&name))
}

#[test]
fn stats_shows_counts_files_and_columns() {
    let _serial = serial();
    let tmp = TempDir::new("stats");
    let data = tmp.path().join("db");
    build_db(&data, 500);
    let output = profiledb(&data, &["stats"]);
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(stdout.contains("profiles  499"), "{stdout}");
    assert!(stdout.contains("events    500"), "{stdout}");
    assert!(stdout.contains("segments  profiles  2 files"), "{stdout}");
    for needle in [
        "plan",
        "string",
        "dict",
        "ltv",
        "float64",
        "vip",
        "bitmap",
        "tags",
        "string_list",
        "ratio",
        "x\n",
    ] {
        assert!(stdout.contains(needle), "missing {needle:?} in\n{stdout}");
    }
}

#[test]
fn compact_leaves_one_segment_per_table() {
    let _serial = serial();
    let tmp = TempDir::new("compact");
    let data = tmp.path().join("db");
    build_db(&data, 100);
    let output = profiledb(&data, &["compact"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains("compacted"));
    let segments = std::fs::read_dir(&data)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "pdb")
        })
        .count();
    assert_eq!(segments, 2);
    let check = profiledb(&data, &["check"]);
    assert!(check.status.success(), "{}", text(&check.stdout));
}

#[test]
fn check_passes_a_healthy_database() {
    let _serial = serial();
    let tmp = TempDir::new("check-ok");
    let data = tmp.path().join("db");
    build_db(&data, 100);
    let output = profiledb(&data, &["check"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stdout));
    assert!(text(&output.stdout).contains("healthy"));
}

#[test]
fn check_names_file_and_offset_of_a_damaged_segment() {
    let _serial = serial();
    let tmp = TempDir::new("check-bad");
    let data = tmp.path().join("db");
    build_db(&data, 100);
    let segment = first_segment(&data);
    let mut bytes = std::fs::read(&segment).unwrap();
    bytes[100] ^= 0x55;
    std::fs::write(&segment, bytes).unwrap();
    let output = profiledb(&data, &["check"]);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    let name = segment.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        stdout
            .lines()
            .any(|l| l.contains(&name) && l.contains("at byte")),
        "{stdout}"
    );
}

#[test]
fn check_of_a_missing_database_fails_with_a_hint() {
    let _serial = serial();
    let tmp = TempDir::new("check-none");
    let output = profiledb(&tmp.path().join("nothing"), &["check"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(
        stderr.starts_with("error: ") && stderr.contains("hint: "),
        "{stderr}"
    );
}

#[test]
fn dump_restore_dump_is_byte_identical() {
    let _serial = serial();
    let tmp = TempDir::new("roundtrip");
    let data = tmp.path().join("db");
    build_db(&data, 300);
    let first = tmp.path().join("first.pdump");
    let output = profiledb(&data, &["dump", "--out", first.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let to_stdout = profiledb(&data, &["dump"]);
    assert!(to_stdout.status.success());
    assert_eq!(
        to_stdout.stdout,
        std::fs::read(&first).unwrap(),
        "stdout and file dumps agree"
    );

    let copy = tmp.path().join("copy");
    let output = profiledb(&copy, &["restore", "--in", first.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains("restored 299 profiles and 300 events"));
    let second = tmp.path().join("second.pdump");
    let output = profiledb(&copy, &["dump", "--out", second.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(
        std::fs::read(&first).unwrap(),
        std::fs::read(&second).unwrap()
    );
    assert_eq!(contents(&data), contents(&copy));
    assert!(profiledb(&copy, &["check"]).status.success());
}

#[test]
fn restore_into_an_existing_empty_directory_works() {
    let _serial = serial();
    let tmp = TempDir::new("empty-target");
    let data = tmp.path().join("db");
    build_db(&data, 20);
    let dump = tmp.path().join("d.pdump");
    let output = profiledb(&data, &["dump", "--out", dump.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let target = tmp.path().join("target");
    std::fs::create_dir(&target).unwrap();
    let output = profiledb(&target, &["restore", "--in", dump.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(contents(&data), contents(&target));
}

#[test]
fn restore_refuses_truncated_and_flipped_dumps() {
    let _serial = serial();
    let tmp = TempDir::new("refuse");
    let data = tmp.path().join("db");
    build_db(&data, 50);
    let dump = tmp.path().join("good.pdump");
    let output = profiledb(&data, &["dump", "--out", dump.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let bytes = std::fs::read(&dump).unwrap();
    let damaged = [
        ("truncated", bytes[..bytes.len() - 7].to_vec()),
        ("cut-at-block", bytes[..bytes.len() / 2].to_vec()),
        ("flipped", {
            let mut b = bytes.clone();
            b[bytes.len() / 2] ^= 0x04;
            b
        }),
    ];
    for (label, content) in damaged {
        let file = tmp.path().join(format!("{label}.pdump"));
        std::fs::write(&file, content).unwrap();
        let target = tmp.path().join(format!("restored-{label}"));
        let output = profiledb(&target, &["restore", "--in", file.to_str().unwrap()]);
        assert_eq!(output.status.code(), Some(1), "{label}");
        let stderr = text(&output.stderr);
        assert!(
            stderr.contains("refusing to restore") && stderr.contains("hint:"),
            "{label}: {stderr}"
        );
        assert!(
            nothing_left(&target),
            "{label}: a directory was left behind"
        );
        let nested = tmp.path().join(format!("new-{label}")).join("db");
        let output = profiledb(&nested, &["restore", "--in", file.to_str().unwrap()]);
        assert_eq!(output.status.code(), Some(1), "{label}");
        assert!(
            !nested.parent().unwrap().exists(),
            "{label}: the directory created to hold --data was left behind"
        );
    }
}

#[test]
fn restore_removes_what_an_interrupted_restore_left() {
    let _serial = serial();
    let tmp = TempDir::new("interrupted");
    let data = tmp.path().join("db");
    build_db(&data, 20);
    let dump = tmp.path().join("d.pdump");
    let output = profiledb(&data, &["dump", "--out", dump.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    // What a restore killed by a signal leaves: a scratch directory nobody holds the lock of.
    let leftover = tmp.path().join(".copy.restoring-4000000000");
    std::fs::create_dir_all(&leftover).unwrap();
    std::fs::write(leftover.join("seg-0000000000.tmp"), b"partial").unwrap();
    let unrelated = tmp.path().join(".other.restoring-1");
    std::fs::create_dir_all(&unrelated).unwrap();

    let copy = tmp.path().join("copy");
    let output = profiledb(&copy, &["restore", "--in", dump.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stderr).contains("interrupted restore"));
    assert!(!leftover.exists(), "the leftover scratch directory is gone");
    assert!(
        unrelated.exists(),
        "scratch directories of other targets stay"
    );
    assert_eq!(contents(&data), contents(&copy));
}

#[test]
fn restore_refuses_a_non_empty_target() {
    let _serial = serial();
    let tmp = TempDir::new("nonempty");
    let data = tmp.path().join("db");
    build_db(&data, 10);
    let dump = tmp.path().join("d.pdump");
    let output = profiledb(&data, &["dump", "--out", dump.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let output = profiledb(&data, &["restore", "--in", dump.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("not empty"));
}

#[test]
fn usage_errors_exit_2() {
    let _serial = serial();
    let tmp = TempDir::new("usage");
    for args in [&["frobnicate"][..], &["restore"], &["dump", "--bogus"], &[]] {
        let output = profiledb(tmp.path(), args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
    }
}

#[test]
fn help_has_examples() {
    let _serial = serial();
    for sub in ["stats", "compact", "check", "dump", "restore"] {
        let output = Command::new(env!("CARGO_BIN_EXE_profiledb"))
            .args([sub, "--help"])
            .output()
            .unwrap();
        assert!(output.status.success());
        assert!(text(&output.stdout).contains("Example: profiledb"), "{sub}");
    }
}

#[test]
fn data_directory_comes_from_the_environment() {
    let _serial = serial();
    let tmp = TempDir::new("env");
    let data = tmp.path().join("db");
    build_db(&data, 10);
    let output = Command::new(env!("CARGO_BIN_EXE_profiledb"))
        .arg("check")
        .env("PROFILEDB_DATA", &data)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output.stdout));
}

#[test]
fn a_closed_stdout_is_not_an_error() {
    let _serial = serial();
    let tmp = TempDir::new("pipe");
    let data = tmp.path().join("db");
    build_db(&data, 3000);
    let mut child = Command::new(env!("CARGO_BIN_EXE_profiledb"))
        .arg("--data")
        .arg(&data)
        .arg("dump")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
}
