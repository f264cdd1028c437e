//! Media sections: the `m=` line (RFC 8866 §5.14) and the `i=`, `c=`, `b=`, `k=` and `a=`
//! lines that follow it, with typed views of the attributes.

use std::fmt;
use std::time::Duration;

use crate::attribute::{
    parse_packet_time, parse_payload_type, parse_port, Direction, Fmtp, Rtcp, RtpMap,
};
use crate::connection::Connection;
use crate::crypto::{Crypto, SECURE_AUDIO_PROTO};
use crate::error::{LineError, SdpError};
use crate::line::{self, is_digits, is_token, Attribute, Line};

/// An `m=<media> <port>[/<count>] <proto> <fmt> ...` line (RFC 8866 §5.14).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaLine {
    /// The media type: `audio`, `video`, `text`, `application`, `message`, `image`.
    pub media: String,
    /// The transport port; 0 marks a rejected or disabled stream (RFC 3264 §6, §8.2).
    pub port: u16,
    /// The number of ports, for hierarchically encoded streams (`49170/2`).
    pub port_count: Option<u16>,
    /// The transport protocol: `RTP/AVP`, `RTP/SAVP`, `udptl`, ...
    pub proto: String,
    /// The media formats: RTP payload type numbers for RTP transports, at least one.
    pub formats: Vec<String>,
}

impl MediaLine {
    /// Parses the value of an `m=` line. Fields are separated by spaces; extra spaces are
    /// tolerated.
    pub fn parse(value: &str) -> Result<MediaLine, LineError> {
        let mut fields = value.split_ascii_whitespace();
        let media = fields
            .next()
            .ok_or(LineError::BadMedia("missing media type"))?;
        if !is_token(media) {
            return Err(LineError::BadMedia("media type is not a token"));
        }
        let port_field = fields.next().ok_or(LineError::BadMedia("missing port"))?;
        let (port, count) = match port_field.split_once('/') {
            Some((port, count)) => (port, Some(count)),
            None => (port_field, None),
        };
        let port = parse_port(port).ok_or(LineError::BadMedia("port is not a number 0-65535"))?;
        let port_count = count
            .map(|c| {
                Some(c)
                    .filter(|c| is_digits(c))
                    .and_then(|c| c.parse::<u16>().ok())
                    .filter(|&c| c > 0)
                    .ok_or(LineError::BadMedia("port count is not a number 1-65535"))
            })
            .transpose()?;
        let proto = fields
            .next()
            .ok_or(LineError::BadMedia("missing transport"))?;
        if !proto.split('/').all(is_token) {
            return Err(LineError::BadMedia("transport is not <token>[/<token>...]"));
        }
        let formats: Vec<String> = fields.map(str::to_owned).collect();
        if formats.is_empty() {
            return Err(LineError::BadMedia("no formats"));
        }
        if is_rtp_proto(proto) {
            if formats.iter().any(|f| parse_payload_type(f).is_none()) {
                return Err(LineError::BadMedia("payload type is not a number 0-127"));
            }
        } else if !formats.iter().all(|f| is_token(f)) {
            return Err(LineError::BadMedia("format is not a token"));
        }
        Ok(MediaLine {
            media: media.to_owned(),
            port,
            port_count,
            proto: proto.to_owned(),
            formats,
        })
    }

    /// Whether the transport carries RTP (`RTP/AVP`, `RTP/SAVPF`, `UDP/TLS/RTP/SAVPF`, ...),
    /// whose formats are payload type numbers.
    pub fn is_rtp(&self) -> bool {
        is_rtp_proto(&self.proto)
    }
}

/// Writes the value of the `m=` line (without `m=`).
impl fmt::Display for MediaLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.media, self.port)?;
        if let Some(count) = self.port_count {
            write!(f, "/{count}")?;
        }
        write!(f, " {}", self.proto)?;
        for format in &self.formats {
            write!(f, " {format}")?;
        }
        Ok(())
    }
}

/// Whether a transport protocol name carries RTP: one of its `/` parts is `RTP`.
fn is_rtp_proto(proto: &str) -> bool {
    proto.split('/').any(|p| p.eq_ignore_ascii_case("RTP"))
}

/// One media section: its `m=` line and the lines after it, kept as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaDescription {
    /// The typed `m=` line; always what `m_value` parses to.
    pub(crate) m: MediaLine,
    /// The `m=` value as written.
    pub(crate) m_value: String,
    /// The lines after the `m=` line.
    pub(crate) lines: Vec<Line>,
}

impl MediaDescription {
    /// A media section with just its `m=` line. Fails when the fields cannot be written as
    /// an `m=` line that parses back to them (bad tokens, no formats, a payload type above
    /// 127 on RTP).
    pub fn new(m: MediaLine) -> Result<MediaDescription, SdpError> {
        let m_value = m.to_string();
        line::check_value(&m_value).map_err(SdpError::Invalid)?;
        let reparsed = MediaLine::parse(&m_value).map_err(SdpError::Invalid)?;
        if reparsed != m {
            return Err(SdpError::Invalid(LineError::BadMedia(
                "fields do not survive serialization",
            )));
        }
        Ok(MediaDescription {
            m,
            m_value,
            lines: Vec::new(),
        })
    }

    /// A section from a parsed `m=` line.
    pub(crate) fn parsed(m: MediaLine, m_value: &str) -> MediaDescription {
        MediaDescription {
            m,
            m_value: m_value.to_owned(),
            lines: Vec::new(),
        }
    }

    /// The typed `m=` line.
    pub fn media_line(&self) -> &MediaLine {
        &self.m
    }

    /// The media type (`audio`, `video`, ...).
    pub fn media_type(&self) -> &str {
        &self.m.media
    }

    /// The transport port; 0 for a rejected or disabled stream.
    pub fn port(&self) -> u16 {
        self.m.port
    }

    /// The transport protocol (`RTP/AVP`, ...).
    pub fn proto(&self) -> &str {
        &self.m.proto
    }

    /// The formats of the `m=` line, in the author's order of preference (RFC 3264 §5.1).
    pub fn formats(&self) -> &[String] {
        &self.m.formats
    }

    /// The RTP payload type numbers of the `m=` line, in order; empty when the transport is
    /// not RTP.
    pub fn payload_types(&self) -> impl Iterator<Item = u8> + '_ {
        let rtp = self.m.is_rtp();
        self.m
            .formats
            .iter()
            .filter_map(move |f| if rtp { parse_payload_type(f) } else { None })
    }

    /// The lines after the `m=` line, as written.
    pub fn lines(&self) -> &[Line] {
        &self.lines
    }

    /// The section's own connection (its first `c=` line); see
    /// [`crate::SessionDescription::media_connection`] for the fallback to the session's.
    pub fn connection(&self) -> Option<Connection> {
        self.lines
            .iter()
            .filter(|l| l.kind_byte() == b'c')
            .find_map(|l| Connection::parse(l.value()).ok())
    }

    /// The attributes of the section, in order.
    pub fn attributes(&self) -> impl Iterator<Item = Attribute<'_>> {
        line::attributes(&self.lines)
    }

    /// The first attribute named `name` (names compare exactly, RFC 8866 §5.13).
    pub fn attribute(&self, name: &str) -> Option<Attribute<'_>> {
        self.attributes().find(|a| a.name == name)
    }

    /// Whether an attribute named `name` is present.
    pub fn has_attribute(&self, name: &str) -> bool {
        self.attribute(name).is_some()
    }

    /// The `a=rtpmap` attributes, in order.
    pub fn rtpmaps(&self) -> impl Iterator<Item = RtpMap<'_>> {
        self.attributes()
            .filter(|a| a.name == "rtpmap")
            .filter_map(|a| a.value.and_then(|v| RtpMap::parse(v).ok()))
    }

    /// The `a=rtpmap` of payload type `payload_type`.
    pub fn rtpmap(&self, payload_type: u8) -> Option<RtpMap<'_>> {
        self.rtpmaps().find(|m| m.payload_type == payload_type)
    }

    /// The `a=fmtp` attributes, in order.
    pub fn fmtps(&self) -> impl Iterator<Item = Fmtp<'_>> {
        self.attributes()
            .filter(|a| a.name == "fmtp")
            .filter_map(|a| a.value.and_then(|v| Fmtp::parse(v).ok()))
    }

    /// The format parameters of `format` (`a=fmtp:<format> <parameters>`).
    pub fn fmtp(&self, format: &str) -> Option<&str> {
        self.fmtps()
            .find(|f| f.format == format)
            .map(|f| f.parameters)
    }

    /// `a=ptime`: the packet time the author wants to receive (RFC 8866 §6.4).
    pub fn ptime(&self) -> Option<Duration> {
        self.attribute("ptime")
            .and_then(|a| a.value)
            .and_then(parse_packet_time)
    }

    /// `a=maxptime`: the longest packet time the author accepts (RFC 8866 §6.5).
    pub fn maxptime(&self) -> Option<Duration> {
        self.attribute("maxptime")
            .and_then(|a| a.value)
            .and_then(parse_packet_time)
    }

    /// The section's own direction attribute, if any (RFC 8866 §6.7); see
    /// [`crate::SessionDescription::media_direction`] for the effective direction.
    pub fn direction_attribute(&self) -> Option<Direction> {
        direction_in(&self.lines)
    }

    /// `a=rtcp` (RFC 3605).
    pub fn rtcp(&self) -> Option<Rtcp> {
        self.attribute("rtcp")
            .and_then(|a| a.value)
            .and_then(|v| Rtcp::parse(v).ok())
    }

    /// The `a=crypto` attributes (RFC 4568 §9.1), in order.
    pub fn cryptos(&self) -> impl Iterator<Item = Crypto> + '_ {
        self.attributes()
            .filter(|a| a.name == "crypto")
            .filter_map(|a| a.value.and_then(|v| Crypto::parse(v).ok()))
    }

    /// Whether the section is an SRTP stream: its transport is `RTP/SAVP` (RFC 4568).
    pub fn is_srtp(&self) -> bool {
        self.proto().eq_ignore_ascii_case(SECURE_AUDIO_PROTO)
    }

    /// `a=rtcp-mux`: RTP and RTCP share one port (RFC 5761 §5.1.1).
    pub fn rtcp_mux(&self) -> bool {
        self.has_attribute("rtcp-mux")
    }

    /// Whether the section carries ICE attributes (`a=ice-ufrag`, `a=ice-pwd`,
    /// `a=candidate`, ...; RFC 8839 §5).
    pub fn uses_ice(&self) -> bool {
        self.attributes().any(|a| is_ice_attribute(a.name))
    }
}

/// The first direction attribute among `lines`.
pub(crate) fn direction_in(lines: &[Line]) -> Option<Direction> {
    line::attributes(lines).find_map(|a| Direction::from_attribute_name(a.name))
}

/// Whether an attribute name belongs to ICE (RFC 8839 §5: `candidate`, `remote-candidates`,
/// `ice-lite`, `ice-mismatch`, `ice-ufrag`, `ice-pwd`, `ice-options`, `ice-pacing`, ...).
pub(crate) fn is_ice_attribute(name: &str) -> bool {
    name.starts_with("ice-") || name == "candidate" || name == "remote-candidates"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(m: &str, lines: &[&str]) -> MediaDescription {
        let mut s = MediaDescription::parsed(MediaLine::parse(m).unwrap(), m);
        for l in lines {
            let (kind, value) = line::split_type(l).unwrap();
            s.lines.push(Line::new(kind, value.to_owned()));
        }
        s
    }

    #[test]
    fn media_line_fields() {
        let m = MediaLine::parse("audio 8000 RTP/AVP 0 8 3 98 101").unwrap();
        assert_eq!(m.media, "audio");
        assert_eq!(m.port, 8000);
        assert_eq!(m.port_count, None);
        assert_eq!(m.proto, "RTP/AVP");
        assert_eq!(m.formats, ["0", "8", "3", "98", "101"]);
        assert!(m.is_rtp());
        let v = MediaLine::parse("video 49170/2 RTP/AVP 31").unwrap();
        assert_eq!(v.port_count, Some(2));
        assert_eq!(v.to_string(), "video 49170/2 RTP/AVP 31");
        let fax = MediaLine::parse("image 5004 udptl t38").unwrap();
        assert!(!fax.is_rtp());
        assert!(MediaLine::parse("audio 9 UDP/TLS/RTP/SAVPF 111")
            .unwrap()
            .is_rtp());
    }

    #[test]
    fn media_line_errors() {
        let err = |v: &str| MediaLine::parse(v).unwrap_err();
        assert_eq!(
            err("audio x RTP/AVP 0"),
            LineError::BadMedia("port is not a number 0-65535")
        );
        assert_eq!(
            err("audio 70000 RTP/AVP 0"),
            LineError::BadMedia("port is not a number 0-65535")
        );
        assert_eq!(
            err("audio -1 RTP/AVP 0"),
            LineError::BadMedia("port is not a number 0-65535")
        );
        assert_eq!(
            err("audio 8000/0 RTP/AVP 0"),
            LineError::BadMedia("port count is not a number 1-65535")
        );
        assert_eq!(err("audio 8000 RTP/AVP"), LineError::BadMedia("no formats"));
        assert_eq!(err("audio 8000"), LineError::BadMedia("missing transport"));
        assert_eq!(err(""), LineError::BadMedia("missing media type"));
        assert_eq!(
            err("audio 8000 RTP/AVP 0 pcmu"),
            LineError::BadMedia("payload type is not a number 0-127")
        );
        assert_eq!(
            err("audio 8000 RTP/AVP 128"),
            LineError::BadMedia("payload type is not a number 0-127")
        );
        assert_eq!(
            err("audio 8000 RTP//AVP 0"),
            LineError::BadMedia("transport is not <token>[/<token>...]")
        );
    }

    #[test]
    fn attribute_views() {
        let s = section(
            "audio 8000 RTP/AVP 0 101",
            &[
                "c=IN IP4 192.0.2.1",
                "a=rtpmap:0 PCMU/8000",
                "a=rtpmap:101 telephone-event/8000",
                "a=fmtp:101 0-16",
                "a=ptime:20",
                "a=maxptime:40",
                "a=sendonly",
                "a=rtcp:8001 IN IP4 192.0.2.2",
                "a=rtcp-mux",
                "a=ice-ufrag:abcd",
            ],
        );
        assert_eq!(s.payload_types().collect::<Vec<_>>(), [0, 101]);
        assert_eq!(
            s.rtpmap(101).map(|m| m.encoding_name),
            Some("telephone-event")
        );
        assert_eq!(s.rtpmap(8), None);
        assert_eq!(s.fmtp("101"), Some("0-16"));
        assert_eq!(s.ptime(), Some(Duration::from_millis(20)));
        assert_eq!(s.maxptime(), Some(Duration::from_millis(40)));
        assert_eq!(s.direction_attribute(), Some(Direction::SendOnly));
        assert_eq!(s.rtcp().map(|r| r.port), Some(8001));
        assert!(s.rtcp_mux());
        assert!(s.uses_ice());
        assert_eq!(
            s.connection().map(|c| c.address.to_string()).as_deref(),
            Some("192.0.2.1")
        );
        let bare = section("audio 8000 RTP/AVP 0", &[]);
        assert_eq!(bare.direction_attribute(), None);
        assert!(!bare.uses_ice() && !bare.rtcp_mux());
        assert_eq!(
            (bare.rtcp(), bare.ptime(), bare.connection()),
            (None, None, None)
        );
    }

    #[test]
    fn new_checks_the_fields() {
        let ok = MediaLine {
            media: "audio".into(),
            port: 4000,
            port_count: None,
            proto: "RTP/AVP".into(),
            formats: vec!["0".into()],
        };
        assert!(MediaDescription::new(ok.clone()).is_ok());
        let mut bad = ok.clone();
        bad.formats.clear();
        assert!(MediaDescription::new(bad).is_err());
        let mut spaced = ok;
        spaced.media = "au dio".into();
        assert!(MediaDescription::new(spaced).is_err());
    }
}
