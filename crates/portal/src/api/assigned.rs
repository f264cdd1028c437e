//! What the provider assigns to a subscriber: aliases (`/api/v1/subscribers/{address}/
//! aliases`) and groups (`.../groups`). The subscriber reads them; only an admin changes
//! them.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use store::Address;
use utoipa::ToSchema;

use crate::auth::{Action, Caller};
use crate::problem::address;
use crate::problem::{JsonBody, Problem};
use crate::AppState;

/// An alias to add.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAlias {
    /// The alias, `user@domain` in a served domain (`+4684567890@example.com`).
    pub alias: String,
}

/// An alias of a subscriber.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AliasView {
    /// The alias address.
    pub alias: String,
    /// The subscriber it reaches.
    pub subscriber: String,
}

fn store_error(field: &'static str) -> impl Fn(store::StoreError) -> Problem {
    move |e| Problem::from_store(e, field)
}

/// The aliases of `a`.
pub async fn aliases(
    state: &AppState,
    caller: &Caller,
    a: &Address,
) -> Result<Vec<AliasView>, Problem> {
    caller.allow(Action::Read(a))?;
    let list = state
        .store()
        .aliases_of(&a.user, &a.domain)
        .await
        .map_err(store_error("address"))?;
    Ok(list
        .into_iter()
        .map(|alias| AliasView {
            alias: alias.to_string(),
            subscriber: a.to_string(),
        })
        .collect())
}

/// The groups of `a`.
pub async fn groups(
    state: &AppState,
    caller: &Caller,
    a: &Address,
) -> Result<Vec<String>, Problem> {
    caller.allow(Action::Read(a))?;
    state
        .store()
        .groups(&a.user, &a.domain)
        .await
        .map_err(store_error("address"))
}

/// Adds the alias `alias_text` to `a` (admins).
pub async fn add(
    state: &AppState,
    caller: &Caller,
    a: &Address,
    alias_text: &str,
) -> Result<AliasView, Problem> {
    caller.allow(Action::ChangeAssigned(a))?;
    let alias = address("alias", alias_text)?;
    state
        .store()
        .add_alias(&alias.user, &alias.domain, &a.user, &a.domain)
        .await
        .map_err(|e| match e {
            store::StoreError::NoSuchUser(_) => Problem::not_found(format!("no such user: {a}")),
            store::StoreError::NoSuchDomain(d) => {
                Problem::invalid("alias", format!("{d} is not served: add the domain first"))
            }
            e => Problem::from_store(e, "alias"),
        })?;
    Ok(AliasView {
        alias: alias.to_string(),
        subscriber: a.to_string(),
    })
}

/// Removes the alias `alias_text` of `a` (admins); 404 when it is not one of theirs.
pub async fn remove(
    state: &AppState,
    caller: &Caller,
    a: &Address,
    alias_text: &str,
) -> Result<(), Problem> {
    caller.allow(Action::ChangeAssigned(a))?;
    let alias = address("alias", alias_text)?;
    let store = state.store();
    let owner = store
        .resolve(&alias.user, &alias.domain)
        .await
        .map_err(store_error("alias"))?;
    if owner.as_ref() != Some(a) || alias == *a {
        return Err(Problem::not_found(format!("{alias} is no alias of {a}")));
    }
    store
        .remove_alias(&alias.user, &alias.domain)
        .await
        .map_err(store_error("alias"))
}

/// Puts `a` in `group` (admins).
pub async fn join(
    state: &AppState,
    caller: &Caller,
    a: &Address,
    group: &str,
) -> Result<(), Problem> {
    caller.allow(Action::ChangeAssigned(a))?;
    state
        .store()
        .add_group(&a.user, &a.domain, group)
        .await
        .map_err(|e| match e {
            store::StoreError::NoSuchUser(_) => Problem::not_found(format!("no such user: {a}")),
            e => Problem::from_store(e, "group"),
        })?;
    Ok(())
}

/// Takes `a` out of `group` (admins); 404 when not in it.
pub async fn leave(
    state: &AppState,
    caller: &Caller,
    a: &Address,
    group: &str,
) -> Result<(), Problem> {
    caller.allow(Action::ChangeAssigned(a))?;
    let removed = state
        .store()
        .remove_group(&a.user, &a.domain, group)
        .await
        .map_err(store_error("group"))?;
    if removed {
        Ok(())
    } else {
        Err(Problem::not_found(format!("{a} is not in group {group}")))
    }
}

/// The aliases of a subscriber.
#[utoipa::path(get, path = "/api/v1/subscribers/{address}/aliases", tag = "aliases",
    params(("address" = String, Path, description = "user@domain")),
    responses(
        (status = 200, description = "the aliases", body = [AliasView]),
        (status = 404, description = "no such subscriber (or not yours)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_aliases(
    State(state): State<AppState>,
    caller: Caller,
    Path(text): Path<String>,
) -> Result<Json<Vec<AliasView>>, Problem> {
    let a = address("address", &text)?;
    aliases(&state, &caller, &a).await.map(Json)
}

/// Add an alias (admins).
#[utoipa::path(post, path = "/api/v1/subscribers/{address}/aliases", tag = "aliases",
    params(("address" = String, Path, description = "user@domain")),
    request_body = NewAlias,
    responses(
        (status = 201, description = "added", body = AliasView),
        (status = 403, description = "the subscriber's own: only an admin assigns aliases", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such subscriber", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "not an address, or its domain is not served", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "the alias is taken", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn add_alias(
    State(state): State<AppState>,
    caller: Caller,
    Path(text): Path<String>,
    JsonBody(new): JsonBody<NewAlias>,
) -> Result<(StatusCode, Json<AliasView>), Problem> {
    let a = address("address", &text)?;
    add(&state, &caller, &a, &new.alias)
        .await
        .map(|v| (StatusCode::CREATED, Json(v)))
}

/// Remove an alias (admins).
#[utoipa::path(delete, path = "/api/v1/subscribers/{address}/aliases/{alias}", tag = "aliases",
    params(("address" = String, Path, description = "user@domain"), ("alias" = String, Path, description = "the alias, user@domain")),
    responses(
        (status = 204, description = "removed"),
        (status = 404, description = "no such alias of this subscriber", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn delete_alias(
    State(state): State<AppState>,
    caller: Caller,
    Path((text, alias_text)): Path<(String, String)>,
) -> Result<StatusCode, Problem> {
    let a = address("address", &text)?;
    remove(&state, &caller, &a, &alias_text)
        .await
        .map(|()| StatusCode::NO_CONTENT)
}

/// The groups of a subscriber.
#[utoipa::path(get, path = "/api/v1/subscribers/{address}/groups", tag = "groups",
    params(("address" = String, Path, description = "user@domain")),
    responses(
        (status = 200, description = "the groups, sorted", body = [String]),
        (status = 404, description = "no such subscriber (or not yours)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_groups(
    State(state): State<AppState>,
    caller: Caller,
    Path(text): Path<String>,
) -> Result<Json<Vec<String>>, Problem> {
    let a = address("address", &text)?;
    groups(&state, &caller, &a).await.map(Json)
}

/// Put a subscriber in a group (admins).
#[utoipa::path(put, path = "/api/v1/subscribers/{address}/groups/{group}", tag = "groups",
    params(("address" = String, Path, description = "user@domain"), ("group" = String, Path, description = "a group name (a token)")),
    responses(
        (status = 204, description = "in the group"),
        (status = 403, description = "the subscriber's own: only an admin assigns groups", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such subscriber", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "not a group name", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn put_group(
    State(state): State<AppState>,
    caller: Caller,
    Path((text, group)): Path<(String, String)>,
) -> Result<StatusCode, Problem> {
    let a = address("address", &text)?;
    join(&state, &caller, &a, &group)
        .await
        .map(|()| StatusCode::NO_CONTENT)
}

/// Take a subscriber out of a group (admins).
#[utoipa::path(delete, path = "/api/v1/subscribers/{address}/groups/{group}", tag = "groups",
    params(("address" = String, Path, description = "user@domain"), ("group" = String, Path, description = "the group")),
    responses(
        (status = 204, description = "out of the group"),
        (status = 404, description = "no such subscriber, or not in the group", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn delete_group(
    State(state): State<AppState>,
    caller: Caller,
    Path((text, group)): Path<(String, String)>,
) -> Result<StatusCode, Problem> {
    let a = address("address", &text)?;
    leave(&state, &caller, &a, &group)
        .await
        .map(|()| StatusCode::NO_CONTENT)
}
