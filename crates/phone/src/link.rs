//! The phone's SIP socket: one UDP socket, or one TCP or TLS connection to the server
//! framed by Content-Length (RFC 3261 §18.3), with the local address to put in Via and
//! Contact.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use sip::framing::{frame, Frame};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpSocket, UdpSocket};
use tokio::sync::mpsc;

use crate::ua::Transport;

/// Largest SIP message accepted on the TCP stream.
const MAX_MESSAGE: usize = 65_535;

/// The writing half of a stream connection (TCP, or TLS over it).
type StreamWriter = Box<dyn AsyncWrite + Send + Unpin>;

/// How a TLS connection to the server is opened.
#[derive(Clone)]
pub struct TlsClient {
    /// The rustls configuration (trusted certificates).
    pub config: Arc<rustls::ClientConfig>,
    /// The name the server's certificate must be for: the SIP domain (RFC 5922 §7.2).
    pub server_name: String,
}

impl std::fmt::Debug for TlsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsClient")
            .field("server_name", &self.server_name)
            .finish()
    }
}

/// An open SIP socket.
pub enum SipLink {
    /// UDP: datagrams to and from anyone.
    Udp(UdpSocket),
    /// TCP or TLS: one connection to the server; a reader task frames what arrives.
    Stream {
        /// The sending half.
        writer: StreamWriter,
        /// Framed messages from the reader task (`None`: the connection closed).
        incoming: mpsc::Receiver<io::Result<Bytes>>,
        /// The server's address.
        peer: SocketAddr,
    },
}

impl std::fmt::Debug for SipLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SipLink::Udp(socket) => f.debug_tuple("Udp").field(socket).finish(),
            SipLink::Stream { peer, .. } => f.debug_struct("Stream").field("peer", peer).finish(),
        }
    }
}

impl SipLink {
    /// Opens the socket towards `server`: UDP on `port` (0: any) of every address, or a TCP
    /// connection from `port`, under TLS for [`Transport::Tls`] (with `tls`). Returns it
    /// with the address to advertise.
    pub async fn open(
        transport: Transport,
        tls: Option<&TlsClient>,
        server: SocketAddr,
        port: u16,
    ) -> io::Result<(SipLink, SocketAddr)> {
        let ip = transport::local_ip_towards(server.ip())?;
        if transport == Transport::Udp {
            let bind: SocketAddr = (ip, port).into();
            let socket = UdpSocket::bind(bind).await?;
            let local = socket.local_addr()?;
            return Ok((SipLink::Udp(socket), local));
        }
        let socket = if server.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        if port != 0 {
            socket.set_reuseaddr(true)?;
            socket.bind((ip, port).into())?;
        }
        let stream = socket.connect(server).await?;
        stream.set_nodelay(true)?;
        let local = stream.local_addr()?;
        let (incoming, writer): (_, StreamWriter) = match (transport, tls) {
            (Transport::Tls, Some(tls)) => {
                let name = rustls::pki_types::ServerName::try_from(tls.server_name.clone())
                    .map_err(|e| {
                        io::Error::new(
                            io::ErrorKind::InvalidInput,
                            format!("{:?} is not a TLS server name: {e}", tls.server_name),
                        )
                    })?;
                let connector = tokio_rustls::TlsConnector::from(tls.config.clone());
                let stream = connector.connect(name, stream).await.map_err(|e| {
                    io::Error::new(e.kind(), format!("TLS handshake with {server} failed: {e}"))
                })?;
                let (reader, writer) = tokio::io::split(stream);
                (read_frames(reader), Box::new(writer))
            }
            (Transport::Tls, None) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "TLS asked for without a TLS configuration",
                ))
            }
            _ => {
                let (reader, writer) = stream.into_split();
                (read_frames(reader), Box::new(writer))
            }
        };
        Ok((
            SipLink::Stream {
                writer,
                incoming,
                peer: server,
            },
            local,
        ))
    }

    /// Sends a message (on a stream, always on the connection to the server).
    pub async fn send(&mut self, dest: SocketAddr, bytes: &[u8]) -> io::Result<()> {
        match self {
            SipLink::Udp(socket) => socket.send_to(bytes, dest).await.map(|_| ()),
            SipLink::Stream { writer, .. } => {
                writer.write_all(bytes).await?;
                writer.flush().await
            }
        }
    }

    /// Receives the next message with its source.
    pub async fn recv(&mut self) -> io::Result<(SocketAddr, Bytes)> {
        match self {
            SipLink::Udp(socket) => {
                let mut buf = vec![0u8; MAX_MESSAGE];
                let (n, from) = socket.recv_from(&mut buf).await?;
                buf.truncate(n);
                Ok((from, Bytes::from(buf)))
            }
            SipLink::Stream { incoming, peer, .. } => match incoming.recv().await {
                Some(Ok(bytes)) => Ok((*peer, bytes)),
                Some(Err(e)) => Err(e),
                None => Err(io::Error::new(
                    io::ErrorKind::ConnectionReset,
                    "the connection to the server closed",
                )),
            },
        }
    }

    /// A keepalive: a double CRLF (RFC 5626 §4.4.1 on TCP; the usual NAT-binding refresh on
    /// UDP).
    pub async fn keepalive(&mut self, dest: SocketAddr) -> io::Result<()> {
        self.send(dest, b"\r\n\r\n").await
    }
}

/// Starts the task that frames what `reader` brings; its messages (or the error that
/// ended the stream) arrive on the returned channel.
fn read_frames<R: AsyncRead + Send + Unpin + 'static>(
    mut reader: R,
) -> mpsc::Receiver<io::Result<Bytes>> {
    let (tx, incoming) = mpsc::channel(64);
    tokio::spawn(async move {
        let mut buf = BytesMut::with_capacity(8192);
        loop {
            loop {
                match frame(&buf, MAX_MESSAGE) {
                    Ok(Frame::Incomplete) => break,
                    Ok(Frame::Keepalive { len, .. }) => {
                        let _ = buf.split_to(len);
                    }
                    Ok(Frame::Message { len }) => {
                        let msg = buf.split_to(len).freeze();
                        if tx.send(Ok(msg)).await.is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        let _ = tx
                            .send(Err(io::Error::new(
                                io::ErrorKind::InvalidData,
                                e.to_string(),
                            )))
                            .await;
                        return;
                    }
                }
            }
            match reader.read_buf(&mut buf).await {
                Ok(0) => {
                    let _ = tx
                        .send(Err(io::Error::new(
                            io::ErrorKind::ConnectionReset,
                            "the server closed the connection",
                        )))
                        .await;
                    return;
                }
                Ok(_) => {}
                Err(e) => {
                    let _ = tx.send(Err(e)).await;
                    return;
                }
            }
        }
    });
    incoming
}

/// `host:port` text of an address, IPv6 in brackets (RFC 3261 §25.1).
pub fn host_port(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V4(a) => a.to_string(),
        SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
    }
}
