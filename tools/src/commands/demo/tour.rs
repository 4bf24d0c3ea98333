//! The statements of the tour: segments of the demo data, and a few questions answered in SQL.

use super::segments::SegmentSpec;

/// Segments the demo creates (their definitions are printed for the user to reuse).
pub(crate) fn segments() -> Vec<SegmentSpec> {
    let spec = |name, about, sql: &str| SegmentSpec {
        name,
        about,
        sql: sql.to_owned(),
    };
    vec![
        spec(
            "high_value",
            "customers who spent $500 or more",
            "SELECT profile_id FROM profiles WHERE lifetime_revenue >= 500",
        ),
        spec(
            "recent_buyers",
            "ordered in the last 30 days",
            "SELECT profile_id FROM profiles WHERE orders_30d >= 1",
        ),
        spec(
            "engaged_subscribers",
            "opened 2+ emails in 30 days and consented to email",
            "SELECT profile_id FROM profiles WHERE emails_opened_30d >= 2 AND \"consent.email\" = true",
        ),
        spec(
            "lapsing_paid",
            "paid plan, not seen for 30 days",
            "SELECT profile_id FROM profiles WHERE plan IN ('pro', 'enterprise') \
             AND last_seen < now() - INTERVAL '30 days'",
        ),
        spec(
            "anonymous_visitors",
            "browsed but never signed up",
            "SELECT profile_id FROM profiles WHERE user_id IS NULL",
        ),
        spec(
            "multi_device",
            "seen on two or more devices",
            "SELECT profile_id FROM profiles WHERE profile_id IN (SELECT profile_id FROM events \
             WHERE type IN ('page', 'screen') GROUP BY profile_id \
             HAVING COUNT(DISTINCT anonymous_id) >= 2)",
        ),
    ]
}

/// Questions answered after the segments, shown with their results.
pub(crate) const QUERIES: [(&str, &str); 3] = [
    (
        "events by type",
        "SELECT type, COUNT(*) AS events FROM events GROUP BY type ORDER BY events DESC",
    ),
    (
        "revenue by country",
        "SELECT country, COUNT(*) AS customers, SUM(lifetime_revenue) AS revenue \
         FROM profiles WHERE user_id IS NOT NULL GROUP BY country ORDER BY revenue DESC LIMIT 5",
    ),
    (
        "plans",
        "SELECT plan, COUNT(*) AS profiles FROM profiles GROUP BY plan ORDER BY profiles DESC",
    ),
];
