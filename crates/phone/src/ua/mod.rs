//! The user agent core, sans-IO (RFC 3261 §8, §10.2, §12–§15, RFC 3428, RFC 3515).
//!
//! [`UserAgent`] is the phone's SIP brain without sockets or clocks, in the style of the
//! `sip` crate's transaction layer: feed it datagrams ([`UserAgent::handle`]), commands
//! (register, call, answer, hang up, ...) and the time ([`UserAgent::handle_timeout`]);
//! drain what to send ([`UserAgent::poll_transmit`]), what happened
//! ([`UserAgent::poll_event`]) and when to wake it ([`UserAgent::poll_timeout`]). The
//! session descriptions are opaque bytes here: the media layer writes and reads them.
//!
//! Every request goes to one server (the registrar/proxy, as an outbound proxy does,
//! RFC 3261 §8.1.2); responses go back where their request came from (§18.2.2 with
//! RFC 3581). Challenges (401/407) are answered with the account's password, once per
//! challenge; 423 is answered with the registrar's Min-Expires.
//!
//! ## Layout
//!
//! - `mod.rs`: [`UserAgent`], its configuration and commands, dispatch of what arrives.
//! - `event.rs`: [`Event`], [`EndCause`], [`CallId`].
//! - `request.rs`: requests kept as plans to send again after a challenge.
//! - `call.rs`: the state of one call.
//! - `register.rs`: the registration's life (REGISTER, refresh, retry, unregister).
//! - `incoming.rs`: requests received (new calls, in-dialog requests, MESSAGE, OPTIONS).
//! - `responses.rs`: responses to our requests, by purpose.

mod call;
mod event;
mod incoming;
mod register;
mod request;
mod responses;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use sip::build::MessageBuilder;
use sip::dialog::DialogId;
use sip::transaction::{self as tx, TimerConfig, TransactionKey, TransactionLayer};
use sip::{HeaderName, Message, Method};

pub use event::{CallId, EndCause, Event};

use call::{Call, Direction, Phase};
use register::Registration;
use request::{Addressing, Plan, Purpose};

/// The methods this user agent understands (RFC 3261 §20.5 `Allow`).
pub const ALLOW: &str = "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, REFER, NOTIFY, MESSAGE, UPDATE";

/// The SIP transport to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// UDP: requests retransmitted by the transaction layer.
    Udp,
    /// TCP: one connection to the server, no retransmissions.
    Tcp,
    /// TLS: one TCP connection to the server under TLS (RFC 3261 §26.2.1).
    Tls,
}

impl Transport {
    /// `UDP`, `TCP` or `TLS` as in a Via.
    pub fn via_name(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
        }
    }

    fn reliable(self) -> bool {
        self != Transport::Udp
    }
}

/// Who the phone is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The user part of the address of record, e.g. `alice`.
    pub user: String,
    /// The domain of the address of record, e.g. `example.com`.
    pub domain: String,
    /// The password for digest authentication.
    pub password: String,
    /// The authentication user name when it differs from `user`.
    pub auth_user: Option<String>,
    /// Display name in From.
    pub display_name: Option<String>,
}

impl Account {
    /// `sip:user@domain`.
    pub fn aor(&self) -> String {
        format!("sip:{}@{}", self.user, self.domain)
    }

    /// The From/To value of the address of record (without tag).
    fn name_addr(&self) -> String {
        match &self.display_name {
            Some(name) => format!("\"{}\" <{}>", name.replace(['"', '\\'], ""), self.aor()),
            None => format!("<{}>", self.aor()),
        }
    }

    fn auth_user(&self) -> &str {
        self.auth_user.as_deref().unwrap_or(&self.user)
    }
}

/// How the core is set up.
#[derive(Debug, Clone)]
pub struct UaConfig {
    /// The account.
    pub account: Account,
    /// Where every request goes: the registrar/proxy (or an outbound proxy).
    pub server: SocketAddr,
    /// Transport to the server.
    pub transport: Transport,
    /// `host:port` of our Contact and Via: the local address the server can reach, or the
    /// public address STUN found.
    pub contact_host: String,
    /// User-Agent header value.
    pub user_agent: String,
    /// Registration lifetime to ask for (seconds).
    pub register_expires: u32,
    /// SIP timers (T1, T2, T4).
    pub timers: TimerConfig,
}

/// Bytes to send to `dest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Destination.
    pub dest: SocketAddr,
    /// The message.
    pub payload: Bytes,
}

/// Why a command could not be carried out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UaError {
    /// The target is not a usable SIP or tel URI.
    #[error("not a SIP address: {0}")]
    BadTarget(String),
    /// No such call, or it has ended.
    #[error("no {0}")]
    NoCall(CallId),
    /// The command does not fit the call's state (e.g. answering an outgoing call).
    #[error("{call}: cannot {action} now")]
    WrongState {
        /// The call.
        call: CallId,
        /// What was asked.
        action: &'static str,
    },
    /// The message could not be built (a value with a line break, ...).
    #[error("cannot build the request: {0}")]
    Build(String),
}

/// Timers of the core itself (the transaction timers live in the layer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Timer {
    /// Refresh (or retry) the registration.
    Register,
    /// Retransmit our 2xx to an INVITE of this call (§13.3.1.4), next after `interval`.
    Answer { call: CallId, interval: Duration },
    /// Give up waiting for the ACK (64*T1).
    AnswerGiveUp { call: CallId },
}

/// The user agent core. See the module documentation.
#[derive(Debug)]
pub struct UserAgent {
    config: UaConfig,
    layer: TransactionLayer,
    rng: fastrand::Rng,
    registration: Registration,
    calls: HashMap<CallId, Call>,
    next_call: u64,
    next_message: u64,
    /// What each client transaction is for.
    pending: HashMap<TransactionKey, Plan>,
    /// Where each server transaction's responses go.
    sources: HashMap<TransactionKey, SocketAddr>,
    timers: BTreeMap<(Instant, u64), Timer>,
    timer_seq: u64,
    out: VecDeque<Transmit>,
    events: VecDeque<Event>,
}

impl UserAgent {
    /// A core for `config`; `seed` feeds the random tags, branches and Call-IDs (pass a
    /// random value; tests pass a fixed one).
    pub fn new(config: UaConfig, seed: u64) -> UserAgent {
        let mut rng = fastrand::Rng::with_seed(seed);
        let registration = Registration::new(&config, &mut rng);
        UserAgent {
            layer: TransactionLayer::new(config.timers),
            config,
            rng,
            registration,
            calls: HashMap::new(),
            next_call: 1,
            next_message: 1,
            pending: HashMap::new(),
            sources: HashMap::new(),
            timers: BTreeMap::new(),
            timer_seq: 0,
            out: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &UaConfig {
        &self.config
    }

    /// Our Contact value.
    pub fn contact(&self) -> String {
        let transport = match self.config.transport {
            Transport::Udp => "",
            Transport::Tcp => ";transport=tcp",
            Transport::Tls => ";transport=tls",
        };
        format!(
            "<sip:{}@{}{transport}>",
            self.config.account.user, self.config.contact_host
        )
    }

    /// Whether the registrar currently holds our binding.
    pub fn is_registered(&self) -> bool {
        self.registration.is_registered()
    }

    /// Calls not yet ended.
    pub fn live_calls(&self) -> impl Iterator<Item = CallId> + '_ {
        self.calls
            .iter()
            .filter(|(_, c)| c.phase != Phase::Ended)
            .map(|(id, _)| *id)
    }

    // ----- the I/O side -----

    /// Takes a datagram (or a framed stream message) from `source`.
    pub fn handle(&mut self, now: Instant, source: SocketAddr, bytes: Bytes) {
        let message = match Message::parse(bytes) {
            Ok(m) => m,
            Err(e) => {
                tracing::debug!(%source, error = %e, "unparsable SIP message dropped");
                return;
            }
        };
        let reliable = self.config.transport.reliable();
        match self.layer.handle(now, message, reliable) {
            tx::Incoming::NewRequest { key, request } => {
                self.sources.insert(key.clone(), source);
                self.on_request(now, key, request);
            }
            tx::Incoming::Cancel {
                key,
                request,
                invite,
            } => {
                self.sources.insert(key.clone(), source);
                self.on_cancel(now, key, request, invite);
            }
            tx::Incoming::Ack2xx { ack, .. } | tx::Incoming::StrayAck(ack) => self.on_ack(&ack),
            tx::Incoming::Response { key, response } => self.on_response(now, key, response),
            tx::Incoming::StrayResponse(response) => self.on_stray_response(now, response),
            tx::Incoming::Absorbed => {}
            tx::Incoming::Malformed { error, .. } => {
                tracing::debug!(%source, %error, "unmatchable SIP message dropped");
            }
            other => tracing::debug!(?other, "ignored"),
        }
        self.drain_layer(now);
    }

    /// Fires the timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.layer.handle_timeout(now);
        while let Some((&(at, seq), _)) = self.timers.first_key_value() {
            if at > now {
                break;
            }
            let Some(timer) = self.timers.remove(&(at, seq)) else {
                break;
            };
            self.on_timer(now, timer);
        }
        self.drain_layer(now);
    }

    /// When [`UserAgent::handle_timeout`] is next due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let own = self.timers.first_key_value().map(|(&(at, _), _)| at);
        match (own, self.layer.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The next message to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Moves the layer's transmits and events into ours.
    fn drain_layer(&mut self, now: Instant) {
        loop {
            let mut progressed = false;
            while let Some(t) = self.layer.poll_transmit() {
                progressed = true;
                let dest = if t.key.is_client() {
                    self.config.server
                } else {
                    self.sources
                        .get(&t.key)
                        .copied()
                        .unwrap_or(self.config.server)
                };
                self.out.push_back(Transmit {
                    dest,
                    payload: t.payload,
                });
            }
            while let Some(event) = self.layer.poll_event() {
                progressed = true;
                match event {
                    tx::Event::Timeout { key, .. } if key.is_client() => {
                        self.on_client_timeout(now, &key);
                    }
                    tx::Event::Terminated(key) => {
                        self.pending.remove(&key);
                        self.sources.remove(&key);
                    }
                    _ => {}
                }
            }
            if !progressed {
                break;
            }
        }
    }

    fn schedule(&mut self, at: Instant, timer: Timer) {
        self.timer_seq += 1;
        self.timers.insert((at, self.timer_seq), timer);
    }

    fn cancel_timers(&mut self, pred: impl Fn(&Timer) -> bool) {
        self.timers.retain(|_, t| !pred(t));
    }

    fn on_timer(&mut self, now: Instant, timer: Timer) {
        match timer {
            Timer::Register => self.send_register(now, self.config.register_expires),
            Timer::Answer { call, interval } => {
                let Some(c) = self.calls.get(&call) else {
                    return;
                };
                if let Some((bytes, _)) = &c.unacked_answer {
                    let dest = self.response_dest(c);
                    self.out.push_back(Transmit {
                        dest,
                        payload: bytes.clone(),
                    });
                    let next = (interval * 2).min(self.config.timers.t2);
                    self.schedule(
                        now + interval,
                        Timer::Answer {
                            call,
                            interval: next,
                        },
                    );
                }
            }
            Timer::AnswerGiveUp { call } => {
                let unacked = self
                    .calls
                    .get(&call)
                    .is_some_and(|c| c.unacked_answer.is_some());
                if unacked {
                    // §13.3.1.4: no ACK within 64*T1: the dialog ends with a BYE.
                    self.send_bye(now, call);
                    self.end_call(call, EndCause::NoAck);
                }
            }
        }
    }

    fn response_dest(&self, call: &Call) -> SocketAddr {
        call.invite_key
            .as_ref()
            .and_then(|k| self.sources.get(k))
            .copied()
            .unwrap_or(self.config.server)
    }

    // ----- building and sending -----

    fn token(&mut self, len: usize) -> String {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        (0..len)
            .map(|_| char::from(ALPHABET[self.rng.usize(..ALPHABET.len())]))
            .collect()
    }

    fn via(&mut self) -> String {
        let branch = self.token(16);
        format!(
            "SIP/2.0/{} {};branch=z9hG4bK{branch};rport",
            self.config.transport.via_name(),
            self.config.contact_host
        )
    }

    /// Builds the request of `plan` (with credentials when it answers a challenge).
    fn build(&mut self, plan: &mut Plan) -> Result<Message, UaError> {
        let via = self.via();
        let contact = self.contact();
        let with_contact = matches!(
            plan.method,
            Method::Invite | Method::Register | Method::Refer | Method::Notify | Method::Update
        );
        let mut b = match &mut plan.addressing {
            Addressing::Dialog(call) => {
                let call = *call;
                let dialog = self
                    .calls
                    .get_mut(&call)
                    .and_then(|c| c.dialog.as_mut())
                    .ok_or(UaError::NoCall(call))?;
                dialog.request(&plan.method, &via, with_contact.then_some(contact.as_str()))
            }
            Addressing::Free {
                uri,
                to,
                from,
                call_id,
                cseq,
            } => {
                *cseq += 1;
                let mut b = MessageBuilder::request(&plan.method, uri)
                    .header(HeaderName::Via, &via)
                    .header(HeaderName::MaxForwards, "70")
                    .header(HeaderName::From, from)
                    .header(HeaderName::To, to)
                    .header(HeaderName::CallId, call_id)
                    .header_fmt(
                        HeaderName::CSeq,
                        format_args!("{} {}", cseq, plan.method.as_str()),
                    );
                if with_contact {
                    b = b.header(HeaderName::Contact, &contact);
                }
                b
            }
        };
        for (name, value) in &plan.headers {
            b = b.header(*name, value);
        }
        b = b.header(HeaderName::UserAgent, &self.config.user_agent);
        if let Some((ct, body)) = &plan.body {
            b = b.body(ct, body.to_vec());
        }
        let message = b.build().map_err(|e| UaError::Build(e.to_string()))?;
        if plan.challenge.is_none() {
            return Ok(message);
        }
        let cnonce = self.token(12);
        let account = &self.config.account;
        let Some((name, value)) =
            plan.credentials(&message, account.auth_user(), &account.password, &cnonce)
        else {
            return Ok(message);
        };
        let mut ed = message.edit();
        ed.append(name, &value)
            .map_err(|e| UaError::Build(e.to_string()))?;
        ed.finish().map_err(|e| UaError::Build(e.to_string()))
    }

    /// Builds and sends `plan` in a new client transaction; returns the transaction.
    fn send_plan(&mut self, now: Instant, mut plan: Plan) -> Result<TransactionKey, UaError> {
        let request = self.build(&mut plan)?;
        let key = self
            .layer
            .send_request(now, request.clone(), self.config.transport.reliable())
            .map_err(|e| UaError::Build(e.to_string()))?;
        if let Purpose::Invite(call) = plan.purpose {
            if let Some(c) = self.calls.get_mut(&call) {
                c.invite = Some(request);
                c.invite_key = Some(key.clone());
            }
        }
        self.pending.insert(key.clone(), plan);
        self.drain_layer(now);
        Ok(key)
    }

    /// Sends a response in server transaction `key`.
    fn respond(&mut self, now: Instant, key: &TransactionKey, response: MessageBuilder) {
        let response = response.header(HeaderName::UserAgent, &self.config.user_agent);
        match response.build() {
            Ok(r) => {
                if let Err(e) = self.layer.send_response(now, key, r) {
                    tracing::debug!(error = %e, "response not sent");
                }
            }
            Err(e) => tracing::warn!(error = %e, "response could not be built"),
        }
        self.drain_layer(now);
    }

    fn new_call_id(&mut self) -> CallId {
        let id = CallId(self.next_call);
        self.next_call += 1;
        id
    }

    fn end_call(&mut self, call: CallId, cause: EndCause) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if c.phase == Phase::Ended {
            return;
        }
        c.phase = Phase::Ended;
        c.unacked_answer = None;
        self.cancel_timers(|t| {
            matches!(t, Timer::Answer { call: c2, .. } | Timer::AnswerGiveUp { call: c2 } if *c2 == call)
        });
        self.events.push_back(Event::CallEnded { call, cause });
    }

    fn call_by_dialog(&self, id: &DialogId) -> Option<CallId> {
        self.calls
            .iter()
            .find(|(_, c)| c.dialog.as_ref().is_some_and(|d| d.id() == id))
            .map(|(id, _)| *id)
    }

    // ----- commands -----

    /// Registers (or refreshes) the binding; refreshes follow on their own until
    /// [`UserAgent::unregister`].
    pub fn register(&mut self, now: Instant) {
        self.send_register(now, self.config.register_expires);
    }

    /// Removes the binding (REGISTER with `Expires: 0`) and stops refreshing.
    pub fn unregister(&mut self, now: Instant) {
        self.cancel_timers(|t| *t == Timer::Register);
        self.send_register(now, 0);
    }

    /// Calls `target` (`sip:`/`tel:` URI) with an SDP offer. Progress comes as events.
    pub fn call(
        &mut self,
        now: Instant,
        target: &str,
        sdp: Option<Bytes>,
    ) -> Result<CallId, UaError> {
        let parsed = sip::Uri::parse(target).map_err(|e| UaError::BadTarget(e.to_string()))?;
        if !(parsed.is_sip() || parsed.as_tel().is_some()) {
            return Err(UaError::BadTarget(target.to_owned()));
        }
        let call = self.new_call_id();
        let tag = self.token(10);
        let call_id = format!("{}@{}", self.token(20), self.config.account.domain);
        let from = format!("{};tag={tag}", self.config.account.name_addr());
        self.calls.insert(call, Call::new(Direction::Outgoing, tag));
        let plan = Plan::new(
            Method::Invite,
            Addressing::Free {
                uri: target.to_owned(),
                to: format!("<{target}>"),
                from,
                call_id,
                cseq: 0,
            },
            Purpose::Invite(call),
        )
        .header(HeaderName::Allow, ALLOW)
        .body("application/sdp", sdp);
        if let Err(e) = self.send_plan(now, plan) {
            self.calls.remove(&call);
            return Err(e);
        }
        Ok(call)
    }

    /// Sends `180 Ringing` for an incoming call.
    pub fn ringing(&mut self, now: Instant, call: CallId) -> Result<(), UaError> {
        let (key, response) = self.incoming_response(call, 180, None, "ring")?;
        self.respond(now, &key, response);
        Ok(())
    }

    /// Answers an incoming call with 200 and our SDP answer; the 2xx is retransmitted
    /// until the ACK arrives (§13.3.1.4).
    pub fn answer(
        &mut self,
        now: Instant,
        call: CallId,
        sdp: Option<Bytes>,
    ) -> Result<(), UaError> {
        let (key, mut response) = self.incoming_response(call, 200, None, "answer")?;
        response = response
            .header(HeaderName::Contact, &self.contact())
            .header(HeaderName::Allow, ALLOW);
        if let Some(body) = sdp {
            response = response.body("application/sdp", body.to_vec());
        }
        let response = response
            .header(HeaderName::UserAgent, &self.config.user_agent)
            .build()
            .map_err(|e| UaError::Build(e.to_string()))?;
        let c = self.calls.get_mut(&call).ok_or(UaError::NoCall(call))?;
        let request = c.invite.as_ref().ok_or(UaError::NoCall(call))?;
        let dialog = sip::dialog::Dialog::uas(request, &c.local_tag, true)
            .map_err(|e| UaError::Build(e.to_string()))?;
        let seq = request.cseq().map(|s| s.seq).unwrap_or(0);
        c.dialog = Some(dialog);
        c.phase = Phase::Answered;
        c.unacked_answer = Some((response.as_bytes().clone(), seq));
        if let Err(e) = self.layer.send_response(now, &key, response) {
            tracing::debug!(error = %e, "answer not sent");
        }
        let t1 = self.config.timers.t1;
        if !self.config.transport.reliable() {
            self.schedule(
                now + t1,
                Timer::Answer {
                    call,
                    interval: (t1 * 2).min(self.config.timers.t2),
                },
            );
        }
        self.schedule(now + t1 * 64, Timer::AnswerGiveUp { call });
        self.drain_layer(now);
        Ok(())
    }

    /// Refuses an incoming call with `code` (486 busy, 603 decline, ...).
    pub fn reject(&mut self, now: Instant, call: CallId, code: u16) -> Result<(), UaError> {
        let code = if (300..700).contains(&code) {
            code
        } else {
            603
        };
        let (key, response) = self.incoming_response(call, code, None, "reject")?;
        self.respond(now, &key, response);
        self.end_call(call, EndCause::Refused { code });
        Ok(())
    }

    /// The response builder for an incoming call's INVITE, checking the state.
    fn incoming_response(
        &self,
        call: CallId,
        code: u16,
        reason: Option<&str>,
        action: &'static str,
    ) -> Result<(TransactionKey, MessageBuilder), UaError> {
        let c = self.calls.get(&call).ok_or(UaError::NoCall(call))?;
        if c.direction != Direction::Incoming || c.phase != Phase::Offered {
            return Err(UaError::WrongState { call, action });
        }
        let (Some(key), Some(invite)) = (&c.invite_key, &c.invite) else {
            return Err(UaError::NoCall(call));
        };
        let mut response = MessageBuilder::response_to(invite, code, reason, Some(&c.local_tag));
        if (101..300).contains(&code) {
            // §12.1.1: a response that creates a dialog copies the Record-Route of the
            // request, so the caller learns the route set too.
            for rr in invite.header_values(HeaderName::RecordRoute) {
                response = response.header(HeaderName::RecordRoute, rr);
            }
        }
        Ok((key.clone(), response))
    }

    /// Hangs up: BYE for an established call, CANCEL for our unanswered call, 603 for an
    /// unanswered incoming one.
    pub fn hangup(&mut self, now: Instant, call: CallId) -> Result<(), UaError> {
        let c = self.calls.get_mut(&call).ok_or(UaError::NoCall(call))?;
        match (c.direction, c.phase) {
            (_, Phase::Ended) => return Err(UaError::NoCall(call)),
            (Direction::Incoming, Phase::Offered) => return self.reject(now, call, 603),
            (Direction::Outgoing, Phase::Calling) => {
                if c.provisional_seen {
                    self.send_cancel(now, call);
                } else {
                    c.cancel_pending = true;
                }
                return Ok(());
            }
            _ => {}
        }
        self.send_bye(now, call);
        self.end_call(call, EndCause::LocalHangup);
        Ok(())
    }

    fn send_cancel(&mut self, now: Instant, call: CallId) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        c.cancelled = true;
        c.cancel_pending = false;
        let Some(invite) = &c.invite else {
            return;
        };
        match sip::build::cancel_for(invite) {
            Ok(cancel) => {
                match self
                    .layer
                    .send_request(now, cancel, self.config.transport.reliable())
                {
                    Ok(key) => {
                        let plan = Plan::new(
                            Method::Cancel,
                            Addressing::Dialog(call),
                            Purpose::Cancel(call),
                        );
                        self.pending.insert(key, plan);
                    }
                    Err(e) => tracing::debug!(error = %e, "CANCEL not sent"),
                }
            }
            Err(e) => tracing::debug!(error = %e, "CANCEL not built"),
        }
        self.drain_layer(now);
    }

    fn send_bye(&mut self, now: Instant, call: CallId) {
        let plan = Plan::new(Method::Bye, Addressing::Dialog(call), Purpose::Bye(call));
        if let Err(e) = self.send_plan(now, plan) {
            tracing::debug!(%call, error = %e, "BYE not sent");
        }
    }

    /// Sends a new offer in a re-INVITE (hold, resume, codec change; RFC 3264 §8).
    pub fn reoffer(&mut self, now: Instant, call: CallId, sdp: Bytes) -> Result<(), UaError> {
        self.established(call, "re-INVITE")?;
        let plan = Plan::new(
            Method::Invite,
            Addressing::Dialog(call),
            Purpose::Reinvite(call),
        )
        .header(HeaderName::Allow, ALLOW)
        .body("application/sdp", Some(sdp));
        self.send_plan(now, plan).map(|_| ())
    }

    /// Answers the peer's re-INVITE ([`Event::RemoteOffer`]) with 200 and our SDP.
    pub fn accept_offer(&mut self, now: Instant, call: CallId, sdp: Bytes) -> Result<(), UaError> {
        let c = self.calls.get_mut(&call).ok_or(UaError::NoCall(call))?;
        let key = c.pending_offer.take().ok_or(UaError::WrongState {
            call,
            action: "accept an offer",
        })?;
        let Some(request) = self.layer.request(&key).cloned() else {
            return Err(UaError::WrongState {
                call,
                action: "accept an offer",
            });
        };
        let response = MessageBuilder::response_to(&request, 200, None, None)
            .header(HeaderName::Contact, &self.contact())
            .header(HeaderName::Allow, ALLOW)
            .body("application/sdp", sdp.to_vec());
        self.respond(now, &key, response);
        Ok(())
    }

    /// Sends an INFO in the call (e.g. `application/dtmf-relay`).
    pub fn info(
        &mut self,
        now: Instant,
        call: CallId,
        content_type: &str,
        body: Bytes,
    ) -> Result<(), UaError> {
        self.established(call, "send INFO")?;
        let plan = Plan::new(Method::Info, Addressing::Dialog(call), Purpose::Info(call))
            .body(content_type, Some(body));
        self.send_plan(now, plan).map(|_| ())
    }

    /// Asks the peer to call `target` (REFER, RFC 3515): a blind transfer.
    pub fn transfer(&mut self, now: Instant, call: CallId, target: &str) -> Result<(), UaError> {
        sip::Uri::parse(target).map_err(|e| UaError::BadTarget(e.to_string()))?;
        self.established(call, "transfer")?;
        let plan = Plan::new(
            Method::Refer,
            Addressing::Dialog(call),
            Purpose::Refer(call),
        )
        .header(HeaderName::from_name("Refer-To"), format!("<{target}>"))
        .header(
            HeaderName::from_name("Referred-By"),
            format!("<{}>", self.config.account.aor()),
        );
        self.send_plan(now, plan).map(|_| ())
    }

    /// Reports the progress of a transfer the peer asked for (NOTIFY with a
    /// `message/sipfrag` status line, RFC 3515 §2.4.4); a final `code` ends the implicit
    /// subscription.
    pub fn notify_transfer(
        &mut self,
        now: Instant,
        call: CallId,
        code: u16,
        reason: &str,
    ) -> Result<(), UaError> {
        self.established(call, "notify")?;
        let state = if code >= 200 {
            "terminated;reason=noresource"
        } else {
            "active;expires=60"
        };
        let plan = Plan::new(
            Method::Notify,
            Addressing::Dialog(call),
            Purpose::Notify(call),
        )
        .header(HeaderName::from_name("Event"), "refer")
        .header(HeaderName::from_name("Subscription-State"), state)
        .body(
            "message/sipfrag;version=2.0",
            Some(Bytes::from(format!("SIP/2.0 {code} {reason}\r\n"))),
        );
        self.send_plan(now, plan).map(|_| ())
    }

    /// Sends a MESSAGE (RFC 3428) with `text/plain` to `target`; returns the number its
    /// [`Event::MessageAnswered`] carries.
    pub fn message(&mut self, now: Instant, target: &str, text: &str) -> Result<u64, UaError> {
        sip::Uri::parse(target).map_err(|e| UaError::BadTarget(e.to_string()))?;
        let id = self.next_message;
        self.next_message += 1;
        let tag = self.token(10);
        let call_id = format!("{}@{}", self.token(20), self.config.account.domain);
        let plan = Plan::new(
            Method::Message,
            Addressing::Free {
                uri: target.to_owned(),
                to: format!("<{target}>"),
                from: format!("{};tag={tag}", self.config.account.name_addr()),
                call_id,
                cseq: 0,
            },
            Purpose::Message(id),
        )
        .body(
            "text/plain;charset=utf-8",
            Some(Bytes::copy_from_slice(text.as_bytes())),
        );
        self.send_plan(now, plan)?;
        Ok(id)
    }

    fn established(&self, call: CallId, action: &'static str) -> Result<(), UaError> {
        let c = self.calls.get(&call).ok_or(UaError::NoCall(call))?;
        match c.phase {
            Phase::Established | Phase::Answered if c.dialog.is_some() => Ok(()),
            Phase::Ended => Err(UaError::NoCall(call)),
            _ => Err(UaError::WrongState { call, action }),
        }
    }
}

#[cfg(test)]
mod tests;
