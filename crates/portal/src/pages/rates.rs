//! `/admin/rates`: the rating plans and their prefixes a page at a time, a tariff import
//! (a native CSV pasted into a text area, with plan, currency and UTC offset; each error
//! of the file listed with its line and column under it, what was typed kept, nothing
//! stored) and a rate test (`/admin/rates/test`: the price of a call and how it came
//! about). Each form calls [`crate::api::rates`].

use std::collections::HashMap;
use std::fmt::Write;

use axum::extract::{Query, Request, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use super::admin::{admin, checked_form};
use super::{banner, csrf_field, error_page, esc, field, layout, query_value, see_other};
use super::{FieldErrors, MaybeCaller};
use crate::api::rates::{self, RateImport, RateQuery, RateTestView, RatesPage, TariffUpload};
use crate::auth::Caller;
use crate::problem::{LineError, Problem};
use crate::AppState;

/// What the import form holds: the fields typed, their errors, the file's line errors.
#[derive(Debug, Default)]
struct ImportForm {
    typed: HashMap<String, String>,
    errors: FieldErrors,
    lines: Vec<LineError>,
}

/// What the test form holds: the fields typed, and its answer or errors.
#[derive(Debug, Default)]
struct TestForm {
    typed: HashMap<String, String>,
    errors: FieldErrors,
    result: Option<RateTestView>,
}

fn errors_of(p: Problem) -> (FieldErrors, Vec<LineError>) {
    let mut e = FieldErrors::new();
    e.insert(p.field.unwrap_or_default(), p.detail);
    (e, p.errors)
}

async fn page(
    state: &AppState,
    caller: &Caller,
    query: &HashMap<String, String>,
    import: &ImportForm,
    test: &TestForm,
) -> Result<String, Problem> {
    let mut fields = HashMap::new();
    for name in ["cursor", "plan"] {
        if let Some(v) = query.get(name).filter(|v| !v.is_empty()) {
            fields.insert(name.to_owned(), v.clone());
        }
    }
    let list = rates::list(state, caller, fields).await?;
    let notice = match query.get("notice").map(String::as_str) {
        Some("imported") => {
            r#"<p class="banner ok" role="status">Imported: the running server prices calls with it within a second.</p>"#
        }
        _ => "",
    };
    let body = format!(
        "{notice}<h1>Rates</h1>{plans}{import}{test}",
        plans = plans_card(&list, query.get("plan").map(String::as_str)),
        import = import_card(caller, import),
        test = test_card(test),
    );
    Ok(layout("Rates", Some(caller), &body))
}

fn plans_card(list: &RatesPage, only: Option<&str>) -> String {
    if list.plans.is_empty() {
        return r#"<section class="card"><h2>Rating plans</h2><p class="empty">No rating plan yet: calls are not priced. Paste a tariff CSV below (or run <code>itsp rate import FILE</code>); a plan named <code>default</code> prices every subscriber's calls.</p></section>"#.to_owned();
    }
    let mut plans = String::new();
    for p in &list.plans {
        let _ = write!(
            plans,
            r#"<tr><td><a href="/admin/rates?plan={q}">{name}</a></td><td>{format}</td><td>{cur}</td><td class="num">{n}</td><td>{imported}</td></tr>"#,
            q = query_value(&p.name),
            name = esc(&p.name),
            format = esc(&p.format),
            cur = esc(&p.currency),
            n = p.prefixes,
            imported = esc(&p.imported),
        );
    }
    let mut prefixes = String::new();
    for item in &list.items {
        let mut rates_cell = String::new();
        for r in &item.rates {
            let steps: Vec<String> = r
                .slots
                .iter()
                .map(|s| {
                    format!(
                        "{} {} per {} s, {} s steps from {} s",
                        s.price, item.currency, s.unit_secs, s.increment_secs, s.from_secs
                    )
                })
                .collect();
            let _ = write!(
                rates_cell,
                "<div>{}: connect {} {}; {}</div>",
                esc(&r.period),
                esc(&r.connect_fee),
                esc(&item.currency),
                esc(&steps.join("; "))
            );
        }
        let _ = write!(
            prefixes,
            r#"<tr><td>{plan}</td><td><code>{prefix}</code></td><td>{dest}</td><td>{rates_cell}</td></tr>"#,
            plan = esc(&item.plan),
            prefix = esc(&item.prefix),
            dest = esc(&item.destination),
        );
    }
    let plan_q = only
        .map(|p| format!("&plan={}", query_value(p)))
        .unwrap_or_default();
    let mut pager = String::new();
    if only.is_some() {
        pager.push_str(r#"<a href="/admin/rates">All plans</a> "#);
    }
    if let Some(next) = &list.next_cursor {
        let _ = write!(
            pager,
            r#"<a href="/admin/rates?cursor={}{}">Next prefixes →</a>"#,
            query_value(next),
            esc(&plan_q)
        );
    }
    format!(
        r#"<section class="card"><h2>Rating plans</h2><div class="scroll"><table><thead><tr><th>Plan</th><th>Format</th><th>Currency</th><th class="num">Prefixes</th><th>Imported</th></tr></thead><tbody>{plans}</tbody></table></div></section>
<section class="card"><h2>Prefixes{of}</h2><div class="scroll"><table><thead><tr><th>Plan</th><th>Prefix</th><th>Destination</th><th>Rates</th></tr></thead><tbody>{prefixes}</tbody></table></div><p class="pager">{pager}</p></section>"#,
        of = only.map(|p| format!(" of {}", esc(p))).unwrap_or_default(),
    )
}

fn import_card(caller: &Caller, form: &ImportForm) -> String {
    let t = |name: &str| form.typed.get(name).map(String::as_str).unwrap_or_default();
    let e = |name: &str| form.errors.get(name).map(String::as_str);
    let csv_error = match e("csv") {
        Some(detail) => {
            let mut list = String::new();
            for l in &form.lines {
                let _ = write!(
                    list,
                    r#"<li>line {}, column {}: {}</li>"#,
                    l.line,
                    l.column,
                    esc(&l.problem)
                );
            }
            let list = if list.is_empty() {
                String::new()
            } else {
                format!(r#"<ul class="line-errors">{list}</ul>"#)
            };
            format!(
                r#"<div class="error" id="f-csv-error"><p>{}</p>{list}</div>"#,
                esc(detail)
            )
        }
        None => String::new(),
    };
    let invalid = if csv_error.is_empty() { "" } else { " invalid" };
    let described = if csv_error.is_empty() {
        ""
    } else {
        r#" aria-invalid="true" aria-describedby="f-csv-error""#
    };
    let plan = if t("plan").is_empty() && form.typed.is_empty() {
        "default"
    } else {
        t("plan")
    };
    let currency = if t("currency").is_empty() {
        "EUR"
    } else {
        t("currency")
    };
    let offset = if t("utc_offset").is_empty() {
        "Z"
    } else {
        t("utc_offset")
    };
    format!(
        r#"<section class="card"><h2>Import a tariff</h2><p class="lead">itsp's CSV: <code>prefix,description,connect_fee,rate_per_min,initial,increment</code> and an optional period; a header line is optional. It replaces the plan of that name, all or nothing. CGRateS tariff plans (six files) go through the API or <code>itsp rate import</code>.</p>
<form method="post" action="/admin/rates" novalidate>{csrf}{banner}
<div class="field{invalid}"><label for="f-csv">Tariff CSV</label><textarea id="f-csv" name="csv" rows="10" spellcheck="false"{described}>{csv}</textarea><p class="hint">46,Sweden,0,0.10,60,60 — 60/60 bills whole minutes, 30/6 the first 30 s then 6 s steps.</p>{csv_error}</div>
{plan}{currency}{offset}<button class="primary">Import</button></form></section>"#,
        csrf = csrf_field(caller),
        banner = banner(&form.errors),
        csv = esc(t("csv")),
        plan = field(
            "Plan",
            "plan",
            "text",
            plan,
            e("plan"),
            "default prices every subscriber without a rating profile"
        ),
        currency = field(
            "Currency",
            "currency",
            "text",
            currency,
            e("currency"),
            "ISO 4217, e.g. EUR, SEK, USD"
        ),
        offset = field(
            "UTC offset of the periods",
            "utc_offset",
            "text",
            offset,
            e("utc_offset"),
            "Z, +01:00, -05:00"
        ),
    )
}

fn test_card(form: &TestForm) -> String {
    let t = |name: &str| form.typed.get(name).map(String::as_str).unwrap_or_default();
    let e = |name: &str| form.errors.get(name).map(String::as_str);
    let result = match &form.result {
        Some(r) => format!(
            r#"<div class="rate-result" role="status"><p class="balance">{total} {cur}</p><p>{dest} (prefix <code>{prefix}</code>), plan {plan}: {billed} s billed of {duration} s.</p><pre>{explanation}</pre></div>"#,
            total = esc(&r.total),
            cur = esc(&r.currency),
            dest = esc(&r.destination),
            prefix = esc(&r.prefix),
            plan = esc(&r.plan),
            billed = r.billed_secs,
            duration = r.duration_secs,
            explanation = esc(&r.explanation),
        ),
        None => String::new(),
    };
    format!(
        r#"<section class="card"><h2>Price a call</h2><form method="get" action="/admin/rates/test" novalidate>{banner}{from}{to}{at}{duration}{plan}<button class="primary">Price it</button></form>{result}</section>"#,
        banner = banner(&form.errors),
        from = field(
            "Caller",
            "from",
            "text",
            t("from"),
            e("from"),
            "user@domain: their plan applies"
        ),
        to = field("Number", "to", "text", t("to"), e("to"), "e.g. +46812345"),
        at = field(
            "Answered at",
            "at",
            "text",
            t("at"),
            e("at"),
            "RFC 3339, e.g. 2026-12-24T18:00:00+01:00; empty: now"
        ),
        duration = field(
            "Duration (seconds)",
            "duration",
            "number",
            t("duration"),
            e("duration"),
            ""
        ),
        plan = field(
            "Plan",
            "plan",
            "text",
            t("plan"),
            e("plan"),
            "optional: this plan rather than the caller's"
        ),
    )
}

fn render(result: Result<String, Problem>, status: StatusCode) -> Response {
    match result {
        Ok(html) => (status, Html(html)).into_response(),
        Err(p) => error_page(&p),
    }
}

/// The rates page (`?plan=`, `?cursor=`).
pub async fn show(
    State(state): State<AppState>,
    caller: MaybeCaller,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let caller = match admin(caller) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let html = page(
        &state,
        &caller,
        &query,
        &ImportForm::default(),
        &TestForm::default(),
    )
    .await;
    render(html, StatusCode::OK)
}

/// Imports the pasted CSV.
pub async fn import(State(state): State<AppState>, caller: MaybeCaller, req: Request) -> Response {
    let caller = match admin(caller) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let mut typed = match checked_form(&caller, req).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let get = |name: &str| typed.get(name).cloned();
    let plan = get("plan").unwrap_or_default();
    let file_name = if plan.trim().is_empty() {
        "default.csv".to_owned()
    } else {
        format!("{}.csv", plan.trim())
    };
    let new = RateImport {
        plan: get("plan"),
        currency: get("currency"),
        utc_offset: get("utc_offset"),
        files: vec![TariffUpload {
            name: file_name,
            content: get("csv").unwrap_or_default(),
        }],
    };
    match rates::import(&state, &caller, new, "csv").await {
        Ok(_) => see_other("/admin/rates?notice=imported"),
        Err(p) => {
            let status = p.status_code();
            let (errors, lines) = errors_of(p);
            typed.remove("csrf");
            let form = ImportForm {
                typed,
                errors,
                lines,
            };
            let html = page(
                &state,
                &caller,
                &HashMap::new(),
                &form,
                &TestForm::default(),
            )
            .await;
            render(html, status)
        }
    }
}

/// Prices a call (a GET form: the answer is a page one may bookmark).
pub async fn test(
    State(state): State<AppState>,
    caller: MaybeCaller,
    Query(typed): Query<HashMap<String, String>>,
) -> Response {
    let caller = match admin(caller) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let outcome = match RateQuery::from_fields(typed.clone()) {
        Ok(q) => rates::test(&state, &caller, q).await,
        Err(p) => Err(p),
    };
    let (status, form) = match outcome {
        Ok(r) => (
            StatusCode::OK,
            TestForm {
                typed,
                errors: FieldErrors::new(),
                result: Some(r),
            },
        ),
        Err(p) => {
            let status = p.status_code();
            let (errors, _) = errors_of(p);
            (
                status,
                TestForm {
                    typed,
                    errors,
                    result: None,
                },
            )
        }
    };
    let html = page(
        &state,
        &caller,
        &HashMap::new(),
        &ImportForm::default(),
        &form,
    )
    .await;
    render(html, status)
}
