//! Jitter buffer tests on a simulated clock: arrivals and 20 ms ticks interleaved in time.

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Out {
    Play(u16),
    Missing,
    Nothing,
}

/// Packet `seq` with timestamp `seq * 160 + base` arriving at `at` ms.
#[derive(Debug, Clone, Copy)]
struct Arrival {
    at_us: u64,
    seq: u16,
    ts: u32,
}

fn arrival(at_ms: f64, seq: u16, ts: u32) -> Arrival {
    Arrival {
        at_us: (at_ms * 1000.0) as u64,
        seq,
        ts,
    }
}

/// Runs arrivals against ticks every 20 ms starting at `first_tick_ms` (+0.5 ms so ties are
/// clear), for `ticks` ticks.
fn run(buf: &mut JitterBuffer, arrivals: &[Arrival], first_tick_ms: u64, ticks: usize) -> Vec<Out> {
    let t0 = Instant::now();
    let mut arrivals = arrivals.to_vec();
    arrivals.sort_by_key(|a| a.at_us);
    let mut next = 0;
    let mut out = Vec::new();
    for i in 0..ticks as u64 {
        let tick_us = (first_tick_ms + 20 * i) * 1000 + 500;
        while next < arrivals.len() && arrivals[next].at_us <= tick_us {
            let a = arrivals[next];
            buf.push(
                t0 + Duration::from_micros(a.at_us),
                a.seq,
                a.ts,
                &a.seq.to_be_bytes(),
            );
            next += 1;
        }
        out.push(match buf.pop(t0 + Duration::from_micros(tick_us)) {
            Playout::Frame(f) => {
                assert_eq!(f.payload, f.sequence.to_be_bytes());
                Out::Play(f.sequence)
            }
            Playout::Missing => Out::Missing,
            Playout::Nothing => Out::Nothing,
        });
    }
    out
}

fn steady(first_seq: u16, first_ts: u32, n: u16) -> Vec<Arrival> {
    (0..n)
        .map(|i| {
            arrival(
                f64::from(i) * 20.0,
                first_seq.wrapping_add(i),
                first_ts.wrapping_add(u32::from(i) * 160),
            )
        })
        .collect()
}

fn played(out: &[Out]) -> Vec<u16> {
    out.iter()
        .filter_map(|o| match o {
            Out::Play(s) => Some(*s),
            _ => None,
        })
        .collect()
}

fn count(out: &[Out], what: Out) -> usize {
    out.iter().filter(|&&o| o == what).count()
}

#[test]
fn steady_stream_plays_in_order_after_the_minimum_delay() {
    let mut b = JitterBuffer::new(JitterConfig::default());
    let out = run(&mut b, &steady(100, 5000, 50), 0, 70);
    // Tick 0 (0.5 ms): first packet has not waited 20 ms yet.
    assert_eq!(out[0], Out::Nothing);
    assert_eq!(out[1], Out::Play(100));
    assert_eq!(played(&out), (100..150).collect::<Vec<_>>());
    assert_eq!(count(&out[..51], Out::Missing), 0);
    assert_eq!(b.target_delay(), Duration::from_millis(20));
    // After the stream stops the buffer conceals up to max_delay, then goes idle.
    assert_eq!(&out[51..61], [Out::Missing; 10]);
    assert!(out[61..].iter().all(|&o| o == Out::Nothing));
}

#[test]
fn reordered_pairs_play_in_order_once_the_delay_adapted() {
    let mut arrivals = steady(0, 0, 200);
    for pair in arrivals.chunks_mut(2) {
        if let [a, b] = pair {
            std::mem::swap(&mut a.at_us, &mut b.at_us);
        }
    }
    let mut b = JitterBuffer::new(JitterConfig::default());
    let out = run(&mut b, &arrivals, 0, 230);
    let seqs = played(&out);
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    assert!(
        b.target_delay() >= Duration::from_millis(40),
        "{:?}",
        b.target_delay()
    );
    // After the first second nothing is missing any more.
    let later = &out[50..200];
    assert_eq!(count(later, Out::Missing), 0, "{later:?}");
    assert!(seqs.len() >= 195, "{}", seqs.len());
}

#[test]
fn duplicates_are_dropped_and_counted() {
    let mut arrivals = steady(0, 0, 30);
    let dups: Vec<_> = arrivals
        .iter()
        .step_by(3)
        .map(|a| Arrival {
            at_us: a.at_us + 3000,
            ..*a
        })
        .collect();
    arrivals.extend(dups);
    let mut b = JitterBuffer::new(JitterConfig::default());
    let out = run(&mut b, &arrivals, 0, 40);
    assert_eq!(played(&out), (0..30).collect::<Vec<_>>());
    assert_eq!(b.stats().duplicates + b.stats().late, 10);
}

#[test]
fn a_lost_packet_is_reported_missing_in_its_slot() {
    let arrivals: Vec<_> = steady(0, 0, 20)
        .into_iter()
        .filter(|a| a.seq != 7)
        .collect();
    let mut b = JitterBuffer::new(JitterConfig::default());
    let out = run(&mut b, &arrivals, 0, 21);
    let start = out.iter().position(|o| *o == Out::Play(0)).unwrap();
    assert_eq!(out[start + 6], Out::Play(6));
    assert_eq!(out[start + 7], Out::Missing);
    assert_eq!(out[start + 8], Out::Play(8));
    assert_eq!(b.stats().missing, 1);
}

#[test]
fn a_merely_late_packet_still_plays_one_tick_later() {
    let mut arrivals = steady(0, 0, 20);
    arrivals[5].at_us += 35_000; // after its tick, before packet 6's arrival... and 6's tick
    arrivals[6].at_us += 35_000;
    let mut b = JitterBuffer::new(JitterConfig::default());
    let out = run(&mut b, &arrivals, 0, 25);
    assert_eq!(played(&out), (0..20).collect::<Vec<_>>());
    assert!(count(&out, Out::Missing) >= 1);
    assert_eq!(b.stats().late, 0);
}

#[test]
fn a_packet_after_its_slot_was_skipped_is_late() {
    let mut arrivals = steady(0, 0, 20);
    arrivals[5].at_us += 100_000;
    let mut b = JitterBuffer::new(JitterConfig::default());
    let out = run(&mut b, &arrivals, 0, 25);
    assert!(!played(&out).contains(&5));
    assert_eq!(b.stats().late, 1);
}

#[test]
fn sequence_and_timestamp_wrap_seamlessly() {
    let arrivals = steady(65_530, u32::MAX - 800, 20);
    let mut b = JitterBuffer::new(JitterConfig::default());
    let out = run(&mut b, &arrivals, 0, 22);
    let expected: Vec<u16> = (0..20).map(|i| 65_530u16.wrapping_add(i)).collect();
    assert_eq!(played(&out), expected);
    assert_eq!(count(&out[1..21], Out::Missing), 0);
}

#[test]
fn a_restarted_stream_resets_the_buffer_and_a_stray_does_not() {
    let mut arrivals = steady(0, 0, 10);
    // A stray packet at 105 ms, far away in sequence.
    arrivals.push(arrival(105.0, 30_000, 9_999_999));
    // At 200 ms a new stream: new sequence and timestamp base.
    arrivals.extend((0..10).map(|i| {
        arrival(
            200.0 + 20.0 * f64::from(i),
            40_000 + i,
            1_000_000 + u32::from(i) * 160,
        )
    }));
    let mut b = JitterBuffer::new(JitterConfig::default());
    let out = run(&mut b, &arrivals, 0, 25);
    let seqs = played(&out);
    assert_eq!(&seqs[..10], (0..10).collect::<Vec<_>>());
    assert_eq!(&seqs[10..], (40_000..40_010).collect::<Vec<_>>());
    assert_eq!(b.stats().resets, 1);
    assert_eq!(b.stats().strays, 2);
}

#[test]
fn long_silence_goes_idle_and_resumes_without_a_storm_of_missing() {
    let mut arrivals = steady(0, 0, 10);
    // Silence suppression: 2 s without packets, sequence continues, timestamp jumps.
    arrivals.extend((0..10).map(|i| {
        arrival(
            2200.0 + 20.0 * f64::from(i),
            10 + i,
            17_600 + u32::from(i) * 160,
        )
    }));
    let mut b = JitterBuffer::new(JitterConfig::default());
    let out = run(&mut b, &arrivals, 0, 140);
    assert_eq!(played(&out), (0..20).collect::<Vec<_>>());
    assert_eq!(count(&out, Out::Missing), 2 * 10);
}

#[test]
fn short_silence_is_concealed_for_its_length_only() {
    let mut arrivals = steady(0, 0, 10);
    // 100 ms silence (5 frames), sequence continues, timestamp jumps accordingly.
    arrivals.extend((0..10).map(|i| {
        arrival(
            300.0 + 20.0 * f64::from(i),
            10 + i,
            2400 + u32::from(i) * 160,
        )
    }));
    let mut b = JitterBuffer::new(JitterConfig::default());
    let out = run(&mut b, &arrivals, 0, 30);
    assert_eq!(played(&out), (0..20).collect::<Vec<_>>());
    let start = out.iter().position(|o| *o == Out::Play(0)).unwrap();
    let end = out.iter().position(|o| *o == Out::Play(19)).unwrap();
    // 20 frames and 5 silent slots.
    assert_eq!(end - start + 1, 25);
    assert_eq!(count(&out[start..=end], Out::Missing), 5);
}

#[test]
fn target_follows_jitter_within_its_bounds() {
    // Deterministic pseudo-random delays of 0-60 ms.
    let mut x: u32 = 12345;
    let mut jittery = Vec::new();
    for i in 0..300u16 {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let delay = f64::from((x >> 16) % 61);
        jittery.push(arrival(f64::from(i) * 20.0 + delay, i, u32::from(i) * 160));
    }
    let mut b = JitterBuffer::new(JitterConfig::default());
    let out = run(&mut b, &jittery, 0, 320);
    let target = b.target_delay();
    assert!(
        (Duration::from_millis(60)..=Duration::from_millis(80)).contains(&target),
        "{target:?}"
    );
    // Once adapted, the late tail is small.
    assert!(b.stats().late <= 5, "{:?}", b.stats());
    assert!(played(&out).len() >= 290);

    // Huge jitter: capped at max_delay.
    let mut huge = Vec::new();
    for i in 0..100u16 {
        let delay = if i % 10 == 0 { 500.0 } else { 0.0 };
        huge.push(arrival(f64::from(i) * 20.0 + delay, i, u32::from(i) * 160));
    }
    let mut b = JitterBuffer::new(JitterConfig::default());
    run(&mut b, &huge, 0, 120);
    assert_eq!(b.target_delay(), Duration::from_millis(200));
}

#[test]
fn a_delay_spike_is_shrunk_back_towards_the_target() {
    // Packets 50-59 held up to 200 ms then released in a burst; steady otherwise.
    let mut arrivals = steady(0, 0, 400);
    for a in &mut arrivals[50..60] {
        a.at_us = 1_200_000 + u64::from(a.seq - 50) * 50;
    }
    let mut b = JitterBuffer::new(JitterConfig {
        window: 20,
        ..JitterConfig::default()
    });
    let out = run(&mut b, &arrivals, 0, 420);
    assert!(b.stats().shrunk >= 3, "{:?}", b.stats());
    // Late in the run the buffer holds little again.
    assert!(
        b.buffered() <= Duration::from_millis(60) || !b.is_playing(),
        "{:?}",
        b.buffered()
    );
    let seqs = played(&out);
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn capacity_is_bounded() {
    // Everything arrives at once, nothing is played: the buffer keeps max_delay + 2 frames.
    let arrivals: Vec<_> = (0..100)
        .map(|i| arrival(0.0, i, u32::from(i) * 160))
        .collect();
    let mut b = JitterBuffer::new(JitterConfig::default());
    let t0 = Instant::now();
    for a in &arrivals {
        b.push(t0, a.seq, a.ts, &[]);
    }
    assert_eq!(b.stats().overflow, 88);
    assert_eq!(b.buffered(), Duration::from_millis(240));
    // Playout starts at the oldest frame kept.
    assert_eq!(b.target_delay(), Duration::from_millis(200));
    let Playout::Frame(f) = b.pop(t0 + Duration::from_millis(200)) else {
        panic!("no frame");
    };
    assert_eq!(f.sequence, 88);
}

#[test]
fn reset_forgets_the_stream() {
    let mut b = JitterBuffer::new(JitterConfig::default());
    let t0 = Instant::now();
    b.push(t0, 1, 160, &[1]);
    b.reset();
    assert_eq!(b.pop(t0 + Duration::from_secs(1)), Playout::Nothing);
    assert_eq!(b.push(t0, 500, 99, &[2]), PushOutcome::Accepted);
    assert_eq!(b.stats().resets, 1);
}
