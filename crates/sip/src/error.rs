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
    /// The start line or header section is not UTF-8 (RFC 3261 §7.3.1, TEXT-UTF8).
    #[error("Header section is not UTF-8")]
    NotUtf8,
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
