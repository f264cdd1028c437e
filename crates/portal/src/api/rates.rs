//! Tariffs: `/api/v1/rates` (import, list) and `/api/v1/rates/test` (price a call and say
//! how), what `itsp rate import|list|test` do on the command line.
//!
//! The prices are the `billing` crate's; the stored files are loaded into plans by
//! `server::rating::load`, the very function the running server rates calls with, so
//! what the portal shows is what calls are charged. An import is all or nothing: the new
//! files are loaded together with the ones already stored (a native file may name a
//! CGRateS timing), and nothing is stored unless every line of every file is right; the
//! problem lists each error with its file, line and column. A running server picks the
//! new plans up within a second (it watches the tariffs' stamp).
//!
//! Admins import and list; a subscriber may price a call with their own plan (the test
//! `from` must be themselves, [`Action::Read`]); naming a `plan` outright is an admin's.
//! [`prepare`] is the import's decision without I/O: which set, which format, the files
//! to store and the plans they give.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use billing::import::cgrates;
use billing::invoice::format_amount;
use billing::{Currency, UtcOffset};
use serde::{Deserialize, Serialize};
use server::rating::{Plans, CGRATES_SET, DEFAULT_PLAN};
use sip::headers::rfc3339_ms;
use store::{Address, TariffFile, TariffFormat};
use utoipa::ToSchema;

use crate::auth::{Action, Caller};
use crate::problem::{address, id_cursor, page_limit, parse_json, LineError, Problem};
use crate::time::unix_now;
use crate::AppState;

/// The largest tariff upload accepted (the rest of the API takes
/// [`crate::MAX_BODY_BYTES`]).
pub const MAX_TARIFF_BYTES: usize = 8 * 1024 * 1024;

/// Prefixes per page unless `limit` says otherwise.
pub const DEFAULT_PAGE: u32 = 100;
/// The largest `limit`.
pub const MAX_PAGE: u32 = 1000;

/// One tariff file of an import.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TariffUpload {
    /// Its name: CGRateS's own (`Destinations.csv`, `Rates.csv`, `DestinationRates.csv`,
    /// `Timings.csv`, `RatingPlans.csv`, `RatingProfiles.csv`) for a CGRateS tariff plan,
    /// any other for itsp's CSV. Errors name it.
    pub name: String,
    /// The CSV text.
    pub content: String,
}

/// An import: one native file for one plan, or the six files of a CGRateS tariff plan.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RateImport {
    /// The plan a native file defines (default `default`); not for CGRateS files, whose
    /// plans are named in them.
    pub plan: Option<String>,
    /// The currency of the prices, ISO 4217 (default `EUR`).
    pub currency: Option<String>,
    /// Where the periods' days and hours are read: `Z`, `+01:00`, `-05:00` (default `Z`).
    pub utc_offset: Option<String>,
    /// The files.
    pub files: Vec<TariffUpload>,
}

/// What an import stored.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ImportResult {
    /// The stored set it replaced: the plan's name, or `cgrates`.
    pub set: String,
    /// `native` or `cgrates`.
    pub format: String,
    /// The plans it defines.
    pub plans: Vec<String>,
    /// Their prefixes in all.
    pub prefixes: usize,
    /// ISO 4217.
    pub currency: String,
}

/// A rating plan.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PlanView {
    /// Its name (`default` prices the calls of subscribers no rating profile names).
    pub name: String,
    /// `native` or `cgrates`.
    pub format: String,
    /// ISO 4217.
    pub currency: String,
    /// How many prefixes it prices.
    pub prefixes: usize,
    /// When its files were imported (RFC 3339).
    pub imported: String,
}

/// One price step of a rate: from `from_secs` into the call, `price` per `unit_secs`,
/// billed `increment_secs` at a time.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SlotView {
    /// Seconds into the call where it starts.
    pub from_secs: u32,
    /// The price per unit, an exact decimal as text (at least the currency's decimals).
    pub price: String,
    /// Seconds the price is for (60: per minute).
    pub unit_secs: u32,
    /// Seconds billed at a time.
    pub increment_secs: u32,
}

/// The rate of a destination in one period.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PeriodRateView {
    /// The period (timing) it applies in; `always` for a flat rate.
    pub period: String,
    /// The connect fee, an exact decimal as text (at least the currency's decimals).
    pub connect_fee: String,
    /// Its steps.
    pub slots: Vec<SlotView>,
}

/// A prefix of a plan and its destination's rates.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PrefixView {
    /// The plan.
    pub plan: String,
    /// The prefix, digits.
    pub prefix: String,
    /// The destination's name.
    pub destination: String,
    /// ISO 4217.
    pub currency: String,
    /// Its rates by period.
    pub rates: Vec<PeriodRateView>,
}

/// The plans, and a page of their prefixes (plans by name, prefixes in order).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RatesPage {
    /// Every plan.
    pub plans: Vec<PlanView>,
    /// A page of prefixes.
    pub items: Vec<PrefixView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// A priced call and how the price came about.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RateTestView {
    /// The plan that priced it.
    pub plan: String,
    /// The number, normalised (digits).
    pub number: String,
    /// The longest prefix that matched.
    pub prefix: String,
    /// The destination's name.
    pub destination: String,
    /// When the call is answered (RFC 3339).
    pub at: String,
    /// Its duration, seconds.
    pub duration_secs: u32,
    /// The seconds billed (whole increments).
    pub billed_secs: u32,
    /// The connect fee, an exact decimal as text.
    pub connect_fee: String,
    /// The total charged, an exact decimal as text.
    pub total: String,
    /// ISO 4217.
    pub currency: String,
    /// Several lines, as `itsp rate test` prints them.
    pub explanation: String,
}

/// What [`prepare`] decided: the set the files replace, their format, the files to store
/// and the plans of every stored file with them.
#[derive(Debug)]
pub struct Prepared {
    /// The set key: the plan's name, or `cgrates`.
    pub set_key: String,
    /// The files' format.
    pub format: TariffFormat,
    /// The files to store in place of the set's.
    pub files: Vec<TariffFile>,
    /// What the import stores: its result.
    pub result: ImportResult,
}

/// The plans of stored files; a file that does not load is a problem with its lines.
pub fn load(files: &[TariffFile], field: &str) -> Result<Plans, Problem> {
    server::rating::load(files).map_err(|e| billing_problem(e, field))
}

/// Checks an import against the files already stored (`stored`) and decides what to
/// store, imported at `now_ms`; errors name the field (`plan`, `currency`, `utc_offset`,
/// `files`) or list the files' lines (under `files_field`). No I/O.
pub fn prepare(
    import: RateImport,
    stored: Vec<TariffFile>,
    now_ms: i64,
    files_field: &str,
) -> Result<Prepared, Problem> {
    let currency_text = import.currency.as_deref().map(str::trim).unwrap_or("EUR");
    let currency = Currency::new(currency_text)
        .map_err(|e| Problem::invalid("currency", format!("{currency_text:?}: {e}")))?;
    let offset_text = import.utc_offset.as_deref().map(str::trim).unwrap_or("Z");
    let utc_offset: UtcOffset = offset_text
        .parse()
        .map_err(|e: billing::Error| Problem::invalid("utc_offset", e.to_string()))?;
    if import.files.is_empty() {
        return Err(Problem::invalid(
            files_field,
            "no file: upload a tariff CSV",
        ));
    }
    if let Some(f) = import.files.iter().find(|f| f.content.trim().is_empty()) {
        return Err(Problem::invalid(
            files_field,
            format!("{} is empty: upload a tariff CSV", f.name),
        ));
    }
    let plan = import
        .plan
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty());
    let is_cgrates = |name: &str| {
        let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
        cgrates::FILES.contains(&base)
    };
    let cgrates_files = import.files.iter().filter(|f| is_cgrates(&f.name)).count();
    let (set_key, format) = if cgrates_files == 0 {
        if import.files.len() > 1 {
            return Err(Problem::invalid(
                files_field,
                "one native file per plan: import each with its plan",
            ));
        }
        let name = plan.unwrap_or(DEFAULT_PLAN);
        check_plan_name(name)?;
        (name.to_owned(), TariffFormat::Native)
    } else if cgrates_files == import.files.len() {
        if plan.is_some() {
            return Err(Problem::invalid(
                "plan",
                "plan is for a native file: a CGRateS tariff plan names its plans itself",
            ));
        }
        (CGRATES_SET.to_owned(), TariffFormat::Cgrates)
    } else {
        return Err(Problem::invalid(
            files_field,
            "either CGRateS files (Destinations.csv, Rates.csv, ...) or one native file, \
             not both in one import",
        ));
    };
    let files: Vec<TariffFile> = import
        .files
        .into_iter()
        .map(|f| TariffFile {
            set_key: set_key.clone(),
            format,
            name: f.name,
            content: f.content,
            currency: currency.to_string(),
            utc_offset: utc_offset.seconds(),
            imported_ms: now_ms,
        })
        .collect();
    let mut all: Vec<TariffFile> = stored
        .into_iter()
        .filter(|f| f.set_key != set_key)
        .collect();
    all.extend(files.iter().cloned());
    let loaded = load(&all, files_field)?;
    let plans: Vec<_> = loaded
        .rows
        .iter()
        .filter(|r| r.set_key == set_key)
        .collect();
    let result = ImportResult {
        set: set_key.clone(),
        format: format.as_str().to_owned(),
        plans: plans.iter().map(|r| r.name.clone()).collect(),
        prefixes: plans.iter().map(|r| r.prefixes).sum(),
        currency: currency.to_string(),
    };
    Ok(Prepared {
        set_key,
        format,
        files,
        result,
    })
}

/// A plan's name: 1 to 64 letters, digits, `-`, `_`, `.`; not `cgrates`.
fn check_plan_name(name: &str) -> Result<(), Problem> {
    let good = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if !good {
        return Err(Problem::invalid(
            "plan",
            format!("{name:?} is not a plan name: 1 to 64 letters, digits, '-', '_' or '.'"),
        ));
    }
    if name == CGRATES_SET {
        return Err(Problem::invalid(
            "plan",
            format!("{CGRATES_SET} is reserved for CGRateS imports: choose another name"),
        ));
    }
    Ok(())
}

/// A billing error as a problem: an import's errors listed with their places.
fn billing_problem(e: billing::Error, field: &str) -> Problem {
    match e {
        billing::Error::Import(errors) => {
            let list: Vec<LineError> = errors
                .errors()
                .iter()
                .map(|e| LineError {
                    file: e.file.clone(),
                    line: e.line,
                    column: e.column,
                    problem: e.problem.clone(),
                    message: e.to_string(),
                })
                .collect();
            let more = errors.more();
            let count = list.len() + more;
            let detail = format!(
                "{count} error{} in the tariff file{}: nothing was imported{}",
                if count == 1 { "" } else { "s" },
                if list.iter().any(|e| e.file != list[0].file) {
                    "s"
                } else {
                    ""
                },
                if more > 0 {
                    format!(" (the first {} are listed)", list.len())
                } else {
                    String::new()
                }
            );
            Problem::file_errors(field, detail, list)
        }
        other => Problem::invalid(field, other.to_string()),
    }
}

/// Imports tariff files (admins): all or nothing.
pub async fn import(
    state: &AppState,
    caller: &Caller,
    import: RateImport,
    files_field: &str,
) -> Result<ImportResult, Problem> {
    caller.allow(Action::ManageRates)?;
    let store = state.store();
    let stored = store
        .tariff_files()
        .await
        .map_err(|e| Problem::internal(&e))?;
    let prepared = prepare(import, stored, unix_now().saturating_mul(1000), files_field)?;
    store
        .replace_tariff_set(&prepared.set_key, &prepared.files)
        .await
        .map_err(|e| Problem::internal(&e))?;
    tracing::info!(set = %prepared.set_key, format = prepared.format.as_str(),
                   prefixes = prepared.result.prefixes, "tariffs imported in the portal");
    Ok(prepared.result)
}

/// The plans and a page of their prefixes (admins); `plan` narrows to one plan.
pub async fn list(
    state: &AppState,
    caller: &Caller,
    mut fields: HashMap<String, String>,
) -> Result<RatesPage, Problem> {
    caller.allow(Action::ManageRates)?;
    let cursor = fields.remove("cursor").filter(|c| !c.is_empty());
    let limit = fields.remove("limit").filter(|l| !l.is_empty());
    let only = fields.remove("plan").filter(|p| !p.is_empty());
    if let Some(name) = fields.keys().next() {
        return Err(Problem::invalid(
            name,
            "unknown parameter: the parameters are plan, cursor and limit",
        ));
    }
    let limit = page_limit(limit.as_deref(), DEFAULT_PAGE, MAX_PAGE)?;
    let start = match id_cursor(cursor.as_deref())? {
        Some(n) => usize::try_from(n).map_err(|_| {
            Problem::invalid("cursor", "not a cursor this API gave (a next_cursor)")
        })?,
        None => 0,
    };
    let stored = state
        .store()
        .tariff_files()
        .await
        .map_err(|e| Problem::internal(&e))?;
    let loaded = load(&stored, "plan")?;
    if let Some(name) = &only {
        if loaded.plans.plan(name).is_err() {
            return Err(Problem::invalid(
                "plan",
                format!("no rating plan named {name:?}"),
            ));
        }
    }
    Ok(page_of(&loaded, only.as_deref(), start, limit as usize))
}

/// The plans of `loaded` and the prefixes from position `start` (plans by name,
/// prefixes in order), at most `limit`.
pub fn page_of(loaded: &Plans, only: Option<&str>, start: usize, limit: usize) -> RatesPage {
    let plans: Vec<PlanView> = loaded
        .rows
        .iter()
        .map(|r| PlanView {
            name: r.name.clone(),
            format: r.format.as_str().to_owned(),
            currency: r.currency.clone(),
            prefixes: r.prefixes,
            imported: rfc3339_ms(r.imported_ms),
        })
        .collect();
    let mut rows = loaded
        .plans
        .plans()
        .into_iter()
        .filter(|p| only.is_none_or(|o| p.name() == o))
        .flat_map(|p| p.iter().map(move |(prefix, tariff)| (p, prefix, tariff)))
        .skip(start);
    let items: Vec<PrefixView> = rows
        .by_ref()
        .take(limit)
        .map(|(plan, prefix, tariff)| PrefixView {
            plan: plan.name().to_owned(),
            prefix,
            destination: tariff.destination().to_owned(),
            currency: plan.currency().to_string(),
            rates: tariff
                .rates()
                .iter()
                .map(|t| PeriodRateView {
                    period: t.timing.name().to_owned(),
                    connect_fee: format_amount(t.rate.connect_fee(), plan.currency()),
                    slots: t
                        .rate
                        .slots()
                        .iter()
                        .map(|s| SlotView {
                            from_secs: s.from,
                            price: format_amount(s.price, plan.currency()),
                            unit_secs: s.unit,
                            increment_secs: s.increment,
                        })
                        .collect(),
                })
                .collect(),
        })
        .collect();
    let next_cursor = rows
        .next()
        .is_some()
        .then(|| (start + items.len()).to_string());
    RatesPage {
        plans,
        items,
        next_cursor,
    }
}

/// What a rate test asks: `from` (whose plan), `to`, `at` (RFC 3339 or Unix seconds,
/// default now), `duration` (seconds), `plan` (admins: a plan named outright).
#[derive(Debug, Clone, Default)]
pub struct RateQuery {
    /// The caller.
    pub from: Option<Address>,
    /// The number called.
    pub to: String,
    /// When answered, Unix seconds.
    pub at: i64,
    /// Seconds.
    pub duration: u32,
    /// A plan named outright.
    pub plan: Option<String>,
}

impl RateQuery {
    /// From the query parameters (or a form's fields); the problem names the field.
    pub fn from_fields(mut fields: HashMap<String, String>) -> Result<RateQuery, Problem> {
        let mut take = |name: &str| {
            fields
                .remove(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let from = take("from").map(|f| address("from", &f)).transpose()?;
        let plan = take("plan");
        let to = take("to")
            .ok_or_else(|| Problem::invalid("to", "the number called is missing (to=+46812345)"))?;
        let at = match take("at") {
            None => unix_now(),
            Some(t) => t
                .parse::<i64>()
                .ok()
                .or_else(|| billing::clock::parse_rfc3339(&t))
                .ok_or_else(|| {
                    Problem::invalid(
                        "at",
                        format!("{t:?} is not a time: RFC 3339 (2026-12-24T18:00:00+01:00) or Unix seconds"),
                    )
                })?,
        };
        let duration = match take("duration") {
            None => {
                return Err(Problem::invalid(
                    "duration",
                    "the duration in seconds is missing",
                ))
            }
            Some(d) => d
                .parse::<u32>()
                .ok()
                .filter(|d| *d <= 86_400 * 7)
                .ok_or_else(|| {
                    Problem::invalid(
                        "duration",
                        format!("{d:?} is not a number of seconds from 0 to 604800"),
                    )
                })?,
        };
        if from.is_none() && plan.is_none() {
            return Err(Problem::invalid(
                "from",
                "the caller (from=user@domain), whose plan prices the call, is missing",
            ));
        }
        if let Some(name) = fields.keys().next() {
            return Err(Problem::invalid(
                name,
                "unknown parameter: the parameters are from, to, at, duration and plan",
            ));
        }
        Ok(RateQuery {
            from,
            to,
            at,
            duration,
            plan,
        })
    }
}

/// Prices a call: with `plan` (admins), else the caller's plan (their rating profile, else
/// `default`); a subscriber prices their own calls only.
pub async fn test(
    state: &AppState,
    caller: &Caller,
    q: RateQuery,
) -> Result<RateTestView, Problem> {
    match (&q.plan, &q.from) {
        (Some(_), _) => caller.allow(Action::ManageRates)?,
        (None, Some(from)) => caller.allow(Action::Read(from))?,
        (None, None) => return Err(Problem::invalid("from", "the caller is missing")),
    }
    let stored = state
        .store()
        .tariff_files()
        .await
        .map_err(|e| Problem::internal(&e))?;
    let loaded = load(&stored, "plan")?;
    rate_with(&loaded, &q)
}

/// [`test()`]'s pricing over loaded plans (no I/O).
pub fn rate_with(loaded: &Plans, q: &RateQuery) -> Result<RateTestView, Problem> {
    let plans = &loaded.plans;
    let (field, rating) = match (&q.plan, &q.from) {
        (Some(name), _) => (
            "plan",
            plans
                .plan(name)
                .and_then(|p| p.rate(&q.to, q.at, q.duration)),
        ),
        (None, Some(a)) if plans.assignments.lookup(&a.user, &a.domain, q.at).is_some() => (
            "from",
            plans.rate(&a.user, &a.domain, &q.to, q.at, q.duration),
        ),
        (None, _) => (
            "from",
            plans
                .plan(DEFAULT_PLAN)
                .map_err(|_| {
                    billing::Error::Invalid(format!(
                        "no rating profile names this caller and there is no plan \
                         {DEFAULT_PLAN:?}: import one"
                    ))
                })
                .and_then(|p| p.rate(&q.to, q.at, q.duration)),
        ),
    };
    let rating = rating.map_err(|e| match e {
        billing::Error::BadNumber { .. } | billing::Error::NoDestination { .. } => {
            Problem::invalid("to", e.to_string())
        }
        billing::Error::NoRateAt { .. } => Problem::invalid("at", e.to_string()),
        other => Problem::invalid(field, other.to_string()),
    })?;
    Ok(RateTestView {
        plan: rating.plan.to_owned(),
        number: rating.number.to_owned(),
        prefix: rating.prefix.to_owned(),
        destination: rating.destination.to_owned(),
        at: rfc3339_ms(q.at.saturating_mul(1000)),
        duration_secs: rating.duration,
        billed_secs: rating.cost.billed,
        connect_fee: format_amount(rating.cost.connect_fee, rating.currency),
        total: format_amount(rating.cost.total, rating.currency),
        currency: rating.currency.to_string(),
        explanation: rating.to_string().trim_end().to_owned(),
    })
}

/// The import of a request body: JSON ([`RateImport`]), or one native CSV file
/// (`text/csv`) with `plan`, `currency`, `utc_offset` and `name` as query parameters.
fn import_of(
    headers: &HeaderMap,
    mut query: HashMap<String, String>,
    body: &[u8],
) -> Result<RateImport, Problem> {
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
        .unwrap_or_default();
    match media.as_str() {
        "application/json" => {
            if let Some(name) = query.keys().next() {
                return Err(Problem::invalid(
                    name,
                    "with a JSON body the settings are members of the body",
                ));
            }
            parse_json(body)
        }
        "text/csv" | "text/plain" => {
            let content = std::str::from_utf8(body)
                .map_err(|_| Problem::invalid("body", "the CSV is not UTF-8 text"))?
                .to_owned();
            let import = RateImport {
                plan: query.remove("plan"),
                currency: query.remove("currency"),
                utc_offset: query.remove("utc_offset"),
                files: vec![TariffUpload {
                    name: query
                        .remove("name")
                        .unwrap_or_else(|| "rates.csv".to_owned()),
                    content,
                }],
            };
            if let Some(name) = query.keys().next() {
                return Err(Problem::invalid(
                    name,
                    "unknown parameter: the parameters are plan, currency, utc_offset and name",
                ));
            }
            Ok(import)
        }
        _ => Err(Problem::malformed(
            "the body must be JSON (application/json: plan, currency, utc_offset, files) \
             or one native CSV file (text/csv)",
        )),
    }
}

/// Import tariffs (admins): one native CSV file for a plan, or the six files of a
/// CGRateS tariff plan. All or nothing: each error is listed with its file, line and
/// column in `errors`, and nothing is stored. A running server prices calls with the new
/// plans within a second.
#[utoipa::path(post, path = "/api/v1/rates", tag = "rates",
    params(("plan" = Option<String>, Query, description = "text/csv: the plan (default `default`)"),
           ("currency" = Option<String>, Query, description = "text/csv: ISO 4217 (default EUR)"),
           ("utc_offset" = Option<String>, Query, description = "text/csv: Z, +01:00 (default Z)"),
           ("name" = Option<String>, Query, description = "text/csv: the file's name in errors")),
    request_body(content(
        (RateImport = "application/json"),
        (String = "text/csv", example = "prefix,description,connect_fee,rate_per_min,initial,increment\n46,Sweden,0,0.10,60,60\n"),
    )),
    responses(
        (status = 201, description = "stored: the plans it defines", body = ImportResult),
        (status = 400, description = "neither JSON nor CSV", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "a setting is wrong, or the files have errors (listed in `errors` with file:line:column); nothing stored", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn import_rates(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<ImportResult>), Problem> {
    caller.allow(Action::ManageRates)?;
    let new = import_of(&headers, query, &body)?;
    import(&state, &caller, new, "files")
        .await
        .map(|r| (StatusCode::CREATED, Json(r)))
}

/// The rating plans and their prefixes a page at a time (admins).
#[utoipa::path(get, path = "/api/v1/rates", tag = "rates",
    params(("plan" = Option<String>, Query, description = "only this plan's prefixes"),
           ("cursor" = Option<String>, Query, description = "the next_cursor of the previous page"),
           ("limit" = Option<String>, Query, description = "1 to 1000, default 100")),
    responses(
        (status = 200, description = "the plans and a page of prefixes", body = RatesPage),
        (status = 403, description = "not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "a parameter is wrong", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_rates(
    State(state): State<AppState>,
    caller: Caller,
    Query(fields): Query<HashMap<String, String>>,
) -> Result<Json<RatesPage>, Problem> {
    list(&state, &caller, fields).await.map(Json)
}

/// Price a call and explain the price: the prefix matched, the rate of each period, the
/// increments billed, the connect fee, the total. A subscriber prices their own calls
/// (`from` = themselves); `plan` is an admin's.
#[utoipa::path(get, path = "/api/v1/rates/test", tag = "rates",
    params(("from" = Option<String>, Query, description = "the caller, user@domain (whose plan applies)"),
           ("to" = String, Query, description = "the number called (+46812345)"),
           ("at" = Option<String>, Query, description = "when answered: RFC 3339 or Unix seconds (default now)"),
           ("duration" = String, Query, description = "seconds"),
           ("plan" = Option<String>, Query, description = "admins: this plan rather than the caller's")),
    responses(
        (status = 200, description = "the price and its explanation", body = RateTestView),
        (status = 403, description = "plan named by a subscriber", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "from is another subscriber", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "a parameter is wrong, or no plan prices the number", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn test_rate(
    State(state): State<AppState>,
    caller: Caller,
    Query(fields): Query<HashMap<String, String>>,
) -> Result<Json<RateTestView>, Problem> {
    let q = RateQuery::from_fields(fields)?;
    test(&state, &caller, q).await.map(Json)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NATIVE: &str = "prefix,description,connect_fee,rate_per_min,initial,increment\n\
                          46,Sweden,0,0.10,60,60\n468,Stockholm,0.05,0.05,30,6\n";

    fn upload(name: &str, content: &str) -> RateImport {
        RateImport {
            plan: None,
            currency: None,
            utc_offset: None,
            files: vec![TariffUpload {
                name: name.into(),
                content: content.into(),
            }],
        }
    }

    #[test]
    fn a_native_file_becomes_the_default_plan() {
        let p = prepare(upload("rates.csv", NATIVE), vec![], 1000, "files").unwrap();
        assert_eq!(p.set_key, "default");
        assert_eq!(p.result.prefixes, 2);
        assert_eq!(p.result.currency, "EUR");
        assert_eq!(p.files[0].imported_ms, 1000);
    }

    #[test]
    fn errors_list_file_line_and_column_and_name_the_field() {
        let bad = "46,Sweden,0,0.10,60,60\n47,Norway,0,abc,60,60\n48,Poland,0,0.1,0,60\n";
        let e = prepare(upload("bad.csv", bad), vec![], 0, "csv").unwrap_err();
        assert_eq!(e.status, 422);
        assert_eq!(e.field.as_deref(), Some("csv"));
        assert!(e.errors.len() >= 2, "{e:?}");
        assert_eq!(e.errors[0].file, "bad.csv");
        assert_eq!(e.errors[0].line, 2);
        assert!(e.errors[0].message.starts_with("bad.csv:2:"), "{e:?}");
        let mut settings = upload("r.csv", NATIVE);
        settings.currency = Some("euro".into());
        assert_eq!(
            prepare(settings, vec![], 0, "files")
                .unwrap_err()
                .field
                .as_deref(),
            Some("currency")
        );
        let mut settings = upload("r.csv", NATIVE);
        settings.plan = Some("cgrates".into());
        assert_eq!(
            prepare(settings, vec![], 0, "files")
                .unwrap_err()
                .field
                .as_deref(),
            Some("plan")
        );
        let mut settings = upload("r.csv", NATIVE);
        settings.utc_offset = Some("noon".into());
        assert_eq!(
            prepare(settings, vec![], 0, "files")
                .unwrap_err()
                .field
                .as_deref(),
            Some("utc_offset")
        );
    }

    #[test]
    fn pages_follow_the_cursor_and_tests_explain() {
        let p = prepare(upload("rates.csv", NATIVE), vec![], 0, "files").unwrap();
        let loaded = load(&p.files, "plan").unwrap();
        let first = page_of(&loaded, None, 0, 1);
        assert_eq!(first.items.len(), 1);
        assert_eq!(first.items[0].prefix, "46");
        assert_eq!(first.next_cursor.as_deref(), Some("1"));
        let second = page_of(&loaded, None, 1, 1);
        assert_eq!(second.items[0].prefix, "468");
        assert_eq!(second.next_cursor, None);
        let q = RateQuery {
            from: Some(Address::parse("alice@example.com").unwrap()),
            to: "+46812345".into(),
            at: 1_790_000_000,
            duration: 125,
            plan: None,
        };
        let t = rate_with(&loaded, &q).unwrap();
        assert_eq!(t.prefix, "468");
        assert_eq!(t.currency, "EUR");
        assert!(t.explanation.contains("connect fee"), "{}", t.explanation);
        let nowhere = RateQuery {
            to: "+19995551234".into(),
            ..q
        };
        assert_eq!(
            rate_with(&loaded, &nowhere).unwrap_err().field.as_deref(),
            Some("to")
        );
    }
}
