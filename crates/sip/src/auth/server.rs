//! Server side: challenge a request and judge the credentials that answer it
//! (RFC 3261 §22.1–§22.3, RFC 7616 §3.3–§3.5, §5.5).

use super::nonce::{NcCheck, NonceCheck, NonceCounter, NonceKey};
use super::{compute, Algorithm, AuthError, Challenge, Credentials};

/// What a server makes of credentials, shaped for a registrar or proxy's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// Authenticated.
    Ok,
    /// The response is right but the nonce expired, or its count history was dropped: answer
    /// `401`/`407` with a fresh challenge carrying `stale=true` (RFC 7616 §3.3); the client
    /// retries without asking the user.
    Stale,
    /// The nonce was not issued by this server's key for this realm (forged, altered, from an
    /// earlier key, or from the future): answer `401`/`407` with a fresh challenge.
    UnknownNonce,
    /// The credentials are for another realm (RFC 3261 §22.3): ignore them and challenge for
    /// ours with `401`/`407`.
    WrongRealm,
    /// Wrong password or user: answer `403` (or re-challenge with `401`/`407`, by policy).
    BadResponse,
    /// A nonce count already used (RFC 7616 §5.5): answer `403`.
    Replay,
    /// Malformed or unsupported credentials: answer `400` with the error's text as reason
    /// phrase (or challenge again, e.g. for [`AuthError::UnsupportedAlgorithm`]).
    Invalid(AuthError),
}

/// Stateless-nonce digest verifier: a [`NonceKey`], a nonce lifetime, and a bounded
/// [`NonceCounter`] against replays. Time is `now`, seconds since the Unix epoch.
#[derive(Debug, Clone)]
pub struct Verifier {
    key: NonceKey,
    max_age: u64,
    counter: NonceCounter,
    allow_no_qop: bool,
    max_failures: u32,
}

impl Verifier {
    /// A verifier whose nonces are signed with `secret`, stay fresh for `max_age` seconds,
    /// with replay tracking for up to `max_nonces` nonces. Credentials without `qop`
    /// (RFC 2069) are refused; see [`Verifier::allow_rfc2069`].
    pub fn new(secret: &[u8], max_age: u64, max_nonces: usize) -> Self {
        Verifier {
            key: NonceKey::new(secret),
            max_age,
            counter: NonceCounter::new(max_nonces, max_age),
            allow_no_qop: false,
            max_failures: 0,
        }
    }

    /// Bounds the wrong responses one nonce may take: once a nonce has had `max` of them,
    /// even the right response gets [`Outcome::Stale`] (a new nonce), so a guesser cannot
    /// try password after password against one challenge with rising nonce counts
    /// (RFC 7616 §5.5 leaves the nonce's life to the server). 0: no bound (the default).
    pub fn max_failures_per_nonce(mut self, max: u32) -> Self {
        self.max_failures = max;
        self
    }

    /// Whether to accept credentials without `qop` (RFC 2069 clients, RFC 2617 §3.2.2.1).
    /// They carry no nonce count, so a replay within the nonce lifetime cannot be detected.
    pub fn allow_rfc2069(mut self, allow: bool) -> Self {
        self.allow_no_qop = allow;
        self
    }

    /// The nonce key.
    pub fn nonce_key(&self) -> &NonceKey {
        &self.key
    }

    /// The replay tracker (e.g. to call [`NonceCounter::forget_before`] after a restart).
    pub fn counter_mut(&mut self) -> &mut NonceCounter {
        &mut self.counter
    }

    /// A fresh nonce for `realm`; `random` comes from the caller's random source.
    pub fn issue_nonce(&self, now: u64, realm: &str, random: u64) -> String {
        self.key.issue(now, realm, random)
    }

    /// A complete `WWW-Authenticate`/`Proxy-Authenticate` value with a fresh nonce,
    /// `qop="auth"`, and `stale=true` when `stale`. Offer several algorithms by calling once
    /// per algorithm (RFC 8760 §2.4: SHA-256 first).
    pub fn challenge(
        &self,
        realm: &str,
        algorithm: Algorithm,
        stale: bool,
        now: u64,
        random: u64,
    ) -> String {
        let nonce = self.issue_nonce(now, realm, random);
        Challenge::new(realm, &nonce, algorithm, stale).to_string()
    }

    /// Judges `credentials` for a request with `method` and an empty body, against our
    /// `realm` and the user's stored HA1 (hex, computed with the hash function of
    /// `credentials.algorithm()`; see [`super::ha1`]).
    pub fn verify(
        &mut self,
        credentials: &Credentials<'_>,
        method: &str,
        realm: &str,
        ha1: &str,
        now: u64,
    ) -> Outcome {
        self.verify_with_body(credentials, method, &[], realm, ha1, now)
    }

    /// [`Verifier::verify`] for a request with a body (`qop=auth-int`).
    ///
    /// Order of checks: algorithm and `qop` supported, realm, nonce authenticity, response
    /// (so only a client knowing the password learns that its nonce is stale; a wrong one
    /// is counted against the nonce), nonce age, the nonce's failures
    /// ([`Verifier::max_failures_per_nonce`]), and last the nonce count (so a wrong guess
    /// cannot burn counts).
    pub fn verify_with_body(
        &mut self,
        credentials: &Credentials<'_>,
        method: &str,
        body: &[u8],
        realm: &str,
        ha1: &str,
        now: u64,
    ) -> Outcome {
        let c = credentials;
        if let Err(e) = c.algorithm() {
            return Outcome::Invalid(e);
        }
        if c.qop.is_none() && !self.allow_no_qop {
            return Outcome::Invalid(AuthError::MissingCredential("qop"));
        }
        if c.realm.unescape() != realm {
            return Outcome::WrongRealm;
        }
        let nonce = c.nonce.unescape();
        let issued = match self.key.check(&nonce, realm, now, self.max_age) {
            NonceCheck::Invalid => return Outcome::UnknownNonce,
            NonceCheck::Stale => None,
            NonceCheck::Valid { issued } => Some(issued),
        };
        match compute::expected_response(c, method, body, ha1) {
            Err(e) => return Outcome::Invalid(e),
            Ok(r) if !compute::ct_eq_hex(&r, c.response.raw()) => {
                if let (Some(issued), true) = (issued, self.max_failures > 0) {
                    self.counter.fail(&nonce, issued, now);
                }
                return Outcome::BadResponse;
            }
            Ok(_) => {}
        }
        let Some(issued) = issued else {
            return Outcome::Stale;
        };
        if self.max_failures > 0 && self.counter.failures(&nonce) >= self.max_failures {
            return Outcome::Stale;
        }
        let Some(nc) = c.nc.filter(|_| c.qop.is_some()) else {
            return Outcome::Ok;
        };
        match self.counter.check(&nonce, issued, nc, now) {
            NcCheck::Accepted => Outcome::Ok,
            NcCheck::Replay => Outcome::Replay,
            NcCheck::Forgotten => Outcome::Stale,
        }
    }
}
