//! RFC 4733 end to end: a sender's packets for a string of digits, mangled as a network
//! would (loss, duplicates, reordering within a window, retransmitted ends), fed to a
//! receiver, must come out as the same digits, in order, once each.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use rtp::event::{EventPacket, EventReceiver, EventSender, EventSenderConfig};

struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

/// The sender's packets for `digits` with their send times (ms from start).
fn send(digits: &str, start: Instant) -> Vec<(u64, EventPacket)> {
    let mut sender = EventSender::new(EventSenderConfig::default());
    for d in digits.chars() {
        sender.push_digit(start, d).unwrap();
    }
    let mut out = Vec::new();
    for ms in 0..10_000u64 {
        let now = start + Duration::from_millis(ms);
        // The media clock: 8 units per ms from an arbitrary base near the wrap.
        let ts = (u32::MAX - 20_000).wrapping_add(ms as u32 * 8);
        while let Some(p) = sender.poll_transmit(now, ts) {
            out.push((ms, p));
        }
        if sender.is_idle() {
            break;
        }
    }
    out
}

fn receive(packets: &[(u64, EventPacket)], start: Instant) -> String {
    let mut receiver = EventReceiver::default();
    let mut digits = String::new();
    let last = packets.iter().map(|(t, _)| *t).max().unwrap_or(0);
    let mut sorted = packets.to_vec();
    sorted.sort_by_key(|(t, _)| *t);
    let mut next = 0;
    for ms in 0..=last + 1000 {
        let now = start + Duration::from_millis(ms);
        while next < sorted.len() && sorted[next].0 <= ms {
            let (_, p) = sorted[next];
            receiver.receive(now, p.timestamp, &p.event);
            next += 1;
        }
        while let Some(e) = receiver.poll_event(now) {
            digits.push(e.digit.unwrap());
        }
    }
    digits
}

#[test]
fn clean_path_gives_the_digits() {
    let start = Instant::now();
    let digits = "0123456789*#ABCD";
    let packets = send(digits, start);
    assert_eq!(packets.len(), 16 * 7);
    assert_eq!(receive(&packets, start), digits);
}

#[test]
fn mangled_paths_give_the_digits_in_order_once_each() {
    let start = Instant::now();
    let digits = "5551234#*9";
    let sent = send(digits, start);
    for seed in 0..200 {
        let mut rng = Lcg(seed);
        let mut arrivals = Vec::new();
        for (i, (t, p)) in sent.iter().enumerate() {
            // Keep the last end packet of each event so no event vanishes entirely;
            // lose a quarter of the others.
            let last_of_event = sent
                .get(i + 1)
                .is_none_or(|(_, n)| n.timestamp != p.timestamp);
            if !last_of_event && rng.below(4) == 0 {
                continue;
            }
            // Delay 20-80 ms: packets of one event overtake each other.
            let arrival = t + 20 + rng.below(61);
            arrivals.push((arrival, *p));
            // A duplicate now and then.
            if rng.below(10) == 0 {
                arrivals.push((arrival + rng.below(100), *p));
            }
        }
        assert_eq!(receive(&arrivals, start), digits, "seed {seed}");
    }
}

#[test]
fn an_event_known_only_by_its_end_packets_is_reported() {
    let start = Instant::now();
    let sent = send("7", start);
    let ends: Vec<_> = sent.into_iter().filter(|(_, p)| p.event.end).collect();
    assert_eq!(ends.len(), 3);
    assert_eq!(receive(&ends, start), "7");
}
