//! Regular pulse excitation, GSM 06.10 §4.2.13–4.2.17 and §4.3.1: the long-term prediction
//! error of a sub-frame is smoothed by the weighting filter, decimated by 3 onto the best of
//! four grids (13 pulses), and the pulses are quantised with block-adaptive PCM: a 6-bit
//! block maximum `xmaxc` and 3 bits per pulse.

use super::arith::{abs, add, l_add, l_mult, mult, mult_r, sub};
use super::tables::{INVERSE_MANTISSA, MANTISSA, WEIGHTING_FILTER};
use super::SUBFRAME_SAMPLES;

/// Pulses per sub-frame on the selected grid.
pub(super) const PULSES: usize = 13;

/// The RPE parameters of one sub-frame as the encoder codes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Excitation {
    /// Grid position `Mc` (0..=3).
    pub(super) grid: u8,
    /// Coded block maximum `xmaxc` (0..=63).
    pub(super) block_maximum: u8,
    /// Coded pulses `xMc` (0..=7 each).
    pub(super) pulses: [u8; PULSES],
}

/// GSM 06.10 §4.2.13–4.2.15: codes the prediction error `e` of a sub-frame.
pub(super) fn encode(error: &[i16; SUBFRAME_SAMPLES]) -> Excitation {
    let weighted = weighting_filter(error);
    let (grid, selected) = select_grid(&weighted);
    let (block_maximum, pulses) = quantize(&selected);
    Excitation {
        grid,
        block_maximum,
        pulses,
    }
}

/// GSM 06.10 §4.2.16–4.2.17 (and §4.3.1 in the decoder): the excitation `ep` of a sub-frame
/// rebuilt from its coded parameters. Out-of-range fields are taken modulo their width.
pub(super) fn decode(excitation: &Excitation) -> [i16; SUBFRAME_SAMPLES] {
    let (exponent, mantissa) = exponent_and_mantissa(excitation.block_maximum & 0x3F);
    let pulses = inverse_quantize(&excitation.pulses, exponent, mantissa);
    let mut out = [0i16; SUBFRAME_SAMPLES];
    let grid = usize::from(excitation.grid & 3);
    for (i, &pulse) in pulses.iter().enumerate() {
        out[grid + 3 * i] = pulse;
    }
    out
}

/// GSM 06.10 §4.2.13: the block filter with impulse response `H`, centred, with rounding and
/// a gain of 4 (saturated).
fn weighting_filter(error: &[i16; SUBFRAME_SAMPLES]) -> [i16; SUBFRAME_SAMPLES] {
    // e[] with 5 zeros either side.
    let mut padded = [0i16; SUBFRAME_SAMPLES + 10];
    padded[5..5 + SUBFRAME_SAMPLES].copy_from_slice(error);
    let mut out = [0i16; SUBFRAME_SAMPLES];
    for (k, x) in out.iter_mut().enumerate() {
        let mut sum = 8_192i32; // rounding
        for (&w, &h) in padded[k..k + WEIGHTING_FILTER.len()]
            .iter()
            .zip(&WEIGHTING_FILTER)
        {
            sum = l_add(sum, l_mult(w, h));
        }
        sum = l_add(sum, sum); // × 2
        sum = l_add(sum, sum); // × 4
        *x = (sum >> 16) as i16;
    }
    out
}

/// GSM 06.10 §4.2.14: the grid `Mc` whose 13 samples `x[Mc + 3i]` have the most energy, and
/// those samples `xM`.
fn select_grid(x: &[i16; SUBFRAME_SAMPLES]) -> (u8, [i16; PULSES]) {
    let mut best_grid = 0usize;
    let mut best_energy = 0i32;
    for grid in 0..4 {
        let mut energy = 0i32;
        for i in 0..PULSES {
            let sample = x[grid + 3 * i] >> 2;
            energy = l_add(l_mult(sample, sample), energy);
        }
        if energy > best_energy {
            best_grid = grid;
            best_energy = energy;
        }
    }
    let mut selected = [0i16; PULSES];
    for (i, s) in selected.iter_mut().enumerate() {
        *s = x[best_grid + 3 * i];
    }
    (best_grid as u8, selected)
}

/// GSM 06.10 §4.2.15: APCM quantisation of the selected pulses, `xmaxc` (a 3-bit exponent
/// and 3-bit mantissa of the block maximum) and the 3-bit pulses `xMc` normalised by it.
fn quantize(selected: &[i16; PULSES]) -> (u8, [u8; PULSES]) {
    let largest = selected.iter().map(|&x| abs(x)).max().unwrap_or(0);

    // Exponent of the block maximum: the number of significant bits above bit 9, at most 6.
    let mut exponent: i16 = 0;
    let mut rest = largest >> 9;
    let mut done = false;
    for _ in 0..6 {
        if rest <= 0 {
            done = true;
        }
        rest >>= 1;
        if !done {
            exponent += 1;
        }
    }
    let block_maximum = add(largest >> add(exponent, 5), exponent << 3);

    // Normalise the pulses by the decoded block maximum and quantise to 3 bits.
    let (exponent, mantissa) = exponent_and_mantissa(block_maximum as u8);
    let shift = sub(6, exponent);
    let inverse = INVERSE_MANTISSA[usize::from(mantissa)];
    let mut pulses = [0u8; PULSES];
    for (coded, &x) in pulses.iter_mut().zip(selected) {
        let normalised = mult(x << shift, inverse);
        *coded = add(normalised >> 12, 4) as u8;
    }
    (block_maximum as u8, pulses)
}

/// GSM 06.10 §4.2.15 (second part) and §4.3.1: the exponent (−4..=6) and the mantissa
/// index (0..=7) of a coded block maximum `xmaxc` (0..=63).
fn exponent_and_mantissa(block_maximum: u8) -> (i16, u8) {
    let coded = i16::from(block_maximum);
    let mut exponent = if coded > 15 { sub(coded >> 3, 1) } else { 0 };
    let mut mantissa = sub(coded, exponent << 3);
    if mantissa == 0 {
        exponent = -4;
        mantissa = 15;
    } else {
        // Normalise the mantissa into 8..=15.
        while mantissa <= 7 {
            mantissa = (mantissa << 1) | 1;
            exponent -= 1;
        }
    }
    (exponent, (mantissa - 8) as u8)
}

/// GSM 06.10 §4.2.16: APCM inverse quantisation, the pulses `xMp` rebuilt from `xMc`.
fn inverse_quantize(coded: &[u8; PULSES], exponent: i16, mantissa: u8) -> [i16; PULSES] {
    let factor = MANTISSA[usize::from(mantissa & 7)];
    let shift = sub(6, exponent);
    // 1 << (shift - 1), i.e. half of the last step; no rounding term when shift is 0.
    let rounding = if shift > 0 { 1i16 << (shift - 1) } else { 0 };
    let mut pulses = [0i16; PULSES];
    for (pulse, &c) in pulses.iter_mut().zip(coded) {
        let signed = (i16::from(c & 7) << 1) - 7; // restore the sign: -7, -5, ..., 7
        let value = mult_r(factor, signed << 12);
        *pulse = add(value, rounding) >> shift;
    }
    pulses
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponent_and_mantissa_of_every_block_maximum() {
        for coded in 0..64u8 {
            let (exponent, mantissa) = exponent_and_mantissa(coded);
            assert!((-4..=6).contains(&exponent), "{coded}");
            assert!(mantissa <= 7, "{coded}");
            if coded >= 16 {
                // xmaxc = 8 × exponent + (8 + mantissa) for the normalised range.
                assert_eq!(i16::from(coded), 8 * exponent + 8 + i16::from(mantissa));
            }
        }
        assert_eq!(exponent_and_mantissa(0), (-4, 7));
        assert_eq!(exponent_and_mantissa(63), (6, 7));
    }

    #[test]
    fn block_maximum_codes_the_largest_pulse() {
        for largest in [0i16, 1, 31, 32, 511, 512, 1_000, 4_095, 16_000, i16::MAX] {
            let mut selected = [0i16; PULSES];
            selected[5] = largest;
            selected[6] = -largest / 2;
            let (block_maximum, pulses) = quantize(&selected);
            assert!(block_maximum <= 63);
            assert!(pulses.iter().all(|&p| p <= 7));
            // The decoded maximum pulse is within a quantisation step of the input.
            let (exponent, mantissa) = exponent_and_mantissa(block_maximum);
            let rebuilt = inverse_quantize(&pulses, exponent, mantissa);
            let error = (i32::from(rebuilt[5]) - i32::from(largest)).abs();
            assert!(
                error <= i32::from(largest) / 4 + 16,
                "{largest}: {}",
                rebuilt[5]
            );
        }
    }

    #[test]
    fn an_impulse_lands_on_its_grid() {
        let mut error = [0i16; SUBFRAME_SAMPLES];
        error[20] = 12_000;
        let excitation = encode(&error);
        assert_eq!(excitation.grid, 2, "20 = 2 + 3 × 6");
        let rebuilt = decode(&excitation);
        let peak = rebuilt
            .iter()
            .enumerate()
            .max_by_key(|(_, &x)| x)
            .map(|(k, _)| k);
        assert_eq!(peak, Some(20));
        assert!(rebuilt
            .iter()
            .enumerate()
            .all(|(k, &x)| x == 0 || k % 3 == 2));
    }
}
