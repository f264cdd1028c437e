//! Parser throughput on a typical INVITE (`benches/common/mod.rs`):
//!
//! - `parse_access/sip`: `Message::parse` and typed access to the top Via (branch), From
//!   (tag), To, CSeq and Call-ID: what every transaction does with a request.
//! - `parse_access/rsipstack`: the same work with the `rsipstack` parser, for comparison.
//! - `proxy_edit`: a proxy's forwarding edits (push Via, push Record-Route, decrement
//!   Max-Forwards) and serialization of the parsed INVITE.
//! - `frame`: finding the end of the INVITE on a stream.
//! - `steps/*`: sub-steps of the sip path, to see where the time goes.
//!
//! Run with `cargo bench -p sip --bench parse`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::hint::black_box;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rsipstack::sip::SipMessage;
use sip::framing::{frame, Frame, DEFAULT_MAX_MESSAGE};

use common::{rsipstack_access, sip_access, INVITE};

fn parse_access(c: &mut Criterion) {
    let buf = Bytes::from_static(INVITE);
    let mut group = c.benchmark_group("parse_access");
    group.throughput(Throughput::Bytes(INVITE.len() as u64));
    group.bench_function("sip", |b| {
        b.iter(|| {
            let msg = sip::Message::parse(black_box(buf.clone())).unwrap();
            sip_access(&msg)
        })
    });
    group.bench_function("rsipstack", |b| {
        b.iter(|| {
            let msg = SipMessage::try_from(black_box(INVITE)).unwrap();
            rsipstack_access(&msg)
        })
    });
    group.finish();
}

fn steps(c: &mut Criterion) {
    let buf = Bytes::from_static(INVITE);
    let msg = sip::Message::parse(buf.clone()).unwrap();
    let mut group = c.benchmark_group("steps");
    group.bench_function("sip_parse_only", |b| {
        b.iter(|| sip::Message::parse(black_box(buf.clone())).unwrap())
    });
    group.bench_function("sip_access_only", |b| {
        b.iter(|| sip_access(black_box(&msg)))
    });
    group.bench_function("sip_top_via", |b| {
        b.iter(|| black_box(&msg).top_via().unwrap().branch().unwrap().len())
    });
    group.bench_function("sip_from_to", |b| {
        b.iter(|| {
            let m = black_box(&msg);
            m.from().unwrap().tag().unwrap().len() + m.to().unwrap().uri.len()
        })
    });
    group.bench_function("sip_validate", |b| {
        b.iter(|| black_box(&msg).validate().unwrap())
    });
    group.bench_function("rsipstack_parse_only", |b| {
        b.iter(|| SipMessage::try_from(black_box(INVITE)).unwrap())
    });
    group.finish();
}

fn proxy_edit(c: &mut Criterion) {
    let msg = sip::Message::parse(Bytes::from_static(INVITE)).unwrap();
    c.bench_function("proxy_edit", |b| {
        b.iter(|| {
            let mut ed = black_box(&msg).edit();
            ed.push_via("SIP/2.0/UDP proxy2.biloxi.example.com:5060;branch=z9hG4bK776asdhds.0")
                .unwrap()
                .push_record_route("<sip:proxy2.biloxi.example.com;lr>")
                .unwrap()
                .decrement_max_forwards()
                .unwrap();
            ed.to_bytes().unwrap()
        })
    });
}

fn framing(c: &mut Criterion) {
    c.bench_function("frame", |b| {
        b.iter(|| {
            let f = frame(black_box(INVITE), DEFAULT_MAX_MESSAGE).unwrap();
            assert_eq!(f, Frame::Message { len: INVITE.len() });
        })
    });
}

criterion_group!(benches, parse_access, steps, proxy_edit, framing);
criterion_main!(benches);
