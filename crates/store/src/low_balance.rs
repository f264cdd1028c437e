//! Low-balance notices (migration `0016`): which accounts are due one, claimed once per
//! crossing.
//!
//! An account with a threshold ([`crate::Account::low_balance`]) gets one notice when its
//! balance falls below it, and no other until the balance has been at or above it (a
//! top-up) and falls again. The state is in the account's row, so it holds across
//! restarts and between nodes: `low_notified` (a notice was claimed for this crossing) and
//! `low_checked` (the newest ledger entry judged; a new threshold resets it). The balance
//! is decimal text, compared here in Rust, so [`Store::claim_low_balance_notices`] reads
//! only the accounts whose ledger or threshold moved since they were judged (a partial
//! index holds just those) and settles each with one conditional UPDATE: when two nodes
//! judge the same account, one UPDATE changes the row and the other none, and only the
//! one that changed it sends. A claim comes before the e-mail: a crash between the two
//! loses that notice rather than sending it twice.

use rust_decimal::Decimal;

use crate::accounts::stored_decimal;
use crate::{on_pool, Address, Store, StoreError};

/// An account whose balance fell below its threshold, claimed for a notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LowBalanceNotice {
    /// The subscriber.
    pub address: Address,
    /// The balance when it was judged.
    pub balance: Decimal,
    /// The threshold it is below.
    pub threshold: Decimal,
    /// The account's currency.
    pub currency: String,
}

#[derive(sqlx::FromRow)]
struct PendingRow {
    id: i64,
    username: String,
    domain: String,
    balance: String,
    low_balance: String,
    currency: String,
    last_entry: i64,
    low_checked: i64,
    low_notified: i64,
}

/// The accounts to judge; the WHERE terms are those of the partial index
/// `accounts_low_pending`, so both backends read the index alone.
const PENDING: &str = "SELECT a.id, s.username, s.domain, a.balance, a.low_balance, a.currency,
            a.last_entry, a.low_checked, a.low_notified
       FROM accounts a JOIN subscribers s ON s.id = a.subscriber_id
      WHERE a.low_balance IS NOT NULL AND a.last_entry <> a.low_checked
      ORDER BY a.id LIMIT $1";

/// Settles one judged account, if nobody changed it since it was read: `$1` the new
/// `low_notified`, `$2` the `last_entry` judged, then the row's id, `low_checked`,
/// threshold and `low_notified` as read.
const SETTLE: &str = "UPDATE accounts SET low_notified = $1, low_checked = $2
      WHERE id = $3 AND last_entry = $2 AND low_checked = $4 AND low_balance = $5
        AND low_notified = $6";

impl Store {
    /// Judges up to `limit` accounts whose balance or threshold moved since they were last
    /// judged: one below its threshold and not yet notified is claimed and returned; one
    /// at or above it is ready to be notified again. Call it periodically (`itsp serve`
    /// does, when e-mail is on) and send a notice for each answer.
    pub async fn claim_low_balance_notices(
        &self,
        limit: u32,
    ) -> Result<Vec<LowBalanceNotice>, StoreError> {
        let rows: Vec<PendingRow> = on_pool!(self, pool => {
            sqlx::query_as(PENDING)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?
        });
        let mut claimed = Vec::new();
        for r in rows {
            let balance = stored_decimal(&r.balance, "accounts.balance")?;
            let threshold = stored_decimal(&r.low_balance, "accounts.low_balance")?;
            let below = balance < threshold;
            // Below: notified from now on (claimed now, or already); at or above: ready
            // for the next crossing.
            let notified = i64::from(below);
            let changed = on_pool!(self, pool => {
                sqlx::query(SETTLE)
                    .bind(notified)
                    .bind(r.last_entry)
                    .bind(r.id)
                    .bind(r.low_checked)
                    .bind(&r.low_balance)
                    .bind(r.low_notified)
                    .execute(pool)
                    .await?
                    .rows_affected()
            });
            if changed == 1 && below && r.low_notified == 0 {
                let address = Address {
                    user: r.username,
                    domain: r.domain,
                };
                tracing::info!(user = %address, %balance, %threshold, currency = %r.currency, "low balance: notice claimed");
                claimed.push(LowBalanceNotice {
                    address,
                    balance,
                    threshold,
                    currency: r.currency,
                });
            }
        }
        Ok(claimed)
    }
}
