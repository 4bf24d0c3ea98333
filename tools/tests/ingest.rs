//! End-to-end tests of the commands that use the ingestion pipeline: `import` of NDJSON
//! messages, `profile` by identifier, and `demo`.

mod common;

use common::{ok, profiledb, profiledb_with_stdin, serial, text, TempDir};
use serde_json::Value as Json;
use std::path::Path;

const MESSAGES: &str = r#"{"type":"page","messageId":"m1","anonymousId":"anon-1","timestamp":"2026-05-01T10:00:00Z","name":"Pricing"}
{"type":"identify","messageId":"m2","anonymousId":"anon-1","userId":"u-42","timestamp":"2026-05-01T10:05:00Z","traits":{"email":"Alice@Example.com","plan":"pro","consent":{"email":true}}}
not json at all

{"type":"track","messageId":"m3","userId":"u-42","timestamp":"2026-05-02T09:00:00Z","event":"Order Completed","properties":{"revenue":42.5}}
{"type":"track","messageId":"m4","timestamp":"2026-05-02T09:00:00Z","event":"Orphan"}
{"type":"track","messageId":"m3","userId":"u-42","timestamp":"2026-05-02T09:00:00Z","event":"Order Completed","properties":{"revenue":42.5}}
{"type":"page","messageId":"m5","anonymousId":"anon-2","timestamp":"2026-05-03T09:00:00Z","name":"Home"}
"#;

fn import_messages(data: &Path, file: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["import", file.to_str().unwrap()];
    args.extend_from_slice(extra);
    profiledb(data, &args)
}

#[test]
fn ndjson_messages_are_resolved_into_profiles() {
    let _serial = serial();
    let tmp = TempDir::new("ingest-ndjson");
    let data = tmp.path().join("db");
    let file = tmp.path().join("events.ndjson");
    std::fs::write(&file, MESSAGES).unwrap();
    let output = import_messages(&data, &file, &[]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains("read 7 rows: 4 imported, 2 rejected, 1 duplicates skipped"),
        "{stdout}"
    );
    let rejects = std::fs::read_to_string(tmp.path().join("events.ndjson.rejects")).unwrap();
    let entries: Vec<&str> = rejects.lines().collect();
    assert!(entries[0].starts_with("line 3: invalid JSON"), "{rejects}");
    assert_eq!(entries[1], "not json at all");
    assert!(
        entries[2].starts_with("line 6: ") && entries[2].contains("userId"),
        "{rejects}"
    );
    assert!(entries[3].contains("\"Orphan\""));

    // The anonymous page view and the identified user are one profile.
    let stdout = ok(&profiledb(&data, &["profile", "email:alice@example.com"]));
    let view: Json = serde_json::from_str(&stdout).unwrap();
    assert!(stdout.starts_with("{\n  \"profile_id\""), "{stdout}");
    let types: Vec<&str> = view["identifiers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["type"].as_str().unwrap())
        .collect();
    assert!(
        types.contains(&"anonymous_id") && types.contains(&"user_id"),
        "{stdout}"
    );
    assert_eq!(view["events"].as_array().unwrap().len(), 3, "{stdout}");
    assert_eq!(view["consent"][0]["name"], "consent.email");
    let id = view["profile_id"].as_u64().unwrap();

    // profile_id:N shows the same view; unknown identifiers exit 1.
    let by_id = ok(&profiledb(&data, &["profile", &format!("profile_id:{id}")]));
    assert_eq!(by_id, stdout);
    let missing = profiledb(&data, &["profile", "email:nobody@example.com"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(text(&missing.stderr).contains("no profile found"));

    // Re-importing the same file adds nothing: every message id is known.
    let again = import_messages(
        &data,
        &file,
        &["--rejects", tmp.path().join("r2").to_str().unwrap()],
    );
    assert!(
        text(&again.stdout).contains("0 imported"),
        "{}",
        text(&again.stdout)
    );
    let count = ok(&profiledb(
        &data,
        &["sql", "SELECT COUNT(*) FROM events", "--format", "csv"],
    ));
    assert_eq!(count, "count\n4\n");
}

#[test]
fn strict_ndjson_writes_nothing_and_stdin_gzip_works() {
    let _serial = serial();
    let tmp = TempDir::new("ingest-strict");
    let data = tmp.path().join("db");
    let file = tmp.path().join("events.jsonl");
    std::fs::write(&file, MESSAGES).unwrap();
    let output = import_messages(&data, &file, &["--strict"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stdout).contains("nothing was imported"));
    assert!(!data.exists());

    let good: String = MESSAGES
        .lines()
        .filter(|l| l.contains("\"anonymousId\"") || l.contains("\"userId\""))
        .map(|l| format!("{l}\n"))
        .collect();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, good.as_bytes()).unwrap();
    let compressed = gz.finish().unwrap();
    let output = profiledb_with_stdin(
        &data,
        &["import", "-", "--format", "ndjson", "--strict"],
        &compressed,
    );
    let stdout = ok(&output);
    assert!(
        stdout.contains("read 5 rows: 4 imported, 0 rejected, 1 duplicates"),
        "{stdout}"
    );
}

#[test]
fn demo_builds_a_database_that_passes_check() {
    let _serial = serial();
    let tmp = TempDir::new("demo");
    let data = tmp.path().join("demo");
    let stdout = ok(&profiledb(&data, &["demo", "--profiles", "2000"]));
    for needle in [
        "Identity resolution",
        "identifiers seen",
        "profiles after",
        "Segments",
        "high_value",
        "recent_buyers",
        "CREATE OR REPLACE SEGMENT",
        "Try your own",
    ] {
        assert!(stdout.contains(needle), "missing {needle:?} in\n{stdout}");
    }
    let check = profiledb(&data, &["check"]);
    let report = text(&check.stdout);
    assert_eq!(
        check.status.code(),
        Some(0),
        "a demo database is healthy:\n{report}"
    );
    assert!(report.contains("checked"), "{report}");

    // The data answers queries, and the example profile of the report exists.
    let sql = "SELECT COUNT(*) FROM profiles WHERE user_id IS NOT NULL";
    let known: u64 = ok(&profiledb(&data, &["sql", sql, "--format", "csv"]))
        .lines()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert!((1000..1400).contains(&known), "{known} known customers");
    let example = stdout
        .lines()
        .find_map(|l| {
            l.trim()
                .split_once(" profile user_id:")
                .map(|(_, u)| u.to_owned())
        })
        .unwrap();
    let view: Json = serde_json::from_str(&ok(&profiledb(
        &data,
        &["profile", &format!("user_id:{example}")],
    )))
    .unwrap();
    assert!(view["computed_traits"].is_object());

    // Running it again replaces the earlier demo; a directory holding anything else is refused.
    ok(&profiledb(&data, &["demo", "--profiles", "50"]));
    let other = tmp.path().join("other");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("notes.txt"), "mine").unwrap();
    let refused = profiledb(&other, &["demo", "--profiles", "50"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused.stderr).contains("earlier demo"),
        "{}",
        text(&refused.stderr)
    );
    assert!(other.join("notes.txt").exists());
}

#[test]
fn new_commands_have_examples_in_their_help() {
    let _serial = serial();
    for sub in ["sql", "import", "profile", "demo"] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_profiledb"))
            .args([sub, "--help"])
            .output()
            .unwrap();
        assert!(output.status.success());
        assert!(text(&output.stdout).contains("Example: profiledb"), "{sub}");
    }
}
