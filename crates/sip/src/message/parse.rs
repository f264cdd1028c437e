//! The zero-copy parser: finds the start line, the header lines (with folding) and the body
//! of one message held in a `Bytes`, recording byte ranges only.
//!
//! RFC 3261 §7 (message format), §7.3.1 (header field format and folding), §7.5 (framing),
//! §18.3 (Content-Length on datagrams and streams).

use bytes::Bytes;
use bytestring::ByteString;
use memchr::memchr;

use super::{HeaderField, Message, Span, StartLine};
use crate::error::ParseError;
use crate::header_name::HeaderName;
use crate::method::Method;
use crate::text::{is_token, is_token_char, parse_decimal, starts_with_ignore_case};
use crate::uri::Uri;

/// Number of header slots reserved up front: a typical INVITE has 10–16 headers, so one
/// allocation covers it (the parser's heap budget is two allocations per message).
const HEADER_CAPACITY: usize = 20;

/// Largest Content-Length accepted (RFC 3261 does not bound it; a datagram cannot exceed 64 KiB
/// and stream framing enforces its own limit).
pub(crate) const MAX_CONTENT_LENGTH: u64 = 16 * 1024 * 1024;

fn span(start: usize, end: usize) -> Span {
    // Messages are bounded far below 4 GiB by the transports (see `framing`), so the cast is
    // lossless; `parse` rejects larger buffers before getting here.
    Span {
        start: start as u32,
        end: end as u32,
    }
}

/// Parses one message from a datagram (or from a buffer that framing cut to one message).
pub(super) fn parse(buf: Bytes) -> Result<Message, ParseError> {
    if buf.len() > u32::MAX as usize / 2 {
        return Err(ParseError::TooLarge);
    }
    let b: &[u8] = &buf;
    // RFC 3261 §7.5: ignore CRLFs before the start line.
    let mut pos = 0;
    while pos < b.len() && (b[pos] == b'\r' || b[pos] == b'\n') {
        pos += 1;
    }
    if pos == b.len() {
        return Err(ParseError::Empty);
    }

    // First pass over lines: start line, header lines, end of headers.
    let (start_line_end, first_header) = next_line(b, pos).ok_or(ParseError::Truncated)?;
    let start_line_span = span(pos, start_line_end);
    let mut headers: Vec<HeaderField> = Vec::with_capacity(HEADER_CAPACITY);
    let mut line_start = first_header;
    let body_start;
    loop {
        if line_start == b.len() {
            // A datagram that ends right after a complete header line: the empty line is
            // missing, but nothing is cut off; read it as a message without body (as
            // Kamailio does) so that the real fault, if any, is the one reported.
            body_start = line_start;
            break;
        }
        let (content_end, next) = next_line(b, line_start).ok_or(ParseError::Truncated)?;
        if content_end == line_start {
            // The empty line ending the header section.
            body_start = next;
            break;
        }
        let first = b[line_start];
        if first == b' ' || first == b'\t' {
            // A folded continuation of the previous header (§7.3.1).
            let last = headers.last_mut().ok_or(ParseError::HeaderLineAt {
                reason: "continuation line before the first header",
                offset: line_start as u32,
            })?;
            last.value.end = content_end as u32;
            last.line.end = next as u32;
        } else {
            headers.push(header_line(b, line_start, content_end, next)?);
        }
        line_start = next;
    }
    // One UTF-8 check over start line and headers, kept as a `ByteString` sharing the
    // buffer; every span below starts and ends at an ASCII byte.
    let head = match ByteString::try_from(buf.slice(..body_start)) {
        Ok(head) => head,
        Err(e) => return Err(not_utf8_at(b, e.valid_up_to(), &headers)),
    };
    for h in &mut headers {
        trim_value(b, &mut h.value);
    }

    let start = start_line(&head, start_line_span)?;

    // Body by Content-Length (§18.3): the first Content-Length frames the message; duplicates
    // are reported by `sanity` (RFC 4475 §3.3.9 expects them to be parsed).
    let available = b.len() - body_start;
    let mut content_length = None;
    if let Some(h) = headers.iter().find(|h| h.name == HeaderName::ContentLength) {
        let text = head.get(h.value.range()).ok_or(ParseError::NotUtf8)?;
        let n = parse_decimal(text, MAX_CONTENT_LENGTH)
            .ok_or_else(|| ParseError::header(HeaderName::ContentLength, "not a valid length"))?;
        content_length = Some(n as u32);
    }
    let body_len = match content_length {
        Some(n) if n as usize > available => return Err(ParseError::BodyTruncated),
        Some(n) => n as usize,
        None => available,
    };
    Ok(Message {
        buf,
        head,
        start,
        start_line: start_line_span,
        headers,
        body: span(body_start, body_start + body_len),
        content_length,
        top_via: std::sync::OnceLock::new(),
    })
}

/// What a writer of message text (`crate::build`) knows of it, handed over so that the
/// [`Message`] is assembled without parsing its own output again.
pub(crate) struct Written {
    /// The whole message: start line, headers, empty line, body.
    pub(crate) buf: Bytes,
    pub(crate) start: StartLine,
    pub(crate) start_line: Span,
    /// One field per header line written, values not yet trimmed.
    pub(crate) headers: Vec<HeaderField>,
    /// Where the body starts (just past the empty line).
    pub(crate) body_start: usize,
}

/// Assembles the message [`parse`] would make of `written.buf`: the same UTF-8 check of
/// the head and the same trimming of values; the body runs to the end (the writer put its
/// length in Content-Length).
pub(crate) fn assemble(written: Written) -> Result<Message, ParseError> {
    let Written {
        buf,
        start,
        start_line,
        mut headers,
        body_start,
    } = written;
    if buf.len() > u32::MAX as usize / 2 {
        return Err(ParseError::TooLarge);
    }
    let head = ByteString::try_from(buf.slice(..body_start)).map_err(|_| ParseError::NotUtf8)?;
    for h in &mut headers {
        trim_value(&buf, &mut h.value);
    }
    let body_len = buf.len() - body_start;
    Ok(Message {
        head,
        start,
        start_line,
        headers,
        body: span(body_start, buf.len()),
        content_length: Some(body_len as u32),
        buf,
        top_via: std::sync::OnceLock::new(),
    })
}

/// The error for a head whose first byte that is not UTF-8 is at `offset` (as the one
/// UTF-8 check of the head found it): names the start line or the header holding it, so
/// the 400 says where (RFC 3261 §25.1: header text is UTF-8). Runs only on that failure.
#[cold]
fn not_utf8_at(b: &[u8], offset: usize, headers: &[HeaderField]) -> ParseError {
    let i = headers.partition_point(|h| (h.line.end as usize) <= offset);
    let part = match headers.get(i) {
        Some(h) if h.line.start as usize <= offset => match h.name.canonical() {
            Some(name) => format!("Header {name}"),
            // The name was checked to be a token, so it is ASCII.
            None => format!(
                "Header {}",
                String::from_utf8_lossy(b.get(h.name_span.range()).unwrap_or_default())
            ),
        },
        _ => {
            let first = b
                .iter()
                .position(|&c| c != b'\r' && c != b'\n')
                .unwrap_or(0);
            let is_status = b
                .get(first..first + 4)
                .is_some_and(|p| p.eq_ignore_ascii_case(b"SIP/"));
            if is_status {
                "Status line"
            } else {
                "Request line"
            }
            .to_owned()
        }
    };
    ParseError::NotUtf8At {
        part,
        byte: b.get(offset).copied().unwrap_or(0),
        offset: offset as u32,
    }
}

/// Finds the end of the line starting at `from`: returns (end of content, start of next
/// line). Lines end in CRLF; a bare LF is tolerated. `None` when no line end follows.
fn next_line(b: &[u8], from: usize) -> Option<(usize, usize)> {
    let nl = from + memchr(b'\n', &b[from..])?;
    let content_end = if nl > from && b[nl - 1] == b'\r' {
        nl - 1
    } else {
        nl
    };
    Some((content_end, nl + 1))
}

/// Parses `name HCOLON value` of one header line (RFC 3261 §7.3.1, §25.1 `HCOLON`) in one
/// pass over the name: token characters, optional white space, then the colon.
fn header_line(
    b: &[u8],
    start: usize,
    content_end: usize,
    next: usize,
) -> Result<HeaderField, ParseError> {
    let line = &b[start..content_end];
    let name_end = line
        .iter()
        .position(|&c| !is_token_char(c))
        .unwrap_or(line.len());
    let mut colon = name_end;
    while colon < line.len() && (line[colon] == b' ' || line[colon] == b'\t') {
        colon += 1;
    }
    if colon == line.len() || line[colon] != b':' {
        let reason = if memchr(b':', line).is_none() {
            "missing colon"
        } else {
            "header name is not a token"
        };
        return Err(ParseError::HeaderLineAt {
            reason,
            offset: start as u32,
        });
    }
    if name_end == 0 {
        return Err(ParseError::HeaderLineAt {
            reason: "header name is not a token",
            offset: start as u32,
        });
    }
    Ok(HeaderField {
        name: HeaderName::from_token(&line[..name_end]),
        name_span: span(start, start + name_end),
        value: span(start + colon + 1, content_end),
        line: span(start, next),
    })
}

/// Trims LWS (including folded line breaks) from both ends of a header value's span.
fn trim_value(b: &[u8], v: &mut Span) {
    let (mut s, mut e) = (v.start as usize, v.end as usize);
    while s < e && crate::text::is_lws(b[s]) {
        s += 1;
    }
    while e > s && crate::text::is_lws(b[e - 1]) {
        e -= 1;
    }
    *v = span(s, e);
}

/// Parses the request line or status line (RFC 3261 §7.1, §7.2, §25.1).
fn start_line(head: &str, line: Span) -> Result<StartLine, ParseError> {
    let text = head.get(line.range()).ok_or(ParseError::NotUtf8)?;
    let base = line.start as usize;
    if starts_with_ignore_case(text, "SIP/") {
        return status_line(text, base);
    }
    let sp1 = memchr(b' ', text.as_bytes()).ok_or(ParseError::StartLine("no Request-URI"))?;
    let method = &text[..sp1];
    if !is_token(method) {
        return Err(ParseError::StartLine("method is not a token"));
    }
    let rest = &text[sp1 + 1..];
    let sp2 =
        memchr::memrchr(b' ', rest.as_bytes()).ok_or(ParseError::StartLine("no SIP version"))?;
    let uri = &rest[..sp2];
    let version = &rest[sp2 + 1..];
    if uri.is_empty() || uri.starts_with(' ') || uri.ends_with(' ') {
        return Err(ParseError::StartLine("extra white space in request line"));
    }
    if version.is_empty() {
        return Err(ParseError::StartLine(
            "trailing white space in request line",
        ));
    }
    check_version(version)?;
    check_request_uri(uri)?;
    let uri_start = base + sp1 + 1;
    Ok(StartLine::Request {
        method: Method::from_name(method),
        uri: span(uri_start, uri_start + uri.len()),
    })
}

/// What a Request-URI must be (§7.1): a URI, and for SIP no headers in it (§19.1.1
/// table). Shared with the builder (`crate::build`), which writes request lines.
pub(crate) fn check_request_uri(uri: &str) -> Result<(), ParseError> {
    match Uri::parse(uri).map_err(ParseError::RequestUri)? {
        Uri::Sip(sip) if sip.headers.is_some() => Err(ParseError::StartLine(
            "headers not allowed in the Request-URI",
        )),
        _ => Ok(()),
    }
}

fn status_line(text: &str, base: usize) -> Result<StartLine, ParseError> {
    let (version, rest) = text
        .split_once(' ')
        .ok_or(ParseError::StartLine("no status code"))?;
    check_version(version)?;
    let (code, reason) = match rest.split_once(' ') {
        Some((c, r)) => (c, r),
        None => (rest, ""),
    };
    if code.len() != 3 {
        return Err(ParseError::StartLine("status code is not three digits"));
    }
    let code = parse_decimal(code, 699)
        .filter(|c| *c >= 100)
        .ok_or(ParseError::StartLine("bad status code"))? as u16;
    let reason_start = base + text.len() - reason.len();
    Ok(StartLine::Response {
        code,
        reason: span(reason_start, base + text.len()),
    })
}

/// RFC 3261 §7.1: `SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT`; only 2.0 is served (§8.2.2
/// would answer others with 505).
fn check_version(v: &str) -> Result<(), ParseError> {
    if v.len() == 7 && v.ends_with("/2.0") && starts_with_ignore_case(v, "SIP/") {
        return Ok(()); // nearly every message
    }
    if !starts_with_ignore_case(v, "SIP/") {
        return Err(ParseError::StartLine("bad SIP version"));
    }
    // "SIP/" is ASCII, so index 4 is a character boundary.
    let number = &v[4..];
    let well_formed = number.split_once('.').is_some_and(|(major, minor)| {
        !major.is_empty()
            && !minor.is_empty()
            && major.bytes().all(|c| c.is_ascii_digit())
            && minor.bytes().all(|c| c.is_ascii_digit())
    });
    if !well_formed {
        return Err(ParseError::StartLine("bad SIP version"));
    }
    if number != "2.0" {
        return Err(ParseError::Version);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multibyte_text_at_the_version_boundary_is_an_error_not_a_panic() {
        // Found by the property test: "SIP/" prefix checks sliced at byte 4 inside 'ς'.
        for start in [
            "\\B-ς x SIP/2.0",
            "INVITE sip:a@b SIPς",
            "SIPς 200 OK",
            "ςςς",
        ] {
            let msg = format!("{start}\r\nVia: SIP/2.0/UDP h\r\n\r\n");
            assert!(parse(Bytes::from(msg)).is_err(), "{start}");
            assert!(crate::build::reject_unparsed(
                format!("{start}\r\n\r\n").as_bytes(),
                &ParseError::Truncated
            )
            .is_none());
        }
    }

    const HEAD: &str = "INVITE sip:bob@example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n";

    fn with_line(line: &[u8]) -> (Vec<u8>, usize) {
        let mut m = HEAD.as_bytes().to_vec();
        let at = m.len();
        m.extend_from_slice(line);
        m.extend_from_slice(b"\r\nContent-Length: 0\r\n\r\n");
        (m, at)
    }

    #[test]
    fn a_header_that_is_not_utf8_is_named_with_byte_and_offset() {
        let (m, at) = with_line(b"Subject: caf\xe9");
        let err = parse(Bytes::from(m)).unwrap_err();
        let offset = at + 12;
        assert_eq!(
            err,
            ParseError::NotUtf8At {
                part: "Header Subject".into(),
                byte: 0xE9,
                offset: offset as u32
            }
        );
        assert_eq!(
            err.to_string(),
            format!("Header Subject is not UTF-8 (byte 0xE9 at offset {offset})")
        );
        assert_eq!(err.status_code(), 400);
    }

    #[test]
    fn compact_extension_and_folded_headers_are_named_too() {
        let (m, _) = with_line(b"s: \xff");
        let err = parse(Bytes::from(m)).unwrap_err().to_string();
        assert!(
            err.starts_with("Header Subject is not UTF-8 (byte 0xFF"),
            "{err}"
        );
        let (m, _) = with_line(b"X-Note: fine\r\n  and folded \xc0\xaf");
        let err = parse(Bytes::from(m)).unwrap_err().to_string();
        assert!(
            err.starts_with("Header X-Note is not UTF-8 (byte 0xC0"),
            "{err}"
        );
        // Truncated sequence at the end of the last header line.
        let (m, _) = with_line(b"X-Last: \xe2\x82");
        let err = parse(Bytes::from(m)).unwrap_err().to_string();
        assert!(
            err.starts_with("Header X-Last is not UTF-8 (byte 0xE2"),
            "{err}"
        );
    }

    #[test]
    fn a_start_line_that_is_not_utf8_is_named() {
        let m = b"\r\nINVITE sip:b\xfcb@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h\r\n\r\n";
        assert_eq!(
            parse(Bytes::from_static(m)).unwrap_err().to_string(),
            "Request line is not UTF-8 (byte 0xFC at offset 14)"
        );
        let m = b"SIP/2.0 200 \xff\r\nVia: SIP/2.0/UDP h\r\n\r\n";
        assert_eq!(
            parse(Bytes::from_static(m)).unwrap_err().to_string(),
            "Status line is not UTF-8 (byte 0xFF at offset 12)"
        );
    }

    #[test]
    fn valid_utf8_in_the_head_and_any_bytes_in_the_body_are_accepted() {
        let (m, _) = with_line("Subject: Gr\u{fc}\u{df}e \u{1f600}".as_bytes());
        let msg = parse(Bytes::from(m)).unwrap();
        assert_eq!(
            msg.header(HeaderName::Subject),
            Some("Gr\u{fc}\u{df}e \u{1f600}")
        );
        let mut m = HEAD.as_bytes().to_vec();
        m.extend_from_slice(b"Content-Length: 3\r\n\r\n\xff\x00\xfe");
        assert_eq!(parse(Bytes::from(m)).unwrap().body(), b"\xff\x00\xfe");
    }

    #[test]
    fn bad_header_lines_say_where_they_start() {
        let (m, at) = with_line(b"NoColonHere");
        assert_eq!(
            parse(Bytes::from(m)).unwrap_err().to_string(),
            format!("Bad header line at offset {at}: missing colon")
        );
        let (m, at) = with_line(b"Fr\xe9om: x");
        assert_eq!(
            parse(Bytes::from(m)).unwrap_err(),
            ParseError::HeaderLineAt {
                reason: "header name is not a token",
                offset: at as u32
            }
        );
    }

    #[test]
    fn missing_empty_line_at_datagram_end_is_tolerated() {
        let msg = parse(Bytes::from_static(
            b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\n",
        ))
        .unwrap();
        assert_eq!(msg.header_count(), 1);
        assert!(msg.body().is_empty());
        assert_eq!(
            parse(Bytes::from_static(
                b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h"
            ))
            .unwrap_err(),
            ParseError::Truncated
        );
    }
}
