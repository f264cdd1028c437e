//! The [`Hook`] trait and what it is shown: the phases of the message path a feature can
//! take part in (see [`crate::policy`] for the phases and the order of the hooks), the
//! [`HookCx`] it works with, and the [`Flow`] it answers.
//!
//! This module knows no feature: the features (`nat`, `media_relay`, `accounting`) import
//! it, and [`crate::policy::hooks`] lists them.

use std::net::{IpAddr, SocketAddr};

use sip::Message;

use crate::engine::addresses::Addresses;
use crate::engine::io::Source;
use crate::engine::io::{Answer, IoId, IoRequest, Now};
use crate::proxy::Forward;

/// What a hook says about the message it was shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    /// Go on.
    Continue,
    /// Hold the message until the answer to this request reaches the hook's `resume_*`.
    Wait(IoId),
    /// Forward nothing: answer the request with this final response (`on_forward` and
    /// `resume_forward` only; elsewhere it counts as [`Flow::Continue`]). Prepaid billing
    /// refuses a call without credit with `402 Payment Required`.
    Refuse {
        /// The status code.
        code: u16,
        /// The reason phrase.
        reason: &'static str,
    },
}

/// Why the proxy ended an answered call itself ([`HookCx::hang_up`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum EndReason {
    /// The caller's prepaid credit ran out.
    Credit,
    /// The operator ended it (`itsp hangup`).
    Admin,
    /// It reached `[proxy] max_call_duration`.
    MaxDuration,
    /// The relay saw no media from either side for its idle timeout: the phones are gone.
    NoMedia,
    /// The caller never acknowledged the 2xx (RFC 3261 §13.3.1.4): it vanished right
    /// after the answer.
    NoAck,
    /// The session timer ran out without a refresh (RFC 4028 §10): both phones are gone.
    SessionExpired,
}

impl EndReason {
    /// The word in call records and logs: `credit`, `admin`, `max duration`, `no media`,
    /// `no ACK`, `session expired`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            EndReason::Credit => "credit",
            EndReason::Admin => "admin",
            EndReason::MaxDuration => "max duration",
            EndReason::NoMedia => "no media",
            EndReason::NoAck => "no ACK",
            EndReason::SessionExpired => "session expired",
        }
    }
}

/// A call a hook asked the engine to end ([`HookCx::hang_up`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HangUp {
    /// Its Call-ID.
    pub(crate) call_id: String,
    /// Why.
    pub(crate) reason: EndReason,
}

/// Where a response came from, for the hooks that look at who sent it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Arrival {
    /// Its source.
    pub(crate) source: SocketAddr,
    /// The socket of ours it reached.
    pub(crate) local: transport::Listen,
    /// Whether the sender looked to be behind a NAT ([`crate::nat`]).
    pub(crate) natted: bool,
}

/// A change in the life of a call the proxy stays in (record-routed initial INVITEs).
#[derive(Debug, Clone, Copy)]
pub(crate) enum DialogEvent<'a> {
    /// The INVITE was forwarded: the call rings.
    Started {
        /// The INVITE as received.
        invite: &'a Message,
        /// Where it came from.
        source: IpAddr,
        /// It stays on this network (to a subscriber or a service).
        on_net: bool,
    },
    /// A final response went to the caller: answered (2xx) or failed.
    Settled {
        /// The INVITE as received.
        invite: &'a Message,
        /// The final status.
        code: u16,
        /// Its reason phrase.
        reason: &'a str,
        /// The callee's tag.
        to_tag: Option<&'a str>,
        /// Who answered: the Contact URI of a 2xx (the phone, forwarding target or gateway
        /// that took the call).
        answered_by: Option<&'a str>,
        /// The proxy made the response itself (Timer C's 408, no destination answered),
        /// rather than passing on a callee's.
        made_here: bool,
    },
    /// The main route refused an initial INVITE itself (403, 404, 480 for an offline
    /// user, 484, ...): a call attempt that never rang. Challenges (401, 407) are not
    /// refusals.
    Refused {
        /// The INVITE as received.
        invite: &'a Message,
        /// Where it came from.
        source: IpAddr,
        /// The final status.
        code: u16,
        /// Its reason phrase.
        reason: &'a str,
    },
    /// A BYE passed through: the call ended, hung up by whoever sent it.
    Ended {
        /// The BYE.
        bye: &'a Message,
    },
    /// The proxy ended an answered call itself: it sent BYE to both parties
    /// ([`HookCx::hang_up`]).
    EndedHere {
        /// The call's Call-ID.
        call_id: &'a str,
        /// Why.
        reason: EndReason,
    },
}

/// Which way a tapped message went (also [`crate::capture::Direction`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Received.
    In,
    /// Sent (each retransmission again).
    Out,
}

/// A message as it crossed the wire, shown to the tap.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tapped<'a> {
    /// In or out.
    pub(crate) direction: Direction,
    /// The transport.
    pub(crate) protocol: transport::Protocol,
    /// Our socket: the one it reached, or the one it leaves from when that matters
    /// (`None`: any socket of the transport).
    pub(crate) local: Option<SocketAddr>,
    /// The peer: where it came from, or where it goes.
    pub(crate) remote: SocketAddr,
    /// The message as on the wire (a capture keeps it with a reference count, no copy).
    pub(crate) bytes: &'a bytes::Bytes,
}

/// What a hook may use: the time, our addresses, the queue of I/O requests (a request
/// that has an answer gets an [`IoId`] from [`HookCx::ask`]), and the calls to end
/// ([`HookCx::hang_up`]). A hook's settings are its own, given when
/// [`crate::policy::hooks`] makes it.
pub(crate) struct HookCx<'a> {
    pub(crate) now: Now,
    pub(crate) addresses: &'a mut Addresses,
    pub(crate) io: &'a mut IoQueue,
    pub(crate) hang_ups: &'a mut Vec<HangUp>,
}

/// The I/O requests the engine has for the shell, in order.
#[derive(Debug, Default)]
pub(crate) struct IoQueue {
    next_id: u64,
    pub(crate) queue: std::collections::VecDeque<IoRequest>,
}

impl IoQueue {
    /// A fresh id for a request whose answer will come back.
    pub(crate) fn id(&mut self) -> IoId {
        self.next_id += 1;
        IoId(self.next_id)
    }

    /// Queues a request.
    pub(crate) fn push(&mut self, request: IoRequest) {
        self.queue.push_back(request);
    }
}

impl HookCx<'_> {
    /// Queues `make(id)` and answers its id.
    pub(crate) fn ask(&mut self, make: impl FnOnce(IoId) -> IoRequest) -> IoId {
        let id = self.io.id();
        self.io.push(make(id));
        id
    }

    /// Asks the engine to end answered call `call_id`: BYE to both parties, then the
    /// `on_dialog` hooks hear [`DialogEvent::EndedHere`]. A call the proxy does not know
    /// as answered (not record-routed, not answered yet, already ended) is left alone.
    pub(crate) fn hang_up(&mut self, call_id: &str, reason: EndReason) {
        self.hang_ups.push(HangUp {
            call_id: call_id.to_owned(),
            reason,
        });
    }
}

/// A feature in the message path. Every method has a do-nothing default; a feature
/// implements the phases it needs. See the module docs.
pub(crate) trait Hook: Send {
    /// A request about to be forwarded; `forward` says where and how, and may be changed.
    fn on_forward(
        &mut self,
        _cx: &mut HookCx<'_>,
        _request: &Message,
        _source: Source,
        _forward: &mut Forward,
    ) -> Flow {
        Flow::Continue
    }

    /// The answer to the request an `on_forward` waited for; the hook may wait again or
    /// refuse the request.
    fn resume_forward(
        &mut self,
        _cx: &mut HookCx<'_>,
        _id: IoId,
        _answer: Answer,
        _forward: &mut Forward,
    ) -> Flow {
        Flow::Continue
    }

    /// A response about to go upstream through its server transaction (our Via removed).
    /// `arrival` is `None` for a response made here.
    fn on_response(
        &mut self,
        _cx: &mut HookCx<'_>,
        _response: &Message,
        _arrival: Option<Arrival>,
    ) -> Flow {
        Flow::Continue
    }

    /// The answer to the request an `on_response` waited for; returns the response to
    /// send.
    fn resume_response(
        &mut self,
        _cx: &mut HookCx<'_>,
        _id: IoId,
        _answer: Answer,
        response: Message,
    ) -> Message {
        response
    }

    /// A response forwarded without a transaction; returns what to forward.
    fn on_stray_response(&mut self, _cx: &mut HookCx<'_>, response: Message) -> Message {
        response
    }

    /// The failure phase (the seed's `failure_route`): a call set-up failed on every
    /// branch with `code` (busy, no answer, offline, an error), and the caller did not
    /// cancel it. A hook that takes the call elsewhere (voicemail, an announcement) puts
    /// its targets into `forward` (whose targets are spent) and returns `true`: the first
    /// that does wins, and the INVITE is forwarded again on the same server transaction,
    /// through the `on_forward` hooks. Forwarding to a subscriber's own busy and
    /// no-answer targets comes before this phase ([`crate::proxy::Fallbacks`]).
    fn on_failure(
        &mut self,
        _cx: &mut HookCx<'_>,
        _invite: &Message,
        _code: u16,
        _forward: &mut Forward,
    ) -> bool {
        false
    }

    /// A call changed.
    fn on_dialog(&mut self, _cx: &mut HookCx<'_>, _event: DialogEvent<'_>) {}

    /// Whether this hook wants the tap ([`Hook::on_tap`]). Asked once when the engine is
    /// made, so that a server with no tapping hook pays nothing per message.
    fn taps(&self) -> bool {
        false
    }

    /// The tap: every message in (as received, before the guards; malformed ones too)
    /// and out (each retransmission too), at `now` (SIP capture, metrics).
    fn on_tap(&mut self, _now: Now, _tapped: &Tapped<'_>) {}

    /// When [`Hook::on_timeout`] is next due (prepaid billing: the end of a call's paid
    /// time).
    fn poll_timeout(&self) -> Option<std::time::Instant> {
        None
    }

    /// Called when the time [`Hook::poll_timeout`] gave has come.
    fn on_timeout(&mut self, _cx: &mut HookCx<'_>) {}

    /// The answer to a request the hook asked for outside a `Flow::Wait` (from
    /// `on_timeout`, `on_dialog`...); returns whether it was the hook's. Every hook is
    /// offered an answer nobody else waits for.
    fn on_answer(&mut self, _cx: &mut HookCx<'_>, _id: IoId, _answer: &Answer) -> bool {
        false
    }

    /// Live calls this hook follows (for the log at shutdown).
    fn live_calls(&self) -> Option<usize> {
        None
    }
}
