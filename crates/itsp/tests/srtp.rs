//! SDES-SRTP (RFC 4568, RFC 3711) between two `itsp phone`s through `itsp serve` on loopback:
//! both with `--srtp offer` negotiate RTP/SAVP with `a=crypto` and hear each other's tone,
//! directly and through the in-process relay with a hold and a resume (with `[relay] srtp =
//! "off"` the relay passes the SRTP packets on untouched, so every packet a phone plays
//! passed its SRTP authentication under the key negotiated end to end); a phone that
//! requires SRTP refuses a plain caller with 488, a plain phone refuses an SRTP-only offer
//! with 488, and a phone that offers SRTP takes a plain call in plain RTP. A phone that
//! speaks only SRTP hears the echo test and leaves a voicemail (the media services answer
//! SDES offers).
//!
//! The phones here are on UDP: with the default `[relay] srtp = "keep"` an SRTP offer
//! toward a UDP phone is bridged to plain RTP by the relay (`srtp_bridge.rs`), so the
//! end-to-end cases run with `srtp = "off"`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::softphone::{assert_two_way_audio, tone_call, CallSide, Softphone};
use common::{as_strs, DataDir, Itsp};

const WAIT: Duration = Duration::from_secs(20);

fn users() -> DataDir {
    DataDir::with_users(&[("alice", "a-secret"), ("bob", "b-secret")])
}

/// The server with `[relay] srtp = "off"` and `relay` lines added to the section.
fn end_to_end(data: &DataDir, dir: &std::path::Path, relay: &str) -> Itsp {
    let config = dir.join("itsp.toml");
    std::fs::write(&config, format!("[relay]\nsrtp = \"off\"\n{relay}")).unwrap();
    let mut args = data.args();
    args.extend(["--config".into(), config.display().to_string()]);
    Itsp::start(&as_strs(&args))
}

fn start_phone(server: &Itsp) -> impl Fn(&str, &[&str]) -> Softphone + '_ {
    move |user: &str, args: &[&str]| {
        let password = format!("{}-secret", &user[..1]);
        Softphone::start(server.udp, user, &password, args)
    }
}

/// Each side's report says SRTP with the 80-bit suite (the first offered), that nearly
/// every packet it received passed authentication, and that none failed.
fn assert_srtp_reports(sides: &[CallSide; 2]) {
    for side in sides {
        let report = &side.phone.all("report")[0];
        assert_eq!(report["srtp"], "AES_CM_128_HMAC_SHA1_80", "{report}");
        assert_eq!(report["srtp_auth_failures"], 0, "{report}");
        assert_eq!(report["srtp_replays"], 0, "{report}");
        assert_eq!(report["srtp_malformed"], 0, "{report}");
        assert_eq!(report["srtp_rtcp_dropped"], 0, "{report}");
        let authenticated = report["srtp_authenticated"].as_u64().unwrap();
        let received = report["packets_received"].as_u64().unwrap();
        // What the stream received is what passed SRTP (RTCP adds to the authenticated).
        assert!(authenticated >= received, "{report}");
        assert!(received > 100, "{report}");
    }
}

#[test]
fn srtp_call_carries_tones_both_ways() {
    let data = users();
    let dir = tempfile::tempdir().unwrap();
    let server = end_to_end(&data, dir.path(), "");
    let sides = tone_call(
        start_phone(&server),
        dir.path(),
        &["--srtp", "offer"],
        Some(3),
        |_, _| {},
    );
    assert_two_way_audio(&sides, 100);
    assert_srtp_reports(&sides);
}

/// Through the relay, with a hold and a resume (two re-INVITEs: the same keys go on, so
/// no packet fails authentication across them).
#[test]
fn srtp_call_through_the_relay_carries_tones_both_ways_through_hold_and_resume() {
    let data = users();
    let dir = tempfile::tempdir().unwrap();
    let server = end_to_end(
        &data,
        dir.path(),
        "policy = \"always\"\nports = \"44000-44999\"\n",
    );
    let sides = tone_call(
        start_phone(&server),
        dir.path(),
        &["--srtp", "offer"],
        None,
        |alice, bob| {
            std::thread::sleep(Duration::from_millis(1500));
            bob.type_line("hold");
            bob.wait_event("on-hold", WAIT);
            alice.wait_event("held", WAIT);
            std::thread::sleep(Duration::from_millis(500));
            bob.type_line("resume");
            bob.wait_event("resumed", WAIT);
            std::thread::sleep(Duration::from_millis(1500));
            bob.type_line("hangup");
        },
    );
    assert_two_way_audio(&sides, 100);
    assert_srtp_reports(&sides);
    // The relay carried the packets (it saw them all) without being able to read them.
    let ended = server.wait_log("relay session ended", WAIT);
    let relayed = ended["fields"]["rtp_packets"].as_u64().unwrap();
    assert!(relayed > 200, "the relay saw {relayed} packets: {ended}");
}

#[test]
fn a_phone_that_requires_srtp_refuses_a_plain_caller_with_488() {
    let data = users();
    let server = Itsp::start(&as_strs(&data.args()));
    let start = start_phone(&server);
    let mut alice = start("alice", &["--srtp", "require", "--calls", "1", "answer"]);
    alice.wait_event("waiting", WAIT);
    let mut bob = start("bob", &["--srtp", "off", "call", "alice"]);
    assert!(!bob.wait_exit(WAIT).success(), "the plain call fails");
    let ended = &bob.all("ended")[0];
    assert_eq!(ended["code"], 488, "{ended}");
    let rejected = alice.wait_event("rejected", WAIT);
    assert_eq!(rejected["code"], 488, "{rejected}");
    assert!(
        rejected["reason"]
            .as_str()
            .unwrap()
            .contains("no common codec"),
        "{rejected}"
    );
}

#[test]
fn a_plain_phone_refuses_an_srtp_offer_and_an_srtp_phone_takes_a_plain_call() {
    let data = users();
    let dir = tempfile::tempdir().unwrap();
    let server = end_to_end(&data, dir.path(), "");
    let start = start_phone(&server);
    // Plain alice, bob offering RTP/SAVP only: 488.
    let mut alice = start("alice", &["--calls", "1", "answer"]);
    alice.wait_event("waiting", WAIT);
    let mut bob = start("bob", &["--srtp", "require", "call", "alice"]);
    assert!(!bob.wait_exit(WAIT).success(), "the SRTP call fails");
    assert_eq!(bob.all("ended")[0]["code"], 488);
    assert_eq!(alice.wait_event("rejected", WAIT)["code"], 488);
    alice.wait_exit(WAIT);

    // Alice offering SRTP answers plain bob in plain RTP: a call with no SRTP in it.
    let sides = tone_call(
        |user: &str, args: &[&str]| {
            let mut args = args.to_vec();
            if user == "alice" {
                args.splice(0..0, ["--srtp", "offer"]);
            }
            start(user, &args)
        },
        dir.path(),
        &[],
        Some(2),
        |_, _| {},
    );
    assert_two_way_audio(&sides, 50);
    for side in &sides {
        let report = &side.phone.all("report")[0];
        assert!(report["srtp"].is_null(), "{report}");
        assert_eq!(report["srtp_authenticated"], 0, "{report}");
    }
}

/// A phone that speaks only SRTP reaches the media services: the echo test answers its
/// `RTP/SAVP` offer with a key and returns its tone under SRTP, and a message it leaves in
/// a mailbox holds its tone (the service read the protected packets).
#[test]
fn an_srtp_only_phone_hears_the_echo_and_leaves_a_voicemail() {
    let data = users();
    let dir = tempfile::tempdir().unwrap();
    let server = end_to_end(&data, dir.path(), "");
    server.startup_log("media services ready");
    let start = start_phone(&server);
    let heard = dir.path().join("echo.wav");
    let heard_arg = heard.display().to_string();
    let mut alice = start(
        "alice",
        &[
            "--srtp",
            "require",
            "--tone",
            "700",
            "--record",
            &heard_arg,
            "--duration",
            "5",
            "call",
            "echo",
        ],
    );
    alice.wait_event("answered", WAIT);
    assert!(alice.wait_exit(WAIT).success(), "the echo call succeeded");
    let report = &alice.all("report")[0];
    assert_eq!(report["srtp"], "AES_CM_128_HMAC_SHA1_80", "{report}");
    assert_eq!(report["srtp_auth_failures"], 0, "{report}");
    assert!(
        report["packets_received"].as_u64().unwrap() > 150,
        "{report}"
    );
    let share = common::softphone::tone_share(&heard, 700.0);
    assert!(share > 0.7, "700 Hz is {share:.2} of what came back");

    common::admin(&data, &["user", "set", "bob@example.com", "voicemail=on"]);
    let mut alice = start(
        "alice",
        &[
            "--srtp",
            "require",
            "--tone",
            "700",
            "--duration",
            "10",
            "call",
            "bob",
        ],
    );
    alice.wait_event("answered", WAIT);
    assert!(alice.wait_exit(WAIT).success(), "voicemail answered");
    server.wait_log("voicemail message stored", WAIT);
    let list = common::admin_json(&data, &["voicemail", "list", "bob@example.com"]);
    let file = data
        .path()
        .join("voicemail")
        .join(list[0]["file"].as_str().unwrap());
    let share = common::softphone::tone_share(&file, 700.0);
    assert!(share > 0.7, "700 Hz is {share:.2} of the message: {list}");
}
