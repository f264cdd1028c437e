//! The TCP limits of `itsp serve` (`[tcp]`) against many real connections on loopback:
//! 5,000 idle connections (from 20 source addresses, 250 each, under the per-source
//! limit) are all closed after the idle timeout while a new connection is served during
//! it, and a slowloris sender that never finishes its header section is cut at the header
//! timeout. Timeouts are a few seconds; every wait is bounded.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::{as_strs, DataDir, Itsp};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

const IDLE: u64 = 3;
const HEADER: u64 = 2;
const SOURCES: u8 = 20;
const PER_SOURCE: usize = 250;

fn options(n: usize) -> String {
    format!(
        "OPTIONS sip:example.com SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bK-t{n}\r\n\
Max-Forwards: 70\r\nFrom: <sip:probe@example.org>;tag={n}\r\nTo: <sip:example.com>\r\n\
Call-ID: tcp-{n}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    )
}

async fn connect_from(ip: &str, server: std::net::SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{ip}:0").parse().unwrap()).unwrap();
    socket.connect(server).await.unwrap()
}

/// Whether the server closed `stream` within `within` (end of stream or a reset).
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 512];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

/// Raises this process's open-file limit (the server it starts inherits it) to hold the
/// idle connections on both ends: a shell's default of 1,024 is far too low.
fn enough_files() {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let need = 2 * u64::from(SOURCES) * PER_SOURCE as u64 + 1_000;
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).expect("the open-file limit");
    if soft >= need {
        return;
    }
    // Root may raise the hard limit too; anyone may raise the soft one up to the hard one.
    let raised = setrlimit(Resource::RLIMIT_NOFILE, need, need.max(hard))
        .or_else(|_| setrlimit(Resource::RLIMIT_NOFILE, need.min(hard), hard));
    let (soft, _) = getrlimit(Resource::RLIMIT_NOFILE).expect("the open-file limit");
    assert!(
        raised.is_ok() && soft >= need,
        "this test holds {need} open files; the limit is {soft} (raise it: ulimit -n {need})"
    );
}

fn server() -> (DataDir, Itsp) {
    enough_files();
    let data = DataDir::with_users(&[("bob", "b-secret")]);
    let config = data.path().join("tcp.toml");
    std::fs::write(
        &config,
        format!("[tcp]\nidle_timeout = {IDLE}\nheader_timeout = {HEADER}\n"),
    )
    .unwrap();
    let mut args = data.args();
    args.extend(["--config".into(), config.display().to_string()]);
    let server = Itsp::start(&as_strs(&args));
    (data, server)
}

/// Runs `f` on a runtime of its own (the harness's set-up blocks on one of its own first).
fn run<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn five_thousand_idle_connections_are_closed_and_new_ones_served_meanwhile() {
    let (_data, server) = server();
    run(idle_connections(&server));
}

#[test]
fn a_slowloris_sender_is_cut_at_the_header_timeout() {
    let (_data, server) = server();
    run(slowloris(&server));
}

async fn idle_connections(server: &Itsp) {
    let opened = Instant::now();
    let mut idle = Vec::with_capacity(usize::from(SOURCES) * PER_SOURCE);
    for source in 0..SOURCES {
        let ip = format!("127.0.1.{}", source + 1);
        for _ in 0..PER_SOURCE {
            idle.push(connect_from(&ip, server.tcp).await);
        }
    }
    assert_eq!(idle.len(), 5000);
    // Meanwhile a new connection is served.
    let mut fresh = connect_from("127.0.2.1", server.tcp).await;
    fresh.write_all(options(1).as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), fresh.read(&mut buf))
        .await
        .expect("the new connection is answered")
        .unwrap();
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(answer.starts_with("SIP/2.0 200"), "{answer}");
    // Every idle one is closed by the idle timeout (from when it was accepted).
    let limit = Duration::from_secs(IDLE + 10);
    let mut still_open = 0;
    for stream in &mut idle {
        let left = limit.saturating_sub(opened.elapsed());
        if !closed_within(stream, left.max(Duration::from_millis(10))).await {
            still_open += 1;
        }
    }
    assert_eq!(still_open, 0, "idle connections left open after {limit:?}");
    assert!(
        opened.elapsed() >= Duration::from_secs(IDLE),
        "closed before the idle timeout"
    );
}

async fn slowloris(server: &Itsp) {
    let mut slow = connect_from("127.0.3.1", server.tcp).await;
    let started = Instant::now();
    // A byte of a header section every half second, never its end.
    let text = options(2);
    let mut closed = false;
    for byte in text.as_bytes().iter().take(40) {
        if slow.write_all(&[*byte]).await.is_err() {
            closed = true;
            break;
        }
        if closed_within(&mut slow, Duration::from_millis(500)).await {
            closed = true;
            break;
        }
    }
    let took = started.elapsed();
    assert!(closed, "the slow sender was never cut");
    assert!(
        took >= Duration::from_secs(HEADER) && took < Duration::from_secs(HEADER + 5),
        "cut after {took:?}, the header timeout is {HEADER} s"
    );
}
