//! The server core: the shared state of a running server and the path of a message through
//! it. Transport → [`Core::receive`] (Via stamping, RFC 3581) → the transaction layer
//! (retransmissions absorbed, §17.2) → [`crate::policy`] for new requests → the answer back
//! through the transaction, sent where §18.2.2 says.
//!
//! The transaction layer, the location index and the nonce verifier are each behind a
//! mutex held only for synchronous work; store queries and sends happen outside the locks,
//! so requests that wait for the database do not hold up the others.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ahash::HashMap;
use bytes::Bytes;
use locate::{LocateError, Locator};
use sip::build::reject_unparsed;
use sip::sanity::Rejection;
use sip::transaction::{Event, Incoming as TxIncoming, Side, TransactionKey, TransactionLayer};
use sip::uri::{Host, SipUri};
use sip::{Message, MessageBuilder};
use store::Store;
use tokio::sync::Notify;
use transport::{Incoming, Listen, Protocol, Transports};

use crate::accounting::Calls;
use crate::auth::DigestAuth;
use crate::config::ServerConfig;
use crate::domains::Domains;
use crate::location::Location;
use crate::persist::LocationWriter;
use crate::proxy::table::{Env, Layer, NewContext, ProxyTable};
use crate::proxy::{ContextConfig, Forward, Hop, LocalAddr, OwnAddresses};

/// The granularity of transaction and proxy timers: they fire at the end of the tick they
/// fall in, so one wake-up of the timer task serves every timer of a tick (at 500 calls/s a
/// few dozen transactions end per tick). A few milliseconds late is nothing to SIP's
/// timers (T1 = 500 ms, RFC 3261 §17.1.1.1).
pub(crate) const TIMER_TICK: Duration = Duration::from_millis(10);

/// How late the transaction timers that only absorb retransmissions (D, I, J, K, L, M:
/// [`sip::transaction::Timer::absorbs`]) may end their transactions: at 500 calls/s
/// transactions end continuously, and with their own deadlines the timer task woke every
/// tick for 32 s after the last call; on a one-second grid it wakes once a second for
/// them. Retransmissions and timeouts keep [`TIMER_TICK`].
pub(crate) const ABSORB_SLACK: Duration = Duration::from_secs(1);

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

/// Where the messages of a transaction go: for a server transaction, where its responses
/// go (§18.2.2); for a client transaction, the next hop of its request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Route {
    pub(crate) protocol: Protocol,
    /// The local socket (UDP: the one to send from).
    pub(crate) local: SocketAddr,
    pub(crate) dest: SocketAddr,
}

/// The transaction layer, the route of each transaction's messages and the proxy's
/// response contexts, which all change together.
#[derive(Debug)]
pub(crate) struct Transactions {
    layer: TransactionLayer,
    routes: HashMap<TransactionKey, Route>,
    proxy: ProxyTable,
}

impl Transactions {
    /// The proxy's table and the layer it works on, borrowed apart.
    fn split<'a>(&'a mut self, env: &'a dyn Env) -> (&'a mut ProxyTable, Layer<'a>) {
        (
            &mut self.proxy,
            Layer {
                layer: &mut self.layer,
                routes: &mut self.routes,
                env,
            },
        )
    }
}

/// What a received message leaves for the routing policy, after the transaction layer.
#[derive(Debug)]
pub(crate) enum Work {
    /// A new request, with its server transaction.
    Request {
        key: TransactionKey,
        request: Message,
        source: Source,
    },
    /// An ACK outside any transaction of ours (for a 2xx, end to end, §13.2.2.4): forwarded
    /// statelessly along its Route set.
    Ack { ack: Message, source: Source },
    /// A response that matches no client transaction of ours (a 2xx retransmission after
    /// the transaction ended, or a stray): forwarded statelessly (§16.7, §16.11).
    StrayResponse(Message),
}

/// Bytes to send, and the transaction they belong to (to learn of a send failure).
type Send = (Option<TransactionKey>, Route, Bytes);

/// The shared state of a running server.
#[derive(Debug)]
pub(crate) struct Core {
    pub(crate) config: ServerConfig,
    pub(crate) store: Store,
    pub(crate) transports: Transports,
    /// The sockets bound, with the ports the OS chose.
    pub(crate) listens: Vec<Listen>,
    pub(crate) domains: Domains,
    /// The subscribers' digest credentials, cached in front of the store.
    pub(crate) credentials: crate::credentials::Credentials,
    /// The subscribers' call forwarding, cached in front of the store.
    pub(crate) forwarding: crate::forwarding::ForwardingCache,
    pub(crate) location: Mutex<Location>,
    pub(crate) auth: Mutex<DigestAuth>,
    pub(crate) writer: LocationWriter,
    /// Live calls and accounting.
    pub(crate) calls: Calls,
    /// Keepalives to NATed bindings and their answers.
    pub(crate) pinger: Mutex<crate::natping::Pinger>,
    /// The RTP relay control; `None` when the policy is `never`.
    pub(crate) relay: Option<std::sync::Arc<crate::media_relay::MediaRelay>>,
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
    /// RFC 3263 lookups, with their cache.
    locator: Locator,
    /// Whether an IP address is one of this machine's (for sockets bound to 0.0.0.0/::).
    local_ips: Mutex<HashMap<IpAddr, bool>>,
    /// The source address the OS picks toward a destination (for sockets bound to
    /// 0.0.0.0/::, what Via and Record-Route advertise).
    outbound_ips: Mutex<HashMap<IpAddr, IpAddr>>,
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
    /// The core over the parts [`crate::Server::start`] prepared (its only caller).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        config: ServerConfig,
        store: Store,
        transports: Transports,
        domains: Domains,
        location: Location,
        secret: &[u8; 32],
        relay: Option<crate::media_relay::MediaRelay>,
        writer: LocationWriter,
        calls: Calls,
    ) -> Core {
        let relay = relay.map(std::sync::Arc::new);
        let mut seed = [0u8; 8];
        seed.copy_from_slice(&secret[..8]);
        let locator = locator_for(&config.proxy.nameservers);
        Core {
            locator,
            auth: Mutex::new(
                DigestAuth::new(secret, config.nonce_lifetime)
                    .with_algorithms(&config.digest_algorithms),
            ),
            transactions: Mutex::new(Transactions {
                layer: TransactionLayer::new(sip::transaction::TimerConfig {
                    absorb_slack: ABSORB_SLACK,
                    ..config.timers
                }),
                routes: HashMap::default(),
                proxy: ProxyTable::default(),
            }),
            writer,
            calls,
            credentials: crate::credentials::Credentials::new(store.clone()),
            forwarding: crate::forwarding::ForwardingCache::new(store.clone()),
            pinger: Mutex::new(crate::natping::Pinger::new()),
            relay,
            location: Mutex::new(location),
            config,
            store,
            listens: transports.local_addrs(),
            transports,
            domains,
            timers_changed: Notify::new(),
            timer_deadline: AtomicU64::new(u64::MAX),
            timer_epoch: Instant::now(),
            random_seed: u64::from_le_bytes(seed),
            random_counter: AtomicU64::new(0),
            local_ips: Mutex::new(HashMap::default()),
            outbound_ips: Mutex::new(HashMap::default()),
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

    /// Takes in one message from the transports: Via stamping, the transaction layer, and
    /// the proxy's contexts for responses and CANCELs. Returns what is left for the routing
    /// policy.
    pub(crate) async fn receive(&self, incoming: Incoming) -> Option<Work> {
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
            if self.keepalive_answered(&message) {
                return None;
            }
            let (message, natted) = self.fix_nated_reply(message, source);
            match self.relay_party(&message, source, natted) {
                Some((relay, party)) => {
                    // Boxed, in a statement of its own: the relay's exchange is large,
                    // and would otherwise take room in every message's future
                    // (`run::handle`).
                    let relayed = Box::pin(relay.on_response(message, party));
                    relayed.await
                }
                None => message,
            }
        };
        let now = Instant::now();
        let (work, sends, next) = {
            let mut guard = lock(&self.transactions);
            let txs = &mut *guard;
            let result = txs.layer.handle(now, message, source.reliable());
            let work = self.take(txs, now, result, source);
            let sends = self.pump(txs, now);
            (work, sends, next_timeout(txs))
        };
        self.wake_timers_if_earlier(next);
        self.send_all(sends).await;
        match work {
            Taken::Work(work) => Some(work),
            Taken::Nothing => None,
            Taken::Unmatchable { message, error } => {
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
        }
    }

    /// Whether a response answers one of our keepalive OPTIONS ([`crate::natping`]); it
    /// goes no further.
    fn keepalive_answered(&self, response: &Message) -> bool {
        let ping = &self.config.nat.ping;
        if ping.targets == crate::nat::PingTargets::None
            || ping.method != crate::nat::PingMethod::Options
        {
            return false;
        }
        let answered = lock(&self.pinger).answered(response, &self.config.nat.ping);
        match answered {
            crate::natping::Answered::NotOurs => false,
            crate::natping::Answered::Binding((aor, contact), true) => {
                tracing::info!(%aor, %contact, "binding answers keepalives again: reachable");
                true
            }
            crate::natping::Answered::Binding(..) | crate::natping::Answered::Late => true,
        }
    }

    /// The NAT fix of a response (the seed's `onreply_route`): a response whose Contact
    /// (or SDP) holds a private address while it came from a public one has its Contact
    /// rewritten to where it came from, so the caller's in-dialog requests reach the callee
    /// through its NAT (`fix_nated_contact`).
    /// Also answers whether the response looked sent from behind a NAT.
    fn fix_nated_reply(&self, response: Message, source: Source) -> (Message, bool) {
        let nat = &self.config.nat;
        if response.header(sip::HeaderName::Contact).is_none() {
            return (response, false);
        }
        let fired = nat.tests.detect_reply(&response, source.addr);
        if fired.is_empty() {
            return (response, false);
        }
        tracing::debug!(source = %source.addr, tests = %fired, "response from behind a NAT");
        if !nat.fix_contact {
            return (response, true);
        }
        let fixed = crate::nat::fix_message_contact(&response, source.addr, source.reliable())
            .unwrap_or(response);
        (fixed, true)
    }

    /// The relay and the party a response's SDP comes from, when that SDP goes through the
    /// relay ([`crate::media_relay`]): a response with SDP in a relayed call.
    fn relay_party(
        &self,
        response: &Message,
        source: Source,
        natted: bool,
    ) -> Option<(&crate::media_relay::MediaRelay, crate::media_relay::Party)> {
        let relay = self.relay.as_ref()?;
        if !crate::media_relay::has_sdp(response)
            || !response.call_id().is_ok_and(|c| relay.is_relayed(c))
        {
            return None;
        }
        // The rewritten SDP goes to the one the response goes to: the Via below ours.
        let upstream = response.vias().nth(1).and_then(|v| {
            let v = v.ok()?;
            v.received().or(crate::nat::host_ip(&v.host))
        });
        let party = crate::media_relay::Party {
            source: source.addr.ip(),
            natted,
            facing: upstream.and_then(|ip| self.outbound_ip(ip)),
        };
        Some((relay, party))
    }

    /// What the transaction layer's verdict on a received message means, under the lock.
    fn take(
        &self,
        txs: &mut Transactions,
        now: Instant,
        result: TxIncoming,
        source: Source,
    ) -> Taken {
        match result {
            TxIncoming::NewRequest { key, request } => {
                if let Some(route) = response_route(&request, source, self.config.nat.force_rport) {
                    txs.routes.insert(key.clone(), route);
                }
                Taken::Work(Work::Request {
                    key,
                    request,
                    source,
                })
            }
            TxIncoming::Cancel {
                key,
                request,
                invite,
            } => {
                if let Some(route) = response_route(&request, source, self.config.nat.force_rport) {
                    txs.routes.insert(key.clone(), route);
                }
                // §9.2 / §16.10: 200 for a CANCEL that matches an INVITE, then the INVITE's
                // branches are cancelled; 481 when none matches.
                let code = if invite.is_some() { 200 } else { 481 };
                let resp =
                    MessageBuilder::response_to(&request, code, None, Some(&local_tag(&request)))
                        .header(sip::HeaderName::Server, SERVER)
                        .build();
                match resp {
                    Ok(resp) => {
                        if let Err(e) = txs.layer.send_response(now, &key, resp) {
                            tracing::warn!(error = %e, "CANCEL not answered");
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot build a response"),
                }
                if let Some(invite) = invite {
                    let (proxy, mut tx) = txs.split(self);
                    proxy.on_cancel(now, &mut tx, &invite);
                }
                Taken::Nothing
            }
            TxIncoming::Response { key, response } => {
                let (proxy, mut tx) = txs.split(self);
                match proxy.on_response(now, &mut tx, &key, response) {
                    Some(stray) => Taken::Work(Work::StrayResponse(stray)),
                    None => Taken::Nothing,
                }
            }
            TxIncoming::StrayResponse(response) => Taken::Work(Work::StrayResponse(response)),
            TxIncoming::Ack2xx { ack, .. } | TxIncoming::StrayAck(ack) => {
                Taken::Work(Work::Ack { ack, source })
            }
            TxIncoming::Malformed { message, error } => Taken::Unmatchable { message, error },
            TxIncoming::Absorbed => Taken::Nothing,
            other => {
                tracing::debug!(source = %source.addr, "ignored: {other:?}");
                Taken::Nothing
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
        let now = Instant::now();
        let (sends, next) = {
            let mut txs = lock(&self.transactions);
            if let Err(e) = txs.layer.send_response(now, key, response) {
                tracing::warn!(error = %e, "response not sent");
            }
            (self.pump(&mut txs, now), next_timeout(&txs))
        };
        self.wake_timers_if_earlier(next);
        self.send_all(sends).await;
    }

    /// Forwards the request of server transaction `key` statefully (§16): `100 Trying`
    /// for an INVITE (§16.2), then the branches of `forward`.
    pub(crate) async fn proxy(&self, key: &TransactionKey, forward: Forward, source: Source) {
        let now = Instant::now();
        let inbound = self.local_for(&Hop {
            protocol: source.local.protocol,
            addr: source.addr,
        });
        let (sends, next) = {
            let mut guard = lock(&self.transactions);
            let txs = &mut *guard;
            let invite = key.method() == &sip::Method::Invite;
            if invite {
                if let Some(trying) = txs
                    .layer
                    .request(key)
                    .and_then(|r| MessageBuilder::response_to(r, 100, None, None).build().ok())
                {
                    if let Err(e) = txs.layer.send_response(now, key, trying) {
                        tracing::debug!(error = %e, "100 Trying not sent");
                    }
                }
            }
            let config = ContextConfig {
                invite,
                timer_c: self.config.proxy.timer_c,
                cancel_wait: self.config.timers.t1 * 64,
            };
            let (proxy, mut tx) = txs.split(self);
            // A call set-up we stay in (record-routed initial INVITE) is accounted.
            let accounted = invite
                && forward.record_route
                && tx
                    .layer
                    .request(key)
                    .is_some_and(|r| r.to().is_ok_and(|t| t.tag().is_none()));
            if accounted {
                if let Some(request) = tx.layer.request(key) {
                    self.calls.started(request, source.addr.ip());
                }
            }
            match inbound {
                Some((_, inbound)) => proxy.start(
                    now,
                    &mut tx,
                    key.clone(),
                    NewContext {
                        forward,
                        inbound,
                        config,
                        accounted,
                    },
                ),
                None => tracing::warn!(local = %source.local, "no address for the inbound side"),
            }
            (self.pump(txs, now), next_timeout(txs))
        };
        self.wake_timers_if_earlier(next);
        self.send_all(sends).await;
    }

    fn nanos_since_epoch(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.timer_epoch).as_nanos()).unwrap_or(u64::MAX)
    }

    /// `at` rounded up to the next [`TIMER_TICK`] since the epoch, in nanoseconds.
    fn tick_nanos(&self, at: Instant) -> u64 {
        let tick = TIMER_TICK.as_nanos() as u64;
        self.nanos_since_epoch(at)
            .div_ceil(tick)
            .saturating_mul(tick)
    }

    /// When the timer task wakes up for a timer due at `at`: the end of its
    /// [`TIMER_TICK`], so timers due within one tick fire in one wake-up.
    pub(crate) fn timer_wake_up(&self, at: Instant) -> Instant {
        self.timer_epoch + Duration::from_nanos(self.tick_nanos(at))
    }

    /// Wakes the timer task when `next` falls in an earlier tick than the wake-up it
    /// planned.
    fn wake_timers_if_earlier(&self, next: Option<Instant>) {
        if let Some(next) = next {
            if self.tick_nanos(next) < self.timer_deadline.load(Ordering::Acquire) {
                self.timers_changed.notify_one();
            }
        }
    }

    /// The timer task records when it will wake up next (a [`Core::timer_wake_up`] time;
    /// `None`: only when woken).
    pub(crate) fn set_timer_deadline(&self, at: Option<Instant>) {
        let nanos = at.map_or(u64::MAX, |at| self.nanos_since_epoch(at));
        self.timer_deadline.store(nanos, Ordering::Release);
    }

    /// Fires due timers (transactions, then the proxy's Timer C); returns when the next
    /// one is due.
    pub(crate) async fn handle_timeout(&self) -> Option<Instant> {
        let now = Instant::now();
        let (sends, next) = {
            let mut guard = lock(&self.transactions);
            let txs = &mut *guard;
            txs.layer.handle_timeout(now);
            let (proxy, mut tx) = txs.split(self);
            proxy.handle_timeout(now, &mut tx);
            (self.pump(txs, now), next_timeout(txs))
        };
        self.send_all(sends).await;
        next
    }

    /// Forgets server transaction `key` (after forwarding its request statelessly: a
    /// retransmission is forwarded again, §16.11).
    pub(crate) async fn forget(&self, key: &TransactionKey) {
        lock(&self.transactions).layer.terminate(key);
        // The layer drops terminated transactions when its timers run: now.
        self.handle_timeout().await;
    }

    /// Number of live transactions.
    pub(crate) fn transaction_count(&self) -> usize {
        lock(&self.transactions).layer.len()
    }

    /// Number of requests being proxied (response contexts).
    pub(crate) fn proxied_count(&self) -> usize {
        lock(&self.transactions).proxy.len()
    }

    /// Collects what the transaction layer wants sent, with the routes, and passes its
    /// events on: client timeouts to the proxy (a 408 on that branch), terminations to
    /// the route table and the proxy. Events can queue more to send; repeats until quiet.
    fn pump(&self, txs: &mut Transactions, now: Instant) -> Vec<Send> {
        let mut sends = Vec::new();
        loop {
            while let Some(t) = txs.layer.poll_transmit() {
                match txs.routes.get(&t.key) {
                    Some(route) => sends.push((Some(t.key), *route, t.payload)),
                    None => tracing::debug!(key = %t.key, "no route for a transmit"),
                }
            }
            let mut events = Vec::new();
            while let Some(event) = txs.layer.poll_event() {
                events.push(event);
            }
            if events.is_empty() {
                return sends;
            }
            let (proxy, mut tx) = txs.split(self);
            for event in events {
                match event {
                    Event::Terminated(key) => {
                        tx.routes.remove(&key);
                        proxy.on_terminated(&key);
                    }
                    Event::Timeout { key, timer } => {
                        tracing::debug!(%key, ?timer, "transaction timed out");
                        if key.side() == Side::Client {
                            proxy.on_client_failed(now, &mut tx, &key, 408);
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    /// Sends; a client transaction whose request cannot be sent fails its branch with 503
    /// (RFC 3261 §16.9) and ends.
    async fn send_all(&self, mut sends: Vec<Send>) {
        while !sends.is_empty() {
            let mut failed = Vec::new();
            for (key, route, bytes) in sends {
                if let Err(e) = self
                    .transports
                    .send(route.protocol, Some(route.local), route.dest, bytes)
                    .await
                {
                    tracing::warn!(error = %e, "send failed");
                    if let Some(key) = key.filter(|k| k.side() == Side::Client) {
                        failed.push(key);
                    }
                }
            }
            if failed.is_empty() {
                return;
            }
            let now = Instant::now();
            let mut guard = lock(&self.transactions);
            let txs = &mut *guard;
            for key in &failed {
                let (proxy, mut tx) = txs.split(self);
                if tx.layer.terminate(key) {
                    proxy.on_client_failed(now, &mut tx, key, 503);
                }
            }
            sends = self.pump(txs, now);
        }
    }

    async fn send_stateless(&self, response: &Message, source: Source) {
        if let Some(route) = response_route(response, source, self.config.nat.force_rport) {
            self.send_all(vec![(None, route, response.as_bytes().clone())])
                .await;
        }
    }

    /// Sends a message outside any transaction (a forwarded ACK or stray response).
    pub(crate) async fn send_to(&self, hop: Hop, bytes: Bytes) {
        let Some((local, _)) = self.local_for(&hop) else {
            tracing::info!(dest = %hop.addr, protocol = %hop.protocol, "no socket to send on");
            return;
        };
        let route = Route {
            protocol: hop.protocol,
            local,
            dest: hop.addr,
        };
        self.send_all(vec![(None, route, bytes)]).await;
    }

    /// The next hops of a SIP URI whose host is a name (RFC 3263 §4: NAPTR, SRV, A/AAAA),
    /// in failover order. A name with no records is 404; DNS failures and transports we
    /// cannot use are 480, with the reason in the phrase and the log.
    pub(crate) async fn locate(&self, uri: &SipUri<'_>) -> Result<Vec<Hop>, Rejection> {
        match self.locator.locate(uri).await {
            Ok(targets) if !targets.is_empty() => Ok(targets
                .into_iter()
                .map(|t| Hop {
                    protocol: t.protocol,
                    addr: t.addr,
                })
                .collect()),
            Ok(_) => Err(Rejection::new(404, "Destination domain not found")),
            Err(LocateError::NotFound { name }) => {
                tracing::info!(%name, "no DNS records");
                Err(Rejection::new(404, "Destination domain not found"))
            }
            Err(e) => {
                tracing::info!(uri = %uri, error = %e, "destination not located");
                Err(Rejection::new(
                    480,
                    format!("Destination not reachable: {e}"),
                ))
            }
        }
    }

    /// Whether `ip` is an address of this machine.
    fn is_local_ip(&self, ip: IpAddr) -> bool {
        if ip.is_loopback() {
            return true;
        }
        let mut cache = lock(&self.local_ips);
        if let Some(known) = cache.get(&ip) {
            return *known;
        }
        // Binding succeeds only for an address of one of our interfaces.
        let local = std::net::UdpSocket::bind(SocketAddr::new(ip, 0)).is_ok();
        if cache.len() < 1024 {
            cache.insert(ip, local);
        }
        local
    }

    /// The source address the OS uses toward `dest` (no packet is sent: a UDP connect only
    /// asks the routing table).
    pub(crate) fn outbound_ip(&self, dest: IpAddr) -> Option<IpAddr> {
        let mut cache = lock(&self.outbound_ips);
        if let Some(ip) = cache.get(&dest) {
            return Some(*ip);
        }
        let ip = transport::local_ip_towards(dest).ok()?;
        if cache.len() < 4096 {
            cache.insert(dest, ip);
        }
        Some(ip)
    }
}

impl Env for Core {
    fn local_for(&self, hop: &Hop) -> Option<(SocketAddr, LocalAddr)> {
        let listen = self
            .listens
            .iter()
            .find(|l| l.protocol == hop.protocol && l.addr.is_ipv4() == hop.addr.is_ipv4())?;
        let ip = if listen.addr.ip().is_unspecified() {
            self.outbound_ip(hop.addr.ip())?
        } else {
            listen.addr.ip()
        };
        let host = match ip {
            IpAddr::V4(_) => sip::text::ip_text(ip),
            IpAddr::V6(v6) => format!("[{v6}]"),
        };
        Some((
            listen.addr,
            LocalAddr {
                protocol: hop.protocol,
                host,
                port: listen.addr.port(),
            },
        ))
    }

    fn unique(&self) -> u64 {
        self.random()
    }

    fn call_outcome(&self, invite: &Message, code: u16, reason: &str, to_tag: Option<&str>) {
        self.calls.answered_or_failed(invite, code, reason, to_tag);
        if code >= 300 {
            if let (Some(relay), Ok(call_id)) = (&self.relay, invite.call_id()) {
                if relay.is_relayed(call_id) {
                    let (relay, call_id) = (relay.clone(), call_id.to_owned());
                    tokio::spawn(async move { relay.on_failure(&call_id).await });
                }
            }
        }
    }
}

impl OwnAddresses for Core {
    fn is_own(&self, host: &Host<'_>, port: Option<u16>, domains: bool) -> bool {
        let port = port.unwrap_or(5060);
        let ip: IpAddr = match host {
            Host::V4(ip) => (*ip).into(),
            Host::V6(ip) => (*ip).into(),
            Host::Name(name) => {
                return domains
                    && self.domains.is_known(name)
                    && self.listens.iter().any(|l| l.addr.port() == port);
            }
        };
        self.listens.iter().any(|l| {
            l.addr.port() == port
                && (l.addr.ip() == ip
                    || l.addr.ip().is_unspecified()
                        && l.addr.is_ipv4() == ip.is_ipv4()
                        && self.is_local_ip(ip))
        })
    }
}

/// What [`Core::receive`] found, before anything is sent.
enum Taken {
    Work(Work),
    Nothing,
    /// The transaction layer could not match it: a request gets a stateless 400.
    Unmatchable {
        message: Message,
        error: sip::ParseError,
    },
}

/// The DNS resolver: the configured name servers, else the system's; without either,
/// lookups fail with a clear reason (and IP targets still work).
fn locator_for(nameservers: &[SocketAddr]) -> Locator {
    if !nameservers.is_empty() {
        return Locator::with_nameservers(nameservers);
    }
    Locator::from_system().unwrap_or_else(|e| {
        tracing::warn!(error = %e, "no system DNS configuration; domain names cannot be resolved");
        Locator::with_nameservers(&[])
    })
}

/// The earliest of the transaction timers and the proxy's.
fn next_timeout(txs: &Transactions) -> Option<Instant> {
    match (txs.layer.poll_timeout(), txs.proxy.poll_timeout()) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
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
/// response built from it (same top Via). With `force_rport`, a Via whose address is not
/// the source's (a NAT rewrote the packet: `received` was stamped) is answered at the
/// source port as if it had `rport` (nathelper's `force_rport`).
fn response_route(message: &Message, source: Source, force_rport: bool) -> Option<Route> {
    let dest = if source.reliable() {
        source.addr
    } else {
        let via = message.top_via().ok()?;
        let natted = force_rport && via.received().is_some();
        let port = match via.rport() {
            Some(_) => source.addr.port(),
            None if natted => source.addr.port(),
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
    use std::hash::{BuildHasher, Hash, Hasher};
    // Fixed seeds: the same request gives the same tag (a tag only has to be unique, not
    // secret; the Call-ID and From tag make it so).
    let mut h = ahash::RandomState::with_seeds(0x6974_7370, 1, 2, 3).build_hasher();
    msg.call_id().unwrap_or("").hash(&mut h);
    msg.from()
        .ok()
        .and_then(|f| f.tag())
        .unwrap_or("")
        .hash(&mut h);
    msg.cseq().map(|c| c.seq).unwrap_or(0).hash(&mut h);
    sip::text::hex(&h.finish().to_be_bytes())
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
        let route = |via: &str, protocol, force| {
            let m = stamp_received(request(via), "192.0.2.7:40000".parse().unwrap());
            response_route(&m, source(protocol), force).unwrap().dest
        };
        let addr = |s: &str| -> SocketAddr { s.parse().unwrap() };
        let with_rport = "SIP/2.0/UDP 10.0.0.2:5062;branch=z9hG4bK-1;rport";
        let without = "SIP/2.0/UDP 10.0.0.2:5062;branch=z9hG4bK-1";
        assert_eq!(
            route(with_rport, Protocol::Udp, false),
            addr("192.0.2.7:40000")
        );
        assert_eq!(route(without, Protocol::Udp, false), addr("192.0.2.7:5062"));
        // force_rport: the Via's address is not the source's, so a NAT is in the way.
        assert_eq!(route(without, Protocol::Udp, true), addr("192.0.2.7:40000"));
        // ... but a phone that names its real address keeps its Via port.
        let honest = "SIP/2.0/UDP 192.0.2.7:5062;branch=z9hG4bK-1";
        assert_eq!(route(honest, Protocol::Udp, true), addr("192.0.2.7:5062"));
        let tcp = "SIP/2.0/TCP 10.0.0.2:5062;branch=z9hG4bK-1";
        assert_eq!(route(tcp, Protocol::Tcp, true), addr("192.0.2.7:40000"));
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
