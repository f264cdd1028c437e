//! The media services of `itsp serve` end to end, with `itsp phone` on loopback: the echo
//! test returns the caller's tone (`echo@` and `*43`), a call to a subscriber with
//! voicemail on who is offline or busy is recorded into the mailbox (the WAV holds the
//! caller's tone, the row its length, `itsp voicemail list` shows it; the owner dials `*97`
//! and hears it, and it is saved; from another subscriber's phone, `voicemail-login` with
//! his mailbox number and PIN, he hears it and deletes it with key 3; by the menu's
//! options he records his greeting, which callers then hear, and changes his PIN; a
//! greeting uploaded as a WAV file through the portal's API is what callers hear), and an
//! unknown number is announced as early media before the 404.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::softphone::{tone_share, tone_share_in_windows, Softphone};
use common::{admin, admin_json, as_strs, DataDir, Itsp};

const WAIT: Duration = Duration::from_secs(30);

fn server() -> (DataDir, Itsp) {
    let data = DataDir::with_users(&[("alice", "a-secret"), ("bob", "b-secret")]);
    let server = Itsp::start(&as_strs(&data.args()));
    (data, server)
}

#[test]
fn echo_returns_the_callers_tone() {
    let (_data, server) = server();
    server.startup_log("media services ready");
    let dir = tempfile::tempdir().unwrap();
    for (target, codecs, seconds) in [("echo", "pcmu", "8"), ("*43", "gsm", "4")] {
        let heard = dir.path().join(format!("{codecs}.wav"));
        let mut alice = Softphone::start(
            server.udp,
            "alice",
            "a-secret",
            &[
                "--tone",
                "700",
                "--codecs",
                codecs,
                "--record",
                heard.to_str().unwrap(),
                "--duration",
                seconds,
                "call",
                target,
            ],
        );
        let answered = alice.wait_event("answered", WAIT);
        assert_eq!(answered["codec"], codecs.to_uppercase(), "{answered}");
        assert!(
            alice.wait_exit(WAIT).success(),
            "the call to {target} succeeded"
        );
        let report = &alice.all("report")[0];
        assert!(
            report["packets_received"].as_u64().unwrap() > 150,
            "{report}"
        );
        if seconds == "8" {
            // The service sends RTCP and echoes the phone's reports (RFC 3550 §6): the
            // phone measured the round trip and read the service's view of its stream.
            assert!(report["rtt_ms"].as_f64().is_some(), "{report}");
            assert_eq!(report["remote_packets_lost"], 0, "{report}");
        }
        let share = tone_share(&heard, 700.0);
        assert!(
            share > 0.7,
            "{target}: 700 Hz is {share:.2} of what came back"
        );
    }
}

/// Alice calls bob (voicemail on) with a 700 Hz tone for `seconds` after the answer;
/// returns the messages `itsp voicemail list` shows then.
fn leave_a_message(data: &DataDir, server: &Itsp, seconds: u32) -> serde_json::Value {
    let duration = seconds.to_string();
    let mut alice = Softphone::start(
        server.udp,
        "alice",
        "a-secret",
        &["--tone", "700", "--duration", &duration, "call", "bob"],
    );
    alice.wait_event("answered", WAIT);
    assert!(
        alice.wait_exit(WAIT).success(),
        "alice's call was answered by voicemail"
    );
    server.wait_log("voicemail message stored", WAIT);
    admin_json(data, &["voicemail", "list", "bob@example.com"])
}

fn check_message(data: &DataDir, message: &serde_json::Value, min_ms: u64, max_ms: u64) {
    assert_eq!(message["caller"], "sip:alice@example.com", "{message}");
    assert_eq!(message["status"], "new");
    let ms = message["duration_ms"].as_u64().unwrap();
    assert!((min_ms..=max_ms).contains(&ms), "{ms} ms: {message}");
    let file = data
        .path()
        .join("voicemail")
        .join(message["file"].as_str().unwrap());
    let wav = rtp::audio::wav::parse(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(wav.sample_rate, 8000);
    let seconds = wav.samples.len() as f64 / 8000.0;
    assert!(
        (seconds * 1000.0 - ms as f64).abs() < 50.0,
        "{seconds} s in {}",
        file.display()
    );
    let share = tone_share(&file, 700.0);
    assert!(share > 0.7, "700 Hz is {share:.2} of the message");
}

#[test]
fn an_offline_subscriber_with_voicemail_gets_a_message() {
    let (data, mut server) = server();
    admin(&data, &["user", "set", "bob@example.com", "voicemail=on"]);
    // The greeting (6.7 s) and the beep (0.4 s), then about 3 s of tone, then hang-up.
    let list = leave_a_message(&data, &server, 10);
    let messages = list.as_array().unwrap();
    assert_eq!(messages.len(), 1, "{list}");
    check_message(&data, &messages[0], 2000, 3200);
    // The table for people.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_itsp"))
        .args([
            "voicemail",
            "list",
            "bob@example.com",
            "--data-dir",
            &data.path_str(),
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("sip:alice@example.com") && text.contains("new"),
        "{text}"
    );

    // Bob dials *97, no PIN: "you have 1 new message", "message one", the beep, the
    // message (heard to its end: saved), the menu; # says goodbye and the service hangs up.
    let dir = tempfile::tempdir().unwrap();
    let heard = dir.path().join("bob-heard.wav");
    let mut bob = Softphone::start(
        server.udp,
        "bob",
        "b-secret",
        &["--record", heard.to_str().unwrap(), "call", "*97"],
    );
    bob.wait_event("answered", WAIT);
    server.wait_log("voicemail messages heard", WAIT);
    bob.type_line("dtmf #");
    assert!(bob.wait_exit(WAIT).success(), "bob heard his messages");
    assert_eq!(bob.all("ended")[0]["cause"], "remote-hangup");
    let list = admin_json(&data, &["voicemail", "list", "bob@example.com"]);
    assert_eq!(list[0]["status"], "saved", "{list}");
    let wav = rtp::audio::wav::parse(&std::fs::read(&heard).unwrap()).unwrap();
    let level = rtp::audio::goertzel::tone_amplitude(&wav.samples, 700.0, 8000);
    let seconds = wav.samples.len() as f64 / 8000.0;
    // About 2.5 s of 700 Hz at 10000 in a recording of several seconds.
    assert!(level > 1500.0, "700 Hz at {level:.0} in {seconds:.1} s");
    let _ = &mut server;
}

#[test]
fn bob_opens_his_mailbox_from_alices_phone_with_number_and_pin_hears_and_deletes_the_message() {
    let (data, server) = server();
    admin(
        &data,
        &[
            "user",
            "set",
            "bob@example.com",
            "voicemail=on",
            "vm-pin=1234",
        ],
    );
    admin(
        &data,
        &["alias", "add", "2002@example.com", "bob@example.com"],
    );
    let list = leave_a_message(&data, &server, 10);
    let file = data
        .path()
        .join("voicemail")
        .join(list[0]["file"].as_str().unwrap());
    assert!(file.is_file());

    // Alice's phone: voicemail-login, bob's number (his alias) and a wrong PIN, then the
    // right one; DTMF as RFC 4733 events typed at the phone's prompt.
    let dir = tempfile::tempdir().unwrap();
    let heard = dir.path().join("bob-heard.wav");
    let mut phone = Softphone::start(
        server.udp,
        "alice",
        "a-secret",
        &["--record", heard.to_str().unwrap(), "call", "*98"],
    );
    phone.wait_event("answered", WAIT);
    phone.type_line("dtmf 2002#");
    std::thread::sleep(Duration::from_secs(2));
    phone.type_line("dtmf 9999#");
    let failed = server.wait_log("voicemail login failed", WAIT);
    assert_eq!(
        failed["fields"]["caller"], "sip:alice@example.com",
        "{failed}"
    );
    std::thread::sleep(Duration::from_secs(1));
    phone.type_line("dtmf 2002#");
    std::thread::sleep(Duration::from_secs(2));
    phone.type_line("dtmf 1234#");
    server.wait_log("voicemail login", WAIT);
    // "You have one new message", "message one", the beep, the message to its end: no
    // longer new; then 3 deletes it, # says goodbye and the service hangs up.
    server.wait_log("voicemail messages heard", WAIT);
    std::thread::sleep(Duration::from_secs(1));
    phone.type_line("dtmf 3");
    server.wait_log("voicemail message deleted", WAIT);
    std::thread::sleep(Duration::from_secs(1));
    phone.type_line("dtmf #");
    assert!(phone.wait_exit(WAIT).success(), "alice's call ended");
    assert_eq!(phone.all("ended")[0]["cause"], "remote-hangup");
    let list = admin_json(&data, &["voicemail", "list", "bob@example.com"]);
    assert_eq!(list.as_array().unwrap().len(), 0, "{list}");
    assert!(!file.exists(), "the message's file is deleted");
    let wav = rtp::audio::wav::parse(&std::fs::read(&heard).unwrap()).unwrap();
    let level = rtp::audio::goertzel::tone_amplitude(&wav.samples, 700.0, 8000);
    let seconds = wav.samples.len() as f64 / 8000.0;
    assert!(level > 1000.0, "700 Hz at {level:.0} in {seconds:.1} s");
}

#[test]
fn options_by_phone_record_the_greeting_callers_then_hear_and_change_the_pin() {
    let (data, server) = server();
    admin(&data, &["user", "set", "bob@example.com", "voicemail=on"]);
    // Bob dials *97 and speaks 700 Hz all along: "no new messages", the menu; 0 options,
    // 1 "record your greeting after the tone", the beep, about 3 s of his tone, #.
    let mut bob = Softphone::start(
        server.udp,
        "bob",
        "b-secret",
        &["--tone", "700", "call", "*97"],
    );
    bob.wait_event("answered", WAIT);
    std::thread::sleep(Duration::from_secs(1));
    bob.type_line("dtmf 0");
    std::thread::sleep(Duration::from_secs(1));
    bob.type_line("dtmf 1");
    std::thread::sleep(Duration::from_secs(7));
    bob.type_line("dtmf #");
    server.wait_log("voicemail greeting stored", WAIT);
    // 2: a new PIN, twice.
    std::thread::sleep(Duration::from_secs(1));
    bob.type_line("dtmf 2");
    std::thread::sleep(Duration::from_secs(1));
    bob.type_line("dtmf 4321#");
    std::thread::sleep(Duration::from_secs(2));
    bob.type_line("dtmf 4321#");
    server.wait_log("voicemail PIN stored", WAIT);
    std::thread::sleep(Duration::from_secs(1));
    bob.type_line("dtmf #");
    assert!(bob.wait_exit(WAIT).success(), "bob's call ended");
    assert_eq!(bob.all("ended")[0]["cause"], "remote-hangup");

    let user = admin_json(&data, &["user", "show", "bob@example.com"]);
    assert_eq!(user["preferences"]["vm-pin"], "4321", "{user}");
    let greeting = data
        .path()
        .join("voicemail")
        .join("example.com")
        .join("bob")
        .join("greeting.wav");
    let share = tone_share(&greeting, 700.0);
    assert!(share > 0.7, "700 Hz is {share:.2} of the greeting");

    // Alice calls bob (offline): his own greeting plays, not the default one.
    let dir = tempfile::tempdir().unwrap();
    let heard = dir.path().join("alice-heard.wav");
    let mut alice = Softphone::start(
        server.udp,
        "alice",
        "a-secret",
        &[
            "--record",
            heard.to_str().unwrap(),
            "--duration",
            "4",
            "call",
            "bob",
        ],
    );
    alice.wait_event("answered", WAIT);
    assert!(alice.wait_exit(WAIT).success());
    let share = tone_share(&heard, 700.0);
    assert!(share > 0.4, "700 Hz is {share:.2} of what alice heard");
}

/// A 48 kHz stereo 16-bit WAV file of a `hz` tone lasting `seconds`.
fn tone_wav_48k_stereo(hz: f64, seconds: u32) -> Vec<u8> {
    let frames = 48_000 * seconds;
    let data = frames * 4;
    let mut out = Vec::new();
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&48_000u32.to_le_bytes());
    out.extend_from_slice(&(48_000u32 * 4).to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data.to_le_bytes());
    for i in 0..frames {
        let v = ((f64::from(i) / 48_000.0 * hz * std::f64::consts::TAU).sin() * 10_000.0) as i16;
        out.extend_from_slice(&v.to_le_bytes());
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

/// One HTTP/1.1 request with a binary body over a fresh connection: status and body.
fn http_bytes(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).unwrap();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, body.to_owned())
}

#[test]
fn a_greeting_uploaded_through_the_api_is_what_callers_hear() {
    let (data, server) = server();
    admin(&data, &["user", "set", "bob@example.com", "voicemail=on"]);
    let token = admin_json(&data, &["token", "create", "--user", "bob@example.com"]);
    let bearer = format!("Bearer {}", token["token"].as_str().unwrap());
    let addr = server.http.expect("the portal's address");
    // Bob uploads 5 s of 700 Hz recorded at 48 kHz in stereo.
    let (status, body) = http_bytes(
        addr,
        "PUT",
        "/api/v1/subscribers/bob@example.com/greeting",
        &[("Authorization", &bearer), ("Content-Type", "audio/wav")],
        &tone_wav_48k_stereo(700.0, 5),
    );
    assert_eq!(status, 200, "{body}");
    let view: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(view["personal"], true, "{view}");
    let greeting = data.path().join("voicemail/example.com/bob/greeting.wav");
    let stored = rtp::audio::wav::parse(&std::fs::read(&greeting).unwrap()).unwrap();
    assert_eq!(stored.sample_rate, 8000);
    assert!(tone_share(&greeting, 700.0) > 0.9);

    // Alice calls bob (offline): his uploaded greeting plays, not the default one.
    let dir = tempfile::tempdir().unwrap();
    let heard = dir.path().join("alice-heard.wav");
    let mut alice = Softphone::start(
        server.udp,
        "alice",
        "a-secret",
        &[
            "--record",
            heard.to_str().unwrap(),
            "--duration",
            "4",
            "call",
            "bob",
        ],
    );
    alice.wait_event("answered", WAIT);
    assert!(alice.wait_exit(WAIT).success());
    let share = tone_share(&heard, 700.0);
    assert!(share > 0.5, "700 Hz is {share:.2} of what alice heard");

    // Removed through the API: the default greeting (speech, no 700 Hz) again.
    let (status, body) = http_bytes(
        addr,
        "DELETE",
        "/api/v1/subscribers/bob@example.com/greeting",
        &[("Authorization", &bearer)],
        b"",
    );
    assert_eq!(status, 204, "{body}");
    assert!(!greeting.exists());
}

#[test]
fn a_busy_subscriber_with_voicemail_gets_a_message() {
    let (data, server) = server();
    admin(&data, &["user", "set", "bob@example.com", "voicemail=on"]);
    let mut bob = Softphone::start(
        server.udp,
        "bob",
        "b-secret",
        &["--reject", "486", "--calls", "1", "answer"],
    );
    bob.wait_event("waiting", WAIT);
    let list = leave_a_message(&data, &server, 10);
    assert!(bob.wait_exit(WAIT).success());
    check_message(&data, &list[0], 2000, 3200);
}

#[test]
fn an_unknown_number_is_announced_before_the_404() {
    let data = DataDir::with_users(&[("alice", "a-secret")]);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("itsp.toml");
    std::fs::write(&config, "[media]\nannouncements = true\n").unwrap();
    let mut args = data.args();
    args.extend(["--config".to_owned(), config.display().to_string()]);
    let server = Itsp::start(&as_strs(&args));
    let heard = dir.path().join("heard.wav");
    let mut alice = Softphone::start(
        server.udp,
        "alice",
        "a-secret",
        &["--record", heard.to_str().unwrap(), "call", "nobody"],
    );
    let status = alice.wait_exit(WAIT);
    assert!(!status.success(), "the call fails");
    let ended = &alice.all("ended")[0];
    assert!(ended.to_string().contains("404"), "{ended}");
    let report = &alice.all("report");
    assert!(
        report
            .first()
            .is_some_and(|r| r["packets_received"].as_u64().unwrap_or(0) > 100),
        "the announcement came as early media: {:?}",
        alice.events
    );
}

#[test]
fn three_phones_in_a_conference_room_each_hear_the_other_two_and_not_themselves() {
    let data = DataDir::with_users(&[
        ("alice", "a-secret"),
        ("bob", "b-secret"),
        ("carol", "c-secret"),
    ]);
    let server = Itsp::start(&as_strs(&data.args()));
    server.startup_log("media services ready");
    let dir = tempfile::tempdir().unwrap();
    let people = [
        ("alice", "a-secret", 500.0),
        ("bob", "b-secret", 700.0),
        ("carol", "c-secret", 900.0),
    ];
    let mut phones = Vec::new();
    for (user, password, hz) in people {
        let heard = dir.path().join(format!("{user}.wav"));
        let tone = format!("{hz}");
        let mut phone = Softphone::start(
            server.udp,
            user,
            password,
            &[
                "--tone",
                &tone,
                "--record",
                heard.to_str().unwrap(),
                "--duration",
                "8",
                "call",
                "conf-team",
            ],
        );
        phone.wait_event("answered", WAIT);
        phones.push((phone, heard, hz));
    }
    server.wait_log("joined the conference", WAIT);
    for (phone, _, _) in &mut phones {
        assert!(phone.wait_exit(WAIT).success());
    }
    for (i, (_, heard, own)) in phones.iter().enumerate() {
        let mine = tone_share(heard, *own);
        assert!(mine < 0.1, "phone {i} hears its own {own} Hz: {mine:.2}");
        for (j, (_, _, other)) in phones.iter().enumerate() {
            if i != j {
                let share = tone_share(heard, *other);
                assert!(share > 0.15, "phone {i} hears {other} Hz at {share:.2}");
            }
        }
    }
}

#[test]
fn a_room_with_a_pin_lets_in_those_who_type_it_and_ends_the_others_calls() {
    let data = DataDir::with_users(&[
        ("alice", "a-secret"),
        ("bob", "b-secret"),
        ("carol", "c-secret"),
    ]);
    admin(
        &data,
        &["conf", "add", "board@example.com", "--pin", "2468"],
    );
    let server = Itsp::start(&as_strs(&data.args()));
    server.startup_log("media services ready");
    let dir = tempfile::tempdir().unwrap();
    let call = |user: &str, password: &str, hz: &str, heard: &std::path::Path| {
        Softphone::start(
            server.udp,
            user,
            password,
            &[
                "--tone",
                hz,
                "--record",
                heard.to_str().unwrap(),
                "--duration",
                "14",
                "call",
                "conf-board",
            ],
        )
    };
    let alice_heard = dir.path().join("alice.wav");
    let mut alice = call("alice", "a-secret", "500", &alice_heard);
    alice.wait_event("answered", WAIT);
    alice.type_line("dtmf 2468#");
    server.wait_log("joined the conference", WAIT);
    let carol_heard = dir.path().join("carol.wav");
    let mut carol = call("carol", "c-secret", "900", &carol_heard);
    carol.wait_event("answered", WAIT);
    carol.type_line("dtmf 2468#");

    // Bob does not know the PIN: three wrong ones end his call.
    let mut bob = call("bob", "b-secret", "700", &dir.path().join("bob.wav"));
    bob.wait_event("answered", WAIT);
    for _ in 0..3 {
        bob.type_line("dtmf 1357#");
        std::thread::sleep(Duration::from_millis(1500));
    }
    let refused = server.wait_log("conference PIN refused", WAIT);
    assert!(
        refused["fields"]["caller"]
            .as_str()
            .is_some_and(|c| c.contains("bob")),
        "{refused}"
    );
    bob.wait_event("ended", WAIT);

    assert!(alice.wait_exit(WAIT).success());
    assert!(carol.wait_exit(WAIT).success());
    // Once both were in, each heard the other (the lobby's prompt first).
    let carol_in_alice = tone_share_in_windows(&alice_heard, 900.0);
    assert!(
        carol_in_alice > 0.3,
        "alice hears carol at {carol_in_alice:.2}"
    );
    let alice_in_carol = tone_share_in_windows(&carol_heard, 500.0);
    assert!(
        alice_in_carol > 0.3,
        "carol hears alice at {alice_in_carol:.2}"
    );
    assert!(tone_share(&alice_heard, 700.0) < 0.05, "bob never got in");
}

/// The share of `hz` in the last `seconds` of a recording (0..1), as [`tone_share`] does
/// for a whole one.
fn tone_share_at_end(path: &std::path::Path, hz: f64, seconds: usize) -> f64 {
    let bytes = std::fs::read(path).unwrap();
    let wav = rtp::audio::wav::parse(&bytes).unwrap();
    let tail = &wav.samples[wav.samples.len().saturating_sub(seconds * 8000)..];
    let rms = rtp::audio::goertzel::rms(tail).max(1.0);
    let amplitude = rtp::audio::goertzel::tone_amplitude(tail, hz, 8000);
    (amplitude / std::f64::consts::SQRT_2 / rms).min(1.0)
}

#[test]
fn the_operator_lists_mutes_and_removes_conference_participants() {
    let data = DataDir::with_users(&[("alice", "a-secret"), ("bob", "b-secret")]);
    let server = Itsp::start(&as_strs(&data.args()));
    server.startup_log("media services ready");
    let dir = tempfile::tempdir().unwrap();
    let alice_heard = dir.path().join("alice.wav");
    let mut alice = Softphone::start(
        server.udp,
        "alice",
        "a-secret",
        &[
            "--tone",
            "500",
            "--record",
            alice_heard.to_str().unwrap(),
            "--duration",
            "25",
            "call",
            "conf-ops",
        ],
    );
    alice.wait_event("answered", WAIT);
    let mut bob = Softphone::start(
        server.udp,
        "bob",
        "b-secret",
        &["--tone", "700", "--duration", "25", "call", "conf-ops"],
    );
    bob.wait_event("answered", WAIT);
    // Both in the room, as the running server says.
    let deadline = std::time::Instant::now() + WAIT;
    let participants = loop {
        let list = admin_json(&data, &["conf", "list"]);
        let ops = list
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["room"] == "ops")
            .cloned();
        if let Some(ops) = ops {
            assert_eq!(ops["domain"], "example.com");
            assert_eq!(ops["configured"], false, "opened on demand");
            let people = ops["participants"].as_array().unwrap().clone();
            if people.len() == 2 {
                break people;
            }
        }
        assert!(std::time::Instant::now() < deadline, "{list}");
        std::thread::sleep(Duration::from_millis(200));
    };
    let id_of = |user: &str| {
        participants
            .iter()
            .find(|p| p["caller"].as_str().unwrap().contains(user))
            .unwrap()["participant"]
            .as_u64()
            .unwrap()
            .to_string()
    };
    assert_eq!(participants[0]["muted"], false);
    let (alice_id, bob_id) = (id_of("alice"), id_of("bob"));

    // Alice hears bob; muted, he is heard no more.
    std::thread::sleep(Duration::from_secs(4));
    let done = admin_json(&data, &["conf", "mute", "ops@example.com", &bob_id]);
    assert_eq!(done["ok"], true, "{done}");
    let list = admin_json(&data, &["conf", "list"]);
    let bob_row = list[0]["participants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["participant"].as_u64().unwrap().to_string() == bob_id)
        .cloned()
        .unwrap();
    assert_eq!(bob_row["muted"], true);
    std::thread::sleep(Duration::from_secs(4));

    // Alice is removed: her call ends (BYE), well before her 25 s.
    admin(&data, &["conf", "kick", "ops@example.com", &alice_id]);
    alice.wait_event("ended", WAIT);
    assert!(alice.wait_exit(WAIT).success());
    server.wait_log("conference participant removed by the operator", WAIT);
    let before_mute = tone_share_in_windows(&alice_heard, 700.0);
    assert!(
        before_mute > 0.2,
        "alice heard bob before: {before_mute:.2}"
    );
    let after_mute = tone_share_at_end(&alice_heard, 700.0, 3);
    assert!(
        after_mute < 0.05,
        "muted, bob is still heard: {after_mute:.2}"
    );
    // Wrong participants are refused with a clear error.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_itsp"))
        .args([
            "conf",
            "kick",
            "ops@example.com",
            "999",
            "--data-dir",
            &data.path_str(),
        ])
        .env_remove("ITSP_DB")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("no such participant in that room"), "{e}");
}

/// A disk that fills up while a message is written keeps what fitted: the server runs in a
/// mount namespace of its own where the voicemail folder is a 48 KiB tmpfs (`unshare`,
/// `mount`: root, as the NAT lab), alice leaves bob 12 s of tone, and about 3 s of it
/// are kept, a valid WAV with its row, and the cut is logged.
#[test]
fn a_full_disk_keeps_what_fitted_of_a_message() {
    let data = DataDir::with_users(&[("alice", "a-secret"), ("bob", "b-secret")]);
    admin(&data, &["user", "set", "bob@example.com", "voicemail=on"]);
    let folder = data.path().join("voicemail");
    std::fs::create_dir_all(&folder).unwrap();
    let mut cmd = std::process::Command::new("unshare");
    cmd.args([
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        "mount -t tmpfs -o size=48k tmpfs \"$VOICEMAIL\" && exec \"$ITSP\" \"$@\"",
        "itsp",
    ])
    .env("VOICEMAIL", &folder)
    .env("ITSP", env!("CARGO_BIN_EXE_itsp"));
    let server = Itsp::start_with(
        cmd,
        &as_strs(&data.args()),
        &["udp:127.0.0.1:0", "tcp:127.0.0.1:0"],
    );
    server.startup_log("media services ready");
    let mut alice = Softphone::start(
        server.udp,
        "alice",
        "a-secret",
        &["--tone", "700", "--duration", "20", "call", "bob"],
    );
    alice.wait_event("answered", WAIT);
    assert!(alice.wait_exit(WAIT).success());
    let cut = server.wait_log("voicemail message cut short: the disk is full", WAIT);
    let kept_ms = cut["fields"]["kept_ms"].as_u64().unwrap();
    assert!(
        cut["fields"]["recorded_ms"].as_u64().unwrap() > kept_ms + 5000,
        "{cut}"
    );
    server.wait_log("voicemail message stored", WAIT);
    // Seen from outside the namespace the folder is empty: the file lives in the
    // server's tmpfs. Its row says how much was kept, and the WAV's length agrees.
    let list = admin_json(&data, &["voicemail", "list", "bob@example.com"]);
    let row = &list[0];
    assert_eq!(row["duration_ms"].as_u64().unwrap(), kept_ms, "{row}");
    assert!(
        (2000..=3100).contains(&kept_ms),
        "{kept_ms} ms kept of 48 KiB"
    );
    // The file, read through the server's own view of the file system (`unshare` exec'd
    // the shell, which exec'd itsp: one process).
    let inside = format!(
        "/proc/{}/root{}/{}",
        server.child.id(),
        folder.display(),
        row["file"].as_str().unwrap()
    );
    let wav = rtp::audio::wav::parse(&std::fs::read(&inside).unwrap()).unwrap();
    assert_eq!(wav.samples.len() as u64 / 8, kept_ms);
    assert!(tone_share(std::path::Path::new(&inside), 700.0) > 0.7);
}
