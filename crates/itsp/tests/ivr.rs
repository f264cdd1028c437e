//! The IVR / auto-attendant of `itsp serve` end to end, with `itsp phone` on loopback:
//! alice calls the menu's number, chooses the sub-menu and then bob by DTMF (RFC 4733),
//! is transferred by REFER (her phone calls bob itself, through the proxy, and reports
//! the answer by NOTIFY; the IVR hangs up), and bob hears her 700 Hz tone; when bob is
//! busy her phone's NOTIFY says 486 and she is back in the menu (keys by SIP INFO). A
//! menu whose prompt is missing stops the start, naming it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Command;
use std::time::Duration;

use common::softphone::{tone_share, Softphone};
use common::{as_strs, DataDir, Itsp};

const WAIT: Duration = Duration::from_secs(30);

const MENUS: &str = r#"
[[ivr]]
name = "main"
numbers = ["ivr", "4600"]
prompt = "ivr-main"
timeout = 10
[ivr.keys]
"2" = "menu:staff"
"9" = "repeat"
"0" = "hangup"

[[ivr]]
name = "staff"
prompt = "ivr-main"
timeout = 10
[ivr.keys]
"1" = "user:bob"
"*" = "menu:main"
"#;

#[test]
fn a_caller_navigates_the_menus_by_dtmf_and_is_transferred_to_bob() {
    let data = DataDir::with_users(&[("alice", "a-secret"), ("bob", "b-secret")]);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("itsp.toml");
    std::fs::write(&config, MENUS).unwrap();
    let mut args = data.args();
    args.extend(["--config".to_owned(), config.display().to_string()]);
    let server = Itsp::start(&as_strs(&args));
    server.startup_log("media services ready");

    let bob_heard = dir.path().join("bob.wav");
    let mut bob = Softphone::start(
        server.udp,
        "bob",
        "b-secret",
        &[
            "--record",
            bob_heard.to_str().unwrap(),
            "--calls",
            "1",
            "answer",
        ],
    );
    bob.wait_event("waiting", WAIT);

    let mut alice = Softphone::start(
        server.udp,
        "alice",
        "a-secret",
        &["--tone", "700", "call", "4600"],
    );
    alice.wait_event("answered", WAIT);
    alice.type_line("dtmf 2");
    let choice = server.wait_log("ivr choice", WAIT);
    assert_eq!(choice["fields"]["menu"], "main", "{choice}");
    assert_eq!(choice["fields"]["action"], "menu:staff", "{choice}");
    alice.type_line("dtmf 1");
    let choice = server.wait_log("ivr choice", WAIT);
    assert_eq!(choice["fields"]["menu"], "staff", "{choice}");
    assert_eq!(choice["fields"]["action"], "user:bob", "{choice}");

    // RFC 3515: the REFER reaches alice's phone, which calls bob itself.
    let requested = alice.wait_event("transfer-requested", WAIT);
    assert_eq!(requested["target"], "sip:bob@example.com", "{requested}");
    let answered = bob.wait_event("answered", WAIT);
    assert_eq!(answered["direction"], "incoming", "{answered}");
    // Her NOTIFY says 200: the IVR leaves the call.
    server.wait_log("caller transferred", WAIT);
    let ended = alice.wait_event("ended", WAIT);
    assert_eq!(ended["cause"], "remote-hangup", "{ended}");

    // Alice and bob talk: her tone for three seconds, then she hangs up.
    std::thread::sleep(Duration::from_secs(3));
    alice.type_line("hangup");
    assert!(alice.wait_exit(WAIT).success(), "alice's calls succeeded");
    assert!(bob.wait_exit(WAIT).success(), "bob's call succeeded");
    let share = tone_share(&bob_heard, 700.0);
    assert!(share > 0.5, "700 Hz is {share:.2} of what bob heard");
}

#[test]
fn a_busy_target_brings_the_caller_back_to_the_menu() {
    let data = DataDir::with_users(&[
        ("alice", "a-secret"),
        ("bob", "b-secret"),
        ("carol", "c-secret"),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("itsp.toml");
    // "carol" is a subscriber too: the start warns that the menu takes her calls.
    let menus = MENUS.replace("[\"ivr\", \"4600\"]", "[\"ivr\", \"4600\", \"carol\"]");
    std::fs::write(&config, menus).unwrap();
    let mut args = data.args();
    args.extend(["--config".to_owned(), config.display().to_string()]);
    let server = Itsp::start(&as_strs(&args));
    let warning = server.startup_log("also a subscriber's name or alias");
    assert_eq!(warning["fields"]["number"], "carol", "{warning}");
    let mut bob = Softphone::start(
        server.udp,
        "bob",
        "b-secret",
        &["--reject", "486", "--calls", "1", "answer"],
    );
    bob.wait_event("waiting", WAIT);
    // The keys by SIP INFO this time.
    let mut alice = Softphone::start(
        server.udp,
        "alice",
        "a-secret",
        &["--dtmf-mode", "info", "call", "ivr"],
    );
    alice.wait_event("answered", WAIT);
    alice.type_line("dtmf 21");
    alice.wait_event("transfer-requested", WAIT);
    // Bob is busy: her phone's NOTIFY says 486, and the IVR offers the menu again.
    let failed = server.wait_log("ivr transfer failed", WAIT);
    assert_eq!(failed["fields"]["code"], 486, "{failed}");
    alice.type_line("dtmf *");
    let choice = server.wait_log("ivr choice", WAIT);
    assert_eq!(choice["fields"]["action"], "menu:main", "{choice}");
    alice.type_line("dtmf 0");
    let choice = server.wait_log("ivr choice", WAIT);
    assert_eq!(choice["fields"]["action"], "hangup", "{choice}");
    // Goodbye, and the IVR hangs up.
    alice.wait_exit(WAIT);
    let ended = alice.all("ended");
    assert!(
        ended
            .iter()
            .any(|e| e["call"] == 1 && e["cause"] == "remote-hangup"),
        "{ended:?}"
    );
    assert!(bob.wait_exit(WAIT).success());
}

#[test]
fn a_menu_without_its_prompt_stops_the_start() {
    let data = DataDir::with_users(&[("alice", "a-secret")]);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("itsp.toml");
    std::fs::write(
        &config,
        "[[ivr]]\nname = \"main\"\nnumbers = [\"4600\"]\nprompt = \"welcome-to-acme\"\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_itsp"))
        .args([
            "serve",
            "--listen",
            "udp:127.0.0.1:0",
            "--no-http",
            "--no-stun",
        ])
        .args(as_strs(&data.args()))
        .args(["--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("ivr \"main\": prompt \"welcome-to-acme\" is neither a built-in prompt nor a WAV file of the prompts directory"),
        "{text}"
    );
}
