//! Tones: the 1 kHz beep before a voicemail recording, join and leave tones of a conference,
//! and DTMF digits played back as sound (the echo test). The oscillators are `rtp`'s
//! phase-continuous [`rtp::audio::tone`]; this module gives them a length and levels.

use std::time::Duration;

use rtp::audio::tone::{DualTone, Tone};
use rtp::codec::CLOCK_RATE;

use crate::prompt::samples_duration;

/// Peak amplitude of single-frequency tones: 8000 of 32767, about -12 dBFS, clearly heard
/// and far from clipping in any codec.
pub const TONE_AMPLITUDE: f64 = 8_000.0;

/// Peak amplitude of each of a DTMF digit's two frequencies (their sum peaks at -9 dBFS),
/// within the levels a DTMF receiver expects (ITU-T Q.24).
pub const DTMF_AMPLITUDE: f64 = 5_500.0;

/// What a tone sounds like and how long it lasts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ToneSpec {
    /// One frequency.
    Sine {
        /// Hz.
        frequency: f64,
        /// Peak amplitude in sample units (0-32767).
        amplitude: f64,
        /// Length.
        duration: Duration,
    },
    /// A DTMF digit's row and column frequencies (ITU-T Q.23).
    Dtmf {
        /// `0`-`9`, `*`, `#`, `A`-`D`.
        digit: char,
        /// Length.
        duration: Duration,
    },
}

impl ToneSpec {
    /// The beep that says "speak now": 1 kHz for 400 ms.
    pub const BEEP: ToneSpec = ToneSpec::Sine {
        frequency: 1000.0,
        amplitude: TONE_AMPLITUDE,
        duration: Duration::from_millis(400),
    };

    /// Someone joined a conference: 800 Hz for 200 ms.
    pub const JOIN: ToneSpec = ToneSpec::Sine {
        frequency: 800.0,
        amplitude: TONE_AMPLITUDE,
        duration: Duration::from_millis(200),
    };

    /// Someone left a conference: 400 Hz for 200 ms.
    pub const LEAVE: ToneSpec = ToneSpec::Sine {
        frequency: 400.0,
        amplitude: TONE_AMPLITUDE,
        duration: Duration::from_millis(200),
    };

    /// The tone of a DTMF digit for `duration`; `None` for a character that is not one.
    pub fn dtmf(digit: char, duration: Duration) -> Option<ToneSpec> {
        rtp::audio::tone::dtmf_frequencies(digit)?;
        Some(ToneSpec::Dtmf { digit, duration })
    }

    /// How long it lasts.
    pub fn duration(&self) -> Duration {
        match *self {
            ToneSpec::Sine { duration, .. } | ToneSpec::Dtmf { duration, .. } => duration,
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Oscillator {
    Sine(Tone),
    Dual(DualTone),
    Silent,
}

/// Produces a tone's samples piece by piece, then stops.
#[derive(Debug, Clone)]
pub struct ToneGenerator {
    oscillator: Oscillator,
    remaining: usize,
}

impl ToneGenerator {
    /// A generator of `spec` at 8 kHz.
    pub fn new(spec: ToneSpec) -> ToneGenerator {
        let oscillator = match spec {
            ToneSpec::Sine {
                frequency,
                amplitude,
                ..
            } => Oscillator::Sine(Tone::new(frequency, amplitude, CLOCK_RATE)),
            ToneSpec::Dtmf { digit, .. } => DualTone::dtmf(digit, DTMF_AMPLITUDE, CLOCK_RATE)
                .map_or(Oscillator::Silent, Oscillator::Dual),
        };
        let samples = spec.duration().as_micros() * u128::from(CLOCK_RATE) / 1_000_000;
        ToneGenerator {
            oscillator,
            remaining: usize::try_from(samples).unwrap_or(usize::MAX),
        }
    }

    /// Writes the next samples of the tone to the start of `out`, as many as fit and are
    /// left, and returns how many were written.
    pub fn fill(&mut self, out: &mut [i16]) -> usize {
        let n = out.len().min(self.remaining);
        let part = &mut out[..n];
        match &mut self.oscillator {
            Oscillator::Sine(t) => t.fill(part),
            Oscillator::Dual(t) => t.fill(part),
            Oscillator::Silent => part.fill(0),
        }
        self.remaining -= n;
        n
    }

    /// Whether the whole tone has been produced.
    pub fn is_done(&self) -> bool {
        self.remaining == 0
    }

    /// How much of the tone is left.
    pub fn remaining(&self) -> Duration {
        samples_duration(self.remaining)
    }
}

#[cfg(test)]
mod tests {
    use rtp::audio::goertzel::{dominant_frequency, tone_amplitude};

    use super::*;

    #[test]
    fn the_beep_is_1_khz_for_400_ms() {
        let mut beep = ToneGenerator::new(ToneSpec::BEEP);
        let mut out = vec![0i16; 4000];
        assert_eq!(beep.fill(&mut out), 3200);
        assert!(beep.is_done());
        assert_eq!(beep.fill(&mut out), 0);
        let level = tone_amplitude(&out[..3200], 1000.0, 8000);
        assert!((level - TONE_AMPLITUDE).abs() < 20.0, "{level}");
        assert!(out[3200..].iter().all(|&s| s == 0));
    }

    #[test]
    fn dtmf_tones_carry_their_digit() {
        let rows = [697.0, 770.0, 852.0, 941.0];
        let columns = [1209.0, 1336.0, 1477.0, 1633.0];
        for (digit, row, column) in [('1', 697.0, 1209.0), ('#', 941.0, 1477.0)] {
            let spec = ToneSpec::dtmf(digit, Duration::from_millis(100)).unwrap();
            let mut tone = ToneGenerator::new(spec);
            let mut out = [0i16; 800];
            assert_eq!(tone.fill(&mut out), 800);
            assert_eq!(dominant_frequency(&out, &rows, 8000).unwrap().0, row);
            assert_eq!(dominant_frequency(&out, &columns, 8000).unwrap().0, column);
        }
        assert_eq!(ToneSpec::dtmf('x', Duration::from_millis(100)), None);
    }

    #[test]
    fn pieces_continue_the_tone() {
        let mut whole = ToneGenerator::new(ToneSpec::JOIN);
        let mut pieces = whole.clone();
        let mut a = [0i16; 1600];
        whole.fill(&mut a);
        let mut b = [0i16; 1600];
        let mut at = 0;
        while !pieces.is_done() {
            at += pieces.fill(&mut b[at..(at + 37).min(1600)]);
        }
        assert_eq!(a, b);
        assert_eq!(at, 1600);
        assert_eq!(pieces.remaining(), Duration::ZERO);
    }
}
