//! Overload control: what the engine does with a new request when it has more work than it
//! should hold. Kamailio answers such load with `ratelimit`/`pike` and a 503; RFC 3261
//! §21.5.4 makes `503 Service Unavailable` with `Retry-After` the answer of a server that is
//! temporarily overloaded, and RFC 7339 §1 describes why a server must shed new work
//! early: accepted requests that wait cost memory and make every request late.
//!
//! Two bounds:
//!
//! - the requests waiting for I/O (store, DNS, relay, commits): past
//!   [`OverloadLimits::max_waiting`] new initial requests get `503` with `Retry-After`
//!   through their transaction;
//! - the live transactions: past [`OverloadLimits::max_transactions`] a new initial
//!   request gets its `503` statelessly, without a transaction, so a flood cannot grow
//!   memory (each retransmission gets another 503).
//!
//! In-dialog requests, ACK, CANCEL, responses and OPTIONS to the server (keepalives,
//! monitoring) are always served: they finish work already accepted, or cost nothing.
//! When the load falls the next request is served at once: nothing is remembered.

use sip::{Message, Method};

/// The bounds (`[sip]` settings of `itsp serve`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverloadLimits {
    /// Requests waiting for I/O at most; past it new initial requests get 503.
    pub max_waiting: usize,
    /// Live transactions at most; past it new initial requests get a stateless 503.
    pub max_transactions: usize,
    /// The `Retry-After` of the 503, seconds.
    pub retry_after: u32,
}

/// Default [`OverloadLimits::max_waiting`]: the store answers a query in well under a
/// millisecond, so a few thousand waiting requests means it has fallen seconds behind.
pub(crate) const DEFAULT_MAX_WAITING: usize = 2_000;

/// Default [`OverloadLimits::max_transactions`]: a transaction holds a few kilobytes and
/// lives up to 32 s after its answer (Timer J/H, RFC 3261 §17.2), so 100,000 is about
/// 3,000 requests a second sustained and a few hundred megabytes at most.
pub(crate) const DEFAULT_MAX_TRANSACTIONS: usize = 100_000;

/// Default [`OverloadLimits::retry_after`]: long enough for a queue to drain, short enough
/// that phones come back soon.
pub(crate) const DEFAULT_RETRY_AFTER: u32 = 5;

impl Default for OverloadLimits {
    fn default() -> Self {
        OverloadLimits {
            max_waiting: DEFAULT_MAX_WAITING,
            max_transactions: DEFAULT_MAX_TRANSACTIONS,
            retry_after: DEFAULT_RETRY_AFTER,
        }
    }
}

/// What to do with a request, given the load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Serve it.
    Serve,
    /// Answer 503 through its transaction.
    Refuse,
    /// Answer 503 without a transaction.
    RefuseStatelessly,
}

/// Whether a request is new work that may be refused under load: an initial request (no
/// To tag) other than ACK, CANCEL and OPTIONS.
pub(crate) fn sheddable(request: &Message) -> bool {
    match request.method() {
        Some(Method::Ack | Method::Cancel | Method::Options) | None => false,
        Some(_) => request.to().is_ok_and(|t| t.tag().is_none()),
    }
}

impl OverloadLimits {
    /// The admission of a request before the transaction layer sees it.
    pub(crate) fn before_transaction(&self, request: &Message, transactions: usize) -> Admission {
        if transactions >= self.max_transactions && sheddable(request) {
            Admission::RefuseStatelessly
        } else {
            Admission::Serve
        }
    }

    /// The admission of a new request, with its transaction.
    pub(crate) fn new_request(&self, request: &Message, waiting: usize) -> Admission {
        if waiting >= self.max_waiting && sheddable(request) {
            Admission::Refuse
        } else {
            Admission::Serve
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn request(method: &str, to_tag: &str) -> Message {
        Message::parse(format!(
            "{method} sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.7;branch=z9hG4bK-1\r\n\
From: <sip:a@example.com>;tag=1\r\nTo: <sip:bob@example.com>{to_tag}\r\nCall-ID: c\r\n\
CSeq: 1 {method}\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        ))
        .unwrap()
    }

    #[test]
    fn only_new_work_is_shed() {
        let limits = OverloadLimits {
            max_waiting: 10,
            max_transactions: 100,
            retry_after: 5,
        };
        for method in ["INVITE", "REGISTER", "MESSAGE", "SUBSCRIBE"] {
            let r = request(method, "");
            assert_eq!(limits.new_request(&r, 10), Admission::Refuse, "{method}");
            assert_eq!(limits.new_request(&r, 9), Admission::Serve, "{method}");
            assert_eq!(
                limits.before_transaction(&r, 100),
                Admission::RefuseStatelessly
            );
            assert_eq!(limits.before_transaction(&r, 99), Admission::Serve);
        }
        for (method, tag) in [
            ("BYE", ";tag=2"),
            ("INVITE", ";tag=2"),
            ("ACK", ""),
            ("CANCEL", ""),
            ("OPTIONS", ""),
        ] {
            let r = request(method, tag);
            assert_eq!(limits.new_request(&r, 1000), Admission::Serve, "{method}");
            assert_eq!(limits.before_transaction(&r, 1000), Admission::Serve);
        }
    }
}
