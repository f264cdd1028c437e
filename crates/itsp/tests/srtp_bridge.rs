//! SRTP bridged per leg by the in-process relay of `itsp serve` (`relay::srtp`, `[relay]
//! srtp`): a phone on TLS speaking SDES-SRTP and a phone on UDP speaking plain RTP hear each
//! other, each leg in its own profile with its own keys.
//!
//! The proof of each leg's profile comes from the phones: the plain phone runs with
//! `--srtp off` (it refuses RTP/SAVP and plays what arrives as G.711: had SRTP reached it,
//! its recording would be noise, not the tone), the SRTP phone with `--srtp require` (it
//! plays only packets that passed SRTP authentication under the key the relay gave it, and
//! its report counts them: every packet it received, none failed).
//!
//! - `keep` (the default): the TLS phone calls the UDP phone (its RTP/SAVP offer reaches
//!   the UDP phone as RTP/AVP); a plain UDP caller is not upgraded toward a TLS phone that
//!   requires SRTP (488, as without the relay);
//! - `offer`: the UDP phone calls the TLS phone, which is offered RTP/SAVP by the relay;
//! - baresip on TLS with `mediaenc=srtp-mand` calls a plain `itsp phone` on UDP.
//! - `off`: baresip on TLS with `mediaenc=srtp-mand` calls the echo test, which answers its
//!   SRTP offer itself.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::time::Duration;

use common::baresip::{tone_file, Baresip};
use common::softphone::{tone_share, tone_share_in_windows, Softphone};
use common::{as_strs, DataDir, Itsp, DOMAIN};

const WAIT: Duration = Duration::from_secs(20);

/// The server on UDP, TLS and TCP (TLS before TCP: see [`Itsp::tls`]) with `[relay] srtp = srtp`.
fn server(data: &DataDir, dir: &Path, srtp: &str) -> Itsp {
    let config = dir.join("itsp.toml");
    std::fs::write(
        &config,
        format!("[relay]\nsrtp = \"{srtp}\"\nports = \"45000-45999\"\n"),
    )
    .unwrap();
    let mut args = data.args();
    args.extend(["--config".into(), config.display().to_string()]);
    let server = Itsp::start_on(
        &as_strs(&args),
        &["udp:127.0.0.1:0", "tls:127.0.0.1:0", "tcp:127.0.0.1:0"],
    );
    assert!(server.tls.is_some(), "no TLS listener reported");
    server
}

/// One phone of a call: on TLS (trusting the server's certificate) or UDP, with extra
/// arguments.
struct Party<'a> {
    user: &'a str,
    tls: bool,
    extra: &'a [&'a str],
    hz: u32,
}

impl Party<'_> {
    fn start(&self, data: &DataDir, server: &Itsp, heard: &Path, tail: &[&str]) -> Softphone {
        let mut args: Vec<String> = Vec::new();
        let address = if self.tls {
            let cert = data.path().join("tls/cert.pem");
            args.extend(["--transport".into(), "tls".into(), "--tls-ca".into()]);
            args.push(cert.display().to_string());
            server.tls.unwrap()
        } else {
            server.udp
        };
        args.extend(self.extra.iter().map(|a| (*a).to_owned()));
        args.extend(["--tone".into(), self.hz.to_string()]);
        args.extend(["--record".into(), heard.display().to_string()]);
        args.extend(tail.iter().map(|a| (*a).to_owned()));
        let password = format!("{}-secret", &self.user[..1]);
        Softphone::start(address, self.user, &password, &as_strs(&args))
    }
}

/// `caller` calls `callee` for 5 s; both must hear the other's tone: at least two seconds
/// of sound, whose half-second windows are the tone (median share), so a moment of
/// silence from a phone's recorder on a loaded machine does not count. Both phones after
/// it.
fn call(data: &DataDir, server: &Itsp, caller: &Party, callee: &Party) -> (Softphone, Softphone) {
    let dir = tempfile::tempdir().unwrap();
    let (caller_heard, callee_heard) =
        (dir.path().join("caller.wav"), dir.path().join("callee.wav"));
    let mut answering = callee.start(data, server, &callee_heard, &["--calls", "1", "answer"]);
    answering.wait_event("waiting", WAIT);
    let mut calling = caller.start(
        data,
        server,
        &caller_heard,
        &["--duration", "5", "call", callee.user],
    );
    calling.wait_event("answered", WAIT);
    assert!(
        calling.wait_exit(WAIT).success(),
        "the caller's call succeeded"
    );
    assert!(
        answering.wait_exit(WAIT).success(),
        "the callee's call succeeded"
    );
    let share = tone_share_in_windows(&caller_heard, f64::from(callee.hz));
    assert!(
        share > 0.8,
        "caller: {} Hz is {share:.2} of what it heard",
        callee.hz
    );
    let share = tone_share_in_windows(&callee_heard, f64::from(caller.hz));
    assert!(
        share > 0.8,
        "callee: {} Hz is {share:.2} of what it heard",
        caller.hz
    );
    (calling, answering)
}

/// The SRTP phone's report: a suite, every packet it received authenticated, none failed.
fn assert_srtp_leg(phone: &Softphone) {
    let report = &phone.all("report")[0];
    let suite = report["srtp"].as_str().unwrap_or_default();
    assert!(
        suite.starts_with("AES_CM_128_HMAC_SHA1_"),
        "{}: {report}",
        phone.name
    );
    assert_eq!(report["srtp_auth_failures"], 0, "{report}");
    assert_eq!(report["srtp_replays"], 0, "{report}");
    assert_eq!(report["srtp_malformed"], 0, "{report}");
    let received = report["packets_received"].as_u64().unwrap();
    assert!(received > 100, "{report}");
    assert!(
        report["srtp_authenticated"].as_u64().unwrap() >= received,
        "{report}"
    );
}

/// The plain phone's report: no SRTP at all.
fn assert_plain_leg(phone: &Softphone) {
    let report = &phone.all("report")[0];
    assert!(report["srtp"].is_null(), "{}: {report}", phone.name);
    assert_eq!(report["srtp_authenticated"], 0, "{report}");
    assert!(
        report["packets_received"].as_u64().unwrap() > 100,
        "{report}"
    );
}

/// The relay carried the call and counted no SRTP drop worth mentioning.
fn assert_relayed(server: &Itsp) {
    let ended = server.wait_log("relay session ended", WAIT);
    let relayed = ended["fields"]["rtp_packets"].as_u64().unwrap();
    assert!(relayed > 200, "the relay saw {relayed} packets: {ended}");
}

#[test]
fn keep_tls_srtp_caller_hears_udp_plain_callee() {
    let data = DataDir::with_users(&[("alice", "a-secret"), ("bob", "b-secret")]);
    let dir = tempfile::tempdir().unwrap();
    let server = server(&data, dir.path(), "keep");
    let alice = Party {
        user: "alice",
        tls: true,
        extra: &["--srtp", "require"],
        hz: 440,
    };
    let bob = Party {
        user: "bob",
        tls: false,
        extra: &["--srtp", "off"],
        hz: 660,
    };
    let (alice, bob) = call(&data, &server, &alice, &bob);
    assert_srtp_leg(&alice);
    assert_plain_leg(&bob);
    assert_relayed(&server);
}

#[test]
fn offer_udp_plain_caller_hears_tls_srtp_callee() {
    let data = DataDir::with_users(&[("alice", "a-secret"), ("bob", "b-secret")]);
    let dir = tempfile::tempdir().unwrap();
    let server = server(&data, dir.path(), "offer");
    let bob = Party {
        user: "bob",
        tls: false,
        extra: &["--srtp", "off"],
        hz: 660,
    };
    let alice = Party {
        user: "alice",
        tls: true,
        extra: &["--srtp", "require"],
        hz: 440,
    };
    let (bob, alice) = call(&data, &server, &bob, &alice);
    assert_srtp_leg(&alice);
    assert_plain_leg(&bob);
    assert_relayed(&server);
}

#[test]
fn keep_does_not_upgrade_a_plain_caller() {
    let data = DataDir::with_users(&[("alice", "a-secret"), ("bob", "b-secret")]);
    let dir = tempfile::tempdir().unwrap();
    let server = server(&data, dir.path(), "keep");
    let heard = dir.path().join("heard.wav");
    let alice = Party {
        user: "alice",
        tls: true,
        extra: &["--srtp", "require"],
        hz: 440,
    };
    let mut answering = alice.start(&data, &server, &heard, &["--calls", "1", "answer"]);
    answering.wait_event("waiting", WAIT);
    let bob = Party {
        user: "bob",
        tls: false,
        extra: &["--srtp", "off"],
        hz: 660,
    };
    let mut calling = bob.start(&data, &server, &heard, &["call", "alice"]);
    assert!(!calling.wait_exit(WAIT).success(), "the plain call fails");
    assert_eq!(calling.all("ended")[0]["code"], 488);
    assert_eq!(answering.wait_event("rejected", WAIT)["code"], 488);
}

#[test]
fn baresip_on_tls_with_srtp_calls_a_plain_udp_phone() {
    common::baresip::require_baresip();
    let data = DataDir::with_users(&[("alice", "a-secret"), ("carol", "c-secret")]);
    let dir = tempfile::tempdir().unwrap();
    let server = server(&data, dir.path(), "keep");
    let alice_heard = dir.path().join("alice-heard.wav");
    let alice = Party {
        user: "alice",
        tls: false,
        extra: &["--srtp", "off"],
        hz: 440,
    };
    let mut alice = alice.start(&data, &server, &alice_heard, &["--calls", "1", "answer"]);
    alice.wait_event("waiting", WAIT);
    let source = dir.path().join("carol-says.wav");
    tone_file(&source, 600.0);
    let dial = format!("/dial sip:alice@{DOMAIN}");
    let mut carol = Baresip::start_tls_with(
        server.tls.unwrap(),
        &data.path().join("tls/cert.pem"),
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
    assert_plain_leg(&alice);
    // baresip offered RTP/SAVP and was answered RTP/SAVP with the relay's key.
    let savp = carol
        .output
        .iter()
        .filter(|l| l.starts_with("m=audio") && l.contains("RTP/SAVP"))
        .count();
    assert!(
        savp >= 2,
        "baresip's offer and the answer it got are RTP/SAVP"
    );
    let share = tone_share(&alice_heard, 600.0);
    assert!(share > 0.8, "alice: 600 Hz is {share:.2} of what she heard");
    let share = tone_share(&carol.recording(), 440.0);
    assert!(
        share > 0.8,
        "baresip: 440 Hz is {share:.2} of what it heard"
    );
    assert_relayed(&server);
}

/// baresip on TLS that requires SRTP (`srtp-mand`) calls the echo test: with the relay
/// leaving SDP alone (`srtp = "off"`), the media service itself answers its `RTP/SAVP`
/// offer with a key, and baresip hears its own tone back.
#[test]
fn baresip_requiring_srtp_hears_the_echo_test() {
    common::baresip::require_baresip();
    let data = DataDir::with_users(&[("carol", "c-secret")]);
    let dir = tempfile::tempdir().unwrap();
    let server = server(&data, dir.path(), "off");
    server.startup_log("media services ready");
    let source = dir.path().join("carol-says.wav");
    tone_file(&source, 600.0);
    let dial = format!("/dial sip:echo@{DOMAIN}");
    let mut carol = Baresip::start_tls_with(
        server.tls.unwrap(),
        &data.path().join("tls/cert.pem"),
        "carol",
        "c-secret",
        &source,
        &["-e", &dial, "-t", "6"],
        Some("srtp-mand"),
    );
    carol.wait_line(&["Call established: sip:echo@example.com"], WAIT);
    assert!(carol.wait_exit(WAIT).success(), "baresip quits cleanly");
    let savp = carol
        .output
        .iter()
        .filter(|l| l.starts_with("m=audio") && l.contains("RTP/SAVP"))
        .count();
    assert!(
        savp >= 2,
        "baresip's offer and the echo's answer are RTP/SAVP"
    );
    let share = tone_share(&carol.recording(), 600.0);
    assert!(
        share > 0.5,
        "baresip: 600 Hz is {share:.2} of what came back from the echo"
    );
}
