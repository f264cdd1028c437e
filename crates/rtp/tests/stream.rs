//! Two media streams talking over a simulated network on a simulated clock: loss, delay
//! variation (hence reordering) one way, a clean path the other way; DTMF across the lossy
//! path; RTCP both ways; BYE at the end. The reports must tell what the network did.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rtp::event::ReceivedEvent;
use rtp::jitter::Playout;
use rtp::stream::{Channel, Transmit};
use rtp::{MediaStream, Report, StreamConfig};

/// A deterministic generator (64-bit LCG, high bits).
struct Lcg(u64);

impl Lcg {
    fn next_f64(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// One direction of the network.
struct Path {
    loss: f64,
    delay: Duration,
    jitter: Duration,
    rng: Lcg,
}

impl Path {
    /// When a packet sent at `now` arrives, or `None` if it is lost. RTCP is not lost, so
    /// the test can rely on the reports.
    fn carry(&mut self, now: Instant, channel: Channel) -> Option<Instant> {
        if channel == Channel::Rtp && self.rng.next_f64() < self.loss {
            return None;
        }
        Some(now + self.delay + self.jitter.mul_f64(self.rng.next_f64()))
    }
}

/// A peer: its stream, its wall clock offset, what it played and heard.
struct Peer {
    stream: MediaStream,
    wall_offset: Duration,
    played: Vec<u32>,
    missing: usize,
    events: Vec<ReceivedEvent>,
    frames_sent: u32,
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct InFlight {
    at: Instant,
    serial: u64,
    to_b: bool,
    rtcp: bool,
    bytes: Vec<u8>,
}

struct Network {
    t0: Instant,
    wall0: SystemTime,
    a: Peer,
    b: Peer,
    a_to_b: Path,
    b_to_a: Path,
    queue: BinaryHeap<Reverse<InFlight>>,
    serial: u64,
    /// The last step run.
    last: Option<Instant>,
}

impl Network {
    fn new(a_to_b: Path, b_to_a: Path) -> Self {
        let t0 = Instant::now();
        let wall0 = UNIX_EPOCH + Duration::from_secs(1_750_000_000);
        let mut ca = StreamConfig::new(0xaaaa_0001, 1000, 50_000, 0, "a@example.com");
        ca.rtcp_randomization = Some(7);
        let mut cb = StreamConfig::new(0xbbbb_0002, 65_000, u32::MAX - 3000, 0, "b@example.com");
        cb.rtcp_randomization = Some(8);
        // B's wall clock is 3 s ahead of A's: RTT must not care.
        let b_offset = Duration::from_secs(3);
        Network {
            t0,
            wall0,
            a: Peer::new(MediaStream::new(ca, t0, wall0).unwrap(), Duration::ZERO),
            b: Peer::new(
                MediaStream::new(cb, t0, wall0 + b_offset).unwrap(),
                b_offset,
            ),
            a_to_b,
            b_to_a,
            queue: BinaryHeap::new(),
            serial: 0,
            last: None,
        }
    }

    fn send(&mut self, from_a: bool, now: Instant, t: Transmit) {
        let path = if from_a {
            &mut self.a_to_b
        } else {
            &mut self.b_to_a
        };
        if let Some(at) = path.carry(now, t.channel) {
            self.serial += 1;
            self.queue.push(Reverse(InFlight {
                at,
                serial: self.serial,
                to_b: from_a,
                rtcp: t.channel == Channel::Rtcp,
                bytes: t.bytes,
            }));
        }
    }

    /// Runs 1 ms steps up to `until` (from t0); both peers send a frame every 20 ms and
    /// play a frame every 20 ms (B's ticks 7 ms out of phase with A's).
    fn run_until(&mut self, until: Duration) {
        let end = self.t0 + until;
        let mut now = self.now_hint();
        while now < end {
            now += Duration::from_millis(1);
            self.deliver(now);
            let ms = (now - self.t0).as_millis() as u64;
            for from_a in [true, false] {
                let phase = if from_a { 0 } else { 7 };
                let peer = if from_a { &mut self.a } else { &mut self.b };
                if ms % 20 == phase {
                    let payload = peer.frames_sent.to_be_bytes().repeat(40);
                    peer.frames_sent += 1;
                    let bytes = peer.stream.send_audio(now, &payload);
                    match peer.stream.pop_audio(now) {
                        Playout::Frame(f) => peer
                            .played
                            .push(u32::from_be_bytes(f.payload[..4].try_into().unwrap())),
                        Playout::Missing => peer.missing += 1,
                        Playout::Nothing => {}
                    }
                    if !bytes.is_empty() {
                        self.send(
                            from_a,
                            now,
                            Transmit {
                                channel: Channel::Rtp,
                                bytes,
                            },
                        );
                    }
                }
                self.poll(from_a, now);
            }
        }
        self.last = Some(now);
    }

    fn poll(&mut self, from_a: bool, now: Instant) {
        loop {
            let peer = if from_a { &mut self.a } else { &mut self.b };
            while let Some(e) = peer.stream.poll_event(now) {
                peer.events.push(e);
            }
            let Some(t) = peer.stream.poll_transmit(now) else {
                break;
            };
            self.send(from_a, now, t);
        }
    }

    fn deliver(&mut self, now: Instant) {
        while self.queue.peek().is_some_and(|Reverse(p)| p.at <= now) {
            let Reverse(p) = self.queue.pop().unwrap();
            let peer = if p.to_b { &mut self.b } else { &mut self.a };
            if p.rtcp {
                let wall = self.wall0 + peer.wall_offset + (p.at - self.t0);
                peer.stream.receive_rtcp(p.at, wall, &p.bytes).unwrap();
            } else {
                peer.stream.receive_rtp(p.at, &p.bytes).unwrap();
            }
        }
    }

    fn now_hint(&self) -> Instant {
        self.last.unwrap_or(self.t0)
    }
}

impl Peer {
    fn new(stream: MediaStream, wall_offset: Duration) -> Self {
        Peer {
            stream,
            wall_offset,
            played: Vec::new(),
            missing: 0,
            events: Vec::new(),
            frames_sent: 0,
        }
    }
}

fn digits(events: &[ReceivedEvent]) -> String {
    events.iter().filter_map(|e| e.digit).collect()
}

fn lossy_call() -> (Report, Report, Network) {
    let a_to_b = Path {
        loss: 0.05,
        delay: Duration::from_millis(40),
        jitter: Duration::from_millis(30),
        rng: Lcg(1),
    };
    let b_to_a = Path {
        loss: 0.0,
        delay: Duration::from_millis(40),
        jitter: Duration::ZERO,
        rng: Lcg(2),
    };
    let mut net = Network::new(a_to_b, b_to_a);
    net.run_until(Duration::from_secs(10));
    let t = net.t0 + Duration::from_secs(10);
    for d in "159#".chars() {
        net.a.stream.send_digit(t, d).unwrap();
    }
    net.run_until(Duration::from_secs(30));
    let t = net.t0 + Duration::from_secs(30);
    net.a.stream.close();
    net.b.stream.close();
    net.poll(true, t);
    net.poll(false, t);
    net.run_until(Duration::from_millis(30_500));
    (net.a.stream.report(), net.b.stream.report(), net)
}

#[test]
fn reports_show_loss_jitter_and_rtt_of_each_direction() {
    let (a, b, net) = lossy_call();
    // B received A's audio with about 5 % loss. The first packet is the source's probation
    // (RFC 3550 A.1): received, but before the expected count starts.
    assert_eq!(
        b.packets_received as i64 + b.packets_lost,
        b.packets_expected as i64 + 1
    );
    assert!((3.5..=6.5).contains(&b.loss_percent), "{b:?}");
    assert!(b.jitter_ms > 2.0, "{b:?}");
    // A received B's audio cleanly.
    assert_eq!(a.packets_lost, 0, "{a:?}");
    assert!(a.jitter_ms < 0.5, "{a:?}");
    assert_eq!(a.late_discarded, 0);
    // Everything B sent, A received (B's last packets before close included).
    assert_eq!(a.packets_received, b.packets_sent);
    // Packets A sent = received by B + lost on the way (B's first packet is probation).
    assert_eq!(
        a.packets_sent,
        b.packets_received + b.packets_lost.max(0) as u64
    );
    // RTT: 40 ms each way plus 0-30 ms of jitter on A → B.
    for r in [&a, &b] {
        let rtt = r.rtt_ms.expect("an RTT");
        assert!((79.0..=112.0).contains(&rtt), "{r:?}");
    }
    // Each side's view of the other's reception matches, up to the last interval.
    let seen_by_b = a.remote_packets_lost.expect("B reported");
    assert!(
        (seen_by_b - b.packets_lost).abs() <= 20,
        "{seen_by_b} vs {b:?}"
    );
    assert_eq!(b.remote_packets_lost, Some(0));
    let remote_jitter = a.remote_jitter_ms.unwrap();
    assert!((remote_jitter - b.jitter_ms).abs() < 3.0, "{a:?} {b:?}");
    // Quality: the clean direction is rated as the E-model's default, the lossy one lower.
    let clean = a.r_factor.unwrap();
    assert!((clean - 93.2).abs() < 1e-6, "{a:?}");
    let lossy = b.r_factor.unwrap();
    assert!(lossy < clean - 10.0, "{b:?}");
    assert!(b.mos.unwrap() < a.mos.unwrap());
    assert!(a.mos.unwrap() > 4.4);
    // BYE went both ways.
    assert!(net.a.stream.remote_left() && net.b.stream.remote_left());
    assert_eq!(net.a.stream.remote_cname(), Some("b@example.com"));
}

#[test]
fn audio_plays_in_order_and_digits_arrive_once_each() {
    let (_, b, net) = lossy_call();
    // B played A's frames in order, never twice.
    let played = &net.b.played;
    assert!(played.windows(2).all(|w| w[0] < w[1]));
    assert!(
        played.len() as f64 > 0.9 * f64::from(net.a.frames_sent),
        "{}",
        played.len()
    );
    // Missing ticks cover the lost and late packets (and the last ticks after the close).
    assert!(net.b.missing as u64 >= b.late_discarded);
    // A played B's frames without a gap once started.
    let played = &net.a.played;
    assert!(played.windows(2).all(|w| w[1] == w[0] + 1));
    // The digits crossed the lossy, reordering path intact.
    assert_eq!(digits(&net.b.events), "159#");
    assert_eq!(b.events_received, 4);
    assert!(net.a.events.is_empty());
}

#[test]
fn a_perfect_network_loses_nothing() {
    let path = |seed| Path {
        loss: 0.0,
        delay: Duration::from_millis(10),
        jitter: Duration::ZERO,
        rng: Lcg(seed),
    };
    let mut net = Network::new(path(3), path(4));
    net.run_until(Duration::from_secs(12));
    for r in [net.a.stream.report(), net.b.stream.report()] {
        assert_eq!(r.packets_lost, 0, "{r:?}");
        assert_eq!(r.loss_percent, 0.0);
        assert_eq!(r.late_discarded, 0);
        let rtt = r.rtt_ms.unwrap();
        assert!((19.9..=20.1).contains(&rtt), "{r:?}");
        assert!((r.playout_delay_ms - 20.0).abs() < 1e-9);
    }
}

#[test]
fn heavy_jitter_raises_the_playout_delay_and_keeps_late_packets_rare() {
    let a_to_b = Path {
        loss: 0.0,
        delay: Duration::from_millis(30),
        jitter: Duration::from_millis(100),
        rng: Lcg(5),
    };
    let b_to_a = Path {
        loss: 0.0,
        delay: Duration::from_millis(30),
        jitter: Duration::ZERO,
        rng: Lcg(6),
    };
    let mut net = Network::new(a_to_b, b_to_a);
    net.run_until(Duration::from_secs(20));
    let b = net.b.stream.report();
    assert_eq!(b.packets_lost, 0, "{b:?}");
    assert!(b.playout_delay_ms >= 100.0, "{b:?}");
    assert!(
        (b.late_discarded as f64) < 0.03 * b.packets_received as f64,
        "{b:?}"
    );
    assert!(net.b.played.windows(2).all(|w| w[0] < w[1]));
    // Late packets count against the quality estimate like lost ones.
    assert!(b.r_factor.unwrap() < 93.2, "{b:?}");
}
