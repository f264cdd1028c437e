//! Behaviours of issued invoices, run by the suite on every backend: numbers in sequence
//! per month without gaps, a second invoice of an account for the same period refused
//! (naming the first), all or nothing, kept when the subscriber goes. (The triggers that
//! refuse to change or delete one are tried on SQLite: `tests/sqlite.rs`.)

use std::str::FromStr;

use rust_decimal::Decimal;
use store::{Invoice, InvoiceDocuments, InvoiceFilter, InvoiceLine, NewInvoice, Store, StoreError};

use super::suite::{addr, example_com_with};

fn d(text: &str) -> Decimal {
    Decimal::from_str(text).unwrap()
}

/// 2026-11-01T00:00:00Z and 2026-12-01T00:00:00Z, in milliseconds.
const NOV: (i64, i64) = (1_793_491_200_000, 1_796_083_200_000);
const DEC_END: i64 = 1_798_761_600_000;

fn november(who: &str) -> NewInvoice {
    NewInvoice {
        address: addr(who),
        series: "2026-11".into(),
        period_start_ms: NOV.0,
        period_end_ms: NOV.1,
        currency: "EUR".into(),
        lines: vec![
            InvoiceLine {
                destination: "Stockholm (+468)".into(),
                prefix: "468".into(),
                calls: 2,
                seconds: 132,
                amount: d("0.9858"),
            },
            InvoiceLine {
                destination: "Sweden (+46)".into(),
                prefix: "46".into(),
                calls: 1,
                seconds: 60,
                amount: d("0.10"),
            },
        ],
        subtotal: d("1.0858"),
        tax_rate: d("0.25"),
        tax: d("0.27"),
        total: d("1.3558"),
        issued_ms: NOV.1 + 1_000,
    }
}

fn render(invoice: &Invoice, lines: &[InvoiceLine]) -> InvoiceDocuments {
    InvoiceDocuments {
        html: format!("<p>{} {} lines</p>", invoice.number, lines.len()),
        pdf: format!("%PDF {}", invoice.number).into_bytes(),
    }
}

/// Issued invoices: see the module docs.
pub async fn invoices(s: Store) {
    example_com_with(&s, &["alice", "bob", "carol", "dave"]).await;
    let first = s
        .issue_invoice(&november("alice@example.com"), render)
        .await
        .unwrap();
    assert_eq!(first.number, "2026-11-0001");
    assert_eq!(first.address, addr("alice@example.com"));
    let second = s
        .issue_invoice(&november("bob@Example.COM."), render)
        .await
        .unwrap();
    assert_eq!(second.number, "2026-11-0002");
    assert_eq!(second.address, addr("bob@example.com"));
    // Another month is another series.
    let mut dec = november("alice@example.com");
    dec.series = "2026-12".into();
    dec.period_start_ms = NOV.1;
    dec.period_end_ms = DEC_END;
    assert_eq!(
        s.issue_invoice(&dec, render).await.unwrap().number,
        "2026-12-0001"
    );

    // Read back in full, exactly as issued.
    let shown = s.invoice("2026-11-0001").await.unwrap().unwrap();
    assert_eq!(shown.invoice, first);
    assert_eq!(shown.lines, november("alice@example.com").lines);
    assert_eq!(shown.invoice.subtotal.to_string(), "1.0858");
    assert_eq!(shown.invoice.total, d("1.3558"));
    assert_eq!(shown.documents.html, "<p>2026-11-0001 2 lines</p>");
    assert_eq!(shown.documents.pdf, b"%PDF 2026-11-0001");
    assert_eq!(s.invoice("2026-11-0009").await.unwrap(), None);

    // Listed by month and customer.
    let numbers = |list: Vec<Invoice>| list.into_iter().map(|i| i.number).collect::<Vec<_>>();
    let all = s.invoices(&InvoiceFilter::default()).await.unwrap();
    assert_eq!(
        numbers(all),
        ["2026-11-0001", "2026-11-0002", "2026-12-0001"]
    );
    let nov = InvoiceFilter {
        series: Some("2026-11".into()),
        ..InvoiceFilter::default()
    };
    assert_eq!(numbers(s.invoices(&nov).await.unwrap()).len(), 2);
    let alice = InvoiceFilter {
        address: Some(addr("alice@EXAMPLE.com")),
        ..InvoiceFilter::default()
    };
    assert_eq!(
        numbers(s.invoices(&alice).await.unwrap()),
        ["2026-11-0001", "2026-12-0001"]
    );

    // A second invoice for the period, or one overlapping it (another offset), is refused
    // and names the first; the refused issue does not use up a number.
    let e = s
        .issue_invoice(&november("alice@example.com"), render)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, StoreError::InvoiceExists { number, .. } if number == "2026-11-0001"),
        "{e}"
    );
    assert!(
        e.to_string()
            .contains("alice@example.com already has invoice 2026-11-0001"),
        "{e}"
    );
    let mut shifted = november("alice@example.com");
    shifted.period_start_ms -= 3_600_000;
    shifted.period_end_ms -= 3_600_000;
    assert!(matches!(
        s.issue_invoice(&shifted, render).await,
        Err(StoreError::InvoiceExists { .. })
    ));
    // Nothing is issued for an unknown customer or an invoice that does not add up.
    assert!(matches!(
        s.issue_invoice(&november("nobody@example.com"), render)
            .await,
        Err(StoreError::NoSuchUser(_))
    ));
    let mut wrong = november("carol@example.com");
    wrong.total = d("1.36");
    assert!(matches!(
        s.issue_invoice(&wrong, render).await,
        Err(StoreError::BadInvoice(_))
    ));
    assert_eq!(
        s.issue_invoice(&november("carol@example.com"), render)
            .await
            .unwrap()
            .number,
        "2026-11-0003",
        "numbers stay gap-free"
    );

    // All or nothing: a line found out of range after the invoice's row was written takes
    // the invoice and its number with it.
    let mut too_many = november("dave@example.com");
    too_many.lines[0].calls = u64::MAX;
    assert!(s.issue_invoice(&too_many, render).await.is_err());
    let dave = InvoiceFilter {
        address: Some(addr("dave@example.com")),
        ..InvoiceFilter::default()
    };
    assert!(s.invoices(&dave).await.unwrap().is_empty());
    assert_eq!(
        s.issue_invoice(&november("dave@example.com"), render)
            .await
            .unwrap()
            .number,
        "2026-11-0004"
    );

    // The invoice outlives its subscriber.
    s.remove_subscriber("bob", "example.com").await.unwrap();
    let kept = s.invoice("2026-11-0002").await.unwrap().unwrap();
    assert_eq!(kept.invoice, second);
}
