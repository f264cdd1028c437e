//! The outcome of an offer/answer exchange for the one audio stream a phone runs, and hold
//! detection (RFC 3264 §8.4).

use std::net::SocketAddr;
use std::time::Duration;

use crate::attribute::{parse_packet_time, Direction};
use crate::codec::Codec;
use crate::crypto::CryptoPair;
use crate::media::MediaDescription;
use crate::session::SessionDescription;

/// What an exchange settled, from our point of view: where to send RTP and RTCP, with which
/// codec and payload type numbers, and which way media flows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// The index of the negotiated stream among the media sections.
    pub media_index: usize,
    /// Where the peer receives RTP: the connection address of its section (or its session)
    /// and the port of its `m=` line. `0.0.0.0` when the peer holds with the RFC 2543 form.
    pub remote_rtp: SocketAddr,
    /// Where the peer receives RTCP: its `a=rtcp` (RFC 3605), or else the RTP address and
    /// port + 1 (RFC 3550 §11). `None` when the RTP port is 65535.
    pub remote_rtcp: Option<SocketAddr>,
    /// The codec to send with: the peer's first voice codec that we speak, with the PEER's
    /// payload type number and format parameters.
    pub codec: Codec,
    /// Every format both sides listed, in the order of the answer (voice codecs, telephone
    /// events, comfort noise), with the peer's numbers: what the peer may send us.
    pub codecs: Vec<Codec>,
    /// The peer's payload type number for RFC 4733 `telephone-event`, when both support it.
    pub telephone_event: Option<u8>,
    /// The packet time the peer asked to receive (`a=ptime`, media or session level), if it
    /// said.
    pub ptime: Option<Duration>,
    /// Which way we may send and receive: whether to send RTP and expect it.
    pub direction: Direction,
    /// The direction the peer declared for the stream (RFC 3264 §5.1; `sendrecv` when it
    /// declared none).
    pub remote_direction: Direction,
    /// Whether the peer put the stream on hold: `sendonly`, `inactive`, or the RFC 2543 hold
    /// address `c=0.0.0.0` (RFC 3264 §8.4).
    pub remote_hold: bool,
    /// The SDES-SRTP keys of the stream (RFC 4568), when it is SRTP: our `a=crypto` line
    /// (our key: what we send) and the peer's (what we receive). `None` for plain RTP.
    pub crypto: Option<CryptoPair>,
}

impl SessionDescription {
    /// Whether this description puts the stream of `media` on hold (RFC 3264 §8.4): its
    /// direction is `sendonly` or `inactive`, or its connection address is `0.0.0.0` (or
    /// `::`), the RFC 2543 form that older phones still send.
    pub fn is_on_hold(&self, media: &MediaDescription) -> bool {
        let direction = self.media_direction(media);
        let hold_address = self
            .media_connection(media)
            .is_some_and(|c| c.is_hold_address());
        matches!(direction, Direction::SendOnly | Direction::Inactive) || hold_address
    }

    /// The direction of `media` as its author can really use it: the declared direction,
    /// without receiving when the connection address is the hold address (nobody can send to
    /// `0.0.0.0`).
    pub(crate) fn effective_direction(&self, media: &MediaDescription) -> Direction {
        let declared = self.media_direction(media);
        let hold_address = self
            .media_connection(media)
            .is_some_and(|c| c.is_hold_address());
        Direction::from_flags(declared.sends(), declared.receives() && !hold_address)
    }

    /// The packet time `media` asks for: its own `a=ptime`, or else a session-level one.
    pub(crate) fn effective_ptime(&self, media: &MediaDescription) -> Option<Duration> {
        media.ptime().or_else(|| {
            self.attribute("ptime")
                .and_then(|a| a.value)
                .and_then(parse_packet_time)
        })
    }

    /// Where the author of this description receives RTP and RTCP for `media`; `None` when
    /// the section has no connection address.
    pub(crate) fn endpoints(
        &self,
        media: &MediaDescription,
    ) -> Option<(SocketAddr, Option<SocketAddr>)> {
        let address = self.media_connection(media)?.address;
        let rtp = SocketAddr::new(address, media.port());
        let rtcp = match media.rtcp() {
            Some(rtcp) => Some(SocketAddr::new(rtcp.address.unwrap_or(address), rtcp.port)),
            None => media
                .port()
                .checked_add(1)
                .map(|port| SocketAddr::new(address, port)),
        };
        Some((rtp, rtcp))
    }
}

/// Assembles the outcome for stream `index`: `remote` is the peer's description, `agreed` the
/// formats both listed (peer's numbers, in order), `ours` our direction.
pub(crate) fn outcome(
    remote: &SessionDescription,
    index: usize,
    agreed: Vec<Codec>,
    ours: Direction,
) -> Option<Negotiated> {
    let media = remote.media().get(index)?;
    let codec = agreed.iter().find(|c| c.is_voice())?.clone();
    let (remote_rtp, remote_rtcp) = remote.endpoints(media)?;
    let telephone_event = agreed
        .iter()
        .find(|c| c.is_telephone_event())
        .map(Codec::payload_type_number);
    Some(Negotiated {
        media_index: index,
        remote_rtp,
        remote_rtcp,
        codec,
        codecs: agreed,
        telephone_event,
        ptime: remote.effective_ptime(media),
        direction: ours,
        remote_direction: remote.media_direction(media),
        remote_hold: remote.is_on_hold(media),
        crypto: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sdp(session_extra: &str, media_extra: &str) -> SessionDescription {
        SessionDescription::parse(&format!(
            "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\n{session_extra}t=0 0\r\n\
             m=audio 49170 RTP/AVP 0\r\n{media_extra}"
        ))
        .unwrap()
    }

    #[test]
    fn hold_forms() {
        let cases = [
            ("c=IN IP4 192.0.2.1\r\n", "", false),
            ("c=IN IP4 192.0.2.1\r\n", "a=sendonly\r\n", true),
            ("c=IN IP4 192.0.2.1\r\n", "a=inactive\r\n", true),
            ("c=IN IP4 192.0.2.1\r\n", "a=recvonly\r\n", false),
            ("c=IN IP4 192.0.2.1\r\na=sendonly\r\n", "", true),
            (
                "c=IN IP4 192.0.2.1\r\na=sendonly\r\n",
                "a=sendrecv\r\n",
                false,
            ),
            ("c=IN IP4 0.0.0.0\r\n", "", true),
            ("c=IN IP4 192.0.2.1\r\n", "c=IN IP4 0.0.0.0\r\n", true),
            ("c=IN IP4 0.0.0.0\r\n", "c=IN IP4 192.0.2.1\r\n", false),
        ];
        for (session, media, hold) in cases {
            let s = sdp(session, media);
            assert_eq!(s.is_on_hold(&s.media()[0]), hold, "{session:?} {media:?}");
        }
    }

    #[test]
    fn hold_address_removes_receiving() {
        let s = sdp("c=IN IP4 0.0.0.0\r\n", "");
        assert_eq!(s.effective_direction(&s.media()[0]), Direction::SendOnly);
        let r = sdp("c=IN IP4 0.0.0.0\r\n", "a=recvonly\r\n");
        assert_eq!(r.effective_direction(&r.media()[0]), Direction::Inactive);
        let n = sdp("c=IN IP4 192.0.2.1\r\n", "a=recvonly\r\n");
        assert_eq!(n.effective_direction(&n.media()[0]), Direction::RecvOnly);
    }

    #[test]
    fn endpoints_from_rtcp_attribute_or_port_plus_one() {
        let plain = sdp("c=IN IP4 192.0.2.1\r\n", "");
        let (rtp, rtcp) = plain.endpoints(&plain.media()[0]).unwrap();
        assert_eq!(rtp, "192.0.2.1:49170".parse().unwrap());
        assert_eq!(rtcp, Some("192.0.2.1:49171".parse().unwrap()));
        let port_only = sdp("c=IN IP4 192.0.2.1\r\n", "a=rtcp:53020\r\n");
        let (_, rtcp) = port_only.endpoints(&port_only.media()[0]).unwrap();
        assert_eq!(rtcp, Some("192.0.2.1:53020".parse().unwrap()));
        let with_address = sdp(
            "c=IN IP4 192.0.2.1\r\n",
            "a=rtcp:53020 IN IP6 2001:db8::9\r\n",
        );
        let (_, rtcp) = with_address.endpoints(&with_address.media()[0]).unwrap();
        assert_eq!(rtcp, Some("[2001:db8::9]:53020".parse().unwrap()));
    }

    #[test]
    fn ptime_falls_back_to_session_level() {
        let s = sdp("c=IN IP4 192.0.2.1\r\na=ptime:30\r\n", "");
        assert_eq!(
            s.effective_ptime(&s.media()[0]),
            Some(Duration::from_millis(30))
        );
        let m = sdp("c=IN IP4 192.0.2.1\r\na=ptime:30\r\n", "a=ptime:20\r\n");
        assert_eq!(
            m.effective_ptime(&m.media()[0]),
            Some(Duration::from_millis(20))
        );
    }
}
