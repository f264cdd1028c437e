//! The STUN server of `itsp serve` over loopback: it answers Binding requests on the port
//! it reports, with the alternate port in OTHER-ADDRESS; `--no-stun` turns it off; a busy
//! port is a clear start-up error; `itsp nat check` against it finds no NAT.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::UdpSocket;
use std::process::Command;
use std::time::Duration;

use common::{as_strs, DataDir, Itsp};
use stun::{binding_request, parse_binding_response, ChangeRequest, TransactionId};

#[test]
fn serve_answers_binding_requests_on_the_reported_ports() {
    let data = DataDir::with_users(&[]);
    let server = Itsp::start(&as_strs(&data.args()));
    let (stun, alternate) = server.stun.expect("STUN runs by default");
    let alternate = alternate.expect("an alternate port");
    assert_ne!(stun.port(), alternate.port());
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let id = TransactionId(*b"itsp-stun-01");
    client
        .send_to(&binding_request(id, ChangeRequest::NONE), stun)
        .unwrap();
    let mut buf = [0u8; 1500];
    let (n, from) = client.recv_from(&mut buf).unwrap();
    assert_eq!(from, stun);
    let r = parse_binding_response(&buf[..n], id).unwrap().unwrap();
    assert_eq!(r.mapped, client.local_addr().unwrap());
    assert_eq!(r.other_address, Some(alternate));
    // "Change port": the answer comes from the alternate socket.
    let id = TransactionId(*b"itsp-stun-02");
    client
        .send_to(&binding_request(id, ChangeRequest::PORT), stun)
        .unwrap();
    let (n, from) = client.recv_from(&mut buf).unwrap();
    assert_eq!(from, alternate);
    assert!(parse_binding_response(&buf[..n], id).unwrap().is_some());

    let out = Command::new(env!("CARGO_BIN_EXE_itsp"))
        .args(["nat", "check", "--json", "--stun", &stun.to_string()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["behind_nat"], false, "{v}");
    assert_eq!(v["mapping"], "none", "{v}");
}

#[test]
fn no_stun_turns_it_off() {
    let data = DataDir::with_users(&[]);
    let mut args = data.args();
    args.push("--no-stun".into());
    let server = Itsp::start(&as_strs(&args));
    assert_eq!(server.stun, None);
    assert!(server
        .startup
        .iter()
        .all(|v| v["fields"]["message"] != "STUN listening"));
}

#[test]
fn a_busy_stun_port_is_a_clear_error() {
    let taken = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let data = DataDir::with_users(&[]);
    let out = Command::new(env!("CARGO_BIN_EXE_itsp"))
        .args(["serve", "--listen", "udp:127.0.0.1:0"])
        .args(["--stun-listen", &format!("udp:{addr}")])
        .args(data.args())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("cannot listen for STUN on udp:{addr}")),
        "{err}"
    );
    assert!(
        err.contains("--stun-listen") && err.contains("--no-stun"),
        "{err}"
    );
}

#[test]
fn nat_check_arguments_are_checked() {
    let out = Command::new(env!("CARGO_BIN_EXE_itsp"))
        .args(["nat", "check"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--stun"));
    let out = Command::new(env!("CARGO_BIN_EXE_itsp"))
        .args(["nat", "check", "--stun", "no-such-host.invalid"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot find the STUN server"));
}
