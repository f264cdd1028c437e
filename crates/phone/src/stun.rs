//! The STUN client of the phone (RFC 5389 Binding): which public address and port a NAT
//! gives our SIP and RTP sockets, so that Contact and SDP carry addresses the other side can
//! reach (seed 000 §9.3.3).
//!
//! The message format is the sans-IO `stun` crate ([`binding_request`],
//! [`parse_binding_response`] here are its Binding client for one transaction); the
//! exchange ([`discover`]) retransmits like RFC 5389 §7.2.1 says for UDP (Rc = 7 tries,
//! RTO 500 ms doubling), cut short to about 4 seconds for an interactive phone.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use ::stun::{ChangeRequest, TransactionId};
use tokio::net::UdpSocket;

use crate::link::SipLink;

pub use ::stun::MAGIC_COOKIE;

/// Retransmission timeouts (RFC 5389 §7.2.1 with RTO = 500 ms), about 4 s in all.
const TIMEOUTS_MS: [u64; 4] = [500, 1000, 1000, 1500];

/// Why a STUN exchange failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StunError {
    /// Socket trouble.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// No answer after the retransmissions.
    #[error("no answer from the STUN server {0}")]
    NoAnswer(SocketAddr),
    /// The answer is not a Binding success with a mapped address.
    #[error("bad STUN answer: {0}")]
    BadAnswer(::stun::StunError),
    /// STUN runs over UDP here.
    #[error("--stun needs the UDP transport")]
    NotUdp,
}

/// Whether a datagram is a STUN message (RFC 5389 §6: first two bits zero, the magic
/// cookie at bytes 4..8), as opposed to SIP on the same socket (RFC 5626 §4.4.2 style).
pub fn is_stun(bytes: &[u8]) -> bool {
    ::stun::is_stun(bytes)
}

/// A Binding request with transaction ID `id` (RFC 5389 §6: no attributes).
pub fn binding_request(id: [u8; 12]) -> Vec<u8> {
    ::stun::binding_request(TransactionId(id), ChangeRequest::NONE)
}

/// The reflexive address of a Binding success response to transaction `id`:
/// XOR-MAPPED-ADDRESS (§15.2), or MAPPED-ADDRESS (§15.1) from older servers. `Ok(None)` for
/// a message of another transaction.
pub fn parse_binding_response(bytes: &[u8], id: [u8; 12]) -> Result<Option<SocketAddr>, StunError> {
    ::stun::parse_binding_response(bytes, TransactionId(id))
        .map(|r| r.map(|r| r.mapped))
        .map_err(StunError::BadAnswer)
}

/// Asks `server` which address `socket` appears from.
pub async fn discover(socket: &UdpSocket, server: SocketAddr) -> Result<SocketAddr, StunError> {
    let id: [u8; 12] = std::array::from_fn(|_| fastrand::u8(..));
    let request = binding_request(id);
    let mut buf = vec![0u8; 1500];
    for wait in TIMEOUTS_MS {
        socket.send_to(&request, server).await?;
        let deadline = tokio::time::Instant::now() + Duration::from_millis(wait);
        loop {
            match tokio::time::timeout_at(deadline, socket.recv_from(&mut buf)).await {
                Err(_) => break,
                Ok(Err(e)) => return Err(e.into()),
                Ok(Ok((n, from))) => {
                    if from != server || !is_stun(&buf[..n]) {
                        continue;
                    }
                    if let Some(addr) = parse_binding_response(&buf[..n], id)? {
                        return Ok(addr);
                    }
                }
            }
        }
    }
    Err(StunError::NoAnswer(server))
}

/// [`discover`] on the SIP socket.
pub async fn discover_on_link(
    link: &mut SipLink,
    server: SocketAddr,
) -> Result<SocketAddr, StunError> {
    match link {
        SipLink::Udp(socket) => discover(socket, server).await,
        SipLink::Stream { .. } => Err(StunError::NotUdp),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A Binding success for `id` mapping to `addr`, as the `stun` crate's server writes it.
    pub(crate) fn success(id: [u8; 12], addr: SocketAddr) -> Vec<u8> {
        let request = binding_request(id);
        ::stun::answer(&request, addr, "192.0.2.1:3478".parse().unwrap(), None)
            .unwrap()
            .bytes
    }

    #[test]
    fn xor_mapped_address_round_trip() {
        let id = [7u8; 12];
        for addr in ["192.0.2.10:40000", "[2001:db8::5]:3478"] {
            let addr: SocketAddr = addr.parse().unwrap();
            let m = success(id, addr);
            assert!(is_stun(&m));
            assert_eq!(parse_binding_response(&m, id).unwrap(), Some(addr));
            assert_eq!(parse_binding_response(&m, [8u8; 12]).unwrap(), None);
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let id = [1u8; 12];
        let mut m = success(id, "192.0.2.1:1".parse().unwrap());
        m.truncate(26);
        assert!(parse_binding_response(&m, id).is_err());
        assert!(parse_binding_response(b"SIP/2.0 200 OK\r\n\r\n....", id).is_err());
        assert!(!is_stun(b"INVITE sip:x SIP/2.0\r\n"));
        assert_eq!(binding_request(id)[4..8], MAGIC_COOKIE.to_be_bytes());
    }

    #[tokio::test]
    async fn discovers_through_a_loopback_server() {
        let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let server_addr = server.local_addr().unwrap();
        tokio::spawn(async move {
            let mut buf = [0u8; 1500];
            // Drop the first request to exercise the retransmission.
            let _ = server.recv_from(&mut buf).await.unwrap();
            let (n, from) = server.recv_from(&mut buf).await.unwrap();
            let id: [u8; 12] = buf[8..20].try_into().unwrap();
            assert_eq!(n, 20);
            server.send_to(&success(id, from), from).await.unwrap();
        });
        let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let found = discover(&client, server_addr).await.unwrap();
        assert_eq!(found, client.local_addr().unwrap());
    }
}
