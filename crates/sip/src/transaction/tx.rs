//! What every transaction holds, whichever of the four machines it runs, and the output
//! queues the machines write to.

use std::collections::VecDeque;
use std::time::Instant;

use bytes::Bytes;

use crate::message::Message;

use super::key::{AckId, TransactionKey};
use super::timer::{Timer, TimerConfig, Timers};
use super::{Event, Transmit};

/// Transaction states (RFC 3261 figures 5-8, RFC 6026 figures 5 and 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// INVITE client: request sent, no response yet (§17.1.1.2).
    Calling,
    /// Non-INVITE client: request sent, no response yet; non-INVITE server: request
    /// received, no response sent yet (§17.1.2.2, §17.2.2).
    Trying,
    /// A provisional response was received (client) or sent (server); the INVITE server
    /// starts here (§17.2.1).
    Proceeding,
    /// A final response (non-2xx for INVITE) was received (client) or sent (server).
    Completed,
    /// INVITE server: the ACK for the non-2xx final response arrived (§17.2.1).
    Confirmed,
    /// INVITE, RFC 6026: a 2xx was received (client, §7.2) or sent (server, §7.1).
    Accepted,
    /// Done; the layer forgets the transaction and reports [`Event::Terminated`].
    Terminated,
}

/// The queues the state machines fill; drained by the `poll_*` methods of the layer.
#[derive(Debug, Default)]
pub(super) struct Output {
    pub(super) transmits: VecDeque<Transmit>,
    pub(super) events: VecDeque<Event>,
}

impl Output {
    pub(super) fn transmit(&mut self, key: &TransactionKey, payload: Bytes, retransmission: bool) {
        self.transmits.push_back(Transmit {
            key: key.clone(),
            payload,
            retransmission,
        });
    }
}

/// One transaction: the state, the messages needed for retransmission and ACKs, and the
/// timers.
///
/// A transaction outlives its final response by up to 64*T1 (Timers D, J, L, M: 32 s on
/// UDP) to absorb retransmissions; in that time it keeps only what those need (the key,
/// the last response's bytes, the ACK), not the request, so that a busy server's
/// lingering transactions stay small.
#[derive(Debug)]
pub(super) struct Tx {
    pub(super) key: TransactionKey,
    pub(super) state: State,
    /// The transport is reliable (TCP, TLS, SCTP, WS): no retransmission timers, and Timers
    /// D, I, J, K are zero.
    pub(super) reliable: bool,
    /// The request that created the transaction, until a final response settles it
    /// ([`Tx::settle`]): after that nothing retransmits it, and nothing may be built from
    /// it (§9.1: no CANCEL once a final response arrived).
    ///
    /// Boxed, like `ack`: a settled transaction lingers with both empty (Timer J, K or D:
    /// up to 32 s over UDP), and the layer's table holds (and moves, when it grows) every
    /// transaction inline, so a `Message` in place would cost its size in every slot.
    pub(super) request: Option<Box<Message>>,
    /// Server: the last response sent, retransmitted on request retransmissions and by
    /// Timer G. Client: unused.
    pub(super) last_response: Option<Bytes>,
    /// RFC 2543 INVITE server: the To tag of the last response sent (ACK matching,
    /// §17.2.3).
    pub(super) last_to_tag: Option<Box<str>>,
    /// INVITE client: the ACK for the non-2xx final response (§17.1.1.3).
    pub(super) ack: Option<Box<Message>>,
    pub(super) timers: Timers,
    /// The deadline under which the layer has this transaction in its timer queue.
    pub(super) scheduled: Option<Instant>,
    /// INVITE server in Accepted: the dialog id under which a 2xx ACK is recognised.
    pub(super) ack_id: Option<AckId>,
}

impl Tx {
    pub(super) fn new(key: TransactionKey, state: State, request: Message, reliable: bool) -> Tx {
        Tx {
            key,
            state,
            reliable,
            request: Some(Box::new(request)),
            last_response: None,
            last_to_tag: None,
            ack: None,
            timers: Timers::default(),
            scheduled: None,
            ack_id: None,
        }
    }

    /// A final response was received (client) or sent (server): the request is not needed
    /// any more (see the type's docs).
    pub(super) fn settle(&mut self) {
        self.request = None;
    }

    /// Moves to Terminated and stops all timers.
    pub(super) fn terminate(&mut self) {
        self.state = State::Terminated;
        self.timers.clear();
    }

    /// Enters `state`, whose lifetime is the state-ending `timer` (D, I, J, K, L or M).
    /// Stops every other timer. A zero duration (D, I, J, K on reliable transports)
    /// terminates at once.
    pub(super) fn enter_timed(
        &mut self,
        state: State,
        timer: Timer,
        now: Instant,
        config: &TimerConfig,
    ) {
        self.timers.clear();
        let d = config.duration(timer, self.reliable);
        if d.is_zero() {
            self.terminate();
        } else {
            self.state = state;
            self.timers.set_end(timer, now, d);
        }
    }

    /// The To tag of the last response sent (RFC 2543 ACK matching, §17.2.3).
    pub(super) fn response_to_tag(&self) -> Option<&str> {
        self.last_to_tag.as_deref()
    }
}
