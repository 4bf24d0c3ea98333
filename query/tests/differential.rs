//! Differential property test: random WHERE predicates over random data, `execute` versus a naive
//! row-by-row evaluator with SQL three-valued logic written independently here.

use proptest::prelude::*;

use profiledb_query::{
    execute, ColumnType, MemCatalog, MemTable, Session, StatementOutcome, Value,
};

/// One generated row: a (int), b (float), s (string), t (list), f (bool); `None` = NULL.
#[derive(Debug, Clone)]
struct Row {
    a: Option<i64>,
    b: Option<f64>,
    s: Option<String>,
    t: Option<Vec<String>>,
    f: Option<bool>,
}

/// A literal, as SQL text and as a number/string for the naive evaluator.
#[derive(Debug, Clone)]
enum Lit {
    Null,
    Int(i64),
    Float(f64),
    Str(String),
}

impl Lit {
    fn sql(&self) -> String {
        match self {
            Lit::Null => "NULL".into(),
            Lit::Int(i) => i.to_string(),
            Lit::Float(f) => format!("{f:?}"),
            Lit::Str(s) => format!("'{}'", s.replace('\'', "''")),
        }
    }
    fn num(&self) -> Option<f64> {
        match self {
            Lit::Int(i) => Some(*i as f64),
            Lit::Float(f) => Some(*f),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    fn sql(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "<>",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }
    fn holds<T: PartialOrd>(self, x: T, y: T) -> bool {
        match self {
            Op::Eq => x == y,
            Op::Ne => x != y,
            Op::Lt => x < y,
            Op::Le => x <= y,
            Op::Gt => x > y,
            Op::Ge => x >= y,
        }
    }
}

#[derive(Debug, Clone)]
enum Pred {
    NumCmp(&'static str, Op, Lit),
    StrCmp(Op, Lit),
    ColCmp(Op),
    IsNull(&'static str, bool),
    InList(Vec<Lit>, bool),
    Between(Lit, Lit, bool),
    Like(String, bool, bool),
    Contains(String),
    Flag,
    Const(Option<bool>),
    And(Box<Pred>, Box<Pred>),
    Or(Box<Pred>, Box<Pred>),
    Not(Box<Pred>),
}

fn sql(p: &Pred) -> String {
    match p {
        Pred::NumCmp(c, op, l) => format!("{c} {} {}", op.sql(), l.sql()),
        Pred::StrCmp(op, l) => format!("s {} {}", op.sql(), l.sql()),
        Pred::ColCmp(op) => format!("a {} b", op.sql()),
        Pred::IsNull(c, neg) => format!("{c} IS {}NULL", if *neg { "NOT " } else { "" }),
        Pred::InList(items, neg) => {
            let items: Vec<String> = items.iter().map(Lit::sql).collect();
            format!(
                "a {}IN ({})",
                if *neg { "NOT " } else { "" },
                items.join(", ")
            )
        }
        Pred::Between(lo, hi, neg) => format!(
            "a {}BETWEEN {} AND {}",
            if *neg { "NOT " } else { "" },
            lo.sql(),
            hi.sql()
        ),
        Pred::Like(pat, neg, ci) => format!(
            "s {}{} '{}'",
            if *neg { "NOT " } else { "" },
            if *ci { "ILIKE" } else { "LIKE" },
            pat
        ),
        Pred::Contains(item) => format!("list_contains(t, '{item}')"),
        Pred::Flag => "f".into(),
        Pred::Const(v) => v.map_or("NULL".into(), |b| b.to_string()),
        Pred::And(l, r) => format!("({} AND {})", sql(l), sql(r)),
        Pred::Or(l, r) => format!("({} OR {})", sql(l), sql(r)),
        Pred::Not(x) => format!("NOT ({})", sql(x)),
    }
}

fn num_col(row: &Row, c: &str) -> Option<f64> {
    if c == "a" {
        row.a.map(|a| a as f64)
    } else {
        row.b
    }
}

/// Naive SQL `LIKE` with `\` escape, by backtracking.
fn like(p: &[char], s: &[char]) -> bool {
    match p.split_first() {
        None => s.is_empty(),
        Some(('%', rest)) => (0..=s.len()).any(|i| like(rest, &s[i..])),
        Some(('_', rest)) => !s.is_empty() && like(rest, &s[1..]),
        Some(('\\', rest)) if !rest.is_empty() => {
            !s.is_empty() && s[0] == rest[0] && like(&rest[1..], &s[1..])
        }
        Some((c, rest)) => !s.is_empty() && s[0] == *c && like(rest, &s[1..]),
    }
}

fn eval(p: &Pred, row: &Row) -> Option<bool> {
    match p {
        Pred::NumCmp(c, op, l) => Some(op.holds(num_col(row, c)?, l.num()?)),
        Pred::StrCmp(op, l) => match l {
            Lit::Str(v) => Some(op.holds(row.s.as_deref()?.as_bytes(), v.as_bytes())),
            _ => None,
        },
        Pred::ColCmp(op) => Some(op.holds(row.a? as f64, row.b?)),
        Pred::IsNull(c, neg) => {
            let null = match *c {
                "a" => row.a.is_none(),
                "b" => row.b.is_none(),
                "s" => row.s.is_none(),
                "t" => row.t.is_none(),
                _ => row.f.is_none(),
            };
            Some(null != *neg)
        }
        Pred::InList(items, neg) => {
            let a = row.a? as f64;
            let mut saw_null = false;
            for item in items {
                match item.num() {
                    Some(v) if v == a => return Some(!neg),
                    Some(_) => {}
                    None => saw_null = true,
                }
            }
            if saw_null {
                None
            } else {
                Some(*neg)
            }
        }
        Pred::Between(lo, hi, neg) => {
            let a = row.a.map(|a| a as f64);
            let ge = match (a, lo.num()) {
                (Some(a), Some(l)) => Some(a >= l),
                _ => None,
            };
            let le = match (a, hi.num()) {
                (Some(a), Some(h)) => Some(a <= h),
                _ => None,
            };
            let both = and(ge, le);
            if *neg {
                both.map(|b| !b)
            } else {
                both
            }
        }
        Pred::Like(pat, neg, ci) => {
            let s = row.s.as_ref()?;
            let (p, s) = if *ci {
                (pat.to_lowercase(), s.to_lowercase())
            } else {
                (pat.clone(), s.clone())
            };
            let m = like(
                &p.chars().collect::<Vec<_>>(),
                &s.chars().collect::<Vec<_>>(),
            );
            Some(m != *neg)
        }
        Pred::Contains(item) => Some(row.t.as_ref()?.contains(item)),
        Pred::Flag => row.f,
        Pred::Const(v) => *v,
        Pred::And(l, r) => and(eval(l, row), eval(r, row)),
        Pred::Or(l, r) => match (eval(l, row), eval(r, row)) {
            (Some(true), _) | (_, Some(true)) => Some(true),
            (Some(false), Some(false)) => Some(false),
            _ => None,
        },
        Pred::Not(x) => eval(x, row).map(|b| !b),
    }
}

fn and(l: Option<bool>, r: Option<bool>) -> Option<bool> {
    match (l, r) {
        (Some(false), _) | (_, Some(false)) => Some(false),
        (Some(true), Some(true)) => Some(true),
        _ => None,
    }
}

const WORDS: [&str; 6] = ["", "ab", "a%b", "Äb", "abc", "b_a"];
const TAGS: [&str; 3] = ["vip", "beta", "x"];

fn row_strategy() -> impl Strategy<Value = Row> {
    (
        proptest::option::weighted(0.8, -3i64..4),
        proptest::option::weighted(
            0.8,
            prop_oneof![Just(-1.5), Just(0.0), Just(2.5), Just(2.0), Just(3.0)],
        ),
        proptest::option::weighted(
            0.8,
            proptest::sample::select(WORDS.to_vec()).prop_map(String::from),
        ),
        proptest::option::weighted(
            0.8,
            proptest::sample::subsequence(TAGS.to_vec(), 0..=3)
                .prop_map(|v| v.into_iter().map(String::from).collect()),
        ),
        proptest::option::weighted(0.8, any::<bool>()),
    )
        .prop_map(|(a, b, s, t, f)| Row { a, b, s, t, f })
}

fn num_lit() -> impl Strategy<Value = Lit> {
    prop_oneof![
        4 => (-4i64..5).prop_map(Lit::Int),
        2 => prop_oneof![Just(-1.5), Just(2.5), Just(2.0), Just(0.5)].prop_map(Lit::Float),
        1 => Just(Lit::Null),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        Just(Op::Eq),
        Just(Op::Ne),
        Just(Op::Lt),
        Just(Op::Le),
        Just(Op::Gt),
        Just(Op::Ge)
    ]
}

fn leaf() -> impl Strategy<Value = Pred> {
    let pattern =
        proptest::sample::select(vec!["a%", "%b", "_b", "%", "a\\%b", "ä%", "%b\\_a", "abc"])
            .prop_map(String::from);
    prop_oneof![
        (prop_oneof![Just("a"), Just("b")], op(), num_lit()).prop_map(|(c, o, l)| Pred::NumCmp(c, o, l)),
        (op(), prop_oneof![3 => proptest::sample::select(WORDS.to_vec()).prop_map(|w| Lit::Str(w.into())), 1 => Just(Lit::Null)]).prop_map(|(o, l)| Pred::StrCmp(o, l)),
        op().prop_map(Pred::ColCmp),
        (prop_oneof![Just("a"), Just("b"), Just("s"), Just("t"), Just("f")], any::<bool>()).prop_map(|(c, n)| Pred::IsNull(c, n)),
        (proptest::collection::vec(num_lit(), 1..4), any::<bool>()).prop_map(|(l, n)| Pred::InList(l, n)),
        (num_lit(), num_lit(), any::<bool>()).prop_map(|(l, h, n)| Pred::Between(l, h, n)),
        (pattern, any::<bool>(), any::<bool>()).prop_map(|(p, n, ci)| Pred::Like(p, n, ci)),
        proptest::sample::select(TAGS.to_vec()).prop_map(|t| Pred::Contains(t.into())),
        Just(Pred::Flag),
        prop_oneof![Just(Some(true)), Just(Some(false)), Just(None)].prop_map(Pred::Const),
    ]
}

fn pred() -> impl Strategy<Value = Pred> {
    leaf().prop_recursive(4, 24, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(l, r)| Pred::And(Box::new(l), Box::new(r))),
            (inner.clone(), inner.clone()).prop_map(|(l, r)| Pred::Or(Box::new(l), Box::new(r))),
            inner.prop_map(|x| Pred::Not(Box::new(x))),
        ]
    })
}

fn catalog(rows: &[Row]) -> MemCatalog {
    let mut table = MemTable::new(vec![
        ("profile_id".into(), ColumnType::Int64),
        ("a".into(), ColumnType::Int64),
        ("b".into(), ColumnType::Float64),
        ("s".into(), ColumnType::String),
        ("t".into(), ColumnType::StringList),
        ("f".into(), ColumnType::Bool),
    ]);
    for (i, r) in rows.iter().enumerate() {
        table
            .push_row(vec![
                Value::Int64(i as i64),
                r.a.map_or(Value::Null, Value::Int64),
                r.b.map_or(Value::Null, Value::Float64),
                r.s.clone().map_or(Value::Null, Value::String),
                r.t.clone().map_or(Value::Null, Value::StringList),
                r.f.map_or(Value::Null, Value::Bool),
            ])
            .expect("row fits");
    }
    let mut catalog = MemCatalog::new(0);
    catalog.insert("profiles", table);
    catalog
}

fn ids(sql: &str, catalog: &MemCatalog) -> Vec<i64> {
    match execute(catalog, &mut Session::new(), sql) {
        Ok(StatementOutcome::Rows(r)) => r
            .rows
            .iter()
            .map(|row| match row.first() {
                Some(Value::Int64(i)) => *i,
                other => panic!("unexpected {other:?}"),
            })
            .collect(),
        other => panic!("`{sql}` failed: {other:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, ..ProptestConfig::default() })]

    #[test]
    fn where_matches_naive_three_valued_evaluation(rows in proptest::collection::vec(row_strategy(), 0..30), p in pred()) {
        let catalog = catalog(&rows);
        let condition = sql(&p);
        let expected: Vec<i64> = rows.iter().enumerate().filter(|(_, r)| eval(&p, r) == Some(true)).map(|(i, _)| i as i64).collect();
        let got = ids(&format!("SELECT profile_id FROM profiles WHERE {condition}"), &catalog);
        prop_assert_eq!(&got, &expected, "WHERE {}", condition);
        let count = ids(&format!("SELECT COUNT(*) FROM profiles WHERE {condition}"), &catalog);
        prop_assert_eq!(count, vec![expected.len() as i64]);
        // NOT p is TRUE exactly where p is FALSE.
        let negated: Vec<i64> = rows.iter().enumerate().filter(|(_, r)| eval(&p, r) == Some(false)).map(|(i, _)| i as i64).collect();
        let got_not = ids(&format!("SELECT profile_id FROM profiles WHERE NOT ({condition})"), &catalog);
        prop_assert_eq!(got_not, negated, "WHERE NOT ({})", condition);
    }
}
