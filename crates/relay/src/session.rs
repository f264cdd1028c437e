//! A relayed call: [`Call`] → [`Stream`] (one per `m=` line) → two [`Side`]s, each side
//! facing one party and owning an RTP/RTCP port pair of the relay.
//!
//! ## Latching (symmetric RTP, RFC 4961)
//!
//! A party behind NAT sends from an address its SDP does not know. Each side therefore
//! *latches*, separately for RTP and RTCP, to the source of the party's packets:
//!
//! - not latched yet: the first packet latches its source, whatever it is;
//! - latched: packets from the latched source are relayed; packets from another source are
//!   dropped (counted as errors, so nobody can inject media into a call) **unless** the
//!   latched source has been silent for `relatch_after` (default 3 s, rtpengine's learning
//!   window): then the new source takes over (a NAT mapping that changed, a phone that moved);
//! - a re-offer or answer announcing a different address for the party unlatches that side,
//!   so its next packet latches at once (re-INVITE after a move, hold/resume).
//!
//! Packets to a party go to its latched source, or to the announced address while it has
//! sent nothing. With `asymmetric` (no latching) they always go to the announced address.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::rtcp::RtcpSeen;
use crate::srtp::Bridge;
use crate::stats::{Counters, LossMeter, PayloadMap};

/// RTP (index 0) or RTCP (index 1): the parity of the relay port a packet arrived on.
pub type Component = usize;
/// [`Component`] of RTP.
pub const RTP: Component = 0;
/// [`Component`] of RTCP.
pub const RTCP: Component = 1;

/// One party's side of a stream.
#[derive(Debug, Clone)]
pub struct Side {
    /// The relay's RTP port this party sends to (even; RTCP is `port + 1`).
    pub port: u16,
    /// Where the party's SDP says it receives RTP and RTCP.
    pub announced: [Option<SocketAddr>; 2],
    /// The source the party's RTP and RTCP come from.
    pub latched: [Option<SocketAddr>; 2],
    /// Last packet from the latched source.
    last_latched: [Option<Instant>; 2],
    /// Latch (symmetric) or always use the announced address (asymmetric).
    pub symmetric: bool,
    /// What arrived from this party.
    pub counters: [Counters; 2],
    /// Loss of the party's RTP.
    pub loss: LossMeter,
    /// What the party's RTCP said.
    pub rtcp: RtcpSeen,
    /// The relay address the party was told to send to (the SDP the other party's
    /// request had rewritten for it), once told.
    pub advertised: Option<std::net::IpAddr>,
}

impl Side {
    /// A side on relay port `port`, nothing announced or latched.
    pub fn new(port: u16) -> Side {
        Side {
            port,
            announced: [None, None],
            latched: [None, None],
            last_latched: [None, None],
            symmetric: true,
            counters: [Counters::default(); 2],
            loss: LossMeter::default(),
            rtcp: RtcpSeen::default(),
            advertised: None,
        }
    }

    /// Records what the party's SDP announced; unlatches when it changed (a re-offer from a
    /// new address).
    pub fn announce(&mut self, rtp: Option<SocketAddr>, rtcp: Option<SocketAddr>) {
        if self.announced != [rtp, rtcp] {
            if self.announced[RTP].is_some() {
                self.latched = [None, None];
                self.last_latched = [None, None];
            }
            self.announced = [rtp, rtcp];
        }
    }

    /// Whether a packet from `source` is accepted, latching as the module doc says.
    pub fn accept(
        &mut self,
        component: Component,
        source: SocketAddr,
        now: Instant,
        relatch_after: Duration,
    ) -> bool {
        let c = component & 1;
        match self.latched[c] {
            Some(latched) if latched == source => {
                self.last_latched[c] = Some(now);
                true
            }
            Some(_)
                if self.last_latched[c]
                    .is_some_and(|t| now.saturating_duration_since(t) < relatch_after) =>
            {
                false
            }
            _ => {
                self.latched[c] = Some(source);
                self.last_latched[c] = Some(now);
                true
            }
        }
    }

    /// Where packets for this party go: latched source, else the announced address (never
    /// the unspecified hold address).
    pub fn destination(&self, component: Component) -> Option<SocketAddr> {
        let c = component & 1;
        let latched = if self.symmetric {
            self.latched[c]
        } else {
            None
        };
        latched
            .or(self.announced[c])
            .filter(|a| !a.ip().is_unspecified() && a.port() != 0)
    }
}

/// One media stream (`m=` line) of a call.
#[derive(Debug)]
pub struct Stream {
    /// `audio`, `video`, ...
    pub media_type: String,
    /// `RTP/AVP`, ...
    pub protocol: String,
    /// Side 0 faces the caller (first offer's from-tag), side 1 the callee.
    pub sides: [Side; 2],
    /// The payload types both parties' SDP named (codec and clock for the quality).
    pub payloads: PayloadMap,
    /// The RTCP is readable (plain RTP profiles, and bridged streams, whose SRTCP the
    /// relay unprotects; SRTCP passed through, RFC 3711 §3.4, is not read).
    pub read_rtcp: bool,
    /// The SRTP of each leg when the relay bridges the stream (see [`crate::srtp`]);
    /// `None`: transparent.
    pub srtp: Option<Bridge>,
    /// The WebRTC legs when the relay is a WebRTC gateway for the stream (see
    /// [`crate::webrtc`]); `None`: both parties speak RTP.
    pub webrtc: Option<crate::webrtc::WebrtcStream>,
}

/// A relayed call.
#[derive(Debug)]
pub struct Call {
    /// The SIP Call-ID.
    pub call_id: String,
    /// Tags of the caller (side 0) and callee (side 1, once known).
    pub tags: [Option<String>; 2],
    /// Streams by `m=` line; `None` for a line that was rejected (port 0) when first seen.
    pub streams: Vec<Option<Stream>>,
    /// When the call was created.
    pub created: Instant,
    /// The last offer, answer or query.
    pub last_signal: Instant,
    /// The last packet relayed (or dropped) on any port of the call.
    pub last_media: Option<Instant>,
}

impl Call {
    /// The side a tag stands for: 0 the caller, 1 the callee; a callee tag not seen yet binds
    /// side 1 when `bind` allows it.
    pub fn side_of(&mut self, tag: &str, bind: bool) -> Option<usize> {
        side_of(&mut self.tags, tag, bind)
    }

    /// The last offer/answer or packet, whichever is later.
    pub fn last_activity(&self) -> Instant {
        self.last_media
            .map_or(self.last_signal, |m| m.max(self.last_signal))
    }

    /// Every relay port pair of the call.
    pub fn ports(&self) -> impl Iterator<Item = u16> + '_ {
        self.streams
            .iter()
            .flatten()
            .flat_map(|s| s.sides.iter().map(|side| side.port))
    }
}

/// [`Call::side_of`] on the tags alone.
pub fn side_of(tags: &mut [Option<String>; 2], tag: &str, bind: bool) -> Option<usize> {
    if tags[0].as_deref() == Some(tag) {
        return Some(0);
    }
    match &tags[1] {
        Some(t) if t == tag => Some(1),
        None if bind => {
            tags[1] = Some(tag.to_owned());
            Some(1)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    const WINDOW: Duration = Duration::from_secs(3);

    #[test]
    fn first_source_latches_and_others_are_refused() {
        let t = Instant::now();
        let mut side = Side::new(30000);
        side.announce(Some(addr("10.0.0.1:8000")), Some(addr("10.0.0.1:8001")));
        assert_eq!(side.destination(RTP), Some(addr("10.0.0.1:8000")));
        assert!(side.accept(RTP, addr("198.51.100.7:4000"), t, WINDOW));
        assert_eq!(side.destination(RTP), Some(addr("198.51.100.7:4000")));
        assert_eq!(side.destination(RTCP), Some(addr("10.0.0.1:8001")));
        assert!(!side.accept(
            RTP,
            addr("203.0.113.9:4000"),
            t + Duration::from_secs(1),
            WINDOW
        ));
        assert_eq!(side.destination(RTP), Some(addr("198.51.100.7:4000")));
    }

    #[test]
    fn silent_latched_source_is_replaced_after_the_window() {
        let t = Instant::now();
        let mut side = Side::new(30000);
        assert!(side.accept(RTP, addr("198.51.100.7:4000"), t, WINDOW));
        assert!(side.accept(
            RTP,
            addr("198.51.100.7:4000"),
            t + Duration::from_secs(2),
            WINDOW
        ));
        let new = addr("198.51.100.7:4100");
        assert!(!side.accept(RTP, new, t + Duration::from_secs(4), WINDOW));
        assert!(side.accept(RTP, new, t + Duration::from_secs(5), WINDOW));
        assert_eq!(side.destination(RTP), Some(new));
    }

    #[test]
    fn new_announced_address_unlatches() {
        let t = Instant::now();
        let mut side = Side::new(30000);
        side.announce(Some(addr("10.0.0.1:8000")), None);
        assert!(side.accept(RTP, addr("198.51.100.7:4000"), t, WINDOW));
        side.announce(Some(addr("10.0.0.1:8000")), None);
        assert_eq!(
            side.latched[RTP],
            Some(addr("198.51.100.7:4000")),
            "same SDP keeps the latch"
        );
        side.announce(Some(addr("10.0.0.2:9000")), None);
        assert_eq!(side.latched[RTP], None);
        assert!(side.accept(RTP, addr("198.51.100.8:5000"), t, WINDOW));
    }

    #[test]
    fn asymmetric_side_uses_the_announced_address_and_hold_has_none() {
        let t = Instant::now();
        let mut side = Side::new(30000);
        side.symmetric = false;
        side.announce(Some(addr("192.0.2.1:8000")), None);
        assert!(side.accept(RTP, addr("198.51.100.7:4000"), t, WINDOW));
        assert_eq!(side.destination(RTP), Some(addr("192.0.2.1:8000")));
        side.announce(Some(addr("0.0.0.0:8000")), None);
        assert_eq!(side.destination(RTP), None);
    }
}
