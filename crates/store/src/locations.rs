//! Location bindings (Kamailio `usrloc`): what a REGISTER stored (RFC 3261 §10.3).
//!
//! The server keeps the location index in memory and writes every change through here, so
//! it can rebuild the index with [`Store::all_bindings`] at start. A binding is keyed by
//! (AoR, Contact URI); the AoR is the canonical `user@domain` ([`crate::Address::aor`]).
//! Times are Unix seconds passed in by the caller.

use crate::{last_per_key, on_pool, Store, StoreError, ROWS_PER_STATEMENT};

/// Bits of [`Binding::flags`].
pub mod flags {
    /// The contact is behind NAT (its Contact or Via differs from the source address).
    pub const NAT: u32 = 1;
}

/// One registered contact of an address of record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// The address of record, `user@domain`.
    pub aor: String,
    /// The Contact URI as registered.
    pub contact: String,
    /// When the binding lapses, Unix seconds.
    pub expires_at: i64,
    /// The `q` value in thousandths, 0 to 1000 (RFC 3261 §20.10).
    pub q: u16,
    /// Call-ID of the REGISTER that wrote it (RFC 3261 §10.3 step 7).
    pub call_id: String,
    /// CSeq number of that REGISTER.
    pub cseq: u32,
    /// User-Agent of the registering device, empty if it sent none.
    pub user_agent: String,
    /// The source address the REGISTER came from, `ip:port`.
    pub received: String,
    /// The transport it came over (`udp`, `tcp`, `tls`, `ws`, ...).
    pub transport: String,
    /// The local socket it arrived on (e.g. `udp:203.0.113.1:5060`), to send back through.
    pub local_socket: String,
    /// The Path header values (RFC 3327), if any.
    pub path: Option<String>,
    /// `+sip.instance` (RFC 5626), if any.
    pub instance: Option<String>,
    /// `reg-id` (RFC 5626), if any.
    pub reg_id: Option<u32>,
    /// [`flags`] bits.
    pub flags: u32,
    /// When the binding was last written, Unix seconds.
    pub updated_at: i64,
}

#[derive(sqlx::FromRow)]
struct BindingRow {
    aor: String,
    contact: String,
    expires_at: i64,
    q: i64,
    call_id: String,
    cseq: i64,
    user_agent: String,
    received: String,
    transport: String,
    local_socket: String,
    path: Option<String>,
    instance: Option<String>,
    reg_id: Option<i64>,
    flags: i64,
    updated_at: i64,
}

impl TryFrom<BindingRow> for Binding {
    type Error = StoreError;

    fn try_from(r: BindingRow) -> Result<Binding, StoreError> {
        let q = u16::try_from(r.q)
            .ok()
            .filter(|q| *q <= 1000)
            .ok_or(StoreError::Corrupt("locations.q"))?;
        let reg_id = r
            .reg_id
            .map(u32::try_from)
            .transpose()
            .map_err(|_| StoreError::Corrupt("locations.reg_id"))?;
        Ok(Binding {
            aor: r.aor,
            contact: r.contact,
            expires_at: r.expires_at,
            q,
            call_id: r.call_id,
            cseq: u32::try_from(r.cseq).map_err(|_| StoreError::Corrupt("locations.cseq"))?,
            user_agent: r.user_agent,
            received: r.received,
            transport: r.transport,
            local_socket: r.local_socket,
            path: r.path,
            instance: r.instance,
            reg_id,
            flags: u32::try_from(r.flags).map_err(|_| StoreError::Corrupt("locations.flags"))?,
            updated_at: r.updated_at,
        })
    }
}

const BINDING_SELECT: &str = "SELECT aor, contact, expires_at, q, call_id, cseq, user_agent,
       received, transport, local_socket, path, instance, reg_id, flags, updated_at
     FROM locations";

/// One change of [`Store::write_bindings`]. Short-lived, so the size difference of the
/// variants does not matter.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)]
pub enum BindingWrite {
    /// Insert or replace the binding (`aor`, `contact`).
    Upsert(Binding),
    /// Delete the binding (`aor`, `contact`) if it exists.
    Remove {
        /// The address of record.
        aor: String,
        /// The Contact URI exactly as stored.
        contact: String,
    },
}

pub(crate) const UPSERT_INTO: &str =
    "INSERT INTO locations (aor, contact, expires_at, q, call_id, cseq,
         user_agent, received, transport, local_socket, path, instance, reg_id, flags,
         updated_at) ";

pub(crate) const UPSERT_ON_CONFLICT: &str = " ON CONFLICT (aor, contact) DO UPDATE SET
         expires_at = excluded.expires_at, q = excluded.q,
         call_id = excluded.call_id, cseq = excluded.cseq,
         user_agent = excluded.user_agent, received = excluded.received,
         transport = excluded.transport, local_socket = excluded.local_socket,
         path = excluded.path, instance = excluded.instance,
         reg_id = excluded.reg_id, flags = excluded.flags,
         updated_at = excluded.updated_at";

impl BindingWrite {
    pub(crate) fn key(&self) -> (&str, &str) {
        match self {
            BindingWrite::Upsert(b) => (&b.aor, &b.contact),
            BindingWrite::Remove { aor, contact } => (aor, contact),
        }
    }
}

pub(crate) fn check_binding(b: &Binding) -> Result<(), StoreError> {
    if b.aor.is_empty() {
        return Err(StoreError::BadBinding("empty aor"));
    }
    if b.contact.is_empty() {
        return Err(StoreError::BadBinding("empty contact"));
    }
    if b.q > 1000 {
        return Err(StoreError::BadBinding("q above 1000"));
    }
    Ok(())
}

fn collect(rows: Vec<BindingRow>) -> Result<Vec<Binding>, StoreError> {
    rows.into_iter().map(Binding::try_from).collect()
}

impl Store {
    /// Inserts or replaces the binding (`aor`, `contact`). When this returns `Ok` the
    /// binding is committed and survives a crash of the process (see the crate docs).
    pub async fn upsert_binding(&self, b: &Binding) -> Result<(), StoreError> {
        self.write_bindings(std::slice::from_ref(&BindingWrite::Upsert(b.clone())))
            .await
    }

    /// Applies several binding changes in one database transaction: all of them or, on
    /// error, none. The registrar's write-through batches concurrent REGISTERs this way, so
    /// one commit (one fsync on SQLite) acknowledges many. When this returns `Ok` every
    /// change is committed.
    pub async fn write_bindings(&self, writes: &[BindingWrite]) -> Result<(), StoreError> {
        for w in writes {
            if let BindingWrite::Upsert(b) = w {
                check_binding(b)?;
            }
        }
        // Only the last write of each (aor, contact) matters, so the order of the
        // statements below does not matter, and each kind of change is one statement per
        // chunk of rows rather than one per row.
        let mut upserts = Vec::new();
        let mut removes = Vec::new();
        for w in last_per_key(writes, BindingWrite::key) {
            match w {
                BindingWrite::Upsert(b) => upserts.push(b),
                BindingWrite::Remove { aor, contact } => removes.push((aor, contact)),
            }
        }
        if upserts.is_empty() && removes.is_empty() {
            return Ok(());
        }
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            for chunk in removes.chunks(ROWS_PER_STATEMENT) {
                let mut q = sqlx::QueryBuilder::new(
                    "DELETE FROM locations WHERE (aor, contact) IN (",
                );
                q.push_values(chunk, |mut row, (aor, contact)| {
                    row.push_bind(*aor).push_bind(*contact);
                });
                q.push(")");
                q.build().execute(&mut *tx).await?;
            }
            for chunk in upserts.chunks(ROWS_PER_STATEMENT) {
                let mut q = sqlx::QueryBuilder::new(UPSERT_INTO);
                q.push_values(chunk, |mut row, b| {
                    row.push_bind(&b.aor)
                        .push_bind(&b.contact)
                        .push_bind(b.expires_at)
                        .push_bind(i64::from(b.q))
                        .push_bind(&b.call_id)
                        .push_bind(i64::from(b.cseq))
                        .push_bind(&b.user_agent)
                        .push_bind(&b.received)
                        .push_bind(&b.transport)
                        .push_bind(&b.local_socket)
                        .push_bind(&b.path)
                        .push_bind(&b.instance)
                        .push_bind(b.reg_id.map(i64::from))
                        .push_bind(i64::from(b.flags))
                        .push_bind(b.updated_at);
                });
                q.push(UPSERT_ON_CONFLICT);
                q.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Removes one binding; `Ok(false)` if there was none.
    pub async fn remove_binding(&self, aor: &str, contact: &str) -> Result<bool, StoreError> {
        let n = on_pool!(self, pool => {
            sqlx::query("DELETE FROM locations WHERE aor = $1 AND contact = $2")
                .bind(aor)
                .bind(contact)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(n > 0)
    }

    /// Removes every binding of `aor` (REGISTER with `Contact: *`); returns how many.
    pub async fn remove_bindings(&self, aor: &str) -> Result<u64, StoreError> {
        Ok(on_pool!(self, pool => {
            sqlx::query("DELETE FROM locations WHERE aor = $1")
                .bind(aor)
                .execute(pool)
                .await?
                .rows_affected()
        }))
    }

    /// The bindings of `aor`, highest `q` first, then most recently updated; expired ones
    /// included until [`Store::purge_expired`] runs.
    pub async fn bindings(&self, aor: &str) -> Result<Vec<Binding>, StoreError> {
        let sql =
            format!("{BINDING_SELECT} WHERE aor = $1 ORDER BY q DESC, updated_at DESC, contact");
        let rows: Vec<BindingRow> =
            on_pool!(self, pool => sqlx::query_as(&sql).bind(aor).fetch_all(pool).await?);
        collect(rows)
    }

    /// Every binding, by AoR, to rebuild the in-memory location index at start.
    pub async fn all_bindings(&self) -> Result<Vec<Binding>, StoreError> {
        let sql = format!("{BINDING_SELECT} ORDER BY aor, q DESC, updated_at DESC, contact");
        let rows: Vec<BindingRow> =
            on_pool!(self, pool => sqlx::query_as(&sql).fetch_all(pool).await?);
        collect(rows)
    }

    /// Deletes the bindings whose `expires_at` is at or before `now`; returns how many.
    pub async fn purge_expired(&self, now: i64) -> Result<u64, StoreError> {
        let n = on_pool!(self, pool => {
            sqlx::query("DELETE FROM locations WHERE expires_at <= $1")
                .bind(now)
                .execute(pool)
                .await?
                .rows_affected()
        });
        if n > 0 {
            tracing::debug!(purged = n, "expired bindings purged");
        }
        Ok(n)
    }
}
