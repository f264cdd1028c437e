//! Statistics of one RTP session, RFC 3550 Appendix A: what a receiver tracks about a source
//! ([`ReceiverStats`]: sequence validation A.1, loss A.3, interarrival jitter A.8, the last
//! SR for LSR/DLSR), what a sender counts ([`SenderStats`]), and the round-trip time from a
//! report block (§6.4.1, [`round_trip_time`]).

use std::time::{Duration, Instant};

use crate::ntp::{duration_to_short, short_to_duration, NtpTimestamp};
use crate::rtcp::ReportBlock;

/// A jump of the sequence number up to this size counts as packets lost (RFC 3550 A.1).
pub const MAX_DROPOUT: u16 = 3000;
/// A sequence number up to this far behind counts as a reordered or duplicate packet.
pub const MAX_MISORDER: u16 = 100;
/// Packets in sequence needed before a new source is valid (RFC 3550 A.1).
pub const MIN_SEQUENTIAL: u8 = 2;

const SEQ_MOD: u32 = 1 << 16;

/// What [`ReceiverStats::on_packet`] made of a packet's sequence number (RFC 3550 A.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SequenceCheck {
    /// Counted: in sequence, after a gap, reordered or duplicated.
    Valid,
    /// The source is still on probation (fewer than [`MIN_SEQUENTIAL`] packets in
    /// sequence); not counted.
    Probation,
    /// A jump beyond [`MAX_DROPOUT`]; not counted. A second packet following it in
    /// sequence restarts the statistics (the source restarted its sequence).
    BadSequence,
    /// The packet after a [`SequenceCheck::BadSequence`] confirmed the jump: statistics
    /// restarted from this packet, which is counted.
    Restarted,
}

/// Reception statistics of one source (RFC 3550 A.1, A.3, A.8).
#[derive(Debug, Clone)]
pub struct ReceiverStats {
    clock_rate: u32,
    // A.1 state
    max_seq: u16,
    cycles: u32,
    base_seq: u32,
    bad_seq: u32,
    probation: u8,
    received: u32,
    // A.3 state
    expected_prior: u32,
    received_prior: u32,
    // A.8 state
    epoch: Option<Instant>,
    transit: Option<i64>,
    /// Jitter in timestamp units, scaled by 16 (the RFC's integer form).
    jitter_q4: u32,
    // Everything received, valid or not.
    packets: u64,
    octets: u64,
    // Loss runs (gaps in sequence), for the burst ratio.
    loss_runs: u64,
    lost_in_runs: u64,
    // Last SR from this source.
    last_sr: Option<(u32, Instant)>,
}

impl ReceiverStats {
    /// Statistics of a source first heard with sequence number `first_seq`, at the media
    /// clock rate `clock_rate`. The first packet must still be passed to
    /// [`ReceiverStats::on_packet`].
    pub fn new(first_seq: u16, clock_rate: u32) -> Self {
        let mut s = ReceiverStats {
            clock_rate: clock_rate.max(1),
            max_seq: 0,
            cycles: 0,
            base_seq: 0,
            bad_seq: SEQ_MOD + 1,
            probation: MIN_SEQUENTIAL,
            received: 0,
            expected_prior: 0,
            received_prior: 0,
            epoch: None,
            transit: None,
            jitter_q4: 0,
            packets: 0,
            octets: 0,
            loss_runs: 0,
            lost_in_runs: 0,
            last_sr: None,
        };
        s.init_seq(first_seq);
        s.max_seq = first_seq.wrapping_sub(1);
        s
    }

    /// RFC 3550 A.1 `init_seq`.
    fn init_seq(&mut self, seq: u16) {
        self.base_seq = u32::from(seq);
        self.max_seq = seq;
        self.bad_seq = SEQ_MOD + 1;
        self.cycles = 0;
        self.received = 0;
        self.received_prior = 0;
        self.expected_prior = 0;
        self.loss_runs = 0;
        self.lost_in_runs = 0;
    }

    /// RFC 3550 A.1 `update_seq`.
    fn update_seq(&mut self, seq: u16) -> SequenceCheck {
        let udelta = seq.wrapping_sub(self.max_seq);
        if self.probation > 0 {
            if seq == self.max_seq.wrapping_add(1) {
                self.probation -= 1;
                self.max_seq = seq;
                if self.probation == 0 {
                    self.init_seq(seq);
                    self.received += 1;
                    return SequenceCheck::Valid;
                }
            } else {
                self.probation = MIN_SEQUENTIAL - 1;
                self.max_seq = seq;
            }
            return SequenceCheck::Probation;
        }
        let mut check = SequenceCheck::Valid;
        if udelta < MAX_DROPOUT {
            if udelta > 1 {
                self.loss_runs += 1;
                self.lost_in_runs += u64::from(udelta - 1);
            }
            if seq < self.max_seq {
                self.cycles = self.cycles.wrapping_add(SEQ_MOD);
            }
            self.max_seq = seq;
        } else if u32::from(udelta) <= SEQ_MOD - u32::from(MAX_MISORDER) {
            if u32::from(seq) == self.bad_seq {
                self.init_seq(seq);
                check = SequenceCheck::Restarted;
            } else {
                self.bad_seq = (u32::from(seq) + 1) & (SEQ_MOD - 1);
                return SequenceCheck::BadSequence;
            }
        }
        // Otherwise a duplicate or reordered packet: counted.
        self.received = self.received.wrapping_add(1);
        check
    }

    /// Takes a received packet: arrival time, sequence number, RTP timestamp and payload
    /// size. `timing` says whether the packet's timestamp reflects its sampling instant
    /// (audio) and so enters the jitter estimate; telephone-event packets repeat their
    /// event's timestamp and should pass `false`.
    pub fn on_packet(
        &mut self,
        now: Instant,
        seq: u16,
        timestamp: u32,
        payload_len: usize,
        timing: bool,
    ) -> SequenceCheck {
        self.packets += 1;
        self.octets += payload_len as u64;
        let check = self.update_seq(seq);
        if timing && matches!(check, SequenceCheck::Valid | SequenceCheck::Restarted) {
            self.update_jitter(now, timestamp);
        }
        check
    }

    /// RFC 3550 A.8: J += (|D| - J) / 16, in timestamp units.
    fn update_jitter(&mut self, now: Instant, timestamp: u32) {
        let epoch = *self.epoch.get_or_insert(now);
        let arrival = (now.saturating_duration_since(epoch).as_nanos()
            * u128::from(self.clock_rate)
            / 1_000_000_000) as u32;
        // Transit modulo 2^32, as a signed value: only differences matter.
        let transit = i64::from(arrival.wrapping_sub(timestamp) as i32);
        if let Some(prior) = self.transit {
            let d = (transit - prior)
                .unsigned_abs()
                .min(u64::from(u32::MAX >> 4)) as u32;
            self.jitter_q4 = self
                .jitter_q4
                .wrapping_add(d)
                .wrapping_sub((self.jitter_q4 + 8) >> 4);
        }
        self.transit = Some(transit);
    }

    /// Changes the media clock rate (the payload type of the source became known later than
    /// its first packet) and restarts the jitter estimate's transit reference.
    pub fn set_clock_rate(&mut self, clock_rate: u32) {
        self.clock_rate = clock_rate.max(1);
        self.transit = None;
    }

    /// Restarts the jitter estimate's transit reference (after a timestamp jump).
    pub fn reset_transit(&mut self) {
        self.transit = None;
    }

    /// Takes an SR from this source: LSR and DLSR of the next report block come from it
    /// (RFC 3550 §6.4.1).
    pub fn on_sender_report(&mut self, now: Instant, ntp: NtpTimestamp) {
        self.last_sr = Some((ntp.middle32(), now));
    }

    /// Whether the source has passed probation.
    pub fn is_valid(&self) -> bool {
        self.probation == 0
    }

    /// The extended highest sequence number received: cycles in the high 16 bits.
    pub fn extended_highest_sequence(&self) -> u32 {
        self.cycles.wrapping_add(u32::from(self.max_seq))
    }

    /// Packets expected since the source became valid (RFC 3550 A.3).
    pub fn expected(&self) -> u32 {
        if !self.is_valid() {
            return 0;
        }
        self.extended_highest_sequence()
            .wrapping_sub(self.base_seq)
            .wrapping_add(1)
    }

    /// Valid packets received since the source became valid, duplicates included.
    pub fn received(&self) -> u32 {
        self.received
    }

    /// Expected minus received (RFC 3550 A.3); negative when duplicates arrived.
    pub fn cumulative_lost(&self) -> i64 {
        i64::from(self.expected()) - i64::from(self.received)
    }

    /// Lost packets as a percentage of those expected (0 when nothing was expected).
    pub fn loss_percent(&self) -> f64 {
        let expected = self.expected();
        if expected == 0 {
            return 0.0;
        }
        (self.cumulative_lost().max(0) as f64) * 100.0 / f64::from(expected)
    }

    /// Interarrival jitter in timestamp units (RFC 3550 A.8).
    pub fn jitter(&self) -> u32 {
        self.jitter_q4 >> 4
    }

    /// Interarrival jitter as a duration.
    pub fn jitter_duration(&self) -> Duration {
        Duration::from_secs_f64(f64::from(self.jitter_q4) / 16.0 / f64::from(self.clock_rate))
    }

    /// Every packet handed in, valid or not.
    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// Payload octets of every packet handed in.
    pub fn octets(&self) -> u64 {
        self.octets
    }

    /// The burst ratio of ITU-T G.107 §3.9: the mean length of observed loss runs divided
    /// by the mean run length random loss at the same rate would give, `1 / (1 - p)`.
    /// 1.0 without loss. Runs are measured from gaps in the sequence at arrival, so a
    /// reordered packet counts in a run although it arrived later.
    pub fn burst_ratio(&self) -> f64 {
        if self.loss_runs == 0 {
            return 1.0;
        }
        let mean_run = self.lost_in_runs as f64 / self.loss_runs as f64;
        let p = (self.loss_percent() / 100.0).clamp(0.0, 0.99);
        (mean_run * (1.0 - p)).max(f64::MIN_POSITIVE)
    }

    /// The report block about this source (RFC 3550 §6.4.1) at `now`. Starts a new interval
    /// for the fraction lost (RFC 3550 A.3).
    pub fn report_block(&mut self, ssrc: u32, now: Instant) -> ReportBlock {
        let expected = self.expected();
        let expected_interval = expected.wrapping_sub(self.expected_prior);
        self.expected_prior = expected;
        let received_interval = self.received.wrapping_sub(self.received_prior);
        self.received_prior = self.received;
        let lost_interval = i64::from(expected_interval) - i64::from(received_interval);
        let fraction_lost = if expected_interval == 0 || lost_interval <= 0 {
            0
        } else {
            ((lost_interval << 8) / i64::from(expected_interval)).min(255) as u8
        };
        let (last_sr, delay_since_last_sr) = match self.last_sr {
            Some((lsr, at)) => (lsr, duration_to_short(now.saturating_duration_since(at))),
            None => (0, 0),
        };
        ReportBlock {
            ssrc,
            fraction_lost,
            cumulative_lost: self
                .cumulative_lost()
                .clamp(i64::from(i32::MIN), i64::from(i32::MAX))
                as i32,
            highest_sequence: self.extended_highest_sequence(),
            jitter: self.jitter(),
            last_sr,
            delay_since_last_sr,
        }
    }
}

/// What a sender counts for its SR (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SenderStats {
    /// RTP data packets sent.
    pub packets: u64,
    /// Payload octets sent (headers and padding excluded).
    pub octets: u64,
}

impl SenderStats {
    /// Counts one packet sent with a payload of `payload_len` octets.
    pub fn on_sent(&mut self, payload_len: usize) {
        self.packets += 1;
        self.octets += payload_len as u64;
    }
}

/// The round-trip time a report block shows (RFC 3550 §6.4.1): the arrival time of the
/// report minus the LSR and DLSR it carries, `arrival` being the NTP time at which the
/// report arrived on the clock that stamped our SR. `None` when the block has no LSR (no SR
/// heard yet) or the result is negative (inconsistent clocks).
pub fn round_trip_time(arrival: NtpTimestamp, block: &ReportBlock) -> Option<Duration> {
    if block.last_sr == 0 {
        return None;
    }
    let rtt = arrival
        .middle32()
        .wrapping_sub(block.last_sr)
        .wrapping_sub(block.delay_since_last_sr);
    if (rtt as i32) < 0 {
        return None;
    }
    Some(short_to_duration(rtt))
}

#[cfg(test)]
mod tests;
