//! The RFC 3263 §4 decision table: from a `sip:` URI to the lookups to make. Pure: no DNS.

use std::net::{IpAddr, SocketAddr};

use sip::uri::{Host, SipUri};
use transport::Protocol;

use crate::LocateError;

/// The default port of `sip:` over UDP and TCP (RFC 3261 §19.1.2, RFC 3263 §4.2).
pub const DEFAULT_PORT: u16 = 5060;

/// What [`plan()`] decided to look up for a URI (RFC 3263 §4.1 and §4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan<'a> {
    /// The target is a numeric IP address: no DNS at all. The transport is the `transport`
    /// parameter or UDP, the port the URI's or 5060 (§4.1, §4.2 first paragraph).
    Address {
        /// The transport.
        protocol: Protocol,
        /// The address and port.
        addr: SocketAddr,
    },
    /// A host name with an explicit port: A/AAAA only, no NAPTR or SRV; every address at
    /// that port over the `transport` parameter or UDP (§4.1 "if no transport ... but a port",
    /// §4.2 second paragraph).
    Host {
        /// The host name.
        name: &'a str,
        /// The transport.
        protocol: Protocol,
        /// The port from the URI.
        port: u16,
    },
    /// A host name with a `transport` parameter and no port: SRV for that transport, then
    /// (no SRV records) A/AAAA at 5060 (§4.2 third paragraph).
    Srv {
        /// The host name.
        name: &'a str,
        /// The transport asked for.
        protocol: Protocol,
    },
    /// A host name alone: NAPTR, then SRV `_sip._udp` and `_sip._tcp`, then A/AAAA at 5060
    /// over UDP (§4.1 NAPTR paragraphs, §4.2).
    Naptr {
        /// The host name.
        name: &'a str,
    },
}

/// RFC 3263 §4: the lookups for `uri`.
///
/// - the target is the `maddr` parameter if present, else the host (§4 "TARGET");
/// - `sips:` and `transport=tls` are [`LocateError::Unsupported`] (no TLS yet), and so is any
///   transport other than `udp` and `tcp` (compared case-insensitively);
/// - then [`Plan::Address`], [`Plan::Host`], [`Plan::Srv`] or [`Plan::Naptr`] as documented
///   on each.
pub fn plan<'a>(uri: &SipUri<'a>) -> Result<Plan<'a>, LocateError> {
    if uri.secure {
        return Err(LocateError::Unsupported(
            "sips: (TLS is not implemented yet)".into(),
        ));
    }
    let host = match uri.param("maddr") {
        None => uri.host,
        Some(value) => uri
            .maddr()
            .ok_or_else(|| LocateError::BadMaddr(value.unwrap_or_default().to_owned()))?,
    };
    let protocol = match uri.transport() {
        None => None,
        Some(t) if t.eq_ignore_ascii_case("udp") => Some(Protocol::Udp),
        Some(t) if t.eq_ignore_ascii_case("tcp") => Some(Protocol::Tcp),
        Some(t) if t.eq_ignore_ascii_case("tls") => {
            return Err(LocateError::Unsupported(
                "transport=tls (TLS is not implemented yet)".into(),
            ))
        }
        Some(t) => return Err(LocateError::Unsupported(format!("transport={t}"))),
    };
    let ip = match host {
        Host::V4(ip) => IpAddr::V4(ip),
        Host::V6(ip) => IpAddr::V6(ip),
        Host::Name(name) => {
            return Ok(match (uri.port, protocol) {
                (Some(port), protocol) => Plan::Host {
                    name,
                    protocol: protocol.unwrap_or(Protocol::Udp),
                    port,
                },
                (None, Some(protocol)) => Plan::Srv { name, protocol },
                (None, None) => Plan::Naptr { name },
            })
        }
    };
    Ok(Plan::Address {
        protocol: protocol.unwrap_or(Protocol::Udp),
        addr: SocketAddr::new(ip, uri.port.unwrap_or(DEFAULT_PORT)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sip::uri::Uri;

    fn plan_of(text: &str) -> Result<Plan<'_>, LocateError> {
        let Ok(Uri::Sip(uri)) = Uri::parse(text) else {
            panic!("not a sip URI: {text}");
        };
        plan(&uri)
    }

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn numeric_ip_needs_no_dns() {
        use Protocol::*;
        let cases = [
            ("sip:bob@192.0.2.1", Udp, "192.0.2.1:5060"),
            ("sip:bob@192.0.2.1:5070", Udp, "192.0.2.1:5070"),
            ("sip:bob@192.0.2.1;transport=tcp", Tcp, "192.0.2.1:5060"),
            (
                "sip:bob@192.0.2.1:5070;transport=TCP",
                Tcp,
                "192.0.2.1:5070",
            ),
            ("sip:bob@[2001:db8::1]", Udp, "[2001:db8::1]:5060"),
            (
                "sip:bob@[2001:db8::1]:5062;transport=udp",
                Udp,
                "[2001:db8::1]:5062",
            ),
        ];
        for (uri, protocol, a) in cases {
            assert_eq!(
                plan_of(uri),
                Ok(Plan::Address {
                    protocol,
                    addr: addr(a)
                }),
                "{uri}"
            );
        }
    }

    #[test]
    fn host_names() {
        use Protocol::*;
        let cases = [
            // explicit port: A/AAAA only, UDP unless told
            (
                "sip:bob@example.com:5080",
                Plan::Host {
                    name: "example.com",
                    protocol: Udp,
                    port: 5080,
                },
            ),
            (
                "sip:bob@example.com:5060;transport=tcp",
                Plan::Host {
                    name: "example.com",
                    protocol: Tcp,
                    port: 5060,
                },
            ),
            // transport, no port: SRV for that transport
            (
                "sip:bob@example.com;transport=tcp",
                Plan::Srv {
                    name: "example.com",
                    protocol: Tcp,
                },
            ),
            (
                "sip:bob@example.com;transport=UDP",
                Plan::Srv {
                    name: "example.com",
                    protocol: Udp,
                },
            ),
            // neither: NAPTR
            (
                "sip:bob@Example.COM",
                Plan::Naptr {
                    name: "Example.COM",
                },
            ),
            (
                "sip:example.com.",
                Plan::Naptr {
                    name: "example.com.",
                },
            ),
        ];
        for (uri, want) in cases {
            assert_eq!(plan_of(uri), Ok(want), "{uri}");
        }
    }

    #[test]
    fn maddr_overrides_the_host() {
        assert_eq!(
            plan_of("sip:bob@example.com;maddr=192.0.2.9"),
            Ok(Plan::Address {
                protocol: Protocol::Udp,
                addr: addr("192.0.2.9:5060")
            })
        );
        // the port and transport still come from the URI
        assert_eq!(
            plan_of("sip:bob@192.0.2.1:5070;transport=tcp;maddr=proxy.example.net"),
            Ok(Plan::Host {
                name: "proxy.example.net",
                protocol: Protocol::Tcp,
                port: 5070
            })
        );
        assert_eq!(
            plan_of("sip:bob@192.0.2.1;maddr=proxy.example.net"),
            Ok(Plan::Naptr {
                name: "proxy.example.net"
            })
        );
        assert!(matches!(
            plan_of("sip:bob@example.com;maddr=-bad-"),
            Err(LocateError::BadMaddr(m)) if m == "-bad-"
        ));
    }

    #[test]
    fn unsupported() {
        for uri in [
            "sips:bob@example.com",
            "sips:bob@192.0.2.1:5061",
            "sip:bob@example.com;transport=tls",
            "sip:bob@example.com;transport=sctp",
            "sip:bob@192.0.2.1;transport=ws",
        ] {
            let err = plan_of(uri).unwrap_err();
            assert!(matches!(err, LocateError::Unsupported(_)), "{uri}: {err:?}");
        }
        assert_eq!(
            plan_of("sips:bob@example.com").unwrap_err().to_string(),
            "sips: (TLS is not implemented yet) not supported"
        );
    }
}
