//! The tokio shell around the [`Engine`]: [`RelayHandle`] owns the engine, binds the media
//! sockets the engine asks for, runs one small task per relay port and the idle cleanup,
//! and answers NG datagrams. It is what the SIP proxy uses in-process and what `itsp
//! relay` serves over NG ([`serve_ng`]).
//!
//! The monotonic and wall clocks are read here, never in the engine.

pub mod batch;
mod media;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::task::AbortHandle;

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
        }
    }
}

/// A media socket, registered with tokio's reactor (readiness only: the I/O itself is
/// `recvmmsg`/`sendmmsg` on its descriptor).
type MediaSocket = Arc<tokio::net::UdpSocket>;

pub(crate) struct Shared {
    engine: Engine,
    port_min: u16,
    /// By `port - port_min`: the open sockets.
    sockets: Vec<Option<MediaSocket>>,
    tasks: HashMap<u16, AbortHandle>,
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
    janitor: Arc<Janitor>,
}

struct Janitor(AbortHandle);

impl Drop for Janitor {
    fn drop(&mut self) {
        self.0.abort();
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
    /// Starts a relay on the current tokio runtime: checks the configuration and spawns the
    /// idle cleanup. Media sockets open as offers ask for them.
    pub fn start(config: RelayConfig) -> Result<RelayHandle, RelayError> {
        let engine = Engine::new(config.engine.clone())?;
        let span = usize::from(config.engine.port_max - config.engine.port_min) + 1;
        let shared = Arc::new(Mutex::new(Shared {
            engine,
            port_min: config.engine.port_min,
            sockets: vec![None; span],
            tasks: HashMap::new(),
        }));
        let weak = Arc::downgrade(&shared);
        let janitor = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(shared) = weak.upgrade() else { return };
                let mut s = lock(&shared);
                for call in s.engine.handle_timeout(Instant::now()) {
                    tracing::info!(call_id = %call.call_id, "relay session idle, removed");
                }
                close_released(&mut s);
            }
        });
        Ok(RelayHandle {
            shared,
            listen_ip: config.listen_ip,
            janitor: Arc::new(Janitor(janitor.abort_handle())),
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
        let mut opened = Vec::new();
        let result = {
            let Shared {
                engine,
                sockets,
                port_min,
                ..
            } = &mut *s;
            let mut open = |port| open_pair(self.listen_ip, port, *port_min, sockets, &mut opened);
            if is_offer {
                engine.offer(Instant::now(), request, &mut open)
            } else {
                engine.answer(Instant::now(), request, &mut open)
            }
        };
        self.spawn_tasks(&mut s, &opened);
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
        let mut opened = Vec::new();
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
            let mut open = |port| open_pair(self.listen_ip, port, *port_min, sockets, &mut opened);
            handle(engine, clock, datagram, &mut open)
        };
        self.spawn_tasks(&mut s, &opened);
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
        self.janitor.0.abort();
    }

    fn spawn_tasks(&self, s: &mut Shared, ports: &[u16]) {
        for &port in ports {
            let Some(socket) = s.socket(port).cloned() else {
                continue;
            };
            let task = tokio::spawn(media::run_port(Arc::downgrade(&self.shared), port, socket));
            s.tasks.insert(port, task.abort_handle());
        }
    }
}

/// Locks the shared state; a panic elsewhere does not make the relay unusable.
pub(crate) fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    shared
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Binds RTP `port` and RTCP `port + 1`; `false` when either is busy.
fn open_pair(
    ip: IpAddr,
    port: u16,
    port_min: u16,
    sockets: &mut [Option<MediaSocket>],
    opened: &mut Vec<u16>,
) -> bool {
    let bind = |p: u16| -> Option<MediaSocket> {
        let socket = UdpSocket::bind(SocketAddr::new(ip, p)).ok()?;
        socket.set_nonblocking(true).ok()?;
        tokio::net::UdpSocket::from_std(socket).ok().map(Arc::new)
    };
    let (Some(rtp), Some(rtcp)) = (bind(port), bind(port.wrapping_add(1))) else {
        return false;
    };
    for (p, socket) in [(port, rtp), (port + 1, rtcp)] {
        if let Some(slot) = sockets.get_mut(usize::from(p - port_min)) {
            *slot = Some(socket);
            opened.push(p);
        }
    }
    true
}

/// Closes the sockets of the pairs the engine released.
fn close_released(s: &mut Shared) {
    for port in s.engine.take_released() {
        for p in [port, port.wrapping_add(1)] {
            if let Some(task) = s.tasks.remove(&p) {
                task.abort();
            }
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
