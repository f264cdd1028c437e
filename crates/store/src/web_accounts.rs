//! The web portal's logins (migration `0010`): a web password per subscriber, apart from
//! the SIP password (an argon2id hash, never an HA1), the admin flag, and browser
//! sessions. A session is a random secret in a cookie, stored as its SHA-256, with the
//! session's form token against cross-site requests.
//!
//! Whether a subscriber is an admin is read at every request ([`Store::session`]), so
//! taking the flag away takes effect at once.

use crate::secrets::{hash_password, new_secret, random_hex, secret_hash, verify_password};
use crate::subscribers::check_password;
use crate::{on_pool, unix_now, Address, Store, StoreError};

/// The stored form of a web password: checked (length, control characters), then hashed
/// with argon2id. Shared by [`Store::set_web_password`] and the password reset.
pub(crate) async fn web_password_hash(password: &str) -> Result<String, StoreError> {
    hash_password(check_password(password)?.to_owned()).await
}

/// Sets the web password hash `$2` of the subscriber with id `$1` at `$3` (Unix seconds),
/// as [`Store::set_web_password`] does by address.
pub(crate) const SET_WEB_PASSWORD_BY_ID: &str =
    "INSERT INTO web_accounts (subscriber_id, password_hash, updated_at) VALUES ($1, $2, $3)
     ON CONFLICT (subscriber_id) DO UPDATE
       SET password_hash = excluded.password_hash, updated_at = excluded.updated_at";

/// Who a browser session or a login belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebAccount {
    /// The subscriber.
    pub address: Address,
    /// Whether the subscriber administers the provider (every domain, every subscriber).
    pub is_admin: bool,
}

/// A live browser session, as [`Store::session`] finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSession {
    /// Whose it is.
    pub account: WebAccount,
    /// The token every form of this session carries (CSRF).
    pub csrf_token: String,
    /// When it ends, Unix seconds.
    pub expires_at: i64,
}

/// A session just made by [`Store::create_session`]: the cookie's secret (shown once, only
/// its hash is stored) and the form token.
#[derive(Clone, PartialEq, Eq)]
pub struct NewSession {
    /// The cookie value.
    pub secret: String,
    /// The form token (CSRF).
    pub csrf_token: String,
}

impl std::fmt::Debug for NewSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewSession(<redacted>)")
    }
}

/// The row of a session joined with its subscriber and account.
#[derive(sqlx::FromRow)]
struct SessionRow {
    username: String,
    domain: String,
    is_admin: Option<bool>,
    csrf_token: String,
    expires_at: i64,
}

impl Store {
    /// Sets the web password of `user@domain` (argon2id; the SIP password is not touched).
    pub async fn set_web_password(
        &self,
        user: &str,
        domain: &str,
        password: &str,
    ) -> Result<(), StoreError> {
        let a = Address::new(user, domain)?;
        let hash = web_password_hash(password).await?;
        let n = on_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO web_accounts (subscriber_id, password_hash, updated_at)
                 SELECT id, $3, $4 FROM subscribers WHERE username = $1 AND domain = $2
                 ON CONFLICT (subscriber_id) DO UPDATE
                   SET password_hash = excluded.password_hash, updated_at = excluded.updated_at",
            )
            .bind(&a.user)
            .bind(&a.domain)
            .bind(&hash)
            .bind(unix_now())
            .execute(pool)
            .await?
            .rows_affected()
        });
        if n == 0 {
            return Err(StoreError::NoSuchUser(a.to_string()));
        }
        tracing::info!(user = %a, "web password changed");
        Ok(())
    }

    /// Makes `user@domain` an admin of the portal, or no longer one.
    pub async fn set_admin(&self, user: &str, domain: &str, admin: bool) -> Result<(), StoreError> {
        let a = Address::new(user, domain)?;
        let n = on_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO web_accounts (subscriber_id, is_admin, updated_at)
                 SELECT id, $3, $4 FROM subscribers WHERE username = $1 AND domain = $2
                 ON CONFLICT (subscriber_id) DO UPDATE
                   SET is_admin = excluded.is_admin, updated_at = excluded.updated_at",
            )
            .bind(&a.user)
            .bind(&a.domain)
            .bind(admin)
            .bind(unix_now())
            .execute(pool)
            .await?
            .rows_affected()
        });
        if n == 0 {
            return Err(StoreError::NoSuchUser(a.to_string()));
        }
        tracing::info!(user = %a, admin, "portal admin flag changed");
        Ok(())
    }

    /// Whether `user@domain` is a portal admin (`false` for unknown users).
    pub async fn is_admin(&self, user: &str, domain: &str) -> Result<bool, StoreError> {
        let a = Address::new(user, domain)?;
        let admin: Option<bool> = on_pool!(self, pool => {
            sqlx::query_scalar(
                "SELECT w.is_admin FROM web_accounts w JOIN subscribers s ON s.id = w.subscriber_id
                 WHERE s.username = $1 AND s.domain = $2",
            )
            .bind(&a.user)
            .bind(&a.domain)
            .fetch_optional(pool)
            .await?
        });
        Ok(admin.unwrap_or(false))
    }

    /// Checks a login: the account when `password` is the web password of `user@domain`.
    /// `None` alike for an unknown user, a disabled one, a user without a web password
    /// and a wrong password, after the same argon2 work, so the answer tells nothing.
    pub async fn check_web_login(
        &self,
        user: &str,
        domain: &str,
        password: &str,
    ) -> Result<Option<WebAccount>, StoreError> {
        let row: Option<(String, String, Option<String>, bool)> = match Address::new(user, domain) {
            Ok(a) => on_pool!(self, pool => {
                sqlx::query_as(
                    "SELECT s.username, s.domain, w.password_hash, w.is_admin
                     FROM subscribers s JOIN web_accounts w ON w.subscriber_id = s.id
                     WHERE s.username = $1 AND s.domain = $2 AND NOT s.disabled",
                )
                .bind(&a.user)
                .bind(&a.domain)
                .fetch_optional(pool)
                .await?
            }),
            Err(_) => None,
        };
        let (account, hash) = match row {
            Some((user, domain, hash, is_admin)) => (
                Some(WebAccount {
                    address: Address { user, domain },
                    is_admin,
                }),
                hash,
            ),
            None => (None, None),
        };
        let matches = verify_password(password.to_owned(), hash).await;
        Ok(account.filter(|_| matches))
    }

    /// Starts a browser session of `account` lasting `lifetime_secs` from `now`.
    pub async fn create_session(
        &self,
        account: &WebAccount,
        now: i64,
        lifetime_secs: i64,
    ) -> Result<NewSession, StoreError> {
        let secret = new_secret("")?;
        let csrf_token = random_hex(16)?;
        let a = &account.address;
        let n = on_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO web_sessions (secret_hash, subscriber_id, csrf_token, created_at,
                                           expires_at)
                 SELECT $3, id, $4, $5, $6 FROM subscribers WHERE username = $1 AND domain = $2",
            )
            .bind(&a.user)
            .bind(&a.domain)
            .bind(secret_hash(&secret))
            .bind(&csrf_token)
            .bind(now)
            .bind(now.saturating_add(lifetime_secs))
            .execute(pool)
            .await?
            .rows_affected()
        });
        if n == 0 {
            return Err(StoreError::NoSuchUser(a.to_string()));
        }
        Ok(NewSession { secret, csrf_token })
    }

    /// The live session whose cookie secret is `secret`, at `now`; `None` for an unknown,
    /// ended or expired one.
    pub async fn session(&self, secret: &str, now: i64) -> Result<Option<WebSession>, StoreError> {
        let row: Option<SessionRow> = on_pool!(self, pool => {
            sqlx::query_as(
                "SELECT s.username, s.domain, w.is_admin, x.csrf_token, x.expires_at
                 FROM web_sessions x JOIN subscribers s ON s.id = x.subscriber_id
                 LEFT JOIN web_accounts w ON w.subscriber_id = s.id
                 WHERE x.secret_hash = $1 AND x.expires_at > $2 AND NOT s.disabled",
            )
            .bind(secret_hash(secret))
            .bind(now)
            .fetch_optional(pool)
            .await?
        });
        Ok(row.map(|r| WebSession {
            account: WebAccount {
                address: Address {
                    user: r.username,
                    domain: r.domain,
                },
                is_admin: r.is_admin.unwrap_or(false),
            },
            csrf_token: r.csrf_token,
            expires_at: r.expires_at,
        }))
    }

    /// Ends the session of `secret` (logout); `Ok(false)` if there was none.
    pub async fn end_session(&self, secret: &str) -> Result<bool, StoreError> {
        let n = on_pool!(self, pool => {
            sqlx::query("DELETE FROM web_sessions WHERE secret_hash = $1")
                .bind(secret_hash(secret))
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(n > 0)
    }

    /// Deletes the sessions expired at `now`; returns how many.
    pub async fn purge_expired_sessions(&self, now: i64) -> Result<u64, StoreError> {
        Ok(on_pool!(self, pool => {
            sqlx::query("DELETE FROM web_sessions WHERE expires_at <= $1")
                .bind(now)
                .execute(pool)
                .await?
                .rows_affected()
        }))
    }
}
