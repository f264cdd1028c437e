//! The routing policy: what the server does with a new request, in the order of the seed's
//! `ser.cfg` (seed 000 appendix 1). Each step is a function named for what it decides:
//!
//! 1. [`sanity`]: malformed or unsupported requests are refused with a reason (§8.2,
//!    §16.3), Max-Forwards 0 with 483; [`size`]: too large, 513.
//! 2. REGISTER → [`register`]: the domain is ours, [`authenticate`] (401) unless the
//!    source is trusted, `check_to`, then the registrar (§10.3) with write-through to the
//!    store.
//! 3. OPTIONS to the server itself → [`options`]: 200 with what we support (keepalive
//!    probes, monitoring).
//! 4. Everything else is routed ([`route`]): the NAT test (its fixes come with the NAT
//!    work), loop detection (482), then
//!    - in a dialog (To tag) → [`within_dialog`]: follow the Route set (loose routing,
//!      Kamailio's `loose_route()`); in-dialog requests are not challenged, as in
//!      Kamailio's default configuration (the Route set is the authorization);
//!    - else [`authenticate`] local callers (407) and `check_from`; record-route; a
//!      pre-loaded Route set is followed; then by Request-URI: our domain →
//!      [`local_user`] (aliases, then the location service: 404 unknown, 480 not
//!      registered); another domain → [`foreign`] (DNS; callers must be ours or trusted:
//!      no open relay).
//!
//! ACKs for 2xx responses and responses that match no transaction are forwarded
//! statelessly: [`route_ack`], [`forward_response`].

use sip::sanity::{check_request, Policy, Rejection};
use sip::transaction::TransactionKey;
use sip::uri::Host;
use sip::{HeaderName, Message, MessageBuilder, Method, Uri};
use tokio::sync::oneshot;

use crate::auth::{check_identity, AuthKind, Decision, DigestAuth};
use crate::core::{local_tag, lock, unix_now, Core, Source, SERVER};
use crate::location::{aor_key, user_and_domain};
use crate::persist::{writes_for, WriteResult};
use crate::proxy::forward::{self, BranchSpec, RouteCheck};
use crate::proxy::{Fallbacks, Forward, Hop, Rewrites, Target};
use crate::registrar::{ok_response, process_register, Arrival};
use crate::targets::{binding_target, hops_for};

/// Methods the server handles itself or forwards.
pub const ALLOW: &str =
    "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, INFO, UPDATE, REFER, MESSAGE, SUBSCRIBE, NOTIFY, PRACK";

/// Extensions the registrar supports (RFC 3327 Path).
pub const SUPPORTED: &str = "path";

/// The decision for one request.
enum Answer {
    /// Send this response now.
    Reply(MessageBuilder),
    /// Send this response once the store has committed the location changes; a failed
    /// commit is answered 500 instead.
    AfterCommit {
        response: MessageBuilder,
        committed: oneshot::Receiver<WriteResult>,
        aor: String,
    },
    /// Forward the request statefully.
    Proxy(Forward),
}

/// Answers a new request (the server transaction `key`) by the steps above.
pub(crate) async fn handle_request(
    core: &Core,
    key: TransactionKey,
    request: Message,
    source: Source,
) {
    let answer = match decide(core, &request, source).await {
        Ok(answer) => answer,
        Err(rejection) => Answer::Reply(rejected(&request, &rejection)),
    };
    let response = match answer {
        Answer::Reply(response) => response,
        Answer::Proxy(mut forward) if core.config.proxy.stateless => {
            nat_fixes(core, &request, source, &mut forward);
            // Forgotten before forwarding: a retransmission that arrives once the request
            // is out is forwarded again (§16.11), not absorbed by a transaction.
            core.forget(&key).await;
            forward_statelessly(core, &request, forward, source).await;
            return;
        }
        Answer::Proxy(mut forward) => {
            let natted = nat_fixes(core, &request, source, &mut forward);
            relay_media(core, &request, source, natted, &mut forward).await;
            core.proxy(&key, forward, source).await;
            return;
        }
        Answer::AfterCommit {
            response,
            committed,
            aor,
        } => match committed.await {
            Ok(Ok(())) => response,
            failure => {
                let why = match failure {
                    Ok(Err(e)) => e,
                    _ => "writer stopped".into(),
                };
                tracing::error!(%aor, error = %why, "bindings not saved; answering 500");
                reload_aor(core, &aor).await;
                MessageBuilder::response_to(
                    &request,
                    500,
                    Some("Bindings not saved"),
                    Some(&local_tag(&request)),
                )
                .header(HeaderName::RetryAfter, "5")
            }
        },
    };
    core.respond(&key, response.header(HeaderName::Server, SERVER))
        .await;
}

/// The NAT step of the seed's `ser.cfg` for a request being forwarded: when
/// `nat_uac_test` finds the sender behind a NAT, its Contact is rewritten to the address
/// the request came from (`fix_nated_contact`), so the other side's in-dialog requests
/// go back through the NAT mapping. REGISTER never gets here: its binding keeps the source.
/// Answers whether the sender is behind a NAT.
fn nat_fixes(core: &Core, request: &Message, source: Source, forward: &mut Forward) -> bool {
    let nat = &core.config.nat;
    let fired = nat.tests.detect(request, source.addr, !source.reliable());
    if fired.is_empty() {
        return false;
    }
    tracing::debug!(source = %source.addr, tests = %fired, "request from behind a NAT");
    if nat.fix_contact {
        forward.rewrites.contact =
            crate::nat::fixed_message_contact(request, source.addr, source.reliable());
    }
    true
}

/// The relay step of the seed's `ser.cfg` (`force_rtp_proxy`): a call set-up the proxy
/// stays in is relayed when the policy wants it (by default when the caller, `natted`, or
/// a callee is behind a NAT), and every SDP of a relayed call is rewritten by the relay
/// ([`crate::media_relay`]); BYE ends its session.
async fn relay_media(
    core: &Core,
    request: &Message,
    source: Source,
    natted: bool,
    forward: &mut Forward,
) {
    let Some(relay) = &core.relay else { return };
    let initial_invite =
        request.method() == Some(&Method::Invite) && request.to().is_ok_and(|t| t.tag().is_none());
    let start = initial_invite
        && forward.record_route
        && relay.wanted(natted || forward.targets.iter().any(|t| t.nat));
    if !start && !request.call_id().is_ok_and(|c| relay.is_relayed(c)) {
        return;
    }
    let toward = forward
        .targets
        .first()
        .and_then(|t| t.hops.first())
        .map(|h| h.addr.ip());
    let party = crate::media_relay::Party {
        source: source.addr.ip(),
        natted,
        facing: toward.and_then(|ip| core.outbound_ip(ip)),
    };
    if let Some(sdp) = relay.on_request(request, party, start).await {
        forward.rewrites.sdp = Some(sdp);
    }
}

async fn decide(core: &Core, request: &Message, source: Source) -> Result<Answer, Rejection> {
    let method = request.method().cloned().unwrap_or(Method::Options);
    sanity(request, &method)?;
    size(core, request)?;
    match method {
        Method::Register => register(core, request, source).await,
        Method::Options if addressed_to_server(core, request).await? => Ok(options(request)),
        _ => route(core, request, source, &method).await,
    }
}

/// Step 1b: the seed's `msg:len > max_len` check (513, RFC 3261 §21.5.11).
fn size(core: &Core, request: &Message) -> Result<(), Rejection> {
    if request.as_bytes().len() > core.config.proxy.max_message_size {
        return Err(Rejection::new(513, "Message Too Large"));
    }
    Ok(())
}

/// Step 4: a request to route.
async fn route(
    core: &Core,
    request: &Message,
    source: Source,
    method: &Method,
) -> Result<Answer, Rejection> {
    let routes = forward::check_routes(request, core)?;
    let loop_hash = forward::loop_hash(request);
    // §16.3 step 4.
    if forward::is_loop(request, &loop_hash, core) {
        return Err(Rejection::new(482, "Loop Detected"));
    }
    let in_dialog = request.to()?.tag().is_some();
    tracing::debug!(%method, in_dialog, routed = routes.routed(), "routing");
    if in_dialog {
        return within_dialog(core, request, routes, loop_hash).await;
    }
    // Local callers must prove who they are before anything is done for them.
    let trusted = from_trusted(core, source);
    let caller_realm = local_from_domain(core, request).await?;
    let mut consumed_realm = None;
    if let (Some(realm), false) = (&caller_realm, trusted) {
        if let Some(challenge) = authenticate(core, request, AuthKind::Proxy, realm).await? {
            return Ok(challenge);
        }
        consumed_realm = Some(realm.clone());
    }
    let mut forward = Forward {
        targets: Vec::new(),
        routes: routes.remaining.clone(),
        record_route: core.config.proxy.record_route,
        consumed_realm,
        loop_hash,
        fallbacks: Fallbacks::default(),
        rewrites: Rewrites::default(),
    };
    // A pre-loaded Route set (RFC 3261 §16.6 step 7): the request goes to its first entry,
    // for our users and trusted peers only (anyone else could relay through us with it).
    if let Some(next) = routes.next_route() {
        if caller_realm.is_none() && !trusted {
            return Err(Rejection::new(403, "Relaying denied"));
        }
        let hops = hops_for(core, next).await?;
        forward
            .targets
            .push(Target::new(routes.strict_request_uri.clone(), hops));
        return Ok(Answer::Proxy(forward));
    }
    let Some(Uri::Sip(uri)) = request.request_uri() else {
        return Err(Rejection::new(416, "Only SIP Request-URIs are routed here"));
    };
    if addressed_to_us(core, &uri).await? {
        if let Some(number) = pstn_number(core, &uri).await? {
            let ours = caller_realm.is_some() || trusted;
            return pstn(core, request, method, &number, (ours, trusted), forward).await;
        }
        if *method == Method::Invite && redirects(core, &uri) {
            let (_, targets) = local_user(core, &uri).await?;
            if targets.is_empty() {
                return Err(Rejection::new(480, "Temporarily Unavailable"));
            }
            return Ok(redirect(request, &targets));
        }
        let (targets, fallbacks) = local_call(core, &uri, *method == Method::Invite).await?;
        forward.targets = targets;
        forward.fallbacks = fallbacks;
        return Ok(Answer::Proxy(forward));
    }
    foreign(
        core,
        request,
        &uri,
        caller_realm.is_some() || trusted,
        forward,
    )
    .await
}

/// The Request-URI user when it is a telephone number for the gateways (the seed's
/// `uri=~"^sip:[0-9]{6,20}@"`) and not one of our users or aliases (a number can be an
/// alias, `+4684567890@example.com`, and then reaches its subscriber).
async fn pstn_number(core: &Core, uri: &sip::uri::SipUri<'_>) -> Result<Option<String>, Rejection> {
    let Some((user, domain)) = user_and_domain(uri) else {
        return Ok(None);
    };
    if !core.config.proxy.pstn.is_number(&user) {
        return Ok(None);
    }
    let local = core
        .store
        .resolve(&user, &domain)
        .await
        .map_err(store_failure)?;
    Ok(local.is_none().then_some(user))
}

/// The seed's `route[2]`: a number goes to the gateways, in order with failover. Only
/// our users and trusted peers may use them (`caller` = (ours, trusted)); an INVITE
/// (which costs money) needs [`pstn_permission`]. Trusted peers are not subject to groups.
async fn pstn(
    core: &Core,
    request: &Message,
    method: &Method,
    number: &str,
    (caller_is_ours, trusted): (bool, bool),
    mut forward: Forward,
) -> Result<Answer, Rejection> {
    if !caller_is_ours {
        return Err(Rejection::new(403, "Call cannot be served here"));
    }
    if *method == Method::Invite && !trusted {
        let caller = match request.from()?.parsed_uri() {
            Ok(Uri::Sip(u)) => user_and_domain(&u),
            _ => None,
        };
        pstn_permission(core, number, caller.as_ref()).await?;
    }
    forward.targets.push(gateway_target(core, number).await?);
    Ok(Answer::Proxy(forward))
}

/// Whether subscriber `caller` (user, domain) may call `number`: it must be in the group of
/// the number's destination class (403 with the class's reason otherwise, and 403 for a
/// number of no class).
async fn pstn_permission(
    core: &Core,
    number: &str,
    caller: Option<&(String, String)>,
) -> Result<(), Rejection> {
    let class = core
        .config
        .proxy
        .pstn
        .class_of(number)
        .ok_or_else(|| Rejection::new(403, "Forbidden"))?;
    let Some((user, domain)) = caller else {
        return Err(Rejection::new(403, class.refusal.clone()));
    };
    let allowed = core
        .store
        .in_group(user, domain, &class.group)
        .await
        .map_err(store_failure)?;
    if !allowed {
        tracing::info!(%user, %domain, %number, group = %class.group, "PSTN call refused: not in group");
        return Err(Rejection::new(403, class.refusal.clone()));
    }
    Ok(())
}

/// The gateways as one target: every gateway's next hops in order, each with the number
/// at that gateway as Request-URI (the seed's `rewritehostport`).
async fn gateway_target(core: &Core, number: &str) -> Result<Target, Rejection> {
    let mut target = Target::new(None, Vec::new());
    for gateway in &core.config.proxy.pstn.gateways {
        let Some(request_uri) = crate::pstn::PstnConfig::request_uri(number, gateway) else {
            continue;
        };
        match hops_for(core, gateway).await {
            Ok(hops) => {
                for hop in hops {
                    target.hops.push(hop);
                    target.hop_request_uris.push(request_uri.clone());
                }
            }
            Err(r) => {
                tracing::warn!(%gateway, reason = %r.reason, "gateway not reachable; skipped")
            }
        }
    }
    if target.hops.is_empty() {
        return Err(Rejection::new(503, "No gateway available"));
    }
    Ok(target)
}

/// Whether INVITEs for this domain are redirected rather than proxied.
fn redirects(core: &Core, uri: &sip::uri::SipUri<'_>) -> bool {
    let config = &core.config.proxy;
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
fn redirect(request: &Message, targets: &[Target]) -> Answer {
    let mut b = MessageBuilder::response_to(request, 302, None, Some(&local_tag(request)));
    for t in targets {
        if let Some(uri) = &t.request_uri {
            b = b.header_fmt(
                HeaderName::Contact,
                format_args!("<{uri}>;q={}.{:03}", t.q / 1000, t.q % 1000),
            );
        }
    }
    Answer::Reply(b)
}

/// A request inside a dialog: Kamailio's `loose_route()`. It must have been routed to us
/// by the Route set we put in the dialog (§16.4, §16.12); the next hop is the next Route
/// entry or the Request-URI (the remote target). Without a Route to us, a request for a
/// registered user of ours is sent to its binding (UAs that ignore Record-Route, such as
/// sipp's built-in scenarios), anything else gets 404.
async fn within_dialog(
    core: &Core,
    request: &Message,
    routes: RouteCheck,
    loop_hash: String,
) -> Result<Answer, Rejection> {
    let targets = dialog_targets(core, request, &routes).await?;
    if request.method() == Some(&Method::Bye) {
        core.calls.ended(request);
    }
    Ok(Answer::Proxy(Forward {
        targets,
        routes: routes.remaining,
        record_route: false,
        consumed_realm: None,
        loop_hash,
        fallbacks: Fallbacks::default(),
        rewrites: Rewrites::default(),
    }))
}

/// Where an in-dialog request (or ACK for a 2xx) goes; see [`within_dialog`].
async fn dialog_targets(
    core: &Core,
    request: &Message,
    routes: &RouteCheck,
) -> Result<Vec<Target>, Rejection> {
    if routes.routed() {
        let next = match (routes.next_route(), &routes.strict_request_uri) {
            (Some(route), _) => route.to_owned(),
            (None, Some(strict)) => strict.clone(),
            (None, None) => request.request_uri_str().unwrap_or_default().to_owned(),
        };
        return Ok(vec![Target::new(
            routes.strict_request_uri.clone(),
            hops_for(core, &next).await?,
        )]);
    }
    let Some(Uri::Sip(uri)) = request.request_uri() else {
        return Err(Rejection::new(404, "Not here"));
    };
    if addressed_to_us(core, &uri).await? {
        if let Some(best) = aor_key(&uri).and_then(|aor| registered(core, &aor).into_iter().next())
        {
            return Ok(vec![binding_target(core, &best).await?]);
        }
    }
    Err(Rejection::new(404, "Not here"))
}

/// Whether a Request-URI names a domain we serve (an IP address can be one, as in
/// `--domain 192.0.2.1`) or this server's own address.
async fn addressed_to_us(core: &Core, uri: &sip::uri::SipUri<'_>) -> Result<bool, Rejection> {
    if uri.host.is_ip() && forward::OwnAddresses::is_own(core, &uri.host, uri.port, false) {
        return Ok(true);
    }
    core.domains
        .is_served(&uri.host.text())
        .await
        .map_err(store_failure)
}

/// A request for one of our users: the location service (RFC 3261 §10, §16.5), its
/// aliases resolved first when the address itself has no bindings (the seed's
/// `lookup("aliases")` then `lookup("location")`). 404 for an unknown user, 480 for a
/// user with no registered device.
async fn local_user(
    core: &Core,
    uri: &sip::uri::SipUri<'_>,
) -> Result<(store::Address, Vec<Target>), Rejection> {
    let aor = aor_key(uri).ok_or_else(|| Rejection::new(404, "Not Found"))?;
    let (user, domain) = aor.split_once('@').unwrap_or((aor.as_str(), ""));
    let mut subscriber = store::Address {
        user: user.to_owned(),
        domain: domain.to_owned(),
    };
    let mut bindings = registered(core, &aor);
    if bindings.is_empty() {
        subscriber = core
            .store
            .resolve(user, domain)
            .await
            .map_err(store_failure)?
            .ok_or_else(|| Rejection::new(404, "Not Found"))?;
        bindings = registered(core, &subscriber.aor());
    }
    let mut targets = Vec::with_capacity(bindings.len());
    for b in &bindings {
        match binding_target(core, b).await {
            Ok(t) => targets.push(t),
            Err(r) => {
                tracing::info!(%aor, contact = %b.contact, reason = %r.reason, "binding not reachable; skipped")
            }
        }
    }
    Ok((subscriber, targets))
}

/// A call to one of our users with the subscriber's call forwarding applied (`itsp user
/// set ... forward-always= forward-busy= forward-no-answer= no-answer-after=`):
/// unconditional forwarding replaces the user's phones; busy and no-answer targets wait
/// in the context's [`Fallbacks`]; a user with no phone registered goes straight to the
/// no-answer target. Other requests (MESSAGE, OPTIONS...) reach the phones only. The
/// forwarding comes through the [`crate::forwarding`] cache: a change takes effect within
/// about a second.
async fn local_call(
    core: &Core,
    uri: &sip::uri::SipUri<'_>,
    invite: bool,
) -> Result<(Vec<Target>, Fallbacks), Rejection> {
    let (subscriber, mut targets) = local_user(core, uri).await?;
    let forwarding = if invite {
        core.forwarding
            .lookup(
                &subscriber.user,
                &subscriber.domain,
                std::time::Instant::now(),
            )
            .await
            .map_err(store_failure)?
    } else {
        store::Forwarding::default()
    };
    if let Some(always) = &forwarding.always {
        let forwarded = forward_targets(core, &subscriber, always).await;
        if !forwarded.is_empty() {
            tracing::debug!(user = %subscriber, to = %always, "forwarding unconditionally");
            return Ok((forwarded, Fallbacks::default()));
        }
    }
    let mut fallbacks = Fallbacks {
        no_answer_after: forwarding
            .no_answer_after
            .map(|s| std::time::Duration::from_secs(u64::from(s))),
        ..Fallbacks::default()
    };
    if let Some(busy) = &forwarding.busy {
        for t in forward_targets(core, &subscriber, busy).await {
            fallbacks.busy.push(targets.len());
            targets.push(t);
        }
    }
    if let Some(no_answer) = &forwarding.no_answer {
        for t in forward_targets(core, &subscriber, no_answer).await {
            fallbacks.no_answer.push(targets.len());
            targets.push(t);
        }
    }
    let phones = targets.len() - fallbacks.busy.len() - fallbacks.no_answer.len();
    if phones == 0 {
        if fallbacks.no_answer.is_empty() {
            return Err(Rejection::new(480, "Temporarily Unavailable"));
        }
        // Not registered: straight to the no-answer target.
        let no_answer = fallbacks
            .no_answer
            .iter()
            .filter_map(|i| targets.get(*i).cloned())
            .collect();
        return Ok((no_answer, Fallbacks::default()));
    }
    Ok((targets, fallbacks))
}

/// The targets of `subscriber`'s call-forwarding URI: our user's phones (no further
/// forwarding, so forwarding cannot loop), a telephone number (`tel:`, or a number at our
/// domain that is no user) through the gateways if the subscriber may call it, or another
/// domain's server. A target that cannot be reached (unknown user, no phone registered, no
/// permission, DNS failure) gives no targets: the forwarding is skipped and logged, and the
/// call goes on as if it were not set.
async fn forward_targets(core: &Core, subscriber: &store::Address, to: &str) -> Vec<Target> {
    match forward_targets_or_why(core, subscriber, to).await {
        Ok(targets) => targets,
        Err(r) => {
            tracing::warn!(user = %subscriber, to, reason = %r.reason, "call forwarding not applied");
            Vec::new()
        }
    }
}

async fn forward_targets_or_why(
    core: &Core,
    subscriber: &store::Address,
    to: &str,
) -> Result<Vec<Target>, Rejection> {
    let number = match Uri::parse(to) {
        Ok(Uri::Tel(tel)) => tel.digits().collect::<String>(),
        Ok(Uri::Sip(uri)) if addressed_to_us(core, &uri).await? => {
            match pstn_number(core, &uri).await? {
                Some(number) => number,
                None => {
                    let (_, phones) = local_user(core, &uri).await?;
                    if phones.is_empty() {
                        return Err(Rejection::new(480, "no phone registered"));
                    }
                    return Ok(phones);
                }
            }
        }
        Ok(Uri::Sip(_)) => {
            return Ok(vec![Target::new(
                Some(to.to_owned()),
                hops_for(core, to).await?,
            )])
        }
        _ => return Err(Rejection::new(416, "not a SIP or tel URI")),
    };
    if core.config.proxy.pstn.gateways.is_empty() {
        return Err(Rejection::new(
            480,
            "a number, and no PSTN gateway is configured",
        ));
    }
    let caller = (subscriber.user.clone(), subscriber.domain.clone());
    pstn_permission(core, &number, Some(&caller)).await?;
    Ok(vec![gateway_target(core, &number).await?])
}

/// The live bindings of an address of record, best q first.
/// The bindings of `aor` a request may go to: not expired, not marked unreachable by
/// keepalives ([`crate::natping`]), most preferred first.
fn registered(core: &Core, aor: &str) -> Vec<crate::location::Binding> {
    let location = lock(&core.location);
    let pinger = lock(&core.pinger);
    let ping = &core.config.nat.ping;
    let check = pinger.has_unreachable();
    location
        .lookup(aor, unix_now())
        .into_iter()
        .filter(|b| !check || !pinger.is_unreachable(aor, b, ping))
        .cloned()
        .collect()
}

/// A request for a domain we do not serve (the seed's `route(1)` for `!uri==myself`):
/// only for our own (authenticated) users and trusted peers — anything else would make us
/// an open relay — and only when foreign domains are allowed; never to a private address
/// from outside (479, the seed's check); the next hops from DNS (RFC 3263).
async fn foreign(
    core: &Core,
    request: &Message,
    uri: &sip::uri::SipUri<'_>,
    caller_is_ours: bool,
    mut forward: Forward,
) -> Result<Answer, Rejection> {
    if !caller_is_ours {
        return Err(Rejection::new(403, "Relaying denied"));
    }
    if !core.config.proxy.foreign_domains {
        return Err(Rejection::new(
            403,
            "Calls to other domains are not served here",
        ));
    }
    let target_ip = match uri.maddr().unwrap_or(uri.host) {
        Host::V4(ip) => Some(std::net::IpAddr::V4(ip)),
        Host::V6(ip) => Some(std::net::IpAddr::V6(ip)),
        Host::Name(_) => None,
    };
    if core.config.proxy.refuse_private_targets && target_ip.is_some_and(crate::nat::is_private) {
        return Err(Rejection::new(
            479,
            "We don't forward to private IP addresses",
        ));
    }
    let hops = hops_for(core, request.request_uri_str().unwrap_or_default()).await?;
    forward.targets.push(Target::new(None, hops));
    Ok(Answer::Proxy(forward))
}

/// An ACK outside any transaction: the ACK for a 2xx, which goes end to end along the
/// dialog's Route set (§13.2.2.4, §16.6), forwarded statelessly (§16.11) with a branch
/// derived from the received one so its retransmissions keep it.
pub(crate) async fn route_ack(core: &Core, ack: Message, source: Source) {
    let routes = match forward::check_routes(&ack, core) {
        Ok(r) => r,
        Err(e) => {
            tracing::info!(source = %source.addr, error = %e, "ACK with a malformed Route dropped");
            return;
        }
    };
    if ack.max_forwards().ok().flatten() == Some(0) {
        return;
    }
    let target = match dialog_targets(core, &ack, &routes).await {
        Ok(mut t) if !t.is_empty() => t.swap_remove(0),
        Ok(_) | Err(_) => {
            tracing::debug!(source = %source.addr, call_id = ack.call_id().unwrap_or("-"), "ACK not for us; dropped");
            return;
        }
    };
    let mut forward = Forward {
        targets: vec![target],
        routes: routes.remaining,
        record_route: false,
        consumed_realm: None,
        loop_hash: forward::loop_hash(&ack),
        fallbacks: Fallbacks::default(),
        rewrites: Rewrites::default(),
    };
    // An ACK with SDP answers an offer made in a 2xx.
    if crate::media_relay::has_sdp(&ack) {
        let natted = !core
            .config
            .nat
            .tests
            .detect(&ack, source.addr, !source.reliable())
            .is_empty();
        relay_media(core, &ack, source, natted, &mut forward).await;
    }
    forward_statelessly(core, &ack, forward, source).await;
}

/// Stateless forwarding (RFC 3261 §16.11), for stateless mode and for ACKs of 2xx: the
/// first target's first hop only, a branch derived from the received one (a retransmission
/// is forwarded the same way), Record-Route as the stateful proxy does.
async fn forward_statelessly(core: &Core, request: &Message, forward: Forward, source: Source) {
    let Some(target) = forward.targets.into_iter().next() else {
        return;
    };
    let Some(hop) = target.hops.first().copied() else {
        return;
    };
    let env: &dyn crate::proxy::table::Env = core;
    let (Some((_, outbound)), Some((_, inbound))) = (
        env.local_for(&hop),
        env.local_for(&Hop {
            protocol: source.local.protocol,
            addr: source.addr,
        }),
    ) else {
        return;
    };
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
        Ok(m) => core.send_to(hop, m.as_bytes().clone()).await,
        Err(e) => tracing::info!(error = %e, "request cannot be forwarded"),
    }
}

/// A response for no transaction of ours (§16.7 step 3, §16.11): if its top Via is ours,
/// remove it and send the response where the next Via says (`received`/`rport`, RFC 3581).
pub(crate) async fn forward_response(core: &Core, response: Message) {
    let Ok(top) = response.top_via() else { return };
    if !forward::OwnAddresses::is_own(core, &top.host, top.port, false) {
        tracing::debug!(via = top.sent_by, "stray response not via us; dropped");
        return;
    }
    let mut edit = response.edit();
    edit.pop_via();
    let Ok(up) = edit.finish() else { return };
    let Ok(next) = up.top_via() else { return };
    let Some(ip) = next.received().or(crate::nat::host_ip(&next.host)) else {
        return;
    };
    let port = match next.rport() {
        Some(Some(port)) => port,
        _ => next.port.unwrap_or(5060),
    };
    let protocol = if next.transport.eq_ignore_ascii_case("tcp") {
        transport::Protocol::Tcp
    } else {
        transport::Protocol::Udp
    };
    let hop = Hop {
        protocol,
        addr: std::net::SocketAddr::new(ip, port),
    };
    core.send_to(hop, up.as_bytes().clone()).await;
}

fn stable_hash(s: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}

/// Step 1: the checks every element makes before anything else (`sip::sanity`).
fn sanity(request: &Message, method: &Method) -> Result<(), Rejection> {
    let policy = if *method == Method::Register {
        Policy::REGISTRAR
    } else {
        Policy::PROXY
    };
    check_request(request, &policy)
}

/// Step 2: REGISTER (RFC 3261 §10.3).
async fn register(core: &Core, request: &Message, source: Source) -> Result<Answer, Rejection> {
    // §10.3 step 1: the Request-URI names us (a served domain, or our address).
    if !addressed_to_server(core, request).await? {
        return Err(Rejection::new(
            403,
            "Registration for a domain not served here",
        ));
    }
    // Step 3: authenticate against the To domain, the realm of its subscribers.
    let to = request.to()?;
    let to_uri = match to.parsed_uri() {
        Ok(Uri::Sip(u)) => u,
        _ => return Err(Rejection::new(404, "Address of record is not a SIP URI")),
    };
    let realm = crate::domains::normalize(&to_uri.host.text());
    if !core
        .domains
        .is_served(&realm)
        .await
        .map_err(store_failure)?
    {
        return Err(Rejection::new(403, "Domain not served"));
    }
    if !from_trusted(core, source) {
        if let Some(challenge) = authenticate(core, request, AuthKind::Www, &realm).await? {
            return Ok(challenge);
        }
    }
    // Step 5: the address of record.
    let aor =
        aor_key(&to_uri).ok_or_else(|| Rejection::new(404, "Address of record has no user"))?;
    // Steps 6–8, atomically: decide, apply to the index, queue the write, list the result.
    let now = unix_now();
    let arrival = Arrival {
        now,
        source: source.addr,
        transport: source.local.protocol.as_via(),
        local: Some(source.local.addr),
        nat: !core
            .config
            .nat
            .tests
            .detect(request, source.addr, !source.reliable())
            .is_empty(),
    };
    let tag = local_tag(request);
    let (response, committed) = {
        let mut location = lock(&core.location);
        let changes = process_register(
            request,
            location.all(&aor),
            &core.config.registrar,
            &arrival,
        )?;
        location.apply(&aor, &changes);
        let committed =
            (!changes.is_empty()).then(|| core.writer.submit(writes_for(&aor, &changes)));
        let bindings = location.lookup(&aor, now);
        let response = ok_response(request, &bindings, now, &tag)
            .header(HeaderName::Date, &date_header(now))
            .header(HeaderName::Supported, SUPPORTED);
        (response, committed)
    };
    tracing::debug!(%aor, source = %source.addr, contacts = request.contacts().count(), "registered");
    Ok(match committed {
        Some(committed) => Answer::AfterCommit {
            response,
            committed,
            aor,
        },
        None => Answer::Reply(response),
    })
}

/// Step 3: OPTIONS to the server (no user part, our host): 200 with Allow, Accept and
/// Supported (RFC 3261 §11.2).
fn options(request: &Message) -> Answer {
    Answer::Reply(
        MessageBuilder::response_to(request, 200, None, Some(&local_tag(request)))
            .header(HeaderName::Allow, ALLOW)
            .header(HeaderName::Accept, "application/sdp")
            .header(HeaderName::Supported, SUPPORTED),
    )
}

/// Digest authentication in `realm` (RFC 3261 §22): `None` when the request carries valid
/// credentials of a subscriber whose name matches To (REGISTER) or From (others);
/// otherwise the challenge to send. Refusals (bad credentials, 403 identity) are errors.
/// The stored HA1 values come through the [`crate::credentials`] cache.
async fn authenticate(
    core: &Core,
    request: &Message,
    kind: AuthKind,
    realm: &str,
) -> Result<Option<Answer>, Rejection> {
    let ha1s = match DigestAuth::username(request, kind, realm) {
        Some(user) => core
            .credentials
            .lookup(&user, realm, std::time::Instant::now())
            .await
            .map_err(store_failure)?,
        None => None,
    };
    let decision =
        lock(&core.auth).check(request, kind, realm, unix_now(), core.random(), |_| ha1s);
    match decision {
        Decision::Authenticated { user } => {
            check_identity(request, &user)?;
            Ok(None)
        }
        Decision::Challenge { code, headers } => {
            let mut b = MessageBuilder::response_to(request, code, None, Some(&local_tag(request)));
            for (name, value) in &headers {
                b = b.header(*name, value);
            }
            Ok(Some(Answer::Reply(b)))
        }
        Decision::Reject(r) => Err(r),
    }
}

/// Whether the request comes from a trusted network: not challenged (Kamailio
/// `allow_trusted()`).
fn from_trusted(core: &Core, source: Source) -> bool {
    crate::trusted::is_trusted(&core.config.trusted, source.addr.ip())
}

/// Whether the Request-URI names the server itself: a served domain, or an IP address
/// (a request sent to an address reached one of ours), without a user part for OPTIONS.
async fn addressed_to_server(core: &Core, request: &Message) -> Result<bool, Rejection> {
    let Some(Uri::Sip(uri)) = request.request_uri() else {
        return Ok(false);
    };
    if request.method() == Some(&Method::Options) && uri.user_unescaped().is_some() {
        return Ok(false);
    }
    match uri.host {
        Host::V4(_) | Host::V6(_) => Ok(true),
        Host::Name(name) => core.domains.is_served(name).await.map_err(store_failure),
    }
}

/// The From domain when it is one we serve (the caller claims to be our subscriber).
async fn local_from_domain(core: &Core, request: &Message) -> Result<Option<String>, Rejection> {
    let from = request.from()?;
    let Ok(Uri::Sip(uri)) = from.parsed_uri() else {
        return Ok(None);
    };
    let host = crate::domains::normalize(&uri.host.text());
    if core.domains.is_served(&host).await.map_err(store_failure)? {
        Ok(Some(host))
    } else {
        Ok(None)
    }
}

/// After a failed commit, the store is the truth: put its bindings of `aor` back in memory.
async fn reload_aor(core: &Core, aor: &str) {
    match core.store.bindings(aor).await {
        Ok(rows) => {
            let restored: Vec<_> = rows
                .into_iter()
                .filter_map(crate::persist::from_store)
                .collect();
            lock(&core.location).replace(aor, restored.into_iter().map(|(_, b)| b).collect());
        }
        Err(e) => tracing::error!(%aor, error = %e, "cannot reload bindings from the store"),
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

/// A store failure while deciding: 500, and the operator learns why from the log.
fn store_failure(e: store::StoreError) -> Rejection {
    tracing::error!(error = %e, "store query failed");
    Rejection {
        code: 500,
        reason: "Database unavailable".into(),
        header: Some((HeaderName::RetryAfter, "5".into())),
    }
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
