//! `/admin/subscribers/{address}`: one subscriber for an admin to edit — the e-mail
//! address and the admin flag, disable or enable, aliases and groups (add, remove), the account (none, prepaid or postpaid,
//! rating plan, currency) and top-ups with a note. Each form posts to a handler here
//! that calls the API's operation ([`crate::api::subscribers::change`],
//! [`crate::api::assigned`], [`crate::api::accounts`]); a bad field is shown next to it
//! with what was typed kept, and changes nothing.

use std::collections::HashMap;
use std::fmt::Write;

use axum::extract::{Path, Query, Request, State};
use axum::response::{Html, IntoResponse, Response};

use super::admin::{admin, checked_form};
use super::{
    banner, csrf_field, error_page, esc, field, layout, notice, query_value, see_other, when,
    FieldErrors, MaybeCaller, TimeStyle,
};
use crate::api::{accounts, assigned, subscribers};
use crate::auth::{Caller, ClientIp};
use crate::problem::{address, Problem};
use crate::AppState;
use store::Address;

/// The page's link for `a`.
pub fn link(a: &str) -> String {
    format!("/admin/subscribers/{}", query_value(a))
}

fn hidden(name: &str, value: &str) -> String {
    format!(
        r#"<input type="hidden" name="{name}" value="{}">"#,
        esc(value)
    )
}

/// A labelled drop-down list with its error below it.
fn select(
    label: &str,
    name: &str,
    options: &[(&str, &str)],
    chosen: &str,
    error: Option<&str>,
) -> String {
    let id = format!("f-{name}");
    let mut opts = String::new();
    for (value, text) in options {
        let sel = if *value == chosen { " selected" } else { "" };
        let _ = write!(opts, r#"<option value="{value}"{sel}>{text}</option>"#);
    }
    let (class, described, message) = match error {
        Some(e) => (
            " invalid",
            format!(r#" aria-invalid="true" aria-describedby="{id}-error""#),
            format!(r#"<p class="error" id="{id}-error">{}</p>"#, esc(e)),
        ),
        None => ("", String::new(), String::new()),
    };
    format!(
        r#"<div class="field{class}"><label for="{id}">{label}</label><select id="{id}" name="{name}"{described}>{opts}</select>{message}</div>"#,
        label = esc(label)
    )
}

async fn page(
    state: &AppState,
    caller: &Caller,
    a: &Address,
    typed: &HashMap<String, String>,
    errors: &FieldErrors,
    top: &str,
) -> Result<String, Problem> {
    let d = subscribers::detail(state, caller, a).await?;
    let account = match accounts::get(state, caller, a).await {
        Ok(acc) => Some(acc),
        Err(p) if p.status == 404 => None,
        Err(p) => return Err(p),
    };
    let here = link(&d.address);
    let csrf = csrf_field(caller);
    let t = |name: &str| typed.get(name).map(String::as_str);
    let e = |name: &str| errors.get(name).map(String::as_str);

    // Status.
    let (state_text, button, value) = if d.disabled {
        (
            r#"<span class="badge off">disabled</span> Their phones cannot register or call, and they cannot log in here."#,
            r#"<button class="primary">Enable</button>"#,
            "off",
        )
    } else {
        (
            r#"<span class="badge direct">active</span>"#,
            r#"<button class="danger">Disable</button>"#,
            "on",
        )
    };
    let status = format!(
        r#"<section class="card"><h2>Status</h2>{err}<p>{state_text}</p><form method="post" action="{here}/status">{csrf}{h}{button}</form><p class="hint">Disabling keeps everything (aliases, calls, account) but lets them in nowhere: their SIP authentication fails as for an unknown user, their registrations are removed and their portal sessions end.</p></section>"#,
        err = e("disabled")
            .map(|m| format!(r#"<p class="error">{}</p>"#, esc(m)))
            .unwrap_or_default(),
        h = hidden("disabled", value),
    );

    // Contact and rights.
    // What was sent, when this form was (an unchecked box sends nothing).
    let admin_now = if typed.contains_key("email") {
        t("admin") == Some("on")
    } else {
        d.admin
    };
    let profile = format!(
        r#"<section class="card"><h2>E-mail and rights</h2><form method="post" action="{here}/profile" novalidate>{csrf}{email}<div class="field{admin_class}"><label><input type="checkbox" name="admin" value="on"{checked}> Administrator: may administer every domain and subscriber here</label>{admin_error}</div><button class="primary">Save</button></form></section>"#,
        email = field(
            "E-mail address",
            "email",
            "email",
            t("email").unwrap_or(d.email.as_deref().unwrap_or_default()),
            e("email"),
            "where password reset links and voicemail e-mails go; empty: none"
        ),
        checked = if admin_now { " checked" } else { "" },
        admin_class = if e("admin").is_some() { " invalid" } else { "" },
        admin_error = e("admin")
            .map(|m| format!(r#"<p class="error">{}</p>"#, esc(m)))
            .unwrap_or_default(),
    );

    // Aliases.
    let mut aliases = String::new();
    for alias in &d.aliases {
        let _ = write!(
            aliases,
            r#"<li>{} <form method="post" action="{here}/aliases/remove" class="inline">{csrf}{}<button class="danger small" title="remove this alias">Remove</button></form></li>"#,
            esc(alias),
            hidden("alias", alias),
        );
    }
    let aliases = if d.aliases.is_empty() {
        r#"<p class="empty">No aliases. Add a number or another name that reaches this subscriber.</p>"#.to_owned()
    } else {
        format!(r#"<ul class="tags">{aliases}</ul>"#)
    };
    let alias_section = format!(
        r#"<section class="card"><h2>Aliases</h2>{aliases}<form method="post" action="{here}/aliases" novalidate>{csrf}{f}<button class="primary">Add alias</button></form></section>"#,
        f = field(
            "New alias",
            "alias",
            "text",
            t("alias").unwrap_or_default(),
            e("alias"),
            "user@domain in a served domain, e.g. +4684567890@example.com"
        ),
    );

    // Groups.
    let mut groups = String::new();
    for g in &d.groups {
        let _ = write!(
            groups,
            r#"<li>{} <form method="post" action="{here}/groups/remove" class="inline">{csrf}{}<button class="danger small" title="take out of this group">Remove</button></form></li>"#,
            esc(g),
            hidden("group", g),
        );
    }
    let groups = if d.groups.is_empty() {
        r#"<p class="empty">In no group. Groups are permissions such as <code>int</code> (international calls).</p>"#.to_owned()
    } else {
        format!(r#"<ul class="tags">{groups}</ul>"#)
    };
    let group_section = format!(
        r#"<section class="card"><h2>Groups</h2>{groups}<form method="post" action="{here}/groups" novalidate>{csrf}{f}<button class="primary">Add to group</button></form></section>"#,
        f = field(
            "Group",
            "group",
            "text",
            t("group").unwrap_or_default(),
            e("group"),
            "a name such as int or ld"
        ),
    );

    // Account.
    let kind_now = account.as_ref().map_or("none", |acc| acc.kind.as_str());
    let plan_now = account
        .as_ref()
        .and_then(|acc| acc.plan.as_deref())
        .unwrap_or_default();
    let currency_now = account
        .as_ref()
        .map_or(accounts::DEFAULT_CURRENCY, |acc| acc.currency.as_str());
    let summary = match &account {
        Some(acc) => format!(
            r#"<dl class="facts"><dt>Kind</dt><dd>{}</dd><dt>Balance</dt><dd class="balance">{} {}</dd><dt>Rating plan</dt><dd>{}</dd></dl>"#,
            esc(&acc.kind),
            esc(&acc.balance),
            esc(&acc.currency),
            esc(acc.plan.as_deref().unwrap_or("default")),
        ),
        None => r#"<p class="empty">No account: their calls are not charged. Choose prepaid or postpaid to open one.</p>"#.to_owned(),
    };
    let account_section = format!(
        r#"<section class="card"><h2>Account</h2>{summary}<form method="post" action="{here}/account" novalidate>{csrf}{kind}{plan}{currency}<button class="primary">Save account</button></form></section>"#,
        kind = select(
            "Kind",
            "kind",
            &[
                ("none", "None (calls not charged)"),
                ("prepaid", "Prepaid"),
                ("postpaid", "Postpaid")
            ],
            t("kind").unwrap_or(kind_now),
            e("kind"),
        ),
        plan = field(
            "Rating plan",
            "plan",
            "text",
            t("plan").unwrap_or(plan_now),
            e("plan"),
            "empty: the default plan (see Rates)"
        ),
        currency = field(
            "Currency",
            "currency",
            "text",
            t("currency").unwrap_or(currency_now),
            e("currency"),
            "ISO 4217, e.g. EUR; changes only while the balance is zero"
        ),
    );
    let top_up_section = if account.is_some() {
        format!(
            r#"<section class="card"><h2>Top up</h2><form method="post" action="{here}/topup" novalidate>{csrf}{amount}{note}<button class="primary">Top up</button></form></section>"#,
            amount = field(
                "Amount",
                "amount",
                "text",
                t("amount").unwrap_or_default(),
                e("amount"),
                &format!("in {currency_now}, e.g. 20.00")
            ),
            note = field(
                "Note (optional)",
                "note",
                "text",
                t("note").unwrap_or_default(),
                e("note"),
                "a receipt number, shown in the ledger"
            ),
        )
    } else {
        String::new()
    };
    let body = format!(
        r#"{top}<p><a href="/admin/subscribers">← Subscribers</a></p><h1>{title}</h1>{banner}
<section class="card"><dl class="facts"><dt>E-mail</dt><dd>{email}</dd><dt>Added</dt><dd>{created}</dd><dt>Administrator</dt><dd>{admin}</dd></dl></section>
{profile}{status}{alias_section}{group_section}{account_section}{top_up_section}"#,
        title = esc(&d.address),
        banner = banner(errors),
        email = esc(d.email.as_deref().unwrap_or("—")),
        created = when(&d.created_at, TimeStyle::DateTime),
        admin = if d.admin { "yes" } else { "no" },
    );
    Ok(layout(&d.address, Some(caller), &body))
}

/// The subscriber's page.
pub async fn show(
    State(state): State<AppState>,
    caller: MaybeCaller,
    Path(text): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let caller = match admin(caller) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let a = match address("address", &text) {
        Ok(a) => a,
        Err(_) => return super::not_found_page(),
    };
    let html = page(
        &state,
        &caller,
        &a,
        &HashMap::new(),
        &FieldErrors::new(),
        &notice(&query),
    )
    .await;
    match html {
        Ok(html) => Html(html).into_response(),
        Err(p) => error_page(&p),
    }
}

/// What a form post did: the redirect on success, the page with the error otherwise.
async fn answer(
    state: &AppState,
    caller: &Caller,
    a: &Address,
    fields: &HashMap<String, String>,
    result: Result<&str, Problem>,
) -> Response {
    let p = match result {
        Ok(notice) => return see_other(&format!("{}?notice={notice}", link(&a.to_string()))),
        Err(p) => p,
    };
    if p.status == 403 {
        return error_page(&p);
    }
    let status = p.status_code();
    let mut errors = FieldErrors::new();
    errors.insert(p.field.unwrap_or_default(), p.detail);
    match page(state, caller, a, fields, &errors, "").await {
        Ok(html) => (status, Html(html)).into_response(),
        Err(p) => error_page(&p),
    }
}

/// The caller, the subscriber and the checked form of a post; or the response to give.
async fn post_parts(
    caller: MaybeCaller,
    text: &str,
    req: Request,
) -> Result<(Caller, Address, HashMap<String, String>), Response> {
    let caller = admin(caller)?;
    let fields = checked_form(&caller, req).await?;
    let a = address("address", text).map_err(|p| error_page(&p))?;
    Ok((caller, a, fields))
}

fn get<'a>(fields: &'a HashMap<String, String>, name: &str) -> &'a str {
    fields.get(name).map(String::as_str).unwrap_or_default()
}

/// Disables or enables the subscriber (`disabled=on|off`).
pub async fn set_status(
    State(state): State<AppState>,
    caller: MaybeCaller,
    ClientIp(source): ClientIp,
    Path(text): Path<String>,
    req: Request,
) -> Response {
    let (caller, a, fields) = match post_parts(caller, &text, req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let disabled = match get(&fields, "disabled") {
        "on" => Ok(true),
        "off" => Ok(false),
        other => Err(Problem::invalid(
            "disabled",
            format!("{other:?} is not on or off"),
        )),
    };
    let result = match disabled {
        Ok(disabled) => {
            let change = subscribers::SubscriberChange {
                disabled: Some(disabled),
                ..subscribers::SubscriberChange::default()
            };
            subscribers::change(&state, &caller, source, &a, change)
                .await
                .map(|()| "saved")
        }
        Err(p) => Err(p),
    };
    answer(&state, &caller, &a, &fields, result).await
}

/// Sets the e-mail address and the admin flag (`email`, `admin=on` when checked). An
/// admin cannot take their own flag away here (another admin, or `itsp user`, can), so
/// nobody locks the last admin out by a slip.
pub async fn set_profile(
    State(state): State<AppState>,
    caller: MaybeCaller,
    ClientIp(source): ClientIp,
    Path(text): Path<String>,
    req: Request,
) -> Response {
    let (caller, a, fields) = match post_parts(caller, &text, req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let admin = get(&fields, "admin") == "on";
    let result = if !admin && caller.address.as_ref() == Some(&a) {
        Err(Problem::invalid(
            "admin",
            "you cannot take your own admin flag away; another admin can",
        ))
    } else {
        let change = subscribers::SubscriberChange {
            email: Some(get(&fields, "email").to_owned()),
            admin: Some(admin),
            ..subscribers::SubscriberChange::default()
        };
        subscribers::change(&state, &caller, source, &a, change)
            .await
            .map(|()| "saved")
    };
    answer(&state, &caller, &a, &fields, result).await
}

/// Adds an alias.
pub async fn add_alias(
    State(state): State<AppState>,
    caller: MaybeCaller,
    Path(text): Path<String>,
    req: Request,
) -> Response {
    let (caller, a, fields) = match post_parts(caller, &text, req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let result = assigned::add(&state, &caller, &a, get(&fields, "alias"))
        .await
        .map(|_| "added");
    answer(&state, &caller, &a, &fields, result).await
}

/// Removes an alias.
pub async fn remove_alias(
    State(state): State<AppState>,
    caller: MaybeCaller,
    Path(text): Path<String>,
    req: Request,
) -> Response {
    let (caller, a, fields) = match post_parts(caller, &text, req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let result = assigned::remove(&state, &caller, &a, get(&fields, "alias"))
        .await
        .map(|()| "removed");
    answer(&state, &caller, &a, &HashMap::new(), result).await
}

/// Puts the subscriber in a group.
pub async fn add_group(
    State(state): State<AppState>,
    caller: MaybeCaller,
    Path(text): Path<String>,
    req: Request,
) -> Response {
    let (caller, a, fields) = match post_parts(caller, &text, req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let result = assigned::join(&state, &caller, &a, get(&fields, "group").trim())
        .await
        .map(|()| "added");
    answer(&state, &caller, &a, &fields, result).await
}

/// Takes the subscriber out of a group.
pub async fn remove_group(
    State(state): State<AppState>,
    caller: MaybeCaller,
    Path(text): Path<String>,
    req: Request,
) -> Response {
    let (caller, a, fields) = match post_parts(caller, &text, req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let result = assigned::leave(&state, &caller, &a, get(&fields, "group"))
        .await
        .map(|()| "removed");
    answer(&state, &caller, &a, &HashMap::new(), result).await
}

/// Opens, changes or closes (`kind=none`) the account.
pub async fn set_account(
    State(state): State<AppState>,
    caller: MaybeCaller,
    Path(text): Path<String>,
    req: Request,
) -> Response {
    let (caller, a, fields) = match post_parts(caller, &text, req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let result = if get(&fields, "kind") == "none" {
        match accounts::close(&state, &caller, &a).await {
            Ok(()) => Ok("saved"),
            // No account to close: nothing to do.
            Err(p) if p.status == 404 && p.detail.contains("has no account") => Ok("saved"),
            Err(mut p) => {
                if p.status == 409 {
                    p.field = Some("kind".to_owned());
                }
                Err(p)
            }
        }
    } else {
        let setting = accounts::AccountSetting {
            kind: get(&fields, "kind").to_owned(),
            plan: Some(get(&fields, "plan").to_owned()),
            currency: Some(get(&fields, "currency").to_owned()),
        };
        accounts::set(&state, &caller, &a, setting)
            .await
            .map(|_| "saved")
    };
    answer(&state, &caller, &a, &fields, result).await
}

/// Tops up the account with a note.
pub async fn top_up(
    State(state): State<AppState>,
    caller: MaybeCaller,
    Path(text): Path<String>,
    req: Request,
) -> Response {
    let (caller, a, fields) = match post_parts(caller, &text, req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let new = accounts::NewTopUp {
        amount: get(&fields, "amount").trim().to_owned(),
        note: Some(get(&fields, "note").to_owned()),
    };
    let result = accounts::top_up(&state, &caller, &a, new)
        .await
        .map(|_| "saved");
    answer(&state, &caller, &a, &fields, result).await
}
