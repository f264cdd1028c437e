//! The forgotten web password end to end: `itsp serve` with `[smtp]` pointing at a real
//! SMTP server (Debian's python3-aiosmtpd, run by `tests/data/smtp_sink.py`); the portal's
//! form mails a link to the subscriber's e-mail address, the link's form sets a new web
//! password, which logs in; an unknown address gets the same page and no e-mail.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{as_strs, DataDir, Itsp, Process};

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
}

/// One HTTP/1.1 request over a fresh connection: status, headers (lowercase names), body.
fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, Vec<(String, String)>, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers, body.to_owned())
}

/// A visitor's form page: its form-token cookie (`itsp_form=...`) and `csrf` field.
fn form(addr: SocketAddr, path: &str) -> (String, String) {
    let (status, headers, html) = http(addr, "GET", path, &[], "");
    assert_eq!(status, 200, "{html}");
    let cookie = headers
        .iter()
        .find(|(k, _)| k == "set-cookie")
        .map(|(_, v)| v.split(';').next().unwrap().to_owned())
        .expect("the form-token cookie");
    let marker = r#"name="csrf" value=""#;
    let start = html.find(marker).unwrap() + marker.len();
    let csrf = html[start..start + html[start..].find('"').unwrap()].to_owned();
    (cookie, csrf)
}

/// `application/x-www-form-urlencoded` of `fields`.
fn urlencoded(fields: &[(&str, &str)]) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    char::from(b).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect::<String>()
    };
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn post_form(addr: SocketAddr, path: &str, cookie: &str, fields: &[(&str, &str)]) -> (u16, String) {
    let (status, _, body) = http(
        addr,
        "POST",
        path,
        &[
            ("Cookie", cookie),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        &urlencoded(fields),
    );
    (status, body)
}

#[test]
fn a_forgotten_password_is_reset_through_the_mailed_link() {
    let sink = SmtpSink::start();
    let data = DataDir::with_users(&[]);
    common::block_on(async {
        let s = store::Store::open(&data.url()).await.unwrap();
        s.add_subscriber(
            "carol",
            common::DOMAIN,
            "sip-pw",
            Some("carol@mail.example"),
        )
        .await
        .unwrap();
        s.set_web_password("carol", common::DOMAIN, "old-web-pw")
            .await
            .unwrap();
        s.close().await;
    });
    let config = data.path().join("itsp.toml");
    std::fs::write(
        &config,
        format!(
            "[smtp]\nserver = \"127.0.0.1:{}\"\nfrom = \"itsp <noreply@example.com>\"\n\
             starttls = false\nretry_backoff = 1\n",
            sink.port
        ),
    )
    .unwrap();
    let mut args = data.args();
    args.extend(["--config".into(), config.display().to_string()]);
    let server = Itsp::start(&as_strs(&args));
    let addr = server.http.expect("the portal's address");

    // The login page links to the form; an unknown address and carol get the same page.
    let (_, _, login) = http(addr, "GET", "/login", &[], "");
    assert!(login.contains(r#"href="/password/forgot""#), "{login}");
    let (cookie, csrf) = form(addr, "/password/forgot");
    let mut pages = Vec::new();
    for address in ["nobody@example.com", "carol@example.com"] {
        let (status, page) = post_form(
            addr,
            "/password/forgot",
            &cookie,
            &[("csrf", &csrf), ("address", address)],
        );
        assert_eq!(status, 200, "{page}");
        assert!(page.contains("an e-mail with a link"), "{page}");
        pages.push(page);
    }
    assert_eq!(pages[0], pages[1]);

    // One e-mail, to carol's address, with the link (built from the Host header).
    let mail = sink
        .mails
        .recv_timeout(Duration::from_secs(30))
        .expect("the reset e-mail reached the SMTP server");
    assert_eq!(
        mail["rcpt_to"],
        serde_json::json!(["carol@mail.example"]),
        "{mail}"
    );
    assert_eq!(
        mail["subject"], "Set a new web password for carol@example.com",
        "{mail}"
    );
    let body = mail["body"].as_str().unwrap();
    let prefix = format!("http://{addr}");
    let link = body
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("a link to {prefix} in {body}"));
    let path = &link[prefix.len()..];
    assert!(path.starts_with("/password/reset?token=itspr_"), "{path}");
    if let Ok(other) = sink.mails.recv_timeout(Duration::from_secs(2)) {
        panic!("an e-mail for the unknown address: {other}");
    }

    // The link's form sets the new password; the old one stops working.
    let (cookie, csrf) = form(addr, path);
    let token = path.split_once("token=").unwrap().1;
    let (status, page) = post_form(
        addr,
        "/password/reset",
        &cookie,
        &[
            ("csrf", &csrf),
            ("token", token),
            ("password", "new-web-pw"),
            ("password2", "new-web-pw"),
        ],
    );
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Password changed"), "{page}");
    let login = |password: &str| {
        post_form(
            addr,
            "/login",
            "",
            &[("address", "carol@example.com"), ("password", password)],
        )
        .0
    };
    assert_eq!(login("new-web-pw"), 303);
    assert_eq!(login("old-web-pw"), 401);

    // The link works once.
    let (status, page) = post_form(
        addr,
        "/password/reset",
        &cookie,
        &[
            ("csrf", &csrf),
            ("token", token),
            ("password", "third-pw"),
            ("password2", "third-pw"),
        ],
    );
    assert_eq!(status, 400, "{page}");
    assert_eq!(login("new-web-pw"), 303);
}

#[test]
fn self_registration_mails_a_link_that_makes_an_account_whose_phone_registers() {
    let sink = SmtpSink::start();
    let data = DataDir::with_users(&[]);
    let config = data.path().join("itsp.toml");
    std::fs::write(
        &config,
        format!(
            "[smtp]\nserver = \"127.0.0.1:{}\"\nfrom = \"itsp <noreply@example.com>\"\n\
             starttls = false\nretry_backoff = 1\n",
            sink.port
        ),
    )
    .unwrap();
    let mut args = data.args();
    args.extend(["--config".into(), config.display().to_string()]);
    let server = Itsp::start(&as_strs(&args));
    let addr = server.http.expect("the portal's address");

    // Off by default: no page, no link on the login page.
    let (status, _, _) = http(addr, "GET", "/signup", &[], "");
    assert_eq!(status, 404);
    let (_, _, login_page) = http(addr, "GET", "/login", &[], "");
    assert!(!login_page.contains(r#"href="/signup""#), "{login_page}");

    // On, with the server running: the portal reads the setting at each request.
    common::admin(
        &data,
        &["domain", "set", "example.com", "self-registration=on"],
    );
    let (_, _, login_page) = http(addr, "GET", "/login", &[], "");
    assert!(login_page.contains(r#"href="/signup""#), "{login_page}");
    let (cookie, csrf) = form(addr, "/signup");
    let (status, page) = post_form(
        addr,
        "/signup",
        &cookie,
        &[
            ("csrf", &csrf),
            ("user", "dave"),
            ("domain", "example.com"),
            ("email", "dave@mail.example"),
            ("password", "dave-web-pw"),
            ("password2", "dave-web-pw"),
        ],
    );
    assert_eq!(status, 202, "{page}");
    assert!(page.contains("Check your e-mail"), "{page}");
    let login = |password: &str| {
        post_form(
            addr,
            "/login",
            "",
            &[("address", "dave@example.com"), ("password", password)],
        )
        .0
    };
    // No account before the link is followed.
    assert_eq!(login("dave-web-pw"), 401);

    let mail = sink
        .mails
        .recv_timeout(Duration::from_secs(30))
        .expect("the confirmation e-mail reached the SMTP server");
    assert_eq!(
        mail["rcpt_to"],
        serde_json::json!(["dave@mail.example"]),
        "{mail}"
    );
    assert_eq!(
        mail["subject"], "Confirm your new account dave@example.com",
        "{mail}"
    );
    let body = mail["body"].as_str().unwrap();
    let prefix = format!("http://{addr}");
    let link = body
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("a link to {prefix} in {body}"));
    let path = &link[prefix.len()..];
    assert!(path.starts_with("/signup/confirm?token=itsps_"), "{path}");

    // The link's page, its button: the account, and the phone's SIP password once.
    let (cookie, csrf) = form(addr, path);
    let token = path.split_once("token=").unwrap().1;
    let (status, page) = post_form(
        addr,
        "/signup/confirm",
        &cookie,
        &[("csrf", &csrf), ("token", token)],
    );
    assert_eq!(status, 201, "{page}");
    let marker = r#"<code id="sip-password">"#;
    let start = page.find(marker).unwrap() + marker.len();
    let sip_password = page[start..start + page[start..].find('<').unwrap()].to_owned();
    assert_eq!(sip_password.len(), 16, "{page}");
    assert_eq!(login("dave-web-pw"), 303);

    // His phone registers with it (the server's credential cache follows the new
    // subscriber within about a second).
    std::thread::sleep(Duration::from_millis(1500));
    let mut phone = common::Phone::new(server.udp, "dave", &sip_password);
    let answer = phone.register("Contact: <sip:dave@192.0.2.9>\r\n");
    assert_eq!(answer.status(), Some(200), "{answer:?}");

    // Both steps are in the audit log.
    let log = common::admin_json(&data, &["audit", "list", "--actor", "dave@example.com"]);
    let actions: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["POST /signup/confirm", "POST /signup"], "{log}");
}
