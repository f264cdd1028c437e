//! What an invoice document says, shared by its HTML page (`invoice_html.rs`) and its PDF
//! (`invoice_pdf.rs`): the texts of the heading, the lines and the totals, with the
//! amounts written exactly (at least the currency's decimals, never fewer digits than
//! stored: `billing::invoice::format_amount`).

use billing::invoice::format_amount;
use billing::{Currency, Decimal};
use store::{Invoice, InvoiceLine};

use super::output::{duration, utc};

/// An invoice as its documents show it.
pub(super) struct Sheet<'a> {
    /// The invoice.
    pub(super) invoice: &'a Invoice,
    /// Its lines.
    pub(super) lines: &'a [InvoiceLine],
}

/// One line of the table, as text.
pub(super) struct SheetLine {
    pub(super) destination: String,
    pub(super) calls: String,
    pub(super) time: String,
    pub(super) amount: String,
}

impl Sheet<'_> {
    /// `Invoice 2026-11-0001`.
    pub(super) fn title(&self) -> String {
        format!("Invoice {}", self.invoice.number)
    }

    /// The heading's `name: value` pairs: number, customer, period, issue date.
    pub(super) fn facts(&self) -> Vec<(&'static str, String)> {
        let i = self.invoice;
        vec![
            ("Invoice number", i.number.clone()),
            ("Customer", i.address.to_string()),
            (
                "Period",
                format!(
                    "{}: calls started from {} until {}",
                    i.series,
                    utc(i.period_start_ms.div_euclid(1000)),
                    utc(i.period_end_ms.div_euclid(1000))
                ),
            ),
            ("Issued", utc(i.issued_ms.div_euclid(1000))),
            ("Currency", i.currency.clone()),
        ]
    }

    /// The column titles of the table.
    pub(super) fn columns(&self) -> [String; 4] {
        [
            "Destination".to_owned(),
            "Calls".to_owned(),
            "Talk time".to_owned(),
            format!("Amount ({})", self.invoice.currency),
        ]
    }

    /// The lines as text.
    pub(super) fn lines(&self) -> Vec<SheetLine> {
        self.lines
            .iter()
            .map(|l| SheetLine {
                destination: l.destination.clone(),
                calls: l.calls.to_string(),
                time: duration(i64::try_from(l.seconds).unwrap_or(i64::MAX)),
                amount: self.money(l.amount),
            })
            .collect()
    }

    /// The totals: `(label, amount)` for the subtotal, the tax and the total (last).
    pub(super) fn totals(&self) -> [(String, String); 3] {
        let i = self.invoice;
        let percent = (i.tax_rate * Decimal::ONE_HUNDRED).normalize();
        [
            ("Subtotal".to_owned(), self.money(i.subtotal)),
            (format!("Tax {percent} %"), self.money(i.tax)),
            (format!("Total {}", i.currency), self.money(i.total)),
        ]
    }

    /// What the amounts are, for the foot of the document.
    pub(super) fn note(&self) -> &'static str {
        "Each line sums the exact prices of its calls; the tax is rounded half up to the \
         currency's smallest unit; the total is the subtotal plus the tax."
    }

    /// `amount` as the invoice writes it.
    fn money(&self, amount: Decimal) -> String {
        money(amount, &self.invoice.currency)
    }
}

/// `amount` as invoices write it in `currency` (the bare decimal for a code that is not a
/// currency).
pub(super) fn money(amount: Decimal, currency: &str) -> String {
    match Currency::new(currency) {
        Ok(c) => format_amount(amount, c),
        Err(_) => amount.to_string(),
    }
}
