//! Errors of the media core. Each variant says what is wrong with the input (a packet from
//! the network, a file, an argument of the caller); none of them is ever a panic.

/// What is wrong with a packet, a file or an argument.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // ---- RTP packets (RFC 3550 §5.1) ----
    /// Fewer octets than the 12-octet fixed RTP header (RFC 3550 §5.1).
    #[error("RTP packet too short: {len} octets, the fixed header needs 12")]
    RtpTooShort {
        /// Octets received.
        len: usize,
    },
    /// The version field is not 2 (RFC 3550 §5.1).
    #[error("RTP version {0}, expected 2")]
    RtpVersion(u8),
    /// The CSRC count says more identifiers than the packet carries (RFC 3550 §5.1).
    #[error("RTP CSRC list truncated: {count} CSRCs announced")]
    RtpCsrcTruncated {
        /// The CC field.
        count: u8,
    },
    /// The X bit is set but the header extension does not fit the packet (RFC 3550 §5.3.1).
    #[error("RTP header extension truncated")]
    RtpExtensionTruncated,
    /// The P bit is set but the padding count is zero or larger than the payload
    /// (RFC 3550 §5.1, Appendix A.1).
    #[error("RTP padding invalid: {padding} padding octets with {available} after the header")]
    RtpPadding {
        /// The last octet of the packet.
        padding: u8,
        /// Octets after the header, padding included.
        available: usize,
    },

    // ---- building RTP packets ----
    /// A payload type does not fit in 7 bits (RFC 3550 §5.1).
    #[error("payload type {0} out of range 0-127")]
    PayloadTypeRange(u8),
    /// More than 15 CSRCs (RFC 3550 §5.1: the CC field has 4 bits).
    #[error("{0} CSRCs, at most 15 fit")]
    TooManyCsrcs(usize),
    /// A header extension's data is not a whole number of 32-bit words, or is longer than
    /// 65,535 words (RFC 3550 §5.3.1).
    #[error(
        "RTP header extension of {0} octets is not a whole number of 32-bit words (max 65535)"
    )]
    ExtensionLength(usize),
    /// The output buffer is too small.
    #[error("buffer too small: {needed} octets needed, {available} available")]
    BufferTooSmall {
        /// Octets the packet needs.
        needed: usize,
        /// Octets the buffer has.
        available: usize,
    },

    // ---- RTCP (RFC 3550 §6) ----
    /// Fewer than 4 octets left for an RTCP common header (RFC 3550 §6.4.1).
    #[error("RTCP packet truncated: {len} octets left, a header needs 4")]
    RtcpTooShort {
        /// Octets left.
        len: usize,
    },
    /// An RTCP header's version is not 2 (RFC 3550 §6.4.1, A.2).
    #[error("RTCP version {0}, expected 2")]
    RtcpVersion(u8),
    /// An RTCP length field points past the end of the compound packet (RFC 3550 §6.4.1).
    #[error("RTCP length {length_octets} octets exceeds the {available} octets left")]
    RtcpLength {
        /// The packet's length in octets, from its length field.
        length_octets: usize,
        /// Octets left in the compound packet.
        available: usize,
    },
    /// The first packet of a compound is not SR or RR (RFC 3550 §6.1, A.2).
    #[error("RTCP compound starts with packet type {0}, not SR (200) or RR (201)")]
    RtcpFirstNotReport(u8),
    /// The padding bit is set on a packet that is not the last of the compound, or its count
    /// is zero or too large (RFC 3550 §6.4.1, A.2).
    #[error("RTCP padding invalid")]
    RtcpPadding,
    /// A packet is shorter than its type's fixed part or than its count field says (RFC 3550
    /// §6.4.1, §6.4.2, §6.5, §6.6).
    #[error("RTCP packet type {packet_type} malformed: {reason}")]
    RtcpMalformed {
        /// The packet type (200 SR, 201 RR, 202 SDES, 203 BYE).
        packet_type: u8,
        /// What is wrong.
        reason: &'static str,
    },

    // ---- building RTCP packets ----
    /// More than 31 report blocks, SDES chunks or BYE sources (5-bit count, RFC 3550 §6.4).
    #[error("{0} items in one RTCP packet, at most 31 fit")]
    RtcpTooManyItems(usize),
    /// An SDES item or BYE reason longer than 255 octets (RFC 3550 §6.5, §6.6).
    #[error("RTCP text of {0} octets, at most 255 fit")]
    RtcpTextTooLong(usize),

    // ---- RFC 4733 events ----
    /// A telephone-event payload shorter than 4 octets (RFC 4733 §2.3).
    #[error("telephone-event payload of {0} octets, at least 4 needed")]
    EventTooShort(usize),
    /// A character that is not a DTMF digit (0-9, *, #, A-D) (RFC 4733 §3.2).
    #[error("{0:?} is not a DTMF digit (0-9, *, #, A-D)")]
    NotADigit(char),
    /// Digits were sent on a stream without a telephone-event payload type.
    #[error("no telephone-event payload type negotiated")]
    NoTelephoneEvent,

    // ---- the stream ----
    /// A stream configuration value is unusable (zero clock rate or ptime, PT out of range...).
    #[error("bad stream configuration: {0}")]
    Config(&'static str),

    // ---- WAV files ----
    /// Not a RIFF/WAVE file, or its chunk structure is broken.
    #[error("not a WAV file: {0}")]
    WavStructure(&'static str),
    /// A WAV encoding other than PCM (format tag 1, or 0xFFFE with the PCM subformat).
    #[error("unsupported WAV format tag {0:#06x}: only PCM is read")]
    WavFormat(u16),
    /// A WAV PCM sample size other than 8 or 16 bits.
    #[error("unsupported WAV sample size: {0} bits (8 and 16 are read)")]
    WavBits(u16),
    /// A WAV file with other than one or two channels.
    #[error("unsupported WAV channel count {0} (mono and stereo are read)")]
    WavChannels(u16),
    /// A WAV sample rate of zero.
    #[error("WAV sample rate is zero")]
    WavSampleRate,

    // ---- resampling ----
    /// A sample rate of zero given to the resampler.
    #[error("sample rate must be positive")]
    SampleRate,
}
