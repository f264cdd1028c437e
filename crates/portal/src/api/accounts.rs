//! A subscriber's account: prepaid or postpaid, its balance (an exact decimal kept as an
//! append-only ledger, `store::accounts`), the ledger a page at a time, and top-ups.
//! `/api/v1/subscribers/{address}/account` (read; set up or change the kind, plan and
//! currency with PUT; close with DELETE), `.../account/ledger`, `.../account/topups`.
//! The subscriber reads their own; the rest is the provider's (admins).

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use sip::headers::rfc3339_ms;
use store::{Account, AccountKind, Address, EntryKind, LedgerEntry, NewEntry, StoreError};
use utoipa::ToSchema;

use crate::auth::{Action, Caller};
use crate::problem::{address, id_cursor, page_limit, JsonBody, Problem};
use crate::time::unix_now;
use crate::AppState;

/// Ledger entries per page unless `limit` says otherwise.
pub const DEFAULT_PAGE: u32 = 100;
/// The largest `limit`.
pub const MAX_PAGE: u32 = 1000;

/// An account.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AccountView {
    /// `user@domain`.
    pub address: String,
    /// `prepaid` or `postpaid`.
    pub kind: String,
    /// The rating plan the account names, if any.
    pub plan: Option<String>,
    /// ISO 4217.
    pub currency: String,
    /// The balance, an exact decimal as text.
    pub balance: String,
    /// The low-balance threshold, if set.
    pub low_balance: Option<String>,
}

impl From<Account> for AccountView {
    fn from(a: Account) -> AccountView {
        AccountView {
            address: a.address.to_string(),
            kind: a.kind.as_str().to_owned(),
            plan: a.plan,
            currency: a.currency,
            balance: billing::money::in_cents(a.balance).to_string(),
            low_balance: a
                .low_balance
                .map(|d| billing::money::in_cents(d).to_string()),
        }
    }
}

/// One ledger entry.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LedgerEntryView {
    /// Its position: pass as `cursor` for the entries after it.
    pub id: i64,
    /// When (RFC 3339).
    pub at: String,
    /// `top_up`, `adjustment`, `debit` (a prepaid call's slice), `settlement` (the end of
    /// a prepaid call: refund or rest), `charge` (a postpaid call).
    pub kind: String,
    /// The amount, signed, an exact decimal as text.
    pub amount: String,
    /// The call it belongs to, if any.
    pub call_id: Option<String>,
    /// A note.
    pub note: Option<String>,
    /// The balance after it.
    pub balance_after: String,
}

impl From<LedgerEntry> for LedgerEntryView {
    fn from(e: LedgerEntry) -> LedgerEntryView {
        LedgerEntryView {
            id: e.id,
            at: rfc3339_ms(e.at_ms),
            kind: e.kind.as_str().to_owned(),
            amount: billing::money::in_cents(e.amount).to_string(),
            call_id: e.call_id,
            note: e.note,
            balance_after: billing::money::in_cents(e.balance_after).to_string(),
        }
    }
}

/// A page of ledger entries, oldest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LedgerPage {
    /// The entries.
    pub items: Vec<LedgerEntryView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// A top-up to make.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTopUp {
    /// The amount, a positive decimal as text (`"20.00"`), in the account's currency.
    pub amount: String,
    /// A note (a receipt number).
    pub note: Option<String>,
}

/// An account to open, or the new kind, plan and currency of one.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountSetting {
    /// `prepaid` or `postpaid`.
    pub kind: String,
    /// The rating plan the subscriber's calls are priced with; absent, null or empty:
    /// the default rules.
    pub plan: Option<String>,
    /// ISO 4217 (three capital letters); absent: the account's currency, else EUR. Only
    /// an account with a zero balance changes currency.
    pub currency: Option<String>,
}

/// The currency of an account opened without one.
pub const DEFAULT_CURRENCY: &str = "EUR";

fn no_account(a: &Address) -> Problem {
    Problem::not_found(format!("{a} has no account: their calls are not charged"))
}

/// The account of `a`.
pub async fn get(state: &AppState, caller: &Caller, a: &Address) -> Result<AccountView, Problem> {
    caller.allow(Action::Read(a))?;
    match state.store().account(a).await {
        Ok(Some(account)) => Ok(AccountView::from(account)),
        Ok(None) => Err(no_account(a)),
        Err(e) => Err(Problem::from_store(e, "address")),
    }
}

/// A page of the ledger of `a`.
pub async fn ledger(
    state: &AppState,
    caller: &Caller,
    a: &Address,
    mut fields: HashMap<String, String>,
) -> Result<LedgerPage, Problem> {
    caller.allow(Action::Read(a))?;
    let cursor = fields.remove("cursor").filter(|c| !c.is_empty());
    let limit = fields.remove("limit").filter(|l| !l.is_empty());
    if let Some(name) = fields.keys().next() {
        return Err(Problem::invalid(
            name,
            "unknown parameter: the parameters are cursor and limit",
        ));
    }
    let limit = page_limit(limit.as_deref(), DEFAULT_PAGE, MAX_PAGE)?;
    let after = id_cursor(cursor.as_deref())?;
    let rows = match state.store().ledger(a, after, limit + 1).await {
        Ok(rows) => rows,
        Err(StoreError::NoSuchAccount(_)) => return Err(no_account(a)),
        Err(e) => return Err(Problem::from_store(e, "address")),
    };
    let more = rows.len() > limit as usize;
    let items: Vec<LedgerEntryView> = rows
        .into_iter()
        .take(limit as usize)
        .map(LedgerEntryView::from)
        .collect();
    let next_cursor = if more {
        items.last().map(|e| e.id.to_string())
    } else {
        None
    };
    Ok(LedgerPage { items, next_cursor })
}

/// Tops up the account of `a` (admins).
pub async fn top_up(
    state: &AppState,
    caller: &Caller,
    a: &Address,
    new: NewTopUp,
) -> Result<LedgerEntryView, Problem> {
    caller.allow(Action::MoveMoney(a))?;
    let amount = billing::money::parse_amount(&new.amount)
        .filter(|d| d.is_sign_positive() && !d.is_zero() && d.scale() <= 4)
        .ok_or_else(|| {
            Problem::invalid(
                "amount",
                format!(
                    "{:?} is not a positive amount like \"20.00\" (at most 4 decimals)",
                    new.amount
                ),
            )
        })?;
    let entry = NewEntry {
        address: a.clone(),
        at_ms: unix_now().saturating_mul(1000),
        kind: EntryKind::TopUp,
        amount,
        call_id: None,
        note: new
            .note
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty()),
    };
    match state.store().append_ledger(&[entry]).await {
        Ok(mut stored) => match stored.pop() {
            Some(e) => {
                tracing::info!(account = %a, amount = %e.amount, balance = %e.balance_after, "top-up in the portal");
                Ok(LedgerEntryView::from(e))
            }
            None => Err(Problem::internal(&"the store wrote no entry")),
        },
        Err(StoreError::NoSuchAccount(_)) => Err(no_account(a)),
        Err(e) => Err(Problem::from_store(e, "amount")),
    }
}

/// Opens the account of `a` or changes its kind, plan and currency (admins); the
/// balance and ledger stay.
pub async fn set(
    state: &AppState,
    caller: &Caller,
    a: &Address,
    setting: AccountSetting,
) -> Result<AccountView, Problem> {
    caller.allow(Action::SetAccount(a))?;
    let kind = setting.kind.trim().parse::<AccountKind>().map_err(|_| {
        Problem::invalid(
            "kind",
            format!("{:?} is not prepaid or postpaid", setting.kind),
        )
    })?;
    let plan = setting
        .plan
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty());
    let store = state.store();
    let currency = match setting.currency.as_deref().map(str::trim) {
        Some(c) if !c.is_empty() => c.to_owned(),
        _ => match store.account(a).await {
            Ok(Some(old)) => old.currency,
            Ok(None) => DEFAULT_CURRENCY.to_owned(),
            Err(e) => return Err(Problem::from_store(e, "address")),
        },
    };
    let now_ms = unix_now().saturating_mul(1000);
    match store.set_account(a, kind, plan, &currency, now_ms).await {
        Ok(account) => Ok(AccountView::from(account)),
        Err(StoreError::NoSuchUser(_)) => Err(Problem::not_found(format!("no such user: {a}"))),
        Err(StoreError::BadAccount(reason)) => {
            let field = if reason.starts_with("plan") {
                "plan"
            } else {
                "currency"
            };
            Err(Problem::invalid(field, reason))
        }
        Err(e @ StoreError::AccountNotZero { .. }) => {
            Err(Problem::conflict(Some("currency"), e.to_string()))
        }
        Err(e) => Err(Problem::from_store(e, "address")),
    }
}

/// Closes the account of `a` (admins): only with a zero balance.
pub async fn close(state: &AppState, caller: &Caller, a: &Address) -> Result<(), Problem> {
    caller.allow(Action::SetAccount(a))?;
    match state.store().remove_account(a).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(no_account(a)),
        Err(e @ StoreError::AccountNotZero { .. }) => Err(Problem::conflict(None, e.to_string())),
        Err(e) => Err(Problem::from_store(e, "address")),
    }
}

/// Open a subscriber's account, or change its kind, plan and currency (admins).
#[utoipa::path(put, path = "/api/v1/subscribers/{address}/account", tag = "accounts",
    params(("address" = String, Path, description = "user@domain")),
    request_body = AccountSetting,
    responses(
        (status = 200, description = "the account now", body = AccountView),
        (status = 403, description = "not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such subscriber", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "a new currency for an account whose balance is not zero", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "a bad kind, plan or currency; `field` names it", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn put_account(
    State(state): State<AppState>,
    caller: Caller,
    Path(text): Path<String>,
    JsonBody(setting): JsonBody<AccountSetting>,
) -> Result<Json<AccountView>, Problem> {
    let a = address("address", &text)?;
    set(&state, &caller, &a, setting).await.map(Json)
}

/// Close a subscriber's account with its ledger (admins): only a zero balance.
#[utoipa::path(delete, path = "/api/v1/subscribers/{address}/account", tag = "accounts",
    params(("address" = String, Path, description = "user@domain")),
    responses(
        (status = 204, description = "closed: calls are no longer charged"),
        (status = 403, description = "not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such subscriber, or no account", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "the balance is not zero", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn delete_account(
    State(state): State<AppState>,
    caller: Caller,
    Path(text): Path<String>,
) -> Result<StatusCode, Problem> {
    let a = address("address", &text)?;
    close(&state, &caller, &a)
        .await
        .map(|()| StatusCode::NO_CONTENT)
}

/// A subscriber's account and balance.
#[utoipa::path(get, path = "/api/v1/subscribers/{address}/account", tag = "accounts",
    params(("address" = String, Path, description = "user@domain")),
    responses(
        (status = 200, description = "the account", body = AccountView),
        (status = 404, description = "no such subscriber, not yours, or no account", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_account(
    State(state): State<AppState>,
    caller: Caller,
    Path(text): Path<String>,
) -> Result<Json<AccountView>, Problem> {
    let a = address("address", &text)?;
    get(&state, &caller, &a).await.map(Json)
}

/// The ledger of a subscriber's account: top-ups, adjustments, call debits, settlements
/// and charges, each with the balance after it.
#[utoipa::path(get, path = "/api/v1/subscribers/{address}/account/ledger", tag = "accounts",
    params(("address" = String, Path, description = "user@domain"),
           ("cursor" = Option<String>, Query, description = "the next_cursor of the previous page"),
           ("limit" = Option<String>, Query, description = "1 to 1000, default 100")),
    responses(
        (status = 200, description = "a page of entries, oldest first", body = LedgerPage),
        (status = 404, description = "no such subscriber, not yours, or no account", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "a parameter is wrong", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_ledger(
    State(state): State<AppState>,
    caller: Caller,
    Path(text): Path<String>,
    Query(fields): Query<HashMap<String, String>>,
) -> Result<Json<LedgerPage>, Problem> {
    let a = address("address", &text)?;
    ledger(&state, &caller, &a, fields).await.map(Json)
}

/// Top up a subscriber's account (admins). A prepaid call running on it lasts longer.
#[utoipa::path(post, path = "/api/v1/subscribers/{address}/account/topups", tag = "accounts",
    params(("address" = String, Path, description = "user@domain")),
    request_body = NewTopUp,
    responses(
        (status = 201, description = "the ledger entry, with the balance after it", body = LedgerEntryView),
        (status = 403, description = "not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such subscriber or no account", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "not a positive amount", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_top_up(
    State(state): State<AppState>,
    caller: Caller,
    Path(text): Path<String>,
    JsonBody(new): JsonBody<NewTopUp>,
) -> Result<(StatusCode, Json<LedgerEntryView>), Problem> {
    let a = address("address", &text)?;
    top_up(&state, &caller, &a, new)
        .await
        .map(|e| (StatusCode::CREATED, Json(e)))
}
