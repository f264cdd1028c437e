//! Click-to-dial on a simulated clock (RFC 3725 §4.1, flow I): the proxy's side is SIP
//! text, each message the controller sends is checked in order.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use sip::build::MessageBuilder;
use sip::{HeaderName, Message, Method};

use super::super::tests::{g711_offer, Harness, PROXY};
use super::super::Mailbox;
use super::{ClickToDial, DialError, DialStarted, CALLER_RING_TIMEOUT, MAX_DIALS_PER_CALLER};

const A_CONTACT: &str = "<sip:alice@192.0.2.10:5060>";
const B_CONTACT: &str = "<sip:bob@192.0.2.20:5060>";

fn answer_sdp() -> String {
    "v=0\r\no=- 2 1 IN IP4 192.0.2.20\r\ns=-\r\nc=IN IP4 192.0.2.20\r\nt=0 0\r\n\
     m=audio 5000 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\na=sendrecv\r\n"
        .to_owned()
}

fn harness() -> Harness {
    let mut h = Harness::new();
    h.ua.set_proxy(PROXY.parse().unwrap());
    h
}

fn start(h: &mut Harness) -> DialStarted {
    let started =
        h.ua.click_to_dial(
            h.now,
            ClickToDial {
                caller: Mailbox {
                    user: "alice".into(),
                    domain: "example.com".into(),
                },
                target: "sip:bob@example.com".into(),
                display: "bob".into(),
            },
        )
        .unwrap();
    h.drain();
    started
}

/// The response `code` of the far side to `request`, with its tag, Contact, the proxy's
/// Record-Route and an optional SDP body, as text.
fn reply(request: &Message, code: u16, tag: &str, contact: &str, body: Option<&str>) -> String {
    let mut b = MessageBuilder::response_to(request, code, None, Some(tag))
        .header(HeaderName::Contact, contact)
        .header(HeaderName::RecordRoute, "<sip:127.0.0.1:5060;lr>");
    if let Some(body) = body {
        b = b.body("application/sdp", body.as_bytes().to_vec());
    }
    String::from_utf8(b.build().unwrap().as_bytes().to_vec()).unwrap()
}

/// A BYE from the far side of the leg answered by `ok` (to `invite`), through the proxy.
fn bye_from(invite: &Message, ok: &Message, cseq: u32) -> String {
    let from = ok.header(HeaderName::To).unwrap();
    let to = invite.header(HeaderName::From).unwrap();
    format!(
        "BYE sip:click-to-dial@127.0.0.1:5090 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKbye{cseq}\r\n\
         Max-Forwards: 69\r\n\
         From: {from}\r\n\
         To: {to}\r\n\
         Call-ID: {}\r\n\
         CSeq: {cseq} BYE\r\n\
         Content-Length: 0\r\n\r\n",
        invite.call_id().unwrap()
    )
}

/// Requests sent from index `from` on, as (method, Call-ID).
fn requests_since(h: &Harness, from: usize) -> Vec<(Method, String)> {
    h.sent[from..]
        .iter()
        .filter_map(|(_, m)| Some((m.method()?.clone(), m.call_id().ok()?.to_owned())))
        .collect()
}

fn last_request(h: &Harness, method: &Method) -> Message {
    h.sent
        .iter()
        .rev()
        .find(|(_, m)| m.method() == Some(method))
        .map(|(_, m)| m.clone())
        .unwrap_or_else(|| panic!("no {method}: {:?}", h.codes()))
}

/// The controller's INVITE to A, answered with 180 and a 200 carrying A's offer; the
/// INVITE to B that follows.
fn a_answers(h: &mut Harness) -> (Message, Message, Message) {
    let invite_a = last_request(h, &Method::Invite);
    h.sip(&reply(&invite_a, 180, "atag", A_CONTACT, None));
    let ok_a = reply(&invite_a, 200, "atag", A_CONTACT, Some(&g711_offer()));
    h.sip(&ok_a);
    let invite_b = last_request(h, &Method::Invite);
    (invite_a, Message::parse(ok_a).unwrap(), invite_b)
}

#[test]
fn flow_i_in_order_with_the_callers_200_retransmissions() {
    let mut h = harness();
    let started = start(&mut h);
    assert_eq!(h.ua.dials(), 1);

    // (1) INVITE to A without SDP, through the proxy, showing the target.
    let (dest, invite_a) = h.sent.last().cloned().unwrap();
    assert_eq!(dest, PROXY.parse().unwrap());
    assert_eq!(invite_a.method(), Some(&Method::Invite));
    assert_eq!(invite_a.request_uri_str(), Some("sip:alice@example.com"));
    assert!(invite_a.body().is_empty());
    let from = invite_a.header(HeaderName::From).unwrap();
    assert!(
        from.starts_with("\"Click-to-dial: bob\" <sip:click-to-dial@example.com>"),
        "{from}"
    );
    assert_eq!(invite_a.call_id().unwrap(), started.caller_call_id);
    assert_eq!(invite_a.header_by_name("P-Asserted-Identity"), None);

    // (2) A's 200 with the offer → (3) INVITE to B with that offer, as A.
    let mark = h.sent.len();
    let (_, ok_a, invite_b) = a_answers(&mut h);
    assert_eq!(
        requests_since(&h, mark),
        vec![(Method::Invite, started.call_id.clone())]
    );
    assert_eq!(invite_b.request_uri_str(), Some("sip:bob@example.com"));
    assert_eq!(invite_b.body(), ok_a.body());
    assert_eq!(invite_b.from().unwrap().uri, "sip:alice@example.com");
    assert_eq!(
        invite_b.header_by_name("P-Asserted-Identity"),
        Some("<sip:alice@example.com>")
    );
    assert_eq!(invite_b.call_id().unwrap(), started.call_id);

    // A retransmits its 200 while B rings: absorbed.
    let text_ok_a = String::from_utf8(ok_a.as_bytes().to_vec()).unwrap();
    let mark = h.sent.len();
    h.now += Duration::from_millis(500);
    h.ua.handle_timeout(h.now);
    h.drain();
    h.sip(&text_ok_a);
    h.sip(&reply(&invite_b, 180, "btag", B_CONTACT, None));
    h.now += Duration::from_millis(1000);
    h.sip(&text_ok_a);
    // Nothing toward A (no ACK yet); toward B only its INVITE's retransmissions (Timer A).
    assert!(
        requests_since(&h, mark)
            .iter()
            .all(|r| *r == (Method::Invite, started.call_id.clone())),
        "{:?}",
        h.codes()
    );

    // (4) B's 200 with the answer → (5) ACK to B, (6) ACK to A with the answer.
    let mark = h.sent.len();
    let ok_b = reply(&invite_b, 200, "btag", B_CONTACT, Some(&answer_sdp()));
    h.sip(&ok_b);
    let sent = requests_since(&h, mark);
    assert_eq!(
        sent,
        vec![
            (Method::Ack, started.call_id.clone()),
            (Method::Ack, started.caller_call_id.clone()),
        ]
    );
    let ack_b = &h.sent[mark].1;
    let ack_a = &h.sent[mark + 1].1;
    assert!(ack_b.body().is_empty());
    assert_eq!(ack_a.body(), answer_sdp().as_bytes());
    assert_eq!(
        ack_a.header(HeaderName::Route),
        Some("<sip:127.0.0.1:5060;lr>")
    );
    assert_eq!(ack_a.request_uri_str(), Some("sip:alice@192.0.2.10:5060"));
    assert!(ack_a.header(HeaderName::To).unwrap().contains("atag"));

    // A's 200 again (our ACK lost): the same ACK again; B's 200 again: its ACK again.
    let mark = h.sent.len();
    h.sip(&text_ok_a);
    h.sip(&ok_b);
    assert_eq!(
        requests_since(&h, mark),
        vec![
            (Method::Ack, started.caller_call_id.clone()),
            (Method::Ack, started.call_id.clone()),
        ]
    );
    assert_eq!(h.sent[mark].1.body(), answer_sdp().as_bytes());
    assert_eq!(h.ua.dials(), 1);
    assert_eq!(h.ua.live_calls(), 0, "no media of our own");

    // A hangs up: 200 to A, BYE to B.
    let mark = h.sent.len();
    h.sip(&bye_from(&invite_a, &ok_a, 1));
    assert_eq!(h.sent[mark].1.status(), Some(200));
    assert_eq!(
        requests_since(&h, mark),
        vec![(Method::Bye, started.call_id.clone())]
    );
    assert_eq!(h.ua.dials(), 0);
}

#[test]
fn a_bye_from_the_target_is_relayed_to_the_caller() {
    let mut h = harness();
    let started = start(&mut h);
    let (_, _, invite_b) = a_answers(&mut h);
    let ok_b = reply(&invite_b, 200, "btag", B_CONTACT, Some(&answer_sdp()));
    h.sip(&ok_b);
    let ok_b = Message::parse(ok_b).unwrap();
    let mark = h.sent.len();
    h.sip(&bye_from(&invite_b, &ok_b, 1));
    assert_eq!(h.sent[mark].1.status(), Some(200));
    assert_eq!(
        requests_since(&h, mark),
        vec![(Method::Bye, started.caller_call_id.clone())]
    );
    let bye = last_request(&h, &Method::Bye);
    assert_eq!(bye.request_uri_str(), Some("sip:alice@192.0.2.10:5060"));
    assert_eq!(h.ua.dials(), 0);
    // Our BYE's 200 changes nothing.
    h.sip(&reply(&bye, 200, "atag", A_CONTACT, None));
    assert_eq!(h.ua.dials(), 0);
}

#[test]
fn a_busy_target_ends_the_callers_leg_with_ack_and_bye() {
    let mut h = harness();
    let started = start(&mut h);
    let (_, _, invite_b) = a_answers(&mut h);
    let mark = h.sent.len();
    h.sip(&reply(&invite_b, 486, "btag", B_CONTACT, None));
    let sent: Vec<_> = requests_since(&h, mark)
        .into_iter()
        .filter(|(_, c)| *c == started.caller_call_id)
        .collect();
    assert_eq!(
        sent,
        vec![
            (Method::Ack, started.caller_call_id.clone()),
            (Method::Bye, started.caller_call_id.clone()),
        ]
    );
    // The ACK answers A's offer by rejecting its stream (RFC 3264 §6: port 0).
    let ack_a = &h
        .sent
        .iter()
        .find(|(_, m)| {
            m.method() == Some(&Method::Ack)
                && m.call_id().unwrap() == started.caller_call_id.as_str()
        })
        .unwrap()
        .1;
    let body = String::from_utf8(ack_a.body().to_vec()).unwrap();
    assert!(body.contains("m=audio 0 RTP/AVP 8\r\n"), "{body}");
    assert_eq!(h.ua.dials(), 0);
}

#[test]
fn a_caller_who_declines_or_does_not_answer_ends_it_with_nothing_more() {
    // Declined: no INVITE to B.
    let mut h = harness();
    start(&mut h);
    let invite_a = last_request(&h, &Method::Invite);
    let mark = h.sent.len();
    h.sip(&reply(&invite_a, 603, "atag", A_CONTACT, None));
    // Only the transaction's own ACK of the 603 (RFC 3261 §17.1.1.3).
    assert_eq!(
        requests_since(&h, mark)
            .into_iter()
            .map(|(m, _)| m)
            .collect::<Vec<_>>(),
        vec![Method::Ack]
    );
    assert!(h.sent.last().unwrap().1.body().is_empty());
    assert_eq!(h.ua.dials(), 0);

    // No answer within the bound: CANCEL, then the 487 ends it.
    let mut h = harness();
    let started = start(&mut h);
    let invite_a = last_request(&h, &Method::Invite);
    h.sip(&reply(&invite_a, 180, "atag", A_CONTACT, None));
    h.now += CALLER_RING_TIMEOUT - Duration::from_secs(1);
    h.ua.handle_timeout(h.now);
    h.drain();
    assert!(h
        .sent
        .iter()
        .all(|(_, m)| m.method() != Some(&Method::Cancel)));
    let mark = h.sent.len();
    h.now += Duration::from_secs(1);
    h.ua.handle_timeout(h.now);
    h.drain();
    assert_eq!(
        requests_since(&h, mark),
        vec![(Method::Cancel, started.caller_call_id.clone())]
    );
    let mark = h.sent.len();
    h.sip(&reply(&invite_a, 487, "atag", A_CONTACT, None));
    assert!(
        requests_since(&h, mark)
            .iter()
            .all(|(m, _)| *m == Method::Ack),
        "{:?}",
        h.codes()
    );
    assert_eq!(h.ua.dials(), 0);
    assert!(h
        .sent
        .iter()
        .all(|(_, m)| m.call_id().unwrap() != started.call_id.as_str()));
}

#[test]
fn a_target_unanswered_when_the_caller_gives_up_is_cancelled_and_the_caller_sent_bye() {
    let mut h = harness();
    let started = start(&mut h);
    let (_, _, invite_b) = a_answers(&mut h);
    h.sip(&reply(&invite_b, 180, "btag", B_CONTACT, None));
    let mark = h.sent.len();
    // 64*T1 after A's 200 (A stops retransmitting then and gives up).
    h.now += Duration::from_secs(32);
    h.ua.handle_timeout(h.now);
    h.drain();
    let mut sent = requests_since(&h, mark);
    sent.sort_by_key(|(m, c)| (c.clone(), m.as_str().to_owned()));
    let mut want = vec![
        (Method::Ack, started.caller_call_id.clone()),
        (Method::Bye, started.caller_call_id.clone()),
        (Method::Cancel, started.call_id.clone()),
    ];
    want.sort_by_key(|(m, c)| (c.clone(), m.as_str().to_owned()));
    assert_eq!(sent, want);
    // B answers anyway, too late: ACK and BYE.
    let mark = h.sent.len();
    h.sip(&reply(
        &invite_b,
        200,
        "btag",
        B_CONTACT,
        Some(&answer_sdp()),
    ));
    assert_eq!(
        requests_since(&h, mark),
        vec![
            (Method::Ack, started.call_id.clone()),
            (Method::Bye, started.call_id.clone()),
        ]
    );
    assert_eq!(h.ua.dials(), 0);
}

#[test]
fn a_second_phone_of_the_caller_answering_is_acknowledged_and_sent_bye() {
    let mut h = harness();
    let started = start(&mut h);
    let (invite_a, _, _) = a_answers(&mut h);
    let mark = h.sent.len();
    h.sip(&reply(
        &invite_a,
        200,
        "other",
        "<sip:alice@192.0.2.11:5060>",
        Some(&g711_offer()),
    ));
    assert_eq!(
        requests_since(&h, mark),
        vec![
            (Method::Ack, started.caller_call_id.clone()),
            (Method::Bye, started.caller_call_id.clone()),
        ]
    );
    let bye = last_request(&h, &Method::Bye);
    assert!(bye.header(HeaderName::To).unwrap().contains("other"));
    assert_eq!(h.ua.dials(), 1, "the first phone's call goes on");
}

#[test]
fn refusals() {
    let mut h = Harness::new();
    let request = ClickToDial {
        caller: Mailbox {
            user: "alice".into(),
            domain: "example.com".into(),
        },
        target: "sip:bob@example.com".into(),
        display: "bob".into(),
    };
    assert_eq!(
        h.ua.click_to_dial(h.now, request.clone()),
        Err(DialError::NoProxy)
    );
    h.ua.set_proxy(PROXY.parse().unwrap());
    let bad = ClickToDial {
        target: "bob".into(),
        ..request.clone()
    };
    assert!(matches!(
        h.ua.click_to_dial(h.now, bad),
        Err(DialError::BadTarget(_))
    ));
    // A display name cannot break out of its quotes.
    let odd = ClickToDial {
        display: "b\"o\\b\r\nX: y".into(),
        ..request.clone()
    };
    h.ua.click_to_dial(h.now, odd).unwrap();
    h.drain();
    let invite = last_request(&h, &Method::Invite);
    assert!(invite
        .header(HeaderName::From)
        .unwrap()
        .starts_with("\"Click-to-dial: bobX: y\""));
}

#[test]
fn one_caller_has_a_few_calls_at_once() {
    let mut h = harness();
    for _ in 0..MAX_DIALS_PER_CALLER {
        start(&mut h);
    }
    let request = ClickToDial {
        caller: Mailbox {
            user: "alice".into(),
            domain: "example.com".into(),
        },
        target: "sip:bob@example.com".into(),
        display: "bob".into(),
    };
    assert_eq!(
        h.ua.click_to_dial(h.now, request.clone()),
        Err(DialError::Busy)
    );
    // Another caller is not held up.
    let carol = ClickToDial {
        caller: Mailbox {
            user: "carol".into(),
            domain: "example.com".into(),
        },
        ..request
    };
    assert!(h.ua.click_to_dial(h.now, carol).is_ok());
}

/// A re-INVITE from the far side of the leg answered by `ok` (to `invite`), through the
/// proxy, offering `sdp`.
fn reinvite_from(invite: &Message, ok: &Message, cseq: u32, sdp: &str) -> String {
    let from = ok.header(HeaderName::To).unwrap();
    let to = invite.header(HeaderName::From).unwrap();
    let contact = ok.header(HeaderName::Contact).unwrap();
    format!(
        "INVITE sip:click-to-dial@127.0.0.1:5090 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKre{cseq}\r\n\
         Max-Forwards: 69\r\n\
         From: {from}\r\n\
         To: {to}\r\n\
         Call-ID: {}\r\n\
         CSeq: {cseq} INVITE\r\n\
         Contact: {contact}\r\n\
         Content-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n{sdp}",
        invite.call_id().unwrap(),
        sdp.len()
    )
}

#[test]
fn a_reinvite_is_relayed_to_the_other_side_and_its_answer_returned() {
    let mut h = harness();
    let started = start(&mut h);
    let (invite_a, ok_a, invite_b) = a_answers(&mut h);
    let ok_b = reply(&invite_b, 200, "btag", B_CONTACT, Some(&answer_sdp()));
    h.sip(&ok_b);

    // A puts the call on hold: the offer goes to B in B's dialog.
    let hold = g711_offer().replace("a=sendrecv", "a=sendonly");
    let mark = h.sent.len();
    h.sip(&reinvite_from(&invite_a, &ok_a, 2, &hold));
    let to_b = last_request(&h, &Method::Invite);
    assert_eq!(to_b.call_id().unwrap(), started.call_id);
    assert_eq!(to_b.cseq().unwrap().seq, 2);
    assert_eq!(to_b.body(), hold.as_bytes());
    assert_eq!(to_b.request_uri_str(), Some("sip:bob@192.0.2.20:5060"));
    assert!(to_b.header(HeaderName::To).unwrap().contains("btag"));
    // A second one meanwhile: 491.
    h.sip(&reinvite_from(&invite_a, &ok_a, 3, &hold));
    assert_eq!(h.sent.last().unwrap().1.status(), Some(491));
    // B answers: ACK to B (CSeq 2), the answer to A in our 200.
    let held = answer_sdp().replace("a=sendrecv", "a=recvonly");
    h.sip(&reply(&to_b, 200, "btag", B_CONTACT, Some(&held)));
    let ack = last_request(&h, &Method::Ack);
    assert_eq!(ack.call_id().unwrap(), started.call_id);
    assert_eq!(ack.cseq().unwrap().seq, 2);
    let ok = h
        .sent
        .iter()
        .skip(mark)
        .find(|(_, m)| m.status() == Some(200) && m.cseq().unwrap().seq == 2)
        .map(|(_, m)| m.clone())
        .unwrap();
    assert_eq!(ok.call_id().unwrap(), started.caller_call_id);
    assert_eq!(ok.body(), held.as_bytes());
    // B refuses the next one: A gets the refusal.
    h.sip(&reinvite_from(&invite_a, &ok_a, 4, &g711_offer()));
    let to_b = last_request(&h, &Method::Invite);
    assert_eq!(to_b.cseq().unwrap().seq, 3);
    h.sip(&reply(&to_b, 488, "btag", B_CONTACT, None));
    assert!(h
        .sent
        .iter()
        .any(|(_, m)| m.status() == Some(488) && m.cseq().unwrap().seq == 4));
    assert_eq!(h.ua.dials(), 1);
}
