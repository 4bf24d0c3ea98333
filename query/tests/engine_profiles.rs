//! SQL over a database filled by ingestion: stitched profiles, the identities table, events.

use profiledb_engine::{Options, Profiles, ProfilesOptions, SyncMode};
use profiledb_query::{
    execute, identities_table, Session, SnapshotCatalog, StatementOutcome, Value,
};

fn rows(catalog: &SnapshotCatalog<'_>, sql: &str) -> Vec<Vec<Value>> {
    match execute(catalog, &mut Session::new(), sql) {
        Ok(StatementOutcome::Rows(result)) => result.rows,
        other => panic!("`{sql}` gave {other:?}"),
    }
}

#[test]
fn identities_and_stitched_history_are_queryable() {
    let dir = std::env::temp_dir().join(format!("profiledb-query-profiles-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let options = Options {
        sync_mode: SyncMode::Never,
        ..Options::default()
    };
    let profiles = Profiles::open(&dir, options, ProfilesOptions::default()).expect("open");
    let report = profiles
        .ingest_lines(&[
            r#"{"type":"page","anonymousId":"anon-1","name":"Home","messageId":"m1","timestamp":"2026-05-01T10:00:00Z"}"#,
            r#"{"type":"identify","anonymousId":"anon-1","userId":"u1","traits":{"email":"ANN@example.com","plan":"pro"},"messageId":"m2","timestamp":"2026-05-01T10:01:00Z"}"#,
            r#"{"type":"track","userId":"u1","event":"Order Completed","properties":{"revenue":10},"messageId":"m3","timestamp":"2026-05-02T10:00:00Z"}"#,
            r#"{"type":"track","userId":"u2","event":"Order Completed","properties":{"revenue":5},"messageId":"m4","timestamp":"2026-05-03T10:00:00Z"}"#,
        ])
        .expect("ingest");
    assert_eq!(report.accepted, 4);
    let snapshot = profiles.snapshot();
    let identities = identities_table(&profiles).expect("identities");
    let catalog = SnapshotCatalog::new(&snapshot).with_table("identities", Box::new(identities));

    assert_eq!(
        rows(&catalog, "SELECT COUNT(*) FROM profiles"),
        vec![vec![Value::Int64(2)]]
    );
    let ann = rows(
        &catalog,
        "SELECT profile_id FROM identities WHERE type = 'email' AND value = 'ann@example.com'",
    );
    let anon = rows(
        &catalog,
        "SELECT profile_id FROM identities WHERE type = 'anonymous_id' AND value = 'anon-1'",
    );
    assert_eq!(
        ann, anon,
        "the anonymous visitor and the signed-up customer are one profile"
    );
    let Value::Int64(ann_id) = ann[0][0] else {
        panic!("profile id")
    };
    assert_eq!(
        rows(
            &catalog,
            &format!("SELECT COUNT(*) FROM events WHERE profile_id = {ann_id}")
        ),
        vec![vec![Value::Int64(3)]],
        "page view, identify and order all belong to the stitched profile"
    );
    assert_eq!(
        rows(
            &catalog,
            "SELECT plan FROM profiles WHERE email = 'ann@example.com'"
        ),
        vec![vec![Value::String("pro".into())]]
    );
    assert_eq!(
        rows(
            &catalog,
            "SELECT COUNT(*) FROM profiles WHERE profile_id IN (SELECT profile_id FROM events WHERE event = 'Order Completed' AND revenue > 6)"
        ),
        vec![vec![Value::Int64(1)]]
    );
    drop(catalog);
    drop(snapshot);
    profiles.close().expect("close");
    let _ = std::fs::remove_dir_all(&dir);
}
