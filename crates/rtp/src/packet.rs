//! RTP data packets, RFC 3550 §5.1: a zero-copy view over received bytes ([`RtpPacket`])
//! and a writer that builds a packet from a header description and a payload
//! ([`RtpHeader`]).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |V=2|P|X|  CC   |M|     PT      |       sequence number         |
//! |                           timestamp                           |
//! |           synchronization source (SSRC) identifier            |
//! |            contributing source (CSRC) identifiers (CC)        |
//! |   [extension: profile-defined (16) | length in words (16) ]   |
//! |   payload ...                         [padding ... | count ]  |
//! ```

use crate::error::Error;

/// The RTP version this crate speaks (RFC 3550 §5.1).
pub const RTP_VERSION: u8 = 2;
/// Octets of the fixed header, before any CSRC (RFC 3550 §5.1).
pub const FIXED_HEADER_LEN: usize = 12;
/// The largest CSRC count (4-bit CC field, RFC 3550 §5.1).
pub const MAX_CSRCS: usize = 15;

/// A header extension (RFC 3550 §5.3.1): a profile-defined 16-bit value and data of a whole
/// number of 32-bit words. RFC 8285 one-byte and two-byte extension elements live inside
/// `data`; this crate does not interpret them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderExtension<'a> {
    /// The profile-defined first 16 bits (0xBEDE for RFC 8285 one-byte elements).
    pub profile: u16,
    /// The extension data, without its 4-octet header; a multiple of 4 octets.
    pub data: &'a [u8],
}

/// A received RTP packet, validated and viewed in place (RFC 3550 §5.1).
///
/// [`RtpPacket::parse`] checks what RFC 3550 Appendix A.1 asks of a packet on its own: the
/// version, that the CSRC list and header extension fit, and that the padding count is
/// sane. Accessors then read the fields without copying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpPacket<'a> {
    bytes: &'a [u8],
    csrc_end: usize,
    header_len: usize,
    payload_end: usize,
}

impl<'a> RtpPacket<'a> {
    /// Validates `bytes` as one RTP packet.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, Error> {
        let fixed = bytes
            .get(..FIXED_HEADER_LEN)
            .ok_or(Error::RtpTooShort { len: bytes.len() })?;
        let version = fixed[0] >> 6;
        if version != RTP_VERSION {
            return Err(Error::RtpVersion(version));
        }
        let count = fixed[0] & 0x0f;
        let csrc_end = FIXED_HEADER_LEN + 4 * usize::from(count);
        if bytes.len() < csrc_end {
            return Err(Error::RtpCsrcTruncated { count });
        }
        let mut header_len = csrc_end;
        if fixed[0] & 0x10 != 0 {
            let ext = bytes
                .get(csrc_end..csrc_end + 4)
                .ok_or(Error::RtpExtensionTruncated)?;
            let words = usize::from(u16::from_be_bytes([ext[2], ext[3]]));
            header_len = csrc_end + 4 + 4 * words;
            if bytes.len() < header_len {
                return Err(Error::RtpExtensionTruncated);
            }
        }
        let mut payload_end = bytes.len();
        if fixed[0] & 0x20 != 0 {
            let available = bytes.len() - header_len;
            let padding = bytes.last().copied().unwrap_or(0);
            if padding == 0 || usize::from(padding) > available {
                return Err(Error::RtpPadding { padding, available });
            }
            payload_end -= usize::from(padding);
        }
        Ok(RtpPacket {
            bytes,
            csrc_end,
            header_len,
            payload_end,
        })
    }

    /// The whole packet as received.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The version field; always 2 after a successful parse.
    pub fn version(&self) -> u8 {
        self.bytes[0] >> 6
    }

    /// Whether the P bit is set (padding octets follow the payload).
    pub fn has_padding(&self) -> bool {
        self.bytes[0] & 0x20 != 0
    }

    /// Octets of padding after the payload, the count octet included (0 without padding).
    pub fn padding_len(&self) -> usize {
        self.bytes.len() - self.payload_end
    }

    /// The marker bit: for audio, the first packet of a talkspurt (RFC 3551 §4.1).
    pub fn marker(&self) -> bool {
        self.bytes[1] & 0x80 != 0
    }

    /// The 7-bit payload type.
    pub fn payload_type(&self) -> u8 {
        self.bytes[1] & 0x7f
    }

    /// The 16-bit sequence number.
    pub fn sequence(&self) -> u16 {
        u16::from_be_bytes([self.bytes[2], self.bytes[3]])
    }

    /// The 32-bit RTP timestamp.
    pub fn timestamp(&self) -> u32 {
        u32::from_be_bytes([self.bytes[4], self.bytes[5], self.bytes[6], self.bytes[7]])
    }

    /// The synchronization source identifier.
    pub fn ssrc(&self) -> u32 {
        u32::from_be_bytes([self.bytes[8], self.bytes[9], self.bytes[10], self.bytes[11]])
    }

    /// The number of contributing sources (the CC field).
    pub fn csrc_count(&self) -> usize {
        usize::from(self.bytes[0] & 0x0f)
    }

    /// The contributing source identifiers, in packet order.
    pub fn csrcs(&self) -> impl ExactSizeIterator<Item = u32> + 'a {
        self.bytes[FIXED_HEADER_LEN..self.csrc_end]
            .chunks_exact(4)
            .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
    }

    /// The header extension, when the X bit is set (RFC 3550 §5.3.1).
    pub fn extension(&self) -> Option<HeaderExtension<'a>> {
        if self.bytes[0] & 0x10 == 0 {
            return None;
        }
        let at = self.csrc_end;
        Some(HeaderExtension {
            profile: u16::from_be_bytes([self.bytes[at], self.bytes[at + 1]]),
            data: &self.bytes[at + 4..self.header_len],
        })
    }

    /// Octets of the header: fixed part, CSRCs and extension.
    pub fn header_len(&self) -> usize {
        self.header_len
    }

    /// The payload, without header and padding.
    pub fn payload(&self) -> &'a [u8] {
        &self.bytes[self.header_len..self.payload_end]
    }

    /// The header fields as a writer description; `csrcs` receives the CSRC list (the
    /// header borrows it). Writing the result with this packet's payload and padding
    /// rebuilds the packet, except for the content of padding octets other than the count.
    pub fn header<'b>(&self, csrcs: &'b mut Vec<u32>) -> RtpHeader<'b>
    where
        'a: 'b,
    {
        csrcs.clear();
        csrcs.extend(self.csrcs());
        RtpHeader {
            marker: self.marker(),
            payload_type: self.payload_type(),
            sequence: self.sequence(),
            timestamp: self.timestamp(),
            ssrc: self.ssrc(),
            csrcs,
            extension: self.extension(),
            padding: u8::try_from(self.padding_len()).unwrap_or(0),
        }
    }
}

/// The fields of an RTP header to write (RFC 3550 §5.1). The version is always 2; the P, X
/// and CC fields follow from `padding`, `extension` and `csrcs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RtpHeader<'a> {
    /// The marker bit.
    pub marker: bool,
    /// The payload type, 0-127.
    pub payload_type: u8,
    /// The sequence number.
    pub sequence: u16,
    /// The RTP timestamp.
    pub timestamp: u32,
    /// The synchronization source.
    pub ssrc: u32,
    /// Contributing sources, at most 15.
    pub csrcs: &'a [u32],
    /// A header extension (its data a whole number of 32-bit words).
    pub extension: Option<HeaderExtension<'a>>,
    /// Octets of padding to append after the payload, the count octet included (0: no
    /// padding, P bit clear). The padding octets are zero, the last one is the count.
    pub padding: u8,
}

impl RtpHeader<'_> {
    /// Checks the fields that could not be written as given.
    fn validate(&self) -> Result<(), Error> {
        if self.payload_type > 127 {
            return Err(Error::PayloadTypeRange(self.payload_type));
        }
        if self.csrcs.len() > MAX_CSRCS {
            return Err(Error::TooManyCsrcs(self.csrcs.len()));
        }
        if let Some(ext) = &self.extension {
            if ext.data.len() % 4 != 0 || ext.data.len() / 4 > usize::from(u16::MAX) {
                return Err(Error::ExtensionLength(ext.data.len()));
            }
        }
        Ok(())
    }

    /// Octets of the header this description writes.
    pub fn header_len(&self) -> usize {
        FIXED_HEADER_LEN + 4 * self.csrcs.len() + self.extension.map_or(0, |e| 4 + e.data.len())
    }

    /// Octets of a whole packet with a payload of `payload_len` octets.
    pub fn packet_len(&self, payload_len: usize) -> usize {
        self.header_len() + payload_len + usize::from(self.padding)
    }

    /// Appends the packet (header, payload, padding) to `out`.
    pub fn write_to_vec(&self, payload: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
        self.validate()?;
        out.reserve(self.packet_len(payload.len()));
        out.push(self.first_octet());
        out.push(u8::from(self.marker) << 7 | self.payload_type);
        out.extend_from_slice(&self.sequence.to_be_bytes());
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(&self.ssrc.to_be_bytes());
        for csrc in self.csrcs {
            out.extend_from_slice(&csrc.to_be_bytes());
        }
        if let Some(ext) = &self.extension {
            out.extend_from_slice(&ext.profile.to_be_bytes());
            let words = u16::try_from(ext.data.len() / 4).unwrap_or(u16::MAX);
            out.extend_from_slice(&words.to_be_bytes());
            out.extend_from_slice(ext.data);
        }
        out.extend_from_slice(payload);
        if self.padding > 0 {
            out.resize(out.len() + usize::from(self.padding) - 1, 0);
            out.push(self.padding);
        }
        Ok(())
    }

    /// Writes the packet at the start of `buf` and returns its length.
    pub fn write_to_slice(&self, payload: &[u8], buf: &mut [u8]) -> Result<usize, Error> {
        self.validate()?;
        let needed = self.packet_len(payload.len());
        let available = buf.len();
        let out = buf
            .get_mut(..needed)
            .ok_or(Error::BufferTooSmall { needed, available })?;
        out[0] = self.first_octet();
        out[1] = u8::from(self.marker) << 7 | self.payload_type;
        out[2..4].copy_from_slice(&self.sequence.to_be_bytes());
        out[4..8].copy_from_slice(&self.timestamp.to_be_bytes());
        out[8..12].copy_from_slice(&self.ssrc.to_be_bytes());
        let mut at = FIXED_HEADER_LEN;
        for csrc in self.csrcs {
            out[at..at + 4].copy_from_slice(&csrc.to_be_bytes());
            at += 4;
        }
        if let Some(ext) = &self.extension {
            out[at..at + 2].copy_from_slice(&ext.profile.to_be_bytes());
            let words = u16::try_from(ext.data.len() / 4).unwrap_or(u16::MAX);
            out[at + 2..at + 4].copy_from_slice(&words.to_be_bytes());
            at += 4;
            out[at..at + ext.data.len()].copy_from_slice(ext.data);
            at += ext.data.len();
        }
        out[at..at + payload.len()].copy_from_slice(payload);
        at += payload.len();
        if self.padding > 0 {
            out[at..needed].fill(0);
            out[needed - 1] = self.padding;
        }
        Ok(needed)
    }

    /// The packet as a new vector.
    pub fn to_vec(&self, payload: &[u8]) -> Result<Vec<u8>, Error> {
        let mut out = Vec::with_capacity(self.packet_len(payload.len()));
        self.write_to_vec(payload, &mut out)?;
        Ok(out)
    }

    fn first_octet(&self) -> u8 {
        RTP_VERSION << 6
            | u8::from(self.padding > 0) << 5
            | u8::from(self.extension.is_some()) << 4
            | (self.csrcs.len() as u8 & 0x0f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let csrcs = [0x0102_0304, 0xa0b0_c0d0];
        let data = [1, 2, 3, 4, 5, 6, 7, 8];
        RtpHeader {
            marker: true,
            payload_type: 96,
            sequence: 0xfffe,
            timestamp: 0x1234_5678,
            ssrc: 0xdead_beef,
            csrcs: &csrcs,
            extension: Some(HeaderExtension {
                profile: 0xbede,
                data: &data,
            }),
            padding: 3,
        }
        .to_vec(b"hello")
        .unwrap()
    }

    #[test]
    fn written_packet_parses_back_field_by_field() {
        let bytes = sample();
        assert_eq!(bytes.len(), 12 + 8 + 4 + 8 + 5 + 3);
        let p = RtpPacket::parse(&bytes).unwrap();
        assert_eq!(p.version(), 2);
        assert!(p.marker());
        assert_eq!(p.payload_type(), 96);
        assert_eq!(p.sequence(), 0xfffe);
        assert_eq!(p.timestamp(), 0x1234_5678);
        assert_eq!(p.ssrc(), 0xdead_beef);
        assert_eq!(p.csrcs().collect::<Vec<_>>(), [0x0102_0304, 0xa0b0_c0d0]);
        let ext = p.extension().unwrap();
        assert_eq!(ext.profile, 0xbede);
        assert_eq!(ext.data, [1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(p.payload(), b"hello");
        assert!(p.has_padding());
        assert_eq!(p.padding_len(), 3);
        assert_eq!(p.header_len(), 32);
    }

    #[test]
    fn header_of_a_parsed_packet_rebuilds_it() {
        let bytes = sample();
        let p = RtpPacket::parse(&bytes).unwrap();
        let mut csrcs = Vec::new();
        let again = p.header(&mut csrcs).to_vec(p.payload()).unwrap();
        assert_eq!(again, bytes);
    }

    #[test]
    fn slice_writer_matches_vec_writer_and_reports_short_buffers() {
        let csrcs = [7];
        let h = RtpHeader {
            payload_type: 0,
            sequence: 1,
            timestamp: 160,
            ssrc: 42,
            csrcs: &csrcs,
            padding: 4,
            ..RtpHeader::default()
        };
        let v = h.to_vec(&[0xff; 160]).unwrap();
        let mut buf = [0u8; 400];
        let n = h.write_to_slice(&[0xff; 160], &mut buf).unwrap();
        assert_eq!(&buf[..n], &v[..]);
        let mut small = [0u8; 100];
        assert_eq!(
            h.write_to_slice(&[0xff; 160], &mut small),
            Err(Error::BufferTooSmall {
                needed: 12 + 4 + 160 + 4,
                available: 100
            })
        );
    }

    #[test]
    fn minimal_packet_has_empty_payload() {
        let bytes = RtpHeader::default().to_vec(&[]).unwrap();
        assert_eq!(bytes, [0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        let p = RtpPacket::parse(&bytes).unwrap();
        assert!(p.payload().is_empty());
        assert!(p.extension().is_none());
        assert_eq!(p.csrcs().len(), 0);
    }

    #[test]
    fn malformed_packets_are_rejected_with_the_reason() {
        assert_eq!(
            RtpPacket::parse(&[0x80; 11]),
            Err(Error::RtpTooShort { len: 11 })
        );
        let mut v1 = vec![0x40, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(RtpPacket::parse(&v1), Err(Error::RtpVersion(1)));
        v1[0] = 0x83; // three CSRCs, none present
        assert_eq!(
            RtpPacket::parse(&v1),
            Err(Error::RtpCsrcTruncated { count: 3 })
        );
        let mut ext = vec![
            0x90, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xbe, 0xde, 0, 2, 1, 2, 3, 4,
        ];
        assert_eq!(RtpPacket::parse(&ext), Err(Error::RtpExtensionTruncated));
        ext.truncate(14);
        assert_eq!(RtpPacket::parse(&ext), Err(Error::RtpExtensionTruncated));
        let zero_pad = [0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 0];
        assert_eq!(
            RtpPacket::parse(&zero_pad),
            Err(Error::RtpPadding {
                padding: 0,
                available: 2
            })
        );
        let big_pad = [0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 3];
        assert_eq!(
            RtpPacket::parse(&big_pad),
            Err(Error::RtpPadding {
                padding: 3,
                available: 2
            })
        );
    }

    #[test]
    fn padding_may_fill_the_whole_body() {
        let bytes = [0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
        let p = RtpPacket::parse(&bytes).unwrap();
        assert!(p.payload().is_empty());
        assert_eq!(p.padding_len(), 2);
    }

    #[test]
    fn writer_rejects_what_the_header_cannot_carry() {
        let h = RtpHeader {
            payload_type: 128,
            ..RtpHeader::default()
        };
        assert_eq!(h.to_vec(&[]), Err(Error::PayloadTypeRange(128)));
        let many = [0u32; 16];
        let h = RtpHeader {
            csrcs: &many,
            ..RtpHeader::default()
        };
        assert_eq!(h.to_vec(&[]), Err(Error::TooManyCsrcs(16)));
        let odd = [0u8; 5];
        let h = RtpHeader {
            extension: Some(HeaderExtension {
                profile: 1,
                data: &odd,
            }),
            ..RtpHeader::default()
        };
        assert_eq!(h.to_vec(&[]), Err(Error::ExtensionLength(5)));
    }
}
