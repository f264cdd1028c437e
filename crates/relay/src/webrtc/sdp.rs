//! The SDP of a WebRTC leg: reading what a browser's offer or answer says of its audio
//! stream ([`remote_params`]), and rewriting a stream for each side — toward a WebRTC
//! party ([`to_webrtc`]: `UDP/TLS/RTP/SAVPF`, ICE-lite with the relay's one host
//! candidate, DTLS fingerprint and role, `rtcp-mux`, BUNDLE of the one stream), toward a
//! SIP phone ([`to_plain`]: `RTP/AVP` with everything WebRTC removed). rtpengine's flags
//! `ICE=force`, `DTLS=passive`, `rtcp-mux-offer`/`rtcp-mux-demux` and `SDES-off` are the
//! model.
//!
//! | attribute | spec |
//! |---|---|
//! | `a=ice-lite`, `a=ice-ufrag`, `a=ice-pwd`, `a=candidate`, `a=end-of-candidates` | RFC 8839 §5.1–§5.4, RFC 8445 §2.5 |
//! | `a=fingerprint` | RFC 8122 §5, RFC 5763 §5 |
//! | `a=setup` | RFC 4145 §4, RFC 5763 §5 (`actpass` in the relay's offers; in answers `passive` unless the party is) |
//! | `a=rtcp-mux` | RFC 5761 §5.1.1 |
//! | `a=group:BUNDLE`, `a=mid` | RFC 8843 §7, RFC 5888 §4 |
//! | `a=ssrc` | RFC 5576 §4.1 |

use std::net::IpAddr;

use sdp::{MediaDescription, SessionDescription};

use crate::rewrite::ICE_ATTRIBUTES;

/// The `m=` proto of DTLS-SRTP with feedback (RFC 5764 §8, RFC 8827 §6.5).
pub const WEBRTC_PROTO: &str = "UDP/TLS/RTP/SAVPF";

/// Media-level attributes that only mean something to a WebRTC party, removed toward a
/// SIP phone (with [`ICE_ATTRIBUTES`]).
pub const WEBRTC_MEDIA_ATTRIBUTES: [&str; 16] = [
    "fingerprint",
    "setup",
    "tls-id",
    "mid",
    "rtcp-mux",
    "rtcp-mux-only",
    "rtcp-rsize",
    "rtcp-fb",
    "extmap",
    "extmap-allow-mixed",
    "msid",
    "ssrc",
    "ssrc-group",
    "rid",
    "simulcast",
    "crypto",
];

/// Session-level attributes removed toward a SIP phone.
pub const WEBRTC_SESSION_ATTRIBUTES: [&str; 6] = [
    "group",
    "msid-semantic",
    "fingerprint",
    "setup",
    "extmap-allow-mixed",
    "tls-id",
];

/// Receive streams announced by a party that the relay expects at most (`a=ssrc`).
pub const MAX_REMOTE_SSRCS: usize = 4;

/// What is wrong with the WebRTC part of an offer or answer. The Display text is the
/// proxy's log line (it answers 488) and an NG `error-reason`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WebrtcFault {
    /// No `a=ice-ufrag`/`a=ice-pwd` for the stream (RFC 8839 §5.4).
    #[error("m= line {index}: no a=ice-ufrag and a=ice-pwd")]
    NoIceCredentials {
        /// 0-based index of the `m=` line.
        index: usize,
    },
    /// No `a=fingerprint` (RFC 8122 §5).
    #[error("m= line {index}: no a=fingerprint")]
    NoFingerprint {
        /// 0-based index of the `m=` line.
        index: usize,
    },
    /// An `a=fingerprint` that does not parse, or of a hash the relay does not check.
    #[error("m= line {index}: bad a=fingerprint ({why})")]
    BadFingerprint {
        /// 0-based index of the `m=` line.
        index: usize,
        /// What is wrong.
        why: String,
    },
    /// An `a=setup` other than `actpass`, `active` or `passive` (RFC 4145 §4).
    #[error("m= line {index}: a=setup:{value} cannot start DTLS")]
    BadSetup {
        /// 0-based index of the `m=` line.
        index: usize,
        /// The value.
        value: String,
    },
    /// A party offered WebRTC by the relay answered something else.
    #[error("m= line {index}: the answer to a WebRTC offer is {proto}, not UDP/TLS/RTP/SAVPF")]
    NotWebrtc {
        /// 0-based index of the `m=` line.
        index: usize,
        /// The answered proto.
        proto: String,
    },
    /// The relay could not set up its side (certificate, DTLS).
    #[error("WebRTC leg: {0}")]
    Local(String),
}

/// The DTLS role of a party, from its `a=setup` (RFC 4145 §4, RFC 5763 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setup {
    /// `actpass`: either; the relay takes `passive` (rtpengine's `DTLS=passive`).
    ActPass,
    /// `active`: the party connects; the relay is the DTLS server.
    Active,
    /// `passive`: the party waits; the relay connects.
    Passive,
}

impl Setup {
    /// Whether the relay is the DTLS client toward a party that wrote this.
    pub fn relay_active(self) -> bool {
        self == Setup::Passive
    }
}

/// What a WebRTC party's SDP says of its audio stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteParams {
    /// `a=ice-ufrag`.
    pub ufrag: String,
    /// `a=ice-pwd`.
    pub pwd: String,
    /// The hash function of `a=fingerprint`, lower case (`sha-256`).
    pub hash: String,
    /// The certificate digest.
    pub fingerprint: Vec<u8>,
    /// `a=setup` (`actpass` when absent, RFC 5763 §5 offers).
    pub setup: Setup,
    /// `a=mid`, when given.
    pub mid: Option<String>,
    /// The party's sending SSRCs (`a=ssrc`), at most [`MAX_REMOTE_SSRCS`].
    pub ssrcs: Vec<u32>,
}

/// Whether `media` is DTLS-SRTP: `UDP/TLS/RTP/SAVP(F)` (RFC 5764 §8).
pub fn is_webrtc(media: &MediaDescription) -> bool {
    media
        .proto()
        .to_ascii_uppercase()
        .starts_with("UDP/TLS/RTP/SAVP")
}

/// The attribute `name` of the stream, else of the session (RFC 8839 §5.4, RFC 8122 §5).
fn attribute<'a>(
    session: &'a SessionDescription,
    media: &'a MediaDescription,
    name: &str,
) -> Option<&'a str> {
    media
        .attribute(name)
        .or_else(|| session.attribute(name))
        .and_then(|a| a.value)
        .map(str::trim)
}

/// Reads the ICE credentials, fingerprint, DTLS role, mid and SSRCs of stream `index`.
pub fn remote_params(
    session: &SessionDescription,
    media: &MediaDescription,
    index: usize,
) -> Result<RemoteParams, WebrtcFault> {
    let (Some(ufrag), Some(pwd)) = (
        attribute(session, media, "ice-ufrag"),
        attribute(session, media, "ice-pwd"),
    ) else {
        return Err(WebrtcFault::NoIceCredentials { index });
    };
    if ufrag.is_empty() || pwd.is_empty() {
        return Err(WebrtcFault::NoIceCredentials { index });
    }
    let fingerprint =
        attribute(session, media, "fingerprint").ok_or(WebrtcFault::NoFingerprint { index })?;
    let (hash, fingerprint) =
        parse_fingerprint(fingerprint).map_err(|why| WebrtcFault::BadFingerprint { index, why })?;
    let setup = match attribute(session, media, "setup") {
        None => Setup::ActPass,
        Some(v) if v.eq_ignore_ascii_case("actpass") => Setup::ActPass,
        Some(v) if v.eq_ignore_ascii_case("active") => Setup::Active,
        Some(v) if v.eq_ignore_ascii_case("passive") => Setup::Passive,
        Some(v) => {
            return Err(WebrtcFault::BadSetup {
                index,
                value: v.to_owned(),
            })
        }
    };
    let mut ssrcs = Vec::new();
    for a in media.attributes().filter(|a| a.name == "ssrc") {
        let ssrc = a
            .value
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u32>().ok());
        if let Some(ssrc) = ssrc {
            if !ssrcs.contains(&ssrc) && ssrcs.len() < MAX_REMOTE_SSRCS {
                ssrcs.push(ssrc);
            }
        }
    }
    Ok(RemoteParams {
        ufrag: ufrag.to_owned(),
        pwd: pwd.to_owned(),
        hash,
        fingerprint,
        setup,
        mid: media
            .attribute("mid")
            .and_then(|a| a.value)
            .map(str::to_owned),
        ssrcs,
    })
}

/// `sha-256 AB:CD:...` (RFC 8122 §5): the hash in lower case and the digest. Only SHA-256
/// is checked (what browsers send and the relay computes).
pub fn parse_fingerprint(value: &str) -> Result<(String, Vec<u8>), String> {
    let (hash, hex) = value
        .trim()
        .split_once(' ')
        .ok_or_else(|| "no hash function".to_owned())?;
    let hash = hash.to_ascii_lowercase();
    if hash != "sha-256" {
        return Err(format!("hash function {hash} (only sha-256 is checked)"));
    }
    let bytes = hex
        .trim()
        .split(':')
        .map(|b| {
            (b.len() == 2)
                .then(|| u8::from_str_radix(b, 16).ok())
                .flatten()
                .ok_or_else(|| format!("{b:?} is not a hex byte"))
        })
        .collect::<Result<Vec<u8>, String>>()?;
    if bytes.len() != 32 {
        return Err(format!("{} bytes, a SHA-256 digest has 32", bytes.len()));
    }
    Ok((hash, bytes))
}

/// What the relay writes toward a WebRTC party for its leg.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalParams {
    /// The relay's `a=ice-ufrag` of this leg.
    pub ufrag: String,
    /// The relay's `a=ice-pwd`.
    pub pwd: String,
    /// The relay's certificate fingerprint, as `a=fingerprint` writes it.
    pub fingerprint: String,
    /// The relay's DTLS role once decided: `Some(false)` passive (toward an `actpass` or
    /// `active` party: rtpengine's `DTLS=passive`), `Some(true)` active (toward a passive
    /// one); `None` in an offer, written `actpass` (RFC 5763 §5: an offerer MUST), the
    /// role then following the answer.
    pub active: Option<bool>,
    /// The `a=mid` of the stream (the party's own in an answer).
    pub mid: String,
    /// The SSRC the relay sends with (`a=ssrc`).
    pub ssrc: u32,
    /// The relay's address and port: the one host candidate.
    pub address: IpAddr,
    /// The relay port of this leg (RTP and RTCP multiplexed).
    pub port: u16,
}

/// The host candidate of the relay (RFC 8839 §5.1; priority by RFC 8445 §5.1.2.1 with
/// type preference 126, local preference 65535, component 1).
pub fn candidate(address: IpAddr, port: u16) -> String {
    format!("1 1 UDP 2130706431 {address} {port} typ host")
}

/// Rewrites stream `index` of `sdp` for a WebRTC party (after [`crate::rewrite::rewrite`]
/// put the relay's address and port in): the proto, ICE-lite, the fingerprint and role,
/// `rtcp-mux` (no `a=rtcp`), the mid bundled alone, the relay's SSRC; every other stream is
/// refused (port 0): the gateway carries the one audio stream.
pub fn to_webrtc(
    sdp: &mut SessionDescription,
    index: usize,
    local: &LocalParams,
) -> Result<(), sdp::SdpError> {
    // The direction stated in the stream itself (RFC 8866 §6.7: sendrecv when none is
    // given, or the session's): WebRTC parsers ask for one per stream (RFC 8829 §5.3.1).
    let direction = sdp.media().get(index).map(|m| sdp.media_direction(m));
    for name in WEBRTC_SESSION_ATTRIBUTES
        .iter()
        .chain(ICE_ATTRIBUTES.iter())
    {
        sdp.remove_attributes(name);
    }
    sdp.add_attribute("ice-lite", None)?;
    sdp.add_attribute("group", Some(&format!("BUNDLE {}", local.mid)))?;
    for (i, media) in sdp.media_mut().iter_mut().enumerate() {
        if i != index {
            media.set_port(0);
            continue;
        }
        media.set_proto(WEBRTC_PROTO)?;
        for name in WEBRTC_MEDIA_ATTRIBUTES.iter().chain(ICE_ATTRIBUTES.iter()) {
            media.remove_attributes(name);
        }
        media.remove_attributes("rtcp");
        if let Some(direction) = direction {
            media.set_direction(direction);
        }
        media.add_attribute("mid", Some(&local.mid))?;
        media.add_attribute("ice-ufrag", Some(&local.ufrag))?;
        media.add_attribute("ice-pwd", Some(&local.pwd))?;
        media.add_attribute("fingerprint", Some(&local.fingerprint))?;
        let setup = match local.active {
            None => "actpass",
            Some(true) => "active",
            Some(false) => "passive",
        };
        media.add_attribute("setup", Some(setup))?;
        media.add_attribute("rtcp-mux", None)?;
        media.add_attribute("candidate", Some(&candidate(local.address, local.port)))?;
        media.add_attribute("end-of-candidates", None)?;
        media.add_attribute("ssrc", Some(&format!("{} cname:itsp-relay", local.ssrc)))?;
    }
    Ok(())
}

/// Rewrites stream `index` of `sdp` for a SIP phone: `RTP/AVP`, every WebRTC attribute
/// removed (ICE, DTLS, BUNDLE, `rtcp-mux`, feedback, SSRCs, header extensions), RTCP on
/// its own port (`a=rtcp` as [`crate::rewrite::rewrite`] wrote it: rtcp-mux-demux). Every
/// other stream is refused (port 0).
pub fn to_plain(sdp: &mut SessionDescription, index: usize) -> Result<(), sdp::SdpError> {
    for name in WEBRTC_SESSION_ATTRIBUTES
        .iter()
        .chain(ICE_ATTRIBUTES.iter())
    {
        sdp.remove_attributes(name);
    }
    for (i, media) in sdp.media_mut().iter_mut().enumerate() {
        if i != index {
            media.set_port(0);
            continue;
        }
        media.set_proto("RTP/AVP")?;
        for name in WEBRTC_MEDIA_ATTRIBUTES.iter().chain(ICE_ATTRIBUTES.iter()) {
            media.remove_attributes(name);
        }
    }
    Ok(())
}

/// The first audio stream of `sdp` that is not refused: the one the gateway carries.
pub fn audio_stream(sdp: &SessionDescription) -> Option<usize> {
    sdp.media()
        .iter()
        .position(|m| m.port() != 0 && m.media_type().eq_ignore_ascii_case("audio"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints() {
        let hex = vec!["AB"; 32].join(":");
        let (hash, bytes) = parse_fingerprint(&format!("SHA-256 {hex}")).unwrap();
        assert_eq!(hash, "sha-256");
        assert_eq!(bytes, vec![0xab; 32]);
        assert!(parse_fingerprint("sha-1 AB:CD").is_err());
        assert!(parse_fingerprint("sha-256 AB:CD").is_err());
        assert!(parse_fingerprint(&format!("sha-256 {}", vec!["ZZ"; 32].join(":"))).is_err());
        assert!(parse_fingerprint("sha-256").is_err());
        assert!(parse_fingerprint("").is_err());
    }
}
