//! Golden tests: runs every `tests/slt/*.slt` file (sqllogictest-style) against the test dataset.
//!
//! Records, separated by blank lines (`#` lines are comments):
//! - `statement ok` / `statement error <substring>` followed by one SQL statement;
//! - `query <types> [rowsort]` followed by SQL, `----`, and the expected rows: one line per row,
//!   values separated by single spaces; types are one letter per column: `I` int64, `R` float64,
//!   `T` string, `B` bool, `D` timestamp, `L` string list. NULL prints as `NULL`, the empty
//!   string as `(empty)`;
//! - `query error <substring>` followed by SQL that must fail with a message containing it.
//!
//! A record may be preceded by `skipif <target>` or `onlyif <target>` (as in sqllogictest),
//! where the target is `memory` (the in-memory catalog) or `engine` (a real database).

mod common;

use std::path::Path;

use profiledb_query::format::display_value;
use profiledb_query::{execute, Catalog, ColumnType, Session, StatementOutcome, Value};

/// One parsed record of an slt file.
enum Record {
    Statement {
        line: usize,
        sql: String,
        error: Option<String>,
    },
    Query {
        line: usize,
        sql: String,
        types: String,
        rowsort: bool,
        expected: Vec<String>,
    },
    QueryError {
        line: usize,
        sql: String,
        error: String,
    },
}

/// Which catalogs a record runs against.
#[derive(Clone, Default)]
struct Condition {
    skip: Vec<String>,
    only: Vec<String>,
}

impl Condition {
    fn applies_to(&self, target: &str) -> bool {
        !self.skip.iter().any(|t| t == target)
            && (self.only.is_empty() || self.only.iter().any(|t| t == target))
    }
}

fn parse_records(text: &str) -> Vec<(Condition, Record)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut records = Vec::new();
    let mut condition = Condition::default();
    let mut i = 0;
    while i < lines.len() {
        let header = lines[i].trim();
        if header.is_empty() || header.starts_with('#') {
            i += 1;
            continue;
        }
        if let Some(target) = header.strip_prefix("skipif ") {
            condition.skip.push(target.trim().to_owned());
            i += 1;
            continue;
        }
        if let Some(target) = header.strip_prefix("onlyif ") {
            condition.only.push(target.trim().to_owned());
            i += 1;
            continue;
        }
        let line = i + 1;
        i += 1;
        let mut sql = Vec::new();
        while i < lines.len() && !lines[i].trim().is_empty() && lines[i].trim() != "----" {
            sql.push(lines[i]);
            i += 1;
        }
        let sql = sql.join("\n");
        let mut expected = Vec::new();
        if i < lines.len() && lines[i].trim() == "----" {
            i += 1;
            while i < lines.len() && !lines[i].trim().is_empty() {
                expected.push(lines[i].trim_end().to_owned());
                i += 1;
            }
        }
        let words: Vec<&str> = header.splitn(3, ' ').collect();
        let record = match words.as_slice() {
            ["statement", "ok"] => Record::Statement {
                line,
                sql,
                error: None,
            },
            ["statement", "error", rest @ ..] => Record::Statement {
                line,
                sql,
                error: Some(rest.join(" ")),
            },
            ["query", "error", rest @ ..] => Record::QueryError {
                line,
                sql,
                error: rest.join(" "),
            },
            ["query", types, rest @ ..] => Record::Query {
                line,
                sql,
                types: (*types).to_owned(),
                rowsort: rest.contains(&"rowsort"),
                expected,
            },
            _ => panic!("line {line}: unknown record header `{header}`"),
        };
        records.push((std::mem::take(&mut condition), record));
    }
    records
}

fn type_letter(t: ColumnType) -> char {
    match t {
        ColumnType::Int64 => 'I',
        ColumnType::Float64 => 'R',
        ColumnType::String => 'T',
        ColumnType::Bool => 'B',
        ColumnType::Timestamp => 'D',
        ColumnType::StringList => 'L',
    }
}

fn render(value: &Value) -> String {
    match value {
        Value::String(s) if s.is_empty() => "(empty)".to_owned(),
        other => display_value(other),
    }
}

/// Runs one file; returns failure descriptions.
fn run_file(path: &Path, catalog: &dyn Catalog, target: &str) -> Vec<String> {
    let text = std::fs::read_to_string(path).expect("slt file readable");
    let mut session = Session::new();
    let mut failures = Vec::new();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    for (condition, record) in parse_records(&text) {
        if !condition.applies_to(target) {
            continue;
        }
        match record {
            Record::Statement { line, sql, error } => {
                match (execute(catalog, &mut session, &sql), error) {
                    (Ok(_), None) => {}
                    (Err(e), Some(want)) if e.to_string().contains(&want) => {}
                    (outcome, want) => failures.push(format!(
                        "{name}:{line}: `{sql}` expected {want:?}, got {outcome:?}"
                    )),
                }
            }
            Record::QueryError { line, sql, error } => match execute(catalog, &mut session, &sql) {
                Err(e) if e.to_string().contains(&error) => {}
                other => failures.push(format!(
                    "{name}:{line}: `{sql}` expected error containing {error:?}, got {other:?}"
                )),
            },
            Record::Query {
                line,
                sql,
                types,
                rowsort,
                expected,
            } => {
                let result = match execute(catalog, &mut session, &sql) {
                    Ok(StatementOutcome::Rows(r)) => r,
                    other => {
                        failures.push(format!("{name}:{line}: `{sql}` failed: {other:?}"));
                        continue;
                    }
                };
                let got_types: String = result
                    .columns
                    .iter()
                    .map(|(_, t)| type_letter(*t))
                    .collect();
                if got_types != types {
                    failures.push(format!(
                        "{name}:{line}: `{sql}` column types {got_types}, expected {types}"
                    ));
                }
                let mut rows: Vec<String> = result
                    .rows
                    .iter()
                    .map(|r| r.iter().map(render).collect::<Vec<_>>().join(" "))
                    .collect();
                let mut expected = expected;
                if rowsort {
                    rows.sort();
                    expected.sort();
                }
                if rows != expected {
                    failures.push(format!(
                        "{name}:{line}: `{sql}`\n  expected:\n    {}\n  got:\n    {}",
                        expected.join("\n    "),
                        rows.join("\n    ")
                    ));
                }
            }
        }
    }
    failures
}

fn run(file: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/slt")
        .join(file);
    let memory = common::catalog();
    let mut failures = run_file(&path, &memory, "memory");
    // The same records must hold over the storage engine: a real database holding the same
    // rows, partly in segment files and partly in its in-memory head.
    let stored = common::StoredDataset::new(&memory, file);
    let snapshot = stored.database.snapshot();
    let engine = stored.catalog(&memory, &snapshot);
    failures.extend(
        run_file(&path, &engine, "engine")
            .into_iter()
            .map(|f| format!("[engine] {f}")),
    );
    assert!(
        failures.is_empty(),
        "{} failure(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

macro_rules! slt {
    ($($name:ident),* $(,)?) => {
        $(#[test] fn $name() { run(concat!(stringify!($name), ".slt")); })*
    };
}

slt!(
    select_basics,
    where_null_semantics,
    like_and_lists,
    temporal,
    aggregates,
    ordering_limits,
    behavioural,
    segments,
    events,
    errors,
    explain
);

#[test]
fn every_slt_file_is_registered() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/slt");
    let registered = [
        "select_basics",
        "where_null_semantics",
        "like_and_lists",
        "temporal",
        "aggregates",
        "ordering_limits",
        "behavioural",
        "segments",
        "events",
        "errors",
        "explain",
    ];
    for entry in std::fs::read_dir(dir).expect("slt dir") {
        let name = entry
            .expect("entry")
            .path()
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        assert!(
            registered.contains(&name.as_str()),
            "{name}.slt is not registered in slt!()"
        );
    }
}
