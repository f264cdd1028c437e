//! `itsp acc`: the accounting records the proxy wrote (Kamailio's `acc` table), newest
//! last, filtered by call, user or time.

use clap::Args;
use serde_json::json;
use store::{AccEvent, AccFilter, AccKind};

use super::output::{utc_ms, Report, Table};
use super::time::parse_time;
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
        since_ms: args
            .since
            .as_deref()
            .map(|t| parse_time("--since", t))
            .transpose()?,
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
