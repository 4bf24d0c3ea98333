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
            "customers who spent $250 or more",
            "SELECT profile_id FROM profiles WHERE lifetime_revenue >= 250",
        ),
        spec(
            "recent_buyers",
            "ordered in the last 30 days",
            "SELECT profile_id FROM profiles WHERE orders_30d >= 1",
        ),
        spec(
            "engaged_subscribers",
            "opened an email in 30 days and consent to email",
            "SELECT profile_id FROM profiles WHERE emails_opened_30d >= 1 AND \"consent.email\" = true",
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
            "customers seen on two or more devices",
            "SELECT profile_id FROM profiles WHERE devices >= 2 AND user_id IS NOT NULL",
        ),
        spec(
            "upgraded",
            "moved from free to pro (an events subquery)",
            "SELECT profile_id FROM profiles WHERE profile_id IN \
             (SELECT profile_id FROM events WHERE event = 'Plan Upgraded')",
        ),
    ]
}

/// Questions answered after the segments, shown with their results.
pub(crate) const QUERIES: [(&str, &str); 2] = [
    (
        "orders in the last 30 days",
        "SELECT COUNT(*) AS orders, CAST(SUM(revenue) AS BIGINT) AS revenue FROM events \
         WHERE event = 'Order Completed' AND timestamp >= now() - INTERVAL '30 days'",
    ),
    (
        "customers by country",
        "SELECT country, COUNT(*) AS customers, CAST(SUM(lifetime_revenue) AS BIGINT) AS revenue \
         FROM profiles WHERE user_id IS NOT NULL GROUP BY country ORDER BY revenue DESC LIMIT 5",
    ),
];
