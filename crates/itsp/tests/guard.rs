//! End-to-end: the guards of `itsp serve` (`server::guard`) against real attack tools on
//! loopback. `svcrack` (SIPVicious, Debian's `sipvicious`) guesses a password from a word
//! list and gets banned before it reaches it; Debian's `fail2ban-regex` runs the filter of
//! `contrib/fail2ban/` against the server's real text log. Each test says it was skipped
//! when its tool is missing (`scripts/install-test-deps.sh sipvicious fail2ban`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{as_strs, free_udp_port, repo_root, DataDir, Itsp, Phone, Process, DOMAIN};

/// Whether `tool` is on the PATH; says the test is skipped when not.
fn have(tool: &str, test: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        eprintln!("{test}: skipped, {tool} is not installed (scripts/install-test-deps.sh)");
    }
    found
}

const PASSWORD: &str = "Tr0ub4dor&3";

#[test]
fn svcrack_does_not_find_the_password_and_is_banned() {
    if !have(
        "svcrack",
        "svcrack_does_not_find_the_password_and_is_banned",
    ) {
        return;
    }
    let data = DataDir::with_users(&[("alice", PASSWORD)]);
    let server = Itsp::start(&as_strs(&data.args()));
    // 500 words, the password at 250: far past the tenth failure.
    let mut words: Vec<String> = (0..500).map(|i| format!("guess{i:03}")).collect();
    words[250] = PASSWORD.into();
    let list = data.path().join("words.txt");
    std::fs::write(&list, words.join("\n") + "\n").unwrap();
    let started = Instant::now();
    let mut svcrack = Process(
        Command::new("svcrack")
            .args([
                "-u",
                "alice",
                "--domain",
                DOMAIN,
                "--maximumtime",
                "3",
                "-d",
            ])
            .arg(&list)
            .args(["-p", &server.udp.port().to_string(), "127.0.0.1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("svcrack starts"),
    );
    // It stops by itself 3 s after its last answer; 60 s bound the test anyway.
    let banned = server.wait_log("source banned", Duration::from_secs(30));
    assert_eq!(banned["fields"]["source"], "127.0.0.1", "{banned}");
    assert_eq!(
        banned["fields"]["reason"],
        "too many failed authentications"
    );
    while svcrack.0.try_wait().unwrap().is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "svcrack did not stop"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let child = std::mem::replace(&mut svcrack.0, Command::new("true").spawn().unwrap());
    let out = child.wait_with_output().unwrap();
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!output.contains(PASSWORD), "svcrack found it: {output}");
    assert!(output.contains("found nothing"), "{output}");
    // The ban is in the store: `itsp ban list` shows it.
    let bans = common::admin_json(&data, &["ban", "list"]);
    assert_eq!(bans[0]["network"], "127.0.0.1", "{bans}");
    assert_eq!(bans[0]["automatic"], true);
    // `itsp ban rm` lifts it while the server runs: alice gets in.
    common::admin(&data, &["ban", "rm", "127.0.0.1"]);
    server.wait_log("ban lifted", Duration::from_secs(5));
    let mut phone = Phone::new(server.udp, "alice", PASSWORD);
    let contact = format!("Contact: <{}>\r\n", phone.contact());
    assert_eq!(phone.register(&contact).status(), Some(200));
}

#[test]
fn an_operators_ban_takes_effect_while_the_server_runs() {
    let data = DataDir::with_users(&[("alice", "secret")]);
    let server = Itsp::start(&as_strs(&data.args()));
    let phone = Phone::new(server.udp, "alice", "secret");
    let options = |n: u32| {
        format!(
            "OPTIONS sip:{DOMAIN} SIP/2.0\r\nVia: SIP/2.0/UDP {};branch=z9hG4bK-ban{n};rport\r\n\
Max-Forwards: 70\r\nFrom: <sip:alice@{DOMAIN}>;tag=b{n}\r\nTo: <sip:{DOMAIN}>\r\n\
Call-ID: ban-{n}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
            phone.local()
        )
    };
    assert_eq!(phone.exchange(&options(1)).status(), Some(200));
    common::admin(&data, &["ban", "add", "127.0.0.0/8", "--for", "1h"]);
    phone
        .sock
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buf = [0u8; 2048];
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut n = 2;
    loop {
        phone
            .sock
            .send_to(options(n).as_bytes(), server.udp)
            .unwrap();
        n += 1;
        if phone.sock.recv_from(&mut buf).is_err() {
            break; // dropped: the ban is read
        }
        assert!(Instant::now() < deadline, "the ban never took effect");
        // 20 a second: far from the flood limit, which would drop them too.
        std::thread::sleep(Duration::from_millis(50));
    }
    common::admin(&data, &["ban", "rm", "127.0.0.0/8"]);
    phone
        .sock
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    common::eventually("the ban is lifted", || {
        phone
            .sock
            .send_to(options(1000 + n).as_bytes(), server.udp)
            .unwrap();
        n += 1;
        phone
            .sock
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        phone.sock.recv_from(&mut buf).is_ok()
    });
}

#[test]
fn the_fail2ban_filter_matches_the_server_log() {
    if !have(
        "fail2ban-regex",
        "the_fail2ban_filter_matches_the_server_log",
    ) {
        return;
    }
    let data = DataDir::with_users(&[("alice", "secret")]);
    let port = free_udp_port();
    let log_path = data.path().join("itsp.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let _server = Process(
        Command::new(env!("CARGO_BIN_EXE_itsp"))
            .args([
                "--log-format",
                "text",
                "--log",
                "info",
                "serve",
                "--no-stun",
            ])
            .args(["--listen", &format!("udp:127.0.0.1:{port}")])
            .args(as_strs(&data.args()))
            .env_remove("RUST_LOG")
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let read = || std::fs::read_to_string(&log_path).unwrap_or_default();
    common::eventually("the server listens", || read().contains("listening"));
    let server = format!("127.0.0.1:{port}").parse().unwrap();
    // Three wrong passwords and an unknown user; then the right password (no failure).
    for (user, password) in [
        ("alice", "wrong1"),
        ("alice", "wrong2"),
        ("alice", "wrong3"),
        ("mallory", "x"),
        ("alice", "secret"),
    ] {
        let mut phone = Phone::new(server, user, password);
        let contact = format!("Contact: <{}>\r\n", phone.contact());
        phone.register(&contact);
    }
    common::eventually("four failures logged", || {
        read().matches("auth failed").count() == 4
    });
    let text = read();
    assert_eq!(
        text.matches("reason=\"bad credentials\"").count(),
        4,
        "unknown user and wrong password alike: {text}"
    );
    let filter = repo_root().join("contrib/fail2ban/filter.d/itsp.conf");
    let out = Command::new("fail2ban-regex")
        .arg(&log_path)
        .arg(filter.canonicalize().unwrap())
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{report}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = text.lines().count();
    assert!(
        report.contains(&format!(
            "Lines: {lines} lines, 0 ignored, 4 matched, {} missed",
            lines - 4
        )),
        "{report}\n{text}"
    );
    // The timestamps are recognised by the filter's datepattern.
    assert!(
        report.contains("Year-Month-DayT24hour:Minute:Second"),
        "{report}"
    );
    // The host fail2ban would ban is the source of each failure, the unknown user's too.
    let hosts = Command::new("fail2ban-regex")
        .args(["--out", "ip"])
        .arg(&log_path)
        .arg(filter.canonicalize().unwrap())
        .output()
        .unwrap();
    let hosts = String::from_utf8_lossy(&hosts.stdout);
    assert_eq!(
        hosts.split_whitespace().collect::<Vec<_>>(),
        ["127.0.0.1"; 4],
        "{hosts}"
    );
}
