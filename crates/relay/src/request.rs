//! What the signalling side asks of the relay: [`MediaRequest`] (an offer or an answer with
//! its SDP), its [`Flags`], and the [`Rewritten`] SDP it gets back. The same types serve the
//! in-process engine, the NG server and the NG client.

use std::net::IpAddr;

use crate::srtp::Profile;

/// Where a party's media address comes from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AddressSource {
    /// The SDP's `c=` address (NG flag `trust-address`; rtpengine's default since 3.8).
    #[default]
    Sdp,
    /// The source address of the SIP message, `received-from` (NG flag
    /// `SIP-source-address`), with the SDP's ports: for phones that write a private address.
    SipSource,
}

/// Options of an offer or answer; the defaults are rtpengine's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flags {
    /// Which address the party's media goes to.
    pub address: AddressSource,
    /// Overrides the address (NG `media-address`).
    pub media_address: Option<IpAddr>,
    /// The relay address to write into the rewritten SDP instead of the configured one:
    /// the in-process relay of a server with several addresses advertises the one facing
    /// the party that reads the SDP.
    pub advertise: Option<IpAddr>,
    /// Latch to the source of the party's packets (NG `symmetric`, the default); `false` is
    /// `asymmetric`: always send to the announced address.
    pub symmetric: bool,
    /// Remove ICE attributes (NG `ICE=remove`; the default here, since the relay is the only
    /// candidate either party can use).
    pub remove_ice: bool,
    /// Write the relay's address into `o=` too (NG `replace: origin`).
    pub replace_origin: bool,
    /// The RTP profile toward the party that receives the rewritten SDP (NG
    /// `transport-protocol`): `None` passes the streams' profiles and `a=crypto` lines as
    /// they are; `Some` makes the relay bridge SRTP and RTP per leg (see [`crate::srtp`]).
    /// In an answer, `RTP/SAVP` upgrades an offerer that offered best-effort SRTP.
    pub transport: Option<Profile>,
    /// No SDES keys toward the receiver (NG flag `SDES-off`): plain RTP there.
    pub sdes_off: bool,
    /// The receiver of an offer speaks WebRTC (NG `transport-protocol=UDP/TLS/RTP/SAVPF`,
    /// rtpengine's `ICE=force`, `DTLS=passive`, `rtcp-mux-offer`): the relay terminates
    /// ICE-lite and DTLS-SRTP toward it ([`crate::webrtc`]). An offerer's own WebRTC is
    /// read from its SDP.
    pub webrtc: bool,
}

impl Default for Flags {
    fn default() -> Flags {
        Flags {
            address: AddressSource::Sdp,
            media_address: None,
            advertise: None,
            symmetric: true,
            remove_ice: true,
            replace_origin: false,
            transport: None,
            sdes_off: false,
            webrtc: false,
        }
    }
}

/// An offer or an answer: the SDP of one party, to be rewritten for the other.
///
/// In an offer the SDP belongs to the `from_tag` party; in an answer to the `to_tag` party
/// (rtpengine's convention: the tags are those of the SIP message carrying the SDP's
/// dialog, From of the request that made the offer).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MediaRequest {
    /// The SIP Call-ID.
    pub call_id: String,
    /// The From tag of the offering request.
    pub from_tag: String,
    /// The To tag (required in an answer).
    pub to_tag: Option<String>,
    /// The SDP body.
    pub sdp: Vec<u8>,
    /// The source address of the SIP message (NG `received-from`).
    pub received_from: Option<IpAddr>,
    /// Options.
    pub flags: Flags,
}

/// The rewritten SDP, to pass on in place of the original.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewritten {
    /// The SDP body pointing at the relay.
    pub sdp: Vec<u8>,
    /// Options that were ignored (an NG answer carries them as `warning`).
    pub warnings: Vec<String>,
}
