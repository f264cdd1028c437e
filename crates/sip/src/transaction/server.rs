//! The server state machines: INVITE (RFC 3261 §17.2.1 with the RFC 6026 §7.1 Accepted
//! state) and non-INVITE (§17.2.2).

use std::time::Instant;

use crate::message::Message;
use crate::method::Method;

use super::key::TransactionKey;
use super::timer::{Timer, TimerConfig};
use super::tx::{Output, State, Tx};
use super::{Event, Incoming, TransactionError};

impl Tx {
    /// A server transaction for a request that matched none (§17.2.3). INVITE starts in
    /// Proceeding (§17.2.1), anything else in Trying (§17.2.2). No timer runs until the TU
    /// answers.
    pub(super) fn new_server(key: TransactionKey, request: Message, reliable: bool) -> Tx {
        let state = if key.is_invite() {
            State::Proceeding
        } else {
            State::Trying
        };
        Tx::new(key, state, request, reliable)
    }

    /// A request matched this server transaction: a retransmission, or (INVITE) an ACK.
    pub(super) fn on_request(
        &mut self,
        now: Instant,
        config: &TimerConfig,
        request: Message,
        out: &mut Output,
    ) -> Incoming {
        let is_ack = request.method() == Some(&Method::Ack);
        if !self.key.is_invite() {
            // §17.2.2: absorbed in Trying; the last response is sent again in Proceeding
            // and Completed.
            if self.state != State::Trying {
                self.retransmit_response(out);
            }
            return Incoming::Absorbed;
        }
        match (self.state, is_ack) {
            // §17.2.1: a retransmitted INVITE gets the last provisional again.
            (State::Proceeding, false) => {
                self.retransmit_response(out);
                Incoming::Absorbed
            }
            // ... and in Completed the final response.
            (State::Completed, false) => {
                self.retransmit_response(out);
                Incoming::Absorbed
            }
            // ACK for the non-2xx: stop G and H, Confirmed, Timer I.
            (State::Completed, true) => {
                self.enter_timed(State::Confirmed, Timer::I, now, config);
                Incoming::Absorbed
            }
            // RFC 6026 §7.1: the ACK for a 2xx goes to the TU.
            (State::Accepted, true) => Incoming::Ack2xx {
                ack: request,
                invite: self.key.clone(),
            },
            // ACK before any final response, anything in Confirmed, INVITE retransmissions
            // in Accepted (RFC 6026 §7.1: absorbed, not answered).
            _ => Incoming::Absorbed,
        }
    }

    fn retransmit_response(&self, out: &mut Output) {
        if let Some(r) = &self.last_response {
            out.transmit(&self.key, r.clone(), true);
        }
    }

    /// The TU passes a response to this server transaction.
    pub(super) fn on_tu_response(
        &mut self,
        now: Instant,
        config: &TimerConfig,
        response: Message,
        out: &mut Output,
    ) -> Result<(), TransactionError> {
        let status = response.status().ok_or(TransactionError::NotAResponse)?;
        let provisional = status < 200;
        let not_allowed = TransactionError::ResponseNotAllowed {
            state: self.state,
            status,
        };
        if self.key.is_invite() {
            match self.state {
                State::Proceeding if provisional => {}
                // §17.2.1: 300-699 → Completed, Timer G (unreliable only) and Timer H.
                State::Proceeding if status >= 300 => {
                    self.state = State::Completed;
                    self.timers.clear();
                    if !self.reliable {
                        self.timers.set_retransmit(Timer::G, now, config.t1);
                    }
                    self.timers
                        .set_end(Timer::H, now, config.duration(Timer::H, self.reliable));
                }
                // RFC 6026 §7.1: 2xx → Accepted, Timer L.
                State::Proceeding => self.enter_timed(State::Accepted, Timer::L, now, config),
                // RFC 6026 §7.1: the TU's 2xx retransmissions pass through in Accepted.
                State::Accepted if (200..300).contains(&status) => {}
                _ => return Err(not_allowed),
            }
        } else {
            match self.state {
                State::Trying | State::Proceeding if provisional => {
                    self.state = State::Proceeding;
                }
                State::Trying | State::Proceeding => {
                    self.enter_timed(State::Completed, Timer::J, now, config);
                }
                _ => return Err(not_allowed),
            }
        }
        if self.key.is_invite() && self.key.is_rfc2543() {
            self.last_to_tag = response.to().ok().and_then(|to| to.tag().map(Box::from));
        }
        let bytes = response.as_bytes().clone();
        out.transmit(&self.key, bytes.clone(), false);
        self.last_response = Some(bytes);
        if !provisional {
            self.settle();
        }
        Ok(())
    }

    /// A server transaction timer fired.
    pub(super) fn on_server_timer(
        &mut self,
        timer: Timer,
        now: Instant,
        config: &TimerConfig,
        out: &mut Output,
    ) {
        match timer {
            // §17.2.1: retransmit the final response, doubling up to T2.
            Timer::G => {
                self.retransmit_response(out);
                let interval = self
                    .timers
                    .retransmit
                    .map_or(config.t1, |(_, _, d)| d.saturating_mul(2))
                    .min(config.t2);
                self.timers.set_retransmit(Timer::G, now, interval);
            }
            // §17.2.1: no ACK; the TU is told of the failure.
            Timer::H => {
                out.events.push_back(Event::Timeout {
                    key: self.key.clone(),
                    timer,
                });
                self.terminate();
            }
            // I, J, L: the state's lifetime is over.
            _ => self.terminate(),
        }
    }
}
