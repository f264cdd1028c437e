//! The sending side of RFC 4733 §2.5.1: each queued digit becomes a series of packets one
//! packet interval apart, all with the RTP timestamp of the event's start, the marker bit on
//! the first, a duration that grows by one interval per packet, and the final packet (E bit,
//! full duration) sent three times. Digits follow each other with a pause between tones.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::{digit_to_event, TelephoneEvent};
use crate::error::Error;

/// How the sender shapes events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventSenderConfig {
    /// The RTP clock rate of the stream (8000 for the narrow-band codecs).
    pub clock_rate: u32,
    /// Time between packets of one event (RFC 4733 §2.5.1.2 suggests the audio ptime).
    pub packet_interval: Duration,
    /// How long each tone lasts unless the digit says otherwise. Tones longer than 65,535
    /// timestamp units (8.19 s at 8 kHz) are cut to that length (no §2.5.2.3 segments).
    pub tone_duration: Duration,
    /// The pause between the end of one tone and the start of the next.
    pub gap: Duration,
    /// The power level in -dBm0 (RFC 4733 §2.3.4), 0-63.
    pub volume: u8,
    /// How many times the final packet is sent (RFC 4733 §2.5.1.4: three).
    pub end_repeats: u8,
}

impl Default for EventSenderConfig {
    /// 8 kHz, 20 ms packets, 100 ms tones with 50 ms pauses, -10 dBm0, three end packets.
    fn default() -> Self {
        EventSenderConfig {
            clock_rate: 8000,
            packet_interval: Duration::from_millis(20),
            tone_duration: Duration::from_millis(100),
            gap: Duration::from_millis(50),
            volume: 10,
            end_repeats: 3,
        }
    }
}

/// One event packet to send: the stream puts it in an RTP packet with the telephone-event
/// payload type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventPacket {
    /// The marker bit: set on the first packet of an event (RFC 4733 §2.5.1.3).
    pub marker: bool,
    /// The RTP timestamp of the event's start, the same for all its packets.
    pub timestamp: u32,
    /// The payload.
    pub event: TelephoneEvent,
}

/// The event being sent.
#[derive(Debug, Clone, Copy)]
struct Current {
    event: u8,
    timestamp: u32,
    started: Instant,
    total_units: u16,
    /// Packets sent so far, the end repeats included.
    sent: u32,
    next_due: Instant,
}

/// The RFC 4733 sender state machine. Sans-IO: [`EventSender::poll_transmit`] hands out the
/// packets that are due, [`EventSender::poll_timeout`] says when the next one is.
#[derive(Debug, Clone)]
pub struct EventSender {
    config: EventSenderConfig,
    queue: VecDeque<(u8, Duration)>,
    current: Option<Current>,
    /// The earliest start of the next event.
    next_start: Option<Instant>,
}

impl EventSender {
    /// A sender with nothing queued. The packet interval is brought into 1 ms–1 s and the
    /// gap to at most 10 s.
    pub fn new(config: EventSenderConfig) -> Self {
        EventSender {
            config: EventSenderConfig {
                packet_interval: config
                    .packet_interval
                    .clamp(Duration::from_millis(1), Duration::from_secs(1)),
                gap: config.gap.min(Duration::from_secs(10)),
                ..config
            },
            queue: VecDeque::new(),
            current: None,
            next_start: None,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &EventSenderConfig {
        &self.config
    }

    /// Queues a DTMF digit (`0`-`9`, `*`, `#`, `A`-`D`) with the configured tone duration.
    pub fn push_digit(&mut self, now: Instant, digit: char) -> Result<(), Error> {
        self.push_digit_for(now, digit, self.config.tone_duration)
    }

    /// Queues a DTMF digit with its own tone duration.
    pub fn push_digit_for(
        &mut self,
        now: Instant,
        digit: char,
        duration: Duration,
    ) -> Result<(), Error> {
        let event = digit_to_event(digit)?;
        self.push_event(now, event, duration);
        Ok(())
    }

    /// Queues any event code (16 is the hook flash) for `duration`.
    pub fn push_event(&mut self, now: Instant, event: u8, duration: Duration) {
        self.queue.push_back((event, duration));
        if self.current.is_none() && self.next_start.is_none_or(|t| t < now) {
            self.next_start = Some(now);
        }
    }

    /// Whether nothing is being sent or queued.
    pub fn is_idle(&self) -> bool {
        self.current.is_none() && self.queue.is_empty()
    }

    /// Digits queued and not yet started.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// When the next packet is due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.current {
            Some(c) => Some(c.next_due),
            None if !self.queue.is_empty() => self.next_start,
            None => None,
        }
    }

    /// The next packet due at `now`, if any. `rtp_timestamp_now` is the stream's RTP
    /// timestamp for `now`; the sender keeps the value it had when an event starts.
    pub fn poll_transmit(&mut self, now: Instant, rtp_timestamp_now: u32) -> Option<EventPacket> {
        if self.current.is_none() {
            if self.next_start.is_some_and(|t| t > now) {
                return None;
            }
            let (event, duration) = self.queue.pop_front()?;
            let total_units = self.units(duration).clamp(1, u64::from(u16::MAX)) as u16;
            self.current = Some(Current {
                event,
                timestamp: rtp_timestamp_now,
                started: now,
                total_units,
                sent: 0,
                next_due: now,
            });
        }
        let interval_units = self.units(self.config.packet_interval).max(1);
        let interval = self.config.packet_interval;
        let repeats = u32::from(self.config.end_repeats.max(1));
        let gap = self.config.gap;
        let volume = self.config.volume;
        let clock_rate = self.config.clock_rate;
        let c = self.current.as_mut()?;
        if c.next_due > now {
            return None;
        }
        let covered = (u64::from(c.sent) + 1).saturating_mul(interval_units);
        let end = covered >= u64::from(c.total_units);
        let duration = covered.min(u64::from(c.total_units)) as u16;
        let packet = EventPacket {
            marker: c.sent == 0,
            timestamp: c.timestamp,
            event: TelephoneEvent {
                event: c.event,
                end,
                volume,
                duration,
            },
        };
        c.sent += 1;
        let first_end = u64::from(c.total_units).div_ceil(interval_units) as u32;
        if c.sent >= first_end + repeats - 1 {
            // The last repeat of the end packet: the next tone starts after the gap, and
            // not before the next packet interval.
            let tone_end = c.started + units_to_duration(c.total_units, clock_rate);
            let next = (tone_end + gap).max(c.next_due + interval);
            self.next_start = Some(next);
            self.current = None;
        } else {
            c.next_due += interval;
        }
        Some(packet)
    }

    /// A duration in RTP timestamp units.
    fn units(&self, d: Duration) -> u64 {
        (d.as_nanos() * u128::from(self.config.clock_rate) / 1_000_000_000) as u64
    }
}

/// Timestamp units as a duration.
fn units_to_duration(units: u16, clock_rate: u32) -> Duration {
    let rate = u64::from(clock_rate.max(1));
    Duration::from_nanos(u64::from(units) * 1_000_000_000 / rate)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(
        sender: &mut EventSender,
        start: Instant,
        until: Duration,
    ) -> Vec<(Duration, EventPacket)> {
        let mut out = Vec::new();
        let mut now = start;
        while now <= start + until {
            // The stream's timestamp advances with the clock at 8 kHz.
            let ts = 1000 + ((now - start).as_micros() * 8 / 1000) as u32;
            while let Some(p) = sender.poll_transmit(now, ts) {
                out.push((now - start, p));
            }
            now += Duration::from_millis(1);
        }
        out
    }

    #[test]
    fn one_digit_makes_growing_packets_and_three_ends() {
        let start = Instant::now();
        let mut s = EventSender::new(EventSenderConfig::default());
        s.push_digit(start, '5').unwrap();
        assert_eq!(s.poll_timeout(), Some(start));
        let packets = drain(&mut s, start, Duration::from_secs(1));
        let durations: Vec<_> = packets.iter().map(|(_, p)| p.event.duration).collect();
        assert_eq!(durations, [160, 320, 480, 640, 800, 800, 800]);
        let ends: Vec<_> = packets.iter().map(|(_, p)| p.event.end).collect();
        assert_eq!(ends, [false, false, false, false, true, true, true]);
        let markers: Vec<_> = packets.iter().map(|(_, p)| p.marker).collect();
        assert_eq!(markers, [true, false, false, false, false, false, false]);
        assert!(packets
            .iter()
            .all(|(_, p)| p.timestamp == 1000 && p.event.event == 5));
        assert!(packets.iter().all(|(_, p)| p.event.volume == 10));
        let times: Vec<_> = packets.iter().map(|(t, _)| t.as_millis()).collect();
        assert_eq!(times, [0, 20, 40, 60, 80, 100, 120]);
        assert!(s.is_idle());
        assert_eq!(s.poll_timeout(), None);
    }

    #[test]
    fn queued_digits_follow_after_the_gap_with_new_timestamps() {
        let start = Instant::now();
        let mut s = EventSender::new(EventSenderConfig::default());
        for d in "1#".chars() {
            s.push_digit(start, d).unwrap();
        }
        assert_eq!(s.queued(), 2);
        let packets = drain(&mut s, start, Duration::from_secs(1));
        assert_eq!(packets.len(), 14);
        let (t2, second) = packets[7];
        assert!(second.marker);
        assert_eq!(second.event.event, 11);
        // The first tone ends at 100 ms; the pause is 50 ms.
        assert_eq!(t2, Duration::from_millis(150));
        assert_eq!(second.timestamp, 1000 + 150 * 8);
    }

    #[test]
    fn custom_durations_that_are_not_a_multiple_of_the_interval() {
        let start = Instant::now();
        let mut s = EventSender::new(EventSenderConfig::default());
        s.push_digit_for(start, 'A', Duration::from_millis(50))
            .unwrap();
        let packets = drain(&mut s, start, Duration::from_secs(1));
        let durations: Vec<_> = packets.iter().map(|(_, p)| p.event.duration).collect();
        assert_eq!(durations, [160, 320, 400, 400, 400]);
        assert!(packets[2].1.event.end && !packets[1].1.event.end);
        assert_eq!(s.push_digit(start, 'x'), Err(Error::NotADigit('x')));
    }

    #[test]
    fn very_long_tones_are_cut_to_the_duration_field() {
        let start = Instant::now();
        let mut s = EventSender::new(EventSenderConfig::default());
        s.push_digit_for(start, '0', Duration::from_secs(10))
            .unwrap();
        let packets = drain(&mut s, start, Duration::from_secs(12));
        let last = packets.last().unwrap().1.event;
        assert!(last.end);
        assert_eq!(last.duration, u16::MAX);
        assert!(packets
            .windows(2)
            .all(|w| w[0].1.event.duration <= w[1].1.event.duration));
    }

    #[test]
    fn a_late_poll_starts_the_event_then_catches_up() {
        let start = Instant::now();
        let mut s = EventSender::new(EventSenderConfig::default());
        s.push_digit(start, '9').unwrap();
        let late = start + Duration::from_millis(500);
        let first = s.poll_transmit(late, 4000).unwrap();
        assert!(first.marker);
        assert_eq!(s.poll_transmit(late, 4000), None);
        assert_eq!(s.poll_timeout(), Some(late + Duration::from_millis(20)));
        let later = late + Duration::from_secs(1);
        let mut rest = Vec::new();
        while let Some(p) = s.poll_transmit(later, 99_999) {
            rest.push(p);
        }
        assert_eq!(rest.len(), 6);
        assert!(rest.iter().all(|p| p.timestamp == 4000 && !p.marker));
    }
}
