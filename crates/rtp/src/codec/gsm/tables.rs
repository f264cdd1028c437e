//! The constant tables of GSM 06.10 §5.2 (the fixed-point values of the standard), under the
//! standard's own names.

/// The LAR quantiser scale `A[i]` of `LAR[1..=8]`.
pub(super) const LAR_A: [i16; 8] = [20_480, 20_480, 20_480, 20_480, 13_964, 15_360, 8_534, 9_036];

/// The LAR quantiser offset `B[i]`.
pub(super) const LAR_B: [i16; 8] = [0, 0, 2_048, -2_560, 94, -1_792, -341, -1_144];

/// The smallest coded value `MIC[i]` of each LAR.
pub(super) const LAR_MIC: [i16; 8] = [-32, -32, -16, -16, -8, -8, -4, -4];

/// The largest coded value `MAC[i]` of each LAR.
pub(super) const LAR_MAC: [i16; 8] = [31, 31, 15, 15, 7, 7, 3, 3];

/// `INVA[i]`, 1 / `A[i]` (decoding of the LARs).
pub(super) const LAR_INVA: [i16; 8] = [
    13_107, 13_107, 13_107, 13_107, 19_223, 17_476, 31_454, 29_708,
];

/// The decision levels `DLB` of the LTP gain quantiser.
pub(super) const LTP_GAIN_DECISION: [i16; 4] = [6_554, 16_384, 26_214, 32_767];

/// The quantised LTP gains `QLB` (0.1, 0.35, 0.65, 1.0 in Q15).
pub(super) const LTP_GAIN: [i16; 4] = [3_277, 11_469, 21_299, 32_767];

/// The impulse response `H` of the RPE weighting (block) filter.
pub(super) const WEIGHTING_FILTER: [i16; 11] = [
    -134, -374, 0, 2_054, 5_741, 8_192, 5_741, 2_054, 0, -374, -134,
];

/// The normalised inverse mantissa `NRFAC` (APCM quantisation).
pub(super) const INVERSE_MANTISSA: [i16; 8] = [
    29_128, 26_215, 23_832, 21_846, 20_165, 18_725, 17_476, 16_384,
];

/// The normalised direct mantissa `FAC` (APCM inverse quantisation).
pub(super) const MANTISSA: [i16; 8] = [
    18_431, 20_479, 22_527, 24_575, 26_623, 28_671, 30_719, 32_767,
];
