//! The 76 parameters of a GSM 06.10 frame and their RTP packing, RFC 3551 §4.5.8: 33 octets,
//! the signature nibble `0xD` and then 260 bits, every parameter most significant bit first,
//! in the order of RFC 3551 §4.5.8.1 (LARc[0..8], then per sub-frame Nc, bc, Mc, xmaxc,
//! xmc[13]). The `.gsm` files of libgsm's `toast` use the same layout.

use super::lpc::LPC_ORDER;
use super::rpe::PULSES;
use super::SUBFRAMES;

/// Octets of a packed frame (RFC 3551 §4.5.8).
pub const FRAME_BYTES: usize = 33;

/// The signature in the high nibble of the first octet (RFC 3551 §4.5.8.1).
pub const SIGNATURE: u8 = 0xD;

/// Bit widths of LARc[0..8] (RFC 3551 §4.5.8.1).
const LARC_BITS: [u32; LPC_ORDER] = [6, 6, 5, 5, 4, 4, 3, 3];

/// The largest value of each LARc field.
pub(super) const LARC_MASK: [u8; LPC_ORDER] = {
    let mut masks = [0u8; LPC_ORDER];
    let mut i = 0;
    while i < LPC_ORDER {
        masks[i] = ((1u32 << LARC_BITS[i]) - 1) as u8;
        i += 1;
    }
    masks
};

/// Bit widths of the sub-frame fields Nc, bc, Mc, xmaxc and each xmc.
const NC_BITS: u32 = 7;
const BC_BITS: u32 = 2;
const MC_BITS: u32 = 2;
const XMAXC_BITS: u32 = 6;
const XMC_BITS: u32 = 3;

/// The parameters of one 20 ms GSM 06.10 frame, as coded (GSM 06.10 §1.7). Each field
/// holds the unsigned value sent on the wire; packing keeps only the field's width.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FrameParameters {
    /// The log-area ratios `LARc[0..8]` (6, 6, 5, 5, 4, 4, 3, 3 bits), offset to be
    /// non-negative.
    pub larc: [u8; LPC_ORDER],
    /// The four 5 ms sub-frames.
    pub subframes: [SubframeParameters; SUBFRAMES],
}

/// The parameters of one 5 ms sub-frame of a GSM 06.10 frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SubframeParameters {
    /// LTP lag `Nc`, 7 bits (40..=120 from a conforming encoder).
    pub nc: u8,
    /// LTP gain `bc`, 2 bits.
    pub bc: u8,
    /// RPE grid position `Mc`, 2 bits.
    pub mc: u8,
    /// RPE block maximum `xmaxc`, 6 bits.
    pub xmaxc: u8,
    /// RPE pulses `xmc[0..13]`, 3 bits each.
    pub xmc: [u8; PULSES],
}

impl FrameParameters {
    /// RFC 3551 §4.5.8: packs the frame into its 33 octets.
    pub fn pack(&self) -> [u8; FRAME_BYTES] {
        let mut writer = BitWriter::new();
        writer.put(u32::from(SIGNATURE), 4);
        for (&value, &bits) in self.larc.iter().zip(&LARC_BITS) {
            writer.put(u32::from(value), bits);
        }
        for subframe in &self.subframes {
            writer.put(u32::from(subframe.nc), NC_BITS);
            writer.put(u32::from(subframe.bc), BC_BITS);
            writer.put(u32::from(subframe.mc), MC_BITS);
            writer.put(u32::from(subframe.xmaxc), XMAXC_BITS);
            for &pulse in &subframe.xmc {
                writer.put(u32::from(pulse), XMC_BITS);
            }
        }
        writer.bytes
    }

    /// RFC 3551 §4.5.8: unpacks 33 octets; `None` if the signature nibble is not `0xD`.
    pub fn unpack(bytes: &[u8; FRAME_BYTES]) -> Option<Self> {
        let mut reader = BitReader { bytes, position: 0 };
        if reader.take(4) != u32::from(SIGNATURE) {
            return None;
        }
        let mut frame = Self::default();
        for (value, &bits) in frame.larc.iter_mut().zip(&LARC_BITS) {
            *value = reader.take(bits) as u8;
        }
        for subframe in &mut frame.subframes {
            subframe.nc = reader.take(NC_BITS) as u8;
            subframe.bc = reader.take(BC_BITS) as u8;
            subframe.mc = reader.take(MC_BITS) as u8;
            subframe.xmaxc = reader.take(XMAXC_BITS) as u8;
            for pulse in &mut subframe.xmc {
                *pulse = reader.take(XMC_BITS) as u8;
            }
        }
        Some(frame)
    }
}

/// Writes fields most significant bit first into the 33 octets.
struct BitWriter {
    bytes: [u8; FRAME_BYTES],
    position: usize,
}

impl BitWriter {
    fn new() -> Self {
        Self {
            bytes: [0; FRAME_BYTES],
            position: 0,
        }
    }

    fn put(&mut self, value: u32, bits: u32) {
        for bit in (0..bits).rev() {
            if (value >> bit) & 1 == 1 {
                if let Some(byte) = self.bytes.get_mut(self.position / 8) {
                    *byte |= 0x80 >> (self.position % 8);
                }
            }
            self.position += 1;
        }
    }
}

/// Reads fields most significant bit first from the 33 octets.
struct BitReader<'a> {
    bytes: &'a [u8; FRAME_BYTES],
    position: usize,
}

impl BitReader<'_> {
    fn take(&mut self, bits: u32) -> u32 {
        let mut value = 0;
        for _ in 0..bits {
            let byte = self.bytes.get(self.position / 8).copied().unwrap_or(0);
            let bit = (byte >> (7 - self.position % 8)) & 1;
            value = (value << 1) | u32::from(bit);
            self.position += 1;
        }
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_frame() -> FrameParameters {
        let mut frame = FrameParameters::default();
        for (i, larc) in frame.larc.iter_mut().enumerate() {
            *larc = (7 * i as u8 + 3) & LARC_MASK[i];
        }
        for (j, subframe) in frame.subframes.iter_mut().enumerate() {
            let j = j as u8;
            subframe.nc = 40 + 20 * j;
            subframe.bc = j;
            subframe.mc = 3 - j;
            subframe.xmaxc = 60 - 13 * j;
            for (i, pulse) in subframe.xmc.iter_mut().enumerate() {
                *pulse = (i as u8 + j) & 7;
            }
        }
        frame
    }

    #[test]
    fn pack_then_unpack_is_identity() {
        let frame = sample_frame();
        let bytes = frame.pack();
        assert_eq!(bytes[0] >> 4, SIGNATURE);
        assert_eq!(FrameParameters::unpack(&bytes), Some(frame));
    }

    #[test]
    fn fields_are_most_significant_bit_first_in_table_order() {
        let mut frame = FrameParameters::default();
        frame.larc[0] = 0b10_0001; // 6 bits right after the signature
        frame.larc[1] = 0b11_1111;
        frame.subframes[3].xmc[12] = 0b101; // the last 3 bits of the frame
        let bytes = frame.pack();
        assert_eq!(bytes[0], 0xD0 | 0b1000);
        assert_eq!(bytes[1], (0b01 << 6) | 0b11_1111);
        assert_eq!(bytes[32] & 0b111, 0b101);
        // 4 + 36 + 4 × 56 = 264 bits = 33 octets exactly.
        assert_eq!(
            4 + LARC_BITS.iter().sum::<u32>() + 4 * (7 + 2 + 2 + 6 + 13 * 3),
            264
        );
    }

    #[test]
    fn a_wrong_signature_is_refused() {
        let mut bytes = sample_frame().pack();
        bytes[0] = (bytes[0] & 0x0F) | 0xC0;
        assert_eq!(FrameParameters::unpack(&bytes), None);
    }
}
