//! Typed errors of the query layer: every failure names the construct and, when known, where it is.

use std::fmt;

/// A 1-based line and column in the SQL text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// 1-based line.
    pub line: u64,
    /// 1-based column.
    pub column: u64,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

/// Renders an optional position as a message suffix.
fn at(position: &Option<Position>) -> String {
    position.map(|p| format!(" at {p}")).unwrap_or_default()
}

/// Everything that can go wrong while parsing, planning or executing a statement.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QueryError {
    /// The text is not valid SQL.
    #[error("syntax error at line {line}, column {column}: {message}")]
    Parse {
        /// What the parser expected or found.
        message: String,
        /// 1-based line (0 when unknown).
        line: u64,
        /// 1-based column (0 when unknown).
        column: u64,
    },
    /// The SQL is valid but cannot be planned (unknown table/column, type mismatch …).
    #[error("{message}{}", at(position))]
    Plan {
        /// What is wrong.
        message: String,
        /// Where, when known.
        position: Option<Position>,
    },
    /// Valid SQL that this engine does not support.
    #[error("not supported: {construct}{}", at(position))]
    NotImplemented {
        /// The unsupported construct.
        construct: String,
        /// Where, when known.
        position: Option<Position>,
    },
    /// A runtime failure (division by zero, overflow, storage error …).
    #[error("execution error: {0}")]
    Execution(String),
    /// A bug: an invariant of the query layer did not hold.
    #[error("internal error: {0}")]
    Internal(String),
}

impl QueryError {
    /// A planning error with an optional position.
    pub fn plan(message: impl Into<String>, position: Option<Position>) -> Self {
        QueryError::Plan {
            message: message.into(),
            position,
        }
    }

    /// An unsupported-construct error with an optional position.
    pub fn unsupported(construct: impl Into<String>, position: Option<Position>) -> Self {
        QueryError::NotImplemented {
            construct: construct.into(),
            position,
        }
    }

    /// A runtime error.
    pub fn exec(message: impl Into<String>) -> Self {
        QueryError::Execution(message.into())
    }
}

/// The position where a sqlparser node starts, if the parser recorded one.
pub fn position_of(node: &impl sqlparser::ast::Spanned) -> Option<Position> {
    let start = node.span().start;
    (start.line > 0).then_some(Position {
        line: start.line,
        column: start.column,
    })
}
