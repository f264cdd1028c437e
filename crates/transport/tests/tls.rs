//! SIP over TLS on real loopback sockets: a server with a self-signed certificate answers
//! a TLS client; one transport opens TLS to another and verifies its certificate for the
//! name it was located by; a garbage handshake ends only its own connection; connection
//! reuse (RFC 5923): a server that presented a trusted certificate and sent `alias` gets
//! requests back on its connection, by address or by located name; a client without a
//! certificate, with one that does not name its sent-by, or over plain TCP, does not.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use transport::tls::{Identity, Tls, Trust};
use transport::{Deliver, Incoming, Listen, Protocol, TcpLimits, Transports};

const PATIENCE: Duration = Duration::from_secs(5);

fn options(n: usize) -> String {
    format!(
        "OPTIONS sip:x@example.com SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:9;branch=z9hG4bK{n}\r\n\
         From: <sip:a@example.com>;tag=1\r\nTo: <sip:x@example.com>\r\nCall-ID: {n}\r\n\
         CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    )
}

type Seen = Arc<Mutex<Vec<(String, Listen, SocketAddr)>>>;

/// A TLS transport on loopback for `example.com` whose certificate is kept in `dir`;
/// what it receives (Call-ID, local listen, source) is recorded.
async fn tls_server(dir: &std::path::Path, trust: &Trust) -> (Transports, SocketAddr, Seen) {
    let names = ["example.com", "127.0.0.1"];
    let (transports, seen) = tls_peer(dir, &names, trust, &["tls:127.0.0.1:0"]).await;
    let addr = transports.local_addrs()[0].addr;
    (transports, addr, seen)
}

/// A transport listening on `listens` with TLS for a self-signed certificate naming
/// `names` kept in `dir` (made there unless one naming them all is there already), its
/// peers checked with `trust`; what it receives is recorded.
async fn tls_peer(
    dir: &std::path::Path,
    names: &[&str],
    trust: &Trust,
    listens: &[&str],
) -> (Transports, Seen) {
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let (identity, _) = Identity::self_signed(dir, &names, SystemTime::now()).unwrap();
    let tls = Arc::new(Tls::new(identity, trust).unwrap());
    let listens: Vec<Listen> = listens.iter().map(|l| l.parse().unwrap()).collect();
    let (transports, receivers) = Transports::bind_with(&listens, TcpLimits::default(), Some(tls))
        .await
        .unwrap();
    let seen: Seen = Arc::default();
    let record = seen.clone();
    let deliver: Deliver = Arc::new(move |incoming: Incoming| {
        if let Ok(m) = incoming.message {
            let id = m.call_id().unwrap().to_owned();
            record
                .lock()
                .unwrap()
                .push((id, incoming.local, incoming.source));
        }
        None
    });
    receivers.start(deliver);
    (transports, seen)
}

async fn wait_seen(seen: &Seen, n: usize) -> Vec<(String, Listen, SocketAddr)> {
    let start = std::time::Instant::now();
    while seen.lock().unwrap().len() < n && start.elapsed() < PATIENCE {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    seen.lock().unwrap().clone()
}

/// A rustls client connection to `addr` trusting the certificate in `ca`.
async fn client(
    addr: SocketAddr,
    ca: &std::path::Path,
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let config = transport::tls::client_config(&Trust::Verify {
        extra_ca: vec![ca.to_owned()],
    })
    .unwrap();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("example.com").unwrap();
    connector.connect(name, tcp).await.unwrap()
}

#[tokio::test]
async fn a_client_that_trusts_the_certificate_is_served_and_answered_on_its_connection() {
    let dir = tempfile::tempdir().unwrap();
    let (transports, addr, seen) = tls_server(dir.path(), &Trust::default()).await;
    let mut stream = client(addr, &dir.path().join("cert.pem")).await;
    stream.write_all(options(1).as_bytes()).await.unwrap();
    stream.write_all(b"\r\n\r\n").await.unwrap();
    let got = wait_seen(&seen, 1).await;
    assert_eq!(got.len(), 1, "{got:?}");
    let (id, local, source) = &got[0];
    assert_eq!(id, "1");
    assert_eq!(local.protocol, Protocol::Tls);
    // The keepalive ping is answered with a pong, inside TLS.
    let mut pong = [0u8; 2];
    tokio::time::timeout(PATIENCE, stream.read_exact(&mut pong))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&pong, b"\r\n");
    // A reply goes back on the client's connection.
    transports
        .send(Protocol::Tls, None, *source, Bytes::from_static(b"hello"))
        .await
        .unwrap();
    let mut reply = [0u8; 5];
    tokio::time::timeout(PATIENCE, stream.read_exact(&mut reply))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&reply, b"hello");
}

#[tokio::test]
async fn one_transport_connects_to_another_and_verifies_it_by_name() {
    let server_dir = tempfile::tempdir().unwrap();
    let (_server, server_addr, seen) = tls_server(server_dir.path(), &Trust::default()).await;
    let trusting = Trust::Verify {
        extra_ca: vec![server_dir.path().join("cert.pem")],
    };
    let client_dir = tempfile::tempdir().unwrap();
    let (sender, _, _) = tls_server(client_dir.path(), &trusting).await;
    sender.name_peer(server_addr, "example.com.");
    sender
        .send(
            Protocol::Tls,
            None,
            server_addr,
            Bytes::from(options(2).into_bytes()),
        )
        .await
        .unwrap();
    let got = wait_seen(&seen, 1).await;
    assert_eq!(got.first().map(|g| g.0.as_str()), Some("2"), "{got:?}");

    // A sender that trusts only the system's CAs refuses the self-signed certificate.
    let strict_dir = tempfile::tempdir().unwrap();
    let (strict, _, _) = tls_server(strict_dir.path(), &Trust::default()).await;
    strict.name_peer(server_addr, "example.com");
    let refused = strict
        .send(
            Protocol::Tls,
            None,
            server_addr,
            Bytes::from(options(3).into_bytes()),
        )
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("certificate"),
        "not a certificate error: {refused}"
    );
    assert_eq!(wait_seen(&seen, 2).await.len(), 1);

    // The same strict trust with the peer's name among the unverified ones: accepted.
    let lax_dir = tempfile::tempdir().unwrap();
    let names = vec!["example.org".to_owned()];
    let (identity, _) = Identity::self_signed(lax_dir.path(), &names, SystemTime::now()).unwrap();
    let tls = Tls::new(identity, &Trust::default())
        .unwrap()
        .with_unverified(["Example.COM."]);
    let listen: Listen = "tls:127.0.0.1:0".parse().unwrap();
    let (lax, receivers) =
        Transports::bind_with(&[listen], TcpLimits::default(), Some(Arc::new(tls)))
            .await
            .unwrap();
    receivers.start(Arc::new(|_: Incoming| None));
    lax.name_peer(server_addr, "example.com");
    lax.send(
        Protocol::Tls,
        None,
        server_addr,
        Bytes::from(options(4).into_bytes()),
    )
    .await
    .unwrap();
    assert_eq!(wait_seen(&seen, 2).await.len(), 2);
}

#[tokio::test]
async fn a_garbage_handshake_ends_only_its_own_connection() {
    let dir = tempfile::tempdir().unwrap();
    let (_transports, addr, seen) = tls_server(dir.path(), &Trust::default()).await;
    let mut garbage = tokio::net::TcpStream::connect(addr).await.unwrap();
    garbage.write_all(options(9).as_bytes()).await.unwrap();
    let mut rest = Vec::new();
    // The server ends the connection (after a TLS alert, or at once).
    tokio::time::timeout(PATIENCE, garbage.read_to_end(&mut rest))
        .await
        .expect("the garbage connection stayed open")
        .ok();
    let mut stream = client(addr, &dir.path().join("cert.pem")).await;
    stream.write_all(options(4).as_bytes()).await.unwrap();
    let got = wait_seen(&seen, 1).await;
    assert_eq!(got.iter().map(|g| g.0.as_str()).collect::<Vec<_>>(), ["4"]);
}

/// An OPTIONS with Call-ID `id` whose top Via is `via` (over TLS unless it says otherwise).
fn request_via(id: &str, via: &str) -> Bytes {
    Bytes::from(format!(
        "OPTIONS sip:x@b.test SIP/2.0\r\nVia: {via};branch=z9hG4bK{id}\r\n\
         From: <sip:a@a.test>;tag=1\r\nTo: <sip:x@b.test>\r\nCall-ID: {id}\r\n\
         CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    ))
}

fn trusting(dir: &std::path::Path) -> Trust {
    Trust::Verify {
        extra_ca: vec![dir.join("cert.pem")],
    }
}

/// Two servers whose self-signed certificates each trusts: A (`a.test` and 127.0.0.1)
/// and B (`b.test`), each listening on TLS; with their directories.
async fn two_servers() -> (
    (Transports, SocketAddr, Seen),
    (Transports, SocketAddr, Seen),
    [tempfile::TempDir; 2],
) {
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let now = SystemTime::now();
    Identity::self_signed(a_dir.path(), &["a.test".into(), "127.0.0.1".into()], now).unwrap();
    Identity::self_signed(b_dir.path(), &["b.test".into()], now).unwrap();
    let tls = ["tls:127.0.0.1:0"];
    let (a, a_seen) = tls_peer(a_dir.path(), &["a.test"], &trusting(b_dir.path()), &tls).await;
    let (b, b_seen) = tls_peer(b_dir.path(), &["b.test"], &trusting(a_dir.path()), &tls).await;
    let (a_addr, b_addr) = (a.local_addrs()[0].addr, b.local_addrs()[0].addr);
    ((a, a_addr, a_seen), (b, b_addr, b_seen), [a_dir, b_dir])
}

#[tokio::test]
async fn a_verified_server_sending_alias_gets_requests_on_its_own_connection() {
    let ((a, a_addr, a_seen), (b, b_addr, b_seen), _dirs) = two_servers().await;
    // A opens the connection (verifying B as b.test) and asks for reuse toward its
    // listening address, which its certificate names.
    a.name_peer(b_addr, "b.test");
    let via = format!("SIP/2.0/TLS {a_addr};rport;alias");
    a.send(Protocol::Tls, None, b_addr, request_via("1", &via))
        .await
        .unwrap();
    let got = wait_seen(&b_seen, 1).await;
    assert_eq!(got.len(), 1, "{got:?}");
    let a_ephemeral = got[0].2;
    assert_ne!(a_ephemeral, a_addr);
    // B's request to A's listening address goes on that connection: A sees it come from
    // B's listening address (its own connection's peer), and nobody connected to A.
    b.send(
        Protocol::Tls,
        None,
        a_addr,
        request_via("2", "SIP/2.0/TLS b.test"),
    )
    .await
    .unwrap();
    let got = wait_seen(&a_seen, 1).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].2, b_addr, "not on A's connection: {got:?}");
    assert_eq!(a.tcp_stats().open, 1);
    assert_eq!(b.tcp_stats().open, 1);
}

#[tokio::test]
async fn an_alias_by_name_is_found_through_the_located_name() {
    let ((a, a_addr, a_seen), (b, b_addr, b_seen), _dirs) = two_servers().await;
    a.name_peer(b_addr, "b.test");
    // The sent-by is A's domain (any case, trailing dot) at A's port.
    let via = format!("SIP/2.0/TLS A.Test.:{};alias", a_addr.port());
    a.send(Protocol::Tls, None, b_addr, request_via("1", &via))
        .await
        .unwrap();
    assert_eq!(wait_seen(&b_seen, 1).await.len(), 1);
    // B located a.test at A's address: the alias by name applies.
    b.name_peer(a_addr, "a.test");
    b.send(
        Protocol::Tls,
        None,
        a_addr,
        request_via("2", "SIP/2.0/TLS b.test"),
    )
    .await
    .unwrap();
    let got = wait_seen(&a_seen, 1).await;
    assert_eq!(got.first().map(|g| g.2), Some(b_addr), "{got:?}");
}

#[tokio::test]
async fn an_alias_without_a_matching_verified_certificate_is_ignored() {
    let ((a, a_addr, a_seen), (b, b_addr, b_seen), dirs) = two_servers().await;
    // 1. A client with no certificate claims A's address.
    let mut anonymous = client_for(b_addr, "b.test", &dirs[1].path().join("cert.pem")).await;
    let via = format!("SIP/2.0/TLS {a_addr};alias");
    anonymous.write_all(&request_via("1", &via)).await.unwrap();
    assert_eq!(wait_seen(&b_seen, 1).await.len(), 1);
    // 2. A with its trusted certificate, for a sent-by its certificate does not name.
    a.name_peer(b_addr, "b.test");
    let via = format!("SIP/2.0/TLS other.test:{};alias", a_addr.port());
    a.send(Protocol::Tls, None, b_addr, request_via("2", &via))
        .await
        .unwrap();
    assert_eq!(wait_seen(&b_seen, 2).await.len(), 2);
    // B's request to A's address opens a connection of its own (so A sees an ephemeral
    // source port).
    b.send(
        Protocol::Tls,
        None,
        a_addr,
        request_via("3", "SIP/2.0/TLS b.test"),
    )
    .await
    .unwrap();
    let got = wait_seen(&a_seen, 1).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_ne!(got[0].2, b_addr, "reused a connection: {got:?}");
    // The anonymous client got nothing.
    let mut buf = [0u8; 1];
    let read = tokio::time::timeout(Duration::from_millis(200), anonymous.read(&mut buf)).await;
    assert!(read.is_err(), "the anonymous client was sent something");
}

#[tokio::test]
async fn an_untrusted_client_certificate_is_served_but_never_aliased() {
    let ((_a, a_addr, a_seen), (b, b_addr, b_seen), _dirs) = two_servers().await;
    // C's certificate names 127.0.0.1 but B does not trust it: the handshake succeeds
    // (phones with device certificates keep working), the alias does not.
    let c_dir = tempfile::tempdir().unwrap();
    let (c, _) = tls_peer(
        c_dir.path(),
        &["c.test", "127.0.0.1"],
        &Trust::Any,
        &["tls:127.0.0.1:0"],
    )
    .await;
    let via = format!("SIP/2.0/TLS {a_addr};alias");
    c.send(Protocol::Tls, None, b_addr, request_via("1", &via))
        .await
        .unwrap();
    assert_eq!(wait_seen(&b_seen, 1).await.len(), 1);
    b.send(
        Protocol::Tls,
        None,
        a_addr,
        request_via("2", "SIP/2.0/TLS b.test"),
    )
    .await
    .unwrap();
    let got = wait_seen(&a_seen, 1).await;
    assert_eq!(got.len(), 1, "not delivered to A: {got:?}");
}

#[tokio::test]
async fn plain_tcp_is_never_aliased() {
    let dir = tempfile::tempdir().unwrap();
    let (b, b_seen) = tls_peer(dir.path(), &["b.test"], &Trust::Any, &["tcp:127.0.0.1:0"]).await;
    let b_addr = b.local_addrs()[0].addr;
    let target = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target_addr = target.local_addr().unwrap();
    let mut client = tokio::net::TcpStream::connect(b_addr).await.unwrap();
    let via = format!("SIP/2.0/TCP {target_addr};alias");
    client.write_all(&request_via("1", &via)).await.unwrap();
    assert_eq!(wait_seen(&b_seen, 1).await.len(), 1);
    let send = b.send(
        Protocol::Tcp,
        None,
        target_addr,
        request_via("2", "SIP/2.0/TCP b.test"),
    );
    let (sent, accepted) = tokio::join!(send, tokio::time::timeout(PATIENCE, target.accept()));
    sent.unwrap();
    accepted
        .expect("B connected to the sent-by itself")
        .unwrap();
}

/// A rustls client without a certificate connected to `addr`, verifying it as `name`
/// against the certificate in `ca`.
async fn client_for(
    addr: SocketAddr,
    name: &str,
    ca: &std::path::Path,
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let config = transport::tls::client_config(&Trust::Verify {
        extra_ca: vec![ca.to_owned()],
    })
    .unwrap();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from(name.to_owned()).unwrap();
    connector.connect(name, tcp).await.unwrap()
}
