//! [`StunError`]: why bytes are not an acceptable STUN message, or why an exchange failed.

/// What is wrong with a STUN message. The messages name the fault and the RFC 5389 rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StunError {
    /// Shorter than the 20-byte header (§6).
    #[error("shorter than a STUN header ({0} bytes, need 20)")]
    TooShort(usize),
    /// The first two bits are not zero or the magic cookie is missing (§6).
    #[error("not a STUN message (no magic cookie)")]
    NotStun,
    /// The length field is not a multiple of 4 (§6: attributes are padded).
    #[error("message length {0} is not a multiple of 4")]
    UnalignedLength(usize),
    /// The length field does not match the datagram (§6: one message per datagram).
    #[error("message length {declared} does not match the {actual} bytes after the header")]
    LengthMismatch {
        /// From the header.
        declared: usize,
        /// What follows the header.
        actual: usize,
    },
    /// An attribute runs past the end of the message (§15).
    #[error("attribute 0x{0:04x} runs past the end of the message")]
    AttributeTruncated(u16),
    /// FINGERPRINT is not the last attribute (§15.5).
    #[error("FINGERPRINT is not the last attribute")]
    FingerprintNotLast,
    /// FINGERPRINT does not match the message (§15.5): damaged, or not STUN at all.
    #[error("FINGERPRINT does not match the message")]
    BadFingerprint,
    /// An attribute value has the wrong size or content for its type.
    #[error("malformed attribute 0x{attribute:04x}: {reason}")]
    BadAttribute {
        /// The attribute type.
        attribute: u16,
        /// What is wrong.
        reason: &'static str,
    },
    /// The server answered with an error response (§15.6).
    #[error("the STUN server answered {code} {reason}")]
    ErrorResponse {
        /// The error code (300..699).
        code: u16,
        /// Its reason phrase.
        reason: String,
    },
    /// A well-formed message of the wrong kind where a Binding response was expected.
    #[error("not a Binding response: {0}")]
    UnexpectedMessage(&'static str),
    /// A Binding success response without (XOR-)MAPPED-ADDRESS (§7.3.3).
    #[error("the Binding response has no mapped address")]
    NoMappedAddress,
}
