//! GSM 06.10 full rate (RPE-LTP, 13 kbit/s), ETSI EN 300 961, in the standard's fixed-point
//! arithmetic, so that encoder and decoder are bit-exact with any conforming implementation
//! (checked against libgsm's `toast`/`untoast` in `tests/codec_gsm.rs`).
//!
//! A frame is 160 samples (20 ms at 8 kHz). The encoder pre-processes it, describes its
//! spectral envelope by eight log-area ratios (LPC analysis), removes that envelope with the
//! short-term analysis filter, and codes the residual in four sub-frames of 40 samples, each
//! by a long-term (pitch) predictor and a regular pulse excitation of 13 pulses. The decoder
//! runs the same steps backwards. Both keep filter state from frame to frame, so one encoder
//! and one decoder serve one stream.
//!
//! One known difference with libgsm: Debian builds it with `USE_FLOAT_MUL` (except on arm),
//! which sums the long-term predictor's cross-correlation in single-precision floats, and
//! those round above 2^24. On full-scale periodic signals, where several multiples of the
//! period lie in the lag range 40..=120, two lags can be that close and `toast` may pick
//! another lag than the standard's 32-bit integer sums do (a model of float summation
//! reproduced all its choices on 6,845 full-scale sub-frames). This encoder follows the
//! standard; the decoder has no such search and matches `untoast` exactly.
//!
//! Layout:
//! - `arith`: the standard's saturating 16/32-bit operations (`mult_r`, `div`, `norm`, ...)
//! - `tables`: its constant tables
//! - `processing`: pre-processing (§4.2.1–4.2.3) and post-processing (§4.3.5–4.3.7)
//! - `lpc`: LPC analysis to the coded LARs (§4.2.4–4.2.7)
//! - `short_term`: LAR decoding and interpolation, analysis and synthesis lattice filters
//! - `long_term`: long-term predictor, analysis and synthesis (§4.2.11–4.2.12, §4.3.2)
//! - `rpe`: weighting filter, grid selection, APCM quantisation (§4.2.13–4.2.17, §4.3.1)
//! - `frame`: the frame's parameters and their RFC 3551 §4.5.8 packing

mod arith;
mod frame;
mod long_term;
mod lpc;
mod processing;
mod rpe;
mod short_term;
mod tables;

pub use frame::{FrameParameters, SubframeParameters, FRAME_BYTES, SIGNATURE};

use long_term::HISTORY;
use processing::{Postprocessor, Preprocessor};
use rpe::Excitation;

/// Samples in a GSM 06.10 frame (20 ms at 8 kHz).
pub const FRAME_SAMPLES: usize = 160;
/// Samples in a sub-frame (5 ms).
const SUBFRAME_SAMPLES: usize = 40;
/// Sub-frames in a frame.
const SUBFRAMES: usize = FRAME_SAMPLES / SUBFRAME_SAMPLES;

/// A GSM 06.10 encoder: 160 samples in, 33 octets out, with the state of one stream.
#[derive(Debug, Clone)]
pub struct GsmEncoder {
    preprocessor: Preprocessor,
    short_term: short_term::AnalysisFilter,
    /// The reconstructed short-term residual `dp[-120..-1]` the long-term predictor uses.
    residual_history: [i16; HISTORY],
}

impl Default for GsmEncoder {
    fn default() -> Self {
        Self::new()
    }
}

impl GsmEncoder {
    /// A new encoder in the standard's initial (all-zero) state.
    pub fn new() -> Self {
        Self {
            preprocessor: Preprocessor::default(),
            short_term: short_term::AnalysisFilter::default(),
            residual_history: [0; HISTORY],
        }
    }

    /// GSM 06.10 §4.2: encodes one frame of 16-bit samples (of which the standard uses the 13
    /// most significant bits) into its packed 33 octets.
    pub fn encode(&mut self, samples: &[i16; FRAME_SAMPLES]) -> [u8; FRAME_BYTES] {
        self.encode_parameters(samples).pack()
    }

    /// GSM 06.10 §4.2: encodes one frame into its parameters, unpacked.
    pub fn encode_parameters(&mut self, samples: &[i16; FRAME_SAMPLES]) -> FrameParameters {
        let mut signal = self.preprocessor.process(samples);
        let larc = lpc::analyse(&mut signal);
        self.short_term.filter(&larc, &mut signal);

        let mut frame = FrameParameters {
            larc,
            ..FrameParameters::default()
        };
        for (subframe, residual) in frame
            .subframes
            .iter_mut()
            .zip(signal.chunks_exact(SUBFRAME_SAMPLES))
        {
            let mut d = [0i16; SUBFRAME_SAMPLES];
            d.copy_from_slice(residual);
            let (lag, gain) = long_term::parameters(&d, &self.residual_history);
            let (error, prediction) = long_term::analyse(lag, gain, &d, &self.residual_history);
            let excitation = rpe::encode(&error);

            // §4.2.16–4.2.18: rebuild the residual as the decoder will, for the next lags.
            let mut rebuilt = rpe::decode(&excitation);
            for (r, &p) in rebuilt.iter_mut().zip(&prediction) {
                *r = arith::add(*r, p);
            }
            long_term::push_history(&mut self.residual_history, &rebuilt);

            *subframe = SubframeParameters {
                nc: lag,
                bc: gain,
                mc: excitation.grid,
                xmaxc: excitation.block_maximum,
                xmc: excitation.pulses,
            };
        }
        frame
    }
}

/// A GSM 06.10 decoder: 33 octets in, 160 samples out, with the state of one stream.
#[derive(Debug, Clone, Default)]
pub struct GsmDecoder {
    long_term: long_term::SynthesisFilter,
    short_term: short_term::SynthesisFilter,
    postprocessor: Postprocessor,
}

impl GsmDecoder {
    /// A new decoder in the standard's initial state.
    pub fn new() -> Self {
        Self::default()
    }

    /// GSM 06.10 §4.3: decodes one packed frame; `None` (and no change of state) if its
    /// signature nibble is not `0xD`.
    pub fn decode(&mut self, frame: &[u8; FRAME_BYTES]) -> Option<[i16; FRAME_SAMPLES]> {
        let parameters = FrameParameters::unpack(frame)?;
        Some(self.decode_parameters(&parameters))
    }

    /// GSM 06.10 §4.3: decodes one frame from its parameters. Fields wider than their bit
    /// width are taken modulo the width, as packing would.
    pub fn decode_parameters(&mut self, frame: &FrameParameters) -> [i16; FRAME_SAMPLES] {
        let mut residual = [0i16; FRAME_SAMPLES];
        for (subframe, out) in frame
            .subframes
            .iter()
            .zip(residual.chunks_exact_mut(SUBFRAME_SAMPLES))
        {
            let excitation = rpe::decode(&Excitation {
                grid: subframe.mc,
                block_maximum: subframe.xmaxc,
                pulses: subframe.xmc,
            });
            let rebuilt = self
                .long_term
                .filter(subframe.nc & 0x7F, subframe.bc, &excitation);
            out.copy_from_slice(&rebuilt);
        }
        let mut synthesised = [0i16; FRAME_SAMPLES];
        self.short_term
            .filter(&frame.larc, &residual, &mut synthesised);
        let mut samples = [0i16; FRAME_SAMPLES];
        self.postprocessor.process(&synthesised, &mut samples);
        samples
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_round_trips_to_near_silence() {
        // The smallest RPE pulses are not zero: silence decodes to a faint hiss of a few
        // 13-bit steps, as in every conforming decoder.
        let mut encoder = GsmEncoder::new();
        let mut decoder = GsmDecoder::new();
        for _ in 0..5 {
            let bytes = encoder.encode(&[0; FRAME_SAMPLES]);
            assert_eq!(bytes[0] >> 4, SIGNATURE);
            let samples = decoder.decode(&bytes).unwrap_or([i16::MAX; FRAME_SAMPLES]);
            assert!(samples.iter().all(|s| s.abs() <= 16), "{samples:?}");
        }
    }

    #[test]
    fn encoded_fields_are_in_range() {
        let mut encoder = GsmEncoder::new();
        let mut samples = [0i16; FRAME_SAMPLES];
        let mut seed = 1u32;
        for _ in 0..20 {
            for x in samples.iter_mut() {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                *x = (seed >> 16) as i16;
            }
            let frame = encoder.encode_parameters(&samples);
            for subframe in &frame.subframes {
                assert!((40..=120).contains(&subframe.nc));
                assert!(subframe.bc <= 3 && subframe.mc <= 3 && subframe.xmaxc <= 63);
                assert!(subframe.xmc.iter().all(|&x| x <= 7));
            }
            for (larc, mask) in frame.larc.iter().zip(frame::LARC_MASK) {
                assert!(*larc <= mask);
            }
        }
    }

    #[test]
    fn decoder_accepts_any_field_values() {
        let mut decoder = GsmDecoder::new();
        let frame = FrameParameters {
            larc: [255; 8],
            subframes: [SubframeParameters {
                nc: 255,
                bc: 255,
                mc: 255,
                xmaxc: 255,
                xmc: [255; 13],
            }; 4],
        };
        let samples = decoder.decode_parameters(&frame);
        let mut clean = GsmDecoder::new();
        assert_eq!(clean.decode(&frame.pack()), Some(samples));
    }
}
