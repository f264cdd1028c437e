//! Two user agents wired to each other on a simulated clock and network.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use sip::auth::{self, Algorithm, Challenge};
use sip::build::MessageBuilder;
use sip::transaction::TimerConfig;
use sip::{HeaderName, Message};

use super::*;

const A: &str = "127.0.0.1:5061";
const B: &str = "127.0.0.1:5062";

fn ua(user: &str, own: &str, peer: &str, seed: u64) -> UserAgent {
    UserAgent::new(
        UaConfig {
            account: Account {
                user: user.into(),
                domain: "example.com".into(),
                password: "secret".into(),
                auth_user: None,
                display_name: None,
            },
            server: peer.parse().unwrap(),
            transport: Transport::Udp,
            contact_host: own.into(),
            user_agent: "itsp-phone-test".into(),
            register_expires: 300,
            timers: TimerConfig::default(),
        },
        seed,
    )
}

/// Two phones that send to each other, and a clock.
struct Net {
    a: UserAgent,
    b: UserAgent,
    now: Instant,
    /// Drop the next message from A matching this start-line prefix.
    drop_from_a: Option<&'static str>,
    a_events: Vec<Event>,
    b_events: Vec<Event>,
}

impl Net {
    fn new() -> Net {
        Net {
            a: ua("alice", A, B, 1),
            b: ua("bob", B, A, 2),
            now: Instant::now(),
            drop_from_a: None,
            a_events: Vec::new(),
            b_events: Vec::new(),
        }
    }

    /// Delivers messages until both are quiet.
    fn pump(&mut self) {
        for _ in 0..100 {
            let mut moved = false;
            while let Some(t) = self.a.poll_transmit() {
                moved = true;
                assert_eq!(t.dest, B.parse::<SocketAddr>().unwrap());
                if let Some(prefix) = self.drop_from_a {
                    if t.payload.starts_with(prefix.as_bytes()) {
                        self.drop_from_a = None;
                        continue;
                    }
                }
                self.b.handle(self.now, A.parse().unwrap(), t.payload);
            }
            while let Some(t) = self.b.poll_transmit() {
                moved = true;
                self.a.handle(self.now, B.parse().unwrap(), t.payload);
            }
            while let Some(e) = self.a.poll_event() {
                self.a_events.push(e);
            }
            while let Some(e) = self.b.poll_event() {
                self.b_events.push(e);
            }
            if !moved {
                return;
            }
        }
        panic!("the phones never stop talking");
    }

    fn advance(&mut self, by: Duration) {
        let end = self.now + by;
        loop {
            let next = [self.a.poll_timeout(), self.b.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            match next {
                Some(t) if t <= end => {
                    self.now = self.now.max(t);
                    self.a.handle_timeout(self.now);
                    self.b.handle_timeout(self.now);
                    self.pump();
                }
                _ => break,
            }
        }
        self.now = end;
        self.pump();
    }

    fn incoming(&self) -> CallId {
        self.b_events
            .iter()
            .find_map(|e| match e {
                Event::Incoming { call, .. } => Some(*call),
                _ => None,
            })
            .expect("bob got a call")
    }

    /// Alice calls Bob, Bob answers.
    fn established(&mut self) -> (CallId, CallId) {
        let a = self
            .a
            .call(
                self.now,
                "sip:bob@example.com",
                Some(Bytes::from_static(b"v=0\r\n")),
            )
            .unwrap();
        self.pump();
        let b = self.incoming();
        self.b.ringing(self.now, b).unwrap();
        self.b
            .answer(self.now, b, Some(Bytes::from_static(b"v=0\r\n")))
            .unwrap();
        self.pump();
        (a, b)
    }
}

fn ended(events: &[Event], call: CallId) -> Option<&EndCause> {
    events.iter().find_map(|e| match e {
        Event::CallEnded { call: c, cause } if *c == call => Some(cause),
        _ => None,
    })
}

#[test]
fn call_is_answered_and_hung_up_by_the_caller() {
    let mut net = Net::new();
    let (a, b) = net.established();
    assert!(net
        .a_events
        .iter()
        .any(|e| matches!(e, Event::Ringing { code: 180, .. })));
    assert!(net
        .a_events
        .iter()
        .any(|e| matches!(e, Event::Answered { call, sdp: Some(_) } if *call == a)));
    assert!(net
        .b_events
        .contains(&Event::Confirmed { call: b, sdp: None }));
    net.a.hangup(net.now, a).unwrap();
    net.pump();
    assert_eq!(ended(&net.a_events, a), Some(&EndCause::LocalHangup));
    assert_eq!(ended(&net.b_events, b), Some(&EndCause::RemoteHangup));
    // No retransmissions linger: 2xx was ACKed, BYE answered.
    net.advance(Duration::from_secs(40));
    assert_eq!(net.a.live_calls().count() + net.b.live_calls().count(), 0);
}

#[test]
fn callee_hangs_up_too() {
    let mut net = Net::new();
    let (a, b) = net.established();
    net.b.hangup(net.now, b).unwrap();
    net.pump();
    assert_eq!(ended(&net.a_events, a), Some(&EndCause::RemoteHangup));
    assert_eq!(ended(&net.b_events, b), Some(&EndCause::LocalHangup));
}

#[test]
fn caller_cancels_a_ringing_call() {
    let mut net = Net::new();
    let a = net.a.call(net.now, "sip:bob@example.com", None).unwrap();
    net.pump();
    let b = net.incoming();
    net.b.ringing(net.now, b).unwrap();
    net.pump();
    net.a.hangup(net.now, a).unwrap();
    net.pump();
    assert_eq!(ended(&net.a_events, a), Some(&EndCause::Cancelled));
    assert_eq!(ended(&net.b_events, b), Some(&EndCause::CallerCancelled));
}

#[test]
fn cancel_waits_for_a_provisional_response() {
    let mut net = Net::new();
    let a = net.a.call(net.now, "sip:bob@example.com", None).unwrap();
    // Hang up before anything came back: nothing is sent until the 100 Trying.
    net.a.hangup(net.now, a).unwrap();
    net.pump();
    assert_eq!(ended(&net.a_events, a), Some(&EndCause::Cancelled));
    let b = net.incoming();
    assert_eq!(ended(&net.b_events, b), Some(&EndCause::CallerCancelled));
}

#[test]
fn busy_callee_ends_the_call_with_its_status() {
    let mut net = Net::new();
    let a = net.a.call(net.now, "sip:bob@example.com", None).unwrap();
    net.pump();
    let b = net.incoming();
    net.b.reject(net.now, b, 486).unwrap();
    net.pump();
    assert_eq!(
        ended(&net.a_events, a),
        Some(&EndCause::Failed {
            code: 486,
            reason: "Busy Here".into()
        })
    );
    assert_eq!(
        ended(&net.b_events, b),
        Some(&EndCause::Refused { code: 486 })
    );
}

#[test]
fn hold_by_reinvite_both_ways() {
    let mut net = Net::new();
    let (a, b) = net.established();
    net.a
        .reoffer(net.now, a, Bytes::from_static(b"v=0\r\na=sendonly\r\n"))
        .unwrap();
    net.pump();
    assert!(net.b_events.iter().any(
        |e| matches!(e, Event::RemoteOffer { call, sdp: Some(s) } if *call == b && s.ends_with(b"sendonly\r\n"))
    ));
    net.b
        .accept_offer(net.now, b, Bytes::from_static(b"v=0\r\na=recvonly\r\n"))
        .unwrap();
    net.pump();
    assert!(net.a_events.iter().any(
        |e| matches!(e, Event::OfferAnswered { call, sdp: Some(s) } if *call == a && s.ends_with(b"recvonly\r\n"))
    ));
    // And back from Bob.
    net.b
        .reoffer(net.now, b, Bytes::from_static(b"v=0\r\na=sendrecv\r\n"))
        .unwrap();
    net.pump();
    assert!(net
        .a_events
        .iter()
        .any(|e| matches!(e, Event::RemoteOffer { call, .. } if *call == a)));
    net.a
        .accept_offer(net.now, a, Bytes::from_static(b"v=0\r\n"))
        .unwrap();
    net.pump();
    assert!(net
        .b_events
        .iter()
        .any(|e| matches!(e, Event::OfferAnswered { call, .. } if *call == b)));
    net.advance(Duration::from_secs(40));
    assert_eq!(
        net.a.live_calls().count(),
        1,
        "the call survives its re-INVITEs"
    );
}

#[test]
fn transfer_by_refer_reports_progress() {
    let mut net = Net::new();
    let (a, b) = net.established();
    net.a.transfer(net.now, a, "sip:carol@example.com").unwrap();
    net.pump();
    assert!(net.b_events.contains(&Event::TransferRequested {
        call: b,
        target: "sip:carol@example.com".into()
    }));
    let progress = |events: &[Event]| -> Vec<u16> {
        events
            .iter()
            .filter_map(|e| match e {
                Event::TransferProgress { code, .. } => Some(*code),
                _ => None,
            })
            .collect()
    };
    let mut codes = progress(&net.a_events);
    codes.sort_unstable();
    assert_eq!(codes, [100, 202]);
    net.b.notify_transfer(net.now, b, 200, "OK").unwrap();
    net.pump();
    assert_eq!(progress(&net.a_events).last(), Some(&200));
}

#[test]
fn info_and_message_arrive() {
    let mut net = Net::new();
    let (a, b) = net.established();
    net.a
        .info(
            net.now,
            a,
            "application/dtmf-relay",
            Bytes::from_static(b"Signal=5\r\nDuration=160\r\n"),
        )
        .unwrap();
    net.pump();
    assert!(net.b_events.iter().any(
        |e| matches!(e, Event::Info { call, content_type, .. } if *call == b && content_type == "application/dtmf-relay")
    ));
    assert!(net
        .a_events
        .contains(&Event::InfoAnswered { call: a, code: 200 }));
    let id = net
        .a
        .message(net.now, "sip:bob@example.com", "hej")
        .unwrap();
    net.pump();
    assert!(net
        .b_events
        .iter()
        .any(|e| matches!(e, Event::Message { body, .. } if body.as_ref() == b"hej")));
    assert!(net
        .a_events
        .iter()
        .any(|e| matches!(e, Event::MessageAnswered { id: i, code: 200, .. } if *i == id)));
}

#[test]
fn lost_ack_gets_the_2xx_again_and_in_the_end_a_bye() {
    let mut net = Net::new();
    net.drop_from_a = Some("ACK ");
    let (a, b) = net.established();
    assert!(!net
        .b_events
        .contains(&Event::Confirmed { call: b, sdp: None }));
    // Bob retransmits the 200 after T1; Alice ACKs it again.
    net.advance(Duration::from_millis(600));
    assert!(net
        .b_events
        .contains(&Event::Confirmed { call: b, sdp: None }));
    assert!(ended(&net.b_events, b).is_none());

    // Every ACK lost: Bob gives up after 64*T1 with a BYE.
    let mut net = Net::new();
    let (a2, b2) = net.established();
    let _ = (a, a2);
    net.b.calls.get_mut(&b2).unwrap().phase = Phase::Answered;
    net.b.calls.get_mut(&b2).unwrap().unacked_answer = Some((Bytes::new(), 999));
    net.b.schedule(net.now, Timer::AnswerGiveUp { call: b2 });
    net.advance(Duration::from_millis(1));
    assert_eq!(ended(&net.b_events, b2), Some(&EndCause::NoAck));
    assert_eq!(ended(&net.a_events, a2), Some(&EndCause::RemoteHangup));
}

#[test]
fn unanswered_invite_times_out() {
    let mut alice = ua("alice", A, "127.0.0.1:9", 3);
    let now = Instant::now();
    let call = alice.call(now, "sip:bob@example.com", None).unwrap();
    let mut sent = 0;
    let mut t = now;
    while let Some(next) = alice.poll_timeout() {
        if next > now + Duration::from_secs(40) {
            break;
        }
        t = next;
        alice.handle_timeout(t);
        while alice.poll_transmit().is_some() {
            sent += 1;
        }
    }
    assert!(t >= now + Duration::from_secs(32));
    assert!(sent >= 6, "INVITE retransmitted by Timer A ({sent})");
    let events: Vec<_> = std::iter::from_fn(|| alice.poll_event()).collect();
    assert_eq!(
        ended(&events, call),
        Some(&EndCause::Failed {
            code: 408,
            reason: "Request Timeout".into()
        })
    );
}

/// A registrar by hand: challenges, then accepts with the Contact's expires.
#[test]
fn registration_answers_the_challenge_and_refreshes() {
    let mut alice = ua("alice", A, B, 4);
    let registrar: SocketAddr = B.parse().unwrap();
    let mut now = Instant::now();
    alice.register(now);
    let first = Message::parse(alice.poll_transmit().unwrap().payload).unwrap();
    assert_eq!(first.request_uri_str(), Some("sip:example.com"));
    assert_eq!(first.header(HeaderName::Expires), Some("300"));
    let mut challenge = String::new();
    Challenge::new("example.com", "n0nce", Algorithm::Md5, false)
        .write_to(&mut challenge)
        .unwrap();
    let r401 = MessageBuilder::response_to(&first, 401, None, Some("reg"))
        .header(HeaderName::WwwAuthenticate, &challenge)
        .build()
        .unwrap();
    alice.handle(now, registrar, r401.as_bytes().clone());
    let second = Message::parse(alice.poll_transmit().unwrap().payload).unwrap();
    assert_eq!(second.cseq().unwrap().seq, first.cseq().unwrap().seq + 1);
    assert_eq!(second.call_id().unwrap(), first.call_id().unwrap());
    let creds = second.authorization().next().expect("credentials");
    let creds = auth::parse_credentials(creds)
        .unwrap()
        .into_digest()
        .unwrap();
    let ha1 = auth::ha1(Algorithm::Md5, "alice", "example.com", "secret");
    assert!(auth::verify(&creds, "REGISTER", &ha1), "valid digest");

    let ok = MessageBuilder::response_to(&second, 200, None, Some("reg"))
        .header(HeaderName::Contact, &format!("<sip:alice@{A}>;expires=120"))
        .build()
        .unwrap();
    alice.handle(now, registrar, ok.as_bytes().clone());
    let events: Vec<_> = std::iter::from_fn(|| alice.poll_event()).collect();
    assert!(events.contains(&Event::Registered { expires: 120 }));
    assert!(alice.is_registered());
    // Refreshed half-way through a short registration.
    now += Duration::from_secs(59);
    alice.handle_timeout(now);
    assert!(alice.poll_transmit().is_none());
    now += Duration::from_secs(1);
    alice.handle_timeout(now);
    let refresh = Message::parse(alice.poll_transmit().unwrap().payload).unwrap();
    assert_eq!(refresh.cseq().unwrap().seq, second.cseq().unwrap().seq + 1);

    // A wrong password: the same challenge twice is a failure, not a loop.
    let r401 = MessageBuilder::response_to(&refresh, 401, None, Some("reg"))
        .header(HeaderName::WwwAuthenticate, &challenge)
        .build()
        .unwrap();
    alice.handle(now, registrar, r401.as_bytes().clone());
    let retry = Message::parse(alice.poll_transmit().unwrap().payload).unwrap();
    let r401 = MessageBuilder::response_to(&retry, 401, None, Some("reg"))
        .header(HeaderName::WwwAuthenticate, &challenge)
        .build()
        .unwrap();
    alice.handle(now, registrar, r401.as_bytes().clone());
    assert!(alice.poll_transmit().is_none());
    let events: Vec<_> = std::iter::from_fn(|| alice.poll_event()).collect();
    assert!(events
        .iter()
        .any(|e| matches!(e, Event::RegistrationFailed { code: 401, .. })));
}

#[test]
fn register_follows_min_expires() {
    let mut alice = ua("alice", A, B, 5);
    let now = Instant::now();
    alice.register(now);
    let first = Message::parse(alice.poll_transmit().unwrap().payload).unwrap();
    let r423 = MessageBuilder::response_to(&first, 423, None, Some("reg"))
        .header(HeaderName::MinExpires, "3600")
        .build()
        .unwrap();
    alice.handle(now, B.parse().unwrap(), r423.as_bytes().clone());
    let second = Message::parse(alice.poll_transmit().unwrap().payload).unwrap();
    assert_eq!(second.header(HeaderName::Expires), Some("3600"));
}

#[test]
fn requests_outside_any_call() {
    let mut net = Net::new();
    // A BYE for no call: 481; an unknown method: 405 with Allow.
    let bye = "BYE sip:bob@127.0.0.1:5062 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bKx1\r\nFrom: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>;tag=2\r\nCall-ID: nope\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n";
    net.b.handle(
        net.now,
        A.parse().unwrap(),
        Bytes::from_static(bye.as_bytes()),
    );
    let r = Message::parse(net.b.poll_transmit().unwrap().payload).unwrap();
    assert_eq!(r.status(), Some(481));
    let sub = bye.replace("BYE", "SUBSCRIBE").replace(";tag=2", "");
    net.b.handle(net.now, A.parse().unwrap(), Bytes::from(sub));
    let r = Message::parse(net.b.poll_transmit().unwrap().payload).unwrap();
    assert_eq!(r.status(), Some(405));
    assert_eq!(r.header(HeaderName::Allow), Some(ALLOW));
    // Garbage is dropped without a word.
    net.b.handle(
        net.now,
        A.parse().unwrap(),
        Bytes::from_static(b"\x00\x01garbage"),
    );
    assert!(net.b.poll_transmit().is_none());
}

#[test]
fn answers_copy_the_record_route_of_the_invite() {
    let mut net = Net::new();
    let invite = "INVITE sip:bob@127.0.0.1:5062 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bKrr1\r\nRecord-Route: <sip:p1.example.com;lr>\r\nRecord-Route: <sip:p2.example.com;lr>\r\nFrom: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\nCall-ID: rr\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@127.0.0.1:5061>\r\nContent-Length: 0\r\n\r\n";
    net.b.handle(
        net.now,
        A.parse().unwrap(),
        Bytes::from_static(invite.as_bytes()),
    );
    let _trying = net.b.poll_transmit().unwrap();
    let call = std::iter::from_fn(|| net.b.poll_event())
        .find_map(|e| match e {
            Event::Incoming { call, .. } => Some(call),
            _ => None,
        })
        .unwrap();
    net.b.ringing(net.now, call).unwrap();
    net.b.answer(net.now, call, None).unwrap();
    for expected in [180, 200] {
        let r = Message::parse(net.b.poll_transmit().unwrap().payload).unwrap();
        assert_eq!(r.status(), Some(expected));
        let rr: Vec<_> = r.record_routes().map(|x| x.unwrap().uri).collect();
        assert_eq!(rr, ["sip:p1.example.com;lr", "sip:p2.example.com;lr"]);
    }
    // Bob's BYE goes along that route, in order.
    net.b.hangup(net.now, call).unwrap();
    let bye = Message::parse(net.b.poll_transmit().unwrap().payload).unwrap();
    assert_eq!(bye.method(), Some(&sip::Method::Bye));
    let routes: Vec<_> = bye.routes().map(|x| x.unwrap().uri).collect();
    assert_eq!(routes, ["sip:p1.example.com;lr", "sip:p2.example.com;lr"]);
}
