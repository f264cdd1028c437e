//! The registrar with real peers and corpora: sipp's REGISTER-with-digest scenario from
//! `../shared/bench`, the RFC 4475 REGISTER torture cases sent to the running server, and
//! the PostgreSQL backend on a private cluster.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
#[allow(unreachable_pub)]
#[path = "../../store/tests/common/pg.rs"]
mod pg;

use std::io::Write;
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::{as_strs, assert_bindings, block_on, contacts, DataDir, Itsp, Phone, DOMAIN};
use sip::{HeaderName, Message};

fn shared() -> PathBuf {
    common::repo_root().join("../shared")
}

fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn sipp_registers_with_digest_authentication() {
    let data = DataDir::with_users(&[("alice", "secret")]);
    let server = Itsp::start(&as_strs(&data.args()));
    let scenario = shared().join("bench/reg-auth.xml");
    let port = free_udp_port();
    let out = Command::new("sipp")
        .arg("-sf")
        .arg(&scenario)
        .args([
            "-s", "alice", "-au", "alice", "-ap", "secret", "-set", "domain", DOMAIN,
        ])
        .args(["-i", "127.0.0.1", "-p", &port.to_string()])
        .args(["-m", "1", "-timeout", "20s", "-timeout_error", "-nostdin"])
        .arg(server.udp.to_string())
        .output()
        .expect("sipp runs (scripts/install-test-deps.sh sip-tester)");
    assert!(
        out.status.success(),
        "sipp failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The binding is sipp's own address.
    let rows = block_on(async {
        let s = store::Store::open(&data.url()).await.unwrap();
        s.bindings("alice@example.com").await.unwrap()
    });
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].contact, format!("sip:alice@127.0.0.1:{port}"));
}

/// Sends one message on a new TCP connection and reads the answer (TCP, so the answer comes
/// back on the connection whatever the Via says).
fn tcp_exchange(server: std::net::SocketAddr, bytes: &[u8]) -> Message {
    let mut tcp = TcpStream::connect(server).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    tcp.write_all(bytes).unwrap();
    common::read_message(&mut tcp)
}

fn corpus(file: &str) -> String {
    let path = shared().join("testdata/sip/rfc4475").join(file);
    let manifest =
        std::fs::read_to_string(shared().join("testdata/sip/rfc4475/MANIFEST.tsv")).unwrap();
    assert!(
        manifest.lines().any(|l| l.starts_with(file)),
        "{file} is in MANIFEST.tsv"
    );
    String::from_utf8(std::fs::read(path).unwrap()).unwrap()
}

/// The corpus message sent again with digest credentials: a new branch and CSeq (a new
/// transaction, §8.1.3.5) and the Authorization answering `challenge`.
fn with_credentials(text: &str, challenge: &Message, user: &str, password: &str) -> String {
    let phone = Phone::new("127.0.0.1:9".parse().unwrap(), user, password);
    let auth = phone.answer(challenge, "REGISTER", "sip:example.com");
    let msg = Message::parse(text.as_bytes().to_vec()).unwrap();
    let cseq = msg.cseq().unwrap().seq;
    let text = text
        .replace("branch=z9hG4bKkdjuw", "branch=z9hG4bKkdjuw-2")
        .replace(
            &format!("CSeq: {cseq} REGISTER"),
            &format!("CSeq: {} REGISTER", cseq + 1),
        );
    let (first, rest) = text.split_once("\r\n").unwrap();
    format!("{first}\r\nAuthorization: {auth}\r\n{rest}")
}

#[test]
fn rfc4475_register_cases_get_the_manifest_answers() {
    let data = DataDir::with_users(&[("watson", "elementary"), ("user", "pw"), ("j.user", "pw")]);
    let server = Itsp::start(&as_strs(&data.args()));
    let stored = |aor: &str| {
        block_on(async {
            let s = store::Store::open(&data.url()).await.unwrap();
            s.bindings(aor).await.unwrap()
        })
    };

    // §3.3.4 unksm2: an unknown scheme in To: a registrar answers 400.
    let r = tcp_exchange(server.tcp, corpus("TC_UNKSM2_V.dat").as_bytes());
    assert_eq!(r.status(), Some(400), "{:?}", r.reason());

    // §3.3.7 regaut01: the unknown Authorization scheme is ignored; 401.
    let r = tcp_exchange(server.tcp, corpus("TC_REGAUT01_V.dat").as_bytes());
    assert_eq!(r.status(), Some(401));
    assert!(r
        .header(HeaderName::WwwAuthenticate)
        .unwrap()
        .starts_with("Digest "));

    // §3.3.12 cparam01: `;unknownparam` outside <> is a contact parameter, not part of the URI.
    let text = corpus("TC_CPARAM01_V.dat");
    let challenge = tcp_exchange(server.tcp, text.as_bytes());
    assert_eq!(challenge.status(), Some(401));
    let ok = tcp_exchange(
        server.tcp,
        with_credentials(&text, &challenge, "watson", "elementary").as_bytes(),
    );
    assert_eq!(ok.status(), Some(200), "{:?}", ok.reason());
    assert_eq!(
        contacts(&ok),
        [("sip:+19725552222@gw1.example.net".to_owned(), 3600)]
    );

    // §3.3.13 cparam02: inside <> it is a URI parameter. The URI is equivalent to the one
    // above (§19.1.4: a parameter in only one URI is ignored), so the binding is refreshed
    // and now holds the text the phone sent last.
    let text = corpus("TC_CPARAM02_V.dat");
    let challenge = tcp_exchange(server.tcp, text.as_bytes());
    let ok = tcp_exchange(
        server.tcp,
        with_credentials(&text, &challenge, "watson", "elementary").as_bytes(),
    );
    assert_eq!(ok.status(), Some(200));
    let uris: Vec<String> = stored("watson@example.com")
        .into_iter()
        .map(|b| b.contact)
        .collect();
    assert_eq!(uris, ["sip:+19725552222@gw1.example.net;unknownparam"]);

    // §3.3.14 regescrt: the escaped header stays in the stored contact.
    let text = corpus("TC_REGESCRT_V.dat");
    let challenge = tcp_exchange(server.tcp, text.as_bytes());
    let ok = tcp_exchange(
        server.tcp,
        with_credentials(&text, &challenge, "user", "pw").as_bytes(),
    );
    assert_eq!(ok.status(), Some(200), "{:?}", ok.reason());
    let rows = stored("user@example.com");
    assert_eq!(
        rows[0].contact,
        "sip:user@example.com?Route=%3Csip:sip.example.com%3E"
    );
}

#[test]
fn registrar_on_postgresql() {
    let Some(cluster) = pg::Cluster::start() else {
        return;
    };
    let url = cluster.url("itsp_e2e");
    block_on(async {
        let s = cluster.fresh_store("itsp_e2e").await;
        s.add_domain(DOMAIN).await.unwrap();
        s.add_subscriber("alice", DOMAIN, "secret", None)
            .await
            .unwrap();
        s.close().await;
    });
    let data = tempfile::tempdir().unwrap();
    let args = ["--db", url.as_str(), "--domain", DOMAIN];
    let mut server = Itsp::start(&args);
    assert_eq!(
        server.startup_log("store ready")["fields"]["store"],
        "postgres"
    );
    let mut alice = Phone::new(server.udp, "alice", "secret");
    let ok = alice.register("Contact: <sip:alice@192.0.2.1>\r\n");
    assert_eq!(ok.status(), Some(200));
    server.signal("KILL");
    server.wait_exit(Duration::from_secs(10));
    let server = Itsp::start(&args);
    alice.server = server.udp;
    assert_bindings(&alice.register(""), &[("sip:alice@192.0.2.1", 3600)]);
    // No SQLite file was made on the side.
    assert!(std::fs::read_dir(data.path()).unwrap().next().is_none());
}

/// linphonec (Debian's `linphone-cli`, liblinphone 5.1) registers with the server's default
/// configuration (the MD5 challenge); it runs headless, without a sound card.
#[test]
fn linphonec_registers_with_the_default_configuration() {
    if Command::new("linphonec").arg("-v").output().is_err() {
        panic!("linphonec is not installed: run `scripts/install-test-deps.sh linphone-cli` (CI installs it)");
    }
    let data = DataDir::with_users(&[("alice", "a-secret")]);
    let server = Itsp::start(&as_strs(&data.args()));
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join(".local/share/linphone")).unwrap();
    let rc = home.path().join("linphonerc");
    std::fs::write(
        &rc,
        format!(
            "[sip]\nsip_port={port}\nsip_tcp_port=-1\ndefault_proxy=0\n\
[auth_info_0]\nusername=alice\npasswd=a-secret\nrealm={DOMAIN}\ndomain={DOMAIN}\n\
[proxy_0]\nreg_proxy=<sip:{server};transport=udp>\nreg_identity=sip:alice@{DOMAIN}\n\
reg_expires=600\nreg_sendregister=1\n",
            port = free_udp_port(),
            server = server.udp,
        ),
    )
    .unwrap();
    let mut linphonec = Command::new("linphonec")
        .args(["-c", rc.to_str().unwrap(), "-d", "0"])
        .env("HOME", home.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut registered = serde_json::Value::Null;
    common::eventually("linphonec is registered", || {
        registered = common::admin_json(&data, &["ul", "show"]);
        registered.to_string().contains(&format!("alice@{DOMAIN}"))
    });
    let text = registered.to_string().to_lowercase();
    let _ = linphonec.kill();
    let _ = linphonec.wait();
    assert!(
        text.contains("belle-sip") || text.contains("linphone"),
        "the binding is linphonec's: {registered}"
    );
}
