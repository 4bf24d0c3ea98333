//! The deterministic dataset every integration test queries.

#![allow(dead_code)]

use profiledb_query::temporal::parse_timestamp;
use profiledb_query::{Catalog, ColumnType, MemCatalog, MemTable, TableSource, Value};

/// The catalog clock: 2026-06-01 00:00:00 UTC.
pub const NOW: &str = "2026-06-01 00:00:00";

fn ts(text: &str) -> Value {
    Value::Timestamp(parse_timestamp(text).expect("valid test timestamp"))
}

fn s(text: &str) -> Value {
    Value::String(text.to_owned())
}

fn list(items: &[&str]) -> Value {
    Value::StringList(items.iter().map(|i| (*i).to_owned()).collect())
}

const N: Value = Value::Null;

fn table(columns: &[(&str, ColumnType)], rows: Vec<Vec<Value>>) -> MemTable {
    let mut t = MemTable::new(
        columns
            .iter()
            .map(|(n, ty)| ((*n).to_owned(), *ty))
            .collect(),
    );
    for row in rows {
        t.push_row(row).expect("test row fits");
    }
    t
}

/// Profiles, events and identities with NULLs, unicode, lists and timestamps.
pub fn catalog() -> MemCatalog {
    use ColumnType::{Bool, Float64, Int64, String as Str, StringList, Timestamp};
    let mut catalog = MemCatalog::new(parse_timestamp(NOW).expect("valid now"));
    let profiles = table(
        &[
            ("profile_id", Int64),
            ("user_id", Str),
            ("email", Str),
            ("name", Str),
            ("country", Str),
            ("age", Int64),
            ("ltv", Float64),
            ("vip", Bool),
            ("tags", StringList),
            ("signup_at", Timestamp),
            ("address.city", Str),
        ],
        vec![
            vec![
                Value::Int64(0),
                s("u0"),
                s("alice@example.com"),
                s("Alice"),
                s("FR"),
                Value::Int64(34),
                Value::Float64(120.5),
                Value::Bool(true),
                list(&["vip", "newsletter"]),
                ts("2025-01-15 10:00:00"),
                s("Paris"),
            ],
            vec![
                Value::Int64(1),
                s("u1"),
                s("bob@example.com"),
                s("Bob"),
                s("US"),
                Value::Int64(28),
                Value::Float64(40.0),
                Value::Bool(false),
                list(&["newsletter"]),
                ts("2025-06-01 00:00:00"),
                s("New York"),
            ],
            vec![
                Value::Int64(2),
                N,
                s("carol@example.org"),
                s("Carol"),
                s("FR"),
                N,
                N,
                N,
                N,
                ts("2026-01-10 08:30:00"),
                s("Lyon"),
            ],
            vec![
                Value::Int64(3),
                s("u3"),
                s("dave@example.com"),
                s("Dave"),
                s("DE"),
                Value::Int64(45),
                Value::Float64(300.0),
                Value::Bool(true),
                list(&["vip"]),
                ts("2024-12-31 23:59:59"),
                s("Berlin"),
            ],
            vec![
                Value::Int64(4),
                s("u4"),
                N,
                s("Zoë"),
                s("FR"),
                Value::Int64(19),
                Value::Float64(0.0),
                Value::Bool(false),
                list(&[]),
                ts("2026-05-20 12:00:00"),
                N,
            ],
            vec![
                Value::Int64(5),
                s("u5"),
                s("eve@EXAMPLE.com"),
                s("Eve"),
                N,
                Value::Int64(52),
                Value::Float64(75.25),
                N,
                list(&["beta", "vip"]),
                N,
                s("Paris"),
            ],
            vec![
                Value::Int64(6),
                s("u6"),
                s("frank_%@example.com"),
                s("Frank"),
                s("US"),
                Value::Int64(31),
                Value::Float64(15.5),
                Value::Bool(false),
                list(&["beta"]),
                ts("2026-05-30 00:00:00"),
                s("Boston"),
            ],
            vec![
                Value::Int64(7),
                s("u7"),
                s("gus@example.net"),
                s("Gus"),
                s("JP"),
                Value::Int64(28),
                Value::Float64(990.0),
                Value::Bool(true),
                list(&["vip", "beta", "newsletter"]),
                ts("2026-03-01 00:00:00"),
                s("Tokyo"),
            ],
            vec![
                Value::Int64(8),
                s("u8"),
                N,
                s("Ünal"),
                s("DE"),
                N,
                Value::Float64(10.0),
                Value::Bool(false),
                N,
                ts("2026-05-31 23:00:00"),
                s("München"),
            ],
            vec![
                Value::Int64(9),
                s("u9"),
                s("hana@example.com"),
                s("Hana"),
                s("JP"),
                Value::Int64(64),
                N,
                Value::Bool(true),
                list(&["newsletter"]),
                ts("2025-11-11 00:00:00"),
                s("Kyoto"),
            ],
        ],
    );
    let ev = |pid: Option<i64>,
              kind: &str,
              event: &str,
              at: &str,
              id: &str,
              revenue: Option<f64>,
              product: Option<&str>| {
        vec![
            pid.map_or(N, Value::Int64),
            s(kind),
            s(event),
            ts(at),
            s(id),
            revenue.map_or(N, Value::Float64),
            product.map_or(N, s),
        ]
    };
    let events = table(
        &[
            ("profile_id", Int64),
            ("type", Str),
            ("event", Str),
            ("timestamp", Timestamp),
            ("message_id", Str),
            ("revenue", Float64),
            ("product", Str),
        ],
        vec![
            ev(
                Some(0),
                "track",
                "Order Completed",
                "2026-05-10 10:00:00",
                "m0",
                Some(50.0),
                Some("shoes"),
            ),
            ev(
                Some(0),
                "track",
                "Order Completed",
                "2026-05-20 11:00:00",
                "m1",
                Some(80.0),
                Some("hat"),
            ),
            ev(
                Some(0),
                "page",
                "Page Viewed",
                "2026-05-21 09:00:00",
                "m2",
                None,
                None,
            ),
            ev(
                Some(1),
                "track",
                "Order Completed",
                "2026-04-01 12:00:00",
                "m3",
                Some(200.0),
                Some("coat"),
            ),
            ev(
                Some(1),
                "track",
                "Order Completed",
                "2026-05-25 08:00:00",
                "m4",
                Some(20.0),
                Some("socks"),
            ),
            ev(
                Some(3),
                "track",
                "Order Completed",
                "2026-05-03 10:00:00",
                "m5",
                Some(150.0),
                Some("bike"),
            ),
            ev(
                Some(3),
                "track",
                "Order Completed",
                "2026-05-04 10:00:00",
                "m6",
                None,
                Some("bell"),
            ),
            ev(
                Some(3),
                "track",
                "Order Completed",
                "2026-05-30 10:00:00",
                "m7",
                Some(5.0),
                Some("bell"),
            ),
            ev(
                Some(4),
                "page",
                "Page Viewed",
                "2026-05-31 18:00:00",
                "m8",
                None,
                None,
            ),
            ev(
                Some(7),
                "track",
                "Order Completed",
                "2026-05-31 23:59:59",
                "m9",
                Some(120.0),
                Some("watch"),
            ),
            ev(
                Some(7),
                "track",
                "Signed Up",
                "2026-03-01 00:00:00",
                "m10",
                None,
                None,
            ),
            ev(
                Some(9),
                "track",
                "Order Completed",
                "2025-12-25 10:00:00",
                "m11",
                Some(60.0),
                Some("tea"),
            ),
            ev(
                None,
                "page",
                "Page Viewed",
                "2026-05-15 10:00:00",
                "m12",
                None,
                None,
            ),
        ],
    );
    let identities = table(
        &[
            ("profile_id", Int64),
            ("type", Str),
            ("value", Str),
            ("first_seen", Timestamp),
            ("last_seen", Timestamp),
        ],
        vec![
            vec![
                Value::Int64(0),
                s("email"),
                s("alice@example.com"),
                ts("2025-01-15 10:00:00"),
                ts("2026-05-20 11:00:00"),
            ],
            vec![
                Value::Int64(0),
                s("user_id"),
                s("u0"),
                ts("2025-01-15 10:00:00"),
                ts("2026-05-21 09:00:00"),
            ],
            vec![
                Value::Int64(1),
                s("email"),
                s("bob@example.com"),
                ts("2025-06-01 00:00:00"),
                ts("2026-05-25 08:00:00"),
            ],
            vec![
                Value::Int64(7),
                s("anonymous_id"),
                s("anon-7"),
                ts("2026-02-01 00:00:00"),
                ts("2026-03-01 00:00:00"),
            ],
        ],
    );
    catalog.insert("profiles", profiles);
    catalog.insert("events", events);
    catalog.insert("identities", identities);
    catalog
}

/// The test dataset written into a real engine database: profiles flushed to a segment file,
/// events left in the in-memory head, so queries cross both kinds of layer.
pub struct StoredDataset {
    /// The open database.
    pub database: profiledb_engine::Database,
    dir: std::path::PathBuf,
}

/// Lends a table of another catalog to a [`SnapshotCatalog`].
struct Borrowed<'a>(&'a dyn TableSource);

impl TableSource for Borrowed<'_> {
    fn columns(&self) -> Vec<(String, ColumnType)> {
        self.0.columns()
    }
    fn row_count(&self) -> u64 {
        self.0.row_count()
    }
    fn all_rows(&self) -> Result<roaring::RoaringBitmap, profiledb_query::QueryError> {
        self.0.all_rows()
    }
    fn filter(
        &self,
        column: &str,
        predicate: &profiledb_query::LeafPredicate,
    ) -> Result<(roaring::RoaringBitmap, profiledb_query::AccessPath), profiledb_query::QueryError>
    {
        self.0.filter(column, predicate)
    }
    fn null_rows(
        &self,
        column: &str,
    ) -> Result<roaring::RoaringBitmap, profiledb_query::QueryError> {
        self.0.null_rows(column)
    }
    fn fetch(
        &self,
        column: &str,
        rows: &roaring::RoaringBitmap,
    ) -> Result<Vec<Value>, profiledb_query::QueryError> {
        self.0.fetch(column, rows)
    }
}

impl StoredDataset {
    /// Writes `memory`'s profiles and events into a fresh database named after `label`.
    pub fn new(memory: &MemCatalog, label: &str) -> StoredDataset {
        use profiledb_engine::{Database, Options, SyncMode, TableKind, WriteBatch};
        let dir =
            std::env::temp_dir().join(format!("profiledb-slt-{label}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let options = Options {
            sync_mode: SyncMode::Never,
            ..Options::default()
        };
        let database = Database::open(&dir, options).expect("open test database");
        for (name, kind) in [
            ("profiles", TableKind::Profiles),
            ("events", TableKind::Events),
        ] {
            let table = memory.table(name).expect("dataset table");
            let columns = table.columns();
            let rows = table.all_rows().expect("rows");
            let values: Vec<Vec<Value>> = columns
                .iter()
                .map(|(column, _)| table.fetch(column, &rows).expect("fetch"))
                .collect();
            let mut batch = WriteBatch::new();
            for (column, column_type) in &columns {
                if column != "profile_id" {
                    batch.define_column(kind, column, *column_type);
                }
            }
            for (index, _) in rows.iter().enumerate() {
                let mut attributes = Vec::new();
                let mut profile = None;
                for ((column, _), column_values) in columns.iter().zip(&values) {
                    let value = column_values[index].clone();
                    if column == "profile_id" {
                        if let Value::Int64(id) = value {
                            profile = Some(u32::try_from(id).expect("small test ids"));
                        }
                    } else if !value.is_null() {
                        attributes.push((column.clone(), value));
                    }
                }
                // An event without a profile cannot exist in a database: ingestion resolves
                // every message to a profile. Records about such events are `skipif engine`.
                let Some(profile) = profile else { continue };
                match kind {
                    TableKind::Profiles => batch.upsert_profile(profile, attributes),
                    TableKind::Events => batch.append_event(profile, attributes),
                };
            }
            database.write(&batch).expect("write dataset");
            if kind == TableKind::Profiles {
                database.flush().expect("flush profiles");
            }
        }
        StoredDataset { database, dir }
    }

    /// A catalog over `snapshot`, with `identities` lent from `memory` and the same clock.
    pub fn catalog<'a>(
        &self,
        memory: &'a MemCatalog,
        snapshot: &'a profiledb_engine::Snapshot,
    ) -> profiledb_query::SnapshotCatalog<'a> {
        let identities = memory.table("identities").expect("identities table");
        profiledb_query::SnapshotCatalog::new(snapshot)
            .with_now(memory.now_micros())
            .with_table("identities", Box::new(Borrowed(identities)))
    }
}

impl Drop for StoredDataset {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
