//! Compaction of a table's newest segments: which run is taken, and that rewriting it
//! changes no row, deletion or event, now or after a reopen.

use super::compaction::{compact_table, newest_run, Inputs};
use super::Database;
use crate::options::{Options, SyncMode};
use crate::profiles::test_support::TempDir;
use crate::schema::TableKind;
use crate::value::Value;
use crate::WriteBatch;

#[test]
fn the_newest_run_takes_each_older_segment_no_larger_than_those_taken() {
    assert_eq!(newest_run(&[]), 0);
    assert_eq!(newest_run(&[5]), 1);
    assert_eq!(newest_run(&[100, 5]), 2);
    // Equal flush-sized segments: all of them.
    assert_eq!(newest_run(&[1, 1, 1, 1, 1]), 5);
    // A big old segment stays out until the newer ones add up to it.
    assert_eq!(newest_run(&[100, 50, 1, 1]), 2);
    assert_eq!(newest_run(&[100, 3, 1, 2]), 3);
    assert_eq!(newest_run(&[6, 3, 1, 2]), 4);
}

/// A live row: its table, id and values.
type Row = (TableKind, u32, Vec<(String, Value)>);

/// Every live row of both tables, with its values.
fn all_rows(db: &Database) -> Vec<Row> {
    let snapshot = db.snapshot();
    TableKind::ALL
        .into_iter()
        .flat_map(|table| {
            let snapshot = &snapshot;
            snapshot.live_rows(table).into_iter().map(move |row| {
                let values = snapshot.row(table, row).unwrap().unwrap_or_default();
                (table, row, values)
            })
        })
        .collect()
}

fn table_segments(db: &Database, table: TableKind) -> usize {
    super::compaction::segment_count(&db.inner, table)
}

#[test]
fn merging_the_newest_segments_changes_no_row() {
    let dir = TempDir::new("compact-newest");
    let options = Options {
        sync_mode: SyncMode::Never,
        compaction_trigger_segments: 0,
        ..Options::default()
    };
    let db = Database::open(dir.path(), options.clone()).unwrap();
    // A large first flush, then small ones that update, delete and add to it.
    let mut batch = WriteBatch::new();
    for profile in 0..2_000 {
        let plan = Value::String(format!("plan-{}", profile % 3));
        batch.upsert_profile(profile, vec![("plan".into(), plan)]);
        batch.append_event(profile, vec![("amount".into(), Value::Int64(1))]);
    }
    db.write(&batch).unwrap();
    db.flush().unwrap();
    for round in 0..6u32 {
        let mut batch = WriteBatch::new();
        for profile in (round..2_000).step_by(97) {
            let plan = Value::String(format!("round-{round}"));
            batch.upsert_profile(profile, vec![("plan".into(), plan)]);
            batch.append_event(
                profile,
                vec![("amount".into(), Value::Int64(i64::from(round)))],
            );
        }
        db.write(&batch).unwrap();
        if round == 3 {
            db.delete_profile(100).unwrap();
        }
        db.flush().unwrap();
    }
    let before = all_rows(&db);
    assert_eq!(table_segments(&db, TableKind::Profiles), 7);
    compact_table(&db.inner, TableKind::Profiles, Inputs::NewestRun).unwrap();
    compact_table(&db.inner, TableKind::Events, Inputs::NewestRun).unwrap();
    // The six small segments merged; the first one, larger than all of them, stayed.
    assert_eq!(table_segments(&db, TableKind::Profiles), 2);
    assert_eq!(table_segments(&db, TableKind::Events), 2);
    assert_eq!(all_rows(&db), before);
    assert!(db
        .snapshot()
        .row(TableKind::Profiles, 100)
        .unwrap()
        .is_none());
    db.close().unwrap();
    let db = Database::open(dir.path(), options).unwrap();
    assert_eq!(all_rows(&db), before);
    db.close().unwrap();
}
