//! The bulk loader: what it builds opens as the database the rows describe, and bad rows,
//! bad schemas and occupied directories are refused without leaving files behind.

use super::{BulkLoadError, BulkLoader};
use crate::options::{Options, SyncMode};
use crate::schema::{ColumnDef, TableKind};
use crate::segment::layout::ROWS_PER_CHUNK;
use crate::value::{ColumnType, Value};
use crate::{Database, EVENT_PROFILE_COLUMN};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("profiledb-bulk-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        TempDir(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    fn entries(&self) -> Vec<String> {
        std::fs::read_dir(&self.0)
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn column(name: &str, column_type: ColumnType) -> ColumnDef {
    ColumnDef {
        name: name.to_owned(),
        column_type,
    }
}

fn profiles_schema() -> Vec<ColumnDef> {
    vec![
        column("plan", ColumnType::String),
        column("score", ColumnType::Int64),
        column("tags", ColumnType::StringList),
        column("never_set", ColumnType::Bool),
    ]
}

fn events_schema() -> Vec<ColumnDef> {
    vec![
        column(EVENT_PROFILE_COLUMN, ColumnType::Int64),
        column("amount", ColumnType::Float64),
    ]
}

fn open(dir: &Path) -> Database {
    let options = Options {
        sync_mode: SyncMode::Never,
        create_if_missing: false,
        ..Options::default()
    };
    Database::open(dir, options).expect("the loaded directory opens as a database")
}

fn profile_values(id: u32) -> Vec<Value> {
    let plan = if id.is_multiple_of(3) {
        Value::Null
    } else {
        Value::String(format!("plan-{}", id % 5))
    };
    let tags = if id.is_multiple_of(7) {
        Value::StringList(vec!["vip".into(), format!("t{id}")])
    } else {
        Value::Null
    };
    vec![plan, Value::Int64(i64::from(id) * 3), tags, Value::Null]
}

#[test]
fn loaded_rows_read_back_across_several_chunks() {
    let dir = TempDir::new("round-trip");
    let mut loader = BulkLoader::create(dir.path(), &profiles_schema(), &events_schema()).unwrap();
    // Sparse ids and more rows than one chunk holds.
    let ids: Vec<u32> = (0..ROWS_PER_CHUNK as u32 + 500)
        .map(|i| i * 2 + 1)
        .collect();
    for &id in &ids {
        loader.push_profile(id, &profile_values(id)).unwrap();
    }
    for (n, &owner) in ids.iter().take(1000).enumerate() {
        let event = [
            Value::Int64(i64::from(owner)),
            Value::Float64(n as f64 / 2.0),
        ];
        assert_eq!(loader.push_event(&event).unwrap(), n as u32);
    }
    loader.finish().unwrap();

    let db = open(dir.path());
    let snapshot = db.snapshot();
    assert_eq!(
        snapshot.schema(TableKind::Profiles).columns(),
        profiles_schema()
    );
    assert_eq!(
        snapshot.schema(TableKind::Events).columns(),
        events_schema()
    );
    assert_eq!(snapshot.row_count(TableKind::Profiles), ids.len() as u64);
    assert_eq!(snapshot.row_count(TableKind::Events), 1000);
    for &id in [0usize, 1, 6, 65_535, 65_536, ids.len() - 1]
        .iter()
        .map(|&i| &ids[i])
    {
        let expected = profile_values(id);
        for (index, def) in profiles_schema().iter().enumerate() {
            let got = snapshot.get(TableKind::Profiles, id, &def.name).unwrap();
            assert_eq!(got, expected[index], "profile {id} column {}", def.name);
        }
    }
    assert_eq!(
        snapshot.get(TableKind::Events, 999, "amount").unwrap(),
        Value::Float64(499.5)
    );
    assert_eq!(db.next_profile_id(), ids[ids.len() - 1] + 1);
    let next_event = db.append_event(1, Vec::new()).unwrap();
    assert_eq!(next_event, 1000, "new events follow the loaded ones");
}

#[test]
fn bad_rows_are_refused_and_change_nothing() {
    let dir = TempDir::new("bad-rows");
    let mut loader = BulkLoader::create(dir.path(), &profiles_schema(), &events_schema()).unwrap();
    loader.push_profile(10, &profile_values(10)).unwrap();
    let refusals = [
        loader.push_profile(10, &profile_values(10)),
        loader.push_profile(5, &profile_values(5)),
        loader.push_profile(11, &profile_values(11)[..2]),
        loader.push_profile(
            12,
            &[Value::Int64(1), Value::Null, Value::Null, Value::Null],
        ),
    ];
    for refusal in refusals {
        assert!(
            matches!(refusal, Err(BulkLoadError::InvalidRow { .. })),
            "{refusal:?}"
        );
    }
    for event in [
        vec![Value::Int64(-1), Value::Null],
        vec![Value::Null, Value::Null],
        vec![Value::Int64(1 << 40), Value::Null],
        vec![Value::Int64(1), Value::Bool(true)],
    ] {
        assert!(loader.push_event(&event).is_err(), "{event:?}");
    }
    loader.push_profile(11, &profile_values(11)).unwrap();
    loader.finish().unwrap();
    let snapshot = open(dir.path()).snapshot();
    let live: Vec<u32> = snapshot.live_rows(TableKind::Profiles).iter().collect();
    assert_eq!(live, [10, 11]);
    assert_eq!(snapshot.row_count(TableKind::Events), 0);
}

#[test]
fn invalid_schemas_and_occupied_directories_are_refused() {
    let dir = TempDir::new("schemas");
    let twice = [column("a", ColumnType::Bool), column("a", ColumnType::Bool)];
    let owner_elsewhere = [column(EVENT_PROFILE_COLUMN, ColumnType::Int64)];
    let no_owner = [column("amount", ColumnType::Float64)];
    let cases: [(&[ColumnDef], &[ColumnDef]); 4] = [
        (&twice, &[]),
        (&[column("", ColumnType::Bool)], &[]),
        (&owner_elsewhere, &[]),
        (&[], &no_owner),
    ];
    for (profiles, events) in cases {
        let outcome = BulkLoader::create(dir.path(), profiles, events);
        assert!(
            matches!(outcome, Err(BulkLoadError::InvalidSchema { .. })),
            "{outcome:?}"
        );
    }
    std::fs::create_dir_all(dir.path()).unwrap();
    std::fs::write(dir.path().join("notes.txt"), b"mine").unwrap();
    let outcome = BulkLoader::create(dir.path(), &[], &[]);
    assert!(
        matches!(outcome, Err(BulkLoadError::NotEmpty { .. })),
        "{outcome:?}"
    );
    assert_eq!(dir.entries(), ["notes.txt"]);
}

#[test]
fn an_unfinished_load_leaves_an_empty_directory() {
    let dir = TempDir::new("unfinished");
    let mut loader = BulkLoader::create(dir.path(), &profiles_schema(), &events_schema()).unwrap();
    for id in 0..(ROWS_PER_CHUNK as u32 + 10) {
        loader.push_profile(id, &profile_values(id)).unwrap();
    }
    loader
        .push_event(&[Value::Int64(0), Value::Float64(1.0)])
        .unwrap();
    assert!(!dir.entries().is_empty(), "files are being written");
    drop(loader);
    assert!(dir.entries().is_empty(), "left {:?}", dir.entries());
}

#[test]
fn an_empty_load_is_an_empty_database() {
    let dir = TempDir::new("empty");
    BulkLoader::create(dir.path(), &[], &[])
        .unwrap()
        .finish()
        .unwrap();
    let db = open(dir.path());
    assert_eq!(db.snapshot().row_count(TableKind::Profiles), 0);
    assert!(db.snapshot().segments().is_empty());
}
