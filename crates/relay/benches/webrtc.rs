//! The per-packet cost of the WebRTC gateway in the relay core ([`Engine::forward`], no
//! sockets): a browser's DTLS-SRTP leg (str0m, keys from the DTLS handshake) bridged to a
//! phone's plain RTP leg, for a 172-octet G.711 packet (20 ms): RTP → DTLS-SRTP (the
//! phone's packet protected toward the browser) and DTLS-SRTP → RTP (the browser's
//! unprotected for the phone), beside plain → plain on the same engine. A second str0m
//! instance plays the browser; ICE-lite and DTLS complete in the setup, and the browser's
//! SRTP packets are made there too, outside the measured time.
//!
//! `cargo bench -p relay --bench webrtc`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::VecDeque;
use std::hint::black_box;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use relay::{Engine, EngineConfig, Flags, Forward, MediaRequest};
use str0m::change::SdpAnswer;
use str0m::media::{Direction, MediaKind, Mid, Pt};
use str0m::net::{Protocol, Receive};
use str0m::rtp::{RtpWrite, SeqNo};
use str0m::{Candidate, Event, Input, Output, Rtc};

const RELAY: [u8; 4] = [203, 0, 113, 5];
const BROWSER: &str = "198.51.100.20:50000";
const PHONE: &str = "192.0.2.30:40000";

fn sdp_port(sdp: &[u8]) -> u16 {
    let text = std::str::from_utf8(sdp).unwrap();
    let line = text.lines().find(|l| l.starts_with("m=audio ")).unwrap();
    line.split(' ').nth(1).unwrap().parse().unwrap()
}

struct Call {
    engine: Engine,
    peer: Peer,
    browser_port: u16,
    phone_port: u16,
}

/// The browser and its clock.
struct Peer {
    browser: Rtc,
    mid: Mid,
    now: Instant,
    /// Datagrams the browser sent, not yet handed to the relay.
    from_browser: VecDeque<Vec<u8>>,
}

impl Peer {
    /// Polls the browser; its datagrams are kept in `from_browser`.
    fn poll_browser(&mut self) -> bool {
        let mut connected = false;
        loop {
            match self.browser.poll_output().unwrap() {
                Output::Timeout(_) => return connected,
                Output::Transmit(t) => self.from_browser.push_back(t.contents.to_vec()),
                Output::Event(Event::Connected) => connected = true,
                Output::Event(_) => {}
            }
        }
    }

    /// The browser's next SRTP packet.
    fn browser_packet(&mut self, seq: u64) -> Vec<u8> {
        let mut api = self.browser.direct_api();
        let stream = api.stream_tx_by_mid(self.mid, None).unwrap();
        stream.write_rtp(RtpWrite::new(
            Pt::from(0),
            SeqNo::from(seq),
            (seq as u32).wrapping_mul(160),
            self.now,
            vec![0xd5; 160],
        ));
        self.now += Duration::from_millis(20);
        self.browser.handle_input(Input::Timeout(self.now)).unwrap();
        self.poll_browser();
        loop {
            let d = self.from_browser.pop_front().expect("an SRTP packet");
            if d.len() > 160 {
                return d;
            }
        }
    }
}

/// Delivers what each side sent to the other until the browser is connected.
fn connect(engine: &mut Engine, peer: &mut Peer, browser_port: u16) {
    let browser: SocketAddr = BROWSER.parse().unwrap();
    for _ in 0..5000 {
        peer.now += Duration::from_millis(1);
        peer.browser.handle_input(Input::Timeout(peer.now)).unwrap();
        if peer.poll_browser() {
            peer.from_browser.clear();
            return;
        }
        while let Some(d) = peer.from_browser.pop_front() {
            engine.forward(peer.now, browser_port, browser, &d);
        }
        engine.handle_webrtc_timeout(peer.now);
        for t in engine.take_transmits() {
            if t.to == browser {
                let input = Input::Receive(
                    peer.now,
                    Receive {
                        proto: Protocol::Udp,
                        source: SocketAddr::new(RELAY.into(), t.from_port),
                        destination: browser,
                        contents: t.bytes.as_slice().try_into().unwrap(),
                    },
                );
                peer.browser.handle_input(input).unwrap();
            }
        }
    }
    panic!("the browser did not connect");
}

fn call() -> Call {
    let now = Instant::now();
    let mut config = EngineConfig::new(RELAY.into());
    config.port_min = 21000;
    config.port_max = 21099;
    let mut engine = Engine::new(config).unwrap();
    let mut browser = Rtc::builder()
        .set_crypto_provider(relay::webrtc::crypto::provider())
        .set_rtp_mode(true)
        .clear_codecs()
        .enable_pcmu(true, false)
        .build(now);
    browser.add_local_candidate(Candidate::host(BROWSER.parse().unwrap(), "udp").unwrap());
    let mut change = browser.sdp_api();
    let mid = change.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
    let (offer, pending) = change.apply().unwrap();
    let offer = MediaRequest {
        call_id: "bench".into(),
        from_tag: "browser".into(),
        sdp: offer.to_sdp_string().into_bytes(),
        flags: Flags::default(),
        ..MediaRequest::default()
    };
    let to_phone = engine.offer(now, &offer, &mut |_| true).unwrap();
    let answer = MediaRequest {
        to_tag: Some("phone".into()),
        sdp: b"v=0\r\no=phone 1 1 IN IP4 192.0.2.30\r\ns=-\r\nc=IN IP4 192.0.2.30\r\nt=0 0\r\n\
               m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
            .to_vec(),
        ..offer
    };
    let to_browser = engine.answer(now, &answer, &mut |_| true).unwrap();
    let text = String::from_utf8(to_browser.sdp.clone()).unwrap();
    browser
        .sdp_api()
        .accept_answer(pending, SdpAnswer::from_sdp_string(&text).unwrap())
        .unwrap();
    let mut call = Call {
        engine,
        peer: Peer {
            browser,
            mid,
            now,
            from_browser: VecDeque::new(),
        },
        browser_port: sdp_port(&to_browser.sdp),
        phone_port: sdp_port(&to_phone.sdp),
    };
    connect(&mut call.engine, &mut call.peer, call.browser_port);
    call
}

fn packet(seq: u16) -> Vec<u8> {
    let mut p = vec![0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    p[2..4].copy_from_slice(&seq.to_be_bytes());
    p[4..8].copy_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p.extend_from_slice(&[0xd5; 160]);
    p
}

fn webrtc(c: &mut Criterion) {
    let mut group = c.benchmark_group("webrtc");
    group.throughput(Throughput::Elements(1));
    let browser: SocketAddr = BROWSER.parse().unwrap();
    let phone: SocketAddr = PHONE.parse().unwrap();

    // The phone's RTP, protected toward the browser.
    let Call {
        mut engine,
        peer,
        phone_port,
        ..
    } = call();
    let mut seq: u16 = 0;
    let mut now = peer.now;
    group.bench_function("RTP -> DTLS-SRTP", |b| {
        b.iter_batched(
            || {
                seq = seq.wrapping_add(1);
                now += Duration::from_millis(20);
                (packet(seq), now)
            },
            |(pkt, now)| {
                let verdict = engine.forward(now, phone_port, phone, black_box(&pkt));
                assert!(matches!(verdict, Forward::Queued), "{verdict:?}");
                let sent = engine.take_transmits();
                assert!(sent.iter().any(|t| t.to == browser), "{sent:?}");
                black_box(sent)
            },
            BatchSize::SmallInput,
        )
    });

    // The browser's SRTP, unprotected for the phone.
    let Call {
        mut engine,
        mut peer,
        browser_port,
        ..
    } = call();
    let mut seq: u64 = 0;
    group.bench_function("DTLS-SRTP -> RTP", |b| {
        b.iter_batched(
            || {
                seq += 1;
                (peer.browser_packet(seq), peer.now)
            },
            |(pkt, now)| {
                let verdict = engine.forward(now, browser_port, browser, black_box(&pkt));
                assert!(matches!(verdict, Forward::Queued), "{verdict:?}");
                let sent = engine.take_transmits();
                assert!(sent.iter().any(|t| t.to == phone), "{sent:?}");
                black_box(sent)
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, webrtc);
criterion_main!(benches);
