//! [`Writer`]: the server's write-behind paths (location bindings, live calls, accounting
//! records, call detail records and the ledger entries charged with them) for a dedicated
//! thread.
//!
//! The server commits these in batches (group commit). Through the sqlx pool a batch costs
//! a round trip between the async caller and sqlx's SQLite worker thread for each
//! statement (acquire, BEGIN, each INSERT/DELETE, COMMIT), and each round trip is two thread
//! wake-ups. A writer thread of the server instead owns one of these blocking writers: on
//! SQLite it holds its own connection to the database file and runs the whole batch there
//! with cached prepared statements, so a batch costs one wake-up to start and one fsync.
//! On PostgreSQL (and for an in-memory SQLite database, which another connection cannot
//! open) it runs the pool's method ([`Store::write_bindings`], [`Store::write_calls`],
//! [`Store::record_acc`]) from the calling thread.
//!
//! The connection has the pool's settings (WAL, the same busy timeout, foreign keys) and the
//! [`Durability`] its caller asks for: `synchronous=FULL` as the pool (a returned `Ok` means
//! committed and fsynced, see the crate docs) or `synchronous=NORMAL` (committed to the
//! kernel: survives the process, not a power loss).
//! Each method writes what the pool's method of the same name writes, with the same checks,
//! all or nothing.

use std::path::Path;

use rusqlite::OptionalExtension;

use crate::accounting::{check_event, fold_domain, ACC_COLUMNS};
use crate::accounts::ACCOUNT_FOR_CHANGE;
use crate::calls::{check_call, CALL_COLUMNS, UPSERT_ON_CONFLICT as CALL_ON_CONFLICT};
use crate::cdrs::{check_cdr, CDR_COLUMNS};
use crate::ledger::{Tally, INSERT_ENTRY, UPDATE_BALANCE};
use crate::locations::{check_binding, UPSERT_INTO, UPSERT_ON_CONFLICT as BINDING_ON_CONFLICT};
use crate::{
    last_per_key, AccEvent, BindingWrite, CallWrite, Cdr, LedgerEntry, NewEntry, Store, StoreError,
    SQLITE_BUSY_TIMEOUT,
};

/// The values of one binding's upsert (the columns of `UPSERT_INTO`).
const BINDING_VALUES: &str =
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)";

const DELETE_BINDING: &str = "DELETE FROM locations WHERE aor = ?1 AND contact = ?2";

const DELETE_CALL: &str = "DELETE FROM calls WHERE call_id = ?1 AND from_tag = ?2";

/// A blocking writer; see the module docs. Create it with [`Store::writer`] and use it from
/// one thread that may block (not from an async task).
pub struct Writer {
    backend: WriterBackend,
}

enum WriterBackend {
    /// Our own connection to the SQLite file.
    Sqlite(Box<rusqlite::Connection>),
    /// The pool, driven from this thread on the runtime the store was opened on.
    Pool {
        store: Store,
        runtime: tokio::runtime::Handle,
    },
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let via = match self.backend {
            WriterBackend::Sqlite(_) => "own SQLite connection",
            WriterBackend::Pool { .. } => "the store's pool",
        };
        f.debug_struct("Writer").field("via", &via).finish()
    }
}

/// When a [`Writer`]'s commit on an SQLite file counts as done: SQLite's `synchronous`
/// setting in WAL mode (<https://sqlite.org/pragma.html#pragma_synchronous>). PostgreSQL
/// (and an in-memory database) ignores it: there the database server's own settings
/// (`synchronous_commit`) decide, and a crash of itsp never loses a commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// The commit is in the WAL file when the call returns, in the kernel's page cache: it
    /// survives a crash or `kill -9` of the process, while a power loss or an OS crash may
    /// lose the last commits (`synchronous=NORMAL`; the WAL is fsynced at each
    /// checkpoint, so the database file stays consistent either way).
    Process,
    /// The commit is also fsynced: it survives a power loss or an OS crash too
    /// (`synchronous=FULL`, what the pool uses).
    Disk,
}

impl Durability {
    /// The value of SQLite's `synchronous` pragma.
    fn synchronous(self) -> &'static str {
        match self {
            Durability::Process => "NORMAL",
            Durability::Disk => "FULL",
        }
    }
}

impl Store {
    /// A [`Writer`] for a dedicated thread, its commits as durable as `durability` says.
    /// `runtime` is the tokio runtime the store's pool runs on (used for PostgreSQL and
    /// in-memory SQLite).
    pub fn writer(
        &self,
        runtime: tokio::runtime::Handle,
        durability: Durability,
    ) -> Result<Writer, StoreError> {
        let backend = match self.sqlite_file() {
            Some(path) => WriterBackend::Sqlite(Box::new(open_connection(&path, durability)?)),
            None => WriterBackend::Pool {
                store: self.clone(),
                runtime,
            },
        };
        Ok(Writer { backend })
    }
}

fn open_connection(
    path: &Path,
    durability: Durability,
) -> Result<rusqlite::Connection, StoreError> {
    let conn = rusqlite::Connection::open(path)?;
    conn.busy_timeout(SQLITE_BUSY_TIMEOUT)?;
    // The pool's connection made the file WAL (a property of the file); these two are
    // per connection.
    conn.pragma_update(None, "synchronous", durability.synchronous())?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

impl Writer {
    /// [`Store::write_bindings`]: the changes in one transaction, the last one per (AoR,
    /// Contact) wins. Blocks the calling thread.
    pub fn write_bindings(&mut self, writes: &[BindingWrite]) -> Result<(), StoreError> {
        for w in writes {
            if let BindingWrite::Upsert(b) = w {
                check_binding(b)?;
            }
        }
        let conn = match &mut self.backend {
            WriterBackend::Sqlite(conn) => conn,
            WriterBackend::Pool { store, runtime } => {
                return runtime.block_on(store.write_bindings(writes))
            }
        };
        let last = last_per_key(writes, BindingWrite::key);
        if last.is_empty() {
            return Ok(());
        }
        in_transaction(conn, |tx| {
            let mut upsert = tx.prepare_cached(&format!(
                "{UPSERT_INTO}{BINDING_VALUES}{BINDING_ON_CONFLICT}"
            ))?;
            let mut delete = tx.prepare_cached(DELETE_BINDING)?;
            for w in last {
                match w {
                    BindingWrite::Upsert(b) => {
                        upsert.execute(rusqlite::params![
                            b.aor,
                            b.contact,
                            b.expires_at,
                            i64::from(b.q),
                            b.call_id,
                            i64::from(b.cseq),
                            b.user_agent,
                            b.received,
                            b.transport,
                            b.local_socket,
                            b.path,
                            b.instance,
                            b.reg_id.map(i64::from),
                            i64::from(b.flags),
                            b.updated_at,
                        ])?;
                    }
                    BindingWrite::Remove { aor, contact } => {
                        delete.execute(rusqlite::params![aor, contact])?;
                    }
                }
            }
            Ok(())
        })
    }

    /// [`Store::write_calls`]: live-call changes in one transaction, the last one per
    /// (Call-ID, From tag) wins. Blocks the calling thread.
    pub fn write_calls(&mut self, writes: &[CallWrite]) -> Result<(), StoreError> {
        for w in writes {
            if let CallWrite::Upsert(c) = w {
                check_call(c)?;
            }
        }
        let conn = match &mut self.backend {
            WriterBackend::Sqlite(conn) => conn,
            WriterBackend::Pool { store, runtime } => {
                return runtime.block_on(store.write_calls(writes))
            }
        };
        let last = last_per_key(writes, CallWrite::key);
        if last.is_empty() {
            return Ok(());
        }
        in_transaction(conn, |tx| {
            let mut upsert = tx.prepare_cached(&format!(
                "INSERT INTO calls ({CALL_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10){CALL_ON_CONFLICT}"
            ))?;
            let mut delete = tx.prepare_cached(DELETE_CALL)?;
            for w in last {
                match w {
                    CallWrite::Upsert(c) => {
                        upsert.execute(rusqlite::params![
                            c.call_id,
                            c.from_tag,
                            c.to_tag,
                            c.state.as_str(),
                            c.caller,
                            c.callee,
                            c.source_ip,
                            c.started_ms,
                            c.answered_ms,
                            c.node,
                        ])?;
                    }
                    CallWrite::Remove { call_id, from_tag } => {
                        delete.execute(rusqlite::params![call_id, from_tag])?;
                    }
                }
            }
            Ok(())
        })
    }

    /// [`Store::record_acc`]: accounting events appended in one transaction, in order.
    /// Blocks the calling thread.
    pub fn record_acc(&mut self, events: &[AccEvent]) -> Result<(), StoreError> {
        for e in events {
            check_event(e)?;
        }
        let conn = match &mut self.backend {
            WriterBackend::Sqlite(conn) => conn,
            WriterBackend::Pool { store, runtime } => {
                return runtime.block_on(store.record_acc(events))
            }
        };
        if events.is_empty() {
            return Ok(());
        }
        in_transaction(conn, |tx| {
            let mut insert = tx.prepare_cached(&format!(
                "INSERT INTO acc ({ACC_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
            ))?;
            for e in events {
                insert.execute(rusqlite::params![
                    e.time_ms,
                    e.kind.as_str(),
                    e.method,
                    e.call_id,
                    e.from_tag,
                    e.to_tag,
                    e.code.map(i64::from),
                    e.reason,
                    e.caller_user,
                    fold_domain(&e.caller_domain).as_deref(),
                    e.callee_user,
                    fold_domain(&e.callee_domain).as_deref(),
                    e.source_ip,
                    e.ended_by,
                ])?;
            }
            Ok(())
        })
    }
}

impl Writer {
    /// [`Store::record_cdrs`]: call detail records appended in one transaction, in order.
    /// Blocks the calling thread.
    pub fn record_cdrs(&mut self, cdrs: &[Cdr]) -> Result<(), StoreError> {
        for c in cdrs {
            check_cdr(c)?;
        }
        let conn = match &mut self.backend {
            WriterBackend::Sqlite(conn) => conn,
            WriterBackend::Pool { store, runtime } => {
                return runtime.block_on(store.record_cdrs(cdrs))
            }
        };
        if cdrs.is_empty() {
            return Ok(());
        }
        in_transaction(conn, |tx| insert_cdrs(tx, cdrs))
    }

    /// [`Store::append_ledger`]: ledger entries appended in one transaction, each account's
    /// balance moved with them. Blocks the calling thread.
    pub fn append_ledger(&mut self, entries: &[NewEntry]) -> Result<Vec<LedgerEntry>, StoreError> {
        Tally::new(entries)?;
        let conn = match &mut self.backend {
            WriterBackend::Sqlite(conn) => conn,
            WriterBackend::Pool { store, runtime } => {
                return runtime.block_on(store.append_ledger(entries))
            }
        };
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        in_transaction(conn, |tx| append_entries(tx, entries))
    }

    /// [`Store::record_cdrs_with_ledger`]: call detail records and ledger entries in one
    /// transaction (a call's record and its charge commit together, or neither does), the
    /// recorded calls removed from the live-call list in it. Blocks the calling thread.
    pub fn record_cdrs_with_ledger(
        &mut self,
        cdrs: &[Cdr],
        entries: &[NewEntry],
    ) -> Result<(), StoreError> {
        for c in cdrs {
            check_cdr(c)?;
        }
        Tally::new(entries)?;
        let conn = match &mut self.backend {
            WriterBackend::Sqlite(conn) => conn,
            WriterBackend::Pool { store, runtime } => {
                return runtime.block_on(store.record_cdrs_with_ledger(cdrs, entries))
            }
        };
        if cdrs.is_empty() && entries.is_empty() {
            return Ok(());
        }
        in_transaction(conn, |tx| {
            insert_cdrs(tx, cdrs)?;
            let mut delete = tx.prepare_cached(DELETE_CALL)?;
            for c in cdrs {
                delete.execute(rusqlite::params![c.call_id, c.from_tag])?;
            }
            append_entries(tx, entries).map(drop)
        })
    }
}

impl Writer {
    /// [`Store::record_media`]: the relay's counters put on the records of their calls,
    /// in one transaction. Blocks the calling thread.
    pub fn record_media(&mut self, updates: &[crate::MediaUpdate]) -> Result<(), StoreError> {
        let conn = match &mut self.backend {
            WriterBackend::Sqlite(conn) => conn,
            WriterBackend::Pool { store, runtime } => {
                return runtime.block_on(store.record_media(updates))
            }
        };
        if updates.is_empty() {
            return Ok(());
        }
        in_transaction(conn, |tx| {
            let mut update = tx.prepare_cached(crate::cdrs::UPDATE_MEDIA)?;
            for u in updates {
                update.execute(rusqlite::params![
                    u.media.caller_packets,
                    u.media.caller_lost,
                    u.media.callee_packets,
                    u.media.callee_lost,
                    u.media.bytes,
                    u.media.caller_quality.map(|q| q.jitter_ms()),
                    u.media.caller_quality.map(|q| q.mos()),
                    u.media.callee_quality.map(|q| q.jitter_ms()),
                    u.media.callee_quality.map(|q| q.mos()),
                    u.call_id,
                    u.from_tag,
                ])?;
            }
            Ok(())
        })
    }
}

/// Runs `body` in one transaction and commits it; nothing is kept when it fails.
fn in_transaction<T>(
    conn: &mut rusqlite::Connection,
    body: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    // IMMEDIATE: take the write lock at BEGIN, so a busy database waits (busy_timeout)
    // there rather than failing half-way.
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let done = body(&tx)?;
    tx.commit()?;
    Ok(done)
}

/// Inserts call detail records in `tx`, in order: the rows the pool's `insert_cdrs!`
/// writes.
fn insert_cdrs(tx: &rusqlite::Transaction<'_>, cdrs: &[Cdr]) -> Result<(), StoreError> {
    let mut insert = tx.prepare_cached(&format!(
        "INSERT INTO cdrs ({CDR_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, \
         ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, \
         ?28, ?29, ?30, ?31, ?32, ?33)"
    ))?;
    for c in cdrs {
        insert.execute(rusqlite::params![
            c.call_id,
            c.from_tag,
            c.to_tag,
            c.caller_user,
            fold_domain(&c.caller_domain).as_deref(),
            c.caller_uri,
            c.source_ip,
            c.dialled_uri,
            c.callee_user,
            fold_domain(&c.callee_domain).as_deref(),
            c.answered_by,
            c.start_ms,
            c.answer_ms,
            c.end_ms,
            c.billable_secs(),
            c.disposition.as_str(),
            i64::from(c.code),
            c.reason,
            c.hung_up_by.map(crate::HungUpBy::as_str),
            c.end_reason,
            c.node,
            c.charge.as_ref().map(|x| &x.plan),
            c.charge.as_ref().map(|x| &x.cost),
            c.charge.as_ref().map(|x| &x.currency),
            c.media.map(|m| m.caller_packets),
            c.media.map(|m| m.caller_lost),
            c.media.map(|m| m.callee_packets),
            c.media.map(|m| m.callee_lost),
            c.media.map(|m| m.bytes),
            c.media
                .and_then(|m| m.caller_quality)
                .map(|q| q.jitter_ms()),
            c.media.and_then(|m| m.caller_quality).map(|q| q.mos()),
            c.media
                .and_then(|m| m.callee_quality)
                .map(|q| q.jitter_ms()),
            c.media.and_then(|m| m.callee_quality).map(|q| q.mos()),
        ])?;
    }
    Ok(())
}

/// Appends ledger entries in `tx`: what [`Store::append_ledger`] does, on this connection
/// (the accounts need no row lock: the transaction holds SQLite's write lock).
fn append_entries(
    tx: &rusqlite::Transaction<'_>,
    entries: &[NewEntry],
) -> Result<Vec<LedgerEntry>, StoreError> {
    let (mut tally, addresses) = Tally::new(entries)?;
    let mut account = tx.prepare_cached(ACCOUNT_FOR_CHANGE)?;
    for a in &addresses {
        let row = account
            .query_row(rusqlite::params![a.user, a.domain], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?;
        tally.open(a, row)?;
    }
    let mut insert = tx.prepare_cached(INSERT_ENTRY)?;
    let mut stored = Vec::with_capacity(entries.len());
    for e in entries {
        let (account, after) = tally.post(e)?;
        let id: i64 = insert.query_row(
            rusqlite::params![
                account,
                e.at_ms,
                e.kind.as_str(),
                e.amount.to_string(),
                e.call_id,
                e.note,
                after.to_string(),
            ],
            |r| r.get(0),
        )?;
        stored.push(tally.entered(e, id, after));
    }
    let mut update = tx.prepare_cached(UPDATE_BALANCE)?;
    for (balance, last_entry, account) in tally.updates() {
        update.execute(rusqlite::params![balance, last_entry, account])?;
    }
    Ok(stored)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each durability sets the connection's `synchronous` as documented (NORMAL = 1,
    /// FULL = 2), and the file stays in WAL mode.
    #[test]
    fn durability_sets_synchronous() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("itsp.db");
        {
            let conn = rusqlite::Connection::open(&path).unwrap();
            conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        }
        for (durability, expected) in [(Durability::Process, 1), (Durability::Disk, 2)] {
            let conn = open_connection(&path, durability).unwrap();
            let synchronous: i64 = conn
                .pragma_query_value(None, "synchronous", |r| r.get(0))
                .unwrap();
            assert_eq!(synchronous, expected, "{durability:?}");
            let mode: String = conn
                .pragma_query_value(None, "journal_mode", |r| r.get(0))
                .unwrap();
            assert_eq!(mode, "wal");
        }
    }
}
