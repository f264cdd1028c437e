//! Forgotten web passwords (migration `0018`): a reset is a random secret the portal
//! e-mails as a link, stored as its SHA-256 like sessions and API tokens, valid for a
//! while and once. Redeeming it sets the web password, closes every other open reset of
//! the subscriber and ends the subscriber's browser sessions, in one transaction.

use crate::secrets::{new_secret, secret_hash};
use crate::web_accounts::{web_password_hash, SET_WEB_PASSWORD_BY_ID};
use crate::{on_pool, Address, Store, StoreError};

/// What every reset secret starts with, so a leaked one is recognisable.
pub const RESET_PREFIX: &str = "itspr_";

impl Store {
    /// Starts a password reset of `address` at `now_ms` (Unix milliseconds), valid for
    /// `ttl_ms`. Returns the secret, which only this answer holds (the store keeps its
    /// SHA-256). [`StoreError::NoSuchUser`] for an unknown address: the caller decides what
    /// the visitor is told (the portal answers alike).
    pub async fn create_password_reset(
        &self,
        address: &Address,
        now_ms: i64,
        ttl_ms: i64,
    ) -> Result<String, StoreError> {
        let secret = new_secret(RESET_PREFIX)?;
        let n = on_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO password_resets (token_hash, subscriber_id, created_ms, expires_ms)
                 SELECT $3, id, $4, $5 FROM subscribers WHERE username = $1 AND domain = $2",
            )
            .bind(&address.user)
            .bind(&address.domain)
            .bind(secret_hash(&secret))
            .bind(now_ms)
            .bind(now_ms.saturating_add(ttl_ms.max(0)))
            .execute(pool)
            .await?
            .rows_affected()
        });
        if n == 0 {
            return Err(StoreError::NoSuchUser(address.to_string()));
        }
        tracing::info!(user = %address, "password reset started");
        Ok(secret)
    }

    /// How many resets of `address` were started at or after `since_ms` (for a rate limit;
    /// 0 for an unknown address).
    pub async fn password_resets_since(
        &self,
        address: &Address,
        since_ms: i64,
    ) -> Result<u64, StoreError> {
        let n: i64 = on_pool!(self, pool => {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM password_resets r JOIN subscribers s ON s.id = r.subscriber_id
                 WHERE s.username = $1 AND s.domain = $2 AND r.created_ms >= $3",
            )
            .bind(&address.user)
            .bind(&address.domain)
            .bind(since_ms)
            .fetch_one(pool)
            .await?
        });
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Redeems the reset `secret` at `now_ms`: sets the web password of its subscriber to
    /// `new_web_password` and returns the subscriber's address. In one transaction the
    /// reset is marked used, every other open reset of the subscriber too, and the
    /// subscriber's browser sessions end. [`StoreError::BadResetToken`] for an unknown,
    /// used or expired secret (nothing changes); [`StoreError::BadPassword`] for a password
    /// that cannot be stored (the reset stays usable).
    pub async fn redeem_password_reset(
        &self,
        secret: &str,
        new_web_password: &str,
        now_ms: i64,
    ) -> Result<Address, StoreError> {
        let hash = web_password_hash(new_web_password).await?;
        let token_hash = secret_hash(secret);
        let now_secs = now_ms.div_euclid(1000);
        let found: Option<(i64, String, String)> = on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            // The conditional UPDATE is the claim: of two redeemers, one gets the row.
            let id: Option<i64> = sqlx::query_scalar(
                "UPDATE password_resets SET used_ms = $2
                 WHERE token_hash = $1 AND used_ms IS NULL AND expires_ms > $2
                 RETURNING subscriber_id",
            )
            .bind(&token_hash)
            .bind(now_ms)
            .fetch_optional(&mut *tx)
            .await?;
            match id {
                Some(id) => {
                    sqlx::query(SET_WEB_PASSWORD_BY_ID)
                        .bind(id)
                        .bind(&hash)
                        .bind(now_secs)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query(
                        "UPDATE password_resets SET used_ms = $2
                         WHERE subscriber_id = $1 AND used_ms IS NULL",
                    )
                    .bind(id)
                    .bind(now_ms)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query("DELETE FROM web_sessions WHERE subscriber_id = $1")
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                    let (user, domain): (String, String) = sqlx::query_as(
                        "SELECT username, domain FROM subscribers WHERE id = $1",
                    )
                    .bind(id)
                    .fetch_one(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    Some((id, user, domain))
                }
                None => None,
            }
        });
        let Some((_, user, domain)) = found else {
            return Err(StoreError::BadResetToken);
        };
        let address = Address { user, domain };
        tracing::info!(user = %address, "web password reset");
        Ok(address)
    }

    /// Deletes the resets expired at `now_ms` (used or not); returns how many.
    pub async fn purge_password_resets(&self, now_ms: i64) -> Result<u64, StoreError> {
        Ok(on_pool!(self, pool => {
            sqlx::query(
                "DELETE FROM password_resets WHERE expires_ms <= $1",
            )
            .bind(now_ms)
            .execute(pool)
            .await?
            .rows_affected()
        }))
    }
}
