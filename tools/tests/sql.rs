//! End-to-end tests of `profiledb sql`.

mod common;

use common::{ok, profiledb, profiledb_with_stdin, serial, small_db, text, TempDir};
use serde_json::Value as Json;

const QUERY: &str = "SELECT profile_id, email, plan, ltv, vip, visits, signed_up, tags \
                     FROM profiles ORDER BY profile_id";

#[test]
fn table_format_is_aligned_with_a_row_count() {
    let _serial = serial();
    let tmp = TempDir::new("sql-table");
    let data = tmp.path().join("db");
    small_db(&data);
    let stdout = ok(&profiledb(&data, &["sql", QUERY]));
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].starts_with("profile_id | email"), "{stdout}");
    assert!(lines[1].starts_with("-----------+-"), "{stdout}");
    assert!(lines[2].contains("alice@example.com"), "{stdout}");
    assert!(lines[2].contains("2026-06-01 00:00:00"), "{stdout}");
    assert_eq!(*lines.last().unwrap(), "(4 rows)");
    assert!(stdout.contains("NULL"), "{stdout}");
}

#[test]
fn csv_output_parses_back_to_the_same_values() {
    let _serial = serial();
    let tmp = TempDir::new("sql-csv");
    let data = tmp.path().join("db");
    small_db(&data);
    let stdout = ok(&profiledb(&data, &["sql", QUERY, "--format", "csv"]));
    let mut reader = csv::Reader::from_reader(stdout.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        header,
        [
            "profile_id",
            "email",
            "plan",
            "ltv",
            "vip",
            "visits",
            "signed_up",
            "tags"
        ]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 4);
    let alice = &rows[0];
    assert_eq!(&alice[1], "alice@example.com");
    assert_eq!(alice[3].parse::<f64>().unwrap(), 120.5);
    assert_eq!(&alice[4], "true");
    assert_eq!(alice[5].parse::<i64>().unwrap(), -5);
    assert_eq!(&alice[6], "2026-06-01T00:00:00Z");
    let tags: Vec<String> = serde_json::from_str(&alice[7]).unwrap();
    assert_eq!(tags, ["a, \"quoted\" tag", "x"]);
    assert_eq!(&rows[1][6], "2026-06-01T00:00:01.5Z");
    let carol_tags: Vec<String> = serde_json::from_str(&rows[2][7]).unwrap();
    assert_eq!(carol_tags, ["line\nbreak", "x"]);
    // Profile 3 has only a plan: every other field is empty (NULL).
    assert_eq!(&rows[3][2], "free");
    assert!(rows[3].iter().skip(3).all(str::is_empty));
}

#[test]
fn json_output_parses_back_to_the_same_values() {
    let _serial = serial();
    let tmp = TempDir::new("sql-json");
    let data = tmp.path().join("db");
    small_db(&data);
    let stdout = ok(&profiledb(&data, &["sql", QUERY, "--format", "json"]));
    let rows: Vec<Json> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[0]["email"], "alice@example.com");
    assert_eq!(rows[0]["ltv"], 120.5);
    assert_eq!(rows[0]["vip"], true);
    assert_eq!(rows[0]["visits"], -5);
    assert_eq!(rows[0]["signed_up"], "2026-06-01T00:00:00Z");
    assert_eq!(
        rows[0]["tags"],
        serde_json::json!(["a, \"quoted\" tag", "x"])
    );
    assert_eq!(rows[3]["email"], Json::Null);
    assert_eq!(rows[3]["profile_id"], 3);
    // Keys keep the column order.
    assert!(stdout
        .lines()
        .next()
        .unwrap()
        .starts_with("{\"profile_id\":0,\"email\""));
}

#[test]
fn a_script_on_stdin_runs_every_statement() {
    let _serial = serial();
    let tmp = TempDir::new("sql-stdin");
    let data = tmp.path().join("db");
    small_db(&data);
    let script = b"-- a comment; with a semicolon\n\
        SELECT COUNT(*) AS n FROM profiles;\n\
        SET now = '2026-06-02T00:00:00Z';\n\
        CREATE SEGMENT pro AS\n  SELECT profile_id FROM profiles WHERE plan = 'pro';\n\
        SELECT COUNT(*) AS members FROM pro; SELECT 'a;b' AS s;\n\
        \\segments\n\
        SELECT event FROM events WHERE revenue > 1";
    let stdout = ok(&profiledb_with_stdin(&data, &["sql"], script));
    for needle in [
        "n\n-\n4\n(1 row)",
        "SET now = 2026-06-02T00:00:00Z",
        "CREATE SEGMENT pro",
        "members\n-------\n      2\n(1 row)",
        "a;b",
        "Order Completed",
    ] {
        assert!(stdout.contains(needle), "missing {needle:?} in\n{stdout}");
    }
    assert!(!stdout.contains("profiledb=>"), "no prompt for scripts");
}

#[test]
fn an_error_names_its_position_and_exits_1() {
    let _serial = serial();
    let tmp = TempDir::new("sql-error");
    let data = tmp.path().join("db");
    small_db(&data);
    let output = profiledb(&data, &["sql", "SELECT nope FROM profiles"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(stderr.contains("line 1, column 8"), "{stderr}");

    // In a script, the position is that of the whole input, and later statements do not run.
    let script = b"SELECT 1;\nSELECT 2;\nSELECT plan FROM profiles WHERE;\nSELECT 'after';";
    let output = profiledb_with_stdin(&data, &["sql"], script);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("syntax error at line 3, column "),
        "{stderr}"
    );
    assert!(!text(&output.stdout).contains("after"));
}

#[test]
fn backslash_d_lists_columns_with_types() {
    let _serial = serial();
    let tmp = TempDir::new("sql-d");
    let data = tmp.path().join("db");
    small_db(&data);
    let stdout = ok(&profiledb_with_stdin(
        &data,
        &["sql"],
        b"\\d profiles\n\\timing\nSELECT 1;\n",
    ));
    assert!(
        stdout.contains("profiles | ltv        | float64"),
        "{stdout}"
    );
    assert!(
        stdout.contains("profiles | tags       | string_list"),
        "{stdout}"
    );
    assert!(stdout.contains("Time: "), "{stdout}");
}

#[test]
fn profile_by_profile_id_prints_attributes_and_latest_events() {
    let _serial = serial();
    let tmp = TempDir::new("profile-id");
    let data = tmp.path().join("db");
    small_db(&data);
    let stdout = ok(&profiledb(&data, &["profile", "profile_id:2"]));
    let json: Json = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["profile_id"], 2);
    assert_eq!(json["attributes"]["email"], "carol@example.com");
    assert_eq!(json["attributes"]["signed_up"], "2026-06-01T00:00:03Z");
    assert_eq!(json["event_count"], 1);
    assert_eq!(json["latest_events"][0]["event"], "Order Completed");
    assert_eq!(json["latest_events"][0]["revenue"], 2.5);
    assert!(stdout.starts_with("{\n  \"profile_id\": 2,"), "{stdout}");

    let missing = profiledb(&data, &["profile", "profile_id:99"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(text(&missing.stderr).contains("no profile found for profile_id:99"));
    assert_eq!(
        profiledb(&data, &["profile", "bogus"]).status.code(),
        Some(2)
    );
}

#[test]
fn a_segment_created_in_one_session_is_kept_and_current_in_the_next() {
    let _serial = serial();
    let tmp = TempDir::new("sql-segments");
    let data = tmp.path().join("db");
    small_db(&data);
    ok(&profiledb(
        &data,
        &[
            "sql",
            "CREATE SEGMENT pro_users AS SELECT profile_id FROM profiles WHERE plan = 'pro'",
        ],
    ));
    let before = ok(&profiledb(
        &data,
        &["sql", "SELECT COUNT(*) FROM pro_users", "--format", "csv"],
    ));
    let listed = ok(&profiledb(
        &data,
        &["sql", "SHOW SEGMENTS", "--format", "csv"],
    ));
    assert!(listed.contains("pro_users"), "{listed}");
    ok(&profiledb(&data, &["sql", "DROP SEGMENT pro_users"]));
    let after = profiledb(&data, &["sql", "SELECT COUNT(*) FROM pro_users"]);
    assert_eq!(after.status.code(), Some(1), "{}", text(&after.stderr));
    assert!(
        before
            .lines()
            .nth(1)
            .is_some_and(|count| count.parse::<u64>().is_ok()),
        "{before}"
    );
}
