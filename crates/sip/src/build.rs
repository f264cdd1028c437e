//! Building messages from scratch: requests (RFC 3261 §8.1.1), responses (§8.2.6, §20),
//! and a response to a received request with the headers §8.2.6.2 says to copy.
//!
//! A builder writes the wire text and records where each part is, so whatever it returns is
//! a [`Message`] that reads back exactly like a received one (the tests parse the text and
//! compare). Header values are checked for line breaks, so no caller can inject a header
//! through a value.

use bytes::{BufMut, BytesMut};

use crate::error::ParseError;
use crate::header_name::HeaderName;
use crate::message::{
    check_request_uri, HeaderField, Message, Span, StartLine, Written, MAX_CONTENT_LENGTH,
};
use crate::method::Method;
use crate::status::reason_phrase;
use crate::text::is_token;

/// A header name given to a builder or an editor: a known [`HeaderName`] (written in its
/// canonical form) or an extension name as text.
pub trait IntoHeaderName {
    /// The name to match against existing headers.
    fn header_name(&self) -> HeaderName;
    /// The text to write.
    fn header_text(&self) -> &str;
}

impl IntoHeaderName for HeaderName {
    fn header_name(&self) -> HeaderName {
        *self
    }
    fn header_text(&self) -> &str {
        self.canonical().unwrap_or("X-Unknown")
    }
}

impl IntoHeaderName for &str {
    fn header_name(&self) -> HeaderName {
        HeaderName::from_name(self)
    }
    fn header_text(&self) -> &str {
        self
    }
}

/// Checks a header name and value before they are written (no CR/LF injection, §7.3.1):
/// a line break is allowed only as folding (CRLF followed by space or tab), as in values
/// copied from a received message.
pub(crate) fn check_header(name: &str, value: &str) -> Result<(), ParseError> {
    if !is_token(name) {
        return Err(ParseError::HeaderLine("header name is not a token"));
    }
    check_value(value.as_bytes()).map_err(|e| ParseError::header(HeaderName::from_name(name), e))
}

/// The value half of [`check_header`]: line breaks only as folding.
fn check_value(b: &[u8]) -> Result<(), &'static str> {
    // Nearly every value has no line break at all.
    let Some(first) = memchr::memchr2(b'\r', b'\n', b) else {
        return Ok(());
    };
    let folded_ok = b.iter().enumerate().skip(first).all(|(i, &c)| match c {
        b'\r' => b.get(i + 1) == Some(&b'\n') && matches!(b.get(i + 2), Some(b' ' | b'\t')),
        b'\n' => i > 0 && b[i - 1] == b'\r' && matches!(b.get(i + 1), Some(b' ' | b'\t')),
        _ => true,
    });
    if !folded_ok {
        return Err("value contains a line break");
    }
    Ok(())
}

/// A received header value as it can be copied into a response. The parser leaves a bare
/// CR inside a header line (only LF ends one); §7.3.1 allows a line break in a value only
/// as folding, which means a space, so every CR and LF of a value that has a bare one is
/// written as a space. The response to a request with such a value (a 400, §8.2.6.2) can
/// then still be built and sent.
fn copyable(value: &str) -> std::borrow::Cow<'_, str> {
    if check_value(value.as_bytes()).is_ok() {
        return std::borrow::Cow::Borrowed(value);
    }
    std::borrow::Cow::Owned(value.replace(['\r', '\n'], " "))
}

/// Builds a request or a response line by line.
///
/// The builder records where it writes the start line and each header, so
/// [`MessageBuilder::build`] assembles the [`Message`] from those positions instead of
/// parsing its own text (the tests check both give the same message). A Content-Length
/// given by the caller is the one exception: the text is then parsed, so the message is
/// framed the way a receiver would frame it.
#[derive(Debug, Clone)]
pub struct MessageBuilder {
    buf: BytesMut,
    start: StartLine,
    start_line: Span,
    headers: Vec<HeaderField>,
    /// Boxed, as is `error`: both are rare, and the builder is moved by every call.
    body: Option<Box<(String, Vec<u8>)>>,
    error: Option<Box<ParseError>>,
    /// A Content-Length header was added by the caller.
    reparse: bool,
}

/// Header slots reserved up front: a response carries the five copied headers and a few
/// more.
const HEADER_CAPACITY: usize = 12;

fn span(start: usize, end: usize) -> Span {
    // `build` refuses messages past `u32::MAX / 2` bytes before these are used.
    Span {
        start: start as u32,
        end: end as u32,
    }
}

impl MessageBuilder {
    fn with_start_line(line: std::fmt::Arguments<'_>, start: StartLine) -> MessageBuilder {
        let mut buf = BytesMut::with_capacity(512);
        std::fmt::Write::write_fmt(&mut Writer(&mut buf), line).ok();
        let start_line = span(0, buf.len());
        buf.put_slice(b"\r\n");
        MessageBuilder {
            buf,
            start,
            start_line,
            headers: Vec::with_capacity(HEADER_CAPACITY),
            body: None,
            error: None,
            reparse: false,
        }
    }

    /// Starts a request: `METHOD request-uri SIP/2.0` (§7.1). The URI is checked when the
    /// message is built.
    pub fn request(method: &Method, request_uri: &str) -> MessageBuilder {
        let name = method.as_str();
        let uri_start = name.len() + 1;
        let mut b = MessageBuilder::with_start_line(
            format_args!("{name} {request_uri} SIP/2.0"),
            StartLine::Request {
                // As the parser names it (an `Extension` spelling a known method is that one).
                method: Method::from_name(name),
                uri: span(uri_start, uri_start + request_uri.len()),
            },
        );
        if request_uri.contains(['\r', '\n', ' ']) || request_uri.is_empty() {
            b.error = Some(Box::new(ParseError::StartLine(
                "Request-URI contains white space",
            )));
        } else if !is_token(name) {
            b.error = Some(Box::new(ParseError::StartLine("method is not a token")));
        } else if let Err(e) = check_request_uri(request_uri) {
            b.error = Some(Box::new(e));
        }
        b
    }

    /// Starts a response: `SIP/2.0 code reason` (§7.2); `reason` defaults to the standard
    /// phrase of the code.
    pub fn response(code: u16, reason: Option<&str>) -> MessageBuilder {
        let reason = reason.unwrap_or_else(|| reason_phrase(code));
        // "SIP/2.0 " and three digits and a space (a code of another width is refused).
        let reason_start = 12;
        let mut b = MessageBuilder::with_start_line(
            format_args!("SIP/2.0 {code} {reason}"),
            StartLine::Response {
                code,
                reason: span(reason_start, reason_start + reason.len()),
            },
        );
        if reason.contains(['\r', '\n']) {
            b.error = Some(Box::new(ParseError::StartLine(
                "reason phrase contains a line break",
            )));
        } else if !(100..=699).contains(&code) {
            b.error = Some(Box::new(ParseError::StartLine("bad status code")));
        }
        b
    }

    /// Starts the response to `request` per RFC 3261 §8.2.6.2: Via (all, in order), From,
    /// To (with `to_tag` added when the To has no tag yet and the code is above 100),
    /// Call-ID and CSeq are copied; for 100 Trying, Timestamp too (§8.2.6.1).
    pub fn response_to(
        request: &Message,
        code: u16,
        reason: Option<&str>,
        to_tag: Option<&str>,
    ) -> MessageBuilder {
        let mut b = MessageBuilder::response(code, reason);
        for h in request.headers() {
            match h.name {
                HeaderName::Via | HeaderName::From | HeaderName::CallId | HeaderName::CSeq => {
                    b = b.header(h.name, &copyable(h.value));
                }
                HeaderName::Timestamp if code == 100 => b = b.header(h.name, &copyable(h.value)),
                HeaderName::To => {
                    let has_tag = request.to().map(|t| t.tag().is_some()).unwrap_or(false);
                    let value = copyable(h.value);
                    match to_tag {
                        Some(tag) if !has_tag && code > 100 => {
                            b = b.header_fmt(h.name, format_args!("{value};tag={tag}"));
                        }
                        _ => b = b.header(h.name, &value),
                    }
                }
                _ => {}
            }
        }
        b
    }

    /// Appends a header line.
    pub fn header(mut self, name: impl IntoHeaderName, value: &str) -> MessageBuilder {
        self.push_header(name, |buf| buf.put_slice(value.as_bytes()));
        self
    }

    /// Appends a header line whose value is formatted in place (no intermediate String).
    pub fn header_fmt(
        mut self,
        name: impl IntoHeaderName,
        value: std::fmt::Arguments<'_>,
    ) -> MessageBuilder {
        self.push_header(name, |buf| {
            std::fmt::Write::write_fmt(&mut Writer(buf), value).ok();
        });
        self
    }

    /// Writes `name: value CRLF`, checks it and records where it is; a bad line is taken
    /// back and kept as the error [`Self::build`] returns.
    fn push_header(&mut self, name: impl IntoHeaderName, write_value: impl FnOnce(&mut BytesMut)) {
        let start = self.buf.len();
        let name_text = name.header_text();
        let header_name = name.header_name();
        // Known names are written in their canonical spelling, a token.
        if header_name == HeaderName::Other && !is_token(name_text) {
            self.error.get_or_insert_with(|| {
                Box::new(ParseError::HeaderLine("header name is not a token"))
            });
            return;
        }
        self.buf.put_slice(name_text.as_bytes());
        self.buf.put_slice(b": ");
        let value_start = self.buf.len();
        write_value(&mut self.buf);
        let value_end = self.buf.len();
        if let Err(e) = check_value(&self.buf[value_start..value_end]) {
            self.buf.truncate(start);
            self.error
                .get_or_insert_with(|| Box::new(ParseError::header(header_name, e)));
            return;
        }
        self.buf.put_slice(b"\r\n");
        self.reparse |= header_name == HeaderName::ContentLength;
        self.headers.push(HeaderField {
            name: header_name,
            name_span: span(start, start + name_text.len()),
            value: span(value_start, value_end),
            line: span(start, self.buf.len()),
        });
    }

    /// Sets the body and its Content-Type; Content-Length is written by [`Self::build`].
    pub fn body(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> MessageBuilder {
        self.body = Some(Box::new((content_type.to_owned(), body.into())));
        self
    }

    /// Writes Content-Type, Content-Length and the body, and makes the [`Message`].
    pub fn build(mut self) -> Result<Message, ParseError> {
        let body = match self.body.take().map(|b| *b) {
            Some((ct, bytes)) => {
                self.push_header(HeaderName::ContentType, |buf| buf.put_slice(ct.as_bytes()));
                bytes
            }
            None => Vec::new(),
        };
        if let Some(e) = self.error {
            return Err(*e);
        }
        if body.len() as u64 > MAX_CONTENT_LENGTH {
            return Err(ParseError::header(
                HeaderName::ContentLength,
                "not a valid length",
            ));
        }
        self.push_header(HeaderName::ContentLength, |buf| {
            std::fmt::Write::write_fmt(&mut Writer(buf), format_args!("{}", body.len())).ok();
        });
        let MessageBuilder {
            mut buf,
            start,
            start_line,
            headers,
            reparse,
            ..
        } = self;
        buf.put_slice(b"\r\n");
        let body_start = buf.len();
        buf.put_slice(&body);
        if reparse {
            return Message::parse(buf.freeze());
        }
        crate::message::assemble(Written {
            buf: buf.freeze(),
            start,
            start_line,
            headers,
            body_start,
        })
    }
}

/// The CANCEL for a request this element sent (RFC 3261 §9.1): the same Request-URI,
/// Call-ID, To, From and CSeq number (method CANCEL), a single Via equal to the request's
/// top Via (so it matches the same server transaction downstream, §9.2), and the request's
/// Route header fields. Max-Forwards is 70.
pub fn cancel_for(request: &Message) -> Result<Message, ParseError> {
    let uri = request
        .request_uri_str()
        .ok_or(ParseError::StartLine("a response cannot be cancelled"))?;
    let cseq = request.cseq()?;
    let mut b = MessageBuilder::request(&crate::Method::Cancel, uri);
    if let Some(via) = request.header_values(HeaderName::Via).next() {
        let top = crate::text::split_top_level(via)
            .next()
            .and_then(Result::ok)
            .unwrap_or(via);
        b = b.header(HeaderName::Via, top);
    }
    for h in request.headers() {
        match h.name {
            HeaderName::From | HeaderName::To | HeaderName::CallId | HeaderName::Route => {
                b = b.header(h.name, h.value);
            }
            _ => {}
        }
    }
    b.header_fmt(HeaderName::CSeq, format_args!("{} CANCEL", cseq.seq))
        .header(HeaderName::MaxForwards, "70")
        .build()
}

/// Builds the error response to bytes that did not parse, when they look like a request
/// whose top Via can still be read (RFC 3261 §8.2.2 and RFC 4475 §3.1.2: a malformed
/// request is answered with `400`, or `505` for a foreign version, whose reason phrase says
/// what is wrong). Returns `None` for responses (they are discarded, §18.1.2) and for
/// requests without a usable top Via (there is no address to answer).
///
/// Works on bytes: the body and the headers that are not copied into the answer may hold
/// anything. From, To, Call-ID and CSeq are copied as §8.2.6.2 says, even when they are
/// what is malformed; bytes in them that are not UTF-8 are copied as U+FFFD.
pub fn reject_unparsed(bytes: &[u8], error: &ParseError) -> Option<Message> {
    // §7.5: CRLFs before the start line are ignored.
    let first = bytes.iter().position(|&c| c != b'\r' && c != b'\n')?;
    let mut lines = bytes[first..].split_inclusive(|&c| c == b'\n');
    let start_line = lines.next()?;
    if start_line
        .get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case(b"SIP/"))
    {
        return None;
    }
    // Rebuild a minimal request from the lines needed to answer, folding included, up to
    // the empty line that ends the header section.
    let mut minimal = String::with_capacity(256);
    minimal.push_str("OPTIONS sip:invalid SIP/2.0\r\n");
    let mut keep = false;
    for line in lines {
        if line == b"\r\n" || line == b"\n" {
            break;
        }
        if !line.starts_with(b" ") && !line.starts_with(b"\t") {
            keep = line.iter().position(|&c| c == b':').is_some_and(|colon| {
                let name = line[..colon].trim_ascii();
                matches!(
                    HeaderName::from_bytes(name),
                    HeaderName::Via
                        | HeaderName::From
                        | HeaderName::To
                        | HeaderName::CallId
                        | HeaderName::CSeq
                )
            });
        }
        if keep {
            // Each kept line ends in CRLF, whatever ended it (a bare LF, or nothing at the
            // end of a cut message).
            let text = String::from_utf8_lossy(line);
            minimal.push_str(text.trim_end_matches(['\r', '\n']));
            minimal.push_str("\r\n");
        }
    }
    minimal.push_str("Content-Length: 0\r\n\r\n");
    let skeleton = Message::parse(minimal).ok()?;
    // Only the Via is needed to send the answer back; the other headers are copied as they
    // are, even when they are what is malformed.
    skeleton.top_via().ok()?;
    let reason = error.to_string();
    MessageBuilder::response_to(&skeleton, error.status_code(), Some(&reason), None)
        .build()
        .ok()
}

/// `fmt::Write` into a `BytesMut`.
pub(crate) struct Writer<'a>(pub(crate) &'a mut BytesMut);

impl std::fmt::Write for Writer<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.put_slice(s.as_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVITE: &[u8] = b"INVITE sip:bob@example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP pc33.example.com;branch=z9hG4bK776asdhds\r\n\
Via: SIP/2.0/UDP 192.0.2.4;branch=z9hG4bKnashds8;received=192.0.2.9\r\n\
Max-Forwards: 70\r\n\
To: Bob <sip:bob@example.com>\r\n\
From: Alice <sip:alice@example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.example.com\r\n\
CSeq: 314159 INVITE\r\n\
Timestamp: 54\r\n\
Contact: <sip:alice@pc33.example.com>\r\n\
Content-Length: 0\r\n\r\n";

    fn request_with(line: &[u8], body: &[u8], length: usize) -> Vec<u8> {
        let mut m = b"INVITE sip:bob@example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.4:5060;branch=z9hG4bKnashds8\r\n\
From: Alice <sip:alice@example.com>;tag=1928301774\r\n\
To: Bob <sip:bob@example.com>\r\n\
Call-ID: a84b4c76e66710\r\n\
CSeq: 314159 INVITE\r\n"
            .to_vec();
        m.extend_from_slice(line);
        m.extend_from_slice(format!("\r\nContent-Length: {length}\r\n\r\n").as_bytes());
        m.extend_from_slice(body);
        m
    }

    fn rejected(bytes: &[u8]) -> Option<Message> {
        let err = Message::parse(bytes.to_vec()).unwrap_err();
        reject_unparsed(bytes, &err)
    }

    #[test]
    fn a_request_with_a_header_that_is_not_utf8_gets_a_400_saying_where() {
        let bytes = request_with(b"Subject: caf\xe9", b"", 0);
        let resp = rejected(&bytes).expect("answered");
        assert_eq!(resp.status(), Some(400));
        let reason = resp.reason().unwrap();
        assert!(
            reason.starts_with("Header Subject is not UTF-8 (byte 0xE9 at offset "),
            "{reason}"
        );
        assert_eq!(resp.header(HeaderName::CallId), Some("a84b4c76e66710"));
        assert_eq!(resp.header(HeaderName::CSeq), Some("314159 INVITE"));
    }

    #[test]
    fn bytes_that_are_not_utf8_in_a_copied_header_are_copied_as_replacement_characters() {
        let bytes = request_with(b"", b"", 0);
        let text = String::from_utf8(bytes).unwrap();
        let bytes = text
            .replacen("Alice", "Al\u{0}ice", 1)
            .into_bytes()
            .iter()
            .map(|&c| if c == 0 { 0xff } else { c })
            .collect::<Vec<u8>>();
        let resp = rejected(&bytes).expect("answered");
        assert_eq!(resp.status(), Some(400));
        assert_eq!(
            resp.header(HeaderName::From),
            Some("Al\u{fffd}ice <sip:alice@example.com>;tag=1928301774")
        );
    }

    #[test]
    fn a_body_that_is_not_utf8_does_not_stop_the_answer() {
        // Content-Length says more than the datagram holds; the body is binary.
        let bytes = request_with(b"Subject: x", b"\xff\xfe\x00\x80", 10);
        let resp = rejected(&bytes).expect("answered");
        assert_eq!(
            resp.reason(),
            Some("Content-Length larger than the message body")
        );
    }

    #[test]
    fn bare_lf_line_ends_and_a_cut_last_line_are_answered() {
        let bytes = b"INVITE sip:b\xff SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.4\nCSeq: 1 INVITE";
        let resp = rejected(bytes).expect("answered");
        assert_eq!(resp.status(), Some(400));
        assert_eq!(resp.header(HeaderName::CSeq), Some("1 INVITE"));
    }

    #[test]
    fn a_via_that_is_not_utf8_leaves_no_address_to_answer() {
        let bytes = b"INVITE sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h\xefst\r\n\r\n";
        assert!(rejected(bytes).is_none());
    }

    #[test]
    fn a_bare_cr_in_a_copied_value_is_written_as_a_space() {
        let bytes = request_with(b"", b"", 0);
        let text = String::from_utf8(bytes)
            .unwrap()
            .replacen("Bob <", "Bob\r<", 1);
        let req = Message::parse(text).unwrap();
        assert_eq!(
            req.header(HeaderName::To),
            Some("Bob\r<sip:bob@example.com>")
        );
        let resp = MessageBuilder::response_to(&req, 400, Some("Bad To header"), Some("t1"))
            .build()
            .expect("builds");
        assert_eq!(
            resp.header(HeaderName::To),
            Some("Bob <sip:bob@example.com>;tag=t1")
        );
    }

    #[test]
    fn response_copies_the_8_2_6_headers() {
        let req = Message::parse(INVITE).unwrap();
        let resp = MessageBuilder::response_to(&req, 180, None, Some("a6c85cf"))
            .header(HeaderName::Contact, "<sip:bob@192.0.2.4>")
            .build()
            .unwrap();
        assert_eq!(resp.status(), Some(180));
        assert_eq!(resp.reason(), Some("Ringing"));
        assert_eq!(resp.vias().count(), 2);
        assert_eq!(resp.to().unwrap().tag(), Some("a6c85cf"));
        assert_eq!(resp.from().unwrap().tag(), Some("1928301774"));
        assert_eq!(resp.call_id().unwrap(), "a84b4c76e66710@pc33.example.com");
        assert_eq!(resp.cseq().unwrap().seq, 314159);
        assert!(resp.header(HeaderName::Timestamp).is_none());
        assert!(resp.header(HeaderName::MaxForwards).is_none());
        let trying = MessageBuilder::response_to(&req, 100, None, Some("x"))
            .build()
            .unwrap();
        assert_eq!(trying.to().unwrap().tag(), None);
        assert_eq!(trying.header(HeaderName::Timestamp), Some("54"));
    }

    #[test]
    fn request_from_scratch_with_body() {
        let msg = MessageBuilder::request(&Method::Message, "sip:bob@example.com")
            .header(HeaderName::Via, "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1")
            .header("X-Custom", "yes")
            .body("text/plain", "hello")
            .build()
            .unwrap();
        assert_eq!(msg.method(), Some(&Method::Message));
        assert_eq!(msg.body(), b"hello");
        assert_eq!(msg.content_length(), Some(5));
        assert_eq!(msg.header_by_name("x-custom"), Some("yes"));
    }

    #[test]
    fn answers_unparsable_requests() {
        let bad = b"INVITE  sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
From: <sip:a@b>;tag=1\r\nTo: <sip:bob@example.com>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n\
Content-Length: 0\r\n\r\n";
        let err = Message::parse(&bad[..]).unwrap_err();
        let resp = reject_unparsed(bad, &err).unwrap();
        assert_eq!(resp.status(), Some(400));
        assert_eq!(
            resp.reason(),
            Some("Bad start line: extra white space in request line")
        );
        assert_eq!(resp.cseq().unwrap().method, "INVITE");
        assert_eq!(resp.top_via().unwrap().branch(), Some("z9hG4bK1"));
        let response = b"SIP/2.0 999999 x\r\nVia: SIP/2.0/UDP h\r\n\r\n";
        let err = Message::parse(&response[..]).unwrap_err();
        assert!(reject_unparsed(response, &err).is_none());
        assert!(reject_unparsed(b"garbage", &ParseError::Truncated).is_none());
    }

    /// The message `build` assembles from the builder's positions equals the one the
    /// parser makes of the same text.
    fn assert_reads_back(builder: MessageBuilder) -> Message {
        let built = builder.build().unwrap();
        let parsed = Message::parse(built.as_bytes().clone()).unwrap();
        assert_eq!(built.start, parsed.start, "start line");
        assert_eq!(built.start_line, parsed.start_line, "start line span");
        assert_eq!(built.headers, parsed.headers, "headers");
        assert_eq!(built.body, parsed.body, "body");
        assert_eq!(
            built.content_length, parsed.content_length,
            "Content-Length"
        );
        assert_eq!(&*built.head, &*parsed.head, "head");
        built
    }

    #[test]
    fn built_messages_equal_their_parse() {
        let req = Message::parse(INVITE).unwrap();
        for code in [100, 180, 200, 486, 699] {
            assert_reads_back(MessageBuilder::response_to(&req, code, None, Some("t1")));
        }
        assert_reads_back(
            MessageBuilder::response(404, Some("Nicht gefunden, ünbekannt"))
                .header("v", "SIP/2.0/UDP h;branch=z9hG4bK1")
                .header("X-Custom", "  padded value\t ")
                .header("x-lower-ext", "")
                .header(HeaderName::Subject, "one\r\n two\r\n\tthree")
                .header("Subject", "\r\n folded first")
                .header_fmt(HeaderName::Expires, format_args!("{}", 3600)),
        );
        assert_reads_back(
            MessageBuilder::request(
                &Method::Extension("PUBLISH".into()),
                "sip:a@b;transport=tcp",
            )
            .header(HeaderName::CallId, "c1")
            .body("application/sdp", &b"v=0\r\n\r\nnot headers: x\r\n"[..]),
        );
        assert_reads_back(MessageBuilder::request(&Method::Invite, "tel:+4684567890"));
        assert_reads_back(MessageBuilder::request(
            &Method::Register,
            "urn:service:sos",
        ));
        let odd = assert_reads_back(MessageBuilder::request(
            &Method::Extension("INVITE".into()),
            "sip:x@y",
        ));
        assert_eq!(odd.method(), Some(&Method::Invite));
        // A caller's own Content-Length frames the message, as for a receiver.
        let framed = MessageBuilder::request(&Method::Options, "sip:a@b")
            .header(HeaderName::ContentLength, "0")
            .build()
            .unwrap();
        assert_eq!(framed.content_length, Some(0));
        assert_eq!(framed.header_values(HeaderName::ContentLength).count(), 2);
    }

    #[test]
    fn refuses_what_the_parser_would() {
        for (builder, why) in [
            (MessageBuilder::response(99, None), "bad status code"),
            (
                MessageBuilder::response(700, Some("Odd")),
                "bad status code",
            ),
            (
                MessageBuilder::request(&Method::Extension("BAD METHOD".into()), "sip:a@b"),
                "method is not a token",
            ),
            (
                MessageBuilder::request(&Method::Extension("BAD(METHOD".into()), "sip:a@b"),
                "method is not a token",
            ),
            (MessageBuilder::request(&Method::Options, ""), "white space"),
            (
                MessageBuilder::request(&Method::Options, "sip:a@b?Subject=x"),
                "headers not allowed",
            ),
            (
                MessageBuilder::request(&Method::Options, "sip:a@<b>"),
                "Request-URI",
            ),
            (
                MessageBuilder::request(&Method::Options, "sip:a@b").header("Bad Name", "x"),
                "not a token",
            ),
        ] {
            let err = builder.build().unwrap_err().to_string();
            assert!(err.contains(why), "{err:?} should say {why:?}");
        }
    }

    #[test]
    fn refuses_header_injection() {
        let err = MessageBuilder::request(&Method::Options, "sip:a@b")
            .header("Subject", "hi\r\nVia: evil")
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("line break"));
        for evil in ["a\r\n", "a\nb", "a\rb", "a\r\nX: y", "a\n b"] {
            assert!(
                MessageBuilder::request(&Method::Options, "sip:a@b")
                    .header("Subject", evil)
                    .build()
                    .is_err(),
                "{evil:?}"
            );
        }
        let folded = MessageBuilder::request(&Method::Options, "sip:a@b")
            .header("Subject", "one\r\n two")
            .build()
            .unwrap();
        assert_eq!(folded.header(HeaderName::Subject), Some("one\r\n two"));
        assert!(MessageBuilder::request(&Method::Options, "sip:a@b c")
            .build()
            .is_err());
        assert!(MessageBuilder::response(200, Some("OK\r\nX: y"))
            .build()
            .is_err());
    }

    #[test]
    fn cancel_copies_what_section_9_1_says() {
        let invite = Message::parse(
            "INVITE sip:bob@192.0.2.4:5062 SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-b1, SIP/2.0/UDP 10.0.0.2;branch=z9hG4bK-a\r\n\
Via: SIP/2.0/UDP 10.0.0.3;branch=z9hG4bK-z\r\n\
Route: <sip:gw.example.com;lr>\r\nMax-Forwards: 69\r\n\
From: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\n\
Call-ID: c@x\r\nCSeq: 7 INVITE\r\nContact: <sip:alice@10.0.0.2>\r\n\
Content-Type: application/sdp\r\nContent-Length: 3\r\n\r\nv=0",
        )
        .unwrap();
        let cancel = cancel_for(&invite).unwrap();
        assert_eq!(cancel.method(), Some(&Method::Cancel));
        assert_eq!(cancel.request_uri_str(), Some("sip:bob@192.0.2.4:5062"));
        let vias: Vec<_> = cancel
            .vias()
            .map(|v| v.unwrap().branch().unwrap().to_owned())
            .collect();
        assert_eq!(vias, ["z9hG4bK-b1"]);
        assert_eq!(
            cancel.header(HeaderName::Route),
            Some("<sip:gw.example.com;lr>")
        );
        assert_eq!(cancel.cseq().unwrap().seq, 7);
        assert_eq!(cancel.cseq().unwrap().method, "CANCEL");
        assert_eq!(cancel.call_id().unwrap(), "c@x");
        assert!(cancel.header(HeaderName::Contact).is_none());
        assert!(cancel.body().is_empty());
    }
}
