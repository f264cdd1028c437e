//! End-to-end tests of `itsp phone` through `itsp serve` on loopback: two phones register,
//! one calls the other with real RTP, tones go both ways and are found in the recordings,
//! DTMF arrives in order, hold and resume change the media direction, either side hangs up,
//! busy and rejected calls report their cause, messages are delivered.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::softphone::{tone_share, Softphone};
use common::{as_strs, DataDir, Itsp, DOMAIN};

const WAIT: Duration = Duration::from_secs(20);

fn server() -> (DataDir, Itsp) {
    let data = DataDir::with_users(&[("alice", "a-secret"), ("bob", "b-secret")]);
    let server = Itsp::start(&as_strs(&data.args()));
    (data, server)
}

#[test]
fn two_phones_talk_with_tones_both_ways_and_dtmf() {
    let (_data, server) = server();
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
            "--calls",
            "1",
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
            "--duration",
            "4",
            "--dtmf",
            "123#",
            "--codecs",
            "pcma,pcmu",
            "call",
            "alice",
        ],
    );
    bob.wait_event("registered", WAIT);
    bob.wait_event("ringing", WAIT);
    let answered = bob.wait_event("answered", WAIT);
    assert_eq!(answered["codec"], "PCMA");
    assert!(bob.wait_exit(WAIT).success(), "bob's call succeeded");
    assert!(alice.wait_exit(WAIT).success());

    // DTMF: every digit once, in order.
    let digits: String = alice
        .all("dtmf-received")
        .iter()
        .map(|e| e["digit"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(digits, "123#");
    assert_eq!(bob.all("ended")[0]["cause"], "local-hangup");
    assert_eq!(alice.all("ended")[0]["cause"], "remote-hangup");

    for (phone, wav, hz, other) in [
        (&bob, &bob_wav, 1000.0, 440.0),
        (&alice, &alice_wav, 440.0, 1000.0),
    ] {
        let report = &phone.all("report")[0];
        assert_eq!(report["packets_lost"], 0, "{}: {report}", phone.name);
        assert!(
            report["packets_received"].as_u64().unwrap() > 150,
            "{report}"
        );
        assert!(report["mos"].as_f64().unwrap() > 4.0, "{report}");
        let share = tone_share(wav, hz);
        assert!(
            share > 0.8,
            "{}: {hz} Hz is {share:.2} of what was heard",
            phone.name
        );
        assert!(
            tone_share(wav, other) < 0.1,
            "{}: own tone echoed",
            phone.name
        );
    }
}

#[test]
fn gsm_call_and_hang_up_by_the_callee() {
    let (_data, server) = server();
    let dir = tempfile::tempdir().unwrap();
    let heard = dir.path().join("heard.wav");
    let mut alice = Softphone::start(
        server.udp,
        "alice",
        "a-secret",
        &["--tone", "700", "--duration", "3", "--calls", "1", "answer"],
    );
    alice.wait_event("waiting", WAIT);
    let mut bob = Softphone::start(
        server.udp,
        "bob",
        "b-secret",
        &[
            "--codecs",
            "gsm",
            "--record",
            heard.to_str().unwrap(),
            "call",
            &format!("sip:alice@{DOMAIN}"),
        ],
    );
    assert_eq!(bob.wait_event("answered", WAIT)["codec"], "GSM");
    assert!(bob.wait_exit(WAIT).success());
    assert_eq!(bob.all("ended")[0]["cause"], "remote-hangup");
    assert!(alice.wait_exit(WAIT).success());
    let share = tone_share(&heard, 700.0);
    assert!(
        share > 0.7,
        "700 Hz through GSM is {share:.2} of the signal"
    );
}

#[test]
fn busy_and_rejected_calls_report_their_cause() {
    let (_data, server) = server();
    let mut alice = Softphone::start(
        server.udp,
        "alice",
        "a-secret",
        &["--reject", "486", "--calls", "1", "answer"],
    );
    alice.wait_event("waiting", WAIT);
    let mut bob = Softphone::start(server.udp, "bob", "b-secret", &["call", "alice"]);
    let status = bob.wait_exit(WAIT);
    assert_eq!(status.code(), Some(1), "a busy call is a failure");
    let ended = &bob.all("ended")[0];
    assert_eq!(ended["cause"], "failed");
    assert_eq!(ended["code"], 486);
    assert!(alice.wait_exit(WAIT).success());

    // Nobody registered as carol: the proxy's answer is the cause.
    let mut bob = Softphone::start(server.udp, "bob", "b-secret", &["call", "carol"]);
    assert_eq!(bob.wait_exit(WAIT).code(), Some(1));
    assert_eq!(bob.all("ended")[0]["code"], 404);

    // A wrong password: registration fails with the server's answer.
    let mut eve = Softphone::start(server.udp, "bob", "wrong", &["register"]);
    assert_eq!(eve.wait_exit(WAIT).code(), Some(1));
    assert_eq!(eve.all("registration-failed")[0]["code"], 401);
}

#[test]
fn hold_and_resume_change_the_media_direction() {
    let (_data, server) = server();
    let mut alice = Softphone::start(
        server.udp,
        "alice",
        "a-secret",
        &["--tone", "500", "--calls", "1", "answer"],
    );
    alice.wait_event("waiting", WAIT);
    let mut bob = Softphone::start(
        server.udp,
        "bob",
        "b-secret",
        &["--tone", "900", "--dtmf-mode", "info", "call", "alice"],
    );
    bob.wait_event("answered", WAIT);
    std::thread::sleep(Duration::from_millis(500));
    bob.type_line("hold");
    bob.wait_event("on-hold", WAIT);
    alice.wait_event("held", WAIT);
    // Held for 1.5 s: Alice answered sendonly with recvonly, so she sends nothing.
    std::thread::sleep(Duration::from_millis(1500));
    bob.type_line("resume");
    bob.wait_event("resumed", WAIT);
    bob.type_line("dtmf 9");
    let digit = alice.wait_event("dtmf-received", WAIT);
    assert_eq!(digit["digit"], "9");
    assert_eq!(digit["mode"], "info");
    bob.type_line("hangup");
    assert!(bob.wait_exit(WAIT).success());
    assert!(alice.wait_exit(WAIT).success());
    // Bob sent all along (sendonly while holding); Alice stopped for the 1.5 s of the hold:
    // about 75 packets fewer.
    assert_eq!(alice.all("held").len(), 1);
    let alice_sent = alice.all("report")[0]["packets_sent"].as_u64().unwrap();
    let bob_sent = bob.all("report")[0]["packets_sent"].as_u64().unwrap();
    assert!(
        bob_sent >= alice_sent + 50,
        "held Alice kept sending: Alice {alice_sent}, Bob {bob_sent}"
    );
}

#[test]
fn messages_are_delivered_and_printed() {
    let (_data, server) = server();
    let mut alice = Softphone::start(server.udp, "alice", "a-secret", &["answer"]);
    alice.wait_event("waiting", WAIT);
    let mut bob = Softphone::start(
        server.udp,
        "bob",
        "b-secret",
        &["message", "alice", "lunch at noon?"],
    );
    assert!(bob.wait_exit(WAIT).success());
    assert_eq!(bob.all("message-answered")[0]["code"], 200);
    let got = alice.wait_event("message", WAIT);
    assert_eq!(got["text"], "lunch at noon?");
    assert!(got["from"].as_str().unwrap().contains("bob@example.com"));
}

#[test]
fn tcp_call_and_profile_file() {
    let (_data, server) = server();
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("alice.toml");
    std::fs::write(
        &profile,
        format!(
            "user = \"alice\"\npassword = \"a-secret\"\nserver = \"{}\"\ndomain = \"{DOMAIN}\"\ntransport = \"tcp\"\ncalls = 1\n",
            server.tcp
        ),
    )
    .unwrap();
    let mut alice = Softphone::start_raw(
        "alice",
        &[
            "phone",
            "--json",
            "--profile",
            profile.to_str().unwrap(),
            "answer",
        ],
    );
    alice.wait_event("waiting", WAIT);
    let mut bob = Softphone::start(
        server.tcp,
        "bob",
        "b-secret",
        &["--transport", "tcp", "--duration", "1", "call", "alice"],
    );
    bob.wait_event("answered", WAIT);
    assert!(bob.wait_exit(WAIT).success());
    assert!(alice.wait_exit(WAIT).success());
}

#[test]
fn bad_settings_are_named() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_itsp"))
        .args(["phone", "--user", "bob", "call", "alice"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("missing --server"), "{err}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_itsp"))
        .args([
            "phone",
            "--user",
            "bob",
            "--server",
            "127.0.0.1:9",
            "--codecs",
            "opus",
            "call",
            "x",
        ])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown codec \"opus\""));
}

#[test]
fn blind_transfer_by_refer() {
    let data = DataDir::with_users(&[
        ("alice", "a-secret"),
        ("bob", "b-secret"),
        ("carol", "c-secret"),
    ]);
    let server = Itsp::start(&as_strs(&data.args()));
    let mut alice = Softphone::start(server.udp, "alice", "a-secret", &["--calls", "1", "answer"]);
    let mut carol = Softphone::start(
        server.udp,
        "carol",
        "c-secret",
        &["--calls", "1", "--duration", "1", "answer"],
    );
    alice.wait_event("waiting", WAIT);
    carol.wait_event("waiting", WAIT);
    let mut bob = Softphone::start(server.udp, "bob", "b-secret", &["call", "alice"]);
    bob.wait_event("answered", WAIT);
    bob.type_line("transfer carol");
    // Alice is asked to call Carol, does, and Bob hears that it worked and leaves.
    let asked = alice.wait_event("transfer-requested", WAIT);
    assert_eq!(asked["target"], "sip:carol@example.com");
    carol.wait_event("answered", WAIT);
    let done = bob.wait_event("transfer-progress", WAIT);
    assert!(done["code"].as_u64().is_some());
    assert!(bob.wait_exit(WAIT).success());
    let codes: Vec<u64> = bob
        .all("transfer-progress")
        .iter()
        .filter_map(|e| e["code"].as_u64())
        .collect();
    assert!(codes.contains(&202) && codes.contains(&200), "{codes:?}");
    // Carol hangs up after a second; Alice's transferred call lasted until then.
    assert!(carol.wait_exit(WAIT).success());
    assert!(alice.wait_exit(WAIT).success());
    let ended = alice.all("ended");
    assert_eq!(ended.len(), 2, "{ended:?}");
    assert_eq!(
        ended[0]["cause"], "remote-hangup",
        "Bob left after the transfer"
    );
    assert_eq!(
        ended[1]["cause"], "remote-hangup",
        "Carol hung up the transferred call"
    );
    let report = &alice.all("report")[1];
    assert!(
        report["packets_received"].as_u64().unwrap() > 25,
        "{report}"
    );
}
