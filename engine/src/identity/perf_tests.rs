//! Throughput sanity check (the real benchmark lives with criterion).

use super::*;
use std::time::Instant;

/// Identify messages each linking a fresh user id to a fresh anonymous id, plus a second
/// message per user re-using both ids (the common "already known" path).
#[test]
fn identify_throughput_sanity() {
    const USERS: usize = 200_000;
    let ids: Vec<[Identifier; 2]> = (0..USERS)
        .map(|i| {
            [
                Identifier::user_id(format!("user-{i}")),
                Identifier::anonymous_id(format!("anon-{i:08x}")),
            ]
        })
        .collect();
    let mut g = IdentityGraph::default();
    let start = Instant::now();
    for round in 0..2 {
        for (i, pair) in ids.iter().enumerate() {
            g.resolve(pair, "m", (round * USERS + i) as i64);
        }
    }
    let elapsed = start.elapsed();
    assert_eq!(g.profile_count(), USERS);
    let rate = (2 * USERS) as f64 / elapsed.as_secs_f64();
    eprintln!("identity graph: {rate:.0} identify messages/s ({elapsed:?})");
    // Loose bound: catches an accidental quadratic path, not a regression of a few percent.
    assert!(rate > 50_000.0, "{rate:.0} messages/s");
}
