//! Real data: the CDNOW purchase log, checked per customer against an independent reference.
//!
//! Skips (with a message) when `../shared/data/cdnow/` is absent next to the repository.

use super::test_support::{fast_options, TempDir};
use super::{format_timestamp, Aggregate, ComputedTrait, Condition, Profiles, ProfilesOptions};
use crate::scan::CompareOp;
use crate::schema::TableKind;
use crate::value::Value;
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/cdnow")
}

/// `YYYYMMDD` → `YYYY-MM-DDT00:00:00Z`.
fn midnight(date: &str) -> Option<String> {
    let ok = date.len() == 8 && date.bytes().all(|b| b.is_ascii_digit());
    ok.then(|| format!("{}-{}-{}T00:00:00Z", &date[..4], &date[4..6], &date[6..]))
}

/// One track message per line, as the folder's README prescribes (header is line 1).
fn messages(text: &str) -> Vec<String> {
    text.lines()
        .enumerate()
        .skip(1)
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            let f: Vec<&str> = l.trim().split(',').collect();
            assert_eq!(f.len(), 4, "line {}", i + 1);
            let ts = midnight(f[1]).expect("a YYYYMMDD date");
            format!(
                r#"{{"type":"track","userId":"{}","event":"Order Completed","timestamp":"{ts}","properties":{{"revenue":{},"quantity":{}}},"messageId":"cdnow-{}"}}"#,
                f[0], f[3], f[2], i + 1
            )
        })
        .collect()
}

fn definition(name: &str, aggregate: Aggregate) -> ComputedTrait {
    ComputedTrait {
        name: name.into(),
        aggregate,
        event_filter: vec![Condition {
            column: "event".into(),
            op: CompareOp::Eq,
            value: Value::String("Order Completed".into()),
        }],
        window: None,
    }
}

fn cents(x: f64) -> i64 {
    #[expect(
        clippy::cast_possible_truncation,
        reason = "amounts far below 2^53 cents"
    )]
    let c = (x * 100.0).round() as i64;
    c
}

#[test]
fn cdnow_per_customer_traits_match_the_reference() {
    let dir = data_dir();
    let (Ok(transactions), Ok(reference)) = (
        std::fs::read_to_string(dir.join("transactions.csv")),
        std::fs::read_to_string(dir.join("reference_per_customer.csv")),
    ) else {
        println!("SKIPPED cdnow test: {} not found", dir.display());
        return;
    };
    let db_dir = TempDir::new("cdnow");
    let p = Profiles::open(db_dir.path(), fast_options(), ProfilesOptions::default()).unwrap();
    for (name, aggregate) in [
        ("order_count", Aggregate::Count),
        ("revenue_sum", Aggregate::Sum("revenue".into())),
        ("first_order", Aggregate::First("timestamp".into())),
        ("last_order", Aggregate::Last("timestamp".into())),
    ] {
        p.create_trait(definition(name, aggregate)).unwrap();
    }
    let lines = messages(&transactions);
    let started = Instant::now();
    for chunk in lines.chunks(10_000) {
        let report = p.ingest_lines(chunk).unwrap();
        assert!(report.rejected.is_empty(), "{:?}", report.rejected.first());
        assert!(report.duplicates.is_empty());
    }
    let elapsed = started.elapsed();
    println!(
        "cdnow: {} messages in {:.3} s ({:.0} messages/s)",
        lines.len(),
        elapsed.as_secs_f64(),
        lines.len() as f64 / elapsed.as_secs_f64()
    );
    let snapshot = p.snapshot();
    let rows = snapshot.live_rows(TableKind::Profiles).clone();
    let column = |name: &str| snapshot.fetch(TableKind::Profiles, name, &rows).unwrap();
    let (users, counts, revenue, first, last) = (
        column("user_id"),
        column("order_count"),
        column("revenue_sum"),
        column("first_order"),
        column("last_order"),
    );
    let mut actual = HashMap::new();
    for i in 0..users.len() {
        let (
            Value::String(user),
            Value::Int64(n),
            Value::Float64(r),
            Value::Timestamp(f),
            Value::Timestamp(l),
        ) = (&users[i], &counts[i], &revenue[i], &first[i], &last[i])
        else {
            panic!(
                "incomplete profile: {:?}",
                (&users[i], &counts[i], &revenue[i], &first[i], &last[i])
            );
        };
        let day = |t: i64| format_timestamp(t)[..10].to_owned();
        actual.insert(user.clone(), (*n, cents(*r), day(*f), day(*l)));
    }
    let mut expected = HashMap::new();
    for l in reference.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = l.trim().split(',').collect();
        let n: i64 = f[1].parse().unwrap();
        let r: f64 = f[2].parse().unwrap();
        expected.insert(
            f[0].to_owned(),
            (n, cents(r), f[4].to_owned(), f[5].to_owned()),
        );
    }
    assert_eq!(actual.len(), 23_570);
    assert_eq!(expected.len(), 23_570);
    for (customer, want) in &expected {
        assert_eq!(actual.get(customer), Some(want), "customer {customer}");
    }
    let orders: i64 = actual.values().map(|v| v.0).sum();
    let total: f64 = revenue
        .iter()
        .map(|v| match v {
            Value::Float64(x) => *x,
            _ => 0.0,
        })
        .sum();
    assert_eq!(orders, 69_659);
    assert_eq!(cents(total), 250_031_563);
    assert_eq!(snapshot.row_count(TableKind::Events), 69_659);
    // The incremental values equal a recomputation from the stored events.
    for definition in p.computed_traits() {
        let scratch = super::recompute_from_scratch(&definition, &snapshot, p.clock()).unwrap();
        assert_eq!(scratch.len(), 23_570, "{}", definition.name);
    }
}
