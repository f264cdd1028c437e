//! ITU-T G.711: μ-law (PCMU) and A-law (PCMA) companding of 8 kHz speech, one byte a sample.
//!
//! Both laws split the magnitude into eight segments (chords) of sixteen steps each; the step
//! doubles from one segment to the next, so small signals keep their precision. A code byte is
//! `sign | segment << 4 | step`, stored with some bits inverted:
//!
//! - μ-law works on a 14-bit magnitude biased by 33 (`0x84` in the 16-bit domain) so that the
//!   segment boundaries fall on powers of two; every bit of the code is inverted, so `0xFF`
//!   is +0 and `0x7F` is −0.
//! - A-law works on a 13-bit magnitude; the first two segments share one step size, and the
//!   even bits of the code are inverted (`^ 0x55`) to keep enough transitions on the line, so
//!   `0xD5` and `0x55` are the two smallest values, ±8.
//!
//! Decoding is a table look-up (tables built at compile time from the formulas below);
//! encoding finds the segment with one leading-zero count. 16-bit input is reduced to the
//! law's resolution by an arithmetic shift (14 bits for μ-law, 13 for A-law), which rounds
//! toward −∞; for μ-law the magnitude of a negative sample is taken after that shift, so a
//! small negative sample encodes as −1 step (`0x7E`) rather than −0. This is the mapping of
//! the widespread reference code carried by Python's `audioop`, against which every one of
//! the 65,536 inputs is checked (`tests/codec_g711.rs`).

/// μ-law bias in the 16-bit domain (G.711 μ-law: 33 on the 14-bit magnitude, `33 << 2`).
pub const ULAW_BIAS: i32 = 0x84;

/// Largest μ-law biased magnitude on the 14-bit grid: segment 7, step 15.
const ULAW_MAX_BIASED: u32 = 0x1FFF;

/// The even-bit inversion applied to every A-law code byte (G.711 §2 "A-law", note).
pub const ALAW_EVEN_BIT_INVERSION: u8 = 0x55;

/// μ-law sign bit of the (uninverted) code: set for negative values.
const SIGN_BIT: u8 = 0x80;

/// G.711 μ-law: compresses one 16-bit linear sample to a code byte.
#[inline]
pub fn ulaw_encode(sample: i16) -> u8 {
    // 14-bit grid of the law (arithmetic shift: rounds toward -infinity).
    let on_grid = i32::from(sample) >> 2;
    let (magnitude, sign) = if on_grid < 0 {
        (-on_grid, SIGN_BIT)
    } else {
        (on_grid, 0)
    };
    // Bias by 33 so that segment s covers the biased magnitudes [2^(s+5), 2^(s+6)).
    let biased = ((magnitude + (ULAW_BIAS >> 2)) as u32).min(ULAW_MAX_BIASED);
    let segment = 31 - biased.leading_zeros() - 5;
    let step = (biased >> (segment + 1)) & 0x0F;
    !(sign | (segment << 4) as u8 | step as u8)
}

/// G.711 μ-law: expands a code byte to its 16-bit linear value (range ±32,124).
#[inline]
pub fn ulaw_decode(code: u8) -> i16 {
    ULAW_DECODE[usize::from(code)]
}

/// G.711 A-law: compresses one 16-bit linear sample to a code byte.
#[inline]
pub fn alaw_encode(sample: i16) -> u8 {
    // 13-bit grid of the law; negative values are folded by one's complement (-x - 1), which
    // makes the law symmetric about -1/2.
    let on_grid = i32::from(sample) >> 3;
    let (magnitude, sign) = if on_grid < 0 {
        ((!on_grid) as u32, 0)
    } else {
        (on_grid as u32, SIGN_BIT)
    };
    // magnitude is 0..=4095. Segments 0 and 1 both have a step of 2; segment s >= 1 covers
    // [2^(s+4), 2^(s+5)) with a step of 2^s.
    let code = if magnitude < 32 {
        magnitude >> 1
    } else {
        let segment = 31 - magnitude.leading_zeros() - 4;
        (segment << 4) | ((magnitude >> segment) & 0x0F)
    };
    (sign | code as u8) ^ ALAW_EVEN_BIT_INVERSION
}

/// G.711 A-law: expands a code byte to its 16-bit linear value (range ±32,256).
#[inline]
pub fn alaw_decode(code: u8) -> i16 {
    ALAW_DECODE[usize::from(code)]
}

/// Encodes `samples` as μ-law, appending one byte per sample to `out`.
pub fn ulaw_encode_slice(samples: &[i16], out: &mut Vec<u8>) {
    out.extend(samples.iter().map(|&sample| ulaw_encode(sample)));
}

/// Encodes `samples` as A-law, appending one byte per sample to `out`.
pub fn alaw_encode_slice(samples: &[i16], out: &mut Vec<u8>) {
    out.extend(samples.iter().map(|&sample| alaw_encode(sample)));
}

/// Decodes μ-law `codes`, appending one sample per byte to `out`.
pub fn ulaw_decode_slice(codes: &[u8], out: &mut Vec<i16>) {
    out.extend(codes.iter().map(|&code| ulaw_decode(code)));
}

/// Decodes A-law `codes`, appending one sample per byte to `out`.
pub fn alaw_decode_slice(codes: &[u8], out: &mut Vec<i16>) {
    out.extend(codes.iter().map(|&code| alaw_decode(code)));
}

/// Reconstruction value of a μ-law code: the middle of its step, minus the bias.
const fn ulaw_value(code: u8) -> i16 {
    let uninverted = !code;
    let segment = (uninverted >> 4) & 0x07;
    let step = (uninverted & 0x0F) as i32;
    let biased = ((step << 3) + ULAW_BIAS) << segment;
    let magnitude = biased - ULAW_BIAS;
    if uninverted & SIGN_BIT != 0 {
        -magnitude as i16
    } else {
        magnitude as i16
    }
}

/// Reconstruction value of an A-law code: the middle of its step on the 13-bit grid, × 8.
const fn alaw_value(code: u8) -> i16 {
    let plain = code ^ ALAW_EVEN_BIT_INVERSION;
    let segment = ((plain >> 4) & 0x07) as u32;
    let step = (plain & 0x0F) as i32;
    let magnitude = if segment == 0 {
        (step << 4) + 8
    } else {
        ((step << 4) + 0x108) << (segment - 1)
    };
    if plain & SIGN_BIT != 0 {
        magnitude as i16
    } else {
        -magnitude as i16
    }
}

/// μ-law code → linear value, for every code.
static ULAW_DECODE: [i16; 256] = {
    let mut table = [0i16; 256];
    let mut code = 0;
    while code < 256 {
        table[code] = ulaw_value(code as u8);
        code += 1;
    }
    table
};

/// A-law code → linear value, for every code.
static ALAW_DECODE: [i16; 256] = {
    let mut table = [0i16; 256];
    let mut code = 0;
    while code < 256 {
        table[code] = alaw_value(code as u8);
        code += 1;
    }
    table
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulaw_zero_and_extremes() {
        assert_eq!(ulaw_encode(0), 0xFF);
        assert_eq!(ulaw_decode(0xFF), 0);
        assert_eq!(ulaw_decode(0x7F), 0);
        assert_eq!(ulaw_encode(i16::MAX), 0x80);
        assert_eq!(ulaw_encode(i16::MIN), 0x00);
        assert_eq!(ulaw_decode(0x80), 32_124);
        assert_eq!(ulaw_decode(0x00), -32_124);
    }

    #[test]
    fn alaw_smallest_and_extremes() {
        assert_eq!(alaw_encode(0), 0xD5);
        assert_eq!(alaw_encode(-1), 0x55);
        assert_eq!(alaw_decode(0xD5), 8);
        assert_eq!(alaw_decode(0x55), -8);
        assert_eq!(alaw_encode(i16::MAX), 0xAA);
        assert_eq!(alaw_encode(i16::MIN), 0x2A);
        assert_eq!(alaw_decode(0xAA), 32_256);
        assert_eq!(alaw_decode(0x2A), -32_256);
    }

    #[test]
    fn decoded_values_encode_back_to_their_code() {
        for code in 0..=255u8 {
            let expected_ulaw = if code == 0x7F { 0xFF } else { code };
            assert_eq!(
                ulaw_encode(ulaw_decode(code)),
                expected_ulaw,
                "μ-law {code:#04x}"
            );
            assert_eq!(alaw_encode(alaw_decode(code)), code, "A-law {code:#04x}");
        }
    }

    #[test]
    fn slices_match_samples() {
        let samples = [0i16, 1, -1, 1000, -1000, i16::MAX, i16::MIN];
        let mut codes = Vec::new();
        ulaw_encode_slice(&samples, &mut codes);
        alaw_encode_slice(&samples, &mut codes);
        let (ulaw, alaw) = codes.split_at(samples.len());
        for (i, &sample) in samples.iter().enumerate() {
            assert_eq!(ulaw[i], ulaw_encode(sample));
            assert_eq!(alaw[i], alaw_encode(sample));
        }
        let mut decoded = Vec::new();
        ulaw_decode_slice(ulaw, &mut decoded);
        alaw_decode_slice(alaw, &mut decoded);
        assert_eq!(decoded.len(), 2 * samples.len());
        assert_eq!(decoded[3], ulaw_decode(ulaw[3]));
        assert_eq!(decoded[samples.len() + 3], alaw_decode(alaw[3]));
    }
}
