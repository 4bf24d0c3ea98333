//! SQL over a database filled by ingestion: stitched profiles, the identities table, events.

mod scratch;

use profiledb_engine::{Profiles, ProfilesOptions};
use profiledb_query::{
    execute, identities_table, Session, SnapshotCatalog, StatementOutcome, Value,
};
use scratch::ScratchDir;

fn rows(catalog: &SnapshotCatalog<'_>, sql: &str) -> Vec<Vec<Value>> {
    match execute(catalog, &mut Session::new(), sql) {
        Ok(StatementOutcome::Rows(result)) => result.rows,
        other => panic!("`{sql}` gave {other:?}"),
    }
}

#[test]
fn identities_and_stitched_history_are_queryable() {
    let dir = ScratchDir::new("profiles");
    let profiles =
        Profiles::open(dir.path(), scratch::unsynced(), ProfilesOptions::default()).expect("open");
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
}

/// Rows of a statement run through a live profiles database.
fn live_rows(
    db: &profiledb_query::LiveDatabase,
    session: &mut Session,
    sql: &str,
) -> Vec<Vec<Value>> {
    match db.execute(session, sql) {
        Ok(StatementOutcome::Rows(result)) => result.rows,
        other => panic!("`{sql}` gave {other:?}"),
    }
}

/// A live database over profiles in `dir`, unsynced.
fn open_live_profiles(dir: &ScratchDir) -> profiledb_query::LiveDatabase {
    profiledb_query::LiveDatabase::open_profiles(
        dir.path(),
        scratch::unsynced(),
        ProfilesOptions::default(),
    )
    .expect("open")
}

/// A dropped trait's column stays, all NULL; a new trait may take its name when its values
/// fit the column's type. A column that holds data is never taken.
#[test]
fn a_dropped_traits_name_can_be_given_to_a_new_trait_of_its_type() {
    let dir = ScratchDir::new("trait-name-reuse");
    let db = open_live_profiles(&dir);
    let order = |id: &str, user: &str, revenue: f64| {
        format!(
            r#"{{"type":"track","userId":"{user}","event":"Order Completed","properties":{{"revenue":{revenue}}},"messageId":"{id}","timestamp":"2026-05-01T10:00:00Z"}}"#
        )
    };
    db.profiles()
        .expect("opened on profiles")
        .ingest_lines(&[
            order("m1", "ann", 10.0),
            order("m2", "ann", 30.0),
            order("m3", "bob", 7.0),
            r#"{"type":"identify","userId":"bob","traits":{"plan":"pro"},"messageId":"m4","timestamp":"2026-05-01T11:00:00Z"}"#.to_owned(),
        ])
        .expect("ingest");
    let mut session = db.session();
    let run = |session: &mut Session, sql: &str| db.execute(session, sql).expect(sql);
    run(&mut session, "CREATE TRAIT orders AS count(*) FROM events");
    run(&mut session, "DROP TRAIT orders");
    let retyped = db
        .execute(
            &mut session,
            "CREATE TRAIT orders AS sum(revenue) FROM events",
        )
        .expect_err("a sum does not fit the int64 column left by the dropped count");
    assert!(retyped.to_string().contains("int64"), "{retyped}");
    assert_eq!(
        run(
            &mut session,
            "CREATE TRAIT orders AS count(*) FROM events WHERE revenue >= 8"
        ),
        StatementOutcome::TraitCreated {
            name: "orders".into(),
            replaced: false
        }
    );
    assert_eq!(
        live_rows(
            &db,
            &mut session,
            "SELECT orders FROM profiles WHERE orders IS NOT NULL ORDER BY orders"
        ),
        vec![vec![Value::Int64(2)]]
    );
    let taken = db
        .execute(&mut session, "CREATE TRAIT plan AS count(*) FROM events")
        .expect_err("plan holds profile data");
    assert!(taken.to_string().contains("exists"), "{taken}");
    drop(session);
    db.close().expect("close");
}

#[test]
fn computed_traits_are_defined_in_sql_and_queried_at_once() {
    let dir = ScratchDir::new("traits");
    let db = open_live_profiles(&dir);
    let orders = |id: &str, user: &str, revenue: f64, day: u32, category: &str| {
        format!(
            r#"{{"type":"track","userId":"{user}","event":"Order Completed","properties":{{"revenue":{revenue},"category":"{category}"}},"messageId":"{id}","timestamp":"2026-05-{day:02}T10:00:00Z"}}"#
        )
    };
    db.profiles()
        .expect("opened on profiles")
        .ingest_lines(&[
            orders("m1", "ann", 10.0, 1, "shoes"),
            orders("m2", "ann", 30.0, 20, "hats"),
            orders("m3", "ann", 5.0, 21, "hats"),
            orders("m4", "bob", 7.0, 2, "shoes"),
            r#"{"type":"page","userId":"bob","name":"Home","messageId":"m5","timestamp":"2026-05-22T10:00:00Z"}"#.to_owned(),
        ])
        .expect("ingest");
    let mut session = db.session();
    let run = |session: &mut Session, sql: &str| db.execute(session, sql).expect(sql);
    assert_eq!(
        run(
            &mut session,
            "CREATE SEGMENT spenders AS SELECT profile_id FROM profiles WHERE profile_id >= 0"
        ),
        StatementOutcome::SegmentCreated {
            name: "spenders".into(),
            replaced: false
        }
    );
    assert_eq!(
        run(
            &mut session,
            "CREATE TRAIT spent AS sum(revenue) FROM events WHERE event = 'Order Completed'"
        ),
        StatementOutcome::TraitCreated {
            name: "spent".into(),
            replaced: false
        }
    );
    run(
        &mut session,
        "CREATE TRAIT favourite AS mode(category) FROM events",
    );
    run(
        &mut session,
        "CREATE TRAIT orders AS count(*) FROM events WHERE revenue >= 6",
    );
    assert_eq!(
        live_rows(
            &db,
            &mut session,
            "SELECT spent, favourite, orders FROM profiles ORDER BY spent"
        ),
        vec![
            vec![
                Value::Float64(7.0),
                Value::String("shoes".into()),
                Value::Int64(1)
            ],
            vec![
                Value::Float64(45.0),
                Value::String("hats".into()),
                Value::Int64(2)
            ],
        ]
    );
    // A segment over the new column sees it, and keeps it current when the trait changes.
    run(
        &mut session,
        "CREATE OR REPLACE SEGMENT spenders AS SELECT profile_id FROM profiles WHERE spent > 20",
    );
    assert_eq!(db.members("spenders").map(|m| m.len()), Some(1));
    assert_eq!(
        run(
            &mut session,
            "CREATE OR REPLACE TRAIT spent AS sum(revenue) FROM events WHERE revenue < 20"
        ),
        StatementOutcome::TraitCreated {
            name: "spent".into(),
            replaced: true
        }
    );
    assert_eq!(db.members("spenders").map(|m| m.len()), Some(0));
    let retyped = db
        .execute(
            &mut session,
            "CREATE OR REPLACE TRAIT spent AS count(*) FROM events",
        )
        .expect_err("a count does not fit the float64 column");
    assert!(retyped.to_string().contains("float64"), "{retyped}");
    let shown = live_rows(&db, &mut session, "SHOW TRAITS");
    assert_eq!(shown.len(), 3);
    assert_eq!(
        shown[0],
        vec![
            Value::String("spent".into()),
            Value::String(
                "CREATE TRAIT spent AS sum(revenue) FROM events WHERE revenue < 20".into()
            ),
            Value::String("float64".into()),
        ]
    );
    assert!(db
        .execute(&mut session, "CREATE TRAIT orders AS count(*) FROM events")
        .is_err());
    assert_eq!(
        run(&mut session, "DROP TRAIT orders"),
        StatementOutcome::TraitDropped {
            name: "orders".into(),
            existed: true
        }
    );
    assert_eq!(
        run(&mut session, "DROP TRAIT IF EXISTS orders"),
        StatementOutcome::TraitDropped {
            name: "orders".into(),
            existed: false
        }
    );
    assert!(db.execute(&mut session, "DROP TRAIT orders").is_err());
    assert_eq!(live_rows(&db, &mut session, "SHOW TRAITS").len(), 2);
    assert_eq!(
        live_rows(
            &db,
            &mut session,
            "SELECT COUNT(*) FROM profiles WHERE orders IS NOT NULL"
        ),
        vec![vec![Value::Int64(0)]]
    );
    drop(session);
    db.close().expect("close");

    // Plain databases refuse trait statements with a clear error.
    let plain =
        profiledb_query::LiveDatabase::open(dir.path(), scratch::unsynced()).expect("reopen");
    let error = plain
        .execute(&mut plain.session(), "SHOW TRAITS")
        .expect_err("plain database");
    assert!(error.to_string().contains("SHOW TRAITS"), "{error}");
    plain.close().expect("close");
}

/// Members of `segment` as profile ids, and what its defining query returns now.
fn members_and_query(
    db: &profiledb_query::LiveDatabase,
    session: &mut Session,
    segment: &str,
    sql: &str,
) -> (Vec<u32>, Vec<u32>) {
    let members = db.members(segment).expect("segment").iter().collect();
    let queried = live_rows(db, session, sql)
        .into_iter()
        .map(|row| match row[0] {
            Value::Int64(id) => u32::try_from(id).expect("profile id"),
            ref other => panic!("profile id {other:?}"),
        })
        .collect();
    (members, queried)
}

#[test]
fn ingested_messages_keep_segments_current() {
    let dir = ScratchDir::new("live-ingest");
    let db = open_live_profiles(&dir);
    // Columns get their types from data, so a first customer comes before the definitions.
    db.ingest_lines(&[
        r#"{"type":"identify","userId":"bob","traits":{"plan":"free"},"messageId":"m0","timestamp":"2026-04-01T10:00:00Z"}"#,
        r#"{"type":"track","userId":"bob","event":"Order Completed","properties":{"revenue":5},"messageId":"m00","timestamp":"2026-04-01T10:00:00Z"}"#,
    ])
    .expect("ingest");
    let mut session = db.session();
    for statement in [
        "CREATE TRAIT spent AS sum(revenue) FROM events WHERE event = 'Order Completed'",
        "CREATE SEGMENT big_spenders AS SELECT profile_id FROM profiles WHERE spent > 20",
        "CREATE SEGMENT pros AS SELECT profile_id FROM profiles WHERE plan = 'pro'",
    ] {
        db.execute(&mut session, statement).expect(statement);
    }
    let spenders = "SELECT profile_id FROM profiles WHERE spent > 20 ORDER BY profile_id";
    let pros = "SELECT profile_id FROM profiles WHERE plan = 'pro' ORDER BY profile_id";

    // An anonymous visitor orders; a signed-up customer on another device picks a plan.
    let (report, upkeep) = db
        .ingest_lines(&[
            r#"{"type":"track","anonymousId":"anon-1","event":"Order Completed","properties":{"revenue":25},"messageId":"m1","timestamp":"2026-05-01T10:00:00Z"}"#,
            r#"{"type":"identify","userId":"u1","traits":{"plan":"pro"},"messageId":"m2","timestamp":"2026-05-01T11:00:00Z"}"#,
        ])
        .expect("ingest");
    assert_eq!((report.accepted, report.touched.len()), (2, 2));
    assert_eq!((upkeep.entered, upkeep.exited), (2, 0));
    let (spending, queried) = members_and_query(&db, &mut session, "big_spenders", spenders);
    assert_eq!((spending.len(), &spending), (1, &queried));
    let (pro, queried) = members_and_query(&db, &mut session, "pros", pros);
    assert_eq!((pro.len(), &pro), (1, &queried));
    assert_ne!(spending, pro, "two profiles before the login");

    // Logging in on the first device merges the two: one profile is left, in both segments.
    let (report, upkeep) = db
        .ingest(&[profiledb_engine::message::parse_message_line(
            r#"{"type":"identify","userId":"u1","anonymousId":"anon-1","messageId":"m3","timestamp":"2026-05-02T10:00:00Z"}"#,
        )
        .expect("message")])
        .expect("ingest");
    assert_eq!(report.merges, 1);
    assert_eq!(
        report.touched.len(),
        2,
        "the survivor and the absorbed profile"
    );
    assert_eq!((upkeep.entered, upkeep.exited), (1, 1));
    let (spending, queried) = members_and_query(&db, &mut session, "big_spenders", spenders);
    assert_eq!((spending.len(), &spending), (1, &queried));
    let (pro, queried) = members_and_query(&db, &mut session, "pros", pros);
    assert_eq!((&pro, &pro), (&spending, &queried));
    db.close().expect("close");

    let plain_dir = ScratchDir::new("live-ingest-plain");
    let plain = profiledb_query::LiveDatabase::open(plain_dir.path(), scratch::unsynced())
        .expect("open plain");
    let refused = plain
        .ingest_lines(&[""])
        .expect_err("a plain database takes no messages");
    assert!(
        matches!(refused, profiledb_query::LiveError::NotProfiles),
        "{refused}"
    );
    plain.close().expect("close");
}
