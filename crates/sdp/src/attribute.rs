//! Typed views of the attributes a phone and a relay act on: `rtpmap` and `fmtp` (RFC 8866
//! §6.6, §6.15), `ptime` and `maxptime` (§6.4, §6.5), the direction attributes (§6.7, RFC
//! 3264 §5.1), `rtcp` (RFC 3605) and `crypto` (RFC 4568, in [`crate::crypto`]).
//!
//! The parser checks these attributes when it reads a description, so a description that
//! parsed has only well-formed ones; the views below read them again on demand.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use crate::connection::Connection;
use crate::error::LineError;
use crate::line::{is_digits, is_token, Attribute};

/// The highest RTP payload type number (RFC 3550 §5.1: seven bits).
pub const MAX_PAYLOAD_TYPE: u8 = 127;

/// `a=rtpmap:<payload type> <encoding name>/<clock rate>[/<channels>]` (RFC 8866 §6.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpMap<'a> {
    /// The RTP payload type number the mapping is for (0-127).
    pub payload_type: u8,
    /// The encoding name, e.g. `PCMU`, `telephone-event` (compared case-insensitively).
    pub encoding_name: &'a str,
    /// The RTP clock rate in Hz.
    pub clock_rate: u32,
    /// The encoding parameters: the number of audio channels, when given.
    pub channels: Option<u16>,
}

impl<'a> RtpMap<'a> {
    /// Parses the value of an `a=rtpmap:` attribute.
    pub fn parse(value: &'a str) -> Result<RtpMap<'a>, LineError> {
        let bad = |reason| LineError::attribute("rtpmap", reason);
        let mut fields = value.split_ascii_whitespace();
        let (Some(pt), Some(encoding), None) = (fields.next(), fields.next(), fields.next()) else {
            return Err(bad("needs <payload type> <encoding>/<clock rate>"));
        };
        let payload_type = parse_payload_type(pt).ok_or(bad("payload type is not 0-127"))?;
        let mut parts = encoding.split('/');
        let encoding_name = parts.next().unwrap_or("");
        if !is_token(encoding_name) {
            return Err(bad("encoding name is not a token"));
        }
        let clock_rate = parts
            .next()
            .filter(|r| is_digits(r))
            .and_then(|r| r.parse::<u32>().ok())
            .filter(|&r| r > 0)
            .ok_or(bad("clock rate is not a number 1-4294967295"))?;
        let channels = parts
            .next()
            .map(|c| {
                Some(c)
                    .filter(|c| is_digits(c))
                    .and_then(|c| c.parse::<u16>().ok())
                    .filter(|&c| c > 0)
                    .ok_or(bad("channels is not a number 1-65535"))
            })
            .transpose()?;
        if parts.next().is_some() {
            return Err(bad("more than three /-separated parts"));
        }
        Ok(RtpMap {
            payload_type,
            encoding_name,
            clock_rate,
            channels,
        })
    }

    /// The number of channels, 1 when not given (RFC 8866 §6.6).
    pub fn channel_count(&self) -> u16 {
        self.channels.unwrap_or(1)
    }
}

/// `a=fmtp:<format> <format specific parameters>` (RFC 8866 §6.15).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fmtp<'a> {
    /// The format (payload type number for RTP) the parameters are for.
    pub format: &'a str,
    /// The parameters, as written (e.g. `0-16` for telephone-event, `annexb=no`).
    pub parameters: &'a str,
}

impl<'a> Fmtp<'a> {
    /// Parses the value of an `a=fmtp:` attribute.
    pub fn parse(value: &'a str) -> Result<Fmtp<'a>, LineError> {
        let bad = |reason| LineError::attribute("fmtp", reason);
        let (format, parameters) = value
            .split_once([' ', '\t'])
            .ok_or(bad("needs <format> <parameters>"))?;
        if !is_token(format) {
            return Err(bad("format is not a token"));
        }
        let parameters = parameters.trim_matches([' ', '\t']);
        if parameters.is_empty() {
            return Err(bad("needs <format> <parameters>"));
        }
        Ok(Fmtp { format, parameters })
    }
}

/// `a=rtcp:<port> [IN IP4|IP6 <address>]`: where the peer receives RTCP when it is not the
/// RTP port + 1 or not the RTP address (RFC 3605 §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rtcp {
    /// The RTCP port.
    pub port: u16,
    /// The RTCP address, when it differs from the media's connection address.
    pub address: Option<IpAddr>,
}

impl Rtcp {
    /// Parses the value of an `a=rtcp:` attribute.
    pub fn parse(value: &str) -> Result<Rtcp, LineError> {
        let bad = |reason| LineError::attribute("rtcp", reason);
        let value = value.trim_matches([' ', '\t']);
        let (port, rest) = value.split_once([' ', '\t']).unwrap_or((value, ""));
        let port = parse_port(port).ok_or(bad("port is not a number 0-65535"))?;
        let rest = rest.trim_matches([' ', '\t']);
        let address = if rest.is_empty() {
            None
        } else {
            let c = Connection::parse(rest).map_err(|e| match e {
                LineError::BadConnection(reason) => bad(reason),
                _ => bad("bad address"),
            })?;
            if c.ttl.is_some() || c.address_count.is_some() {
                return Err(bad("address has a /suffix"));
            }
            Some(c.address)
        };
        Ok(Rtcp { port, address })
    }
}

/// Writes the value of the attribute (without `rtcp:`): `53021` or `53021 IN IP4 192.0.2.1`.
impl fmt::Display for Rtcp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.port)?;
        if let Some(address) = self.address {
            write!(f, " {}", Connection::new(address))?;
        }
        Ok(())
    }
}

/// The direction of a media stream, from the point of view of the description's author
/// (RFC 8866 §6.7, RFC 3264 §5.1). Without any direction attribute a stream is `sendrecv`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Direction {
    /// `a=sendrecv`: the author sends and receives.
    #[default]
    SendRecv,
    /// `a=sendonly`: the author only sends (it puts the peer on hold).
    SendOnly,
    /// `a=recvonly`: the author only receives.
    RecvOnly,
    /// `a=inactive`: no media either way.
    Inactive,
}

impl Direction {
    /// The direction named by an attribute (`sendrecv`, `sendonly`, `recvonly`, `inactive`).
    pub fn from_attribute_name(name: &str) -> Option<Direction> {
        match name {
            "sendrecv" => Some(Direction::SendRecv),
            "sendonly" => Some(Direction::SendOnly),
            "recvonly" => Some(Direction::RecvOnly),
            "inactive" => Some(Direction::Inactive),
            _ => None,
        }
    }

    /// The attribute name of this direction.
    pub fn attribute_name(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// The direction that sends when `sends` and receives when `receives`.
    pub fn from_flags(sends: bool, receives: bool) -> Direction {
        match (sends, receives) {
            (true, true) => Direction::SendRecv,
            (true, false) => Direction::SendOnly,
            (false, true) => Direction::RecvOnly,
            (false, false) => Direction::Inactive,
        }
    }

    /// Whether the author sends media.
    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    /// Whether the author receives media.
    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }

    /// The same stream seen from the other end: `sendonly` ↔ `recvonly`.
    pub fn reversed(self) -> Direction {
        Direction::from_flags(self.receives(), self.sends())
    }

    /// What both allow: sends only when both send, receives only when both receive.
    pub fn intersect(self, other: Direction) -> Direction {
        Direction::from_flags(
            self.sends() && other.sends(),
            self.receives() && other.receives(),
        )
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.attribute_name())
    }
}

/// Parses a packet time in milliseconds, `20` or `22.5` (RFC 8866 §6.4
/// `non-zero-int-or-real`), to microsecond precision.
pub fn parse_packet_time(value: &str) -> Option<Duration> {
    let value = value.trim_matches([' ', '\t']);
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    if !is_digits(whole) || whole.len() > 9 || (value.contains('.') && !is_digits(fraction)) {
        return None;
    }
    let millis: u64 = whole.parse().ok()?;
    let mut micros = 0u64;
    let mut scale = 100u64;
    for digit in fraction.bytes().take(3) {
        micros += u64::from(digit - b'0') * scale;
        scale /= 10;
    }
    let total = millis.checked_mul(1000)?.checked_add(micros)?;
    (total > 0).then(|| Duration::from_micros(total))
}

/// Writes a packet time as milliseconds: `20`, or `22.5` when not whole.
pub fn format_packet_time(ptime: Duration) -> String {
    let micros = ptime.as_micros();
    let (millis, rest) = (micros / 1000, micros % 1000);
    if rest == 0 {
        millis.to_string()
    } else {
        format!("{millis}.{rest:03}")
            .trim_end_matches('0')
            .to_owned()
    }
}

/// Parses an RTP payload type number, 0-127.
pub(crate) fn parse_payload_type(text: &str) -> Option<u8> {
    if !is_digits(text) || text.len() > 3 {
        return None;
    }
    text.parse::<u8>().ok().filter(|&pt| pt <= MAX_PAYLOAD_TYPE)
}

/// Parses a port number, 0-65535.
pub(crate) fn parse_port(text: &str) -> Option<u16> {
    if !is_digits(text) {
        return None;
    }
    text.parse().ok()
}

/// Checks the value of an `a=` line: a token name, and a well-formed value for the
/// attributes this crate interprets.
pub(crate) fn check_attribute(text: &str) -> Result<(), LineError> {
    let Attribute { name, value } = Attribute::split(text);
    if !is_token(name) {
        return Err(LineError::attribute(name, "name is not a token"));
    }
    let needs_value = || value.ok_or(LineError::attribute(name, "missing value"));
    match name {
        "rtpmap" => RtpMap::parse(needs_value()?).map(|_| ()),
        "fmtp" => Fmtp::parse(needs_value()?).map(|_| ()),
        "rtcp" => Rtcp::parse(needs_value()?).map(|_| ()),
        "crypto" => crate::crypto::Crypto::parse(needs_value()?).map(|_| ()),
        "ptime" | "maxptime" => parse_packet_time(needs_value()?)
            .map(|_| ())
            .ok_or(LineError::attribute(name, "not a positive number of ms")),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtpmap_forms() {
        let m = RtpMap::parse("0 PCMU/8000").unwrap();
        assert_eq!(
            (m.payload_type, m.encoding_name, m.clock_rate, m.channels),
            (0, "PCMU", 8000, None)
        );
        assert_eq!(m.channel_count(), 1);
        let opus = RtpMap::parse("96 opus/48000/2").unwrap();
        assert_eq!(opus.channels, Some(2));
        assert!(RtpMap::parse("0 PCMU/8000 ").is_ok());
        for bad in [
            "128 x/8000",
            "a PCMU/8000",
            "0 PCMU",
            "0 PCMU/0",
            "0 PCMU/8000/0",
            "0 PCMU/8000/1/1",
            "0",
            "0 /8000",
            "0 PCMU/8000 extra",
        ] {
            assert!(RtpMap::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn fmtp_forms() {
        let f = Fmtp::parse("101 0-16").unwrap();
        assert_eq!((f.format, f.parameters), ("101", "0-16"));
        let g = Fmtp::parse("96 profile-level-id=42e01f; packetization-mode=1").unwrap();
        assert_eq!(
            g.parameters,
            "profile-level-id=42e01f; packetization-mode=1"
        );
        assert!(Fmtp::parse("101").is_err());
        assert!(Fmtp::parse("101 ").is_err());
    }

    #[test]
    fn rtcp_forms() {
        assert_eq!(
            Rtcp::parse("53020").unwrap(),
            Rtcp {
                port: 53020,
                address: None
            }
        );
        let r = Rtcp::parse("53020 IN IP4 126.16.64.4").unwrap();
        assert_eq!(r.address, Some("126.16.64.4".parse().unwrap()));
        assert_eq!(r.to_string(), "53020 IN IP4 126.16.64.4");
        let r6 = Rtcp::parse("9 IN IP6 2001:db8::1").unwrap();
        assert_eq!(r6.to_string(), "9 IN IP6 2001:db8::1");
        assert!(Rtcp::parse("x").is_err());
        assert!(Rtcp::parse("70000").is_err());
        assert!(Rtcp::parse("5000 IN IP4").is_err());
        assert!(Rtcp::parse("5000 IN IP4 233.252.0.1/127").is_err());
    }

    #[test]
    fn direction_algebra() {
        use Direction::*;
        for d in [SendRecv, SendOnly, RecvOnly, Inactive] {
            assert_eq!(Direction::from_attribute_name(d.attribute_name()), Some(d));
            assert_eq!(d.reversed().reversed(), d);
            assert_eq!(d.intersect(SendRecv), d);
            assert_eq!(d.intersect(Inactive), Inactive);
        }
        assert_eq!(SendOnly.reversed(), RecvOnly);
        assert_eq!(Inactive.reversed(), Inactive);
        assert_eq!(SendOnly.intersect(RecvOnly), Inactive);
        assert_eq!(Direction::default(), SendRecv);
        assert_eq!(Direction::from_attribute_name("sendrecv "), None);
    }

    #[test]
    fn packet_times() {
        assert_eq!(parse_packet_time("20"), Some(Duration::from_millis(20)));
        assert_eq!(
            parse_packet_time("22.5"),
            Some(Duration::from_micros(22_500))
        );
        assert_eq!(parse_packet_time("0.125"), Some(Duration::from_micros(125)));
        for bad in ["0", "0.0", "", "x", "-20", "20.", ".5", "1e3", "9999999999"] {
            assert_eq!(parse_packet_time(bad), None, "{bad}");
        }
        assert_eq!(format_packet_time(Duration::from_millis(20)), "20");
        assert_eq!(format_packet_time(Duration::from_micros(22_500)), "22.5");
        assert_eq!(format_packet_time(Duration::from_micros(125)), "0.125");
    }

    #[test]
    fn known_attributes_are_checked() {
        assert!(check_attribute("rtpmap:0 PCMU/8000").is_ok());
        assert!(check_attribute("x-anything:goes here").is_ok());
        assert!(check_attribute("sendrecv").is_ok());
        assert_eq!(
            check_attribute("rtpmap"),
            Err(LineError::attribute("rtpmap", "missing value"))
        );
        assert_eq!(
            check_attribute("ptime:abc"),
            Err(LineError::attribute("ptime", "not a positive number of ms"))
        );
        assert_eq!(
            check_attribute(":x"),
            Err(LineError::attribute("", "name is not a token"))
        );
        assert!(check_attribute("rtcp:1 IN IP4 x").is_err());
    }
}
