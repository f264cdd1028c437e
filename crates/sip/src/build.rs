//! Building messages from scratch: requests (RFC 3261 §8.1.1), responses (§8.2.6, §20),
//! and a response to a received request with the headers §8.2.6.2 says to copy.
//!
//! A builder writes the wire text and parses it, so whatever it returns is a [`Message`]
//! that reads back exactly like a received one. Header values are checked for line breaks,
//! so no caller can inject a header through a value.

use bytes::{BufMut, BytesMut};

use crate::error::ParseError;
use crate::header_name::HeaderName;
use crate::message::Message;
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
    let b = value.as_bytes();
    let folded_ok = b.iter().enumerate().all(|(i, &c)| match c {
        b'\r' => b.get(i + 1) == Some(&b'\n') && matches!(b.get(i + 2), Some(b' ' | b'\t')),
        b'\n' => i > 0 && b[i - 1] == b'\r' && matches!(b.get(i + 1), Some(b' ' | b'\t')),
        _ => true,
    });
    if !folded_ok {
        return Err(ParseError::header(
            HeaderName::from_name(name),
            "value contains a line break",
        ));
    }
    Ok(())
}

/// Builds a request or a response line by line.
#[derive(Debug, Clone)]
pub struct MessageBuilder {
    buf: BytesMut,
    body: Option<(String, Vec<u8>)>,
    error: Option<ParseError>,
}

impl MessageBuilder {
    fn with_start_line(line: std::fmt::Arguments<'_>) -> MessageBuilder {
        let mut buf = BytesMut::with_capacity(512);
        std::fmt::Write::write_fmt(&mut Writer(&mut buf), line).ok();
        buf.put_slice(b"\r\n");
        MessageBuilder {
            buf,
            body: None,
            error: None,
        }
    }

    /// Starts a request: `METHOD request-uri SIP/2.0` (§7.1). The URI is checked when the
    /// message is built.
    pub fn request(method: &Method, request_uri: &str) -> MessageBuilder {
        let mut b = MessageBuilder::with_start_line(format_args!(
            "{} {} SIP/2.0",
            method.as_str(),
            request_uri
        ));
        if request_uri.contains(['\r', '\n', ' ']) {
            b.error = Some(ParseError::StartLine("Request-URI contains white space"));
        }
        b
    }

    /// Starts a response: `SIP/2.0 code reason` (§7.2); `reason` defaults to the standard
    /// phrase of the code.
    pub fn response(code: u16, reason: Option<&str>) -> MessageBuilder {
        let reason = reason.unwrap_or_else(|| reason_phrase(code));
        let mut b = MessageBuilder::with_start_line(format_args!("SIP/2.0 {code} {reason}"));
        if reason.contains(['\r', '\n']) {
            b.error = Some(ParseError::StartLine("reason phrase contains a line break"));
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
                    b = b.header(h.name, h.value);
                }
                HeaderName::Timestamp if code == 100 => b = b.header(h.name, h.value),
                HeaderName::To => {
                    let has_tag = request.to().map(|t| t.tag().is_some()).unwrap_or(false);
                    match to_tag {
                        Some(tag) if !has_tag && code > 100 => {
                            b = b.header_fmt(h.name, format_args!("{};tag={tag}", h.value));
                        }
                        _ => b = b.header(h.name, h.value),
                    }
                }
                _ => {}
            }
        }
        b
    }

    /// Appends a header line.
    pub fn header(self, name: impl IntoHeaderName, value: &str) -> MessageBuilder {
        self.header_fmt(name, format_args!("{value}"))
    }

    /// Appends a header line whose value is formatted in place (no intermediate String).
    pub fn header_fmt(
        mut self,
        name: impl IntoHeaderName,
        value: std::fmt::Arguments<'_>,
    ) -> MessageBuilder {
        let start = self.buf.len();
        let name_text = name.header_text();
        self.buf.put_slice(name_text.as_bytes());
        self.buf.put_slice(b": ");
        let value_start = self.buf.len();
        std::fmt::Write::write_fmt(&mut Writer(&mut self.buf), value).ok();
        let value_text = std::str::from_utf8(&self.buf[value_start..]).unwrap_or("");
        if let Err(e) = check_header(name_text, value_text) {
            self.buf.truncate(start);
            self.error.get_or_insert(e);
            return self;
        }
        self.buf.put_slice(b"\r\n");
        self
    }

    /// Sets the body and its Content-Type; Content-Length is written by [`Self::build`].
    pub fn body(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> MessageBuilder {
        self.body = Some((content_type.to_owned(), body.into()));
        self
    }

    /// Writes Content-Type, Content-Length and the body, and parses the result.
    pub fn build(self) -> Result<Message, ParseError> {
        let MessageBuilder {
            mut buf,
            body,
            error,
        } = self;
        if let Some(e) = error {
            return Err(e);
        }
        let body = match body {
            Some((ct, bytes)) => {
                check_header("Content-Type", &ct)?;
                buf.put_slice(b"Content-Type: ");
                buf.put_slice(ct.as_bytes());
                buf.put_slice(b"\r\n");
                bytes
            }
            None => Vec::new(),
        };
        std::fmt::Write::write_fmt(
            &mut Writer(&mut buf),
            format_args!("Content-Length: {}\r\n\r\n", body.len()),
        )
        .ok();
        buf.put_slice(&body);
        Message::parse(buf.freeze())
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
/// whose Via, From, To, Call-ID and CSeq can still be read (RFC 3261 §8.2.2 and RFC 4475
/// §3.1.2: a malformed request is answered with `400`, or `505` for a foreign version, whose
/// reason phrase says what is wrong). Returns `None` for responses (they are discarded,
/// §18.1.2) and for text too broken to route an answer back.
pub fn reject_unparsed(bytes: &[u8], error: &ParseError) -> Option<Message> {
    let text = std::str::from_utf8(bytes).ok()?;
    let text = text.trim_start_matches(['\r', '\n']);
    let head = &text[..text.find("\r\n\r\n").map_or(text.len(), |i| i + 2)];
    let mut lines = head.split_inclusive('\n');
    let start_line = lines.next()?;
    if crate::text::starts_with_ignore_case(start_line, "SIP/") {
        return None;
    }
    // Rebuild a minimal request from the lines needed to answer, folding included.
    let mut minimal = String::with_capacity(head.len());
    minimal.push_str("OPTIONS sip:invalid SIP/2.0\r\n");
    let mut keep = false;
    for line in lines {
        if line.starts_with([' ', '\t']) {
            if keep {
                minimal.push_str(line);
            }
            continue;
        }
        let name = line.split(':').next().unwrap_or("").trim();
        keep = matches!(
            HeaderName::from_name(name),
            HeaderName::Via
                | HeaderName::From
                | HeaderName::To
                | HeaderName::CallId
                | HeaderName::CSeq
        ) && line.contains(':');
        if keep {
            minimal.push_str(line);
            if !line.ends_with('\n') {
                minimal.push_str("\r\n");
            }
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
