//! The digest `response` (RFC 7616 §3.4.1, RFC 2617 §3.2.2.1, RFC 3261 §22.4) and its
//! constant-time verification.

use super::{Algorithm, AuthError, Credentials, Qop};

/// Everything the `response` depends on. `ha1` is the stored (non-session) HA1 in hex, as
/// produced by [`super::ha1`] with the same hash function as `algorithm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseInput<'a> {
    /// The algorithm; `-sess` variants need `cnonce`.
    pub algorithm: Algorithm,
    /// HA1 in hex, `H(username:realm:password)`.
    pub ha1: &'a str,
    /// The server nonce, unescaped.
    pub nonce: &'a str,
    /// The request method (`REGISTER`, `INVITE`, ...; RFC 3261 §22.4: `ACK` and `CANCEL`
    /// use the method of the request they belong to as written in the request line).
    pub method: &'a str,
    /// The `uri` parameter, unescaped: the Request-URI as sent.
    pub uri: &'a str,
    /// `qop`; `None` is the RFC 2069 compatible computation.
    pub qop: Option<Qop>,
    /// The nonce count; required with `qop`.
    pub nc: Option<u32>,
    /// The client nonce, unescaped; required with `qop` and for `-sess`.
    pub cnonce: Option<&'a str>,
    /// The message body, hashed only for `qop=auth-int`.
    pub body: &'a [u8],
}

/// The session HA1 of `-sess` algorithms: `H(HA1 ":" nonce ":" cnonce)`
/// (RFC 7616 §3.4.2, RFC 2617 §3.2.2.2).
pub fn session_ha1(algorithm: Algorithm, ha1: &str, nonce: &str, cnonce: &str) -> String {
    algorithm.hash(&[ha1.as_bytes(), nonce.as_bytes(), cnonce.as_bytes()])
}

/// Computes the `response` in lowercase hex (RFC 7616 §3.4.1):
///
/// * with `qop`: `KD(HA1, nonce ":" nc ":" cnonce ":" qop ":" HA2)`
/// * without `qop` (RFC 2069): `KD(HA1, nonce ":" HA2)`
///
/// where `HA2 = H(method ":" uri)`, or `H(method ":" uri ":" H(body))` for `auth-int`
/// (RFC 7616 §3.4.3), and HA1 is the session HA1 for `-sess` algorithms.
pub fn compute_response(input: &ResponseInput<'_>) -> Result<String, AuthError> {
    let alg = input.algorithm;
    let ha1_lower;
    let mut ha1 = input.ha1;
    if ha1.bytes().any(|b| b.is_ascii_uppercase()) {
        ha1_lower = ha1.to_ascii_lowercase();
        ha1 = &ha1_lower;
    }
    let session;
    if alg.is_session() {
        let cnonce = input.cnonce.ok_or(AuthError::MissingCredential("cnonce"))?;
        session = session_ha1(alg, ha1, input.nonce, cnonce);
        ha1 = &session;
    }
    let ha2 = match input.qop {
        Some(Qop::AuthInt) => {
            let body = alg.hash(&[input.body]);
            alg.hash(&[
                input.method.as_bytes(),
                input.uri.as_bytes(),
                body.as_bytes(),
            ])
        }
        _ => alg.hash(&[input.method.as_bytes(), input.uri.as_bytes()]),
    };
    Ok(match input.qop {
        None => alg.hash(&[ha1.as_bytes(), input.nonce.as_bytes(), ha2.as_bytes()]),
        Some(q) => {
            let nc = input.nc.ok_or(AuthError::MissingCredential("nc"))?;
            let cnonce = input.cnonce.ok_or(AuthError::MissingCredential("cnonce"))?;
            let nc = format!("{nc:08x}");
            alg.hash(&[
                ha1.as_bytes(),
                input.nonce.as_bytes(),
                nc.as_bytes(),
                cnonce.as_bytes(),
                q.name().as_bytes(),
                ha2.as_bytes(),
            ])
        }
    })
}

/// Compares the expected lowercase hex with the received one, ignoring ASCII case of the
/// received text, in time independent of where they differ.
pub(crate) fn ct_eq_hex(expected: &str, received: &str) -> bool {
    let (a, b) = (expected.as_bytes(), received.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let diff = a
        .iter()
        .zip(b)
        .fold(0u8, |acc, (x, y)| acc | (x ^ (y | (((y >> 6) & 1) << 5))));
    // `y | 0x20` for letters lowercases them; digits (0x30..0x39) have bit 6 clear and are
    // left alone. Non-hex input can only make the comparison fail.
    std::hint::black_box(diff) == 0
}

/// Whether `credentials.response` is right for `method` and the stored `ha1` (hex, same hash
/// function as the credentials' algorithm), with an empty body for `auth-int`. Checks only
/// the digest: nonce freshness and replay are [`super::Verifier`]'s job. Constant-time.
pub fn verify(credentials: &Credentials<'_>, method: &str, ha1: &str) -> bool {
    verify_with_body(credentials, method, &[], ha1)
}

/// [`verify`] for a request with a body (used by `qop=auth-int`).
pub fn verify_with_body(
    credentials: &Credentials<'_>,
    method: &str,
    body: &[u8],
    ha1: &str,
) -> bool {
    expected_response(credentials, method, body, ha1)
        .is_ok_and(|r| ct_eq_hex(&r, credentials.response.raw()))
}

pub(crate) fn expected_response(
    c: &Credentials<'_>,
    method: &str,
    body: &[u8],
    ha1: &str,
) -> Result<String, AuthError> {
    let algorithm = c.algorithm()?;
    let nonce = c.nonce.unescape();
    let uri = c.uri.unescape();
    let cnonce = c.cnonce.map(|v| v.unescape());
    compute_response(&ResponseInput {
        algorithm,
        ha1,
        nonce: &nonce,
        method,
        uri: &uri,
        qop: c.qop,
        nc: c.nc,
        cnonce: cnonce.as_deref(),
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_compare() {
        assert!(ct_eq_hex("09af", "09af"));
        assert!(ct_eq_hex("09af", "09AF"));
        assert!(!ct_eq_hex("09af", "09ae"));
        assert!(!ct_eq_hex("09af", "09a"));
        assert!(!ct_eq_hex("0", "p"));
        assert!(!ct_eq_hex("", "x"));
    }

    #[test]
    fn rfc2069_mode_and_missing_parts() {
        let mut i = ResponseInput {
            algorithm: Algorithm::Md5,
            ha1: "939e7578ed9e3c518a452acee763bce9",
            nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093",
            method: "GET",
            uri: "/dir/index.html",
            qop: None,
            nc: None,
            cnonce: None,
            body: b"",
        };
        // RFC 2069 §2.4 computation: MD5(HA1:nonce:HA2).
        let ha2 = Algorithm::Md5.hash(&[b"GET", b"/dir/index.html"]);
        let want = Algorithm::Md5.hash(&[i.ha1.as_bytes(), i.nonce.as_bytes(), ha2.as_bytes()]);
        assert_eq!(compute_response(&i), Ok(want));
        i.qop = Some(Qop::Auth);
        assert_eq!(
            compute_response(&i),
            Err(AuthError::MissingCredential("nc"))
        );
        i.qop = None;
        i.algorithm = Algorithm::Md5Sess;
        assert_eq!(
            compute_response(&i),
            Err(AuthError::MissingCredential("cnonce"))
        );
    }
}
