//! Live segments over a real database: incremental upkeep equals re-running the definitions,
//! the change feed replays to the membership, everything survives reopening, windowed
//! conditions expire at the exact instant, and explanations show each condition.

use std::collections::BTreeMap;
use std::path::Path;

mod scratch;

use profiledb_query::temporal::parse_timestamp;
use profiledb_query::{LiveBatch, LiveDatabase, Session, SnapshotCatalog, StatementOutcome, Value};
use proptest::prelude::*;
use roaring::RoaringBitmap;
use scratch::ScratchDir;

const DAY: i64 = 86_400_000_000;

fn open(dir: &Path) -> LiveDatabase {
    LiveDatabase::open_pinned(dir, scratch::unsynced(), t0()).expect("open live database")
}

fn t0() -> i64 {
    parse_timestamp("2026-01-01 00:00:00").expect("valid timestamp")
}

fn s(text: &str) -> Value {
    Value::String(text.to_owned())
}

fn profile(country: &str, age: i64) -> Vec<(String, Value)> {
    vec![
        ("country".to_owned(), s(country)),
        ("age".to_owned(), Value::Int64(age)),
    ]
}

fn event(kind: &str, ts: i64) -> Vec<(String, Value)> {
    vec![
        ("type".to_owned(), s(kind)),
        ("ts".to_owned(), Value::Timestamp(ts)),
    ]
}

fn ids(bitmap: &RoaringBitmap) -> Vec<u32> {
    bitmap.iter().collect()
}

/// Membership of every segment computed from scratch: the definitions run by an in-memory
/// store over a fresh snapshot at the live clock.
fn from_scratch(db: &LiveDatabase) -> BTreeMap<String, RoaringBitmap> {
    let definitions = db.with_live(|l| l.definitions());
    let clock = db.with_live(|l| l.clock());
    let snapshot = db.database().snapshot();
    let catalog = SnapshotCatalog::new(&snapshot).with_now(clock);
    let mut session = Session::new();
    for d in &definitions {
        session
            .segments_mut()
            .put(d.clone())
            .expect("memory store accepts");
    }
    let mut out = BTreeMap::new();
    for d in definitions {
        let sql = format!("SELECT profile_id FROM {}", d.name);
        let outcome = profiledb_query::execute(&catalog, &mut session, &sql).expect("runs");
        let StatementOutcome::Rows(result) = outcome else {
            panic!("rows expected");
        };
        let members = result
            .rows
            .iter()
            .filter_map(|r| match r.first() {
                Some(Value::Int64(i)) => u32::try_from(*i).ok(),
                _ => None,
            })
            .collect();
        out.insert(d.name, members);
    }
    out
}

/// Membership rebuilt by replaying the whole change feed.
fn from_feed(db: &LiveDatabase) -> BTreeMap<String, RoaringBitmap> {
    let mut out: BTreeMap<String, RoaringBitmap> = BTreeMap::new();
    let mut cursor = 0;
    loop {
        let (changes, next) = db.changes_since(cursor, 7);
        if changes.is_empty() {
            break;
        }
        for change in changes {
            let set = out.entry(change.segment.clone()).or_default();
            if change.entered {
                assert!(set.insert(change.profile_id), "double entry {change:?}");
            } else {
                assert!(
                    set.remove(change.profile_id),
                    "exit without entry {change:?}"
                );
            }
        }
        cursor = next;
    }
    out.retain(|_, set| !set.is_empty());
    out
}

fn stored(db: &LiveDatabase) -> BTreeMap<String, RoaringBitmap> {
    db.with_live(|l| {
        l.definitions()
            .into_iter()
            .map(|d| {
                let members = l.members(&d.name).cloned().unwrap_or_default();
                (d.name, members)
            })
            .collect()
    })
}

fn check_consistent(db: &LiveDatabase) {
    let stored = stored(db);
    assert_eq!(stored, from_scratch(db), "stored membership vs re-running");
    let mut non_empty = stored.clone();
    non_empty.retain(|_, set| !set.is_empty());
    assert_eq!(non_empty, from_feed(db), "stored membership vs feed replay");
}

const SEGMENTS: [(&str, &str); 7] = [
    (
        "fr_adults",
        "SELECT profile_id FROM profiles WHERE country = 'FR' AND age >= 30",
    ),
    (
        "buyers",
        "SELECT profile_id FROM profiles WHERE profile_id IN (SELECT profile_id FROM events \
         WHERE type = 'order' AND ts >= now() - INTERVAL '30 days' GROUP BY profile_id \
         HAVING count(*) >= 2)",
    ),
    (
        "long_buyers",
        "SELECT profile_id FROM profiles WHERE profile_id IN (SELECT profile_id FROM events \
         WHERE type = 'order' AND ts >= now() - INTERVAL '400 days' GROUP BY profile_id \
         HAVING count(*) >= 2)",
    ),
    (
        "never_viewed",
        "SELECT profile_id FROM profiles WHERE NOT EXISTS (SELECT 1 FROM events e \
         WHERE e.profile_id = profiles.profile_id AND e.type = 'view') OR age IS NULL",
    ),
    (
        "fr_buyers",
        "SELECT profile_id FROM buyers WHERE country = 'FR'",
    ),
    (
        "event_recent",
        "SELECT profile_id FROM events WHERE ts BETWEEN now() - INTERVAL '7 days' AND now()",
    ),
    (
        "same_age_as_someone_fr",
        "SELECT profile_id FROM profiles WHERE age IN (SELECT age FROM profiles \
         WHERE country = 'FR')",
    ),
];

fn define_all(db: &LiveDatabase) {
    for (name, sql) in SEGMENTS {
        db.create_segment(name, sql, false).expect("define");
    }
}

#[derive(Debug, Clone)]
enum Action {
    Upsert {
        profile: u32,
        country: u8,
        age: Option<i64>,
    },
    Event {
        profile: u32,
        order: bool,
        days_ago: i64,
    },
    Delete {
        profile: u32,
    },
    Merge {
        survivor: u32,
        absorbed: u32,
    },
    Advance {
        hours: i64,
    },
    Reopen,
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        4 => (0u32..12, 0u8..3, proptest::option::of(18i64..60))
            .prop_map(|(profile, country, age)| Action::Upsert { profile, country, age }),
        5 => (0u32..12, any::<bool>(), -3i64..450)
            .prop_map(|(profile, order, days_ago)| Action::Event { profile, order, days_ago }),
        1 => (0u32..12).prop_map(|profile| Action::Delete { profile }),
        1 => (0u32..12, 0u32..12).prop_map(|(survivor, absorbed)| Action::Merge { survivor, absorbed }),
        3 => (1i64..24 * 60).prop_map(|hours| Action::Advance { hours }),
        1 => Just(Action::Reopen),
    ]
}

const COUNTRIES: [&str; 3] = ["FR", "US", "DE"];

fn apply(db: LiveDatabase, dir: &Path, action: &Action) -> LiveDatabase {
    let now = db.with_live(|l| l.clock());
    match action {
        Action::Upsert {
            profile,
            country,
            age,
        } => {
            let mut attributes = vec![(
                "country".to_owned(),
                s(COUNTRIES[usize::from(*country) % COUNTRIES.len()]),
            )];
            if let Some(age) = age {
                attributes.push(("age".to_owned(), Value::Int64(*age)));
            }
            // Writes to deleted profiles are refused by the engine: nothing changes.
            let _ = db.upsert_profile(*profile, attributes);
        }
        Action::Event {
            profile,
            order,
            days_ago,
        } => {
            let kind = if *order { "order" } else { "view" };
            let _ = db.append_event(*profile, event(kind, now - days_ago * DAY));
        }
        Action::Delete { profile } => {
            let _ = db.delete_profile(*profile);
        }
        Action::Merge { survivor, absorbed } => {
            let _ = db.merge_profiles(*survivor, *absorbed);
        }
        Action::Advance { hours } => {
            db.advance_clock(now + hours * 3_600_000_000)
                .expect("advance");
        }
        Action::Reopen => {
            db.close().expect("close");
            let reopened = open(dir);
            reopened.advance_clock(now).expect("resume clock");
            return reopened;
        }
    }
    db
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn incremental_membership_equals_recomputation(
        actions in proptest::collection::vec(action(), 1..40),
    ) {
        let dir = ScratchDir::new("prop");
        let mut db = open(dir.path());
        db.advance_clock(t0()).expect("clock");
        // Columns first, so definitions plan before any data exists.
        let mut batch = LiveBatch::new();
        batch.upsert_profile(100, profile("FR", 40));
        batch.append_event(100, event("order", t0()));
        db.write(&batch).expect("seed");
        define_all(&db);
        check_consistent(&db);
        for action in &actions {
            db = apply(db, dir.path(), action);
            check_consistent(&db);
        }
        db.close().expect("close");
    }
}

/// Profiles in one large write, past the size at which upkeep splits them across two threads.
const LARGE_WRITE_PROFILES: u32 = 9_000;

/// A write touching thousands of profiles is evaluated in two halves on two threads: the
/// halves must add up to what one evaluation finds, time edges included.
#[test]
fn large_writes_split_across_threads_keep_membership_exact() {
    let dir = ScratchDir::new("split");
    let db = open(dir.path());
    db.advance_clock(t0()).expect("clock");
    let mut seed = LiveBatch::new();
    seed.upsert_profile(0, profile("FR", 40));
    seed.append_event(0, event("order", t0()));
    db.write(&seed).expect("seed");
    define_all(&db);
    let country = |p: u32| COUNTRIES[usize::try_from(p).expect("small") % COUNTRIES.len()];
    let mut batch = LiveBatch::new();
    for p in 1..LARGE_WRITE_PROFILES {
        let n = i64::from(p);
        batch.upsert_profile(p, profile(country(p), 18 + n % 50));
        if p % 4 != 0 {
            batch.append_event(p, event("order", t0() - (n % 40) * DAY));
            batch.append_event(p, event("order", t0() - (n % 37) * DAY - DAY / 2));
        }
        if p % 5 == 0 {
            batch.append_event(p, event("view", t0() - (n % 9) * DAY));
        }
    }
    let (_, report) = db.write(&batch).expect("first large write");
    assert!(report.entered > 0);
    check_consistent(&db);
    // Half the profiles change country and age, some view; others are deleted.
    let mut batch = LiveBatch::new();
    for p in (1..LARGE_WRITE_PROFILES).step_by(2) {
        batch.upsert_profile(p, profile(country(p + 1), 60 - i64::from(p % 40)));
        if p % 3 == 0 {
            batch.append_event(p, event("view", t0()));
        }
    }
    for p in (8..LARGE_WRITE_PROFILES).step_by(202) {
        batch.delete_profile(p);
    }
    let (_, report) = db.write(&batch).expect("second large write");
    assert!(report.entered > 0 && report.exited > 0);
    check_consistent(&db);
    // Orders age out of the windows: the edges both halves scheduled fire on time.
    for days in [3, 20, 45] {
        let report = db.advance_clock(t0() + days * DAY).expect("advance");
        assert!(report.exited > 0, "orders aged out by day {days}");
        check_consistent(&db);
    }
    db.close().expect("close");
}

/// Three orders; the segment needs two within the window, so the profile leaves exactly when
/// its second-newest order ages out.
fn window_case(days: i64) {
    let dir = ScratchDir::new("window");
    let db = open(dir.path());
    db.advance_clock(t0()).expect("clock");
    db.upsert_profile(1, profile("FR", 30)).expect("upsert");
    db.upsert_profile(2, profile("US", 30)).expect("upsert");
    let sql = format!(
        "SELECT profile_id FROM profiles WHERE profile_id IN (SELECT profile_id FROM events \
         WHERE type = 'order' AND ts >= now() - INTERVAL '{days} days' GROUP BY profile_id \
         HAVING count(*) >= 2)"
    );
    let mut batch = LiveBatch::new();
    for ago in [days - 2, 5, 1] {
        batch.append_event(1, event("order", t0() - ago * DAY));
    }
    batch.append_event(1, event("view", t0() - DAY));
    batch.append_event(2, event("order", t0() - DAY));
    db.write(&batch).expect("events");
    db.create_segment("buyers", &sql, false).expect("define");
    assert_eq!(db.with_live(|l| l.is_incremental("buyers")), Some(true));
    assert_eq!(ids(&db.members("buyers").expect("exists")), vec![1]);
    let second_newest = t0() - 5 * DAY;
    let edge = second_newest + days * DAY;
    // Oldest order ages out first: still two left.
    db.advance_clock(t0() + 2 * DAY + 1).expect("advance");
    assert_eq!(ids(&db.members("buyers").expect("exists")), vec![1]);
    db.advance_clock(edge).expect("advance");
    assert_eq!(
        ids(&db.members("buyers").expect("exists")),
        vec![1],
        "still in at the edge"
    );
    let report = db.advance_clock(edge + DAY).expect("advance");
    assert_eq!(report.exited, 1);
    assert!(db.members("buyers").expect("exists").is_empty());
    let (changes, _) = db.changes_since(0, 100);
    let exit = changes.iter().find(|c| !c.entered).expect("an exit");
    assert_eq!(
        (exit.profile_id, exit.at_micros),
        (1, edge + 1),
        "left exactly at the edge"
    );
    // A new order brings the profile back, in real time.
    db.append_event(1, event("order", edge + DAY))
        .expect("event");
    assert_eq!(ids(&db.members("buyers").expect("exists")), vec![1]);
    check_consistent(&db);
}

#[test]
fn thirty_day_window_expires_at_the_exact_instant() {
    window_case(30);
}

#[test]
fn four_hundred_day_window_expires_at_the_exact_instant() {
    window_case(400);
}

#[test]
fn definitions_membership_and_feed_survive_reopen() {
    let dir = ScratchDir::new("reopen");
    let db = open(dir.path());
    db.advance_clock(t0()).expect("clock");
    db.upsert_profile(1, profile("FR", 40)).expect("upsert");
    db.upsert_profile(2, profile("FR", 20)).expect("upsert");
    db.append_event(1, event("order", t0())).expect("event");
    define_all(&db);
    db.upsert_profile(2, profile("FR", 41)).expect("upsert");
    let before = stored(&db);
    let (feed_before, cursor) = db.changes_since(0, 1000);
    db.close().expect("close");

    let db = open(dir.path());
    assert_eq!(stored(&db), before);
    assert_eq!(db.changes_since(0, 1000).0, feed_before);
    assert_eq!(db.with_live(|l| l.clock()), t0());
    assert_eq!(
        db.changes_since(cursor, 10).0,
        vec![],
        "nothing new after reopen"
    );
    // A write the live segments never saw (as after a crash) is reconciled on open.
    db.database()
        .upsert_profile(3, profile("FR", 50))
        .expect("direct write");
    drop(db);
    let db = open(dir.path());
    assert!(db.members("fr_adults").expect("exists").contains(3));
    let (changes, _) = db.changes_since(cursor, 10);
    assert!(changes.iter().any(|c| c.profile_id == 3 && c.entered));
    check_consistent(&db);
}

#[test]
fn sql_statements_use_the_live_store_and_explain_shows_values() {
    let dir = ScratchDir::new("sql");
    let db = open(dir.path());
    db.advance_clock(t0()).expect("clock");
    db.upsert_profile(1, profile("FR", 40)).expect("upsert");
    db.upsert_profile(2, profile("FR", 20)).expect("upsert");
    db.upsert_profile(3, vec![("country".to_owned(), s("US"))])
        .expect("upsert");
    db.append_event(1, event("order", t0() - DAY))
        .expect("event");
    db.append_event(1, event("order", t0() - 2 * DAY))
        .expect("event");
    let mut session = db.session();
    db.execute(
        &mut session,
        "CREATE SEGMENT vip AS SELECT profile_id FROM profiles WHERE country = 'FR' AND \
         (age >= 30 OR profile_id IN (SELECT profile_id FROM events WHERE type = 'order' \
         AND ts >= now() - INTERVAL '30 days' GROUP BY profile_id HAVING count(*) >= 2))",
    )
    .expect("create");
    assert_eq!(ids(&db.members("vip").expect("stored")), vec![1]);
    let StatementOutcome::Rows(rows) = db
        .execute(&mut session, "SELECT count(*) FROM vip")
        .expect("query")
    else {
        panic!("rows expected");
    };
    assert_eq!(rows.rows, vec![vec![Value::Int64(1)]]);
    db.upsert_profile(2, profile("FR", 35)).expect("upsert");
    let StatementOutcome::Rows(rows) = db.execute(&mut session, "SHOW SEGMENTS").expect("show")
    else {
        panic!("rows expected");
    };
    assert_eq!(rows.rows[0][2], Value::Int64(2));

    let explanation = db.explain_membership("vip", 1).expect("explain");
    assert!(explanation.member);
    let find = |text: &str| {
        explanation
            .conditions
            .iter()
            .find(|c| c.text.contains(text))
            .unwrap_or_else(|| panic!("no condition {text}: {explanation:#?}"))
            .clone()
    };
    let country = find("country = 'FR'");
    assert_eq!(country.held, Some(true));
    assert_eq!(country.value_seen.as_deref(), Some("country = 'FR'"));
    assert_eq!(find("age >= 30").value_seen.as_deref(), Some("age = 40"));
    let having = find("HAVING");
    assert_eq!(having.held, Some(true));
    assert_eq!(having.value_seen.as_deref(), Some("count(*) = 2"));
    let order = explanation
        .conditions
        .iter()
        .find(|c| c.text == "type = 'order'")
        .expect("subquery leaf");
    assert_eq!(
        (order.depth, order.value_seen.as_deref()),
        (4, Some("2 of 2 rows"))
    );

    let explanation = db.explain_membership("vip", 3).expect("explain");
    assert!(!explanation.member);
    let country = explanation
        .conditions
        .iter()
        .find(|c| c.text == "country = 'FR'")
        .expect("leaf");
    assert_eq!(country.held, Some(false));
    assert_eq!(country.value_seen.as_deref(), Some("country = 'US'"));
    let age = explanation
        .conditions
        .iter()
        .find(|c| c.text == "age >= 30")
        .expect("leaf");
    assert_eq!(age.held, None, "NULL age is UNKNOWN");
    assert_eq!(age.value_seen.as_deref(), Some("age = NULL"));

    db.execute(&mut session, "DROP SEGMENT vip").expect("drop");
    assert!(db.members("vip").is_none());
    assert!(from_feed(&db).is_empty(), "drop records every exit");
}

#[test]
fn segments_reading_segments_follow_and_cannot_be_dropped_first() {
    let dir = ScratchDir::new("deps");
    let db = open(dir.path());
    db.advance_clock(t0()).expect("clock");
    db.upsert_profile(1, profile("FR", 40)).expect("upsert");
    db.create_segment(
        "adults",
        "SELECT profile_id FROM profiles WHERE age >= 30",
        false,
    )
    .expect("define");
    db.create_segment(
        "fr_adults",
        "SELECT profile_id FROM adults WHERE country = 'FR'",
        false,
    )
    .expect("define");
    assert!(db.drop_segment("adults").is_err());
    assert!(
        db.create_segment("adults", "SELECT profile_id FROM fr_adults", true)
            .is_err(),
        "cycle refused"
    );
    db.upsert_profile(1, profile("FR", 20)).expect("upsert");
    assert!(db.members("fr_adults").expect("exists").is_empty());
    db.create_segment(
        "adults",
        "SELECT profile_id FROM profiles WHERE age >= 18",
        true,
    )
    .expect("replace");
    assert_eq!(ids(&db.members("fr_adults").expect("exists")), vec![1]);
    check_consistent(&db);
}
