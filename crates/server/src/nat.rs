//! The NAT test of the seed's `ser.cfg` (`nat_uac_test`, seed 000 §7.5): does a request
//! come from behind a NAT? The registrar stores the answer with each binding (the NAT flag
//! of `itsp ul show`); NAT traversal (keepalives, contact rewriting, the RTP relay) reads it.

use std::net::{IpAddr, SocketAddr};

use sip::uri::Host;
use sip::Message;

/// Whether the request looks sent from behind a NAT, by Kamailio's `nat_uac_test` checks:
/// the top Via's sent-by address is not the packet's source (flag 2, and flag 16 for the
/// port over UDP), or a Contact points into private address space (RFC 1918, RFC 6598
/// shared space, IPv6 unique-local; flag 1) while the packet does not come from there.
pub fn behind_nat(request: &Message, source: SocketAddr, datagram: bool) -> bool {
    if let Ok(via) = request.top_via() {
        let via_ip = match via.host {
            Host::V4(a) => Some(IpAddr::V4(a)),
            Host::V6(a) => Some(IpAddr::V6(a)),
            Host::Name(_) => None,
        };
        if via_ip.is_some_and(|ip| ip != source.ip()) {
            return true;
        }
        if datagram && via.port.unwrap_or(5060) != source.port() {
            return true;
        }
    }
    let source_private = is_private(source.ip());
    request.contacts().flatten().any(|c| {
        c.addr()
            .and_then(|a| a.parsed_uri().ok())
            .and_then(|u| match u {
                sip::Uri::Sip(s) => Some(match s.host {
                    Host::V4(a) => is_private(IpAddr::V4(a)),
                    Host::V6(a) => is_private(IpAddr::V6(a)),
                    Host::Name(_) => false,
                }),
                _ => None,
            })
            .unwrap_or(false)
            && !source_private
    })
}

/// Private address space: RFC 1918, RFC 6598 (carrier-grade NAT), RFC 4193 (IPv6 ULA).
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => {
            let o = a.octets();
            a.is_private() || (o[0] == 100 && (64..128).contains(&o[1]))
        }
        IpAddr::V6(a) => (a.segments()[0] & 0xfe00) == 0xfc00,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn register(via: &str, contact: &str) -> Message {
        Message::parse(format!(
            "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP {via};branch=z9hG4bK1\r\n\
From: <sip:a@example.com>;tag=1\r\nTo: <sip:a@example.com>\r\nCall-ID: c\r\n\
CSeq: 1 REGISTER\r\nContact: <{contact}>\r\nContent-Length: 0\r\n\r\n"
        ))
        .unwrap()
    }

    #[test]
    fn nat_is_seen_in_via_port_and_contact() {
        let src: SocketAddr = "203.0.113.5:5060".parse().unwrap();
        let direct = register("203.0.113.5:5060", "sip:a@203.0.113.5:5060");
        assert!(!behind_nat(&direct, src, true));
        // Via written with the private address the phone knows.
        let natted = register("192.168.1.20:5060", "sip:a@192.168.1.20:5060");
        assert!(behind_nat(&natted, src, true));
        // The NAT kept the IP but changed the port: only datagrams tell.
        let port = register("203.0.113.5:5062", "sip:a@203.0.113.5:5062");
        assert!(behind_nat(&port, src, true));
        // Over TCP the source port is the connection's: not a sign of NAT.
        assert!(!behind_nat(
            &port,
            "203.0.113.5:40000".parse().unwrap(),
            false
        ));
        // A private Contact from a public source.
        let contact = register("203.0.113.5:5060", "sip:a@10.1.2.3:5060");
        assert!(behind_nat(&contact, src, true));
        // All on one private LAN: no NAT.
        let lan = register("10.1.2.3:5060", "sip:a@10.1.2.3:5060");
        assert!(!behind_nat(&lan, "10.1.2.3:5060".parse().unwrap(), true));
    }

    #[test]
    fn private_ranges() {
        for ip in [
            "10.0.0.1",
            "172.16.0.1",
            "192.168.0.1",
            "100.64.0.1",
            "fd00::1",
        ] {
            assert!(is_private(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "100.128.0.1", "2001:db8::1", "127.0.0.1"] {
            assert!(!is_private(ip.parse().unwrap()), "{ip}");
        }
    }
}
