//! Heap-allocation budget of the parser: parsing the typical INVITE of
//! `benches/common/mod.rs` and reading its top Via (branch), From (tag), To, CSeq and Call-ID
//! costs at most two allocations (the header table, and a spare for growth).
//!
//! Counting is per thread (see the `alloc-counter` crate), so the test harness's other
//! threads do not disturb it. `validate()` and the `rsipstack` parser on the same bytes are
//! measured too and printed for information (`cargo test -p sip --test alloc_budget --
//! --nocapture`); only the parse+access path is asserted.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[path = "../benches/common/mod.rs"]
mod common;

use std::hint::black_box;

use alloc_counter::{measure, CountingAlloc};
use bytes::Bytes;
use rsipstack::sip::SipMessage;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// The heap budget of parse + typed access to the headers every transaction reads.
const BUDGET: u64 = 2;

fn sip_parse_and_access(buf: Bytes) -> usize {
    common::sip_access(&sip::Message::parse(buf).unwrap())
}

fn rsipstack_parse_and_access(buf: &[u8]) -> usize {
    common::rsipstack_access(&SipMessage::try_from(buf).unwrap())
}

#[test]
fn parse_and_access_within_budget() {
    // The datagram as a transport hands it over: an owned buffer, made before counting.
    let buf = Bytes::copy_from_slice(common::INVITE);
    // Warm up once so lazily initialised process state (none expected) is not counted.
    black_box(sip_parse_and_access(buf.clone()));

    let buf = Bytes::copy_from_slice(common::INVITE);
    let (n, parse) = measure(|| black_box(sip_parse_and_access(black_box(buf))));
    assert!(n > 0);

    let buf = Bytes::copy_from_slice(common::INVITE);
    let msg = sip::Message::parse(buf).unwrap();
    let (ok, validate) = measure(|| black_box(&msg).validate().is_ok());
    assert!(ok, "the INVITE validates");

    let (n, rsip) = measure(|| black_box(rsipstack_parse_and_access(black_box(common::INVITE))));
    assert!(n > 0);

    println!(
        "sip parse+access: {} allocations, {} reallocations, {} bytes",
        parse.allocs, parse.reallocs, parse.bytes
    );
    println!(
        "sip validate(): {} allocations, {} reallocations, {} bytes",
        validate.allocs, validate.reallocs, validate.bytes
    );
    println!(
        "rsipstack parse+access: {} allocations, {} reallocations, {} bytes",
        rsip.allocs, rsip.reallocs, rsip.bytes
    );
    assert!(
        parse.total() <= BUDGET,
        "parse + access of the INVITE costs {} heap allocations ({parse:?}); the budget is {BUDGET}",
        parse.total()
    );
}
