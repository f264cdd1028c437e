//! `itsp calls`: the calls in progress, as the proxy nodes record them (Kamailio's
//! `kamctl dialog show`).

use serde_json::json;
use store::{Call, CallState};

use super::output::{duration, utc_ms, Report, Table};
use super::{unix_now_ms, with_store, Failure};
use crate::store_args::StoreArgs;

/// The examples at the end of `itsp calls --help`.
pub(super) const EXAMPLES: &str = "\
Examples:
  itsp calls
  itsp calls --json | jq '.[] | select(.state == \"confirmed\")'
  itsp calls --db postgres://itsp@db.example/itsp     # every node sharing the database";

/// Runs `itsp calls`.
pub(super) async fn run(store: &StoreArgs) -> Result<Report, Failure> {
    with_store(store, async |s| Ok(report(s.calls().await?, unix_now_ms()))).await
}

/// The calls at `now_ms`, as a table and as JSON.
fn report(calls: Vec<Call>, now_ms: i64) -> Report {
    let mut table = Table::new(&["STATE", "CALLER", "CALLEE", "DURATION", "NODE", "CALL-ID"]);
    let mut rows = Vec::new();
    for c in calls {
        // Talk time once answered, ringing time before.
        let since = c.answered_ms.unwrap_or(c.started_ms);
        let seconds = now_ms.saturating_sub(since).max(0) / 1000;
        let state = match c.state {
            CallState::Early => "ringing",
            CallState::Confirmed => "answered",
        };
        table.row(vec![
            state.to_owned(),
            c.caller.clone(),
            c.callee.clone(),
            duration(seconds),
            c.node.clone(),
            c.call_id.clone(),
        ]);
        rows.push(json!({
            "state": c.state.as_str(),
            "caller": c.caller,
            "callee": c.callee,
            "duration_s": seconds,
            "node": c.node,
            "call_id": c.call_id,
            "from_tag": c.from_tag,
            "to_tag": c.to_tag,
            "source_ip": c.source_ip,
            "started_ms": c.started_ms,
            "started": utc_ms(c.started_ms),
            "answered_ms": c.answered_ms,
        }));
    }
    Report::List {
        table,
        json: rows,
        empty: "no calls in progress".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_count_talk_time_once_answered() {
        let ringing = Call {
            call_id: "c1".into(),
            from_tag: "f".into(),
            to_tag: None,
            state: CallState::Early,
            caller: "sip:alice@example.com".into(),
            callee: "sip:bob@example.com".into(),
            source_ip: None,
            started_ms: 100_000,
            answered_ms: None,
            node: "n1".into(),
        };
        let answered = Call {
            state: CallState::Confirmed,
            answered_ms: Some(110_000),
            ..ringing.clone()
        };
        let Report::List { table, json, .. } = report(vec![ringing, answered], 200_500) else {
            panic!("a list");
        };
        assert_eq!(json[0]["duration_s"], 100);
        assert_eq!(json[1]["duration_s"], 90);
        assert_eq!(json[1]["state"], "confirmed");
        let text = table.render();
        assert!(text.contains("ringing   sip:alice@example.com"), "{text}");
        assert!(text.contains("1:30"), "{text}");
    }
}
