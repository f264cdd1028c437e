//! Self-registration: a visitor creates their own account in a domain that allows it
//! (`itsp domain set DOMAIN self-registration=on`, [`store::Store::set_self_registration`];
//! off by default). `POST /api/v1/signup` (and the page `/signup`) takes a user name, an
//! e-mail address and a web password; the portal e-mails a link that works once, for
//! [`SIGNUP_TTL`]; following it (`POST /api/v1/signup/confirm`, the page
//! `/signup/confirm`) creates the subscriber, enabled, with that web password and a
//! **generated SIP password** ([`store::generate_sip_password`]), shown once in the
//! answer: the web password stays an argon2id hash, apart from the SIP digest (MD5) one,
//! and phones get a random secret nobody reuses elsewhere. The subscriber can change it
//! on the settings page.
//!
//! The user name follows the SIP user part rules (RFC 3261 §25.1, as `itsp user add`),
//! and may not be a number (numbers are the provider's to give, as aliases) nor a name of
//! the server's services (`echo`, `voicemail`, `conference`, ...). A name taken by a
//! subscriber or an alias is said to be taken (409, field `user`); asking is limited per
//! source address by the [`crate::login_guard`] (every sign-up counts: 10 a minute, then a
//! growing ban, 429 with `Retry-After`), so names cannot be enumerated fast, and one
//! e-mail address gets at most [`SIGNUPS_PER_EMAIL_PER_DAY`] links a day. No subscriber
//! exists until the link is followed: an unconfirmed sign-up holds no name.
//!
//! Both steps are written to the audit log (actor: the address asked for; source: the
//! client address), since no admin is there to be named.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use serde::{Deserialize, Serialize};
use store::{Address, StoreError};
use utoipa::ToSchema;

use crate::api::session::LoginError;
use crate::auth::ClientIp;
use crate::problem::{JsonBody, Problem};
use crate::{login_guard, AppState};

/// How long a confirmation link works.
pub const SIGNUP_TTL: Duration = Duration::from_secs(24 * 3600);

/// The shortest web password a visitor may choose, in characters.
pub const MIN_PASSWORD_CHARS: usize = 8;

/// Confirmation e-mails one e-mail address gets per day; more sign-ups are refused.
pub const SIGNUPS_PER_EMAIL_PER_DAY: u64 = 3;

/// Names a visitor may not take: the server's services (which the proxy answers before
/// any subscriber) and the usual role names.
pub const RESERVED_NAMES: &[&str] = &[
    "echo",
    "voicemail",
    "voicemail-login",
    "conference",
    "announce",
    "admin",
    "administrator",
    "root",
    "postmaster",
    "abuse",
    "hostmaster",
    "webmaster",
    "support",
    "noreply",
    "no-reply",
];

/// A sign-up.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    /// The user name wanted (the part before `@`): SIP user part characters, not a
    /// number, not a service's name.
    pub user: String,
    /// The domain; may be left out when only one domain allows self-registration.
    #[serde(default)]
    pub domain: Option<String>,
    /// Where the confirmation link goes (and later the password reset links).
    pub email: String,
    /// The web password, at least 8 characters.
    pub password: String,
}

/// A sign-up waiting for its confirmation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SignupStarted {
    /// The account asked for, `user@domain`.
    pub address: String,
    /// Until when the e-mailed link works (RFC 3339).
    pub expires: String,
}

/// The secret of a confirmation link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupConfirmation {
    /// The `token` of the e-mailed link (`itsps_...`).
    pub token: String,
}

/// An account made by self-registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SignupCreated {
    /// The new subscriber, `user@domain`; logs in with the web password of the sign-up.
    pub address: String,
    /// The SIP password for phones, generated: shown this once, never again.
    pub sip_password: String,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Counts a sign-up request from `source` (for `user`, as typed, in the log); `Err`
/// with the 429 when the source asked too often.
// The refusal is the whole answer (a problem and its wait), made once per request.
#[allow(clippy::result_large_err)]
pub fn count_request(state: &AppState, source: IpAddr, user: &str) -> Result<(), LoginError> {
    match state.login_guard(|g| g.signup_requested(Instant::now(), source)) {
        Ok(counted) => {
            login_guard::log_signup_ban(source, user.trim(), counted);
            Ok(())
        }
        Err(wait) => Err(LoginError {
            problem: Problem::too_many_requests(format!(
                "Too many sign-ups from your address; try again in {}",
                login_guard::minutes_text(wait)
            )),
            retry_after: Some(wait),
        }),
    }
}

/// The domains that take sign-ups.
pub async fn open_domains(state: &AppState) -> Result<Vec<String>, Problem> {
    state
        .store()
        .self_registration_domains()
        .await
        .map_err(|e| Problem::internal(&e))
}

/// The domain of a sign-up: the one given, which must take sign-ups, or the only one.
async fn domain_of(state: &AppState, given: Option<&str>) -> Result<String, Problem> {
    let open = open_domains(state).await?;
    let given = given.map(str::trim).filter(|d| !d.is_empty());
    match given {
        Some(d) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            if open.contains(&d) {
                Ok(d)
            } else {
                Err(Problem {
                    field: Some("domain".into()),
                    ..Problem::not_found(format!("{d} does not take sign-ups"))
                })
            }
        }
        None => match open.as_slice() {
            [] => Err(Problem::not_found("no domain here takes sign-ups")),
            [only] => Ok(only.clone()),
            several => Err(Problem::invalid(
                "domain",
                format!("choose the domain: {}", several.join(", ")),
            )),
        },
    }
}

/// Checks a wanted user name beyond the SIP rules the store applies.
pub fn check_name(user: &str) -> Result<(), Problem> {
    let user = user.trim();
    if user.is_empty() {
        return Err(Problem::invalid("user", "choose a user name"));
    }
    let numeric = user
        .strip_prefix('+')
        .unwrap_or(user)
        .bytes()
        .all(|b| b.is_ascii_digit() || b == b'*' || b == b'#');
    if numeric || user.starts_with('*') {
        return Err(Problem::invalid(
            "user",
            "numbers are given by the provider: choose a name with letters",
        ));
    }
    let lower = user.to_ascii_lowercase();
    if RESERVED_NAMES.contains(&lower.as_str()) || lower.starts_with("conf-") {
        return Err(Problem::invalid(
            "user",
            format!("{user:?} is reserved: choose another name"),
        ));
    }
    Ok(())
}

/// Starts a sign-up (after [`count_request`]): checks every field, stores it and
/// e-mails the confirmation link built on `base` (the portal's address as the visitor
/// reaches it). `path` is what the audit log names (`POST /signup`).
pub async fn start(
    state: &AppState,
    source: IpAddr,
    request: &SignupRequest,
    base: Option<String>,
    path: &str,
) -> Result<SignupStarted, Problem> {
    let domain = domain_of(state, request.domain.as_deref()).await?;
    let Some(sender) = state.mail() else {
        return Err(Problem::unavailable(
            "e-mail is not set up on this server, so new accounts cannot be confirmed",
        ));
    };
    check_name(&request.user)?;
    let address = Address::new(request.user.trim(), &domain).map_err(|e| match e {
        StoreError::BadAddress(why) => Problem::invalid("user", why),
        other => Problem::from_store(other, "user"),
    })?;
    let email = request.email.trim();
    if email.is_empty() {
        return Err(Problem::invalid("email", "enter your e-mail address"));
    }
    if request.password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(Problem::invalid(
            "password",
            format!("choose a password of at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    let store = state.store();
    let now = now_ms();
    let day_ms = 24 * 3_600_000;
    // Expired sign-ups go when a new one is made: no timer task, the table stays small.
    if let Err(e) = store.purge_signups(now).await {
        tracing::warn!(error = %e, "cannot purge expired sign-ups");
    }
    let recent = store
        .signups_since(email, now - day_ms)
        .await
        .map_err(|e| Problem::internal(&e))?;
    if recent >= SIGNUPS_PER_EMAIL_PER_DAY {
        return Err(Problem {
            field: Some("email".into()),
            ..Problem::too_many_requests(
                "this e-mail address was sent enough confirmation links today; use one of them, or try tomorrow",
            )
        });
    }
    let base = base.ok_or_else(|| {
        Problem::unavailable("the portal does not know its own address ([http] public_url)")
    })?;
    let ttl_ms = i64::try_from(SIGNUP_TTL.as_millis()).unwrap_or(i64::MAX);
    let secret = store
        .create_signup(&address, email, &request.password, now, ttl_ms)
        .await
        .map_err(|e| match e {
            StoreError::UserExists(_) | StoreError::AliasExists(_) => Problem::conflict(
                Some("user"),
                format!("{address} is taken: choose another name"),
            ),
            StoreError::SelfRegistrationOff(d) => Problem {
                field: Some("domain".into()),
                ..Problem::not_found(format!("{d} does not take sign-ups"))
            },
            StoreError::BadEmail(_) => Problem::invalid(
                "email",
                format!("{email:?} is not an e-mail address (name@example.com)"),
            ),
            StoreError::BadPassword(why) => {
                Problem::invalid("password", format!("this password cannot be used: {why}"))
            }
            other => Problem::internal(&other),
        })?;
    let link = format!(
        "{base}/signup/confirm?token={}",
        crate::pages::query_value(&secret)
    );
    let account = address.to_string();
    let hours = (SIGNUP_TTL.as_secs() / 3600).to_string();
    let (subject, body) = sender.signup.render(&[
        ("account", &account),
        ("link", &link),
        ("valid_hours", &hours),
    ]);
    let mail = mail::Email {
        to: email.to_owned(),
        subject,
        body,
        attachment: None,
    };
    match sender.mailer.send(&mail) {
        Ok(()) => tracing::info!(user = %address, "sign-up confirmation queued for e-mail"),
        Err(e) => tracing::error!(user = %address, error = %e, "sign-up confirmation not sent"),
    }
    audit(
        state,
        &account,
        source,
        path,
        202,
        format!("self-registration asked, e-mail={email}"),
    )
    .await;
    Ok(SignupStarted {
        address: account,
        expires: sip::headers::rfc3339_ms(now.saturating_add(ttl_ms)),
    })
}

/// Follows a confirmation link: creates the account. `path` is what the audit log names.
pub async fn confirm(
    state: &AppState,
    source: IpAddr,
    secret: &str,
    path: &str,
) -> Result<SignupCreated, Problem> {
    let secret = secret.trim();
    if secret.is_empty() {
        return Err(Problem::invalid("token", "the link has no token"));
    }
    let (address, sip_password) = state
        .store()
        .redeem_signup(secret, now_ms())
        .await
        .map_err(|e| match e {
            StoreError::BadSignupToken => Problem::invalid(
                "token",
                "this link is unknown, used or expired: sign up again",
            ),
            StoreError::SelfRegistrationOff(d) => Problem {
                field: Some("domain".into()),
                ..Problem::not_found(format!("{d} no longer takes sign-ups"))
            },
            StoreError::UserExists(a) | StoreError::AliasExists(a) => Problem::conflict(
                Some("user"),
                format!("{a} was taken meanwhile: sign up again with another name"),
            ),
            other => Problem::internal(&other),
        })?;
    let account = address.to_string();
    // A greeting left by an earlier subscriber of this name (removed since: the files of a
    // mailbox outlive its rows) must not greet the newcomer's callers.
    super::greeting::forget(state, &address).await;
    audit(
        state,
        &account,
        source,
        path,
        201,
        "account created by self-registration".to_owned(),
    )
    .await;
    Ok(SignupCreated {
        address: account,
        sip_password,
    })
}

/// One audit log entry of a visitor's step (nobody is logged in to name).
async fn audit(
    state: &AppState,
    actor: &str,
    source: IpAddr,
    path: &str,
    status: i64,
    detail: String,
) {
    let entry = store::NewAuditEntry {
        at_ms: now_ms(),
        actor: actor.to_owned(),
        source: source.to_string(),
        action: format!("POST {path}"),
        status,
        detail: Some(detail),
    };
    if let Err(e) = state.store().record_audit(&entry).await {
        tracing::error!(error = %e, actor, action = %entry.action, "a sign-up could not be written to the audit log");
    }
}

/// Where the e-mailed links point: `[http] public_url`, else `http(s)://HOST` of the
/// request (HTTPS when the cookies are `Secure`); `None` for a missing or odd Host.
pub fn base_url(state: &AppState, headers: &HeaderMap) -> Option<String> {
    if let Some(url) = &state.config().public_url {
        return Some(url.trim_end_matches('/').to_owned());
    }
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let plain = !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b));
    if !plain {
        return None;
    }
    let scheme = if state.config().secure_cookies {
        "https"
    } else {
        "http"
    };
    Some(format!("{scheme}://{host}"))
}

/// Sign up: the confirmation link is e-mailed; the account exists once it is followed.
#[utoipa::path(post, path = "/api/v1/signup", tag = "signup",
    request_body = SignupRequest,
    security(()),
    responses(
        (status = 202, description = "the confirmation link is on its way", body = SignupStarted),
        (status = 404, description = "no domain here takes sign-ups (field `domain` when one was named)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "the name is taken (field `user`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "a field is wrong: `user`, `domain`, `email`, `password`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "too many sign-ups from this address (Retry-After), or links to this e-mail address today (field `email`)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "e-mail is not set up, so accounts cannot be confirmed", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_signup(
    State(state): State<AppState>,
    ClientIp(source): ClientIp,
    headers: HeaderMap,
    JsonBody(request): JsonBody<SignupRequest>,
) -> Result<(StatusCode, Json<SignupStarted>), LoginError> {
    count_request(&state, source, &request.user)?;
    let base = base_url(&state, &headers);
    start(&state, source, &request, base, "/api/v1/signup")
        .await
        .map(|s| (StatusCode::ACCEPTED, Json(s)))
        .map_err(LoginError::from)
}

/// Confirm a sign-up with the token of its e-mailed link: the account is created, and
/// its SIP password shown this once.
#[utoipa::path(post, path = "/api/v1/signup/confirm", tag = "signup",
    request_body = SignupConfirmation,
    security(()),
    responses(
        (status = 201, description = "the account exists; log in with the web password of the sign-up", body = SignupCreated),
        (status = 404, description = "the domain no longer takes sign-ups", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "the name was taken meanwhile (field `user`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "the token is unknown, used or expired (field `token`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn confirm_signup(
    State(state): State<AppState>,
    ClientIp(source): ClientIp,
    JsonBody(c): JsonBody<SignupConfirmation>,
) -> Result<(StatusCode, Json<SignupCreated>), Problem> {
    confirm(&state, source, &c.token, "/api/v1/signup/confirm")
        .await
        .map(|c| (StatusCode::CREATED, Json(c)))
}
