//! [`BindingWriter`]: the location write-through for one dedicated thread.
//!
//! The registrar commits binding changes in batches (group commit). Through the sqlx pool a
//! batch costs a round trip between the async caller and sqlx's SQLite worker thread for
//! each statement (acquire, BEGIN, each INSERT/DELETE, COMMIT), and each round trip is two
//! thread wake-ups. The writer thread of the server instead owns this blocking writer: on
//! SQLite it holds its own connection to the database file and runs the whole batch there
//! with cached prepared statements, so a batch costs one wake-up to start and one fsync.
//! On PostgreSQL (and for an in-memory SQLite database, which another connection cannot
//! open) it runs [`Store::write_bindings`] on the pool from the calling thread.
//!
//! The connection has the pool's settings: WAL, `synchronous=FULL` (a returned `Ok` means
//! committed and fsynced, see the crate docs), the same busy timeout and foreign keys.

use std::path::PathBuf;

use crate::locations::{check_binding, BindingWrite, UPSERT_ON_CONFLICT};
use crate::{last_per_key, Store, StoreError, SQLITE_BUSY_TIMEOUT};

/// One row's upsert with positional parameters (the columns of `UPSERT_INTO`).
const UPSERT_ONE: &str = "INSERT INTO locations (aor, contact, expires_at, q, call_id, cseq,
         user_agent, received, transport, local_socket, path, instance, reg_id, flags,
         updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)";

const DELETE_ONE: &str = "DELETE FROM locations WHERE aor = ?1 AND contact = ?2";

/// A blocking writer of binding changes; see the module docs. Create it with
/// [`Store::binding_writer`] and use it from one thread that may block (not an async task).
pub struct BindingWriter {
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

impl std::fmt::Debug for BindingWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.backend {
            WriterBackend::Sqlite(_) => "own SQLite connection",
            WriterBackend::Pool { .. } => "the store's pool",
        };
        f.debug_struct("BindingWriter").field("via", &kind).finish()
    }
}

impl Store {
    /// A [`BindingWriter`] for a dedicated thread. `runtime` is the tokio runtime the
    /// store's pool runs on (used for PostgreSQL and in-memory SQLite).
    pub fn binding_writer(
        &self,
        runtime: tokio::runtime::Handle,
    ) -> Result<BindingWriter, StoreError> {
        let backend = match self.sqlite_file() {
            Some(path) => WriterBackend::Sqlite(Box::new(open_connection(&path)?)),
            None => WriterBackend::Pool {
                store: self.clone(),
                runtime,
            },
        };
        Ok(BindingWriter { backend })
    }
}

fn open_connection(path: &PathBuf) -> Result<rusqlite::Connection, StoreError> {
    let conn = rusqlite::Connection::open(path)?;
    conn.busy_timeout(SQLITE_BUSY_TIMEOUT)?;
    // The pool's connection made the file WAL (a property of the file); these two are
    // per connection.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

impl BindingWriter {
    /// Applies the changes in one transaction, like [`Store::write_bindings`]: all or none;
    /// when this returns `Ok` they are committed. Blocks the calling thread.
    pub fn write(&mut self, writes: &[BindingWrite]) -> Result<(), StoreError> {
        match &mut self.backend {
            WriterBackend::Sqlite(conn) => write_sqlite(conn, writes),
            WriterBackend::Pool { store, runtime } => {
                runtime.block_on(store.write_bindings(writes))
            }
        }
    }
}

fn write_sqlite(
    conn: &mut rusqlite::Connection,
    writes: &[BindingWrite],
) -> Result<(), StoreError> {
    for w in writes {
        if let BindingWrite::Upsert(b) = w {
            check_binding(b)?;
        }
    }
    let last = last_per_key(writes, BindingWrite::key);
    if last.is_empty() {
        return Ok(());
    }
    // IMMEDIATE: take the write lock at BEGIN, so a busy database waits (busy_timeout)
    // there rather than failing half-way.
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    {
        let mut upsert = tx.prepare_cached(&format!("{UPSERT_ONE}{UPSERT_ON_CONFLICT}"))?;
        let mut delete = tx.prepare_cached(DELETE_ONE)?;
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
    }
    tx.commit()?;
    Ok(())
}
