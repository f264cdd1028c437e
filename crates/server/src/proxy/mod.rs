//! The stateful proxy (RFC 3261 §16): what SER's `tm` and `rr` modules did.
//!
//! The routing policy (`crate::policy`) decides *where* a request goes and hands a
//! [`Forward`] (targets and how to rewrite the request) to the proxy, which forwards it on
//! one client transaction per branch and sends the responses back through the server
//! transaction.
//!
//! ## Layout
//!
//! | module | concept |
//! |---|---|
//! | [`context`] | sans-IO response context: forking by q, Timer C, CANCEL, best-response choice (§16.7) |
//! | [`forward`] | pure request rewriting: Route processing (§16.4), loop detection (§16.3), a branch's request (§16.6) |
//! | `table` | the live contexts by server transaction and their branches by client transaction; carries out the contexts' actions on the transaction layer |

pub mod context;
pub mod forward;
pub(crate) mod table;

use std::net::SocketAddr;

use transport::Protocol;

pub use context::{Action, BranchId, ContextConfig, Fallbacks, ResponseContext};
pub use forward::{LocalAddr, OwnAddresses, RouteCheck};

/// Where a branch's request is sent: the transport and address of the next hop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Hop {
    /// Transport.
    pub protocol: Protocol,
    /// Address.
    pub addr: SocketAddr,
}

/// One destination of a forwarded request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The new Request-URI (a binding's contact, a gateway URI), or keep the received one.
    pub request_uri: Option<String>,
    /// Route values to put before the others (a binding's Path, RFC 3327).
    pub routes_before: Vec<String>,
    /// Where to send it: the next hops in the order to try them (RFC 3263: a branch
    /// fails over to the next one on a timeout or 503).
    pub hops: Vec<Hop>,
    /// A Request-URI for each hop when they differ (PSTN gateways: the number at each
    /// gateway's host); empty: `request_uri` for all.
    pub hop_request_uris: Vec<String>,
    /// Preference, 0–1000 (q × 1000): higher first, equal in parallel.
    pub q: u16,
    /// A binding registered from behind a NAT (the relay policy `nat` relays its calls).
    pub nat: bool,
    /// Made by `crate::services` with a Request-URI the media service may trust; any
    /// other target toward the media service is refused (`services::smuggled`).
    pub service: bool,
}

impl Target {
    /// A target with one Request-URI (or the received one) and these next hops, q = 1.
    pub fn new(request_uri: Option<String>, hops: Vec<Hop>) -> Target {
        Target {
            request_uri,
            routes_before: Vec::new(),
            hops,
            hop_request_uris: Vec::new(),
            q: 1000,
            nat: false,
            service: false,
        }
    }
}

/// A request the policy decided to forward, and how.
#[derive(Debug, Clone, Default)]
pub struct Forward {
    /// The destinations.
    pub targets: Vec<Target>,
    /// The Route values left after Route processing (§16.4).
    pub routes: Vec<String>,
    /// Add our Record-Route (§16.6 step 4): dialog-forming requests of calls we want to
    /// stay in.
    pub record_route: bool,
    /// Proxy-Authorization of this realm was used here and is removed.
    pub consumed_realm: Option<String>,
    /// The loop-detection part of the branch IDs ([`forward::loop_hash`]).
    pub loop_hash: String,
    /// Targets kept for call forwarding on busy or no answer.
    pub fallbacks: Fallbacks,
    /// Changes to the request's Contact and body, the same on every branch (NAT fixes,
    /// the relay's SDP).
    pub rewrites: Rewrites,
    /// The sender was found behind a NAT (set by the NAT hook; the relay policy `nat`
    /// relays its calls).
    pub sender_natted: bool,
    /// The subscriber whose voicemail takes the call if it fails (set by the route for
    /// a subscriber with voicemail on; taken by the voicemail hook's failure phase).
    pub voicemail: Option<store::Address>,
    /// The local subscriber who placed the call, when the route authenticated them (the
    /// From user in its realm): whose account pays for it (`billing.rs`).
    pub caller: Option<store::Address>,
    /// The call stays on this network: it goes to a subscriber or a media service, not
    /// to a gateway or another domain (billing's `on_net`).
    pub on_net: bool,
}

/// Changes made to a forwarded request besides the proxy's own (§16.6): what the NAT
/// traversal decided ([`crate::nat`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rewrites {
    /// The Contact value that replaces the received one (`fix_nated_contact`).
    pub contact: Option<String>,
    /// The SDP that replaces the received body (rewritten by the RTP relay).
    pub sdp: Option<bytes::Bytes>,
    /// What becomes of `P-Asserted-Identity` and `P-Preferred-Identity`
    /// (`crate::policy::identity`).
    pub identity: AssertedIdentity,
}

/// The identity headers of RFC 3325 in a forwarded request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum AssertedIdentity {
    /// As received: from inside the trust domain, or no such header.
    #[default]
    AsReceived,
    /// `P-Asserted-Identity` and `P-Preferred-Identity` removed (an untrusted sender's
    /// claim, RFC 3325 §5; or `Privacy: id` toward a hop outside the trust domain, §7).
    Removed,
    /// Both removed and this `P-Asserted-Identity` value put in: the subscriber the
    /// server authenticated (§9.1).
    Asserted(String),
}
