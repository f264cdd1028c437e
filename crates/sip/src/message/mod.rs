//! [`Message`]: one SIP request or response held in a single `Bytes`, with the start line,
//! header fields and body recorded as byte ranges (RFC 3261 §7). Typed header values are
//! parsed only when asked for and borrow from the message.
//!
//! ## Layout
//!
//! - `mod.rs`: the [`Message`] type and its accessors.
//! - `parse.rs`: the zero-copy parser (start line, folded headers, body by Content-Length),
//!   and `assemble`, which makes a message from the positions a writer (`crate::build`)
//!   recorded, with the parser's checks on the head.

mod parse;

use std::ops::Range;

use bytes::Bytes;
use bytestring::ByteString;

use crate::error::ParseError;
use crate::header_name::HeaderName;
use crate::headers::{
    check_call_id, parse_delta_seconds, parse_max_forwards, tokens, CSeq, Contact, MediaType,
    NameAddr, Via, ViaSpans,
};
use crate::method::Method;
use crate::text::split_top_level;
use crate::uri::Uri;

pub(crate) use parse::{assemble, check_request_uri, Written, MAX_CONTENT_LENGTH};

/// A byte range into the message buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Span {
    pub(crate) start: u32,
    pub(crate) end: u32,
}

impl Span {
    pub(crate) fn range(self) -> Range<usize> {
        self.start as usize..self.end as usize
    }
}

/// One header line as it appears in the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HeaderField {
    pub(crate) name: HeaderName,
    /// The name as written (may be compact or oddly cased).
    pub(crate) name_span: Span,
    /// The value, LWS-trimmed at both ends; may contain folded line breaks inside.
    pub(crate) value: Span,
    /// The whole line(s) including the final CRLF, for copying untouched headers.
    pub(crate) line: Span,
}

/// Request line or status line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StartLine {
    Request { method: Method, uri: Span },
    Response { code: u16, reason: Span },
}

/// A parsed SIP message (RFC 3261 §7): a request or a response.
///
/// Parsing costs one allocation (the header table); the message text is shared, not
/// copied. Typed accessors such as [`Message::top_via`] or [`Message::from`] parse on
/// each call and return borrowed views.
#[derive(Debug, Clone)]
pub struct Message {
    pub(crate) buf: Bytes,
    /// The start line and header section of `buf`, checked once to be UTF-8 (shares the
    /// buffer; no copy).
    pub(crate) head: ByteString,
    pub(crate) start: StartLine,
    pub(crate) start_line: Span,
    pub(crate) headers: Vec<HeaderField>,
    pub(crate) body: Span,
    pub(crate) content_length: Option<u32>,
    /// The top Via, parsed at the first [`Message::top_via`] (`None` inside when it is
    /// missing or malformed: `top_via` then parses again and reports why). Not boxed: a
    /// parse and the reads of a transaction cost at most two allocations
    /// (`tests/alloc_budget.rs`).
    pub(crate) top_via: std::sync::OnceLock<Option<ViaSpans>>,
}

/// A header as seen through [`Message::headers`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    /// The recognised name ([`HeaderName::Other`] for extension headers).
    pub name: HeaderName,
    /// The name as written in the message.
    pub name_text: &'a str,
    /// The value, trimmed, possibly containing folded line breaks.
    pub value: &'a str,
}

impl Message {
    /// Parses one message from a datagram (RFC 3261 §18.3: octets past Content-Length are
    /// ignored; without Content-Length the body runs to the end). For stream transports cut
    /// the buffer with [`crate::framing`] first.
    ///
    /// The start line and header structure are checked here; header values are checked when
    /// read, or all at once by [`Message::validate`].
    pub fn parse(buf: impl Into<Bytes>) -> Result<Message, ParseError> {
        parse::parse(buf.into())
    }

    /// The whole message as received (or as built).
    pub fn as_bytes(&self) -> &Bytes {
        &self.buf
    }

    pub(crate) fn text(&self, span: Span) -> &str {
        // Every span starts and ends at an ASCII byte of the UTF-8-checked head, so this
        // never falls back.
        self.head.get(span.range()).unwrap_or("")
    }

    /// Whether this is a request.
    pub fn is_request(&self) -> bool {
        matches!(self.start, StartLine::Request { .. })
    }

    /// Whether this is a response.
    pub fn is_response(&self) -> bool {
        !self.is_request()
    }

    /// The request method; `None` for responses.
    pub fn method(&self) -> Option<&Method> {
        match &self.start {
            StartLine::Request { method, .. } => Some(method),
            StartLine::Response { .. } => None,
        }
    }

    /// The Request-URI text; `None` for responses.
    pub fn request_uri_str(&self) -> Option<&str> {
        match self.start {
            StartLine::Request { uri, .. } => Some(self.text(uri)),
            StartLine::Response { .. } => None,
        }
    }

    /// The Request-URI, parsed (it was validated when the message was parsed).
    pub fn request_uri(&self) -> Option<Uri<'_>> {
        self.request_uri_str().and_then(|u| Uri::parse(u).ok())
    }

    /// The status code; `None` for requests.
    pub fn status(&self) -> Option<u16> {
        match self.start {
            StartLine::Response { code, .. } => Some(code),
            StartLine::Request { .. } => None,
        }
    }

    /// The reason phrase; `None` for requests.
    pub fn reason(&self) -> Option<&str> {
        match self.start {
            StartLine::Response { reason, .. } => Some(self.text(reason)),
            StartLine::Request { .. } => None,
        }
    }

    /// The start line as written, without CRLF.
    pub fn start_line(&self) -> &str {
        self.text(self.start_line)
    }

    /// All header fields in order.
    pub fn headers(&self) -> impl Iterator<Item = Header<'_>> + '_ {
        self.headers.iter().map(|h| Header {
            name: h.name,
            name_text: self.text(h.name_span),
            value: self.text(h.value),
        })
    }

    /// Number of header lines.
    pub fn header_count(&self) -> usize {
        self.headers.len()
    }

    /// Values of every header line with this (known) name, in order.
    pub fn header_values(&self, name: HeaderName) -> impl Iterator<Item = &str> + '_ {
        self.headers
            .iter()
            .filter(move |h| h.name == name)
            .map(|h| self.text(h.value))
    }

    /// The value of the first header line with this known name.
    pub fn header(&self, name: HeaderName) -> Option<&str> {
        self.header_values(name).next()
    }

    /// The value of the first header with this name, compared case-insensitively (use for
    /// extension headers; known names also match their compact form).
    pub fn header_by_name(&self, name: &str) -> Option<&str> {
        let known = HeaderName::from_name(name);
        self.headers()
            .find(|h| {
                if known == HeaderName::Other {
                    h.name == HeaderName::Other && h.name_text.eq_ignore_ascii_case(name)
                } else {
                    h.name == known
                }
            })
            .map(|h| h.value)
    }

    /// Every comma-separated element of every header line with this name (RFC 3261 §7.3.1:
    /// several lines equal one comma-joined line), split around quotes and `<>`.
    pub fn list_values(
        &self,
        name: HeaderName,
    ) -> impl Iterator<Item = Result<&str, ParseError>> + '_ {
        self.header_values(name).flat_map(move |v| {
            split_top_level(v)
                .map(move |e| e.map_err(|_| ParseError::header(name, "unbalanced quotes or <>")))
        })
    }

    /// The only value of a single-valued header, or an error naming it when it is missing.
    fn required(&self, name: HeaderName) -> Result<&str, ParseError> {
        self.header(name)
            .ok_or_else(|| ParseError::header(name, "missing"))
    }

    /// The message body (empty when there is none).
    pub fn body(&self) -> &[u8] {
        &self.buf[self.body.range()]
    }

    /// The body as a shared slice of the message buffer (no copy).
    pub fn body_bytes(&self) -> Bytes {
        self.buf.slice(self.body.range())
    }

    /// The Content-Length value that framed the message, if the header was present.
    pub fn content_length(&self) -> Option<u32> {
        self.content_length
    }

    // ----- typed accessors (parsed on demand) -----------------------------------------

    /// Every Via value, top first (RFC 3261 §20.42), across lines and commas.
    pub fn vias(&self) -> impl Iterator<Item = Result<Via<'_>, ParseError>> + '_ {
        self.list_values(HeaderName::Via).map(|v| {
            v.and_then(|v| Via::parse(v).map_err(|e| ParseError::header(HeaderName::Via, e)))
        })
    }

    /// The topmost Via (the one a response goes back to, §18.2.2). Parsed at the first
    /// call and kept: a request's top Via is read by the transaction layer, NAT detection,
    /// `received` stamping and response routing.
    pub fn top_via(&self) -> Result<Via<'_>, ParseError> {
        let kept = self.top_via.get_or_init(|| {
            self.parse_top_via()
                .ok()
                .and_then(|via| via.to_spans(&self.head))
        });
        if let Some(via) = kept.and_then(|s| Via::from_spans(&s, &self.head)) {
            return Ok(via);
        }
        self.parse_top_via()
    }

    /// The topmost Via, parsed from the text.
    pub(crate) fn parse_top_via(&self) -> Result<Via<'_>, ParseError> {
        let first = self.required(HeaderName::Via)?;
        // Fast path: the first comma ends the top value unless a quoted parameter value
        // comes before it.
        let top = match memchr::memchr2(b',', b'"', first.as_bytes()) {
            None => first,
            Some(i) if first.as_bytes()[i] == b',' => crate::text::trim_lws(&first[..i]),
            Some(_) => split_top_level(first)
                .next()
                .and_then(Result::ok)
                .ok_or_else(|| ParseError::header(HeaderName::Via, "empty"))?,
        };
        Via::parse(top).map_err(|e| ParseError::header(HeaderName::Via, e))
    }

    /// The From header (§20.20). Like every address accessor, the URI is parsed only
    /// when asked for ([`NameAddr::parsed_uri`]); [`Message::validate`] checks it.
    pub fn from(&self) -> Result<NameAddr<'_>, ParseError> {
        NameAddr::parse(self.required(HeaderName::From)?)
            .map_err(|e| ParseError::header(HeaderName::From, e))
    }

    /// The To header (§20.39).
    pub fn to(&self) -> Result<NameAddr<'_>, ParseError> {
        NameAddr::parse(self.required(HeaderName::To)?)
            .map_err(|e| ParseError::header(HeaderName::To, e))
    }

    /// The Call-ID (§20.8).
    pub fn call_id(&self) -> Result<&str, ParseError> {
        check_call_id(self.required(HeaderName::CallId)?)
            .map_err(|e| ParseError::header(HeaderName::CallId, e))
    }

    /// The CSeq (§20.16).
    pub fn cseq(&self) -> Result<CSeq<'_>, ParseError> {
        CSeq::parse(self.required(HeaderName::CSeq)?)
            .map_err(|e| ParseError::header(HeaderName::CSeq, e))
    }

    /// Max-Forwards (§20.22); `Ok(None)` when absent.
    pub fn max_forwards(&self) -> Result<Option<u8>, ParseError> {
        self.header(HeaderName::MaxForwards)
            .map(|v| {
                parse_max_forwards(v).map_err(|e| ParseError::header(HeaderName::MaxForwards, e))
            })
            .transpose()
    }

    /// Expires (§20.19); `Ok(None)` when absent.
    pub fn expires(&self) -> Result<Option<u32>, ParseError> {
        self.delta_seconds(HeaderName::Expires)
    }

    /// Min-Expires (§20.23); `Ok(None)` when absent.
    pub fn min_expires(&self) -> Result<Option<u32>, ParseError> {
        self.delta_seconds(HeaderName::MinExpires)
    }

    fn delta_seconds(&self, name: HeaderName) -> Result<Option<u32>, ParseError> {
        self.header(name)
            .map(|v| parse_delta_seconds(v).map_err(|e| ParseError::header(name, e)))
            .transpose()
    }

    /// Content-Type (§20.15); `Ok(None)` when absent.
    pub fn content_type(&self) -> Result<Option<MediaType<'_>>, ParseError> {
        self.header(HeaderName::ContentType)
            .map(|v| {
                MediaType::parse(v).map_err(|e| ParseError::header(HeaderName::ContentType, e))
            })
            .transpose()
    }

    /// Whether the body is a session description: not empty, with Content-Type
    /// `application/sdp` (RFC 3264 §5, the offer/answer of an INVITE and its responses).
    pub fn has_sdp(&self) -> bool {
        !self.body().is_empty()
            && matches!(self.content_type(), Ok(Some(t)) if t.is("application", "sdp"))
    }

    /// Every Contact value (§20.10), including `*`.
    pub fn contacts(&self) -> impl Iterator<Item = Result<Contact<'_>, ParseError>> + '_ {
        self.list_values(HeaderName::Contact).map(|v| {
            v.and_then(|v| {
                Contact::parse(v).map_err(|e| ParseError::header(HeaderName::Contact, e))
            })
        })
    }

    /// Every Route value (§20.34), top first.
    pub fn routes(&self) -> impl Iterator<Item = Result<NameAddr<'_>, ParseError>> + '_ {
        self.addresses(HeaderName::Route)
    }

    /// Every Record-Route value (§20.30), top first.
    pub fn record_routes(&self) -> impl Iterator<Item = Result<NameAddr<'_>, ParseError>> + '_ {
        self.addresses(HeaderName::RecordRoute)
    }

    /// Every Path value (RFC 3327 §4).
    pub fn path(&self) -> impl Iterator<Item = Result<NameAddr<'_>, ParseError>> + '_ {
        self.addresses(HeaderName::Path)
    }

    fn addresses(
        &self,
        name: HeaderName,
    ) -> impl Iterator<Item = Result<NameAddr<'_>, ParseError>> + '_ {
        self.list_values(name).map(move |v| {
            v.and_then(|v| NameAddr::parse(v).map_err(|e| ParseError::header(name, e)))
        })
    }

    /// Option tags or methods of a token-list header (Require, Proxy-Require, Supported,
    /// Unsupported, Allow).
    pub fn token_list(
        &self,
        name: HeaderName,
    ) -> impl Iterator<Item = Result<&str, ParseError>> + '_ {
        self.header_values(name)
            .flat_map(tokens)
            .map(move |t| t.map_err(|e| ParseError::header(name, e)))
    }

    /// Require (§20.32).
    pub fn require(&self) -> impl Iterator<Item = Result<&str, ParseError>> + '_ {
        self.token_list(HeaderName::Require)
    }

    /// Proxy-Require (§20.29).
    pub fn proxy_require(&self) -> impl Iterator<Item = Result<&str, ParseError>> + '_ {
        self.token_list(HeaderName::ProxyRequire)
    }

    /// Supported (§20.37).
    pub fn supported(&self) -> impl Iterator<Item = Result<&str, ParseError>> + '_ {
        self.token_list(HeaderName::Supported)
    }

    /// Unsupported (§20.40).
    pub fn unsupported(&self) -> impl Iterator<Item = Result<&str, ParseError>> + '_ {
        self.token_list(HeaderName::Unsupported)
    }

    /// Allow (§20.5).
    pub fn allow(&self) -> impl Iterator<Item = Result<&str, ParseError>> + '_ {
        self.token_list(HeaderName::Allow)
    }

    /// User-Agent (§20.41), as written.
    pub fn user_agent(&self) -> Option<&str> {
        self.header(HeaderName::UserAgent)
    }

    /// Authorization values (§20.7), as written; parse them with [`crate::auth`].
    pub fn authorization(&self) -> impl Iterator<Item = &str> + '_ {
        self.header_values(HeaderName::Authorization)
    }

    /// Proxy-Authorization values (§20.28), as written.
    pub fn proxy_authorization(&self) -> impl Iterator<Item = &str> + '_ {
        self.header_values(HeaderName::ProxyAuthorization)
    }

    /// WWW-Authenticate values (§20.44), as written.
    pub fn www_authenticate(&self) -> impl Iterator<Item = &str> + '_ {
        self.header_values(HeaderName::WwwAuthenticate)
    }

    /// Proxy-Authenticate values (§20.27), as written.
    pub fn proxy_authenticate(&self) -> impl Iterator<Item = &str> + '_ {
        self.header_values(HeaderName::ProxyAuthenticate)
    }

    /// The first single-valued header that appears more than once (RFC 3261 §7.3: only list
    /// headers may repeat; RFC 4475 §3.3.8, §3.3.9).
    pub fn duplicate_single_header(&self) -> Option<HeaderName> {
        for (i, h) in self.headers.iter().enumerate() {
            if h.name.is_single_valued() && self.headers[i + 1..].iter().any(|o| o.name == h.name) {
                return Some(h.name);
            }
        }
        None
    }

    /// Checks the syntax of every header value the stack interprets (Via, From, To, Call-ID,
    /// CSeq, Max-Forwards, Contact, Route, Record-Route, Path, Expires, Min-Expires,
    /// Retry-After, Date, Content-Type, option-tag lists), and that no value holds a bare
    /// CR, reporting the first error.
    ///
    /// Together with [`Message::parse`] this is the full parser verdict used for RFC 4475.
    pub fn validate(&self) -> Result<(), ParseError> {
        use crate::headers::{parse_date, parse_retry_after};
        // The top Via through `top_via`, which keeps it for the transaction layer, then the
        // others.
        if self.header(HeaderName::Via).is_some() {
            self.top_via()?;
        }
        for v in self.list_values(HeaderName::Via).skip(1) {
            Via::parse(v?).map_err(|e| ParseError::header(HeaderName::Via, e))?;
        }
        for h in &self.headers {
            let value = self.text(h.value);
            let fail = |e: &str| ParseError::header(h.name, e);
            // RFC 3261 §7.3.1, §25.1: a CR in a header value only starts the CRLF of a
            // folded line (the parser ends lines at LF, so a bare CR stays inside one).
            let b = value.as_bytes();
            if memchr::memchr_iter(b'\r', b).any(|i| b.get(i + 1) != Some(&b'\n')) {
                return Err(fail("bare CR in the value"));
            }
            match h.name {
                HeaderName::From | HeaderName::To | HeaderName::ReplyTo => {
                    NameAddr::parse_strict(value).map_err(|e| fail(&e))?;
                }
                HeaderName::CallId => {
                    check_call_id(value).map_err(fail)?;
                }
                HeaderName::CSeq => {
                    let cseq = CSeq::parse(value).map_err(fail)?;
                    // RFC 3261 §8.1.1.5: the CSeq method MUST match the request method
                    // (RFC 4475 §3.1.2.17, §3.1.2.18).
                    if let Some(method) = self.method() {
                        if cseq.method != method.as_str() {
                            return Err(fail("method does not match the request line"));
                        }
                    }
                }
                HeaderName::MaxForwards => {
                    parse_max_forwards(value).map_err(fail)?;
                }
                HeaderName::Expires | HeaderName::MinExpires => {
                    parse_delta_seconds(value).map_err(fail)?;
                }
                HeaderName::RetryAfter => {
                    parse_retry_after(value).map_err(fail)?;
                }
                HeaderName::Date => {
                    parse_date(value).map_err(fail)?;
                }
                HeaderName::ContentType => {
                    MediaType::parse(value).map_err(fail)?;
                }
                HeaderName::Require
                | HeaderName::ProxyRequire
                | HeaderName::Supported
                | HeaderName::Unsupported
                | HeaderName::Allow => {
                    for t in tokens(value) {
                        t.map_err(fail)?;
                    }
                }
                _ => {}
            }
        }
        for c in self.contacts() {
            if let Some(addr) = c?.addr() {
                addr.parsed_uri().map_err(|e| {
                    ParseError::header(HeaderName::Contact, format!("bad URI: {e}"))
                })?;
            }
        }
        for name in [HeaderName::Route, HeaderName::RecordRoute, HeaderName::Path] {
            for r in self.addresses(name) {
                r?.parsed_uri()
                    .map_err(|e| ParseError::header(name, format!("bad URI: {e}")))?;
            }
        }
        Ok(())
    }
}
