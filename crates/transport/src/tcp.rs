//! TCP: accept loop, one reader task per connection framing messages by Content-Length
//! (RFC 3261 §18.3), CRLF keepalive pongs (RFC 5626 §4.4.1), and the connection table that
//! lets responses and requests reuse a peer's connection.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use bytes::{Buf, Bytes, BytesMut};
use sip::framing::{frame, Frame, DEFAULT_MAX_MESSAGE};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use crate::{hand_over, ConnMap, Deliver, Incoming, Listen, Protocol};

/// Outgoing messages queued per connection before senders wait.
const WRITE_QUEUE: usize = 256;

/// Open connections by peer address, and where their readers deliver messages (set when
/// the receivers start, before any connection is accepted or opened).
#[derive(Clone)]
pub(crate) struct Connections {
    map: ConnMap,
    deliver: Arc<OnceLock<Deliver>>,
}

impl std::fmt::Debug for Connections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let open = self.map.lock().map_or(0, |m| m.len());
        f.debug_struct("Connections").field("open", &open).finish()
    }
}

impl Connections {
    pub(crate) fn new() -> Connections {
        Connections {
            map: ConnMap::default(),
            deliver: Arc::default(),
        }
    }

    /// Where messages read from connections go from now on.
    pub(crate) fn set_deliver(&self, deliver: Deliver) {
        let _ = self.deliver.set(deliver);
    }

    fn insert(&self, peer: SocketAddr, tx: mpsc::Sender<Bytes>) {
        if let Ok(mut map) = self.map.lock() {
            map.insert(peer, tx);
        }
    }

    fn remove(&self, peer: SocketAddr) {
        if let Ok(mut map) = self.map.lock() {
            map.remove(&peer);
        }
    }

    fn get(&self, peer: SocketAddr) -> Option<mpsc::Sender<Bytes>> {
        self.map.lock().ok()?.get(&peer).cloned()
    }

    /// Sends on the open connection to `dest`, or connects first.
    pub(crate) async fn send(&self, dest: SocketAddr, bytes: Bytes) -> std::io::Result<()> {
        if let Some(tx) = self.get(dest) {
            if tx.send(bytes.clone()).await.is_ok() {
                return Ok(());
            }
            self.remove(dest);
        }
        let stream = TcpStream::connect(dest).await?;
        let local = Listen {
            protocol: Protocol::Tcp,
            addr: stream.local_addr()?,
        };
        let tx = self.start(stream, dest, local);
        tx.send(bytes)
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "connection closed"))
    }
}

impl Connections {
    /// Registers a connection and starts its reader and writer; returns its write queue.
    /// Incoming and outgoing connections are read alike: requests and responses may arrive
    /// on either (§18.2.2, §18.1.2).
    fn start(&self, stream: TcpStream, peer: SocketAddr, local: Listen) -> mpsc::Sender<Bytes> {
        let (out_tx, out_rx) = mpsc::channel(WRITE_QUEUE);
        self.insert(peer, out_tx.clone());
        let (read_half, write_half) = stream.into_split();
        tokio::spawn(write_loop(write_half, out_rx));
        let connections = self.clone();
        let reader_out = out_tx.clone();
        tokio::spawn(async move {
            // Only after the receivers started, which is before anything connects.
            if let Some(deliver) = connections.deliver.get() {
                read_loop(read_half, peer, local, deliver, reader_out).await;
            }
            connections.remove(peer);
        });
        out_tx
    }
}

pub(crate) async fn accept_loop(listener: TcpListener, local: Listen, connections: Connections) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                connections.start(stream, peer, local);
            }
            Err(e) => {
                tracing::warn!(%local, error = %e, "tcp accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}

async fn write_loop(mut write: tokio::net::tcp::OwnedWriteHalf, mut rx: mpsc::Receiver<Bytes>) {
    while let Some(bytes) = rx.recv().await {
        if write.write_all(&bytes).await.is_err() {
            return;
        }
    }
}

async fn read_loop(
    mut read: tokio::net::tcp::OwnedReadHalf,
    peer: SocketAddr,
    local: Listen,
    deliver: &Deliver,
    out: mpsc::Sender<Bytes>,
) {
    let mut buf = BytesMut::with_capacity(8192);
    loop {
        // Drain every complete frame before reading more.
        loop {
            match frame(&buf, DEFAULT_MAX_MESSAGE) {
                Ok(Frame::Incomplete) => break,
                Ok(Frame::Keepalive { len, ping }) => {
                    buf.advance(len);
                    if ping && out.send(Bytes::from_static(b"\r\n")).await.is_err() {
                        return;
                    }
                }
                Ok(Frame::Message { len }) => {
                    let bytes = buf.split_to(len).freeze();
                    let message = sip::Message::parse(bytes.clone()).map_err(|e| (e, bytes));
                    // In order: see `udp::receive_loop`.
                    hand_over(
                        deliver,
                        Incoming {
                            message,
                            source: peer,
                            local,
                        },
                    )
                    .await;
                }
                Err(e) => {
                    // The stream cannot be framed any more (§18.3): report and close.
                    tracing::info!(%peer, %local, error = %e, "closing unframeable tcp connection");
                    let bytes = buf.split().freeze();
                    hand_over(
                        deliver,
                        Incoming {
                            message: Err((e, bytes)),
                            source: peer,
                            local,
                        },
                    )
                    .await;
                    return;
                }
            }
        }
        match read.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

impl Listen {
    /// Whether this is a stream transport (no retransmissions, §17.1.1.2).
    pub fn is_reliable(&self) -> bool {
        self.protocol == Protocol::Tcp
    }
}
