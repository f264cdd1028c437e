//! Unit tests of the reception statistics against the behaviour RFC 3550 Appendix A
//! describes.

use super::*;

const MS20: Duration = Duration::from_millis(20);

/// Feeds packets `seqs` arriving 20 ms apart with timestamps 160 apart by sequence.
fn feed(stats: &mut ReceiverStats, start: Instant, seqs: &[u16]) -> Vec<SequenceCheck> {
    seqs.iter()
        .enumerate()
        .map(|(i, &s)| {
            let ts = u32::from(s).wrapping_mul(160);
            stats.on_packet(start + MS20 * i as u32, s, ts, 160, true)
        })
        .collect()
}

#[test]
fn a_new_source_is_on_probation_until_two_in_sequence() {
    let t = Instant::now();
    let mut s = ReceiverStats::new(100, 8000);
    let checks = feed(&mut s, t, &[100, 101, 102]);
    assert_eq!(
        checks,
        [
            SequenceCheck::Probation,
            SequenceCheck::Valid,
            SequenceCheck::Valid
        ]
    );
    assert!(s.is_valid());
    assert_eq!(s.expected(), 2);
    assert_eq!(s.received(), 2);
    assert_eq!(s.packets(), 3);
    assert_eq!(s.octets(), 480);
}

#[test]
fn probation_restarts_on_a_gap() {
    let t = Instant::now();
    let mut s = ReceiverStats::new(10, 8000);
    let checks = feed(&mut s, t, &[10, 12, 13]);
    assert_eq!(
        checks,
        [
            SequenceCheck::Probation,
            SequenceCheck::Probation,
            SequenceCheck::Valid
        ]
    );
}

#[test]
fn sequence_wrap_counts_a_cycle() {
    let t = Instant::now();
    let mut s = ReceiverStats::new(65_534, 8000);
    feed(&mut s, t, &[65_534, 65_535, 0, 1, 2]);
    assert_eq!(s.extended_highest_sequence(), 65_536 + 2);
    assert_eq!(s.expected(), 4);
    assert_eq!(s.cumulative_lost(), 0);
}

#[test]
fn loss_reorder_and_duplicates_in_the_cumulative_count() {
    let t = Instant::now();
    let mut s = ReceiverStats::new(1, 8000);
    // 1..=10 with 4 and 5 lost, 8 late (after 9), 9 twice.
    feed(&mut s, t, &[1, 2, 3, 6, 7, 9, 8, 9, 10]);
    assert_eq!(s.expected(), 9); // 2..=10 since valid at 2
    assert_eq!(s.received(), 8); // 2,3,6,7,9,8,9,10
    assert_eq!(s.cumulative_lost(), 1);
    let mut d = ReceiverStats::new(1, 8000);
    feed(&mut d, t, &[1, 2, 3, 3, 3]);
    assert_eq!(d.cumulative_lost(), -2);
    assert_eq!(d.loss_percent(), 0.0);
}

#[test]
fn a_big_jump_is_bad_until_confirmed_then_restarts() {
    let t = Instant::now();
    let mut s = ReceiverStats::new(1, 8000);
    let checks = feed(&mut s, t, &[1, 2, 3, 20_000, 4, 20_001, 20_002]);
    assert_eq!(
        checks,
        [
            SequenceCheck::Probation,
            SequenceCheck::Valid,
            SequenceCheck::Valid,
            SequenceCheck::BadSequence,
            SequenceCheck::Valid,
            SequenceCheck::Restarted,
            SequenceCheck::Valid,
        ]
    );
    assert_eq!(s.expected(), 2);
    assert_eq!(s.received(), 2);
    // A lone stray packet far away does not restart anything.
    let mut u = ReceiverStats::new(1, 8000);
    feed(&mut u, t, &[1, 2, 40_000, 3, 4]);
    assert_eq!(u.extended_highest_sequence(), 4);
    assert_eq!(u.cumulative_lost(), 0);
}

#[test]
fn fraction_lost_is_per_interval() {
    let t = Instant::now();
    let mut s = ReceiverStats::new(0, 8000);
    // Valid from 1; 1..=100 with 3, 7, ..., 99 lost: 25 of 100.
    let first: Vec<u16> = (0..=100).filter(|n| n % 4 != 3).collect();
    feed(&mut s, t, &first);
    let b = s.report_block(7, t);
    assert_eq!(b.ssrc, 7);
    assert_eq!(b.fraction_lost, 64); // 25/100 * 256
    assert_eq!(b.cumulative_lost, 25);
    assert_eq!(b.highest_sequence, 100);
    // Next interval: no loss.
    let second: Vec<u16> = (101..=200).collect();
    feed(&mut s, t, &second);
    let b = s.report_block(7, t);
    assert_eq!(b.fraction_lost, 0);
    assert_eq!(b.cumulative_lost, 25);
    // Duplicates in an interval never make the fraction negative.
    feed(&mut s, t, &[200, 200, 201]);
    assert_eq!(s.report_block(7, t).fraction_lost, 0);
}

#[test]
fn jitter_is_zero_for_constant_delay_and_follows_alternating_delay() {
    let t = Instant::now();
    let mut steady = ReceiverStats::new(0, 8000);
    feed(&mut steady, t, &(0..200).collect::<Vec<_>>());
    assert_eq!(steady.jitter(), 0);

    // Every other packet 10 ms late: |D| = 80 units each time; J converges to 80.
    let mut s = ReceiverStats::new(0, 8000);
    for i in 0u16..400 {
        let late = if i % 2 == 1 {
            Duration::from_millis(10)
        } else {
            Duration::ZERO
        };
        s.on_packet(
            t + MS20 * u32::from(i) + late,
            i,
            u32::from(i) * 160,
            160,
            true,
        );
    }
    assert!((78..=80).contains(&s.jitter()), "{}", s.jitter());
    let ms = s.jitter_duration().as_secs_f64() * 1000.0;
    assert!((9.7..=10.0).contains(&ms), "{ms}");
    // Event packets (timing = false) do not move the estimate.
    let before = s.jitter();
    s.on_packet(t + Duration::from_secs(60), 400, 0, 4, false);
    assert_eq!(s.jitter(), before);
}

#[test]
fn burst_ratio_is_one_for_isolated_losses_and_larger_for_bursts() {
    let t = Instant::now();
    let mut none = ReceiverStats::new(0, 8000);
    feed(&mut none, t, &(0..100).collect::<Vec<_>>());
    assert_eq!(none.burst_ratio(), 1.0);
    let mut bursty = ReceiverStats::new(0, 8000);
    let seqs: Vec<u16> = (0..1000)
        .filter(|n| !(100..110).contains(&(n % 200)))
        .collect();
    feed(&mut bursty, t, &seqs);
    // Runs of 10 at 5 % loss: 10 * 0.95.
    assert!(
        (bursty.burst_ratio() - 9.5).abs() < 0.1,
        "{}",
        bursty.burst_ratio()
    );
}

#[test]
fn lsr_and_dlsr_come_from_the_last_sender_report() {
    let t = Instant::now();
    let mut s = ReceiverStats::new(0, 8000);
    feed(&mut s, t, &[0, 1]);
    assert_eq!(s.report_block(1, t).last_sr, 0);
    let ntp = NtpTimestamp::from_parts(0x0001_2345, 0x8000_0000);
    s.on_sender_report(t, ntp);
    let b = s.report_block(1, t + Duration::from_millis(250));
    assert_eq!(b.last_sr, 0x2345_8000);
    assert_eq!(b.delay_since_last_sr, 16_384);
}

#[test]
fn round_trip_time_from_lsr_and_dlsr() {
    // RFC 3550 §6.4.1's example: A = 0xb710:8000 (46864.500 s), LSR = 0xb705:2000
    // (46853.125 s), DLSR = 0x0005:4000 (5.250 s) → 6.125 s.
    let arrival = NtpTimestamp((0xb710_8000u64) << 16);
    let block = ReportBlock {
        last_sr: 0xb705_2000,
        delay_since_last_sr: 0x0005_4000,
        ..ReportBlock::default()
    };
    assert_eq!(
        round_trip_time(arrival, &block),
        Some(Duration::from_millis(6125))
    );
    let none = ReportBlock::default();
    assert_eq!(round_trip_time(arrival, &none), None);
    let future = ReportBlock {
        last_sr: 0xb711_0000,
        ..ReportBlock::default()
    };
    assert_eq!(round_trip_time(arrival, &future), None);
}

#[test]
fn sender_counts_packets_and_payload_octets() {
    let mut s = SenderStats::default();
    s.on_sent(160);
    s.on_sent(33);
    assert_eq!((s.packets, s.octets), (2, 193));
}
