//! The SQL front end: sqlparser's PostgreSQL dialect plus ProfileDB's segment, computed-trait,
//! clock and EXPLAIN statements, recognised by their leading keywords.

use sqlparser::ast::{self, Ident};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::keywords::Keyword;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Token, TokenWithSpan};

use crate::error::QueryError;
use crate::traits::{at_trait_statement, parse_trait_statement, TraitStatement};

/// Nesting depth the parser accepts; deeper input is rejected instead of exhausting the stack.
const RECURSION_LIMIT: usize = 48;

/// One parsed statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    /// Anything sqlparser understands (only `SELECT` queries are executed).
    Standard(Box<ast::Statement>),
    /// `CREATE [OR REPLACE] SEGMENT name AS SELECT …`
    CreateSegment {
        /// Segment name (unquoted names folded to lower case).
        name: String,
        /// `OR REPLACE` given.
        or_replace: bool,
        /// The defining query.
        query: Box<ast::Query>,
    },
    /// `DROP SEGMENT [IF EXISTS] name`
    DropSegment {
        /// Segment name.
        name: String,
        /// `IF EXISTS` given.
        if_exists: bool,
    },
    /// `SHOW SEGMENTS`
    ShowSegments,
    /// `EXPLAIN [ANALYZE] statement`
    Explain {
        /// `ANALYZE`: run the statement and report actual row counts.
        analyze: bool,
        /// The explained statement.
        statement: Box<Statement>,
    },
    /// `SET now = '…'` (or `TO`); `SET now = DEFAULT` unpins the clock (`None`).
    SetNow {
        /// The timestamp text, or `None` for `DEFAULT`.
        value: Option<String>,
    },
    /// `CREATE [OR REPLACE] TRAIT`, `DROP TRAIT`, `SHOW TRAITS` (computed traits).
    Trait(TraitStatement),
}

/// Parses exactly one statement (a trailing `;` is allowed).
///
/// # Errors
/// [`QueryError::Parse`] with the line and column of the problem.
pub fn parse(sql: &str) -> Result<Statement, QueryError> {
    parse_inner(sql).map_err(|e| at_end_if_unknown(e, sql))
}

/// Errors found at end of input carry no location from sqlparser: point at the end.
fn at_end_if_unknown(error: QueryError, sql: &str) -> QueryError {
    match error {
        QueryError::Parse {
            message, line: 0, ..
        } => {
            let line = sql.split('\n').count();
            let column = sql.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            QueryError::Parse {
                message,
                line: line as u64,
                column: column as u64,
            }
        }
        other => other,
    }
}

fn parse_inner(sql: &str) -> Result<Statement, QueryError> {
    let dialect = PostgreSqlDialect {};
    let mut parser = Parser::new(&dialect)
        .with_recursion_limit(RECURSION_LIMIT)
        .try_with_sql(sql)
        .map_err(parse_error)?;
    let statement = parse_one(&mut parser)?;
    while parser.consume_token(&Token::SemiColon) {}
    let next = parser.peek_token();
    if next.token != Token::EOF {
        return Err(error_at(
            &next,
            format!("expected end of statement, found {}", next.token),
        ));
    }
    Ok(statement)
}

/// Folds an identifier the PostgreSQL way: unquoted names are case-insensitive (lower case).
#[must_use]
pub fn normalize_ident(ident: &Ident) -> String {
    if ident.quote_style.is_some() {
        ident.value.clone()
    } else {
        ident.value.to_lowercase()
    }
}

fn parse_one(parser: &mut Parser<'_>) -> Result<Statement, QueryError> {
    if parser.parse_keyword(Keyword::EXPLAIN) {
        let analyze = parser.parse_keyword(Keyword::ANALYZE);
        let statement = Box::new(parse_one(parser)?);
        return Ok(Statement::Explain { analyze, statement });
    }
    if let Some(statement) = parse_segment_statement(parser)? {
        return Ok(statement);
    }
    if at_trait_statement(parser) {
        return Ok(Statement::Trait(parse_trait_statement(parser)?));
    }
    if is_word(&parser.peek_nth_token(0), "SET") && is_word(&parser.peek_nth_token(1), "NOW") {
        return parse_set_now(parser);
    }
    let statement = parser.parse_statement().map_err(parse_error)?;
    Ok(Statement::Standard(Box::new(statement)))
}

/// `CREATE [OR REPLACE] SEGMENT`, `DROP SEGMENT`, `SHOW SEGMENTS`, or `None` for anything else.
fn parse_segment_statement(parser: &mut Parser<'_>) -> Result<Option<Statement>, QueryError> {
    let peek = |n: usize, word: &str| is_word(&parser.peek_nth_token(n), word);
    if peek(0, "CREATE")
        && (peek(1, "SEGMENT") || (peek(1, "OR") && peek(2, "REPLACE") && peek(3, "SEGMENT")))
    {
        parser.next_token();
        let or_replace = parser.parse_keywords(&[Keyword::OR, Keyword::REPLACE]);
        parser.next_token();
        let name = normalize_ident(&parser.parse_identifier().map_err(parse_error)?);
        parser.expect_keyword_is(Keyword::AS).map_err(parse_error)?;
        let query = parser.parse_query().map_err(parse_error)?;
        return Ok(Some(Statement::CreateSegment {
            name,
            or_replace,
            query,
        }));
    }
    if peek(0, "DROP") && peek(1, "SEGMENT") {
        parser.next_token();
        parser.next_token();
        let if_exists = parser.parse_keywords(&[Keyword::IF, Keyword::EXISTS]);
        let name = normalize_ident(&parser.parse_identifier().map_err(parse_error)?);
        return Ok(Some(Statement::DropSegment { name, if_exists }));
    }
    if peek(0, "SHOW") && peek(1, "SEGMENTS") {
        parser.next_token();
        parser.next_token();
        return Ok(Some(Statement::ShowSegments));
    }
    Ok(None)
}

fn parse_set_now(parser: &mut Parser<'_>) -> Result<Statement, QueryError> {
    parser.next_token();
    parser.next_token();
    if !parser.consume_token(&Token::Eq) && !parser.parse_keyword(Keyword::TO) {
        let found = parser.peek_token();
        return Err(error_at(
            &found,
            format!("expected = or TO after SET now, found {}", found.token),
        ));
    }
    let token = parser.next_token();
    match &token.token {
        Token::SingleQuotedString(text) => Ok(Statement::SetNow {
            value: Some(text.clone()),
        }),
        _ if is_word(&token, "DEFAULT") => Ok(Statement::SetNow { value: None }),
        other => Err(error_at(
            &token,
            format!("expected a timestamp string or DEFAULT, found {other}"),
        )),
    }
}

/// Whether a token is the unquoted word `word` (case-insensitive).
pub(crate) fn is_word(token: &TokenWithSpan, word: &str) -> bool {
    matches!(&token.token, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(word))
}

pub(crate) fn error_at(token: &TokenWithSpan, message: String) -> QueryError {
    QueryError::Parse {
        message,
        line: token.span.start.line,
        column: token.span.start.column,
    }
}

/// Converts a sqlparser error, lifting the `Line: X, Column: Y` it embeds into fields.
pub(crate) fn parse_error(error: ParserError) -> QueryError {
    let text = match &error {
        ParserError::TokenizerError(m) | ParserError::ParserError(m) => m.clone(),
        ParserError::RecursionLimitExceeded => "statement nests too deeply".to_owned(),
    };
    let (message, line, column) = split_location(&text);
    QueryError::Parse {
        message,
        line,
        column,
    }
}

fn split_location(text: &str) -> (String, u64, u64) {
    let Some(idx) = text.rfind(" at Line: ") else {
        return (text.to_owned(), 0, 0);
    };
    let location = &text[idx + " at Line: ".len()..];
    let mut parts = location.split(", Column: ");
    let line = parts
        .next()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(0);
    let column = parts
        .next()
        .and_then(|c| c.trim().parse().ok())
        .unwrap_or(0);
    (text[..idx].to_owned(), line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_are_recognised() {
        assert!(matches!(
            parse("CREATE OR REPLACE SEGMENT Vip AS SELECT * FROM profiles").unwrap(),
            Statement::CreateSegment { ref name, or_replace: true, .. } if name == "vip"
        ));
        assert!(matches!(
            parse("drop segment if exists x;").unwrap(),
            Statement::DropSegment {
                if_exists: true,
                ..
            }
        ));
        assert_eq!(parse("SHOW SEGMENTS").unwrap(), Statement::ShowSegments);
        assert_eq!(
            parse("SET now = '2026-06-01T00:00:00Z'").unwrap(),
            Statement::SetNow {
                value: Some("2026-06-01T00:00:00Z".into())
            }
        );
        assert!(matches!(
            parse("EXPLAIN ANALYZE SELECT 1").unwrap(),
            Statement::Explain { analyze: true, .. }
        ));
    }

    #[test]
    fn errors_carry_positions() {
        let err = parse("SELECT *\nFROM t WHERE (").unwrap_err();
        assert!(matches!(err, QueryError::Parse { line: 2, .. }), "{err:?}");
        assert!(matches!(
            parse("SELECT 1; SELECT 2"),
            Err(QueryError::Parse { .. })
        ));
    }
}
