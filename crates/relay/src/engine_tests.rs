//! The engine on a simulated clock: ports, latching, forwarding, counters, loss, idle
//! timeout, re-offers, duplicates, delete.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::*;
use crate::request::{AddressSource, Flags};

const RELAY: [u8; 4] = [203, 0, 113, 5];

fn engine() -> Engine {
    let mut config = EngineConfig::new(RELAY.into());
    config.port_min = 30000;
    config.port_max = 30099;
    Engine::new(config).unwrap()
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn sdp(ip: &str, ports: &[u16]) -> Vec<u8> {
    let mut s = format!("v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n");
    for p in ports {
        s.push_str(&format!("m=audio {p} RTP/AVP 0\r\na=sendrecv\r\n"));
    }
    s.into_bytes()
}

fn request(from: &str, to: Option<&str>, body: Vec<u8>) -> MediaRequest {
    MediaRequest {
        call_id: "call-1".into(),
        from_tag: from.into(),
        to_tag: to.map(str::to_owned),
        sdp: body,
        ..MediaRequest::default()
    }
}

/// The `m=` ports of a rewritten body.
fn ports(rewritten: &Rewritten) -> Vec<u16> {
    let parsed = SessionDescription::from_bytes(&rewritten.sdp).unwrap();
    parsed.media().iter().map(|m| m.port()).collect()
}

fn rtp(seq: u16) -> Vec<u8> {
    let mut p = vec![0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9];
    p[2..4].copy_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&[0xd5; 160]);
    p
}

/// An answered call: Alice (private 10.0.0.16:8000) offered, Bob (192.0.2.20:9000)
/// answered. Returns (Alice's relay port, Bob's relay port).
fn answered(e: &mut Engine, t: Instant) -> (u16, u16) {
    let offer = e
        .offer(
            t,
            &request("alice", None, sdp("10.0.0.16", &[8000])),
            &mut |_| true,
        )
        .unwrap();
    let bob_port = ports(&offer)[0];
    let answer = e
        .answer(
            t,
            &request("alice", Some("bob"), sdp("192.0.2.20", &[9000])),
            &mut |_| true,
        )
        .unwrap();
    let alice_port = ports(&answer)[0];
    (alice_port, bob_port)
}

#[test]
fn offer_and_answer_allocate_a_pair_per_side_and_delete_frees_them() {
    let mut e = engine();
    let free = e.free_port_pairs();
    let (alice_port, bob_port) = answered(&mut e, Instant::now());
    assert_ne!(alice_port, bob_port);
    assert_eq!(alice_port % 2, 0);
    assert_eq!(bob_port % 2, 0);
    assert_eq!(e.free_port_pairs(), free - 2);
    let mut released = e.take_released();
    assert!(released.is_empty());
    e.delete("call-1").unwrap();
    released = e.take_released();
    released.sort();
    let mut expected = vec![alice_port, bob_port];
    expected.sort();
    assert_eq!(released, expected);
    assert_eq!(e.free_port_pairs(), free);
    assert!(matches!(e.delete("call-1"), Err(RelayError::UnknownCall)));
    assert_eq!(
        e.forward(Instant::now(), alice_port, addr("1.2.3.4:5"), &rtp(1)),
        Forward::Drop(DropReason::UnknownPort)
    );
}

#[test]
fn rewritten_sdp_points_at_the_relay_with_rtcp() {
    let mut e = engine();
    let offer = e
        .offer(
            Instant::now(),
            &request("alice", None, sdp("10.0.0.16", &[8000])),
            &mut |_| true,
        )
        .unwrap();
    let text = String::from_utf8(offer.sdp.clone()).unwrap();
    let port = ports(&offer)[0];
    assert!(text.contains("c=IN IP4 203.0.113.5\r\n"), "{text}");
    assert!(!text.contains("10.0.0.16\r\nt="), "{text}");
    assert!(text.contains(&format!("a=rtcp:{}\r\n", port + 1)), "{text}");
    assert!(
        text.contains("o=- 1 1 IN IP4 10.0.0.16\r\n"),
        "origin kept without replace-origin"
    );
}

#[test]
fn media_flows_both_ways_after_latching_to_nat_sources() {
    let mut e = engine();
    let t = Instant::now();
    let (alice_port, bob_port) = answered(&mut e, t);
    let alice_nat = addr("198.51.100.7:40000");
    let bob = addr("192.0.2.20:9000");
    // Bob sends first: Alice has not sent yet, so her announced (private) address is used.
    assert_eq!(
        e.forward(t, bob_port, bob, &rtp(1)),
        Forward::Send {
            from_port: alice_port,
            to: addr("10.0.0.16:8000")
        }
    );
    // Alice's first packet latches her NAT address.
    assert_eq!(
        e.forward(t, alice_port, alice_nat, &rtp(1)),
        Forward::Send {
            from_port: bob_port,
            to: bob
        }
    );
    assert_eq!(
        e.forward(t, bob_port, bob, &rtp(2)),
        Forward::Send {
            from_port: alice_port,
            to: alice_nat
        }
    );
    // RTCP: odd ports, latched separately, announced as RTP + 1 until then.
    assert_eq!(
        e.forward(t, bob_port + 1, addr("192.0.2.20:9001"), &[0x80, 200, 0, 6]),
        Forward::Send {
            from_port: alice_port + 1,
            to: addr("10.0.0.16:8001")
        }
    );
    assert_eq!(
        e.forward(
            t,
            alice_port + 1,
            addr("198.51.100.7:40001"),
            &[0x80, 200, 0, 6]
        ),
        Forward::Send {
            from_port: bob_port + 1,
            to: addr("192.0.2.20:9001")
        }
    );
    let stats = e.query("call-1").unwrap();
    let alice = &stats.parties[0].streams[0];
    let bob_side = &stats.parties[1].streams[0];
    assert_eq!(alice.rtp.packets, 1);
    assert_eq!(alice.rtp.bytes, 172);
    assert_eq!(alice.rtcp.packets, 1);
    assert_eq!(bob_side.rtp.packets, 2);
    assert_eq!(alice.latched[0], Some(alice_nat));
    assert_eq!(alice.announced, Some(addr("10.0.0.16:8000")));
    let (rtp_total, rtcp_total) = stats.totals();
    assert_eq!((rtp_total.packets, rtcp_total.packets), (3, 2));
    assert_eq!(stats.parties[1].tag.as_deref(), Some("bob"));
}

#[test]
fn packets_before_the_answer_have_no_destination_and_count_as_errors() {
    let mut e = engine();
    let t = Instant::now();
    let offer = e
        .offer(
            t,
            &request("alice", None, sdp("10.0.0.16", &[8000])),
            &mut |_| true,
        )
        .unwrap();
    let bob_port = ports(&offer)[0];
    let alice_port = e.query("call-1").unwrap().parties[0].streams[0].local_port;
    // Alice may send early media to her port; Bob has no address yet.
    assert_eq!(
        e.forward(t, alice_port, addr("198.51.100.7:4000"), &rtp(1)),
        Forward::Drop(DropReason::NoDestination)
    );
    // Bob's early packets reach Alice's announced address.
    assert!(matches!(
        e.forward(t, bob_port, addr("192.0.2.20:9000"), &rtp(1)),
        Forward::Send { .. }
    ));
    let stats = e.query("call-1").unwrap();
    assert_eq!(stats.parties[0].streams[0].rtp.errors, 1);
}

#[test]
fn another_source_is_refused_until_the_latched_one_is_silent() {
    let mut e = engine();
    let t = Instant::now();
    let (alice_port, _) = answered(&mut e, t);
    let first = addr("198.51.100.7:40000");
    let moved = addr("198.51.100.7:41234");
    assert!(matches!(
        e.forward(t, alice_port, first, &rtp(1)),
        Forward::Send { .. }
    ));
    let later = t + Duration::from_secs(1);
    assert_eq!(
        e.forward(later, alice_port, moved, &rtp(2)),
        Forward::Drop(DropReason::NotLatchedSource)
    );
    // 3 s after the last packet from the latched source, the new one takes over.
    let after = t + Duration::from_secs(3);
    assert!(matches!(
        e.forward(after, alice_port, moved, &rtp(3)),
        Forward::Send { .. }
    ));
    let stats = e.query("call-1").unwrap();
    assert_eq!(stats.parties[0].streams[0].latched[0], Some(moved));
    assert_eq!(stats.parties[0].streams[0].rtp.errors, 1);
}

#[test]
fn loss_is_counted_from_sequence_numbers() {
    let mut e = engine();
    let t = Instant::now();
    let (alice_port, _) = answered(&mut e, t);
    let src = addr("198.51.100.7:40000");
    for seq in (100..120u16).filter(|s| s % 5 != 0) {
        e.forward(t, alice_port, src, &rtp(seq));
    }
    let stats = e.query("call-1").unwrap();
    // 100 opens the stream at 101, then 105, 110, 115 are missing.
    assert_eq!(stats.parties[0].streams[0].lost, 3);
    assert_eq!(stats.counters().parties[0].lost, 3);
}

#[test]
fn idle_calls_expire_and_media_keeps_them_alive() {
    let mut e = engine();
    let t = Instant::now();
    let (alice_port, _) = answered(&mut e, t);
    assert_eq!(e.poll_timeout(), Some(t + Duration::from_secs(60)));
    let t30 = t + Duration::from_secs(30);
    e.forward(t30, alice_port, addr("198.51.100.7:40000"), &rtp(1));
    assert_eq!(e.poll_timeout(), Some(t30 + Duration::from_secs(60)));
    assert!(e.handle_timeout(t + Duration::from_secs(61)).is_empty());
    assert_eq!(e.call_count(), 1);
    let expired = e.handle_timeout(t30 + Duration::from_secs(60));
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].parties[0].streams[0].rtp.packets, 1);
    assert_eq!(e.call_count(), 0);
    assert_eq!(e.take_released().len(), 2);
    assert_eq!(e.poll_timeout(), None);
}

#[test]
fn duplicate_offer_gets_the_same_answer_and_ports() {
    let mut e = engine();
    let t = Instant::now();
    let req = request("alice", None, sdp("10.0.0.16", &[8000]));
    let first = e.offer(t, &req, &mut |_| true).unwrap();
    let free = e.free_port_pairs();
    let again = e
        .offer(t + Duration::from_millis(500), &req, &mut |_| true)
        .unwrap();
    assert_eq!(first, again);
    assert_eq!(e.free_port_pairs(), free);
    assert_eq!(e.call_count(), 1);
}

#[test]
fn re_offer_keeps_ports_and_updates_the_announced_address() {
    let mut e = engine();
    let t = Instant::now();
    let (alice_port, bob_port) = answered(&mut e, t);
    assert!(matches!(
        e.forward(t, alice_port, addr("198.51.100.7:40000"), &rtp(1)),
        Forward::Send { .. }
    ));
    // Alice moved: re-INVITE from a new address. Same ports, latch reset.
    let re = e
        .offer(
            t,
            &request("alice", Some("bob"), sdp("10.1.1.1", &[7000])),
            &mut |_| true,
        )
        .unwrap();
    assert_eq!(ports(&re), [bob_port]);
    let stats = e.query("call-1").unwrap();
    assert_eq!(
        stats.parties[0].streams[0].announced,
        Some(addr("10.1.1.1:7000"))
    );
    assert_eq!(stats.parties[0].streams[0].latched[0], None);
    // Hold from Bob (re-INVITE from the callee, RFC 2543 style): 0.0.0.0 stays visible.
    let hold = e
        .offer(
            t,
            &request("bob", Some("alice"), sdp("0.0.0.0", &[9000])),
            &mut |_| true,
        )
        .unwrap();
    assert_eq!(ports(&hold), [alice_port]);
    let text = String::from_utf8(hold.sdp).unwrap();
    assert!(text.contains("c=IN IP4 0.0.0.0\r\n"), "{text}");
    assert_eq!(
        e.forward(t, alice_port, addr("198.51.100.7:40000"), &rtp(2)),
        Forward::Drop(DropReason::NoDestination),
        "nothing goes to a party on hold that never sent"
    );
}

#[test]
fn several_media_lines_and_a_rejected_one() {
    let mut e = engine();
    let t = Instant::now();
    let free = e.free_port_pairs();
    let offer = e
        .offer(
            t,
            &request("alice", None, sdp("10.0.0.16", &[8000, 0, 8002])),
            &mut |_| true,
        )
        .unwrap();
    let p = ports(&offer);
    assert_eq!(p[1], 0);
    assert!(p[0] != 0 && p[2] != 0 && p[0] != p[2]);
    assert_eq!(e.free_port_pairs(), free - 4);
    let stats = e.query("call-1").unwrap();
    let indexes: Vec<usize> = stats.parties[0]
        .streams
        .iter()
        .map(|s| s.media_index)
        .collect();
    assert_eq!(indexes, [0, 2]);
}

#[test]
fn exhausted_ports_leave_nothing_behind() {
    let mut config = EngineConfig::new(RELAY.into());
    config.port_min = 30000;
    config.port_max = 30005; // three pairs: one stream takes two
    let mut e = Engine::new(config).unwrap();
    let err = e.offer(
        Instant::now(),
        &request("alice", None, sdp("10.0.0.16", &[8000, 8002])),
        &mut |_| true,
    );
    assert!(matches!(err, Err(RelayError::PortsExhausted)));
    assert_eq!(e.free_port_pairs(), 3);
    assert_eq!(e.call_count(), 0);
    // Busy ports (the shell could not bind) are skipped.
    let ok = e.offer(
        Instant::now(),
        &request("alice", None, sdp("10.0.0.16", &[8000])),
        &mut |p| p != 30000,
    );
    assert!(ok.is_ok());
}

#[test]
fn answers_must_name_a_known_call_and_party() {
    let mut e = engine();
    let t = Instant::now();
    let answer = request("alice", Some("bob"), sdp("192.0.2.20", &[9000]));
    assert!(matches!(
        e.answer(t, &answer, &mut |_| true),
        Err(RelayError::UnknownCall)
    ));
    answered(&mut e, t);
    let stranger = request("mallory", Some("bob"), sdp("192.0.2.20", &[9000]));
    assert!(matches!(
        e.answer(t, &stranger, &mut |_| true),
        Err(RelayError::UnknownTag)
    ));
    let no_to_tag = request("alice", None, sdp("192.0.2.20", &[9000]));
    assert!(matches!(
        e.answer(t, &no_to_tag, &mut |_| true),
        Err(RelayError::MissingKey("to-tag"))
    ));
    let bad_sdp = request("alice", Some("bob"), b"v=0\r\nbogus".to_vec());
    assert!(matches!(
        e.answer(t, &bad_sdp, &mut |_| true),
        Err(RelayError::Sdp(_))
    ));
}

#[test]
fn sip_source_address_replaces_the_private_sdp_address() {
    let mut e = engine();
    let t = Instant::now();
    let mut req = request("alice", None, sdp("10.0.0.16", &[8000]));
    req.received_from = Some([198, 51, 100, 7].into());
    req.flags = Flags {
        address: AddressSource::SipSource,
        ..Flags::default()
    };
    e.offer(t, &req, &mut |_| true).unwrap();
    let stats = e.query("call-1").unwrap();
    assert_eq!(
        stats.parties[0].streams[0].announced,
        Some(addr("198.51.100.7:8000"))
    );
}

#[test]
fn asymmetric_party_always_gets_its_announced_address() {
    let mut e = engine();
    let t = Instant::now();
    let (alice_port, bob_port) = answered(&mut e, t);
    let mut req = request("alice", Some("bob"), sdp("10.0.0.16", &[8000]));
    req.flags.symmetric = false;
    e.offer(t, &req, &mut |_| true).unwrap();
    e.forward(t, alice_port, addr("198.51.100.7:40000"), &rtp(1));
    assert_eq!(
        e.forward(t, bob_port, addr("192.0.2.20:9000"), &rtp(1)),
        Forward::Send {
            from_port: alice_port,
            to: addr("10.0.0.16:8000")
        }
    );
}

#[test]
fn totals_keep_the_counters_of_ended_calls_and_add_the_live_ones() {
    let mut e = engine();
    let t = Instant::now();
    assert_eq!(e.totals(), RelayTotals::default());
    let (alice_port, _bob_port) = answered(&mut e, t);
    let alice = addr("10.0.0.16:8000");
    // Seq 1, 2, 4: one lost.
    for seq in [1u16, 2, 4] {
        e.forward(t, alice_port, alice, &rtp(seq));
    }
    let live = e.totals();
    assert_eq!(live.sessions, 1);
    assert_eq!(live.packets, 3);
    assert_eq!(live.bytes, 3 * 172);
    assert_eq!(live.lost, 1);
    // A repeated offer is the same call.
    e.offer(
        t,
        &request("alice", None, sdp("10.0.0.16", &[8000])),
        &mut |_| true,
    )
    .unwrap();
    assert_eq!(e.totals().sessions, 1);
    e.delete("call-1").unwrap();
    assert_eq!(
        e.totals(),
        live,
        "an ended call's counters stay in the totals"
    );
    // A late packet of the ended call counts nowhere.
    e.forward(t, alice_port, alice, &rtp(5));
    assert_eq!(e.totals(), live);
}

/// The parties' RTCP passes the relay: each leg's round trip from LSR/DLSR, the callee's
/// report about Alice's stream pulls Alice's quality estimate down, malformed RTCP and
/// SRTCP are relayed but not read.
#[test]
fn rtcp_reports_are_read_per_leg_and_feed_the_quality() {
    use rtp::ntp::{duration_to_short, NtpTimestamp};
    use rtp::rtcp::{write_receiver_report, write_sender_report, ReportBlock, SenderInfo};

    let mut e = engine();
    let t = Instant::now();
    let (alice_port, bob_port) = answered(&mut e, t);
    let alice = addr("198.51.100.7:40000");
    let alice_rtcp = addr("198.51.100.7:40001");
    let bob = addr("192.0.2.20:9000");
    let bob_rtcp = addr("192.0.2.20:9001");
    // 20 s of PCMU both ways (SSRC 9), then reports.
    for seq in 0..1000u16 {
        let at = t + Duration::from_millis(20 * u64::from(seq));
        let mut p = rtp(seq);
        p[4..8].copy_from_slice(&(160 * u32::from(seq)).to_be_bytes());
        e.forward(at, alice_port, alice, &p);
        e.forward(at, bob_port, bob, &p);
    }
    let before = e.query("call-1").unwrap().parties[0].streams[0]
        .quality
        .unwrap();
    let sr = |ssrc: u32, ntp: NtpTimestamp, blocks: &[ReportBlock]| {
        let mut out = Vec::new();
        let info = SenderInfo {
            ntp,
            ..SenderInfo::default()
        };
        write_sender_report(&mut out, ssrc, &info, blocks).unwrap();
        out
    };
    let t1 = t + Duration::from_secs(20);
    let alice_ntp = NtpTimestamp::from_parts(3_900_000_000, 0);
    let bob_ntp = NtpTimestamp::from_parts(3_900_000_100, 0);
    // Alice's SR and Bob's SR pass the relay at t1.
    let verdict = e.forward(t1, alice_port + 1, alice_rtcp, &sr(9, alice_ntp, &[]));
    assert!(matches!(verdict, Forward::Send { to, .. } if to == addr("192.0.2.20:9001")));
    e.forward(t1, bob_port + 1, bob_rtcp, &sr(9, bob_ntp, &[]));
    // 300 ms later Bob reports on Alice's stream (held 200 ms: 100 ms relay-Bob) with
    // 100 of 1000 lost and 40 ms jitter; Alice reports on Bob's (held 250 ms: 50 ms).
    let block = |lsr: NtpTimestamp, held: u64, lost: i32, jitter: u32| ReportBlock {
        ssrc: 9,
        fraction_lost: 25,
        cumulative_lost: lost,
        highest_sequence: 999,
        jitter,
        last_sr: lsr.middle32(),
        delay_since_last_sr: duration_to_short(Duration::from_millis(held)),
    };
    let t2 = t1 + Duration::from_millis(300);
    let mut rr = Vec::new();
    write_receiver_report(&mut rr, 9, &[block(alice_ntp, 200, 100, 320)]).unwrap();
    e.forward(t2, bob_port + 1, bob_rtcp, &rr);
    let mut rr = Vec::new();
    write_receiver_report(&mut rr, 9, &[block(bob_ntp, 250, 0, 0)]).unwrap();
    e.forward(t2, alice_port + 1, alice_rtcp, &rr);
    // Junk on the RTCP port: relayed, counted, not read.
    assert!(matches!(
        e.forward(t2, alice_port + 1, alice_rtcp, &[0x80, 201, 0, 7, 1]),
        Forward::Send { .. }
    ));

    let stats = e.query("call-1").unwrap();
    let [a, b] = [&stats.parties[0].streams[0], &stats.parties[1].streams[0]];
    let near = |d: Option<Duration>, ms: u64| {
        d.is_some_and(|d| d.abs_diff(Duration::from_millis(ms)) < Duration::from_millis(1))
    };
    assert!(near(b.report.seen.round_trip, 100), "{:?}", b.report.seen);
    assert!(near(a.report.seen.round_trip, 50), "{:?}", a.report.seen);
    assert_eq!(a.report.seen.compounds, 2, "the junk is not a report");
    assert_eq!(a.rtcp.packets, 3);
    assert_eq!(b.report.seen.blocks[0].cumulative_lost, 100);
    assert_eq!(a.report.source, Some(alice_rtcp));
    assert_eq!(
        a.report.relay,
        Some(SocketAddr::new(RELAY.into(), alice_port + 1))
    );
    assert_eq!(a.report.relay_block.unwrap().highest_sequence, 999);
    // Alice's stream: 10 % lost and 40 ms jitter behind the relay, 150 ms round trip.
    let after = a.quality.unwrap();
    assert_eq!(after.jitter_us, 40_000);
    assert!(
        after.mos_centi + 100 < before.mos_centi,
        "{after:?} {before:?}"
    );
    // Bob's stream: Alice saw it clean; only the round trip counts (below 100 ms one way
    // plus buffers, so hardly anything).
    let bob_quality = b.quality.unwrap();
    assert!(bob_quality.mos_centi >= 430, "{bob_quality:?}");
    // The same through the CDR counters.
    let counters = stats.counters();
    assert_eq!(counters.parties[0].quality, Some(after));
    assert!(counters.parties[1]
        .report
        .as_ref()
        .unwrap()
        .seen
        .round_trip
        .is_some());
}

/// A dynamic payload type is rated by the rtpmap the SDP gave it: Opus at 48 kHz gets a
/// jitter and a MOS, its telephone-event packets in between do not count as jitter, and
/// a payload type no SDP named (video, say) gets loss only.
#[test]
fn dynamic_payload_types_are_rated_by_the_sdps_rtpmap() {
    let opus = |ip: &str, port: u16| {
        format!(
            "v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
             m=audio {port} RTP/AVP 111 101\r\na=rtpmap:111 opus/48000/2\r\n\
             a=rtpmap:101 telephone-event/8000\r\n"
        )
        .into_bytes()
    };
    let mut e = engine();
    let t = Instant::now();
    let offer = e
        .offer(
            t,
            &request("alice", None, opus("10.0.0.16", 8000)),
            &mut |_| true,
        )
        .unwrap();
    let bob_port = ports(&offer)[0];
    let answer = e
        .answer(
            t,
            &request("alice", Some("bob"), opus("192.0.2.20", 9000)),
            &mut |_| true,
        )
        .unwrap();
    let alice_port = ports(&answer)[0];
    let packet = |pt: u8, seq: u16, ts: u32| {
        let mut p = vec![0x80, pt, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7];
        p[2..4].copy_from_slice(&seq.to_be_bytes());
        p[4..8].copy_from_slice(&ts.to_be_bytes());
        p.extend_from_slice(&[0; 80]);
        p
    };
    let alice = addr("198.51.100.7:40000");
    let bob = addr("192.0.2.20:9000");
    let mut seq = 0u16;
    for i in 0..250u16 {
        let at = t + Duration::from_millis(20 * u64::from(i));
        e.forward(at, alice_port, alice, &packet(111, seq, 960 * u32::from(i)));
        seq += 1;
        if i % 25 == 0 {
            // A DTMF event of the same SSRC, in its sequence, with a timestamp of its own
            // (RFC 4733 §2.5.1.2: the event's start at its 8 kHz clock): not jitter.
            e.forward(at, alice_port, alice, &packet(101, seq, 5));
            seq += 1;
        }
        e.forward(at, bob_port, bob, &packet(98, i, 3000 * u32::from(i)));
    }
    let stats = e.query("call-1").unwrap();
    let alice_quality = stats.parties[0].streams[0].quality.unwrap();
    assert_eq!(alice_quality.jitter_us, 0, "{alice_quality:?}");
    assert_eq!(stats.parties[0].streams[0].lost, 0);
    assert!(alice_quality.mos_centi >= 430, "{alice_quality:?}");
    assert_eq!(stats.parties[1].streams[0].quality, None, "PT 98: unnamed");
}

/// Asked to, the engine keeps each RTCP compound it read for a live export: the call, the
/// party's source and the relay port it sent to, what its RTCP said; junk is not kept,
/// and without the setting nothing is.
#[test]
fn rtcp_sightings_are_kept_only_when_asked() {
    use rtp::rtcp::{write_receiver_report, ReportBlock};

    let mut rr = Vec::new();
    let block = ReportBlock {
        ssrc: 9,
        cumulative_lost: 4,
        ..ReportBlock::default()
    };
    write_receiver_report(&mut rr, 77, &[block]).unwrap();
    let t = Instant::now();
    let alice_rtcp = addr("198.51.100.7:40001");

    let mut e = engine();
    let (alice_port, _) = answered(&mut e, t);
    e.forward(t, alice_port + 1, alice_rtcp, &rr);
    assert!(e.take_rtcp_sightings().is_empty(), "off by default");

    let mut config = EngineConfig::new(RELAY.into());
    config.port_min = 30000;
    config.port_max = 30099;
    config.keep_rtcp_reports = true;
    let mut e = Engine::new(config).unwrap();
    let (alice_port, _) = answered(&mut e, t);
    e.forward(t, alice_port + 1, alice_rtcp, &rr);
    e.forward(t, alice_port + 1, alice_rtcp, &[0x80, 201, 0, 9]);
    e.forward(t, alice_port + 1, alice_rtcp, &rr);
    let sightings = e.take_rtcp_sightings();
    assert_eq!(sightings.len(), 2, "the junk is not kept");
    let first = &sightings[0];
    assert_eq!(first.call_id, "call-1");
    assert_eq!(first.report.source, Some(alice_rtcp));
    assert_eq!(
        first.report.relay,
        Some(SocketAddr::new(RELAY.into(), alice_port + 1))
    );
    assert_eq!(first.report.seen.ssrc, 77);
    assert_eq!(first.report.seen.blocks, [block]);
    assert_eq!(first.report.relay_block, None);
    assert_eq!(sightings[1].report.seen.compounds, 2);
    assert!(e.take_rtcp_sightings().is_empty(), "taken");
}
