//! Calls through the in-process RTP relay of `itsp serve` (`[relay] policy = "always"`),
//! on loopback with two `itsp phone`s: the proxy rewrites every SDP to point at the relay,
//! tones go both ways through it and are found in the recordings, hold and resume
//! (re-INVITE) keep the audio flowing, and the relay session ends with the call (BYE, or
//! a failed set-up) with its packet counters in the log. The same through real NATs is in
//! `nat_lab.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::softphone::{assert_two_way_audio, tone_call, Softphone};
use common::{as_strs, DataDir, Itsp};

const WAIT: Duration = Duration::from_secs(20);

fn relaying_server(data: &DataDir, dir: &std::path::Path) -> Itsp {
    let config = dir.join("itsp.toml");
    std::fs::write(
        &config,
        "[relay]\npolicy = \"always\"\nports = \"42000-42999\"\n",
    )
    .unwrap();
    let mut args = data.args();
    args.extend(["--config".into(), config.display().to_string()]);
    Itsp::start(&as_strs(&args))
}

#[test]
fn a_relayed_call_carries_tones_both_ways_through_hold_and_resume() {
    let data = DataDir::with_users(&[("alice", "a-secret"), ("bob", "b-secret")]);
    let dir = tempfile::tempdir().unwrap();
    let server = relaying_server(&data, dir.path());
    let start = |user: &str, args: &[&str]| {
        let password = format!("{}-secret", &user[..1]);
        Softphone::start(server.udp, user, &password, args)
    };
    let sides = tone_call(start, dir.path(), &[], None, |alice, bob| {
        std::thread::sleep(Duration::from_millis(1500));
        bob.type_line("hold");
        bob.wait_event("on-hold", WAIT);
        alice.wait_event("held", WAIT);
        std::thread::sleep(Duration::from_millis(500));
        bob.type_line("resume");
        bob.wait_event("resumed", WAIT);
        // After the re-INVITE pair went through the relay, audio still flows both ways.
        std::thread::sleep(Duration::from_millis(1500));
        bob.type_line("hangup");
    });
    assert_two_way_audio(&sides, 100);
    // The relay carried it: its session ended with the BYE, having counted the packets of
    // both phones (each sent more than 150 in 3.5 s).
    let ended = server.wait_log("relay session ended", WAIT);
    assert_eq!(ended["fields"]["why"], "BYE");
    // ... and its counters are on the call's record: each side sent more than 150.
    let deadline = std::time::Instant::now() + WAIT;
    let record = loop {
        let all = common::admin_json(&data, &["cdr", "list"]);
        if let Some(r) = all
            .as_array()
            .and_then(|a| a.first())
            .filter(|r| !r["caller_packets"].is_null())
        {
            break r.clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no relay counters on the record: {all:#}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    for side in ["caller_packets", "callee_packets"] {
        assert!(record[side].as_i64().unwrap() > 150, "{side}: {record:#}");
    }
    assert!(
        record["media_bytes"].as_i64().unwrap() > 300 * 160,
        "{record:#}"
    );
    assert_eq!(record["caller_lost"], 0, "{record:#}");
    // On loopback with no loss, both sides' estimated quality is near the top of the scale.
    for side in ["caller_mos", "callee_mos"] {
        let mos = record[side].as_f64().unwrap_or(0.0);
        assert!((4.0..=4.5).contains(&mos), "{side}: {record:#}");
    }
    assert!(record["caller_jitter_ms"].as_f64().is_some(), "{record:#}");
    // And in the metrics: one MOS per side, both in the top buckets.
    let metrics = get_metrics(server.http.expect("the portal serves /metrics"));
    assert!(metrics.contains("itsp_call_mos_count 2"), "{metrics}");
    assert!(
        metrics.contains("itsp_call_mos_bucket{le=\"4\"} 0"),
        "{metrics}"
    );
    let relayed = ended["fields"]["rtp_packets"].as_u64().unwrap();
    let sent: u64 = sides
        .iter()
        .map(|s| s.phone.all("report")[0]["packets_sent"].as_u64().unwrap())
        .sum();
    assert!(relayed > 300, "the relay saw {relayed} RTP packets");
    assert!(relayed <= sent, "relayed {relayed} > sent {sent}");
}

#[test]
fn a_rejected_call_ends_its_relay_session() {
    let data = DataDir::with_users(&[("alice", "a-secret"), ("bob", "b-secret")]);
    let dir = tempfile::tempdir().unwrap();
    let server = relaying_server(&data, dir.path());
    let mut alice = Softphone::start(
        server.udp,
        "alice",
        "a-secret",
        &["--reject", "486", "--calls", "1", "answer"],
    );
    alice.wait_event("waiting", WAIT);
    let mut bob = Softphone::start(server.udp, "bob", "b-secret", &["call", "alice"]);
    assert!(
        !bob.wait_exit(WAIT).success(),
        "a busy callee fails the call"
    );
    let ended = server.wait_log("relay session ended", WAIT);
    assert_eq!(ended["fields"]["why"], "call failed");
    assert_eq!(ended["fields"]["rtp_packets"], 0);
    alice.wait_exit(WAIT);
}

#[test]
fn a_call_whose_phones_vanish_is_ended_when_its_media_stops() {
    let data = DataDir::with_users(&[("alice", "a-secret"), ("bob", "b-secret")]);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("itsp.toml");
    std::fs::write(
        &config,
        "[relay]\npolicy = \"always\"\nports = \"43000-43999\"\nidle_timeout = 3\n",
    )
    .unwrap();
    let mut args = data.args();
    args.extend(["--config".into(), config.display().to_string()]);
    let server = Itsp::start(&as_strs(&args));
    let mut alice = Softphone::start(server.udp, "alice", "a-secret", &["--calls", "1", "answer"]);
    alice.wait_event("waiting", WAIT);
    let mut bob = Softphone::start(server.udp, "bob", "b-secret", &["call", "alice"]);
    bob.wait_event("answered", WAIT);
    alice.wait_event("answered", WAIT);
    // Both phones die without a BYE (a power cut, a lost network): their media stops.
    drop(alice);
    drop(bob);
    let ended = server.wait_log("no media from either phone: ending the call", WAIT);
    let call_id = ended["fields"]["call_id"].as_str().unwrap().to_owned();
    let deadline = std::time::Instant::now() + WAIT;
    let record = loop {
        let all = common::admin_json(&data, &["cdr", "list"]);
        if let Some(r) = all.as_array().and_then(|a| a.first()) {
            break r.clone();
        }
        assert!(std::time::Instant::now() < deadline, "no call record");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(record["call_id"], call_id.as_str());
    assert_eq!(record["disposition"], "answered", "{record:#}");
    assert_eq!(record["hung_up_by"], "proxy");
    assert_eq!(record["end_reason"], "no media");
    assert!(common::admin_json(&data, &["calls"])
        .as_array()
        .unwrap()
        .is_empty());
}

/// The body of `GET /metrics` at `addr`.
fn get_metrics(addr: std::net::SocketAddr) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let request = format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    answer
}
