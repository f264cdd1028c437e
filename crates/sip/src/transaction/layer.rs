//! [`TransactionLayer`]: every transaction of one element, matching (RFC 3261 §17.1.3,
//! §17.2.3, §9.2), and one timer queue across all of them.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

// Keyed per process like std's, faster than its SipHash (the keys come from the network).
use ahash::HashMap;

use crate::message::Message;
use crate::method::Method;

use super::key::{AckId, KeyError, TransactionKey};
use super::timer::{after, TimerConfig};
use super::tx::{Output, State, Tx};
use super::{Event, Incoming, TransactionError, Transmit};

/// All client and server transactions of one SIP element (RFC 3261 §17).
///
/// Driven entirely by the caller, with the current time passed in:
///
/// ```text
/// loop {
///     // a datagram or framed stream message arrived:
///     match layer.handle(now, Message::parse(bytes)?, reliable) { /* to the TU */ }
///     // the TU acts:
///     layer.send_request(now, request, reliable)?; layer.send_response(now, &key, response)?;
///     // the deadline passed:
///     layer.handle_timeout(now);
///     while let Some(t) = layer.poll_transmit() { /* send t.payload for t.key */ }
///     while let Some(e) = layer.poll_event() { /* timeouts, terminations to the TU */ }
///     sleep_until(layer.poll_timeout());
/// }
/// ```
///
/// Each transaction sits in the timer queue once, under its earliest deadline, so
/// [`TransactionLayer::poll_timeout`] is O(log n) and exact.
///
/// Some states have no timer and last until the TU acts: an INVITE client transaction in
/// Proceeding (Timer C is the proxy's, §16.6), and server transactions the TU has not
/// answered yet. The TU answers, cancels, or calls [`TransactionLayer::terminate`].
#[derive(Debug, Default)]
pub struct TransactionLayer {
    config: TimerConfig,
    txs: HashMap<u64, Tx>,
    index: HashMap<TransactionKey, u64>,
    /// INVITE server transactions in Accepted, by the dialog id of the 2xx they sent.
    acks: HashMap<AckId, u64>,
    /// RFC 2543 INVITE server transactions by their key without the To tag (ACK matching).
    rfc2543_invites: HashMap<TransactionKey, u64>,
    /// `(deadline, transaction id)`, one entry per transaction with a running timer. The
    /// deadline of an absorbing timer is moved onto the grid of
    /// [`TimerConfig::absorb_slack`] (see [`absorb_grid`]).
    timers: BTreeSet<(Instant, u64)>,
    /// A point of that grid: the first absorbing deadline scheduled.
    absorb_origin: Option<Instant>,
    next_id: u64,
    out: Output,
}

impl TransactionLayer {
    /// An empty layer with these timer values.
    pub fn new(config: TimerConfig) -> TransactionLayer {
        TransactionLayer {
            config,
            ..TransactionLayer::default()
        }
    }

    /// The timer values.
    pub fn config(&self) -> &TimerConfig {
        &self.config
    }

    /// Number of live transactions.
    pub fn len(&self) -> usize {
        self.txs.len()
    }

    /// Whether there is no live transaction.
    pub fn is_empty(&self) -> bool {
        self.txs.is_empty()
    }

    /// The state of a live transaction; `None` once it terminated.
    pub fn state(&self, key: &TransactionKey) -> Option<State> {
        self.get(key).map(|tx| tx.state)
    }

    /// The request that created a live transaction (to build a CANCEL, §9.1, or a 408),
    /// until a final response settles the transaction: `None` after that (the transaction
    /// lingers for retransmissions without it).
    pub fn request(&self, key: &TransactionKey) -> Option<&Message> {
        self.get(key).and_then(|tx| tx.request.as_deref())
    }

    fn get(&self, key: &TransactionKey) -> Option<&Tx> {
        self.index.get(key).and_then(|id| self.txs.get(id))
    }

    /// Starts a client transaction for `request` and queues it for sending (§17.1.1.2,
    /// §17.1.2.2). `reliable` says whether the transport is TCP, TLS, SCTP or WS: then the
    /// request is never retransmitted and Timers D and K are zero.
    ///
    /// The top Via must carry an RFC 3261 branch, unique to this request (§8.1.1.7). A
    /// CANCEL shares the INVITE's branch (§9.1) and gets a transaction of its own, told
    /// apart by the method.
    pub fn send_request(
        &mut self,
        now: Instant,
        request: Message,
        reliable: bool,
    ) -> Result<TransactionKey, TransactionError> {
        if request.method() == Some(&Method::Ack) {
            return Err(TransactionError::AckNotATransaction);
        }
        let key = TransactionKey::for_client_request(&request).map_err(|e| match e {
            KeyError::NotARequest => TransactionError::NotARequest,
            KeyError::NoRfc3261Branch => TransactionError::NoRfc3261Branch,
            KeyError::Malformed(e) => TransactionError::Malformed(e),
        })?;
        if self.index.contains_key(&key) {
            return Err(TransactionError::Duplicate(key));
        }
        let tx = Tx::new_client(
            key.clone(),
            request,
            reliable,
            now,
            &self.config,
            &mut self.out,
        );
        let id = self.insert(tx);
        self.reschedule(id);
        Ok(key)
    }

    /// Passes the TU's response to server transaction `key` and queues it for sending.
    ///
    /// INVITE (§17.2.1, RFC 6026 §7.1): provisionals in Proceeding; a 2xx moves to Accepted
    /// (Timer L), where further 2xx (the TU's retransmissions, §13.3.1.4) pass through; a
    /// 300-699 moves to Completed (Timers G and H). Non-INVITE (§17.2.2): provisionals in
    /// Trying and Proceeding, one final response (Completed, Timer J).
    pub fn send_response(
        &mut self,
        now: Instant,
        key: &TransactionKey,
        response: Message,
    ) -> Result<(), TransactionError> {
        if response.is_request() {
            return Err(TransactionError::NotAResponse);
        }
        if key.is_client() {
            return Err(TransactionError::NotServer(key.clone()));
        }
        let id = *self
            .index
            .get(key)
            .ok_or_else(|| TransactionError::Unknown(key.clone()))?;
        let ack_id = match response.status() {
            Some(200..=299) if key.is_invite() => AckId::of(&response),
            _ => None,
        };
        let tx = self
            .txs
            .get_mut(&id)
            .ok_or_else(|| TransactionError::Unknown(key.clone()))?;
        tx.on_tu_response(now, &self.config, response, &mut self.out)?;
        if tx.state == State::Accepted && tx.ack_id.is_none() {
            if let Some(ack_id) = ack_id {
                tx.ack_id = Some(ack_id.clone());
                self.acks.insert(ack_id, id);
            }
        }
        self.reschedule(id);
        Ok(())
    }

    /// Matches a received message to a transaction and runs it; tells what the TU must see.
    ///
    /// `reliable` is the transport the message came on; it matters for the server
    /// transaction a new request creates.
    pub fn handle(&mut self, now: Instant, message: Message, reliable: bool) -> Incoming {
        if message.is_response() {
            return self.handle_response(now, message);
        }
        let method = match message.method() {
            Some(m) => m.clone(),
            None => return Incoming::StrayResponse(message),
        };
        if method == Method::Ack {
            return self.handle_ack(now, message);
        }
        let key = match TransactionKey::for_server_request(&message, method.clone()) {
            Ok(k) => k,
            Err(error) => return Incoming::Malformed { message, error },
        };
        if let Some(&id) = self.index.get(&key) {
            let r = match self.txs.get_mut(&id) {
                Some(tx) => tx.on_request(now, &self.config, message, &mut self.out),
                None => Incoming::Absorbed,
            };
            self.reschedule(id);
            return r;
        }
        // §9.2: the transaction a CANCEL cancels is the one it would match as an INVITE.
        let invite = if method == Method::Cancel {
            match TransactionKey::for_server_request(&message, Method::Invite) {
                Ok(k) if self.index.contains_key(&k) => Some(k),
                Ok(_) => None,
                Err(error) => return Incoming::Malformed { message, error },
            }
        } else {
            None
        };
        let tx = Tx::new_server(key.clone(), message.clone(), reliable);
        self.insert(tx);
        if method == Method::Cancel {
            Incoming::Cancel {
                key,
                request: message,
                invite,
            }
        } else {
            Incoming::NewRequest {
                key,
                request: message,
            }
        }
    }

    /// §17.1.3: top Via branch and CSeq method.
    fn handle_response(&mut self, now: Instant, message: Message) -> Incoming {
        let key = match TransactionKey::for_response(&message) {
            Ok(Some(k)) => k,
            Ok(None) => return Incoming::StrayResponse(message),
            Err(error) => return Incoming::Malformed { message, error },
        };
        let Some(&id) = self.index.get(&key) else {
            return Incoming::StrayResponse(message);
        };
        let r = match self.txs.get_mut(&id) {
            Some(tx) => tx.on_response(now, &self.config, message, &mut self.out),
            None => Incoming::StrayResponse(message),
        };
        self.reschedule(id);
        r
    }

    /// §17.2.3: an ACK matches the INVITE server transaction (for a non-2xx final); with an
    /// RFC 2543 branch, by the INVITE's fields and the To tag of the response sent. An ACK
    /// for a 2xx (new branch, §13.2.2.4) is recognised by dialog while its INVITE server
    /// transaction is Accepted.
    fn handle_ack(&mut self, now: Instant, message: Message) -> Incoming {
        let key = match TransactionKey::for_server_request(&message, Method::Invite) {
            Ok(k) => k,
            Err(error) => return Incoming::Malformed { message, error },
        };
        let mut id = self.index.get(&key).copied();
        if id.is_none() {
            id = key
                .without_to_tag()
                .and_then(|k| self.rfc2543_invites.get(&k))
                .copied()
                .filter(|id| {
                    self.txs
                        .get(id)
                        .is_some_and(|tx| key.rfc2543_ack_matches(&tx.key, tx.response_to_tag()))
                });
        }
        if let Some(id) = id {
            let r = match self.txs.get_mut(&id) {
                Some(tx) => tx.on_request(now, &self.config, message, &mut self.out),
                None => Incoming::Absorbed,
            };
            self.reschedule(id);
            return r;
        }
        let accepted = AckId::of(&message)
            .and_then(|a| self.acks.get(&a))
            .and_then(|id| self.txs.get(id));
        match accepted {
            Some(tx) => Incoming::Ack2xx {
                invite: tx.key.clone(),
                ack: message,
            },
            None => Incoming::StrayAck(message),
        }
    }

    /// Fires every timer due at `now` (retransmissions, timeouts, state lifetimes).
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(&(at, id)) = self.timers.first() {
            if at > now {
                break;
            }
            self.timers.remove(&(at, id));
            if let Some(tx) = self.txs.get_mut(&id) {
                tx.scheduled = None;
                if let Some(timer) = tx.timers.due(now) {
                    if tx.key.is_client() {
                        tx.on_client_timer(timer, now, &self.config, &mut self.out);
                    } else {
                        tx.on_server_timer(timer, now, &self.config, &mut self.out);
                    }
                }
            }
            self.reschedule(id);
        }
    }

    /// The earliest timer deadline across all transactions.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.first().map(|&(at, _)| at)
    }

    /// The next message to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.transmits.pop_front()
    }

    /// The next event for the TU.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.out.events.pop_front()
    }

    /// Ends a transaction at once, without anything sent (the TU gives up on it, e.g. a
    /// transport failure, §17.1.4, §17.2.4, or Timer C at a proxy, §16.8). Reports
    /// [`Event::Terminated`]; returns whether the transaction existed.
    pub fn terminate(&mut self, key: &TransactionKey) -> bool {
        let Some(&id) = self.index.get(key) else {
            return false;
        };
        if let Some(tx) = self.txs.get_mut(&id) {
            tx.terminate();
        }
        self.reschedule(id);
        true
    }

    fn insert(&mut self, tx: Tx) -> u64 {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        self.index.insert(tx.key.clone(), id);
        if tx.key.is_server() && tx.key.is_invite() {
            if let Some(k) = tx.key.without_to_tag() {
                self.rfc2543_invites.insert(k, id);
            }
        }
        self.txs.insert(id, tx);
        id
    }

    /// After a transaction ran: move it in the timer queue, or forget it if terminated.
    fn reschedule(&mut self, id: u64) {
        let Some(tx) = self.txs.get_mut(&id) else {
            return;
        };
        let next = if tx.state == State::Terminated {
            None
        } else {
            tx.timers.next_deadline()
        };
        let next = next.map(|(at, absorbing)| {
            if absorbing {
                absorb_grid(&mut self.absorb_origin, self.config.absorb_slack, at)
            } else {
                at
            }
        });
        if tx.scheduled != next {
            if let Some(old) = tx.scheduled.take() {
                self.timers.remove(&(old, id));
            }
            if let Some(at) = next {
                self.timers.insert((at, id));
                tx.scheduled = Some(at);
            }
        }
        if tx.state == State::Terminated {
            if let Some(tx) = self.txs.remove(&id) {
                if self.index.get(&tx.key) == Some(&id) {
                    self.index.remove(&tx.key);
                }
                if let Some(k) = tx.key.without_to_tag() {
                    if self.rfc2543_invites.get(&k) == Some(&id) {
                        self.rfc2543_invites.remove(&k);
                    }
                }
                if let Some(a) = &tx.ack_id {
                    if self.acks.get(a) == Some(&id) {
                        self.acks.remove(a);
                    }
                }
                self.out.events.push_back(Event::Terminated(tx.key));
            }
        }
    }
}

/// The first point at or after `at` of the grid of step `slack` through `origin` (set to
/// `at` when unset): absorbing timers due within one step fire together. `at` itself when
/// `slack` is zero. Never more than `slack` late, whichever side of `origin` `at` lies.
fn absorb_grid(origin: &mut Option<Instant>, slack: Duration, at: Instant) -> Instant {
    let step = slack.as_nanos();
    if step == 0 {
        return at;
    }
    let origin = *origin.get_or_insert(at);
    let late = match at.checked_duration_since(origin) {
        // The next grid point after `at`: `at` plus what `at - origin` lacks of a step.
        Some(since) => match since.as_nanos() % step {
            0 => 0,
            r => step - r,
        },
        // Before the origin: grid points lie `slack` apart backwards from it too.
        None => origin.duration_since(at).as_nanos() % step,
    };
    after(
        at,
        Duration::from_nanos(u64::try_from(late).unwrap_or(u64::MAX)),
    )
}
