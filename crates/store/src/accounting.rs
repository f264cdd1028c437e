//! Accounting (Kamailio's `acc` table): what the proxy saw of each call, one append-only
//! row per event (request, answer, failure, end), for call detail records, missed calls and
//! audit. The proxy batches events into [`Store::record_acc`]; [`Store::acc_events`] reads
//! them back by call, user or time. Times are Unix milliseconds.

use std::borrow::Cow;

use crate::{on_pool, Address, Store, StoreError, ROWS_PER_STATEMENT};

/// What an accounting event records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccKind {
    /// A request was forwarded (an INVITE, or a request outside a dialog).
    Request,
    /// The call was answered (a 2xx to the INVITE).
    Answered,
    /// The call failed (a final answer of 300 or above, or a timeout).
    Failed,
    /// The call ended (a BYE, or the proxy ending it).
    Ended,
}

impl AccKind {
    /// The stored name: `request`, `answered`, `failed` or `ended`.
    pub fn as_str(self) -> &'static str {
        match self {
            AccKind::Request => "request",
            AccKind::Answered => "answered",
            AccKind::Failed => "failed",
            AccKind::Ended => "ended",
        }
    }

    fn from_stored(s: &str) -> Result<AccKind, StoreError> {
        Ok(match s {
            "request" => AccKind::Request,
            "answered" => AccKind::Answered,
            "failed" => AccKind::Failed,
            "ended" => AccKind::Ended,
            _ => return Err(StoreError::Corrupt("acc.kind")),
        })
    }
}

/// Who ended a call, the values of [`AccEvent::ended_by`].
pub const ENDED_BY: [&str; 3] = ["caller", "callee", "proxy"];

/// One accounting event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccEvent {
    /// When, Unix milliseconds.
    pub time_ms: i64,
    /// What happened.
    pub kind: AccKind,
    /// The request method (`INVITE`, `BYE`, `MESSAGE`, ...).
    pub method: String,
    /// The Call-ID.
    pub call_id: String,
    /// The From tag (empty if the request had none).
    pub from_tag: String,
    /// The To tag, once there is one.
    pub to_tag: Option<String>,
    /// The status code of the answer, 100 to 699.
    pub code: Option<u16>,
    /// The reason phrase of the answer.
    pub reason: Option<String>,
    /// The caller's user part (From URI).
    pub caller_user: Option<String>,
    /// The caller's domain; stored lowercased, without a trailing dot.
    pub caller_domain: Option<String>,
    /// The callee's user part (Request-URI or To URI).
    pub callee_user: Option<String>,
    /// The callee's domain; stored lowercased, without a trailing dot.
    pub callee_domain: Option<String>,
    /// The address the request came from.
    pub source_ip: Option<String>,
    /// Who ended the call: one of [`ENDED_BY`], `"caller"`, `"callee"` or `"proxy"`.
    pub ended_by: Option<String>,
}

/// Which events [`Store::acc_events`] returns: all of the given conditions hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccFilter {
    /// Only this Call-ID.
    pub call_id: Option<String>,
    /// Only events with this address as caller or as callee (as recorded: an alias is not
    /// its subscriber here).
    pub user: Option<Address>,
    /// Only events at or after this time, Unix milliseconds.
    pub since_ms: Option<i64>,
    /// At most this many: the newest ones.
    pub limit: Option<u32>,
}

#[derive(sqlx::FromRow)]
struct AccRow {
    time_ms: i64,
    kind: String,
    method: String,
    call_id: String,
    from_tag: String,
    to_tag: Option<String>,
    code: Option<i64>,
    reason: Option<String>,
    caller_user: Option<String>,
    caller_domain: Option<String>,
    callee_user: Option<String>,
    callee_domain: Option<String>,
    source_ip: Option<String>,
    ended_by: Option<String>,
}

impl TryFrom<AccRow> for AccEvent {
    type Error = StoreError;

    fn try_from(r: AccRow) -> Result<AccEvent, StoreError> {
        let code = r
            .code
            .map(u16::try_from)
            .transpose()
            .map_err(|_| StoreError::Corrupt("acc.code"))?;
        Ok(AccEvent {
            time_ms: r.time_ms,
            kind: AccKind::from_stored(&r.kind)?,
            method: r.method,
            call_id: r.call_id,
            from_tag: r.from_tag,
            to_tag: r.to_tag,
            code,
            reason: r.reason,
            caller_user: r.caller_user,
            caller_domain: r.caller_domain,
            callee_user: r.callee_user,
            callee_domain: r.callee_domain,
            source_ip: r.source_ip,
            ended_by: r.ended_by,
        })
    }
}

pub(crate) const ACC_COLUMNS: &str =
    "time_ms, kind, method, call_id, from_tag, to_tag, code, reason,
       caller_user, caller_domain, callee_user, callee_domain, source_ip, ended_by";

pub(crate) fn check_event(e: &AccEvent) -> Result<(), StoreError> {
    if e.method.is_empty() {
        return Err(StoreError::BadAcc("empty method"));
    }
    if e.call_id.is_empty() {
        return Err(StoreError::BadAcc("empty call_id"));
    }
    if e.code.is_some_and(|c| !(100..=699).contains(&c)) {
        return Err(StoreError::BadAcc("code outside 100 to 699"));
    }
    if e.ended_by
        .as_deref()
        .is_some_and(|by| !ENDED_BY.contains(&by))
    {
        return Err(StoreError::BadAcc(
            "ended_by other than caller, callee or proxy",
        ));
    }
    Ok(())
}

/// A domain as [`AccFilter::user`] finds it: lowercased, without a trailing dot.
pub(crate) fn fold_domain(domain: &Option<String>) -> Option<Cow<'_, str>> {
    domain.as_deref().map(fold_host)
}

/// A domain lowercased, without a trailing dot (borrowed when it is already so).
pub(crate) fn fold_host(domain: &str) -> Cow<'_, str> {
    let d = domain.strip_suffix('.').unwrap_or(domain);
    if d.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(d.to_ascii_lowercase())
    } else {
        Cow::Borrowed(d)
    }
}

impl Store {
    /// Appends accounting events in one transaction: all of them or, on error, none. Every
    /// event is checked first ([`StoreError::BadAcc`]).
    pub async fn record_acc(&self, events: &[AccEvent]) -> Result<(), StoreError> {
        for e in events {
            check_event(e)?;
        }
        if events.is_empty() {
            return Ok(());
        }
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            for chunk in events.chunks(ROWS_PER_STATEMENT) {
                let mut q = sqlx::QueryBuilder::new(format!("INSERT INTO acc ({ACC_COLUMNS}) "));
                q.push_values(chunk, |mut row, e| {
                    row.push_bind(e.time_ms)
                        .push_bind(e.kind.as_str())
                        .push_bind(&e.method)
                        .push_bind(&e.call_id)
                        .push_bind(&e.from_tag)
                        .push_bind(&e.to_tag)
                        .push_bind(e.code.map(i64::from))
                        .push_bind(&e.reason)
                        .push_bind(&e.caller_user)
                        .push_bind(fold_domain(&e.caller_domain))
                        .push_bind(&e.callee_user)
                        .push_bind(fold_domain(&e.callee_domain))
                        .push_bind(&e.source_ip)
                        .push_bind(&e.ended_by);
                });
                q.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// The events that pass `filter`, oldest first (newest last); with a limit, the newest
    /// `limit` of them. Events of the same millisecond keep the order they were recorded
    /// in.
    pub async fn acc_events(&self, filter: &AccFilter) -> Result<Vec<AccEvent>, StoreError> {
        let rows: Vec<AccRow> = on_pool!(self, pool => {
            let mut q = sqlx::QueryBuilder::new(format!("SELECT {ACC_COLUMNS} FROM acc"));
            let mut sep = " WHERE ";
            if let Some(call_id) = &filter.call_id {
                q.push(sep).push("call_id = ").push_bind(call_id);
                sep = " AND ";
            }
            if let Some(a) = &filter.user {
                q.push(sep)
                    .push("((caller_user = ")
                    .push_bind(&a.user)
                    .push(" AND caller_domain = ")
                    .push_bind(&a.domain)
                    .push(") OR (callee_user = ")
                    .push_bind(&a.user)
                    .push(" AND callee_domain = ")
                    .push_bind(&a.domain)
                    .push("))");
                sep = " AND ";
            }
            if let Some(since) = filter.since_ms {
                q.push(sep).push("time_ms >= ").push_bind(since);
            }
            match filter.limit {
                Some(n) => {
                    q.push(" ORDER BY time_ms DESC, id DESC LIMIT ")
                        .push_bind(i64::from(n));
                }
                None => {
                    q.push(" ORDER BY time_ms, id");
                }
            }
            q.build_query_as().fetch_all(pool).await?
        });
        let mut events = rows
            .into_iter()
            .map(AccEvent::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        if filter.limit.is_some() {
            events.reverse();
        }
        Ok(events)
    }
}
