//! The media threads: each owns an epoll set (read interest only, edge-triggered) of relay
//! sockets and loops: wait for readable sockets, take a batch from each with `recvmmsg`,
//! ask the engine where each datagram goes (one engine lock per batch, released before
//! anything is sent), send each run with the same outgoing socket with one `sendmmsg`.
//! Once a second a thread also runs the engine's idle cleanup.
//!
//! ## Coalescing
//!
//! After a round that relayed something, a thread sleeps `coalesce` (default 200 µs) before
//! it looks again, the way network cards moderate interrupts: at high packet rates each wake
//! then finds many datagrams waiting, so the wake-up, `epoll_wait` and context switch are
//! paid per round instead of per packet, and `recvmmsg` batches fill. It adds at most
//! `coalesce` of delay to a packet (nothing when idle: the thread sleeps in `epoll_wait`),
//! far below the 20 ms between the packets of a voice stream; `Duration::ZERO` turns it off.
//!
//! A socket belongs to one thread (by port pair), so the packets of a stream stay in order.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags};

use crate::engine::{Forward, Transmit};
use crate::node::batch::{with_batch, Batch, BATCH};
use crate::node::{lock, read, take_released, MediaSocket, Shared};

/// Events taken per `epoll_wait`.
const EVENTS: usize = 256;
/// How often a thread checks for a stop and for idle calls when nothing arrives.
const TICK_MS: u16 = 100;

/// One media thread's epoll set; sockets are added by the control side.
pub(crate) struct Poller {
    epoll: Epoll,
}

impl Poller {
    pub(crate) fn new() -> io::Result<Poller> {
        Ok(Poller {
            epoll: Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?,
        })
    }

    /// Watches `socket` (relay port `port`) for datagrams. Closing the socket removes it.
    pub(crate) fn watch(&self, socket: &UdpSocket, port: u16) -> io::Result<()> {
        self.epoll
            .add(
                socket,
                EpollEvent::new(EpollFlags::EPOLLIN, u64::from(port)),
            )
            .map_err(io::Error::from)
    }
}

/// Runs a media thread until `stop` is set or the relay is gone. `janitor` makes this thread
/// the one that runs the idle cleanup.
pub(crate) fn run(
    poller: Arc<Poller>,
    shared: Weak<Shared>,
    stop: Arc<AtomicBool>,
    coalesce: Duration,
    janitor: bool,
) {
    let mut events = vec![EpollEvent::empty(); EVENTS];
    let mut plan = Plan::new();
    let mut next_cleanup = Instant::now() + Duration::from_secs(1);
    while !stop.load(Ordering::Relaxed) {
        let n = match poller.epoll.wait(&mut events, TICK_MS) {
            Ok(n) => n,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => {
                tracing::error!(error = %e, "media thread: epoll_wait failed");
                return;
            }
        };
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let mut relayed = 0usize;
        for event in events.iter().take(n) {
            let Ok(port) = u16::try_from(event.data()) else {
                continue;
            };
            let Some(socket) = read(&shared.sockets).get(port).cloned() else {
                continue;
            };
            let fd = socket.as_raw_fd();
            // Drain the socket, a batch at a time. Edge-triggered: a batch that was not
            // full found the queue empty, and any datagram arriving after that raises a
            // new edge, so stopping there loses nothing and saves an empty recvmmsg.
            loop {
                let relayed_batch = with_batch(|batch| {
                    relay_batch(batch, &mut plan, fd, &shared, port, &mut Batch::send)
                });
                match relayed_batch {
                    Some(Ok((received, full))) => {
                        relayed += received;
                        if !full {
                            break;
                        }
                    }
                    Some(Err(e)) => {
                        if e.kind() != io::ErrorKind::WouldBlock {
                            tracing::debug!(port, error = %e, "media socket error");
                        }
                        break;
                    }
                    None => break,
                }
            }
        }
        if janitor {
            run_webrtc_timers(&shared);
        }
        if janitor && Instant::now() >= next_cleanup {
            next_cleanup = Instant::now() + Duration::from_secs(1);
            let mut engine = lock(&shared.engine);
            let idle = engine.handle_timeout(Instant::now());
            let closed = take_released(&mut engine, &shared.sockets);
            drop(engine);
            drop(closed);
            for call in &idle {
                tracing::info!(call_id = %call.call_id, "relay session idle, removed");
            }
            shared.removed_idle(idle.into_iter().map(|c| c.call_id));
        }
        drop(shared);
        if relayed > 0 && !coalesce.is_zero() {
            std::thread::sleep(coalesce);
        }
    }
}

/// Sends the datagrams the engine made (WebRTC legs: STUN, DTLS, SRTP, and the browsers'
/// RTP in the clear), each from its socket; one `sendto` each, as they are few next to the
/// relayed ones.
pub(crate) fn send_made(made: &[Transmit], sockets: &[Option<MediaSocket>]) {
    for (t, socket) in made.iter().zip(sockets) {
        if let Some(socket) = socket {
            if let Err(e) = socket.send_to(&t.bytes, t.to) {
                tracing::debug!(port = t.from_port, to = %t.to, error = %e, "media send failed");
            }
        }
    }
}

/// Runs the due WebRTC timers and sends what they made (the janitor thread, every tick).
pub(crate) fn run_webrtc_timers(shared: &Shared) {
    let now = Instant::now();
    let (made, sockets) = {
        let mut engine = lock(&shared.engine);
        if engine.poll_webrtc_timeout().is_none_or(|t| t > now) {
            return;
        }
        engine.handle_webrtc_timeout(now);
        let made = engine.take_transmits();
        let table = read(&shared.sockets);
        let sockets: Vec<Option<MediaSocket>> = made
            .iter()
            .map(|t| table.get(t.from_port).cloned())
            .collect();
        (made, sockets)
    };
    send_made(&made, &sockets);
}

/// Where the datagrams of one batch go: reused from batch to batch by a media thread, so
/// relaying allocates nothing.
pub(crate) struct Plan {
    /// (index into the batch, destination) of each datagram to send, in arrival order.
    sends: Vec<(usize, SocketAddr)>,
    /// Consecutive stretches of `sends` leaving by one relay port.
    runs: Vec<Run>,
}

/// A stretch of [`Plan::sends`] leaving by one relay port.
struct Run {
    /// The relay port the datagrams leave by.
    port: u16,
    /// Where the stretch ends in `sends` (it starts where the previous one ends).
    end: usize,
    /// The socket of `port`, looked up before the engine lock is released (`None`: closed).
    socket: Option<MediaSocket>,
}

impl Plan {
    pub(crate) fn new() -> Plan {
        Plan {
            sends: Vec::with_capacity(BATCH),
            runs: Vec::with_capacity(BATCH),
        }
    }

    /// Adds datagram `i`, to go from relay port `from_port` to `to`. A batch from one port
    /// almost always leaves by one port: one run.
    fn push(&mut self, from_port: u16, i: usize, to: SocketAddr) {
        self.sends.push((i, to));
        let end = self.sends.len();
        match self.runs.last_mut() {
            Some(run) if run.port == from_port => run.end = end,
            _ => self.runs.push(Run {
                port: from_port,
                end,
                socket: None,
            }),
        }
    }
}

/// Receives one batch on `fd` (relay port `port`) and relays it; answers how many datagrams
/// came and whether the batch was full (more may be waiting).
///
/// The engine lock is held once, to decide where each datagram goes and to look up the
/// sockets they leave by; `recvmmsg` before it and the sends (`send`: [`Batch::send`], a
/// `sendmmsg` per run) after it run unlocked. A second, short lock counts failed sends.
pub(crate) fn relay_batch<S>(
    batch: &mut Batch,
    plan: &mut Plan,
    fd: RawFd,
    shared: &Shared,
    port: u16,
    send: &mut S,
) -> io::Result<(usize, bool)>
where
    S: FnMut(&mut Batch, RawFd, &[(usize, SocketAddr)]) -> usize,
{
    let n = batch.recv(fd)?;
    let now = Instant::now();
    let made: Vec<Transmit>;
    let mut made_sockets: Vec<Option<MediaSocket>> = Vec::new();
    plan.sends.clear();
    plan.runs.clear();
    {
        let mut engine = lock(&shared.engine);
        for i in 0..n {
            let Some((data, source)) = batch.datagram(i) else {
                continue;
            };
            match engine.forward(now, port, source, data) {
                Forward::Send { from_port, to } => plan.push(from_port, i, to),
                Forward::SendRewritten { from_port, to } => {
                    if batch.replace(i, engine.rewritten()) {
                        plan.push(from_port, i, to);
                    }
                }
                Forward::Queued | Forward::Drop(_) => {}
            }
        }
        made = engine.take_transmits();
        if !plan.runs.is_empty() || !made.is_empty() {
            let table = read(&shared.sockets);
            for run in &mut plan.runs {
                run.socket = table.get(run.port).cloned();
            }
            made_sockets.clear();
            made_sockets.extend(made.iter().map(|t| table.get(t.from_port).cloned()));
        }
    }
    send_made(&made, &made_sockets);
    let mut failed = 0usize;
    let mut start = 0;
    for run in plan.runs.drain(..) {
        let items = plan.sends.get(start..run.end).unwrap_or(&[]);
        start = run.end;
        let sent = match &run.socket {
            Some(socket) => send(batch, socket.as_raw_fd(), items),
            None => 0,
        };
        failed += items.len().saturating_sub(sent);
    }
    if failed > 0 {
        let mut engine = lock(&shared.engine);
        for _ in 0..failed {
            engine.count_send_error(port);
        }
    }
    Ok((n, n >= BATCH))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::sync::mpsc;

    use crate::engine::Engine;
    use crate::node::{MediaThreads, RelayConfig, RelayHandle};
    use crate::request::MediaRequest;

    /// A relay on loopback whose one poller no thread waits on: the test relays the
    /// batches itself.
    fn relay_without_media_thread() -> RelayHandle {
        let mut config = RelayConfig::new([127, 0, 0, 1].into());
        config.listen_ip = [127, 0, 0, 1].into();
        // A range of its own per test binary run; busy pairs are skipped anyway.
        let base = 44000 + 2 * (std::process::id() % 2000) as u16;
        config.engine.port_min = base;
        config.engine.port_max = base + 99;
        RelayHandle {
            shared: Arc::new(Shared::new(Engine::new(config.engine).unwrap())),
            listen_ip: config.listen_ip,
            pollers: Arc::new(vec![Arc::new(Poller::new().unwrap())]),
            threads: Arc::new(MediaThreads(Arc::new(AtomicBool::new(false)))),
        }
    }

    fn request(call: &str, to_tag: Option<&str>, port: u16) -> MediaRequest {
        MediaRequest {
            call_id: call.into(),
            from_tag: "a".into(),
            to_tag: to_tag.map(str::to_owned),
            sdp: format!(
                "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
                 m=audio {port} RTP/AVP 0\r\n"
            )
            .into_bytes(),
            ..MediaRequest::default()
        }
    }

    fn media_port(sdp: &[u8]) -> u16 {
        let text = std::str::from_utf8(sdp).unwrap();
        let line = text.lines().find(|l| l.starts_with("m=audio ")).unwrap();
        line.split(' ').nth(1).unwrap().parse().unwrap()
    }

    fn rtp(seq: u8) -> [u8; 20] {
        let mut p = [0u8; 20];
        p[0] = 0x80;
        p[3] = seq;
        p
    }

    #[test]
    fn a_control_operation_completes_while_a_batch_is_being_sent() {
        let relay = relay_without_media_thread();
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        b.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let a_port = a.local_addr().unwrap().port();
        let b_port = b.local_addr().unwrap().port();
        relay.offer(&request("c1", None, a_port)).unwrap();
        let answer = relay.answer(&request("c1", Some("b"), b_port)).unwrap();
        let relay_port = media_port(&answer.sdp);
        for seq in 1..=5 {
            a.send_to(&rtp(seq), ("127.0.0.1", relay_port)).unwrap();
        }
        std::thread::sleep(Duration::from_millis(20));
        let socket = read(&relay.shared.sockets)
            .get(relay_port)
            .cloned()
            .unwrap();

        // Each send first waits for an offer made on another thread: it needs the engine
        // lock and the socket table, so it completes only if neither is held here.
        let mut offers_completed = Vec::new();
        let mut send = |batch: &mut Batch, fd: RawFd, items: &[(usize, SocketAddr)]| {
            let (done, finished) = mpsc::channel();
            let control = relay.clone();
            std::thread::spawn(move || {
                let _ = done.send(control.offer(&request("c2", None, 4000)).is_ok());
            });
            offers_completed.push(finished.recv_timeout(Duration::from_secs(2)) == Ok(true));
            batch.send(fd, items)
        };
        let mut plan = Plan::new();
        let (received, full) = with_batch(|batch| {
            relay_batch(
                batch,
                &mut plan,
                socket.as_raw_fd(),
                &relay.shared,
                relay_port,
                &mut send,
            )
        })
        .unwrap()
        .unwrap();

        assert_eq!((received, full), (5, false));
        assert_eq!(offers_completed, [true], "one run; the offer did not wait");
        let mut buf = [0u8; 64];
        for seq in 1..=5 {
            let (n, _) = b.recv_from(&mut buf).unwrap();
            assert_eq!(buf[..n], rtp(seq));
        }
        let mut calls = relay.list();
        calls.sort();
        assert_eq!(calls, ["c1", "c2"]);
    }
}
