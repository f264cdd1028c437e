//! `itsp invoice`: postpaid invoices. `run` issues one invoice per postpaid account for a
//! month, `list` shows the issued ones, `show` prints one and writes its HTML and PDF.
//!
//! Seed 000 §3.2 names post-paid billing with invoices as one of a provider's two billing
//! scenarios (issue 18, point 5). An invoice covers the rated calls the account's
//! subscriber *made* (the caller of the call detail record, whose account the server
//! charged) that *started* in the month, at `--utc-offset` (UTC by default). The sums are
//! the `billing` crate's (`billing::invoice`: lines by destination, exact subtotal, the tax
//! rounded once, total = subtotal + tax); the invoice, its number and its documents are
//! kept by the store, final once issued. Each invoice is checked against the account's
//! ledger: the charges the server booked for the invoiced calls must add up to the
//! subtotal; when they do not, a warning names both figures (the invoice, made from the
//! calls' records, is issued all the same).

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

use billing::invoice::{destination_of, format_amount, RatedCall};
use billing::{Currency, Decimal, Month, PlanSet, Statement, UtcOffset};
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use store::{
    Account, AccountKind, Address, CdrFilter, EntryKind, Invoice, InvoiceDocuments, InvoiceFilter,
    InvoiceLine, NewInvoice, Store, StoreError,
};

use super::invoice_sheet::{money, Sheet};
use super::output::{duration, rfc3339_ms, utc, Report, Table};
use super::{address, invoice_html, invoice_pdf, unix_now_ms, with_store, Failure};
use crate::store_args::StoreArgs;

/// Records and ledger entries read from the store at a time.
const PAGE: u32 = 1000;

/// The examples at the end of `itsp invoice --help`.
pub(super) const EXAMPLES: &str = "\
Examples:
  itsp invoice run --month 2026-11                      # every postpaid account, no tax
  itsp invoice run --month 2026-11 --tax-rate 0.25      # 25 % tax on top
  itsp invoice run --month 2026-11 --account alice@example.com --utc-offset +01:00
  itsp invoice list --month 2026-11
  itsp invoice list --account alice@example.com --json
  itsp invoice show 2026-11-0001
  itsp invoice show 2026-11-0001 --pdf alice-2026-11.pdf --html alice-2026-11.html

An invoice lists the rated calls an account's subscriber made that started in the month,
by destination: how many, their talk time, their cost. Amounts are exact: the subtotal is
the sum of the calls' prices, the tax is rounded half up to the currency's smallest unit
(0.01 EUR), the total is the subtotal plus the tax. Invoices are numbered per month
(2026-11-0001, 2026-11-0002, ...) without gaps and cannot be changed once issued; running
a month again issues only the invoices still missing.";

/// `itsp invoice` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum InvoiceCommand {
    /// Issue the month's invoices: one per postpaid account with rated calls.
    ///
    /// Accounts without rated calls that month get none; accounts invoiced for the month
    /// already are skipped and named. Prints a line per account as it goes.
    #[command(after_long_help = EXAMPLES)]
    Run(RunArgs),
    /// List issued invoices, by month and number.
    #[command(after_long_help = EXAMPLES)]
    List(ListArgs),
    /// Show an invoice with its lines; write its PDF or HTML as issued.
    #[command(after_long_help = EXAMPLES)]
    Show(ShowArgs),
}

/// What `itsp invoice run` issues.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The month invoiced, YYYY-MM.
    #[arg(long, value_name = "YYYY-MM")]
    month: String,
    /// The tax added to the calls' sum, a fraction: 0.25 for 25 %. Stored on each invoice.
    #[arg(long, value_name = "RATE", default_value = "0")]
    tax_rate: String,
    /// Only this account's invoice.
    #[arg(long, value_name = "USER@DOMAIN")]
    account: Option<String>,
    /// Where the month starts and ends: an offset from UTC (+01:00, -05:00, Z).
    #[arg(long, value_name = "OFFSET", default_value = "Z")]
    utc_offset: String,
}

/// What `itsp invoice list` shows.
#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Only the invoices of this month, YYYY-MM.
    #[arg(long, value_name = "YYYY-MM")]
    month: Option<String>,
    /// Only this customer's invoices.
    #[arg(long, value_name = "USER@DOMAIN")]
    account: Option<String>,
}

/// What `itsp invoice show` shows and writes.
#[derive(Debug, Args)]
pub(crate) struct ShowArgs {
    /// The invoice's number, as 2026-11-0001.
    #[arg(value_name = "NUMBER")]
    number: String,
    /// Write the invoice's PDF, as issued, to this file.
    #[arg(long, value_name = "FILE")]
    pdf: Option<PathBuf>,
    /// Write the invoice's HTML page, as issued, to this file.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
}

/// Runs `itsp invoice`.
pub(super) async fn run(command: InvoiceCommand, store: &StoreArgs) -> Result<Report, Failure> {
    match command {
        InvoiceCommand::Run(args) => issue(args, store).await,
        InvoiceCommand::List(args) => list(args, store).await,
        InvoiceCommand::Show(args) => show(args, store).await,
    }
}

fn parse_month(text: &str) -> Result<Month, Failure> {
    text.parse()
        .map_err(|_| Failure::user(format!("--month: `{text}` is not a month like 2026-11")))
}

fn parse_tax_rate(text: &str) -> Result<Decimal, Failure> {
    billing::money::parse_amount(text)
        .filter(|r| !r.is_sign_negative() && *r <= Decimal::ONE)
        .ok_or_else(|| {
            Failure::user(format!(
                "--tax-rate: `{text}` is not a rate like 0.25 (a fraction from 0 to 1: 0.25 is 25 %)"
            ))
        })
}

/// What happened to one account in a run.
enum Outcome {
    Issued(Invoice, u64),
    AlreadyInvoiced(String),
    NoCalls,
}

async fn issue(args: RunArgs, store: &StoreArgs) -> Result<Report, Failure> {
    let month = parse_month(&args.month)?;
    let tax_rate = parse_tax_rate(&args.tax_rate)?;
    let offset: UtcOffset = args
        .utc_offset
        .parse()
        .map_err(|e| Failure::user(format!("--utc-offset `{}`: {e}", args.utc_offset)))?;
    let only = args.account.as_deref().map(address).transpose()?;
    let (start, end) = month.bounds(offset);
    let period = (start * 1000, end * 1000);
    with_store(store, async |s| {
        let accounts = postpaid_accounts(s, only.as_ref()).await?;
        let plans = match s.tariff_files().await.map(|f| server::rating::load(&f)) {
            Ok(Ok(loaded)) => loaded.plans,
            Ok(Err(e)) => {
                eprintln!("warning: the rating plans do not load ({e}); destinations are named by country code");
                PlanSet::new()
            }
            Err(e) => return Err(e.into()),
        };
        let invoiced: BTreeMap<Address, String> = s
            .invoices(&InvoiceFilter {
                series: Some(month.to_string()),
                ..InvoiceFilter::default()
            })
            .await?
            .into_iter()
            .map(|i| (i.address, i.number))
            .collect();
        let mut issued = Vec::new();
        let mut skipped = Vec::new();
        let mut failed = Vec::new();
        for account in &accounts {
            let who = account.address.to_string();
            let outcome = match invoiced.get(&account.address) {
                Some(number) => Ok(Outcome::AlreadyInvoiced(number.clone())),
                None => invoice_account(s, account, month, period, tax_rate, &plans).await,
            };
            match outcome {
                Ok(Outcome::Issued(invoice, calls)) => {
                    eprintln!(
                        "{who}: issued invoice {} for {calls} call{}, total {} {}",
                        invoice.number,
                        if calls == 1 { "" } else { "s" },
                        money(invoice.total, &invoice.currency),
                        invoice.currency
                    );
                    issued.push(invoice);
                }
                Ok(Outcome::AlreadyInvoiced(number)) => {
                    eprintln!("{who}: skipped, already invoiced for {month} ({number})");
                    skipped.push(json!({ "customer": who, "reason": "already invoiced", "number": number }));
                }
                Ok(Outcome::NoCalls) => {
                    eprintln!("{who}: no rated calls in {month}, no invoice");
                    skipped.push(json!({ "customer": who, "reason": "no rated calls" }));
                }
                Err(f) => {
                    eprintln!("{who}: not invoiced: {}", f.message);
                    failed.push(format!("{who}: {}", f.message));
                }
            }
        }
        if !failed.is_empty() {
            return Err(Failure::user(format!(
                "{} account{} not invoiced for {month} (the others were): {}",
                failed.len(),
                if failed.len() == 1 { "" } else { "s" },
                failed.join("; ")
            )));
        }
        let text = format!(
            "{month}: {} invoice{} issued, {} account{} skipped",
            issued.len(),
            if issued.len() == 1 { "" } else { "s" },
            skipped.len(),
            if skipped.len() == 1 { "" } else { "s" }
        );
        Ok(Report::done(
            text,
            json!({
                "month": month.to_string(),
                "issued": issued.iter().map(invoice_json).collect::<Vec<_>>(),
                "skipped": skipped,
            }),
        ))
    })
    .await
}

/// The postpaid accounts, or only `only`'s (which must be one).
async fn postpaid_accounts(s: &Store, only: Option<&Address>) -> Result<Vec<Account>, Failure> {
    match only {
        Some(a) => match s.account(a).await? {
            Some(account) if account.kind == AccountKind::Postpaid => Ok(vec![account]),
            Some(_) => Err(Failure::user(format!(
                "{a} has a prepaid account, not a postpaid one"
            ))),
            None => Err(Failure::user(format!("{a} has no account"))),
        },
        None => Ok(s
            .accounts()
            .await?
            .into_iter()
            .filter(|a| a.kind == AccountKind::Postpaid)
            .collect()),
    }
}

/// Computes and issues the invoice of `account` for the month.
async fn invoice_account(
    s: &Store,
    account: &Account,
    month: Month,
    (start_ms, end_ms): (i64, i64),
    tax_rate: Decimal,
    plans: &PlanSet,
) -> Result<Outcome, Failure> {
    let who = &account.address;
    let currency = Currency::new(&account.currency).map_err(|e| Failure::user(e.to_string()))?;
    let filter = CdrFilter {
        user: Some(who.clone()),
        since_ms: Some(start_ms),
        until_ms: Some(end_ms),
        ..CdrFilter::default()
    };
    let mut calls = Vec::new();
    let mut call_ids = HashSet::new();
    let mut after = None;
    loop {
        let page = s.cdrs(&filter, after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        let full = page.len() == PAGE as usize;
        for record in page {
            let cdr = record.cdr;
            let made_by_account = cdr.caller_user.as_deref() == Some(who.user.as_str())
                && cdr.caller_domain.as_deref() == Some(who.domain.as_str());
            let Some(charge) = cdr.charge.as_ref().filter(|_| made_by_account) else {
                continue;
            };
            let bad =
                |what: &str| Failure::user(format!("call {}: {what} on its record", cdr.call_id));
            let cost = billing::money::parse_amount(&charge.cost)
                .ok_or_else(|| bad(&format!("the cost {:?} is not a decimal", charge.cost)))?;
            let call_currency = Currency::new(&charge.currency).map_err(|_| {
                bad(&format!(
                    "the currency {:?} is not a currency",
                    charge.currency
                ))
            })?;
            let number = cdr.callee_user.as_deref().unwrap_or_default();
            calls.push(RatedCall {
                destination: destination_of(plans, &charge.plan, number),
                seconds: u64::try_from(cdr.billable_secs()).unwrap_or(0),
                cost,
                currency: call_currency,
            });
            call_ids.insert(cdr.call_id);
        }
        if !full {
            break;
        }
    }
    if calls.is_empty() {
        return Ok(Outcome::NoCalls);
    }
    let count = calls.len() as u64;
    let statement = Statement::of_calls(currency, calls, tax_rate)
        .map_err(|e| Failure::user(format!("{e}")))?;
    check_ledger(s, who, &call_ids, (start_ms, end_ms), &statement).await?;
    let new = NewInvoice {
        address: who.clone(),
        series: month.to_string(),
        period_start_ms: start_ms,
        period_end_ms: end_ms,
        currency: currency.to_string(),
        lines: statement
            .lines
            .iter()
            .map(|l| InvoiceLine {
                destination: l.destination.description(),
                prefix: l.destination.prefix.clone(),
                calls: l.calls,
                seconds: l.seconds,
                amount: l.amount,
            })
            .collect(),
        subtotal: statement.subtotal,
        tax_rate: statement.tax_rate,
        tax: statement.tax,
        total: statement.total,
        issued_ms: unix_now_ms(),
    };
    match s.issue_invoice(&new, render).await {
        Ok(invoice) => Ok(Outcome::Issued(invoice, count)),
        // Issued by another run since this one listed the month's invoices.
        Err(StoreError::InvoiceExists { number, .. }) => Ok(Outcome::AlreadyInvoiced(number)),
        Err(e) => Err(e.into()),
    }
}

/// The documents of an invoice being issued.
fn render(invoice: &Invoice, lines: &[InvoiceLine]) -> InvoiceDocuments {
    let sheet = Sheet { invoice, lines };
    InvoiceDocuments {
        html: invoice_html::render(&sheet),
        pdf: invoice_pdf::render(&sheet),
    }
}

/// Warns when the ledger's charges of the invoiced calls do not add up to the subtotal, and
/// when the month holds charges of calls that are not on the invoice.
async fn check_ledger(
    s: &Store,
    who: &Address,
    call_ids: &HashSet<String>,
    (start_ms, end_ms): (i64, i64),
    statement: &Statement,
) -> Result<(), Failure> {
    let mut charged = Decimal::ZERO;
    let mut elsewhere = (0u64, Decimal::ZERO);
    let mut after = None;
    loop {
        let page = s.ledger(who, after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        let full = page.len() == PAGE as usize;
        for entry in page.iter().filter(|e| e.kind == EntryKind::Charge) {
            let on_invoice = entry.call_id.as_ref().is_some_and(|c| call_ids.contains(c));
            if on_invoice {
                charged -= entry.amount;
            } else if (start_ms..end_ms).contains(&entry.at_ms) {
                elsewhere.0 += 1;
                elsewhere.1 -= entry.amount;
            }
        }
        if !full {
            break;
        }
    }
    let currency = statement.currency;
    if charged != statement.subtotal {
        eprintln!(
            "warning: {who}: the ledger's charges for the invoiced calls sum to {} {currency}, \
             the invoice's subtotal (the calls' rated prices) is {} {currency}",
            format_amount(charged, currency),
            format_amount(statement.subtotal, currency)
        );
    }
    if elsewhere.0 > 0 {
        eprintln!(
            "warning: {who}: {} charge{} of {} {currency} booked in the period belong to no rated call of the invoice",
            elsewhere.0,
            if elsewhere.0 == 1 { "" } else { "s" },
            format_amount(elsewhere.1, currency)
        );
    }
    Ok(())
}

async fn list(args: ListArgs, store: &StoreArgs) -> Result<Report, Failure> {
    let filter = InvoiceFilter {
        address: args.account.as_deref().map(address).transpose()?,
        series: args
            .month
            .as_deref()
            .map(|m| parse_month(m).map(|m| m.to_string()))
            .transpose()?,
    };
    with_store(store, async |s| {
        let invoices = s.invoices(&filter).await?;
        let mut table = Table::new(&["NUMBER", "CUSTOMER", "MONTH", "TOTAL", "CURRENCY", "ISSUED"]);
        for i in &invoices {
            table.row(vec![
                i.number.clone(),
                i.address.to_string(),
                i.series.clone(),
                money(i.total, &i.currency),
                i.currency.clone(),
                utc(i.issued_ms.div_euclid(1000)),
            ]);
        }
        Ok(Report::List {
            table,
            json: invoices.iter().map(invoice_json).collect(),
            empty: "no invoices: issue a month's with itsp invoice run --month YYYY-MM".to_owned(),
        })
    })
    .await
}

async fn show(args: ShowArgs, store: &StoreArgs) -> Result<Report, Failure> {
    with_store(store, async |s| {
        let Some(issued) = s.invoice(&args.number).await? else {
            return Err(Failure::user(format!("no such invoice: {}", args.number))
                .hint("itsp invoice list shows the numbers"));
        };
        let mut written = Vec::new();
        for (path, bytes) in [
            (&args.pdf, issued.documents.pdf.as_slice()),
            (&args.html, issued.documents.html.as_bytes()),
        ] {
            if let Some(path) = path {
                std::fs::write(path, bytes).map_err(|e| Failure {
                    code: 2,
                    message: format!("cannot write {}: {e}", path.display()),
                })?;
                written.push(path.display().to_string());
            }
        }
        let i = &issued.invoice;
        let sheet = Sheet {
            invoice: i,
            lines: &issued.lines,
        };
        let mut lines: Vec<(String, String)> = sheet
            .facts()
            .into_iter()
            .map(|(name, value)| (name.to_lowercase(), value))
            .collect();
        for (n, line) in issued.lines.iter().enumerate() {
            lines.push((
                format!("line {}", n + 1),
                format!(
                    "{}: {} call{}, {}, {}",
                    line.destination,
                    line.calls,
                    if line.calls == 1 { "" } else { "s" },
                    duration(i64::try_from(line.seconds).unwrap_or(i64::MAX)),
                    money(line.amount, &i.currency)
                ),
            ));
        }
        for (label, amount) in sheet.totals() {
            lines.push((label.to_lowercase(), amount));
        }
        for path in &written {
            lines.push(("written".to_owned(), path.clone()));
        }
        let mut object = invoice_json(i);
        if let Value::Object(fields) = &mut object {
            fields.insert(
                "lines".into(),
                issued
                    .lines
                    .iter()
                    .map(|l| {
                        json!({
                            "destination": l.destination,
                            "prefix": l.prefix,
                            "calls": l.calls,
                            "seconds": l.seconds,
                            "amount": l.amount.to_string(),
                        })
                    })
                    .collect(),
            );
            fields.insert("written".into(), json!(written));
        }
        Ok(Report::Record {
            lines,
            json: object,
        })
    })
    .await
}

/// An invoice's fields for `--json` (amounts as exact decimal strings).
fn invoice_json(i: &Invoice) -> Value {
    json!({
        "number": i.number,
        "customer": i.address.to_string(),
        "month": i.series,
        "period_start": rfc3339_ms(i.period_start_ms),
        "period_end": rfc3339_ms(i.period_end_ms),
        "currency": i.currency,
        "subtotal": i.subtotal.to_string(),
        "tax_rate": i.tax_rate.to_string(),
        "tax": i.tax.to_string(),
        "total": i.total.to_string(),
        "issued": rfc3339_ms(i.issued_ms),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_and_tax_rates_are_checked() {
        assert_eq!(
            parse_month("2026-11").map(|m| m.to_string()).ok(),
            Some("2026-11".into())
        );
        let e = parse_month("2026-13")
            .err()
            .map(|f| f.message)
            .unwrap_or_default();
        assert_eq!(e, "--month: `2026-13` is not a month like 2026-11");
        assert_eq!(parse_tax_rate("0.25").ok(), Some(Decimal::new(25, 2)));
        assert_eq!(parse_tax_rate("0").ok(), Some(Decimal::ZERO));
        for bad in ["25%", "-0.1", "1.5", "x", ""] {
            let e = parse_tax_rate(bad)
                .err()
                .map(|f| f.message)
                .unwrap_or_default();
            assert!(e.starts_with("--tax-rate:"), "{bad}: {e}");
        }
    }
}
