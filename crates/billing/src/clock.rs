//! Wall-clock time as rating needs it: Unix seconds and a fixed [`UtcOffset`].
//!
//! Why not the `time` or `jiff` crate: rating asks only "which date, weekday and second of
//! the day is this instant where the plan's prices are set", at a fixed offset. That is 30
//! lines of exact integer arithmetic (Howard Hinnant's `civil_from_days`, public domain,
//! valid for every `i64` day count we can meet) with nothing to configure. A zone with summer
//! time would need the tz database, which is I/O this crate does not do: the caller passes
//! the offset in force (a plan set is rebuilt with the new offset when it changes).
//! Times are [`UnixTime`]: whole seconds since 1970-01-01T00:00:00Z, passed in by the caller;
//! nothing here reads a clock.

use std::fmt;
use std::str::FromStr;

use crate::error::Error;

/// Seconds since 1970-01-01T00:00:00Z (no leap seconds), as the caller's clock says.
pub type UnixTime = i64;

/// Seconds in a day.
pub const DAY: i64 = 86_400;

/// The offset from UTC at which a plan's timings (days, hours) are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct UtcOffset(i32);

impl UtcOffset {
    /// UTC itself.
    pub const UTC: UtcOffset = UtcOffset(0);

    /// An offset in seconds east of UTC, at most ±18 hours.
    pub fn from_seconds(seconds: i32) -> Result<UtcOffset, Error> {
        if seconds.unsigned_abs() > 18 * 3600 {
            return Err(Error::Invalid(format!(
                "UTC offset {seconds} s: at most ±18 hours"
            )));
        }
        Ok(UtcOffset(seconds))
    }

    /// Seconds east of UTC.
    pub fn seconds(self) -> i32 {
        self.0
    }
}

impl FromStr for UtcOffset {
    type Err = Error;
    /// `Z`, `UTC`, `+01:00`, `-05:30`, `+0100`, `+01`.
    fn from_str(s: &str) -> Result<Self, Error> {
        parse_offset(s)
            .ok_or_else(|| Error::Invalid(format!("UTC offset {s:?}: Z or ±HH:MM expected")))
    }
}

fn parse_offset(s: &str) -> Option<UtcOffset> {
    if s == "Z" || s == "z" || s == "UTC" {
        return Some(UtcOffset::UTC);
    }
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    // HH, HHMM or HH:MM.
    let digits: String = match rest.len() {
        2 | 4 => rest.to_owned(),
        5 if rest.as_bytes()[2] == b':' => format!("{}{}", &rest[..2], &rest[3..]),
        _ => return None,
    };
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let h: i32 = digits.get(0..2)?.parse().ok()?;
    let m: i32 = digits
        .get(2..)
        .filter(|x| !x.is_empty())
        .map_or(Some(0), |x| x.parse().ok())?;
    if m >= 60 {
        return None;
    }
    UtcOffset::from_seconds(sign * (h * 3600 + m * 60)).ok()
}

impl fmt::Display for UtcOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { '-' } else { '+' };
        let a = self.0.unsigned_abs();
        write!(f, "{sign}{:02}:{:02}", a / 3600, a % 3600 / 60)
    }
}

/// An instant as read on a wall clock at some offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalTime {
    /// The year (proleptic Gregorian).
    pub year: i64,
    /// 1–12.
    pub month: u8,
    /// 1–31.
    pub day: u8,
    /// ISO 8601: 1 = Monday … 7 = Sunday.
    pub weekday: u8,
    /// 0–86,399.
    pub second_of_day: u32,
}

impl LocalTime {
    /// The wall-clock reading of `at` at `offset`.
    pub fn at(at: UnixTime, offset: UtcOffset) -> LocalTime {
        let local = at.saturating_add(i64::from(offset.0));
        let days = local.div_euclid(DAY);
        let second_of_day = local.rem_euclid(DAY) as u32;
        let (year, month, day) = civil_from_days(days);
        // 1970-01-01 was a Thursday (4).
        let weekday = (days + 3).rem_euclid(7) as u8 + 1;
        LocalTime {
            year,
            month,
            day,
            weekday,
            second_of_day,
        }
    }
}

impl fmt::Display for LocalTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.second_of_day;
        write!(
            f,
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            self.year,
            self.month,
            self.day,
            s / 3600,
            s % 3600 / 60,
            s % 60
        )
    }
}

/// Days since 1970-01-01 → (year, month, day). Hinnant, "chrono-Compatible Low-Level Date
/// Algorithms".
fn civil_from_days(days: i64) -> (i64, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// (year, month, day) → days since 1970-01-01; the inverse of `civil_from_days`.
pub(crate) fn days_from_civil(year: i64, month: u8, day: u8) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses an RFC 3339 date-time (`2014-01-14T00:00:00Z`, `2026-11-01T08:00:00+01:00`; a
/// fraction of a second is dropped) or a bare date (`2026-11-01`, midnight UTC) into Unix
/// seconds.
pub fn parse_rfc3339(s: &str) -> Option<UnixTime> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        if t.bytes().all(|c| c.is_ascii_digit()) {
            t.parse().ok()
        } else {
            None
        }
    };
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)? as u8, num(8..10)? as u8);
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    let days = days_from_civil(year, month, day);
    if b.len() == 10 {
        return Some(days * DAY);
    }
    if b.len() < 19 || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (h, m, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if h > 23 || m > 59 || sec > 60 {
        return None;
    }
    let mut rest = s.get(19..)?;
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        rest = frac.get(n..)?;
    }
    let offset = parse_offset(rest)?;
    Some(days * DAY + h * 3600 + m * 60 + sec - i64::from(offset.0))
}

fn days_in_month(year: i64, month: u8) -> u8 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip() {
        for days in (-800_000..800_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        // 2026-11-02 is a Monday.
        let t = parse_rfc3339("2026-11-02T08:30:00Z");
        let lt = t.map(|t| LocalTime::at(t, UtcOffset::UTC));
        assert_eq!(
            lt.map(|l| (l.year, l.month, l.day, l.weekday)),
            Some((2026, 11, 2, 1))
        );
        assert_eq!(lt.map(|l| l.second_of_day), Some(8 * 3600 + 1800));
        assert_eq!(
            lt.map(|l| l.to_string()),
            Some("2026-11-02 08:30:00".into())
        );
    }

    #[test]
    fn offsets() {
        let at = parse_rfc3339("2026-11-01T23:30:00Z").unwrap_or(0);
        let plus1: UtcOffset = "+01:00".parse().unwrap_or_default();
        let lt = LocalTime::at(at, plus1);
        assert_eq!((lt.day, lt.weekday, lt.second_of_day), (2, 1, 1800));
        assert_eq!(parse_rfc3339("2026-11-02T00:30:00+01:00"), Some(at));
        assert_eq!(plus1.to_string(), "+01:00");
        assert_eq!(
            "-0530".parse::<UtcOffset>().map(|o| o.seconds()),
            Ok(-19_800)
        );
        assert!("+25:00".parse::<UtcOffset>().is_err());
        assert!("01:00".parse::<UtcOffset>().is_err());
        assert_eq!(parse_rfc3339("1970-01-01"), Some(0));
        assert_eq!(
            parse_rfc3339("2014-01-14T00:00:00.123Z"),
            Some(1_389_657_600)
        );
        assert_eq!(parse_rfc3339("2014-02-30T00:00:00Z"), None);
        assert_eq!(parse_rfc3339("2014-01-14T00:00:00"), None);
        assert_eq!(parse_rfc3339("2014-01-14T0é:00:00Z"), None);
    }
}
