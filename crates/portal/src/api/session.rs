//! `/api/v1/session`: log in with `user@domain` and the web password (a session cookie),
//! see who is logged in, log out. The login page posts to the same [`login`].

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use store::WebAccount;
use utoipa::ToSchema;

use crate::auth::{Caller, Credential, SESSION_COOKIE};
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

/// Checks a login and starts a session: the account, the cookie's secret and the form
/// token. An unknown address, a subscriber without a web password and a wrong password
/// get the same 401 after the same work.
pub async fn login(
    state: &AppState,
    address: &str,
    password: &str,
) -> Result<(WebAccount, store::NewSession), Problem> {
    let address = address.trim();
    if address.is_empty() {
        return Err(Problem::invalid(
            "address",
            "enter your address, user@domain",
        ));
    }
    if password.is_empty() {
        return Err(Problem::invalid("password", "enter your password"));
    }
    let (user, domain) = address.split_once('@').unwrap_or((address, ""));
    let store = state.store();
    let account = store
        .check_web_login(user, domain, password)
        .await
        .map_err(|e| Problem::internal(&e))?;
    let Some(account) = account else {
        tracing::info!(user = address, "portal login failed");
        let mut p = Problem::unauthenticated();
        p.detail = LOGIN_FAILED.to_owned();
        p.field = Some("password".to_owned());
        return Err(p);
    };
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
    ))]
pub async fn create_session(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<Login>,
) -> Result<Response, Problem> {
    let (account, session) = login(&state, &body.address, &body.password).await?;
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
