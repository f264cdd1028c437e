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
//!
//! ## Locking
//!
//! The state shared by the handle's clones and the media threads sits behind two locks,
//! so that no socket is read or written while the engine is locked:
//!
//! - the **engine lock** (a `Mutex<Engine>`): a control operation (offer, answer, delete,
//!   query, list, an NG command, shutdown) holds it for its engine call, binding the ports
//!   the engine opens on the way; a media thread holds it only to ask the engine where the
//!   datagrams of one received batch go (and, after sending, to count failed sends), and
//!   the janitor for one idle cleanup. `recvmmsg` and `sendmmsg` run without it.
//! - the **socket table** (an `RwLock`, by port): written when pairs open and close,
//!   read by the media threads to find the socket an event is for and the sockets a batch
//!   leaves by.
//!
//! Lock order: the engine lock before the socket table, never the other way round. The
//! sockets of released pairs are taken out of the table under both locks and closed after
//! both are released.

pub mod batch;
pub mod poller;

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::node::poller::Poller;

use crate::engine::{Engine, EngineConfig};
use crate::error::RelayError;
use crate::ng::server::{handle, Clock};
use crate::request::{MediaRequest, Rewritten};
use crate::stats::CallStats;
use crate::stats::RelayTotals;

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

/// The state of a relay, shared by its handles and media threads (see the module's
/// "Locking" section).
pub(crate) struct Shared {
    /// The sans-IO session engine.
    engine: Mutex<Engine>,
    /// The open media sockets.
    sockets: RwLock<SocketTable>,
    /// The Call-IDs of calls removed for idleness, until [`RelayHandle::take_idle`] takes
    /// them (at most [`MAX_IDLE_KEPT`]).
    idle: Mutex<Vec<String>>,
}

/// How many removed idle calls are kept for [`RelayHandle::take_idle`] when nobody takes
/// them (`itsp relay` has no proxy beside it).
const MAX_IDLE_KEPT: usize = 10_000;

impl Shared {
    fn new(engine: Engine) -> Shared {
        let (port_min, port_max) = (engine.config().port_min, engine.config().port_max);
        let span = usize::from(port_max.saturating_sub(port_min)) + 1;
        Shared {
            engine: Mutex::new(engine),
            sockets: RwLock::new(SocketTable {
                port_min,
                by_port: vec![None; span],
            }),
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Keeps the Call-IDs of calls removed for idleness.
    pub(crate) fn removed_idle(&self, calls: impl IntoIterator<Item = String>) {
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for call_id in calls {
            if idle.len() < MAX_IDLE_KEPT {
                idle.push(call_id);
            }
        }
    }
}

/// The open media sockets of a relay, by port.
pub(crate) struct SocketTable {
    port_min: u16,
    /// By `port - port_min`.
    by_port: Vec<Option<MediaSocket>>,
}

impl SocketTable {
    /// The socket of relay port `port`, if open.
    pub(crate) fn get(&self, port: u16) -> Option<&MediaSocket> {
        self.by_port
            .get(usize::from(port.checked_sub(self.port_min)?))?
            .as_ref()
    }

    /// The slot of relay port `port` (`None` outside the range).
    fn slot(&mut self, port: u16) -> Option<&mut Option<MediaSocket>> {
        self.by_port
            .get_mut(usize::from(port.checked_sub(self.port_min)?))
    }
}

/// A running relay. Cheap to clone; the relay stops (every socket closed) when the last
/// clone is dropped or [`RelayHandle::shutdown`] is called.
#[derive(Clone)]
pub struct RelayHandle {
    shared: Arc<Shared>,
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
        let shared = Arc::new(Shared::new(Engine::new(config.engine.clone())?));
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
        let mut engine = lock(&self.shared.engine);
        let mut open = |port| self.open_pair(port);
        let result = if is_offer {
            engine.offer(Instant::now(), request, &mut open)
        } else {
            engine.answer(Instant::now(), request, &mut open)
        };
        let closed = take_released(&mut engine, &self.shared.sockets);
        drop(engine);
        drop(closed);
        result
    }

    /// Deletes a call, closing its ports; answers its final counters.
    pub fn delete(&self, call_id: &str) -> Result<CallStats, RelayError> {
        let mut engine = lock(&self.shared.engine);
        let stats = engine.delete(call_id);
        let closed = take_released(&mut engine, &self.shared.sockets);
        drop(engine);
        drop(closed);
        stats
    }

    /// The RTCP compounds read since the last call ([`Engine::take_rtcp_sightings`]).
    pub fn take_rtcp_sightings(&self) -> Vec<crate::stats::RtcpSighting> {
        lock(&self.shared.engine).take_rtcp_sightings()
    }

    /// The counters of a call.
    pub fn query(&self, call_id: &str) -> Result<CallStats, RelayError> {
        lock(&self.shared.engine).query(call_id)
    }

    /// The Call-IDs of the calls removed since the last time because no media and no
    /// signalling came for the idle timeout (the proxy ends their calls: the phones are
    /// gone).
    pub fn take_idle(&self) -> Vec<String> {
        std::mem::take(
            &mut *self
                .shared
                .idle
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    /// The Call-IDs relayed now.
    pub fn list(&self) -> Vec<String> {
        lock(&self.shared.engine).list()
    }

    /// The totals since the relay started ([`Engine::totals`]).
    pub fn totals(&self) -> RelayTotals {
        lock(&self.shared.engine).totals()
    }

    /// Answers one NG datagram (see [`crate::ng::server`]).
    pub fn handle_ng(&self, datagram: &[u8]) -> Option<Vec<u8>> {
        let clock = Clock {
            now: Instant::now(),
            unix_now: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        };
        let mut engine = lock(&self.shared.engine);
        let mut open = |port| self.open_pair(port);
        let answer = handle(&mut engine, clock, datagram, &mut open);
        let closed = take_released(&mut engine, &self.shared.sockets);
        drop(engine);
        drop(closed);
        answer
    }

    /// Removes every call and closes every media socket.
    pub fn shutdown(&self) {
        let mut engine = lock(&self.shared.engine);
        for id in engine.list() {
            let _ = engine.delete(&id);
        }
        let closed = take_released(&mut engine, &self.shared.sockets);
        drop(engine);
        drop(closed);
        self.threads.0.store(true, Ordering::Relaxed);
    }

    /// Binds RTP `port` and RTCP `port + 1`, enters them in the socket table and hands
    /// them to a media thread (by pair, so both stay on one thread); `false` when either
    /// port is busy. Called by the engine (under the engine lock) as it allocates a pair.
    ///
    /// The sockets are in the table before epoll watches them, so a media thread woken for
    /// one always finds it (an edge-triggered event missed there would leave its datagrams
    /// waiting for the next).
    fn open_pair(&self, port: u16) -> bool {
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
        let (rtp, rtcp) = (Arc::new(rtp), Arc::new(rtcp));
        let pair = [(port, &rtp), (port.wrapping_add(1), &rtcp)];
        {
            let mut table = write(&self.shared.sockets);
            for (p, socket) in pair {
                if let Some(slot) = table.slot(p) {
                    *slot = Some(Arc::clone(socket));
                }
            }
        }
        if pair
            .iter()
            .all(|(p, socket)| poller.watch(socket, *p).is_ok())
        {
            return true;
        }
        let mut table = write(&self.shared.sockets);
        for (p, _) in pair {
            if let Some(slot) = table.slot(p) {
                *slot = None;
            }
        }
        false
    }
}

/// Locks the engine; a panic elsewhere does not make the relay unusable.
pub(crate) fn lock(engine: &Mutex<Engine>) -> MutexGuard<'_, Engine> {
    engine
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Reads the socket table (poisoning ignored, as for [`lock`]).
pub(crate) fn read(sockets: &RwLock<SocketTable>) -> RwLockReadGuard<'_, SocketTable> {
    sockets
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Writes the socket table (poisoning ignored, as for [`lock`]).
fn write(sockets: &RwLock<SocketTable>) -> RwLockWriteGuard<'_, SocketTable> {
    sockets
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Takes the sockets of the pairs the engine released out of the table. The caller holds
/// the engine lock, so the table is clear of a pair before the engine can give it out
/// again, and drops the answer after releasing it: that closes the sockets (unless a media
/// thread still holds one for the batch it is relaying) without the lock held.
pub(crate) fn take_released(
    engine: &mut Engine,
    sockets: &RwLock<SocketTable>,
) -> Vec<MediaSocket> {
    let released = engine.take_released();
    if released.is_empty() {
        return Vec::new();
    }
    let mut table = write(sockets);
    let mut closed = Vec::with_capacity(2 * released.len());
    for port in released {
        for p in [port, port.wrapping_add(1)] {
            if let Some(socket) = table.slot(p).and_then(Option::take) {
                closed.push(socket);
            }
        }
    }
    closed
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
