//! In-place edits, as a relay or a phone makes them: connection addresses, ports, `a=rtcp`,
//! direction, the `o=` version, attributes. Every edit rewrites only the lines it is about and
//! leaves every other line as it was, in its place.
//!
//! A new `c=` line goes where RFC 8866 §5 puts it (after `v o s i u e p` at session level,
//! after `i` in a media section); new attributes go at the end of their section.

use std::net::IpAddr;

use crate::attribute::{check_attribute, Direction, Rtcp};
use crate::connection::Connection;
use crate::error::{LineError, SdpError};
use crate::line::{check_value, is_token, Line};
use crate::media::MediaDescription;
use crate::origin::{addr_type, Origin};
use crate::session::{SessionDescription, Timing};

impl SessionDescription {
    /// Sets the session-level connection to `address` (unicast, no suffixes), replacing the
    /// first session-level `c=` line or inserting one (RFC 8866 §5.7).
    pub fn set_connection_address(&mut self, address: IpAddr) {
        set_connection(&mut self.lines, address, session_rank);
    }

    /// Rewrites the address of every `c=` line, session and media level, to `address`
    /// (unicast, no suffixes): what a relay does to put itself in the media path. Sections
    /// without their own `c=` keep falling back to the session's.
    pub fn replace_connection_addresses(&mut self, address: IpAddr) {
        let value = Connection::new(address).to_string();
        let all = self
            .lines
            .iter_mut()
            .chain(self.media.iter_mut().flat_map(|m| m.lines.iter_mut()));
        for line in all.filter(|l| l.kind_byte() == b'c') {
            line.set_value(value.clone());
        }
    }

    /// Replaces the origin (`o=`, RFC 8866 §5.2). Fails when a field cannot be written (white
    /// space in the user name, say).
    pub fn set_origin(&mut self, origin: Origin) -> Result<(), SdpError> {
        origin.check().map_err(SdpError::Invalid)?;
        self.origin = origin;
        self.write_origin();
        Ok(())
    }

    /// Sets the origin's address (and address type) to `address`, as a relay may do to hide
    /// the original host.
    pub fn set_origin_address(&mut self, address: IpAddr) {
        self.origin.addr_type = addr_type(address).to_owned();
        self.origin.address = address.to_string();
        self.write_origin();
    }

    /// Increments the session version of `o=` by one: the description changed (RFC 3264
    /// §8). Wraps to 0 after `u64::MAX`.
    pub fn bump_version(&mut self) {
        self.origin.session_version = self.origin.session_version.wrapping_add(1);
        self.write_origin();
    }

    /// Makes this description the next one after `previous` in the same session (RFC 3264
    /// §8): the `o=` line of `previous`, with the version incremented when anything else
    /// differs and kept when the two are otherwise identical.
    pub fn continue_from(&mut self, previous: &SessionDescription) {
        self.origin = previous.origin.clone();
        self.write_origin();
        if self != previous {
            self.bump_version();
        }
    }

    /// Sets the session-level direction attribute, replacing any there was (RFC 8866 §6.7).
    /// Media-level direction attributes still override it.
    pub fn set_direction(&mut self, direction: Direction) {
        set_direction(&mut self.lines, direction);
    }

    /// Replaces the first `t=` line (RFC 8866 §5.9).
    pub fn set_timing(&mut self, timing: Timing) {
        let value = format!("{} {}", timing.start, timing.stop);
        match self.lines.iter_mut().find(|l| l.kind_byte() == b't') {
            Some(line) => line.set_value(value),
            None => insert_ranked(&mut self.lines, Line::new(b't', value), session_rank),
        }
    }

    /// Appends a session-level attribute `a=<name>[:<value>]`.
    pub fn add_attribute(&mut self, name: &str, value: Option<&str>) -> Result<(), SdpError> {
        self.lines.push(attribute_line(name, value)?);
        Ok(())
    }

    /// Sets a session-level attribute: replaces the first one named `name` and removes the
    /// others, or appends it.
    pub fn set_attribute(&mut self, name: &str, value: Option<&str>) -> Result<(), SdpError> {
        set_attribute(&mut self.lines, attribute_line(name, value)?, name);
        Ok(())
    }

    /// Removes the session-level attributes named `name`; returns how many there were.
    pub fn remove_attributes(&mut self, name: &str) -> usize {
        remove_attributes(&mut self.lines, name)
    }

    /// Removes the attributes named `name` at session level and in every media section;
    /// returns how many there were.
    pub fn remove_attributes_everywhere(&mut self, name: &str) -> usize {
        let session = self.remove_attributes(name);
        session
            + self
                .media
                .iter_mut()
                .map(|m| m.remove_attributes(name))
                .sum::<usize>()
    }

    /// Writes the typed origin back into its `o=` line.
    fn write_origin(&mut self) {
        let value = self.origin.to_string();
        if let Some(line) = self.lines.iter_mut().find(|l| l.kind_byte() == b'o') {
            line.set_value(value);
        }
    }
}

impl MediaDescription {
    /// Sets the port of the `m=` line (RFC 8866 §5.14); 0 rejects or disables the stream.
    /// A stream enabled again needs a connection address, its own or the session's (§5.7):
    /// without one the description no longer parses.
    pub fn set_port(&mut self, port: u16) {
        self.m.port = port;
        self.m_value = self.m.to_string();
    }

    /// Sets the section's own connection to `address` (unicast, no suffixes), replacing its
    /// first `c=` line or inserting one after `i=`.
    pub fn set_connection_address(&mut self, address: IpAddr) {
        set_connection(&mut self.lines, address, media_rank);
    }

    /// Sets the transport protocol of the `m=` line (RFC 8866 §5.14), as a relay does that
    /// speaks `RTP/SAVP` to one party and `RTP/AVP` to the other. Fails, changing nothing,
    /// when `proto` is not `<token>[/<token>...]`, or when it would change whether the
    /// formats are RTP payload types.
    pub fn set_proto(&mut self, proto: &str) -> Result<(), SdpError> {
        let mut m = self.m.clone();
        proto.clone_into(&mut m.proto);
        let value = m.to_string();
        let reparsed = crate::media::MediaLine::parse(&value).map_err(SdpError::Invalid)?;
        if reparsed != m || m.is_rtp() != self.m.is_rtp() {
            return Err(SdpError::Invalid(LineError::BadMedia(
                "transport is not <token>[/<token>...] of the same kind",
            )));
        }
        self.m = m;
        self.m_value = value;
        Ok(())
    }

    /// Sets `a=rtcp` (RFC 3605), replacing any there was.
    pub fn set_rtcp(&mut self, rtcp: Rtcp) {
        let line = Line::new(b'a', format!("rtcp:{rtcp}"));
        set_attribute(&mut self.lines, line, "rtcp");
    }

    /// Sets the section's direction attribute, replacing any there was (RFC 8866 §6.7).
    pub fn set_direction(&mut self, direction: Direction) {
        set_direction(&mut self.lines, direction);
    }

    /// Appends an attribute `a=<name>[:<value>]` to the section.
    pub fn add_attribute(&mut self, name: &str, value: Option<&str>) -> Result<(), SdpError> {
        self.lines.push(attribute_line(name, value)?);
        Ok(())
    }

    /// Sets an attribute: replaces the first one named `name` and removes the others, or
    /// appends it.
    pub fn set_attribute(&mut self, name: &str, value: Option<&str>) -> Result<(), SdpError> {
        set_attribute(&mut self.lines, attribute_line(name, value)?, name);
        Ok(())
    }

    /// Removes the section's attributes named `name`; returns how many there were.
    pub fn remove_attributes(&mut self, name: &str) -> usize {
        remove_attributes(&mut self.lines, name)
    }
}

/// An `a=` line from a name and optional value, checked like a parsed one.
fn attribute_line(name: &str, value: Option<&str>) -> Result<Line, SdpError> {
    if !is_token(name) {
        return Err(SdpError::Invalid(LineError::attribute(
            name,
            "name is not a token",
        )));
    }
    let text = match value {
        Some(value) => format!("{name}:{value}"),
        None => name.to_owned(),
    };
    check_value(&text).map_err(SdpError::Invalid)?;
    check_attribute(&text).map_err(SdpError::Invalid)?;
    Ok(Line::new(b'a', text))
}

/// RFC 8866 §5 order of session-level lines (unknown types last).
fn session_rank(kind: u8) -> u8 {
    match kind {
        b'v' => 0,
        b'o' => 1,
        b's' => 2,
        b'i' => 3,
        b'u' => 4,
        b'e' => 5,
        b'p' => 6,
        b'c' => 7,
        b'b' => 8,
        b't' | b'r' => 9,
        b'z' => 10,
        b'k' => 11,
        b'a' => 12,
        _ => 13,
    }
}

/// RFC 8866 §5 order of media-level lines after `m=` (unknown types last).
fn media_rank(kind: u8) -> u8 {
    match kind {
        b'i' => 0,
        b'c' => 1,
        b'b' => 2,
        b'k' => 3,
        b'a' => 4,
        _ => 5,
    }
}

/// Inserts `line` before the first line that comes after it in the RFC order.
fn insert_ranked(lines: &mut Vec<Line>, line: Line, rank: fn(u8) -> u8) {
    let own = rank(line.kind_byte());
    let at = lines
        .iter()
        .position(|l| rank(l.kind_byte()) > own)
        .unwrap_or(lines.len());
    lines.insert(at, line);
}

/// Replaces the first `c=` line among `lines`, or inserts one.
fn set_connection(lines: &mut Vec<Line>, address: IpAddr, rank: fn(u8) -> u8) {
    let value = Connection::new(address).to_string();
    match lines.iter_mut().find(|l| l.kind_byte() == b'c') {
        Some(line) => line.set_value(value),
        None => insert_ranked(lines, Line::new(b'c', value), rank),
    }
}

/// Puts `line` (an attribute named `name`) in place of the first attribute of that name,
/// removing the others, or appends it.
fn set_attribute(lines: &mut Vec<Line>, line: Line, name: &str) {
    let is_named = |l: &Line| l.attribute().is_some_and(|a| a.name == name);
    match lines.iter().position(is_named) {
        Some(first) => {
            let mut index = 0;
            lines.retain(|l| {
                let keep = index <= first || !is_named(l);
                index += 1;
                keep
            });
            if let Some(slot) = lines.get_mut(first) {
                *slot = line;
            }
        }
        None => lines.push(line),
    }
}

/// Replaces the direction attributes among `lines` with one for `direction`, where the first
/// was, or appends it.
fn set_direction(lines: &mut Vec<Line>, direction: Direction) {
    let is_direction = |l: &Line| {
        l.attribute()
            .is_some_and(|a| Direction::from_attribute_name(a.name).is_some())
    };
    let line = Line::new(b'a', direction.attribute_name().to_owned());
    match lines.iter().position(is_direction) {
        Some(first) => {
            let mut index = 0;
            lines.retain(|l| {
                let keep = index <= first || !is_direction(l);
                index += 1;
                keep
            });
            if let Some(slot) = lines.get_mut(first) {
                *slot = line;
            }
        }
        None => lines.push(line),
    }
}

/// Removes the attributes named `name`; returns how many there were.
fn remove_attributes(lines: &mut Vec<Line>, name: &str) -> usize {
    let before = lines.len();
    lines.retain(|l| l.attribute().is_none_or(|a| a.name != name));
    before - lines.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFER: &str = "v=0\r\n\
        o=alice 2890844526 2890844526 IN IP4 10.0.0.5\r\n\
        s=-\r\n\
        i=a call\r\n\
        t=0 0\r\n\
        a=tool:x\r\n\
        m=audio 49170 RTP/AVP 0 8 101\r\n\
        i=voice\r\n\
        c=IN IP4 10.0.0.5\r\n\
        a=rtpmap:101 telephone-event/8000\r\n\
        a=sendrecv\r\n\
        a=ice-ufrag:F7gI\r\n\
        a=candidate:1 1 UDP 2130706431 10.0.0.5 49170 typ host\r\n\
        m=video 0 RTP/AVP 31\r\n";

    fn sdp() -> SessionDescription {
        SessionDescription::parse(OFFER).unwrap()
    }

    /// The lines of `after` that differ from `before`, as (before, after) pairs, for
    /// descriptions with the same number of lines.
    fn changed(before: &str, after: &str) -> Vec<(String, String)> {
        before
            .split("\r\n")
            .zip(after.split("\r\n"))
            .filter(|(b, a)| b != a)
            .map(|(b, a)| (b.to_owned(), a.to_owned()))
            .collect()
    }

    #[test]
    fn relay_rewrite_touches_only_addresses_and_port() {
        let mut s = sdp();
        s.replace_connection_addresses("203.0.113.9".parse().unwrap());
        s.media_mut()[0].set_port(30000);
        let out = s.to_string();
        assert_eq!(
            changed(OFFER, &out),
            [
                (
                    "m=audio 49170 RTP/AVP 0 8 101".to_owned(),
                    "m=audio 30000 RTP/AVP 0 8 101".to_owned()
                ),
                (
                    "c=IN IP4 10.0.0.5".to_owned(),
                    "c=IN IP4 203.0.113.9".to_owned()
                ),
            ]
        );
        // Re-parses to the same thing.
        assert_eq!(SessionDescription::parse(&out).unwrap(), s);
    }

    #[test]
    fn proto_is_set_in_place() {
        let mut s = sdp();
        let m = &mut s.media_mut()[0];
        m.set_proto("RTP/SAVP").unwrap();
        assert_eq!(m.proto(), "RTP/SAVP");
        assert!(m.is_srtp());
        assert!(m.set_proto("RTP SAVP").is_err());
        assert!(
            m.set_proto("udptl").is_err(),
            "formats would stop being RTP"
        );
        assert_eq!(
            changed(OFFER, &s.to_string()),
            [(
                "m=audio 49170 RTP/AVP 0 8 101".to_owned(),
                "m=audio 49170 RTP/SAVP 0 8 101".to_owned()
            )]
        );
        assert_eq!(SessionDescription::parse(&s.to_string()).unwrap(), s);
    }

    #[test]
    fn session_connection_is_inserted_in_rfc_order() {
        let mut s = sdp();
        s.set_connection_address("2001:db8::7".parse().unwrap());
        let kinds: String = s.lines().iter().map(Line::kind).collect();
        assert_eq!(kinds, "vosicta");
        assert_eq!(
            s.connection().map(|c| c.address),
            Some("2001:db8::7".parse().unwrap())
        );
        assert!(s.to_string().contains("\r\nc=IN IP6 2001:db8::7\r\n"));
        // Media level: the section has its own c=, which still wins.
        let m = &s.media()[0];
        assert_eq!(
            s.media_connection(m).map(|c| c.address),
            Some("10.0.0.5".parse().unwrap())
        );
        let mut v = s.media()[1].clone();
        v.set_connection_address("192.0.2.1".parse().unwrap());
        v.set_connection_address("192.0.2.2".parse().unwrap());
        assert_eq!(v.lines().len(), 1);
        assert_eq!(v.lines()[0].value(), "IN IP4 192.0.2.2");
    }

    #[test]
    fn rtcp_direction_and_attributes() {
        let mut s = sdp();
        let m = &mut s.media_mut()[0];
        m.set_rtcp(Rtcp {
            port: 30001,
            address: None,
        });
        m.set_rtcp(Rtcp {
            port: 30003,
            address: Some("203.0.113.9".parse().unwrap()),
        });
        m.set_direction(Direction::SendOnly);
        assert_eq!(m.remove_attributes("candidate"), 1);
        assert_eq!(m.remove_attributes("candidate"), 0);
        let attrs: Vec<String> = m
            .attributes()
            .map(|a| format!("{}={:?}", a.name, a.value))
            .collect();
        assert_eq!(
            attrs,
            [
                "rtpmap=Some(\"101 telephone-event/8000\")",
                "sendonly=None",
                "ice-ufrag=Some(\"F7gI\")",
                "rtcp=Some(\"30003 IN IP4 203.0.113.9\")",
            ]
        );
        assert_eq!(m.rtcp().map(|r| r.port), Some(30003));
        assert_eq!(s.media_direction(&s.media()[0]), Direction::SendOnly);
        assert_eq!(s.remove_attributes_everywhere("ice-ufrag"), 1);
        assert!(!s.uses_ice());
        s.set_direction(Direction::Inactive);
        assert_eq!(s.direction_attribute(), Some(Direction::Inactive));
        // The media-level attribute still overrides the session's.
        assert_eq!(s.media_direction(&s.media()[0]), Direction::SendOnly);
        assert_eq!(s.media_direction(&s.media()[1]), Direction::Inactive);
    }

    #[test]
    fn attribute_values_are_checked() {
        let mut s = sdp();
        assert!(s.add_attribute("x-ok", Some("1 2")).is_ok());
        assert!(s.add_attribute("bad name", None).is_err());
        assert!(s.add_attribute("x", Some("a\r\nb")).is_err());
        assert!(s.add_attribute("ptime", Some("soon")).is_err());
        assert!(s.add_attribute("a:b", None).is_err());
        s.set_attribute("tool", Some("itsp")).unwrap();
        s.add_attribute("tool", Some("again")).unwrap();
        s.set_attribute("tool", Some("once")).unwrap();
        let tools: Vec<_> = s.attributes().filter(|a| a.name == "tool").collect();
        assert_eq!(tools.len(), 1);
        assert_eq!(tools[0].value, Some("once"));
        assert_eq!(SessionDescription::parse(&s.to_string()).unwrap(), s);
    }

    #[test]
    fn origin_edits() {
        let mut s = sdp();
        s.bump_version();
        assert_eq!(s.origin().session_version, 2_890_844_527);
        assert!(s
            .to_string()
            .contains("o=alice 2890844526 2890844527 IN IP4 10.0.0.5\r\n"));
        s.set_origin_address("2001:db8::1".parse().unwrap());
        assert!(s
            .to_string()
            .contains("o=alice 2890844526 2890844527 IN IP6 2001:db8::1\r\n"));
        let mut o = s.origin().clone();
        o.username = "bad user".into();
        assert!(s.set_origin(o).is_err());
        assert_eq!(SessionDescription::parse(&s.to_string()).unwrap(), s);
    }

    #[test]
    fn continue_from_bumps_only_on_change() {
        let previous = sdp();
        let mut same = sdp();
        same.set_origin(Origin::new(1, 1, "192.0.2.1".parse().unwrap()))
            .unwrap();
        same.continue_from(&previous);
        assert_eq!(same, previous);
        let mut changed = sdp();
        changed.media_mut()[0].set_direction(Direction::SendOnly);
        changed.continue_from(&previous);
        assert_eq!(changed.origin().session_version, 2_890_844_527);
        assert_eq!(changed.origin().username, "alice");
    }
}
