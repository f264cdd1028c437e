//! Call detail records through the engine, on the simulated clock: one record per call
//! attempt, with the disposition, the final code, who hung up and who answered, for the
//! cases a provider bills and shows as missed calls.

use super::*;
use store::{Cdr, Disposition, HungUpBy};

fn cdrs(w: &World) -> Vec<Cdr> {
    w.records
        .iter()
        .filter_map(|r| match r {
            Record::Cdr { cdr, .. } => Some((**cdr).clone()),
            _ => None,
        })
        .collect()
}

fn call_bob(w: &mut World, call: &str) -> Message {
    w.receive(
        CALLER,
        &invite(
            "alice",
            "example.com",
            CALLER,
            "sip:bob@example.com",
            call,
            false,
        ),
    );
    w.sent_to(BOB_1)
        .into_iter()
        .find(|m| m.method() == Some(&sip::Method::Invite))
        .expect("the INVITE reaches bob")
}

/// `code` to `req` from a callee at `contact`.
fn answer_from(req: &Message, code: u16, to_tag: &str, contact: &str) -> String {
    let built = MessageBuilder::response_to(req, code, None, Some(to_tag))
        .header(HeaderName::Contact, &format!("<{contact}>"))
        .build()
        .unwrap();
    String::from_utf8(built.as_bytes().to_vec()).unwrap()
}

fn bye_from_caller(call: &str, to_tag: &str) -> String {
    format!(
        "BYE sip:bob@{BOB_1} SIP/2.0\r\nVia: SIP/2.0/UDP {CALLER};branch=z9hG4bK-bye{call};rport\r\n\
Max-Forwards: 70\r\nRoute: <sip:192.0.2.1:5060;lr>\r\nFrom: <sip:alice@example.com>;tag=f-{call}\r\n\
To: <sip:bob@example.com>;tag={to_tag}\r\nCall-ID: {call}\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n"
    )
}

#[test]
fn an_answered_call_is_one_record_with_its_talk_time_and_who_hung_up() {
    let mut w = World::new(trusted_config());
    w.register("bob", BOB_1, "1.0");
    let started = w.now.unix_ms_i64();
    let at_bob = call_bob(&mut w, "r1");
    w.advance(Duration::from_secs(3));
    let contact = format!("sip:bob@{BOB_1}");
    w.receive(BOB_1, &answer_from(&at_bob, 200, "b1", &contact));
    assert!(cdrs(&w).is_empty(), "no record while the call runs");
    w.advance(Duration::from_millis(62_500));
    w.receive(CALLER, &bye_from_caller("r1", "b1"));
    let all = cdrs(&w);
    assert_eq!(all.len(), 1, "{all:?}");
    let c = &all[0];
    assert_eq!(c.disposition, Disposition::Answered);
    assert_eq!(c.code, 200);
    assert_eq!(c.hung_up_by, Some(HungUpBy::Caller));
    assert_eq!(c.start_ms, started);
    assert_eq!(c.answer_ms, Some(started + 3_000));
    assert_eq!(c.end_ms, started + 65_500);
    assert_eq!(
        c.billable_secs(),
        63,
        "62.5 s of talk, a started second counts"
    );
    assert_eq!(c.answered_by.as_deref(), Some(&*contact));
    assert_eq!(c.dialled_uri, "sip:bob@example.com");
    assert_eq!(c.caller_user.as_deref(), Some("alice"));
    assert_eq!(c.callee_user.as_deref(), Some("bob"));
    assert_eq!(c.to_tag.as_deref(), Some("b1"));
    assert_eq!(c.source_ip.as_deref(), Some("203.0.113.7"));
}

#[test]
fn busy_cancelled_and_timer_c_each_say_how_and_who() {
    let mut c = trusted_config();
    c.proxy.timer_c = Duration::from_secs(60);
    let mut w = World::new(c);
    w.register("bob", BOB_1, "1.0");
    // Busy: the callee ended it.
    let at_bob = call_bob(&mut w, "r2");
    w.receive(BOB_1, &answer_to(&at_bob, 486, "b1", None));
    // Cancelled by the caller while ringing.
    let text = invite(
        "alice",
        "example.com",
        CALLER,
        "sip:bob@example.com",
        "r3",
        false,
    );
    w.receive(CALLER, &text);
    let at_bob = w.sent_to(BOB_1).pop().unwrap();
    w.receive(BOB_1, &answer_to(&at_bob, 180, "b1", None));
    let cancel =
        sip::build::cancel_for(&Message::parse(text.clone().into_bytes()).unwrap()).unwrap();
    w.receive(CALLER, std::str::from_utf8(cancel.as_bytes()).unwrap());
    w.receive(BOB_1, &answer_to(&at_bob, 487, "b1", None));
    // Rang too long: Timer C.
    let at_bob = call_bob(&mut w, "r4");
    w.receive(BOB_1, &answer_to(&at_bob, 180, "b1", None));
    w.advance(Duration::from_secs(61));
    w.receive(BOB_1, &answer_to(&at_bob, 487, "b1", None));
    let got: Vec<_> = cdrs(&w)
        .into_iter()
        .map(|c| (c.call_id, c.disposition, c.code, c.hung_up_by, c.end_reason))
        .collect();
    assert_eq!(
        got,
        [
            (
                "r2".into(),
                Disposition::Busy,
                486,
                Some(HungUpBy::Callee),
                None
            ),
            (
                "r3".into(),
                Disposition::Cancelled,
                487,
                Some(HungUpBy::Caller),
                None
            ),
            (
                "r4".into(),
                Disposition::NoAnswer,
                408,
                Some(HungUpBy::Proxy),
                Some("timer C".into())
            ),
        ]
    );
    assert!(cdrs(&w)
        .iter()
        .all(|c| c.answer_ms.is_none() && c.billable_secs() == 0));
}

#[test]
fn calls_the_route_refuses_are_recorded_and_challenges_are_not() {
    let mut w = World::new(config());
    // An outside caller to an unknown user: 480 from the route (no enumeration).
    w.receive(
        CALLER,
        &invite(
            "mallory",
            "elsewhere.example",
            CALLER,
            "sip:nobody@example.com",
            "r5",
            false,
        ),
    );
    // Our own user without credentials: a 407 challenge, no call attempt yet.
    w.receive(
        CALLER,
        &invite(
            "alice",
            "example.com",
            CALLER,
            "sip:bob@example.com",
            "r6",
            false,
        ),
    );
    let all = cdrs(&w);
    assert_eq!(all.len(), 1, "{all:?}");
    let c = &all[0];
    assert_eq!(c.call_id, "r5");
    assert_eq!(c.disposition, Disposition::Refused);
    assert_eq!(c.code, 480);
    assert_eq!(c.hung_up_by, Some(HungUpBy::Proxy));
    assert_eq!(c.caller_domain.as_deref(), Some("elsewhere.example"));
    assert_eq!(c.callee_user.as_deref(), Some("nobody"));
    assert!(c.disposition.is_missed());
}

#[test]
fn a_call_forwarded_on_busy_is_one_record_answered_by_the_forward_target() {
    let mut w = World::new(trusted_config());
    w.register("bob", BOB_1, "1.0");
    w.register("carol", CAROL, "1.0");
    w.forwarding.push((
        "bob".into(),
        Forwarding {
            busy: Some("sip:carol@example.com".into()),
            ..Forwarding::default()
        },
    ));
    let at_bob = call_bob(&mut w, "r7");
    w.receive(BOB_1, &answer_to(&at_bob, 486, "b1", None));
    let at_carol = w
        .sent_to(CAROL)
        .into_iter()
        .find(|m| m.method() == Some(&sip::Method::Invite))
        .expect("forwarded to carol");
    let contact = format!("sip:carol@{CAROL}");
    w.receive(CAROL, &answer_from(&at_carol, 200, "c1", &contact));
    w.receive(CALLER, &bye_from_caller("r7", "c1"));
    let all = cdrs(&w);
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0].disposition, Disposition::Answered);
    assert_eq!(all[0].dialled_uri, "sip:bob@example.com");
    assert_eq!(all[0].answered_by.as_deref(), Some(&*contact));
}

#[test]
fn a_forked_call_is_one_record_answered_by_the_phone_that_took_it() {
    let mut w = World::new(trusted_config());
    w.register("bob", BOB_1, "1.0");
    w.register("bob", BOB_2, "1.0");
    w.receive(
        CALLER,
        &invite(
            "alice",
            "example.com",
            CALLER,
            "sip:bob@example.com",
            "r8",
            false,
        ),
    );
    let sent = std::mem::take(&mut w.sent);
    let invite_to = |dest: &str| {
        let dest: SocketAddr = dest.parse().unwrap();
        sent.iter()
            .find(|(d, m)| *d == dest && m.method() == Some(&sip::Method::Invite))
            .map(|(_, m)| m.clone())
            .expect("both phones ring")
    };
    let (at_1, at_2) = (invite_to(BOB_1), invite_to(BOB_2));
    w.receive(BOB_1, &answer_to(&at_1, 180, "b1", None));
    let contact = format!("sip:bob@{BOB_2}");
    w.receive(BOB_2, &answer_from(&at_2, 200, "b2", &contact));
    // The other phone is cancelled and says so.
    w.receive(BOB_1, &answer_to(&at_1, 487, "b1", None));
    // The callee hangs up.
    let bye = format!(
        "BYE sip:alice@{CALLER} SIP/2.0\r\nVia: SIP/2.0/UDP {BOB_2};branch=z9hG4bK-byer8;rport\r\n\
Max-Forwards: 70\r\nRoute: <sip:192.0.2.1:5060;lr>\r\nFrom: <sip:bob@example.com>;tag=b2\r\n\
To: <sip:alice@example.com>;tag=f-r8\r\nCall-ID: r8\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n"
    );
    w.receive(BOB_2, &bye);
    let all = cdrs(&w);
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0].disposition, Disposition::Answered);
    assert_eq!(all[0].answered_by.as_deref(), Some(&*contact));
    assert_eq!(all[0].to_tag.as_deref(), Some("b2"));
    assert_eq!(all[0].hung_up_by, Some(HungUpBy::Callee));
}

#[test]
fn a_call_to_a_gateway_names_the_gateway_and_the_number() {
    let mut w = World::new(trusted_config());
    w.receive(
        CALLER,
        &invite(
            "alice",
            "example.com",
            CALLER,
            "sip:0812345678@example.com",
            "r9",
            false,
        ),
    );
    let at_gateway = w
        .sent_to(GATEWAY)
        .into_iter()
        .find(|m| m.method() == Some(&sip::Method::Invite))
        .expect("a number goes to the gateway");
    let contact = format!("sip:0812345678@{GATEWAY}");
    w.receive(GATEWAY, &answer_from(&at_gateway, 200, "g1", &contact));
    w.advance(Duration::from_secs(42));
    w.receive(CALLER, &bye_from_caller("r9", "g1"));
    let all = cdrs(&w);
    assert_eq!(all.len(), 1, "{all:?}");
    let c = &all[0];
    assert_eq!(c.callee_user.as_deref(), Some("0812345678"));
    assert_eq!(c.answered_by.as_deref(), Some(&*contact));
    assert_eq!(c.billable_secs(), 42);
    assert_eq!(c.hung_up_by, Some(HungUpBy::Caller));
}

#[test]
fn an_answered_call_ends_at_its_longest_duration_with_a_bye_to_both() {
    let mut c = trusted_config();
    c.proxy.max_call_duration = Some(Duration::from_secs(600));
    let mut w = World::new(c);
    w.register("bob", BOB_1, "1.0");
    let at_bob = call_bob(&mut w, "r10");
    let contact = format!("sip:bob@{BOB_1}");
    let mut ok = MessageBuilder::response_to(&at_bob, 200, None, Some("b1"))
        .header(HeaderName::Contact, &format!("<{contact}>"));
    for rr in at_bob.header_values(HeaderName::RecordRoute) {
        ok = ok.header(HeaderName::RecordRoute, rr);
    }
    let ok = ok.build().unwrap();
    w.receive(BOB_1, std::str::from_utf8(ok.as_bytes()).unwrap());
    w.acknowledge(CALLER);
    w.advance(Duration::from_secs(599));
    w.sent.clear();
    w.advance(Duration::from_secs(1));
    let byes: Vec<SocketAddr> = w
        .sent
        .iter()
        .filter(|(_, m)| m.method() == Some(&sip::Method::Bye))
        .map(|(d, _)| *d)
        .collect();
    assert_eq!(
        byes,
        [BOB_1.parse().unwrap(), CALLER.parse().unwrap()],
        "a BYE to each party at 600 s"
    );
    let all = cdrs(&w);
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0].disposition, Disposition::Answered);
    assert_eq!(all[0].hung_up_by, Some(HungUpBy::Proxy));
    assert_eq!(all[0].end_reason.as_deref(), Some("max duration"));
    assert_eq!(all[0].billable_secs(), 600);
}

#[test]
fn with_on_net_free_calls_to_subscribers_are_not_priced_and_gateway_calls_are() {
    let mut c = trusted_config();
    c.on_net = crate::config::OnNet::Free;
    let mut w = World::new(c);
    w.register("bob", BOB_1, "1.0");
    let at_bob = call_bob(&mut w, "n1");
    w.receive(BOB_1, &answer_to(&at_bob, 486, "b1", None));
    w.receive(
        CALLER,
        &invite(
            "alice",
            "example.com",
            CALLER,
            "sip:0812345678@example.com",
            "n2",
            false,
        ),
    );
    let at_gateway = w
        .sent_to(GATEWAY)
        .into_iter()
        .find(|m| m.method() == Some(&sip::Method::Invite))
        .expect("a number goes to the gateway");
    w.receive(GATEWAY, &answer_to(&at_gateway, 486, "g1", None));
    let free: Vec<(String, bool)> = w
        .records
        .iter()
        .filter_map(|r| match r {
            Record::Cdr { cdr, free } => Some((cdr.call_id.clone(), *free)),
            _ => None,
        })
        .collect();
    assert_eq!(free, [("n1".into(), true), ("n2".into(), false)]);
}

/// Bob's 200 to `at_bob` with the Record-Route copied and `extra` headers.
fn ok_from_bob(at_bob: &Message, extra: &[(HeaderName, &str)]) -> String {
    let mut ok = MessageBuilder::response_to(at_bob, 200, None, Some("b1"))
        .header(HeaderName::Contact, &format!("<sip:bob@{BOB_1}>"));
    for rr in at_bob.header_values(HeaderName::RecordRoute) {
        ok = ok.header(HeaderName::RecordRoute, rr);
    }
    for (name, value) in extra {
        ok = ok.header(*name, value);
    }
    String::from_utf8(ok.build().unwrap().as_bytes().to_vec()).unwrap()
}

/// The methods of the requests in `sent`, by destination.
fn byes_to(w: &World) -> Vec<SocketAddr> {
    w.sent
        .iter()
        .filter(|(_, m)| m.method() == Some(&sip::Method::Bye))
        .map(|(d, _)| *d)
        .collect()
}

#[test]
fn a_caller_that_never_acknowledges_the_answer_is_hung_up_after_64_t1() {
    let mut w = World::new(trusted_config());
    w.register("bob", BOB_1, "1.0");
    let at_bob = call_bob(&mut w, "a1");
    w.receive(BOB_1, &ok_from_bob(&at_bob, &[]));
    // The caller is gone: no ACK. Bob's phone would send BYE at 64*T1 = 32 s; this one
    // does not either, so the proxy ends the call at 64*T1 + T4 = 37 s.
    w.advance(Duration::from_secs(36));
    assert!(byes_to(&w).is_empty(), "nothing ended before 37 s");
    w.advance(Duration::from_secs(1));
    assert_eq!(
        byes_to(&w),
        [BOB_1.parse().unwrap(), CALLER.parse().unwrap()],
        "a BYE to each party at 37 s"
    );
    let bye = w
        .sent
        .iter()
        .find(|(_, m)| m.method() == Some(&sip::Method::Bye))
        .map(|(_, m)| m.clone())
        .unwrap();
    assert!(bye
        .header(HeaderName::Reason)
        .is_some_and(|r| r.contains("No ACK")));
    let all = cdrs(&w);
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0].disposition, Disposition::Answered);
    assert_eq!(all[0].hung_up_by, Some(HungUpBy::Proxy));
    assert_eq!(all[0].end_reason.as_deref(), Some("no ACK"));
    assert_eq!(all[0].billable_secs(), 37);
}

#[test]
fn an_acknowledged_call_without_a_session_timer_is_left_alone() {
    let mut w = World::new(trusted_config());
    w.register("bob", BOB_1, "1.0");
    let at_bob = call_bob(&mut w, "a2");
    w.receive(BOB_1, &ok_from_bob(&at_bob, &[]));
    w.acknowledge(CALLER);
    w.advance(Duration::from_secs(3600));
    assert!(byes_to(&w).is_empty(), "an hour's call goes on");
    assert!(cdrs(&w).is_empty());
}

#[test]
fn a_session_timer_not_refreshed_ends_the_call_and_a_refresh_extends_it() {
    let mut w = World::new(trusted_config());
    w.register("bob", BOB_1, "1.0");
    let at_bob = call_bob(&mut w, "s1");
    w.receive(
        BOB_1,
        &ok_from_bob(&at_bob, &[(HeaderName::SessionExpires, "90;refresher=uac")]),
    );
    w.acknowledge(CALLER);
    // The caller refreshes at 45 s (half the interval, RFC 4028 §10) with a re-INVITE;
    // bob's 2xx sets the interval again.
    w.advance(Duration::from_secs(45));
    let reinvite = format!(
        "INVITE sip:bob@{BOB_1} SIP/2.0\r\nVia: SIP/2.0/UDP {CALLER};branch=z9hG4bK-re-s1;rport\r\n\
Max-Forwards: 70\r\nRoute: <sip:192.0.2.1:5060;lr>\r\nFrom: <sip:alice@example.com>;tag=f-s1\r\n\
To: <sip:bob@example.com>;tag=b1\r\nCall-ID: s1\r\nCSeq: 2 INVITE\r\n\
Contact: <sip:alice@{CALLER}>\r\nSession-Expires: 90;refresher=uac\r\nSupported: timer\r\n\
Content-Length: 0\r\n\r\n"
    );
    w.receive(CALLER, &reinvite);
    let refresh_at_bob = w
        .sent_to(BOB_1)
        .into_iter()
        .find(|m| m.method() == Some(&sip::Method::Invite))
        .expect("the refresh reaches bob");
    let refresh_ok = MessageBuilder::response_to(&refresh_at_bob, 200, None, None)
        .header(HeaderName::Contact, &format!("<sip:bob@{BOB_1}>"))
        .header(HeaderName::SessionExpires, "90;refresher=uac")
        .build()
        .unwrap();
    w.receive(BOB_1, std::str::from_utf8(refresh_ok.as_bytes()).unwrap());
    w.sent.clear();
    // Without the refresh the call would have ended at 90 s; it ends at 45 + 90 s.
    w.advance(Duration::from_secs(89));
    assert!(byes_to(&w).is_empty(), "the refresh kept the call");
    w.advance(Duration::from_secs(1));
    assert_eq!(
        byes_to(&w),
        [BOB_1.parse().unwrap(), CALLER.parse().unwrap()],
        "both gone: no refresh, the session expired at 135 s"
    );
    let all = cdrs(&w);
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0].hung_up_by, Some(HungUpBy::Proxy));
    assert_eq!(all[0].end_reason.as_deref(), Some("session expired"));
    assert_eq!(all[0].billable_secs(), 135);
}
