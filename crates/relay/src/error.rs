//! [`RelayError`]: what went wrong, and whose fault it is.

use std::net::SocketAddr;

/// Errors of the relay: the core, the NG protocol and the controller.
///
/// The Display text is what an NG answer carries as `error-reason`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RelayError {
    /// The SDP body given to offer or answer does not parse.
    #[error("malformed SDP: {0}")]
    Sdp(#[from] sdp::SdpError),
    /// The SRTP keys of the SDP cannot be bridged (a malformed or unusable `a=crypto`, an
    /// answer that matches none of the relay's lines): the proxy answers 488.
    #[error("SRTP: {0}")]
    Srtp(#[from] crate::srtp::SrtpFault),
    /// The WebRTC part of the SDP cannot be bridged (no ICE credentials, a malformed
    /// `a=fingerprint`, an answer that is not WebRTC): the proxy answers 488.
    #[error("WebRTC: {0}")]
    Webrtc(#[from] crate::webrtc::WebrtcFault),
    /// The port range has no free RTP/RTCP pair left.
    #[error("no free port pair left in the relay's port range")]
    PortsExhausted,
    /// Answer, query or delete named a call the relay does not know.
    #[error("unknown call-id")]
    UnknownCall,
    /// A tag names neither party of the call (both are already bound to other tags).
    #[error("from-tag or to-tag does not match the call")]
    UnknownTag,
    /// The NG message is not `cookie SP bencode-dictionary`.
    #[error("malformed NG message: {0}")]
    MalformedMessage(&'static str),
    /// The bencode data does not parse.
    #[error("malformed bencode at byte {offset}: {reason}")]
    Bencode {
        /// Where the parser stopped.
        offset: usize,
        /// What was wrong there.
        reason: &'static str,
    },
    /// A required key is missing from an NG command.
    #[error("missing key: {0}")]
    MissingKey(&'static str),
    /// A key has a value of the wrong type or form.
    #[error("invalid value of key: {0}")]
    InvalidKey(&'static str),
    /// The NG `command` is not one this relay serves.
    #[error("unknown command: {0}")]
    UnknownCommand(String),
    /// A remote relay node answered `result: error`.
    #[error("relay node {node} refused: {reason}")]
    Refused {
        /// The node that answered.
        node: SocketAddr,
        /// Its `error-reason`.
        reason: String,
    },
    /// No relay node answered in time (every node tried, or all marked down).
    #[error("no relay node answered")]
    NoNodeAnswered,
    /// A socket operation failed (binding the NG port, a media port, sending).
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The configuration is inconsistent (port range odd, inverted, too small).
    #[error("bad configuration: {0}")]
    Config(String),
}

impl RelayError {
    /// Whether the call cannot go on with this SDP (a proxy answers `488 Not Acceptable
    /// Here`): its SRTP keys cannot be bridged, or an `a=crypto` line is malformed (RFC 4568
    /// §7.5). Other faults (ports, nodes) leave the SDP to pass unchanged.
    pub fn refuses_call(&self) -> bool {
        match self {
            RelayError::Srtp(_) | RelayError::Webrtc(_) => true,
            RelayError::Sdp(sdp::SdpError::Parse {
                reason: sdp::LineError::BadAttribute { attribute, .. },
                ..
            }) => attribute == "crypto",
            RelayError::Refused { reason, .. } => {
                reason.starts_with("SRTP:")
                    || reason.starts_with("WebRTC:")
                    || reason.contains("bad a=crypto")
            }
            _ => false,
        }
    }
}
