//! Accounts (migration `0013`): what billing charges a subscriber to.
//!
//! A subscriber has no account (calls are free) or one [`Account`]: prepaid (calls are
//! authorised against the balance and cut when it runs out) or postpaid (calls are charged
//! and invoiced), in one currency, rated with a plan. The balance moves only with entries
//! of the account's ledger (`ledger.rs`), of which it is the cached sum; here are the
//! account's own settings, opened, changed, listed and closed (at a zero balance only, so
//! no money disappears unrecorded). An account goes with its subscriber, as the
//! subscriber's preferences and voicemail do.
//!
//! Amounts are [`Decimal`]s, stored as their exact text (`0.30`), never floats; the store
//! adds them up in Rust, never in SQL.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;

use crate::accounting::fold_host;
use crate::{on_pool, Address, Backend, Store, StoreError};

/// How an account pays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccountKind {
    /// Calls are authorised against the balance and ended when it runs out.
    Prepaid,
    /// Calls are charged to the account and invoiced.
    Postpaid,
}

impl AccountKind {
    /// The stored name: `prepaid` or `postpaid`.
    pub fn as_str(self) -> &'static str {
        match self {
            AccountKind::Prepaid => "prepaid",
            AccountKind::Postpaid => "postpaid",
        }
    }
}

impl fmt::Display for AccountKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AccountKind {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<AccountKind, StoreError> {
        match s {
            "prepaid" => Ok(AccountKind::Prepaid),
            "postpaid" => Ok(AccountKind::Postpaid),
            _ => Err(StoreError::BadAccount(format!(
                "{s:?} is not an account kind: prepaid or postpaid"
            ))),
        }
    }
}

/// A subscriber's account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The subscriber.
    pub address: Address,
    /// Prepaid or postpaid.
    pub kind: AccountKind,
    /// The rating plan the subscriber's calls are priced with (`None`: the default rules).
    pub plan: Option<String>,
    /// The currency of the balance (ISO 4217: three capital letters).
    pub currency: String,
    /// The sum of the ledger's amounts.
    pub balance: Decimal,
    /// Below this balance the subscriber is to be told (stored here; the notice is sent by
    /// the server).
    pub low_balance: Option<Decimal>,
    /// The id of the account's newest ledger entry, 0 before the first.
    pub last_entry: i64,
    /// When the account was opened, Unix milliseconds.
    pub created_ms: i64,
}

/// The longest plan name, in bytes.
const MAX_PLAN_BYTES: usize = 100;

const ACCOUNT_SELECT: &str =
    "SELECT s.username, s.domain, a.kind, a.plan, a.currency, a.balance, a.low_balance,
            a.last_entry, a.created_ms
       FROM accounts a JOIN subscribers s ON s.id = a.subscriber_id";

/// The account of `$1@$2` (its id, balance, currency) to change; the backend adds its lock.
pub(crate) const ACCOUNT_FOR_CHANGE: &str = "SELECT a.id, a.balance, a.currency
       FROM accounts a JOIN subscribers s ON s.id = a.subscriber_id
      WHERE s.username = $1 AND s.domain = $2";

#[derive(sqlx::FromRow)]
struct AccountRow {
    username: String,
    domain: String,
    kind: String,
    plan: Option<String>,
    currency: String,
    balance: String,
    low_balance: Option<String>,
    last_entry: i64,
    created_ms: i64,
}

impl TryFrom<AccountRow> for Account {
    type Error = StoreError;

    fn try_from(r: AccountRow) -> Result<Account, StoreError> {
        Ok(Account {
            address: Address {
                user: r.username,
                domain: r.domain,
            },
            kind: r
                .kind
                .parse()
                .map_err(|_| StoreError::Corrupt("accounts.kind"))?,
            plan: r.plan,
            currency: r.currency,
            balance: stored_decimal(&r.balance, "accounts.balance")?,
            low_balance: r
                .low_balance
                .as_deref()
                .map(|t| stored_decimal(t, "accounts.low_balance"))
                .transpose()?,
            last_entry: r.last_entry,
            created_ms: r.created_ms,
        })
    }
}

/// A stored amount; `column` names it when it is not a decimal.
pub(crate) fn stored_decimal(text: &str, column: &'static str) -> Result<Decimal, StoreError> {
    Decimal::from_str(text).map_err(|_| StoreError::Corrupt(column))
}

/// `a` with its domain folded as the subscribers table keeps it.
pub(crate) fn folded(a: &Address) -> Address {
    Address {
        user: a.user.clone(),
        domain: fold_host(&a.domain).into_owned(),
    }
}

pub(crate) fn check_currency(currency: &str) -> Result<(), StoreError> {
    if currency.len() == 3 && currency.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(())
    } else {
        Err(StoreError::BadAccount(format!(
            "currency {currency:?}: an ISO 4217 code of three capital letters expected"
        )))
    }
}

fn check_plan(plan: Option<&str>) -> Result<(), StoreError> {
    match plan {
        Some(p) if p.is_empty() || p.len() > MAX_PLAN_BYTES || p.chars().any(char::is_control) => {
            Err(StoreError::BadAccount(format!(
                "plan name {p:?}: 1 to {MAX_PLAN_BYTES} bytes without control characters"
            )))
        }
        _ => Ok(()),
    }
}

impl Store {
    /// How this backend starts a transaction that changes balances, and the suffix that
    /// locks the account rows it reads: SQLite takes the database's write lock at once
    /// (`BEGIN IMMEDIATE`: a reader that turns writer could fail when another writer came
    /// first), PostgreSQL locks the rows (`FOR UPDATE`).
    pub(crate) fn money_transaction(&self) -> (&'static str, &'static str) {
        match self.backend {
            Backend::Sqlite(_) => ("BEGIN IMMEDIATE", ""),
            Backend::Postgres(_) => ("BEGIN", " FOR UPDATE OF a"),
        }
    }

    /// Opens an account for the subscriber `address`, or changes its kind, plan and
    /// currency (the balance and ledger stay). The currency of an account whose balance
    /// is not zero cannot change ([`StoreError::AccountNotZero`]). [`StoreError::NoSuchUser`]
    /// without such a subscriber.
    pub async fn set_account(
        &self,
        address: &Address,
        kind: AccountKind,
        plan: Option<&str>,
        currency: &str,
        now_ms: i64,
    ) -> Result<Account, StoreError> {
        check_currency(currency)?;
        check_plan(plan)?;
        let a = folded(address);
        let (begin, lock) = self.money_transaction();
        let lock_sql = format!("{ACCOUNT_FOR_CHANGE}{lock}");
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(begin).await?;
            let created = sqlx::query(
                "INSERT INTO accounts
                     (subscriber_id, kind, plan, currency, balance, last_entry, created_ms)
                 SELECT id, $3, $4, $5, '0', 0, $6 FROM subscribers
                  WHERE username = $1 AND domain = $2
                 ON CONFLICT (subscriber_id) DO NOTHING",
            )
            .bind(&a.user)
            .bind(&a.domain)
            .bind(kind.as_str())
            .bind(plan)
            .bind(currency)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if created == 0 {
                let row: Option<(i64, String, String)> = sqlx::query_as(&lock_sql)
                    .bind(&a.user)
                    .bind(&a.domain)
                    .fetch_optional(&mut *tx)
                    .await?;
                let Some((id, balance, old_currency)) = row else {
                    return Err(StoreError::NoSuchUser(a.to_string()));
                };
                let balance = stored_decimal(&balance, "accounts.balance")?;
                if old_currency != currency && !balance.is_zero() {
                    return Err(StoreError::AccountNotZero {
                        action: "change the currency of",
                        address: a.to_string(),
                        balance,
                        currency: old_currency,
                    });
                }
                sqlx::query("UPDATE accounts SET kind = $1, plan = $2, currency = $3 WHERE id = $4")
                    .bind(kind.as_str())
                    .bind(plan)
                    .bind(currency)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        tracing::info!(user = %a, kind = kind.as_str(), plan, currency, "account set");
        self.account(&a)
            .await?
            .ok_or_else(|| StoreError::NoSuchAccount(a.to_string()))
    }

    /// The account of `address`; `None` when it has none (or there is no such subscriber).
    pub async fn account(&self, address: &Address) -> Result<Option<Account>, StoreError> {
        let a = folded(address);
        let sql = format!("{ACCOUNT_SELECT} WHERE s.username = $1 AND s.domain = $2");
        let row: Option<AccountRow> = on_pool!(self, pool => {
            sqlx::query_as(&sql)
                .bind(&a.user)
                .bind(&a.domain)
                .fetch_optional(pool)
                .await?
        });
        row.map(Account::try_from).transpose()
    }

    /// Every account, by domain and user.
    pub async fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        let sql = format!("{ACCOUNT_SELECT} ORDER BY s.domain, s.username");
        let rows: Vec<AccountRow> = on_pool!(self, pool => {
            sqlx::query_as(&sql).fetch_all(pool).await?
        });
        rows.into_iter().map(Account::try_from).collect()
    }

    /// Closes the account of `address` with its ledger; `Ok(false)` if it had none. Only a
    /// zero balance is closed ([`StoreError::AccountNotZero`]): bring it to zero with an
    /// adjustment first, so the money's way stays on record until then.
    pub async fn remove_account(&self, address: &Address) -> Result<bool, StoreError> {
        let a = folded(address);
        let (begin, lock) = self.money_transaction();
        let lock_sql = format!("{ACCOUNT_FOR_CHANGE}{lock}");
        let removed = on_pool!(self, pool => {
            let mut tx = pool.begin_with(begin).await?;
            let row: Option<(i64, String, String)> = sqlx::query_as(&lock_sql)
                .bind(&a.user)
                .bind(&a.domain)
                .fetch_optional(&mut *tx)
                .await?;
            match row {
                None => false,
                Some((id, balance, currency)) => {
                    let balance = stored_decimal(&balance, "accounts.balance")?;
                    if !balance.is_zero() {
                        return Err(StoreError::AccountNotZero {
                            action: "remove",
                            address: a.to_string(),
                            balance,
                            currency,
                        });
                    }
                    sqlx::query("DELETE FROM ledger WHERE account_id = $1")
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query("DELETE FROM accounts WHERE id = $1")
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    true
                }
            }
        });
        if removed {
            tracing::info!(user = %a, "account removed");
        } else {
            self.ensure_subscriber(&a).await?;
        }
        Ok(removed)
    }

    /// Sets (or with `None` clears) the balance below which the subscriber is to be told.
    /// [`StoreError::NoSuchAccount`] when there is no account.
    pub async fn set_low_balance(
        &self,
        address: &Address,
        threshold: Option<Decimal>,
    ) -> Result<(), StoreError> {
        if threshold.is_some_and(|t| t.is_sign_negative() && !t.is_zero()) {
            return Err(StoreError::BadAccount(
                "a low-balance threshold must not be negative".into(),
            ));
        }
        let a = folded(address);
        let n = on_pool!(self, pool => {
            sqlx::query(
                // low_checked = -1: the balance is judged again against the new threshold
                // (low_balance.rs).
                "UPDATE accounts SET low_balance = $3, low_checked = -1 WHERE subscriber_id =
                   (SELECT id FROM subscribers WHERE username = $1 AND domain = $2)",
            )
            .bind(&a.user)
            .bind(&a.domain)
            .bind(threshold.map(|t| t.to_string()))
            .execute(pool)
            .await?
            .rows_affected()
        });
        if n == 0 {
            return Err(StoreError::NoSuchAccount(a.to_string()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_by_name() {
        for k in [AccountKind::Prepaid, AccountKind::Postpaid] {
            assert_eq!(k.to_string().parse::<AccountKind>().ok(), Some(k));
        }
        assert!("credit".parse::<AccountKind>().is_err());
    }
}
