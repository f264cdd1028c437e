//! URIs: `sip:` and `sips:` (RFC 3261 §19.1), `tel:` (RFC 3966) and any other absolute URI
//! (RFC 3986), borrowed from the message text.
//!
//! [`Uri::parse`] validates the whole text against the grammar of its scheme and splits it
//! into borrowed parts; nothing is copied or unescaped while parsing. `%HH` escapes stay as
//! written in every part; [`unescape`] decodes them on demand and allocates only when there is
//! an escape to decode.
//!
//! ## Layout
//!
//! | item | concept |
//! |---|---|
//! | [`Uri`] | a parsed URI of any scheme; [`Uri::parse`], [`Uri::equivalent`] |
//! | [`SipUri`] | `sip:`/`sips:` parts, `uri-parameters` accessors, `headers` iterator |
//! | [`Host`] | host name, IPv4 address or IPv6 reference |
//! | [`TelUri`] | `tel:` global or local number and its parameters |
//! | [`AbsoluteUri`] | any other scheme, kept opaque |
//! | [`UriError`] | why a URI did not parse (short text usable in a `400` reason phrase) |
//! | [`unescape`], [`unescape_str`] | `%HH` decoding |
//!
//! ## Equality
//!
//! The derived `==` on these types is *textual*: two values are equal when they were parsed
//! from the same text. The comparison rules of RFC 3261 §19.1.4 (and RFC 3966 §4 for `tel:`)
//! are implemented by [`Uri::equivalent`], [`SipUri::equivalent`] and [`TelUri::equivalent`];
//! they never allocate.

use std::borrow::Cow;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::params::Params;
use crate::text::parse_decimal;

/// A parsed URI borrowing its text.
///
/// `==` compares the text exactly; use [`Uri::equivalent`] for RFC 3261 §19.1.4 comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uri<'a> {
    /// `sip:` or `sips:`.
    Sip(SipUri<'a>),
    /// `tel:`.
    Tel(TelUri<'a>),
    /// Any other scheme, kept opaque.
    Absolute(AbsoluteUri<'a>),
}

/// A `sip:`/`sips:` URI (RFC 3261 §19.1.1):
/// `sip:[user[:password]@]host[:port][;uri-parameters][?headers]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SipUri<'a> {
    /// `sips:` rather than `sip:`.
    pub secure: bool,
    /// The user part as written (still %-escaped). May contain `;`, `?` and `/`
    /// (RFC 3261 §25.1 `user-unreserved`, RFC 4475 §3.1.1.9).
    pub user: Option<&'a str>,
    /// The password as written (still %-escaped); `Some("")` for `user:@host`.
    pub password: Option<&'a str>,
    /// The host.
    pub host: Host<'a>,
    /// The port, if written.
    pub port: Option<u16>,
    /// The `uri-parameters`: the text after the first `;` following the host, up to `?`.
    pub params: Params<'a>,
    /// The `headers` part after `?`, as written (still %-escaped). See [`SipUri::headers`].
    pub headers: Option<&'a str>,
    /// The `host[:port]` text as written.
    hostport: &'a str,
    /// The whole URI as written.
    raw: &'a str,
}

/// A host: name, IPv4 address or IPv6 reference (RFC 3261 §25.1 `host`).
///
/// `==` is textual for names; [`Host::equivalent`] compares names case-insensitively.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host<'a> {
    /// A host name as written (RFC 3261 `hostname`, possibly with a trailing dot).
    Name(&'a str),
    /// An IPv4 address (strict dotted quad).
    V4(Ipv4Addr),
    /// An IPv6 reference `[...]`; the brackets are not part of the address.
    V6(Ipv6Addr),
}

/// A `tel:` URI (RFC 3966 §3): `tel:number[;params]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelUri<'a> {
    /// The number as written, global (`+...`) or local, visual separators included.
    pub number: &'a str,
    /// Parameters after the number (`ext`, `isub`, `phone-context`, others).
    pub params: Params<'a>,
    /// The whole URI as written.
    raw: &'a str,
}

/// An absolute URI of a scheme the stack does not interpret (RFC 3986 §4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbsoluteUri<'a> {
    /// The scheme, as written.
    pub scheme: &'a str,
    /// Everything after `scheme:`.
    pub rest: &'a str,
    /// The whole URI as written.
    raw: &'a str,
}

/// Why a URI did not parse. The [`fmt::Display`] text is short, single-line ASCII, suitable
/// as (part of) a SIP reason phrase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UriError {
    /// No `:` after a scheme.
    #[error("URI without scheme")]
    NoScheme,
    /// The scheme is not `ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )` (RFC 3986 §3.1).
    #[error("bad URI scheme")]
    BadScheme,
    /// Space, tab, CR, LF or another control character (RFC 4475 §3.1.2.8, §3.1.2.14).
    #[error("white space in URI")]
    WhiteSpace,
    /// A character never allowed in a URI: `<`, `>`, `"`, non-ASCII, or one outside the
    /// scheme's grammar.
    #[error("bad character in URI")]
    BadChar,
    /// `%` not followed by two hexadecimal digits.
    #[error("bad escape in URI")]
    BadEscape,
    /// Empty user part or a character not allowed in it.
    #[error("bad user in URI")]
    BadUser,
    /// A character not allowed in the password.
    #[error("bad password in URI")]
    BadPassword,
    /// Missing or malformed host, IPv4 address or IPv6 reference.
    #[error("bad host in URI")]
    BadHost,
    /// Empty, non-numeric or larger than 65535.
    #[error("bad port in URI")]
    BadPort,
    /// Empty parameter name (`;;`), empty value, or a character not allowed.
    #[error("bad URI parameter")]
    BadParam,
    /// Malformed `?headers` part.
    #[error("bad URI header")]
    BadHeader,
    /// A `tel:` number that is not a valid global or local number (RFC 3966 §3).
    #[error("bad telephone number")]
    BadNumber,
}

// ---------------------------------------------------------------------------------------------
// Character classes (RFC 3261 §25.1, RFC 3966 §3, RFC 3986 §2)

/// RFC 3261 `mark`.
fn is_mark(b: u8) -> bool {
    matches!(
        b,
        b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')'
    )
}

/// RFC 3261 `unreserved` = alphanum / mark.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || is_mark(b)
}

/// RFC 3261 `user` characters: unreserved / user-unreserved. `#` is also accepted: it is
/// allowed by the RFC 2806 `telephone-subscriber` form and unambiguous here, although
/// RFC 3261 §25.1 asks senders to escape it.
fn is_user_char(b: u8) -> bool {
    is_unreserved(b)
        || matches!(
            b,
            b'&' | b'=' | b'+' | b'$' | b',' | b';' | b'?' | b'/' | b'#'
        )
}

/// RFC 3261 `password` characters.
fn is_password_char(b: u8) -> bool {
    is_unreserved(b) || matches!(b, b'&' | b'=' | b'+' | b'$' | b',')
}

/// RFC 3261 `paramchar` (also RFC 3966 `paramchar`, with `~` in unreserved).
fn is_param_char(b: u8) -> bool {
    is_unreserved(b) || matches!(b, b'[' | b']' | b'/' | b':' | b'&' | b'+' | b'$')
}

/// RFC 3261 `hname`/`hvalue` characters: hnv-unreserved / unreserved.
fn is_hnv_char(b: u8) -> bool {
    is_unreserved(b) || matches!(b, b'[' | b']' | b'/' | b'?' | b':' | b'+' | b'$')
}

/// RFC 3986 characters of an absolute URI after the scheme: unreserved, sub-delims,
/// gen-delims (`:/?#[]@`).
fn is_uri3986_char(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.'
                | b'_'
                | b'~'
                | b'!'
                | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'/'
                | b'?'
                | b'#'
                | b'['
                | b']'
                | b'@'
        )
}

/// RFC 2396 `reserved`: escaped forms of these are *not* equivalent to the plain character
/// (RFC 3261 §19.1.4).
fn is_reserved(b: u8) -> bool {
    matches!(
        b,
        b';' | b'/' | b'?' | b':' | b'@' | b'&' | b'=' | b'+' | b'$' | b','
    )
}

/// RFC 3966 visual separators.
fn is_visual_separator(b: u8) -> bool {
    matches!(b, b'-' | b'.' | b'(' | b')')
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The byte encoded by the two hex digits at `b[i..i + 2]`, if they are hex digits.
fn hex_pair(b: &[u8], i: usize) -> Option<u8> {
    let hi = hex_val(*b.get(i)?)?;
    let lo = hex_val(*b.get(i + 1)?)?;
    Some(hi << 4 | lo)
}

/// Checks that every byte of `s` is in `class` or is part of a `%HH` escape.
fn check_escaped(s: &str, class: fn(u8) -> bool, err: UriError) -> Result<(), UriError> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            if hex_pair(b, i + 1).is_none() {
                return Err(UriError::BadEscape);
            }
            i += 3;
        } else if class(b[i]) {
            i += 1;
        } else {
            return Err(err);
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Escaping

/// Decodes `%HH` escapes (RFC 3261 §19.1.2, RFC 3986 §2.1).
///
/// Returns bytes because an escape may encode any octet, including NUL
/// (RFC 4475 §3.1.1.4: `sip:null-%00-null@example.com`) and invalid UTF-8. Borrows the
/// input when it contains no `%`; a `%` not followed by two hex digits is kept as is.
/// Decoding is a single pass: `%2541` becomes `%41`, not `A`.
pub fn unescape(s: &str) -> Cow<'_, [u8]> {
    let b = s.as_bytes();
    let Some(first) = memchr::memchr(b'%', b) else {
        return Cow::Borrowed(b);
    };
    let mut out = Vec::with_capacity(b.len());
    out.extend_from_slice(&b[..first]);
    let mut i = first;
    while i < b.len() {
        if b[i] == b'%' {
            if let Some(v) = hex_pair(b, i + 1) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    Cow::Owned(out)
}

/// Like [`unescape`], but returns text; `None` when the decoded bytes are not UTF-8.
pub fn unescape_str(s: &str) -> Option<Cow<'_, str>> {
    match unescape(s) {
        Cow::Borrowed(_) => Some(Cow::Borrowed(s)),
        Cow::Owned(v) => String::from_utf8(v).ok().map(Cow::Owned),
    }
}

/// Iterator over the characters of escaped text for comparison: unescaped octets as
/// themselves, escaped octets decoded, except escaped RFC 2396 `reserved` characters which are
/// tagged (`0x100 | octet`) so that `%3B` never equals `;` (RFC 3261 §19.1.4).
struct Decoded<'a> {
    b: &'a [u8],
    i: usize,
}

impl Iterator for Decoded<'_> {
    type Item = u16;

    fn next(&mut self) -> Option<u16> {
        let c = *self.b.get(self.i)?;
        if c == b'%' {
            if let Some(v) = hex_pair(self.b, self.i + 1) {
                self.i += 3;
                return Some(if is_reserved(v) {
                    0x100 | u16::from(v)
                } else {
                    u16::from(v)
                });
            }
        }
        self.i += 1;
        Some(u16::from(c))
    }
}

/// Compares two escaped strings as RFC 3261 §19.1.4 asks, without allocating.
fn escaped_eq(a: &str, b: &str, ignore_case: bool) -> bool {
    if a == b {
        return true;
    }
    let fold = |c: u16| -> u16 {
        if ignore_case && (u16::from(b'A')..=u16::from(b'Z')).contains(&c) {
            c + 32
        } else {
            c
        }
    };
    let mut x = Decoded {
        b: a.as_bytes(),
        i: 0,
    };
    let mut y = Decoded {
        b: b.as_bytes(),
        i: 0,
    };
    loop {
        match (x.next(), y.next()) {
            (None, None) => return true,
            (Some(p), Some(q)) if fold(p) == fold(q) => {}
            _ => return false,
        }
    }
}

fn opt_escaped_eq(a: Option<&str>, b: Option<&str>, ignore_case: bool) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => escaped_eq(a, b, ignore_case),
        _ => false,
    }
}

/// Looks a parameter up by name, comparing names case-insensitively after unescaping
/// (so `%6C%72` finds `lr`, RFC 4475 §3.1.1.3).
fn find_param<'a>(params: &Params<'a>, name: &str) -> Option<Option<&'a str>> {
    params
        .iter()
        .filter_map(Result::ok)
        .find(|(n, _)| escaped_eq(n, name, true))
        .map(|(_, v)| v)
}

// ---------------------------------------------------------------------------------------------
// Parsing

/// The scheme of URI text (what precedes the first `:`), without parsing the rest: for
/// callers that only ask "SIP, tel or other?" of a URI already checked by [`Uri::parse`]
/// (RFC 3261 §19.1.1; schemes compare case-insensitively). `None` without a `:`.
pub fn scheme_of(text: &str) -> Option<&str> {
    memchr::memchr(b':', text.as_bytes()).map(|colon| &text[..colon])
}

/// Whether a scheme is `sip` or `sips` (RFC 3261 §19.1), in any case.
pub fn is_sip_scheme(scheme: &str) -> bool {
    scheme.eq_ignore_ascii_case("sip") || scheme.eq_ignore_ascii_case("sips")
}

impl<'a> Uri<'a> {
    /// Parses a URI: `sip:`/`sips:` per RFC 3261 §19.1.1 and §25.1, `tel:` per RFC 3966 §3,
    /// any other scheme as an RFC 3986 absolute URI. Schemes are case-insensitive.
    ///
    /// The whole text must be the URI: white space, control characters, `<`, `>`, `"` and
    /// non-ASCII characters are rejected anywhere (RFC 4475 §3.1.2.8, §3.1.2.14), as are
    /// `%` signs that do not start a `%HH` escape.
    pub fn parse(s: &'a str) -> Result<Uri<'a>, UriError> {
        if let Some(&b) = s.as_bytes().iter().find(|&&b| URI_REJECT[usize::from(b)]) {
            return Err(if b <= b' ' || b == 0x7f {
                UriError::WhiteSpace
            } else {
                UriError::BadChar
            });
        }
        // From here on the text is printable ASCII, so byte slicing is always on char
        // boundaries.
        let scheme = scheme_of(s).ok_or(UriError::NoScheme)?;
        let rest = &s[scheme.len() + 1..];
        let sb = scheme.as_bytes();
        match sb.first() {
            Some(c) if c.is_ascii_alphabetic() => {}
            _ => return Err(UriError::BadScheme),
        }
        if !sb
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
        {
            return Err(UriError::BadScheme);
        }
        if scheme.eq_ignore_ascii_case("sip") {
            SipUri::parse_rest(s, false, rest).map(Uri::Sip)
        } else if scheme.eq_ignore_ascii_case("sips") {
            SipUri::parse_rest(s, true, rest).map(Uri::Sip)
        } else if scheme.eq_ignore_ascii_case("tel") {
            TelUri::parse_rest(s, rest).map(Uri::Tel)
        } else {
            check_escaped(rest, is_uri3986_char, UriError::BadChar)?;
            Ok(Uri::Absolute(AbsoluteUri {
                scheme,
                rest,
                raw: s,
            }))
        }
    }

    /// The exact text the URI was parsed from.
    pub fn as_str(&self) -> &'a str {
        match self {
            Uri::Sip(u) => u.raw,
            Uri::Tel(u) => u.raw,
            Uri::Absolute(u) => u.raw,
        }
    }

    /// The scheme as written (compare it case-insensitively).
    pub fn scheme(&self) -> &'a str {
        match self {
            Uri::Sip(u) => u.scheme(),
            Uri::Tel(u) => u.scheme(),
            Uri::Absolute(u) => u.scheme,
        }
    }

    /// Whether this is a `sip:` or `sips:` URI.
    pub fn is_sip(&self) -> bool {
        matches!(self, Uri::Sip(_))
    }

    /// Whether this is a `sips:` URI.
    pub fn is_sips(&self) -> bool {
        matches!(self, Uri::Sip(u) if u.secure)
    }

    /// The `sip:`/`sips:` URI, if it is one.
    pub fn as_sip(&self) -> Option<&SipUri<'a>> {
        match self {
            Uri::Sip(u) => Some(u),
            _ => None,
        }
    }

    /// The `tel:` URI, if it is one.
    pub fn as_tel(&self) -> Option<&TelUri<'a>> {
        match self {
            Uri::Tel(u) => Some(u),
            _ => None,
        }
    }

    /// URI comparison: RFC 3261 §19.1.4 for `sip:`/`sips:` ([`SipUri::equivalent`]),
    /// RFC 3966 §4 for `tel:` ([`TelUri::equivalent`]); other schemes compare the scheme
    /// case-insensitively and the rest exactly, up to escapes of unreserved characters
    /// (RFC 3986 §6.2.2.2). URIs of different schemes are never equivalent. Never allocates.
    pub fn equivalent(&self, other: &Uri<'_>) -> bool {
        match (self, other) {
            (Uri::Sip(a), Uri::Sip(b)) => a.equivalent(b),
            (Uri::Tel(a), Uri::Tel(b)) => a.equivalent(b),
            (Uri::Absolute(a), Uri::Absolute(b)) => {
                a.scheme.eq_ignore_ascii_case(b.scheme) && escaped_eq(a.rest, b.rest, false)
            }
            _ => false,
        }
    }
}

impl<'a> SipUri<'a> {
    /// Parses what follows `sip:`/`sips:` (RFC 3261 §25.1 `SIP-URI`, `SIPS-URI`).
    fn parse_rest(raw: &'a str, secure: bool, rest: &'a str) -> Result<SipUri<'a>, UriError> {
        // `@` cannot appear in the host, parameters or headers, while the user part may hold
        // `;` and `?` (RFC 4475 §3.1.1.9): the userinfo ends at the last `@`.
        let (userinfo, after) = match memchr::memrchr(b'@', rest.as_bytes()) {
            Some(at) => (Some(&rest[..at]), &rest[at + 1..]),
            None => (None, rest),
        };
        let (user, password) = match userinfo {
            None => (None, None),
            Some(ui) => {
                let (user, password) = match memchr::memchr(b':', ui.as_bytes()) {
                    Some(c) => (&ui[..c], Some(&ui[c + 1..])),
                    None => (ui, None),
                };
                if user.is_empty() {
                    return Err(UriError::BadUser);
                }
                check_escaped(user, is_user_char, UriError::BadUser)?;
                if let Some(p) = password {
                    check_escaped(p, is_password_char, UriError::BadPassword)?;
                }
                (Some(user), password)
            }
        };

        let hp_end = memchr::memchr2(b';', b'?', after.as_bytes()).unwrap_or(after.len());
        let hostport = &after[..hp_end];
        let (host, port) = parse_hostport(hostport)?;
        let tail = &after[hp_end..];

        let (params_raw, headers) = match tail.strip_prefix(';') {
            Some(p) => {
                let (params, headers) = match memchr::memchr(b'?', p.as_bytes()) {
                    Some(q) => (&p[..q], Some(&p[q + 1..])),
                    None => (p, None),
                };
                check_sip_params(params)?;
                (params, headers)
            }
            None => ("", tail.strip_prefix('?')),
        };
        if let Some(h) = headers {
            check_headers(h)?;
        }
        Ok(SipUri {
            secure,
            user,
            password,
            host,
            port,
            params: Params::new(params_raw),
            headers,
            hostport,
            raw,
        })
    }

    /// The exact text the URI was parsed from.
    pub fn as_str(&self) -> &'a str {
        self.raw
    }

    /// The scheme as written (`sip`, `SIPS`, ...).
    pub fn scheme(&self) -> &'a str {
        let n = if self.secure { 4 } else { 3 };
        self.raw
            .get(..n)
            .unwrap_or(if self.secure { "sips" } else { "sip" })
    }

    /// The `host[:port]` text as written, e.g. `[2001:db8::10]:5070`.
    pub fn host_port(&self) -> &'a str {
        self.hostport
    }

    /// The port if written, else the default of the scheme: 5060 for `sip:`, 5061 for `sips:`
    /// (RFC 3261 §19.1.2).
    pub fn port_or_default(&self) -> u16 {
        self.port.unwrap_or(if self.secure { 5061 } else { 5060 })
    }

    /// The user part with `%HH` escapes decoded (bytes: escapes may encode NUL, RFC 4475
    /// §3.1.1.4). Allocates only if the user part contains an escape.
    pub fn user_unescaped(&self) -> Option<Cow<'a, [u8]>> {
        self.user.map(unescape)
    }

    /// The password with `%HH` escapes decoded. Allocates only if it contains an escape.
    pub fn password_unescaped(&self) -> Option<Cow<'a, [u8]>> {
        self.password.map(unescape)
    }

    /// A URI parameter by name (case-insensitive, escape-insensitive): `Some(None)` when
    /// present without a value (like `lr`), `Some(Some(value))` with the value as written.
    pub fn param(&self, name: &str) -> Option<Option<&'a str>> {
        find_param(&self.params, name)
    }

    /// The `transport` parameter value as written (RFC 3261 §19.1.1 `transport-param`:
    /// `udp`, `tcp`, `sctp`, `tls`, or another token; compare case-insensitively).
    pub fn transport(&self) -> Option<&'a str> {
        self.param("transport").flatten()
    }

    /// The `user` parameter value (`phone`, `ip`, or another token).
    pub fn user_param(&self) -> Option<&'a str> {
        self.param("user").flatten()
    }

    /// The `method` parameter value (RFC 3261 §19.1.1 `method-param`).
    pub fn method_param(&self) -> Option<&'a str> {
        self.param("method").flatten()
    }

    /// The `ttl` parameter (RFC 3261 §19.1.1 `ttl-param`, 0 to 255); `None` when absent or
    /// not a number in range.
    pub fn ttl(&self) -> Option<u8> {
        let v = self.param("ttl").flatten()?;
        parse_decimal(v, 255).and_then(|n| u8::try_from(n).ok())
    }

    /// The `maddr` parameter as a host; `None` when absent or not a valid host.
    pub fn maddr(&self) -> Option<Host<'a>> {
        Host::parse(self.param("maddr").flatten()?).ok()
    }

    /// Whether the `lr` parameter (loose routing, RFC 3261 §19.1.1) is present.
    pub fn lr(&self) -> bool {
        self.param("lr").is_some()
    }

    /// Iterates over the `?headers` part as `(hname, hvalue)` pairs, still escaped as
    /// written (RFC 3261 §19.1.1). Empty when there are no headers.
    pub fn headers(&self) -> UriHeaders<'a> {
        UriHeaders { rest: self.headers }
    }

    /// RFC 3261 §19.1.4 comparison, without allocating:
    ///
    /// - `sip:` and `sips:` never match;
    /// - user and password compare case-sensitively, host case-insensitively, and escaped
    ///   characters equal their plain form, except RFC 2396 `reserved` characters;
    /// - a written port never matches an absent one, even the default;
    /// - the `user`, `ttl`, `method`, `maddr` and `transport` parameters must match when
    ///   present in either URI; other parameters are compared (names and values
    ///   case-insensitively) only when present in both; order is irrelevant;
    /// - headers must be the same set in both (names case-insensitive, values
    ///   case-sensitive after unescaping), in any order.
    pub fn equivalent(&self, other: &SipUri<'_>) -> bool {
        self.secure == other.secure
            && opt_escaped_eq(self.user, other.user, false)
            && opt_escaped_eq(self.password, other.password, false)
            && self.host.equivalent(&other.host)
            && self.port == other.port
            && params_equivalent(&self.params, &other.params)
            && headers_equivalent(self.headers(), other.headers())
    }
}

/// Splits and validates `host[:port]`.
fn parse_hostport(s: &str) -> Result<(Host<'_>, Option<u16>), UriError> {
    let (host, port) = if s.starts_with('[') {
        let close = s.find(']').ok_or(UriError::BadHost)?;
        let after = &s[close + 1..];
        let port = if after.is_empty() {
            None
        } else {
            Some(after.strip_prefix(':').ok_or(UriError::BadHost)?)
        };
        (&s[..=close], port)
    } else {
        match memchr::memchr(b':', s.as_bytes()) {
            Some(c) => (&s[..c], Some(&s[c + 1..])),
            None => (s, None),
        }
    };
    let host = Host::parse(host)?;
    let port = match port {
        None => None,
        Some(p) => Some(parse_port(p)?),
    };
    Ok((host, port))
}

/// RFC 3261 `port` = 1*DIGIT, limited to 16 bits.
fn parse_port(s: &str) -> Result<u16, UriError> {
    parse_decimal(s, u64::from(u16::MAX))
        .and_then(|n| u16::try_from(n).ok())
        .ok_or(UriError::BadPort)
}

/// RFC 3261 `uri-parameters` (without the first `;`).
fn check_sip_params(s: &str) -> Result<(), UriError> {
    for p in s.split(';') {
        let (name, value) = match p.find('=') {
            Some(e) => (&p[..e], Some(&p[e + 1..])),
            None => (p, None),
        };
        if name.is_empty() || value == Some("") {
            return Err(UriError::BadParam);
        }
        check_escaped(name, is_param_char, UriError::BadParam)?;
        if let Some(v) = value {
            check_escaped(v, is_param_char, UriError::BadParam)?;
        }
    }
    Ok(())
}

/// RFC 3261 `headers` (without the `?`): `hname "=" hvalue *( "&" hname "=" hvalue )`.
fn check_headers(s: &str) -> Result<(), UriError> {
    for h in s.split('&') {
        let (name, value) = h.split_once('=').ok_or(UriError::BadHeader)?;
        if name.is_empty() {
            return Err(UriError::BadHeader);
        }
        check_escaped(name, is_hnv_char, UriError::BadHeader)?;
        check_escaped(value, is_hnv_char, UriError::BadHeader)?;
    }
    Ok(())
}

fn params_equivalent(a: &Params<'_>, b: &Params<'_>) -> bool {
    const MUST_MATCH: [&str; 5] = ["user", "ttl", "method", "maddr", "transport"];
    if MUST_MATCH
        .iter()
        .any(|n| find_param(a, n).is_some() != find_param(b, n).is_some())
    {
        return false;
    }
    // A name given twice counts with its first value on both sides, so that comparison
    // stays reflexive (`;x=1;x` equals itself).
    let one_way = |x: &Params<'_>, y: &Params<'_>| {
        x.iter()
            .filter_map(Result::ok)
            .all(|(n, _)| match (find_param(x, n), find_param(y, n)) {
                (Some(v), Some(w)) => opt_escaped_eq(v, w, true),
                _ => true,
            })
    };
    one_way(a, b) && one_way(b, a)
}

fn headers_equivalent(a: UriHeaders<'_>, b: UriHeaders<'_>) -> bool {
    let contained = |x: UriHeaders<'_>, y: UriHeaders<'_>| {
        x.clone().all(|(n, v)| {
            let count = |it: UriHeaders<'_>| {
                it.filter(|(m, w)| escaped_eq(n, m, true) && escaped_eq(v, w, false))
                    .count()
            };
            count(x.clone()) == count(y.clone())
        })
    };
    contained(a.clone(), b.clone()) && contained(b, a)
}

/// Iterator of [`SipUri::headers`]: `(hname, hvalue)` pairs, escaped as written.
#[derive(Debug, Clone)]
pub struct UriHeaders<'a> {
    rest: Option<&'a str>,
}

impl<'a> Iterator for UriHeaders<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        let s = self.rest?;
        let (item, rest) = match s.split_once('&') {
            Some((i, r)) => (i, Some(r)),
            None => (s, None),
        };
        self.rest = rest;
        Some(item.split_once('=').unwrap_or((item, "")))
    }
}

impl<'a> Host<'a> {
    /// The address of an IP-literal host; `None` for a name.
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            Host::V4(a) => Some(IpAddr::V4(*a)),
            Host::V6(a) => Some(IpAddr::V6(*a)),
            Host::Name(_) => None,
        }
    }

    /// The host as [`Display`](fmt::Display) writes it (a name as written, a dotted quad,
    /// `[v6]`), borrowed for a name. Cheaper than `to_string()`: no formatting machinery,
    /// and no allocation for names.
    pub fn text(&self) -> Cow<'a, str> {
        match self {
            Host::Name(n) => Cow::Borrowed(n),
            Host::V4(a) => Cow::Owned(crate::text::ip_text((*a).into())),
            Host::V6(a) => Cow::Owned(format!("[{a}]")),
        }
    }

    /// Parses a host (RFC 3261 §25.1 `host`): an IPv6 reference in brackets, a strict IPv4
    /// dotted quad, or a `hostname` (labels of alphanumerics and inner `-`, the last one
    /// starting with a letter, optional trailing dot). Text made of digits and dots only must
    /// be a valid IPv4 address.
    pub fn parse(s: &'a str) -> Result<Host<'a>, UriError> {
        if let Some(inner) = s.strip_prefix('[') {
            let inner = inner.strip_suffix(']').ok_or(UriError::BadHost)?;
            return inner
                .parse::<Ipv6Addr>()
                .map(Host::V6)
                .map_err(|_| UriError::BadHost);
        }
        // A dotted quad (every IPv4 host, common in Via and Contact) is parsed in one pass;
        // the text is classified only when it is not one.
        if s.as_bytes().first().is_some_and(u8::is_ascii_digit) {
            if let Some(v4) = parse_ipv4(s) {
                return Ok(Host::V4(v4));
            }
        }
        match host_kind(s) {
            HostKind::Digits => Err(UriError::BadHost),
            HostKind::Name => Ok(Host::Name(s)),
            HostKind::Invalid => Err(UriError::BadHost),
        }
    }

    /// Whether this is an IP address rather than a name.
    pub fn is_ip(&self) -> bool {
        !matches!(self, Host::Name(_))
    }

    /// Host comparison of RFC 3261 §19.1.4: names case-insensitively, addresses by value.
    /// A name never equals an address.
    pub fn equivalent(&self, other: &Host<'_>) -> bool {
        match (self, other) {
            (Host::Name(a), Host::Name(b)) => a.eq_ignore_ascii_case(b),
            (Host::V4(a), Host::V4(b)) => a == b,
            (Host::V6(a), Host::V6(b)) => a == b,
            _ => false,
        }
    }
}

/// Strict dotted quad: four groups of 1 to 3 digits, each at most 255. One pass over the
/// bytes (every URI and Via host of a message goes through here).
fn parse_ipv4(s: &str) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut filled = 0;
    let mut value: u16 = 0;
    let mut digits = 0;
    for &c in s.as_bytes() {
        if c.is_ascii_digit() {
            digits += 1;
            if digits > 3 {
                return None;
            }
            value = value * 10 + u16::from(c - b'0');
        } else if c == b'.' && digits > 0 {
            *octets.get_mut(filled)? = u8::try_from(value).ok()?;
            filled += 1;
            if filled == 4 {
                return None; // a fourth dot
            }
            value = 0;
            digits = 0;
        } else {
            return None;
        }
    }
    if filled != 3 || digits == 0 {
        return None;
    }
    octets[3] = u8::try_from(value).ok()?;
    Some(Ipv4Addr::from(octets))
}

/// Bytes never allowed anywhere in a URI: white space and control characters, `<`, `>`,
/// `"` and non-ASCII (RFC 4475 §3.1.2.8, §3.1.2.14).
static URI_REJECT: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = b <= b' ' || b >= 0x7f || b == b'<' || b == b'>' || b == b'"';
        i += 1;
    }
    t
};

/// What [`host_kind`] found.
enum HostKind {
    /// Only digits and dots: must be an IPv4 address.
    Digits,
    /// A valid RFC 3261 `hostname`.
    Name,
    /// Neither.
    Invalid,
}

/// Byte classes for host names: 1 digit, 2 letter, 3 `-`, 4 `.`, 0 anything else.
static HOST_CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = if b.is_ascii_digit() {
            1
        } else if b.is_ascii_alphabetic() {
            2
        } else if b == b'-' {
            3
        } else if b == b'.' {
            4
        } else {
            0
        };
        i += 1;
    }
    t
};

/// Classifies a host in one pass: RFC 3261 `hostname` = *( domainlabel "." ) toplabel
/// [ "." ], labels of alphanumerics and inner `-`, the last one starting with a letter; or
/// text of digits and dots only (an IPv4 candidate).
fn host_kind(s: &str) -> HostKind {
    let b = s.as_bytes();
    let b = b.strip_suffix(b".").unwrap_or(b);
    if b.is_empty() {
        return HostKind::Invalid;
    }
    let mut only_digits = true;
    let mut label_start = true;
    let mut prev = 0u8;
    let mut last_label_first = 0u8;
    for &c in b {
        let class = HOST_CLASS[usize::from(c)];
        match class {
            0 => return HostKind::Invalid,
            4 => {
                if label_start || prev == 3 {
                    return HostKind::Invalid; // empty label or label ending in `-`
                }
                label_start = true;
            }
            _ => {
                if label_start {
                    if class == 3 {
                        return HostKind::Invalid; // label starting with `-`
                    }
                    last_label_first = class;
                    label_start = false;
                }
                only_digits &= class == 1;
            }
        }
        prev = class;
    }
    if only_digits {
        return HostKind::Digits;
    }
    if label_start || prev == 3 || last_label_first != 2 {
        return HostKind::Invalid;
    }
    HostKind::Name
}

impl<'a> TelUri<'a> {
    /// Parses what follows `tel:` (RFC 3966 §3 `telephone-subscriber`). Local numbers
    /// without a `phone-context` parameter are accepted, although RFC 3966 requires one.
    fn parse_rest(raw: &'a str, rest: &'a str) -> Result<TelUri<'a>, UriError> {
        let (number, params) = match rest.find(';') {
            Some(i) => (&rest[..i], Some(&rest[i + 1..])),
            None => (rest, None),
        };
        let nb = number.as_bytes();
        let ok = match nb.split_first() {
            // global-number-digits = "+" *phonedigit DIGIT *phonedigit
            Some((b'+', digits)) => {
                digits
                    .iter()
                    .all(|&c| c.is_ascii_digit() || is_visual_separator(c))
                    && digits.iter().any(u8::is_ascii_digit)
            }
            // local-number-digits = *phonedigit-hex (HEXDIG / "*" / "#") *phonedigit-hex
            _ => {
                let digit = |c: &u8| c.is_ascii_hexdigit() || matches!(c, b'*' | b'#');
                nb.iter().all(|c| digit(c) || is_visual_separator(*c)) && nb.iter().any(digit)
            }
        };
        if !ok {
            return Err(UriError::BadNumber);
        }
        if let Some(p) = params {
            for par in p.split(';') {
                let (name, value) = match par.find('=') {
                    Some(e) => (&par[..e], Some(&par[e + 1..])),
                    None => (par, None),
                };
                // pname = 1*( alphanum / "-" )
                if name.is_empty()
                    || !name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
                    || value == Some("")
                {
                    return Err(UriError::BadParam);
                }
                if let Some(v) = value {
                    // paramchar, plus the `uric` characters of `isub` (except `;`).
                    check_escaped(
                        v,
                        |c| is_param_char(c) || matches!(c, b'=' | b',' | b'?' | b'@'),
                        UriError::BadParam,
                    )?;
                }
            }
        }
        Ok(TelUri {
            number,
            params: Params::new(params.unwrap_or("")),
            raw,
        })
    }

    /// The exact text the URI was parsed from.
    pub fn as_str(&self) -> &'a str {
        self.raw
    }

    /// The scheme as written (`tel`, `TEL`, ...).
    pub fn scheme(&self) -> &'a str {
        self.raw.get(..3).unwrap_or("tel")
    }

    /// Whether the number is global (`+` followed by the E.164 number).
    pub fn is_global(&self) -> bool {
        self.number.starts_with('+')
    }

    /// A parameter by name (case-insensitive): `Some(None)` when present without a value.
    pub fn param(&self, name: &str) -> Option<Option<&'a str>> {
        find_param(&self.params, name)
    }

    /// The `phone-context` parameter of a local number (RFC 3966 §5.1.5).
    pub fn phone_context(&self) -> Option<&'a str> {
        self.param("phone-context").flatten()
    }

    /// The `ext` (extension) parameter (RFC 3966 §5.1.4).
    pub fn ext(&self) -> Option<&'a str> {
        self.param("ext").flatten()
    }

    /// The digits of the number without visual separators (`-`, `.`, `(`, `)`), including
    /// the leading `+` of a global number.
    pub fn digits(&self) -> impl Iterator<Item = char> + 'a {
        self.number
            .bytes()
            .filter(|&c| !is_visual_separator(c))
            .map(char::from)
    }

    /// RFC 3966 §4 comparison, without allocating: both global or both local, numbers equal
    /// ignoring visual separators (hex digits case-insensitive), the same parameter names in
    /// any order with case-insensitively equal values.
    pub fn equivalent(&self, other: &TelUri<'_>) -> bool {
        if self.is_global() != other.is_global() {
            return false;
        }
        let mut a = self.digits().map(|c| c.to_ascii_lowercase());
        let mut b = other.digits().map(|c| c.to_ascii_lowercase());
        loop {
            match (a.next(), b.next()) {
                (None, None) => break,
                (Some(x), Some(y)) if x == y => {}
                _ => return false,
            }
        }
        let one_way = |x: &Params<'_>, y: &Params<'_>| {
            x.iter()
                .filter_map(Result::ok)
                .all(|(n, v)| match find_param(y, n) {
                    Some(w) => opt_escaped_eq(v, w, true),
                    None => false,
                })
        };
        one_way(&self.params, &other.params) && one_way(&other.params, &self.params)
    }
}

impl<'a> AbsoluteUri<'a> {
    /// The exact text the URI was parsed from.
    pub fn as_str(&self) -> &'a str {
        self.raw
    }
}

// ---------------------------------------------------------------------------------------------
// Display: the text as written.

impl fmt::Display for Uri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for SipUri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.raw)
    }
}

impl fmt::Display for TelUri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.raw)
    }
}

impl fmt::Display for AbsoluteUri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.raw)
    }
}

/// Names as written, IPv4 dotted, IPv6 in canonical RFC 5952 form inside brackets (so the
/// output is usable in a `hostport`).
impl fmt::Display for Host<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Name(n) => f.write_str(n),
            Host::V4(a) => write!(f, "{a}"),
            Host::V6(a) => write!(f, "[{a}]"),
        }
    }
}

#[cfg(test)]
#[allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]
mod tests {
    #[test]
    fn host_text_is_what_display_writes() {
        for text in [
            "example.COM",
            "192.0.2.1",
            "0.0.0.0",
            "255.255.255.255",
            "[2001:db8::1]",
        ] {
            let host = super::Host::parse(text).unwrap();
            assert_eq!(host.text(), host.to_string(), "{text}");
        }
        assert!(matches!(
            super::Host::parse("example.com").unwrap().text(),
            std::borrow::Cow::Borrowed("example.com")
        ));
    }

    #[test]
    fn host_classification() {
        use super::{host_kind, HostKind};
        let kind = |h: &str| match host_kind(h) {
            HostKind::Digits => "digits",
            HostKind::Name => "name",
            HostKind::Invalid => "invalid",
        };
        for (h, k) in [
            ("example.com", "name"),
            ("example.com.", "name"),
            ("1a.example.com", "name"),
            ("a-b.c-d", "name"),
            ("a", "name"),
            ("a.1b", "invalid"),
            ("-a.com", "invalid"),
            ("a-.com", "invalid"),
            ("a..com", "invalid"),
            (".a", "invalid"),
            ("a_b.com", "invalid"),
            ("", "invalid"),
            (".", "invalid"),
            ("192.0.2.1", "digits"),
            ("1..2", "invalid"),
            ("999.1.1.1", "digits"),
        ] {
            assert_eq!(kind(h), k, "{h}");
        }
    }

    use super::*;

    fn sip(s: &str) -> SipUri<'_> {
        match Uri::parse(s) {
            Ok(Uri::Sip(u)) => u,
            other => panic!("{s}: {other:?}"),
        }
    }

    fn eqv(a: &str, b: &str) -> bool {
        let (Ok(x), Ok(y)) = (Uri::parse(a), Uri::parse(b)) else {
            panic!("parse {a} / {b}");
        };
        let r = x.equivalent(&y);
        assert_eq!(r, y.equivalent(&x), "symmetry {a} / {b}");
        r
    }

    #[test]
    fn parts() {
        let u = sip("sips:alice:secret@Example.COM:5071;transport=tcp;lr?subject=hi&x=");
        assert!(u.secure);
        assert_eq!(u.user, Some("alice"));
        assert_eq!(u.password, Some("secret"));
        assert_eq!(u.host, Host::Name("Example.COM"));
        assert_eq!(u.port, Some(5071));
        assert_eq!(u.host_port(), "Example.COM:5071");
        assert_eq!(u.transport(), Some("tcp"));
        assert!(u.lr());
        assert_eq!(
            u.headers().collect::<Vec<_>>(),
            [("subject", "hi"), ("x", "")]
        );
        assert_eq!(u.scheme(), "sips");
        assert_eq!(u.port_or_default(), 5071);
    }

    #[test]
    fn user_with_semicolons_and_question_marks() {
        let u = sip("sip:user;par=u%40example.net@example.com");
        assert_eq!(u.user, Some("user;par=u%40example.net"));
        assert_eq!(u.host, Host::Name("example.com"));
        assert!(u.params.is_empty());
        let u = sip(
            "sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com",
        );
        assert_eq!(
            u.user,
            Some("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*")
        );
        assert_eq!(
            u.password,
            Some("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)")
        );
    }

    #[test]
    fn escapes() {
        assert_eq!(&*unescape("null-%00-null"), b"null-\0-null");
        assert!(matches!(unescape("plain"), Cow::Borrowed(_)));
        assert_eq!(&*unescape("v%61lue%25%34%31"), b"value%41");
        assert_eq!(&*unescape("100%"), b"100%");
        assert_eq!(unescape_str("I%20have").as_deref(), Some("I have"));
        assert_eq!(unescape_str("%FF"), None);
        let u = sip("sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31");
        assert!(u.lr());
        assert_eq!(u.param("name"), Some(Some("v%61lue%25%34%31")));
        assert_eq!(Uri::parse("sip:a%4@b"), Err(UriError::BadEscape));
        assert_eq!(Uri::parse("sip:a%zz@b"), Err(UriError::BadEscape));
        assert!(Uri::parse("sip:%25@example.com").is_ok());
    }

    /// The one-pass dotted-quad parser accepts exactly what splitting at dots and reading
    /// each group as a number of 1 to 3 digits up to 255 accepts.
    #[test]
    fn ipv4_dotted_quads() {
        fn by_split(s: &str) -> Option<Ipv4Addr> {
            let groups: Vec<&str> = s.split('.').collect();
            if groups.len() != 4 {
                return None;
            }
            let mut octets = [0u8; 4];
            for (o, g) in octets.iter_mut().zip(groups) {
                if g.is_empty() || g.len() > 3 || !g.bytes().all(|c| c.is_ascii_digit()) {
                    return None;
                }
                *o = g.parse().ok()?;
            }
            Some(Ipv4Addr::from(octets))
        }
        for s in [
            "1.2.3.4",
            "0.0.0.0",
            "255.255.255.255",
            "010.001.0.9",
            "127.0.0.1",
            "256.1.1.1",
            "1.2.3.256",
            "1.2.3",
            "1.2.3.4.",
            ".1.2.3",
            "1..2.3",
            "1.2.3.4.5",
            "1234.1.1.1",
            "1.2.3.0004",
            "",
            ".",
            "...",
            "1.2.3.",
            "a.b.c.d",
            "1.2.3.4a",
            "999.999.999.999",
        ] {
            assert_eq!(parse_ipv4(s), by_split(s), "{s:?}");
        }
    }

    #[test]
    fn hosts() {
        assert_eq!(sip("sip:[2001:db8::10]:5070").port, Some(5070));
        assert!(sip("sip:[2001:db8::10:5070]").port.is_none());
        assert_eq!(sip("sip:1.2.3.4").host, Host::V4(Ipv4Addr::new(1, 2, 3, 4)));
        assert!(sip("sip:h.example.com.").host == Host::Name("h.example.com."));
        for bad in [
            "sip:user@1.2.3.456",
            "sip:2001:db8::10",
            "sip:[2001:db8::10",
            "sip:[::1]x",
            "sip:a_b.com",
            "sip:-a.com",
            "sip:a.1com",
            "sip:1.2.3",
            "sip:user@",
            "sip:",
            "sip:@host",
            "sip:a..b",
        ] {
            assert!(Uri::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Uri::parse("sip:h:65536"), Err(UriError::BadPort));
        assert_eq!(Uri::parse("sip:h:"), Err(UriError::BadPort));
        assert_eq!(sip("sip:h:65535").port, Some(65535));
        assert_eq!(Host::V6(Ipv6Addr::LOCALHOST).to_string(), "[::1]");
    }

    #[test]
    fn params_and_headers() {
        let u = sip("sip:h;ttl=16;maddr=239.255.255.1;user=phone;method=INVITE");
        assert_eq!(u.ttl(), Some(16));
        assert_eq!(u.maddr(), Some(Host::V4(Ipv4Addr::new(239, 255, 255, 1))));
        assert_eq!(u.user_param(), Some("phone"));
        assert_eq!(u.method_param(), Some("INVITE"));
        assert!(!u.lr());
        for bad in [
            "sip:h;;a",
            "sip:h;",
            "sip:h;a=",
            "sip:h;a=b=c",
            "sip:h?",
            "sip:h?a",
            "sip:h?=b",
            "sip:h; lr",
            "sip:h;a=\"b\"",
        ] {
            assert!(Uri::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn other_schemes() {
        for s in [
            "soap.beep://192.0.2.103:3002",
            "isbn:2983792873",
            "http://www.example.com",
            "name:John_Smith",
            "im:user@host",
            "mailto:a@b.c?subject=x#frag",
        ] {
            let u = Uri::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert!(matches!(u, Uri::Absolute(_)), "{s}");
            assert_eq!(u.to_string(), s);
        }
        assert_eq!(Uri::parse("1abc:x"), Err(UriError::BadScheme));
        assert_eq!(Uri::parse(":x"), Err(UriError::BadScheme));
        assert_eq!(Uri::parse("nocolon"), Err(UriError::NoScheme));
        assert_eq!(Uri::parse("x:a{b}"), Err(UriError::BadChar));
    }

    #[test]
    fn tel() {
        let Ok(Uri::Tel(t)) = Uri::parse("tel:+1-201-555-0123;ext=12") else {
            panic!()
        };
        assert!(t.is_global());
        assert_eq!(t.ext(), Some("12"));
        let Ok(Uri::Tel(t)) = Uri::parse("TEL:863-1234;phone-context=+1-914-555") else {
            panic!()
        };
        assert!(!t.is_global());
        assert_eq!(t.phone_context(), Some("+1-914-555"));
        assert!(Uri::parse("tel:+").is_err());
        assert!(Uri::parse("tel:+1x").is_err());
        assert!(Uri::parse("tel:+1;;a").is_err());
        assert!(eqv("tel:+1-201-555-0123", "tel:+1(201)5550123"));
        assert!(!eqv("tel:+1-201-555-0123", "tel:1-201-555-0123"));
        assert!(eqv(
            "tel:7042;phone-context=EXAMPLE.com;ext=1",
            "tel:7042;ext=1;phone-context=example.com"
        ));
        assert!(!eqv("tel:7042;phone-context=example.com", "tel:7042"));
    }

    #[test]
    fn rejects_white_space_and_delimiters() {
        for bad in [
            "sip:user@example.com; lr",
            "sip:user@exa mple.com",
            "sip:us\ter@h",
            "sip:user@h\r\n",
            "<sip:user@h>",
            "sip:\"u\"@h",
            "sip:usér@h",
            "sip:u\0@h",
        ] {
            assert!(Uri::parse(bad).is_err(), "{bad:?}");
        }
    }

    /// RFC 3261 §19.1.4, the equivalent sets.
    #[test]
    fn rfc3261_equivalent() {
        assert!(eqv(
            "sip:%61lice@atlanta.com;transport=TCP",
            "sip:alice@AtLanTa.CoM;Transport=tcp"
        ));
        assert!(eqv(
            "sip:carol@chicago.com",
            "sip:carol@chicago.com;newparam=5"
        ));
        assert!(eqv(
            "sip:carol@chicago.com",
            "sip:carol@chicago.com;security=on"
        ));
        assert!(eqv(
            "sip:carol@chicago.com;newparam=5",
            "sip:carol@chicago.com;security=on"
        ));
        assert!(eqv(
            "sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
            "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com"
        ));
        assert!(eqv(
            "sip:alice@atlanta.com?subject=project%20x&priority=urgent",
            "sip:alice@atlanta.com?priority=urgent&subject=project%20x"
        ));
    }

    /// RFC 3261 §19.1.4, the non-equivalent sets.
    #[test]
    fn rfc3261_not_equivalent() {
        assert!(!eqv(
            "SIP:ALICE@AtLanTa.CoM;Transport=udp",
            "sip:alice@AtLanTa.CoM;Transport=UDP"
        ));
        assert!(!eqv("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"));
        assert!(!eqv(
            "sip:bob@biloxi.com",
            "sip:bob@biloxi.com;transport=udp"
        ));
        assert!(!eqv(
            "sip:bob@biloxi.com",
            "sip:bob@biloxi.com:6000;transport=tcp"
        ));
        assert!(!eqv(
            "sip:carol@chicago.com",
            "sip:carol@chicago.com?Subject=next%20meeting"
        ));
        assert!(!eqv("sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4"));
    }

    #[test]
    fn more_equivalence() {
        assert!(!eqv("sip:a@h", "sips:a@h"));
        assert!(!eqv("sip:a%3Bb@h", "sip:a;b@h"));
        assert!(eqv("sip:a%3bb@h", "sip:a%3Bb@h"));
        assert!(!eqv("sip:a:x@h", "sip:a:X@h"));
        assert!(!eqv("sip:a:x@h", "sip:a@h"));
        assert!(!eqv("sip:h;ttl=1", "sip:h"));
        assert!(!eqv("sip:h;maddr=1.2.3.4", "sip:h"));
        assert!(!eqv("sip:h;lr", "sip:h;lr=on"));
        assert!(eqv("sip:h;lr", "sip:h"));
        assert!(eqv("sip:[::1]", "sip:[0:0::1]"));
        assert!(eqv("sip:h?a=1&a=2", "sip:h?a=2&a=1"));
        assert!(!eqv("sip:h?a=1&a=1", "sip:h?a=1"));
        assert!(!eqv("sip:h", "tel:+1"));
        assert!(eqv("HTTP://x/%7e", "http://x/~"));
        assert!(!eqv("http://x/A", "http://x/a"));
    }

    #[test]
    fn display_is_original_text() {
        for s in ["SIP:Alice@H;Lr", "sips:[::1]:5061", "tel:+1-2", "urn:x:y"] {
            let u = Uri::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(u.to_string(), s);
            assert_eq!(u.as_str(), s);
        }
        assert_eq!(Uri::parse("SIP:h").map(|u| u.scheme()), Ok("SIP"));
        assert_eq!(UriError::BadHost.to_string(), "bad host in URI");
    }
}
