//! [`SessionDescription`]: parse, serialize and read a whole description (RFC 8866 §5).
//!
//! Every line is kept as written, in order, unknown ones included, so a CRLF description
//! serializes back byte for byte. Parsing checks what the typed views and the offer/answer
//! code rely on — the v/o/s order, `o=`, `c=`, `b=`, `t=`, `m=` and the interpreted
//! attributes — and rejects anything else malformed with the line number and the reason.

use std::fmt;
use std::str::FromStr;

use crate::attribute::{check_attribute, Direction};
use crate::connection::Connection;
use crate::error::{LineError, SdpError};
use crate::line::{
    self, check_text, is_digits, is_token, split_lines, split_type, Attribute, Line,
};
use crate::media::{direction_in, is_ice_attribute, MediaDescription, MediaLine};
use crate::origin::Origin;

/// A parsed session description: the session-level lines and the media sections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDescription {
    /// The typed `o=` line; always what the `o=` line among `lines` parses to.
    pub(crate) origin: Origin,
    /// The session-level lines, from `v=` up to the first `m=`.
    pub(crate) lines: Vec<Line>,
    /// The media sections, in order.
    pub(crate) media: Vec<MediaDescription>,
}

/// The `t=<start> <stop>` line: NTP seconds, `0 0` for an unbounded session (RFC 8866
/// §5.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Timing {
    /// Start time (NTP seconds), 0 for "now".
    pub start: u64,
    /// Stop time (NTP seconds), 0 for unbounded.
    pub stop: u64,
}

impl Timing {
    /// Parses the value of a `t=` line.
    pub fn parse(value: &str) -> Result<Timing, LineError> {
        let mut fields = value.split_ascii_whitespace();
        let (Some(start), Some(stop), None) = (fields.next(), fields.next(), fields.next()) else {
            return Err(LineError::BadTiming("needs <start> <stop>"));
        };
        let number = |t: &str| {
            Some(t)
                .filter(|t| is_digits(t))
                .and_then(|t| t.parse::<u64>().ok())
                .ok_or(LineError::BadTiming("time is not a 64-bit number"))
        };
        Ok(Timing {
            start: number(start)?,
            stop: number(stop)?,
        })
    }
}

impl SessionDescription {
    /// A new description with `v=0`, the given `o=` and `s=`, and `t=0 0` (a session
    /// unbounded in time, as SIP uses it: RFC 3264 §5). Fails when the origin or the name
    /// cannot be written.
    pub fn new(origin: Origin, session_name: &str) -> Result<SessionDescription, SdpError> {
        origin.check().map_err(SdpError::Invalid)?;
        check_text("session name", session_name, true).map_err(SdpError::Invalid)?;
        let lines = vec![
            Line::new(b'v', "0".to_owned()),
            Line::new(b'o', origin.to_string()),
            Line::new(b's', session_name.to_owned()),
            Line::new(b't', "0 0".to_owned()),
        ];
        Ok(SessionDescription {
            origin,
            lines,
            media: Vec::new(),
        })
    }

    /// Parses a description. Lines end in CRLF or LF; blank lines at the end are ignored.
    pub fn parse(text: &str) -> Result<SessionDescription, SdpError> {
        Parser::default().run(text)
    }

    /// Parses a description from bytes, checking that they are UTF-8 first.
    pub fn from_bytes(bytes: &[u8]) -> Result<SessionDescription, SdpError> {
        match std::str::from_utf8(bytes) {
            Ok(text) => SessionDescription::parse(text),
            Err(e) => {
                let valid = bytes.get(..e.valid_up_to()).unwrap_or_default();
                let line = 1 + valid.iter().filter(|&&b| b == b'\n').count();
                Err(SdpError::NotUtf8 { line })
            }
        }
    }

    /// The serialized description, every line ending in CRLF.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_string().into_bytes()
    }

    /// The origin (`o=`, RFC 8866 §5.2).
    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// The session name (`s=`, RFC 8866 §5.3).
    pub fn session_name(&self) -> &str {
        self.lines
            .iter()
            .find(|l| l.kind_byte() == b's')
            .map_or("", Line::value)
    }

    /// The session-level connection (`c=`, RFC 8866 §5.7), if any.
    pub fn connection(&self) -> Option<Connection> {
        self.lines
            .iter()
            .filter(|l| l.kind_byte() == b'c')
            .find_map(|l| Connection::parse(l.value()).ok())
    }

    /// The first `t=` line (RFC 8866 §5.9).
    pub fn timing(&self) -> Option<Timing> {
        self.lines
            .iter()
            .filter(|l| l.kind_byte() == b't')
            .find_map(|l| Timing::parse(l.value()).ok())
    }

    /// The session-level lines, from `v=` up to the first `m=`, as written.
    pub fn lines(&self) -> &[Line] {
        &self.lines
    }

    /// The session-level attributes, in order.
    pub fn attributes(&self) -> impl Iterator<Item = Attribute<'_>> {
        line::attributes(&self.lines)
    }

    /// The first session-level attribute named `name`.
    pub fn attribute(&self, name: &str) -> Option<Attribute<'_>> {
        self.attributes().find(|a| a.name == name)
    }

    /// The session-level direction attribute, if any (RFC 8866 §6.7).
    pub fn direction_attribute(&self) -> Option<Direction> {
        direction_in(&self.lines)
    }

    /// The media sections, in order.
    pub fn media(&self) -> &[MediaDescription] {
        &self.media
    }

    /// The media sections, for rewriting in place (see the [`crate::rewrite`] methods).
    pub fn media_mut(&mut self) -> &mut [MediaDescription] {
        &mut self.media
    }

    /// Appends a media section. Fails with [`LineError::MissingConnection`] when the
    /// section has a non-zero port and neither it nor the session has a `c=` line (RFC 8866
    /// §5.7): set the session's connection first.
    pub fn push_media(&mut self, media: MediaDescription) -> Result<(), SdpError> {
        if media.port() != 0 && media.connection().is_none() && self.connection().is_none() {
            return Err(SdpError::Invalid(LineError::MissingConnection));
        }
        self.media.push(media);
        Ok(())
    }

    /// Where the stream of `media` goes: its own `c=`, or else the session's (RFC 8866
    /// §5.7).
    pub fn media_connection(&self, media: &MediaDescription) -> Option<Connection> {
        media.connection().or_else(|| self.connection())
    }

    /// The direction of `media`: its own attribute, or else the session's, or else
    /// `sendrecv` (RFC 8866 §6.7, RFC 3264 §5.1). The RFC 2543 hold address is not
    /// considered here; see [`SessionDescription::is_on_hold`].
    pub fn media_direction(&self, media: &MediaDescription) -> Direction {
        media
            .direction_attribute()
            .or_else(|| self.direction_attribute())
            .unwrap_or_default()
    }

    /// Whether the description uses ICE anywhere (RFC 8839 §5 attributes at session or
    /// media level).
    pub fn uses_ice(&self) -> bool {
        self.attributes().any(|a| is_ice_attribute(a.name))
            || self.media.iter().any(MediaDescription::uses_ice)
    }
}

impl FromStr for SessionDescription {
    type Err = SdpError;

    fn from_str(text: &str) -> Result<SessionDescription, SdpError> {
        SessionDescription::parse(text)
    }
}

/// Writes the description with CRLF line ends (RFC 8866 §5).
impl fmt::Display for SessionDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for l in &self.lines {
            write!(f, "{}={}\r\n", l.kind(), l.value())?;
        }
        for m in &self.media {
            write!(f, "m={}\r\n", m.m_value)?;
            for l in &m.lines {
                write!(f, "{}={}\r\n", l.kind(), l.value())?;
            }
        }
        Ok(())
    }
}

/// The state of one parse: what has been read so far.
#[derive(Default)]
struct Parser {
    origin: Option<Origin>,
    lines: Vec<Line>,
    media: Vec<MediaDescription>,
    /// The line number of each `m=` line.
    media_numbers: Vec<usize>,
    has_timing: bool,
}

impl Parser {
    fn run(mut self, text: &str) -> Result<SessionDescription, SdpError> {
        let raw = split_lines(text);
        for (index, raw_line) in raw.iter().enumerate() {
            let number = raw_line.number;
            self.line(index, raw_line.text)
                .map_err(|reason| SdpError::Parse {
                    line: number,
                    reason,
                })?;
        }
        let next_number = raw.last().map_or(1, |l| l.number + 1);
        let missing = match raw.len() {
            0 => Some(LineError::MissingVersion),
            1 => Some(LineError::MissingOrigin),
            2 => Some(LineError::MissingSessionName),
            _ => None,
        };
        if let Some(reason) = missing {
            return Err(SdpError::Parse {
                line: next_number,
                reason,
            });
        }
        if !self.has_timing {
            return Err(SdpError::Parse {
                line: self.media_numbers.first().copied().unwrap_or(next_number),
                reason: LineError::MissingTiming,
            });
        }
        let session_connection = self.lines.iter().any(|l| l.kind_byte() == b'c');
        for (m, &number) in self.media.iter().zip(&self.media_numbers) {
            if m.port() != 0 && !session_connection && m.connection().is_none() {
                return Err(SdpError::Parse {
                    line: number,
                    reason: LineError::MissingConnection,
                });
            }
        }
        let origin = self.origin.ok_or(SdpError::Parse {
            line: 2,
            reason: LineError::MissingOrigin,
        })?;
        Ok(SessionDescription {
            origin,
            lines: self.lines,
            media: self.media,
        })
    }

    /// Reads the line at 0-based `index`.
    fn line(&mut self, index: usize, text: &str) -> Result<(), LineError> {
        let (kind, value) = split_type(text)?;
        let expected = match index {
            0 => Some((b'v', LineError::MissingVersion)),
            1 => Some((b'o', LineError::MissingOrigin)),
            2 => Some((b's', LineError::MissingSessionName)),
            _ => None,
        };
        match expected {
            Some((want, reason)) if kind != want => return Err(reason),
            None if matches!(kind, b'v' | b'o' | b's') => {
                return Err(LineError::Duplicate(char::from(kind)))
            }
            _ => {}
        }
        let in_media = !self.media.is_empty();
        if in_media && matches!(kind, b'u' | b'e' | b'p' | b't' | b'r' | b'z') {
            return Err(LineError::NotInMedia(char::from(kind)));
        }
        match kind {
            b'v' if value != "0" => return Err(LineError::UnsupportedVersion),
            b'o' => self.origin = Some(Origin::parse(value)?),
            b'c' => {
                Connection::parse(value)?;
            }
            b'b' => check_bandwidth(value)?,
            b't' => {
                Timing::parse(value)?;
                self.has_timing = true;
            }
            b'a' => check_attribute(value)?,
            b'm' => {
                if !self.has_timing {
                    return Err(LineError::MissingTiming);
                }
                let m = MediaLine::parse(value)?;
                self.media.push(MediaDescription::parsed(m, value));
                self.media_numbers.push(index + 1);
                return Ok(());
            }
            _ => {}
        }
        let line = Line::new(kind, value.to_owned());
        match self.media.last_mut() {
            Some(m) => m.lines.push(line),
            None => self.lines.push(line),
        }
        Ok(())
    }
}

/// Checks the value of a `b=<bwtype>:<bandwidth>` line (RFC 8866 §5.8).
fn check_bandwidth(value: &str) -> Result<(), LineError> {
    let (bwtype, bandwidth) = value
        .split_once(':')
        .ok_or(LineError::BadBandwidth("needs <type>:<bandwidth>"))?;
    if !is_token(bwtype) {
        return Err(LineError::BadBandwidth("type is not a token"));
    }
    if !is_digits(bandwidth) {
        return Err(LineError::BadBandwidth("bandwidth is not a number"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINISIP: &str = "v=0\r\no=- 3344 3344 IN IP4 192.16.125.146\r\ns=Minisip Session\r\nc=IN IP4 192.16.125.146\r\nt=0 0\r\nm=audio 32837 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000/1\r\n";

    fn parse_err(text: &str) -> (usize, LineError) {
        match SessionDescription::parse(text) {
            Err(SdpError::Parse { line, reason }) => (line, reason),
            other => panic!("expected a parse error, got {other:?}"),
        }
    }

    #[test]
    fn parses_and_serializes_byte_for_byte() {
        let sdp = SessionDescription::parse(MINISIP).unwrap();
        assert_eq!(sdp.to_string(), MINISIP);
        assert_eq!(sdp.session_name(), "Minisip Session");
        assert_eq!(sdp.origin().session_version, 3344);
        assert_eq!(sdp.timing(), Some(Timing { start: 0, stop: 0 }));
        assert_eq!(sdp.media().len(), 1);
        let m = &sdp.media()[0];
        assert_eq!(m.port(), 32837);
        assert_eq!(
            sdp.media_connection(m)
                .map(|c| c.address.to_string())
                .as_deref(),
            Some("192.16.125.146")
        );
        assert_eq!(sdp.media_direction(m), Direction::SendRecv);
        assert_eq!(m.rtpmap(0).map(|r| r.channels), Some(Some(1)));
    }

    #[test]
    fn lf_input_serializes_with_crlf() {
        let lf = MINISIP.replace("\r\n", "\n");
        let sdp: SessionDescription = lf.parse().unwrap();
        assert_eq!(sdp.to_string(), MINISIP);
        assert_eq!(SessionDescription::from_bytes(lf.as_bytes()).unwrap(), sdp);
    }

    #[test]
    fn missing_and_misordered_v_o_s() {
        assert_eq!(parse_err(""), (1, LineError::MissingVersion));
        assert_eq!(parse_err("\r\n"), (1, LineError::MissingVersion));
        assert_eq!(parse_err("v=0\r\n"), (2, LineError::MissingOrigin));
        assert_eq!(
            parse_err("v=0\r\no=- 1 1 IN IP4 h\r\n"),
            (3, LineError::MissingSessionName)
        );
        assert_eq!(
            parse_err("o=- 1 1 IN IP4 h\r\nv=0\r\ns=x\r\nt=0 0\r\n"),
            (1, LineError::MissingVersion)
        );
        assert_eq!(
            parse_err("v=0\r\ns=x\r\no=- 1 1 IN IP4 h\r\nt=0 0\r\n"),
            (2, LineError::MissingOrigin)
        );
        assert_eq!(
            parse_err("v=1\r\no=- 1 1 IN IP4 h\r\ns=x\r\nt=0 0\r\n"),
            (1, LineError::UnsupportedVersion)
        );
        assert_eq!(
            parse_err("v=0\r\no=- 1 1 IN IP4 h\r\ns=x\r\nt=0 0\r\ns=y\r\n"),
            (5, LineError::Duplicate('s'))
        );
    }

    #[test]
    fn structural_errors_name_their_line() {
        let head = "v=0\r\no=- 1 1 IN IP4 h\r\ns=x\r\n";
        assert_eq!(
            parse_err(&format!("{head}m=audio 1 RTP/AVP 0\r\n")),
            (4, LineError::MissingTiming)
        );
        assert_eq!(
            parse_err(&format!("{head}c=IN IP4 1.2.3.4\r\n")),
            (5, LineError::MissingTiming)
        );
        assert_eq!(
            parse_err(&format!("{head}t=0 0\r\nm=audio 1 RTP/AVP 0\r\n")),
            (5, LineError::MissingConnection)
        );
        assert_eq!(
            parse_err(&format!(
                "{head}c=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 1 RTP/AVP 0\r\nt=0 0\r\n"
            )),
            (7, LineError::NotInMedia('t'))
        );
        assert_eq!(
            parse_err(&format!("{head}t=0 0\r\n\r\nc=IN IP4 1.2.3.4\r\n")),
            (5, LineError::EmptyLine)
        );
        assert_eq!(
            parse_err(&format!("{head}b=AS\r\nt=0 0\r\n")),
            (4, LineError::BadBandwidth("needs <type>:<bandwidth>"))
        );
        assert_eq!(
            parse_err(&format!("{head}t=0\r\n")),
            (4, LineError::BadTiming("needs <start> <stop>"))
        );
        // A rejected stream (port 0) needs no address.
        assert!(
            SessionDescription::parse(&format!("{head}t=0 0\r\nm=video 0 RTP/AVP 31\r\n")).is_ok()
        );
    }

    #[test]
    fn not_utf8_names_the_line() {
        let mut bytes = MINISIP.as_bytes().to_vec();
        bytes.extend_from_slice(b"a=tool:\xff\xfe\r\n");
        assert_eq!(
            SessionDescription::from_bytes(&bytes),
            Err(SdpError::NotUtf8 { line: 8 })
        );
    }

    #[test]
    fn unknown_lines_are_kept_in_place() {
        let text = "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nx=experimental\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\na=x-foo:bar baz\r\nm=audio 5004 RTP/AVP 0\r\ny=more\r\na=weird\r\n";
        let sdp = SessionDescription::parse(text).unwrap();
        assert_eq!(sdp.to_string(), text);
        assert_eq!(sdp.lines()[3].kind(), 'x');
        assert_eq!(
            sdp.attribute("x-foo").and_then(|a| a.value),
            Some("bar baz")
        );
        assert_eq!(sdp.media()[0].lines()[0].value(), "more");
    }
}
