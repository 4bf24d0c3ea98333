//! Helpers shared by the profiles tests.

use super::{Profiles, ProfilesOptions};
use crate::options::{Options, SyncMode};
use crate::schema::TableKind;
use crate::value::Value;
use serde_json::{json, Value as Json};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A directory removed on drop.
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    pub(crate) fn new(name: &str) -> TempDir {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        TempDir(std::env::temp_dir().join(format!(
            "profiledb-profiles-{name}-{}-{n}",
            std::process::id()
        )))
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

/// Options that skip fsync (tests simulate crashes by reopening, not by power loss).
pub(crate) fn fast_options() -> Options {
    Options {
        sync_mode: SyncMode::Never,
        ..Options::default()
    }
}

pub(crate) fn open(dir: &TempDir) -> Profiles {
    Profiles::open(dir.path(), fast_options(), ProfilesOptions::default()).expect("open")
}

/// Midnight UTC of day `day` after 2024-01-01, plus `seconds`.
pub(crate) fn at(day: i64, seconds: i64) -> String {
    super::format_timestamp((19_723 + day) * super::DAY_MICROS + seconds * 1_000_000)
}

/// A message line from a JSON object.
pub(crate) fn line(value: Json) -> String {
    value.to_string()
}

pub(crate) fn track(id: &str, who: (&str, &str), event: &str, ts: &str, props: Json) -> String {
    let mut m = json!({"type": "track", "messageId": id, "event": event, "timestamp": ts, "properties": props});
    m[who.0] = json!(who.1);
    line(m)
}

pub(crate) fn identify(id: &str, ids: &[(&str, &str)], ts: &str, traits: Json) -> String {
    let mut m = json!({"type": "identify", "messageId": id, "timestamp": ts, "traits": traits});
    for (k, v) in ids {
        m[*k] = json!(v);
    }
    line(m)
}

/// Every live profile row's values (hidden columns included), sorted by `_identity`-free key.
pub(crate) fn all_rows(p: &Profiles, table: TableKind) -> Vec<(u32, Vec<(String, Value)>)> {
    let snapshot = p.snapshot();
    snapshot
        .live_rows(table)
        .iter()
        .map(|r| (r, snapshot.row(table, r).unwrap().unwrap_or_default()))
        .collect()
}

/// Ingests lines, asserting none is rejected.
pub(crate) fn ingest_ok(p: &Profiles, lines: &[String]) -> super::IngestReport {
    let report = p.ingest_lines(lines).unwrap();
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    report
}
