//! The client side of a Binding exchange (RFC 5389 §7.3.3; RFC 5780 §4): the request, and
//! what a response to it says. Retransmission and sockets belong to the caller (the
//! phone's `discover`, `itsp nat check`).

use std::net::SocketAddr;

use crate::attribute::{
    decode_address, decode_error_code, decode_xor_address, AttributeType, ChangeRequest,
};
use crate::error::StunError;
use crate::message::{Class, Message, MessageBuilder, TransactionId, BINDING};

/// A Binding request with transaction `id`; a CHANGE-REQUEST attribute (RFC 5780 §7.2)
/// when `change` asks for anything, else the bare 20-byte header every server accepts.
pub fn binding_request(id: TransactionId, change: ChangeRequest) -> Vec<u8> {
    let builder = MessageBuilder::new(Class::Request, BINDING, id);
    if change == ChangeRequest::NONE {
        builder.finish()
    } else {
        builder
            .attribute(AttributeType::CHANGE_REQUEST, &change.encode())
            .finish()
    }
}

/// What a Binding success response says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BindingResponse {
    /// The reflexive address: where the server saw the request come from
    /// (XOR-MAPPED-ADDRESS, else MAPPED-ADDRESS from RFC 3489 servers).
    pub mapped: SocketAddr,
    /// RESPONSE-ORIGIN (RFC 5780 §7.3): where the server sent the response from.
    pub response_origin: Option<SocketAddr>,
    /// OTHER-ADDRESS (RFC 5780 §7.4): the server's other address, for behaviour tests.
    pub other_address: Option<SocketAddr>,
}

impl BindingResponse {
    /// OTHER-ADDRESS as an address to send to: a server bound to the wildcard address
    /// reports `0.0.0.0`/`::`, which means the IP of `server`, the address asked.
    pub fn other_address_from(&self, server: SocketAddr) -> Option<SocketAddr> {
        self.other_address.map(|o| {
            if o.ip().is_unspecified() {
                SocketAddr::new(server.ip(), o.port())
            } else {
                o
            }
        })
    }
}

/// Reads a response to the Binding request with transaction `id`. `Ok(None)`: a STUN
/// message of another transaction (a late answer to an earlier request). An error
/// response is [`StunError::ErrorResponse`] with its code and reason; a success response
/// with a comprehension-required attribute the client does not know fails (§7.3.3).
pub fn parse_binding_response(
    bytes: &[u8],
    id: TransactionId,
) -> Result<Option<BindingResponse>, StunError> {
    let message = Message::parse(bytes)?;
    if message.transaction_id() != id {
        return Ok(None);
    }
    if message.method() != BINDING {
        return Err(StunError::UnexpectedMessage("another method"));
    }
    match message.class() {
        Class::Success => {}
        Class::Error => {
            let (code, reason) = match message.attribute(AttributeType::ERROR_CODE) {
                Some(v) => decode_error_code(v)?,
                None => return Err(StunError::UnexpectedMessage("error without ERROR-CODE")),
            };
            return Err(StunError::ErrorResponse { code, reason });
        }
        Class::Request | Class::Indication => {
            return Err(StunError::UnexpectedMessage("not a response"))
        }
    }
    let mut xor_mapped = None;
    let mut mapped = None;
    let mut response_origin = None;
    let mut other_address = None;
    for a in message.attributes() {
        match a.kind {
            AttributeType::XOR_MAPPED_ADDRESS => {
                xor_mapped.get_or_insert(decode_xor_address(a.value, id)?);
            }
            AttributeType::MAPPED_ADDRESS => {
                mapped.get_or_insert(decode_address(a.kind.0, a.value)?);
            }
            AttributeType::RESPONSE_ORIGIN => {
                response_origin.get_or_insert(decode_address(a.kind.0, a.value)?);
            }
            AttributeType::OTHER_ADDRESS => {
                other_address.get_or_insert(decode_address(a.kind.0, a.value)?);
            }
            AttributeType::MESSAGE_INTEGRITY
            | AttributeType::USERNAME
            | AttributeType::ERROR_CODE
            | AttributeType::UNKNOWN_ATTRIBUTES
            | AttributeType::REALM
            | AttributeType::NONCE => {}
            kind if kind.comprehension_required() => {
                return Err(StunError::BadAttribute {
                    attribute: kind.0,
                    reason: "comprehension-required attribute not understood",
                })
            }
            _ => {}
        }
    }
    let mapped = xor_mapped.or(mapped).ok_or(StunError::NoMappedAddress)?;
    Ok(Some(BindingResponse {
        mapped,
        response_origin,
        other_address,
    }))
}
