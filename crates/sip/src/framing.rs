//! Stream framing for SIP over TCP, TLS and WebSocket-less streams (RFC 3261 §18.3): finds
//! where one message ends by its Content-Length, tells "read more" from "malformed", and
//! recognises CRLF keepalives (RFC 5626 §4.4.1: a double CRLF ping answered by a single
//! CRLF pong).
//!
//! The framer looks at bytes only; it does not parse the message (hand the frame to
//! [`crate::Message::parse`]).

use memchr::memmem;

use crate::error::ParseError;
use crate::header_name::HeaderName;
use crate::text::parse_decimal;

/// Default limit on one message's size on a stream (start line, headers and body).
pub const DEFAULT_MAX_MESSAGE: usize = 64 * 1024;

/// What the front of a stream buffer holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// Not enough bytes yet: read more and call again.
    Incomplete,
    /// A keepalive of `len` bytes at the front: `CRLFCRLF` is a ping (answer with one
    /// CRLF, RFC 5626 §4.4.1), a lone `CRLF` a pong. Consume `len` bytes.
    Keepalive {
        /// Bytes to consume.
        len: usize,
        /// Whether it was a double-CRLF ping that wants a pong.
        ping: bool,
    },
    /// A whole message occupies the first `len` bytes.
    Message {
        /// Bytes of the message, body included.
        len: usize,
    },
}

/// Examines the front of a stream buffer.
///
/// Errors are fatal for the connection: the stream can no longer be framed (RFC 3261 §18.3:
/// the Content-Length is mandatory on streams; a sender whose lengths lie cannot be
/// resynchronised), so the caller answers 400 when it can and closes.
pub fn frame(buf: &[u8], max_message: usize) -> Result<Frame, ParseError> {
    // Keepalives and CRLFs between messages (§7.5).
    if buf.starts_with(b"\r\n\r\n") {
        return Ok(Frame::Keepalive { len: 4, ping: true });
    }
    if buf.starts_with(b"\r\n") {
        if buf.len() < 4 && b"\r\n\r\n".starts_with(buf) {
            // Could be the start of a ping; but a lone CRLF is a complete pong.
            return Ok(if buf.len() == 2 {
                Frame::Keepalive {
                    len: 2,
                    ping: false,
                }
            } else {
                Frame::Incomplete
            });
        }
        return Ok(Frame::Keepalive {
            len: 2,
            ping: false,
        });
    }
    if buf.is_empty() {
        return Ok(Frame::Incomplete);
    }
    let Some(header_end) = memmem::find(buf, b"\r\n\r\n") else {
        if buf.len() > max_message {
            return Err(ParseError::TooLarge);
        }
        return Ok(Frame::Incomplete);
    };
    let body_start = header_end + 4;
    let length = content_length(&buf[..header_end + 2])?
        .ok_or_else(|| ParseError::header(HeaderName::ContentLength, "missing on a stream"))?;
    let total = body_start + length;
    if total > max_message {
        return Err(ParseError::TooLarge);
    }
    if buf.len() < total {
        return Ok(Frame::Incomplete);
    }
    Ok(Frame::Message { len: total })
}

/// Finds the Content-Length in a header section (`Content-Length` or compact `l`); several
/// that disagree cannot frame a stream.
fn content_length(head: &[u8]) -> Result<Option<usize>, ParseError> {
    let mut found: Option<usize> = None;
    let mut lines = head.split(|&b| b == b'\n').skip(1);
    while let Some(line) = lines.next() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = trim(&line[..colon]);
        let is_length =
            name.eq_ignore_ascii_case(b"content-length") || name.eq_ignore_ascii_case(b"l");
        if !is_length {
            continue;
        }
        // The value may be folded onto following lines.
        let mut value = trim(&line[colon + 1..]).to_vec();
        let mut peek = lines.clone();
        while let Some(next) = peek.next() {
            if next.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
                value.extend_from_slice(trim(next.strip_suffix(b"\r").unwrap_or(next)));
                lines = peek.clone();
            } else {
                break;
            }
        }
        let text = std::str::from_utf8(&value).unwrap_or("");
        let n = parse_decimal(text, crate::message::MAX_CONTENT_LENGTH)
            .ok_or_else(|| ParseError::header(HeaderName::ContentLength, "not a valid length"))?
            as usize;
        match found {
            Some(prev) if prev != n => {
                return Err(ParseError::header(
                    HeaderName::ContentLength,
                    "several different values",
                ))
            }
            _ => found = Some(n),
        }
    }
    Ok(found)
}

fn trim(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &b[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSG: &[u8] =
        b"MESSAGE sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nl: 5\r\n\r\nhello";

    #[test]
    fn frames_by_content_length() {
        assert_eq!(
            frame(MSG, DEFAULT_MAX_MESSAGE),
            Ok(Frame::Message { len: MSG.len() })
        );
        for cut in 0..MSG.len() {
            assert_eq!(
                frame(&MSG[..cut], DEFAULT_MAX_MESSAGE),
                Ok(Frame::Incomplete),
                "cut {cut}"
            );
        }
        let mut two = MSG.to_vec();
        two.extend_from_slice(MSG);
        assert_eq!(
            frame(&two, DEFAULT_MAX_MESSAGE),
            Ok(Frame::Message { len: MSG.len() })
        );
    }

    #[test]
    fn keepalives() {
        assert_eq!(
            frame(b"\r\n\r\n", 100),
            Ok(Frame::Keepalive { len: 4, ping: true })
        );
        assert_eq!(
            frame(b"\r\n", 100),
            Ok(Frame::Keepalive {
                len: 2,
                ping: false
            })
        );
        assert_eq!(frame(b"\r\n\r", 100), Ok(Frame::Incomplete));
        assert_eq!(
            frame(b"\r\nINVITE", 100),
            Ok(Frame::Keepalive {
                len: 2,
                ping: false
            })
        );
    }

    #[test]
    fn malformed_streams() {
        let no_len = b"OPTIONS sip:a@b SIP/2.0\r\nVia: x\r\n\r\n";
        assert!(frame(no_len, 1000).is_err());
        let neg = b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: -1\r\n\r\n";
        assert!(frame(neg, 1000).is_err());
        let two = b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 1\r\nl: 2\r\n\r\nab";
        assert!(frame(two, 1000).is_err());
        let same = b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 2\r\nl: 2\r\n\r\nab";
        assert_eq!(frame(same, 1000), Ok(Frame::Message { len: same.len() }));
        assert_eq!(frame(&[b'a'; 200], 100), Err(ParseError::TooLarge));
        let big = b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 900\r\n\r\n";
        assert_eq!(frame(big, 100), Err(ParseError::TooLarge));
        let folded = b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length:\r\n 2\r\n\r\nab";
        assert_eq!(
            frame(folded, 1000),
            Ok(Frame::Message { len: folded.len() })
        );
    }
}
