//! Behavioural conditions answered from per-day pre-aggregates give exactly the answers of the
//! general plan and of a naive model: with events in memory layers, after flushes, after
//! compaction, after deletes and merges that move events between profiles, and for windows
//! that cut days anywhere.

mod scratch;

use profiledb_engine::{Database, Value};
use profiledb_query::format::sql_literal;
use profiledb_query::{execute, Session, SnapshotCatalog, StatementOutcome};
use scratch::ScratchDir;

const DAY: i64 = 86_400_000_000;
const HOUR: i64 = 3_600_000_000;
/// 2026-05-01T00:00:00Z.
const T0: i64 = 1_777_593_600_000_000;
/// A HAVING condition on the count, as the model checks it.
type Keep = fn(u64) -> bool;

const NAMES: [&str; 3] = ["Order Completed", "Page Viewed", "Signed In"];

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % n
    }
}

/// What the database should hold: live profiles and events (profile, name, time).
#[derive(Default)]
struct Model {
    profiles: Vec<u32>,
    events: Vec<(u32, usize, i64)>,
}

impl Model {
    fn keys(
        &self,
        name: usize,
        from: Option<i64>,
        until: Option<i64>,
        keep: impl Fn(u64) -> bool,
    ) -> Vec<i64> {
        let mut counts = std::collections::BTreeMap::<u32, u64>::new();
        for &(p, n, t) in &self.events {
            if n == name && from.is_none_or(|f| t >= f) && until.is_none_or(|u| t < u) {
                *counts.entry(p).or_default() += 1;
            }
        }
        counts
            .into_iter()
            .filter(|(p, c)| keep(*c) && self.profiles.contains(p))
            .map(|(p, _)| i64::from(p))
            .collect()
    }
}

struct Fixture {
    db: Database,
    model: Model,
    rng: Rng,
    /// Declared after `db`, so the database closes before its directory is removed.
    _dir: ScratchDir,
}

impl Fixture {
    fn new(tag: &str) -> Fixture {
        let dir = ScratchDir::new(&format!("pre-aggregate-{tag}"));
        let db = Database::open(dir.path(), scratch::unsynced_manual_compaction()).expect("open");
        let mut fixture = Fixture {
            db,
            model: Model::default(),
            rng: Rng(7),
            _dir: dir,
        };
        for p in 0..40u32 {
            fixture
                .db
                .upsert_profile(
                    p,
                    vec![("plan".to_owned(), Value::String("pro".to_owned()))],
                )
                .expect("profile");
            fixture.model.profiles.push(p);
        }
        fixture
    }

    /// `count` events over days `first_day..first_day + days` at random times.
    fn events(&mut self, count: usize, first_day: i64, days: i64) {
        let mut batch = profiledb_engine::WriteBatch::new();
        for _ in 0..count {
            let alive = &self.model.profiles;
            let p = alive[self.rng.below(alive.len() as u64) as usize];
            let name = self.rng.below(NAMES.len() as u64) as usize;
            let t = T0
                + (first_day + self.rng.below(days as u64) as i64) * DAY
                + self.rng.below(DAY as u64) as i64;
            batch.append_event(
                p,
                vec![
                    ("event".to_owned(), Value::String(NAMES[name].to_owned())),
                    ("timestamp".to_owned(), Value::Timestamp(t)),
                ],
            );
            self.model.events.push((p, name, t));
        }
        self.db.write(&batch).expect("events");
    }

    fn merge(&mut self, survivor: u32, absorbed: u32) {
        self.db.merge_profiles(survivor, absorbed).expect("merge");
        for e in &mut self.model.events {
            if e.0 == absorbed {
                e.0 = survivor;
            }
        }
        self.model.profiles.retain(|&p| p != absorbed);
    }

    fn delete(&mut self, profile: u32) {
        self.db.delete_profile(profile).expect("delete");
        self.model.events.retain(|e| e.0 != profile);
        self.model.profiles.retain(|&p| p != profile);
    }

    /// Compares the pre-aggregated answer with the general plan and the model over many
    /// windows, names and HAVING conditions; returns how many queries used the pre-aggregate.
    fn check(&mut self, stage: &str) -> usize {
        let snapshot = self.db.snapshot();
        let catalog = SnapshotCatalog::new(&snapshot);
        let mut used = 0;
        let mut windows: Vec<(Option<i64>, Option<i64>)> = vec![
            (None, None),
            (Some(T0), None),
            (Some(T0 + 3 * DAY), Some(T0 + 7 * DAY)),
            (
                Some(T0 + 3 * DAY + 5 * HOUR),
                Some(T0 + 7 * DAY + 17 * HOUR),
            ),
            (Some(T0 + 2 * DAY + HOUR), Some(T0 + 2 * DAY + 9 * HOUR)),
            (Some(T0 + 2 * DAY + HOUR), Some(T0 + 3 * DAY + 9 * HOUR)),
            (None, Some(T0 + 4 * DAY + 1)),
            (Some(T0 + 5 * DAY - 1), None),
            (Some(T0 + 9 * DAY), Some(T0 + 2 * DAY)),
        ];
        for _ in 0..6 {
            let a = T0 + self.rng.below(12 * DAY as u64) as i64 - DAY;
            let b = a + self.rng.below(6 * DAY as u64) as i64;
            windows.push((Some(a), Some(b)));
        }
        let havings: [(&str, Keep); 5] = [
            ("COUNT(*) >= 1", |c| c >= 1),
            ("COUNT(*) >= 2", |c| c >= 2),
            ("COUNT(*) > 2", |c| c > 2),
            ("COUNT(*) = 3", |c| c == 3),
            ("COUNT(*) BETWEEN 2 AND 4", |c| (2..=4).contains(&c)),
        ];
        for (from, until) in windows {
            let mut bounds = String::new();
            if let Some(f) = from {
                bounds.push_str(&format!(
                    " AND timestamp >= {}",
                    sql_literal(&Value::Timestamp(f))
                ));
            }
            if let Some(u) = until {
                bounds.push_str(&format!(
                    " AND timestamp < {}",
                    sql_literal(&Value::Timestamp(u))
                ));
            }
            if bounds.is_empty() {
                bounds.push_str(&format!(
                    " AND timestamp <= {}",
                    sql_literal(&Value::Timestamp(i64::MAX))
                ));
            }
            for (name_index, name) in NAMES.iter().enumerate() {
                for (having, keep) in havings {
                    let shaped = format!(
                        "SELECT profile_id FROM profiles WHERE profile_id IN (SELECT profile_id \
                         FROM events WHERE event = '{name}'{bounds} GROUP BY profile_id \
                         HAVING {having}) ORDER BY profile_id"
                    );
                    let general = shaped.replace("COUNT(*)", "COUNT(profile_id)");
                    let expected = self.model.keys(name_index, from, until, keep);
                    let got = ids(&catalog, &shaped);
                    assert_eq!(got, expected, "{stage}: {shaped}");
                    assert_eq!(ids(&catalog, &general), expected, "{stage}: {general}");
                    if explain(&catalog, &shaped).contains("per-day pre-aggregate") {
                        used += 1;
                    }
                }
                // Without GROUP BY (a decorrelated EXISTS): keys with at least one row.
                let exists = format!(
                    "SELECT profile_id FROM profiles p WHERE EXISTS (SELECT 1 FROM events e \
                     WHERE e.profile_id = p.profile_id AND event = '{name}'{bounds}) \
                     ORDER BY profile_id"
                );
                let expected = self.model.keys(name_index, from, until, |c| c >= 1);
                assert_eq!(ids(&catalog, &exists), expected, "{stage}: {exists}");
            }
        }
        used
    }
}

fn ids(catalog: &SnapshotCatalog<'_>, sql: &str) -> Vec<i64> {
    match execute(catalog, &mut Session::new(), sql) {
        Ok(StatementOutcome::Rows(result)) => result
            .rows
            .into_iter()
            .map(|row| match row.first() {
                Some(Value::Int64(i)) => *i,
                other => panic!("`{sql}` gave {other:?}"),
            })
            .collect(),
        other => panic!("`{sql}` gave {other:?}"),
    }
}

fn explain(catalog: &SnapshotCatalog<'_>, sql: &str) -> String {
    match execute(
        catalog,
        &mut Session::new(),
        &format!("EXPLAIN ANALYZE {sql}"),
    ) {
        Ok(StatementOutcome::Rows(result)) => result
            .rows
            .into_iter()
            .map(|row| format!("{row:?}\n"))
            .collect(),
        other => panic!("EXPLAIN `{sql}` gave {other:?}"),
    }
}

#[test]
fn pre_aggregate_matches_scan_through_the_lifecycle() {
    let mut f = Fixture::new("lifecycle");
    f.events(600, 0, 10);
    assert_eq!(
        f.check("memory only"),
        0,
        "no segment yet: nothing pre-aggregated"
    );
    f.db.flush().expect("flush");
    assert!(f.check("one segment") > 0, "segments are pre-aggregated");
    f.events(400, 3, 8);
    f.check("segment and memory");
    f.db.flush().expect("flush");
    f.events(300, -1, 12);
    f.db.flush().expect("flush");
    f.check("three segments");
    f.merge(3, 4);
    f.merge(5, 3);
    f.check("merges in memory");
    f.delete(6);
    f.check("delete in memory");
    f.db.flush().expect("flush");
    f.check("merges and delete flushed");
    f.db.compact().expect("compact");
    assert!(f.check("compacted") > 0);
    f.merge(7, 8);
    f.delete(9);
    f.events(200, 4, 3);
    f.check("after compaction, changes in memory");
    f.db.flush().expect("flush");
    f.check("after compaction, changes flushed");
    f.db.compact().expect("compact");
    f.check("compacted again");
}

#[test]
fn explain_shows_the_pre_aggregate() {
    let mut f = Fixture::new("explain");
    f.events(200, 0, 5);
    f.db.flush().expect("flush");
    let snapshot = f.db.snapshot();
    let catalog = SnapshotCatalog::new(&snapshot);
    let sql = "SELECT COUNT(*) FROM profiles WHERE profile_id IN (SELECT profile_id FROM events \
               WHERE event = 'Order Completed' AND timestamp >= TIMESTAMP '2026-05-02 06:00:00' \
               GROUP BY profile_id HAVING COUNT(*) >= 2)";
    let plain = match execute(&catalog, &mut Session::new(), &format!("EXPLAIN {sql}")) {
        Ok(StatementOutcome::Rows(result)) => format!("{:?}", result.rows),
        other => panic!("{other:?}"),
    };
    assert!(
        plain.contains("Counted keys: profile_id where event = 'Order Completed'"),
        "{plain}"
    );
    let analyzed = explain(&catalog, sql);
    assert!(analyzed.contains("per-day pre-aggregate"), "{analyzed}");
    assert!(analyzed.contains("scan: "), "{analyzed}");
}
