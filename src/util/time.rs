//! FHIR `date` / `dateTime` / `instant` values as UTC Unix seconds.
//!
//! The snapshot stores every timestamp as [`UnixSeconds`] (seconds since 1970-01-01T00:00:00Z).
//! Partial FHIR dates (`2024`, `2024-07`, `2024-07-08`) stand for the first second of the period
//! they name, in UTC.

/// Seconds since the Unix epoch, UTC.
pub type UnixSeconds = i64;

/// Seconds in a day.
pub(crate) const DAY_SECONDS: i64 = 86_400;

/// Why a FHIR date could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid FHIR date {text:?}: {reason}")]
pub struct DateError {
    /// The text that was read.
    pub text: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = if year >= 0 { year } else { year - 399 } / 400;
    let year_of_era = year - era * 400;
    let month = month as i64;
    let day_of_year = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + day as i64 - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The (year, month, day) of a count of days since 1970-01-01.
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let day_of_era = z - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ => {
            let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
            if leap { 29 } else { 28 }
        }
    }
}

fn digits(text: &str, range: std::ops::Range<usize>) -> Option<u32> {
    let part = text.get(range)?;
    if part.bytes().all(|b| b.is_ascii_digit()) { part.parse().ok() } else { None }
}

/// Parses a FHIR `date`, `dateTime` or `instant` into UTC Unix seconds.
///
/// Accepts `YYYY`, `YYYY-MM`, `YYYY-MM-DD`, and `YYYY-MM-DDThh:mm[:ss[.fraction]]` followed by
/// `Z` or `±hh:mm` (a missing zone is read as UTC). Fractions of a second are dropped.
pub fn parse_fhir_datetime(text: &str) -> Result<UnixSeconds, DateError> {
    let error = |reason| DateError { text: text.to_owned(), reason };
    let bytes = text.as_bytes();
    let year = digits(text, 0..4).ok_or_else(|| error("expected a 4-digit year"))? as i64;
    if bytes.len() == 4 {
        return Ok(days_from_civil(year, 1, 1) * DAY_SECONDS);
    }
    if bytes.get(4) != Some(&b'-') {
        return Err(error("expected '-' after the year"));
    }
    let month = digits(text, 5..7).ok_or_else(|| error("expected a 2-digit month"))?;
    if !(1..=12).contains(&month) {
        return Err(error("month out of range"));
    }
    if bytes.len() == 7 {
        return Ok(days_from_civil(year, month, 1) * DAY_SECONDS);
    }
    if bytes.get(7) != Some(&b'-') {
        return Err(error("expected '-' after the month"));
    }
    let day = digits(text, 8..10).ok_or_else(|| error("expected a 2-digit day"))?;
    if day == 0 || day > days_in_month(year, month) {
        return Err(error("day out of range"));
    }
    let date_seconds = days_from_civil(year, month, day) * DAY_SECONDS;
    if bytes.len() == 10 {
        return Ok(date_seconds);
    }
    if bytes.get(10) != Some(&b'T') {
        return Err(error("expected 'T' after the date"));
    }
    let hour = digits(text, 11..13).ok_or_else(|| error("expected a 2-digit hour"))?;
    if bytes.get(13) != Some(&b':') {
        return Err(error("expected ':' after the hour"));
    }
    let minute = digits(text, 14..16).ok_or_else(|| error("expected 2-digit minutes"))?;
    let mut position = 16;
    let mut second = 0;
    if bytes.get(position) == Some(&b':') {
        second = digits(text, 17..19).ok_or_else(|| error("expected 2-digit seconds"))?;
        position = 19;
        if bytes.get(position) == Some(&b'.') {
            position += 1;
            let start = position;
            while bytes.get(position).is_some_and(u8::is_ascii_digit) {
                position += 1;
            }
            if position == start {
                return Err(error("expected digits after '.'"));
            }
        }
    }
    if hour > 24 || minute > 59 || second > 60 || (hour == 24 && (minute > 0 || second > 0)) {
        return Err(error("time out of range"));
    }
    let offset_seconds: i64 = match bytes.get(position) {
        None => 0,
        Some(b'Z') if position + 1 == bytes.len() => 0,
        Some(sign @ (b'+' | b'-')) if bytes.len() == position + 6 && bytes[position + 3] == b':' => {
            let offset_hours = digits(text, position + 1..position + 3).ok_or_else(|| error("bad zone hours"))?;
            let offset_minutes = digits(text, position + 4..position + 6).ok_or_else(|| error("bad zone minutes"))?;
            if offset_hours > 14 || offset_minutes > 59 {
                return Err(error("zone offset out of range"));
            }
            let magnitude = i64::from(offset_hours) * 3600 + i64::from(offset_minutes) * 60;
            if *sign == b'+' { magnitude } else { -magnitude }
        }
        _ => return Err(error("expected 'Z' or a ±hh:mm zone after the time")),
    };
    Ok(date_seconds + i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second) - offset_seconds)
}

/// Formats UTC Unix seconds as an RFC 3339 / FHIR `instant` (`2024-07-08T18:15:39Z`).
pub fn format_rfc3339(seconds: UnixSeconds) -> String {
    let days = seconds.div_euclid(DAY_SECONDS);
    let second_of_day = seconds.rem_euclid(DAY_SECONDS);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        second_of_day / 3600,
        (second_of_day % 3600) / 60,
        second_of_day % 60
    )
}

/// Formats the UTC date part of Unix seconds (`2024-07-08`).
pub fn format_date(seconds: UnixSeconds) -> String {
    let (year, month, day) = civil_from_days(seconds.div_euclid(DAY_SECONDS));
    format!("{year:04}-{month:02}-{day:02}")
}

const HTTP_DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const HTTP_MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// An HTTP-date (RFC 9110 IMF-fixdate) of Unix seconds.
pub(crate) fn http_date(seconds: i64) -> String {
    let days = seconds.div_euclid(DAY_SECONDS);
    let (year, month, day) = civil_from_days(days);
    let second_of_day = seconds.rem_euclid(DAY_SECONDS);
    format!(
        "{}, {day:02} {} {year:04} {:02}:{:02}:{:02} GMT",
        HTTP_DAYS[days.rem_euclid(7) as usize],
        HTTP_MONTHS[(month - 1) as usize],
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60
    )
}

/// Reads an IMF-fixdate (`Wed, 21 Oct 2015 07:28:00 GMT`, the form RFC 9110 requires senders
/// to use) into Unix seconds; `None` for anything else.
pub(crate) fn parse_http_date(text: &str) -> Option<UnixSeconds> {
    let (_, rest) = text.trim().split_once(", ")?;
    let mut parts = rest.split(' ');
    let day: u32 = parts.next()?.parse().ok()?;
    let month_name = parts.next()?;
    let month = HTTP_MONTHS.iter().position(|name| *name == month_name)? as u32 + 1;
    let year: i64 = parts.next()?.parse().ok()?;
    let mut clock = parts.next()?.split(':').map(|part| part.parse::<i64>().ok());
    let (hour, minute, second) = (clock.next()??, clock.next()??, clock.next()??);
    if parts.next()? != "GMT" || parts.next().is_some() || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    Some(days_from_civil(year, month, day) * DAY_SECONDS + hour * 3600 + minute * 60 + second)
}

/// The current time as Unix seconds.
pub(crate) fn now() -> UnixSeconds {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates() {
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(http_date(1_795_000_000), "Wed, 18 Nov 2026 11:06:40 GMT");
        for seconds in [0, 1_795_000_000, 951_782_400, 4_102_444_799] {
            assert_eq!(parse_http_date(&http_date(seconds)), Some(seconds));
        }
        for bad in [
            "",
            "Wed, 18 Nov 2026 11:06:40",
            "Wed, 31 Feb 2026 11:06:40 GMT",
            "Wed, 18 Nov 2026 25:06:40 GMT",
            "18 Nov 2026",
        ] {
            assert_eq!(parse_http_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn parses_every_fhir_precision() {
        assert_eq!(parse_fhir_datetime("1970"), Ok(0));
        assert_eq!(parse_fhir_datetime("1970-02"), Ok(31 * DAY_SECONDS));
        assert_eq!(parse_fhir_datetime("2024-07-08T18:15:39Z"), Ok(1_720_462_539));
        assert_eq!(parse_fhir_datetime("2024-07-08T20:15:39+02:00"), Ok(1_720_462_539));
        assert_eq!(parse_fhir_datetime("2025-04-08T13:05:27.000+00:00"), Ok(1_744_117_527));
        assert_eq!(parse_fhir_datetime("2024-07-08T18:15"), Ok(1_720_462_500));
    }

    #[test]
    fn rejects_impossible_dates_with_a_reason() {
        assert_eq!(parse_fhir_datetime("2023-02-29").unwrap_err().reason, "day out of range");
        assert_eq!(parse_fhir_datetime("2023-13").unwrap_err().reason, "month out of range");
        assert_eq!(parse_fhir_datetime("20x3").unwrap_err().reason, "expected a 4-digit year");
        assert!(parse_fhir_datetime("2024-07-08T18:15:39+2").is_err());
        assert!(parse_fhir_datetime("2024-07-08 18:15").is_err());
    }

    #[test]
    fn civil_round_trip() {
        for days in (-800_000..800_000).step_by(997) {
            let (year, month, day) = civil_from_days(days);
            assert_eq!(days_from_civil(year, month, day), days);
        }
        assert_eq!(format_rfc3339(1_720_462_539), "2024-07-08T18:15:39Z");
        assert_eq!(format_date(1_720_462_539), "2024-07-08");
    }
}
