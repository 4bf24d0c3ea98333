//! Engine bugs found by this suite, each pinned by a test that fails until the bug is fixed.
//! Every test states the behaviour a user relies on; see the doc comment for cause and fix.

use crate::util::{copy_dir, files_named, flip_byte, TempDir};
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

/// Every byte of a segment is checked by some reader ("every byte of every file is covered by
/// exactly one checksum" and the reserved trailer bytes are "zero").
///
/// `parse_trailer` (engine/src/segment/reader.rs) checks the trailer's magic, version, footer
/// range and footer crc, but never the reserved `u16` at trailer offset 22, and no checksum
/// covers the trailer. A flipped bit there (file offset `len - 10` or `len - 9`) is accepted
/// silently: `corruption::flipping_any_byte_of_a_segment_...` finds exactly these two bytes.
/// Fix: reject a non-zero reserved field in `parse_trailer` with `Error::Corrupt` at
/// `trailer_start + 22` (and list it among the reader's checks in `storage-format.md`), or
/// cover the trailer's first 24 bytes with a crc.
#[test]
fn segment_trailer_reserved_bytes_are_checked() {
    let dir = TempDir::new("bug-trailer");
    crate::corruption::build_sweep_db(dir.path());
    let seg = files_named(dir.path(), "seg-", ".pdb").remove(0);
    let len = std::fs::metadata(&seg).unwrap().len() as usize;
    for offset in [len - 10, len - 9] {
        let copy = TempDir::new("bug-trailer-copy");
        copy_dir(dir.path(), copy.path());
        let damaged = copy.path().join(seg.file_name().unwrap());
        flip_byte(&damaged, offset, 0x01);
        let result = Database::open(copy.path(), options());
        assert!(
            matches!(result, Err(profiledb::Error::Corrupt { .. })),
            "a flipped reserved trailer byte at {offset} of {len} was accepted: {:?}",
            result.map(|_| "opened")
        );
    }
}

/// A snapshot includes every write acknowledged before it was taken (`Database::snapshot`:
/// "A consistent read view including every write acknowledged so far").
///
/// Race in `Inner::snapshot` / `Inner::publish_locked` (engine/src/db/mod.rs): `publish_locked`
/// clears `unpublished` with `swap(false)` *before* it builds and stores the new version. A
/// second thread calling `snapshot()` in that window sees `unpublished == false`, skips the
/// writer lock and returns the old `current` version, which lacks writes that were already
/// acknowledged (even its own). Symptoms: a writer that reads then writes loses updates, and a
/// column created by an acknowledged write is `UnknownColumn`. Fix: in `publish_locked` test
/// the flag with `load`, store the new version, and only then `store(false, Release)` (the
/// writer lock already excludes concurrent writes, so nothing can set the flag in between).
#[test]
fn a_snapshot_sees_every_write_acknowledged_before_it() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let dir = TempDir::new("bug-read-your-writes");
    let db = Database::open(dir.path(), options()).unwrap();
    db.upsert_profile(1, vec![("counter".into(), Value::Int64(0))])
        .unwrap();
    let stop = AtomicBool::new(false);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    let stale = std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    let _ = db.snapshot();
                }
            });
        }
        let mut stale = None;
        let mut k = 0i64;
        while std::time::Instant::now() < deadline {
            k += 1;
            db.upsert_profile(1, vec![("counter".into(), Value::Int64(k))])
                .unwrap();
            let seen = db
                .snapshot()
                .get(TableKind::Profiles, 1, "counter")
                .unwrap();
            if seen != Value::Int64(k) {
                stale = Some((k, seen));
                break;
            }
        }
        stop.store(true, Ordering::Relaxed);
        stale
    });
    assert_eq!(
        stale,
        None,
        "a snapshot taken right after write {k:?} was acknowledged did not include it",
        k = stale.as_ref().map(|s| s.0)
    );
    db.close().unwrap();
}
