//! G.711 against an independent reference and against the standard's properties.
//!
//! The golden files in `tests/data/codec/` come from Python's `audioop` (see `gen_g711.py`
//! beside them): the code of every one of the 65,536 16-bit samples and the value of every
//! one of the 256 codes, for each law.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod codec_support;

use codec_support::{data_dir, le_to_samples};
use rtp::codec::g711::{
    alaw_decode, alaw_encode, ulaw_decode, ulaw_encode, ALAW_EVEN_BIT_INVERSION, ULAW_BIAS,
};

fn golden(file: &str) -> Vec<u8> {
    std::fs::read(data_dir().join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn every_sample() -> impl Iterator<Item = i16> {
    i16::MIN..=i16::MAX
}

#[test]
fn ulaw_encoding_of_every_sample_matches_audioop() {
    let expected = golden("ulaw_encode.bin");
    assert_eq!(expected.len(), 65_536);
    for (sample, &code) in every_sample().zip(&expected) {
        assert_eq!(ulaw_encode(sample), code, "μ-law of {sample}");
    }
}

#[test]
fn alaw_encoding_of_every_sample_matches_audioop() {
    let expected = golden("alaw_encode.bin");
    assert_eq!(expected.len(), 65_536);
    for (sample, &code) in every_sample().zip(&expected) {
        assert_eq!(alaw_encode(sample), code, "A-law of {sample}");
    }
}

#[test]
fn decoding_of_every_code_matches_audioop() {
    let ulaw = le_to_samples(&golden("ulaw_decode.bin"));
    let alaw = le_to_samples(&golden("alaw_decode.bin"));
    assert_eq!((ulaw.len(), alaw.len()), (256, 256));
    for code in 0..=255u8 {
        assert_eq!(
            ulaw_decode(code),
            ulaw[usize::from(code)],
            "μ-law {code:#04x}"
        );
        assert_eq!(
            alaw_decode(code),
            alaw[usize::from(code)],
            "A-law {code:#04x}"
        );
    }
}

/// μ-law: adding the bias 0x84 to a decoded magnitude gives `(2 × step + 33) × 2^(seg + 2)`,
/// so the segments start at powers of two (G.711 Table 2a, in 16-bit units).
#[test]
fn ulaw_bias_puts_segments_on_powers_of_two() {
    assert_eq!(ULAW_BIAS, 0x84);
    for code in 0..=255u8 {
        let uninverted = !code;
        let segment = u32::from((uninverted >> 4) & 7);
        let step = i32::from(uninverted & 0x0F);
        let value = i32::from(ulaw_decode(code));
        assert_eq!(
            value.abs() + ULAW_BIAS,
            (2 * step + 33) << (segment + 2),
            "{code:#04x}"
        );
        assert_eq!(
            value < 0,
            uninverted & 0x80 != 0 && value != 0,
            "{code:#04x}"
        );
    }
}

/// A-law: the even bits of every code are inverted (`^ 0x55`): beneath that, the code is
/// sign (1 = positive), 3 bits of segment and 4 of step, in increasing order of magnitude;
/// silence (the two smallest values) is `0xD5`/`0x55`, full of transitions.
#[test]
fn alaw_even_bits_are_inverted() {
    assert_eq!(ALAW_EVEN_BIT_INVERSION, 0x55);
    assert_eq!((alaw_encode(0), alaw_encode(-1)), (0xD5, 0x55));
    for sign in [0x00u8, 0x80] {
        let mut previous = -1;
        for magnitude in 0..0x80u8 {
            let value = i32::from(alaw_decode((sign | magnitude) ^ ALAW_EVEN_BIT_INVERSION));
            assert_eq!(value > 0, sign == 0x80, "{magnitude:#04x}");
            assert!(
                value.abs() > previous,
                "{magnitude:#04x}: magnitudes must grow"
            );
            previous = value.abs();
        }
    }
    // A-law is symmetric: -x - 1 has the code of x with the sign bit cleared.
    for sample in every_sample().filter(|s| *s >= 0) {
        assert_eq!(
            alaw_encode(-sample - 1),
            alaw_encode(sample) ^ 0x80,
            "{sample}"
        );
    }
}

#[test]
fn round_trips_are_idempotent() {
    for code in 0..=255u8 {
        // μ-law -0 (0x7F) comes back as +0 (0xFF); every other code is its own round trip.
        let expected = if code == 0x7F { 0xFF } else { code };
        assert_eq!(
            ulaw_encode(ulaw_decode(code)),
            expected,
            "μ-law {code:#04x}"
        );
        assert_eq!(alaw_encode(alaw_decode(code)), code, "A-law {code:#04x}");
    }
    for sample in every_sample() {
        let ulaw = ulaw_encode(sample);
        assert_eq!(ulaw_encode(ulaw_decode(ulaw)), ulaw, "μ-law {sample}");
        let alaw = alaw_encode(sample);
        assert_eq!(alaw_encode(alaw_decode(alaw)), alaw, "A-law {sample}");
    }
}

#[test]
fn quantisation_is_monotonic_and_within_half_a_step() {
    let mut previous = (i16::MIN, i16::MIN);
    for sample in every_sample() {
        let decoded = (
            ulaw_decode(ulaw_encode(sample)),
            alaw_decode(alaw_encode(sample)),
        );
        assert!(
            decoded.0 >= previous.0 && decoded.1 >= previous.1,
            "{sample}"
        );
        previous = decoded;
        // Half of the largest step (1024 in segment 7 of both laws) plus the grid of the
        // law (4 or 8); beyond the last reconstruction level the overload adds to it.
        let magnitude = i32::from(sample).abs();
        let limits = [
            516 + (magnitude - 32_124).max(0),
            520 + (magnitude - 32_256).max(0),
        ];
        for (value, limit) in [decoded.0, decoded.1].into_iter().zip(limits) {
            let error = (i32::from(value) - i32::from(sample)).abs();
            assert!(error <= limit, "{sample} → {value}");
        }
    }
}
