//! Column sketches of float chunks: one order-preserving byte per row.
//!
//! A float chunk holds 8 bytes per row; a range predicate over it streams 512 KiB per chunk, and
//! testing a sparse set of rows misses the cache once per row. The sketch maps every value to
//! the number of chunk-specific boundaries below it (255 quantiles of a sample), so that
//! `code(v) < code(w)` implies `v < w`. A predicate then classifies each of the 256 codes once:
//! every value with that code matches, none does, or (for the one or two codes whose interval
//! holds a predicate constant) the exact value decides. Scanning the codes streams 64 KiB per
//! chunk; exact values are read only for the rows of undecided codes, about 1 in 128.
//!
//! When a chunk has at most 254 distinct values the boundaries are those values and every code
//! is decided outright. Built from the decoded chunk on first use and kept in the segment.

use super::matcher::FloatTest;
use crate::codec::kernels::CompareOp;

/// The code of NaN values (always undecided, tested exactly under IEEE rules).
pub(crate) const NAN_CODE: u8 = u8::MAX;
/// Most boundaries a sketch keeps (codes `0..=MAX_BOUNDS`, NaN above).
const MAX_BOUNDS: usize = 254;
/// Values sampled to choose the boundaries.
const SAMPLE: usize = 4_096;

/// How every value with one code relates to a predicate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// No value with this code matches.
    None,
    /// Every value with this code matches.
    All,
    /// Some might: test the exact value.
    Maybe,
}

/// One byte per row of a float chunk, ordered like the values (see the module docs).
#[derive(Debug)]
pub(crate) struct Sketch {
    /// Ascending, distinct, non-NaN boundaries; a non-NaN value's code is the number of
    /// boundaries below it.
    bounds: Vec<f64>,
    /// Every non-NaN value equals the boundary its code names (codes are exact).
    exact: bool,
    /// The code of every row (NULL rows hold whatever their placeholder value maps to).
    pub(crate) codes: Vec<u8>,
    /// Whether any row holds NaN (code [`NAN_CODE`]).
    pub(crate) has_nan: bool,
}

impl Sketch {
    /// The sketch of `values`.
    pub(crate) fn build(values: &[f64]) -> Sketch {
        let step = (values.len() / SAMPLE).max(1);
        let mut sample: Vec<f64> = values
            .iter()
            .step_by(step)
            .copied()
            .filter(|v| !v.is_nan())
            .collect();
        sample.sort_by(f64::total_cmp);
        sample.dedup_by(|a, b| a == b);
        let bounds: Vec<f64> = if sample.len() <= MAX_BOUNDS {
            sample
        } else {
            let mut picked: Vec<f64> = (1..=MAX_BOUNDS)
                .map(|i| sample[i * (sample.len() - 1) / MAX_BOUNDS])
                .collect();
            picked.dedup_by(|a, b| a == b);
            picked
        };
        // Branch-free lower bound over a power-of-two padded copy (padding is +inf, which no
        // finite value exceeds; +inf values land on the real count below).
        let mut padded = bounds.clone();
        padded.resize(256, f64::INFINITY);
        let mut exact = bounds.len() <= MAX_BOUNDS;
        let codes: Vec<u8> = values
            .iter()
            .map(|&v| {
                if v.is_nan() {
                    return NAN_CODE;
                }
                let mut at = 0usize;
                let mut half = 128usize;
                while half > 0 {
                    // `padded[at + half - 1] < v`: at least `at + half` bounds are below v.
                    at += usize::from(padded[at + half - 1] < v) * half;
                    half /= 2;
                }
                let code = at.min(bounds.len());
                exact &= bounds.get(code).is_some_and(|&b| b == v);
                code as u8
            })
            .collect();
        let has_nan = values.iter().any(|v| v.is_nan());
        Sketch {
            bounds,
            exact,
            codes,
            has_nan,
        }
    }

    /// The verdict for every code (index = code).
    pub(crate) fn verdicts(&self, test: &FloatTest) -> [Verdict; 256] {
        let mut out = [Verdict::None; 256];
        let m = self.bounds.len();
        for (code, verdict) in out.iter_mut().enumerate().take(m + 1) {
            *verdict = if self.exact {
                match self.bounds.get(code) {
                    Some(&b) if test.accepts(b) => Verdict::All,
                    _ => Verdict::None,
                }
            } else {
                // Values with this code lie in (bounds[code - 1], bounds[code]]; the first and
                // last intervals are open-ended (they hold the infinities too).
                let low = code
                    .checked_sub(1)
                    .and_then(|i| self.bounds.get(i))
                    .copied();
                let high = self.bounds.get(code).copied();
                interval_verdict(test, low, high)
            };
        }
        out[usize::from(NAN_CODE)] = Verdict::Maybe;
        out
    }
}

/// What `test` says of every value `v` with `low < v <= high` (`None`: unbounded).
fn interval_verdict(test: &FloatTest, low: Option<f64>, high: Option<f64>) -> Verdict {
    // All values of the interval exceed `x`: `low >= x`; none exceed `x`: `high <= x`.
    let all_above = |x: f64| low.is_some_and(|l| l >= x);
    let all_at_most = |x: f64| high.is_some_and(|h| h <= x);
    let all_below = |x: f64| high.is_some_and(|h| h < x);
    let pick = |all: bool, none: bool| {
        if all {
            Verdict::All
        } else if none {
            Verdict::None
        } else {
            Verdict::Maybe
        }
    };
    let outside = |x: f64| all_above(x) || high.is_some_and(|h| x > h);
    match test {
        FloatTest::Compare(op, rhs) if rhs.is_nan() => {
            if *op == CompareOp::NotEq {
                Verdict::All
            } else {
                Verdict::None
            }
        }
        FloatTest::Compare(op, r) => {
            let r = *r;
            match op {
                CompareOp::Greater => pick(all_above(r), all_at_most(r)),
                CompareOp::GreaterOrEqual => pick(all_above(r), all_below(r)),
                CompareOp::Less => pick(all_below(r), all_above(r)),
                CompareOp::LessOrEqual => pick(all_at_most(r), all_above(r)),
                CompareOp::Eq => pick(false, outside(r)),
                CompareOp::NotEq => pick(outside(r), false),
            }
        }
        FloatTest::Between(a, b) => {
            if a.is_nan() || b.is_nan() || a > b {
                return Verdict::None;
            }
            pick(
                all_above(*a) && all_at_most(*b),
                all_below(*a) || all_above(*b),
            )
        }
        FloatTest::In(items) => pick(false, items.iter().all(|&x| x.is_nan() || outside(x))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn float() -> impl Strategy<Value = f64> {
        prop_oneof![
            (-50i32..50).prop_map(|i| f64::from(i) / 4.0),
            any::<f64>(),
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(-0.0),
            Just(0.0),
        ]
    }

    fn test_strategy() -> impl Strategy<Value = FloatTest> {
        let op = prop_oneof![
            Just(CompareOp::Eq),
            Just(CompareOp::NotEq),
            Just(CompareOp::Less),
            Just(CompareOp::LessOrEqual),
            Just(CompareOp::Greater),
            Just(CompareOp::GreaterOrEqual),
        ];
        prop_oneof![
            (op, float()).prop_map(|(op, r)| FloatTest::Compare(op, r)),
            (float(), float()).prop_map(|(a, b)| FloatTest::Between(a, b)),
            prop::collection::vec(float(), 0..4).prop_map(FloatTest::In),
        ]
    }

    proptest! {
        #[test]
        fn verdicts_never_contradict_the_values(
            values in prop::collection::vec(float(), 1..3000),
            many in any::<bool>(),
            test in test_strategy(),
        ) {
            // Many distinct values exercise the quantile path, few the exact one.
            let values: Vec<f64> = if many {
                values.iter().enumerate().map(|(i, v)| v + i as f64 * 0.001).collect()
            } else {
                values
            };
            let sketch = Sketch::build(&values);
            let verdicts = sketch.verdicts(&test);
            for (i, &v) in values.iter().enumerate() {
                match verdicts[usize::from(sketch.codes[i])] {
                    Verdict::All => prop_assert!(test.accepts(v), "{v} should match {test:?}"),
                    Verdict::None => prop_assert!(!test.accepts(v), "{v} should not match {test:?}"),
                    Verdict::Maybe => {}
                }
            }
            for i in 1..values.len() {
                let (a, b) = (values[i - 1], values[i]);
                let (ca, cb) = (sketch.codes[i - 1], sketch.codes[i]);
                if !a.is_nan() && !b.is_nan() {
                    if a < b {
                        prop_assert!(ca <= cb, "{a} < {b} but codes {ca} > {cb}");
                    } else if b < a {
                        prop_assert!(cb <= ca, "{b} < {a} but codes {cb} > {ca}");
                    }
                }
            }
        }
    }
}
