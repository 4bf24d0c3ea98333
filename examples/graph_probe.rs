//! Runs the identity benchmark's identify messages through the identity graph alone, so a
//! profiler sees nothing but resolution (the criterion bench binary also builds other
//! datasets). Usage: `graph_probe [messages] [rounds]` (defaults 10 M and 1).
#[path = "../benches/common/mod.rs"]
mod common;
use profiledb::engine::identity::IdentityGraph;
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let messages: u32 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000_000);
    let rounds: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1);
    for round in 0..rounds {
        let links = common::identify_links(messages);
        let start = Instant::now();
        let cpu_start = cpu_seconds();
        let mut graph = IdentityGraph::default();
        for (i, (identifiers, message_id)) in links.iter().enumerate() {
            graph.resolve(identifiers, message_id, i as i64);
        }
        let cpu = cpu_seconds() - cpu_start;
        let elapsed = start.elapsed();
        println!(
            "round {round}: {messages} identify messages in {elapsed:.2?} wall, {cpu:.2} s CPU: \
             {:.0} messages/s per CPU second, {} profiles",
            f64::from(messages) / cpu,
            graph.profile_count()
        );
        // Freeing the graph and the input is not resolution: leave it out of the timing.
        drop(graph);
    }
}

/// CPU time this thread has run so far (Linux scheduler statistics), so that the figure does
/// not depend on how busy the other cores' tenants keep the machine.
fn cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(f64::NAN, |nanos| nanos / 1e9)
}
