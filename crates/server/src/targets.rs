//! Where a request goes: the next hops of a URI (RFC 3263) and the proxy target of a
//! registered binding.

use std::net::{IpAddr, SocketAddr};

use sip::sanity::Rejection;
use sip::uri::Host;
use sip::Uri;
use transport::Protocol;

use crate::core::Core;
use crate::location::Binding;
use crate::proxy::{Hop, Target};

/// The next hops for `uri`, in the order to try them (RFC 3263 §4): an IP address as it
/// is; a host name through DNS.
pub(crate) async fn hops_for(core: &Core, uri: &str) -> Result<Vec<Hop>, Rejection> {
    let parsed =
        Uri::parse(uri).map_err(|e| Rejection::new(416, format!("Bad target URI: {e}")))?;
    let Uri::Sip(sip_uri) = parsed else {
        return Err(Rejection::new(416, "Only SIP URIs can be routed"));
    };
    if sip_uri.secure {
        return Err(Rejection::new(
            480,
            "SIPS targets need TLS, which this server does not offer yet",
        ));
    }
    let protocol = match sip_uri.transport() {
        None => Protocol::Udp,
        Some(t) if t.eq_ignore_ascii_case("udp") => Protocol::Udp,
        Some(t) if t.eq_ignore_ascii_case("tcp") => Protocol::Tcp,
        Some(t) => {
            return Err(Rejection::new(
                480,
                format!("Transport {t} is not offered by this server"),
            ))
        }
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
            addr: SocketAddr::new(ip, sip_uri.port.unwrap_or(5060)),
        }]);
    }
    core.locate(&sip_uri).await
}

/// The proxy target for a binding of the location service: the Request-URI becomes the
/// contact; the request follows the binding's Path (RFC 3327); it goes back the way the
/// REGISTER came (the flow: source address and transport) when the phone is behind a NAT
/// or used TCP, whose connection is the only way back; else to the contact's address.
pub(crate) async fn binding_target(core: &Core, binding: &Binding) -> Result<Target, Rejection> {
    let protocol = if binding.transport.eq_ignore_ascii_case("tcp") {
        Protocol::Tcp
    } else {
        Protocol::Udp
    };
    let hops = if let Some(first) = binding.path.first() {
        hops_for(core, crate::proxy::forward::route_uri(first)).await?
    } else if binding.nat || protocol == Protocol::Tcp {
        vec![Hop {
            protocol,
            addr: binding.source,
        }]
    } else {
        hops_for(core, &binding.contact).await?
    };
    Ok(Target {
        request_uri: Some(binding.contact.clone()),
        routes_before: binding.path.clone(),
        hops,
        hop_request_uris: Vec::new(),
        q: binding.q,
        nat: binding.nat,
    })
}
