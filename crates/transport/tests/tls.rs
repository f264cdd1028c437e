//! SIP over TLS on real loopback sockets: a server with a self-signed certificate answers
//! a TLS client; one transport opens TLS to another and verifies its certificate for the
//! name it was located by; a garbage handshake ends only its own connection.
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
    let names = vec!["example.com".to_owned(), "127.0.0.1".to_owned()];
    let (identity, _) = Identity::self_signed(dir, &names, SystemTime::now()).unwrap();
    let tls = Arc::new(Tls::new(identity, trust).unwrap());
    let listen: Listen = "tls:127.0.0.1:0".parse().unwrap();
    let (transports, receivers) = Transports::bind_with(&[listen], TcpLimits::default(), Some(tls))
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
    let addr = transports.local_addrs()[0].addr;
    (transports, addr, seen)
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
