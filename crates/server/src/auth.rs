//! Digest authentication policy of the server (RFC 3261 §22, RFC 8760): which header to
//! read, when to challenge with `401`/`407`, and the identity rules of the seed's `ser.cfg`
//! (`check_to` for REGISTER, `check_from` for other requests: "403 Use From=ID").
//!
//! The digest math and stateless nonces are `sip::auth`; this module decides. An unknown
//! user goes through the same steps as a known one with a wrong password, against a
//! per-user dummy HA1, and gets the same answer: nothing tells them apart (no user
//! enumeration, as `svwar` tries).

use hmac::{Hmac, Mac};
use sha2::Sha256;
use sip::auth::{parse_credentials, Algorithm, AuthHeader, Credentials, Outcome, Verifier};
use sip::sanity::Rejection;
use sip::{HeaderName, Message, Method};

/// Which challenge a request gets (RFC 3261 §22.1, §22.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthKind {
    /// A registrar or UAS: `401` with WWW-Authenticate, answered in Authorization.
    Www,
    /// A proxy: `407` with Proxy-Authenticate, answered in Proxy-Authorization.
    Proxy,
}

impl AuthKind {
    /// REGISTER is authenticated by the registrar (401), everything else by the proxy (407).
    pub fn for_request(request: &Message) -> AuthKind {
        if request.method() == Some(&Method::Register) {
            AuthKind::Www
        } else {
            AuthKind::Proxy
        }
    }

    fn code(self) -> u16 {
        match self {
            AuthKind::Www => 401,
            AuthKind::Proxy => 407,
        }
    }

    fn challenge_header(self) -> HeaderName {
        match self {
            AuthKind::Www => HeaderName::WwwAuthenticate,
            AuthKind::Proxy => HeaderName::ProxyAuthenticate,
        }
    }

    /// The header carrying the answer to our challenge.
    pub fn credentials_header(self) -> HeaderName {
        match self {
            AuthKind::Www => HeaderName::Authorization,
            AuthKind::Proxy => HeaderName::ProxyAuthorization,
        }
    }
}

pub use store::Ha1s;

/// What to do with a request after looking at its credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Authenticated as this user of the realm.
    Authenticated {
        /// The digest username.
        user: String,
    },
    /// Answer with this code (401 or 407) and one challenge header per algorithm offered,
    /// in the configured order (RFC 8760 §2.4).
    Challenge {
        /// 401 or 407.
        code: u16,
        /// `(WWW-Authenticate or Proxy-Authenticate, value)`, in order.
        headers: Vec<(HeaderName, String)>,
        /// The credentials were judged wrong (not a first request, a stale nonce or an
        /// algorithm we do not offer): what the failure guard counts ([`crate::guard`]).
        failure: Option<AuthFailure>,
    },
    /// Refuse: 400 for malformed credentials, 403 for a replayed nonce count.
    Reject(Rejection),
}

/// Credentials judged wrong: who claimed to be whom, and why, for the log and the
/// failure guard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthFailure {
    /// The digest username given.
    pub user: String,
    /// Why.
    pub reason: FailReason,
}

/// Why credentials were judged wrong. An unknown user and a wrong password are one
/// reason, [`FailReason::BadCredentials`], so the log does not tell them apart either.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailReason {
    /// Wrong password or unknown user: the response does not match.
    BadCredentials,
    /// The nonce was not issued by us for this realm (forged, altered, or from before a
    /// restart).
    BadNonce,
}

impl FailReason {
    /// The text in the log's `reason` field.
    pub fn as_str(self) -> &'static str {
        match self {
            FailReason::BadCredentials => "bad credentials",
            FailReason::BadNonce => "bad nonce",
        }
    }
}

/// The server's digest authenticator: a nonce [`Verifier`] plus the key of the dummy HA1s
/// used for unknown users.
#[derive(Debug, Clone)]
pub struct DigestAuth {
    verifier: Verifier,
    dummy_key: Vec<u8>,
    algorithms: Vec<Algorithm>,
}

/// The challenge offered by default: MD5 alone, as Kamailio does, because every phone
/// answers it and some fail on more than one: baresip 1.0 (Debian 12) gives up on a 401
/// carrying MD5 and SHA-256 challenges ("Function not implemented"). SHA-256 (RFC 8760)
/// is offered when configured with [`DigestAuth::with_algorithms`], in the order given
/// (RFC 8760 §2.4 lets the server choose it; MD5 first serves the phones that read only
/// the first challenge).
pub const DEFAULT_ALGORITHMS: [Algorithm; 1] = [Algorithm::Md5];

/// Wrong responses one nonce takes before even the right one gets `stale=true` and a new
/// nonce: a phone whose user mistyped the password a few times is not bothered, a guesser
/// cannot try a word list against one challenge.
pub const DEFAULT_NONCE_FAILURES: u32 = 5;

/// Nonces remembered for replay checks (RFC 7616 §5.5); older ones are answered `stale`.
const MAX_TRACKED_NONCES: usize = 100_000;

impl DigestAuth {
    /// An authenticator whose nonces are signed with `secret` and live `nonce_lifetime`
    /// seconds; a nonce takes at most [`DEFAULT_NONCE_FAILURES`] wrong responses
    /// ([`DigestAuth::with_nonce_failures`]).
    pub fn new(secret: &[u8], nonce_lifetime: u64) -> DigestAuth {
        let mut dummy_key = secret.to_vec();
        dummy_key.extend_from_slice(b"/unknown-user");
        DigestAuth {
            verifier: Verifier::new(secret, nonce_lifetime, MAX_TRACKED_NONCES)
                .max_failures_per_nonce(DEFAULT_NONCE_FAILURES),
            dummy_key,
            algorithms: DEFAULT_ALGORITHMS.to_vec(),
        }
    }

    /// Offers these algorithms, in this order of preference (RFC 8760 §2.4), instead of
    /// [`DEFAULT_ALGORITHMS`]. Credentials of an algorithm not offered are challenged
    /// again. An empty list keeps the default.
    pub fn with_algorithms(mut self, algorithms: &[Algorithm]) -> DigestAuth {
        if !algorithms.is_empty() {
            self.algorithms = algorithms.to_vec();
        }
        self
    }

    /// Bounds the wrong responses one nonce takes ([`Verifier::max_failures_per_nonce`];
    /// 0: no bound).
    pub fn with_nonce_failures(mut self, max: u32) -> DigestAuth {
        self.verifier = self.verifier.max_failures_per_nonce(max);
        self
    }

    /// Judges the request's credentials for `realm`. `lookup` gives the stored hashes of a
    /// username in the realm, or `None` for an unknown user. `random` seeds the nonce of a
    /// challenge.
    pub fn check(
        &mut self,
        request: &Message,
        kind: AuthKind,
        realm: &str,
        now: u64,
        random: u64,
        lookup: impl FnOnce(&str) -> Option<Ha1s>,
    ) -> Decision {
        let Some(method) = request.method() else {
            return Decision::Reject(Rejection::new(400, "not a request"));
        };
        // RFC 3261 §22.3 / RFC 4475 §3.3.7: use the Digest credentials for our realm; other
        // schemes and realms are ignored.
        let mut ours: Option<Credentials<'_>> = None;
        for value in request.header_values(kind.credentials_header()) {
            match parse_credentials(value) {
                Ok(AuthHeader::Digest(c)) if c.realm.unescape() == realm => {
                    ours = Some(c);
                    break;
                }
                Ok(_) => {}
                Err(e) => return Decision::Reject(Rejection::new(400, e.to_string())),
            }
        }
        let Some(credentials) = ours else {
            return self.challenge(kind, realm, false, now, random);
        };
        if credentials.userhash {
            // RFC 7616 §3.4.4 user hashing is not offered in our challenges.
            return self.challenge(kind, realm, false, now, random);
        }
        let user = credentials.username.unescape().into_owned();
        let algorithm = match credentials.algorithm() {
            Ok(a) if self.algorithms.contains(&a) => a,
            _ => return self.challenge(kind, realm, false, now, random),
        };
        // Unknown user, or an algorithm we do not store: the same work and answer as a
        // wrong password.
        let ha1 = match lookup(&user).and_then(|h| h.for_algorithm(algorithm).map(str::to_owned)) {
            Some(h) => h,
            None => self.dummy_ha1(&user, realm, algorithm),
        };
        let failed = |reason| {
            Some(AuthFailure {
                user: user.clone(),
                reason,
            })
        };
        let (stale, failure) =
            match self
                .verifier
                .verify(&credentials, method.as_str(), realm, &ha1, now)
            {
                Outcome::Ok => return Decision::Authenticated { user },
                Outcome::Stale => (true, None),
                Outcome::Replay => {
                    return Decision::Reject(Rejection::new(403, "Nonce count reused"))
                }
                Outcome::Invalid(e) => return Decision::Reject(Rejection::new(400, e.to_string())),
                // Wrong password and unknown user: one reason.
                Outcome::BadResponse => (false, failed(FailReason::BadCredentials)),
                Outcome::UnknownNonce => (false, failed(FailReason::BadNonce)),
                _ => (false, None),
            };
        // A fresh challenge, identical in every case.
        match self.challenge(kind, realm, stale, now, random) {
            Decision::Challenge { code, headers, .. } => Decision::Challenge {
                code,
                headers,
                failure,
            },
            other => other,
        }
    }

    /// The username of the request's Digest credentials for `realm`, if it has any that
    /// parse: what to look up in the store before [`DigestAuth::check`].
    pub fn username(request: &Message, kind: AuthKind, realm: &str) -> Option<String> {
        request
            .header_values(kind.credentials_header())
            .find_map(|value| match parse_credentials(value) {
                Ok(AuthHeader::Digest(c)) if c.realm.unescape() == realm && !c.userhash => {
                    Some(c.username.unescape().into_owned())
                }
                _ => None,
            })
    }

    fn challenge(
        &self,
        kind: AuthKind,
        realm: &str,
        stale: bool,
        now: u64,
        random: u64,
    ) -> Decision {
        // One nonce per algorithm, so that the counts of each are tracked apart.
        let headers = self
            .algorithms
            .iter()
            .copied()
            .zip(0u64..)
            .map(|(alg, i)| {
                (
                    kind.challenge_header(),
                    self.verifier
                        .challenge(realm, alg, stale, now, random.wrapping_add(i)),
                )
            })
            .collect();
        Decision::Challenge {
            code: kind.code(),
            headers,
            failure: None,
        }
    }

    /// A stable fake HA1 for a user that does not exist, so verifying it costs what a real
    /// one costs and always fails.
    fn dummy_ha1(&self, user: &str, realm: &str, algorithm: Algorithm) -> String {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.dummy_key) else {
            return String::new();
        };
        mac.update(user.as_bytes());
        mac.update(b":");
        mac.update(realm.as_bytes());
        let digest = mac.finalize().into_bytes();
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        hex[..algorithm.hex_len().min(hex.len())].to_owned()
    }
}

/// The seed's identity rules after authentication: for REGISTER the To user must be the
/// authenticated user (`check_to`), for other requests the From user (`check_from`), else
/// `403 Use To=ID` / `403 Use From=ID`.
pub fn check_identity(request: &Message, user: &str) -> Result<(), Rejection> {
    let (addr, reason) = if request.method() == Some(&Method::Register) {
        (request.to()?, "Use To=ID")
    } else {
        (request.from()?, "Use From=ID")
    };
    let uri = addr
        .parsed_uri()
        .map_err(|e| Rejection::new(400, format!("Bad address URI: {e}")))?;
    let claimed = match &uri {
        sip::Uri::Sip(s) => s.user_unescaped(),
        _ => None,
    };
    match claimed {
        Some(u) if u.as_ref() == user.as_bytes() => Ok(()),
        _ => Err(Rejection::new(403, reason)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sip::auth::{ha1, parse_challenge, respond, ClientRequest, Secret};

    const REALM: &str = "example.com";

    fn request(
        method: &str,
        from_user: &str,
        to_user: &str,
        auth: Option<(&str, &str)>,
    ) -> Message {
        let auth = auth.map_or(String::new(), |(h, v)| format!("{h}: {v}\r\n"));
        Message::parse(format!(
            "{method} sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n\
From: <sip:{from_user}@example.com>;tag=1\r\nTo: <sip:{to_user}@example.com>\r\n\
Call-ID: a\r\nCSeq: 1 {method}\r\n{auth}Content-Length: 0\r\n\r\n"
        ))
        .unwrap()
    }

    fn alice() -> Option<Ha1s> {
        Some(Ha1s {
            md5: ha1(Algorithm::Md5, "alice", REALM, "secret"),
            sha256: ha1(Algorithm::Sha256, "alice", REALM, "secret"),
        })
    }

    /// Answers the first challenge (SHA-256) as a phone would.
    fn answer(challenge: &str, method: &str, user: &str, password: &str, nc: u32) -> String {
        let c = parse_challenge(challenge).unwrap().into_digest().unwrap();
        respond(
            &c,
            &ClientRequest {
                method,
                uri: "sip:example.com",
                username: user,
                secret: Secret::Password(password),
                cnonce: "abcdef",
                nc,
                body: &[],
            },
        )
        .unwrap()
    }

    fn challenge_of(d: Decision) -> (u16, Vec<(HeaderName, String)>) {
        match d {
            Decision::Challenge { code, headers, .. } => (code, headers),
            other => panic!("expected a challenge, got {other:?}"),
        }
    }

    #[test]
    fn register_challenge_then_success() {
        let req = request("REGISTER", "alice", "alice", None);
        // By default MD5 alone, which every phone answers.
        let mut auth = DigestAuth::new(b"k", 300);
        let (_, headers) =
            challenge_of(auth.check(&req, AuthKind::Www, REALM, 1000, 7, |_| alice()));
        assert_eq!(headers.len(), 1);
        assert!(headers[0].1.contains("algorithm=MD5"), "{headers:?}");
        // Both when configured, in the order given.
        let mut auth =
            DigestAuth::new(b"k", 300).with_algorithms(&[Algorithm::Md5, Algorithm::Sha256]);
        let (_, headers) =
            challenge_of(auth.check(&req, AuthKind::Www, REALM, 1000, 7, |_| alice()));
        assert!(headers[0].1.contains("MD5") && headers[1].1.contains("SHA-256"));
        let mut auth =
            DigestAuth::new(b"k", 300).with_algorithms(&[Algorithm::Sha256, Algorithm::Md5]);
        let (code, headers) =
            challenge_of(auth.check(&req, AuthKind::Www, REALM, 1000, 7, |_| alice()));
        assert_eq!(code, 401);
        assert_eq!(headers.len(), 2);
        assert!(headers[0].1.contains("SHA-256") && headers[1].1.contains("MD5"));
        let creds = answer(&headers[0].1, "REGISTER", "alice", "secret", 1);
        let req = request(
            "REGISTER",
            "alice",
            "alice",
            Some(("Authorization", &creds)),
        );
        assert_eq!(
            auth.check(&req, AuthKind::Www, REALM, 1001, 8, |_| alice()),
            Decision::Authenticated {
                user: "alice".into()
            }
        );
        // Only SHA-256 offered: MD5 credentials are challenged again.
        let bare = request("REGISTER", "alice", "alice", None);
        let mut sha_only = DigestAuth::new(b"k", 300).with_algorithms(&[Algorithm::Sha256]);
        let (_, sha_headers) =
            challenge_of(sha_only.check(&bare, AuthKind::Www, REALM, 1000, 7, |_| alice()));
        assert_eq!(sha_headers.len(), 1);
        let md5_only = DigestAuth::new(b"k", 300).with_algorithms(&[Algorithm::Md5]);
        let (_, md5_headers) =
            challenge_of(
                md5_only
                    .clone()
                    .check(&bare, AuthKind::Www, REALM, 1000, 7, |_| alice()),
            );
        let md5_creds = answer(&md5_headers[0].1, "REGISTER", "alice", "secret", 1);
        let md5_req = request(
            "REGISTER",
            "alice",
            "alice",
            Some(("Authorization", &md5_creds)),
        );
        assert!(matches!(
            sha_only.check(&md5_req, AuthKind::Www, REALM, 1001, 8, |_| alice()),
            Decision::Challenge { .. }
        ));
        // The same nonce count again is a replay.
        match auth.check(&req, AuthKind::Www, REALM, 1002, 9, |_| alice()) {
            Decision::Reject(r) => assert_eq!(r.code, 403),
            other => panic!("{other:?}"),
        }
        // MD5 works too.
        let creds = answer(&headers[1].1, "REGISTER", "alice", "secret", 1);
        let req = request(
            "REGISTER",
            "alice",
            "alice",
            Some(("Authorization", &creds)),
        );
        assert!(matches!(
            auth.check(&req, AuthKind::Www, REALM, 1003, 9, |_| alice()),
            Decision::Authenticated { .. }
        ));
    }

    #[test]
    fn unknown_user_and_wrong_password_look_the_same() {
        let mut auth = DigestAuth::new(b"k", 300);
        let (_, headers) = challenge_of(auth.check(
            &request("INVITE", "x", "y", None),
            AuthKind::Proxy,
            REALM,
            0,
            1,
            |_| alice(),
        ));
        let wrong = answer(&headers[0].1, "INVITE", "alice", "guess", 1);
        let unknown = answer(&headers[0].1, "INVITE", "mallory", "guess", 1);
        let a = auth.check(
            &request(
                "INVITE",
                "alice",
                "bob",
                Some(("Proxy-Authorization", &wrong)),
            ),
            AuthKind::Proxy,
            REALM,
            1,
            42,
            |_| alice(),
        );
        let b = auth.check(
            &request(
                "INVITE",
                "mallory",
                "bob",
                Some(("Proxy-Authorization", &unknown)),
            ),
            AuthKind::Proxy,
            REALM,
            1,
            42,
            |_| None,
        );
        let reason = |d: &Decision| match d {
            Decision::Challenge { failure, .. } => failure.as_ref().map(|f| f.reason),
            _ => None,
        };
        assert_eq!(reason(&a), Some(FailReason::BadCredentials));
        assert_eq!(reason(&a), reason(&b), "one reason in the log");
        assert_eq!(
            challenge_of(a.clone()),
            challenge_of(b),
            "same code, same headers, same nonce"
        );
        assert_eq!(challenge_of(a).0, 407);
    }

    #[test]
    fn stale_nonce_and_foreign_schemes() {
        let mut auth = DigestAuth::new(b"k", 300);
        let (_, headers) = challenge_of(auth.check(
            &request("REGISTER", "alice", "alice", None),
            AuthKind::Www,
            REALM,
            0,
            1,
            |_| alice(),
        ));
        let creds = answer(&headers[0].1, "REGISTER", "alice", "secret", 1);
        let req = request(
            "REGISTER",
            "alice",
            "alice",
            Some(("Authorization", &creds)),
        );
        let (_, stale) =
            challenge_of(auth.check(&req, AuthKind::Www, REALM, 10_000, 2, |_| alice()));
        assert!(stale[0].1.contains("stale=true"));
        // RFC 4475 §3.3.7: an unknown scheme is ignored and the request challenged.
        let other = request(
            "REGISTER",
            "alice",
            "alice",
            Some(("Authorization", "NoOneKnowsThisScheme opaque-data=here")),
        );
        assert_eq!(
            challenge_of(auth.check(&other, AuthKind::Www, REALM, 0, 3, |_| alice())).0,
            401
        );
        // Malformed Digest credentials are a 400 with the reason.
        let bad = request(
            "REGISTER",
            "alice",
            "alice",
            Some(("Authorization", "Digest username=\"alice\"")),
        );
        match auth.check(&bad, AuthKind::Www, REALM, 0, 3, |_| alice()) {
            Decision::Reject(r) => assert_eq!(r.code, 400),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_nonce_takes_a_bounded_number_of_wrong_responses() {
        let mut auth = DigestAuth::new(b"k", 300);
        let bare = request("REGISTER", "alice", "alice", None);
        let (_, headers) = challenge_of(auth.check(&bare, AuthKind::Www, REALM, 0, 1, |_| alice()));
        let with = |password: &str, nc: u32| {
            let creds = answer(&headers[0].1, "REGISTER", "alice", password, nc);
            request(
                "REGISTER",
                "alice",
                "alice",
                Some(("Authorization", &creds)),
            )
        };
        for nc in 1..=DEFAULT_NONCE_FAILURES {
            match auth.check(&with("guess", nc), AuthKind::Www, REALM, 1, 2, |_| alice()) {
                Decision::Challenge {
                    failure: Some(f), ..
                } => assert_eq!(f.reason, FailReason::BadCredentials),
                other => panic!("{other:?}"),
            }
        }
        // The right password on that nonce now gets a new nonce, stale=true.
        let (_, stale) = challenge_of(auth.check(
            &with("secret", DEFAULT_NONCE_FAILURES + 1),
            AuthKind::Www,
            REALM,
            2,
            3,
            |_| alice(),
        ));
        assert!(stale[0].1.contains("stale=true"));
        // Unbounded, as before: the right password after many wrong ones is accepted.
        let mut open = DigestAuth::new(b"k", 300).with_nonce_failures(0);
        for nc in 1..=50 {
            let _ = open.check(&with("guess", nc), AuthKind::Www, REALM, 1, 2, |_| alice());
        }
        assert!(matches!(
            open.check(&with("secret", 51), AuthKind::Www, REALM, 2, 3, |_| alice()),
            Decision::Authenticated { .. }
        ));
    }

    #[test]
    fn identity_rules() {
        assert!(check_identity(&request("REGISTER", "x", "alice", None), "alice").is_ok());
        let r = check_identity(&request("REGISTER", "alice", "bob", None), "alice").unwrap_err();
        assert_eq!((r.code, r.reason.as_str()), (403, "Use To=ID"));
        assert!(check_identity(&request("INVITE", "alice", "bob", None), "alice").is_ok());
        let r = check_identity(&request("INVITE", "bob", "alice", None), "alice").unwrap_err();
        assert_eq!((r.code, r.reason.as_str()), (403, "Use From=ID"));
    }

    #[test]
    fn username_is_read_for_our_realm_only() {
        let cred = |realm: &str| {
            format!(
                r#"Digest username="alice", realm="{realm}", nonce="n", uri="sip:example.com", response="00""#
            )
        };
        let r = request(
            "REGISTER",
            "alice",
            "alice",
            Some(("Authorization", &cred(REALM))),
        );
        assert_eq!(
            DigestAuth::username(&r, AuthKind::Www, REALM).as_deref(),
            Some("alice")
        );
        assert_eq!(DigestAuth::username(&r, AuthKind::Proxy, REALM), None);
        let r = request(
            "REGISTER",
            "alice",
            "alice",
            Some(("Authorization", &cred("other.org"))),
        );
        assert_eq!(DigestAuth::username(&r, AuthKind::Www, REALM), None);
    }
}
