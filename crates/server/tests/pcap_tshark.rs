//! The pcap encoding against a real dissector: tshark (Debian `tshark`) decodes SIP in
//! every kind of packet the capture writes — UDP and TCP, IPv4 and IPv6, messages in and
//! out, a TCP message after another on one connection.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::process::Command;

use server::capture::{pcap, Captured, Direction};

fn message(method: &str, call_id: &str) -> String {
    format!(
        "{method} sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bK{call_id}\r\n\
Max-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=a\r\nTo: <sip:bob@example.com>\r\n\
Call-ID: {call_id}\r\nCSeq: 1 {method}\r\nContent-Length: 0\r\n\r\n"
    )
}

#[test]
fn tshark_decodes_udp_and_tcp_over_ipv4_and_ipv6() {
    use transport::Protocol::{Tcp, Udp};
    let cases = [
        (
            Udp,
            Direction::In,
            "192.0.2.1:5060",
            "198.51.100.7:5062",
            "u4",
        ),
        (
            Udp,
            Direction::Out,
            "[2001:db8::1]:5060",
            "[2001:db8::7]:5062",
            "u6",
        ),
        (
            Tcp,
            Direction::In,
            "192.0.2.1:5060",
            "198.51.100.7:40000",
            "t4a",
        ),
        (
            Tcp,
            Direction::In,
            "192.0.2.1:5060",
            "198.51.100.7:40000",
            "t4b",
        ),
        (
            Tcp,
            Direction::Out,
            "[2001:db8::1]:5060",
            "[2001:db8::7]:40000",
            "t6",
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("capture.pcap");
    let mut file = std::fs::File::create(&path).unwrap();
    file.write_all(&pcap::file_header()).unwrap();
    let mut encoder = pcap::Encoder::new();
    for (i, (protocol, direction, local, remote, call_id)) in cases.iter().enumerate() {
        let captured = Captured {
            unix_ms: 1_700_000_000_000 + i as u64,
            direction: *direction,
            protocol: *protocol,
            local: Some(local.parse().unwrap()),
            remote: remote.parse().unwrap(),
            bytes: bytes::Bytes::from(message("OPTIONS", call_id)),
        };
        file.write_all(&encoder.record(&captured)).unwrap();
    }
    drop(file);
    let fields = [
        "sip.Call-ID",
        "ip.src",
        "ipv6.src",
        "tcp.srcport",
        "udp.srcport",
    ];
    let out = Command::new("tshark")
        .args(["-n", "-r"])
        .arg(&path)
        .args(["-Y", "sip", "-T", "fields"])
        .args(fields.iter().flat_map(|f| ["-e", f]))
        .output()
        .expect("tshark runs (Debian tshark; scripts/install-test-deps.sh installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            "u4\t198.51.100.7\t\t\t5062",
            "u6\t\t2001:db8::1\t\t5060",
            "t4a\t198.51.100.7\t\t40000\t",
            "t4b\t198.51.100.7\t\t40000\t",
            "t6\t\t2001:db8::1\t5060\t",
        ]
    );
}
