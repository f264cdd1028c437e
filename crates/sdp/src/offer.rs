//! Our side of a session and the offers we make (RFC 3264 §5), re-offers included (§8).
//!
//! [`LocalMedia`] says where we receive RTP, which codecs we speak in which order, which way
//! we want media to flow, and which session id and version to write. It builds offers here,
//! and answers in [`crate::answer`]. It reads no clock and draws no random number: the caller
//! picks the session id and version (RFC 8866 §5.2 suggests an NTP timestamp).

use std::collections::HashSet;
use std::net::IpAddr;
use std::time::Duration;

use crate::attribute::{format_packet_time, Direction, Rtcp};
use crate::codec::Codec;
use crate::crypto::{Crypto, SECURE_AUDIO_PROTO};
use crate::error::SdpError;
use crate::media::{MediaDescription, MediaLine};
use crate::origin::Origin;
use crate::session::SessionDescription;

/// The RTP profile of the one audio stream we offer and accept (RFC 3551).
pub const AUDIO_PROTO: &str = "RTP/AVP";

/// Our media: address, RTP port, codecs, direction and the identity of our session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalMedia {
    /// The address we receive RTP on (the `c=` line).
    pub address: IpAddr,
    /// The port we receive RTP on.
    pub rtp_port: u16,
    /// The codecs we speak, most preferred first (RFC 3264 §5.1). Dynamic payload type
    /// numbers are the ones we use in our offers.
    pub codecs: Vec<Codec>,
    /// Which way we want media to flow: `sendrecv` normally, `sendonly` to put the peer on
    /// hold (RFC 3264 §8.4).
    pub direction: Direction,
    /// The packet time we want to receive (`a=ptime`), if we say.
    pub ptime: Option<Duration>,
    /// Where we receive RTCP, written as `a=rtcp` (RFC 3605) when set; without it the peer
    /// uses the RTP port + 1.
    pub rtcp: Option<Rtcp>,
    /// SDES-SRTP (RFC 4568): the `a=crypto` lines of our offers, one per suite we support
    /// with distinct tags, most preferred first, each with a fresh key of ours (§7.1.1).
    /// When there are any, the offered stream is `RTP/SAVP`; when empty, `RTP/AVP`. Answers
    /// do not use them: see [`LocalMedia::answer_srtp`].
    pub crypto: Vec<Crypto>,
    /// The `o=` session id (RFC 8866 §5.2), chosen by the caller.
    pub session_id: u64,
    /// The `o=` session version; see [`LocalMedia::reoffer`] for later offers.
    pub session_version: u64,
    /// The `o=` user name, `-` by default.
    pub username: String,
    /// The `s=` session name, `itsp` by default.
    pub session_name: String,
}

impl LocalMedia {
    /// Our media at `address`:`rtp_port` with `codecs` in order of preference; `sendrecv`,
    /// 20 ms packets, no `a=rtcp`, user name `-`, session name `itsp`.
    pub fn new(
        address: IpAddr,
        rtp_port: u16,
        codecs: Vec<Codec>,
        session_id: u64,
        session_version: u64,
    ) -> LocalMedia {
        LocalMedia {
            address,
            rtp_port,
            codecs,
            direction: Direction::SendRecv,
            ptime: Some(Duration::from_millis(20)),
            rtcp: None,
            crypto: Vec::new(),
            session_id,
            session_version,
            username: "-".to_owned(),
            session_name: "itsp".to_owned(),
        }
    }

    /// The offer (RFC 3264 §5): one `m=audio` line with every codec, `a=rtpmap` for each
    /// (static ones too, for peers that need them), `a=fmtp` where a codec has parameters,
    /// then `a=ptime`, `a=rtcp`, our `a=crypto` lines and the direction; `RTP/SAVP` when we
    /// offer keys ([`LocalMedia::crypto`], RFC 4568 §7.1.1), else `RTP/AVP`. Fails when the codec list is empty, holds
    /// no voice codec, or puts two codecs on one payload type number.
    pub fn offer(&self) -> Result<SessionDescription, SdpError> {
        check_codecs(&self.codecs)?;
        let mut sdp = self.session()?;
        let proto = if self.crypto.is_empty() {
            AUDIO_PROTO
        } else {
            SECURE_AUDIO_PROTO
        };
        let section = self.audio_section(
            self.rtp_port,
            &self.codecs,
            self.direction,
            proto,
            &self.crypto,
        )?;
        sdp.push_media(section)?;
        Ok(sdp)
    }

    /// A later offer in the same session (RFC 3264 §8): built like [`LocalMedia::offer`],
    /// with the `o=` line of `previous` (our last description in this session) and its
    /// version incremented — or kept, when nothing else changed. `session_id` and
    /// `session_version` are not used.
    pub fn reoffer(&self, previous: &SessionDescription) -> Result<SessionDescription, SdpError> {
        let mut sdp = self.offer()?;
        sdp.continue_from(previous);
        Ok(sdp)
    }

    /// The session-level part of our descriptions: v, o, s, c, t.
    pub(crate) fn session(&self) -> Result<SessionDescription, SdpError> {
        let mut origin = Origin::new(self.session_id, self.session_version, self.address);
        origin.username.clone_from(&self.username);
        let mut sdp = SessionDescription::new(origin, &self.session_name)?;
        sdp.set_connection_address(self.address);
        Ok(sdp)
    }

    /// An audio section on `port` over `proto` with `codecs` (numbered as given), our ptime
    /// and rtcp, the `crypto` lines and `direction`.
    pub(crate) fn audio_section(
        &self,
        port: u16,
        codecs: &[Codec],
        direction: Direction,
        proto: &str,
        crypto: &[Crypto],
    ) -> Result<MediaDescription, SdpError> {
        let mut section = MediaDescription::new(MediaLine {
            media: "audio".to_owned(),
            port,
            port_count: None,
            proto: proto.to_owned(),
            formats: codecs
                .iter()
                .map(|c| c.payload_type_number().to_string())
                .collect(),
        })?;
        for codec in codecs {
            let number = codec.payload_type_number();
            let rtpmap = format!("{number} {}", codec.rtpmap_encoding());
            section.add_attribute("rtpmap", Some(&rtpmap))?;
            if let Some(fmtp) = &codec.fmtp {
                section.add_attribute("fmtp", Some(&format!("{number} {fmtp}")))?;
            }
        }
        if let Some(ptime) = self.ptime {
            section.add_attribute("ptime", Some(&format_packet_time(ptime)))?;
        }
        if let Some(rtcp) = self.rtcp {
            section.set_rtcp(rtcp);
        }
        for line in crypto {
            section.add_attribute("crypto", Some(&line.to_string()))?;
        }
        section.set_direction(direction);
        Ok(section)
    }
}

/// Checks a local codec list for an offer: not empty, a voice codec, distinct numbers.
fn check_codecs(codecs: &[Codec]) -> Result<(), SdpError> {
    if codecs.is_empty() {
        return Err(SdpError::BadCodecList("empty"));
    }
    if !codecs.iter().any(Codec::is_voice) {
        return Err(SdpError::BadCodecList("no voice codec"));
    }
    let mut seen = HashSet::new();
    if !codecs.iter().all(|c| seen.insert(c.payload_type_number())) {
        return Err(SdpError::BadCodecList(
            "two codecs on one payload type number",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local() -> LocalMedia {
        LocalMedia::new(
            "192.0.2.10".parse().unwrap(),
            40000,
            vec![Codec::PCMU, Codec::PCMA, Codec::GSM, Codec::TELEPHONE_EVENT],
            3_900_000_000,
            3_900_000_000,
        )
    }

    #[test]
    fn offer_lists_every_codec_with_rtpmap() {
        let sdp = local().offer().unwrap();
        assert_eq!(
            sdp.to_string(),
            "v=0\r\n\
             o=- 3900000000 3900000000 IN IP4 192.0.2.10\r\n\
             s=itsp\r\n\
             c=IN IP4 192.0.2.10\r\n\
             t=0 0\r\n\
             m=audio 40000 RTP/AVP 0 8 3 101\r\n\
             a=rtpmap:0 PCMU/8000\r\n\
             a=rtpmap:8 PCMA/8000\r\n\
             a=rtpmap:3 GSM/8000\r\n\
             a=rtpmap:101 telephone-event/8000\r\n\
             a=fmtp:101 0-16\r\n\
             a=ptime:20\r\n\
             a=sendrecv\r\n"
        );
        assert_eq!(SessionDescription::parse(&sdp.to_string()).unwrap(), sdp);
    }

    #[test]
    fn offer_options() {
        let mut l = local();
        l.address = "2001:db8::10".parse().unwrap();
        l.codecs = vec![Codec::GSM];
        l.direction = Direction::SendOnly;
        l.ptime = None;
        l.rtcp = Some(Rtcp {
            port: 40001,
            address: None,
        });
        l.username = "alice".into();
        l.session_name = "a call".into();
        let text = l.offer().unwrap().to_string();
        assert!(text.contains("o=alice 3900000000 3900000000 IN IP6 2001:db8::10\r\n"));
        assert!(text.contains("s=a call\r\nc=IN IP6 2001:db8::10\r\n"));
        assert!(text.ends_with(
            "m=audio 40000 RTP/AVP 3\r\na=rtpmap:3 GSM/8000\r\na=rtcp:40001\r\na=sendonly\r\n"
        ));
    }

    #[test]
    fn bad_codec_lists() {
        let mut l = local();
        l.codecs.clear();
        assert_eq!(l.offer(), Err(SdpError::BadCodecList("empty")));
        l.codecs = vec![Codec::TELEPHONE_EVENT];
        assert_eq!(l.offer(), Err(SdpError::BadCodecList("no voice codec")));
        l.codecs = vec![Codec::PCMU, Codec::PCMA.with_payload_type(0)];
        assert_eq!(
            l.offer(),
            Err(SdpError::BadCodecList(
                "two codecs on one payload type number"
            ))
        );
        l.codecs = vec![Codec::PCMU.with_payload_type(200)];
        assert!(matches!(l.offer(), Err(SdpError::Invalid(_))));
        l.codecs = vec![Codec::PCMU];
        l.session_name = "bad\r\nname".into();
        assert!(matches!(l.offer(), Err(SdpError::Invalid(_))));
    }

    #[test]
    fn reoffer_increments_the_version_only_on_change() {
        let l = local();
        let first = l.offer().unwrap();
        // Same media again (a session refresh): same description, same version.
        let mut later = l.clone();
        later.session_version = 1;
        assert_eq!(later.reoffer(&first).unwrap(), first);
        // Hold: the version goes up by one, the rest of o= stays.
        later.direction = Direction::SendOnly;
        let hold = later.reoffer(&first).unwrap();
        assert_eq!(hold.origin().session_version, 3_900_000_001);
        assert_eq!(hold.origin().session_id, "3900000000");
        assert_eq!(hold.media_direction(&hold.media()[0]), Direction::SendOnly);
        // Resume from the hold offer: one more.
        let resume = l.reoffer(&hold).unwrap();
        assert_eq!(resume.origin().session_version, 3_900_000_002);
    }
}
