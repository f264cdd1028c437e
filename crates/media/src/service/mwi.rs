//! Message-waiting indication, sans-IO: the [`ServiceUa`] is the notifier of the
//! `message-summary` event package (RFC 3842) for every mailbox, over RFC 6665
//! SUBSCRIBE/NOTIFY.
//!
//! - **SUBSCRIBE** (RFC 6665 §4.2.1.1), Request-URI `sip:voicemail@DOMAIN;mailbox=USER`
//!   (the proxy writes it, `server::services::mwi`): `489` for another event package
//!   (with `Allow-Events`), `406` when `Accept` excludes
//!   `application/simple-message-summary`, `423` with `Min-Expires` below
//!   [`MIN_EXPIRES`]; otherwise `200` with the granted `Expires` (the asked one, at most
//!   [`MAX_EXPIRES`]; [`DEFAULT_EXPIRES`] when none is asked, RFC 3842 §4.4); `503`
//!   past [`MAX_SUBSCRIPTIONS`] in all or [`MAX_PER_MAILBOX`] for one mailbox. The 200
//!   creates the subscription's dialog, its route set from the Record-Route.
//! - **NOTIFY** (RFC 6665 §4.2.1.2, §4.2.2) at once when the mailbox's counts are known
//!   (else as soon as the shell answers [`ServiceEvent::CountMessages`] through
//!   [`ServiceUa::message_counts`]), and again whenever they change: `Event:
//!   message-summary`, `Subscription-State: active;expires=N`, and the RFC 3842 §5 body
//!   ([`MessageCounts::body`]).
//! - A refresh (SUBSCRIBE in the dialog) gets 200 and a NOTIFY; `Expires: 0` gets 200 and
//!   a NOTIFY `terminated` (also for a first SUBSCRIBE with `Expires: 0`, a fetch);
//!   the end of the subscription a NOTIFY `terminated;reason=timeout` (§4.2.2).
//! - A NOTIFY answered `481` (or `408`, `489`, `501`, RFC 5057 §5.2) or timing out (Timer
//!   F) ends the subscription without another NOTIFY.
//! - Counts are asked again ([`ServiceEvent::CountMessages`]) when a message is deposited
//!   or heard in a subscribed mailbox (after the event that changes the store, so the
//!   shell counts after the write), and every [`ServiceConfig::mwi_recount`](super::ServiceConfig::mwi_recount) for every
//!   subscribed mailbox (messages deleted from the portal or the API); a NOTIFY goes out
//!   only when the counts changed.
//!
//! ## Unsolicited indication
//!
//! Many phones never subscribe and still light their lamp on a NOTIFY that comes without
//! a subscription (SEMS's `mwi`, Asterisk's unsolicited MWI). When
//! [`ServiceConfig::unsolicited_mwi`](super::ServiceConfig::unsolicited_mwi) is on and the
//! proxy's address is known ([`ServiceUa::set_proxy`]), a mailbox that nobody subscribed
//! to gets an out-of-dialog NOTIFY (`Event: message-summary`, `Subscription-State:
//! active`, the RFC 3842 §5 body) sent through the proxy to the owner's address of record,
//! which the proxy forks to every registered phone of the owner:
//!
//! - when its counts change (a deposit, a retrieval, the periodic recount of the mailboxes
//!   whose phones were last told of messages);
//! - when one of the owner's phones registers anew ([`ServiceUa::mailbox_registered`]:
//!   a new device, a new contact or a phone back from a reboot), and the mailbox holds
//!   messages;
//! - after a restart, for every mailbox that holds messages (the owner calls
//!   [`ServiceUa::mailbox_registered`] for each), so the lamps agree with the store.
//!
//! A mailbox with a subscription gets its NOTIFYs in the subscription's dialog only (a
//! subscription replaces the unsolicited ones, as Asterisk's
//! `mwi_subscribe_replaces_unsolicited`). A mailbox whose phones were never told of a
//! message is not told "no messages".

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sip::build::MessageBuilder;
use sip::dialog::{Dialog, DialogId};
use sip::transaction::TransactionKey;
use sip::{HeaderName, Message, Method};

use super::{first_hop, Mailbox, Service, ServiceEvent, ServiceUa, VOICEMAIL};

/// The event package (RFC 3842 §4.1).
pub const EVENT: &str = "message-summary";
/// The body's media type (RFC 3842 §4.5).
pub const CONTENT_TYPE: &str = "application/simple-message-summary";
/// The longest subscription granted, seconds.
pub const MAX_EXPIRES: u32 = 3600;
/// The shortest subscription accepted, seconds (shorter: 423, RFC 6665 §4.2.1.1).
pub const MIN_EXPIRES: u32 = 60;
/// The duration of a subscription that asks none (RFC 3842 §4.4: one hour).
pub const DEFAULT_EXPIRES: u32 = 3600;
/// The most subscriptions held at once (more get 503).
pub const MAX_SUBSCRIPTIONS: usize = 10_000;
/// The most subscriptions to one mailbox (more get 503: one subscriber cannot take the
/// room of everyone else's).
pub const MAX_PER_MAILBOX: usize = 20;
/// How often subscribed mailboxes are counted again, by default.
pub const DEFAULT_RECOUNT: Duration = Duration::from_secs(5);

/// The voice messages of a mailbox.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MessageCounts {
    /// Not yet heard.
    pub new: u32,
    /// Heard and kept.
    pub old: u32,
}

impl MessageCounts {
    /// The `application/simple-message-summary` body (RFC 3842 §5): `Messages-Waiting`,
    /// `Message-Account` (`account`), `Voice-Message: NEW/OLD`.
    pub fn body(&self, account: &str) -> String {
        sip::message_summary::MessageSummary {
            waiting: self.new > 0,
            account: Some(account.to_owned()),
            classes: vec![sip::message_summary::ClassCounts {
                class: "Voice-Message".into(),
                new: self.new,
                old: self.old,
                urgent: None,
            }],
        }
        .to_body()
    }
}

/// What a subscription does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Active until `expires`.
    Active,
    /// Ends with a NOTIFY `terminated` (`;reason=timeout` when it expired) once the
    /// counts are known, or without a body at `expires` (the counts never came).
    Ending {
        /// It expired (else it was unsubscribed).
        timeout: bool,
    },
}

/// How long an unsubscribed subscription waits for its mailbox's counts (the final
/// NOTIFY's body) at most.
const FINAL_COUNT_WAIT: Duration = Duration::from_secs(32);

#[derive(Debug)]
struct Subscription {
    mailbox: Mailbox,
    dialog: Dialog,
    /// The SUBSCRIBE's source: where NOTIFYs go when the route set names no address.
    source: SocketAddr,
    /// The `Event` header value as the subscriber sent it (an `id` kept, RFC 6665 §8.2.3).
    event: String,
    expires: Instant,
    state: State,
    /// The counts of the last NOTIFY; `None` before the first.
    notified: Option<MessageCounts>,
}

/// The subscriptions of the [`ServiceUa`].
#[derive(Debug, Default)]
pub(super) struct Subscriptions {
    by_number: HashMap<u64, Subscription>,
    /// The subscriptions of each mailbox.
    by_mailbox: HashMap<Mailbox, Vec<u64>>,
    /// The subscription of each dialog.
    by_dialog: HashMap<DialogId, u64>,
    next: u64,
    /// The last counts the shell gave, per subscribed mailbox.
    counts: HashMap<Mailbox, MessageCounts>,
    /// NOTIFY client transactions → the subscription.
    notifies: HashMap<TransactionKey, u64>,
    /// When subscribed mailboxes, and those whose phones were told of messages without a
    /// subscription, are counted again.
    next_recount: Option<Instant>,
    /// The counts last told without a subscription, per mailbox whose phones were told of
    /// messages (a mailbox told "none" leaves the map).
    told: HashMap<Mailbox, MessageCounts>,
    /// Where unsolicited NOTIFYs go: the proxy ([`ServiceUa::set_proxy`]).
    pub(super) proxy: Option<SocketAddr>,
}

impl Subscriptions {
    /// When [`ServiceUa::handle_timeout`] has work for the subscriptions.
    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        let expiry = self.by_number.values().map(|s| s.expires).min();
        match (expiry, self.next_recount) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Whether someone is subscribed to `mailbox`.
    pub(super) fn watches(&self, mailbox: &Mailbox) -> bool {
        self.by_mailbox.contains_key(mailbox)
    }

    /// The subscriptions to `mailbox`.
    fn of(&self, mailbox: &Mailbox) -> usize {
        self.by_mailbox.get(mailbox).map_or(0, Vec::len)
    }

    fn insert(&mut self, sub: Subscription) -> u64 {
        let number = self.next;
        self.next += 1;
        self.by_mailbox
            .entry(sub.mailbox.clone())
            .or_default()
            .push(number);
        self.by_dialog.insert(sub.dialog.id().clone(), number);
        self.by_number.insert(number, sub);
        number
    }

    fn remove(&mut self, number: u64) {
        let Some(sub) = self.by_number.remove(&number) else {
            return;
        };
        self.by_dialog.remove(sub.dialog.id());
        self.notifies.retain(|_, n| *n != number);
        if let Some(numbers) = self.by_mailbox.get_mut(&sub.mailbox) {
            numbers.retain(|n| *n != number);
            if numbers.is_empty() {
                self.by_mailbox.remove(&sub.mailbox);
                self.counts.remove(&sub.mailbox);
            }
        }
        if self.by_number.is_empty() && self.told.is_empty() {
            self.next_recount = None;
        }
    }
}

/// How long a subscription granted `granted` seconds lives; an unsubscribe (0) waits
/// [`FINAL_COUNT_WAIT`] at most for its final NOTIFY's counts.
fn lifetime(granted: u32) -> Duration {
    if granted == 0 {
        FINAL_COUNT_WAIT
    } else {
        Duration::from_secs(u64::from(granted))
    }
}

/// The event type of an `Event` value (the token before parameters, RFC 6665 §8.2.1).
fn event_type(value: &str) -> &str {
    value.split(';').next().unwrap_or("").trim()
}

/// Whether an `Accept` header (absent: the package default, RFC 6665 §4.2.1.1) allows
/// [`CONTENT_TYPE`].
fn accepts(request: &Message) -> bool {
    let mut values = request.header_values(HeaderName::Accept).peekable();
    if values.peek().is_none() {
        return true;
    }
    values
        .flat_map(|v| v.split(','))
        .map(|t| {
            t.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .any(|t| t == CONTENT_TYPE || t == "application/*" || t == "*/*")
}

impl ServiceUa {
    /// The answer to [`ServiceEvent::CountMessages`]: the counts of `mailbox` now. Its
    /// subscriptions waiting for a first NOTIFY, or told other counts last, are notified.
    pub fn message_counts(&mut self, now: Instant, mailbox: &Mailbox, counts: MessageCounts) {
        if !self.subscriptions.watches(mailbox) {
            let told = self.subscriptions.told.get(mailbox).copied();
            if told.unwrap_or_default() != counts {
                self.notify_unsolicited(now, mailbox, counts);
            }
            return;
        }
        self.subscriptions.counts.insert(mailbox.clone(), counts);
        let subs = &self.subscriptions;
        let due: Vec<u64> = subs
            .by_mailbox
            .get(mailbox)
            .into_iter()
            .flatten()
            .copied()
            .filter(|n| {
                subs.by_number
                    .get(n)
                    .is_some_and(|s| s.state != State::Active || s.notified != Some(counts))
            })
            .collect();
        for number in due {
            self.notify_now(now, number);
        }
        self.drain_layer();
    }

    /// One of the owner's phones registered anew (a new device or contact, a phone back
    /// from a reboot), or the service started: with `counts` the mailbox's messages now.
    /// The owner's phones are told of them without a subscription when the mailbox holds
    /// any and nobody subscribed to it (see the module docs).
    pub fn mailbox_registered(&mut self, now: Instant, mailbox: &Mailbox, counts: MessageCounts) {
        if self.subscriptions.watches(mailbox) || counts == MessageCounts::default() {
            return;
        }
        self.notify_unsolicited(now, mailbox, counts);
    }

    /// The proxy's SIP address: where NOTIFYs without a subscription go.
    pub fn set_proxy(&mut self, proxy: SocketAddr) {
        self.subscriptions.proxy = Some(proxy);
    }

    /// Mailboxes whose phones were last told of messages without a subscription.
    pub fn lamps_lit(&self) -> usize {
        self.subscriptions.told.len()
    }

    /// Subscriptions held.
    pub fn subscriptions(&self) -> usize {
        self.subscriptions.by_number.len()
    }

    /// A new SUBSCRIBE (out of any dialog).
    pub(super) fn on_subscribe(
        &mut self,
        now: Instant,
        key: TransactionKey,
        request: Message,
        source: SocketAddr,
    ) {
        let Some(event) = self.event_checked(now, &key, &request) else {
            return;
        };
        let mailbox = match request.request_uri_str().and_then(Service::of_uri) {
            Some(Service::Voicemail(m) | Service::Retrieve(m)) => m,
            _ => {
                let r = self.response(&request, 404, Some("No Such Mailbox"));
                self.respond(now, &key, r);
                return;
            }
        };
        if self.subscriptions.by_number.len() >= MAX_SUBSCRIPTIONS
            || self.subscriptions.of(&mailbox) >= MAX_PER_MAILBOX
        {
            tracing::warn!(%mailbox, "message-summary SUBSCRIBE refused: too many subscriptions");
            let r = self
                .response(&request, 503, Some("Too Many Subscriptions"))
                .header(HeaderName::RetryAfter, "60");
            self.respond(now, &key, r);
            return;
        }
        let Some(granted) = self.expires_checked(now, &key, &request) else {
            return;
        };
        let tag = self.token(10);
        let dialog = match Dialog::uas(&request, &tag, true) {
            Ok(d) => d,
            Err(e) => {
                let r = self.response(&request, 400, Some("Missing Contact or From tag"));
                tracing::debug!(error = %e, "message-summary SUBSCRIBE without a dialog");
                self.respond(now, &key, r);
                return;
            }
        };
        let mut r = MessageBuilder::response_to(&request, 200, None, Some(&tag))
            .header(HeaderName::Contact, &self.contact(VOICEMAIL))
            .header_fmt(HeaderName::Expires, format_args!("{granted}"));
        // §12.1.1: the response that creates the dialog copies the Record-Route.
        for rr in request.header_values(HeaderName::RecordRoute) {
            r = r.header(HeaderName::RecordRoute, rr);
        }
        self.respond(now, &key, r);
        tracing::info!(%mailbox, expires = granted, subscriber = dialog.remote_target(), "message-summary subscription");
        let number = self.subscriptions.insert(Subscription {
            mailbox: mailbox.clone(),
            dialog,
            source,
            event,
            expires: now + lifetime(granted),
            state: if granted == 0 {
                State::Ending { timeout: false }
            } else {
                State::Active
            },
            notified: None,
        });
        self.subscriptions
            .next_recount
            .get_or_insert(now + self.config.mwi_recount);
        // Counted afresh for every new subscription; known counts are told at once.
        self.events
            .push_back(ServiceEvent::CountMessages { mailbox });
        self.notify_now(now, number);
        self.drain_layer();
    }

    /// A SUBSCRIBE inside a dialog: a refresh of its subscription, or an unsubscribe
    /// (`Expires: 0`); `481` when no subscription has that dialog (RFC 6665 §4.1.2.2).
    pub(super) fn on_resubscribe(&mut self, now: Instant, key: TransactionKey, request: Message) {
        let number = DialogId::of_received_request(&request)
            .and_then(|id| self.subscriptions.by_dialog.get(&id).copied());
        let Some(number) = number else {
            let r = self.response(&request, 481, Some("Subscription Does Not Exist"));
            self.respond(now, &key, r);
            return;
        };
        if self.event_checked(now, &key, &request).is_none() {
            return;
        }
        let in_order = self
            .subscriptions
            .by_number
            .get_mut(&number)
            .map(|s| s.dialog.receive_request(&request));
        if let Some(Err(e)) = in_order {
            tracing::debug!(error = %e, "SUBSCRIBE out of order");
            let r = self.response(&request, 500, None);
            self.respond(now, &key, r);
            return;
        }
        let Some(granted) = self.expires_checked(now, &key, &request) else {
            return;
        };
        let contact = self.contact(VOICEMAIL);
        let Some(sub) = self.subscriptions.by_number.get_mut(&number) else {
            return;
        };
        sub.dialog.refresh_target(&request);
        sub.expires = now + lifetime(granted);
        if granted == 0 {
            sub.state = State::Ending { timeout: false };
        }
        let r = MessageBuilder::response_to(&request, 200, None, None)
            .header(HeaderName::Contact, &contact)
            .header_fmt(HeaderName::Expires, format_args!("{granted}"));
        self.respond(now, &key, r);
        // RFC 6665 §4.2.1.2: a NOTIFY follows every accepted SUBSCRIBE.
        if self.known_counts(number).is_some() {
            self.notify_now(now, number);
        } else if let Some(sub) = self.subscriptions.by_number.get(&number) {
            self.events.push_back(ServiceEvent::CountMessages {
                mailbox: sub.mailbox.clone(),
            });
        }
        self.drain_layer();
    }

    /// Expired subscriptions (NOTIFY `terminated;reason=timeout`) and the periodic
    /// recount; from [`ServiceUa::handle_timeout`].
    pub(super) fn subscriptions_timeout(&mut self, now: Instant) {
        let expired: Vec<u64> = self
            .subscriptions
            .by_number
            .iter()
            .filter(|(_, s)| s.expires <= now)
            .map(|(n, _)| *n)
            .collect();
        for number in expired {
            if let Some(sub) = self.subscriptions.by_number.get_mut(&number) {
                if sub.state == State::Active {
                    tracing::info!(mailbox = %sub.mailbox, "message-summary subscription expired");
                    sub.state = State::Ending { timeout: true };
                }
            }
            self.notify_now(now, number);
        }
        if self.subscriptions.next_recount.is_some_and(|at| at <= now) {
            let subs = &self.subscriptions;
            let mailboxes: Vec<Mailbox> = subs
                .by_mailbox
                .keys()
                .chain(subs.told.keys().filter(|m| !subs.watches(m)))
                .cloned()
                .collect();
            for mailbox in mailboxes {
                self.events
                    .push_back(ServiceEvent::CountMessages { mailbox });
            }
            let watched = !subs.by_number.is_empty() || !subs.told.is_empty();
            self.subscriptions.next_recount = watched.then(|| now + self.config.mwi_recount);
        }
        self.drain_layer();
    }

    /// A final response to one of our NOTIFYs: the ones that end the dialog usage
    /// (RFC 6665 §4.2.2, RFC 5057 §5.2) drop the subscription.
    pub(super) fn on_notify_response(&mut self, key: &TransactionKey, response: &Message) {
        let code = response.status().unwrap_or(0);
        if code < 200 {
            return;
        }
        let Some(number) = self.subscriptions.notifies.remove(key) else {
            return;
        };
        if matches!(code, 408 | 481 | 489 | 501) {
            if let Some(sub) = self.subscriptions.by_number.get(&number) {
                tracing::info!(mailbox = %sub.mailbox, code, "message-summary subscription ended by the subscriber");
            }
            self.subscriptions.remove(number);
        }
    }

    /// A NOTIFY transaction timed out (Timer F): the subscriber is gone.
    pub(super) fn on_notify_timeout(&mut self, key: &TransactionKey) {
        if let Some(number) = self.subscriptions.notifies.remove(key) {
            if let Some(sub) = self.subscriptions.by_number.get(&number) {
                tracing::info!(mailbox = %sub.mailbox, "message-summary NOTIFY unanswered: subscription dropped");
            }
            self.subscriptions.remove(number);
        }
    }

    /// After an event that changes a mailbox in the store: its counts are wanted again
    /// when someone watches it.
    pub(super) fn recount_after(&mut self, event: &ServiceEvent) {
        let mailbox = match event {
            ServiceEvent::Message(d) => &d.mailbox,
            ServiceEvent::Heard { mailbox, .. } | ServiceEvent::Deleted { mailbox, .. } => mailbox,
            _ => return,
        };
        // One count still queued (after this change) answers for this change too.
        let queued = self
            .events
            .iter()
            .any(|e| matches!(e, ServiceEvent::CountMessages { mailbox: m } if m == mailbox));
        if !queued && (self.subscriptions.watches(mailbox) || self.unsolicited_on()) {
            self.events.push_back(ServiceEvent::CountMessages {
                mailbox: mailbox.clone(),
            });
        }
    }

    /// The `Event` value when it names our package; else `489` (RFC 6665 §8.2.2) is sent
    /// and `None` returned. `406` when `Accept` excludes our body.
    fn event_checked(
        &mut self,
        now: Instant,
        key: &TransactionKey,
        request: &Message,
    ) -> Option<String> {
        let event = request.header(HeaderName::Event).unwrap_or("");
        if !event_type(event).eq_ignore_ascii_case(EVENT) {
            let r = self
                .response(request, 489, Some("Bad Event"))
                .header(HeaderName::AllowEvents, EVENT);
            self.respond(now, key, r);
            return None;
        }
        if !accepts(request) {
            let r = self
                .response(request, 406, Some("Not Acceptable"))
                .header(HeaderName::Accept, CONTENT_TYPE);
            self.respond(now, key, r);
            return None;
        }
        Some(event.trim().to_owned())
    }

    /// The duration to grant (RFC 6665 §4.2.1.1): the asked `Expires` capped at
    /// [`MAX_EXPIRES`], 0 kept; below [`MIN_EXPIRES`] `423` is sent, a bad value `400`,
    /// and `None` returned.
    fn expires_checked(
        &mut self,
        now: Instant,
        key: &TransactionKey,
        request: &Message,
    ) -> Option<u32> {
        let asked = match request.header(HeaderName::Expires) {
            None => DEFAULT_EXPIRES,
            Some(v) => match v.trim().parse::<u64>() {
                Ok(n) => u32::try_from(n).unwrap_or(u32::MAX),
                Err(_) => {
                    let r = self.response(request, 400, Some("Bad Expires"));
                    self.respond(now, key, r);
                    return None;
                }
            },
        };
        if asked != 0 && asked < MIN_EXPIRES {
            let r = self
                .response(request, 423, Some("Interval Too Brief"))
                .header_fmt(HeaderName::MinExpires, format_args!("{MIN_EXPIRES}"));
            self.respond(now, key, r);
            return None;
        }
        Some(asked.min(MAX_EXPIRES))
    }

    /// Whether NOTIFYs go without a subscription (configured, and the proxy known).
    fn unsolicited_on(&self) -> bool {
        self.config.unsolicited_mwi && self.subscriptions.proxy.is_some()
    }

    /// Tells the owner's phones `counts` without a subscription: an out-of-dialog NOTIFY
    /// (RFC 6665 §4.2.2 headers, RFC 3842 §5 body) to the owner's address of record, through
    /// the proxy, which forks it to the registered phones. Remembered as told; the
    /// mailbox is then among those counted again periodically while it holds messages.
    fn notify_unsolicited(&mut self, now: Instant, mailbox: &Mailbox, counts: MessageCounts) {
        if !self.config.unsolicited_mwi {
            return;
        }
        let Some(proxy) = self.subscriptions.proxy else {
            return;
        };
        if counts == MessageCounts::default() {
            self.subscriptions.told.remove(mailbox);
        } else if self.subscriptions.told.len() < MAX_SUBSCRIPTIONS
            || self.subscriptions.told.contains_key(mailbox)
        {
            self.subscriptions.told.insert(mailbox.clone(), counts);
            self.subscriptions
                .next_recount
                .get_or_insert(now + self.config.mwi_recount);
        }
        let aor = format!("sip:{}@{}", mailbox.user, mailbox.domain);
        let account = format!("sip:{VOICEMAIL}@{}", mailbox.domain);
        let via = self.via();
        let tag = self.token(10);
        let call_id = format!("{}@{}", self.token(20), self.config.contact_host);
        let contact = self.contact(VOICEMAIL);
        let notify = MessageBuilder::request(&Method::Notify, &aor)
            .header(HeaderName::Via, &via)
            .header(HeaderName::MaxForwards, "70")
            .header_fmt(HeaderName::From, format_args!("<{account}>;tag={tag}"))
            .header_fmt(HeaderName::To, format_args!("<{aor}>"))
            .header(HeaderName::CallId, &call_id)
            .header(HeaderName::CSeq, "1 NOTIFY")
            .header(HeaderName::Contact, &contact)
            .header(HeaderName::Event, EVENT)
            .header(HeaderName::SubscriptionState, "active")
            .header(HeaderName::UserAgent, &self.config.user_agent)
            .body(CONTENT_TYPE, counts.body(&account).into_bytes())
            .build();
        let notify = match notify {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(%mailbox, error = %e, "unsolicited NOTIFY not built");
                return;
            }
        };
        tracing::debug!(%mailbox, ?counts, "message-summary NOTIFY without a subscription");
        match self.layer.send_request(now, notify, false) {
            Ok(key) => {
                self.dests.insert(key, proxy);
            }
            Err(e) => tracing::debug!(error = %e, "unsolicited NOTIFY not sent"),
        }
        self.drain_layer();
    }

    fn known_counts(&self, number: u64) -> Option<MessageCounts> {
        let sub = self.subscriptions.by_number.get(&number)?;
        self.subscriptions.counts.get(&sub.mailbox).copied()
    }

    /// Sends the NOTIFY of subscription `number` with the known counts; an ending
    /// subscription is removed after its `terminated` NOTIFY, sent without a body when its
    /// time is up before the counts came.
    fn notify_now(&mut self, now: Instant, number: u64) {
        let Some(sub) = self.subscriptions.by_number.get(&number) else {
            return;
        };
        let ending = sub.state != State::Active;
        let overdue = sub.expires <= now;
        let counts = self.known_counts(number);
        if counts.is_none() && !(ending && overdue) {
            // A CountMessages is out; the NOTIFY goes when it is answered.
            return;
        }
        self.send_notify(now, number, counts);
        if ending {
            self.subscriptions.remove(number);
        }
    }

    fn send_notify(&mut self, now: Instant, number: u64, counts: Option<MessageCounts>) {
        let via = self.via();
        let contact = self.contact(VOICEMAIL);
        let user_agent = self.config.user_agent.clone();
        let Some(sub) = self.subscriptions.by_number.get_mut(&number) else {
            return;
        };
        let state = match sub.state {
            State::Active => {
                let left = sub.expires.saturating_duration_since(now);
                // Rounded up: a subscription granted 600 s says 600 right after.
                let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
                format!("active;expires={secs}")
            }
            State::Ending { timeout: true } => "terminated;reason=timeout".to_owned(),
            State::Ending { timeout: false } => "terminated".to_owned(),
        };
        let account = format!("sip:{VOICEMAIL}@{}", sub.mailbox.domain);
        let mut b = sub
            .dialog
            .request(&Method::Notify, &via, Some(&contact))
            .header(HeaderName::Event, &sub.event)
            .header(HeaderName::SubscriptionState, &state)
            .header(HeaderName::UserAgent, &user_agent);
        if let Some(counts) = counts {
            b = b.body(CONTENT_TYPE, counts.body(&account).into_bytes());
            sub.notified = Some(counts);
        }
        let dest = first_hop(&sub.dialog).unwrap_or(sub.source);
        let notify = match b.build() {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "NOTIFY not built");
                return;
            }
        };
        tracing::debug!(mailbox = %sub.mailbox, %state, ?counts, "message-summary NOTIFY");
        match self.layer.send_request(now, notify, false) {
            Ok(key) => {
                self.dests.insert(key.clone(), dest);
                self.subscriptions.notifies.insert(key, number);
            }
            Err(e) => tracing::debug!(error = %e, "NOTIFY not sent"),
        }
    }
}

#[cfg(test)]
mod tests;
