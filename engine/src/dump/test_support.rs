//! Helpers for the dump and check tests: temporary directories and a database that exercises
//! every column type, NULLs, deletions, merges, several segments and unflushed writes.

use crate::options::{Options, SyncMode};
use crate::schema::TableKind;
use crate::snapshot::Snapshot;
use crate::value::Value;
use crate::Database;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A unique directory path under the system temp dir (not created), removed on drop.
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    pub(crate) fn new(name: &str) -> TempDir {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("profiledb-dump-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        TempDir(dir)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Options for test databases: no background flush or compaction, cheap syncs.
pub(crate) fn options() -> Options {
    Options {
        sync_mode: SyncMode::Never,
        flush_threshold_bytes: usize::MAX,
        compaction_trigger_segments: 0,
        ..Options::default()
    }
}

pub(crate) fn open(dir: &Path) -> Database {
    Database::open(dir, options()).expect("open test database")
}

fn s(v: &str) -> Value {
    Value::String(v.to_owned())
}

fn list(items: &[&str]) -> Value {
    Value::StringList(items.iter().map(|&i| i.to_owned()).collect())
}

fn attrs(pairs: &[(&str, Value)]) -> Vec<(String, Value)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

/// Fills `db` with every column type and every awkward case; leaves the last writes unflushed.
pub(crate) fn fill_rich(db: &Database) {
    // Columns whose first writer is later deleted, so the live rows meet them out of order.
    db.upsert_profile(
        0,
        attrs(&[("ghost", Value::Int64(1)), ("email", s("gone@x"))]),
    )
    .unwrap();
    db.append_event(
        0,
        attrs(&[("ghost_event", Value::Bool(true)), ("kind", s("view"))]),
    )
    .unwrap();
    for p in 1..40u32 {
        let mut a = vec![
            ("plan", s(if p % 3 == 0 { "pro" } else { "free" })),
            ("ltv", Value::Float64(f64::from(p) * 1.5)),
            (
                "signup",
                Value::Timestamp(1_700_000_000_000_000 + i64::from(p)),
            ),
        ];
        if p % 2 == 0 {
            a.push(("vip", Value::Bool(p % 4 == 0)));
        }
        if p % 5 == 0 {
            a.push(("tags", list(&["a", "Zürich 東京"])));
        }
        db.upsert_profile(p, attrs(&a)).unwrap();
        db.append_event(
            p,
            attrs(&[
                ("kind", s("signup")),
                ("amount", Value::Int64(i64::from(p) - 20)),
            ]),
        )
        .unwrap();
    }
    db.delete_profile(0).unwrap();
    db.flush().unwrap();
    db.upsert_profile(
        3,
        attrs(&[("ltv", Value::Float64(f64::NAN)), ("email", s(""))]),
    )
    .unwrap();
    db.upsert_profile(
        4,
        attrs(&[("ltv", Value::Float64(-0.0)), ("tags", list(&[]))]),
    )
    .unwrap();
    db.upsert_profile(
        5,
        attrs(&[("plan", Value::Null), ("tags", list(&["", "ü"]))]),
    )
    .unwrap();
    db.upsert_profile(100, Vec::new()).unwrap();
    db.upsert_profile(
        101,
        attrs(&[
            ("score", Value::Int64(i64::MIN)),
            ("ltv", Value::Float64(f64::INFINITY)),
        ]),
    )
    .unwrap();
    db.append_event(
        7000,
        attrs(&[("kind", s("orphan")), ("at", Value::Timestamp(-5))]),
    )
    .unwrap();
    db.merge_profiles(6, 7).unwrap();
    db.delete_profile(9).unwrap();
    db.flush().unwrap();
    db.upsert_profile(
        2,
        attrs(&[("plan", s("team")), ("score", Value::Int64(i64::MAX))]),
    )
    .unwrap();
    db.upsert_profile(102, attrs(&[("tags", list(&["x"; 3]))]))
        .unwrap();
    db.append_event(
        2,
        attrs(&[("kind", s("upgrade")), ("late", Value::Float64(-0.0))]),
    )
    .unwrap();
    db.append_event(102, Vec::new()).unwrap();
    db.delete_profile(11).unwrap();
}

/// Every live row of both tables with every column value, floats by their bits.
pub(crate) fn contents(snapshot: &Snapshot) -> Vec<String> {
    let mut out = Vec::new();
    for table in TableKind::ALL {
        let columns = snapshot.schema(table).columns();
        out.push(format!("{table}: {columns:?}"));
        for (index, row) in snapshot.live_rows(table).iter().enumerate() {
            let values: Vec<String> = columns
                .iter()
                .map(|c| match snapshot.get(table, row, &c.name).unwrap() {
                    Value::Float64(f) => format!("f{:x}", f.to_bits()),
                    other => format!("{other:?}"),
                })
                .collect();
            // Event ids are renumbered by restore; only their order matters.
            let id = if table == TableKind::Profiles {
                row
            } else {
                index as u32
            };
            out.push(format!("{id}: {values:?}"));
        }
    }
    out
}
