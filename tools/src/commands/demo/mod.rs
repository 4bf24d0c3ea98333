//! `profiledb demo`: builds a realistic sample database through the ingestion pipeline and
//! takes a short tour of it.
//!
//! People browse anonymously on one to three devices; most sign up (an identify call with
//! their traits and consent choices), log in on their other devices, order, open and click
//! emails, sometimes change their consent or upgrade. A few share a device with someone else, a few type placeholder emails.
//! All of it is generated as Tracking Spec messages by a deterministic generator and ingested
//! through identity resolution; computed traits and SQL segments then describe the result.

mod journey;
mod load;
mod people;
mod report;
mod rng;
mod segments;
mod target;
mod tour;
mod traits;

use crate::error::ToolError;
use crate::Outcome;
use journey::DEMO_NOW;
use profiledb::engine::profiles::{Profiles, ProfilesOptions};
use profiledb::engine::scan::{filter, CompareOp, Predicate};
use profiledb::query::{QueryResult, Session, StatementOutcome};
use profiledb::{Database, Options, SyncMode, TableKind, Value};
use std::path::Path;
use std::time::{Duration, Instant};

/// The generator's seed: the demo data is the same everywhere.
const SEED: u64 = 20_260_601;
/// In-memory data flushed to segments in the background beyond this size.
const FLUSH_THRESHOLD_BYTES: usize = 16 << 20;

pub(crate) fn run(data: &Path, people: u32) -> Result<Outcome, ToolError> {
    let started = Instant::now();
    if target::inspect(data, is_earlier_demo)? == target::Target::EarlierDemo {
        target::clear(data)?;
    }
    // Nothing here is precious until the end: the final flush writes synced segments.
    let options = Options {
        sync_mode: SyncMode::Never,
        // Smaller in-memory layers keep each ingest call's publication cheap (measured).
        flush_threshold_bytes: FLUSH_THRESHOLD_BYTES,
        ..Options::default()
    };
    let profiles = Profiles::open(data, options, ProfilesOptions::default()).map_err(
        ToolError::profiles(format!("cannot create a database in {}", data.display())),
    )?;
    let trait_texts = traits::define(&profiles)?;
    let loaded = load::generate_and_ingest(&profiles, SEED, people)?;
    let db = profiles.database();
    db.flush()
        .map_err(ToolError::engine("flushing the demo data"))?;
    let ran = segments::create_and_count(db, DEMO_NOW, &tour::segments())?;
    let queries = run_queries(db)?;
    let snapshot = db.snapshot();
    let (profile_count, event_count) = (
        snapshot.row_count(TableKind::Profiles),
        snapshot.row_count(TableKind::Events),
    );
    drop(snapshot);
    profiles
        .close()
        .map_err(ToolError::profiles("closing the demo database"))?;
    report::print(&report::Report {
        data,
        loaded: &loaded,
        profiles: profile_count,
        events: event_count,
        traits: &trait_texts,
        segments: &ran,
        queries: &queries,
        example_user: example_user(people),
        total: started.elapsed(),
    })?;
    Ok(Outcome::Clean)
}

/// Runs the tour's questions; returns (title, sql, result, time) of each.
fn run_queries(db: &Database) -> Result<Vec<(String, String, QueryResult, Duration)>, ToolError> {
    let mut session = Session::new();
    let mut out = Vec::new();
    for (title, sql) in tour::QUERIES {
        let (outcome, elapsed) = segments::run_sql(db, &mut session, DEMO_NOW, sql)?;
        if let StatementOutcome::Rows(result) = outcome {
            out.push((title.to_owned(), sql.to_owned(), result, elapsed));
        }
    }
    Ok(out)
}

/// A user id worth looking at: someone who signed up with a real email on several devices.
fn example_user(people: u32) -> String {
    (0..people)
        .map(|i| people::person(SEED, i))
        .find(|p| {
            p.devices.len() >= 2
                && p.account.as_ref().is_some_and(|a| !a.placeholder_email)
                && !p.shares_first_device
        })
        .map_or_else(|| people::user_id(0), |p| people::user_id(p.index))
}

/// Whether `data` holds a database with the demo's first message.
fn is_earlier_demo(data: &Path) -> bool {
    let options = Options {
        create_if_missing: false,
        ..Options::default()
    };
    let Ok(db) = Database::open(data, options) else {
        return false;
    };
    let snapshot = db.snapshot();
    let first = Predicate::Compare(CompareOp::Eq, Value::String("demo-0-0".to_owned()));
    let found = filter(&snapshot, TableKind::Events, "message_id", &first)
        .is_ok_and(|(rows, _)| !rows.is_empty());
    drop(snapshot);
    let _ = db.close();
    found
}
