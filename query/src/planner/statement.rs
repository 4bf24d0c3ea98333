//! Executes one parsed statement: queries, EXPLAIN, segment DDL and `SET now`.

use profiledb_engine::value::{ColumnType, Value};
use sqlparser::ast;

use super::select::{materialize_segment, plan_query, PROFILE_ID};
use super::PlanContext;
use crate::catalog::Catalog;
use crate::error::{position_of, QueryError};
use crate::exec::explain::explain;
use crate::exec::filter::Stats;
use crate::exec::run_select;
use crate::parser::Statement;
use crate::result::{QueryResult, StatementOutcome};
use crate::segment::SegmentDefinition;
use crate::session::Session;
use crate::temporal::parse_timestamp;

/// Runs a parsed statement.
///
/// # Errors
/// Any planning or execution error.
pub fn run_statement(
    catalog: &dyn Catalog,
    session: &mut Session,
    statement: &Statement,
) -> Result<StatementOutcome, QueryError> {
    let now = session.pinned_now().unwrap_or_else(|| catalog.now_micros());
    match statement {
        Statement::Standard(inner) => {
            let query = as_query(inner)?;
            let ctx = PlanContext::new(catalog, session.segments(), now);
            let plan = plan_query(&ctx, query, None)?;
            Ok(StatementOutcome::Rows(run_select(
                &plan,
                &mut Stats::new(),
            )?))
        }
        Statement::Explain { analyze, statement } => {
            run_explain(catalog, session, statement, *analyze, now)
        }
        Statement::CreateSegment {
            name,
            or_replace,
            query,
        } => create_segment(catalog, session, name, *or_replace, query, now),
        Statement::DropSegment { name, if_exists } => {
            let existed = session.segments_mut().remove(name)?;
            if !existed && !if_exists {
                return Err(QueryError::plan(
                    format!("segment \"{name}\" does not exist"),
                    None,
                ));
            }
            Ok(StatementOutcome::SegmentDropped {
                name: name.clone(),
                existed,
            })
        }
        Statement::ShowSegments => Ok(StatementOutcome::Rows(show_segments(
            catalog, session, now,
        )?)),
        Statement::SetNow { value } => {
            let micros = match value {
                None => None,
                Some(text) => Some(parse_timestamp(text).ok_or_else(|| {
                    QueryError::plan(
                        format!("invalid input syntax for type timestamp: \"{text}\""),
                        None,
                    )
                })?),
            };
            session.set_now(micros);
            Ok(StatementOutcome::NowSet(micros))
        }
        Statement::Trait(statement) => Err(QueryError::unsupported(
            format!(
                "{} here: computed traits live in a profiles database",
                statement.keyword()
            ),
            None,
        )),
    }
}

fn as_query(statement: &ast::Statement) -> Result<&ast::Query, QueryError> {
    match statement {
        ast::Statement::Query(query) => Ok(query),
        other => {
            let text = other.to_string();
            let kind: Vec<&str> = text.split_whitespace().take(2).collect();
            Err(QueryError::unsupported(
                format!(
                    "statement {} (only SELECT queries run here)",
                    kind.join(" ")
                ),
                position_of(other),
            ))
        }
    }
}

fn run_explain(
    catalog: &dyn Catalog,
    session: &Session,
    statement: &Statement,
    analyze: bool,
    now: i64,
) -> Result<StatementOutcome, QueryError> {
    let Statement::Standard(inner) = statement else {
        return Err(QueryError::unsupported(
            "EXPLAIN of anything but a SELECT",
            None,
        ));
    };
    let query = as_query(inner)?;
    let ctx = PlanContext::new(catalog, session.segments(), now);
    let plan = plan_query(&ctx, query, None)?;
    let lines = if analyze {
        let mut stats = Stats::new();
        let result = run_select(&plan, &mut stats)?;
        explain(&plan, Some(&stats), Some(result.rows.len()))
    } else {
        explain(&plan, None, None)
    };
    Ok(StatementOutcome::Rows(QueryResult {
        columns: vec![("plan".to_owned(), ColumnType::String)],
        rows: lines.into_iter().map(|l| vec![Value::String(l)]).collect(),
    }))
}

fn create_segment(
    catalog: &dyn Catalog,
    session: &mut Session,
    name: &str,
    or_replace: bool,
    query: &ast::Query,
    now: i64,
) -> Result<StatementOutcome, QueryError> {
    if catalog.table(name).is_some() {
        return Err(QueryError::plan(
            format!("\"{name}\" is a table; a segment needs another name"),
            None,
        ));
    }
    let exists = session.segments().get(name).is_some();
    if exists && !or_replace {
        return Err(QueryError::plan(
            format!("segment \"{name}\" already exists"),
            None,
        ));
    }
    {
        // Validate now, so a broken definition is never stored.
        let ctx = PlanContext::new(catalog, session.segments(), now);
        let plan = plan_query(&ctx, query, None)?;
        let has_id = plan
            .output
            .iter()
            .any(|(n, t)| n == PROFILE_ID && matches!(t, Some(ColumnType::Int64)));
        if !has_id {
            return Err(QueryError::plan("a segment query must return a profile_id column (e.g. SELECT profile_id FROM profiles WHERE …)", position_of(query)));
        }
    }
    session.segments_mut().put(SegmentDefinition {
        name: name.to_owned(),
        sql: query.to_string(),
    })?;
    Ok(StatementOutcome::SegmentCreated {
        name: name.to_owned(),
        replaced: exists,
    })
}

fn show_segments(
    catalog: &dyn Catalog,
    session: &Session,
    now: i64,
) -> Result<QueryResult, QueryError> {
    let ctx = PlanContext::new(catalog, session.segments(), now);
    let mut rows = Vec::new();
    for definition in session.segments().list() {
        let members = materialize_segment(&ctx, &definition.name)?;
        rows.push(vec![
            Value::String(definition.name),
            Value::String(definition.sql),
            Value::Int64(i64::try_from(members.len()).unwrap_or(i64::MAX)),
        ]);
    }
    Ok(QueryResult {
        columns: vec![
            ("name".to_owned(), ColumnType::String),
            ("definition".to_owned(), ColumnType::String),
            ("profiles".to_owned(), ColumnType::Int64),
        ],
        rows,
    })
}
