//! The routing policy: what the server does with a new request, in the order of the seed's
//! `ser.cfg` (seed 000 appendix 1). Each step is a function named for what it decides:
//!
//! 1. [`sanity`]: malformed or unsupported requests are refused with a reason (§8.2, §16.3).
//! 2. REGISTER → [`register`]: the domain is ours, [`authenticate`] (401) unless the
//!    source is trusted, `check_to`, then
//!    the registrar (§10.3) with write-through to the store.
//! 3. OPTIONS to the server itself → [`options`]: 200 with what we support (keepalive
//!    probes, monitoring).
//! 4. anything else → [`authenticate`] local callers (407) and `check_from`; forwarding is
//!    the proxy's, which is not part of this server yet (501).

use sip::sanity::{check_request, Policy, Rejection};
use sip::transaction::TransactionKey;
use sip::uri::Host;
use sip::{HeaderName, Message, MessageBuilder, Method, Uri};
use tokio::sync::oneshot;

use crate::auth::{check_identity, AuthKind, Decision, DigestAuth};
use crate::core::{local_tag, lock, unix_now, Core, Source, SERVER};
use crate::location::aor_key;
use crate::persist::{writes_for, WriteResult};
use crate::registrar::{ok_response, process_register, Arrival};

/// Methods the server handles itself today.
pub const ALLOW: &str = "REGISTER, OPTIONS, ACK, CANCEL";

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

async fn decide(core: &Core, request: &Message, source: Source) -> Result<Answer, Rejection> {
    let method = request.method().cloned().unwrap_or(Method::Options);
    sanity(request, &method)?;
    match method {
        Method::Register => register(core, request, source).await,
        Method::Options if addressed_to_server(core, request).await? => Ok(options(request)),
        _ => {
            // Local callers must prove who they are before anything is done for them.
            let realm = if from_trusted(core, source) {
                None
            } else {
                local_from_domain(core, request).await?
            };
            if let Some(realm) = realm {
                if let Some(challenge) =
                    authenticate(core, request, AuthKind::Proxy, &realm).await?
                {
                    return Ok(challenge);
                }
            }
            tracing::info!(source = %source.addr, call_id = request.call_id().unwrap_or("-"), %method, "not served: no proxy yet");
            Ok(Answer::Reply(
                MessageBuilder::response_to(request, 501, None, Some(&local_tag(request)))
                    .header(HeaderName::Allow, ALLOW),
            ))
        }
    }
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
    let realm = crate::domains::normalize(&to_uri.host.to_string());
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
        nat: crate::nat::behind_nat(request, source.addr, !source.reliable()),
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
            .header(HeaderName::Date, &sip::headers::format_date(now))
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
async fn authenticate(
    core: &Core,
    request: &Message,
    kind: AuthKind,
    realm: &str,
) -> Result<Option<Answer>, Rejection> {
    let ha1s = match DigestAuth::username(request, kind, realm) {
        Some(user) => core
            .store
            .credentials(&user, realm)
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
    let host = crate::domains::normalize(&uri.host.to_string());
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
