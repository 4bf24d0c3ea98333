//! The demo's computed traits: aggregates over each profile's events, kept up to date as
//! messages arrive, readable by segment queries like any profile column.

use super::journey::DEMO_NOW;
use crate::error::ToolError;
use profiledb::engine::profiles::{Aggregate, ComputedTrait, Condition, Profiles, DAY_MICROS};
use profiledb::engine::scan::CompareOp;
use profiledb::{ColumnType, TableKind, Value, WriteBatch};

/// Every computed trait with the SQL-like text shown in the report.
pub(crate) fn definitions() -> Vec<(ComputedTrait, &'static str, ColumnType)> {
    let orders = || vec![event_is("Order Completed")];
    vec![
        (
            computed("orders", Aggregate::Count, orders(), None),
            "orders = COUNT(*) FROM events WHERE event = 'Order Completed'",
            ColumnType::Int64,
        ),
        (
            computed("lifetime_revenue", Aggregate::Sum("revenue".into()), orders(), None),
            "lifetime_revenue = SUM(revenue) FROM events WHERE event = 'Order Completed'",
            ColumnType::Float64,
        ),
        (
            computed("orders_30d", Aggregate::Count, orders(), Some(30)),
            "orders_30d = COUNT(*) FROM events WHERE event = 'Order Completed' WITHIN 30 days",
            ColumnType::Int64,
        ),
        (
            computed(
                "emails_opened_30d",
                Aggregate::Count,
                vec![event_is("Email Opened")],
                Some(30),
            ),
            "emails_opened_30d = COUNT(*) FROM events WHERE event = 'Email Opened' WITHIN 30 days",
            ColumnType::Int64,
        ),
        (
            computed(
                "devices",
                Aggregate::CountDistinct("anonymous_id".into()),
                Vec::new(),
                None,
            ),
            "devices = COUNT(DISTINCT anonymous_id) FROM events",
            ColumnType::Int64,
        ),
        (
            computed("last_seen", Aggregate::Max("timestamp".into()), Vec::new(), None),
            "last_seen = MAX(timestamp) FROM events",
            ColumnType::Timestamp,
        ),
        (
            computed(
                "favorite_category",
                Aggregate::MostFrequent("category".into()),
                orders(),
                None,
            ),
            "favorite_category = most frequent category FROM events WHERE event = 'Order Completed'",
            ColumnType::String,
        ),
    ]
}

fn event_is(name: &str) -> Condition {
    Condition {
        column: "event".to_owned(),
        op: CompareOp::Eq,
        value: Value::String(name.to_owned()),
    }
}

fn computed(
    name: &str,
    aggregate: Aggregate,
    event_filter: Vec<Condition>,
    window_days: Option<i64>,
) -> ComputedTrait {
    ComputedTrait {
        name: name.to_owned(),
        aggregate,
        event_filter,
        window: window_days.map(|d| d * DAY_MICROS),
    }
}

/// Sets the trait clock to the demo's "now" and defines every trait (before the messages
/// arrive, so ingestion maintains them incrementally). Each trait's column is declared with
/// its type right away, so segment queries can name it even while no profile has a value.
pub(crate) fn define(profiles: &Profiles) -> Result<Vec<&'static str>, ToolError> {
    profiles
        .advance_clock(DEMO_NOW)
        .map_err(ToolError::profiles("setting the computed-trait clock"))?;
    let mut texts = Vec::new();
    let mut columns = WriteBatch::new();
    for (definition, text, column_type) in definitions() {
        let name = definition.name.clone();
        profiles
            .create_trait(definition)
            .map_err(ToolError::profiles(format!(
                "defining computed trait {name}"
            )))?;
        columns.define_column(TableKind::Profiles, &name, column_type);
        texts.push(text);
    }
    profiles
        .database()
        .write(&columns)
        .map_err(ToolError::engine("declaring the computed-trait columns"))?;
    Ok(texts)
}
