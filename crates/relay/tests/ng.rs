//! The NG server, sans-IO: datagrams in, answers out, on an engine and a fixed clock.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use relay::ng::server::{handle, Clock};
use relay::ng::{frame, split};
use relay::{Bencode, Engine, EngineConfig};

fn engine() -> Engine {
    let mut c = EngineConfig::new([192, 0, 2, 1].into());
    c.port_min = 30000;
    c.port_max = 30999;
    Engine::new(c).unwrap()
}

fn clock(now: Instant) -> Clock {
    Clock {
        now,
        unix_now: 1_700_000_000,
    }
}

fn command(e: &mut Engine, now: Instant, entries: &[(&str, Bencode)]) -> Bencode {
    let mut d = Bencode::dict();
    for (k, v) in entries {
        d.insert(k, v.clone());
    }
    let answer = handle(e, clock(now), &frame(b"5323_1", &d), &mut |_| true).unwrap();
    let (cookie, body) = split(&answer).unwrap();
    assert_eq!(cookie, b"5323_1");
    body
}

fn s(text: &str) -> Bencode {
    Bencode::str(text)
}

fn sdp(port: u16) -> Bencode {
    s(&format!(
        "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio {port} RTP/AVP 0\r\n"
    ))
}

fn result(b: &Bencode) -> &str {
    b.get("result").and_then(Bencode::as_str).unwrap()
}

#[test]
fn ping_answers_pong_with_the_cookie() {
    let mut e = engine();
    let pong = command(&mut e, Instant::now(), &[("command", s("ping"))]);
    assert_eq!(result(&pong), "pong");
}

#[test]
fn malformed_datagrams_get_an_error_or_nothing() {
    let mut e = engine();
    let now = clock(Instant::now());
    assert_eq!(handle(&mut e, now, b"no-space-here", &mut |_| true), None);
    // Found by the fuzzer: an empty or oversized cookie was echoed in an answer no client
    // could read.
    assert_eq!(
        handle(&mut e, now, b" d7:command4:pinge", &mut |_| true),
        None
    );
    let long = [vec![b'c'; 65], b" d7:command4:pinge".to_vec()].concat();
    assert_eq!(handle(&mut e, now, &long, &mut |_| true), None);
    for bad in [&b"ck d7:command4:ping"[..], b"ck i42e", b"ck d3:foo3:bare"] {
        let answer = handle(&mut e, now, bad, &mut |_| true).unwrap();
        let (cookie, body) = split(&answer).unwrap();
        assert_eq!(cookie, b"ck");
        assert_eq!(result(&body), "error", "{}", String::from_utf8_lossy(bad));
        assert!(body.get("error-reason").and_then(Bencode::as_str).is_some());
    }
    let unknown = command(&mut e, Instant::now(), &[("command", s("transmogrify"))]);
    assert_eq!(
        unknown.get("error-reason").and_then(Bencode::as_str),
        Some("unknown command: transmogrify")
    );
}

#[test]
fn offer_answer_query_list_delete() {
    let mut e = engine();
    let t0 = Instant::now();
    let call = ("call-id", s("ng-call"));
    let offer = command(
        &mut e,
        t0,
        &[
            ("command", s("offer")),
            call.clone(),
            ("from-tag", s("ft")),
            ("sdp", sdp(4000)),
            (
                "received-from",
                Bencode::List(vec![s("IP4"), s("198.51.100.9")]),
            ),
            ("flags", Bencode::List(vec![s("SIP-source-address")])),
        ],
    );
    assert_eq!(result(&offer), "ok");
    assert!(offer.get("warning").is_none());
    let text = offer.get("sdp").and_then(Bencode::as_str).unwrap();
    assert!(text.contains("c=IN IP4 192.0.2.1\r\n"), "{text}");
    let t1 = t0 + Duration::from_secs(5);
    let answer = command(
        &mut e,
        t1,
        &[
            ("command", s("answer")),
            call.clone(),
            ("from-tag", s("ft")),
            ("to-tag", s("tt")),
            ("sdp", sdp(5000)),
        ],
    );
    assert_eq!(result(&answer), "ok");
    let query = command(
        &mut e,
        t1 + Duration::from_secs(2),
        &[("command", s("query")), call.clone()],
    );
    assert_eq!(result(&query), "ok");
    assert_eq!(
        query.get("created").and_then(Bencode::as_int),
        Some(1_700_000_000 - 7)
    );
    assert_eq!(
        query.get("last signal").and_then(Bencode::as_int),
        Some(1_700_000_000 - 2)
    );
    let rtp = query.get("totals").and_then(|t| t.get("RTP")).unwrap();
    assert_eq!(rtp.get("packets").and_then(Bencode::as_int), Some(0));
    let ft = query.get("tags").and_then(|t| t.get("ft")).unwrap();
    assert_eq!(
        ft.get("in dialogue with").and_then(Bencode::as_str),
        Some("tt")
    );
    let media = &ft.get("medias").and_then(Bencode::as_list).unwrap()[0];
    assert_eq!(media.get("type").and_then(Bencode::as_str), Some("audio"));
    let streams = media.get("streams").and_then(Bencode::as_list).unwrap();
    assert_eq!(streams.len(), 2, "RTP and RTCP");
    let advertised = streams[0].get("advertised endpoint").unwrap();
    assert_eq!(
        advertised.get("address").and_then(Bencode::as_str),
        Some("198.51.100.9"),
        "SIP-source-address took received-from"
    );
    assert_eq!(advertised.get("port").and_then(Bencode::as_int), Some(4000));

    for n in 0..3 {
        let id = format!("other-{n}");
        command(
            &mut e,
            t1,
            &[
                ("command", s("offer")),
                ("call-id", s(&id)),
                ("from-tag", s("x")),
                ("sdp", sdp(6000)),
            ],
        );
    }
    let list = command(
        &mut e,
        t1,
        &[("command", s("list")), ("limit", Bencode::Int(2))],
    );
    assert_eq!(
        list.get("calls"),
        Some(&Bencode::List(vec![s("ng-call"), s("other-0")]))
    );
    let deleted = command(
        &mut e,
        t1,
        &[
            ("command", s("delete")),
            call.clone(),
            ("from-tag", s("ft")),
        ],
    );
    assert_eq!(result(&deleted), "ok");
    assert!(deleted.get("totals").is_some());
    let gone = command(&mut e, t1, &[("command", s("query")), call]);
    assert_eq!(result(&gone), "error");
    assert_eq!(
        gone.get("error-reason").and_then(Bencode::as_str),
        Some("unknown call-id")
    );
}

#[test]
fn missing_keys_are_named_in_the_error() {
    let mut e = engine();
    let answer = command(
        &mut e,
        Instant::now(),
        &[("command", s("offer")), ("call-id", s("c"))],
    );
    assert_eq!(
        answer.get("error-reason").and_then(Bencode::as_str),
        Some("missing key: from-tag")
    );
    let answer = command(&mut e, Instant::now(), &[("command", s("delete"))]);
    assert_eq!(
        answer.get("error-reason").and_then(Bencode::as_str),
        Some("missing key: call-id")
    );
}

/// Kamailio's `rtpengine_offer("RTP/AVP")` on an SRTP offer: the callee gets plain RTP; an
/// `a=crypto` the relay cannot key is an NG error naming it.
#[test]
fn transport_protocol_bridges_srtp_and_bad_keys_are_errors() {
    let mut e = engine();
    let now = Instant::now();
    let savp = |line: &str| {
        s(&format!(
            "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n\
             m=audio 4000 RTP/SAVP 0\r\na=crypto:1 {line}\r\n"
        ))
    };
    let offer = command(
        &mut e,
        now,
        &[
            ("command", s("offer")),
            ("call-id", s("k1")),
            ("from-tag", s("a")),
            (
                "sdp",
                savp("AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR"),
            ),
            ("transport-protocol", s("RTP/AVP")),
        ],
    );
    assert_eq!(result(&offer), "ok");
    let body = offer.get("sdp").and_then(Bencode::as_str).unwrap();
    assert!(body.contains(" RTP/AVP 0\r\n"), "{body}");
    assert!(!body.contains("a=crypto"), "{body}");
    let bad = command(
        &mut e,
        now,
        &[
            ("command", s("offer")),
            ("call-id", s("k2")),
            ("from-tag", s("a")),
            ("sdp", savp("AES_CM_128_HMAC_SHA1_80 inline:AAAA")),
            ("flags", Bencode::List(vec![s("SDES-off")])),
        ],
    );
    assert_eq!(result(&bad), "error");
    let reason = bad.get("error-reason").and_then(Bencode::as_str).unwrap();
    assert!(
        reason.starts_with("SRTP:") && reason.contains("a=crypto"),
        "{reason}"
    );
}
