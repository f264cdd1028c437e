//! Invoices (migration `0015`): what a postpaid customer is sent for a period, kept as
//! issued.
//!
//! Seed 000 §3.2 names post-paid billing with invoices as one of a provider's two billing
//! scenarios; `itsp invoice run` computes an invoice (the `billing` crate's
//! `invoice::Statement`) and [`Store::issue_invoice`] keeps it: numbered `YYYY-MM-NNNN`,
//! one series per month, without gaps (the number is taken in the issuing transaction
//! from `invoice_series`, so an issue that fails gives it back), with its lines, its
//! exact decimal amounts and its HTML and PDF documents, all in one transaction. There is
//! no API to change or delete one, and the database's triggers refuse it too: a wrong
//! invoice is corrected by another document, never by editing the issued one. A second
//! invoice of the same account for an overlapping period is refused
//! ([`StoreError::InvoiceExists`] names the first).

use rust_decimal::Decimal;

use crate::accounts::{check_currency, folded, stored_decimal};
use crate::{on_pool, Address, Store, StoreError};

/// One line of an invoice: the calls to one destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceLine {
    /// The destination as the line names it (`Stockholm (+468)`).
    pub destination: String,
    /// The prefix it was found by, digits (empty when none).
    pub prefix: String,
    /// How many calls.
    pub calls: u64,
    /// Their billable seconds.
    pub seconds: u64,
    /// Their cost, exact.
    pub amount: Decimal,
}

/// An invoice to issue with [`Store::issue_invoice`]: everything but its number and its
/// documents, which are made once the number is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewInvoice {
    /// The customer: the subscriber whose account is invoiced.
    pub address: Address,
    /// The numbering series, the billing month `YYYY-MM`.
    pub series: String,
    /// The first instant of the period, Unix milliseconds.
    pub period_start_ms: i64,
    /// The instant after the period, Unix milliseconds.
    pub period_end_ms: i64,
    /// The currency of every amount (ISO 4217).
    pub currency: String,
    /// The lines.
    pub lines: Vec<InvoiceLine>,
    /// The sum of the lines' amounts, exactly.
    pub subtotal: Decimal,
    /// The tax rate, a fraction (`0.25`).
    pub tax_rate: Decimal,
    /// The tax.
    pub tax: Decimal,
    /// `subtotal + tax`, exactly.
    pub total: Decimal,
    /// When it is issued, Unix milliseconds.
    pub issued_ms: i64,
}

/// An issued invoice, without its documents and lines (what a list shows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invoice {
    /// Its number, `YYYY-MM-NNNN`.
    pub number: String,
    /// Its series, the billing month `YYYY-MM`.
    pub series: String,
    /// The customer, as invoiced.
    pub address: Address,
    /// The first instant of the period, Unix milliseconds.
    pub period_start_ms: i64,
    /// The instant after the period, Unix milliseconds.
    pub period_end_ms: i64,
    /// The currency.
    pub currency: String,
    /// The sum of the lines.
    pub subtotal: Decimal,
    /// The tax rate, a fraction.
    pub tax_rate: Decimal,
    /// The tax.
    pub tax: Decimal,
    /// What the customer owes.
    pub total: Decimal,
    /// When it was issued, Unix milliseconds.
    pub issued_ms: i64,
}

/// The documents of an invoice as issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceDocuments {
    /// The HTML page.
    pub html: String,
    /// The PDF file.
    pub pdf: Vec<u8>,
}

/// An issued invoice in full: [`Store::invoice`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedInvoice {
    /// The invoice.
    pub invoice: Invoice,
    /// Its lines, in their order.
    pub lines: Vec<InvoiceLine>,
    /// Its documents.
    pub documents: InvoiceDocuments,
}

/// Which invoices [`Store::invoices`] lists: all conditions given hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InvoiceFilter {
    /// Only this customer's.
    pub address: Option<Address>,
    /// Only this series (billing month `YYYY-MM`).
    pub series: Option<String>,
}

const INVOICE_COLUMNS: &str = "number, series, username, domain, period_start_ms, period_end_ms,
       currency, subtotal, tax_rate, tax, total, issued_ms";

#[derive(sqlx::FromRow)]
struct InvoiceRow {
    number: String,
    series: String,
    username: String,
    domain: String,
    period_start_ms: i64,
    period_end_ms: i64,
    currency: String,
    subtotal: String,
    tax_rate: String,
    tax: String,
    total: String,
    issued_ms: i64,
}

impl TryFrom<InvoiceRow> for Invoice {
    type Error = StoreError;

    fn try_from(r: InvoiceRow) -> Result<Invoice, StoreError> {
        Ok(Invoice {
            number: r.number,
            series: r.series,
            address: Address {
                user: r.username,
                domain: r.domain,
            },
            period_start_ms: r.period_start_ms,
            period_end_ms: r.period_end_ms,
            currency: r.currency,
            subtotal: stored_decimal(&r.subtotal, "invoices.subtotal")?,
            tax_rate: stored_decimal(&r.tax_rate, "invoices.tax_rate")?,
            tax: stored_decimal(&r.tax, "invoices.tax")?,
            total: stored_decimal(&r.total, "invoices.total")?,
            issued_ms: r.issued_ms,
        })
    }
}

#[derive(sqlx::FromRow)]
struct DocumentRow {
    id: i64,
    html: String,
    pdf: Vec<u8>,
    #[sqlx(flatten)]
    header: InvoiceRow,
}

#[derive(sqlx::FromRow)]
struct LineRow {
    destination: String,
    prefix: String,
    calls: i64,
    seconds: i64,
    amount: String,
}

impl TryFrom<LineRow> for InvoiceLine {
    type Error = StoreError;

    fn try_from(r: LineRow) -> Result<InvoiceLine, StoreError> {
        Ok(InvoiceLine {
            destination: r.destination,
            prefix: r.prefix,
            calls: u64::try_from(r.calls)
                .map_err(|_| StoreError::Corrupt("invoice_lines.calls"))?,
            seconds: u64::try_from(r.seconds)
                .map_err(|_| StoreError::Corrupt("invoice_lines.seconds"))?,
            amount: stored_decimal(&r.amount, "invoice_lines.amount")?,
        })
    }
}

/// `text` is a billing month `YYYY-MM` (01–12).
pub(crate) fn is_series(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 7
        && b[4] == b'-'
        && b[..4].iter().chain(&b[5..]).all(u8::is_ascii_digit)
        && matches!(
            &text[5..],
            "01" | "02" | "03" | "04" | "05" | "06" | "07" | "08" | "09" | "10" | "11" | "12"
        )
}

/// Checks that an invoice adds up and names what it needs.
fn check_invoice(i: &NewInvoice) -> Result<(), StoreError> {
    let bad = |why: String| Err(StoreError::BadInvoice(why));
    if !is_series(&i.series) {
        return bad(format!("series {:?}: a month YYYY-MM expected", i.series));
    }
    if i.period_end_ms <= i.period_start_ms {
        return bad("the period ends before it starts".into());
    }
    check_currency(&i.currency).or_else(|e| bad(e.to_string()))?;
    if i.tax_rate.is_sign_negative() && !i.tax_rate.is_zero() {
        return bad(format!("a negative tax rate {}", i.tax_rate));
    }
    let mut sum = Decimal::ZERO;
    for line in &i.lines {
        if line.destination.trim().is_empty() {
            return bad("a line without a destination".into());
        }
        sum = match sum.checked_add(line.amount) {
            Some(s) => s,
            None => return bad("the lines' sum is out of range".into()),
        };
    }
    if sum != i.subtotal {
        return bad(format!(
            "the lines add up to {sum}, not to the subtotal {}",
            i.subtotal
        ));
    }
    if i.subtotal.checked_add(i.tax) != Some(i.total) {
        return bad(format!(
            "the total {} is not the subtotal {} plus the tax {}",
            i.total, i.subtotal, i.tax
        ));
    }
    Ok(())
}

/// The number of the `sequence`th invoice of `series`: `2026-11-0001`.
pub fn invoice_number(series: &str, sequence: i64) -> String {
    format!("{series}-{sequence:04}")
}

impl Store {
    /// Issues invoice `new`: checks that it adds up ([`StoreError::BadInvoice`]), takes the
    /// next number of its series, has `render` make its documents from the numbered
    /// invoice, and stores the invoice, its lines and documents, in one transaction: all
    /// of it or, on any error, nothing (and the number is not used up). Refused with
    /// [`StoreError::InvoiceExists`] when the customer already has an invoice for a period
    /// that overlaps this one, [`StoreError::NoSuchUser`] without such a subscriber.
    pub async fn issue_invoice(
        &self,
        new: &NewInvoice,
        render: impl FnOnce(&Invoice, &[InvoiceLine]) -> InvoiceDocuments,
    ) -> Result<Invoice, StoreError> {
        check_invoice(new)?;
        let a = folded(&new.address);
        let (begin, _) = self.money_transaction();
        let mut render = Some(render);
        let invoice = on_pool!(self, pool => {
            let mut tx = pool.begin_with(begin).await?;
            let subscriber: Option<i64> =
                sqlx::query_scalar("SELECT id FROM subscribers WHERE username = $1 AND domain = $2")
                    .bind(&a.user)
                    .bind(&a.domain)
                    .fetch_optional(&mut *tx)
                    .await?;
            let Some(subscriber) = subscriber else {
                return Err(StoreError::NoSuchUser(a.to_string()));
            };
            // The series row is locked from here to the commit: issues of one month take
            // their numbers one after the other.
            let sequence: i64 = sqlx::query_scalar(
                "INSERT INTO invoice_series (series, last_number) VALUES ($1, 1)
                 ON CONFLICT (series) DO UPDATE SET last_number = invoice_series.last_number + 1
                 RETURNING last_number",
            )
            .bind(&new.series)
            .fetch_one(&mut *tx)
            .await?;
            let existing: Option<String> = sqlx::query_scalar(
                "SELECT number FROM invoices
                  WHERE username = $1 AND domain = $2
                    AND period_start_ms < $4 AND period_end_ms > $3
                  ORDER BY period_start_ms LIMIT 1",
            )
            .bind(&a.user)
            .bind(&a.domain)
            .bind(new.period_start_ms)
            .bind(new.period_end_ms)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(number) = existing {
                return Err(StoreError::InvoiceExists {
                    address: a.to_string(),
                    number,
                });
            }
            let invoice = Invoice {
                number: invoice_number(&new.series, sequence),
                series: new.series.clone(),
                address: a.clone(),
                period_start_ms: new.period_start_ms,
                period_end_ms: new.period_end_ms,
                currency: new.currency.clone(),
                subtotal: new.subtotal,
                tax_rate: new.tax_rate,
                tax: new.tax,
                total: new.total,
                issued_ms: new.issued_ms,
            };
            let documents = match render.take() {
                Some(render) => render(&invoice, &new.lines),
                None => return Err(StoreError::BadInvoice("rendered twice".into())),
            };
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO invoices (number, series, sequence, subscriber_id, username, domain,
                     period_start_ms, period_end_ms, currency, subtotal, tax_rate, tax, total,
                     issued_ms, html, pdf)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
                 RETURNING id",
            )
            .bind(&invoice.number)
            .bind(&invoice.series)
            .bind(sequence)
            .bind(subscriber)
            .bind(&a.user)
            .bind(&a.domain)
            .bind(invoice.period_start_ms)
            .bind(invoice.period_end_ms)
            .bind(&invoice.currency)
            .bind(invoice.subtotal.to_string())
            .bind(invoice.tax_rate.to_string())
            .bind(invoice.tax.to_string())
            .bind(invoice.total.to_string())
            .bind(invoice.issued_ms)
            .bind(&documents.html)
            .bind(&documents.pdf)
            .fetch_one(&mut *tx)
            .await?;
            for (position, line) in new.lines.iter().enumerate() {
                // Out of range here, after the invoice's row: the whole issue rolls back.
                let out_of_range = |what: &str| {
                    StoreError::BadInvoice(format!("{what} of line {} out of range", position + 1))
                };
                let calls = i64::try_from(line.calls).map_err(|_| out_of_range("the calls"))?;
                let seconds =
                    i64::try_from(line.seconds).map_err(|_| out_of_range("the seconds"))?;
                sqlx::query(
                    "INSERT INTO invoice_lines
                         (invoice_id, position, destination, prefix, calls, seconds, amount)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(id)
                .bind(i64::try_from(position).unwrap_or(i64::MAX))
                .bind(&line.destination)
                .bind(&line.prefix)
                .bind(calls)
                .bind(seconds)
                .bind(line.amount.to_string())
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            invoice
        });
        tracing::info!(number = %invoice.number, user = %invoice.address, total = %invoice.total,
                       currency = %invoice.currency, "invoice issued");
        Ok(invoice)
    }

    /// The invoices that pass `filter`, by series and number.
    pub async fn invoices(&self, filter: &InvoiceFilter) -> Result<Vec<Invoice>, StoreError> {
        let address = filter.address.as_ref().map(folded);
        let rows: Vec<InvoiceRow> = on_pool!(self, pool => {
            let mut q = sqlx::QueryBuilder::new(format!("SELECT {INVOICE_COLUMNS} FROM invoices"));
            let mut sep = " WHERE ";
            if let Some(a) = &address {
                q.push(sep)
                    .push("username = ")
                    .push_bind(&a.user)
                    .push(" AND domain = ")
                    .push_bind(&a.domain);
                sep = " AND ";
            }
            if let Some(series) = &filter.series {
                q.push(sep).push("series = ").push_bind(series);
            }
            q.push(" ORDER BY series, sequence");
            q.build_query_as().fetch_all(pool).await?
        });
        rows.into_iter().map(Invoice::try_from).collect()
    }

    /// The invoice numbered `number`, with its lines and documents; `None` when there is
    /// none.
    pub async fn invoice(&self, number: &str) -> Result<Option<IssuedInvoice>, StoreError> {
        let sql =
            format!("SELECT id, html, pdf, {INVOICE_COLUMNS} FROM invoices WHERE number = $1");
        let found = on_pool!(self, pool => {
            let row: Option<DocumentRow> = sqlx::query_as(&sql)
                .bind(number)
                .fetch_optional(pool)
                .await?;
            match row {
                None => None,
                Some(row) => {
                    let lines: Vec<LineRow> = sqlx::query_as(
                        "SELECT destination, prefix, calls, seconds, amount FROM invoice_lines
                          WHERE invoice_id = $1 ORDER BY position",
                    )
                    .bind(row.id)
                    .fetch_all(pool)
                    .await?;
                    let documents = InvoiceDocuments { html: row.html, pdf: row.pdf };
                    Some((row.header, lines, documents))
                }
            }
        });
        let Some((header, lines, documents)) = found else {
            return Ok(None);
        };
        Ok(Some(IssuedInvoice {
            invoice: Invoice::try_from(header)?,
            lines: lines
                .into_iter()
                .map(InvoiceLine::try_from)
                .collect::<Result<_, _>>()?,
            documents,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_invoice() -> NewInvoice {
        let line = |amount: &str| InvoiceLine {
            destination: "Sweden (+46)".into(),
            prefix: "46".into(),
            calls: 1,
            seconds: 60,
            amount: amount.parse().unwrap_or_default(),
        };
        NewInvoice {
            address: Address::parse("alice@example.com").unwrap_or_else(|_| unreachable!()),
            series: "2026-11".into(),
            period_start_ms: 0,
            period_end_ms: 1,
            currency: "EUR".into(),
            lines: vec![line("0.10"), line("0.0958")],
            subtotal: "0.1958".parse().unwrap_or_default(),
            tax_rate: "0.25".parse().unwrap_or_default(),
            tax: "0.05".parse().unwrap_or_default(),
            total: "0.2458".parse().unwrap_or_default(),
            issued_ms: 2,
        }
    }

    #[test]
    fn an_invoice_must_add_up() {
        assert!(check_invoice(&new_invoice()).is_ok());
        type Spoil = fn(&mut NewInvoice);
        let cases: [(Spoil, &str); 5] = [
            (|i| i.series = "2026-13".into(), "series"),
            (|i| i.period_end_ms = 0, "ends before"),
            (|i| i.currency = "euro".into(), "currency"),
            (
                |i| i.subtotal = "0.20".parse().unwrap_or_default(),
                "add up to 0.1958",
            ),
            (
                |i| i.total = "0.25".parse().unwrap_or_default(),
                "not the subtotal",
            ),
        ];
        for (spoil, says) in cases {
            let mut i = new_invoice();
            spoil(&mut i);
            let e = check_invoice(&i)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(e.contains(says), "{says}: {e}");
        }
        assert_eq!(invoice_number("2026-11", 7), "2026-11-0007");
        assert_eq!(invoice_number("2026-11", 12_345), "2026-11-12345");
        assert!(is_series("2026-01") && !is_series("2026-00") && !is_series("2026-1x"));
    }
}
