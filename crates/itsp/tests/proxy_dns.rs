//! The proxy finds other domains' servers through DNS (RFC 3263) and fails over to the
//! next SRV target when one answers 503 or does not answer (RFC 3263 §4.3, Timer B), against
//! a DNS server the test runs on loopback.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
#[path = "../../locate/tests/dns_server/mod.rs"]
#[allow(dead_code)] // the tests here use part of it
mod dns_server;

use common::{as_strs, DataDir, Itsp, Phone};
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
    let config = data.path().join("itsp.toml");
    std::fs::write(
        &config,
        format!("[proxy]\nnameservers = [\"{nameserver}\"]\n{extra}"),
    )
    .unwrap();
    let mut args = data.args();
    args.extend([
        "--trusted".into(),
        "127.0.0.0/8".into(),
        "--config".into(),
        config.display().to_string(),
    ]);
    Itsp::start(&as_strs(&args))
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
