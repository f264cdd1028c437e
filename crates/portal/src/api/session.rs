//! `/api/v1/session`: log in with `user@domain` and the web password (a session cookie),
//! see who is logged in, log out. The login page posts to the same [`login`].

use std::net::IpAddr;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use store::WebAccount;
use utoipa::ToSchema;

use crate::auth::{Caller, ClientIp, Credential, SESSION_COOKIE};
use crate::login_guard;
use crate::problem::{JsonBody, Problem};
use crate::time::unix_now;
use crate::AppState;

/// A login.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    /// `user@domain`.
    pub address: String,
    /// The web password.
    pub password: String,
}

/// Who is logged in.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SessionView {
    /// `user@domain`; absent for an admin token.
    pub address: Option<String>,
    /// Whether the caller may do everything.
    pub admin: bool,
    /// The token to send as `X-CSRF-Token` with requests that change something (sessions
    /// only).
    pub csrf_token: Option<String>,
}

/// The one answer to every failed login, whatever failed.
pub const LOGIN_FAILED: &str = "wrong address or password";

/// Why a login did not start a session: the problem to answer and, for a login refused by
/// the [`crate::login_guard`], how long to wait (sent as `Retry-After`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginError {
    /// The answer.
    pub problem: Problem,
    /// Set when the attempt was refused unchecked: the time until the source may try again.
    pub retry_after: Option<Duration>,
}

impl From<Problem> for LoginError {
    fn from(problem: Problem) -> LoginError {
        LoginError {
            problem,
            retry_after: None,
        }
    }
}

impl LoginError {
    /// A login refused unchecked by the guard: 429, wait `wait`.
    pub fn refused(wait: Duration) -> LoginError {
        LoginError {
            problem: Problem::too_many_requests(too_many_logins_text(wait)),
            retry_after: Some(wait),
        }
    }
}

/// What a refused login is told: "Too many failed logins; try again in 5 minutes".
pub fn too_many_logins_text(wait: Duration) -> String {
    format!(
        "Too many failed logins; try again in {}",
        login_guard::minutes_text(wait)
    )
}

pub use crate::problem::retry_after_value;

impl IntoResponse for LoginError {
    fn into_response(self) -> Response {
        let mut response = self.problem.into_response();
        if let Some(wait) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, retry_after_value(wait));
        }
        response
    }
}

/// Checks a login from `source` and starts a session: the account, the cookie's secret and
/// the form token. An unknown address, a subscriber without a web password and a wrong
/// password get the same 401 after the same work, and count alike against the source and
/// the account in the [`crate::login_guard`]; a login it refuses gets 429 without its
/// password being checked.
pub async fn login(
    state: &AppState,
    source: IpAddr,
    address: &str,
    password: &str,
) -> Result<(WebAccount, store::NewSession), LoginError> {
    let address = address.trim();
    let started = Instant::now();
    if let Err(wait) = state.login_guard(|g| g.check_login(started, source, address)) {
        tracing::debug!(source = %source, user = address, wait_secs = wait.as_secs(), "portal login refused");
        return Err(LoginError::refused(wait));
    }
    if address.is_empty() {
        return Err(Problem::invalid("address", "enter your address, user@domain").into());
    }
    if password.is_empty() {
        return Err(Problem::invalid("password", "enter your password").into());
    }
    let (user, domain) = address.split_once('@').unwrap_or((address, ""));
    let store = state.store();
    let account = store
        .check_web_login(user, domain, password)
        .await
        .map_err(|e| Problem::internal(&e))?;
    let Some(account) = account else {
        let counted = state.login_guard(|g| g.login_failed(Instant::now(), source, address));
        login_guard::log_failure(source, address, "bad credentials", counted);
        let mut p = Problem::unauthenticated();
        p.detail = LOGIN_FAILED.to_owned();
        p.field = Some("password".to_owned());
        return Err(p.into());
    };
    state.login_guard(|g| g.login_succeeded(Instant::now(), address));
    let now = unix_now();
    // Expired sessions go at the next login: no timer task, and the table stays small.
    if let Err(e) = store.purge_expired_sessions(now).await {
        tracing::warn!(error = %e, "cannot purge expired portal sessions");
    }
    let lifetime = i64::try_from(state.config().session_lifetime.as_secs()).unwrap_or(i64::MAX);
    let session = store
        .create_session(&account, now, lifetime)
        .await
        .map_err(|e| Problem::internal(&e))?;
    tracing::info!(user = %account.address, admin = account.is_admin, "portal login");
    Ok((account, session))
}

/// The Set-Cookie value of a new session (`None`: one that ends the session).
pub fn session_cookie(state: &AppState, secret: Option<&str>) -> HeaderValue {
    let secure = if state.config().secure_cookies {
        "; Secure"
    } else {
        ""
    };
    let text = match secret {
        Some(s) => format!(
            "{SESSION_COOKIE}={s}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
            state.config().session_lifetime.as_secs()
        ),
        None => format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}"),
    };
    HeaderValue::from_str(&text).unwrap_or(HeaderValue::from_static(""))
}

/// Ends the caller's session, if it is one.
pub async fn logout(state: &AppState, caller: &Caller) -> Result<(), Problem> {
    if let Credential::Session { secret, .. } = &caller.credential {
        state
            .store()
            .end_session(secret)
            .await
            .map_err(|e| Problem::internal(&e))?;
    }
    Ok(())
}

/// Log in: sets the session cookie.
#[utoipa::path(post, path = "/api/v1/session", tag = "session", request_body = Login,
    security(()),
    responses(
        (status = 200, description = "logged in; the cookie is set", body = SessionView),
        (status = 401, description = "wrong address or password", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "a field is empty", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "too many failed logins from this address (or on this account from an address that failed): refused unchecked",
            body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "seconds to wait"))),
    ))]
pub async fn create_session(
    State(state): State<AppState>,
    ClientIp(source): ClientIp,
    JsonBody(body): JsonBody<Login>,
) -> Result<Response, LoginError> {
    let (account, session) = login(&state, source, &body.address, &body.password).await?;
    let mut headers = HeaderMap::new();
    headers.insert(
        header::SET_COOKIE,
        session_cookie(&state, Some(&session.secret)),
    );
    let view = SessionView {
        address: Some(account.address.to_string()),
        admin: account.is_admin,
        csrf_token: Some(session.csrf_token),
    };
    Ok((headers, Json(view)).into_response())
}

/// Who is calling.
#[utoipa::path(get, path = "/api/v1/session", tag = "session",
    responses(
        (status = 200, description = "the caller", body = SessionView),
        (status = 401, description = "not logged in", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_session(caller: Caller) -> Json<SessionView> {
    let csrf_token = match &caller.credential {
        Credential::Session { csrf_token, .. } => Some(csrf_token.clone()),
        Credential::Token(_) => None,
    };
    Json(SessionView {
        address: caller.address.as_ref().map(ToString::to_string),
        admin: caller.is_admin,
        csrf_token,
    })
}

/// Log out: ends the session and clears the cookie.
#[utoipa::path(delete, path = "/api/v1/session", tag = "session",
    responses((status = 204, description = "logged out")))]
pub async fn delete_session(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Response, Problem> {
    logout(&state, &caller).await?;
    let mut headers = HeaderMap::new();
    headers.insert(header::SET_COOKIE, session_cookie(&state, None));
    Ok((StatusCode::NO_CONTENT, headers).into_response())
}
