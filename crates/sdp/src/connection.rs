//! The `c=` line: where media goes (RFC 8866 §5.7).
//!
//! Only the Internet (`IN`) network type with IP literals is accepted: `IN IP4 192.0.2.1`,
//! `IN IP6 2001:db8::1`. The multicast suffixes of §5.7 (`/<ttl>[/<count>]` for IP4,
//! `/<count>` for IP6) are kept, and tolerated on unicast addresses too, where some old
//! implementations wrote a TTL. Domain names (allowed by the grammar, unused by SIP phones)
//! are rejected: a relay or phone could not send media to them without a DNS lookup.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::error::LineError;
use crate::origin::addr_type;

/// Connection data: an address with the optional multicast TTL and address count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Connection {
    /// The address media is sent to.
    pub address: IpAddr,
    /// IP4 only: the multicast time-to-live, `/127` in `c=IN IP4 233.252.0.1/127`.
    pub ttl: Option<u8>,
    /// The number of consecutive multicast addresses, `/3` in `233.252.0.1/127/3`.
    pub address_count: Option<u32>,
}

impl Connection {
    /// A plain unicast connection to `address`.
    pub fn new(address: IpAddr) -> Connection {
        Connection {
            address,
            ttl: None,
            address_count: None,
        }
    }

    /// Whether the address is `0.0.0.0` (or `::`): the RFC 2543 way of putting a stream on
    /// hold, still recognised by RFC 3264 §8.4.
    pub fn is_hold_address(&self) -> bool {
        self.address.is_unspecified()
    }

    /// Parses the value of a `c=` line.
    pub fn parse(value: &str) -> Result<Connection, LineError> {
        let mut fields = value.split_ascii_whitespace();
        let (Some(net_type), Some(addr_type), Some(address)) =
            (fields.next(), fields.next(), fields.next())
        else {
            return Err(LineError::BadConnection(
                "needs <nettype> <addrtype> <address>",
            ));
        };
        if fields.next().is_some() {
            return Err(LineError::BadConnection("more than three fields"));
        }
        if !net_type.eq_ignore_ascii_case("IN") {
            return Err(LineError::BadConnection("network type is not IN"));
        }
        let mut parts = address.split('/');
        let host = parts.next().unwrap_or("");
        let first = parts.next().map(parse_suffix).transpose()?;
        let second = parts.next().map(parse_suffix).transpose()?;
        if parts.next().is_some() {
            return Err(LineError::BadConnection("more than two /suffixes"));
        }
        if addr_type.eq_ignore_ascii_case("IP4") {
            let ip: Ipv4Addr = host
                .parse()
                .map_err(|_| LineError::BadConnection("address is not an IPv4 literal"))?;
            let ttl = first
                .map(|t| u8::try_from(t).map_err(|_| LineError::BadConnection("TTL above 255")))
                .transpose()?;
            let c = Connection {
                address: IpAddr::V4(ip),
                ttl,
                address_count: second,
            };
            c.check()?;
            Ok(c)
        } else if addr_type.eq_ignore_ascii_case("IP6") {
            let ip: Ipv6Addr = host
                .parse()
                .map_err(|_| LineError::BadConnection("address is not an IPv6 literal"))?;
            if second.is_some() {
                return Err(LineError::BadConnection(
                    "IP6 has no TTL, one /suffix at most",
                ));
            }
            let c = Connection {
                address: IpAddr::V6(ip),
                ttl: None,
                address_count: first,
            };
            c.check()?;
            Ok(c)
        } else {
            Err(LineError::BadConnection("address type is not IP4 or IP6"))
        }
    }

    /// Checks that the fields can be written as one `c=` line (a TTL only on IP4, counts
    /// above zero).
    pub(crate) fn check(&self) -> Result<(), LineError> {
        if self.ttl.is_some() && self.address.is_ipv6() {
            return Err(LineError::BadConnection("IP6 has no TTL"));
        }
        if self.address_count == Some(0) {
            return Err(LineError::BadConnection("address count is zero"));
        }
        if self.address_count.is_some() && self.address.is_ipv4() && self.ttl.is_none() {
            return Err(LineError::BadConnection("IP4 address count needs a TTL"));
        }
        Ok(())
    }
}

/// Parses one `/<number>` suffix.
fn parse_suffix(text: &str) -> Result<u32, LineError> {
    if !crate::line::is_digits(text) {
        return Err(LineError::BadConnection("/suffix is not a number"));
    }
    let n: u32 = text
        .parse()
        .map_err(|_| LineError::BadConnection("/suffix too large"))?;
    Ok(n)
}

/// Writes the value of the `c=` line (without `c=`): `IN IP4 192.0.2.1`.
impl fmt::Display for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IN {} {}", addr_type(self.address), self.address)?;
        if let Some(ttl) = self.ttl {
            write!(f, "/{ttl}")?;
        }
        if let Some(count) = self.address_count {
            write!(f, "/{count}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unicast_ip4_and_ip6() {
        let c = Connection::parse("IN IP4 10.0.0.16").unwrap();
        assert_eq!(c, Connection::new("10.0.0.16".parse().unwrap()));
        assert_eq!(c.to_string(), "IN IP4 10.0.0.16");
        let c6 = Connection::parse("IN IP6 2001:db8::10").unwrap();
        assert_eq!(c6.address, "2001:db8::10".parse::<IpAddr>().unwrap());
        assert_eq!(c6.to_string(), "IN IP6 2001:db8::10");
    }

    #[test]
    fn multicast_suffixes() {
        let c = Connection::parse("IN IP4 233.252.0.1/127/3").unwrap();
        assert_eq!(c.ttl, Some(127));
        assert_eq!(c.address_count, Some(3));
        assert_eq!(c.to_string(), "IN IP4 233.252.0.1/127/3");
        let c6 = Connection::parse("IN IP6 ff15::101/3").unwrap();
        assert_eq!((c6.ttl, c6.address_count), (None, Some(3)));
        // A legacy TTL on a unicast address is tolerated.
        let legacy = Connection::parse("IN IP4 192.0.2.7/64").unwrap();
        assert_eq!(legacy.ttl, Some(64));
    }

    #[test]
    fn hold_address() {
        assert!(Connection::parse("IN IP4 0.0.0.0")
            .unwrap()
            .is_hold_address());
        assert!(Connection::parse("IN IP6 ::").unwrap().is_hold_address());
        assert!(!Connection::parse("IN IP4 1.2.3.4")
            .unwrap()
            .is_hold_address());
    }

    #[test]
    fn rejects_bad_addresses() {
        let err = |v: &str| Connection::parse(v).unwrap_err();
        assert_eq!(
            err("IN IP4 host.example.com"),
            LineError::BadConnection("address is not an IPv4 literal")
        );
        assert_eq!(
            err("IN IP4 2001:db8::1"),
            LineError::BadConnection("address is not an IPv4 literal")
        );
        assert_eq!(
            err("IN IP6 10.0.0.1"),
            LineError::BadConnection("address is not an IPv6 literal")
        );
        assert_eq!(
            err("IN IP4 300.1.1.1"),
            LineError::BadConnection("address is not an IPv4 literal")
        );
        assert_eq!(
            err("ATM NSAP 47.0005"),
            LineError::BadConnection("network type is not IN")
        );
        assert_eq!(
            err("IN IPX 1.2.3.4"),
            LineError::BadConnection("address type is not IP4 or IP6")
        );
        assert_eq!(
            err("IN IP4"),
            LineError::BadConnection("needs <nettype> <addrtype> <address>")
        );
        assert_eq!(
            err("IN IP4 1.2.3.4/300"),
            LineError::BadConnection("TTL above 255")
        );
        assert_eq!(
            err("IN IP4 1.2.3.4/x"),
            LineError::BadConnection("/suffix is not a number")
        );
        assert_eq!(
            err("IN IP6 ff15::1/0"),
            LineError::BadConnection("address count is zero")
        );
        assert_eq!(
            err("IN IP6 ff15::1/1/2"),
            LineError::BadConnection("IP6 has no TTL, one /suffix at most")
        );
    }
}
