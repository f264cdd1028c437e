//! Transaction layer on a simulated clock: every timer of RFC 3261 §17 and RFC 6026, exact
//! retransmission instants, matching (§17.1.3, §17.2.3, RFC 2543 fallback, §9.2 CANCEL).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::time::{Duration, Instant};

use sip::transaction::{
    Event, Incoming, State, Timer, TimerConfig, TransactionError, TransactionKey, TransactionLayer,
    Transmit,
};
use sip::{HeaderName, Message, Method};

// ----- message helpers ----------------------------------------------------------------

fn parse(text: &str) -> Message {
    Message::parse(text.replace('\n', "\r\n").into_bytes()).expect("test message parses")
}

/// A request from 192.0.2.1 with the given Via branch (`None`: no branch parameter).
fn request(method: &str, branch: Option<&str>, sent_by: &str, cseq: u32, extra: &str) -> Message {
    let branch = branch.map(|b| format!(";branch={b}")).unwrap_or_default();
    let cseq_method = if method == "ACK" { "ACK" } else { method };
    parse(&format!(
        "{method} sip:bob@example.com SIP/2.0\n\
         Via: SIP/2.0/UDP {sent_by}{branch}\n\
         Via: SIP/2.0/UDP 198.51.100.7;branch=z9hG4bKupstream\n\
         Max-Forwards: 69\n\
         From: Alice <sip:alice@example.org>;tag=ftag\n\
         To: Bob <sip:bob@example.com>\n\
         Call-ID: call-1@192.0.2.1\n\
         CSeq: {cseq} {cseq_method}\n\
         {extra}Content-Length: 0\n\n"
    ))
}

fn invite(branch: &str) -> Message {
    request("INVITE", Some(branch), "192.0.2.1:5060", 1, "")
}

/// A response to `req` (Vias, From, Call-ID, CSeq copied; To with `to_tag`).
fn response(req: &Message, status: u16, to_tag: Option<&str>) -> Message {
    let mut text = format!("SIP/2.0 {status} Whatever\n");
    for v in req.header_values(HeaderName::Via) {
        text += &format!("Via: {v}\n");
    }
    let to = req.header(HeaderName::To).unwrap();
    let to = match to_tag {
        Some(t) if req.to().unwrap().tag().is_none() => format!("{to};tag={t}"),
        _ => to.to_string(),
    };
    text += &format!(
        "From: {}\nTo: {to}\nCall-ID: {}\nCSeq: {}\nContent-Length: 0\n\n",
        req.header(HeaderName::From).unwrap(),
        req.header(HeaderName::CallId).unwrap(),
        req.header(HeaderName::CSeq).unwrap(),
    );
    parse(&text)
}

// ----- clock helpers ------------------------------------------------------------------

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn secs_f(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// Runs the simulated clock from `base` to `base + until`, firing timers exactly at their
/// deadlines. Returns the transmits and events with their offsets from `base`.
type Timed<T> = Vec<(Duration, T)>;

fn run(
    layer: &mut TransactionLayer,
    base: Instant,
    until: Duration,
) -> (Timed<Transmit>, Timed<Event>) {
    let mut transmits = Vec::new();
    let mut events = Vec::new();
    while let Some(at) = layer.poll_timeout() {
        if at > base + until {
            break;
        }
        layer.handle_timeout(at);
        while let Some(t) = layer.poll_transmit() {
            transmits.push((at - base, t));
        }
        while let Some(e) = layer.poll_event() {
            events.push((at - base, e));
        }
    }
    (transmits, events)
}

fn drain(layer: &mut TransactionLayer) -> Vec<Transmit> {
    std::iter::from_fn(|| layer.poll_transmit()).collect()
}

fn events(layer: &mut TransactionLayer) -> Vec<Event> {
    std::iter::from_fn(|| layer.poll_event()).collect()
}

fn times(transmits: &[(Duration, Transmit)]) -> Vec<f64> {
    transmits.iter().map(|(d, _)| secs_f(*d)).collect()
}

fn new_request(r: Incoming) -> (TransactionKey, Message) {
    match r {
        Incoming::NewRequest { key, request } => (key, request),
        other => panic!("expected NewRequest, got {other:?}"),
    }
}

fn response_key(r: Incoming) -> (TransactionKey, u16) {
    match r {
        Incoming::Response { key, response } => (key, response.status().unwrap()),
        other => panic!("expected Response, got {other:?}"),
    }
}

fn assert_absorbed(r: Incoming) {
    assert!(
        matches!(r, Incoming::Absorbed),
        "expected Absorbed, got {r:?}"
    );
}

// ----- INVITE client (§17.1.1, RFC 6026 §7.2) -------------------------------------------

#[test]
fn invite_client_timer_a_doubles_and_timer_b_times_out() {
    let t0 = Instant::now();
    let mut layer = TransactionLayer::default();
    let key = layer.send_request(t0, invite("z9hG4bKa1"), false).unwrap();
    assert!(key.is_client() && key.is_invite());
    assert_eq!(layer.state(&key), Some(State::Calling));
    let first = drain(&mut layer);
    assert_eq!(first.len(), 1);
    assert!(!first[0].retransmission);
    assert_eq!(layer.poll_timeout(), Some(t0 + ms(500)));

    let (tx, ev) = run(&mut layer, t0, Duration::from_secs(60));
    // Timer A: T1, 2T1, 4T1, ... without a cap (§17.1.1.2); Timer B at 64*T1.
    assert_eq!(times(&tx), vec![0.5, 1.5, 3.5, 7.5, 15.5, 31.5]);
    assert!(tx.iter().all(|(_, t)| t.retransmission && t.key == key));
    assert_eq!(
        ev,
        vec![
            (
                ms(32_000),
                Event::Timeout {
                    key: key.clone(),
                    timer: Timer::B
                }
            ),
            (ms(32_000), Event::Terminated(key.clone())),
        ]
    );
    assert!(layer.is_empty());
    assert_eq!(layer.poll_timeout(), None);
}

#[test]
fn invite_client_reliable_has_no_timer_a() {
    let t0 = Instant::now();
    let mut layer = TransactionLayer::default();
    let key = layer.send_request(t0, invite("z9hG4bKa2"), true).unwrap();
    assert_eq!(drain(&mut layer).len(), 1);
    assert_eq!(layer.poll_timeout(), Some(t0 + ms(32_000)));
    let (tx, ev) = run(&mut layer, t0, Duration::from_secs(60));
    assert!(tx.is_empty());
    assert_eq!(
        ev[0].1,
        Event::Timeout {
            key,
            timer: Timer::B
        }
    );
}

#[test]
fn invite_client_custom_t1() {
    let t0 = Instant::now();
    let config = TimerConfig {
        t1: ms(100),
        ..TimerConfig::default()
    };
    let mut layer = TransactionLayer::new(config);
    layer.send_request(t0, invite("z9hG4bKa3"), false).unwrap();
    drain(&mut layer);
    let (tx, ev) = run(&mut layer, t0, Duration::from_secs(60));
    assert_eq!(times(&tx), vec![0.1, 0.3, 0.7, 1.5, 3.1, 6.3]);
    assert_eq!(ev[0].0, ms(6_400));
}

#[test]
fn invite_client_provisional_stops_a_and_b() {
    let t0 = Instant::now();
    let mut layer = TransactionLayer::default();
    let req = invite("z9hG4bKa4");
    let key = layer.send_request(t0, req.clone(), false).unwrap();
    drain(&mut layer);
    let r = layer.handle(t0 + ms(100), response(&req, 100, None), false);
    assert_eq!(response_key(r), (key.clone(), 100));
    assert_eq!(layer.state(&key), Some(State::Proceeding));
    // Every provisional goes up, retransmitted or not.
    let r = layer.handle(t0 + ms(200), response(&req, 180, Some("tt")), false);
    assert_eq!(response_key(r).1, 180);
    let r = layer.handle(t0 + ms(300), response(&req, 180, Some("tt")), false);
    assert_eq!(response_key(r).1, 180);
    assert_eq!(layer.poll_timeout(), None);
    let (tx, ev) = run(&mut layer, t0, Duration::from_secs(100));
    assert!(tx.is_empty() && ev.is_empty());
    assert_eq!(layer.state(&key), Some(State::Proceeding));
}

#[test]
fn invite_client_non_2xx_sends_ack_and_timer_d_absorbs_retransmissions() {
    let t0 = Instant::now();
    let mut layer = TransactionLayer::default();
    let req = request(
        "INVITE",
        Some("z9hG4bKd1"),
        "192.0.2.1:5060",
        7,
        "Route: <sip:p1.example.net;lr>\nRoute: <sip:p2.example.net;lr>\nContact: <sip:alice@192.0.2.1>\n",
    );
    let key = layer.send_request(t0, req.clone(), false).unwrap();
    drain(&mut layer);
    // Timer A retransmission at 0.5 s, then a 486 at 1 s.
    layer.handle_timeout(t0 + ms(500));
    assert_eq!(drain(&mut layer).len(), 1);
    assert_eq!(
        layer.request(&key).map(Message::as_bytes),
        Some(req.as_bytes()),
        "kept while it may be cancelled"
    );
    let busy = response(&req, 486, Some("uas"));
    let r = layer.handle(t0 + ms(1_000), busy.clone(), false);
    assert_eq!(response_key(r), (key.clone(), 486));
    assert_eq!(layer.state(&key), Some(State::Completed));
    // Settled: the request is gone (no CANCEL after a final response, §9.1); the ACK
    // below is kept for the retransmitted 486s.
    assert!(layer.request(&key).is_none());

    let sent = drain(&mut layer);
    assert_eq!(sent.len(), 1);
    assert!(!sent[0].retransmission);
    assert_eq!(sent[0].key, key);
    let ack = Message::parse(sent[0].payload.clone()).unwrap();
    assert_eq!(ack.method(), Some(&Method::Ack));
    assert_eq!(ack.request_uri_str(), Some("sip:bob@example.com"));
    let vias: Vec<_> = ack.vias().map(|v| v.unwrap().sent_by).collect();
    assert_eq!(vias, vec!["192.0.2.1:5060"]);
    assert_eq!(ack.top_via().unwrap().branch(), Some("z9hG4bKd1"));
    let routes: Vec<_> = ack.header_values(HeaderName::Route).collect();
    assert_eq!(
        routes,
        vec!["<sip:p1.example.net;lr>", "<sip:p2.example.net;lr>"]
    );
    assert_eq!(ack.to().unwrap().tag(), Some("uas"));
    assert_eq!(ack.from().unwrap().tag(), Some("ftag"));
    assert_eq!(ack.call_id().unwrap(), "call-1@192.0.2.1");
    let cseq = ack.cseq().unwrap();
    assert_eq!((cseq.seq, cseq.method), (7, "ACK"));
    assert_eq!(ack.max_forwards().unwrap(), Some(69));
    assert!(ack.header(HeaderName::Contact).is_none());

    // A retransmitted 486 is absorbed and ACKed again.
    let r = layer.handle(t0 + ms(2_000), busy.clone(), false);
    assert_absorbed(r);
    let again = drain(&mut layer);
    assert_eq!(again.len(), 1);
    assert!(again[0].retransmission);
    assert_eq!(again[0].payload, sent[0].payload);

    // Timer D: 32 s after the 486; no more retransmissions of the INVITE.
    assert_eq!(layer.poll_timeout(), Some(t0 + ms(33_000)));
    let (tx, ev) = run(&mut layer, t0, Duration::from_secs(60));
    assert!(tx.is_empty());
    assert_eq!(ev, vec![(ms(33_000), Event::Terminated(key.clone()))]);
    let r = layer.handle(t0 + ms(34_000), busy, false);
    assert!(matches!(r, Incoming::StrayResponse(_)));
}

#[test]
fn invite_client_reliable_timer_d_is_zero() {
    let t0 = Instant::now();
    let mut layer = TransactionLayer::default();
    let req = invite("z9hG4bKd2");
    let key = layer.send_request(t0, req.clone(), true).unwrap();
    drain(&mut layer);
    let r = layer.handle(t0 + ms(10), response(&req, 503, Some("x")), true);
    assert_eq!(response_key(r).1, 503);
    let sent = drain(&mut layer);
    assert_eq!(sent.len(), 1, "the ACK");
    assert_eq!(events(&mut layer), vec![Event::Terminated(key.clone())]);
    assert_eq!(layer.state(&key), None);
    assert_eq!(layer.poll_timeout(), None);
}

#[test]
fn invite_client_2xx_accepted_and_timer_m() {
    let t0 = Instant::now();
    let mut layer = TransactionLayer::default();
    let req = invite("z9hG4bKm1");
    let key = layer.send_request(t0, req.clone(), false).unwrap();
    drain(&mut layer);
    let ok = response(&req, 200, Some("b1"));
    let r = layer.handle(t0 + ms(1_000), ok.clone(), false);
    assert_eq!(response_key(r), (key.clone(), 200));
    assert_eq!(layer.state(&key), Some(State::Accepted));
    // RFC 6026: the TU ACKs 2xx itself; retransmitted and forked 2xx go to the TU.
    assert!(drain(&mut layer).is_empty());
    let r = layer.handle(t0 + ms(1_500), ok, false);
    assert_eq!(response_key(r).1, 200);
    let r = layer.handle(t0 + ms(1_600), response(&req, 200, Some("b2")), false);
    assert_eq!(response_key(r).1, 200);
    assert_absorbed(layer.handle(t0 + ms(1_700), response(&req, 486, Some("b3")), false));
    assert_absorbed(layer.handle(t0 + ms(1_800), response(&req, 180, Some("b1")), false));
    assert!(drain(&mut layer).is_empty());
    // Timer M = 64*T1 after the first 2xx, also on reliable transports.
    let (tx, ev) = run(&mut layer, t0, Duration::from_secs(60));
    assert!(tx.is_empty());
    assert_eq!(ev, vec![(ms(33_000), Event::Terminated(key))]);
}

#[test]
fn invite_client_reliable_still_has_timer_m() {
    let t0 = Instant::now();
    let mut layer = TransactionLayer::default();
    let req = invite("z9hG4bKm2");
    let key = layer.send_request(t0, req.clone(), true).unwrap();
    layer.handle(t0, response(&req, 200, Some("b1")), true);
    assert_eq!(layer.state(&key), Some(State::Accepted));
    assert_eq!(layer.poll_timeout(), Some(t0 + ms(32_000)));
}

// ----- non-INVITE client (§17.1.2) ----------------------------------------------------

fn register(branch: &str) -> Message {
    request("REGISTER", Some(branch), "192.0.2.1:5060", 2, "")
}

#[test]
fn non_invite_client_timer_e_capped_at_t2_and_timer_f() {
    let t0 = Instant::now();
    let mut layer = TransactionLayer::default();
    let key = layer
        .send_request(t0, register("z9hG4bKe1"), false)
        .unwrap();
    assert_eq!(layer.state(&key), Some(State::Trying));
    drain(&mut layer);
    let (tx, ev) = run(&mut layer, t0, Duration::from_secs(60));
    assert_eq!(
        times(&tx),
        vec![0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    );
    assert_eq!(
        ev,
        vec![
            (
                ms(32_000),
                Event::Timeout {
                    key: key.clone(),
                    timer: Timer::F
                }
            ),
            (ms(32_000), Event::Terminated(key)),
        ]
    );
}

#[test]
fn non_invite_client_after_provisional_e_is_t2() {
    let t0 = Instant::now();
    let mut layer = TransactionLayer::default();
    let req = register("z9hG4bKe2");
    let key = layer.send_request(t0, req.clone(), false).unwrap();
    drain(&mut layer);
    layer.handle_timeout(t0 + ms(500));
    layer.handle_timeout(t0 + ms(1_500));
    assert_eq!(drain(&mut layer).len(), 2);
    // Provisional at 2 s: the running E (due 3.5 s) fires, then every T2.
    let r = layer.handle(t0 + ms(2_000), response(&req, 100, None), false);
    assert_eq!(response_key(r), (key.clone(), 100));
    assert_eq!(layer.state(&key), Some(State::Proceeding));
    let (tx, ev) = run(&mut layer, t0, Duration::from_secs(60));
    assert_eq!(
        times(&tx),
        vec![3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    );
    assert_eq!(ev[0].0, ms(32_000));

    // Provisional before the first E: E at 0.5 s, then T2 steps.
    let mut layer = TransactionLayer::default();
    let req = register("z9hG4bKe3");
    layer.send_request(t0, req.clone(), false).unwrap();
    drain(&mut layer);
    layer.handle(t0 + ms(200), response(&req, 100, None), false);
    let (tx, _) = run(&mut layer, t0, Duration::from_secs(60));
    assert_eq!(
        times(&tx),
        vec![0.5, 4.5, 8.5, 12.5, 16.5, 20.5, 24.5, 28.5]
    );
}

#[test]
fn non_invite_client_timer_k() {
    let t0 = Instant::now();
    let mut layer = TransactionLayer::default();
    let req = register("z9hG4bKk1");
    let key = layer.send_request(t0, req.clone(), false).unwrap();
    drain(&mut layer);
    let ok = response(&req, 200, Some("r"));
    let r = layer.handle(t0 + ms(700), ok.clone(), false);
    assert_eq!(response_key(r), (key.clone(), 200));
    assert_eq!(layer.state(&key), Some(State::Completed));
    // Retransmitted final responses are absorbed; no request retransmission any more.
    assert_absorbed(layer.handle(t0 + ms(900), ok.clone(), false));
    assert_eq!(layer.poll_timeout(), Some(t0 + ms(5_700)));
    let (tx, ev) = run(&mut layer, t0, Duration::from_secs(60));
    assert!(tx.is_empty());
    assert_eq!(ev, vec![(ms(5_700), Event::Terminated(key))]);
    assert!(matches!(
        layer.handle(t0 + ms(6_000), ok, false),
        Incoming::StrayResponse(_)
    ));
}

#[test]
fn non_invite_client_reliable_timer_k_is_zero() {
    let t0 = Instant::now();
    let mut layer = TransactionLayer::default();
    let req = register("z9hG4bKk2");
    let key = layer.send_request(t0, req.clone(), true).unwrap();
    drain(&mut layer);
    assert_eq!(layer.poll_timeout(), Some(t0 + ms(32_000)), "F only");
    let r = layer.handle(t0 + ms(10), response(&req, 401, Some("r")), true);
    assert_eq!(response_key(r).1, 401);
    assert_eq!(events(&mut layer), vec![Event::Terminated(key)]);
    assert!(layer.is_empty());
}

// ----- INVITE server (§17.2.1, RFC 6026 §7.1) -------------------------------------------

#[test]
fn invite_server_retransmits_provisional_then_g_until_h() {
    let t0 = Instant::now();
    let mut layer = TransactionLayer::default();
    let req = invite("z9hG4bKg1");
    let (key, got) = new_request(layer.handle(t0, req.clone(), false));
    assert!(key.is_server() && key.is_invite());
    assert_eq!(got.as_bytes(), req.as_bytes());
    assert_eq!(layer.state(&key), Some(State::Proceeding));
    // No 100 of its own; nothing to retransmit yet.
    assert_absorbed(layer.handle(t0 + ms(100), req.clone(), false));
    assert!(drain(&mut layer).is_empty());
    assert_eq!(layer.poll_timeout(), None);

    let ringing = response(&req, 180, Some("s1"));
    layer
        .send_response(t0 + ms(200), &key, ringing.clone())
        .unwrap();
    let sent = drain(&mut layer);
    assert_eq!(sent.len(), 1);
    assert!(!sent[0].retransmission);
    assert_absorbed(layer.handle(t0 + ms(300), req.clone(), false));
    let again = drain(&mut layer);
    assert_eq!(again.len(), 1);
    assert!(again[0].retransmission);
    assert_eq!(again[0].payload, *ringing.as_bytes());

    let busy = response(&req, 486, Some("s1"));
    layer.send_response(t0, &key, busy.clone()).unwrap();
    assert_eq!(layer.state(&key), Some(State::Completed));
    drain(&mut layer);
    let (tx, ev) = run(&mut layer, t0, Duration::from_secs(60));
    // Timer G: T1 doubling up to T2; Timer H at 64*T1.
    assert_eq!(
        times(&tx),
        vec![0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    );
    assert!(tx.iter().all(|(_, t)| t.payload == *busy.as_bytes()));
    assert_eq!(
        ev,
        vec![
            (
                ms(32_000),
                Event::Timeout {
                    key: key.clone(),
                    timer: Timer::H
                }
            ),
            (ms(32_000), Event::Terminated(key)),
        ]
    );
}

#[test]
fn invite_server_completed_retransmits_final_on_invite_retransmission() {
    let t0 = Instant::now();
    let mut layer = TransactionLayer::default();
    let req = invite("z9hG4bKg2");
    let (key, _) = new_request(layer.handle(t0, req.clone(), false));
    let busy = response(&req, 486, Some("s1"));
    layer.send_response(t0, &key, busy.clone()).unwrap();
    drain(&mut layer);
    assert_absorbed(layer.handle(t0 + ms(100), req, false));
    let again = drain(&mut layer);
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].payload, *busy.as_bytes());
    // A second final response is refused.
    let err = layer
        .send_response(t0, &key, response(&invite("z9hG4bKg2"), 500, Some("s1")))
        .unwrap_err();
    assert_eq!(
        err,
        TransactionError::ResponseNotAllowed {
            state: State::Completed,
            status: 500
        }
    );
}

#[test]
fn invite_server_ack_stops_g_and_timer_i_absorbs_acks() {
    let t0 = Instant::now();
    let mut layer = TransactionLayer::default();
    let req = invite("z9hG4bKi1");
    let (key, _) = new_request(layer.handle(t0, req.clone(), false));
    layer
        .send_response(t0, &key, response(&req, 404, Some("s1")))
        .unwrap();
    drain(&mut layer);
    layer.handle_timeout(t0 + ms(500));
    assert_eq!(drain(&mut layer).len(), 1, "G at 0.5 s");

    let ack = parse(
        "ACK sip:bob@example.com SIP/2.0\n\
         Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKi1\n\
         Max-Forwards: 70\n\
         From: Alice <sip:alice@example.org>;tag=ftag\n\
         To: Bob <sip:bob@example.com>;tag=s1\n\
         Call-ID: call-1@192.0.2.1\n\
         CSeq: 1 ACK\n\n",
    );
    assert_absorbed(layer.handle(t0 + ms(700), ack.clone(), false));
    assert_eq!(layer.state(&key), Some(State::Confirmed));
    assert_eq!(layer.poll_timeout(), Some(t0 + ms(5_700)), "Timer I = T4");
    assert_absorbed(layer.handle(t0 + ms(800), ack.clone(), false));
    assert_absorbed(layer.handle(t0 + ms(900), req, false));
    assert!(drain(&mut layer).is_empty());
    let (tx, ev) = run(&mut layer, t0, Duration::from_secs(60));
    assert!(tx.is_empty());
    assert_eq!(ev, vec![(ms(5_700), Event::Terminated(key))]);
    assert!(matches!(
        layer.handle(t0 + ms(6_000), ack, false),
        Incoming::StrayAck(_)
    ));
}

#[test]
fn invite_server_reliable_no_g_and_timer_i_zero() {
    let t0 = Instant::now();
    let mut layer = TransactionLayer::default();
    let req = invite("z9hG4bKi2");
    let (key, _) = new_request(layer.handle(t0, req.clone(), true));
    layer
        .send_response(t0, &key, response(&req, 600, Some("s1")))
        .unwrap();
    assert_eq!(drain(&mut layer).len(), 1);
    assert_eq!(layer.poll_timeout(), Some(t0 + ms(32_000)), "H only");
    let ack = request("ACK", Some("z9hG4bKi2"), "192.0.2.1:5060", 1, "");
    assert_absorbed(layer.handle(t0 + ms(50), ack, true));
    assert_eq!(events(&mut layer), vec![Event::Terminated(key)]);
    assert!(layer.is_empty());
    assert_eq!(layer.poll_timeout(), None);
}

#[test]
fn invite_server_2xx_accepted_timer_l() {
    let t0 = Instant::now();
    let mut layer = TransactionLayer::default();
    let req = invite("z9hG4bKl1");
    let (key, _) = new_request(layer.handle(t0, req.clone(), false));
    let ok = response(&req, 200, Some("s1"));
    layer.send_response(t0, &key, ok.clone()).unwrap();
    assert_eq!(layer.state(&key), Some(State::Accepted));
    assert_eq!(drain(&mut layer).len(), 1);
    // RFC 6026 §7.1: INVITE retransmissions are absorbed without an answer; the TU's own
    // 2xx retransmissions pass; no Timer G.
    assert_absorbed(layer.handle(t0 + ms(100), req.clone(), false));
    assert!(drain(&mut layer).is_empty());
    layer.send_response(t0 + ms(500), &key, ok.clone()).unwrap();
    assert_eq!(drain(&mut layer).len(), 1);
    assert!(matches!(
        layer.send_response(t0 + ms(600), &key, response(&req, 486, Some("s1"))),
        Err(TransactionError::ResponseNotAllowed {
            state: State::Accepted,
            status: 486
        })
    ));

    // The ACK for the 2xx has a new branch; it goes to the TU.
    let ack = parse(
        "ACK sip:bob@192.0.2.9 SIP/2.0\n\
         Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKnewack\n\
         Max-Forwards: 70\n\
         From: Alice <sip:alice@example.org>;tag=ftag\n\
         To: Bob <sip:bob@example.com>;tag=s1\n\
         Call-ID: call-1@192.0.2.1\n\
         CSeq: 1 ACK\n\n",
    );
    match layer.handle(t0 + ms(700), ack.clone(), false) {
        Incoming::Ack2xx { ack: a, invite } => {
            assert_eq!(invite, key);
            assert_eq!(a.as_bytes(), ack.as_bytes());
        }
        other => panic!("expected Ack2xx, got {other:?}"),
    }
    // Timer L = 64*T1 from the first 2xx.
    let (tx, ev) = run(&mut layer, t0, Duration::from_secs(60));
    assert!(tx.is_empty());
    assert_eq!(ev, vec![(ms(32_000), Event::Terminated(key))]);
    assert!(matches!(
        layer.handle(t0 + ms(33_000), ack, false),
        Incoming::StrayAck(_)
    ));
    // After Timer L a retransmitted INVITE is new again.
    new_request(layer.handle(t0 + ms(33_000), req, false));
}

// ----- non-INVITE server (§17.2.2) ----------------------------------------------------

#[test]
fn non_invite_server_timer_j_absorbs_retransmissions() {
    let t0 = Instant::now();
    let mut layer = TransactionLayer::default();
    let req = request("OPTIONS", Some("z9hG4bKj1"), "192.0.2.1:5060", 3, "");
    let (key, _) = new_request(layer.handle(t0, req.clone(), false));
    assert_eq!(layer.state(&key), Some(State::Trying));
    // Trying: retransmissions are absorbed silently.
    assert_absorbed(layer.handle(t0 + ms(500), req.clone(), false));
    assert!(drain(&mut layer).is_empty());
    let trying = response(&req, 100, None);
    layer
        .send_response(t0 + ms(600), &key, trying.clone())
        .unwrap();
    assert_eq!(layer.state(&key), Some(State::Proceeding));
    drain(&mut layer);
    assert_absorbed(layer.handle(t0 + ms(1_500), req.clone(), false));
    assert_eq!(drain(&mut layer)[0].payload, *trying.as_bytes());
    assert_eq!(
        layer.request(&key).map(Message::as_bytes),
        Some(req.as_bytes())
    );

    let ok = response(&req, 200, Some("s"));
    layer
        .send_response(t0 + ms(2_000), &key, ok.clone())
        .unwrap();
    assert_eq!(layer.state(&key), Some(State::Completed));
    // Completed keeps the response's bytes for retransmissions, not the request.
    assert!(layer.request(&key).is_none());
    assert_eq!(drain(&mut layer).len(), 1);
    assert_absorbed(layer.handle(t0 + ms(3_500), req.clone(), false));
    let again = drain(&mut layer);
    assert_eq!(again.len(), 1);
    assert!(again[0].retransmission);
    assert_eq!(again[0].payload, *ok.as_bytes());
    assert!(layer.send_response(t0, &key, ok).is_err());
    let (tx, ev) = run(&mut layer, t0, Duration::from_secs(60));
    assert!(tx.is_empty(), "no retransmission timer on the server side");
    assert_eq!(ev, vec![(ms(34_000), Event::Terminated(key))]);
}

/// A layer whose absorbing timers fire on a one-second grid, as the server's do.
fn layer_with_one_second_slack() -> TransactionLayer {
    TransactionLayer::new(TimerConfig {
        absorb_slack: Duration::from_secs(1),
        ..TimerConfig::default()
    })
}

#[test]
fn absorbing_timers_with_slack_end_together_on_a_grid() {
    let t0 = Instant::now();
    let mut layer = layer_with_one_second_slack();
    // Three OPTIONS answered at 0, 0.3 and 0.9 s: their Timers J are due at 32, 32.3 and
    // 32.9 s. The first one fixes the grid: 32, 33, ...
    let mut requests = Vec::new();
    for (i, at) in [0, 300, 900].into_iter().enumerate() {
        let req = request(
            "OPTIONS",
            Some(&format!("z9hG4bKs{i}")),
            "192.0.2.1:5060",
            1,
            "",
        );
        let (key, _) = new_request(layer.handle(t0 + ms(at), req.clone(), false));
        layer
            .send_response(t0 + ms(at), &key, response(&req, 200, Some("s")))
            .unwrap();
        requests.push((key, req));
    }
    drain(&mut layer);
    assert_eq!(layer.poll_timeout(), Some(t0 + ms(32_000)));
    layer.handle_timeout(t0 + ms(32_000));
    assert_eq!(layer.len(), 2);
    // Past its deadline but within the slack, the last one still absorbs a retransmission
    // (and answers it with its response again).
    assert_eq!(layer.poll_timeout(), Some(t0 + ms(33_000)));
    let (last_key, last_request) = &requests[2];
    assert_absorbed(layer.handle(t0 + ms(32_950), last_request.clone(), false));
    assert_eq!(drain(&mut layer).len(), 1);
    // One wake-up ends both.
    layer.handle_timeout(t0 + ms(33_000));
    assert!(layer.is_empty());
    let ended = events(&mut layer);
    assert_eq!(ended.len(), 3);
    assert!(ended.contains(&Event::Terminated(last_key.clone())));

    // Later deadlines keep to the grid: Timer K of a REGISTER answered at 40.7 s is due at
    // 45.7 s and fires at 46 s.
    let req = register("z9hG4bKs9");
    let key = layer
        .send_request(t0 + ms(40_000), req.clone(), false)
        .unwrap();
    drain(&mut layer);
    let r = layer.handle(t0 + ms(40_700), response(&req, 200, Some("r")), false);
    assert_eq!(response_key(r), (key, 200));
    assert_eq!(layer.poll_timeout(), Some(t0 + ms(46_000)));
}

#[test]
fn an_absorbing_deadline_before_the_grid_origin_is_less_than_a_step_late() {
    let t0 = Instant::now();
    let mut layer = layer_with_one_second_slack();
    // Timer J of an OPTIONS answered at once: due at 32 s, the grid's origin.
    let options = request("OPTIONS", Some("z9hG4bKo1"), "192.0.2.1:5060", 1, "");
    let (key, _) = new_request(layer.handle(t0, options.clone(), false));
    layer
        .send_response(t0, &key, response(&options, 200, Some("s")))
        .unwrap();
    // Timer K of a REGISTER answered at 0.7 s: due at 5.7 s, before the origin; the grid
    // runs backwards from it too, so 6 s.
    let req = register("z9hG4bKo2");
    let key = layer.send_request(t0, req.clone(), false).unwrap();
    drain(&mut layer);
    let r = layer.handle(t0 + ms(700), response(&req, 200, Some("r")), false);
    assert_eq!(response_key(r), (key.clone(), 200));
    assert_eq!(layer.poll_timeout(), Some(t0 + ms(6_000)));
    layer.handle_timeout(t0 + ms(6_000));
    assert_eq!(events(&mut layer), vec![Event::Terminated(key)]);
    assert_eq!(layer.poll_timeout(), Some(t0 + ms(32_000)));
}

#[test]
fn timeouts_and_retransmissions_ignore_the_slack() {
    let t0 = Instant::now();
    let mut layer = layer_with_one_second_slack();
    layer.send_request(t0, invite("z9hG4bKs8"), false).unwrap();
    drain(&mut layer);
    let (tx, ev) = run(&mut layer, t0, Duration::from_secs(60));
    assert_eq!(times(&tx), vec![0.5, 1.5, 3.5, 7.5, 15.5, 31.5]);
    assert_eq!(ev[0].0, ms(32_000), "Timer B on time");
}

#[test]
fn non_invite_server_reliable_timer_j_is_zero() {
    let t0 = Instant::now();
    let mut layer = TransactionLayer::default();
    let req = request("BYE", Some("z9hG4bKj2"), "192.0.2.1:5060", 3, "");
    let (key, _) = new_request(layer.handle(t0, req.clone(), true));
    layer
        .send_response(t0, &key, response(&req, 200, Some("s")))
        .unwrap();
    assert_eq!(drain(&mut layer).len(), 1);
    assert_eq!(events(&mut layer), vec![Event::Terminated(key)]);
    assert!(layer.is_empty());
}

// ----- matching ----------------------------------------------------------------------

#[test]
fn cancel_matches_the_invite_server_transaction() {
    let t0 = Instant::now();
    let mut layer = TransactionLayer::default();
    let req = invite("z9hG4bKc1");
    let (invite_key, _) = new_request(layer.handle(t0, req.clone(), false));
    let cancel = request("CANCEL", Some("z9hG4bKc1"), "192.0.2.1:5060", 1, "");
    let cancel_key = match layer.handle(t0 + ms(100), cancel.clone(), false) {
        Incoming::Cancel {
            key,
            request,
            invite,
        } => {
            assert_eq!(invite, Some(invite_key.clone()));
            assert_eq!(request.method(), Some(&Method::Cancel));
            key
        }
        other => panic!("expected Cancel, got {other:?}"),
    };
    assert_ne!(cancel_key, invite_key);
    assert_eq!(cancel_key.method(), &Method::Cancel);
    assert_eq!(cancel_key.branch(), invite_key.branch());
    assert_eq!(layer.len(), 2);
    // A retransmitted CANCEL belongs to its own transaction.
    assert_absorbed(layer.handle(t0 + ms(200), cancel, false));
    layer
        .send_response(
            t0,
            &cancel_key,
            response(&invite("z9hG4bKc1"), 200, Some("s")),
        )
        .unwrap();
    layer
        .send_response(t0, &invite_key, response(&req, 487, Some("s")))
        .unwrap();
    assert_eq!(layer.state(&invite_key), Some(State::Completed));

    // A CANCEL for an unknown INVITE, or from another sent-by, matches nothing.
    let other = request("CANCEL", Some("z9hG4bKc2"), "192.0.2.1:5060", 1, "");
    assert!(matches!(
        layer.handle(t0, other, false),
        Incoming::Cancel { invite: None, .. }
    ));
    let other = request("CANCEL", Some("z9hG4bKc1"), "192.0.2.99:5060", 1, "");
    assert!(matches!(
        layer.handle(t0, other, false),
        Incoming::Cancel { invite: None, .. }
    ));
}

#[test]
fn client_cancel_is_a_separate_transaction_on_the_same_branch() {
    let t0 = Instant::now();
    let mut layer = TransactionLayer::default();
    let inv = invite("z9hG4bKcc");
    let inv_key = layer.send_request(t0, inv.clone(), false).unwrap();
    layer.handle(t0, response(&inv, 180, Some("s")), false);
    let cancel = request("CANCEL", Some("z9hG4bKcc"), "192.0.2.1:5060", 1, "");
    let cancel_key = layer
        .send_request(t0 + ms(100), cancel.clone(), false)
        .unwrap();
    assert_ne!(inv_key, cancel_key);
    let r = layer.handle(t0 + ms(200), response(&cancel, 200, Some("s")), false);
    assert_eq!(response_key(r), (cancel_key, 200));
    let r = layer.handle(t0 + ms(300), response(&inv, 487, Some("s")), false);
    assert_eq!(response_key(r), (inv_key.clone(), 487));
    assert_eq!(layer.state(&inv_key), Some(State::Completed));
}

#[test]
fn server_matching_uses_sent_by_and_method() {
    let t0 = Instant::now();
    let mut layer = TransactionLayer::default();
    let a = request("OPTIONS", Some("z9hG4bKs1"), "192.0.2.1:5060", 1, "");
    let b = request("OPTIONS", Some("z9hG4bKs1"), "192.0.2.2:5060", 1, "");
    let c = request("INFO", Some("z9hG4bKs1"), "192.0.2.1:5060", 1, "");
    let (ka, _) = new_request(layer.handle(t0, a, false));
    let (kb, _) = new_request(layer.handle(t0, b, false));
    let (kc, _) = new_request(layer.handle(t0, c, false));
    assert!(ka != kb && ka != kc && kb != kc);
    // Branch and sent-by host compare case-insensitively.
    let a3 = parse(
        "OPTIONS sip:bob@example.com SIP/2.0\n\
         Via: SIP/2.0/UDP HOST.example:5060;branch=z9hG4bKCase\n\
         From: <sip:a@b>;tag=1\nTo: <sip:c@d>\nCall-ID: x\nCSeq: 1 OPTIONS\n\n",
    );
    let a4 = parse(
        "OPTIONS sip:bob@example.com SIP/2.0\n\
         Via: SIP/2.0/UDP host.example:5060;branch=z9hG4bKcase\n\
         From: <sip:a@b>;tag=1\nTo: <sip:c@d>\nCall-ID: x\nCSeq: 1 OPTIONS\n\n",
    );
    new_request(layer.handle(t0, a3, false));
    assert_absorbed(layer.handle(t0, a4, false));
}

#[test]
fn rfc2543_matching_without_magic_cookie() {
    let t0 = Instant::now();
    let mut layer = TransactionLayer::default();
    let req = request("INVITE", Some("old1"), "192.0.2.1:5060", 5, "");
    let (key, _) = new_request(layer.handle(t0, req.clone(), false));
    assert!(key.is_rfc2543());
    assert_eq!(key.branch(), None);
    // Same fields: a retransmission, even without any branch.
    let trying = response(&req, 100, None);
    layer.send_response(t0, &key, trying).unwrap();
    drain(&mut layer);
    assert_absorbed(layer.handle(t0 + ms(500), req.clone(), false));
    assert_eq!(drain(&mut layer).len(), 1);
    // A different CSeq is a different transaction.
    let other = request("INVITE", Some("old1"), "192.0.2.1:5060", 6, "");
    new_request(layer.handle(t0, other, false));
    // A request with no branch at all.
    let nobranch = request("INVITE", None, "192.0.2.1:5060", 9, "");
    let (k2, _) = new_request(layer.handle(t0, nobranch.clone(), false));
    assert_absorbed(layer.handle(t0, nobranch, false));

    // The 486 carries a To tag; the ACK matches through it, not through the INVITE's.
    layer
        .send_response(t0, &key, response(&req, 486, Some("uas")))
        .unwrap();
    let ack = |to_tag: &str| {
        parse(&format!(
            "ACK sip:bob@example.com SIP/2.0\n\
             Via: SIP/2.0/UDP 192.0.2.1:5060;branch=old1\n\
             Via: SIP/2.0/UDP 198.51.100.7;branch=z9hG4bKupstream\n\
             From: Alice <sip:alice@example.org>;tag=ftag\n\
             To: Bob <sip:bob@example.com>;tag={to_tag}\n\
             Call-ID: call-1@192.0.2.1\n\
             CSeq: 5 ACK\n\n"
        ))
    };
    assert!(matches!(
        layer.handle(t0 + ms(100), ack("wrong"), false),
        Incoming::StrayAck(_)
    ));
    assert_eq!(layer.state(&key), Some(State::Completed));
    assert_absorbed(layer.handle(t0 + ms(100), ack("uas"), false));
    assert_eq!(layer.state(&key), Some(State::Confirmed));

    // CANCEL by the RFC 2543 fields.
    let cancel = request("CANCEL", None, "192.0.2.1:5060", 9, "");
    assert!(matches!(
        layer.handle(t0, cancel, false),
        Incoming::Cancel { invite: Some(k), .. } if k == k2
    ));
}

#[test]
fn stray_and_malformed_messages() {
    let t0 = Instant::now();
    let mut layer = TransactionLayer::default();
    let req = invite("z9hG4bKx1");
    layer.send_request(t0, req.clone(), false).unwrap();
    // Unknown branch, known branch with another CSeq method, branch without cookie.
    let unknown = response(&invite("z9hG4bKother"), 200, Some("t"));
    assert!(matches!(
        layer.handle(t0, unknown, false),
        Incoming::StrayResponse(_)
    ));
    let wrong_method = response(&request("BYE", Some("z9hG4bKx1"), "h", 1, ""), 200, None);
    assert!(matches!(
        layer.handle(t0, wrong_method, false),
        Incoming::StrayResponse(_)
    ));
    let old = response(&request("INVITE", Some("old"), "h", 1, ""), 200, None);
    assert!(matches!(
        layer.handle(t0, old, false),
        Incoming::StrayResponse(_)
    ));

    // No Via, no CSeq: reported, not matched.
    let no_via = parse(
        "SIP/2.0 200 OK\nFrom: <sip:a@b>;tag=1\nTo: <sip:c@d>\nCall-ID: x\nCSeq: 1 INVITE\n\n",
    );
    assert!(matches!(
        layer.handle(t0, no_via, false),
        Incoming::Malformed { .. }
    ));
    let no_cseq = parse(
        "SIP/2.0 200 OK\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKx1\nFrom: <sip:a@b>;tag=1\nTo: <sip:c@d>\nCall-ID: x\n\n",
    );
    assert!(matches!(
        layer.handle(t0, no_cseq, false),
        Incoming::Malformed { .. }
    ));
    let bad_via = parse("SIP/2.0 200 OK\nVia: garbage\nCSeq: 1 INVITE\n\n");
    assert!(matches!(
        layer.handle(t0, bad_via, false),
        Incoming::Malformed { .. }
    ));
    let req_no_via = parse("OPTIONS sip:a@b SIP/2.0\nCSeq: 1 OPTIONS\n\n");
    assert!(matches!(
        layer.handle(t0, req_no_via, false),
        Incoming::Malformed { .. }
    ));
    let old_no_cseq = parse(
        "OPTIONS sip:a@b SIP/2.0\nVia: SIP/2.0/UDP h;branch=1\nFrom: <sip:a@b>;tag=1\nTo: <sip:c@d>\nCall-ID: x\n\n",
    );
    assert!(matches!(
        layer.handle(t0, old_no_cseq, false),
        Incoming::Malformed { .. }
    ));
    let ack_no_via = parse("ACK sip:a@b SIP/2.0\nCSeq: 1 ACK\n\n");
    assert!(matches!(
        layer.handle(t0, ack_no_via, false),
        Incoming::Malformed { .. }
    ));
    // An ACK with an unknown branch and no dialog.
    let stray = request("ACK", Some("z9hG4bKnothing"), "h", 1, "");
    assert!(matches!(
        layer.handle(t0, stray, false),
        Incoming::StrayAck(_)
    ));
    assert_eq!(layer.len(), 1);
}

#[test]
fn send_errors() {
    let t0 = Instant::now();
    let mut layer = TransactionLayer::default();
    let req = invite("z9hG4bKerr");
    let key = layer.send_request(t0, req.clone(), false).unwrap();
    assert_eq!(
        layer.send_request(t0, req.clone(), false),
        Err(TransactionError::Duplicate(key.clone()))
    );
    assert_eq!(
        layer.send_request(t0, request("OPTIONS", Some("nocookie"), "h", 1, ""), false),
        Err(TransactionError::NoRfc3261Branch)
    );
    assert_eq!(
        layer.send_request(t0, request("ACK", Some("z9hG4bKack"), "h", 1, ""), false),
        Err(TransactionError::AckNotATransaction)
    );
    assert_eq!(
        layer.send_request(t0, response(&req, 200, None), false),
        Err(TransactionError::NotARequest)
    );
    assert!(matches!(
        layer.send_request(
            t0,
            parse("OPTIONS sip:a@b SIP/2.0\nCSeq: 1 OPTIONS\n\n"),
            false
        ),
        Err(TransactionError::Malformed(_))
    ));
    assert_eq!(
        layer.send_response(t0, &key, response(&req, 200, None)),
        Err(TransactionError::NotServer(key.clone()))
    );
    let (skey, _) = new_request(layer.handle(t0, invite("z9hG4bKsrv"), false));
    assert_eq!(
        layer.send_response(t0, &skey, req.clone()),
        Err(TransactionError::NotAResponse)
    );
    assert!(layer.terminate(&skey));
    assert!(!layer.terminate(&skey));
    assert_eq!(events(&mut layer), vec![Event::Terminated(skey.clone())]);
    assert_eq!(
        layer.send_response(t0, &skey, response(&req, 200, None)),
        Err(TransactionError::Unknown(skey))
    );
}

#[test]
fn many_transactions_share_one_timer_queue() {
    let t0 = Instant::now();
    let mut layer = TransactionLayer::default();
    for i in 0..50u64 {
        let at = t0 + ms(i * 10);
        layer
            .send_request(at, register(&format!("z9hG4bKmany{i}")), i % 2 == 0)
            .unwrap();
    }
    assert_eq!(drain(&mut layer).len(), 50);
    // The first unreliable one (i = 1) retransmits first.
    assert_eq!(layer.poll_timeout(), Some(t0 + ms(500 + 10)));
    let (tx, ev) = run(&mut layer, t0, Duration::from_secs(100));
    // 25 unreliable transactions × 10 retransmissions; 50 timeouts and terminations.
    assert_eq!(tx.len(), 25 * 10);
    assert!(tx.iter().all(|(_, t)| t.retransmission));
    assert_eq!(ev.len(), 100);
    assert_eq!(ev.last().map(|(d, _)| *d), Some(ms(32_000 + 490)));
    assert!(layer.is_empty());
}

#[test]
fn send_request_checks_cseq_method() {
    let mut layer = TransactionLayer::default();
    let bad = parse(
        "BYE sip:a@b SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bKcs\nFrom: <sip:a@b>;tag=1\n\
         To: <sip:c@d>\nCall-ID: x\nCSeq: 1 INVITE\n\n",
    );
    assert!(matches!(
        layer.send_request(Instant::now(), bad, false),
        Err(TransactionError::Malformed(_))
    ));
    assert!(layer.is_empty());
}

#[test]
fn rfc2543_ack_for_2xx_goes_to_the_tu() {
    let t0 = Instant::now();
    let mut layer = TransactionLayer::default();
    let req = request("INVITE", None, "192.0.2.1:5060", 5, "");
    let (key, _) = new_request(layer.handle(t0, req.clone(), false));
    layer
        .send_response(t0, &key, response(&req, 200, Some("uas")))
        .unwrap();
    let ack = parse(
        "ACK sip:bob@example.com SIP/2.0\n\
         Via: SIP/2.0/UDP 192.0.2.1:5060\n\
         Via: SIP/2.0/UDP 198.51.100.7;branch=z9hG4bKupstream\n\
         From: Alice <sip:alice@example.org>;tag=ftag\n\
         To: Bob <sip:bob@example.com>;tag=uas\n\
         Call-ID: call-1@192.0.2.1\n\
         CSeq: 5 ACK\n\n",
    );
    assert!(matches!(
        layer.handle(t0 + ms(10), ack, false),
        Incoming::Ack2xx { invite, .. } if invite == key
    ));
}

mod random {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        Send { invite: bool, reliable: bool, n: u8 },
        Receive { invite: bool, n: u8, status: u16 },
        Request { method: u8, n: u8, reliable: bool },
        Respond { pick: u8, status: u16 },
        Advance(u32),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (any::<bool>(), any::<bool>(), 0u8..4).prop_map(|(invite, reliable, n)| Op::Send {
                invite,
                reliable,
                n
            }),
            (any::<bool>(), 0u8..4, 100u16..700).prop_map(|(invite, n, status)| Op::Receive {
                invite,
                n,
                status
            }),
            (0u8..5, 0u8..4, any::<bool>()).prop_map(|(method, n, reliable)| Op::Request {
                method,
                n,
                reliable
            }),
            (any::<u8>(), 100u16..700).prop_map(|(pick, status)| Op::Respond { pick, status }),
            (0u32..40_000).prop_map(Op::Advance),
        ]
    }

    proptest! {
        #[test]
        fn never_panics_and_timers_stay_consistent(ops in proptest::collection::vec(op(), 1..60)) {
            let t0 = Instant::now();
            let mut now = t0;
            let mut layer = TransactionLayer::default();
            let mut servers: Vec<TransactionKey> = Vec::new();
            for op in ops {
                match op {
                    Op::Send { invite: inv, reliable, n } => {
                        let m = if inv { "INVITE" } else { "OPTIONS" };
                        let r = request(m, Some(&format!("z9hG4bKp{n}")), "192.0.2.1", 1, "");
                        let _ = layer.send_request(now, r, reliable);
                    }
                    Op::Receive { invite: inv, n, status } => {
                        let m = if inv { "INVITE" } else { "OPTIONS" };
                        let r = request(m, Some(&format!("z9hG4bKp{n}")), "192.0.2.1", 1, "");
                        let _ = layer.handle(now, response(&r, status, Some("t")), false);
                    }
                    Op::Request { method, n, reliable } => {
                        let m = ["INVITE", "ACK", "CANCEL", "BYE", "INVITE"][method as usize];
                        let branch = if method == 4 { format!("old{n}") } else { format!("z9hG4bKq{n}") };
                        let r = request(m, Some(&branch), "192.0.2.1", 1, "");
                        if let Incoming::NewRequest { key, .. } | Incoming::Cancel { key, .. } =
                            layer.handle(now, r, reliable)
                        {
                            servers.push(key);
                        }
                    }
                    Op::Respond { pick, status } => {
                        if !servers.is_empty() {
                            let key = servers[pick as usize % servers.len()].clone();
                            let r = request(key.method().as_str(), Some("z9hG4bKx"), "h", 1, "");
                            let _ = layer.send_response(now, &key, response(&r, status, Some("t")));
                        }
                    }
                    Op::Advance(d) => {
                        now += ms(u64::from(d));
                        layer.handle_timeout(now);
                        if let Some(next) = layer.poll_timeout() {
                            prop_assert!(next > now);
                        }
                    }
                }
                while layer.poll_transmit().is_some() {}
                while let Some(e) = layer.poll_event() {
                    if let Event::Terminated(k) = e {
                        prop_assert!(layer.state(&k).is_none());
                    }
                }
            }
            // Far in the future only transactions waiting for the TU remain, none with timers.
            now += Duration::from_secs(3_600);
            layer.handle_timeout(now);
            prop_assert_eq!(layer.poll_timeout(), None);
        }
    }
}
