//! What the portal lists and counts: subscribers a page at a time (keyset pagination on
//! domain and user, so a page costs the same at any depth; optionally only those whose
//! address or e-mail holds a text) and the totals of the system
//! status.

use crate::address::normalize_domain;
use crate::subscribers::SUBSCRIBER_COLUMNS;
use crate::{on_pool, Address, Store, StoreError, Subscriber};

/// Totals of the store, for the system status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Served domains.
    pub domains: i64,
    /// Subscribers.
    pub subscribers: i64,
    /// Aliases.
    pub aliases: i64,
    /// Location bindings not yet expired at the time asked.
    pub registrations: i64,
}

impl Store {
    /// Up to `limit` subscribers, of one domain or of all, sorted by domain and user,
    /// after the subscriber `after` (the last of the previous page; need not exist any
    /// more).
    pub async fn subscribers_page(
        &self,
        domain: Option<&str>,
        after: Option<&Address>,
        limit: u32,
    ) -> Result<Vec<Subscriber>, StoreError> {
        self.subscribers_matching(domain, None, after, limit).await
    }

    /// [`Store::subscribers_page`] of the subscribers whose address (`user@domain`) or
    /// e-mail holds `text` (ignoring ASCII case; `%` and `_` are plain characters), when
    /// `text` is given.
    pub async fn subscribers_matching(
        &self,
        domain: Option<&str>,
        text: Option<&str>,
        after: Option<&Address>,
        limit: u32,
    ) -> Result<Vec<Subscriber>, StoreError> {
        let pattern = text.map(|t| {
            let mut p = String::from("%");
            for c in t.to_ascii_lowercase().chars() {
                if matches!(c, '%' | '_' | '\\') {
                    p.push('\\');
                }
                p.push(c);
            }
            p.push('%');
            p
        });
        let domain = domain.map(normalize_domain).transpose()?;
        if let Some(d) = &domain {
            if !self.domain_exists(d).await? {
                return Err(StoreError::NoSuchDomain(d.clone()));
            }
        }
        let (after_domain, after_user) = match after {
            Some(a) => (Some(a.domain.as_str()), Some(a.user.as_str())),
            None => (None, None),
        };
        let sql = format!(
            "SELECT {SUBSCRIBER_COLUMNS} FROM subscribers
             WHERE ($1 IS NULL OR domain = $1)
               AND ($2 IS NULL OR domain > $2 OR (domain = $2 AND username > $3))
               AND ($5 IS NULL
                    OR LOWER(username || '@' || domain) LIKE $5 ESCAPE '\\'
                    OR LOWER(COALESCE(email, '')) LIKE $5 ESCAPE '\\')
             ORDER BY domain, username LIMIT $4"
        );
        let rows: Vec<crate::subscribers::SubscriberRow> = on_pool!(self, pool => {
            sqlx::query_as(&sql)
                .bind(domain.as_deref())
                .bind(after_domain)
                .bind(after_user)
                .bind(i64::from(limit))
                .bind(pattern.as_deref())
                .fetch_all(pool)
                .await?
        });
        Ok(rows.into_iter().map(Subscriber::from).collect())
    }

    /// The totals at `now` (Unix seconds).
    pub async fn totals(&self, now: i64) -> Result<Totals, StoreError> {
        let count = |sql: &'static str| async move {
            let n: i64 = on_pool!(self, pool => {
                sqlx::query_scalar(sql).bind(now).fetch_one(pool).await?
            });
            Ok::<i64, StoreError>(n)
        };
        Ok(Totals {
            domains: count("SELECT COUNT(*) FROM domains WHERE $1 IS NOT NULL").await?,
            subscribers: count("SELECT COUNT(*) FROM subscribers WHERE $1 IS NOT NULL").await?,
            aliases: count("SELECT COUNT(*) FROM aliases WHERE $1 IS NOT NULL").await?,
            registrations: count("SELECT COUNT(*) FROM locations WHERE expires_at > $1").await?,
        })
    }
}
