//! The answer a proxy gives to one received message, as the server's receive path makes
//! it from this crate's parts: a message that does not parse goes to
//! [`reject_unparsed`]; a request that parses goes through the proxy's sanity checks
//! ([`check_request`]) and is refused with their code, or, when it passes, is answered
//! `100 Trying` (RFC 3261 §17.2.1, an INVITE); responses are not answered.

use sip::build::reject_unparsed;
use sip::sanity::{check_request, Policy};
use sip::{Message, MessageBuilder, ParseError};

/// The answer to `bytes`, received as one datagram and parsed to `parsed`; `None` for no
/// answer.
pub(crate) fn answer_to(bytes: &[u8], parsed: Result<Message, ParseError>) -> Option<Message> {
    match parsed {
        Err(e) => reject_unparsed(bytes, &e),
        Ok(msg) if msg.is_response() => None,
        Ok(msg) => {
            let (code, reason) = match check_request(&msg, &Policy::PROXY) {
                Err(r) => (r.code, r.reason),
                Ok(()) => (100, "Trying".to_owned()),
            };
            MessageBuilder::response_to(&msg, code, Some(&reason), Some("a1"))
                .build()
                .ok()
        }
    }
}
