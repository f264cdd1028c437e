//! The Goertzel algorithm: the power of one frequency in a block of samples, cheaper than a
//! whole DFT when only a few frequencies matter (DTMF detection, checking that a tone
//! survived a codec or a resampler).
//!
//! This is the generalized form: the frequency need not fall on a DFT bin of the block.

use std::f64::consts::TAU;

/// The squared magnitude of the DFT of `samples` at `frequency` Hz (`sample_rate` samples
/// per second). A sine of peak amplitude A over N samples gives about (A·N/2)².
pub fn goertzel_power(samples: &[i16], frequency: f64, sample_rate: u32) -> f64 {
    let omega = TAU * frequency / f64::from(sample_rate.max(1));
    let coeff = 2.0 * omega.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in samples {
        let s0 = f64::from(x) + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    (s1 * s1 + s2 * s2 - coeff * s1 * s2).max(0.0)
}

/// The peak amplitude of the component at `frequency`, in sample units: `2·|X(f)| / N`.
/// Exact for a sine whose frequency completes whole cycles in the block; close otherwise
/// when the block spans many cycles.
pub fn tone_amplitude(samples: &[i16], frequency: f64, sample_rate: u32) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    2.0 * goertzel_power(samples, frequency, sample_rate).sqrt() / samples.len() as f64
}

/// The candidate frequency with the largest amplitude in `samples`, and that amplitude;
/// `None` without candidates.
pub fn dominant_frequency(
    samples: &[i16],
    candidates: &[f64],
    sample_rate: u32,
) -> Option<(f64, f64)> {
    candidates
        .iter()
        .map(|&f| (f, tone_amplitude(samples, f, sample_rate)))
        .max_by(|a, b| a.1.total_cmp(&b.1))
}

/// The RMS level of `samples` in sample units (0 for an empty block).
pub fn rms(samples: &[i16]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let sum: f64 = samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    (sum / samples.len() as f64).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(frequency: f64, amplitude: f64, n: usize) -> Vec<i16> {
        (0..n)
            .map(|i| (amplitude * (TAU * frequency * i as f64 / 8000.0).sin()).round() as i16)
            .collect()
    }

    #[test]
    fn power_of_a_sine_on_a_bin() {
        // 1 kHz over 800 samples: 100 whole cycles.
        let x = sine(1000.0, 1000.0, 800);
        let p = goertzel_power(&x, 1000.0, 8000);
        let expected = (1000.0 * 800.0 / 2.0f64).powi(2);
        assert!((p / expected - 1.0).abs() < 1e-3, "{p} vs {expected}");
        assert!((tone_amplitude(&x, 1000.0, 8000) - 1000.0).abs() < 1.0);
        // Another bin is nearly empty.
        assert!(tone_amplitude(&x, 2000.0, 8000) < 1.0);
    }

    #[test]
    fn dominant_frequency_among_candidates() {
        let mut x = sine(697.0, 3000.0, 400);
        for (a, b) in x.iter_mut().zip(sine(1477.0, 2000.0, 400)) {
            *a = a.saturating_add(b);
        }
        let (f, a) = dominant_frequency(&x, &[697.0, 770.0, 852.0, 941.0], 8000).unwrap();
        assert_eq!(f, 697.0);
        assert!((a - 3000.0).abs() < 150.0, "{a}");
        assert_eq!(dominant_frequency(&x, &[], 8000), None);
        let (f, _) = dominant_frequency(&x, &[1209.0, 1336.0, 1477.0, 1633.0], 8000).unwrap();
        assert_eq!(f, 1477.0);
    }

    #[test]
    fn silence_and_empty_blocks() {
        assert_eq!(goertzel_power(&[0; 160], 1000.0, 8000), 0.0);
        assert_eq!(tone_amplitude(&[], 1000.0, 8000), 0.0);
        assert_eq!(rms(&[]), 0.0);
        assert_eq!(rms(&[3, -3, 3, -3]), 3.0);
    }
}
