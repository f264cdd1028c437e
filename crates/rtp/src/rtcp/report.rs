//! Sender and receiver reports, RFC 3550 §6.4: the sender information block and the report
//! blocks about each source heard.

use super::{be_u32, PT_RR, PT_SR};
use crate::error::Error;
use crate::ntp::NtpTimestamp;

/// Octets of one report block (RFC 3550 §6.4.1).
pub const REPORT_BLOCK_LEN: usize = 24;
/// Octets of the sender information (RFC 3550 §6.4.1).
const SENDER_INFO_LEN: usize = 20;

/// The sender information of an SR (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SenderInfo {
    /// Wall-clock time when the report was sent.
    pub ntp: NtpTimestamp,
    /// The same instant in the RTP timestamp units of the sender's media.
    pub rtp_timestamp: u32,
    /// RTP data packets sent since the start of transmission (modulo 2^32).
    pub packet_count: u32,
    /// Payload octets sent since the start of transmission (modulo 2^32).
    pub octet_count: u32,
}

impl SenderInfo {
    fn decode(b: &[u8]) -> Self {
        SenderInfo {
            ntp: NtpTimestamp::from_parts(be_u32(b, 0), be_u32(b, 4)),
            rtp_timestamp: be_u32(b, 8),
            packet_count: be_u32(b, 12),
            octet_count: be_u32(b, 16),
        }
    }

    pub(super) fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.ntp.0.to_be_bytes());
        out.extend_from_slice(&self.rtp_timestamp.to_be_bytes());
        out.extend_from_slice(&self.packet_count.to_be_bytes());
        out.extend_from_slice(&self.octet_count.to_be_bytes());
    }
}

/// One reception report block (RFC 3550 §6.4.1): what the reporter heard from `ssrc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReportBlock {
    /// The source this block is about.
    pub ssrc: u32,
    /// Fraction of packets lost since the previous report, in 1/256 (RFC 3550 A.3).
    pub fraction_lost: u8,
    /// Packets lost since the start: expected minus received, a signed 24-bit value
    /// (negative with duplicates). Values outside 24 bits are clamped when written.
    pub cumulative_lost: i32,
    /// Extended highest sequence number received: cycles in the high 16 bits.
    pub highest_sequence: u32,
    /// Interarrival jitter in RTP timestamp units (RFC 3550 A.8).
    pub jitter: u32,
    /// LSR: middle 32 bits of the NTP timestamp of the last SR from `ssrc`, 0 if none.
    pub last_sr: u32,
    /// DLSR: delay since that SR was received, in 1/65536 s; 0 if none.
    pub delay_since_last_sr: u32,
}

/// The largest cumulative loss a 24-bit signed field holds.
const CUMULATIVE_MAX: i32 = 0x7f_ffff;
/// The smallest cumulative loss a 24-bit signed field holds.
const CUMULATIVE_MIN: i32 = -0x80_0000;

impl ReportBlock {
    /// Decodes a block from its 24 octets (shorter input yields zero fields).
    pub fn decode(b: &[u8]) -> Self {
        let lost_word = be_u32(b, 4);
        // Sign-extend the 24-bit cumulative loss.
        let cumulative_lost = ((lost_word << 8) as i32) >> 8;
        ReportBlock {
            ssrc: be_u32(b, 0),
            fraction_lost: (lost_word >> 24) as u8,
            cumulative_lost,
            highest_sequence: be_u32(b, 8),
            jitter: be_u32(b, 12),
            last_sr: be_u32(b, 16),
            delay_since_last_sr: be_u32(b, 20),
        }
    }

    /// Appends the block's 24 octets.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.ssrc.to_be_bytes());
        let lost = self.cumulative_lost.clamp(CUMULATIVE_MIN, CUMULATIVE_MAX) as u32 & 0xff_ffff;
        out.extend_from_slice(&(u32::from(self.fraction_lost) << 24 | lost).to_be_bytes());
        out.extend_from_slice(&self.highest_sequence.to_be_bytes());
        out.extend_from_slice(&self.jitter.to_be_bytes());
        out.extend_from_slice(&self.last_sr.to_be_bytes());
        out.extend_from_slice(&self.delay_since_last_sr.to_be_bytes());
    }
}

/// Iterator over the report blocks of an SR or RR.
#[derive(Debug, Clone)]
pub struct ReportBlocks<'a> {
    chunks: std::slice::ChunksExact<'a, u8>,
}

impl Iterator for ReportBlocks<'_> {
    type Item = ReportBlock;
    fn next(&mut self) -> Option<ReportBlock> {
        self.chunks.next().map(ReportBlock::decode)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.chunks.size_hint()
    }
}

impl ExactSizeIterator for ReportBlocks<'_> {}

fn blocks(b: &[u8], count: u8) -> ReportBlocks<'_> {
    let len = usize::from(count) * REPORT_BLOCK_LEN;
    ReportBlocks {
        chunks: b
            .get(..len)
            .unwrap_or_default()
            .chunks_exact(REPORT_BLOCK_LEN),
    }
}

/// A sender report (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderReport<'a> {
    count: u8,
    body: &'a [u8],
}

impl<'a> SenderReport<'a> {
    pub(super) fn parse(count: u8, body: &'a [u8]) -> Result<Self, Error> {
        if body.len() < 4 + SENDER_INFO_LEN + usize::from(count) * REPORT_BLOCK_LEN {
            return Err(Error::RtcpMalformed {
                packet_type: PT_SR,
                reason: "shorter than its sender info and report blocks",
            });
        }
        Ok(SenderReport { count, body })
    }

    /// The sender's SSRC.
    pub fn ssrc(&self) -> u32 {
        be_u32(self.body, 0)
    }

    /// The sender information.
    pub fn sender_info(&self) -> SenderInfo {
        SenderInfo::decode(self.body.get(4..).unwrap_or_default())
    }

    /// The report blocks about the sources the sender hears.
    pub fn report_blocks(&self) -> ReportBlocks<'a> {
        blocks(
            self.body.get(4 + SENDER_INFO_LEN..).unwrap_or_default(),
            self.count,
        )
    }

    /// Profile-specific extension octets after the report blocks (RFC 3550 §6.4.1).
    pub fn extension(&self) -> &'a [u8] {
        let at = 4 + SENDER_INFO_LEN + usize::from(self.count) * REPORT_BLOCK_LEN;
        self.body.get(at..).unwrap_or_default()
    }
}

/// A receiver report (RFC 3550 §6.4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiverReport<'a> {
    count: u8,
    body: &'a [u8],
}

impl<'a> ReceiverReport<'a> {
    pub(super) fn parse(count: u8, body: &'a [u8]) -> Result<Self, Error> {
        if body.len() < 4 + usize::from(count) * REPORT_BLOCK_LEN {
            return Err(Error::RtcpMalformed {
                packet_type: PT_RR,
                reason: "shorter than its report blocks",
            });
        }
        Ok(ReceiverReport { count, body })
    }

    /// The reporter's SSRC.
    pub fn ssrc(&self) -> u32 {
        be_u32(self.body, 0)
    }

    /// The report blocks.
    pub fn report_blocks(&self) -> ReportBlocks<'a> {
        blocks(self.body.get(4..).unwrap_or_default(), self.count)
    }

    /// Profile-specific extension octets after the report blocks.
    pub fn extension(&self) -> &'a [u8] {
        let at = 4 + usize::from(self.count) * REPORT_BLOCK_LEN;
        self.body.get(at..).unwrap_or_default()
    }
}
