//! The ACK an INVITE client transaction sends for a non-2xx final response (RFC 3261
//! §17.1.1.3).
//!
//! Built with [`MessageBuilder`], so it reads back exactly like a received ACK.

use crate::build::MessageBuilder;
use crate::header_name::HeaderName;
use crate::message::Message;
use crate::method::Method;

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

    let mut ack =
        MessageBuilder::request(&Method::Ack, uri).header(HeaderName::Via, &via_text(&via));
    for route in request.header_values(HeaderName::Route) {
        ack = ack.header(HeaderName::Route, route);
    }
    ack.header_fmt(HeaderName::MaxForwards, format_args!("{max_forwards}"))
        .header(HeaderName::From, from)
        .header(HeaderName::To, to)
        .header(HeaderName::CallId, call_id)
        .header_fmt(HeaderName::CSeq, format_args!("{cseq} ACK"))
        .build()
        .ok()
}
