//! The RFC 3263 §4 decision table: from a `sip:` URI to the lookups to make. Pure: no DNS.

use std::net::{IpAddr, SocketAddr};

use sip::uri::{Host, SipUri};
use transport::Protocol;

use crate::LocateError;

/// The default port of `sip:` over UDP and TCP (RFC 3261 §19.1.2, RFC 3263 §4.2); TLS's
/// is 5061 ([`Protocol::default_port`]).
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
    /// over UDP (§4.1 NAPTR paragraphs, §4.2); for a `sips:` URI only the TLS choices:
    /// NAPTR `SIPS+D2T`, SRV `_sips._tcp`, A/AAAA at 5061 over TLS.
    Naptr {
        /// The host name.
        name: &'a str,
        /// A `sips:` URI: TLS only.
        secure: bool,
    },
}

/// RFC 3263 §4: the lookups for `uri`.
///
/// - the target is the `maddr` parameter if present, else the host (§4 "TARGET");
/// - `sips:` URIs and `transport=tls` are reached over TLS (RFC 3261 §26.2.2; a `sips:`
///   URI with `transport=udp` is [`LocateError::Unsupported`], as is any transport
///   other than `udp`, `tcp` and `tls`, compared case-insensitively); the default port is
///   the transport's ([`Protocol::default_port`]);
/// - then [`Plan::Address`], [`Plan::Host`], [`Plan::Srv`] or [`Plan::Naptr`] as documented
///   on each.
pub fn plan<'a>(uri: &SipUri<'a>) -> Result<Plan<'a>, LocateError> {
    let host = match uri.param("maddr") {
        None => uri.host,
        Some(value) => uri
            .maddr()
            .ok_or_else(|| LocateError::BadMaddr(value.unwrap_or_default().to_owned()))?,
    };
    let protocol = match uri.transport() {
        None => None,
        Some(t) => match t.parse::<Protocol>() {
            Ok(Protocol::Udp) if uri.secure => {
                return Err(LocateError::Unsupported("sips: over udp".into()))
            }
            // RFC 7118 §5: a WebSocket client is reached only on its own connection.
            Ok(Protocol::Ws | Protocol::Wss) => {
                return Err(LocateError::Unsupported(format!("transport={t}")))
            }
            // A sips: URI over TCP is TLS (RFC 3261 §26.2.2).
            Ok(_) if uri.secure => Some(Protocol::Tls),
            Ok(protocol) => Some(protocol),
            Err(_) => return Err(LocateError::Unsupported(format!("transport={t}"))),
        },
    };
    // Without a transport parameter, the transport a sips: URI is reached over.
    let implied = if uri.secure {
        Protocol::Tls
    } else {
        Protocol::Udp
    };
    let ip = match host {
        Host::V4(ip) => IpAddr::V4(ip),
        Host::V6(ip) => IpAddr::V6(ip),
        Host::Name(name) => {
            return Ok(match (uri.port, protocol) {
                (Some(port), protocol) => Plan::Host {
                    name,
                    protocol: protocol.unwrap_or(implied),
                    port,
                },
                (None, Some(protocol)) => Plan::Srv { name, protocol },
                (None, None) => Plan::Naptr {
                    name,
                    secure: uri.secure,
                },
            })
        }
    };
    let protocol = protocol.unwrap_or(implied);
    Ok(Plan::Address {
        protocol,
        addr: SocketAddr::new(ip, uri.port.unwrap_or(protocol.default_port())),
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
                    secure: false,
                },
            ),
            (
                "sip:example.com.",
                Plan::Naptr {
                    name: "example.com.",
                    secure: false,
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
                name: "proxy.example.net",
                secure: false,
            })
        );
        assert!(matches!(
            plan_of("sip:bob@example.com;maddr=-bad-"),
            Err(LocateError::BadMaddr(m)) if m == "-bad-"
        ));
    }

    #[test]
    fn sips_and_transport_tls_go_over_tls_at_5061() {
        use Protocol::*;
        assert_eq!(
            plan_of("sips:bob@192.0.2.1"),
            Ok(Plan::Address {
                protocol: Tls,
                addr: addr("192.0.2.1:5061")
            })
        );
        assert_eq!(
            plan_of("sip:bob@192.0.2.1;transport=TLS"),
            Ok(Plan::Address {
                protocol: Tls,
                addr: addr("192.0.2.1:5061")
            })
        );
        assert_eq!(
            plan_of("sips:bob@example.com;transport=tcp"),
            Ok(Plan::Srv {
                name: "example.com",
                protocol: Tls
            })
        );
        assert_eq!(
            plan_of("sips:bob@example.com:5071"),
            Ok(Plan::Host {
                name: "example.com",
                protocol: Tls,
                port: 5071
            })
        );
        assert_eq!(
            plan_of("sips:bob@example.com"),
            Ok(Plan::Naptr {
                name: "example.com",
                secure: true
            })
        );
    }

    #[test]
    fn unsupported() {
        for uri in [
            "sips:bob@example.com;transport=udp",
            "sip:bob@example.com;transport=sctp",
            "sip:bob@192.0.2.1;transport=ws",
        ] {
            let err = plan_of(uri).unwrap_err();
            assert!(matches!(err, LocateError::Unsupported(_)), "{uri}: {err:?}");
        }
        assert_eq!(
            plan_of("sips:bob@example.com;transport=udp")
                .unwrap_err()
                .to_string(),
            "sips: over udp not supported"
        );
    }
}
