//! The notifier on a simulated clock: the proxy's side is SIP text.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use sip::build::MessageBuilder;
use sip::{HeaderName, Message, Method};

use super::super::{Environment, Mailbox, ServiceConfig, ServiceEvent, ServiceUa};
use super::*;
use crate::prompt::Prompt;
use crate::prompts::Prompts;

const PROXY: &str = "127.0.0.1:5060";

struct NoMedia;

impl Environment for NoMedia {
    fn open_rtp(&mut self) -> Option<u16> {
        None
    }
    fn greeting(&mut self, _mailbox: &Mailbox) -> Option<Prompt> {
        None
    }
}

struct Harness {
    ua: ServiceUa,
    now: Instant,
    sent: Vec<(SocketAddr, Message)>,
    events: Vec<ServiceEvent>,
}

fn alice() -> Mailbox {
    Mailbox {
        user: "alice".into(),
        domain: "example.com".into(),
    }
}

/// A SUBSCRIBE through the proxy; `dialog` = the 200 of the first, for a refresh.
fn subscribe(cseq: u32, extra: &str, dialog: Option<&Message>) -> String {
    let (uri, to) = match dialog {
        Some(ok) => (
            sip::headers::NameAddr::parse(ok.header(HeaderName::Contact).unwrap())
                .unwrap()
                .uri
                .to_owned(),
            ok.header(HeaderName::To).unwrap().to_owned(),
        ),
        None => (
            "sip:voicemail@example.com;mailbox=alice".to_owned(),
            "<sip:alice@example.com>".to_owned(),
        ),
    };
    let rr = if dialog.is_none() {
        "Record-Route: <sip:127.0.0.1:5060;lr>\r\n"
    } else {
        ""
    };
    format!(
        "SUBSCRIBE {uri} SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKproxy{cseq}\r\n\
         Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKalice{cseq};received=192.0.2.10\r\n\
         {rr}Max-Forwards: 69\r\n\
         From: <sip:alice@example.com>;tag=a1\r\n\
         To: {to}\r\n\
         Call-ID: sub-1@192.0.2.10\r\n\
         CSeq: {cseq} SUBSCRIBE\r\n\
         Contact: <sip:alice@192.0.2.10:5060>\r\n\
         {extra}Content-Length: 0\r\n\r\n"
    )
}

const MWI: &str = "Event: message-summary\r\nAccept: application/simple-message-summary\r\n";

impl Harness {
    fn new() -> Harness {
        let config = ServiceConfig::new(
            "127.0.0.1:5090".into(),
            [127, 0, 0, 1].into(),
            Prompts::built_in().unwrap(),
        );
        Harness {
            ua: ServiceUa::new(config, 7),
            now: Instant::now(),
            sent: Vec::new(),
            events: Vec::new(),
        }
    }

    fn sip(&mut self, text: &str) {
        self.ua.handle(
            self.now,
            PROXY.parse().unwrap(),
            Bytes::from(text.to_owned()),
            &mut NoMedia,
        );
        self.drain();
    }

    fn drain(&mut self) {
        while let Some(t) = self.ua.poll_transmit() {
            self.sent.push((t.dest, Message::parse(t.payload).unwrap()));
        }
        while let Some(e) = self.ua.poll_event() {
            self.events.push(e);
        }
    }

    /// What was sent since the last call.
    fn take(&mut self) -> Vec<Message> {
        std::mem::take(&mut self.sent)
            .into_iter()
            .map(|(dest, m)| {
                assert_eq!(dest, PROXY.parse().unwrap(), "everything goes to the proxy");
                m
            })
            .collect()
    }

    fn counted(&mut self) -> usize {
        let n = self
            .events
            .iter()
            .filter(|e| matches!(e, ServiceEvent::CountMessages { mailbox } if *mailbox == alice()))
            .count();
        self.events.clear();
        n
    }

    fn counts(&mut self, new: u32, old: u32) {
        self.ua
            .message_counts(self.now, &alice(), MessageCounts { new, old });
        self.drain();
    }

    fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        while self.now < end {
            self.now = (self.now + Duration::from_millis(500)).min(end);
            self.ua.handle_timeout(self.now);
            self.drain();
        }
    }

    /// Answers `notify` with `code`.
    fn answer(&mut self, notify: &Message, code: u16) {
        let r = MessageBuilder::response_to(notify, code, None, None)
            .build()
            .unwrap();
        self.sip(std::str::from_utf8(r.as_bytes()).unwrap());
    }

    /// A subscription made and its first NOTIFY (0 new, 0 old) answered 200; the 200.
    fn subscribed(&mut self) -> Message {
        self.sip(&subscribe(1, &format!("{MWI}Expires: 600\r\n"), None));
        let ok = self.take().pop().unwrap();
        assert_eq!(ok.status(), Some(200));
        self.counts(0, 0);
        let notify = self.take().pop().unwrap();
        self.answer(&notify, 200);
        self.events.clear();
        ok
    }
}

fn notifies(sent: &[Message]) -> Vec<&Message> {
    sent.iter()
        .filter(|m| m.method() == Some(&Method::Notify))
        .collect()
}

fn body(m: &Message) -> &str {
    std::str::from_utf8(m.body()).unwrap()
}

#[test]
fn a_subscription_gets_200_then_a_notify_with_the_counts_and_one_per_change() {
    let mut h = Harness::new();
    h.sip(&subscribe(1, &format!("{MWI}Expires: 600\r\n"), None));
    let sent = h.take();
    assert_eq!(sent.len(), 1, "the 200 alone until the counts are known");
    let ok = &sent[0];
    assert_eq!(ok.status(), Some(200));
    assert_eq!(ok.header(HeaderName::Expires), Some("600"));
    assert!(ok.to().unwrap().tag().is_some(), "the dialog's tag");
    assert_eq!(
        ok.header(HeaderName::RecordRoute),
        Some("<sip:127.0.0.1:5060;lr>")
    );
    assert_eq!(h.counted(), 1, "the mailbox is counted");
    assert_eq!(h.ua.subscriptions(), 1);

    h.now += Duration::from_secs(1);
    h.counts(0, 0);
    let sent = h.take();
    let notify = notifies(&sent)[0];
    // RFC 6665 §4.2.1.2 and §7.2.1; RFC 3842 §5.
    assert_eq!(
        notify.request_uri_str(),
        Some("sip:alice@192.0.2.10:5060"),
        "the subscriber's Contact"
    );
    assert_eq!(
        notify.header(HeaderName::Route),
        Some("<sip:127.0.0.1:5060;lr>")
    );
    assert_eq!(notify.call_id().unwrap(), "sub-1@192.0.2.10");
    assert_eq!(notify.from().unwrap().tag(), ok.to().unwrap().tag());
    assert_eq!(notify.to().unwrap().tag(), Some("a1"));
    assert_eq!(notify.header(HeaderName::Event), Some("message-summary"));
    assert_eq!(
        notify.header(HeaderName::SubscriptionState),
        Some("active;expires=599")
    );
    assert_eq!(
        notify.header(HeaderName::ContentType),
        Some("application/simple-message-summary")
    );
    assert_eq!(
        body(notify),
        "Messages-Waiting: no\r\nMessage-Account: sip:voicemail@example.com\r\nVoice-Message: 0/0\r\n"
    );
    let first_cseq = notify.cseq().unwrap().seq;
    let notify = notify.clone();
    h.answer(&notify, 200);

    // The same counts again: nothing to say.
    h.counts(0, 0);
    assert!(h.take().is_empty());
    // A message: told.
    h.counts(1, 0);
    let sent = h.take();
    let notify = notifies(&sent)[0];
    assert!(body(notify).starts_with("Messages-Waiting: yes\r\n"));
    assert!(body(notify).contains("Voice-Message: 1/0\r\n"));
    assert_eq!(notify.cseq().unwrap().seq, first_cseq + 1);
    let notify = notify.clone();
    h.answer(&notify, 200);
    // Heard: no longer waiting.
    h.counts(0, 1);
    let sent = h.take();
    assert!(body(notifies(&sent)[0]).contains("Messages-Waiting: no\r\n"));
    assert!(body(notifies(&sent)[0]).contains("Voice-Message: 0/1\r\n"));
    // Another mailbox's counts do not concern alice's subscriber.
    h.ua.message_counts(
        h.now,
        &Mailbox {
            user: "bob".into(),
            domain: "example.com".into(),
        },
        MessageCounts { new: 3, old: 0 },
    );
    h.drain();
    assert!(h.take().is_empty());
}

#[test]
fn expires_are_capped_and_bad_subscriptions_refused() {
    let mut h = Harness::new();
    // Above the cap: granted 3600; none asked: 3600 (RFC 3842 §4.4).
    h.sip(&subscribe(1, &format!("{MWI}Expires: 86400\r\n"), None));
    assert_eq!(h.take()[0].header(HeaderName::Expires), Some("3600"));
    let mut h = Harness::new();
    h.sip(&subscribe(1, MWI, None));
    assert_eq!(h.take()[0].header(HeaderName::Expires), Some("3600"));
    // Below the minimum: 423 with Min-Expires (RFC 6665 §4.2.1.1).
    let mut h = Harness::new();
    h.sip(&subscribe(1, &format!("{MWI}Expires: 30\r\n"), None));
    let r = h.take().pop().unwrap();
    assert_eq!(r.status(), Some(423));
    assert_eq!(r.header(HeaderName::MinExpires), Some("60"));
    // Garbage: 400.
    h.sip(&subscribe(2, &format!("{MWI}Expires: soon\r\n"), None));
    assert_eq!(h.take().pop().unwrap().status(), Some(400));
    // Another event package: 489 with Allow-Events (RFC 6665 §8.2.2).
    h.sip(&subscribe(3, "Event: presence\r\n", None));
    let r = h.take().pop().unwrap();
    assert_eq!(r.status(), Some(489));
    assert_eq!(r.header(HeaderName::AllowEvents), Some("message-summary"));
    // A body we do not make: 406.
    h.sip(&subscribe(
        4,
        "Event: message-summary\r\nAccept: application/pidf+xml\r\n",
        None,
    ));
    assert_eq!(h.take().pop().unwrap().status(), Some(406));
    // Not a mailbox: 404.
    let echo = subscribe(5, MWI, None).replace(
        "SUBSCRIBE sip:voicemail@example.com;mailbox=alice",
        "SUBSCRIBE sip:echo@example.com",
    );
    h.sip(&echo);
    assert_eq!(h.take().pop().unwrap().status(), Some(404));
    // No Contact: no dialog, 400.
    let bare = subscribe(6, MWI, None).replace("Contact: <sip:alice@192.0.2.10:5060>\r\n", "");
    h.sip(&bare);
    assert_eq!(h.take().pop().unwrap().status(), Some(400));
    assert_eq!(h.ua.subscriptions(), 0);
    assert!(h.events.is_empty(), "nothing counted for refusals");
}

#[test]
fn a_refresh_gets_200_and_a_notify_and_expires_0_ends_the_subscription() {
    let mut h = Harness::new();
    let ok = h.subscribed();
    h.now += Duration::from_secs(300);
    h.sip(&subscribe(2, &format!("{MWI}Expires: 1200\r\n"), Some(&ok)));
    let sent = h.take();
    assert_eq!(sent[0].status(), Some(200));
    assert_eq!(sent[0].header(HeaderName::Expires), Some("1200"));
    let notify = notifies(&sent)[0];
    assert_eq!(
        notify.header(HeaderName::SubscriptionState),
        Some("active;expires=1200"),
        "the known counts at once"
    );
    assert!(body(notify).contains("Voice-Message: 0/0"));
    let notify = notify.clone();
    h.answer(&notify, 200);
    // An old CSeq: out of order.
    let stale = subscribe(1, &format!("{MWI}Expires: 600\r\n"), Some(&ok))
        .replace("z9hG4bKproxy1", "z9hG4bKproxy-old");
    h.sip(&stale);
    assert_eq!(h.take().pop().unwrap().status(), Some(500));
    // Unsubscribe: 200, then NOTIFY terminated with the counts, and it is gone.
    h.sip(&subscribe(3, &format!("{MWI}Expires: 0\r\n"), Some(&ok)));
    let sent = h.take();
    assert_eq!(sent[0].status(), Some(200));
    assert_eq!(sent[0].header(HeaderName::Expires), Some("0"));
    let notify = notifies(&sent)[0];
    assert_eq!(
        notify.header(HeaderName::SubscriptionState),
        Some("terminated")
    );
    assert!(body(notify).contains("Messages-Waiting: no"));
    assert_eq!(h.ua.subscriptions(), 0);
    // The dialog is gone: 481 (RFC 6665 §4.1.2.2).
    h.sip(&subscribe(4, &format!("{MWI}Expires: 600\r\n"), Some(&ok)));
    assert_eq!(h.take().pop().unwrap().status(), Some(481));
}

#[test]
fn a_fetch_with_expires_0_gets_one_terminated_notify() {
    let mut h = Harness::new();
    h.sip(&subscribe(1, &format!("{MWI}Expires: 0\r\n"), None));
    let sent = h.take();
    assert_eq!(sent[0].status(), Some(200));
    assert_eq!(h.counted(), 1);
    h.counts(2, 5);
    let sent = h.take();
    let notify = notifies(&sent)[0];
    assert_eq!(
        notify.header(HeaderName::SubscriptionState),
        Some("terminated")
    );
    assert!(body(notify).contains("Voice-Message: 2/5"));
    assert_eq!(h.ua.subscriptions(), 0);
}

#[test]
fn the_end_of_a_subscription_is_notified_with_reason_timeout() {
    let mut h = Harness::new();
    h.subscribed();
    h.advance(Duration::from_secs(599));
    let sent = h.take();
    assert!(notifies(&sent).is_empty(), "nothing changed");
    assert_eq!(h.ua.subscriptions(), 1);
    h.advance(Duration::from_secs(2));
    let sent = h.take();
    let notify = notifies(&sent)[0];
    assert_eq!(
        notify.header(HeaderName::SubscriptionState),
        Some("terminated;reason=timeout")
    );
    assert!(body(notify).contains("Voice-Message: 0/0"));
    assert_eq!(h.ua.subscriptions(), 0);
    assert_eq!(h.ua.poll_timeout().map(|t| t > h.now), Some(true));
}

#[test]
fn a_notify_answered_481_or_unanswered_drops_the_subscription() {
    let mut h = Harness::new();
    h.subscribed();
    h.counts(1, 0);
    let sent = h.take();
    let notify = notifies(&sent)[0].clone();
    h.answer(&notify, 481);
    assert_eq!(h.ua.subscriptions(), 0);
    h.counts(2, 0);
    assert!(h.take().is_empty(), "nobody to tell");

    let mut h = Harness::new();
    h.subscribed();
    h.counts(1, 0);
    let first = notifies(&h.take())[0].clone();
    // Unanswered: retransmitted (Timer E), then Timer F (64*T1) ends the transaction.
    h.advance(Duration::from_secs(33));
    let sent = h.take();
    assert!(
        notifies(&sent)
            .iter()
            .any(|n| n.cseq().unwrap().seq == first.cseq().unwrap().seq),
        "retransmitted"
    );
    assert_eq!(h.ua.subscriptions(), 0, "dropped after Timer F");
}

#[test]
fn subscribed_mailboxes_are_counted_again_periodically_and_after_changes() {
    let mut h = Harness::new();
    h.subscribed();
    h.advance(Duration::from_secs(4));
    assert_eq!(h.counted(), 0);
    h.advance(Duration::from_secs(2));
    assert_eq!(h.counted(), 1, "every 5 s");
    h.advance(Duration::from_secs(5));
    assert_eq!(h.counted(), 1);
    // A change the core made (a deposit, a retrieval, a deletion) is followed by a count,
    // after it; changes in a row share one.
    for event in [
        ServiceEvent::Heard {
            mailbox: alice(),
            ids: vec![1],
        },
        ServiceEvent::Heard {
            mailbox: Mailbox {
                user: "bob".into(),
                domain: "example.com".into(),
            },
            ids: vec![2],
        },
        // A message deleted by phone (key 3 of the menu).
        ServiceEvent::Deleted {
            mailbox: alice(),
            id: 3,
        },
    ] {
        h.ua.events.push_back(event);
    }
    h.drain();
    let kinds: Vec<String> = h
        .events
        .iter()
        .map(|e| match e {
            ServiceEvent::Heard { mailbox, .. } => format!("heard {mailbox}"),
            ServiceEvent::Deleted { mailbox, .. } => format!("deleted {mailbox}"),
            ServiceEvent::CountMessages { mailbox } => format!("count {mailbox}"),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "heard alice@example.com",
            "heard bob@example.com",
            "deleted alice@example.com",
            "count alice@example.com"
        ],
        "bob has no subscriber: not counted"
    );
    // Without subscriptions, no recount.
    let mut h = Harness::new();
    h.advance(Duration::from_secs(20));
    assert!(h.events.is_empty());
    assert_eq!(h.ua.poll_timeout(), None);
}

#[test]
fn one_mailbox_holds_at_most_max_per_mailbox_subscriptions() {
    let mut h = Harness::new();
    for n in 0..MAX_PER_MAILBOX {
        let text = subscribe(1, &format!("{MWI}Expires: 600\r\n"), None)
            .replace("sub-1@192.0.2.10", &format!("sub-{n}@192.0.2.10"))
            .replace("z9hG4bKproxy1", &format!("z9hG4bKproxy-n{n}"));
        h.sip(&text);
        assert_eq!(h.take().pop().unwrap().status(), Some(200));
    }
    assert_eq!(h.ua.subscriptions(), MAX_PER_MAILBOX);
    let one_more = subscribe(1, &format!("{MWI}Expires: 600\r\n"), None)
        .replace("sub-1@192.0.2.10", "sub-more@192.0.2.10")
        .replace("z9hG4bKproxy1", "z9hG4bKproxy-more");
    h.sip(&one_more);
    assert_eq!(h.take().pop().unwrap().status(), Some(503));
    // All of them hear of a change, each once.
    h.counts(1, 0);
    assert_eq!(notifies(&h.take()).len(), MAX_PER_MAILBOX);
}

/// A harness whose service knows the proxy (NOTIFYs without a subscription on).
fn with_proxy() -> Harness {
    let mut h = Harness::new();
    h.ua.set_proxy(PROXY.parse().unwrap());
    h
}

fn registered(h: &mut Harness, new: u32, old: u32) {
    h.ua.mailbox_registered(h.now, &alice(), MessageCounts { new, old });
    h.drain();
}

#[test]
fn a_registered_phone_of_a_mailbox_with_messages_is_told_without_a_subscription() {
    let mut h = with_proxy();
    // No messages: nothing to light.
    registered(&mut h, 0, 0);
    assert!(h.take().is_empty());
    assert_eq!(h.ua.lamps_lit(), 0);

    registered(&mut h, 2, 1);
    let sent = h.take();
    assert_eq!(sent.len(), 1);
    let notify = &sent[0];
    // Out of any dialog, to the owner's address of record (the proxy forks it to the
    // registered phones); RFC 6665 §8.2 headers, RFC 3842 §5 body.
    assert_eq!(notify.method(), Some(&Method::Notify));
    assert_eq!(notify.request_uri_str(), Some("sip:alice@example.com"));
    assert_eq!(
        notify.header(HeaderName::To),
        Some("<sip:alice@example.com>")
    );
    assert!(notify.from().unwrap().tag().is_some());
    assert!(notify.from().unwrap().uri.contains("voicemail@example.com"));
    assert_eq!(notify.header(HeaderName::Event), Some("message-summary"));
    assert_eq!(notify.header(HeaderName::SubscriptionState), Some("active"));
    assert_eq!(
        body(notify),
        "Messages-Waiting: yes\r\nMessage-Account: sip:voicemail@example.com\r\nVoice-Message: 2/1\r\n"
    );
    assert_eq!(notify.cseq().unwrap().method, "NOTIFY");
    assert_eq!(h.ua.lamps_lit(), 1);
    let notify = notify.clone();
    h.answer(&notify, 200);

    // The same counts again (a recount): nothing; a change: told.
    h.counts(2, 1);
    assert!(h.take().is_empty());
    h.counts(0, 3);
    let sent = h.take();
    assert!(body(&sent[0]).starts_with("Messages-Waiting: no\r\n"));
    assert!(body(&sent[0]).contains("Voice-Message: 0/3\r\n"));
    // Emptied: told once, then forgotten (never "no messages" twice).
    h.counts(0, 0);
    assert_eq!(h.take().len(), 1);
    assert_eq!(h.ua.lamps_lit(), 0);
    h.counts(0, 0);
    assert!(h.take().is_empty());
}

#[test]
fn a_mailbox_with_a_lit_lamp_is_counted_after_changes_and_periodically() {
    let mut h = with_proxy();
    registered(&mut h, 1, 0);
    let notify = h.take().pop().unwrap();
    h.answer(&notify, 200);
    h.events.clear();
    // The periodic recount covers mailboxes told of messages without a subscription
    // (messages deleted in the portal).
    h.advance(DEFAULT_RECOUNT);
    assert_eq!(h.counted(), 1);
    h.counts(0, 0);
    let sent = h.take();
    assert_eq!(sent.len(), 1, "the lamp goes out");
    assert!(body(&sent[0]).starts_with("Messages-Waiting: no\r\n"));
    h.advance(DEFAULT_RECOUNT * 2);
    assert_eq!(h.counted(), 0, "nothing lit, nothing to recount");
}

#[test]
fn a_subscription_replaces_the_notifies_without_one() {
    let mut h = with_proxy();
    let _ok = h.subscribed();
    registered(&mut h, 4, 0);
    assert!(h.take().is_empty(), "the subscriber is told in its dialog");
    h.counts(4, 0);
    let sent = h.take();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].request_uri_str(),
        Some("sip:alice@192.0.2.10:5060"),
        "in the subscription's dialog only"
    );
}

#[test]
fn without_the_proxy_or_when_turned_off_nothing_goes_without_a_subscription() {
    let mut h = Harness::new();
    registered(&mut h, 1, 0);
    assert!(h.take().is_empty(), "the proxy's address is not known yet");

    let mut config = ServiceConfig::new(
        "127.0.0.1:5090".into(),
        [127, 0, 0, 1].into(),
        Prompts::built_in().unwrap(),
    );
    config.unsolicited_mwi = false;
    let mut h = Harness {
        ua: ServiceUa::new(config, 7),
        now: Instant::now(),
        sent: Vec::new(),
        events: Vec::new(),
    };
    h.ua.set_proxy(PROXY.parse().unwrap());
    registered(&mut h, 1, 0);
    h.counts(2, 0);
    assert!(h.take().is_empty());
    assert_eq!(h.ua.lamps_lit(), 0);
}
