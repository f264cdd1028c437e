//! Behaviours of accounts and their ledger, run by the suite on every backend.

use std::str::FromStr;

use rust_decimal::Decimal;
use store::{AccountKind, Address, EntryKind, NewEntry, Store, StoreError};

use super::suite::{addr, answered_cdr, example_com_with, WriterJob};

fn d(text: &str) -> Decimal {
    Decimal::from_str(text).unwrap()
}

fn top_up(who: &str, at_ms: i64, amount: &str) -> NewEntry {
    NewEntry {
        address: addr(who),
        at_ms,
        kind: EntryKind::TopUp,
        amount: d(amount),
        call_id: None,
        note: None,
    }
}

fn on_call(who: &str, kind: EntryKind, amount: &str, call_id: &str) -> NewEntry {
    NewEntry {
        address: addr(who),
        at_ms: 5_000,
        kind,
        amount: d(amount),
        call_id: Some(call_id.to_owned()),
        note: None,
    }
}

async fn balance(s: &Store, who: &str) -> Decimal {
    s.account(&addr(who)).await.unwrap().unwrap().balance
}

/// Accounts opened, changed and listed; the currency kept while money is on the account;
/// closed only at zero, with the ledger; deleted with the subscriber, as preferences and
/// voicemail are.
pub async fn accounts(s: Store) {
    example_com_with(&s, &["alice", "bob"]).await;
    let alice = addr("alice@example.com");
    assert_eq!(s.account(&alice).await.unwrap(), None);
    assert!(s.accounts().await.unwrap().is_empty());
    let a = s
        .set_account(&alice, AccountKind::Prepaid, None, "EUR", 1_000)
        .await
        .unwrap();
    assert_eq!(a.address, alice);
    assert_eq!(a.kind, AccountKind::Prepaid);
    assert_eq!((a.plan, a.currency.as_str()), (None, "EUR"));
    assert_eq!((a.balance, a.low_balance, a.last_entry), (d("0"), None, 0));
    assert_eq!(a.created_ms, 1_000);
    // The domain as typed is the subscriber's.
    let bob = Address {
        user: "bob".into(),
        domain: "Example.COM.".into(),
    };
    s.set_account(&bob, AccountKind::Postpaid, Some("mobile"), "SEK", 2_000)
        .await
        .unwrap();
    let all = s.accounts().await.unwrap();
    let names: Vec<String> = all.iter().map(|a| a.address.to_string()).collect();
    assert_eq!(names, ["alice@example.com", "bob@example.com"]);
    assert_eq!(all[1].plan.as_deref(), Some("mobile"));

    // Refusals.
    let carol = addr("carol@example.com");
    let e = s
        .set_account(&carol, AccountKind::Prepaid, None, "EUR", 1)
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::NoSuchUser(_)), "{e}");
    for bad in ["eur", "EURO", "E1R", ""] {
        let e = s
            .set_account(&alice, AccountKind::Prepaid, None, bad, 1)
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::BadAccount(_)), "{bad}: {e}");
    }
    let e = s
        .set_account(&alice, AccountKind::Prepaid, Some(""), "EUR", 1)
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::BadAccount(_)), "{e}");

    // A change keeps the money and the history; the currency waits for a zero balance.
    s.append_ledger(&[top_up("alice@example.com", 3_000, "10.00")])
        .await
        .unwrap();
    let changed = s
        .set_account(&alice, AccountKind::Postpaid, Some("gold"), "EUR", 9_999)
        .await
        .unwrap();
    assert_eq!(changed.kind, AccountKind::Postpaid);
    assert_eq!(changed.plan.as_deref(), Some("gold"));
    assert_eq!(changed.balance, d("10"));
    assert_eq!(changed.created_ms, 1_000, "still the account opened first");
    let e = s
        .set_account(&alice, AccountKind::Postpaid, Some("gold"), "USD", 1)
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("balance is 10.00 EUR, not zero"),
        "{e}"
    );
    assert_eq!(s.account(&alice).await.unwrap().unwrap().currency, "EUR");
    s.set_account(&bob, AccountKind::Postpaid, None, "NOK", 1)
        .await
        .unwrap();
    assert_eq!(s.account(&bob).await.unwrap().unwrap().currency, "NOK");

    // The low-balance threshold.
    s.set_low_balance(&alice, Some(d("2.50"))).await.unwrap();
    assert_eq!(
        s.account(&alice).await.unwrap().unwrap().low_balance,
        Some(d("2.50"))
    );
    s.set_low_balance(&alice, None).await.unwrap();
    assert_eq!(s.account(&alice).await.unwrap().unwrap().low_balance, None);
    assert!(matches!(
        s.set_low_balance(&alice, Some(d("-1"))).await,
        Err(StoreError::BadAccount(_))
    ));
    assert!(matches!(
        s.set_low_balance(&carol, Some(d("1"))).await,
        Err(StoreError::NoSuchAccount(_))
    ));

    // Closing: refused with money on it, then at zero with its ledger.
    let e = s.remove_account(&alice).await.unwrap_err();
    assert!(
        matches!(e, StoreError::AccountNotZero { .. }) && e.to_string().contains("remove"),
        "{e}"
    );
    assert_eq!(s.ledger(&alice, None, 10).await.unwrap().len(), 1);
    let mut zero = top_up("alice@example.com", 4_000, "-10.00");
    zero.kind = EntryKind::Adjustment;
    zero.note = Some("refunded by bank transfer".into());
    s.append_ledger(&[zero]).await.unwrap();
    assert!(s.remove_account(&alice).await.unwrap());
    assert_eq!(s.account(&alice).await.unwrap(), None);
    assert!(matches!(
        s.ledger(&alice, None, 10).await,
        Err(StoreError::NoSuchAccount(_))
    ));
    assert!(!s.remove_account(&alice).await.unwrap());
    assert!(matches!(
        s.remove_account(&carol).await,
        Err(StoreError::NoSuchUser(_))
    ));
    // Opened again: a new account, no history.
    let again = s
        .set_account(&alice, AccountKind::Prepaid, None, "EUR", 5_000)
        .await
        .unwrap();
    assert_eq!((again.balance, again.last_entry), (d("0"), 0));
    assert!(s.ledger(&alice, None, 10).await.unwrap().is_empty());

    // Removing the subscriber removes the account and its ledger, whatever the balance
    // (as its preferences and voicemail go); the same name later starts afresh.
    s.append_ledger(&[top_up("bob@example.com", 6_000, "3")])
        .await
        .unwrap();
    s.remove_subscriber("bob", "example.com").await.unwrap();
    assert_eq!(s.account(&bob).await.unwrap(), None);
    assert_eq!(s.accounts().await.unwrap().len(), 1);
    s.add_subscriber("bob", "example.com", "pw", None)
        .await
        .unwrap();
    assert_eq!(s.account(&bob).await.unwrap(), None);
    s.set_account(&bob, AccountKind::Prepaid, None, "EUR", 7_000)
        .await
        .unwrap();
    assert!(s.ledger(&bob, None, 10).await.unwrap().is_empty());
    assert_eq!(balance(&s, "bob@example.com").await, d("0"));
}

/// The ledger: exact decimal sums, the balance after each entry, a batch all or nothing,
/// pages after a cursor, what a call has taken.
pub async fn ledger(s: Store) {
    example_com_with(&s, &["alice", "bob", "carol"]).await;
    for who in ["alice@example.com", "bob@example.com"] {
        s.set_account(&addr(who), AccountKind::Prepaid, None, "EUR", 1_000)
            .await
            .unwrap();
    }
    let alice = addr("alice@example.com");
    // 0.1 + 0.2 is 0.3, exactly.
    let stored = s
        .append_ledger(&[
            top_up("alice@example.com", 2_000, "0.1"),
            top_up("alice@example.com", 2_001, "0.2"),
        ])
        .await
        .unwrap();
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[0].balance_after, d("0.1"));
    assert_eq!(stored[1].balance_after.to_string(), "0.3");
    assert!(stored[1].id > stored[0].id);
    let a = s.account(&alice).await.unwrap().unwrap();
    assert_eq!(a.balance.to_string(), "0.3");
    assert_eq!(a.last_entry, stored[1].id);
    // Ten top-ups of 0.01, one at a time: 0.10 more.
    for i in 0..10 {
        s.append_ledger(&[top_up("bob@example.com", 3_000 + i, "0.01")])
            .await
            .unwrap();
    }
    assert_eq!(balance(&s, "bob@example.com").await.to_string(), "0.10");

    // A call's slices and its settlement, and a batch over two accounts.
    let stored = s
        .append_ledger(&[
            on_call("alice@example.com", EntryKind::Debit, "-0.10", "call-1"),
            on_call("bob@example.com", EntryKind::Debit, "-0.05", "call-2"),
            on_call("alice@example.com", EntryKind::Debit, "-0.10", "call-1"),
            on_call("alice@example.com", EntryKind::Settlement, "0.07", "call-1"),
        ])
        .await
        .unwrap();
    let afters: Vec<String> = stored.iter().map(|e| e.balance_after.to_string()).collect();
    assert_eq!(afters, ["0.20", "0.05", "0.10", "0.17"]);
    assert_eq!(stored[1].address, addr("bob@example.com"));
    assert_eq!(balance(&s, "alice@example.com").await, d("0.17"));
    assert_eq!(balance(&s, "bob@example.com").await, d("0.05"));
    assert_eq!(s.call_debits("call-1").await.unwrap(), d("-0.13"));
    assert_eq!(s.call_debits("call-2").await.unwrap(), d("-0.05"));
    assert_eq!(s.call_debits("call-9").await.unwrap(), d("0"));
    // A charge is not a debit of a prepaid call.
    s.append_ledger(&[on_call(
        "bob@example.com",
        EntryKind::Charge,
        "-0.01",
        "call-2",
    )])
    .await
    .unwrap();
    assert_eq!(s.call_debits("call-2").await.unwrap(), d("-0.05"));

    // All or nothing: a bad entry, or one for an account that does not exist, and the
    // good ones before it are not written either.
    let before = s.ledger(&alice, None, 1000).await.unwrap();
    let e = s
        .append_ledger(&[
            top_up("alice@example.com", 8_000, "5"),
            top_up("bob@example.com", 8_000, "-5"),
        ])
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("bob@example.com") && e.to_string().contains("positive"),
        "{e}"
    );
    let e = s
        .append_ledger(&[
            top_up("alice@example.com", 8_000, "5"),
            top_up("carol@example.com", 8_000, "5"),
        ])
        .await
        .unwrap_err();
    assert!(
        matches!(&e, StoreError::NoSuchAccount(a) if a == "carol@example.com"),
        "{e}"
    );
    let e = s
        .append_ledger(&[top_up("dave@example.com", 8_000, "5")])
        .await
        .unwrap_err();
    assert!(e.to_string().contains("dave@example.com"), "{e}");
    let mut overflow = top_up("alice@example.com", 8_000, "1");
    overflow.amount = Decimal::MAX;
    let e = s
        .append_ledger(&[overflow.clone(), overflow])
        .await
        .unwrap_err();
    assert!(e.to_string().contains("out of range"), "{e}");
    assert_eq!(s.ledger(&alice, None, 1000).await.unwrap(), before);
    assert_eq!(balance(&s, "alice@example.com").await, d("0.17"));
    assert!(s.append_ledger(&[]).await.unwrap().is_empty());

    // Pages, oldest first; the balance is the sum of the amounts.
    let batch: Vec<NewEntry> = (0..25)
        .map(|i| top_up("alice@example.com", 10_000 + i, "1.005"))
        .collect();
    s.append_ledger(&batch).await.unwrap();
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let page = s.ledger(&alice, after, 7).await.unwrap();
        assert!(page.len() <= 7);
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        all.extend(page);
    }
    assert_eq!(all.len(), 30);
    assert!(all.windows(2).all(|w| w[0].id < w[1].id));
    let sum: Decimal = all.iter().map(|e| e.amount).sum();
    assert_eq!(sum, d("25.295"));
    assert_eq!(balance(&s, "alice@example.com").await, sum);
    assert_eq!(all.last().unwrap().balance_after, sum);
    assert_eq!(all[2].kind, EntryKind::Debit);
    assert_eq!(all[2].call_id.as_deref(), Some("call-1"));
}

/// Batches of several writers at once on one account: every one counts (the account's
/// row is locked while a batch reads and moves it).
pub async fn ledger_concurrent(s: Store) {
    example_com_with(&s, &["alice"]).await;
    s.set_account(
        &addr("alice@example.com"),
        AccountKind::Prepaid,
        None,
        "EUR",
        1,
    )
    .await
    .unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|t| {
            let s = s.clone();
            tokio::spawn(async move {
                for i in 0..10 {
                    s.append_ledger(&[
                        top_up("alice@example.com", t * 100 + i, "0.25"),
                        on_call("alice@example.com", EntryKind::Debit, "-0.05", "c"),
                    ])
                    .await
                    .unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(balance(&s, "alice@example.com").await, d("16.00"));
    let entries = s
        .ledger(&addr("alice@example.com"), None, 1000)
        .await
        .unwrap();
    assert_eq!(entries.len(), 160);
    let mut running = Decimal::ZERO;
    for e in &entries {
        running += e.amount;
        assert_eq!(e.balance_after, running, "entry {}", e.id);
    }
}

/// The server's writer: ledger entries alone, and call records with their charges in one
/// transaction (a bad record writes no charge, a charge to no account writes no record).
pub async fn ledger_writer(s: Store) {
    use store::CdrFilter;
    example_com_with(&s, &["alice"]).await;
    s.set_account(
        &addr("alice@example.com"),
        AccountKind::Postpaid,
        None,
        "EUR",
        1,
    )
    .await
    .unwrap();
    let writer = std::sync::Arc::new(std::sync::Mutex::new(
        s.writer(tokio::runtime::Handle::current(), store::Durability::Disk)
            .unwrap(),
    ));
    let run = |job: WriterJob| {
        let writer = writer.clone();
        async move {
            tokio::task::spawn_blocking(move || job(&mut writer.lock().unwrap()))
                .await
                .unwrap()
        }
    };
    run(Box::new(|w| {
        let stored = w.append_ledger(&[top_up("alice@example.com", 1_000, "20.00")])?;
        assert_eq!(stored[0].balance_after, d("20"));
        assert_eq!(stored[0].kind, EntryKind::TopUp);
        Ok(())
    }))
    .await
    .unwrap();

    // A record and its charge, together; its call leaves the live-call list with them.
    s.write_calls(&[store::CallWrite::Upsert(store::Call {
        call_id: "w1".into(),
        from_tag: "f".into(),
        to_tag: Some("t".into()),
        state: store::CallState::Confirmed,
        caller: "sip:alice@example.com".into(),
        callee: "sip:bob@example.com".into(),
        source_ip: None,
        started_ms: 10_000,
        answered_ms: Some(11_000),
        node: "n1".into(),
    })])
    .await
    .unwrap();
    let cdr = answered_cdr("w1", 10_000);
    let charge = on_call("alice@example.com", EntryKind::Charge, "-0.89", "w1");
    let (c, e) = (cdr.clone(), charge.clone());
    run(Box::new(move |w| w.record_cdrs_with_ledger(&[c], &[e])))
        .await
        .unwrap();
    assert_eq!(
        s.cdrs(&CdrFilter::default(), None, 10).await.unwrap().len(),
        1
    );
    assert_eq!(balance(&s, "alice@example.com").await, d("19.11"));
    assert!(
        s.calls().await.unwrap().is_empty(),
        "recorded: no longer live"
    );

    // A bad record: no charge either.
    let mut bad = answered_cdr("w2", 20_000);
    bad.end_ms = 19_000;
    let e = on_call("alice@example.com", EntryKind::Charge, "-1.00", "w2");
    let err = run(Box::new(move |w| w.record_cdrs_with_ledger(&[bad], &[e])))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("end before start"), "{err}");
    // A charge to nobody's account: no record either.
    let (c, e) = (
        answered_cdr("w3", 30_000),
        on_call("zed@example.com", EntryKind::Charge, "-1.00", "w3"),
    );
    let err = run(Box::new(move |w| w.record_cdrs_with_ledger(&[c], &[e])))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("zed@example.com"), "{err}");
    // A good record with a charge that breaks its rules: nothing.
    let (c, e) = (
        answered_cdr("w4", 40_000),
        on_call("alice@example.com", EntryKind::Charge, "1.00", "w4"),
    );
    let err = run(Box::new(move |w| w.record_cdrs_with_ledger(&[c], &[e])))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("zero or negative"), "{err}");
    assert_eq!(
        s.cdrs(&CdrFilter::default(), None, 10).await.unwrap().len(),
        1
    );
    assert_eq!(
        s.ledger(&addr("alice@example.com"), None, 10)
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(balance(&s, "alice@example.com").await, d("19.11"));

    // The pool's own version writes the same.
    s.record_cdrs_with_ledger(
        &[answered_cdr("p1", 50_000)],
        &[on_call(
            "alice@example.com",
            EntryKind::Charge,
            "-0.11",
            "p1",
        )],
    )
    .await
    .unwrap();
    let mut bad = answered_cdr("p2", 60_000);
    bad.code = 99;
    assert!(s
        .record_cdrs_with_ledger(
            &[bad],
            &[on_call("alice@example.com", EntryKind::Charge, "-5", "p2")]
        )
        .await
        .is_err());
    assert_eq!(balance(&s, "alice@example.com").await, d("19.00"));
    let calls: Vec<String> = s
        .cdrs(&CdrFilter::default(), None, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.cdr.call_id)
        .collect();
    assert_eq!(calls, ["w1", "p1"]);
}

fn adjust(who: &str, amount: &str) -> NewEntry {
    NewEntry {
        address: addr(who),
        at_ms: 7_000,
        kind: EntryKind::Adjustment,
        amount: d(amount),
        call_id: None,
        note: Some("test".into()),
    }
}

/// Low-balance notices: one per crossing (a further fall claims nothing, a top-up above
/// and a fall again claim the next), a new threshold judged at once, accounts without a
/// threshold never, and two stores judging at once claim one notice between them.
pub async fn low_balance_notices(s: Store) {
    example_com_with(&s, &["alice", "bob", "carol"]).await;
    let alice = addr("alice@example.com");
    for who in ["alice@example.com", "bob@example.com", "carol@example.com"] {
        s.set_account(&addr(who), AccountKind::Prepaid, None, "EUR", 1)
            .await
            .unwrap();
        s.append_ledger(&[top_up(who, 2_000, "1.50")])
            .await
            .unwrap();
    }
    s.set_low_balance(&alice, Some(d("1.00"))).await.unwrap();
    s.set_low_balance(&addr("bob@example.com"), Some(d("1.00")))
        .await
        .unwrap();
    // At 1.50 nobody is below.
    assert!(s.claim_low_balance_notices(100).await.unwrap().is_empty());
    s.append_ledger(&[adjust("alice@example.com", "-1.00")])
        .await
        .unwrap();
    // carol has no threshold: never judged.
    s.append_ledger(&[adjust("carol@example.com", "-1.50")])
        .await
        .unwrap();
    let claimed = s.claim_low_balance_notices(100).await.unwrap();
    assert_eq!(claimed.len(), 1, "{claimed:?}");
    assert_eq!(claimed[0].address, alice);
    assert_eq!(
        (
            claimed[0].balance,
            claimed[0].threshold,
            claimed[0].currency.as_str()
        ),
        (d("0.50"), d("1.00"), "EUR")
    );
    assert!(s.claim_low_balance_notices(100).await.unwrap().is_empty());
    // Further down: the same crossing.
    s.append_ledger(&[adjust("alice@example.com", "-0.20")])
        .await
        .unwrap();
    assert!(s.claim_low_balance_notices(100).await.unwrap().is_empty());
    // Exactly at the threshold is not below: the next fall is a new crossing.
    s.append_ledger(&[top_up("alice@example.com", 8_000, "0.70")])
        .await
        .unwrap();
    assert!(s.claim_low_balance_notices(100).await.unwrap().is_empty());
    s.append_ledger(&[adjust("alice@example.com", "-0.01")])
        .await
        .unwrap();
    let claimed = s.claim_low_balance_notices(100).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].balance, d("0.99"));
    // A threshold raised above bob's balance is judged without a ledger entry.
    s.set_low_balance(&addr("bob@example.com"), Some(d("2.00")))
        .await
        .unwrap();
    let claimed = s.claim_low_balance_notices(100).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].address, addr("bob@example.com"));
    // Two judges at once (two nodes): one notice.
    s.append_ledger(&[top_up("alice@example.com", 9_000, "5")])
        .await
        .unwrap();
    assert!(s.claim_low_balance_notices(100).await.unwrap().is_empty());
    s.append_ledger(&[adjust("alice@example.com", "-5")])
        .await
        .unwrap();
    let (a, b) = tokio::join!(
        s.claim_low_balance_notices(100),
        s.claim_low_balance_notices(100)
    );
    assert_eq!(a.unwrap().len() + b.unwrap().len(), 1);
}

/// The money's consistency check: agreeing ledgers, records and running calls pass; a
/// priced record without its charge, money for a call with neither record nor live row,
/// and a record costing other than what its slices took are each reported once.
pub async fn ledger_audit(s: Store) {
    use store::{CallWrite, Charge, Finding};
    example_com_with(&s, &["alice", "bob", "carol"]).await;
    let audit = s.audit_ledger().await.unwrap();
    assert_eq!((audit.accounts, audit.entries), (0, 0));
    assert!(audit.findings.is_empty());

    s.set_account(
        &addr("alice@example.com"),
        AccountKind::Prepaid,
        None,
        "EUR",
        1_000,
    )
    .await
    .unwrap();
    s.set_account(
        &addr("bob@example.com"),
        AccountKind::Postpaid,
        None,
        "EUR",
        1_000,
    )
    .await
    .unwrap();
    s.append_ledger(&[top_up("alice@example.com", 2_000, "5.00")])
        .await
        .unwrap();
    let priced = |call_id: &str, caller: &str, cost: &str| {
        let mut cdr = super::suite::answered_cdr(call_id, 10_000);
        cdr.caller_user = Some(caller.to_owned());
        cdr.caller_domain = Some("example.com".to_owned());
        cdr.charge = Some(Charge {
            plan: "default".into(),
            cost: cost.into(),
            currency: "EUR".into(),
        });
        cdr
    };
    // Alice's prepaid call: two slices, a refund, the record costing what is left.
    s.record_cdrs_with_ledger(
        &[priced("p1", "alice", "0.75")],
        &[
            on_call("alice@example.com", EntryKind::Debit, "-0.60", "p1"),
            on_call("alice@example.com", EntryKind::Debit, "-0.60", "p1"),
            on_call("alice@example.com", EntryKind::Settlement, "0.45", "p1"),
        ],
    )
    .await
    .unwrap();
    // Bob's postpaid call, charged with its record.
    s.record_cdrs_with_ledger(
        &[priced("q1", "bob", "1.20")],
        &[on_call("bob@example.com", EntryKind::Charge, "-1.20", "q1")],
    )
    .await
    .unwrap();
    // Alice's call still running: its first slice taken, no record yet.
    s.write_calls(&[CallWrite::Upsert(super::call("live-1", "f", 20_000, "n1"))])
        .await
        .unwrap();
    s.append_ledger(&[on_call(
        "alice@example.com",
        EntryKind::Debit,
        "-0.60",
        "live-1",
    )])
    .await
    .unwrap();
    // Carol has no account: her priced record is nobody's money.
    s.record_cdrs(&[priced("c1", "carol", "0.30")])
        .await
        .unwrap();
    let audit = s.audit_ledger().await.unwrap();
    assert_eq!(audit.findings, [], "{audit:?}");
    assert_eq!(
        (audit.accounts, audit.entries, audit.calls, audit.running),
        (2, 6, 2, 1)
    );

    // A priced record of bob's whose charge was lost; money for a call that is neither
    // recorded nor running; a record costing more than its slices took.
    s.record_cdrs(&[priced("q2", "bob", "2.00")]).await.unwrap();
    s.append_ledger(&[on_call(
        "alice@example.com",
        EntryKind::Debit,
        "-0.60",
        "gone",
    )])
    .await
    .unwrap();
    s.record_cdrs_with_ledger(
        &[priced("p2", "alice", "0.90")],
        &[on_call(
            "alice@example.com",
            EntryKind::Debit,
            "-0.60",
            "p2",
        )],
    )
    .await
    .unwrap();
    let audit = s.audit_ledger().await.unwrap();
    let alice = addr("alice@example.com");
    let bob = addr("bob@example.com");
    assert_eq!(
        audit.findings,
        [
            Finding::MoneyWithoutRecord {
                address: alice.clone(),
                call_id: "gone".into(),
                taken: d("0.60"),
            },
            Finding::CostDiffers {
                address: alice,
                call_id: "p2".into(),
                taken: d("0.60"),
                cost: d("0.90"),
            },
            Finding::CostDiffers {
                address: bob,
                call_id: "q2".into(),
                taken: d("0"),
                cost: d("2.00"),
            },
        ],
        "{audit:?}"
    );
    assert_eq!(audit.findings[0].kind(), "money_without_record");
    assert!(audit.findings[1].to_string().contains("took 0.60"));
}
