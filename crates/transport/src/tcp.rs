//! TCP and TLS: accept loop, one reader task per connection framing messages by
//! Content-Length (RFC 3261 §18.3), CRLF keepalive pongs (RFC 5626 §3.5.1, §4.4.1), the
//! connection table that lets responses and requests reuse a peer's connection, and the
//! [`TcpLimits`]: connection counts checked at accept, idle/header/body deadlines kept by
//! each reader. A TLS connection is a TCP connection with a handshake first (bounded by
//! the header timeout) and the same framing after it; both kinds share the table and its
//! limits.
//!
//! Connection reuse (RFC 5923): an accepted TLS connection whose client presented a
//! verified certificate ([`ClientIdentity::Verified`]) and sends a request whose top Via
//! carries `alias` (RFC 5923 §8.2) is entered in the table under the Via's sent-by host
//! and port (5061 when absent), provided the certificate names that host (RFC 5923 §9.2,
//! RFC 5922 §7.2, [`crate::tls::CertNames::names`]). A later send over TLS to an address
//! with no connection of its own takes the aliased one when the address is the sent-by
//! (an IP-address sent-by, as this server's own Via has), or when the address was located
//! by the sent-by's name ([`crate::Transports::name_peer`]) and the port is the sent-by's.
//! So two servers share the one connection the first opened for requests both ways. Not
//! for plain TCP: RFC 5923 (abstract, §2) limits reuse to TLS, where the sender is
//! authenticated, since an unauthenticated alias lets anyone capture requests meant for
//! another host.
//! The alias ends with its connection.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use memchr::memmem;
use sip::framing::{frame, Frame, DEFAULT_MAX_MESSAGE};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::blocklist::Blocklist;
use crate::limits::{source_key, Limit, LimitEvents, TcpLimits, TcpStats};
use crate::tls::{ClientIdentity, Tls};
use crate::{hand_over, Deliver, Incoming, Listen, Protocol};

/// Outgoing messages queued per connection before senders wait.
const WRITE_QUEUE: usize = 256;

/// The longest a deadline is set ahead: longer settings (a `Duration::MAX` meaning
/// "never") are cut to this, so that adding them to an instant cannot overflow.
pub(crate) const FAR_FUTURE: Duration = Duration::from_secs(365 * 24 * 3600);

/// One open connection in the table.
struct Flow {
    /// TCP or TLS.
    protocol: Protocol,
    /// Its write queue.
    tx: mpsc::Sender<Bytes>,
    /// Tells this connection from a later one to the same peer address.
    id: u64,
    /// Set by [`Connections::keep_until`]: not closed as idle before then.
    keep_until: Option<std::time::Instant>,
    /// The sent-by this connection is aliased to (RFC 5923), if any: one per connection,
    /// the latest.
    alias: Option<AliasKey>,
}

/// A Via sent-by a connection is aliased to: the host (a name lower case without trailing
/// dot, or an IP address as text without brackets) and the port.
pub(crate) type AliasKey = (String, u16);

/// The alias key of a sent-by host and port.
pub(crate) fn alias_key(host: &sip::uri::Host<'_>, port: u16) -> AliasKey {
    let host = match host {
        sip::uri::Host::Name(name) => name.trim_end_matches('.').to_ascii_lowercase(),
        sip::uri::Host::V4(ip) => ip.to_string(),
        sip::uri::Host::V6(ip) => ip.to_string(),
    };
    (host, port)
}

/// The connection table and the counts the limits are checked against.
#[derive(Default)]
struct Table {
    /// Open connections by peer address (the latest one when a peer has two).
    flows: HashMap<SocketAddr, Flow>,
    /// Aliased TLS connections (RFC 5923) by sent-by: the peer address and id of the
    /// connection in `flows`; removed with it.
    aliases: HashMap<AliasKey, (SocketAddr, u64)>,
    /// Open connections by source ([`source_key`]); sources with none are removed.
    per_source: HashMap<IpAddr, usize>,
    /// Open connections, accepted and opened (a peer's older connection included).
    open: usize,
    /// The next [`Flow::id`].
    next_id: u64,
}

/// What every clone of [`Connections`] shares.
struct Shared {
    table: Mutex<Table>,
    /// Where readers deliver messages (set when the receivers start, before any
    /// connection is accepted or opened).
    deliver: OnceLock<Deliver>,
    /// Woken when `deliver` is set.
    deliver_set: tokio::sync::Notify,
    limits: TcpLimits,
    events: LimitEvents,
    /// Sources whose new connections are closed at once.
    blocklist: Arc<Blocklist>,
    /// Certificates and trust for TLS connections; `None`: TCP only.
    tls: Option<Arc<Tls>>,
}

/// Open connections by peer address, the limits, and their counters. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Connections {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Connections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connections")
            .field("open", &self.table().open)
            .field("limits", &self.shared.limits)
            .finish()
    }
}

/// A connection's place in the table, given by [`Connections::admit`]; dropping it (when
/// the connection's reader ends, however it ends) frees the place.
pub(crate) struct Admission {
    connections: Connections,
    pub(crate) peer: SocketAddr,
    pub(crate) id: u64,
}

impl Drop for Admission {
    fn drop(&mut self) {
        let mut table = self.connections.table();
        table.open = table.open.saturating_sub(1);
        let source = source_key(self.peer.ip());
        if let Some(count) = table.per_source.get_mut(&source) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                table.per_source.remove(&source);
            }
        }
        table.remove_flow(self.peer, self.id);
    }
}

impl Table {
    /// Takes connection `id` to `peer` out of `flows`, with its alias.
    fn remove_flow(&mut self, peer: SocketAddr, id: u64) {
        if self.flows.get(&peer).is_none_or(|f| f.id != id) {
            return;
        }
        if let Some(flow) = self.flows.remove(&peer) {
            if let Some(key) = flow.alias {
                if self.aliases.get(&key) == Some(&(peer, id)) {
                    self.aliases.remove(&key);
                }
            }
        }
    }
}

impl Connections {
    pub(crate) fn new(
        limits: TcpLimits,
        blocklist: Arc<Blocklist>,
        tls: Option<Arc<Tls>>,
    ) -> Connections {
        Connections {
            shared: Arc::new(Shared {
                table: Mutex::default(),
                deliver: OnceLock::new(),
                deliver_set: tokio::sync::Notify::new(),
                limits,
                events: LimitEvents::default(),
                blocklist,
                tls,
            }),
        }
    }

    /// The table; a poisoned lock is taken over (the table stays consistent between
    /// statements, so a panic elsewhere does not leave it half-updated).
    fn table(&self) -> MutexGuard<'_, Table> {
        self.shared
            .table
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Where messages read from connections go from now on.
    pub(crate) fn set_deliver(&self, deliver: Deliver) {
        let _ = self.shared.deliver.set(deliver);
        self.shared.deliver_set.notify_waiters();
    }

    /// Where messages go, once the receivers started: a connection handed over by another
    /// server ([`crate::Transports::serve_websocket`]) may come before.
    pub(crate) async fn delivered(&self) -> &Deliver {
        loop {
            let set = self.shared.deliver_set.notified();
            if let Some(deliver) = self.shared.deliver.get() {
                return deliver;
            }
            set.await;
        }
    }

    /// The counters.
    pub(crate) fn stats(&self) -> TcpStats {
        let open = self.table().open;
        self.shared.events.stats(open)
    }

    /// Holds the connection to `peer` open until `until` at least, whatever its idle
    /// timeout; a later instant than one set before extends it, an earlier one is ignored.
    /// Whether such a connection is open.
    pub(crate) fn keep_until(&self, peer: SocketAddr, until: std::time::Instant) -> bool {
        let mut table = self.table();
        let Some(flow) = table.flows.get_mut(&peer) else {
            return false;
        };
        flow.keep_until = Some(flow.keep_until.map_or(until, |k| k.max(until)));
        true
    }

    /// The limits.
    pub(crate) fn limits(&self) -> &TcpLimits {
        &self.shared.limits
    }

    /// Counts and logs a connection refused or closed by `limit`.
    pub(crate) fn note(&self, limit: Limit, peer: SocketAddr, local: Listen) {
        self.shared.events.note(limit, peer, local);
    }

    /// Whether new connections from `ip` are closed at once.
    pub(crate) fn blocks(&self, ip: IpAddr) -> bool {
        self.shared.blocklist.blocks(ip)
    }

    /// The TLS side, when configured.
    pub(crate) fn tls(&self) -> Option<&Arc<Tls>> {
        self.shared.tls.as_ref()
    }

    /// The instant connection `id` to `peer` is held open until, if any.
    pub(crate) fn kept_until(&self, peer: SocketAddr, id: u64) -> Option<std::time::Instant> {
        let table = self.table();
        let flow = table.flows.get(&peer).filter(|f| f.id == id)?;
        flow.keep_until
    }

    /// The open connection of `protocol` to `peer`: its own, or for TLS one aliased to
    /// `peer` (RFC 5923; see the module documentation): the write queue, the connection's
    /// id and its peer address.
    fn get(
        &self,
        protocol: Protocol,
        peer: SocketAddr,
    ) -> Option<(mpsc::Sender<Bytes>, u64, SocketAddr)> {
        {
            let table = self.table();
            if let Some(flow) = table.flows.get(&peer).filter(|f| f.protocol == protocol) {
                return Some((flow.tx.clone(), flow.id, peer));
            }
            if protocol != Protocol::Tls || table.aliases.is_empty() {
                return None;
            }
        }
        // Asked with the table unlocked: the TLS names have a lock of their own.
        let name = self.shared.tls.as_ref().and_then(|t| t.peer_name(peer));
        let table = self.table();
        let by_addr = (peer.ip().to_string(), peer.port());
        let by_name = name.map(|n| (n, peer.port()));
        [Some(by_addr), by_name]
            .into_iter()
            .flatten()
            .find_map(|key| {
                let (aliased, id) = *table.aliases.get(&key)?;
                let flow = table
                    .flows
                    .get(&aliased)
                    .filter(|f| f.id == id && f.protocol == Protocol::Tls)?;
                Some((flow.tx.clone(), id, aliased))
            })
    }

    /// Aliases connection `id` to `peer` to `key` (RFC 5923 §8.2): later TLS sends to the
    /// sent-by take it (when two connections claim one sent-by, the one that claimed it
    /// last). Whether the alias is new (not already this connection's).
    fn set_alias(&self, peer: SocketAddr, id: u64, key: AliasKey) -> bool {
        let mut table = self.table();
        if table.aliases.get(&key) == Some(&(peer, id)) {
            return false;
        }
        let Some(flow) = table.flows.get_mut(&peer).filter(|f| f.id == id) else {
            return false;
        };
        let old = flow.alias.replace(key.clone());
        if let Some(old) = old {
            if table.aliases.get(&old) == Some(&(peer, id)) {
                table.aliases.remove(&old);
            }
        }
        table.aliases.insert(key, (peer, id));
        true
    }

    /// Takes connection `id` to `peer` out of the table (its writer is gone), so the next
    /// send connects again; its counts go when its reader ends.
    fn forget(&self, peer: SocketAddr, id: u64) {
        self.table().remove_flow(peer, id);
    }

    /// Enters a connection to `peer` in the table with a new write queue. For an inbound
    /// connection (`inbound`) the count limits are checked first: the limit it would
    /// exceed is the error, and nothing is entered.
    pub(crate) fn admit(
        &self,
        protocol: Protocol,
        peer: SocketAddr,
        inbound: bool,
    ) -> Result<(Admission, mpsc::Sender<Bytes>, mpsc::Receiver<Bytes>), Limit> {
        let limits = &self.shared.limits;
        let source = source_key(peer.ip());
        let mut table = self.table();
        if inbound {
            if table.open >= limits.max_connections {
                return Err(Limit::Total);
            }
            if table.per_source.get(&source).copied().unwrap_or(0) >= limits.max_per_ip {
                return Err(Limit::PerIp);
            }
        }
        let (tx, rx) = mpsc::channel(WRITE_QUEUE);
        let id = table.next_id;
        table.next_id = table.next_id.wrapping_add(1);
        table.open += 1;
        *table.per_source.entry(source).or_insert(0) += 1;
        table.flows.insert(
            peer,
            Flow {
                protocol,
                tx: tx.clone(),
                id,
                keep_until: None,
                alias: None,
            },
        );
        drop(table);
        let admission = Admission {
            connections: self.clone(),
            peer,
            id,
        };
        Ok((admission, tx, rx))
    }

    /// Sends on the open connection of `protocol` (TCP or TLS) to `dest`, or connects
    /// first.
    pub(crate) async fn send(
        &self,
        protocol: Protocol,
        dest: SocketAddr,
        bytes: Bytes,
    ) -> std::io::Result<()> {
        if let Some((tx, id, peer)) = self.get(protocol, dest) {
            if tx.send(bytes.clone()).await.is_ok() {
                return Ok(());
            }
            self.forget(peer, id);
        }
        let tls = match protocol {
            Protocol::Tls => Some(self.shared.tls.clone().ok_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::Unsupported, "no TLS configured")
            })?),
            // RFC 7118 §5: the server reaches a WebSocket client only on the connection
            // the client opened.
            Protocol::Ws | Protocol::Wss => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::NotConnected,
                    "no WebSocket connection from that address",
                ))
            }
            _ => None,
        };
        let stream = TcpStream::connect(dest).await?;
        let local = Listen {
            protocol,
            addr: stream.local_addr()?,
        };
        // Not checked for outgoing connections.
        let (admission, tx, rx) = self
            .admit(protocol, dest, false)
            .map_err(|_| std::io::Error::other("tcp connection limit"))?;
        match tls {
            None => {
                let (read, write) = stream.into_split();
                self.start(read, write, local, admission, tx.clone(), rx, None);
            }
            Some(tls) => {
                let handshake = tls.connect(dest, stream);
                let stream = tokio::time::timeout(self.shared.limits.header_timeout, handshake)
                    .await
                    .map_err(|_| {
                        std::io::Error::new(std::io::ErrorKind::TimedOut, "TLS handshake timed out")
                    })??;
                let (read, write) = tokio::io::split(stream);
                self.start(read, write, local, admission, tx.clone(), rx, None);
            }
        }
        tx.send(bytes)
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "connection closed"))
    }

    /// An accepted connection: admitted and started (a TLS one after its handshake), or,
    /// at a limit, closed at once with a reset (zero linger) so that the peer learns it
    /// now instead of waiting on a connection nobody reads.
    fn accepted(&self, stream: TcpStream, peer: SocketAddr, local: Listen) {
        if self.shared.blocklist.blocks(peer.ip()) {
            let _ = stream.set_zero_linger();
            return;
        }
        match self.admit(local.protocol, peer, true) {
            Ok((admission, tx, rx)) => match (local.protocol, &self.shared.tls) {
                (Protocol::Tls, Some(tls)) => {
                    let handshake = tls.acceptor().accept(stream);
                    let connections = self.clone();
                    let tls = tls.clone();
                    tokio::spawn(async move {
                        let timeout = connections.shared.limits.header_timeout;
                        match tokio::time::timeout(timeout, handshake).await {
                            Ok(Ok(stream)) => {
                                let chain = stream.get_ref().1.peer_certificates();
                                let client =
                                    tls.client_identity(chain, std::time::SystemTime::now());
                                match &client {
                                    ClientIdentity::Anonymous => {}
                                    ClientIdentity::Unverified(why) => tracing::debug!(
                                        %peer, %local, reason = %why,
                                        "TLS client certificate not verified; the connection \
                                         is served unauthenticated"
                                    ),
                                    ClientIdentity::Verified(names) => tracing::debug!(
                                        %peer, %local, %names,
                                        "TLS client certificate verified"
                                    ),
                                }
                                let (read, write) = tokio::io::split(stream);
                                connections.start(
                                    read,
                                    write,
                                    local,
                                    admission,
                                    tx,
                                    rx,
                                    Some(Arc::new(client)),
                                );
                            }
                            // The place is freed with the admission.
                            Ok(Err(e)) => {
                                tracing::info!(%peer, %local, error = %e, "TLS handshake failed");
                            }
                            Err(_) => {
                                tracing::info!(%peer, %local, ?timeout, "TLS handshake timed out");
                            }
                        }
                    });
                }
                _ => {
                    let (read, write) = stream.into_split();
                    self.start(read, write, local, admission, tx, rx, None);
                }
            },
            Err(limit) => {
                // Counted before the peer can see it.
                self.shared.events.note(limit, peer, local);
                // Without it the close is a FIN, which is fine too.
                let _ = stream.set_zero_linger();
                drop(stream);
            }
        }
    }

    /// Starts an admitted connection's reader and writer. Incoming and outgoing
    /// connections are read alike: requests and responses may arrive on either (§18.2.2,
    /// §18.1.2). `client` is what the client of an accepted TLS connection proved with
    /// its certificate (`None` for other connections): whether its requests may alias
    /// the connection (RFC 5923).
    #[allow(clippy::too_many_arguments)]
    fn start<R, W>(
        &self,
        read_half: R,
        write_half: W,
        local: Listen,
        admission: Admission,
        tx: mpsc::Sender<Bytes>,
        rx: mpsc::Receiver<Bytes>,
        client: Option<Arc<ClientIdentity>>,
    ) where
        R: AsyncRead + Unpin + Send + 'static,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        tokio::spawn(write_loop(write_half, rx));
        let connections = self.clone();
        tokio::spawn(async move {
            let peer = admission.peer;
            // Only after the receivers started, which is before anything connects.
            if let Some(deliver) = connections.shared.deliver.get() {
                let reader = Reader {
                    connections: &connections,
                    peer,
                    id: admission.id,
                    local,
                    deliver,
                    out: tx,
                    client,
                };
                if let Some(limit) = reader.run(read_half).await {
                    connections.shared.events.note(limit, peer, local);
                }
            }
            // Frees the place and takes the connection out of the table; the writer ends
            // when the queue's last sender is gone, after writing what was queued.
            drop(admission);
        });
    }
}

pub(crate) async fn accept_loop(listener: TcpListener, local: Listen, connections: Connections) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => connections.accepted(stream, peer, local),
            Err(e) => {
                // EMFILE/ENFILE at the open-file limit (see `TcpLimits::max_connections`).
                tracing::warn!(%local, error = %e, "tcp accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

async fn write_loop<W: AsyncWrite + Unpin>(mut write: W, mut rx: mpsc::Receiver<Bytes>) {
    while let Some(bytes) = rx.recv().await {
        if write.write_all(&bytes).await.is_err() {
            return;
        }
        // A TLS stream holds written bytes until flushed; for TCP this does nothing.
        if rx.is_empty() && write.flush().await.is_err() {
            return;
        }
    }
    // TLS: close_notify before the connection goes.
    let _ = write.shutdown().await;
}

/// Where a connection's reader is in the stream, for its deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Between messages: closed at the idle timeout after the last complete message or
    /// keepalive (or after the connection started).
    Idle,
    /// A message's header section is arriving since `since` (its first byte); `scanned`
    /// bytes of the buffer hold no end of headers.
    Header { since: Instant, scanned: usize },
    /// The header section ended at `since`; the body is arriving.
    Body { since: Instant },
}

/// `at + after`, with `after` cut to [`FAR_FUTURE`] and no overflow.
fn later(at: Instant, after: Duration) -> Instant {
    let after = after.min(FAR_FUTURE);
    at.checked_add(after).unwrap_or(at)
}

/// The empty line that ends a header section (RFC 3261 §7).
const HEADER_END: &[u8] = b"\r\n\r\n";

impl Phase {
    /// The phase after a read at `now` and the framing of what it brought: `progressed`
    /// says whether a message or keepalive was taken from the buffer. Bytes left in the
    /// buffer are an incomplete message (the framer took every complete frame): a new one
    /// if anything was taken or none was under way, whose header section may have ended.
    fn after_read(self, buf: &[u8], progressed: bool, now: Instant) -> Phase {
        if buf.is_empty() {
            return Phase::Idle;
        }
        let (since, from) = match self {
            Phase::Body { .. } if !progressed => return self,
            // Only appended to since: look at the new bytes (and the 3 before them).
            Phase::Header { since, scanned } if !progressed => {
                (since, scanned.saturating_sub(HEADER_END.len() - 1))
            }
            _ => (now, 0),
        };
        let rest = buf.get(from..).unwrap_or_default();
        if memmem::find(rest, HEADER_END).is_some() {
            Phase::Body { since: now }
        } else {
            Phase::Header {
                since,
                scanned: buf.len(),
            }
        }
    }

    /// When a connection in this phase is closed, with `last_activity` the last complete
    /// message or keepalive (before any [`Connections::keep_until`]).
    fn deadline(self, limits: &TcpLimits, last_activity: Instant) -> Instant {
        match self {
            Phase::Idle => later(last_activity, limits.idle_timeout),
            Phase::Header { since, .. } => later(since, limits.header_timeout),
            Phase::Body { since } => later(since, limits.body_timeout),
        }
    }

    /// The limit that closes a connection whose deadline passed in this phase.
    fn limit(self) -> Limit {
        match self {
            Phase::Idle => Limit::Idle,
            Phase::Header { .. } => Limit::Header,
            Phase::Body { .. } => Limit::Body,
        }
    }
}

/// A connection's reader: frames messages, answers pings, keeps the deadlines.
struct Reader<'a> {
    connections: &'a Connections,
    peer: SocketAddr,
    id: u64,
    local: Listen,
    deliver: &'a Deliver,
    /// The connection's write queue, for the keepalive pongs.
    out: mpsc::Sender<Bytes>,
    /// An accepted TLS connection's client certificate, checked ([`Tls::client_identity`]);
    /// `None` for other connections, which are never aliased.
    client: Option<Arc<ClientIdentity>>,
}

impl Reader<'_> {
    /// Reads until the peer closes, the stream cannot be framed, or a deadline passes;
    /// answers which limit closed it in the last case.
    ///
    /// The one timer is reset only when the deadline comes earlier (a message starts to
    /// arrive in pieces); when the deadline moved later (activity), the timer fires at
    /// the old deadline and is set to the new one then. So a connection whose messages
    /// come whole costs no timer update per message, only a clock read per read.
    async fn run<R: AsyncRead + Unpin>(&self, mut read: R) -> Option<Limit> {
        let limits = &self.connections.shared.limits;
        let mut buf = BytesMut::with_capacity(8192);
        let mut phase = Phase::Idle;
        let mut last_activity = Instant::now();
        let mut armed = phase.deadline(limits, last_activity);
        let timer = tokio::time::sleep_until(armed);
        tokio::pin!(timer);
        loop {
            tokio::select! {
                biased;
                read = read.read_buf(&mut buf) => match read {
                    Ok(0) | Err(_) => return None,
                    Ok(_) => {}
                },
                () = &mut timer => {
                    let now = Instant::now();
                    let mut due = phase.deadline(limits, last_activity);
                    if phase == Phase::Idle {
                        if let Some(keep) = self.connections.kept_until(self.peer, self.id) {
                            due = due.max(Instant::from_std(keep));
                        }
                    }
                    if due <= now {
                        return Some(phase.limit());
                    }
                    armed = due;
                    timer.as_mut().reset(armed);
                    continue;
                }
            }
            let now = Instant::now();
            let progressed = self.drain(&mut buf).await?;
            if progressed {
                last_activity = now;
            }
            phase = phase.after_read(&buf, progressed, now);
            let due = phase.deadline(limits, last_activity);
            if due < armed {
                armed = due;
                timer.as_mut().reset(armed);
            }
        }
    }

    /// Takes every complete frame from the front of `buf`: delivers messages, answers
    /// pings. Whether anything was taken, or `None` when the connection must close (the
    /// stream cannot be framed, or the writer is gone).
    async fn drain(&self, buf: &mut BytesMut) -> Option<bool> {
        let mut progressed = false;
        loop {
            match frame(buf, DEFAULT_MAX_MESSAGE) {
                Ok(Frame::Incomplete) => return Some(progressed),
                Ok(Frame::Keepalive { len, ping }) => {
                    progressed = true;
                    buf.advance(len);
                    // RFC 5626 §3.5.1: a double-CRLF ping is answered by a single CRLF.
                    if ping && self.out.send(Bytes::from_static(b"\r\n")).await.is_err() {
                        return None;
                    }
                }
                Ok(Frame::Message { len }) => {
                    progressed = true;
                    let bytes = buf.split_to(len).freeze();
                    let message = sip::Message::parse(bytes.clone()).map_err(|e| (e, bytes));
                    if let (Some(client), Ok(request)) = (&self.client, &message) {
                        self.alias(client, request);
                    }
                    // In order: see `udp::receive_loop`.
                    hand_over(
                        self.deliver,
                        Incoming {
                            message,
                            source: self.peer,
                            local: self.local,
                        },
                    )
                    .await;
                }
                Err(e) => {
                    // The stream cannot be framed any more (§18.3): report and close.
                    let (peer, local) = (self.peer, self.local);
                    tracing::info!(%peer, %local, error = %e, "closing unframeable stream connection");
                    let bytes = buf.split().freeze();
                    hand_over(
                        self.deliver,
                        Incoming {
                            message: Err((e, bytes)),
                            source: peer,
                            local,
                        },
                    )
                    .await;
                    return None;
                }
            }
        }
    }
}

impl Reader<'_> {
    /// RFC 5923 §8.2 for a message on an accepted TLS connection: a request whose top Via
    /// has `alias`, from a client whose verified certificate names the Via's sent-by host
    /// (§9.2), aliases the connection to that sent-by. Otherwise the alias is ignored,
    /// with the reason at debug.
    fn alias(&self, client: &ClientIdentity, message: &sip::Message) {
        if !message.is_request() {
            return;
        }
        let Ok(via) = message.top_via() else {
            return;
        };
        if !via.alias() {
            return;
        }
        let (peer, sent_by) = (self.peer, via.sent_by);
        let ignored = |reason: &str| {
            tracing::debug!(%peer, %sent_by, reason, "Via alias ignored (RFC 5923)");
        };
        if !via.transport.eq_ignore_ascii_case("TLS") {
            return ignored("the Via's transport is not TLS");
        }
        match client {
            ClientIdentity::Anonymous => ignored("no client certificate"),
            ClientIdentity::Unverified(_) => ignored("the client certificate is not verified"),
            ClientIdentity::Verified(names) if !names.names(&via.host) => {
                ignored(&format!(
                    "the client certificate names {names}, not the sent-by host"
                ));
            }
            ClientIdentity::Verified(_) => {
                let key = alias_key(&via.host, via.port.unwrap_or(Protocol::Tls.default_port()));
                if self.connections.set_alias(self.peer, self.id, key) {
                    tracing::info!(%peer, %sent_by, "TLS connection aliased (RFC 5923): requests to the sent-by reuse it");
                }
            }
        }
    }
}

impl Listen {
    /// Whether this is a connection transport (no retransmissions, §17.1.1.2).
    pub fn is_reliable(&self) -> bool {
        self.protocol.is_reliable()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_follow_the_stream() {
        let t0 = Instant::now();
        let t1 = t0 + Duration::from_millis(5);
        let t2 = t1 + Duration::from_millis(5);
        // A message starts: header phase since its first byte.
        let p = Phase::Idle.after_read(b"OPTIONS sip:a SIP/2.0\r\nVia: x\r", false, t0);
        assert_eq!(
            p,
            Phase::Header {
                since: t0,
                scanned: 30
            }
        );
        // More header, its end split over reads: body phase since the end.
        let p = p.after_read(b"OPTIONS sip:a SIP/2.0\r\nVia: x\r\n\r", false, t1);
        assert!(matches!(p, Phase::Header { since, .. } if since == t0));
        let p = p.after_read(b"OPTIONS sip:a SIP/2.0\r\nVia: x\r\n\r\nab", false, t2);
        assert_eq!(p, Phase::Body { since: t2 });
        // A body that is still coming stays in the body phase.
        assert_eq!(p.after_read(b"...abc", false, t2), p);
        // Everything taken: idle.
        assert_eq!(p.after_read(b"", true, t2), Phase::Idle);
        // A message taken and the next one begun: a new header phase.
        let p = Phase::Header {
            since: t0,
            scanned: 3,
        };
        assert_eq!(
            p.after_read(b"INV", true, t2),
            Phase::Header {
                since: t2,
                scanned: 3
            }
        );
    }

    #[test]
    fn an_alias_points_at_its_latest_claimant_and_ends_with_it() {
        let connections =
            Connections::new(TcpLimits::default(), Arc::new(Blocklist::default()), None);
        let (p1, p2): (SocketAddr, SocketAddr) = (
            "192.0.2.1:40001".parse().unwrap(),
            "192.0.2.1:40002".parse().unwrap(),
        );
        let (first, _tx1, _rx1) = connections.admit(Protocol::Tls, p1, true).unwrap();
        let (second, _tx2, _rx2) = connections.admit(Protocol::Tls, p2, true).unwrap();
        let host = sip::uri::Host::V4("192.0.2.1".parse().unwrap());
        let sent_by: SocketAddr = "192.0.2.1:5061".parse().unwrap();
        let via = |c: &Connections| c.get(Protocol::Tls, sent_by).map(|(_, _, peer)| peer);
        assert_eq!(via(&connections), None);

        assert!(connections.set_alias(p1, first.id, alias_key(&host, 5061)));
        assert!(
            !connections.set_alias(p1, first.id, alias_key(&host, 5061)),
            "not new"
        );
        assert_eq!(via(&connections), Some(p1));
        // Only TLS sends take an alias.
        assert!(connections.get(Protocol::Tcp, sent_by).is_none());
        // A second claimant takes it over; when it ends, the alias ends with it.
        assert!(connections.set_alias(p2, second.id, alias_key(&host, 5061)));
        assert_eq!(via(&connections), Some(p2));
        drop(second);
        assert_eq!(via(&connections), None);
        // The first claims it again with its next request.
        assert!(connections.set_alias(p1, first.id, alias_key(&host, 5061)));
        assert_eq!(via(&connections), Some(p1));
        // A new sent-by for the same connection replaces its old one.
        assert!(connections.set_alias(p1, first.id, alias_key(&host, 5062)));
        assert_eq!(via(&connections), None);
        drop(first);
        assert!(connections.table().aliases.is_empty());
        // Names: lower case, no trailing dot.
        let name = sip::uri::Host::Name("Proxy.Example.COM.");
        assert_eq!(
            alias_key(&name, 5061),
            ("proxy.example.com".to_owned(), 5061)
        );
    }

    #[test]
    fn deadlines_never_overflow() {
        let limits = TcpLimits {
            idle_timeout: Duration::MAX,
            ..TcpLimits::default()
        };
        let now = Instant::now();
        assert!(Phase::Idle.deadline(&limits, now) > now);
    }
}
