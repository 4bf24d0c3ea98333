//! Planning of aggregate calls and of expressions evaluated after GROUP BY.

use std::cell::RefCell;

use profiledb_engine::value::ColumnType;
use sqlparser::ast::{self, DuplicateTreatment, FunctionArg, FunctionArgExpr, FunctionArguments};

use super::expr::ExprPlanner;
use super::types::Typed;
use crate::error::{position_of, QueryError};
use crate::plan::{AggFunc, AggregateCall, ScalarExpr};

/// The GROUP BY keys and the aggregates collected while planning post-aggregation expressions.
pub struct AggState {
    /// Group key expressions as written (matched structurally against later expressions).
    pub group_ast: Vec<ast::Expr>,
    /// Group key types.
    pub group_types: Vec<Option<ColumnType>>,
    /// Aggregates found so far, with the call that produced each.
    pub aggregates: RefCell<Vec<(ast::Expr, AggregateCall)>>,
}

impl AggState {
    /// The slot of a group key equal to `expr`, if any.
    pub fn group_slot(&self, expr: &ast::Expr) -> Option<usize> {
        let stripped = strip_nested(expr);
        self.group_ast
            .iter()
            .position(|g| strip_nested(g) == stripped)
    }
}

fn strip_nested(expr: &ast::Expr) -> &ast::Expr {
    match expr {
        ast::Expr::Nested(inner) => strip_nested(inner),
        other => other,
    }
}

/// The aggregate function a call names, if it is one.
pub fn aggregate_func(function: &ast::Function) -> Option<AggFunc> {
    match function.name.to_string().to_lowercase().as_str() {
        "count" => Some(AggFunc::Count),
        "sum" => Some(AggFunc::Sum),
        "avg" => Some(AggFunc::Avg),
        "min" => Some(AggFunc::Min),
        "max" => Some(AggFunc::Max),
        _ => None,
    }
}

impl ExprPlanner<'_, '_> {
    /// Plans an aggregate call in post-aggregation context: registers it and refers to its slot.
    pub(super) fn plan_aggregate(
        &self,
        state: &AggState,
        call_expr: &ast::Expr,
        function: &ast::Function,
        func: AggFunc,
    ) -> Result<Typed, QueryError> {
        let position = position_of(function);
        let call = self.aggregate_call(function, func)?;
        let output_type = call.output_type;
        let mut aggregates = state.aggregates.borrow_mut();
        let index = match aggregates.iter().position(|(e, _)| e == call_expr) {
            Some(i) => i,
            None => {
                aggregates.push((call_expr.clone(), call));
                aggregates.len() - 1
            }
        };
        let _ = position;
        Ok(Typed::plain(
            ScalarExpr::Column(state.group_ast.len() + index),
            Some(output_type),
        ))
    }

    fn aggregate_call(
        &self,
        function: &ast::Function,
        func: AggFunc,
    ) -> Result<AggregateCall, QueryError> {
        let position = position_of(function);
        let name = function.name.to_string().to_lowercase();
        if function.filter.is_some() || function.over.is_some() || !function.within_group.is_empty()
        {
            return Err(QueryError::unsupported(
                format!("FILTER/OVER/WITHIN GROUP on {name}()"),
                position,
            ));
        }
        let FunctionArguments::List(list) = &function.args else {
            return Err(QueryError::plan(
                format!("{name}() needs an argument"),
                position,
            ));
        };
        if !list.clauses.is_empty() {
            return Err(QueryError::unsupported(
                format!("clauses inside {name}()"),
                position,
            ));
        }
        let distinct = matches!(list.duplicate_treatment, Some(DuplicateTreatment::Distinct));
        let arg = match list.args.as_slice() {
            [FunctionArg::Unnamed(FunctionArgExpr::Wildcard)]
                if func == AggFunc::Count && !distinct =>
            {
                None
            }
            [FunctionArg::Unnamed(FunctionArgExpr::Expr(e))] => Some(self.input_planner().plan(e)?),
            _ => {
                return Err(QueryError::plan(
                    format!("{name}() takes exactly one argument"),
                    position,
                ))
            }
        };
        let arg_type = arg.as_ref().and_then(|a| a.ty);
        let output_type = aggregate_type(func, arg_type, &name, position)?;
        Ok(AggregateCall {
            func,
            arg: arg.map(|a| a.expr),
            distinct,
            output_type,
            arg_type,
        })
    }
}

fn aggregate_type(
    func: AggFunc,
    arg: Option<ColumnType>,
    name: &str,
    position: Option<crate::error::Position>,
) -> Result<ColumnType, QueryError> {
    let numeric = matches!(arg, Some(ColumnType::Int64 | ColumnType::Float64) | None);
    match func {
        AggFunc::Count => Ok(ColumnType::Int64),
        AggFunc::Sum if numeric => Ok(arg.unwrap_or(ColumnType::Int64)),
        AggFunc::Avg if numeric => Ok(ColumnType::Float64),
        AggFunc::Min | AggFunc::Max if arg != Some(ColumnType::StringList) => {
            Ok(arg.unwrap_or(ColumnType::String))
        }
        _ => Err(QueryError::plan(
            format!(
                "function {name}({}) does not exist",
                arg.map_or("unknown", ColumnType::name)
            ),
            position,
        )),
    }
}
