//! Writes with a follow-up batch: the follow-up reads the database as before both batches,
//! readers see both batches together, and a failed follow-up loses nothing of the first.

use super::{BuiltBatch, Database};
use crate::error::Error;
use crate::options::{Options, SyncMode};
use crate::profiles::test_support::TempDir;
use crate::schema::TableKind;
use crate::value::Value;
use crate::WriteBatch;

fn options() -> Options {
    Options {
        sync_mode: SyncMode::Never,
        ..Options::default()
    }
}

/// A batch setting `plan` of `profiles`, and appending one event to each.
fn plans(profiles: std::ops::Range<u32>, plan: &str) -> BuiltBatch<()> {
    let mut batch = WriteBatch::new();
    for profile in profiles {
        batch.upsert_profile(profile, vec![("plan".into(), Value::String(plan.into()))]);
        batch.append_event(profile, vec![("amount".into(), Value::Int64(1))]);
    }
    BuiltBatch {
        batch,
        ..BuiltBatch::nothing(())
    }
}

fn plan_of(db: &Database, profile: u32) -> Option<Value> {
    let row = db.snapshot().row(TableKind::Profiles, profile).unwrap()?;
    row.into_iter()
        .find(|(name, _)| name == "plan")
        .map(|(_, value)| value)
}

#[test]
fn the_follow_up_reads_the_database_as_before_both_batches_and_readers_get_both() {
    let dir = TempDir::new("followup-both");
    let db = Database::open(dir.path(), options()).unwrap();
    db.write_with(|_| Ok(plans(0..10, "free"))).unwrap();
    let mut seen_by_follow_up = None;
    db.write_with_followup(
        |_| Ok(plans(0..10, "pro")),
        |(), context| {
            let row = context.snapshot.row(TableKind::Profiles, 3)?;
            seen_by_follow_up =
                row.and_then(|values| values.into_iter().find(|(name, _)| name == "plan"));
            Ok(plans(5..10, "team"))
        },
    )
    .unwrap();
    assert_eq!(
        seen_by_follow_up,
        Some(("plan".into(), Value::String("free".into()))),
        "the follow-up sees neither batch"
    );
    assert_eq!(plan_of(&db, 3), Some(Value::String("pro".into())));
    assert_eq!(plan_of(&db, 7), Some(Value::String("team".into())));
    let events = db.snapshot().live_rows(TableKind::Events).len();
    assert_eq!(events, 10 + 10 + 5);
}

#[test]
fn a_failed_follow_up_keeps_the_first_batch_in_memory_and_in_the_log() {
    let dir = TempDir::new("followup-fails");
    let db = Database::open(dir.path(), options()).unwrap();
    db.write_with(|_| Ok(plans(0..10, "free"))).unwrap();
    let failed = db.write_with_followup(
        |_| Ok(plans(0..10, "pro")),
        |(), _| -> crate::error::Result<BuiltBatch<()>> {
            Err(Error::InvalidColumnName {
                name: String::new(),
                reason: "a follow-up that fails",
            })
        },
    );
    assert!(failed.is_err());
    assert_eq!(plan_of(&db, 3), Some(Value::String("pro".into())));
    // Later writes build on it.
    db.write_with(|_| Ok(plans(8..10, "team"))).unwrap();
    assert_eq!(plan_of(&db, 9), Some(Value::String("team".into())));
    assert_eq!(plan_of(&db, 2), Some(Value::String("pro".into())));
    db.close().unwrap();
    let reopened = Database::open(dir.path(), options()).unwrap();
    assert_eq!(plan_of(&reopened, 2), Some(Value::String("pro".into())));
    assert_eq!(plan_of(&reopened, 9), Some(Value::String("team".into())));
    let events = reopened.snapshot().live_rows(TableKind::Events).len();
    assert_eq!(events, 10 + 10 + 2);
}
