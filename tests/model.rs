//! Random sequences of upserts, events, deletions, merges, flushes, compactions and reopens
//! leave the database reading exactly like a simple in-memory model after every operation.

use crate::util::{same_value, TempDir};
use profiledb::{Database, Error, Options, SyncMode, TableKind, Value};
use proptest::prelude::*;
use roaring::RoaringBitmap;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

const PROFILE_COLUMNS: [&str; 6] = ["p_int", "p_float", "p_str", "p_bool", "p_ts", "p_list"];
const EVENT_COLUMNS: [&str; 3] = ["e_kind", "e_amount", "e_n"];
const PROFILES: u32 = 10;

#[derive(Debug, Clone)]
enum Op {
    Upsert(u32, Vec<(usize, u32)>),
    Event(u32, Vec<(usize, u32)>),
    Delete(u32),
    Merge(u32, u32),
    Flush,
    Compact,
    Reopen,
}

/// The value `k` means for column `column` (0 is NULL).
fn value_for(column: &str, k: u32) -> Value {
    if k == 0 {
        return Value::Null;
    }
    let i = i64::from(k);
    match column {
        "p_int" | "e_n" => Value::Int64(match k {
            1 => i64::MIN,
            2 => i64::MAX,
            _ => i * 1_000 - 5_000,
        }),
        "p_float" | "e_amount" => Value::Float64(match k {
            1 => f64::NAN,
            2 => -0.0,
            3 => f64::INFINITY,
            _ => f64::from(k) * 0.25 - 1.0,
        }),
        "p_str" | "e_kind" => Value::String(match k {
            1 => String::new(),
            2 => "Zürich 🎉".into(),
            _ => format!("value-{k}"),
        }),
        "p_bool" => Value::Bool(k.is_multiple_of(2)),
        "p_ts" => Value::Timestamp(1_700_000_000_000_000 + i * 1_000_000),
        "p_list" => Value::StringList((0..k % 4).map(|j| format!("tag{}", (k + j) % 5)).collect()),
        _ => unreachable!(),
    }
}

fn attributes(columns: &[&str], choice: &[(usize, u32)]) -> Vec<(String, Value)> {
    let mut seen = BTreeSet::new();
    choice
        .iter()
        .filter(|(c, _)| seen.insert(*c))
        .map(|(c, k)| (columns[*c].to_owned(), value_for(columns[*c], *k)))
        .collect()
}

fn op_strategy() -> impl Strategy<Value = Op> {
    let profile = 0..PROFILES;
    prop_oneof![
        8 => (profile.clone(), prop::collection::vec((0..6usize, 0..10u32), 0..5))
            .prop_map(|(p, a)| Op::Upsert(p, a)),
        5 => (profile.clone(), prop::collection::vec((0..3usize, 0..10u32), 0..4))
            .prop_map(|(p, a)| Op::Event(p, a)),
        2 => profile.clone().prop_map(Op::Delete),
        2 => (profile.clone(), profile)
            .prop_filter("distinct profiles", |(a, b)| a != b)
            .prop_map(|(s, a)| Op::Merge(s, a)),
        1 => Just(Op::Flush),
        1 => Just(Op::Compact),
        1 => Just(Op::Reopen),
    ]
}

type Cells = BTreeMap<String, Value>;

#[derive(Debug, Default)]
struct Model {
    profiles: BTreeMap<u32, Cells>,
    deleted: BTreeSet<u32>,
    events: BTreeMap<u32, (u32, Cells)>,
}

fn set_cells(cells: &mut Cells, attributes: &[(String, Value)]) {
    for (name, value) in attributes {
        if value.is_null() {
            cells.remove(name);
        } else {
            cells.insert(name.clone(), value.clone());
        }
    }
}

fn options() -> Options {
    Options {
        sync_mode: SyncMode::Never,
        compaction_trigger_segments: 0,
        ..Options::default()
    }
}

fn same_cells(actual: &[(String, Value)], expected: &Cells) -> bool {
    actual.len() == expected.len()
        && actual
            .iter()
            .all(|(k, v)| expected.get(k).is_some_and(|e| same_value(v, e)))
}

fn check(db: &Database, model: &Model, step: usize, op: &Op) -> Result<(), TestCaseError> {
    let snap = db.snapshot();
    let profiles: RoaringBitmap = model.profiles.keys().copied().collect();
    prop_assert_eq!(
        snap.live_rows(TableKind::Profiles),
        &profiles,
        "step {} {:?}: live profiles",
        step,
        op
    );
    prop_assert_eq!(snap.row_count(TableKind::Profiles), profiles.len());
    for (&p, cells) in &model.profiles {
        let row = snap.row(TableKind::Profiles, p).unwrap();
        let row = row.ok_or_else(|| TestCaseError::fail(format!("profile {p} missing")))?;
        prop_assert!(
            same_cells(&row, cells),
            "step {} {:?}: profile {}: engine {:?}, model {:?}",
            step,
            op,
            p,
            row,
            cells
        );
    }
    for &p in &model.deleted {
        prop_assert!(snap.row(TableKind::Profiles, p).unwrap().is_none());
    }
    let events: RoaringBitmap = model.events.keys().copied().collect();
    prop_assert_eq!(
        snap.live_rows(TableKind::Events),
        &events,
        "step {} {:?}: live events",
        step,
        op
    );
    prop_assert_eq!(snap.row_count(TableKind::Events), events.len());
    for (&e, (owner, cells)) in &model.events {
        prop_assert!(!model.deleted.contains(owner));
        let mut cells = cells.clone();
        cells.insert("profile_id".into(), Value::Int64(i64::from(*owner)));
        let row = snap.row(TableKind::Events, e).unwrap().unwrap_or_default();
        prop_assert!(
            same_cells(&row, &cells),
            "step {} {:?}: event {}: engine {:?}, model {:?}",
            step,
            op,
            e,
            row,
            cells
        );
    }
    Ok(())
}

fn run(ops: &[Op]) -> Result<(), TestCaseError> {
    let dir = TempDir::new("model");
    let mut db = Some(Database::open(dir.path(), options()).unwrap());
    let mut model = Model::default();
    let mut last_event: Option<u32> = None;
    for (step, op) in ops.iter().enumerate() {
        let handle = db.as_ref().unwrap();
        match op {
            Op::Upsert(p, choice) => {
                let attrs = attributes(&PROFILE_COLUMNS, choice);
                let result = handle.upsert_profile(*p, attrs.clone());
                if model.deleted.contains(p) {
                    prop_assert!(
                        matches!(result, Err(Error::RowDeleted { .. })),
                        "step {}: upsert of deleted {}: {:?}",
                        step,
                        p,
                        result
                    );
                } else {
                    result.unwrap();
                    set_cells(model.profiles.entry(*p).or_default(), &attrs);
                }
            }
            Op::Event(p, choice) => {
                let attrs = attributes(&EVENT_COLUMNS, choice);
                let result = handle.append_event(*p, attrs.clone());
                if model.deleted.contains(p) {
                    prop_assert!(
                        matches!(result, Err(Error::RowDeleted { .. })),
                        "event of deleted {}: {:?}",
                        p,
                        result
                    );
                } else {
                    let id = result.unwrap();
                    prop_assert!(
                        last_event.is_none_or(|last| id > last),
                        "event id {} reused or out of order (last {:?})",
                        id,
                        last_event
                    );
                    last_event = Some(id);
                    let mut cells = Cells::new();
                    set_cells(&mut cells, &attrs);
                    model.events.insert(id, (*p, cells));
                }
            }
            Op::Delete(p) => {
                handle.delete_profile(*p).unwrap();
                model.deleted.insert(*p);
                model.profiles.remove(p);
                model.events.retain(|_, (owner, _)| owner != p);
            }
            Op::Merge(survivor, absorbed) => {
                let result = handle.merge_profiles(*survivor, *absorbed);
                if model.deleted.contains(survivor) {
                    prop_assert!(
                        matches!(result, Err(Error::RowDeleted { .. })),
                        "merge into deleted survivor: {:?}",
                        result
                    );
                } else {
                    result.unwrap();
                    let taken = model.profiles.remove(absorbed).unwrap_or_default();
                    let kept = model.profiles.entry(*survivor).or_default();
                    for (name, value) in taken {
                        kept.entry(name).or_insert(value);
                    }
                    for (owner, _) in model.events.values_mut() {
                        if owner == absorbed {
                            *owner = *survivor;
                        }
                    }
                    model.deleted.insert(*absorbed);
                }
            }
            Op::Flush => handle.flush().unwrap(),
            Op::Compact => handle.compact().unwrap(),
            Op::Reopen => {
                db.take().unwrap().close().unwrap();
                db = Some(Database::open(dir.path(), options()).unwrap());
            }
        }
        check(db.as_ref().unwrap(), &model, step, op)?;
    }
    db.take().unwrap().close().unwrap();
    // A final reopen reads the same.
    let reopened = Database::open(dir.path(), options()).unwrap();
    check(&reopened, &model, ops.len(), &Op::Reopen)?;
    reopened.close().unwrap();
    let _: &Path = dir.path();
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        failure_persistence: None,
        max_shrink_iters: 300,
        ..ProptestConfig::default()
    })]

    #[test]
    fn database_matches_model(ops in prop::collection::vec(op_strategy(), 1..60)) {
        run(&ops)?;
    }
}
