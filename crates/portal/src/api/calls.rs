//! Call history: the call detail records (`store::Cdr`), a page at a time after a cursor,
//! with the filters of `itsp cdr list` (missed calls, time, disposition).
//! `/api/v1/subscribers/{address}/calls` (a subscriber's own: calls made and calls to
//! them), `/api/v1/calls` (every record, admins; `user=` narrows to one subscriber). The
//! members are those of `itsp cdr list --json`.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use sip::headers::{parse_time_ms, rfc3339_ms};
use store::{Address, CdrFilter, Disposition, StoredCdr};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Action, Caller};
use crate::problem::{address, id_cursor, page_limit, Problem};
use crate::AppState;

/// Records per page unless `limit` says otherwise.
pub const DEFAULT_PAGE: u32 = 100;
/// The largest `limit`.
pub const MAX_PAGE: u32 = 1000;

/// One call attempt.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CallView {
    /// Its position: pass as `cursor` for the records after it.
    pub id: i64,
    /// The Call-ID.
    pub call_id: String,
    /// When the INVITE arrived (RFC 3339).
    pub start: String,
    /// When it was answered (RFC 3339), if it was.
    pub answer: Option<String>,
    /// When it ended (RFC 3339).
    pub end: String,
    /// Talk time, whole seconds (a started second counts).
    pub billable_secs: i64,
    /// `answered`, `busy`, `no_answer`, `cancelled`, `failed`, `refused`,
    /// `credit_exhausted`.
    pub disposition: String,
    /// The final SIP status.
    pub code: u16,
    /// Its reason phrase.
    pub reason: Option<String>,
    /// `caller`, `callee` or `proxy`.
    pub hung_up_by: Option<String>,
    /// Why the proxy ended it (`timer C`, `restart`, `credit`, `admin`).
    pub end_reason: Option<String>,
    /// The caller's user part.
    pub caller_user: Option<String>,
    /// The caller's domain.
    pub caller_domain: Option<String>,
    /// The From URI.
    pub caller_uri: String,
    /// What was dialled (the Request-URI as received).
    pub dialled_uri: String,
    /// The dialled user part.
    pub callee_user: Option<String>,
    /// The dialled domain.
    pub callee_domain: Option<String>,
    /// Who answered: the Contact of the 2xx.
    pub answered_by: Option<String>,
    /// The rating plan that priced it, if it was priced.
    pub rate_plan: Option<String>,
    /// What it cost, an exact decimal as text.
    pub cost: Option<String>,
    /// The currency of `cost`.
    pub currency: Option<String>,
    /// RTP packets the caller sent to the relay (calls whose media it carried).
    pub caller_packets: Option<i64>,
    /// The caller's packets lost before the relay.
    pub caller_lost: Option<i64>,
    /// RTP packets the callee sent to the relay.
    pub callee_packets: Option<i64>,
    /// The callee's packets lost before the relay.
    pub callee_lost: Option<i64>,
    /// RTP bytes of both.
    pub media_bytes: Option<i64>,
    /// Interarrival jitter of the caller's RTP at the relay, milliseconds.
    pub caller_jitter_ms: Option<f64>,
    /// Estimated MOS (1 to 4.5) of the caller's RTP.
    pub caller_mos: Option<f64>,
    /// Interarrival jitter of the callee's RTP, milliseconds.
    pub callee_jitter_ms: Option<f64>,
    /// Estimated MOS of the callee's RTP.
    pub callee_mos: Option<f64>,
}

impl From<StoredCdr> for CallView {
    fn from(stored: StoredCdr) -> CallView {
        let c = stored.cdr;
        let billable_secs = c.billable_secs();
        let media = c.media;
        let (rate_plan, cost, currency) = match c.charge {
            Some(x) => (Some(x.plan), Some(x.cost), Some(x.currency)),
            None => (None, None, None),
        };
        CallView {
            id: stored.id,
            billable_secs,
            start: rfc3339_ms(c.start_ms),
            answer: c.answer_ms.map(rfc3339_ms),
            end: rfc3339_ms(c.end_ms),
            disposition: c.disposition.as_str().to_owned(),
            code: c.code,
            reason: c.reason,
            hung_up_by: c.hung_up_by.map(|h| h.as_str().to_owned()),
            end_reason: c.end_reason,
            call_id: c.call_id,
            caller_user: c.caller_user,
            caller_domain: c.caller_domain,
            caller_uri: c.caller_uri,
            dialled_uri: c.dialled_uri,
            callee_user: c.callee_user,
            callee_domain: c.callee_domain,
            answered_by: c.answered_by,
            rate_plan,
            cost,
            currency,
            caller_packets: media.map(|m| m.caller_packets),
            caller_lost: media.map(|m| m.caller_lost),
            callee_packets: media.map(|m| m.callee_packets),
            callee_lost: media.map(|m| m.callee_lost),
            media_bytes: media.map(|m| m.bytes),
            caller_jitter_ms: media.and_then(|m| m.caller_quality).map(|q| q.jitter_ms()),
            caller_mos: media.and_then(|m| m.caller_quality).map(|q| q.mos()),
            callee_jitter_ms: media.and_then(|m| m.callee_quality).map(|q| q.jitter_ms()),
            callee_mos: media.and_then(|m| m.callee_quality).map(|q| q.mos()),
        }
    }
}

/// A page of call records, oldest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CallPage {
    /// The records.
    pub items: Vec<CallView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Filters and paging of the call history.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallQuery {
    /// Only the calls this subscriber missed (`true`): dialled to them and not answered.
    pub missed: Option<String>,
    /// Only calls that started at or after this time (RFC 3339, a date, or Unix seconds).
    pub since: Option<String>,
    /// Only calls that started before this time.
    pub until: Option<String>,
    /// Only calls that ended this way (`answered`, `busy`, ...).
    pub disposition: Option<String>,
    /// Only this subscriber's calls (`user@domain`; `/api/v1/calls` only).
    pub user: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Records per page, 1 to 1000 (default 100).
    pub limit: Option<String>,
}

/// The parameters each list takes, for the message about one it does not.
const OWN_PARAMETERS: &str = "missed, since, until, disposition, cursor and limit";
const ALL_PARAMETERS: &str = "user, missed, since, until, disposition, cursor and limit";

impl CallQuery {
    /// From a query string's fields; unknown fields are errors (`user` only where
    /// `with_user`).
    pub fn from_fields(
        mut fields: HashMap<String, String>,
        with_user: bool,
    ) -> Result<CallQuery, Problem> {
        let mut take = |name: &str| fields.remove(name).filter(|v| !v.is_empty());
        let q = CallQuery {
            missed: take("missed"),
            since: take("since"),
            until: take("until"),
            disposition: take("disposition"),
            user: if with_user { take("user") } else { None },
            cursor: take("cursor"),
            limit: take("limit"),
        };
        if let Some(name) = fields.keys().next() {
            let known = if with_user {
                ALL_PARAMETERS
            } else {
                OWN_PARAMETERS
            };
            return Err(Problem::invalid(
                name,
                format!("unknown parameter: the parameters are {known}"),
            ));
        }
        Ok(q)
    }

    /// The store's filter, for the calls of `who` (when given), and the page.
    fn filter(&self, who: Option<Address>) -> Result<(CdrFilter, Option<i64>, u32), Problem> {
        let time = |field: &str, text: &Option<String>| -> Result<Option<i64>, Problem> {
            text.as_deref()
                .map(|t| {
                    parse_time_ms(t).ok_or_else(|| {
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
        let missed = match self.missed.as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(Problem::invalid(
                    "missed",
                    format!("{other:?} is neither true nor false"),
                ))
            }
        };
        let disposition = self
            .disposition
            .as_deref()
            .map(|d| {
                d.parse::<Disposition>().map_err(|_| {
                    let all: Vec<&str> = Disposition::ALL.iter().map(|d| d.as_str()).collect();
                    Problem::invalid(
                        "disposition",
                        format!("{d:?} is not one of {}", all.join(", ")),
                    )
                })
            })
            .transpose()?;
        if missed && who.is_none() {
            return Err(Problem::invalid(
                "missed",
                "whose missed calls: give user as well",
            ));
        }
        let filter = CdrFilter {
            user: if missed { None } else { who.clone() },
            missed_by: if missed { who } else { None },
            since_ms: time("since", &self.since)?,
            until_ms: time("until", &self.until)?,
            disposition,
        };
        let limit = page_limit(self.limit.as_deref(), DEFAULT_PAGE, MAX_PAGE)?;
        let after = id_cursor(self.cursor.as_deref())?;
        Ok((filter, after, limit))
    }
}

/// A page of records that pass `filter`.
async fn page(
    state: &AppState,
    filter: &CdrFilter,
    after: Option<i64>,
    limit: u32,
) -> Result<CallPage, Problem> {
    let (rows, next_cursor) = stored_page(state, filter, after, limit).await?;
    Ok(CallPage {
        items: rows.into_iter().map(CallView::from).collect(),
        next_cursor,
    })
}

/// A page of stored records that pass `filter`, and the cursor of the next.
async fn stored_page(
    state: &AppState,
    filter: &CdrFilter,
    after: Option<i64>,
    limit: u32,
) -> Result<(Vec<StoredCdr>, Option<String>), Problem> {
    let mut rows = state
        .store()
        .cdrs(filter, after, limit + 1)
        .await
        .map_err(|e| Problem::internal(&e))?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next_cursor = if more {
        rows.last().map(|c| c.id.to_string())
    } else {
        None
    };
    Ok((rows, next_cursor))
}

/// The calls of subscriber `a` (made and received, or missed), a page at a time.
pub async fn of(
    state: &AppState,
    caller: &Caller,
    a: &Address,
    query: &CallQuery,
) -> Result<CallPage, Problem> {
    let (filter, after, limit) = own_filter(state, caller, a, query).await?;
    page(state, &filter, after, limit).await
}

/// The checks of a subscriber's history: may read, exists, the filter is good.
async fn own_filter(
    state: &AppState,
    caller: &Caller,
    a: &Address,
    query: &CallQuery,
) -> Result<(CdrFilter, Option<i64>, u32), Problem> {
    caller.allow(Action::Read(a))?;
    let exists = state
        .store()
        .subscriber(&a.user, &a.domain)
        .await
        .map_err(|e| Problem::from_store(e, "address"))?;
    if exists.is_none() {
        return Err(Problem::not_found(format!("no such user: {a}")));
    }
    query.filter(Some(a.clone()))
}

/// The most records one CSV holds.
pub const CSV_MAX: u32 = 100_000;

/// The columns of the CSV, those of `itsp cdr list --csv`.
pub const CSV_COLUMNS: [&str; 23] = [
    "id",
    "call_id",
    "start",
    "answer",
    "end",
    "billable_secs",
    "disposition",
    "code",
    "reason",
    "hung_up_by",
    "end_reason",
    "caller_user",
    "caller_domain",
    "caller_uri",
    "source_ip",
    "dialled_uri",
    "callee_user",
    "callee_domain",
    "answered_by",
    "node",
    "rate_plan",
    "cost",
    "currency",
];

/// The calls of subscriber `a` as CSV (RFC 4180, a header line, times in RFC 3339, the
/// columns of `itsp cdr list --csv`): every record that passes the filters after
/// `cursor`, at most `limit` of them (at most [`CSV_MAX`]).
pub async fn csv_of(
    state: &AppState,
    caller: &Caller,
    a: &Address,
    query: &CallQuery,
) -> Result<String, Problem> {
    let (filter, after, limit) = own_filter(state, caller, a, query).await?;
    csv_rows(state, &filter, after, limit, query).await
}

/// Every call record (admins), or one subscriber's with `user`, as CSV: what
/// [`csv_of`] writes, for the filters of [`all`].
pub async fn csv_all(
    state: &AppState,
    caller: &Caller,
    query: &CallQuery,
) -> Result<String, Problem> {
    let (filter, after, limit) = all_filter(caller, query)?;
    csv_rows(state, &filter, after, limit, query).await
}

/// The CSV of the records that pass `filter` after `after`: `limit` of them when the
/// query sets one, else at most [`CSV_MAX`].
async fn csv_rows(
    state: &AppState,
    filter: &CdrFilter,
    mut after: Option<i64>,
    limit: u32,
    query: &CallQuery,
) -> Result<String, Problem> {
    let mut left = if query.limit.is_some() {
        limit
    } else {
        CSV_MAX
    };
    let mut out = CSV_COLUMNS.join(",");
    out.push_str("\r\n");
    while left > 0 {
        let (rows, next) = stored_page(state, filter, after, left.min(MAX_PAGE)).await?;
        left = left.saturating_sub(u32::try_from(rows.len()).unwrap_or(u32::MAX));
        for r in &rows {
            out.push_str(&csv_line(r));
            out.push_str("\r\n");
        }
        match next {
            Some(_) => after = rows.last().map(|r| r.id),
            None => break,
        }
    }
    Ok(out)
}

/// One record as a CSV line.
fn csv_line(stored: &StoredCdr) -> String {
    let c = &stored.cdr;
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    let charge = |f: fn(&store::Charge) -> &String| {
        c.charge.as_ref().map(|x| f(x).clone()).unwrap_or_default()
    };
    let fields = [
        stored.id.to_string(),
        c.call_id.clone(),
        rfc3339_ms(c.start_ms),
        c.answer_ms.map(rfc3339_ms).unwrap_or_default(),
        rfc3339_ms(c.end_ms),
        c.billable_secs().to_string(),
        c.disposition.as_str().to_owned(),
        c.code.to_string(),
        opt(&c.reason),
        c.hung_up_by
            .map(|h| h.as_str().to_owned())
            .unwrap_or_default(),
        opt(&c.end_reason),
        opt(&c.caller_user),
        opt(&c.caller_domain),
        c.caller_uri.clone(),
        opt(&c.source_ip),
        c.dialled_uri.clone(),
        opt(&c.callee_user),
        opt(&c.callee_domain),
        opt(&c.answered_by),
        c.node.clone(),
        charge(|x| &x.plan),
        charge(|x| &x.cost),
        charge(|x| &x.currency),
    ];
    let quoted: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
    quoted.join(",")
}

/// RFC 4180 §2: a field with a comma, quote or line break is quoted, quotes doubled.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// Every call (admins), or one subscriber's with `user`.
pub async fn all(
    state: &AppState,
    caller: &Caller,
    query: &CallQuery,
) -> Result<CallPage, Problem> {
    let (filter, after, limit) = all_filter(caller, query)?;
    page(state, &filter, after, limit).await
}

/// The checks of the all-records list: an admin, the filter is good.
fn all_filter(
    caller: &Caller,
    query: &CallQuery,
) -> Result<(CdrFilter, Option<i64>, u32), Problem> {
    caller.allow(Action::ListAllCalls)?;
    let who = query
        .user
        .as_deref()
        .map(|u| address("user", u))
        .transpose()?;
    query.filter(who)
}

/// A subscriber's call history: calls made and received, or (`missed=true`) those they
/// missed.
#[utoipa::path(get, path = "/api/v1/subscribers/{address}/calls", tag = "calls",
    params(("address" = String, Path, description = "user@domain"),
           ("missed" = Option<String>, Query, description = "true: only the calls missed"),
           ("since" = Option<String>, Query, description = "started at or after (RFC 3339, date or Unix seconds)"),
           ("until" = Option<String>, Query, description = "started before"),
           ("disposition" = Option<String>, Query, description = "answered, busy, no_answer, cancelled, failed, refused, credit_exhausted"),
           ("cursor" = Option<String>, Query, description = "the next_cursor of the previous page"),
           ("limit" = Option<String>, Query, description = "1 to 1000, default 100")),
    responses(
        (status = 200, description = "a page of records, oldest first", body = CallPage),
        (status = 404, description = "no such subscriber (or not yours)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "a parameter is wrong (`field` names it)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_calls(
    State(state): State<AppState>,
    caller: Caller,
    Path(text): Path<String>,
    Query(fields): Query<HashMap<String, String>>,
) -> Result<Json<CallPage>, Problem> {
    let a = address("address", &text)?;
    let query = CallQuery::from_fields(fields, false)?;
    of(&state, &caller, &a, &query).await.map(Json)
}

/// A subscriber's call history as CSV (the columns of `itsp cdr list --csv`): every
/// record that passes the filters (at most 100,000, or `limit`).
#[utoipa::path(get, path = "/api/v1/subscribers/{address}/calls.csv", tag = "calls",
    params(("address" = String, Path, description = "user@domain"),
           ("missed" = Option<String>, Query, description = "true: only the calls missed"),
           ("since" = Option<String>, Query, description = "started at or after (RFC 3339, date or Unix seconds)"),
           ("until" = Option<String>, Query, description = "started before"),
           ("disposition" = Option<String>, Query, description = "answered, busy, no_answer, cancelled, failed, refused, credit_exhausted"),
           ("cursor" = Option<String>, Query, description = "start after this record"),
           ("limit" = Option<String>, Query, description = "at most this many records, 1 to 1000")),
    responses(
        (status = 200, description = "a header line, then the records, oldest first", content_type = "text/csv"),
        (status = 404, description = "no such subscriber (or not yours)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "a parameter is wrong (`field` names it)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_calls_csv(
    State(state): State<AppState>,
    caller: Caller,
    Path(text): Path<String>,
    Query(fields): Query<HashMap<String, String>>,
) -> Result<axum::response::Response, Problem> {
    let a = address("address", &text)?;
    let query = CallQuery::from_fields(fields, false)?;
    let body = csv_of(&state, &caller, &a, &query).await?;
    Ok(csv_response(body))
}

/// A CSV answer, as a download named `calls.csv`.
pub fn csv_response(body: String) -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        [
            (
                axum::http::header::CONTENT_TYPE,
                "text/csv; charset=utf-8; header=present",
            ),
            (
                axum::http::header::CONTENT_DISPOSITION,
                "attachment; filename=\"calls.csv\"",
            ),
        ],
        body,
    )
        .into_response()
}

/// Every call record (admins).
#[utoipa::path(get, path = "/api/v1/calls", tag = "calls",
    params(CallQuery),
    responses(
        (status = 200, description = "a page of records, oldest first", body = CallPage),
        (status = 403, description = "not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "a parameter is wrong (`field` names it)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_all_calls(
    State(state): State<AppState>,
    caller: Caller,
    Query(fields): Query<HashMap<String, String>>,
) -> Result<Json<CallPage>, Problem> {
    let query = CallQuery::from_fields(fields, true)?;
    all(&state, &caller, &query).await.map(Json)
}
