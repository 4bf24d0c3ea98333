//! GROUP BY and aggregate functions over fetched input rows.

use std::collections::{HashMap, HashSet};

use profiledb_engine::value::{ColumnType, Value};

use super::key::{row_key, KeyValue};
use super::scalar::eval;
use crate::error::QueryError;
use crate::plan::{AggFunc, AggregateCall, AggregatePlan};
use crate::predicate::compare_values;

/// Groups `rows` and computes the aggregates; each result row is group keys then aggregates.
/// Without GROUP BY there is exactly one result row, even for no input.
pub fn aggregate(plan: &AggregatePlan, rows: &[Vec<Value>]) -> Result<Vec<Vec<Value>>, QueryError> {
    let mut index: HashMap<Vec<KeyValue>, usize> = HashMap::new();
    let mut groups: Vec<(Vec<Value>, Vec<Accumulator>)> = Vec::new();
    if plan.group_by.is_empty() {
        groups.push((Vec::new(), accumulators(plan)));
        index.insert(Vec::new(), 0);
    }
    for row in rows {
        let keys = plan
            .group_by
            .iter()
            .map(|g| eval(g, row))
            .collect::<Result<Vec<_>, _>>()?;
        let key = row_key(&keys);
        let slot = match index.get(&key) {
            Some(&i) => i,
            None => {
                groups.push((keys, accumulators(plan)));
                index.insert(key, groups.len() - 1);
                groups.len() - 1
            }
        };
        let (_, accs) = &mut groups[slot];
        for (acc, call) in accs.iter_mut().zip(&plan.aggregates) {
            let value = match &call.arg {
                Some(arg) => Some(eval(arg, row)?),
                None => None,
            };
            acc.update(value)?;
        }
    }
    groups
        .into_iter()
        .map(|(mut keys, accs)| {
            for acc in accs {
                keys.push(acc.finish()?);
            }
            Ok(keys)
        })
        .collect()
}

fn accumulators(plan: &AggregatePlan) -> Vec<Accumulator> {
    plan.aggregates.iter().map(Accumulator::new).collect()
}

/// Running state of one aggregate in one group.
struct Accumulator {
    call: AggregateCall,
    seen: Option<HashSet<KeyValue>>,
    count: i64,
    int_sum: i128,
    float_sum: f64,
    extreme: Value,
}

impl Accumulator {
    fn new(call: &AggregateCall) -> Self {
        Accumulator {
            call: call.clone(),
            seen: call.distinct.then(HashSet::new),
            count: 0,
            int_sum: 0,
            float_sum: 0.0,
            extreme: Value::Null,
        }
    }

    /// Feeds one input value (`None` for `COUNT(*)`); NULLs are ignored like in SQL.
    fn update(&mut self, value: Option<Value>) -> Result<(), QueryError> {
        let Some(value) = value else {
            self.count += 1;
            return Ok(());
        };
        if value.is_null() {
            return Ok(());
        }
        if let Some(seen) = &mut self.seen {
            if !seen.insert(KeyValue::from(&value)) {
                return Ok(());
            }
        }
        self.count += 1;
        match (&self.call.func, &value) {
            (AggFunc::Sum | AggFunc::Avg, Value::Int64(i)) => {
                self.int_sum = self
                    .int_sum
                    .checked_add(i128::from(*i))
                    .ok_or_else(|| QueryError::exec("sum out of range"))?;
            }
            (AggFunc::Sum | AggFunc::Avg, Value::Float64(f)) => self.float_sum += f,
            (AggFunc::Min | AggFunc::Max, v) => self.keep_extreme(v),
            _ => {}
        }
        Ok(())
    }

    fn keep_extreme(&mut self, v: &Value) {
        let replace = match compare_values(v, &self.extreme) {
            None => self.extreme.is_null(),
            Some(o) => {
                (o == std::cmp::Ordering::Less) == (self.call.func == AggFunc::Min)
                    && o != std::cmp::Ordering::Equal
            }
        };
        if replace {
            self.extreme = v.clone();
        }
    }

    fn finish(self) -> Result<Value, QueryError> {
        let empty = self.count == 0;
        Ok(match self.call.func {
            AggFunc::Count => Value::Int64(self.count),
            _ if empty => Value::Null,
            AggFunc::Sum if self.call.output_type == ColumnType::Int64 => Value::Int64(
                i64::try_from(self.int_sum).map_err(|_| QueryError::exec("bigint out of range"))?,
            ),
            AggFunc::Sum => Value::Float64(self.float_sum),
            AggFunc::Avg => {
                #[expect(clippy::cast_precision_loss, reason = "AVG is reported as float64")]
                let total = if self.call.arg_type == Some(ColumnType::Int64) {
                    self.int_sum as f64
                } else {
                    self.float_sum
                };
                #[expect(clippy::cast_precision_loss, reason = "AVG is reported as float64")]
                Value::Float64(total / self.count as f64)
            }
            AggFunc::Min | AggFunc::Max => self.extreme,
        })
    }
}
