//! `itsp invoice` as an operator uses it, on a month of rated calls written through the
//! store (as the server writes them: each postpaid call's record with its ledger charge in
//! one transaction): one invoice per postpaid account with calls, whose total is the sum of
//! its November rated calls plus the tax, to the digit; lines by the plan's destinations;
//! the PDF opens and `pdftotext` finds the total; the HTML too; a second run issues
//! nothing; a ledger that disagrees with the calls gets a warning naming both figures;
//! `list --json` and `show --json` shapes; bad arguments.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::{Command, Output};

use billing::Decimal;
use common::{admin_json, block_on, DataDir};
use store::{AccountKind, Address, Cdr, Charge, Disposition, EntryKind, HungUpBy, NewEntry};

/// 2026-11-01T00:00:00Z, in milliseconds.
const NOVEMBER: i64 = 1_793_491_200_000;
/// 2026-12-01T00:00:00Z, in milliseconds.
const DECEMBER: i64 = 1_796_083_200_000;
const DAY: i64 = 86_400_000;

fn itsp(data: &DataDir, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_itsp"))
        .args(args)
        .args(["--data-dir", &data.path_str()])
        .env_remove("ITSP_DB")
        .output()
        .unwrap()
}

fn addr(text: &str) -> Address {
    Address::parse(text).unwrap()
}

/// An answered call from `caller` to `number`, started at `start_ms`, talking `secs`,
/// rated at `cost` EUR by plan `default` (`None`: not rated).
fn call(id: &str, caller: &str, number: &str, start_ms: i64, secs: i64, cost: Option<&str>) -> Cdr {
    let (user, domain) = caller.split_once('@').unwrap();
    let answer_ms = start_ms + 3_000;
    Cdr {
        call_id: id.into(),
        from_tag: "f".into(),
        to_tag: Some("t".into()),
        caller_user: Some(user.into()),
        caller_domain: Some(domain.into()),
        caller_uri: format!("sip:{caller}"),
        source_ip: Some("192.0.2.7".into()),
        dialled_uri: format!("sip:{number}@example.com"),
        callee_user: Some(number.into()),
        callee_domain: Some("example.com".into()),
        answered_by: Some("sip:gw@192.0.2.9".into()),
        start_ms,
        answer_ms: Some(answer_ms),
        end_ms: answer_ms + secs * 1000,
        disposition: Disposition::Answered,
        code: 200,
        reason: Some("OK".into()),
        hung_up_by: Some(HungUpBy::Caller),
        end_reason: None,
        node: "n1".into(),
        charge: cost.map(|c| Charge {
            plan: "default".into(),
            cost: c.into(),
            currency: "EUR".into(),
        }),
        media: None,
    }
}

/// The postpaid charge the server books with `cdr`.
fn charge(cdr: &Cdr, caller: &str) -> NewEntry {
    let cost: Decimal = cdr.charge.as_ref().unwrap().cost.parse().unwrap();
    NewEntry {
        address: addr(caller),
        at_ms: cdr.end_ms,
        kind: EntryKind::Charge,
        amount: -cost,
        call_id: Some(cdr.call_id.clone()),
        note: None,
    }
}

#[test]
fn a_month_of_postpaid_calls_is_invoiced_once_with_its_pdf() {
    if Command::new("pdftotext").arg("-v").output().is_err() {
        panic!("pdftotext is missing: install Debian's poppler-utils (scripts/install-test-deps.sh poppler-utils)");
    }
    let data = DataDir::with_users(&[("alice", "a"), ("bob", "b"), ("carol", "c"), ("dave", "d")]);
    let files = tempfile::tempdir().unwrap();
    let rates = files.path().join("rates.csv");
    std::fs::write(
        &rates,
        "46,Sweden,0,0.10,60,60\n468,Stockholm,0.05,0.40,30,6\n",
    )
    .unwrap();
    let out = itsp(&data, &["rate", "import", &rates.display().to_string()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let alice = "alice@example.com";
    // Alice's November: two calls to Stockholm, one to Sweden, one unrated (to a name).
    let november = [
        call(
            "n1",
            alice,
            "+46812345",
            NOVEMBER + 2 * DAY,
            125,
            Some("0.89"),
        ),
        call(
            "n2",
            alice,
            "+46812399",
            NOVEMBER + 9 * DAY,
            7,
            Some("0.0958"),
        ),
        call(
            "n3",
            alice,
            "+4670123",
            NOVEMBER + 20 * DAY,
            60,
            Some("0.10"),
        ),
        call("n4", alice, "bob", NOVEMBER + 21 * DAY, 30, None),
    ];
    // Not hers in November: a call of hers that starts in December (one second after
    // November ended), a call to her, and a call of bob's prepaid account.
    let december = call("d1", alice, "+46812345", DECEMBER, 60, Some("0.41"));
    let mut to_alice = call(
        "t1",
        "bob@example.com",
        "alice",
        NOVEMBER + DAY,
        60,
        Some("0.10"),
    );
    to_alice.callee_user = Some("alice".into());
    let prepaid = call(
        "p1",
        "bob@example.com",
        "+4670123",
        NOVEMBER + 3 * DAY,
        60,
        Some("0.10"),
    );
    // Dave's call whose charge is missing from the ledger (the warning below).
    let daves = call(
        "v1",
        "dave@example.com",
        "+4670123",
        NOVEMBER + 4 * DAY,
        60,
        Some("0.10"),
    );
    block_on(async {
        let s = store::Store::open(&data.url()).await.unwrap();
        for (who, kind) in [
            (alice, AccountKind::Postpaid),
            ("bob@example.com", AccountKind::Prepaid),
            ("carol@example.com", AccountKind::Postpaid),
            ("dave@example.com", AccountKind::Postpaid),
        ] {
            s.set_account(&addr(who), kind, None, "EUR", NOVEMBER)
                .await
                .unwrap();
        }
        let mut records: Vec<Cdr> = november.to_vec();
        records.extend([
            december.clone(),
            to_alice.clone(),
            prepaid.clone(),
            daves.clone(),
        ]);
        let charges: Vec<NewEntry> = november
            .iter()
            .chain([&december])
            .filter(|c| c.charge.is_some())
            .map(|c| charge(c, alice))
            .collect();
        s.record_cdrs_with_ledger(&records, &charges).await.unwrap();
        s.close().await;
    });
    let rated: Decimal = november
        .iter()
        .filter_map(|c| c.charge.as_ref())
        .map(|c| c.cost.parse::<Decimal>().unwrap())
        .sum();
    assert_eq!(rated.to_string(), "1.0858");

    let out = itsp(
        &data,
        &["invoice", "run", "--month", "2026-11", "--tax-rate", "0.25"],
    );
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}");
    assert!(
        said.contains(
            "alice@example.com: issued invoice 2026-11-0001 for 3 calls, total 1.3558 EUR"
        ),
        "{said}"
    );
    assert!(
        said.contains("carol@example.com: no rated calls in 2026-11, no invoice"),
        "{said}"
    );
    assert!(
        said.contains("dave@example.com: issued invoice 2026-11-0002 for 1 call"),
        "{said}"
    );
    assert!(
        said.contains("dave@example.com: the ledger's charges for the invoiced calls sum to 0.00 EUR, the invoice's subtotal (the calls' rated prices) is 0.10 EUR"),
        "{said}"
    );
    assert!(
        !said.contains("bob@example.com"),
        "a prepaid account is not invoiced: {said}"
    );
    assert!(
        !said.contains("warning: alice"),
        "alice's ledger agrees: {said}"
    );
    assert!(String::from_utf8_lossy(&out.stdout)
        .contains("2026-11: 2 invoices issued, 1 account skipped"));

    let list = admin_json(&data, &["invoice", "list", "--month", "2026-11"]);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    let first = &list[0];
    assert_eq!(first["number"], "2026-11-0001");
    assert_eq!(first["customer"], alice);
    assert_eq!(first["month"], "2026-11");
    assert_eq!(first["period_start"], "2026-11-01T00:00:00.000Z");
    assert_eq!(first["period_end"], "2026-12-01T00:00:00.000Z");
    assert_eq!(first["currency"], "EUR");
    assert_eq!(first["subtotal"], "1.0858");
    assert_eq!(first["tax_rate"], "0.25");
    // 1.0858 × 0.25 = 0.27145: rounded half up to the cent.
    assert_eq!(first["tax"], "0.27");
    let total: Decimal = first["total"].as_str().unwrap().parse().unwrap();
    let tax: Decimal = first["tax"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        total,
        rated + tax,
        "the total is the rated calls plus the tax, exactly"
    );
    assert_eq!(first["total"], "1.3558");
    assert!(first["issued"].as_str().unwrap().ends_with('Z'));

    // Shown with its lines by the plan's destinations; its documents written out.
    let pdf = files.path().join("invoice.pdf");
    let html = files.path().join("invoice.html");
    let shown = admin_json(
        &data,
        &[
            "invoice",
            "show",
            "2026-11-0001",
            "--pdf",
            &pdf.display().to_string(),
            "--html",
            &html.display().to_string(),
        ],
    );
    let lines: Vec<(String, u64, u64, String)> = shown["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["destination"].as_str().unwrap().to_owned(),
                l["calls"].as_u64().unwrap(),
                l["seconds"].as_u64().unwrap(),
                l["amount"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            ("Stockholm (+468)".to_owned(), 2, 132, "0.9858".to_owned()),
            ("Sweden (+46)".to_owned(), 1, 60, "0.10".to_owned()),
        ]
    );
    assert_eq!(shown["written"].as_array().unwrap().len(), 2);
    let bytes = std::fs::read(&pdf).unwrap();
    assert!(bytes.starts_with(b"%PDF-"), "not a PDF");
    let text = Command::new("pdftotext")
        .arg(&pdf)
        .arg("-")
        .output()
        .unwrap();
    assert!(
        text.status.success(),
        "{}",
        String::from_utf8_lossy(&text.stderr)
    );
    let text = String::from_utf8_lossy(&text.stdout);
    for needle in [
        "Invoice 2026-11-0001",
        alice,
        "Stockholm (+468)",
        "0.9858",
        "Subtotal",
        "1.0858",
        "Tax 25 %",
        "0.27",
        "Total EUR",
        "1.3558",
    ] {
        assert!(
            text.contains(needle),
            "{needle:?} not in the PDF's text:\n{text}"
        );
    }
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        page.starts_with("<!DOCTYPE html>")
            && page.contains("1.3558")
            && page.contains("Stockholm (+468)")
    );
    assert!(!page.contains("http"), "the page fetches nothing");
    let shown = itsp(&data, &["invoice", "show", "2026-11-0001"]);
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(
        shown.contains("total eur") && shown.contains("1.3558"),
        "{shown}"
    );

    // A second run issues nothing and says why.
    let again = itsp(
        &data,
        &["invoice", "run", "--month", "2026-11", "--tax-rate", "0.25"],
    );
    let said = String::from_utf8_lossy(&again.stderr);
    assert!(again.status.success(), "{said}");
    assert!(
        said.contains("alice@example.com: skipped, already invoiced for 2026-11 (2026-11-0001)"),
        "{said}"
    );
    assert!(String::from_utf8_lossy(&again.stdout).contains("0 invoices issued"));
    assert_eq!(
        admin_json(&data, &["invoice", "list"])
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let mine = admin_json(&data, &["invoice", "list", "--account", alice]);
    assert_eq!(mine.as_array().unwrap().len(), 1);

    // Bad input gets a clear answer and exit status 1.
    for (args, says) in [
        (
            &["invoice", "run", "--month", "2026-13"][..],
            "--month: `2026-13` is not a month like 2026-11",
        ),
        (
            &["invoice", "run", "--month", "2026-11", "--tax-rate", "25%"][..],
            "--tax-rate: `25%` is not a rate",
        ),
        (
            &[
                "invoice",
                "run",
                "--month",
                "2026-11",
                "--account",
                "bob@example.com",
            ][..],
            "prepaid account",
        ),
        (
            &["invoice", "show", "2026-11-0099"][..],
            "no such invoice: 2026-11-0099",
        ),
    ] {
        let out = itsp(&data, args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}
