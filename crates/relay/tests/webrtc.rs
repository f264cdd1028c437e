//! The WebRTC gateway through the sans-IO engine (`relay::webrtc`):
//!
//! - golden SDP rewrites (`tests/data/webrtc/<case>.{offer,answer}.sdp` in,
//!   `<case>.{offer,answer}.relayed` expected; the relay's ICE credentials, fingerprint and
//!   SSRC shown as `<relay ufrag>`, `<relay pwd>`, `<relay fingerprint>`, `<relay ssrc>`):
//!   a browser calling a phone, a phone calling a browser;
//! - a second str0m instance plays the browser over a simulated network: its SDP offer or
//!   answer goes through the relay, ICE-lite answers its STUN checks, DTLS completes, and
//!   G.711 flows both ways between it and a plain RTP phone;
//! - bad input: a malformed fingerprint or an answer that is not WebRTC refused; a
//!   fingerprint that does not match ends that call and leaves another alone; a flood of
//!   STUN from unknown sources changes nothing.
//!
//! `UPDATE_GOLDEN=1 cargo test -p relay --test webrtc` rewrites the expected files.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use relay::{DropReason, Engine, EngineConfig, Flags, Forward, MediaRequest, RelayError};
use sdp::SessionDescription;
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::media::{Direction, MediaKind, Mid, Pt};
use str0m::net::{Protocol, Receive};
use str0m::rtp::{RtpWrite, SeqNo};
use str0m::{Candidate, Event, Input, Output, Rtc};

const RELAY: [u8; 4] = [203, 0, 113, 5];
const BROWSER: &str = "198.51.100.20:50000";
const PHONE: &str = "192.0.2.30:40000";

fn engine() -> Engine {
    let mut config = EngineConfig::new(RELAY.into());
    config.port_min = 37000;
    config.port_max = 37999;
    Engine::new(config).unwrap()
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/webrtc")
        .join(name)
}

fn request(call: &str, from: &str, to: Option<&str>, sdp: &str, flags: Flags) -> MediaRequest {
    MediaRequest {
        call_id: call.into(),
        from_tag: from.into(),
        to_tag: to.map(str::to_owned),
        sdp: sdp.as_bytes().to_vec(),
        flags,
        ..MediaRequest::default()
    }
}

fn webrtc_flags() -> Flags {
    Flags {
        webrtc: true,
        ..Flags::default()
    }
}

/// The value of the first `a=<name>:` line.
fn attr<'a>(body: &'a str, name: &str) -> Option<&'a str> {
    let prefix = format!("a={name}:");
    body.lines().find_map(|l| l.strip_prefix(prefix.as_str()))
}

/// `body` with the relay's random values masked.
fn masked(body: &str) -> String {
    let mut out = body.to_owned();
    for (name, label) in [
        ("ice-ufrag", "<relay ufrag>"),
        ("ice-pwd", "<relay pwd>"),
        ("fingerprint", "<relay fingerprint>"),
    ] {
        if let Some(v) = attr(body, name) {
            out = out.replace(&format!("a={name}:{v}"), &format!("a={name}:{label}"));
        }
    }
    if let Some(v) = attr(body, "ssrc") {
        let ssrc = v.split(' ').next().unwrap();
        out = out.replace(&format!("a=ssrc:{ssrc} "), "a=ssrc:<relay ssrc> ");
    }
    out
}

fn golden(name: &str, body: &[u8]) {
    let text = String::from_utf8(body.to_vec()).unwrap();
    SessionDescription::parse(&text).unwrap();
    let text = masked(&text);
    let path = data(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &text).unwrap();
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 writes it)", path.display()));
    assert_eq!(text, expected, "{name} differs from its golden file");
}

fn read(name: &str) -> String {
    std::fs::read_to_string(data(name)).unwrap()
}

/// The relay port in the `m=audio` line of `body`.
fn media_port(body: &[u8]) -> u16 {
    let text = std::str::from_utf8(body).unwrap();
    let line = text.lines().find(|l| l.starts_with("m=audio ")).unwrap();
    line.split(' ').nth(1).unwrap().parse().unwrap()
}

#[test]
fn golden_browser_calls_phone() {
    let mut e = engine();
    let now = Instant::now();
    let offer = read("browser-to-phone.offer.sdp");
    let relayed = e
        .offer(
            now,
            &request("c1", "browser", None, &offer, Flags::default()),
            &mut |_| true,
        )
        .unwrap();
    golden("browser-to-phone.offer.relayed", &relayed.sdp);
    let answer = read("browser-to-phone.answer.sdp");
    let relayed = e
        .answer(
            now,
            &request("c1", "browser", Some("phone"), &answer, Flags::default()),
            &mut |_| true,
        )
        .unwrap();
    golden("browser-to-phone.answer.relayed", &relayed.sdp);
    let text = String::from_utf8(relayed.sdp).unwrap();
    assert!(
        text.contains("a=setup:passive\r\n"),
        "the relay is DTLS-passive to actpass"
    );
    assert!(text.contains("a=ice-lite\r\n"));
}

#[test]
fn golden_phone_calls_browser() {
    let mut e = engine();
    let now = Instant::now();
    let offer = read("phone-to-browser.offer.sdp");
    let relayed = e
        .offer(
            now,
            &request("c2", "phone", None, &offer, webrtc_flags()),
            &mut |_| true,
        )
        .unwrap();
    golden("phone-to-browser.offer.relayed", &relayed.sdp);
    let answer = read("phone-to-browser.answer.sdp");
    let relayed = e
        .answer(
            now,
            &request("c2", "phone", Some("browser"), &answer, Flags::default()),
            &mut |_| true,
        )
        .unwrap();
    golden("phone-to-browser.answer.relayed", &relayed.sdp);
}

#[test]
fn bad_fingerprint_and_non_webrtc_answer_are_refused() {
    let mut e = engine();
    let now = Instant::now();
    let offer = read("browser-to-phone.offer.sdp");
    let line = offer
        .lines()
        .find(|l| l.starts_with("a=fingerprint:"))
        .unwrap()
        .to_owned();
    for bad in ["a=fingerprint:sha-256 XY:Z", "a=fingerprint:md5 AB:CD"] {
        let broken = offer.replace(&line, bad);
        let error = e
            .offer(
                now,
                &request("bad", "browser", None, &broken, Flags::default()),
                &mut |_| true,
            )
            .unwrap_err();
        assert!(matches!(error, RelayError::Webrtc(_)), "{error}");
        assert!(error.refuses_call());
        assert_eq!(e.call_count(), 0, "a refused offer leaves nothing");
    }
    let no_ice = offer.replace("a=ice-pwd:", "a=x-ice-pwd:");
    assert!(matches!(
        e.offer(
            now,
            &request("bad", "browser", None, &no_ice, Flags::default()),
            &mut |_| true
        ),
        Err(RelayError::Webrtc(_))
    ));

    // A party offered WebRTC that answers plain RTP.
    let offer = read("phone-to-browser.offer.sdp");
    e.offer(
        now,
        &request("c3", "phone", None, &offer, webrtc_flags()),
        &mut |_| true,
    )
    .unwrap();
    let plain = read("browser-to-phone.answer.sdp");
    let error = e
        .answer(
            now,
            &request("c3", "phone", Some("browser"), &plain, Flags::default()),
            &mut |_| true,
        )
        .unwrap_err();
    assert!(matches!(error, RelayError::Webrtc(_)), "{error}");
}

// ---- ICE-lite (RFC 8445 §2.5, §7.3): the relay answers checks, never makes them ----

/// A browser's connectivity check (RFC 8445 §7.1.1): USERNAME `relay:browser`, PRIORITY,
/// ICE-CONTROLLING, USE-CANDIDATE, MESSAGE-INTEGRITY with `pwd` (RFC 5389 §15.4),
/// FINGERPRINT.
fn check(username: &str, pwd: &str, id: [u8; 12]) -> Vec<u8> {
    use hmac::Mac;
    use stun::{AttributeType, Class, MessageBuilder, TransactionId, BINDING};
    let base = MessageBuilder::new(Class::Request, BINDING, TransactionId(id))
        .attribute(AttributeType::USERNAME, username.as_bytes())
        .attribute(AttributeType(0x0024), &0x6e7f_00ffu32.to_be_bytes())
        .attribute(AttributeType(0x802a), &[1, 2, 3, 4, 5, 6, 7, 8])
        .attribute(AttributeType(0x0025), &[]);
    let mut signed = base.clone().finish();
    let length = u16::try_from(signed.len() - 20 + 24).unwrap();
    signed[2..4].copy_from_slice(&length.to_be_bytes());
    let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(pwd.as_bytes()).unwrap();
    mac.update(&signed);
    let integrity = mac.finalize().into_bytes();
    base.attribute(AttributeType::MESSAGE_INTEGRITY, &integrity)
        .finish_with_fingerprint()
}

#[test]
fn ice_lite_answers_checks_with_the_right_credentials_only() {
    use relay::webrtc::{LegOut, RemoteParams, WebrtcLeg};
    let now = Instant::now();
    let cert = relay::webrtc::crypto::certificate().unwrap();
    let local = SocketAddr::new(RELAY.into(), 37000);
    let mut leg = WebrtcLeg::new(now, local, &cert, "0", &[]).unwrap();
    let remote = RemoteParams {
        ufrag: "brws".into(),
        pwd: "browserpassword0123456789".into(),
        hash: "sha-256".into(),
        fingerprint: vec![0xab; 32],
        setup: relay::webrtc::sdp::Setup::ActPass,
        mid: Some("0".into()),
        ssrcs: vec![1234],
    };
    leg.set_remote(now, &remote).unwrap();
    let (ufrag, pwd) = leg.credentials();
    let (ufrag, pwd) = (ufrag.to_owned(), pwd.to_owned());
    let browser = addr(BROWSER);
    let mut out = Vec::new();

    // Right username and password: a Binding success with the browser's address.
    let id = [7; 12];
    leg.receive(
        now,
        browser,
        &check(&format!("{ufrag}:brws"), &pwd, id),
        &mut out,
    );
    let answers: Vec<_> = out
        .iter()
        .filter_map(|o| match o {
            LegOut::Transmit { to, bytes } if stun::Message::parse(bytes).is_ok() => {
                Some((*to, bytes.clone()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(answers.len(), 1, "one answer: {out:?}");
    let (to, bytes) = &answers[0];
    assert_eq!(*to, browser);
    let response = stun::Message::parse(bytes).unwrap();
    assert_eq!(response.class(), stun::Class::Success);
    assert_eq!(response.transaction_id().0, id);
    let mapped = response
        .attribute(stun::AttributeType::XOR_MAPPED_ADDRESS)
        .unwrap();
    assert_eq!(
        stun::attribute::decode_xor_address(mapped, stun::TransactionId(id)).unwrap(),
        browser,
        "XOR-MAPPED-ADDRESS is where the check came from"
    );
    assert!(response.has_fingerprint());
    assert!(
        out.iter().all(|o| !matches!(o, LegOut::Rtp(_))),
        "nothing for the other party"
    );

    // A wrong password, a wrong username, a Binding indication: no answer, no state.
    for bad in [
        check(&format!("{ufrag}:brws"), "not-the-password-at-all", [8; 12]),
        check("someone:brws", &pwd, [9; 12]),
        check(&format!("{ufrag}:other"), &pwd, [10; 12]),
    ] {
        out.clear();
        leg.receive(now, addr("198.51.100.99:4000"), &bad, &mut out);
        assert!(
            !out.iter().any(
                |o| matches!(o, LegOut::Transmit { to, .. } if *to == addr("198.51.100.99:4000"))
            ),
            "a bad check is not answered: {out:?}"
        );
    }
    // The relay never checks on its own (ICE-lite): time passes, nothing is sent but
    // answers.
    out.clear();
    leg.handle_timeout(now + Duration::from_secs(5), &mut out);
    assert!(
        out.iter().all(|o| match o {
            LegOut::Transmit { bytes, .. } => stun::Message::parse(bytes)
                .map(|m| m.class() != stun::Class::Request)
                .unwrap_or(true),
            LegOut::Rtp(_) => false,
        }),
        "no Binding request from an ICE-lite agent: {out:?}"
    );
    assert!(leg.failure().is_none());
}

// ---- a str0m peer as the browser, over a simulated network ----

/// A browser: str0m with its SDP API, G.711 only, on [`BROWSER`].
fn browser(now: Instant) -> Rtc {
    let mut rtc = Rtc::builder()
        .set_crypto_provider(relay::webrtc::crypto::provider())
        .set_rtp_mode(true)
        .clear_codecs()
        .enable_pcmu(true, false)
        .build(now);
    rtc.add_local_candidate(Candidate::host(addr(BROWSER), "udp").unwrap());
    rtc
}

/// The network between the browser, the relay and the phone.
struct Net {
    now: Instant,
    relay: Engine,
    browser: Rtc,
    /// Datagrams for the browser, from the relay.
    to_browser: VecDeque<(SocketAddr, Vec<u8>)>,
    /// What the phone received from the relay (plain RTP).
    phone_got: Vec<Vec<u8>>,
    /// The browser's RTP packets received.
    browser_got: Vec<Vec<u8>>,
    /// The relay port the browser sends to.
    browser_port: u16,
    browser_connected: bool,
    browser_timeout: Instant,
    /// The browser's next RTP sequence number.
    browser_seq: u64,
}

impl Net {
    /// Runs the network for `duration`, 1 ms at a time.
    fn run(&mut self, duration: Duration) {
        let end = self.now + duration;
        while self.now < end {
            self.step();
            self.now += Duration::from_millis(1);
        }
    }

    fn step(&mut self) {
        let now = self.now;
        if now >= self.browser_timeout {
            self.browser.handle_input(Input::Timeout(now)).unwrap();
        }
        loop {
            match self.browser.poll_output().unwrap() {
                Output::Timeout(t) => {
                    self.browser_timeout = t;
                    break;
                }
                Output::Transmit(t) => {
                    assert_eq!(
                        t.destination,
                        SocketAddr::new(RELAY.into(), self.browser_port)
                    );
                    let verdict = self
                        .relay
                        .forward(now, self.browser_port, t.source, &t.contents);
                    assert!(
                        matches!(verdict, Forward::Queued),
                        "a WebRTC leg takes every datagram: {verdict:?}"
                    );
                    self.collect();
                }
                Output::Event(Event::Connected) => self.browser_connected = true,
                Output::Event(Event::RtpPacket(p)) => self.browser_got.push(p.payload.to_vec()),
                Output::Event(_) => {}
            }
        }
        self.relay.handle_webrtc_timeout(now);
        self.collect();
        while let Some((source, bytes)) = self.to_browser.pop_front() {
            let input = Input::Receive(
                now,
                Receive {
                    proto: Protocol::Udp,
                    source,
                    destination: addr(BROWSER),
                    contents: bytes.as_slice().try_into().unwrap(),
                },
            );
            self.browser.handle_input(input).unwrap();
            self.browser_timeout = now;
        }
    }

    fn collect(&mut self) {
        for t in self.relay.take_transmits() {
            if t.to == addr(BROWSER) {
                let source = SocketAddr::new(RELAY.into(), t.from_port);
                assert_eq!(
                    t.from_port, self.browser_port,
                    "sent from the browser's port"
                );
                self.to_browser.push_back((source, t.bytes));
            } else if t.to == addr(PHONE) {
                self.phone_got.push(t.bytes);
            } else {
                panic!("a datagram to {}", t.to);
            }
        }
    }

    /// The browser sends `n` G.711 packets of 160 bytes (payload byte `fill`).
    fn browser_sends(&mut self, mid: Mid, n: u16, fill: u8) {
        for _ in 0..n {
            let mut api = self.browser.direct_api();
            let stream = api
                .stream_tx_by_mid(mid, None)
                .expect("the browser's send stream");
            let write = RtpWrite::new(
                Pt::from(0),
                SeqNo::from(self.browser_seq),
                (self.browser_seq as u32).wrapping_mul(160),
                self.now,
                vec![fill; 160],
            );
            stream.write_rtp(write);
            self.browser_seq += 1;
            self.run(Duration::from_millis(20));
        }
    }

    /// The phone sends `n` G.711 packets to `relay_port`.
    fn phone_sends(&mut self, relay_port: u16, n: u16, fill: u8) -> Vec<Forward> {
        let mut verdicts = Vec::new();
        for i in 0..n {
            let mut packet = vec![0x80, 0, 0, 0, 0, 0, 0, 0, 0x11, 0x22, 0x33, 0x44];
            packet[2..4].copy_from_slice(&(500 + i).to_be_bytes());
            packet[4..8].copy_from_slice(&(u32::from(i) * 160).to_be_bytes());
            packet.extend_from_slice(&[fill; 160]);
            verdicts.push(
                self.relay
                    .forward(self.now, relay_port, addr(PHONE), &packet),
            );
            self.collect();
            self.run(Duration::from_millis(20));
        }
        verdicts
    }
}

const PHONE_OFFER: &str = "v=0\r\no=phone 1 1 IN IP4 192.0.2.30\r\ns=-\r\nc=IN IP4 192.0.2.30\r\n\
    t=0 0\r\nm=audio 40000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n\
    a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=sendrecv\r\n";
const PHONE_ANSWER: &str = "v=0\r\no=phone 1 1 IN IP4 192.0.2.30\r\ns=-\r\nc=IN IP4 192.0.2.30\r\n\
    t=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n";

/// A browser's offer through the relay to a phone, the phone's answer back: the browser
/// set up, nothing sent yet. Answers the network, the browser's mid and the phone's relay
/// port.
fn browser_calls_phone(call: &str, tamper: impl Fn(String) -> String) -> (Net, Mid, u16) {
    let now = Instant::now();
    let mut browser = browser(now);
    let mut change = browser.sdp_api();
    let mid = change.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
    let (offer, pending): (SdpOffer, SdpPendingOffer) = change.apply().unwrap();
    let offer = tamper(offer.to_sdp_string());
    let mut relay = engine();
    let to_phone = relay
        .offer(
            now,
            &request(call, "browser", None, &offer, Flags::default()),
            &mut |_| true,
        )
        .unwrap();
    let text = String::from_utf8(to_phone.sdp.clone()).unwrap();
    assert!(text.contains(" RTP/AVP "), "{text}");
    assert!(!text.contains("a=fingerprint"), "{text}");
    let phone_port = media_port(&to_phone.sdp);
    let to_browser = relay
        .answer(
            now,
            &request(
                call,
                "browser",
                Some("phone"),
                PHONE_ANSWER,
                Flags::default(),
            ),
            &mut |_| true,
        )
        .unwrap();
    let answer_text = String::from_utf8(to_browser.sdp.clone()).unwrap();
    let answer = SdpAnswer::from_sdp_string(&answer_text).unwrap();
    browser.sdp_api().accept_answer(pending, answer).unwrap();
    let browser_port = media_port(&to_browser.sdp);
    let net = Net {
        now,
        relay,
        browser,
        to_browser: VecDeque::new(),
        phone_got: Vec::new(),
        browser_got: Vec::new(),
        browser_port,
        browser_connected: false,
        browser_timeout: now,
        browser_seq: 100,
    };
    (net, mid, phone_port)
}

#[test]
fn a_browser_calls_a_phone_through_ice_lite_and_dtls() {
    let (mut net, mid, phone_port) = browser_calls_phone("call-b2p", |s| s);
    net.run(Duration::from_secs(2));
    assert!(net.browser_connected, "ICE and DTLS completed");

    net.browser_sends(mid, 10, 0xd5);
    let from_browser: Vec<_> = net.phone_got.iter().filter(|p| p.len() == 172).collect();
    assert!(
        from_browser.len() >= 9,
        "the phone got {} packets",
        from_browser.len()
    );
    assert_eq!(from_browser[0][0], 0x80, "plain RTP version 2");
    assert_eq!(from_browser[0][1] & 0x7f, 0, "PCMU");
    assert!(from_browser.iter().all(|p| p[12..] == [0xd5; 160]));

    let verdicts = net.phone_sends(phone_port, 10, 0x55);
    assert!(
        verdicts.iter().all(|v| matches!(v, Forward::Queued)),
        "{verdicts:?}"
    );
    net.run(Duration::from_millis(200));
    let audio: Vec<_> = net.browser_got.iter().filter(|p| p.len() == 160).collect();
    assert!(audio.len() >= 9, "the browser got {} packets", audio.len());
    assert!(audio.iter().all(|p| p[..] == [0x55; 160]));

    // The phone's RTCP is read, not passed to the browser.
    let rr = [0x80u8, 201, 0, 1, 0x11, 0x22, 0x33, 0x44];
    assert_eq!(
        net.relay.forward(net.now, phone_port + 1, addr(PHONE), &rr),
        Forward::Drop(DropReason::RtcpTerminated)
    );
    let stats = net.relay.query("call-b2p").unwrap();
    assert!(stats.parties[0].streams[0].rtp.packets > 10);
    assert_eq!(stats.parties[1].streams[0].rtp.packets, 10);

    // A payload type the SDP did not name is not passed to the browser (str0m would warn
    // for each packet).
    let mut odd = vec![0x80, 18, 0, 99, 0, 0, 0, 0, 0x11, 0x22, 0x33, 0x44];
    odd.extend_from_slice(&[0; 20]);
    net.relay.forward(net.now, phone_port, addr(PHONE), &odd);
    assert!(net.relay.take_transmits().is_empty());

    // The browser re-offers (hold: sendonly) through the relay: the phone gets it plain,
    // its answer goes back WebRTC, and the DTLS association goes on.
    let mut change = net.browser.sdp_api();
    change.set_direction(mid, Direction::SendOnly);
    let (offer, pending) = change.apply().unwrap();
    let to_phone = net
        .relay
        .offer(
            net.now,
            &request(
                "call-b2p",
                "browser",
                Some("phone"),
                &offer.to_sdp_string(),
                Flags::default(),
            ),
            &mut |_| true,
        )
        .unwrap();
    let text = String::from_utf8(to_phone.sdp).unwrap();
    assert!(
        text.contains("a=sendonly\r\n") && text.contains(" RTP/AVP "),
        "{text}"
    );
    assert_eq!(
        media_port(text.as_bytes()),
        phone_port,
        "the same relay port"
    );
    let recv_only = PHONE_ANSWER.replace("a=sendrecv", "a=recvonly");
    let to_browser = net
        .relay
        .answer(
            net.now,
            &request(
                "call-b2p",
                "browser",
                Some("phone"),
                &recv_only,
                Flags::default(),
            ),
            &mut |_| true,
        )
        .unwrap();
    let text = String::from_utf8(to_browser.sdp).unwrap();
    assert!(
        text.contains("a=setup:passive\r\n") && text.contains("a=recvonly\r\n"),
        "{text}"
    );
    net.browser
        .sdp_api()
        .accept_answer(pending, SdpAnswer::from_sdp_string(&text).unwrap())
        .unwrap();
    let before = net.phone_got.len();
    net.browser_sends(mid, 5, 0x11);
    assert!(
        net.phone_got.len() >= before + 4,
        "audio goes on after the re-offer"
    );
    assert!(
        net.relay.handle_timeout(net.now).is_empty(),
        "nothing failed"
    );
}

#[test]
fn a_phone_calls_a_browser_that_answers_webrtc() {
    let now = Instant::now();
    let mut relay = engine();
    let to_browser = relay
        .offer(
            now,
            &request("call-p2b", "phone", None, PHONE_OFFER, webrtc_flags()),
            &mut |_| true,
        )
        .unwrap();
    let offer_text = String::from_utf8(to_browser.sdp.clone()).unwrap();
    assert!(
        offer_text.contains("m=audio 37002 UDP/TLS/RTP/SAVPF 0 101\r\n"),
        "{offer_text}"
    );
    let browser_port = media_port(&to_browser.sdp);
    let mut browser = browser(now);
    let offer = SdpOffer::from_sdp_string(&offer_text).unwrap();
    let answer = browser.sdp_api().accept_offer(offer).unwrap();
    let to_phone = relay
        .answer(
            now,
            &request(
                "call-p2b",
                "phone",
                Some("browser"),
                &answer.to_sdp_string(),
                Flags::default(),
            ),
            &mut |_| true,
        )
        .unwrap();
    let phone_text = String::from_utf8(to_phone.sdp.clone()).unwrap();
    assert!(phone_text.contains(" RTP/AVP 0"), "{phone_text}");
    let phone_port = {
        // The phone sends to the port of its side: the one in the offer it made? No: the
        // port in the SDP the phone reads, the answer.
        media_port(&to_phone.sdp)
    };
    let mid = Mid::from("0");
    let mut net = Net {
        now,
        relay,
        browser,
        to_browser: VecDeque::new(),
        phone_got: Vec::new(),
        browser_got: Vec::new(),
        browser_port,
        browser_connected: false,
        browser_timeout: now,
        browser_seq: 100,
    };
    net.run(Duration::from_secs(2));
    assert!(net.browser_connected, "ICE and DTLS completed");
    let verdicts = net.phone_sends(phone_port, 5, 0x2a);
    assert!(
        verdicts.iter().all(|v| matches!(v, Forward::Queued)),
        "{verdicts:?}"
    );
    net.run(Duration::from_millis(200));
    let audio: Vec<_> = net.browser_got.iter().filter(|p| p.len() == 160).collect();
    assert!(audio.len() >= 4, "the browser got {} packets", audio.len());
    net.browser_sends(mid, 5, 0x7f);
    let from_browser = net.phone_got.iter().filter(|p| p.len() == 172).count();
    assert!(from_browser >= 4, "the phone got {from_browser} packets");
}

#[test]
fn a_fingerprint_that_does_not_match_ends_that_call_only() {
    // The browser's offer carries another certificate's fingerprint (well formed).
    let (mut net, _mid, _phone_port) = browser_calls_phone("call-bad-dtls", |sdp| {
        let line = sdp
            .lines()
            .find(|l| l.starts_with("a=fingerprint:"))
            .unwrap();
        let other = format!("a=fingerprint:sha-256 {}", vec!["5A"; 32].join(":"));
        sdp.replace(line, &other)
    });
    // Another call, plain, on the same relay.
    net.relay
        .offer(
            net.now,
            &request("plain", "a", None, PHONE_OFFER, Flags::default()),
            &mut |_| true,
        )
        .unwrap();
    net.relay
        .answer(
            net.now,
            &request("plain", "a", Some("b"), PHONE_ANSWER, Flags::default()),
            &mut |_| true,
        )
        .unwrap();
    net.run(Duration::from_secs(2));
    let removed = net.relay.handle_timeout(net.now);
    let ids: Vec<_> = removed.iter().map(|c| c.call_id.as_str()).collect();
    assert_eq!(ids, ["call-bad-dtls"], "the failed call is removed, alone");
    assert_eq!(net.relay.list(), ["plain"]);
    assert!(net.relay.query("plain").is_ok());
}

#[test]
fn a_stun_flood_from_unknown_sources_keeps_nothing() {
    let (mut net, mid, _phone_port) = browser_calls_phone("call-flood", |s| s);
    // Binding requests with a wrong USERNAME and no valid integrity, from 10,000 sources.
    for i in 0..10_000u32 {
        let mut stun = vec![0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42];
        stun.extend_from_slice(&i.to_be_bytes());
        stun.extend_from_slice(&[0; 8]);
        let source = SocketAddr::new([10, (i >> 16) as u8, (i >> 8) as u8, i as u8].into(), 5000);
        let verdict = net.relay.forward(net.now, net.browser_port, source, &stun);
        assert!(matches!(verdict, Forward::Queued));
        assert!(
            net.relay.take_transmits().is_empty(),
            "no answer to a bad check"
        );
    }
    net.run(Duration::from_secs(2));
    assert!(net.browser_connected, "the real browser still connects");
    net.browser_sends(mid, 3, 1);
    assert!(net.phone_got.iter().filter(|p| p.len() == 172).count() >= 2);
}
