//! Errors of the media parts. Each variant says who is at fault: the operator (a prompt file
//! or directory), the caller of the library (an unknown prompt name, an impossible setting)
//! or the peer (a SIP INFO body), and carries what is needed to name the problem in a log.

use std::path::PathBuf;

/// What is wrong with the content of a WAV file (the operator's prompt, or bytes given to
/// [`crate::wav::decode`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WavError {
    /// Not a RIFF/WAVE file, or its structure is broken (the reader's words).
    #[error("not a readable WAV file: {0}")]
    Format(String),
    /// A WAV file with an encoding that is not linear PCM or IEEE float (µ-law, ADPCM, ...),
    /// or a bit depth the reader does not support.
    #[error("unsupported WAV encoding: {0}; use linear PCM (8-32 bit) or 32-bit float")]
    Unsupported(String),
    /// The `fmt ` chunk's channels or sample rate are out of the accepted ranges
    /// ([`crate::wav::MAX_CHANNELS`], [`crate::wav::SAMPLE_RATES`]).
    #[error("WAV header says {channels} channels at {sample_rate} Hz; accepted: 1-64 channels at 1000-384000 Hz")]
    Header {
        /// Channels in the header.
        channels: u16,
        /// Sample rate in the header.
        sample_rate: u32,
    },
    /// The data chunk ends before the length its header announces.
    #[error("data chunk truncated after {frames} sample frames")]
    Truncated {
        /// Whole sample frames read before the end.
        frames: usize,
    },
    /// No samples at all.
    #[error("no audio in the file")]
    Empty,
    /// Longer than a prompt may be ([`crate::wav::MAX_SECONDS`]).
    #[error("longer than the {max} s a prompt may last")]
    TooLong {
        /// The limit, in seconds.
        max: u64,
    },
}

/// What went wrong in the media parts.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A prompt's WAV content is unusable (the operator's file, or a built-in one).
    #[error("prompt {file}: {problem}")]
    Wav {
        /// The file (or the built-in prompt's name).
        file: String,
        /// What is wrong with it.
        problem: WavError,
    },
    /// A prompt file could not be read.
    #[error("prompt {}: cannot read: {source}", file.display())]
    Read {
        /// The file.
        file: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The prompts directory could not be listed.
    #[error("prompts directory {}: {source}", dir.display())]
    Directory {
        /// The directory.
        dir: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// No prompt of that name, neither in the directory nor built in (the caller's
    /// configuration names one that does not exist).
    #[error("no prompt named {0:?} in the prompts directory or the built-in set")]
    UnknownPrompt(String),
    /// A setting is out of range (the caller's configuration).
    #[error("invalid setting: {0}")]
    Setting(&'static str),
    /// A SIP INFO body that should carry a DTMF digit does not (the peer's request).
    #[error("INFO body ({content_type}): {reason}")]
    DtmfInfo {
        /// The body's Content-Type.
        content_type: String,
        /// What is wrong.
        reason: &'static str,
    },
}

/// The reason of [`Error::DtmfInfo`] for a Content-Type that is not a DTMF one (415).
pub(crate) const NOT_DTMF: &str = "not a DTMF body (application/dtmf-relay or application/dtmf)";

impl Error {
    /// The SIP status code of the answer to a request that caused this error, where a reply
    /// follows: 415 for an INFO whose Content-Type is not a DTMF one (RFC 3261 §21.4.13),
    /// 400 for a malformed DTMF body.
    pub fn status_code(&self) -> Option<u16> {
        match self {
            Error::DtmfInfo { reason, .. } if *reason == NOT_DTMF => Some(415),
            Error::DtmfInfo { .. } => Some(400),
            _ => None,
        }
    }
}
