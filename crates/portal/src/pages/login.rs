//! `/login` and `/logout`: the web password login, through the API's
//! [`crate::api::session::login`].

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};

use super::{banner, error_page, field, form_fields, layout, see_other, FieldErrors, MaybeCaller};
use crate::api::session::{
    login, logout as end_session, retry_after_value, session_cookie, LoginError,
};
use crate::auth::ClientIp;
use crate::AppState;

fn page(address: &str, errors: &FieldErrors, signup: bool) -> String {
    let signup = if signup {
        r#"<p><a href="/signup">Create an account</a></p>"#
    } else {
        ""
    };
    let body = format!(
        r#"<section class="card narrow">
<h1>Log in</h1>
<p class="lead">Your address and your web password.</p>
{banner}
<form method="post" action="/login" novalidate>
{address}
{password}
<button type="submit" class="primary">Log in</button>
</form>
<p><a href="/password/forgot">Forgot your password?</a></p>
{signup}
</section>"#,
        banner = banner(errors),
        address = field(
            "Address",
            "address",
            "email",
            address,
            errors.get("address").map(String::as_str),
            "user@domain, e.g. alice@example.com",
        ),
        password = field(
            "Password",
            "password",
            "password",
            "",
            errors.get("password").map(String::as_str),
            "",
        ),
    );
    layout("Log in", None, &body)
}

/// Whether the login page links to the sign-up page: a domain takes sign-ups.
async fn signup_open(state: &AppState) -> bool {
    crate::api::signup::open_domains(state)
        .await
        .is_ok_and(|d| !d.is_empty())
}

/// The login form (or the dashboard, when logged in already).
pub async fn show(State(state): State<AppState>, MaybeCaller(caller): MaybeCaller) -> Response {
    if caller.is_some() {
        return see_other("/");
    }
    Html(page("", &FieldErrors::new(), signup_open(&state).await)).into_response()
}

/// Checks the login; on success sets the cookie and goes to the dashboard. A login the
/// guard refuses gets the form again, 429, with the time to wait.
pub async fn submit(
    State(state): State<AppState>,
    ClientIp(source): ClientIp,
    req: Request,
) -> Response {
    let fields = match form_fields(req).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let address = fields
        .get("address")
        .map(String::as_str)
        .unwrap_or_default();
    let password = fields
        .get("password")
        .map(String::as_str)
        .unwrap_or_default();
    match login(&state, source, address, password).await {
        Ok((account, session)) => {
            let mut headers = HeaderMap::new();
            headers.insert(
                header::SET_COOKIE,
                session_cookie(&state, Some(&session.secret)),
            );
            let to = if account.is_admin {
                "/admin/subscribers"
            } else {
                "/dashboard"
            };
            headers.insert(header::LOCATION, header::HeaderValue::from_static(to));
            (StatusCode::SEE_OTHER, headers).into_response()
        }
        Err(LoginError {
            problem: p,
            retry_after: Some(wait),
        }) => {
            let mut errors = FieldErrors::new();
            errors.insert(String::new(), p.detail.clone());
            (
                p.status_code(),
                [(header::RETRY_AFTER, retry_after_value(wait))],
                Html(page(address, &errors, signup_open(&state).await)),
            )
                .into_response()
        }
        Err(LoginError { problem: p, .. }) if p.field.is_some() => {
            let mut errors = FieldErrors::new();
            errors.insert(p.field.clone().unwrap_or_default(), p.detail.clone());
            let signup = signup_open(&state).await;
            (p.status_code(), Html(page(address, &errors, signup))).into_response()
        }
        Err(LoginError { problem: p, .. }) => error_page(&p),
    }
}

/// Ends the session and goes to the login page.
pub async fn logout(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    req: Request,
) -> Response {
    let fields = match form_fields(req).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    if let Some(caller) = caller {
        if let Err(p) = caller.check_form_token(fields.get("csrf").map(String::as_str)) {
            return error_page(&p);
        }
        if let Err(p) = end_session(&state, &caller).await {
            return error_page(&p);
        }
    }
    let mut headers = HeaderMap::new();
    headers.insert(header::SET_COOKIE, session_cookie(&state, None));
    headers.insert(header::LOCATION, header::HeaderValue::from_static("/login"));
    (StatusCode::SEE_OTHER, headers).into_response()
}
