//! End-to-end tests of the stateful proxy: phones on loopback register with `itsp serve`
//! and call each other through it (RFC 3261 §16): authentication of the caller, location
//! lookup, Record-Route and in-dialog requests along the route set, parallel and serial
//! forking, CANCEL, busy, unknown and unregistered users, relaying rules, Timer C.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{admin_json, as_strs, block_on, eventually, DataDir, Itsp, Phone, DOMAIN};
use sip::HeaderName;

fn users() -> DataDir {
    DataDir::with_users(&[
        ("alice", "a-secret"),
        ("bob", "b-secret"),
        ("carol", "c-secret"),
    ])
}

/// How long after a change of preferences a running server is sure to act on it: it keeps
/// the subscribers' call forwarding in memory and asks the database's change counter of the
/// preferences at most once a second (`server::cache::CHECK_INTERVAL`), at the first call
/// after that second. A call placed more than a second after the change is past the next
/// check, so waiting this long is certain, not a guess (a poll by calls would need a probe
/// call per kind of forwarding, each ringing phones).
const PREFERENCES_TAKE_EFFECT: Duration = Duration::from_millis(1_200);

/// `itsp user set ARGS...` while the server runs, then [`PREFERENCES_TAKE_EFFECT`].
fn set_preferences(data: &DataDir, args: &[&str]) {
    let mut full = vec!["user", "set"];
    full.extend_from_slice(args);
    common::admin(data, &full);
    std::thread::sleep(PREFERENCES_TAKE_EFFECT);
}

/// A server whose loopback phones are trusted (no challenges), for the tests about routing.
fn trusted_server(data: &DataDir, extra: &[&str]) -> Itsp {
    let mut args = data.args();
    args.extend(["--trusted".into(), "127.0.0.0/8".into()]);
    args.extend(extra.iter().map(|s| s.to_string()));
    Itsp::start(&as_strs(&args))
}

#[test]
fn a_call_between_registered_users_follows_the_record_route() {
    let data = users();
    let server = Itsp::start(&as_strs(&data.args()));
    let mut alice = Phone::new(server.udp, "alice", "a-secret");
    let mut bob = Phone::new(server.udp, "bob", "b-secret");
    assert_eq!(
        alice
            .register(&format!("Contact: <{}>\r\n", alice.contact()))
            .status(),
        Some(200)
    );
    assert_eq!(
        bob.register(&format!("Contact: <{}>\r\n", bob.contact()))
            .status(),
        Some(200)
    );

    // The caller is challenged (407, realm = her domain) and ACKs the challenge.
    let mut call = alice.new_call(&format!("bob@{DOMAIN}"), "c1");
    alice.send(&alice.invite_text(&call, None));
    let challenge = alice.expect_response("INVITE");
    assert_eq!(challenge.status(), Some(407));
    alice.ack_failure(&call, &challenge);
    let auth = alice.answer(&challenge, "INVITE", &format!("sip:bob@{DOMAIN}"));
    alice.next_invite(&mut call);
    alice.send(&alice.invite_text(&call, Some(&auth)));

    // Bob's phone gets the INVITE at its contact, through the proxy.
    let (invite, proxy_addr) = bob.expect_request("INVITE");
    assert_eq!(proxy_addr, server.udp);
    assert_eq!(invite.request_uri_str(), Some(bob.contact().as_str()));
    assert_eq!(invite.max_forwards().unwrap(), Some(69));
    assert_eq!(
        invite.vias().count(),
        2,
        "the proxy's Via on top of alice's"
    );
    assert_eq!(
        invite.proxy_authorization().count(),
        0,
        "credentials consumed"
    );
    let rr: Vec<_> = invite
        .record_routes()
        .map(|r| r.unwrap().uri.to_owned())
        .collect();
    assert_eq!(rr, [format!("sip:{};lr", server.udp)]);
    assert!(invite.body().starts_with(b"v=0"), "the SDP offer passes");

    bob.reply(&invite, proxy_addr, 180, "b1");
    assert_eq!(alice.expect_response("INVITE").status(), Some(180));
    bob.reply(&invite, proxy_addr, 200, "b1");
    let ok = alice.expect_response("INVITE");
    assert_eq!(ok.status(), Some(200));
    assert_eq!(ok.vias().count(), 1, "the proxy's Via removed");
    assert!(ok.header(HeaderName::RecordRoute).is_some());

    // ACK for the 2xx goes end to end along the route set: through the proxy to bob.
    alice.send(&alice.in_dialog("ACK", &ok, true, call.cseq));
    let (ack, _) = bob.expect_request("ACK");
    assert_eq!(ack.request_uri_str(), Some(bob.contact().as_str()));
    assert_eq!(ack.routes().count(), 0, "the proxy removed its Route entry");

    // `itsp calls` lists the answered call while it lasts.
    eventually("the call is listed as answered", || {
        let calls = admin_json(&data, &["calls"]);
        calls.as_array().unwrap().len() == 1 && calls[0]["state"] == "confirmed"
    });
    let calls = admin_json(&data, &["calls"]);
    assert_eq!(calls[0]["call_id"], call.call_id.as_str());
    assert_eq!(calls[0]["caller"], format!("sip:alice@{DOMAIN}").as_str());
    assert_eq!(calls[0]["to_tag"], "b1");

    // Bob hangs up: BYE along his route set reaches alice, her 200 reaches him.
    bob.send(&bob.in_dialog("BYE", &invite, false, 1));
    let (bye, from) = alice.expect_request("BYE");
    assert_eq!(from, server.udp);
    assert_eq!(bye.request_uri_str(), Some(alice.contact().as_str()));
    alice.reply(&bye, from, 200, "unused");
    assert_eq!(bob.expect_response("BYE").status(), Some(200));

    // The accounting records of the call: request, answered, ended by the callee; and the
    // call is no longer live.
    eventually("three accounting records", || {
        admin_json(&data, &["acc", "--call-id", &call.call_id])
            .as_array()
            .unwrap()
            .len()
            == 3
    });
    let acc = admin_json(&data, &["acc", "--call-id", &call.call_id]);
    let kinds: Vec<_> = acc
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kinds, ["request", "answered", "ended"]);
    assert_eq!(acc[0]["caller_user"], "alice");
    assert_eq!(acc[0]["callee_user"], "bob");
    assert_eq!(acc[0]["source_ip"], "127.0.0.1");
    assert_eq!(acc[1]["code"], 200);
    assert_eq!(acc[2]["ended_by"], "callee");
    eventually("the call is gone from the live list", || {
        admin_json(&data, &["calls"]).as_array().unwrap().is_empty()
    });
}

#[test]
fn equal_q_forks_in_parallel_and_the_first_200_cancels_the_other_phone() {
    let data = users();
    let server = trusted_server(&data, &[]);
    let alice = Phone::new(server.udp, "alice", "a-secret");
    let mut desk = Phone::new(server.udp, "bob", "b-secret");
    let mut mobile = Phone::new(server.udp, "bob", "b-secret");
    assert_eq!(desk.register_q("1.0").status(), Some(200));
    assert_eq!(mobile.register_q("1.0").status(), Some(200));

    let call = alice.new_call(&format!("bob@{DOMAIN}"), "fork");
    alice.send(&alice.invite_text(&call, None));
    let (at_desk, p1) = desk.expect_request("INVITE");
    let (at_mobile, p2) = mobile.expect_request("INVITE");
    desk.reply(&at_desk, p1, 180, "desk");
    assert_eq!(alice.expect_response("INVITE").status(), Some(180));
    mobile.reply(&at_mobile, p2, 200, "mobile");
    let ok = alice.expect_response("INVITE");
    assert_eq!(ok.status(), Some(200));
    assert!(ok.header(HeaderName::To).unwrap().contains("tag=mobile"));

    // The desk phone, still ringing, is cancelled (§16.7 step 10).
    let (cancel, from) = desk.expect_request("CANCEL");
    assert_eq!(
        cancel.top_via().unwrap().branch(),
        at_desk.top_via().unwrap().branch()
    );
    desk.reply(&cancel, from, 200, "desk");
    desk.reply(&at_desk, from, 487, "desk");
    let (ack, _) = desk.expect_request("ACK");
    assert_eq!(ack.cseq().unwrap().seq, at_desk.cseq().unwrap().seq);
    // The caller never hears of the 487.
    assert!(alice.silent_for(Duration::from_millis(300)));
}

#[test]
fn lower_q_rings_only_after_higher_q_failed() {
    let data = users();
    let server = trusted_server(&data, &[]);
    let alice = Phone::new(server.udp, "alice", "a-secret");
    let mut first = Phone::new(server.udp, "bob", "b-secret");
    let mut second = Phone::new(server.udp, "bob", "b-secret");
    assert_eq!(first.register_q("0.9").status(), Some(200));
    assert_eq!(second.register_q("0.4").status(), Some(200));

    let call = alice.new_call(&format!("bob@{DOMAIN}"), "serial");
    alice.send(&alice.invite_text(&call, None));
    let (invite, proxy) = first.expect_request("INVITE");
    assert!(second.silent_for(Duration::from_millis(300)), "not yet");
    first.reply(&invite, proxy, 486, "first");
    first.expect_request("ACK");
    let (invite, proxy) = second.expect_request("INVITE");
    second.reply(&invite, proxy, 200, "second");
    assert_eq!(alice.expect_response("INVITE").status(), Some(200));
}

#[test]
fn the_caller_cancels_a_ringing_call() {
    let data = users();
    let server = trusted_server(&data, &[]);
    let alice = Phone::new(server.udp, "alice", "a-secret");
    let mut bob = Phone::new(server.udp, "bob", "b-secret");
    bob.register_q("1.0");

    let call = alice.new_call(&format!("bob@{DOMAIN}"), "cancel");
    alice.send(&alice.invite_text(&call, None));
    let (invite, proxy) = bob.expect_request("INVITE");
    bob.reply(&invite, proxy, 180, "b");
    assert_eq!(alice.expect_response("INVITE").status(), Some(180));
    alice.cancel(&call);
    assert_eq!(alice.expect_response("CANCEL").status(), Some(200));
    let (cancel, from) = bob.expect_request("CANCEL");
    bob.reply(&cancel, from, 200, "b");
    bob.reply(&invite, from, 487, "b");
    let terminated = alice.expect_response("INVITE");
    assert_eq!(terminated.status(), Some(487));
    alice.ack_failure(&call, &terminated);
}

#[test]
fn busy_unknown_and_unregistered_users() {
    let data = users();
    let server = trusted_server(&data, &[]);
    let alice = Phone::new(server.udp, "alice", "a-secret");
    let mut bob = Phone::new(server.udp, "bob", "b-secret");
    bob.register_q("1.0");

    let call = alice.new_call(&format!("bob@{DOMAIN}"), "busy");
    alice.send(&alice.invite_text(&call, None));
    let (invite, proxy) = bob.expect_request("INVITE");
    bob.reply(&invite, proxy, 486, "b");
    let busy = alice.expect_response("INVITE");
    assert_eq!(busy.status(), Some(486));
    alice.ack_failure(&call, &busy);
    eventually("the failed call is accounted", || {
        let acc = admin_json(&data, &["acc", "--call-id", &call.call_id]);
        acc.as_array().unwrap().len() == 2 && acc[1]["kind"] == "failed" && acc[1]["code"] == 486
    });

    let call = alice.new_call(&format!("nobody@{DOMAIN}"), "unknown");
    alice.send(&alice.invite_text(&call, None));
    let r = alice.expect_response("INVITE");
    assert_eq!((r.status(), r.reason()), (Some(404), Some("Not Found")));
    alice.ack_failure(&call, &r);

    let call = alice.new_call(&format!("carol@{DOMAIN}"), "offline");
    alice.send(&alice.invite_text(&call, None));
    let r = alice.expect_response("INVITE");
    assert_eq!(
        r.status(),
        Some(480),
        "a subscriber without a registered phone"
    );
    alice.ack_failure(&call, &r);
}

#[test]
fn an_alias_reaches_its_subscriber() {
    let data = users();
    block_on(async {
        let s = store::Store::open(&data.url()).await.unwrap();
        s.add_alias("4684567890", DOMAIN, "bob", DOMAIN)
            .await
            .unwrap();
        s.close().await;
    });
    let server = trusted_server(&data, &[]);
    let alice = Phone::new(server.udp, "alice", "a-secret");
    let mut bob = Phone::new(server.udp, "bob", "b-secret");
    bob.register_q("1.0");
    let call = alice.new_call(&format!("4684567890@{DOMAIN}"), "alias");
    alice.send(&alice.invite_text(&call, None));
    let (invite, _) = bob.expect_request("INVITE");
    assert_eq!(invite.request_uri_str(), Some(bob.contact().as_str()));
    assert!(
        invite
            .header(HeaderName::To)
            .unwrap()
            .contains("4684567890"),
        "To is not changed"
    );
}

#[test]
fn no_open_relay_and_no_private_targets() {
    let data = users();
    let server = Itsp::start(&as_strs(&data.args()));
    let mut stranger = Phone::new(server.udp, "mallory", "x");
    stranger.domain = "elsewhere.example".into();
    // From a foreign domain to a foreign domain: we are nobody's relay.
    let call = stranger.new_call("victim@target.example", "relay");
    stranger.send(&stranger.invite_text(&call, None));
    let r = stranger.expect_response("INVITE");
    assert_eq!(
        (r.status(), r.reason()),
        (Some(403), Some("Relaying denied"))
    );
    stranger.ack_failure(&call, &r);
    // Nor with a pre-loaded Route set naming the next hop.
    let call = stranger.new_call("victim@target.example", "relay-route");
    stranger.send(&stranger.invite_text(&call, None).replace(
        "Max-Forwards: 70\r\n",
        "Max-Forwards: 70\r\nRoute: <sip:proxy.target.example;lr>\r\n",
    ));
    let r = stranger.expect_response("INVITE");
    assert_eq!(
        (r.status(), r.reason()),
        (Some(403), Some("Relaying denied"))
    );
    stranger.ack_failure(&call, &r);

    // Our own user, authenticated, to a private address: 479 as in the seed.
    let alice = Phone::new(server.udp, "alice", "a-secret");
    let mut call = alice.new_call("someone@192.168.1.20", "private");
    alice.send(&alice.invite_text(&call, None));
    let challenge = alice.expect_response("INVITE");
    alice.ack_failure(&call, &challenge);
    let auth = alice.answer(&challenge, "INVITE", "sip:someone@192.168.1.20");
    alice.next_invite(&mut call);
    alice.send(&alice.invite_text(&call, Some(&auth)));
    let r = alice.expect_response("INVITE");
    assert_eq!(r.status(), Some(479));
    alice.ack_failure(&call, &r);
}

#[test]
fn timer_c_ends_an_unanswered_call_with_408() {
    let data = users();
    let config = data.path().join("itsp.toml");
    std::fs::write(&config, "[proxy]\ntimer_c = 1\n").unwrap();
    let server = trusted_server(&data, &["--config", config.to_str().unwrap()]);
    let alice = Phone::new(server.udp, "alice", "a-secret");
    let mut bob = Phone::new(server.udp, "bob", "b-secret");
    bob.register_q("1.0");
    let call = alice.new_call(&format!("bob@{DOMAIN}"), "timerc");
    alice.send(&alice.invite_text(&call, None));
    let (invite, proxy) = bob.expect_request("INVITE");
    bob.reply(&invite, proxy, 180, "b");
    assert_eq!(alice.expect_response("INVITE").status(), Some(180));
    // Nobody answers: after Timer C the proxy cancels the branch...
    let (cancel, from) = bob.expect_request("CANCEL");
    bob.reply(&cancel, from, 200, "b");
    bob.reply(&invite, from, 487, "b");
    // ...and the caller learns the call timed out.
    let r = alice.expect_response("INVITE");
    assert_eq!(r.status(), Some(408));
    alice.ack_failure(&call, &r);
}

#[test]
fn max_forwards_zero_is_refused_with_483() {
    let data = users();
    let server = trusted_server(&data, &[]);
    let alice = Phone::new(server.udp, "alice", "a-secret");
    let call = alice.new_call(&format!("bob@{DOMAIN}"), "hops");
    alice.send(
        &alice
            .invite_text(&call, None)
            .replace("Max-Forwards: 70", "Max-Forwards: 0"),
    );
    let r = alice.expect_response("INVITE");
    assert_eq!(r.status(), Some(483));
}

/// Sends the call's INVITE, answers the 407 challenge and sends it again with credentials.
fn invite_with_credentials(phone: &Phone, call: &mut common::call::Call) {
    phone.send(&phone.invite_text(call, None));
    let challenge = phone.expect_response("INVITE");
    assert_eq!(challenge.status(), Some(407));
    phone.ack_failure(call, &challenge);
    let auth = phone.answer(&challenge, "INVITE", &format!("sip:{}", call.to));
    phone.next_invite(call);
    phone.send(&phone.invite_text(call, Some(&auth)));
}

#[test]
fn numbers_go_to_the_gateways_under_group_permissions_with_failover() {
    let data = users();
    block_on(async {
        let s = store::Store::open(&data.url()).await.unwrap();
        s.add_group("alice", DOMAIN, "ld").await.unwrap();
        s.add_alias("4684567890", DOMAIN, "bob", DOMAIN)
            .await
            .unwrap();
        s.close().await;
    });
    let first = Phone::new("127.0.0.1:9".parse().unwrap(), "gw1", "-");
    let second = Phone::new("127.0.0.1:9".parse().unwrap(), "gw2", "-");
    let config = data.path().join("itsp.toml");
    std::fs::write(
        &config,
        format!(
            "[pstn]\ngateways = [\"sip:{}\", \"sip:{}\"]\n",
            first.local(),
            second.local()
        ),
    )
    .unwrap();
    let mut args = data.args();
    args.extend(["--config".into(), config.display().to_string()]);
    let server = Itsp::start(&as_strs(&args));
    let alice = Phone::new(server.udp, "alice", "a-secret");

    // International needs group `int`: refused with the class's reason.
    let mut call = alice.new_call(&format!("0046812345@{DOMAIN}"), "intl");
    invite_with_credentials(&alice, &mut call);
    let r = alice.expect_response("INVITE");
    assert_eq!(
        (r.status(), r.reason()),
        (Some(403), Some("International permissions needed"))
    );
    alice.ack_failure(&call, &r);

    // Domestic: alice is in `ld`. The first gateway fails (503), the second answers.
    let mut call = alice.new_call(&format!("08123456@{DOMAIN}"), "domestic");
    invite_with_credentials(&alice, &mut call);
    let (invite, proxy) = first.expect_request("INVITE");
    assert_eq!(
        invite.request_uri_str(),
        Some(format!("sip:08123456@{}", first.local()).as_str()),
        "the number at the gateway"
    );
    first.reply(&invite, proxy, 503, "gw1");
    first.expect_request("ACK");
    let (invite, proxy) = second.expect_request("INVITE");
    second.reply(&invite, proxy, 200, "gw2");
    assert_eq!(alice.expect_response("INVITE").status(), Some(200));

    // A number that is an alias of a subscriber stays local (bob is not registered: 480).
    let mut call = alice.new_call(&format!("4684567890@{DOMAIN}"), "alias-number");
    invite_with_credentials(&alice, &mut call);
    let r = alice.expect_response("INVITE");
    assert_eq!(r.status(), Some(480));
    alice.ack_failure(&call, &r);

    // Call forwarding to a number goes through the gateways under the forwarding user's
    // permissions: alice (ld) forwards to a domestic number...
    let alice_aor = format!("alice@{DOMAIN}");
    set_preferences(&data, &[&alice_aor, "forward-always=tel:08123456"]);
    let bob = Phone::new(server.udp, "bob", "b-secret");
    let mut call = bob.new_call(&alice_aor, "fwd-pstn");
    invite_with_credentials(&bob, &mut call);
    let (invite, proxy) = first.expect_request("INVITE");
    assert_eq!(
        invite.request_uri_str(),
        Some(format!("sip:08123456@{}", first.local()).as_str())
    );
    first.reply(&invite, proxy, 486, "gw1");
    let busy = bob.expect_response("INVITE");
    assert_eq!(busy.status(), Some(486));
    bob.ack_failure(&call, &busy);
    first.expect_request("ACK");
    // ...carol (no groups) may not forward to an international one: her call goes on as
    // if unforwarded (no phone registered: 480), and no gateway is asked.
    let carol_fwd = format!("forward-always=sip:0046812345@{DOMAIN}");
    set_preferences(&data, &[&format!("carol@{DOMAIN}"), &carol_fwd]);
    let mut call = bob.new_call(&format!("carol@{DOMAIN}"), "fwd-intl");
    invite_with_credentials(&bob, &mut call);
    assert_eq!(bob.expect_response("INVITE").status(), Some(480));
    assert!(first.silent_for(Duration::from_millis(200)));
}

#[test]
fn redirect_mode_answers_302_with_the_bindings() {
    let data = users();
    let config = data.path().join("itsp.toml");
    std::fs::write(&config, "[proxy]\nredirect = true\n").unwrap();
    let server = trusted_server(&data, &["--config", config.to_str().unwrap()]);
    let alice = Phone::new(server.udp, "alice", "a-secret");
    let mut desk = Phone::new(server.udp, "bob", "b-secret");
    let mut mobile = Phone::new(server.udp, "bob", "b-secret");
    desk.register_q("1.0");
    mobile.register_q("0.5");
    let call = alice.new_call(&format!("bob@{DOMAIN}"), "redirect");
    alice.send(&alice.invite_text(&call, None));
    let r = alice.expect_response("INVITE");
    assert_eq!(r.status(), Some(302));
    let contacts: Vec<_> = r
        .contacts()
        .map(|c| {
            let c = c.unwrap();
            (c.addr().unwrap().uri.to_owned(), c.q())
        })
        .collect();
    assert_eq!(
        contacts,
        [(desk.contact(), Some(1000)), (mobile.contact(), Some(500))]
    );
    alice.ack_failure(&call, &r);
    assert!(
        desk.silent_for(Duration::from_millis(200)),
        "nothing proxied"
    );
}

#[test]
fn call_forwarding_always_busy_and_no_answer() {
    let data = users();
    let server = trusted_server(&data, &[]);
    let alice = Phone::new(server.udp, "alice", "a-secret");
    let mut bob = Phone::new(server.udp, "bob", "b-secret");
    let mut carol = Phone::new(server.udp, "carol", "c-secret");
    bob.register_q("1.0");
    carol.register_q("1.0");
    let bob_aor = format!("bob@{DOMAIN}");
    let carol_uri = format!("forward-busy=sip:carol@{DOMAIN}");

    // Busy: bob's phone says 486, carol's rings instead and answers.
    set_preferences(&data, &[&bob_aor, &carol_uri]);
    let call = alice.new_call(&bob_aor, "fwd-busy");
    alice.send(&alice.invite_text(&call, None));
    let (invite, proxy) = bob.expect_request("INVITE");
    bob.reply(&invite, proxy, 486, "b");
    bob.expect_request("ACK");
    let (invite, proxy) = carol.expect_request("INVITE");
    assert_eq!(invite.request_uri_str(), Some(carol.contact().as_str()));
    carol.reply(&invite, proxy, 200, "c");
    let ok = alice.expect_response("INVITE");
    assert_eq!(ok.status(), Some(200));
    assert!(ok.header(HeaderName::To).unwrap().contains("tag=c"));

    // No answer within a second: bob's phone is cancelled, carol's rings.
    set_preferences(
        &data,
        &[
            &bob_aor,
            "forward-busy=",
            &format!("forward-no-answer=sip:carol@{DOMAIN}"),
            "no-answer-after=1",
        ],
    );
    let call = alice.new_call(&bob_aor, "fwd-noanswer");
    alice.send(&alice.invite_text(&call, None));
    let (invite, proxy) = bob.expect_request("INVITE");
    bob.reply(&invite, proxy, 180, "b");
    assert_eq!(alice.expect_response("INVITE").status(), Some(180));
    let (cancel, from) = bob.expect_request("CANCEL");
    bob.reply(&cancel, from, 200, "b");
    bob.reply(&invite, from, 487, "b");
    bob.expect_request("ACK");
    let (invite, proxy) = carol.expect_request("INVITE");
    carol.reply(&invite, proxy, 200, "c2");
    assert_eq!(alice.expect_response("INVITE").status(), Some(200));

    // Unconditional: only carol's phone rings.
    set_preferences(
        &data,
        &[&bob_aor, &format!("forward-always=sip:carol@{DOMAIN}")],
    );
    let call = alice.new_call(&bob_aor, "fwd-always");
    alice.send(&alice.invite_text(&call, None));
    let (invite, proxy) = carol.expect_request("INVITE");
    carol.reply(&invite, proxy, 486, "c3");
    let busy = alice.expect_response("INVITE");
    assert_eq!(busy.status(), Some(486));
    // Acknowledged, or the proxy's retransmissions of the 486 (Timer G) would meet the
    // next call's answer.
    alice.ack_failure(&call, &busy);
    assert!(
        bob.silent_for(Duration::from_millis(200)),
        "bob's phone never rang"
    );

    // A forwarding target that does not exist is skipped: bob's phone rings.
    let nobody = format!("forward-always=sip:nobody@{DOMAIN}");
    set_preferences(&data, &[&bob_aor, &nobody]);
    let call = alice.new_call(&bob_aor, "fwd-nobody");
    alice.send(&alice.invite_text(&call, None));
    let (invite, proxy) = bob.expect_request("INVITE");
    bob.reply(&invite, proxy, 200, "b4");
    assert_eq!(alice.expect_response("INVITE").status(), Some(200));
}

#[test]
fn stateless_mode_forwards_retransmissions_alike_and_responses_by_via() {
    let data = users();
    let config = data.path().join("itsp.toml");
    std::fs::write(&config, "[proxy]\nstateless = true\n").unwrap();
    let server = trusted_server(&data, &["--config", config.to_str().unwrap()]);
    let alice = Phone::new(server.udp, "alice", "a-secret");
    let mut bob = Phone::new(server.udp, "bob", "b-secret");
    bob.register_q("1.0");

    let call = alice.new_call(&format!("bob@{DOMAIN}"), "stateless");
    let invite_text = alice.invite_text(&call, None);
    alice.send(&invite_text);
    let (first, proxy) = bob.expect_request("INVITE");
    // No 100 Trying from a stateless proxy; a retransmission goes out with the same branch.
    alice.send(&invite_text);
    let (again, _) = bob.expect_request("INVITE");
    assert_eq!(
        first.top_via().unwrap().branch(),
        again.top_via().unwrap().branch()
    );
    assert!(first.header(HeaderName::RecordRoute).is_some());
    bob.reply(&first, proxy, 200, "b");
    let ok = alice.expect_response("INVITE");
    assert_eq!(ok.status(), Some(200));
    assert_eq!(ok.vias().count(), 1);
}
