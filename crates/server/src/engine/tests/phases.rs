//! The failure phase and the tap through the engine, with hooks made for the tests: a
//! failed call taken elsewhere on the same server transaction (the way voicemail will
//! take it), a cancelled call left alone, and every message in and out seen by the tap,
//! retransmissions included.

use std::sync::{Arc, Mutex};

use super::*;
use crate::policy::hook::{Direction, Hook, HookCx, Tapped};
use crate::proxy::{Forward, Target};

/// Takes failed calls to `to` (as a voicemail service would), remembering the codes it
/// was shown; `take: false` only watches.
struct TakeOver {
    to: SocketAddr,
    take: bool,
    shown: Arc<Mutex<Vec<u16>>>,
}

impl Hook for TakeOver {
    fn on_failure(
        &mut self,
        _cx: &mut HookCx<'_>,
        invite: &Message,
        code: u16,
        forward: &mut Forward,
    ) -> bool {
        assert_eq!(invite.method(), Some(&sip::Method::Invite));
        self.shown.lock().unwrap().push(code);
        if !self.take {
            return false;
        }
        forward.targets.push(Target {
            request_uri: Some(format!("sip:voicemail@{}", self.to)),
            routes_before: Vec::new(),
            hops: vec![crate::proxy::Hop {
                protocol: Protocol::Udp,
                addr: self.to,
            }],
            hop_request_uris: Vec::new(),
            q: 1000,
            nat: false,
            service: true,
        });
        true
    }
}

fn take_over(w: &mut World, take: bool) -> Arc<Mutex<Vec<u16>>> {
    let shown = Arc::new(Mutex::new(Vec::new()));
    w.engine.add_hook(Box::new(TakeOver {
        to: VOICEMAIL.parse().unwrap(),
        take,
        shown: shown.clone(),
    }));
    shown
}

const VOICEMAIL: &str = "192.0.2.50:5070";

fn call_bob(w: &mut World, call: &str) -> Message {
    w.receive(
        CALLER,
        &invite(
            "alice",
            "example.com",
            CALLER,
            "sip:bob@example.com",
            call,
            true,
        ),
    );
    let mut at_bob = w.sent_to(BOB_1);
    assert_eq!(at_bob.len(), 1, "the INVITE reaches bob");
    at_bob.remove(0)
}

fn acc_kinds(w: &World) -> Vec<store::AccKind> {
    w.records
        .iter()
        .filter_map(|r| match r {
            Record::Acc(a) => Some(a.kind),
            _ => None,
        })
        .collect()
}

#[test]
fn the_failure_phase_takes_a_busy_call_elsewhere_on_the_same_transaction() {
    let mut w = World::new(trusted_config());
    w.register("bob", BOB_1, "1.0");
    let shown = take_over(&mut w, true);
    let at_bob = call_bob(&mut w, "f1");
    w.receive(BOB_1, &answer_to(&at_bob, 486, "b1", None));
    assert_eq!(*shown.lock().unwrap(), [486]);
    let sent = std::mem::take(&mut w.sent);
    let to = |dest: &str| -> Vec<Message> {
        let dest: SocketAddr = dest.parse().unwrap();
        sent.iter()
            .filter(|(d, _)| *d == dest)
            .map(|(_, m)| m.clone())
            .collect()
    };
    let at_bob = to(BOB_1);
    assert_eq!(at_bob.len(), 1);
    assert_eq!(
        at_bob[0].method(),
        Some(&sip::Method::Ack),
        "the busy is acknowledged"
    );
    assert!(
        to(CALLER).is_empty(),
        "the caller hears nothing of the busy"
    );
    let at_voicemail = to(VOICEMAIL);
    assert_eq!(at_voicemail.len(), 1);
    let forwarded = &at_voicemail[0];
    assert_eq!(forwarded.method(), Some(&sip::Method::Invite));
    assert_eq!(
        forwarded.request_uri_str(),
        Some(&*format!("sip:voicemail@{VOICEMAIL}"))
    );
    assert_eq!(forwarded.call_id().ok(), Some("f1"));
    assert_eq!(forwarded.record_routes().count(), 1, "still record-routed");
    w.receive(VOICEMAIL, &answer_to(forwarded, 200, "vm", None));
    let to_caller = w.sent_to(CALLER);
    assert_eq!(codes(&to_caller), [200], "no second 100 Trying");
    assert_eq!(to_caller[0].to().unwrap().tag(), Some("vm"));
    assert_eq!(
        acc_kinds(&w),
        [store::AccKind::Request, store::AccKind::Answered],
        "one call: started once, answered by the service, never failed"
    );
}

#[test]
fn a_failure_no_hook_takes_goes_to_the_caller() {
    let mut w = World::new(trusted_config());
    w.register("bob", BOB_1, "1.0");
    let shown = take_over(&mut w, false);
    let at_bob = call_bob(&mut w, "f2");
    w.receive(BOB_1, &answer_to(&at_bob, 486, "b1", None));
    assert_eq!(*shown.lock().unwrap(), [486]);
    assert_eq!(codes(&w.sent_to(CALLER)), [486]);
    assert!(w.sent_to(VOICEMAIL).is_empty());
}

#[test]
fn a_cancelled_call_skips_the_failure_phase() {
    let mut w = World::new(trusted_config());
    w.register("bob", BOB_1, "1.0");
    let shown = take_over(&mut w, true);
    let at_bob = call_bob(&mut w, "f3");
    w.receive(BOB_1, &answer_to(&at_bob, 180, "b1", None));
    let cancel = format!(
        "CANCEL sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP {CALLER};branch=z9hG4bK-f3;rport\r\n\
Max-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=f-f3\r\nTo: <sip:bob@example.com>\r\n\
Call-ID: f3\r\nCSeq: 1 CANCEL\r\nContent-Length: 0\r\n\r\n"
    );
    w.receive(CALLER, &cancel);
    let cancels = w.sent_to(BOB_1);
    assert_eq!(cancels.len(), 1);
    assert_eq!(cancels[0].method(), Some(&sip::Method::Cancel));
    w.receive(BOB_1, &answer_to(&cancels[0], 200, "b1", None));
    w.receive(BOB_1, &answer_to(&at_bob, 487, "b1", None));
    assert!(
        shown.lock().unwrap().is_empty(),
        "a cancel is the caller's wish"
    );
    assert!(codes(&w.sent_to(CALLER)).contains(&487));
    assert!(w.sent_to(VOICEMAIL).is_empty());
}

/// Remembers every tapped message: direction, peer, first line.
struct Tap(Arc<Mutex<Vec<(Direction, SocketAddr, String)>>>);

impl Hook for Tap {
    fn taps(&self) -> bool {
        true
    }

    fn on_tap(&mut self, _now: Now, tapped: &Tapped<'_>) {
        let text = String::from_utf8_lossy(tapped.bytes);
        let first = text.lines().next().unwrap_or("").to_owned();
        self.0
            .lock()
            .unwrap()
            .push((tapped.direction, tapped.remote, first));
    }
}

#[test]
fn the_tap_sees_every_message_in_and_out_retransmissions_included() {
    let mut w = World::new(trusted_config());
    w.register("bob", BOB_1, "1.0");
    w.sent.clear();
    let seen = Arc::new(Mutex::new(Vec::new()));
    w.engine.add_hook(Box::new(Tap(seen.clone())));
    let at_bob = call_bob(&mut w, "t1");
    // Bob is slow: Timer A sends the INVITE again after T1 (RFC 3261 §17.1.1.2).
    w.advance(Duration::from_millis(500));
    assert_eq!(w.sent_to(BOB_1).len(), 1, "a retransmission");
    w.receive(BOB_1, &answer_to(&at_bob, 200, "b1", None));
    // A malformed datagram is tapped too, before anything else looks at it.
    w.receive(CALLER, "NOT SIP AT ALL\r\n\r\n");
    let seen = seen.lock().unwrap();
    let lines: Vec<(Direction, String, String)> = seen
        .iter()
        .map(|(d, peer, first)| (*d, peer.to_string(), first.clone()))
        .collect();
    let line = |d: Direction, peer: &str, first: &str| (d, peer.to_owned(), first.to_owned());
    assert_eq!(
        lines,
        [
            line(Direction::In, CALLER, "INVITE sip:bob@example.com SIP/2.0"),
            line(Direction::Out, CALLER, "SIP/2.0 100 Trying"),
            line(
                Direction::Out,
                BOB_1,
                &format!("INVITE sip:bob@{BOB_1} SIP/2.0")
            ),
            line(
                Direction::Out,
                BOB_1,
                &format!("INVITE sip:bob@{BOB_1} SIP/2.0")
            ),
            line(Direction::In, BOB_1, "SIP/2.0 200 OK"),
            line(Direction::Out, CALLER, "SIP/2.0 200 OK"),
            line(Direction::In, CALLER, "NOT SIP AT ALL"),
        ]
    );
}
