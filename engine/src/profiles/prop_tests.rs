//! Incremental computed traits equal a recomputation from the stored events, after random
//! event streams, merges, clock advances and reopens.

use super::state::column_values;
use super::test_support::{at, identify, open, track, TempDir};
use super::{recompute_from_scratch, Aggregate, ComputedTrait, Condition, Profiles, DAY_MICROS};
use crate::scan::CompareOp;
use crate::value::Value;
use proptest::prelude::*;
use serde_json::json;
use std::collections::HashMap;

#[derive(Debug, Clone)]
enum Op {
    Track {
        who: u8,
        event: u8,
        day: i64,
        amount: i64,
        cat: u8,
    },
    Link {
        user: u8,
        anon: u8,
        day: i64,
    },
    Advance(i64),
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..6u8, 0..3u8, 0..60i64, 0..100i64, 0..4u8).prop_map(|(who, event, day, amount, cat)| Op::Track { who, event, day, amount, cat }),
        2 => (0..3u8, 0..3u8, 0..60i64).prop_map(|(user, anon, day)| Op::Link { user, anon, day }),
        1 => (0..15i64).prop_map(Op::Advance),
        1 => Just(Op::Reopen),
    ]
}

fn eq(column: &str, value: Value) -> Condition {
    Condition {
        column: column.into(),
        op: CompareOp::Eq,
        value,
    }
}

fn definition(
    name: &str,
    aggregate: Aggregate,
    filter: Vec<Condition>,
    days: Option<i64>,
) -> ComputedTrait {
    ComputedTrait {
        name: name.into(),
        aggregate,
        event_filter: filter,
        window: days.map(|d| d * DAY_MICROS),
    }
}

pub(super) fn definitions() -> Vec<ComputedTrait> {
    let amount = || "amount".to_owned();
    let cat = || "cat".to_owned();
    let not_c = vec![Condition {
        column: "event".into(),
        op: CompareOp::NotEq,
        value: Value::String("C".into()),
    }];
    vec![
        definition(
            "count_a",
            Aggregate::Count,
            vec![eq("event", Value::String("A".into()))],
            None,
        ),
        definition("sum_amount", Aggregate::Sum(amount()), not_c, None),
        definition("avg_amount", Aggregate::Avg(amount()), vec![], None),
        definition("min_amount", Aggregate::Min(amount()), vec![], None),
        definition("max_amount", Aggregate::Max(amount()), vec![], Some(10)),
        definition("first_cat", Aggregate::First(cat()), vec![], None),
        definition("last_cat", Aggregate::Last(cat()), vec![], Some(20)),
        definition(
            "distinct_cat",
            Aggregate::CountDistinct(cat()),
            vec![],
            None,
        ),
        definition("top_cat", Aggregate::MostFrequent(cat()), vec![], Some(30)),
        definition("count_7d", Aggregate::Count, vec![], Some(7)),
        definition(
            "big",
            Aggregate::Count,
            vec![Condition {
                column: "amount".into(),
                op: CompareOp::Greater,
                value: Value::Int64(50),
            }],
            None,
        ),
        definition(
            "first_ts",
            Aggregate::First("timestamp".into()),
            vec![],
            None,
        ),
    ]
}

fn who(n: u8) -> (&'static str, String) {
    if n < 3 {
        ("userId", format!("u{n}"))
    } else {
        ("anonymousId", format!("a{}", n - 3))
    }
}

fn lines(ops: &[(usize, Op)]) -> Vec<String> {
    ops.iter()
        .filter_map(|(i, op)| match op {
            Op::Track {
                who: w,
                event,
                day,
                amount,
                cat,
            } => {
                let (field, id) = who(*w);
                let event = ["A", "B", "C"][usize::from(*event)];
                let secs = i64::try_from(*i % 50).unwrap_or(0);
                Some(track(
                    &format!("m{i}"),
                    (field, &id),
                    event,
                    &at(*day, secs),
                    json!({"amount": amount, "cat": format!("c{cat}")}),
                ))
            }
            Op::Link { user, anon, day } => Some(identify(
                &format!("m{i}"),
                &[
                    ("userId", &format!("u{user}")),
                    ("anonymousId", &format!("a{anon}")),
                ],
                &at(*day, 0),
                json!({}),
            )),
            _ => None,
        })
        .collect()
}

fn close_enough(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float64(x), Value::Float64(y)) => (x - y).abs() <= 1e-9 * x.abs().max(1.0),
        _ => a == b,
    }
}

pub(super) fn check(p: &Profiles) {
    let snapshot = p.snapshot();
    let now = p.clock();
    for definition in p.computed_traits() {
        let expected = recompute_from_scratch(&definition, &snapshot, now).unwrap();
        let actual: HashMap<u32, Value> = column_values(&snapshot, &definition.name)
            .unwrap()
            .into_iter()
            .collect();
        assert_eq!(
            expected.keys().collect::<std::collections::BTreeSet<_>>(),
            actual.keys().collect::<std::collections::BTreeSet<_>>(),
            "{}",
            definition.name
        );
        for (row, value) in &expected {
            assert!(
                close_enough(value, &actual[row]),
                "{} row {row}: {value:?} vs {:?}",
                definition.name,
                actual[row]
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn incremental_traits_equal_recomputation(ops in proptest::collection::vec(op(), 1..60), late in 0..12usize) {
        let dir = TempDir::new("prop-traits");
        let mut p = open(&dir);
        let defs = definitions();
        for d in &defs[..defs.len() - late.min(defs.len())] {
            p.create_trait(d.clone()).unwrap();
        }
        p.advance_clock((19_723 + 5) * DAY_MICROS).unwrap();
        let mut day = 5;
        let mut pending = Vec::new();
        let half = ops.len() / 2;
        for (i, op) in ops.into_iter().enumerate() {
            if i == half {
                for d in &defs[defs.len() - late.min(defs.len())..] {
                    p.create_trait(d.clone()).unwrap();
                }
            }
            match op {
                Op::Advance(days) => {
                    p.ingest_lines(&lines(&pending)).unwrap();
                    pending.clear();
                    day += days;
                    p.advance_clock((19_723 + day) * DAY_MICROS + 1).unwrap();
                }
                Op::Reopen => {
                    p.ingest_lines(&lines(&pending)).unwrap();
                    pending.clear();
                    check(&p);
                    drop(p);
                    p = open(&dir);
                }
                other => {
                    pending.push((i, other));
                    if pending.len() >= 4 {
                        p.ingest_lines(&lines(&pending)).unwrap();
                        pending.clear();
                    }
                }
            }
        }
        p.ingest_lines(&lines(&pending)).unwrap();
        check(&p);
    }
}
