//! Interop of `itsp phone` with a real peer: baresip (Debian's package, version 1.0.0)
//! registered at `itsp serve` on loopback. Bob (`itsp phone`) calls baresip, which answers
//! by itself; baresip calls Alice (`itsp phone answer`). Each side plays a tone and the
//! other side's recording must hold it: G.711 RTP both ways, SIP digest authentication,
//! Record-Route and BYE in both directions. baresip also calls the echo test of the media
//! services and hears its own tone back, and registers over TLS (trusting the server's
//! self-signed certificate) to be called on that connection. With SDES-SRTP (baresip's
//! `srtp` module, `mediaenc=srtp-mand`: RTP/SAVP with `a=crypto`) the calls go both ways
//! encrypted, each side hearing the other through its own SRTP implementation (libre's and
//! webrtc-rs's).
//!
//! baresip is driven by `common::baresip` (a temporary configuration directory, loopback
//! only, G.711, its tone from `aufile`, what it hears recorded by `sndfile`). The server runs with its default configuration, whose
//! challenge is MD5 alone: libre 1.0 fails a challenge that offers any algorithm but MD5
//! ("Function not implemented"), so these tests also prove that default.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::baresip::{require_baresip, tone_file, Baresip};
use common::softphone::{tone_share, Softphone};
use common::{as_strs, DataDir, Itsp, DOMAIN};

const WAIT: Duration = Duration::from_secs(20);
/// The tone baresip plays, and the one `itsp phone` plays.
const BARESIP_HZ: f64 = 600.0;
const PHONE_HZ: f64 = 440.0;

/// The server with alice, bob and carol, in its default configuration (see the file's
/// doc).
fn server() -> (DataDir, Itsp) {
    server_with(&[])
}

/// The server with `extra` arguments.
fn server_with(extra: &[&str]) -> (DataDir, Itsp) {
    let data = DataDir::with_users(&[
        ("alice", "a-secret"),
        ("bob", "b-secret"),
        ("carol", "c-secret"),
    ]);
    let mut args = data.args();
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    let server = Itsp::start(&as_strs(&args));
    (data, server)
}

/// The server with `[relay] srtp = "off"`: the SRTP phones here are on UDP, and `keep`
/// would bridge an SRTP offer to plain RTP toward them (see `srtp_bridge.rs`); these tests
/// prove SRTP between the two implementations end to end.
fn end_to_end_srtp_server(dir: &std::path::Path) -> (DataDir, Itsp) {
    let config = dir.join("itsp.toml");
    std::fs::write(&config, "[relay]\nsrtp = \"off\"\n").unwrap();
    server_with(&["--config", config.to_str().unwrap()])
}

#[test]
fn itsp_phone_calls_baresip() {
    require_baresip();
    let dir = tempfile::tempdir().unwrap();
    let (_data, server) = server();
    let source = dir.path().join("carol-says.wav");
    tone_file(&source, BARESIP_HZ);
    let mut carol = Baresip::start(server.udp, "carol", "c-secret", &source, &[]);
    carol.wait_registered("carol", WAIT);

    let bob_heard = dir.path().join("bob-heard.wav");
    let mut bob = Softphone::start(
        server.udp,
        "bob",
        "b-secret",
        &[
            "--tone",
            &PHONE_HZ.to_string(),
            "--record",
            bob_heard.to_str().unwrap(),
            "--duration",
            "4",
            "call",
            "carol",
        ],
    );
    bob.wait_event("answered", WAIT);
    assert!(bob.wait_exit(WAIT).success(), "bob's call succeeded");
    assert_eq!(bob.all("ended")[0]["cause"], "local-hangup");
    let report = &bob.all("report")[0];
    assert!(
        report["packets_received"].as_u64().unwrap() > 100,
        "{report}"
    );

    // baresip saw the BYE; quitting closes its recording.
    carol.wait_line(&["Call with sip:bob@example.com terminated"], WAIT);
    carol.terminate(WAIT);

    let share = tone_share(&bob_heard, BARESIP_HZ);
    assert!(
        share > 0.8,
        "bob: {BARESIP_HZ} Hz is {share:.2} of what he heard"
    );
    assert!(
        tone_share(&bob_heard, PHONE_HZ) < 0.1,
        "bob hears his own tone"
    );
    let carol_heard = carol.recording();
    let share = tone_share(&carol_heard, PHONE_HZ);
    assert!(
        share > 0.8,
        "baresip: {PHONE_HZ} Hz is {share:.2} of what it heard"
    );
    assert!(
        tone_share(&carol_heard, BARESIP_HZ) < 0.1,
        "baresip hears its own tone"
    );
}

/// baresip registered over TLS (trusting the server's self-signed certificate) is called by
/// `itsp phone` on UDP: the INVITE and BYE reach it over its TLS connection, tones both
/// ways.
#[test]
fn itsp_phone_on_udp_calls_baresip_on_tls() {
    require_baresip();
    let dir = tempfile::tempdir().unwrap();
    let data = DataDir::with_users(&[("bob", "b-secret"), ("carol", "c-secret")]);
    let server = Itsp::start_on(
        &as_strs(&data.args()),
        &["udp:127.0.0.1:0", "tls:127.0.0.1:0", "tcp:127.0.0.1:0"],
    );
    let source = dir.path().join("carol-says.wav");
    tone_file(&source, BARESIP_HZ);
    let ca = data.path().join("tls/cert.pem");
    let mut carol = Baresip::start_tls(server.tls.unwrap(), &ca, "carol", "c-secret", &source);
    carol.wait_registered("carol", WAIT);
    let bindings = common::admin_json(&data, &["ul", "show", "carol@example.com"]);
    assert_eq!(bindings[0]["transport"], "TLS", "{bindings}");

    let bob_heard = dir.path().join("bob-heard.wav");
    let mut bob = Softphone::start(
        server.udp,
        "bob",
        "b-secret",
        &[
            "--tone",
            &PHONE_HZ.to_string(),
            "--record",
            bob_heard.to_str().unwrap(),
            "--duration",
            "4",
            "call",
            "carol",
        ],
    );
    bob.wait_event("answered", WAIT);
    assert!(bob.wait_exit(WAIT).success(), "bob's call succeeded");
    carol.wait_line(&["Call with sip:bob@example.com terminated"], WAIT);
    carol.terminate(WAIT);

    let share = tone_share(&bob_heard, BARESIP_HZ);
    assert!(
        share > 0.8,
        "bob: {BARESIP_HZ} Hz is {share:.2} of what he heard"
    );
    let share = tone_share(&carol.recording(), PHONE_HZ);
    assert!(
        share > 0.8,
        "baresip: {PHONE_HZ} Hz is {share:.2} of what it heard"
    );
}

#[test]
fn baresip_calls_itsp_phone() {
    require_baresip();
    let dir = tempfile::tempdir().unwrap();
    let (_data, server) = server();
    let source = dir.path().join("carol-says.wav");
    tone_file(&source, BARESIP_HZ);
    let alice_heard = dir.path().join("alice-heard.wav");
    let mut alice = Softphone::start(
        server.udp,
        "alice",
        "a-secret",
        &[
            "--tone",
            &PHONE_HZ.to_string(),
            "--record",
            alice_heard.to_str().unwrap(),
            "--calls",
            "1",
            "answer",
        ],
    );
    alice.wait_event("waiting", WAIT);

    // `-e` runs a menu command at start (the INVITE is sent at once, registered or not);
    // `-t 6` quits six seconds after the start, hanging the call up with a BYE.
    let dial = format!("/dial sip:alice@{DOMAIN}");
    let mut carol = Baresip::start(
        server.udp,
        "carol",
        "c-secret",
        &source,
        &["-e", &dial, "-t", "6"],
    );
    let incoming = alice.wait_event("incoming", WAIT);
    assert!(
        incoming["from"]
            .as_str()
            .unwrap()
            .contains("carol@example.com"),
        "{incoming}"
    );
    alice.wait_event("answered", WAIT);
    carol.wait_line(&["Call established: sip:alice@example.com"], WAIT);
    assert!(carol.wait_exit(WAIT).success(), "baresip quits cleanly");
    assert!(alice.wait_exit(WAIT).success(), "alice's call succeeded");
    assert_eq!(alice.all("ended")[0]["cause"], "remote-hangup");
    let report = &alice.all("report")[0];
    assert!(
        report["packets_received"].as_u64().unwrap() > 100,
        "{report}"
    );

    let share = tone_share(&alice_heard, BARESIP_HZ);
    assert!(
        share > 0.8,
        "alice: {BARESIP_HZ} Hz is {share:.2} of what she heard"
    );
    assert!(
        tone_share(&alice_heard, PHONE_HZ) < 0.1,
        "alice hears her own tone"
    );
    let share = tone_share(&carol.recording(), PHONE_HZ);
    assert!(
        share > 0.8,
        "baresip: {PHONE_HZ} Hz is {share:.2} of what it heard"
    );
}

/// A real phone at the media services: baresip dials `echo@` and hears its own tone back
/// (G.711 through the media service UA, Record-Route and BYE through the proxy).
#[test]
fn baresip_calls_the_echo_test() {
    require_baresip();
    let dir = tempfile::tempdir().unwrap();
    let (_data, server) = server();
    server.startup_log("media services ready");
    let source = dir.path().join("carol-says.wav");
    tone_file(&source, BARESIP_HZ);
    let dial = format!("/dial sip:echo@{DOMAIN}");
    let mut carol = Baresip::start(
        server.udp,
        "carol",
        "c-secret",
        &source,
        &["-e", &dial, "-t", "6"],
    );
    carol.wait_line(&["Call established: sip:echo@example.com"], WAIT);
    assert!(carol.wait_exit(WAIT).success(), "baresip quits cleanly");
    let share = tone_share(&carol.recording(), BARESIP_HZ);
    assert!(
        share > 0.7,
        "baresip: its {BARESIP_HZ} Hz is {share:.2} of what came back"
    );
}

/// The proxy's own BYE (the operator's `itsp hangup`; prepaid billing and the longest call
/// duration send the same) ends a call on baresip: it takes the BYE built from the
/// record-routed dialog (tags, CSeq, Route set, its Contact) as the other party's.
#[test]
fn baresip_takes_the_proxys_bye() {
    require_baresip();
    let dir = tempfile::tempdir().unwrap();
    let (data, server) = server();
    let source = dir.path().join("carol-says.wav");
    tone_file(&source, BARESIP_HZ);
    let mut alice = Softphone::start(server.udp, "alice", "a-secret", &["--calls", "1", "answer"]);
    alice.wait_event("waiting", WAIT);
    let dial = format!("/dial sip:alice@{DOMAIN}");
    let mut carol = Baresip::start(
        server.udp,
        "carol",
        "c-secret",
        &source,
        &["-e", &dial, "-t", "25"],
    );
    carol.wait_line(&["Call established: sip:alice@example.com"], WAIT);
    // The live call's Call-ID, once its answer is in the store.
    let deadline = Instant::now() + WAIT;
    let call_id = loop {
        let calls = common::admin_json(&data, &["calls"]);
        if let Some(c) = calls
            .as_array()
            .and_then(|a| a.iter().find(|c| c["state"] == "confirmed"))
        {
            break c["call_id"].as_str().unwrap().to_owned();
        }
        assert!(Instant::now() < deadline, "the call was not listed");
        std::thread::sleep(Duration::from_millis(100));
    };
    let out = Command::new(env!("CARGO_BIN_EXE_itsp"))
        .args(["hangup", &call_id, "--data-dir", &data.path_str()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ended = alice.wait_event("ended", WAIT);
    assert_eq!(ended["cause"], "remote-hangup", "{ended}");
    // baresip closes the call, well before its own -t 25 ("session closed: Connection
    // reset by peer" is how it says the other side hung up).
    carol.wait_line(
        &["sip:alice@example.com: session closed"],
        Duration::from_secs(10),
    );
}

/// An `itsp phone` report of an SRTP call: one of the two suites, no RTP packet dropped,
/// and more than 100 played, every one authenticated. baresip 1.0 sends two RTCP packets in
/// the clear (an APP at the start, its BYE after the call's SRTP is gone): those are dropped
/// (unauthenticated), and nothing else.
fn assert_srtp_report(report: &serde_json::Value) {
    let suite = report["srtp"].as_str().unwrap_or_default();
    assert!(
        ["AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32"].contains(&suite),
        "{report}"
    );
    assert_eq!(report["srtp_auth_failures"], 0, "{report}");
    assert_eq!(report["srtp_replays"], 0, "{report}");
    assert_eq!(report["srtp_malformed"], 0, "{report}");
    assert!(
        report["srtp_rtcp_dropped"].as_u64().unwrap() <= 2,
        "{report}"
    );
    let received = report["packets_received"].as_u64().unwrap();
    assert!(received > 100, "{report}");
    assert!(
        report["srtp_authenticated"].as_u64().unwrap() >= received,
        "{report}"
    );
}

#[test]
fn itsp_phone_calls_baresip_with_sdes_srtp() {
    require_baresip();
    let dir = tempfile::tempdir().unwrap();
    let (_data, server) = end_to_end_srtp_server(dir.path());
    let source = dir.path().join("carol-says.wav");
    tone_file(&source, BARESIP_HZ);
    let mut carol = Baresip::start_with(
        server.udp,
        "carol",
        "c-secret",
        &source,
        &[],
        Some("srtp-mand"),
    );
    carol.wait_registered("carol", WAIT);

    let bob_heard = dir.path().join("bob-heard.wav");
    let mut bob = Softphone::start(
        server.udp,
        "bob",
        "b-secret",
        &[
            "--srtp",
            "offer",
            "--tone",
            &PHONE_HZ.to_string(),
            "--record",
            bob_heard.to_str().unwrap(),
            "--duration",
            "4",
            "call",
            "carol",
        ],
    );
    bob.wait_event("answered", WAIT);
    assert!(bob.wait_exit(WAIT).success(), "bob's call succeeded");
    assert_srtp_report(&bob.all("report")[0]);
    carol.wait_line(&["Call with sip:bob@example.com terminated"], WAIT);
    carol.terminate(WAIT);
    // baresip answered RTP/SAVP with a key (its SIP trace shows the SDP it sent).
    assert!(
        carol.output.iter().any(|l| l.starts_with("a=crypto:")),
        "no a=crypto in baresip's trace"
    );

    let share = tone_share(&bob_heard, BARESIP_HZ);
    assert!(
        share > 0.8,
        "bob: {BARESIP_HZ} Hz is {share:.2} of what he heard"
    );
    let share = tone_share(&carol.recording(), PHONE_HZ);
    assert!(
        share > 0.8,
        "baresip: {PHONE_HZ} Hz is {share:.2} of what it heard"
    );
}

#[test]
fn baresip_calls_itsp_phone_with_sdes_srtp() {
    require_baresip();
    let dir = tempfile::tempdir().unwrap();
    let (_data, server) = end_to_end_srtp_server(dir.path());
    let source = dir.path().join("carol-says.wav");
    tone_file(&source, BARESIP_HZ);
    let alice_heard = dir.path().join("alice-heard.wav");
    let mut alice = Softphone::start(
        server.udp,
        "alice",
        "a-secret",
        &[
            "--srtp",
            "require",
            "--tone",
            &PHONE_HZ.to_string(),
            "--record",
            alice_heard.to_str().unwrap(),
            "--calls",
            "1",
            "answer",
        ],
    );
    alice.wait_event("waiting", WAIT);
    let dial = format!("/dial sip:alice@{DOMAIN}");
    let mut carol = Baresip::start_with(
        server.udp,
        "carol",
        "c-secret",
        &source,
        &["-e", &dial, "-t", "6"],
        Some("srtp-mand"),
    );
    alice.wait_event("answered", WAIT);
    carol.wait_line(&["Call established: sip:alice@example.com"], WAIT);
    assert!(carol.wait_exit(WAIT).success(), "baresip quits cleanly");
    assert!(alice.wait_exit(WAIT).success(), "alice's call succeeded");
    assert_srtp_report(&alice.all("report")[0]);
    assert!(
        carol.output.iter().any(|l| l.contains("RTP/SAVP")),
        "baresip offered RTP/SAVP"
    );

    let share = tone_share(&alice_heard, BARESIP_HZ);
    assert!(
        share > 0.8,
        "alice: {BARESIP_HZ} Hz is {share:.2} of what she heard"
    );
    let share = tone_share(&carol.recording(), PHONE_HZ);
    assert!(
        share > 0.8,
        "baresip: {PHONE_HZ} Hz is {share:.2} of what it heard"
    );
}
