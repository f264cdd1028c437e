//! `/dashboard`: a subscriber's own page — the balance, new voicemail and the last missed
//! calls (linking to `/account`, `/voicemail`, `/calls`), registered devices with their
//! User-Agent and a NAT verdict, call forwarding (a form whose errors show next to each field), aliases and
//! groups; a "Call" form (click-to-dial, `POST /dashboard/call`: the subscriber's phone
//! rings, then the target is called; `api::click_to_dial`) with a "Call back" button on
//! each missed call. It reads and writes through the API's operations.

use std::collections::HashMap;
use std::fmt::Write;

use axum::extract::{Query, Request, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use super::{
    banner, csrf_field, error_page, esc, field, field_errors, form_fields, layout, notice,
    see_other, when, FieldErrors, MaybeCaller, TimeStyle,
};
use crate::api::calls::{self, CallQuery, CallView};
use crate::api::forwarding::{self, FIELDS};
use crate::api::registrations::{self, RegistrationView};
use crate::api::{accounts, click_to_dial, subscribers, voicemail};
use crate::auth::Caller;
use crate::problem::Problem;
use crate::AppState;

/// The NAT verdict of a device, in words.
pub fn nat_verdict(r: &RegistrationView) -> &'static str {
    if r.nat {
        "Your phone is behind a NAT; calls are relayed."
    } else {
        "Your phone is reachable directly; no NAT was seen."
    }
}

fn devices(caller: &Caller, list: &[RegistrationView]) -> String {
    if list.is_empty() {
        return r#"<p class="empty">No phone is registered. Set up your phone with your address as the user name, the SIP password, and this server as the registrar; it shows here once it has registered.</p>"#.to_owned();
    }
    let mut out = String::from(r#"<ul class="devices">"#);
    for r in list {
        let agent = if r.user_agent.is_empty() {
            "A phone that gave no name"
        } else {
            &r.user_agent
        };
        let class = if r.nat { "nat" } else { "direct" };
        let _ = write!(
            out,
            r#"<li class="device"><div><strong>{agent}</strong>
<p class="verdict {class}">{verdict}</p>
<p class="meta">From {received} over {transport} · registered until {expires} · <code>{contact}</code></p></div>
<form method="post" action="/dashboard/registrations/remove">{csrf}<input type="hidden" name="contact" value="{contact}"><button class="danger small">Remove</button></form></li>"#,
            agent = esc(agent),
            verdict = nat_verdict(r),
            received = esc(&r.received),
            transport = esc(&r.transport.to_uppercase()),
            expires = when(&r.expires_at, TimeStyle::DateTime),
            contact = esc(&r.contact),
            csrf = csrf_field(caller),
        );
    }
    out.push_str("</ul>");
    out
}

fn forwarding_form(caller: &Caller, values: &[Option<String>; 4], errors: &FieldErrors) -> String {
    let labels = [
        (
            "Forward every call to",
            "text",
            "sip:bob@example.com or tel:+4684567890; empty: off",
        ),
        ("When busy, forward to", "text", "empty: off"),
        ("When not answered, forward to", "text", "empty: off"),
        (
            "Seconds of ringing before that",
            "number",
            "1 to 600; empty: the server's default",
        ),
    ];
    let mut inputs = String::new();
    for (((name, _), (label, kind, hint)), value) in FIELDS.iter().zip(labels).zip(values) {
        inputs.push_str(&field(
            label,
            name,
            kind,
            value.as_deref().unwrap_or_default(),
            errors.get(*name).map(String::as_str),
            hint,
        ));
    }
    format!(
        r#"<form method="post" action="/dashboard/forwarding" novalidate>{csrf}{banner}{inputs}<button type="submit" class="primary">Save forwarding</button></form>"#,
        csrf = csrf_field(caller),
        banner = banner(errors),
    )
}

/// The click-to-dial form: whom to call, the error next to the field.
fn call_form(caller: &Caller, target: &str, errors: &FieldErrors) -> String {
    format!(
        r#"<form method="post" action="/dashboard/call" novalidate>{csrf}{input}<button type="submit" class="primary">Call</button></form>"#,
        csrf = csrf_field(caller),
        input = field(
            "Whom to call",
            "target",
            "text",
            target,
            errors.get("target").map(String::as_str),
            "a name, a number or sip:bob@example.com: your phone rings first, then the call is placed"
        ),
    )
}

/// A "Call back" button for a missed call from `uri` (none for a click-to-dial call of
/// one's own that was not answered: it came from the media service).
fn call_back(caller: &Caller, uri: &str) -> String {
    let own_dial = crate::api::live_calls::uri_address(uri)
        .is_some_and(|a| a.user == media::service::click_to_dial::CLICK_TO_DIAL);
    if own_dial {
        return String::new();
    }
    format!(
        r#" <form method="post" action="/dashboard/call" class="inline">{csrf}<input type="hidden" name="target" value="{uri}"><button class="small">Call back</button></form>"#,
        csrf = csrf_field(caller),
        uri = esc(uri),
    )
}

/// How many missed calls the dashboard lists.
const MISSED_SHOWN: usize = 5;
/// How far back the dashboard looks for missed calls.
const MISSED_WITHIN_SECS: i64 = 30 * 24 * 3600;

/// The last missed calls of `me` (within [`MISSED_WITHIN_SECS`]), newest first.
async fn last_missed(
    state: &AppState,
    caller: &Caller,
    me: &store::Address,
) -> Result<Vec<CallView>, Problem> {
    let mut query = CallQuery {
        missed: Some("true".to_owned()),
        since: Some((crate::time::unix_now() - MISSED_WITHIN_SECS).to_string()),
        limit: Some(calls::MAX_PAGE.to_string()),
        ..CallQuery::default()
    };
    let mut last: std::collections::VecDeque<CallView> = std::collections::VecDeque::new();
    // The history comes oldest first: read to its end (a bounded number of pages).
    for _ in 0..20 {
        let page = calls::of(state, caller, me, &query).await?;
        for c in page.items {
            if last.len() == MISSED_SHOWN {
                last.pop_front();
            }
            last.push_back(c);
        }
        match page.next_cursor {
            Some(next) => query.cursor = Some(next),
            None => break,
        }
    }
    Ok(last.into_iter().rev().collect())
}

/// The balance, new voicemail and missed calls, with links to their pages.
async fn summary(
    state: &AppState,
    caller: &Caller,
    me: &store::Address,
) -> Result<String, Problem> {
    let balance = match accounts::get(state, caller, me).await {
        Ok(a) => format!(
            r#"<li>Balance: <strong>{} {}</strong> ({}) · <a href="/account">Account history</a></li>"#,
            esc(&a.balance),
            esc(&a.currency),
            esc(&a.kind)
        ),
        Err(p) if p.status == 404 => String::new(),
        Err(p) => return Err(p),
    };
    let messages = voicemail::list(state, caller, me).await?;
    let new = messages.iter().filter(|m| m.new).count();
    let voicemail = format!(
        r#"<li>Voicemail: <strong>{}</strong> · <a href="/voicemail">Listen</a></li>"#,
        match new {
            0 => "no new messages".to_owned(),
            1 => "1 new message".to_owned(),
            n => format!("{n} new messages"),
        }
    );
    let missed = last_missed(state, caller, me).await?;
    let missed = if missed.is_empty() {
        r#"<p class="empty">No missed calls in the last 30 days.</p>"#.to_owned()
    } else {
        let mut s = String::from(r#"<ul class="summary">"#);
        for c in &missed {
            let _ = write!(
                s,
                "<li>{} from <code>{}</code> ({}){}</li>",
                esc(&c.start),
                esc(&c.caller_uri),
                esc(&c.disposition.replace('_', " ")),
                call_back(caller, &c.caller_uri)
            );
        }
        s.push_str("</ul>");
        s
    };
    Ok(format!(
        r#"<section class="card"><h2>At a glance</h2><ul class="summary">{balance}{voicemail}<li><a href="/calls">Call history</a></li></ul>
<h3>Last missed calls</h3>{missed}<p><a href="/calls?missed=true">All missed calls</a></p></section>"#
    ))
}

async fn render(
    state: &AppState,
    caller: &Caller,
    forwarding_values: Option<[Option<String>; 4]>,
    errors: &FieldErrors,
    top: &str,
    target: &str,
) -> Result<String, Problem> {
    let Some(me) = caller.address.clone() else {
        return Err(Problem::forbidden(
            "an admin token has no dashboard; log in as a subscriber",
        ));
    };
    let detail = subscribers::detail(state, caller, &me).await?;
    let devices_list = registrations::of(state, caller, &me).await?;
    let summary = summary(state, caller, &me).await?;
    let values = forwarding_values.unwrap_or_else(|| detail.forwarding.texts());
    let list = |items: &[String], empty: &str| {
        if items.is_empty() {
            format!(r#"<p class="empty">{}</p>"#, esc(empty))
        } else {
            let mut s = String::from(r#"<ul class="tags">"#);
            for i in items {
                let _ = write!(s, "<li>{}</li>", esc(i));
            }
            s.push_str("</ul>");
            s
        }
    };
    let body = format!(
        r#"{top}<h1>Hello, {me}</h1>
{summary}
<section class="card"><h2>Place a call</h2>{call}</section>
<section class="card"><h2>Your devices</h2>{devices}</section>
<section class="card"><h2>Call forwarding</h2>{forwarding}</section>
<section class="card"><h2>Your numbers and permissions</h2>
<h3>Aliases</h3>{aliases}<h3>Groups</h3>{groups}</section>"#,
        me = esc(&me.to_string()),
        call = call_form(caller, target, errors),
        devices = devices(caller, &devices_list),
        forwarding = forwarding_form(caller, &values, errors),
        aliases = list(&detail.aliases, "No other address reaches you."),
        groups = list(
            &detail.groups,
            "In no group: calls to numbers may be refused."
        ),
    );
    Ok(layout("My phone", Some(caller), &body))
}

/// The dashboard.
pub async fn show(
    State(state): State<AppState>,
    caller: MaybeCaller,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let caller = match caller.or_login() {
        Ok(c) => c,
        Err(r) => return r,
    };
    match render(
        &state,
        &caller,
        None,
        &FieldErrors::new(),
        &notice(&query),
        "",
    )
    .await
    {
        Ok(html) => Html(html).into_response(),
        Err(p) => error_page(&p),
    }
}

/// Saves the forwarding form; errors come back next to their fields (422).
pub async fn save_forwarding(
    State(state): State<AppState>,
    caller: MaybeCaller,
    req: Request,
) -> Response {
    let caller = match caller.or_login() {
        Ok(c) => c,
        Err(r) => return r,
    };
    let fields = match form_fields(req).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    if let Err(p) = caller.check_form_token(fields.get("csrf").map(String::as_str)) {
        return error_page(&p);
    }
    let Some(me) = caller.address.clone() else {
        return error_page(&Problem::forbidden("log in as a subscriber"));
    };
    let values = FIELDS.map(|(name, _)| fields.get(name).cloned());
    match forwarding::replace(&state, &caller, &me, values.clone()).await {
        Ok(()) => see_other("/dashboard?notice=saved"),
        Err(problems) => {
            let errors = field_errors(&problems);
            match render(&state, &caller, Some(values), &errors, "", "").await {
                Ok(html) => (StatusCode::UNPROCESSABLE_ENTITY, Html(html)).into_response(),
                Err(p) => error_page(&p),
            }
        }
    }
}

/// The click-to-dial form: the subscriber's phone rings, then the target is called
/// ([`click_to_dial::dial`]). The page says so (202); a bad target comes back next to its
/// field (422), a refusal (no phone registered, no media service) above the form.
pub async fn call(State(state): State<AppState>, caller: MaybeCaller, req: Request) -> Response {
    let caller = match caller.or_login() {
        Ok(c) => c,
        Err(r) => return r,
    };
    let fields = match form_fields(req).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    if let Err(p) = caller.check_form_token(fields.get("csrf").map(String::as_str)) {
        return error_page(&p);
    }
    let Some(me) = caller.address.clone() else {
        return error_page(&Problem::forbidden("log in as a subscriber"));
    };
    let target = fields.get("target").cloned().unwrap_or_default();
    let (status, top, errors, kept) = match click_to_dial::dial(&state, &caller, &me, &target).await
    {
        Ok(v) => (
            StatusCode::ACCEPTED,
            format!(
                r#"<p class="banner ok" role="status" id="calling">Calling {target}: your phone rings first; answer it and the call is placed.</p>"#,
                target = esc(&v.target)
            ),
            FieldErrors::new(),
            String::new(),
        ),
        Err(p) if p.field.as_deref() == Some("target") => (
            p.status_code(),
            String::new(),
            field_errors(std::slice::from_ref(&p)),
            target,
        ),
        Err(p) if matches!(p.status, 409 | 429 | 503) => (
            p.status_code(),
            format!(
                r#"<p class="banner error" role="alert" id="calling">{}</p>"#,
                esc(&p.detail)
            ),
            FieldErrors::new(),
            target,
        ),
        Err(p) => return error_page(&p),
    };
    match render(&state, &caller, None, &errors, &top, &kept).await {
        Ok(html) => (status, Html(html)).into_response(),
        Err(p) => error_page(&p),
    }
}

/// Removes one of the subscriber's registrations.
pub async fn remove_registration(
    State(state): State<AppState>,
    caller: MaybeCaller,
    req: Request,
) -> Response {
    let caller = match caller.or_login() {
        Ok(c) => c,
        Err(r) => return r,
    };
    let fields = match form_fields(req).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    if let Err(p) = caller.check_form_token(fields.get("csrf").map(String::as_str)) {
        return error_page(&p);
    }
    let Some(me) = caller.address.clone() else {
        return error_page(&Problem::forbidden("log in as a subscriber"));
    };
    let contact = fields
        .get("contact")
        .map(String::as_str)
        .unwrap_or_default();
    match registrations::remove(&state, &caller, &me, contact).await {
        Ok(()) => see_other("/dashboard?notice=removed"),
        Err(p) => error_page(&p),
    }
}
