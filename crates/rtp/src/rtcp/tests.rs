//! Unit tests of the RTCP views and builders.

use super::*;
use crate::ntp::NtpTimestamp;

fn block(ssrc: u32, lost: i32) -> ReportBlock {
    ReportBlock {
        ssrc,
        fraction_lost: 25,
        cumulative_lost: lost,
        highest_sequence: 0x0001_0005,
        jitter: 77,
        last_sr: 0x1234_5678,
        delay_since_last_sr: 65_536,
    }
}

fn info() -> SenderInfo {
    SenderInfo {
        ntp: NtpTimestamp::from_parts(3_900_000_000, 0x4000_0000),
        rtp_timestamp: 160_000,
        packet_count: 1000,
        octet_count: 160_000,
    }
}

#[test]
fn sender_report_compound_round_trips() {
    let blocks = [block(7, 3), block(8, -2)];
    let bytes = CompoundReport {
        ssrc: 0xabcd,
        sender_info: Some(info()),
        report_blocks: &blocks,
        cname: "alice@example.com",
        bye: false,
        bye_reason: None,
    }
    .to_vec()
    .unwrap();
    assert_eq!(bytes.len() % 4, 0);
    let compound = Compound::parse(&bytes).unwrap();
    let packets: Vec<_> = compound.packets().collect();
    assert_eq!(packets.len(), 2);
    let RtcpPacket::SenderReport(sr) = packets[0] else {
        panic!("first is {:?}", packets[0]);
    };
    assert_eq!(sr.ssrc(), 0xabcd);
    assert_eq!(sr.sender_info(), info());
    assert_eq!(sr.report_blocks().collect::<Vec<_>>(), blocks);
    assert!(sr.extension().is_empty());
    let RtcpPacket::SourceDescription(sdes) = packets[1] else {
        panic!("second is {:?}", packets[1]);
    };
    assert_eq!(sdes.cname_of(0xabcd), Some(&b"alice@example.com"[..]));
    assert_eq!(sdes.cname_of(1), None);
}

#[test]
fn receiver_report_with_bye_round_trips() {
    let bytes = CompoundReport {
        ssrc: 5,
        sender_info: None,
        report_blocks: &[],
        cname: "b",
        bye: true,
        bye_reason: Some("hangup"),
    }
    .to_vec()
    .unwrap();
    let packets: Vec<_> = Compound::parse(&bytes).unwrap().packets().collect();
    assert_eq!(packets.len(), 3);
    let RtcpPacket::ReceiverReport(rr) = packets[0] else {
        panic!("{:?}", packets[0]);
    };
    assert_eq!(rr.ssrc(), 5);
    assert_eq!(rr.report_blocks().count(), 0);
    let RtcpPacket::Bye(bye) = packets[2] else {
        panic!("{:?}", packets[2]);
    };
    assert_eq!(bye.sources().collect::<Vec<_>>(), [5]);
    assert_eq!(bye.reason(), Some(&b"hangup"[..]));
}

#[test]
fn more_than_31_blocks_continue_in_further_receiver_reports() {
    let blocks: Vec<_> = (0..40).map(|i| block(i, i as i32)).collect();
    let bytes = CompoundReport {
        ssrc: 1,
        sender_info: Some(info()),
        report_blocks: &blocks,
        cname: "x",
        ..Default::default()
    }
    .to_vec()
    .unwrap();
    let mut seen = Vec::new();
    for p in Compound::parse(&bytes).unwrap().packets() {
        match p {
            RtcpPacket::SenderReport(sr) => seen.extend(sr.report_blocks()),
            RtcpPacket::ReceiverReport(rr) => seen.extend(rr.report_blocks()),
            _ => {}
        }
    }
    assert_eq!(seen, blocks);
}

#[test]
fn cumulative_loss_is_24_bit_signed_and_clamped() {
    let mut out = Vec::new();
    block(1, -1).encode(&mut out);
    assert_eq!(&out[4..8], &[25, 0xff, 0xff, 0xff]);
    assert_eq!(ReportBlock::decode(&out).cumulative_lost, -1);
    out.clear();
    block(1, 10_000_000).encode(&mut out);
    assert_eq!(ReportBlock::decode(&out).cumulative_lost, 0x7f_ffff);
    out.clear();
    block(1, -10_000_000).encode(&mut out);
    assert_eq!(ReportBlock::decode(&out).cumulative_lost, -0x80_0000);
}

#[test]
fn sdes_chunks_are_padded_to_words() {
    for n in 0..8 {
        let name = "n".repeat(n);
        let mut out = Vec::new();
        let items = [
            SdesItem {
                kind: SDES_CNAME,
                value: name.as_bytes(),
            },
            SdesItem {
                kind: SDES_TOOL,
                value: b"itsp",
            },
        ];
        write_sdes(&mut out, &[(9, &items), (10, &[])]).unwrap();
        assert_eq!(out.len() % 4, 0, "cname of {n}");
        let Ok((raw, end)) = next_packet(&out, 0) else {
            panic!("{n}");
        };
        assert_eq!(end, out.len());
        let sdes = SourceDescription::parse(raw.count, raw.body).unwrap();
        let chunks: Vec<_> = sdes.chunks().collect();
        assert_eq!(chunks.len(), 2);
        assert_eq!(chunks[0].items().collect::<Vec<_>>(), items);
        assert_eq!(chunks[1].ssrc, 10);
        assert_eq!(chunks[1].items().count(), 0);
    }
}

#[test]
fn unknown_packet_types_are_handed_out_not_rejected() {
    let mut bytes = CompoundReport {
        ssrc: 1,
        cname: "c",
        ..Default::default()
    }
    .to_vec()
    .unwrap();
    // An APP packet (RFC 3550 §6.7): subtype 3, SSRC, name, no data.
    bytes.extend_from_slice(&[0x83, PT_APP, 0, 2, 0, 0, 0, 1, b'T', b'E', b'S', b'T']);
    let packets: Vec<_> = Compound::parse(&bytes).unwrap().packets().collect();
    assert_eq!(
        packets[2],
        RtcpPacket::Other(OtherPacket {
            packet_type: PT_APP,
            count: 3,
            body: &[0, 0, 0, 1, b'T', b'E', b'S', b'T'],
        })
    );
}

#[test]
fn padding_is_allowed_on_the_last_packet_only() {
    let rr = |padded: bool| {
        let mut v = Vec::new();
        write_receiver_report(&mut v, 1, &[]).unwrap();
        if padded {
            v[0] |= 0x20;
            v[3] += 1;
            v.extend_from_slice(&[0, 0, 0, 4]);
        }
        v
    };
    let last_padded = [rr(false), rr(true)].concat();
    assert_eq!(Compound::parse(&last_padded).unwrap().packets().count(), 2);
    let first_padded = [rr(true), rr(false)].concat();
    assert_eq!(Compound::parse(&first_padded), Err(Error::RtcpPadding));
    let mut bad_count = rr(true);
    *bad_count.last_mut().unwrap() = 9;
    assert_eq!(Compound::parse(&bad_count), Err(Error::RtcpPadding));
}

#[test]
fn malformed_compounds_say_what_is_wrong() {
    assert_eq!(Compound::parse(&[]), Err(Error::RtcpTooShort { len: 0 }));
    let mut rr = Vec::new();
    write_receiver_report(&mut rr, 1, &[]).unwrap();
    let mut v1 = rr.clone();
    v1[0] = 0x40;
    assert_eq!(Compound::parse(&v1), Err(Error::RtcpVersion(1)));
    let mut long = rr.clone();
    long[3] = 5;
    assert_eq!(
        Compound::parse(&long),
        Err(Error::RtcpLength {
            length_octets: 24,
            available: 8
        })
    );
    let mut trailing = rr.clone();
    trailing.extend_from_slice(&[0x80, 201]);
    assert_eq!(
        Compound::parse(&trailing),
        Err(Error::RtcpTooShort { len: 2 })
    );
    let mut sdes_first = Vec::new();
    write_sdes(&mut sdes_first, &[]).unwrap();
    assert_eq!(
        Compound::parse(&sdes_first),
        Err(Error::RtcpFirstNotReport(PT_SDES))
    );
    let mut counted = rr.clone();
    counted[0] |= 1; // one report block announced, none present
    assert!(matches!(
        Compound::parse(&counted),
        Err(Error::RtcpMalformed {
            packet_type: PT_RR,
            ..
        })
    ));
    let mut unterminated = rr.clone();
    unterminated.extend_from_slice(&[0x81, PT_SDES, 0, 2, 0, 0, 0, 1, 1, 2, b'a', b'b']);
    assert!(matches!(
        Compound::parse(&unterminated),
        Err(Error::RtcpMalformed {
            packet_type: PT_SDES,
            ..
        })
    ));
    let mut bye = rr;
    bye.extend_from_slice(&[0x82, PT_BYE, 0, 1, 0, 0, 0, 1]);
    assert!(matches!(
        Compound::parse(&bye),
        Err(Error::RtcpMalformed {
            packet_type: PT_BYE,
            ..
        })
    ));
}

#[test]
fn builders_reject_what_does_not_fit() {
    let mut out = Vec::new();
    let blocks = [ReportBlock::default(); 32];
    assert_eq!(
        write_receiver_report(&mut out, 1, &blocks),
        Err(Error::RtcpTooManyItems(32))
    );
    let long = "x".repeat(256);
    assert_eq!(
        write_bye(&mut out, &[1], Some(&long)),
        Err(Error::RtcpTextTooLong(256))
    );
    let item = [SdesItem {
        kind: SDES_CNAME,
        value: long.as_bytes(),
    }];
    assert_eq!(
        write_sdes(&mut out, &[(1, &item)]),
        Err(Error::RtcpTextTooLong(256))
    );
}

/// An XR packet (RFC 3611 §2) from `ssrc` with `blocks` (each with its header).
fn xr_packet(ssrc: u32, blocks: &[u8]) -> Vec<u8> {
    let words = u16::try_from((8 + blocks.len()) / 4 - 1).unwrap();
    let mut p = vec![0x80, PT_XR];
    p.extend_from_slice(&words.to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(blocks);
    p
}

fn metrics() -> VoipMetrics {
    VoipMetrics {
        ssrc: 0x0102_0304,
        loss_rate: 13,
        discard_rate: 2,
        burst_density: 40,
        gap_density: 5,
        burst_duration: 120,
        gap_duration: 3_000,
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
    }
}

#[test]
fn an_xr_voip_metrics_block_is_decoded_after_other_blocks() {
    let mut rr = Vec::new();
    write_receiver_report(&mut rr, 9, &[block(7, 3)]).unwrap();
    let mut blocks = Vec::new();
    // A receiver reference time block (RFC 3611 §4.4: BT 4, length 2) first.
    blocks.extend_from_slice(&[4, 0, 0, 2, 1, 2, 3, 4, 5, 6, 7, 8]);
    let mut vm = Vec::new();
    metrics().encode(&mut vm);
    assert_eq!(vm.len(), 36, "header + 32 octets: block length 8 (§4.7)");
    blocks.extend_from_slice(&vm);
    let mut bytes = rr.clone();
    bytes.extend_from_slice(&xr_packet(9, &blocks));
    let compound = Compound::parse(&bytes).unwrap();
    let packets: Vec<_> = compound.packets().collect();
    assert_eq!(packets.len(), 2);
    let RtcpPacket::ExtendedReport(xr) = packets[1] else {
        panic!("{packets:?}");
    };
    assert_eq!(xr.ssrc(), 9);
    let kinds: Vec<u8> = xr.blocks().map(|b| b.block_type).collect();
    assert_eq!(kinds, [4, XR_VOIP_METRICS]);
    assert_eq!(xr.voip_metrics(), Some(metrics()));
}

#[test]
fn malformed_xr_packets_are_rejected() {
    let mut rr = Vec::new();
    write_receiver_report(&mut rr, 9, &[]).unwrap();
    // A block whose length runs past the packet.
    let mut bytes = rr.clone();
    bytes.extend_from_slice(&xr_packet(9, &[7, 0, 0, 8, 0, 0, 0, 0]));
    assert!(matches!(
        Compound::parse(&bytes),
        Err(Error::RtcpMalformed {
            packet_type: PT_XR,
            ..
        })
    ));
    // No SSRC.
    let mut bytes = rr.clone();
    bytes.extend_from_slice(&[0x80, PT_XR, 0, 0]);
    assert!(Compound::parse(&bytes).is_err());
    // A VoIP Metrics block too short to decode is walked but not decoded.
    let mut bytes = rr;
    bytes.extend_from_slice(&xr_packet(9, &[7, 0, 0, 1, 0, 0, 0, 5]));
    let compound = Compound::parse(&bytes).unwrap();
    let Some(RtcpPacket::ExtendedReport(xr)) = compound.packets().nth(1) else {
        panic!("no XR");
    };
    assert_eq!(xr.blocks().count(), 1);
    assert_eq!(xr.voip_metrics(), None);
}
