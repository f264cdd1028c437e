//! Headers with one scalar value or a token list: CSeq (§20.16), Call-ID (§20.8),
//! Max-Forwards (§20.22), Expires / Min-Expires (§20.19, §20.23), Content-Length (§20.14),
//! Content-Type (§20.15), Date (§20.17), Retry-After (§20.33) and option-tag lists
//! (Require, Proxy-Require, Supported, Unsupported, Allow; §20.32, §20.29, §20.37, §20.40,
//! §20.5).

use crate::method::Method;
use crate::params::Params;
use crate::text::{is_token, parse_decimal, split_top_level, trim_lws};

/// RFC 3261 §8.1.1.5: the CSeq sequence number MUST be less than 2**31.
pub const MAX_CSEQ: u32 = (1 << 31) - 1;

/// `CSeq: 4711 INVITE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CSeq<'a> {
    /// The sequence number.
    pub seq: u32,
    /// The method as written (compare with [`Method::as_str`]).
    pub method: &'a str,
}

impl<'a> CSeq<'a> {
    /// Parses `1*DIGIT LWS Method`.
    pub fn parse(value: &'a str) -> Result<CSeq<'a>, &'static str> {
        let value = trim_lws(value);
        let split = value
            .bytes()
            .position(crate::text::is_lws)
            .ok_or("no method after the number")?;
        let seq = parse_decimal(&value[..split], u64::from(MAX_CSEQ))
            .ok_or("sequence number is not a number below 2**31")? as u32;
        let method = trim_lws(&value[split..]);
        if !is_token(method) {
            return Err("method is not a token");
        }
        Ok(CSeq { seq, method })
    }

    /// The method, typed.
    pub fn method(&self) -> Method {
        Method::from_name(self.method)
    }
}

/// Checks a Call-ID: `word [ "@" word ]` (§25.1), no white space.
pub fn check_call_id(value: &str) -> Result<&str, &'static str> {
    if value.is_empty() {
        return Err("empty");
    }
    if value.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err("white space or control character");
    }
    if memchr::memchr_iter(b'@', value.as_bytes()).nth(1).is_some() {
        return Err("more than one @");
    }
    Ok(value)
}

/// Max-Forwards: 0–255 (RFC 3261 §20.22; larger values are rejected per RFC 4475 §3.1.2.4).
pub fn parse_max_forwards(value: &str) -> Result<u8, &'static str> {
    parse_decimal(trim_lws(value), 255)
        .map(|v| v as u8)
        .ok_or("not a number from 0 to 255")
}

/// delta-seconds (Expires, Min-Expires, Retry-After): at most 2**32-1 (§25.1, RFC 4475
/// §3.1.2.4).
pub fn parse_delta_seconds(value: &str) -> Result<u32, &'static str> {
    parse_decimal(trim_lws(value), u64::from(u32::MAX))
        .map(|v| v as u32)
        .ok_or("not a number of seconds below 2**32")
}

/// Retry-After: `delta-seconds [ comment ] *( SEMI retry-param )`.
pub fn parse_retry_after(value: &str) -> Result<u32, &'static str> {
    let value = trim_lws(value);
    let end = value.find([' ', '\t', '(', ';']).unwrap_or(value.len());
    parse_delta_seconds(&value[..end])
}

/// `Content-Type: type/subtype *(;param)` (§20.15, RFC 2045).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaType<'a> {
    /// Type, e.g. `application`.
    pub kind: &'a str,
    /// Subtype, e.g. `sdp`.
    pub subtype: &'a str,
    /// Parameters, e.g. `boundary=...`.
    pub params: Params<'a>,
}

impl<'a> MediaType<'a> {
    /// Parses a media type.
    pub fn parse(value: &'a str) -> Result<MediaType<'a>, &'static str> {
        let value = trim_lws(value);
        let (ty, params) = value.split_once(';').unwrap_or((value, ""));
        let (kind, subtype) = ty.split_once('/').ok_or("no / in media type")?;
        let (kind, subtype) = (trim_lws(kind), trim_lws(subtype));
        if !is_token(kind) || !is_token(subtype) {
            return Err("type or subtype is not a token");
        }
        let params = Params::new(params);
        params.validate().map_err(|_| "malformed parameters")?;
        Ok(MediaType {
            kind,
            subtype,
            params,
        })
    }

    /// Case-insensitive match on `type/subtype`.
    pub fn is(&self, kind: &str, subtype: &str) -> bool {
        self.kind.eq_ignore_ascii_case(kind) && self.subtype.eq_ignore_ascii_case(subtype)
    }
}

/// Iterates over a comma-separated token list (option tags, methods), checking each.
pub fn tokens(value: &str) -> impl Iterator<Item = Result<&str, &'static str>> {
    split_top_level(value).filter_map(|t| match t {
        Ok("") => None,
        Ok(t) if is_token(t) => Some(Ok(t)),
        _ => Some(Err("list element is not a token")),
    })
}

/// Checks a Date header: RFC 1123 `wkday "," SP date1 SP time SP "GMT"` (RFC 3261 §20.17,
/// §25.1 `SIP-date`; RFC 4475 §3.1.2.12: a zone other than GMT is invalid).
/// Returns seconds since the Unix epoch.
pub fn parse_date(value: &str) -> Result<u64, &'static str> {
    let bad = "not an RFC 1123 date in GMT";
    let value = trim_lws(value);
    let (wkday, rest) = value.split_once(", ").ok_or(bad)?;
    if !DAYS.contains(&wkday) {
        return Err(bad);
    }
    let mut parts = rest.split(' ');
    let (day, month, year, time, zone) = (
        parts.next().ok_or(bad)?,
        parts.next().ok_or(bad)?,
        parts.next().ok_or(bad)?,
        parts.next().ok_or(bad)?,
        parts.next().ok_or(bad)?,
    );
    if parts.next().is_some() || zone != "GMT" || day.len() != 2 || year.len() != 4 {
        return Err(bad);
    }
    let day = parse_decimal(day, 31).filter(|d| *d >= 1).ok_or(bad)?;
    let month = MONTHS.iter().position(|m| *m == month).ok_or(bad)? as u64 + 1;
    let year = parse_decimal(year, 9999).ok_or(bad)?;
    let mut hms = time.split(':');
    let (h, m, s) = (
        hms.next()
            .filter(|x| x.len() == 2)
            .and_then(|x| parse_decimal(x, 23)),
        hms.next()
            .filter(|x| x.len() == 2)
            .and_then(|x| parse_decimal(x, 59)),
        hms.next()
            .filter(|x| x.len() == 2)
            .and_then(|x| parse_decimal(x, 60)),
    );
    let (h, m, s) = (h.ok_or(bad)?, m.ok_or(bad)?, s.ok_or(bad)?);
    if hms.next().is_some() || year < 1970 {
        return Err(bad);
    }
    Ok(days_from_civil(year, month, day) * 86_400 + h * 3600 + m * 60 + s)
}

const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Writes a Date header value for `unix` seconds: `Sat, 13 Nov 2010 23:29:00 GMT`
/// (RFC 3261 §20.17; the registrar's 200 carries one, §10.3 step 8).
pub fn format_date(unix: u64) -> String {
    let days = unix / 86_400;
    let secs = unix % 86_400;
    // 1970-01-01 was a Thursday (index 3 from Monday).
    let wkday = DAYS[((days + 3) % 7) as usize];
    let (y, m, d) = civil_from_days(days);
    format!(
        "{wkday}, {d:02} {} {y:04} {:02}:{:02}:{:02} GMT",
        MONTHS[(m - 1) as usize],
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// The proleptic Gregorian (year, month, day) of a count of days since 1970-01-01 (Howard
/// Hinnant's algorithm); for Date headers and anything else that prints a UTC date.
pub fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

/// Unix milliseconds as RFC 3339 in UTC with milliseconds (`2024-02-29T23:59:59.007Z`),
/// what the JSON of logs, traces and admin commands carries; before 1970 or after 9999, the
/// bare number.
pub fn rfc3339_ms(unix_ms: i64) -> String {
    match utc_fields(unix_ms.div_euclid(1000)) {
        Some((y, mo, d, h, mi, s)) => format!(
            "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{:03}Z",
            unix_ms.rem_euclid(1000)
        ),
        None => unix_ms.to_string(),
    }
}

/// Unix seconds as RFC 3339 in UTC (`2024-02-29T23:59:59Z`); before 1970 or after 9999,
/// the bare number.
pub fn rfc3339(unix_secs: i64) -> String {
    match utc_fields(unix_secs) {
        Some((y, mo, d, h, mi, s)) => format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z"),
        None => unix_secs.to_string(),
    }
}

/// Reads a time as people and scripts give one: Unix seconds, or an RFC 3339 date-time
/// (`T`, `t` or a space between date and time; `Z` or `±hh:mm`; fractions of a second,
/// kept to the millisecond; a leap second) or full date (midnight UTC), from 1970 on.
/// Returns Unix milliseconds; `None` for anything else. The reverse of [`rfc3339_ms`].
pub fn parse_time_ms(text: &str) -> Option<i64> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse::<i64>().ok()?.checked_mul(1000);
    }
    let (date, time) = match text.split_once(['T', 't', ' ']) {
        Some((date, time)) => (date, Some(time)),
        None => (text, None),
    };
    let mut ymd = date.split('-');
    let year = fixed_number(ymd.next(), 4, 1970..=9999)?;
    let month = fixed_number(ymd.next(), 2, 1..=12)?;
    let day = fixed_number(ymd.next(), 2, 1..=31)?;
    let days = days_from_civil(year, month, day);
    if ymd.next().is_some() || civil_from_days(days) != (year, month, day) {
        return None;
    }
    let midnight_ms = i64::try_from(days * 86_400_000).ok()?;
    let Some(time) = time else {
        return Some(midnight_ms);
    };
    // The offset: `Z`, or a sign and hh:mm (local time = UTC + offset).
    let (clock, offset_s) = match time.strip_suffix(['Z', 'z']) {
        Some(clock) => (clock, 0),
        None => {
            let at = time.rfind(['+', '-'])?;
            let (clock, offset) = time.split_at(at);
            let (sign, hhmm) = offset.split_at(1);
            let (h, m) = hhmm.split_once(':')?;
            let h = fixed_number(Some(h), 2, 0..=23)?;
            let m = fixed_number(Some(m), 2, 0..=59)?;
            let seconds = i64::try_from(h * 3600 + m * 60).ok()?;
            (clock, if sign == "-" { -seconds } else { seconds })
        }
    };
    let (hms, fraction) = match clock.split_once('.') {
        Some((hms, f)) if (1..=9).contains(&f.len()) && f.bytes().all(|b| b.is_ascii_digit()) => {
            (hms, &f[..f.len().min(3)])
        }
        Some(_) => return None,
        None => (clock, ""),
    };
    let mut parts = hms.split(':');
    let h = fixed_number(parts.next(), 2, 0..=23)?;
    let m = fixed_number(parts.next(), 2, 0..=59)?;
    // 60: a leap second.
    let s = fixed_number(parts.next(), 2, 0..=60)?;
    if parts.next().is_some() {
        return None;
    }
    let ms = format!("{fraction:0<3}").parse::<u64>().ok()?;
    let in_day_ms = i64::try_from((h * 3600 + m * 60 + s) * 1000 + ms).ok()?;
    Some(midnight_ms + in_day_ms - offset_s * 1000)
}

/// `text` if it is `digits` decimal digits with a value in `range`.
fn fixed_number(
    text: Option<&str>,
    digits: usize,
    range: std::ops::RangeInclusive<u64>,
) -> Option<u64> {
    let t = text.filter(|t| t.len() == digits && t.bytes().all(|b| b.is_ascii_digit()))?;
    t.parse().ok().filter(|n| range.contains(n))
}

/// Year, month, day, hour, minute, second of Unix seconds in UTC, from 1970 to 9999.
fn utc_fields(unix_secs: i64) -> Option<(u64, u64, u64, u64, u64, u64)> {
    // 10000-01-01 in Unix seconds.
    let secs = u64::try_from(unix_secs)
        .ok()
        .filter(|s| *s < 253_402_300_800)?;
    let (y, mo, d) = civil_from_days(secs / 86_400);
    let of_day = secs % 86_400;
    Some((y, mo, d, of_day / 3600, of_day % 3600 / 60, of_day % 60))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (year >= 1970; month 1 to 12, day 1
/// to 31, not checked against the month: round-trip through [`civil_from_days`] to check).
pub fn days_from_civil(y: u64, m: u64, d: u64) -> u64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_read_as_given() {
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
            assert_eq!(parse_time_ms(text), Some(ms), "{text}");
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
            assert_eq!(parse_time_ms(bad), None, "{bad}");
        }
        assert_eq!(parse_time_ms(&rfc3339_ms(may + 7)), Some(may + 7));
    }

    #[test]
    fn rfc3339_times() {
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_ms(1_709_251_199_007), "2024-02-29T23:59:59.007Z");
        assert_eq!(rfc3339(1_714_521_600), "2024-05-01T00:00:00Z");
        assert_eq!(rfc3339(-1), "-1");
        assert_eq!(rfc3339_ms(253_402_300_800_000), "253402300800000");
    }

    #[test]
    fn cseq_with_folding() {
        let c = CSeq::parse("0009\r\n  INVITE").unwrap();
        assert_eq!(c.seq, 9);
        assert_eq!(c.method(), Method::Invite);
        assert!(CSeq::parse("36893488147419103232 REGISTER").is_err());
        assert!(CSeq::parse("2147483648 INVITE").is_err());
        assert!(CSeq::parse("1").is_err());
    }

    #[test]
    fn dates() {
        assert_eq!(
            parse_date("Sat, 13 Nov 2010 23:29:00 GMT"),
            Ok(1_289_690_940)
        );
        assert!(parse_date("Fri, 01 Jan 2010 16:00:00 EST").is_err());
        assert_eq!(parse_date("Thu, 01 Jan 1970 00:00:00 GMT"), Ok(0));
        assert_eq!(format_date(1_289_690_940), "Sat, 13 Nov 2010 23:29:00 GMT");
        assert_eq!(format_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        // Leap days and centuries round-trip.
        for t in [951_782_400u64, 1_709_164_800, 4_107_542_399, 86_399] {
            assert_eq!(parse_date(&format_date(t)), Ok(t), "{t}");
        }
    }

    #[test]
    fn scalars() {
        assert_eq!(parse_max_forwards("0068"), Ok(68));
        assert!(parse_max_forwards("300").is_err());
        assert!(parse_delta_seconds("10000000000000000000000").is_err());
        assert_eq!(
            parse_retry_after("120 (I'm in a meeting);duration=60"),
            Ok(120)
        );
        let t: Vec<_> = tokens("100rel, timer ,path").collect();
        assert_eq!(t, vec![Ok("100rel"), Ok("timer"), Ok("path")]);
        assert!(check_call_id("a b").is_err());
        let m = MediaType::parse("application/SDP").unwrap();
        assert!(m.is("application", "sdp"));
    }
}
