//! Golden session descriptions in `tests/data/`: offers and answers modelled on real phones
//! and servers (X-Lite, Minisip and SER from seed 000, X-Lite 5 and FreeSWITCH from seed 002,
//! baresip, an SDES-SRTP phone, linphone, Asterisk, a Cisco phone on hold, a browser, a T.38 fax re-INVITE, an
//! RFC 8866-style multicast session), the malformed ones in `tests/data/malformed/` with the
//! error each must give, and our answers to some offers in `tests/data/answers/`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sdp::answer::process_answer;
use sdp::{Codec, Crypto, Direction, LineError, LocalMedia, SdpError, SessionDescription};

fn data(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(path)
}

/// The `.sdp` files of a directory under `tests/data`, sorted.
fn sdp_files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(data(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sdp"))
        .collect();
    files.sort();
    files
}

fn load(name: &str) -> SessionDescription {
    let bytes = std::fs::read(data(name)).unwrap();
    SessionDescription::from_bytes(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

#[test]
fn every_golden_file_round_trips_byte_for_byte() {
    let mut files = sdp_files(".");
    files.extend(sdp_files("answers"));
    assert!(files.len() >= 18, "golden files missing: {files:?}");
    for path in files {
        let bytes = std::fs::read(&path).unwrap();
        let bare_lf = bytes.windows(2).any(|w| w[1] == b'\n' && w[0] != b'\r');
        assert!(
            bytes.ends_with(b"\r\n") && !bare_lf,
            "{path:?} is not a CRLF file"
        );
        let sdp =
            SessionDescription::from_bytes(&bytes).unwrap_or_else(|e| panic!("{path:?}: {e}"));
        assert_eq!(
            String::from_utf8_lossy(&sdp.to_bytes()),
            String::from_utf8_lossy(&bytes),
            "{path:?}"
        );
        // The same text with bare LF line ends parses to the same description.
        let lf = String::from_utf8(bytes).unwrap().replace("\r\n", "\n");
        assert_eq!(
            SessionDescription::parse(&lf).unwrap(),
            sdp,
            "{path:?} (LF)"
        );
    }
}

/// Each malformed file, the line the error names, and the error.
fn malformed_expectations() -> Vec<(&'static str, SdpError)> {
    let at = |line, reason| SdpError::Parse { line, reason };
    let attribute = |name: &str, reason| LineError::BadAttribute {
        attribute: name.to_owned(),
        reason,
    };
    vec![
        (
            "crypto-no-key-method.sdp",
            at(7, attribute("crypto", "key-param is not <method>:<info>")),
        ),
        ("missing-v.sdp", at(1, LineError::MissingVersion)),
        ("s-before-o.sdp", at(2, LineError::MissingOrigin)),
        ("missing-s.sdp", at(3, LineError::MissingSessionName)),
        ("version-1.sdp", at(1, LineError::UnsupportedVersion)),
        ("second-origin.sdp", at(6, LineError::Duplicate('o'))),
        (
            "origin-version-not-numeric.sdp",
            at(2, LineError::BadOrigin("session version is not a number")),
        ),
        (
            "xlite5-seed-anonymized.sdp",
            at(2, LineError::BadOrigin("missing address")),
        ),
        (
            "m-port-not-numeric.sdp",
            at(6, LineError::BadMedia("port is not a number 0-65535")),
        ),
        (
            "m-port-too-large.sdp",
            at(6, LineError::BadMedia("port is not a number 0-65535")),
        ),
        ("m-no-formats.sdp", at(6, LineError::BadMedia("no formats"))),
        (
            "m-payload-type-name.sdp",
            at(6, LineError::BadMedia("payload type is not a number 0-127")),
        ),
        (
            "m-missing-transport.sdp",
            at(6, LineError::BadMedia("missing transport")),
        ),
        (
            "c-address-out-of-range.sdp",
            at(
                4,
                LineError::BadConnection("address is not an IPv4 literal"),
            ),
        ),
        (
            "c-hostname.sdp",
            at(
                4,
                LineError::BadConnection("address is not an IPv4 literal"),
            ),
        ),
        (
            "c-family-mismatch.sdp",
            at(
                7,
                LineError::BadConnection("address is not an IPv6 literal"),
            ),
        ),
        (
            "c-missing-address.sdp",
            at(
                4,
                LineError::BadConnection("needs <nettype> <addrtype> <address>"),
            ),
        ),
        ("no-connection.sdp", at(5, LineError::MissingConnection)),
        ("missing-t.sdp", at(5, LineError::MissingTiming)),
        ("t-in-media.sdp", at(7, LineError::NotInMedia('t'))),
        (
            "rtpmap-no-clock-rate.sdp",
            at(
                7,
                attribute("rtpmap", "clock rate is not a number 1-4294967295"),
            ),
        ),
        (
            "ptime-not-numeric.sdp",
            at(7, attribute("ptime", "not a positive number of ms")),
        ),
        (
            "rtcp-port-not-numeric.sdp",
            at(7, attribute("rtcp", "port is not a number 0-65535")),
        ),
        (
            "bandwidth-not-numeric.sdp",
            at(7, LineError::BadBandwidth("bandwidth is not a number")),
        ),
        ("blank-line.sdp", at(6, LineError::EmptyLine)),
        ("leading-space.sdp", at(6, LineError::NoTypeLetter)),
        ("upper-case-type.sdp", at(6, LineError::NoTypeLetter)),
        ("not-utf8.sdp", SdpError::NotUtf8 { line: 3 }),
        ("nul-in-value.sdp", at(7, LineError::ControlCharacter)),
        ("cr-line-ends.sdp", at(1, LineError::ControlCharacter)),
    ]
}

#[test]
fn every_malformed_file_gives_its_error() {
    let expectations = malformed_expectations();
    let files: Vec<String> = sdp_files("malformed")
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let mut listed: Vec<String> = expectations.iter().map(|(f, _)| f.to_string()).collect();
    listed.sort();
    assert_eq!(files, listed, "every malformed file needs an expectation");
    for (file, expected) in expectations {
        let bytes = std::fs::read(data(&format!("malformed/{file}"))).unwrap();
        let got = SessionDescription::from_bytes(&bytes);
        assert_eq!(got.as_ref().err(), Some(&expected), "{file}");
        let message = expected.to_string();
        assert!(message.starts_with("line "), "{file}: {message}");
        assert!(!message.contains(['\r', '\n']), "{file}: {message}");
        assert_eq!(expected.status_code(), 400);
    }
}

#[test]
fn seed_xlite_offer_behind_nat() {
    let sdp = load("xlite-seed-nat.sdp");
    let o = sdp.origin();
    assert_eq!(
        (
            o.username.as_str(),
            o.session_id.as_str(),
            o.session_version
        ),
        ("nungu", "1341909", 1_341_919)
    );
    assert_eq!(o.address, "10.0.0.16");
    assert_eq!(sdp.session_name(), "X-Lite");
    let m = &sdp.media()[0];
    assert_eq!(m.formats(), ["0", "8", "3", "98", "101"]);
    // The private address a NAT-aware server must notice and a relay must replace.
    let c = sdp.media_connection(m).unwrap();
    assert!(matches!(c.address, IpAddr::V4(v4) if v4.is_private()));
    assert_eq!(
        m.rtpmap(98).map(|r| (r.encoding_name, r.clock_rate)),
        Some(("iLBC", 8000))
    );
    assert_eq!(m.fmtp("101"), Some("0-15"));
    assert!(m.codec(0).unwrap().same_format(&Codec::PCMU));
    assert_eq!(sdp.media_direction(m), Direction::SendRecv);
    assert!(!sdp.is_on_hold(m) && !sdp.uses_ice() && m.rtcp().is_none());
}

#[test]
fn linphone_ipv6_with_ice() {
    let sdp = load("linphone-ipv6-ice.sdp");
    assert_eq!(sdp.connection().unwrap().address, ip("2001:db8:42::17"));
    assert!(sdp.uses_ice());
    assert_eq!(
        sdp.attribute("ice-ufrag").and_then(|a| a.value),
        Some("0a7b9fd6")
    );
    let (audio, video) = (&sdp.media()[0], &sdp.media()[1]);
    assert!(audio.uses_ice());
    let rtcp = audio.rtcp().unwrap();
    assert_eq!(
        (rtcp.port, rtcp.address),
        (7079, Some(ip("2001:db8:42::17")))
    );
    let events: Vec<u32> = audio
        .rtpmaps()
        .filter(|r| r.encoding_name == "telephone-event")
        .map(|r| r.clock_rate)
        .collect();
    assert_eq!(events, [48000, 16000, 8000]);
    assert_eq!(audio.rtpmap(96).unwrap().channels, Some(2));
    // PT 18 has an fmtp but no rtpmap: the static table names it.
    assert_eq!(audio.codec(18).unwrap().encoding_name, "G729");
    assert_eq!(audio.codec(18).unwrap().fmtp.as_deref(), Some("annexb=yes"));
    assert_eq!(video.media_type(), "video");
    assert_eq!(video.fmtp("97"), Some("profile-level-id=42801F"));
}

#[test]
fn browser_offer_with_media_level_connection_only() {
    let sdp = load("webrtc-offer.sdp");
    assert_eq!(sdp.connection(), None);
    let m = &sdp.media()[0];
    assert_eq!(m.proto(), "UDP/TLS/RTP/SAVPF");
    assert_eq!(sdp.media_connection(m).unwrap().address, ip("0.0.0.0"));
    assert!(m.rtcp_mux() && m.uses_ice());
    assert_eq!(m.rtpmap(111).unwrap().encoding_name, "opus");
    assert_eq!(
        sdp.attribute("msid-semantic").and_then(|a| a.value),
        Some(" WMS")
    );
}

#[test]
fn multicast_session_with_every_session_field() {
    let sdp = load("multicast-session.sdp");
    let kinds: String = sdp.lines().iter().map(|l| l.kind()).collect();
    assert_eq!(kinds, "vosiuepcbtrzkax");
    let c = sdp.connection().unwrap();
    assert_eq!((c.ttl, c.address_count), (Some(127), None));
    assert_eq!(sdp.timing().unwrap().stop, 3_724_398_000);
    assert_eq!(sdp.direction_attribute(), Some(Direction::RecvOnly));
    let (audio, video, wb) = (&sdp.media()[0], &sdp.media()[1], &sdp.media()[2]);
    assert_eq!(audio.lines()[0].value(), "Audio of the seminar");
    assert_eq!(sdp.media_direction(audio), Direction::RecvOnly);
    assert_eq!(video.media_line().port_count, Some(2));
    let c6 = sdp.media_connection(wb).unwrap();
    assert_eq!((c6.address, c6.address_count), (ip("ff15::101"), Some(3)));
    assert_eq!(wb.payload_types().count(), 0);
    assert_eq!(wb.formats(), ["wb"]);
}

#[test]
fn hold_forms_from_real_phones() {
    let asterisk = load("asterisk-hold.sdp");
    let m = &asterisk.media()[0];
    assert!(asterisk.is_on_hold(m));
    assert_eq!(asterisk.media_direction(m), Direction::SendOnly);
    assert_eq!(m.maxptime(), Some(Duration::from_millis(150)));
    let before = load("asterisk-offer.sdp");
    assert!(!before.is_on_hold(&before.media()[0]));
    assert_eq!(
        asterisk.origin().session_version,
        before.origin().session_version + 1
    );
    let cisco = load("legacy-hold.sdp");
    assert!(cisco.is_on_hold(&cisco.media()[0]));
    assert_eq!(
        cisco.media_direction(&cisco.media()[0]),
        Direction::SendRecv
    );
}

/// The phone used for the golden answers.
fn phone() -> LocalMedia {
    LocalMedia::new(
        ip("192.0.2.10"),
        40000,
        vec![Codec::PCMU, Codec::PCMA, Codec::GSM, Codec::TELEPHONE_EVENT],
        1000,
        1000,
    )
}

#[test]
fn our_answers_to_golden_offers() {
    let answers = sdp_files("answers");
    assert_eq!(answers.len(), 5);
    for path in answers {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let offer = load(&name);
        let (answer, negotiated) = phone().answer(&offer).unwrap();
        let expected = std::fs::read_to_string(&path).unwrap();
        assert_eq!(answer.to_string(), expected, "{name}");
        // The offerer reading our answer agrees on the codec and sees us.
        let theirs = process_answer(&offer, &answer).unwrap();
        assert_eq!(theirs.remote_rtp, "192.0.2.10:40000".parse().unwrap());
        assert_eq!(
            theirs.codec.payload_type_number(),
            negotiated.codec.payload_type_number(),
            "{name}"
        );
    }
}

#[test]
fn sdes_srtp_offer_answered_with_its_first_usable_line() {
    let offer = load("sdes-srtp-offer.sdp");
    let m = &offer.media()[0];
    assert!(m.is_srtp());
    let lines: Vec<Crypto> = m.cryptos().collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(
        lines[1].inline_key(),
        Some("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNk|2^31")
    );
    // A plain phone refuses it; one that takes only the 80-bit suite answers tag 2.
    assert_eq!(phone().answer(&offer), Err(SdpError::NoCommonCodec));
    let ours = "inline:MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkw";
    let mut choose =
        |c: &Crypto| (c.suite == "AES_CM_128_HMAC_SHA1_80").then(|| Crypto::new(0, &c.suite, ours));
    let (answer, n) = phone().answer_srtp(&offer, true, &mut choose).unwrap();
    let text = answer.to_string();
    assert!(
        text.contains("m=audio 40000 RTP/SAVP 0 8 101\r\n"),
        "{text}"
    );
    assert!(
        text.contains(&format!("a=crypto:2 AES_CM_128_HMAC_SHA1_80 {ours}\r\n")),
        "{text}"
    );
    assert_eq!(n.crypto.map(|p| p.theirs), Some(lines[1].clone()));
}

#[test]
fn offers_a_phone_cannot_take_are_488() {
    for name in ["webrtc-offer.sdp", "t38-reinvite.sdp"] {
        let err = phone().answer(&load(name)).unwrap_err();
        assert_eq!(err, SdpError::NoCommonCodec, "{name}");
        assert_eq!(err.status_code(), 488);
    }
}

#[test]
fn seed_xlite5_offer_and_freeswitch_answer() {
    let offer = load("xlite5-offer.sdp");
    let answer = load("freeswitch-answer.sdp");
    let n = process_answer(&offer, &answer).unwrap();
    assert_eq!(n.remote_rtp, "198.51.100.40:25266".parse().unwrap());
    assert_eq!(n.remote_rtcp, Some("198.51.100.40:25267".parse().unwrap()));
    assert!(n.codec.same_format(&Codec::PCMA));
    assert_eq!(n.telephone_event, Some(101));
    assert_eq!(n.ptime, Some(Duration::from_millis(20)));
    assert_eq!(n.direction, Direction::SendRecv);
}

#[test]
fn relay_rewrite_of_every_golden_offer() {
    let relay = ip("203.0.113.99");
    for path in sdp_files(".") {
        let original = std::fs::read_to_string(&path).unwrap();
        let mut sdp = SessionDescription::parse(&original).unwrap();
        sdp.replace_connection_addresses(relay);
        for (i, m) in sdp.media_mut().iter_mut().enumerate() {
            if m.port() != 0 {
                let port = 30000 + 2 * u16::try_from(i).unwrap();
                m.set_port(port);
                if m.rtcp().is_some() {
                    m.set_rtcp(sdp::Rtcp {
                        port: port + 1,
                        address: None,
                    });
                }
            }
        }
        sdp.bump_version();
        let rewritten = sdp.to_string();
        let reparsed = SessionDescription::parse(&rewritten).unwrap();
        assert_eq!(reparsed, sdp, "{path:?}");
        for m in reparsed.media() {
            assert_eq!(
                reparsed.media_connection(m).unwrap().address,
                relay,
                "{path:?}"
            );
        }
        // Only o=, c=, m= and a=rtcp lines changed; everything else is untouched, in place.
        let before: Vec<&str> = original.split("\r\n").collect();
        let after: Vec<&str> = rewritten.split("\r\n").collect();
        assert_eq!(before.len(), after.len(), "{path:?}");
        for (b, a) in before.iter().zip(&after) {
            if b != a {
                assert!(
                    ["o=", "c=", "m=", "a=rtcp:"]
                        .iter()
                        .any(|p| b.starts_with(p)),
                    "{path:?}: {b} -> {a}"
                );
            }
        }
    }
}
