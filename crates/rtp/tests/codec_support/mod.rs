//! Shared by the codec tests: deterministic test signals and the libgsm command-line tools.
//!
//! The signals use only IEEE-754 `+ - × /`, `floor` and `round` (no `sin`/`exp` of the
//! platform's libm, which may differ in the last bit), so they are the same on every machine
//! and the committed golden files stay valid.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Sample rate of every signal.
pub(crate) const RATE: f64 = 8_000.0;

/// Samples per 20 ms frame.
pub(crate) const FRAME: usize = 160;

/// The test signals of the GSM and quality tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signal {
    /// All zeros.
    Silence,
    /// 440 Hz + 1 kHz.
    ToneMix,
    /// A linear sweep from 100 Hz to 3.8 kHz.
    Chirp,
    /// Full-scale white noise from a seeded linear congruential generator.
    WhiteNoise,
    /// A 100 Hz square wave at full scale (i16::MIN / i16::MAX): clipping.
    ///
    /// 100 Hz rather than 200: a full-scale signal of period 60 samples or less has several
    /// LTP lags in 40..=120 (multiples of the period) with almost equal cross-correlations,
    /// and there libgsm's `toast` can pick another lag than GSM 06.10: Debian builds libgsm
    /// with `USE_FLOAT_MUL`, which sums that cross-correlation in single-precision floats
    /// (exact below 2^24 only). Our encoder follows the standard's 32-bit integer arithmetic;
    /// the lag search is then the only place the two can part, and only for such ties.
    ClippedSquare,
    /// Bursts of pulse- and noise-excited formant filters: a crude voice.
    SpeechLike,
}

impl Signal {
    /// Every signal.
    pub(crate) const ALL: [Signal; 6] = [
        Signal::Silence,
        Signal::ToneMix,
        Signal::Chirp,
        Signal::WhiteNoise,
        Signal::ClippedSquare,
        Signal::SpeechLike,
    ];

    /// File name stem of the signal's golden files.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Signal::Silence => "silence",
            Signal::ToneMix => "tone_mix",
            Signal::Chirp => "chirp",
            Signal::WhiteNoise => "white_noise",
            Signal::ClippedSquare => "clipped_square",
            Signal::SpeechLike => "speech_like",
        }
    }

    /// `frames` frames of the signal; `seed` varies phases, pitch and noise.
    pub(crate) fn generate(self, seed: u32, frames: usize) -> Vec<i16> {
        let n = frames * FRAME;
        let mut rng = Lcg::new(seed);
        let phase = f64::from(rng.next_u32() % 1_000) / 1_000.0;
        match self {
            Signal::Silence => vec![0; n],
            Signal::ToneMix => (0..n)
                .map(|k| {
                    let t = k as f64 / RATE;
                    let x = 9_000.0 * sin_turns(440.0 * t + phase)
                        + 7_000.0 * sin_turns(1_000.0 * t + 2.0 * phase);
                    to_i16(x)
                })
                .collect(),
            Signal::Chirp => {
                let duration = n as f64 / RATE;
                let (f0, f1) = (100.0, 3_800.0);
                (0..n)
                    .map(|k| {
                        let t = k as f64 / RATE;
                        // phase in turns = f0 t + (f1 - f0) t^2 / (2 T)
                        let turns = f0 * t + (f1 - f0) * t * t / (2.0 * duration) + phase;
                        to_i16(14_000.0 * sin_turns(turns))
                    })
                    .collect()
            }
            Signal::WhiteNoise => (0..n)
                .map(|_| (rng.next_u32() >> 16) as u16 as i16)
                .collect(),
            Signal::ClippedSquare => {
                let offset = (phase * 80.0) as usize;
                (0..n)
                    .map(|k| {
                        if (k + offset) % 80 < 40 {
                            i16::MAX
                        } else {
                            i16::MIN
                        }
                    })
                    .collect()
            }
            Signal::SpeechLike => speech_like(&mut rng, n),
        }
    }
}

/// A vowel-like signal: a glottal pulse train with a wandering pitch plus breath noise,
/// through three resonators (formants about 700, 1220 and 2600 Hz), in bursts of 200 ms
/// with 40 ms ramps and 120 ms pauses.
fn speech_like(rng: &mut Lcg, n: usize) -> Vec<i16> {
    // Two-pole resonators: y = x + 2 r cos(w) y1 - r^2 y2, with r fixed per formant.
    let formants = [
        (700.0, 0.94, 1.0),
        (1_220.0, 0.93, 0.6),
        (2_600.0, 0.90, 0.35),
    ];
    let coefficients: Vec<(f64, f64, f64)> = formants
        .iter()
        .map(|&(f, r, gain)| (2.0 * r * cos_turns(f / RATE), r * r, gain))
        .collect();
    let mut state = [[0.0f64; 2]; 3];
    let mut pitch_phase = 0.0;
    let base_pitch = 100.0 + f64::from(rng.next_u32() % 60);
    let (burst, ramp, pause) = (1_600usize, 320usize, 960usize);
    let cycle = burst + pause;
    let mut out = Vec::with_capacity(n);
    for k in 0..n {
        let t = k as f64 / RATE;
        let pitch = base_pitch * (1.0 + 0.1 * sin_turns(1.5 * t));
        pitch_phase += pitch / RATE;
        let pulse = if pitch_phase >= 1.0 {
            pitch_phase -= 1.0;
            1.0
        } else {
            0.0
        };
        let noise = (f64::from(rng.next_u32() >> 8) / f64::from(1u32 << 24)) - 0.5;
        let excitation = 3_000.0 * pulse + 300.0 * noise;
        let mut mixed = 0.0;
        for ((b1, b2, gain), y) in coefficients.iter().zip(state.iter_mut()) {
            let value = excitation + b1 * y[0] - b2 * y[1];
            y[1] = y[0];
            y[0] = value;
            mixed += gain * value;
        }
        let position = k % cycle;
        let envelope = if position >= burst {
            0.0
        } else if position < ramp {
            position as f64 / ramp as f64
        } else if position >= burst - ramp {
            (burst - position) as f64 / ramp as f64
        } else {
            1.0
        };
        out.push(to_i16(1.6 * envelope * mixed));
    }
    out
}

/// Rounds to the nearest i16, saturating.
pub(crate) fn to_i16(x: f64) -> i16 {
    x.round().clamp(-32_768.0, 32_767.0) as i16
}

/// sin(2π x) from a polynomial: deterministic on every IEEE-754 machine.
pub(crate) fn sin_turns(x: f64) -> f64 {
    // Reduce to [-1/2, 1/2) turns, then by symmetry to [-1/4, 1/4].
    let mut r = x - (x + 0.5).floor();
    if r > 0.25 {
        r = 0.5 - r;
    } else if r < -0.25 {
        r = -0.5 - r;
    }
    let a = 2.0 * std::f64::consts::PI * r;
    let a2 = a * a;
    // Taylor series to a^15: error below 1e-12 on [-π/2, π/2].
    let mut term = -1.0 / 1_307_674_368_000.0; // -1/15!
    for denominator in [
        6_227_020_800.0,
        -39_916_800.0,
        362_880.0,
        -5_040.0,
        120.0,
        -6.0,
    ] {
        term = 1.0 / denominator + a2 * term;
    }
    a * (1.0 + a2 * term)
}

/// cos(2π x).
pub(crate) fn cos_turns(x: f64) -> f64 {
    sin_turns(x + 0.25)
}

/// The linear congruential generator of Numerical Recipes (deterministic, seedable).
pub(crate) struct Lcg(u32);

impl Lcg {
    /// A generator started at `seed`.
    pub(crate) fn new(seed: u32) -> Self {
        Lcg(seed.wrapping_mul(2_654_435_761).wrapping_add(1))
    }

    /// The next 32-bit value.
    pub(crate) fn next_u32(&mut self) -> u32 {
        self.0 = self.0.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        self.0
    }
}

/// `frames` GSM frames of random bits with the 0xD signature: every field value the decoder
/// can receive, including lags outside 40..=120 that no encoder sends.
pub(crate) fn random_gsm_frames(seed: u32, frames: usize) -> Vec<u8> {
    let mut rng = Lcg::new(seed);
    let mut bytes = Vec::with_capacity(frames * 33);
    for _ in 0..frames {
        let start = bytes.len();
        for _ in 0..33 {
            bytes.push((rng.next_u32() >> 24) as u8);
        }
        bytes[start] = 0xD0 | (bytes[start] & 0x0F);
    }
    bytes
}

/// Directory of the committed codec test data.
pub(crate) fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/codec")
}

/// Samples as little-endian bytes (the committed files' order).
pub(crate) fn samples_to_le(samples: &[i16]) -> Vec<u8> {
    samples.iter().flat_map(|s| s.to_le_bytes()).collect()
}

/// Little-endian bytes as samples.
pub(crate) fn le_to_samples(bytes: &[u8]) -> Vec<i16> {
    bytes
        .chunks_exact(2)
        .map(|pair| i16::from_le_bytes([pair[0], pair[1]]))
        .collect()
}

/// Whether libgsm's `toast` and `untoast` are installed (Debian `libgsm-tools`).
pub(crate) fn libgsm_tools_present() -> bool {
    ["toast", "untoast"].iter().all(|tool| {
        Command::new(tool)
            .arg("-v")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    })
}

/// Runs a libgsm tool (`toast` or `untoast`) with `-l -c` on `input`: 16-bit linear samples
/// in the machine's byte order on the linear side, 33-octet frames on the GSM side.
pub(crate) fn run_libgsm_tool(tool: &str, name: &str, input: &[u8]) -> Vec<u8> {
    let path =
        std::env::temp_dir().join(format!("itsp-codec-{}-{tool}-{name}", std::process::id()));
    std::fs::write(&path, input).unwrap();
    let output = Command::new(tool)
        .args(["-l", "-c"])
        .stdin(std::fs::File::open(&path).unwrap())
        .output()
        .unwrap_or_else(|e| panic!("running {tool}: {e}"));
    std::fs::remove_file(&path).ok();
    assert!(
        output.status.success(),
        "{tool} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// libgsm's `toast -l`: samples → GSM frames.
pub(crate) fn toast(name: &str, samples: &[i16]) -> Vec<u8> {
    let input: Vec<u8> = samples.iter().flat_map(|s| s.to_ne_bytes()).collect();
    run_libgsm_tool("toast", name, &input)
}

/// libgsm's `untoast -l`: GSM frames → samples.
pub(crate) fn untoast(name: &str, frames: &[u8]) -> Vec<i16> {
    run_libgsm_tool("untoast", name, frames)
        .chunks_exact(2)
        .map(|pair| i16::from_ne_bytes([pair[0], pair[1]]))
        .collect()
}
