//! The per-packet work of the relay core, without sockets: port lookup, latching check,
//! counters, RTP loss tracking and the choice of destination ([`Engine::forward`]), for one
//! call and for a table of 1,000 calls; and an RTCP receiver report, which is parsed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use relay::{Engine, EngineConfig, Forward, MediaRequest};

fn sdp(port: u16) -> Vec<u8> {
    format!(
        "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP 0\r\n"
    )
    .into_bytes()
}

/// An engine with `calls` answered calls; answers the relay port of the caller's side of
/// each.
fn engine_with(calls: usize) -> (Engine, Vec<u16>) {
    let mut config = EngineConfig::new([203, 0, 113, 5].into());
    config.port_min = 20000;
    config.port_max = 29999;
    let mut e = Engine::new(config).unwrap();
    let now = Instant::now();
    let mut ports = Vec::new();
    for i in 0..calls {
        let call_id = format!("call-{i}");
        let offer = MediaRequest {
            call_id: call_id.clone(),
            from_tag: "a".into(),
            sdp: sdp(4000),
            ..MediaRequest::default()
        };
        e.offer(now, &offer, &mut |_| true).unwrap();
        let answer = MediaRequest {
            to_tag: Some("b".into()),
            sdp: sdp(6000),
            ..offer
        };
        e.answer(now, &answer, &mut |_| true).unwrap();
        ports.push(e.query(&call_id).unwrap().parties[0].streams[0].local_port);
    }
    (e, ports)
}

fn packet(seq: u16) -> Vec<u8> {
    let mut p = vec![0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    p[2..4].copy_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&[0xd5; 160]);
    p
}

fn forward(c: &mut Criterion) {
    let mut group = c.benchmark_group("forward");
    group.throughput(Throughput::Elements(1));
    let source: SocketAddr = "198.51.100.7:40000".parse().unwrap();
    for calls in [1usize, 1000] {
        let (mut engine, ports) = engine_with(calls);
        let start = Instant::now();
        let mut pkt = packet(0);
        let mut seq: u16 = 0;
        let mut n: usize = 0;
        group.bench_function(format!("{calls} calls"), |b| {
            b.iter(|| {
                seq = seq.wrapping_add(1);
                pkt[2..4].copy_from_slice(&seq.to_be_bytes());
                n = n.wrapping_add(7919);
                let port = ports[n % ports.len()];
                let now = start + Duration::from_micros(u64::from(seq));
                let verdict = engine.forward(now, port, source, black_box(&pkt));
                assert!(matches!(verdict, Forward::Send { .. }));
                black_box(verdict)
            })
        });
    }
    // An RTCP receiver report (RFC 3550 §6.4.2, one block) on the RTCP port: parsed to
    // read what the party received.
    let (mut engine, ports) = engine_with(1);
    let rtcp_source: SocketAddr = "198.51.100.7:40001".parse().unwrap();
    let mut rr = Vec::new();
    let block = rtp::rtcp::ReportBlock {
        ssrc: 1,
        fraction_lost: 3,
        cumulative_lost: 12,
        highest_sequence: 5000,
        jitter: 40,
        last_sr: 0x1234_5678,
        delay_since_last_sr: 6553,
    };
    rtp::rtcp::write_receiver_report(&mut rr, 2, &[block]).unwrap();
    let start = Instant::now();
    let mut tick: u64 = 0;
    group.bench_function("1 call, RTCP RR", |b| {
        b.iter(|| {
            tick += 1;
            let now = start + Duration::from_micros(tick);
            let verdict = engine.forward(now, ports[0] + 1, rtcp_source, black_box(&rr));
            black_box(verdict)
        })
    });
    group.finish();
}

criterion_group!(benches, forward);
criterion_main!(benches);
