//! The proxy finds other domains' servers through DNS (RFC 3263) and fails over to the
//! next SRV target when one answers 503 or does not answer (RFC 3263 §4.3, Timer B), against
//! a DNS server the test runs on loopback. Two servers of two domains that trust each
//! other's certificate share one TLS connection for their requests both ways (RFC 5923),
//! and a client without a certificate cannot capture it with `alias`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
#[path = "../../locate/tests/dns_server/mod.rs"]
#[allow(dead_code)] // the tests here use part of it
mod dns_server;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use common::{as_strs, provision, sqlite_url, DataDir, Itsp, Phone};
use dns_server::{DnsServer, Zone};

/// Runs the DNS server on a runtime of its own for the test's lifetime.
fn dns(zone: Zone) -> (std::net::SocketAddr, tokio::runtime::Runtime) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let server = rt.block_on(DnsServer::start(zone));
    let addr = server.addr;
    std::mem::forget(server); // its tasks live as long as the runtime
    (addr, rt)
}

fn server_with_dns(data: &DataDir, nameserver: std::net::SocketAddr, extra: &str) -> Itsp {
    server_with_dns_on(
        data,
        data.args(),
        nameserver,
        extra,
        &["udp:127.0.0.1:0", "tcp:127.0.0.1:0"],
    )
}

/// `itsp serve` with `args`, listening on `listens`, resolving through `nameserver`, with
/// `extra` config, trusting loopback callers.
fn server_with_dns_on(
    data: &DataDir,
    mut args: Vec<String>,
    nameserver: std::net::SocketAddr,
    extra: &str,
    listens: &[&str],
) -> Itsp {
    let config = data.path().join("itsp.toml");
    std::fs::write(
        &config,
        format!("[proxy]\nnameservers = [\"{nameserver}\"]\n{extra}"),
    )
    .unwrap();
    args.extend([
        "--trusted".into(),
        "127.0.0.0/8".into(),
        "--config".into(),
        config.display().to_string(),
    ]);
    Itsp::start_on(&as_strs(&args), listens)
}

#[test]
fn srv_targets_are_tried_in_priority_order_and_503_fails_over() {
    let data = DataDir::with_users(&[("alice", "a")]);
    let alice_phone = |s: &Itsp| Phone::new(s.udp, "alice", "a");
    let first = Phone::new("127.0.0.1:9".parse().unwrap(), "one", "-");
    let second = Phone::new("127.0.0.1:9".parse().unwrap(), "two", "-");
    let zone = Zone::new()
        .srv(
            "_sip._udp.other.test",
            10,
            0,
            first.local().port(),
            "one.other.test",
        )
        .srv(
            "_sip._udp.other.test",
            20,
            0,
            second.local().port(),
            "two.other.test",
        )
        .a("one.other.test", "127.0.0.1")
        .a("two.other.test", "127.0.0.1");
    let (ns, _rt) = dns(zone);
    let server = server_with_dns(&data, ns, "");
    let alice = alice_phone(&server);

    let call = alice.new_call("someone@other.test", "srv");
    alice.send(&alice.invite_text(&call, None));
    let (invite, proxy) = first.expect_request("INVITE");
    assert_eq!(
        invite.request_uri_str(),
        Some("sip:someone@other.test"),
        "R-URI kept"
    );
    first.reply(&invite, proxy, 503, "one");
    first.expect_request("ACK");
    let (invite, proxy) = second.expect_request("INVITE");
    second.reply(&invite, proxy, 200, "two");
    let ok = alice.expect_response("INVITE");
    assert_eq!(ok.status(), Some(200));
    assert!(ok.header(sip::HeaderName::To).unwrap().contains("tag=two"));
}

#[test]
fn a_silent_srv_target_times_out_and_the_next_answers() {
    let data = DataDir::with_users(&[("alice", "a")]);
    let silent = Phone::new("127.0.0.1:9".parse().unwrap(), "one", "-");
    let second = Phone::new("127.0.0.1:9".parse().unwrap(), "two", "-");
    let zone = Zone::new()
        .srv(
            "_sip._udp.slow.test",
            10,
            0,
            silent.local().port(),
            "one.slow.test",
        )
        .srv(
            "_sip._udp.slow.test",
            20,
            0,
            second.local().port(),
            "two.slow.test",
        )
        .a("one.slow.test", "127.0.0.1")
        .a("two.slow.test", "127.0.0.1");
    let (ns, _rt) = dns(zone);
    // T1 = 20 ms: Timer B (64*T1) fires after 1.28 s.
    let server = server_with_dns(&data, ns, "[timers]\nt1_ms = 20\nt2_ms = 4000\n");
    let alice = Phone::new(server.udp, "alice", "a");

    let call = alice.new_call("someone@slow.test", "timeout");
    alice.send(&alice.invite_text(&call, None));
    silent.expect_request("INVITE"); // and never answers
    let (invite, proxy) = second.expect_request("INVITE");
    second.reply(&invite, proxy, 486, "two");
    let busy = alice.expect_response("INVITE");
    assert_eq!(
        busy.status(),
        Some(486),
        "the answer of the target that answered"
    );
}

#[test]
fn an_unknown_domain_is_404() {
    let data = DataDir::with_users(&[("alice", "a")]);
    let (ns, _rt) = dns(Zone::new().a("known.test", "127.0.0.1"));
    let server = server_with_dns(&data, ns, "");
    let alice = Phone::new(server.udp, "alice", "a");
    let call = alice.new_call("someone@unknown.test", "nx");
    alice.send(&alice.invite_text(&call, None));
    let r = alice.expect_response("INVITE");
    assert_eq!(r.status(), Some(404));
    assert_eq!(r.reason(), Some("Destination domain not found"));
}

/// A data directory serving `domain` with `user` (password `pw`) whose self-signed
/// certificate (made here, before the server starts, so the other server can be told to
/// trust it) names the domain and 127.0.0.1, the address in the server's Via.
fn tls_domain(domain: &str, user: &str, pw: &str) -> (DataDir, Vec<String>) {
    let data = DataDir {
        dir: tempfile::tempdir().unwrap(),
    };
    provision(&sqlite_url(data.path()), domain, &[(user, pw)]);
    let names = [domain.to_owned(), "127.0.0.1".to_owned()];
    transport::tls::Identity::self_signed(&data.path().join("tls"), &names, SystemTime::now())
        .unwrap();
    let args = vec![
        "--data-dir".into(),
        data.path_str(),
        "--domain".into(),
        domain.into(),
    ];
    (data, args)
}

/// A phone of `user@domain` on UDP, registered with `server`.
fn registered(server: &Itsp, domain: &str, user: &str, pw: &str) -> Phone {
    let mut phone = Phone::new(server.udp, user, pw);
    phone.domain = domain.into();
    let ok = phone.register(&format!("Contact: <{}>\r\n", phone.contact()));
    assert_eq!(ok.status(), Some(200), "{user} registers");
    phone
}

/// `from` calls `to_user@to_domain:port;transport=tls` through its server; `callee` gets
/// the INVITE, answers 486, and the caller acknowledges. The INVITE as the callee got it.
fn call_over_tls(from: &Phone, callee: &Phone, to: &str, tag: &str) -> sip::Message {
    let call = from.new_call(to, tag);
    from.send(&from.invite_text(&call, None));
    let (invite, proxy) = callee.expect_request("INVITE");
    callee.reply(&invite, proxy, 486, tag);
    let busy = from.expect_response("INVITE");
    assert_eq!(busy.status(), Some(486));
    from.ack_failure(&call, &busy);
    invite
}

/// The Via the calling server put on `invite` (the second: the callee's server's is on top):
/// whether it asks for reuse, and the source port its server saw (`rport`).
fn caller_server_via(invite: &sip::Message) -> (bool, u16) {
    let vias: Vec<_> = invite.vias().map(Result::unwrap).collect();
    let via = vias.get(1).expect("the calling server's Via");
    assert_eq!(via.transport, "TLS", "{via:?}");
    (via.alias(), via.rport().flatten().expect("rport filled in"))
}

/// A TLS client without a certificate, trusting `ca`, connected to `addr` as `name`.
fn anonymous_client(
    addr: SocketAddr,
    name: &str,
    ca: &Path,
) -> rustls::StreamOwned<rustls::ClientConnection, std::net::TcpStream> {
    let config = transport::tls::client_config(&transport::tls::Trust::Verify {
        extra_ca: vec![ca.to_owned()],
    })
    .unwrap();
    let name = rustls::pki_types::ServerName::try_from(name.to_owned()).unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let tcp = std::net::TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    rustls::StreamOwned::new(conn, tcp)
}

#[test]
fn two_servers_share_one_tls_connection_both_ways() {
    let (a_data, a_args) = tls_domain("a.test", "alice", "a");
    let (b_data, b_args) = tls_domain("b.test", "bob", "b");
    let (ns, _rt) = dns(Zone::new()
        .a("a.test", "127.0.0.1")
        .a("b.test", "127.0.0.1"));
    let listens = ["udp:127.0.0.1:0", "tls:127.0.0.1:0", "tcp:127.0.0.1:0"];
    // Each trusts the other's certificate ([tls] ca), for its server and client side.
    let trust = |other: &DataDir| {
        format!(
            "[tls]\nca = [\"{}\"]\n",
            other.path().join("tls/cert.pem").display()
        )
    };
    let a = server_with_dns_on(&a_data, a_args, ns, &trust(&b_data), &listens);
    let b = server_with_dns_on(&b_data, b_args, ns, &trust(&a_data), &listens);
    let (a_tls, b_tls) = (a.tls.unwrap(), b.tls.unwrap());
    let alice = registered(&a, "a.test", "alice", "a");
    let bob = registered(&b, "b.test", "bob", "b");

    // A client without a certificate claims A's TLS address with alias, on a connection to
    // B; B answers it but does not take it for A (RFC 5923 §9.2).
    let mut rogue = anonymous_client(b_tls, "b.test", &b_data.path().join("tls/cert.pem"));
    let options = format!(
        "OPTIONS sip:b.test SIP/2.0\r\nVia: SIP/2.0/TLS {a_tls};branch=z9hG4bK-rogue;alias\r\n\
         Max-Forwards: 70\r\nFrom: <sip:rogue@a.test>;tag=r\r\nTo: <sip:b.test>\r\n\
         Call-ID: rogue@test\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    );
    rogue.write_all(options.as_bytes()).unwrap();
    let mut answer = [0u8; 12];
    rogue.read_exact(&mut answer).unwrap();
    assert_eq!(&answer, b"SIP/2.0 200 ", "B answers the rogue's OPTIONS");

    // B calls A first: B opens a TLS connection to A (so A sees an ephemeral port, not the
    // rogue's connection, which would leave alice without the INVITE), asking for reuse.
    let to_alice = format!("alice@a.test:{};transport=tls", a_tls.port());
    let invite = call_over_tls(&bob, &alice, &to_alice, "ba");
    let (alias, b_source_port) = caller_server_via(&invite);
    assert!(alias, "B's Via over TLS carries alias");
    assert_ne!(
        b_source_port,
        b_tls.port(),
        "B connected from an ephemeral port"
    );
    // A verified B's client certificate, which names B's sent-by: the connection is aliased.
    a.wait_log("TLS connection aliased", Duration::from_secs(5));

    // A calls B: the INVITE goes on B's connection, so B sees it come from B's own
    // connection's peer address, A's TLS port — one connection for both directions.
    let to_bob = format!("bob@b.test:{};transport=tls", b_tls.port());
    let invite = call_over_tls(&alice, &bob, &to_bob, "ab");
    let (alias, seen_port) = caller_server_via(&invite);
    assert!(alias);
    assert_eq!(
        seen_port,
        a_tls.port(),
        "A's request did not reuse the connection B opened"
    );

    // And B again: still its one connection.
    let invite = call_over_tls(&bob, &alice, &to_alice, "ba2");
    assert_eq!(caller_server_via(&invite).1, b_source_port);
}
