//! Computed traits: aggregates over a profile's events, maintained incrementally.
//!
//! Each profile keeps one mergeable state per trait (count, sum, min, max, first, last, value
//! counts). Windowed traits keep one state per UTC day, so advancing the clock drops whole
//! days. Merging two profiles merges their states; every operation is commutative, so the
//! incremental value equals a recomputation from the events in any order (sums up to
//! floating-point rounding).

use crate::scan::CompareOp;
use crate::value::Value;
use std::cmp::Ordering;
use std::collections::HashMap;

/// Microseconds in a day: the bucket width of windowed traits.
pub const DAY_MICROS: i64 = 86_400_000_000;

/// Event types computed traits aggregate over (identify/alias rows are history, not behaviour).
pub const BEHAVIOURAL_TYPES: [&str; 4] = ["track", "page", "screen", "group"];

/// The aggregate of a computed trait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Aggregate {
    /// Number of matching events.
    Count,
    /// Sum of a numeric property (Float64).
    Sum(String),
    /// Mean of a numeric property (Float64).
    Avg(String),
    /// Smallest value of a property.
    Min(String),
    /// Largest value of a property.
    Max(String),
    /// The property's value on the earliest event that has it (by timestamp, then message id).
    First(String),
    /// The property's value on the latest event that has it (by timestamp, then message id).
    Last(String),
    /// Number of distinct values of a property.
    CountDistinct(String),
    /// The property's most frequent value (ties: the smallest value).
    MostFrequent(String),
}

impl Aggregate {
    /// The property aggregated, if any.
    #[must_use]
    pub fn property(&self) -> Option<&str> {
        match self {
            Aggregate::Count => None,
            Aggregate::Sum(p)
            | Aggregate::Avg(p)
            | Aggregate::Min(p)
            | Aggregate::Max(p)
            | Aggregate::First(p)
            | Aggregate::Last(p)
            | Aggregate::CountDistinct(p)
            | Aggregate::MostFrequent(p) => Some(p),
        }
    }

    /// The lower-case function name (`count`, `sum`, …).
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Aggregate::Count => "count",
            Aggregate::Sum(_) => "sum",
            Aggregate::Avg(_) => "avg",
            Aggregate::Min(_) => "min",
            Aggregate::Max(_) => "max",
            Aggregate::First(_) => "first",
            Aggregate::Last(_) => "last",
            Aggregate::CountDistinct(_) => "count_distinct",
            Aggregate::MostFrequent(_) => "most_frequent",
        }
    }

    /// The aggregate called `name` over `property` (`None` for an unknown name or a missing
    /// property).
    #[must_use]
    pub fn from_name(name: &str, property: Option<&str>) -> Option<Aggregate> {
        let p = || property.map(str::to_owned);
        Some(match name {
            "count" => Aggregate::Count,
            "sum" => Aggregate::Sum(p()?),
            "avg" => Aggregate::Avg(p()?),
            "min" => Aggregate::Min(p()?),
            "max" => Aggregate::Max(p()?),
            "first" => Aggregate::First(p()?),
            "last" => Aggregate::Last(p()?),
            "count_distinct" => Aggregate::CountDistinct(p()?),
            "most_frequent" => Aggregate::MostFrequent(p()?),
            _ => return None,
        })
    }
}

/// One condition of an event filter: `column op value`. NULL never matches.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// Event column.
    pub column: String,
    /// Comparison.
    pub op: CompareOp,
    /// Right-hand side.
    pub value: Value,
}

/// A computed trait: `CREATE TRAIT name AS aggregate FROM events WHERE … [WITHIN …]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ComputedTrait {
    /// Trait (and profiles column) name.
    pub name: String,
    /// What is computed.
    pub aggregate: Aggregate,
    /// Conjunction of conditions an event must meet.
    pub event_filter: Vec<Condition>,
    /// Only events of the last this many µs (rounded up to whole UTC days) count.
    pub window: Option<i64>,
}

impl ComputedTrait {
    /// Event columns this trait reads.
    #[must_use]
    pub fn columns(&self) -> Vec<String> {
        let mut out: Vec<String> = self.event_filter.iter().map(|c| c.column.clone()).collect();
        out.extend(self.aggregate.property().map(str::to_owned));
        out
    }

    /// Window length in whole days, if windowed.
    #[must_use]
    pub fn window_days(&self) -> Option<i64> {
        self.window.map(|w| {
            w.saturating_add(DAY_MICROS - 1)
                .div_euclid(DAY_MICROS)
                .max(1)
        })
    }

    /// The first day (days since the epoch) inside the window at clock `now`.
    #[must_use]
    pub fn first_day(&self, now: i64) -> Option<i64> {
        self.window_days()
            .map(|days| now.div_euclid(DAY_MICROS) - days + 1)
    }

    /// The value of an event that the aggregate takes in (the property it aggregates; none
    /// for `count(*)`, or when the event lacks it).
    pub fn input_of<'e, N: AsRef<str>>(&self, event: &'e [(N, Value)]) -> Option<&'e Value> {
        self.aggregate.property().and_then(|p| field(event, p))
    }

    /// Whether the aggregate keeps the message id of the events it takes in (`first` and
    /// `last` order events by timestamp, then message id).
    #[must_use]
    pub fn uses_message_ids(&self) -> bool {
        matches!(self.aggregate, Aggregate::First(_) | Aggregate::Last(_))
    }

    /// Whether an event (as column values) passes the type rule and the filter.
    #[must_use]
    pub fn matches<N: AsRef<str>>(&self, event: &[(N, Value)]) -> bool {
        is_behavioural(event) && self.filter_matches(event)
    }

    /// Whether an event passes the filter (the type rule aside: it is the same for every
    /// trait, so callers adding one event to many traits check it once).
    #[must_use]
    pub fn filter_matches<N: AsRef<str>>(&self, event: &[(N, Value)]) -> bool {
        self.event_filter
            .iter()
            .all(|c| field(event, &c.column).is_some_and(|v| compare(v, &c.value, c.op)))
    }
}

/// Whether an event's type is one computed traits count (track, page, screen, group).
pub(crate) fn is_behavioural<N: AsRef<str>>(event: &[(N, Value)]) -> bool {
    matches!(field(event, "type"), Some(Value::String(t))
        if BEHAVIOURAL_TYPES.contains(&t.as_str()))
}

/// When an event happened and which message carried it: what every aggregate stamps its
/// contribution with. `None` for an event without a timestamp, which no trait counts.
pub(crate) fn event_stamp<N: AsRef<str>>(event: &[(N, Value)]) -> Option<(i64, &str)> {
    let ts = match field(event, "timestamp") {
        Some(Value::Timestamp(ts)) => *ts,
        _ => return None,
    };
    let msg = match field(event, "message_id") {
        Some(Value::String(m)) => m.as_str(),
        _ => "",
    };
    Some((ts, msg))
}

/// The value of `column` in an event's values.
pub(crate) fn field<'e, N: AsRef<str>>(event: &'e [(N, Value)], column: &str) -> Option<&'e Value> {
    event
        .iter()
        .find(|(name, _)| name.as_ref() == column)
        .map(|(_, v)| v)
        .filter(|v| !v.is_null())
}

fn compare(left: &Value, right: &Value, op: CompareOp) -> bool {
    match order(left, right) {
        Some(ordering) => match op {
            CompareOp::Eq => ordering == Ordering::Equal,
            CompareOp::NotEq => ordering != Ordering::Equal,
            CompareOp::Less => ordering == Ordering::Less,
            CompareOp::LessOrEqual => ordering != Ordering::Greater,
            CompareOp::Greater => ordering == Ordering::Greater,
            CompareOp::GreaterOrEqual => ordering != Ordering::Less,
        },
        None => false,
    }
}

/// Order of two values of compatible types (numbers compare across Int64/Float64).
pub(crate) fn order(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Int64(x), Value::Int64(y)) | (Value::Timestamp(x), Value::Timestamp(y)) => {
            Some(x.cmp(y))
        }
        (Value::Float64(x), Value::Float64(y)) => x.partial_cmp(y),
        (Value::Int64(x), Value::Float64(y)) => to_f64(*x).partial_cmp(y),
        (Value::Float64(x), Value::Int64(y)) => x.partial_cmp(&to_f64(*y)),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        (Value::StringList(x), Value::StringList(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

#[expect(
    clippy::cast_precision_loss,
    reason = "aggregates are approximate above 2^53"
)]
fn to_f64(i: i64) -> f64 {
    i as f64
}

fn numeric(value: &Value) -> Option<f64> {
    match value {
        Value::Int64(i) => Some(to_f64(*i)),
        Value::Float64(f) => Some(*f),
        _ => None,
    }
}

/// A total-order key of a value, for distinct counting and tie-breaking.
fn value_key(value: &Value) -> String {
    match value {
        Value::Float64(f) => format!("f:{:020}", f.to_bits()),
        other => format!("{other:?}"),
    }
}

/// A value with the (timestamp, message id) of the event it came from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Stamped {
    ts: i64,
    msg: String,
    value: Value,
}

impl Stamped {
    fn key(&self) -> (i64, &str) {
        (self.ts, &self.msg)
    }
}

/// The mergeable state of one aggregate.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Agg {
    Count(i64),
    Sum { sum: f64, n: i64 },
    Min(Option<Value>),
    Max(Option<Value>),
    First(Option<Stamped>),
    Last(Option<Stamped>),
    Counts(HashMap<String, (Value, i64)>),
}

impl Agg {
    fn empty(aggregate: &Aggregate) -> Agg {
        match aggregate {
            Aggregate::Count => Agg::Count(0),
            Aggregate::Sum(_) | Aggregate::Avg(_) => Agg::Sum { sum: 0.0, n: 0 },
            Aggregate::Min(_) => Agg::Min(None),
            Aggregate::Max(_) => Agg::Max(None),
            Aggregate::First(_) => Agg::First(None),
            Aggregate::Last(_) => Agg::Last(None),
            Aggregate::CountDistinct(_) | Aggregate::MostFrequent(_) => Agg::Counts(HashMap::new()),
        }
    }

    /// Adds one matching event; `value` is its property value (None: absent or NULL).
    fn add(&mut self, ts: i64, msg: &str, value: Option<&Value>) {
        match self {
            Agg::Count(n) => *n += 1,
            Agg::Sum { sum, n } => {
                if let Some(x) = value.and_then(numeric) {
                    *sum += x;
                    *n += 1;
                }
            }
            _ => {
                let Some(value) = value else { return };
                // Build the stamped copy only when it would be kept (the common case for
                // `first` on an in-order stream is to keep the current one).
                let keeps_current = match self {
                    Agg::First(Some(best)) => (ts, msg) >= best.key(),
                    Agg::Last(Some(best)) => (ts, msg) <= best.key(),
                    Agg::Min(Some(best)) => order(value, best) != Some(Ordering::Less),
                    Agg::Max(Some(best)) => order(value, best) != Some(Ordering::Greater),
                    _ => false,
                };
                if !keeps_current {
                    self.merge_one(Stamped {
                        ts,
                        msg: msg.to_owned(),
                        value: value.clone(),
                    });
                }
            }
        }
    }

    fn merge_one(&mut self, item: Stamped) {
        match self {
            Agg::Min(best) => keep_if(best, item.value, Ordering::Less),
            Agg::Max(best) => keep_if(best, item.value, Ordering::Greater),
            Agg::First(best) => {
                if best.as_ref().is_none_or(|b| item.key() < b.key()) {
                    *best = Some(item);
                }
            }
            Agg::Last(best) => {
                if best.as_ref().is_none_or(|b| item.key() > b.key()) {
                    *best = Some(item);
                }
            }
            Agg::Counts(map) => {
                let entry = map.entry(value_key(&item.value)).or_insert((item.value, 0));
                entry.1 += 1;
            }
            Agg::Count(_) | Agg::Sum { .. } => {}
        }
    }

    /// Folds `other` into `self` (same aggregate).
    fn merge(&mut self, other: &Agg) {
        match (self, other) {
            (Agg::Count(a), Agg::Count(b)) => *a += b,
            (Agg::Sum { sum, n }, Agg::Sum { sum: s2, n: n2 }) => {
                *sum += s2;
                *n += n2;
            }
            (Agg::Min(a), Agg::Min(Some(b))) => keep_if(a, b.clone(), Ordering::Less),
            (Agg::Max(a), Agg::Max(Some(b))) => keep_if(a, b.clone(), Ordering::Greater),
            (this @ (Agg::First(_) | Agg::Last(_)), Agg::First(Some(b)) | Agg::Last(Some(b))) => {
                this.merge_one(b.clone());
            }
            (Agg::Counts(a), Agg::Counts(b)) => {
                for (key, (value, count)) in b {
                    a.entry(key.clone()).or_insert((value.clone(), 0)).1 += count;
                }
            }
            _ => {}
        }
    }

    /// Whether no event has contributed.
    fn is_empty(&self) -> bool {
        match self {
            Agg::Count(n) => *n == 0,
            Agg::Sum { n, .. } => *n == 0,
            Agg::Min(v) | Agg::Max(v) => v.is_none(),
            Agg::First(v) | Agg::Last(v) => v.is_none(),
            Agg::Counts(map) => map.is_empty(),
        }
    }

    /// The trait value (NULL when no event contributed).
    fn value(&self, aggregate: &Aggregate) -> Value {
        if self.is_empty() {
            return Value::Null;
        }
        match (self, aggregate) {
            (Agg::Count(n), _) => Value::Int64(*n),
            (Agg::Sum { sum, n }, Aggregate::Avg(_)) => Value::Float64(sum / to_f64(*n)),
            (Agg::Sum { sum, .. }, _) => Value::Float64(*sum),
            (Agg::Min(v) | Agg::Max(v), _) => v.clone().unwrap_or(Value::Null),
            (Agg::First(v) | Agg::Last(v), _) => {
                v.as_ref().map_or(Value::Null, |s| s.value.clone())
            }
            (Agg::Counts(map), Aggregate::CountDistinct(_)) => {
                Value::Int64(i64::try_from(map.len()).unwrap_or(i64::MAX))
            }
            (Agg::Counts(map), _) => map
                .iter()
                .max_by(|(ka, (_, ca)), (kb, (_, cb))| ca.cmp(cb).then_with(|| kb.cmp(ka)))
                .map_or(Value::Null, |(_, (v, _))| v.clone()),
        }
    }
}

/// The state of `day` in `days` (ascending by day), inserted from `empty` when missing.
fn day_entry(days: &mut Vec<(i64, Agg)>, day: i64, empty: impl FnOnce() -> Agg) -> &mut Agg {
    let at = match days.last() {
        Some((last, _)) if *last < day => days.len(),
        Some((last, _)) if *last == day => days.len() - 1,
        _ => days.partition_point(|(d, _)| *d < day),
    };
    if days.get(at).is_none_or(|(d, _)| *d != day) {
        days.insert(at, (day, empty()));
    }
    &mut days[at].1
}

/// Replaces `best` by `candidate` when empty or when `candidate` compares `wanted` to it.
fn keep_if(best: &mut Option<Value>, candidate: Value, wanted: Ordering) {
    let better = match best {
        None => true,
        Some(current) => order(&candidate, current) == Some(wanted),
    };
    if better {
        *best = Some(candidate);
    }
}

/// The state of one computed trait for one profile.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TraitState {
    /// Unwindowed: one state.
    All(Agg),
    /// Windowed: one state per UTC day (days since the epoch), ascending by day. A sorted
    /// vector, not a map: events mostly arrive in time order, so adding is a look at the
    /// last day, and summing a window is a walk over contiguous memory.
    Daily(Vec<(i64, Agg)>),
}

impl TraitState {
    /// An empty state for `definition`.
    pub fn new(definition: &ComputedTrait) -> TraitState {
        if definition.window.is_some() {
            TraitState::Daily(Vec::new())
        } else {
            TraitState::All(Agg::empty(&definition.aggregate))
        }
    }

    /// Adds one event if it matches; returns whether it did. Events older than the window
    /// at clock `now` are ignored (the clock never goes back, so they can never count).
    pub fn add<N: AsRef<str>>(
        &mut self,
        definition: &ComputedTrait,
        event: &[(N, Value)],
        now: i64,
    ) -> bool {
        if !definition.matches(event) {
            return false;
        }
        match event_stamp(event) {
            Some(stamp) => self.add_value(definition, definition.input_of(event), stamp, now),
            None => false,
        }
    }

    /// Adds an event already known to match `definition`, stamped `(ts, msg)` (see
    /// [`event_stamp`]), given only the value it brings ([`ComputedTrait::input_of`]).
    pub fn add_value(
        &mut self,
        definition: &ComputedTrait,
        value: Option<&Value>,
        (ts, msg): (i64, &str),
        now: i64,
    ) -> bool {
        match self {
            TraitState::All(agg) => agg.add(ts, msg, value),
            TraitState::Daily(days) => {
                let day = ts.div_euclid(DAY_MICROS);
                if definition.first_day(now).is_some_and(|first| day < first) {
                    return false;
                }
                day_entry(days, day, || Agg::empty(&definition.aggregate)).add(ts, msg, value);
            }
        }
        true
    }

    /// Folds another profile's state into this one.
    pub fn merge(&mut self, other: &TraitState) {
        match (self, other) {
            (TraitState::All(a), TraitState::All(b)) => a.merge(b),
            (TraitState::Daily(a), TraitState::Daily(b)) => {
                for (day, agg) in b {
                    let at = a.partition_point(|(d, _)| d < day);
                    match a.get_mut(at) {
                        Some((d, mine)) if d == day => mine.merge(agg),
                        _ => a.insert(at, (*day, agg.clone())),
                    }
                }
            }
            _ => {}
        }
    }

    /// Drops days before the window at clock `now`.
    pub fn age(&mut self, definition: &ComputedTrait, now: i64) {
        if let (TraitState::Daily(days), Some(first)) = (self, definition.first_day(now)) {
            let before_window = days.partition_point(|(day, _)| *day < first);
            days.drain(..before_window);
        }
    }

    /// The trait value at clock `now`.
    pub fn value(&self, definition: &ComputedTrait, now: i64) -> Value {
        match self {
            TraitState::All(agg) => agg.value(&definition.aggregate),
            TraitState::Daily(days) => {
                let first = definition.first_day(now).unwrap_or(i64::MIN);
                let mut total = Agg::empty(&definition.aggregate);
                // Most profiles have no day old enough to leave the window: no search then.
                let in_window = match days.first() {
                    Some((oldest, _)) if *oldest >= first => 0,
                    _ => days.partition_point(|(day, _)| *day < first),
                };
                for (_, agg) in &days[in_window..] {
                    total.merge(agg);
                }
                total.value(&definition.aggregate)
            }
        }
    }
}
