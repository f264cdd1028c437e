//! The sans-IO engine of the SIP server, in the shape of `quinn-proto`: it is handed
//! messages and the time, and answers with what to send, when to wake it, and what I/O to
//! carry out. No sockets, no tasks, no clock, no store inside; the tokio shell
//! (`crate::shell`) does all of that.
//!
//! ```text
//! shell ── handle(now, Incoming) ──▶ Engine ── poll_transmit() ──▶ shell sends
//!       ── handle_timeout(now) ───▶        ── poll_timeout() ───▶ shell sleeps until
//!       ── complete(now, id, Answer) ─▶    ── poll_io() ────────▶ shell queries store/DNS/relay
//! ```
//!
//! Inside, a message goes:
//!
//! 0. requests (and malformed messages) pass the guards ([`crate::guard`]): banned and
//!    flooding sources stop here, trusted ones are never stopped;
//! 1. requests get `received`/`rport` (RFC 3581); responses that answer our keepalives stop
//!    here, and a reply from behind a NAT has its Contact fixed ([`crate::nat`]);
//! 2. the transaction layer (RFC 3261 §17) absorbs retransmissions and matches responses
//!    and CANCELs; the proxy's contexts (§16.7) take responses of their branches;
//! 3. a new request runs the main route (`crate::policy::route`) against what the engine
//!    knows; a `Halt::Need` files it until the shell's answer comes back, then it runs
//!    again;
//! 4. a request to forward passes the `on_forward` hooks and becomes a response context
//!    (or is forwarded statelessly); responses for the caller pass the `on_response`
//!    hooks, in order per transaction; calls tell the `on_dialog` hooks how they go
//!    (`crate::policy::hook::Hook`).
//!
//! ## Layout
//!
//! | module | concept |
//! |---|---|
//! | `mod.rs` | [`Engine`]: the state, the path of a message, the drive methods |
//! | [`io`] | what crosses the edge: [`Now`], [`Transmit`], [`IoRequest`], [`Query`], [`Answer`] |
//! | `addresses` | our sockets and domains, "is this us?", our address toward a next hop ([`HostNetwork`]) |
//! | `facts` | the caches of store answers and one request's answers; `Halt` |
//! | `hangup` | ending an answered call from the middle: what the proxy keeps of each, the BYEs to both parties |
//! | [`overload`] | when new requests get 503: too much waiting for I/O, too many transactions |
//! | `random` | the engine's random numbers, from a seed |

pub(crate) mod addresses;
pub(crate) mod facts;
pub(crate) mod hangup;
pub(crate) mod io;
pub(crate) mod overload;
pub(crate) mod random;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ahash::HashMap;
use sip::build::reject_unparsed;
use sip::transaction::{
    Event, Incoming as TxIncoming, Side, TimerConfig, TransactionKey, TransactionLayer,
};
use sip::{HeaderName, Message, MessageBuilder, Method};
use transport::{Incoming, Listen};

use addresses::Addresses;
pub(crate) use addresses::{HostNetwork, SystemNetwork};
use facts::{Answers, Facts, Halt};
pub(crate) use io::Route;
pub(crate) use io::{Answer, IoId, IoRequest, Now, Query, Source, Transmit};
use random::Random;

/// The [`HookCx`] of the engine `$engine` at `$now`, borrowing only the fields it needs (so
/// the hooks themselves can be borrowed beside it).
macro_rules! hook_cx {
    ($engine:ident, $now:expr) => {
        HookCx {
            now: $now,
            addresses: &mut $engine.addresses,
            io: &mut $engine.io,
            hang_ups: &mut $engine.hang_ups,
        }
    };
}

use crate::auth::DigestAuth;
use crate::config::ServerConfig;
use crate::guard::{Admit, Guard};
use crate::location::Location;
use crate::natping::Pinger;
use crate::policy::cx::{Cx, Memo};
use crate::policy::hook::{
    Arrival, DialogEvent, Direction, EndReason, Flow, HangUp, Hook, HookCx, IoQueue, Tapped,
};
use crate::policy::route::{self, Decision};
use crate::proxy::table::{Env, Failed, Layer, NewContext, ProxyTable, Upstream, UpstreamResponse};
use crate::proxy::{ContextConfig, Fallbacks, Forward, Hop, LocalAddr, Rewrites};
use crate::sip_text::{local_tag, WithServer};
use crate::trusted::Network;

/// How late the transaction timers that only absorb retransmissions (D, I, J, K, L, M:
/// [`sip::transaction::Timer::absorbs`]) may end their transactions: on a one-second grid
/// the shell's timer wakes once a second for them instead of at every transaction's end.
/// Retransmissions and timeouts keep their exact deadlines.
pub(crate) const ABSORB_SLACK: Duration = Duration::from_secs(1);

/// A request (or an ACK for a 2xx) whose decision is being made.
#[derive(Debug)]
struct Work {
    /// The server transaction; `None` for an ACK, which has none.
    key: Option<TransactionKey>,
    request: Message,
    source: Source,
    /// What it was told while it waited.
    answers: Answers,
    memo: Memo,
    /// Forwarded again by the failure phase: the caller had its 100 Trying, and the hooks
    /// were told the call started.
    failover: bool,
}

/// What waits for the answer to an [`IoRequest`].
// By value: an entry lives only while its I/O is on its way, and boxing would cost an
// allocation per waiting request.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
enum Waiting {
    /// Decisions stopped for `query`: every request that needs the same answer while it
    /// is on its way waits for the one query (a flood of requests for one unknown domain
    /// or user costs one store query, not one each).
    Decision {
        works: Vec<Work>,
        query: Query,
        /// The cache generation when it was asked.
        generation: u64,
    },
    /// A forward stopped at hook number `hook`.
    Forward {
        work: Work,
        forward: Forward,
        hook: usize,
    },
    /// A response for the caller stopped at hook number `hook`; later responses of its
    /// transaction queue in [`Engine::held`].
    Response {
        server: TransactionKey,
        response: Message,
        accounted: bool,
        arrival: Option<Arrival>,
        hook: usize,
    },
    /// A 200 to a REGISTER waits for its bindings' commit.
    Commit {
        key: TransactionKey,
        response: Message,
        aor: String,
        anew: bool,
    },
    /// A failed commit: the store's bindings of `aor` are read back.
    Reload { aor: String },
    /// A ban of the guard being written.
    Ban { network: String },
}

/// The server's sans-IO state. See the module docs.
pub(crate) struct Engine {
    config: ServerConfig,
    layer: TransactionLayer,
    routes: HashMap<TransactionKey, Route>,
    proxy: ProxyTable,
    addresses: Addresses,
    facts: Facts,
    location: Location,
    auth: DigestAuth,
    guard: Guard,
    pinger: Pinger,
    random: Random,
    hooks: Vec<Box<dyn Hook>>,
    /// Some hook taps every message ([`Hook::taps`]).
    tapping: bool,
    io: IoQueue,
    transmits: VecDeque<Transmit>,
    waiting: HashMap<IoId, Waiting>,
    /// The queries on their way, to share their answers.
    queries: HashMap<Query, IoId>,
    /// Requests whose decision, forward or response waits for I/O.
    parked: usize,
    /// Responses queued behind one that waits, per server transaction (so responses of a
    /// transaction leave in the order they arrived).
    held: HashMap<TransactionKey, VecDeque<(Upstream, Option<Arrival>)>>,
    /// The response being handled, for the `on_response` hooks.
    arrival: Option<Arrival>,
    /// Buffers of `pump`, kept for their capacity.
    scratch_upstream: Vec<Upstream>,
    scratch_events: Vec<Event>,
    /// Requests refused for overload since the last log line, and when that was.
    shed: (u64, Option<Instant>),
    /// The answered calls the proxy could end ([`hangup`]).
    answered: hangup::Answered,
    /// Calls the hooks asked to end, ended when the engine next pumps.
    hang_ups: Vec<HangUp>,
    /// The client transactions of our own requests (the BYEs of a hang-up): their
    /// responses stop here.
    own_requests: ahash::HashSet<TransactionKey>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("transactions", &self.layer.len())
            .field("proxied", &self.proxy.len())
            .field("waiting", &self.waiting.len())
            .finish_non_exhaustive()
    }
}

/// What the engine is built from.
pub(crate) struct EngineSetup {
    /// The settings.
    pub config: ServerConfig,
    /// The sockets bound (with the ports the OS chose).
    pub listens: Vec<Listen>,
    /// Served domains known at start.
    pub domains: Vec<String>,
    /// The location index, restored from the store.
    pub location: Location,
    /// The secret of the digest nonces; its first 8 bytes seed `Random`.
    pub secret: [u8; 32],
    /// The machine's address answers.
    pub network: Box<dyn HostNetwork>,
    /// The relay hook's settings (`None`: no relaying).
    pub relay: Option<crate::media_relay::RelaySetup>,
    /// The capture ring the capture hook fills (`None`: no capture).
    pub capture: Option<crate::capture::ring::SharedRing>,
    /// The counters the metrics hook fills (`None`: no metrics).
    pub metrics: Option<std::sync::Arc<crate::metrics::sip_counts::SipCounts>>,
    /// How each subscriber with an account pays, kept up to date by the shell.
    pub accounts: crate::billing::AccountBook,
    /// The rating plans in force (prepaid authorisation).
    pub rater: crate::rating::SharedRater,
}

impl Engine {
    /// A new engine.
    pub(crate) fn new(setup: EngineSetup) -> Engine {
        let EngineSetup {
            config,
            listens,
            domains,
            location,
            secret,
            network,
            relay,
            capture,
            metrics,
            accounts,
            rater,
        } = setup;
        let mut seed = [0u8; 8];
        seed.copy_from_slice(&secret[..8]);
        let hooks = crate::policy::hooks(&config, relay, capture, metrics, accounts, rater);
        let tapping = hooks.iter().any(|h| h.taps());
        Engine {
            auth: DigestAuth::new(&secret, config.nonce_lifetime)
                .with_algorithms(&config.digest_algorithms)
                .with_nonce_failures(config.guard.nonce_failures),
            guard: Guard::new(config.guard.clone(), config.trusted.clone()),
            layer: TransactionLayer::new(TimerConfig {
                absorb_slack: ABSORB_SLACK,
                ..config.timers
            }),
            routes: HashMap::default(),
            proxy: ProxyTable::default(),
            addresses: Addresses {
                listens,
                host: network,
                branches: Random::new(u64::from_le_bytes(seed).rotate_left(32) ^ 0x6974_7370),
                known_domains: domains
                    .iter()
                    .map(|d| crate::domains::normalize(d))
                    .collect(),
            },
            facts: Facts::new(),
            location,
            pinger: Pinger::new().with_user_agent(&config.server_header),
            random: Random::new(u64::from_le_bytes(seed)),
            hooks,
            tapping,
            io: IoQueue::default(),
            transmits: VecDeque::new(),
            waiting: HashMap::default(),
            queries: HashMap::default(),
            parked: 0,
            held: HashMap::default(),
            arrival: None,
            scratch_upstream: Vec::new(),
            scratch_events: Vec::new(),
            shed: (0, None),
            answered: hangup::Answered::default(),
            hang_ups: Vec::new(),
            own_requests: ahash::HashSet::default(),
            config,
        }
    }

    /// Takes in one message from the transports.
    pub(crate) fn handle(&mut self, now: Now, incoming: Incoming) {
        let source = Source {
            addr: incoming.source,
            local: incoming.local,
        };
        if self.tapping {
            let bytes = match &incoming.message {
                Ok(message) => message.as_bytes(),
                Err((_, bytes)) => bytes,
            };
            let tapped = Tapped {
                direction: Direction::In,
                protocol: source.local.protocol,
                local: Some(source.local.addr),
                remote: source.addr,
                bytes,
            };
            for hook in &mut self.hooks {
                hook.on_tap(now, &tapped);
            }
        }
        // The guards: bans and flood limits, before anything is parsed further.
        let is_request = incoming.message.as_ref().map_or(true, Message::is_request);
        if is_request {
            match self.guard.admit(now, source.addr.ip()) {
                Admit::Pass => {}
                Admit::Drop => {
                    for (source, until) in self.guard.take_blocks() {
                        self.io.push(IoRequest::Block { source, until });
                    }
                    return;
                }
                Admit::Refuse => {
                    if let Ok(request) = &incoming.message {
                        self.refuse_banned(now, request, source);
                    }
                    return;
                }
            }
        }
        let message = match incoming.message {
            Ok(m) => m,
            Err((error, bytes)) => {
                tracing::info!(source = %source.addr, local = %source.local, %error, "malformed message");
                if let Some(resp) = reject_unparsed(&bytes, &error) {
                    self.send_stateless(now, &resp, source);
                }
                return;
            }
        };
        let message = if message.is_request() {
            let message = stamp_received(message, source.addr);
            let admission = self
                .config
                .overload
                .before_transaction(&message, self.layer.len());
            if admission == overload::Admission::RefuseStatelessly {
                if let Some(busy) = self.service_unavailable(now, &message) {
                    self.send_stateless(now, &busy, source);
                }
                return;
            }
            message
        } else {
            if self.keepalive_answered(&message) {
                return;
            }
            let (message, natted) = crate::nat::fix_reply(&self.config.nat, message, source);
            self.arrival = Some(Arrival {
                source: source.addr,
                local: source.local,
                natted,
            });
            message
        };
        let result = self.layer.handle(now.instant, message, source.reliable());
        self.take(now, result, source);
        self.pump(now);
        self.arrival = None;
    }

    /// Fires due timers: transactions, then the proxy's Timer C and CANCEL waits, then
    /// the hooks' ([`Hook::poll_timeout`]).
    pub(crate) fn handle_timeout(&mut self, now: Now) {
        self.layer.handle_timeout(now.instant);
        let (proxy, mut tx) = self.split();
        proxy.handle_timeout(now.instant, &mut tx);
        for (call_id, reason) in self.answered.overdue(now.instant) {
            match reason {
                EndReason::NoAck => {
                    tracing::info!(%call_id, "no ACK for the answer: the caller is gone")
                }
                EndReason::SessionExpired => {
                    tracing::info!(%call_id, "the session timer ran out without a refresh")
                }
                _ => {
                    tracing::info!(%call_id, "the call reached its longest duration ([proxy] max_call_duration)")
                }
            }
            self.hang_ups.push(HangUp { call_id, reason });
        }
        for index in 0..self.hooks.len() {
            if self.hooks[index]
                .poll_timeout()
                .is_some_and(|due| due <= now.instant)
            {
                let mut cx = hook_cx!(self, now);
                self.hooks[index].on_timeout(&mut cx);
            }
        }
        self.pump(now);
    }

    /// When [`Engine::handle_timeout`] is next due.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        [
            self.layer.poll_timeout(),
            self.proxy.poll_timeout(),
            self.answered.next_deadline(),
        ]
        .into_iter()
        .chain(self.hooks.iter().map(|h| h.poll_timeout()))
        .flatten()
        .min()
    }

    /// The next bytes to send.
    pub(crate) fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next I/O to carry out. Requests come out in the order they were made; the
    /// binding commits must reach the store in that order.
    pub(crate) fn poll_io(&mut self) -> Option<IoRequest> {
        self.io.queue.pop_front()
    }

    /// The answer to I/O request `id`.
    pub(crate) fn complete(&mut self, now: Now, id: IoId, answer: Answer) {
        let Some(waiting) = self.waiting.remove(&id) else {
            // A hook's own request (asked outside a `Flow::Wait`).
            let mut taken = false;
            for index in 0..self.hooks.len() {
                let mut cx = hook_cx!(self, now);
                if self.hooks[index].on_answer(&mut cx, id, &answer) {
                    taken = true;
                    break;
                }
            }
            if !taken {
                tracing::debug!(id = id.0, "an answer nobody waits for");
            }
            self.pump(now);
            return;
        };
        match waiting {
            Waiting::Decision {
                works,
                query,
                generation,
            } => {
                self.queries.remove(&query);
                self.parked = self.parked.saturating_sub(works.len());
                self.facts.learn(
                    &query,
                    &answer,
                    generation,
                    now.instant,
                    &mut self.addresses.known_domains,
                );
                for mut work in works {
                    work.answers.push(query.clone(), answer.clone());
                    self.decide(now, work);
                }
            }
            Waiting::Forward {
                work,
                mut forward,
                hook,
            } => {
                self.parked = self.parked.saturating_sub(1);
                let mut cx = hook_cx!(self, now);
                let flow = match self.hooks.get_mut(hook) {
                    Some(h) => h.resume_forward(&mut cx, id, answer, &mut forward),
                    None => Flow::Continue,
                };
                match flow {
                    Flow::Wait(again) => {
                        self.parked += 1;
                        self.waiting.insert(
                            again,
                            Waiting::Forward {
                                work,
                                forward,
                                hook,
                            },
                        );
                    }
                    Flow::Refuse { code, reason } => self.refuse_forward(now, work, code, reason),
                    Flow::Continue => self.forward(now, work, forward, hook + 1),
                }
            }
            Waiting::Response {
                server,
                response,
                accounted,
                arrival,
                hook,
            } => {
                self.parked = self.parked.saturating_sub(1);
                let mut cx = hook_cx!(self, now);
                let response = match self.hooks.get_mut(hook) {
                    Some(h) => h.resume_response(&mut cx, id, answer, response),
                    None => response,
                };
                self.send_upstream(now, server, response, accounted, arrival, hook + 1);
            }
            Waiting::Commit {
                key,
                response,
                aor,
                anew,
            } => {
                self.parked = self.parked.saturating_sub(1);
                self.committed(now, key, response, aor, anew, answer);
            }
            Waiting::Ban { network } => match answer {
                Answer::Committed(Ok(())) => self.guard.stored(now, &network),
                other => tracing::error!(%network, answer = ?other, "ban not written to the store"),
            },
            Waiting::Reload { aor } => match answer {
                Answer::Bindings(rows) => {
                    let restored = rows
                        .into_iter()
                        .filter_map(crate::persist::from_store)
                        .map(|(_, b)| b)
                        .collect();
                    self.location.replace(&aor, restored);
                }
                other => {
                    tracing::error!(%aor, answer = ?other, "cannot reload bindings from the store")
                }
            },
        }
        self.pump(now);
    }

    /// The commit of a REGISTER's bindings is done: its 200 goes out (and a phone
    /// registered anew is told, [`IoRequest::Registered`]); a failed commit is answered
    /// 500 and the store's bindings of the AoR are read back.
    fn committed(
        &mut self,
        now: Now,
        key: TransactionKey,
        response: Message,
        aor: String,
        anew: bool,
        answer: Answer,
    ) {
        match answer {
            Answer::Committed(Ok(())) => {
                self.respond(now, &key, response);
                if anew {
                    self.io.push(IoRequest::Registered { aor });
                }
            }
            other => {
                let why = match other {
                    Answer::Committed(Err(e)) | Answer::StoreFailed(e) => e,
                    _ => "unexpected answer".to_owned(),
                };
                tracing::error!(%aor, error = %why, "bindings not saved; answering 500");
                self.reload_bindings(&aor);
                if let Some(request) = self.layer.request(&key) {
                    let failed = MessageBuilder::response_to(
                        request,
                        500,
                        Some("Bindings not saved"),
                        Some(&local_tag(request)),
                    )
                    .header(HeaderName::RetryAfter, "5")
                    .server(&self.config.server_header)
                    .build();
                    if let Ok(failed) = failed {
                        self.respond(now, &key, failed);
                    }
                }
            }
        }
    }

    /// A send of a client transaction's request failed: its branch fails with 503
    /// (RFC 3261 §16.9) and the transaction ends.
    pub(crate) fn send_failed(&mut self, now: Now, key: &TransactionKey) {
        if key.side() != Side::Client {
            return;
        }
        let (proxy, mut tx) = self.split();
        if tx.layer.terminate(key) {
            proxy.on_client_failed(now.instant, &mut tx, key, 503);
        }
        self.pump(now);
    }

    /// A round of keepalives to the bindings that want them ([`crate::natping`]); the
    /// pings are queued as transmits. Returns the round's statistics and the bindings
    /// found unreachable.
    pub(crate) fn keepalive_round(
        &mut self,
        now: Now,
    ) -> (crate::natping::PingStats, Vec<(String, String)>) {
        let config = self.config.nat.ping;
        let addresses = &mut self.addresses;
        let random = &mut self.random;
        let round = self.pinger.round(
            self.location.iter(),
            now.unix_secs(),
            &config,
            |protocol, addr| addresses.local_for(&Hop { protocol, addr }).map(|(_, l)| l),
            || random.next(),
        );
        for ping in round.pings {
            let local = ping
                .local
                .filter(|l| self.addresses.has_socket(ping.protocol, *l))
                .or_else(|| {
                    self.addresses
                        .local_for(&Hop {
                            protocol: ping.protocol,
                            addr: ping.dest,
                        })
                        .map(|(socket, _)| socket)
                });
            self.queue(
                now,
                Transmit {
                    protocol: ping.protocol,
                    local,
                    dest: ping.dest,
                    bytes: ping.bytes,
                    client: None,
                },
            );
        }
        (self.pinger.stats(), round.unreachable)
    }

    /// Drops expired bindings from memory, and the guards' decayed counts; answers the
    /// bindings with their address-of-record.
    pub(crate) fn purge_expired(&mut self, now: Now) -> Vec<(String, crate::location::Binding)> {
        self.guard.purge(now);
        self.location.purge(now.unix_secs())
    }

    /// The store's bans (`Store::bans`), read by a query started at `read_at`: they
    /// replace the ones read before; the engine's own bans that were written before
    /// `read_at` and are missing were lifted by an operator and are lifted here too.
    pub(crate) fn set_bans(&mut self, read_at: Now, bans: &[store::Ban]) {
        self.guard.set_bans(read_at, bans);
    }

    /// Failed authentications since the start (metrics).
    pub(crate) fn auth_failures_total(&self) -> u64 {
        self.guard.failures_total()
    }

    #[cfg(test)]
    /// Sources the engine banned itself for failed authentications, in force now.
    pub(crate) fn own_bans(&self, now: Now) -> usize {
        self.guard.own_bans(now)
    }

    /// Settings the operator changed while the server runs (`itsp serve` on SIGHUP): the
    /// trusted networks (for the route and the guards alike) and the PSTN routing (number
    /// pattern, gateways, classes). Transactions and calls in progress keep what they
    /// decided; new requests see the new settings.
    pub(crate) fn reconfigure(&mut self, trusted: Vec<Network>, pstn: crate::pstn::PstnConfig) {
        self.guard.set_trusted(trusted.clone());
        self.config.trusted = trusted;
        self.config.proxy.pstn = pstn;
    }

    /// The served domains, read anew from the store.
    pub(crate) fn set_domains(&mut self, domains: Vec<String>) {
        self.addresses.known_domains = domains
            .iter()
            .map(|d| crate::domains::normalize(d))
            .collect();
        self.facts.not_served.clear();
    }

    /// Number of live transactions.
    pub(crate) fn transaction_count(&self) -> usize {
        self.layer.len()
    }

    /// Number of requests being proxied (response contexts).
    pub(crate) fn proxied_count(&self) -> usize {
        self.proxy.len()
    }

    /// Number of bindings in the location index.
    pub(crate) fn binding_count(&self) -> usize {
        self.location.binding_count()
    }

    /// Number of addresses-of-record with a binding (`itsp status`).
    pub(crate) fn aor_count(&self) -> usize {
        self.location.aor_count()
    }

    /// Number of served domains (`itsp status`).
    pub(crate) fn domain_count(&self) -> usize {
        self.addresses.known_domains.len()
    }

    /// Number of requests waiting for I/O (`itsp status`).
    pub(crate) fn waiting_count(&self) -> usize {
        self.parked
    }

    /// Adds a hook after the others (tests of the phases).
    #[cfg(test)]
    pub(crate) fn add_hook(&mut self, hook: Box<dyn Hook>) {
        self.tapping |= hook.taps();
        self.hooks.push(hook);
    }

    /// Ends answered call `call_id` (BYE to both parties, then the `on_dialog` hooks hear
    /// [`DialogEvent::EndedHere`]); `false` when the proxy does not know it as answered.
    pub(crate) fn hang_up(
        &mut self,
        now: Now,
        call_id: &str,
        reason: crate::policy::hook::EndReason,
    ) -> bool {
        if !self.answered.contains(call_id) {
            return false;
        }
        self.hang_ups.push(HangUp {
            call_id: call_id.to_owned(),
            reason,
        });
        self.pump(now);
        true
    }

    /// Reads the bindings of `aor` from the store again and keeps those (the store is the
    /// truth: a commit failed, or an operator removed a registration there).
    pub(crate) fn reload_bindings(&mut self, aor: &str) {
        let id = self.io.id();
        self.io.push(IoRequest::ReloadBindings {
            id,
            aor: aor.to_owned(),
        });
        self.waiting.insert(
            id,
            Waiting::Reload {
                aor: aor.to_owned(),
            },
        );
    }

    /// Forgets every cached credential (a subscriber was disabled: the next REGISTER or
    /// call of theirs asks the store, which refuses it), rather than at the next check of
    /// the subscribers' version, up to a second later.
    pub(crate) fn forget_credentials(&mut self) {
        self.facts.credentials.forget_all();
    }

    /// Live calls followed by the accounting hook.
    pub(crate) fn live_calls(&self) -> usize {
        self.hooks.iter().filter_map(|h| h.live_calls()).sum()
    }

    /// The proxy's table and the layer it works on, borrowed apart.
    fn split(&mut self) -> (&mut ProxyTable, Layer<'_>) {
        (
            &mut self.proxy,
            Layer {
                layer: &mut self.layer,
                routes: &mut self.routes,
                env: &mut self.addresses,
            },
        )
    }

    /// What the transaction layer's verdict on a received message means.
    fn take(&mut self, now: Now, result: TxIncoming, source: Source) {
        match result {
            TxIncoming::NewRequest { key, request } => {
                if let Some(route) = response_route(&request, source, self.config.nat.force_rport) {
                    self.routes.insert(key.clone(), route);
                }
                let admission = self.config.overload.new_request(&request, self.parked);
                if admission == overload::Admission::Refuse {
                    if let Some(busy) = self.service_unavailable(now, &request) {
                        self.respond(now, &key, busy);
                    }
                    return;
                }
                self.decide(
                    now,
                    Work {
                        key: Some(key),
                        request,
                        source,
                        answers: Answers::default(),
                        memo: Memo::default(),
                        failover: false,
                    },
                );
            }
            TxIncoming::Cancel {
                key,
                request,
                invite,
            } => {
                if let Some(route) = response_route(&request, source, self.config.nat.force_rport) {
                    self.routes.insert(key.clone(), route);
                }
                // §9.2 / §16.10: 200 for a CANCEL that matches an INVITE, then the INVITE's
                // branches are cancelled; 481 when none matches.
                let code = if invite.is_some() { 200 } else { 481 };
                let resp =
                    MessageBuilder::response_to(&request, code, None, Some(&local_tag(&request)))
                        .server(&self.config.server_header)
                        .build();
                match resp {
                    Ok(resp) => {
                        if let Err(e) = self.layer.send_response(now.instant, &key, resp) {
                            tracing::warn!(error = %e, "CANCEL not answered");
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot build a response"),
                }
                if let Some(invite) = invite {
                    let (proxy, mut tx) = self.split();
                    proxy.on_cancel(now.instant, &mut tx, &invite);
                }
            }
            TxIncoming::Response { key, response } => {
                if self.own_requests.contains(&key) {
                    tracing::debug!(%key, code = response.status().unwrap_or(0), "answer to our own request");
                    return;
                }
                let (proxy, mut tx) = self.split();
                if let Some(stray) = proxy.on_response(now.instant, &mut tx, &key, response) {
                    self.stray_response(now, stray);
                }
            }
            TxIncoming::StrayResponse(response) => self.stray_response(now, response),
            TxIncoming::Ack2xx { ack, .. } | TxIncoming::StrayAck(ack) => self.decide(
                now,
                Work {
                    key: None,
                    request: ack,
                    source,
                    answers: Answers::default(),
                    memo: Memo::default(),
                    failover: false,
                },
            ),
            TxIncoming::Malformed { message, error } => {
                if message.is_request() && message.method() != Some(&Method::Ack) {
                    tracing::info!(source = %source.addr, %error, "request cannot be matched");
                    let resp = MessageBuilder::response_to(
                        &message,
                        400,
                        Some(&format!("Bad request: {error}")),
                        Some(&local_tag(&message)),
                    )
                    .server(&self.config.server_header)
                    .build();
                    if let Ok(resp) = resp {
                        self.send_stateless(now, &resp, source);
                    }
                }
            }
            TxIncoming::Absorbed => {}
            other => tracing::debug!(source = %source.addr, "ignored: {other:?}"),
        }
    }

    /// Runs the main route for `work` (or the ACK route) and carries out the decision, or
    /// files the work until the answer it needs comes back.
    fn decide(&mut self, now: Now, mut work: Work) {
        let mut cx = Cx {
            now,
            config: &self.config,
            addresses: &mut self.addresses,
            facts: &mut self.facts,
            location: &mut self.location,
            auth: &mut self.auth,
            pinger: &self.pinger,
            random: &mut self.random,
            answers: &work.answers,
            memo: &mut work.memo,
            guard: &mut self.guard,
        };
        let decided = if work.key.is_some() {
            route::decide(&mut cx, &work.request, work.source)
        } else {
            match crate::policy::stateless::ack_route(&mut cx, &work.request, work.source) {
                Ok(Some(forward)) => Ok(Decision::Proxy(forward)),
                Ok(None) => return,
                Err(halt) => Err(halt),
            }
        };
        for ban in self.guard.take_writes() {
            let id = self.io.id();
            let network = ban.network.clone();
            self.io.push(IoRequest::Ban { id, ban });
            self.waiting.insert(id, Waiting::Ban { network });
        }
        match decided {
            Err(Halt::Need(query)) => {
                self.parked += 1;
                if let Some(id) = self.queries.get(&query) {
                    if let Some(Waiting::Decision { works, .. }) = self.waiting.get_mut(id) {
                        works.push(work);
                        return;
                    }
                }
                let id = self.io.id();
                let generation = self.facts.generation_for(&query);
                self.io.push(IoRequest::Query {
                    id,
                    query: query.clone(),
                });
                self.queries.insert(query.clone(), id);
                self.waiting.insert(
                    id,
                    Waiting::Decision {
                        works: vec![work],
                        query,
                        generation,
                    },
                );
            }
            Err(Halt::Reject(rejection)) => {
                // The route turns refusals into replies; an ACK's is dropped.
                tracing::debug!(code = rejection.code, reason = %rejection.reason, "refused");
            }
            Ok(Decision::Reply(builder)) => {
                let Some(key) = work.key else { return }; // an ACK that goes nowhere
                match builder.server(&self.config.server_header).build() {
                    Ok(response) => {
                        self.tell_refusal(now, &work.request, work.source, &response);
                        self.respond(now, &key, response);
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot build a response"),
                }
            }
            Ok(Decision::AfterCommit {
                response,
                writes,
                aor,
                keep_flow,
                anew,
            }) => {
                let Some(key) = work.key else { return };
                if let Some(secs) = keep_flow {
                    self.io.push(IoRequest::KeepFlow {
                        peer: work.source.addr,
                        for_time: Duration::from_secs(secs),
                    });
                }
                match response.server(&self.config.server_header).build() {
                    Ok(response) => {
                        let id = self.io.id();
                        self.io.push(IoRequest::CommitBindings { id, writes });
                        self.parked += 1;
                        self.waiting.insert(
                            id,
                            Waiting::Commit {
                                key,
                                response,
                                aor,
                                anew,
                            },
                        );
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot build a response"),
                }
            }
            Ok(Decision::Proxy(forward)) => self.forward(now, work, forward, 0),
            Ok(Decision::Drop) => {
                // No answer and no state: a retransmission is decided again.
                if let Some(key) = work.key {
                    self.layer.terminate(&key);
                    self.layer.handle_timeout(now.instant);
                }
            }
        }
    }

    /// Tells the `on_dialog` hooks when the route refused a call attempt: a final failure
    /// (not a challenge) to an initial INVITE.
    fn tell_refusal(&mut self, now: Now, request: &Message, source: Source, response: &Message) {
        let code = response.status().unwrap_or(0);
        if code < 400 || code == 401 || code == 407 || request.method() != Some(&Method::Invite) {
            return;
        }
        if request.to().is_ok_and(|t| t.tag().is_some()) {
            return;
        }
        notify(
            &mut self.hooks,
            &mut hook_cx!(self, now),
            DialogEvent::Refused {
                invite: request,
                source: source.addr.ip(),
                code,
                reason: response.reason().unwrap_or(""),
            },
        );
    }

    /// The 403 a banned source gets with `ban_answer = "403"`, statelessly; an ACK gets
    /// nothing.
    fn refuse_banned(&mut self, now: Now, request: &Message, source: Source) {
        if request.method() == Some(&Method::Ack) {
            return;
        }
        let response =
            MessageBuilder::response_to(request, 403, Some("Forbidden"), Some(&local_tag(request)))
                .server(&self.config.server_header)
                .build();
        if let Ok(response) = response {
            self.send_stateless(now, &response, source);
        }
    }

    /// Shows a request to forward to the `on_forward` hooks from number `from`, then
    /// forwards it: statefully, or statelessly in stateless mode and for ACKs.
    fn forward(&mut self, now: Now, work: Work, mut forward: Forward, from: usize) {
        for index in from..self.hooks.len() {
            let mut cx = hook_cx!(self, now);
            match self.hooks[index].on_forward(&mut cx, &work.request, work.source, &mut forward) {
                Flow::Continue => {}
                Flow::Wait(id) => {
                    self.parked += 1;
                    self.waiting.insert(
                        id,
                        Waiting::Forward {
                            work,
                            forward,
                            hook: index,
                        },
                    );
                    return;
                }
                Flow::Refuse { code, reason } => {
                    self.refuse_forward(now, work, code, reason);
                    return;
                }
            }
        }
        let request = &work.request;
        if request.to().is_ok_and(|t| t.tag().is_some()) {
            self.answered.in_dialog(request);
            if request.method() == Some(&Method::Bye) {
                notify(
                    &mut self.hooks,
                    &mut hook_cx!(self, now),
                    DialogEvent::Ended { bye: request },
                );
            }
        }
        match work.key {
            Some(key) if !self.config.proxy.stateless => {
                self.start_proxy(now, &key, forward, work.source, work.failover);
            }
            key => {
                if let Some(key) = key {
                    // Forgotten before forwarding: a retransmission that arrives once the
                    // request is out is forwarded again (§16.11), not absorbed.
                    self.layer.terminate(&key);
                    self.layer.handle_timeout(now.instant);
                }
                let sent = crate::policy::stateless::forward_statelessly(
                    &mut self.addresses,
                    &work.request,
                    forward,
                    work.source,
                );
                if let Some(transmit) = sent {
                    self.queue(now, transmit);
                }
            }
        }
    }

    /// An `on_forward` hook refused the request: it is answered `code` and goes nowhere.
    /// A call attempt refused so is told to the `on_dialog` hooks like the route's
    /// refusals; one the failure phase was forwarding again had started, so it is settled.
    fn refuse_forward(&mut self, now: Now, work: Work, code: u16, reason: &'static str) {
        let Some(key) = work.key else {
            return; // an ACK gets no answer
        };
        let built = MessageBuilder::response_to(
            &work.request,
            code,
            Some(reason),
            Some(&local_tag(&work.request)),
        )
        .server(&self.config.server_header)
        .build();
        let response = match built {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "cannot build a response");
                return;
            }
        };
        tracing::debug!(code, reason, "request refused by a hook");
        if work.failover {
            notify(
                &mut self.hooks,
                &mut hook_cx!(self, now),
                DialogEvent::Settled {
                    invite: &work.request,
                    code,
                    reason,
                    to_tag: None,
                    answered_by: None,
                    made_here: true,
                },
            );
        } else {
            self.tell_refusal(now, &work.request, work.source, &response);
        }
        self.respond(now, &key, response);
    }

    /// Ends the calls the hooks asked to end ([`HookCx::hang_up`]): a BYE to each party
    /// in a client transaction of ours, then the `on_dialog` hooks hear
    /// [`DialogEvent::EndedHere`].
    fn hang_up_calls(&mut self, now: Now) {
        while let Some(HangUp { call_id, reason }) = self.hang_ups.pop() {
            let addresses = &mut self.addresses;
            let byes = self.answered.byes(&call_id, reason, |flow| {
                let hop = Hop {
                    protocol: flow.protocol,
                    addr: flow.dest,
                };
                let (_, local) = addresses.local_for(&hop)?;
                let unique = addresses.next_unique();
                Some(local.via(&crate::proxy::forward::branch_id("bye", unique)))
            });
            let Some(byes) = byes else {
                tracing::debug!(%call_id, "asked to end a call that is not answered here");
                continue;
            };
            tracing::info!(%call_id, reason = reason.as_str(), "ending the call: BYE to both parties");
            for bye in byes {
                let reliable = bye.route.protocol != transport::Protocol::Udp;
                match self.layer.send_request(now.instant, bye.request, reliable) {
                    Ok(key) => {
                        self.routes.insert(key.clone(), bye.route);
                        self.own_requests.insert(key);
                    }
                    Err(e) => tracing::warn!(%call_id, error = %e, "BYE not sent"),
                }
            }
            notify(
                &mut self.hooks,
                &mut hook_cx!(self, now),
                DialogEvent::EndedHere {
                    call_id: &call_id,
                    reason,
                },
            );
        }
    }

    /// Forwards the request of server transaction `key` statefully (§16): `100 Trying`
    /// for an INVITE (§16.2), then the branches of `forward`. A `failover` (the failure
    /// phase forwarding it again) had its 100 and its start already.
    fn start_proxy(
        &mut self,
        now: Now,
        key: &TransactionKey,
        forward: Forward,
        source: Source,
        failover: bool,
    ) {
        let inbound = self.addresses.local_for(&Hop {
            protocol: source.local.protocol,
            addr: source.addr,
        });
        let invite = key.method() == &Method::Invite;
        if invite && !failover {
            if let Some(trying) = self
                .layer
                .request(key)
                .and_then(|r| MessageBuilder::response_to(r, 100, None, None).build().ok())
            {
                if let Err(e) = self.layer.send_response(now.instant, key, trying) {
                    tracing::debug!(error = %e, "100 Trying not sent");
                }
            }
        }
        let config = ContextConfig {
            invite,
            timer_c: self.config.proxy.timer_c,
            cancel_wait: self.config.timers.t1 * 64,
        };
        // A call set-up we stay in (record-routed initial INVITE) is a dialog the hooks
        // follow.
        let accounted = invite
            && forward.record_route
            && self
                .layer
                .request(key)
                .is_some_and(|r| r.to().is_ok_and(|t| t.tag().is_none()));
        if accounted && !failover {
            if let Some(invite) = self.layer.request(key) {
                notify(
                    &mut self.hooks,
                    &mut hook_cx!(self, now),
                    DialogEvent::Started {
                        invite,
                        source: source.addr.ip(),
                        on_net: forward.on_net,
                    },
                );
            }
        }
        let Some((_, inbound)) = inbound else {
            tracing::warn!(local = %source.local, "no address for the inbound side");
            return;
        };
        let (proxy, mut tx) = self.split();
        proxy.start(
            now.instant,
            &mut tx,
            key.clone(),
            NewContext {
                forward,
                inbound,
                source,
                config,
                accounted,
            },
        );
    }

    /// Sends response `response` of server transaction `key`.
    fn respond(&mut self, now: Now, key: &TransactionKey, response: Message) {
        if let Err(e) = self.layer.send_response(now.instant, key, response) {
            tracing::warn!(error = %e, "response not sent");
        }
    }

    /// A response for no transaction of ours: forwarded statelessly when its top Via is
    /// ours, after the `on_stray_response` hooks.
    fn stray_response(&mut self, now: Now, response: Message) {
        let Some(up) = crate::policy::stateless::pop_own_via(&mut self.addresses, response) else {
            return;
        };
        let mut up = up;
        for hook in &mut self.hooks {
            let mut cx = hook_cx!(self, now);
            up = hook.on_stray_response(&mut cx, up);
        }
        if let Some(transmit) = crate::policy::stateless::response_transmit(&mut self.addresses, up)
        {
            self.queue(now, transmit);
        }
    }

    /// Collects what the transaction layer wants sent, with the routes, and passes its
    /// events on (client timeouts to the proxy as a 408 on that branch, terminations to
    /// the route table and the proxy), and sends the proxy's responses upstream through
    /// the hooks; repeats until quiet.
    fn pump(&mut self, now: Now) {
        loop {
            if !self.hang_ups.is_empty() {
                self.hang_up_calls(now);
            }
            while let Some(t) = self.layer.poll_transmit() {
                match self.routes.get(&t.key) {
                    Some(route) => {
                        let transmit = Transmit {
                            protocol: route.protocol,
                            local: Some(route.local),
                            dest: route.dest,
                            bytes: t.payload,
                            client: (t.key.side() == Side::Client).then_some(t.key),
                        };
                        self.queue(now, transmit);
                    }
                    None => tracing::debug!(key = %t.key, "no route for a transmit"),
                }
            }
            let mut events = std::mem::take(&mut self.scratch_events);
            while let Some(event) = self.layer.poll_event() {
                events.push(event);
            }
            let mut upstream = std::mem::take(&mut self.scratch_upstream);
            self.proxy.swap_upstream(&mut upstream);
            if events.is_empty() && upstream.is_empty() {
                self.proxy.swap_upstream(&mut upstream);
                self.scratch_events = events;
                return;
            }
            if !self.own_requests.is_empty() {
                for event in &events {
                    if let Event::Terminated(key) = event {
                        self.own_requests.remove(key);
                    }
                }
            }
            let (proxy, mut tx) = self.split();
            for event in events.drain(..) {
                match event {
                    Event::Terminated(key) => {
                        tx.routes.remove(&key);
                        proxy.on_terminated(&key);
                    }
                    Event::Timeout { key, timer } => {
                        tracing::debug!(%key, ?timer, "transaction timed out");
                        if key.side() == Side::Client {
                            proxy.on_client_failed(now.instant, &mut tx, &key, 408);
                        }
                    }
                    _ => {}
                }
            }
            self.scratch_events = events;
            let arrival = self.arrival;
            for up in upstream.drain(..) {
                self.upstream(now, up, arrival);
            }
            self.scratch_upstream = upstream;
        }
    }

    /// A response the proxy has for a server transaction: queued behind one that waits,
    /// else shown to the hooks and sent.
    fn upstream(&mut self, now: Now, up: Upstream, arrival: Option<Arrival>) {
        if !self.held.is_empty() {
            if let Some(queue) = self.held.get_mut(&up.server) {
                queue.push_back((up, arrival));
                return;
            }
        }
        let Upstream {
            server,
            response,
            accounted,
            failed,
        } = up;
        if let Some(failed) = failed {
            let code = match &response {
                UpstreamResponse::Forward(m) => m.status().unwrap_or(500),
                UpstreamResponse::Reply { code, .. } => *code,
            };
            if self.failure_phase(now, &server, code, *failed) {
                return;
            }
        }
        // A response made here has no arrival (for the hooks: nobody sent it to us).
        let (response, arrival) = match response {
            UpstreamResponse::Forward(m) => (m, arrival),
            UpstreamResponse::Reply { code, reason } => {
                let Some(request) = self.layer.request(&server) else {
                    return;
                };
                let built = MessageBuilder::response_to(
                    request,
                    code,
                    reason.as_deref(),
                    Some(&local_tag(request)),
                )
                .server(&self.config.server_header)
                .build();
                match built {
                    Ok(r) => (r, None),
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot build a response");
                        return;
                    }
                }
            }
        };
        self.send_upstream(now, server, response, accounted, arrival, 0);
    }

    /// The failure phase (the seed's `failure_route`): the call set-up of server
    /// transaction `server` failed on every branch with `code`. The first `on_failure` hook
    /// that gives it new targets has it forwarded again on the same transaction, through
    /// the `on_forward` hooks; returns whether one did (else the failure goes upstream).
    fn failure_phase(
        &mut self,
        now: Now,
        server: &TransactionKey,
        code: u16,
        failed: Failed,
    ) -> bool {
        let Some(request) = self.layer.request(server).cloned() else {
            return false;
        };
        let Failed {
            mut forward,
            source,
        } = failed;
        forward.targets.clear();
        forward.fallbacks = Fallbacks::default();
        // The caller's identity stays what the route decided; NAT fixes and the relay's
        // SDP are made again for the new targets.
        forward.rewrites = Rewrites {
            identity: std::mem::take(&mut forward.rewrites.identity),
            ..Rewrites::default()
        };
        forward.sender_natted = false;
        let mut taken = false;
        for index in 0..self.hooks.len() {
            let mut cx = hook_cx!(self, now);
            if self.hooks[index].on_failure(&mut cx, &request, code, &mut forward) {
                taken = !forward.targets.is_empty();
                break;
            }
        }
        if !taken {
            return false;
        }
        tracing::debug!(%server, code, "failed call forwarded again by the failure phase");
        let work = Work {
            key: Some(server.clone()),
            request,
            source,
            answers: Answers::default(),
            memo: Memo::default(),
            failover: true,
        };
        self.forward(now, work, forward, 0);
        true
    }

    /// Shows a response for the caller to the `on_response` hooks from number `from`, then
    /// sends it; then the responses queued behind it.
    fn send_upstream(
        &mut self,
        now: Now,
        server: TransactionKey,
        response: Message,
        accounted: bool,
        arrival: Option<Arrival>,
        from: usize,
    ) {
        for index in from..self.hooks.len() {
            let mut cx = hook_cx!(self, now);
            if let Flow::Wait(id) = self.hooks[index].on_response(&mut cx, &response, arrival) {
                self.held.entry(server.clone()).or_default();
                self.parked += 1;
                self.waiting.insert(
                    id,
                    Waiting::Response {
                        server,
                        response,
                        accounted,
                        arrival,
                        hook: index,
                    },
                );
                return;
            }
        }
        let code = response.status().unwrap_or(0);
        if !accounted && (200..300).contains(&code) {
            self.session_refresh(now, &server, &response);
        }
        if accounted && code >= 200 {
            if let (true, Some(invite), Some(caller_flow), Some(arrival)) = (
                code < 300,
                self.layer.request(&server),
                self.routes.get(&server),
                arrival,
            ) {
                self.answered.answered(
                    hangup::Answer {
                        invite,
                        ok: &response,
                        caller_flow: *caller_flow,
                        callee_flow: hangup::flow(arrival.source, arrival.local),
                    },
                    &mut self.addresses,
                    now.instant,
                    hangup::Limits {
                        ack_by: Some(now.instant + hangup::Limits::ack_wait(&self.config.timers)),
                        session_expires: None,
                        longest: self.config.proxy.max_call_duration.map(|d| now.instant + d),
                    },
                );
            }
            if let Some(invite) = self.layer.request(&server) {
                let to_tag = response.to().ok().and_then(|t| t.tag());
                let answered_by = if code < 300 {
                    match response.contacts().next() {
                        Some(Ok(sip::headers::Contact::Addr(addr))) => Some(addr.uri),
                        _ => None,
                    }
                } else {
                    None
                };
                notify(
                    &mut self.hooks,
                    &mut hook_cx!(self, now),
                    DialogEvent::Settled {
                        invite,
                        code,
                        reason: response.reason().unwrap_or(""),
                        to_tag,
                        answered_by,
                        made_here: arrival.is_none(),
                    },
                );
            }
        }
        if let Err(e) = self.layer.send_response(now.instant, &server, response) {
            tracing::info!(%server, error = %e, "response not forwarded upstream");
        }
        // What waited behind it goes now, in order (one may wait again).
        let queue = if self.held.is_empty() {
            None
        } else {
            self.held.remove(&server)
        };
        if let Some(queue) = queue {
            for (up, arrival) in queue {
                self.upstream(now, up, arrival);
            }
        }
    }

    /// A 2xx to an in-dialog INVITE or UPDATE on its way to the sender: a session refresh
    /// of an answered call (RFC 4028 §10).
    fn session_refresh(&mut self, now: Now, server: &TransactionKey, ok: &Message) {
        let Some(request) = self.layer.request(server) else {
            return;
        };
        let refresh = matches!(request.method(), Some(Method::Invite | Method::Update))
            && request.to().is_ok_and(|t| t.tag().is_some());
        if let (true, Ok(call_id)) = (refresh, request.call_id()) {
            self.answered.refreshed(call_id, ok, now.instant);
        }
    }

    /// The 503 for a request refused for overload (RFC 3261 §21.5.4), logged at most once
    /// a second with how many were refused.
    fn service_unavailable(&mut self, now: Now, request: &Message) -> Option<Message> {
        self.shed.0 += 1;
        let due = self
            .shed
            .1
            .is_none_or(|at| now.instant.saturating_duration_since(at) >= Duration::from_secs(1));
        if due {
            tracing::warn!(
                refused = self.shed.0,
                waiting = self.parked,
                transactions = self.layer.len(),
                "overloaded: new requests answered 503"
            );
            self.shed = (0, Some(now.instant));
        }
        MessageBuilder::response_to(request, 503, None, Some(&local_tag(request)))
            .header(
                HeaderName::RetryAfter,
                &self.config.overload.retry_after.to_string(),
            )
            .server(&self.config.server_header)
            .build()
            .ok()
    }

    /// Sends a response made outside any transaction, where §18.2.2 says.
    fn send_stateless(&mut self, now: Now, response: &Message, source: Source) {
        if let Some(route) = response_route(response, source, self.config.nat.force_rport) {
            let transmit = Transmit {
                protocol: route.protocol,
                local: Some(route.local),
                dest: route.dest,
                bytes: response.as_bytes().clone(),
                client: None,
            };
            self.queue(now, transmit);
        }
    }

    /// Queues a message to send, shown first to the hooks that tap.
    fn queue(&mut self, now: Now, transmit: Transmit) {
        if self.tapping {
            let tapped = Tapped {
                direction: Direction::Out,
                protocol: transmit.protocol,
                local: transmit.local,
                remote: transmit.dest,
                bytes: &transmit.bytes,
            };
            for hook in &mut self.hooks {
                hook.on_tap(now, &tapped);
            }
        }
        self.transmits.push_back(transmit);
    }

    /// Whether a response answers one of our keepalive OPTIONS ([`crate::natping`]); it
    /// goes no further.
    fn keepalive_answered(&mut self, response: &Message) -> bool {
        let ping = &self.config.nat.ping;
        if ping.targets == crate::nat::PingTargets::None
            || ping.method != crate::nat::PingMethod::Options
        {
            return false;
        }
        match self.pinger.answered(response, ping) {
            crate::natping::Answered::NotOurs => false,
            crate::natping::Answered::Binding((aor, contact), true) => {
                tracing::info!(%aor, %contact, "binding answers keepalives again: reachable");
                true
            }
            crate::natping::Answered::Binding(..) | crate::natping::Answered::Late => true,
        }
    }
}

/// Tells every hook of a dialog event.
fn notify(hooks: &mut [Box<dyn Hook>], cx: &mut HookCx<'_>, event: DialogEvent<'_>) {
    for hook in hooks {
        hook.on_dialog(cx, event);
    }
}

impl Env for Addresses {
    fn local_for(&mut self, hop: &Hop) -> Option<(SocketAddr, LocalAddr)> {
        Addresses::local_for(self, hop)
    }

    fn unique(&mut self) -> u64 {
        // Branch IDs need uniqueness within the run, not secrecy.
        self.next_unique()
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

#[cfg(test)]
mod route_tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use transport::Protocol;

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
