//! The phone's media work per call and per 20 ms tick, without the sockets: encode a frame
//! of the source, packetize it (`MediaStream::send_audio_into`), receive the peer's packet
//! into the jitter buffer, play out and decode one frame. 50 ticks are one call-second, so
//! `20 ms / (time per tick)` bounds the concurrent calls one core carries (the two UDP
//! system calls per tick come on top; see bench/RESULTS.md).
#![allow(missing_docs, clippy::unwrap_used)]

use std::time::{Duration, Instant, SystemTime};

use criterion::{criterion_group, criterion_main, Criterion};
use rtp::audio::tone::Tone;
use rtp::codec::{Codec, FRAME_SAMPLES};
use rtp::jitter::Playout;
use rtp::stream::{MediaStream, StreamConfig};

fn tick(c: &mut Criterion) {
    let mut group = c.benchmark_group("phone_media_tick");
    for codec in [Codec::Pcmu, Codec::Gsm] {
        let start = Instant::now();
        let wall = SystemTime::now();
        let pt = codec.payload_type();
        let mut ours =
            MediaStream::new(StreamConfig::new(1, 10, 1000, pt, "a@x"), start, wall).unwrap();
        let mut theirs =
            MediaStream::new(StreamConfig::new(2, 20, 2000, pt, "b@x"), start, wall).unwrap();
        let mut encoder = codec.encoder();
        let mut decoder = codec.decoder();
        let mut tone = Tone::new(440.0, 8000.0, 8000);
        let mut frame = vec![0i16; FRAME_SAMPLES];
        let (mut payload, mut packet, mut peer_packet, mut decoded) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        // The peer's audio: one encoded frame, packetized anew each tick (about 16 ns).
        let mut peer_payload = Vec::new();
        tone.fill(&mut frame);
        codec.encoder().encode(&frame, &mut peer_payload).unwrap();
        let mut n: u64 = 0;
        group.bench_function(codec.encoding_name(), |b| {
            b.iter(|| {
                n += 1;
                let now = start + Duration::from_millis(20 * n);
                // Send our frame.
                tone.fill(&mut frame);
                payload.clear();
                encoder.encode(&frame, &mut payload).unwrap();
                packet.clear();
                ours.send_audio_into(now, &payload, &mut packet);
                // The peer's frame arrives and one frame plays out.
                peer_packet.clear();
                theirs.send_audio_into(now, &peer_payload, &mut peer_packet);
                let _ = ours.receive_rtp(now, &peer_packet);
                decoded.clear();
                if let Playout::Frame(f) = ours.pop_audio(now) {
                    let _ = decoder.decode(&f.payload, &mut decoded);
                }
                while ours.poll_transmit(now).is_some() {}
                packet.len() + decoded.len()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, tick);
criterion_main!(benches);
