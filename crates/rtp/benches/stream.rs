//! Per-packet costs of the media path:
//!
//! - `send/audio`: `MediaStream::send_audio_into`, one 20 ms PCMU frame into a reused buffer.
//! - `receive/audio`: `MediaStream::receive_rtp` of one PCMU packet (parse, statistics,
//!   jitter buffer) plus the `pop_audio` of its playout tick.
//! - `parse/rtp`, `parse/rtcp`: the packet views alone (an RTP packet; an SR + SDES
//!   compound walked to the end).
//!
//! Run with `cargo bench -p rtp@0.1.0 --bench stream`
//! (`-p rtp` alone is ambiguous: webrtc-srtp brings the crates.io `rtp`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rtp::ntp::NtpTimestamp;
use rtp::rtcp::{Compound, CompoundReport, ReportBlock, RtcpPacket, SenderInfo};
use rtp::{MediaStream, RtpHeader, RtpPacket, StreamConfig};

const FRAME: Duration = Duration::from_millis(20);

fn stream(t: Instant) -> MediaStream {
    let config = StreamConfig::new(0x1234_5678, 1, 1000, 0, "bench@example.com");
    MediaStream::new(config, t, SystemTime::UNIX_EPOCH).unwrap()
}

fn send(c: &mut Criterion) {
    let mut group = c.benchmark_group("send");
    group.throughput(Throughput::Elements(1));
    let t = Instant::now();
    let mut s = stream(t);
    let payload = [0xd5u8; 160];
    let mut buf = Vec::with_capacity(256);
    let mut now = t;
    group.bench_function("audio", |b| {
        b.iter(|| {
            now += FRAME;
            buf.clear();
            s.send_audio_into(now, black_box(&payload), &mut buf);
            black_box(buf.len())
        })
    });
    group.finish();
}

fn receive(c: &mut Criterion) {
    let mut group = c.benchmark_group("receive");
    group.throughput(Throughput::Elements(1));
    let t = Instant::now();
    let mut s = stream(t);
    let mut packet = RtpHeader {
        payload_type: 0,
        ssrc: 0x0bad_cafe,
        ..RtpHeader::default()
    }
    .to_vec(&[0xd5; 160])
    .unwrap();
    let mut seq: u16 = 0;
    let mut ts: u32 = 0;
    let mut now = t;
    group.bench_function("audio", |b| {
        b.iter(|| {
            // The next datagram: the socket buffer rewritten in place.
            seq = seq.wrapping_add(1);
            ts = ts.wrapping_add(160);
            packet[2..4].copy_from_slice(&seq.to_be_bytes());
            packet[4..8].copy_from_slice(&ts.to_be_bytes());
            now += FRAME;
            let r = s.receive_rtp(now, black_box(&packet)).unwrap();
            let played = s.pop_audio(now + FRAME / 2);
            black_box((r, played))
        })
    });
    group.finish();
}

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");
    group.throughput(Throughput::Elements(1));
    let rtp = RtpHeader {
        marker: true,
        payload_type: 8,
        sequence: 7,
        timestamp: 160,
        ssrc: 1,
        ..RtpHeader::default()
    }
    .to_vec(&[0x55; 160])
    .unwrap();
    group.bench_function("rtp", |b| {
        b.iter(|| {
            let p = RtpPacket::parse(black_box(&rtp)).unwrap();
            (p.sequence(), p.timestamp(), p.ssrc(), p.payload().len())
        })
    });
    let block = ReportBlock {
        ssrc: 2,
        fraction_lost: 3,
        cumulative_lost: 4,
        highest_sequence: 5,
        jitter: 6,
        last_sr: 7,
        delay_since_last_sr: 8,
    };
    let rtcp = CompoundReport {
        ssrc: 1,
        sender_info: Some(SenderInfo {
            ntp: NtpTimestamp::from_parts(1, 2),
            rtp_timestamp: 3,
            packet_count: 4,
            octet_count: 5,
        }),
        report_blocks: &[block],
        cname: "bench@example.com",
        bye: false,
        bye_reason: None,
    }
    .to_vec()
    .unwrap();
    group.bench_function("rtcp", |b| {
        b.iter(|| {
            let mut lost = 0;
            for packet in Compound::parse(black_box(&rtcp)).unwrap().packets() {
                if let RtcpPacket::SenderReport(sr) = packet {
                    lost += sr.report_blocks().map(|b| b.cumulative_lost).sum::<i32>();
                }
            }
            lost
        })
    });
    group.finish();
}

criterion_group!(benches, send, receive, parse);
criterion_main!(benches);
