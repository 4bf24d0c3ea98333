//! Erasure is physical: after `delete_profile` and a compaction, no file under the database
//! directory (segments, manifest, WAL) holds any byte sequence of the deleted profile's
//! values or of its events, while a kept profile's values are still found.

use crate::util::{contains_bytes, files_under, s, Rng, TempDir};
use profiledb::{Database, Options, SyncMode, TableKind, Value};

struct Secrets {
    email: String,
    tag: String,
    event_text: String,
    updated: String,
}

impl Secrets {
    /// Draws tokens until no secret repeats a 4-byte sequence within itself: lz4 would store
    /// such a repeat as a back-reference, and a secret must appear verbatim wherever it is kept
    /// for the byte search to prove anything.
    fn new(prefix: &str, rng: &mut Rng) -> Secrets {
        loop {
            let token = rng.next_u64();
            let secrets = Secrets {
                email: format!("{prefix}-me-{token:016x}@example.com"),
                tag: format!("{prefix}-tag-{token:x}"),
                event_text: format!("{prefix}-event-{token:x}"),
                updated: format!("{prefix}-updated-{token:x}"),
            };
            if !secrets
                .all()
                .iter()
                .any(|secret| repeats_four_bytes(secret))
            {
                return secrets;
            }
        }
    }

    fn all(&self) -> [&str; 4] {
        [&self.email, &self.tag, &self.event_text, &self.updated]
    }
}

/// True when some 4-byte window of `text` occurs again later in it (lz4's shortest match).
fn repeats_four_bytes(text: &str) -> bool {
    let windows: Vec<&[u8]> = text.as_bytes().windows(4).collect();
    windows
        .iter()
        .enumerate()
        .any(|(i, window)| windows[i + 1..].contains(window))
}

fn write_profile(db: &Database, id: u32, secrets: &Secrets) {
    db.upsert_profile(
        id,
        vec![
            ("email".into(), s(&secrets.email)),
            (
                "tags".into(),
                Value::StringList(vec!["common".into(), secrets.tag.clone()]),
            ),
            ("age".into(), Value::Int64(40)),
        ],
    )
    .unwrap();
    db.append_event(id, vec![("page".into(), s(&secrets.event_text))])
        .unwrap();
}

/// Runs the scenario; `flush_first` writes the profile to a segment before deleting it.
fn scenario(label: &str, sync_mode: SyncMode, flush_first: bool) {
    let dir = TempDir::new(label);
    let options = Options {
        sync_mode,
        compaction_trigger_segments: 0,
        ..Options::default()
    };
    let mut rng = Rng::new(u64::from(std::process::id()) ^ label.len() as u64);
    let erased = Secrets::new("erase", &mut rng);
    let kept = Secrets::new("keep", &mut rng);
    let db = Database::open(dir.path(), options.clone()).unwrap();
    write_profile(&db, 1, &erased);
    write_profile(&db, 2, &kept);
    if flush_first {
        db.flush().unwrap();
    }
    // More writes after the flush, including a new value of the erased profile (in the WAL
    // and the memory head only) and a second event.
    db.upsert_profile(1, vec![("email".into(), s(&erased.updated))])
        .unwrap();
    db.upsert_profile(2, vec![("nickname".into(), s(&kept.updated))])
        .unwrap();
    db.append_event(1, vec![("page".into(), s(&erased.event_text))])
        .unwrap();
    db.upsert_profile(3, vec![("email".into(), s("other@example.com"))])
        .unwrap();
    if flush_first {
        db.flush().unwrap();
    }
    db.delete_profile(1).unwrap();
    db.compact().unwrap();
    let snap = db.snapshot();
    assert_eq!(snap.row(TableKind::Profiles, 1).unwrap(), None);
    assert_eq!(
        snap.row_count(TableKind::Events),
        1,
        "only the kept profile's event"
    );
    drop(snap);
    db.close().unwrap();

    let files = files_under(dir.path());
    assert!(
        files.iter().any(|f| f.to_string_lossy().contains("wal")),
        "the WAL is searched too"
    );
    let mut kept_found = [false; 4];
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        for secret in erased.all() {
            assert!(
                !contains_bytes(&bytes, secret.as_bytes()),
                "{label}: erased value {secret:?} still in {}",
                file.display()
            );
        }
        for (i, secret) in kept.all().iter().enumerate() {
            kept_found[i] |= contains_bytes(&bytes, secret.as_bytes());
        }
    }
    assert_eq!(
        kept_found, [true; 4],
        "{label}: the search finds the kept profile's values"
    );

    // The erased profile stays erased after reopening; the kept one is intact.
    let db = Database::open(dir.path(), options).unwrap();
    let snap = db.snapshot();
    assert_eq!(snap.row(TableKind::Profiles, 1).unwrap(), None);
    assert_eq!(
        snap.get(TableKind::Profiles, 2, "email").unwrap(),
        s(&kept.email)
    );
    assert!(matches!(
        db.upsert_profile(1, vec![("age".into(), Value::Int64(1))]),
        Err(profiledb::Error::RowDeleted { .. })
    ));
    drop(snap);
    db.close().unwrap();
}

#[test]
fn erased_profile_leaves_no_bytes_after_compaction() {
    scenario("erasure-flushed", SyncMode::EveryCommit, true);
}

#[test]
fn erased_profile_that_was_only_in_the_wal_leaves_no_bytes() {
    scenario("erasure-wal-only", SyncMode::EveryCommit, false);
}

#[test]
fn erased_profile_leaves_no_bytes_with_sync_mode_never() {
    scenario("erasure-never", SyncMode::Never, true);
    scenario("erasure-never-wal-only", SyncMode::Never, false);
}
