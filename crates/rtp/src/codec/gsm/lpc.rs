//! LPC analysis, GSM 06.10 §4.2.4–4.2.7: from one frame of the pre-processed signal to the
//! eight coded log-area ratios `LARc` that describe its spectral envelope.

use super::arith::{abs, add, div, l_mult_sum, mult, mult_r, norm, sub};
use super::tables::{LAR_A, LAR_B, LAR_MAC, LAR_MIC};
use super::FRAME_SAMPLES;

/// Number of LPC coefficients (reflection coefficients, LARs) per frame.
pub(super) const LPC_ORDER: usize = 8;

/// GSM 06.10 §4.2.4–4.2.7: the coded LARs of a frame, each as an unsigned field value
/// (`LARc[i] - MIC[i]`, 6/6/5/5/4/4/3/3 bits).
///
/// `s` is scaled in place as the standard does (down for the autocorrelation, then back up):
/// the short-term analysis filter then works on the rescaled values.
pub(super) fn analyse(s: &mut [i16; FRAME_SAMPLES]) -> [u8; LPC_ORDER] {
    let autocorrelation = autocorrelation(s);
    let reflection = reflection_coefficients(&autocorrelation);
    let log_area_ratios = log_area_ratios(&reflection);
    quantize(&log_area_ratios)
}

/// GSM 06.10 §4.2.4: the autocorrelation `L_ACF[0..=8]` of the frame, computed on a copy of
/// `s` scaled down far enough that the 32-bit sums cannot overflow.
fn autocorrelation(s: &mut [i16; FRAME_SAMPLES]) -> [i32; LPC_ORDER + 1] {
    let largest = s.iter().map(|&x| abs(x)).max().unwrap_or(0);
    let scale = if largest == 0 {
        0
    } else {
        sub(4, norm(i32::from(largest) << 16))
    };
    if scale > 0 {
        let factor = 16_384 >> sub(scale, 1);
        for x in s.iter_mut() {
            *x = mult_r(*x, factor);
        }
    }

    // After the scaling |s| <= 2048: 160 products of at most 2^23 stay below 2^31.
    let mut l_acf = [0i32; LPC_ORDER + 1];
    for (lag, sum) in l_acf.iter_mut().enumerate() {
        *sum = l_mult_sum(&s[lag..], &s[..FRAME_SAMPLES - lag]);
    }

    if scale > 0 {
        for x in s.iter_mut() {
            *x <<= scale;
        }
    }
    l_acf
}

/// GSM 06.10 §4.2.5: the reflection coefficients `r[1..=8]` by the Schur recursion on the
/// normalised autocorrelation. An unstable step (|P[1]| > P[0]) zeroes the rest.
fn reflection_coefficients(l_acf: &[i32; LPC_ORDER + 1]) -> [i16; LPC_ORDER] {
    let mut r = [0i16; LPC_ORDER];
    if l_acf[0] == 0 {
        return r;
    }
    let shift = norm(l_acf[0]);
    let mut acf = [0i16; LPC_ORDER + 1];
    for (a, &l) in acf.iter_mut().zip(l_acf) {
        *a = ((l << shift) >> 16) as i16;
    }

    // P[0..=8] and K[2..=8] of the standard; k[i] holds K[i].
    let mut p = acf;
    let mut k = [0i16; LPC_ORDER + 1];
    for i in 1..LPC_ORDER {
        k[LPC_ORDER + 1 - i] = acf[i];
    }

    for n in 1..=LPC_ORDER {
        if p[0] < abs(p[1]) {
            return r;
        }
        let mut coefficient = div(abs(p[1]), p[0]);
        if p[1] > 0 {
            coefficient = sub(0, coefficient);
        }
        r[n - 1] = coefficient;
        if n == LPC_ORDER {
            break;
        }

        p[0] = add(p[0], mult_r(p[1], coefficient));
        for m in 1..=LPC_ORDER - n {
            let k_index = LPC_ORDER + 1 - m;
            p[m] = add(p[m + 1], mult_r(k[k_index], coefficient));
            k[k_index] = add(k[k_index], mult_r(p[m + 1], coefficient));
        }
    }
    r
}

/// GSM 06.10 §4.2.6: log-area ratios from the reflection coefficients, by the standard's
/// three-segment linear approximation of `log10((1 + r) / (1 - r))`.
fn log_area_ratios(r: &[i16; LPC_ORDER]) -> [i16; LPC_ORDER] {
    let mut lar = [0i16; LPC_ORDER];
    for (out, &coefficient) in lar.iter_mut().zip(r) {
        let magnitude = abs(coefficient);
        let value = if magnitude < 22_118 {
            magnitude >> 1
        } else if magnitude < 31_130 {
            sub(magnitude, 11_059)
        } else {
            sub(magnitude, 26_112) << 2
        };
        *out = if coefficient < 0 {
            sub(0, value)
        } else {
            value
        };
    }
    lar
}

/// GSM 06.10 §4.2.7: quantisation and coding, `LARc = Nint(A × LAR + B)` clamped to
/// [MIC, MAC], returned shifted by −MIC so that every field is non-negative.
fn quantize(lar: &[i16; LPC_ORDER]) -> [u8; LPC_ORDER] {
    let mut coded = [0u8; LPC_ORDER];
    for i in 0..LPC_ORDER {
        let mut value = mult(LAR_A[i], lar[i]);
        value = add(value, LAR_B[i]);
        value = add(value, 256); // rounding
        value = (value >> 9).clamp(LAR_MIC[i], LAR_MAC[i]);
        coded[i] = sub(value, LAR_MIC[i]) as u8;
    }
    coded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_codes_to_the_zero_lars() {
        let mut s = [0i16; FRAME_SAMPLES];
        let coded = analyse(&mut s);
        // LAR = 0 codes to Nint(B / 512) - MIC.
        for i in 0..LPC_ORDER {
            let expected = ((i32::from(LAR_B[i]) + 256) >> 9) - i32::from(LAR_MIC[i]);
            assert_eq!(i32::from(coded[i]), expected, "LARc[{i}]");
        }
    }

    #[test]
    fn a_decaying_exponential_has_a_strong_first_reflection() {
        // s[k] = 0.9^k-like, a first-order AR process: r[1] close to -0.9, little beyond.
        let mut s = [0i16; FRAME_SAMPLES];
        let mut value = 20_000i32;
        for x in s.iter_mut() {
            *x = value as i16;
            value = value * 9 / 10;
        }
        let acf = autocorrelation(&mut s);
        assert!(acf[0] > acf[1] && acf[1] > acf[2] && acf[2] > 0);
        let r = reflection_coefficients(&acf);
        assert!(r[0] < -25_000, "r[1] = {}", r[0]);
        assert!(r[1].abs() < 8_000, "r[2] = {}", r[1]);
    }

    #[test]
    fn lars_follow_the_segments_and_sign() {
        let lar = log_area_ratios(&[0, 20_000, -20_000, 30_000, -30_000, 32_000, -32_767, 100]);
        assert_eq!(
            lar,
            [0, 10_000, -10_000, 18_941, -18_941, 23_552, -26_620, 50]
        );
    }

    #[test]
    fn quantisation_clamps_to_the_field_range() {
        let coded = quantize(&[
            i16::MAX,
            i16::MIN,
            i16::MAX,
            i16::MIN,
            0,
            0,
            i16::MAX,
            i16::MIN,
        ]);
        assert_eq!(coded[0], 63);
        assert_eq!(coded[1], 0);
        assert_eq!(coded[2], 31);
        assert_eq!(coded[3], 0);
        assert_eq!(coded[6], 7);
        assert_eq!(coded[7], 0);
    }
}
