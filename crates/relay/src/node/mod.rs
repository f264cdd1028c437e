//! The I/O shell around the [`Engine`]: [`RelayHandle`] owns the engine, binds the media
//! sockets the engine asks for, relays their datagrams on its media threads (epoll and
//! batched `recvmmsg`/`sendmmsg`, see [`poller`]) with the idle cleanup, and answers NG
//! datagrams. It is what the SIP proxy uses in-process and what `itsp relay` serves over NG
//! ([`serve_ng`], a tokio task).
//!
//! The media path runs on plain threads rather than tokio tasks: tokio registers every
//! socket for writability too, so each datagram sent would wake the reactor once more, and
//! a task wake-up per packet costs more than the relaying itself. The monotonic and wall
//! clocks are read here, never in the engine.

pub mod batch;
pub mod poller;

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::node::poller::Poller;

use crate::engine::{Engine, EngineConfig};
use crate::error::RelayError;
use crate::ng::server::{handle, Clock};
use crate::request::{MediaRequest, Rewritten};
use crate::stats::CallStats;

/// Configuration of a relay node or of the in-process relay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayConfig {
    /// The engine: advertised address, ports, timeouts.
    pub engine: EngineConfig,
    /// The address the media sockets bind to (default: unspecified, every interface).
    pub listen_ip: IpAddr,
    /// Media threads (default 1).
    pub threads: usize,
    /// Pause of a media thread after a round that relayed something (default 200 µs; see
    /// [`poller`]).
    pub coalesce: Duration,
}

impl RelayConfig {
    /// Defaults advertising `advertised`, binding every interface.
    pub fn new(advertised: IpAddr) -> RelayConfig {
        let listen_ip = match advertised {
            IpAddr::V4(_) => IpAddr::from([0u8; 4]),
            IpAddr::V6(_) => IpAddr::from([0u16; 8]),
        };
        RelayConfig {
            engine: EngineConfig::new(advertised),
            listen_ip,
            threads: 1,
            coalesce: Duration::from_micros(200),
        }
    }
}

/// A non-blocking media socket, watched by one media thread's epoll set.
type MediaSocket = Arc<UdpSocket>;

pub(crate) struct Shared {
    engine: Engine,
    port_min: u16,
    /// By `port - port_min`: the open sockets.
    sockets: Vec<Option<MediaSocket>>,
}

impl Shared {
    fn socket(&self, port: u16) -> Option<&MediaSocket> {
        self.sockets
            .get(usize::from(port.checked_sub(self.port_min)?))?
            .as_ref()
    }
}

/// A running relay. Cheap to clone; the relay stops (every socket closed) when the last
/// clone is dropped or [`RelayHandle::shutdown`] is called.
#[derive(Clone)]
pub struct RelayHandle {
    shared: Arc<Mutex<Shared>>,
    listen_ip: IpAddr,
    pollers: Arc<Vec<Arc<Poller>>>,
    threads: Arc<MediaThreads>,
}

/// Stops the media threads when the last handle goes.
struct MediaThreads(Arc<AtomicBool>);

impl Drop for MediaThreads {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

impl std::fmt::Debug for RelayHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelayHandle")
            .field("listen_ip", &self.listen_ip)
            .finish_non_exhaustive()
    }
}

impl RelayHandle {
    /// Starts a relay: checks the configuration and starts the media threads (which also
    /// run the idle cleanup). Media sockets open as offers ask for them. Needs no runtime.
    pub fn start(config: RelayConfig) -> Result<RelayHandle, RelayError> {
        let engine = Engine::new(config.engine.clone())?;
        let span = usize::from(config.engine.port_max - config.engine.port_min) + 1;
        let shared = Arc::new(Mutex::new(Shared {
            engine,
            port_min: config.engine.port_min,
            sockets: vec![None; span],
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let mut pollers = Vec::new();
        for i in 0..config.threads.max(1) {
            let poller = Arc::new(Poller::new()?);
            let (p, weak, stop, coalesce) = (
                poller.clone(),
                Arc::downgrade(&shared),
                stop.clone(),
                config.coalesce,
            );
            std::thread::Builder::new()
                .name(format!("relay-media-{i}"))
                .spawn(move || poller::run(p, weak, stop, coalesce, i == 0))?;
            pollers.push(poller);
        }
        Ok(RelayHandle {
            shared,
            listen_ip: config.listen_ip,
            pollers: Arc::new(pollers),
            threads: Arc::new(MediaThreads(stop)),
        })
    }

    /// An offer (see [`Engine::offer`]): opens the ports of new streams.
    pub fn offer(&self, request: &MediaRequest) -> Result<Rewritten, RelayError> {
        self.exchange(request, true)
    }

    /// An answer (see [`Engine::answer`]).
    pub fn answer(&self, request: &MediaRequest) -> Result<Rewritten, RelayError> {
        self.exchange(request, false)
    }

    fn exchange(&self, request: &MediaRequest, is_offer: bool) -> Result<Rewritten, RelayError> {
        let mut s = lock(&self.shared);
        let result = {
            let Shared {
                engine,
                sockets,
                port_min,
                ..
            } = &mut *s;
            let mut open = |port| self.open_pair(port, *port_min, sockets);
            if is_offer {
                engine.offer(Instant::now(), request, &mut open)
            } else {
                engine.answer(Instant::now(), request, &mut open)
            }
        };
        close_released(&mut s);
        result
    }

    /// Deletes a call, closing its ports; answers its final counters.
    pub fn delete(&self, call_id: &str) -> Result<CallStats, RelayError> {
        let mut s = lock(&self.shared);
        let stats = s.engine.delete(call_id);
        close_released(&mut s);
        stats
    }

    /// The counters of a call.
    pub fn query(&self, call_id: &str) -> Result<CallStats, RelayError> {
        lock(&self.shared).engine.query(call_id)
    }

    /// The Call-IDs relayed now.
    pub fn list(&self) -> Vec<String> {
        lock(&self.shared).engine.list()
    }

    /// Answers one NG datagram (see [`crate::ng::server`]).
    pub fn handle_ng(&self, datagram: &[u8]) -> Option<Vec<u8>> {
        let mut s = lock(&self.shared);
        let clock = Clock {
            now: Instant::now(),
            unix_now: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        };
        let answer = {
            let Shared {
                engine,
                sockets,
                port_min,
                ..
            } = &mut *s;
            let mut open = |port| self.open_pair(port, *port_min, sockets);
            handle(engine, clock, datagram, &mut open)
        };
        close_released(&mut s);
        answer
    }

    /// Removes every call and closes every media socket.
    pub fn shutdown(&self) {
        let mut s = lock(&self.shared);
        for id in s.engine.list() {
            let _ = s.engine.delete(&id);
        }
        close_released(&mut s);
        self.threads.0.store(true, Ordering::Relaxed);
    }

    /// Binds RTP `port` and RTCP `port + 1` and hands them to a media thread (by pair, so
    /// both stay on one thread); `false` when either port is busy.
    fn open_pair(&self, port: u16, port_min: u16, sockets: &mut [Option<MediaSocket>]) -> bool {
        let bind = |p: u16| -> Option<UdpSocket> {
            let socket = UdpSocket::bind(SocketAddr::new(self.listen_ip, p)).ok()?;
            socket.set_nonblocking(true).ok()?;
            Some(socket)
        };
        let (Some(rtp), Some(rtcp)) = (bind(port), bind(port.wrapping_add(1))) else {
            return false;
        };
        let Some(poller) = self
            .pollers
            .get(usize::from(port / 2) % self.pollers.len().max(1))
        else {
            return false;
        };
        if poller.watch(&rtp, port).is_err() || poller.watch(&rtcp, port + 1).is_err() {
            return false;
        }
        for (p, socket) in [(port, rtp), (port + 1, rtcp)] {
            if let Some(slot) = sockets.get_mut(usize::from(p - port_min)) {
                *slot = Some(Arc::new(socket));
            }
        }
        true
    }
}

/// Locks the shared state; a panic elsewhere does not make the relay unusable.
pub(crate) fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    shared
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Closes the sockets of the pairs the engine released.
pub(crate) fn close_released(s: &mut Shared) {
    for port in s.engine.take_released() {
        for p in [port, port.wrapping_add(1)] {
            if let Some(slot) = p
                .checked_sub(s.port_min)
                .and_then(|i| s.sockets.get_mut(usize::from(i)))
            {
                *slot = None;
            }
        }
    }
}

/// Serves NG on `socket` for `relay` until `shutdown` completes.
pub async fn serve_ng(
    relay: RelayHandle,
    socket: tokio::net::UdpSocket,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let mut buf = vec![0u8; 65536];
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            received = socket.recv_from(&mut buf) => {
                let Ok((n, from)) = received else { continue };
                let Some(datagram) = buf.get(..n) else { continue };
                if let Some(answer) = relay.handle_ng(datagram) {
                    if let Err(e) = socket.send_to(&answer, from).await {
                        tracing::warn!(%from, error = %e, "NG answer not sent");
                    }
                }
            }
        }
    }
}
