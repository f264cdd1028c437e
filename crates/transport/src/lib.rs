//! # transport — SIP over UDP, TCP and TLS on tokio
//!
//! The thin I/O shell around the sans-IO `sip` crate (RFC 3261 §18): binds the listening
//! sockets, turns datagrams and framed stream bytes into [`sip::Message`]s, and sends bytes
//! back out, reusing the TCP or TLS connection a peer opened (§18.2.2), and for requests
//! the TLS connection a verified peer aliased to its address (RFC 5923).
//!
//! ## Layout
//!
//! - `lib.rs`: [`Transports`] (bind, send), [`Receivers`] (start the receive tasks with
//!   the function every message is delivered to), [`Listen`] addresses, errors,
//!   [`local_ip_towards`] (the source address the routing table picks for a destination).
//! - `udp.rs`: one receive task per UDP socket.
//! - `tcp.rs`: the accept loop, one task per connection with stream framing, CRLF
//!   keepalive answers and the idle/header/body deadlines, and the connection table used
//!   to send on a peer's connection (with the counts the connection limits check, and the
//!   RFC 5923 aliases of TLS connections); TLS connections are TCP ones with a handshake
//!   first.
//! - `ws.rs`: SIP over WebSocket (RFC 7118): the HTTP upgrade with the `sip` subprotocol,
//!   one SIP message per WebSocket message, connections in the same table as TCP's.
//! - [`tls`]: the certificate (PEM files or a self-signed one made on the first run),
//!   served and presented as client certificate, the trust for outgoing connections and
//!   presented client certificates, the rustls configurations (RFC 3261 §26, RFC 5922,
//!   RFC 5923 §9).
//! - `limits.rs`: [`TcpLimits`] (connection limits and timeouts, with their defaults),
//!   [`TcpStats`], the rate-limited log of refused and closed connections.

mod blocklist;
mod limits;
mod tcp;
pub mod tls;
mod udp;
mod ws;

pub use ws::{offers_sip_subprotocol, websocket_accept};

/// A connection's byte stream, whatever carries it (TCP, TLS, an HTTP connection after
/// its upgrade): what [`Transports::serve_websocket`] takes.
pub trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}

impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Io for T {}

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;

use bytes::Bytes;
use tokio::net::UdpSocket;

pub use blocklist::MAX_BLOCKED;
pub use limits::{source_key, TcpLimits, TcpStats};

/// A transport protocol (the `transport` of a Via, RFC 3261 §18).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// Datagrams.
    Udp,
    /// A byte stream, framed by Content-Length.
    Tcp,
    /// A TCP byte stream under TLS (RFC 3261 §26.2.1), framed like TCP.
    Tls,
    /// WebSocket (RFC 7118): one SIP message per WebSocket message.
    Ws,
    /// WebSocket over TLS (RFC 7118).
    Wss,
}

impl Protocol {
    /// As written in a Via header.
    pub fn as_via(self) -> &'static str {
        match self {
            Protocol::Udp => "UDP",
            Protocol::Tcp => "TCP",
            Protocol::Tls => "TLS",
            Protocol::Ws => "WS",
            Protocol::Wss => "WSS",
        }
    }

    /// Whether it runs over a connection (TCP, TLS, WebSocket): reliable, no
    /// retransmissions (RFC 3261 §17.1.1.2), and the way back to a peer is its connection.
    pub fn is_reliable(self) -> bool {
        self != Protocol::Udp
    }

    /// Whether it is a byte stream framed by Content-Length and kept alive by CRLF
    /// (RFC 5626 §3.5.1): TCP and TLS, not WebSocket, whose messages come whole.
    pub fn is_stream(self) -> bool {
        matches!(self, Protocol::Tcp | Protocol::Tls)
    }

    /// The port a URI without one means (RFC 3261 §19.1.2): 5061 for TLS, else 5060
    /// (RFC 7118 names none for WebSocket; its URIs carry the port).
    pub fn default_port(self) -> u16 {
        match self {
            Protocol::Tls | Protocol::Wss => 5061,
            Protocol::Udp | Protocol::Tcp | Protocol::Ws => 5060,
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Udp => "udp",
            Protocol::Tcp => "tcp",
            Protocol::Tls => "tls",
            Protocol::Ws => "ws",
            Protocol::Wss => "wss",
        })
    }
}

impl FromStr for Protocol {
    type Err = String;

    /// `udp`, `tcp`, `tls`, `ws` or `wss`, in any case (as in a Via, a `transport` URI
    /// parameter or a stored binding).
    fn from_str(s: &str) -> Result<Protocol, String> {
        [
            Protocol::Udp,
            Protocol::Tcp,
            Protocol::Tls,
            Protocol::Ws,
            Protocol::Wss,
        ]
        .into_iter()
        .find(|p| p.as_via().eq_ignore_ascii_case(s))
        .ok_or_else(|| format!("unknown protocol {s:?} (udp, tcp, tls, ws or wss)"))
    }
}

/// An address to listen on, written `udp:127.0.0.1:5060`, `tcp:[::]:5060`,
/// `tls:0.0.0.0:5061`, `ws:0.0.0.0:8088` or `wss:0.0.0.0:8089`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Listen {
    /// The protocol.
    pub protocol: Protocol,
    /// The local address.
    pub addr: SocketAddr,
}

impl FromStr for Listen {
    type Err = String;

    fn from_str(s: &str) -> Result<Listen, String> {
        let (proto, addr) = s
            .split_once(':')
            .ok_or_else(|| format!("{s:?}: expected PROTO:ADDR:PORT, e.g. udp:0.0.0.0:5060"))?;
        let protocol: Protocol = proto.parse().map_err(|e| format!("{s:?}: {e}"))?;
        let addr = addr.parse().map_err(|_| {
            format!("{s:?}: {addr:?} is not an address with port, e.g. 0.0.0.0:5060 or [::1]:5060")
        })?;
        Ok(Listen { protocol, addr })
    }
}

impl fmt::Display for Listen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.protocol, self.addr)
    }
}

/// What arrived: a message, or bytes that did not parse (kept so the server can log them
/// and, for a request whose headers can be read, answer 400).
#[derive(Debug)]
pub struct Incoming {
    /// The parse result.
    pub message: Result<sip::Message, (sip::ParseError, Bytes)>,
    /// The peer's address (the `received`/`rport` of RFC 3581).
    pub source: SocketAddr,
    /// The local socket it arrived on.
    pub local: Listen,
}

/// Why the transports could not start or send.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// A socket could not be bound (port busy, no permission, address not local).
    #[error("cannot listen on {listen}: {source}")]
    Bind {
        /// What was asked for.
        listen: Listen,
        /// The OS error.
        source: std::io::Error,
    },
    /// No socket of that protocol is open.
    #[error("no {0} socket is listening")]
    NoSocket(Protocol),
    /// A TLS or WSS listener was asked for without a certificate.
    #[error("{0}: TLS needs a certificate and key")]
    NoTls(Listen),
    /// Sending failed.
    #[error("sending to {dest} over {protocol} failed: {source}")]
    Send {
        /// The protocol.
        protocol: Protocol,
        /// The destination.
        dest: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
}

/// The open sockets. Cheap to clone; all clones share the sockets.
#[derive(Clone, Debug)]
pub struct Transports {
    udp: Arc<Vec<(Listen, Arc<UdpSocket>)>>,
    /// The TCP, TLS and WebSocket listeners' addresses.
    tcp_listens: Arc<Vec<Listen>>,
    connections: tcp::Connections,
    blocklist: Arc<blocklist::Blocklist>,
    tls: Option<Arc<tls::Tls>>,
}

/// What every received message is handed to, on the task that read it: it returns the
/// message's handling, or `None` when there is nothing to do. The reading task runs the
/// handling itself up to its first wait (`start_handling`) and leaves the rest to a task
/// of its own; so handlings start in the order the messages arrived, and one that never
/// waits (most do not) costs no task at all.
pub type Deliver = Arc<dyn Fn(Incoming) -> Option<Handling> + Send + Sync>;

/// A message's handling, as [`Deliver`] returns it.
pub type Handling = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// Polls `handling` once on the current (reading) task; if it has to wait, spawns it, and
/// its task polls it from there on. Whatever the first poll registered with this task's
/// waker is registered again with the new task's at that task's first poll (every future
/// wakes only the waker of its latest poll), so at most the reading task is woken once
/// for nothing.
///
/// This replaces spawning every handling and yielding before the next read: a runtime
/// runs the task spawned last first (tokio's LIFO slot), and the yield to keep arrival
/// order cost a poll of the I/O driver per message.
async fn start_handling(mut handling: Handling) {
    use std::task::Poll;
    let first = std::future::poll_fn(|cx| Poll::Ready(handling.as_mut().poll(cx))).await;
    if first.is_pending() {
        tokio::spawn(handling);
    }
}

/// Hands `incoming` to `deliver` and starts the handling it returns ([`start_handling`]):
/// what every receive loop does with each message it reads.
pub(crate) async fn hand_over(deliver: &Deliver, incoming: Incoming) {
    if let Some(handling) = deliver(incoming) {
        start_handling(handling).await;
    }
}

/// The bound sockets whose receive tasks have not started yet ([`Receivers::start`]).
pub struct Receivers {
    udp: Vec<(Listen, Arc<UdpSocket>)>,
    tcp: Vec<(Listen, tokio::net::TcpListener)>,
    connections: tcp::Connections,
    blocklist: Arc<blocklist::Blocklist>,
}

impl fmt::Debug for Receivers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let udp: Vec<_> = self.udp.iter().map(|(l, _)| *l).collect();
        let tcp: Vec<_> = self.tcp.iter().map(|(l, _)| *l).collect();
        f.debug_struct("Receivers")
            .field("udp", &udp)
            .field("tcp", &tcp)
            .finish()
    }
}

impl Receivers {
    /// Starts a receive task per UDP socket and an accept task per TCP or TLS listener;
    /// every message read (from datagrams, or framed from connections, accepted or opened
    /// by [`Transports::send`]) goes to `deliver`.
    pub fn start(self, deliver: Deliver) {
        self.connections.set_deliver(deliver.clone());
        for (local, socket) in self.udp {
            tokio::spawn(udp::receive_loop(
                socket,
                local,
                deliver.clone(),
                self.blocklist.clone(),
            ));
        }
        for (local, listener) in self.tcp {
            if local.protocol.is_stream() {
                tokio::spawn(tcp::accept_loop(listener, local, self.connections.clone()));
            } else {
                tokio::spawn(ws::accept_loop(listener, local, self.connections.clone()));
            }
        }
    }
}

impl Transports {
    /// Binds every listen address with the default [`TcpLimits`]. Returns the transports
    /// (for sending at once) and the [`Receivers`] to start when the receiving side is
    /// ready.
    pub async fn bind(listens: &[Listen]) -> Result<(Transports, Receivers), TransportError> {
        Transports::bind_with(listens, TcpLimits::default(), None).await
    }

    /// Binds every listen address, as [`Transports::bind`], with `limits` on the TCP and
    /// TLS connections and `tls` for TLS listeners and outgoing TLS connections (required
    /// when a listen address is TLS). Warns when the process's open-file limit is too low
    /// for `limits.max_connections`: at that limit `accept` fails and new peers hang
    /// instead of being refused.
    pub async fn bind_with(
        listens: &[Listen],
        limits: TcpLimits,
        tls: Option<Arc<tls::Tls>>,
    ) -> Result<(Transports, Receivers), TransportError> {
        if listens.iter().any(|l| l.protocol.is_reliable()) {
            warn_if_few_files(&limits);
        }
        if let Some(listen) = listens
            .iter()
            .find(|l| matches!(l.protocol, Protocol::Tls | Protocol::Wss) && tls.is_none())
        {
            return Err(TransportError::NoTls(*listen));
        }
        let blocklist = Arc::new(blocklist::Blocklist::default());
        let connections = tcp::Connections::new(limits, blocklist.clone(), tls.clone());
        let mut udp_sockets = Vec::new();
        let mut tcp_listens = Vec::new();
        let mut tcp_listeners = Vec::new();
        for listen in listens {
            match listen.protocol {
                Protocol::Udp => {
                    let socket = UdpSocket::bind(listen.addr).await.map_err(|source| {
                        TransportError::Bind {
                            listen: *listen,
                            source,
                        }
                    })?;
                    let local = Listen {
                        protocol: Protocol::Udp,
                        addr: socket.local_addr().unwrap_or(listen.addr),
                    };
                    udp_sockets.push((local, Arc::new(socket)));
                }
                Protocol::Tcp | Protocol::Tls | Protocol::Ws | Protocol::Wss => {
                    let listener =
                        tokio::net::TcpListener::bind(listen.addr)
                            .await
                            .map_err(|source| TransportError::Bind {
                                listen: *listen,
                                source,
                            })?;
                    let local = Listen {
                        protocol: listen.protocol,
                        addr: listener.local_addr().unwrap_or(listen.addr),
                    };
                    tcp_listeners.push((local, listener));
                    tcp_listens.push(local);
                }
            }
        }
        let receivers = Receivers {
            udp: udp_sockets.clone(),
            tcp: tcp_listeners,
            connections: connections.clone(),
            blocklist: blocklist.clone(),
        };
        Ok((
            Transports {
                udp: Arc::new(udp_sockets),
                tcp_listens: Arc::new(tcp_listens),
                connections,
                blocklist,
                tls,
            },
            receivers,
        ))
    }

    /// Counts `listen` among the local addresses although no socket here is bound to it:
    /// another server (the portal's `/ws`) accepts there and hands its WebSocket
    /// connections over ([`Transports::serve_websocket`]). Call before the addresses are
    /// read ([`Transports::local_addrs`]).
    pub fn add_handed_over(&mut self, listen: Listen) {
        Arc::make_mut(&mut self.tcp_listens).push(listen);
    }

    /// Serves a SIP-over-WebSocket connection from `peer` whose HTTP upgrade was answered
    /// elsewhere (101 with the `sip` subprotocol, [`websocket_accept`]) on `local` (a
    /// listen address given to [`Transports::add_handed_over`]): admitted under the
    /// connection limits and bans, then served as a `ws:` listener's connections are.
    pub fn serve_websocket(&self, io: Box<dyn Io>, peer: SocketAddr, local: Listen) {
        tokio::spawn(ws::serve_upgraded(
            io,
            peer,
            local,
            self.connections.clone(),
        ));
    }

    /// The TLS side, when configured: to replace the certificate while running.
    pub fn tls(&self) -> Option<&Arc<tls::Tls>> {
        self.tls.as_ref()
    }

    /// Remembers that `addr` was located by the DNS name `name`: a TLS connection opened
    /// to it verifies the certificate for that name (RFC 5922 §7.2) instead of the
    /// address, and a TLS send to it may take a connection aliased to `name` at its port
    /// (RFC 5923). Nothing without TLS.
    pub fn name_peer(&self, addr: SocketAddr, name: &str) {
        if let Some(tls) = &self.tls {
            tls.name_peer(addr, name);
        }
    }

    /// Drops everything from `ip` as it arrives, before parsing, until `until`: its
    /// datagrams are read and discarded, its new TCP connections closed at once. A later
    /// call for the same source replaces the time. Answers false when the list is full
    /// ([`MAX_BLOCKED`] live entries).
    pub fn block_source(&self, ip: std::net::IpAddr, until: std::time::Instant) -> bool {
        self.blocklist.block(ip, until)
    }

    /// Lets traffic from `ip` through again.
    pub fn unblock_source(&self, ip: std::net::IpAddr) {
        self.blocklist.unblock(ip);
    }

    /// The sources blocked now, with until when.
    pub fn blocked_sources(&self) -> Vec<(std::net::IpAddr, std::time::Instant)> {
        self.blocklist.blocked()
    }

    /// The addresses actually bound (with the ports the OS chose for port 0).
    pub fn local_addrs(&self) -> Vec<Listen> {
        self.udp
            .iter()
            .map(|(l, _)| *l)
            .chain(self.tcp_listens.iter().copied())
            .collect()
    }

    /// Holds the TCP or TLS connection from (or to) `peer` open until `until` at least, past its
    /// idle timeout ([`TcpLimits::idle_timeout`]): for a flow a registration uses
    /// (RFC 5626 §6), kept while the binding lives, as Kamailio keeps a connection until
    /// the registration expires. A later instant than one given before extends it; an
    /// earlier one changes nothing (another binding may use the same flow). The header and
    /// body timeouts still apply. Whether a connection to `peer` is open.
    pub fn keep_flow_until(&self, peer: SocketAddr, until: std::time::Instant) -> bool {
        self.connections.keep_until(peer, until)
    }

    /// The TCP and TLS connection counters (open now, refused and closed by each limit).
    pub fn tcp_stats(&self) -> TcpStats {
        self.connections.stats()
    }

    /// Sends bytes: over UDP from the socket `via` names (or the first one), over TCP or
    /// TLS on the connection to `dest` if one is open (RFC 3261 §18.2.2: responses go back
    /// on the connection the request came on), over TLS on a connection a verified peer
    /// aliased to `dest`'s address or located name and port (RFC 5923 §8.2), else on a new
    /// connection.
    pub async fn send(
        &self,
        protocol: Protocol,
        via: Option<SocketAddr>,
        dest: SocketAddr,
        bytes: Bytes,
    ) -> Result<(), TransportError> {
        match protocol {
            Protocol::Udp => {
                let socket = self
                    .udp
                    .iter()
                    .find(|(l, _)| Some(l.addr) == via)
                    .or_else(|| {
                        self.udp
                            .iter()
                            .find(|(l, _)| l.addr.is_ipv4() == dest.is_ipv4())
                    })
                    .map(|(_, s)| s)
                    .ok_or(TransportError::NoSocket(Protocol::Udp))?;
                socket
                    .send_to(&bytes, dest)
                    .await
                    .map(|_| ())
                    .map_err(|source| TransportError::Send {
                        protocol,
                        dest,
                        source,
                    })
            }
            Protocol::Tcp | Protocol::Tls | Protocol::Ws | Protocol::Wss => self
                .connections
                .send(protocol, dest, bytes)
                .await
                .map_err(|source| TransportError::Send {
                    protocol,
                    dest,
                    source,
                }),
        }
    }
}

/// Warns when the open-file limit leaves no room for `limits.max_connections` TCP
/// connections next to the process's other descriptors ([`limits::FD_RESERVE`]).
fn warn_if_few_files(limits: &TcpLimits) {
    let Some(files) = limits::open_file_limit() else {
        return;
    };
    let wanted = u64::try_from(limits.max_connections)
        .unwrap_or(u64::MAX)
        .saturating_add(limits::FD_RESERVE);
    if files < wanted {
        tracing::warn!(
            open_file_limit = files,
            max_connections = limits.max_connections,
            "the open-file limit is below the TCP connection limit: past it new connections \
             hang instead of being refused; raise the limit (ulimit -n, systemd LimitNOFILE) \
             or lower max_connections"
        );
    }
}

/// The local IP address the system uses as source toward `dest`. A connected UDP socket
/// sends nothing: `connect` only asks the routing table, so this is cheap and silent.
pub fn local_ip_towards(dest: std::net::IpAddr) -> std::io::Result<std::net::IpAddr> {
    let any: std::net::IpAddr = if dest.is_ipv4() {
        std::net::Ipv4Addr::UNSPECIFIED.into()
    } else {
        std::net::Ipv6Addr::UNSPECIFIED.into()
    };
    let socket = std::net::UdpSocket::bind(SocketAddr::new(any, 0))?;
    socket.connect(SocketAddr::new(dest, 9))?;
    Ok(socket.local_addr()?.ip())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::sync::Mutex;
    use std::time::Duration;

    fn options(n: usize) -> String {
        format!(
            "OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK{n}\r\n\
             From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:x@127.0.0.1>\r\nCall-ID: {n}\r\n\
             CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
        )
    }

    /// Binds `proto` on loopback and starts its receivers with `deliver`; the bound address.
    async fn serve(proto: &str, deliver: Deliver) -> SocketAddr {
        let listen: Listen = format!("{proto}:127.0.0.1:0").parse().unwrap();
        let (transports, receivers) = Transports::bind(&[listen]).await.unwrap();
        receivers.start(deliver);
        transports.local_addrs()[0].addr
    }

    /// A deliver that logs "start N" before its handling's first wait and "end N" after,
    /// where each handling waits for the runtime once (so every one is spawned).
    fn logging_deliver(log: Arc<Mutex<Vec<String>>>) -> Deliver {
        Arc::new(move |incoming: Incoming| -> Option<Handling> {
            let id = incoming.message.ok()?.call_id().ok()?.to_owned();
            let log = log.clone();
            Some(Box::pin(async move {
                log.lock().unwrap().push(format!("start {id}"));
                tokio::task::yield_now().await;
                log.lock().unwrap().push(format!("end {id}"));
            }))
        })
    }

    async fn wait_for(log: &Mutex<Vec<String>>, entries: usize) -> Vec<String> {
        for _ in 0..500 {
            if log.lock().unwrap().len() >= entries {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        log.lock().unwrap().clone()
    }

    /// The log's "start" entries are those of messages 0..count, in that order.
    fn assert_started_in_order(log: &[String], count: usize) {
        let starts: Vec<_> = log.iter().filter(|l| l.starts_with("start")).collect();
        let expected: Vec<_> = (0..count).map(|n| format!("start {n}")).collect();
        assert_eq!(starts, expected.iter().collect::<Vec<_>>());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn udp_handlings_start_in_arrival_order_and_finish_on_their_own_tasks() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let addr = serve("udp", logging_deliver(log.clone())).await;
        let client = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        // Back to back, so several wait in the socket while one is handled.
        for n in 0..50 {
            client.send_to(options(n).as_bytes(), addr).unwrap();
        }
        let log = wait_for(&log, 100).await;
        assert_started_in_order(&log, 50);
        for n in 0..50 {
            assert!(
                log.contains(&format!("end {n}")),
                "handling {n} never finished: {log:?}"
            );
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn tcp_handlings_start_in_arrival_order() {
        use tokio::io::AsyncWriteExt;
        let log = Arc::new(Mutex::new(Vec::new()));
        let addr = serve("tcp", logging_deliver(log.clone())).await;
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let all: String = (0..20).map(options).collect();
        stream.write_all(all.as_bytes()).await.unwrap();
        let log = wait_for(&log, 40).await;
        assert_started_in_order(&log, 20);
        assert_eq!(log.len(), 40, "{log:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_handling_woken_later_finishes_after_the_hand_over() {
        // The first poll registers the reading task's waker; the event comes after the
        // handling moved to its own task, which must be the one woken.
        let (release_tx, release_rx) = tokio::sync::watch::channel(false);
        let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel();
        let deliver: Deliver = Arc::new(move |_incoming: Incoming| -> Option<Handling> {
            let mut release = release_rx.clone();
            let done = done_tx.clone();
            Some(Box::pin(async move {
                release.wait_for(|go| *go).await.ok();
                done.send(()).ok();
            }))
        });
        let addr = serve("udp", deliver).await;
        let client = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        client.send_to(options(1).as_bytes(), addr).unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            done_rx.try_recv().is_err(),
            "finished before it was released"
        );
        release_tx.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(5), done_rx.recv())
            .await
            .expect("the spawned handling was never woken")
            .unwrap();
    }
}
