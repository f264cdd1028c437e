//! Call detail records end to end: calls between two `itsp phone`s through `itsp serve`,
//! then `itsp cdr list` as an operator reads it (JSON, CSV, the missed-call filter) and the
//! server's log lines of each call: an answered call with its talk time and who hung up, a
//! busy call, a call the proxy refused, and a call cut by `kill -9` of the server, closed
//! when it starts again.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::softphone::Softphone;
use common::{admin_json, as_strs, DataDir, Itsp, DOMAIN};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(20);

/// The records, once `n` of them are written (the server commits them within a tenth of a
/// second of the call's end).
fn records(data: &DataDir, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + WAIT;
    loop {
        let v = admin_json(data, &["cdr", "list"]);
        let all = v.as_array().unwrap().clone();
        if all.len() >= n {
            return all;
        }
        assert!(
            Instant::now() < deadline,
            "{n} records not written: {all:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn is_rfc3339(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|t| t.len() == 24 && t.ends_with('Z') && t.as_bytes()[10] == b'T')
}

#[test]
fn answered_busy_and_refused_calls_are_recorded() {
    let data = DataDir::with_users(&[("alice", "a-secret"), ("bob", "b-secret")]);
    let server = Itsp::start(&as_strs(&data.args()));
    // Answered: alice answers, plays 2 s and hangs up (the callee).
    let mut alice = Softphone::start(
        server.udp,
        "alice",
        "a-secret",
        &["--duration", "2", "--calls", "1", "answer"],
    );
    alice.wait_event("waiting", WAIT);
    let mut bob = Softphone::start(
        server.udp,
        "bob",
        "b-secret",
        &["call", &format!("sip:alice@{DOMAIN}")],
    );
    bob.wait_event("answered", WAIT);
    assert!(bob.wait_exit(WAIT).success());
    assert!(alice.wait_exit(WAIT).success());
    // Busy: alice rejects with 486.
    let mut alice = Softphone::start(
        server.udp,
        "alice",
        "a-secret",
        &["--reject", "486", "--calls", "1", "answer"],
    );
    alice.wait_event("waiting", WAIT);
    let mut bob = Softphone::start(server.udp, "bob", "b-secret", &["call", "alice"]);
    assert_eq!(bob.wait_exit(WAIT).code(), Some(1));
    assert!(alice.wait_exit(WAIT).success());
    // Refused by the proxy: nobody is carol.
    let mut bob = Softphone::start(server.udp, "bob", "b-secret", &["call", "carol"]);
    assert_eq!(bob.wait_exit(WAIT).code(), Some(1));

    let all = records(&data, 3);
    assert_eq!(all.len(), 3, "{all:#?}");
    // The operator's lines (JSON logs: the same fields as the text ones).
    let started = server.wait_log("call started", WAIT);
    assert_eq!(started["fields"]["to"], format!("sip:alice@{DOMAIN}"));
    let answered = server.wait_log("call answered", WAIT);
    assert!(answered["fields"]["by"]
        .as_str()
        .is_some_and(|b| b.starts_with("sip:alice@")));
    let ended = server.wait_log("call ended", WAIT);
    assert_eq!(ended["fields"]["outcome"], "answered");
    assert_eq!(ended["fields"]["hung_up_by"], "callee");
    assert!(ended["fields"]["talk_secs"]
        .as_i64()
        .is_some_and(|s| (2..=4).contains(&s)));
    let refused = server.wait_log("call refused", WAIT);
    assert_eq!(refused["fields"]["code"], 404);
    assert_eq!(refused["fields"]["to"], format!("sip:carol@{DOMAIN}"));
    let answered = &all[0];
    assert_eq!(answered["disposition"], "answered");
    assert_eq!(answered["code"], 200);
    assert_eq!(answered["hung_up_by"], "callee");
    assert_eq!(answered["caller_user"], "bob");
    assert_eq!(answered["callee_user"], "alice");
    assert_eq!(answered["dialled_uri"], format!("sip:alice@{DOMAIN}"));
    let talk = answered["billable_secs"].as_i64().unwrap();
    assert!((2..=4).contains(&talk), "talked {talk} s for a 2 s call");
    assert!(answered["answered_by"]
        .as_str()
        .is_some_and(|c| c.starts_with("sip:alice@")));
    for field in ["start", "answer", "end"] {
        assert!(is_rfc3339(&answered[field]), "{field}: {}", answered[field]);
    }
    let busy = &all[1];
    assert_eq!(
        (&busy["disposition"], &busy["code"], &busy["hung_up_by"]),
        (&"busy".into(), &486.into(), &"callee".into())
    );
    assert_eq!(busy["billable_secs"], 0);
    assert!(busy["answer"].is_null());
    let refused = &all[2];
    assert_eq!(
        (
            &refused["disposition"],
            &refused["code"],
            &refused["hung_up_by"]
        ),
        (&"refused".into(), &404.into(), &"proxy".into())
    );
    assert_eq!(refused["callee_user"], "carol");

    // What alice missed: the busy call only (the refused one was for carol).
    let missed = admin_json(
        &data,
        &["cdr", "list", "--missed", &format!("alice@{DOMAIN}")],
    );
    let missed = missed.as_array().unwrap();
    assert_eq!(missed.len(), 1);
    assert_eq!(missed[0]["disposition"], "busy");

    // CSV: a header and a line per record; a disposition filter.
    let out = Command::new(env!("CARGO_BIN_EXE_itsp"))
        .args(["cdr", "list", "--csv", "--disposition", "answered"])
        .args(["--data-dir", &data.path_str()])
        .env_remove("ITSP_DB")
        .output()
        .unwrap();
    assert!(out.status.success());
    let csv = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(lines[0].starts_with("id,call_id,start,answer,end,billable_secs,disposition"));
    assert!(lines[1].contains(",answered,200,OK,callee,"), "{csv}");

    // A wrong disposition is named with the ones there are.
    let out = Command::new(env!("CARGO_BIN_EXE_itsp"))
        .args(["cdr", "list", "--disposition", "done"])
        .args(["--data-dir", &data.path_str()])
        .env_remove("ITSP_DB")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no_answer") && err.contains("refused"),
        "{err}"
    );
}

#[test]
fn a_call_cut_by_a_crash_is_closed_when_the_server_starts_again() {
    let data = DataDir::with_users(&[("alice", "a-secret"), ("bob", "b-secret")]);
    let server = Itsp::start(&as_strs(&data.args()));
    let mut alice = Softphone::start(
        server.udp,
        "alice",
        "a-secret",
        &["--duration", "60", "--calls", "1", "answer"],
    );
    alice.wait_event("waiting", WAIT);
    let mut bob = Softphone::start(server.udp, "bob", "b-secret", &["call", "alice"]);
    bob.wait_event("answered", WAIT);
    // The live call is in the store once its answer is committed.
    let deadline = Instant::now() + WAIT;
    while admin_json(&data, &["calls"])
        .as_array()
        .is_none_or(|calls| !calls.iter().any(|c| c["state"] == "confirmed"))
    {
        assert!(
            Instant::now() < deadline,
            "the answered call was not listed"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    server.signal("KILL");
    drop(server);
    drop(bob);
    drop(alice);
    assert!(admin_json(&data, &["cdr", "list"])
        .as_array()
        .unwrap()
        .is_empty());

    let _again = Itsp::start(&as_strs(&data.args()));
    let all = records(&data, 1);
    assert_eq!(all.len(), 1, "{all:#?}");
    let closed = &all[0];
    assert_eq!(closed["disposition"], "answered");
    assert_eq!(closed["hung_up_by"], "proxy");
    assert_eq!(closed["end_reason"], "restart");
    assert!(admin_json(&data, &["calls"]).as_array().unwrap().is_empty());
}

#[test]
fn an_answered_call_to_a_number_carries_its_price() {
    let data = DataDir::with_users(&[("alice", "a-secret"), ("4670123", "n-secret")]);
    let rates = data.path().join("rates.csv");
    std::fs::write(
        &rates,
        "prefix,description,connect_fee,rate_per_min,initial,increment\n46,Sweden,0.10,0.60,1,1\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_itsp"))
        .args(["rate", "import", rates.to_str().unwrap()])
        .args(["--data-dir", &data.path_str()])
        .env_remove("ITSP_DB")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let server = Itsp::start(&as_strs(&data.args()));
    // The number answers, plays 2 s and hangs up.
    let mut number = Softphone::start(
        server.udp,
        "4670123",
        "n-secret",
        &["--duration", "2", "--calls", "1", "answer"],
    );
    number.wait_event("waiting", WAIT);
    let mut alice = Softphone::start(server.udp, "alice", "a-secret", &["call", "4670123"]);
    alice.wait_event("answered", WAIT);
    assert!(alice.wait_exit(WAIT).success());
    assert!(number.wait_exit(WAIT).success());
    let all = records(&data, 1);
    let call = &all[0];
    assert_eq!(call["disposition"], "answered");
    assert_eq!(call["rate_plan"], "default");
    assert_eq!(call["currency"], "EUR");
    // 0.10 to connect, then 0.60 a minute by the second: 0.01 a second, exactly.
    let secs = call["billable_secs"].as_i64().unwrap();
    let cost: billing::Decimal = call["cost"].as_str().unwrap().parse().unwrap();
    let expected = billing::Decimal::new(10, 2) + billing::Decimal::new(secs, 2);
    assert_eq!(cost, expected, "{secs} s");
}

#[test]
fn thousands_of_records_stream_across_pages_with_their_filters() {
    let data = DataDir::with_users(&[("alice", "a")]);
    // 2,345 records (more than two pages of the export), one a minute from 2026-12-01,
    // every tenth one busy.
    let first_ms = 1_796_083_200_000; // 2026-12-01T00:00:00Z
    let records: Vec<store::Cdr> = (0..2_345_i64)
        .map(|i| {
            let start_ms = first_ms + i * 60_000;
            let busy = i % 10 == 9;
            store::Cdr {
                call_id: format!("call-{i}"),
                from_tag: "f".into(),
                to_tag: Some("t".into()),
                caller_user: Some("alice".into()),
                caller_domain: Some(DOMAIN.into()),
                caller_uri: format!("sip:alice@{DOMAIN}"),
                source_ip: Some("192.0.2.7".into()),
                dialled_uri: format!("sip:bob@{DOMAIN}"),
                callee_user: Some("bob".into()),
                callee_domain: Some(DOMAIN.into()),
                answered_by: None,
                start_ms,
                answer_ms: (!busy).then_some(start_ms + 1_000),
                end_ms: start_ms + 31_000,
                disposition: if busy {
                    store::Disposition::Busy
                } else {
                    store::Disposition::Answered
                },
                code: if busy { 486 } else { 200 },
                reason: None,
                hung_up_by: Some(store::HungUpBy::Caller),
                end_reason: None,
                node: "n1".into(),
                charge: None,
                media: None,
            }
        })
        .collect();
    common::block_on(async {
        let s = store::Store::open(&common::sqlite_url(data.path()))
            .await
            .unwrap();
        s.record_cdrs(&records).await.unwrap();
        s.close().await;
    });
    let all = admin_json(&data, &["cdr", "list"]);
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 2_345);
    let ids: Vec<&str> = all.iter().map(|r| r["call_id"].as_str().unwrap()).collect();
    assert_eq!(ids[0], "call-0");
    assert_eq!(
        ids[1_000], "call-1000",
        "oldest first across the page boundary"
    );
    assert_eq!(ids[2_344], "call-2344");
    assert_eq!(all[1]["billable_secs"], 30);
    // CSV: a header and a line per record, in the same order.
    let out = Command::new(env!("CARGO_BIN_EXE_itsp"))
        .args(["cdr", "list", "--csv", "--data-dir", &data.path_str()])
        .env_remove("ITSP_DB")
        .output()
        .unwrap();
    let csv = String::from_utf8(out.stdout).unwrap();
    assert_eq!(csv.lines().count(), 2_346);
    // Filters: busy ones, and one day of them (2026-12-01 has 1,440 minutes).
    let busy = admin_json(&data, &["cdr", "list", "--disposition", "busy"]);
    assert_eq!(busy.as_array().unwrap().len(), 234);
    let day = admin_json(
        &data,
        &[
            "cdr",
            "list",
            "--since",
            "2026-12-01",
            "--until",
            "2026-12-02T00:00:00Z",
        ],
    );
    assert_eq!(day.as_array().unwrap().len(), 1_440);
    // The table for people: a header, then a line per record.
    let out = Command::new(env!("CARGO_BIN_EXE_itsp"))
        .args(["cdr", "list", "--data-dir", &data.path_str()])
        .env_remove("ITSP_DB")
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    assert!(
        header.starts_with("START") && header.contains("DISPOSITION") && header.contains("COST")
    );
    let first = lines.next().unwrap();
    assert!(
        first.starts_with("2026-12-01 00:00:00.000 UTC") && first.contains("answered"),
        "{first}"
    );
    assert_eq!(lines.count(), 2_344);
}

#[test]
fn the_operator_ends_a_call_with_itsp_hangup() {
    let data = DataDir::with_users(&[("alice", "a-secret"), ("bob", "b-secret")]);
    let server = Itsp::start(&as_strs(&data.args()));
    let mut alice = Softphone::start(
        server.udp,
        "alice",
        "a-secret",
        &["--duration", "60", "--calls", "1", "answer"],
    );
    alice.wait_event("waiting", WAIT);
    let mut bob = Softphone::start(server.udp, "bob", "b-secret", &["call", "alice"]);
    bob.wait_event("answered", WAIT);
    let hangup = |call_id: &str| {
        Command::new(env!("CARGO_BIN_EXE_itsp"))
            .args(["hangup", call_id, "--json", "--data-dir", &data.path_str()])
            .output()
            .unwrap()
    };
    // No such call: 1, and why.
    let out = hangup("nobody@example.com");
    assert_eq!(out.status.code(), Some(1));
    let why: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        why["error"].as_str().unwrap().contains("no answered call"),
        "{why}"
    );
    // The live call's Call-ID, as `itsp calls` shows it.
    let deadline = Instant::now() + WAIT;
    let call_id = loop {
        let calls = admin_json(&data, &["calls"]);
        if let Some(c) = calls
            .as_array()
            .and_then(|a| a.iter().find(|c| c["state"] == "confirmed"))
        {
            break c["call_id"].as_str().unwrap().to_owned();
        }
        assert!(Instant::now() < deadline, "the call was not listed");
        std::thread::sleep(Duration::from_millis(100));
    };
    let out = hangup(&call_id);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for phone in [&mut alice, &mut bob] {
        let ended = phone.wait_event("ended", WAIT);
        assert_eq!(ended["cause"], "remote-hangup", "{ended}");
    }
    let all = records(&data, 1);
    let call = &all[0];
    assert_eq!(call["disposition"], "answered", "{call:#}");
    assert_eq!(call["hung_up_by"], "proxy");
    assert_eq!(call["end_reason"], "admin");
    // Both tries are in the audit log, with their outcome.
    let log = admin_json(&data, &["audit", "list"]);
    let hangups: Vec<(&str, i64)> = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"].as_str().unwrap().starts_with("itsp hangup"))
        .map(|e| (e["action"].as_str().unwrap(), e["status"].as_i64().unwrap()))
        .collect();
    assert_eq!(
        hangups,
        [
            (&*format!("itsp hangup {call_id}"), 0),
            ("itsp hangup nobody@example.com", 1)
        ],
        "{log:#}"
    );
}

#[test]
fn a_registration_removed_with_itsp_ul_rm_stops_receiving_calls_at_once() {
    let data = DataDir::with_users(&[("alice", "a-secret"), ("bob", "b-secret")]);
    let server = Itsp::start(&as_strs(&data.args()));
    let mut alice = Softphone::start(server.udp, "alice", "a-secret", &["--calls", "1", "answer"]);
    alice.wait_event("waiting", WAIT);
    let removed = admin_json(&data, &["ul", "rm", &format!("alice@{DOMAIN}")]);
    assert_eq!(removed["removed"], 1, "{removed}");
    assert_eq!(removed["server_told"], true, "{removed}");
    server.wait_log("registrations read again from the store", WAIT);
    // alice's phone still runs, but the server no longer knows where it is.
    let mut bob = Softphone::start(server.udp, "bob", "b-secret", &["call", "alice"]);
    let ended = bob.wait_event("ended", WAIT);
    assert_eq!(ended["code"], 480, "{ended}");
    assert!(
        admin_json(&data, &["ul", "show", &format!("alice@{DOMAIN}")])
            .as_array()
            .unwrap()
            .is_empty()
    );
    // Nothing left to remove: a clear refusal.
    let out = Command::new(env!("CARGO_BIN_EXE_itsp"))
        .args([
            "ul",
            "rm",
            &format!("alice@{DOMAIN}"),
            "--data-dir",
            &data.path_str(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not registered"));
}

#[test]
fn a_caller_gone_before_acknowledging_the_answer_is_hung_up_and_recorded() {
    let data = DataDir::with_users(&[("alice", "a-secret"), ("bob", "b-secret")]);
    let mut args = data.args();
    args.extend(["--trusted".into(), "127.0.0.0/8".into()]);
    let server = Itsp::start(&as_strs(&args));
    let alice = common::Phone::new(server.udp, "alice", "a-secret");
    let mut bob = common::Phone::new(server.udp, "bob", "b-secret");
    let contact = format!("Contact: <{}>\r\n", bob.contact());
    assert_eq!(bob.register(&contact).status(), Some(200));
    // Alice calls (trusted: no challenge), bob answers; alice vanishes without the ACK.
    let call = alice.new_call(&format!("bob@{DOMAIN}"), "gone");
    alice.send(&alice.invite_text(&call, None));
    let (invite, proxy) = bob.expect_request("INVITE");
    bob.reply(&invite, proxy, 200, "b1");
    assert_eq!(alice.expect_response("INVITE").status(), Some(200));
    // Bob's phone does not give up on the ACK either (a real one sends BYE at 64*T1 =
    // 32 s): the proxy ends the call at 64*T1 + T4 = 37 s with a BYE to both.
    let ended = server.wait_log("no ACK for the answer", Duration::from_secs(45));
    assert_eq!(ended["fields"]["call_id"], call.call_id.as_str());
    let (bye, from) = bob.expect_request("BYE");
    assert_eq!(from, server.udp);
    assert!(
        bye.header(sip::HeaderName::Reason)
            .is_some_and(|r| r.contains("cause=408")),
        "{bye:?}"
    );
    let (bye_to_alice, _) = alice.expect_request("BYE");
    assert_eq!(bye_to_alice.call_id().unwrap(), call.call_id.as_str());
    let all = records(&data, 1);
    let record = &all[0];
    assert_eq!(record["call_id"], call.call_id.as_str());
    assert_eq!(record["disposition"], "answered", "{record:#}");
    assert_eq!(record["hung_up_by"], "proxy");
    assert_eq!(record["end_reason"], "no ACK");
    assert!(admin_json(&data, &["calls"]).as_array().unwrap().is_empty());
}
