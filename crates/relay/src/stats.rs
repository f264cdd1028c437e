//! Counters of the relay: per side and component ([`Counters`]), loss from RTP sequence
//! numbers ([`LossMeter`], RFC 3550 A.1/A.3 through the `rtp` crate's [`ReceiverStats`]),
//! and the snapshots a query answers ([`CallStats`], [`CallCounters`]).

use std::net::SocketAddr;
use std::time::Instant;

use rtp::stats::ReceiverStats;

/// What one side received on one port (RTP or RTCP).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Datagrams received.
    pub packets: u64,
    /// Their bytes (UDP payload).
    pub bytes: u64,
    /// Datagrams not forwarded: from a source other than the latched one, no destination
    /// known yet, or the send failed.
    pub errors: u64,
    /// When the last datagram arrived.
    pub last_packet: Option<Instant>,
}

impl Counters {
    /// Adds `other` to these counters (the later `last_packet` wins).
    pub fn add(&mut self, other: &Counters) {
        self.packets += other.packets;
        self.bytes += other.bytes;
        self.errors += other.errors;
        self.last_packet = self.last_packet.max(other.last_packet);
    }
}

/// Packets, bytes and errors only: the totals of a call, as an NG query reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Datagrams received.
    pub packets: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Datagrams not forwarded.
    pub errors: u64,
}

impl From<Counters> for Totals {
    fn from(c: Counters) -> Totals {
        Totals {
            packets: c.packets,
            bytes: c.bytes,
            errors: c.errors,
        }
    }
}

/// Loss of the RTP stream a side sends, seen from its sequence numbers: extended highest
/// sequence number − first + 1 − received (RFC 3550 A.3), per SSRC; the loss of an earlier
/// SSRC is kept when the source changes. For the static payload types with an 8 kHz clock
/// (G.711, GSM, G.722, G.729...: RFC 3551 §6) it also measures the interarrival jitter
/// (RFC 3550 A.8) and estimates the call quality ([`LossMeter::quality`]).
#[derive(Debug, Clone, Default)]
pub struct LossMeter {
    ssrc: u32,
    stats: Option<ReceiverStats>,
    lost_before: u64,
    /// The stream's payload type has an 8 kHz RTP clock: jitter is measured.
    timed: bool,
}

/// The RTP clock of the static payload types with a known 8 kHz clock (RFC 3551 Table 4:
/// PCMU 0, GSM 3, G723 4, DVI4 5, LPC 7, PCMA 8, G722 9 (its RTP clock is 8 kHz), G728 15,
/// G729 18); others (dynamic ones, whose clock the SDP says) are not timed.
fn is_8khz(payload_type: u8) -> bool {
    matches!(payload_type, 0 | 3 | 4 | 5 | 7 | 8 | 9 | 15 | 18)
}

/// How one side's RTP arrived at the relay: jitter, and the E-model estimate of the
/// listening quality it gives the other side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quality {
    /// Interarrival jitter (RFC 3550 A.8), microseconds.
    pub jitter_us: u64,
    /// Estimated MOS (ITU-T G.107 through `rtp::quality`) in hundredths: 438 is 4.38.
    pub mos_centi: u16,
}

impl LossMeter {
    /// Takes an RTP packet (version 2, at least the 12-byte fixed header, RFC 3550 §5.1);
    /// anything else is ignored.
    pub fn on_packet(&mut self, now: Instant, packet: &[u8]) {
        let (Some(&first), Some(seq), Some(ssrc)) =
            (packet.first(), packet.get(2..4), packet.get(8..12))
        else {
            return;
        };
        if first >> 6 != 2 {
            return;
        }
        let seq = u16::from_be_bytes([seq[0], seq[1]]);
        let ssrc = u32::from_be_bytes([ssrc[0], ssrc[1], ssrc[2], ssrc[3]]);
        let payload_type = packet.get(1).map_or(255, |b| b & 0x7f);
        let timestamp = packet
            .get(4..8)
            .map_or(0, |t| u32::from_be_bytes([t[0], t[1], t[2], t[3]]));
        if self.stats.is_none() || self.ssrc != ssrc {
            self.lost_before = self.lost();
            self.ssrc = ssrc;
            self.stats = Some(ReceiverStats::new(seq, 8000));
            self.timed = is_8khz(payload_type);
        }
        if let Some(stats) = &mut self.stats {
            // Jitter only where the RTP clock is known (the SDP's rtpmap is not read here).
            let timed = self.timed && is_8khz(payload_type);
            stats.on_packet(now, seq, timestamp, 0, timed);
        }
    }

    /// The stream's jitter and quality estimate, for a timed stream that carried packets.
    /// The relay sees no round trip, so the mouth-to-ear delay is taken as a jitter buffer
    /// of twice the jitter plus 40 ms (packetization and buffering of a 20 ms stream); the
    /// codec is G.711 with concealment (the common case of the timed payload types).
    pub fn quality(&self) -> Option<Quality> {
        let stats = self.stats.as_ref().filter(|_| self.timed)?;
        if stats.received() == 0 {
            return None;
        }
        let jitter = stats.jitter_duration();
        let input = rtp::quality::EModelInput {
            one_way_delay: jitter * 2 + std::time::Duration::from_millis(40),
            packet_loss_percent: stats.loss_percent(),
            burst_ratio: stats.burst_ratio(),
            ..rtp::quality::EModelInput::default()
        };
        let mos = rtp::quality::mos_from_r(rtp::quality::r_factor(&input));
        Some(Quality {
            jitter_us: u64::try_from(jitter.as_micros()).unwrap_or(u64::MAX),
            mos_centi: (mos * 100.0).round().clamp(100.0, 450.0) as u16,
        })
    }

    /// Packets lost so far (duplicates never make it negative).
    pub fn lost(&self) -> u64 {
        let current = self
            .stats
            .as_ref()
            .map_or(0, |s| u64::try_from(s.cumulative_lost()).unwrap_or(0));
        self.lost_before + current
    }
}

/// One side of one media stream, as a query reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SideStats {
    /// Index of the `m=` line (0-based).
    pub media_index: usize,
    /// `audio`, `video`, ...
    pub media_type: String,
    /// `RTP/AVP`, ...
    pub protocol: String,
    /// The relay's RTP port this party sends to (RTCP = + 1).
    pub local_port: u16,
    /// The RTP address this party's SDP announced.
    pub announced: Option<SocketAddr>,
    /// The RTP and RTCP sources latched for this party.
    pub latched: [Option<SocketAddr>; 2],
    /// What arrived from this party on RTP and on RTCP.
    pub rtp: Counters,
    /// RTCP counters.
    pub rtcp: Counters,
    /// RTP packets lost on the way from this party to the relay.
    pub lost: u64,
    /// Jitter and quality of this party's RTP, when measured.
    pub quality: Option<Quality>,
}

/// One party (tag) of a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartyStats {
    /// The party's tag (`None` before the answer names the callee).
    pub tag: Option<String>,
    /// Its side of every relayed stream.
    pub streams: Vec<SideStats>,
}

/// A snapshot of a call: what `query` and `delete` answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallStats {
    /// The call's Call-ID.
    pub call_id: String,
    /// When the first offer created it.
    pub created: Instant,
    /// The last offer, answer or query.
    pub last_signal: Instant,
    /// Caller (from-tag of the first offer) first, then callee.
    pub parties: [PartyStats; 2],
}

impl CallStats {
    /// Sums of RTP and RTCP counters over both parties.
    pub fn totals(&self) -> (Counters, Counters) {
        let mut rtp = Counters::default();
        let mut rtcp = Counters::default();
        for s in self.parties.iter().flat_map(|p| &p.streams) {
            rtp.add(&s.rtp);
            rtcp.add(&s.rtcp);
        }
        (rtp, rtcp)
    }

    /// The counters a CDR wants, in the form a remote node's query gives too.
    pub fn counters(&self) -> CallCounters {
        let (rtp, rtcp) = self.totals();
        CallCounters {
            rtp: rtp.into(),
            rtcp: rtcp.into(),
            parties: self
                .parties
                .iter()
                .map(|p| PartyCounters {
                    tag: p.tag.clone().unwrap_or_default(),
                    rtp: sum(p.streams.iter().map(|s| s.rtp)),
                    rtcp: sum(p.streams.iter().map(|s| s.rtcp)),
                    lost: p.streams.iter().map(|s| s.lost).sum(),
                    // The worst stream's (an audio call has one).
                    quality: p
                        .streams
                        .iter()
                        .filter_map(|s| s.quality)
                        .min_by_key(|q| q.mos_centi),
                })
                .collect(),
        }
    }
}

fn sum(counters: impl Iterator<Item = Counters>) -> Totals {
    let mut total = Counters::default();
    counters.for_each(|c| total.add(&c));
    total.into()
}

/// Per-call counters for CDRs, the same whether the relay runs in-process or on an NG node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallCounters {
    /// RTP totals over both parties.
    pub rtp: Totals,
    /// RTCP totals over both parties.
    pub rtcp: Totals,
    /// What each party sent to the relay.
    pub parties: Vec<PartyCounters>,
}

/// What one party sent to the relay.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartyCounters {
    /// The party's tag.
    pub tag: String,
    /// RTP received from it.
    pub rtp: Totals,
    /// RTCP received from it.
    pub rtcp: Totals,
    /// RTP packets from it lost before the relay (0 when the node does not say).
    pub lost: u64,
    /// Jitter and quality of its RTP (the in-process relay's, of 8 kHz payload types).
    pub quality: Option<Quality>,
}

/// The relay's running totals since it started, over ended and live calls alike: what
/// a metrics scrape reads ([`crate::Engine::totals`]). Every field only grows, except
/// that the loss of a live stream can shrink a little when late packets arrive (RFC
/// 3550 A.3 counts duplicates against it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelayTotals {
    /// Calls created (first offers).
    pub sessions: u64,
    /// Datagrams received, RTP and RTCP.
    pub packets: u64,
    /// Their bytes (UDP payload).
    pub bytes: u64,
    /// Datagrams not forwarded (see [`Counters::errors`]).
    pub errors: u64,
    /// RTP packets lost on the way to the relay.
    pub lost: u64,
}

impl RelayTotals {
    /// Adds what `side` received and lost.
    pub(crate) fn add_side(&mut self, counters: &[Counters; 2], lost: u64) {
        for c in counters {
            self.packets += c.packets;
            self.bytes += c.bytes;
            self.errors += c.errors;
        }
        self.lost += lost;
    }

    /// Adds a call's final snapshot.
    pub(crate) fn add_call(&mut self, call: &CallStats) {
        for side in call.parties.iter().flat_map(|p| &p.streams) {
            self.add_side(&[side.rtp, side.rtcp], side.lost);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn rtp(seq: u16, ssrc: u32) -> Vec<u8> {
        let mut p = vec![0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        p[2..4].copy_from_slice(&seq.to_be_bytes());
        p[8..12].copy_from_slice(&ssrc.to_be_bytes());
        p
    }

    /// An RTP packet of payload type `pt`, sequence `seq`, timestamp `ts`.
    fn timed_rtp(pt: u8, seq: u16, ts: u32) -> Vec<u8> {
        let mut p = rtp(seq, 9);
        p[1] = pt;
        p[4..8].copy_from_slice(&ts.to_be_bytes());
        p
    }

    #[test]
    fn a_steady_pcmu_stream_is_near_the_top_and_loss_and_jitter_pull_it_down() {
        let t = Instant::now();
        // 20 ms packets (160 samples at 8 kHz) arriving every 20 ms: no jitter, no loss.
        let mut steady = LossMeter::default();
        for i in 0..200u16 {
            let at = t + Duration::from_millis(20 * u64::from(i));
            steady.on_packet(at, &timed_rtp(0, i, 160 * u32::from(i)));
        }
        let q = steady.quality().unwrap();
        assert_eq!(q.jitter_us, 0);
        assert!(q.mos_centi >= 430, "{q:?}");
        // Every fifth packet lost, and arrivals off by up to 15 ms.
        let mut poor = LossMeter::default();
        for i in (0..200u16).filter(|i| i % 5 != 0) {
            let wobble = u64::from(i % 4) * 5;
            let at = t + Duration::from_millis(20 * u64::from(i) + wobble);
            poor.on_packet(at, &timed_rtp(8, i, 160 * u32::from(i)));
        }
        let p = poor.quality().unwrap();
        assert!(p.jitter_us > 1_000, "{p:?}");
        assert!(p.mos_centi < q.mos_centi - 100, "{p:?} against {q:?}");
        assert_eq!(poor.lost(), 39);
        // A dynamic payload type (its clock unknown here): loss only, no quality.
        let mut opus = LossMeter::default();
        for i in 0..10u16 {
            opus.on_packet(t, &timed_rtp(111, i, 960 * u32::from(i)));
        }
        assert_eq!(opus.quality(), None);
    }

    #[test]
    fn loss_is_expected_minus_received() {
        let t = Instant::now();
        let mut m = LossMeter::default();
        for seq in [10u16, 11, 12, 15, 16, 17] {
            m.on_packet(t + Duration::from_millis(u64::from(seq)), &rtp(seq, 7));
        }
        assert_eq!(m.lost(), 2);
    }

    #[test]
    fn loss_survives_a_new_ssrc_and_wraps() {
        let t = Instant::now();
        let mut m = LossMeter::default();
        for seq in [65533u16, 65534, 1, 2] {
            m.on_packet(t, &rtp(seq, 1));
        }
        assert_eq!(m.lost(), 2, "65535 and 0 missing across the wrap");
        for seq in [100u16, 101, 103] {
            m.on_packet(t, &rtp(seq, 2));
        }
        assert_eq!(m.lost(), 3);
    }

    #[test]
    fn non_rtp_is_ignored() {
        let mut m = LossMeter::default();
        m.on_packet(Instant::now(), &[0x80, 0]);
        m.on_packet(Instant::now(), &[0x40; 20]);
        assert_eq!(m.lost(), 0);
        assert!(m.stats.is_none());
    }
}
