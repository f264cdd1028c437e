//! The per-packet cost of SRTP bridging in the relay core ([`Engine::forward`], no
//! sockets): plain RTP → plain RTP (the baseline), SRTP → RTP (unprotect), RTP → SRTP
//! (protect) and SRTP → SRTP (both, a key per leg), for a 172-octet G.711 packet (20 ms).
//! The phone's side of each packet (protecting what the relay unprotects) is made in the
//! setup, outside the measured time.
//!
//! `cargo bench -p relay --bench srtp`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use relay::{Engine, EngineConfig, Flags, Forward, MediaRequest, Profile};
use rtp::srtp::sdes::{offered_crypto, usable};
use rtp::srtp::SrtpContext;
use sdp::{Crypto, SessionDescription};

const ALICE: &str = "198.51.100.7:40000";
const BOB: &str = "192.0.2.1:6000";

fn sdp(ip: &str, port: u16, crypto: Option<&Crypto>) -> Vec<u8> {
    let (proto, line) = match crypto {
        Some(c) => ("RTP/SAVP", format!("a=crypto:{c}\r\n")),
        None => ("RTP/AVP", String::new()),
    };
    format!(
        "v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
         m=audio {port} {proto} 0\r\n{line}"
    )
    .into_bytes()
}

fn context(line: &Crypto) -> SrtpContext {
    let (suite, key) = usable(line).unwrap();
    SrtpContext::new(suite, &key.key).unwrap()
}

/// A call: Alice (SRTP when `alice_srtp`) offers, the relay speaks `toward_bob` to Bob, who
/// answers in it. Answers the engine, Alice's sending context (when SRTP), Alice's relay
/// port and Bob's.
fn call(alice_srtp: bool, toward_bob: Option<Profile>) -> (Engine, Option<SrtpContext>, u16, u16) {
    let mut config = EngineConfig::new([203, 0, 113, 5].into());
    config.port_min = 20000;
    config.port_max = 20099;
    let mut e = Engine::new(config).unwrap();
    let now = Instant::now();
    let alice_line = offered_crypto().unwrap().into_iter().next().unwrap();
    let offer = MediaRequest {
        call_id: "bench".into(),
        from_tag: "a".into(),
        sdp: sdp("198.51.100.7", 40000, alice_srtp.then_some(&alice_line)),
        flags: Flags {
            transport: toward_bob,
            ..Flags::default()
        },
        ..MediaRequest::default()
    };
    let offered = e.offer(now, &offer, &mut |_| true).unwrap();
    let to_bob = SessionDescription::from_bytes(&offered.sdp).unwrap();
    let bob_line = to_bob.media()[0].cryptos().next().map(|ours| {
        let mut theirs = offered_crypto().unwrap().into_iter().next().unwrap();
        theirs.tag = ours.tag;
        theirs
    });
    let answer = MediaRequest {
        to_tag: Some("b".into()),
        sdp: sdp("192.0.2.1", 6000, bob_line.as_ref()),
        flags: Flags::default(),
        ..offer
    };
    e.answer(now, &answer, &mut |_| true).unwrap();
    let stats = e.query("bench").unwrap();
    let alice_port = stats.parties[0].streams[0].local_port;
    let bob_port = stats.parties[1].streams[0].local_port;
    (
        e,
        alice_srtp.then(|| context(&alice_line)),
        alice_port,
        bob_port,
    )
}

fn packet(seq: u16) -> Vec<u8> {
    let mut p = vec![0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    p[2..4].copy_from_slice(&seq.to_be_bytes());
    p[4..8].copy_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p.extend_from_slice(&[0xd5; 160]);
    p
}

fn srtp(c: &mut Criterion) {
    let mut group = c.benchmark_group("srtp");
    group.throughput(Throughput::Elements(1));
    let alice: SocketAddr = ALICE.parse().unwrap();
    let bob: SocketAddr = BOB.parse().unwrap();
    let start = Instant::now();

    for (name, alice_srtp, toward_bob) in [
        ("plain -> plain", false, None),
        ("SRTP -> RTP", true, Some(Profile::Avp)),
        ("SRTP -> SRTP", true, Some(Profile::Savp)),
    ] {
        let (mut engine, mut phone, alice_port, _) = call(alice_srtp, toward_bob);
        let mut seq: u16 = 0;
        let mut tick: u64 = 0;
        group.bench_function(name, |b| {
            b.iter_batched(
                || {
                    seq = seq.wrapping_add(1);
                    let plain = packet(seq);
                    match &mut phone {
                        Some(ctx) => ctx.protect_rtp(&plain).unwrap(),
                        None => plain,
                    }
                },
                |pkt| {
                    tick += 1;
                    let now = start + Duration::from_micros(tick);
                    let verdict = engine.forward(now, alice_port, alice, black_box(&pkt));
                    assert!(
                        matches!(
                            verdict,
                            Forward::Send { .. } | Forward::SendRewritten { .. }
                        ),
                        "{verdict:?}"
                    );
                    black_box(verdict)
                },
                BatchSize::SmallInput,
            )
        });
    }

    // RTP → SRTP: Bob's plain packets protected toward Alice.
    let (mut engine, _, _, bob_port) = call(true, Some(Profile::Avp));
    let mut seq: u16 = 0;
    let mut tick: u64 = 0;
    group.bench_function("RTP -> SRTP", |b| {
        b.iter_batched(
            || {
                seq = seq.wrapping_add(1);
                packet(seq)
            },
            |pkt| {
                tick += 1;
                let now = start + Duration::from_micros(tick);
                let verdict = engine.forward(now, bob_port, bob, black_box(&pkt));
                assert!(
                    matches!(verdict, Forward::SendRewritten { .. }),
                    "{verdict:?}"
                );
                black_box(verdict)
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, srtp);
criterion_main!(benches);
