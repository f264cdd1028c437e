//! SDP as the relay reads and rewrites it: where a party says it receives media
//! ([`announced`]), and the body passed on to the other party ([`rewrite`]): every `c=` is
//! the relay's advertised address, each `m=` port the relay port the other party must send
//! to, `a=rtcp` that port + 1 (RFC 3605), ICE attributes removed (RFC 8445 §5.4 attributes,
//! like rtpengine's `ICE=remove`). Every other line passes unchanged.
//!
//! A stream on hold with the RFC 2543 address `0.0.0.0` keeps it (RFC 3264 §8.4), so the
//! other party still sees the hold.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use sdp::{MediaDescription, Rtcp, SessionDescription};

use crate::request::{AddressSource, Flags};

/// ICE attributes removed from relayed SDP (RFC 8839 §5).
pub const ICE_ATTRIBUTES: [&str; 8] = [
    "candidate",
    "remote-candidates",
    "end-of-candidates",
    "ice-ufrag",
    "ice-pwd",
    "ice-options",
    "ice-lite",
    "ice-mismatch",
];

/// Where the author of `sdp` receives the RTP and RTCP of `media`: the effective `c=`
/// address (or the SIP source / `media-address`, as `flags` say) with the `m=` port, and
/// `a=rtcp` (RFC 3605) or the port + 1 for RTCP (RFC 3550 §11).
pub fn announced(
    sdp: &SessionDescription,
    media: &MediaDescription,
    flags: &Flags,
    received_from: Option<IpAddr>,
) -> (Option<SocketAddr>, Option<SocketAddr>) {
    let sdp_address = sdp.media_connection(media).map(|c| c.address);
    let ice = media.uses_ice() || sdp.uses_ice();
    let hold = !ice && sdp_address.is_some_and(|a| a.is_unspecified());
    let address = if hold {
        sdp_address
    } else if let Some(forced) = flags.media_address {
        Some(forced)
    } else if flags.address == AddressSource::SipSource {
        received_from.or(sdp_address)
    } else {
        sdp_address
    };
    let Some(address) = address else {
        return (None, None);
    };
    let port = media.port();
    let rtp = SocketAddr::new(address, port);
    let rtcp = match media.rtcp() {
        Some(Rtcp {
            port,
            address: Some(a),
        }) if !flags_override_address(flags) => SocketAddr::new(a, port),
        Some(Rtcp { port, .. }) => SocketAddr::new(address, port),
        None if media.rtcp_mux() => rtp,
        None => SocketAddr::new(address, port.wrapping_add(1)),
    };
    (Some(rtp), Some(rtcp))
}

fn flags_override_address(flags: &Flags) -> bool {
    flags.media_address.is_some() || flags.address == AddressSource::SipSource
}

/// Rewrites `sdp` for the party that receives it: `relay_ports[i]` is the relay's RTP port
/// for the `i`-th `m=` line (`None` leaves the line alone: a rejected stream).
pub fn rewrite(
    sdp: &mut SessionDescription,
    relay_ports: &[Option<u16>],
    advertised: IpAddr,
    flags: &Flags,
) {
    let held: Vec<bool> = sdp
        .media()
        .iter()
        .map(|m| {
            let ice = m.uses_ice() || sdp.uses_ice();
            !ice && sdp.media_connection(m).is_some_and(|c| c.is_hold_address())
        })
        .collect();
    sdp.replace_connection_addresses(advertised);
    if flags.replace_origin {
        sdp.set_origin_address(advertised);
    }
    if flags.remove_ice {
        for name in ICE_ATTRIBUTES {
            sdp.remove_attributes_everywhere(name);
        }
    }
    for (i, media) in sdp.media_mut().iter_mut().enumerate() {
        if held.get(i).copied().unwrap_or(false) {
            media.set_connection_address(unspecified(advertised));
        }
        let Some(Some(port)) = relay_ports.get(i) else {
            continue;
        };
        media.set_port(*port);
        if media.media_line().is_rtp() {
            media.set_rtcp(Rtcp {
                port: port.wrapping_add(1),
                address: None,
            });
        }
    }
}

fn unspecified(like: IpAddr) -> IpAddr {
    match like {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    }
}
