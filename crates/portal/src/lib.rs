//! # portal — the web portal and REST API of itsp
//!
//! Served by `itsp serve` itself (on by default at `http://127.0.0.1:8080`): one REST API,
//! `/api/v1/...` (JSON, errors as RFC 9457 `application/problem+json`, an OpenAPI 3
//! document at `/api/v1/openapi.json` generated from the handlers, browsable at
//! `/api/docs`), and server-rendered pages over the same operations: subscriber self-care
//! (registered devices with a NAT verdict, call forwarding, call history with CSV, the
//! account and its ledger, invoices, voicemail played in the browser and the greeting
//! uploaded, settings: voicemail and both passwords; optional self-registration with an
//! e-mailed confirmation) and administration (domains, subscribers — searched by address
//! or e-mail — and each one's page — disable, aliases, groups, account, top-up —,
//! registrations, every call record with filters and CSV, calls in progress with a
//! hang-up button, rating plans with a tariff import and a rate test, every invoice, the
//! audit log of every admin change), and a browser phone (`/phone`). No JavaScript is needed to use the pages but the phone; the
//! assets are embedded in the binary.
//!
//! ```no_run
//! # async fn f() -> Result<(), Box<dyn std::error::Error>> {
//! let store = store::Store::open("sqlite://data/itsp.db?mode=rwc").await?;
//! let state = portal::AppState::new(store, portal::PortalConfig::default());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! portal::serve(listener, state, std::future::pending()).await?;
//! # Ok(()) }
//! ```
//!
//! ## Layout
//!
//! - `lib.rs`: [`AppState`], [`PortalConfig`], [`router`] (security headers, body limit,
//!   fallbacks) and [`serve`].
//! - `audit.rs`: the audit log written in one place, [`audit::record_changes`], a layer
//!   around every route: each successful change of an admin (any method but GET, HEAD,
//!   OPTIONS; logins and logouts aside) with who, the source address (as the login guard
//!   sees it), `METHOD /path`, the fields sent with secrets hidden, and the status.
//! - `auth.rs`: who is calling ([`auth::Caller`], from a bearer token or the session
//!   cookie) and the whole authorisation policy ([`auth::Caller::allow`] over
//!   [`auth::Action`]); the form token against cross-site requests.
//! - `problem.rs`: [`problem::Problem`] (RFC 9457) and the JSON body extractor whose
//!   errors name the member at fault.
//! - `login_guard.rs`: brute-force protection of the logins and the forgotten-password
//!   form: failures counted per source and account, growing bans (sans-IO).
//! - `time.rs`: RFC 3339 times.
//! - `metrics.rs`: `GET /metrics`, the server's Prometheus metrics rendered by a
//!   [`metrics::MetricsSource`] it is handed (merged by [`serve_with_metrics`], or served
//!   alone by [`metrics::serve`]).
//! - `websocket.rs`: `GET /ws`, SIP over WebSocket (RFC 7118) at the portal's origin: the
//!   upgrade answered here, the connection handed to the SIP server through a
//!   [`websocket::WebSocketEntry`] (merged by [`serve_full`]).
//! - `api/`: one module per resource — `domains`, `subscribers` (with the disabled flag
//!   and the web password change that needs the current one), `assigned` (aliases and
//!   groups), `forwarding`, `settings` (voicemail on/off, delivery, e-mail, PIN when the
//!   store has one), `registrations`, `calls`, `live_calls` (calls in progress and
//!   their hang-up through the [`api::live_calls::CallControl`] of the server beside the
//!   portal, [`AppState::set_call_control`]), `click_to_dial` (RFC 3725 third-party
//!   call control through the [`api::click_to_dial::Dialer`] of the media service beside
//!   the portal, [`AppState::set_dialer`]), `accounts` (read, open or change, close,
//!   top-up), `audit` (`GET /api/v1/audit`), `invoices` (as issued, with their
//!   PDF and HTML), `rates` (tariff import, plans, rate test; the plans loaded by
//!   `server::rating::load`, as the server rates calls), `voicemail`, `session`,
//!   `status`, `greeting` (the personal voicemail greeting: any WAV uploaded raw or as
//!   `multipart/form-data`, converted to 8 kHz mono by `media::wav`, stored where the
//!   media service plays it), `signup` (self-registration where a domain allows it: a
//!   link e-mailed, the account made when it is followed, with a generated SIP password
//!   shown once) — each with the operation
//!   as a plain function and its JSON handlers; `api/mod.rs` holds the OpenAPI document
//!   ([`api::ApiDoc`]) and the routes.
//! - `pages/`: the HTML pages, which call the same operations: `mod.rs` (layout, escaping,
//!   embedded assets, the page routes), `login.rs`, `password.rs` (forgotten password:
//!   a reset link by e-mail through [`PortalMail`]), `dashboard.rs` (self-care),
//!   `selfcare.rs` (call history and its CSV, the account, voicemail), `greeting.rs`
//!   (the greeting card of `/voicemail`: upload, play, back to the default), `signup.rs`
//!   (`/signup`, `/signup/confirm`: self-registration), `settings.rs`
//!   (`/settings`: voicemail, web and SIP passwords),
//!   `invoices.rs` (`/invoices`, `/admin/invoices`), `admin.rs` (domains, subscribers
//!   with their search, registrations, `/admin/calls` and its CSV), `subscriber.rs`
//!   (`/admin/subscribers/{address}`: disable, aliases, groups, account, top-up), `audit.rs` (`/admin/audit`), `rates.rs`
//!   (`/admin/rates`), `live_calls.rs` (`/admin/calls/live`), `docs.rs` (the API
//!   browser), `phone.rs` (`/phone`, the browser phone: JsSIP over `/ws`).
//! - `assets/` (beside `src/`): `style.css`, `api-docs.js`, `local-time.js` (the pages'
//!   times, `<time>` elements in UTC, rewritten in the visitor's time zone), `phone.js`
//!   and `vendor/jssip.min.js`, compiled into the binary.
//!
//! ## Accounts
//!
//! Subscribers log in with `user@domain` and their web password (argon2id, apart from the
//! SIP digest HA1 values; `itsp user add --password` sets both). A subscriber with the
//! admin flag (`itsp user add --admin`, or `admin: true` through the API) administers
//! everything. Scripts use bearer tokens of `itsp token create --admin | --user ADDRESS`.
//! A disabled subscriber (`PATCH .../{address}` with `disabled`, the admin's subscriber
//! page, `itsp user disable`) can use neither: logins, sessions and tokens are refused,
//! as their phones' SIP authentication is.
//!
//! Where a domain allows it (`itsp domain set example.com self-registration=on`; off by
//! default) visitors create their own account on `/signup` (linked from the login page)
//! or with `POST /api/v1/signup`: a user name (SIP user part rules, not a number, not a
//! service's name), an e-mail address and a web password; the link e-mailed works once,
//! for 24 hours, and following it creates the subscriber with that web password and a
//! generated SIP password, shown once. A taken name is said to be taken; the requests are
//! counted per source by the login guard, so names cannot be tried quickly.

pub mod api;
pub mod audit;
pub mod auth;
pub mod login_guard;
pub mod metrics;
pub mod pages;
pub mod problem;
pub mod time;
pub mod websocket;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::{header, HeaderValue, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use store::Store;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::problem::Problem;

/// The largest request body accepted (forms and JSON are small).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// How long a login lasts unless configured otherwise.
pub const DEFAULT_SESSION_LIFETIME: Duration = Duration::from_secs(12 * 3600);

/// The portal's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortalConfig {
    /// How long a browser session lasts.
    pub session_lifetime: Duration,
    /// Mark the session cookie `Secure` (when the portal is reached over HTTPS, through a
    /// proxy in front of it).
    pub secure_cookies: bool,
    /// The folder of the voicemail recordings (`DATA_DIR/voicemail`, where the media
    /// service writes them); `None`: their audio is not served.
    pub voicemail_dir: Option<std::path::PathBuf>,
    /// The portal's address as people reach it (`https://portal.example.com`), for the
    /// links in e-mails (password reset); `None`: built from the request's Host header.
    pub public_url: Option<String>,
    /// The limits on failed logins and password reset requests (see [`login_guard`]).
    pub login_guard: login_guard::LoginGuardConfig,
    /// Proxies in front of the portal whose `X-Forwarded-For` is believed: a request from
    /// one of them counts against the address it forwarded for (the rightmost one not
    /// itself a trusted proxy). Empty (the default): the peer's address is the source,
    /// whatever the header says.
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

impl Default for PortalConfig {
    fn default() -> Self {
        PortalConfig {
            session_lifetime: DEFAULT_SESSION_LIFETIME,
            secure_cookies: false,
            voicemail_dir: None,
            public_url: None,
            login_guard: login_guard::LoginGuardConfig::default(),
            trusted_proxies: Vec::new(),
        }
    }
}

/// Told the address-of-record (`user@domain`) whose registrations the portal removed
/// from the store, so a SIP server that keeps them in memory reads them again.
pub type BindingsChanged = Arc<dyn Fn(&str) + Send + Sync>;

/// Told the subscriber (`user@domain`) the portal disabled in the store, so a SIP server
/// that caches credentials forgets them at once ([`AppState::set_subscriber_disabled`]).
pub type SubscriberDisabled = Arc<dyn Fn(&str) + Send + Sync>;

/// What every request handler shares: the store, the settings, the start time.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Inner>);

/// What the portal sends e-mail with (the password reset links): the mailer of
/// `[smtp]` and the text. Without it, the forgotten-password page says e-mail is off.
#[derive(Debug, Clone)]
pub struct PortalMail {
    /// The send queue.
    pub mailer: mail::Mailer,
    /// The reset e-mail ([`mail::PASSWORD_RESET`]).
    pub password_reset: mail::Template,
    /// The sign-up confirmation e-mail ([`mail::SIGNUP`]).
    pub signup: mail::Template,
}

struct Inner {
    store: Store,
    config: PortalConfig,
    mail: Option<PortalMail>,
    started: Instant,
    started_at_unix: i64,
    bindings_changed: Option<BindingsChanged>,
    login_guard: std::sync::Mutex<login_guard::LoginGuard>,
    call_control: std::sync::OnceLock<api::live_calls::SharedCallControl>,
    subscriber_disabled: std::sync::OnceLock<SubscriberDisabled>,
    dialer: std::sync::OnceLock<api::click_to_dial::SharedDialer>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inner")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// The state of a portal over `store`.
    pub fn new(store: Store, config: PortalConfig) -> AppState {
        AppState::with_server(store, config, None, None)
    }

    /// The state of a portal over `store` that e-mails with `mail` (`None`: no e-mail).
    pub fn with_mail(store: Store, config: PortalConfig, mail: Option<PortalMail>) -> AppState {
        AppState::with_server(store, config, mail, None)
    }

    /// The state of a portal over `store` that e-mails with `mail`, beside a SIP server
    /// that keeps registrations in memory: `bindings_changed` tells it of the ones
    /// removed here.
    pub fn with_server(
        store: Store,
        config: PortalConfig,
        mail: Option<PortalMail>,
        bindings_changed: Option<BindingsChanged>,
    ) -> AppState {
        let guard = login_guard::LoginGuard::new(config.login_guard.clone());
        AppState(Arc::new(Inner {
            store,
            login_guard: std::sync::Mutex::new(guard),
            config,
            mail,
            started: Instant::now(),
            started_at_unix: time::unix_now(),
            bindings_changed,
            call_control: std::sync::OnceLock::new(),
            subscriber_disabled: std::sync::OnceLock::new(),
            dialer: std::sync::OnceLock::new(),
        }))
    }

    /// Hands the portal what ends calls in progress: the SIP server beside it (see
    /// [`api::live_calls`]). Once: a second control is ignored, with a warning.
    pub fn set_call_control(&self, control: api::live_calls::SharedCallControl) {
        if self.0.call_control.set(control).is_err() {
            tracing::warn!("the portal was handed a second call control: ignored");
        }
    }

    /// What ends calls in progress, when a SIP server runs beside the portal.
    pub fn call_control(&self) -> Option<&api::live_calls::SharedCallControl> {
        self.0.call_control.get()
    }

    /// Hands the portal what places click-to-dial calls: the media service beside it (see
    /// [`api::click_to_dial`]). Once: a second dialer is ignored, with a warning.
    pub fn set_dialer(&self, dialer: api::click_to_dial::SharedDialer) {
        if self.0.dialer.set(dialer).is_err() {
            tracing::warn!("the portal was handed a second dialer: ignored");
        }
    }

    /// What places click-to-dial calls, when media services run beside the portal.
    pub fn dialer(&self) -> Option<&api::click_to_dial::SharedDialer> {
        self.0.dialer.get()
    }

    /// Tells the SIP server, if any, that the registrations of `aor` changed.
    pub(crate) fn bindings_changed(&self, aor: &str) {
        if let Some(tell) = &self.0.bindings_changed {
            tell(aor);
        }
    }

    /// Hands the portal what tells the SIP server beside it of a subscriber disabled
    /// here, whose cached credentials it must forget at once. Once: a second one is
    /// ignored, with a warning.
    pub fn set_subscriber_disabled(&self, tell: SubscriberDisabled) {
        if self.0.subscriber_disabled.set(tell).is_err() {
            tracing::warn!("the portal was handed a second subscriber-disabled notice: ignored");
        }
    }

    /// Tells the SIP server, if any, that the subscriber `aor` was disabled.
    pub(crate) fn subscriber_disabled(&self, aor: &str) {
        if let Some(tell) = self.0.subscriber_disabled.get() {
            tell(aor);
        }
    }

    /// The login guard, to count or check at `now` (the lock is held only for the call).
    pub fn login_guard<T>(&self, f: impl FnOnce(&mut login_guard::LoginGuard) -> T) -> T {
        let mut guard = self
            .0
            .login_guard
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut guard)
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.0.store
    }

    /// The settings.
    pub fn config(&self) -> &PortalConfig {
        &self.0.config
    }

    /// The e-mail sender, when e-mail is on.
    pub fn mail(&self) -> Option<&PortalMail> {
        self.0.mail.as_ref()
    }

    /// itsp's version.
    pub fn version(&self) -> &'static str {
        env!("CARGO_PKG_VERSION")
    }

    /// When the portal started, Unix seconds.
    pub fn started_at_unix(&self) -> i64 {
        self.0.started_at_unix
    }

    /// Time since the start.
    pub fn uptime(&self) -> Duration {
        self.0.started.elapsed()
    }
}

/// The Content-Security-Policy of every answer: nothing from elsewhere, no inline script
/// or style, no framing; audio (voicemail) from the portal itself.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self'; media-src 'self'; connect-src 'self'; \
     form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";

/// The whole portal: API, pages, assets, with security headers on every answer and each
/// admin change written to the audit log ([`audit::record_changes`]).
pub fn router(state: AppState) -> Router {
    let header =
        |name, value| SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value));
    api::router()
        .merge(pages::router())
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            audit::record_changes,
        ))
        .with_state(state)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(header(
            header::CONTENT_SECURITY_POLICY,
            CONTENT_SECURITY_POLICY,
        ))
        .layer(header(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(header(header::X_FRAME_OPTIONS, "DENY"))
        .layer(header(header::REFERRER_POLICY, "same-origin"))
        .layer(header(header::CACHE_CONTROL, "no-store"))
}

/// [`router`] with `GET /metrics` when `metrics` is given (see [`metrics`]).
pub fn router_with_metrics(state: AppState, metrics: Option<metrics::MetricsSource>) -> Router {
    let portal = router(state);
    match metrics {
        Some(source) => portal.merge(metrics::router(source)),
        None => portal,
    }
}

/// 404: a problem for the API, a page for people.
async fn not_found(uri: Uri) -> Response {
    if uri.path().starts_with("/api/") {
        Problem::not_found(format!("no such endpoint: {}", uri.path())).into_response()
    } else {
        pages::not_found_page().into_response()
    }
}

/// Serves the portal on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with_metrics(listener, state, None, shutdown).await
}

/// [`serve`], with `GET /metrics` answered by `metrics` when given.
pub async fn serve_with_metrics(
    listener: tokio::net::TcpListener,
    state: AppState,
    metrics: Option<metrics::MetricsSource>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_full(listener, state, metrics, None, shutdown).await
}

/// [`serve_with_metrics`], with `GET /ws` (SIP over WebSocket) handed to `websocket`
/// when given.
pub async fn serve_full(
    listener: tokio::net::TcpListener,
    state: AppState,
    metrics: Option<metrics::MetricsSource>,
    websocket: Option<websocket::WebSocketEntry>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut app = router_with_metrics(state, metrics);
    if let Some(entry) = websocket {
        app = app.merge(websocket::router(entry));
    }
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
