//! Short-term (LPC) filtering, GSM 06.10 §4.2.8–4.2.10 and §4.3.4: decoding of the coded
//! LARs, their interpolation with the previous frame's over four segments of the frame, the
//! reflection coefficients of each segment, and the two lattice filters built on them (the
//! encoder's analysis filter and the decoder's synthesis filter).

use super::arith::{abs, add, mult_r, sub};
use super::frame::LARC_MASK;
use super::lpc::LPC_ORDER;
use super::tables::{LAR_B, LAR_INVA, LAR_MIC};
use super::FRAME_SAMPLES;

/// The four interpolation segments of a frame, GSM 06.10 §4.2.9.1: samples 0–12, 13–26,
/// 27–39 and 40–159.
const SEGMENTS: [(usize, usize); 4] = [(0, 13), (13, 27), (27, 40), (40, FRAME_SAMPLES)];

/// GSM 06.10 §4.2.8: the decoded LARs `LARpp` of a frame's coded LARs (the field values,
/// `LARc - MIC`).
fn decode_lars(coded: &[u8; LPC_ORDER]) -> [i16; LPC_ORDER] {
    let mut decoded = [0i16; LPC_ORDER];
    for i in 0..LPC_ORDER {
        // Within its field width, LARc + MIC is in [MIC, MAC] and the shift fits 16 bits.
        let field = i16::from(coded[i] & LARC_MASK[i]);
        let mut value = add(field, LAR_MIC[i]) << 10;
        value = sub(value, LAR_B[i] << 1);
        value = mult_r(LAR_INVA[i], value);
        decoded[i] = add(value, value);
    }
    decoded
}

/// GSM 06.10 §4.2.9: the reflection coefficients `rp` of each of the four segments,
/// interpolated between the previous frame's decoded LARs and this frame's.
fn segment_coefficients(
    previous: &[i16; LPC_ORDER],
    current: &[i16; LPC_ORDER],
) -> [[i16; LPC_ORDER]; 4] {
    let mut coefficients = [[0i16; LPC_ORDER]; 4];
    for i in 0..LPC_ORDER {
        let (old, new) = (previous[i], current[i]);
        // §4.2.9.1 interpolation: 3/4 old + 1/4 new, 1/2 + 1/2, 1/4 + 3/4, new.
        let interpolated = [
            add(add(old >> 2, new >> 2), old >> 1),
            add(old >> 1, new >> 1),
            add(add(old >> 2, new >> 2), new >> 1),
            new,
        ];
        for (segment, &lar) in interpolated.iter().enumerate() {
            coefficients[segment][i] = reflection_of_lar(lar);
        }
    }
    coefficients
}

/// GSM 06.10 §4.2.9.2: the reflection coefficient of an interpolated LAR (the inverse of the
/// segmented approximation of §4.2.6).
fn reflection_of_lar(lar: i16) -> i16 {
    let magnitude = abs(lar);
    let value = if magnitude < 11_059 {
        magnitude << 1
    } else if magnitude < 20_070 {
        add(magnitude, 11_059)
    } else {
        add(magnitude >> 2, 26_112)
    };
    if lar < 0 {
        sub(0, value)
    } else {
        value
    }
}

/// The encoder's short-term analysis filter and its state (`u[0..8]`, the previous frame's
/// `LARpp`).
#[derive(Debug, Clone, Default)]
pub(super) struct AnalysisFilter {
    previous_lars: [i16; LPC_ORDER],
    state: [i16; LPC_ORDER],
}

impl AnalysisFilter {
    /// GSM 06.10 §4.2.8–4.2.10: filters the pre-processed frame `s` in place into the
    /// short-term residual `d`, with the coefficients decoded from `coded` (as the decoder
    /// will see them).
    pub(super) fn filter(&mut self, coded: &[u8; LPC_ORDER], s: &mut [i16; FRAME_SAMPLES]) {
        let current = decode_lars(coded);
        let coefficients = segment_coefficients(&self.previous_lars, &current);
        self.previous_lars = current;
        for (&(start, end), rp) in SEGMENTS.iter().zip(&coefficients) {
            for sample in &mut s[start..end] {
                // §4.2.10: the lattice; u[i] holds the delayed backward signal of stage i.
                let mut forward = *sample;
                let mut backward = forward;
                for (u, &r) in self.state.iter_mut().zip(rp) {
                    let next_backward = add(*u, mult_r(r, forward));
                    forward = add(forward, mult_r(r, *u));
                    *u = backward;
                    backward = next_backward;
                }
                *sample = forward;
            }
        }
    }
}

/// The decoder's short-term synthesis filter and its state (`v[0..=8]`, the previous frame's
/// `LARrpp`).
#[derive(Debug, Clone, Default)]
pub(super) struct SynthesisFilter {
    previous_lars: [i16; LPC_ORDER],
    state: [i16; LPC_ORDER + 1],
}

impl SynthesisFilter {
    /// GSM 06.10 §4.3.4 (with §4.2.8–4.2.9 on the received LARs): synthesises the
    /// reconstructed signal `sr` from the reconstructed short-term residual `drp`.
    pub(super) fn filter(
        &mut self,
        coded: &[u8; LPC_ORDER],
        residual: &[i16; FRAME_SAMPLES],
        out: &mut [i16; FRAME_SAMPLES],
    ) {
        let current = decode_lars(coded);
        let coefficients = segment_coefficients(&self.previous_lars, &current);
        self.previous_lars = current;
        let v = &mut self.state;
        for (&(start, end), rrp) in SEGMENTS.iter().zip(&coefficients) {
            for k in start..end {
                let mut sample = residual[k];
                for i in (0..LPC_ORDER).rev() {
                    // Stage i + 1 of the standard's lattice, from the last to the first.
                    sample = sub(sample, mult_r(rrp[i], v[i]));
                    v[i + 1] = add(v[i], mult_r(rrp[i], sample));
                }
                out[k] = sample;
                v[0] = sample;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reflection_of_lar_inverts_the_lar_segments() {
        // §4.2.6 maps r < 22118 to r/2, r < 31130 to r - 11059, else (r - 26112) × 4.
        assert_eq!(reflection_of_lar(5_000), 10_000);
        assert_eq!(reflection_of_lar(-5_000), -10_000);
        assert_eq!(reflection_of_lar(15_000), 26_059);
        assert_eq!(reflection_of_lar(23_552), 32_000);
        assert_eq!(reflection_of_lar(i16::MIN), -(add(i16::MAX >> 2, 26_112)));
    }

    #[test]
    fn decoded_lars_are_near_the_quantiser_centre() {
        // LARc = MIC..MAC decode to an increasing sequence for every coefficient.
        for i in 0..LPC_ORDER {
            let mut previous = i16::MIN;
            for field in 0..=LARC_MASK[i] {
                let mut coded = [0u8; LPC_ORDER];
                coded[i] = field;
                let value = decode_lars(&coded)[i];
                assert!(value > previous, "LARc[{i}] = {field}");
                previous = value;
            }
        }
    }

    #[test]
    fn synthesis_undoes_analysis() {
        // With the same coefficients, synthesis(analysis(s)) reproduces s up to rounding.
        let coded = [40, 20, 10, 20, 9, 6, 4, 3];
        let mut signal = [0i16; FRAME_SAMPLES];
        let mut seed = 12_345u32;
        for x in signal.iter_mut() {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            *x = ((seed >> 16) as i16) >> 4;
        }
        let mut analysis = AnalysisFilter::default();
        let mut synthesis = SynthesisFilter::default();
        for _ in 0..3 {
            let mut residual = signal;
            analysis.filter(&coded, &mut residual);
            assert_ne!(residual, signal);
            let mut rebuilt = [0i16; FRAME_SAMPLES];
            synthesis.filter(&coded, &residual, &mut rebuilt);
            for (a, b) in rebuilt.iter().zip(&signal) {
                assert!((i32::from(*a) - i32::from(*b)).abs() <= 16, "{a} vs {b}");
            }
        }
    }
}
