//! `/api/v1/subscribers`: list (a page at a time, searched by a part of the address or
//! e-mail with `q`), create with a password, get, change passwords, the admin flag and the
//! disabled flag, delete.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use store::{Address, Subscriber};
use utoipa::{IntoParams, ToSchema};

use super::forwarding::{self, ForwardingView};
use crate::auth::{Action, Caller, ClientIp};
use crate::problem::address;
use crate::problem::{page_limit, JsonBody, Problem};
use crate::time::rfc3339;
use crate::AppState;

/// Subscribers per page unless `limit` says otherwise.
pub const DEFAULT_PAGE: u32 = 50;
/// The largest `limit`.
pub const MAX_PAGE: u32 = 500;

/// A subscriber in a list.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SubscriberView {
    /// `user@domain`.
    pub address: String,
    /// Contact e-mail, if any.
    pub email: Option<String>,
    /// When the subscriber was added (RFC 3339).
    pub created_at: String,
    /// Disabled: neither their phones nor the portal let them in.
    pub disabled: bool,
}

impl From<Subscriber> for SubscriberView {
    fn from(s: Subscriber) -> SubscriberView {
        SubscriberView {
            address: s.address.to_string(),
            email: s.email,
            created_at: rfc3339(s.created_at),
            disabled: s.disabled,
        }
    }
}

/// One subscriber with everything about them.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SubscriberDetail {
    /// `user@domain`.
    pub address: String,
    /// Contact e-mail, if any.
    pub email: Option<String>,
    /// When the subscriber was added (RFC 3339).
    pub created_at: String,
    /// Whether the subscriber administers the provider in the portal.
    pub admin: bool,
    /// Disabled: neither their phones (SIP authentication fails as for an unknown user)
    /// nor the portal (logins, sessions, tokens) let them in.
    pub disabled: bool,
    /// More addresses that reach the subscriber.
    pub aliases: Vec<String>,
    /// Groups (permissions such as `int`).
    pub groups: Vec<String>,
    /// Call forwarding.
    pub forwarding: ForwardingView,
}

/// A page of subscribers.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SubscriberPage {
    /// The subscribers, by domain and user.
    pub items: Vec<SubscriberView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Filters and paging of the list.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SubscriberQuery {
    /// Only this domain.
    pub domain: Option<String>,
    /// Only the subscribers whose address (`user@domain`) or e-mail holds this text,
    /// ignoring case.
    pub q: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Subscribers per page, 1 to 500 (default 50).
    pub limit: Option<String>,
}

impl SubscriberQuery {
    /// From a query string's fields; unknown fields are errors.
    pub fn from_fields(mut fields: HashMap<String, String>) -> Result<SubscriberQuery, Problem> {
        let q = SubscriberQuery {
            domain: fields.remove("domain").filter(|d| !d.is_empty()),
            q: fields
                .remove("q")
                .map(|q| q.trim().to_owned())
                .filter(|q| !q.is_empty()),
            cursor: fields.remove("cursor").filter(|c| !c.is_empty()),
            limit: fields.remove("limit").filter(|l| !l.is_empty()),
        };
        if let Some(name) = fields.keys().next() {
            return Err(Problem::invalid(
                name,
                "unknown parameter: the parameters are domain, q, cursor and limit",
            ));
        }
        Ok(q)
    }
}

/// A subscriber to create.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSubscriber {
    /// `user@domain`, in a served domain.
    pub address: String,
    /// The SIP password, also the web password unless `web_password` is given.
    pub password: String,
    /// A web password apart from the SIP password.
    pub web_password: Option<String>,
    /// Contact e-mail.
    pub email: Option<String>,
    /// Whether the subscriber administers the provider (default false).
    #[serde(default)]
    pub admin: bool,
}

/// Changes to a subscriber; absent members stay as they are.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriberChange {
    /// New SIP and web password at once.
    pub password: Option<String>,
    /// New SIP (digest) password only.
    pub sip_password: Option<String>,
    /// New web password only.
    pub web_password: Option<String>,
    /// Admin flag (admins only).
    pub admin: Option<bool>,
    /// The contact e-mail address, where password reset links and voicemail e-mails go;
    /// empty: none (admins only).
    pub email: Option<String>,
    /// Disable the subscriber (`true`: their phones and their portal logins stop working,
    /// their registrations are removed, their browser sessions end) or enable them again
    /// (admins only).
    pub disabled: Option<bool>,
    /// The current web password: required when subscribers change their own web
    /// password (`password` or `web_password`); admins need not give it.
    pub current_password: Option<String>,
}

/// A page of subscribers.
pub async fn page(
    state: &AppState,
    caller: &Caller,
    query: &SubscriberQuery,
) -> Result<SubscriberPage, Problem> {
    caller.allow(Action::ManageSubscribers)?;
    let limit = page_limit(query.limit.as_deref(), DEFAULT_PAGE, MAX_PAGE)?;
    let after = query
        .cursor
        .as_deref()
        .map(|c| address("cursor", c))
        .transpose()?;
    let rows = state
        .store()
        .subscribers_matching(
            query.domain.as_deref(),
            query.q.as_deref(),
            after.as_ref(),
            limit + 1,
        )
        .await
        .map_err(|e| Problem::from_store(e, "domain"))?;
    let more = rows.len() > limit as usize;
    let items: Vec<SubscriberView> = rows
        .into_iter()
        .take(limit as usize)
        .map(SubscriberView::from)
        .collect();
    let next_cursor = if more {
        items.last().map(|s| s.address.clone())
    } else {
        None
    };
    Ok(SubscriberPage { items, next_cursor })
}

/// Creates a subscriber with its SIP and web passwords.
pub async fn create(
    state: &AppState,
    caller: &Caller,
    new: NewSubscriber,
) -> Result<SubscriberView, Problem> {
    caller.allow(Action::ManageSubscribers)?;
    let a = address("address", &new.address)?;
    let email = new
        .email
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty());
    let store = state.store();
    // Check the web password before anything is written.
    if let Some(web) = &new.web_password {
        check_password("web_password", web)?;
    }
    let s = store
        .add_subscriber(&a.user, &a.domain, &new.password, email)
        .await
        .map_err(|e| match e {
            store::StoreError::BadPassword(_) => Problem::from_store(e, "password"),
            store::StoreError::BadEmail(_) => Problem::from_store(e, "email"),
            store::StoreError::NoSuchDomain(d) => Problem::invalid(
                "address",
                format!("{d} is not served: add the domain first"),
            ),
            e => Problem::from_store(e, "address"),
        })?;
    let web = new.web_password.as_deref().unwrap_or(&new.password);
    store
        .set_web_password(&a.user, &a.domain, web)
        .await
        .map_err(|e| Problem::from_store(e, "web_password"))?;
    if new.admin {
        store
            .set_admin(&a.user, &a.domain, true)
            .await
            .map_err(|e| Problem::from_store(e, "admin"))?;
    }
    Ok(SubscriberView::from(s))
}

/// A password field's rules, checked before anything is written (the store's own).
fn check_password(field: &str, password: &str) -> Result<(), Problem> {
    let reason = if password.is_empty() {
        Some("the password is empty")
    } else if password.len() > store::MAX_PASSWORD_BYTES {
        Some("the password is longer than 1024 bytes")
    } else if password.chars().any(char::is_control) {
        Some("the password has control characters")
    } else {
        None
    };
    match reason {
        Some(r) => Err(Problem::invalid(field, r)),
        None => Ok(()),
    }
}

/// Everything about one subscriber.
pub async fn detail(
    state: &AppState,
    caller: &Caller,
    a: &Address,
) -> Result<SubscriberDetail, Problem> {
    caller.allow(Action::Read(a))?;
    let store = state.store();
    let internal = |e: store::StoreError| Problem::from_store(e, "address");
    let s = store
        .subscriber(&a.user, &a.domain)
        .await
        .map_err(internal)?
        .ok_or_else(|| Problem::not_found(format!("no such user: {a}")))?;
    let admin = store.is_admin(&a.user, &a.domain).await.map_err(internal)?;
    let aliases = store
        .aliases_of(&a.user, &a.domain)
        .await
        .map_err(internal)?
        .iter()
        .map(ToString::to_string)
        .collect();
    let groups = store.groups(&a.user, &a.domain).await.map_err(internal)?;
    let forwarding = forwarding::read(state, caller, a).await?;
    Ok(SubscriberDetail {
        address: s.address.to_string(),
        email: s.email,
        created_at: rfc3339(s.created_at),
        admin,
        disabled: s.disabled,
        aliases,
        groups,
        forwarding,
    })
}

/// Applies a change: every field is checked before any is written. `source` is the
/// client's address: wrong current web passwords count against it in the login guard,
/// as failed logins do.
pub async fn change(
    state: &AppState,
    caller: &Caller,
    source: std::net::IpAddr,
    a: &Address,
    change: SubscriberChange,
) -> Result<(), Problem> {
    caller.allow(Action::ChangeOwn(a))?;
    if change.admin.is_some() || change.disabled.is_some() || change.email.is_some() {
        caller.allow(Action::SetAdmin(a))?;
    }
    let checks = [
        ("password", &change.password),
        ("sip_password", &change.sip_password),
        ("web_password", &change.web_password),
    ];
    for (field, value) in checks {
        if let Some(p) = value {
            check_password(field, p)?;
        }
    }
    let store = state.store();
    if store
        .subscriber(&a.user, &a.domain)
        .await
        .map_err(|e| Problem::from_store(e, "address"))?
        .is_none()
    {
        return Err(Problem::not_found(format!("no such user: {a}")));
    }
    let sip = change.sip_password.as_ref().or(change.password.as_ref());
    let web = change.web_password.as_ref().or(change.password.as_ref());
    if web.is_some() && !caller.is_admin {
        // The subscriber's own web password: the current one proves it is them at the
        // keyboard, not someone at an unlocked browser.
        let current = change.current_password.as_deref().unwrap_or_default();
        if current.is_empty() {
            return Err(Problem::invalid(
                "current_password",
                "give the current web password to change it",
            ));
        }
        // Guessed like a login: the same guard, the same limits.
        let account = a.to_string();
        let now = std::time::Instant::now();
        if let Err(wait) = state.login_guard(|g| g.check_login(now, source, &account)) {
            return Err(
                Problem::too_many_requests(super::session::too_many_logins_text(wait))
                    .with_retry_after(wait),
            );
        }
        let ok = store
            .check_web_login(&a.user, &a.domain, current)
            .await
            .map_err(|e| Problem::from_store(e, "current_password"))?;
        if ok.is_none() {
            let counted =
                state.login_guard(|g| g.login_failed(std::time::Instant::now(), source, &account));
            crate::login_guard::log_failure(source, &account, "bad current password", counted);
            return Err(Problem::invalid(
                "current_password",
                "this is not the current web password",
            ));
        }
    }
    // First the one change whose value the store checks itself: a bad address changes
    // nothing else.
    if let Some(email) = &change.email {
        let email = email.trim();
        store
            .set_email(&a.user, &a.domain, (!email.is_empty()).then_some(email))
            .await
            .map_err(|e| Problem::from_store(e, "email"))?;
    }
    if let Some(p) = sip {
        store
            .set_password(&a.user, &a.domain, p)
            .await
            .map_err(|e| Problem::from_store(e, "sip_password"))?;
    }
    if let Some(p) = web {
        store
            .set_web_password(&a.user, &a.domain, p)
            .await
            .map_err(|e| Problem::from_store(e, "web_password"))?;
    }
    if let Some(admin) = change.admin {
        store
            .set_admin(&a.user, &a.domain, admin)
            .await
            .map_err(|e| Problem::from_store(e, "admin"))?;
    }
    if let Some(disabled) = change.disabled {
        store
            .set_subscriber_disabled(&a.user, &a.domain, disabled)
            .await
            .map_err(|e| Problem::from_store(e, "disabled"))?;
        if disabled {
            // Their phones must not register or call again: the SIP server beside the
            // portal forgets their cached credentials now, not at its next check of the
            // subscribers' version.
            let aor = a.aor();
            state.subscriber_disabled(&aor);
            // Calls must not reach their phones either: their registrations go, and the
            // SIP server forgets them at once.
            let removed = store
                .remove_bindings(&aor)
                .await
                .map_err(|e| Problem::internal(&e))?;
            if removed > 0 {
                tracing::info!(%aor, removed, "registrations of a disabled subscriber removed");
                state.bindings_changed(&aor);
            }
        }
    }
    Ok(())
}

/// Removes a subscriber with its aliases, groups, preferences and registrations, and
/// their personal greeting, so a later subscriber of the same name is not greeted with
/// it. (The message files are left: their rows are gone, so nothing reaches them; the
/// folder's name is made safe lossily, so two odd names may share one.)
pub async fn remove(state: &AppState, caller: &Caller, a: &Address) -> Result<(), Problem> {
    caller.allow(Action::RemoveSubscriber(a))?;
    state
        .store()
        .remove_subscriber(&a.user, &a.domain)
        .await
        .map_err(|e| Problem::from_store(e, "address"))?;
    super::greeting::forget(state, a).await;
    Ok(())
}

/// List subscribers, a page at a time.
#[utoipa::path(get, path = "/api/v1/subscribers", tag = "subscribers", params(SubscriberQuery),
    responses(
        (status = 200, description = "a page of subscribers", body = SubscriberPage),
        (status = 403, description = "not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "a bad parameter", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_subscribers(
    State(state): State<AppState>,
    caller: Caller,
    Query(fields): Query<HashMap<String, String>>,
) -> Result<Json<SubscriberPage>, Problem> {
    let query = SubscriberQuery::from_fields(fields)?;
    page(&state, &caller, &query).await.map(Json)
}

/// Create a subscriber with a password.
#[utoipa::path(post, path = "/api/v1/subscribers", tag = "subscribers", request_body = NewSubscriber,
    responses(
        (status = 201, description = "created", body = SubscriberView),
        (status = 409, description = "the address is taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "a bad field", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_subscriber(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(new): JsonBody<NewSubscriber>,
) -> Result<(StatusCode, Json<SubscriberView>), Problem> {
    create(&state, &caller, new)
        .await
        .map(|s| (StatusCode::CREATED, Json(s)))
}

/// One subscriber with aliases, groups and forwarding.
#[utoipa::path(get, path = "/api/v1/subscribers/{address}", tag = "subscribers",
    params(("address" = String, Path, description = "user@domain")),
    responses(
        (status = 200, description = "the subscriber", body = SubscriberDetail),
        (status = 404, description = "no such subscriber (or not yours)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_subscriber(
    State(state): State<AppState>,
    caller: Caller,
    Path(text): Path<String>,
) -> Result<Json<SubscriberDetail>, Problem> {
    let a = address("address", &text)?;
    detail(&state, &caller, &a).await.map(Json)
}

/// Change passwords (a subscriber's own web password needs `current_password`) and, for
/// admins, the admin flag and whether the subscriber is disabled.
#[utoipa::path(patch, path = "/api/v1/subscribers/{address}", tag = "subscribers",
    params(("address" = String, Path, description = "user@domain")),
    request_body = SubscriberChange,
    responses(
        (status = 204, description = "changed"),
        (status = 404, description = "no such subscriber (or not yours)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "a bad field", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "too many wrong current passwords from this address", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "seconds until the guard lets this address try again"))),
    ))]
pub async fn update_subscriber(
    State(state): State<AppState>,
    caller: Caller,
    ClientIp(source): ClientIp,
    Path(text): Path<String>,
    JsonBody(body): JsonBody<SubscriberChange>,
) -> Result<StatusCode, Problem> {
    let a = address("address", &text)?;
    change(&state, &caller, source, &a, body)
        .await
        .map(|()| StatusCode::NO_CONTENT)
}

/// Remove a subscriber with everything of theirs.
#[utoipa::path(delete, path = "/api/v1/subscribers/{address}", tag = "subscribers",
    params(("address" = String, Path, description = "user@domain")),
    responses(
        (status = 204, description = "removed"),
        (status = 404, description = "no such subscriber (or not yours)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn delete_subscriber(
    State(state): State<AppState>,
    caller: Caller,
    Path(text): Path<String>,
) -> Result<StatusCode, Problem> {
    let a = address("address", &text)?;
    remove(&state, &caller, &a)
        .await
        .map(|()| StatusCode::NO_CONTENT)
}
