//! Routing policy as phases, the way `ser.cfg` splits it into `route`, `branch_route`,
//! `onreply_route` and `failure_route`, and pingora into filters.
//!
//! - The main route ([`route`]) decides what a new request gets: a reply, the registrar, or
//!   forwarding to targets. It reads top to bottom like the seed's `ser.cfg`.
//! - Everything that cuts across calls is a [`Hook`]: one module per feature, told of the
//!   phases it cares about, in the order [`hooks`] lists them:
//!   - `on_forward`: a request about to be forwarded (after the route, before its branches
//!     start): NAT Contact fix, the relay's offer;
//!   - `on_response`: a response about to go upstream, after transaction matching only
//!     (retransmissions and strays never get here): the relay's answer;
//!   - `on_stray_response`: a response forwarded without a transaction (a 2xx
//!     retransmission): the relay's remembered rewrite, no exchange;
//!   - `on_dialog`: a call started, was answered, failed, or ended with who hung up:
//!     accounting, the relay session's end.
//!
//!   Forwarding on busy and no answer is the proxy context's failure phase
//!   ([`crate::proxy::Fallbacks`]); the route puts its targets there.
//! - A hook that needs I/O (the relay's SDP exchange) asks for it and returns
//!   [`Flow::Wait`]: the message waits, and responses of the same transaction queue behind
//!   it, until the answer comes back to the hook's `resume_*`.
//!
//! A new feature (billing, voicemail routing, capture) is a module with a type that
//! implements [`Hook`], added to [`hooks`]; the engine does not change.
//!
//! ## Layout
//!
//! | module | concept |
//! |---|---|
//! | [`route`] | the main route: sanity, REGISTER, OPTIONS, authenticate, in-dialog, local / PSTN / foreign |
//! | [`cx`] | what the route reads while it decides, and the lookups that wait for I/O |
//! | `stateless` | forwarding without a transaction: ACKs for 2xx, stray responses, stateless mode |

pub(crate) mod cx;
pub(crate) mod route;
pub(crate) mod stateless;

use std::net::{IpAddr, SocketAddr};

use sip::Message;

use crate::config::ServerConfig;
use crate::engine::addresses::Addresses;
use crate::engine::io::{Answer, IoId, IoRequest, Now};
use crate::engine::Source;
use crate::proxy::Forward;

/// What a hook says about the message it was shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    /// Go on.
    Continue,
    /// Hold the message until the answer to this request reaches the hook's `resume_*`.
    Wait(IoId),
}

/// Where a response came from, for the hooks that look at who sent it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Arrival {
    /// Its source.
    pub(crate) source: SocketAddr,
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
    },
    /// A BYE passed through: the call ended, hung up by whoever sent it.
    Ended {
        /// The BYE.
        bye: &'a Message,
    },
}

/// What a hook may use: the time, the configuration, our addresses, and the queue of I/O
/// requests (a request that has an answer gets an [`IoId`] from [`HookCx::ask`]).
pub(crate) struct HookCx<'a> {
    pub(crate) now: Now,
    pub(crate) config: &'a ServerConfig,
    pub(crate) addresses: &'a mut Addresses,
    pub(crate) io: &'a mut IoQueue,
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

    /// The answer to the request an `on_forward` waited for.
    fn resume_forward(
        &mut self,
        _cx: &mut HookCx<'_>,
        _id: IoId,
        _answer: Answer,
        _forward: &mut Forward,
    ) {
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

    /// A call changed.
    fn on_dialog(&mut self, _cx: &mut HookCx<'_>, _event: DialogEvent<'_>) {}

    /// Live calls this hook follows (for the log at shutdown).
    fn live_calls(&self) -> Option<usize> {
        None
    }
}

/// The hooks of a server with `config`, in the order they run in every phase: NAT fixes
/// first (the relay reads whether the sender is behind a NAT), then the media relay, then
/// accounting.
pub(crate) fn hooks(
    config: &ServerConfig,
    relay: Option<crate::media_relay::RelaySetup>,
) -> Vec<Box<dyn Hook>> {
    let mut hooks: Vec<Box<dyn Hook>> = vec![Box::new(crate::nat::NatHook)];
    if let Some(setup) = relay {
        hooks.push(Box::new(crate::media_relay::RelayHook::new(setup)));
    }
    hooks.push(Box::new(crate::accounting::Accounting::new(
        config.node.clone(),
    )));
    hooks
}
