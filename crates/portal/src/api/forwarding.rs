//! `/api/v1/subscribers/{address}/forwarding`: call forwarding (always, busy, no answer
//! with its timeout), the store's preferences with each value checked by the store's own
//! rules.

use axum::extract::{Path, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use store::{
    Address, PreferenceSpec, FORWARD_ALWAYS, FORWARD_BUSY, FORWARD_NO_ANSWER, NO_ANSWER_AFTER,
};
use utoipa::ToSchema;

use crate::auth::{Action, Caller};
use crate::problem::address;
use crate::problem::{JsonBody, Problem};
use crate::AppState;

/// Call forwarding; each absent or null member is off.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForwardingView {
    /// Forward every call to this `sip:`, `sips:` or `tel:` URI.
    pub always: Option<String>,
    /// Forward here when busy.
    pub busy: Option<String>,
    /// Forward here when not answered.
    pub no_answer: Option<String>,
    /// Seconds of ringing before `no_answer` applies, 1 to 600 (the server's default when
    /// absent).
    pub no_answer_after: Option<u32>,
}

/// The (JSON member, preference name) pairs.
pub const FIELDS: [(&str, &str); 4] = [
    ("always", FORWARD_ALWAYS),
    ("busy", FORWARD_BUSY),
    ("no_answer", FORWARD_NO_ANSWER),
    ("no_answer_after", NO_ANSWER_AFTER),
];

impl ForwardingView {
    /// The values as text, in [`FIELDS`] order.
    pub fn texts(&self) -> [Option<String>; 4] {
        [
            self.always.clone(),
            self.busy.clone(),
            self.no_answer.clone(),
            self.no_answer_after.map(|s| s.to_string()),
        ]
    }
}

/// A subscriber's forwarding.
pub async fn read(
    state: &AppState,
    caller: &Caller,
    a: &Address,
) -> Result<ForwardingView, Problem> {
    caller.allow(Action::Read(a))?;
    let store = state.store();
    let prefs = store
        .preferences(&a.user, &a.domain)
        .await
        .map_err(|e| Problem::from_store(e, "address"))?;
    let get = |name: &str| prefs.get(name).cloned();
    Ok(ForwardingView {
        always: get(FORWARD_ALWAYS),
        busy: get(FORWARD_BUSY),
        no_answer: get(FORWARD_NO_ANSWER),
        no_answer_after: get(NO_ANSWER_AFTER).and_then(|s| s.parse().ok()),
    })
}

/// Checks every value as the store would; all problems, each naming its field.
pub fn check(values: &[Option<String>; 4]) -> Vec<Problem> {
    let mut problems = Vec::new();
    for ((field, name), value) in FIELDS.iter().zip(values) {
        let Some(v) = value else { continue };
        let checked = PreferenceSpec::find(name).and_then(|spec| spec.check(v.trim()));
        if let Err(e) = checked {
            let detail = match e {
                store::StoreError::BadPreference { reason, .. } => reason,
                other => other.to_string(),
            };
            problems.push(Problem::invalid(field, detail));
        }
    }
    problems
}

/// Replaces a subscriber's forwarding with `values` (text per [`FIELDS`], `None` or
/// empty: off). Nothing changes when a value is bad.
pub async fn replace(
    state: &AppState,
    caller: &Caller,
    a: &Address,
    values: [Option<String>; 4],
) -> Result<(), Vec<Problem>> {
    caller.allow(Action::ChangeOwn(a)).map_err(|p| vec![p])?;
    let values = values.map(|v| v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()));
    let problems = check(&values);
    if !problems.is_empty() {
        return Err(problems);
    }
    let changes: Vec<(&str, Option<&str>)> = FIELDS
        .iter()
        .zip(&values)
        .map(|((_, name), v)| (*name, v.as_deref()))
        .collect();
    state
        .store()
        .set_preferences(&a.user, &a.domain, &changes)
        .await
        .map_err(|e| vec![Problem::from_store(e, "address")])
}

/// A subscriber's call forwarding.
#[utoipa::path(get, path = "/api/v1/subscribers/{address}/forwarding", tag = "forwarding",
    params(("address" = String, Path, description = "user@domain")),
    responses(
        (status = 200, description = "the forwarding", body = ForwardingView),
        (status = 404, description = "no such subscriber (or not yours)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_forwarding(
    State(state): State<AppState>,
    caller: Caller,
    Path(text): Path<String>,
) -> Result<Json<ForwardingView>, Problem> {
    let a = address("address", &text)?;
    read(&state, &caller, &a).await.map(Json)
}

/// Replace a subscriber's call forwarding (absent or null members turn that kind off).
#[utoipa::path(put, path = "/api/v1/subscribers/{address}/forwarding", tag = "forwarding",
    params(("address" = String, Path, description = "user@domain")),
    request_body = ForwardingView,
    responses(
        (status = 200, description = "the forwarding now", body = ForwardingView),
        (status = 404, description = "no such subscriber (or not yours)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "a bad URI or timeout; `field` names it", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn put_forwarding(
    State(state): State<AppState>,
    caller: Caller,
    Path(text): Path<String>,
    JsonBody(body): JsonBody<ForwardingView>,
) -> Result<Json<ForwardingView>, Problem> {
    let a = address("address", &text)?;
    replace(&state, &caller, &a, body.texts())
        .await
        .map_err(|mut problems| problems.remove(0))?;
    read(&state, &caller, &a).await.map(Json)
}
