//! Large `ingest_lines` calls, parsed on a second thread beside the writer: every line
//! reported or written, from one caller and from several at once.

use super::test_support::{at, open, track, TempDir};
use super::{IngestReport, Profiles, PARALLEL_MIN_ITEMS, PARSE_CHUNK_LINES};
use crate::identity::Identifier;
use crate::schema::TableKind;
use serde_json::json;

/// Lines that do not parse, at chunk edges and in between.
const BROKEN: [usize; 4] = [0, PARSE_CHUNK_LINES - 1, PARSE_CHUNK_LINES, 1_001];

/// A call of `n` tracks of user `{call}-{i}`, with the lines at [`BROKEN`] cut short.
fn call_lines(call: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let text = track(
                &format!("{call}-m{i}"),
                ("userId", &format!("{call}-{i}")),
                "Viewed",
                &at(0, i64::try_from(i).unwrap()),
                json!({"n": i}),
            );
            if BROKEN.contains(&i) {
                text[..text.len() / 2].to_owned()
            } else {
                text
            }
        })
        .collect()
}

/// Every line but the broken ones was written, each to its own profile; the broken ones
/// are reported at their indices.
fn assert_whole(profiles: &Profiles, call: &str, n: usize, report: &IngestReport) {
    assert_eq!(report.accepted, n - BROKEN.len(), "{call}");
    let rejected: Vec<usize> = report.rejected.iter().map(|r| r.index).collect();
    assert_eq!(rejected, BROKEN, "{call}");
    profiles.with_graph(|graph| {
        for i in (0..n).filter(|i| !BROKEN.contains(i)) {
            let user = Identifier::user_id(format!("{call}-{i}"));
            assert!(graph.lookup(&user).is_some(), "{call}: user {i}");
        }
    });
}

#[test]
fn every_line_of_large_calls_is_written_or_reported() {
    let dir = TempDir::new("parse-beside");
    let profiles = open(&dir);
    let n = 3 * PARALLEL_MIN_ITEMS + 5;
    for call in ["a", "b", "c"] {
        let report = profiles.ingest_lines(&call_lines(call, n)).unwrap();
        assert_whole(&profiles, call, n, &report);
    }
    let events = profiles.snapshot().live_rows(TableKind::Events).len();
    assert_eq!(events, 3 * (n - BROKEN.len()) as u64);
}

#[test]
fn concurrent_large_calls_all_land() {
    let dir = TempDir::new("parse-concurrent");
    let profiles = open(&dir);
    let n = 2 * PARALLEL_MIN_ITEMS;
    std::thread::scope(|scope| {
        for caller in 0..3 {
            let profiles = &profiles;
            scope.spawn(move || {
                for round in 0..4 {
                    let call = format!("c{caller}r{round}");
                    let report = profiles.ingest_lines(&call_lines(&call, n)).unwrap();
                    assert_whole(profiles, &call, n, &report);
                }
            });
        }
    });
    let events = profiles.snapshot().live_rows(TableKind::Events).len();
    assert_eq!(events, 12 * (n - BROKEN.len()) as u64);
}
