//! Computed-trait statements: `CREATE [OR REPLACE] TRAIT`, `DROP TRAIT`, `SHOW TRAITS`.
//!
//! `CREATE TRAIT name AS <aggregate> FROM events [WHERE <conjunction>] [WITHIN INTERVAL
//! '<n> days']` is translated here into the engine's [`ComputedTrait`]; the engine computes
//! the trait for every profile and keeps it current as events arrive, as a column of
//! `profiles`. The aggregates are `count(*)`, `sum`, `avg`, `min`, `max`, `first`, `last`,
//! `count(DISTINCT col)` and `mode(col)` — the most frequent value (ties: the smallest), named
//! after PostgreSQL's `mode() WITHIN GROUP (ORDER BY col)`, which is also accepted.

use profiledb_engine::profiles::{Aggregate, ComputedTrait, Condition, DAY_MICROS};
use profiledb_engine::scan::CompareOp;
use profiledb_engine::value::Value;
use sqlparser::ast::{
    BinaryOperator, DuplicateTreatment, Expr, FunctionArg, FunctionArgExpr, FunctionArguments,
    ObjectNamePart, UnaryOperator, Value as SqlValue,
};
use sqlparser::keywords::Keyword;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, TokenWithSpan};

use crate::error::{position_of, Position, QueryError};
use crate::parser::{error_at, is_word, normalize_ident, parse_error};
use crate::temporal::parse_timestamp;

/// The only table computed traits aggregate.
const EVENTS_TABLE: &str = "events";

/// A parsed computed-trait statement.
#[derive(Debug, Clone, PartialEq)]
pub enum TraitStatement {
    /// `CREATE [OR REPLACE] TRAIT name AS …`
    Create {
        /// The definition (its name is the trait's, folded like any identifier).
        definition: ComputedTrait,
        /// `OR REPLACE` given: an existing trait of that name is dropped first.
        or_replace: bool,
    },
    /// `DROP TRAIT [IF EXISTS] name`
    Drop {
        /// Trait name.
        name: String,
        /// `IF EXISTS` given.
        if_exists: bool,
    },
    /// `SHOW TRAITS`
    Show,
}

impl TraitStatement {
    /// The statement's leading words, for messages (`CREATE TRAIT`, …).
    #[must_use]
    pub fn keyword(&self) -> &'static str {
        match self {
            TraitStatement::Create { .. } => "CREATE TRAIT",
            TraitStatement::Drop { .. } => "DROP TRAIT",
            TraitStatement::Show => "SHOW TRAITS",
        }
    }
}

/// Whether the parser is at a trait statement (nothing is consumed).
pub(crate) fn at_trait_statement(parser: &Parser<'_>) -> bool {
    let peek = |n: usize, word: &str| is_word(&parser.peek_nth_token(n), word);
    (peek(0, "CREATE")
        && (peek(1, "TRAIT") || (peek(1, "OR") && peek(2, "REPLACE") && peek(3, "TRAIT"))))
        || (peek(0, "DROP") && peek(1, "TRAIT"))
        || (peek(0, "SHOW") && peek(1, "TRAITS"))
}

/// Parses the trait statement the parser is at (see [`at_trait_statement`]).
pub(crate) fn parse_trait_statement(parser: &mut Parser<'_>) -> Result<TraitStatement, QueryError> {
    let first = parser.next_token();
    if is_word(&first, "SHOW") {
        parser.next_token();
        return Ok(TraitStatement::Show);
    }
    if is_word(&first, "DROP") {
        parser.next_token();
        let if_exists = parser.parse_keywords(&[Keyword::IF, Keyword::EXISTS]);
        let name = normalize_ident(&parser.parse_identifier().map_err(parse_error)?);
        return Ok(TraitStatement::Drop { name, if_exists });
    }
    let or_replace = parser.parse_keywords(&[Keyword::OR, Keyword::REPLACE]);
    parser.next_token();
    let name = normalize_ident(&parser.parse_identifier().map_err(parse_error)?);
    parser.expect_keyword_is(Keyword::AS).map_err(parse_error)?;
    let aggregate = aggregate(&parser.parse_expr().map_err(parse_error)?)?;
    parser
        .expect_keyword_is(Keyword::FROM)
        .map_err(parse_error)?;
    let table = parser.next_token();
    if !is_word(&table, EVENTS_TABLE) {
        return Err(QueryError::unsupported(
            format!("computed traits over {} (only FROM events)", table.token),
            token_position(&table),
        ));
    }
    let mut event_filter = Vec::new();
    if parser.parse_keyword(Keyword::WHERE) {
        conjunction(
            &parser.parse_expr().map_err(parse_error)?,
            &mut event_filter,
        )?;
    }
    let window = if is_word(&parser.peek_token(), "WITHIN") {
        parser.next_token();
        Some(window(parser)?)
    } else {
        None
    };
    Ok(TraitStatement::Create {
        definition: ComputedTrait {
            name,
            aggregate,
            event_filter,
            window,
        },
        or_replace,
    })
}

fn token_position(token: &TokenWithSpan) -> Option<Position> {
    let start = token.span.start;
    (start.line > 0).then_some(Position {
        line: start.line,
        column: start.column,
    })
}

/// The aggregate of `count(*)`, `sum(col)`, …, `mode(col)`.
fn aggregate(expr: &Expr) -> Result<Aggregate, QueryError> {
    let unsupported = |what: String| QueryError::unsupported(what, position_of(expr));
    let Expr::Function(function) = expr else {
        return Err(unsupported(format!(
            "trait value {expr} (expected an aggregate such as count(*) or sum(col))"
        )));
    };
    let name = match function.name.0.as_slice() {
        [ObjectNamePart::Identifier(ident)] => normalize_ident(ident),
        _ => return Err(unsupported(format!("aggregate {}", function.name))),
    };
    if function.filter.is_some() || function.over.is_some() || function.null_treatment.is_some() {
        return Err(unsupported(format!(
            "FILTER, OVER or NULLS options on {name}"
        )));
    }
    if !matches!(function.parameters, FunctionArguments::None) {
        return Err(unsupported(format!("parametric aggregate {name}")));
    }
    if name == "mode" && !function.within_group.is_empty() {
        return mode_within_group(expr, function);
    }
    if !function.within_group.is_empty() {
        return Err(unsupported(format!("WITHIN GROUP on {name}")));
    }
    let FunctionArguments::List(list) = &function.args else {
        return Err(unsupported(format!("{name} without an argument list")));
    };
    if !list.clauses.is_empty() {
        return Err(unsupported(format!("ORDER BY or LIMIT inside {name}(…)")));
    }
    let distinct = match list.duplicate_treatment {
        Some(DuplicateTreatment::Distinct) => true,
        Some(DuplicateTreatment::All) | None => false,
    };
    let argument = match list.args.as_slice() {
        [FunctionArg::Unnamed(FunctionArgExpr::Wildcard)] if name == "count" && !distinct => {
            return Ok(Aggregate::Count)
        }
        [FunctionArg::Unnamed(FunctionArgExpr::Expr(arg))] => column_name(arg)?,
        _ => {
            return Err(unsupported(format!(
                "arguments of {name} (expected one event column{})",
                if name == "count" { " or *" } else { "" }
            )))
        }
    };
    let aggregate = match (name.as_str(), distinct) {
        ("count", true) => Aggregate::CountDistinct(argument),
        ("count", false) => {
            return Err(unsupported(
                "count(col) (use count(*), or count(DISTINCT col))".to_owned(),
            ))
        }
        (_, true) => return Err(unsupported(format!("DISTINCT in {name}"))),
        ("sum", _) => Aggregate::Sum(argument),
        ("avg", _) => Aggregate::Avg(argument),
        ("min", _) => Aggregate::Min(argument),
        ("max", _) => Aggregate::Max(argument),
        ("first", _) => Aggregate::First(argument),
        ("last", _) => Aggregate::Last(argument),
        ("mode", _) => Aggregate::MostFrequent(argument),
        _ => return Err(unsupported(format!("aggregate {name} in a computed trait"))),
    };
    Ok(aggregate)
}

/// PostgreSQL's spelling `mode() WITHIN GROUP (ORDER BY col)`.
fn mode_within_group(
    expr: &Expr,
    function: &sqlparser::ast::Function,
) -> Result<Aggregate, QueryError> {
    let empty_args = match &function.args {
        FunctionArguments::List(list) => list.args.is_empty() && list.clauses.is_empty(),
        FunctionArguments::None => true,
        FunctionArguments::Subquery(_) => false,
    };
    match function.within_group.as_slice() {
        [order] if empty_args => Ok(Aggregate::MostFrequent(column_name(&order.expr)?)),
        _ => Err(QueryError::unsupported(
            "mode() other than mode() WITHIN GROUP (ORDER BY col)",
            position_of(expr),
        )),
    }
}

/// An event column: a name, or a dotted path such as `properties.price` or `"address.city"`.
fn column_name(expr: &Expr) -> Result<String, QueryError> {
    match expr {
        Expr::Identifier(ident) => Ok(normalize_ident(ident)),
        Expr::CompoundIdentifier(parts) => Ok(parts
            .iter()
            .map(normalize_ident)
            .collect::<Vec<_>>()
            .join(".")),
        Expr::Nested(inner) => column_name(inner),
        other => Err(QueryError::unsupported(
            format!("{other} where an event column is expected"),
            position_of(other),
        )),
    }
}

/// Appends the conditions of `col op literal [AND …]` to `out`.
fn conjunction(expr: &Expr, out: &mut Vec<Condition>) -> Result<(), QueryError> {
    match expr {
        Expr::Nested(inner) => conjunction(inner, out),
        Expr::BinaryOp {
            left,
            op: BinaryOperator::And,
            right,
        } => {
            conjunction(left, out)?;
            conjunction(right, out)
        }
        Expr::BinaryOp { left, op, right } => {
            let Some(op) = compare_op(op) else {
                return Err(QueryError::unsupported(
                    format!("operator {op} in a trait's WHERE (use AND of comparisons)"),
                    position_of(expr),
                ));
            };
            let (column, op, value) = match (column_name(left), literal(right)) {
                (Ok(column), Ok(value)) => (column, op, value),
                _ => (column_name(right)?, flipped(op), literal(left)?),
            };
            out.push(Condition { column, op, value });
            Ok(())
        }
        other => Err(QueryError::unsupported(
            format!("{other} in a trait's WHERE (expected column op literal, joined by AND)"),
            position_of(other),
        )),
    }
}

fn compare_op(op: &BinaryOperator) -> Option<CompareOp> {
    Some(match op {
        BinaryOperator::Eq => CompareOp::Eq,
        BinaryOperator::NotEq => CompareOp::NotEq,
        BinaryOperator::Lt => CompareOp::Less,
        BinaryOperator::LtEq => CompareOp::LessOrEqual,
        BinaryOperator::Gt => CompareOp::Greater,
        BinaryOperator::GtEq => CompareOp::GreaterOrEqual,
        _ => return None,
    })
}

/// `a op b` is `b flipped(op) a`.
fn flipped(op: CompareOp) -> CompareOp {
    match op {
        CompareOp::Less => CompareOp::Greater,
        CompareOp::LessOrEqual => CompareOp::GreaterOrEqual,
        CompareOp::Greater => CompareOp::Less,
        CompareOp::GreaterOrEqual => CompareOp::LessOrEqual,
        other => other,
    }
}

/// A literal: number, string, boolean, or `TIMESTAMP '…'` (also `DATE '…'`).
fn literal(expr: &Expr) -> Result<Value, QueryError> {
    let unsupported = || {
        QueryError::unsupported(
            format!("{expr} where a literal is expected"),
            position_of(expr),
        )
    };
    match expr {
        Expr::Value(value) => match &value.value {
            SqlValue::Number(text, _) => number(text, false).ok_or_else(unsupported),
            SqlValue::SingleQuotedString(text) => Ok(Value::String(text.clone())),
            SqlValue::Boolean(b) => Ok(Value::Bool(*b)),
            _ => Err(unsupported()),
        },
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr: inner,
        } => match inner.as_ref() {
            Expr::Value(value) => match &value.value {
                SqlValue::Number(text, _) => number(text, true).ok_or_else(unsupported),
                _ => Err(unsupported()),
            },
            _ => Err(unsupported()),
        },
        Expr::TypedString(typed) => {
            let text = match &typed.value.value {
                SqlValue::SingleQuotedString(text) => text,
                _ => return Err(unsupported()),
            };
            parse_timestamp(text).map(Value::Timestamp).ok_or_else(|| {
                QueryError::plan(
                    format!("invalid input syntax for type timestamp: \"{text}\""),
                    position_of(expr),
                )
            })
        }
        Expr::Nested(inner) => literal(inner),
        _ => Err(unsupported()),
    }
}

fn number(text: &str, negative: bool) -> Option<Value> {
    let signed = if negative {
        format!("-{text}")
    } else {
        text.to_owned()
    };
    if let Ok(int) = signed.parse::<i64>() {
        return Some(Value::Int64(int));
    }
    signed
        .parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .map(Value::Float64)
}

/// `INTERVAL '<n> days'` (after `WITHIN`): the window in µs.
fn window(parser: &mut Parser<'_>) -> Result<i64, QueryError> {
    let interval = parser.next_token();
    if !is_word(&interval, "INTERVAL") {
        return Err(error_at(
            &interval,
            format!(
                "expected INTERVAL '<n> days' after WITHIN, found {}",
                interval.token
            ),
        ));
    }
    let text = parser.next_token();
    let Token::SingleQuotedString(body) = &text.token else {
        return Err(error_at(
            &text,
            format!(
                "expected a quoted interval such as '90 days', found {}",
                text.token
            ),
        ));
    };
    let mut words = body.split_whitespace();
    let days = words.next().and_then(|n| n.parse::<i64>().ok());
    let unit = words.next().map(str::to_ascii_lowercase);
    match (days, unit.as_deref(), words.next()) {
        (Some(days), Some("day" | "days"), None) if days > 0 => {
            days.checked_mul(DAY_MICROS).ok_or_else(|| {
                QueryError::plan(
                    format!("window of {days} days is too long"),
                    token_position(&text),
                )
            })
        }
        _ => Err(QueryError::unsupported(
            format!(
                "trait window '{body}' (expected a positive whole number of days, e.g. '90 days')"
            ),
            token_position(&text),
        )),
    }
}

/// The statement that defines `definition`, as `SHOW TRAITS` prints it.
#[must_use]
pub fn definition_sql(definition: &ComputedTrait) -> String {
    let aggregate = match &definition.aggregate {
        Aggregate::Count => "count(*)".to_owned(),
        Aggregate::CountDistinct(column) => format!("count(DISTINCT {})", quoted(column)),
        Aggregate::MostFrequent(column) => format!("mode({})", quoted(column)),
        other => format!(
            "{}({})",
            other.name(),
            quoted(other.property().unwrap_or_default())
        ),
    };
    let mut sql = format!(
        "CREATE TRAIT {} AS {aggregate} FROM events",
        quoted(&definition.name)
    );
    for (i, condition) in definition.event_filter.iter().enumerate() {
        sql.push_str(if i == 0 { " WHERE " } else { " AND " });
        sql.push_str(&format!(
            "{} {} {}",
            quoted(&condition.column),
            operator(condition.op),
            literal_sql(&condition.value)
        ));
    }
    if let Some(days) = definition.window_days() {
        sql.push_str(&format!(" WITHIN INTERVAL '{days} days'"));
    }
    sql
}

/// A name as SQL: bare when it is a plain lower-case identifier, else double-quoted.
fn quoted(name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain {
        name.to_owned()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

fn operator(op: CompareOp) -> &'static str {
    match op {
        CompareOp::Eq => "=",
        CompareOp::NotEq => "<>",
        CompareOp::Less => "<",
        CompareOp::LessOrEqual => "<=",
        CompareOp::Greater => ">",
        CompareOp::GreaterOrEqual => ">=",
    }
}

fn literal_sql(value: &Value) -> String {
    match value {
        Value::String(s) => format!("'{}'", s.replace('\'', "''")),
        Value::Timestamp(t) => format!(
            "TIMESTAMP '{}'",
            profiledb_engine::profiles::format_timestamp(*t)
        ),
        Value::Int64(i) => i.to_string(),
        Value::Float64(f) => format!("{f:?}"),
        Value::Bool(b) => b.to_string(),
        Value::Null => "NULL".to_owned(),
        Value::StringList(items) => format!("{items:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parser::{parse, Statement};

    fn create(sql: &str) -> (ComputedTrait, bool) {
        match parse(sql) {
            Ok(Statement::Trait(TraitStatement::Create {
                definition,
                or_replace,
            })) => (definition, or_replace),
            other => panic!("`{sql}` gave {other:?}"),
        }
    }

    fn error(sql: &str) -> QueryError {
        parse(sql).expect_err(sql)
    }

    #[test]
    fn every_aggregate_is_recognised() {
        let cases = [
            ("count(*)", Aggregate::Count),
            ("SUM(revenue)", Aggregate::Sum("revenue".into())),
            ("avg(revenue)", Aggregate::Avg("revenue".into())),
            ("min(timestamp)", Aggregate::Min("timestamp".into())),
            ("max(timestamp)", Aggregate::Max("timestamp".into())),
            ("first(category)", Aggregate::First("category".into())),
            ("last(category)", Aggregate::Last("category".into())),
            (
                "count(DISTINCT sku)",
                Aggregate::CountDistinct("sku".into()),
            ),
            ("mode(category)", Aggregate::MostFrequent("category".into())),
            (
                "mode() WITHIN GROUP (ORDER BY category)",
                Aggregate::MostFrequent("category".into()),
            ),
            (
                "max(\"address.city\")",
                Aggregate::Max("address.city".into()),
            ),
            ("max(address.city)", Aggregate::Max("address.city".into())),
        ];
        for (text, expected) in cases {
            let (definition, _) = create(&format!("CREATE TRAIT t AS {text} FROM events"));
            assert_eq!(definition.aggregate, expected, "{text}");
        }
    }

    #[test]
    fn filter_window_and_options_are_parsed() {
        let (definition, or_replace) = create(
            "create or replace trait Orders_90d as count(*) from EVENTS \
             where event = 'Order Completed' and 10 < revenue and paid = true \
             and timestamp >= TIMESTAMP '2026-01-01' and discount <> -2.5 \
             within interval '90 days';",
        );
        assert!(or_replace);
        assert_eq!(definition.name, "orders_90d");
        assert_eq!(definition.window_days(), Some(90));
        let conditions: Vec<(&str, CompareOp, Value)> = definition
            .event_filter
            .iter()
            .map(|c| (c.column.as_str(), c.op, c.value.clone()))
            .collect();
        assert_eq!(
            conditions,
            vec![
                (
                    "event",
                    CompareOp::Eq,
                    Value::String("Order Completed".into())
                ),
                ("revenue", CompareOp::Greater, Value::Int64(10)),
                ("paid", CompareOp::Eq, Value::Bool(true)),
                (
                    "timestamp",
                    CompareOp::GreaterOrEqual,
                    Value::Timestamp(parse_timestamp("2026-01-01").unwrap())
                ),
                ("discount", CompareOp::NotEq, Value::Float64(-2.5)),
            ]
        );
    }

    #[test]
    fn drop_and_show_are_parsed() {
        assert_eq!(
            parse("DROP TRAIT IF EXISTS Orders").unwrap(),
            Statement::Trait(TraitStatement::Drop {
                name: "orders".into(),
                if_exists: true
            })
        );
        assert_eq!(
            parse("drop trait \"Orders\"").unwrap(),
            Statement::Trait(TraitStatement::Drop {
                name: "Orders".into(),
                if_exists: false
            })
        );
        assert_eq!(
            parse("SHOW TRAITS;").unwrap(),
            Statement::Trait(TraitStatement::Show)
        );
    }

    #[test]
    fn unsupported_constructs_are_named_with_their_position() {
        let cases = [
            ("CREATE TRAIT t AS count(*) FROM profiles", "profiles", 33),
            (
                "CREATE TRAIT t AS count(*) FROM events WHERE a = 1 OR b = 2",
                "OR",
                46,
            ),
            (
                "CREATE TRAIT t AS count(price) FROM events",
                "count(col)",
                19,
            ),
            ("CREATE TRAIT t AS median(price) FROM events", "median", 19),
            ("CREATE TRAIT t AS price + 1 FROM events", "aggregate", 19),
            (
                "CREATE TRAIT t AS sum(DISTINCT price) FROM events",
                "DISTINCT",
                19,
            ),
            (
                "CREATE TRAIT t AS count(*) FROM events WHERE a IN (1, 2)",
                "IN",
                46,
            ),
            (
                "CREATE TRAIT t AS count(*) FROM events WHERE a = b",
                "literal",
                46,
            ),
            (
                "CREATE TRAIT t AS count(*) FROM events WITHIN INTERVAL '3 hours'",
                "3 hours",
                56,
            ),
        ];
        for (sql, named, column) in cases {
            match error(sql) {
                QueryError::NotImplemented {
                    construct,
                    position: Some(position),
                } => {
                    assert!(construct.contains(named), "{sql}: {construct}");
                    assert_eq!((position.line, position.column), (1, column), "{sql}");
                }
                other => panic!("{sql}: {other:?}"),
            }
        }
        for sql in [
            "CREATE TRAIT",
            "CREATE TRAIT t",
            "CREATE TRAIT t AS count(*)",
            "CREATE TRAIT t AS count(*) FROM events WITHIN '90 days'",
            "CREATE TRAIT t AS count(*) FROM events WITHIN INTERVAL 90",
            "DROP TRAIT",
            "SHOW TRAITS now",
        ] {
            assert!(
                matches!(error(sql), QueryError::Parse { line: 1, .. }),
                "{sql}: {:?}",
                error(sql)
            );
        }
    }

    #[test]
    fn shown_definitions_parse_back_to_the_same_trait() {
        for sql in [
            "CREATE TRAIT orders AS count(*) FROM events WHERE event = 'It''s done' WITHIN INTERVAL '30 days'",
            "CREATE TRAIT \"Top Sku\" AS mode(sku) FROM events WHERE price >= 1.5 AND paid = false",
            "CREATE TRAIT skus AS count(DISTINCT \"properties.sku\") FROM events",
            "CREATE TRAIT since AS min(timestamp) FROM events WHERE timestamp > TIMESTAMP '2026-05-01T10:00:00Z'",
            "CREATE TRAIT spent AS sum(revenue) FROM events WHERE revenue < -3",
        ] {
            let (definition, _) = create(sql);
            let (again, _) = create(&definition_sql(&definition));
            assert_eq!(again, definition, "{sql} → {}", definition_sql(&definition));
        }
    }
}
