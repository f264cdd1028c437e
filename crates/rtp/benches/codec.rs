//! Cost of the codecs per 20 ms frame (160 samples at 8 kHz), on a voiced-speech-like
//! signal:
//!
//! - `codec_frame/encode/<codec>`: one frame of samples to its payload.
//! - `codec_frame/decode/<codec>`: one payload back to samples.
//! - `codec_frame/encode_decode/<codec>`: both, what a transcoding leg costs per frame.
//!
//! A call leg has 50 frames a second each way. Run with `cargo bench -p rtp@0.1.0 --bench codec`
//! (`-p rtp` alone is ambiguous: webrtc-srtp brings the crates.io `rtp`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rtp::codec::{Codec, FRAME_SAMPLES};

/// A 150 Hz pulse-rich tone with two formant-like partials: the LTP and LPC search do real
/// work on it (silence would be too cheap to be honest).
fn speech_like_frame() -> Vec<i16> {
    (0..FRAME_SAMPLES)
        .map(|k| {
            let t = k as f64 / 8_000.0;
            let x = 6_000.0 * (std::f64::consts::TAU * 150.0 * t).sin()
                + 3_000.0 * (std::f64::consts::TAU * 700.0 * t).sin()
                + 1_500.0 * (std::f64::consts::TAU * 2_400.0 * t).sin();
            x as i16
        })
        .collect()
}

fn codec_frame(c: &mut Criterion) {
    let samples = speech_like_frame();
    let mut group = c.benchmark_group("codec_frame");
    group.throughput(Throughput::Elements(FRAME_SAMPLES as u64));
    for codec in Codec::ALL {
        let name = codec.encoding_name();
        let mut encoder = codec.encoder();
        let mut payload = Vec::with_capacity(codec.bytes_per_frame());
        group.bench_function(format!("encode/{name}"), |b| {
            b.iter(|| {
                payload.clear();
                encoder.encode(black_box(&samples), &mut payload).unwrap()
            })
        });

        let mut decoder = codec.decoder();
        let mut decoded = Vec::with_capacity(FRAME_SAMPLES);
        group.bench_function(format!("decode/{name}"), |b| {
            b.iter(|| {
                decoded.clear();
                decoder.decode(black_box(&payload), &mut decoded).unwrap()
            })
        });

        group.bench_function(format!("encode_decode/{name}"), |b| {
            b.iter(|| {
                payload.clear();
                decoded.clear();
                encoder.encode(black_box(&samples), &mut payload).unwrap();
                decoder.decode(&payload, &mut decoded).unwrap()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, codec_frame);
criterion_main!(benches);
