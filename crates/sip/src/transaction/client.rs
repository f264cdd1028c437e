//! The client state machines: INVITE (RFC 3261 §17.1.1 with the RFC 6026 §7.2 Accepted
//! state) and non-INVITE (§17.1.2).

use std::time::Instant;

use crate::message::Message;

use super::ack::non_2xx_ack;
use super::key::TransactionKey;
use super::timer::{Timer, TimerConfig};
use super::tx::{Output, State, Tx};
use super::{Event, Incoming};

impl Tx {
    /// Starts a client transaction and queues the request (§17.1.1.2, §17.1.2.2).
    ///
    /// INVITE: Calling, Timer A = T1 on unreliable transports, Timer B = 64*T1.
    /// Non-INVITE: Trying, Timer E = T1 on unreliable transports, Timer F = 64*T1.
    pub(super) fn new_client(
        key: TransactionKey,
        request: Message,
        reliable: bool,
        now: Instant,
        config: &TimerConfig,
        out: &mut Output,
    ) -> Tx {
        let invite = key.is_invite();
        let (state, retransmit, timeout) = if invite {
            (State::Calling, Timer::A, Timer::B)
        } else {
            (State::Trying, Timer::E, Timer::F)
        };
        let payload = request.as_bytes().clone();
        let mut tx = Tx::new(key, state, request, reliable);
        out.transmit(&tx.key, payload, false);
        if !reliable {
            tx.timers.set_retransmit(retransmit, now, config.t1);
        }
        tx.timers
            .set_end(timeout, now, config.duration(timeout, reliable));
        tx
    }

    /// A response matched this client transaction (§17.1.3).
    pub(super) fn on_response(
        &mut self,
        now: Instant,
        config: &TimerConfig,
        response: Message,
        out: &mut Output,
    ) -> Incoming {
        let status = response.status().unwrap_or(0);
        if self.key.is_invite() {
            self.invite_response(now, config, status, response, out)
        } else {
            self.non_invite_response(now, config, status, response)
        }
    }

    /// §17.1.1.2 and RFC 6026 §7.2 (figure 5 of RFC 6026).
    fn invite_response(
        &mut self,
        now: Instant,
        config: &TimerConfig,
        status: u16,
        response: Message,
        out: &mut Output,
    ) -> Incoming {
        let key = self.key.clone();
        match (self.state, status) {
            // Provisional: stop retransmitting; every provisional goes to the TU.
            (State::Calling | State::Proceeding, 100..=199) => {
                self.state = State::Proceeding;
                self.timers.clear();
                Incoming::Response { key, response }
            }
            // RFC 6026 §7.2: 2xx → Accepted, Timer M; the TU sends the ACK itself.
            (State::Calling | State::Proceeding, 200..=299) => {
                self.enter_timed(State::Accepted, Timer::M, now, config);
                self.settle();
                Incoming::Response { key, response }
            }
            // §17.1.1.2: 300-699 → ACK, Completed, Timer D.
            (State::Calling | State::Proceeding, _) => {
                self.ack = self
                    .request
                    .as_ref()
                    .and_then(|request| non_2xx_ack(request, &response))
                    .map(Box::new);
                if let Some(ack) = &self.ack {
                    out.transmit(&key, ack.as_bytes().clone(), false);
                }
                self.enter_timed(State::Completed, Timer::D, now, config);
                self.settle();
                Incoming::Response { key, response }
            }
            // §17.1.1.2: a retransmitted final response in Completed gets the ACK again.
            (State::Completed, 300..) => {
                if let Some(ack) = &self.ack {
                    out.transmit(&key, ack.as_bytes().clone(), true);
                }
                Incoming::Absorbed
            }
            // RFC 6026 §7.2: in Accepted every 2xx (retransmitted or forked) goes to the TU.
            (State::Accepted, 200..=299) => Incoming::Response { key, response },
            _ => Incoming::Absorbed,
        }
    }

    /// §17.1.2.2 (figure 6).
    fn non_invite_response(
        &mut self,
        now: Instant,
        config: &TimerConfig,
        status: u16,
        response: Message,
    ) -> Incoming {
        let key = self.key.clone();
        match (self.state, status) {
            (State::Trying | State::Proceeding, 100..=199) => {
                // Timer E keeps running; when it fires in Proceeding it is reset to T2.
                self.state = State::Proceeding;
                Incoming::Response { key, response }
            }
            (State::Trying | State::Proceeding, _) => {
                self.enter_timed(State::Completed, Timer::K, now, config);
                self.settle();
                Incoming::Response { key, response }
            }
            _ => Incoming::Absorbed,
        }
    }

    /// A client transaction timer fired.
    pub(super) fn on_client_timer(
        &mut self,
        timer: Timer,
        now: Instant,
        config: &TimerConfig,
        out: &mut Output,
    ) {
        match timer {
            // §17.1.1.2: retransmit and double, with no cap (B ends it after 6 doublings).
            Timer::A => {
                if let Some(request) = &self.request {
                    out.transmit(&self.key, request.as_bytes().clone(), true);
                }
                let interval = self
                    .timers
                    .retransmit
                    .map_or(config.t1, |(_, _, d)| d.saturating_mul(2));
                self.timers.set_retransmit(Timer::A, now, interval);
            }
            // §17.1.2.2: retransmit; double up to T2 in Trying, T2 in Proceeding.
            Timer::E => {
                if let Some(request) = &self.request {
                    out.transmit(&self.key, request.as_bytes().clone(), true);
                }
                let interval = if self.state == State::Proceeding {
                    config.t2
                } else {
                    self.timers
                        .retransmit
                        .map_or(config.t1, |(_, _, d)| d.saturating_mul(2))
                        .min(config.t2)
                };
                self.timers.set_retransmit(Timer::E, now, interval);
            }
            // §17.1.1.2, §17.1.2.2: transaction timeout, reported to the TU.
            Timer::B | Timer::F => {
                out.events.push_back(Event::Timeout {
                    key: self.key.clone(),
                    timer,
                });
                self.terminate();
            }
            // D, K, M (and anything unexpected): the state's lifetime is over.
            _ => self.terminate(),
        }
    }
}
