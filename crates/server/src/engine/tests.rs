//! The routing scenarios of the seed's `ser.cfg` as engine tests: phones and a store
//! simulated, the clock simulated, every message through the real engine. Each test runs
//! in milliseconds.
//!
//! The simulated world: the server is 192.0.2.1:5060 (UDP) serving `example.com`; alice,
//! bob and carol are subscribers (password = their name); a PSTN gateway is 198.51.100.9;
//! the store is [`World`], which answers the engine's queries and records what it writes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sip::auth::{parse_challenge, respond, AuthHeader, ClientRequest, Secret};
use sip::{HeaderName, Message};
use store::{Address, Forwarding, Ha1s};
use transport::{Incoming, Listen, Protocol};

use super::*;
use crate::engine::io::Record;
use crate::media_relay::{RelayPolicy, RelaySetup};

const SERVER: &str = "192.0.2.1:5060";
const GATEWAY: &str = "198.51.100.9:5060";

/// Answers the machine's address questions: 192.0.2.1 is ours (and loopback).
struct FakeNetwork;

impl HostNetwork for FakeNetwork {
    fn is_local_ip(&mut self, ip: std::net::IpAddr) -> bool {
        ip.to_string() == "192.0.2.1"
    }
    /// Loopback toward loopback, as the routing table says; else 192.0.2.1.
    fn outbound_ip(&mut self, dest: std::net::IpAddr) -> Option<std::net::IpAddr> {
        Some(if dest.is_loopback() {
            dest
        } else {
            "192.0.2.1".parse().unwrap()
        })
    }
    fn interface_ip(&mut self, like: std::net::IpAddr) -> Option<std::net::IpAddr> {
        like.is_ipv4().then(|| "192.0.2.1".parse().unwrap())
    }
}

/// The simulated store, relay and clock around one engine.
struct World {
    engine: Engine,
    now: Now,
    forwarding: Vec<(String, Forwarding)>,
    groups: Vec<(String, String)>,
    /// Relay exchanges made: (offer?, call-id).
    relay_exchanges: Vec<(bool, String)>,
    /// The SRTP profile each relay exchange asked toward its receiver (`Flags::transport`).
    relay_transports: Vec<Option<relay::Profile>>,
    /// `Flags::webrtc` of each relay exchange.
    relay_webrtc: Vec<bool>,
    /// `Flags::advertise` of each relay exchange.
    relay_advertise: Vec<Option<std::net::IpAddr>>,
    relay_deletes: Vec<String>,
    records: Vec<Record>,
    /// What went out, in order: (destination, message).
    sent: Vec<(SocketAddr, Message)>,
    /// Answers held back (to answer later, out of order).
    held_io: Vec<IoRequest>,
    hold_relay: bool,
    /// Store queries are held back too.
    hold_queries: bool,
    /// The subscribers' change counter, and how often credentials were read.
    version: i64,
    credential_reads: usize,
    /// Resolve and group queries answered.
    address_reads: usize,
    /// The kinds of the store queries asked, in order.
    queries: Vec<String>,
    /// Makes each registration's branches and CSeqs new.
    registrations: u32,
    /// Connections the engine asked to keep open, and for how long.
    kept_flows: Vec<(SocketAddr, Duration)>,
    /// The addresses of record told as registered anew.
    registered_anew: Vec<String>,
    /// The transport phones use.
    protocol: Protocol,
    /// Bans the engine asked to write.
    bans_written: Vec<crate::guard::BanWrite>,
    /// Sources the engine asked the transports to drop.
    blocks: Vec<(std::net::IpAddr, Instant)>,
    /// Who pays how (the engine's prepaid hook reads it).
    book: crate::billing::AccountBook,
    /// alice's prepaid account as the store has it, if she has one.
    prepaid: Option<prepaid::Prepaid>,
    /// Prepaid authorisations asked.
    prepaid_reads: usize,
}

fn config() -> ServerConfig {
    let mut config = ServerConfig {
        domains: vec!["example.com".into()],
        ..ServerConfig::default()
    };
    config.proxy.pstn.gateways = vec![format!("sip:{GATEWAY}")];
    config
}

fn ha1s(user: &str) -> Ha1s {
    use sip::auth::{ha1, Algorithm};
    Ha1s {
        md5: ha1(Algorithm::Md5, user, "example.com", user),
        sha256: ha1(Algorithm::Sha256, user, "example.com", user),
    }
}

impl World {
    fn new(config: ServerConfig) -> World {
        World::with_relay(config, None)
    }

    fn with_relay(config: ServerConfig, relay: Option<RelaySetup>) -> World {
        let book = prepaid::book();
        let engine = Engine::new(EngineSetup {
            config,
            listens: vec![
                Listen {
                    protocol: Protocol::Udp,
                    addr: SERVER.parse().unwrap(),
                },
                Listen {
                    protocol: Protocol::Tcp,
                    addr: SERVER.parse().unwrap(),
                },
                Listen {
                    protocol: Protocol::Ws,
                    addr: SERVER.parse().unwrap(),
                },
            ],
            domains: vec!["example.com".into()],
            location: Location::new(),
            secret: [7; 32],
            network: Box::new(FakeNetwork),
            relay,
            capture: None,
            metrics: None,
            accounts: book.clone(),
            rater: prepaid::rater(),
        });
        World {
            engine,
            now: Now {
                instant: Instant::now(),
                unix_ms: 1_790_000_000_000,
            },
            forwarding: Vec::new(),
            groups: Vec::new(),
            relay_exchanges: Vec::new(),
            relay_transports: Vec::new(),
            relay_webrtc: Vec::new(),
            relay_advertise: Vec::new(),
            relay_deletes: Vec::new(),
            records: Vec::new(),
            sent: Vec::new(),
            held_io: Vec::new(),
            hold_relay: false,
            hold_queries: false,
            version: 1,
            credential_reads: 0,
            address_reads: 0,
            queries: Vec::new(),
            registrations: 0,
            kept_flows: Vec::new(),
            registered_anew: Vec::new(),
            protocol: Protocol::Udp,
            book,
            prepaid: None,
            prepaid_reads: 0,
            bans_written: Vec::new(),
            blocks: Vec::new(),
        }
    }

    /// A message from `from` arrives; the engine's I/O is answered at once.
    fn receive(&mut self, from: &str, text: &str) {
        let incoming = Incoming {
            message: Message::parse(text.to_owned().into_bytes())
                .map_err(|e| (e, bytes::Bytes::from(text.to_owned()))),
            source: from.parse().unwrap(),
            local: Listen {
                protocol: self.protocol,
                addr: SERVER.parse().unwrap(),
            },
        };
        self.engine.handle(self.now, incoming);
        self.settle();
    }

    /// Time passes; due timers fire.
    fn advance(&mut self, d: Duration) {
        self.now = self.now.after(d);
        self.engine.handle_timeout(self.now);
        self.settle();
    }

    /// Answers every I/O request (relay exchanges are held when `hold_relay`), collects
    /// what is sent.
    fn settle(&mut self) {
        loop {
            while let Some(t) = self.engine.poll_transmit() {
                let m = Message::parse(t.bytes.to_vec()).expect("the engine sends valid SIP");
                self.sent.push((t.dest, m));
            }
            let Some(io) = self.engine.poll_io() else {
                return;
            };
            match io {
                IoRequest::RelayExchange { .. } if self.hold_relay => self.held_io.push(io),
                IoRequest::Query { .. } if self.hold_queries => self.held_io.push(io),
                io => self.answer(io),
            }
        }
    }

    fn answer(&mut self, io: IoRequest) {
        let (id, answer) = match io {
            IoRequest::Query { id, query } => (id, self.query(query)),
            IoRequest::CommitBindings { id, .. } => (id, Answer::Committed(Ok(()))),
            IoRequest::ReloadBindings { id, .. } => (id, Answer::Bindings(Vec::new())),
            IoRequest::RelayExchange { id, offer, request } => {
                self.relay_exchanges.push((offer, request.call_id.clone()));
                self.relay_transports.push(request.flags.transport);
                self.relay_webrtc.push(request.flags.webrtc);
                self.relay_advertise.push(request.flags.advertise);
                // The relay's answer to SRTP keys it cannot use.
                if request.sdp.windows(10).any(|w| w == b"inline:BAD") {
                    (id, Answer::SdpRefused)
                } else {
                    let sdp = String::from_utf8(request.sdp)
                        .unwrap()
                        .replace("c=IN IP4 10.0.0.", "c=IN IP4 203.0.113.");
                    (id, Answer::Sdp(Some(sdp.into())))
                }
            }
            IoRequest::RelayDelete { call_id, .. } => {
                self.relay_deletes.push(call_id);
                return;
            }
            IoRequest::Block { source, until } => {
                self.blocks.push((source, until));
                return;
            }
            IoRequest::KeepFlow { peer, for_time } => {
                self.kept_flows.push((peer, for_time));
                return;
            }
            IoRequest::Registered { aor } => {
                self.registered_anew.push(aor);
                return;
            }
            IoRequest::Ban { id, ban } => {
                self.bans_written.push(ban);
                (id, Answer::Committed(Ok(())))
            }
            IoRequest::Record(r) => {
                self.records.push(r);
                return;
            }
            IoRequest::Prepaid { id, after, .. } => {
                self.prepaid_reads += 1;
                let answer = match &self.prepaid {
                    Some(p) => p.answer(after),
                    None => Answer::Prepaid(None),
                };
                (id, answer)
            }
            IoRequest::Ledger { id, after, .. } => {
                let put_in = self
                    .prepaid
                    .as_ref()
                    .map(|p| p.put_in_after(after))
                    .unwrap_or_default();
                (id, Answer::Ledger(put_in))
            }
        };
        self.engine.complete(self.now, id, answer);
    }

    /// Answers the requests held back (relay exchanges, queries), in the order given.
    fn release_held(&mut self, order: &[usize]) {
        let held = std::mem::take(&mut self.held_io);
        let mut held: Vec<Option<IoRequest>> = held.into_iter().map(Some).collect();
        for i in order {
            let io = held[*i].take().unwrap();
            self.answer(io);
            self.settle();
        }
    }

    fn query(&mut self, query: Query) -> Answer {
        let kind = format!("{query:?}");
        let kind = kind.split([' ', '(']).next().unwrap_or_default();
        self.queries.push(kind.to_owned());
        let users = ["alice", "bob", "carol"];
        match query {
            Query::DomainServed(host) => Answer::Served(host == "example.com"),
            Query::TableVersion(_) => Answer::Version(self.version),
            Query::Credentials { user, realm } => {
                self.credential_reads += 1;
                Answer::Credentials(
                    (realm == "example.com" && users.contains(&user.as_str())).then(|| ha1s(&user)),
                )
            }
            Query::Forwarding { user, .. } => Answer::Forwarding(
                self.forwarding
                    .iter()
                    .find(|(u, _)| *u == user)
                    .map(|(_, f)| f.clone())
                    .unwrap_or_default(),
            ),
            Query::Resolve { user, domain } => {
                self.address_reads += 1;
                Answer::Subscriber(
                    (domain == "example.com" && users.contains(&user.as_str()))
                        .then_some(Address { user, domain }),
                )
            }
            Query::InGroup { user, group, .. } => {
                self.address_reads += 1;
                Answer::Served(self.groups.contains(&(user, group)))
            }
            Query::Locate(uri) => Answer::Hops(Err(sip::sanity::Rejection::new(
                404,
                format!("no DNS in the simulation: {uri}"),
            ))),
        }
    }

    /// What went to `dest` since the last call, in order; forgets everything sent.
    fn sent_to(&mut self, dest: &str) -> Vec<Message> {
        let dest: SocketAddr = dest.parse().unwrap();
        let all = std::mem::take(&mut self.sent);
        all.into_iter()
            .filter(|(d, _)| *d == dest)
            .map(|(_, m)| m)
            .collect()
    }

    /// The caller at `caller` acknowledges the last 2xx to an INVITE it was sent (RFC 3261
    /// §13.2.2.4: to the 2xx's Contact through its Record-Route reversed); what was sent
    /// stays to be looked at.
    fn acknowledge(&mut self, caller: &str) {
        let dest: SocketAddr = caller.parse().unwrap();
        let ok = self
            .sent
            .iter()
            .rev()
            .find(|(d, m)| {
                *d == dest
                    && m.status().is_some_and(|c| (200..300).contains(&c))
                    && m.cseq().is_ok_and(|c| c.method == "INVITE")
            })
            .map(|(_, m)| m.clone())
            .expect("a 2xx to an INVITE went to the caller");
        let Some(Ok(sip::headers::Contact::Addr(contact))) = ok.contacts().next() else {
            panic!("the 2xx has a Contact");
        };
        let mut routes: Vec<String> = ok
            .header_values(HeaderName::RecordRoute)
            .flat_map(sip::text::split_top_level)
            .map(|v| v.unwrap().trim().to_owned())
            .collect();
        routes.reverse();
        let call_id = ok.call_id().unwrap();
        let mut text = format!(
            "ACK {} SIP/2.0\r\nVia: SIP/2.0/UDP {caller};branch=z9hG4bK-ack-{call_id}\r\n\
Max-Forwards: 70\r\n",
            contact.uri
        );
        for route in routes {
            text.push_str(&format!("Route: {route}\r\n"));
        }
        text.push_str(&format!(
            "From: {}\r\nTo: {}\r\nCall-ID: {call_id}\r\nCSeq: {} ACK\r\nContent-Length: 0\r\n\r\n",
            ok.header(HeaderName::From).unwrap(),
            ok.header(HeaderName::To).unwrap(),
            ok.cseq().unwrap().seq,
        ));
        self.receive(caller, &text);
    }

    /// Registers `user` from `phone` with digest authentication, contact at the phone.
    fn register(&mut self, user: &str, phone: &str, q: &str) {
        self.register_contact(user, phone, q, &format!("sip:{user}@{phone}"));
    }

    /// Registers `user` from `phone` with digest authentication, contact `contact`.
    fn register_contact(&mut self, user: &str, phone: &str, q: &str, contact: &str) {
        self.registrations += 1;
        let base = self.registrations * 2;
        let via = self.protocol.as_via();
        let text = |cseq: u32, auth: &str| {
            format!(
                "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/{} {phone};branch=z9hG4bK-r{cseq}{user};rport\r\n\
Max-Forwards: 70\r\nFrom: <sip:{user}@example.com>;tag=r{user}\r\nTo: <sip:{user}@example.com>\r\n\
Call-ID: reg-{user}-{phone}\r\nCSeq: {cseq} REGISTER\r\nContact: <{contact}>;q={q}\r\n{auth}Content-Length: 0\r\n\r\n",
                via
            )
        };
        self.receive(phone, &text(base, ""));
        let challenge = self.sent_to(phone).pop().expect("a challenge");
        assert_eq!(challenge.status(), Some(401));
        let credentials = digest_answer(
            &challenge,
            HeaderName::WwwAuthenticate,
            "REGISTER",
            "sip:example.com",
            user,
            user,
            1,
        );
        self.receive(
            phone,
            &text(base + 1, &format!("Authorization: {credentials}\r\n")),
        );
        let ok = self.sent_to(phone).pop().expect("a 200");
        assert_eq!(ok.status(), Some(200), "{ok:?}");
    }
}

/// The credentials answering the digest challenge of `challenge` in `header` (WWW- or
/// Proxy-Authenticate) for `method` on `uri`, as `user` with `password`, nonce count `nc`.
pub(super) fn digest_answer(
    challenge: &Message,
    header: HeaderName,
    method: &str,
    uri: &str,
    user: &str,
    password: &str,
    nc: u32,
) -> String {
    let value = challenge.header(header).expect("a challenge");
    let AuthHeader::Digest(ch) = parse_challenge(value).unwrap() else {
        panic!("{value}")
    };
    respond(
        &ch,
        &ClientRequest {
            method,
            uri,
            username: user,
            secret: Secret::Password(password),
            cnonce: "c0ffee",
            nc,
            body: &[],
        },
    )
    .unwrap()
}

/// An INVITE from a phone that is trusted (no challenge) or a foreign caller.
fn invite(
    from_user: &str,
    from_domain: &str,
    from: &str,
    to: &str,
    call: &str,
    sdp: bool,
) -> String {
    let body = if sdp {
        "v=0\r\no=- 1 1 IN IP4 10.0.0.5\r\ns=-\r\nc=IN IP4 10.0.0.5\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"
    } else {
        ""
    };
    let ct = if sdp {
        "Content-Type: application/sdp\r\n"
    } else {
        ""
    };
    format!(
        "INVITE {to} SIP/2.0\r\nVia: SIP/2.0/UDP {from};branch=z9hG4bK-{call};rport\r\nMax-Forwards: 70\r\n\
From: <sip:{from_user}@{from_domain}>;tag=f-{call}\r\nTo: <{to}>\r\nCall-ID: {call}\r\nCSeq: 1 INVITE\r\n\
Contact: <sip:{from_user}@{from}>\r\n{ct}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// The response `code` to a forwarded request `req`, as the callee sends it.
fn answer_to(req: &Message, code: u16, to_tag: &str, sdp: Option<&str>) -> String {
    let mut b = MessageBuilder::response_to(req, code, None, Some(to_tag));
    if let Some(body) = sdp {
        b = b.body("application/sdp", body.as_bytes().to_vec());
    }
    String::from_utf8(b.build().unwrap().as_bytes().to_vec()).unwrap()
}

fn codes(messages: &[Message]) -> Vec<u16> {
    messages.iter().filter_map(Message::status).collect()
}

fn trusted_config() -> ServerConfig {
    let mut c = config();
    c.trusted = vec!["203.0.113.0/24".parse().unwrap()];
    c
}

const CALLER: &str = "203.0.113.7:5060";
const BOB_1: &str = "198.51.100.21:5060";
const BOB_2: &str = "198.51.100.22:5060";
const CAROL: &str = "198.51.100.31:5060";

#[test]
fn register_call_and_bye() {
    let mut w = World::new(trusted_config());
    w.register("bob", BOB_1, "1.0");
    w.receive(
        CALLER,
        &invite(
            "alice",
            "example.com",
            CALLER,
            "sip:bob@example.com",
            "c1",
            true,
        ),
    );
    let all = std::mem::take(&mut w.sent);
    let (to_caller, to_bob): (Vec<_>, Vec<_>) = all
        .into_iter()
        .partition(|(d, _)| *d == CALLER.parse().unwrap());
    assert_eq!(
        codes(&to_caller.into_iter().map(|(_, m)| m).collect::<Vec<_>>()),
        [100]
    );
    let (dest, forwarded) = to_bob.into_iter().next().unwrap();
    assert_eq!(dest, BOB_1.parse().unwrap());
    assert_eq!(
        forwarded.request_uri_str(),
        Some(&*format!("sip:bob@{BOB_1}"))
    );
    assert_eq!(forwarded.record_routes().count(), 1, "record-routed");
    w.receive(BOB_1, &answer_to(&forwarded, 180, "b1", None));
    w.receive(BOB_1, &answer_to(&forwarded, 200, "b1", None));
    assert_eq!(codes(&w.sent_to(CALLER)), [180, 200]);
    let started = w
        .records
        .iter()
        .filter(|r| matches!(r, Record::Acc(a) if a.kind == store::AccKind::Answered))
        .count();
    assert_eq!(started, 1, "the answer is accounted");
    // BYE from the caller along the Route set.
    let bye = format!(
        "BYE sip:bob@{BOB_1} SIP/2.0\r\nVia: SIP/2.0/UDP {CALLER};branch=z9hG4bK-bye;rport\r\nMax-Forwards: 70\r\n\
Route: <sip:192.0.2.1:5060;lr>\r\nFrom: <sip:alice@example.com>;tag=f-c1\r\nTo: <sip:bob@example.com>;tag=b1\r\n\
Call-ID: c1\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n"
    );
    w.receive(CALLER, &bye);
    let at_bob = w.sent_to(BOB_1);
    assert_eq!(at_bob.len(), 1);
    assert_eq!(at_bob[0].method(), Some(&sip::Method::Bye));
    let ended = w.records.iter().any(|r| {
        matches!(r, Record::Acc(a) if a.kind == store::AccKind::Ended && a.ended_by.as_deref() == Some("caller"))
    });
    assert!(ended, "the end is accounted with who hung up");
}

#[test]
fn forking_by_q_with_one_branch_busy() {
    let mut w = World::new(trusted_config());
    w.register("bob", BOB_1, "1.0");
    w.register("bob", BOB_2, "0.5");
    w.receive(
        CALLER,
        &invite(
            "alice",
            "example.com",
            CALLER,
            "sip:bob@example.com",
            "c2",
            false,
        ),
    );
    let first = w.sent_to(BOB_1);
    assert_eq!(first.len(), 1, "the q=1.0 phone first");
    assert!(w.sent_to(BOB_2).is_empty(), "q=0.5 waits");
    w.receive(BOB_1, &answer_to(&first[0], 486, "b1", None));
    let second = w.sent_to(BOB_2);
    let invites: Vec<_> = second.iter().filter(|m| m.is_request()).collect();
    assert_eq!(invites.len(), 1, "then the q=0.5 phone");
    w.receive(BOB_2, &answer_to(invites[0], 200, "b2", None));
    assert!(codes(&w.sent_to(CALLER)).contains(&200));
}

#[test]
fn cancel_racing_a_200() {
    let mut w = World::new(trusted_config());
    w.register("bob", BOB_1, "1.0");
    let text = invite(
        "alice",
        "example.com",
        CALLER,
        "sip:bob@example.com",
        "c3",
        false,
    );
    w.receive(CALLER, &text);
    let forwarded = w.sent_to(BOB_1).pop().unwrap();
    w.receive(BOB_1, &answer_to(&forwarded, 180, "b1", None));
    let cancel =
        sip::build::cancel_for(&Message::parse(text.clone().into_bytes()).unwrap()).unwrap();
    w.receive(CALLER, std::str::from_utf8(cancel.as_bytes()).unwrap());
    // The 200 crosses the CANCEL on its way (§16.7 step 5: it still goes upstream).
    w.receive(BOB_1, &answer_to(&forwarded, 200, "b1", None));
    let upstream = codes(&w.sent_to(CALLER));
    assert!(upstream.contains(&200), "{upstream:?}");
    assert!(!upstream.contains(&487), "{upstream:?}");
}

#[test]
fn timer_c_answers_408_after_ringing_too_long() {
    let mut c = trusted_config();
    c.proxy.timer_c = Duration::from_secs(60);
    let mut w = World::new(c);
    w.register("bob", BOB_1, "1.0");
    w.receive(
        CALLER,
        &invite(
            "alice",
            "example.com",
            CALLER,
            "sip:bob@example.com",
            "c4",
            false,
        ),
    );
    let forwarded = w.sent_to(BOB_1).pop().unwrap();
    w.receive(BOB_1, &answer_to(&forwarded, 180, "b1", None));
    w.sent.clear();
    w.advance(Duration::from_secs(61));
    let cancels = w.sent_to(BOB_1);
    assert!(cancels
        .iter()
        .any(|m| m.method() == Some(&sip::Method::Cancel)));
    w.receive(BOB_1, &answer_to(&forwarded, 487, "b1", None));
    assert_eq!(codes(&w.sent_to(CALLER)), [408]);
}

#[test]
fn forwarding_on_busy_and_on_no_answer() {
    let mut w = World::new(trusted_config());
    w.register("bob", BOB_1, "1.0");
    w.register("carol", CAROL, "1.0");
    w.forwarding.push((
        "bob".into(),
        Forwarding {
            busy: Some("sip:carol@example.com".into()),
            no_answer: Some("sip:carol@example.com".into()),
            no_answer_after: Some(20),
            ..Forwarding::default()
        },
    ));
    // Busy.
    w.receive(
        CALLER,
        &invite(
            "alice",
            "example.com",
            CALLER,
            "sip:bob@example.com",
            "c5",
            false,
        ),
    );
    let at_bob = w.sent_to(BOB_1).pop().unwrap();
    w.receive(BOB_1, &answer_to(&at_bob, 486, "b1", None));
    let at_carol: Vec<_> = w
        .sent_to(CAROL)
        .into_iter()
        .filter(Message::is_request)
        .collect();
    assert_eq!(at_carol.len(), 1, "busy: forwarded to carol");
    // No answer within 20 s.
    w.receive(
        CALLER,
        &invite(
            "alice",
            "example.com",
            CALLER,
            "sip:bob@example.com",
            "c6",
            false,
        ),
    );
    let at_bob = w.sent_to(BOB_1).pop().unwrap();
    w.receive(BOB_1, &answer_to(&at_bob, 180, "b1", None));
    w.sent.clear();
    w.advance(Duration::from_secs(21));
    let at_carol: Vec<_> = w
        .sent_to(CAROL)
        .into_iter()
        .filter(|m| m.method() == Some(&sip::Method::Invite) && m.call_id().ok() == Some("c6"))
        .collect();
    assert_eq!(at_carol.len(), 1, "no answer: forwarded to carol");
}

#[test]
fn pstn_class_refused_then_allowed() {
    let mut w = World::new(config());
    w.register("alice", "203.0.113.5:5060", "1.0");
    let call = |w: &mut World, cseq: u32, auth: &str| {
        format!(
            "INVITE sip:0046812345678@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 203.0.113.5:5060;branch=z9hG4bK-p{cseq};rport\r\n\
Max-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=fp\r\nTo: <sip:0046812345678@example.com>\r\nCall-ID: pstn{}\r\n\
CSeq: {cseq} INVITE\r\nContact: <sip:alice@203.0.113.5>\r\n{auth}Content-Length: 0\r\n\r\n",
            w.groups.len()
        )
    };
    let authorized = |w: &mut World, cseq: u32| -> Vec<Message> {
        let text = call(w, cseq, "");
        w.receive("203.0.113.5:5060", &text);
        let challenge = w.sent_to("203.0.113.5:5060").pop().unwrap();
        assert_eq!(challenge.status(), Some(407));
        let credentials = digest_answer(
            &challenge,
            HeaderName::ProxyAuthenticate,
            "INVITE",
            "sip:0046812345678@example.com",
            "alice",
            "alice",
            1,
        );
        let text = call(
            w,
            cseq + 1,
            &format!("Proxy-Authorization: {credentials}\r\n"),
        );
        w.receive("203.0.113.5:5060", &text);
        w.sent.iter().map(|(_, m)| m.clone()).collect()
    };
    let out = authorized(&mut w, 1);
    assert!(
        codes(&out).contains(&403),
        "not in the international group: {:?}",
        codes(&out)
    );
    w.sent.clear();
    // Membership is cached: the change counts after the next version check.
    w.groups.push(("alice".into(), "int".into()));
    w.version += 1;
    w.advance(crate::cache::CHECK_INTERVAL);
    w.sent.clear();
    authorized(&mut w, 3);
    let at_gateway = w.sent_to(GATEWAY);
    assert_eq!(at_gateway.len(), 1, "allowed: to the gateway");
    assert!(at_gateway[0]
        .request_uri_str()
        .unwrap()
        .starts_with("sip:0046812345678@198.51.100.9"));
}

#[test]
fn redirect_mode_answers_302_with_the_phones() {
    let mut c = trusted_config();
    c.proxy.redirect = true;
    let mut w = World::new(c);
    w.register("bob", BOB_1, "0.7");
    w.receive(
        CALLER,
        &invite(
            "alice",
            "example.com",
            CALLER,
            "sip:bob@example.com",
            "c7",
            false,
        ),
    );
    let answers = w.sent_to(CALLER);
    assert_eq!(codes(&answers), [302]);
    let contact = answers[0].header(HeaderName::Contact).unwrap();
    assert!(
        contact.contains(BOB_1) && contact.contains("q=0.700"),
        "{contact}"
    );
}

#[test]
fn stateless_mode_keeps_no_transaction() {
    let mut c = trusted_config();
    c.proxy.stateless = true;
    let mut w = World::new(c);
    w.register("bob", BOB_1, "1.0");
    let text = invite(
        "alice",
        "example.com",
        CALLER,
        "sip:bob@example.com",
        "c8",
        false,
    );
    w.receive(CALLER, &text);
    assert_eq!(w.sent_to(BOB_1).len(), 1);
    assert_eq!(w.engine.proxied_count(), 0);
    // A retransmission is forwarded again, not absorbed (§16.11).
    w.receive(CALLER, &text);
    assert_eq!(w.sent_to(BOB_1).len(), 1);
}

#[test]
fn loops_max_forwards_and_size_are_refused() {
    let mut c = trusted_config();
    c.proxy.max_message_size = 1200;
    let mut w = World::new(c);
    w.register("bob", BOB_1, "1.0");
    let text = invite(
        "alice",
        "example.com",
        CALLER,
        "sip:bob@example.com",
        "c9",
        false,
    )
    .replace("Max-Forwards: 70", "Max-Forwards: 0");
    w.receive(CALLER, &text);
    assert_eq!(codes(&w.sent_to(CALLER)), [483]);
    let big = invite(
        "alice",
        "example.com",
        CALLER,
        "sip:bob@example.com",
        "c10",
        false,
    )
    .replace(
        "\r\nContent-Length",
        &format!("\r\nX-Pad: {}\r\nContent-Length", "a".repeat(1500)),
    );
    w.receive(CALLER, &big);
    assert_eq!(codes(&w.sent_to(CALLER)), [513]);
    // The request comes back with our Via and what routing depends on unchanged (the
    // Request-URI as we received it): a loop. With another Request-URI it would be a
    // spiral.
    let first = invite(
        "alice",
        "example.com",
        CALLER,
        "sip:bob@example.com",
        "c11",
        false,
    );
    w.receive(CALLER, &first);
    let forwarded = w.sent_to(BOB_1).pop().unwrap();
    let mut edit = forwarded.edit();
    edit.set_request_uri("sip:bob@example.com").unwrap();
    let back = edit.finish().unwrap();
    w.receive(BOB_1, std::str::from_utf8(back.as_bytes()).unwrap());
    assert_eq!(codes(&w.sent_to(BOB_1)), [482]);
}

/// `[relay] srtp = "keep"`: an RTP/SAVP offer from a caller on UDP to a callee on UDP is
/// relayed (no NAT needed) with plain RTP/AVP asked toward the callee; keys the relay
/// refuses answer the INVITE 488 and nothing reaches the callee; a plain offer is not
/// relayed.
#[test]
fn an_srtp_offer_to_a_udp_callee_is_bridged_and_bad_keys_get_488() {
    let relay = RelaySetup {
        policy: RelayPolicy::Nat,
        per_party_address: false,
        all_interfaces: false,
        srtp: relay::SrtpPolicy::Keep,
    };
    let mut w = World::with_relay(trusted_config(), Some(relay));
    w.register("bob", BOB_1, "1.0");
    let with_body = |call: &str, body: &str| {
        invite(
            "alice",
            "example.com",
            CALLER,
            "sip:bob@example.com",
            call,
            false,
        )
        .replace(
            "Content-Length: 0\r\n\r\n",
            &format!(
                "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            ),
        )
    };
    let savp = |key: &str| {
        format!(
            "v=0\r\no=- 1 1 IN IP4 192.0.2.5\r\ns=-\r\nc=IN IP4 192.0.2.5\r\nt=0 0\r\n\
             m=audio 4000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{key}\r\n"
        )
    };
    w.receive(
        CALLER,
        &with_body("s1", &savp("PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR")),
    );
    assert_eq!(w.relay_exchanges, [(true, "s1".to_owned())]);
    assert_eq!(w.relay_transports, [Some(relay::Profile::Avp)]);
    assert_eq!(w.sent_to(BOB_1).len(), 1, "the INVITE went on");

    w.receive(CALLER, &with_body("s2", &savp("BAD")));
    assert_eq!(codes(&w.sent_to(CALLER)), [488]);
    assert!(w.sent_to(BOB_1).is_empty(), "nothing reached the callee");

    let plain = "v=0\r\no=- 1 1 IN IP4 192.0.2.5\r\ns=-\r\nc=IN IP4 192.0.2.5\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
    w.receive(CALLER, &with_body("s3", plain));
    assert_eq!(w.relay_exchanges.len(), 2, "a plain call is not relayed");
}

#[test]
fn webrtc_parties_are_bridged_to_sip_phones_whatever_the_policy() {
    let relay = RelaySetup {
        policy: RelayPolicy::Never,
        per_party_address: false,
        all_interfaces: false,
        srtp: relay::SrtpPolicy::Keep,
    };
    let mut w = World::with_relay(trusted_config(), Some(relay));
    w.register("carol", CAROL, "1.0");
    w.protocol = Protocol::Ws;
    w.register("bob", BOB_1, "1.0");
    w.protocol = Protocol::Udp;
    let with_body = |call: &str, to: &str, body: &str| {
        invite("alice", "example.com", CALLER, to, call, false).replace(
            "Content-Length: 0\r\n\r\n",
            &format!(
                "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            ),
        )
    };
    let plain = "v=0\r\no=- 1 1 IN IP4 192.0.2.5\r\ns=-\r\nc=IN IP4 192.0.2.5\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
    let webrtc = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\n\
        c=IN IP4 0.0.0.0\r\na=ice-ufrag:abcd\r\na=ice-pwd:0123456789abcdefghijkl\r\n\
        a=fingerprint:sha-256 AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB\r\n\
        a=setup:actpass\r\na=mid:0\r\na=rtcp-mux\r\n";

    // A SIP phone calls a browser registered over WebSocket: the relay makes the offer
    // WebRTC, though the policy relays nothing.
    w.receive(CALLER, &with_body("w1", "sip:bob@example.com", plain));
    assert_eq!(w.relay_exchanges, [(true, "w1".to_owned())]);
    assert_eq!(w.relay_webrtc, [true], "WebRTC toward the WS callee");
    assert_eq!(w.sent_to(BOB_1).len(), 1, "the INVITE went on");

    // A browser's WebRTC offer (over WebSocket) to a UDP phone: plain toward the phone.
    w.protocol = Protocol::Ws;
    let from_browser =
        with_body("w2", "sip:carol@example.com", webrtc).replace("SIP/2.0/UDP", "SIP/2.0/WS");
    w.receive(CALLER, &from_browser);
    w.protocol = Protocol::Udp;
    assert_eq!(w.relay_exchanges.len(), 2);
    assert!(!w.relay_webrtc[1], "plain toward the UDP phone");
    assert_eq!(w.sent_to(CAROL).len(), 1);

    // A WebRTC offer over UDP is read from its SDP: relayed too.
    w.receive(CALLER, &with_body("w3", "sip:carol@example.com", webrtc));
    assert_eq!(w.relay_exchanges.len(), 3);
    assert!(!w.relay_webrtc[2]);

    // Two SIP phones on public addresses: not relayed under `never`.
    w.receive(CALLER, &with_body("w4", "sip:carol@example.com", plain));
    assert_eq!(w.relay_exchanges.len(), 3, "nothing to bridge");
}

/// A browser on the server's machine (its WebSocket from loopback) is given the machine's
/// interface address for the relay, as browsers gather no loopback candidates; a SIP phone
/// on loopback keeps 127.0.0.1; with the relay's sockets on one address, nothing changes.
#[test]
fn a_browser_on_loopback_gets_the_relays_interface_address() {
    const PHONE: &str = "127.0.0.1:5072";
    const BROWSER: &str = "127.0.0.1:5070";
    for all_interfaces in [true, false] {
        let relay = RelaySetup {
            policy: RelayPolicy::Always,
            per_party_address: true,
            all_interfaces,
            srtp: relay::SrtpPolicy::Keep,
        };
        let mut w = World::with_relay(trusted_config(), Some(relay));
        w.protocol = Protocol::Ws;
        w.register("bob", BROWSER, "1.0");
        w.protocol = Protocol::Udp;
        w.register("carol", PHONE, "1.0");
        let call = |to: &str, id: &str| {
            let body = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
            invite("alice", "example.com", CALLER, to, id, false).replace(
                "Content-Length: 0\r\n\r\n",
                &format!(
                    "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                ),
            )
        };
        w.receive(CALLER, &call("sip:bob@example.com", "b1"));
        w.receive(CALLER, &call("sip:carol@example.com", "c1"));
        assert_eq!(w.relay_webrtc, [true, false]);
        let loopback: std::net::IpAddr = "127.0.0.1".parse().unwrap();
        let interface: std::net::IpAddr = "192.0.2.1".parse().unwrap();
        let toward_browser = if all_interfaces { interface } else { loopback };
        assert_eq!(
            w.relay_advertise,
            [Some(toward_browser), Some(loopback)],
            "all_interfaces = {all_interfaces}"
        );
    }
}

#[test]
fn in_dialog_requests_reach_a_websocket_client_over_its_flow() {
    const WS_CONTACT: &str = "sip:h7kjh12s@df7jal23ls0d.invalid;transport=ws";
    let mut w = World::new(trusted_config());
    w.protocol = Protocol::Ws;
    w.register_contact("bob", BOB_1, "1.0", WS_CONTACT);
    w.protocol = Protocol::Udp;
    w.receive(
        CALLER,
        &invite(
            "alice",
            "example.com",
            CALLER,
            "sip:bob@example.com",
            "wsd",
            true,
        ),
    );
    let at_bob = w.sent_to(BOB_1).pop().expect("the INVITE over bob's flow");
    let mut ok = MessageBuilder::response_to(&at_bob, 200, None, Some("b1"))
        .header(HeaderName::Contact, &format!("<{WS_CONTACT}>"));
    for rr in at_bob.header_values(HeaderName::RecordRoute) {
        ok = ok.header(HeaderName::RecordRoute, rr);
    }
    let ok = ok.build().unwrap();
    w.protocol = Protocol::Ws;
    w.receive(BOB_1, std::str::from_utf8(ok.as_bytes()).unwrap());
    w.protocol = Protocol::Udp;
    w.acknowledge(CALLER);
    let acks: Vec<Message> = w
        .sent_to(BOB_1)
        .into_iter()
        .filter(|m| m.method() == Some(&sip::Method::Ack))
        .collect();
    assert_eq!(
        acks.len(),
        1,
        "the ACK goes down bob's connection, not to DNS"
    );
    assert!(acks[0].request_uri_str().unwrap().contains(".invalid"));
}

#[test]
fn a_natted_caller_is_relayed_and_responses_keep_their_order() {
    let relay = RelaySetup {
        policy: RelayPolicy::Nat,
        per_party_address: false,
        all_interfaces: false,
        srtp: relay::SrtpPolicy::Keep,
    };
    let mut w = World::with_relay(trusted_config(), Some(relay));
    w.register("bob", BOB_1, "1.0");
    // The caller's Contact and SDP are private: behind a NAT.
    let text = invite(
        "alice",
        "example.com",
        CALLER,
        "sip:bob@example.com",
        "c12",
        true,
    )
    .replace(
        &format!("Contact: <sip:alice@{CALLER}>"),
        "Contact: <sip:alice@10.0.0.5:5060>",
    );
    w.receive(CALLER, &text);
    assert_eq!(w.relay_exchanges, [(true, "c12".to_owned())], "the offer");
    let forwarded = w.sent_to(BOB_1).pop().unwrap();
    let body = std::str::from_utf8(forwarded.body()).unwrap();
    assert!(
        body.contains("c=IN IP4 203.0.113.5"),
        "the relay's SDP: {body}"
    );
    assert!(
        forwarded
            .header(HeaderName::Contact)
            .unwrap()
            .contains(CALLER),
        "Contact fixed to the source"
    );
    // 180 and 200, both with SDP, back to back, while the relay is slow to answer.
    let sdp = "v=0\r\no=- 2 2 IN IP4 10.0.0.9\r\ns=-\r\nc=IN IP4 10.0.0.9\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\n";
    w.hold_relay = true;
    w.receive(BOB_1, &answer_to(&forwarded, 180, "b1", Some(sdp)));
    w.receive(BOB_1, &answer_to(&forwarded, 200, "b1", Some(sdp)));
    assert!(
        codes(&w.sent_to(CALLER)).is_empty(),
        "both wait for the relay"
    );
    assert_eq!(
        w.held_io.len(),
        1,
        "the 200 waits behind the 180, not at the relay"
    );
    w.hold_relay = false;
    w.release_held(&[0]);
    let upstream = codes(&w.sent_to(CALLER));
    assert_eq!(upstream, [180, 200], "in the order they arrived");
    let answers = w.relay_exchanges.iter().filter(|(offer, _)| !offer).count();
    assert_eq!(answers, 2, "one exchange per response");
    // A retransmitted 200 (the transaction has ended): forwarded with the relay's SDP,
    // without another exchange.
    w.receive(BOB_1, &answer_to(&forwarded, 200, "b1", Some(sdp)));
    let again = w.sent_to(CALLER);
    assert_eq!(codes(&again), [200]);
    assert!(std::str::from_utf8(again[0].body())
        .unwrap()
        .contains("203.0.113.9"));
    assert_eq!(
        w.relay_exchanges.len(),
        3,
        "no exchange for the retransmission"
    );
}

#[test]
fn credentials_are_cached_until_the_subscribers_change() {
    let mut w = World::new(config());
    w.register("bob", BOB_1, "1.0");
    assert_eq!(w.credential_reads, 1);
    // Within the check interval and after it with the same version: from memory.
    w.advance(Duration::from_millis(100));
    w.register("bob", BOB_1, "1.0");
    w.advance(crate::cache::CHECK_INTERVAL);
    w.register("bob", BOB_1, "1.0");
    assert_eq!(w.credential_reads, 1, "no store read while nothing changed");
    // A subscriber changed: the next check after the interval forgets the cache.
    w.version = 2;
    w.advance(crate::cache::CHECK_INTERVAL);
    w.register("bob", BOB_1, "1.0");
    assert_eq!(w.credential_reads, 2, "read again after the change");
}

#[test]
fn a_phone_registered_anew_is_told_once_committed_and_a_refresh_is_not() {
    let mut w = World::new(config());
    w.register("bob", BOB_1, "1.0");
    assert_eq!(w.registered_anew, ["bob@example.com"]);
    w.register("bob", BOB_1, "1.0");
    assert_eq!(w.registered_anew.len(), 1, "a refresh is not news");
    w.register("bob", BOB_2, "0.5");
    assert_eq!(w.registered_anew, ["bob@example.com", "bob@example.com"]);
}

#[test]
fn a_registration_over_tcp_keeps_its_connection_while_the_binding_lives() {
    let mut w = World::new(config());
    w.register("bob", BOB_1, "1.0");
    assert!(w.kept_flows.is_empty(), "UDP has no connection to keep");
    w.protocol = Protocol::Tcp;
    w.register("carol", CAROL, "1.0");
    assert_eq!(w.kept_flows.len(), 1, "{:?}", w.kept_flows);
    let (peer, for_time) = w.kept_flows[0];
    assert_eq!(peer, CAROL.parse().unwrap());
    // The registrar's default expiry (3600 s) is what the binding got.
    assert_eq!(for_time, Duration::from_secs(3600));
}

#[test]
fn under_overload_new_requests_get_503_and_the_rest_is_served() {
    let mut c = trusted_config();
    c.overload.max_waiting = 1;
    let relay = RelaySetup {
        policy: RelayPolicy::Always,
        per_party_address: false,
        all_interfaces: false,
        srtp: relay::SrtpPolicy::Keep,
    };
    let mut w = World::with_relay(c, Some(relay));
    w.register("bob", BOB_1, "1.0");
    w.sent.clear();
    // A call waits for the relay's offer: one request waiting.
    w.hold_relay = true;
    w.receive(
        CALLER,
        &invite(
            "alice",
            "example.com",
            CALLER,
            "sip:bob@example.com",
            "o1",
            true,
        ),
    );
    assert_eq!(w.held_io.len(), 1);
    w.receive(
        CALLER,
        &invite(
            "alice",
            "example.com",
            CALLER,
            "sip:bob@example.com",
            "o2",
            true,
        ),
    );
    let refused = w.sent_to(CALLER);
    assert_eq!(codes(&refused), [503]);
    assert_eq!(refused[0].header(HeaderName::RetryAfter), Some("5"));
    // OPTIONS to the server is still answered.
    let options = format!(
        "OPTIONS sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP {CALLER};branch=z9hG4bK-opt;rport\r\n\
Max-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=o\r\nTo: <sip:example.com>\r\nCall-ID: opt\r\n\
CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    );
    w.receive(CALLER, &options);
    assert_eq!(codes(&w.sent_to(CALLER)), [200]);
    // When the load falls, new requests are served at once.
    w.hold_relay = false;
    w.release_held(&[0]);
    w.sent.clear();
    w.receive(
        CALLER,
        &invite(
            "alice",
            "example.com",
            CALLER,
            "sip:bob@example.com",
            "o3",
            true,
        ),
    );
    assert_eq!(w.sent_to(BOB_1).len(), 1, "served again");
    // Past the transaction bound a new request gets its 503 without a transaction.
    let mut c = trusted_config();
    c.overload.max_transactions = 2;
    let mut w = World::new(c);
    for call in ["o4", "o5"] {
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
        assert_eq!(codes(&w.sent_to(CALLER)), [480], "bob is offline");
    }
    assert_eq!(w.engine.transaction_count(), 2);
    w.receive(
        CALLER,
        &invite(
            "alice",
            "example.com",
            CALLER,
            "sip:bob@example.com",
            "o6",
            false,
        ),
    );
    assert_eq!(codes(&w.sent_to(CALLER)), [503]);
    assert_eq!(w.engine.transaction_count(), 2, "no transaction kept");
}

#[test]
fn requests_that_need_the_same_answer_share_one_query() {
    let mut w = World::new(config());
    w.hold_queries = true;
    for call in ["s1", "s2", "s3"] {
        w.receive(
            CALLER,
            &invite(
                "scan",
                "example.net",
                CALLER,
                "sip:nobody@example.com",
                call,
                false,
            ),
        );
    }
    assert_eq!(
        w.held_io.len(),
        1,
        "one query for three requests: {:?}",
        w.held_io
    );
    w.hold_queries = false;
    w.release_held(&[0]);
    w.settle();
    let answers = codes(&w.sent_to(CALLER));
    assert_eq!(
        answers.iter().filter(|c| **c >= 400).count(),
        3,
        "{answers:?}"
    );
}
mod cdrs;
mod guard;
mod identity;
mod phases;
mod prepaid;
mod services;
/// The final response `dest` was sent last, forgetting everything sent.
fn final_answer(w: &mut World, dest: &str) -> Message {
    w.sent_to(dest)
        .into_iter()
        .filter(|m| m.status().is_some_and(|c| c >= 200))
        .last()
        .expect("a final response")
}

/// A request of `method` from `from` (user `from_user` at `from_domain`) to `to`, no body.
fn request(
    method: &str,
    from_user: &str,
    from_domain: &str,
    from: &str,
    to: &str,
    call: &str,
) -> String {
    format!(
        "{method} {to} SIP/2.0\r\nVia: SIP/2.0/UDP {from};branch=z9hG4bK-{call};rport\r\nMax-Forwards: 70\r\n\
From: <sip:{from_user}@{from_domain}>;tag=f-{call}\r\nTo: <{to}>\r\nCall-ID: {call}\r\nCSeq: 1 {method}\r\n\
Contact: <sip:{from_user}@{from}>\r\nContent-Length: 0\r\n\r\n"
    )
}

#[test]
fn outside_callers_cannot_tell_unknown_users_from_offline_ones() {
    // What a scanner from another domain sees for a name: the answer, and the store
    // queries the engine made before it (the delay).
    let probe = |config: ServerConfig, method: &str, to: &str| {
        let mut w = World::new(config);
        w.receive(
            CALLER,
            &request(method, "scan", "elsewhere.example", CALLER, to, "p1"),
        );
        let answer = final_answer(&mut w, CALLER);
        (
            answer.status(),
            answer.reason().map(str::to_owned),
            w.queries,
        )
    };
    for method in ["INVITE", "OPTIONS", "MESSAGE"] {
        let unknown = probe(config(), method, "sip:nobody@example.com");
        let offline = probe(config(), method, "sip:carol@example.com");
        assert_eq!(unknown.0, Some(480), "{method}: {unknown:?}");
        assert_eq!(
            unknown, offline,
            "{method}: the same answer after the same queries"
        );
        // A number that is no user (the gateways' business, not theirs): the same.
        let number = probe(config(), method, "sip:4684567890@example.com");
        assert_eq!(number.0, Some(480), "{method}: {number:?}");
    }
    assert!(
        probe(config(), "INVITE", "sip:nobody@example.com")
            .2
            .contains(&"Forwarding".to_owned()),
        "an INVITE for an unknown name reads forwarding as one for a subscriber does"
    );
    // 404 for both when configured so.
    let mut not_found = config();
    not_found.proxy.unknown_user_answer = crate::config::UnknownUserAnswer::NotFound;
    for to in ["sip:nobody@example.com", "sip:carol@example.com"] {
        let (code, reason, _) = probe(not_found.clone(), "INVITE", to);
        assert_eq!(
            (code, reason.as_deref()),
            (Some(404), Some("Not Found")),
            "{to}"
        );
    }
    // Trusted peers still learn which is which (and our users, once authenticated).
    let trusted = probe(trusted_config(), "INVITE", "sip:nobody@example.com");
    assert_eq!(trusted.0, Some(404));
    let trusted = probe(trusted_config(), "INVITE", "sip:carol@example.com");
    assert_eq!(trusted.0, Some(480));
}

#[test]
fn a_register_for_an_unknown_user_looks_like_a_wrong_password() {
    let mut w = World::new(config());
    let register = |user: &str, cseq: u32, auth: &str| {
        format!(
            "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP {CALLER};branch=z9hG4bK-u{user}{cseq};rport\r\n\
Max-Forwards: 70\r\nFrom: <sip:{user}@example.com>;tag=u{user}\r\nTo: <sip:{user}@example.com>\r\n\
Call-ID: scan-{user}\r\nCSeq: {cseq} REGISTER\r\nContact: <sip:{user}@{CALLER}>\r\n{auth}Content-Length: 0\r\n\r\n"
        )
    };
    let mut answers = Vec::new();
    for user in ["nobody", "carol"] {
        w.receive(CALLER, &register(user, 1, ""));
        let challenge = final_answer(&mut w, CALLER);
        assert_eq!(challenge.status(), Some(401));
        let credentials = digest_answer(
            &challenge,
            HeaderName::WwwAuthenticate,
            "REGISTER",
            "sip:example.com",
            user,
            "guessed",
            1,
        );
        w.receive(
            CALLER,
            &register(user, 2, &format!("Authorization: {credentials}\r\n")),
        );
        let again = final_answer(&mut w, CALLER);
        answers.push((
            again.status(),
            again.header_values(HeaderName::WwwAuthenticate).count(),
        ));
    }
    assert_eq!(answers, [(Some(401), 1), (Some(401), 1)]);
    assert_eq!(w.credential_reads, 2, "both names were looked up");
}

#[test]
fn a_trusted_network_registers_subscribers_only() {
    let register = |user: &str| {
        format!(
            "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP {CALLER};branch=z9hG4bK-t{user};rport\r\n\
Max-Forwards: 70\r\nFrom: <sip:{user}@example.com>;tag=t{user}\r\nTo: <sip:{user}@example.com>\r\n\
Call-ID: gw-{user}\r\nCSeq: 1 REGISTER\r\nContact: <sip:{user}@{CALLER}>\r\nContent-Length: 0\r\n\r\n"
        )
    };
    let mut w = World::new(trusted_config());
    w.receive(CALLER, &register("gateway1"));
    let refused = final_answer(&mut w, CALLER);
    assert_eq!(
        (refused.status(), refused.reason()),
        (Some(404), Some("Not Found"))
    );
    assert!(w
        .engine
        .location
        .lookup("gateway1@example.com", 0)
        .is_empty());
    w.receive(CALLER, &register("bob"));
    assert_eq!(
        final_answer(&mut w, CALLER).status(),
        Some(200),
        "a subscriber, unchallenged"
    );
    // Allowed by the setting, for gateways that register themselves.
    let mut open = trusted_config();
    open.registrar.trusted_may_register_anyone = true;
    let mut w = World::new(open);
    w.receive(CALLER, &register("gateway1"));
    assert_eq!(final_answer(&mut w, CALLER).status(), Some(200));
}

#[test]
fn the_server_header_is_configured() {
    let header = |server_header: Option<&str>| {
        let mut c = config();
        if let Some(value) = server_header {
            c.server_header = value.into();
        }
        let mut w = World::new(c);
        w.receive(
            CALLER,
            &request(
                "OPTIONS",
                "scan",
                "elsewhere.example",
                CALLER,
                "sip:nobody@example.com",
                "s1",
            ),
        );
        final_answer(&mut w, CALLER)
            .header(HeaderName::Server)
            .map(str::to_owned)
    };
    assert_eq!(
        header(None).as_deref(),
        Some("itsp"),
        "no version by default"
    );
    assert_eq!(header(Some("Example SBC")).as_deref(), Some("Example SBC"));
    assert_eq!(header(Some("")), None);
}
