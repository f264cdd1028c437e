//! URIs: `sip:` and `sips:` (RFC 3261 §19.1), `tel:` (RFC 3966) and any other absolute URI
//! (RFC 3986), borrowed from the message text.
//!
//! INTERIM: minimal parser so the message model compiles; replaced by the full module.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::params::Params;

/// A parsed URI borrowing its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uri<'a> {
    /// `sip:` or `sips:`.
    Sip(SipUri<'a>),
    /// `tel:`.
    Tel(TelUri<'a>),
    /// Any other scheme, kept opaque.
    Absolute(AbsoluteUri<'a>),
}

/// A `sip:`/`sips:` URI (RFC 3261 §19.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SipUri<'a> {
    /// `sips:` rather than `sip:`.
    pub secure: bool,
    /// The user part as written (still %-escaped).
    pub user: Option<&'a str>,
    /// The password as written (still %-escaped).
    pub password: Option<&'a str>,
    /// The host.
    pub host: Host<'a>,
    /// The port, if written.
    pub port: Option<u16>,
    /// The `uri-parameters`.
    pub params: Params<'a>,
    /// The `headers` part after `?`, as written.
    pub headers: Option<&'a str>,
}

/// A host: name, IPv4 address or IPv6 reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host<'a> {
    /// A host name as written.
    Name(&'a str),
    /// An IPv4 address.
    V4(Ipv4Addr),
    /// An IPv6 reference `[...]`.
    V6(Ipv6Addr),
}

/// A `tel:` URI (RFC 3966).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelUri<'a> {
    /// The number, global (`+...`) or local.
    pub number: &'a str,
    /// Parameters after the number.
    pub params: Params<'a>,
}

/// An absolute URI of a scheme the stack does not interpret (RFC 3986 §4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbsoluteUri<'a> {
    /// The scheme.
    pub scheme: &'a str,
    /// Everything after `scheme:`.
    pub rest: &'a str,
}

/// Why a URI did not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UriError(pub &'static str);

impl fmt::Display for UriError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for UriError {}

impl<'a> Uri<'a> {
    /// The scheme.
    pub fn scheme(&self) -> &'a str {
        match self {
            Uri::Sip(s) if s.secure => "sips",
            Uri::Sip(_) => "sip",
            Uri::Tel(_) => "tel",
            Uri::Absolute(a) => a.scheme,
        }
    }

    /// Parses a URI.
    pub fn parse(s: &'a str) -> Result<Uri<'a>, UriError> {
        let colon = s.find(':').ok_or(UriError("URI without scheme"))?;
        let scheme = &s[..colon];
        if !scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'-' || b == b'.')
        {
            return Err(UriError("bad scheme"));
        }
        let rest = &s[colon + 1..];
        if s.bytes().any(|b| b <= b' ') {
            return Err(UriError("white space in URI"));
        }
        if scheme.eq_ignore_ascii_case("sip") || scheme.eq_ignore_ascii_case("sips") {
            let (user, rest) = match rest.rsplit_once('@') {
                Some((u, h)) => (Some(u), h),
                None => (None, rest),
            };
            let (rest, headers) = match rest.split_once('?') {
                Some((a, h)) => (a, Some(h)),
                None => (rest, None),
            };
            let (hostport, params) = rest.split_once(';').unwrap_or((rest, ""));
            let host = Host::Name(hostport);
            Ok(Uri::Sip(SipUri {
                secure: scheme.eq_ignore_ascii_case("sips"),
                user,
                password: None,
                host,
                port: None,
                params: Params::new(params),
                headers,
            }))
        } else if scheme.eq_ignore_ascii_case("tel") {
            let (number, params) = rest.split_once(';').unwrap_or((rest, ""));
            Ok(Uri::Tel(TelUri {
                number,
                params: Params::new(params),
            }))
        } else {
            Ok(Uri::Absolute(AbsoluteUri { scheme, rest }))
        }
    }
}
