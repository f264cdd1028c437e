//! Click-to-dial: third-party call control (RFC 3725 §4.1, flow I), sans-IO. A subscriber
//! (A) asks, through the portal, to be connected to a target (B); the service UA is the
//! controller:
//!
//! ```text
//!   A (A's phones)          controller (this UA)            B (the target)
//!   |<-- INVITE (no SDP) -------|                               |  (1)
//!   |--- 200 (offer1) --------->|                               |  (2)
//!   |                           |--- INVITE (offer1) ---------->|  (3)
//!   |                           |<-- 200 (answer1) -------------|  (4)
//!   |                           |--- ACK ---------------------->|  (5)
//!   |<-- ACK (answer1) ---------|                               |  (6)
//!   |<================== RTP ==================================>|
//! ```
//!
//! - (1) goes through the proxy to A's address of record, so it rings every phone A
//!   registered (the proxy forks it). Its From shows whom A is about to call
//!   (`"Click-to-dial: bob" <sip:click-to-dial@DOMAIN>`); it has no body (RFC 3261
//!   §13.2.1: the offer comes in the 2xx, RFC 3264 §5).
//! - (3) is placed **as A**: From A's address of record and `P-Asserted-Identity` naming
//!   A (RFC 3325 §9.1). The proxy believes that header from its media service only, and
//!   routes the call as A's own (`server::policy::route::asserted_caller`): A's identity
//!   in the call record and for prepaid credit, A's groups for PSTN classes. A call A
//!   could not place is refused there, and A's leg is then ended (BYE).
//! - A's 200 is retransmitted until its ACK (RFC 3261 §13.3.1.4): the retransmissions
//!   are absorbed while B rings, and answered with the same ACK once it was sent. A gives
//!   up 64*T1 after its 200 without an ACK, so B must answer by then (RFC 3725 §4.1
//!   names this limit of flow I): past it, B's INVITE is cancelled and A's leg ended.
//! - Failures: A declining (a final non-2xx), not answering within
//!   [`CALLER_RING_TIMEOUT`] (CANCEL) or Timer B: nothing further. B failing (busy,
//!   refused, Timer B): A's 200 is acknowledged with an answer that rejects every stream
//!   (RFC 3264 §6: port 0), then BYE (RFC 3261 §15.1.1). A second phone of A answering
//!   after the first (a forked INVITE, §13.2.2.4) is acknowledged and sent BYE likewise.
//! - Connected: a BYE from either side is answered 200 and relayed as a BYE to the other
//!   (RFC 3725 §4.1 end of flow); [`super::ServiceConfig::max_call`] ends both. A
//!   re-INVITE with an offer (hold, resume: RFC 3264 §8) is relayed to the other side in
//!   its dialog, and that side's answer returned in our 2xx; one at a time (491 while one
//!   is relayed), none before the call is connected and none without an offer (488).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use sip::build::MessageBuilder;
use sip::dialog::Dialog;
use sip::transaction::TransactionKey;
use sip::{HeaderName, Message, Method, Uri};

use super::{first_hop, Mailbox, ServiceUa, ALLOW};

/// The user part of the controller's own address (Contact, the From of A's leg).
pub const CLICK_TO_DIAL: &str = "click-to-dial";

/// How long A's phones ring before the controller gives up (CANCEL).
pub const CALLER_RING_TIMEOUT: Duration = Duration::from_secs(60);

/// The most click-to-dial calls at once.
pub const MAX_DIALS: usize = 1000;

/// The most click-to-dial calls of one caller at once (a cancelled one counts until its
/// INVITE is over): nobody fills [`MAX_DIALS`] alone.
pub const MAX_DIALS_PER_CALLER: usize = 4;

/// A click-to-dial request: connect `caller` to `target`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClickToDial {
    /// A: the subscriber whose phones are called first, and as whom B is called.
    pub caller: Mailbox,
    /// B: a SIP URI (`sip:bob@example.com`, `sip:+493012345@example.com`).
    pub target: String,
    /// How the target is shown on A's phones (`bob`): the From display name of A's leg,
    /// `Click-to-dial: bob`.
    pub display: String,
}

/// A click-to-dial under way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialStarted {
    /// Its number in this UA.
    pub id: u64,
    /// The Call-ID of the call to the target (placed once A answers): the call A → B of
    /// the call records.
    pub call_id: String,
    /// The Call-ID of the call to A's phones.
    pub caller_call_id: String,
}

/// Why a click-to-dial could not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DialError {
    /// The proxy's address is not known yet ([`ServiceUa::set_proxy`]).
    #[error("the media service does not know the proxy yet")]
    NoProxy,
    /// The target is not a SIP URI.
    #[error("the target is not a SIP URI: {0}")]
    BadTarget(String),
    /// [`MAX_DIALS`] are under way, or [`MAX_DIALS_PER_CALLER`] of this caller.
    #[error("too many click-to-dial calls under way")]
    Busy,
    /// The INVITE could not be built or sent.
    #[error("the call could not be placed: {0}")]
    Internal(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// A's phones ring.
    RingingA,
    /// A is being cancelled (no answer in time); a late 2xx is acknowledged and ended.
    CancellingA,
    /// A answered; B rings.
    CallingB,
    /// B is being cancelled (A gave up or hung up); a late 2xx is acknowledged and ended.
    CancellingB,
    /// Both legs up.
    Connected,
}

/// One leg's INVITE: its client transaction and the request (for CANCEL and dialogs).
#[derive(Debug)]
struct Leg {
    invite: Message,
    key: Option<TransactionKey>,
    /// A provisional response came (CANCEL may be sent, RFC 3261 §9.1).
    provisional: bool,
    /// A CANCEL is wanted once a provisional comes.
    cancel_wanted: bool,
    /// The answered dialog.
    dialog: Option<Dialog>,
    /// The ACK sent for the 2xx, resent to its retransmissions (§13.2.2.4).
    ack: Option<(Bytes, SocketAddr)>,
}

impl Leg {
    fn new(invite: Message, key: TransactionKey) -> Leg {
        Leg {
            invite,
            key: Some(key),
            provisional: false,
            cancel_wanted: false,
            dialog: None,
            ack: None,
        }
    }
}

#[derive(Debug)]
pub(crate) struct Dial {
    request: ClickToDial,
    phase: Phase,
    a: Leg,
    /// A's offer (the body of A's 2xx).
    offer: Bytes,
    b_call_id: String,
    b: Option<Leg>,
    /// When this phase gives up: A's ring bound, 64*T1 after A's 2xx, the call's end,
    /// or (cancelling) when a late 2xx is no longer awaited.
    deadline: Instant,
    /// A re-INVITE of one side being relayed to the other.
    reinvite: Option<Reinvite>,
}

/// A re-INVITE relayed (RFC 3725 §4.1's connected call: a new offer of one side goes to
/// the other, its answer comes back).
#[derive(Debug)]
struct Reinvite {
    /// The received re-INVITE's server transaction and the request.
    server: TransactionKey,
    request: Message,
    /// Whether it goes to A (it came from B).
    to_a: bool,
    /// The relayed re-INVITE's client transaction and CSeq.
    client: TransactionKey,
    seq: u32,
}

/// The click-to-dial calls of a UA.
#[derive(Debug, Default)]
pub(crate) struct Dials {
    by_id: HashMap<u64, Dial>,
    next: u64,
    /// Client transactions that timed out (Timer B), handled on the next timeout pass.
    pub(crate) timed_out: Vec<TransactionKey>,
}

impl Dials {
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.by_id.values().map(|d| d.deadline).min()
    }

    /// The dial and leg (true: A) of a Call-ID.
    fn of_call_id(&self, call_id: &str) -> Option<(u64, bool)> {
        self.by_id.iter().find_map(|(id, d)| {
            if d.a.invite.call_id().ok() == Some(call_id) {
                Some((*id, true))
            } else if d.b_call_id == call_id {
                Some((*id, false))
            } else {
                None
            }
        })
    }

    fn of_key(&self, key: &TransactionKey) -> Option<(u64, bool)> {
        self.by_id.iter().find_map(|(id, d)| {
            if d.a.key.as_ref() == Some(key) {
                Some((*id, true))
            } else if d.b.as_ref().and_then(|b| b.key.as_ref()) == Some(key) {
                Some((*id, false))
            } else {
                None
            }
        })
    }

    pub(crate) fn is_invite_key(&self, key: &TransactionKey) -> bool {
        self.of_key(key).is_some()
            || self
                .by_id
                .values()
                .any(|d| d.reinvite.as_ref().is_some_and(|r| r.client == *key))
    }
}

/// A display name made safe for a quoted string (RFC 3261 §25.1 `quoted-string`).
fn quoted(display: &str) -> String {
    display
        .chars()
        .filter(|c| !c.is_control() && *c != '"' && *c != '\\')
        .take(64)
        .collect()
}

/// An answer that rejects every stream of `offer` (RFC 3264 §6: each `m=` line with port
/// 0 and one of the offered formats), for the ACK of a 2xx whose call cannot go on.
pub(crate) fn rejecting_answer(offer: &[u8], ip: std::net::IpAddr) -> String {
    let family = if ip.is_ipv6() { "IP6" } else { "IP4" };
    let mut sdp =
        format!("v=0\r\no=- 1 1 IN {family} {ip}\r\ns=-\r\nc=IN {family} {ip}\r\nt=0 0\r\n");
    let text = String::from_utf8_lossy(offer);
    for line in text.lines().filter_map(|l| l.trim_end().strip_prefix("m=")) {
        let mut words = line.split_whitespace();
        let (Some(media), Some(_port), Some(proto), Some(format)) =
            (words.next(), words.next(), words.next(), words.next())
        else {
            continue;
        };
        sdp.push_str(&format!("m={media} 0 {proto} {format}\r\n"));
    }
    sdp
}

impl ServiceUa {
    /// Starts a click-to-dial (see the module docs): the INVITE without SDP to the
    /// caller's address of record goes out at once, through the proxy.
    pub fn click_to_dial(
        &mut self,
        now: Instant,
        request: ClickToDial,
    ) -> Result<DialStarted, DialError> {
        let proxy = self.subscriptions.proxy.ok_or(DialError::NoProxy)?;
        let of_caller = self
            .dials
            .by_id
            .values()
            .filter(|d| d.request.caller == request.caller)
            .count();
        if self.dials.by_id.len() >= MAX_DIALS || of_caller >= MAX_DIALS_PER_CALLER {
            return Err(DialError::Busy);
        }
        if !matches!(Uri::parse(&request.target), Ok(Uri::Sip(_))) {
            return Err(DialError::BadTarget(request.target.clone()));
        }
        let caller = format!("sip:{}@{}", request.caller.user, request.caller.domain);
        if !matches!(Uri::parse(&caller), Ok(Uri::Sip(_))) {
            return Err(DialError::BadTarget(caller));
        }
        let host = self.config.contact_host.clone();
        let a_call_id = format!("{}@{host}", self.token(20));
        let b_call_id = format!("{}@{host}", self.token(20));
        let via = self.via();
        let tag = self.token(10);
        let display = quoted(&request.display);
        let invite = MessageBuilder::request(&Method::Invite, &caller)
            .header(HeaderName::Via, &via)
            .header(HeaderName::MaxForwards, "70")
            .header_fmt(
                HeaderName::From,
                format_args!(
                    "\"Click-to-dial: {display}\" <sip:{CLICK_TO_DIAL}@{}>;tag={tag}",
                    request.caller.domain
                ),
            )
            .header_fmt(HeaderName::To, format_args!("<{caller}>"))
            .header(HeaderName::CallId, &a_call_id)
            .header(HeaderName::CSeq, "1 INVITE")
            .header(HeaderName::Contact, &self.contact(CLICK_TO_DIAL))
            .header(HeaderName::Allow, ALLOW)
            .header_fmt("Subject", format_args!("Click-to-dial: {display}"))
            .header(HeaderName::UserAgent, &self.config.user_agent)
            .build()
            .map_err(|e| DialError::Internal(e.to_string()))?;
        let key = self
            .layer
            .send_request(now, invite.clone(), false)
            .map_err(|e| DialError::Internal(e.to_string()))?;
        self.dests.insert(key.clone(), proxy);
        self.dials.next += 1;
        let id = self.dials.next;
        tracing::info!(
            dial = id,
            caller = %request.caller,
            target = %request.target,
            call_id = %b_call_id,
            "click-to-dial: calling the caller's phones"
        );
        self.dials.by_id.insert(
            id,
            Dial {
                request,
                phase: Phase::RingingA,
                a: Leg::new(invite, key),
                offer: Bytes::new(),
                b_call_id: b_call_id.clone(),
                b: None,
                deadline: now + CALLER_RING_TIMEOUT,
                reinvite: None,
            },
        );
        self.drain_layer();
        Ok(DialStarted {
            id,
            call_id: b_call_id,
            caller_call_id: a_call_id,
        })
    }

    /// Click-to-dial calls under way.
    pub fn dials(&self) -> usize {
        self.dials.by_id.len()
    }

    /// Whether a response belongs to a click-to-dial leg (by its Call-ID).
    pub(super) fn is_dial_message(&self, message: &Message) -> bool {
        message
            .call_id()
            .ok()
            .is_some_and(|c| self.dials.of_call_id(c).is_some())
    }

    /// A response in a click-to-dial leg: only those to its INVITEs matter.
    pub(super) fn on_dial_response(&mut self, now: Instant, response: &Message) {
        let Ok(cseq) = response.cseq() else {
            return;
        };
        if cseq.method != Method::Invite.as_str() {
            return;
        }
        let Some((id, leg_a)) = response
            .call_id()
            .ok()
            .and_then(|c| self.dials.of_call_id(c))
        else {
            return;
        };
        let code = response.status().unwrap_or(0);
        if cseq.seq != 1 {
            self.on_reinvite_response(now, id, leg_a, cseq.seq, code, response);
        } else if leg_a {
            self.on_a_response(now, id, code, response);
        } else {
            self.on_b_response(now, id, code, response);
        }
        self.drain_layer();
    }

    fn on_a_response(&mut self, now: Instant, id: u64, code: u16, response: &Message) {
        let Some(d) = self.dials.by_id.get_mut(&id) else {
            return;
        };
        match code {
            100..=199 => {
                d.a.provisional = true;
                if d.a.cancel_wanted {
                    d.a.cancel_wanted = false;
                    self.send_cancel(now, id, true);
                }
            }
            200..=299 => {
                let same =
                    d.a.dialog
                        .as_ref()
                        .zip(response.to().ok().and_then(|t| t.tag()))
                        .is_some_and(|(dialog, tag)| dialog.id().remote_tag == tag);
                if same {
                    // A retransmission of A's 2xx (§13.3.1.4): absorbed while B rings,
                    // the same ACK again once sent.
                    if let Some((ack, dest)) = d.a.ack.clone() {
                        self.out.push_back(super::Transmit { dest, payload: ack });
                    }
                    return;
                }
                if d.a.dialog.is_some() || d.phase != Phase::RingingA {
                    // Another phone of A answered too, or A answered too late.
                    tracing::info!(
                        dial = id,
                        code,
                        "click-to-dial: a 2xx not wanted: ACK and BYE"
                    );
                    self.ack_and_bye(now, &d_invite(&self.dials, id, true), response);
                    if d_phase(&self.dials, id) == Some(Phase::CancellingA) {
                        self.dials.by_id.remove(&id);
                    }
                    return;
                }
                self.a_answered(now, id, response);
            }
            _ => {
                tracing::info!(dial = id, code, "click-to-dial: the caller did not answer");
                self.dials.by_id.remove(&id);
            }
        }
    }

    /// A answered with its offer: call B with it, as A (RFC 3725 §4.1 steps 2-3).
    fn a_answered(&mut self, now: Instant, id: u64, response: &Message) {
        let via = self.via();
        let tag = self.token(10);
        let contact = self.contact(CLICK_TO_DIAL);
        let user_agent = self.config.user_agent.clone();
        let t1_x64 = self.config.timers.t1_x64();
        let proxy = self.subscriptions.proxy;
        let Some(d) = self.dials.by_id.get_mut(&id) else {
            return;
        };
        let dialog = match Dialog::uac(&d.a.invite, response) {
            Ok(dialog) => dialog,
            Err(e) => {
                tracing::info!(dial = id, error = %e, "click-to-dial: the caller's 2xx makes no dialog");
                self.dials.by_id.remove(&id);
                return;
            }
        };
        d.a.dialog = Some(dialog);
        d.a.key = None;
        d.offer = Bytes::copy_from_slice(response.body());
        d.deadline = now + t1_x64;
        if d.offer.is_empty() {
            tracing::info!(dial = id, "click-to-dial: the caller's 2xx has no offer");
            self.end_dial(now, id);
            return;
        }
        let caller = format!("sip:{}@{}", d.request.caller.user, d.request.caller.domain);
        let invite = MessageBuilder::request(&Method::Invite, &d.request.target)
            .header(HeaderName::Via, &via)
            .header(HeaderName::MaxForwards, "70")
            .header_fmt(HeaderName::From, format_args!("<{caller}>;tag={tag}"))
            .header_fmt(HeaderName::To, format_args!("<{}>", d.request.target))
            .header(HeaderName::CallId, &d.b_call_id)
            .header(HeaderName::CSeq, "1 INVITE")
            .header(HeaderName::Contact, &contact)
            .header_fmt("P-Asserted-Identity", format_args!("<{caller}>"))
            .header(HeaderName::Allow, ALLOW)
            .header(HeaderName::UserAgent, &user_agent)
            .body("application/sdp", d.offer.to_vec())
            .build();
        let sent = invite.map_err(|e| e.to_string()).and_then(|invite| {
            self.layer
                .send_request(now, invite.clone(), false)
                .map(|key| (invite, key))
                .map_err(|e| e.to_string())
        });
        match (sent, proxy) {
            (Ok((invite, key)), Some(proxy)) => {
                tracing::info!(
                    dial = id,
                    "click-to-dial: the caller answered; calling the target"
                );
                self.dests.insert(key.clone(), proxy);
                if let Some(d) = self.dials.by_id.get_mut(&id) {
                    d.b = Some(Leg::new(invite, key));
                    d.phase = Phase::CallingB;
                }
            }
            (Err(e), _) => {
                tracing::warn!(dial = id, error = %e, "click-to-dial: the target's INVITE not sent");
                self.end_dial(now, id);
            }
            (Ok(_), None) => self.end_dial(now, id),
        }
    }

    fn on_b_response(&mut self, now: Instant, id: u64, code: u16, response: &Message) {
        let Some(d) = self.dials.by_id.get_mut(&id) else {
            return;
        };
        let Some(b) = d.b.as_mut() else {
            return;
        };
        match code {
            100..=199 => {
                b.provisional = true;
                if b.cancel_wanted {
                    b.cancel_wanted = false;
                    self.send_cancel(now, id, false);
                }
            }
            200..=299 => {
                let same = b
                    .dialog
                    .as_ref()
                    .zip(response.to().ok().and_then(|t| t.tag()))
                    .is_some_and(|(dialog, tag)| dialog.id().remote_tag == tag);
                if same {
                    if let Some((ack, dest)) = b.ack.clone() {
                        self.out.push_back(super::Transmit { dest, payload: ack });
                    }
                    return;
                }
                if b.dialog.is_some() || d.phase != Phase::CallingB {
                    tracing::info!(
                        dial = id,
                        code,
                        "click-to-dial: the target's 2xx not wanted: ACK and BYE"
                    );
                    self.ack_and_bye(now, &d_invite(&self.dials, id, false), response);
                    if d_phase(&self.dials, id) == Some(Phase::CancellingB) {
                        self.dials.by_id.remove(&id);
                    }
                    return;
                }
                self.b_answered(now, id, response);
            }
            _ => {
                tracing::info!(
                    dial = id,
                    code,
                    "click-to-dial: the target did not answer: BYE to the caller"
                );
                if let Some(b) = self.dials.by_id.get_mut(&id).and_then(|d| d.b.as_mut()) {
                    b.key = None;
                }
                if d_phase(&self.dials, id) == Some(Phase::CancellingB) {
                    self.dials.by_id.remove(&id);
                } else {
                    self.end_dial(now, id);
                }
            }
        }
    }

    /// B answered: ACK B, then ACK A with B's answer (RFC 3725 §4.1 steps 4-6).
    fn b_answered(&mut self, now: Instant, id: u64, response: &Message) {
        let max_call = self.config.max_call;
        let Some(d) = self.dials.by_id.get(&id) else {
            return;
        };
        let Some(b) = d.b.as_ref() else {
            return;
        };
        let dialog = match Dialog::uac(&b.invite, response) {
            Ok(dialog) => dialog,
            Err(e) => {
                tracing::info!(dial = id, error = %e, "click-to-dial: the target's 2xx makes no dialog");
                let invite = Some(b.invite.clone());
                self.ack_and_bye(now, &invite, response);
                self.end_dial(now, id);
                return;
            }
        };
        let answer = Bytes::copy_from_slice(response.body());
        let ack_b = self.send_ack(&dialog, None);
        let Some(d) = self.dials.by_id.get_mut(&id) else {
            return;
        };
        if let Some(b) = d.b.as_mut() {
            b.dialog = Some(dialog);
            b.ack = ack_b;
            b.key = None;
        }
        if answer.is_empty() {
            tracing::info!(dial = id, "click-to-dial: the target's 2xx has no answer");
            self.end_dial(now, id);
            return;
        }
        let ack_a =
            d.a.dialog
                .clone()
                .and_then(|dialog| self.send_ack(&dialog, Some(answer.to_vec())));
        if let Some(d) = self.dials.by_id.get_mut(&id) {
            d.a.ack = ack_a;
            d.phase = Phase::Connected;
            d.deadline = now + max_call;
            tracing::info!(
                dial = id,
                caller = %d.request.caller,
                target = %d.request.target,
                "click-to-dial: connected"
            );
        }
    }

    /// Sends the ACK of a 2xx in `dialog` (§13.2.2.4), with `body` as its SDP; what was
    /// sent, to resend on a retransmitted 2xx.
    fn send_ack(&mut self, dialog: &Dialog, body: Option<Vec<u8>>) -> Option<(Bytes, SocketAddr)> {
        let via = self.via();
        let dest = first_hop(dialog).or(self.subscriptions.proxy)?;
        let mut ack = dialog
            .ack(1, &via)
            .header(HeaderName::UserAgent, &self.config.user_agent);
        if let Some(body) = body {
            ack = ack.body("application/sdp", body);
        }
        match ack.build() {
            Ok(ack) => {
                let payload = ack.as_bytes().clone();
                self.out.push_back(super::Transmit {
                    dest,
                    payload: payload.clone(),
                });
                Some((payload, dest))
            }
            Err(e) => {
                tracing::debug!(error = %e, "ACK not built");
                None
            }
        }
    }

    /// A 2xx the controller does not want (another fork, a late answer): ACK it (with an
    /// answer rejecting its offer, when it made one) and BYE (§13.2.2.4, §15.1.1).
    fn ack_and_bye(&mut self, now: Instant, invite: &Option<Message>, response: &Message) {
        let Some(invite) = invite else {
            return;
        };
        let Ok(mut dialog) = Dialog::uac(invite, response) else {
            return;
        };
        let body = (invite.body().is_empty() && !response.body().is_empty())
            .then(|| rejecting_answer(response.body(), self.config.media_ip).into_bytes());
        let _ = self.send_ack(&dialog, body);
        self.send_bye(now, &mut dialog);
    }

    fn send_bye(&mut self, now: Instant, dialog: &mut Dialog) {
        let via = self.via();
        let Some(dest) = first_hop(dialog).or(self.subscriptions.proxy) else {
            return;
        };
        let bye = dialog
            .request(&Method::Bye, &via, None)
            .header(HeaderName::UserAgent, &self.config.user_agent)
            .build();
        match bye.map(|bye| self.layer.send_request(now, bye, false)) {
            Ok(Ok(key)) => {
                self.dests.insert(key, dest);
            }
            Ok(Err(e)) => tracing::debug!(error = %e, "BYE not sent"),
            Err(e) => tracing::debug!(error = %e, "BYE not built"),
        }
    }

    /// CANCEL of a leg's INVITE (§9.1), once a provisional response came.
    fn send_cancel(&mut self, now: Instant, id: u64, leg_a: bool) {
        let Some(d) = self.dials.by_id.get(&id) else {
            return;
        };
        let leg = if leg_a { Some(&d.a) } else { d.b.as_ref() };
        let Some(invite) = leg.map(|l| l.invite.clone()) else {
            return;
        };
        let Some(proxy) = self.subscriptions.proxy else {
            return;
        };
        match sip::build::cancel_for(&invite).map(|c| self.layer.send_request(now, c, false)) {
            Ok(Ok(key)) => {
                self.dests.insert(key, proxy);
            }
            Ok(Err(e)) => tracing::debug!(error = %e, "CANCEL not sent"),
            Err(e) => tracing::debug!(error = %e, "CANCEL not built"),
        }
    }

    /// Ends click-to-dial `id` from where it is: cancels a ringing leg, acknowledges A's
    /// 2xx with a rejecting answer when it is unacknowledged, sends BYE in every answered
    /// leg. A cancelled leg is remembered until its final response (a late 2xx is
    /// ended too) or 64*T1.
    fn end_dial(&mut self, now: Instant, id: u64) {
        let t1_x64 = self.config.timers.t1_x64();
        let ip = self.config.media_ip;
        let Some(mut d) = self.dials.by_id.remove(&id) else {
            return;
        };
        // A: ringing → CANCEL; answered → (ACK) + BYE.
        let mut keep = None;
        match d.a.dialog.take() {
            Some(mut dialog) => {
                if d.a.ack.is_none() {
                    let body = rejecting_answer(&d.offer, ip).into_bytes();
                    let body = (!d.offer.is_empty()).then_some(body);
                    let _ = self.send_ack(&dialog, body);
                }
                self.send_bye(now, &mut dialog);
            }
            None if d.phase == Phase::RingingA => keep = Some(Phase::CancellingA),
            None => {}
        }
        if let Some(b) = d.b.as_mut() {
            match b.dialog.take() {
                Some(mut dialog) => self.send_bye(now, &mut dialog),
                None if b.key.is_some() => keep = Some(Phase::CancellingB),
                None => {}
            }
        }
        tracing::info!(dial = id, "click-to-dial ended");
        if let Some(phase) = keep {
            let leg_a = phase == Phase::CancellingA;
            let provisional = if leg_a {
                d.a.provisional
            } else {
                d.b.as_ref().is_some_and(|b| b.provisional)
            };
            d.phase = phase;
            d.deadline = now + t1_x64;
            if !provisional {
                if leg_a {
                    d.a.cancel_wanted = true;
                } else if let Some(b) = d.b.as_mut() {
                    b.cancel_wanted = true;
                }
            }
            self.dials.by_id.insert(id, d);
            if provisional {
                self.send_cancel(now, id, leg_a);
            }
        }
        self.drain_layer();
    }

    /// Deadlines: A unanswered in time, B unanswered 64*T1 after A's 2xx, the longest
    /// call, a cancelled leg's wait for a late 2xx over; and INVITEs that timed out.
    pub(super) fn dials_timeout(&mut self, now: Instant) {
        for key in std::mem::take(&mut self.dials.timed_out) {
            let relayed = self
                .dials
                .by_id
                .iter_mut()
                .find_map(|(id, d)| d.reinvite.take_if(|r| r.client == key).map(|r| (*id, r)));
            if let Some((id, r)) = relayed {
                tracing::info!(dial = id, "click-to-dial: a relayed re-INVITE timed out");
                let answer = self.response(&r.request, 408, None);
                self.respond(now, &r.server, answer);
                continue;
            }
            if let Some((id, leg_a)) = self.dials.of_key(&key) {
                tracing::info!(dial = id, leg_a, "click-to-dial: an INVITE timed out");
                match d_phase(&self.dials, id) {
                    Some(Phase::CancellingA | Phase::CancellingB) => {
                        self.dials.by_id.remove(&id);
                    }
                    _ if leg_a => {
                        self.dials.by_id.remove(&id);
                    }
                    _ => {
                        if let Some(b) = self.dials.by_id.get_mut(&id).and_then(|d| d.b.as_mut()) {
                            b.key = None;
                        }
                        self.end_dial(now, id);
                    }
                }
            }
        }
        let due: Vec<(u64, Phase)> = self
            .dials
            .by_id
            .iter()
            .filter(|(_, d)| d.deadline <= now)
            .map(|(id, d)| (*id, d.phase))
            .collect();
        for (id, phase) in due {
            match phase {
                Phase::CancellingA | Phase::CancellingB => {
                    self.dials.by_id.remove(&id);
                }
                Phase::RingingA => {
                    tracing::info!(
                        dial = id,
                        "click-to-dial: the caller did not answer in time"
                    );
                    self.end_dial(now, id);
                }
                Phase::CallingB => {
                    tracing::info!(dial = id, "click-to-dial: the target did not answer within 64*T1 of the caller's answer");
                    self.end_dial(now, id);
                }
                Phase::Connected => {
                    tracing::info!(dial = id, "click-to-dial: the longest call is over");
                    self.end_dial(now, id);
                }
            }
        }
        self.drain_layer();
    }

    /// A request inside a click-to-dial leg (§12.2.2): BYE ends the other leg too; a
    /// re-INVITE gets 488; OPTIONS and INFO 200; anything else 405. `false` when the
    /// request belongs to no click-to-dial.
    pub(super) fn on_dial_request(
        &mut self,
        now: Instant,
        key: &TransactionKey,
        request: &Message,
        method: &Method,
    ) -> bool {
        let Some((id, leg_a)) = request
            .call_id()
            .ok()
            .and_then(|c| self.dials.of_call_id(c))
        else {
            return false;
        };
        let order = self.dials.by_id.get_mut(&id).and_then(|d| {
            let leg = if leg_a { Some(&mut d.a) } else { d.b.as_mut() };
            leg.and_then(|l| l.dialog.as_mut())
                .map(|dialog| dialog.receive_request(request))
        });
        match order {
            None => {
                let r = self.response(request, 481, None);
                self.respond(now, key, r);
                return true;
            }
            Some(Err(_)) => {
                let r = self.response(request, 500, None);
                self.respond(now, key, r);
                return true;
            }
            Some(Ok(())) => {}
        }
        match method {
            Method::Bye => {
                let r = self.response(request, 200, None);
                self.respond(now, key, r);
                tracing::info!(
                    dial = id,
                    by = if leg_a { "caller" } else { "target" },
                    "click-to-dial: hung up; BYE to the other side"
                );
                if let Some(d) = self.dials.by_id.get_mut(&id) {
                    // The side that hung up gets no BYE.
                    if leg_a {
                        d.a.dialog = None;
                    } else if let Some(b) = d.b.as_mut() {
                        b.dialog = None;
                    }
                }
                self.end_dial(now, id);
            }
            Method::Invite => {
                let relayable = self
                    .dials
                    .by_id
                    .get(&id)
                    .is_some_and(|d| d.phase == Phase::Connected && d.reinvite.is_none())
                    && !request.body().is_empty();
                if relayable {
                    self.relay_reinvite(now, id, leg_a, key.clone(), request.clone());
                } else {
                    // Mid-set-up, one already relayed (RFC 3261 §14.2: 491), or no offer
                    // (this controller relays offers only).
                    let pending = self
                        .dials
                        .by_id
                        .get(&id)
                        .is_some_and(|d| d.reinvite.is_some());
                    let r = if pending {
                        self.response(request, 491, None)
                    } else {
                        self.response(request, 488, Some("Not Acceptable Here"))
                            .header(
                                "Warning",
                                "399 itsp \"a click-to-dial call takes new offers only once connected\"",
                            )
                    };
                    self.respond(now, key, r);
                }
            }
            Method::Options | Method::Info => {
                let r = self.response(request, 200, None);
                self.respond(now, key, r);
            }
            _ => {
                let r = self
                    .response(request, 405, None)
                    .header(HeaderName::Allow, ALLOW);
                self.respond(now, key, r);
            }
        }
        true
    }
}

impl ServiceUa {
    /// Relays a re-INVITE of one side (hold, resume, a new address) to the other side in
    /// its dialog, with the same offer (RFC 3725 §4.1; RFC 3264 §8).
    fn relay_reinvite(
        &mut self,
        now: Instant,
        id: u64,
        from_a: bool,
        server: TransactionKey,
        request: Message,
    ) {
        let via = self.via();
        let contact = self.contact(CLICK_TO_DIAL);
        let user_agent = self.config.user_agent.clone();
        let proxy = self.subscriptions.proxy;
        let content_type = request
            .header(HeaderName::ContentType)
            .unwrap_or("application/sdp")
            .to_owned();
        let Some(d) = self.dials.by_id.get_mut(&id) else {
            return;
        };
        // The sender's new Contact is its target from now on (§12.2.2).
        let (from, to) = if from_a {
            (Some(&mut d.a), d.b.as_mut())
        } else {
            let a = &mut d.a;
            (d.b.as_mut(), Some(a))
        };
        if let Some(dialog) = from.and_then(|l| l.dialog.as_mut()) {
            dialog.refresh_target(&request);
        }
        let Some(dialog) = to.and_then(|l| l.dialog.as_mut()) else {
            return;
        };
        let Some(dest) = first_hop(dialog).or(proxy) else {
            return;
        };
        let built = dialog
            .request(&Method::Invite, &via, Some(&contact))
            .header(HeaderName::UserAgent, &user_agent)
            .body(&content_type, request.body().to_vec())
            .build();
        let seq = dialog.local_seq().unwrap_or(0);
        match built.map(|m| self.layer.send_request(now, m, false)) {
            Ok(Ok(client)) => {
                tracing::debug!(dial = id, from_a, "click-to-dial: re-INVITE relayed");
                self.dests.insert(client.clone(), dest);
                if let Some(d) = self.dials.by_id.get_mut(&id) {
                    d.reinvite = Some(Reinvite {
                        server,
                        request,
                        to_a: !from_a,
                        client,
                        seq,
                    });
                }
            }
            _ => {
                let r = self.response(&request, 500, None);
                self.respond(now, &server, r);
            }
        }
    }

    /// The answer to a relayed re-INVITE: a 2xx is acknowledged and its answer goes back
    /// in our 2xx to the side that sent the offer; a failure goes back as it is.
    fn on_reinvite_response(
        &mut self,
        now: Instant,
        id: u64,
        leg_a: bool,
        seq: u32,
        code: u16,
        response: &Message,
    ) {
        let contact = self.contact(CLICK_TO_DIAL);
        let Some(d) = self.dials.by_id.get_mut(&id) else {
            return;
        };
        let dialog = if leg_a {
            d.a.dialog.clone()
        } else {
            d.b.as_ref().and_then(|b| b.dialog.clone())
        };
        if (200..300).contains(&code) {
            // Every 2xx (a retransmission too) gets its ACK (§13.2.2.4).
            if let Some(dialog) = &dialog {
                let _ = self.send_ack_seq(dialog, seq);
            }
        }
        let Some(d) = self.dials.by_id.get_mut(&id) else {
            return;
        };
        if code < 200 {
            return;
        }
        let Some(r) = d.reinvite.take_if(|r| r.to_a == leg_a && r.seq == seq) else {
            return;
        };
        let leg = if leg_a { Some(&mut d.a) } else { d.b.as_mut() };
        if let Some(dialog) = leg.and_then(|l| l.dialog.as_mut()) {
            if (200..300).contains(&code) {
                dialog.refresh_target(response);
            }
        }
        let mut answer = self.response(&r.request, code, response.reason());
        if (200..300).contains(&code) {
            answer = answer
                .header(HeaderName::Contact, &contact)
                .header(HeaderName::Allow, ALLOW);
            if !response.body().is_empty() {
                let content_type = response
                    .header(HeaderName::ContentType)
                    .unwrap_or("application/sdp")
                    .to_owned();
                answer = answer.body(&content_type, response.body().to_vec());
            }
        }
        self.respond(now, &r.server, answer);
    }

    /// The ACK of a 2xx to our INVITE with CSeq `seq` in `dialog`.
    fn send_ack_seq(&mut self, dialog: &Dialog, seq: u32) -> Option<()> {
        let via = self.via();
        let dest = first_hop(dialog).or(self.subscriptions.proxy)?;
        let ack = dialog
            .ack(seq, &via)
            .header(HeaderName::UserAgent, &self.config.user_agent)
            .build()
            .ok()?;
        self.out.push_back(super::Transmit {
            dest,
            payload: ack.as_bytes().clone(),
        });
        Some(())
    }
}

fn d_invite(dials: &Dials, id: u64, leg_a: bool) -> Option<Message> {
    let d = dials.by_id.get(&id)?;
    if leg_a {
        Some(d.a.invite.clone())
    } else {
        d.b.as_ref().map(|b| b.invite.clone())
    }
}

fn d_phase(dials: &Dials, id: u64) -> Option<Phase> {
    dials.by_id.get(&id).map(|d| d.phase)
}

#[cfg(test)]
mod tests;
