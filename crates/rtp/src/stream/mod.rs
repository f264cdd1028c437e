//! One RTP session, sans-IO: [`MediaStream`] builds the packets to send (audio frames the
//! caller encoded, RFC 4733 digits, RTCP reports), takes the packets received (audio into
//! the jitter buffer, events into the event receiver, RTCP into the statistics) and ends
//! with a [`Report`].
//!
//! The caller owns the sockets and the clock:
//!
//! - every `ptime`: encode a frame, [`MediaStream::send_audio`], send the bytes; and
//!   [`MediaStream::pop_audio`] a frame to decode and play;
//! - on each datagram: [`MediaStream::receive_rtp`] or [`MediaStream::receive_rtcp`];
//! - at [`MediaStream::poll_timeout`] (and after the calls above): drain
//!   [`MediaStream::poll_transmit`] and [`MediaStream::poll_event`];
//! - at the end: [`MediaStream::close`], drain `poll_transmit` (the BYE), then
//!   [`MediaStream::report`].
//!
//! ## Time
//!
//! Monotonic time (`Instant`) drives everything. RTCP needs wall-clock NTP timestamps: the
//! stream maps an `Instant` to wall-clock time from an anchor pair (`Instant`,
//! `SystemTime`) given to [`MediaStream::new`] and renewed by each
//! [`MediaStream::receive_rtcp`]. The NTP time stamped into our SRs and the arrival time of
//! the report blocks that echo them come from that one mapping, so the RTT does not depend
//! on how well the wall clock agrees with the remote's.
//!
//! ## RTCP timing
//!
//! RFC 3550 §6.2/§6.3.1 for a two-party audio call: the bandwidth-derived interval is far
//! below the 5 s minimum, so the interval is the minimum, `rtcp_interval`; the first report
//! goes out after half of it (§6.2). With [`StreamConfig::rtcp_randomization`] each interval
//! is multiplied by a uniform factor in [0.5, 1.5] from a generator seeded by the caller and
//! divided by e − 3/2 (§6.3.1); without it the interval is exact.

mod config;
mod report;
mod rtcp;

pub use config::StreamConfig;
pub use report::Report;

use std::time::{Duration, Instant, SystemTime};

use crate::error::Error;
use crate::event::{EventReceiver, EventSender, EventSenderConfig, ReceivedEvent, TelephoneEvent};
use crate::jitter::{JitterBuffer, JitterConfig, Playout, PushOutcome};
use crate::packet::{RtpHeader, RtpPacket};
use crate::rtcp::ReportBlock;
use crate::stats::{ReceiverStats, SenderStats};

/// Which socket a packet goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// The RTP port.
    Rtp,
    /// The RTCP port (the RTP port with rtcp-mux, RFC 5761).
    Rtcp,
}

/// A packet to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Where it goes.
    pub channel: Channel,
    /// The datagram.
    pub bytes: Vec<u8>,
}

/// What [`MediaStream::receive_rtp`] did with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// Audio, handed to the jitter buffer with this outcome.
    Audio(PushOutcome),
    /// A telephone event; digits come out of [`MediaStream::poll_event`].
    Event(TelephoneEvent),
    /// Another payload type (comfort noise, an unnegotiated codec): counted, not played.
    OtherPayloadType(u8),
}

/// What [`MediaStream::receive_rtcp`] found in a compound packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RtcpReceived {
    /// A sender report from the remote source.
    pub sender_report: bool,
    /// A report block about our packets.
    pub report_about_us: bool,
    /// The round-trip time that block gave.
    pub rtt: Option<Duration>,
    /// The remote source said BYE.
    pub bye: bool,
}

/// The remote's view of our packets, from its last report block about us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RemoteView {
    block: ReportBlock,
}

/// Reception totals of remote sources replaced by an SSRC change.
#[derive(Debug, Clone, Copy, Default)]
struct Retired {
    packets: u64,
    octets: u64,
    expected: u64,
    lost: i64,
}

/// One sans-IO RTP session: see the module documentation.
#[derive(Debug, Clone)]
pub struct MediaStream {
    config: StreamConfig,
    samples_per_packet: u32,
    // Sending.
    next_sequence: u16,
    /// The RTP clock: an instant and the timestamp it stands for, set by the first packet.
    clock: Option<(Instant, u32)>,
    last_audio: Option<Instant>,
    sender: SenderStats,
    sent_since_report: bool,
    events: EventSender,
    // Receiving.
    remote_ssrc: Option<u32>,
    receiver: Option<ReceiverStats>,
    retired: Retired,
    jitter: JitterBuffer,
    event_receiver: EventReceiver,
    // RTCP.
    anchor: (Instant, SystemTime),
    next_report: Instant,
    rng: Option<u64>,
    rtt: Option<Duration>,
    remote_view: Option<RemoteView>,
    remote_cname: Option<String>,
    remote_bye: bool,
    bye_pending: bool,
    closed: bool,
}

impl MediaStream {
    /// A stream starting at `now`, when the wall clock reads `wall`.
    pub fn new(config: StreamConfig, now: Instant, wall: SystemTime) -> Result<Self, Error> {
        config.validate()?;
        let jitter = JitterBuffer::new(JitterConfig {
            clock_rate: config.clock_rate,
            frame_duration: config.ptime,
            ..config.jitter
        });
        let events = EventSender::new(EventSenderConfig {
            clock_rate: config.clock_rate,
            packet_interval: config.ptime,
            ..config.events
        });
        let mut stream = MediaStream {
            samples_per_packet: config.samples_per_packet(),
            next_sequence: config.initial_sequence,
            clock: None,
            last_audio: None,
            sender: SenderStats::default(),
            sent_since_report: false,
            events,
            remote_ssrc: None,
            receiver: None,
            retired: Retired::default(),
            jitter,
            event_receiver: EventReceiver::new(config.event_hold),
            anchor: (now, wall),
            next_report: now,
            rng: config.rtcp_randomization.map(|seed| seed | 1),
            rtt: None,
            remote_view: None,
            remote_cname: None,
            remote_bye: false,
            bye_pending: false,
            closed: false,
            config,
        };
        stream.next_report = now + stream.report_interval() / 2;
        Ok(stream)
    }

    /// The configuration.
    pub fn config(&self) -> &StreamConfig {
        &self.config
    }

    // ---------------------------------------------------------------- sending

    /// The RTP packet carrying one encoded frame captured for `now`. The timestamp advances
    /// one ptime per packet; after a pause in sending (silence suppression, a held call, a
    /// digit) it jumps by the time elapsed and the marker bit starts the talkspurt (RFC 3551
    /// §4.1), as it does on the first packet. Empty after [`MediaStream::close`].
    pub fn send_audio(&mut self, now: Instant, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(12 + payload.len());
        self.send_audio_into(now, payload, &mut out);
        out
    }

    /// [`MediaStream::send_audio`] appending to a buffer the caller reuses.
    pub fn send_audio_into(&mut self, now: Instant, payload: &[u8], out: &mut Vec<u8>) {
        if self.closed || self.bye_pending {
            return;
        }
        let continuing = self
            .last_audio
            .is_some_and(|last| now.saturating_duration_since(last) <= self.config.ptime * 3 / 2);
        let timestamp = match (continuing, self.clock) {
            (true, Some((_, ts))) => ts.wrapping_add(self.samples_per_packet),
            _ => self.timestamp_at(now),
        };
        self.clock = Some((now, timestamp));
        self.last_audio = Some(now);
        let header = RtpHeader {
            marker: !continuing,
            payload_type: self.config.payload_type,
            sequence: self.next_sequence,
            timestamp,
            ssrc: self.config.ssrc,
            ..RtpHeader::default()
        };
        self.write_rtp(&header, payload, out);
    }

    /// Queues a DTMF digit (`0`-`9`, `*`, `#`, `A`-`D`) as RFC 4733 events; its packets come
    /// out of [`MediaStream::poll_transmit`]. Audio may go on meanwhile; a caller that
    /// prefers to pause it while [`MediaStream::sending_digits`] (RFC 4733 §2.5.1.1 allows
    /// both) gets a talkspurt marker when it resumes.
    pub fn send_digit(&mut self, now: Instant, digit: char) -> Result<(), Error> {
        if self.config.telephone_event.is_none() {
            return Err(Error::NoTelephoneEvent);
        }
        self.events.push_digit(now, digit)
    }

    /// Queues a DTMF digit with its own tone duration.
    pub fn send_digit_for(
        &mut self,
        now: Instant,
        digit: char,
        duration: Duration,
    ) -> Result<(), Error> {
        if self.config.telephone_event.is_none() {
            return Err(Error::NoTelephoneEvent);
        }
        self.events.push_digit_for(now, digit, duration)
    }

    /// Whether digits are still being sent.
    pub fn sending_digits(&self) -> bool {
        !self.events.is_idle()
    }

    /// The next packet due at `now`: event packets first, then the RTCP report.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Transmit> {
        if self.closed {
            return None;
        }
        if let Some(pt) = self.config.telephone_event {
            let ts_now = self.timestamp_at(now);
            if let Some(p) = self.events.poll_transmit(now, ts_now) {
                if self.clock.is_none() {
                    self.clock = Some((now, ts_now));
                }
                let header = RtpHeader {
                    marker: p.marker,
                    payload_type: pt,
                    sequence: self.next_sequence,
                    timestamp: p.timestamp,
                    ssrc: self.config.ssrc,
                    ..RtpHeader::default()
                };
                let mut bytes = Vec::with_capacity(16);
                self.write_rtp(&header, &p.event.encode(), &mut bytes);
                return Some(Transmit {
                    channel: Channel::Rtp,
                    bytes,
                });
            }
        }
        if self.bye_pending || now >= self.next_report {
            let bye = self.bye_pending;
            let bytes = self.build_report(now, bye);
            if bye {
                self.bye_pending = false;
                self.closed = true;
            } else {
                self.next_report = now + self.report_interval();
            }
            return Some(Transmit {
                channel: Channel::Rtcp,
                bytes,
            });
        }
        None
    }

    /// When [`MediaStream::poll_transmit`] or [`MediaStream::poll_event`] next have
    /// something, playout ticks aside (those run every ptime on the caller's clock).
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.closed {
            return None;
        }
        [
            Some(self.next_report),
            self.events.poll_timeout(),
            self.event_receiver.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Ends the session: the next [`MediaStream::poll_transmit`] gives the last report with
    /// a BYE (RFC 3550 §6.6), after which nothing more is sent.
    pub fn close(&mut self) {
        if !self.closed {
            self.bye_pending = true;
        }
    }

    /// Whether the BYE has been handed out.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    fn write_rtp(&mut self, header: &RtpHeader<'_>, payload: &[u8], out: &mut Vec<u8>) {
        let start = out.len();
        // Cannot fail: the payload types were checked by `new`, no CSRC, no extension.
        if header.write_to_vec(payload, out).is_err() {
            out.truncate(start);
            return;
        }
        self.next_sequence = self.next_sequence.wrapping_add(1);
        self.sender.on_sent(payload.len());
        self.sent_since_report = true;
    }

    /// The RTP timestamp standing for `now` on our media clock.
    fn timestamp_at(&self, now: Instant) -> u32 {
        match self.clock {
            Some((at, ts)) => {
                let ahead = now >= at;
                let delta = if ahead { now - at } else { at - now };
                let units =
                    (delta.as_nanos() * u128::from(self.config.clock_rate) / 1_000_000_000) as u32;
                if ahead {
                    ts.wrapping_add(units)
                } else {
                    ts.wrapping_sub(units)
                }
            }
            None => self.config.initial_timestamp,
        }
    }

    // ---------------------------------------------------------------- receiving

    /// Takes an RTP datagram that arrived at `now`.
    pub fn receive_rtp(&mut self, now: Instant, bytes: &[u8]) -> Result<Received, Error> {
        let packet = RtpPacket::parse(bytes)?;
        let ssrc = packet.ssrc();
        if self.remote_ssrc != Some(ssrc) {
            self.switch_source(ssrc, packet.sequence());
        }
        let payload_type = packet.payload_type();
        let audio = payload_type == self.config.payload_type;
        let stats = self
            .receiver
            .get_or_insert_with(|| ReceiverStats::new(packet.sequence(), self.config.clock_rate));
        stats.on_packet(
            now,
            packet.sequence(),
            packet.timestamp(),
            packet.payload().len(),
            audio,
        );
        if audio {
            let outcome =
                self.jitter
                    .push(now, packet.sequence(), packet.timestamp(), packet.payload());
            return Ok(Received::Audio(outcome));
        }
        if Some(payload_type) == self.config.telephone_event {
            let event = TelephoneEvent::decode(packet.payload())?;
            self.event_receiver.receive(now, packet.timestamp(), &event);
            return Ok(Received::Event(event));
        }
        Ok(Received::OtherPayloadType(payload_type))
    }

    /// A new remote SSRC: statistics, jitter buffer and event receiver start over; the
    /// totals so far are kept for the report.
    fn switch_source(&mut self, ssrc: u32, first_sequence: u16) {
        if let Some(old) = self.receiver.take() {
            self.retired.packets += old.packets();
            self.retired.octets += old.octets();
            self.retired.expected += u64::from(old.expected());
            self.retired.lost += old.cumulative_lost();
            self.jitter.reset();
            self.event_receiver.reset();
        }
        self.remote_ssrc = Some(ssrc);
        self.receiver = Some(ReceiverStats::new(first_sequence, self.config.clock_rate));
    }

    /// The playout tick at `now`: the next audio frame to decode, or what to do instead.
    pub fn pop_audio(&mut self, now: Instant) -> Playout {
        self.jitter.pop(now)
    }

    /// The next telephone event received, in order, once each.
    pub fn poll_event(&mut self, now: Instant) -> Option<ReceivedEvent> {
        self.event_receiver.poll_event(now)
    }

    /// The remote's CNAME, once an SDES gave it.
    pub fn remote_cname(&self) -> Option<&str> {
        self.remote_cname.as_deref()
    }

    /// The remote source's SSRC, once a packet arrived.
    pub fn remote_ssrc(&self) -> Option<u32> {
        self.remote_ssrc
    }

    /// Whether the remote source said BYE.
    pub fn remote_left(&self) -> bool {
        self.remote_bye
    }

    /// The latest round-trip time.
    pub fn rtt(&self) -> Option<Duration> {
        self.rtt
    }

    /// The jitter buffer (for its counters and delay).
    pub fn jitter_buffer(&self) -> &JitterBuffer {
        &self.jitter
    }
}

#[cfg(test)]
mod tests;
