//! Golden packets: `tests/data/gen_packets.py` lays RTP and RTCP packets out from RFC 3550
//! and RFC 4733 with Python's `struct`; the builders must produce the same bytes and the
//! views must read the same fields. Then every truncation of every golden packet must be
//! refused or read without panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use rtp::event::TelephoneEvent;
use rtp::ntp::NtpTimestamp;
use rtp::packet::HeaderExtension;
use rtp::rtcp::{Compound, CompoundReport, ReportBlock, RtcpPacket, SenderInfo};
use rtp::{RtpHeader, RtpPacket};

fn golden(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn plain_audio_packet() {
    let bytes = golden("rtp/pcmu.bin");
    let built = RtpHeader {
        marker: true,
        payload_type: 0,
        sequence: 0x1234,
        timestamp: 0xdead_beef,
        ssrc: 0x0102_0304,
        ..RtpHeader::default()
    }
    .to_vec(&[0xff; 160])
    .unwrap();
    assert_eq!(built, bytes);
    let p = RtpPacket::parse(&bytes).unwrap();
    assert_eq!(
        (p.sequence(), p.timestamp(), p.ssrc()),
        (0x1234, 0xdead_beef, 0x0102_0304)
    );
    assert!(p.marker());
    assert_eq!(p.payload(), [0xff; 160]);
}

#[test]
fn packet_with_csrcs_extension_and_padding() {
    let bytes = golden("rtp/csrc-extension-padding.bin");
    let csrcs = [0x1111_1111, 0x2222_2222];
    let built = RtpHeader {
        payload_type: 96,
        sequence: 0xffff,
        timestamp: 0,
        ssrc: 0xcafe_babe,
        csrcs: &csrcs,
        extension: Some(HeaderExtension {
            profile: 0xbede,
            data: &[0x10, 0xaa, 0, 0],
        }),
        padding: 4,
        ..RtpHeader::default()
    }
    .to_vec(b"abc")
    .unwrap();
    assert_eq!(built, bytes);
    let p = RtpPacket::parse(&bytes).unwrap();
    assert_eq!(p.csrcs().collect::<Vec<_>>(), csrcs);
    assert_eq!(p.extension().unwrap().data, [0x10, 0xaa, 0, 0]);
    assert_eq!(p.payload(), b"abc");
    assert_eq!(p.padding_len(), 4);
}

#[test]
fn telephone_event_packet() {
    let bytes = golden("rtp/telephone-event.bin");
    let p = RtpPacket::parse(&bytes).unwrap();
    assert_eq!(p.payload_type(), 101);
    let e = TelephoneEvent::decode(p.payload()).unwrap();
    assert_eq!(e.digit(), Some('1'));
    assert_eq!((e.end, e.volume, e.duration), (false, 10, 160));
    assert_eq!(e.encode(), p.payload());
}

#[test]
fn sender_report_with_sdes() {
    let bytes = golden("rtcp/sr-sdes.bin");
    let block = ReportBlock {
        ssrc: 0x0506_0708,
        fraction_lost: 10,
        cumulative_lost: 3,
        highest_sequence: 0x0001_1000,
        jitter: 40,
        last_sr: 0x1234_5678,
        delay_since_last_sr: 0x0001_0000,
    };
    let info = SenderInfo {
        ntp: NtpTimestamp::from_parts(0xe800_0000, 0x8000_0000),
        rtp_timestamp: 16_000,
        packet_count: 50,
        octet_count: 8000,
    };
    let built = CompoundReport {
        ssrc: 0x0102_0304,
        sender_info: Some(info),
        report_blocks: &[block],
        cname: "alice@example.com",
        bye: false,
        bye_reason: None,
    }
    .to_vec()
    .unwrap();
    assert_eq!(built, bytes);
    let packets: Vec<_> = Compound::parse(&bytes).unwrap().packets().collect();
    let RtcpPacket::SenderReport(sr) = packets[0] else {
        panic!("{packets:?}");
    };
    assert_eq!(sr.sender_info(), info);
    assert_eq!(sr.report_blocks().collect::<Vec<_>>(), [block]);
}

#[test]
fn receiver_report_sdes_and_bye() {
    let bytes = golden("rtcp/rr-sdes-bye.bin");
    let built = CompoundReport {
        ssrc: 0x0a0b_0c0d,
        sender_info: None,
        report_blocks: &[],
        cname: "b",
        bye: true,
        bye_reason: Some("bye"),
    }
    .to_vec()
    .unwrap();
    assert_eq!(built, bytes);
    let packets: Vec<_> = Compound::parse(&bytes).unwrap().packets().collect();
    assert_eq!(packets.len(), 3);
    let RtcpPacket::Bye(bye) = packets[2] else {
        panic!("{packets:?}");
    };
    assert_eq!(bye.reason(), Some(&b"bye"[..]));
}

/// An XR VoIP Metrics block (RFC 3611 §4.7) encoded by `gen_packets.py`, independently of
/// the crate: every field decodes, and the crate's encoder gives the same octets.
#[test]
fn receiver_report_and_xr_voip_metrics() {
    let bytes = golden("rtcp/rr-xr-voip.bin");
    let packets: Vec<_> = Compound::parse(&bytes).unwrap().packets().collect();
    assert_eq!(packets.len(), 2);
    let RtcpPacket::ReceiverReport(rr) = packets[0] else {
        panic!("{packets:?}");
    };
    let block = rr.report_blocks().next().unwrap();
    assert_eq!(
        (block.ssrc, block.fraction_lost, block.cumulative_lost),
        (0x0102_0304, 13, 7)
    );
    let RtcpPacket::ExtendedReport(xr) = packets[1] else {
        panic!("{packets:?}");
    };
    assert_eq!(xr.ssrc(), 0x0a0b_0c0d);
    let vm = xr.voip_metrics().unwrap();
    let expected = rtp::rtcp::VoipMetrics {
        ssrc: 0x0102_0304,
        loss_rate: 13,
        discard_rate: 2,
        burst_density: 40,
        gap_density: 5,
        burst_duration: 120,
        gap_duration: 3000,
        round_trip_delay: 180,
        end_system_delay: 60,
        signal_level: -20,
        noise_level: -70,
        rerl: 127,
        gmin: 16,
        r_factor: 85,
        ext_r_factor: 127,
        mos_lq: 41,
        mos_cq: 40,
        rx_config: 0x80,
        jb_nominal: 40,
        jb_maximum: 80,
        jb_abs_max: 200,
    };
    assert_eq!(vm, expected);
    let mut encoded = Vec::new();
    vm.encode(&mut encoded);
    assert_eq!(encoded, bytes[bytes.len() - 36..]);
}

#[test]
fn every_truncation_and_bit_flip_is_handled() {
    for name in [
        "rtp/pcmu.bin",
        "rtp/csrc-extension-padding.bin",
        "rtp/telephone-event.bin",
        "rtcp/sr-sdes.bin",
        "rtcp/rr-sdes-bye.bin",
        "rtcp/rr-xr-voip.bin",
    ] {
        let bytes = golden(name);
        let mut variants: Vec<Vec<u8>> = (0..bytes.len()).map(|n| bytes[..n].to_vec()).collect();
        for i in 0..bytes.len().min(40) {
            for bit in 0..8 {
                let mut v = bytes.clone();
                v[i] ^= 1 << bit;
                variants.push(v);
            }
        }
        for v in variants {
            if let Ok(p) = RtpPacket::parse(&v) {
                assert!(p.header_len() + p.payload().len() + p.padding_len() == v.len());
                let mut csrcs = Vec::new();
                let again = p.header(&mut csrcs).to_vec(p.payload()).unwrap();
                assert_eq!(again.len(), v.len());
                assert_eq!(again[..p.header_len()], v[..p.header_len()]);
            }
            if let Ok(c) = Compound::parse(&v) {
                for packet in c.packets() {
                    if let RtcpPacket::SourceDescription(s) = packet {
                        for chunk in s.chunks() {
                            let _ = chunk.items().count();
                        }
                    }
                }
            }
        }
    }
}
