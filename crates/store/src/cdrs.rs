//! Call detail records: one row per call attempt, written when the attempt ends (answered
//! and hung up, busy, not answered, cancelled, failed, refused by the proxy, or closed by
//! the proxy). The proxy batches them into [`Store::record_cdrs`] (or its writer thread's
//! [`crate::Writer::record_cdrs`]); [`Store::cdrs`] reads them a page at a time, oldest
//! first, with a cursor, so an export of any size never holds more than one page. A restart
//! closes the calls a node left open ([`Store::close_calls`]): no record stays open forever.
//! Times are Unix milliseconds.

use std::fmt;
use std::str::FromStr;

use crate::{on_pool, Address, Call, Store, StoreError};

/// How a call attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Disposition {
    /// Answered (a 2xx reached the caller), then hung up.
    Answered,
    /// The callee was busy (486, 600).
    Busy,
    /// Nobody answered: the callee's 480 or 408, or the proxy's Timer C.
    NoAnswer,
    /// The caller hung up before an answer (CANCEL, 487).
    Cancelled,
    /// Any other failure answer.
    Failed,
    /// The proxy refused the call itself (403, 404, 480 for an offline user, 484, 402...).
    Refused,
    /// The proxy ended the call when the caller's credit ran out.
    CreditExhausted,
}

impl Disposition {
    /// Every disposition, in the order of the docs.
    pub const ALL: [Disposition; 7] = [
        Disposition::Answered,
        Disposition::Busy,
        Disposition::NoAnswer,
        Disposition::Cancelled,
        Disposition::Failed,
        Disposition::Refused,
        Disposition::CreditExhausted,
    ];

    /// The stored name: `answered`, `busy`, `no_answer`, `cancelled`, `failed`, `refused`,
    /// `credit_exhausted`.
    pub fn as_str(self) -> &'static str {
        match self {
            Disposition::Answered => "answered",
            Disposition::Busy => "busy",
            Disposition::NoAnswer => "no_answer",
            Disposition::Cancelled => "cancelled",
            Disposition::Failed => "failed",
            Disposition::Refused => "refused",
            Disposition::CreditExhausted => "credit_exhausted",
        }
    }

    /// The disposition of a call set-up that failed with the final answer `code` from a
    /// callee or from the proxy's own transaction handling (Timer C: 408).
    pub fn of_failure(code: u16) -> Disposition {
        match code {
            486 | 600 => Disposition::Busy,
            408 | 480 => Disposition::NoAnswer,
            487 => Disposition::Cancelled,
            _ => Disposition::Failed,
        }
    }

    /// Whether the call was answered (then ended by someone): `answered`, and
    /// `credit_exhausted` (answered, then ended by the proxy when the credit ran out).
    pub fn was_answered(self) -> bool {
        matches!(self, Disposition::Answered | Disposition::CreditExhausted)
    }

    /// Whether the callee missed the call (it reached or was meant for them and was not
    /// answered): what a missed-call list shows.
    pub fn is_missed(self) -> bool {
        matches!(
            self,
            Disposition::Busy
                | Disposition::NoAnswer
                | Disposition::Cancelled
                | Disposition::Refused
        )
    }
}

impl fmt::Display for Disposition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Disposition {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Disposition, StoreError> {
        Disposition::ALL
            .into_iter()
            .find(|d| d.as_str() == s)
            .ok_or(StoreError::BadCdr(
                "disposition other than answered, busy, no_answer, cancelled, failed, refused or credit_exhausted",
            ))
    }
}

/// Who ended a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HungUpBy {
    /// The caller (its BYE or CANCEL).
    Caller,
    /// The callee (its BYE or its failure answer).
    Callee,
    /// The proxy: Timer C, a refusal, the end of credit, a restart.
    Proxy,
}

impl HungUpBy {
    /// The stored name: `caller`, `callee` or `proxy`.
    pub fn as_str(self) -> &'static str {
        match self {
            HungUpBy::Caller => "caller",
            HungUpBy::Callee => "callee",
            HungUpBy::Proxy => "proxy",
        }
    }

    fn from_stored(s: &str) -> Result<HungUpBy, StoreError> {
        match s {
            "caller" => Ok(HungUpBy::Caller),
            "callee" => Ok(HungUpBy::Callee),
            "proxy" => Ok(HungUpBy::Proxy),
            _ => Err(StoreError::Corrupt("cdrs.hung_up_by")),
        }
    }
}

/// One call detail record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cdr {
    /// The Call-ID.
    pub call_id: String,
    /// The caller's From tag.
    pub from_tag: String,
    /// The answering side's To tag, when there was one.
    pub to_tag: Option<String>,
    /// The caller's user part (From URI).
    pub caller_user: Option<String>,
    /// The caller's domain; stored lowercased, without a trailing dot.
    pub caller_domain: Option<String>,
    /// The From URI.
    pub caller_uri: String,
    /// The address the INVITE came from.
    pub source_ip: Option<String>,
    /// The Request-URI as received: what the caller dialled.
    pub dialled_uri: String,
    /// The dialled user part (Request-URI).
    pub callee_user: Option<String>,
    /// The dialled domain; stored lowercased, without a trailing dot.
    pub callee_domain: Option<String>,
    /// Who answered: the Contact of the 2xx (the phone, the forwarding target or the
    /// gateway that took the call).
    pub answered_by: Option<String>,
    /// When the INVITE arrived.
    pub start_ms: i64,
    /// When the 2xx reached the caller.
    pub answer_ms: Option<i64>,
    /// When the call ended (its BYE, its final failure answer, or its closing).
    pub end_ms: i64,
    /// How it ended.
    pub disposition: Disposition,
    /// The final status: the 2xx of an answered call, else the failure answer.
    pub code: u16,
    /// The reason phrase of that status.
    pub reason: Option<String>,
    /// Who ended it.
    pub hung_up_by: Option<HungUpBy>,
    /// Why the proxy ended it (`timer C`, `restart`, `credit`), if it did.
    pub end_reason: Option<String>,
    /// The proxy node that handled the call.
    pub node: String,
    /// What the call cost, once rated; `None` when it was not (free, no plan, no
    /// destination).
    pub charge: Option<Charge>,
    /// What the RTP relay counted, when it carried the call's media.
    pub media: Option<CallMedia>,
}

/// The RTP relay's counters of a call ([`Store::record_media`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CallMedia {
    /// RTP packets the caller sent to the relay.
    pub caller_packets: i64,
    /// The caller's packets lost before the relay.
    pub caller_lost: i64,
    /// RTP packets the callee sent to the relay.
    pub callee_packets: i64,
    /// The callee's packets lost before the relay.
    pub callee_lost: i64,
    /// RTP bytes of both.
    pub bytes: i64,
    /// How the caller's RTP arrived, when the relay could time it.
    pub caller_quality: Option<MediaQuality>,
    /// How the callee's RTP arrived.
    pub callee_quality: Option<MediaQuality>,
}

/// Jitter and estimated quality of one side's RTP ([`CallMedia`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaQuality {
    /// Interarrival jitter (RFC 3550 A.8), microseconds (stored in milliseconds).
    pub jitter_us: i64,
    /// Estimated MOS in hundredths (stored as a number: 438 is 4.38).
    pub mos_centi: i64,
}

impl MediaQuality {
    /// The jitter in milliseconds, as stored.
    pub fn jitter_ms(self) -> f64 {
        self.jitter_us as f64 / 1000.0
    }

    /// The MOS, as stored.
    pub fn mos(self) -> f64 {
        self.mos_centi as f64 / 100.0
    }

    /// From the stored columns: both, or none.
    fn from_columns(jitter_ms: Option<f64>, mos: Option<f64>) -> Option<MediaQuality> {
        match (jitter_ms, mos) {
            (Some(j), Some(m)) if j.is_finite() && m.is_finite() => Some(MediaQuality {
                jitter_us: (j * 1000.0).round() as i64,
                mos_centi: (m * 100.0).round() as i64,
            }),
            _ => None,
        }
    }
}

/// The relay's counters of the call `call_id` started with `from_tag`, for its record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaUpdate {
    /// The call.
    pub call_id: String,
    /// The caller's From tag.
    pub from_tag: String,
    /// The counters.
    pub media: CallMedia,
}

/// The price of a call, as rating found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charge {
    /// The plan that priced it.
    pub plan: String,
    /// The amount, an exact decimal written as text (`0.89`, never a float).
    pub cost: String,
    /// Its currency (ISO 4217).
    pub currency: String,
}

impl Cdr {
    /// The talk time in whole seconds, rounded up (a started second counts): from answer to
    /// end; zero for a call never answered.
    pub fn billable_secs(&self) -> i64 {
        match self.answer_ms {
            Some(answer) => (self.end_ms.saturating_sub(answer).max(0) + 999) / 1000,
            None => 0,
        }
    }
}

/// Which records [`Store::cdrs`] returns: all of the given conditions hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CdrFilter {
    /// Only calls with this address as caller or as dialled callee.
    pub user: Option<Address>,
    /// Only calls this address missed (dialled to it, not answered: busy, no answer,
    /// cancelled, refused).
    pub missed_by: Option<Address>,
    /// Only calls that started at or after this time.
    pub since_ms: Option<i64>,
    /// Only calls that started before this time.
    pub until_ms: Option<i64>,
    /// Only calls that ended this way.
    pub disposition: Option<Disposition>,
}

/// A record with its position in the table, the cursor of the next page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCdr {
    /// Its id: pass it as `after` to [`Store::cdrs`] for the records after it.
    pub id: i64,
    /// The record.
    pub cdr: Cdr,
}

#[derive(sqlx::FromRow)]
struct CdrRow {
    id: i64,
    call_id: String,
    from_tag: String,
    to_tag: Option<String>,
    caller_user: Option<String>,
    caller_domain: Option<String>,
    caller_uri: String,
    source_ip: Option<String>,
    dialled_uri: String,
    callee_user: Option<String>,
    callee_domain: Option<String>,
    answered_by: Option<String>,
    start_ms: i64,
    answer_ms: Option<i64>,
    end_ms: i64,
    disposition: String,
    code: i64,
    reason: Option<String>,
    hung_up_by: Option<String>,
    end_reason: Option<String>,
    node: String,
    rate_plan: Option<String>,
    cost: Option<String>,
    currency: Option<String>,
    caller_packets: Option<i64>,
    caller_lost: Option<i64>,
    callee_packets: Option<i64>,
    callee_lost: Option<i64>,
    media_bytes: Option<i64>,
    caller_jitter_ms: Option<f64>,
    caller_mos: Option<f64>,
    callee_jitter_ms: Option<f64>,
    callee_mos: Option<f64>,
}

impl TryFrom<CdrRow> for StoredCdr {
    type Error = StoreError;

    fn try_from(r: CdrRow) -> Result<StoredCdr, StoreError> {
        Ok(StoredCdr {
            id: r.id,
            cdr: Cdr {
                call_id: r.call_id,
                from_tag: r.from_tag,
                to_tag: r.to_tag,
                caller_user: r.caller_user,
                caller_domain: r.caller_domain,
                caller_uri: r.caller_uri,
                source_ip: r.source_ip,
                dialled_uri: r.dialled_uri,
                callee_user: r.callee_user,
                callee_domain: r.callee_domain,
                answered_by: r.answered_by,
                start_ms: r.start_ms,
                answer_ms: r.answer_ms,
                end_ms: r.end_ms,
                disposition: r
                    .disposition
                    .parse()
                    .map_err(|_| StoreError::Corrupt("cdrs.disposition"))?,
                code: u16::try_from(r.code).map_err(|_| StoreError::Corrupt("cdrs.code"))?,
                reason: r.reason,
                hung_up_by: r
                    .hung_up_by
                    .as_deref()
                    .map(HungUpBy::from_stored)
                    .transpose()?,
                end_reason: r.end_reason,
                node: r.node,
                charge: match (r.rate_plan, r.cost, r.currency) {
                    (Some(plan), Some(cost), Some(currency)) => Some(Charge {
                        plan,
                        cost,
                        currency,
                    }),
                    (None, None, None) => None,
                    _ => return Err(StoreError::Corrupt("cdrs.cost")),
                },
                media: match (
                    r.caller_packets,
                    r.caller_lost,
                    r.callee_packets,
                    r.callee_lost,
                    r.media_bytes,
                ) {
                    (Some(a), Some(b), Some(c), Some(d), Some(e)) => Some(CallMedia {
                        caller_packets: a,
                        caller_lost: b,
                        callee_packets: c,
                        callee_lost: d,
                        bytes: e,
                        caller_quality: MediaQuality::from_columns(
                            r.caller_jitter_ms,
                            r.caller_mos,
                        ),
                        callee_quality: MediaQuality::from_columns(
                            r.callee_jitter_ms,
                            r.callee_mos,
                        ),
                    }),
                    (None, None, None, None, None) => None,
                    _ => return Err(StoreError::Corrupt("cdrs.caller_packets")),
                },
            },
        })
    }
}

/// The columns written, in the order of the writers' values.
pub(crate) const CDR_COLUMNS: &str =
    "call_id, from_tag, to_tag, caller_user, caller_domain, caller_uri, source_ip,
       dialled_uri, callee_user, callee_domain, answered_by, start_ms, answer_ms, end_ms,
       billable_secs, disposition, code, reason, hung_up_by, end_reason, node, rate_plan,
       cost, currency, caller_packets, caller_lost, callee_packets, callee_lost, media_bytes,
       caller_jitter_ms, caller_mos, callee_jitter_ms, callee_mos";

pub(crate) fn check_cdr(c: &Cdr) -> Result<(), StoreError> {
    if c.call_id.is_empty() {
        return Err(StoreError::BadCdr("empty call_id"));
    }
    if !(100..=699).contains(&c.code) {
        return Err(StoreError::BadCdr("code outside 100 to 699"));
    }
    if c.end_ms < c.start_ms {
        return Err(StoreError::BadCdr("end before start"));
    }
    if c.answer_ms.is_some_and(|a| a < c.start_ms || a > c.end_ms) {
        return Err(StoreError::BadCdr("answer outside start to end"));
    }
    if let Some(charge) = &c.charge {
        if charge.plan.is_empty() || charge.currency.len() != 3 || !is_decimal(&charge.cost) {
            return Err(StoreError::BadCdr(
                "a charge needs a plan, an exact decimal cost and an ISO 4217 currency",
            ));
        }
    }
    if c.disposition.was_answered() != c.answer_ms.is_some() {
        return Err(StoreError::BadCdr(
            "an answer time without an answered disposition (answered, credit_exhausted), or the reverse",
        ));
    }
    Ok(())
}

/// Inserts `$cdrs` (a slice of [`Cdr`]) in transaction `$tx`, [`crate::ROWS_PER_STATEMENT`] rows
/// per statement: the body of [`Store::record_cdrs`], [`Store::close_calls`] and
/// [`Store::record_cdrs_with_ledger`], compiled for each backend of `on_pool!`.
macro_rules! insert_cdrs {
    ($tx:ident, $cdrs:expr) => {
        for chunk in $cdrs.chunks($crate::ROWS_PER_STATEMENT) {
            let mut q = sqlx::QueryBuilder::new(format!(
                "INSERT INTO cdrs ({}) ",
                $crate::cdrs::CDR_COLUMNS
            ));
            q.push_values(chunk, |mut row, c| {
                row.push_bind(&c.call_id)
                    .push_bind(&c.from_tag)
                    .push_bind(&c.to_tag)
                    .push_bind(&c.caller_user)
                    .push_bind($crate::accounting::fold_domain(&c.caller_domain))
                    .push_bind(&c.caller_uri)
                    .push_bind(&c.source_ip)
                    .push_bind(&c.dialled_uri)
                    .push_bind(&c.callee_user)
                    .push_bind($crate::accounting::fold_domain(&c.callee_domain))
                    .push_bind(&c.answered_by)
                    .push_bind(c.start_ms)
                    .push_bind(c.answer_ms)
                    .push_bind(c.end_ms)
                    .push_bind(c.billable_secs())
                    .push_bind(c.disposition.as_str())
                    .push_bind(i64::from(c.code))
                    .push_bind(&c.reason)
                    .push_bind(c.hung_up_by.map($crate::HungUpBy::as_str))
                    .push_bind(&c.end_reason)
                    .push_bind(&c.node)
                    .push_bind(c.charge.as_ref().map(|x| &x.plan))
                    .push_bind(c.charge.as_ref().map(|x| &x.cost))
                    .push_bind(c.charge.as_ref().map(|x| &x.currency))
                    .push_bind(c.media.map(|m| m.caller_packets))
                    .push_bind(c.media.map(|m| m.caller_lost))
                    .push_bind(c.media.map(|m| m.callee_packets))
                    .push_bind(c.media.map(|m| m.callee_lost))
                    .push_bind(c.media.map(|m| m.bytes))
                    .push_bind(
                        c.media
                            .and_then(|m| m.caller_quality)
                            .map(|q| q.jitter_ms()),
                    )
                    .push_bind(c.media.and_then(|m| m.caller_quality).map(|q| q.mos()))
                    .push_bind(
                        c.media
                            .and_then(|m| m.callee_quality)
                            .map(|q| q.jitter_ms()),
                    )
                    .push_bind(c.media.and_then(|m| m.callee_quality).map(|q| q.mos()));
            });
            q.build().execute(&mut *$tx).await?;
        }
    };
}
pub(crate) use insert_cdrs;

/// `text` is a decimal number: an optional `-`, digits, optionally a `.` and more digits.
fn is_decimal(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, "0"));
    !whole.is_empty()
        && !fraction.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.bytes().all(|b| b.is_ascii_digit())
}

/// The statement of [`Store::record_media`] (both backends read `$n` parameters).
pub(crate) const UPDATE_MEDIA: &str = "UPDATE cdrs SET caller_packets = $1, caller_lost = $2,
        callee_packets = $3, callee_lost = $4, media_bytes = $5, caller_jitter_ms = $6,
        caller_mos = $7, callee_jitter_ms = $8, callee_mos = $9
     WHERE call_id = $10 AND from_tag = $11";

impl Store {
    /// Puts the relay's counters on the records of their calls (written a moment before,
    /// when the calls ended), in one transaction. A call with no record yet is skipped.
    pub async fn record_media(&self, updates: &[MediaUpdate]) -> Result<(), StoreError> {
        if updates.is_empty() {
            return Ok(());
        }
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            for u in updates {
                sqlx::query(UPDATE_MEDIA)
                    .bind(u.media.caller_packets)
                    .bind(u.media.caller_lost)
                    .bind(u.media.callee_packets)
                    .bind(u.media.callee_lost)
                    .bind(u.media.bytes)
                    .bind(u.media.caller_quality.map(MediaQuality::jitter_ms))
                    .bind(u.media.caller_quality.map(MediaQuality::mos))
                    .bind(u.media.callee_quality.map(MediaQuality::jitter_ms))
                    .bind(u.media.callee_quality.map(MediaQuality::mos))
                    .bind(&u.call_id)
                    .bind(&u.from_tag)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Appends call detail records in one transaction: all of them or, on error, none.
    /// Every record is checked first ([`StoreError::BadCdr`]).
    pub async fn record_cdrs(&self, cdrs: &[Cdr]) -> Result<(), StoreError> {
        for c in cdrs {
            check_cdr(c)?;
        }
        if cdrs.is_empty() {
            return Ok(());
        }
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            insert_cdrs!(tx, cdrs);
            tx.commit().await?;
        });
        Ok(())
    }

    /// At most `limit` records that pass `filter`, oldest first, after the one with id
    /// `after` (`None`: from the first). Pass the last id of a page as `after` for the next.
    pub async fn cdrs(
        &self,
        filter: &CdrFilter,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Vec<StoredCdr>, StoreError> {
        let rows: Vec<CdrRow> = on_pool!(self, pool => {
            let mut q = sqlx::QueryBuilder::new(format!("SELECT id, {CDR_COLUMNS} FROM cdrs"));
            let mut sep = " WHERE ";
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
            if let Some(a) = &filter.missed_by {
                q.push(sep)
                    .push("callee_user = ")
                    .push_bind(&a.user)
                    .push(" AND callee_domain = ")
                    .push_bind(&a.domain)
                    .push(" AND disposition IN ('busy', 'no_answer', 'cancelled', 'refused')");
                sep = " AND ";
            }
            if let Some(since) = filter.since_ms {
                q.push(sep).push("start_ms >= ").push_bind(since);
                sep = " AND ";
            }
            if let Some(until) = filter.until_ms {
                q.push(sep).push("start_ms < ").push_bind(until);
                sep = " AND ";
            }
            if let Some(d) = filter.disposition {
                q.push(sep).push("disposition = ").push_bind(d.as_str());
                sep = " AND ";
            }
            if let Some(after) = after {
                q.push(sep).push("id > ").push_bind(after);
            }
            q.push(" ORDER BY id LIMIT ").push_bind(i64::from(limit));
            q.build_query_as().fetch_all(pool).await?
        });
        rows.into_iter().map(StoredCdr::try_from).collect()
    }

    /// Closes the calls that node `node` left in the live-call table (it stopped without
    /// seeing them end: a crash, `kill -9`, a power loss): each gets a record ended by the
    /// proxy at `now_ms` with reason `restart` (answered calls count their talk time up to
    /// then), and leaves the table, in one transaction. A prepaid call's record costs what
    /// its slices took from the ledger (no settlement: no refund, no further debit).
    /// Returns how many were closed.
    pub async fn close_calls(&self, node: &str, now_ms: i64) -> Result<u64, StoreError> {
        let open: Vec<Call> = self
            .calls()
            .await?
            .into_iter()
            .filter(|c| c.node == node)
            .collect();
        let mut cdrs: Vec<Cdr> = open.iter().map(|c| closed_by_restart(c, now_ms)).collect();
        // A prepaid call cut by the stop costs what its slices took: the time they paid
        // for was the call's, and nobody knows when it really ended.
        for cdr in &mut cdrs {
            let taken = self.call_debits(&cdr.call_id).await?;
            if taken.is_zero() {
                continue;
            }
            let caller = match (&cdr.caller_user, &cdr.caller_domain) {
                (Some(user), Some(domain)) => Address::new(user, domain).ok(),
                _ => None,
            };
            let Some(account) = caller else { continue };
            if let Some(account) = self.account(&account).await? {
                let mut cost = -taken;
                if cost.scale() < 2 {
                    cost.rescale(2); // money in cents at least: 0.60, not 0.6
                }
                cdr.charge = Some(Charge {
                    plan: account.plan.unwrap_or_else(|| "prepaid".to_owned()),
                    cost: cost.to_string(),
                    currency: account.currency,
                });
            }
        }
        for c in &cdrs {
            check_cdr(c)?;
        }
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            insert_cdrs!(tx, cdrs);
            sqlx::query("DELETE FROM calls WHERE node = $1")
                .bind(node)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        Ok(open.len() as u64)
    }
}

/// The record of live call `call` closed at `now_ms` because its node restarted.
fn closed_by_restart(call: &Call, now_ms: i64) -> Cdr {
    let (caller_user, caller_domain) = split_sip_uri(&call.caller);
    let (callee_user, callee_domain) = split_sip_uri(&call.callee);
    let end_ms = now_ms.max(call.answered_ms.unwrap_or(call.started_ms));
    let (disposition, code, reason) = match call.answered_ms {
        Some(_) => (Disposition::Answered, 200, "OK"),
        None => (Disposition::Failed, 500, "Server restarted"),
    };
    Cdr {
        call_id: call.call_id.clone(),
        from_tag: call.from_tag.clone(),
        to_tag: call.to_tag.clone(),
        caller_user,
        caller_domain,
        caller_uri: call.caller.clone(),
        source_ip: call.source_ip.clone(),
        dialled_uri: call.callee.clone(),
        callee_user,
        callee_domain,
        answered_by: None,
        start_ms: call.started_ms,
        answer_ms: call.answered_ms,
        end_ms,
        disposition,
        code,
        reason: Some(reason.into()),
        hung_up_by: Some(HungUpBy::Proxy),
        end_reason: Some("restart".into()),
        media: None,
        node: call.node.clone(),
        charge: None,
    }
}

/// The user and host of a SIP URI as the live-call table keeps it, for the user and
/// domain columns (the domain lowercased); `None`s for anything else.
fn split_sip_uri(uri: &str) -> (Option<String>, Option<String>) {
    match sip::Uri::parse(uri) {
        Ok(sip::Uri::Sip(u)) => (
            u.user.map(str::to_owned),
            Some(u.host.text().to_ascii_lowercase()),
        ),
        _ => (None, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispositions_of_failures_and_their_names() {
        assert_eq!(Disposition::of_failure(486), Disposition::Busy);
        assert_eq!(Disposition::of_failure(600), Disposition::Busy);
        assert_eq!(Disposition::of_failure(408), Disposition::NoAnswer);
        assert_eq!(Disposition::of_failure(480), Disposition::NoAnswer);
        assert_eq!(Disposition::of_failure(487), Disposition::Cancelled);
        assert_eq!(Disposition::of_failure(503), Disposition::Failed);
        for d in Disposition::ALL {
            assert_eq!(d.as_str().parse::<Disposition>().ok(), Some(d));
        }
        assert!("done".parse::<Disposition>().is_err());
    }

    #[test]
    fn billable_seconds_round_a_started_second_up() {
        let mut c = closed_by_restart(
            &Call {
                call_id: "c".into(),
                from_tag: "f".into(),
                to_tag: None,
                state: crate::CallState::Confirmed,
                caller: "sip:alice@Example.com".into(),
                callee: "sip:bob@example.com;user=phone".into(),
                source_ip: None,
                started_ms: 1_000,
                answered_ms: Some(2_000),
                node: "n".into(),
            },
            7_001,
        );
        assert_eq!(c.billable_secs(), 6);
        assert_eq!(c.caller_domain.as_deref(), Some("example.com"));
        assert_eq!(c.callee_user.as_deref(), Some("bob"));
        c.end_ms = 2_000;
        assert_eq!(c.billable_secs(), 0);
        c.answer_ms = None;
        assert_eq!(c.billable_secs(), 0);
    }
}
