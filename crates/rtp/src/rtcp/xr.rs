//! Extended reports, RFC 3611: the XR packet (§2) and its report blocks (§3), with the
//! VoIP Metrics report block (§4.7) decoded.
//!
//! ```text
//! |V=2|P|reserved |   PT=XR=207   |             length            |
//! |                              SSRC                             |
//! :                         report blocks                         :
//! ```
//!
//! Each report block (§3):
//!
//! ```text
//! |      BT       | type-specific |         block length          |
//! :             type-specific block contents                      :
//! ```
//!
//! the block length counting the 32-bit words after this header. [`ExtendedReport::parse`]
//! checks that the blocks tile the packet exactly, so walking them cannot fail.

use super::{be_u32, PT_XR};
use crate::error::Error;

/// Block type of the VoIP Metrics report block (RFC 3611 §4.7).
pub const XR_VOIP_METRICS: u8 = 7;
/// Octets of a VoIP Metrics block after its 4-octet header (block length 8, §4.7).
const VOIP_METRICS_LEN: usize = 32;

/// An XR packet (RFC 3611 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtendedReport<'a> {
    body: &'a [u8],
}

impl<'a> ExtendedReport<'a> {
    /// Validates the body (after the common header, without padding): the SSRC, then
    /// blocks whose lengths add up to the packet (RFC 3611 §2, §3).
    pub(super) fn parse(body: &'a [u8]) -> Result<Self, Error> {
        let malformed = |reason| Error::RtcpMalformed {
            packet_type: PT_XR,
            reason,
        };
        let mut rest = body.get(4..).ok_or(malformed("shorter than its SSRC"))?;
        while !rest.is_empty() {
            let (_, _, _, next) = split_block(rest).ok_or(malformed("a report block overruns"))?;
            rest = next;
        }
        Ok(ExtendedReport { body })
    }

    /// The SSRC of the reporter.
    pub fn ssrc(&self) -> u32 {
        be_u32(self.body, 0)
    }

    /// The report blocks, in order.
    pub fn blocks(&self) -> XrBlocks<'a> {
        XrBlocks {
            rest: self.body.get(4..).unwrap_or_default(),
        }
    }

    /// The first VoIP Metrics block (§4.7), if the packet carries one.
    pub fn voip_metrics(&self) -> Option<VoipMetrics> {
        self.blocks()
            .filter(|b| b.block_type == XR_VOIP_METRICS)
            .find_map(|b| VoipMetrics::decode(b.contents))
    }
}

/// Splits one block off `rest`: (BT, type-specific, contents) and what follows.
fn split_block(rest: &[u8]) -> Option<(u8, u8, &[u8], &[u8])> {
    let header = rest.get(..4)?;
    let words = usize::from(u16::from_be_bytes([header[2], header[3]]));
    let end = 4 + 4 * words;
    let contents = rest.get(4..end)?;
    Some((
        header[0],
        header[1],
        contents,
        rest.get(end..).unwrap_or_default(),
    ))
}

/// One XR report block (RFC 3611 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XrBlock<'a> {
    /// BT: the block type (7 is VoIP Metrics).
    pub block_type: u8,
    /// The type-specific octet of the header.
    pub type_specific: u8,
    /// The block after its 4-octet header.
    pub contents: &'a [u8],
}

/// Iterator over the blocks of an [`ExtendedReport`].
#[derive(Debug, Clone)]
pub struct XrBlocks<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for XrBlocks<'a> {
    type Item = XrBlock<'a>;

    fn next(&mut self) -> Option<XrBlock<'a>> {
        let (block_type, type_specific, contents, next) = split_block(self.rest)?;
        self.rest = next;
        Some(XrBlock {
            block_type,
            type_specific,
            contents,
        })
    }
}

/// The VoIP Metrics report block (RFC 3611 §4.7): what the reporter measured of the
/// stream from `ssrc`. The values are as on the wire; 127 in the R factors and MOS means
/// "unavailable", 0 in the delays means "not measured" (§4.7.3, §4.7.5, §4.7.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VoipMetrics {
    /// The source reported on.
    pub ssrc: u32,
    /// Fraction of packets lost, in 1/256 (§4.7.1).
    pub loss_rate: u8,
    /// Fraction discarded (late or early) by the jitter buffer, in 1/256 (§4.7.1).
    pub discard_rate: u8,
    /// Fraction of packets lost or discarded within bursts, in 1/256 (§4.7.2).
    pub burst_density: u8,
    /// The same within gaps, in 1/256 (§4.7.2).
    pub gap_density: u8,
    /// Mean burst duration, milliseconds (§4.7.2).
    pub burst_duration: u16,
    /// Mean gap duration, milliseconds (§4.7.2).
    pub gap_duration: u16,
    /// The latest round-trip delay between RTP interfaces, milliseconds (§4.7.3).
    pub round_trip_delay: u16,
    /// Delay in the reporter itself (jitter buffer, coding), milliseconds (§4.7.3).
    pub end_system_delay: u16,
    /// Signal level, dBm0 (signed, 127 unavailable; §4.7.4).
    pub signal_level: i8,
    /// Noise level, dBm0 (signed, 127 unavailable; §4.7.4).
    pub noise_level: i8,
    /// Residual echo return loss, dB (§4.7.4).
    pub rerl: u8,
    /// Gap threshold, packets (§4.7.2).
    pub gmin: u8,
    /// R factor (0-100, 127 unavailable; §4.7.5).
    pub r_factor: u8,
    /// External R factor (§4.7.5).
    pub ext_r_factor: u8,
    /// MOS-LQ times 10 (10-50, 127 unavailable; §4.7.5).
    pub mos_lq: u8,
    /// MOS-CQ times 10 (§4.7.5).
    pub mos_cq: u8,
    /// Receiver configuration byte (PLC and jitter buffer kind; §4.7.6).
    pub rx_config: u8,
    /// Nominal jitter buffer delay, milliseconds (§4.7.6).
    pub jb_nominal: u16,
    /// Maximum jitter buffer delay, milliseconds (§4.7.6).
    pub jb_maximum: u16,
    /// Absolute maximum jitter buffer delay, milliseconds (§4.7.6).
    pub jb_abs_max: u16,
}

impl VoipMetrics {
    /// Decodes the 32 octets after a VoIP Metrics block's header; `None` when the block is
    /// not that long (its block length must be 8, §4.7).
    pub fn decode(b: &[u8]) -> Option<VoipMetrics> {
        let b: &[u8; VOIP_METRICS_LEN] = b.get(..VOIP_METRICS_LEN)?.try_into().ok()?;
        let u16_at = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
        Some(VoipMetrics {
            ssrc: be_u32(b, 0),
            loss_rate: b[4],
            discard_rate: b[5],
            burst_density: b[6],
            gap_density: b[7],
            burst_duration: u16_at(8),
            gap_duration: u16_at(10),
            round_trip_delay: u16_at(12),
            end_system_delay: u16_at(14),
            signal_level: b[16] as i8,
            noise_level: b[17] as i8,
            rerl: b[18],
            gmin: b[19],
            r_factor: b[20],
            ext_r_factor: b[21],
            mos_lq: b[22],
            mos_cq: b[23],
            rx_config: b[24],
            jb_nominal: u16_at(26),
            jb_maximum: u16_at(28),
            jb_abs_max: u16_at(30),
        })
    }

    /// Appends the block, header included (BT 7, block length 8).
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&[XR_VOIP_METRICS, 0, 0, 8]);
        out.extend_from_slice(&self.ssrc.to_be_bytes());
        out.extend_from_slice(&[
            self.loss_rate,
            self.discard_rate,
            self.burst_density,
            self.gap_density,
        ]);
        for v in [
            self.burst_duration,
            self.gap_duration,
            self.round_trip_delay,
            self.end_system_delay,
        ] {
            out.extend_from_slice(&v.to_be_bytes());
        }
        out.extend_from_slice(&[
            self.signal_level as u8,
            self.noise_level as u8,
            self.rerl,
            self.gmin,
            self.r_factor,
            self.ext_r_factor,
            self.mos_lq,
            self.mos_cq,
            self.rx_config,
            0,
        ]);
        for v in [self.jb_nominal, self.jb_maximum, self.jb_abs_max] {
            out.extend_from_slice(&v.to_be_bytes());
        }
    }
}
