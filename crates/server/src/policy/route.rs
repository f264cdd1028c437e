//! The main route: what the server does with a new request, in the order of the `ser.cfg`
//! of the KTH provider the project re-creates (seed 000's SER configuration: sanity,
//! REGISTER, authenticate, local user or PSTN or foreign domain). Each step is a function
//! named for what it decides:
//!
//! 1. [`sanity`]: malformed or unsupported requests are refused with a reason (§8.2,
//!    §16.3), Max-Forwards 0 with 483; [`size`]: too large, 513.
//! 2. REGISTER → [`register`]: the domain is ours, [`authenticate`] (401) unless the
//!    source is trusted (then the address must be a subscriber's), `check_to`, then the
//!    registrar (§10.3) with write-through to the store.
//! 3. OPTIONS to the server itself → [`options`]: 200 with what we support (keepalive
//!    probes, monitoring).
//! 4. Everything else is routed ([`route`]): loop detection (482), then
//!    - in a dialog (To tag) → [`within_dialog`]: follow the Route set (loose routing,
//!      Kamailio's `loose_route()`); in-dialog requests are not challenged, as in
//!      Kamailio's default configuration (the Route set is the authorization);
//!    - else [`authenticate`] local callers (407) and `check_from`; record-route; a
//!      pre-loaded Route set is followed; then by Request-URI: our domain →
//!      [`local_user`] (aliases, then the location service: 404 unknown, 480 not
//!      registered; callers from outside get one answer for both,
//!      [`same_answer_when_absent`]); a telephone number → the gateways ([`pstn`]);
//!      another domain → [`foreign`] (DNS; callers must be ours or trusted: no open
//!      relay).
//!
//! The route is synchronous and runs against what the engine knows ([`Cx`]); where it
//! needs the store or DNS it stops with [`Halt::Need`] and is run again, from the top, once
//! the answer is in. What happens to a forwarded request on its way out (NAT fixes, the
//! media relay, accounting) is not decided here but in the phase hooks
//! ([`crate::policy::hook::Hook`]).

use sip::sanity::{check_request, Policy, Rejection};
use sip::uri::Host;
use sip::{HeaderName, Message, MessageBuilder, Method, Uri};
use store::BindingWrite;

use crate::auth::{check_identity, AuthKind, Decision as AuthDecision, DigestAuth};
use crate::engine::facts::Halt;
use crate::engine::io::Source;
use crate::guard::Admit;
use crate::location::{aor_key, user_and_domain};
use crate::persist::writes_for;
use crate::policy::cx::Cx;
use crate::proxy::forward::{self, RouteCheck};
use crate::proxy::{Fallbacks, Forward, Target};
use crate::registrar::{ok_response, process_register, Arrival};
use crate::sip_text::local_tag;
use crate::targets::{binding_target, hops_for};

/// Methods the server handles itself or forwards.
pub const ALLOW: &str =
    "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, INFO, UPDATE, REFER, MESSAGE, SUBSCRIBE, NOTIFY, PRACK";

/// Extensions the registrar supports (RFC 3327 Path).
pub const SUPPORTED: &str = "path";

/// The route's decision for one request.
#[derive(Debug)]
pub(crate) enum Decision {
    /// Send this response now.
    Reply(MessageBuilder),
    /// Send this response once the store has committed `writes` (the registrar's
    /// write-through); a failed commit is answered 500 instead.
    AfterCommit {
        /// The 200.
        response: MessageBuilder,
        /// What to commit first.
        writes: Vec<BindingWrite>,
        /// The address-of-record, to reload after a failed commit.
        aor: String,
        /// A REGISTER over a stream: keep its connection open as long as its bindings
        /// live (seconds).
        keep_flow: Option<u64>,
        /// The REGISTER brings a new device or contact, or a phone back from a reboot
        /// (`registration_log::registers_anew`): told to the shell once committed.
        anew: bool,
    },
    /// Forward the request (statefully, or statelessly in stateless mode).
    Proxy(Forward),
    /// No answer at all (credentials for an account under attack from a source that
    /// failed lately, `crate::guard`).
    Drop,
}

/// Decides what to do with a new request by the steps above; a refusal is a reply, so
/// the only way this does not decide is [`Halt::Need`].
pub(crate) fn decide(cx: &mut Cx<'_>, request: &Message, source: Source) -> Result<Decision, Halt> {
    match steps(cx, request, source) {
        Ok(Decision::Proxy(forward))
            if request.to().is_ok_and(|t| t.tag().is_none())
                && crate::services::smuggled(&cx.config.services, &forward) =>
        {
            tracing::warn!(
                source = %source.addr,
                uri = request.request_uri_str().unwrap_or(""),
                "a request toward the media service that the service route did not write: refused"
            );
            Ok(Decision::Reply(rejected(
                request,
                &Rejection::new(403, "Forbidden"),
            )))
        }
        Ok(Decision::Proxy(mut forward)) => {
            forward.rewrites.identity =
                crate::policy::identity::decide(cx, request, source, &forward);
            Ok(Decision::Proxy(forward))
        }
        Ok(decision) => Ok(decision),
        Err(Halt::Reject(rejection)) => Ok(Decision::Reply(rejected(request, &rejection))),
        Err(need) => Err(need),
    }
}

fn steps(cx: &mut Cx<'_>, request: &Message, source: Source) -> Result<Decision, Halt> {
    let method = request.method().cloned().unwrap_or(Method::Options);
    sanity(request, &method)?;
    size(cx, request)?;
    match method {
        Method::Register => register(cx, request, source),
        Method::Options if addressed_to_server(cx, request)? => Ok(options(request)),
        _ => route(cx, request, source, &method),
    }
}

/// Step 1b: the seed's `msg:len > max_len` check (513, RFC 3261 §21.5.11).
fn size(cx: &Cx<'_>, request: &Message) -> Result<(), Halt> {
    if request.as_bytes().len() > cx.config.proxy.max_message_size {
        return Err(reject(513, "Message Too Large"));
    }
    Ok(())
}

/// Step 4: a request to route.
fn route(
    cx: &mut Cx<'_>,
    request: &Message,
    source: Source,
    method: &Method,
) -> Result<Decision, Halt> {
    let routes = forward::check_routes(request, cx.addresses)?;
    let loop_hash = forward::loop_hash(request);
    // §16.3 step 4.
    if forward::is_loop(request, &loop_hash, cx.addresses) {
        return Err(reject(482, "Loop Detected"));
    }
    let in_dialog = request.to()?.tag().is_some();
    tracing::debug!(%method, in_dialog, routed = routes.routed(), "routing");
    if in_dialog {
        return within_dialog(cx, request, routes, loop_hash);
    }
    // Local callers must prove who they are before anything is done for them. A call
    // the media service places for a subscriber (click-to-dial) is that subscriber's
    // call: not challenged, but not a trusted peer's either.
    let asserted = asserted_caller(cx, request, source, method)?;
    let trusted = from_trusted(cx, source) && asserted.is_none();
    let caller_realm = local_from_domain(cx, request)?;
    let mut consumed_realm = None;
    if let Some(caller) = asserted {
        cx.memo.caller = Some(caller);
    } else if let (Some(realm), false) = (&caller_realm, trusted) {
        if let Some(challenge) = authenticate(cx, request, source, AuthKind::Proxy, realm)? {
            return Ok(challenge);
        }
        consumed_realm = Some(realm.clone());
    }
    let mut forward = Forward {
        targets: Vec::new(),
        routes: routes.remaining.clone(),
        record_route: cx.config.proxy.record_route,
        consumed_realm,
        loop_hash,
        fallbacks: Fallbacks::default(),
        caller: cx.memo.caller.clone(),
        ..Forward::default()
    };
    // A pre-loaded Route set (RFC 3261 §16.6 step 7): the request goes to its first entry,
    // for our users and trusted peers only (anyone else could relay through us with it).
    if let Some(next) = routes.next_route() {
        if caller_realm.is_none() && !trusted {
            return Err(reject(403, "Relaying denied"));
        }
        let hops = hops_for(cx, next)?;
        forward
            .targets
            .push(Target::new(routes.strict_request_uri.clone(), hops));
        return Ok(Decision::Proxy(forward));
    }
    let Some(Uri::Sip(uri)) = request.request_uri() else {
        return Err(reject(416, "Only SIP Request-URIs are routed here"));
    };
    if addressed_to_us(cx, &uri)? {
        let ours = caller_realm.is_some() || trusted;
        let decision = our_domain(cx, request, &uri, method, (ours, trusted), forward);
        return if ours {
            decision
        } else {
            same_answer_when_absent(cx, &uri, method, decision)
        };
    }
    foreign(
        cx,
        request,
        &uri,
        caller_realm.is_some() || trusted,
        forward,
    )
}

/// A request for our domain: a telephone number to the gateways, else one of our users
/// (redirected or proxied). `caller` = (ours, trusted), as for [`pstn`].
fn our_domain(
    cx: &mut Cx<'_>,
    request: &Message,
    uri: &sip::uri::SipUri<'_>,
    method: &Method,
    caller: (bool, bool),
    mut forward: Forward,
) -> Result<Decision, Halt> {
    let invite = *method == Method::Invite;
    if crate::services::mwi::is_message_summary(request) {
        if let Some((user, domain)) = user_and_domain(uri) {
            let from = match request.from()?.parsed_uri() {
                Ok(Uri::Sip(u)) => user_and_domain(&u),
                _ => None,
            };
            if let Some(target) =
                crate::services::mwi::route(cx, &user, &domain, caller.0 || caller.1, from)?
            {
                // The notifier's NOTIFYs come back through us (RFC 6665 §4.1.2.1).
                forward.targets = vec![target];
                forward.record_route = true;
                forward.on_net = true;
                return Ok(Decision::Proxy(forward));
            }
        }
    }
    if let Some((user, domain)) = user_and_domain(uri).filter(|_| invite) {
        let from = match request.from()?.parsed_uri() {
            Ok(Uri::Sip(u)) => user_and_domain(&u),
            _ => None,
        };
        if let Some(targets) =
            crate::services::route(cx, &user, &domain, caller.0 || caller.1, from)?
        {
            forward.targets = targets;
            forward.on_net = true;
            return Ok(Decision::Proxy(forward));
        }
    }
    if let Some(number) = pstn_number(cx, uri)? {
        return pstn(cx, request, method, &number, caller, forward);
    }
    if invite && redirects(cx, uri) {
        let (_, targets) = local_user(cx, uri)?;
        if targets.is_empty() {
            return Err(reject(480, "Temporarily Unavailable"));
        }
        return Ok(redirect(request, &targets));
    }
    match local_call(cx, uri, invite) {
        Ok(call) => {
            forward.targets = call.targets;
            forward.fallbacks = call.fallbacks;
            forward.voicemail = call.voicemail;
            forward.on_net = true;
            Ok(Decision::Proxy(forward))
        }
        // Our own callers hear why (an announcement as early media, then the refusal),
        // when they offer media to hear it with (the media service answers offers only).
        Err(Halt::Reject(r)) if invite && (caller.0 || caller.1) && !request.body().is_empty() => {
            let domain = crate::domains::normalize(&uri.host.text());
            match crate::services::announcement(&cx.config.services, &domain, r.code) {
                Some(target) => {
                    forward.targets = vec![target];
                    Ok(Decision::Proxy(forward))
                }
                None => Err(Halt::Reject(r)),
            }
        }
        Err(other) => Err(other),
    }
}

/// Where a call to one of our users goes ([`local_call`]).
struct LocalCall {
    /// The phones (or the unconditional forwarding), then the busy and no-answer targets.
    targets: Vec<Target>,
    /// Which targets are kept for busy and no answer.
    fallbacks: Fallbacks,
    /// The subscriber, when their voicemail takes the call if it fails.
    voicemail: Option<store::Address>,
}

/// For a caller from outside (neither our authenticated user nor a trusted peer), the
/// refusals that tell an unknown user (404) from a subscriber with no phone registered
/// (480) become one answer, `[proxy] unknown_user_answer` (480 by default), so trying
/// names (`svwar`) lists nobody. The delay tells nothing either: both have asked the
/// store whether the name is a subscriber, and an INVITE for a subscriber also reads
/// their call forwarding, so one for an unknown name reads the forwarding of that name
/// (nothing; the request for an offline subscriber finds it among its answers).
fn same_answer_when_absent(
    cx: &mut Cx<'_>,
    uri: &sip::uri::SipUri<'_>,
    method: &Method,
    decision: Result<Decision, Halt>,
) -> Result<Decision, Halt> {
    match decision {
        Err(Halt::Reject(r)) if matches!(r.code, 404 | 480) => {
            if *method == Method::Invite {
                if let Some(aor) = aor_key(uri) {
                    let (user, domain) = aor.split_once('@').unwrap_or((aor.as_str(), ""));
                    cx.forwarding(user, domain)?;
                }
            }
            tracing::debug!(code = r.code, reason = %r.reason, "absent user; the outside caller gets the common answer");
            let (code, reason) = cx.config.proxy.unknown_user_answer.status();
            Err(reject(code, reason))
        }
        other => other,
    }
}

/// The Request-URI user when it is a telephone number for the gateways (the seed's
/// `uri=~"^sip:[0-9]{6,20}@"`) and not one of our users or aliases (a number can be an
/// alias, `+4684567890@example.com`, and then reaches its subscriber).
fn pstn_number(cx: &mut Cx<'_>, uri: &sip::uri::SipUri<'_>) -> Result<Option<String>, Halt> {
    let Some((user, domain)) = user_and_domain(uri) else {
        return Ok(None);
    };
    if !cx.config.proxy.pstn.is_number(&user) {
        return Ok(None);
    }
    let local = cx.resolve(&user, &domain)?;
    Ok(local.is_none().then_some(user))
}

/// The seed's `route[2]`: a number goes to the gateways, in order with failover. Only
/// our users and trusted peers may use them (`caller` = (ours, trusted)); an INVITE
/// (which costs money) needs [`pstn_permission`]. Trusted peers are not subject to groups.
fn pstn(
    cx: &mut Cx<'_>,
    request: &Message,
    method: &Method,
    number: &str,
    (caller_is_ours, trusted): (bool, bool),
    mut forward: Forward,
) -> Result<Decision, Halt> {
    if !caller_is_ours {
        // To a caller from outside, a number that is none of our users is an unknown
        // user (answered as one by `same_answer_when_absent`).
        return Err(reject(404, "Not Found"));
    }
    if *method == Method::Invite && !trusted {
        let caller = match request.from()?.parsed_uri() {
            Ok(Uri::Sip(u)) => user_and_domain(&u),
            _ => None,
        };
        pstn_permission(cx, number, caller.as_ref())?;
    }
    forward.targets.push(gateway_target(cx, number)?);
    Ok(Decision::Proxy(forward))
}

/// Whether subscriber `caller` (user, domain) may call `number`: it must be in the group of
/// the number's destination class (403 with the class's reason otherwise, and 403 for a
/// number of no class).
fn pstn_permission(
    cx: &mut Cx<'_>,
    number: &str,
    caller: Option<&(String, String)>,
) -> Result<(), Halt> {
    let class = cx
        .config
        .proxy
        .pstn
        .class_of(number)
        .ok_or_else(|| Rejection::new(403, "Forbidden"))?;
    let Some((user, domain)) = caller else {
        return Err(reject(403, class.refusal.clone()));
    };
    let allowed = cx.in_group(user, domain, &class.group)?;
    if !allowed {
        tracing::info!(%user, %domain, %number, group = %class.group, "PSTN call refused: not in group");
        return Err(reject(403, class.refusal.clone()));
    }
    Ok(())
}

/// The gateways as one target: every gateway's next hops in order, each with the number
/// at that gateway as Request-URI (the seed's `rewritehostport`).
fn gateway_target(cx: &mut Cx<'_>, number: &str) -> Result<Target, Halt> {
    let mut target = Target::new(None, Vec::new());
    let config = cx.config;
    for gateway in &config.proxy.pstn.gateways {
        let Some(request_uri) = crate::pstn::PstnConfig::request_uri(number, gateway) else {
            continue;
        };
        match hops_for(cx, gateway) {
            Ok(hops) => {
                for hop in hops {
                    target.hops.push(hop);
                    target.hop_request_uris.push(request_uri.clone());
                }
            }
            Err(Halt::Reject(r)) => {
                tracing::warn!(%gateway, reason = %r.reason, "gateway not reachable; skipped")
            }
            Err(need) => return Err(need),
        }
    }
    if target.hops.is_empty() {
        return Err(reject(503, "No gateway available"));
    }
    Ok(target)
}

/// Whether INVITEs for this domain are redirected rather than proxied.
fn redirects(cx: &Cx<'_>, uri: &sip::uri::SipUri<'_>) -> bool {
    let config = &cx.config.proxy;
    if config.redirect {
        return true;
    }
    let domain = crate::domains::normalize(&uri.host.text());
    config
        .redirect_domains
        .iter()
        .any(|d| crate::domains::normalize(d) == domain)
}

/// Redirect mode (RFC 3261 §8.3, §21.3.3): 302 with the user's bindings as Contacts, their
/// q-values kept, for the caller to try itself.
fn redirect(request: &Message, targets: &[Target]) -> Decision {
    let mut b = MessageBuilder::response_to(request, 302, None, Some(&local_tag(request)));
    for t in targets {
        if let Some(uri) = &t.request_uri {
            b = b.header_fmt(
                HeaderName::Contact,
                format_args!("<{uri}>;q={}.{:03}", t.q / 1000, t.q % 1000),
            );
        }
    }
    Decision::Reply(b)
}

/// A request inside a dialog: Kamailio's `loose_route()`. It must have been routed to us
/// by the Route set we put in the dialog (§16.4, §16.12); the next hop is the next Route
/// entry or the Request-URI (the remote target). Without a Route to us, a request for a
/// registered user of ours is sent to its binding (UAs that ignore Record-Route, such as
/// sipp's built-in scenarios), anything else gets 404.
fn within_dialog(
    cx: &mut Cx<'_>,
    request: &Message,
    routes: RouteCheck,
    loop_hash: String,
) -> Result<Decision, Halt> {
    let targets = dialog_targets(cx, request, &routes)?;
    Ok(Decision::Proxy(Forward {
        targets,
        routes: routes.remaining,
        record_route: false,
        loop_hash,
        ..Forward::default()
    }))
}

/// Where an in-dialog request (or ACK for a 2xx) goes; see [`within_dialog`].
pub(crate) fn dialog_targets(
    cx: &mut Cx<'_>,
    request: &Message,
    routes: &RouteCheck,
) -> Result<Vec<Target>, Halt> {
    if routes.routed() {
        let next = match (routes.next_route(), &routes.strict_request_uri) {
            (Some(route), _) => route.to_owned(),
            (None, Some(strict)) => strict.clone(),
            (None, None) => {
                let uri = request.request_uri_str().unwrap_or_default();
                if let Some(hop) = websocket_flow(cx, uri) {
                    return Ok(vec![Target::new(None, vec![hop])]);
                }
                uri.to_owned()
            }
        };
        return Ok(vec![Target::new(
            routes.strict_request_uri.clone(),
            hops_for(cx, &next)?,
        )]);
    }
    let Some(Uri::Sip(uri)) = request.request_uri() else {
        return Err(reject(404, "Not here"));
    };
    if addressed_to_us(cx, &uri)? {
        if let Some(best) = aor_key(&uri).and_then(|aor| registered(cx, &aor).into_iter().next()) {
            return Ok(vec![binding_target(cx, &best)?]);
        }
    }
    Err(reject(404, "Not here"))
}

/// The flow of a WebSocket client whose Contact is the next hop of an in-dialog request:
/// its host is a made-up `.invalid` name (RFC 7118 §5), so the request goes back over the
/// connection its registration came on, as the initial request did (the binding with that
/// contact). Only `.invalid` hosts are looked up: no other request pays for the search.
fn websocket_flow(cx: &Cx<'_>, uri: &str) -> Option<crate::proxy::Hop> {
    let Ok(Uri::Sip(sip_uri)) = Uri::parse(uri) else {
        return None;
    };
    let sip::uri::Host::Name(host) = sip_uri.host else {
        return None;
    };
    if !host.to_ascii_lowercase().ends_with(".invalid") {
        return None;
    }
    let now = cx.now.unix_secs();
    cx.location
        .iter()
        .find(|(_, b)| b.remaining(now) > 0 && b.transport.is_reliable() && b.same_contact(uri))
        .map(|(_, b)| crate::proxy::Hop {
            protocol: b.transport,
            addr: b.source,
        })
}

/// Whether a Request-URI names a domain we serve (an IP address can be one, as in
/// `--domain 192.0.2.1`) or this server's own address.
fn addressed_to_us(cx: &mut Cx<'_>, uri: &sip::uri::SipUri<'_>) -> Result<bool, Halt> {
    if uri.host.is_ip() && forward::OwnAddresses::is_own(cx.addresses, &uri.host, uri.port, false) {
        return Ok(true);
    }
    cx.is_served(&uri.host.text())
}

/// A request for one of our users: the location service (RFC 3261 §10, §16.5), its
/// aliases resolved first when the address itself has no bindings (the seed's
/// `lookup("aliases")` then `lookup("location")`). 404 for an unknown user, 480 for a
/// user with no registered device.
fn local_user(
    cx: &mut Cx<'_>,
    uri: &sip::uri::SipUri<'_>,
) -> Result<(store::Address, Vec<Target>), Halt> {
    let aor = aor_key(uri).ok_or_else(|| Rejection::new(404, "Not Found"))?;
    let (user, domain) = aor.split_once('@').unwrap_or((aor.as_str(), ""));
    let mut subscriber = store::Address {
        user: user.to_owned(),
        domain: domain.to_owned(),
    };
    let mut bindings = registered(cx, &aor);
    if bindings.is_empty() {
        subscriber = cx
            .resolve(user, domain)?
            .ok_or_else(|| Rejection::new(404, "Not Found"))?;
        bindings = registered(cx, &subscriber.aor());
    }
    let mut targets = Vec::with_capacity(bindings.len());
    for b in &bindings {
        match binding_target(cx, b) {
            Ok(t) => targets.push(t),
            Err(Halt::Reject(r)) => {
                tracing::info!(%aor, contact = %b.contact, reason = %r.reason, "binding not reachable; skipped")
            }
            Err(need) => return Err(need),
        }
    }
    Ok((subscriber, targets))
}

/// A call to one of our users with the subscriber's call forwarding applied (`itsp user
/// set ... forward-always= forward-busy= forward-no-answer= no-answer-after=`):
/// unconditional forwarding replaces the user's phones; busy and no-answer targets wait
/// in the context's [`Fallbacks`]; a user with no phone registered goes straight to the
/// no-answer target. Other requests (MESSAGE, OPTIONS...) reach the phones only. The
/// forwarding comes through the engine's cache of store answers (`engine::facts`): a
/// change takes effect within about a second.
fn local_call(
    cx: &mut Cx<'_>,
    uri: &sip::uri::SipUri<'_>,
    invite: bool,
) -> Result<LocalCall, Halt> {
    let (subscriber, mut targets) = local_user(cx, uri)?;
    let forwarding = if invite {
        cx.forwarding(&subscriber.user, &subscriber.domain)?
    } else {
        store::Forwarding::default()
    };
    if let Some(always) = &forwarding.always {
        let forwarded = forward_targets(cx, &subscriber, always)?;
        if !forwarded.is_empty() {
            tracing::debug!(user = %subscriber, to = %always, "forwarding unconditionally");
            return Ok(LocalCall {
                targets: forwarded,
                fallbacks: Fallbacks::default(),
                voicemail: None,
            });
        }
    }
    let voicemail =
        (forwarding.voicemail && cx.config.services.media.is_some()).then(|| subscriber.clone());
    let mut fallbacks = Fallbacks {
        no_answer_after: forwarding
            .no_answer_after
            .map(|s| std::time::Duration::from_secs(u64::from(s))),
        ..Fallbacks::default()
    };
    if let Some(busy) = &forwarding.busy {
        for t in forward_targets(cx, &subscriber, busy)? {
            fallbacks.busy.push(targets.len());
            targets.push(t);
        }
    }
    if let Some(no_answer) = &forwarding.no_answer {
        for t in forward_targets(cx, &subscriber, no_answer)? {
            fallbacks.no_answer.push(targets.len());
            targets.push(t);
        }
    }
    if voicemail.is_some() && fallbacks.no_answer.is_empty() {
        // Ring for the subscriber's no-answer-after (or the default), then voicemail.
        fallbacks.end_on_no_answer = true;
        fallbacks
            .no_answer_after
            .get_or_insert(cx.config.services.voicemail_after);
    }
    let phones = targets.len() - fallbacks.busy.len() - fallbacks.no_answer.len();
    if phones == 0 {
        if fallbacks.no_answer.is_empty() {
            if voicemail.is_some() {
                // No phone: no targets, the context fails with 480 and the failure
                // phase (voicemail) takes the call.
                return Ok(LocalCall {
                    targets: Vec::new(),
                    fallbacks: Fallbacks::default(),
                    voicemail,
                });
            }
            return Err(reject(480, "Temporarily Unavailable"));
        }
        // Not registered: straight to the no-answer target.
        let no_answer = fallbacks
            .no_answer
            .iter()
            .filter_map(|i| targets.get(*i).cloned())
            .collect();
        return Ok(LocalCall {
            targets: no_answer,
            fallbacks: Fallbacks::default(),
            voicemail,
        });
    }
    Ok(LocalCall {
        targets,
        fallbacks,
        voicemail,
    })
}

/// The targets of `subscriber`'s call-forwarding URI: our user's phones (no further
/// forwarding, so forwarding cannot loop), a telephone number (`tel:`, or a number at our
/// domain that is no user) through the gateways if the subscriber may call it, or another
/// domain's server. A target that cannot be reached (unknown user, no phone registered, no
/// permission, DNS failure) gives no targets: the forwarding is skipped and logged, and the
/// call goes on as if it were not set. Only a [`Halt::Need`] stops the decision.
fn forward_targets(
    cx: &mut Cx<'_>,
    subscriber: &store::Address,
    to: &str,
) -> Result<Vec<Target>, Halt> {
    match forward_targets_or_why(cx, subscriber, to) {
        Ok(targets) => Ok(targets),
        Err(Halt::Reject(r)) => {
            tracing::warn!(user = %subscriber, to, reason = %r.reason, "call forwarding not applied");
            Ok(Vec::new())
        }
        Err(need) => Err(need),
    }
}

fn forward_targets_or_why(
    cx: &mut Cx<'_>,
    subscriber: &store::Address,
    to: &str,
) -> Result<Vec<Target>, Halt> {
    let number = match Uri::parse(to) {
        Ok(Uri::Tel(tel)) => tel.digits().collect::<String>(),
        Ok(Uri::Sip(uri)) if addressed_to_us(cx, &uri)? => match pstn_number(cx, &uri)? {
            Some(number) => number,
            None => {
                let (_, phones) = local_user(cx, &uri)?;
                if phones.is_empty() {
                    return Err(reject(480, "no phone registered"));
                }
                return Ok(phones);
            }
        },
        Ok(Uri::Sip(_)) => return Ok(vec![Target::new(Some(to.to_owned()), hops_for(cx, to)?)]),
        _ => return Err(reject(416, "not a SIP or tel URI")),
    };
    if cx.config.proxy.pstn.gateways.is_empty() {
        return Err(reject(480, "a number, and no PSTN gateway is configured"));
    }
    let caller = (subscriber.user.clone(), subscriber.domain.clone());
    pstn_permission(cx, &number, Some(&caller))?;
    Ok(vec![gateway_target(cx, &number)?])
}

/// The bindings of `aor` a request may go to: not expired, not marked unreachable by
/// keepalives ([`crate::natping`]), most preferred first.
fn registered(cx: &Cx<'_>, aor: &str) -> Vec<crate::location::Binding> {
    let pinger = cx.pinger;
    let ping = &cx.config.nat.ping;
    let check = pinger.has_unreachable();
    cx.location
        .lookup(aor, cx.now.unix_secs())
        .into_iter()
        .filter(|b| !check || !pinger.is_unreachable(aor, b, ping))
        .cloned()
        .collect()
}

/// A request for a domain we do not serve (the seed's `route(1)` for `!uri==myself`):
/// only for our own (authenticated) users and trusted peers — anything else would make us
/// an open relay — and only when foreign domains are allowed; never to a private address
/// from outside (479, the seed's check); the next hops from DNS (RFC 3263).
fn foreign(
    cx: &mut Cx<'_>,
    request: &Message,
    uri: &sip::uri::SipUri<'_>,
    caller_is_ours: bool,
    mut forward: Forward,
) -> Result<Decision, Halt> {
    if !caller_is_ours {
        return Err(reject(403, "Relaying denied"));
    }
    if !cx.config.proxy.foreign_domains {
        return Err(reject(403, "Calls to other domains are not served here"));
    }
    let target_ip = match uri.maddr().unwrap_or(uri.host) {
        Host::V4(ip) => Some(std::net::IpAddr::V4(ip)),
        Host::V6(ip) => Some(std::net::IpAddr::V6(ip)),
        Host::Name(_) => None,
    };
    if cx.config.proxy.refuse_private_targets && target_ip.is_some_and(crate::nat::is_private) {
        return Err(reject(479, "We don't forward to private IP addresses"));
    }
    let hops = hops_for(cx, request.request_uri_str().unwrap_or_default())?;
    forward.targets.push(Target::new(None, hops));
    Ok(Decision::Proxy(forward))
}

/// Step 1: the checks every element makes before anything else (`sip::sanity`).
fn sanity(request: &Message, method: &Method) -> Result<(), Halt> {
    let policy = if *method == Method::Register {
        Policy::REGISTRAR
    } else {
        Policy::PROXY
    };
    Ok(check_request(request, &policy)?)
}

/// Step 2: REGISTER (RFC 3261 §10.3).
fn register(cx: &mut Cx<'_>, request: &Message, source: Source) -> Result<Decision, Halt> {
    // §10.3 step 1: the Request-URI names us (a served domain, or our address).
    if !addressed_to_server(cx, request)? {
        return Err(reject(403, "Registration for a domain not served here"));
    }
    // Step 3: authenticate against the To domain, the realm of its subscribers.
    let to = request.to()?;
    let to_uri = match to.parsed_uri() {
        Ok(Uri::Sip(u)) => u,
        _ => return Err(reject(404, "Address of record is not a SIP URI")),
    };
    let realm = crate::domains::normalize(&to_uri.host.text());
    if !cx.is_served(&realm)? {
        return Err(reject(403, "Domain not served"));
    }
    let trusted = from_trusted(cx, source);
    if !trusted {
        if let Some(challenge) = authenticate(cx, request, source, AuthKind::Www, &realm)? {
            return Ok(challenge);
        }
    }
    // Step 5: the address of record.
    let aor =
        aor_key(&to_uri).ok_or_else(|| Rejection::new(404, "Address of record has no user"))?;
    if trusted && !cx.config.registrar.trusted_may_register_anyone {
        // Not challenged, so the subscriber is looked up here: a trusted network binds
        // only subscribers' addresses (404 for others, §10.3 step 5), it creates no users.
        let user = user_and_domain(&to_uri).map(|(user, _)| user);
        if cx
            .credentials(user.as_deref().unwrap_or_default(), &realm)?
            .is_none()
        {
            tracing::info!(%aor, source = %source.addr, "trusted REGISTER for no subscriber refused");
            return Err(reject(404, "Not Found"));
        }
    }
    // Steps 6–8, atomically: decide, apply to the index, queue the write, list the result.
    let now = cx.now.unix_secs();
    let arrival = Arrival {
        now,
        source: source.addr,
        transport: source.local.protocol,
        local: Some(source.local.addr),
        nat: !cx
            .config
            .nat
            .tests
            .detect(request, source.addr, !source.reliable())
            .is_empty(),
    };
    let tag = local_tag(request);
    let changes = process_register(
        request,
        cx.location.all(&aor),
        &cx.config.registrar,
        &arrival,
    )?;
    let anew = crate::registration_log::registers_anew(cx.location.all(&aor), &changes, now);
    crate::registration_log::log_register(
        &aor,
        cx.location.all(&aor),
        &changes,
        &crate::registration_log::Origin {
            source: arrival.source,
            transport: arrival.transport,
            nat: arrival.nat,
            user_agent: request.user_agent(),
        },
        now,
    );
    cx.location.apply(&aor, &changes);
    let bindings = cx.location.lookup(&aor, now);
    let response = ok_response(request, &bindings, now, &tag)
        .header(HeaderName::Date, &date_header(now))
        .header(HeaderName::Supported, SUPPORTED);
    if changes.is_empty() {
        return Ok(Decision::Reply(response));
    }
    let keep_flow = source
        .reliable()
        .then(|| {
            bindings
                .iter()
                .filter(|b| b.source == source.addr)
                .map(|b| b.remaining(now))
                .max()
        })
        .flatten();
    Ok(Decision::AfterCommit {
        response,
        writes: writes_for(&aor, &changes),
        aor,
        keep_flow,
        anew,
    })
}

/// Step 3: OPTIONS to the server (no user part, our host): 200 with Allow, Accept and
/// Supported (RFC 3261 §11.2).
fn options(request: &Message) -> Decision {
    Decision::Reply(
        MessageBuilder::response_to(request, 200, None, Some(&local_tag(request)))
            .header(HeaderName::Allow, ALLOW)
            .header(HeaderName::Accept, "application/sdp")
            .header(HeaderName::Supported, SUPPORTED),
    )
}

/// Digest authentication in `realm` (RFC 3261 §22): `None` when the request carries valid
/// credentials of a subscriber whose name matches To (REGISTER) or From (others);
/// otherwise the challenge to send. Refusals (bad credentials, 403 identity) are errors.
/// The stored HA1 values come through the engine's cache of store answers (`engine::facts`).
fn authenticate(
    cx: &mut Cx<'_>,
    request: &Message,
    source: Source,
    kind: AuthKind,
    realm: &str,
) -> Result<Option<Decision>, Halt> {
    if cx.memo.authenticated {
        // Checked on an earlier run of this decision (the check counts nonce uses, so it
        // is made once).
        return Ok(None);
    }
    let ip = source.addr.ip();
    let ha1s = match DigestAuth::username(request, kind, realm) {
        Some(user) => {
            // An account under attack: sources that failed lately are turned away
            // unchecked (the guard's step 4).
            match cx.guard.slowed(cx.now, ip, &user, realm) {
                Some(Admit::Refuse) => return Err(reject(403, "Forbidden")),
                Some(_) => return Ok(Some(Decision::Drop)),
                None => {}
            }
            cx.credentials(&user, realm)?
        }
        None => None,
    };
    let random = cx.random.next();
    let decision = cx
        .auth
        .check(request, kind, realm, cx.now.unix_secs(), random, |_| ha1s);
    match decision {
        AuthDecision::Authenticated { user } => {
            check_identity(request, &user)?;
            cx.memo.authenticated = true;
            cx.memo.caller = store::Address::new(&user, realm).ok();
            Ok(None)
        }
        AuthDecision::Challenge {
            code,
            headers,
            failure,
        } => {
            if let Some(failure) = &failure {
                cx.guard.auth_failed(cx.now, ip, failure, realm);
            }
            let mut b = MessageBuilder::response_to(request, code, None, Some(&local_tag(request)));
            for (name, value) in &headers {
                b = b.header(*name, value);
            }
            Ok(Some(Decision::Reply(b)))
        }
        AuthDecision::Reject(r) => Err(r.into()),
    }
}

/// Whether the request comes from a trusted network: not challenged (Kamailio
/// `allow_trusted()`). Our own media services' socket is trusted too (its exact address,
/// not its host): their message-waiting NOTIFYs without a subscription come from there.
fn from_trusted(cx: &Cx<'_>, source: Source) -> bool {
    cx.config.services.media == Some(source.addr)
        || crate::trusted::is_trusted(&cx.config.trusted, source.addr.ip())
}

/// The subscriber a new INVITE from our media service is placed for (RFC 3725 §4.1
/// click-to-dial: the call to the target is the subscriber's own call). The media service
/// names them in `P-Asserted-Identity` (RFC 3325 §9.1; it is the only source inside our
/// trust domain, RFC 3325 §2.3, whose assertion is believed), and the From must be the
/// same address. The call is then routed as if that subscriber had authenticated: their
/// identity for accounting and prepaid credit, their groups for PSTN classes, no trusted
/// peer's freedoms. An asserted address that is no enabled subscriber of a domain we
/// serve is refused (403), as is a From that differs; requests from anywhere else keep
/// their `P-Asserted-Identity` unread.
fn asserted_caller(
    cx: &mut Cx<'_>,
    request: &Message,
    source: Source,
    method: &Method,
) -> Result<Option<store::Address>, Halt> {
    if cx.config.services.media != Some(source.addr) || *method != Method::Invite {
        return Ok(None);
    }
    let Some(value) = request.header_by_name(crate::policy::identity::ASSERTED) else {
        return Ok(None);
    };
    let refused = || reject(403, "Asserted identity is no subscriber");
    let asserted = sip::headers::NameAddr::parse(value).map_err(|_| refused())?;
    let Ok(Uri::Sip(uri)) = Uri::parse(asserted.uri) else {
        return Err(refused());
    };
    let (user, domain) = user_and_domain(&uri).ok_or_else(refused)?;
    let from = match request.from()?.parsed_uri() {
        Ok(Uri::Sip(u)) => user_and_domain(&u),
        _ => None,
    };
    if from.as_ref() != Some(&(user.clone(), domain.clone())) {
        return Err(reject(403, "From is not the asserted identity"));
    }
    if !cx.is_served(&domain)? || cx.credentials(&user, &domain)?.is_none() {
        tracing::info!(%user, %domain, "a call asserted for no enabled subscriber: refused");
        return Err(refused());
    }
    Ok(store::Address::new(&user, &domain).ok())
}

/// Whether the Request-URI names the server itself: a served domain, or an IP address
/// (a request sent to an address reached one of ours), without a user part for OPTIONS.
fn addressed_to_server(cx: &mut Cx<'_>, request: &Message) -> Result<bool, Halt> {
    let Some(Uri::Sip(uri)) = request.request_uri() else {
        return Ok(false);
    };
    if request.method() == Some(&Method::Options) && uri.user_unescaped().is_some() {
        return Ok(false);
    }
    match uri.host {
        Host::V4(_) | Host::V6(_) => Ok(true),
        Host::Name(name) => cx.is_served(name),
    }
}

/// The From domain when it is one we serve (the caller claims to be our subscriber).
fn local_from_domain(cx: &mut Cx<'_>, request: &Message) -> Result<Option<String>, Halt> {
    let from = request.from()?;
    let Ok(Uri::Sip(uri)) = from.parsed_uri() else {
        return Ok(None);
    };
    let host = crate::domains::normalize(&uri.host.text());
    if cx.is_served(&host)? {
        Ok(Some(host))
    } else {
        Ok(None)
    }
}

fn rejected(request: &Message, r: &Rejection) -> MessageBuilder {
    let mut b =
        MessageBuilder::response_to(request, r.code, Some(&r.reason), Some(&local_tag(request)));
    if let Some((name, value)) = &r.header {
        b = b.header(*name, value);
    }
    b
}

/// The Date header value for `now` (Unix seconds), formatted once per second and thread:
/// every 200 to a REGISTER carries one (RFC 3261 §10.3 step 8).
fn date_header(now: u64) -> String {
    thread_local! {
        static LAST: std::cell::RefCell<(u64, String)> =
            const { std::cell::RefCell::new((0, String::new())) };
    }
    LAST.with_borrow_mut(|(second, text)| {
        if *second != now || text.is_empty() {
            *second = now;
            *text = sip::headers::format_date(now);
        }
        text.clone()
    })
}

/// A refusal with this code and reason.
fn reject(code: u16, reason: impl Into<String>) -> Halt {
    Halt::Reject(Rejection::new(code, reason))
}
