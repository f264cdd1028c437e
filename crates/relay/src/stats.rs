//! Counters of the relay: per side and component ([`Counters`]), loss from RTP sequence
//! numbers ([`LossMeter`], RFC 3550 A.1/A.3 through the `rtp` crate's [`ReceiverStats`]),
//! and the snapshots a query answers ([`CallStats`], [`CallCounters`]).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rtp::quality::CodecImpairment;
use rtp::rtcp::ReportBlock;
use rtp::stats::ReceiverStats;

use crate::rtcp::RtcpSeen;

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
/// SSRC is kept when the source changes. Once a packet of a payload type the stream's SDP
/// names as a rated codec arrives ([`PayloadMap`]: the static types of RFC 3551 and the
/// `a=rtpmap` encodings, `telephone-event` and comfort noise excluded), it also measures
/// the interarrival jitter of that payload type at its RTP clock (RFC 3550 A.8) and
/// estimates the call quality ([`LossMeter::quality_with`]).
#[derive(Debug, Clone)]
pub struct LossMeter {
    ssrc: u32,
    stats: Option<ReceiverStats>,
    lost_before: u64,
    /// The rated payload type of the SSRC (its packets are timed), [`NO_PAYLOAD_TYPE`]
    /// before one arrived: one comparison per packet.
    rated_pt: u8,
    /// The clock and codec of `rated_pt`.
    rated: Option<(u32, CodecImpairment)>,
    /// The last payload type found unrated (not looked up again per packet).
    unrated_pt: u8,
}

/// No payload type: RTP's are 7 bits (RFC 3550 §5.1).
const NO_PAYLOAD_TYPE: u8 = 0xff;

impl Default for LossMeter {
    fn default() -> Self {
        LossMeter {
            ssrc: 0,
            stats: None,
            lost_before: 0,
            rated_pt: NO_PAYLOAD_TYPE,
            rated: None,
            unrated_pt: NO_PAYLOAD_TYPE,
        }
    }
}

/// One payload type of a stream: its RTP clock and the codec's E-model impairment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Payload {
    /// The payload type number.
    pub payload_type: u8,
    /// The RTP clock rate (Hz).
    pub clock_rate: u32,
    /// The codec's impairment, `None` for what the E-model does not rate (events, comfort
    /// noise, unknown codecs, video).
    pub codec: Option<CodecImpairment>,
}

/// The payload types of a stream as its SDP named them (`m=` formats and `a=rtpmap`, RFC
/// 8866 §6.6), both parties' SDP merged, the later one winning for a number both use.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PayloadMap {
    entries: Vec<Payload>,
}

impl PayloadMap {
    /// Adds the payload types of one `m=` line: an `a=rtpmap` gives the encoding and clock,
    /// a static type without one those of RFC 3551 Table 4.
    pub fn update(&mut self, media: &sdp::MediaDescription) {
        for payload_type in media.payload_types() {
            let payload = match media.rtpmap(payload_type) {
                Some(map) => Some(Payload {
                    payload_type,
                    clock_rate: map.clock_rate,
                    codec: CodecImpairment::for_encoding(map.encoding_name),
                }),
                None => static_payload(payload_type),
            };
            let Some(payload) = payload else { continue };
            match self
                .entries
                .iter_mut()
                .find(|e| e.payload_type == payload_type)
            {
                Some(e) => *e = payload,
                None => self.entries.push(payload),
            }
        }
    }

    /// A payload type: as the SDP named it, else the static assignment, else unknown.
    pub fn get(&self, payload_type: u8) -> Option<Payload> {
        self.entries
            .iter()
            .find(|e| e.payload_type == payload_type)
            .copied()
            .or_else(|| static_payload(payload_type))
    }
}

/// The static payload types of RFC 3551 Table 4 the E-model rates (all with an 8 kHz RTP
/// clock, G722 included, RFC 3551 §4.5.2): PCMU 0, GSM 3, G723 4, PCMA 8, G722 9, G729 18.
fn static_payload(payload_type: u8) -> Option<Payload> {
    let codec = match payload_type {
        0 | 8 => CodecImpairment::G711_PLC,
        3 => CodecImpairment::GSM_FR,
        4 => CodecImpairment::G723_1,
        9 => CodecImpairment::G722,
        18 => CodecImpairment::G729,
        _ => return None,
    };
    Some(Payload {
        payload_type,
        clock_rate: 8000,
        codec: Some(codec),
    })
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

/// What the listening party's RTCP adds to the relay's view of a stream
/// ([`LossMeter::quality_with`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Heard {
    /// The listener's report block about the stream (RFC 3550 §6.4.1): loss and jitter
    /// end to end, the relay's leg included.
    pub report: Option<ReportBlock>,
    /// The round trip between the two parties: the listener's XR VoIP Metrics round-trip
    /// delay (RFC 3611 §4.7.3) when it sends one, else the sum of the legs the relay
    /// measured ([`crate::rtcp::RtcpSeen::round_trip`]).
    pub round_trip: Option<Duration>,
}

/// Packetization and buffering of a 20 ms stream, added to every mouth-to-ear delay.
const BASE_DELAY: Duration = Duration::from_millis(40);

impl LossMeter {
    /// Takes an RTP packet (version 2, at least the 12-byte fixed header, RFC 3550 §5.1);
    /// anything else is ignored. `payloads` names the stream's payload types.
    pub fn on_packet(&mut self, now: Instant, packet: &[u8], payloads: &PayloadMap) {
        if let Some(payload_type) = self.count(now, packet) {
            self.learn_payload_type(payload_type, payloads);
        }
    }

    /// Counts an RTP packet; jitter only for the rated payload type (not events or comfort
    /// noise between). Answers the payload type to look up while none is rated (the
    /// packet that brought it is counted untimed).
    #[inline]
    pub fn count(&mut self, now: Instant, packet: &[u8]) -> Option<u8> {
        let (Some(&first), Some(seq), Some(ssrc)) =
            (packet.first(), packet.get(2..4), packet.get(8..12))
        else {
            return None;
        };
        if first >> 6 != 2 {
            return None;
        }
        let seq = u16::from_be_bytes([seq[0], seq[1]]);
        let ssrc = u32::from_be_bytes([ssrc[0], ssrc[1], ssrc[2], ssrc[3]]);
        let payload_type = packet.get(1).map_or(NO_PAYLOAD_TYPE, |b| b & 0x7f);
        let timestamp = packet
            .get(4..8)
            .map_or(0, |t| u32::from_be_bytes([t[0], t[1], t[2], t[3]]));
        if self.stats.is_none() || self.ssrc != ssrc {
            self.lost_before = self.lost();
            self.ssrc = ssrc;
            self.stats = Some(ReceiverStats::new(seq, 8000));
            self.rated_pt = NO_PAYLOAD_TYPE;
            self.rated = None;
            self.unrated_pt = NO_PAYLOAD_TYPE;
        }
        let timed = payload_type == self.rated_pt;
        if let Some(stats) = &mut self.stats {
            stats.on_packet(now, seq, timestamp, 0, timed);
        }
        (!timed && self.rated_pt == NO_PAYLOAD_TYPE && payload_type != self.unrated_pt)
            .then_some(payload_type)
    }

    /// Looks a payload type up until one is rated: once per SSRC for a speech stream,
    /// out of the per-packet path.
    #[cold]
    #[inline(never)]
    pub fn learn_payload_type(&mut self, payload_type: u8, payloads: &PayloadMap) {
        match payloads.get(payload_type) {
            Some(Payload {
                clock_rate,
                codec: Some(codec),
                ..
            }) if clock_rate > 0 => {
                self.rated_pt = payload_type;
                self.rated = Some((clock_rate, codec));
                if let Some(stats) = &mut self.stats {
                    stats.set_clock_rate(clock_rate);
                }
            }
            _ => self.unrated_pt = payload_type,
        }
    }

    /// [`LossMeter::quality_with`] from the relay's view alone.
    pub fn quality(&self) -> Option<Quality> {
        self.quality_with(Heard::default())
    }

    /// The stream's jitter and quality estimate, for a rated stream that carried packets.
    /// Loss and jitter are the worse of what the relay measured and what the listener
    /// reported (its cumulative loss over the packets expected, RFC 3550 §6.4.1; its
    /// jitter at the stream's clock). The mouth-to-ear delay is half the round trip (when
    /// known), a jitter buffer of twice the jitter, and 40 ms of packetization and
    /// buffering; the codec is the payload type's ([`PayloadMap`]).
    pub fn quality_with(&self, heard: Heard) -> Option<Quality> {
        let stats = self.stats.as_ref()?;
        let (clock_rate, codec) = self.rated?;
        if stats.received() == 0 {
            return None;
        }
        let mut jitter = stats.jitter_duration();
        let mut loss = stats.loss_percent();
        if let Some(report) = heard.report {
            let reported_jitter =
                Duration::from_secs_f64(f64::from(report.jitter) / f64::from(clock_rate));
            jitter = jitter.max(reported_jitter);
            let expected = f64::from(stats.expected().max(1));
            let reported_loss = f64::from(report.cumulative_lost.max(0)) * 100.0 / expected;
            loss = loss.max(reported_loss.min(100.0));
        }
        let network = heard
            .round_trip
            .map_or(Duration::ZERO, rtp::quality::one_way_from_round_trip);
        let input = rtp::quality::EModelInput {
            one_way_delay: network + jitter * 2 + BASE_DELAY,
            packet_loss_percent: loss,
            burst_ratio: stats.burst_ratio(),
            codec,
            ..rtp::quality::EModelInput::default()
        };
        let mos = rtp::quality::mos_from_r(rtp::quality::r_factor(&input));
        Some(Quality {
            jitter_us: u64::try_from(jitter.as_micros()).unwrap_or(u64::MAX),
            mos_centi: (mos * 100.0).round().clamp(100.0, 450.0) as u16,
        })
    }

    /// The SSRC of the stream (the last one), once a packet arrived.
    pub fn ssrc(&self) -> Option<u32> {
        self.stats.as_ref().map(|_| self.ssrc)
    }

    /// The extended highest sequence number received (RFC 3550 A.1).
    pub fn highest_sequence(&self) -> Option<u32> {
        self.stats
            .as_ref()
            .map(ReceiverStats::extended_highest_sequence)
    }

    /// The interarrival jitter in RTP timestamp units, when the stream is rated.
    pub fn jitter_units(&self) -> Option<u32> {
        self.rated?;
        self.stats.as_ref().map(ReceiverStats::jitter)
    }

    /// The relay's reception of the stream as a report block (RFC 3550 §6.4.1): the loss
    /// over the whole stream as the fraction, LSR and DLSR 0 (the relay sends no SR).
    pub fn report_block(&self) -> Option<ReportBlock> {
        let stats = self.stats.as_ref()?;
        let lost = self.lost();
        let expected = u64::from(stats.expected()) + self.lost_before;
        let fraction = (lost.saturating_mul(256) / expected.max(1)).min(255);
        Some(ReportBlock {
            ssrc: self.ssrc,
            fraction_lost: u8::try_from(fraction).unwrap_or(u8::MAX),
            cumulative_lost: i32::try_from(lost).unwrap_or(i32::MAX),
            highest_sequence: stats.extended_highest_sequence(),
            jitter: self.jitter_units().unwrap_or(0),
            last_sr: 0,
            delay_since_last_sr: 0,
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
    /// The SRTP of this party's leg when the relay bridges the stream ([`crate::srtp`]).
    pub srtp: Option<crate::srtp::LegStats>,
    /// What this party's RTCP said, and the relay's reception of its RTP.
    pub report: PartyReport,
}

/// One party's side of a stream as a HEP RTCP report (type 5) shows it: what the party's
/// RTCP said as it passed ([`RtcpSeen`]), and the relay's own reception of the party's RTP
/// as a report block. Only the in-process relay has it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartyReport {
    /// Where the party's RTCP comes from (its latched RTCP source, else its RTP source).
    pub source: Option<SocketAddr>,
    /// The relay's RTCP address the party sends to (the address its SDP was rewritten
    /// with; unspecified when the relay advertises none and listens on every address).
    pub relay: Option<SocketAddr>,
    /// The party's RTCP.
    pub seen: RtcpSeen,
    /// The relay's reception of the party's RTP (RFC 3550 §6.4.1 fields over the whole
    /// call, LSR and DLSR 0), once a packet arrived.
    pub relay_block: Option<ReportBlock>,
}

/// A party's RTCP compound the relay read, kept for a live export (HEP) when the engine
/// is asked to ([`crate::EngineConfig::keep_rtcp_reports`]; [`crate::Engine::take_rtcp_sightings`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtcpSighting {
    /// The call's Call-ID.
    pub call_id: String,
    /// What the party's RTCP said so far, the compound just read included
    /// (`relay_block` is `None`: the relay's reception is reported at the session's end).
    pub report: PartyReport,
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
                    report: p.streams.first().map(|s| s.report.clone()),
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
    /// Jitter and quality of its RTP (the in-process relay's, of rated payload types).
    pub quality: Option<Quality>,
    /// Its RTCP and the relay's reception of its RTP, of its first stream (in-process
    /// relay only).
    pub report: Option<PartyReport>,
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

    impl LossMeter {
        fn on_packet_static(&mut self, now: Instant, packet: &[u8]) {
            self.on_packet(now, packet, &PayloadMap::default());
        }
    }

    fn payloads(sdp_media: &str) -> PayloadMap {
        let text = format!(
            "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n{sdp_media}"
        );
        let sdp = sdp::SessionDescription::from_bytes(text.as_bytes()).unwrap();
        let mut map = PayloadMap::default();
        map.update(&sdp.media()[0]);
        map
    }

    #[test]
    fn dynamic_payload_types_are_rated_by_their_rtpmap() {
        let t = Instant::now();
        let map = payloads(
            "m=audio 4000 RTP/AVP 111 101\r\na=rtpmap:111 opus/48000/2\r\n\
             a=rtpmap:101 telephone-event/8000\r\n",
        );
        assert_eq!(map.get(111).unwrap().clock_rate, 48000);
        assert_eq!(map.get(101).unwrap().codec, None);
        assert_eq!(map.get(0).unwrap().codec, Some(CodecImpairment::G711_PLC));
        let mut opus = LossMeter::default();
        // An event packet first (not rated, not timed), then 20 ms Opus packets (960
        // samples at 48 kHz) arriving every 20 ms, with events in between.
        opus.on_packet(t, &timed_rtp(101, 0, 0), &map);
        for i in 1..100u16 {
            let at = t + Duration::from_millis(20 * u64::from(i));
            opus.on_packet(at, &timed_rtp(111, i, 960 * u32::from(i)), &map);
            if i % 10 == 0 {
                opus.on_packet(at, &timed_rtp(101, i + 1000, 7), &map);
            }
        }
        let q = opus.quality().unwrap();
        assert_eq!(q.jitter_us, 0, "events do not count as jitter: {q:?}");
        assert!(q.mos_centi >= 430, "{q:?}");
        // iLBC rates lower than Opus (Ie 11 against 0).
        let map = payloads("m=audio 4000 RTP/AVP 97\r\na=rtpmap:97 iLBC/8000\r\n");
        let mut ilbc = LossMeter::default();
        for i in 0..100u16 {
            let at = t + Duration::from_millis(30 * u64::from(i));
            ilbc.on_packet(at, &timed_rtp(97, i, 240 * u32::from(i)), &map);
        }
        let i = ilbc.quality().unwrap();
        assert!(i.mos_centi < q.mos_centi && i.mos_centi > 380, "{i:?}");
        // Only events: nothing to rate.
        let mut events = LossMeter::default();
        for i in 0..10u16 {
            events.on_packet(t, &timed_rtp(101, i, 0), &map);
        }
        assert_eq!(events.quality(), None);
    }

    #[test]
    fn the_listeners_report_and_the_round_trip_pull_the_estimate_down() {
        let t = Instant::now();
        let mut m = LossMeter::default();
        for i in 0..500u16 {
            let at = t + Duration::from_millis(20 * u64::from(i));
            m.on_packet_static(at, &timed_rtp(0, i, 160 * u32::from(i)));
        }
        let alone = m.quality().unwrap();
        // The listener lost 25 of 500 behind the relay and saw 80 samples (10 ms) jitter.
        let report = ReportBlock {
            ssrc: 9,
            cumulative_lost: 25,
            jitter: 80,
            ..ReportBlock::default()
        };
        let lossy = m
            .quality_with(Heard {
                report: Some(report),
                round_trip: None,
            })
            .unwrap();
        assert_eq!(lossy.jitter_us, 10_000);
        assert!(
            lossy.mos_centi + 30 < alone.mos_centi,
            "{lossy:?} {alone:?}"
        );
        // A 600 ms round trip: 300 ms one way adds the delay impairment.
        let far = m
            .quality_with(Heard {
                report: None,
                round_trip: Some(Duration::from_millis(600)),
            })
            .unwrap();
        assert!(far.mos_centi + 10 < alone.mos_centi, "{far:?} {alone:?}");
        // The relay's reception as a report block.
        let block = m.report_block().unwrap();
        assert_eq!(
            (block.ssrc, block.cumulative_lost, block.highest_sequence),
            (9, 0, 499)
        );
    }

    #[test]
    fn a_steady_pcmu_stream_is_near_the_top_and_loss_and_jitter_pull_it_down() {
        let t = Instant::now();
        // 20 ms packets (160 samples at 8 kHz) arriving every 20 ms: no jitter, no loss.
        let mut steady = LossMeter::default();
        for i in 0..200u16 {
            let at = t + Duration::from_millis(20 * u64::from(i));
            steady.on_packet_static(at, &timed_rtp(0, i, 160 * u32::from(i)));
        }
        let q = steady.quality().unwrap();
        assert_eq!(q.jitter_us, 0);
        assert!(q.mos_centi >= 430, "{q:?}");
        // Every fifth packet lost, and arrivals off by up to 15 ms.
        let mut poor = LossMeter::default();
        for i in (0..200u16).filter(|i| i % 5 != 0) {
            let wobble = u64::from(i % 4) * 5;
            let at = t + Duration::from_millis(20 * u64::from(i) + wobble);
            poor.on_packet_static(at, &timed_rtp(8, i, 160 * u32::from(i)));
        }
        let p = poor.quality().unwrap();
        assert!(p.jitter_us > 1_000, "{p:?}");
        assert!(p.mos_centi < q.mos_centi - 100, "{p:?} against {q:?}");
        assert_eq!(poor.lost(), 39);
        // A dynamic payload type (its clock unknown here): loss only, no quality.
        let mut opus = LossMeter::default();
        for i in 0..10u16 {
            opus.on_packet_static(t, &timed_rtp(111, i, 960 * u32::from(i)));
        }
        assert_eq!(opus.quality(), None);
    }

    #[test]
    fn loss_is_expected_minus_received() {
        let t = Instant::now();
        let mut m = LossMeter::default();
        for seq in [10u16, 11, 12, 15, 16, 17] {
            m.on_packet_static(t + Duration::from_millis(u64::from(seq)), &rtp(seq, 7));
        }
        assert_eq!(m.lost(), 2);
    }

    #[test]
    fn loss_survives_a_new_ssrc_and_wraps() {
        let t = Instant::now();
        let mut m = LossMeter::default();
        for seq in [65533u16, 65534, 1, 2] {
            m.on_packet_static(t, &rtp(seq, 1));
        }
        assert_eq!(m.lost(), 2, "65535 and 0 missing across the wrap");
        for seq in [100u16, 101, 103] {
            m.on_packet_static(t, &rtp(seq, 2));
        }
        assert_eq!(m.lost(), 3);
    }

    #[test]
    fn non_rtp_is_ignored() {
        let mut m = LossMeter::default();
        m.on_packet_static(Instant::now(), &[0x80, 0]);
        m.on_packet_static(Instant::now(), &[0x40; 20]);
        assert_eq!(m.lost(), 0);
        assert!(m.stats.is_none());
    }
}
