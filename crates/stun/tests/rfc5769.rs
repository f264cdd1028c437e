//! RFC 5769 sample messages: the request (§2.1) and the IPv4 (§2.2) and IPv6 (§2.3)
//! responses, read for their FINGERPRINT, transaction ID and XOR-MAPPED-ADDRESS. Their
//! MESSAGE-INTEGRITY (short-term credentials) is not checked: itsp's server uses none.
//! The messages are in `tests/data/` (also the seeds of the `parse_stun` fuzz target).

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;

use stun::{
    answer, parse_binding_response, AttributeType, Class, Message, StunError, TransactionId,
    BINDING,
};

const ID: [u8; 12] = [
    0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae,
];

/// §2.1: a Binding request with SOFTWARE, PRIORITY, ICE-CONTROLLED, USERNAME,
/// MESSAGE-INTEGRITY and FINGERPRINT.
const REQUEST: &[u8] = include_bytes!("data/rfc5769-request.bin");

/// §2.2: the IPv4 response, mapped address 192.0.2.1:32853.
const RESPONSE_V4: &[u8] = include_bytes!("data/rfc5769-response-ipv4.bin");

/// §2.3: the IPv6 response, mapped address [2001:db8:1234:5678:11:2233:4455:6677]:32853.
const RESPONSE_V6: &[u8] = include_bytes!("data/rfc5769-response-ipv6.bin");

#[test]
fn the_sample_request_parses_with_its_fingerprint() {
    let m = Message::parse(REQUEST).unwrap();
    assert_eq!((m.class(), m.method()), (Class::Request, BINDING));
    assert_eq!(m.transaction_id(), TransactionId(ID));
    assert!(m.has_fingerprint());
    assert_eq!(
        m.attribute(AttributeType::SOFTWARE),
        Some(&b"STUN test client"[..])
    );
    assert_eq!(
        m.attribute(AttributeType::USERNAME),
        Some(&b"evtj:h6vY"[..])
    );
    // SOFTWARE, PRIORITY, ICE-CONTROLLED, USERNAME, MESSAGE-INTEGRITY.
    assert_eq!(m.attributes().count(), 5);
}

#[test]
fn the_sample_responses_give_their_mapped_addresses() {
    for (bytes, expected) in [
        (RESPONSE_V4, "192.0.2.1:32853"),
        (RESPONSE_V6, "[2001:db8:1234:5678:11:2233:4455:6677]:32853"),
    ] {
        let m = Message::parse(bytes).unwrap();
        assert!(m.has_fingerprint());
        assert_eq!(
            m.attribute(AttributeType::SOFTWARE),
            Some(&b"test vector"[..])
        );
        let r = parse_binding_response(bytes, TransactionId(ID))
            .unwrap()
            .unwrap();
        assert_eq!(r.mapped, expected.parse::<SocketAddr>().unwrap());
        assert_eq!(r.other_address, None);
        // Another transaction: not ours.
        assert_eq!(
            parse_binding_response(bytes, TransactionId([0; 12])).unwrap(),
            None
        );
    }
}

#[test]
fn a_changed_byte_breaks_the_fingerprint() {
    for sample in [REQUEST, RESPONSE_V4, RESPONSE_V6] {
        // Any byte of the transaction ID or an attribute value, not the length fields.
        for at in [8, 19, 25, sample.len() - 9] {
            let mut m = sample.to_vec();
            m[at] ^= 0x40;
            assert_eq!(
                Message::parse(&m).unwrap_err(),
                StunError::BadFingerprint,
                "byte {at}"
            );
        }
    }
}

#[test]
fn the_sample_request_gets_420_for_the_ice_attribute() {
    // PRIORITY (0x0024) is comprehension-required and not something a Binding server
    // without ICE understands (RFC 5389 §7.3.1).
    let source: SocketAddr = "192.0.2.1:32853".parse().unwrap();
    let local: SocketAddr = "198.51.100.1:3478".parse().unwrap();
    let r = answer(REQUEST, source, local, None).unwrap();
    assert_eq!(r.to, source);
    let m = Message::parse(&r.bytes).unwrap();
    assert_eq!(m.class(), Class::Error);
    assert_eq!(m.transaction_id(), TransactionId(ID));
    assert_eq!(
        m.attribute(AttributeType::UNKNOWN_ATTRIBUTES),
        Some(&[0x00, 0x24][..])
    );
    match parse_binding_response(&r.bytes, TransactionId(ID)).unwrap_err() {
        StunError::ErrorResponse { code, .. } => assert_eq!(code, 420),
        e => panic!("{e}"),
    }
}
