//! `itsp serve` serves the web portal and REST API on its HTTP listener: the OpenAPI
//! document, the login page, a bearer token of `itsp token create` against the API, a
//! login with the web password `itsp user add --admin` set; a port already taken is a
//! warning and SIP is served all the same; `--no-http` turns the portal off. Ten wrong
//! portal passwords get the address refused (429, even with the right password), each
//! failure logged in the line `contrib/fail2ban/filter.d/itsp-portal.conf` matches (run
//! with Debian's `fail2ban-regex` when installed). An admin ends a call between two
//! `itsp phone`s through the API (`DELETE /api/v1/calls/live/{call_id}`), after the list
//! showed the in-process relay's counters of it: both phones hear a BYE, the call's record
//! says an admin ended it. An admin disables a subscriber through the API: the phone's
//! very next REGISTER is refused (401, as for an unknown user: the server forgot the
//! credentials it cached), their registration is gone, until the admin enables them
//! again; `itsp user disable` against the running server (its control socket) alike,
//! and the audit log (the API's and `itsp audit list`) names the admin's token and both
//! changes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::softphone::Softphone;
use common::{admin, admin_json, as_strs, free_udp_port, repo_root, DataDir, Itsp, Process};

/// One HTTP/1.1 request over a fresh connection: status and body.
fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
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
    let status = answer.split(' ').nth(1).unwrap().parse().unwrap();
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

#[test]
fn serve_runs_the_portal_on_its_http_listener() {
    let data = DataDir::with_users(&[]);
    admin(
        &data,
        &[
            "user",
            "add",
            "boss@example.com",
            "--password",
            "pw-boss",
            "--admin",
        ],
    );
    let token = admin_json(&data, &["token", "create", "--admin", "--name", "e2e"]);
    let token = token["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("itsp_"));

    let args = data.args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = Itsp::start(&args);
    let addr = server
        .http
        .expect("the portal's address in the start-up log");
    assert!(addr.ip().is_loopback());

    let (status, doc) = http(addr, "GET", "/api/v1/openapi.json", &[], "");
    assert_eq!(status, 200);
    assert!(doc.contains("\"openapi\":\"3."), "{doc}");
    let (status, page) = http(addr, "GET", "/login", &[], "");
    assert_eq!(status, 200);
    assert!(page.contains("Log in"));

    // The token of `itsp token create` works against the running server's API.
    let bearer = format!("Bearer {token}");
    let (status, body) = http(
        addr,
        "GET",
        "/api/v1/subscribers",
        &[("Authorization", &bearer)],
        "",
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("boss@example.com"));
    let (status, _) = http(addr, "GET", "/api/v1/subscribers", &[], "");
    assert_eq!(status, 401);

    // `itsp user add --password` set the web password; --admin made an admin.
    let login = r#"{"address":"boss@example.com","password":"pw-boss"}"#;
    let (status, body) = http(
        addr,
        "POST",
        "/api/v1/session",
        &[("Content-Type", "application/json")],
        login,
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"admin\":true"), "{body}");

    // Revoked: refused at once.
    let list = admin_json(&data, &["token", "list"]);
    let id = list[0]["id"].as_i64().unwrap().to_string();
    admin(&data, &["token", "revoke", &id]);
    let (status, _) = http(
        addr,
        "GET",
        "/api/v1/subscribers",
        &[("Authorization", &bearer)],
        "",
    );
    assert_eq!(status, 401);
}

#[test]
fn a_taken_http_port_is_a_warning_and_sip_still_runs() {
    let data = DataDir::with_users(&[]);
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().to_string();
    let mut args = data.args();
    args.extend(["--http-listen".into(), port.clone()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = Itsp::start(&args);
    assert!(server.http.is_none());
    let warning = server.startup_log("the web portal is not served");
    assert_eq!(warning["level"], "WARN");
    assert_eq!(warning["fields"]["http_listen"], port.as_str());
    // SIP answers.
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let local = sock.local_addr().unwrap();
    let options = format!(
        "OPTIONS sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK-p1;rport\r\n\
         Max-Forwards: 70\r\nFrom: <sip:t@example.com>;tag=1\r\nTo: <sip:example.com>\r\n\
         Call-ID: portal-port-taken\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    );
    sock.send_to(options.as_bytes(), server.udp).unwrap();
    let mut buf = [0u8; 4096];
    let (n, _) = sock.recv_from(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("SIP/2.0 200"));
}

#[test]
fn no_http_turns_the_portal_off() {
    let data = DataDir::with_users(&[]);
    let mut args = data.args();
    args.push("--no-http".into());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = Itsp::start(&args);
    assert!(server.http.is_none());
    assert!(!server.startup.iter().any(|v| v["fields"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("web portal"))));
}

#[test]
fn failed_portal_logins_are_refused_and_logged_for_fail2ban() {
    let data = DataDir::with_users(&[]);
    admin(
        &data,
        &["user", "add", "carol@example.com", "--password", "pw-carol"],
    );
    let http_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
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
            .args(["--listen", &format!("udp:127.0.0.1:{}", free_udp_port())])
            .args(["--http-listen", &format!("127.0.0.1:{http_port}")])
            .args(as_strs(&data.args()))
            .env_remove("RUST_LOG")
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let read = || std::fs::read_to_string(&log_path).unwrap_or_default();
    common::eventually("the portal listens", || {
        read().contains("web portal and REST API listening")
    });
    let addr: SocketAddr = format!("127.0.0.1:{http_port}").parse().unwrap();
    let form = [("Content-Type", "application/x-www-form-urlencoded")];
    for i in 0..10 {
        let user = if i % 2 == 0 { "carol" } else { "nobody" };
        let body = format!("address={user}%40example.com&password=guess{i}");
        let (status, _) = http(addr, "POST", "/login", &form, &body);
        assert_eq!(status, 401, "attempt {i}");
    }
    let (status, page) = http(
        addr,
        "POST",
        "/login",
        &form,
        "address=carol%40example.com&password=pw-carol",
    );
    assert_eq!(status, 429);
    assert!(
        page.contains("Too many failed logins; try again in 5 minutes"),
        "{page}"
    );
    common::eventually("ten failures and the ban logged", || {
        read().contains("source banned")
    });
    let text = read();
    assert_eq!(
        text.matches("portal login failed source=127.0.0.1 user=")
            .count(),
        10,
        "{text}"
    );
    assert_eq!(
        text.matches(r#"reason="bad credentials""#).count(),
        10,
        "unknown user and wrong password alike: {text}"
    );
    assert!(
        text.contains(r#"reason="too many failed portal logins" failures=10 ban_secs=300"#),
        "{text}"
    );

    let found = Command::new("sh")
        .args(["-c", "command -v fail2ban-regex"])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        eprintln!("the fail2ban part skipped: fail2ban-regex is not installed (scripts/install-test-deps.sh fail2ban)");
        return;
    }
    let filter = repo_root()
        .join("contrib/fail2ban/filter.d/itsp-portal.conf")
        .canonicalize()
        .unwrap();
    let hosts = Command::new("fail2ban-regex")
        .args(["--out", "ip"])
        .arg(&log_path)
        .arg(&filter)
        .output()
        .unwrap();
    assert!(hosts.status.success(), "{hosts:?}");
    let hosts = String::from_utf8_lossy(&hosts.stdout);
    assert_eq!(
        hosts.split_whitespace().collect::<Vec<_>>(),
        ["127.0.0.1"; 10],
        "{hosts}\n{text}"
    );
}

/// `[http] login_max_failures` in the config file sets the guard: two failures refuse the
/// third attempt, even with the right password.
#[test]
fn the_config_file_sets_the_login_guard() {
    let data = DataDir::with_users(&[]);
    admin(
        &data,
        &["user", "add", "carol@example.com", "--password", "pw-carol"],
    );
    let config = data.path().join("itsp.toml");
    std::fs::write(&config, "[http]\nlogin_max_failures = 2\n").unwrap();
    let mut args = data.args();
    args.extend(["--config".to_owned(), config.display().to_string()]);
    let server = Itsp::start(&as_strs(&args));
    let addr = server.http.expect("the portal runs");
    let form = [("Content-Type", "application/x-www-form-urlencoded")];
    for i in 0..2 {
        let body = format!("address=carol%40example.com&password=guess{i}");
        let (status, _) = http(addr, "POST", "/login", &form, &body);
        assert_eq!(status, 401, "attempt {i}");
    }
    let (status, _) = http(
        addr,
        "POST",
        "/login",
        &form,
        "address=carol%40example.com&password=pw-carol",
    );
    assert_eq!(status, 429);
}

/// `text` percent-encoded for a path segment.
fn segment(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~@".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[test]
fn an_admin_ends_a_live_call_through_the_api() {
    const WAIT: Duration = Duration::from_secs(20);
    let data = DataDir::with_users(&[("alice", "a-secret"), ("bob", "b-secret")]);
    let token = admin_json(&data, &["token", "create", "--admin", "--name", "e2e"]);
    let bearer = format!("Bearer {}", token["token"].as_str().unwrap());
    let auth = [("Authorization", bearer.as_str())];
    // Through the in-process relay, whose counters the list shows.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("itsp.toml");
    std::fs::write(
        &config,
        "[relay]\npolicy = \"always\"\nports = \"45000-45999\"\n",
    )
    .unwrap();
    let mut args = data.args();
    args.extend(["--config".into(), config.display().to_string()]);
    let server = Itsp::start(&as_strs(&args));
    let addr = server.http.expect("the portal's address");
    let mut alice = Softphone::start(
        server.udp,
        "alice",
        "a-secret",
        &["--duration", "60", "--calls", "1", "answer"],
    );
    alice.wait_event("waiting", WAIT);
    let mut bob = Softphone::start(server.udp, "bob", "b-secret", &["call", "alice"]);
    bob.wait_event("answered", WAIT);
    // The call, answered, as the API lists it, with the audio the relay carried.
    let deadline = Instant::now() + WAIT;
    let call = loop {
        let (status, body) = http(addr, "GET", "/api/v1/calls/live", &auth, "");
        assert_eq!(status, 200, "{body}");
        let list: serde_json::Value = serde_json::from_str(&body).unwrap();
        if let Some(c) = list["items"].as_array().and_then(|a| {
            a.iter().find(|c| {
                c["state"] == "confirmed" && c["media"]["rtp_packets"].as_u64() > Some(50)
            })
        }) {
            break c.clone();
        }
        assert!(Instant::now() < deadline, "the call was not listed: {body}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(call["caller"].as_str().unwrap().contains("bob@"), "{call}");
    assert!(call["callee"].as_str().unwrap().contains("alice"), "{call}");
    let call_id = call["call_id"].as_str().unwrap();
    let path = format!("/api/v1/calls/live/{}", segment(call_id));
    // A subscriber may not end it.
    let bob_token = admin_json(
        &data,
        &[
            "token",
            "create",
            "--user",
            "bob@example.com",
            "--name",
            "bob",
        ],
    );
    let bob_bearer = format!("Bearer {}", bob_token["token"].as_str().unwrap());
    let (status, _) = http(addr, "DELETE", &path, &[("Authorization", &bob_bearer)], "");
    assert_eq!(status, 403);
    // The admin does: BYE to both phones.
    let (status, body) = http(addr, "DELETE", &path, &auth, "");
    assert_eq!(status, 204, "{body}");
    for phone in [&mut alice, &mut bob] {
        let ended = phone.wait_event("ended", WAIT);
        assert_eq!(ended["cause"], "remote-hangup", "{ended}");
    }
    server.wait_log("call ended in the portal", WAIT);
    // Ended: once.
    let (status, body) = http(addr, "DELETE", &path, &auth, "");
    assert_eq!(status, 404, "{body}");
    // The record says an admin ended it.
    let deadline = Instant::now() + WAIT;
    loop {
        let records = admin_json(&data, &["cdr", "list"]);
        if let Some(r) = records.as_array().and_then(|a| a.first()) {
            assert_eq!(r["hung_up_by"], "proxy", "{r:#}");
            assert_eq!(r["end_reason"], "admin", "{r:#}");
            break;
        }
        assert!(Instant::now() < deadline, "no call record");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn itsp_user_disable_passwd_and_rm_take_effect_at_the_next_register() {
    let data = DataDir::with_users(&[("alice", "secret")]);
    let args = data.args();
    let server = Itsp::start(&as_strs(&args));
    let contact = "Contact: <sip:alice@192.0.2.1>\r\n";
    let mut phone = common::Phone::new(server.udp, "alice", "secret");
    // Twice: the second is answered from the server's cached credentials.
    assert_eq!(phone.register(contact).status(), Some(200));
    assert_eq!(phone.register(contact).status(), Some(200));
    let v = admin_json(&data, &["user", "disable", "alice@example.com"]);
    assert_eq!(v["server_told"], true, "{v}");
    assert_eq!(v["removed"], 1, "{v}");
    // At once, not a second later.
    assert_eq!(phone.register(contact).status(), Some(401));
    admin(&data, &["user", "enable", "alice@example.com"]);
    // Enabling is seen at the server's next check of the subscribers' version.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(phone.register(contact).status(), Some(200));
    // A new SIP password: the old one is refused at once, the new one works.
    let v = admin_json(
        &data,
        &[
            "user",
            "passwd",
            "alice@example.com",
            "--password",
            "n3w-secret",
        ],
    );
    assert_eq!(v["server_told"], true, "{v}");
    assert_eq!(phone.register(contact).status(), Some(401));
    let mut renewed = common::Phone::new(server.udp, "alice", "n3w-secret");
    assert_eq!(renewed.register(contact).status(), Some(200));
    // Removed: refused at once too.
    admin(&data, &["user", "rm", "alice@example.com"]);
    assert_eq!(renewed.register(contact).status(), Some(401));
}

#[test]
fn a_disabled_subscriber_cannot_register_until_enabled() {
    let data = DataDir::with_users(&[("alice", "secret")]);
    let token = admin_json(&data, &["token", "create", "--admin", "--name", "e2e"]);
    let token = token["token"].as_str().unwrap().to_owned();
    let bearer = format!("Bearer {token}");
    let args = data.args();
    let server = Itsp::start(&as_strs(&args));
    let addr = server.http.expect("the portal's address");
    let contact = "Contact: <sip:alice@192.0.2.1>\r\n";
    let mut phone = common::Phone::new(server.udp, "alice", "secret");
    assert_eq!(phone.register(contact).status(), Some(200));

    let patch = |disabled: bool| {
        http(
            addr,
            "PATCH",
            "/api/v1/subscribers/alice@example.com",
            &[
                ("Authorization", &bearer),
                ("Content-Type", "application/json"),
            ],
            &format!(r#"{{"disabled":{disabled}}}"#),
        )
    };
    let (status, body) = patch(true);
    assert_eq!(status, 204, "{body}");
    // At once: the server forgot the credentials it had cached for the REGISTER above.
    assert_eq!(phone.register(contact).status(), Some(401));
    // Their registration went with it.
    let (status, body) = http(
        addr,
        "GET",
        "/api/v1/subscribers/alice@example.com/registrations",
        &[("Authorization", &bearer)],
        "",
    );
    assert_eq!((status, body.as_str()), (200, "[]"));
    let (status, body) = patch(false);
    assert_eq!(status, 204, "{body}");
    // Not polled: each refused REGISTER is a failed authentication the server's guard
    // counts, and a burst of them from one address gets it banned. The credentials come
    // back at the server's next version check, within about a second.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(phone.register(contact).status(), Some(200));

    let (status, body) = http(
        addr,
        "GET",
        "/api/v1/audit",
        &[("Authorization", &bearer)],
        "",
    );
    assert_eq!(status, 200, "{body}");
    let log: serde_json::Value = serde_json::from_str(&body).unwrap();
    let items = log["items"].as_array().unwrap();
    // The oldest entry is the command line's `itsp token create`, its token not kept.
    let (cli, items): (Vec<_>, Vec<_>) = items.iter().partition(|i| i["source"] == "local");
    assert_eq!(cli.len(), 1, "{body}");
    assert_eq!(cli[0]["action"], "itsp token create --admin --name e2e");
    assert!(cli[0]["actor"].as_str().unwrap().starts_with("cli:"));
    assert!(!body.contains(&token), "{body}");
    assert_eq!(items.len(), 2, "{body}");
    for (item, disabled) in items.iter().zip(["false", "true"]) {
        assert_eq!(
            item["action"],
            "PATCH /api/v1/subscribers/alice@example.com"
        );
        assert!(item["actor"].as_str().unwrap().starts_with("token "));
        assert_eq!(item["source"], "127.0.0.1");
        assert_eq!(
            item["detail"],
            format!(r#"{{"disabled":{disabled}}}"#),
            "{body}"
        );
    }
    // `itsp audit list` reads the same log.
    let cli = admin_json(&data, &["audit", "list"]);
    assert_eq!(cli.as_array().unwrap().len(), 3, "{cli}");
    assert_eq!(
        cli[0]["action"],
        "PATCH /api/v1/subscribers/alice@example.com"
    );
    let none = admin_json(&data, &["audit", "list", "--actor", "nobody@example.com"]);
    assert_eq!(none, serde_json::json!([]));
}
