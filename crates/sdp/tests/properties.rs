//! Property tests: descriptions built from random well-formed lines parse and serialize back
//! byte for byte (and the same from LF line ends); damaged descriptions never panic the parser,
//! and what it accepts round-trips; every offer is answered with valid SDP that the offerer
//! accepts, or refused with 488.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use sdp::answer::process_answer;
use sdp::{Codec, LocalMedia, SdpError, SessionDescription};

fn address() -> impl Strategy<Value = String> {
    prop_oneof![
        (1u8..=254, any::<u8>(), any::<u8>(), 1u8..=254)
            .prop_map(|(a, b, c, d)| format!("IN IP4 {a}.{b}.{c}.{d}")),
        Just("IN IP4 0.0.0.0".to_owned()),
        Just("IN IP6 2001:db8::7".to_owned()),
        Just("IN IP4 233.252.0.1/127/2".to_owned()),
    ]
}

/// Lines that may follow `t=` at session level.
fn session_attribute() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("a=sendonly".to_owned()),
        Just("a=recvonly".to_owned()),
        Just("a=ptime:30".to_owned()),
        Just("a=ice-ufrag:8hhY".to_owned()),
        Just("a=group:BUNDLE 0".to_owned()),
        "[a-z0-9-]{0,10}(:[ -~]{0,20})?".prop_map(|a| format!("a=x-{a}")),
        "[ -~]{0,20}".prop_map(|x| format!("x={x}")),
    ]
}

/// Lines of a media section after `m=`.
fn media_line() -> impl Strategy<Value = String> {
    prop_oneof![
        address().prop_map(|c| format!("c={c}")),
        Just("i=media title".to_owned()),
        Just("b=AS:64".to_owned()),
        (
            0u8..=127,
            prop_oneof![
                Just("PCMU"),
                Just("PCMA"),
                Just("GSM"),
                Just("telephone-event"),
                Just("opus")
            ],
            prop_oneof![Just(8000u32), Just(48000)]
        )
            .prop_map(|(pt, name, rate)| format!("a=rtpmap:{pt} {name}/{rate}")),
        (0u8..=127).prop_map(|pt| format!("a=fmtp:{pt} 0-16")),
        (1u32..200).prop_map(|ms| format!("a=ptime:{ms}")),
        prop_oneof![
            Just("sendrecv"),
            Just("sendonly"),
            Just("recvonly"),
            Just("inactive")
        ]
        .prop_map(|d| format!("a={d}")),
        any::<u16>().prop_map(|port| format!("a=rtcp:{port}")),
        Just("a=rtcp-mux".to_owned()),
        Just("a=candidate:1 1 UDP 2130706431 192.0.2.1 5000 typ host".to_owned()),
        "[a-z0-9-]{0,10}(:[ -~]{0,20})?".prop_map(|a| format!("a=x-{a}")),
    ]
}

fn media_section() -> impl Strategy<Value = String> {
    (
        prop_oneof![Just("audio"), Just("video"), Just("image")],
        prop_oneof![Just(0u16), any::<u16>()],
        prop_oneof![Just("RTP/AVP"), Just("RTP/SAVP")],
        proptest::collection::vec(prop_oneof![0u8..=127, Just(0), Just(8), Just(3)], 1..6),
        proptest::collection::vec(media_line(), 0..8),
    )
        .prop_map(|(media, port, proto, formats, lines)| {
            let formats: Vec<String> = formats.iter().map(u8::to_string).collect();
            let mut text = format!("m={media} {port} {proto} {}\r\n", formats.join(" "));
            for line in lines {
                text.push_str(&line);
                text.push_str("\r\n");
            }
            text
        })
}

/// A well-formed description: every media section has an address through the session's c=.
fn description() -> impl Strategy<Value = String> {
    (
        any::<u64>(),
        any::<u64>(),
        address(),
        proptest::collection::vec(session_attribute(), 0..4),
        proptest::collection::vec(media_section(), 0..4),
    )
        .prop_map(|(id, version, c, attributes, media)| {
            let mut text =
                format!("v=0\r\no=- {id} {version} IN IP4 host\r\ns=-\r\nc={c}\r\nt=0 0\r\n");
            for a in attributes {
                text.push_str(&a);
                text.push_str("\r\n");
            }
            for m in media {
                text.push_str(&m);
            }
            text
        })
}

fn phone() -> LocalMedia {
    LocalMedia::new(
        [192, 0, 2, 10].into(),
        40000,
        vec![Codec::PCMU, Codec::PCMA, Codec::GSM, Codec::TELEPHONE_EVENT],
        7,
        7,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn well_formed_descriptions_round_trip(text in description()) {
        let sdp = SessionDescription::parse(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        prop_assert_eq!(sdp.to_string(), text.clone());
        let lf = text.replace("\r\n", "\n");
        prop_assert_eq!(SessionDescription::parse(&lf).unwrap(), sdp);
    }

    #[test]
    fn damaged_descriptions_never_panic(
        text in description(),
        edits in proptest::collection::vec((any::<usize>(), any::<u8>(), any::<bool>()), 1..6),
    ) {
        let mut bytes = text.into_bytes();
        for (at, byte, insert) in edits {
            let at = at % (bytes.len() + 1);
            if insert || at == bytes.len() {
                bytes.insert(at, byte);
            } else {
                bytes[at] = byte;
            }
        }
        if let Ok(sdp) = SessionDescription::from_bytes(&bytes) {
            let again = SessionDescription::parse(&sdp.to_string()).unwrap();
            prop_assert_eq!(again, sdp);
        }
    }

    #[test]
    fn every_offer_is_answered_or_refused_with_488(text in description()) {
        let offer = SessionDescription::parse(&text).unwrap();
        match phone().answer(&offer) {
            Ok((answer, negotiated)) => {
                let again = SessionDescription::parse(&answer.to_string()).unwrap();
                prop_assert_eq!(&again, &answer);
                prop_assert_eq!(answer.media().len(), offer.media().len());
                let accepted: Vec<usize> = answer
                    .media()
                    .iter()
                    .enumerate()
                    .filter(|(_, m)| m.port() != 0)
                    .map(|(i, _)| i)
                    .collect();
                prop_assert_eq!(accepted, vec![negotiated.media_index]);
                let theirs = process_answer(&offer, &answer).unwrap();
                prop_assert_eq!(theirs.codec.payload_type_number(), negotiated.codec.payload_type_number());
                prop_assert_eq!(theirs.direction, negotiated.direction.reversed());
            }
            Err(e) => prop_assert_eq!(e, SdpError::NoCommonCodec),
        }
    }
}
