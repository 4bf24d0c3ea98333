//! Fetching input rows (only the needed columns of the selected rows) and computing outputs.

use profiledb_engine::value::Value;
use roaring::RoaringBitmap;

use super::scalar::eval;
use crate::error::QueryError;
use crate::plan::SelectPlan;

/// Rows for `rows` (ascending), as wide as the plan's input columns, with only `slots` filled.
pub fn fetch_rows(
    plan: &SelectPlan<'_>,
    rows: &RoaringBitmap,
    slots: &[usize],
) -> Result<Vec<Vec<Value>>, QueryError> {
    let count = usize::try_from(rows.len()).map_err(|_| QueryError::exec("too many rows"))?;
    let width = plan.input_columns.len();
    let mut out = vec![vec![Value::Null; width]; count];
    for &slot in slots {
        let (name, _) = plan
            .input_columns
            .get(slot)
            .ok_or_else(|| QueryError::Internal(format!("slot {slot} has no column")))?;
        let values = plan.table.source().fetch(name, rows)?;
        if values.len() != count {
            return Err(QueryError::Internal(format!(
                "storage returned {} values of `{name}` for {count} rows",
                values.len()
            )));
        }
        for (row, value) in out.iter_mut().zip(values) {
            if let Some(cell) = row.get_mut(slot) {
                *cell = value;
            }
        }
    }
    Ok(out)
}

/// Output values and sort keys of one (input or grouped) row.
pub fn project_row(
    plan: &SelectPlan<'_>,
    row: &[Value],
) -> Result<(Vec<Value>, Vec<Value>), QueryError> {
    let output = plan
        .projection
        .iter()
        .map(|e| eval(e, row))
        .collect::<Result<Vec<_>, _>>()?;
    let keys = plan
        .order_by
        .iter()
        .map(|k| eval(&k.expr, row))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((output, keys))
}
