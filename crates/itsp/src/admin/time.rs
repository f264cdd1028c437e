//! Times given on the command line (`--since`, `--until`).

use super::Failure;

/// Parses a time option (`flag`, for the message): Unix seconds, or an RFC 3339 date-time
/// (`T`, `t` or a space between date and time; `Z` or `±hh:mm`; fractions of a second) or
/// full date (midnight UTC). Returns Unix milliseconds.
pub(crate) fn parse_time(flag: &str, text: &str) -> Result<i64, Failure> {
    let bad = || {
        Failure::user(format!(
            "{flag} {text:?} is not a time: give RFC 3339 (2024-05-01T12:00:00Z, \
             2024-05-01T14:00:00+02:00, 2024-05-01) or Unix seconds (1714564800)"
        ))
    };
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse::<i64>()
            .ok()
            .and_then(|s| s.checked_mul(1000))
            .ok_or_else(bad);
    }
    let (date, time) = match text.split_once(['T', 't', ' ']) {
        Some((date, time)) => (date, Some(time)),
        None => (text, None),
    };
    let mut ymd = date.split('-');
    let year = number(ymd.next(), 4, 1970..=9999).ok_or_else(bad)?;
    let month = number(ymd.next(), 2, 1..=12).ok_or_else(bad)?;
    let day = number(ymd.next(), 2, 1..=31).ok_or_else(bad)?;
    let days = sip::headers::days_from_civil(year, month, day);
    if ymd.next().is_some() || sip::headers::civil_from_days(days) != (year, month, day) {
        return Err(bad());
    }
    let midnight_ms = i64::try_from(days * 86_400_000).map_err(|_| bad())?;
    let Some(time) = time else {
        return Ok(midnight_ms);
    };
    // The offset: `Z`, or a sign and hh:mm (local time = UTC + offset).
    let (clock, offset_s) = match time.strip_suffix(['Z', 'z']) {
        Some(clock) => (clock, 0),
        None => {
            let at = time.rfind(['+', '-']).ok_or_else(bad)?;
            let (clock, offset) = time.split_at(at);
            let (sign, hhmm) = offset.split_at(1);
            let (h, m) = hhmm.split_once(':').ok_or_else(bad)?;
            let h = number(Some(h), 2, 0..=23).ok_or_else(bad)?;
            let m = number(Some(m), 2, 0..=59).ok_or_else(bad)?;
            let seconds = i64::try_from(h * 3600 + m * 60).map_err(|_| bad())?;
            (clock, if sign == "-" { -seconds } else { seconds })
        }
    };
    let (hms, fraction) = match clock.split_once('.') {
        Some((hms, f)) if (1..=9).contains(&f.len()) && f.bytes().all(|b| b.is_ascii_digit()) => {
            (hms, &f[..f.len().min(3)])
        }
        Some(_) => return Err(bad()),
        None => (clock, ""),
    };
    let mut parts = hms.split(':');
    let h = number(parts.next(), 2, 0..=23).ok_or_else(bad)?;
    let m = number(parts.next(), 2, 0..=59).ok_or_else(bad)?;
    // 60: a leap second.
    let s = number(parts.next(), 2, 0..=60).ok_or_else(bad)?;
    if parts.next().is_some() {
        return Err(bad());
    }
    let ms = format!("{fraction:0<3}")
        .parse::<u64>()
        .map_err(|_| bad())?;
    let in_day_ms = i64::try_from((h * 3600 + m * 60 + s) * 1000 + ms).map_err(|_| bad())?;
    Ok(midnight_ms + in_day_ms - offset_s * 1000)
}

/// `text` if it is `digits` decimal digits with a value in `range`.
fn number(text: Option<&str>, digits: usize, range: std::ops::RangeInclusive<u64>) -> Option<u64> {
    let t = text.filter(|t| t.len() == digits && t.bytes().all(|b| b.is_ascii_digit()))?;
    t.parse().ok().filter(|n| range.contains(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        let may = 1_714_521_600_000; // 2024-05-01T00:00:00Z
        for (text, ms) in [
            ("1714521600", may),
            ("0", 0),
            ("2024-05-01", may),
            ("2024-05-01T00:00:00Z", may),
            ("2024-05-01t00:00:00z", may),
            ("2024-05-01 12:00:00Z", may + 43_200_000),
            ("2024-05-01T14:00:00+02:00", may + 43_200_000),
            ("2024-04-30T19:30:00-04:30", may),
            ("2024-05-01T00:00:01.5Z", may + 1_500),
            ("2024-05-01T00:00:00.123456789Z", may + 123),
            ("2024-02-29T23:59:60Z", 1_709_251_200_000),
            ("1970-01-01T00:30:00+01:00", -1_800_000),
        ] {
            assert_eq!(parse_time("--since", text).unwrap(), ms, "{text}");
        }
        for bad in [
            "",
            "-5",
            "yesterday",
            "2024-5-01",
            "2024-02-30",
            "2023-02-29",
            "2024-05-01T12:00Z",
            "2024-05-01T12:00:00",
            "2024-05-01T12:00:00+2:00",
            "2024-05-01T24:00:00Z",
            "2024-05-01T12:00:00.Z",
            "2024-05-01-01",
            "1969-12-31",
            "99999999999999999999",
        ] {
            assert!(parse_time("--since", bad).is_err(), "{bad}");
        }
    }
}
