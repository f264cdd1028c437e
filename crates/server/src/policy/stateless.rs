//! Forwarding without a transaction (RFC 3261 §16.11): the ACK for a 2xx, which goes end
//! to end along the dialog's Route set (§13.2.2.4), requests in stateless mode, and
//! responses that match no transaction of ours (a 2xx retransmission after its
//! transaction ended, §16.7 step 3).

use std::hash::{Hash, Hasher};

use sip::Message;

use crate::engine::addresses::Addresses;
use crate::engine::facts::Halt;
use crate::engine::io::{Source, Transmit};
use crate::policy::cx::Cx;
use crate::proxy::forward::{self, BranchSpec, OwnAddresses};
use crate::proxy::{Forward, Hop};

/// Where an ACK outside any transaction goes: along the dialog's Route set, like any
/// in-dialog request ([`crate::policy::route::dialog_targets`]). `None`: dropped (a
/// malformed Route, Max-Forwards 0, nowhere to go), as an ACK gets no answer.
pub(crate) fn ack_route(
    cx: &mut Cx<'_>,
    ack: &Message,
    source: Source,
) -> Result<Option<Forward>, Halt> {
    let routes = match forward::check_routes(ack, cx.addresses) {
        Ok(r) => r,
        Err(e) => {
            tracing::info!(source = %source.addr, error = %e, "ACK with a malformed Route dropped");
            return Ok(None);
        }
    };
    if ack.max_forwards().ok().flatten() == Some(0) {
        return Ok(None);
    }
    let target = match crate::policy::route::dialog_targets(cx, ack, &routes) {
        Ok(mut t) if !t.is_empty() => t.swap_remove(0),
        Err(Halt::Need(query)) => return Err(Halt::Need(query)),
        Ok(_) | Err(Halt::Reject(_)) => {
            tracing::debug!(source = %source.addr, call_id = ack.call_id().unwrap_or("-"), "ACK not for us; dropped");
            return Ok(None);
        }
    };
    Ok(Some(Forward {
        targets: vec![target],
        routes: routes.remaining,
        record_route: false,
        loop_hash: forward::loop_hash(ack),
        ..Forward::default()
    }))
}

/// Stateless forwarding (§16.11), for stateless mode and for ACKs of 2xx: the first
/// target's first hop only, a branch derived from the received one (a retransmission is
/// forwarded the same way), Record-Route as the stateful proxy does.
pub(crate) fn forward_statelessly(
    addresses: &mut Addresses,
    request: &Message,
    forward: Forward,
    source: Source,
) -> Option<Transmit> {
    let target = forward.targets.into_iter().next()?;
    let hop = target.hops.first().copied()?;
    let (socket, outbound) = addresses.local_for(&hop)?;
    let (_, inbound) = addresses.local_for(&Hop {
        protocol: source.local.protocol,
        addr: source.addr,
    })?;
    let mut record_route = Vec::new();
    if forward.record_route {
        record_route.push(outbound.record_route());
        if inbound != outbound {
            record_route.push(inbound.record_route());
        }
    }
    let received_branch = request
        .top_via()
        .ok()
        .and_then(|v| v.branch().map(str::to_owned))
        .unwrap_or_default();
    let via = outbound.via(&forward::branch_id(
        &forward.loop_hash,
        stable_hash(&received_branch),
    ));
    let built = forward::build_branch(
        request,
        &BranchSpec {
            request_uri: target
                .hop_request_uris
                .first()
                .or(target.request_uri.as_ref())
                .map(String::as_str),
            routes_before: &target.routes_before,
            routes: &forward.routes,
            record_route: &record_route,
            consumed_realm: forward.consumed_realm.as_deref(),
            via: &via,
            rewrites: Some(&forward.rewrites),
        },
    );
    match built {
        Ok(m) => Some(Transmit {
            protocol: hop.protocol,
            local: Some(socket),
            dest: hop.addr,
            bytes: m.as_bytes().clone(),
            client: None,
        }),
        Err(e) => {
            tracing::info!(error = %e, "request cannot be forwarded");
            None
        }
    }
}

/// A response for no transaction of ours, its top Via removed when it is ours (§16.7
/// step 3); `None` when it was not sent via us (dropped).
pub(crate) fn pop_own_via(addresses: &mut Addresses, response: Message) -> Option<Message> {
    let top = response.top_via().ok()?;
    if !addresses.is_own(&top.host, top.port, false) {
        tracing::debug!(via = top.sent_by, "stray response not via us; dropped");
        return None;
    }
    let mut edit = response.edit();
    edit.pop_via();
    edit.finish().ok()
}

/// Where a response goes once our Via is off: where the next Via says
/// (`received`/`rport`, RFC 3581 §4).
pub(crate) fn response_transmit(addresses: &mut Addresses, up: Message) -> Option<Transmit> {
    let next = up.top_via().ok()?;
    let ip = next.received().or(next.host.ip())?;
    let protocol = next.transport.parse().unwrap_or(transport::Protocol::Udp);
    let port = match next.rport() {
        Some(Some(port)) => port,
        _ => next.port.unwrap_or(protocol.default_port()),
    };
    let hop = Hop {
        protocol,
        addr: std::net::SocketAddr::new(ip, port),
    };
    let Some((local, _)) = addresses.local_for(&hop) else {
        tracing::info!(dest = %hop.addr, protocol = %hop.protocol, "no socket to send on");
        return None;
    };
    Some(Transmit {
        protocol,
        local: Some(local),
        dest: hop.addr,
        bytes: up.as_bytes().clone(),
        client: None,
    })
}

fn stable_hash(s: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}
