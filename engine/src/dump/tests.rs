//! Dump, verify and restore: determinism, round trips, and refusal of damaged dumps.

use super::test_support::{contents, fill_rich, open, TempDir};
use super::{restore_dump, verify_dump, write_dump, DumpError};
use crate::schema::TableKind;
use crate::value::Value;

fn dump_of(db: &crate::Database) -> Vec<u8> {
    let mut out = Vec::new();
    write_dump(&db.snapshot(), &mut out).unwrap();
    out
}

#[test]
fn dump_restore_dump_is_byte_identical() {
    let source_dir = TempDir::new("source");
    let source = open(source_dir.path());
    fill_rich(&source);
    assert!(source.snapshot().segments().len() >= 3, "several segments");
    let first = dump_of(&source);
    assert_eq!(
        dump_of(&source),
        first,
        "dumping twice gives the same bytes"
    );
    let summary = verify_dump(&mut first.as_slice()).unwrap();
    assert_eq!(summary.bytes, first.len() as u64);
    assert_eq!(
        summary.profiles,
        source.snapshot().row_count(TableKind::Profiles)
    );

    let target_dir = TempDir::new("target");
    let restored = restore_dump(&mut first.as_slice(), target_dir.path()).unwrap();
    assert_eq!(restored, summary);
    let target = open(target_dir.path());
    assert_eq!(contents(&target.snapshot()), contents(&source.snapshot()));
    assert_eq!(
        dump_of(&target),
        first,
        "restored database dumps identically"
    );

    target.compact().unwrap();
    target.close().unwrap();
    let reopened = open(target_dir.path());
    assert_eq!(
        dump_of(&reopened),
        first,
        "identical after compaction and reopening"
    );
}

#[test]
fn restore_keeps_profile_ids_and_links_events() {
    let source_dir = TempDir::new("links");
    let source = open(source_dir.path());
    fill_rich(&source);
    let bytes = dump_of(&source);
    let target_dir = TempDir::new("links-target");
    restore_dump(&mut bytes.as_slice(), target_dir.path()).unwrap();
    let target = open(target_dir.path());
    let snap = target.snapshot();
    assert_eq!(
        snap.get(TableKind::Profiles, 101, "score").unwrap(),
        Value::Int64(i64::MIN)
    );
    assert_eq!(
        snap.get(TableKind::Profiles, 5, "plan").unwrap(),
        Value::Null
    );
    assert!(!snap.live_rows(TableKind::Profiles).contains(0));
    let owners = snap
        .fetch(
            TableKind::Events,
            "profile_id",
            snap.live_rows(TableKind::Events),
        )
        .unwrap();
    assert!(owners.contains(&Value::Int64(7000)));
    assert!(
        !owners.contains(&Value::Int64(7)),
        "merged events moved to the survivor"
    );
}

#[test]
fn empty_database_round_trips() {
    let a = TempDir::new("empty-a");
    let db = open(a.path());
    let bytes = dump_of(&db);
    let b = TempDir::new("empty-b");
    let summary = restore_dump(&mut bytes.as_slice(), b.path()).unwrap();
    let target = open(b.path());
    assert_eq!((summary.profiles, summary.events), (0, 0));
    assert_eq!(dump_of(&target), bytes);
}

/// A small dump that still has every block kind.
fn small_dump() -> Vec<u8> {
    let dir = TempDir::new("small");
    let db = open(dir.path());
    db.upsert_profile(1, vec![("plan".into(), Value::String("pro".into()))])
        .unwrap();
    db.upsert_profile(
        2,
        vec![("tags".into(), Value::StringList(vec!["a".into()]))],
    )
    .unwrap();
    db.append_event(1, vec![("n".into(), Value::Float64(-0.0))])
        .unwrap();
    dump_of(&db)
}

/// Restores `bytes` into a new directory; a failed restore must leave no file behind.
fn restore_into_fresh(bytes: &[u8], label: &str) -> Result<(), DumpError> {
    let dir = TempDir::new(label);
    let outcome = restore_dump(&mut &bytes[..], dir.path()).map(|_| ());
    if outcome.is_err() {
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .map(|entries| entries.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "a failed restore left {left:?}");
    }
    outcome
}

#[test]
fn every_truncation_is_refused() {
    let bytes = small_dump();
    for len in 0..bytes.len() {
        let cut = &bytes[..len];
        assert!(
            verify_dump(&mut &cut[..]).is_err(),
            "verify accepted {len} bytes"
        );
        let outcome = restore_into_fresh(cut, "cut");
        assert!(
            matches!(
                outcome,
                Err(DumpError::Truncated { .. } | DumpError::Corrupt { .. })
            ),
            "restore of {len} bytes: {outcome:?}"
        );
    }
    restore_into_fresh(&bytes, "whole").unwrap();
}

#[test]
fn every_flipped_byte_is_refused() {
    let bytes = small_dump();
    for i in 0..bytes.len() {
        for mask in [0x01u8, 0x80] {
            let mut damaged = bytes.clone();
            damaged[i] ^= mask;
            assert!(
                verify_dump(&mut damaged.as_slice()).is_err(),
                "verify accepted flip {mask:#x} at {i}"
            );
            assert!(
                restore_into_fresh(&damaged, "flip").is_err(),
                "restore accepted flip at {i}"
            );
        }
    }
}

#[test]
fn trailing_bytes_and_unknown_versions_are_refused() {
    let mut bytes = small_dump();
    bytes.push(0);
    assert!(matches!(
        verify_dump(&mut bytes.as_slice()),
        Err(DumpError::Corrupt { .. })
    ));
    bytes.pop();
    bytes[super::format::HEADER_VERSION_OFFSET] = 9;
    assert!(matches!(
        verify_dump(&mut bytes.as_slice()),
        Err(DumpError::UnsupportedVersion { found: 9, .. })
    ));
}

#[test]
fn restore_refuses_a_non_empty_directory() {
    let bytes = small_dump();
    let dir = TempDir::new("nonempty");
    let db = open(dir.path());
    db.upsert_profile(77, vec![("x".into(), Value::Bool(true))])
        .unwrap();
    let before = dump_of(&db);
    db.close().unwrap();
    let err = restore_dump(&mut bytes.as_slice(), dir.path()).unwrap_err();
    assert!(matches!(err, DumpError::NotEmpty { .. }), "{err}");
    assert_eq!(dump_of(&open(dir.path())), before, "nothing was written");
}

#[test]
fn large_tables_span_several_blocks() {
    let dir = TempDir::new("large");
    let db = open(dir.path());
    let mut batch = crate::WriteBatch::new();
    for p in 0..10_000u32 {
        batch.upsert_profile(p, vec![("n".into(), Value::Int64(i64::from(p)))]);
        batch.append_event(p, vec![("k".into(), Value::Int64(i64::from(p) % 7))]);
    }
    db.write(&batch).unwrap();
    db.flush().unwrap();
    let bytes = dump_of(&db);
    let summary = verify_dump(&mut bytes.as_slice()).unwrap();
    assert_eq!(summary.blocks, 1 + 2 + 3 + 3 + 1);
    let target_dir = TempDir::new("large-target");
    restore_dump(&mut bytes.as_slice(), target_dir.path()).unwrap();
    assert_eq!(dump_of(&open(target_dir.path())), bytes);
}
