//! A subscriber's own records: `/calls` (call history with the missed-calls filter and
//! times, a page at a time, and `/calls.csv` with the same filters; its table, pager and
//! date fields are shared with the admins' `/admin/calls`), `/account` (balance,
//! the ledger, and the price of a call under the subscriber's own plan) and `/voicemail` (messages played in the browser, downloaded, marked
//! heard, removed; the greeting, `greeting.rs`). Each handler calls the API's operation (`crate::api::calls`,
//! `accounts`, `voicemail`), so the checks and the authorisation are one code path.

use std::collections::HashMap;
use std::fmt::Write;

use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use store::Address;

use super::{
    banner, csrf_field, error_page, esc, field, field_errors, form_fields, layout, notice,
    query_value, see_other, when, FieldErrors, MaybeCaller, TimeStyle,
};
use crate::api::calls::{self, CallPage, CallQuery, CallView};
use crate::api::voicemail::{self, VoicemailView};
use crate::api::{accounts, rates};
use crate::auth::Caller;
use crate::problem::Problem;
use crate::AppState;

/// The logged-in subscriber, or the page to answer instead.
pub(super) fn subscriber(caller: MaybeCaller) -> Result<(Caller, Address), Response> {
    let caller = caller.or_login()?;
    match caller.address.clone() {
        Some(me) => Ok((caller, me)),
        None => Err(error_page(&Problem::forbidden(
            "an admin token has no own records; log in as a subscriber",
        ))),
    }
}

/// A length in milliseconds as `m:ss`.
pub fn minutes(ms: i64) -> String {
    let secs = (ms.max(0) + 999) / 1000;
    format!("{}:{:02}", secs / 60, secs % 60)
}

/// The query string of the filters of `q` (no paging), each `&name=value`.
fn filter_query(q: &CallQuery) -> String {
    let mut out = String::new();
    for (name, value) in [
        ("user", &q.user),
        ("missed", &q.missed),
        ("since", &q.since),
        ("until", &q.until),
        ("disposition", &q.disposition),
    ] {
        if let Some(v) = value {
            let _ = write!(out, "&{name}={}", query_value(v));
        }
    }
    out
}

/// A `?...` from `&a=b&c=d` (or nothing).
fn query_string(pairs: &str) -> String {
    match pairs.strip_prefix('&') {
        Some(rest) => format!("?{rest}"),
        None => String::new(),
    }
}

/// The rows of a call table.
pub fn call_rows(items: &[CallView]) -> String {
    let mut out = String::from(
        r#"<div class="scroll"><table><thead><tr><th>Start</th><th>From</th><th>To</th><th>Result</th><th>Talk</th><th>Cost</th></tr></thead><tbody>"#,
    );
    for c in items {
        let result = match &c.reason {
            Some(r) => format!("{} ({} {})", c.disposition.replace('_', " "), c.code, r),
            None => format!("{} ({})", c.disposition.replace('_', " "), c.code),
        };
        let cost = match (&c.cost, &c.currency) {
            (Some(cost), Some(cur)) => format!("{cost} {cur}"),
            _ => String::new(),
        };
        let _ = write!(
            out,
            "<tr><td>{}</td><td><code>{}</code></td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            when(&c.start, TimeStyle::DateTime),
            esc(&c.caller_uri),
            esc(&c.dialled_uri),
            esc(&result),
            minutes(c.billable_secs.saturating_mul(1000)),
            esc(&cost),
        );
    }
    out.push_str("</tbody></table></div>");
    out
}

/// A page of calls listed at `base` (`/calls`, `/admin/calls`) with the filters of `q`:
/// its table (or `empty` when it has no row) and the pager — back to the oldest, the
/// next page by cursor, the CSV at `{base}.csv` with the same filters.
pub(super) fn call_table(
    base: &str,
    q: &CallQuery,
    page: &CallPage,
    empty: &str,
) -> (String, String) {
    let filters = filter_query(q);
    let table = if page.items.is_empty() {
        empty.to_owned()
    } else {
        call_rows(&page.items)
    };
    let mut links = String::new();
    if q.cursor.is_some() {
        let _ = write!(
            links,
            r#"<a href="{base}{}">← Oldest calls</a> "#,
            esc(&query_string(&filters))
        );
    }
    if let Some(next) = &page.next_cursor {
        let _ = write!(
            links,
            r#"<a href="{base}?cursor={}{}">Newer calls →</a>"#,
            query_value(next),
            esc(&filters)
        );
    }
    let links = format!(
        r#"<p class="pager">{links} <a href="{base}.csv{}" download>Download CSV</a></p>"#,
        esc(&query_string(&filters))
    );
    (table, links)
}

/// The "From" and "Before" fields of a call filter form, with their errors.
pub(super) fn date_fields(since: &str, until: &str, errors: &FieldErrors) -> String {
    let e = |name: &str| errors.get(name).map(String::as_str);
    format!(
        "{}{}",
        field("From", "since", "text", since, e("since"), ""),
        field("Before", "until", "text", until, e("until"), "")
    )
}

/// The hint under a call filter form.
pub(super) const DATE_HINT: &str = "From and before: a date (2026-11-01), a time in RFC 3339 or Unix seconds, in UTC; empty: no limit.";

/// `/calls`: the call history, filters as a GET form.
pub async fn calls_page(
    State(state): State<AppState>,
    caller: MaybeCaller,
    Query(fields): Query<HashMap<String, String>>,
) -> Response {
    let (caller, me) = match subscriber(caller) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let typed = |name: &str| fields.get(name).cloned().unwrap_or_default();
    let (since, until, missed) = (typed("since"), typed("until"), typed("missed") == "true");
    let result = match CallQuery::from_fields(fields.clone(), false) {
        Ok(q) => calls::of(&state, &caller, &me, &q).await.map(|p| (q, p)),
        Err(p) => Err(p),
    };
    let (status, errors, table, links) = match result {
        Ok((q, page)) => {
            let what = if missed { "missed calls" } else { "calls" };
            let empty = format!(
                r#"<p class="empty">No {what} here. Calls you make and calls to you show here once they end; change the dates to see others.</p>"#
            );
            let (table, links) = call_table("/calls", &q, &page, &empty);
            (StatusCode::OK, HashMap::new(), table, links)
        }
        Err(p) if p.field.is_some() => (
            StatusCode::UNPROCESSABLE_ENTITY,
            field_errors(&[p]),
            String::new(),
            String::new(),
        ),
        Err(p) => return error_page(&p),
    };
    let tabs = if missed {
        r#"<p><a href="/calls">All calls</a> · <strong>Missed calls</strong></p>"#
    } else {
        r#"<p><strong>All calls</strong> · <a href="/calls?missed=true">Missed calls</a></p>"#
    };
    let hint = DATE_HINT;
    let body = format!(
        r#"<h1>Call history</h1>
<section class="card">{tabs}
<form method="get" action="/calls" class="filters">{banner}{missed_field}{dates}<button type="submit">Show</button></form>
<p class="hint">{hint}</p></section>
<section class="card"><h2>{title}</h2><p class="lead">Oldest first.</p>{table}{links}</section>"#,
        banner = banner(&errors),
        missed_field = if missed {
            r#"<input type="hidden" name="missed" value="true">"#
        } else {
            ""
        },
        dates = date_fields(&since, &until, &errors),
        title = if missed { "Missed calls" } else { "Calls" },
        hint = esc(hint),
    );
    (status, Html(layout("Call history", Some(&caller), &body))).into_response()
}

/// `/calls.csv`: the history with the same filters as CSV.
pub async fn calls_csv(
    State(state): State<AppState>,
    caller: MaybeCaller,
    Query(fields): Query<HashMap<String, String>>,
) -> Response {
    let (caller, me) = match subscriber(caller) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let result = match CallQuery::from_fields(fields, false) {
        Ok(q) => calls::csv_of(&state, &caller, &me, &q).await,
        Err(p) => Err(p),
    };
    match result {
        Ok(body) => calls::csv_response(body),
        Err(p) => error_page(&p),
    }
}

/// `/account`: balance, kind, plan, currency and the ledger (oldest first, a page at a
/// time).
pub async fn account_page(
    State(state): State<AppState>,
    caller: MaybeCaller,
    Query(fields): Query<HashMap<String, String>>,
) -> Response {
    let (caller, me) = match subscriber(caller) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let account = match accounts::get(&state, &caller, &me).await {
        Ok(a) => a,
        Err(p) if p.status == 404 => {
            let body = r#"<h1>Your account</h1><section class="card"><p class="empty">You have no account: your calls are not charged. Ask your provider if you want prepaid credit or a postpaid plan.</p></section>"#;
            return Html(layout("Account", Some(&caller), body)).into_response();
        }
        Err(p) => return error_page(&p),
    };
    let cursor: HashMap<String, String> = fields
        .get("cursor")
        .map(|c| ("cursor".to_owned(), c.clone()))
        .into_iter()
        .collect();
    let page = match accounts::ledger(&state, &caller, &me, cursor).await {
        Ok(p) => p,
        Err(p) => return error_page(&p),
    };
    let mut ledger = String::new();
    if page.items.is_empty() {
        ledger.push_str(
            r#"<p class="empty">No entries yet: top-ups and charged calls show here.</p>"#,
        );
    } else {
        ledger.push_str(r#"<div class="scroll"><table><thead><tr><th>When</th><th>What</th><th class="num">Amount</th><th class="num">Balance after</th><th>Note</th></tr></thead><tbody>"#);
        for e in &page.items {
            let note = match (&e.note, &e.call_id) {
                (Some(n), _) => esc(n),
                (None, Some(c)) => format!("call <code>{}</code>", esc(c)),
                (None, None) => String::new(),
            };
            let _ = write!(
                ledger,
                r#"<tr><td>{}</td><td>{}</td><td class="num">{} {cur}</td><td class="num">{} {cur}</td><td>{note}</td></tr>"#,
                when(&e.at, TimeStyle::DateTime),
                esc(&e.kind.replace('_', " ")),
                esc(&e.amount),
                esc(&e.balance_after),
                cur = esc(&account.currency),
            );
        }
        ledger.push_str("</tbody></table></div>");
    }
    let mut pager = String::new();
    if fields.contains_key("cursor") {
        pager.push_str(r#"<a href="/account">← First entries</a> "#);
    }
    if let Some(next) = &page.next_cursor {
        let _ = write!(
            pager,
            r#"<a href="/account?cursor={}">Later entries →</a>"#,
            query_value(next)
        );
    }
    let (status, price) = price_card(&state, &caller, &me, &fields).await;
    let body = format!(
        r#"<h1>Your account</h1>
<section class="card"><p class="balance">{balance} {currency}</p>
<dl class="facts"><dt>Kind</dt><dd>{kind}</dd><dt>Plan</dt><dd>{plan}</dd><dt>Currency</dt><dd>{currency}</dd></dl></section>
<section class="card"><h2>History</h2><p class="lead">Oldest first.</p>{ledger}<p class="pager">{pager}</p></section>
{price}"#,
        balance = esc(&account.balance),
        currency = esc(&account.currency),
        kind = esc(&account.kind),
        plan = esc(account.plan.as_deref().unwrap_or("the default plan")),
    );
    (status, Html(layout("Account", Some(&caller), &body))).into_response()
}

/// The "what would a call cost me" form of the account page (`?to=&duration=`): the
/// subscriber's own plan through [`rates::test`]; its answer or the errors at their field.
async fn price_card(
    state: &AppState,
    caller: &Caller,
    me: &Address,
    fields: &HashMap<String, String>,
) -> (StatusCode, String) {
    let typed = |name: &str| fields.get(name).map(String::as_str).unwrap_or_default();
    let asked = fields.contains_key("to") || fields.contains_key("duration");
    let mut errors = HashMap::new();
    let mut status = StatusCode::OK;
    let mut result = String::new();
    if asked {
        let mut q: HashMap<String, String> = ["to", "duration"]
            .into_iter()
            .map(|n| (n.to_owned(), typed(n).to_owned()))
            .collect();
        q.insert("from".to_owned(), me.to_string());
        let priced = match rates::RateQuery::from_fields(q) {
            Ok(q) => rates::test(state, caller, q).await,
            Err(p) => Err(p),
        };
        match priced {
            Ok(r) => {
                result = format!(
                    r#"<div class="rate-result" role="status"><p class="balance">{total} {cur}</p><p>{dest} (prefix <code>{prefix}</code>): {billed} s billed of {duration} s, now.</p><pre>{explanation}</pre></div>"#,
                    total = esc(&r.total),
                    cur = esc(&r.currency),
                    dest = esc(&r.destination),
                    prefix = esc(&r.prefix),
                    billed = r.billed_secs,
                    duration = r.duration_secs,
                    explanation = esc(&r.explanation),
                );
            }
            Err(p) => {
                status = p.status_code();
                errors = field_errors(&[p]);
            }
        }
    }
    let card = format!(
        r#"<section class="card"><h2>What does a call cost?</h2><form method="get" action="/account" class="filters" novalidate>{banner}{to}{duration}<button type="submit">Price it</button></form>{result}</section>"#,
        banner = banner(&errors),
        to = field(
            "Number",
            "to",
            "text",
            typed("to"),
            errors.get("to").map(String::as_str),
            "e.g. +46812345"
        ),
        duration = field(
            "Seconds",
            "duration",
            "number",
            typed("duration"),
            errors.get("duration").map(String::as_str),
            ""
        ),
    );
    (status, card)
}

fn voicemail_rows(caller: &Caller, list: &[VoicemailView]) -> String {
    if list.is_empty() {
        return r#"<p class="empty">No messages. Callers reach your mailbox when you are busy, do not answer or are offline and voicemail is on; dial *97 from your phone to listen there.</p>"#.to_owned();
    }
    let mut out = String::from(r#"<ul class="messages">"#);
    for m in list {
        let (badge, heard) = if m.new {
            (
                r#"<span class="badge new">New</span>"#,
                format!(
                    r#"<form method="post" action="/voicemail/heard" class="inline">{}<input type="hidden" name="id" value="{}"><button class="small">Mark heard</button></form>"#,
                    csrf_field(caller),
                    m.id
                ),
            )
        } else {
            (r#"<span class="badge">Heard</span>"#, String::new())
        };
        let _ = write!(
            out,
            r#"<li class="message"><div><strong><code>{from}</code></strong> {badge}
<p class="meta">{when} · {length}</p>
<audio controls preload="none" src="/voicemail/{id}/audio">Your browser cannot play it here: download it.</audio></div>
<div class="actions"><a href="/voicemail/{id}/audio?download=1" download>Download WAV</a> {heard}
<form method="post" action="/voicemail/remove" class="inline">{csrf}<input type="hidden" name="id" value="{id}"><button class="danger small">Delete</button></form></div></li>"#,
            from = esc(&m.caller),
            when = when(&m.created, TimeStyle::DateTime),
            length = minutes(m.duration_ms),
            id = m.id,
            csrf = csrf_field(caller),
        );
    }
    out.push_str("</ul>");
    out
}

/// `/voicemail`: the messages, newest first, and the greeting.
pub async fn voicemail_page(
    State(state): State<AppState>,
    caller: MaybeCaller,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let (caller, me) = match subscriber(caller) {
        Ok(x) => x,
        Err(r) => return r,
    };
    match voicemail_body(&state, &caller, &me, &query, None).await {
        Ok(body) => Html(layout("Voicemail", Some(&caller), &body)).into_response(),
        Err(r) => r,
    }
}

/// The voicemail page's content; `greeting_error`: the upload's problem, shown next to
/// the file field.
pub(super) async fn voicemail_body(
    state: &AppState,
    caller: &Caller,
    me: &Address,
    query: &HashMap<String, String>,
    greeting_error: Option<&str>,
) -> Result<String, Response> {
    let list = voicemail::list(state, caller, me)
        .await
        .map_err(|p| error_page(&p))?;
    let greeting = crate::api::greeting::read(state, caller, me)
        .await
        .map_err(|p| error_page(&p))?;
    let new = list.iter().filter(|m| m.new).count();
    Ok(format!(
        r#"{notice}<h1>Voicemail</h1>
<section class="card"><h2>{count}</h2><p class="lead">Newest first; {new} new.</p>{rows}</section>
{greeting}"#,
        notice = notice(query),
        count = match list.len() {
            1 => "1 message".to_owned(),
            n => format!("{n} messages"),
        },
        rows = voicemail_rows(caller, &list),
        greeting = super::greeting::card(
            caller,
            &greeting,
            state.config().voicemail_dir.is_some(),
            greeting_error
        ),
    ))
}

/// `/voicemail/{id}/audio` (`?download=1`: as an attachment).
pub async fn voicemail_audio(
    State(state): State<AppState>,
    caller: MaybeCaller,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let (caller, me) = match subscriber(caller) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let id = match voicemail::message_id(&id) {
        Ok(id) => id,
        Err(p) => return error_page(&Problem::not_found(p.detail)),
    };
    match voicemail::audio(&state, &caller, &me, id).await {
        Ok(bytes) => voicemail::wav_response(bytes, id, query.contains_key("download")),
        Err(p) => error_page(&p),
    }
}

/// The message a voicemail form posts about, after the form token is checked.
async fn voicemail_form(
    caller: MaybeCaller,
    req: Request,
) -> Result<(Caller, Address, i64), Response> {
    let (caller, me) = subscriber(caller)?;
    let fields = form_fields(req).await?;
    caller
        .check_form_token(fields.get("csrf").map(String::as_str))
        .map_err(|p| error_page(&p))?;
    let id = voicemail::message_id(fields.get("id").map(String::as_str).unwrap_or_default())
        .map_err(|p| error_page(&p))?;
    Ok((caller, me, id))
}

/// Removes a message (row and recording).
pub async fn remove_voicemail(
    State(state): State<AppState>,
    caller: MaybeCaller,
    req: Request,
) -> Response {
    let (caller, me, id) = match voicemail_form(caller, req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    match voicemail::remove(&state, &caller, &me, id).await {
        Ok(()) => see_other("/voicemail?notice=removed"),
        Err(p) => error_page(&p),
    }
}

/// Marks a message heard.
pub async fn mark_voicemail_heard(
    State(state): State<AppState>,
    caller: MaybeCaller,
    req: Request,
) -> Response {
    let (caller, me, id) = match voicemail_form(caller, req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    match voicemail::mark_heard(&state, &caller, &me, id).await {
        Ok(()) => see_other("/voicemail?notice=saved"),
        Err(p) => error_page(&p),
    }
}
