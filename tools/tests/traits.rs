//! `profiledb sql` with computed traits: defined by `CREATE TRAIT`, then queried and used by
//! segments like any profile column.

mod common;

use common::{ok, profiledb, profiledb_with_stdin, serial, text, TempDir};

const MESSAGES: &str = r#"{"type":"identify","messageId":"m1","userId":"ann","timestamp":"2026-05-01T10:00:00Z","traits":{"plan":"pro"}}
{"type":"track","messageId":"m2","userId":"ann","timestamp":"2026-05-02T10:00:00Z","event":"Order Completed","properties":{"revenue":40.5,"category":"hats"}}
{"type":"track","messageId":"m3","userId":"ann","timestamp":"2026-05-03T10:00:00Z","event":"Order Completed","properties":{"revenue":9.5,"category":"hats"}}
{"type":"track","messageId":"m4","userId":"bob","timestamp":"2026-05-04T10:00:00Z","event":"Order Completed","properties":{"revenue":3,"category":"socks"}}
{"type":"page","messageId":"m5","userId":"bob","timestamp":"2026-05-05T10:00:00Z","name":"Home"}
"#;

#[test]
fn traits_are_created_queried_shown_and_dropped_through_sql() {
    let _serial = serial();
    let tmp = TempDir::new("sql-traits");
    let data = tmp.path().join("db");
    let file = tmp.path().join("events.ndjson");
    std::fs::write(&file, MESSAGES).unwrap();
    ok(&profiledb(&data, &["import", file.to_str().unwrap()]));

    let created = ok(&profiledb(
        &data,
        &[
            "sql",
            "CREATE TRAIT revenue_total AS sum(revenue) FROM events WHERE event = 'Order Completed'",
        ],
    ));
    assert_eq!(created.trim(), "CREATE TRAIT revenue_total");

    // A script: another trait, a segment over both, and a query, in one session.
    let script = "CREATE TRAIT favourite AS mode(category) FROM events;\n\
                  CREATE SEGMENT big AS SELECT profile_id FROM profiles WHERE revenue_total > 20;\n\
                  SELECT revenue_total, favourite FROM profiles WHERE profile_id IN (SELECT profile_id FROM big);\n";
    let output = ok(&profiledb_with_stdin(
        &data,
        &["sql", "--format", "csv"],
        script.as_bytes(),
    ));
    assert_eq!(output, "revenue_total,favourite\n50,hats\n", "{output}");

    let shown = ok(&profiledb(
        &data,
        &["sql", "--format", "csv", "SHOW TRAITS"],
    ));
    assert!(
        shown.contains("revenue_total,CREATE TRAIT revenue_total AS sum(revenue) FROM events WHERE event = 'Order Completed',float64"),
        "{shown}"
    );

    let refused = profiledb(
        &data,
        &[
            "sql",
            "CREATE TRAIT t AS count(*) FROM events WHERE a = 1 OR b = 2",
        ],
    );
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused.stdout));
    let message = text(&refused.stderr);
    assert!(
        message.contains("OR") && message.contains("line 1, column 46"),
        "{message}"
    );

    let dropped = ok(&profiledb(&data, &["sql", "DROP TRAIT favourite"]));
    assert_eq!(dropped.trim(), "DROP TRAIT favourite");
    let shown = ok(&profiledb(
        &data,
        &["sql", "--format", "csv", "SHOW TRAITS"],
    ));
    assert_eq!(shown.lines().count(), 2, "{shown}");
}
