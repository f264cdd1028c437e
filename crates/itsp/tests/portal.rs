//! `itsp serve` serves the web portal and REST API on its HTTP listener: the OpenAPI
//! document, the login page, a bearer token of `itsp token create` against the API, a
//! login with the web password `itsp user add --admin` set; a port already taken is a
//! warning and SIP is served all the same; `--no-http` turns the portal off.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use common::{admin, admin_json, DataDir, Itsp};

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
