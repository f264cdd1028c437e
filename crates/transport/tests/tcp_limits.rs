//! The TCP limits on real loopback sockets: idle, header and body timeouts, the total and
//! per-source connection limits, and `keep_flow_until`.
//!
//! Timeouts are hundreds of milliseconds and every wait for an event is bounded by
//! seconds; lower bounds are measured from instants the server cannot precede (a deadline
//! runs from the accept, which follows the client's connect), so a slow machine makes the
//! tests slower, not flaky.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use transport::{Deliver, Incoming, Listen, TcpLimits, TcpStats, Transports};

/// The longest any expected event may take to show.
const PATIENCE: Duration = Duration::from_secs(5);

/// Long enough never to fire during a test.
const NEVER: Duration = Duration::from_secs(600);

fn options(n: usize) -> String {
    format!(
        "OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bK{n}\r\n\
         From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:x@127.0.0.1>\r\nCall-ID: {n}\r\n\
         CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    )
}

/// Limits with every timeout at [`NEVER`] and the counts at their defaults.
fn limits() -> TcpLimits {
    let mut limits = TcpLimits::default();
    limits.idle_timeout = NEVER;
    limits.header_timeout = NEVER;
    limits.body_timeout = NEVER;
    limits
}

struct Server {
    transports: Transports,
    addr: SocketAddr,
    /// Messages delivered (parsed or not).
    delivered: Arc<AtomicUsize>,
}

impl Server {
    async fn start(limits: TcpLimits) -> Server {
        let listen: Listen = "tcp:127.0.0.1:0".parse().unwrap();
        let (transports, receivers) = Transports::bind_with(&[listen], limits, None)
            .await
            .unwrap();
        let delivered = Arc::new(AtomicUsize::new(0));
        let count = delivered.clone();
        let deliver: Deliver = Arc::new(move |_: Incoming| {
            count.fetch_add(1, Ordering::SeqCst);
            None
        });
        receivers.start(deliver);
        let addr = transports.local_addrs()[0].addr;
        Server {
            transports,
            addr,
            delivered,
        }
    }

    fn stats(&self) -> TcpStats {
        self.transports.tcp_stats()
    }

    /// Waits (bounded) until `done` holds for the stats; the last stats.
    async fn wait_stats(&self, done: impl Fn(&TcpStats) -> bool) -> TcpStats {
        let start = Instant::now();
        loop {
            let stats = self.stats();
            if done(&stats) || start.elapsed() > PATIENCE {
                return stats;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Waits (bounded) until `n` messages were delivered.
    async fn wait_delivered(&self, n: usize) -> usize {
        let start = Instant::now();
        while self.delivered.load(Ordering::SeqCst) < n && start.elapsed() < PATIENCE {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.delivered.load(Ordering::SeqCst)
    }
}

/// A connection from `from` (an address on loopback) to `server`.
async fn connect_from(from: &str, server: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
    socket.connect(server).await.unwrap()
}

/// Sends a double-CRLF ping and expects the single-CRLF pong (RFC 5626 §3.5.1): the
/// connection is open and read by the server.
async fn ping(stream: &mut TcpStream) {
    stream.write_all(b"\r\n\r\n").await.unwrap();
    let mut pong = [0u8; 2];
    tokio::time::timeout(PATIENCE, stream.read_exact(&mut pong))
        .await
        .expect("no pong")
        .expect("connection closed instead of a pong");
    assert_eq!(&pong, b"\r\n");
}

/// Waits for the server to close `stream`: end of file or a reset, within [`PATIENCE`].
/// Panics when the connection stays open or data arrives.
async fn closed(stream: &mut TcpStream) {
    let mut byte = [0u8; 1];
    match tokio::time::timeout(PATIENCE, stream.read(&mut byte)).await {
        Err(_) => panic!("the server did not close the connection"),
        Ok(Ok(0)) | Ok(Err(_)) => {}
        Ok(Ok(_)) => panic!("unexpected data instead of a close"),
    }
}

/// Whether `stream` is still open after `wait`: nothing read, no close.
async fn still_open_after(stream: &mut TcpStream, wait: Duration) -> bool {
    let mut byte = [0u8; 1];
    tokio::time::timeout(wait, stream.read(&mut byte))
        .await
        .is_err()
}

#[tokio::test]
async fn idle_connections_close_and_crlf_keepalives_keep_theirs_open() {
    let mut limits = limits();
    limits.idle_timeout = Duration::from_millis(1000);
    let server = Server::start(limits).await;
    let mut idle = TcpStream::connect(server.addr).await.unwrap();
    let idle_since = Instant::now();
    let mut alive = TcpStream::connect(server.addr).await.unwrap();
    let mut messages = TcpStream::connect(server.addr).await.unwrap();

    // The idle one is closed after the timeout, no earlier.
    let watch = tokio::spawn(async move {
        closed(&mut idle).await;
        idle_since.elapsed()
    });
    // Pings every 100 ms (ten per timeout) for 2.5 timeouts: never idle that long.
    // Messages count as activity as well.
    for n in 0..25 {
        ping(&mut alive).await;
        messages.write_all(options(n).as_bytes()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let idle_for = watch.await.unwrap();
    assert!(
        idle_for >= Duration::from_millis(1000),
        "closed after {idle_for:?}"
    );
    ping(&mut alive).await;
    assert_eq!(server.wait_delivered(25).await, 25);
    let stats = server.wait_stats(|s| s.open == 2).await;
    assert_eq!(stats.closed_idle, 1, "{stats:?}");
    assert_eq!(stats.open, 2, "{stats:?}");

    // Once the pings and messages stop, those go too.
    closed(&mut alive).await;
    closed(&mut messages).await;
    let stats = server.wait_stats(|s| s.open == 0).await;
    assert_eq!(stats.closed_idle, 3, "{stats:?}");
    assert_eq!(stats.open, 0, "{stats:?}");
}

#[tokio::test]
async fn a_slowloris_header_is_cut_at_the_header_timeout() {
    let mut limits = limits();
    limits.header_timeout = Duration::from_millis(500);
    let server = Server::start(limits).await;

    // A message in two pieces well within the timeout is delivered.
    let mut quick = TcpStream::connect(server.addr).await.unwrap();
    let message = options(1);
    let (head, tail) = message.split_at(40);
    quick.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    quick.write_all(tail.as_bytes()).await.unwrap();
    assert_eq!(server.wait_delivered(1).await, 1);

    // One header byte every 50 ms: the header would take 10 s.
    let slow = TcpStream::connect(server.addr).await.unwrap();
    let (mut read, mut write) = slow.into_split();
    let started = Instant::now();
    let trickle = tokio::spawn(async move {
        write
            .write_all(b"OPTIONS sip:x@127.0.0.1 SIP/2.0\r\n")
            .await
            .ok();
        for _ in 0..200 {
            if write.write_all(b"X").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    let mut byte = [0u8; 1];
    let end = tokio::time::timeout(PATIENCE, read.read(&mut byte)).await;
    let after = started.elapsed();
    assert!(matches!(end, Ok(Ok(0)) | Ok(Err(_))), "not closed: {end:?}");
    assert!(
        after >= Duration::from_millis(500),
        "closed after {after:?}"
    );
    trickle.abort();

    let stats = server.wait_stats(|s| s.closed_header_timeout == 1).await;
    assert_eq!(stats.closed_header_timeout, 1, "{stats:?}");
    assert_eq!(
        stats.closed_body_timeout + stats.closed_idle,
        0,
        "{stats:?}"
    );
    // The quick connection is still served.
    ping(&mut quick).await;
    assert_eq!(server.delivered.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_partial_body_is_cut_at_the_body_timeout() {
    let mut limits = limits();
    limits.body_timeout = Duration::from_millis(500);
    let server = Server::start(limits).await;

    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let head =
        "MESSAGE sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bK1\r\n\
                From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:x@127.0.0.1>\r\nCall-ID: b\r\n\
                CSeq: 1 MESSAGE\r\nContent-Length: 100\r\n\r\n0123456789";
    stream.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    closed(&mut stream).await;
    let after = started.elapsed();
    assert!(
        after >= Duration::from_millis(500),
        "closed after {after:?}"
    );

    let stats = server.wait_stats(|s| s.closed_body_timeout == 1).await;
    assert_eq!(stats.closed_body_timeout, 1, "{stats:?}");
    assert_eq!(
        stats.closed_header_timeout + stats.closed_idle,
        0,
        "{stats:?}"
    );
    assert_eq!(server.delivered.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn connections_beyond_the_total_limit_are_refused_at_once() {
    let mut limits = limits();
    limits.max_connections = 3;
    let server = Server::start(limits).await;

    let mut open = Vec::new();
    for _ in 0..3 {
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        // Answered: accepted and admitted.
        ping(&mut stream).await;
        open.push(stream);
    }
    let started = Instant::now();
    let mut refused = TcpStream::connect(server.addr).await.unwrap();
    closed(&mut refused).await;
    assert!(started.elapsed() < PATIENCE);
    let stats = server.stats();
    assert_eq!(stats.refused_total_limit, 1, "{stats:?}");
    assert_eq!(stats.open, 3, "{stats:?}");

    // The open ones keep working.
    for stream in &mut open {
        ping(stream).await;
    }

    // One goes; a new one is accepted again.
    drop(open.pop());
    let stats = server.wait_stats(|s| s.open == 2).await;
    assert_eq!(stats.open, 2, "{stats:?}");
    let mut again = TcpStream::connect(server.addr).await.unwrap();
    ping(&mut again).await;
    assert_eq!(server.stats().refused_total_limit, 1);
}

#[tokio::test]
async fn connections_beyond_the_per_source_limit_are_refused_at_once() {
    let mut limits = limits();
    limits.max_per_ip = 2;
    let server = Server::start(limits).await;

    let mut first = connect_from("127.0.0.1", server.addr).await;
    let mut second = connect_from("127.0.0.1", server.addr).await;
    ping(&mut first).await;
    ping(&mut second).await;
    let mut refused = connect_from("127.0.0.1", server.addr).await;
    closed(&mut refused).await;
    let stats = server.stats();
    assert_eq!(stats.refused_per_ip_limit, 1, "{stats:?}");
    assert_eq!(stats.refused_total_limit, 0, "{stats:?}");

    // Another source is not affected (Linux routes all of 127/8 to loopback).
    let mut other = connect_from("127.0.0.2", server.addr).await;
    ping(&mut other).await;
    ping(&mut first).await;
    ping(&mut second).await;

    // One from the full source goes; that source may connect again.
    drop(first);
    let stats = server.wait_stats(|s| s.open == 2).await;
    assert_eq!(stats.open, 2, "{stats:?}");
    let mut again = connect_from("127.0.0.1", server.addr).await;
    ping(&mut again).await;
    assert_eq!(server.stats().refused_per_ip_limit, 1);
}

#[tokio::test]
async fn keep_flow_until_holds_an_idle_connection_past_the_idle_timeout() {
    let mut limits = limits();
    limits.idle_timeout = Duration::from_millis(1000);
    let server = Server::start(limits).await;

    let mut kept = TcpStream::connect(server.addr).await.unwrap();
    let mut unkept = TcpStream::connect(server.addr).await.unwrap();
    ping(&mut kept).await;
    ping(&mut unkept).await;
    let flow = kept.local_addr().unwrap();
    let keep = Duration::from_millis(3000);
    let kept_at = Instant::now();
    assert!(server.transports.keep_flow_until(flow, kept_at + keep));
    // An earlier instant does not shorten it.
    assert!(server
        .transports
        .keep_flow_until(flow, kept_at + Duration::from_millis(10)));
    // No connection from there: nothing to keep.
    let nobody: SocketAddr = "127.0.0.1:9".parse().unwrap();
    assert!(!server.transports.keep_flow_until(nobody, kept_at + keep));

    // The other one goes at the idle timeout; this one stays past it, silent.
    closed(&mut unkept).await;
    assert!(still_open_after(&mut kept, Duration::from_millis(1000)).await);
    assert!(
        kept_at.elapsed() < keep,
        "too slow to check; the machine is overloaded"
    );
    // And goes when the time given is over.
    closed(&mut kept).await;
    let after = kept_at.elapsed();
    assert!(after >= keep, "closed after {after:?}");
    let stats = server.wait_stats(|s| s.open == 0).await;
    assert_eq!(stats.closed_idle, 2, "{stats:?}");
}
