//! The Via header (RFC 3261 §20.42, §25.1 `via-parm`), with RFC 3581 `rport` and the
//! RFC 3261 §18.2.1 `received` parameter.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::message::Span;
use crate::params::Params;
use crate::text::{parse_decimal, trim_lws};
use crate::uri::Host;

/// RFC 3261 §8.1.1.7: branch IDs of RFC 3261 elements start with this magic cookie.
pub const MAGIC_COOKIE: &str = "z9hG4bK";

/// One Via value: `SIP/2.0/UDP host:port;params`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Via<'a> {
    /// The protocol version, `2.0` for RFC 3261 elements.
    pub version: &'a str,
    /// The transport (`UDP`, `TCP`, `TLS`, `SCTP`, `WS`, `WSS` or an extension), as written.
    pub transport: &'a str,
    /// The sent-by host.
    pub host: Host<'a>,
    /// The sent-by port, if written.
    pub port: Option<u16>,
    /// The via-params (`branch`, `received`, `rport`, `maddr`, `ttl`, extensions).
    pub params: Params<'a>,
    /// The sent-by text as written (`host[:port]`).
    pub sent_by: &'a str,
    branch: Option<&'a str>,
    received: Option<IpAddr>,
    rport: Option<Option<u16>>,
}

impl<'a> Via<'a> {
    /// Parses one Via value (not a comma-separated list; see [`crate::Message::vias`]).
    ///
    /// RFC 3261 §25.1: `sent-protocol LWS sent-by *( SEMI via-params )`, where
    /// `sent-protocol = protocol-name SLASH protocol-version SLASH transport` and `SLASH`
    /// allows LWS on both sides (RFC 4475 §3.1.1.1 `SIP  /   2.0 /UDP`).
    pub fn parse(value: &'a str) -> Result<Via<'a>, &'static str> {
        let value = trim_lws(value);
        let (name, rest) = split_at_byte(value, b'/').ok_or("no sent-protocol")?;
        if !trim_lws(name).eq_ignore_ascii_case("SIP") {
            return Err("protocol is not SIP");
        }
        let (version, rest) = split_at_byte(rest, b'/').ok_or("no transport")?;
        // Any version token is kept (RFC 4475 §3.1.2.16: the 505 for a SIP/7.0 request
        // still goes back along its `SIP/7.0/UDP` Via).
        let version = trim_lws(version);
        if !crate::text::is_token(version) {
            return Err("protocol version is not a token");
        }
        let rest = crate::text::trim_lws_start(rest);
        let transport_end = rest
            .bytes()
            .position(|c| !crate::text::is_token_char(c))
            .unwrap_or(rest.len());
        let transport = &rest[..transport_end];
        if transport.is_empty() {
            return Err("no transport");
        }
        let rest = &rest[transport_end..];
        if !rest.starts_with([' ', '\t', '\r', '\n']) {
            return Err("no white space before sent-by");
        }
        let rest = trim_lws(rest);
        // sent-by holds no quotes or brackets, so the first `;` starts the parameters.
        let (sent_by, params) = match memchr::memchr(b';', rest.as_bytes()) {
            Some(i) => (trim_lws(&rest[..i]), &rest[i + 1..]),
            None => (rest, ""),
        };
        let (host, port) = parse_host_port(sent_by)?;
        let params = Params::new(params);
        // One pass over the parameters: check each, and remember the ones the stack reads
        // on every message so the accessors do not scan again.
        let mut branch = None;
        let mut received = None;
        let mut rport = None;
        for param in params.iter() {
            let (name, value) = param.map_err(|_| "malformed parameters")?;
            if !crate::text::is_token(name) {
                return Err("malformed parameters");
            }
            if name.eq_ignore_ascii_case("branch") {
                match value {
                    Some(b) if crate::text::is_token(b) => branch = branch.or(Some(b)),
                    _ => return Err("branch is not a token"),
                }
            } else if name.eq_ignore_ascii_case("received") {
                let ip = value
                    .and_then(|v| v.parse::<IpAddr>().ok())
                    .ok_or("received is not an IP address")?;
                received = received.or(Some(ip));
            } else if name.eq_ignore_ascii_case("rport") {
                let port = match value {
                    None => None,
                    Some(p) => Some(p.parse::<u16>().map_err(|_| "rport is not a port")?),
                };
                rport = rport.or(Some(port));
            } else if name.eq_ignore_ascii_case("ttl")
                && value.and_then(|t| parse_decimal(t, 255)).is_none()
            {
                return Err("ttl is not 0-255");
            }
        }
        Ok(Via {
            version,
            transport,
            host,
            port,
            params,
            sent_by,
            branch,
            received,
            rport,
        })
    }

    /// This Via as offsets into `base`, the text it was parsed from (see [`ViaSpans`]);
    /// `None` when a part lies outside it.
    pub(crate) fn to_spans(self, base: &str) -> Option<ViaSpans> {
        let span = |part: &str| span_in(base, part);
        Some(ViaSpans {
            version: span(self.version)?,
            transport: span(self.transport)?,
            host: match self.host {
                Host::Name(name) => HostSpan::Name(span(name)?),
                Host::V4(ip) => HostSpan::V4(ip),
                Host::V6(ip) => HostSpan::V6(ip),
            },
            port: self.port,
            params: span(self.params.as_str())?,
            sent_by: span(self.sent_by)?,
            branch: match self.branch {
                Some(b) => Some(span(b)?),
                None => None,
            },
            received: self.received,
            rport: self.rport,
        })
    }

    /// The Via that [`Via::to_spans`] gave `spans` for, from the same `base`; no parsing.
    pub(crate) fn from_spans(spans: &ViaSpans, base: &'a str) -> Option<Via<'a>> {
        let text = |s: Span| base.get(s.range());
        Some(Via {
            version: text(spans.version)?,
            transport: text(spans.transport)?,
            host: match spans.host {
                HostSpan::Name(name) => Host::Name(text(name)?),
                HostSpan::V4(ip) => Host::V4(ip),
                HostSpan::V6(ip) => Host::V6(ip),
            },
            port: spans.port,
            params: Params::new(text(spans.params)?),
            sent_by: text(spans.sent_by)?,
            branch: match spans.branch {
                Some(b) => Some(text(b)?),
                None => None,
            },
            received: spans.received,
            rport: spans.rport,
        })
    }

    /// The `branch` parameter (RFC 3261 §8.1.1.7).
    pub fn branch(&self) -> Option<&'a str> {
        self.branch
    }

    /// Whether the branch starts with the RFC 3261 magic cookie (§17.2.3: otherwise RFC 2543
    /// transaction matching applies).
    pub fn has_rfc3261_branch(&self) -> bool {
        self.branch().is_some_and(|b| b.starts_with(MAGIC_COOKIE))
    }

    /// The `received` parameter (RFC 3261 §18.2.1).
    pub fn received(&self) -> Option<IpAddr> {
        self.received
    }

    /// The `rport` parameter (RFC 3581 §4): `None` when absent, `Some(None)` when present
    /// without value (a request asking for it), `Some(Some(port))` when filled in.
    pub fn rport(&self) -> Option<Option<u16>> {
        self.rport
    }

    /// The `maddr` parameter (RFC 3261 §18.2.2).
    pub fn maddr(&self) -> Option<&'a str> {
        self.params.get("maddr").flatten()
    }

    /// The `ttl` parameter.
    pub fn ttl(&self) -> Option<u8> {
        self.params.get("ttl").flatten()?.parse().ok()
    }

    /// Whether the `alias` parameter is present (RFC 5923 §7: `via-alias = "alias"`, a
    /// flag without value): the sender asks the receiver to use this connection for its
    /// requests toward the sent-by (RFC 5923 §8.1). A value written anyway (`alias=x`)
    /// does not count: the grammar allows none.
    pub fn alias(&self) -> bool {
        self.params.get("alias") == Some(None)
    }
}

/// Splits at the first `sep` (an ASCII byte, so both halves stay valid UTF-8).
/// The top Via value a server should pass on for a request that came from `source`, or
/// `None` when it already says all there is to say (RFC 3261 §18.2.1: `received` when the
/// sent-by host is not the source IP; RFC 3581 §4: a bare `rport` is filled in with the
/// source port and then `received` is added even when the host matches). Parameters other
/// than `received` and `rport` are kept in order.
pub fn stamped(via: &Via<'_>, source: std::net::SocketAddr) -> Option<String> {
    let ip = source.ip();
    let host_is_source = match via.host {
        Host::V4(a) => IpAddr::V4(a) == ip,
        Host::V6(a) => IpAddr::V6(a) == ip,
        Host::Name(_) => false,
    };
    let wants_rport = via.rport() == Some(None);
    let needs_received = wants_rport || !host_is_source;
    if !wants_rport && (!needs_received || via.received() == Some(ip)) {
        return None;
    }
    let mut out = format!("SIP/{}/{} {}", via.version, via.transport, via.sent_by);
    for (name, value) in via.params.iter().flatten() {
        if name.eq_ignore_ascii_case("received") || name.eq_ignore_ascii_case("rport") {
            continue;
        }
        out.push(';');
        out.push_str(name);
        if let Some(v) = value {
            out.push('=');
            out.push_str(v);
        }
    }
    if needs_received {
        out.push_str(";received=");
        out.push_str(&ip.to_string());
    }
    if via.rport().is_some() {
        out.push_str(";rport=");
        out.push_str(&source.port().to_string());
    }
    Some(out)
}

fn split_at_byte(s: &str, sep: u8) -> Option<(&str, &str)> {
    let i = memchr::memchr(sep, s.as_bytes())?;
    Some((&s[..i], &s[i + 1..]))
}

/// A parsed [`Via`] kept as offsets into the text it came from: a [`crate::Message`] keeps
/// its top Via this way, parsed at the first read, and hands out [`Via`] views of it
/// without parsing again (the transaction layer, NAT detection, `received` stamping and
/// response routing each read it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ViaSpans {
    version: Span,
    transport: Span,
    host: HostSpan,
    port: Option<u16>,
    params: Span,
    sent_by: Span,
    branch: Option<Span>,
    received: Option<IpAddr>,
    rport: Option<Option<u16>>,
}

/// [`Host`] with a name as offsets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HostSpan {
    Name(Span),
    V4(Ipv4Addr),
    V6(Ipv6Addr),
}

/// Where `part`, a slice of `base`, lies in it; an empty part is the empty span (it may
/// point anywhere). `None` when `part` is not inside `base`.
fn span_in(base: &str, part: &str) -> Option<Span> {
    if part.is_empty() {
        return Some(Span::default());
    }
    let start = (part.as_ptr() as usize).checked_sub(base.as_ptr() as usize)?;
    let end = start.checked_add(part.len())?;
    if end > base.len() {
        return None;
    }
    Some(Span {
        start: u32::try_from(start).ok()?,
        end: u32::try_from(end).ok()?,
    })
}

/// Parses `host [ ":" port ]` with IPv6 references (RFC 3261 §25.1 `hostport`), using the
/// URI module's host rules.
pub fn parse_host_port(s: &str) -> Result<(Host<'_>, Option<u16>), &'static str> {
    let s = trim_lws(s);
    let (host, port) = if s.starts_with('[') {
        let close = s.find(']').ok_or("unterminated IPv6 reference")?;
        let after = &s[close + 1..];
        match after.strip_prefix(':') {
            Some(p) => (&s[..=close], Some(p)),
            None if after.is_empty() => (s, None),
            None => return Err("text after IPv6 reference"),
        }
    } else {
        match memchr::memrchr(b':', s.as_bytes()) {
            Some(c) => (&s[..c], Some(&s[c + 1..])),
            None => (s, None),
        }
    };
    let host = Host::parse(trim_lws(host)).map_err(|_| "bad host")?;
    let port = match port {
        Some(p) => {
            let p = trim_lws(p);
            if p.is_empty() || p.len() > 5 {
                return Err("bad port");
            }
            Some(p.parse::<u16>().map_err(|_| "bad port")?)
        }
        None => None,
    };
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn parses_folded_tortuous_via() {
        let v = Via::parse("SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;branch=390skdjuw").unwrap();
        assert_eq!(v.transport, "UDP");
        assert_eq!(v.host, Host::V4(Ipv4Addr::new(192, 0, 2, 2)));
        assert_eq!(v.branch(), Some("390skdjuw"));
        assert!(!v.has_rfc3261_branch());
    }

    #[test]
    fn parses_params() {
        let v =
            Via::parse("SIP/2.0/TCP [2001:db8::1]:5070;branch=z9hG4bK1;rport=5071;received=192.0.2.9;ttl=16;maddr=224.0.1.75")
                .unwrap();
        assert_eq!(v.port, Some(5070));
        assert_eq!(v.rport(), Some(Some(5071)));
        assert_eq!(v.received(), Some("192.0.2.9".parse().unwrap()));
        assert_eq!(v.ttl(), Some(16));
        assert_eq!(v.maddr(), Some("224.0.1.75"));
        assert!(v.has_rfc3261_branch());
        let v = Via::parse("SIP/2.0/UDP host;rport").unwrap();
        assert_eq!(v.rport(), Some(None));
    }

    #[test]
    fn rejects_garbage() {
        assert!(Via::parse("SIP/2.0/UDP 192.0.2.15;;").is_err());
        assert_eq!(Via::parse("SIP/3.0/UDP host").unwrap().version, "3.0");
        assert!(Via::parse("SIP/2 0/UDP host").is_err());
        assert!(Via::parse("SIP/2.0/UDP").is_err());
        assert!(Via::parse("SIP/2.0/UDP host:99999").is_err());
        assert!(Via::parse("SIP/2.0/UDP 1.2.3.456").is_err());
        assert!(Via::parse("SIP/2.0/UDP host;branch").is_err());
    }

    #[test]
    fn alias_is_a_flag() {
        // RFC 5923 §7: valueless, any case, anywhere among the parameters.
        let v = Via::parse("SIP/2.0/TLS a.example.com:5061;branch=z9hG4bK1;rport;alias").unwrap();
        assert!(v.alias());
        assert_eq!(v.branch(), Some("z9hG4bK1"));
        assert_eq!(v.rport(), Some(None));
        assert!(
            Via::parse("SIP/2.0/TLS a.example.com;ALIAS ;branch=z9hG4bK1")
                .unwrap()
                .alias()
        );
        assert!(!Via::parse("SIP/2.0/TLS a.example.com;branch=z9hG4bK1")
            .unwrap()
            .alias());
        assert!(
            !Via::parse("SIP/2.0/TLS a.example.com;alias=yes;branch=z9hG4bK1")
                .unwrap()
                .alias()
        );
        assert!(
            !Via::parse("SIP/2.0/TLS a.example.com;aliases;branch=z9hG4bK1")
                .unwrap()
                .alias()
        );
    }
}

#[cfg(test)]
mod stamp_tests {
    use super::*;

    #[test]
    fn alias_is_kept_when_stamping() {
        assert_eq!(
            stamped(
                &Via::parse("SIP/2.0/TLS 10.0.0.1:5061;branch=z9hG4bK1;rport;alias").unwrap(),
                "10.0.0.1:40000".parse().unwrap()
            )
            .as_deref(),
            Some("SIP/2.0/TLS 10.0.0.1:5061;branch=z9hG4bK1;alias;received=10.0.0.1;rport=40000")
        );
    }

    fn stamp(value: &str, source: &str) -> Option<String> {
        stamped(&Via::parse(value).unwrap(), source.parse().unwrap())
    }

    #[test]
    fn received_only_when_the_host_differs() {
        assert_eq!(
            stamp("SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1", "10.0.0.1:5060"),
            None
        );
        assert_eq!(
            stamp(
                "SIP/2.0/UDP pc.example.com;branch=z9hG4bK1",
                "192.0.2.9:5060"
            )
            .as_deref(),
            Some("SIP/2.0/UDP pc.example.com;branch=z9hG4bK1;received=192.0.2.9")
        );
        // Already right: nothing to do.
        assert_eq!(
            stamp(
                "SIP/2.0/UDP pc.example.com;branch=z9hG4bK1;received=192.0.2.9",
                "192.0.2.9:5060"
            ),
            None
        );
    }

    #[test]
    fn bare_rport_is_filled_in_with_received() {
        // RFC 3581 §4 example: received is added even though the host is the source.
        assert_eq!(
            stamp(
                "SIP/2.0/UDP 10.0.0.1:5060;rport;branch=z9hG4bKxx",
                "10.0.0.1:9988"
            )
            .as_deref(),
            Some("SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKxx;received=10.0.0.1;rport=9988")
        );
        assert_eq!(
            stamp("SIP/2.0/TCP [2001:db8::9];rport", "[2001:db8::1]:40000").as_deref(),
            Some("SIP/2.0/TCP [2001:db8::9];received=2001:db8::1;rport=40000")
        );
    }
}
