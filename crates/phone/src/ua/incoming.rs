//! Requests this user agent receives: new calls (RFC 3261 §13.3), requests within a call
//! (§12.2.2: BYE, re-INVITE, INFO, REFER, NOTIFY, UPDATE, OPTIONS), CANCEL (§9.2), ACK,
//! MESSAGE (RFC 3428), OPTIONS (§11.2) and message-waiting NOTIFYs (RFC 3842) outside a call.

use std::time::Instant;

use sip::build::MessageBuilder;
use sip::dialog::DialogId;
use sip::transaction::TransactionKey;
use sip::{HeaderName, Message, Method};

use super::call::{Call, Direction, Phase};
use super::responses::body_of;
use super::{CallId, EndCause, Event, Timer, UserAgent, ALLOW};

impl UserAgent {
    pub(super) fn on_request(&mut self, now: Instant, key: TransactionKey, request: Message) {
        let Some(method) = request.method().cloned() else {
            return;
        };
        let in_dialog = request.to().ok().and_then(|t| t.tag()).is_some();
        if in_dialog {
            self.on_dialog_request(now, key, request, method);
            return;
        }
        match method {
            Method::Invite => self.on_new_call(now, key, request),
            Method::Message => {
                self.events.push_back(Event::Message {
                    from: request.header(HeaderName::From).unwrap_or("").to_owned(),
                    content_type: content_type(&request),
                    body: request.body_bytes(),
                });
                self.reply(now, &key, &request, 200);
            }
            Method::Options => self.reply_options(now, &key, &request),
            Method::Notify if is_message_summary(&request) => {
                self.on_message_summary(now, &key, &request);
            }
            Method::Bye | Method::Info | Method::Refer | Method::Notify | Method::Update => {
                self.reply(now, &key, &request, 481);
            }
            _ => {
                let r = MessageBuilder::response_to(&request, 405, None, None)
                    .header(HeaderName::Allow, ALLOW);
                self.respond(now, &key, r);
            }
        }
    }

    /// A `message-summary` NOTIFY outside any dialog: the voicemail's message-waiting
    /// indication sent without a subscription (as SEMS and Asterisk do). 200 and the
    /// counts told to the owner; a body that is not a message summary gets 400.
    fn on_message_summary(&mut self, now: Instant, key: &TransactionKey, request: &Message) {
        let body = String::from_utf8_lossy(request.body());
        match sip::message_summary::MessageSummary::parse(&body) {
            Ok(summary) => {
                self.reply(now, key, request, 200);
                self.events.push_back(Event::MessageWaiting { summary });
            }
            Err(e) => {
                let tag = self.token(10);
                let r = MessageBuilder::response_to(request, 400, Some(&e.to_string()), Some(&tag));
                self.respond(now, key, r);
            }
        }
    }

    fn reply(&mut self, now: Instant, key: &TransactionKey, request: &Message, code: u16) {
        let tag = (code > 100 && request.to().ok().and_then(|t| t.tag()).is_none())
            .then(|| self.token(10));
        let r = MessageBuilder::response_to(request, code, None, tag.as_deref());
        self.respond(now, key, r);
    }

    /// OPTIONS (§11.2): what we accept.
    fn reply_options(&mut self, now: Instant, key: &TransactionKey, request: &Message) {
        let tag = request
            .to()
            .ok()
            .and_then(|t| t.tag())
            .is_none()
            .then(|| self.token(10));
        let r = MessageBuilder::response_to(request, 200, None, tag.as_deref())
            .header(HeaderName::Allow, ALLOW)
            .header(HeaderName::from_name("Accept"), "application/sdp")
            .header(HeaderName::Contact, &self.contact());
        self.respond(now, key, r);
    }

    /// A new INVITE: a call for the owner to answer.
    fn on_new_call(&mut self, now: Instant, key: TransactionKey, request: Message) {
        let call = self.new_call_id();
        let tag = self.token(10);
        let mut c = Call::new(Direction::Incoming, tag);
        let from = request.header(HeaderName::From).unwrap_or("").to_owned();
        let to = request.header(HeaderName::To).unwrap_or("").to_owned();
        let sdp = body_of(&request);
        c.invite = Some(request.clone());
        c.invite_key = Some(key.clone());
        self.calls.insert(call, c);
        // §8.2.6.1 lets a UAS skip 100 Trying; sending it stops the caller's retransmissions
        // while the owner decides.
        let trying = MessageBuilder::response_to(&request, 100, None, None);
        self.respond(now, &key, trying);
        self.events.push_back(Event::Incoming {
            call,
            from,
            to,
            sdp,
        });
    }

    /// CANCEL (§9.2): ends an unanswered incoming call with 487.
    pub(super) fn on_cancel(
        &mut self,
        now: Instant,
        key: TransactionKey,
        request: Message,
        invite: Option<TransactionKey>,
    ) {
        let Some(invite) = invite else {
            self.reply(now, &key, &request, 481);
            return;
        };
        self.reply(now, &key, &request, 200);
        let call = self
            .calls
            .iter()
            .find(|(_, c)| c.invite_key.as_ref() == Some(&invite) && c.phase == Phase::Offered)
            .map(|(id, _)| *id);
        let Some(call) = call else {
            return;
        };
        if let Ok((k, response)) = self.incoming_response(call, 487, None, "cancel") {
            self.respond(now, &k, response);
        }
        self.end_call(call, EndCause::CallerCancelled);
    }

    /// ACK for our 2xx (§13.3.1.4): stops its retransmission; an incoming call is now
    /// established.
    pub(super) fn on_ack(&mut self, ack: &Message) {
        let Some(id) = DialogId::of_received_request(ack) else {
            return;
        };
        let Some(call) = self.call_by_dialog(&id) else {
            return;
        };
        let seq = ack.cseq().map(|c| c.seq).unwrap_or(0);
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let acked = c.unacked_answer.as_ref().is_some_and(|(_, s)| *s == seq);
        if acked {
            c.unacked_answer = None;
        }
        let confirmed = c.phase == Phase::Answered;
        if confirmed {
            c.phase = Phase::Established;
            let sdp = (!ack.body().is_empty()).then(|| bytes::Bytes::copy_from_slice(ack.body()));
            self.events.push_back(Event::Confirmed { call, sdp });
        }
        if acked {
            self.cancel_timers(|t| {
                matches!(t, Timer::Answer { call: c2, .. } | Timer::AnswerGiveUp { call: c2 } if *c2 == call)
            });
        }
    }

    /// A request with a To tag: it belongs to a dialog (§12.2.2).
    fn on_dialog_request(
        &mut self,
        now: Instant,
        key: TransactionKey,
        request: Message,
        method: Method,
    ) {
        let Some(call) = DialogId::of_received_request(&request)
            .and_then(|id| self.call_by_dialog(&id))
            .filter(|id| self.calls.get(id).is_some_and(|c| c.phase != Phase::Ended))
        else {
            self.reply(now, &key, &request, 481);
            return;
        };
        let order = self
            .calls
            .get_mut(&call)
            .and_then(|c| c.dialog.as_mut())
            .map(|d| d.receive_request(&request));
        if let Some(Err(e)) = order {
            tracing::debug!(%call, error = %e, "request out of order");
            self.reply(now, &key, &request, 500);
            return;
        }
        match method {
            Method::Bye => {
                self.reply(now, &key, &request, 200);
                self.end_call(call, EndCause::RemoteHangup);
            }
            Method::Invite => self.on_reinvite(now, call, key, request),
            Method::Info => {
                self.events.push_back(Event::Info {
                    call,
                    content_type: content_type(&request),
                    body: request.body_bytes(),
                });
                self.reply(now, &key, &request, 200);
            }
            Method::Refer => self.on_refer(now, call, key, request),
            Method::Notify => {
                self.reply(now, &key, &request, 200);
                if let Some((code, reason)) = sipfrag_status(request.body()) {
                    self.events
                        .push_back(Event::TransferProgress { call, code, reason });
                }
            }
            Method::Update => {
                // No offer/answer by UPDATE here (RFC 3311); a refresh without SDP is fine.
                if request.body().is_empty() {
                    if let Some(d) = self.calls.get_mut(&call).and_then(|c| c.dialog.as_mut()) {
                        d.refresh_target(&request);
                    }
                    let r = MessageBuilder::response_to(&request, 200, None, None)
                        .header(HeaderName::Contact, &self.contact());
                    self.respond(now, &key, r);
                } else {
                    self.reply(now, &key, &request, 488);
                }
            }
            Method::Options => self.reply_options(now, &key, &request),
            Method::Message => {
                self.events.push_back(Event::Message {
                    from: request.header(HeaderName::From).unwrap_or("").to_owned(),
                    content_type: content_type(&request),
                    body: request.body_bytes(),
                });
                self.reply(now, &key, &request, 200);
            }
            _ => {
                let r = MessageBuilder::response_to(&request, 405, None, None)
                    .header(HeaderName::Allow, ALLOW);
                self.respond(now, &key, r);
            }
        }
    }

    /// A re-INVITE (§14.2): one offer at a time (491 while ours or theirs is pending).
    fn on_reinvite(&mut self, now: Instant, call: CallId, key: TransactionKey, request: Message) {
        let ours_pending = self
            .pending
            .values()
            .any(|p| matches!(p.purpose, super::request::Purpose::Reinvite(c) if c == call));
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if ours_pending || c.pending_offer.is_some() || c.unacked_answer.is_some() {
            self.reply(now, &key, &request, 491);
            return;
        }
        if let Some(d) = c.dialog.as_mut() {
            d.refresh_target(&request);
        }
        c.pending_offer = Some(key);
        self.events.push_back(Event::RemoteOffer {
            call,
            sdp: body_of(&request),
        });
    }

    /// REFER (RFC 3515 §2.4.2): accepted with 202; the owner places the call and reports
    /// with [`UserAgent::notify_transfer`].
    fn on_refer(&mut self, now: Instant, call: CallId, key: TransactionKey, request: Message) {
        let target = request
            .header_by_name("Refer-To")
            .or_else(|| request.header_by_name("r"))
            .and_then(|v| sip::headers::NameAddr::parse(v).ok())
            .map(|n| n.uri.to_owned());
        let Some(target) = target else {
            self.reply(now, &key, &request, 400);
            return;
        };
        self.reply(now, &key, &request, 202);
        self.events
            .push_back(Event::TransferRequested { call, target });
        // RFC 3515 §2.4.4: the first NOTIFY follows at once.
        if let Err(e) = self.notify_transfer(now, call, 100, "Trying") {
            tracing::debug!(error = %e, "first NOTIFY not sent");
        }
    }
}

fn content_type(message: &Message) -> String {
    message
        .header(HeaderName::ContentType)
        .unwrap_or("")
        .to_owned()
}

/// The status line of a `message/sipfrag` body (RFC 3420): `SIP/2.0 200 OK`.
fn sipfrag_status(body: &[u8]) -> Option<(u16, String)> {
    let text = std::str::from_utf8(body).ok()?;
    let line = text.lines().next()?.trim();
    let rest = line.strip_prefix("SIP/2.0 ")?;
    let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
    Some((code.parse().ok()?, reason.to_owned()))
}

/// Whether `request` carries the `message-summary` event (RFC 3842 §3; the event type is
/// the token before any parameter, RFC 6665 §8.2.1).
fn is_message_summary(request: &Message) -> bool {
    request
        .header(HeaderName::Event)
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("message-summary"))
}
