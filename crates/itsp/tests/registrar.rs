//! End-to-end tests of the registrar: `itsp serve` on loopback with a real SQLite (or
//! PostgreSQL) store, phones over real UDP sockets answering digest challenges.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{as_strs, assert_bindings, contacts, DataDir, Itsp, Phone, DOMAIN};
use sip::HeaderName;

#[test]
fn the_default_challenge_is_md5_alone() {
    let data = DataDir::with_users(&[("alice", "secret")]);
    let server = Itsp::start(&as_strs(&data.args()));
    let mut phone = Phone::new(server.udp, "alice", "secret");
    let text = phone.register_text("alice", "Contact: <sip:alice@192.0.2.1:5060>\r\n", None);
    let challenge = phone.exchange(&text);
    assert_eq!(challenge.status(), Some(401));
    let offers: Vec<&str> = challenge
        .header_values(HeaderName::WwwAuthenticate)
        .collect();
    assert_eq!(offers.len(), 1, "{offers:?}");
    assert!(offers[0].contains("algorithm=MD5"), "{offers:?}");
    assert_eq!(
        challenge.header(HeaderName::Server),
        Some("itsp"),
        "no version"
    );
    let ok = phone.register("Contact: <sip:alice@192.0.2.1:5060>\r\n");
    assert_eq!(ok.status(), Some(200));
}

#[test]
fn register_with_sha256_and_md5_then_query_refresh_and_remove() {
    let data = DataDir::with_users(&[("alice", "secret")]);
    let config = data.path().join("itsp.toml");
    std::fs::write(&config, "[auth]\nalgorithms = [\"MD5\", \"SHA-256\"]\n").unwrap();
    let mut args = data.args();
    args.extend(["--config".into(), config.display().to_string()]);
    let server = Itsp::start(&as_strs(&args));
    let mut phone = Phone::new(server.udp, "alice", "secret");

    // The first REGISTER is challenged as configured: MD5 first (for phones that read
    // only the first challenge), SHA-256 second (RFC 8760 §2.4), realm = the domain.
    let text = phone.register_text("alice", "Contact: <sip:alice@192.0.2.1:5060>\r\n", None);
    let challenge = phone.exchange(&text);
    assert_eq!(challenge.status(), Some(401));
    let offers: Vec<&str> = challenge
        .header_values(HeaderName::WwwAuthenticate)
        .collect();
    assert_eq!(offers.len(), 2, "{offers:?}");
    assert!(
        offers[1].contains("algorithm=SHA-256")
            && offers[1].contains(&format!("realm=\"{DOMAIN}\""))
    );
    assert!(offers[0].contains("algorithm=MD5"));
    // RFC 3581: the response carries where the request came from.
    let via = challenge.top_via().unwrap();
    assert_eq!(via.rport(), Some(Some(phone.local().port())));
    assert_eq!(via.received(), Some("127.0.0.1".parse().unwrap()));

    // SHA-256.
    let auth = phone.answer(&challenge, "REGISTER", &format!("sip:{DOMAIN}"));
    assert!(auth.contains("SHA-256"));
    let text = phone.register_text(
        "alice",
        "Contact: <sip:alice@192.0.2.1:5060>\r\n",
        Some(&auth),
    );
    let ok = phone.exchange(&text);
    assert_eq!(ok.status(), Some(200), "{ok:?}");
    assert_eq!(
        contacts(&ok),
        [("sip:alice@192.0.2.1:5060".to_owned(), 3600)]
    );
    assert!(ok.header(HeaderName::Date).is_some(), "§10.3 step 8: Date");

    // MD5, a second device with q and its own expiry.
    phone.algorithm = Some("MD5");
    let ok = phone.register("Contact: <sip:alice@192.0.2.2:5060>;q=0.5;expires=600\r\n");
    assert_eq!(ok.status(), Some(200));
    assert_bindings(
        &ok,
        &[
            ("sip:alice@192.0.2.1:5060", 3600),
            ("sip:alice@192.0.2.2:5060", 600),
        ],
    );
    assert!(ok
        .header_values(HeaderName::Contact)
        .any(|c| c.contains("q=0.5")));

    // Query: no Contact, the bindings are listed.
    phone.algorithm = None;
    let ok = phone.register("");
    assert_eq!(contacts(&ok).len(), 2);

    // Refresh with the Expires header.
    let ok = phone.register("Contact: <sip:alice@192.0.2.2:5060>\r\nExpires: 1200\r\n");
    assert_eq!(
        contacts(&ok)[1],
        ("sip:alice@192.0.2.2:5060".to_owned(), 1200)
    );

    // Remove one.
    let ok = phone.register("Contact: <sip:alice@192.0.2.1:5060>;expires=0\r\n");
    assert_bindings(&ok, &[("sip:alice@192.0.2.2:5060", 1200)]);

    // Too brief: 423 with Min-Expires.
    let r = phone.register("Contact: <sip:alice@192.0.2.3:5060>\r\nExpires: 5\r\n");
    assert_eq!(r.status(), Some(423));
    assert_eq!(r.header(HeaderName::MinExpires), Some("60"));

    // Remove all.
    let ok = phone.register("Contact: *\r\nExpires: 0\r\n");
    assert_eq!(ok.status(), Some(200));
    assert!(contacts(&ok).is_empty());
}

/// A challenge with the values that differ per challenge (nonce, opaque) blanked, to
/// compare two challenges for everything else.
fn challenge_shape(resp: &sip::Message) -> (Option<u16>, Option<String>, Vec<String>, Vec<String>) {
    let headers: Vec<String> = resp
        .headers()
        .map(|h| h.name_text.to_ascii_lowercase())
        .filter(|n| n != "content-length")
        .collect();
    let challenges = resp
        .header_values(HeaderName::WwwAuthenticate)
        .chain(resp.header_values(HeaderName::ProxyAuthenticate))
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|p| {
                    !p.starts_with("nonce=")
                        && !p.starts_with("Digest nonce=")
                        && !p.starts_with("opaque=")
                })
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    (
        resp.status(),
        resp.reason().map(str::to_owned),
        headers,
        challenges,
    )
}

#[test]
fn wrong_password_and_unknown_user_look_the_same_and_identity_is_checked() {
    let data = DataDir::with_users(&[("alice", "secret"), ("bob", "hunter2")]);
    let server = Itsp::start(&as_strs(&data.args()));
    let contact = "Contact: <sip:x@192.0.2.1>\r\n";

    let mut wrong = Phone::new(server.udp, "alice", "not-the-password");
    let wrong_answer = wrong.register(contact);
    assert_eq!(
        wrong_answer.status(),
        Some(401),
        "a fresh challenge, never 200"
    );

    let mut unknown = Phone::new(server.udp, "mallory", "whatever");
    let unknown_answer = unknown.register(contact);
    assert_eq!(unknown_answer.status(), Some(401));
    assert_eq!(
        challenge_shape(&wrong_answer),
        challenge_shape(&unknown_answer)
    );
    // Not even the first challenge differs.
    let first = |p: &mut Phone| {
        let user = p.user.clone();
        let t = p.register_text(&user, contact, None);
        challenge_shape(&p.exchange(&t))
    };
    assert_eq!(first(&mut wrong), first(&mut unknown));

    // check_to: alice's credentials cannot register bob.
    let mut alice = Phone::new(server.udp, "alice", "secret");
    let t = alice.register_text("bob", contact, None);
    let challenge = alice.exchange(&t);
    let auth = alice.answer(&challenge, "REGISTER", &format!("sip:{DOMAIN}"));
    let t = alice.register_text("bob", contact, Some(&auth));
    let refused = alice.exchange(&t);
    assert_eq!(
        (refused.status(), refused.reason()),
        (Some(403), Some("Use To=ID"))
    );

    // A forged or foreign nonce is just challenged again.
    let t = alice.register_text(
        "alice",
        contact,
        Some(&format!(
            "Digest username=\"alice\", realm=\"{DOMAIN}\", nonce=\"forged\", uri=\"sip:{DOMAIN}\", qop=auth, nc=00000001, cnonce=\"c\", response=\"00000000000000000000000000000000\""
        )),
    );
    assert_eq!(alice.exchange(&t).status(), Some(401));
}

#[test]
fn a_password_changed_or_a_user_removed_while_serving_takes_effect_within_seconds() {
    let data = DataDir::with_users(&[("alice", "pw-a")]);
    // The polling below fails up to 20 times a second from 127.0.0.1 until the server
    // sees the new password; the failure guard would ban the address (crates/itsp/tests/
    // guard.rs tests that).
    let config = data.path().join("no-bans.toml");
    std::fs::write(&config, "[guard]\nmax_auth_failures = 0\n").unwrap();
    let mut args = data.args();
    args.extend(["--config".into(), config.display().to_string()]);
    let server = Itsp::start(&as_strs(&args));
    let contact = "Contact: <sip:alice@192.0.2.1>\r\n";
    let mut old = Phone::new(server.udp, "alice", "pw-a");
    assert_eq!(old.register(contact).status(), Some(200));

    common::admin(
        &data,
        &[
            "user",
            "passwd",
            &format!("alice@{DOMAIN}"),
            "--password",
            "pw-b",
        ],
    );
    // The server keeps the HA1 values in memory and sees a change at its next check of
    // the subscribers' version, about a second later: poll rather than expect it at once.
    let mut new = Phone::new(server.udp, "alice", "pw-b");
    common::eventually("the new password is accepted", || {
        new.register(contact).status() == Some(200)
    });
    // The old password gets a fresh challenge, as any wrong one does.
    let refused = old.register(contact);
    assert_eq!(refused.status(), Some(401));
    assert!(refused.header(HeaderName::WwwAuthenticate).is_some());

    common::admin(&data, &["user", "rm", &format!("alice@{DOMAIN}")]);
    common::eventually("a removed user is challenged", || {
        new.register(contact).status() == Some(401)
    });
}

#[test]
fn other_requests_of_local_users_are_challenged_with_407_and_check_from() {
    let data = DataDir::with_users(&[("alice", "secret")]);
    let server = Itsp::start(&as_strs(&data.args()));
    let alice = Phone::new(server.udp, "alice", "secret");
    let message = |from: &str, cseq: u32, auth: Option<&str>| {
        let auth = auth.map_or(String::new(), |a| format!("Proxy-Authorization: {a}\r\n"));
        format!(
            "MESSAGE sip:bob@{DOMAIN} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK-m{cseq};rport\r\n\
Max-Forwards: 70\r\nFrom: <sip:{from}@{DOMAIN}>;tag=m1\r\nTo: <sip:bob@{DOMAIN}>\r\nCall-ID: m@test\r\n\
CSeq: {cseq} MESSAGE\r\n{auth}Content-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi",
            local = alice.local()
        )
    };
    let challenge = alice.exchange(&message("alice", 1, None));
    assert_eq!(challenge.status(), Some(407));
    assert_eq!(
        challenge
            .header_values(HeaderName::ProxyAuthenticate)
            .count(),
        1,
        "MD5 alone by default"
    );
    let auth = alice.answer(&challenge, "MESSAGE", &format!("sip:bob@{DOMAIN}"));
    // Authenticated, so routed: bob is no subscriber here.
    let answer = alice.exchange(&message("alice", 2, Some(&auth)));
    assert_eq!(
        (answer.status(), answer.reason()),
        (Some(404), Some("Not Found"))
    );
    // check_from: alice's credentials with bob's From.
    let challenge = alice.exchange(&message("bob", 3, None));
    let auth = alice.answer(&challenge, "MESSAGE", &format!("sip:bob@{DOMAIN}"));
    let refused = alice.exchange(&message("bob", 4, Some(&auth)));
    assert_eq!(
        (refused.status(), refused.reason()),
        (Some(403), Some("Use From=ID"))
    );
}

#[test]
fn expired_bindings_are_purged_from_memory_and_store() {
    let data = DataDir::with_users(&[("alice", "secret")]);
    let config = data.path().join("itsp.toml");
    std::fs::write(
        &config,
        "[registrar]\nmin_expires = 1\ndefault_expires = 60\npurge_interval = 1\n",
    )
    .unwrap();
    let mut args = data.args();
    args.extend(["--config".into(), config.display().to_string()]);
    let server = Itsp::start(&as_strs(&args));
    let mut alice = Phone::new(server.udp, "alice", "secret");
    let ok = alice.register(
        "Contact: <sip:alice@192.0.2.1>;expires=2\r\nContact: <sip:alice@192.0.2.2>;expires=60\r\n",
    );
    assert_eq!(contacts(&ok).len(), 2);
    let expired = server.wait_log("registration expired", Duration::from_secs(10));
    assert_eq!(expired["fields"]["contact"], "sip:alice@192.0.2.1");
    let ok = alice.register("");
    assert_eq!(contacts(&ok).len(), 1);
    let stored = || {
        common::block_on(async {
            let s = store::Store::open(&data.url()).await.unwrap();
            let rows = s.bindings("alice@example.com").await.unwrap();
            s.close().await;
            rows
        })
    };
    // The store is purged right after memory (the log line comes first).
    common::eventually("the expired binding is gone from the store", || {
        stored().len() == 1
    });
    let rows = stored();
    assert_eq!(rows[0].contact, "sip:alice@192.0.2.2");
    assert_eq!(rows[0].user_agent, "itsp-test-phone");
    assert_eq!(rows[0].received, alice.local().to_string());
}

#[test]
fn bindings_survive_kill_9_and_a_graceful_restart() {
    let data = DataDir::with_users(&[("alice", "secret")]);
    let mut server = Itsp::start(&as_strs(&data.args()));
    let mut alice = Phone::new(server.udp, "alice", "secret");
    let ok = alice
        .register("Contact: <sip:alice@192.0.2.1>\r\nContact: <sip:alice@192.0.2.2>;q=0.1\r\n");
    assert_eq!(contacts(&ok).len(), 2);
    // SIGKILL right after the 200: what was acknowledged must be there.
    server.signal("KILL");
    server.wait_exit(Duration::from_secs(10));

    let mut server = Itsp::start(&as_strs(&data.args()));
    let restored = server.startup_log("store ready");
    assert_eq!(restored["fields"]["bindings_restored"], 2);
    alice.server = server.udp;
    let ok = alice.register("");
    let listed = contacts(&ok);
    assert_eq!(listed.len(), 2);
    assert!(
        listed
            .iter()
            .all(|(_, expires)| (3590..=3600).contains(expires)),
        "{listed:?}"
    );

    // A graceful stop: exit 0, and the bindings are still there after.
    alice.register("Contact: <sip:alice@192.0.2.3>\r\n");
    server.signal("TERM");
    assert!(server.wait_exit(Duration::from_secs(10)).success());
    let server = Itsp::start(&as_strs(&data.args()));
    alice.server = server.udp;
    assert_eq!(contacts(&alice.register("")).len(), 3);
}

#[test]
fn register_over_tcp_answers_on_the_connection() {
    use std::io::Write;
    let data = DataDir::with_users(&[("alice", "secret")]);
    let server = Itsp::start(&as_strs(&data.args()));
    let mut tcp = std::net::TcpStream::connect(server.tcp).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let local = tcp.local_addr().unwrap();
    let mut phone = Phone::new(server.udp, "alice", "secret");
    let contact = format!("Contact: <sip:alice@{local};transport=tcp>\r\n");
    let text = phone
        .register_text("alice", &contact, None)
        .replace("SIP/2.0/UDP", "SIP/2.0/TCP");
    tcp.write_all(text.as_bytes()).unwrap();
    let challenge = common::read_message(&mut tcp);
    assert_eq!(challenge.status(), Some(401));
    let auth = phone.answer(&challenge, "REGISTER", &format!("sip:{DOMAIN}"));
    let text = phone
        .register_text("alice", &contact, Some(&auth))
        .replace("SIP/2.0/UDP", "SIP/2.0/TCP");
    tcp.write_all(text.as_bytes()).unwrap();
    let ok = common::read_message(&mut tcp);
    assert_eq!(ok.status(), Some(200));
    let rows = common::block_on(async {
        let s = store::Store::open(&data.url()).await.unwrap();
        s.bindings("alice@example.com").await.unwrap()
    });
    assert_eq!(rows[0].transport, "TCP");
    assert_eq!(rows[0].received, local.to_string());
}

#[test]
fn several_domains_are_separate_realms() {
    let data = DataDir::with_users(&[("alice", "secret")]);
    common::provision(&data.url(), "example.net", &[("alice", "other")]);
    let mut args = data.args();
    args.extend(["--domain".into(), "example.net".into()]);
    let server = Itsp::start(&as_strs(&args));

    let mut com = Phone::new(server.udp, "alice", "secret");
    assert_eq!(
        com.register("Contact: <sip:a@192.0.2.1>\r\n").status(),
        Some(200)
    );
    // The same name in the other domain is another subscriber with its own password...
    let mut net = Phone::new(server.udp, "alice", "other");
    net.domain = "example.net".into();
    let ok = net.register("Contact: <sip:a@192.0.2.2>\r\n");
    assert_eq!(ok.status(), Some(200));
    assert_eq!(contacts(&ok), [("sip:a@192.0.2.2".to_owned(), 3600)]);
    // ...and the first one's password does not open it.
    let mut wrong = Phone::new(server.udp, "alice", "secret");
    wrong.domain = "example.net".into();
    assert_eq!(wrong.register("").status(), Some(401));
    // A domain not served is refused without a challenge.
    let mut foreign = Phone::new(server.udp, "alice", "secret");
    foreign.domain = "example.org".into();
    let refused = foreign.register("");
    assert_eq!(refused.status(), Some(403));
}

#[test]
fn a_trusted_network_registers_subscribers_only() {
    let data = DataDir::with_users(&[("alice", "secret")]);
    let mut args = data.args();
    args.extend(["--trusted".into(), "127.0.0.0/8".into()]);
    let server = Itsp::start(&as_strs(&args));
    let mut phone = Phone::new(server.udp, "gw", "");
    let mut register = |user: &str| {
        let contact = format!("Contact: <sip:{user}@{}>\r\n", phone.local());
        let text = phone.register_text(user, &contact, None);
        phone.exchange(&text)
    };
    // Not challenged, and no user is created: 404 for an address that is no subscriber's.
    let refused = register("gateway1");
    assert_eq!(
        (refused.status(), refused.reason()),
        (Some(404), Some("Not Found"))
    );
    assert_eq!(register("alice").status(), Some(200), "a subscriber");
    let bindings = common::admin_json(&data, &["ul", "show"]).to_string();
    assert!(!bindings.contains("gateway1"), "{bindings}");

    // Allowed by the setting, for gateways that register themselves.
    let config = data.path().join("itsp.toml");
    std::fs::write(&config, "[registrar]\ntrusted_may_register_anyone = true\n").unwrap();
    args.extend(["--config".into(), config.display().to_string()]);
    drop(server);
    let server = Itsp::start(&as_strs(&args));
    let mut phone = Phone::new(server.udp, "gw", "");
    let contact = format!("Contact: <sip:gateway1@{}>\r\n", phone.local());
    let text = phone.register_text("gateway1", &contact, None);
    let ok = phone.exchange(&text);
    assert_eq!(ok.status(), Some(200));
}
