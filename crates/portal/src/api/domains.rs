//! `/api/v1/domains`: the served domains and their settings (admins only):
//! `self_registration`, whether visitors may create their own accounts
//! ([`super::signup`]; `PATCH /api/v1/domains/{domain}`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{Action, Caller};
use crate::problem::{JsonBody, Problem};
use crate::AppState;

/// A served domain.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DomainView {
    /// The domain, lowercased (`example.com`).
    pub name: String,
    /// Whether visitors may create their own accounts in it (off by default).
    #[serde(default)]
    pub self_registration: bool,
}

/// A change of a domain's settings.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DomainChange {
    /// Let visitors create their own accounts (`/signup`, `POST /api/v1/signup`), or not.
    pub self_registration: bool,
}

/// A domain to serve.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDomain {
    /// The domain (`example.com`).
    pub name: String,
}

/// The served domains, sorted.
pub async fn list(state: &AppState, caller: &Caller) -> Result<Vec<DomainView>, Problem> {
    caller.allow(Action::ManageDomains)?;
    let store = state.store();
    let names = store
        .list_domains()
        .await
        .map_err(|e| Problem::internal(&e))?;
    let open = store
        .self_registration_domains()
        .await
        .map_err(|e| Problem::internal(&e))?;
    Ok(names
        .into_iter()
        .map(|name| DomainView {
            self_registration: open.contains(&name),
            name,
        })
        .collect())
}

/// Changes a domain's settings.
pub async fn change(
    state: &AppState,
    caller: &Caller,
    name: &str,
    change: DomainChange,
) -> Result<DomainView, Problem> {
    caller.allow(Action::ManageDomains)?;
    let store = state.store();
    store
        .set_self_registration(name, change.self_registration)
        .await
        .map_err(|e| Problem::from_store(e, "domain"))?;
    Ok(DomainView {
        name: name.trim().trim_end_matches('.').to_ascii_lowercase(),
        self_registration: change.self_registration,
    })
}

/// Starts serving a domain.
pub async fn create(
    state: &AppState,
    caller: &Caller,
    new: NewDomain,
) -> Result<DomainView, Problem> {
    caller.allow(Action::ManageDomains)?;
    let name = new.name.trim();
    if name.is_empty() {
        return Err(Problem::invalid("name", "the domain is empty"));
    }
    state
        .store()
        .add_domain(name)
        .await
        .map_err(|e| Problem::from_store(e, "name"))?;
    Ok(DomainView {
        name: name.to_ascii_lowercase().trim_end_matches('.').to_owned(),
        self_registration: false,
    })
}

/// Stops serving a domain that has no subscribers or aliases left.
pub async fn remove(state: &AppState, caller: &Caller, name: &str) -> Result<(), Problem> {
    caller.allow(Action::ManageDomains)?;
    state
        .store()
        .remove_domain(name)
        .await
        .map_err(|e| Problem::from_store(e, "domain"))
}

/// List the served domains.
#[utoipa::path(get, path = "/api/v1/domains", tag = "domains",
    responses(
        (status = 200, description = "the served domains, sorted", body = [DomainView]),
        (status = 401, description = "not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not an admin", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_domains(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<DomainView>>, Problem> {
    list(&state, &caller).await.map(Json)
}

/// Serve a new domain.
#[utoipa::path(post, path = "/api/v1/domains", tag = "domains", request_body = NewDomain,
    responses(
        (status = 201, description = "the domain is served", body = DomainView),
        (status = 409, description = "already served", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "not a domain name", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_domain(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(new): JsonBody<NewDomain>,
) -> Result<(StatusCode, Json<DomainView>), Problem> {
    create(&state, &caller, new)
        .await
        .map(|d| (StatusCode::CREATED, Json(d)))
}

/// Stop serving a domain (refused while it has subscribers or aliases).
#[utoipa::path(delete, path = "/api/v1/domains/{domain}", tag = "domains",
    params(("domain" = String, Path, description = "the domain")),
    responses(
        (status = 204, description = "no longer served"),
        (status = 404, description = "not served", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "still has subscribers or aliases", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn delete_domain(
    State(state): State<AppState>,
    caller: Caller,
    Path(domain): Path<String>,
) -> Result<StatusCode, Problem> {
    remove(&state, &caller, &domain)
        .await
        .map(|()| StatusCode::NO_CONTENT)
}

/// Change a domain's settings: `self_registration`.
#[utoipa::path(patch, path = "/api/v1/domains/{domain}", tag = "domains",
    params(("domain" = String, Path, description = "the domain")),
    request_body = DomainChange,
    responses(
        (status = 200, description = "changed", body = DomainView),
        (status = 403, description = "not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "not served", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "a setting is wrong", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn update_domain(
    State(state): State<AppState>,
    caller: Caller,
    Path(domain): Path<String>,
    JsonBody(c): JsonBody<DomainChange>,
) -> Result<Json<DomainView>, Problem> {
    change(&state, &caller, &domain, c).await.map(Json)
}
