//! Invoices as issued (`itsp invoice run`, store migration `0015`): `/api/v1/invoices`
//! (admins: every one, `?account=` one customer's), `/api/v1/subscribers/{address}/invoices`
//! (a subscriber's own), `/api/v1/invoices/{number}` (JSON, with its lines) and its
//! documents, `/api/v1/invoices/{number}.pdf` and `.html`, exactly the bytes issued.
//!
//! An invoice is never changed here (nor anywhere: the store refuses it). Another
//! subscriber's invoice answers 404 exactly as a number that does not exist.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use billing::invoice::format_amount;
use billing::Currency;
use serde::{Deserialize, Serialize};
use sip::headers::rfc3339_ms;
use store::{Address, Invoice, InvoiceFilter, InvoiceLine, IssuedInvoice};
use utoipa::ToSchema;

use crate::auth::{Action, Caller};
use crate::problem::{address, id_cursor, page_limit, Problem};
use crate::AppState;

/// Invoices per page unless `limit` says otherwise.
pub const DEFAULT_PAGE: u32 = 100;
/// The largest `limit`.
pub const MAX_PAGE: u32 = 1000;

/// The Content-Security-Policy of an issued HTML invoice: its own inline style, nothing
/// else, sandboxed (it is a document the portal serves, not one of its pages).
pub const INVOICE_HTML_POLICY: &str =
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; sandbox";

/// An invoice as a list shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InvoiceView {
    /// Its number, `YYYY-MM-NNNN`: the `{id}` of its URLs.
    pub number: String,
    /// The billing month, `YYYY-MM`.
    pub series: String,
    /// The customer, `user@domain`.
    pub account: String,
    /// The first instant of the period (RFC 3339).
    pub period_start: String,
    /// The instant after the period (RFC 3339).
    pub period_end: String,
    /// The last day of the period, `YYYY-MM-DD` (UTC), as people write a period's end.
    pub period_last_day: String,
    /// ISO 4217.
    pub currency: String,
    /// The sum of the lines, with the currency's decimals.
    pub subtotal: String,
    /// The tax rate, a fraction (`0.25`).
    pub tax_rate: String,
    /// The tax.
    pub tax: String,
    /// What the customer owes.
    pub total: String,
    /// When it was issued (RFC 3339).
    pub issued: String,
    /// Its PDF.
    pub pdf_url: String,
    /// Its HTML page.
    pub html_url: String,
}

/// One line of an invoice: the calls to one destination.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InvoiceLineView {
    /// The destination (`Stockholm (+468)`).
    pub destination: String,
    /// The prefix, digits (empty when none).
    pub prefix: String,
    /// How many calls.
    pub calls: u64,
    /// Their billable seconds.
    pub seconds: u64,
    /// Their cost.
    pub amount: String,
}

/// An invoice with its lines.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InvoiceDetail {
    /// The invoice.
    #[serde(flatten)]
    pub invoice: InvoiceView,
    /// Its lines, in their order.
    pub lines: Vec<InvoiceLineView>,
}

/// A page of invoices, by month and number.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InvoicePage {
    /// The invoices.
    pub items: Vec<InvoiceView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// `amount` with the decimals of `currency` (as the invoice prints it).
fn money(amount: billing::Decimal, currency: &str) -> String {
    match Currency::new(currency) {
        Ok(c) => format_amount(amount, c),
        Err(_) => amount.to_string(),
    }
}

impl From<Invoice> for InvoiceView {
    fn from(i: Invoice) -> InvoiceView {
        InvoiceView {
            pdf_url: format!("/api/v1/invoices/{}.pdf", i.number),
            html_url: format!("/api/v1/invoices/{}.html", i.number),
            subtotal: money(i.subtotal, &i.currency),
            tax: money(i.tax, &i.currency),
            total: money(i.total, &i.currency),
            tax_rate: i.tax_rate.normalize().to_string(),
            number: i.number,
            series: i.series,
            account: i.address.to_string(),
            period_start: rfc3339_ms(i.period_start_ms),
            period_end: rfc3339_ms(i.period_end_ms),
            period_last_day: rfc3339_ms(i.period_end_ms.saturating_sub(1))
                .get(..10)
                .unwrap_or_default()
                .to_owned(),
            issued: rfc3339_ms(i.issued_ms),
            currency: i.currency,
        }
    }
}

fn line_view(l: InvoiceLine, currency: &str) -> InvoiceLineView {
    InvoiceLineView {
        amount: money(l.amount, currency),
        destination: l.destination,
        prefix: l.prefix,
        calls: l.calls,
        seconds: l.seconds,
    }
}

/// Which invoices a list shows: `account`, `series` (`YYYY-MM`), `cursor`, `limit`.
fn filter_of(
    fields: &mut HashMap<String, String>,
    with_account: bool,
) -> Result<(InvoiceFilter, usize, u32), Problem> {
    let mut take = |name: &str| fields.remove(name).filter(|v| !v.trim().is_empty());
    let account = if with_account {
        take("account")
            .map(|a| address("account", &a))
            .transpose()?
    } else {
        None
    };
    let series = take("series").map(|s| s.trim().to_owned());
    if let Some(s) = &series {
        let b = s.as_bytes();
        let good = b.len() == 7
            && b[4] == b'-'
            && b.iter()
                .enumerate()
                .all(|(i, c)| i == 4 || c.is_ascii_digit());
        if !good {
            return Err(Problem::invalid(
                "series",
                format!("{s:?} is not a billing month like 2026-11"),
            ));
        }
    }
    let limit = page_limit(take("limit").as_deref(), DEFAULT_PAGE, MAX_PAGE)?;
    let start = match id_cursor(take("cursor").as_deref())? {
        Some(n) => usize::try_from(n).map_err(|_| {
            Problem::invalid("cursor", "not a cursor this API gave (a next_cursor)")
        })?,
        None => 0,
    };
    if let Some(name) = fields.keys().next() {
        let known = if with_account {
            "account, series, cursor and limit"
        } else {
            "series, cursor and limit"
        };
        return Err(Problem::invalid(
            name,
            format!("unknown parameter: the parameters are {known}"),
        ));
    }
    Ok((
        InvoiceFilter {
            address: account,
            series,
        },
        start,
        limit,
    ))
}

async fn page(
    state: &AppState,
    filter: &InvoiceFilter,
    start: usize,
    limit: u32,
) -> Result<InvoicePage, Problem> {
    let all = state
        .store()
        .invoices(filter)
        .await
        .map_err(|e| Problem::internal(&e))?;
    let mut rest = all.into_iter().skip(start);
    let items: Vec<InvoiceView> = rest
        .by_ref()
        .take(limit as usize)
        .map(InvoiceView::from)
        .collect();
    let next_cursor = rest
        .next()
        .is_some()
        .then(|| (start + items.len()).to_string());
    Ok(InvoicePage { items, next_cursor })
}

/// Every invoice (admins), or one customer's (`account`).
pub async fn list_all(
    state: &AppState,
    caller: &Caller,
    mut fields: HashMap<String, String>,
) -> Result<InvoicePage, Problem> {
    caller.allow(Action::ListAllInvoices)?;
    let (filter, start, limit) = filter_of(&mut fields, true)?;
    page(state, &filter, start, limit).await
}

/// The invoices of `a`.
pub async fn list_of(
    state: &AppState,
    caller: &Caller,
    a: &Address,
    mut fields: HashMap<String, String>,
) -> Result<InvoicePage, Problem> {
    caller.allow(Action::Read(a))?;
    let (mut filter, start, limit) = filter_of(&mut fields, false)?;
    filter.address = Some(a.clone());
    page(state, &filter, start, limit).await
}

/// The invoice numbered `number` in full, if the caller may see it; another
/// subscriber's is "no such invoice", as a missing one.
pub async fn issued(
    state: &AppState,
    caller: &Caller,
    number: &str,
) -> Result<IssuedInvoice, Problem> {
    let missing = || Problem::not_found(format!("no such invoice: {number}"));
    let valid = !number.is_empty()
        && number.len() <= 64
        && number
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !valid {
        return Err(missing());
    }
    let found = state
        .store()
        .invoice(number)
        .await
        .map_err(|e| Problem::internal(&e))?
        .ok_or_else(missing)?;
    caller
        .allow(Action::Read(&found.invoice.address))
        .map_err(|_| missing())?;
    Ok(found)
}

/// The invoice and its lines.
pub fn detail(found: IssuedInvoice) -> InvoiceDetail {
    let currency = found.invoice.currency.clone();
    InvoiceDetail {
        invoice: InvoiceView::from(found.invoice),
        lines: found
            .lines
            .into_iter()
            .map(|l| line_view(l, &currency))
            .collect(),
    }
}

/// A document of an invoice as issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Document {
    /// The PDF file (downloaded).
    Pdf,
    /// The HTML page (shown).
    Html,
}

/// The document `kind` of `found`, as a download with its file name.
pub fn document(found: IssuedInvoice, kind: Document) -> Response {
    let number = &found.invoice.number;
    let (content_type, disposition, body) = match kind {
        Document::Pdf => (
            "application/pdf",
            format!("attachment; filename=\"invoice-{number}.pdf\""),
            found.documents.pdf,
        ),
        Document::Html => (
            "text/html; charset=utf-8",
            format!("inline; filename=\"invoice-{number}.html\""),
            found.documents.html.into_bytes(),
        ),
    };
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    if kind == Document::Html {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(INVOICE_HTML_POLICY),
        );
    }
    response
}

/// Every invoice (admins), by month and number; `account` narrows to one customer.
#[utoipa::path(get, path = "/api/v1/invoices", tag = "invoices",
    params(("account" = Option<String>, Query, description = "only this customer's, user@domain"),
           ("series" = Option<String>, Query, description = "only this billing month, 2026-11"),
           ("cursor" = Option<String>, Query, description = "the next_cursor of the previous page"),
           ("limit" = Option<String>, Query, description = "1 to 1000, default 100")),
    responses(
        (status = 200, description = "a page of invoices", body = InvoicePage),
        (status = 403, description = "not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "a parameter is wrong", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_invoices(
    State(state): State<AppState>,
    caller: Caller,
    Query(fields): Query<HashMap<String, String>>,
) -> Result<Json<InvoicePage>, Problem> {
    list_all(&state, &caller, fields).await.map(Json)
}

/// A subscriber's invoices, by month and number.
#[utoipa::path(get, path = "/api/v1/subscribers/{address}/invoices", tag = "invoices",
    params(("address" = String, Path, description = "user@domain"),
           ("series" = Option<String>, Query, description = "only this billing month, 2026-11"),
           ("cursor" = Option<String>, Query, description = "the next_cursor of the previous page"),
           ("limit" = Option<String>, Query, description = "1 to 1000, default 100")),
    responses(
        (status = 200, description = "a page of invoices", body = InvoicePage),
        (status = 404, description = "no such subscriber, or not yours", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "a parameter is wrong", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_subscriber_invoices(
    State(state): State<AppState>,
    caller: Caller,
    Path(text): Path<String>,
    Query(fields): Query<HashMap<String, String>>,
) -> Result<Json<InvoicePage>, Problem> {
    let a = address("address", &text)?;
    list_of(&state, &caller, &a, fields).await.map(Json)
}

/// An invoice and its lines; `{id}.pdf` and `{id}.html` are its documents.
#[utoipa::path(get, path = "/api/v1/invoices/{id}", tag = "invoices",
    params(("id" = String, Path, description = "the invoice number, 2026-11-0001")),
    responses(
        (status = 200, description = "the invoice", body = InvoiceDetail),
        (status = 404, description = "no such invoice, or not yours", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_invoice(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    // One route serves the three: an invoice number has no dot.
    if let Some(number) = id.strip_suffix(".pdf") {
        let found = issued(&state, &caller, number).await?;
        return Ok(document(found, Document::Pdf));
    }
    if let Some(number) = id.strip_suffix(".html") {
        let found = issued(&state, &caller, number).await?;
        return Ok(document(found, Document::Html));
    }
    let found = issued(&state, &caller, &id).await?;
    Ok(Json(detail(found)).into_response())
}

/// The invoice's PDF as issued (`Content-Disposition: attachment`).
#[utoipa::path(get, path = "/api/v1/invoices/{id}.pdf", tag = "invoices",
    params(("id" = String, Path, description = "the invoice number, 2026-11-0001")),
    responses(
        (status = 200, description = "the PDF", content_type = "application/pdf", body = Vec<u8>),
        (status = 404, description = "no such invoice, or not yours", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_invoice_pdf(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let found = issued(&state, &caller, &id).await?;
    Ok(document(found, Document::Pdf))
}

/// The invoice's HTML page as issued (`Content-Disposition: inline`, sandboxed).
#[utoipa::path(get, path = "/api/v1/invoices/{id}.html", tag = "invoices",
    params(("id" = String, Path, description = "the invoice number, 2026-11-0001")),
    responses(
        (status = 200, description = "the HTML page", content_type = "text/html", body = String),
        (status = 404, description = "no such invoice, or not yours", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_invoice_html(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let found = issued(&state, &caller, &id).await?;
    Ok(document(found, Document::Html))
}
