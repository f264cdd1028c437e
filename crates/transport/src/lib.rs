//! # transport — SIP over UDP and TCP on tokio
//!
//! The thin I/O shell around the sans-IO `sip` crate (RFC 3261 §18): binds the listening
//! sockets, turns datagrams and framed stream bytes into [`sip::Message`]s, and sends bytes
//! back out, reusing the TCP connection a peer opened (§18.2.2, RFC 5923 style reuse).
//!
//! ## Layout
//!
//! - `lib.rs`: [`Transports`] (bind, send), [`Receivers`] (start the receive tasks with
//!   the function every message is delivered to), [`Listen`] addresses, errors,
//!   [`local_ip_towards`] (the source address the routing table picks for a destination).
//! - `udp.rs`: one receive task per UDP socket.
//! - `tcp.rs`: the accept loop, one task per connection with stream framing and CRLF
//!   keepalive answers, and the connection table used to send on a peer's connection.

mod tcp;
mod udp;

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

/// A transport protocol (the `transport` of a Via, RFC 3261 §18).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// Datagrams.
    Udp,
    /// A byte stream, framed by Content-Length.
    Tcp,
}

impl Protocol {
    /// As written in a Via header.
    pub fn as_via(self) -> &'static str {
        match self {
            Protocol::Udp => "UDP",
            Protocol::Tcp => "TCP",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Udp => "udp",
            Protocol::Tcp => "tcp",
        })
    }
}

/// An address to listen on, written `udp:127.0.0.1:5060` or `tcp:[::]:5060`.
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
        let protocol = match proto.to_ascii_lowercase().as_str() {
            "udp" => Protocol::Udp,
            "tcp" => Protocol::Tcp,
            other => return Err(format!("{s:?}: unknown protocol {other:?} (udp or tcp)")),
        };
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
    tcp_listens: Arc<Vec<Listen>>,
    connections: tcp::Connections,
}

/// What every received message is handed to, on the task that read it. It must not wait:
/// a server spawns the message's handling and returns (no channel and no second task
/// between the socket and the handling). The reading task then yields once before it
/// reads the next message, so handlings start in the order the messages arrived.
pub type Deliver = Arc<dyn Fn(Incoming) + Send + Sync>;

/// The bound sockets whose receive tasks have not started yet ([`Receivers::start`]).
pub struct Receivers {
    udp: Vec<(Listen, Arc<UdpSocket>)>,
    tcp: Vec<(Listen, tokio::net::TcpListener)>,
    connections: tcp::Connections,
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
    /// Starts a receive task per UDP socket and an accept task per TCP listener; every
    /// message read (from datagrams, or framed from TCP connections, accepted or opened by
    /// [`Transports::send`]) goes to `deliver`.
    pub fn start(self, deliver: Deliver) {
        self.connections.set_deliver(deliver.clone());
        for (local, socket) in self.udp {
            tokio::spawn(udp::receive_loop(socket, local, deliver.clone()));
        }
        for (local, listener) in self.tcp {
            tokio::spawn(tcp::accept_loop(listener, local, self.connections.clone()));
        }
    }
}

impl Transports {
    /// Binds every listen address. Returns the transports (for sending at once) and the
    /// [`Receivers`] to start when the receiving side is ready.
    pub async fn bind(listens: &[Listen]) -> Result<(Transports, Receivers), TransportError> {
        let connections = tcp::Connections::new();
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
                Protocol::Tcp => {
                    let listener =
                        tokio::net::TcpListener::bind(listen.addr)
                            .await
                            .map_err(|source| TransportError::Bind {
                                listen: *listen,
                                source,
                            })?;
                    let local = Listen {
                        protocol: Protocol::Tcp,
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
        };
        Ok((
            Transports {
                udp: Arc::new(udp_sockets),
                tcp_listens: Arc::new(tcp_listens),
                connections,
            },
            receivers,
        ))
    }

    /// The addresses actually bound (with the ports the OS chose for port 0).
    pub fn local_addrs(&self) -> Vec<Listen> {
        self.udp
            .iter()
            .map(|(l, _)| *l)
            .chain(self.tcp_listens.iter().copied())
            .collect()
    }

    /// Sends bytes: over UDP from the socket `via` names (or the first one), over TCP on the
    /// connection to `dest` if one is open (RFC 3261 §18.2.2: responses go back on the
    /// connection the request came on), else on a new connection.
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
            Protocol::Tcp => {
                self.connections
                    .send(dest, bytes)
                    .await
                    .map_err(|source| TransportError::Send {
                        protocol,
                        dest,
                        source,
                    })
            }
        }
    }
}

/// Shared map type of the connection table.
type ConnMap = Arc<Mutex<HashMap<SocketAddr, mpsc::Sender<Bytes>>>>;

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
