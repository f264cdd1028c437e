//! `/api/v1/status`: version, uptime and totals (admins).

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{Action, Caller};
use crate::problem::Problem;
use crate::time::{rfc3339, unix_now};
use crate::AppState;

/// The state of the system.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StatusView {
    /// The itsp version.
    pub version: String,
    /// When this process started (RFC 3339).
    pub started_at: String,
    /// Seconds since then.
    pub uptime_seconds: u64,
    /// `sqlite` or `postgres`.
    pub database: String,
    /// Served domains.
    pub domains: i64,
    /// Subscribers.
    pub subscribers: i64,
    /// Aliases.
    pub aliases: i64,
    /// Live registrations.
    pub registrations: i64,
}

/// The status now.
pub async fn read(state: &AppState, caller: &Caller) -> Result<StatusView, Problem> {
    caller.allow(Action::ReadStatus)?;
    let totals = state
        .store()
        .totals(unix_now())
        .await
        .map_err(|e| Problem::internal(&e))?;
    Ok(StatusView {
        version: state.version().to_owned(),
        started_at: rfc3339(state.started_at_unix()),
        uptime_seconds: state.uptime().as_secs(),
        database: state.store().backend_name().to_owned(),
        domains: totals.domains,
        subscribers: totals.subscribers,
        aliases: totals.aliases,
        registrations: totals.registrations,
    })
}

/// Version, uptime and totals.
#[utoipa::path(get, path = "/api/v1/status", tag = "system",
    responses(
        (status = 200, description = "the status", body = StatusView),
        (status = 403, description = "not an admin", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_status(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<StatusView>, Problem> {
    read(&state, &caller).await.map(Json)
}
