//! Request forwarding (RFC 3261 §16.6), Route processing (§16.4) and loop detection
//! (§16.3 step 4): pure functions from a received request to the request of one branch.
//!
//! Who "we" are is a question for the caller ([`OwnAddresses`]): a Route or Via names
//! this proxy when its host is one of our addresses (or served domains, for Route) and
//! its port one we listen on.

use std::fmt::Write as _;
use std::hash::{BuildHasher, Hash, Hasher};

use sip::headers::MAGIC_COOKIE;
use sip::uri::Host;
use sip::{HeaderName, Message, ParseError, Uri};
use transport::Protocol;

/// Answers "is this us?" for hosts and ports in Route, Via and Request-URI.
pub trait OwnAddresses {
    /// Whether `host:port` (port `None`: the default 5060) reaches this proxy. Domains we
    /// serve count only when `domains` is set (a Route may name us by domain; a Via names
    /// a sent-by, which is an address).
    fn is_own(&mut self, host: &Host<'_>, port: Option<u16>, domains: bool) -> bool;
}

/// This proxy's address as a next hop sees it: the Via sent-by and the Record-Route URI
/// of one side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalAddr {
    /// Transport of that side.
    pub protocol: Protocol,
    /// Host (an IP, IPv6 in brackets) or name.
    pub host: String,
    /// Port.
    pub port: u16,
}

impl LocalAddr {
    /// The Via value for a branch (§16.6 step 8, §18.1.1), with `rport` (RFC 3581) and,
    /// over TLS, `alias` (RFC 5923 §8.1): the transports present our certificate as client
    /// certificate on the connections they open, so a peer that verifies it may send its
    /// requests toward our sent-by on that same connection. The sent-by is our listening
    /// address, which a peer trusting our certificate finds among its iPAddress names.
    /// Harmless on a connection the peer opened (a phone's): it is the connection's
    /// server side that acts on it.
    pub fn via(&self, branch: &str) -> String {
        let alias = if self.protocol == Protocol::Tls {
            ";alias"
        } else {
            ""
        };
        format!(
            "SIP/2.0/{} {}:{};branch={branch};rport{alias}",
            self.protocol.as_via(),
            self.host,
            self.port
        )
    }

    /// The Record-Route URI (§16.6 step 4): loose routing (`lr`), with `transport=tcp`,
    /// `transport=tls`, `transport=ws` or `transport=wss` when the side is a connection so
    /// the UAs route back over it (RFC 7118 §5 for WebSocket; TLS as
    /// Kamailio and the phones write it, rather than a `sips:` URI, which RFC 5630 §3.2
    /// would make a promise about every hop).
    pub fn record_route(&self) -> String {
        match self.protocol {
            Protocol::Udp => format!("<sip:{}:{};lr>", self.host, self.port),
            Protocol::Tcp => format!("<sip:{}:{};transport=tcp;lr>", self.host, self.port),
            Protocol::Tls => format!("<sip:{}:{};transport=tls;lr>", self.host, self.port),
            Protocol::Ws => format!("<sip:{}:{};transport=ws;lr>", self.host, self.port),
            Protocol::Wss => format!("<sip:{}:{};transport=wss;lr>", self.host, self.port),
        }
    }
}

/// What Route processing (§16.4) found at the top of a received request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteCheck {
    /// Route values at the top that name this proxy (ours from Record-Route, or a
    /// pre-loaded route to us): removed before forwarding.
    pub own_routes: usize,
    /// Strict-router compatibility (§16.4): the Request-URI is a Record-Route value of
    /// ours, so the request came from a strict router; the last Route value is the real
    /// Request-URI and is removed from the Route set.
    pub strict_request_uri: Option<String>,
    /// The Route values left after the above, in order.
    pub remaining: Vec<String>,
}

impl RouteCheck {
    /// Whether the request was routed to us by a Route set (in a dialog, or pre-loaded):
    /// Kamailio's `loose_route()` returning true.
    pub fn routed(&self) -> bool {
        self.own_routes > 0 || self.strict_request_uri.is_some()
    }

    /// The next hop's URI when a Route value remains (§16.6 step 7: the request goes to
    /// the first one, the Request-URI stays).
    pub fn next_route(&self) -> Option<&str> {
        self.remaining.first().map(|r| route_uri(r))
    }
}

/// The URI inside a Route value `<uri>;params` (or a bare URI).
pub fn route_uri(value: &str) -> &str {
    let v = value.trim();
    match (v.find('<'), v.find('>')) {
        (Some(open), Some(close)) if open < close => &v[open + 1..close],
        _ => v.split(';').next().unwrap_or(v),
    }
}

/// §16.4 for a received request: which top Route values are ours, whether the
/// Request-URI was put there by a strict router, and what remains.
pub fn check_routes(
    request: &Message,
    own: &mut dyn OwnAddresses,
) -> Result<RouteCheck, ParseError> {
    let mut routes: Vec<String> = route_values(request)?
        .into_iter()
        .map(str::to_owned)
        .collect();
    let mut check = RouteCheck::default();
    // §16.4: a Request-URI we placed into a Record-Route (no user, our address, lr) means
    // the previous hop was a strict router.
    if !routes.is_empty() {
        if let Some(Uri::Sip(uri)) = request.request_uri() {
            if uri.user_unescaped().is_none() && uri.lr() && own.is_own(&uri.host, uri.port, true) {
                check.strict_request_uri = routes.pop().map(|r| route_uri(&r).to_owned());
            }
        }
    }
    let mut rest = routes.into_iter().peekable();
    while let Some(top) = rest.peek() {
        let ours = matches!(Uri::parse(route_uri(top)), Ok(Uri::Sip(u)) if own.is_own(&u.host, u.port, true));
        if !ours {
            break;
        }
        check.own_routes += 1;
        rest.next();
    }
    check.remaining = rest.collect();
    Ok(check)
}

/// The part of a branch ID that identifies the request for loop detection (§16.6 step
/// 8): a hash of what routing depends on — the Request-URI as received, the top Route,
/// To tag, From tag, Call-ID, CSeq number, Proxy-Require and Proxy-Authorization. A
/// request that comes back with these unchanged has looped; one whose Request-URI
/// changed (an alias resolved elsewhere) is a spiral.
///
/// The hash has fixed keys, so it is the same for the same request every time this build
/// sees it (it need not be secret: it only has to match itself); ahash rather than std's
/// SipHash, a fifth of the instructions.
pub fn loop_hash(request: &Message) -> String {
    let mut h = LOOP_HASH_KEYS.build_hasher();
    request.request_uri_str().unwrap_or("").hash(&mut h);
    request.header(HeaderName::Route).unwrap_or("").hash(&mut h);
    request
        .to()
        .ok()
        .and_then(|t| t.tag())
        .unwrap_or("")
        .hash(&mut h);
    request
        .from()
        .ok()
        .and_then(|f| f.tag())
        .unwrap_or("")
        .hash(&mut h);
    request.call_id().unwrap_or("").hash(&mut h);
    request.cseq().map(|c| c.seq).unwrap_or(0).hash(&mut h);
    for name in [HeaderName::ProxyRequire, HeaderName::ProxyAuthorization] {
        for v in request.header_values(name) {
            v.hash(&mut h);
        }
    }
    format!("{:016x}", h.finish())
}

/// The fixed keys of [`loop_hash`] (arbitrary constants).
const LOOP_HASH_KEYS: ahash::RandomState = ahash::RandomState::with_seeds(
    0x6974_7370_6c6f_6f70,
    0x9e37_79b9_7f4a_7c15,
    0xbf58_476d_1ce4_e5b9,
    0x94d0_49bb_1331_11eb,
);

/// A branch ID: the magic cookie, the loop hash, and a part unique to this branch.
pub fn branch_id(loop_hash: &str, unique: u64) -> String {
    let mut s = String::with_capacity(40);
    s.push_str(MAGIC_COOKIE);
    s.push_str(loop_hash);
    s.push('.');
    let _ = write!(s, "{unique:x}");
    s
}

/// §16.3 step 4: whether a Via of ours carries the same loop hash as `hash` (the request
/// has been here before, unchanged).
pub fn is_loop(request: &Message, hash: &str, own: &mut dyn OwnAddresses) -> bool {
    request.vias().flatten().any(|via| {
        own.is_own(&via.host, via.port, false)
            && via
                .branch()
                .and_then(|b| b.strip_prefix(MAGIC_COOKIE))
                .and_then(|b| b.split_once('.'))
                .is_some_and(|(h, _)| h.eq_ignore_ascii_case(hash))
    })
}

/// How to turn the received request into the request of one branch (§16.6).
#[derive(Debug, Clone, Default)]
pub struct BranchSpec<'a> {
    /// The new Request-URI (§16.6 step 2), or keep it.
    pub request_uri: Option<&'a str>,
    /// Route values to put first (a binding's Path, RFC 3327; a gateway's route).
    pub routes_before: &'a [String],
    /// Route values that follow (what Route processing left).
    pub routes: &'a [String],
    /// Record-Route values to push (§16.6 step 4): ours, inbound side last so the list
    /// reads in path order; empty when not record-routing.
    pub record_route: &'a [String],
    /// Remove the Proxy-Authorization values for this realm (credentials we consumed).
    pub consumed_realm: Option<&'a str>,
    /// Our Via value (§16.6 step 8).
    pub via: &'a str,
    /// NAT fixes and relay changes, the same on every branch.
    pub rewrites: Option<&'a super::Rewrites>,
}

/// Builds the request of one branch from the received request: Request-URI, Max-Forwards
/// decremented (§16.6 step 3), Record-Route, the Route set replaced, consumed credentials
/// removed, our Via on top. Fails only on values that cannot be written (the caller
/// answers 500) or on Max-Forwards 0 (checked before: 483).
pub fn build_branch(request: &Message, spec: &BranchSpec<'_>) -> Result<Message, ParseError> {
    let mut edit = request.edit();
    if let Some(uri) = spec.request_uri {
        edit.set_request_uri(uri)?;
    }
    edit.decrement_max_forwards()?;
    for rr in spec.record_route.iter().rev() {
        edit.push_record_route(rr)?;
    }
    // The Route set is rewritten only when it changes, so untouched lines are copied as
    // they came.
    let original = route_values(request)?;
    let wanted = spec.routes_before.iter().chain(spec.routes);
    if !wanted
        .clone()
        .map(String::as_str)
        .eq(original.iter().copied())
    {
        edit.remove(HeaderName::Route);
        for r in wanted {
            edit.append(HeaderName::Route, r)?;
        }
    }
    if let Some(realm) = spec.consumed_realm {
        let keep: Vec<String> = request
            .proxy_authorization()
            .filter(|v| !credentials_for(v, realm))
            .map(str::to_owned)
            .collect();
        if keep.len() != request.proxy_authorization().count() {
            edit.remove(HeaderName::ProxyAuthorization);
            for v in &keep {
                edit.append(HeaderName::ProxyAuthorization, v)?;
            }
        }
    }
    if let Some(contact) = spec.rewrites.and_then(|r| r.contact.as_deref()) {
        edit.set(HeaderName::Contact, contact)?;
    }
    use crate::policy::identity::{ASSERTED, PREFERRED};
    match spec.rewrites.map(|r| &r.identity) {
        None | Some(super::AssertedIdentity::AsReceived) => {}
        Some(super::AssertedIdentity::Removed) => {
            edit.remove(ASSERTED);
            edit.remove(PREFERRED);
        }
        Some(super::AssertedIdentity::Asserted(value)) => {
            edit.remove(PREFERRED);
            edit.set(ASSERTED, value)?;
        }
    }
    if let Some(sdp) = spec.rewrites.and_then(|r| r.sdp.clone()) {
        let content_type = request.header(HeaderName::ContentType).map(str::to_owned);
        edit.set_body(content_type.as_deref(), sdp);
    }
    edit.push_via(spec.via)?;
    edit.finish()
}

/// Every Route value, in order (lines split at top-level commas).
fn route_values(request: &Message) -> Result<Vec<&str>, ParseError> {
    let mut routes = Vec::new();
    for value in request.header_values(HeaderName::Route) {
        for part in sip::text::split_top_level(value) {
            routes.push(
                part.map_err(|e| ParseError::header(HeaderName::Route, e.to_string()))?
                    .trim(),
            );
        }
    }
    Ok(routes)
}

fn credentials_for(value: &str, realm: &str) -> bool {
    matches!(
        sip::auth::parse_credentials(value),
        Ok(sip::auth::AuthHeader::Digest(c)) if c.realm.unescape() == realm
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// We are 192.0.2.1:5060 and serve example.com.
    struct Us;
    impl OwnAddresses for Us {
        fn is_own(&mut self, host: &Host<'_>, port: Option<u16>, domains: bool) -> bool {
            let port_ok = port.unwrap_or(5060) == 5060;
            port_ok
                && match host {
                    Host::V4(ip) => ip.to_string() == "192.0.2.1",
                    Host::Name(n) => domains && n.eq_ignore_ascii_case("example.com"),
                    _ => false,
                }
        }
    }

    fn request(first_line: &str, extra: &str) -> Message {
        Message::parse(format!(
            "{first_line}\r\nVia: SIP/2.0/UDP 10.0.0.2;branch=z9hG4bK-a\r\nMax-Forwards: 70\r\n\
From: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\nCall-ID: c\r\n\
CSeq: 1 INVITE\r\n{extra}Content-Length: 0\r\n\r\n"
        ))
        .unwrap()
    }

    #[test]
    fn loose_routes_to_us_are_removed_and_the_rest_kept() {
        let r = request(
            "BYE sip:bob@10.0.0.9 SIP/2.0",
            "Route: <sip:192.0.2.1;lr>, <sip:192.0.2.1:5060;transport=tcp;lr>\r\nRoute: <sip:p2.example.net;lr>\r\n",
        );
        let c = check_routes(&r, &mut Us).unwrap();
        assert_eq!(c.own_routes, 2, "double Record-Route: both ours");
        assert!(c.routed());
        assert_eq!(c.remaining, ["<sip:p2.example.net;lr>"]);
        assert_eq!(c.next_route(), Some("sip:p2.example.net;lr"));
        assert_eq!(c.strict_request_uri, None);
    }

    #[test]
    fn strict_router_request_uri_is_restored_from_the_last_route() {
        let r = request(
            "BYE sip:192.0.2.1;lr SIP/2.0",
            "Route: <sip:p2.example.net;lr>, <sip:bob@10.0.0.9>\r\n",
        );
        let c = check_routes(&r, &mut Us).unwrap();
        assert_eq!(c.strict_request_uri.as_deref(), Some("sip:bob@10.0.0.9"));
        assert_eq!(c.remaining, ["<sip:p2.example.net;lr>"]);
        assert!(c.routed());
    }

    #[test]
    fn a_request_to_our_domain_with_foreign_routes_is_not_strict() {
        let r = request(
            "INVITE sip:bob@example.com SIP/2.0",
            "Route: <sip:p2.example.net;lr>\r\n",
        );
        let c = check_routes(&r, &mut Us).unwrap();
        assert!(!c.routed());
        assert_eq!(c.remaining.len(), 1);
    }

    #[test]
    fn our_via_asks_for_connection_reuse_over_tls_only() {
        let via = |protocol| {
            LocalAddr {
                protocol,
                host: "192.0.2.1".into(),
                port: 5061,
            }
            .via("z9hG4bKx")
        };
        // RFC 5923 §8.1: alias over TLS, where our certificate authenticates us.
        assert_eq!(
            via(Protocol::Tls),
            "SIP/2.0/TLS 192.0.2.1:5061;branch=z9hG4bKx;rport;alias"
        );
        let parsed = sip::headers::Via::parse(&via(Protocol::Tls))
            .unwrap()
            .alias();
        assert!(parsed);
        // Never over plain TCP (RFC 5923 abstract, §2) or the rest.
        for protocol in [Protocol::Udp, Protocol::Tcp, Protocol::Ws, Protocol::Wss] {
            assert!(!via(protocol).contains("alias"), "{protocol}");
        }
    }

    #[test]
    fn loops_are_detected_and_spirals_are_not() {
        let original = request("INVITE sip:bob@example.com SIP/2.0", "");
        let hash = loop_hash(&original);
        let via = LocalAddr {
            protocol: Protocol::Udp,
            host: "192.0.2.1".into(),
            port: 5060,
        }
        .via(&branch_id(&hash, 7));
        let forwarded = build_branch(
            &original,
            &BranchSpec {
                via: &via,
                ..BranchSpec::default()
            },
        )
        .unwrap();
        // Back unchanged: a loop.
        assert!(is_loop(&forwarded, &loop_hash(&forwarded), &mut Us));
        // Back with another Request-URI (an alias resolved elsewhere): a spiral.
        let mut e = forwarded.edit();
        e.set_request_uri("sip:robert@example.com").unwrap();
        let spiral = e.finish().unwrap();
        assert!(!is_loop(&spiral, &loop_hash(&spiral), &mut Us));
        assert!(!is_loop(&original, &hash, &mut Us), "no Via of ours");
    }

    #[test]
    fn a_branch_request_has_what_section_16_6_says() {
        let r = request(
            "INVITE sip:bob@example.com SIP/2.0",
            "Route: <sip:192.0.2.1;lr>\r\nProxy-Authorization: Digest username=\"alice\", realm=\"example.com\", nonce=\"n\", uri=\"sip:bob@example.com\", response=\"00\"\r\n\
Proxy-Authorization: Digest username=\"alice\", realm=\"other.net\", nonce=\"n\", uri=\"sip:bob@example.com\", response=\"00\"\r\n",
        );
        let check = check_routes(&r, &mut Us).unwrap();
        let path = vec!["<sip:edge.example.com;lr>".to_owned()];
        let rr = [
            "<sip:192.0.2.1:5060;transport=tcp;lr>".to_owned(),
            "<sip:192.0.2.1:5060;lr>".to_owned(),
        ];
        let m = build_branch(
            &r,
            &BranchSpec {
                request_uri: Some("sip:bob@10.0.0.9:5062"),
                routes_before: &path,
                routes: &check.remaining,
                record_route: &rr,
                consumed_realm: Some("example.com"),
                via: "SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bKx.1;rport",
                rewrites: Some(&super::super::Rewrites {
                    contact: Some("<sip:alice@203.0.113.5:1024>".into()),
                    sdp: None,
                    identity: super::super::AssertedIdentity::default(),
                }),
            },
        )
        .unwrap();
        assert_eq!(m.request_uri_str(), Some("sip:bob@10.0.0.9:5062"));
        assert_eq!(m.max_forwards().unwrap(), Some(69));
        assert_eq!(
            m.header(HeaderName::Contact),
            Some("<sip:alice@203.0.113.5:1024>")
        );
        let rrs: Vec<_> = m
            .record_routes()
            .map(|r| r.unwrap().uri.to_owned())
            .collect();
        assert_eq!(
            rrs,
            [
                "sip:192.0.2.1:5060;transport=tcp;lr",
                "sip:192.0.2.1:5060;lr"
            ]
        );
        let routes: Vec<_> = m.routes().map(|r| r.unwrap().uri.to_owned()).collect();
        assert_eq!(routes, ["sip:edge.example.com;lr"]);
        assert_eq!(m.proxy_authorization().count(), 1);
        assert!(m
            .proxy_authorization()
            .next()
            .unwrap()
            .contains("other.net"));
        assert_eq!(m.vias().count(), 2);
        assert_eq!(m.top_via().unwrap().branch(), Some("z9hG4bKx.1"));
    }
}
