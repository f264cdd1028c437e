//! The Binding server (RFC 5389 §7.3, RFC 5780 §6): [`answer`] turns a request into the
//! response to send, to whom, and from which of the server's two sockets.
//!
//! The server has one IP address and two ports: the socket a request came to and the
//! "other" socket. That is enough for the mapping test of RFC 5780 §4.3 (does the NAT
//! give the same public port toward both server ports?) and the "change port" filtering
//! test of §4.4. A "change IP" request cannot be honoured, so it is refused with 420 and
//! CHANGE-REQUEST listed as not understood, which §6.1 lets a client read as "this server
//! cannot do that test".

use std::net::SocketAddr;

use crate::attribute::{
    decode_response_port, encode_address, encode_error_code, encode_unknown_attributes,
    encode_xor_address, AttributeType, ChangeRequest,
};
use crate::error::StunError;
use crate::message::{Class, Message, MessageBuilder, TransactionId, BINDING};

/// SOFTWARE of itsp's answers (§15.10).
pub const SOFTWARE: &str = "itsp";

/// Which of the server's sockets sends a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseSocket {
    /// The socket the request came to.
    Receiving,
    /// The other socket (a CHANGE-REQUEST with "change port").
    Other,
}

/// A response to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The message.
    pub bytes: Vec<u8>,
    /// The socket to send it from.
    pub from: ResponseSocket,
    /// Where to send it: the request's source, or its IP with the RESPONSE-PORT.
    pub to: SocketAddr,
}

/// Answers `request`, which came from `source` to the socket bound at `local`; `other` is
/// the server's other socket, if it has one. `None`: nothing to send (not STUN, not a
/// request — RFC 5389 §7.3 discards those).
///
/// A Binding request gets a success response with XOR-MAPPED-ADDRESS (§15.2) and
/// MAPPED-ADDRESS (§15.1, for RFC 3489 clients) of `source`, RESPONSE-ORIGIN and
/// OTHER-ADDRESS (RFC 5780 §7.3, §7.4), SOFTWARE and FINGERPRINT. Errors: 400 for a
/// malformed request or another method (§7.3.1), 420 with UNKNOWN-ATTRIBUTES for
/// comprehension-required attributes not understood (§7.3.1) and for a CHANGE-REQUEST
/// that cannot be honoured (RFC 5780 §6.1).
///
/// `local` and `other` should carry the server's real IP; a socket bound to the wildcard
/// address gives `0.0.0.0` in RESPONSE-ORIGIN and OTHER-ADDRESS, which clients read as "the
/// address you sent to" ([`crate::client::BindingResponse::other_address_from`]).
pub fn answer(
    request: &[u8],
    source: SocketAddr,
    local: SocketAddr,
    other: Option<SocketAddr>,
) -> Option<Response> {
    let message = match Message::parse(request) {
        Ok(m) => m,
        Err(StunError::TooShort(_) | StunError::NotStun) => return None,
        Err(e) => {
            // The header is STUN: a request gets told what is wrong with it (§7.3.1).
            let header = request.get(..20)?;
            if header[0] & 0x01 != 0 || header[1] & 0x10 != 0 {
                return None; // not the request class
            }
            let mut id = [0u8; 12];
            id.copy_from_slice(&header[8..20]);
            let method = u16::from_be_bytes([header[0], header[1]]) & 0x3EEF;
            return Some(error(
                method_of(method),
                TransactionId(id),
                400,
                &e.to_string(),
                &[],
                source,
            ));
        }
    };
    if message.class() != Class::Request {
        return None;
    }
    let id = message.transaction_id();
    if message.method() != BINDING {
        return Some(error(
            message.method(),
            id,
            400,
            "Bad Request: only Binding is served",
            &[],
            source,
        ));
    }
    let unknown: Vec<u16> = message
        .attributes()
        .filter(|a| !a.kind.understood_in_request())
        .map(|a| a.kind.0)
        .collect();
    if !unknown.is_empty() {
        return Some(error(
            BINDING,
            id,
            420,
            "Unknown Attribute",
            &unknown,
            source,
        ));
    }
    let change = match message.attribute(AttributeType::CHANGE_REQUEST) {
        Some(v) => match ChangeRequest::decode(v) {
            Ok(c) => c,
            Err(e) => return Some(error(BINDING, id, 400, &e.to_string(), &[], source)),
        },
        None => ChangeRequest::NONE,
    };
    let to = match message.attribute(AttributeType::RESPONSE_PORT) {
        Some(v) => match decode_response_port(v) {
            Ok(port) => SocketAddr::new(source.ip(), port),
            Err(e) => return Some(error(BINDING, id, 400, &e.to_string(), &[], source)),
        },
        None => source,
    };
    let (from, origin) = match (change, other) {
        (
            ChangeRequest {
                change_ip: true, ..
            },
            _,
        )
        | (
            ChangeRequest {
                change_port: true, ..
            },
            None,
        ) => {
            return Some(error(
                BINDING,
                id,
                420,
                "Unknown Attribute: cannot answer from another address",
                &[AttributeType::CHANGE_REQUEST.0],
                source,
            ))
        }
        (
            ChangeRequest {
                change_port: true, ..
            },
            Some(other),
        ) => (ResponseSocket::Other, other),
        _ => (ResponseSocket::Receiving, local),
    };
    let mut builder = MessageBuilder::new(Class::Success, BINDING, id)
        .attribute(
            AttributeType::XOR_MAPPED_ADDRESS,
            &encode_xor_address(source, id),
        )
        .attribute(AttributeType::MAPPED_ADDRESS, &encode_address(source))
        .attribute(AttributeType::RESPONSE_ORIGIN, &encode_address(origin));
    if let Some(other) = other {
        builder = builder.attribute(AttributeType::OTHER_ADDRESS, &encode_address(other));
    }
    let bytes = builder
        .attribute(AttributeType::SOFTWARE, SOFTWARE.as_bytes())
        .finish_with_fingerprint();
    Some(Response { bytes, from, to })
}

/// The 12-bit method of a message type with the class bits cleared.
fn method_of(t: u16) -> u16 {
    (t & 0x000F) | ((t & 0x00E0) >> 1) | ((t & 0x3E00) >> 2)
}

/// An error response (§7.3.1.1) from the receiving socket.
fn error(
    method: u16,
    id: TransactionId,
    code: u16,
    reason: &str,
    unknown: &[u16],
    to: SocketAddr,
) -> Response {
    let mut builder = MessageBuilder::new(Class::Error, method, id)
        .attribute(AttributeType::ERROR_CODE, &encode_error_code(code, reason));
    if !unknown.is_empty() {
        builder = builder.attribute(
            AttributeType::UNKNOWN_ATTRIBUTES,
            &encode_unknown_attributes(unknown),
        );
    }
    let bytes = builder
        .attribute(AttributeType::SOFTWARE, SOFTWARE.as_bytes())
        .finish_with_fingerprint();
    Response {
        bytes,
        from: ResponseSocket::Receiving,
        to,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use crate::client::{binding_request, parse_binding_response};

    const ID: TransactionId = TransactionId([5; 12]);

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn code_of(r: &Response) -> u16 {
        let m = Message::parse(&r.bytes).unwrap();
        assert_eq!(m.class(), Class::Error);
        assert_eq!(m.transaction_id(), ID);
        let value = m.attribute(AttributeType::ERROR_CODE).unwrap();
        crate::attribute::decode_error_code(value).unwrap().0
    }

    #[test]
    fn a_binding_request_learns_its_source_and_the_other_port() {
        let source = addr("203.0.113.100:40000");
        let local = addr("203.0.113.1:3478");
        let other = addr("203.0.113.1:3479");
        let r = answer(
            &binding_request(ID, ChangeRequest::NONE),
            source,
            local,
            Some(other),
        )
        .unwrap();
        assert_eq!((r.from, r.to), (ResponseSocket::Receiving, source));
        let m = Message::parse(&r.bytes).unwrap();
        assert!(m.has_fingerprint());
        assert_eq!(
            m.attribute(AttributeType::SOFTWARE),
            Some(SOFTWARE.as_bytes())
        );
        let b = parse_binding_response(&r.bytes, ID).unwrap().unwrap();
        assert_eq!(b.mapped, source);
        assert_eq!(b.response_origin, Some(local));
        assert_eq!(b.other_address, Some(other));
        // IPv6 too, through the XOR with the transaction ID.
        let v6 = addr("[2001:db8::7]:5060");
        let r = answer(
            &binding_request(ID, ChangeRequest::NONE),
            v6,
            addr("[2001:db8::1]:3478"),
            None,
        )
        .unwrap();
        assert_eq!(
            parse_binding_response(&r.bytes, ID)
                .unwrap()
                .unwrap()
                .mapped,
            v6
        );
    }

    #[test]
    fn change_port_answers_from_the_other_socket() {
        let source = addr("192.0.2.7:1000");
        let local = addr("192.0.2.1:3478");
        let other = addr("192.0.2.1:3479");
        let r = answer(
            &binding_request(ID, ChangeRequest::PORT),
            source,
            local,
            Some(other),
        )
        .unwrap();
        assert_eq!(r.from, ResponseSocket::Other);
        let b = parse_binding_response(&r.bytes, ID).unwrap().unwrap();
        assert_eq!(b.response_origin, Some(other));
        // No other socket, or change IP: 420 naming CHANGE-REQUEST.
        let r = answer(
            &binding_request(ID, ChangeRequest::PORT),
            source,
            local,
            None,
        )
        .unwrap();
        assert_eq!(code_of(&r), 420);
        let r = answer(
            &binding_request(ID, ChangeRequest::IP_AND_PORT),
            source,
            local,
            Some(other),
        )
        .unwrap();
        assert_eq!(code_of(&r), 420);
        assert_eq!(r.from, ResponseSocket::Receiving);
        let m = Message::parse(&r.bytes).unwrap();
        assert_eq!(
            m.attribute(AttributeType::UNKNOWN_ATTRIBUTES),
            Some(&[0, 3][..])
        );
    }

    #[test]
    fn response_port_redirects_the_answer() {
        let req = MessageBuilder::new(Class::Request, BINDING, ID)
            .attribute(AttributeType::RESPONSE_PORT, &[0x13, 0x88, 0, 0])
            .finish();
        let r = answer(&req, addr("192.0.2.7:1000"), addr("192.0.2.1:3478"), None).unwrap();
        assert_eq!(r.to, addr("192.0.2.7:5000"));
        let bad = MessageBuilder::new(Class::Request, BINDING, ID)
            .attribute(AttributeType::RESPONSE_PORT, &[0x13])
            .finish();
        let r = answer(&bad, addr("192.0.2.7:1000"), addr("192.0.2.1:3478"), None).unwrap();
        assert_eq!(code_of(&r), 400);
    }

    #[test]
    fn unknown_required_attributes_get_420_and_optional_ones_are_ignored() {
        let src = addr("192.0.2.7:1000");
        let local = addr("192.0.2.1:3478");
        let req = MessageBuilder::new(Class::Request, BINDING, ID)
            .attribute(AttributeType(0x7777), b"x")
            .attribute(AttributeType(0x8777), b"y")
            .attribute(AttributeType(0x0026), b"pad.")
            .finish_with_fingerprint();
        let r = answer(&req, src, local, None).unwrap();
        assert_eq!(code_of(&r), 420);
        let m = Message::parse(&r.bytes).unwrap();
        assert_eq!(
            m.attribute(AttributeType::UNKNOWN_ATTRIBUTES),
            Some(&[0x77, 0x77, 0x00, 0x26][..])
        );
        let req = MessageBuilder::new(Class::Request, BINDING, ID)
            .attribute(AttributeType(0x8777), b"y")
            .finish();
        assert!(parse_binding_response(&answer(&req, src, local, None).unwrap().bytes, ID).is_ok());
    }

    #[test]
    fn bad_requests_get_400_and_other_messages_nothing() {
        let src = addr("192.0.2.7:1000");
        let local = addr("192.0.2.1:3478");
        // Another method.
        let req = MessageBuilder::new(Class::Request, 0x003, ID).finish();
        let r = answer(&req, src, local, None).unwrap();
        assert_eq!(code_of(&r), 400);
        assert_eq!(Message::parse(&r.bytes).unwrap().method(), 0x003);
        // A truncated attribute in a request: 400 with the reason.
        let mut req = MessageBuilder::new(Class::Request, BINDING, ID)
            .attribute(AttributeType::SOFTWARE, b"abcd")
            .finish();
        req[23] = 40;
        let r = answer(&req, src, local, None).unwrap();
        assert_eq!(code_of(&r), 400);
        // Responses, indications, SIP, garbage: nothing.
        let resp = MessageBuilder::new(Class::Success, BINDING, ID).finish();
        assert_eq!(answer(&resp, src, local, None), None);
        let ind = MessageBuilder::new(Class::Indication, BINDING, ID).finish();
        assert_eq!(answer(&ind, src, local, None), None);
        assert_eq!(
            answer(b"OPTIONS sip:x SIP/2.0\r\n\r\n", src, local, None),
            None
        );
        assert_eq!(answer(&[0; 7], src, local, None), None);
        let mut broken_response = resp.clone();
        broken_response[3] = 4;
        assert_eq!(answer(&broken_response, src, local, None), None);
    }
}
