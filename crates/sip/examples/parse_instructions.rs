//! Runs parse + access to the top Via, From, To, CSeq and Call-ID of the benchmark INVITE
//! N times with one parser, for instruction counting under `valgrind --tool=callgrind`
//! (repeatable on a shared, noisy machine where wall-clock times drift).
//!
//! `cargo run --release -p sip --example parse_instructions -- sip|rsipstack|none N`;
//! `bench/parse-instructions.sh` runs it under callgrind and prints instructions per parse.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[path = "../benches/common/mod.rs"]
mod common;

use std::hint::black_box;

use bytes::Bytes;
use rsipstack::sip::SipMessage;

fn sip_once(buf: &Bytes) -> usize {
    common::sip_access(&sip::Message::parse(black_box(buf.clone())).unwrap())
}

fn rsipstack_once(bytes: &[u8]) -> usize {
    common::rsipstack_access(&SipMessage::try_from(black_box(bytes)).unwrap())
}

fn main() {
    let mut args = std::env::args().skip(1);
    let which = args.next().unwrap_or_else(|| "sip".into());
    let n: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(10_000);
    let buf = Bytes::from_static(common::INVITE);
    let mut total = 0usize;
    for _ in 0..n {
        total += match which.as_str() {
            "sip" => sip_once(&buf),
            "rsipstack" => rsipstack_once(common::INVITE),
            "none" => black_box(0),
            other => panic!("unknown parser {other:?}: sip, rsipstack or none"),
        };
    }
    println!("{which}: {n} parses, checksum {total}");
}
