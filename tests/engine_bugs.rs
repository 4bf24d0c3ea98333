//! Engine bugs found by this suite, each pinned by a test that fails until the bug is fixed.
//! Every test states the behaviour a user relies on; see the doc comment for cause and fix.

use crate::util::TempDir;
use profiledb::{Database, Options, SyncMode, TableKind, Value};

fn options() -> Options {
    Options {
        sync_mode: SyncMode::Never,
        compaction_trigger_segments: 0,
        ..Options::default()
    }
}

/// Merging a profile into itself must not lose it (nor orphan its events).
///
/// `Inner::merge_profiles` (engine/src/db/mod.rs) does not check `survivor != absorbed`: it
/// builds an empty fill, re-points the profile's events to itself and then pushes
/// `DeleteProfileRow { profile: absorbed }`, which deletes the survivor while its events stay
/// live. Fix: reject (or make a no-op of) `survivor == absorbed` before building the batch.
#[test]
fn merging_a_profile_into_itself_keeps_it() {
    let dir = TempDir::new("model-self-merge");
    let db = Database::open(dir.path(), options()).unwrap();
    db.upsert_profile(1, vec![("p_str".into(), Value::String("kept".into()))])
        .unwrap();
    db.append_event(1, vec![("e_kind".into(), Value::String("click".into()))])
        .unwrap();
    let result = db.merge_profiles(1, 1);
    let snap = db.snapshot();
    assert!(
        snap.row(TableKind::Profiles, 1).unwrap().is_some(),
        "merge_profiles(1, 1) returned {result:?} and deleted profile 1 \
         (its {} events are left pointing at a deleted profile)",
        snap.row_count(TableKind::Events)
    );
}
