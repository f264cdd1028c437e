//! Blocked sources on real loopback sockets: their datagrams are dropped before they are
//! delivered, their TCP connections closed at once; others pass; unblocking or the end of
//! the block lets them through again. 127.0.0.2 is a second source (Linux routes all of
//! 127.0.0.0/8 to loopback).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;
use tokio::net::{TcpSocket, UdpSocket};
use tokio::sync::mpsc;
use transport::{Deliver, Incoming, Listen, Transports};

const PATIENCE: Duration = Duration::from_secs(5);

fn options(n: usize) -> String {
    format!(
        "OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK{n}\r\n\
         From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:x@127.0.0.1>\r\nCall-ID: {n}\r\n\
         CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    )
}

/// Transports on loopback UDP and TCP whose deliveries come out of the channel, by source.
async fn start() -> (Transports, mpsc::UnboundedReceiver<std::net::SocketAddr>) {
    let listens: Vec<Listen> = vec![
        "udp:127.0.0.1:0".parse().unwrap(),
        "tcp:127.0.0.1:0".parse().unwrap(),
    ];
    let (transports, receivers) = Transports::bind(&listens).await.unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    let deliver: Deliver = Arc::new(move |incoming: Incoming| {
        let _ = tx.send(incoming.source);
        None
    });
    receivers.start(deliver);
    (transports, rx)
}

/// Whether a datagram from `sock` is delivered (after any earlier deliveries are drained).
async fn delivered(
    sock: &UdpSocket,
    server: std::net::SocketAddr,
    rx: &mut mpsc::UnboundedReceiver<std::net::SocketAddr>,
    n: usize,
    within: Duration,
) -> bool {
    while rx.try_recv().is_ok() {}
    sock.send_to(options(n).as_bytes(), server).await.unwrap();
    let me = sock.local_addr().unwrap();
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(source)) if source == me => return true,
            Ok(Some(_)) => continue,
            _ => return false,
        }
    }
}

#[tokio::test]
async fn a_blocked_source_is_dropped_until_unblocked_or_its_time_ends() {
    let (transports, mut rx) = start().await;
    let udp = transports.local_addrs()[0].addr;
    let bad = UdpSocket::bind("127.0.0.2:0").await.unwrap();
    let good = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let bad_ip = bad.local_addr().unwrap().ip();
    assert!(delivered(&bad, udp, &mut rx, 1, PATIENCE).await);

    assert!(transports.block_source(bad_ip, Instant::now() + Duration::from_secs(60)));
    assert_eq!(transports.blocked_sources().len(), 1);
    assert!(!delivered(&bad, udp, &mut rx, 2, Duration::from_millis(300)).await);
    assert!(
        delivered(&good, udp, &mut rx, 3, PATIENCE).await,
        "others pass"
    );

    transports.unblock_source(bad_ip);
    assert!(delivered(&bad, udp, &mut rx, 4, PATIENCE).await);

    // A block that ends by itself.
    transports.block_source(bad_ip, Instant::now() + Duration::from_millis(300));
    assert!(!delivered(&bad, udp, &mut rx, 5, Duration::from_millis(100)).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        delivered(&bad, udp, &mut rx, 6, PATIENCE).await,
        "the block ended"
    );
}

#[tokio::test]
async fn a_blocked_source_s_tcp_connections_are_closed_at_once() {
    let (transports, _rx) = start().await;
    let tcp = transports.local_addrs()[1].addr;
    transports.block_source(
        "127.0.0.2".parse().unwrap(),
        Instant::now() + Duration::from_secs(60),
    );
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
    let mut stream = socket.connect(tcp).await.unwrap();
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(PATIENCE, stream.read(&mut buf))
        .await
        .expect("closed at once, not left hanging");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
}
