//! The domains the provider serves (the `domain` table of SER/Kamailio): a request for
//! `user@D` is local when `D` is listed here.

use crate::address::normalize_domain;
use crate::error::is_unique_violation;
use crate::{on_pool, unix_now, Store, StoreError};

impl Store {
    /// Starts serving `domain`.
    pub async fn add_domain(&self, domain: &str) -> Result<(), StoreError> {
        let domain = normalize_domain(domain)?;
        let r = on_pool!(self, pool => {
            sqlx::query("INSERT INTO domains (name, created_at) VALUES ($1, $2)")
                .bind(&domain)
                .bind(unix_now())
                .execute(pool)
                .await
            .map(|done| done.rows_affected())
        });
        match r {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => Err(StoreError::DomainExists(domain)),
            Err(e) => Err(e.into()),
        }
    }

    /// Stops serving `domain`. Refused with [`StoreError::DomainInUse`] while subscribers or
    /// aliases are in it.
    pub async fn remove_domain(&self, domain: &str) -> Result<(), StoreError> {
        let domain = normalize_domain(domain)?;
        let removed = on_pool!(self, pool => {
            sqlx::query(
                "DELETE FROM domains WHERE name = $1
                   AND NOT EXISTS (SELECT 1 FROM subscribers WHERE domain = $1)
                   AND NOT EXISTS (SELECT 1 FROM aliases WHERE alias_domain = $1)",
            )
            .bind(&domain)
            .execute(pool)
            .await?
            .rows_affected()
        });
        if removed > 0 {
            Ok(())
        } else if self.domain_exists(&domain).await? {
            Err(StoreError::DomainInUse(domain))
        } else {
            Err(StoreError::NoSuchDomain(domain))
        }
    }

    /// The served domains, sorted.
    pub async fn list_domains(&self) -> Result<Vec<String>, StoreError> {
        Ok(on_pool!(self, pool => {
            sqlx::query_scalar("SELECT name FROM domains ORDER BY name")
                .fetch_all(pool)
                .await?
        }))
    }

    /// Whether `domain` is served. A text that is not a domain is simply not served.
    pub async fn domain_exists(&self, domain: &str) -> Result<bool, StoreError> {
        let Ok(domain) = normalize_domain(domain) else {
            return Ok(false);
        };
        let found: Option<i32> = on_pool!(self, pool => {
            sqlx::query_scalar("SELECT 1 FROM domains WHERE name = $1")
                .bind(&domain)
                .fetch_optional(pool)
                .await?
        });
        Ok(found.is_some())
    }
}
