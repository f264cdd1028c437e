//! `itsp cdr list`: the call detail records the proxy wrote, one per call attempt (with its
//! cost once rated: `itsp rate`), oldest first, filtered by user, missed calls, time and
//! disposition; as a table, JSON or CSV.
//! Records are read and printed a page at a time, so an export of any size holds one page
//! in memory.

use std::io::Write;

use clap::{Args, Subcommand};
use serde_json::json;
use store::{Cdr, CdrFilter, Disposition, StoredCdr};

use super::output::{duration, padded_line, rfc3339_ms, utc_ms, Report};
use super::time::parse_time;
use super::{address, with_store, Failure};
use crate::store_args::StoreArgs;

/// Records read from the store at a time.
const PAGE: u32 = 1000;

/// The examples at the end of `itsp cdr --help`.
pub(super) const EXAMPLES: &str = "\
Examples:
  itsp cdr list                                  # every record, oldest first
  itsp cdr list --user alice@example.com --since 2026-11-01 --until 2026-12-01
  itsp cdr list --missed bob@example.com         # the calls bob did not answer
  itsp cdr list --disposition answered --csv > answered.csv
  itsp cdr list --since 2026-12-04T08:00:00+01:00 --json | jq '.[].billable_secs'";

/// `itsp cdr` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum CdrCommand {
    /// List call detail records, oldest first.
    ///
    /// DISPOSITION is answered, busy, no_answer, cancelled, failed, refused (by the proxy
    /// itself: unknown number, offline user, no permission) or credit_exhausted. TALK is
    /// the billable time (from answer to end, a started second counts). COST is the price
    /// of an answered call to a number, by the caller's plan (`itsp rate`). HUNG UP is who
    /// ended the call: caller, callee or proxy (with its reason: timer C, restart).
    #[command(after_long_help = EXAMPLES)]
    List(ListArgs),
}

/// What `itsp cdr list` selects and how it prints.
#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Only calls with this user@domain as caller or as dialled callee.
    #[arg(long, value_name = "USER@DOMAIN")]
    user: Option<String>,
    /// Only the calls this user@domain missed: dialled to it and not answered (busy, no
    /// answer, cancelled, refused).
    #[arg(long, value_name = "USER@DOMAIN")]
    missed: Option<String>,
    /// Only calls that started at or after this time: RFC 3339 (2026-12-01T12:00:00Z,
    /// 2026-12-01T13:00:00+01:00, or a date, meaning midnight UTC) or Unix seconds.
    #[arg(long, value_name = "TIME")]
    since: Option<String>,
    /// Only calls that started before this time (same forms as --since).
    #[arg(long, value_name = "TIME")]
    until: Option<String>,
    /// Only calls that ended this way.
    #[arg(long, value_name = "DISPOSITION", value_parser = parse_disposition)]
    disposition: Option<Disposition>,
    /// Print CSV (RFC 4180: a header line, then one line per record, times in RFC 3339)
    /// instead of a table.
    #[arg(long, conflicts_with = "json")]
    csv: bool,
}

fn parse_disposition(text: &str) -> Result<Disposition, String> {
    text.parse().map_err(|_| {
        let names: Vec<&str> = Disposition::ALL.iter().map(|d| d.as_str()).collect();
        format!("{text:?} is not a disposition: one of {}", names.join(", "))
    })
}

/// Runs `itsp cdr` (`json`: the common `--json`). The records are printed as they are
/// read; the report says nothing more.
pub(super) async fn run(
    command: CdrCommand,
    json: bool,
    store: &StoreArgs,
) -> Result<Report, Failure> {
    let CdrCommand::List(args) = command;
    let filter = CdrFilter {
        user: args.user.as_deref().map(address).transpose()?,
        missed_by: args.missed.as_deref().map(address).transpose()?,
        since_ms: args
            .since
            .as_deref()
            .map(|t| parse_time("--since", t))
            .transpose()?,
        until_ms: args
            .until
            .as_deref()
            .map(|t| parse_time("--until", t))
            .transpose()?,
        disposition: args.disposition,
    };
    let format = if json {
        Format::Json
    } else if args.csv {
        Format::Csv
    } else {
        Format::Table
    };
    with_store(store, async |s| {
        let mut out = Printer::new(format);
        let mut after = None;
        loop {
            let page = s.cdrs(&filter, after, PAGE).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.id);
            let full = page.len() == PAGE as usize;
            for record in &page {
                out.record(record)?;
            }
            if !full {
                break;
            }
        }
        out.finish()?;
        Ok(Report::Written)
    })
    .await
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Table,
    Json,
    Csv,
}

/// Writes records to standard output as they come.
struct Printer {
    format: Format,
    count: u64,
    out: std::io::BufWriter<std::io::Stdout>,
}

/// The columns of the table and of the CSV header.
const TABLE_COLUMNS: [(&str, usize); 9] = [
    ("START", 23),
    ("DISPOSITION", 16),
    ("STATUS", 24),
    ("CALLER", 24),
    ("DIALLED", 28),
    ("TALK", 8),
    ("COST", 12),
    ("HUNG UP", 17),
    ("CALL-ID", 0),
];

const CSV_COLUMNS: [&str; 23] = [
    "id",
    "call_id",
    "start",
    "answer",
    "end",
    "billable_secs",
    "disposition",
    "code",
    "reason",
    "hung_up_by",
    "end_reason",
    "caller_user",
    "caller_domain",
    "caller_uri",
    "source_ip",
    "dialled_uri",
    "callee_user",
    "callee_domain",
    "answered_by",
    "node",
    "rate_plan",
    "cost",
    "currency",
];

impl Printer {
    fn new(format: Format) -> Printer {
        Printer {
            format,
            count: 0,
            out: std::io::BufWriter::new(std::io::stdout()),
        }
    }

    fn record(&mut self, stored: &StoredCdr) -> Result<(), Failure> {
        let first = self.count == 0;
        self.count += 1;
        let c = &stored.cdr;
        match self.format {
            Format::Json => {
                let lead = if first { "[" } else { "," };
                writeln!(self.out, "{lead}{}", json_of(stored)).map_err(|e| write_failure(&e))
            }
            Format::Csv => {
                if first {
                    writeln!(self.out, "{}", CSV_COLUMNS.join(","))
                        .map_err(|e| write_failure(&e))?;
                }
                writeln!(self.out, "{}", csv_line(stored)).map_err(|e| write_failure(&e))
            }
            Format::Table => {
                if first {
                    let header: Vec<&str> = TABLE_COLUMNS.iter().map(|(h, _)| *h).collect();
                    self.table_line(&header)?;
                }
                let status = match &c.reason {
                    Some(reason) => format!("{} {reason}", c.code),
                    None => c.code.to_string(),
                };
                let hung_up = match (c.hung_up_by, &c.end_reason) {
                    (Some(by), Some(why)) => format!("{} ({why})", by.as_str()),
                    (Some(by), None) => by.as_str().to_owned(),
                    (None, _) => "-".to_owned(),
                };
                let cells = [
                    utc_ms(c.start_ms),
                    c.disposition.to_string(),
                    status,
                    party(&c.caller_user, &c.caller_domain, &c.caller_uri),
                    c.dialled_uri.clone(),
                    duration(c.billable_secs()),
                    c.charge
                        .as_ref()
                        .map_or_else(|| "-".to_owned(), |x| format!("{} {}", x.cost, x.currency)),
                    hung_up,
                    c.call_id.clone(),
                ];
                let cells: Vec<&str> = cells.iter().map(String::as_str).collect();
                self.table_line(&cells)
            }
        }
    }

    fn table_line(&mut self, cells: &[&str]) -> Result<(), Failure> {
        let line = padded_line(&TABLE_COLUMNS, cells);
        writeln!(self.out, "{line}").map_err(|e| write_failure(&e))
    }

    fn finish(mut self) -> Result<(), Failure> {
        let written = match (self.format, self.count) {
            (Format::Json, 0) => writeln!(self.out, "[]"),
            (Format::Json, _) => writeln!(self.out, "]"),
            (Format::Table, 0) => writeln!(self.out, "no call detail records"),
            _ => Ok(()),
        };
        written
            .and_then(|()| self.out.flush())
            .map_err(|e| write_failure(&e))
    }
}

/// A write to standard output failed; a closed pipe (`| head`) is not an error.
pub(super) fn write_failure(e: &std::io::Error) -> Failure {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        Failure::quiet()
    } else {
        Failure::user(format!("cannot write to standard output: {e}"))
    }
}

/// `user@domain`, or the URI when it has no user.
fn party(user: &Option<String>, domain: &Option<String>, uri: &str) -> String {
    match (user, domain) {
        (Some(u), Some(d)) => format!("{u}@{d}"),
        _ => uri.to_owned(),
    }
}

fn json_of(stored: &StoredCdr) -> serde_json::Value {
    let c: &Cdr = &stored.cdr;
    json!({
        "id": stored.id,
        "call_id": c.call_id,
        "from_tag": c.from_tag,
        "to_tag": c.to_tag,
        "start": rfc3339_ms(c.start_ms),
        "answer": c.answer_ms.map(rfc3339_ms),
        "end": rfc3339_ms(c.end_ms),
        "billable_secs": c.billable_secs(),
        "disposition": c.disposition.as_str(),
        "code": c.code,
        "reason": c.reason,
        "hung_up_by": c.hung_up_by.map(|h| h.as_str()),
        "end_reason": c.end_reason,
        "caller_user": c.caller_user,
        "caller_domain": c.caller_domain,
        "caller_uri": c.caller_uri,
        "source_ip": c.source_ip,
        "dialled_uri": c.dialled_uri,
        "callee_user": c.callee_user,
        "callee_domain": c.callee_domain,
        "answered_by": c.answered_by,
        "node": c.node,
        "rate_plan": c.charge.as_ref().map(|x| &x.plan),
        "cost": c.charge.as_ref().map(|x| &x.cost),
        "currency": c.charge.as_ref().map(|x| &x.currency),
        "caller_packets": c.media.map(|m| m.caller_packets),
        "caller_lost": c.media.map(|m| m.caller_lost),
        "callee_packets": c.media.map(|m| m.callee_packets),
        "callee_lost": c.media.map(|m| m.callee_lost),
        "media_bytes": c.media.map(|m| m.bytes),
        "caller_jitter_ms": c.media.and_then(|m| m.caller_quality).map(|q| q.jitter_ms()),
        "caller_mos": c.media.and_then(|m| m.caller_quality).map(|q| q.mos()),
        "callee_jitter_ms": c.media.and_then(|m| m.callee_quality).map(|q| q.jitter_ms()),
        "callee_mos": c.media.and_then(|m| m.callee_quality).map(|q| q.mos()),
    })
}

fn csv_line(stored: &StoredCdr) -> String {
    let c = &stored.cdr;
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    let fields = [
        stored.id.to_string(),
        c.call_id.clone(),
        rfc3339_ms(c.start_ms),
        c.answer_ms.map(rfc3339_ms).unwrap_or_default(),
        rfc3339_ms(c.end_ms),
        c.billable_secs().to_string(),
        c.disposition.to_string(),
        c.code.to_string(),
        opt(&c.reason),
        c.hung_up_by
            .map(|h| h.as_str().to_owned())
            .unwrap_or_default(),
        opt(&c.end_reason),
        opt(&c.caller_user),
        opt(&c.caller_domain),
        c.caller_uri.clone(),
        opt(&c.source_ip),
        c.dialled_uri.clone(),
        opt(&c.callee_user),
        opt(&c.callee_domain),
        opt(&c.answered_by),
        c.node.clone(),
        c.charge
            .as_ref()
            .map(|x| x.plan.clone())
            .unwrap_or_default(),
        c.charge
            .as_ref()
            .map(|x| x.cost.clone())
            .unwrap_or_default(),
        c.charge
            .as_ref()
            .map(|x| x.currency.clone())
            .unwrap_or_default(),
    ];
    let quoted: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
    quoted.join(",")
}

/// RFC 4180 §2: a field with a comma, quote or line break is quoted, quotes doubled.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_when_they_must_be() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(
            csv_field("\"Alice\" <sip:alice@example.com>"),
            "\"\"\"Alice\"\" <sip:alice@example.com>\""
        );
    }

    #[test]
    fn dispositions_are_named_in_the_error() {
        let e = parse_disposition("done").unwrap_err();
        assert!(
            e.contains("answered") && e.contains("credit_exhausted"),
            "{e}"
        );
        assert_eq!(parse_disposition("no_answer"), Ok(Disposition::NoAnswer));
    }
}
