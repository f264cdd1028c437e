//! What the parties' RTCP says as it passes through the relay ([`RtcpSeen`], one per side):
//! the sender information of their SRs, the report blocks of their SRs and RRs (what each
//! party *received*: RFC 3550 §6.4.1), the VoIP Metrics block of their XRs (RFC 3611
//! §4.7), and the round trip between the relay and each party, measured from the LSR and
//! DLSR of a party's report block on an SR the *other* party sent through the relay.
//!
//! ## Round trip per leg
//!
//! RFC 3550 §6.4.1 computes the round trip at the SR's sender as `A - LSR - DLSR`. The
//! relay sees the SR of party Y pass at `t_sr` (and remembers it by the middle 32 bits of
//! its NTP timestamp, the value that comes back as LSR) and later the report block of
//! party X that names it pass at `t_rr`: `t_rr - t_sr - DLSR` is the round trip between
//! the relay and X, on the relay's own clock (no NTP clock of either phone is trusted).
//! The two legs add up to the round trip between the phones.
//!
//! Parsing happens only for RTCP (rare: RFC 3550 §6.2 allots it 5 % of the session
//! bandwidth, a report every few seconds); the RTP path is unchanged. A datagram that is
//! not a valid compound (RFC 3550 A.2) is ignored here (it is still relayed).

use std::time::{Duration, Instant};

use rtp::ntp::short_to_duration;
use rtp::rtcp::{Compound, ReportBlock, RtcpPacket, SenderInfo, VoipMetrics, PT_RR};

/// SRs remembered per side for LSR matching: a report may name an SR older than the last.
const SR_MEMORY: usize = 4;

/// The RTCP one party sent, as the relay saw it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RtcpSeen {
    /// Valid compounds seen.
    pub compounds: u64,
    /// The packet type (200 SR, 201 RR) of the last compound's first packet.
    pub last_type: u8,
    /// The party's SSRC, as its last SR or RR gave it.
    pub ssrc: u32,
    /// The sender information of the party's last SR.
    pub sender_info: Option<SenderInfo>,
    /// The report blocks of the party's last SR or RR that had any: what it received.
    pub blocks: Vec<ReportBlock>,
    /// The VoIP Metrics block of the party's last XR (RFC 3611 §4.7).
    pub voip_metrics: Option<VoipMetrics>,
    /// The round trip between the relay and the party (see the module doc), the latest.
    pub round_trip: Option<Duration>,
    /// The party's last SRs: (middle 32 bits of the NTP timestamp, when it passed).
    srs: [Option<(u32, Instant)>; SR_MEMORY],
    next_sr: usize,
}

impl RtcpSeen {
    /// Takes a datagram the party sent on its RTCP port (or multiplexed on RTP, RFC 5761)
    /// at `now`; `other` is what the other party's RTCP showed (its SRs, for the round
    /// trip). Anything that is not a valid compound is ignored; answers whether it was
    /// read.
    pub fn on_datagram(&mut self, now: Instant, datagram: &[u8], other: &RtcpSeen) -> bool {
        let Ok(compound) = Compound::parse(datagram) else {
            return false;
        };
        self.compounds += 1;
        for (i, packet) in compound.packets().enumerate() {
            match packet {
                RtcpPacket::SenderReport(sr) => {
                    if i == 0 {
                        self.last_type = rtp::rtcp::PT_SR;
                    }
                    self.ssrc = sr.ssrc();
                    let info = sr.sender_info();
                    self.sender_info = Some(info);
                    self.srs[self.next_sr % SR_MEMORY] = Some((info.ntp.middle32(), now));
                    self.next_sr = (self.next_sr + 1) % SR_MEMORY;
                    self.take_blocks(now, sr.report_blocks(), other);
                }
                RtcpPacket::ReceiverReport(rr) => {
                    if i == 0 {
                        self.last_type = PT_RR;
                    }
                    self.ssrc = rr.ssrc();
                    self.take_blocks(now, rr.report_blocks(), other);
                }
                RtcpPacket::ExtendedReport(xr) => {
                    if let Some(vm) = xr.voip_metrics() {
                        self.voip_metrics = Some(vm);
                    }
                }
                _ => {}
            }
        }
        true
    }

    fn take_blocks(
        &mut self,
        now: Instant,
        blocks: impl ExactSizeIterator<Item = ReportBlock>,
        other: &RtcpSeen,
    ) {
        if blocks.len() == 0 {
            return;
        }
        self.blocks.clear();
        for block in blocks {
            if let Some(rtt) = other.round_trip_to(now, &block) {
                self.round_trip = Some(rtt);
            }
            self.blocks.push(block);
        }
    }

    /// The round trip a report block arriving at `now` shows, when it names one of this
    /// side's remembered SRs: `now - t_sr - DLSR` (RFC 3550 §6.4.1 on the relay's clock).
    fn round_trip_to(&self, now: Instant, block: &ReportBlock) -> Option<Duration> {
        if block.last_sr == 0 {
            return None;
        }
        let (_, passed) = self
            .srs
            .iter()
            .flatten()
            .find(|(lsr, _)| *lsr == block.last_sr)?;
        now.saturating_duration_since(*passed)
            .checked_sub(short_to_duration(block.delay_since_last_sr))
    }

    /// The report block about `ssrc` (the other party's stream), else the first one.
    pub fn block_about(&self, ssrc: Option<u32>) -> Option<&ReportBlock> {
        ssrc.and_then(|s| self.blocks.iter().find(|b| b.ssrc == s))
            .or_else(|| self.blocks.first())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use rtp::ntp::{duration_to_short, NtpTimestamp};
    use rtp::rtcp::{write_receiver_report, write_sender_report};

    fn sr(ssrc: u32, ntp: NtpTimestamp, blocks: &[ReportBlock]) -> Vec<u8> {
        let mut out = Vec::new();
        let info = SenderInfo {
            ntp,
            rtp_timestamp: 8000,
            packet_count: 50,
            octet_count: 8000,
        };
        write_sender_report(&mut out, ssrc, &info, blocks).unwrap();
        out
    }

    #[test]
    fn the_round_trip_of_each_leg_comes_from_lsr_and_dlsr() {
        let t = Instant::now();
        let mut caller = RtcpSeen::default();
        let mut callee = RtcpSeen::default();
        // The caller's SR passes the relay at t.
        let ntp = NtpTimestamp::from_parts(3_900_000_000, 0x8000_0000);
        caller.on_datagram(t, &sr(11, ntp, &[]), &callee);
        assert_eq!(caller.last_type, rtp::rtcp::PT_SR);
        assert_eq!(caller.ssrc, 11);
        assert_eq!(caller.sender_info.unwrap().packet_count, 50);
        // The callee answers 500 ms later with an RR about it, having held it 420 ms:
        // 80 ms between the relay and the callee.
        let block = ReportBlock {
            ssrc: 11,
            fraction_lost: 26,
            cumulative_lost: 7,
            highest_sequence: 1000,
            jitter: 160,
            last_sr: ntp.middle32(),
            delay_since_last_sr: duration_to_short(Duration::from_millis(420)),
        };
        let mut rr = Vec::new();
        write_receiver_report(&mut rr, 22, &[block]).unwrap();
        callee.on_datagram(t + Duration::from_millis(500), &rr, &caller);
        let rtt = callee.round_trip.unwrap();
        assert!(
            rtt.abs_diff(Duration::from_millis(80)) < Duration::from_millis(1),
            "{rtt:?}"
        );
        assert_eq!(callee.last_type, PT_RR);
        assert_eq!(callee.block_about(Some(11)), Some(&block));
        assert_eq!(callee.block_about(None), Some(&block));
        assert_eq!(caller.round_trip, None, "the caller reported nothing yet");
        // A block naming an SR never seen gives no round trip, and an empty RR keeps the
        // last blocks.
        let mut other = block;
        other.last_sr = 0x0102_0304;
        let mut rr = Vec::new();
        write_receiver_report(&mut rr, 22, &[other]).unwrap();
        let mut fresh = RtcpSeen::default();
        fresh.on_datagram(t, &rr, &caller);
        assert_eq!(fresh.round_trip, None);
        let mut empty = Vec::new();
        write_receiver_report(&mut empty, 22, &[]).unwrap();
        callee.on_datagram(t + Duration::from_secs(1), &empty, &caller);
        assert_eq!(callee.blocks, [block]);
        assert_eq!(callee.compounds, 2);
    }

    #[test]
    fn malformed_rtcp_is_ignored() {
        let mut seen = RtcpSeen::default();
        let t = Instant::now();
        for junk in [
            &[][..],
            &[0x80],
            &[0x80, 200, 0, 9, 1, 2],
            &[0x80, 0, 0, 0, 0, 0],
        ] {
            seen.on_datagram(t, junk, &RtcpSeen::default());
        }
        assert_eq!(seen, RtcpSeen::default());
    }
}
