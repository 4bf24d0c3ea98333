//! Helpers shared by the end-to-end tests of the `profiledb` binary.

#![allow(dead_code)]

use profiledb::{Database, Options, Value};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

/// Serializes the tests of one binary (see `cli.rs` for why: inherited lock descriptors).
pub fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("profiledb-cli2-{label}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `profiledb --data DATA ARGS…` with `stdin` as its standard input.
pub fn profiledb_with_stdin(data: &Path, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_profiledb"))
        .arg("--data")
        .arg(data)
        .args(args)
        .env_remove("PROFILEDB_DATA")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

/// Runs `profiledb --data DATA ARGS…` with an empty stdin.
pub fn profiledb(data: &Path, args: &[&str]) -> Output {
    profiledb_with_stdin(data, args, b"")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Asserts success and returns stdout.
pub fn ok(output: &Output) -> String {
    assert!(
        output.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        text(&output.stdout),
        text(&output.stderr)
    );
    text(&output.stdout)
}

pub fn s(v: &str) -> Value {
    Value::String(v.to_owned())
}

/// Four profiles with every column type, and three events.
pub fn small_db(dir: &Path) {
    let db = Database::open(dir, Options::default()).unwrap();
    let mut batch = profiledb::WriteBatch::new();
    let people = [
        ("alice@example.com", "pro", 120.5, true, "a, \"quoted\" tag"),
        ("bob@example.com", "free", 0.0, false, "b"),
        ("carol@example.com", "pro", 980.25, false, "line\nbreak"),
    ];
    for (id, (email, plan, ltv, vip, tag)) in (0u32..).zip(people) {
        batch.upsert_profile(
            id,
            vec![
                ("email".into(), s(email)),
                ("plan".into(), s(plan)),
                ("ltv".into(), Value::Float64(ltv)),
                ("vip".into(), Value::Bool(vip)),
                ("visits".into(), Value::Int64(i64::from(id) * 10 - 5)),
                (
                    "signed_up".into(),
                    Value::Timestamp(1_780_272_000_000_000 + i64::from(id) * 1_500_000),
                ),
                (
                    "tags".into(),
                    Value::StringList(vec![tag.into(), "x".into()]),
                ),
            ],
        );
        batch.append_event(
            id,
            vec![
                ("event".into(), s("Order Completed")),
                ("revenue".into(), Value::Float64(f64::from(id) + 0.5)),
            ],
        );
    }
    batch.upsert_profile(3, vec![("plan".into(), s("free"))]);
    db.write(&batch).unwrap();
    db.close().unwrap();
}
