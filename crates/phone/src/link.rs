//! The phone's SIP socket: one UDP socket, or one TCP connection to the server framed by
//! Content-Length (RFC 3261 §18.3), with the local address to put in Via and Contact.

use std::io;
use std::net::SocketAddr;

use bytes::{Bytes, BytesMut};
use sip::framing::{frame, Frame};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpSocket, UdpSocket};
use tokio::sync::mpsc;

/// Largest SIP message accepted on the TCP stream.
const MAX_MESSAGE: usize = 65_535;

/// An open SIP socket.
#[derive(Debug)]
pub enum SipLink {
    /// UDP: datagrams to and from anyone.
    Udp(UdpSocket),
    /// TCP: one connection to the server; a reader task frames what arrives.
    Tcp {
        /// The sending half.
        writer: OwnedWriteHalf,
        /// Framed messages from the reader task (`None`: the connection closed).
        incoming: mpsc::Receiver<io::Result<Bytes>>,
        /// The server's address.
        peer: SocketAddr,
    },
}

impl SipLink {
    /// Opens the socket towards `server`: UDP on `port` (0: any) of every address, or a TCP
    /// connection from `port`. Returns it with the address to advertise.
    pub async fn open(
        tcp: bool,
        server: SocketAddr,
        port: u16,
    ) -> io::Result<(SipLink, SocketAddr)> {
        let ip = transport::local_ip_towards(server.ip())?;
        if !tcp {
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
        let (mut reader, writer) = stream.into_split();
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
                                "the server closed the TCP connection",
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
        Ok((
            SipLink::Tcp {
                writer,
                incoming,
                peer: server,
            },
            local,
        ))
    }

    /// Sends a message (on TCP, always on the connection to the server).
    pub async fn send(&mut self, dest: SocketAddr, bytes: &[u8]) -> io::Result<()> {
        match self {
            SipLink::Udp(socket) => socket.send_to(bytes, dest).await.map(|_| ()),
            SipLink::Tcp { writer, .. } => writer.write_all(bytes).await,
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
            SipLink::Tcp { incoming, peer, .. } => match incoming.recv().await {
                Some(Ok(bytes)) => Ok((*peer, bytes)),
                Some(Err(e)) => Err(e),
                None => Err(io::Error::new(
                    io::ErrorKind::ConnectionReset,
                    "the TCP connection closed",
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

/// `host:port` text of an address, IPv6 in brackets (RFC 3261 §25.1).
pub fn host_port(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V4(a) => a.to_string(),
        SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
    }
}
