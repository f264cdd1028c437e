//! The media services through the engine: service names and short codes routed to the
//! media service UA with the service's Request-URI (for our callers only), and the
//! voicemail hook taking busy, unanswered and offline calls of a subscriber with voicemail
//! on, on the same server transaction.

use super::*;

const MEDIA: &str = "127.0.0.1:5090";

fn services_config() -> ServerConfig {
    let mut c = trusted_config();
    c.services.media = Some(MEDIA.parse().unwrap());
    c
}

fn with_voicemail(w: &mut World, user: &str) {
    w.forwarding.push((
        user.into(),
        Forwarding {
            voicemail: true,
            ..Forwarding::default()
        },
    ));
}

/// The Request-URI of call `call`'s INVITE at the media UA, if it went there (what was
/// sent is kept).
fn reached_media(w: &World, call: &str) -> Option<String> {
    let media: SocketAddr = MEDIA.parse().unwrap();
    w.sent
        .iter()
        .find(|(d, m)| {
            *d == media
                && m.method() == Some(&sip::Method::Invite)
                && m.call_id().ok() == Some(call)
        })
        .map(|(_, m)| m.request_uri_str().unwrap_or("").to_owned())
}

/// The INVITEs that reached the media UA, by Request-URI (what was sent is forgotten).
fn at_media(w: &mut World) -> Vec<String> {
    w.sent_to(MEDIA)
        .into_iter()
        .filter(|m| m.method() == Some(&sip::Method::Invite))
        .map(|m| m.request_uri_str().unwrap_or("").to_owned())
        .collect()
}

#[test]
fn service_names_reach_the_media_ua() {
    let mut w = World::new(services_config());
    for (to, call) in [
        ("sip:echo@example.com", "e1"),
        ("sip:*43@example.com", "e2"),
    ] {
        w.receive(
            CALLER,
            &invite("alice", "example.com", CALLER, to, call, true),
        );
    }
    w.receive(
        CALLER,
        &invite(
            "alice",
            "example.com",
            CALLER,
            "sip:*97bob@example.com",
            "d1",
            true,
        ),
    );
    assert_eq!(
        at_media(&mut w),
        [
            "sip:echo@example.com",
            "sip:echo@example.com",
            "sip:voicemail@example.com;mailbox=bob"
        ]
    );
    // A deposit for nobody: refused.
    w.receive(
        CALLER,
        &invite(
            "alice",
            "example.com",
            CALLER,
            "sip:*97nobody@example.com",
            "d2",
            true,
        ),
    );
    assert_eq!(codes(&w.sent_to(CALLER)), [404]);
    w.receive(
        CALLER,
        &invite(
            "alice",
            "example.com",
            CALLER,
            "sip:voicemail@example.com;mailbox=bob;retrieve",
            "d3",
            true,
        ),
    );
    // The caller's own mailbox, whatever the dialled parameters say.
    assert_eq!(
        at_media(&mut w),
        ["sip:voicemail@example.com;mailbox=alice;retrieve"]
    );
    // A trusted peer calling as nobody we know has no mailbox.
    w.receive(
        CALLER,
        &invite(
            "mallory",
            "example.com",
            CALLER,
            "sip:*97@example.com",
            "d4",
            true,
        ),
    );
    assert_eq!(codes(&w.sent_to(CALLER)), [403]);
}

#[test]
fn callers_from_outside_do_not_reach_the_services_by_name() {
    let mut w = World::new(services_config());
    let outside = "192.0.2.99:5060";
    w.receive(
        outside,
        &invite(
            "mallory",
            "elsewhere.example",
            outside,
            "sip:echo@example.com",
            "o1",
            true,
        ),
    );
    assert_eq!(reached_media(&w, "o1"), None);
    let answer = final_answer(&mut w, outside);
    assert_eq!(answer.status(), Some(480), "the answer of an absent user");
}

#[test]
fn without_the_media_service_the_names_are_users() {
    let mut w = World::new(trusted_config());
    w.receive(
        CALLER,
        &invite(
            "alice",
            "example.com",
            CALLER,
            "sip:echo@example.com",
            "n1",
            true,
        ),
    );
    assert_eq!(codes(&w.sent_to(CALLER)), [404]);
}

#[test]
fn busy_unanswered_and_offline_calls_go_to_voicemail() {
    let mut w = World::new(services_config());
    w.register("bob", BOB_1, "1.0");
    with_voicemail(&mut w, "bob");
    // Busy: the same transaction goes on to the mailbox.
    w.receive(
        CALLER,
        &invite(
            "alice",
            "example.com",
            CALLER,
            "sip:bob@example.com",
            "v1",
            true,
        ),
    );
    let at_bob = w.sent_to(BOB_1).pop().unwrap();
    w.receive(BOB_1, &answer_to(&at_bob, 486, "b1", None));
    assert_eq!(at_media(&mut w), ["sip:voicemail@example.com;mailbox=bob"]);
    assert!(
        !codes(&w.sent_to(CALLER)).contains(&486),
        "the caller sees no failure"
    );

    // Not answered within the default 20 s: the phone is cancelled, voicemail takes it.
    w.receive(
        CALLER,
        &invite(
            "alice",
            "example.com",
            CALLER,
            "sip:bob@example.com",
            "v2",
            true,
        ),
    );
    let at_bob = w.sent_to(BOB_1).pop().unwrap();
    w.receive(BOB_1, &answer_to(&at_bob, 180, "b2", None));
    w.advance(Duration::from_secs(19));
    assert_eq!(reached_media(&w, "v2"), None);
    w.advance(Duration::from_secs(2));
    let cancel = w
        .sent_to(BOB_1)
        .into_iter()
        .find(|m| m.method() == Some(&sip::Method::Cancel))
        .expect("the phone is cancelled");
    w.receive(BOB_1, &answer_to(&cancel, 200, "b2", None));
    w.receive(BOB_1, &answer_to(&at_bob, 487, "b2", None));
    assert_eq!(
        reached_media(&w, "v2").as_deref(),
        Some("sip:voicemail@example.com;mailbox=bob")
    );

    // Offline (carol has no phone): straight to voicemail.
    with_voicemail(&mut w, "carol");
    w.receive(
        CALLER,
        &invite(
            "alice",
            "example.com",
            CALLER,
            "sip:carol@example.com",
            "v3",
            true,
        ),
    );
    assert_eq!(
        reached_media(&w, "v3").as_deref(),
        Some("sip:voicemail@example.com;mailbox=carol")
    );

    // The deposit itself failing is not tried again: the caller gets the failure.
    let at_media = w
        .sent_to(MEDIA)
        .into_iter()
        .find(|m| m.method() == Some(&sip::Method::Invite) && m.call_id().ok() == Some("v3"))
        .unwrap();
    w.receive(MEDIA, &answer_to(&at_media, 503, "m1", None));
    assert_eq!(final_answer(&mut w, CALLER).status(), Some(500));
}

#[test]
fn our_callers_hear_an_announcement_for_unknown_and_offline_users() {
    let mut announcing = services_config();
    announcing.services.announcements = true;
    let mut w = World::new(announcing.clone());
    w.receive(
        CALLER,
        &invite(
            "alice",
            "example.com",
            CALLER,
            "sip:nobody@example.com",
            "a1",
            true,
        ),
    );
    w.receive(
        CALLER,
        &invite(
            "alice",
            "example.com",
            CALLER,
            "sip:carol@example.com",
            "a2",
            true,
        ),
    );
    assert_eq!(
        at_media(&mut w),
        [
            "sip:announce@example.com;prompt=not-in-service;code=404",
            "sip:announce@example.com;prompt=not-available;code=480"
        ]
    );
    let mut w = World::new(services_config());
    w.receive(
        CALLER,
        &invite(
            "alice",
            "example.com",
            CALLER,
            "sip:nobody@example.com",
            "a3",
            true,
        ),
    );
    assert_eq!(codes(&w.sent_to(CALLER)), [404]);
    // Without an offer there is nothing to hear: the plain answer.
    let mut w = World::new(announcing);
    w.receive(
        CALLER,
        &invite(
            "alice",
            "example.com",
            CALLER,
            "sip:nobody@example.com",
            "a4",
            false,
        ),
    );
    assert_eq!(codes(&w.sent_to(CALLER)), [404]);
}

/// A SUBSCRIBE for `event` from `from_user` at `from` to `to`.
fn subscribe(from_user: &str, from: &str, to: &str, call: &str, event: &str) -> String {
    request("SUBSCRIBE", from_user, "example.com", from, to, call).replace(
        "Content-Length: 0",
        &format!("Event: {event}\r\nExpires: 600\r\nContent-Length: 0"),
    )
}

#[test]
fn message_summary_subscriptions_reach_the_media_ua_for_the_own_mailbox_only() {
    let mut w = World::new(services_config());
    let media: SocketAddr = MEDIA.parse().unwrap();
    // The own address and the voicemail names: the caller's mailbox at the media UA,
    // record-routed.
    for (to, call) in [
        ("sip:alice@example.com", "s1"),
        ("sip:voicemail@example.com", "s2"),
        ("sip:*97@example.com", "s3"),
    ] {
        w.receive(
            CALLER,
            &subscribe("alice", CALLER, to, call, "message-summary"),
        );
        let at_media: Vec<Message> = w
            .sent_to(MEDIA)
            .into_iter()
            .filter(|m| m.method() == Some(&sip::Method::Subscribe))
            .collect();
        assert_eq!(at_media.len(), 1, "{to}");
        assert_eq!(
            at_media[0].request_uri_str(),
            Some("sip:voicemail@example.com;mailbox=alice"),
            "{to}"
        );
        assert_eq!(at_media[0].record_routes().count(), 1, "record-routed");
    }
    // Someone else's mailbox, or nobody's: 403, and nothing reaches the media UA.
    for (to, call) in [
        ("sip:bob@example.com", "s4"),
        ("sip:nobody@example.com", "s5"),
    ] {
        w.receive(
            CALLER,
            &subscribe("alice", CALLER, to, call, "message-summary"),
        );
        assert!(!w.sent.iter().any(|(d, _)| *d == media));
        assert_eq!(codes(&w.sent_to(CALLER)), [403], "{to}");
    }
    // A trusted peer sending as nobody we know has no mailbox.
    w.receive(
        CALLER,
        &subscribe(
            "mallory",
            CALLER,
            "sip:voicemail@example.com",
            "s6",
            "message-summary",
        ),
    );
    assert_eq!(codes(&w.sent_to(CALLER)), [403]);
    // From outside: 403 whatever the name.
    let outside = "192.0.2.99:5060";
    let from_outside = subscribe(
        "mallory",
        outside,
        "sip:alice@example.com",
        "s7",
        "message-summary",
    )
    .replace("mallory@example.com", "mallory@elsewhere.example");
    w.receive(outside, &from_outside);
    assert_eq!(codes(&w.sent_to(outside)), [403]);
    // Another event package: routed as before (alice has no phone registered).
    w.receive(
        CALLER,
        &subscribe("alice", CALLER, "sip:alice@example.com", "s8", "presence"),
    );
    assert!(!w.sent.iter().any(|(d, _)| *d == media));
    assert_eq!(codes(&w.sent_to(CALLER)), [480]);
}

#[test]
fn the_media_uas_notify_comes_back_through_the_proxy() {
    let mut w = World::new(services_config());
    w.receive(
        CALLER,
        &subscribe(
            "alice",
            CALLER,
            "sip:alice@example.com",
            "n1",
            "message-summary",
        ),
    );
    let at_media = w
        .sent_to(MEDIA)
        .into_iter()
        .find(|m| m.method() == Some(&sip::Method::Subscribe))
        .expect("the SUBSCRIBE at the media UA");
    let rr = at_media
        .header(sip::HeaderName::RecordRoute)
        .unwrap()
        .to_owned();
    w.receive(MEDIA, &answer_to(&at_media, 200, "m1", None));
    assert_eq!(codes(&w.sent_to(CALLER)), [200]);
    let notify = format!(
        "NOTIFY sip:alice@{CALLER} SIP/2.0\r\nVia: SIP/2.0/UDP {MEDIA};branch=z9hG4bK-notify;rport\r\nMax-Forwards: 70\r\n\
Route: {rr}\r\nFrom: <sip:alice@example.com>;tag=m1\r\nTo: <sip:alice@example.com>;tag=f-n1\r\n\
Call-ID: n1\r\nCSeq: 1 NOTIFY\r\nEvent: message-summary\r\nSubscription-State: active;expires=600\r\n\
Content-Type: application/simple-message-summary\r\nContent-Length: 22\r\n\r\nMessages-Waiting: no\r\n"
    );
    w.receive(MEDIA, &notify);
    let at_alice: Vec<Message> = w
        .sent_to(CALLER)
        .into_iter()
        .filter(|m| m.method() == Some(&sip::Method::Notify))
        .collect();
    assert_eq!(at_alice.len(), 1, "the NOTIFY reaches the subscriber");
    assert_eq!(at_alice[0].body(), b"Messages-Waiting: no\r\n");
}

#[test]
fn nobody_reaches_the_media_ua_but_through_the_service_route() {
    let mut w = World::new(services_config());
    let media: SocketAddr = MEDIA.parse().unwrap();
    // A pre-loaded Route to the media UA with a Request-URI naming bob's mailbox.
    let preloaded = subscribe(
        "alice",
        CALLER,
        "sip:voicemail@example.com;mailbox=bob",
        "r1",
        "message-summary",
    )
    .replace(
        "Max-Forwards: 70\r\n",
        &format!("Max-Forwards: 70\r\nRoute: <sip:{MEDIA};lr>\r\n"),
    );
    w.receive(CALLER, &preloaded);
    assert!(!w.sent.iter().any(|(d, _)| *d == media), "{:?}", w.sent);
    assert_eq!(codes(&w.sent_to(CALLER)), [403]);
    // The media UA's address as the Request-URI's host.
    w.receive(
        CALLER,
        &invite(
            "alice",
            "example.com",
            CALLER,
            &format!("sip:voicemail@{MEDIA};mailbox=bob;retrieve"),
            "r2",
            true,
        ),
    );
    assert!(!w.sent.iter().any(|(d, _)| *d == media), "{:?}", w.sent);
    assert_eq!(codes(&w.sent_to(CALLER)), [403]);
    // A contact registered at the media UA's address (another loopback address, same
    // port): the call to carol is refused rather than sent there.
    w.register("carol", "127.0.0.2:5090", "1.0");
    w.receive(
        CALLER,
        &invite(
            "alice",
            "example.com",
            CALLER,
            "sip:carol@example.com",
            "r3",
            true,
        ),
    );
    assert!(
        !w.sent.iter().any(|(d, _)| d.port() == 5090),
        "{:?}",
        w.sent
    );
    assert_eq!(codes(&w.sent_to(CALLER)), [403]);
    // The service route itself still reaches it, and so do requests in its dialogs.
    w.receive(
        CALLER,
        &invite(
            "alice",
            "example.com",
            CALLER,
            "sip:echo@example.com",
            "r4",
            true,
        ),
    );
    assert_eq!(at_media(&mut w), ["sip:echo@example.com"]);
}

#[test]
fn ivr_names_reach_their_menu_and_public_ones_take_callers_from_outside() {
    let mut c = services_config();
    c.services.ivr = vec![
        crate::services::IvrBinding {
            name: "4600".into(),
            menu: "main".into(),
            public: false,
        },
        crate::services::IvrBinding {
            name: "Reception".into(),
            menu: "front desk".into(),
            public: true,
        },
    ];
    let mut w = World::new(c);
    for (to, call) in [
        ("sip:4600@example.com", "i1"),
        ("sip:reception@example.com", "i2"),
    ] {
        w.receive(
            CALLER,
            &invite("alice", "example.com", CALLER, to, call, true),
        );
    }
    assert_eq!(
        at_media(&mut w),
        [
            "sip:ivr@example.com;menu=main",
            "sip:ivr@example.com;menu=front%20desk"
        ]
    );
    let outside = "192.0.2.99:5060";
    for (to, call) in [
        ("sip:4600@example.com", "o1"),
        ("sip:reception@example.com", "o2"),
    ] {
        w.receive(
            outside,
            &invite("mallory", "elsewhere.example", outside, to, call, true),
        );
    }
    assert_eq!(
        reached_media(&w, "o1"),
        None,
        "not public: as an absent user"
    );
    assert_eq!(
        reached_media(&w, "o2").as_deref(),
        Some("sip:ivr@example.com;menu=front%20desk")
    );
}

/// An INVITE from the media service (click-to-dial's call to the target) with From
/// `from` and, when given, `P-Asserted-Identity` naming `asserted`.
fn from_media(from: &str, asserted: Option<&str>, to: &str, call: &str) -> String {
    let pai = asserted
        .map(|a| format!("P-Asserted-Identity: <sip:{a}@example.com>\r\n"))
        .unwrap_or_default();
    let sdp = "v=0\r\no=- 1 1 IN IP4 198.51.100.30\r\ns=-\r\nc=IN IP4 198.51.100.30\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
    format!(
        "INVITE {to} SIP/2.0\r\nVia: SIP/2.0/UDP {MEDIA};branch=z9hG4bK-{call};rport\r\n\
Max-Forwards: 70\r\nFrom: <sip:{from}@example.com>;tag=c2d\r\nTo: <{to}>\r\nCall-ID: {call}\r\n\
CSeq: 1 INVITE\r\nContact: <sip:click-to-dial@{MEDIA}>\r\n{pai}Content-Type: application/sdp\r\n\
Content-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    )
}

#[test]
fn a_call_the_media_service_asserts_for_a_subscriber_is_that_subscribers_own() {
    let mut c = config();
    c.services.media = Some(MEDIA.parse().unwrap());
    let mut w = World::new(c);
    w.register("bob", BOB_1, "1.0");
    // alice's click-to-dial call to bob: not challenged, forwarded to bob.
    w.receive(
        MEDIA,
        &from_media("alice", Some("alice"), "sip:bob@example.com", "c2d-1"),
    );
    let at_bob = w.sent_to(BOB_1);
    assert!(
        at_bob
            .iter()
            .any(|m| m.method() == Some(&sip::Method::Invite)),
        "{:?}",
        codes(&w.sent_to(MEDIA))
    );
    assert!(!codes(&w.sent_to(MEDIA)).contains(&407));
    // A number of a class alice's groups do not allow: refused as her own call would be.
    w.receive(
        MEDIA,
        &from_media(
            "alice",
            Some("alice"),
            "sip:0046812345678@example.com",
            "c2d-2",
        ),
    );
    assert!(codes(&w.sent_to(MEDIA)).contains(&403));
    assert!(w.sent_to(GATEWAY).is_empty(), "no gateway asked");
    // Once she is in the group, it goes to the gateway.
    w.groups.push(("alice".into(), "int".into()));
    w.version += 1;
    w.advance(crate::cache::CHECK_INTERVAL);
    w.sent.clear();
    w.receive(
        MEDIA,
        &from_media(
            "alice",
            Some("alice"),
            "sip:0046812345678@example.com",
            "c2d-3",
        ),
    );
    assert_eq!(w.sent_to(GATEWAY).len(), 1);
    // A From that is not the asserted identity, or no subscriber asserted: 403.
    for (from, asserted, call) in [("bob", "alice", "c2d-4"), ("mallory", "mallory", "c2d-5")] {
        w.receive(
            MEDIA,
            &from_media(from, Some(asserted), "sip:bob@example.com", call),
        );
        assert!(codes(&w.sent_to(MEDIA)).contains(&403), "{call}");
        assert!(w
            .sent_to(BOB_1)
            .iter()
            .all(|m| m.call_id().ok() != Some(call)));
    }
    // The same header from a phone is not believed: challenged as usual.
    w.receive(
        CALLER,
        &from_media("alice", Some("alice"), "sip:bob@example.com", "c2d-6"),
    );
    assert!(codes(&w.sent_to(CALLER)).contains(&407));
}
