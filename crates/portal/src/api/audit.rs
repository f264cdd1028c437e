//! `/api/v1/audit`: the audit log of admin changes (admins), newest first, a page at a
//! time, filtered by time and actor. Written by [`crate::audit::record_changes`].

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use sip::headers::{parse_time_ms, rfc3339_ms};
use store::{AuditEntry, AuditFilter};
use utoipa::ToSchema;

use crate::auth::{Action, Caller};
use crate::problem::{id_cursor, page_limit, Problem};
use crate::AppState;

/// Entries per page unless `limit` says otherwise.
pub const DEFAULT_PAGE: u32 = 50;
/// The largest `limit`.
pub const MAX_PAGE: u32 = 500;

/// One admin change.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditEntryView {
    /// Its position (newer entries have larger ids).
    pub id: i64,
    /// When (RFC 3339, UTC).
    pub at: String,
    /// Who: the admin's `user@domain`, `token N` for an admin token, or `cli:USER` for
    /// the OS user who ran an `itsp` admin command.
    pub actor: String,
    /// From where: the client's IP address, or `local` for the command line.
    pub source: String,
    /// What: `METHOD /path`, or the command line (`itsp user add ...`, secrets as `***`).
    pub action: String,
    /// The answer's HTTP status, or the command's exit status (0 done, 1 refused, 2
    /// failed).
    pub status: i64,
    /// The fields sent, passwords and other secrets shown as `(hidden)`; for a command,
    /// `done` or `error: MESSAGE`.
    pub detail: Option<String>,
}

impl From<AuditEntry> for AuditEntryView {
    fn from(e: AuditEntry) -> AuditEntryView {
        AuditEntryView {
            id: e.id,
            at: rfc3339_ms(e.at_ms),
            actor: e.actor,
            source: e.source,
            action: e.action,
            status: e.status,
            detail: e.detail,
        }
    }
}

/// A page of the audit log, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditPage {
    /// The entries.
    pub items: Vec<AuditEntryView>,
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// The filter and paging of a query string's fields; unknown fields are errors.
pub fn query(
    mut fields: HashMap<String, String>,
) -> Result<(AuditFilter, Option<i64>, u32), Problem> {
    let mut take = |name: &str| fields.remove(name).filter(|v| !v.trim().is_empty());
    let since = take("since");
    let until = take("until");
    let actor = take("actor").map(|a| a.trim().to_owned());
    let cursor = take("cursor");
    let limit = take("limit");
    if let Some(name) = fields.keys().next() {
        return Err(Problem::invalid(
            name,
            "unknown parameter: the parameters are since, until, actor, cursor and limit",
        ));
    }
    let time = |field: &str, text: Option<String>| -> Result<Option<i64>, Problem> {
        text.map(|t| {
            parse_time_ms(t.trim()).ok_or_else(|| {
                Problem::invalid(
                    field,
                    format!(
                        "{t:?} is not a time: give RFC 3339 (2026-11-01T12:00:00Z), \
                         a date (2026-11-01) or Unix seconds"
                    ),
                )
            })
        })
        .transpose()
    };
    let filter = AuditFilter {
        since_ms: time("since", since)?,
        until_ms: time("until", until)?,
        actor,
    };
    let limit = page_limit(limit.as_deref(), DEFAULT_PAGE, MAX_PAGE)?;
    let before = id_cursor(cursor.as_deref())?;
    Ok((filter, before, limit))
}

/// A page of the log (admins).
pub async fn page(
    state: &AppState,
    caller: &Caller,
    fields: HashMap<String, String>,
) -> Result<AuditPage, Problem> {
    caller.allow(Action::ReadAudit)?;
    let (filter, before, limit) = query(fields)?;
    let rows = state
        .store()
        .audit_entries(&filter, before, limit + 1)
        .await
        .map_err(|e| Problem::internal(&e))?;
    let more = rows.len() > limit as usize;
    let items: Vec<AuditEntryView> = rows
        .into_iter()
        .take(limit as usize)
        .map(AuditEntryView::from)
        .collect();
    let next_cursor = if more {
        items.last().map(|e| e.id.to_string())
    } else {
        None
    };
    Ok(AuditPage { items, next_cursor })
}

/// The audit log of admin changes (admins): who, from where, what, when; newest first.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit",
    params(("since" = Option<String>, Query, description = "at or after (RFC 3339, date or Unix seconds)"),
           ("until" = Option<String>, Query, description = "before"),
           ("actor" = Option<String>, Query, description = "only this actor: user@domain, `token N` or `cli:USER`"),
           ("cursor" = Option<String>, Query, description = "the next_cursor of the previous page"),
           ("limit" = Option<String>, Query, description = "1 to 500, default 50")),
    responses(
        (status = 200, description = "a page of entries, newest first", body = AuditPage),
        (status = 403, description = "not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "a parameter is wrong", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_audit(
    State(state): State<AppState>,
    caller: Caller,
    Query(fields): Query<HashMap<String, String>>,
) -> Result<Json<AuditPage>, Problem> {
    page(&state, &caller, fields).await.map(Json)
}
