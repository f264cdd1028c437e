//! Asserted identity (RFC 3325): what a forwarded request says about who sent it.
//!
//! The network of trust here is the server, the trusted networks (`[proxy] trusted`:
//! gateways, peer proxies) and our own media service. Inside it, `P-Asserted-Identity`
//! carries the identity the server authenticated; a PSTN gateway shows it as the caller's
//! number. So:
//!
//! - a request from outside the trust domain (a phone, another domain) loses any
//!   `P-Asserted-Identity` it carried (§5: a proxy MUST remove or replace it; a phone
//!   could otherwise name any caller to a gateway that believes it) and its
//!   `P-Preferred-Identity` (§9.1: a hint to the proxy, not forwarded);
//! - when the server authenticated the caller as one of its subscribers (digest, or the
//!   media service placing a click-to-dial call for them), the request carries
//!   `P-Asserted-Identity: <sip:user@domain>` (§9.1);
//! - a request from a trusted source keeps what it carries;
//! - with `Privacy: id` (RFC 3323 §4.2) and a next hop outside the trust domain, no
//!   `P-Asserted-Identity` goes out (§7).
//!
//! The decision is a [`AssertedIdentity`] in the forward's rewrites, applied on every
//! branch by `proxy::forward::build_branch`.

use std::net::IpAddr;

use sip::Message;

use crate::engine::io::Source;
use crate::policy::cx::Cx;
use crate::proxy::{AssertedIdentity, Forward};

/// `P-Asserted-Identity` (RFC 3325 §9.1).
pub(crate) const ASSERTED: &str = "P-Asserted-Identity";
/// `P-Preferred-Identity` (RFC 3325 §9.2).
pub(crate) const PREFERRED: &str = "P-Preferred-Identity";

/// What becomes of the identity headers of `request`, from `source`, forwarded as
/// `forward` says.
pub(crate) fn decide(
    cx: &Cx<'_>,
    request: &Message,
    source: Source,
    forward: &Forward,
) -> AssertedIdentity {
    let trusted_source =
        is_trusted(cx, source.addr.ip()) || cx.config.services.media == Some(source.addr);
    let private = wants_privacy(request);
    let leaves_trust = forward
        .targets
        .iter()
        .flat_map(|t| t.hops.iter())
        .any(|hop| !is_trusted(cx, hop.addr.ip()) && cx.config.services.media != Some(hop.addr));
    if private && leaves_trust {
        return AssertedIdentity::Removed;
    }
    // Our own assertion, for a new request whose caller we authenticated; in-dialog
    // requests carry no caller (the route does not authenticate them).
    if let Some(caller) = &forward.caller {
        return AssertedIdentity::Asserted(format!("<sip:{caller}>"));
    }
    if trusted_source {
        return AssertedIdentity::AsReceived;
    }
    let claims =
        request.header_by_name(ASSERTED).is_some() || request.header_by_name(PREFERRED).is_some();
    if claims {
        tracing::debug!(source = %source.addr, "identity headers from outside the trust domain removed");
        AssertedIdentity::Removed
    } else {
        AssertedIdentity::AsReceived
    }
}

fn is_trusted(cx: &Cx<'_>, ip: IpAddr) -> bool {
    crate::trusted::is_trusted(&cx.config.trusted, ip)
}

/// Whether the request asks to keep its sender's asserted identity private:
/// `Privacy: id` (RFC 3325 §7; values separated by `;`, RFC 3323 §4.2).
fn wants_privacy(request: &Message) -> bool {
    request.header_by_name("Privacy").is_some_and(|value| {
        value
            .split(';')
            .any(|v| v.trim().eq_ignore_ascii_case("id"))
    })
}
