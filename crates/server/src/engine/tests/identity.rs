//! Asserted identity (RFC 3325) through the engine: a subscriber's authenticated call
//! carries the server's `P-Asserted-Identity` whatever the phone wrote, a caller from
//! outside the trust domain cannot pass one on, a trusted gateway's passes, and
//! `Privacy: id` keeps it off a hop outside the trust domain.

use super::*;

/// Alice's phone: outside the trusted networks of [`config`].
const ALICE: &str = "203.0.113.5:5060";

/// An INVITE from `from` at `source` to bob with `extra` header lines.
fn call_bob(from: &str, source: &str, call: &str, cseq: u32, extra: &str) -> String {
    format!(
        "INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP {source};branch=z9hG4bK-{call}{cseq};rport\r\n\
Max-Forwards: 70\r\nFrom: <sip:{from}>;tag=f-{call}\r\nTo: <sip:bob@example.com>\r\nCall-ID: {call}\r\n\
CSeq: {cseq} INVITE\r\nContact: <sip:caller@{source}>\r\n{extra}Content-Length: 0\r\n\r\n"
    )
}

/// Alice calls bob with `extra` headers, answering the 407 with her credentials; what
/// reached bob's phone.
fn alice_calls_bob(w: &mut World, call: &str, extra: &str) -> Message {
    w.receive(ALICE, &call_bob("alice@example.com", ALICE, call, 1, extra));
    let challenge = w.sent_to(ALICE).pop().unwrap();
    assert_eq!(challenge.status(), Some(407));
    let credentials = digest_answer(
        &challenge,
        HeaderName::ProxyAuthenticate,
        "INVITE",
        "sip:bob@example.com",
        "alice",
        "alice",
        1,
    );
    let authorized = format!("Proxy-Authorization: {credentials}\r\n{extra}");
    w.receive(
        ALICE,
        &call_bob("alice@example.com", ALICE, call, 2, &authorized),
    );
    let mut at_bob = w.sent_to(BOB_1);
    assert_eq!(at_bob.len(), 1, "the call reached bob");
    at_bob.remove(0)
}

/// Every `P-Asserted-Identity` value of `m`.
fn asserted(m: &Message) -> Vec<&str> {
    m.headers()
        .filter(|h| h.name_text.eq_ignore_ascii_case("P-Asserted-Identity"))
        .map(|h| h.value)
        .collect()
}

#[test]
fn an_authenticated_caller_is_asserted_by_the_server_not_by_her_phone() {
    let mut w = World::new(config());
    w.register("bob", BOB_1, "1.0");
    let forged = "P-Asserted-Identity: <sip:president@example.com>\r\n\
                  P-Preferred-Identity: <sip:boss@example.com>\r\n";
    let at_bob = alice_calls_bob(&mut w, "id1", forged);
    assert_eq!(asserted(&at_bob), ["<sip:alice@example.com>"]);
    assert_eq!(at_bob.header_by_name("P-Preferred-Identity"), None);

    // Privacy: id toward bob's phone, outside the trust domain: no assertion at all.
    let at_bob = alice_calls_bob(&mut w, "id2", &format!("Privacy: id\r\n{forged}"));
    assert!(asserted(&at_bob).is_empty(), "{at_bob:?}");
    assert_eq!(at_bob.header_by_name("P-Preferred-Identity"), None);
}

#[test]
fn only_the_trust_domain_passes_an_assertion_on() {
    // A caller of another domain (not challenged: bob is ours) cannot name anyone.
    let mut w = World::new(config());
    w.register("bob", BOB_1, "1.0");
    let claim = "P-Asserted-Identity: <sip:+15551234567@pstn.example>\r\n";
    w.receive(
        ALICE,
        &call_bob("mallory@other.example", ALICE, "id3", 1, claim),
    );
    let at_bob = w.sent_to(BOB_1);
    assert_eq!(at_bob.len(), 1);
    assert!(asserted(&at_bob[0]).is_empty(), "{:?}", at_bob[0]);

    // The same from a trusted network (a gateway) passes as it is.
    let mut w = World::new(trusted_config());
    w.register("bob", BOB_1, "1.0");
    w.receive(
        CALLER,
        &call_bob("+15551234567@pstn.example", CALLER, "id4", 1, claim),
    );
    let at_bob = w.sent_to(BOB_1);
    assert_eq!(at_bob.len(), 1);
    assert_eq!(asserted(&at_bob[0]), ["<sip:+15551234567@pstn.example>"]);
}
