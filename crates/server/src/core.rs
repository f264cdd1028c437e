//! The server core: the shared state of a running server and the path of a message through
//! it. Transport → [`Core::receive`] (Via stamping, RFC 3581) → the transaction layer
//! (retransmissions absorbed, §17.2) → [`crate::policy`] for new requests → the answer back
//! through the transaction, sent where §18.2.2 says.
//!
//! The transaction layer, the location index and the nonce verifier are each behind a
//! mutex held only for synchronous work; store queries and sends happen outside the locks,
//! so requests that wait for the database do not hold up the others.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use sip::build::reject_unparsed;
use sip::transaction::{Event, Incoming as TxIncoming, TransactionKey, TransactionLayer};
use sip::{Message, MessageBuilder};
use store::Store;
use tokio::sync::Notify;
use transport::{Incoming, Listen, Protocol, Transports};

use crate::auth::DigestAuth;
use crate::config::ServerConfig;
use crate::domains::Domains;
use crate::location::Location;
use crate::persist::LocationWriter;

/// The Server / User-Agent string itsp sends (RFC 3261 §20.35).
pub const SERVER: &str = concat!("itsp/", env!("CARGO_PKG_VERSION"));

/// Where a request came from: the packet's source and the local socket it reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Source {
    /// The peer's address (RFC 3581 `received`/`rport`).
    pub addr: SocketAddr,
    /// The local socket.
    pub local: Listen,
}

impl Source {
    /// Whether the transport is reliable (no retransmissions, §17.1.1.2).
    pub fn reliable(&self) -> bool {
        self.local.protocol != Protocol::Udp
    }
}

/// Where the messages of a server transaction go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Route {
    protocol: Protocol,
    local: SocketAddr,
    dest: SocketAddr,
}

/// The transaction layer and the route of each server transaction's responses.
#[derive(Debug)]
pub(crate) struct Transactions {
    layer: TransactionLayer,
    routes: HashMap<TransactionKey, Route>,
}

/// The shared state of a running server.
#[derive(Debug)]
pub(crate) struct Core {
    pub(crate) config: ServerConfig,
    pub(crate) store: Store,
    pub(crate) transports: Transports,
    pub(crate) domains: Domains,
    pub(crate) location: Mutex<Location>,
    pub(crate) auth: Mutex<DigestAuth>,
    pub(crate) writer: LocationWriter,
    transactions: Mutex<Transactions>,
    /// Woken when a transaction has an earlier timer than the timer task sleeps for.
    pub(crate) timers_changed: Notify,
    /// When the timer task will wake up: nanoseconds since `timer_epoch`, `u64::MAX` for
    /// never. Lets `receive`/`respond` skip waking it when nothing earlier is due (most
    /// messages), which saves a thread wake-up per message.
    timer_deadline: AtomicU64,
    timer_epoch: Instant,
    random_seed: u64,
    random_counter: AtomicU64,
}

/// Locks a mutex; a panic elsewhere while holding it does not stop the server (the data
/// under these locks stays consistent between statements).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Unix seconds now.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Core {
    pub(crate) fn new(
        config: ServerConfig,
        store: Store,
        transports: Transports,
        domains: Domains,
        location: Location,
        secret: &[u8; 32],
    ) -> Core {
        let mut seed = [0u8; 8];
        seed.copy_from_slice(&secret[..8]);
        Core {
            auth: Mutex::new(
                DigestAuth::new(secret, config.nonce_lifetime)
                    .with_algorithms(&config.digest_algorithms),
            ),
            transactions: Mutex::new(Transactions {
                layer: TransactionLayer::new(config.timers),
                routes: HashMap::new(),
            }),
            writer: LocationWriter::spawn(store.clone(), config.commit_window),
            location: Mutex::new(location),
            config,
            store,
            transports,
            domains,
            timers_changed: Notify::new(),
            timer_deadline: AtomicU64::new(u64::MAX),
            timer_epoch: Instant::now(),
            random_seed: u64::from_le_bytes(seed),
            random_counter: AtomicU64::new(0),
        }
    }

    /// A value that differs on every call (nonce seeds, tags); unpredictable across runs.
    pub(crate) fn random(&self) -> u64 {
        let n = self.random_counter.fetch_add(1, Ordering::Relaxed);
        // splitmix64 over seed + counter.
        let mut z = self
            .random_seed
            .wrapping_add(n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Takes in one message from the transports and returns the new request the routing
    /// policy must answer, if it is one.
    pub(crate) async fn receive(
        &self,
        incoming: Incoming,
    ) -> Option<(TransactionKey, Message, Source)> {
        let source = Source {
            addr: incoming.source,
            local: incoming.local,
        };
        let message = match incoming.message {
            Ok(m) => m,
            Err((error, bytes)) => {
                tracing::info!(source = %source.addr, local = %source.local, %error, "malformed message");
                if let Some(resp) = reject_unparsed(&bytes, &error) {
                    self.send_stateless(&resp, source).await;
                }
                return None;
            }
        };
        let message = if message.is_request() {
            stamp_received(message, source.addr)
        } else {
            message
        };
        let (result, sends, next) = {
            let mut txs = lock(&self.transactions);
            let result = txs.layer.handle(Instant::now(), message, source.reliable());
            if let TxIncoming::NewRequest { key, request }
            | TxIncoming::Cancel { key, request, .. } = &result
            {
                if let Some(route) = response_route(request, source) {
                    txs.routes.insert(key.clone(), route);
                }
            }
            let next = txs.layer.poll_timeout();
            (result, drain(&mut txs), next)
        };
        self.wake_timers_if_earlier(next);
        self.send_all(sends).await;
        match result {
            TxIncoming::NewRequest { key, request } => Some((key, request, source)),
            TxIncoming::Cancel {
                key,
                request,
                invite,
            } => {
                // Every request is answered at once today, so an INVITE it names is
                // already final: 200 for the CANCEL, no effect (§9.2); none: 481.
                let code = if invite.is_some() { 200 } else { 481 };
                let resp =
                    MessageBuilder::response_to(&request, code, None, Some(&local_tag(&request)))
                        .header(sip::HeaderName::Server, SERVER);
                self.respond(&key, resp).await;
                None
            }
            TxIncoming::Malformed { message, error } => {
                if message.is_request() && message.method() != Some(&sip::Method::Ack) {
                    tracing::info!(source = %source.addr, %error, "request cannot be matched");
                    let resp = MessageBuilder::response_to(
                        &message,
                        400,
                        Some(&format!("Bad request: {error}")),
                        Some(&local_tag(&message)),
                    )
                    .header(sip::HeaderName::Server, SERVER)
                    .build();
                    if let Ok(resp) = resp {
                        self.send_stateless(&resp, source).await;
                    }
                }
                None
            }
            TxIncoming::StrayAck(_) | TxIncoming::Absorbed => None,
            other => {
                tracing::debug!(source = %source.addr, "ignored: {other:?}");
                None
            }
        }
    }

    /// Sends the final (or provisional) response of server transaction `key`.
    pub(crate) async fn respond(&self, key: &TransactionKey, response: MessageBuilder) {
        let response = match response.build() {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "cannot build a response");
                return;
            }
        };
        let (sends, next) = {
            let mut txs = lock(&self.transactions);
            if let Err(e) = txs.layer.send_response(Instant::now(), key, response) {
                tracing::warn!(error = %e, "response not sent");
            }
            (drain(&mut txs), txs.layer.poll_timeout())
        };
        self.wake_timers_if_earlier(next);
        self.send_all(sends).await;
    }

    fn nanos_since_epoch(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.timer_epoch).as_nanos()).unwrap_or(u64::MAX)
    }

    /// Wakes the timer task when `next` is earlier than the wake-up it planned.
    fn wake_timers_if_earlier(&self, next: Option<Instant>) {
        if let Some(next) = next {
            if self.nanos_since_epoch(next) < self.timer_deadline.load(Ordering::Acquire) {
                self.timers_changed.notify_one();
            }
        }
    }

    /// The timer task records when it will wake up next (`None`: only when woken).
    pub(crate) fn set_timer_deadline(&self, at: Option<Instant>) {
        let nanos = at.map_or(u64::MAX, |at| self.nanos_since_epoch(at));
        self.timer_deadline.store(nanos, Ordering::Release);
    }

    /// Fires due timers; returns when the next one is due.
    pub(crate) async fn handle_timeout(&self) -> Option<Instant> {
        let (sends, next) = {
            let mut txs = lock(&self.transactions);
            txs.layer.handle_timeout(Instant::now());
            let sends = drain(&mut txs);
            (sends, txs.layer.poll_timeout())
        };
        self.send_all(sends).await;
        next
    }

    /// Number of live transactions.
    pub(crate) fn transaction_count(&self) -> usize {
        lock(&self.transactions).layer.len()
    }

    async fn send_all(&self, sends: Vec<(Route, Bytes)>) {
        for (route, bytes) in sends {
            if let Err(e) = self
                .transports
                .send(route.protocol, Some(route.local), route.dest, bytes)
                .await
            {
                tracing::warn!(error = %e, "send failed");
            }
        }
    }

    async fn send_stateless(&self, response: &Message, source: Source) {
        if let Some(route) = response_route(response, source) {
            self.send_all(vec![(route, response.as_bytes().clone())])
                .await;
        }
    }
}

/// Collects what the transaction layer wants sent, with the routes; forgets the routes of
/// terminated transactions.
fn drain(txs: &mut Transactions) -> Vec<(Route, Bytes)> {
    let mut sends = Vec::new();
    while let Some(t) = txs.layer.poll_transmit() {
        match txs.routes.get(&t.key) {
            Some(route) => sends.push((*route, t.payload)),
            None => tracing::debug!(key = %t.key, "no route for a transmit"),
        }
    }
    while let Some(event) = txs.layer.poll_event() {
        match event {
            Event::Terminated(key) => {
                txs.routes.remove(&key);
            }
            Event::Timeout { key, timer } => {
                tracing::debug!(%key, ?timer, "transaction timed out");
            }
            _ => {}
        }
    }
    sends
}

/// Adds `received`/`rport` to the top Via when RFC 3261 §18.2.1 / RFC 3581 §4 ask; the
/// message is unchanged when nothing is to be added or its Via is malformed (the
/// transaction layer then reports it).
fn stamp_received(message: Message, source: SocketAddr) -> Message {
    let mut edit = message.edit();
    match edit.stamp_received(source) {
        Ok(true) => match edit.finish() {
            Ok(m) => m,
            Err(_) => message,
        },
        _ => message,
    }
}

/// Where responses to a request go (RFC 3261 §18.2.2, RFC 3581 §4): back on the connection
/// for a stream; for UDP to the source address, at the source port when the Via has
/// `rport`, else at the Via's sent-by port (default 5060). Works on the request or on a
/// response built from it (same top Via).
fn response_route(message: &Message, source: Source) -> Option<Route> {
    let dest = if source.reliable() {
        source.addr
    } else {
        let via = message.top_via().ok()?;
        let port = match via.rport() {
            Some(_) => source.addr.port(),
            None => via.port.unwrap_or(5060),
        };
        SocketAddr::new(source.addr.ip(), port)
    };
    Some(Route {
        protocol: source.local.protocol,
        local: source.local.addr,
        dest,
    })
}

/// A To tag for responses the server generates itself, the same for every retransmission
/// of one request (RFC 3261 §8.2.6.2).
pub(crate) fn local_tag(msg: &Message) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    msg.call_id().unwrap_or("").hash(&mut h);
    msg.from()
        .ok()
        .and_then(|f| f.tag())
        .unwrap_or("")
        .hash(&mut h);
    msg.cseq().map(|c| c.seq).unwrap_or(0).hash(&mut h);
    format!("{:016x}", h.finish())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn source(protocol: Protocol) -> Source {
        Source {
            addr: "192.0.2.7:40000".parse().unwrap(),
            local: Listen {
                protocol,
                addr: "192.0.2.1:5060".parse().unwrap(),
            },
        }
    }

    fn request(via: &str) -> Message {
        Message::parse(format!(
            "OPTIONS sip:example.com SIP/2.0\r\nVia: {via}\r\nFrom: <sip:a@example.com>;tag=9\r\n\
To: <sip:example.com>\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
        ))
        .unwrap()
    }

    #[test]
    fn responses_go_to_rport_via_port_or_the_connection() {
        let r = response_route(
            &request("SIP/2.0/UDP 10.0.0.2:5062;branch=z9hG4bK-1;rport"),
            source(Protocol::Udp),
        )
        .unwrap();
        assert_eq!(r.dest, "192.0.2.7:40000".parse().unwrap());
        let r = response_route(
            &request("SIP/2.0/UDP 10.0.0.2:5062;branch=z9hG4bK-1"),
            source(Protocol::Udp),
        )
        .unwrap();
        assert_eq!(r.dest, "192.0.2.7:5062".parse().unwrap());
        let r = response_route(
            &request("SIP/2.0/TCP 10.0.0.2:5062;branch=z9hG4bK-1"),
            source(Protocol::Tcp),
        )
        .unwrap();
        assert_eq!(r.dest, "192.0.2.7:40000".parse().unwrap());
    }

    #[test]
    fn received_is_stamped_on_arrival() {
        let m = stamp_received(
            request("SIP/2.0/UDP 10.0.0.2:5062;branch=z9hG4bK-1;rport"),
            "192.0.2.7:40000".parse().unwrap(),
        );
        let via = m.top_via().unwrap();
        assert_eq!(via.rport(), Some(Some(40000)));
        assert_eq!(via.received(), Some("192.0.2.7".parse().unwrap()));
    }
}
