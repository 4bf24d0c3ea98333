//! The demo's closing report: what was generated, how identities were stitched, segment
//! sizes with query times, and the SQL to try next.

use super::journey::DEMO_NOW;
use super::load::Loaded;
use super::segments::Ran;
use crate::commands::sql::runner::millis;
use crate::error::ToolError;
use crate::output::{value::rfc3339, write_result, Out, ResultFormat};
use profiledb::query::QueryResult;
use std::path::Path;
use std::time::Duration;

/// Everything the report shows.
pub(crate) struct Report<'a> {
    pub data: &'a Path,
    pub loaded: &'a Loaded,
    pub profiles: u64,
    pub events: u64,
    pub traits: &'a [&'static str],
    pub segments: &'a [Ran],
    pub queries: &'a [(String, String, QueryResult, Duration)],
    pub example_user: String,
    pub total: Duration,
}

/// `1234567` → `1,234,567`.
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub(crate) fn print(report: &Report<'_>) -> Result<(), ToolError> {
    let mut out = Out::new();
    header(&mut out, report)?;
    identities(&mut out, report)?;
    traits(&mut out, report)?;
    segments(&mut out, report)?;
    queries(&mut out, report)?;
    next_steps(&mut out, report)?;
    out.finish()
}

fn header(out: &mut Out, r: &Report<'_>) -> Result<(), ToolError> {
    let l = r.loaded;
    let seconds = l.elapsed.as_secs_f64().max(1e-9);
    out.line(format!(
        "ProfileDB demo: {} people in {} ({:.1} s in all)",
        thousands(u64::from(l.people)),
        r.data.display(),
        r.total.as_secs_f64()
    ))?;
    out.line("")?;
    out.line("Ingestion (Tracking Spec messages: page and screen views, sign-ups, logins, orders, email, consent)")?;
    out.line(format!(
        "  {} messages in {:.1} s ({} messages/s): {} accepted, {} rejected",
        thousands(l.messages),
        seconds,
        thousands((l.messages as f64 / seconds) as u64),
        thousands(l.accepted),
        thousands(l.rejected)
    ))?;
    out.line(format!(
        "  {} profiles and {} events stored",
        thousands(r.profiles),
        thousands(r.events)
    ))
}

fn identities(out: &mut Out, r: &Report<'_>) -> Result<(), ToolError> {
    let l = r.loaded;
    let ids = &l.identifiers;
    out.line("")?;
    out.line("Identity resolution")?;
    out.line(format!(
        "  identifiers seen      {:>10}  (anonymous ids {}, device ids {}, user ids {}, emails {})",
        thousands(ids.total()),
        thousands(ids.anonymous_ids),
        thousands(ids.device_ids),
        thousands(ids.user_ids),
        thousands(ids.emails)
    ))?;
    out.line(format!(
        "  profiles created      {:>10}  (one per new visitor or device, before stitching)",
        thousands(l.profiles_created)
    ))?;
    out.line(format!(
        "  merges                {:>10}  (sign-ups and logins tie devices to accounts)",
        thousands(l.merges)
    ))?;
    out.line(format!(
        "  refused links         {:>10}  ({} shared devices: one device, two user ids, kept apart)",
        thousands(l.refused_links),
        thousands(ids.shared_devices)
    ))?;
    out.line(format!(
        "  ignored identifiers   {:>10}  ({} sign-ups with placeholder emails such as test@test.com)",
        thousands(l.ignored_identifiers),
        thousands(ids.placeholder_emails)
    ))?;
    out.line(format!(
        "  profiles after        {:>10}  (for {} people; a visitor who never signs up stays one profile per device)",
        thousands(r.profiles),
        thousands(u64::from(l.people))
    ))
}

fn traits(out: &mut Out, r: &Report<'_>) -> Result<(), ToolError> {
    out.line("")?;
    out.line("Computed traits (profile columns, maintained at every ingest)")?;
    for text in r.traits {
        out.line(format!("  {text}"))?;
    }
    Ok(())
}

fn segments(out: &mut Out, r: &Report<'_>) -> Result<(), ToolError> {
    out.line("")?;
    out.line(format!(
        "Segments (clock pinned at {}; count query time)",
        rfc3339(DEMO_NOW)
    ))?;
    for pair in r.segments.chunks(2) {
        let [create, count] = pair else { continue };
        let name = create
            .sql
            .split_whitespace()
            .nth(4)
            .unwrap_or_default()
            .to_owned();
        out.line(format!(
            "  {name:<20} {:>9} profiles  {:>10}  {}",
            count
                .count
                .map_or_else(|| "?".to_owned(), |n| thousands(n.max(0) as u64)),
            millis(count.elapsed),
            create.about
        ))?;
    }
    Ok(())
}

fn queries(out: &mut Out, r: &Report<'_>) -> Result<(), ToolError> {
    for (title, sql, result, elapsed) in r.queries {
        out.line("")?;
        out.line(format!("{title} ({})   {sql}", millis(*elapsed)))?;
        let mut text = Vec::new();
        write_result(&mut text, ResultFormat::Table, result)
            .map_err(ToolError::io("formatting a result"))?;
        for line in String::from_utf8_lossy(&text).lines() {
            out.line(format!("  {line}"))?;
        }
    }
    Ok(())
}

fn next_steps(out: &mut Out, r: &Report<'_>) -> Result<(), ToolError> {
    let data = r.data.display();
    out.line("")?;
    out.line("The SQL the demo ran (segments live in one SQL session; paste these into `profiledb sql` to recreate them):")?;
    out.line(format!("  SET now = '{}';", rfc3339(DEMO_NOW)))?;
    for ran in r.segments {
        out.line(format!("  {};", ran.sql))?;
    }
    out.line("")?;
    out.line("Try your own:")?;
    out.line(format!("  profiledb --data {data} sql                      # interactive shell; \\help, \\d, \\timing"))?;
    out.line(format!(
        "  profiledb --data {data} sql \"SELECT favorite_category, COUNT(*) FROM profiles GROUP BY 1 ORDER BY 2 DESC\""
    ))?;
    out.line(format!(
        "  profiledb --data {data} profile user_id:{}",
        r.example_user
    ))?;
    out.line(format!("  profiledb --data {data} stats"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn thousands_separators() {
        assert_eq!(super::thousands(0), "0");
        assert_eq!(super::thousands(999), "999");
        assert_eq!(super::thousands(1_000), "1,000");
        assert_eq!(super::thousands(1_234_567), "1,234,567");
    }
}
