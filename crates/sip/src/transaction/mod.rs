//! The transaction layer (RFC 3261 §17, updated by RFC 6026): the four transaction state
//! machines, their timers, and the matching of requests and responses to transactions.
//!
//! Sans-IO in the style of `quinn-proto`: [`TransactionLayer`] never touches a socket or a
//! clock. The caller feeds it received messages ([`TransactionLayer::handle`]), the TU's
//! requests and responses ([`TransactionLayer::send_request`],
//! [`TransactionLayer::send_response`]) and the passing of time
//! ([`TransactionLayer::handle_timeout`]), always with the current [`std::time::Instant`];
//! it drains what to send with [`TransactionLayer::poll_transmit`], what to tell the TU
//! with [`TransactionLayer::poll_event`], and when to call back with
//! [`TransactionLayer::poll_timeout`].
//!
//! Addresses are the caller's business: a [`Transmit`] names its transaction, and the
//! caller sends a client transaction's bytes (request retransmissions and the non-2xx ACK,
//! §17.1.1.3) where it sent the request, and a server transaction's bytes where responses
//! to that request go (§18.2.2).
//!
//! ## Machines
//!
//! | machine | RFC | states | timers |
//! |---|---|---|---|
//! | INVITE client | §17.1.1, RFC 6026 §7.2 | Calling, Proceeding, Completed, Accepted | A, B, D, M |
//! | non-INVITE client | §17.1.2 | Trying, Proceeding, Completed | E, F, K |
//! | INVITE server | §17.2.1, RFC 6026 §7.1 | Proceeding, Completed, Confirmed, Accepted | G, H, I, L |
//! | non-INVITE server | §17.2.2 | Trying, Proceeding, Completed | J |
//!
//! The INVITE server transaction does not send `100 Trying` on its own (§17.2.1 lets it do
//! so after 200 ms): in itsp the TU decides, and sends it through
//! [`TransactionLayer::send_response`] like any other response.
//!
//! ## Layout
//!
//! - `mod.rs`: the types the TU sees: [`Incoming`], [`Event`], [`Transmit`],
//!   [`TransactionError`].
//! - `layer.rs`: [`TransactionLayer`]: the table of transactions, matching, the timer queue.
//! - `key.rs`: [`TransactionKey`]: §17.1.3, §17.2.3 (with the RFC 2543 fallback), §9.2.
//! - `timer.rs`: [`TimerConfig`] (T1, T2, T4, the slack of the absorbing timers) and the [`Timer`] names.
//! - `tx.rs`: the per-transaction record and [`State`].
//! - `client.rs`: INVITE and non-INVITE client machines.
//! - `server.rs`: INVITE and non-INVITE server machines.
//! - `ack.rs`: the ACK for a non-2xx final response (§17.1.1.3).

mod ack;
mod client;
mod key;
mod layer;
mod server;
mod timer;
mod tx;

use bytes::Bytes;

use crate::error::ParseError;
use crate::message::Message;

pub use key::{Side, TransactionKey};
pub use layer::TransactionLayer;
pub use timer::{Timer, TimerConfig};
pub use tx::State;

/// What a received message means to the TU, as returned by [`TransactionLayer::handle`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Incoming {
    /// A request that matched no transaction; a server transaction was created for it
    /// (§17.2.3). The TU answers through [`TransactionLayer::send_response`] with `key`.
    NewRequest {
        /// The new server transaction.
        key: TransactionKey,
        /// The request.
        request: Message,
    },
    /// A new CANCEL (§9.2). It has its own non-INVITE server transaction `key`, which the TU
    /// answers (200, or 481 when `invite` is `None`); `invite` is the INVITE server
    /// transaction it matches (same top Via branch and sent-by, or the same RFC 2543
    /// fields), whatever its state.
    Cancel {
        /// The CANCEL's own server transaction.
        key: TransactionKey,
        /// The CANCEL request.
        request: Message,
        /// The INVITE server transaction to cancel, if one matches.
        invite: Option<TransactionKey>,
    },
    /// An ACK for a 2xx sent by the INVITE server transaction `invite`, which is in the
    /// Accepted state (RFC 6026 §7.1). Matched by the dialog (Call-ID, From tag, To tag of
    /// the 2xx) and CSeq number, or by the transaction rules when a peer reuses the branch.
    Ack2xx {
        /// The ACK.
        ack: Message,
        /// The INVITE server transaction that sent the 2xx.
        invite: TransactionKey,
    },
    /// An ACK that matches no transaction: an ACK for a 2xx whose server transaction has
    /// ended, one a proxy forwards, or a stray. The TU matches it to a dialog (§13.3.1.4)
    /// or drops it; ACKs are never answered.
    StrayAck(Message),
    /// A response for client transaction `key`, to pass to the TU: every provisional, the
    /// first final response, and in Accepted every 2xx (RFC 6026 §7.2).
    Response {
        /// The client transaction.
        key: TransactionKey,
        /// The response.
        response: Message,
    },
    /// A response that matches no client transaction (§17.1.3). A UA core drops it
    /// (§8.1.3.2 aside from 2xx retransmissions it may ACK); a proxy forwards it statelessly
    /// (§16.7).
    StrayResponse(Message),
    /// A retransmission, or an ACK for a non-2xx final response, consumed by its
    /// transaction (any retransmission it triggered is queued for
    /// [`TransactionLayer::poll_transmit`]).
    Absorbed,
    /// The message cannot be matched: a response without a usable top Via or CSeq, a
    /// request without a usable top Via, or (RFC 2543 peers, or an ACK or CANCEL) without
    /// the fields its matching needs. Nothing was created; the TU may answer a request
    /// statelessly if it can, and drops a response.
    Malformed {
        /// The message.
        message: Message,
        /// What is missing or malformed.
        error: ParseError,
    },
}

/// Something the TU must learn of that is not a reaction to a received message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The transaction timed out: Timer B (INVITE client, §17.1.1.2) or F (non-INVITE
    /// client, §17.1.2.2) — the TU treats it as a `408 Request Timeout` (§8.1.3.1) — or
    /// Timer H (INVITE server: no ACK for the final response, §17.2.1). A
    /// [`Event::Terminated`] follows.
    Timeout {
        /// The transaction.
        key: TransactionKey,
        /// B, F or H.
        timer: Timer,
    },
    /// The transaction reached Terminated and was forgotten; its key matches nothing now.
    Terminated(TransactionKey),
}

/// Bytes a transaction wants sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// The transaction. Client: send where the request went (the ACK of §17.1.1.3 too).
    /// Server: send where responses to the request go (§18.2.2).
    pub key: TransactionKey,
    /// The whole message.
    pub payload: Bytes,
    /// Whether this is a retransmission (Timers A, E, G, a retransmitted request answered
    /// again, or the ACK re-sent for a retransmitted final response).
    pub retransmission: bool,
}

/// Why the TU's request or response was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransactionError {
    /// [`TransactionLayer::send_request`] was given a response.
    #[error("not a request")]
    NotARequest,
    /// [`TransactionLayer::send_response`] was given a request.
    #[error("not a response")]
    NotAResponse,
    /// ACK is not sent through a client transaction: the INVITE client transaction sends
    /// the ACK for non-2xx itself, and the TU sends the ACK for 2xx directly (§13.2.2.4).
    #[error("ACK does not start a transaction")]
    AckNotATransaction,
    /// The top Via has no `branch` starting with `z9hG4bK` (§8.1.1.7).
    #[error("top Via has no RFC 3261 branch")]
    NoRfc3261Branch,
    /// The request's Via or CSeq is malformed or missing.
    #[error("malformed request: {0}")]
    Malformed(ParseError),
    /// A transaction with this key already exists (the branch was reused).
    #[error("transaction {0} already exists")]
    Duplicate(TransactionKey),
    /// No transaction has this key (never existed, or terminated).
    #[error("no transaction {0}")]
    Unknown(TransactionKey),
    /// Responses go to server transactions only.
    #[error("transaction {0} is not a server transaction")]
    NotServer(TransactionKey),
    /// The state does not take this response: a second final response, anything after a
    /// non-2xx final, or a non-2xx in Accepted.
    #[error("response {status} not allowed in state {state:?}")]
    ResponseNotAllowed {
        /// The transaction's state.
        state: State,
        /// The refused status code.
        status: u16,
    },
}
