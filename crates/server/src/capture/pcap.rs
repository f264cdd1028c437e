//! pcap files of captured messages, for Wireshark, tshark and sngrep: the classic libpcap
//! format (microsecond timestamps) with link type `LINKTYPE_RAW` (101: each packet starts
//! with its IPv4 or IPv6 header). Each message becomes one packet with synthetic headers:
//! IPv4 (RFC 791) or IPv6 (RFC 8200), then UDP (RFC 768) or TCP (RFC 9293) with the
//! message's real addresses and ports, so dissectors find SIP on its ports and decode it.
//!
//! TCP segments carry sequence numbers that follow each direction of a connection (the
//! bytes captured so far), so stream reassembly sees no gaps; there is no handshake.
//! Checksums are left zero (tshark does not check them by default).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use super::Captured;

/// `LINKTYPE_RAW`: raw IPv4 or IPv6 (tcpdump.org link-layer header types).
pub const LINKTYPE_RAW: u32 = 101;

/// The largest packet written (a snapshot length as libpcap's default).
pub const SNAPLEN: u32 = 262_144;

const IPV4_HEADER: usize = 20;
const IPV6_HEADER: usize = 40;
const UDP_HEADER: usize = 8;
const TCP_HEADER: usize = 20;

/// The 24-byte file header: magic `a1b2c3d4` (microseconds) written little-endian,
/// version 2.4, UTC, the snapshot length and the link type.
pub fn file_header() -> [u8; 24] {
    let mut h = [0u8; 24];
    h[0..4].copy_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    h[4..6].copy_from_slice(&2u16.to_le_bytes());
    h[6..8].copy_from_slice(&4u16.to_le_bytes());
    // thiszone and sigfigs: zero.
    h[16..20].copy_from_slice(&SNAPLEN.to_le_bytes());
    h[20..24].copy_from_slice(&LINKTYPE_RAW.to_le_bytes());
    h
}

/// Turns captured messages into pcap records; keeps the TCP sequence number of each
/// direction of each connection (at most [`Encoder::MAX_FLOWS`], then it starts over).
#[derive(Debug, Default)]
pub struct Encoder {
    /// (source, destination) → the sequence number of the next byte.
    tcp_next_seq: HashMap<(SocketAddr, SocketAddr), u32>,
}

impl Encoder {
    /// Directions of TCP connections remembered.
    pub const MAX_FLOWS: usize = 65_536;

    /// A new encoder.
    pub fn new() -> Encoder {
        Encoder::default()
    }

    /// The pcap record of `message`: the 16-byte record header, then the IP packet. A
    /// message too long for one IP packet is cut to fit.
    pub fn record(&mut self, message: &Captured) -> Vec<u8> {
        let (source, dest) = message.endpoints();
        let (source_ip, dest_ip) = same_family(source.ip(), dest.ip());
        let ip_header = if source_ip.is_ipv4() {
            IPV4_HEADER
        } else {
            IPV6_HEADER
        };
        let transport_header = match message.protocol {
            transport::Protocol::Udp => UDP_HEADER,
            // TLS and WebSocket as the SIP text they carried, in TCP segments (the port
            // tells them apart).
            _ => TCP_HEADER,
        };
        // IPv4 total length and IPv6 payload length are 16-bit fields.
        let room = usize::from(u16::MAX)
            - transport_header
            - if source_ip.is_ipv4() { IPV4_HEADER } else { 0 };
        let payload = &message.bytes[..message.bytes.len().min(room)];
        let packet_len = ip_header + transport_header + payload.len();

        let mut out = Vec::with_capacity(16 + packet_len);
        let secs = u32::try_from(message.unix_ms / 1000).unwrap_or(u32::MAX);
        let micros = u32::try_from(message.unix_ms % 1000 * 1000).unwrap_or(0);
        let len = u32::try_from(packet_len).unwrap_or(u32::MAX);
        for field in [secs, micros, len, len] {
            out.extend_from_slice(&field.to_le_bytes());
        }
        let next_header = match message.protocol {
            transport::Protocol::Udp => 17,
            _ => 6,
        };
        let l4_len = transport_header + payload.len();
        match (source_ip, dest_ip) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                let total = u16::try_from(IPV4_HEADER + l4_len).unwrap_or(u16::MAX);
                let mut h = [0u8; IPV4_HEADER];
                h[0] = 0x45; // version 4, 5 words
                h[2..4].copy_from_slice(&total.to_be_bytes());
                h[6] = 0x40; // don't fragment
                h[8] = 64; // TTL
                h[9] = next_header;
                h[12..16].copy_from_slice(&s.octets());
                h[16..20].copy_from_slice(&d.octets());
                let checksum = ipv4_checksum(&h);
                h[10..12].copy_from_slice(&checksum.to_be_bytes());
                out.extend_from_slice(&h);
            }
            (s, d) => {
                let payload_len = u16::try_from(l4_len).unwrap_or(u16::MAX);
                out.extend_from_slice(&[0x60, 0, 0, 0]); // version 6, no class or flow
                out.extend_from_slice(&payload_len.to_be_bytes());
                out.push(next_header);
                out.push(64); // hop limit
                out.extend_from_slice(&v6_octets(s));
                out.extend_from_slice(&v6_octets(d));
            }
        }
        out.extend_from_slice(&source.port().to_be_bytes());
        out.extend_from_slice(&dest.port().to_be_bytes());
        match message.protocol {
            transport::Protocol::Udp => {
                let udp_len = u16::try_from(l4_len).unwrap_or(u16::MAX);
                out.extend_from_slice(&udp_len.to_be_bytes());
                out.extend_from_slice(&[0, 0]); // checksum: none
            }
            _ => {
                let seq = self.advance(source, dest, payload.len());
                let ack = self.next_seq(dest, source);
                out.extend_from_slice(&seq.to_be_bytes());
                out.extend_from_slice(&ack.to_be_bytes());
                out.push(0x50); // 5 words, no options
                out.push(0x18); // PSH, ACK
                out.extend_from_slice(&u16::MAX.to_be_bytes()); // window
                out.extend_from_slice(&[0, 0, 0, 0]); // checksum, urgent pointer
            }
        }
        out.extend_from_slice(payload);
        out
    }

    /// The sequence number of the next byte from `source` to `dest` (1 for a new one).
    fn next_seq(&self, source: SocketAddr, dest: SocketAddr) -> u32 {
        self.tcp_next_seq.get(&(source, dest)).copied().unwrap_or(1)
    }

    /// The sequence number of a segment of `len` bytes from `source` to `dest`; the next
    /// one follows it.
    fn advance(&mut self, source: SocketAddr, dest: SocketAddr, len: usize) -> u32 {
        if self.tcp_next_seq.len() >= Self::MAX_FLOWS {
            self.tcp_next_seq.clear();
        }
        let seq = self.next_seq(source, dest);
        let len = u32::try_from(len).unwrap_or(u32::MAX);
        self.tcp_next_seq
            .insert((source, dest), seq.wrapping_add(len));
        seq
    }
}

/// Both addresses in one family: as they are, or both as IPv6 (IPv4-mapped) when they
/// differ.
fn same_family(a: IpAddr, b: IpAddr) -> (IpAddr, IpAddr) {
    match (a, b) {
        (IpAddr::V4(_), IpAddr::V6(_)) | (IpAddr::V6(_), IpAddr::V4(_)) => {
            (IpAddr::V6(v6(a)), IpAddr::V6(v6(b)))
        }
        _ => (a, b),
    }
}

fn v6(ip: IpAddr) -> std::net::Ipv6Addr {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    }
}

fn v6_octets(ip: IpAddr) -> [u8; 16] {
    v6(ip).octets()
}

/// The IPv4 header checksum (RFC 791 §3.1, computed as RFC 1071 shows).
fn ipv4_checksum(header: &[u8; IPV4_HEADER]) -> u16 {
    let mut sum: u32 = header
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w.get(1).copied().unwrap_or(0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::capture::Direction;

    fn captured(
        direction: Direction,
        protocol: transport::Protocol,
        local: &str,
        remote: &str,
        text: &str,
    ) -> Captured {
        Captured {
            unix_ms: 1_700_000_000_123,
            direction,
            protocol,
            local: Some(local.parse().unwrap()),
            remote: remote.parse().unwrap(),
            bytes: bytes::Bytes::copy_from_slice(text.as_bytes()),
        }
    }

    #[test]
    fn the_file_header() {
        assert_eq!(
            file_header(),
            [
                0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 101, 0, 0,
                0
            ]
        );
    }

    #[test]
    fn a_udp_message_in_over_ipv4() {
        let m = captured(
            Direction::In,
            transport::Protocol::Udp,
            "10.0.0.1:5060",
            "192.0.2.7:5062",
            "OPTIONS",
        );
        let r = Encoder::new().record(&m);
        let expected: Vec<u8> = [
            // record header: 1700000000 s, 123000 µs, 35 bytes twice
            &[0x00, 0xf1, 0x53, 0x65][..],
            &[0x78, 0xe0, 0x01, 0x00],
            &[35, 0, 0, 0],
            &[35, 0, 0, 0],
            // IPv4: 0x45, tos, total 35, id, DF, TTL 64, UDP, checksum, 192.0.2.7 → 10.0.0.1
            &[0x45, 0, 0, 35, 0, 0, 0x40, 0, 64, 17],
            &[0x6e, 0xc2],
            &[192, 0, 2, 7, 10, 0, 0, 1],
            // UDP: 5062 → 5060, length 15, no checksum
            &[0x13, 0xc6, 0x13, 0xc4, 0, 15, 0, 0],
            b"OPTIONS",
        ]
        .concat();
        assert_eq!(r, expected);
    }

    #[test]
    fn the_ipv4_checksum_checks_out() {
        let m = captured(
            Direction::Out,
            transport::Protocol::Udp,
            "10.0.0.1:5060",
            "192.0.2.7:5062",
            "x",
        );
        let r = Encoder::new().record(&m);
        let header: [u8; 20] = r[16..36].try_into().unwrap();
        // Summing a header with its checksum gives 0xffff, whose complement is 0.
        assert_eq!(ipv4_checksum(&header), 0);
        assert_eq!(&r[28..32], &[10, 0, 0, 1], "sent: from us");
    }

    #[test]
    fn tcp_over_ipv6_follows_the_sequence_numbers() {
        let mut e = Encoder::new();
        let out = captured(
            Direction::Out,
            transport::Protocol::Tcp,
            "[2001:db8::1]:5060",
            "[2001:db8::2]:40000",
            "ABCDE",
        );
        let back = captured(
            Direction::In,
            transport::Protocol::Tcp,
            "[2001:db8::1]:5060",
            "[2001:db8::2]:40000",
            "XY",
        );
        let first = e.record(&out);
        let reply = e.record(&back);
        let second = e.record(&out);
        let ip = &first[16..];
        assert_eq!(ip[0], 0x60);
        assert_eq!(u16::from_be_bytes([ip[4], ip[5]]), 20 + 5, "payload length");
        assert_eq!(ip[6], 6, "TCP");
        assert_eq!(
            &ip[8..24],
            &"2001:db8::1"
                .parse::<std::net::Ipv6Addr>()
                .unwrap()
                .octets()
        );
        let tcp = |r: &[u8]| -> (u16, u16, u32, u32, u8) {
            let t = &r[16 + 40..];
            (
                u16::from_be_bytes([t[0], t[1]]),
                u16::from_be_bytes([t[2], t[3]]),
                u32::from_be_bytes([t[4], t[5], t[6], t[7]]),
                u32::from_be_bytes([t[8], t[9], t[10], t[11]]),
                t[13],
            )
        };
        assert_eq!(tcp(&first), (5060, 40000, 1, 1, 0x18));
        assert_eq!(tcp(&reply), (40000, 5060, 1, 6, 0x18));
        assert_eq!(tcp(&second), (5060, 40000, 6, 3, 0x18));
        assert!(first.ends_with(b"ABCDE"));
    }

    #[test]
    fn mixed_families_become_ipv6_and_an_unknown_local_socket_is_unspecified() {
        let mut m = captured(
            Direction::Out,
            transport::Protocol::Udp,
            "10.0.0.1:5060",
            "[2001:db8::2]:5060",
            "x",
        );
        let r = Encoder::new().record(&m);
        assert_eq!(r[16], 0x60);
        assert_eq!(
            &r[24..40],
            &"::ffff:10.0.0.1"
                .parse::<std::net::Ipv6Addr>()
                .unwrap()
                .octets()
        );
        m.local = None;
        let r = Encoder::new().record(&m);
        assert_eq!(&r[24..40], &[0u8; 16]);
    }
}
