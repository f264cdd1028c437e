//! IVR calls through the service UA on a simulated clock: the key by SIP INFO, the REFER
//! the caller's phone gets, its answer and the NOTIFYs, and what the service does then.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use sip::build::MessageBuilder;
use sip::{HeaderName, Message, Method};

use super::super::ivr::tests::{prompts, sample_menus};
use super::super::tests::{g711_offer, in_dialog, invite, Harness, PROXY};
use super::super::{Service, ServiceUa};

const IVR_URI: &str = "sip:ivr@example.com;menu=main";

fn harness() -> Harness {
    let mut h = Harness::new();
    let mut config = h.ua.config().clone();
    config.ivr = Arc::new(sample_menus());
    config.prompts = prompts();
    h.ua = ServiceUa::new(config, 42);
    h
}

/// The IVR call answered and acknowledged; its 200.
fn answered(h: &mut Harness, invite_text: &str) -> Message {
    h.sip(invite_text);
    let ok = h.response(200);
    h.sip(&in_dialog("ACK", &ok, 1, "", ""));
    ok
}

fn key(h: &mut Harness, ok: &Message, cseq: u32, key: char) {
    h.sip(&in_dialog(
        "INFO",
        ok,
        cseq,
        "Content-Type: application/dtmf-relay\r\n",
        &format!("Signal={key}\r\nDuration=160\r\n"),
    ));
}

/// The REFERs sent, once each (retransmissions aside).
fn refers(h: &Harness) -> Vec<Message> {
    let mut seen = Vec::new();
    let mut out = Vec::new();
    for (_, m) in &h.sent {
        if m.method() == Some(&Method::Refer) {
            let seq = m.cseq().unwrap().seq;
            if !seen.contains(&seq) {
                seen.push(seq);
                out.push(m.clone());
            }
        }
    }
    out
}

fn byes(h: &Harness) -> usize {
    h.sent
        .iter()
        .filter(|(_, m)| m.method() == Some(&Method::Bye))
        .count()
}

/// Steps until a REFER was sent (at most 3 s); the REFER.
fn wait_refer(h: &mut Harness) -> Message {
    for _ in 0..150 {
        if let Some(r) = refers(h).pop() {
            return r;
        }
        h.step(false);
    }
    panic!("no REFER: {:?}", h.codes());
}

/// The caller's answer `code` to `request`, as text.
fn reply(request: &Message, code: u16) -> String {
    let r = MessageBuilder::response_to(request, code, None, None)
        .build()
        .unwrap();
    String::from_utf8(r.as_bytes().to_vec()).unwrap()
}

/// A NOTIFY of the `refer` subscription from the caller with this sipfrag status line.
fn notify(ok: &Message, cseq: u32, status: &str) -> String {
    in_dialog(
        "NOTIFY",
        ok,
        cseq,
        "Event: refer\r\nSubscription-State: active;expires=60\r\nContent-Type: message/sipfrag;version=2.0\r\n",
        &format!("{status}\r\n"),
    )
}

/// The response the service sent to the caller's request with CSeq `cseq`.
fn answer_to(h: &Harness, cseq: u32) -> u16 {
    h.sent
        .iter()
        .rev()
        .find(|(_, m)| m.status().is_some() && m.cseq().unwrap().seq == cseq)
        .and_then(|(_, m)| m.status())
        .unwrap_or_else(|| panic!("no answer to CSeq {cseq}: {:?}", h.codes()))
}

#[test]
fn ivr_uris_and_an_unknown_menu() {
    assert_eq!(
        Service::of_uri("sip:ivr@Example.com;menu=main"),
        Some(Service::Ivr {
            domain: "example.com".into(),
            menu: "main".into()
        })
    );
    assert_eq!(Service::of_uri("sip:ivr@example.com"), None);
    assert_eq!(Service::of_uri("sip:ivr@example.com;menu="), None);
    let mut h = harness();
    h.sip(&invite("sip:ivr@example.com;menu=nope", &g711_offer()));
    assert_eq!(h.response(404).reason(), Some("No Such Menu"));
    assert_eq!(h.ua.live_calls(), 0);
}

#[test]
fn a_key_transfers_the_caller_by_refer_and_a_200_sipfrag_ends_our_call() {
    let mut h = harness();
    let ok = answered(&mut h, &invite(IVR_URI, &g711_offer()));
    for _ in 0..10 {
        h.step(false);
    }
    key(&mut h, &ok, 2, '1');
    assert_eq!(answer_to(&h, 2), 200);
    let refer = wait_refer(&mut h);
    // RFC 3515 §2.4.1: in the dialog, through the proxy's Record-Route.
    let dest = h
        .sent
        .iter()
        .find(|(_, m)| m.method() == Some(&Method::Refer))
        .unwrap()
        .0;
    assert_eq!(dest, PROXY.parse().unwrap());
    assert_eq!(refer.request_uri_str(), Some("sip:alice@192.0.2.10:5060"));
    assert_eq!(
        refer.header(HeaderName::Route),
        Some("<sip:127.0.0.1:5060;lr>")
    );
    assert_eq!(refer.call_id().unwrap(), "call-1@192.0.2.10");
    assert_eq!(
        refer.header_by_name("Refer-To"),
        Some("<sip:bob@example.com>")
    );
    assert_eq!(
        refer.header_by_name("Referred-By"),
        Some(&*format!("<{IVR_URI}>"))
    );
    assert!(refer
        .header(HeaderName::From)
        .unwrap()
        .contains(ok.to().unwrap().tag().unwrap()));

    h.sip(&reply(&refer, 202));
    h.sip(&notify(&ok, 3, "SIP/2.0 100 Trying"));
    assert_eq!(answer_to(&h, 3), 200);
    for _ in 0..50 {
        h.step(false);
    }
    assert_eq!(h.ua.live_calls(), 1, "still waiting for the outcome");
    assert_eq!(byes(&h), 0);
    h.sip(&notify(&ok, 4, "SIP/2.0 200 OK"));
    assert_eq!(answer_to(&h, 4), 200);
    assert_eq!(byes(&h), 1, "the caller is through: we leave");
    assert_eq!(h.ua.live_calls(), 0);
    assert_eq!(refers(&h).len(), 1);
}

#[test]
fn a_failed_transfer_returns_to_the_menu() {
    let mut h = harness();
    let ok = answered(&mut h, &invite(IVR_URI, &g711_offer()));
    // A NOTIFY before any transfer, and one of another package.
    h.sip(&notify(&ok, 2, "SIP/2.0 200 OK"));
    assert_eq!(answer_to(&h, 2), 481);
    h.sip(&in_dialog(
        "NOTIFY",
        &ok,
        3,
        "Event: presence\r\nSubscription-State: active\r\n",
        "",
    ));
    assert_eq!(answer_to(&h, 3), 489);

    // The target is busy: the sipfrag says 486.
    key(&mut h, &ok, 4, '1');
    let refer = wait_refer(&mut h);
    h.sip(&reply(&refer, 202));
    h.sip(&notify(&ok, 5, "SIP/2.0 486 Busy Here"));
    assert_eq!(answer_to(&h, 5), 200);
    assert_eq!(byes(&h), 0);
    assert_eq!(h.ua.live_calls(), 1);

    // Back in the menu: the sub-menu's key 1 transfers to carol.
    for _ in 0..60 {
        h.step(false);
    }
    key(&mut h, &ok, 6, '2');
    for _ in 0..5 {
        h.step(false);
    }
    key(&mut h, &ok, 7, '1');
    for _ in 0..100 {
        h.step(false);
    }
    let all = refers(&h);
    assert_eq!(all.len(), 2, "{:?}", h.codes());
    assert_eq!(
        all[1].header_by_name("Refer-To"),
        Some("<sip:carol@example.com>")
    );
    // The phone refuses this REFER: the menu again, and key 0 hangs up.
    h.sip(&reply(&all[1], 603));
    for _ in 0..60 {
        h.step(false);
    }
    key(&mut h, &ok, 8, '*');
    for _ in 0..5 {
        h.step(false);
    }
    key(&mut h, &ok, 9, '0');
    for _ in 0..150 {
        if h.ua.live_calls() == 0 {
            break;
        }
        h.step(false);
    }
    assert_eq!(h.ua.live_calls(), 0);
    assert_eq!(byes(&h), 1, "goodbye, then BYE");
}

#[test]
fn a_transfer_without_an_outcome_in_time_fails_and_a_hang_up_ends_it() {
    let mut h = harness();
    let ok = answered(&mut h, &invite(IVR_URI, &g711_offer()));
    key(&mut h, &ok, 2, '1');
    let refer = wait_refer(&mut h);
    h.sip(&reply(&refer, 202));
    h.now += super::TRANSFER_TIMEOUT - std::time::Duration::from_secs(1);
    h.ua.handle_timeout(h.now);
    assert!(h
        .ua
        .poll_timeout()
        .is_some_and(|t| t <= h.now + std::time::Duration::from_secs(1)));
    h.now += std::time::Duration::from_secs(1);
    h.ua.handle_timeout(h.now);
    // Back in the menu: a second transfer, and the caller hangs up meanwhile.
    for _ in 0..60 {
        h.step(false);
    }
    key(&mut h, &ok, 3, '1');
    for _ in 0..100 {
        h.step(false);
    }
    assert_eq!(refers(&h).len(), 2, "{:?}", h.codes());
    h.sip(&in_dialog("BYE", &ok, 4, "", ""));
    assert_eq!(answer_to(&h, 4), 200);
    assert_eq!(h.ua.live_calls(), 0);
    assert_eq!(byes(&h), 0);
}

#[test]
fn a_caller_whose_allow_lacks_refer_is_not_transferred() {
    let mut h = harness();
    let text = invite(IVR_URI, &g711_offer()).replace(
        "Content-Type: application/sdp",
        "Allow: INVITE, ACK, BYE, CANCEL, INFO\r\nContent-Type: application/sdp",
    );
    let ok = answered(&mut h, &text);
    key(&mut h, &ok, 2, '1');
    for _ in 0..150 {
        h.step(false);
    }
    assert!(refers(&h).is_empty());
    assert_eq!(h.ua.live_calls(), 1);
    // The menu still works.
    key(&mut h, &ok, 3, '0');
    for _ in 0..150 {
        if h.ua.live_calls() == 0 {
            break;
        }
        h.step(false);
    }
    assert_eq!(h.ua.live_calls(), 0);
}
