//! `/admin/audit`: the audit log of admin changes, newest first, with filters (from,
//! before, actor) and a link to the next page; the same operation as `GET /api/v1/audit`.

use std::collections::HashMap;
use std::fmt::Write;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use super::admin::admin;
use super::{
    banner, error_page, esc, field, field_errors, layout, query_value, when, MaybeCaller, TimeStyle,
};
use crate::api::audit;
use crate::AppState;

/// The audit page (`?since=`, `?until=`, `?actor=`, `?cursor=`).
pub async fn show(
    State(state): State<AppState>,
    caller: MaybeCaller,
    Query(fields): Query<HashMap<String, String>>,
) -> Response {
    let caller = match admin(caller) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let typed = |name: &str| fields.get(name).cloned().unwrap_or_default();
    let (since, until, actor) = (typed("since"), typed("until"), typed("actor"));
    let (status, errors, table) = match audit::page(&state, &caller, fields.clone()).await {
        Ok(page) => {
            let table = if page.items.is_empty() {
                r#"<p class="empty">No admin change recorded here. Every change an admin makes (in these pages, through the API or with the itsp admin commands) shows here; change the filters to see others.</p>"#.to_owned()
            } else {
                let mut rows = String::new();
                for e in &page.items {
                    let _ = write!(
                        rows,
                        r#"<tr><td class="nowrap">{at}</td><td>{actor}</td><td>{source}</td><td><code class="path">{action}</code>{detail}</td><td class="num">{status}</td></tr>"#,
                        at = when(&e.at, TimeStyle::DateTime),
                        actor = esc(&e.actor),
                        source = esc(&e.source),
                        // Broken after a slash, not inside a word.
                        action = esc(&e.action).replace('/', "/<wbr>"),
                        detail = e
                            .detail
                            .as_deref()
                            .map(|d| format!(r#"<p class="meta">{}</p>"#, esc(d)))
                            .unwrap_or_default(),
                        status = e.status,
                    );
                }
                let mut filters = String::new();
                for (name, value) in [("since", &since), ("until", &until), ("actor", &actor)] {
                    if !value.is_empty() {
                        let _ = write!(filters, "&{name}={}", query_value(value));
                    }
                }
                let next = match &page.next_cursor {
                    Some(c) => format!(
                        r#"<p class="pager"><a href="/admin/audit?cursor={}{}">Older changes →</a></p>"#,
                        query_value(c),
                        esc(&filters)
                    ),
                    None => String::new(),
                };
                format!(
                    r#"<div class="scroll"><table><thead><tr><th>When</th><th>Who</th><th>From</th><th>What</th><th>Status</th></tr></thead><tbody>{rows}</tbody></table></div>{next}"#
                )
            };
            (StatusCode::OK, HashMap::new(), table)
        }
        Err(p) if p.field.is_some() => {
            let mut errors = field_errors(&[p]);
            // A problem of a parameter without a field here (cursor, limit) goes on top.
            for name in ["cursor", "limit"] {
                if let Some(e) = errors.remove(name) {
                    errors.insert(String::new(), e);
                }
            }
            (StatusCode::UNPROCESSABLE_ENTITY, errors, String::new())
        }
        Err(p) => return error_page(&p),
    };
    let e = |name: &str| errors.get(name).map(String::as_str);
    let body = format!(
        r#"<h1>Audit log</h1>
<section class="card"><p class="lead">Every change an admin made, newest first: who, from which address, what (passwords and other secrets are never kept) and the answer. Changes made with the itsp admin commands show as <code>cli:USER</code> from <code>local</code>, with their exit status (0: done).</p>
<form method="get" action="/admin/audit" class="filters">{banner}{since}{until}{actor}<button type="submit">Show</button></form>
<p class="hint">From and before: a date (2026-11-01), a time in RFC 3339 or Unix seconds, in UTC; empty: no limit.</p></section>
<section class="card">{table}</section>"#,
        banner = banner(&errors),
        since = field("From", "since", "text", &since, e("since"), ""),
        until = field("Before", "until", "text", &until, e("until"), ""),
        actor = field(
            "Who",
            "actor",
            "text",
            &actor,
            e("actor"),
            "user@domain, token N or cli:USER"
        ),
    );
    (status, Html(layout("Audit log", Some(&caller), &body))).into_response()
}
