//! `/admin/calls/live`: the calls in progress (state, parties, how long, the relay's
//! counters, the node and the source), each answered one with a hang-up button: a form posted with the session's
//! form token to `/admin/calls/live/hangup`, which calls [`crate::api::live_calls`].

use std::collections::HashMap;
use std::fmt::Write;

use axum::extract::{Query, Request, State};
use axum::response::{Html, IntoResponse, Response};

use super::admin::{admin, checked_form};
use super::selfcare::minutes;
use super::{
    banner, csrf_field, error_page, esc, layout, see_other, when, FieldErrors, MaybeCaller,
    TimeStyle,
};
use crate::api::live_calls::{self, is_answered};
use crate::auth::Caller;
use crate::problem::Problem;
use crate::AppState;

/// A byte count for people: `512 B`, `3.4 KiB`, `1.2 MiB`.
fn bytes(n: u64) -> String {
    const KIB: u64 = 1024;
    match n {
        n if n < KIB => format!("{n} B"),
        n if n < KIB * KIB => format!("{:.1} KiB", n as f64 / KIB as f64),
        n => format!("{:.1} MiB", n as f64 / (KIB * KIB) as f64),
    }
}

async fn page(
    state: &AppState,
    caller: &Caller,
    errors: &FieldErrors,
    top: &str,
) -> Result<String, Problem> {
    let calls = live_calls::list(state, caller, HashMap::new()).await?;
    let list = if calls.items.is_empty() {
        r#"<p class="empty">No call in progress. Calls show here while they ring and while they last; reload the page to see new ones.</p>"#.to_owned()
    } else {
        let mut rows = String::new();
        for c in &calls.items {
            let action = if is_answered(c) {
                format!(
                    r#"<form method="post" action="/admin/calls/live/hangup" class="inline">{csrf}<input type="hidden" name="call_id" value="{id}"><button class="danger small" title="send a BYE to both phones">Hang up</button></form>"#,
                    csrf = csrf_field(caller),
                    id = esc(&c.call_id),
                )
            } else {
                String::new()
            };
            let state_text = if is_answered(c) {
                "answered"
            } else {
                "ringing"
            };
            let _ = write!(
                rows,
                r#"<tr><td>{caller} → {callee}<p class="meta">Call-ID <code>{id}</code> · node {node}{source}</p></td><td>{state_text}</td><td class="num">{duration}</td><td>{started}</td><td>{media}</td><td>{action}</td></tr>"#,
                caller = esc(&c.caller),
                callee = esc(&c.callee),
                duration = minutes(c.duration_secs.saturating_mul(1000)),
                started = when(&c.started, TimeStyle::TimeOfDay),
                node = esc(&c.node),
                source = c
                    .source_ip
                    .as_deref()
                    .map(|s| format!(" · from {}", esc(s)))
                    .unwrap_or_default(),
                id = esc(&c.call_id),
                media = match &c.media {
                    Some(m) => format!(
                        "{} RTP packets, {}<br>{} lost",
                        m.rtp_packets,
                        bytes(m.rtp_bytes),
                        m.lost
                    ),
                    None => r#"<span class="meta">not relayed here</span>"#.to_owned(),
                },
            );
        }
        format!(
            r#"<div class="scroll"><table><thead><tr><th>Call</th><th>State</th><th class="num">Duration</th><th>Started</th><th>Relay</th><th></th></tr></thead><tbody>{rows}</tbody></table></div><p class="hint">Duration is talk time once answered, ringing time before. Hang up sends a BYE to both phones; the call's record says an admin ended it.</p>"#
        )
    };
    let body = format!(
        r#"{top}<h1>Calls in progress</h1><section class="card">{banner}{list}</section>"#,
        banner = banner(errors),
    );
    Ok(layout("Calls in progress", Some(caller), &body))
}

/// The live calls page.
pub async fn show(
    State(state): State<AppState>,
    caller: MaybeCaller,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let caller = match admin(caller) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let top = match query.get("notice").map(String::as_str) {
        Some("ended") => {
            r#"<p class="banner ok" role="status">Call ended: a BYE went to both phones.</p>"#
        }
        _ => "",
    };
    match page(&state, &caller, &FieldErrors::new(), top).await {
        Ok(html) => Html(html).into_response(),
        Err(p) => error_page(&p),
    }
}

/// Hangs up a call.
pub async fn hang_up(State(state): State<AppState>, caller: MaybeCaller, req: Request) -> Response {
    let caller = match admin(caller) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let fields = match checked_form(&caller, req).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let call_id = fields.get("call_id").map(String::as_str).unwrap_or("");
    match live_calls::hang_up(&state, &caller, call_id) {
        Ok(()) => see_other("/admin/calls/live?notice=ended"),
        Err(p) => {
            let status = p.status_code();
            let mut errors = FieldErrors::new();
            errors.insert(String::new(), p.detail);
            match page(&state, &caller, &errors, "").await {
                Ok(html) => (status, Html(html)).into_response(),
                Err(p) => error_page(&p),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn byte_counts_read_well() {
        assert_eq!(super::bytes(512), "512 B");
        assert_eq!(super::bytes(516_000), "503.9 KiB");
        assert_eq!(super::bytes(3 * 1024 * 1024), "3.0 MiB");
    }
}
