//! Who is calling, and what they may do: authentication and authorisation in one place.
//!
//! A caller is found from a bearer token (`Authorization: Bearer itsp_...`, made with
//! `itsp token create`) or from the browser's session cookie ([`SESSION_COOKIE`]). An
//! admin token, or the session of a subscriber with the admin flag, may do everything; a
//! subscriber's token or session acts on that subscriber's own resources only.
//! [`Caller::allow`] holds the whole policy, one arm per [`Action`]: another subscriber's
//! resource answers 404, exactly as one that does not exist, so nobody learns who the
//! other subscribers are; a subscriber's own resource that only an admin may change
//! answers 403.
//!
//! A session request that changes something must carry the session's form token: the
//! `X-CSRF-Token` header (API) or the `csrf` form field (pages, checked with
//! [`Caller::check_form_token`]). The cookie is `HttpOnly` and `SameSite=Strict` as well.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, Method};
use store::Address;

use crate::problem::Problem;
use crate::time::unix_now;
use crate::AppState;

/// The name of the session cookie.
pub const SESSION_COOKIE: &str = "itsp_session";

/// The header that carries a session's form token on API requests that change something.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// How the caller proved who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A bearer token (its id, for the log).
    Token(i64),
    /// A browser session: its cookie secret and its form token.
    Session {
        /// The cookie value.
        secret: String,
        /// The form token of the session (CSRF).
        csrf_token: String,
    },
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The subscriber acting; `None` for an admin token.
    pub address: Option<Address>,
    /// Whether the caller may do everything.
    pub is_admin: bool,
    /// How they proved it.
    pub credential: Credential,
}

/// Something a caller wants to do, with the subscriber it concerns.
#[derive(Debug, Clone, Copy)]
pub enum Action<'a> {
    /// Read the system status.
    ReadStatus,
    /// List, add or remove served domains.
    ManageDomains,
    /// List all subscribers, add one.
    ManageSubscribers,
    /// Remove this subscriber.
    RemoveSubscriber(&'a Address),
    /// Make this subscriber an admin, or not; disable or enable them.
    SetAdmin(&'a Address),
    /// Read this subscriber, its aliases, groups, forwarding, registrations.
    Read(&'a Address),
    /// Change this subscriber's passwords or call forwarding, remove its registrations.
    ChangeOwn(&'a Address),
    /// Add or remove this subscriber's aliases or groups (numbers and permissions are the
    /// provider's to give).
    ChangeAssigned(&'a Address),
    /// List every registration.
    ListAllRegistrations,
    /// Read every call record.
    ListAllCalls,
    /// Put money into this subscriber's account (the provider's to do).
    MoveMoney(&'a Address),
    /// Open, change (kind, rating plan, currency) or close this subscriber's account.
    SetAccount(&'a Address),
    /// Import tariffs, list the rating plans, price a call with a plan named outright
    /// (a subscriber prices calls with their own plan through [`Action::Read`]).
    ManageRates,
    /// Read every subscriber's invoices (a subscriber reads their own through
    /// [`Action::Read`]).
    ListAllInvoices,
    /// See every call in progress (a subscriber sees their own through [`Action::Read`]).
    ListAllLiveCalls,
    /// End a call in progress.
    HangUpCalls,
    /// Read the audit log of admin changes.
    ReadAudit,
    /// Place a call for this subscriber (click-to-dial: their phones ring first).
    PlaceCall(&'a Address),
}

impl Caller {
    /// Whether the caller may do `action`: `Ok`, or the problem to answer.
    pub fn allow(&self, action: Action<'_>) -> Result<(), Problem> {
        if self.is_admin {
            return Ok(());
        }
        let own = |a: &Address| self.address.as_ref() == Some(a);
        let hidden = |a: &Address| Problem::not_found(format!("no such user: {a}"));
        match action {
            Action::Read(a) | Action::ChangeOwn(a) | Action::PlaceCall(a) if own(a) => Ok(()),
            Action::Read(a) | Action::ChangeOwn(a) | Action::PlaceCall(a) => Err(hidden(a)),
            Action::ChangeAssigned(a)
            | Action::SetAdmin(a)
            | Action::RemoveSubscriber(a)
            | Action::MoveMoney(a)
            | Action::SetAccount(a)
                if !own(a) =>
            {
                Err(hidden(a))
            }
            Action::ChangeAssigned(_) => Err(Problem::forbidden(
                "aliases and groups are given by an admin of the provider",
            )),
            Action::SetAdmin(_) | Action::RemoveSubscriber(_) => {
                Err(Problem::forbidden("only an admin may do this"))
            }
            Action::MoveMoney(_) => Err(Problem::forbidden(
                "top-ups and adjustments are made by the provider",
            )),
            Action::SetAccount(_) => Err(Problem::forbidden(
                "the account's kind and rating plan are set by the provider",
            )),
            Action::ReadStatus
            | Action::ManageDomains
            | Action::ManageSubscribers
            | Action::ListAllRegistrations
            | Action::ListAllCalls
            | Action::ManageRates
            | Action::ListAllInvoices
            | Action::ListAllLiveCalls
            | Action::HangUpCalls
            | Action::ReadAudit => Err(Problem::forbidden("only an admin may do this")),
        }
    }

    /// For form posts of a session: the form's `csrf` field must be the session's token.
    pub fn check_form_token(&self, form_token: Option<&str>) -> Result<(), Problem> {
        match &self.credential {
            Credential::Token(_) => Ok(()),
            Credential::Session { csrf_token, .. } => {
                if form_token.is_some_and(|t| constant_time_eq(t, csrf_token)) {
                    Ok(())
                } else {
                    Err(Problem::forbidden(
                        "the form is stale or from another site: reload the page and try again",
                    ))
                }
            }
        }
    }

    /// The session's form token, for the pages to put in their forms.
    pub fn csrf_token(&self) -> &str {
        match &self.credential {
            Credential::Session { csrf_token, .. } => csrf_token,
            Credential::Token(_) => "",
        }
    }
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The value of cookie `name` in the request's Cookie headers.
pub fn cookie<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The source address of a request, for the login guard: the peer's address (axum's
/// connect info, which [`crate::serve_full`] provides); when the peer is one of
/// [`crate::PortalConfig::trusted_proxies`], the rightmost `X-Forwarded-For` address that
/// is not a trusted proxy itself (the one the nearest proxy appended; entries that are not
/// addresses are skipped). Without connect info (a router served some other way)
/// every request counts as the unspecified address `::`.
pub fn client_ip(state: &AppState, parts: &Parts) -> IpAddr {
    source_of(&state.config().trusted_proxies, parts)
}

/// [`client_ip`] with the trusted proxies `trusted`.
fn source_of(trusted: &[IpAddr], parts: &Parts) -> IpAddr {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED), |c| {
            c.0.ip().to_canonical()
        });
    if !trusted.contains(&peer) {
        return peer;
    }
    let forwarded: Vec<IpAddr> = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter_map(|a| a.parse::<IpAddr>().ok())
        .map(|ip| ip.to_canonical())
        .collect();
    forwarded
        .iter()
        .rev()
        .find(|ip| !trusted.contains(ip))
        .or_else(|| forwarded.first())
        .copied()
        .unwrap_or(peer)
}

/// The source address of a request ([`client_ip`]), as an extractor that never fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, std::convert::Infallible> {
        Ok(ClientIp(client_ip(state, parts)))
    }
}

/// The caller of a request, if it carries valid credentials: a bearer token first, then
/// the session cookie. A bearer token that is not valid is an error, not "anonymous".
pub async fn authenticate(state: &AppState, parts: &Parts) -> Result<Option<Caller>, Problem> {
    let store = state.store();
    let now = unix_now();
    if let Some(auth) = parts.headers.get(header::AUTHORIZATION) {
        let secret = auth
            .to_str()
            .ok()
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .ok_or_else(Problem::unauthenticated)?;
        let token = store
            .api_token_by_secret(secret, now)
            .await
            .map_err(|e| Problem::internal(&e))?
            .ok_or_else(Problem::unauthenticated)?;
        return Ok(Some(Caller {
            is_admin: token.owner.is_none(),
            address: token.owner,
            credential: Credential::Token(token.id),
        }));
    }
    let Some(secret) = cookie(parts, SESSION_COOKIE) else {
        return Ok(None);
    };
    let session = store
        .session(secret, now)
        .await
        .map_err(|e| Problem::internal(&e))?;
    Ok(session.map(|s| Caller {
        address: Some(s.account.address),
        is_admin: s.account.is_admin,
        credential: Credential::Session {
            secret: secret.to_owned(),
            csrf_token: s.csrf_token,
        },
    }))
}

/// API handlers take a [`Caller`]: 401 without credentials; a session request that
/// changes something without the `X-CSRF-Token` header of its session is 403.
impl FromRequestParts<AppState> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Problem> {
        let caller = authenticate(state, parts)
            .await?
            .ok_or_else(Problem::unauthenticated)?;
        let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if !safe && !parts.uri.path().starts_with("/api/") {
            // Pages check the form field themselves (check_form_token).
            return Ok(caller);
        }
        if !safe {
            let header = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
            caller.check_form_token(header).map_err(|_| {
                Problem::forbidden(
                    "a session request that changes something needs the X-CSRF-Token header \
                     (the csrf_token of POST /api/v1/session)",
                )
            })?;
        }
        Ok(caller)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subscriber(a: &str) -> Caller {
        Caller {
            address: Some(Address::parse(a).unwrap()),
            is_admin: false,
            credential: Credential::Token(1),
        }
    }

    fn parts(peer: Option<&str>, forwarded: &[&str]) -> Parts {
        let mut req = axum::http::Request::builder();
        if let Some(p) = peer {
            req = req.extension(ConnectInfo(p.parse::<SocketAddr>().unwrap()));
        }
        for f in forwarded {
            req = req.header("x-forwarded-for", *f);
        }
        req.body(()).unwrap().into_parts().0
    }

    #[test]
    fn the_source_is_the_peer_unless_it_is_a_trusted_proxy() {
        let ip = |t: &str| t.parse::<IpAddr>().unwrap();
        let none: &[IpAddr] = &[];
        let proxy = [ip("10.0.0.1")];
        // Untrusted peers: the header is ignored.
        assert_eq!(
            source_of(none, &parts(Some("192.0.2.7:4000"), &["198.51.100.1"])),
            ip("192.0.2.7")
        );
        assert_eq!(
            source_of(&proxy, &parts(Some("192.0.2.7:4000"), &["198.51.100.1"])),
            ip("192.0.2.7")
        );
        // IPv4-mapped IPv6 peers are their IPv4 address.
        assert_eq!(
            source_of(none, &parts(Some("[::ffff:192.0.2.7]:4000"), &[])),
            ip("192.0.2.7")
        );
        // A trusted proxy: the rightmost forwarded address not itself a trusted proxy;
        // what the client wrote to the left of it, or garbage, does not count.
        assert_eq!(
            source_of(
                &proxy,
                &parts(
                    Some("10.0.0.1:4000"),
                    &["1.2.3.4, not-an-ip", "198.51.100.1, 10.0.0.1"]
                )
            ),
            ip("198.51.100.1")
        );
        // A trusted proxy that forwarded nothing usable: the proxy.
        assert_eq!(
            source_of(&proxy, &parts(Some("10.0.0.1:4000"), &["junk"])),
            ip("10.0.0.1")
        );
        // No connect info: the unspecified address.
        assert_eq!(source_of(none, &parts(None, &[])), ip("::"));
    }

    #[test]
    fn subscribers_see_only_their_own() {
        let alice = Address::parse("alice@example.com").unwrap();
        let bob = Address::parse("bob@example.com").unwrap();
        let c = subscriber("alice@example.com");
        assert!(c.allow(Action::Read(&alice)).is_ok());
        assert!(c.allow(Action::ChangeOwn(&alice)).is_ok());
        assert_eq!(c.allow(Action::Read(&bob)).unwrap_err().status, 404);
        assert_eq!(
            c.allow(Action::ChangeAssigned(&bob)).unwrap_err().status,
            404
        );
        assert_eq!(
            c.allow(Action::ChangeAssigned(&alice)).unwrap_err().status,
            403
        );
        assert_eq!(c.allow(Action::ManageDomains).unwrap_err().status, 403);
        for admin_only in [
            Action::ManageRates,
            Action::ListAllInvoices,
            Action::ListAllLiveCalls,
            Action::HangUpCalls,
            Action::ReadAudit,
        ] {
            assert_eq!(c.allow(admin_only).unwrap_err().status, 403);
        }
        let admin = Caller {
            address: None,
            is_admin: true,
            credential: Credential::Token(2),
        };
        assert!(admin.allow(Action::ChangeAssigned(&bob)).is_ok());
    }
}
