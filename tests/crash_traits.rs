//! A process killed with SIGKILL while it ingests large calls with computed traits defined
//! loses no acknowledged call, and reopens with every trait value equal to a recomputation
//! from the stored events.
//!
//! Calls this large keep their computed traits on a thread beside the write and log the
//! values as a second WAL record. Where a kill lands is left to chance here; the engine test
//! `trait_values_lost_in_a_crash_are_rebuilt_at_open` cuts a log between the two records on
//! purpose. `harness = false`: `main` is the parent unless `PROFILEDB_CRASH_CHILD` is set, as
//! in `crash.rs`.

#[path = "crash_support.rs"]
mod crash_support;

use crash_support::{
    crash_options, keep_failed_database, run_child, seeded_random, CHILD_ENV, DIR_ENV, START_ENV,
};
use profiledb::engine::identity::{Identifier, IdentifierType};
use profiledb::engine::profiles::{recompute_from_scratch, Aggregate, ComputedTrait};
use profiledb::{Options, Profiles, ProfilesOptions, TableKind, Value};
use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

const ROUNDS: u32 = 12;
/// Events per call: with three traits taking every event, 3,000 (event, trait) pairs, which
/// is enough for the trait thread.
const EVENTS_PER_CALL: u32 = 1_000;
/// Call numbers of round `r` start at `r * ROUND_STRIDE`.
const ROUND_STRIDE: u32 = 10_000;

fn options() -> Options {
    crash_options(4 << 20, 4)
}

fn definitions() -> Vec<ComputedTrait> {
    let trait_of = |name: &str, aggregate| ComputedTrait {
        name: name.to_owned(),
        aggregate,
        event_filter: Vec::new(),
        window: None,
    };
    vec![
        trait_of("events_seen", Aggregate::Count),
        trait_of("amount_total", Aggregate::Sum("amount".to_owned())),
        trait_of("last_item", Aggregate::Last("item".to_owned())),
    ]
}

/// The messages of call `call`: tracks by 300 returning users and, every tenth, a user
/// new to the graph (so the graph grows at every call), each message id naming its call.
fn call_lines(call: u32) -> Vec<String> {
    (0..EVENTS_PER_CALL)
        .map(|i| {
            let user = if i % 10 == 0 {
                format!("new-{call}-{i}")
            } else {
                ((call * 7 + i) % 300).to_string()
            };
            let second = (call * EVENTS_PER_CALL + i) % 86_400;
            format!(
                r#"{{"type":"track","messageId":"c{call}-{i}","userId":"u{user}","event":"Viewed","timestamp":"2026-01-01T{:02}:{:02}:{:02}Z","properties":{{"amount":{},"item":"i{}"}}}}"#,
                second / 3600,
                second / 60 % 60,
                second % 60,
                i % 50,
                i % 17
            )
        })
        .collect()
}

fn open(dir: &Path) -> Result<Profiles, String> {
    Profiles::open(dir, options(), ProfilesOptions::default()).map_err(|e| format!("open: {e}"))
}

fn child() -> ExitCode {
    let dir = std::env::var(DIR_ENV).expect("dir");
    let start: u32 = std::env::var(START_ENV)
        .expect("start")
        .parse()
        .expect("number");
    let profiles = match open(Path::new(&dir)) {
        Ok(profiles) => profiles,
        Err(e) => {
            eprintln!("child: {e}");
            return ExitCode::from(3);
        }
    };
    if profiles.computed_traits().is_empty() {
        for definition in definitions() {
            if let Err(e) = profiles.create_trait(definition) {
                eprintln!("child: create trait: {e}");
                return ExitCode::from(3);
            }
        }
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "ready").unwrap();
    out.flush().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut call = start;
    while Instant::now() < deadline {
        match profiles.ingest_lines(&call_lines(call)) {
            Ok(report) if report.rejected.is_empty() => {}
            Ok(report) => {
                eprintln!("child: call {call} rejected {:?}", report.rejected);
                return ExitCode::from(4);
            }
            Err(e) => {
                eprintln!("child: call {call} failed: {e}");
                return ExitCode::from(4);
            }
        }
        writeln!(out, "ack {call}").unwrap();
        out.flush().unwrap();
        call += 1;
    }
    ExitCode::SUCCESS
}

/// Reopens the database: every acknowledged call's events are there, and every trait value
/// equals a recomputation. Returns how many calls are stored.
fn verify(dir: &Path, acked: &BTreeSet<u32>) -> Result<usize, String> {
    let profiles = open(dir)?;
    let snapshot = profiles.snapshot();
    let events = snapshot.live_rows(TableKind::Events).clone();
    let ids = snapshot
        .fetch(TableKind::Events, "message_id", &events)
        .map_err(|e| e.to_string())?;
    let mut per_call: HashMap<u32, u32> = HashMap::new();
    for id in &ids {
        let Value::String(id) = id else {
            return Err(format!("an event without a message id: {id:?}"));
        };
        let call = id[1..id.find('-').unwrap_or(1)]
            .parse::<u32>()
            .unwrap_or(u32::MAX);
        *per_call.entry(call).or_default() += 1;
    }
    for (call, count) in &per_call {
        if *count != EVENTS_PER_CALL {
            return Err(format!("call {call} is half there: {count} events"));
        }
    }
    if let Some(missing) = acked.iter().find(|call| !per_call.contains_key(call)) {
        return Err(format!("acknowledged call {missing} is missing"));
    }
    check_graph_places_every_user(&profiles, &snapshot, &events)?;
    let rows = snapshot.live_rows(TableKind::Profiles).clone();
    for definition in profiles.computed_traits() {
        let expected = recompute_from_scratch(&definition, &snapshot, profiles.clock())
            .map_err(|e| e.to_string())?;
        let stored = snapshot
            .fetch(TableKind::Profiles, &definition.name, &rows)
            .map_err(|e| e.to_string())?;
        for (row, value) in rows.iter().zip(stored) {
            let wanted = expected.get(&row).cloned().unwrap_or(Value::Null);
            if value != wanted {
                return Err(format!(
                    "{} of row {row} is {value:?}, recomputed {wanted:?}",
                    definition.name
                ));
            }
        }
    }
    drop(snapshot);
    profiles.close().map_err(|e| format!("close: {e}"))?;
    Ok(per_call.len())
}

/// The identity graph, rebuilt from its snapshot and the WAL kept after the snapshot's
/// anchor, resolves each event's user to the profile that holds the event.
fn check_graph_places_every_user(
    profiles: &Profiles,
    snapshot: &profiledb::Snapshot,
    events: &roaring::RoaringBitmap,
) -> Result<(), String> {
    let fetch = |column: &str| {
        snapshot
            .fetch(TableKind::Events, column, events)
            .map_err(|e| e.to_string())
    };
    let (users, owners) = (fetch("user_id")?, fetch("profile_id")?);
    profiles.with_graph(|graph| {
        for (user, owner) in users.iter().zip(&owners) {
            let Value::String(user) = user else {
                return Err(format!("an event without a user id: {user:?}"));
            };
            let identifier = Identifier::new(IdentifierType::UserId, user.as_str());
            let found = graph
                .lookup(&identifier)
                .map(|p| Value::Int64(i64::from(p.0)));
            if found.as_ref() != Some(owner) {
                return Err(format!(
                    "user {user} resolves to {found:?}, its events are on {owner:?}"
                ));
            }
        }
        Ok(())
    })
}

fn parent() -> ExitCode {
    let exe = std::env::current_exe().expect("current exe");
    let dir = std::env::temp_dir().join(format!("profiledb-crash-traits-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create dir");
    let mut random = seeded_random(0x7ea1);
    let started = Instant::now();
    let mut acked = BTreeSet::new();
    let mut passed = 0;
    for round in 0..ROUNDS {
        let delay = Duration::from_millis(30 + random(600));
        let outcome = run_child(&exe, &dir, round * ROUND_STRIDE, delay, false).and_then(|new| {
            let count = new.len();
            acked.extend(new);
            verify(&dir, &acked).map(|stored| (count, stored))
        });
        match outcome {
            Ok((count, stored)) => {
                passed += 1;
                println!("round {round}: killed after {delay:?}, {count} new acks, {stored} calls stored, ok");
            }
            Err(message) => {
                println!("round {round}: FAILED: {message}");
                keep_failed_database(&dir, "profiledb-crash-traits", round);
                break;
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "trait crash test took {:?}; {passed} of {ROUNDS} rounds passed",
        started.elapsed()
    );
    if passed == ROUNDS {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn main() -> ExitCode {
    if std::env::var_os(CHILD_ENV).is_some() {
        child()
    } else {
        parent()
    }
}
