//! Invoices as pages: `/invoices` (a subscriber's own, each with its PDF to download and
//! its HTML to view) and `/admin/invoices` (every invoice, narrowed to one customer with
//! `?account=`). Both list through [`crate::api::invoices`]; the documents are the API's
//! own URLs (`/api/v1/invoices/{number}.pdf`), which a browser session may fetch.

use std::collections::HashMap;
use std::fmt::Write;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use super::admin::admin;
use super::{banner, error_page, esc, field, layout, query_value, FieldErrors, MaybeCaller};
use crate::api::invoices::{self, InvoicePage};
use crate::problem::Problem;
use crate::AppState;

/// The table of a page of invoices; `who` adds the customer column.
fn table(page: &InvoicePage, who: bool) -> String {
    let mut rows = String::new();
    for i in &page.items {
        let customer = if who {
            format!(
                r#"<td><a href="/admin/invoices?account={}">{}</a></td>"#,
                query_value(&i.account),
                esc(&i.account)
            )
        } else {
            String::new()
        };
        let _ = write!(
            rows,
            r#"<tr><td class="nowrap">{number}</td>{customer}<td><span class="nowrap">{start}</span> – <span class="nowrap">{end}</span></td><td class="num nowrap" title="{subtotal} {cur} + tax {tax} {cur}"><strong>{total} {cur}</strong></td><td class="nowrap">{issued}</td><td class="nowrap"><a href="{pdf}" download>PDF</a> · <a href="{html}">View</a></td></tr>"#,
            number = esc(&i.number),
            start = esc(i.period_start.get(..10).unwrap_or(&i.period_start)),
            end = esc(&i.period_last_day),
            subtotal = esc(&i.subtotal),
            tax = esc(&i.tax),
            total = esc(&i.total),
            cur = esc(&i.currency),
            issued = esc(i.issued.get(..10).unwrap_or(&i.issued)),
            pdf = esc(&i.pdf_url),
            html = esc(&i.html_url),
        );
    }
    let customer_head = if who { "<th>Customer</th>" } else { "" };
    format!(
        r#"<div class="scroll"><table><thead><tr><th>Number</th>{customer_head}<th>Period</th><th class="num">Total (tax incl.)</th><th>Issued</th><th>Documents</th></tr></thead><tbody>{rows}</tbody></table></div>"#
    )
}

fn pager(path: &str, extra: &str, next: Option<&String>) -> String {
    match next {
        Some(c) => format!(
            r#"<p class="pager"><a href="{path}?cursor={}{}">Next page →</a></p>"#,
            query_value(c),
            esc(extra)
        ),
        None => String::new(),
    }
}

fn cursor_only(query: &HashMap<String, String>) -> HashMap<String, String> {
    query
        .get("cursor")
        .filter(|c| !c.is_empty())
        .map(|c| ("cursor".to_owned(), c.clone()))
        .into_iter()
        .collect()
}

/// A subscriber's invoices.
pub async fn mine(
    State(state): State<AppState>,
    caller: MaybeCaller,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let caller = match caller.or_login() {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Some(me) = caller.address.clone() else {
        return error_page(&Problem::forbidden(
            "an admin token has no own invoices; see /admin/invoices",
        ));
    };
    let page = match invoices::list_of(&state, &caller, &me, cursor_only(&query)).await {
        Ok(p) => p,
        Err(p) => return error_page(&p),
    };
    let list = if page.items.is_empty() {
        r#"<p class="empty">No invoices yet. A postpaid account gets one a month, for the calls charged in that month; they show here once your provider issues them.</p>"#.to_owned()
    } else {
        format!(
            "{}{}",
            table(&page, false),
            pager("/invoices", "", page.next_cursor.as_ref())
        )
    };
    let body = format!(
        r#"<h1>Invoices</h1><section class="card"><p class="lead">As issued: download the PDF, or view the page.</p>{list}</section>"#
    );
    Html(layout("Invoices", Some(&caller), &body)).into_response()
}

/// Every invoice (admins), `?account=` one customer's.
pub async fn all(
    State(state): State<AppState>,
    caller: MaybeCaller,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let caller = match admin(caller) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let account = query
        .get("account")
        .map(|a| a.trim().to_owned())
        .unwrap_or_default();
    let mut fields = cursor_only(&query);
    if !account.is_empty() {
        fields.insert("account".to_owned(), account.clone());
    }
    let (status, errors, list) = match invoices::list_all(&state, &caller, fields).await {
        Ok(page) if page.items.is_empty() => {
            let empty = if account.is_empty() {
                r#"<p class="empty">No invoice has been issued. Run <code>itsp invoice run --month YYYY-MM</code> on the server after a month ends: each postpaid account with charged calls gets one.</p>"#.to_owned()
            } else {
                r#"<p class="empty">This customer has no invoice. <a href="/admin/invoices">Show every invoice</a>.</p>"#.to_owned()
            };
            (StatusCode::OK, FieldErrors::new(), empty)
        }
        Ok(page) => {
            let extra = if account.is_empty() {
                String::new()
            } else {
                format!("&account={}", query_value(&account))
            };
            let list = format!(
                "{}{}",
                table(&page, true),
                pager("/admin/invoices", &extra, page.next_cursor.as_ref())
            );
            (StatusCode::OK, FieldErrors::new(), list)
        }
        Err(p) if p.field.is_some() => {
            let status = p.status_code();
            let mut e = FieldErrors::new();
            e.insert(p.field.unwrap_or_default(), p.detail);
            (status, e, String::new())
        }
        Err(p) => return error_page(&p),
    };
    let filter = format!(
        r#"<form method="get" action="/admin/invoices" class="filters">{banner}{account}<button type="submit">Show</button></form>"#,
        banner = banner(&errors),
        account = field(
            "Customer",
            "account",
            "text",
            &account,
            errors.get("account").map(String::as_str),
            "user@domain; empty: every customer"
        ),
    );
    let body = format!(
        r#"<h1>Invoices</h1><section class="card">{filter}</section><section class="card">{list}</section>"#
    );
    (status, Html(layout("Invoices", Some(&caller), &body))).into_response()
}
