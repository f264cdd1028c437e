//! `itsp relay` as a process: driven over NG (ping, offer, answer, RTP both ways, query
//! counters, list, delete), its errors for bad arguments and a busy NG port, and its stop
//! on SIGTERM.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_udp_port, Process};

use relay::ng::{frame, split};
use relay::Bencode;

struct Relay {
    process: Process,
    ng: SocketAddr,
}

fn itsp(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_itsp"));
    c.args(args).stdin(Stdio::null());
    c
}

fn start_relay(ports: &str) -> Relay {
    let ng: SocketAddr = ([127, 0, 0, 1], free_udp_port()).into();
    let child = itsp(&[
        "relay",
        "--listen-ng",
        &ng.to_string(),
        "--ports",
        ports,
        "--public-ip",
        "127.0.0.1",
        "--listen-ip",
        "127.0.0.1",
    ])
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let relay = Relay {
        process: Process(child),
        ng,
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if ng_command(
            ng,
            &[("command", Bencode::str("ping"))],
            Duration::from_millis(200),
        )
        .is_some()
        {
            return relay;
        }
    }
    panic!("itsp relay does not answer ping on {ng}");
}

fn ng_command(ng: SocketAddr, entries: &[(&str, Bencode)], wait: Duration) -> Option<Bencode> {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(wait)).unwrap();
    let mut body = Bencode::dict();
    for (k, v) in entries {
        body.insert(k, v.clone());
    }
    socket.send_to(&frame(b"c00kie", &body), ng).unwrap();
    let mut buf = vec![0u8; 65536];
    let n = socket.recv(&mut buf).ok()?;
    let (cookie, answer) = split(&buf[..n]).unwrap();
    assert_eq!(cookie, b"c00kie");
    Some(answer)
}

fn ask(relay: &Relay, entries: &[(&str, Bencode)]) -> Bencode {
    ng_command(relay.ng, entries, Duration::from_secs(3)).expect("an NG answer")
}

fn sdp(port: u16) -> Bencode {
    Bencode::str(&format!(
        "v=0\r\no=- 1 1 IN IP4 10.0.0.16\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n\
         a=candidate:1 1 UDP 2130706431 10.0.0.16 {port} typ host\r\na=sendrecv\r\n"
    ))
}

fn port_of(answer: &Bencode) -> u16 {
    let text = answer.get("sdp").and_then(Bencode::as_str).unwrap();
    assert!(text.contains("c=IN IP4 127.0.0.1\r\n"), "{text}");
    assert!(!text.contains("a=candidate"), "ICE removed: {text}");
    let m = text.lines().find(|l| l.starts_with("m=audio ")).unwrap();
    m.split(' ').nth(1).unwrap().parse().unwrap()
}

fn rtp(seq: u16) -> Vec<u8> {
    let mut p = vec![0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7];
    p[2..4].copy_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&[0x55; 160]);
    p
}

fn int(v: &Bencode, path: &[&str]) -> i64 {
    let mut cur = v;
    for k in path {
        cur = cur.get(k).unwrap_or_else(|| panic!("no {k} in {cur:?}"));
    }
    cur.as_int().unwrap()
}

#[test]
fn a_call_through_itsp_relay_over_ng() {
    let relay = start_relay("46000-46999");
    let pong = ask(&relay, &[("command", Bencode::str("ping"))]);
    assert_eq!(pong.get("result").and_then(Bencode::as_str), Some("pong"));

    let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    for s in [&a, &b] {
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    }
    let call = [
        ("call-id", Bencode::str("bin-1")),
        ("from-tag", Bencode::str("ta")),
    ];
    let offer = ask(
        &relay,
        &[
            call[0].clone(),
            call[1].clone(),
            ("command", Bencode::str("offer")),
            ("sdp", sdp(a.local_addr().unwrap().port())),
            ("ICE", Bencode::str("remove")),
            (
                "flags",
                Bencode::List(vec![
                    Bencode::str("trust-address"),
                    Bencode::str("frobnicate"),
                ]),
            ),
        ],
    );
    assert_eq!(
        offer.get("result").and_then(Bencode::as_str),
        Some("ok"),
        "{offer:?}"
    );
    assert!(offer
        .get("warning")
        .and_then(Bencode::as_str)
        .is_some_and(|w| w.contains("frobnicate")));
    let b_sends_to = port_of(&offer);
    let answer = ask(
        &relay,
        &[
            call[0].clone(),
            call[1].clone(),
            ("command", Bencode::str("answer")),
            ("to-tag", Bencode::str("tb")),
            ("sdp", sdp(b.local_addr().unwrap().port())),
        ],
    );
    let a_sends_to = port_of(&answer);

    let mut buf = [0u8; 2048];
    for seq in 0..10 {
        a.send_to(&rtp(seq), ("127.0.0.1", a_sends_to)).unwrap();
        let (n, from) = b.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], rtp(seq));
        assert_eq!(from.port(), b_sends_to);
    }
    for seq in [0u16, 1, 3] {
        b.send_to(&rtp(seq), ("127.0.0.1", b_sends_to)).unwrap();
        let (n, from) = a.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], rtp(seq));
        assert_eq!(from.port(), a_sends_to);
    }

    let query = ask(
        &relay,
        &[call[0].clone(), ("command", Bencode::str("query"))],
    );
    assert_eq!(int(&query, &["totals", "RTP", "packets"]), 13);
    assert_eq!(int(&query, &["totals", "RTP", "bytes"]), 13 * 172);
    assert_eq!(int(&query, &["totals", "RTP", "errors"]), 0);
    let tags = query.get("tags").unwrap();
    let media_b = &tags
        .get("tb")
        .unwrap()
        .get("medias")
        .unwrap()
        .as_list()
        .unwrap()[0];
    assert_eq!(int(media_b, &["lost"]), 1);
    let rtp_stream = &media_b.get("streams").unwrap().as_list().unwrap()[0];
    assert_eq!(int(rtp_stream, &["stats", "packets"]), 3);
    assert_eq!(int(rtp_stream, &["local port"]), i64::from(b_sends_to));
    assert_eq!(
        int(rtp_stream, &["endpoint", "port"]),
        i64::from(b.local_addr().unwrap().port())
    );
    assert_eq!(
        tags.get("ta")
            .unwrap()
            .get("in dialogue with")
            .and_then(Bencode::as_str),
        Some("tb")
    );

    let list = ask(&relay, &[("command", Bencode::str("list"))]);
    assert_eq!(
        list.get("calls"),
        Some(&Bencode::List(vec![Bencode::str("bin-1")]))
    );
    let deleted = ask(
        &relay,
        &[
            call[0].clone(),
            call[1].clone(),
            ("command", Bencode::str("delete")),
        ],
    );
    assert_eq!(int(&deleted, &["totals", "RTP", "packets"]), 13);
    let again = ask(
        &relay,
        &[call[0].clone(), ("command", Bencode::str("query"))],
    );
    assert_eq!(again.get("result").and_then(Bencode::as_str), Some("error"));
    assert!(again.get("error-reason").is_some());
    let unknown = ask(&relay, &[("command", Bencode::str("frobnicate"))]);
    assert_eq!(
        unknown.get("result").and_then(Bencode::as_str),
        Some("error")
    );
}

#[test]
fn sigterm_stops_the_relay_cleanly() {
    let mut relay = start_relay("47000-47099");
    let pid = relay.process.0.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(status) = relay.process.0.try_wait().unwrap() {
            assert!(status.success(), "{status}");
            break;
        }
        assert!(Instant::now() < deadline, "still running 5 s after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn bad_arguments_are_explained() {
    for (ports, expected) in [("30001-40000", "odd"), ("40000-30000", "inverted")] {
        let out = itsp(&["relay", "--public-ip", "127.0.0.1", "--ports", ports])
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expected), "{ports}: {err}");
    }
    let out = itsp(&["relay"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("--public-ip"));
    // A busy NG port.
    let busy = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let out = itsp(&["relay", "--public-ip", "127.0.0.1", "--listen-ng", &addr])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--listen-ng") && err.contains(&addr), "{err}");
}
