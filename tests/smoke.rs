//! The basic life of a database: write, read, flush, reopen, compact, erase.

use crate::util::{s, TempDir};
use profiledb::{Database, Options, TableKind, Value};

#[test]
fn write_flush_reopen_compact() {
    let dir = TempDir::new("smoke");
    let db = Database::open(dir.path(), Options::default()).unwrap();
    for p in 0..1000u32 {
        db.upsert_profile(
            p,
            vec![
                ("plan".into(), s(if p % 3 == 0 { "pro" } else { "free" })),
                ("ltv".into(), Value::Float64(f64::from(p))),
            ],
        )
        .unwrap();
    }
    db.append_event(5, vec![("event".into(), s("Order Completed"))])
        .unwrap();
    let snap = db.snapshot();
    assert_eq!(snap.get(TableKind::Profiles, 3, "plan").unwrap(), s("pro"));
    db.flush().unwrap();
    db.upsert_profile(3, vec![("plan".into(), s("team"))])
        .unwrap();
    assert_eq!(
        snap.get(TableKind::Profiles, 3, "plan").unwrap(),
        s("pro"),
        "old snapshot unchanged"
    );
    let snap = db.snapshot();
    assert_eq!(snap.get(TableKind::Profiles, 3, "plan").unwrap(), s("team"));
    assert_eq!(
        snap.get(TableKind::Profiles, 3, "ltv").unwrap(),
        Value::Float64(3.0)
    );
    db.close().unwrap();

    let db = Database::open(dir.path(), Options::default()).unwrap();
    let snap = db.snapshot();
    assert_eq!(snap.get(TableKind::Profiles, 3, "plan").unwrap(), s("team"));
    assert_eq!(snap.row_count(TableKind::Profiles), 1000);
    assert_eq!(snap.row_count(TableKind::Events), 1);
    db.delete_profile(5).unwrap();
    db.compact().unwrap();
    let snap = db.snapshot();
    assert_eq!(snap.row_count(TableKind::Profiles), 999);
    assert_eq!(snap.row_count(TableKind::Events), 0);
    assert_eq!(
        snap.get(TableKind::Profiles, 6, "ltv").unwrap(),
        Value::Float64(6.0)
    );
    assert_eq!(
        snap.get(TableKind::Profiles, 5, "ltv").unwrap(),
        Value::Null
    );
    let (rows, stats) = profiledb::engine::scan::filter(
        &snap,
        TableKind::Profiles,
        "plan",
        &profiledb::engine::scan::Predicate::Compare(
            profiledb::engine::scan::CompareOp::Eq,
            s("pro"),
        ),
    )
    .unwrap();
    println!("{stats}");
    assert_eq!(
        rows.len(),
        (0..1000).filter(|p| p % 3 == 0 && *p != 3).count() as u64
    );
    db.close().unwrap();
}
