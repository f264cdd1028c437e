//! `WWW-Authenticate` / `Proxy-Authenticate` challenges and `Authorization` /
//! `Proxy-Authorization` credentials (RFC 3261 §20.27, §20.28, §20.7, §20.44 and §25.1;
//! RFC 7616 §3.3, §3.4): parsing that borrows the header value, and formatting.
//!
//! In SIP each header field carries exactly one challenge or one set of credentials
//! (RFC 3261 §25.1 `challenge`, `credentials`); several challenges come as several header
//! fields.

use std::fmt;

use super::{Algorithm, AuthError, Value};
use crate::text::{is_lws, is_token, is_token_char, quoted_string_end, split_top_level, trim_lws};
use crate::text::{trim_lws_start, SplitError};

/// A parsed authentication header value: `Digest` parameters or another scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthHeader<'a, T> {
    /// The `Digest` scheme (matched case-insensitively, RFC 7235 §2.1).
    Digest(T),
    /// Any other scheme, kept opaque.
    Other(OtherScheme<'a>),
}

impl<T> AuthHeader<'_, T> {
    /// The digest parameters, if the scheme is `Digest`.
    pub fn digest(&self) -> Option<&T> {
        match self {
            AuthHeader::Digest(t) => Some(t),
            AuthHeader::Other(_) => None,
        }
    }

    /// Takes the digest parameters, or [`AuthError::NotDigest`].
    pub fn into_digest(self) -> Result<T, AuthError> {
        match self {
            AuthHeader::Digest(t) => Ok(t),
            AuthHeader::Other(_) => Err(AuthError::NotDigest),
        }
    }
}

/// An authentication scheme other than `Digest` (RFC 3261 §25.1 `other-challenge`,
/// `other-response`), e.g. `NoOneKnowsThisScheme opaque-data=here` of RFC 4475 §3.3.7.
/// A registrar ignores such credentials and challenges with `Digest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OtherScheme<'a> {
    /// The scheme token as written.
    pub scheme: &'a str,
    /// Everything after the scheme, LWS-trimmed, unparsed.
    pub params: &'a str,
}

/// A `qop` value (RFC 7616 §3.3, RFC 2617 §3.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Qop {
    /// `auth`: authentication only.
    Auth,
    /// `auth-int`: authentication with integrity of the message body.
    AuthInt,
}

impl Qop {
    /// The name as written.
    pub fn name(self) -> &'static str {
        match self {
            Qop::Auth => "auth",
            Qop::AuthInt => "auth-int",
        }
    }

    /// Parses `auth` or `auth-int`, case-insensitively.
    pub fn from_name(s: &str) -> Option<Qop> {
        if s.eq_ignore_ascii_case("auth") {
            Some(Qop::Auth)
        } else if s.eq_ignore_ascii_case("auth-int") {
            Some(Qop::AuthInt)
        } else {
            None
        }
    }
}

impl fmt::Display for Qop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Splits `scheme LWS rest`; the scheme is a token (RFC 3261 §25.1 `auth-scheme`).
fn split_scheme(value: &str) -> Result<(&str, &str), AuthError> {
    let v = trim_lws(value);
    if v.is_empty() {
        return Err(AuthError::Empty);
    }
    let end = v.bytes().position(|b| !is_token_char(b)).unwrap_or(v.len());
    let (scheme, rest) = v.split_at(end);
    if scheme.is_empty() || rest.bytes().next().is_some_and(|b| !is_lws(b)) {
        return Err(AuthError::BadScheme);
    }
    Ok((scheme, trim_lws_start(rest)))
}

/// Iterates over `name=value` auth-params separated by commas (RFC 3261 §25.1 `auth-param`,
/// `digest-cln`, `dig-resp`), with LWS (folded lines included) allowed around `=` and `,`.
/// Empty list elements are skipped (RFC 7230 §7). Values are a token or a quoted string;
/// unquoted values are accepted leniently as any run of visible characters.
fn auth_params(s: &str) -> impl Iterator<Item = Result<(&str, Value<'_>), AuthError>> {
    split_top_level(s).filter_map(|elem| {
        let elem = match elem {
            Ok(e) => e,
            Err(SplitError::UnterminatedQuote) => return Some(Err(AuthError::UnterminatedQuote)),
            Err(SplitError::UnterminatedAngle) => return Some(Err(AuthError::BadParam)),
        };
        if elem.is_empty() {
            return None;
        }
        Some(parse_param(elem))
    })
}

fn parse_param(elem: &str) -> Result<(&str, Value<'_>), AuthError> {
    let eq = elem.find('=').ok_or(AuthError::BadParam)?;
    let name = trim_lws(&elem[..eq]);
    let value = trim_lws(&elem[eq + 1..]);
    if !is_token(name) {
        return Err(AuthError::BadParam);
    }
    if value.starts_with('"') {
        let end = quoted_string_end(value).map_err(|_| AuthError::UnterminatedQuote)?;
        if end != value.len() {
            return Err(AuthError::BadParam);
        }
        return Ok((name, Value::quoted(&value[1..end - 1])));
    }
    if value.is_empty()
        || value
            .bytes()
            .any(|b| b <= b' ' || b == 0x7f || b == b'"' || b == b',')
    {
        return Err(AuthError::BadParam);
    }
    Ok((name, Value::new(value)))
}

/// Stores `v` into `slot`, refusing a second occurrence.
fn set<'a>(
    slot: &mut Option<Value<'a>>,
    v: Value<'a>,
    name: &'static str,
) -> Result<(), AuthError> {
    if slot.replace(v).is_some() {
        return Err(AuthError::Duplicate(name));
    }
    Ok(())
}

/// Writes `, name=value`, quoting unless the value is a token.
fn write_token_or_quoted<W: fmt::Write + ?Sized>(
    w: &mut W,
    name: &str,
    v: &Value<'_>,
) -> fmt::Result {
    write!(w, ", {name}=")?;
    let text = v.unescape();
    if is_token(&text) {
        w.write_str(&text)
    } else {
        v.write_quoted(w)
    }
}

fn write_quoted_param<W: fmt::Write + ?Sized>(
    w: &mut W,
    sep: &str,
    name: &str,
    v: &Value<'_>,
) -> fmt::Result {
    write!(w, "{sep}{name}=")?;
    v.write_quoted(w)
}

/// Parses a `WWW-Authenticate` or `Proxy-Authenticate` header value (RFC 3261 §25.1
/// `challenge`, RFC 7616 §3.3).
pub fn parse_challenge(value: &str) -> Result<AuthHeader<'_, Challenge<'_>>, AuthError> {
    let (scheme, rest) = split_scheme(value)?;
    if !scheme.eq_ignore_ascii_case("Digest") {
        return Ok(AuthHeader::Other(OtherScheme {
            scheme,
            params: rest,
        }));
    }
    Challenge::parse_params(rest).map(AuthHeader::Digest)
}

/// Parses an `Authorization` or `Proxy-Authorization` header value (RFC 3261 §25.1
/// `credentials`, RFC 7616 §3.4).
pub fn parse_credentials(value: &str) -> Result<AuthHeader<'_, Credentials<'_>>, AuthError> {
    let (scheme, rest) = split_scheme(value)?;
    if !scheme.eq_ignore_ascii_case("Digest") {
        return Ok(AuthHeader::Other(OtherScheme {
            scheme,
            params: rest,
        }));
    }
    Credentials::parse_params(rest).map(AuthHeader::Digest)
}

/// A `Digest` challenge (RFC 7616 §3.3, RFC 2617 §3.2.1, RFC 3261 §22.1).
///
/// Parsed challenges borrow the header value; [`Challenge::new`] builds one to send.
/// [`fmt::Display`] writes the header value (`Digest realm="...", ...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Challenge<'a> {
    /// `realm` (mandatory).
    pub realm: Value<'a>,
    /// `nonce` (mandatory).
    pub nonce: Value<'a>,
    /// `domain`: space-separated URIs of the protection space.
    pub domain: Option<Value<'a>>,
    /// `opaque`, echoed by the client.
    pub opaque: Option<Value<'a>>,
    /// `stale=true`: the nonce expired but the credentials were good (RFC 7616 §3.3).
    pub stale: bool,
    /// `algorithm` as written; see [`Challenge::algorithm`].
    pub algorithm: Option<&'a str>,
    /// `qop` options as written (comma-separated); see [`Challenge::qop_options`].
    pub qop: Option<Value<'a>>,
    /// `userhash=true`: the server accepts hashed usernames (RFC 7616 §3.3).
    pub userhash: bool,
}

impl<'a> Challenge<'a> {
    /// A challenge to send: `qop="auth"`, the given algorithm, `stale=true` when `stale`.
    /// `realm` and `nonce` are plain text; they are quoted and escaped when written.
    pub fn new(realm: &'a str, nonce: &'a str, algorithm: Algorithm, stale: bool) -> Self {
        Challenge {
            realm: Value::new(realm),
            nonce: Value::new(nonce),
            domain: None,
            opaque: None,
            stale,
            algorithm: Some(algorithm.name()),
            qop: Some(Value::new("auth")),
            userhash: false,
        }
    }

    /// Parses a header value that must use the `Digest` scheme.
    pub fn parse(value: &'a str) -> Result<Self, AuthError> {
        parse_challenge(value)?.into_digest()
    }

    fn parse_params(s: &'a str) -> Result<Self, AuthError> {
        let mut realm = None;
        let mut nonce = None;
        let mut domain = None;
        let mut opaque = None;
        let mut stale = None;
        let mut algorithm = None;
        let mut qop = None;
        let mut userhash = None;
        for p in auth_params(s) {
            let (name, v) = p?;
            let n = name.to_ascii_lowercase();
            match n.as_str() {
                "realm" => set(&mut realm, v, "realm")?,
                "nonce" => set(&mut nonce, v, "nonce")?,
                "domain" => set(&mut domain, v, "domain")?,
                "opaque" => set(&mut opaque, v, "opaque")?,
                "stale" => set(&mut stale, v, "stale")?,
                "algorithm" => set(&mut algorithm, v, "algorithm")?,
                "qop" => set(&mut qop, v, "qop")?,
                "userhash" => set(&mut userhash, v, "userhash")?,
                // RFC 7616 §3.3: unknown directives are ignored (charset among them).
                _ => {}
            }
        }
        Ok(Challenge {
            realm: realm.ok_or(AuthError::MissingChallenge("realm"))?,
            nonce: nonce.ok_or(AuthError::MissingChallenge("nonce"))?,
            domain,
            opaque,
            stale: is_true(stale),
            algorithm: algorithm.map(|a| a.raw()),
            qop,
            userhash: is_true(userhash),
        })
    }

    /// The algorithm: `MD5` when absent (RFC 2617 §3.2.1), or
    /// [`AuthError::UnsupportedAlgorithm`].
    pub fn algorithm(&self) -> Result<Algorithm, AuthError> {
        algorithm_of(self.algorithm)
    }

    /// The `qop` options offered, as written (RFC 7616 §3.3: a quoted comma-separated list).
    pub fn qop_options(&self) -> impl Iterator<Item = &'a str> {
        self.qop
            .map(|q| q.raw())
            .unwrap_or("")
            .split(',')
            .map(trim_lws)
            .filter(|s| !s.is_empty())
    }

    /// Whether `qop` offers `q`.
    pub fn offers(&self, q: Qop) -> bool {
        self.qop_options().any(|o| Qop::from_name(o) == Some(q))
    }

    /// Writes the header value.
    pub fn write_to<W: fmt::Write + ?Sized>(&self, w: &mut W) -> fmt::Result {
        write_quoted_param(w, "Digest ", "realm", &self.realm)?;
        if let Some(d) = &self.domain {
            write_quoted_param(w, ", ", "domain", d)?;
        }
        write_quoted_param(w, ", ", "nonce", &self.nonce)?;
        if let Some(o) = &self.opaque {
            write_quoted_param(w, ", ", "opaque", o)?;
        }
        if self.stale {
            w.write_str(", stale=true")?;
        }
        if let Some(a) = self.algorithm {
            write_token_or_quoted(w, "algorithm", &Value::new(a))?;
        }
        if let Some(q) = &self.qop {
            write_quoted_param(w, ", ", "qop", q)?;
        }
        if self.userhash {
            w.write_str(", userhash=true")?;
        }
        Ok(())
    }
}

impl fmt::Display for Challenge<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_to(f)
    }
}

fn is_true(v: Option<Value<'_>>) -> bool {
    v.is_some_and(|v| v.raw().eq_ignore_ascii_case("true"))
}

fn algorithm_of(a: Option<&str>) -> Result<Algorithm, AuthError> {
    match a {
        None => Ok(Algorithm::Md5),
        Some(a) => Algorithm::from_name(a).ok_or(AuthError::UnsupportedAlgorithm),
    }
}

/// Parses `nc`: exactly 8 hexadecimal digits (RFC 7616 §3.4, RFC 2617 §3.2.2).
fn parse_nc(s: &str) -> Result<u32, AuthError> {
    if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AuthError::BadNc);
    }
    u32::from_str_radix(s, 16).map_err(|_| AuthError::BadNc)
}

/// `Digest` credentials (RFC 7616 §3.4, RFC 2617 §3.2.2, RFC 3261 §22.2, §22.3).
///
/// Parsing requires `username`, `realm`, `nonce`, `uri` and `response`, and `cnonce` and `nc`
/// whenever `qop` is present. [`fmt::Display`] writes the header value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Credentials<'a> {
    /// `username` (or `H(username:realm)` when [`Credentials::userhash`] is set).
    pub username: Value<'a>,
    /// `realm`.
    pub realm: Value<'a>,
    /// `nonce`, echoed from the challenge.
    pub nonce: Value<'a>,
    /// `uri`: the Request-URI the response was computed over (RFC 3261 §22.4).
    pub uri: Value<'a>,
    /// `response`: the digest, hex.
    pub response: Value<'a>,
    /// `algorithm` as written; see [`Credentials::algorithm`].
    pub algorithm: Option<&'a str>,
    /// `cnonce`, the client nonce.
    pub cnonce: Option<Value<'a>>,
    /// `opaque`, echoed from the challenge.
    pub opaque: Option<Value<'a>>,
    /// `qop`: the single quality of protection chosen.
    pub qop: Option<Qop>,
    /// `nc`: the nonce count.
    pub nc: Option<u32>,
    /// `userhash=true`: `username` is hashed (RFC 7616 §3.4.4). Parsed only; the caller
    /// looks the user up by [`super::userhash`].
    pub userhash: bool,
}

impl<'a> Credentials<'a> {
    /// Credentials without `qop` (RFC 2069 style); set the other public fields as needed.
    pub fn new(
        username: &'a str,
        realm: &'a str,
        nonce: &'a str,
        uri: &'a str,
        response: &'a str,
    ) -> Self {
        Credentials {
            username: Value::new(username),
            realm: Value::new(realm),
            nonce: Value::new(nonce),
            uri: Value::new(uri),
            response: Value::new(response),
            algorithm: None,
            cnonce: None,
            opaque: None,
            qop: None,
            nc: None,
            userhash: false,
        }
    }

    /// Parses a header value that must use the `Digest` scheme.
    pub fn parse(value: &'a str) -> Result<Self, AuthError> {
        parse_credentials(value)?.into_digest()
    }

    fn parse_params(s: &'a str) -> Result<Self, AuthError> {
        let mut username = None;
        let mut realm = None;
        let mut nonce = None;
        let mut uri = None;
        let mut response = None;
        let mut algorithm = None;
        let mut cnonce = None;
        let mut opaque = None;
        let mut qop = None;
        let mut nc = None;
        let mut userhash = None;
        for p in auth_params(s) {
            let (name, v) = p?;
            let n = name.to_ascii_lowercase();
            match n.as_str() {
                "username" => set(&mut username, v, "username")?,
                "realm" => set(&mut realm, v, "realm")?,
                "nonce" => set(&mut nonce, v, "nonce")?,
                "uri" => set(&mut uri, v, "uri")?,
                "response" => set(&mut response, v, "response")?,
                "algorithm" => set(&mut algorithm, v, "algorithm")?,
                "cnonce" => set(&mut cnonce, v, "cnonce")?,
                "opaque" => set(&mut opaque, v, "opaque")?,
                "qop" => set(&mut qop, v, "qop")?,
                "nc" => set(&mut nc, v, "nc")?,
                "userhash" => set(&mut userhash, v, "userhash")?,
                "username*" => return Err(AuthError::ExtendedUsername),
                // RFC 7616 §3.4: unknown directives are ignored.
                _ => {}
            }
        }
        let qop = match qop {
            None => None,
            Some(q) => Some(Qop::from_name(q.raw()).ok_or(AuthError::UnsupportedQop)?),
        };
        let nc = match nc {
            None => None,
            Some(v) => Some(parse_nc(v.raw())?),
        };
        if qop.is_some() {
            if cnonce.is_none() {
                return Err(AuthError::MissingCredential("cnonce"));
            }
            if nc.is_none() {
                return Err(AuthError::MissingCredential("nc"));
            }
        }
        Ok(Credentials {
            username: username.ok_or(AuthError::MissingCredential("username"))?,
            realm: realm.ok_or(AuthError::MissingCredential("realm"))?,
            nonce: nonce.ok_or(AuthError::MissingCredential("nonce"))?,
            uri: uri.ok_or(AuthError::MissingCredential("uri"))?,
            response: response.ok_or(AuthError::MissingCredential("response"))?,
            algorithm: algorithm.map(|a| a.raw()),
            cnonce,
            opaque,
            qop,
            nc,
            userhash: is_true(userhash),
        })
    }

    /// The algorithm: `MD5` when absent, or [`AuthError::UnsupportedAlgorithm`].
    pub fn algorithm(&self) -> Result<Algorithm, AuthError> {
        algorithm_of(self.algorithm)
    }

    /// Writes the header value. `qop` and `nc` are written only together with `qop`
    /// (RFC 7616 §3.4); `nc` as 8 lowercase hex digits.
    pub fn write_to<W: fmt::Write + ?Sized>(&self, w: &mut W) -> fmt::Result {
        write_quoted_param(w, "Digest ", "username", &self.username)?;
        write_quoted_param(w, ", ", "realm", &self.realm)?;
        write_quoted_param(w, ", ", "nonce", &self.nonce)?;
        write_quoted_param(w, ", ", "uri", &self.uri)?;
        write_quoted_param(w, ", ", "response", &self.response)?;
        if let Some(a) = self.algorithm {
            write_token_or_quoted(w, "algorithm", &Value::new(a))?;
        }
        if let Some(c) = &self.cnonce {
            write_quoted_param(w, ", ", "cnonce", c)?;
        }
        if let Some(o) = &self.opaque {
            write_quoted_param(w, ", ", "opaque", o)?;
        }
        if let Some(q) = self.qop {
            write!(w, ", qop={q}, nc={:08x}", self.nc.unwrap_or(1))?;
        }
        if self.userhash {
            w.write_str(", userhash=true")?;
        }
        Ok(())
    }
}

impl fmt::Display for Credentials<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_to(f)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_challenge_with_odd_whitespace_and_folding() {
        let v = "digest  realm = \"atlanta.com\" ,\r\n\tnonce=\"84a4cc6f3082121f32b42a2187831a9e\",\r\n qop = \"auth, auth-int\" , algorithm=md5 ,stale=TRUE, opaque=\"\", foo=bar";
        let c = Challenge::parse(v).unwrap();
        assert_eq!(c.realm.raw(), "atlanta.com");
        assert_eq!(c.nonce.raw(), "84a4cc6f3082121f32b42a2187831a9e");
        assert_eq!(c.algorithm(), Ok(Algorithm::Md5));
        assert!(c.stale);
        assert!(c.offers(Qop::Auth) && c.offers(Qop::AuthInt));
        assert_eq!(c.qop_options().collect::<Vec<_>>(), ["auth", "auth-int"]);
        assert_eq!(c.opaque.map(|o| o.raw()), Some(""));
    }

    #[test]
    fn challenge_requires_realm_and_nonce() {
        assert_eq!(
            Challenge::parse("Digest realm=\"a\"").err(),
            Some(AuthError::MissingChallenge("nonce"))
        );
        assert_eq!(
            Challenge::parse("Digest nonce=\"a\"").err(),
            Some(AuthError::MissingChallenge("realm"))
        );
    }

    #[test]
    fn parses_credentials() {
        let v = "Digest username=\"bob\", realm=\"biloxi.com\",\r\n nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\"sip:bob@biloxi.com\",qop=auth, nc=0000000A,cnonce=\"0a4f113b\",response=\"6629fae49393a05397450978507c4ef1\",opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"";
        let c = Credentials::parse(v).unwrap();
        assert_eq!(c.username.raw(), "bob");
        assert_eq!(c.uri.raw(), "sip:bob@biloxi.com");
        assert_eq!(c.qop, Some(Qop::Auth));
        assert_eq!(c.nc, Some(10));
        assert_eq!(c.cnonce.map(|v| v.raw()), Some("0a4f113b"));
        assert_eq!(c.algorithm(), Ok(Algorithm::Md5));
    }

    #[test]
    fn credentials_errors() {
        let base = "Digest username=\"bob\", realm=\"r\", uri=\"sip:r\", response=\"00\"";
        assert_eq!(
            Credentials::parse(base).err().map(|e| e.to_string()),
            Some("Authorization without nonce".to_owned())
        );
        let dup = format!("{base}, nonce=\"n\", realm=\"x\"");
        assert_eq!(
            Credentials::parse(&dup).err(),
            Some(AuthError::Duplicate("realm"))
        );
        let bad_nc = format!("{base}, nonce=\"n\", qop=auth, cnonce=\"c\", nc=1");
        assert_eq!(Credentials::parse(&bad_nc).err(), Some(AuthError::BadNc));
        let no_cnonce = format!("{base}, nonce=\"n\", qop=auth, nc=00000001");
        assert_eq!(
            Credentials::parse(&no_cnonce).err(),
            Some(AuthError::MissingCredential("cnonce"))
        );
        let star = format!("{base}, nonce=\"n\", username*=UTF-8''J%C3%A4s");
        assert_eq!(
            Credentials::parse(&star).err(),
            Some(AuthError::ExtendedUsername)
        );
        let unterminated = "Digest username=\"bob, realm=\"r\"\"x";
        assert!(Credentials::parse(unterminated).is_err());
        assert_eq!(
            Credentials::parse("Digest username=\"bob\" x, realm=r").err(),
            Some(AuthError::BadParam)
        );
        assert_eq!(Credentials::parse("  ").err(), Some(AuthError::Empty));
        assert_eq!(
            Credentials::parse("Digest=x").err(),
            Some(AuthError::BadScheme)
        );
    }

    #[test]
    fn other_schemes_are_opaque() {
        // RFC 4475 §3.3.7.
        let h = parse_credentials("NoOneKnowsThisScheme opaque-data=here").unwrap();
        assert_eq!(
            h,
            AuthHeader::Other(OtherScheme {
                scheme: "NoOneKnowsThisScheme",
                params: "opaque-data=here"
            })
        );
        assert_eq!(h.into_digest().err(), Some(AuthError::NotDigest));
        assert!(matches!(
            parse_challenge("Basic realm=\"x\""),
            Ok(AuthHeader::Other(_))
        ));
    }

    #[test]
    fn escapes_round_trip() {
        let c = Challenge::new("a \"quoted\" realm\\", "n1", Algorithm::Sha256, true);
        let s = c.to_string();
        assert_eq!(
            s,
            r#"Digest realm="a \"quoted\" realm\\", nonce="n1", stale=true, algorithm=SHA-256, qop="auth""#
        );
        let p = Challenge::parse(&s).unwrap();
        assert_eq!(p.realm.unescape(), "a \"quoted\" realm\\");
        assert!(p.stale);
        assert_eq!(p.algorithm(), Ok(Algorithm::Sha256));
        assert_eq!(p.to_string(), s);
    }

    #[test]
    fn credentials_format_round_trip() {
        let mut c = Credentials::new("alice", "example.com", "abc", "sip:example.com", "ff");
        c.qop = Some(Qop::Auth);
        c.nc = Some(0x1f);
        c.cnonce = Some(Value::new("xyz"));
        c.algorithm = Some("SHA-256");
        let s = c.to_string();
        assert_eq!(
            s,
            r#"Digest username="alice", realm="example.com", nonce="abc", uri="sip:example.com", response="ff", algorithm=SHA-256, cnonce="xyz", qop=auth, nc=0000001f"#
        );
        let p = Credentials::parse(&s).unwrap();
        assert_eq!(p.nc, Some(0x1f));
        assert_eq!(p.to_string(), s);
    }
}
