//! The audit log (migration `0020`): one [`AuditEntry`] per change an admin made
//! through the portal's API or pages, or with the `itsp` command line — who, from where,
//! what, when and the outcome —
//! appended by [`Store::record_audit`] and read newest first, a page at a time after a
//! cursor, by [`Store::audit_entries`]. Nothing changes or deletes an entry.

use crate::{on_pool, Store, StoreError};

/// The longest `detail` kept, in bytes; longer ones are cut at a character boundary.
pub const MAX_AUDIT_DETAIL_BYTES: usize = 2000;

/// One change, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AuditEntry {
    /// Its position, growing: pass as `before` for the older entries.
    pub id: i64,
    /// When, Unix milliseconds.
    pub at_ms: i64,
    /// Who: the admin's `user@domain`, `token N` for an admin token, or `cli:USER` for
    /// the OS user who ran an `itsp` command.
    pub actor: String,
    /// From where: the client's IP address, or `local` for the command line.
    pub source: String,
    /// What: `METHOD /path`, or the command line (`itsp user add ...`, secrets `***`).
    pub action: String,
    /// The answer's HTTP status, or the command's exit status (0 done, 1 refused, 2
    /// failed).
    pub status: i64,
    /// The fields sent (secrets left out), if any; for a command, `done` or
    /// `error: MESSAGE`.
    pub detail: Option<String>,
}

/// An entry to append (its id is given by the store).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuditEntry {
    /// When, Unix milliseconds.
    pub at_ms: i64,
    /// Who.
    pub actor: String,
    /// From where.
    pub source: String,
    /// What.
    pub action: String,
    /// The answer's HTTP status, or the command's exit status.
    pub status: i64,
    /// The fields sent, secrets left out; or a command's outcome.
    pub detail: Option<String>,
}

/// Which entries to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Only at or after this time, Unix milliseconds.
    pub since_ms: Option<i64>,
    /// Only before this time, Unix milliseconds.
    pub until_ms: Option<i64>,
    /// Only this actor (exactly as recorded).
    pub actor: Option<String>,
}

fn cut(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

impl Store {
    /// Appends `entry` to the audit log; returns its id. A `detail` over
    /// [`MAX_AUDIT_DETAIL_BYTES`] is cut.
    pub async fn record_audit(&self, entry: &NewAuditEntry) -> Result<i64, StoreError> {
        let detail = entry
            .detail
            .as_deref()
            .map(|d| cut(d, MAX_AUDIT_DETAIL_BYTES));
        let id: i64 = on_pool!(self, pool => {
            sqlx::query_scalar(
                "INSERT INTO audit_log (at_ms, actor, source, action, status, detail)
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            )
            .bind(entry.at_ms)
            .bind(&entry.actor)
            .bind(&entry.source)
            .bind(&entry.action)
            .bind(entry.status)
            .bind(detail)
            .fetch_one(pool)
            .await?
        });
        Ok(id)
    }

    /// Up to `limit` entries matching `filter`, newest first, older than the entry
    /// `before` (the last id of the previous page) when given.
    pub async fn audit_entries(
        &self,
        filter: &AuditFilter,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let rows: Vec<AuditEntry> = on_pool!(self, pool => {
            sqlx::query_as(
                "SELECT id, at_ms, actor, source, action, status, detail FROM audit_log
                 WHERE ($1 IS NULL OR id < $1)
                   AND ($2 IS NULL OR at_ms >= $2)
                   AND ($3 IS NULL OR at_ms < $3)
                   AND ($4 IS NULL OR actor = $4)
                 ORDER BY id DESC LIMIT $5",
            )
            .bind(before)
            .bind(filter.since_ms)
            .bind(filter.until_ms)
            .bind(filter.actor.as_deref())
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::cut;

    #[test]
    fn details_are_cut_on_a_character_boundary() {
        assert_eq!(cut("abc", 5), "abc");
        assert_eq!(cut("abcdef", 3), "abc");
        assert_eq!(cut("aé", 2), "a");
    }
}
