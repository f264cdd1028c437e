//! Responses to the requests this user agent sent, by what the request was for.

use std::time::Instant;

use bytes::Bytes;
use sip::dialog::{Dialog, DialogId};
use sip::transaction::TransactionKey;
use sip::{Message, Method};

use super::call::Phase;
use super::request::{Plan, Purpose};
use super::{CallId, EndCause, Event, Transmit, UserAgent};

impl UserAgent {
    pub(super) fn on_response(&mut self, now: Instant, key: TransactionKey, response: Message) {
        let Some(status) = response.status() else {
            return;
        };
        let Some(plan) = self.pending.get(&key) else {
            // A 2xx the INVITE transaction passes on after its first (RFC 6026 §7.2).
            self.on_stray_response(now, response);
            return;
        };
        let purpose = plan.purpose;
        if status < 200 {
            if let Purpose::Invite(call) = purpose {
                self.on_invite_provisional(now, call, &response);
            }
            return;
        }
        // A final response: the plan leaves the table (an INVITE's later 2xx find the call
        // through its dialog).
        let Some(plan) = self.pending.remove(&key) else {
            return;
        };
        self.on_final(now, plan, Some(&response));
    }

    /// Timer B or F: the request was not answered; handled as a `408` (RFC 3261 §8.1.3.1).
    pub(super) fn on_client_timeout(&mut self, now: Instant, key: &TransactionKey) {
        if let Some(plan) = self.pending.remove(key) {
            self.on_final(now, plan, None);
        }
    }

    /// A final response to `plan` (`None`: timeout).
    fn on_final(&mut self, now: Instant, mut plan: Plan, response: Option<&Message>) {
        let code = response.and_then(Message::status).unwrap_or(408);
        let reason = response
            .and_then(Message::reason)
            .unwrap_or("Request Timeout")
            .to_owned();
        // Challenged: answer with credentials and send again (§22.2), unless the call was
        // cancelled meanwhile.
        if matches!(code, 401 | 407) && !matches!(plan.purpose, Purpose::Register { .. }) {
            let cancelled = match plan.purpose {
                Purpose::Invite(call) => self
                    .calls
                    .get(&call)
                    .is_none_or(|c| c.cancelled || c.cancel_pending),
                _ => false,
            };
            if !cancelled && response.is_some_and(|r| plan.take_challenge(r)) {
                if let Purpose::Invite(call) = plan.purpose {
                    if let Some(c) = self.calls.get_mut(&call) {
                        c.provisional_seen = false;
                    }
                }
                if let Err(e) = self.send_plan(now, plan) {
                    tracing::warn!(error = %e, "request not sent again with credentials");
                }
                return;
            }
        }
        match plan.purpose {
            Purpose::Register { expires } => {
                self.on_register_response(now, plan, response, expires);
            }
            Purpose::Invite(call) => match (code, response) {
                (200..=299, Some(r)) => self.on_invite_success(now, call, r),
                _ => {
                    let cancelled = self.calls.get(&call).is_some_and(|c| c.cancelled);
                    let cause = if cancelled && (code == 487 || code == 408) {
                        EndCause::Cancelled
                    } else {
                        EndCause::Failed { code, reason }
                    };
                    self.end_call(call, cause);
                }
            },
            Purpose::Reinvite(call) => match (code, response) {
                (200..=299, Some(r)) => {
                    self.send_ack(call, r);
                    if let Some(d) = self.calls.get_mut(&call).and_then(|c| c.dialog.as_mut()) {
                        d.refresh_target(r);
                    }
                    self.events.push_back(Event::OfferAnswered {
                        call,
                        sdp: body_of(r),
                    });
                }
                // §12.2.1.2: 481 or 408 to a request in the dialog ends it.
                (481 | 408, _) => {
                    self.send_bye(now, call);
                    self.end_call(call, EndCause::Failed { code, reason });
                }
                _ => self.events.push_back(Event::OfferFailed { call, code }),
            },
            Purpose::Info(call) => self.events.push_back(Event::InfoAnswered { call, code }),
            Purpose::Refer(call) => {
                self.events
                    .push_back(Event::TransferProgress { call, code, reason })
            }
            Purpose::Message(id) => {
                self.events
                    .push_back(Event::MessageAnswered { id, code, reason })
            }
            Purpose::Bye(_) | Purpose::Cancel(_) | Purpose::Notify(_) => {}
        }
    }

    fn on_invite_provisional(&mut self, now: Instant, call: CallId, response: &Message) {
        let status = response.status().unwrap_or(100);
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        c.provisional_seen = true;
        if c.dialog.is_none() && status > 100 {
            if let Some(invite) = &c.invite {
                c.dialog = Dialog::uac(invite, response).ok();
            }
        }
        if c.cancel_pending {
            self.send_cancel(now, call);
            return;
        }
        if status > 100 && c.phase == Phase::Calling {
            self.events.push_back(Event::Ringing {
                call,
                code: status,
                sdp: body_of(response),
            });
        }
    }

    fn on_invite_success(&mut self, now: Instant, call: CallId, response: &Message) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let Some(invite) = c.invite.clone() else {
            return;
        };
        let same_dialog = c
            .dialog
            .as_ref()
            .is_some_and(|d| Some(d.id()) == DialogId::of_response(response).as_ref());
        if same_dialog {
            if let Some(d) = c.dialog.as_mut() {
                d.confirm(response);
            }
        } else {
            match Dialog::uac(&invite, response) {
                Ok(d) => c.dialog = Some(d),
                Err(e) => {
                    tracing::warn!(%call, error = %e, "2xx without a usable dialog");
                    self.end_call(
                        call,
                        EndCause::Failed {
                            code: 502,
                            reason: "Bad answer".into(),
                        },
                    );
                    return;
                }
            }
        }
        self.send_ack(call, response);
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if c.cancelled || c.phase == Phase::Ended {
            // The 2xx crossed our CANCEL (or we hung up): confirm and end it (§15).
            self.send_bye(now, call);
            self.end_call(call, EndCause::Cancelled);
            return;
        }
        c.phase = Phase::Established;
        self.events.push_back(Event::Answered {
            call,
            sdp: body_of(response),
        });
    }

    /// Sends (and remembers) the ACK for a 2xx to the INVITE of `call` (§13.2.2.4).
    pub(super) fn send_ack(&mut self, call: CallId, response: &Message) {
        let via = self.via();
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let Some(dialog) = c.dialog.as_ref() else {
            return;
        };
        let seq = response.cseq().map(|s| s.seq).unwrap_or(0);
        match dialog.ack(seq, &via).build() {
            Ok(ack) => {
                let bytes = ack.as_bytes().clone();
                c.ack = Some(bytes.clone());
                c.ack_seq = seq;
                self.out.push_back(Transmit {
                    dest: self.config.server,
                    payload: bytes,
                });
            }
            Err(e) => tracing::warn!(error = %e, "ACK not built"),
        }
    }

    /// A response no transaction claims: a 2xx retransmission after the INVITE transaction
    /// ended gets our ACK again (§13.2.2.4); a 2xx from another fork is acknowledged and
    /// ended with a BYE; anything else is dropped.
    pub(super) fn on_stray_response(&mut self, now: Instant, response: Message) {
        let is_invite_2xx = response.status().is_some_and(|s| (200..300).contains(&s))
            && response.cseq().is_ok_and(|c| c.method() == Method::Invite);
        if !is_invite_2xx {
            return;
        }
        let Some(id) = DialogId::of_response(&response) else {
            return;
        };
        let seq = response.cseq().map(|c| c.seq).unwrap_or(0);
        if let Some(call) = self.call_by_dialog(&id) {
            if let Some(c) = self.calls.get(&call) {
                if c.ack_seq == seq {
                    if let Some(ack) = c.ack.clone() {
                        self.out.push_back(Transmit {
                            dest: self.config.server,
                            payload: ack,
                        });
                    }
                }
            }
            return;
        }
        // Another fork answered too (§13.2.2.4): acknowledge its dialog and end it.
        let fork = self.calls.values().find_map(|c| {
            let invite = c.invite.as_ref()?;
            let same = invite.call_id().ok()? == id.call_id && c.local_tag == id.local_tag;
            same.then(|| Dialog::uac(invite, &response).ok()).flatten()
        });
        if let Some(mut dialog) = fork {
            let via = self.via();
            if let Ok(ack) = dialog.ack(seq, &via).build() {
                self.out.push_back(Transmit {
                    dest: self.config.server,
                    payload: ack.as_bytes().clone(),
                });
            }
            let via = self.via();
            if let Ok(bye) = dialog.request(&Method::Bye, &via, None).build() {
                if let Err(e) = self
                    .layer
                    .send_request(now, bye, self.config.transport.reliable())
                {
                    tracing::debug!(error = %e, "BYE to a second fork not sent");
                }
            }
        }
    }
}

/// The body of a message, when it has one.
pub(super) fn body_of(message: &Message) -> Option<Bytes> {
    let body = message.body_bytes();
    (!body.is_empty()).then_some(body)
}
