//! The HTML pages: server-rendered, usable without JavaScript, styled by one small
//! stylesheet embedded in the binary. Every form posts to a handler here that calls the
//! same operation as the JSON API (`crate::api`), so the checks and the authorisation are
//! one code path; a bad field is shown next to it, with what was typed kept.
//!
//! Pages need a browser session (a bearer token is for scripts): without one they
//! redirect to `/login`. Every form carries the session's form token (`csrf`).

// A page handler's early return is a whole response (a redirect or an error page), made
// once per request: boxing it would buy nothing.
#![allow(clippy::result_large_err)]

pub mod admin;
pub mod audit;
pub mod dashboard;
pub mod docs;
pub mod greeting;
pub mod invoices;
pub mod live_calls;
pub mod login;
pub mod password;
pub mod phone;
pub mod rates;
pub mod selfcare;
pub mod settings;
pub mod signup;
pub mod subscriber;

use std::collections::HashMap;
use std::fmt::Write;

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::auth::{authenticate, Caller};
use crate::problem::Problem;
use crate::AppState;

/// The stylesheet.
const STYLE_CSS: &str = include_str!("../../assets/style.css");
/// The script of the API browser (`/api/docs`).
const API_DOCS_JS: &str = include_str!("../../assets/api-docs.js");
/// The script that shows `<time>` elements in the browser's time zone ([`when`]).
const LOCAL_TIME_JS: &str = include_str!("../../assets/local-time.js");
/// The script of the browser phone (`/phone`).
const PHONE_JS: &str = include_str!("../../assets/phone.js");
/// JsSIP, the SIP library of the browser phone (MIT; `scripts/vendor-jssip.sh`).
const JSSIP_JS: &str = include_str!("../../assets/vendor/jssip.min.js");

/// The page routes and the assets.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login::show).post(login::submit))
        .route("/logout", post(login::logout))
        .route(
            "/password/forgot",
            get(password::show_forgot).post(password::submit_forgot),
        )
        .route(
            "/password/reset",
            get(password::show_reset).post(password::submit_reset),
        )
        .route("/signup", get(signup::show).post(signup::submit))
        .route(
            "/signup/confirm",
            get(signup::show_confirm).post(signup::submit_confirm),
        )
        .route("/dashboard", get(dashboard::show))
        .route("/dashboard/forwarding", post(dashboard::save_forwarding))
        .route("/dashboard/call", post(dashboard::call))
        .route(
            "/dashboard/registrations/remove",
            post(dashboard::remove_registration),
        )
        .route("/settings", get(settings::show))
        .route("/settings/voicemail", post(settings::save_voicemail))
        .route(
            "/settings/web-password",
            post(settings::change_web_password),
        )
        .route(
            "/settings/sip-password",
            post(settings::change_sip_password),
        )
        .route("/calls", get(selfcare::calls_page))
        .route("/calls.csv", get(selfcare::calls_csv))
        .route("/account", get(selfcare::account_page))
        .route("/voicemail", get(selfcare::voicemail_page))
        .route("/voicemail/{id}/audio", get(selfcare::voicemail_audio))
        .route("/voicemail/remove", post(selfcare::remove_voicemail))
        .route("/voicemail/heard", post(selfcare::mark_voicemail_heard))
        .route(
            "/voicemail/greeting",
            post(greeting::upload).route_layer(axum::extract::DefaultBodyLimit::max(
                crate::api::greeting::MAX_GREETING_BODY_BYTES,
            )),
        )
        .route("/voicemail/greeting/remove", post(greeting::remove))
        .route("/voicemail/greeting.wav", get(greeting::audio))
        .route(
            "/admin/domains",
            get(admin::domains).post(admin::add_domain),
        )
        .route("/admin/domains/remove", post(admin::remove_domain))
        .route(
            "/admin/domains/self-registration",
            post(admin::set_self_registration),
        )
        .route(
            "/admin/subscribers",
            get(admin::subscribers).post(admin::add_subscriber),
        )
        .route("/admin/subscribers/remove", post(admin::remove_subscriber))
        .route("/admin/subscribers/{address}", get(subscriber::show))
        .route(
            "/admin/subscribers/{address}/status",
            post(subscriber::set_status),
        )
        .route(
            "/admin/subscribers/{address}/profile",
            post(subscriber::set_profile),
        )
        .route(
            "/admin/subscribers/{address}/aliases",
            post(subscriber::add_alias),
        )
        .route(
            "/admin/subscribers/{address}/aliases/remove",
            post(subscriber::remove_alias),
        )
        .route(
            "/admin/subscribers/{address}/groups",
            post(subscriber::add_group),
        )
        .route(
            "/admin/subscribers/{address}/groups/remove",
            post(subscriber::remove_group),
        )
        .route(
            "/admin/subscribers/{address}/account",
            post(subscriber::set_account),
        )
        .route(
            "/admin/subscribers/{address}/topup",
            post(subscriber::top_up),
        )
        .route("/admin/registrations", get(admin::registrations))
        .route(
            "/admin/registrations/remove",
            post(admin::remove_registration),
        )
        .route("/invoices", get(invoices::mine))
        .route("/admin/invoices", get(invoices::all))
        .route(
            "/admin/rates",
            get(rates::show)
                .post(rates::import)
                .route_layer(axum::extract::DefaultBodyLimit::max(
                    crate::api::rates::MAX_TARIFF_BYTES,
                )),
        )
        .route("/admin/rates/test", get(rates::test))
        .route("/admin/audit", get(audit::show))
        .route("/admin/calls", get(admin::call_records))
        .route("/admin/calls.csv", get(admin::call_records_csv))
        .route("/admin/calls/live", get(live_calls::show))
        .route("/admin/calls/live/hangup", post(live_calls::hang_up))
        .route("/api/docs", get(docs::show))
        .route("/phone", get(phone::show))
        .route(
            "/assets/style.css",
            get(|| asset("text/css; charset=utf-8", STYLE_CSS)),
        )
        .route(
            "/assets/api-docs.js",
            get(|| asset("text/javascript; charset=utf-8", API_DOCS_JS)),
        )
        .route(
            "/assets/local-time.js",
            get(|| asset("text/javascript; charset=utf-8", LOCAL_TIME_JS)),
        )
        .route(
            "/assets/phone.js",
            get(|| asset("text/javascript; charset=utf-8", PHONE_JS)),
        )
        .route(
            "/assets/vendor/jssip.min.js",
            get(|| asset("text/javascript; charset=utf-8", JSSIP_JS)),
        )
}

async fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

/// The caller of a page, if logged in.
pub struct MaybeCaller(pub Option<Caller>);

impl FromRequestParts<AppState> for MaybeCaller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        match authenticate(state, parts).await {
            Ok(caller) => Ok(MaybeCaller(caller)),
            Err(p) if p.status == 401 => Ok(MaybeCaller(None)),
            Err(p) => Err(error_page(&p)),
        }
    }
}

impl MaybeCaller {
    /// The caller, or a redirect to the login page.
    pub fn or_login(self) -> Result<Caller, Response> {
        self.0.ok_or_else(|| Redirect::to("/login").into_response())
    }
}

async fn home(MaybeCaller(caller): MaybeCaller) -> Redirect {
    match caller {
        Some(c) if c.address.is_none() => Redirect::to("/admin/subscribers"),
        Some(_) => Redirect::to("/dashboard"),
        None => Redirect::to("/login"),
    }
}

/// Text made safe for HTML element content and attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A whole page: the header with the navigation for `caller`, then `body`.
pub fn layout(title: &str, caller: Option<&Caller>, body: &str) -> String {
    let mut nav = String::new();
    if let Some(c) = caller {
        if c.address.is_some() {
            nav.push_str(
                r#"<a href="/dashboard">My phone</a><a href="/calls">Calls</a><a href="/account">Account</a><a href="/invoices">Invoices</a><a href="/voicemail">Voicemail</a><a href="/phone">Phone</a><a href="/settings">Settings</a>"#,
            );
        }
        if c.is_admin {
            nav.push_str(
                r#"<a href="/admin/subscribers">Subscribers</a><a href="/admin/domains">Domains</a><a href="/admin/registrations">Registrations</a><a href="/admin/calls/live">Live calls</a><a href="/admin/calls">Call records</a><a href="/admin/rates">Rates</a><a href="/admin/invoices">All invoices</a><a href="/admin/audit">Audit log</a><a href="/api/docs">API</a>"#,
            );
        }
        let who = c
            .address
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        let _ = write!(
            nav,
            r#"<span class="who">{}</span><form method="post" action="/logout" class="inline">{}<button class="link">Log out</button></form>"#,
            esc(&who),
            csrf_field(c)
        );
    }
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · itsp</title>
<link rel="stylesheet" href="/assets/style.css">
<script src="/assets/local-time.js" defer></script>
</head>
<body>
<header class="top"><a class="brand" href="/">itsp</a><nav>{nav}</nav></header>
<main>
{body}
</main>
</body>
</html>
"#,
        title = esc(title)
    )
}

/// How a [`when`] time is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeStyle {
    /// Date and time of day (a call's start, a message's arrival).
    DateTime,
    /// The time of day alone (calls in progress, all of today).
    TimeOfDay,
}

/// A time for people: `at` (RFC 3339 in UTC, as the API gives it) as a `<time>` element
/// that reads in UTC ("2026-12-05 14:05 UTC") and that `assets/local-time.js` rewrites in
/// the browser's own time zone; its `title` keeps the UTC time. Text that is no RFC 3339
/// time is shown as it is.
pub fn when(at: &str, style: TimeStyle) -> String {
    let shaped = at.len() >= 19
        && at.is_char_boundary(19)
        && at.as_bytes().get(10) == Some(&b'T')
        && at.ends_with('Z');
    if !shaped {
        return esc(at);
    }
    let readable = match style {
        TimeStyle::DateTime => format!("{} {} UTC", &at[..10], &at[11..16]),
        TimeStyle::TimeOfDay => format!("{} UTC", &at[11..19]),
    };
    let kind = match style {
        TimeStyle::DateTime => "datetime",
        TimeStyle::TimeOfDay => "time",
    };
    format!(
        r#"<time datetime="{at}" data-style="{kind}" title="{readable}">{readable}</time>"#,
        at = esc(at),
        readable = esc(&readable),
    )
}

/// The hidden form-token field of `caller`'s forms.
pub fn csrf_field(caller: &Caller) -> String {
    format!(
        r#"<input type="hidden" name="csrf" value="{}">"#,
        esc(caller.csrf_token())
    )
}

/// A labelled input with its error, if any, right below it.
pub fn field(
    label: &str,
    name: &str,
    kind: &str,
    value: &str,
    error: Option<&str>,
    hint: &str,
) -> String {
    let id = format!("f-{name}");
    let (class, described, message) = match error {
        Some(e) => (
            " invalid",
            format!(r#" aria-invalid="true" aria-describedby="{id}-error""#),
            format!(r#"<p class="error" id="{id}-error">{}</p>"#, esc(e)),
        ),
        None => ("", String::new(), String::new()),
    };
    let hint = if hint.is_empty() {
        String::new()
    } else {
        format!(r#"<p class="hint">{}</p>"#, esc(hint))
    };
    format!(
        r#"<div class="field{class}"><label for="{id}">{label}</label><input id="{id}" name="{name}" type="{kind}" value="{value}"{described}>{hint}{message}</div>"#,
        label = esc(label),
        value = esc(value),
    )
}

/// Field errors of a form, by field name.
pub type FieldErrors = HashMap<String, String>;

/// Field errors from problems; a problem without a field goes under `""`.
pub fn field_errors(problems: &[Problem]) -> FieldErrors {
    problems
        .iter()
        .map(|p| (p.field.clone().unwrap_or_default(), p.detail.clone()))
        .collect()
}

/// A banner for a problem that belongs to no field.
pub fn banner(errors: &FieldErrors) -> String {
    match errors.get("") {
        Some(e) => format!(r#"<p class="banner error" role="alert">{}</p>"#, esc(e)),
        None => String::new(),
    }
}

/// A notice after a change (from `?notice=`), from a fixed list so a link cannot make the
/// page say anything.
pub fn notice(query: &HashMap<String, String>) -> String {
    let text = match query.get("notice").map(String::as_str) {
        Some("saved") => "Saved.",
        Some("removed") => "Removed.",
        Some("added") => "Added.",
        _ => return String::new(),
    };
    format!(r#"<p class="banner ok" role="status">{text}</p>"#)
}

/// A form's fields; a body that is not a form is a problem.
pub async fn form_fields(req: Request) -> Result<HashMap<String, String>, Response> {
    let form =
        <axum::Form<HashMap<String, String>> as axum::extract::FromRequest<()>>::from_request(
            req,
            &(),
        )
        .await;
    form.map(|f| f.0)
        .map_err(|e| error_page(&Problem::malformed(format!("not a form: {e}"))))
}

/// A page for a problem no form can show (403, 404, 500).
pub fn error_page(problem: &Problem) -> Response {
    let body = format!(
        r#"<section class="card"><h1>{}</h1><p>{}</p><p><a href="/">Back</a></p></section>"#,
        esc(problem.title),
        esc(&problem.detail)
    );
    (
        problem.status_code(),
        Html(layout(problem.title, None, &body)),
    )
        .into_response()
}

/// The 404 page.
pub fn not_found_page() -> Response {
    error_page(&Problem::not_found("There is no page here."))
}

/// Redirects after a successful post (303, so a reload does not post again).
pub fn see_other(location: &str) -> Response {
    (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, location.to_owned())],
    )
        .into_response()
}

/// Percent-encodes a query parameter value.
pub fn query_value(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'@') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_time_elements_readable_in_utc() {
        assert_eq!(
            when("2026-12-05T14:05:09Z", TimeStyle::DateTime),
            r#"<time datetime="2026-12-05T14:05:09Z" data-style="datetime" title="2026-12-05 14:05 UTC">2026-12-05 14:05 UTC</time>"#
        );
        assert_eq!(
            when("2026-12-05T14:05:09Z", TimeStyle::TimeOfDay),
            r#"<time datetime="2026-12-05T14:05:09Z" data-style="time" title="14:05:09 UTC">14:05:09 UTC</time>"#
        );
        // Not a time: shown as it is, escaped.
        assert_eq!(when("<never>", TimeStyle::DateTime), "&lt;never&gt;");
        assert_eq!(when("2026-12-05", TimeStyle::DateTime), "2026-12-05");
    }
}
