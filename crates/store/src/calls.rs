//! Live calls: the dialogs in progress, as the proxy tracks them, so `itsp calls` (another
//! process, or another node sharing PostgreSQL) can list them. Each proxy node writes its
//! own rows, keyed by (Call-ID, From tag), in batches ([`Store::write_calls`]), and drops
//! them when it restarts ([`Store::clear_calls`]). Times are Unix milliseconds.

use crate::{last_per_key, on_pool, Store, StoreError, ROWS_PER_STATEMENT};

/// The state of a dialog (RFC 3261 §12).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallState {
    /// Ringing: a provisional answer with a To tag, no 2xx yet.
    Early,
    /// Answered: a 2xx was forwarded.
    Confirmed,
}

impl CallState {
    /// The stored name: `early` or `confirmed`.
    pub fn as_str(self) -> &'static str {
        match self {
            CallState::Early => "early",
            CallState::Confirmed => "confirmed",
        }
    }

    fn from_stored(s: &str) -> Result<CallState, StoreError> {
        match s {
            "early" => Ok(CallState::Early),
            "confirmed" => Ok(CallState::Confirmed),
            _ => Err(StoreError::Corrupt("calls.state")),
        }
    }
}

/// A call in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The Call-ID.
    pub call_id: String,
    /// The caller's From tag.
    pub from_tag: String,
    /// The callee's To tag, once known.
    pub to_tag: Option<String>,
    /// Ringing or answered.
    pub state: CallState,
    /// The From URI.
    pub caller: String,
    /// The Request-URI (or To URI) of the INVITE.
    pub callee: String,
    /// The address the INVITE came from.
    pub source_ip: Option<String>,
    /// When the INVITE arrived, Unix milliseconds.
    pub started_ms: i64,
    /// When it was answered, Unix milliseconds.
    pub answered_ms: Option<i64>,
    /// The proxy node that handles the call (its name in the configuration).
    pub node: String,
}

/// One change of [`Store::write_calls`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallWrite {
    /// Insert or replace the call (`call_id`, `from_tag`).
    Upsert(Call),
    /// Delete the call (`call_id`, `from_tag`) if it exists.
    Remove {
        /// The Call-ID.
        call_id: String,
        /// The From tag.
        from_tag: String,
    },
}

impl CallWrite {
    pub(crate) fn key(&self) -> (&str, &str) {
        match self {
            CallWrite::Upsert(c) => (&c.call_id, &c.from_tag),
            CallWrite::Remove { call_id, from_tag } => (call_id, from_tag),
        }
    }
}

#[derive(sqlx::FromRow)]
struct CallRow {
    call_id: String,
    from_tag: String,
    to_tag: Option<String>,
    state: String,
    caller: String,
    callee: String,
    source_ip: Option<String>,
    started_ms: i64,
    answered_ms: Option<i64>,
    node: String,
}

impl TryFrom<CallRow> for Call {
    type Error = StoreError;

    fn try_from(r: CallRow) -> Result<Call, StoreError> {
        Ok(Call {
            state: CallState::from_stored(&r.state)?,
            call_id: r.call_id,
            from_tag: r.from_tag,
            to_tag: r.to_tag,
            caller: r.caller,
            callee: r.callee,
            source_ip: r.source_ip,
            started_ms: r.started_ms,
            answered_ms: r.answered_ms,
            node: r.node,
        })
    }
}

pub(crate) const CALL_COLUMNS: &str =
    "call_id, from_tag, to_tag, state, caller, callee, source_ip, started_ms, answered_ms, node";

pub(crate) const UPSERT_ON_CONFLICT: &str = " ON CONFLICT (call_id, from_tag) DO UPDATE SET
         to_tag = excluded.to_tag, state = excluded.state, caller = excluded.caller,
         callee = excluded.callee, source_ip = excluded.source_ip,
         started_ms = excluded.started_ms, answered_ms = excluded.answered_ms,
         node = excluded.node";

pub(crate) fn check_call(c: &Call) -> Result<(), StoreError> {
    if c.call_id.is_empty() {
        return Err(StoreError::BadCall("empty call_id"));
    }
    if c.caller.is_empty() || c.callee.is_empty() {
        return Err(StoreError::BadCall("empty caller or callee"));
    }
    if c.node.is_empty() {
        return Err(StoreError::BadCall("empty node"));
    }
    Ok(())
}

impl Store {
    /// Applies several call changes in one transaction: all of them or, on error, none. In
    /// one batch the last change of a (Call-ID, From tag) wins.
    pub async fn write_calls(&self, writes: &[CallWrite]) -> Result<(), StoreError> {
        for w in writes {
            if let CallWrite::Upsert(c) = w {
                check_call(c)?;
            }
        }
        let mut upserts = Vec::new();
        let mut removes = Vec::new();
        for w in last_per_key(writes, CallWrite::key) {
            match w {
                CallWrite::Upsert(c) => upserts.push(c),
                CallWrite::Remove { call_id, from_tag } => removes.push((call_id, from_tag)),
            }
        }
        if upserts.is_empty() && removes.is_empty() {
            return Ok(());
        }
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            for chunk in removes.chunks(ROWS_PER_STATEMENT) {
                let mut q =
                    sqlx::QueryBuilder::new("DELETE FROM calls WHERE (call_id, from_tag) IN (");
                q.push_values(chunk, |mut row, (call_id, from_tag)| {
                    row.push_bind(*call_id).push_bind(*from_tag);
                });
                q.push(")");
                q.build().execute(&mut *tx).await?;
            }
            for chunk in upserts.chunks(ROWS_PER_STATEMENT) {
                let mut q = sqlx::QueryBuilder::new(format!("INSERT INTO calls ({CALL_COLUMNS}) "));
                q.push_values(chunk, |mut row, c| {
                    row.push_bind(&c.call_id)
                        .push_bind(&c.from_tag)
                        .push_bind(&c.to_tag)
                        .push_bind(c.state.as_str())
                        .push_bind(&c.caller)
                        .push_bind(&c.callee)
                        .push_bind(&c.source_ip)
                        .push_bind(c.started_ms)
                        .push_bind(c.answered_ms)
                        .push_bind(&c.node);
                });
                q.push(UPSERT_ON_CONFLICT);
                q.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Every call in progress, of every node, oldest first.
    pub async fn calls(&self) -> Result<Vec<Call>, StoreError> {
        let sql =
            format!("SELECT {CALL_COLUMNS} FROM calls ORDER BY started_ms, call_id, from_tag");
        let rows: Vec<CallRow> =
            on_pool!(self, pool => sqlx::query_as(&sql).fetch_all(pool).await?);
        rows.into_iter().map(Call::try_from).collect()
    }

    /// Deletes the calls of `node` (a node that restarts has lost its dialogs); returns how
    /// many.
    pub async fn clear_calls(&self, node: &str) -> Result<u64, StoreError> {
        let n = on_pool!(self, pool => {
            sqlx::query("DELETE FROM calls WHERE node = $1")
                .bind(node)
                .execute(pool)
                .await?
                .rows_affected()
        });
        if n > 0 {
            tracing::info!(node, cleared = n, "stale calls cleared");
        }
        Ok(n)
    }
}
