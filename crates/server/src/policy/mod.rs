//! Routing policy as phases, the way `ser.cfg` splits it into `route`, `branch_route`,
//! `onreply_route` and `failure_route`, and pingora into filters.
//!
//! - The main route ([`route`]) decides what a new request gets: a reply, the registrar, or
//!   forwarding to targets. It reads top to bottom like the seed's `ser.cfg`.
//! - Everything that cuts across calls is a [`Hook`](hook::Hook): one module per feature, told of the
//!   phases it cares about, in the order [`hooks`] lists them:
//!   - `on_forward`: a request about to be forwarded (after the route, before its branches
//!     start): NAT Contact fix, the relay's offer;
//!   - `on_response`: a response about to go upstream, after transaction matching only
//!     (retransmissions and strays never get here): the relay's answer;
//!   - `on_stray_response`: a response forwarded without a transaction (a 2xx
//!     retransmission): the relay's remembered rewrite, no exchange;
//!   - `on_failure`: a call set-up failed on every branch and the caller did not cancel
//!     it (the seed's `failure_route`): a hook may forward it elsewhere on the same server
//!     transaction (voicemail);
//!   - `on_dialog`: a call started, was answered, failed, or ended with who hung up:
//!     accounting, the relay session's end;
//!   - `on_tap`: every message in and out as on the wire, for the hooks that say they tap:
//!     the SIP capture ([`crate::capture`]), the metrics ([`crate::metrics`]).
//!
//!   Forwarding to a subscriber's own busy and no-answer targets comes first, inside the
//!   proxy context ([`crate::proxy::Fallbacks`]: the no-answer one cancels branches that
//!   still ring, on its timer); the route puts its targets there.
//! - A hook that needs I/O (the relay's SDP exchange) asks for it and returns
//!   [`Flow::Wait`](hook::Flow::Wait): the message waits, and responses of the same transaction queue behind
//!   it, until the answer comes back to the hook's `resume_*`.
//!
//! A new feature (billing, voicemail routing, capture) is a module with a type that
//! implements [`Hook`](hook::Hook), added to [`hooks`]; the engine does not change. The
//! trait lives in [`hook`], which knows no feature, so features import it and nothing
//! imports back.
//!
//! ## Layout
//!
//! | module | concept |
//! |---|---|
//! | [`route`] | the main route: sanity, REGISTER, OPTIONS, authenticate, in-dialog, local / PSTN / foreign |
//! | [`hook`] | the [`Hook`](hook::Hook) trait: the phases, what a hook is shown and may use |
//! | [`cx`] | what the route reads while it decides, and the lookups that wait for I/O |
//! | [`identity`] | asserted identity (RFC 3325): untrusted senders' `P-Asserted-Identity` removed, ours for authenticated callers, `Privacy: id` honoured |
//! | `stateless` | forwarding without a transaction: ACKs for 2xx, stray responses, stateless mode |

pub(crate) mod cx;
pub(crate) mod hook;
pub(crate) mod identity;
pub(crate) mod route;
pub(crate) mod stateless;

use crate::config::ServerConfig;
use hook::Hook;

/// The hooks of a server with `config`, in the order they run in every phase: NAT fixes
/// first (the relay reads whether the sender is behind a NAT), then prepaid billing (a call
/// without credit is refused before the relay sets anything up; a settlement reaches the
/// writer before the call's record), then the media relay, then voicemail (when the media
/// services run: failed calls to the mailbox), then accounting; the capture (the tap only)
/// when there is a ring to fill; the metrics (the tap and the dialog phase) when there
/// are counters to fill.
pub(crate) fn hooks(
    config: &ServerConfig,
    relay: Option<crate::media_relay::RelaySetup>,
    capture: Option<crate::capture::ring::SharedRing>,
    metrics: Option<std::sync::Arc<crate::metrics::sip_counts::SipCounts>>,
    accounts: crate::billing::AccountBook,
    rater: crate::rating::SharedRater,
) -> Vec<Box<dyn Hook>> {
    let mut hooks: Vec<Box<dyn Hook>> = vec![
        Box::new(crate::nat::NatHook::new(config.nat.clone())),
        Box::new(crate::billing::PrepaidHook::new(
            accounts,
            rater,
            config.credit,
            config.on_net,
            config.services.clone(),
        )),
    ];
    if let Some(setup) = relay {
        hooks.push(Box::new(crate::media_relay::RelayHook::new(
            setup,
            config.proxy.stateless,
        )));
    }
    if let Some(media) = config.services.media {
        hooks.push(Box::new(crate::voicemail::VoicemailHook::new(media)));
    }
    hooks.push(Box::new(crate::accounting::Accounting::new(
        config.node.clone(),
        config.on_net,
    )));
    if let Some(ring) = capture {
        hooks.push(Box::new(crate::capture::hook::CaptureHook::new(ring)));
    }
    if let Some(counts) = metrics {
        hooks.push(Box::new(crate::metrics::hook::MetricsHook::new(counts)));
    }
    hooks
}
