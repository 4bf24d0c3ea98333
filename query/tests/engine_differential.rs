//! Differential test over the real engine: random conjunctions of equality, IN and range
//! conditions, answered by every access path (segment-wide value indexes, fused conjunctions,
//! float sketches, encoded-integer scans, counted `COUNT(*)`, memory layers), against a naive
//! row-by-row evaluation of the same data.

use std::collections::BTreeMap;

mod scratch;

use profiledb_engine::{Database, Value};
use profiledb_query::{execute, Session, SnapshotCatalog, StatementOutcome};
use scratch::ScratchDir;

/// More than two 65,536-row chunks, the last one partial.
const PROFILES: u32 = 140_000;
const COUNTRIES: [&str; 6] = ["DE", "AT", "CH", "FR", "US", "GB"];
const PLANS: [&str; 3] = ["free", "pro", "team"];

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// One profile's attributes (absent = NULL).
type Row = BTreeMap<String, Value>;
/// The model: every live profile's attributes.
type Model = BTreeMap<u32, Row>;
/// An operator as SQL text and as a test.
type Op<T> = (&'static str, fn(T, T) -> bool);

fn attributes(rng: &mut Rng) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let mut put = |name: &str, value: Value, rng: &mut Rng| {
        // About 1 in 20 values is left out (NULL).
        if rng.below(20) != 0 {
            out.push((name.to_owned(), value));
        }
    };
    let country = Value::String((*rng.pick(&COUNTRIES)).to_owned());
    put("country", country, rng);
    let plan = Value::String((*rng.pick(&PLANS)).to_owned());
    put("plan", plan, rng);
    let opt = Value::Bool(rng.below(3) != 0);
    put("opt", opt, rng);
    let age = Value::Int64(18 + rng.below(60) as i64);
    put("age", age, rng);
    let big = Value::Int64(rng.below(1 << 40) as i64 - (1 << 39));
    put("big", big, rng);
    // Many distinct floats (quantile sketches), a few with signs and zeros of both signs.
    let ltv = match rng.below(50) {
        0 => -0.0,
        1 => 0.0,
        2 => -(rng.below(1000) as f64) / 4.0,
        _ => rng.below(500_000) as f64 / 100.0,
    };
    put("ltv", Value::Float64(ltv), rng);
    // Few distinct floats (exact sketches).
    let score = Value::Float64(rng.below(40) as f64 / 2.0);
    put("score", score, rng);
    out
}

/// One random condition: its SQL and its meaning on a row.
struct Condition {
    sql: String,
    holds: Box<dyn Fn(&Row) -> bool>,
}

fn string_of<'a>(row: &'a Row, column: &str) -> Option<&'a str> {
    match row.get(column) {
        Some(Value::String(s)) => Some(s),
        _ => None,
    }
}

fn int_of(row: &Row, column: &str) -> Option<i64> {
    match row.get(column) {
        Some(Value::Int64(i)) => Some(*i),
        _ => None,
    }
}

fn float_of(row: &Row, column: &str) -> Option<f64> {
    match row.get(column) {
        Some(Value::Float64(f)) => Some(*f),
        _ => None,
    }
}

fn condition(rng: &mut Rng) -> Condition {
    match rng.below(13) {
        0 | 1 => {
            let c = *rng.pick(&COUNTRIES);
            Condition {
                sql: format!("country = '{c}'"),
                holds: Box::new(move |r| string_of(r, "country") == Some(c)),
            }
        }
        2 => {
            let items: Vec<&str> = (0..1 + rng.below(3))
                .map(|_| *rng.pick(&COUNTRIES))
                .collect();
            let list: Vec<String> = items.iter().map(|c| format!("'{c}'")).collect();
            Condition {
                sql: format!("country IN ({})", list.join(", ")),
                holds: Box::new(move |r| {
                    string_of(r, "country").is_some_and(|c| items.contains(&c))
                }),
            }
        }
        3 => {
            let p = *rng.pick(&PLANS);
            if rng.below(2) == 0 {
                Condition {
                    sql: format!("plan = '{p}'"),
                    holds: Box::new(move |r| string_of(r, "plan") == Some(p)),
                }
            } else {
                Condition {
                    sql: format!("plan <> '{p}'"),
                    holds: Box::new(move |r| string_of(r, "plan").is_some_and(|x| x != p)),
                }
            }
        }
        4 => {
            let b = rng.below(2) == 0;
            Condition {
                sql: format!("opt = {b}"),
                holds: Box::new(move |r| r.get("opt") == Some(&Value::Bool(b))),
            }
        }
        5 => {
            let (a, b) = (10 + rng.below(70) as i64, 10 + rng.below(70) as i64);
            Condition {
                sql: format!("age BETWEEN {a} AND {b}"),
                holds: Box::new(move |r| int_of(r, "age").is_some_and(|x| a <= x && x <= b)),
            }
        }
        6 => {
            let a = 10 + rng.below(70) as i64;
            let ops: [Op<i64>; 4] = [
                (">", |x, y| x > y),
                ("<=", |x, y| x <= y),
                ("=", |x, y| x == y),
                ("<>", |x, y| x != y),
            ];
            let (op, f) = *rng.pick(&ops);
            Condition {
                sql: format!("age {op} {a}"),
                holds: Box::new(move |r| int_of(r, "age").is_some_and(|x| f(x, a))),
            }
        }
        7 => {
            let items: Vec<i64> = (0..1 + rng.below(4))
                .map(|_| 18 + rng.below(60) as i64)
                .collect();
            let list: Vec<String> = items.iter().map(ToString::to_string).collect();
            Condition {
                sql: format!("age IN ({})", list.join(", ")),
                holds: Box::new(move |r| int_of(r, "age").is_some_and(|x| items.contains(&x))),
            }
        }
        8 => {
            let a = rng.below(1 << 40) as i64 - (1 << 39);
            Condition {
                sql: format!("big >= {a}"),
                holds: Box::new(move |r| int_of(r, "big").is_some_and(|x| x >= a)),
            }
        }
        9 | 10 => {
            let a = match rng.below(4) {
                0 => 0.0,
                1 => -(rng.below(1000) as f64) / 4.0,
                _ => rng.below(500_000) as f64 / 100.0,
            };
            let ops: [Op<f64>; 6] = [
                (">", |x, y| x > y),
                (">=", |x, y| x >= y),
                ("<", |x, y| x < y),
                ("<=", |x, y| x <= y),
                ("=", |x, y| x == y),
                ("<>", |x, y| x != y),
            ];
            let (op, f) = *rng.pick(&ops);
            Condition {
                sql: format!("ltv {op} {a:?}"),
                holds: Box::new(move |r| float_of(r, "ltv").is_some_and(|x| f(x, a))),
            }
        }
        11 => {
            let a = rng.below(500_000) as f64 / 100.0;
            let b = a + rng.below(200_000) as f64 / 100.0;
            Condition {
                sql: format!("ltv BETWEEN {a:?} AND {b:?}"),
                holds: Box::new(move |r| float_of(r, "ltv").is_some_and(|x| a <= x && x <= b)),
            }
        }
        _ => {
            let a = rng.below(40) as f64 / 2.0;
            if rng.below(2) == 0 {
                Condition {
                    sql: format!("score = {a:?}"),
                    holds: Box::new(move |r| float_of(r, "score") == Some(a)),
                }
            } else {
                Condition {
                    sql: format!("score > {a:?}"),
                    holds: Box::new(move |r| float_of(r, "score").is_some_and(|x| x > a)),
                }
            }
        }
    }
}

fn rows(catalog: &SnapshotCatalog<'_>, sql: &str) -> Vec<Vec<Value>> {
    match execute(catalog, &mut Session::new(), sql) {
        Ok(StatementOutcome::Rows(result)) => result.rows,
        other => panic!("`{sql}` gave {other:?}"),
    }
}

/// Runs `queries` random conjunctions; returns how many EXPLAIN ANALYZE showed a fused AND.
fn check(db: &Database, model: &Model, rng: &mut Rng, queries: usize, stage: &str) -> usize {
    let snapshot = db.snapshot();
    let catalog = SnapshotCatalog::new(&snapshot);
    let mut fused = 0;
    for _ in 0..queries {
        let conditions: Vec<Condition> = (0..1 + rng.below(4)).map(|_| condition(rng)).collect();
        let sql: Vec<&str> = conditions.iter().map(|c| c.sql.as_str()).collect();
        let where_clause = sql.join(" AND ");
        let expected: Vec<i64> = model
            .iter()
            .filter(|(_, row)| conditions.iter().all(|c| (c.holds)(row)))
            .map(|(id, _)| i64::from(*id))
            .collect();
        let count_sql = format!("SELECT COUNT(*) FROM profiles WHERE {where_clause}");
        assert_eq!(
            rows(&catalog, &count_sql),
            vec![vec![Value::Int64(expected.len() as i64)]],
            "{stage}: {count_sql}"
        );
        let list_sql =
            format!("SELECT profile_id FROM profiles WHERE {where_clause} ORDER BY profile_id");
        let got: Vec<i64> = rows(&catalog, &list_sql)
            .into_iter()
            .map(|r| match r.first() {
                Some(Value::Int64(i)) => *i,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(got.len(), expected.len(), "{stage}: {list_sql}");
        assert!(got == expected, "{stage}: {list_sql}");
        let explain = rows(&catalog, &format!("EXPLAIN ANALYZE {count_sql}"));
        if std::env::var("DEBUG_EXPLAIN").is_ok() {
            eprintln!("{explain:?}");
        }
        if format!("{explain:?}").contains("fused AND") {
            fused += 1;
        }
    }
    fused
}

#[test]
fn random_conjunctions_match_a_naive_evaluation_on_every_path() {
    // Split even this small table's chunks across threads in fused conjunctions.
    std::env::set_var("PROFILEDB_SCAN_CHUNKS_PER_THREAD", "1");
    let dir = ScratchDir::new("engine-differential");
    let db = Database::open(dir.path(), scratch::unsynced_manual_compaction()).expect("open");
    let mut rng = Rng(2026);
    let mut model = Model::new();
    let mut batch = profiledb_engine::WriteBatch::new();
    for id in 0..PROFILES {
        let attrs = attributes(&mut rng);
        model.insert(id, attrs.iter().cloned().collect());
        batch.upsert_profile(id, attrs);
        if batch.len() == 10_000 {
            db.write(&batch).expect("write");
            batch = profiledb_engine::WriteBatch::new();
        }
    }
    db.write(&batch).expect("write");
    check(&db, &model, &mut rng, 12, "memory only");
    db.flush().expect("flush");
    db.compact().expect("compact");
    let fused = check(&db, &model, &mut rng, 200, "one compacted segment");
    assert!(fused > 40, "the fused path ran only {fused} times");

    // Updates in memory: columns now live in two layers.
    for _ in 0..400 {
        let id = rng.below(u64::from(PROFILES)) as u32;
        let attrs = attributes(&mut rng);
        let row = model.entry(id).or_default();
        for (k, v) in &attrs {
            row.insert(k.clone(), v.clone());
        }
        db.upsert_profile(id, attrs).expect("update");
    }
    check(&db, &model, &mut rng, 60, "segment and memory");
    db.flush().expect("flush");
    check(&db, &model, &mut rng, 60, "two segments");
    for _ in 0..300 {
        let id = rng.below(u64::from(PROFILES)) as u32;
        if model.remove(&id).is_some() {
            db.delete_profile(id).expect("delete");
        }
    }
    check(&db, &model, &mut rng, 60, "deletes in memory");
    db.compact().expect("compact");
    check(&db, &model, &mut rng, 100, "compacted with gaps");
}
