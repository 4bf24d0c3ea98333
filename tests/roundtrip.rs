//! Every value a user writes reads back bit-exact at every stage of its life (memory head,
//! segment, reopened database, compacted segment), and column filters agree with a naive
//! evaluation of the same predicate over the same data at each of those stages.

use crate::util::{assert_same, s, Rng, TempDir};
use profiledb::engine::scan::{self, CompareOp, Predicate};
use profiledb::{ColumnType, Database, Error, Options, SyncMode, TableKind, Value, WriteBatch};
use roaring::RoaringBitmap;
use std::collections::BTreeMap;
use std::path::Path;

type Rows = BTreeMap<u32, BTreeMap<String, Value>>;

fn fast_options() -> Options {
    Options {
        sync_mode: SyncMode::Never,
        compaction_trigger_segments: 0,
        ..Options::default()
    }
}

fn reopen(db: Database, dir: &Path, options: &Options) -> Database {
    db.close().unwrap();
    Database::open(dir, options.clone()).unwrap()
}

/// Checks every expected cell through `get`, and every row through `row` (non-NULL cells only).
fn check_rows(db: &Database, table: TableKind, expected: &Rows, stage: &str) {
    let snap = db.snapshot();
    let live: RoaringBitmap = expected.keys().copied().collect();
    assert_eq!(snap.live_rows(table), &live, "{stage}: live rows");
    for (&row, cells) in expected {
        for (column, value) in cells {
            let got = snap.get(table, row, column).unwrap();
            assert_same(&got, value, &format!("{stage}: row {row} column {column}"));
        }
        let whole = snap.row(table, row).unwrap().expect("live row");
        let non_null: Vec<_> = cells.iter().filter(|(_, v)| !v.is_null()).collect();
        assert_eq!(whole.len(), non_null.len(), "{stage}: row {row}: {whole:?}");
        for (column, value) in whole {
            assert_same(
                &value,
                &cells[&column],
                &format!("{stage}: row() {row}.{column}"),
            );
        }
    }
}

fn long_string() -> String {
    "ab€🎉".repeat(30_000)
}

fn sample_values(column: &str) -> Vec<Value> {
    match column {
        "b" => vec![Value::Bool(true), Value::Bool(false)],
        "i" => [i64::MIN, i64::MAX, 0, -1, 1, 42, i64::MIN + 1]
            .map(Value::Int64)
            .to_vec(),
        "f" => [
            f64::NAN,
            f64::from_bits(0x7ff8_0000_0000_0abc),
            f64::INFINITY,
            f64::NEG_INFINITY,
            -0.0,
            0.0,
            1.5,
            f64::MIN_POSITIVE,
            f64::MAX,
            -f64::MAX,
        ]
        .map(Value::Float64)
        .to_vec(),
        "t" => [0, -1, 1_700_000_000_000_000, i64::MIN, i64::MAX]
            .map(Value::Timestamp)
            .to_vec(),
        "s" => vec![
            s(""),
            s("héllo wörld 🎉 日本語"),
            Value::String(long_string()),
            s("plain"),
            s("with\0nul and \n newline"),
        ],
        "l" => vec![
            Value::StringList(vec![]),
            Value::StringList(vec!["a".into(), "ß".into(), "日本".into()]),
            Value::StringList(vec![String::new()]),
            Value::StringList(vec!["dup".into(), "dup".into(), "z".into()]),
        ],
        _ => unreachable!(),
    }
}

const COLUMNS: [&str; 6] = ["b", "i", "f", "t", "s", "l"];

#[test]
fn every_type_round_trips_through_memory_segment_reopen_and_compaction() {
    let dir = TempDir::new("roundtrip-types");
    let options = fast_options();
    let mut db = Database::open(dir.path(), options.clone()).unwrap();
    let mut expected = Rows::new();
    let mut batch = WriteBatch::new();
    for row in 0..60u32 {
        let mut attributes = Vec::new();
        for (c, column) in COLUMNS.iter().enumerate() {
            let values = sample_values(column);
            // Some cells are explicit NULLs, some are never written (both read as NULL).
            let round = row as usize / values.len();
            let value = match (round + c) % 4 {
                3 => Value::Null,
                1 if row > 0 => continue,
                _ => values[row as usize % values.len()].clone(),
            };
            attributes.push(((*column).to_owned(), value));
        }
        let cells = expected.entry(row).or_default();
        for column in COLUMNS {
            cells.insert(column.to_owned(), Value::Null);
        }
        for (column, value) in &attributes {
            cells.insert(column.clone(), value.clone());
        }
        batch.upsert_profile(row, attributes);
    }
    db.write(&batch).unwrap();
    // Every sample value appears at least once.
    for column in COLUMNS {
        for value in sample_values(column) {
            assert!(
                expected
                    .values()
                    .any(|cells| crate::util::same_value(&cells[column], &value)),
                "sample {value:?} of {column} unused"
            );
        }
    }
    let mut schema_types: Vec<(String, ColumnType)> = db
        .snapshot()
        .schema(TableKind::Profiles)
        .columns()
        .iter()
        .map(|c| (c.name.clone(), c.column_type))
        .collect();
    schema_types.sort();
    assert_eq!(
        schema_types,
        vec![
            ("b".to_owned(), ColumnType::Bool),
            ("f".to_owned(), ColumnType::Float64),
            ("i".to_owned(), ColumnType::Int64),
            ("l".to_owned(), ColumnType::StringList),
            ("s".to_owned(), ColumnType::String),
            ("t".to_owned(), ColumnType::Timestamp),
        ]
    );
    check_rows(&db, TableKind::Profiles, &expected, "memory");

    db.flush().unwrap();
    assert_eq!(db.snapshot().segments().len(), 1, "flush wrote a segment");
    check_rows(&db, TableKind::Profiles, &expected, "segment");

    db = reopen(db, dir.path(), &options);
    check_rows(&db, TableKind::Profiles, &expected, "reopened");

    // Schema evolution: a column added later reads NULL for older rows; updates override.
    let mut batch = WriteBatch::new();
    for row in (0..60u32).step_by(4) {
        batch.upsert_profile(
            row,
            vec![
                ("later".into(), Value::Int64(i64::from(row) * -1000)),
                ("s".into(), s(&format!("updated-{row}"))),
            ],
        );
        let cells = expected.get_mut(&row).unwrap();
        cells.insert("later".into(), Value::Int64(i64::from(row) * -1000));
        cells.insert("s".into(), s(&format!("updated-{row}")));
    }
    for row in 60..70u32 {
        batch.upsert_profile(row, vec![("later".into(), Value::Int64(7))]);
        let cells = expected.entry(row).or_default();
        for column in COLUMNS {
            cells.insert(column.to_owned(), Value::Null);
        }
        cells.insert("later".into(), Value::Int64(7));
    }
    db.write(&batch).unwrap();
    for cells in expected.values_mut() {
        cells.entry("later".into()).or_insert(Value::Null);
    }
    check_rows(
        &db,
        TableKind::Profiles,
        &expected,
        "evolved, memory over segment",
    );
    db.flush().unwrap();
    assert_eq!(db.snapshot().segments().len(), 2);
    check_rows(&db, TableKind::Profiles, &expected, "two segments");

    db.compact().unwrap();
    let snap = db.snapshot();
    assert_eq!(snap.segments().len(), 1, "compaction leaves one segment");
    drop(snap);
    check_rows(&db, TableKind::Profiles, &expected, "compacted");
    db = reopen(db, dir.path(), &options);
    check_rows(&db, TableKind::Profiles, &expected, "compacted, reopened");
    db.close().unwrap();
}

#[test]
fn events_of_every_type_round_trip() {
    let dir = TempDir::new("roundtrip-events");
    let options = fast_options();
    let mut db = Database::open(dir.path(), options.clone()).unwrap();
    let mut expected = Rows::new();
    for n in 0..30u32 {
        let mut attributes = Vec::new();
        for (c, column) in COLUMNS.iter().enumerate() {
            let values = sample_values(column);
            attributes.push((
                (*column).to_owned(),
                values[(n as usize + c) % values.len()].clone(),
            ));
        }
        let id = db.append_event(n % 4, attributes.clone()).unwrap();
        let mut cells: BTreeMap<String, Value> = attributes.into_iter().collect();
        cells.insert("profile_id".into(), Value::Int64(i64::from(n % 4)));
        assert!(expected.insert(id, cells).is_none(), "event id {id} reused");
    }
    check_rows(&db, TableKind::Events, &expected, "events in memory");
    db.flush().unwrap();
    check_rows(&db, TableKind::Events, &expected, "events in a segment");
    db = reopen(db, dir.path(), &options);
    check_rows(&db, TableKind::Events, &expected, "events reopened");
    db.compact().unwrap();
    check_rows(&db, TableKind::Events, &expected, "events compacted");
    db.close().unwrap();
}

#[test]
fn coercion_rule_and_whole_batch_rejection() {
    let dir = TempDir::new("roundtrip-coercion");
    let db = Database::open(dir.path(), fast_options()).unwrap();
    db.upsert_profile(
        1,
        vec![
            ("ltv".into(), Value::Float64(1.25)),
            ("age".into(), Value::Int64(30)),
            ("tags".into(), Value::StringList(vec!["a".into()])),
        ],
    )
    .unwrap();
    // Lossless conversions are accepted.
    db.upsert_profile(
        2,
        vec![
            ("ltv".into(), Value::Int64(3)),
            ("age".into(), Value::Float64(41.0)),
            ("tags".into(), s("vip")),
        ],
    )
    .unwrap();
    let snap = db.snapshot();
    assert_same(
        &snap.get(TableKind::Profiles, 2, "ltv").unwrap(),
        &Value::Float64(3.0),
        "int into float",
    );
    assert_eq!(
        snap.get(TableKind::Profiles, 2, "age").unwrap(),
        Value::Int64(41)
    );
    assert_eq!(
        snap.get(TableKind::Profiles, 2, "tags").unwrap(),
        Value::StringList(vec!["vip".into()])
    );

    // A lossy value fails with TypeMismatch naming column, expected and found types, and the
    // whole batch is rejected: earlier writes in it, new columns and events are not visible.
    let before_lsn = snap.last_lsn();
    let mut batch = WriteBatch::new();
    batch.upsert_profile(1, vec![("ltv".into(), Value::Float64(99.0))]);
    batch.upsert_profile(50, vec![("brand_new".into(), s("x"))]);
    batch.append_event(1, vec![("kind".into(), s("click"))]);
    batch.upsert_profile(3, vec![("age".into(), Value::Float64(2.5))]);
    match db.write(&batch) {
        Err(Error::TypeMismatch(mismatch)) => {
            assert_eq!(mismatch.column, "age");
            assert_eq!(mismatch.expected, ColumnType::Int64);
            assert_eq!(mismatch.found, ColumnType::Float64);
            let message = mismatch.to_string();
            assert!(
                message.contains("age") && message.contains("int64") && message.contains("float64"),
                "{message}"
            );
        }
        other => panic!("expected a type mismatch, got {other:?}"),
    }
    for (value, column) in [
        (Value::Int64(1 << 60), "ltv"),
        (Value::Float64(f64::NAN), "age"),
        (Value::Bool(true), "age"),
        (Value::Int64(5), "tags"),
    ] {
        assert!(
            matches!(
                db.upsert_profile(4, vec![(column.into(), value)]),
                Err(Error::TypeMismatch(_))
            ),
            "{column}"
        );
    }
    let check = |stage: &str| {
        let snap = db.snapshot();
        assert_eq!(snap.row_count(TableKind::Profiles), 2, "{stage}");
        assert_eq!(snap.row_count(TableKind::Events), 0, "{stage}");
        assert!(
            snap.schema(TableKind::Profiles)
                .column("brand_new")
                .is_none(),
            "{stage}"
        );
        assert!(
            snap.schema(TableKind::Events).column("kind").is_none(),
            "{stage}"
        );
        assert_same(
            &snap.get(TableKind::Profiles, 1, "ltv").unwrap(),
            &Value::Float64(1.25),
            stage,
        );
        assert_eq!(snap.row(TableKind::Profiles, 50).unwrap(), None, "{stage}");
        assert_eq!(snap.row(TableKind::Profiles, 4).unwrap(), None, "{stage}");
    };
    check("after rejected batch");
    assert_eq!(
        db.snapshot().last_lsn(),
        before_lsn,
        "a rejected batch is not logged"
    );
    let dir_path = dir.path().to_path_buf();
    db.close().unwrap();
    let db = Database::open(&dir_path, fast_options()).unwrap();
    let snap = db.snapshot();
    assert_eq!(snap.row_count(TableKind::Profiles), 2);
    assert!(snap
        .schema(TableKind::Profiles)
        .column("brand_new")
        .is_none());
    assert_same(
        &snap.get(TableKind::Profiles, 1, "ltv").unwrap(),
        &Value::Float64(1.25),
        "reopened",
    );
}

/// Values of a column generated for the large and filter tests.
fn large_value(column: &str, row: u32, version: u64, rng: &mut Rng) -> Value {
    if rng.chance(4) {
        return Value::Null;
    }
    let r = u64::from(row) + version * 7919;
    match column {
        "small" => Value::Int64((r % 300) as i64),
        "wide" => Value::Int64(match rng.below(20) {
            0 => i64::MIN,
            1 => i64::MAX,
            _ => rng.next_u64() as i64,
        }),
        "ts" => {
            Value::Timestamp(1_700_000_000_000_000 + (r as i64) * 1_000 - (rng.below(5000) as i64))
        }
        "f" => Value::Float64(match rng.below(40) {
            0 => f64::NAN,
            1 => -0.0,
            2 => 0.0,
            3 => f64::INFINITY,
            4 => f64::NEG_INFINITY,
            _ => (rng.below(2_000_000) as f64) / 1000.0 - 1000.0,
        }),
        "s" => {
            let k = rng.below(1200);
            if k.is_multiple_of(5) {
                s(&format!("Zürich-{k:04}"))
            } else {
                s(&format!("user-{k:04}"))
            }
        }
        "plan" => s(["free", "pro", "team", "", "enterprise", "prö"][rng.below(6) as usize]),
        "tags" => {
            let pool = ["vip", "churn-risk", "日本", "", "beta"];
            let n = rng.below(4) as usize;
            Value::StringList(
                (0..n)
                    .map(|_| pool[rng.below(5) as usize].to_owned())
                    .collect(),
            )
        }
        "b" => Value::Bool(rng.chance(30)),
        _ => unreachable!(),
    }
}

const FILTER_COLUMNS: [&str; 8] = ["small", "wide", "ts", "f", "s", "plan", "tags", "b"];
const LARGE_ROWS: u32 = 70_000;

fn naive_like(pattern: &[char], text: &[char]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some(('%', rest)) => (0..=text.len()).any(|i| naive_like(rest, &text[i..])),
        Some(('_', rest)) => !text.is_empty() && naive_like(rest, &text[1..]),
        Some((c, rest)) => text.first() == Some(c) && naive_like(rest, &text[1..]),
    }
}

fn naive_compare<T: PartialOrd>(op: CompareOp, a: T, b: T) -> bool {
    match op {
        CompareOp::Eq => a == b,
        CompareOp::NotEq => a != b,
        CompareOp::Less => a < b,
        CompareOp::LessOrEqual => a <= b,
        CompareOp::Greater => a > b,
        CompareOp::GreaterOrEqual => a >= b,
    }
}

/// The predicate evaluated by hand, written independently of the engine's matcher.
fn naive_matches(predicate: &Predicate, value: &Value) -> bool {
    let num = |v: &Value| match v {
        Value::Int64(i) | Value::Timestamp(i) => Some(*i as f64),
        Value::Float64(f) => Some(*f),
        _ => None,
    };
    match (predicate, value) {
        (_, Value::Null) => false,
        (
            Predicate::Compare(op, Value::Int64(c) | Value::Timestamp(c)),
            Value::Int64(v) | Value::Timestamp(v),
        ) => naive_compare(*op, v, c),
        (Predicate::Compare(op, c), Value::Float64(v)) => naive_compare(*op, *v, num(c).unwrap()),
        (Predicate::Compare(op, Value::String(c)), Value::String(v)) => {
            naive_compare(*op, v.as_str(), c.as_str())
        }
        (Predicate::Compare(op, Value::Bool(c)), Value::Bool(v)) => naive_compare(*op, v, c),
        (
            Predicate::Between(
                Value::Int64(lo) | Value::Timestamp(lo),
                Value::Int64(hi) | Value::Timestamp(hi),
            ),
            Value::Int64(v) | Value::Timestamp(v),
        ) => lo <= v && v <= hi,
        (Predicate::Between(lo, hi), Value::Float64(v)) => {
            num(lo).unwrap() <= *v && *v <= num(hi).unwrap()
        }
        (Predicate::Between(Value::String(lo), Value::String(hi)), Value::String(v)) => {
            lo <= v && v <= hi
        }
        (Predicate::InList(items), v) => items.iter().any(|item| match (item, v) {
            (Value::Float64(a), Value::Float64(b)) => a == b,
            _ => item == v,
        }),
        (
            Predicate::Like {
                pattern,
                case_insensitive,
            },
            Value::String(v),
        ) => {
            let (p, t) = if *case_insensitive {
                (pattern.to_lowercase(), v.to_lowercase())
            } else {
                (pattern.clone(), v.clone())
            };
            naive_like(
                &p.chars().collect::<Vec<_>>(),
                &t.chars().collect::<Vec<_>>(),
            )
        }
        (Predicate::ListContains(Value::String(wanted)), Value::StringList(items)) => {
            items.contains(wanted)
        }
        other => panic!("naive evaluation does not cover {other:?}"),
    }
}

fn predicates() -> Vec<(&'static str, Predicate)> {
    use CompareOp::*;
    let mut out = Vec::new();
    for op in [Eq, NotEq, Less, LessOrEqual, Greater, GreaterOrEqual] {
        out.push(("small", Predicate::Compare(op, Value::Int64(150))));
        out.push(("f", Predicate::Compare(op, Value::Float64(0.0))));
        out.push(("s", Predicate::Compare(op, s("user-0500"))));
    }
    out.extend([
        ("small", Predicate::Compare(Eq, Value::Int64(-5))),
        ("small", Predicate::Compare(Greater, Value::Int64(299))),
        (
            "small",
            Predicate::Between(Value::Int64(100), Value::Int64(120)),
        ),
        (
            "small",
            Predicate::Between(Value::Int64(120), Value::Int64(100)),
        ),
        (
            "small",
            Predicate::InList(vec![
                Value::Int64(1),
                Value::Int64(5),
                Value::Int64(299),
                Value::Int64(1000),
                Value::Null,
            ]),
        ),
        ("wide", Predicate::Compare(Less, Value::Int64(0))),
        (
            "wide",
            Predicate::Compare(GreaterOrEqual, Value::Int64(i64::MAX)),
        ),
        ("wide", Predicate::Compare(Eq, Value::Int64(i64::MIN))),
        (
            "wide",
            Predicate::Compare(LessOrEqual, Value::Int64(i64::MIN)),
        ),
        (
            "wide",
            Predicate::Between(Value::Int64(-(1 << 62)), Value::Int64(1 << 62)),
        ),
        (
            "ts",
            Predicate::Between(
                Value::Timestamp(1_700_000_010_000_000),
                Value::Timestamp(1_700_000_030_000_000),
            ),
        ),
        (
            "ts",
            Predicate::Compare(Greater, Value::Timestamp(1_700_000_065_000_000)),
        ),
        (
            "ts",
            Predicate::InList(vec![Value::Timestamp(1_700_000_000_000_000)]),
        ),
        ("f", Predicate::Compare(Greater, Value::Float64(500.5))),
        ("f", Predicate::Compare(Less, Value::Float64(f64::INFINITY))),
        (
            "f",
            Predicate::Compare(Eq, Value::Float64(f64::NEG_INFINITY)),
        ),
        ("f", Predicate::Compare(Less, Value::Int64(-999))),
        (
            "f",
            Predicate::Between(Value::Float64(-10.0), Value::Float64(10.0)),
        ),
        (
            "f",
            Predicate::InList(vec![
                Value::Float64(0.0),
                Value::Float64(f64::INFINITY),
                Value::Float64(1.5),
            ]),
        ),
        ("s", Predicate::Between(s("user-0100"), s("user-0199"))),
        (
            "s",
            Predicate::InList(vec![
                s("user-0001"),
                s("Zürich-0005"),
                s("nobody"),
                s("user-1199"),
            ]),
        ),
        (
            "s",
            Predicate::Like {
                pattern: "user-01%".into(),
                case_insensitive: false,
            },
        ),
        (
            "s",
            Predicate::Like {
                pattern: "%7".into(),
                case_insensitive: false,
            },
        ),
        (
            "s",
            Predicate::Like {
                pattern: "Z_rich%5".into(),
                case_insensitive: false,
            },
        ),
        (
            "s",
            Predicate::Like {
                pattern: "zÜRICH-00%".into(),
                case_insensitive: true,
            },
        ),
        ("s", Predicate::Compare(Eq, s("nobody"))),
        ("plan", Predicate::Compare(Eq, s("pro"))),
        ("plan", Predicate::Compare(NotEq, s("pro"))),
        ("plan", Predicate::Compare(Eq, s(""))),
        ("plan", Predicate::Compare(Less, s("pro"))),
        ("plan", Predicate::InList(vec![s("team"), s("prö"), s("")])),
        (
            "plan",
            Predicate::Like {
                pattern: "%r%".into(),
                case_insensitive: false,
            },
        ),
        (
            "plan",
            Predicate::Like {
                pattern: "PR_".into(),
                case_insensitive: true,
            },
        ),
        ("plan", Predicate::Between(s("a"), s("q"))),
        ("tags", Predicate::ListContains(s("vip"))),
        ("tags", Predicate::ListContains(s("日本"))),
        ("tags", Predicate::ListContains(s(""))),
        ("tags", Predicate::ListContains(s("absent"))),
        ("b", Predicate::Compare(Eq, Value::Bool(true))),
        ("b", Predicate::Compare(NotEq, Value::Bool(true))),
        ("b", Predicate::InList(vec![Value::Bool(false)])),
    ]);
    out
}

/// Compares every predicate's `scan::filter` result, and `null_rows`, with the naive answer.
fn check_filters(db: &Database, expected: &Rows, stage: &str) {
    let snap = db.snapshot();
    let live = snap.live_rows(TableKind::Profiles).clone();
    let expected_live: RoaringBitmap = expected.keys().copied().collect();
    assert_eq!(live, expected_live, "{stage}: live rows");
    let mut columns: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    for column in FILTER_COLUMNS {
        let values = snap.fetch(TableKind::Profiles, column, &live).unwrap();
        // The fetched values are the written ones.
        for (row, value) in live.iter().zip(&values) {
            let want = expected[&row].get(column).unwrap_or(&Value::Null);
            assert_same(value, want, &format!("{stage}: fetch row {row} {column}"));
        }
        let naive_nulls: RoaringBitmap = live
            .iter()
            .zip(&values)
            .filter(|(_, v)| v.is_null())
            .map(|(r, _)| r)
            .collect();
        assert_eq!(
            scan::null_rows(&snap, TableKind::Profiles, column).unwrap(),
            naive_nulls,
            "{stage}: null_rows({column})"
        );
        columns.insert(column, values);
    }
    for (column, predicate) in predicates() {
        let (found, _) = scan::filter(&snap, TableKind::Profiles, column, &predicate).unwrap();
        let naive: RoaringBitmap = live
            .iter()
            .zip(&columns[column])
            .filter(|(_, v)| naive_matches(&predicate, v))
            .map(|(r, _)| r)
            .collect();
        assert!(
            found == naive,
            "{stage}: filter {column} {predicate:?}: engine found {} rows, naive {} (only engine: {:?}, only naive: {:?})",
            found.len(),
            naive.len(),
            (&found - &naive).iter().take(5).collect::<Vec<_>>(),
            (&naive - &found).iter().take(5).collect::<Vec<_>>(),
        );
    }
}

fn write_rows(
    db: &Database,
    expected: &mut Rows,
    rows: &[u32],
    columns: &[&str],
    version: u64,
    rng: &mut Rng,
) {
    for chunk in rows.chunks(5000) {
        let mut batch = WriteBatch::new();
        for &row in chunk {
            let attributes: Vec<(String, Value)> = columns
                .iter()
                .map(|c| ((*c).to_owned(), large_value(c, row, version, rng)))
                .collect();
            let cells = expected.entry(row).or_default();
            for (c, v) in &attributes {
                cells.insert(c.clone(), v.clone());
            }
            batch.upsert_profile(row, attributes);
        }
        db.write(&batch).unwrap();
    }
}

#[test]
fn filters_agree_with_naive_evaluation_across_layers() {
    let dir = TempDir::new("roundtrip-filters");
    let options = fast_options();
    let mut db = Database::open(dir.path(), options.clone()).unwrap();
    let mut rng = Rng::new(7);
    let mut expected = Rows::new();
    let all: Vec<u32> = (0..LARGE_ROWS).collect();
    write_rows(&db, &mut expected, &all, &FILTER_COLUMNS, 0, &mut rng);
    check_filters(&db, &expected, "memory");
    db.flush().unwrap();
    {
        let snap = db.snapshot();
        let segment = &snap.segments()[0];
        assert_eq!(
            segment.column("s").unwrap().chunks.len(),
            2,
            "> 65,536 rows: two chunks"
        );
    }
    check_filters(&db, &expected, "one segment");

    // Overlapping segments: each round rewrites random columns of random rows, and deletes some.
    for round in 1..=3u64 {
        let rows: Vec<u32> = (0..LARGE_ROWS)
            .filter(|r| expected.contains_key(r) && rng.chance(15))
            .collect();
        let columns: Vec<&str> = FILTER_COLUMNS
            .iter()
            .copied()
            .filter(|_| rng.chance(60))
            .collect();
        write_rows(&db, &mut expected, &rows, &columns, round, &mut rng);
        // New rows beyond the old range, holding only some columns.
        let fresh: Vec<u32> = (LARGE_ROWS + (round as u32) * 1000
            ..LARGE_ROWS + (round as u32) * 1000 + 500)
            .collect();
        write_rows(&db, &mut expected, &fresh, &columns, round, &mut rng);
        let mut batch = WriteBatch::new();
        for _ in 0..200 {
            let victim = rng.below(u64::from(LARGE_ROWS)) as u32;
            if expected.remove(&victim).is_some() {
                batch.delete_profile(victim);
            }
        }
        db.write(&batch).unwrap();
        if round < 3 {
            db.flush().unwrap();
        }
    }
    assert!(db.snapshot().segments().len() >= 3);
    check_filters(&db, &expected, "overlapping segments + memory");
    db = reopen(db, dir.path(), &options);
    check_filters(&db, &expected, "overlapping segments, reopened");
    db.compact().unwrap();
    assert_eq!(db.snapshot().segments().len(), 1);
    check_filters(&db, &expected, "compacted");
    db.close().unwrap();
}

#[test]
fn large_columns_with_many_chunks_and_distinct_strings_round_trip() {
    let dir = TempDir::new("roundtrip-large");
    let options = fast_options();
    let mut db = Database::open(dir.path(), options.clone()).unwrap();
    let rows = 140_000u32;
    let mut expected = Rows::new();
    for start in (0..rows).step_by(10_000) {
        let mut batch = WriteBatch::new();
        for row in start..start + 10_000 {
            let cells: Vec<(String, Value)> = vec![
                ("n".into(), Value::Int64(i64::from(row) * 3 - 100_000)),
                ("name".into(), s(&format!("person-{:05}", row % 4000))),
                (
                    "x".into(),
                    if row % 11 == 0 {
                        Value::Null
                    } else {
                        Value::Float64(f64::from(row) / 7.0)
                    },
                ),
                (
                    "labels".into(),
                    Value::StringList(vec![format!("l{}", row % 700), "all".into()]),
                ),
            ];
            expected.insert(row, cells.iter().cloned().collect());
            batch.upsert_profile(row, cells);
        }
        db.write(&batch).unwrap();
    }
    let check = |db: &Database, expected: &Rows, stage: &str| {
        let snap = db.snapshot();
        let live = snap.live_rows(TableKind::Profiles).clone();
        assert_eq!(live.len(), u64::from(rows), "{stage}");
        // A few scattered rows of each chunk are read point by point, not decoded whole.
        let scattered: RoaringBitmap = live.iter().step_by(997).chain([rows - 1]).collect();
        for column in ["n", "name", "x", "labels"] {
            for wanted in [&live, &scattered] {
                let values = snap.fetch(TableKind::Profiles, column, wanted).unwrap();
                assert_eq!(values.len() as u64, wanted.len(), "{stage}");
                for (row, value) in wanted.iter().zip(values) {
                    assert_same(
                        &value,
                        &expected[&row][column],
                        &format!("{stage}: {row}.{column}"),
                    );
                }
            }
        }
    };
    check(&db, &expected, "memory");
    db.flush().unwrap();
    {
        let snap = db.snapshot();
        for column in snap.segments()[0].columns() {
            assert_eq!(
                column.chunks.len(),
                3,
                "column {} of 140,000 rows",
                column.name
            );
        }
    }
    check(&db, &expected, "segment");
    db = reopen(db, dir.path(), &options);
    check(&db, &expected, "reopened");
    db.upsert_profile(5, vec![("name".into(), s("changed"))])
        .unwrap();
    expected
        .get_mut(&5)
        .unwrap()
        .insert("name".into(), s("changed"));
    db.compact().unwrap();
    check(&db, &expected, "compacted");
    db.close().unwrap();
}
