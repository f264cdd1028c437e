//! Property tests: no input makes the parser, the server or the client panic, and what the
//! builder writes parses back.

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;

use proptest::prelude::*;
use stun::{
    answer, binding_request, parse_binding_response, AttributeType, ChangeRequest, Class, Message,
    MessageBuilder, TransactionId, BINDING,
};

fn source() -> SocketAddr {
    "192.0.2.7:1000".parse().unwrap()
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(m) = Message::parse(&bytes) {
            let _ = m.attributes().count();
        }
        let _ = answer(&bytes, source(), "192.0.2.1:3478".parse().unwrap(), None);
        let _ = parse_binding_response(&bytes, TransactionId([0; 12]));
        let _ = stun::is_stun(&bytes);
    }

    #[test]
    fn stun_headed_bytes_never_panic(
        id in any::<[u8; 12]>(),
        class in 0u8..4,
        body in proptest::collection::vec(any::<u8>(), 0..120),
    ) {
        // A valid header with an arbitrary body of the declared length: the attribute
        // walk is what gets exercised.
        let mut m = vec![if class & 1 != 0 { 0x01 } else { 0 }, if class & 2 != 0 { 0x11 } else { 0x01 }];
        let len = body.len() / 4 * 4;
        m.extend_from_slice(&(len as u16).to_be_bytes());
        m.extend_from_slice(&stun::MAGIC_COOKIE.to_be_bytes());
        m.extend_from_slice(&id);
        m.extend_from_slice(&body[..len]);
        let _ = answer(&m, source(), "192.0.2.1:3478".parse().unwrap(), Some("192.0.2.1:3479".parse().unwrap()));
        let _ = parse_binding_response(&m, TransactionId(id));
    }

    #[test]
    fn built_messages_round_trip(
        id in any::<[u8; 12]>(),
        attrs in proptest::collection::vec((0x8000u16..0xFFFF, proptest::collection::vec(any::<u8>(), 0..40)), 0..6),
        fingerprint in any::<bool>(),
    ) {
        let mut b = MessageBuilder::new(Class::Success, BINDING, TransactionId(id));
        let attrs: Vec<_> = attrs.into_iter().filter(|(t, _)| *t != AttributeType::FINGERPRINT.0).collect();
        for (t, v) in &attrs {
            b = b.attribute(AttributeType(*t), v);
        }
        let bytes = if fingerprint { b.finish_with_fingerprint() } else { b.finish() };
        let m = Message::parse(&bytes).unwrap();
        prop_assert_eq!(m.has_fingerprint(), fingerprint);
        let read: Vec<_> = m.attributes().map(|a| (a.kind.0, a.value.to_vec())).collect();
        prop_assert_eq!(read, attrs);
    }

    #[test]
    fn every_source_is_mapped_back(ip in any::<[u8; 16]>(), port in any::<u16>(), v4 in any::<bool>(), id in any::<[u8; 12]>()) {
        let ip: std::net::IpAddr = if v4 {
            std::net::Ipv4Addr::new(ip[0], ip[1], ip[2], ip[3]).into()
        } else {
            std::net::Ipv6Addr::from(ip).into()
        };
        let src = SocketAddr::new(ip, port);
        let id = TransactionId(id);
        let r = answer(&binding_request(id, ChangeRequest::NONE), src, "192.0.2.1:3478".parse().unwrap(), None).unwrap();
        prop_assert_eq!(parse_binding_response(&r.bytes, id).unwrap().unwrap().mapped, src);
    }
}
