//! Tone generators: a phase-continuous sine ([`Tone`]) and the sum of two ([`DualTone`]),
//! e.g. a DTMF digit (ITU-T Q.23 frequencies, [`dtmf_frequencies`]) or a call-progress tone.

use std::f64::consts::TAU;

/// The low (row) and high (column) frequencies of a DTMF digit, in Hz (ITU-T Q.23):
/// rows 697, 770, 852, 941; columns 1209, 1336, 1477, 1633.
pub fn dtmf_frequencies(digit: char) -> Option<(f64, f64)> {
    const ROWS: [f64; 4] = [697.0, 770.0, 852.0, 941.0];
    const COLUMNS: [f64; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
    const KEYPAD: [&str; 4] = ["123A", "456B", "789C", "*0#D"];
    let upper = digit.to_ascii_uppercase();
    KEYPAD.iter().enumerate().find_map(|(row, keys)| {
        keys.chars()
            .position(|k| k == upper)
            .and_then(|col| Some((*ROWS.get(row)?, *COLUMNS.get(col)?)))
    })
}

/// A sine wave whose phase carries over from one block to the next, and across a change
/// of frequency or amplitude (no clicks).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tone {
    /// Radians per sample.
    step: f64,
    /// Current phase in radians, in [0, 2π).
    phase: f64,
    /// Peak amplitude in sample units.
    amplitude: f64,
    sample_rate: f64,
}

impl Tone {
    /// A tone of `frequency` Hz with peak `amplitude` (sample units, 0 to 32767) at
    /// `sample_rate` samples per second, starting at phase 0.
    pub fn new(frequency: f64, amplitude: f64, sample_rate: u32) -> Self {
        let sample_rate = f64::from(sample_rate.max(1));
        Tone {
            step: TAU * frequency / sample_rate,
            phase: 0.0,
            amplitude: amplitude.clamp(0.0, 32_767.0),
            sample_rate,
        }
    }

    /// Changes the frequency from the next sample on, keeping the phase.
    pub fn set_frequency(&mut self, frequency: f64) {
        self.step = TAU * frequency / self.sample_rate;
    }

    /// Changes the peak amplitude from the next sample on.
    pub fn set_amplitude(&mut self, amplitude: f64) {
        self.amplitude = amplitude.clamp(0.0, 32_767.0);
    }

    /// The next sample as a real value.
    fn next_value(&mut self) -> f64 {
        let v = self.amplitude * self.phase.sin();
        self.phase = (self.phase + self.step).rem_euclid(TAU);
        v
    }

    /// The next sample.
    pub fn next_sample(&mut self) -> i16 {
        self.next_value().round() as i16
    }

    /// Fills `out` with the next samples.
    pub fn fill(&mut self, out: &mut [i16]) {
        for s in out {
            *s = self.next_sample();
        }
    }
}

/// Two tones added, as in DTMF.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DualTone {
    low: Tone,
    high: Tone,
}

impl DualTone {
    /// Two tones with peak amplitude `amplitude` each (their sum is clamped to 16 bits).
    pub fn new(low: f64, high: f64, amplitude: f64, sample_rate: u32) -> Self {
        DualTone {
            low: Tone::new(low, amplitude, sample_rate),
            high: Tone::new(high, amplitude, sample_rate),
        }
    }

    /// The DTMF tone pair of `digit`, if it is one.
    pub fn dtmf(digit: char, amplitude: f64, sample_rate: u32) -> Option<Self> {
        let (low, high) = dtmf_frequencies(digit)?;
        Some(DualTone::new(low, high, amplitude, sample_rate))
    }

    /// The next sample.
    pub fn next_sample(&mut self) -> i16 {
        (self.low.next_value() + self.high.next_value())
            .round()
            .clamp(-32_768.0, 32_767.0) as i16
    }

    /// Fills `out` with the next samples.
    pub fn fill(&mut self, out: &mut [i16]) {
        for s in out {
            *s = self.next_sample();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::goertzel::{dominant_frequency, tone_amplitude};

    #[test]
    fn a_tone_has_its_frequency_and_amplitude() {
        let mut t = Tone::new(1000.0, 10_000.0, 8000);
        let mut block = [0i16; 800];
        t.fill(&mut block);
        // 1 kHz at 8 kHz: 0, +peak/√2·√2..., the first samples are sin(k·π/4).
        assert_eq!(&block[..4], &[0, 7071, 10_000, 7071]);
        let a = tone_amplitude(&block, 1000.0, 8000);
        assert!((a - 10_000.0).abs() < 20.0, "{a}");
    }

    #[test]
    fn blocks_join_without_a_phase_jump() {
        let mut whole = Tone::new(440.0, 8000.0, 8000);
        let mut pieces = whole;
        let mut a = [0i16; 1000];
        whole.fill(&mut a);
        let mut b = [0i16; 1000];
        for chunk in b.chunks_mut(37) {
            pieces.fill(chunk);
        }
        assert_eq!(a, b);
    }

    #[test]
    fn frequency_changes_keep_the_phase() {
        let mut t = Tone::new(500.0, 20_000.0, 8000);
        let mut block = [0i16; 403];
        t.fill(&mut block);
        let before = block[402];
        t.set_frequency(600.0);
        let after = t.next_sample();
        // One sample step at 600 Hz moves a sine of peak 20000 by at most 2π·600/8000·20000.
        assert!(
            (i32::from(after) - i32::from(before)).abs() < 9500,
            "{before} {after}"
        );
    }

    #[test]
    fn dtmf_digits_have_their_row_and_column() {
        assert_eq!(dtmf_frequencies('5'), Some((770.0, 1336.0)));
        assert_eq!(dtmf_frequencies('#'), Some((941.0, 1477.0)));
        assert_eq!(dtmf_frequencies('d'), Some((941.0, 1633.0)));
        assert_eq!(dtmf_frequencies('x'), None);
        let candidates = [697.0, 770.0, 852.0, 941.0, 1209.0, 1336.0, 1477.0, 1633.0];
        for digit in "0123456789*#ABCD".chars() {
            let mut tone = DualTone::dtmf(digit, 8000.0, 8000).unwrap();
            let mut block = [0i16; 400];
            tone.fill(&mut block);
            let (low, high) = dtmf_frequencies(digit).unwrap();
            let rows = dominant_frequency(&block, &candidates[..4], 8000).unwrap();
            let cols = dominant_frequency(&block, &candidates[4..], 8000).unwrap();
            assert_eq!((rows.0, cols.0), (low, high), "{digit}");
        }
    }

    #[test]
    fn full_scale_dual_tones_clamp_instead_of_wrapping() {
        let mut tone = DualTone::new(1000.0, 1000.0, 30_000.0, 8000);
        let mut block = [0i16; 8];
        tone.fill(&mut block);
        assert_eq!(block[2], 32_767);
        assert_eq!(block[6], -32_768);
    }
}
