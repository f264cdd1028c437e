//! End-to-end: `itsp serve` on loopback answers real UDP and TCP clients, and stops cleanly
//! on SIGTERM.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{as_strs, DataDir, Itsp};

use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::process::Command;
use std::time::{Duration, Instant};

fn start() -> (Itsp, DataDir) {
    let data = DataDir::with_users(&[]);
    (Itsp::start(&as_strs(&data.args())), data)
}

fn options(transport: &str, branch: &str) -> String {
    format!(
        "OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/{transport} 127.0.0.1:9;branch=z9hG4bK{branch};rport\r\n\
Max-Forwards: 70\r\nFrom: <sip:probe@127.0.0.1>;tag=1\r\nTo: <sip:127.0.0.1>\r\n\
Call-ID: {branch}@test\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    )
}

fn udp_exchange(server: &Itsp, request: &[u8]) -> sip::Message {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    sock.send_to(request, server.udp).unwrap();
    let mut buf = [0u8; 65535];
    let (n, from) = sock.recv_from(&mut buf).expect("an answer");
    assert_eq!(from, server.udp);
    sip::Message::parse(buf[..n].to_vec()).expect("a valid answer")
}

#[test]
fn answers_over_udp_and_tcp_and_stops_on_sigterm() {
    let (mut server, _data) = start();

    let resp = udp_exchange(&server, options("UDP", "u1").as_bytes());
    assert_eq!(resp.status(), Some(200));
    assert_eq!(resp.call_id().unwrap(), "u1@test");
    assert!(resp.to().unwrap().tag().is_some());

    // A malformed request is answered 400 with the reason, at the source port (rport).
    let bad = options("UDP", "u2").replace("CSeq: 1 OPTIONS", "CSeq: 1 INVITE");
    let resp = udp_exchange(&server, bad.as_bytes());
    assert_eq!(resp.status(), Some(400));
    assert_eq!(
        resp.reason(),
        Some("Bad CSeq header: method does not match the request line")
    );

    // One that does not even parse still gets its 400.
    let unparsable = options("UDP", "u3").replace("OPTIONS sip:", "OPTIONS  sip:");
    let resp = udp_exchange(&server, unparsable.as_bytes());
    assert_eq!(resp.status(), Some(400));

    // TCP: a CRLF ping is answered with a pong, then two pipelined requests both answered
    // on the same connection.
    let mut tcp = TcpStream::connect(server.tcp).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    tcp.write_all(b"\r\n\r\n").unwrap();
    let mut pong = [0u8; 2];
    tcp.read_exact(&mut pong).unwrap();
    assert_eq!(&pong, b"\r\n");
    let two = format!("{}{}", options("TCP", "t1"), options("TCP", "t2"));
    tcp.write_all(two.as_bytes()).unwrap();
    let mut got = Vec::new();
    let mut answers = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while answers.len() < 2 && Instant::now() < deadline {
        let mut chunk = [0u8; 4096];
        let n = tcp.read(&mut chunk).unwrap();
        got.extend_from_slice(&chunk[..n]);
        while let Ok(sip::framing::Frame::Message { len }) = sip::framing::frame(&got, 65536) {
            answers.push(sip::Message::parse(got.drain(..len).collect::<Vec<_>>()).unwrap());
        }
    }
    // Two transactions: their answers may come in either order.
    let mut ids: Vec<_> = answers
        .iter()
        .map(|m| m.call_id().unwrap().to_owned())
        .collect();
    ids.sort();
    assert_eq!(ids, ["t1@test", "t2@test"]);

    // SIGTERM: graceful exit with status 0.
    let pid = server.child.id().to_string();
    // The shell's own `kill`, so the test needs no procps.
    let sent = Command::new("sh")
        .args(["-c", &format!("kill -TERM {pid}")])
        .status()
        .unwrap();
    assert!(sent.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            assert!(status.success(), "exit status {status}");
            break;
        }
        assert!(Instant::now() < deadline, "server did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_busy_port_is_a_clear_error() {
    let taken = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let data = DataDir::with_users(&[]);
    let out = Command::new(env!("CARGO_BIN_EXE_itsp"))
        .args(["serve", "--listen", &format!("udp:{addr}")])
        .args(data.args())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("cannot listen on udp:{addr}")),
        "{err}"
    );
    assert!(err.contains("--listen"), "{err}");
}

#[test]
fn a_bad_listen_argument_prints_usage() {
    let out = Command::new(env!("CARGO_BIN_EXE_itsp"))
        .args(["serve", "--listen", "sctp:1.2.3.4"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown protocol"), "{err}");
    assert!(err.contains("--help"), "{err}");
}

#[test]
fn a_bad_config_file_names_the_file_and_the_key() {
    let data = DataDir::with_users(&[]);
    let config = data.path().join("bad.toml");
    std::fs::write(
        &config,
        "[registrar]\nmin_expires = 60\nmax_expire = 7200\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_itsp"))
        .args(["serve", "--config"])
        .arg(&config)
        .args(data.args())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&config.display().to_string()), "{err}");
    assert!(
        err.contains("max_expire") && err.contains("line 3"),
        "{err}"
    );

    let out = Command::new(env!("CARGO_BIN_EXE_itsp"))
        .args(["serve", "--config", "/nonexistent/itsp.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot read config file /nonexistent/itsp.toml"),
        "{err}"
    );
}

#[test]
fn an_unwritable_data_dir_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    // A file where the directory should be: cannot be created, whoever runs the test.
    let blocked = dir.path().join("data");
    std::fs::write(&blocked, b"not a directory").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_itsp"))
        .args(["serve", "--listen", "udp:127.0.0.1:0", "--data-dir"])
        .arg(blocked.join("sub"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot create the data directory"), "{err}");
    assert!(err.contains(&blocked.display().to_string()), "{err}");
}

#[test]
fn the_example_config_runs() {
    // itsp.example.toml as shipped, with the sockets moved to free loopback ports.
    let data = DataDir::with_users(&[]);
    let example = std::fs::read_to_string(common::repo_root().join("itsp.example.toml")).unwrap();
    let config = data.path().join("itsp.toml");
    let shipped = "listen = [\"udp:0.0.0.0:5060\", \"tcp:0.0.0.0:5060\", \"tls:0.0.0.0:5061\"]";
    assert!(
        example.contains(shipped),
        "the example's [server] listen line changed: update this test"
    );
    std::fs::write(
        &config,
        example.replace(
            shipped,
            "listen = [\"udp:127.0.0.1:0\", \"tcp:127.0.0.1:0\"]",
        ),
    )
    .unwrap();
    let config = config.display().to_string();
    let server = Itsp::start_on(&["--config", &config, "--data-dir", &data.path_str()], &[]);
    let resp = udp_exchange(&server, options("UDP", "x1").as_bytes());
    assert_eq!(resp.status(), Some(200));
    assert!(resp
        .header(sip::HeaderName::Allow)
        .unwrap()
        .contains("REGISTER"));
}

#[test]
fn final_answers_to_invite_are_retransmitted_until_acked() {
    // Timer G (RFC 3261 §17.2.1): without an ACK the INVITE's final answer is sent again
    // after T1, 2·T1, ... (T1 = 100 ms here).
    let data = DataDir::with_users(&[]);
    let config = data.path().join("itsp.toml");
    std::fs::write(&config, "[timers]\nt1_ms = 100\nt2_ms = 400\n").unwrap();
    let mut args = data.args();
    args.extend(["--config".into(), config.display().to_string()]);
    let server = Itsp::start(&as_strs(&args));
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let local = sock.local_addr().unwrap();
    let invite = format!(
        "INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK-g1;rport\r\n\
Max-Forwards: 70\r\nFrom: <sip:carol@elsewhere.example>;tag=c1\r\nTo: <sip:bob@example.com>\r\n\
Call-ID: g1@test\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
    );
    sock.send_to(invite.as_bytes(), server.udp).unwrap();
    let mut buf = [0u8; 65535];
    let started = Instant::now();
    let mut answers = Vec::new();
    while answers.len() < 3 {
        let (n, _) = sock
            .recv_from(&mut buf)
            .expect("the answer and its retransmissions");
        answers.push(buf[..n].to_vec());
    }
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "T1 then 2·T1 apart"
    );
    assert!(
        answers.windows(2).all(|w| w[0] == w[1]),
        "the same bytes each time"
    );
    let first = sip::Message::parse(answers[0].clone()).unwrap();
    // bob is no user, and a caller from outside hears what it would of an offline one.
    assert_eq!(first.status(), Some(480));
    // The ACK stops them (Timer G off; Timer I absorbs retransmissions).
    let to = first.header(sip::HeaderName::To).unwrap().to_owned();
    let ack = format!(
        "ACK sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK-g1;rport\r\n\
Max-Forwards: 70\r\nFrom: <sip:carol@elsewhere.example>;tag=c1\r\nTo: {to}\r\n\
Call-ID: g1@test\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n"
    );
    sock.send_to(ack.as_bytes(), server.udp).unwrap();
    // Drain what was already in flight, then expect silence.
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    while sock.recv_from(&mut buf).is_ok() {}
    sock.set_read_timeout(Some(Duration::from_millis(1200)))
        .unwrap();
    assert!(
        sock.recv_from(&mut buf).is_err(),
        "no retransmission after the ACK"
    );
}
