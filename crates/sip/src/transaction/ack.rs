//! The ACK an INVITE client transaction sends for a non-2xx final response (RFC 3261
//! §17.1.1.3).
//!
//! Built by formatting text and parsing it back, all in [`non_2xx_ack`], so the message
//! builder can take over later without touching the state machine.

use std::fmt::Write as _;

use crate::header_name::HeaderName;
use crate::message::Message;

use super::key::via_text;

/// Builds the ACK for `response` (300-699) to the INVITE `request`.
///
/// §17.1.1.3: Request-URI, Call-ID, From, CSeq number and the top Via (only) come from the
/// original request; To (with the tag) from the response; CSeq method is ACK; the Route
/// header fields of the request are copied. Max-Forwards is the request's (70 if it had
/// none). `None` when the request or response lacks what is needed.
pub(super) fn non_2xx_ack(request: &Message, response: &Message) -> Option<Message> {
    let uri = request.request_uri_str()?;
    let via = request.top_via().ok()?;
    let from = request.header(HeaderName::From)?;
    let to = response.header(HeaderName::To)?;
    let call_id = request.call_id().ok()?;
    let cseq = request.cseq().ok()?.seq;
    let max_forwards = request.max_forwards().ok().flatten().unwrap_or(70);

    let mut text = String::with_capacity(256 + request.as_bytes().len() / 2);
    // Writing into a String cannot fail.
    let _ = write!(text, "ACK {uri} SIP/2.0\r\nVia: {}\r\n", via_text(&via));
    for route in request.header_values(HeaderName::Route) {
        let _ = write!(text, "Route: {route}\r\n");
    }
    let _ = write!(
        text,
        "Max-Forwards: {max_forwards}\r\nFrom: {from}\r\nTo: {to}\r\nCall-ID: {call_id}\r\n\
         CSeq: {cseq} ACK\r\nContent-Length: 0\r\n\r\n"
    );
    Message::parse(text.into_bytes()).ok()
}
