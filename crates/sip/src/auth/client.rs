//! Client side: answer a challenge with credentials (RFC 3261 §22.2, §22.3; RFC 7616 §3.4)
//! and choose among several challenges (RFC 8760 §2.4, RFC 7616 §3.7).

use super::{algorithm, compute, AuthError, Challenge, Credentials, Qop, ResponseInput, Value};

/// The user's secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secret<'a> {
    /// The plain password.
    Password(&'a str),
    /// A precomputed HA1 in hex; it must use the hash function of the challenge's algorithm.
    Ha1(&'a str),
}

/// The request being authenticated and the client's choices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientRequest<'a> {
    /// Request method, e.g. `REGISTER`.
    pub method: &'a str,
    /// The Request-URI, sent as the `uri` parameter (RFC 3261 §22.4).
    pub uri: &'a str,
    /// The username (unhashed).
    pub username: &'a str,
    /// Password or HA1.
    pub secret: Secret<'a>,
    /// Client nonce from the caller's random source; used with `qop` and `-sess`.
    pub cnonce: &'a str,
    /// Nonce count: 1 for the first request with this nonce, then increasing.
    pub nc: u32,
    /// The body (hashed only for `qop=auth-int`).
    pub body: &'a [u8],
}

/// Computes the `Authorization`/`Proxy-Authorization` header value answering `challenge`.
///
/// Uses the challenge's algorithm, `qop=auth` when offered (else `auth-int`, else none, the
/// RFC 2069 form), echoes `opaque`, and hashes the username when the challenge says
/// `userhash=true` (RFC 7616 §3.4.4). Fails when the algorithm or every offered `qop` is
/// unsupported.
pub fn respond(challenge: &Challenge<'_>, req: &ClientRequest<'_>) -> Result<String, AuthError> {
    let alg = challenge.algorithm()?;
    let qop = match challenge.qop {
        None => None,
        Some(_) if challenge.offers(Qop::Auth) => Some(Qop::Auth),
        Some(_) if challenge.offers(Qop::AuthInt) => Some(Qop::AuthInt),
        Some(_) => return Err(AuthError::UnsupportedQop),
    };
    let realm = challenge.realm.unescape();
    let nonce = challenge.nonce.unescape();
    let ha1 = match req.secret {
        Secret::Password(p) => algorithm::ha1(alg, req.username, &realm, p),
        Secret::Ha1(h) => h.to_ascii_lowercase(),
    };
    let use_cnonce = qop.is_some() || alg.is_session();
    let response = compute::compute_response(&ResponseInput {
        algorithm: alg,
        ha1: &ha1,
        nonce: &nonce,
        method: req.method,
        uri: req.uri,
        qop,
        nc: Some(req.nc),
        cnonce: Some(req.cnonce),
        body: req.body,
    })?;
    let hashed_user;
    let username = if challenge.userhash {
        hashed_user = algorithm::userhash(alg, req.username, &realm);
        hashed_user.as_str()
    } else {
        req.username
    };
    let mut c = Credentials::new(username, &realm, &nonce, req.uri, &response);
    c.algorithm = challenge.algorithm.map(|_| alg.name());
    c.cnonce = use_cnonce.then(|| Value::new(req.cnonce));
    c.opaque = challenge.opaque;
    c.qop = qop;
    c.nc = qop.map(|_| req.nc);
    c.userhash = challenge.userhash;
    Ok(c.to_string())
}

/// Picks the challenge to answer among several (e.g. one `WWW-Authenticate` per algorithm):
/// the strongest supported algorithm (SHA-512-256, then SHA-256, then MD5; RFC 8760 §2.4),
/// the first one on ties. Challenges with an unknown algorithm or only unknown `qop` options
/// are skipped.
pub fn best_challenge<'c, 'a>(
    challenges: impl IntoIterator<Item = &'c Challenge<'a>>,
) -> Option<&'c Challenge<'a>>
where
    'a: 'c,
{
    let mut best: Option<(&'c Challenge<'a>, u8)> = None;
    for c in challenges {
        let Ok(alg) = c.algorithm() else { continue };
        if c.qop.is_some() && !c.offers(Qop::Auth) && !c.offers(Qop::AuthInt) {
            continue;
        }
        let rank = alg.preference();
        if best.is_none_or(|(_, r)| rank > r) {
            best = Some((c, rank));
        }
    }
    best.map(|(c, _)| c)
}
