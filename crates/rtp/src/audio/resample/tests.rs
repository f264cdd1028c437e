//! Resampler tests: tones stay clean (compared sample by sample with the ideal tone at the
//! new rate, and by Goertzel), aliases and images are suppressed, pieces equal the whole.

use super::*;
use crate::audio::goertzel::{rms, tone_amplitude};

fn sine(frequency: f64, amplitude: f64, rate: u32, n: usize) -> Vec<i16> {
    (0..n)
        .map(|i| {
            (amplitude * (2.0 * PI * frequency * i as f64 / f64::from(rate)).sin()).round() as i16
        })
        .collect()
}

/// Error of `out` against the ideal sine at `rate`, relative to its RMS, away from the
/// edges (where the signal starts and stops abruptly).
fn relative_error(out: &[i16], frequency: f64, amplitude: f64, rate: u32) -> f64 {
    let ideal = sine(frequency, amplitude, rate, out.len());
    let margin = out.len() / 10;
    let err: Vec<i16> = out[margin..out.len() - margin]
        .iter()
        .zip(&ideal[margin..out.len() - margin])
        .map(|(a, b)| a.saturating_sub(*b))
        .collect();
    rms(&err) / (amplitude / 2f64.sqrt())
}

#[test]
fn down_48k_to_8k_keeps_a_1khz_tone_clean() {
    let input = sine(1000.0, 10_000.0, 48_000, 48_000);
    let out = resample(&input, 48_000, 8000).unwrap();
    assert_eq!(out.len(), 8000);
    let e = relative_error(&out, 1000.0, 10_000.0, 8000);
    assert!(e < 1e-3, "relative error {e}");
    let a = tone_amplitude(&out[800..7200], 1000.0, 8000);
    assert!((a - 10_000.0).abs() < 10.0, "{a}");
}

#[test]
fn down_44k1_to_8k_fractional_ratio() {
    let input = sine(1000.0, 10_000.0, 44_100, 44_100);
    let out = resample(&input, 44_100, 8000).unwrap();
    assert_eq!(out.len(), 8000);
    let e = relative_error(&out, 1000.0, 10_000.0, 8000);
    assert!(e < 1e-3, "relative error {e}");
    // An odd length rounds up: ceil(1001 * 80 / 441) = 182.
    assert_eq!(resample(&input[..1001], 44_100, 8000).unwrap().len(), 182);
}

#[test]
fn tones_above_the_new_nyquist_do_not_alias() {
    for (f, alias) in [(5000.0, 3000.0), (6000.0, 2000.0), (11_000.0, 3000.0)] {
        let input = sine(f, 10_000.0, 48_000, 24_000);
        let out = resample(&input, 48_000, 8000).unwrap();
        let leaked = tone_amplitude(&out[400..3600], alias, 8000);
        assert!(leaked < 10.0, "{f} Hz leaks {leaked} at {alias} Hz");
        assert!(
            rms(&out[400..3600]) < 10.0,
            "{f} Hz: rms {}",
            rms(&out[400..3600])
        );
    }
    // Just above the transition band: at least 40 dB down.
    let input = sine(4500.0, 10_000.0, 48_000, 24_000);
    let out = resample(&input, 48_000, 8000).unwrap();
    assert!(tone_amplitude(&out[400..3600], 3500.0, 8000) < 100.0);
}

#[test]
fn up_8k_to_48k_interpolates_without_images() {
    let input = sine(1000.0, 10_000.0, 8000, 8000);
    let out = resample(&input, 8000, 48_000).unwrap();
    assert_eq!(out.len(), 48_000);
    let e = relative_error(&out, 1000.0, 10_000.0, 48_000);
    assert!(e < 1e-3, "relative error {e}");
    // The images at 8k ± 1k are gone.
    for image in [7000.0, 9000.0, 15_000.0] {
        let a = tone_amplitude(&out[4800..43_200], image, 48_000);
        assert!(a < 10.0, "image at {image}: {a}");
    }
}

#[test]
fn round_trip_through_11025_returns_the_signal() {
    let input = sine(700.0, 8000.0, 8000, 8000);
    let up = resample(&input, 8000, 11_025).unwrap();
    let back = resample(&up, 11_025, 8000).unwrap();
    assert_eq!(back.len(), input.len());
    let e = relative_error(&back, 700.0, 8000.0, 8000);
    assert!(e < 2e-3, "relative error {e}");
}

#[test]
fn pieces_give_the_same_output_as_the_whole() {
    let input = sine(440.0, 12_000.0, 44_100, 10_000);
    let whole = resample(&input, 44_100, 8000).unwrap();
    let mut r = Resampler::new(44_100, 8000).unwrap();
    let mut pieces = Vec::new();
    for chunk in input.chunks(441) {
        pieces.extend(r.process(chunk));
    }
    pieces.extend(r.finish());
    assert_eq!(pieces, whole);
    // The buffer does not grow with the stream.
    assert!(r.input.len() < 1000);
}

#[test]
fn rates_are_checked_and_equal_rates_copy() {
    assert!(matches!(Resampler::new(0, 8000), Err(Error::SampleRate)));
    assert!(matches!(resample(&[1], 8000, 0), Err(Error::SampleRate)));
    assert_eq!(resample(&[1, 2, 3], 8000, 8000).unwrap(), [1, 2, 3]);
    assert!(resample(&[], 48_000, 8000).unwrap().is_empty());
}

#[test]
fn full_scale_input_saturates_instead_of_wrapping() {
    // A square wave overshoots when band-limited (Gibbs): the output clamps.
    let input: Vec<i16> = (0..4800)
        .map(|i| {
            if (i / 24) % 2 == 0 {
                i16::MAX
            } else {
                i16::MIN
            }
        })
        .collect();
    let out = resample(&input, 48_000, 8000).unwrap();
    assert!(out.iter().any(|&s| s == i16::MAX || s == i16::MIN));
}
