//! Typing rules: SQL type names, and how operands of different types are made comparable.

use profiledb_engine::value::{ColumnType, Value};
use sqlparser::ast::DataType;

use crate::cast::cast_value;
use crate::error::{Position, QueryError};
use crate::plan::ScalarExpr;
use crate::temporal::Interval;

/// What kind of expression a typed expression is, beyond its value type.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ExprKind {
    /// An ordinary expression.
    Plain,
    /// A quoted string literal, whose type adapts to the other operand (PostgreSQL's `unknown`).
    StringLiteral,
    /// A date (a timestamp at midnight): `date ± integer` adds days.
    Date,
    /// An interval constant; only usable added to or subtracted from a timestamp.
    Interval(Interval),
}

/// A planned expression with its type (`None` for an untyped NULL).
#[derive(Debug, Clone)]
pub struct Typed {
    /// The expression.
    pub expr: ScalarExpr,
    /// Its type.
    pub ty: Option<ColumnType>,
    /// Its kind.
    pub kind: ExprKind,
}

impl Typed {
    /// An ordinary typed expression.
    pub fn plain(expr: ScalarExpr, ty: Option<ColumnType>) -> Self {
        Typed {
            expr,
            ty,
            kind: ExprKind::Plain,
        }
    }

    /// A constant.
    pub fn literal(value: Value) -> Self {
        let ty = value.column_type();
        Typed::plain(ScalarExpr::Literal(value), ty)
    }

    /// The constant value, if this is one.
    pub fn constant(&self) -> Option<&Value> {
        match &self.expr {
            ScalarExpr::Literal(v) => Some(v),
            _ => None,
        }
    }
}

/// The column type (and whether it is DATE) a SQL type name maps to.
pub fn map_data_type(
    data_type: &DataType,
    position: Option<Position>,
) -> Result<(ColumnType, bool), QueryError> {
    use DataType as D;
    Ok(match data_type {
        D::Date => (ColumnType::Timestamp, true),
        D::Timestamp(..) | D::Datetime(_) | D::TimestampNtz(_) => (ColumnType::Timestamp, false),
        D::BigInt(_)
        | D::Int(_)
        | D::Integer(_)
        | D::Int8(_)
        | D::Int4(_)
        | D::Int64
        | D::SmallInt(_)
        | D::Int2(_) => (ColumnType::Int64, false),
        D::Float(_)
        | D::Float4
        | D::Float8
        | D::Float64
        | D::Real
        | D::Double(_)
        | D::DoublePrecision
        | D::Numeric(_)
        | D::Decimal(_) => (ColumnType::Float64, false),
        D::Text
        | D::Varchar(_)
        | D::String(_)
        | D::Char(_)
        | D::Character(_)
        | D::CharacterVarying(_) => (ColumnType::String, false),
        D::Bool | D::Boolean => (ColumnType::Bool, false),
        D::Custom(name, _) if name.to_string().eq_ignore_ascii_case("timestamptz") => {
            (ColumnType::Timestamp, false)
        }
        other => return Err(QueryError::unsupported(format!("type {other}"), position)),
    })
}

/// Whether values of the two types can be compared.
pub fn comparable(a: ColumnType, b: ColumnType) -> bool {
    let numeric = |t| matches!(t, ColumnType::Int64 | ColumnType::Float64);
    a == b || (numeric(a) && numeric(b))
}

/// Makes two operands comparable: a quoted literal takes the other side's type; otherwise the
/// types must already be comparable.
pub fn unify(
    left: Typed,
    right: Typed,
    op: &str,
    position: Option<Position>,
) -> Result<(Typed, Typed), QueryError> {
    let (left, right) = match (left.kind, right.kind, left.ty, right.ty) {
        (ExprKind::StringLiteral, _, _, Some(t)) if t != ColumnType::String => {
            (coerce_literal(left, t)?, right)
        }
        (_, ExprKind::StringLiteral, Some(t), _) if t != ColumnType::String => {
            let right = coerce_literal(right, t)?;
            (left, right)
        }
        _ => (left, right),
    };
    if let (Some(a), Some(b)) = (left.ty, right.ty) {
        if !comparable(a, b) {
            return Err(QueryError::plan(
                format!("operator does not exist: {a} {op} {b}"),
                position,
            ));
        }
    }
    Ok((left, right))
}

/// Converts a quoted literal to `to` at plan time.
pub fn coerce_literal(typed: Typed, to: ColumnType) -> Result<Typed, QueryError> {
    match typed.constant() {
        Some(v) => Ok(Typed::literal(cast_value(v, to, false)?)),
        None => Ok(typed),
    }
}
