//! Registrations: the location bindings phones made with REGISTER, with where they came
//! from, their User-Agent and the NAT verdict. `/api/v1/subscribers/{address}/
//! registrations` (a subscriber's own), `/api/v1/registrations` (all, admins).
//!
//! Removing one deletes it from the store and tells the SIP server beside the portal
//! (`AppState::with_server`), which reads that address-of-record's bindings again: the
//! phone stops receiving calls until it registers again.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use store::{flags, Address, Binding};
use utoipa::ToSchema;

use crate::auth::{Action, Caller};
use crate::problem::address;
use crate::problem::Problem;
use crate::time::{rfc3339, unix_now};
use crate::AppState;

/// One registered device.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RegistrationView {
    /// The address of record, `user@domain`.
    pub aor: String,
    /// The Contact URI as registered.
    pub contact: String,
    /// When it expires (RFC 3339).
    pub expires_at: String,
    /// Seconds until then.
    pub expires_in: i64,
    /// The `q` value, 0 to 1.
    pub q: f64,
    /// The device's User-Agent (empty if it sent none).
    pub user_agent: String,
    /// The source address of its REGISTER, `ip:port`.
    pub received: String,
    /// The transport (`udp`, `tcp`, ...).
    pub transport: String,
    /// Whether the device is behind a NAT (its calls' media is relayed).
    pub nat: bool,
    /// When it last registered (RFC 3339).
    pub updated_at: String,
}

impl RegistrationView {
    fn new(b: Binding, now: i64) -> RegistrationView {
        RegistrationView {
            expires_at: rfc3339(b.expires_at),
            expires_in: b.expires_at.saturating_sub(now),
            q: f64::from(b.q) / 1000.0,
            nat: b.flags & flags::NAT != 0,
            updated_at: rfc3339(b.updated_at),
            aor: b.aor,
            contact: b.contact,
            user_agent: b.user_agent,
            received: b.received,
            transport: b.transport,
        }
    }
}

fn live(bindings: Vec<Binding>) -> Vec<RegistrationView> {
    let now = unix_now();
    bindings
        .into_iter()
        .filter(|b| b.expires_at > now)
        .map(|b| RegistrationView::new(b, now))
        .collect()
}

/// The live registrations of `a`.
pub async fn of(
    state: &AppState,
    caller: &Caller,
    a: &Address,
) -> Result<Vec<RegistrationView>, Problem> {
    caller.allow(Action::Read(a))?;
    let store = state.store();
    let s = store
        .subscriber(&a.user, &a.domain)
        .await
        .map_err(|e| Problem::from_store(e, "address"))?;
    if s.is_none() {
        return Err(Problem::not_found(format!("no such user: {a}")));
    }
    let bindings = store
        .bindings(&a.aor())
        .await
        .map_err(|e| Problem::internal(&e))?;
    Ok(live(bindings))
}

/// Every live registration.
pub async fn all(state: &AppState, caller: &Caller) -> Result<Vec<RegistrationView>, Problem> {
    caller.allow(Action::ListAllRegistrations)?;
    let bindings = state
        .store()
        .all_bindings()
        .await
        .map_err(|e| Problem::internal(&e))?;
    Ok(live(bindings))
}

/// Removes the registration `contact` of `a`.
pub async fn remove(
    state: &AppState,
    caller: &Caller,
    a: &Address,
    contact: &str,
) -> Result<(), Problem> {
    caller.allow(Action::ChangeOwn(a))?;
    if contact.is_empty() {
        return Err(Problem::invalid(
            "contact",
            "the Contact URI of the registration is missing",
        ));
    }
    let removed = state
        .store()
        .remove_binding(&a.aor(), contact)
        .await
        .map_err(|e| Problem::internal(&e))?;
    if removed {
        tracing::info!(aor = %a, contact, "registration removed in the portal");
        state.bindings_changed(&a.aor());
        Ok(())
    } else {
        Err(Problem::not_found(format!(
            "{a} has no registration {contact}"
        )))
    }
}

/// A subscriber's registered devices.
#[utoipa::path(get, path = "/api/v1/subscribers/{address}/registrations", tag = "registrations",
    params(("address" = String, Path, description = "user@domain")),
    responses(
        (status = 200, description = "the live registrations, highest q first", body = [RegistrationView]),
        (status = 404, description = "no such subscriber (or not yours)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_registrations(
    State(state): State<AppState>,
    caller: Caller,
    Path(text): Path<String>,
) -> Result<Json<Vec<RegistrationView>>, Problem> {
    let a = address("address", &text)?;
    of(&state, &caller, &a).await.map(Json)
}

/// Remove one registration, named by its Contact URI.
#[utoipa::path(delete, path = "/api/v1/subscribers/{address}/registrations", tag = "registrations",
    params(("address" = String, Path, description = "user@domain"),
           ("contact" = String, Query, description = "the Contact URI exactly as listed")),
    responses(
        (status = 204, description = "removed from the store"),
        (status = 404, description = "no such registration (or not yours)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "no contact given", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn delete_registration(
    State(state): State<AppState>,
    caller: Caller,
    Path(text): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<StatusCode, Problem> {
    let a = address("address", &text)?;
    let contact = query.get("contact").map(String::as_str).unwrap_or_default();
    remove(&state, &caller, &a, contact)
        .await
        .map(|()| StatusCode::NO_CONTENT)
}

/// Every registered device (admins).
#[utoipa::path(get, path = "/api/v1/registrations", tag = "registrations",
    responses(
        (status = 200, description = "every live registration, by address of record", body = [RegistrationView]),
        (status = 403, description = "not an admin", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_all_registrations(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<RegistrationView>>, Problem> {
    all(&state, &caller).await.map(Json)
}
