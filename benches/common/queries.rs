//! The benchmarked segment queries, shared by the criterion bench and the query probe.

/// `SET now` value pinned for every query (= `common::NOW_MICROS`).
pub const NOW_SQL: &str = "2026-06-01T00:00:00Z";

/// The benchmarked statements: (criterion id, SQL).
pub const QUERIES: [(&str, &str); 7] = [
    (
        "eq_in_3_predicates",
        "SELECT COUNT(*) FROM profiles WHERE country IN ('DE', 'AT', 'CH') AND plan = 'pro' \
         AND email_opt_in = true",
    ),
    (
        "mixed_eq_range_3_predicates",
        "SELECT COUNT(*) FROM profiles WHERE country = 'DE' AND age BETWEEN 25 AND 40 \
         AND lifetime_value > 1000",
    ),
    (
        "behavioural_ordered_2x_30d_and_2_traits",
        "SELECT COUNT(*) FROM profiles WHERE country IN ('DE', 'AT', 'CH') AND plan = 'pro' \
         AND profile_id IN (SELECT profile_id FROM events WHERE event = 'Order Completed' \
         AND timestamp >= now() - INTERVAL '30 days' GROUP BY profile_id HAVING COUNT(*) >= 2)",
    ),
    (
        "single_eq_country",
        "SELECT COUNT(*) FROM profiles WHERE country = 'DE'",
    ),
    (
        "single_range_age",
        "SELECT COUNT(*) FROM profiles WHERE age > 50",
    ),
    (
        "single_range_last_seen",
        "SELECT COUNT(*) FROM profiles WHERE last_seen_at >= now() - INTERVAL '30 days'",
    ),
    (
        "events_orders_30d",
        "SELECT COUNT(*) FROM events WHERE event = 'Order Completed' \
         AND timestamp >= now() - INTERVAL '30 days'",
    ),
];
