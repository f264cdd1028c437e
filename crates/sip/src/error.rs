//! Parse errors. Every error says what is wrong in words fit for the reason phrase of the
//! `400 Bad Request` (or `505`) a server answers with (RFC 3261 §21.4.1, §8.2.2).

use crate::header_name::HeaderName;
use crate::uri::UriError;

/// Why a message, or one of its headers, is malformed.
///
/// The `Display` text is a short phrase without CR or LF, used as the reason phrase of the
/// error response; [`ParseError::status_code`] gives the code to answer with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// Nothing but white space.
    #[error("Empty message")]
    Empty,
    /// No empty line ends the header section.
    #[error("Truncated message: no end of headers")]
    Truncated,
    /// The message exceeds the configured size limit.
    #[error("Message too large")]
    TooLarge,
    /// The start line or header section is not UTF-8 (RFC 3261 §7.3.1, TEXT-UTF8), where
    /// is not known (the parser reports [`ParseError::NotUtf8At`]).
    #[error("Header section is not UTF-8")]
    NotUtf8,
    /// The start line or a header holds bytes that are not UTF-8. RFC 3261 §25.1 allows
    /// non-ASCII octets only as UTF-8 (`UTF8-NONASCII` in `TEXT-UTF8`, quoted strings,
    /// comments and reason phrases; none in tokens or URIs), so such a request is malformed
    /// and answered with 400 naming the part, the first bad byte and its offset in the
    /// message.
    #[error("{part} is not UTF-8 (byte 0x{byte:02X} at offset {offset})")]
    NotUtf8At {
        /// `Request line`, `Status line` or `Header NAME` (the name as written).
        part: String,
        /// The first byte that does not continue valid UTF-8.
        byte: u8,
        /// Its offset from the start of the message buffer.
        offset: u32,
    },
    /// The request line or status line is malformed (RFC 3261 §7.1, §7.2).
    #[error("Bad start line: {0}")]
    StartLine(&'static str),
    /// The Request-URI is malformed (RFC 3261 §19.1).
    #[error("Bad Request-URI: {0}")]
    RequestUri(UriError),
    /// The SIP version is not 2.0 (RFC 3261 §8.2.2 → 505).
    #[error("Version Not Supported")]
    Version,
    /// A header line has no colon or a name that is not a token (RFC 3261 §7.3.1).
    #[error("Bad header line: {0}")]
    HeaderLine(&'static str),
    /// A header line of a received message has no colon or a name that is not a token
    /// (RFC 3261 §7.3.1); `offset` is where the line starts in the message buffer.
    #[error("Bad header line at offset {offset}: {reason}")]
    HeaderLineAt {
        /// What is wrong with the line.
        reason: &'static str,
        /// Where the line starts.
        offset: u32,
    },
    /// A header's value is malformed.
    #[error("Bad {name} header: {reason}")]
    Header {
        /// Which header.
        name: HeaderName,
        /// What is wrong with it.
        reason: String,
    },
    /// Content-Length says more octets than the datagram carries (RFC 3261 §18.3).
    #[error("Content-Length larger than the message body")]
    BodyTruncated,
}

impl ParseError {
    /// The status code a server answers a malformed request with: `505 Version Not
    /// Supported` for a foreign SIP version, `513 Message Too Large` for oversize, `400 Bad
    /// Request` for everything else (RFC 3261 §8.2.2, §21.4.1). Malformed responses are
    /// discarded, not answered (§16.7 step 1 / §18.1.2).
    pub fn status_code(&self) -> u16 {
        match self {
            ParseError::Version => 505,
            ParseError::TooLarge => 513,
            _ => 400,
        }
    }

    /// Shorthand for a [`ParseError::Header`].
    pub fn header(name: HeaderName, reason: impl Into<String>) -> ParseError {
        ParseError::Header {
            name,
            reason: reason.into(),
        }
    }
}
