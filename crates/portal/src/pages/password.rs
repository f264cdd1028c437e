//! `/password/forgot` and `/password/reset`: a forgotten web password, reset through a
//! link sent by e-mail ([`crate::PortalMail`]).
//!
//! The forgotten-password form answers the same page whether or not the address is a
//! subscriber, has an e-mail address, or asked too often (at most
//! [`RESETS_PER_HOUR`] links an hour per address); the link
//! ([`store::Store::create_password_reset`]) works once, for [`RESET_TTL`]. Without e-mail
//! (`[smtp]` off) both pages say so, to everyone alike.
//!
//! The visitor has no session yet, so the form token (CSRF) is a double-submit one: the GET
//! sets a random `itsp_form` cookie (`HttpOnly`, `SameSite=Strict`, path `/password`) and
//! puts the same value in the form's `csrf` field; a POST whose field and cookie differ is
//! refused (403) before anything else.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};

use super::{banner, error_page, esc, field, form_fields, layout, query_value, FieldErrors};
use crate::api::session::retry_after_value;
use crate::auth::ClientIp;
use crate::login_guard;
use crate::problem::Problem;
use crate::AppState;

/// How long a reset link works.
pub const RESET_TTL: Duration = Duration::from_secs(3600);

/// Reset links one address may get per hour; more requests get the same page and no mail.
pub const RESETS_PER_HOUR: u64 = 3;

/// The cookie of the double-submit form token.
pub const FORM_COOKIE: &str = "itsp_form";

/// What the forgotten-password form answers, to everyone.
pub const SENT_TEXT: &str = "If that account exists and has an e-mail address, an e-mail with a link to set a new password is on its way. The link works once, for one hour.";

/// What both pages say when the portal cannot send e-mail.
pub const NO_MAIL_TEXT: &str = "E-mail is not set up on this server, so no reset link can be sent. Ask your provider to set a new password for you.";

/// What the reset form says of a link that does not work.
pub const BAD_LINK_TEXT: &str =
    "This link is unknown, used or expired. Ask for a new one on the forgotten-password page.";

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A fresh form token: 128 random bits as hex.
fn new_form_token() -> Result<String, Problem> {
    use std::fmt::Write;
    let mut buf = [0u8; 16];
    getrandom::getrandom(&mut buf).map_err(|e| Problem::internal(&e))?;
    Ok(buf.iter().fold(String::with_capacity(32), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    }))
}

/// The Set-Cookie value of the form token `token`, for the pages under `path`.
fn form_cookie(state: &AppState, token: &str, path: &str) -> HeaderValue {
    let secure = if state.config().secure_cookies {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{FORM_COOKIE}={token}; Path={path}; HttpOnly; SameSite=Strict; Max-Age=3600{secure}"
    ))
    .unwrap_or(HeaderValue::from_static(""))
}

/// The form token of the request's cookie.
fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == FORM_COOKIE)
        .map(|(_, v)| v.to_owned())
}

/// Whether the form's `csrf` field matches the cookie (constant time).
pub(super) fn check_form_token(
    headers: &HeaderMap,
    fields: &HashMap<String, String>,
) -> Result<(), Problem> {
    let refused = || {
        Problem::forbidden(
            "the form is out of date or came from another site: reload the page and send it again",
        )
    };
    let (Some(cookie), Some(field)) = (cookie_token(headers), fields.get("csrf")) else {
        return Err(refused());
    };
    let same = cookie.len() == field.len()
        && cookie
            .bytes()
            .zip(field.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0;
    if same && !cookie.is_empty() {
        Ok(())
    } else {
        Err(refused())
    }
}

/// A page with a new form token: its cookie set, its value handed to `body`.
fn with_form_token(
    state: &AppState,
    status: StatusCode,
    title: &str,
    body: impl FnOnce(&str) -> String,
) -> Response {
    with_form_token_at(state, "/password", status, title, body)
}

/// [`with_form_token`] for the visitor's pages under `path` (the cookie's path).
pub(super) fn with_form_token_at(
    state: &AppState,
    path: &str,
    status: StatusCode,
    title: &str,
    body: impl FnOnce(&str) -> String,
) -> Response {
    let token = match new_form_token() {
        Ok(t) => t,
        Err(p) => return error_page(&p),
    };
    let html = layout(title, None, &body(&token));
    let mut headers = HeaderMap::new();
    headers.insert(header::SET_COOKIE, form_cookie(state, &token, path));
    (status, headers, Html(html)).into_response()
}

/// The hidden form-token field of a visitor's form.
pub(super) fn csrf_input(token: &str) -> String {
    format!(
        r#"<input type="hidden" name="csrf" value="{}">"#,
        esc(token)
    )
}

fn forgot_body(state: &AppState, token: &str, address: &str, errors: &FieldErrors) -> String {
    let off = if state.mail().is_none() {
        format!(r#"<p class="banner error" role="alert">{NO_MAIL_TEXT}</p>"#)
    } else {
        String::new()
    };
    format!(
        r#"<section class="card narrow">
<h1>Forgot your password?</h1>
<p class="lead">Enter your address: we e-mail a link to set a new web password to the e-mail address of your account.</p>
{off}{banner}
<form method="post" action="/password/forgot" novalidate>
{csrf}
{address}
<button type="submit" class="primary">Send the link</button>
</form>
<p><a href="/login">Back to the login</a></p>
</section>"#,
        banner = banner(errors),
        csrf = csrf_input(token),
        address = field(
            "Address",
            "address",
            "email",
            address,
            errors.get("address").map(String::as_str),
            "user@domain, e.g. alice@example.com",
        ),
    )
}

/// The forgotten-password form.
pub async fn show_forgot(State(state): State<AppState>) -> Response {
    with_form_token(&state, StatusCode::OK, "Forgot your password", |t| {
        forgot_body(&state, t, "", &FieldErrors::new())
    })
}

/// Sends a reset link when the address is a subscriber with an e-mail address; answers the
/// same page in every case. Requests are counted per source by the
/// [`crate::login_guard`]: a source that asked too often is answered 429 with the time to
/// wait, whatever it asks for.
pub async fn submit_forgot(
    State(state): State<AppState>,
    ClientIp(source): ClientIp,
    req: Request,
) -> Response {
    let headers = req.headers().clone();
    let fields = match form_fields(req).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    if let Err(p) = check_form_token(&headers, &fields) {
        return error_page(&p);
    }
    let text = fields
        .get("address")
        .map(String::as_str)
        .unwrap_or_default();
    match state.login_guard(|g| g.reset_requested(Instant::now(), source)) {
        Ok(counted) => login_guard::log_reset_ban(source, text.trim(), counted),
        Err(wait) => {
            tracing::debug!(source = %source, user = text.trim(), wait_secs = wait.as_secs(), "password reset request refused");
            let body = format!(
                r#"<section class="card narrow">
<h1>Forgot your password?</h1>
<p class="banner error" role="alert">{}</p>
<p><a href="/login">Back to the login</a></p>
</section>"#,
                esc(&too_many_resets_text(wait))
            );
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, retry_after_value(wait))],
                Html(layout("Forgot your password", None, &body)),
            )
                .into_response();
        }
    }
    let address = match crate::problem::address("address", text) {
        Ok(a) => a,
        Err(p) => {
            let mut errors = FieldErrors::new();
            let detail = if text.trim().is_empty() {
                "enter your address, user@domain".to_owned()
            } else {
                p.detail
            };
            errors.insert("address".into(), detail);
            return with_form_token(
                &state,
                StatusCode::UNPROCESSABLE_ENTITY,
                "Forgot your password",
                |t| forgot_body(&state, t, text, &errors),
            );
        }
    };
    let answer = match state.mail() {
        Some(sender) => {
            if let Err(p) = send_reset(&state, sender, &address, &headers).await {
                return error_page(&p);
            }
            format!(r#"<p class="banner ok" role="status">{SENT_TEXT}</p>"#)
        }
        None => format!(r#"<p class="banner error" role="alert">{NO_MAIL_TEXT}</p>"#),
    };
    let body = format!(
        r#"<section class="card narrow">
<h1>Forgot your password?</h1>
{answer}
<p><a href="/login">Back to the login</a></p>
</section>"#
    );
    Html(layout("Forgot your password", None, &body)).into_response()
}

/// What a source that asked for reset links too often is told.
pub fn too_many_resets_text(wait: Duration) -> String {
    format!(
        "Too many requests; try again in {}",
        login_guard::minutes_text(wait)
    )
}

/// Starts a reset of `address` and queues its e-mail, when the address is a subscriber
/// with an e-mail address that has not asked too often. Only a failing store is an error;
/// everything else is logged and answered like success.
async fn send_reset(
    state: &AppState,
    sender: &crate::PortalMail,
    address: &store::Address,
    headers: &HeaderMap,
) -> Result<(), Problem> {
    let store = state.store();
    let subscriber = store
        .subscriber(&address.user, &address.domain)
        .await
        .map_err(|e| Problem::internal(&e))?;
    let Some(to) = subscriber.and_then(|s| s.email) else {
        tracing::info!(user = %address, "password reset asked for an unknown address or one without e-mail; nothing sent");
        return Ok(());
    };
    let now = now_ms();
    let hour_ms = 3_600_000;
    let recent = store
        .password_resets_since(address, now - hour_ms)
        .await
        .map_err(|e| Problem::internal(&e))?;
    if recent >= RESETS_PER_HOUR {
        tracing::warn!(user = %address, recent, "password reset asked too often; nothing sent");
        return Ok(());
    }
    let Some(base) = crate::api::signup::base_url(state, headers) else {
        tracing::warn!(user = %address, "password reset: no [http] public_url and no usable Host header; nothing sent");
        return Ok(());
    };
    // Expired resets go when a new one is made: no timer task, and the table stays small.
    if let Err(e) = store.purge_password_resets(now).await {
        tracing::warn!(error = %e, "cannot purge expired password resets");
    }
    let ttl_ms = i64::try_from(RESET_TTL.as_millis()).unwrap_or(i64::MAX);
    let secret = store
        .create_password_reset(address, now, ttl_ms)
        .await
        .map_err(|e| Problem::internal(&e))?;
    let link = format!("{base}/password/reset?token={}", query_value(&secret));
    let account = address.to_string();
    let minutes = (RESET_TTL.as_secs() / 60).to_string();
    let (subject, body) = sender.password_reset.render(&[
        ("account", &account),
        ("link", &link),
        ("valid_minutes", &minutes),
    ]);
    let email = mail::Email {
        to,
        subject,
        body,
        attachment: None,
    };
    match sender.mailer.send(&email) {
        Ok(()) => tracing::info!(user = %address, "password reset link queued for e-mail"),
        Err(e) => tracing::error!(user = %address, error = %e, "password reset link not sent"),
    }
    Ok(())
}

fn reset_body(token: &str, secret: &str, errors: &FieldErrors) -> String {
    format!(
        r#"<section class="card narrow">
<h1>Set a new password</h1>
<p class="lead">Your new web password, twice.</p>
{banner}
<form method="post" action="/password/reset" novalidate>
{csrf}
<input type="hidden" name="token" value="{secret}">
{password}
{again}
<button type="submit" class="primary">Set the password</button>
</form>
<p><a href="/password/forgot">Ask for a new link</a></p>
</section>"#,
        banner = banner(errors),
        csrf = csrf_input(token),
        secret = esc(secret),
        password = field(
            "New password",
            "password",
            "password",
            "",
            errors.get("password").map(String::as_str),
            "",
        ),
        again = field(
            "The new password again",
            "password2",
            "password",
            "",
            errors.get("password2").map(String::as_str),
            "",
        ),
    )
}

/// The new-password form of a link (`?token=`).
pub async fn show_reset(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let secret = query.get("token").cloned().unwrap_or_default();
    let mut errors = FieldErrors::new();
    if secret.is_empty() {
        errors.insert(String::new(), BAD_LINK_TEXT.to_owned());
    }
    with_form_token(&state, StatusCode::OK, "Set a new password", |t| {
        reset_body(t, &secret, &errors)
    })
}

/// Checks the two passwords and redeems the link; then "log in".
pub async fn submit_reset(State(state): State<AppState>, req: Request) -> Response {
    let headers = req.headers().clone();
    let fields = match form_fields(req).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    if let Err(p) = check_form_token(&headers, &fields) {
        return error_page(&p);
    }
    let get = |name: &str| fields.get(name).map(String::as_str).unwrap_or_default();
    let (secret, password, again) = (get("token"), get("password"), get("password2"));
    let mut errors = FieldErrors::new();
    if secret.is_empty() {
        errors.insert(String::new(), BAD_LINK_TEXT.to_owned());
    } else if password.is_empty() {
        errors.insert("password".into(), "enter a new password".into());
    } else if password != again {
        errors.insert("password2".into(), "the two passwords differ".into());
    } else {
        match state
            .store()
            .redeem_password_reset(secret, password, now_ms())
            .await
        {
            Ok(address) => {
                let body = format!(
                    r#"<section class="card narrow">
<h1>Password changed</h1>
<p class="banner ok" role="status">The web password of {} is changed.</p>
<p><a class="button primary" href="/login">Log in</a></p>
</section>"#,
                    esc(&address.to_string())
                );
                return Html(layout("Password changed", None, &body)).into_response();
            }
            Err(store::StoreError::BadResetToken) => {
                errors.insert(String::new(), BAD_LINK_TEXT.to_owned());
            }
            Err(store::StoreError::BadPassword(why)) => {
                errors.insert(
                    "password".into(),
                    format!("this password cannot be used: {why}"),
                );
            }
            Err(e) => return error_page(&Problem::internal(&e)),
        }
    }
    let status = if errors.contains_key("") {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    with_form_token(&state, status, "Set a new password", |t| {
        reset_body(t, secret, &errors)
    })
}
