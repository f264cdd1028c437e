//! [`Timing`]: when a rate applies — years, months, days of the month, weekdays and the time
//! of day it starts at (CGRateS `Timings.csv`: `#Tag,Years,Months,MonthDays,WeekDays,Time`).
//!
//! A timing is active on the days it names from its start time to the end of that day.
//! Several timings of one destination may be active at once (`OFFPEAK_MORNING` from 00:00,
//! `PEAK` from 08:00 on the same weekdays): the rate with the highest weight wins, and among
//! equal weights the timing that started latest, as CGRateS orders its rate intervals (by
//! weight, then by the later left margin). So `PEAK` rules 08:00–19:00 and
//! `OFFPEAK_EVENING` from 19:00 with all three at weight 10.

use std::fmt;

use crate::clock::LocalTime;

/// Days and a start time at which a rate applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timing {
    name: String,
    /// Empty: any year.
    years: Vec<i64>,
    /// Bit m (1–12) set: month m.
    months: u16,
    /// Bit d (1–31) set: day of month d.
    month_days: u32,
    /// Bit w (1 Monday – 7 Sunday) set: that weekday.
    week_days: u8,
    /// Second of the day it starts at.
    start: u32,
}

const ALL_MONTHS: u16 = 0b1_1111_1111_1110;
const ALL_MONTH_DAYS: u32 = !1;
const ALL_WEEK_DAYS: u8 = 0b1111_1110;

impl Timing {
    /// A timing that is always active (CGRateS `*any`).
    pub fn always(name: &str) -> Timing {
        Timing {
            name: name.to_owned(),
            years: Vec::new(),
            months: ALL_MONTHS,
            month_days: ALL_MONTH_DAYS,
            week_days: ALL_WEEK_DAYS,
            start: 0,
        }
    }

    /// Only in these years.
    pub fn years(mut self, years: &[i64]) -> Timing {
        self.years = years.to_vec();
        self
    }

    /// Only in these months (1–12; others ignored).
    pub fn months(mut self, months: &[u8]) -> Timing {
        self.months = months
            .iter()
            .filter(|m| (1..=12).contains(*m))
            .fold(0, |acc, &m| acc | 1 << m);
        self
    }

    /// Only on these days of the month (1–31; others ignored).
    pub fn month_days(mut self, days: &[u8]) -> Timing {
        self.month_days = days
            .iter()
            .filter(|d| (1..=31).contains(*d))
            .fold(0, |acc, &d| acc | 1 << d);
        self
    }

    /// Only on these weekdays: 1 Monday … 7 Sunday; 0 is Sunday too (CGRateS takes Go's
    /// `time.Weekday`, Sunday = 0, and its tutorial writes weekends as `6;7`).
    pub fn week_days(mut self, days: &[u8]) -> Timing {
        self.week_days = days
            .iter()
            .filter(|d| **d <= 7)
            .fold(0, |acc, &d| acc | 1 << if d == 0 { 7 } else { d });
        self
    }

    /// From this second of the day (0–86,399) to the end of the day.
    pub fn starting_at(mut self, second_of_day: u32) -> Timing {
        self.start = second_of_day.min(86_399);
        self
    }

    /// The tag.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The second of the day it starts at.
    pub fn start(&self) -> u32 {
        self.start
    }

    /// Active on this local day (ignoring the time of day)?
    pub fn matches_day(&self, t: &LocalTime) -> bool {
        self.months & (1 << t.month) != 0
            && self.month_days & (1 << t.day) != 0
            && self.week_days & (1 << t.weekday) != 0
            && (self.years.is_empty() || self.years.contains(&t.year))
    }

    /// Active at this local time?
    pub fn matches(&self, t: &LocalTime) -> bool {
        t.second_of_day >= self.start && self.matches_day(t)
    }
}

impl fmt::Display for Timing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// Parses a CGRateS list field: `*any` (or empty) → `None`, else `;`-separated integers in
/// `range`.
pub(crate) fn parse_list(
    s: &str,
    range: std::ops::RangeInclusive<i64>,
) -> Result<Option<Vec<i64>>, String> {
    let s = s.trim();
    if s.is_empty() || s == "*any" {
        return Ok(None);
    }
    let mut out = Vec::new();
    for item in s.split(';') {
        let v: i64 = item
            .trim()
            .parse()
            .map_err(|_| format!("{item:?} is not a number (a ';' list or *any expected)"))?;
        if !range.contains(&v) {
            return Err(format!(
                "{v} is out of range {}..={}",
                range.start(),
                range.end()
            ));
        }
        out.push(v);
    }
    Ok(Some(out))
}

/// Parses `HH:MM:SS` (or `HH:MM`, or `*any` / empty for midnight) into a second of the day.
pub(crate) fn parse_time_of_day(s: &str) -> Result<u32, String> {
    let s = s.trim();
    if s.is_empty() || s == "*any" {
        return Ok(0);
    }
    let parts: Vec<&str> = s.split(':').collect();
    let bad = || format!("{s:?} is not a time of day (HH:MM:SS expected)");
    if !(2..=3).contains(&parts.len())
        || parts
            .iter()
            .any(|p| p.is_empty() || p.len() > 2 || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(bad());
    }
    let n = |i: usize| {
        parts
            .get(i)
            .map_or(Ok(0), |p| p.parse::<u32>().map_err(|_| bad()))
    };
    let (h, m, sec) = (n(0)?, n(1)?, n(2)?);
    if h > 23 || m > 59 || sec > 59 {
        return Err(bad());
    }
    Ok(h * 3600 + m * 60 + sec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{parse_rfc3339, UtcOffset};

    fn at(s: &str) -> LocalTime {
        LocalTime::at(parse_rfc3339(s).unwrap_or(0), UtcOffset::UTC)
    }

    #[test]
    fn days_and_start() {
        let peak = Timing::always("PEAK")
            .week_days(&[1, 2, 3, 4, 5])
            .starting_at(8 * 3600);
        assert!(peak.matches(&at("2026-11-02T08:00:00Z"))); // Monday
        assert!(!peak.matches(&at("2026-11-02T07:59:59Z")));
        assert!(!peak.matches(&at("2026-11-01T12:00:00Z"))); // Sunday
        let weekend = Timing::always("WE").week_days(&[6, 7]);
        assert!(weekend.matches(&at("2026-11-01T12:00:00Z")));
        assert!(Timing::always("S")
            .week_days(&[0])
            .matches(&at("2026-11-01T12:00:00Z")));
        let xmas = Timing::always("X")
            .months(&[12])
            .month_days(&[25])
            .years(&[2026]);
        assert!(xmas.matches(&at("2026-12-25T00:00:00Z")));
        assert!(!xmas.matches(&at("2027-12-25T00:00:00Z")));
        assert!(!xmas.matches(&at("2026-12-24T23:59:59Z")));
    }

    #[test]
    fn fields() {
        assert_eq!(parse_list("*any", 1..=7), Ok(None));
        assert_eq!(parse_list("1;2; 3", 1..=7), Ok(Some(vec![1, 2, 3])));
        assert!(parse_list("1;8", 1..=7).is_err());
        assert!(parse_list("1,2", 1..=7).is_err());
        assert_eq!(parse_time_of_day("08:00:00"), Ok(28_800));
        assert_eq!(parse_time_of_day("19:30"), Ok(70_200));
        assert!(parse_time_of_day("24:00:00").is_err());
        assert!(parse_time_of_day("8h").is_err());
    }
}
