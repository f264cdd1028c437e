//! HEP v3 (the HOMER Encapsulation Protocol, "HEP3 Network Protocol Specification",
//! sipcapture.org): one captured message as one HEP packet.
//!
//! A packet is the 4 bytes `HEP3`, its total length (16 bits, network order), then
//! chunks. Each chunk is a vendor ID (0x0000: generic), a type ID and a length (16 bits
//! each, the length counting these 6 bytes), then its value. The generic chunks written:
//!
//! | type | value |
//! |---|---|
//! | 0x0001 | IP family: 2 (IPv4) or 10 (IPv6), `u8` |
//! | 0x0002 | IP protocol: 17 (UDP) or 6 (TCP), `u8` |
//! | 0x0003 / 0x0004 | IPv4 source / destination (4 bytes) |
//! | 0x0005 / 0x0006 | IPv6 source / destination (16 bytes) |
//! | 0x0007 / 0x0008 | source / destination port, `u16` |
//! | 0x0009 / 0x000a | timestamp: seconds since 1970, microseconds added, `u32` each |
//! | 0x000b | protocol type: 1 (SIP) or 5 (RTCP as JSON, [`super::rtcp_report`]), `u8` |
//! | 0x000c | capture agent ID, `u32` |
//! | 0x000e | authentication key (when configured) |
//! | 0x000f | the captured payload: the SIP message, or the RTCP report's JSON |
//! | 0x0011 | internal correlation ID: the Call-ID (HOMER finds it itself in SIP; cheap to add; an RTCP report needs it to be filed under its call) |
//! | 0x0013 | capture node name (when configured) |

use std::net::{IpAddr, SocketAddr};

use super::rtcp_report::{QualityReport, PROTOCOL_RTCP};
use super::Captured;

/// Protocol type 1: SIP (chunk 0x000b).
pub(crate) const PROTOCOL_SIP: u8 = 1;

/// What every packet of one exporter carries besides the message.
#[derive(Debug, Clone, Default)]
pub(crate) struct Agent {
    /// Chunk 0x000c.
    pub(crate) capture_id: u32,
    /// Chunk 0x000e.
    pub(crate) auth_key: Option<String>,
    /// Chunk 0x0013.
    pub(crate) node_name: Option<String>,
}

/// The HEP v3 packet of `message`; `correlation_id` (the Call-ID) goes into chunk
/// 0x0011. `None` when the packet would exceed the 16-bit total length.
pub(crate) fn encode(
    message: &Captured,
    correlation_id: Option<&str>,
    agent: &Agent,
) -> Option<Vec<u8>> {
    let (source, dest) = message.endpoints();
    let ip_protocol = match message.protocol {
        transport::Protocol::Udp => 17,
        // HEP carries the IP protocol; TLS and WebSocket are TCP, the port tells them apart.
        _ => 6,
    };
    encode_packet(
        &Packet {
            source,
            dest,
            ip_protocol,
            unix_ms: message.unix_ms,
            protocol_type: PROTOCOL_SIP,
            payload: &message.bytes,
        },
        correlation_id,
        agent,
    )
}

/// The HEP v3 packet of an RTCP report (protocol type 5, JSON over UDP) of call
/// `report.call_id` (chunk 0x0011).
pub(crate) fn encode_rtcp_report(report: &QualityReport, agent: &Agent) -> Option<Vec<u8>> {
    encode_packet(
        &Packet {
            source: report.source,
            dest: report.destination,
            ip_protocol: 17,
            unix_ms: report.unix_ms,
            protocol_type: PROTOCOL_RTCP,
            payload: report.json.as_bytes(),
        },
        Some(&report.call_id),
        agent,
    )
}

/// What one HEP packet carries besides the agent's chunks.
struct Packet<'a> {
    source: SocketAddr,
    dest: SocketAddr,
    ip_protocol: u8,
    unix_ms: u64,
    protocol_type: u8,
    payload: &'a [u8],
}

fn encode_packet(
    packet: &Packet<'_>,
    correlation_id: Option<&str>,
    agent: &Agent,
) -> Option<Vec<u8>> {
    let (source, dest) = (packet.source, packet.dest);
    let mut out = Vec::with_capacity(packet.payload.len() + 160);
    out.extend_from_slice(b"HEP3");
    out.extend_from_slice(&[0, 0]); // total length, set at the end
    let (family, source_ip, dest_ip): (u8, Vec<u8>, Vec<u8>) = match (source.ip(), dest.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => (2, s.octets().to_vec(), d.octets().to_vec()),
        (s, d) => (10, v6(s).to_vec(), v6(d).to_vec()),
    };
    chunk(&mut out, 0x0001, &[family]);
    chunk(&mut out, 0x0002, &[packet.ip_protocol]);
    let (source_type, dest_type) = if family == 2 {
        (0x0003, 0x0004)
    } else {
        (0x0005, 0x0006)
    };
    chunk(&mut out, source_type, &source_ip);
    chunk(&mut out, dest_type, &dest_ip);
    chunk(&mut out, 0x0007, &source.port().to_be_bytes());
    chunk(&mut out, 0x0008, &dest.port().to_be_bytes());
    let secs = u32::try_from(packet.unix_ms / 1000).unwrap_or(u32::MAX);
    let micros = u32::try_from(packet.unix_ms % 1000 * 1000).unwrap_or(0);
    chunk(&mut out, 0x0009, &secs.to_be_bytes());
    chunk(&mut out, 0x000a, &micros.to_be_bytes());
    chunk(&mut out, 0x000b, &[packet.protocol_type]);
    chunk(&mut out, 0x000c, &agent.capture_id.to_be_bytes());
    if let Some(key) = &agent.auth_key {
        chunk(&mut out, 0x000e, key.as_bytes());
    }
    chunk(&mut out, 0x000f, packet.payload);
    if let Some(id) = correlation_id {
        chunk(&mut out, 0x0011, id.as_bytes());
    }
    if let Some(name) = &agent.node_name {
        chunk(&mut out, 0x0013, name.as_bytes());
    }
    let total = u16::try_from(out.len()).ok()?;
    out[4..6].copy_from_slice(&total.to_be_bytes());
    Some(out)
}

/// Appends a generic chunk (vendor 0x0000); a value too long for a chunk is cut (the
/// packet is then refused as too long by [`encode`]).
fn chunk(out: &mut Vec<u8>, type_id: u16, value: &[u8]) {
    let len = u16::try_from(6 + value.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&0u16.to_be_bytes());
    out.extend_from_slice(&type_id.to_be_bytes());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(value);
}

fn v6(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

/// The chunks of a packet: (type, value) in order; `None` when it is not HEP v3.
#[cfg(test)]
fn decode(packet: &[u8]) -> Option<Vec<(u16, Vec<u8>)>> {
    let rest = packet.strip_prefix(b"HEP3")?;
    let total = usize::from(u16::from_be_bytes([*rest.first()?, *rest.get(1)?]));
    if total != packet.len() {
        return None;
    }
    let mut chunks = Vec::new();
    let mut at = 6;
    while at < packet.len() {
        let header = packet.get(at..at + 6)?;
        let type_id = u16::from_be_bytes([header[2], header[3]]);
        let len = usize::from(u16::from_be_bytes([header[4], header[5]]));
        let value = packet.get(at + 6..at + len)?;
        if len < 6 || header[0..2] != [0, 0] {
            return None;
        }
        chunks.push((type_id, value.to_vec()));
        at += len;
    }
    Some(chunks)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::capture::Direction;

    #[test]
    fn a_sip_message_over_udp_ipv4_byte_for_byte() {
        let m = Captured {
            unix_ms: 1_700_000_000_123,
            direction: Direction::In,
            protocol: transport::Protocol::Udp,
            local: Some("10.0.0.1:5060".parse().unwrap()),
            remote: "192.0.2.7:5062".parse().unwrap(),
            bytes: bytes::Bytes::from_static(b"OPTIONS"),
        };
        let agent = Agent {
            capture_id: 2001,
            auth_key: Some("k".into()),
            node_name: Some("n1".into()),
        };
        let packet = encode(&m, Some("c@h"), &agent).unwrap();
        let expected: Vec<u8> = [
            &b"HEP3"[..],
            &[0, 130], // total: 6 + 7 + 7 + 10 + 10 + 8 + 8 + 10 + 10 + 7 + 10 + 7 + 13 + 9 + 8
            &[0, 0, 0, 1, 0, 7, 2], // IPv4
            &[0, 0, 0, 2, 0, 7, 17], // UDP
            &[0, 0, 0, 3, 0, 10, 192, 0, 2, 7], // source: the peer (a message in)
            &[0, 0, 0, 4, 0, 10, 10, 0, 0, 1], // destination: us
            &[0, 0, 0, 7, 0, 8, 0x13, 0xc6], // 5062
            &[0, 0, 0, 8, 0, 8, 0x13, 0xc4], // 5060
            &[0, 0, 0, 9, 0, 10, 0x65, 0x53, 0xf1, 0x00], // 1700000000 s
            &[0, 0, 0, 10, 0, 10, 0, 0x01, 0xe0, 0x78], // 123000 µs
            &[0, 0, 0, 11, 0, 7, 1], // SIP
            &[0, 0, 0, 12, 0, 10, 0, 0, 0x07, 0xd1], // capture ID 2001
            &[0, 0, 0, 14, 0, 7, b'k'], // auth key
            &[0, 0, 0, 15, 0, 13],
            b"OPTIONS",
            &[0, 0, 0, 17, 0, 9],
            b"c@h", // correlation ID
            &[0, 0, 0, 19, 0, 8],
            b"n1", // node name
        ]
        .concat();
        assert_eq!(packet, expected);
        let chunks = decode(&packet).unwrap();
        assert_eq!(chunks.len(), 14);
        assert_eq!(chunks[11], (0x000f, b"OPTIONS".to_vec()));
    }

    #[test]
    fn ipv6_and_tcp_without_the_optional_chunks() {
        let m = Captured {
            unix_ms: 5_001,
            direction: Direction::Out,
            protocol: transport::Protocol::Tcp,
            local: Some("[2001:db8::1]:5060".parse().unwrap()),
            remote: "[2001:db8::2]:40000".parse().unwrap(),
            bytes: bytes::Bytes::from_static(b"BYE"),
        };
        let chunks = decode(&encode(&m, None, &Agent::default()).unwrap()).unwrap();
        let types: Vec<u16> = chunks.iter().map(|c| c.0).collect();
        assert_eq!(types, [1, 2, 5, 6, 7, 8, 9, 10, 11, 12, 15]);
        assert_eq!(chunks[0].1, [10]);
        assert_eq!(chunks[1].1, [6]);
        assert_eq!(
            chunks[2].1,
            "2001:db8::1"
                .parse::<std::net::Ipv6Addr>()
                .unwrap()
                .octets(),
            "from us"
        );
        assert_eq!(chunks[4].1, 5060u16.to_be_bytes());
        assert_eq!(chunks[6].1, 5u32.to_be_bytes());
        assert_eq!(chunks[7].1, 1000u32.to_be_bytes());
    }

    #[test]
    fn an_rtcp_report_is_protocol_type_5_with_the_call_id() {
        let report = QualityReport {
            call_id: "c@h".into(),
            unix_ms: 1_700_000_000_500,
            source: "198.51.100.7:40001".parse().unwrap(),
            destination: "203.0.113.5:30001".parse().unwrap(),
            json: "{\"type\":201}".into(),
        };
        let agent = Agent {
            capture_id: 9,
            ..Agent::default()
        };
        let chunks = decode(&encode_rtcp_report(&report, &agent).unwrap()).unwrap();
        let types: Vec<u16> = chunks.iter().map(|c| c.0).collect();
        assert_eq!(types, [1, 2, 3, 4, 7, 8, 9, 10, 11, 12, 15, 17]);
        assert_eq!(chunks[1].1, [17], "UDP");
        assert_eq!(chunks[2].1, [198, 51, 100, 7]);
        assert_eq!(chunks[5].1, 30001u16.to_be_bytes());
        assert_eq!(chunks[7].1, 500_000u32.to_be_bytes());
        assert_eq!(chunks[8].1, [5], "RTCP");
        assert_eq!(chunks[10].1, b"{\"type\":201}");
        assert_eq!(chunks[11].1, b"c@h");
    }

    #[test]
    fn a_message_too_long_for_a_packet_is_refused() {
        let m = Captured {
            unix_ms: 0,
            direction: Direction::Out,
            protocol: transport::Protocol::Tcp,
            local: None,
            remote: "192.0.2.1:5060".parse().unwrap(),
            bytes: bytes::Bytes::from(vec![b'x'; 70_000]),
        };
        assert!(encode(&m, None, &Agent::default()).is_none());
        assert!(decode(b"HEP3\0\x07x").is_none());
        assert!(decode(b"HEP2").is_none());
    }
}
