//! SRTP per leg through the sans-IO engine (`relay::srtp`):
//!
//! - golden SDP rewrites (`tests/data/srtp/<case>.{offer,answer}.sdp` in,
//!   `<case>.{offer,answer}.relayed` expected; the relay's fresh keys are shown as
//!   `inline:<relay key>`): SAVP → AVP, AVP → SAVP, SAVP → SAVP re-keyed, a best-effort
//!   offerer upgraded, `SDES-off`, the feedback profile kept;
//! - packets: SRTP leg → plain leg → SRTP leg, SRTCP read and relayed, SRTP to SRTP with
//!   two keys, a wrong key and tampering dropped and counted, forged SSRCs keeping no
//!   state, malformed and unusable `a=crypto` refused.
//!
//! `UPDATE_GOLDEN=1 cargo test -p relay --test srtp` rewrites the expected files.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Instant;

use relay::srtp::SrtpDrops;
use relay::{DropReason, Engine, EngineConfig, Flags, Forward, MediaRequest, Profile, RelayError};
use rtp::srtp::sdes::usable;
use rtp::srtp::{CryptoSuite, SrtpContext};
use sdp::{Crypto, SessionDescription};

fn engine() -> Engine {
    let mut config = EngineConfig::new([203, 0, 113, 5].into());
    config.port_min = 36000;
    config.port_max = 36999;
    Engine::new(config).unwrap()
}

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/srtp")
        .join(name)
}

fn request(from: &str, to: Option<&str>, sdp: Vec<u8>, flags: Flags) -> MediaRequest {
    MediaRequest {
        call_id: "srtp-call".into(),
        from_tag: from.into(),
        to_tag: to.map(str::to_owned),
        sdp,
        flags,
        ..MediaRequest::default()
    }
}

/// The keys of the `inline:` parameters of a body.
fn keys(body: &str) -> Vec<String> {
    body.split("inline:")
        .skip(1)
        .map(|rest| {
            rest.split(|c: char| c == '|' || c.is_ascii_whitespace())
                .next()
                .unwrap_or("")
                .to_owned()
        })
        .collect()
}

/// `body` with every inline key shown as `<relay key>`.
fn masked(body: &str) -> String {
    let mut out = body.to_owned();
    for key in keys(body) {
        out = out.replace(&format!("inline:{key}"), "inline:<relay key>");
    }
    out
}

/// Compares a rewritten body with its golden file (keys masked), and checks that none of
/// the parties' own keys got through.
fn golden(name: &str, body: &[u8], inputs: &[&str]) {
    let text = String::from_utf8(body.to_vec()).unwrap();
    SessionDescription::parse(&text).unwrap();
    for input in inputs {
        for key in keys(input) {
            assert!(!text.contains(&key), "{name}: a party's key passed: {text}");
        }
    }
    let path = data(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, masked(&text)).unwrap();
    }
    let expected = std::fs::read_to_string(&path).unwrap();
    assert_eq!(masked(&text), expected, "{name}");
}

/// Runs case `case`: the offer with `offer_flags`, the answer with `answer_flags`, each
/// against its golden file.
fn exchange(case: &str, offer_flags: Flags, answer_flags: Flags) -> (Engine, Vec<u8>, Vec<u8>) {
    let mut e = engine();
    let now = Instant::now();
    let offer_in = std::fs::read_to_string(data(&format!("{case}.offer.sdp"))).unwrap();
    let answer_in = std::fs::read_to_string(data(&format!("{case}.answer.sdp"))).unwrap();
    let offer = e
        .offer(
            now,
            &request("alice", None, offer_in.clone().into_bytes(), offer_flags),
            &mut |_| true,
        )
        .unwrap();
    golden(&format!("{case}.offer.relayed"), &offer.sdp, &[&offer_in]);
    let answer = e
        .answer(
            now,
            &request(
                "alice",
                Some("bob"),
                answer_in.clone().into_bytes(),
                answer_flags,
            ),
            &mut |_| true,
        )
        .unwrap();
    golden(
        &format!("{case}.answer.relayed"),
        &answer.sdp,
        &[&offer_in, &answer_in],
    );
    (e, offer.sdp, answer.sdp)
}

fn transport(profile: Profile) -> Flags {
    Flags {
        transport: Some(profile),
        ..Flags::default()
    }
}

#[test]
fn golden_savp_caller_to_plain_callee() {
    exchange("savp-to-avp", transport(Profile::Avp), Flags::default());
}

#[test]
fn golden_plain_caller_to_savp_callee() {
    exchange("avp-to-savp", transport(Profile::Savp), Flags::default());
}

#[test]
fn golden_savp_both_sides_rekeyed() {
    exchange("savp-to-savp", transport(Profile::Savp), Flags::default());
}

#[test]
fn golden_best_effort_caller_upgraded_in_the_answer() {
    exchange(
        "best-effort",
        transport(Profile::Avp),
        transport(Profile::Savp),
    );
}

#[test]
fn golden_sdes_off_and_feedback_profile() {
    exchange(
        "savpf-sdes-off",
        Flags {
            sdes_off: true,
            ..Flags::default()
        },
        Flags::default(),
    );
}

#[test]
fn transparent_without_flags_passes_the_keys_end_to_end() {
    let mut e = engine();
    let offer_in = std::fs::read_to_string(data("savp-to-savp.offer.sdp")).unwrap();
    let offer = e
        .offer(
            Instant::now(),
            &request(
                "alice",
                None,
                offer_in.clone().into_bytes(),
                Flags::default(),
            ),
            &mut |_| true,
        )
        .unwrap();
    let text = String::from_utf8(offer.sdp).unwrap();
    assert_eq!(keys(&text), keys(&offer_in));
    assert!(text.contains("RTP/SAVP"));
}

// --- Packets ---------------------------------------------------------------------

const ALICE: &str = "198.51.100.7:40000";
const BOB: &str = "192.0.2.20:9000";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn rtp_packet(ssrc: u32, seq: u16, fill: u8) -> Vec<u8> {
    let mut p = vec![0x80, 0x00];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(&[fill; 160]);
    p
}

/// A receiver report of `ssrc` about `about` (one block).
fn receiver_report(ssrc: u32, about: u32) -> Vec<u8> {
    let block = rtp::rtcp::ReportBlock {
        ssrc: about,
        fraction_lost: 0,
        cumulative_lost: 3,
        highest_sequence: 100,
        jitter: 8,
        last_sr: 0,
        delay_since_last_sr: 0,
    };
    let mut rr = Vec::new();
    rtp::rtcp::write_receiver_report(&mut rr, ssrc, &[block]).unwrap();
    rr
}

/// The relay port and the first usable `a=crypto` line of a rewritten body.
fn port_and_line(body: &[u8]) -> (u16, Option<Crypto>) {
    let sdp = SessionDescription::from_bytes(body).unwrap();
    let m = &sdp.media()[0];
    let line = m.cryptos().next();
    (m.port(), line)
}

fn context(line: &Crypto) -> SrtpContext {
    let (suite, key) = usable(line).unwrap();
    SrtpContext::new(suite, &key.key).unwrap()
}

/// Alice's phone: her SRTP offer (her key in its lines) and, once answered, her
/// contexts: her key out, the relay's key in.
struct Phone {
    outbound: SrtpContext,
    inbound: Option<SrtpContext>,
    line: Crypto,
}

impl Phone {
    fn new(suite: CryptoSuite) -> Phone {
        let lines = rtp::srtp::sdes::offered_crypto().unwrap();
        let line = lines.into_iter().find(|l| l.suite == suite.name()).unwrap();
        Phone {
            outbound: context(&line),
            inbound: None,
            line,
        }
    }

    fn sdp(&self, ip: &str, port: u16) -> Vec<u8> {
        format!(
            "v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
             m=audio {port} RTP/SAVP 0\r\na=rtpmap:0 PCMU/8000\r\na=crypto:{}\r\n",
            self.line
        )
        .into_bytes()
    }
}

fn plain_sdp(ip: &str, port: u16) -> Vec<u8> {
    format!(
        "v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
    )
    .into_bytes()
}

/// An answered call: Alice with SRTP (`suite`), Bob plain. Returns the engine, Alice's
/// phone keyed both ways, and the relay ports (Alice's, Bob's).
fn srtp_alice_plain_bob(suite: CryptoSuite) -> (Engine, Phone, u16, u16) {
    let mut e = engine();
    let now = Instant::now();
    let mut alice = Phone::new(suite);
    let offer = e
        .offer(
            now,
            &request(
                "alice",
                None,
                alice.sdp("198.51.100.7", 40000),
                transport(Profile::Avp),
            ),
            &mut |_| true,
        )
        .unwrap();
    let (bob_port, line) = port_and_line(&offer.sdp);
    assert!(line.is_none(), "Bob gets plain RTP");
    let answer = e
        .answer(
            now,
            &request(
                "alice",
                Some("bob"),
                plain_sdp("192.0.2.20", 9000),
                Flags::default(),
            ),
            &mut |_| true,
        )
        .unwrap();
    let (alice_port, line) = port_and_line(&answer.sdp);
    let line = line.expect("Alice gets the relay's line");
    assert_eq!(
        (line.tag, line.suite.as_str()),
        (alice.line.tag, suite.name())
    );
    assert_ne!(
        line.key_params, alice.line.key_params,
        "the relay's own key"
    );
    alice.inbound = Some(context(&line));
    (e, alice, alice_port, bob_port)
}

fn sent(e: &Engine, verdict: Forward, original: &[u8]) -> Vec<u8> {
    match verdict {
        Forward::Send { .. } => original.to_vec(),
        Forward::SendRewritten { .. } => e.rewritten().to_vec(),
        Forward::Drop(reason) => panic!("dropped: {reason:?}"),
        Forward::Queued => panic!("no WebRTC leg here"),
    }
}

fn drops(e: &Engine, side: usize) -> SrtpDrops {
    e.query("srtp-call").unwrap().parties[side].streams[0]
        .srtp
        .unwrap()
        .drops
}

#[test]
fn srtp_leg_to_plain_leg_and_back() {
    for suite in CryptoSuite::ALL {
        let (mut e, mut alice, alice_port, bob_port) = srtp_alice_plain_bob(suite);
        let now = Instant::now();
        for seq in 1..=5u16 {
            // Alice → Bob: unprotected with Alice's key, plain to Bob.
            let plain = rtp_packet(0xa11ce, seq, 0x11);
            let protected = alice.outbound.protect_rtp(&plain).unwrap();
            let verdict = e.forward(now, alice_port, addr(ALICE), &protected);
            assert!(
                matches!(verdict, Forward::SendRewritten { from_port, to } if from_port == bob_port && to == addr(BOB)),
                "{verdict:?}"
            );
            assert_eq!(sent(&e, verdict, &protected), plain);
            // Bob → Alice: plain in, protected with the relay's key toward Alice.
            let plain = rtp_packet(0xb0b, seq, 0x22);
            let verdict = e.forward(now, bob_port, addr(BOB), &plain);
            assert!(
                matches!(verdict, Forward::SendRewritten { from_port, to } if from_port == alice_port && to == addr(ALICE)),
                "{verdict:?}"
            );
            let out = sent(&e, verdict, &plain);
            assert_ne!(out, plain);
            assert_eq!(out.len(), plain.len() + suite.rtp_tag_len());
            let inbound = alice.inbound.as_mut().unwrap();
            assert_eq!(inbound.unprotect_rtp(&out).unwrap(), plain);
        }
        // SRTCP both ways: read in the clear, relayed as the other leg speaks.
        let rr = receiver_report(0xa11ce, 0xb0b);
        let protected = alice.outbound.protect_rtcp(&rr).unwrap();
        let verdict = e.forward(now, alice_port + 1, addr("198.51.100.7:40001"), &protected);
        assert_eq!(sent(&e, verdict, &protected), rr);
        let from_bob = receiver_report(0xb0b, 0xa11ce);
        let verdict = e.forward(now, bob_port + 1, addr("192.0.2.20:9001"), &from_bob);
        let out = sent(&e, verdict, &from_bob);
        let inbound = alice.inbound.as_mut().unwrap();
        assert_eq!(inbound.unprotect_rtcp(&out).unwrap(), from_bob);
        let stats = e.query("srtp-call").unwrap();
        let alice_side = &stats.parties[0].streams[0];
        assert_eq!(alice_side.srtp.unwrap().suite, Some(suite));
        assert_eq!(alice_side.rtp.packets, 5);
        assert_eq!(alice_side.lost, 0, "loss measured on the clear packets");
        assert!(
            alice_side
                .report
                .seen
                .blocks
                .iter()
                .any(|b| b.ssrc == 0xb0b),
            "Alice's SRTCP report was read: {:?}",
            alice_side.report.seen
        );
        assert_eq!(stats.parties[1].streams[0].srtp.unwrap().suite, None);
        assert_eq!(drops(&e, 0), SrtpDrops::default());
    }
}

#[test]
fn srtp_to_srtp_with_a_key_per_leg() {
    let mut e = engine();
    let now = Instant::now();
    let mut alice = Phone::new(CryptoSuite::AesCm128HmacSha1_80);
    let offer = e
        .offer(
            now,
            &request(
                "alice",
                None,
                alice.sdp("198.51.100.7", 40000),
                transport(Profile::Savp),
            ),
            &mut |_| true,
        )
        .unwrap();
    let (bob_port, offered) = port_and_line(&offer.sdp);
    // Bob answers the relay's 32-bit line (tag 2) with a key of his.
    let relay_to_bob = SessionDescription::from_bytes(&offer.sdp).unwrap().media()[0]
        .cryptos()
        .find(|c| c.tag == 2)
        .unwrap();
    assert_eq!(offered.unwrap().tag, 1);
    let mut bob = Phone::new(CryptoSuite::AesCm128HmacSha1_32);
    bob.line.tag = 2;
    bob.inbound = Some(context(&relay_to_bob));
    let answer = e
        .answer(
            now,
            &request(
                "alice",
                Some("bob"),
                bob.sdp("192.0.2.20", 9000),
                Flags::default(),
            ),
            &mut |_| true,
        )
        .unwrap();
    let (alice_port, line) = port_and_line(&answer.sdp);
    alice.inbound = Some(context(&line.unwrap()));
    let plain = rtp_packet(1, 1, 0x33);
    let from_alice = alice.outbound.protect_rtp(&plain).unwrap();
    let verdict = e.forward(now, alice_port, addr(ALICE), &from_alice);
    let to_bob = sent(&e, verdict, &from_alice);
    assert_ne!(
        to_bob, from_alice,
        "re-protected with the relay's key toward Bob"
    );
    assert_eq!(
        to_bob.len(),
        plain.len() + 4,
        "Bob's leg has the 32-bit tag"
    );
    assert_eq!(
        bob.inbound
            .as_mut()
            .unwrap()
            .unprotect_rtp(&to_bob)
            .unwrap(),
        plain
    );
    let plain = rtp_packet(2, 1, 0x44);
    let from_bob = bob.outbound.protect_rtp(&plain).unwrap();
    let verdict = e.forward(now, bob_port, addr(BOB), &from_bob);
    let to_alice = sent(&e, verdict, &from_bob);
    assert_eq!(
        alice
            .inbound
            .as_mut()
            .unwrap()
            .unprotect_rtp(&to_alice)
            .unwrap(),
        plain
    );
}

#[test]
fn wrong_key_and_tampering_are_dropped_and_counted() {
    let (mut e, mut alice, alice_port, bob_port) =
        srtp_alice_plain_bob(CryptoSuite::AesCm128HmacSha1_80);
    let now = Instant::now();
    // Mallory knows the ports but not Alice's key.
    let mut wrong = Phone::new(CryptoSuite::AesCm128HmacSha1_80).outbound;
    let good = alice.outbound.protect_rtp(&rtp_packet(7, 1, 1)).unwrap();
    assert!(matches!(
        e.forward(now, alice_port, addr(ALICE), &good),
        Forward::SendRewritten { .. }
    ));
    for seq in 2..200u16 {
        let forged = wrong.protect_rtp(&rtp_packet(7, seq, 1)).unwrap();
        assert_eq!(
            e.forward(now, alice_port, addr(ALICE), &forged),
            Forward::Drop(DropReason::Srtp)
        );
    }
    let mut tampered = alice.outbound.protect_rtp(&rtp_packet(7, 300, 1)).unwrap();
    tampered[20] ^= 1;
    assert_eq!(
        e.forward(now, alice_port, addr(ALICE), &tampered),
        Forward::Drop(DropReason::Srtp)
    );
    // A replay of the good packet, and plain RTP on the SRTP leg.
    assert_eq!(
        e.forward(now, alice_port, addr(ALICE), &good),
        Forward::Drop(DropReason::Srtp)
    );
    assert_eq!(
        e.forward(now, alice_port, addr(ALICE), &rtp_packet(7, 400, 1)),
        Forward::Drop(DropReason::Srtp)
    );
    let d = drops(&e, 0);
    assert_eq!((d.auth, d.replay, d.malformed), (200, 1, 0), "{d:?}");
    let stats = e.query("srtp-call").unwrap();
    assert_eq!(stats.parties[0].streams[0].rtp.errors, 201);
    // The genuine stream goes on.
    let next = alice.outbound.protect_rtp(&rtp_packet(7, 2, 1)).unwrap();
    assert!(matches!(
        e.forward(now, alice_port, addr(ALICE), &next),
        Forward::SendRewritten { .. }
    ));
    let _ = bob_port;
}

#[test]
fn forged_ssrcs_are_dropped_and_bounded() {
    let (mut e, mut alice, alice_port, bob_port) =
        srtp_alice_plain_bob(CryptoSuite::AesCm128HmacSha1_32);
    let now = Instant::now();
    let mut wrong = Phone::new(CryptoSuite::AesCm128HmacSha1_32).outbound;
    for ssrc in 0..5_000u32 {
        let forged = if ssrc % 2 == 0 {
            let mut p = rtp_packet(ssrc.wrapping_mul(2_654_435_761), 1, 0);
            p.extend_from_slice(&[0; 4]);
            p
        } else {
            // Under the wrong key a sending context stops at its own bound; keep it fresh.
            wrong = Phone::new(CryptoSuite::AesCm128HmacSha1_32).outbound;
            wrong.protect_rtp(&rtp_packet(ssrc, 1, 0)).unwrap()
        };
        assert_eq!(
            e.forward(now, alice_port, addr(ALICE), &forged),
            Forward::Drop(DropReason::Srtp)
        );
    }
    assert_eq!(drops(&e, 0).auth, 5_000);
    let p = alice.outbound.protect_rtp(&rtp_packet(9, 1, 5)).unwrap();
    assert!(matches!(
        e.forward(now, alice_port, addr(ALICE), &p),
        Forward::SendRewritten { .. }
    ));
    // Bob's side sends from more SSRCs than the relay protects toward Alice: the ones past
    // the bound are dropped and counted, the known ones go on.
    for ssrc in 0..(rtp::srtp::MAX_SSRCS as u32 + 4) {
        let verdict = e.forward(now, bob_port, addr(BOB), &rtp_packet(100 + ssrc, 1, 0));
        if (ssrc as usize) < rtp::srtp::MAX_SSRCS {
            assert!(matches!(verdict, Forward::SendRewritten { .. }), "{ssrc}");
        } else {
            assert_eq!(verdict, Forward::Drop(DropReason::Srtp), "{ssrc}");
        }
    }
    assert_eq!(drops(&e, 0).unprotected, 4);
    assert!(matches!(
        e.forward(now, bob_port, addr(BOB), &rtp_packet(100, 2, 0)),
        Forward::SendRewritten { .. }
    ));
    assert_eq!(wrong.ssrc_count().0, 1);
}

#[test]
fn unusable_and_malformed_crypto_are_refused() {
    let base = "v=0\r\no=- 1 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\n\
                m=audio 40000 RTP/SAVP 0\r\n";
    let cases = [
        ("a=crypto:1 AEAD_AES_256_GCM inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR\r\n", true),
        ("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:AAAA\r\n", true),
        (
            "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:4\r\n",
            true,
        ),
        ("", true),
        ("a=crypto:x AES_CM_128_HMAC_SHA1_80 inline:AAAA\r\n", true),
    ];
    for (line, refused) in cases {
        let mut e = engine();
        let body = format!("{base}{line}").into_bytes();
        let result = e.offer(
            Instant::now(),
            &request("alice", None, body, transport(Profile::Avp)),
            &mut |_| true,
        );
        let error = result.expect_err(line);
        assert_eq!(error.refuses_call(), refused, "{line}: {error}");
        assert_eq!(e.call_count(), 0, "nothing kept: {line}");
    }
    // SDES-off with RTP/SAVP asked: no keys for the receiver.
    let mut e = engine();
    let error = e
        .offer(
            Instant::now(),
            &request(
                "alice",
                None,
                plain_sdp("198.51.100.7", 40000),
                Flags {
                    transport: Some(Profile::Savp),
                    sdes_off: true,
                    ..Flags::default()
                },
            ),
            &mut |_| true,
        )
        .unwrap_err();
    assert!(matches!(error, RelayError::Srtp(_)), "{error}");
    // An answer accepting RTP/SAVP without the relay's tag.
    let mut e = engine();
    e.offer(
        Instant::now(),
        &request(
            "alice",
            None,
            plain_sdp("198.51.100.7", 40000),
            transport(Profile::Savp),
        ),
        &mut |_| true,
    )
    .unwrap();
    let bob = Phone::new(CryptoSuite::AesCm128HmacSha1_80);
    let mut body = String::from_utf8(bob.sdp("192.0.2.20", 9000)).unwrap();
    body = body.replace("a=crypto:1 ", "a=crypto:7 ");
    let error = e
        .answer(
            Instant::now(),
            &request("alice", Some("bob"), body.into_bytes(), Flags::default()),
            &mut |_| true,
        )
        .unwrap_err();
    assert!(error.refuses_call(), "{error}");
    assert!(
        error.to_string().contains("without an a=crypto line"),
        "{error}"
    );
}

#[test]
fn re_offer_with_the_same_keys_keeps_the_contexts() {
    let (mut e, mut alice, alice_port, bob_port) =
        srtp_alice_plain_bob(CryptoSuite::AesCm128HmacSha1_80);
    let now = Instant::now();
    let first = alice.outbound.protect_rtp(&rtp_packet(5, 10, 1)).unwrap();
    assert!(matches!(
        e.forward(now, alice_port, addr(ALICE), &first),
        Forward::SendRewritten { .. }
    ));
    let verdict = e.forward(now, bob_port, addr(BOB), &rtp_packet(6, 1, 2));
    let before = sent(&e, verdict, &[]);
    // The same offer again (a re-INVITE without new keys): the relay's line stays.
    let again = e
        .offer(
            now,
            &request(
                "alice",
                None,
                alice.sdp("198.51.100.7", 40000),
                transport(Profile::Avp),
            ),
            &mut |_| true,
        )
        .unwrap();
    assert!(port_and_line(&again.sdp).1.is_none());
    let answer = e
        .answer(
            now,
            &request(
                "alice",
                Some("bob"),
                plain_sdp("192.0.2.20", 9000),
                Flags::default(),
            ),
            &mut |_| true,
        )
        .unwrap();
    let line = port_and_line(&answer.sdp).1.unwrap();
    let mut fresh = context(&line);
    assert_eq!(
        fresh.unprotect_rtp(&before).map(|p| p.len()),
        Ok(172),
        "same key"
    );
    // The contexts went on: the first packet is still a replay, and Bob's next packet
    // continues the index Alice's context knows.
    assert_eq!(
        e.forward(now, alice_port, addr(ALICE), &first),
        Forward::Drop(DropReason::Srtp)
    );
    assert_eq!(drops(&e, 0).replay, 1);
    let verdict = e.forward(now, bob_port, addr(BOB), &rtp_packet(6, 2, 2));
    let out = sent(&e, verdict, &[]);
    let inbound = alice.inbound.as_mut().unwrap();
    assert!(inbound.unprotect_rtp(&before).is_ok());
    assert!(inbound.unprotect_rtp(&out).is_ok());
}
