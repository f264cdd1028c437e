//! The admin pages: domains (list, add, remove), subscribers (a page at a time, add with
//! a password, remove), registrations (every device, with NAT flag and User-Agent,
//! remove). Each form calls the API's operation; errors show next to their field.

use std::collections::HashMap;
use std::fmt::Write;

use axum::extract::{Query, Request, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use super::{
    banner, csrf_field, error_page, esc, field, form_fields, layout, notice, query_value,
    see_other, when, FieldErrors, MaybeCaller, TimeStyle,
};
use crate::api::{domains, registrations, subscribers};
use crate::auth::{Action, Caller};
use crate::problem::Problem;
use crate::AppState;

/// The caller when an admin; the login page or a 403 page otherwise.
pub(super) fn admin(caller: MaybeCaller) -> Result<Caller, Response> {
    let caller = caller.or_login()?;
    caller
        .allow(Action::ManageSubscribers)
        .map_err(|p| error_page(&p))?;
    Ok(caller)
}

/// The form fields after the form token was checked.
pub(super) async fn checked_form(
    caller: &Caller,
    req: Request,
) -> Result<HashMap<String, String>, Response> {
    let fields = form_fields(req).await?;
    caller
        .check_form_token(fields.get("csrf").map(String::as_str))
        .map_err(|p| error_page(&p))?;
    Ok(fields)
}

fn one_error(p: Problem) -> FieldErrors {
    let mut e = FieldErrors::new();
    e.insert(p.field.unwrap_or_default(), p.detail);
    e
}

fn get<'a>(fields: &'a HashMap<String, String>, name: &str) -> &'a str {
    fields.get(name).map(String::as_str).unwrap_or_default()
}

fn remove_button(caller: &Caller, action: &str, hidden: &[(&str, &str)], confirm: &str) -> String {
    let mut inputs = csrf_field(caller);
    for (name, value) in hidden {
        let _ = write!(
            inputs,
            r#"<input type="hidden" name="{name}" value="{}">"#,
            esc(value)
        );
    }
    format!(
        r#"<form method="post" action="{action}" class="inline">{inputs}<button class="danger small" title="{}">Remove</button></form>"#,
        esc(confirm)
    )
}

// --- domains ---

async fn domains_page(
    state: &AppState,
    caller: &Caller,
    typed: &str,
    errors: &FieldErrors,
    top: &str,
) -> Result<String, Problem> {
    let list = domains::list(state, caller).await?;
    let mut rows = String::new();
    for d in &list {
        let (state_text, button, value) = if d.self_registration {
            ("on", "Turn off", "off")
        } else {
            ("off", "Turn on", "on")
        };
        let _ = write!(
            rows,
            r#"<tr><td>{}</td><td>{state_text} <form method="post" action="/admin/domains/self-registration" class="inline">{}<input type="hidden" name="name" value="{}"><input type="hidden" name="self_registration" value="{value}"><button class="small">{button}</button></form></td><td>{}</td></tr>"#,
            esc(&d.name),
            csrf_field(caller),
            esc(&d.name),
            remove_button(
                caller,
                "/admin/domains/remove",
                &[("name", &d.name)],
                "stop serving this domain"
            )
        );
    }
    let table = if list.is_empty() {
        r#"<p class="empty">No domain is served yet. Add the domain of your users' addresses below.</p>"#.to_owned()
    } else {
        format!(
            r#"<table><thead><tr><th>Domain</th><th>Self-registration</th><th></th></tr></thead><tbody>{rows}</tbody></table>"#
        )
    };
    let body = format!(
        r#"{top}<h1>Domains</h1><section class="card">{banner}{table}</section>
<section class="card"><h2>Serve a domain</h2><form method="post" action="/admin/domains" novalidate>{csrf}{name}<button class="primary">Add domain</button></form></section>"#,
        banner = banner(errors),
        csrf = csrf_field(caller),
        name = field(
            "Domain",
            "name",
            "text",
            typed,
            errors.get("name").map(String::as_str),
            "e.g. example.com"
        ),
    );
    Ok(layout("Domains", Some(caller), &body))
}

/// The domains page.
pub async fn domains(
    State(state): State<AppState>,
    caller: MaybeCaller,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let caller = match admin(caller) {
        Ok(c) => c,
        Err(r) => return r,
    };
    match domains_page(&state, &caller, "", &FieldErrors::new(), &notice(&query)).await {
        Ok(html) => Html(html).into_response(),
        Err(p) => error_page(&p),
    }
}

/// Adds a domain.
pub async fn add_domain(
    State(state): State<AppState>,
    caller: MaybeCaller,
    req: Request,
) -> Response {
    let caller = match admin(caller) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let fields = match checked_form(&caller, req).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let name = get(&fields, "name");
    let new = domains::NewDomain {
        name: name.to_owned(),
    };
    match domains::create(&state, &caller, new).await {
        Ok(_) => see_other("/admin/domains?notice=added"),
        Err(p) => {
            let status = p.status_code();
            match domains_page(&state, &caller, name, &one_error(p), "").await {
                Ok(html) => (status, Html(html)).into_response(),
                Err(p) => error_page(&p),
            }
        }
    }
}

/// Turns a domain's self-registration on or off.
pub async fn set_self_registration(
    State(state): State<AppState>,
    caller: MaybeCaller,
    req: Request,
) -> Response {
    let caller = match admin(caller) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let fields = match checked_form(&caller, req).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let on = match get(&fields, "self_registration") {
        "on" => true,
        "off" => false,
        other => {
            return error_page(&Problem::invalid(
                "self_registration",
                format!("{other:?} is neither on nor off"),
            ))
        }
    };
    let change = domains::DomainChange {
        self_registration: on,
    };
    match domains::change(&state, &caller, get(&fields, "name"), change).await {
        Ok(_) => see_other("/admin/domains?notice=saved"),
        Err(p) => error_page(&p),
    }
}

/// Removes a domain.
pub async fn remove_domain(
    State(state): State<AppState>,
    caller: MaybeCaller,
    req: Request,
) -> Response {
    let caller = match admin(caller) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let fields = match checked_form(&caller, req).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    match domains::remove(&state, &caller, get(&fields, "name")).await {
        Ok(()) => see_other("/admin/domains?notice=removed"),
        Err(p) => {
            let status = p.status_code();
            let mut errors = one_error(p);
            // A problem of the list, not of the add form below it.
            if let Some(e) = errors.remove("domain") {
                errors.insert(String::new(), e);
            }
            match domains_page(&state, &caller, "", &errors, "").await {
                Ok(html) => (status, Html(html)).into_response(),
                Err(p) => error_page(&p),
            }
        }
    }
}

// --- subscribers ---

async fn subscribers_page(
    state: &AppState,
    caller: &Caller,
    query: &HashMap<String, String>,
    typed: &HashMap<String, String>,
    errors: &FieldErrors,
) -> Result<String, Problem> {
    let mut fields = query.clone();
    fields.remove("notice");
    let q = subscribers::SubscriberQuery::from_fields(fields)?;
    let page = subscribers::page(state, caller, &q).await?;
    let mut rows = String::new();
    for s in &page.items {
        let _ = write!(
            rows,
            r#"<tr><td><a href="{}">{}</a>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
            esc(&super::subscriber::link(&s.address)),
            esc(&s.address),
            if s.disabled {
                r#" <span class="badge off">disabled</span>"#
            } else {
                ""
            },
            esc(s.email.as_deref().unwrap_or("")),
            when(&s.created_at, TimeStyle::DateTime),
            remove_button(
                caller,
                "/admin/subscribers/remove",
                &[("address", &s.address)],
                "remove with aliases, groups, settings, registrations"
            )
        );
    }
    let table = if page.items.is_empty() {
        r#"<p class="empty">No subscribers yet. Add the first one below (serve its domain first, under Domains).</p>"#.to_owned()
    } else {
        format!(
            r#"<table><thead><tr><th>Address</th><th>E-mail</th><th>Added</th><th></th></tr></thead><tbody>{rows}</tbody></table>"#
        )
    };
    let next = match &page.next_cursor {
        Some(c) => {
            let domain = q
                .domain
                .as_deref()
                .map(|d| format!("&domain={}", query_value(d)))
                .unwrap_or_default();
            format!(
                r#"<p class="pager"><a href="/admin/subscribers?cursor={}{domain}">Next page →</a></p>"#,
                query_value(c)
            )
        }
        None => String::new(),
    };
    let t = |name: &str| typed.get(name).map(String::as_str).unwrap_or_default();
    let e = |name: &str| errors.get(name).map(String::as_str);
    let admin_checked = if t("admin") == "on" { " checked" } else { "" };
    let body = format!(
        r#"{notice}<h1>Subscribers</h1><section class="card">{table}{next}</section>
<section class="card"><h2>Add a subscriber</h2><form method="post" action="/admin/subscribers" novalidate>{csrf}{banner}{address}{password}{email}
<div class="field check"><input id="f-admin" name="admin" type="checkbox"{admin_checked}><label for="f-admin">Administrator of the whole provider</label></div>
<button class="primary">Add subscriber</button></form></section>"#,
        notice = notice(query),
        csrf = csrf_field(caller),
        banner = banner(errors),
        address = field(
            "Address",
            "address",
            "text",
            t("address"),
            e("address"),
            "user@domain, in a served domain"
        ),
        password = field(
            "Password",
            "password",
            "password",
            "",
            e("password"),
            "for the phone (SIP) and for this portal"
        ),
        email = field(
            "E-mail (optional)",
            "email",
            "email",
            t("email"),
            e("email"),
            ""
        ),
    );
    Ok(layout("Subscribers", Some(caller), &body))
}

/// The subscribers page (`?cursor=`, `?domain=`).
pub async fn subscribers(
    State(state): State<AppState>,
    caller: MaybeCaller,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let caller = match admin(caller) {
        Ok(c) => c,
        Err(r) => return r,
    };
    match subscribers_page(
        &state,
        &caller,
        &query,
        &HashMap::new(),
        &FieldErrors::new(),
    )
    .await
    {
        Ok(html) => Html(html).into_response(),
        Err(p) => error_page(&p),
    }
}

/// Adds a subscriber.
pub async fn add_subscriber(
    State(state): State<AppState>,
    caller: MaybeCaller,
    req: Request,
) -> Response {
    let caller = match admin(caller) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let fields = match checked_form(&caller, req).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let new = subscribers::NewSubscriber {
        address: get(&fields, "address").to_owned(),
        password: get(&fields, "password").to_owned(),
        web_password: None,
        email: Some(get(&fields, "email").to_owned()),
        admin: get(&fields, "admin") == "on",
    };
    match subscribers::create(&state, &caller, new).await {
        Ok(_) => see_other("/admin/subscribers?notice=added"),
        Err(p) => {
            let status = if p.status == 404 {
                StatusCode::UNPROCESSABLE_ENTITY
            } else {
                p.status_code()
            };
            let mut errors = one_error(p);
            // "no such domain" belongs to the address field.
            if let Some(e) = errors.remove("") {
                errors.insert("address".to_owned(), e);
            }
            match subscribers_page(&state, &caller, &HashMap::new(), &fields, &errors).await {
                Ok(html) => (status, Html(html)).into_response(),
                Err(p) => error_page(&p),
            }
        }
    }
}

/// Removes a subscriber.
pub async fn remove_subscriber(
    State(state): State<AppState>,
    caller: MaybeCaller,
    req: Request,
) -> Response {
    let caller = match admin(caller) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let fields = match checked_form(&caller, req).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let result = match crate::problem::address("address", get(&fields, "address")) {
        Ok(a) => subscribers::remove(&state, &caller, &a).await,
        Err(p) => Err(p),
    };
    match result {
        Ok(()) => see_other("/admin/subscribers?notice=removed"),
        Err(p) => error_page(&p),
    }
}

// --- registrations ---

/// Every registered device.
pub async fn registrations(
    State(state): State<AppState>,
    caller: MaybeCaller,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let caller = match admin(caller) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let list = match registrations::all(&state, &caller).await {
        Ok(l) => l,
        Err(p) => return error_page(&p),
    };
    let mut rows = String::new();
    for r in &list {
        let _ = write!(
            rows,
            r#"<tr><td>{aor}</td><td>{agent}</td><td>{received} ({transport})</td><td>{nat}</td><td>{expires}</td><td><code>{contact}</code></td><td>{remove}</td></tr>"#,
            aor = esc(&r.aor),
            agent = esc(&r.user_agent),
            received = esc(&r.received),
            transport = esc(&r.transport),
            nat = if r.nat {
                r#"<span class="badge nat">NAT, relayed</span>"#
            } else {
                r#"<span class="badge direct">direct</span>"#
            },
            expires = when(&r.expires_at, TimeStyle::DateTime),
            contact = esc(&r.contact),
            remove = remove_button(
                &caller,
                "/admin/registrations/remove",
                &[("aor", &r.aor), ("contact", &r.contact)],
                "remove this registration"
            ),
        );
    }
    let table = if list.is_empty() {
        r#"<p class="empty">No phone is registered right now.</p>"#.to_owned()
    } else {
        format!(
            r#"<div class="scroll"><table><thead><tr><th>Address</th><th>User agent</th><th>From</th><th>NAT</th><th>Until</th><th>Contact</th><th></th></tr></thead><tbody>{rows}</tbody></table></div>"#
        )
    };
    let body = format!(
        r#"{notice}<h1>Registrations</h1><section class="card">{table}</section>"#,
        notice = notice(&query)
    );
    Html(layout("Registrations", Some(&caller), &body)).into_response()
}

/// Removes one registration.
pub async fn remove_registration(
    State(state): State<AppState>,
    caller: MaybeCaller,
    req: Request,
) -> Response {
    let caller = match admin(caller) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let fields = match checked_form(&caller, req).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let result = match crate::problem::address("aor", get(&fields, "aor")) {
        Ok(a) => registrations::remove(&state, &caller, &a, get(&fields, "contact")).await,
        Err(p) => Err(p),
    };
    match result {
        Ok(()) => see_other("/admin/registrations?notice=removed"),
        Err(p) => error_page(&p),
    }
}
