//! Errors of the crate: what is wrong with a session description, on which line, and what
//! went wrong in an offer/answer exchange (RFC 3264).
//!
//! Parse errors carry the 1-based line number and a [`LineError`] saying why; the `Display`
//! text reads like `line 6: bad m= line: port is not a number 0-65535`.

/// Why one line of a session description (or a value handed to a setter) is malformed.
///
/// RFC 8866 §5 and §9 (grammar); the `Display` text is a short phrase without CR or LF.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LineError {
    /// An empty line between other lines (RFC 8866 §5: no blank lines).
    #[error("empty line")]
    EmptyLine,
    /// The line does not start with a lower-case type letter followed by `=`.
    #[error("not a `<letter>=<value>` line")]
    NoTypeLetter,
    /// A NUL or a CR inside a value (RFC 8866 §9 `byte-string`).
    #[error("control character (NUL or CR) in the value")]
    ControlCharacter,
    /// The description does not start with `v=` (RFC 8866 §5).
    #[error("missing v= line: a session description starts with v=0")]
    MissingVersion,
    /// `v=` is not `0` (RFC 8866 §5.1).
    #[error("unsupported SDP version (only v=0 exists)")]
    UnsupportedVersion,
    /// The second line is not `o=` (RFC 8866 §5: v, o, s in this order).
    #[error("missing o= line: o= must follow v=")]
    MissingOrigin,
    /// The third line is not `s=` (RFC 8866 §5).
    #[error("missing s= line: s= must follow o=")]
    MissingSessionName,
    /// A second `v=`, `o=` or `s=` line.
    #[error("second {0}= line")]
    Duplicate(char),
    /// No `t=` line before the first media section, or none at all (RFC 8866 §5.9).
    #[error("missing t= line in the session section")]
    MissingTiming,
    /// A session-level line type inside a media section (RFC 8866 §5: only i, c, b, k, a).
    #[error("{0}= is not allowed in a media section")]
    NotInMedia(char),
    /// A media section with a non-zero port has no `c=`, and neither has the session
    /// (RFC 8866 §5.7).
    #[error("media section has no c= line and the session has none")]
    MissingConnection,
    /// The `o=` line is malformed (RFC 8866 §5.2).
    #[error("bad o= line: {0}")]
    BadOrigin(&'static str),
    /// The `c=` line is malformed (RFC 8866 §5.7).
    #[error("bad c= line: {0}")]
    BadConnection(&'static str),
    /// The `b=` line is malformed (RFC 8866 §5.8).
    #[error("bad b= line: {0}")]
    BadBandwidth(&'static str),
    /// The `t=` line is malformed (RFC 8866 §5.9).
    #[error("bad t= line: {0}")]
    BadTiming(&'static str),
    /// The `m=` line is malformed (RFC 8866 §5.14).
    #[error("bad m= line: {0}")]
    BadMedia(&'static str),
    /// An `a=` line is malformed: a bad attribute name, or a bad value of an attribute this
    /// crate interprets (`rtpmap`, `fmtp`, `ptime`, `maxptime`, `rtcp`, `crypto`).
    #[error("bad a={attribute} attribute: {reason}")]
    BadAttribute {
        /// The attribute name (empty when the name itself is missing).
        attribute: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A text value (session name, user name, ...) that cannot be written as SDP.
    #[error("bad {field}: {reason}")]
    BadText {
        /// Which value.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl LineError {
    /// Shorthand for a [`LineError::BadAttribute`].
    pub(crate) fn attribute(attribute: &str, reason: &'static str) -> LineError {
        LineError::BadAttribute {
            attribute: attribute.to_owned(),
            reason,
        }
    }
}

/// Everything that can go wrong in this crate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SdpError {
    /// The body is not UTF-8 (RFC 8866 §5: SDP text is UTF-8). `line` is the line holding the
    /// first invalid byte.
    #[error("line {line}: SDP is not UTF-8")]
    NotUtf8 {
        /// 1-based line number.
        line: usize,
    },
    /// A received session description is malformed; the sender is at fault.
    #[error("line {line}: {reason}")]
    Parse {
        /// 1-based line number of the offending line.
        line: usize,
        /// What is wrong with it.
        reason: LineError,
    },
    /// A value handed to a builder or setter of this crate cannot be written as SDP; the
    /// caller is at fault.
    #[error("invalid value: {0}")]
    Invalid(LineError),
    /// The local codec list is unusable for an offer: empty, or two codecs on one payload
    /// type number; the caller is at fault.
    #[error("bad local codec list: {0}")]
    BadCodecList(&'static str),
    /// No offered stream can be accepted: no audio stream over RTP/AVP shares a codec with us
    /// (RFC 3264 §6.1), or the answer accepted none of ours. A UAS answers `488 Not
    /// Acceptable Here`.
    #[error("no common codec")]
    NoCommonCodec,
    /// The SRTP keys of an exchange do not fit (RFC 4568 §7.5): an answer that accepts an
    /// `RTP/SAVP` stream without an `a=crypto` line, or with one whose suite differs from
    /// the offered line of its tag. The call cannot go on: `488 Not Acceptable Here`.
    #[error("SRTP: {0}")]
    Crypto(&'static str),
    /// The answer has a different number of m= lines than the offer (RFC 3264 §6).
    #[error("answer has {answer} media sections, the offer had {offer}")]
    MediaCountMismatch {
        /// m= lines in the offer.
        offer: usize,
        /// m= lines in the answer.
        answer: usize,
    },
    /// The answer accepts a stream with a format the offer did not list for it (RFC 3264
    /// §6.1), or answers a stream with another media type or transport.
    #[error("answer media section {index} uses {what} {value:?}, not offered")]
    NotOffered {
        /// 0-based index of the media section.
        index: usize,
        /// "format", "media type" or "transport".
        what: &'static str,
        /// The value the answer used.
        value: String,
    },
}

impl SdpError {
    /// The SIP status code a UAS answers an INVITE carrying this error's SDP with: `488 Not
    /// Acceptable Here` when nothing in the offer is acceptable (RFC 3261 §13.3.1.1, RFC
    /// 3264 §6), `400 Bad Request` when the SDP is malformed, `500 Server Internal Error`
    /// when the fault is local ([`SdpError::Invalid`], [`SdpError::BadCodecList`]).
    pub fn status_code(&self) -> u16 {
        match self {
            SdpError::NotUtf8 { .. } | SdpError::Parse { .. } => 400,
            SdpError::Invalid(_) | SdpError::BadCodecList(_) => 500,
            SdpError::NoCommonCodec
            | SdpError::Crypto(_)
            | SdpError::MediaCountMismatch { .. }
            | SdpError::NotOffered { .. } => 488,
        }
    }

    /// The 1-based line number of a parse error, if this is one.
    pub fn line(&self) -> Option<usize> {
        match self {
            SdpError::NotUtf8 { line } | SdpError::Parse { line, .. } => Some(*line),
            _ => None,
        }
    }

    /// The reason of a parse error or of an invalid value, if this is one.
    pub fn line_error(&self) -> Option<&LineError> {
        match self {
            SdpError::Parse { reason, .. } | SdpError::Invalid(reason) => Some(reason),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_line_and_reason() {
        let e = SdpError::Parse {
            line: 6,
            reason: LineError::BadMedia("port is not a number 0-65535"),
        };
        assert_eq!(
            e.to_string(),
            "line 6: bad m= line: port is not a number 0-65535"
        );
        assert_eq!(e.line(), Some(6));
        assert_eq!(e.status_code(), 400);
    }

    #[test]
    fn status_codes_by_fault() {
        assert_eq!(SdpError::NoCommonCodec.status_code(), 488);
        assert_eq!(SdpError::BadCodecList("empty").status_code(), 500);
        assert_eq!(SdpError::NotUtf8 { line: 2 }.status_code(), 400);
        assert_eq!(SdpError::NoCommonCodec.line(), None);
    }
}
