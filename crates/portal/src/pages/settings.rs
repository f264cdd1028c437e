//! `/settings`: a subscriber's own settings — voicemail (on or off, where messages go,
//! the e-mail address, the PIN when the server has PINs) through
//! [`crate::api::settings`], and the web and SIP passwords through
//! [`crate::api::subscribers::change`] (the web one needs the current web password; each
//! new password typed twice). A bad field is shown next to it and changes nothing.

use std::collections::HashMap;

use axum::extract::{Query, Request, State};
use axum::response::{Html, IntoResponse, Response};

use super::admin::checked_form;
use super::selfcare::subscriber;
use super::{
    banner, csrf_field, error_page, esc, field, field_errors, layout, notice, see_other,
    FieldErrors, MaybeCaller,
};
use crate::api::{settings, subscribers};
use crate::auth::{Caller, ClientIp};
use crate::problem::Problem;
use crate::AppState;
use store::{Address, VM_DELIVERY_BOTH, VM_DELIVERY_EMAIL, VM_DELIVERY_STORE};

async fn page(
    state: &AppState,
    caller: &Caller,
    me: &Address,
    typed: &HashMap<String, String>,
    errors: &FieldErrors,
    top: &str,
) -> Result<String, Problem> {
    let now = settings::read(state, caller, me).await?;
    let csrf = csrf_field(caller);
    let t = |name: &str| typed.get(name).map(String::as_str);
    let e = |name: &str| errors.get(name).map(String::as_str);
    let on = match t("voicemail") {
        Some(v) => v == "on",
        None if typed.is_empty() => now.voicemail,
        None => false,
    };
    let delivery = t("vm_delivery").unwrap_or(&now.vm_delivery);
    let mut options = String::new();
    for (value, text) in [
        (VM_DELIVERY_STORE, "Keep them in my mailbox"),
        (
            VM_DELIVERY_EMAIL,
            "E-mail them (with the recording), then delete",
        ),
        (VM_DELIVERY_BOTH, "E-mail them and keep them"),
    ] {
        let sel = if value == delivery { " selected" } else { "" };
        options.push_str(&format!(r#"<option value="{value}"{sel}>{text}</option>"#));
    }
    let delivery_error = e("vm_delivery")
        .map(|m| {
            format!(
                r#"<p class="error" id="f-vm_delivery-error">{}</p>"#,
                esc(m)
            )
        })
        .unwrap_or_default();
    let pin = if now.vm_pin_supported {
        field(
            "Voicemail PIN",
            "vm_pin",
            "password",
            "",
            e("vm_pin"),
            if now.vm_pin_set {
                "a PIN is set; type a new one (4 to 10 digits) to change it, or leave empty to keep it"
            } else {
                "4 to 10 digits, to reach your mailbox from any phone; empty: none"
            },
        )
    } else {
        String::new()
    };
    let body = format!(
        r#"{top}<h1>Settings</h1>{banner}
<section class="card"><h2>Voicemail</h2>
<form method="post" action="/settings/voicemail" novalidate>{csrf}
<div class="field check"><input id="f-voicemail" name="voicemail" type="checkbox"{checked}><label for="f-voicemail">Calls I do not answer (busy, no answer, phone off) go to my voicemail</label></div>
<div class="field{delivery_class}"><label for="f-vm_delivery">New messages</label><select id="f-vm_delivery" name="vm_delivery">{options}</select>{delivery_error}</div>
{email}{pin}<button class="primary">Save voicemail settings</button></form></section>
<section class="card"><h2>Web password</h2><p class="lead">The password of this portal.</p>
<form method="post" action="/settings/web-password" novalidate>{csrf}{current}{new_web}{again_web}<button class="primary">Change web password</button></form></section>
<section class="card"><h2>SIP password</h2><p class="lead">The password your phones register with; change it on every phone too.</p>
<form method="post" action="/settings/sip-password" novalidate>{csrf}{new_sip}{again_sip}<button class="primary">Change SIP password</button></form></section>"#,
        banner = banner(errors),
        checked = if on { " checked" } else { "" },
        delivery_class = if e("vm_delivery").is_some() {
            " invalid"
        } else {
            ""
        },
        email = field(
            "E-mail messages to",
            "vm_email",
            "email",
            t("vm_email").unwrap_or(now.vm_email.as_deref().unwrap_or_default()),
            e("vm_email"),
            "empty: your own e-mail address"
        ),
        current = field(
            "Current web password",
            "current_password",
            "password",
            "",
            e("current_password"),
            ""
        ),
        new_web = field(
            "New web password",
            "web_password",
            "password",
            "",
            e("web_password"),
            ""
        ),
        again_web = field(
            "New web password again",
            "web_password_again",
            "password",
            "",
            e("web_password_again"),
            ""
        ),
        new_sip = field(
            "New SIP password",
            "sip_password",
            "password",
            "",
            e("sip_password"),
            ""
        ),
        again_sip = field(
            "New SIP password again",
            "sip_password_again",
            "password",
            "",
            e("sip_password_again"),
            ""
        ),
    );
    Ok(layout("Settings", Some(caller), &body))
}

/// The settings page.
pub async fn show(
    State(state): State<AppState>,
    caller: MaybeCaller,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let (caller, me) = match subscriber(caller) {
        Ok(x) => x,
        Err(r) => return r,
    };
    match page(
        &state,
        &caller,
        &me,
        &HashMap::new(),
        &FieldErrors::new(),
        &notice(&query),
    )
    .await
    {
        Ok(html) => Html(html).into_response(),
        Err(p) => error_page(&p),
    }
}

/// The page again with `problems` next to their fields (what was typed kept, passwords
/// not).
async fn again(
    state: &AppState,
    caller: &Caller,
    me: &Address,
    typed: &HashMap<String, String>,
    problems: &[Problem],
) -> Response {
    let status = problems
        .first()
        .map_or(axum::http::StatusCode::UNPROCESSABLE_ENTITY, |p| {
            p.status_code()
        });
    if problems.iter().any(|p| p.status == 403 || p.status == 404) {
        return problems
            .first()
            .map_or_else(super::not_found_page, error_page);
    }
    match page(state, caller, me, typed, &field_errors(problems), "").await {
        Ok(html) => {
            let mut response = (status, Html(html)).into_response();
            // A 429 of the login guard says how long it still refuses (RFC 9110 §10.2.3).
            if let Some(secs) = problems.iter().find_map(|p| p.retry_after) {
                response
                    .headers_mut()
                    .insert(axum::http::header::RETRY_AFTER, secs.into());
            }
            response
        }
        Err(p) => error_page(&p),
    }
}

/// Saves the voicemail settings.
pub async fn save_voicemail(
    State(state): State<AppState>,
    caller: MaybeCaller,
    req: Request,
) -> Response {
    let (caller, me) = match subscriber(caller) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let fields = match checked_form(&caller, req).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let get = |name: &str| fields.get(name).cloned();
    let pin = get("vm_pin").filter(|p| !p.trim().is_empty());
    let change = settings::SettingsChange {
        voicemail: get("voicemail").as_deref() == Some("on"),
        vm_delivery: get("vm_delivery"),
        vm_email: get("vm_email"),
        vm_pin: pin,
    };
    match settings::replace(&state, &caller, &me, &change).await {
        Ok(()) => see_other("/settings?notice=saved"),
        Err(problems) => {
            let mut typed = fields.clone();
            typed.retain(|k, _| k != "vm_pin" && k != "csrf");
            // The checkbox: absent when off; remember that it was posted.
            typed
                .entry("voicemail".to_owned())
                .or_insert_with(|| "off".to_owned());
            again(&state, &caller, &me, &typed, &problems).await
        }
    }
}

/// Checks that `field` and `field_again` match; the problem names the second.
fn twice(fields: &HashMap<String, String>, field: &str) -> Result<String, Problem> {
    let first = fields.get(field).cloned().unwrap_or_default();
    let again_name = format!("{field}_again");
    let again = fields.get(&again_name).cloned().unwrap_or_default();
    if first.is_empty() {
        return Err(Problem::invalid(field, "type the new password"));
    }
    if first != again {
        return Err(Problem::invalid(
            &again_name,
            "the two new passwords differ: type the same twice",
        ));
    }
    Ok(first)
}

/// Changes the web password (the current one required).
pub async fn change_web_password(
    State(state): State<AppState>,
    caller: MaybeCaller,
    ClientIp(source): ClientIp,
    req: Request,
) -> Response {
    let (caller, me) = match subscriber(caller) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let fields = match checked_form(&caller, req).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let result = match twice(&fields, "web_password") {
        Ok(new) => {
            let change = subscribers::SubscriberChange {
                web_password: Some(new),
                current_password: Some(fields.get("current_password").cloned().unwrap_or_default()),
                ..subscribers::SubscriberChange::default()
            };
            // An admin changing their own web password proves it too.
            let me_as_subscriber = Caller {
                is_admin: false,
                ..caller.clone()
            };
            subscribers::change(&state, &me_as_subscriber, source, &me, change).await
        }
        Err(p) => Err(p),
    };
    match result {
        Ok(()) => see_other("/settings?notice=saved"),
        Err(p) => again(&state, &caller, &me, &HashMap::new(), &[p]).await,
    }
}

/// Changes the SIP password.
pub async fn change_sip_password(
    State(state): State<AppState>,
    caller: MaybeCaller,
    ClientIp(source): ClientIp,
    req: Request,
) -> Response {
    let (caller, me) = match subscriber(caller) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let fields = match checked_form(&caller, req).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let result = match twice(&fields, "sip_password") {
        Ok(new) => {
            let change = subscribers::SubscriberChange {
                sip_password: Some(new),
                ..subscribers::SubscriberChange::default()
            };
            subscribers::change(&state, &caller, source, &me, change).await
        }
        Err(p) => Err(p),
    };
    match result {
        Ok(()) => see_other("/settings?notice=saved"),
        Err(p) => again(&state, &caller, &me, &HashMap::new(), &[p]).await,
    }
}
