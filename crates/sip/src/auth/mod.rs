//! HTTP digest authentication for SIP: RFC 3261 §22 on top of RFC 2617, RFC 7616 and RFC 8760.
//!
//! Everything here is sans-IO. Time is always passed in as `now: u64`, **seconds since the
//! Unix epoch**, and randomness (nonce salt, client nonces) is passed in by the caller; nothing
//! reads a clock or a random source.
//!
//! * Parsing borrows the header value: [`parse_challenge`] for `WWW-Authenticate` /
//!   `Proxy-Authenticate`, [`parse_credentials`] for `Authorization` / `Proxy-Authorization`.
//!   Schemes other than `Digest` come back as [`OtherScheme`] so a registrar can ignore them
//!   and challenge (RFC 4475 §3.3.7).
//! * Formatting: [`Challenge`] and [`Credentials`] implement [`std::fmt::Display`] (the header
//!   value, without the header name) and have `write_to` for any [`std::fmt::Write`].
//! * Hashing: [`Algorithm`] (`MD5`, `MD5-sess`, `SHA-256`, `SHA-256-sess`, `SHA-512-256`,
//!   `SHA-512-256-sess`), [`ha1`] for password storage, [`compute_response`].
//! * Server: [`NonceKey`] issues and checks stateless nonces, [`NonceCounter`] rejects replayed
//!   nonce counts, and [`Verifier`] ties both to [`verify`] and answers an [`Outcome`].
//! * Client: [`respond`] answers a challenge, [`best_challenge`] picks among several
//!   (SHA-256 over MD5, RFC 8760 §2.4).
//!
//! ## Layout
//!
//! | file | concept |
//! |---|---|
//! | `mod.rs` | this overview, [`AuthError`], [`Value`] (borrowed, possibly escaped text) |
//! | `header.rs` | [`Challenge`], [`Credentials`], auth-param parsing and formatting |
//! | `algorithm.rs` | [`Algorithm`], hashing, [`ha1`], [`userhash`], lowercase hex |
//! | `compute.rs` | [`compute_response`], [`verify`], constant-time comparison |
//! | `nonce.rs` | [`NonceKey`] (stateless HMAC nonces), [`NonceCounter`] (replay of `nc`) |
//! | `server.rs` | [`Verifier`] and its [`Outcome`] |
//! | `client.rs` | [`respond`], [`best_challenge`] |

mod algorithm;
mod client;
mod compute;
mod header;
mod nonce;
mod server;

use std::borrow::Cow;
use std::fmt;

pub use algorithm::{ha1, userhash, Algorithm};
pub use client::{best_challenge, respond, ClientRequest, Secret};
pub use compute::{compute_response, session_ha1, verify, verify_with_body, ResponseInput};
pub use header::{
    parse_challenge, parse_credentials, AuthHeader, Challenge, Credentials, OtherScheme, Qop,
};
pub use nonce::{NcCheck, NonceCheck, NonceCounter, NonceKey, NONCE_CLOCK_SKEW};
pub use server::{Outcome, Verifier};

/// Why an authentication header or a digest computation was refused.
///
/// The [`Display`](fmt::Display) text is short, has no CR/LF, and is fit for the reason phrase
/// of a `400` response (e.g. `Authorization without nonce`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The header value is empty.
    #[error("empty authentication header")]
    Empty,
    /// The scheme is not a token followed by white space.
    #[error("malformed authentication scheme")]
    BadScheme,
    /// A quoted string never closes.
    #[error("unterminated quoted string in auth-param")]
    UnterminatedQuote,
    /// An auth-param is not `name=value` with a token name and a token or quoted value.
    #[error("malformed auth-param")]
    BadParam,
    /// A known parameter appears twice (RFC 7235 §2.1: each name at most once).
    #[error("duplicate {0} in digest")]
    Duplicate(&'static str),
    /// Credentials lack a mandatory parameter (RFC 3261 §25.1 `digest-response`,
    /// RFC 7616 §3.4).
    #[error("Authorization without {0}")]
    MissingCredential(&'static str),
    /// A challenge lacks a mandatory parameter (RFC 7616 §3.3: `realm`, `nonce`).
    #[error("challenge without {0}")]
    MissingChallenge(&'static str),
    /// `nc` is not 8 hexadecimal digits (RFC 7616 §3.4).
    #[error("malformed nc")]
    BadNc,
    /// A `qop` value other than `auth` or `auth-int`, or no supported option offered.
    #[error("unsupported qop")]
    UnsupportedQop,
    /// An `algorithm` this implementation does not know.
    #[error("unsupported digest algorithm")]
    UnsupportedAlgorithm,
    /// `username*` (RFC 7616 §3.4.4, RFC 8187 encoding) is not supported.
    #[error("username* not supported")]
    ExtendedUsername,
    /// The header uses another scheme where `Digest` was required.
    #[error("not a Digest authentication header")]
    NotDigest,
}

/// A parameter value borrowed from a header, or supplied by the caller for formatting.
///
/// Values that came from a quoted string (RFC 3261 §25.1 `quoted-string`) still hold their
/// `quoted-pair` escapes (`\"`, `\\`) so parsing never allocates; [`Value::unescape`] undoes
/// them, borrowing when there is nothing to undo. Values built with [`Value::new`] are plain
/// text and are escaped when written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Value<'a> {
    text: &'a str,
    escaped: bool,
}

impl<'a> Value<'a> {
    /// A plain (unescaped) value, e.g. a realm from configuration.
    pub fn new(text: &'a str) -> Self {
        Value {
            text,
            escaped: false,
        }
    }

    /// The inside of a quoted string, escapes still present.
    pub(crate) fn quoted(inner: &'a str) -> Self {
        Value {
            text: inner,
            escaped: true,
        }
    }

    /// The text as stored: for a parsed quoted value, the inside of the quotes with its
    /// backslash escapes.
    pub fn raw(&self) -> &'a str {
        self.text
    }

    /// Whether the value is empty.
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// The value with `quoted-pair` escapes undone (RFC 3261 §25.1). Borrows unless an escape
    /// is present.
    pub fn unescape(&self) -> Cow<'a, str> {
        if !self.escaped || !self.text.contains('\\') {
            return Cow::Borrowed(self.text);
        }
        let mut out = String::with_capacity(self.text.len());
        let mut chars = self.text.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                match chars.next() {
                    Some(n) => out.push(n),
                    None => out.push('\\'),
                }
            } else {
                out.push(c);
            }
        }
        Cow::Owned(out)
    }

    /// Writes the value as a quoted string, escaping `"` and `\`. CR and LF (which a
    /// quoted string cannot carry) become spaces so a value can never break the header line.
    pub fn write_quoted<W: fmt::Write + ?Sized>(&self, w: &mut W) -> fmt::Result {
        w.write_char('"')?;
        for c in self.unescape().chars() {
            match c {
                '"' | '\\' => {
                    w.write_char('\\')?;
                    w.write_char(c)?;
                }
                '\r' | '\n' => w.write_char(' ')?,
                _ => w.write_char(c)?,
            }
        }
        w.write_char('"')
    }
}

impl fmt::Display for Value<'_> {
    /// Writes the unescaped text, without quotes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.unescape())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescape_borrows_when_possible() {
        assert!(matches!(
            Value::quoted("abc").unescape(),
            Cow::Borrowed("abc")
        ));
        assert_eq!(Value::quoted(r#"a\"b\\c"#).unescape(), r#"a"b\c"#);
        assert_eq!(Value::new(r"a\b").unescape(), r"a\b");
        assert_eq!(Value::quoted("a\\").unescape(), "a\\");
    }

    #[test]
    fn quoted_output_escapes() {
        let mut s = String::new();
        Value::new("a\"b\\c\r\nd").write_quoted(&mut s).ok();
        assert_eq!(s, r#""a\"b\\c  d""#);
        let mut s = String::new();
        Value::quoted(r#"x\"y"#).write_quoted(&mut s).ok();
        assert_eq!(s, r#""x\"y""#);
    }

    #[test]
    fn errors_are_reason_phrases() {
        let e = AuthError::MissingCredential("nonce");
        assert_eq!(e.to_string(), "Authorization without nonce");
    }
}
