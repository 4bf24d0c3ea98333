//! End-to-end tests of `profiledb import`.

mod common;

use common::{ok, profiledb, profiledb_with_stdin, serial, text, TempDir};
use profiledb::{ColumnType, Database, Options, TableKind, Value};
use std::io::Write;
use std::path::Path;

const GOOD: &str = "email,age,ltv,vip,signed_up,zip,tags\n\
alice@example.com,31,10.5,true,2026-01-01T00:00:00Z,02139,\"[\"\"a\"\",\"\"b\"\"]\"\n\
bob@example.com,,1,false,,10001,[]\n\
\"carol, jr@example.com\",40,2,TRUE,2026-02-01T10:00:00+02:00,,\n";

fn write(path: &Path, content: &str) {
    std::fs::write(path, content).unwrap();
}

/// (schema, rows) of a table, values in column order, NULLs included.
fn table(data: &Path, table: TableKind) -> (Vec<(String, ColumnType)>, Vec<Vec<Value>>) {
    let db = Database::open(data, Options::default()).unwrap();
    let snap = db.snapshot();
    let columns: Vec<(String, ColumnType)> = snap
        .schema(table)
        .columns()
        .iter()
        .map(|c| (c.name.clone(), c.column_type))
        .collect();
    let rows = snap
        .live_rows(table)
        .iter()
        .map(|row| {
            columns
                .iter()
                .map(|(name, _)| snap.get(table, row, name).unwrap())
                .collect()
        })
        .collect();
    drop(snap);
    db.close().unwrap();
    (columns, rows)
}

fn s(v: &str) -> Value {
    Value::String(v.to_owned())
}

#[test]
fn a_good_csv_is_imported_with_inferred_types() {
    let _serial = serial();
    let tmp = TempDir::new("import-good");
    let data = tmp.path().join("db");
    let file = tmp.path().join("people.csv");
    write(&file, GOOD);
    let stdout = ok(&profiledb(&data, &["import", file.to_str().unwrap()]));
    assert!(
        stdout.contains("read 3 rows: 3 imported, 0 rejected"),
        "{stdout}"
    );
    assert!(stdout.contains("rows/s"), "{stdout}");
    assert!(!tmp.path().join("people.csv.rejects").exists());
    let (columns, rows) = table(&data, TableKind::Profiles);
    let types: Vec<ColumnType> = columns.iter().map(|c| c.1).collect();
    assert_eq!(
        types,
        [
            ColumnType::String,
            ColumnType::Int64,
            ColumnType::Float64,
            ColumnType::Bool,
            ColumnType::Timestamp,
            ColumnType::String,
            ColumnType::StringList
        ]
    );
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0][0], s("alice@example.com"));
    assert_eq!(rows[0][4], Value::Timestamp(1_767_225_600_000_000));
    assert_eq!(rows[0][6], Value::StringList(vec!["a".into(), "b".into()]));
    assert_eq!(rows[1][1], Value::Null);
    assert_eq!(rows[2][0], s("carol, jr@example.com"));
    assert_eq!(rows[2][4], Value::Timestamp(1_769_932_800_000_000));
    assert!(profiledb(&data, &["check"]).status.success());
}

#[test]
fn schema_override_sets_types() {
    let _serial = serial();
    let tmp = TempDir::new("import-schema");
    let data = tmp.path().join("db");
    let file = tmp.path().join("people.csv");
    write(&file, GOOD);
    ok(&profiledb(
        &data,
        &[
            "import",
            file.to_str().unwrap(),
            "--schema",
            "zip:string,age:float64",
        ],
    ));
    let (columns, rows) = table(&data, TableKind::Profiles);
    assert_eq!(columns[1], ("age".to_owned(), ColumnType::Float64));
    assert_eq!(columns[5], ("zip".to_owned(), ColumnType::String));
    assert_eq!(rows[0][5], s("02139"));
    let output = profiledb(
        &data,
        &["import", file.to_str().unwrap(), "--schema", "zip:text"],
    );
    assert_eq!(
        output.status.code(),
        Some(2),
        "unknown type is a usage error"
    );
}

#[test]
fn bad_rows_are_rejected_with_line_numbers_and_good_rows_kept() {
    let _serial = serial();
    let tmp = TempDir::new("import-mixed");
    let data = tmp.path().join("db");
    let file = tmp.path().join("mixed.csv");
    write(
        &file,
        "id,email,age\n1,a@x.com,30\n2,b@x.com,old\n\n3,\"c@x\n.com\",41\nx,d@x.com,5\n4,e@x.com\n5,f@x.com,50\n",
    );
    let output = profiledb(
        &data,
        &[
            "import",
            file.to_str().unwrap(),
            "--id",
            "id",
            "--schema",
            "age:int64",
        ],
    );
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains("read 6 rows: 3 imported, 3 rejected"),
        "{stdout}"
    );
    let rejects = std::fs::read_to_string(tmp.path().join("mixed.csv.rejects")).unwrap();
    assert_eq!(
        rejects,
        "line 3: column `age`: `old` is not an int64\n2,b@x.com,old\n\
         line 7: column `id`: `x` is not a profile id (0 to 4294967295)\nx,d@x.com,5\n\
         line 8: expected 3 fields, found 2\n4,e@x.com\n"
    );
    let (_, rows) = table(&data, TableKind::Profiles);
    let emails: Vec<Value> = rows.iter().map(|r| r[0].clone()).collect();
    assert_eq!(emails, [s("a@x.com"), s("c@x\n.com"), s("f@x.com")]);
    let db = Database::open(&data, Options::default()).unwrap();
    assert_eq!(
        db.snapshot().get(TableKind::Profiles, 5, "age").unwrap(),
        Value::Int64(50)
    );
}

#[test]
fn strict_writes_nothing_when_a_row_is_bad() {
    let _serial = serial();
    let tmp = TempDir::new("import-strict");
    let data = tmp.path().join("db");
    let file = tmp.path().join("bad.csv");
    write(&file, "email,age\na@x.com,30\nb@x.com,old\n");
    let rejects = tmp.path().join("why.txt");
    let output = profiledb(
        &data,
        &[
            "import",
            file.to_str().unwrap(),
            "--strict",
            "--schema",
            "age:int64",
            "--rejects",
            rejects.to_str().unwrap(),
        ],
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stdout).contains("nothing was imported"));
    assert!(std::fs::read_to_string(&rejects)
        .unwrap()
        .starts_with("line 3: column `age`"));
    assert!(!data.exists(), "no database was created");
}

#[test]
fn strict_from_stdin_into_an_existing_database_writes_nothing() {
    let _serial = serial();
    let tmp = TempDir::new("import-strict-stdin");
    let data = tmp.path().join("db");
    let good = b"email,age\nz@x.com,1\n";
    ok(&profiledb_with_stdin(
        &data,
        &["import", "-", "--format", "csv"],
        good,
    ));
    let bad = b"email,age\na@x.com,30\nb@x.com,old\n";
    let rejects = tmp.path().join("r");
    let output = profiledb_with_stdin(
        &data,
        &[
            "import",
            "-",
            "--format",
            "csv",
            "--strict",
            "--rejects",
            rejects.to_str().unwrap(),
        ],
        bad,
    );
    assert_eq!(output.status.code(), Some(1));
    let (_, rows) = table(&data, TableKind::Profiles);
    assert_eq!(rows, [vec![s("z@x.com"), Value::Int64(1)]]);
}

#[test]
fn gzip_input_and_events() {
    let _serial = serial();
    let tmp = TempDir::new("import-gz");
    let data = tmp.path().join("db");
    let file = tmp.path().join("events.csv.gz");
    let mut encoder = flate2::write::GzEncoder::new(
        std::fs::File::create(&file).unwrap(),
        flate2::Compression::fast(),
    );
    writeln!(encoder, "who,event,revenue,at").unwrap();
    for i in 0..25_000u32 {
        writeln!(
            encoder,
            "{},Order Completed,{}.25,2026-03-01T00:00:{:02}Z",
            i % 100,
            i,
            i % 60
        )
        .unwrap();
    }
    encoder.finish().unwrap();
    let output = profiledb(
        &data,
        &["import", file.to_str().unwrap(), "--kind", "events"],
    );
    assert_eq!(
        output.status.code(),
        Some(2),
        "events need --profile-column"
    );
    let stdout = ok(&profiledb(
        &data,
        &[
            "import",
            file.to_str().unwrap(),
            "--kind",
            "events",
            "--profile-column",
            "who",
        ],
    ));
    assert!(
        stdout.contains("read 25000 rows: 25000 imported"),
        "{stdout}"
    );
    let sql = "SELECT COUNT(*) AS n, SUM(revenue) AS total FROM events WHERE profile_id = 7";
    let stdout = ok(&profiledb(&data, &["sql", sql, "--format", "csv"]));
    let expected: f64 = (0..25_000u32)
        .filter(|i| i % 100 == 7)
        .map(|i| f64::from(i) + 0.25)
        .sum();
    assert_eq!(stdout, format!("n,total\n250,{expected}\n"));
}

#[test]
fn sql_csv_output_imports_back() {
    let _serial = serial();
    let tmp = TempDir::new("import-roundtrip");
    let data = tmp.path().join("db");
    let file = tmp.path().join("people.csv");
    write(&file, GOOD);
    ok(&profiledb(&data, &["import", file.to_str().unwrap()]));
    let exported = ok(&profiledb(
        &data,
        &["sql", "SELECT * FROM profiles", "--format", "csv"],
    ));
    let copy = tmp.path().join("copy");
    ok(&profiledb_with_stdin(
        &copy,
        &["import", "-", "--format", "csv"],
        exported.as_bytes(),
    ));
    assert_eq!(
        table(&data, TableKind::Profiles),
        table(&copy, TableKind::Profiles)
    );
}
