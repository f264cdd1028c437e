//! RTCP, RFC 3550 §6: compound packets ([`Compound`]), the sender and receiver reports
//! (§6.4), source descriptions (§6.5), BYE (§6.6) and extended reports (RFC 3611, with
//! the VoIP Metrics block of §4.7), as zero-copy views; builders for
//! the compound packets an endpoint sends ([`CompoundReport`]).
//!
//! Every RTCP packet starts with the same header (§6.4.1):
//!
//! ```text
//! |V=2|P|  count  |      PT       |  length (32-bit words - 1)    |
//! ```
//!
//! [`Compound::parse`] applies the validity checks of RFC 3550 Appendix A.2 to the whole
//! datagram once (version, lengths that add up, padding only on the last packet, first
//! packet SR or RR) and checks each known packet's body against its count, so walking the
//! packets afterwards cannot fail. Unknown packet types (APP, feedback...) are handed
//! out as [`OtherPacket`] for the caller to skip.

mod build;
mod bye;
mod report;
mod sdes;
mod xr;

pub use build::{
    write_bye, write_receiver_report, write_sdes, write_sender_report, CompoundReport,
};
pub use bye::Bye;
pub use report::{
    ReceiverReport, ReportBlock, ReportBlocks, SenderInfo, SenderReport, REPORT_BLOCK_LEN,
};
pub use sdes::{
    SdesChunk, SdesChunks, SdesItem, SdesItems, SourceDescription, SDES_CNAME, SDES_NAME, SDES_TOOL,
};
pub use xr::{ExtendedReport, VoipMetrics, XrBlock, XrBlocks, XR_VOIP_METRICS};

use crate::error::Error;

/// Packet type of a sender report (RFC 3550 §6.4.1).
pub const PT_SR: u8 = 200;
/// Packet type of a receiver report (RFC 3550 §6.4.2).
pub const PT_RR: u8 = 201;
/// Packet type of a source description (RFC 3550 §6.5).
pub const PT_SDES: u8 = 202;
/// Packet type of a goodbye (RFC 3550 §6.6).
pub const PT_BYE: u8 = 203;
/// Packet type of an application-defined packet (RFC 3550 §6.7).
pub const PT_APP: u8 = 204;
/// Packet type of an extended report (RFC 3611 §2).
pub const PT_XR: u8 = 207;
/// The largest value of the 5-bit count field (RFC 3550 §6.4.1).
pub const MAX_COUNT: usize = 31;

/// A validated compound RTCP packet (RFC 3550 §6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compound<'a> {
    bytes: &'a [u8],
}

impl<'a> Compound<'a> {
    /// Validates a received RTCP datagram (RFC 3550 §6.1, Appendix A.2).
    pub fn parse(bytes: &'a [u8]) -> Result<Self, Error> {
        if bytes.is_empty() {
            return Err(Error::RtcpTooShort { len: 0 });
        }
        let mut offset = 0;
        while offset < bytes.len() {
            let (packet, next) = next_packet(bytes, offset)?;
            if offset == 0 && !matches!(packet.packet_type, PT_SR | PT_RR) {
                return Err(Error::RtcpFirstNotReport(packet.packet_type));
            }
            RtcpPacket::from_raw(packet)?;
            offset = next;
        }
        Ok(Compound { bytes })
    }

    /// The datagram as received.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The packets of the compound, in order.
    pub fn packets(&self) -> Packets<'a> {
        Packets {
            bytes: self.bytes,
            offset: 0,
        }
    }
}

/// Iterator over the packets of a [`Compound`].
#[derive(Debug, Clone)]
pub struct Packets<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl<'a> Iterator for Packets<'a> {
    type Item = RtcpPacket<'a>;

    fn next(&mut self) -> Option<RtcpPacket<'a>> {
        if self.offset >= self.bytes.len() {
            return None;
        }
        // Validated by `Compound::parse`; an error here would end the walk, not panic.
        match next_packet(self.bytes, self.offset) {
            Ok((raw, next)) => {
                self.offset = next;
                RtcpPacket::from_raw(raw).ok()
            }
            Err(_) => {
                self.offset = self.bytes.len();
                None
            }
        }
    }
}

/// One packet of a compound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RtcpPacket<'a> {
    /// SR, RFC 3550 §6.4.1.
    SenderReport(SenderReport<'a>),
    /// RR, RFC 3550 §6.4.2.
    ReceiverReport(ReceiverReport<'a>),
    /// SDES, RFC 3550 §6.5.
    SourceDescription(SourceDescription<'a>),
    /// BYE, RFC 3550 §6.6.
    Bye(Bye<'a>),
    /// XR, RFC 3611 §2.
    ExtendedReport(ExtendedReport<'a>),
    /// Any other packet type (APP, RTPFB, PSFB...), not interpreted.
    Other(OtherPacket<'a>),
}

/// A packet of a type this crate does not interpret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OtherPacket<'a> {
    /// The packet type.
    pub packet_type: u8,
    /// The 5-bit count (or subtype) field.
    pub count: u8,
    /// The packet after its 4-octet header, without padding.
    pub body: &'a [u8],
}

impl<'a> RtcpPacket<'a> {
    fn from_raw(raw: RawPacket<'a>) -> Result<Self, Error> {
        Ok(match raw.packet_type {
            PT_SR => RtcpPacket::SenderReport(SenderReport::parse(raw.count, raw.body)?),
            PT_RR => RtcpPacket::ReceiverReport(ReceiverReport::parse(raw.count, raw.body)?),
            PT_SDES => {
                RtcpPacket::SourceDescription(SourceDescription::parse(raw.count, raw.body)?)
            }
            PT_BYE => RtcpPacket::Bye(Bye::parse(raw.count, raw.body)?),
            PT_XR => RtcpPacket::ExtendedReport(ExtendedReport::parse(raw.body)?),
            packet_type => RtcpPacket::Other(OtherPacket {
                packet_type,
                count: raw.count,
                body: raw.body,
            }),
        })
    }
}

/// One packet's header fields and body, before interpretation.
#[derive(Debug, Clone, Copy)]
struct RawPacket<'a> {
    packet_type: u8,
    count: u8,
    body: &'a [u8],
}

/// Reads the packet at `offset`: its header, its body without padding, and the offset of
/// the next packet. RFC 3550 §6.4.1 (header), A.2 (padding only in the last packet).
fn next_packet(bytes: &[u8], offset: usize) -> Result<(RawPacket<'_>, usize), Error> {
    let rest = bytes.get(offset..).unwrap_or_default();
    let header = rest
        .get(..4)
        .ok_or(Error::RtcpTooShort { len: rest.len() })?;
    let version = header[0] >> 6;
    if version != 2 {
        return Err(Error::RtcpVersion(version));
    }
    let length_octets = 4 * (usize::from(u16::from_be_bytes([header[2], header[3]])) + 1);
    let packet = rest.get(..length_octets).ok_or(Error::RtcpLength {
        length_octets,
        available: rest.len(),
    })?;
    let mut body_end = length_octets;
    if header[0] & 0x20 != 0 {
        if length_octets != rest.len() {
            return Err(Error::RtcpPadding);
        }
        let padding = usize::from(packet[length_octets - 1]);
        if padding == 0 || padding > length_octets - 4 {
            return Err(Error::RtcpPadding);
        }
        body_end -= padding;
    }
    Ok((
        RawPacket {
            packet_type: header[1],
            count: header[0] & 0x1f,
            body: &packet[4..body_end],
        },
        offset + length_octets,
    ))
}

/// Writes an RTCP common header (RFC 3550 §6.4.1) for a packet of `total_len` octets (a
/// multiple of 4).
fn write_header(out: &mut Vec<u8>, count: usize, packet_type: u8, total_len: usize) {
    out.push(0x80 | (count as u8 & 0x1f));
    out.push(packet_type);
    let words = u16::try_from(total_len / 4 - 1).unwrap_or(u16::MAX);
    out.extend_from_slice(&words.to_be_bytes());
}

fn be_u32(b: &[u8], at: usize) -> u32 {
    match b.get(at..at + 4) {
        Some(x) => u32::from_be_bytes([x[0], x[1], x[2], x[3]]),
        None => 0,
    }
}

#[cfg(test)]
mod tests;
