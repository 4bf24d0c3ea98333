//! A small, strict RFC 3339 parser: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` → UTC µs.
//!
//! Written by hand because the engine carries no date crate. Accepted: `T`, `t` or a space as
//! the date/time separator (RFC 3339 §5.6 note), `Z`/`z` or a numeric offset, 1–9 fraction
//! digits (truncated to microseconds). Rejected: dates that do not exist (Feb 30, Feb 29 in a
//! non-leap year), leap seconds (`:60`, which no SDK emits and which has no µs encoding), offsets
//! without a colon, anything trailing.

/// Microseconds per second.
const MICROS: i64 = 1_000_000;

/// Parses an RFC 3339 date-time into microseconds since the Unix epoch, UTC.
///
/// # Errors
/// A short human-readable reason.
pub fn parse_rfc3339(text: &str) -> Result<i64, &'static str> {
    let b = text.as_bytes();
    if b.len() < 20 {
        return Err("too short for YYYY-MM-DDTHH:MM:SS plus an offset");
    }
    let year = digits(b, 0, 4)?;
    expect(b, 4, b'-')?;
    let month = digits(b, 5, 2)?;
    expect(b, 7, b'-')?;
    let day = digits(b, 8, 2)?;
    if !matches!(b[10], b'T' | b't' | b' ') {
        return Err("expected `T` between date and time");
    }
    let hour = digits(b, 11, 2)?;
    expect(b, 13, b':')?;
    let minute = digits(b, 14, 2)?;
    expect(b, 16, b':')?;
    let second = digits(b, 17, 2)?;
    let (fraction_micros, pos) = fraction(b, 19)?;
    let offset_seconds = offset(b, pos)?;
    check_ranges(year, month, day, hour, minute, second)?;
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second - offset_seconds;
    Ok(seconds * MICROS + fraction_micros)
}

/// Reads `len` ASCII digits at `at` as a number.
fn digits(b: &[u8], at: usize, len: usize) -> Result<i64, &'static str> {
    let slice = b.get(at..at + len).ok_or("truncated")?;
    slice.iter().try_fold(0_i64, |acc, &c| {
        if c.is_ascii_digit() {
            Ok(acc * 10 + i64::from(c - b'0'))
        } else {
            Err("expected a digit")
        }
    })
}

/// Requires the separator `want` at `at`.
fn expect(b: &[u8], at: usize, want: u8) -> Result<(), &'static str> {
    match b.get(at) {
        Some(&c) if c == want => Ok(()),
        _ => Err("malformed date or time separator"),
    }
}

/// Parses an optional `.digits` at `at`; returns the value in µs and the next position.
fn fraction(b: &[u8], at: usize) -> Result<(i64, usize), &'static str> {
    if b.get(at) != Some(&b'.') {
        return Ok((0, at));
    }
    let start = at + 1;
    let count = b[start..].iter().take_while(|c| c.is_ascii_digit()).count();
    if count == 0 {
        return Err("a `.` must be followed by fraction digits");
    }
    if count > 9 {
        return Err("more than 9 fraction digits");
    }
    // Keep the first six digits (µs), padding with zeros; the rest is truncated.
    let mut micros = 0;
    for i in 0..6 {
        let digit = if i < count {
            i64::from(b[start + i] - b'0')
        } else {
            0
        };
        micros = micros * 10 + digit;
    }
    Ok((micros, start + count))
}

/// Parses the mandatory offset at `at` (which must end the text); returns it in seconds east.
fn offset(b: &[u8], at: usize) -> Result<i64, &'static str> {
    let sign = match b.get(at) {
        Some(b'Z' | b'z') if b.len() == at + 1 => return Ok(0),
        Some(b'Z' | b'z') => return Err("unexpected characters after the offset"),
        Some(b'+') => 1,
        Some(b'-') => -1,
        None => return Err("missing UTC offset (`Z` or ±HH:MM)"),
        Some(_) => return Err("expected `Z` or ±HH:MM after the time"),
    };
    if b.len() != at + 6 {
        return Err("offset must be exactly ±HH:MM");
    }
    let hours = digits(b, at + 1, 2)?;
    expect(b, at + 3, b':')?;
    let minutes = digits(b, at + 4, 2)?;
    if hours > 23 || minutes > 59 {
        return Err("offset out of range");
    }
    Ok(sign * (hours * 3_600 + minutes * 60))
}

/// Rejects fields outside their calendar range, including days a month does not have.
fn check_ranges(
    year: i64,
    month: i64,
    day: i64,
    hour: i64,
    minute: i64,
    second: i64,
) -> Result<(), &'static str> {
    if !(1..=12).contains(&month) {
        return Err("month out of range 01-12");
    }
    if day < 1 || day > days_in_month(year, month) {
        return Err("day does not exist in that month");
    }
    if hour > 23 {
        return Err("hour out of range 00-23");
    }
    if minute > 59 {
        return Err("minute out of range 00-59");
    }
    if second > 59 {
        return Err("second out of range 00-59 (leap seconds are not accepted)");
    }
    Ok(())
}

/// Gregorian leap-year rule.
fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// Number of days in `month` (1-12) of `year`.
fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
///
/// Counts from a year starting in March so the leap day is the last day of the year, which
/// turns the month-length table into the linear formula `(153 * m + 2) / 5`.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    // 719_468 = days from 0000-03-01 to 1970-01-01.
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_and_offsets() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00+00:00"), Ok(0));
        assert_eq!(parse_rfc3339("1970-01-01T05:30:00+05:30"), Ok(0));
        assert_eq!(parse_rfc3339("1969-12-31T18:30:00-05:30"), Ok(0));
        assert_eq!(
            parse_rfc3339("2024-02-29t12:00:00z"),
            parse_rfc3339("2024-02-29 12:00:00Z")
        );
    }

    #[test]
    fn known_instant_and_fractions() {
        // 2021-03-04T05:06:07Z = 1614834367 s.
        let base = 1_614_834_367 * MICROS;
        assert_eq!(parse_rfc3339("2021-03-04T05:06:07Z"), Ok(base));
        assert_eq!(parse_rfc3339("2021-03-04T05:06:07.5Z"), Ok(base + 500_000));
        assert_eq!(
            parse_rfc3339("2021-03-04T05:06:07.123Z"),
            Ok(base + 123_000)
        );
        assert_eq!(
            parse_rfc3339("2021-03-04T05:06:07.123456Z"),
            Ok(base + 123_456)
        );
        assert_eq!(
            parse_rfc3339("2021-03-04T05:06:07.123456789Z"),
            Ok(base + 123_456)
        );
        assert!(parse_rfc3339("2021-03-04T05:06:07.1234567890Z").is_err());
        assert!(parse_rfc3339("2021-03-04T05:06:07.Z").is_err());
    }

    #[test]
    fn pre_epoch_and_far_dates() {
        assert_eq!(parse_rfc3339("1969-12-31T23:59:59Z"), Ok(-MICROS));
        assert_eq!(
            parse_rfc3339("2000-03-01T00:00:00Z"),
            Ok(951_868_800 * MICROS)
        );
    }

    #[test]
    fn invalid_dates_rejected_with_reason() {
        assert_eq!(
            parse_rfc3339("2023-02-30T00:00:00Z"),
            Err("day does not exist in that month")
        );
        assert!(parse_rfc3339("2023-02-29T00:00:00Z").is_err());
        assert!(parse_rfc3339("2024-02-29T00:00:00Z").is_ok());
        assert!(parse_rfc3339("1900-02-29T00:00:00Z").is_err());
        assert!(parse_rfc3339("2023-13-01T00:00:00Z").is_err());
        assert!(parse_rfc3339("2023-04-31T00:00:00Z").is_err());
        assert!(parse_rfc3339("2023-01-01T24:00:00Z").is_err());
        assert!(parse_rfc3339("2023-01-01T23:60:00Z").is_err());
        assert!(parse_rfc3339("2016-12-31T23:59:60Z").is_err());
        assert!(parse_rfc3339("2023-01-01T00:00:00").is_err());
        assert!(parse_rfc3339("2023-01-01T00:00:00+0100").is_err());
        assert!(parse_rfc3339("2023-01-01T00:00:00+24:00").is_err());
        assert!(parse_rfc3339("2023-01-01T00:00:00Zjunk").is_err());
        assert!(parse_rfc3339("2023-1-01T00:00:00Z").is_err());
        assert!(parse_rfc3339("").is_err());
        assert!(parse_rfc3339("2023-01-01T00:00:00+01:00 ").is_err());
        assert!(parse_rfc3339("2023-01-01T00:00:00é").is_err());
    }
}
