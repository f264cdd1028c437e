//! NAT traversal in the signalling, on loopback: a "phone behind a NAT" here writes a
//! private address (192.168.1.2:5060) in its Via and Contact and sends from 127.0.0.1 at
//! another port, exactly what the server sees of a phone behind a real NAT (the tests
//! with real NATs in network namespaces are in `nat_lab.rs`). Checked: the answers go to
//! the source port without `rport` (force_rport), requests to the user go to the mapping,
//! Contacts are rewritten both ways so in-dialog requests come back through the mapping,
//! and OPTIONS keepalives hold the binding (unanswered ones make it unreachable).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{as_strs, DataDir, Itsp, Phone, DOMAIN};
use sip::{HeaderName, Message, MessageBuilder};

const PRIVATE: &str = "192.168.1.2:5060";

fn server(data: &DataDir, config: &str) -> (Itsp, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("itsp.toml");
    std::fs::write(&file, config).unwrap();
    let mut args = data.args();
    args.extend([
        "--trusted".into(),
        "127.0.0.0/8".into(),
        "--config".into(),
        file.display().to_string(),
    ]);
    (Itsp::start(&as_strs(&args)), dir)
}

/// A REGISTER as a phone behind a NAT writes it: its private address everywhere, no rport.
fn natted_register(phone: &Phone, cseq: u32) -> String {
    format!(
        "REGISTER sip:{DOMAIN} SIP/2.0\r\nVia: SIP/2.0/UDP {PRIVATE};branch=z9hG4bK-nr{cseq}\r\n\
Max-Forwards: 70\r\nFrom: <sip:{user}@{DOMAIN}>;tag=nr\r\nTo: <sip:{user}@{DOMAIN}>\r\n\
Call-ID: natreg-{port}\r\nCSeq: {cseq} REGISTER\r\nContact: <sip:{user}@{PRIVATE}>\r\n\
Content-Length: 0\r\n\r\n",
        user = phone.user,
        port = phone.local().port(),
    )
}

/// An INVITE from `caller` to `to` written behind a NAT.
fn natted_invite(caller: &Phone, to: &str, call_id: &str) -> String {
    format!(
        "INVITE sip:{to}@{DOMAIN} SIP/2.0\r\nVia: SIP/2.0/UDP {PRIVATE};branch=z9hG4bK-{call_id}\r\n\
Max-Forwards: 70\r\nFrom: <sip:{user}@{DOMAIN}>;tag=nf\r\nTo: <sip:{to}@{DOMAIN}>\r\n\
Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:{user}@{PRIVATE}>\r\n\
Content-Length: 0\r\n\r\n",
        user = caller.user,
    )
}

fn plain_invite(caller: &Phone, to: &str, call_id: &str) -> String {
    format!(
        "INVITE sip:{to}@{DOMAIN} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK-{call_id};rport\r\n\
Max-Forwards: 70\r\nFrom: <sip:{user}@{DOMAIN}>;tag=pf\r\nTo: <sip:{to}@{DOMAIN}>\r\n\
Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:{user}@{local}>\r\n\
Content-Length: 0\r\n\r\n",
        user = caller.user,
        local = caller.local(),
    )
}

/// Answers `request` with `code`, an optional Contact, Record-Route copied.
fn answer(
    phone: &Phone,
    request: &Message,
    to: std::net::SocketAddr,
    code: u16,
    contact: Option<&str>,
) {
    let mut b = MessageBuilder::response_to(request, code, None, Some("callee"));
    for rr in request.header_values(HeaderName::RecordRoute) {
        b = b.header(HeaderName::RecordRoute, rr);
    }
    if let Some(c) = contact {
        b = b.header(HeaderName::Contact, c);
    }
    phone
        .sock
        .send_to(b.build().unwrap().as_bytes(), to)
        .unwrap();
}

/// The final response to the INVITE of `call_id` (retransmissions of other calls'
/// responses skipped), ACKed when it is a failure (§17.1.1.3).
fn final_response(phone: &Phone, call_id: &str) -> Message {
    for _ in 0..20 {
        let (m, _) = phone.recv_from();
        if m.status().is_some_and(|s| s >= 200) && m.call_id().is_ok_and(|c| c == call_id) {
            if m.status().is_some_and(|s| s >= 300) {
                let via = m.header(HeaderName::Via).unwrap();
                phone.send(&format!(
                    "ACK sip:x@{DOMAIN} SIP/2.0\r\nVia: {via}\r\nMax-Forwards: 70\r\n\
From: {from}\r\nTo: {to}\r\nCall-ID: {call_id}\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n",
                    from = m.header(HeaderName::From).unwrap(),
                    to = m.header(HeaderName::To).unwrap(),
                ));
            }
            return m;
        }
    }
    panic!("no final response for {call_id}");
}

/// Waits for the next keepalive OPTIONS, skipping anything else.
fn next_keepalive(phone: &Phone) -> (Message, std::net::SocketAddr) {
    phone.expect_request("OPTIONS")
}

#[test]
fn a_natted_phone_is_reached_through_its_mapping_and_kept_alive() {
    let data = DataDir::with_users(&[("alice", "a"), ("bob", "b")]);
    let (server, _config) = server(&data, "[nat]\nping_interval = 1\nping_failures = 2\n");
    let alice = Phone::new(server.udp, "alice", "a");
    let bob = Phone::new(server.udp, "bob", "b");

    // The 200 reaches the NAT mapping although the Via names 192.168.1.2:5060 without
    // rport (force_rport).
    let ok = alice.exchange(&natted_register(&alice, 1));
    assert_eq!(ok.status(), Some(200), "{ok:?}");
    let listed = ok.contacts().next().unwrap().unwrap();
    assert_eq!(
        listed.addr().unwrap().uri,
        format!("sip:alice@{PRIVATE}"),
        "the binding keeps the Contact as written"
    );

    // Keepalives come to the mapping, addressed to the contact; they are answered.
    let (ping, from) = next_keepalive(&alice);
    assert_eq!(from, server.udp);
    assert_eq!(
        ping.request_uri_str(),
        Some(format!("sip:alice@{PRIVATE}").as_str())
    );
    answer(&alice, &ping, from, 200, None);

    // A call to alice goes to the mapping.
    bob.send(&plain_invite(&bob, "alice", "call-1"));
    let (invite, from) = alice.expect_request("INVITE");
    assert_eq!(
        invite.request_uri_str(),
        Some(format!("sip:alice@{PRIVATE}").as_str())
    );
    answer(&alice, &invite, from, 486, None);
    assert_eq!(final_response(&bob, "call-1").status(), Some(486));

    // Alice stops answering: after two silent keepalives her binding is unreachable and
    // calls get 480 instead of ringing into nothing.
    server.wait_log("does not answer keepalives", Duration::from_secs(10));
    bob.send(&plain_invite(&bob, "alice", "call-2"));
    assert_eq!(final_response(&bob, "call-2").status(), Some(480));

    // She registers again: reachable at once.
    alice.send(&natted_register(&alice, 2));
    assert_eq!(alice.expect_response("REGISTER").status(), Some(200));
    bob.send(&plain_invite(&bob, "alice", "call-3"));
    let (invite, _) = alice.expect_request("INVITE");
    assert_eq!(invite.call_id().unwrap(), "call-3");
}

#[test]
fn contacts_from_behind_nat_are_rewritten_both_ways() {
    let data = DataDir::with_users(&[("alice", "a"), ("bob", "b")]);
    let (server, _config) = server(&data, "[nat]\nping = \"none\"\n");
    let alice = Phone::new(server.udp, "alice", "a");
    let mut bob = Phone::new(server.udp, "bob", "b");
    assert_eq!(
        bob.register(&format!("Contact: <{}>\r\n", bob.contact()))
            .status(),
        Some(200)
    );

    // Alice calls from behind her NAT: bob sees her Contact at her mapping.
    alice.send(&natted_invite(&alice, "bob", "nat-call"));
    let (invite, proxy) = bob.expect_request("INVITE");
    assert_eq!(
        invite.header(HeaderName::Contact),
        Some(format!("<sip:alice@{}>", alice.local()).as_str())
    );
    // Bob answers from behind a NAT of his own: his private Contact is rewritten to where
    // the answer came from.
    answer(&bob, &invite, proxy, 200, Some("<sip:bob@10.0.0.7:5060>"));
    let ok = alice.expect_response("INVITE");
    assert_eq!(ok.status(), Some(200));
    assert_eq!(
        ok.header(HeaderName::Contact),
        Some(format!("<sip:bob@{}>", bob.local()).as_str())
    );

    // Bob hangs up: his BYE, sent to alice's (rewritten) Contact along the route set,
    // reaches her mapping.
    bob.send(&bob.in_dialog("BYE", &invite, false, 1));
    let (bye, from) = alice.expect_request("BYE");
    assert_eq!(
        bye.request_uri_str(),
        Some(format!("sip:alice@{}", alice.local()).as_str())
    );
    answer(&alice, &bye, from, 200, None);
    assert_eq!(bob.expect_response("BYE").status(), Some(200));
}

#[test]
fn detection_off_leaves_contacts_alone() {
    let data = DataDir::with_users(&[("alice", "a"), ("bob", "b")]);
    let (server, _config) = server(&data, "[nat]\ntests = 0\nping = \"none\"\n");
    let alice = Phone::new(server.udp, "alice", "a");
    let mut bob = Phone::new(server.udp, "bob", "b");
    assert_eq!(
        bob.register(&format!("Contact: <{}>\r\n", bob.contact()))
            .status(),
        Some(200)
    );
    // The Via carries rport so the answers find the caller without NAT help.
    let text = natted_invite(&alice, "bob", "plain-call").replace(
        "branch=z9hG4bK-plain-call",
        "branch=z9hG4bK-plain-call;rport",
    );
    alice.send(&text);
    let (invite, _) = bob.expect_request("INVITE");
    assert_eq!(
        invite.header(HeaderName::Contact),
        Some(format!("<sip:alice@{PRIVATE}>").as_str())
    );
}
