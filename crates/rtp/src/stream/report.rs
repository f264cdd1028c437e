//! The call-quality report of a stream, for the phone's summary and the monitoring.

use std::fmt;
use std::time::Duration;

use super::MediaStream;
use crate::quality::{mos_from_r, r_factor, EModelInput};

/// What a stream sent, received and how good the call was. Plain values: the phone maps
/// them to its output format.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Report {
    /// RTP packets sent (audio and events).
    pub packets_sent: u64,
    /// Payload octets sent.
    pub octets_sent: u64,
    /// RTP packets received from the remote source(s), valid or not.
    pub packets_received: u64,
    /// Payload octets of those packets.
    pub octets_received: u64,
    /// Packets expected from the sequence numbers (RFC 3550 A.3).
    pub packets_expected: u64,
    /// Expected minus received (RFC 3550 A.3); negative with duplicates.
    pub packets_lost: i64,
    /// Lost packets in percent of those expected.
    pub loss_percent: f64,
    /// Audio packets that arrived too late to play (dropped by the jitter buffer).
    pub late_discarded: u64,
    /// Playout ticks concealed (lost, late, or underrun).
    pub concealed_frames: u64,
    /// Interarrival jitter (RFC 3550 A.8) in milliseconds.
    pub jitter_ms: f64,
    /// The jitter buffer's target delay at the end, in milliseconds.
    pub playout_delay_ms: f64,
    /// Round-trip time from the remote's last report (RFC 3550 §6.4.1), if it had an LSR.
    pub rtt_ms: Option<f64>,
    /// Our packets the remote reported lost (cumulative), from its last report block.
    pub remote_packets_lost: Option<i64>,
    /// The fraction of our packets the remote lost in its last report interval, percent.
    pub remote_fraction_lost_percent: Option<f64>,
    /// The interarrival jitter the remote measured on our packets, in milliseconds.
    pub remote_jitter_ms: Option<f64>,
    /// Telephone events received.
    pub events_received: u64,
    /// The E-model rating R of the received audio (ITU-T G.107, simplified); `None` when
    /// no audio was received.
    pub r_factor: Option<f64>,
    /// The MOS estimated from R (G.107 Annex B); `None` when no audio was received.
    pub mos: Option<f64>,
}

impl fmt::Display for Report {
    /// One line: `sent 250/40000 recv 248/39680 lost 2 (0.8%) jitter 1.2ms rtt 40.0ms
    /// R 89.1 MOS 4.31`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "sent {}/{} recv {}/{} lost {} ({:.1}%) late {} jitter {:.1}ms",
            self.packets_sent,
            self.octets_sent,
            self.packets_received,
            self.octets_received,
            self.packets_lost,
            self.loss_percent,
            self.late_discarded,
            self.jitter_ms
        )?;
        if let Some(rtt) = self.rtt_ms {
            write!(f, " rtt {rtt:.1}ms")?;
        }
        if let (Some(r), Some(mos)) = (self.r_factor, self.mos) {
            write!(f, " R {r:.1} MOS {mos:.2}")?;
        }
        Ok(())
    }
}

impl MediaStream {
    /// The call report so far.
    pub fn report(&self) -> Report {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let rate = f64::from(self.config.clock_rate);
        let jitter = self.jitter.stats();
        let mut report = Report {
            packets_sent: self.sender.packets,
            octets_sent: self.sender.octets,
            packets_received: self.retired.packets,
            octets_received: self.retired.octets,
            packets_expected: self.retired.expected,
            packets_lost: self.retired.lost,
            late_discarded: jitter.late,
            concealed_frames: jitter.missing,
            playout_delay_ms: ms(self.jitter.target_delay()),
            rtt_ms: self.rtt.map(ms),
            events_received: self.event_receiver.counters().events,
            ..Report::default()
        };
        let mut burst_ratio = 1.0;
        if let Some(stats) = &self.receiver {
            report.packets_received += stats.packets();
            report.octets_received += stats.octets();
            report.packets_expected += u64::from(stats.expected());
            report.packets_lost += stats.cumulative_lost();
            report.jitter_ms = ms(stats.jitter_duration());
            burst_ratio = stats.burst_ratio();
        }
        if report.packets_expected > 0 {
            report.loss_percent =
                report.packets_lost.max(0) as f64 * 100.0 / report.packets_expected as f64;
        }
        if let Some(view) = &self.remote_view {
            report.remote_packets_lost = Some(i64::from(view.block.cumulative_lost));
            report.remote_fraction_lost_percent =
                Some(f64::from(view.block.fraction_lost) * 100.0 / 256.0);
            report.remote_jitter_ms = Some(f64::from(view.block.jitter) * 1000.0 / rate);
        }
        if jitter.played > 0 {
            // Loss for the E-model: lost in the network or discarded as late.
            let impaired = report.packets_lost.max(0) as f64 + jitter.late as f64;
            let loss = if report.packets_expected > 0 {
                (impaired * 100.0 / report.packets_expected as f64).min(100.0)
            } else {
                0.0
            };
            // Mouth to ear: half the round trip, the playout delay, one packet of capture.
            let one_way =
                self.rtt.unwrap_or_default() / 2 + self.jitter.target_delay() + self.config.ptime;
            let r = r_factor(&EModelInput {
                one_way_delay: one_way,
                packet_loss_percent: loss,
                burst_ratio,
                codec: self.config.codec,
                advantage: 0.0,
            });
            report.r_factor = Some(r);
            report.mos = Some(mos_from_r(r));
        }
        report
    }
}
