//! Ingest throughput probe (run with `--ignored --nocapture` in release mode).

use super::test_support::{at, identify, open, track, TempDir};
use super::{Aggregate, ComputedTrait, Condition, DAY_MICROS};
use crate::message::parse_message_line;
use crate::scan::CompareOp;
use crate::value::Value;
use serde_json::json;
use std::time::Instant;

/// CPU seconds (user + system) of this process so far, from `/proc/self/stat` (Linux).
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

fn synthetic(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let user = format!("user-{}", i % 50_000);
            let anon = format!("anon-{}", i % 60_000);
            let ts = at(i64::try_from(i / 20_000).unwrap_or(0), i64::try_from(i % 80_000).unwrap_or(0));
            match i % 10 {
                0 => identify(&format!("m{i}"), &[("userId", &user), ("anonymousId", &anon)], &ts, json!({"plan": "pro", "email": format!("{user}@example.com"), "age": i % 90})),
                1 | 2 => {
                    let mut m = json!({"type": "page", "messageId": format!("m{i}"), "anonymousId": anon, "name": "Home", "timestamp": ts, "properties": {"path": "/", "referrer": "x"}});
                    m["userId"] = json!(user);
                    m.to_string()
                }
                _ => track(&format!("m{i}"), ("userId", &user), "Order Completed", &ts, json!({"revenue": 12.5, "quantity": 2, "sku": format!("sku-{}", i % 300)})),
            }
        })
        .collect()
}

#[test]
#[ignore = "throughput probe; run in release with --nocapture"]
fn ingest_throughput_probe() {
    let dir = TempDir::new("perf");
    let p = open(&dir);
    let filter = vec![Condition {
        column: "event".into(),
        op: CompareOp::Eq,
        value: Value::String("Order Completed".into()),
    }];
    for (name, aggregate, window) in [
        ("orders", Aggregate::Count, None),
        ("revenue", Aggregate::Sum("revenue".into()), None),
        ("orders_30d", Aggregate::Count, Some(30 * DAY_MICROS)),
    ] {
        p.create_trait(ComputedTrait {
            name: name.into(),
            aggregate,
            event_filter: filter.clone(),
            window,
        })
        .unwrap();
    }
    let lines = synthetic(400_000);
    let (half_a, half_b) = lines.split_at(200_000);
    // Pre-parsed messages through `ingest`.
    let parsed: Vec<_> = half_a
        .iter()
        .map(|l| parse_message_line(l).unwrap())
        .collect();
    let (wall, cpu) = (Instant::now(), cpu_seconds());
    for chunk in parsed.chunks(20_000) {
        p.ingest(chunk).unwrap();
    }
    report("ingest(&[Message])", parsed.len(), wall, cpu);
    // Text lines through `ingest_lines` (parsing included).
    let (wall, cpu) = (Instant::now(), cpu_seconds());
    for chunk in half_b.chunks(20_000) {
        p.ingest_lines(chunk).unwrap();
    }
    report("ingest_lines(NDJSON)", half_b.len(), wall, cpu);
}

fn report(what: &str, n: usize, wall: Instant, cpu: Option<f64>) {
    let wall = wall.elapsed().as_secs_f64();
    let cpu = cpu.zip(cpu_seconds()).map(|(a, b)| b - a);
    println!(
        "{what}: {n} messages, {:.0} msg/s wall, CPU {:?} s ({:?} msg per CPU-second)",
        n as f64 / wall,
        cpu,
        cpu.map(|c| (n as f64 / c).round())
    );
}
