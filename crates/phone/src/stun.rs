//! The STUN client of the phone (RFC 5389 Binding): which public address and port a NAT
//! gives our SIP and RTP sockets, so that Contact and SDP carry addresses the other side can
//! reach (seed 000 §9.3.3).
//!
//! The message format is sans-IO ([`binding_request`], [`parse_binding_response`]); the
//! exchange ([`discover`]) retransmits like RFC 5389 §7.2.1 says for UDP (Rc = 7 tries,
//! RTO 500 ms doubling), cut short to about 4 seconds for an interactive phone.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::net::UdpSocket;

use crate::link::SipLink;

/// RFC 5389 §6: the magic cookie.
pub const MAGIC_COOKIE: u32 = 0x2112_A442;
const BINDING_REQUEST: u16 = 0x0001;
const BINDING_SUCCESS: u16 = 0x0101;
const ATTR_MAPPED_ADDRESS: u16 = 0x0001;
const ATTR_XOR_MAPPED_ADDRESS: u16 = 0x0020;
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
    BadAnswer(&'static str),
    /// STUN runs over UDP here.
    #[error("--stun needs the UDP transport")]
    NotUdp,
}

/// Whether a datagram is a STUN message (RFC 5389 §6: first two bits zero, the magic
/// cookie at bytes 4..8), as opposed to SIP on the same socket (RFC 5626 §4.4.2 style).
pub fn is_stun(bytes: &[u8]) -> bool {
    bytes.len() >= 20 && bytes[0] & 0xC0 == 0 && bytes[4..8] == MAGIC_COOKIE.to_be_bytes()
}

/// A Binding request with transaction ID `id` (RFC 5389 §6: no attributes).
pub fn binding_request(id: [u8; 12]) -> [u8; 20] {
    let mut m = [0u8; 20];
    m[0..2].copy_from_slice(&BINDING_REQUEST.to_be_bytes());
    // Length 0 (bytes 2..4).
    m[4..8].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
    m[8..20].copy_from_slice(&id);
    m
}

/// The reflexive address of a Binding success response to transaction `id`:
/// XOR-MAPPED-ADDRESS (§15.2), or MAPPED-ADDRESS (§15.1) from older servers. `Ok(None)` for
/// a message of another transaction.
pub fn parse_binding_response(bytes: &[u8], id: [u8; 12]) -> Result<Option<SocketAddr>, StunError> {
    if !is_stun(bytes) {
        return Err(StunError::BadAnswer("not a STUN message"));
    }
    if bytes[8..20] != id {
        return Ok(None);
    }
    let kind = u16::from_be_bytes([bytes[0], bytes[1]]);
    if kind != BINDING_SUCCESS {
        return Err(StunError::BadAnswer("not a Binding success response"));
    }
    let length = usize::from(u16::from_be_bytes([bytes[2], bytes[3]]));
    let body = bytes
        .get(20..20 + length)
        .ok_or(StunError::BadAnswer("truncated"))?;
    let mut at = 0;
    let mut mapped = None;
    while at + 4 <= body.len() {
        let attr = u16::from_be_bytes([body[at], body[at + 1]]);
        let len = usize::from(u16::from_be_bytes([body[at + 2], body[at + 3]]));
        let value = body
            .get(at + 4..at + 4 + len)
            .ok_or(StunError::BadAnswer("truncated attribute"))?;
        match attr {
            ATTR_XOR_MAPPED_ADDRESS => return decode_address(value, Some(&bytes[4..20])).map(Some),
            ATTR_MAPPED_ADDRESS => mapped = Some(decode_address(value, None)?),
            _ => {}
        }
        at += 4 + len.div_ceil(4) * 4;
    }
    mapped
        .map(Some)
        .ok_or(StunError::BadAnswer("no mapped address"))
}

/// Decodes a (XOR-)MAPPED-ADDRESS value; `xor` is the cookie and transaction ID.
fn decode_address(value: &[u8], xor: Option<&[u8]>) -> Result<SocketAddr, StunError> {
    if value.len() < 4 {
        return Err(StunError::BadAnswer("short address"));
    }
    let mask = |i: usize| xor.and_then(|x| x.get(i)).copied().unwrap_or(0);
    let port = u16::from_be_bytes([value[2] ^ mask(0), value[3] ^ mask(1)]);
    match value[1] {
        0x01 => {
            let a = value.get(4..8).ok_or(StunError::BadAnswer("short IPv4"))?;
            let ip = Ipv4Addr::new(
                a[0] ^ mask(0),
                a[1] ^ mask(1),
                a[2] ^ mask(2),
                a[3] ^ mask(3),
            );
            Ok(SocketAddr::new(IpAddr::V4(ip), port))
        }
        0x02 => {
            let a = value.get(4..20).ok_or(StunError::BadAnswer("short IPv6"))?;
            let mut o = [0u8; 16];
            for (i, b) in o.iter_mut().enumerate() {
                *b = a[i] ^ mask(i);
            }
            Ok(SocketAddr::new(IpAddr::V6(Ipv6Addr::from(o)), port))
        }
        _ => Err(StunError::BadAnswer("unknown address family")),
    }
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
        SipLink::Tcp { .. } => Err(StunError::NotUdp),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A Binding success for `id` mapping to `addr`, as RFC 5389 §15.2 encodes it.
    pub(crate) fn success(id: [u8; 12], addr: SocketAddr) -> Vec<u8> {
        let mut value = vec![0, 0];
        let cookie = MAGIC_COOKIE.to_be_bytes();
        let port = addr.port() ^ u16::from_be_bytes([cookie[0], cookie[1]]);
        value.extend_from_slice(&port.to_be_bytes());
        match addr.ip() {
            IpAddr::V4(ip) => {
                value[1] = 1;
                for (i, b) in ip.octets().iter().enumerate() {
                    value.push(b ^ cookie[i]);
                }
            }
            IpAddr::V6(ip) => {
                value[1] = 2;
                let mut x = cookie.to_vec();
                x.extend_from_slice(&id);
                for (i, b) in ip.octets().iter().enumerate() {
                    value.push(b ^ x[i]);
                }
            }
        }
        let mut m = Vec::new();
        m.extend_from_slice(&BINDING_SUCCESS.to_be_bytes());
        m.extend_from_slice(&((value.len() + 4) as u16).to_be_bytes());
        m.extend_from_slice(&cookie);
        m.extend_from_slice(&id);
        m.extend_from_slice(&ATTR_XOR_MAPPED_ADDRESS.to_be_bytes());
        m.extend_from_slice(&(value.len() as u16).to_be_bytes());
        m.extend_from_slice(&value);
        m
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
