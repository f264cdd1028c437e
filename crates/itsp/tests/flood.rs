//! A flood of INVITEs from sipp (20,000 a second for 10 s, `data/invite-flood.xml`)
//! against `itsp serve` with its default settings: the flood gets answers or drops, never
//! a crash; OPTIONS from another source keep being answered quickly all along (each
//! retransmitted like a UAC's, and at most one in 20 needing it); resident
//! memory stays under the bound the README names; right after, phones register as usual.
//! Loopback only: the flood comes from 127.0.0.1, the other source is 127.0.0.2.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::UdpSocket;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{as_strs, rss_kb, DataDir, Itsp, Phone};
use sip::Message;

/// The bound on resident memory under any offered load that the README names.
const MAX_RSS_KB: u64 = 400 * 1024;

/// How an OPTIONS probe fared.
#[derive(Debug, Clone, Copy)]
struct Probe {
    /// From the first send to the answer (`None`: no answer to any send).
    answered_after: Option<Duration>,
    /// How many times it was sent.
    sends: u32,
}

/// An OPTIONS to the server from `sock`, retransmitted like any UAC's over UDP (RFC 3261
/// §17.1.2.2: after T1 = 500 ms, then doubling) up to three sends, as a datagram can be
/// lost when the kernel's receive buffer overflows under the flood.
fn options_round_trip(sock: &UdpSocket, server: std::net::SocketAddr, n: u32) -> Probe {
    let text = format!(
        "OPTIONS sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP {};branch=z9hG4bK-probe{n};rport\r\n\
Max-Forwards: 70\r\nFrom: <sip:probe@example.org>;tag=p{n}\r\nTo: <sip:example.com>\r\n\
Call-ID: probe-{n}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
        sock.local_addr().unwrap()
    );
    let sent = Instant::now();
    let mut buf = vec![0u8; 65_535];
    let mut wait = Duration::from_millis(500);
    for sends in 1..=3 {
        sock.send_to(text.as_bytes(), server).unwrap();
        let resend_at = Instant::now() + wait;
        while let Some(left) = resend_at.checked_duration_since(Instant::now()) {
            sock.set_read_timeout(Some(left.max(Duration::from_millis(1))))
                .unwrap();
            let Ok((n_read, _)) = sock.recv_from(&mut buf) else {
                break;
            };
            let Ok(m) = Message::parse(buf[..n_read].to_vec()) else {
                continue;
            };
            if m.call_id().ok() == Some(&*format!("probe-{n}")) {
                return Probe {
                    answered_after: Some(sent.elapsed()),
                    sends,
                };
            }
        }
        wait *= 2;
    }
    Probe {
        answered_after: None,
        sends: 3,
    }
}

#[test]
fn an_invite_flood_leaves_the_server_answering_and_within_its_memory() {
    let data = DataDir::with_users(&[("bob", "b-secret")]);
    let server = Itsp::start(&as_strs(&data.args()));
    let pid = server.child.id();
    let scenario = common::repo_root().join("crates/itsp/tests/data/invite-flood.xml");
    let mut sipp = Command::new("sipp")
        .args(["-sf"])
        .arg(&scenario)
        .args([
            "-r",
            "20000",
            "-rp",
            "1000",
            "-m",
            "200000",
            "-t",
            "u1",
            "-i",
            "127.0.0.1",
            "-nostdin",
            "-timeout",
            "30s",
        ])
        .arg(server.udp.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sipp runs (package sip-tester)");
    let probe = UdpSocket::bind("127.0.0.2:0").unwrap();
    let mut latencies = Vec::new();
    let mut peak_rss = 0;
    let started = Instant::now();
    let mut n = 0;
    while sipp.try_wait().unwrap().is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(40),
            "sipp did not finish"
        );
        n += 1;
        latencies.push(options_round_trip(&probe, server.udp, n));
        peak_rss = peak_rss.max(rss_kb(pid));
        std::thread::sleep(Duration::from_millis(100));
    }
    let flood_time = started.elapsed();
    // 200,000 INVITEs: at least 10,000 a second on average (sipp offers 20,000).
    assert!(
        flood_time < Duration::from_secs(20),
        "sipp took {flood_time:?}: not a flood"
    );
    assert!(sipp.wait().unwrap().success() || flood_time >= Duration::from_secs(5));
    assert!(
        n >= 20,
        "the flood lasted {flood_time:?}, {n} probes: {latencies:?}"
    );
    let unanswered = latencies
        .iter()
        .filter(|p| p.answered_after.is_none())
        .count();
    let resent = latencies.iter().filter(|p| p.sends > 1).count();
    // Answers to a first send: within 100 ms.
    let slow: Vec<_> = latencies
        .iter()
        .filter(|p| p.sends == 1)
        .filter_map(|p| p.answered_after)
        .filter(|l| *l > Duration::from_millis(100))
        .collect();
    assert_eq!(
        unanswered, 0,
        "OPTIONS unanswered during the flood: {latencies:?}"
    );
    // A datagram lost now and then is UDP under a flood; one probe in 20 is the bound.
    assert!(
        resent * 20 <= latencies.len(),
        "{resent} of {} OPTIONS needed a retransmission: {latencies:?}",
        latencies.len()
    );
    assert!(slow.is_empty(), "OPTIONS slower than 100 ms: {slow:?}");
    assert!(
        peak_rss < MAX_RSS_KB,
        "resident memory {peak_rss} kB during the flood"
    );
    // Right after, a phone from another source registers as usual (the flood's source is
    // banned for a minute).
    let mut bob = Phone::at("127.0.0.3", server.udp, "bob", "b-secret");
    let contact = format!("Contact: <{}>\r\n", bob.contact());
    let ok = bob.register(&contact);
    assert_eq!(ok.status(), Some(200));
    assert!(rss_kb(pid) > 0, "the server is still running");
}
