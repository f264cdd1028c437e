//! The WebRTC media gateway: a browser's leg of a call speaks WebRTC — ICE-lite (RFC 8445
//! §2.5) on the relay's address, DTLS-SRTP (RFC 5763, RFC 5764), `rtcp-mux` (RFC 5761),
//! the one audio stream BUNDLEd (RFC 8843), `UDP/TLS/RTP/SAVPF` — and the other leg plain
//! RTP/AVP (a SIP phone), or WebRTC too. G.711 is common to browsers and phones: the
//! payload passes untouched, only the transport is terminated. rtpengine's `ICE=force`,
//! `DTLS=passive`, `rtcp-mux-offer`/`rtcp-mux-demux` and `SDES-off` are the model.
//!
//! ## What makes a stream a gateway stream
//!
//! Decided per offer from the SDP and [`Flags::webrtc`](crate::Flags::webrtc) (NG
//! `transport-protocol=UDP/TLS/RTP/SAVPF`), for the first audio stream (other streams are
//! refused with port 0):
//!
//! - the offerer's leg is WebRTC when its `m=` line is `UDP/TLS/RTP/SAVP(F)` (its ICE
//!   credentials, fingerprint, `a=setup` and SSRCs are read: [`sdp::remote_params`]);
//! - the receiver's leg is WebRTC when the flags say so (the proxy sets them for a party
//!   registered over WebSocket) or it already was (a re-offer);
//! - the SDP passed on is rewritten for what the receiver speaks ([`sdp::to_webrtc`],
//!   [`sdp::to_plain`]); the answer is read and rewritten back the same way. A party
//!   offered WebRTC must answer `UDP/TLS/RTP/SAVPF`.
//!
//! Each WebRTC leg is a [`WebrtcLeg`] (str0m in RTP mode) on that side's relay port. The
//! engine hands it every datagram arriving there and sends what it gives out; the
//! browser's RTP comes out plain for the other side, and the other side's RTP goes in to be
//! protected. RTCP is terminated per leg: str0m reports to the browser, the phone's RTCP is
//! read for the quality figures and not passed on.
//!
//! ## Bad input
//!
//! An SDP without ICE credentials, with a malformed `a=fingerprint` or one of a hash other
//! than SHA-256, or an `a=setup` that cannot start DTLS, is refused ([`WebrtcFault`], a
//! [`RelayError::Webrtc`](crate::RelayError::Webrtc): 488 in the proxy). A fingerprint that
//! does not match the certificate the browser presents, or any other DTLS failure, fails
//! the leg: the engine logs one line with the call's Call-ID and the reason and removes
//! the call (the proxy then ends it as a call whose media is gone). Other calls are not
//! touched.
//!
//! ## Layout
//!
//! | module | concept |
//! |---|---|
//! | [`sdp`] | reading a WebRTC party's SDP, rewriting a stream for each side |
//! | [`leg`] | [`WebrtcLeg`]: one browser's peer connection, sans-IO |
//! | [`crypto`] | the str0m crypto provider (pure Rust DTLS, SRTP; certificate) |

pub mod crypto;
pub mod leg;
pub mod sdp;

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use str0m::config::DtlsCert;

pub use leg::{LegOut, Payload, WebrtcDrops, WebrtcLeg};
pub use sdp::{RemoteParams, WebrtcFault};

use ::sdp::{MediaDescription, SessionDescription};

use crate::request::Flags;

/// The gateway state of a stream: a WebRTC leg per side, or none (plain RTP).
#[derive(Debug, Default)]
pub struct WebrtcStream {
    /// By side (0 the caller).
    pub legs: [Option<Box<WebrtcLeg>>; 2],
}

impl WebrtcStream {
    /// Whether side `side` speaks WebRTC.
    pub fn is_webrtc(&self, side: usize) -> bool {
        self.legs.get(side).is_some_and(Option::is_some)
    }
}

/// What an offer or answer does to the gateway's stream, decided before anything changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebrtcPlan {
    /// The `m=` line carried (the first audio one).
    pub index: usize,
    /// Per side: what this SDP says of a WebRTC party (the owner's side only).
    pub remote: [Option<RemoteParams>; 2],
    /// Per side: `Some(true)` the side must be WebRTC (a leg made if missing), `Some(false)`
    /// plain (a leg dropped), `None` as it is.
    pub want: [Option<bool>; 2],
    /// The payload types of the stream, for legs made now.
    pub payloads: Vec<Payload>,
    /// The `a=mid` of legs made now.
    pub mid: String,
    /// The side that reads the rewritten SDP.
    pub receiver: usize,
    /// An offer: the relay writes `a=setup:actpass` (RFC 5763 §5), the role following the
    /// answer.
    pub offer: bool,
}

/// Decides what an offer (`is_offer`) or answer in the SDP of side `owner` does to the
/// gateway; `None` when no leg is or becomes WebRTC (the stream is the SRTP module's).
pub fn plan(
    session: &SessionDescription,
    old: Option<&WebrtcStream>,
    owner: usize,
    is_offer: bool,
    flags: &Flags,
) -> Result<Option<WebrtcPlan>, WebrtcFault> {
    let Some(index) = sdp::audio_stream(session) else {
        return Ok(None);
    };
    let Some(media) = session.media().get(index) else {
        return Ok(None);
    };
    let other = 1 - owner;
    let has = |side: usize| old.is_some_and(|w| w.is_webrtc(side));
    let owner_webrtc = sdp::is_webrtc(media);
    let mut remote = [None, None];
    let mut want = [None, None];
    if is_offer {
        let receiver_webrtc = flags.webrtc || has(other);
        if !owner_webrtc && !receiver_webrtc && !has(owner) {
            return Ok(None);
        }
        if owner_webrtc {
            remote[owner] = Some(sdp::remote_params(session, media, index)?);
        }
        want[owner] = Some(owner_webrtc);
        want[other] = Some(receiver_webrtc);
    } else {
        if old.is_none_or(|w| !w.is_webrtc(0) && !w.is_webrtc(1)) {
            return Ok(None);
        }
        if has(owner) {
            if !owner_webrtc {
                return Err(WebrtcFault::NotWebrtc {
                    index,
                    proto: media.proto().to_owned(),
                });
            }
            remote[owner] = Some(sdp::remote_params(session, media, index)?);
        }
    }
    let mid = remote[owner]
        .as_ref()
        .and_then(|r| r.mid.clone())
        .unwrap_or_else(|| "0".to_owned());
    Ok(Some(WebrtcPlan {
        index,
        remote,
        want,
        payloads: payloads(media),
        mid,
        receiver: other,
        offer: is_offer,
    }))
}

impl WebrtcPlan {
    /// Makes or drops legs as planned (leg of side `s` on `address`:`ports[s]`) and gives
    /// each the party's parameters this SDP carried.
    pub fn apply(
        &self,
        state: &mut Option<WebrtcStream>,
        ports: [u16; 2],
        address: IpAddr,
        now: Instant,
        cert: &DtlsCert,
    ) -> Result<(), WebrtcFault> {
        let stream = state.get_or_insert_with(WebrtcStream::default);
        for side in 0..2 {
            let (Some(slot), Some(port)) = (stream.legs.get_mut(side), ports.get(side)) else {
                continue;
            };
            match self.want.get(side).copied().flatten() {
                Some(true) if slot.is_none() => {
                    let local = SocketAddr::new(address, *port);
                    let leg = WebrtcLeg::new(now, local, cert, &self.mid, &self.payloads)?;
                    *slot = Some(Box::new(leg));
                }
                Some(false) => *slot = None,
                _ => {}
            }
            if let (Some(Some(remote)), Some(leg)) = (self.remote.get(side), slot.as_mut()) {
                leg.set_remote(now, remote)?;
            }
        }
        if !stream.is_webrtc(0) && !stream.is_webrtc(1) {
            *state = None;
        }
        Ok(())
    }

    /// Rewrites the SDP passed on for what the receiver speaks; `port` is the relay port
    /// the receiver sends to, `address` the relay address it is told.
    pub fn edit(
        &self,
        state: Option<&WebrtcStream>,
        session: &mut SessionDescription,
        address: IpAddr,
        port: u16,
    ) -> Result<(), ::sdp::SdpError> {
        let leg = state
            .and_then(|s| s.legs.get(self.receiver))
            .and_then(Option::as_ref);
        match leg {
            Some(leg) => {
                let (ufrag, pwd) = leg.credentials();
                let local = sdp::LocalParams {
                    ufrag: ufrag.to_owned(),
                    pwd: pwd.to_owned(),
                    fingerprint: leg.fingerprint().to_owned(),
                    active: if self.offer { None } else { leg.active() },
                    mid: leg.sdp_mid().to_owned(),
                    ssrc: leg.ssrc(),
                    address,
                    port,
                };
                sdp::to_webrtc(session, self.index, &local)
            }
            None => sdp::to_plain(session, self.index),
        }
    }
}

/// Whether `sdp` offers WebRTC: its first audio stream in use is `UDP/TLS/RTP/SAVP(F)`
/// (what the proxy reads to know a browser's offer; a body that does not parse is not).
pub fn offered(sdp: &[u8]) -> bool {
    let Ok(session) = SessionDescription::from_bytes(sdp) else {
        return false;
    };
    sdp::audio_stream(&session)
        .and_then(|i| session.media().get(i))
        .is_some_and(sdp::is_webrtc)
}

/// The payload types of `media`: its `a=rtpmap` lines, else the static table of RFC 3551
/// §6 for the audio types a browser or phone uses.
pub fn payloads(media: &MediaDescription) -> Vec<Payload> {
    media
        .payload_types()
        .filter_map(|pt| {
            if let Some(map) = media.rtpmap(pt) {
                return Some(Payload {
                    pt,
                    name: map.encoding_name.to_owned(),
                    clock_rate: map.clock_rate,
                    channels: map.channels.and_then(|c| u8::try_from(c).ok()),
                });
            }
            let name = match pt {
                0 => "PCMU",
                3 => "GSM",
                8 => "PCMA",
                9 => "G722",
                13 => "CN",
                18 => "G729",
                _ => return None,
            };
            Some(Payload {
                pt,
                name: name.to_owned(),
                clock_rate: 8000,
                channels: None,
            })
        })
        .collect()
}

/// The relay's DTLS certificate, made once per engine (RFC 5763 §5 lets one certificate
/// serve every association).
#[derive(Debug, Default)]
pub struct Certificate(Option<DtlsCert>);

impl Certificate {
    /// The certificate, made on first use.
    pub fn get(&mut self) -> Result<&DtlsCert, WebrtcFault> {
        if self.0.is_none() {
            self.0 = crypto::certificate();
        }
        self.0
            .as_ref()
            .ok_or_else(|| WebrtcFault::Local("no DTLS certificate could be made".into()))
    }
}
