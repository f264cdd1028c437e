//! What crosses the engine's edge: the time it is given ([`Now`]), where a message came
//! from ([`Source`]) and where a transaction's messages go ([`Route`]), the datagrams and
//! stream writes it wants sent ([`Transmit`]), the I/O it asks the shell to carry out
//! ([`IoRequest`]) and the answers it is handed back ([`Answer`]).
//!
//! The engine never waits. A routing decision that needs something only the store, DNS or
//! the relay knows stops with a [`Query`]; the engine files the request, emits an
//! [`IoRequest::Query`] with an [`IoId`], and runs the decision again from the top once the
//! shell calls [`crate::engine::Engine::complete`] with the answer (the decision's earlier
//! steps are pure, so running them again is safe; the one that is not, the digest check,
//! is remembered).

use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use sip::sanity::Rejection;
use store::{AccEvent, Address, BindingWrite, CallWrite, Forwarding, Ha1s};
use transport::{Listen, Protocol};

use crate::proxy::Hop;

/// Where a request came from: the packet's source and the local socket it reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Source {
    /// The peer's address (RFC 3581 `received`/`rport`).
    pub(crate) addr: SocketAddr,
    /// The local socket.
    pub(crate) local: Listen,
}

impl Source {
    /// Whether the transport is reliable (no retransmissions, §17.1.1.2).
    pub(crate) fn reliable(&self) -> bool {
        self.local.protocol != Protocol::Udp
    }
}

/// Where the messages of a transaction go: for a server transaction, where its responses
/// go (§18.2.2); for a client transaction, the next hop of its request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Route {
    pub(crate) protocol: Protocol,
    /// The local socket (UDP: the one to send from).
    pub(crate) local: SocketAddr,
    pub(crate) dest: SocketAddr,
}

/// The time of an event, as the shell read it: a monotonic instant for timers and the
/// wall clock for what is stored or shown (expiry times, accounting).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Now {
    /// For timers and intervals.
    pub instant: Instant,
    /// Unix time in milliseconds.
    pub unix_ms: u64,
}

impl Now {
    /// The system clocks now (for the shell; the engine never calls it).
    pub(crate) fn system() -> Now {
        let unix_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        Now {
            instant: Instant::now(),
            unix_ms,
        }
    }

    /// Unix seconds.
    pub(crate) fn unix_secs(self) -> u64 {
        self.unix_ms / 1000
    }

    /// Unix milliseconds as the store keeps them.
    pub(crate) fn unix_ms_i64(self) -> i64 {
        i64::try_from(self.unix_ms).unwrap_or(i64::MAX)
    }

    #[cfg(test)]
    /// `self` moved on by `d` on both clocks (simulated time in tests).
    pub(crate) fn after(self, d: std::time::Duration) -> Now {
        Now {
            instant: self.instant + d,
            unix_ms: self
                .unix_ms
                .saturating_add(u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        }
    }
}

/// Bytes to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Transmit {
    /// The transport.
    pub protocol: Protocol,
    /// The local socket to send from (UDP), if it matters.
    pub local: Option<SocketAddr>,
    /// The destination.
    pub dest: SocketAddr,
    /// The message.
    pub bytes: Bytes,
    /// The client transaction the bytes belong to: a failed send fails its branch
    /// ([`crate::engine::Engine::send_failed`], RFC 3261 §16.9).
    pub client: Option<sip::transaction::TransactionKey>,
}

/// Names one outstanding [`IoRequest`] that has an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct IoId(pub u64);

/// What a routing decision needs to know and only I/O can tell.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Query {
    /// Is this host a domain we serve? (`Store::domain_exists`) → [`Answer::Served`].
    DomainServed(String),
    /// The change counter of a cached table (`Store::table_version`) → [`Answer::Version`].
    TableVersion(&'static str),
    /// A subscriber's digest hashes (`Store::credentials`) → [`Answer::Credentials`].
    Credentials {
        /// Digest username.
        user: String,
        /// Realm (the domain).
        realm: String,
    },
    /// A subscriber's call forwarding (`Store::forwarding`) → [`Answer::Forwarding`].
    Forwarding {
        /// User part.
        user: String,
        /// Domain.
        domain: String,
    },
    /// The subscriber an address (or alias) names (`Store::resolve`) → [`Answer::Subscriber`].
    Resolve {
        /// User part.
        user: String,
        /// Domain.
        domain: String,
    },
    /// Whether a subscriber is in a group (`Store::in_group`) → [`Answer::Served`].
    InGroup {
        /// User part.
        user: String,
        /// Domain.
        domain: String,
        /// Group name.
        group: String,
    },
    /// The next hops of a SIP URI whose host is a name (RFC 3263) → [`Answer::Hops`].
    Locate(String),
}

/// What the shell is asked to do.
#[derive(Debug)]
pub(crate) enum IoRequest {
    /// Answer a [`Query`]; hand the answer to `complete(id, ..)`.
    Query {
        /// Names the answer.
        id: IoId,
        /// The question.
        query: Query,
    },
    /// Commit binding changes to the store in the order given (the registrar's
    /// write-through); `complete(id, Answer::Committed(..))` once committed. The 200 of the
    /// REGISTER waits for it.
    CommitBindings {
        /// Names the answer.
        id: IoId,
        /// The writes.
        writes: Vec<BindingWrite>,
    },
    /// Read the stored bindings of an address-of-record (after a failed commit the store
    /// is the truth) → `complete(id, Answer::Bindings(..))`.
    ReloadBindings {
        /// Names the answer.
        id: IoId,
        /// The address-of-record.
        aor: String,
    },
    /// An exchange with the RTP relay (offer or answer) → `complete(id, Answer::Sdp(..))`.
    RelayExchange {
        /// Names the answer.
        id: IoId,
        /// Offer (true) or answer.
        offer: bool,
        /// What to send.
        request: relay::MediaRequest,
    },
    /// Delete a relay session; nothing comes back (the shell logs the counters).
    RelayDelete {
        /// The call.
        call_id: String,
        /// The From tag of the INVITE that started it.
        from_tag: String,
        /// Why, for the log.
        why: &'static str,
    },
    /// Keep the stream connection to `peer` open at least `for_time` (a registered flow:
    /// the phone is reached through it while its binding lives, RFC 5626 §5.2), past the
    /// transport's idle timeout.
    KeepFlow {
        /// The phone's address on the connection.
        peer: SocketAddr,
        /// How long its binding lives.
        for_time: std::time::Duration,
    },
    /// Write a ban the engine decided to the store (`Store::add_ban`, automatic);
    /// `complete(id, Answer::Committed(..))` once written.
    Ban {
        /// Names the answer.
        id: IoId,
        /// The ban.
        ban: crate::guard::bans::BanWrite,
    },
    /// Drop everything from this source (an address, or an IPv6 /64) in the transports,
    /// before parsing, until `until` (the guard's bans and flood limits).
    Block {
        /// The source.
        source: std::net::IpAddr,
        /// Until when.
        until: Instant,
    },
    /// A phone of `aor` registered anew (a new device or contact, or back from a reboot),
    /// and its binding is committed: fire and forget, for whoever listens
    /// ([`crate::ServerConfig::registrations`]: the media services' message-waiting
    /// indication).
    Registered {
        /// The address of record, `user@domain`.
        aor: String,
    },
    /// Append accounting records and live-call changes (fire and forget; written in
    /// batches by the shell's writer thread).
    Record(Record),
    /// What a prepaid call needs before it is authorised → `complete(id,
    /// Answer::Prepaid(..))`: the caller's account and the tariff of the number dialled.
    Prepaid {
        /// Names the answer.
        id: IoId,
        /// The caller.
        caller: Address,
        /// The number dialled (rated by the caller's plan).
        number: String,
        /// When, Unix seconds (the tariff in force then).
        at_secs: i64,
        /// The newest ledger entry already known, if the account is followed: the money
        /// put in since then comes in the answer.
        after: Option<i64>,
    },
    /// The money put into an account (top-ups, adjustments) after ledger entry `after`
    /// → `complete(id, Answer::Ledger(..))`.
    Ledger {
        /// Names the answer.
        id: IoId,
        /// The account.
        account: Address,
        /// The newest entry already known.
        after: i64,
    },
}

/// What [`IoRequest::Prepaid`] finds of a prepaid caller.
#[derive(Debug, Clone)]
pub(crate) struct PrepaidCaller {
    /// The ledger's balance, and its newest entry.
    pub(crate) balance: billing::Decimal,
    /// The newest ledger entry.
    pub(crate) last_entry: i64,
    /// The account's currency (ISO 4217).
    pub(crate) currency: String,
    /// The money put in after the `after` entry of the request.
    pub(crate) put_in: Vec<(i64, billing::Decimal)>,
    /// The plan and tariff of the number dialled; `None` when no plan prices it.
    pub(crate) tariff: Option<(String, std::sync::Arc<billing::Tariff>)>,
}

/// One accounting change.
#[derive(Debug)]
pub(crate) enum Record {
    /// A row of the `acc` table.
    Acc(AccEvent),
    /// A change of the live-call list.
    Call(CallWrite),
    /// A call detail record: a call attempt ended. `free`: not to be priced (a call
    /// that stayed on this network, with `[billing] on_net = "free"`).
    Cdr {
        /// The record.
        cdr: Box<store::Cdr>,
        /// Not priced.
        free: bool,
    },
    /// What the relay counted of a call whose session ended: for its record (written
    /// a moment before, or in the same batch).
    Media(store::MediaUpdate),
    /// A ledger entry of a running prepaid call: a slice of its credit taken.
    Ledger(store::NewEntry),
    /// How a prepaid call settled: the charge for its record, and the ledger entry that
    /// squares its slices with it, written in one transaction with the record (which
    /// comes after it).
    Settle(Box<Settle>),
}

/// The settlement of a prepaid call ([`Record::Settle`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Settle {
    /// The call.
    pub(crate) call_id: String,
    /// The account that paid.
    pub(crate) account: Address,
    /// The plan that priced it.
    pub(crate) plan: String,
    /// The currency.
    pub(crate) currency: String,
    /// What the call cost.
    pub(crate) charged: billing::Decimal,
    /// What its slices took.
    pub(crate) debited: billing::Decimal,
    /// When it ended, Unix milliseconds.
    pub(crate) at_ms: i64,
}

/// The answer to an [`IoRequest`].
#[derive(Debug, Clone)]
pub(crate) enum Answer {
    /// Yes or no ([`Query::DomainServed`], [`Query::InGroup`]).
    Served(bool),
    /// A table's change counter.
    Version(i64),
    /// Digest hashes, or no such subscriber.
    Credentials(Option<Ha1s>),
    /// Call forwarding settings.
    Forwarding(Forwarding),
    /// The subscriber an address names, if any.
    Subscriber(Option<Address>),
    /// Next hops, or why there are none.
    Hops(Result<Vec<Hop>, Rejection>),
    /// The relay's rewritten SDP; `None` when it refused (the call goes on unchanged).
    Sdp(Option<Bytes>),
    /// The relay refused the SDP's SRTP keys (`relay::RelayError::refuses_call`, logged by
    /// the shell with the reason): the call cannot go on with it (488).
    SdpRefused,
    /// The bindings were committed, or why not.
    Committed(Result<(), String>),
    /// The stored bindings of an address-of-record.
    Bindings(Vec<store::Binding>),
    /// The store failed; the request is answered 500.
    StoreFailed(String),
    /// A prepaid caller's account and tariff; `None`: not a prepaid account (any more).
    Prepaid(Option<PrepaidCaller>),
    /// Money put into an account: `(entry id, amount)`, oldest first.
    Ledger(Vec<(i64, billing::Decimal)>),
}

impl Answer {
    /// Credentials from a store result.
    pub(crate) fn credentials(r: Result<Option<Ha1s>, store::StoreError>) -> Answer {
        r.map_or_else(|e| Answer::StoreFailed(e.to_string()), Answer::Credentials)
    }
}
