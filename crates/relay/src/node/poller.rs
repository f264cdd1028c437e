//! The media threads: each owns an epoll set (read interest only, edge-triggered) of relay
//! sockets and loops: wait for readable sockets, take a batch from each with `recvmmsg`,
//! ask the engine where each datagram goes (one lock per batch), send each run with the same
//! outgoing socket with one `sendmmsg`. Once a second a thread also runs the engine's idle
//! cleanup.
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
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags};

use crate::engine::Forward;
use crate::node::batch::{with_batch, Batch};
use crate::node::{close_released, lock, Shared};

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
    shared: Weak<Mutex<Shared>>,
    stop: Arc<AtomicBool>,
    coalesce: Duration,
    janitor: bool,
) {
    let mut events = vec![EpollEvent::empty(); EVENTS];
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
            let Some(socket) = lock(&shared).socket(port).cloned() else {
                continue;
            };
            let fd = socket.as_raw_fd();
            // Drain the socket, a batch at a time. Edge-triggered: a batch that was not
            // full found the queue empty, and any datagram arriving after that raises a
            // new edge, so stopping there loses nothing and saves an empty recvmmsg.
            loop {
                match with_batch(|batch| relay_batch(batch, fd, &shared, port)) {
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
        if janitor && Instant::now() >= next_cleanup {
            next_cleanup = Instant::now() + Duration::from_secs(1);
            let mut s = lock(&shared);
            for call in s.engine.handle_timeout(Instant::now()) {
                tracing::info!(call_id = %call.call_id, "relay session idle, removed");
            }
            close_released(&mut s);
        }
        drop(shared);
        if relayed > 0 && !coalesce.is_zero() {
            std::thread::sleep(coalesce);
        }
    }
}

/// Receives one batch on `fd` and relays it; answers how many datagrams came and whether
/// the batch was full (more may be waiting).
fn relay_batch(
    batch: &mut Batch,
    fd: std::os::fd::RawFd,
    shared: &Mutex<Shared>,
    port: u16,
) -> io::Result<(usize, bool)> {
    let n = batch.recv(fd)?;
    let now = Instant::now();
    let mut sends: Vec<(usize, SocketAddr)> = Vec::with_capacity(n);
    let mut out: Option<(u16, Arc<UdpSocket>)> = None;
    let mut failed = 0usize;
    {
        let mut s = lock(shared);
        for i in 0..n {
            let Some((data, source)) = batch.datagram(i) else {
                continue;
            };
            let Forward::Send { from_port, to } = s.engine.forward(now, port, source, data) else {
                continue;
            };
            if out.as_ref().is_none_or(|(p, _)| *p != from_port) {
                // A batch from one port almost always leaves by one port; a change
                // flushes the run so far.
                if let Some((_, sock)) = out.take() {
                    let sent = batch.send(sock.as_raw_fd(), &sends);
                    failed += sends.len() - sent;
                    sends.clear();
                }
                out = s.socket(from_port).cloned().map(|sock| (from_port, sock));
            }
            if out.is_some() {
                sends.push((i, to));
            } else {
                failed += 1;
            }
        }
    }
    if let Some((_, sock)) = out {
        let sent = batch.send(sock.as_raw_fd(), &sends);
        failed += sends.len() - sent;
    }
    if failed > 0 {
        let mut s = lock(shared);
        for _ in 0..failed {
            s.engine.count_send_error(port);
        }
    }
    Ok((n, n >= crate::node::batch::BATCH))
}
