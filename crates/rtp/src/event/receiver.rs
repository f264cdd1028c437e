//! The receiving side of RFC 4733 §2.5.2: packets carrying the same RTP timestamp belong to
//! one event (§2.5.1.2), so each event is reported once however many of its packets arrive,
//! twice or out of order; retransmitted end packets (§2.5.1.4) are recognised as such.
//!
//! Events are handed out in RTP timestamp order. An event is released when its end packet
//! arrives, when a later event is released, or when it has been held for
//! [`EventReceiver::new`]'s `hold` time without an end (its end packets lost, or a long
//! key press). Holding an event briefly lets a reordered earlier event overtake it.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::{event_to_digit, timestamp_after, TelephoneEvent};

/// How many released events are remembered to recognise their late packets.
const REMEMBERED: usize = 32;

/// An event as received: reported once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceivedEvent {
    /// The event code.
    pub event: u8,
    /// The DTMF digit, for codes 0-15.
    pub digit: Option<char>,
    /// The RTP timestamp of the event's start.
    pub timestamp: u32,
    /// The longest duration seen so far, in timestamp units.
    pub duration: u16,
    /// Whether the end packet had arrived when the event was released.
    pub ended: bool,
}

/// What the receiver has seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReceiverCounters {
    /// Event packets handed to [`EventReceiver::receive`].
    pub packets: u64,
    /// Distinct events reported.
    pub events: u64,
    /// Packets of events already released (retransmitted ends, duplicates, stragglers).
    pub late_packets: u64,
    /// Events first seen after a later event had been released: reported out of order.
    pub out_of_order: u64,
}

#[derive(Debug, Clone, Copy)]
struct Pending {
    event: ReceivedEvent,
    first_seen: Instant,
    /// Released at the next poll regardless of holding (arrived after later events).
    urgent: bool,
}

/// Turns received telephone-event packets into events, in order, each exactly once.
#[derive(Debug, Clone)]
pub struct EventReceiver {
    hold: Duration,
    /// Events not yet released, in timestamp order.
    pending: Vec<Pending>,
    /// Timestamps of released events, newest last.
    released: VecDeque<u32>,
    ready: VecDeque<ReceivedEvent>,
    counters: ReceiverCounters,
}

impl Default for EventReceiver {
    /// A receiver holding events up to 120 ms.
    fn default() -> Self {
        EventReceiver::new(Duration::from_millis(120))
    }
}

impl EventReceiver {
    /// A receiver holding events without an end packet for at most `hold` (at most 10 s).
    pub fn new(hold: Duration) -> Self {
        EventReceiver {
            hold: hold.min(Duration::from_secs(10)),
            pending: Vec::new(),
            released: VecDeque::with_capacity(REMEMBERED),
            ready: VecDeque::new(),
            counters: ReceiverCounters::default(),
        }
    }

    /// Takes one received event packet: its RTP timestamp and payload.
    pub fn receive(&mut self, now: Instant, timestamp: u32, event: &TelephoneEvent) {
        self.counters.packets += 1;
        if self.released.contains(&timestamp) {
            self.counters.late_packets += 1;
            return;
        }
        if let Some(p) = self
            .pending
            .iter_mut()
            .find(|p| p.event.timestamp == timestamp)
        {
            p.event.duration = p.event.duration.max(event.duration);
            p.event.ended |= event.end;
            return;
        }
        let newest_released = self.released.back().copied();
        let urgent = newest_released.is_some_and(|newest| timestamp_after(newest, timestamp));
        if urgent {
            self.counters.out_of_order += 1;
        }
        let at = self
            .pending
            .iter()
            .position(|p| timestamp_after(p.event.timestamp, timestamp))
            .unwrap_or(self.pending.len());
        self.pending.insert(
            at,
            Pending {
                event: ReceivedEvent {
                    event: event.event,
                    digit: event_to_digit(event.event),
                    timestamp,
                    duration: event.duration,
                    ended: event.end,
                },
                first_seen: now,
                urgent,
            },
        );
    }

    /// The next event to report at `now`, if any.
    pub fn poll_event(&mut self, now: Instant) -> Option<ReceivedEvent> {
        if self.ready.is_empty() {
            self.release(now);
        }
        self.ready.pop_front()
    }

    /// When a held event will be released without further packets. Call after
    /// [`EventReceiver::poll_event`] returned `None`: events ready now are not counted.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.pending.iter().map(|p| p.first_seen + self.hold).min()
    }

    /// What has been received so far.
    pub fn counters(&self) -> ReceiverCounters {
        self.counters
    }

    /// Forgets everything but the counters (the sender changed its SSRC).
    pub fn reset(&mut self) {
        self.pending.clear();
        self.released.clear();
    }

    /// Moves the releasable events, and every earlier one, to `ready`.
    fn release(&mut self, now: Instant) {
        let last = self
            .pending
            .iter()
            .rposition(|p| p.event.ended || p.urgent || now >= p.first_seen + self.hold);
        let Some(last) = last else { return };
        for p in self.pending.drain(..=last) {
            if self.released.len() == REMEMBERED {
                self.released.pop_front();
            }
            self.released.push_back(p.event.timestamp);
            self.counters.events += 1;
            self.ready.push_back(p.event);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(event: u8, duration: u16, end: bool) -> TelephoneEvent {
        TelephoneEvent {
            event,
            end,
            volume: 10,
            duration,
        }
    }

    fn digits(r: &mut EventReceiver, now: Instant) -> String {
        std::iter::from_fn(|| r.poll_event(now))
            .filter_map(|e| e.digit)
            .collect()
    }

    #[test]
    fn an_event_is_reported_once_at_its_end() {
        let t = Instant::now();
        let mut r = EventReceiver::default();
        r.receive(t, 100, &ev(1, 160, false));
        r.receive(t, 100, &ev(1, 320, false));
        assert_eq!(r.poll_event(t), None);
        assert_eq!(r.poll_timeout(), Some(t + Duration::from_millis(120)));
        r.receive(t, 100, &ev(1, 800, true));
        let e = r.poll_event(t).unwrap();
        assert_eq!(
            (e.digit, e.duration, e.ended, e.timestamp),
            (Some('1'), 800, true, 100)
        );
        r.receive(t, 100, &ev(1, 800, true));
        r.receive(t, 100, &ev(1, 800, true));
        assert_eq!(r.poll_event(t), None);
        let c = r.counters();
        assert_eq!((c.packets, c.events, c.late_packets), (5, 1, 2));
    }

    #[test]
    fn an_event_without_end_is_released_after_the_hold() {
        let t = Instant::now();
        let mut r = EventReceiver::new(Duration::from_millis(50));
        r.receive(t, 100, &ev(4, 160, false));
        assert_eq!(r.poll_event(t + Duration::from_millis(49)), None);
        let e = r.poll_event(t + Duration::from_millis(50)).unwrap();
        assert_eq!((e.digit, e.ended), (Some('4'), false));
        // Its end arriving later is not a new event.
        r.receive(t + Duration::from_millis(60), 100, &ev(4, 800, true));
        assert_eq!(r.poll_event(t + Duration::from_secs(1)), None);
    }

    #[test]
    fn an_earlier_event_overtaken_in_the_network_is_reported_first() {
        let t = Instant::now();
        let mut r = EventReceiver::default();
        // Event at 1200 arrives first, then event at 0; neither has ended.
        r.receive(t, 1200, &ev(2, 160, false));
        r.receive(t, 0, &ev(1, 160, false));
        r.receive(t, 1200, &ev(2, 800, true));
        assert_eq!(digits(&mut r, t), "12");
    }

    #[test]
    fn events_first_seen_after_later_ones_are_still_reported_once() {
        let t = Instant::now();
        let mut r = EventReceiver::default();
        r.receive(t, 5000, &ev(7, 800, true));
        assert_eq!(digits(&mut r, t), "7");
        r.receive(t, 3000, &ev(3, 160, false));
        r.receive(t, 3000, &ev(3, 320, false));
        assert_eq!(digits(&mut r, t), "3");
        assert_eq!(r.counters().out_of_order, 1);
    }

    #[test]
    fn timestamps_wrap() {
        let t = Instant::now();
        let mut r = EventReceiver::default();
        r.receive(t, 200, &ev(9, 160, false));
        r.receive(t, u32::MAX - 999, &ev(8, 160, false));
        r.receive(t, 200, &ev(9, 800, true));
        assert_eq!(digits(&mut r, t), "89");
    }
}
