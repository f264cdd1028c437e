//! Property tests: messages built from random parts parse back to the same parts; an
//! edit-free serialize is byte-identical; proxy edits keep every other header; arbitrary
//! bytes never panic the parser, the validator or the framer.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use sip::{HeaderName, Message, MessageBuilder, Method};

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9][A-Za-z0-9.!%*_+`'~-]{0,12}"
}

fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z]([a-z0-9-]{0,8}[a-z0-9])?(\\.[a-z]([a-z0-9-]{0,8}[a-z0-9])?){0,2}",
        (1u8..=254, 0u8..=255, 0u8..=255, 1u8..=254)
            .prop_map(|(a, b, c, d)| format!("{a}.{b}.{c}.{d}")),
        Just("[2001:db8::1]".to_owned()),
    ]
}

fn header_value() -> impl Strategy<Value = String> {
    // Printable text without CR/LF, trimmed the way the parser trims.
    "[ -~]{0,40}".prop_map(|s| s.trim().to_owned())
}

#[derive(Debug, Clone)]
struct Parts {
    method: Method,
    user: String,
    host: String,
    port: Option<u16>,
    branch: String,
    from_tag: String,
    call_id: String,
    cseq: u32,
    max_forwards: u8,
    extra: Vec<(String, String)>,
    body: Vec<u8>,
}

fn parts() -> impl Strategy<Value = Parts> {
    (
        prop_oneof![
            Just(Method::Invite),
            Just(Method::Register),
            Just(Method::Options),
            Just(Method::Message),
            token().prop_map(|t| Method::from_name(&t.to_uppercase())),
        ],
        "[a-z0-9._-]{1,12}",
        host(),
        proptest::option::of(1u16..),
        token(),
        token(),
        "[A-Za-z0-9.-]{1,20}(@[a-z0-9.]{1,10})?",
        0u32..(1 << 31),
        any::<u8>(),
        proptest::collection::vec(("X-[A-Za-z0-9-]{1,10}", header_value()), 0..6),
        proptest::collection::vec(any::<u8>(), 0..300),
    )
        .prop_map(
            |(
                method,
                user,
                host,
                port,
                branch,
                from_tag,
                call_id,
                cseq,
                max_forwards,
                extra,
                body,
            )| Parts {
                method,
                user,
                host,
                port,
                branch,
                from_tag,
                call_id,
                cseq,
                max_forwards,
                extra,
                body,
            },
        )
}

fn build(p: &Parts) -> Message {
    let hostport = match p.port {
        Some(port) => format!("{}:{port}", p.host),
        None => p.host.clone(),
    };
    let uri = format!("sip:{}@{hostport}", p.user);
    let mut b = MessageBuilder::request(&p.method, &uri)
        .header(
            HeaderName::Via,
            &format!("SIP/2.0/UDP {hostport};branch=z9hG4bK{};rport", p.branch),
        )
        .header(HeaderName::MaxForwards, &p.max_forwards.to_string())
        .header(
            HeaderName::From,
            &format!("\"A, B\" <{uri}>;tag={}", p.from_tag),
        )
        .header(HeaderName::To, &format!("<{uri}>"))
        .header(HeaderName::CallId, &p.call_id)
        .header(HeaderName::CSeq, &format!("{} {}", p.cseq, p.method));
    for (n, v) in &p.extra {
        b = b.header(n.as_str(), v);
    }
    b.body("application/octet-stream", p.body.clone())
        .build()
        .expect("valid parts build")
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn built_messages_read_back(p in parts()) {
        let msg = build(&p);
        msg.validate().unwrap();
        prop_assert_eq!(msg.method(), Some(&p.method));
        let via = msg.top_via().unwrap();
        let branch = format!("z9hG4bK{}", p.branch);
        prop_assert_eq!(via.branch(), Some(branch.as_str()));
        prop_assert_eq!(via.port, p.port);
        prop_assert_eq!(msg.from().unwrap().tag(), Some(p.from_tag.as_str()));
        prop_assert_eq!(msg.call_id().unwrap(), p.call_id.as_str());
        prop_assert_eq!(msg.cseq().unwrap().seq, p.cseq);
        prop_assert_eq!(msg.max_forwards().unwrap(), Some(p.max_forwards));
        for (n, v) in &p.extra {
            prop_assert!(msg.headers().any(|h| h.name_text == n && h.value == v));
        }
        prop_assert_eq!(msg.body(), &p.body[..]);
    }

    #[test]
    fn serialize_without_edits_is_identity(p in parts()) {
        let msg = build(&p);
        let again = msg.edit().to_bytes().unwrap();
        prop_assert_eq!(&again[..], &msg.as_bytes()[..]);
    }

    #[test]
    fn proxy_edits_keep_the_rest(p in parts()) {
        let msg = build(&p);
        let mut e = msg.edit();
        e.push_via("SIP/2.0/UDP proxy.invalid;branch=z9hG4bKproxy").unwrap();
        e.push_record_route("<sip:proxy.invalid;lr>").unwrap();
        let decremented = e.decrement_max_forwards().is_ok();
        let out = e.finish().unwrap();
        out.validate().unwrap();
        prop_assert_eq!(out.top_via().unwrap().branch(), Some("z9hG4bKproxy"));
        prop_assert_eq!(out.vias().count(), 2);
        if decremented {
            prop_assert_eq!(out.max_forwards().unwrap(), Some(p.max_forwards - 1));
        } else {
            prop_assert_eq!(p.max_forwards, 0);
        }
        prop_assert_eq!(out.body(), msg.body());
        let others = |m: &Message| -> Vec<(String, String)> {
            m.headers()
                .filter(|h| !matches!(h.name, HeaderName::Via | HeaderName::RecordRoute | HeaderName::MaxForwards))
                .map(|h| (h.name_text.to_owned(), h.value.to_owned()))
                .collect()
        };
        prop_assert_eq!(others(&out), others(&msg));
        // And popping our Via gives back the original Via set.
        let mut back = out.edit();
        back.pop_via();
        let back = back.finish().unwrap();
        prop_assert_eq!(back.top_via().unwrap().branch(), msg.top_via().unwrap().branch());
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(msg) = Message::parse(bytes.clone()) {
            let _ = msg.validate();
            let _ = msg.edit().to_bytes();
            let _ = sip::sanity::check_request(&msg, &sip::sanity::Policy::UAS);
        } else if let Err(e) = Message::parse(bytes.clone()) {
            let _ = sip::build::reject_unparsed(&bytes, &e);
        }
        let _ = sip::framing::frame(&bytes, 1000);
    }

    #[test]
    fn mutated_messages_never_panic(p in parts(), cut in 0usize..2000, byte in any::<u8>(), pos in 0usize..2000) {
        let mut bytes = build(&p).as_bytes().to_vec();
        if !bytes.is_empty() {
            let i = pos % bytes.len();
            bytes[i] = byte;
            bytes.truncate(cut.max(1).min(bytes.len()));
        }
        if let Ok(msg) = Message::parse(bytes.clone()) {
            let _ = msg.validate();
            let _ = msg.edit().push_via("SIP/2.0/UDP x;branch=z9hG4bK1").map(|e| e.to_bytes());
            for v in msg.vias() { let _ = v; }
            for c in msg.contacts() { let _ = c; }
            let _ = sip::sanity::check_request(&msg, &sip::sanity::Policy::REGISTRAR);
        }
        let _ = sip::framing::frame(&bytes, 4000);
    }
}
