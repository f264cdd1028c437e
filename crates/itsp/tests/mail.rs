//! E-mail from `itsp serve` against a real SMTP server (Debian's python3-aiosmtpd, run by
//! `tests/data/smtp_sink.py` on a loopback port): the low-balance notice is sent once per
//! crossing (a fall below the threshold mails the subscriber, a further fall does not, a
//! top-up above and a fall again does), and a voicemail message reaches its owner with the
//! WAV attached — deleted from the mailbox with `vm-delivery=email`, kept with `both`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::softphone::Softphone;
use common::{admin, admin_json, as_strs, eventually, DataDir, Itsp, Process};

const WAIT: Duration = Duration::from_secs(30);

/// The SMTP server: each message received as the JSON `smtp_sink.py` prints.
struct SmtpSink {
    port: u16,
    mails: mpsc::Receiver<serde_json::Value>,
    _process: Process,
}

impl SmtpSink {
    fn start() -> SmtpSink {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let script = common::repo_root().join("crates/itsp/tests/data/smtp_sink.py");
        let mut child = Command::new("/usr/bin/python3")
            .arg(script)
            .arg(port.to_string())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs (Debian python3-aiosmtpd: scripts/install-test-deps.sh)");
        let stdout = child.stdout.take().unwrap();
        let process = Process(child);
        let (tx, mails) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) {
                    if tx.send(v).is_err() {
                        break;
                    }
                }
            }
        });
        let ready = mails
            .recv_timeout(Duration::from_secs(10))
            .expect("the SMTP server starts (is python3-aiosmtpd installed?)");
        assert_eq!(ready["ready"], port, "{ready}");
        SmtpSink {
            port,
            mails,
            _process: process,
        }
    }

    fn next_mail(&self) -> serde_json::Value {
        self.mails
            .recv_timeout(WAIT)
            .expect("an e-mail reached the SMTP server")
    }

    fn no_mail_for(&self, wait: Duration) {
        if let Ok(m) = self.mails.recv_timeout(wait) {
            panic!("an unexpected e-mail: {m}");
        }
    }

    /// A config file pointing `itsp serve` at this server.
    fn config(&self, dir: &std::path::Path) -> String {
        let path = dir.join("itsp.toml");
        std::fs::write(
            &path,
            format!(
                "[smtp]\nserver = \"127.0.0.1:{}\"\nfrom = \"itsp <noreply@example.com>\"\n\
                 starttls = false\nretry_backoff = 1\nlow_balance_interval = 1\n",
                self.port
            ),
        )
        .unwrap();
        path.display().to_string()
    }
}

fn serve(data: &DataDir, sink: &SmtpSink) -> Itsp {
    let config = sink.config(data.path());
    let mut args = data.args();
    args.extend(["--config".into(), config]);
    Itsp::start(&as_strs(&args))
}

#[test]
fn the_low_balance_notice_is_sent_once_per_crossing() {
    let sink = SmtpSink::start();
    let data = DataDir::with_users(&[]);
    // Alice's own e-mail address (`itsp user add --email`) gets the notices.
    common::block_on(async {
        let s = store::Store::open(&data.url()).await.unwrap();
        s.add_subscriber(
            "alice",
            common::DOMAIN,
            "a-secret",
            Some("alice@mail.example"),
        )
        .await
        .unwrap();
        s.close().await;
    });
    admin(&data, &["account", "set", "alice@example.com", "--prepaid"]);
    admin(&data, &["account", "topup", "alice@example.com", "1.50"]);
    admin(
        &data,
        &[
            "account",
            "set",
            "alice@example.com",
            "--prepaid",
            "--low-balance",
            "1.00",
        ],
    );
    let server = serve(&data, &sink);
    server.startup_log("e-mail on");
    // At 1.50 nothing is due.
    sink.no_mail_for(Duration::from_secs(2));

    let adjust = |amount: &str| {
        admin(
            &data,
            &[
                "account",
                "adjust",
                "alice@example.com",
                amount,
                "--note",
                "test",
            ],
        )
    };
    adjust("-1.00");
    let mail = sink.next_mail();
    assert_eq!(
        mail["rcpt_to"],
        serde_json::json!(["alice@mail.example"]),
        "{mail}"
    );
    assert_eq!(mail["mail_from"], "noreply@example.com", "{mail}");
    assert_eq!(mail["subject"], "Your balance is low: 0.50 EUR", "{mail}");
    let body = mail["body"].as_str().unwrap();
    assert!(
        body.contains("alice@example.com is 0.50 EUR, below 1.00 EUR"),
        "{body}"
    );

    // Further down: the same crossing, no second notice.
    adjust("-0.20");
    sink.no_mail_for(Duration::from_secs(3));

    // A top-up above the threshold, then a fall again: a new notice.
    admin(&data, &["account", "topup", "alice@example.com", "1.00"]);
    sink.no_mail_for(Duration::from_secs(2));
    adjust("-0.50");
    let mail = sink.next_mail();
    assert_eq!(mail["subject"], "Your balance is low: 0.80 EUR", "{mail}");
    sink.no_mail_for(Duration::from_secs(2));
}

/// Alice calls bob, offline with voicemail on, and leaves about 3 s of tone.
fn leave_a_message(server: &Itsp) {
    let mut alice = Softphone::start(
        server.udp,
        "alice",
        "a-secret",
        &["--tone", "700", "--duration", "10", "call", "bob"],
    );
    alice.wait_event("answered", WAIT);
    assert!(alice.wait_exit(WAIT).success(), "voicemail answered");
    server.wait_log("voicemail message stored", WAIT);
}

fn check_voicemail_mail(mail: &serde_json::Value) {
    assert_eq!(
        mail["rcpt_to"],
        serde_json::json!(["bob@mail.example"]),
        "{mail}"
    );
    let subject = mail["subject"].as_str().unwrap();
    assert!(
        subject.starts_with("New voicemail from sip:alice@example.com ("),
        "{subject}"
    );
    let body = mail["body"].as_str().unwrap();
    assert!(body.contains("mailbox bob@example.com"), "{body}");
    let attachments = mail["attachments"].as_array().unwrap();
    assert_eq!(attachments.len(), 1, "{mail}");
    let wav = &attachments[0];
    assert_eq!(wav["content_type"], "audio/wav", "{wav}");
    // "RIFF", a length, "WAVE"
    let head = wav["head"].as_str().unwrap();
    assert!(
        head.starts_with("52494646") && head.ends_with("57415645"),
        "{wav}"
    );
    // About 3 s of 8 kHz 16-bit mono.
    assert!(wav["size"].as_u64().unwrap() > 30_000, "{wav}");
}

/// `itsp user set bob@example.com PREF` while the server runs, tried again while the
/// database is busy with the server's writes.
fn set_preference(data: &DataDir, pref: &str) {
    for _ in 0..20 {
        let out = Command::new(env!("CARGO_BIN_EXE_itsp"))
            .args(["user", "set", "bob@example.com", pref])
            .args(["--data-dir", &data.path_str()])
            .env_remove("ITSP_DB")
            .output()
            .unwrap();
        if out.status.success() {
            return;
        }
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("locked"), "{err}");
        std::thread::sleep(Duration::from_millis(250));
    }
    panic!("the database stayed locked");
}

#[test]
fn voicemail_is_e_mailed_with_the_wav_and_deleted_or_kept() {
    let sink = SmtpSink::start();
    let data = DataDir::with_users(&[("alice", "a-secret"), ("bob", "b-secret")]);
    admin(
        &data,
        &[
            "user",
            "set",
            "bob@example.com",
            "voicemail=on",
            "vm-email=bob@mail.example",
            "vm-delivery=email",
        ],
    );
    let server = serve(&data, &sink);
    server.startup_log("media services ready");

    // email: sent, then gone from the mailbox (row and file).
    leave_a_message(&server);
    check_voicemail_mail(&sink.next_mail());
    eventually("the e-mailed message is deleted", || {
        admin_json(&data, &["voicemail", "list", "bob@example.com"])
            .as_array()
            .unwrap()
            .is_empty()
    });
    let folder = data.path().join("voicemail/example.com/bob");
    let files = std::fs::read_dir(&folder).map(|d| d.count()).unwrap_or(0);
    assert_eq!(files, 0, "the WAV in {} is deleted", folder.display());

    // both: sent and kept.
    set_preference(&data, "vm-delivery=both");
    leave_a_message(&server);
    check_voicemail_mail(&sink.next_mail());
    std::thread::sleep(Duration::from_millis(500));
    let list = admin_json(&data, &["voicemail", "list", "bob@example.com"]);
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
}
