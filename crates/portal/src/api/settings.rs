//! `/api/v1/subscribers/{address}/settings`: the voicemail settings a subscriber sets
//! (voicemail on or off, where messages go, the address they are e-mailed to), the
//! store's preferences `voicemail`, `vm-delivery` and `vm-email` with each value checked
//! by the store's own rules (as `itsp user set` checks them). Passwords change through
//! `PATCH /api/v1/subscribers/{address}` ([`super::subscribers::change`]).
//!
//! The voicemail PIN (`vm_pin`, the preference [`VM_PIN`]) is set here when the store
//! knows that preference (the voicemail menu of the media service brings it); it is
//! never shown, only whether one is set. Where the store does not know it, giving one is
//! a 422 naming `vm_pin`.

use axum::extract::{Path, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use store::{Address, PreferenceSpec, VM_DELIVERY, VM_DELIVERY_STORE, VM_EMAIL, VOICEMAIL};
use utoipa::ToSchema;

use crate::auth::{Action, Caller};
use crate::problem::address;
use crate::problem::{JsonBody, Problem};
use crate::AppState;

/// The name of the voicemail PIN preference (4 to 10 digits), when the store has it.
pub const VM_PIN: &str = "vm-pin";

/// A subscriber's voicemail settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SettingsView {
    /// Calls not answered, busy or offline go to voicemail.
    pub voicemail: bool,
    /// What happens to a new message: `store` (kept in the mailbox; the default), `email`
    /// (e-mailed with the WAV, then deleted) or `both`.
    pub vm_delivery: String,
    /// Where messages are e-mailed; absent: the subscriber's own e-mail address.
    pub vm_email: Option<String>,
    /// Whether a voicemail PIN is set (the PIN itself is never shown).
    pub vm_pin_set: bool,
    /// Whether this server has voicemail PINs at all.
    pub vm_pin_supported: bool,
}

/// New voicemail settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsChange {
    /// Calls not answered, busy or offline go to voicemail (absent: off).
    #[serde(default)]
    pub voicemail: bool,
    /// `store`, `email` or `both`; absent, null or empty: `store`.
    pub vm_delivery: Option<String>,
    /// Where messages are e-mailed; absent, null or empty: the subscriber's own address.
    pub vm_email: Option<String>,
    /// A new voicemail PIN, 4 to 10 digits; empty: no PIN; absent or null: unchanged.
    pub vm_pin: Option<String>,
}

/// Whether the store knows the voicemail PIN preference.
pub fn pin_supported() -> bool {
    PreferenceSpec::find(VM_PIN).is_ok()
}

/// The (JSON member, preference name) pairs of the text values.
const FIELDS: [(&str, &str); 3] = [
    ("vm_delivery", VM_DELIVERY),
    ("vm_email", VM_EMAIL),
    ("vm_pin", VM_PIN),
];

/// A subscriber's settings.
pub async fn read(state: &AppState, caller: &Caller, a: &Address) -> Result<SettingsView, Problem> {
    caller.allow(Action::Read(a))?;
    let store = state.store();
    if store
        .subscriber(&a.user, &a.domain)
        .await
        .map_err(|e| Problem::from_store(e, "address"))?
        .is_none()
    {
        return Err(Problem::not_found(format!("no such user: {a}")));
    }
    let prefs = store
        .preferences(&a.user, &a.domain)
        .await
        .map_err(|e| Problem::from_store(e, "address"))?;
    Ok(SettingsView {
        voicemail: prefs.get(VOICEMAIL).is_some_and(|v| v == "on"),
        vm_delivery: prefs
            .get(VM_DELIVERY)
            .cloned()
            .unwrap_or_else(|| VM_DELIVERY_STORE.to_owned()),
        vm_email: prefs.get(VM_EMAIL).cloned(),
        vm_pin_set: prefs.contains_key(VM_PIN),
        vm_pin_supported: pin_supported(),
    })
}

/// Checks every value as the store would; all problems, each naming its member.
pub fn check(change: &SettingsChange) -> Vec<Problem> {
    let values = [
        change.vm_delivery.as_deref(),
        change.vm_email.as_deref(),
        change.vm_pin.as_deref(),
    ];
    let mut problems = Vec::new();
    for ((field, name), value) in FIELDS.iter().zip(values) {
        let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
            continue;
        };
        if let Err(e) = PreferenceSpec::find(name).and_then(|spec| spec.check(v)) {
            let detail = match e {
                store::StoreError::BadPreference { reason, .. } => reason,
                store::StoreError::UnknownPreference(_) => {
                    "this server has no voicemail PINs".to_owned()
                }
                other => other.to_string(),
            };
            problems.push(Problem::invalid(field, detail));
        }
    }
    problems
}

/// Replaces a subscriber's settings with `change` (an empty or absent text: the
/// default; an absent PIN stays). Nothing changes when a value is bad.
pub async fn replace(
    state: &AppState,
    caller: &Caller,
    a: &Address,
    change: &SettingsChange,
) -> Result<(), Vec<Problem>> {
    caller.allow(Action::ChangeOwn(a)).map_err(|p| vec![p])?;
    let problems = check(change);
    if !problems.is_empty() {
        return Err(problems);
    }
    let text = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let delivery = text(&change.vm_delivery).map(|d| d.to_ascii_lowercase());
    let email = text(&change.vm_email);
    let pin = text(&change.vm_pin);
    let on = if change.voicemail { "on" } else { "off" };
    let mut changes = vec![
        (VOICEMAIL, Some(on)),
        (VM_DELIVERY, delivery.as_deref()),
        (VM_EMAIL, email.as_deref()),
    ];
    if change.vm_pin.is_some() && pin_supported() {
        changes.push((VM_PIN, pin.as_deref()));
    }
    let store = state.store();
    let missing = store
        .subscriber(&a.user, &a.domain)
        .await
        .map_err(|e| vec![Problem::from_store(e, "address")])?
        .is_none();
    if missing {
        return Err(vec![Problem::not_found(format!("no such user: {a}"))]);
    }
    store
        .set_preferences(&a.user, &a.domain, &changes)
        .await
        .map_err(|e| vec![Problem::from_store(e, "address")])
}

/// A subscriber's voicemail settings.
#[utoipa::path(get, path = "/api/v1/subscribers/{address}/settings", tag = "settings",
    params(("address" = String, Path, description = "user@domain")),
    responses(
        (status = 200, description = "the settings", body = SettingsView),
        (status = 404, description = "no such subscriber (or not yours)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_settings(
    State(state): State<AppState>,
    caller: Caller,
    Path(text): Path<String>,
) -> Result<Json<SettingsView>, Problem> {
    let a = address("address", &text)?;
    read(&state, &caller, &a).await.map(Json)
}

/// Replace a subscriber's voicemail settings (absent members: voicemail off, messages
/// kept in the mailbox, e-mailed to the subscriber's own address, the PIN unchanged).
#[utoipa::path(put, path = "/api/v1/subscribers/{address}/settings", tag = "settings",
    params(("address" = String, Path, description = "user@domain")),
    request_body = SettingsChange,
    responses(
        (status = 200, description = "the settings now", body = SettingsView),
        (status = 404, description = "no such subscriber (or not yours)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "a bad delivery or e-mail address; `field` names it", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn put_settings(
    State(state): State<AppState>,
    caller: Caller,
    Path(text): Path<String>,
    JsonBody(body): JsonBody<SettingsChange>,
) -> Result<Json<SettingsView>, Problem> {
    let a = address("address", &text)?;
    replace(&state, &caller, &a, &body)
        .await
        .map_err(|mut problems| problems.remove(0))?;
    read(&state, &caller, &a).await.map(Json)
}
