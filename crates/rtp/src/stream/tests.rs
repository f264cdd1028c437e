//! Unit tests of the stream's sending side, RTCP timing and bookkeeping. Two streams
//! talking over a simulated network are in `tests/stream.rs`.

use super::*;
use crate::ntp::NtpTimestamp;
use crate::rtcp::{Compound, RtcpPacket};
use std::time::UNIX_EPOCH;

const MS20: Duration = Duration::from_millis(20);

fn config() -> StreamConfig {
    StreamConfig::new(0x1111, 65_534, 4_000_000_000, 0, "a@example.com")
}

fn wall() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

#[test]
fn audio_packets_advance_sequence_and_timestamp_with_marker_on_talkspurts() {
    let t = Instant::now();
    let mut s = MediaStream::new(config(), t, wall()).unwrap();
    let payload = [0xffu8; 160];
    let p0 = s.send_audio(t, &payload);
    let p1 = s.send_audio(t + MS20, &payload);
    let p2 = s.send_audio(t + MS20 * 2 + Duration::from_millis(3), &payload);
    // 120 ms pause.
    let p3 = s.send_audio(t + MS20 * 8, &payload);
    let parsed: Vec<_> = [&p0, &p1, &p2, &p3]
        .iter()
        .map(|b| RtpPacket::parse(b).unwrap())
        .collect();
    let seqs: Vec<_> = parsed.iter().map(|p| p.sequence()).collect();
    assert_eq!(seqs, [65_534, 65_535, 0, 1]);
    let ts: Vec<_> = parsed.iter().map(|p| p.timestamp()).collect();
    assert_eq!(
        ts,
        [
            4_000_000_000,
            4_000_000_160,
            4_000_000_320,
            4_000_000_320 + 117 * 8
        ]
    );
    let markers: Vec<_> = parsed.iter().map(|p| p.marker()).collect();
    assert_eq!(markers, [true, false, false, true]);
    assert!(parsed
        .iter()
        .all(|p| p.ssrc() == 0x1111 && p.payload_type() == 0));
    assert_eq!(parsed[0].payload(), payload);
    let r = s.report();
    assert_eq!((r.packets_sent, r.octets_sent), (4, 640));
}

#[test]
fn digits_share_the_sequence_and_follow_the_media_clock() {
    let t = Instant::now();
    let mut s = MediaStream::new(config(), t, wall()).unwrap();
    s.send_audio(t, &[0; 160]);
    s.send_digit(t + Duration::from_millis(40), '7').unwrap();
    assert_eq!(s.poll_timeout(), Some(t + Duration::from_millis(40)));
    let at = t + Duration::from_millis(40);
    let first = s.poll_transmit(at).unwrap();
    assert_eq!(first.channel, Channel::Rtp);
    let p = RtpPacket::parse(&first.bytes).unwrap();
    assert_eq!(p.payload_type(), 101);
    assert_eq!(p.sequence(), 65_535);
    assert!(p.marker());
    assert_eq!(p.timestamp(), 4_000_000_000 + 320);
    let e = TelephoneEvent::decode(p.payload()).unwrap();
    assert_eq!((e.event, e.end, e.duration), (7, false, 160));
    assert!(s.sending_digits());
    assert_eq!(s.send_digit(at, 'z'), Err(Error::NotADigit('z')));
    let mut none = config();
    none.telephone_event = None;
    let mut quiet = MediaStream::new(none, t, wall()).unwrap();
    assert_eq!(quiet.send_digit(t, '1'), Err(Error::NoTelephoneEvent));
}

#[test]
fn reports_come_at_half_then_full_intervals_sr_when_sending() {
    let t = Instant::now();
    let mut s = MediaStream::new(config(), t, wall()).unwrap();
    assert_eq!(s.poll_timeout(), Some(t + Duration::from_millis(2500)));
    assert_eq!(s.poll_transmit(t + Duration::from_millis(2499)), None);
    // Nothing sent: an RR.
    let rr = s.poll_transmit(t + Duration::from_millis(2500)).unwrap();
    assert_eq!(rr.channel, Channel::Rtcp);
    let packets: Vec<_> = Compound::parse(&rr.bytes).unwrap().packets().collect();
    assert!(matches!(packets[0], RtcpPacket::ReceiverReport(_)));
    let RtcpPacket::SourceDescription(sdes) = packets[1] else {
        panic!("{packets:?}");
    };
    assert_eq!(sdes.cname_of(0x1111), Some(&b"a@example.com"[..]));
    assert_eq!(s.poll_timeout(), Some(t + Duration::from_millis(7500)));
    // After sending: an SR whose NTP time is the wall clock of that instant.
    s.send_audio(t + Duration::from_secs(7), &[0; 160]);
    let sr = s.poll_transmit(t + Duration::from_millis(7500)).unwrap();
    let packets: Vec<_> = Compound::parse(&sr.bytes).unwrap().packets().collect();
    let RtcpPacket::SenderReport(sr) = packets[0] else {
        panic!("{packets:?}");
    };
    let info = sr.sender_info();
    assert_eq!(
        info.ntp,
        NtpTimestamp::from_system_time(wall() + Duration::from_millis(7500))
    );
    assert_eq!(info.packet_count, 1);
    assert_eq!(info.octet_count, 160);
    // 500 ms after the packet stamped 4_000_000_000.
    assert_eq!(info.rtp_timestamp, 4_000_000_000 + 4000);
}

#[test]
fn randomized_intervals_stay_within_the_rfc_bounds() {
    let t = Instant::now();
    let mut c = config();
    c.rtcp_randomization = Some(42);
    let mut s = MediaStream::new(c, t, wall()).unwrap();
    let compensation = std::f64::consts::E - 1.5;
    let mut now = t;
    let mut intervals = Vec::new();
    for _ in 0..200 {
        let next = s.poll_timeout().unwrap();
        assert!(s.poll_transmit(next).is_some());
        intervals.push((next - now).as_secs_f64());
        now = next;
    }
    for i in &intervals[1..] {
        assert!((2.5 / compensation..=7.5 / compensation).contains(i), "{i}");
    }
    let distinct = intervals
        .iter()
        .map(|i| (i * 1000.0) as u64)
        .collect::<std::collections::BTreeSet<_>>();
    assert!(distinct.len() > 100);
}

#[test]
fn close_sends_a_final_report_with_bye_then_nothing() {
    let t = Instant::now();
    let mut s = MediaStream::new(config(), t, wall()).unwrap();
    s.send_audio(t, &[0; 160]);
    s.close();
    let last = s.poll_transmit(t + MS20).unwrap();
    let packets: Vec<_> = Compound::parse(&last.bytes).unwrap().packets().collect();
    assert!(matches!(packets[0], RtcpPacket::SenderReport(_)));
    let RtcpPacket::Bye(bye) = packets[2] else {
        panic!("{packets:?}");
    };
    assert_eq!(bye.sources().collect::<Vec<_>>(), [0x1111]);
    assert!(s.is_closed());
    assert_eq!(s.poll_transmit(t + Duration::from_secs(60)), None);
    assert_eq!(s.poll_timeout(), None);
    assert!(s.send_audio(t + MS20 * 2, &[0; 160]).is_empty());
}

fn remote_packet(pt: u8, ssrc: u32, seq: u16, ts: u32, payload: &[u8]) -> Vec<u8> {
    RtpHeader {
        payload_type: pt,
        sequence: seq,
        timestamp: ts,
        ssrc,
        ..RtpHeader::default()
    }
    .to_vec(payload)
    .unwrap()
}

#[test]
fn received_packets_are_sorted_by_payload_type() {
    let t = Instant::now();
    let mut s = MediaStream::new(config(), t, wall()).unwrap();
    let audio = remote_packet(0, 9, 1, 0, &[1; 160]);
    assert!(matches!(
        s.receive_rtp(t, &audio),
        Ok(Received::Audio(PushOutcome::Accepted))
    ));
    let event = remote_packet(101, 9, 2, 160, &[5, 0x8a, 3, 0x20]);
    let Ok(Received::Event(e)) = s.receive_rtp(t, &event) else {
        panic!("not an event");
    };
    assert_eq!((e.event, e.end), (5, true));
    assert_eq!(s.poll_event(t).and_then(|e| e.digit), Some('5'));
    let cn = remote_packet(13, 9, 3, 320, &[40]);
    assert_eq!(s.receive_rtp(t, &cn), Ok(Received::OtherPayloadType(13)));
    assert_eq!(
        s.receive_rtp(t, &[0x80, 0]),
        Err(Error::RtpTooShort { len: 2 })
    );
    let short_event = remote_packet(101, 9, 4, 480, &[5, 0]);
    assert_eq!(s.receive_rtp(t, &short_event), Err(Error::EventTooShort(2)));
    assert_eq!(s.remote_ssrc(), Some(9));
    let r = s.report();
    assert_eq!(r.packets_received, 4);
    assert_eq!(r.events_received, 1);
}

#[test]
fn a_new_remote_ssrc_restarts_reception_but_keeps_the_totals() {
    let t = Instant::now();
    let mut s = MediaStream::new(config(), t, wall()).unwrap();
    for i in 0..10u16 {
        let p = remote_packet(0, 9, 100 + i, u32::from(i) * 160, &[0; 160]);
        s.receive_rtp(t + MS20 * u32::from(i), &p).unwrap();
    }
    for i in 0..10u16 {
        let p = remote_packet(0, 10, 5000 + i, 77 + u32::from(i) * 160, &[0; 160]);
        s.receive_rtp(t + MS20 * u32::from(10 + i), &p).unwrap();
    }
    assert_eq!(s.remote_ssrc(), Some(10));
    let r = s.report();
    assert_eq!(r.packets_received, 20);
    assert_eq!(r.octets_received, 3200);
    // Each source's first packet is its probation.
    assert_eq!(r.packets_expected, 18);
    assert_eq!(r.packets_lost, 0);
    assert_eq!(s.jitter_buffer().stats().resets, 1);
}

#[test]
fn nothing_received_means_no_quality_estimate() {
    let t = Instant::now();
    let s = MediaStream::new(config(), t, wall()).unwrap();
    let r = s.report();
    assert_eq!((r.r_factor, r.mos), (None, None));
    assert!(r.to_string().starts_with("sent 0/0 recv 0/0 lost 0"));
}

#[test]
fn bad_configurations_are_refused() {
    let t = Instant::now();
    type Change = fn(&mut StreamConfig);
    let cases: [(Change, &str); 6] = [
        (|c| c.payload_type = 128, "payload type above 127"),
        (
            |c| c.telephone_event = Some(0),
            "telephone-event and audio share a payload type",
        ),
        (|c| c.clock_rate = 0, "clock rate is zero"),
        (
            |c| c.ptime = Duration::ZERO,
            "ptime must be between 0 and 1 s",
        ),
        (
            |c| c.rtcp_interval = Duration::ZERO,
            "RTCP interval must be between 0 and 1 hour",
        ),
        (
            |c| c.cname = "x".repeat(300),
            "CNAME longer than 255 octets",
        ),
    ];
    for (change, message) in cases {
        let mut c = config();
        change(&mut c);
        assert_eq!(
            MediaStream::new(c, t, wall()).err(),
            Some(Error::Config(message))
        );
    }
}
