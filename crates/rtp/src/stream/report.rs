//! The call-quality report of a stream, for the phone's summary and the monitoring.

use std::fmt;

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
