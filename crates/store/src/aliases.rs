//! Aliases: more addresses for one subscriber (`+4684567890@example.com`,
//! `45678901@example.com` for `alice@example.com`), in any served domain. Lookups go
//! through [`Store::resolve`].

use crate::address::normalize_domain;
use crate::error::is_unique_violation;
use crate::{on_pool, unix_now, Address, Store, StoreError};

/// An alias and the subscriber it stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alias {
    /// The alias address.
    pub alias: Address,
    /// The subscriber's address.
    pub target: Address,
}

#[derive(sqlx::FromRow)]
struct AliasRow {
    alias_user: String,
    alias_domain: String,
    username: String,
    domain: String,
}

impl From<AliasRow> for Alias {
    fn from(r: AliasRow) -> Alias {
        Alias {
            alias: Address {
                user: r.alias_user,
                domain: r.alias_domain,
            },
            target: Address {
                user: r.username,
                domain: r.domain,
            },
        }
    }
}

const ALIAS_SELECT: &str = "SELECT a.alias_user, a.alias_domain, s.username, s.domain
     FROM aliases a JOIN subscribers s ON s.id = a.subscriber_id";

impl Store {
    /// Makes `alias_user@alias_domain` (in a served domain) an alias of the subscriber
    /// `user@domain`. Refused when the alias address is a subscriber
    /// ([`StoreError::UserExists`]) or already an alias ([`StoreError::AliasExists`]).
    pub async fn add_alias(
        &self,
        alias_user: &str,
        alias_domain: &str,
        user: &str,
        domain: &str,
    ) -> Result<(), StoreError> {
        let alias = Address::new(alias_user, alias_domain)?;
        let target = Address::new(user, domain)?;
        let r = on_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO aliases (alias_user, alias_domain, subscriber_id, created_at)
                 SELECT $1, $2, s.id, $5 FROM subscribers s
                 WHERE s.username = $3 AND s.domain = $4
                   AND EXISTS (SELECT 1 FROM domains WHERE name = $2)
                   AND NOT EXISTS (SELECT 1 FROM subscribers
                                   WHERE username = $1 AND domain = $2)",
            )
            .bind(&alias.user)
            .bind(&alias.domain)
            .bind(&target.user)
            .bind(&target.domain)
            .bind(unix_now())
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
        });
        match r {
            Ok(n) if n > 0 => {
                tracing::info!(%alias, %target, "alias added");
                Ok(())
            }
            Ok(_) => {
                if self
                    .subscriber(&target.user, &target.domain)
                    .await?
                    .is_none()
                {
                    Err(StoreError::NoSuchUser(target.to_string()))
                } else if !self.domain_exists(&alias.domain).await? {
                    Err(StoreError::NoSuchDomain(alias.domain))
                } else {
                    Err(StoreError::UserExists(alias.to_string()))
                }
            }
            Err(e) if is_unique_violation(&e) => Err(StoreError::AliasExists(alias.to_string())),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes an alias.
    pub async fn remove_alias(
        &self,
        alias_user: &str,
        alias_domain: &str,
    ) -> Result<(), StoreError> {
        let alias = Address::new(alias_user, alias_domain)?;
        let n = on_pool!(self, pool => {
            sqlx::query("DELETE FROM aliases WHERE alias_user = $1 AND alias_domain = $2")
                .bind(&alias.user)
                .bind(&alias.domain)
                .execute(pool)
                .await?
                .rows_affected()
        });
        if n == 0 {
            return Err(StoreError::NoSuchAlias(alias.to_string()));
        }
        tracing::info!(%alias, "alias removed");
        Ok(())
    }

    /// The aliases, of one served domain (the alias's domain) or of all, sorted by alias
    /// address.
    pub async fn list_aliases(&self, domain: Option<&str>) -> Result<Vec<Alias>, StoreError> {
        let rows: Vec<AliasRow> = match domain {
            Some(d) => {
                let d = normalize_domain(d)?;
                if !self.domain_exists(&d).await? {
                    return Err(StoreError::NoSuchDomain(d));
                }
                let sql = format!("{ALIAS_SELECT} WHERE a.alias_domain = $1 ORDER BY a.alias_user");
                on_pool!(self, pool => sqlx::query_as(&sql).bind(&d).fetch_all(pool).await?)
            }
            None => {
                let sql = format!("{ALIAS_SELECT} ORDER BY a.alias_domain, a.alias_user");
                on_pool!(self, pool => sqlx::query_as(&sql).fetch_all(pool).await?)
            }
        };
        Ok(rows.into_iter().map(Alias::from).collect())
    }

    /// The aliases of the subscriber `user@domain`, sorted.
    pub async fn aliases_of(&self, user: &str, domain: &str) -> Result<Vec<Address>, StoreError> {
        let a = Address::new(user, domain)?;
        let sql = format!(
            "{ALIAS_SELECT} WHERE s.username = $1 AND s.domain = $2
             ORDER BY a.alias_domain, a.alias_user"
        );
        let rows: Vec<AliasRow> = on_pool!(self, pool => {
            sqlx::query_as(&sql).bind(&a.user).bind(&a.domain).fetch_all(pool).await?
        });
        Ok(rows.into_iter().map(|r| Alias::from(r).alias).collect())
    }

    /// The subscriber `user@domain` stands for: itself if it is a subscriber, else the
    /// subscriber it is an alias of, else `None` (also for malformed input).
    pub async fn resolve(&self, user: &str, domain: &str) -> Result<Option<Address>, StoreError> {
        let Ok(a) = Address::new(user, domain) else {
            return Ok(None);
        };
        let row: Option<(String, String)> = on_pool!(self, pool => {
            sqlx::query_as(
                "SELECT username, domain FROM subscribers WHERE username = $1 AND domain = $2
                 UNION ALL
                 SELECT s.username, s.domain FROM aliases a
                   JOIN subscribers s ON s.id = a.subscriber_id
                 WHERE a.alias_user = $1 AND a.alias_domain = $2",
            )
            .bind(&a.user)
            .bind(&a.domain)
            .fetch_optional(pool)
            .await?
        });
        Ok(row.map(|(user, domain)| Address { user, domain }))
    }
}
