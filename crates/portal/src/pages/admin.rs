//! The admin pages: domains (list, add, remove), subscribers (a page at a time, searched
//! by a part of the address or e-mail, add with a password, remove), registrations (every
//! device, with NAT flag and User-Agent, remove), call records (`/admin/calls`: every
//! record, filtered by subscriber, dates, missed and result, a page at a time, and
//! `/admin/calls.csv` with the same filters). Each form calls the API's operation; errors
//! show next to their field.

use std::collections::HashMap;
use std::fmt::Write;

use axum::extract::{Query, Request, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use super::{
    banner, csrf_field, error_page, esc, field, field_errors, form_fields, layout, notice,
    query_value, see_other, selfcare, when, FieldErrors, MaybeCaller, TimeStyle,
};
use crate::api::calls::{self, CallQuery};
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
        match &q.q {
            Some(text) => format!(
                r#"<p class="empty">No subscriber matches “{}”. Search for a part of the address (alice, @example.com) or of the e-mail; <a href="/admin/subscribers">show all</a>.</p>"#,
                esc(text)
            ),
            None => r#"<p class="empty">No subscribers yet. Add the first one below (serve its domain first, under Domains).</p>"#.to_owned(),
        }
    } else {
        format!(
            r#"<table><thead><tr><th>Address</th><th>E-mail</th><th>Added</th><th></th></tr></thead><tbody>{rows}</tbody></table>"#
        )
    };
    let next = match &page.next_cursor {
        Some(c) => {
            let mut kept = String::new();
            for (name, value) in [("domain", &q.domain), ("q", &q.q)] {
                if let Some(v) = value {
                    let _ = write!(kept, "&{name}={}", query_value(v));
                }
            }
            format!(
                r#"<p class="pager"><a href="/admin/subscribers?cursor={}{}">Next page →</a></p>"#,
                query_value(c),
                esc(&kept)
            )
        }
        None => String::new(),
    };
    let t = |name: &str| typed.get(name).map(String::as_str).unwrap_or_default();
    let e = |name: &str| errors.get(name).map(String::as_str);
    let admin_checked = if t("admin") == "on" { " checked" } else { "" };
    let body = format!(
        r#"{notice}<h1>Subscribers</h1><section class="card"><form method="get" action="/admin/subscribers" class="filters" role="search">{domain_kept}{search}<button type="submit">Search</button></form>{table}{next}</section>
<section class="card"><h2>Add a subscriber</h2><form method="post" action="/admin/subscribers" novalidate>{csrf}{banner}{address}{password}{email}
<div class="field check"><input id="f-admin" name="admin" type="checkbox"{admin_checked}><label for="f-admin">Administrator of the whole provider</label></div>
<button class="primary">Add subscriber</button></form></section>"#,
        notice = notice(query),
        domain_kept = q
            .domain
            .as_deref()
            .map(|d| format!(r#"<input type="hidden" name="domain" value="{}">"#, esc(d)))
            .unwrap_or_default(),
        search = field(
            "Search",
            "q",
            "search",
            q.q.as_deref().unwrap_or_default(),
            None,
            "a part of the address or of the e-mail; empty: everyone"
        ),
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

/// The subscribers page (`?cursor=`, `?domain=`, `?q=`: a part of the address or
/// e-mail).
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

// --- call records ---

/// The caller when they may read every call record; the login page or a 403 page
/// otherwise.
fn records_reader(caller: MaybeCaller) -> Result<Caller, Response> {
    let caller = caller.or_login()?;
    caller
        .allow(Action::ListAllCalls)
        .map_err(|p| error_page(&p))?;
    Ok(caller)
}

/// The fields of the call records filter form.
const CALL_FIELDS: [&str; 5] = ["user", "since", "until", "missed", "disposition"];

/// `/admin/calls`: every call record, filtered by subscriber, dates, missed and
/// disposition (those of `GET /api/v1/calls`), a page at a time by cursor.
pub async fn call_records(
    State(state): State<AppState>,
    caller: MaybeCaller,
    Query(fields): Query<HashMap<String, String>>,
) -> Response {
    let caller = match records_reader(caller) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let typed = |name: &str| fields.get(name).cloned().unwrap_or_default();
    let filtered = CALL_FIELDS
        .iter()
        .any(|name| fields.get(*name).is_some_and(|v| !v.is_empty()));
    let result = match CallQuery::from_fields(fields.clone(), true) {
        Ok(q) => calls::all(&state, &caller, &q).await.map(|p| (q, p)),
        Err(p) => Err(p),
    };
    let (status, mut errors, table, links) = match result {
        Ok((q, page)) => {
            let empty = if filtered {
                r#"<p class="empty">No call record matches these filters. Clear the subscriber or the result, or widen the dates, to see more.</p>"#
            } else {
                r#"<p class="empty">No call has been recorded yet. Every call through the server shows here once it ends.</p>"#
            };
            let (table, links) = selfcare::call_table("/admin/calls", &q, &page, empty);
            (StatusCode::OK, FieldErrors::new(), table, links)
        }
        Err(p) if p.field.is_some() => (
            StatusCode::UNPROCESSABLE_ENTITY,
            field_errors(&[p]),
            String::new(),
            String::new(),
        ),
        Err(p) => return error_page(&p),
    };
    // An error of a parameter the form has no field for goes in the banner.
    let stray: Vec<String> = errors
        .keys()
        .filter(|k| !k.is_empty() && !CALL_FIELDS.contains(&k.as_str()))
        .cloned()
        .collect();
    for k in stray {
        if let Some(e) = errors.remove(&k) {
            errors.insert(String::new(), e);
        }
    }
    let e = |name: &str| errors.get(name).map(String::as_str);
    let missed_error = e("missed")
        .map(|m| format!(r#"<p class="error" id="f-missed-error">{}</p>"#, esc(m)))
        .unwrap_or_default();
    let body = format!(
        r#"<h1>Call records</h1>
<section class="card"><form method="get" action="/admin/calls" class="filters">{banner}{user}{dates}{disposition}
<div class="field check{missed_class}"><input id="f-missed" name="missed" type="checkbox" value="true"{missed_checked}><label for="f-missed">Only the calls this subscriber missed</label>{missed_error}</div>
<button type="submit">Show</button></form>
<p class="hint">{hint}</p></section>
<section class="card"><h2>Calls</h2><p class="lead">Oldest first.</p>{table}{links}</section>"#,
        banner = banner(&errors),
        user = field(
            "Subscriber",
            "user",
            "text",
            &typed("user"),
            e("user"),
            "user@domain; empty: everyone"
        ),
        dates = selfcare::date_fields(&typed("since"), &typed("until"), &errors),
        disposition = field(
            "Result",
            "disposition",
            "text",
            &typed("disposition"),
            e("disposition"),
            "answered, busy, no_answer, cancelled, failed, refused, credit_exhausted; empty: any"
        ),
        missed_class = if missed_error.is_empty() {
            ""
        } else {
            " invalid"
        },
        missed_checked = if typed("missed") == "true" {
            " checked"
        } else {
            ""
        },
        hint = esc(selfcare::DATE_HINT),
    );
    (status, Html(layout("Call records", Some(&caller), &body))).into_response()
}

/// `/admin/calls.csv`: the records of `/admin/calls` with the same filters as CSV (the
/// columns of `itsp cdr list --csv`).
pub async fn call_records_csv(
    State(state): State<AppState>,
    caller: MaybeCaller,
    Query(fields): Query<HashMap<String, String>>,
) -> Response {
    let caller = match records_reader(caller) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let result = match CallQuery::from_fields(fields, true) {
        Ok(q) => calls::csv_all(&state, &caller, &q).await,
        Err(p) => Err(p),
    };
    match result {
        Ok(body) => calls::csv_response(body),
        Err(p) => error_page(&p),
    }
}
