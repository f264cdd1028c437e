//! # stun — STUN for itsp, sans-IO
//!
//! Session Traversal Utilities for NAT (RFC 5389): the Binding method with which a client
//! behind a NAT learns the public address and port its packets come from (seed 000 §9.3.3),
//! and the RFC 5780 attributes with which it finds out what kind of NAT it is behind. No
//! sockets, no clock: the server shell (`server::stun_server`), the phone and `itsp nat
//! check` pass bytes and addresses in and send what comes out.
//!
//! - [`Message::parse`] checks a datagram once (header, attribute lengths, FINGERPRINT)
//!   and then reads attributes typed on demand; it never panics, whatever the input.
//! - [`MessageBuilder`] writes messages with padded attributes and FINGERPRINT.
//! - [`answer`] is the whole server: a request and where it came from in, the response and
//!   which of the server's sockets sends it out.
//! - [`binding_request`] and [`parse_binding_response`] are the client side.
//!
//! ## Layout
//!
//! | module | concept | spec |
//! |---|---|---|
//! | [`message`] | [`Message`] (parse, attribute iteration), [`MessageBuilder`], [`Class`] | RFC 5389 §6, §15 |
//! | `header` | [`MAGIC_COOKIE`], [`TransactionId`]: the header fields attributes are masked with | RFC 5389 §6, §15.2 |
//! | [`attribute`] | attribute types, which are understood, address/ERROR-CODE/UNKNOWN-ATTRIBUTES/CHANGE-REQUEST values | RFC 5389 §15, RFC 5780 §7 |
//! | `fingerprint` | CRC-32 of the message XOR 0x5354554e | RFC 5389 §15.5 |
//! | [`server`] | [`answer`]: Binding success, 400, 420, CHANGE-REQUEST and RESPONSE-PORT | RFC 5389 §7.3, RFC 5780 §6 |
//! | [`client`] | [`binding_request`], [`parse_binding_response`], [`BindingResponse`] | RFC 5389 §7.3.3, RFC 5780 §4 |
//! | [`error`] | [`StunError`] | |

pub mod attribute;
pub mod client;
pub mod error;
mod fingerprint;
mod header;
pub mod message;
pub mod server;

pub use attribute::{AttributeType, ChangeRequest};
pub use client::{binding_request, parse_binding_response, BindingResponse};
pub use error::StunError;
pub use message::{Class, Message, MessageBuilder, TransactionId, BINDING, MAGIC_COOKIE};
pub use server::{answer, Response, ResponseSocket};

/// Whether a datagram looks like a STUN message (RFC 5389 §6: the two first bits zero, the
/// magic cookie at bytes 4..8, a length that is a multiple of 4), as opposed to SIP or RTP
/// on the same socket (RFC 5389 §8, RFC 5626 §4.4.2).
pub fn is_stun(bytes: &[u8]) -> bool {
    match bytes.get(..20) {
        Some(h) => h[0] & 0xC0 == 0 && h[3] & 0x03 == 0 && h[4..8] == MAGIC_COOKIE.to_be_bytes(),
        None => false,
    }
}
