//! `itsp account` as an operator uses it, on the real binary and a data directory: accounts
//! opened (in the currency of an imported plan), shown and listed; top-ups and adjustments
//! with exact decimals; the history as a table and as JSON, newest entries with --limit;
//! closing only at zero; and the refusals (a bad amount, an unknown subscriber, money left
//! on an account) with their messages, exit codes and JSON errors.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::{Command, Output};

use common::{admin_json, DataDir};
use serde_json::{json, Value};

fn itsp(data: &DataDir, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_itsp"))
        .args(args)
        .args(["--data-dir", &data.path_str()])
        .env_remove("ITSP_DB")
        .output()
        .unwrap()
}

/// Runs a command that must fail with status 1; answers its stderr.
fn refused(data: &DataDir, args: &[&str]) -> String {
    let out = itsp(data, args);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn accounts_are_opened_topped_up_adjusted_and_closed() {
    let data = DataDir::with_users(&[("alice", "a"), ("bob", "b")]);
    assert_eq!(admin_json(&data, &["account", "list"]), json!([]));
    let said = stdout(&itsp(&data, &["account", "list"]));
    assert!(said.contains("no accounts"), "{said}");

    // Opened: EUR unless a plan says otherwise.
    let opened = admin_json(&data, &["account", "set", "alice@example.com", "--prepaid"]);
    assert_eq!(opened["ok"], true);
    assert_eq!(opened["user"], "alice@example.com");
    assert_eq!(opened["kind"], "prepaid");
    assert_eq!(opened["currency"], "EUR");
    assert_eq!(opened["balance"], "0.00");
    assert_eq!(opened["plan"], Value::Null);
    assert_eq!(opened["created_now"], true);
    assert!(
        opened["created"].as_str().unwrap().ends_with('Z'),
        "{opened}"
    );

    // Top-ups and an adjustment, exactly: 0.10 + 0.20 is 0.30.
    let up = admin_json(&data, &["account", "topup", "alice@example.com", "0.10"]);
    assert_eq!(up["balance"], "0.10");
    assert_eq!(up["entry"]["kind"], "top_up");
    assert_eq!(up["entry"]["amount"], "0.10");
    let said = stdout(&itsp(
        &data,
        &[
            "account",
            "topup",
            "alice@example.com",
            "0.2",
            "--note",
            "receipt 17",
        ],
    ));
    assert_eq!(
        said.trim(),
        "topped up alice@example.com by 0.20 EUR: the balance is 0.30 EUR"
    );
    let adjusted = admin_json(
        &data,
        &[
            "account",
            "adjust",
            "alice@example.com",
            "-5.00",
            "--note",
            "goodwill reversed",
        ],
    );
    assert_eq!(adjusted["entry"]["amount"], "-5.00");
    assert_eq!(adjusted["balance"], "-4.70");
    admin_json(&data, &["account", "topup", "alice@example.com", "24.7"]);

    // Shown, listed, changed.
    let shown = admin_json(&data, &["account", "show", "alice@example.com"]);
    assert_eq!(shown["balance"], "20.00");
    assert_eq!(shown["last_entry"], 4);
    let text = stdout(&itsp(&data, &["account", "show", "alice@example.com"]));
    assert!(
        text.contains("balance      20.00 EUR") && text.contains("kind         prepaid"),
        "{text}"
    );
    let changed = admin_json(
        &data,
        &[
            "account",
            "set",
            "alice@example.com",
            "--postpaid",
            "--low-balance",
            "2.5",
        ],
    );
    assert_eq!(changed["created_now"], false);
    assert_eq!(changed["kind"], "postpaid");
    assert_eq!(changed["balance"], "20.00", "the money stays");
    assert_eq!(changed["low_balance"], "2.50");
    let list = admin_json(&data, &["account", "list"]);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["user"], "alice@example.com");
    let table = stdout(&itsp(&data, &["account", "list"]));
    assert!(
        table.starts_with("USER") && table.contains("alice@example.com  postpaid"),
        "{table}"
    );

    // The history: oldest first, with the balance after each entry; --limit keeps the
    // newest.
    let history = admin_json(&data, &["account", "history", "alice@example.com"]);
    let amounts: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["amount"].as_str().unwrap())
        .collect();
    assert_eq!(amounts, ["0.10", "0.20", "-5.00", "24.70"]);
    assert_eq!(history[1]["note"], "receipt 17");
    assert_eq!(history[2]["kind"], "adjustment");
    assert_eq!(history[2]["balance_after"], "-4.70");
    assert_eq!(history[3]["call_id"], Value::Null);
    assert!(history[0]["time"].as_str().unwrap().ends_with('Z'));
    let newest = admin_json(
        &data,
        &["account", "history", "alice@example.com", "--limit", "2"],
    );
    assert_eq!(newest.as_array().unwrap().len(), 2);
    assert_eq!(newest[0]["id"], 3);
    assert_eq!(newest[1]["id"], 4);
    let text = stdout(&itsp(&data, &["account", "history", "alice@example.com"]));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5, "{text}");
    assert!(lines[0].starts_with("ID") && lines[0].contains("BALANCE"));
    assert!(
        lines[3].contains("adjustment") && lines[3].contains("-4.70 EUR"),
        "{text}"
    );
    assert!(lines[3].ends_with("goodwill reversed"), "{text}");

    // Closing: refused with money on it (saying how to bring it to zero), then done.
    let err = refused(&data, &["account", "remove", "alice@example.com"]);
    assert!(
        err.contains("its balance is 20.00 EUR, not zero")
            && err.contains("itsp account adjust alice@example.com -20.00"),
        "{err}"
    );
    admin_json(
        &data,
        &[
            "account",
            "adjust",
            "alice@example.com",
            "-20",
            "--note",
            "paid out",
        ],
    );
    let removed = admin_json(&data, &["account", "remove", "alice@example.com"]);
    assert_eq!(removed, json!({ "ok": true, "user": "alice@example.com" }));
    let err = refused(&data, &["account", "show", "alice@example.com"]);
    assert!(
        err.contains("no account for alice@example.com")
            && err.contains("itsp account set alice@example.com --prepaid"),
        "{err}"
    );
    assert_eq!(admin_json(&data, &["account", "list"]), json!([]));
}

#[test]
fn bad_amounts_and_unknown_subscribers_are_refused_clearly() {
    let data = DataDir::with_users(&[("alice", "a")]);
    let set = itsp(&data, &["account", "set", "alice@example.com", "--prepaid"]);
    stdout(&set);
    for (amount, says) in [
        ("1,50", "AMOUNT: `1,50` is not a decimal number like 12.50"),
        (
            "12.5e1",
            "AMOUNT: `12.5e1` is not a decimal number like 12.50",
        ),
        ("0.12345", "AMOUNT: `0.12345` has 5 decimals; at most 4"),
        ("0", "a top-up must be more than zero"),
        ("-5", "a top-up must be more than zero"),
    ] {
        let err = refused(&data, &["account", "topup", "alice@example.com", amount]);
        assert!(err.contains(says), "{amount}: {err}");
    }
    let err = refused(
        &data,
        &[
            "account",
            "adjust",
            "alice@example.com",
            "0.00",
            "--note",
            "x",
        ],
    );
    assert!(
        err.contains("an adjustment of zero changes nothing"),
        "{err}"
    );
    // An adjustment says why.
    let out = itsp(&data, &["account", "adjust", "alice@example.com", "5"]);
    assert_eq!(out.status.code(), Some(2), "a usage error");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--note"));
    // Nothing of that moved the balance.
    let shown = admin_json(&data, &["account", "show", "alice@example.com"]);
    assert_eq!(shown["balance"], "0.00");
    assert_eq!(shown["last_entry"], 0);

    // Unknown subscribers, and errors as JSON with --json.
    let err = refused(&data, &["account", "set", "carol@example.com", "--prepaid"]);
    assert!(err.contains("no such user: carol@example.com"), "{err}");
    let err = refused(&data, &["account", "topup", "carol@example.com", "5"]);
    assert!(err.contains("no such user: carol@example.com"), "{err}");
    let out = itsp(
        &data,
        &["account", "topup", "carol@example.com", "5", "--json"],
    );
    assert_eq!(out.status.code(), Some(1));
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        answer,
        json!({ "ok": false, "error": "no such user: carol@example.com" })
    );
    let out = itsp(
        &data,
        &["account", "topup", "alice@example.com", "1,50", "--json"],
    );
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        answer["error"],
        "AMOUNT: `1,50` is not a decimal number like 12.50"
    );
    let err = refused(&data, &["account", "show", "not-an-address"]);
    assert!(err.contains("user@domain"), "{err}");
    // The kind is required, once.
    let out = itsp(&data, &["account", "set", "alice@example.com"]);
    assert_eq!(out.status.code(), Some(2));
    let out = itsp(
        &data,
        &[
            "account",
            "set",
            "alice@example.com",
            "--prepaid",
            "--postpaid",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = refused(
        &data,
        &[
            "account",
            "set",
            "alice@example.com",
            "--prepaid",
            "--currency",
            "EURO",
        ],
    );
    assert!(err.contains("three letters"), "{err}");
}

#[test]
fn a_new_account_takes_its_plans_currency() {
    let data = DataDir::with_users(&[("alice", "a"), ("bob", "b")]);
    let files = tempfile::tempdir().unwrap();
    let rates = files.path().join("mobile.csv");
    std::fs::write(&rates, "46,Sweden,0,0.50,60,60\n").unwrap();
    let rates = rates.display().to_string();
    stdout(&itsp(
        &data,
        &[
            "rate",
            "import",
            &rates,
            "--plan",
            "mobile",
            "--currency",
            "SEK",
        ],
    ));
    let opened = admin_json(
        &data,
        &[
            "account",
            "set",
            "alice@example.com",
            "--prepaid",
            "--plan",
            "mobile",
        ],
    );
    assert_eq!(opened["currency"], "SEK");
    assert_eq!(opened["plan"], "mobile");
    // A change without --plan keeps it; a currency other than the plan's is refused.
    let changed = admin_json(
        &data,
        &["account", "set", "alice@example.com", "--postpaid"],
    );
    assert_eq!(changed["plan"], "mobile");
    assert_eq!(changed["currency"], "SEK");
    let err = refused(
        &data,
        &[
            "account",
            "set",
            "alice@example.com",
            "--prepaid",
            "--currency",
            "EUR",
        ],
    );
    assert!(err.contains("plan mobile prices in SEK"), "{err}");
    // A plan not imported yet: EUR, and a word about importing it.
    let said = stdout(&itsp(
        &data,
        &[
            "account",
            "set",
            "bob@example.com",
            "--prepaid",
            "--plan",
            "gold",
        ],
    ));
    assert!(
        said.contains("in EUR, plan gold") && said.contains("itsp rate import FILE --plan gold"),
        "{said}"
    );
    // The currency of an account with money on it stays.
    admin_json(&data, &["account", "topup", "bob@example.com", "3"]);
    let err = refused(
        &data,
        &[
            "account",
            "set",
            "bob@example.com",
            "--prepaid",
            "--currency",
            "USD",
        ],
    );
    assert!(
        err.contains("cannot change the currency of account bob@example.com")
            && err.contains("3.00 EUR"),
        "{err}"
    );
}

#[test]
fn help_shows_examples() {
    let data = DataDir::with_users(&[]);
    let help = stdout(&itsp(&data, &["account", "--help"]));
    assert!(
        help.contains("Examples:") && help.contains("itsp account topup alice@example.com 20.00"),
        "{help}"
    );
    let help = stdout(&itsp(&data, &["account", "adjust", "--help"]));
    assert!(help.contains("-5.00"), "{help}");
}

#[test]
fn a_long_history_streams_across_pages() {
    let data = DataDir::with_users(&[("alice", "a")]);
    admin_json(&data, &["account", "set", "alice@example.com", "--prepaid"]);
    // 2,345 slices of calls, as the server writes them (more than two pages).
    let alice = store::Address::parse("alice@example.com").unwrap();
    let entries: Vec<store::NewEntry> = (0..2_345_i64)
        .map(|i| store::NewEntry {
            address: alice.clone(),
            at_ms: 1_796_083_200_000 + i * 1_000,
            kind: store::EntryKind::Debit,
            amount: billing::Decimal::new(-1, 2),
            call_id: Some(format!("call-{i}")),
            note: None,
        })
        .collect();
    common::block_on(async {
        let s = store::Store::open(&common::sqlite_url(data.path()))
            .await
            .unwrap();
        s.append_ledger(&entries).await.unwrap();
        s.close().await;
    });
    let all = admin_json(&data, &["account", "history", "alice@example.com"]);
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 2_345);
    assert_eq!(
        all[1_000]["call_id"], "call-1000",
        "across the page boundary"
    );
    assert_eq!(all[2_344]["balance_after"], "-23.45");
    let newest = admin_json(
        &data,
        &["account", "history", "alice@example.com", "--limit", "3"],
    );
    let calls: Vec<&str> = newest
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["call_id"].as_str().unwrap())
        .collect();
    assert_eq!(calls, ["call-2342", "call-2343", "call-2344"]);
    let table = stdout(&itsp(&data, &["account", "history", "alice@example.com"]));
    assert_eq!(
        table.lines().count(),
        2_346,
        "a header and a line per entry"
    );
    assert_eq!(
        admin_json(&data, &["account", "show", "alice@example.com"])["balance"],
        "-23.45"
    );
}

#[test]
fn account_check_finds_a_balance_that_is_not_the_sum_of_its_ledger() {
    let data = DataDir::with_users(&[("alice", "a-secret")]);
    stdout(&itsp(
        &data,
        &["account", "set", "alice@example.com", "--prepaid"],
    ));
    stdout(&itsp(
        &data,
        &["account", "topup", "alice@example.com", "10.00"],
    ));
    stdout(&itsp(
        &data,
        &[
            "account",
            "adjust",
            "alice@example.com",
            "-2.50",
            "--note",
            "refund",
        ],
    ));
    let agrees = stdout(&itsp(&data, &["account", "check"]));
    assert!(
        agrees.starts_with("the money agrees: 1 account, 2 ledger entries"),
        "{agrees}"
    );
    let report = admin_json(&data, &["account", "check"]);
    assert_eq!(report["ok"], true);
    assert_eq!(report["findings"], json!([]));

    // Damage the database behind the server's back: a cached balance and a running
    // balance that no entry made.
    let db = data.path().join("itsp.db");
    let sql = "UPDATE accounts SET balance = '99.00';
               UPDATE ledger SET balance_after = '11.00' WHERE kind = 'top_up';";
    let status = Command::new("sqlite3").arg(&db).arg(sql).status().unwrap();
    assert!(
        status.success(),
        "sqlite3 could not change {}",
        db.display()
    );
    let out = itsp(&data, &["account", "check"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a disagreement is exit status 1"
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("the cached balance is 99.00 but the ledger sums to 7.50"),
        "{text}"
    );
    assert!(text.contains("running_balance"), "{text}");
    assert!(text.contains("2 disagreements in 1 account,"), "{text}");
    let out = itsp(&data, &["account", "check", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], false);
    let kinds: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["running_balance", "balance"], "{report:#}");
    assert_eq!(report["findings"][1]["user"], "alice@example.com");
}
