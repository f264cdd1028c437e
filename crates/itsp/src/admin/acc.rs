//! `itsp acc`: the accounting records the proxy wrote (Kamailio's `acc` table), newest
//! last, filtered by call, user or time.

use clap::Args;
use serde_json::json;
use store::{AccEvent, AccFilter, AccKind};

use super::output::{utc_ms, Report, Table};
use super::{address, with_store, Failure};
use crate::store_args::StoreArgs;

/// The examples at the end of `itsp acc --help`.
pub(super) const EXAMPLES: &str = "\
Examples:
  itsp acc                                      # the newest 100 records
  itsp acc --user alice@example.com --since 2024-05-01
  itsp acc --since 2024-05-01T08:00:00+02:00 --limit 0 --json > may.json
  itsp acc --since 1714550400                   # Unix seconds
  itsp acc --call-id 3848276298220188511@192.0.2.4";

/// What `itsp acc` selects.
#[derive(Debug, Args)]
pub(crate) struct AccArgs {
    /// Only the records of this Call-ID.
    #[arg(long, value_name = "ID")]
    call_id: Option<String>,
    /// Only the records with this user@domain as caller or callee (as dialled: an alias
    /// is not its subscriber here).
    #[arg(long, value_name = "USER@DOMAIN")]
    user: Option<String>,
    /// Only the records at or after this time: RFC 3339 (2024-05-01T12:00:00Z,
    /// 2024-05-01T14:00:00+02:00, or a date, 2024-05-01, meaning midnight UTC) or Unix
    /// seconds.
    #[arg(long, value_name = "TIME")]
    since: Option<String>,
    /// At most the newest N records; 0 for all.
    #[arg(long, value_name = "N", default_value_t = 100)]
    limit: u32,
}

/// Runs `itsp acc`.
pub(super) async fn run(args: AccArgs, store: &StoreArgs) -> Result<Report, Failure> {
    let filter = AccFilter {
        call_id: args.call_id,
        user: args.user.as_deref().map(address).transpose()?,
        since_ms: args.since.as_deref().map(parse_time).transpose()?,
        limit: (args.limit > 0).then_some(args.limit),
    };
    with_store(store, async |s| Ok(report(s.acc_events(&filter).await?))).await
}

/// The events as a table and as JSON.
fn report(events: Vec<AccEvent>) -> Report {
    let mut table = Table::new(&[
        "TIME", "EVENT", "METHOD", "STATUS", "CALLER", "CALLEE", "SOURCE", "CALL-ID",
    ]);
    let mut rows = Vec::new();
    let party = |user: &Option<String>, domain: &Option<String>| match (user, domain) {
        (Some(u), Some(d)) => format!("{u}@{d}"),
        (Some(x), None) | (None, Some(x)) => x.clone(),
        (None, None) => "-".to_owned(),
    };
    for e in events {
        let event = match (&e.kind, &e.ended_by) {
            (AccKind::Ended, Some(by)) => format!("ended by {by}"),
            (kind, _) => kind.as_str().to_owned(),
        };
        let status = match (e.code, &e.reason) {
            (Some(code), Some(reason)) => format!("{code} {reason}"),
            (Some(code), None) => code.to_string(),
            (None, _) => "-".to_owned(),
        };
        table.row(vec![
            utc_ms(e.time_ms),
            event,
            e.method.clone(),
            status,
            party(&e.caller_user, &e.caller_domain),
            party(&e.callee_user, &e.callee_domain),
            e.source_ip.clone().unwrap_or_else(|| "-".into()),
            e.call_id.clone(),
        ]);
        rows.push(json!({
            "time": utc_ms(e.time_ms),
            "time_ms": e.time_ms,
            "kind": e.kind.as_str(),
            "method": e.method,
            "call_id": e.call_id,
            "from_tag": e.from_tag,
            "to_tag": e.to_tag,
            "code": e.code,
            "reason": e.reason,
            "caller_user": e.caller_user,
            "caller_domain": e.caller_domain,
            "callee_user": e.callee_user,
            "callee_domain": e.callee_domain,
            "source_ip": e.source_ip,
            "ended_by": e.ended_by,
        }));
    }
    Report::List {
        table,
        json: rows,
        empty: "no accounting records".to_owned(),
    }
}

/// Parses `--since`: Unix seconds, or an RFC 3339 date-time (`T`, `t` or a space between
/// date and time; `Z` or `±hh:mm`; fractions of a second) or full date (midnight UTC).
/// Returns Unix milliseconds.
fn parse_time(text: &str) -> Result<i64, Failure> {
    let bad = || {
        Failure::user(format!(
            "--since {text:?} is not a time: give RFC 3339 (2024-05-01T12:00:00Z, \
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
            assert_eq!(parse_time(text).unwrap(), ms, "{text}");
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
            assert!(parse_time(bad).is_err(), "{bad}");
        }
    }
}
