//! The money's consistency check (`itsp account check`): whether every account's ledger,
//! its cached balance and the call records agree, as they must after any crash.
//!
//! The server writes a call's record and the money it moves in one transaction, and the
//! slices a prepaid call takes with the live-call row that a restart closes
//! ([`Store::close_calls`]); [`Store::audit_ledger`] checks the result instead of trusting
//! it, what an operator runs after a `kill -9`, a power loss or a restore:
//!
//! - each account's cached balance is the sum of its ledger, its newest entry is the one
//!   the account names, and each entry's `balance_after` is the one before plus its amount;
//! - the money each call moved (its debits and settlement, or its charge) is what its
//!   record cost: no lost charge, no double charge;
//! - money moved for a call that has no record is a call still running (in the live-call
//!   table), nothing else;
//! - a priced record of an account holder's call made after the account was opened moved
//!   that money (postpaid: its charge; prepaid: its slices).
//!
//! Amounts are added up in Rust as exact decimals; each account's ledger is read a page at
//! a time.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use rust_decimal::Decimal;

use crate::accounts::{folded, stored_decimal};
use crate::{on_pool, Address, Store, StoreError};

/// Ledger entries read at a time.
const PAGE: u32 = 1000;

/// Call-IDs looked up in one query.
const CALL_IDS_PER_QUERY: usize = 500;

/// One disagreement [`Store::audit_ledger`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// The balance cached on the account is not the sum of its ledger.
    BalanceDiffers {
        /// The account's subscriber.
        address: Address,
        /// The cached balance.
        cached: Decimal,
        /// The sum of the ledger's amounts.
        ledger: Decimal,
    },
    /// The newest entry the account names is not its newest entry.
    LastEntryDiffers {
        /// The account's subscriber.
        address: Address,
        /// The id the account names.
        cached: i64,
        /// The id of its newest entry (0: none).
        newest: i64,
    },
    /// An entry's balance after it is not the sum of the amounts up to it (the next
    /// entries are judged against the sum too, so one wrong `balance_after` is one
    /// finding, one wrong amount a finding for each entry after it).
    RunningBalanceBroken {
        /// The account's subscriber.
        address: Address,
        /// The entry's id.
        entry: i64,
        /// The balance before plus the amount.
        expected: Decimal,
        /// What the entry says.
        stored: Decimal,
    },
    /// Money moved for a call that has no record and is not running.
    MoneyWithoutRecord {
        /// The account's subscriber.
        address: Address,
        /// The call.
        call_id: String,
        /// What it took (positive) or gave.
        taken: Decimal,
    },
    /// A call's record costs something else than the money it moved.
    CostDiffers {
        /// The account's subscriber.
        address: Address,
        /// The call.
        call_id: String,
        /// What the ledger took for it.
        taken: Decimal,
        /// What its record (or records) cost; zero when not priced.
        cost: Decimal,
    },
}

impl Finding {
    /// The account it is about.
    pub fn address(&self) -> &Address {
        match self {
            Finding::BalanceDiffers { address, .. }
            | Finding::LastEntryDiffers { address, .. }
            | Finding::RunningBalanceBroken { address, .. }
            | Finding::MoneyWithoutRecord { address, .. }
            | Finding::CostDiffers { address, .. } => address,
        }
    }

    /// A short name for scripts: `balance`, `last_entry`, `running_balance`,
    /// `money_without_record`, `cost`.
    pub fn kind(&self) -> &'static str {
        match self {
            Finding::BalanceDiffers { .. } => "balance",
            Finding::LastEntryDiffers { .. } => "last_entry",
            Finding::RunningBalanceBroken { .. } => "running_balance",
            Finding::MoneyWithoutRecord { .. } => "money_without_record",
            Finding::CostDiffers { .. } => "cost",
        }
    }

    /// The call it is about, if any.
    pub fn call_id(&self) -> Option<&str> {
        match self {
            Finding::MoneyWithoutRecord { call_id, .. } | Finding::CostDiffers { call_id, .. } => {
                Some(call_id)
            }
            _ => None,
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Finding::BalanceDiffers {
                cached, ledger, ..
            } => write!(
                f,
                "the cached balance is {cached} but the ledger sums to {ledger}"
            ),
            Finding::LastEntryDiffers { cached, newest, .. } => write!(
                f,
                "the account names entry {cached} as its newest, the ledger's newest is {newest}"
            ),
            Finding::RunningBalanceBroken {
                entry,
                expected,
                stored,
                ..
            } => write!(
                f,
                "entry {entry} says the balance became {stored}, the entries before it make {expected}"
            ),
            Finding::MoneyWithoutRecord { call_id, taken, .. } => write!(
                f,
                "call {call_id} moved {taken} but has no call record and is not running"
            ),
            Finding::CostDiffers {
                call_id,
                taken,
                cost,
                ..
            } => write!(
                f,
                "call {call_id} took {taken} from the account but its record costs {cost}"
            ),
        }
    }
}

/// What [`Store::audit_ledger`] looked at and found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LedgerAudit {
    /// Accounts checked.
    pub accounts: u64,
    /// Ledger entries read.
    pub entries: u64,
    /// Calls whose money was checked against their records.
    pub calls: u64,
    /// Calls that moved money and are still running (checked when they end).
    pub running: u64,
    /// What disagrees, account by account; empty when all agrees.
    pub findings: Vec<Finding>,
}

impl Store {
    /// Checks every account's ledger against its cached balance and the call records (see
    /// the module docs). Reads only; a finding is reported, never repaired.
    pub async fn audit_ledger(&self) -> Result<LedgerAudit, StoreError> {
        let live: BTreeSet<String> = self.calls().await?.into_iter().map(|c| c.call_id).collect();
        let mut audit = LedgerAudit::default();
        for account in self.accounts().await? {
            audit.accounts += 1;
            let address = folded(&account.address);
            // The ledger, page by page: the running balance and what each call moved.
            let mut moved: BTreeMap<String, Decimal> = BTreeMap::new();
            let mut balance = Decimal::ZERO;
            let mut newest = 0;
            loop {
                let page = self.ledger(&address, Some(newest), PAGE).await?;
                let Some(last) = page.last() else { break };
                newest = last.id;
                for entry in &page {
                    audit.entries += 1;
                    balance = balance
                        .checked_add(entry.amount)
                        .ok_or(StoreError::Corrupt("ledger.amount"))?;
                    if entry.balance_after != balance {
                        audit.findings.push(Finding::RunningBalanceBroken {
                            address: address.clone(),
                            entry: entry.id,
                            expected: balance,
                            stored: entry.balance_after,
                        });
                    }
                    if let Some(call_id) = &entry.call_id {
                        let sum = moved.entry(call_id.clone()).or_default();
                        *sum = sum
                            .checked_add(entry.amount)
                            .ok_or(StoreError::Corrupt("ledger.amount"))?;
                    }
                }
                if page.len() < PAGE as usize {
                    break;
                }
            }
            let ledger_sum = self.ledger_sum(&address).await?;
            if account.balance != ledger_sum {
                audit.findings.push(Finding::BalanceDiffers {
                    address: address.clone(),
                    cached: account.balance,
                    ledger: ledger_sum,
                });
            }
            if account.last_entry != newest {
                audit.findings.push(Finding::LastEntryDiffers {
                    address: address.clone(),
                    cached: account.last_entry,
                    newest,
                });
            }
            // The records of the calls that moved money, and the priced records of this
            // subscriber's calls since the account was opened.
            let ids: Vec<String> = moved.keys().cloned().collect();
            let mut costs = self.record_costs(&ids).await?;
            for (call_id, cost) in self.priced_calls_of(&address, account.created_ms).await? {
                costs.entry(call_id).or_insert(Some(cost));
            }
            for (call_id, cost) in &costs {
                let taken = moved.get(call_id).map_or(Decimal::ZERO, |sum| -*sum);
                match cost {
                    Some(cost) => {
                        audit.calls += 1;
                        if taken != *cost {
                            audit.findings.push(Finding::CostDiffers {
                                address: address.clone(),
                                call_id: call_id.clone(),
                                taken,
                                cost: *cost,
                            });
                        }
                    }
                    None if live.contains(call_id) => audit.running += 1,
                    None => audit.findings.push(Finding::MoneyWithoutRecord {
                        address: address.clone(),
                        call_id: call_id.clone(),
                        taken,
                    }),
                }
            }
        }
        Ok(audit)
    }

    /// The sum of the ledger of the account of `address`, read whole (not through the
    /// running balances, so a broken chain does not hide a wrong total).
    async fn ledger_sum(&self, address: &Address) -> Result<Decimal, StoreError> {
        let amounts: Vec<String> = on_pool!(self, pool => {
            sqlx::query_scalar(
                "SELECT l.amount FROM ledger l JOIN accounts a ON a.id = l.account_id
                   JOIN subscribers s ON s.id = a.subscriber_id
                  WHERE s.username = $1 AND s.domain = $2",
            )
            .bind(&address.user)
            .bind(&address.domain)
            .fetch_all(pool)
            .await?
        });
        amounts.iter().try_fold(Decimal::ZERO, |sum, text| {
            sum.checked_add(stored_decimal(text, "ledger.amount")?)
                .ok_or(StoreError::Corrupt("ledger.amount"))
        })
    }

    /// For each of `call_ids`: the summed cost of its records (an unpriced record counts
    /// zero), or `None` when it has no record.
    async fn record_costs(
        &self,
        call_ids: &[String],
    ) -> Result<BTreeMap<String, Option<Decimal>>, StoreError> {
        let mut costs: BTreeMap<String, Option<Decimal>> =
            call_ids.iter().map(|id| (id.clone(), None)).collect();
        for chunk in call_ids.chunks(CALL_IDS_PER_QUERY) {
            let rows: Vec<(String, Option<String>)> = on_pool!(self, pool => {
                let mut q = sqlx::QueryBuilder::new("SELECT call_id, cost FROM cdrs WHERE call_id IN (");
                let mut ids = q.separated(", ");
                for id in chunk {
                    ids.push_bind(id);
                }
                q.push(")");
                q.build_query_as().fetch_all(pool).await?
            });
            for (call_id, cost) in rows {
                let cost = match cost {
                    Some(text) => stored_decimal(&text, "cdrs.cost")?,
                    None => Decimal::ZERO,
                };
                let sum = costs
                    .entry(call_id)
                    .or_default()
                    .get_or_insert(Decimal::ZERO);
                *sum = sum
                    .checked_add(cost)
                    .ok_or(StoreError::Corrupt("cdrs.cost"))?;
            }
        }
        Ok(costs)
    }

    /// The priced records (a cost other than zero) of the calls `address` made from
    /// `since_ms` on, with their cost summed by Call-ID.
    async fn priced_calls_of(
        &self,
        address: &Address,
        since_ms: i64,
    ) -> Result<BTreeMap<String, Decimal>, StoreError> {
        let rows: Vec<(String, String)> = on_pool!(self, pool => {
            sqlx::query_as(
                "SELECT call_id, cost FROM cdrs
                  WHERE caller_user = $1 AND caller_domain = $2 AND start_ms >= $3
                    AND cost IS NOT NULL",
            )
            .bind(&address.user)
            .bind(&address.domain)
            .bind(since_ms)
            .fetch_all(pool)
            .await?
        });
        let mut priced: BTreeMap<String, Decimal> = BTreeMap::new();
        for (call_id, text) in rows {
            let cost = stored_decimal(&text, "cdrs.cost")?;
            let sum = priced.entry(call_id).or_default();
            *sum = sum
                .checked_add(cost)
                .ok_or(StoreError::Corrupt("cdrs.cost"))?;
        }
        priced.retain(|_, cost| !cost.is_zero());
        Ok(priced)
    }
}
