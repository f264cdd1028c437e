//! The ledger of an account (migration `0013`): every movement of its money, appended,
//! never changed (deleted only with the account), so it is the account's history and audit.
//!
//! [`LedgerEntry`]s are top-ups and adjustments by people, the slices a prepaid call takes
//! and its settlement, the charges of postpaid calls ([`EntryKind`], each with its rules of
//! sign, Call-ID and note). The account's balance is their sum: cached on the account row
//! and written with every batch of entries, in the batch's transaction, together with the
//! balance after each entry: [`Store::append_ledger`] and, for a call's record and its
//! charge in one commit, [`Store::record_cdrs_with_ledger`] (and the server's
//! [`crate::Writer`] versions of both). The account rows a batch touches are locked first,
//! in address order (`BEGIN IMMEDIATE` on SQLite, `SELECT ... FOR UPDATE` on PostgreSQL),
//! so concurrent batches of several nodes see each other's balances and never deadlock.
//! Amounts are exact [`Decimal`]s, added up in Rust, never in SQL.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;

use crate::accounts::{folded, stored_decimal, ACCOUNT_FOR_CHANGE};
use crate::cdrs::{check_cdr, insert_cdrs};
use crate::{on_pool, Address, Cdr, Store, StoreError};

/// Why money moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryKind {
    /// Money paid in: a positive amount.
    TopUp,
    /// A correction by an administrator: either sign (not zero), with a note saying why.
    Adjustment,
    /// A slice of credit a prepaid call reserved while it ran: negative, with its Call-ID.
    Debit,
    /// The end of a prepaid call: what its debits took too much back (positive), too little
    /// further (negative), or nothing (zero); with its Call-ID.
    Settlement,
    /// What a postpaid call cost: zero or negative, with its Call-ID.
    Charge,
}

impl EntryKind {
    /// Every kind, in the order of the docs.
    pub const ALL: [EntryKind; 5] = [
        EntryKind::TopUp,
        EntryKind::Adjustment,
        EntryKind::Debit,
        EntryKind::Settlement,
        EntryKind::Charge,
    ];

    /// The stored name: `top_up`, `adjustment`, `debit`, `settlement`, `charge`.
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::TopUp => "top_up",
            EntryKind::Adjustment => "adjustment",
            EntryKind::Debit => "debit",
            EntryKind::Settlement => "settlement",
            EntryKind::Charge => "charge",
        }
    }

    /// Money the server did not move itself (top-ups and adjustments): what a running
    /// call's credit learns from the ledger.
    pub fn is_external(self) -> bool {
        matches!(self, EntryKind::TopUp | EntryKind::Adjustment)
    }
}

impl fmt::Display for EntryKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EntryKind {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<EntryKind, StoreError> {
        EntryKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                StoreError::BadAccount(format!(
                    "{s:?} is not a ledger entry kind: top_up, adjustment, debit, settlement or charge"
                ))
            })
    }
}

/// An entry to append with [`Store::append_ledger`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEntry {
    /// The account's subscriber.
    pub address: Address,
    /// When, Unix milliseconds.
    pub at_ms: i64,
    /// Why.
    pub kind: EntryKind,
    /// How much, signed: positive adds to the balance.
    pub amount: Decimal,
    /// The call it belongs to (required for debits, settlements and charges; none for
    /// top-ups).
    pub call_id: Option<String>,
    /// Why, in words (required for adjustments).
    pub note: Option<String>,
}

/// A stored ledger entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    /// Its id, increasing: the cursor of [`Store::ledger`].
    pub id: i64,
    /// The account's subscriber.
    pub address: Address,
    /// When, Unix milliseconds.
    pub at_ms: i64,
    /// Why.
    pub kind: EntryKind,
    /// How much, signed.
    pub amount: Decimal,
    /// The call it belongs to.
    pub call_id: Option<String>,
    /// Why, in words.
    pub note: Option<String>,
    /// The account's balance once this entry counted.
    pub balance_after: Decimal,
}

/// The longest note or Call-ID kept, in bytes.
const MAX_TEXT_BYTES: usize = 1000;

const LEDGER_SELECT: &str =
    "SELECT l.id, s.username, s.domain, l.at_ms, l.kind, l.amount, l.call_id, l.note,
            l.balance_after
       FROM ledger l JOIN accounts a ON a.id = l.account_id
                     JOIN subscribers s ON s.id = a.subscriber_id";

/// One ledger row; answers its id.
pub(crate) const INSERT_ENTRY: &str =
    "INSERT INTO ledger (account_id, at_ms, kind, amount, call_id, note, balance_after)
     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id";

/// The cached balance and newest entry of account `$3`.
pub(crate) const UPDATE_BALANCE: &str =
    "UPDATE accounts SET balance = $1, last_entry = $2 WHERE id = $3";

#[derive(sqlx::FromRow)]
struct LedgerRow {
    id: i64,
    username: String,
    domain: String,
    at_ms: i64,
    kind: String,
    amount: String,
    call_id: Option<String>,
    note: Option<String>,
    balance_after: String,
}

impl TryFrom<LedgerRow> for LedgerEntry {
    type Error = StoreError;

    fn try_from(r: LedgerRow) -> Result<LedgerEntry, StoreError> {
        Ok(LedgerEntry {
            id: r.id,
            address: Address {
                user: r.username,
                domain: r.domain,
            },
            at_ms: r.at_ms,
            kind: r
                .kind
                .parse()
                .map_err(|_| StoreError::Corrupt("ledger.kind"))?,
            amount: stored_decimal(&r.amount, "ledger.amount")?,
            call_id: r.call_id,
            note: r.note,
            balance_after: stored_decimal(&r.balance_after, "ledger.balance_after")?,
        })
    }
}

/// Checks an entry against the rules of its kind (see [`EntryKind`]).
pub(crate) fn check_entry(e: &NewEntry) -> Result<(), StoreError> {
    let bad = |reason: String| StoreError::BadLedgerEntry {
        address: e.address.to_string(),
        reason,
    };
    let amount = e.amount;
    let sign_ok = match e.kind {
        EntryKind::TopUp => amount > Decimal::ZERO,
        EntryKind::Adjustment => !amount.is_zero(),
        EntryKind::Debit => amount < Decimal::ZERO,
        EntryKind::Settlement => true,
        EntryKind::Charge => amount <= Decimal::ZERO,
    };
    if !sign_ok {
        return Err(bad(match e.kind {
            EntryKind::TopUp => format!("a top-up must be positive, not {amount}"),
            EntryKind::Debit => format!("a debit must be negative, not {amount}"),
            EntryKind::Charge => format!("a charge must be zero or negative, not {amount}"),
            EntryKind::Adjustment | EntryKind::Settlement => {
                "an adjustment must not be zero".to_owned()
            }
        }));
    }
    let needs_call = matches!(
        e.kind,
        EntryKind::Debit | EntryKind::Settlement | EntryKind::Charge
    );
    match &e.call_id {
        None if needs_call => return Err(bad(format!("a {} needs its Call-ID", e.kind))),
        Some(_) if e.kind == EntryKind::TopUp => {
            return Err(bad("a top-up belongs to no call".into()))
        }
        Some(c) if c.is_empty() || c.len() > MAX_TEXT_BYTES => {
            return Err(bad(format!(
                "a Call-ID of 1 to {MAX_TEXT_BYTES} bytes expected"
            )))
        }
        _ => {}
    }
    match &e.note {
        None if e.kind == EntryKind::Adjustment => {
            Err(bad("an adjustment needs a note saying why".into()))
        }
        Some(n) if n.trim().is_empty() || n.len() > MAX_TEXT_BYTES => Err(bad(format!(
            "a note of 1 to {MAX_TEXT_BYTES} bytes expected"
        ))),
        _ if e.at_ms < 0 => Err(bad("a time before 1970".into())),
        _ => Ok(()),
    }
}

/// The accounts a batch of entries moves, and their balances as the batch goes: the part
/// of appending that does not depend on how the rows are read and written (the pool's
/// transaction or the writer's own connection).
#[derive(Debug, Default)]
pub(crate) struct Tally {
    accounts: BTreeMap<Address, Open>,
}

#[derive(Debug)]
struct Open {
    id: i64,
    balance: Decimal,
    last_entry: Option<i64>,
}

impl Tally {
    /// Checks every entry; answers the tally and the accounts to lock, in address order
    /// (the order every writer locks in, so two batches may wait for each other but never
    /// deadlock).
    pub(crate) fn new(entries: &[NewEntry]) -> Result<(Tally, Vec<Address>), StoreError> {
        for e in entries {
            check_entry(e)?;
        }
        let mut addresses: Vec<Address> = entries.iter().map(|e| folded(&e.address)).collect();
        addresses.sort();
        addresses.dedup();
        Ok((Tally::default(), addresses))
    }

    /// Takes the row [`ACCOUNT_FOR_CHANGE`] read for `address` (`None`: no account).
    pub(crate) fn open(
        &mut self,
        address: &Address,
        row: Option<(i64, String, String)>,
    ) -> Result<(), StoreError> {
        let (id, balance, _currency) =
            row.ok_or_else(|| StoreError::NoSuchAccount(address.to_string()))?;
        let balance = stored_decimal(&balance, "accounts.balance")?;
        self.accounts.insert(
            address.clone(),
            Open {
                id,
                balance,
                last_entry: None,
            },
        );
        Ok(())
    }

    /// Counts entry `e`: answers the row to insert (account id, balance after).
    pub(crate) fn post(&mut self, e: &NewEntry) -> Result<(i64, Decimal), StoreError> {
        let address = folded(&e.address);
        let open = self
            .accounts
            .get_mut(&address)
            .ok_or_else(|| StoreError::NoSuchAccount(address.to_string()))?;
        open.balance =
            open.balance
                .checked_add(e.amount)
                .ok_or_else(|| StoreError::BadLedgerEntry {
                    address: address.to_string(),
                    reason: format!("the balance plus {} is out of range", e.amount),
                })?;
        Ok((open.id, open.balance))
    }

    /// Notes that `e`'s row was inserted with id `id`; answers the stored entry.
    pub(crate) fn entered(&mut self, e: &NewEntry, id: i64, balance_after: Decimal) -> LedgerEntry {
        let address = folded(&e.address);
        if let Some(open) = self.accounts.get_mut(&address) {
            open.last_entry = Some(id);
        }
        LedgerEntry {
            id,
            address,
            at_ms: e.at_ms,
            kind: e.kind,
            amount: e.amount,
            call_id: e.call_id.clone(),
            note: e.note.clone(),
            balance_after,
        }
    }

    /// The [`UPDATE_BALANCE`] parameters of each account the batch moved.
    pub(crate) fn updates(&self) -> Vec<(String, i64, i64)> {
        self.accounts
            .values()
            .filter_map(|o| Some((o.balance.to_string(), o.last_entry?, o.id)))
            .collect()
    }
}

/// Appends `$entries` (a slice of [`NewEntry`]) in transaction `$tx`, with the accounts
/// locked by `$lock` (the backend's suffix of [`ACCOUNT_FOR_CHANGE`]); evaluates to the
/// stored entries. The body of [`Store::append_ledger`] and
/// [`Store::record_cdrs_with_ledger`], compiled for each backend of `on_pool!`.
macro_rules! append_entries {
    ($tx:ident, $entries:expr, $lock:expr) => {{
        let (mut tally, addresses) = Tally::new($entries)?;
        let lock_sql = format!("{ACCOUNT_FOR_CHANGE}{}", $lock);
        for a in &addresses {
            let row: Option<(i64, String, String)> = sqlx::query_as(&lock_sql)
                .bind(&a.user)
                .bind(&a.domain)
                .fetch_optional(&mut *$tx)
                .await?;
            tally.open(a, row)?;
        }
        let mut stored = Vec::with_capacity($entries.len());
        for e in $entries {
            let (account, after) = tally.post(e)?;
            let id: i64 = sqlx::query_scalar(INSERT_ENTRY)
                .bind(account)
                .bind(e.at_ms)
                .bind(e.kind.as_str())
                .bind(e.amount.to_string())
                .bind(&e.call_id)
                .bind(&e.note)
                .bind(after.to_string())
                .fetch_one(&mut *$tx)
                .await?;
            stored.push(tally.entered(e, id, after));
        }
        for (balance, last_entry, account) in tally.updates() {
            sqlx::query(UPDATE_BALANCE)
                .bind(balance)
                .bind(last_entry)
                .bind(account)
                .execute(&mut *$tx)
                .await?;
        }
        stored
    }};
}

impl Store {
    /// Appends ledger entries in one transaction: all of them or, on error, none. Each is
    /// checked first (the rules of [`EntryKind`]: [`StoreError::BadLedgerEntry`]) and its
    /// account must exist ([`StoreError::NoSuchAccount`]). Each account's balance moves by
    /// the sum of its entries; answers the entries stored, in order, each with its id and
    /// the balance after it.
    pub async fn append_ledger(
        &self,
        entries: &[NewEntry],
    ) -> Result<Vec<LedgerEntry>, StoreError> {
        Tally::new(entries)?;
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        let (begin, lock) = self.money_transaction();
        let stored = on_pool!(self, pool => {
            let mut tx = pool.begin_with(begin).await?;
            let stored = append_entries!(tx, entries, lock);
            tx.commit().await?;
            stored
        });
        Ok(stored)
    }

    /// Appends call detail records and ledger entries in one transaction (a call's record
    /// and its charge commit together, or neither does), with the checks of
    /// [`Store::record_cdrs`] and [`Store::append_ledger`]. A recorded call leaves the
    /// live-call list in the same transaction: a crash can neither lose its record nor
    /// have a restart close it a second time ([`Store::close_calls`]).
    pub async fn record_cdrs_with_ledger(
        &self,
        cdrs: &[Cdr],
        entries: &[NewEntry],
    ) -> Result<(), StoreError> {
        for c in cdrs {
            check_cdr(c)?;
        }
        Tally::new(entries)?;
        if cdrs.is_empty() && entries.is_empty() {
            return Ok(());
        }
        let (begin, lock) = self.money_transaction();
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(begin).await?;
            insert_cdrs!(tx, cdrs);
            for c in cdrs {
                sqlx::query("DELETE FROM calls WHERE call_id = $1 AND from_tag = $2")
                    .bind(&c.call_id)
                    .bind(&c.from_tag)
                    .execute(&mut *tx)
                    .await?;
            }
            append_entries!(tx, entries, lock);
            tx.commit().await?;
        });
        Ok(())
    }

    /// At most `limit` entries of the account of `address`, oldest first, after the one
    /// with id `after` (`None`: from the first). Pass the last id of a page as `after` for
    /// the next. [`StoreError::NoSuchAccount`] when there is no account.
    pub async fn ledger(
        &self,
        address: &Address,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Vec<LedgerEntry>, StoreError> {
        let a = folded(address);
        let sql = format!(
            "{LEDGER_SELECT} WHERE s.username = $1 AND s.domain = $2 AND l.id > $3
              ORDER BY l.id LIMIT $4"
        );
        let rows: Vec<LedgerRow> = on_pool!(self, pool => {
            sqlx::query_as(&sql)
                .bind(&a.user)
                .bind(&a.domain)
                .bind(after.unwrap_or(0))
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?
        });
        if rows.is_empty() && self.account(&a).await?.is_none() {
            return Err(StoreError::NoSuchAccount(a.to_string()));
        }
        rows.into_iter().map(LedgerEntry::try_from).collect()
    }

    /// What the call `call_id` has taken so far: the sum of its debits and settlements
    /// (negative when it took money), zero when it has none.
    pub async fn call_debits(&self, call_id: &str) -> Result<Decimal, StoreError> {
        let amounts: Vec<String> = on_pool!(self, pool => {
            sqlx::query_scalar(
                "SELECT amount FROM ledger
                  WHERE call_id = $1 AND (kind = 'debit' OR kind = 'settlement')",
            )
            .bind(call_id)
            .fetch_all(pool)
            .await?
        });
        let mut sum = Decimal::ZERO;
        for text in &amounts {
            sum = sum
                .checked_add(stored_decimal(text, "ledger.amount")?)
                .ok_or(StoreError::Corrupt("ledger.amount"))?;
        }
        Ok(sum)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(kind: EntryKind, amount: &str) -> NewEntry {
        NewEntry {
            address: Address::parse("alice@example.com").unwrap(),
            at_ms: 1_000,
            kind,
            amount: amount.parse().unwrap(),
            call_id: None,
            note: None,
        }
    }

    #[test]
    fn kinds_round_trip_by_name() {
        for k in EntryKind::ALL {
            assert_eq!(k.as_str().parse::<EntryKind>().ok(), Some(k));
        }
        assert!(EntryKind::TopUp.is_external() && EntryKind::Adjustment.is_external());
        assert!(!EntryKind::Debit.is_external() && !EntryKind::Charge.is_external());
    }

    #[test]
    fn entries_follow_the_rules_of_their_kind() {
        let with_call = |mut e: NewEntry| {
            e.call_id = Some("c1".into());
            e
        };
        let with_note = |mut e: NewEntry| {
            e.note = Some("goodwill".into());
            e
        };
        let ok = [
            entry(EntryKind::TopUp, "0.01"),
            with_note(entry(EntryKind::Adjustment, "-5")),
            with_call(entry(EntryKind::Debit, "-0.10")),
            with_call(entry(EntryKind::Settlement, "0.04")),
            with_call(entry(EntryKind::Settlement, "0")),
            with_call(entry(EntryKind::Charge, "0")),
            with_call(entry(EntryKind::Charge, "-0.89")),
        ];
        for e in &ok {
            assert!(check_entry(e).is_ok(), "{e:?}");
        }
        let bad = [
            (entry(EntryKind::TopUp, "0"), "must be positive"),
            (entry(EntryKind::TopUp, "-1"), "must be positive"),
            (with_call(entry(EntryKind::TopUp, "1")), "no call"),
            (entry(EntryKind::Adjustment, "1"), "needs a note"),
            (with_note(entry(EntryKind::Adjustment, "0")), "not be zero"),
            (entry(EntryKind::Debit, "-1"), "needs its Call-ID"),
            (with_call(entry(EntryKind::Debit, "0")), "must be negative"),
            (
                with_call(entry(EntryKind::Charge, "0.01")),
                "zero or negative",
            ),
            (entry(EntryKind::Settlement, "1"), "needs its Call-ID"),
        ];
        for (e, says) in &bad {
            let err = check_entry(e).unwrap_err().to_string();
            assert!(
                err.contains(says) && err.contains("alice@example.com"),
                "{e:?}: {err}"
            );
        }
    }
}
