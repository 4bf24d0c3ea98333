//! Calendar arithmetic on microsecond UTC timestamps: literals, intervals and truncation.
//!
//! Dates are represented as the timestamp of their midnight (UTC); the session time zone is UTC.

const MICROS_PER_SECOND: i64 = 1_000_000;
const MICROS_PER_MINUTE: i64 = 60 * MICROS_PER_SECOND;
const MICROS_PER_HOUR: i64 = 60 * MICROS_PER_MINUTE;
/// Microseconds in one day.
pub const MICROS_PER_DAY: i64 = 24 * MICROS_PER_HOUR;

/// A SQL interval, kept in PostgreSQL's three parts because months and days vary in length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Interval {
    /// Calendar months.
    pub months: i64,
    /// Calendar days.
    pub days: i64,
    /// Exact microseconds.
    pub micros: i64,
}

impl Interval {
    /// This interval negated (for subtraction).
    #[must_use]
    pub fn negated(self) -> Option<Interval> {
        Some(Interval {
            months: self.months.checked_neg()?,
            days: self.days.checked_neg()?,
            micros: self.micros.checked_neg()?,
        })
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
#[must_use]
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The (year, month, day) of a day count since 1970-01-01.
#[must_use]
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let month = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

/// Years we accept in literals and arithmetic: keeps every computation far from overflow.
const YEAR_RANGE: std::ops::RangeInclusive<i64> = -4713..=294_276;

/// Parses `YYYY-MM-DD[( |T)HH:MM[:SS[.ffffff]]][Z|±HH[:MM]]` into UTC microseconds.
#[must_use]
pub fn parse_timestamp(text: &str) -> Option<i64> {
    let text = text.trim();
    let (date_part, rest) = text.split_at(text.find([' ', 'T', 't']).unwrap_or(text.len()));
    let days = parse_date_part(date_part)?;
    let rest = rest.get(1..).unwrap_or("").trim();
    let (time_part, offset) = split_offset(rest)?;
    let time = if time_part.is_empty() {
        0
    } else {
        parse_time_part(time_part)?
    };
    days.checked_mul(MICROS_PER_DAY)?
        .checked_add(time)?
        .checked_sub(offset)
}

fn parse_date_part(text: &str) -> Option<i64> {
    let mut parts = text.splitn(3, '-');
    let year: i64 = parse_digits(parts.next()?)?;
    let month: u32 = u32::try_from(parse_digits(parts.next()?)?).ok()?;
    let day: u32 = u32::try_from(parse_digits(parts.next()?)?).ok()?;
    if !YEAR_RANGE.contains(&year) || !(1..=12).contains(&month) {
        return None;
    }
    if day == 0 || day > days_in_month(year, month) {
        return None;
    }
    Some(days_from_civil(year, month, day))
}

fn parse_digits(text: &str) -> Option<i64> {
    if text.is_empty() || text.len() > 9 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Splits a trailing `Z`/`+HH[:MM]`/`-HH[:MM]` zone offset (in micros) from a time string.
fn split_offset(text: &str) -> Option<(&str, i64)> {
    if let Some(stripped) = text.strip_suffix(['Z', 'z']) {
        return Some((stripped.trim(), 0));
    }
    let Some(idx) = text.rfind(['+', '-']) else {
        return Some((text, 0));
    };
    let (time, zone) = text.split_at(idx);
    let sign = if zone.starts_with('-') { -1 } else { 1 };
    let zone = zone.get(1..)?;
    let (h, m) = match zone.split_once(':') {
        Some((h, m)) => (parse_digits(h)?, parse_digits(m)?),
        None if zone.len() == 4 => (parse_digits(zone.get(..2)?)?, parse_digits(zone.get(2..)?)?),
        None => (parse_digits(zone)?, 0),
    };
    if h > 15 || m > 59 {
        return None;
    }
    Some((
        time.trim(),
        sign * (h * MICROS_PER_HOUR + m * MICROS_PER_MINUTE),
    ))
}

fn parse_time_part(text: &str) -> Option<i64> {
    let mut parts = text.splitn(3, ':');
    let hour = parse_digits(parts.next()?)?;
    let minute = parse_digits(parts.next()?)?;
    let (second, fraction) = match parts.next() {
        None => (0, 0),
        Some(sec) => parse_seconds(sec)?,
    };
    if hour > 24
        || minute > 59
        || second > 60
        || (hour == 24 && (minute, second, fraction) != (0, 0, 0))
    {
        return None;
    }
    Some(
        hour * MICROS_PER_HOUR + minute * MICROS_PER_MINUTE + second * MICROS_PER_SECOND + fraction,
    )
}

fn parse_seconds(text: &str) -> Option<(i64, i64)> {
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    let seconds = parse_digits(whole)?;
    if frac.is_empty() {
        return Some((seconds, 0));
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Microsecond precision: pad or round to six digits as PostgreSQL does.
    let mut digits: String = frac.chars().take(7).collect();
    while digits.len() < 7 {
        digits.push('0');
    }
    let seven: i64 = digits.parse().ok()?;
    Some((seconds, (seven + 5) / 10))
}

/// Formats a timestamp as `YYYY-MM-DD HH:MM:SS[.ffffff]` (UTC).
#[must_use]
pub fn format_timestamp(micros: i64) -> String {
    let days = micros.div_euclid(MICROS_PER_DAY);
    let in_day = micros.rem_euclid(MICROS_PER_DAY);
    let (y, m, d) = civil_from_days(days);
    let (h, rest) = (in_day / MICROS_PER_HOUR, in_day % MICROS_PER_HOUR);
    let (mi, rest) = (rest / MICROS_PER_MINUTE, rest % MICROS_PER_MINUTE);
    let (s, frac) = (rest / MICROS_PER_SECOND, rest % MICROS_PER_SECOND);
    let mut out = format!("{y:04}-{m:02}-{d:02} {h:02}:{mi:02}:{s:02}");
    if frac != 0 {
        let f = format!("{frac:06}");
        out.push('.');
        out.push_str(f.trim_end_matches('0'));
    }
    out
}

/// Parses a PostgreSQL interval string such as `30 days`, `1 year 2 months`, `-3 hours`, `1 week`.
#[must_use]
pub fn parse_interval(text: &str) -> Option<Interval> {
    let lower = text.trim().to_ascii_lowercase();
    let words: Vec<&str> = lower.split_whitespace().collect();
    if words.is_empty() {
        return None;
    }
    let mut interval = Interval::default();
    let mut i = 0;
    while i < words.len() {
        let amount: i64 = words[i].parse().ok()?;
        // A bare number without unit means seconds, like PostgreSQL.
        let unit = words.get(i + 1).copied().unwrap_or("second");
        add_unit(&mut interval, amount, unit)?;
        i += 2;
    }
    Some(interval)
}

/// Adds `amount` of `unit` to an interval (None on unknown unit or overflow).
pub fn add_unit(interval: &mut Interval, amount: i64, unit: &str) -> Option<()> {
    let unit = unit.trim_end_matches('s');
    match unit {
        "year" | "yr" | "y" => {
            interval.months = interval.months.checked_add(amount.checked_mul(12)?)?
        }
        "month" | "mon" => interval.months = interval.months.checked_add(amount)?,
        "week" | "w" => interval.days = interval.days.checked_add(amount.checked_mul(7)?)?,
        "day" | "d" => interval.days = interval.days.checked_add(amount)?,
        "hour" | "hr" | "h" => {
            interval.micros = interval
                .micros
                .checked_add(amount.checked_mul(MICROS_PER_HOUR)?)?;
        }
        "minute" | "min" | "m" => {
            interval.micros = interval
                .micros
                .checked_add(amount.checked_mul(MICROS_PER_MINUTE)?)?;
        }
        "second" | "sec" | "" => {
            interval.micros = interval
                .micros
                .checked_add(amount.checked_mul(MICROS_PER_SECOND)?)?;
        }
        _ => return None,
    }
    Some(())
}

/// `timestamp + interval` with PostgreSQL's calendar rules (months first, day clamped to the
/// month's end, then days, then exact time); `None` on overflow or out-of-range result.
#[must_use]
pub fn add_interval(ts: i64, interval: Interval) -> Option<i64> {
    let days = ts.div_euclid(MICROS_PER_DAY);
    let in_day = ts.rem_euclid(MICROS_PER_DAY);
    let (y, m, d) = civil_from_days(days);
    let total_months = y
        .checked_mul(12)?
        .checked_add(i64::from(m) - 1)?
        .checked_add(interval.months)?;
    let (ny, nm) = (
        total_months.div_euclid(12),
        u32::try_from(total_months.rem_euclid(12)).ok()? + 1,
    );
    if !YEAR_RANGE.contains(&ny) {
        return None;
    }
    let nd = d.min(days_in_month(ny, nm));
    let new_days = days_from_civil(ny, nm, nd).checked_add(interval.days)?;
    let result = new_days
        .checked_mul(MICROS_PER_DAY)?
        .checked_add(in_day)?
        .checked_add(interval.micros)?;
    let (ry, _, _) = civil_from_days(result.div_euclid(MICROS_PER_DAY));
    YEAR_RANGE.contains(&ry).then_some(result)
}

/// `date_trunc(unit, ts)` for `microsecond`…`year` (and `week`: Monday); `None` for unknown units.
#[must_use]
pub fn date_trunc(unit: &str, ts: i64) -> Option<i64> {
    let days = ts.div_euclid(MICROS_PER_DAY);
    let floor_to = |step: i64| ts.div_euclid(step).checked_mul(step);
    match unit.to_ascii_lowercase().as_str() {
        "microsecond" | "microseconds" => Some(ts),
        "millisecond" | "milliseconds" => floor_to(1000),
        "second" | "seconds" => floor_to(MICROS_PER_SECOND),
        "minute" | "minutes" => floor_to(MICROS_PER_MINUTE),
        "hour" | "hours" => floor_to(MICROS_PER_HOUR),
        "day" | "days" => floor_to(MICROS_PER_DAY),
        // 1970-01-01 was a Thursday: shift so weeks start on Monday.
        "week" | "weeks" => Some((days - (days + 3).rem_euclid(7)).checked_mul(MICROS_PER_DAY)?),
        "month" | "months" => {
            let (y, m, _) = civil_from_days(days);
            days_from_civil(y, m, 1).checked_mul(MICROS_PER_DAY)
        }
        "quarter" => {
            let (y, m, _) = civil_from_days(days);
            days_from_civil(y, (m - 1) / 3 * 3 + 1, 1).checked_mul(MICROS_PER_DAY)
        }
        "year" | "years" => {
            let (y, _, _) = civil_from_days(days);
            days_from_civil(y, 1, 1).checked_mul(MICROS_PER_DAY)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip() {
        let ts = parse_timestamp("2026-06-01T12:34:56.5Z").unwrap();
        assert_eq!(format_timestamp(ts), "2026-06-01 12:34:56.5");
        assert_eq!(parse_timestamp("1970-01-01"), Some(0));
        assert_eq!(parse_timestamp("1970-01-01 01:00:00+01:00"), Some(0));
        assert_eq!(parse_timestamp("1969-12-31 23:59:59"), Some(-1_000_000));
        assert_eq!(parse_timestamp("2026-02-30"), None);
        assert_eq!(parse_timestamp("garbage"), None);
        assert_eq!(format_timestamp(-1), "1969-12-31 23:59:59.999999");
    }

    #[test]
    fn intervals_follow_calendar() {
        let jan31 = parse_timestamp("2026-01-31").unwrap();
        let one_month = parse_interval("1 month").unwrap();
        assert_eq!(
            format_timestamp(add_interval(jan31, one_month).unwrap()),
            "2026-02-28 00:00:00"
        );
        let back = parse_interval("30 days").unwrap().negated().unwrap();
        let t = parse_timestamp("2026-03-01").unwrap();
        assert_eq!(
            format_timestamp(add_interval(t, back).unwrap()),
            "2026-01-30 00:00:00"
        );
        assert_eq!(parse_interval("1 year 2 months").unwrap().months, 14);
        assert!(parse_interval("3 fortnights").is_none());
    }

    #[test]
    fn truncation() {
        let t = parse_timestamp("2026-06-03 15:16:17").unwrap();
        assert_eq!(
            format_timestamp(date_trunc("day", t).unwrap()),
            "2026-06-03 00:00:00"
        );
        assert_eq!(
            format_timestamp(date_trunc("week", t).unwrap()),
            "2026-06-01 00:00:00"
        );
        assert_eq!(
            format_timestamp(date_trunc("month", t).unwrap()),
            "2026-06-01 00:00:00"
        );
        assert_eq!(
            format_timestamp(date_trunc("year", t).unwrap()),
            "2026-01-01 00:00:00"
        );
    }
}
