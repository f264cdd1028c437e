//! `Locator::locate` against a real DNS server on 127.0.0.1 (tests/dns_server): the RFC 3263
//! §4 chain NAPTR → SRV → A/AAAA, each shortcut of the decision table, errors and the cache.
//! The addresses in the zones are data only: nothing is sent to them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod dns_server;

use std::time::Duration;

use dns_server::{DnsServer, Zone};
use hickory_resolver::proto::rr::RecordType;
use locate::{LocateError, Locator, Target};
use sip::uri::Uri;
use transport::Protocol::{self, Tcp, Tls, Udp};

async fn locate(locator: &Locator, text: &str) -> Result<Vec<Target>, LocateError> {
    let Ok(Uri::Sip(uri)) = Uri::parse(text) else {
        panic!("not a sip URI: {text}");
    };
    locator.locate(&uri).await
}

fn t(protocol: Protocol, addr: &str, host: &str) -> Target {
    Target {
        protocol,
        addr: addr.parse().unwrap(),
        host: host.into(),
    }
}

/// Asserts that `uri` locates to exactly `want`, in that order.
async fn expect(locator: &Locator, uri: &str, want: &[Target]) {
    let targets = locate(locator, uri).await.unwrap();
    assert_eq!(targets, want, "{uri}");
}

async fn start(zone: Zone) -> (DnsServer, Locator) {
    let server = DnsServer::start(zone).await;
    let locator = Locator::with_nameservers(&[server.addr]);
    (server, locator)
}

fn q(name: &str, rtype: RecordType) -> (String, RecordType) {
    (name.to_owned(), rtype)
}

/// RFC 3263 §4.1's example, less the TLS record's use: NAPTR prefers TCP, then UDP.
fn example_zone() -> Zone {
    Zone::new()
        .naptr("example.com", 50, 50, "SIPS+D2T", "_sips._tcp.example.com")
        .naptr("example.com", 90, 50, "SIP+D2T", "_sip._tcp.example.com")
        .naptr("example.com", 100, 50, "SIP+D2U", "_sip._udp.example.com")
        .srv("_sips._tcp.example.com", 0, 0, 5061, "tls.example.com")
        .srv("_sip._tcp.example.com", 0, 0, 5070, "tcp1.example.com")
        .srv("_sip._udp.example.com", 0, 0, 5080, "udp1.example.com")
        .a("tls.example.com", "127.0.0.12")
        .a("tcp1.example.com", "127.0.0.10")
        .a("udp1.example.com", "127.0.0.11")
        .a("example.com", "127.0.0.99")
}

#[tokio::test]
async fn naptr_srv_a_chain() {
    let (server, locator) = start(example_zone()).await;
    // RFC 3263 §4.1: a client with TLS keeps SIPS+D2T for a sip: URI too, in NAPTR order.
    expect(
        &locator,
        "sip:bob@example.com",
        &[
            t(Tls, "127.0.0.12:5061", "tls.example.com"),
            t(Tcp, "127.0.0.10:5070", "tcp1.example.com"),
            t(Udp, "127.0.0.11:5080", "udp1.example.com"),
        ],
    )
    .await;
    let questions = server.questions();
    assert_eq!(questions[0], q("example.com", RecordType::NAPTR));
    // Counted for the metrics: one NAPTR, three SRV (TLS, TCP, UDP), one address lookup per
    // SRV target; nothing failed.
    let counts = locator.lookup_counts().snapshot();
    let made: Vec<(&str, u64, u64)> = counts
        .iter()
        .map(|(k, m, f)| (k.as_str(), *m, *f))
        .collect();
    assert_eq!(made, [("naptr", 1, 0), ("srv", 3, 0), ("a_aaaa", 3, 0)]);
    // The NAPTR records made the fallbacks needless.
    assert!(
        !questions.contains(&q("example.com", RecordType::A)),
        "{questions:?}"
    );
}

#[tokio::test]
async fn srv_only_udp_then_tcp() {
    let zone = Zone::new()
        // A NAPTR set that leads to no SRV record counts as none.
        .naptr("srv.test", 10, 10, "SIPS+D2T", "_sips._tcp.srv.test")
        .srv("_sip._tcp.srv.test", 10, 0, 5062, "t.srv.test")
        .srv("_sip._udp.srv.test", 20, 0, 5061, "u2.srv.test")
        .srv("_sip._udp.srv.test", 10, 0, 5060, "u1.srv.test")
        .a("t.srv.test", "127.0.1.3")
        .a("u1.srv.test", "127.0.1.1")
        .a("u2.srv.test", "127.0.1.2")
        .a("srv.test", "127.0.1.99");
    let (server, locator) = start(zone).await;
    expect(
        &locator,
        "sip:srv.test",
        &[
            t(Udp, "127.0.1.1:5060", "u1.srv.test"),
            t(Udp, "127.0.1.2:5061", "u2.srv.test"),
            t(Tcp, "127.0.1.3:5062", "t.srv.test"),
        ],
    )
    .await;
    assert!(!server.questions().contains(&q("srv.test", RecordType::A)));
}

#[tokio::test]
async fn a_only_falls_back_to_5060_over_udp() {
    let zone = Zone::new()
        .a("aonly.test", "127.0.2.1")
        .a("aonly.test", "127.0.2.2");
    let (server, locator) = start(zone).await;
    expect(
        &locator,
        "sip:carol@aonly.test",
        &[
            t(Udp, "127.0.2.1:5060", "aonly.test"),
            t(Udp, "127.0.2.2:5060", "aonly.test"),
        ],
    )
    .await;
    // Every step of the chain was tried first.
    let questions = server.questions();
    for asked in [
        q("aonly.test", RecordType::NAPTR),
        q("_sip._udp.aonly.test", RecordType::SRV),
        q("_sip._tcp.aonly.test", RecordType::SRV),
        q("aonly.test", RecordType::A),
    ] {
        assert!(questions.contains(&asked), "{asked:?} not in {questions:?}");
    }
}

#[tokio::test]
async fn explicit_port_skips_naptr_and_srv() {
    let (server, locator) = start(example_zone()).await;
    expect(
        &locator,
        "sip:bob@example.com:5999",
        &[t(Udp, "127.0.0.99:5999", "example.com")],
    )
    .await;
    expect(
        &locator,
        "sip:bob@example.com:5999;transport=tcp",
        &[t(Tcp, "127.0.0.99:5999", "example.com")],
    )
    .await;
    server.assert_never_asked(RecordType::NAPTR);
    server.assert_never_asked(RecordType::SRV);
}

#[tokio::test]
async fn transport_param_asks_srv_for_that_transport_only() {
    let (server, locator) = start(example_zone().a("aonly.example.com", "127.0.0.50")).await;
    expect(
        &locator,
        "sip:bob@example.com;transport=udp",
        &[t(Udp, "127.0.0.11:5080", "udp1.example.com")],
    )
    .await;
    expect(
        &locator,
        "sip:bob@example.com;transport=TCP",
        &[t(Tcp, "127.0.0.10:5070", "tcp1.example.com")],
    )
    .await;
    server.assert_never_asked(RecordType::NAPTR);

    // No SRV for that transport: A/AAAA at 5060 over the transport asked for.
    expect(
        &locator,
        "sip:bob@aonly.example.com;transport=tcp",
        &[t(Tcp, "127.0.0.50:5060", "aonly.example.com")],
    )
    .await;
    let questions = server.questions();
    assert!(questions.contains(&q("_sip._tcp.aonly.example.com", RecordType::SRV)));
    assert!(!questions.contains(&q("_sip._udp.aonly.example.com", RecordType::SRV)));
}

#[tokio::test]
async fn ipv6_aaaa_after_ipv4() {
    let zone = Zone::new()
        .aaaa("dual.test", "2001:db8::1")
        .a("dual.test", "127.0.3.1")
        .aaaa("dual.test", "2001:db8::2")
        .aaaa("v6only.test", "2001:db8::6")
        .srv("_sip._tcp.v6srv.test", 0, 0, 5090, "v6only.test");
    let (server, locator) = start(zone).await;
    expect(
        &locator,
        "sip:dual.test",
        &[
            t(Udp, "127.0.3.1:5060", "dual.test"),
            t(Udp, "[2001:db8::1]:5060", "dual.test"),
            t(Udp, "[2001:db8::2]:5060", "dual.test"),
        ],
    )
    .await;
    expect(
        &locator,
        "sip:v6only.test:5070",
        &[t(Udp, "[2001:db8::6]:5070", "v6only.test")],
    )
    .await;
    expect(
        &locator,
        "sip:v6srv.test;transport=tcp",
        &[t(Tcp, "[2001:db8::6]:5090", "v6only.test")],
    )
    .await;

    // A numeric IPv6 host asks nothing.
    let before = server.questions().len();
    expect(
        &locator,
        "sip:[2001:db8::9]:5062;transport=tcp",
        &[t(Tcp, "[2001:db8::9]:5062", "2001:db8::9")],
    )
    .await;
    assert_eq!(server.questions().len(), before);
}

#[tokio::test]
async fn nxdomain_is_not_found() {
    let (_server, locator) = start(example_zone()).await;
    for uri in [
        "sip:bob@nowhere.test",
        "sip:bob@nowhere.test:5060",
        "sip:bob@nowhere.test;transport=tcp",
    ] {
        let err = locate(&locator, uri).await.unwrap_err();
        assert_eq!(
            err,
            LocateError::NotFound {
                name: "nowhere.test".into()
            },
            "{uri}"
        );
    }
    // SRV records whose targets have no address: nothing to try, and no A fallback.
    let zone = Zone::new()
        .srv("_sip._udp.dangling.test", 0, 0, 5060, "gone.test")
        .a("dangling.test", "127.0.4.1");
    let (_server, locator) = start(zone).await;
    assert!(matches!(
        locate(&locator, "sip:dangling.test").await,
        Err(LocateError::NotFound { .. })
    ));
}

#[tokio::test]
async fn server_failure_is_a_dns_error_unless_something_was_found() {
    let zone = Zone::new()
        .servfail("broken.test")
        .servfail("_sip._udp.half.test")
        .srv("_sip._tcp.half.test", 0, 0, 5060, "ok.half.test")
        .a("ok.half.test", "127.0.7.1");
    let (_server, locator) = start(zone).await;
    let err = locate(&locator, "sip:broken.test").await.unwrap_err();
    assert!(
        matches!(&err, LocateError::Dns { name, reason }
            if name == "broken.test" && reason.contains("Server Failure")),
        "{err:?}"
    );
    let err = locate(&locator, "sip:broken.test:5062").await.unwrap_err();
    assert!(matches!(err, LocateError::Dns { .. }), "{err:?}");
    let failed: u64 = locator.lookup_counts().snapshot().iter().map(|c| c.2).sum();
    assert!(
        failed >= 2,
        "SERVFAIL answers count as failed lookups: {failed}"
    );
    // A failing SRV lookup for UDP does not hide the TCP servers.
    expect(
        &locator,
        "sip:half.test",
        &[t(Tcp, "127.0.7.1:5060", "ok.half.test")],
    )
    .await;
}

#[tokio::test]
async fn failover_covers_every_address_of_every_srv_target() {
    let zone = Zone::new()
        .srv("_sip._udp.pool.test", 10, 60, 5060, "a.pool.test")
        .srv("_sip._udp.pool.test", 10, 40, 5070, "b.pool.test")
        .srv("_sip._udp.pool.test", 20, 0, 5080, "c.pool.test")
        .a("a.pool.test", "127.0.5.1")
        .a("a.pool.test", "127.0.5.2")
        .aaaa("a.pool.test", "2001:db8::5")
        .a("b.pool.test", "127.0.5.3")
        .a("c.pool.test", "127.0.5.4")
        .a("c.pool.test", "127.0.5.5");
    let (_server, locator) = start(zone).await;
    let a = [
        t(Udp, "127.0.5.1:5060", "a.pool.test"),
        t(Udp, "127.0.5.2:5060", "a.pool.test"),
        t(Udp, "[2001:db8::5]:5060", "a.pool.test"),
    ];
    let b = [t(Udp, "127.0.5.3:5070", "b.pool.test")];
    let c = [
        t(Udp, "127.0.5.4:5080", "c.pool.test"),
        t(Udp, "127.0.5.5:5080", "c.pool.test"),
    ];
    let (mut a_first, mut b_first) = (0, 0);
    for _ in 0..40 {
        let targets = locate(&locator, "sip:pool.test").await.unwrap();
        // Priority 10 (a and b in either order, each target's addresses together), then 20.
        let (first, last) = targets.split_at(4);
        assert_eq!(last, c);
        if first[..3] == a {
            assert_eq!(first[3..], b);
            a_first += 1;
        } else {
            assert_eq!(first[..1], b);
            assert_eq!(first[1..], a);
            b_first += 1;
        }
    }
    // Weights 60/40: both orders occur (a miss has probability 0.6^40 at most).
    assert!(a_first > 0 && b_first > 0, "{a_first} / {b_first}");
}

#[tokio::test]
async fn a_place_reached_twice_is_listed_once() {
    // Two SRV records on one host (say, during a migration), and two NAPTR records
    // pointing at the same SRV set: each (transport, address) once, at its first place.
    let zone = Zone::new()
        .naptr("twice.test", 10, 10, "SIP+D2U", "_sip._udp.twice.test")
        .naptr("twice.test", 20, 10, "SIP+D2U", "_sip._udp.twice.test")
        .srv("_sip._udp.twice.test", 10, 0, 5060, "host.twice.test")
        .srv("_sip._udp.twice.test", 20, 0, 5060, "host.twice.test")
        .srv("_sip._udp.twice.test", 30, 0, 5060, "alias.twice.test")
        .a("host.twice.test", "127.0.8.1")
        .a("alias.twice.test", "127.0.8.1")
        .a("alias.twice.test", "127.0.8.2");
    let (_server, locator) = start(zone).await;
    expect(
        &locator,
        "sip:twice.test",
        &[
            t(Udp, "127.0.8.1:5060", "host.twice.test"),
            t(Udp, "127.0.8.2:5060", "alias.twice.test"),
        ],
    )
    .await;
}

#[tokio::test]
async fn from_system_reads_resolv_conf() {
    // Builds from /etc/resolv.conf; a numeric host then needs no DNS, so nothing is sent.
    match Locator::from_system() {
        Ok(locator) => {
            expect(
                &locator,
                "sip:127.0.0.1:5070",
                &[t(Udp, "127.0.0.1:5070", "127.0.0.1")],
            )
            .await;
        }
        Err(err) => {
            assert!(!std::path::Path::new("/etc/resolv.conf").exists(), "{err}");
            assert!(matches!(err, LocateError::Config(_)), "{err:?}");
        }
    }
}

#[tokio::test]
async fn sips_follows_only_tls() {
    let (server, locator) = start(example_zone()).await;
    expect(
        &locator,
        "sips:bob@example.com",
        &[t(Tls, "127.0.0.12:5061", "tls.example.com")],
    )
    .await;
    for skipped in ["_sip._tcp.example.com", "_sip._udp.example.com"] {
        assert!(!server.questions().contains(&q(skipped, RecordType::SRV)));
    }
    // No NAPTR: SRV _sips._tcp, then the name's addresses at 5061.
    let zone = Zone::new()
        .srv("_sips._tcp.secure.test", 0, 0, 5071, "s.secure.test")
        .a("s.secure.test", "127.0.2.1")
        .a("plain.test", "127.0.2.2");
    let (_server, locator) = start(zone).await;
    expect(
        &locator,
        "sips:secure.test",
        &[t(Tls, "127.0.2.1:5071", "s.secure.test")],
    )
    .await;
    expect(
        &locator,
        "sip:plain.test;transport=tls",
        &[t(Tls, "127.0.2.2:5061", "plain.test")],
    )
    .await;
    let err = locate(&locator, "sips:bob@plain.test;transport=udp")
        .await
        .unwrap_err();
    assert!(matches!(err, LocateError::Unsupported(_)), "{err:?}");
}

#[tokio::test]
async fn answers_are_cached_for_their_ttl() {
    let zone = Zone::new()
        .a("cached.test", "127.0.6.1")
        .a_ttl("short.test", "127.0.6.2", 1);
    let (server, locator) = start(zone).await;
    let clone = locator.clone();

    let first = locate(&locator, "sip:cached.test:5060").await.unwrap();
    let asked = server.questions().len();
    assert!(asked > 0);
    // A clone shares the cache: the same answer, no new question.
    assert_eq!(locate(&clone, "sip:cached.test:5060").await.unwrap(), first);
    assert_eq!(server.questions().len(), asked, "{:?}", server.questions());

    let short = q("short.test", RecordType::A);
    let count = |server: &DnsServer| server.questions().iter().filter(|x| **x == short).count();
    locate(&locator, "sip:short.test:5060").await.unwrap();
    locate(&locator, "sip:short.test:5060").await.unwrap();
    assert_eq!(count(&server), 1, "within the TTL");
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    locate(&locator, "sip:short.test:5060").await.unwrap();
    assert_eq!(count(&server), 2, "after the TTL");
}
