//! `/signup` and `/signup/confirm`: self-registration (see [`crate::api::signup`], whose
//! operations these pages call). Both are 404 while no domain takes sign-ups; the login
//! page links to `/signup` when one does.
//!
//! The visitor has no session, so the form token is the double-submit one of the
//! forgotten-password pages (an `itsp_form` cookie with path `/signup`). The link's page
//! asks for one click before the account is made: a mail scanner that opens the link
//! changes nothing, and the SIP password shown once is shown to the visitor.

use std::collections::HashMap;

use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};

use super::password::{check_form_token, csrf_input, with_form_token_at};
use super::{banner, error_page, esc, field, form_fields, layout, not_found_page, FieldErrors};
use crate::api::session::{retry_after_value, LoginError};
use crate::api::signup::{self, SignupRequest, MIN_PASSWORD_CHARS, SIGNUP_TTL};
use crate::auth::ClientIp;
use crate::problem::Problem;
use crate::AppState;

const TITLE: &str = "Create an account";

/// What the form keeps of what was typed (never the passwords).
#[derive(Debug, Default)]
struct Typed {
    user: String,
    domain: String,
    email: String,
}

fn domain_field(domains: &[String], chosen: &str, error: Option<&str>) -> String {
    match domains {
        [only] => format!(
            r#"<input type="hidden" name="domain" value="{d}"><p class="hint">Your address will be <em>name</em>@{d}.</p>"#,
            d = esc(only)
        ),
        several => {
            let options: String = several
                .iter()
                .map(|d| {
                    let selected = if d == chosen { " selected" } else { "" };
                    format!(r#"<option value="{d}"{selected}>{d}</option>"#, d = esc(d))
                })
                .collect();
            let message = error
                .map(|e| format!(r#"<p class="error" id="f-domain-error">{}</p>"#, esc(e)))
                .unwrap_or_default();
            format!(
                r#"<div class="field"><label for="f-domain">Domain</label><select id="f-domain" name="domain">{options}</select>{message}</div>"#
            )
        }
    }
}

fn form_body(
    state: &AppState,
    token: &str,
    domains: &[String],
    typed: &Typed,
    errors: &FieldErrors,
) -> String {
    if state.mail().is_none() {
        return r#"<section class="card narrow"><h1>Create an account</h1>
<p class="banner error" role="alert">E-mail is not set up on this server, so new accounts cannot be confirmed. Ask your provider for an account.</p>
<p><a href="/login">Back to the login</a></p></section>"#
            .to_owned();
    }
    let e = |name: &str| errors.get(name).map(String::as_str);
    format!(
        r#"<section class="card narrow">
<h1>Create an account</h1>
<p class="lead">Choose your name and a web password. We e-mail you a link: your account exists once you follow it, within {hours} hours.</p>
{banner}
<form method="post" action="/signup" novalidate>
{csrf}
{user}
{domain}
{email}
{password}
{again}
<button type="submit" class="primary">Create the account</button>
</form>
<p><a href="/login">I have an account: log in</a></p>
</section>"#,
        hours = SIGNUP_TTL.as_secs() / 3600,
        banner = banner(errors),
        csrf = csrf_input(token),
        user = field(
            "User name",
            "user",
            "text",
            &typed.user,
            e("user"),
            "letters, digits and - _ . ! ~ * ' ( ); not a number",
        ),
        domain = domain_field(domains, &typed.domain, e("domain")),
        email = field(
            "E-mail address",
            "email",
            "email",
            &typed.email,
            e("email"),
            "where the link goes, and later password reset links",
        ),
        password = field(
            "Web password",
            "password",
            "password",
            "",
            e("password"),
            &format!(
                "at least {MIN_PASSWORD_CHARS} characters; your phone gets a SIP password of its own"
            ),
        ),
        again = field(
            "The password again",
            "password2",
            "password",
            "",
            e("password2"),
            "",
        ),
    )
}

/// The sign-up form; 404 while no domain takes sign-ups.
pub async fn show(State(state): State<AppState>) -> Response {
    let domains = match signup::open_domains(&state).await {
        Ok(d) if d.is_empty() => return not_found_page(),
        Ok(d) => d,
        Err(p) => return error_page(&p),
    };
    with_form_token_at(&state, "/signup", StatusCode::OK, TITLE, |t| {
        form_body(&state, t, &domains, &Typed::default(), &FieldErrors::new())
    })
}

/// Checks the form and starts the sign-up: "check your e-mail", or the form again with
/// the error next to its field.
pub async fn submit(
    State(state): State<AppState>,
    ClientIp(source): ClientIp,
    req: Request,
) -> Response {
    let domains = match signup::open_domains(&state).await {
        Ok(d) if d.is_empty() => return not_found_page(),
        Ok(d) => d,
        Err(p) => return error_page(&p),
    };
    let headers = req.headers().clone();
    let fields = match form_fields(req).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    if let Err(p) = check_form_token(&headers, &fields) {
        return error_page(&p);
    }
    let get = |name: &str| fields.get(name).cloned().unwrap_or_default();
    let typed = Typed {
        user: get("user"),
        domain: get("domain"),
        email: get("email"),
    };
    let again = |status: StatusCode, errors: FieldErrors, extra: Option<HeaderMap>| {
        let mut r = with_form_token_at(&state, "/signup", status, TITLE, |t| {
            form_body(&state, t, &domains, &typed, &errors)
        });
        if let Some(h) = extra {
            r.headers_mut().extend(h);
        }
        r
    };
    if let Err(LoginError {
        problem,
        retry_after,
    }) = signup::count_request(&state, source, &typed.user)
    {
        let mut errors = FieldErrors::new();
        errors.insert(String::new(), problem.detail.clone());
        let mut h = HeaderMap::new();
        if let Some(wait) = retry_after {
            h.insert(header::RETRY_AFTER, retry_after_value(wait));
        }
        return again(problem.status_code(), errors, Some(h));
    }
    let (password, password2) = (get("password"), get("password2"));
    if !password.is_empty() && password != password2 {
        let mut errors = FieldErrors::new();
        errors.insert("password2".into(), "the two passwords differ".into());
        return again(StatusCode::UNPROCESSABLE_ENTITY, errors, None);
    }
    let request = SignupRequest {
        user: typed.user.clone(),
        domain: Some(typed.domain.clone()),
        email: typed.email.clone(),
        password,
    };
    let base = signup::base_url(&state, &headers);
    match signup::start(&state, source, &request, base, "/signup").await {
        Ok(started) => {
            let body = format!(
                r#"<section class="card narrow">
<h1>Check your e-mail</h1>
<p class="banner ok" role="status">A link to create {address} is on its way to {email}. It works once, for {hours} hours.</p>
<p><a href="/login">Back to the login</a></p>
</section>"#,
                address = esc(&started.address),
                email = esc(request.email.trim()),
                hours = SIGNUP_TTL.as_secs() / 3600,
            );
            (StatusCode::ACCEPTED, Html(layout(TITLE, None, &body))).into_response()
        }
        Err(p) => {
            let mut errors = FieldErrors::new();
            errors.insert(p.field.clone().unwrap_or_default(), p.detail.clone());
            again(p.status_code(), errors, None)
        }
    }
}

fn confirm_body(token: &str, secret: &str, errors: &FieldErrors) -> String {
    format!(
        r#"<section class="card narrow">
<h1>Create your account</h1>
{banner}
<p class="lead">One more click and your account exists.</p>
<form method="post" action="/signup/confirm">
{csrf}
<input type="hidden" name="token" value="{secret}">
<button type="submit" class="primary">Create my account</button>
</form>
</section>"#,
        banner = banner(errors),
        csrf = csrf_input(token),
        secret = esc(secret),
    )
}

/// The page of the e-mailed link (`?token=`): a button that creates the account.
pub async fn show_confirm(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let secret = query.get("token").cloned().unwrap_or_default();
    with_form_token_at(&state, "/signup", StatusCode::OK, TITLE, |t| {
        confirm_body(t, &secret, &FieldErrors::new())
    })
}

/// Creates the account of the link; shows its SIP password, once.
pub async fn submit_confirm(
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
    let secret = fields.get("token").map(String::as_str).unwrap_or_default();
    match signup::confirm(&state, source, secret, "/signup/confirm").await {
        Ok(created) => {
            let body = format!(
                r#"<section class="card narrow">
<h1>Welcome</h1>
<p class="banner ok" role="status">Your account {address} exists. Log in with your address and the web password you chose.</p>
<h2>Your phone's SIP password</h2>
<p>Set up your phone with the user name <code>{user}</code>, the domain <code>{domain}</code> and this password. It is shown only now: write it down, or set another on the settings page.</p>
<p class="secret"><code id="sip-password">{password}</code></p>
<p><a class="button primary" href="/login">Log in</a></p>
</section>"#,
                address = esc(&created.address),
                user = esc(created.address.split('@').next().unwrap_or_default()),
                domain = esc(created.address.split('@').nth(1).unwrap_or_default()),
                password = esc(&created.sip_password),
            );
            (StatusCode::CREATED, Html(layout("Welcome", None, &body))).into_response()
        }
        Err(p) => {
            let mut errors = FieldErrors::new();
            errors.insert(String::new(), problem_text(&p));
            let status = p.status_code();
            with_form_token_at(&state, "/signup", status, TITLE, |t| {
                confirm_body(t, secret, &errors)
            })
        }
    }
}

fn problem_text(p: &Problem) -> String {
    let mut text = p.detail.clone();
    if let Some(first) = text.get(..1) {
        let upper = first.to_uppercase();
        text.replace_range(..1, &upper);
    }
    text
}
