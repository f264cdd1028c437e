//! Interop of `itsp phone` with a real peer: baresip (Debian's package, version 1.0.0)
//! registered at `itsp serve` on loopback. Bob (`itsp phone`) calls baresip, which answers
//! by itself; baresip calls Alice (`itsp phone answer`). Each side plays a tone and the
//! other side's recording must hold it: G.711 RTP both ways, SIP digest authentication,
//! Record-Route and BYE in both directions. baresip also calls the echo test of the media
//! services and hears its own tone back. With SDES-SRTP (baresip's `srtp` module,
//! `mediaenc=srtp-mand`: RTP/SAVP with `a=crypto`) the calls go both ways encrypted, each
//! side hearing the other through its own SRTP implementation (libre's and webrtc-rs's).
//!
//! baresip is configured in a temporary directory (`-f DIR`): loopback only, G.711, its
//! tone from the `aufile` source. Version 1.0.0's `aufile` has no player, so what it hears
//! is recorded by the `sndfile` filter (`snd_path`, one `dump-*-dec.wav` per call), and the
//! player is ALSA's `null` device. The server runs with its default configuration, whose
//! challenge is MD5 alone: libre 1.0 fails a challenge that offers any algorithm but MD5
//! ("Function not implemented"), so these tests also prove that default.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::softphone::{tone_share, Softphone};
use common::{as_strs, DataDir, Itsp, DOMAIN};

const WAIT: Duration = Duration::from_secs(20);
const MODULE_PATH: &str = "/usr/lib/baresip/modules";
/// The modules the configuration loads.
const MODULES: [&str; 6] = ["g711", "aufile", "alsa", "sndfile", "account", "menu"];
/// The tone baresip plays, and the one `itsp phone` plays.
const BARESIP_HZ: f64 = 600.0;
const PHONE_HZ: f64 = 440.0;
const INSTALL_HINT: &str = "run `scripts/install-test-deps.sh baresip` (CI installs it)";

/// The server with alice, bob and carol, in its default configuration (see the file's
/// doc).
fn server() -> (DataDir, Itsp) {
    let data = DataDir::with_users(&[
        ("alice", "a-secret"),
        ("bob", "b-secret"),
        ("carol", "c-secret"),
    ]);
    let server = Itsp::start(&as_strs(&data.args()));
    (data, server)
}

/// Writes 30 s of a `hz` sine at 8 kHz (longer than any call here: baresip 1.0.0 ends
/// the call when its source file ends).
fn tone_file(path: &Path, hz: f64) {
    let mut samples = vec![0i16; 8000 * 30];
    rtp::audio::tone::Tone::new(hz, 12_000.0, 8000).fill(&mut samples);
    std::fs::write(path, rtp::audio::wav::write(8000, &samples)).unwrap();
}

/// Fails with the way to install baresip when it or a module the test needs is missing.
fn require_baresip() {
    if let Err(e) = Command::new("baresip")
        .arg("-h")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        panic!("baresip is not installed ({e}): {INSTALL_HINT}");
    }
    for module in MODULES {
        let path = Path::new(MODULE_PATH).join(format!("{module}.so"));
        assert!(
            path.exists(),
            "baresip's module {} is missing: {INSTALL_HINT}",
            path.display()
        );
    }
}

/// A running baresip with its configuration directory; killed by PID when dropped.
struct Baresip {
    child: Child,
    dir: tempfile::TempDir,
    lines: mpsc::Receiver<String>,
    /// Every line printed so far (stdout and stderr, colours removed).
    output: Vec<String>,
}

impl Drop for Baresip {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Baresip {
    /// Starts baresip as `user` of [`DOMAIN`] registering through `server`, answering calls
    /// at once, playing `source` (an 8 kHz mono WAV) into every call, with `args` added
    /// (e.g. `-e` commands, `-t` seconds). `-s` prints the SIP trace into the output.
    fn start(server: SocketAddr, user: &str, password: &str, source: &Path, args: &[&str]) -> Self {
        Baresip::start_with(server, user, password, source, args, None)
    }

    /// [`Baresip::start`] with the account's `mediaenc` (e.g. `srtp-mand`), which loads the
    /// `srtp` module.
    fn start_with(
        server: SocketAddr,
        user: &str,
        password: &str,
        source: &Path,
        args: &[&str],
        mediaenc: Option<&str>,
    ) -> Self {
        require_baresip();
        if mediaenc.is_some() {
            assert!(
                Path::new(MODULE_PATH).join("srtp.so").exists(),
                "baresip's module srtp is missing: {INSTALL_HINT}"
            );
        }
        let dir = tempfile::tempdir().unwrap();
        let heard = dir.path().join("heard");
        std::fs::create_dir(&heard).unwrap();
        // Loopback only: SIP on a port the OS picks, the local address given as an IP
        // (libre skips loopback addresses when it looks an interface name up, so `lo`
        // does not work), DNS pointed at loopback so nothing can leave the machine.
        let config = format!(
            "sip_listen\t\t127.0.0.1:0\n\
             net_interface\t\t127.0.0.1\n\
             dns_server\t\t127.0.0.1:53\n\
             rtp_ports\t\t20000-39999\n\
             call_local_timeout\t30\n\
             audio_player\t\talsa,null\n\
             audio_alert\t\talsa,null\n\
             audio_source\t\taufile,{source}\n\
             ausrc_srate\t\t8000\n\
             ausrc_channels\t\t1\n\
             statmode_default\toff\n\
             ringback_disabled\tyes\n\
             snd_path\t\t{heard}\n\
             module_path\t\t{MODULE_PATH}\n\
             module\t\t\tg711.so\n\
             module\t\t\taufile.so\n\
             module\t\t\talsa.so\n\
             module\t\t\tsndfile.so\n\
             module_tmp\t\taccount.so\n\
             module_app\t\tmenu.so\n\
             {srtp}",
            source = source.display(),
            heard = heard.display(),
            srtp = if mediaenc.is_some() {
                "module\t\t\tsrtp.so\n"
            } else {
                ""
            },
        );
        std::fs::write(dir.path().join("config"), config).unwrap();
        let account = format!(
            "<sip:{user}@{DOMAIN}>;auth_pass={password};outbound=\"sip:{server}\";\
             answermode=auto;audio_codecs=pcmu,pcma;regint=600{}\n",
            mediaenc
                .map(|m| format!(";mediaenc={m}"))
                .unwrap_or_default()
        );
        std::fs::write(dir.path().join("accounts"), account).unwrap();

        let mut child = Command::new("baresip")
            .arg("-f")
            .arg(dir.path())
            .arg("-s")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("baresip starts ({e}): {INSTALL_HINT}"));
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        read_lines(user, stdout, tx.clone());
        read_lines(user, stderr, tx);
        Baresip {
            child,
            dir,
            lines,
            output: Vec::new(),
        }
    }

    /// Waits for a line containing every one of `parts`; panics with the output so far.
    fn wait_line(&mut self, parts: &[&str], within: Duration) -> String {
        let matches = |l: &str| parts.iter().all(|p| l.contains(p));
        if let Some(l) = self.output.iter().find(|l| matches(l)) {
            return l.clone();
        }
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.output.push(line.clone());
                    if matches(&line) {
                        return line;
                    }
                }
                Err(e) => panic!(
                    "baresip: no line with {parts:?} within {within:?} ({e}); its output:\n{}",
                    self.output.join("\n")
                ),
            }
        }
    }

    /// Waits for the registration's 200 (baresip's own status line, not the SIP trace).
    fn wait_registered(&mut self, user: &str, within: Duration) {
        self.wait_line(&[&format!("{user}@{DOMAIN}: {{"), "200 OK"], within);
    }

    /// Waits for the process to end (reading the rest of its output).
    fn wait_exit(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "baresip did not exit within {within:?}; its output:\n{}",
                self.output.join("\n")
            );
            while let Ok(line) = self.lines.try_recv() {
                self.output.push(line);
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(500)) {
            self.output.push(line);
        }
        status
    }

    /// Asks baresip to quit (SIGTERM: it hangs up, unregisters and closes its recordings)
    /// and waits for it.
    fn terminate(&mut self, within: Duration) -> ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("sh")
            .args(["-c", &format!("kill -TERM {pid}")])
            .status()
            .unwrap();
        assert!(sent.success());
        self.wait_exit(within)
    }

    /// The recording of what baresip heard in its one call (the `sndfile` filter's
    /// decoder-side dump).
    fn recording(&self) -> PathBuf {
        let found: Vec<PathBuf> = std::fs::read_dir(self.dir.path().join("heard"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().ends_with("-dec.wav"))
            .collect();
        assert_eq!(
            found.len(),
            1,
            "one recording of one call: {found:?}; baresip's output:\n{}",
            self.output.join("\n")
        );
        found.into_iter().next().unwrap()
    }
}

/// Forwards the lines of one of baresip's pipes, without colour escapes, echoed to the
/// test's stderr (shown when a test fails).
fn read_lines(tag: &str, pipe: impl Read + Send + 'static, tx: mpsc::Sender<String>) {
    let tag = tag.to_owned();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut raw = Vec::new();
        loop {
            raw.clear();
            match reader.read_until(b'\n', &mut raw) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            let line = strip_escapes(&String::from_utf8_lossy(&raw));
            let line = line.trim_end();
            eprintln!("[baresip {tag}] {line}");
            if tx.send(line.to_owned()).is_err() {
                break;
            }
        }
    });
}

/// `text` without ANSI escape sequences (`ESC [ ... letter`).
fn strip_escapes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for e in chars.by_ref() {
                if e.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
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
    let (_data, server) = server();
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
    let (_data, server) = server();
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
