//! Where a request goes: the next hops of a URI (RFC 3263) and the proxy target of a
//! registered binding.

use std::net::{IpAddr, SocketAddr};

use sip::sanity::Rejection;
use sip::uri::Host;
use sip::Uri;
use transport::Protocol;

use crate::engine::facts::Halt;
use crate::location::Binding;
use crate::policy::cx::Cx;
use crate::proxy::{Hop, Target};

/// The next hops for `uri`, in the order to try them (RFC 3263 §4): an IP address as it
/// is; a host name through DNS.
pub(crate) fn hops_for(cx: &mut Cx<'_>, uri: &str) -> Result<Vec<Hop>, Halt> {
    let parsed =
        Uri::parse(uri).map_err(|e| Rejection::new(416, format!("Bad target URI: {e}")))?;
    let Uri::Sip(sip_uri) = parsed else {
        return Err(Rejection::new(416, "Only SIP URIs can be routed").into());
    };
    // A sips: URI is reached over TLS whatever its transport parameter (RFC 3261 §26.2.2,
    // RFC 5630 §3.1.3).
    let protocol = match sip_uri.transport() {
        _ if sip_uri.secure => Protocol::Tls,
        None => Protocol::Udp,
        Some(t) => t.parse::<Protocol>().map_err(|_| {
            Rejection::new(480, format!("Transport {t} is not offered by this server"))
        })?,
    };
    let host = sip_uri.maddr().unwrap_or(sip_uri.host);
    let ip: Option<IpAddr> = match host {
        Host::V4(ip) => Some(ip.into()),
        Host::V6(ip) => Some(ip.into()),
        Host::Name(_) => None,
    };
    if let Some(ip) = ip {
        return Ok(vec![Hop {
            protocol,
            addr: SocketAddr::new(ip, sip_uri.port.unwrap_or(protocol.default_port())),
        }]);
    }
    cx.locate(uri)
}

/// The proxy target for a binding of the location service: the Request-URI becomes the
/// contact; the request follows the binding's Path (RFC 3327); it goes back the way the
/// REGISTER came (the flow: source address and transport) when the phone is behind a NAT
/// or used TCP, TLS or WebSocket, whose connection is the only way back (for WebSocket
/// the contact's host is a made-up `.invalid` name, RFC 7118 §5); else to the contact's
/// address.
pub(crate) fn binding_target(cx: &mut Cx<'_>, binding: &Binding) -> Result<Target, Halt> {
    let protocol = binding.transport;
    let hops = if let Some(first) = binding.path.first() {
        hops_for(cx, crate::proxy::forward::route_uri(first))?
    } else if binding.nat || protocol.is_reliable() {
        vec![Hop {
            protocol,
            addr: binding.source,
        }]
    } else {
        hops_for(cx, &binding.contact)?
    };
    Ok(Target {
        request_uri: Some(binding.contact.clone()),
        routes_before: binding.path.clone(),
        hops,
        hop_request_uris: Vec::new(),
        q: binding.q,
        nat: binding.nat,
        service: false,
    })
}
