//! What a listener would notice: a tone survives every codec, a lost frame is filled and
//! fades out, and no input makes an encoder or decoder panic.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod codec_support;

use codec_support::{sin_turns, to_i16, Lcg, Signal, FRAME, RATE};
use rtp::codec::{Codec, CodecError, FRAME_SAMPLES};

/// `frames` frames of a sine of `frequency` Hz and `amplitude`.
fn tone(frequency: f64, amplitude: f64, frames: usize) -> Vec<i16> {
    (0..frames * FRAME)
        .map(|k| to_i16(amplitude * sin_turns(frequency * k as f64 / RATE)))
        .collect()
}

/// Amplitude of the `frequency` component of `x` (Goertzel), for a whole number of periods.
fn amplitude_at(x: &[i16], frequency: f64) -> f64 {
    let coefficient = 2.0 * sin_turns(frequency / RATE + 0.25);
    let (mut s1, mut s2) = (0.0, 0.0);
    for &sample in x {
        let s0 = f64::from(sample) + coefficient * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - coefficient * s1 * s2;
    2.0 * power.sqrt() / x.len() as f64
}

/// Mean power of `x`.
fn power(x: &[i16]) -> f64 {
    x.iter().map(|&s| f64::from(s) * f64::from(s)).sum::<f64>() / x.len() as f64
}

fn round_trip(codec: Codec, samples: &[i16]) -> Vec<i16> {
    let mut payload = Vec::new();
    codec.encoder().encode(samples, &mut payload).unwrap();
    assert_eq!(
        payload.len(),
        samples.len() / FRAME * codec.bytes_per_frame()
    );
    let mut decoded = Vec::new();
    codec.decoder().decode(&payload, &mut decoded).unwrap();
    assert_eq!(decoded.len(), samples.len());
    decoded
}

#[test]
fn the_measure_tells_tones_apart() {
    let x = tone(1_000.0, 10_000.0, 10);
    assert!((amplitude_at(&x, 1_000.0) - 10_000.0).abs() < 5.0);
    assert!(amplitude_at(&x, 500.0) < 5.0);
    assert!(amplitude_at(&tone(440.0, 10_000.0, 10), 1_000.0) < 300.0);
}

#[test]
fn a_1khz_tone_survives_every_codec() {
    let input = tone(1_000.0, 10_000.0, 50);
    // Leave the first 200 ms to the GSM filters to settle; 6400 samples are 800 periods.
    let window = 10 * FRAME..;
    let input_tone = amplitude_at(&input[window.clone()], 1_000.0);
    for codec in Codec::ALL {
        let output = round_trip(codec, &input);
        let output = &output[window.clone()];
        let kept = amplitude_at(output, 1_000.0);
        let gain_db = 20.0 * (kept / input_tone).log10();
        // Share of the output's power that is the tone (1 = nothing else).
        let purity = kept * kept / 2.0 / power(output);
        let (max_gain_error_db, min_purity) = match codec {
            Codec::Pcmu | Codec::Pcma => (0.1, 0.999),
            Codec::Gsm => (1.0, 0.99),
        };
        assert!(
            gain_db.abs() < max_gain_error_db,
            "{codec}: tone at {gain_db:.2} dB"
        );
        assert!(
            purity > min_purity,
            "{codec}: tone is {:.4} of the power",
            purity
        );
    }
}

#[test]
fn g711_signal_to_noise_ratio_is_that_of_the_standard() {
    // G.711 gives about 38 dB for a sine well inside the range. 1020 Hz, the usual test
    // tone: 1 kHz repeats every 8 samples, and so would its quantisation error.
    let input = tone(1_020.0, 10_000.0, 10);
    for codec in [Codec::Pcmu, Codec::Pcma] {
        let output = round_trip(codec, &input);
        let noise: Vec<i16> = output.iter().zip(&input).map(|(y, x)| y - x).collect();
        let snr_db = 10.0 * (power(&input) / power(&noise)).log10();
        assert!(snr_db > 35.0, "{codec}: SNR {snr_db:.1} dB");
    }
}

#[test]
fn a_lost_frame_is_filled_then_faded_out() {
    let input = tone(1_000.0, 10_000.0, 10);
    for codec in Codec::ALL {
        let mut encoder = codec.encoder();
        let mut decoder = codec.decoder();
        let mut payload = Vec::new();
        let mut received = Vec::new();
        for frame in input.chunks_exact(FRAME) {
            payload.clear();
            encoder.encode(frame, &mut payload).unwrap();
            decoder.decode(&payload, &mut received).unwrap();
        }
        let last_power = power(&received[received.len() - FRAME..]);

        let mut concealed = Vec::new();
        for _ in 0..20 {
            assert_eq!(decoder.conceal(&mut concealed), FRAME_SAMPLES);
        }
        let frame_power = |i: usize| power(&concealed[i * FRAME..(i + 1) * FRAME]);
        assert!(
            frame_power(0) > 0.4 * last_power,
            "{codec}: first fill too weak"
        );
        assert!(
            amplitude_at(&concealed[..FRAME], 1_000.0) > 3_000.0,
            "{codec}: not the tone"
        );
        assert!(frame_power(3) < frame_power(0), "{codec}: no fade");
        assert!(
            concealed[19 * FRAME..].iter().all(|&s| s == 0),
            "{codec}: not silent"
        );

        // The next payload is decoded as usual.
        let mut after = Vec::new();
        decoder.decode(&payload, &mut after).unwrap();
        assert!(power(&after) > 0.0, "{codec}");
    }
}

#[test]
fn conceal_before_anything_is_silence() {
    for codec in Codec::ALL {
        let mut out = Vec::new();
        assert_eq!(codec.decoder().conceal(&mut out), FRAME_SAMPLES);
        assert_eq!(out, vec![0; FRAME_SAMPLES], "{codec}");
    }
}

#[test]
fn no_input_makes_a_codec_panic() {
    let mut rng = Lcg::new(99);
    for codec in Codec::ALL {
        let mut encoder = codec.encoder();
        let mut decoder = codec.decoder();
        for round in 0..300 {
            let length = (rng.next_u32() % 400) as usize;
            let bytes: Vec<u8> = (0..length).map(|_| (rng.next_u32() >> 24) as u8).collect();
            let mut samples = Vec::new();
            let result = decoder.decode(&bytes, &mut samples);
            match codec {
                Codec::Pcmu | Codec::Pcma => assert_eq!(result, Ok(length)),
                Codec::Gsm => match result {
                    Ok(n) => assert_eq!(n, length / 33 * FRAME),
                    Err(CodecError::PayloadLength { bytes, .. }) => assert_eq!(bytes, length),
                    Err(CodecError::GsmSignature { index, .. }) => assert!(index < length / 33),
                    Err(other) => panic!("{other}"),
                },
            }
            // Half the rounds with GSM signatures forced, so that frames really decode.
            if codec == Codec::Gsm && round % 2 == 0 && length >= 33 {
                let mut frames = bytes[..length / 33 * 33].to_vec();
                for frame in frames.chunks_exact_mut(33) {
                    frame[0] = 0xD0 | (frame[0] & 0x0F);
                }
                assert_eq!(
                    decoder.decode(&frames, &mut samples),
                    Ok(frames.len() / 33 * FRAME)
                );
            }
            decoder.conceal(&mut samples);

            let count = (rng.next_u32() % 500) as usize;
            let input = Signal::WhiteNoise.generate(round, 4);
            let mut payload = Vec::new();
            let result = encoder.encode(&input[..count.min(input.len())], &mut payload);
            let count = count.min(input.len());
            match codec {
                Codec::Pcmu | Codec::Pcma => assert_eq!(result, Ok(count)),
                Codec::Gsm if count % FRAME == 0 => assert_eq!(result, Ok(count / FRAME * 33)),
                Codec::Gsm => assert!(matches!(result, Err(CodecError::SampleCount { .. }))),
            }
        }
    }
}
