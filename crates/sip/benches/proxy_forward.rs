//! What a stateful proxy does to a request it forwards (RFC 3261 §16.6) and to a response
//! it sends back (§16.7), on the benchmark INVITE of `benches/common/mod.rs`:
//!
//! - `proxy_forward/edit_serialize`: on the parsed INVITE, set the Request-URI to the
//!   registered contact (§16.6 step 2), decrement Max-Forwards (step 3), push our
//!   Record-Route (step 4) and our Via (step 8), and write the message out.
//! - `proxy_forward/parse_edit_serialize`: the same, starting from the received bytes
//!   (parse included): the whole per-request cost of the `sip` crate on the proxy path.
//! - `proxy_forward/edit_reparse`: the edits followed by [`sip::edit::Editor::finish`]
//!   (write and parse back), which is what `server::proxy::forward::build_branch` returns.
//! - `proxy_response/pop_via_serialize`: a 200 for that INVITE with the proxy's Via on top:
//!   pop the Via and write the response out.
//!
//! `benches/parse.rs` has `proxy_edit`, the same edits without the Request-URI.
//! Run with `cargo bench -p sip --bench proxy_forward`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

// Shared with `parse.rs`; this benchmark uses only the message.
#[allow(dead_code)]
mod common;

use std::hint::black_box;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

use common::INVITE;

/// The registered contact the Request-URI is rewritten to.
const CONTACT: &str = "sip:bob@203.0.113.45:5062;transport=udp";
/// Our Via for the branch (a loop hash and a counter after the magic cookie, as the proxy
/// writes it).
const VIA: &str = "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK5f1c0e7d9a2b4c68.1a";
/// Our Record-Route (§16.6 step 4: loose routing, `lr`).
const RECORD_ROUTE: &str = "<sip:192.0.2.10:5060;lr>";

/// The 200 OK the callee sends back for the benchmark INVITE, through this proxy.
const OK_200: &[u8] = b"SIP/2.0 200 OK\r\n\
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK5f1c0e7d9a2b4c68.1a\r\n\
Via: SIP/2.0/UDP proxy1.atlanta.example.com:5060;branch=z9hG4bK2d4790.1\r\n\
Via: SIP/2.0/UDP 198.51.100.23:5060;rport=5060;branch=z9hG4bKnashds8a7f3c1\r\n\
Record-Route: <sip:192.0.2.10:5060;lr>\r\n\
To: \"Bob\" <sip:bob@biloxi.example.com>;tag=a6c85cf\r\n\
From: \"Alice\" <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710f8a3b2c9d1@198.51.100.23\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:bob@203.0.113.45:5062;transport=udp>\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 131\r\n\
\r\n\
v=0\r\n\
o=bob 2808844564 2808844564 IN IP4 203.0.113.45\r\n\
s=-\r\n\
c=IN IP4 203.0.113.45\r\n\
t=0 0\r\n\
m=audio 3456 RTP/AVP 0\r\n\
a=rtpmap:0 PCMU/8000\r\n";

/// The forwarding edits of §16.6, written out.
fn forward(msg: &sip::Message) -> Bytes {
    let mut ed = msg.edit();
    ed.set_request_uri(CONTACT)
        .unwrap()
        .decrement_max_forwards()
        .unwrap()
        .push_record_route(RECORD_ROUTE)
        .unwrap()
        .push_via(VIA)
        .unwrap();
    ed.to_bytes().unwrap()
}

fn proxy_forward(c: &mut Criterion) {
    let buf = Bytes::from_static(INVITE);
    let msg = sip::Message::parse(buf.clone()).unwrap();
    // The result is what the edits say, so the benchmark measures the real work.
    let out = sip::Message::parse(forward(&msg)).unwrap();
    assert_eq!(out.max_forwards().unwrap(), Some(68));
    assert_eq!(out.vias().count(), 3);
    assert_eq!(out.request_uri_str(), Some(CONTACT));
    assert_eq!(
        out.header_values(sip::HeaderName::RecordRoute).next(),
        Some(RECORD_ROUTE)
    );

    let mut group = c.benchmark_group("proxy_forward");
    group.throughput(Throughput::Elements(1));
    group.bench_function("edit_serialize", |b| b.iter(|| forward(black_box(&msg))));
    group.bench_function("parse_edit_serialize", |b| {
        b.iter(|| {
            let msg = sip::Message::parse(black_box(buf.clone())).unwrap();
            forward(&msg)
        })
    });
    group.bench_function("edit_reparse", |b| {
        b.iter(|| {
            let mut ed = black_box(&msg).edit();
            ed.set_request_uri(CONTACT)
                .unwrap()
                .decrement_max_forwards()
                .unwrap()
                .push_record_route(RECORD_ROUTE)
                .unwrap()
                .push_via(VIA)
                .unwrap();
            ed.finish().unwrap()
        })
    });
    group.finish();
}

fn proxy_response(c: &mut Criterion) {
    let msg = sip::Message::parse(Bytes::from_static(OK_200)).unwrap();
    let mut ed = msg.edit();
    assert_eq!(ed.pop_via().as_deref(), Some(VIA));
    let out = sip::Message::parse(ed.to_bytes().unwrap()).unwrap();
    assert_eq!(out.vias().count(), 2);

    let mut group = c.benchmark_group("proxy_response");
    group.throughput(Throughput::Elements(1));
    group.bench_function("pop_via_serialize", |b| {
        b.iter(|| {
            let mut ed = black_box(&msg).edit();
            ed.pop_via().unwrap();
            ed.to_bytes().unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, proxy_forward, proxy_response);
criterion_main!(benches);
