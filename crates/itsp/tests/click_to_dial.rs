//! Click-to-dial end to end (RFC 3725 §4.1, flow I): `itsp serve` with its media service
//! and portal, alice and bob on `itsp phone` answering with tones. A POST to
//! `/api/v1/subscribers/alice@example.com/click-to-dial` with alice's own token (`itsp
//! token create --user`) rings alice's phone first (shown as "Click-to-dial: bob"), then
//! bob's as a call from alice; each hears the other's tone, alice's hold and resume reach
//! bob (re-INVITEs relayed), alice hanging up ends bob's call, and the call record says alice called bob. Bob's token asking for alice gets 404;
//! a PSTN number alice's groups do not allow is refused by the proxy as it would be to
//! alice's own phone, and alice's phone is hung up. Once directly, once through the
//! in-process relay.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::softphone::{tone_share, Softphone};
use common::{admin_json, as_strs, DataDir, Itsp};

const WAIT: Duration = Duration::from_secs(30);

/// One HTTP/1.1 request over a fresh connection: status and body.
fn http(addr: SocketAddr, method: &str, path: &str, token: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Authorization: Bearer {token}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    let status = answer.split(' ').nth(1).unwrap().parse().unwrap();
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

fn token(data: &DataDir, user: &str) -> String {
    let t = admin_json(
        data,
        &[
            "token",
            "create",
            "--user",
            &format!("{user}@example.com"),
            "--name",
            user,
        ],
    );
    t["token"].as_str().unwrap().to_owned()
}

#[test]
fn click_to_dial_connects_alice_to_bob_as_a_call_from_alice() {
    connect("", false);
}

/// The same through the in-process relay: the offer of alice's 200 and the answer of her
/// ACK (a late offer) are relayed too.
#[test]
fn click_to_dial_through_the_relay() {
    connect(
        "[relay]\npolicy = \"always\"\nports = \"46000-46999\"\n",
        true,
    );
}

/// Alice connected to bob by click-to-dial, with `extra` configuration; `relayed`: the
/// relay must have carried the call's audio both ways.
fn connect(extra: &str, relayed: bool) {
    let data = DataDir::with_users(&[("alice", "a-secret"), ("bob", "b-secret")]);
    // A gateway, so that numbers are PSTN calls under group permissions.
    let config = data.path().join("itsp.toml");
    std::fs::write(
        &config,
        format!("[pstn]\ngateways = [\"sip:127.0.0.1:9\"]\n{extra}"),
    )
    .unwrap();
    let mut args = data.args();
    args.extend(["--config".into(), config.display().to_string()]);
    let server = Itsp::start(&as_strs(&args));
    server.startup_log("media services ready");
    let addr = server.http.expect("the portal's address");
    let alice_token = token(&data, "alice");
    let bob_token = token(&data, "bob");
    let path = "/api/v1/subscribers/alice@example.com/click-to-dial";

    let dir = tempfile::tempdir().unwrap();
    let alice_wav = dir.path().join("alice-heard.wav");
    let bob_wav = dir.path().join("bob-heard.wav");
    let mut alice = Softphone::start(
        server.udp,
        "alice",
        "a-secret",
        &[
            "--tone",
            "1000",
            "--record",
            alice_wav.to_str().unwrap(),
            "--duration",
            "5",
            "--calls",
            "2",
            "answer",
        ],
    );
    alice.wait_event("waiting", WAIT);
    let mut bob = Softphone::start(
        server.udp,
        "bob",
        "b-secret",
        &[
            "--tone",
            "440",
            "--record",
            bob_wav.to_str().unwrap(),
            "--calls",
            "1",
            "answer",
        ],
    );
    bob.wait_event("waiting", WAIT);

    // Bob may not place calls for alice.
    let (status, body) = http(addr, "POST", path, &bob_token, r#"{"target": "bob"}"#);
    assert_eq!(status, 404, "{body}");
    let (status, body) = http(addr, "POST", path, &alice_token, r#"{"target": ""}"#);
    assert_eq!(status, 422, "{body}");
    assert!(body.contains(r#""field":"target""#), "{body}");

    let (status, body) = http(addr, "POST", path, &alice_token, r#"{"target": "bob"}"#);
    assert_eq!(status, 202, "{body}");
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    let call_id = answer["call_id"].as_str().unwrap().to_owned();

    // Alice's phone rings first, showing whom she is about to call.
    let incoming = alice.wait_event("incoming", WAIT);
    assert!(
        incoming["from"]
            .as_str()
            .unwrap()
            .contains("Click-to-dial: bob"),
        "{incoming}"
    );
    // Then bob's, as a call from alice.
    let incoming = bob.wait_event("incoming", WAIT);
    assert!(
        incoming["from"]
            .as_str()
            .unwrap()
            .contains("sip:alice@example.com"),
        "{incoming}"
    );
    bob.wait_event("answered", WAIT);
    // Alice holds and resumes: her re-INVITEs reach bob through the controller.
    std::thread::sleep(Duration::from_millis(1000));
    alice.type_line("hold");
    alice.wait_event("on-hold", WAIT);
    bob.wait_event("held", WAIT);
    alice.type_line("resume");
    alice.wait_event("resumed", WAIT);
    bob.wait_event("resumed", WAIT);
    // Alice hangs up after 5 s: bob's call ends too.
    let ended = alice.wait_event("ended", WAIT);
    assert_eq!(ended["cause"], "local-hangup", "{ended}");
    let ended = bob.wait_event("ended", WAIT);
    assert_eq!(ended["cause"], "remote-hangup", "{ended}");
    assert!(bob.wait_exit(WAIT).success());
    server.wait_log("click-to-dial: connected", WAIT);

    // Each heard the other's tone.
    let share = tone_share(&alice_wav, 440.0);
    assert!(share > 0.8, "alice: 440 Hz is {share:.2} of what she heard");
    let share = tone_share(&bob_wav, 1000.0);
    assert!(share > 0.8, "bob: 1000 Hz is {share:.2} of what he heard");

    // The record of the call to bob: alice called bob.
    let deadline = Instant::now() + WAIT;
    loop {
        let records = admin_json(&data, &["cdr", "list"]);
        let record = records.as_array().and_then(|a| {
            a.iter()
                .find(|r| {
                    r["call_id"] == call_id.as_str() && (!relayed || !r["caller_packets"].is_null())
                })
                .cloned()
        });
        if let Some(r) = record {
            if relayed {
                for side in ["caller_packets", "callee_packets"] {
                    assert!(r[side].as_i64().unwrap() > 100, "{side}: {r:#}");
                }
            }
            assert_eq!(r["caller_user"], "alice", "{r:#}");
            assert_eq!(r["callee_user"], "bob", "{r:#}");
            assert_eq!(r["hung_up_by"], "caller", "{r:#}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no call record of {call_id}: {records:#}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // An international number, which alice (in no group) may not call: the proxy refuses
    // it as it would her own call, and her phone's call ends at once.
    let (status, body) = http(
        addr,
        "POST",
        path,
        &alice_token,
        r#"{"target": "0046812345"}"#,
    );
    assert_eq!(status, 202, "{body}");
    server.wait_log("PSTN call refused: not in group", WAIT);
    assert!(alice.wait_exit(WAIT).success());
    assert_eq!(alice.all("ended").len(), 2, "{:?}", alice.all("ended"));
}
