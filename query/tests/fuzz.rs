//! Fuzz-style robustness test: token soup and mutated valid queries go through parse, plan and
//! execute; every input must yield `Ok` or a typed error, never a panic.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};

use profiledb_query::{execute, MemCatalog, Session};

/// A small deterministic PRNG (xorshift64*), so failures reproduce without extra dependencies.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const TOKENS: &[&str] = &[
    "SELECT",
    "FROM",
    "WHERE",
    "GROUP",
    "BY",
    "HAVING",
    "ORDER",
    "LIMIT",
    "OFFSET",
    "AND",
    "OR",
    "NOT",
    "IN",
    "EXISTS",
    "IS",
    "NULL",
    "LIKE",
    "ILIKE",
    "ESCAPE",
    "BETWEEN",
    "ANY",
    "DISTINCT",
    "COUNT",
    "SUM",
    "AVG",
    "MIN",
    "MAX",
    "CAST",
    "AS",
    "DATE",
    "TIMESTAMP",
    "INTERVAL",
    "now()",
    "CURRENT_DATE",
    "date_trunc",
    "list_contains",
    "(",
    ")",
    ",",
    "*",
    "+",
    "-",
    "/",
    "%",
    "=",
    "<>",
    "<",
    ">=",
    "::",
    "||",
    ";",
    "profiles",
    "events",
    "identities",
    "vips",
    "profile_id",
    "age",
    "ltv",
    "tags",
    "email",
    "event",
    "timestamp",
    "revenue",
    "\"address.city\"",
    "p",
    "e",
    "1",
    "0",
    "-1",
    "2.5",
    "9223372036854775807",
    "'vip'",
    "'%a\\'",
    "'2026-01-01'",
    "'30 days'",
    "'x'",
    "true",
    "false",
    "CREATE",
    "SEGMENT",
    "DROP",
    "SHOW",
    "SEGMENTS",
    "TRAIT",
    "TRAITS",
    "WITHIN",
    "mode",
    "first",
    "last",
    "'90 days'",
    "EXPLAIN",
    "ANALYZE",
    "SET",
    "NOW",
    "DESC",
    "NULLS",
    "FIRST",
    "LAST",
    "bigint",
    "text",
];

const VALID: &[&str] = &[
    "SELECT profile_id, name FROM profiles WHERE age > 30 AND country IN ('FR', 'DE') ORDER BY age DESC NULLS LAST LIMIT 3",
    "SELECT country, COUNT(*), SUM(ltv) FROM profiles GROUP BY country HAVING COUNT(*) > 1 ORDER BY 2 DESC",
    "SELECT profile_id FROM profiles WHERE profile_id IN (SELECT profile_id FROM events WHERE event = 'Order Completed' AND timestamp >= now() - INTERVAL '30 days' GROUP BY profile_id HAVING COUNT(*) >= 2)",
    "SELECT profile_id FROM profiles p WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.profile_id = p.profile_id AND e.revenue > 10)",
    "SELECT date_trunc('day', timestamp) AS d, COUNT(*) FROM events GROUP BY d ORDER BY d",
    "SELECT email FROM profiles WHERE email ILIKE '%@EXAMPLE.com' OR 'vip' = ANY(tags) OR list_contains(tags, 'beta')",
    "SELECT CAST(signup_at AS DATE), age / 2, ltv * 1.5 FROM profiles WHERE signup_at BETWEEN DATE '2025-01-01' AND '2026-01-01'::timestamp",
    "CREATE OR REPLACE SEGMENT vips AS SELECT profile_id FROM profiles WHERE vip",
    "EXPLAIN ANALYZE SELECT COUNT(*) FROM profiles WHERE NOT (age NOT IN (1, NULL)) AND email IS NOT NULL",
    "SET now = '2026-06-01T00:00:00Z'",
];

/// Statements that parse but run only on a profiles database: here they must fail cleanly.
const PROFILES_ONLY: &[&str] = &[
    "CREATE OR REPLACE TRAIT orders_90d AS count(*) FROM events WHERE event = 'Order Completed' AND revenue > 10 WITHIN INTERVAL '90 days'",
    "CREATE TRAIT top_sku AS mode() WITHIN GROUP (ORDER BY sku) FROM events WHERE -1 < price",
    "DROP TRAIT IF EXISTS orders_90d",
    "SHOW TRAITS",
];

/// Runs `sql`, failing the test if anything panics.
fn must_not_panic(catalog: &MemCatalog, session: &mut Session, sql: &str) {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let _ = execute(catalog, session, sql);
    }));
    assert!(outcome.is_ok(), "panicked on: {sql}");
}

fn mutate(rng: &mut Rng, sql: &str) -> String {
    let mut words: Vec<String> = sql.split(' ').map(String::from).collect();
    for _ in 0..=rng.below(3) {
        if words.is_empty() {
            break;
        }
        let at = rng.below(words.len());
        match rng.below(5) {
            0 => {
                words.remove(at);
            }
            1 => words.insert(at, rng.pick(TOKENS).to_owned()),
            2 => words[at] = rng.pick(TOKENS).to_owned(),
            3 => {
                let other = rng.below(words.len());
                words.swap(at, other);
            }
            _ => {
                // Cut a word in the middle (on a character boundary) to break tokens and quotes.
                let chars: Vec<char> = words[at].chars().collect();
                let cut = rng.below(chars.len() + 1);
                words[at] = chars[..cut].iter().collect();
            }
        }
    }
    words.join(" ")
}

#[test]
fn token_soup_never_panics() {
    let catalog = common::catalog();
    let mut session = Session::new();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..4000 {
        let len = 1 + rng.below(16);
        let sql: Vec<&str> = (0..len).map(|_| rng.pick(TOKENS)).collect();
        must_not_panic(&catalog, &mut session, &sql.join(" "));
    }
}

#[test]
fn mutated_valid_queries_never_panic() {
    let catalog = common::catalog();
    let mut session = Session::new();
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    let seeds: Vec<&str> = VALID.iter().chain(PROFILES_ONLY).copied().collect();
    for seed in &seeds {
        must_not_panic(&catalog, &mut session, seed);
    }
    for _ in 0..6000 {
        let base = seeds[rng.below(seeds.len())];
        let sql = mutate(&mut rng, base);
        must_not_panic(&catalog, &mut session, &sql);
    }
}

#[test]
fn valid_queries_succeed() {
    let catalog = common::catalog();
    let mut session = Session::new();
    for sql in VALID {
        assert!(
            execute(&catalog, &mut session, sql).is_ok(),
            "failed: {sql}: {:?}",
            execute(&catalog, &mut session, sql)
        );
    }
    for sql in PROFILES_ONLY {
        assert!(profiledb_query::parse(sql).is_ok(), "does not parse: {sql}");
        assert!(
            matches!(
                execute(&catalog, &mut session, sql),
                Err(profiledb_query::QueryError::NotImplemented { .. })
            ),
            "{sql}"
        );
    }
}

#[test]
fn pathological_inputs_error_cleanly() {
    let catalog = common::catalog();
    let mut session = Session::new();
    let deep = format!("SELECT {}1{}", "(".repeat(500), ")".repeat(500));
    let long_not = format!("SELECT 1 WHERE {} true", "NOT ".repeat(400));
    let huge_in = format!(
        "SELECT COUNT(*) FROM profiles WHERE age IN ({})",
        (0..5000)
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(",")
    );
    for sql in [
        "",
        ";",
        "   ",
        "\u{0}",
        "SELECT '",
        "SELECT \"",
        "SELECT $$",
        "SELECT 1e999",
        "SELECT -9223372036854775808",
        "SELECT TIMESTAMP '99999-01-01'",
        "SELECT TIMESTAMP '2026-01-01' + INTERVAL '999999999 years'",
        "SELECT * FROM profiles LIMIT 99999999999999999999",
        &deep,
        &long_not,
        &huge_in,
    ] {
        must_not_panic(&catalog, &mut session, sql);
    }
}
