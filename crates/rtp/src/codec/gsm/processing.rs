//! The signal processing around the codec proper: GSM 06.10 §4.2.1–4.2.3 before the encoder
//! (downscaling to 13 bits, offset compensation, pre-emphasis) and §4.3.5–4.3.7 after the
//! decoder (de-emphasis, upscaling, truncation to 13 bits).

use super::arith::{add, l_add, l_mult, mult_r};
use super::FRAME_SAMPLES;

/// Offset compensation pole `alpha` (32735 × 2^−15), GSM 06.10 §4.2.2.
const OFFSET_POLE: i16 = 32_735;
/// Pre-emphasis factor `beta` (28180 × 2^−15), GSM 06.10 §4.2.3; the de-emphasis filter of
/// §4.3.5 is its inverse.
const EMPHASIS: i16 = 28_180;

/// The encoder's input filters and their state (`z1`, `L_z2`, `mp` of the standard).
#[derive(Debug, Clone, Default)]
pub(super) struct Preprocessor {
    /// Previous downscaled sample (`z1`).
    previous_sample: i16,
    /// State of the offset compensation filter, 32 bits (`L_z2`).
    offset_state: i32,
    /// Previous offset-free sample, for the pre-emphasis (`mp`).
    previous_offset_free: i16,
}

impl Preprocessor {
    /// GSM 06.10 §4.2.1–4.2.3: turns 160 16-bit input samples into the pre-emphasised,
    /// offset-free signal `s` the analysis works on.
    pub(super) fn process(&mut self, input: &[i16; FRAME_SAMPLES]) -> [i16; FRAME_SAMPLES] {
        let mut s = [0i16; FRAME_SAMPLES];
        for (out, &sample) in s.iter_mut().zip(input) {
            // §4.2.1 Downscaling: keep the 13 significant bits, leave 2 bits of headroom.
            let downscaled = (sample >> 3) << 2;

            // §4.2.2 Offset compensation: a high-pass filter whose recursive part multiplies
            // the 31-bit state by alpha in two halves (msp, lsp).
            let non_recursive = downscaled.wrapping_sub(self.previous_sample);
            self.previous_sample = downscaled;
            let mut l_s2 = i32::from(non_recursive) << 15;
            let msp = (self.offset_state >> 15) as i16;
            let lsp = (self.offset_state - (i32::from(msp) << 15)) as i16;
            l_s2 = l_add(l_s2, i32::from(mult_r(lsp, OFFSET_POLE)));
            self.offset_state = l_add(l_mult(msp, OFFSET_POLE) >> 1, l_s2);
            let offset_free = (l_add(self.offset_state, 16_384) >> 15) as i16;

            // §4.2.3 Pre-emphasis: s[k] = sof[k] - beta × sof[k-1].
            *out = add(offset_free, mult_r(self.previous_offset_free, -EMPHASIS));
            self.previous_offset_free = offset_free;
        }
        s
    }
}

/// The decoder's output filter state (`msr` of the standard).
#[derive(Debug, Clone, Default)]
pub(super) struct Postprocessor {
    /// Previous de-emphasised sample (`msr`).
    previous_output: i16,
}

impl Postprocessor {
    /// GSM 06.10 §4.3.5–4.3.7: de-emphasis of the synthesised signal, upscaling back to 16
    /// bits and truncation to 13 significant bits.
    pub(super) fn process(
        &mut self,
        synthesised: &[i16; FRAME_SAMPLES],
        out: &mut [i16; FRAME_SAMPLES],
    ) {
        for (out, &sample) in out.iter_mut().zip(synthesised) {
            let deemphasised = add(sample, mult_r(self.previous_output, EMPHASIS));
            self.previous_output = deemphasised;
            let upscaled = add(deemphasised, deemphasised);
            *out = (upscaled >> 3) << 3;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_stays_silent() {
        let mut pre = Preprocessor::default();
        assert_eq!(pre.process(&[0; FRAME_SAMPLES]), [0; FRAME_SAMPLES]);
        let mut post = Postprocessor::default();
        let mut out = [1; FRAME_SAMPLES];
        post.process(&[0; FRAME_SAMPLES], &mut out);
        assert_eq!(out, [0; FRAME_SAMPLES]);
    }

    #[test]
    fn offset_compensation_removes_a_constant() {
        let mut pre = Preprocessor::default();
        let constant = [8_000i16; FRAME_SAMPLES];
        let mut last = [0; FRAME_SAMPLES];
        for _ in 0..50 {
            last = pre.process(&constant);
        }
        // After a second of DC the high-pass output has decayed to (almost) nothing.
        assert!(last.iter().all(|&s| s.abs() < 40), "{:?}", &last[..8]);
        // The very first sample passes: the step is a high-frequency event.
        let mut fresh = Preprocessor::default();
        assert_eq!(fresh.process(&constant)[0], (8_000 >> 3) << 2);
    }

    #[test]
    fn output_keeps_13_bits() {
        let mut post = Postprocessor::default();
        let mut synthesised = [0i16; FRAME_SAMPLES];
        for (k, s) in synthesised.iter_mut().enumerate() {
            *s = (k as i16 * 97) - 7_000;
        }
        let mut out = [0; FRAME_SAMPLES];
        post.process(&synthesised, &mut out);
        assert!(out.iter().all(|s| s % 8 == 0));
        assert!(out.iter().any(|&s| s != 0));
    }
}
