//! Prepaid calls end to end: two `itsp phone`s through `itsp serve`, a prepaid caller
//! (`itsp account set --prepaid`, `itsp account topup`) and a rate of 0.60 a minute billed
//! by the second (0.01 a second). With credit for 30 s the proxy ends the call at 30 s
//! with a BYE to both phones, the record says the credit ran out and its cost is what the
//! balance lost; the next call gets 402. A top-up during a call extends it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use billing::Decimal;
use common::softphone::Softphone;
use common::{admin, admin_json, as_strs, DataDir, Itsp, DOMAIN};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(20);
const NUMBER: &str = "4670123";

/// A data dir with alice (prepaid, `balance`) and the number as a subscriber, and the
/// rate to Sweden imported.
fn prepaid_data(balance: &str) -> DataDir {
    let data = DataDir::with_users(&[("alice", "a-secret"), (NUMBER, "n-secret")]);
    let rates = data.path().join("rates.csv");
    std::fs::write(
        &rates,
        "prefix,description,connect_fee,rate_per_min,initial,increment\n46,Sweden,0,0.60,1,1\n",
    )
    .unwrap();
    admin(&data, &["rate", "import", rates.to_str().unwrap()]);
    let alice = format!("alice@{DOMAIN}");
    admin(&data, &["account", "set", &alice, "--prepaid"]);
    admin(&data, &["account", "topup", &alice, balance]);
    data
}

fn balance(data: &DataDir) -> Decimal {
    let v = admin_json(data, &["account", "show", &format!("alice@{DOMAIN}")]);
    v["balance"].as_str().unwrap().parse().unwrap()
}

/// The call's record, once written.
fn record(data: &DataDir) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let all = admin_json(data, &["cdr", "list"]);
        if let Some(first) = all.as_array().and_then(|a| a.first()) {
            return first.clone();
        }
        assert!(Instant::now() < deadline, "no call record written");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The number answers and would talk for two minutes; alice calls it. Returns both
/// phones once the call is answered, and when.
fn answered_call(server: &Itsp) -> (Softphone, Softphone, Instant) {
    let mut number = Softphone::start(
        server.udp,
        NUMBER,
        "n-secret",
        &["--duration", "120", "--calls", "1", "answer"],
    );
    number.wait_event("waiting", WAIT);
    let mut alice = Softphone::start(server.udp, "alice", "a-secret", &["call", NUMBER]);
    alice.wait_event("answered", WAIT);
    let answered = Instant::now();
    (alice, number, answered)
}

#[test]
fn credit_for_30_seconds_is_a_30_second_call_then_402() {
    let data = prepaid_data("0.30");
    let server = Itsp::start(&as_strs(&data.args()));
    let (mut alice, mut number, answered) = answered_call(&server);
    let ended = alice.wait_event("ended", Duration::from_secs(40));
    let talked = answered.elapsed();
    assert_eq!(ended["cause"], "remote-hangup", "{ended}");
    assert!(
        talked >= Duration::from_secs(29) && talked <= Duration::from_millis(31_500),
        "ended after {talked:?}"
    );
    let callee_ended = number.wait_event("ended", WAIT);
    assert_eq!(callee_ended["cause"], "remote-hangup", "{callee_ended}");

    let call = record(&data);
    assert_eq!(call["disposition"], "credit_exhausted", "{call:#}");
    assert_eq!(call["hung_up_by"], "proxy");
    assert_eq!(call["end_reason"], "credit");
    let cost: Decimal = call["cost"].as_str().unwrap().parse().unwrap();
    let spent = Decimal::new(30, 2) - balance(&data);
    assert_eq!(cost, spent, "the record's cost is what the balance lost");
    assert!(
        cost >= Decimal::new(29, 2) && cost <= Decimal::new(30, 2),
        "{cost}"
    );
    server.wait_log("credit exhausted: ending the call", WAIT);

    // What is left pays less than one second: refused before it rings.
    drop(alice);
    drop(number);
    let mut number = Softphone::start(server.udp, NUMBER, "n-secret", &["--calls", "1", "answer"]);
    number.wait_event("waiting", WAIT);
    let mut again = Softphone::start(server.udp, "alice", "a-secret", &["call", NUMBER]);
    let refused = again.wait_event("ended", WAIT);
    assert_eq!(refused["cause"], "failed", "{refused}");
    assert_eq!(refused["code"], 402, "{refused}");
    assert_money_agrees(&data, 1);
}

/// `itsp account check` finds the ledger, the balance and the `calls` priced records in
/// agreement, nothing running.
fn assert_money_agrees(data: &DataDir, calls: u64) {
    let check = admin_json(data, &["account", "check"]);
    assert_eq!(check["ok"], true, "{check:#}");
    assert_eq!(check["calls"], calls, "{check:#}");
    assert_eq!(check["running"], 0, "{check:#}");
}

#[test]
fn a_top_up_during_the_call_makes_it_longer() {
    let data = prepaid_data("0.10");
    let server = Itsp::start(&as_strs(&data.args()));
    let (mut alice, _number, answered) = answered_call(&server);
    std::thread::sleep(Duration::from_secs(4));
    admin(
        &data,
        &["account", "topup", &format!("alice@{DOMAIN}"), "0.10"],
    );
    let ended = alice.wait_event("ended", Duration::from_secs(40));
    let talked = answered.elapsed();
    assert_eq!(ended["cause"], "remote-hangup", "{ended}");
    assert!(
        talked >= Duration::from_secs(19) && talked <= Duration::from_millis(21_500),
        "0.20 pays 20 s; ended after {talked:?}"
    );
    let call = record(&data);
    assert_eq!(call["disposition"], "credit_exhausted", "{call:#}");
    assert_eq!(
        balance(&data),
        Decimal::new(20, 2) - call["cost"].as_str().unwrap().parse::<Decimal>().unwrap()
    );
    assert_money_agrees(&data, 1);
}

#[test]
fn a_prepaid_call_cut_by_a_crash_costs_what_its_slices_took() {
    // 1.00 and 60 s slices: the answer takes 0.60 at once.
    let data = prepaid_data("1.00");
    let server = Itsp::start(&as_strs(&data.args()));
    let (alice, number, _) = answered_call(&server);
    let deadline = Instant::now() + WAIT;
    while balance(&data) != Decimal::new(40, 2) {
        assert!(
            Instant::now() < deadline,
            "the first slice was not taken: {}",
            balance(&data)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    server.signal("KILL");
    drop(server);
    drop(alice);
    drop(number);

    let _again = Itsp::start(&as_strs(&data.args()));
    let call = record(&data);
    assert_eq!(call["end_reason"], "restart", "{call:#}");
    let cost: Decimal = call["cost"].as_str().unwrap().parse().unwrap();
    assert_eq!(cost, Decimal::new(60, 2), "{call:#}");
    assert_eq!(
        balance(&data),
        Decimal::new(40, 2),
        "no refund, no second charge"
    );
    // The checker: what the ledger took for each call is the cost on its record.
    let history = admin_json(&data, &["account", "history", &format!("alice@{DOMAIN}")]);
    let taken: Decimal = history
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["call_id"] == call["call_id"])
        .map(|e| e["amount"].as_str().unwrap().parse::<Decimal>().unwrap())
        .sum();
    assert_eq!(-taken, Decimal::new(60, 2));
    // And `itsp account check` finds the money in agreement.
    assert_money_agrees(&data, 1);
}

#[test]
fn with_announcements_a_caller_without_credit_hears_why_before_the_402() {
    let data = DataDir::with_users(&[("alice", "a-secret"), (NUMBER, "n-secret")]);
    let rates = data.path().join("rates.csv");
    std::fs::write(
        &rates,
        "prefix,description,connect_fee,rate_per_min,initial,increment\n46,Sweden,0,0.60,1,1\n",
    )
    .unwrap();
    admin(&data, &["rate", "import", rates.to_str().unwrap()]);
    admin(
        &data,
        &["account", "set", &format!("alice@{DOMAIN}"), "--prepaid"],
    );
    let config = data.path().join("itsp.toml");
    std::fs::write(&config, "[media]\nannouncements = true\n").unwrap();
    let mut args = data.args();
    args.extend(["--config".to_owned(), config.display().to_string()]);
    let server = Itsp::start(&as_strs(&args));
    let mut number = Softphone::start(server.udp, NUMBER, "n-secret", &["--calls", "1", "answer"]);
    number.wait_event("waiting", WAIT);
    let mut alice = Softphone::start(server.udp, "alice", "a-secret", &["call", NUMBER]);
    let ended = alice.wait_event("ended", WAIT);
    assert_eq!(ended["code"], 402, "{ended}");
    let report = alice.wait_event("report", WAIT);
    assert!(
        report["packets_received"].as_u64().unwrap_or(0) > 50,
        "the insufficient-credit announcement came as early media: {report}"
    );
    let call = record(&data);
    assert_eq!(call["code"], 402, "{call:#}");
    assert!(call["answer"].is_null(), "{call:#}");
    // The number never rang: its phone still waits for its one call.
    number.listen_for(Duration::from_millis(500));
    assert!(number.all("incoming").is_empty(), "the number rang");
    assert_money_agrees(&data, 0);
}
